"""Fine lines and wrinkles on close-up skin photos: long, dark valleys in L*, from ~0.1 to ~3 mm wide.

Method (on L* reduced to ~10 px/mm when the photo has more than 15 px/mm):

1. **Ridge filter for dark lines**, multi-scale Hessian: at each Gaussian scale sigma the eigenvalues
   l1 >= l2 of the Hessian of L*; a dark valley has a large positive l1 across it and l2 ~ 0 along it. The
   response is ``sigma^2 (l1 - |l2|) - sigma |grad L*|`` (scale-normalised, Lindeberg 1998): ``- |l2|``
   rejects round blobs (pores, where l1 ~ l2) and ``- sigma |grad|`` rejects the dark side of a spot's
   edge (a valley's centre has no slope, a step edge has). Maximum over scales; its unit is L*. This is
   the ``black_ridges=True`` reading of scikit-image's ``sato``/``frangi`` family, written with OpenCV
   filters for speed. **Scales are set in mm from the widths to find** (``widths_mm``, 0.1-3 mm): a
   flat-floored valley of width w responds most at sigma = w / 2, so sigma runs from half the narrowest
   to half the widest width in steps of sqrt(2). Each scale is filtered on the coarsest copy of a
   pyramid of halvings where it still spans >= 1 px (a 1.5 mm sigma on a 1.25 px/mm copy), and the
   responses are brought back to the working grid (bilinear): the wide scales cost little.
2. **Segmentation**: hysteresis between 3 and 6 robust SDs of the response (and at least
   ``min_contrast / 2`` and ``min_contrast``), so a line that fades in and out stays one line.
3. **Skeleton** (scikit-image ``skeletonize``), 8-connected pieces; length of a piece = its
   orthogonal steps + sqrt(2) x diagonal steps. Pieces shorter than ``min_length_mm``, or shorter than
   3 times their width (a blob, not a line), are dropped, and so are pieces narrower than a wrinkle
   (step 5) that the fine-line scales alone (sigma < ``fine_line_max_width_mm`` / 2) do not see along
   >= 70 % of their length: a chain of pores blurs into a valley at the wide scales, but at the fine
   scales it is round blobs (rejected by ``- |l2|``) with skin between them.
4. **Width of each piece**: the darkness ``depth = skin level - L*`` integrated over the piece's band
   (the pixels nearer to it than to any other piece, within 2.5 x the half-width of its segmented
   region + 3 px), divided by its length and by its depth at the centre line: the equivalent width of the
   valley, exact for a flat-floored groove. The skin level is a grey closing (:func:`texture.pores.
   local_skin_level`); its offset (noise lifts a closing) is removed per piece with the median depth
   of a ring just outside the band.
5. **Width classes**: a piece narrower than ``fine_line_max_width_mm`` (0.5 mm) is a **fine line**,
   otherwise a **wrinkle** (the usual clinical split: fine lines are the shallow, narrow furrows of the
   skin's surface, wrinkles the broader folds). Each class reports its count, its length per cm² of
   skin and its length-weighted mean width; the ``line_*`` columns hold all pieces together.

Accuracy on phantoms (tests/texture/test_wrinkles.py, :func:`texture.phantoms.photo.render_lines`):
lines 0.1, 0.3, 0.6, 1.0, 1.5 and 2.5 mm wide and 16 mm long at 10-25 px/mm are each found once, in
the right class, their length within -0.2 to +5.5 % and their width within 2 % (0.6-1.5 mm), -9 %
(0.3 mm: 0.27-0.28 mm), +10 % (0.1 mm: 0.10-0.11 mm) and +8 % (2.5 mm: 2.7 mm). Spots of 1-4 mm and
chains of pores read as no line. Cost: ~1.3-1.7x the former fine-line-only filter (two more scales per
octave up to 3 mm, mostly on the coarse copies, and the per-piece widths).

Limits: lines crossing each other merge into one piece (its width is their mean); lines fainter than
~3 noise SDs are missed; lines narrower than ~1.5 px at the working scale (0.15 mm at 10 px/mm) are
detected with reduced contrast and their width is overestimated; the equivalent width includes the lens
blur (a 0.15 mm line under a 1 px blur at 20 px/mm reads 0.20 mm); a piece is classed by its mean
width, so a line that narrows along its length is one piece of one class; hairs are dark lines too.
Cast shadows of deep folds are measured as their dark side only.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import skeletonize

from texture._stats import masked_robust_sd
from texture.color import lab_of
from texture.measurement import (
    ASSUMED_PX_PER_MM,
    Measurement,
    check_mask,
    check_scale,
    reduce_with_mask,
    work_factor,
)
from texture.pores import local_skin_level

__all__ = [
    "measure_wrinkles",
    "dark_ridge_response",
    "multiscale_dark_ridge_response",
    "line_sigmas_mm",
    "skeleton_lengths",
    "WRINKLE_WORK_PX_PER_MM",
    "LINE_WIDTHS_MM",
    "FINE_LINE_MAX_WIDTH_MM",
]

#: Lines are analysed at no more than this resolution.
WRINKLE_WORK_PX_PER_MM = 10.0
#: Widths of the lines searched by default, mm: from the finest lines to broad wrinkles.
LINE_WIDTHS_MM: tuple[float, float] = (0.1, 3.0)
#: Lines narrower than this are fine lines, the others wrinkles.
FINE_LINE_MAX_WIDTH_MM = 0.5

# A scale is filtered on the coarsest pyramid copy where it still spans this many pixels (the 3x3
# derivative kernels serve from ~1 px, as the finest working-grid scale of 0.7 px always did); the
# finest scales stay on the working grid, never below 0.7 px there. Scales within 10 % of each other
# after that clamp are filtered once.
_LEVEL_MIN_SIGMA_PX = 1.0
_MIN_SIGMA_PX = 0.7
# A piece shorter than this many times its width is a blob, not a line.
_MIN_ASPECT = 3.0
# Least share of a fine line's centre line seen by the fine-line scales alone (step 3).
_MIN_FINE_SUPPORT = 0.7


def dark_ridge_response(lightness: np.ndarray, sigmas_px: tuple[float, ...]) -> np.ndarray:
    """Multi-scale dark-line response of a grey image (L* units) on one grid, see the module docstring."""
    light = np.asarray(lightness, dtype=np.float32)
    best = np.full(light.shape, -np.inf, dtype=np.float32)
    # Six work images reused across scales (written in place) instead of ~13 fresh ones per scale.
    g, gxx, gyy, gxy, gx, gy = (np.empty_like(light) for _ in range(6))
    for sigma in sigmas_px:
        cv2.GaussianBlur(light, (0, 0), sigma, dst=g)
        cv2.Sobel(g, cv2.CV_32F, 2, 0, dst=gxx, ksize=3, scale=0.25)
        cv2.Sobel(g, cv2.CV_32F, 0, 2, dst=gyy, ksize=3, scale=0.25)
        cv2.Sobel(g, cv2.CV_32F, 1, 1, dst=gxy, ksize=3, scale=0.25)
        cv2.Sobel(g, cv2.CV_32F, 1, 0, dst=gx, ksize=3, scale=0.125)
        cv2.Sobel(g, cv2.CV_32F, 0, 1, dst=gy, ksize=3, scale=0.125)
        slope = cv2.magnitude(gx, gy, magnitude=gx)
        # With half_trace h and root r of the eigenvalues l1,2 = h +- r: l1 - |l2| = 2 min(h, r).
        half_trace = cv2.addWeighted(gxx, 0.5, gyy, 0.5, 0.0, dst=g)
        root = cv2.magnitude(cv2.addWeighted(gxx, 0.5, gyy, -0.5, 0.0, dst=gy), gxy, magnitude=gxx)
        lower = cv2.min(half_trace, root, dst=gyy)
        response = cv2.addWeighted(lower, 2.0 * sigma * sigma, slope, -sigma, 0.0, dst=gxy)
        cv2.max(best, response, dst=best)
    return best


def line_sigmas_mm(widths_mm: tuple[float, float] = LINE_WIDTHS_MM) -> np.ndarray:
    """Gaussian scales (mm) of the ridge filter for lines of ``widths_mm``: half of each width (the scale
    at which a flat-floored valley responds most), from the narrowest to the widest, steps of sqrt(2)."""
    lo, hi = (float(w) / 2.0 for w in widths_mm)
    n = int(np.floor(np.log(hi / lo) / np.log(np.sqrt(2.0)) + 1e-9)) + 1
    sigmas = lo * np.sqrt(2.0) ** np.arange(n)
    if sigmas[-1] < hi * 0.99:  # the widest width gets its own scale
        sigmas = np.append(sigmas, hi)
    return sigmas


def multiscale_dark_ridge_response(lightness: np.ndarray, sigmas_px: tuple[float, ...]) -> np.ndarray:
    """:func:`dark_ridge_response` over scales given in pixels of ``lightness``, each computed on the
    coarsest copy of a pyramid of halvings (INTER_AREA) where it spans >= 1 px, then resized back
    (bilinear) and combined by the maximum."""
    light = np.asarray(lightness, dtype=np.float32)
    rows, cols = light.shape
    by_level: dict[int, list[float]] = {}
    for sigma in sigmas_px:
        level = int(np.floor(np.log2(sigma / _LEVEL_MIN_SIGMA_PX))) if sigma >= 2 * _LEVEL_MIN_SIGMA_PX else 0
        # A copy must keep at least ~8 px on its short side for the filters to mean anything.
        while level > 0 and min(rows, cols) / 2**level < 8:
            level -= 1
        by_level.setdefault(level, []).append(max(_MIN_SIGMA_PX, sigma / 2**level))
    for level, sigmas in by_level.items():
        kept: list[float] = []
        for sigma in sorted(sigmas):
            if not kept or sigma > 1.1 * kept[-1]:
                kept.append(sigma)
        by_level[level] = kept
    best = None
    image = light
    for level in range(max(by_level) + 1):
        if level > 0:
            size = (max(1, (image.shape[1] + 1) // 2), max(1, (image.shape[0] + 1) // 2))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if level not in by_level:
            continue
        response = dark_ridge_response(image, tuple(by_level[level]))
        if level > 0:
            response = cv2.resize(response, (cols, rows), interpolation=cv2.INTER_LINEAR)
        best = response if best is None else cv2.max(best, response, dst=best)
    return best


def _response(light: np.ndarray, sigmas_px: np.ndarray) -> np.ndarray | None:
    return (
        multiscale_dark_ridge_response(light, tuple(float(s) for s in sigmas_px)) if len(sigmas_px) else None
    )


def skeleton_lengths(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Label the 8-connected pieces of a one-pixel skeleton and measure their lengths in px.

    Returns ``labels``, ``lengths`` (index i = label i + 1) and the number of pieces. Orthogonal neighbours
    count 1, diagonal ones sqrt(2) unless an orthogonal path already joins them (no double counting at
    staircase corners).
    """
    sk = np.ascontiguousarray(skeleton, dtype=bool)
    n, labels = cv2.connectedComponents(sk.view(np.uint8), connectivity=8)
    if n <= 1:
        return labels, np.zeros(0), 0
    pad = np.pad(sk, 1)
    rr, cc = np.nonzero(pad)  # skeleton pixels only: a small fraction of the image

    def has(dr: int, dc: int) -> np.ndarray:
        return pad[rr + dr, cc + dc]

    right, down, left = has(0, 1), has(1, 0), has(0, -1)
    weights = (
        right.astype(np.float64)
        + down
        + np.sqrt(2) * (has(1, 1) & ~right & ~down)
        + np.sqrt(2) * (has(1, -1) & ~left & ~down)
    )
    lengths = np.bincount(labels[rr - 1, cc - 1], weights, minlength=n)[1:]
    return labels, lengths, n - 1


def measure_wrinkles(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    lab: np.ndarray | None = None,
    min_length_mm: float = 2.0,
    widths_mm: tuple[float, float] = LINE_WIDTHS_MM,
    min_contrast: float = 1.5,
    fine_line_max_width_mm: float = FINE_LINE_MAX_WIDTH_MM,
) -> Measurement:
    """Fine lines and wrinkles: count, length per cm² and mean width by width class (method in the
    module docstring).

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB in [0, 1] (used for the overlay; may be None when ``lab`` is given).
    px_per_mm : float, optional
        Scale. Without it, mm settings are read at 25 px/mm and mm columns are NaN.
    mask : ndarray of bool, optional
        Skin to search; lines are cut at its edge.
    lab : ndarray, optional
        Precomputed float CIELAB.
    min_length_mm : float
        Shorter pieces are not lines.
    widths_mm : (float, float)
        Narrowest and widest line widths to search, mm (ridge scales: half of these, steps of sqrt(2)).
    min_contrast : float
        Least ridge response (L* units) of a line's core.
    fine_line_max_width_mm : float
        Width (mm) from which a line is a wrinkle rather than a fine line.

    Returns
    -------
    Measurement
        For each class ``fine_line`` (narrower than ``fine_line_max_width_mm``), ``wrinkle`` (at least
        that wide) and ``line`` (both): ``<class>_count``, ``<class>_length_mm_per_cm2`` (length per cm²
        of mask), ``<class>_mean_width_mm`` (length-weighted mean equivalent width; NaN without lines)
        and the twins ``<class>_length_px_per_mpx`` (px of line per million px of mask) and
        ``<class>_mean_width_px``. ``labels``: the line pixels (full resolution) by piece; overlay: fine
        lines in yellow, wrinkles in orange.
    """
    lab = lab_of(rgb, lab)
    shape = lab.shape[:2]
    region = check_mask(mask, shape)
    if not region.any():
        raise ValueError("mask selects no pixels")
    if not 0 < widths_mm[0] < widths_mm[1]:
        raise ValueError("widths_mm must be two increasing positive widths")
    if not fine_line_max_width_mm > 0:
        raise ValueError("fine_line_max_width_mm must be positive")
    px_per_mm = check_scale(px_per_mm)
    scaled = px_per_mm is not None
    scale = px_per_mm if scaled else ASSUMED_PX_PER_MM
    # The filters are set in mm, so a coarser working copy measures the same thing.
    factor = work_factor(scale, WRINKLE_WORK_PX_PER_MM)
    work_scale = scale / factor
    light, small_region = reduce_with_mask(
        np.ascontiguousarray(lab[..., 0], dtype=np.float32), region, factor
    )
    sigmas_mm = line_sigmas_mm(widths_mm)
    fine_scales = sigmas_mm < fine_line_max_width_mm / 2.0
    fine_response = _response(light, sigmas_mm[fine_scales] * work_scale)
    response = _response(light, sigmas_mm[~fine_scales] * work_scale)
    if response is None or fine_response is None:
        response = fine_response if response is None else response
        fine_response = np.full_like(response, -np.inf) if fine_response is None else fine_response
    else:
        response = np.maximum(response, fine_response)
    noise = masked_robust_sd(response, small_region)
    high = max(min_contrast, 6.0 * noise)
    low = max(0.5 * min_contrast, 3.0 * noise)
    seeds = ((response > high) & small_region).astype(np.uint8)
    weak = ((response > low) & small_region).astype(np.uint8)
    n, weak_labels, weak_boxes, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    seeded = np.zeros(n, dtype=bool)
    seeded[np.unique(weak_labels[seeds > 0])] = True
    seeded[0] = False

    skeleton = _skeleton_of_pieces(weak_labels, weak_boxes, seeded)
    labels, lengths, n_pieces = skeleton_lengths(skeleton)
    rr, cc = np.nonzero(labels)
    piece = labels[rr, cc]
    # Half-width of each piece's segmented region (median over its skeleton) sets how far its band reaches.
    inside = cv2.distanceTransform(seeded[weak_labels].view(np.uint8), cv2.DIST_L2, 3)
    half = _group_median(inside[rr, cc], piece, n_pieces + 1)
    widths_px = np.full(n_pieces + 1, np.nan)
    if n_pieces:
        widths_px = _equivalent_widths(light, small_region, rr, cc, piece, lengths, half)
    # Share of each centre line where the fine scales alone see a line (3x3 maximum: a thin line's
    # skeleton may run a pixel beside its best response).
    seen = _max_3x3_at(fine_response, rr, cc) > low
    support = np.bincount(piece, seen, minlength=n_pieces + 1) / np.maximum(
        np.bincount(piece, minlength=n_pieces + 1), 1
    )
    # Pieces too short, or too short for their width (blobs), are not lines.
    width_or_half = np.where(np.isfinite(widths_px[1:]), widths_px[1:], 2.0 * half[1:])
    keep = (lengths >= min_length_mm * work_scale) & (lengths >= _MIN_ASPECT * width_or_half)
    fine = width_or_half < fine_line_max_width_mm * work_scale
    keep &= ~fine | (support[1:] >= _MIN_FINE_SUPPORT)
    relabel = np.zeros(n_pieces + 1, dtype=np.int32)
    relabel[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    skeleton = relabel[labels]
    lengths, widths_px = lengths[keep], widths_px[1:][keep]
    wrinkle = width_or_half[keep] >= fine_line_max_width_mm * work_scale

    region_px = float(np.count_nonzero(region))
    metrics: dict[str, float] = {}
    for name, chosen in (("fine_line", ~wrinkle), ("wrinkle", wrinkle), ("line", np.ones_like(wrinkle))):
        metrics.update(
            _class_columns(
                name, lengths[chosen], widths_px[chosen], factor, region_px, scale if scaled else None
            )
        )

    full = cv2.dilate(skeleton.astype(np.float32), np.ones((3, 3), np.uint8))
    if factor > 1.0:
        full = cv2.resize(full, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    full_labels = full.astype(np.int32)
    overlay = None
    if rgb is not None and np.ndim(rgb) == 3:
        overlay = np.array(rgb, dtype=np.float32, copy=True)
        is_wrinkle = np.concatenate([[False], wrinkle])[full_labels]
        overlay[(full_labels > 0) & ~is_wrinkle] = (1.0, 0.9, 0.0)
        overlay[is_wrinkle] = (1.0, 0.45, 0.0)
    return Measurement(metrics=metrics, overlay=overlay, labels=full_labels)


def _class_columns(
    name: str, lengths: np.ndarray, widths: np.ndarray, factor: float, region_px: float, scale: float | None
) -> dict[str, float]:
    """Count, length density and length-weighted mean width of one width class (working-grid px in,
    full-resolution px and mm out)."""
    total_px = float(lengths.sum()) * factor
    measured = np.isfinite(widths)
    mean_width_px = float("nan")
    if measured.any() and lengths[measured].sum() > 0:
        mean_width_px = float(np.sum(widths[measured] * lengths[measured]) / lengths[measured].sum()) * factor
    return {
        f"{name}_count": float(len(lengths)),
        f"{name}_length_mm_per_cm2": (total_px / scale) / (region_px / scale**2 / 100.0)
        if scale
        else float("nan"),
        f"{name}_mean_width_mm": mean_width_px / scale if scale else float("nan"),
        f"{name}_length_px_per_mpx": total_px / region_px * 1e6,
        f"{name}_mean_width_px": mean_width_px,
    }


def _equivalent_widths(
    light: np.ndarray,
    region: np.ndarray,
    rr: np.ndarray,
    cc: np.ndarray,
    piece: np.ndarray,
    lengths: np.ndarray,
    half: np.ndarray,
) -> np.ndarray:
    """Equivalent width (px) of each skeleton piece (index = piece label; 0 unused): integrated
    darkness over its band / (length x darkness at the centre line); NaN where the piece is not darker
    than the ring around it. See step 4 of the module docstring. Also the share of each piece's centre
    """
    n = len(lengths) + 1
    reach = 2.5 * np.nan_to_num(half) + 3.0  # label 0 (no piece) has no half-width
    ring_width = np.maximum(2.0, 0.5 * reach)
    level = local_skin_level(light, feature_diameter_px=float(2.0 * reach[1:].max()), mask=region)
    depth = level - light
    # Nearest skeleton pixel of every pixel (its running number in row-major order, as np.nonzero).
    not_skeleton = np.ones(light.shape, dtype=np.uint8)
    not_skeleton[rr, cc] = 0
    dist, nearest = cv2.distanceTransformWithLabels(
        not_skeleton, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    owner_of = np.zeros(len(rr) + 1, dtype=np.int32)
    owner_of[1:] = piece
    near = (dist <= (reach + ring_width).max()) & region
    owner = owner_of[nearest[near]]
    d, values = dist[near], depth[near]
    in_band = d <= reach[owner]
    ring = np.flatnonzero(~in_band & (d <= (reach + ring_width)[owner]))
    ring = ring[:: max(1, len(ring) // 200_000)]  # a regular sample: the medians barely move
    offset = _group_median(values[ring], owner[ring], n)
    offset = np.where(np.isfinite(offset), offset, 0.0)
    integral = np.bincount(owner[in_band], values[in_band] - offset[owner[in_band]], minlength=n)
    # Darkness at the centre line: the median along the skeleton; for lines of ~1-2 px the 3x3 maximum
    # (the skeleton of a thin line may run a pixel beside its darkest row).
    centre = np.where(half[piece] < 2.0, _max_3x3_at(depth, rr, cc), depth[rr, cc])
    peak = _group_median(centre, piece, n) - offset
    lengths_by_label = np.concatenate([[np.nan], lengths])
    with np.errstate(invalid="ignore", divide="ignore"):
        widths = integral / (lengths_by_label * peak)
    widths[~(peak > 0) | ~(widths > 0)] = np.nan
    return widths


def _group_median(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per integer group 0..n-1 (NaN for empty groups)."""
    out = np.full(n, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    starts = np.searchsorted(g, np.arange(n), side="left")
    ends = np.searchsorted(g, np.arange(n), side="right")
    filled = ends > starts
    lo = (starts + ends - 1) // 2
    hi = (starts + ends) // 2
    out[filled] = 0.5 * (v[lo[filled]] + v[hi[filled]])
    return out


def _skeleton_of_pieces(labels: np.ndarray, boxes: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """``skeletonize(chosen[labels])``: the skeleton of the chosen 8-connected pieces of a label image.

    When the pieces are few and their bounding boxes (``boxes``: connectedComponentsWithStats) cover
    little of the image, each piece is thinned in its own box. Same result: Zhang-Suen thinning only
    looks at 3x3 neighbourhoods and distinct 8-connected pieces never touch, so each piece thins alone
    exactly as it does in the whole image; a line photo's pieces cover a few % of it.
    """
    pieces = np.flatnonzero(chosen)
    x, y, w, h = (boxes[pieces, i] for i in range(4))
    # Thinning a piece in its box costs ~25 us of overhead, the whole image ~12 ns/px (measured on
    # the 12 and 24 MP photo benchmark: 132 pieces 3.3 ms vs 22 ms, 226 pieces 4.5 ms vs 50 ms):
    # the whole image only when the pieces are more than one per 2000 px or their boxes cover half.
    if len(pieces) > labels.size // 2000 or int((w.astype(np.int64) * h).sum()) > labels.size // 2:
        return skeletonize(chosen[labels])
    skeleton = np.zeros(labels.shape, dtype=bool)
    for piece, x0, y0, width, height in zip(pieces, x, y, w, h, strict=True):
        box = (slice(y0, y0 + height), slice(x0, x0 + width))
        skeleton[box] |= skeletonize(labels[box] == piece)
    return skeleton


def _max_3x3_at(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``cv2.dilate(image, 3x3)`` read at the given pixels only (the 3x3 maximum over the neighbours
    inside the image; clipping an index at the border repeats a pixel of the window, which leaves the
    maximum unchanged)."""
    last_r, last_c = image.shape[0] - 1, image.shape[1] - 1
    best = image[rows, cols]
    for dr in (-1, 0, 1):
        rr = np.clip(rows + dr, 0, last_r)
        for dc in (-1, 0, 1):
            if dr or dc:
                np.maximum(best, image[rr, np.clip(cols + dc, 0, last_c)], out=best)
    return best


def _disk(diameter_px: int) -> np.ndarray:
    d = max(1, int(diameter_px) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))
