"""Pores on close-up skin photos: small, dark, roughly round blobs of 0.25-1 mm.

The default lower size, 0.25 mm, is near the smallest pore size whose counts matched expert grading of
facial pores (Flament F, et al. Facial skin pores: a multiethnic study. Clin Cosmet Investig Dermatol
2015;8:85-93); smaller dark dots are mostly noise, fine hairs and pore-sized specks. A second count from
the former 0.1 mm floor, ``pore_count_fine``, comes from the same outlines.

Method
------
1. **Local skin level** (removes illumination gradients and shading): a grey closing of L* with a disk
   larger than the largest pore removes every dark feature a pore could be, leaving the surrounding skin's
   lightness. It is computed on a copy reduced to ~4 px per largest-pore diameter (the shading is smooth),
   lightly smoothed, and scaled back.
2. **Darkness** ``depth = skin level - L*`` (in L* units), smoothed with a Gaussian of ~1/6 of the smallest
   pore diameter (at least 0.5 px) against sensor noise.
3. **Detection**: connected regions deeper than a low threshold; a region is a pore candidate if its
   deepest point exceeds ``min_contrast`` L* units and 5 times the noise (robust SD of ``depth``).
4. **Outline at half depth**: each candidate is cut at half its own peak darkness (full width at half
   maximum), taken in linear luminance (contrast ``1 - Y/Y_skin``, where lens blur is symmetric), so
   the measured size depends neither on exposure, nor on how dark the pore is, nor on mild blur.
5. **Shape filter**: equivalent diameter ``sqrt(4 area / pi)`` in [``min_diameter``, ``max_diameter``],
   elongation (ratio of the principal axes from second moments) <= ``max_elongation`` and ellipse fill
   (area over the area of the moment ellipse) >= 0.6: fine lines are long and thin and brown spots are
   larger than any pore, so neither counts.
6. **All-round test (lines are not pores)**: a faint line broken by noise into short pieces gives pieces
   round enough to pass step 5. A pore is skin all round; a piece of a line stays dark along the line.
   On 4 axes the fall of darkness from the centre to 1-2 diameters away is taken (the larger of the two
   ways, so that a neighbouring pore on one side does not matter); a candidate whose weakest axis falls
   less than ``min_all_round_fall`` (0.3) times its strongest is rejected. On phantoms this drops 1 in
   4800 real pores.

Without a scale the size range is taken in pixels as if the photo were at 25 px/mm
(6.25-25 px for the 0.25-1 mm defaults), and the mm columns are NaN.

Accuracy on phantoms (tests/texture/test_pores.py): at 20 and 30 px/mm, pores of 0.2-0.6 mm on skin
shaded by +-25 % are all counted from the 0.1 mm floor (``pore_count_fine``) and their mean diameter is
read within 1 % (3 % with a lens blur of 0.8 px); pores of 0.15-0.2 mm (3-4 px at 20 px/mm) are all
found in the fine count. Pores of 0.35-0.7 mm shrunk by 15 % read -15.0 +- 0.1 %. A photo of six 0.3 mm
lines and no pores reads 0 pores (lines of 0.15-0.35 light loss at 10-25 px/mm).

Limits: a floor truncates: when pores shrink across ``min_diameter_mm`` the count falls and the mean
diameter of those left under-reads the shrinkage (pores of 0.2-0.6 mm shrunk by 15 %: count -18 %, mean
diameter -8 %); follow ``pore_count_fine`` too. Pores closer than about their own diameter may merge into
one (then usually too elongated to count); pores within ~5 % of a floor fall either side of it; pores
under ~3 px across are lost in noise, so pore work needs >= 20 px/mm for 0.15 mm pores. Lines fainter
than ~2 noise SDs may still leave a pore-like piece. Hairs, comedones and freckles of pore size are
counted as pores.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture._regions import moments_from_pixels
from texture._stats import fast_median, grid_sample, robust_sd
from texture.color import check_finite_lightness, lab_of
from texture.measurement import ASSUMED_PX_PER_MM, Measurement, check_mask, check_scale

__all__ = [
    "measure_pores",
    "local_skin_level",
    "half_depth_outlines",
]


def _disk(diameter_px: float) -> np.ndarray:
    d = max(3, int(np.ceil(diameter_px)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def local_skin_level(
    lightness: np.ndarray, *, feature_diameter_px: float, mask: np.ndarray | None = None
) -> np.ndarray:
    """Lightness of the skin around dark features up to ``feature_diameter_px`` across.

    A grey closing (dilation then erosion) with a disk 1.5x the feature size removes dark features that
    fit in it; done on a copy reduced so that the disk is ~6 px, then smoothed and scaled back (smooth
    shading needs no more). Pixels outside ``mask`` are replaced by the median inside, so that dark
    background or hair does not pull the level down at the mask edge.
    """
    light = np.asarray(lightness, dtype=np.float32)
    rows, cols = light.shape
    if mask is not None and not mask.all():
        light = np.where(mask, light, np.float32(fast_median(grid_sample(light, mask))))
    factor = max(1.0, 1.5 * feature_diameter_px / 6.0)
    small = light
    if factor > 1.0:
        size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
        small = cv2.resize(light, size, interpolation=cv2.INTER_AREA)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, _disk(1.5 * feature_diameter_px / factor))
    closed = cv2.GaussianBlur(closed, (0, 0), 1.0)
    if factor > 1.0:
        # Output allocated by numpy (huge pages for large arrays): page-faults less than OpenCV's.
        full = np.empty((rows, cols), dtype=np.float32)
        closed = cv2.resize(closed, (cols, rows), dst=full, interpolation=cv2.INTER_LINEAR)
    return closed


def half_depth_outlines(
    depth: np.ndarray,
    candidates: np.ndarray,
    t_detect: float,
    *,
    level: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut every connected candidate region at half its own peak darkness; drop regions whose peak
    ``depth`` (L* units) never reaches ``t_detect``. Works on the candidates' pixels only.

    With ``level`` (the skin's L* around them), the half is taken in linear luminance, the contrast
    ``1 - Y / Y_skin`` with ``Y ~ (L* + 16)^3``: optics blur light linearly, so the half-contrast contour of
    a blurred dark disc stays on its edge, whereas half the L* drop lies inside it (L* is a cube root).

    ``labels``, optional: a C-contiguous int32 array of ``depth``'s shape to label the regions in (its
    contents are overwritten; a buffer the caller already holds saves allocating one).

    Returns the flat indices of the outlined pixels, their region label (1..n-1) and n.
    """
    n, labels = cv2.connectedComponents(candidates.view(np.uint8), labels=labels, connectivity=8)
    idx = np.flatnonzero(candidates)  # same pixels as labels > 0, 7x faster on a bool array
    lab = labels.ravel()[idx]
    values = depth.ravel()[idx]
    peaks = np.full(n, -np.inf, dtype=np.float32)
    np.maximum.at(peaks, lab, values)
    strong = peaks >= t_detect
    if level is not None:
        skin = level.ravel()[idx] + np.float32(16.0)
        values = 1.0 - ((skin - values) / skin) ** 3
        peaks = np.full(n, -np.inf, dtype=np.float32)
        np.maximum.at(peaks, lab, values.astype(np.float32))
    half = np.where(strong, 0.5 * peaks, np.inf).astype(np.float32)
    inside = values >= half[lab]
    return idx[inside], lab[inside], n


def measure_pores(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    lab: np.ndarray | None = None,
    min_diameter_mm: float = 0.25,
    max_diameter_mm: float = 1.0,
    min_contrast: float = 2.0,
    max_elongation: float = 2.0,
    fine_min_diameter_mm: float = 0.1,
    min_all_round_fall: float = 0.3,
) -> Measurement:
    """Count and size the pores of a close-up skin photo (method in the module docstring).

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1]; may be None when ``lab`` is given (then no overlay).
    px_per_mm : float, optional
        Scale. Without it the mm columns are NaN and the sizes below are read at 25 px/mm.
    mask : ndarray of bool, optional
        Skin to search (pores are counted where their outline is inside); default the whole image.
    lab : ndarray, optional
        Precomputed float CIELAB of ``rgb`` (only L* is used).
    min_diameter_mm, max_diameter_mm : float
        Accepted equivalent diameters (default 0.25-1 mm; 0.25 mm after Flament et al. 2015).
    min_contrast : float
        A pore's centre must be at least this many L* units darker than the skin around it.
    max_elongation : float
        Largest ratio of the principal axes of a pore.
    fine_min_diameter_mm : float
        Lower size of the second count ``pore_count_fine`` (default 0.1 mm, the former floor); must
        not exceed ``min_diameter_mm``. Outlines are found with the smoothing this size needs, so both
        counts come from the same outlines.
    min_all_round_fall : float
        Least ratio, over 4 directions, of the weakest to the strongest fall of darkness one diameter
        from a pore's centre (step 6 of the module docstring); 0 turns the test off.

    Returns
    -------
    Measurement
        ``pore_count``; ``pore_density_per_cm2`` (per cm² of mask); ``pore_mean_diameter_mm`` (mean
        equivalent diameter); ``pore_area_fraction`` (pore area over mask area); twins
        ``pore_mean_diameter_px`` and ``pore_density_per_mpx`` (pores per million mask pixels);
        ``pore_count_fine``: the count from ``fine_min_diameter_mm`` (0.1 mm) up, all else equal.
        ``labels``: the pores (>= ``min_diameter_mm``), 1..n; ``overlay``: the photo with pores in cyan.
    """
    lab = lab_of(rgb, lab, check_finite=False)
    shape = lab.shape[:2]
    light = np.ascontiguousarray(lab[..., 0], dtype=np.float32)
    check_finite_lightness(light)  # on the contiguous copy: twice as fast as on the strided channel
    region = check_mask(mask, shape)
    if not region.any():
        raise ValueError("mask selects no pixels")
    if not 0 < min_diameter_mm < max_diameter_mm:
        raise ValueError("need 0 < min_diameter_mm < max_diameter_mm")
    if not 0 < fine_min_diameter_mm <= min_diameter_mm:
        raise ValueError("need 0 < fine_min_diameter_mm <= min_diameter_mm")
    if not 0 <= min_all_round_fall < 1:
        raise ValueError("min_all_round_fall must be in [0, 1)")
    px_per_mm = check_scale(px_per_mm)
    scaled = px_per_mm is not None
    scale = px_per_mm if scaled else ASSUMED_PX_PER_MM
    dmin_px, dmax_px = min_diameter_mm * scale, max_diameter_mm * scale
    fine_px = fine_min_diameter_mm * scale

    level = local_skin_level(light, feature_diameter_px=dmax_px, mask=region)
    # Smoothing set by the smaller (fine) floor: one set of outlines serves both counts.
    sigma = max(0.5, fine_px / 6.0)
    ksize = 2 * int(np.ceil(3 * sigma)) + 1  # +-3 sigma is plenty (OpenCV's default goes to +-4)
    # Full-size outputs go to numpy buffers (huge pages: fewer page faults than OpenCV's own); L* is
    # not needed after the subtraction, so its copy (when it is ours) takes the blurred depth. The
    # blur is not done in place: OpenCV's in-place Gaussian is ~3x slower.
    difference = cv2.subtract(level, light, dst=np.empty_like(light))
    depth = light if not np.may_share_memory(light, lab) else np.empty_like(light)
    cv2.GaussianBlur(difference, (ksize, ksize), sigma, dst=depth)
    # The difference is not needed after the blur: its buffer (same size) takes the region labels and
    # then the output labels, instead of two more full-size allocations (page faults).
    labels = difference.view(np.int32)
    del difference
    noise = robust_sd(grid_sample(depth, region))
    t_detect = max(min_contrast, 5.0 * noise)
    candidates = depth > np.float32(max(0.5 * min_contrast, 2.5 * noise))
    if not region.all():
        candidates &= region
    # Each candidate is measured as one pore even if its half-depth outline splits (rare for round
    # pores; a split outline fills its moment ellipse poorly and is then rejected anyway).
    idx, lab, n = half_depth_outlines(depth, candidates, t_detect, level=level, labels=labels)
    rr, cc = np.divmod(idx, shape[1])
    area, row, col, elongation, fill = moments_from_pixels(rr, cc, lab, n)
    diameter = np.sqrt(4.0 * area / np.pi)
    keep = (diameter >= fine_px) & (diameter <= dmax_px) & (area > 0)
    keep &= (elongation <= max_elongation) & (fill >= 0.6)
    keep[0] = False
    if min_all_round_fall > 0 and keep.any():
        keep[keep] = _all_round_fall(depth, row, col, diameter, keep) >= min_all_round_fall
    count_fine = int(keep.sum())
    keep &= diameter >= dmin_px
    relabel = np.zeros(n, dtype=np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1)
    labels.fill(0)
    labels.ravel()[idx] = relabel[lab]
    diameter, area = diameter[keep], area[keep]

    region_px = float(np.count_nonzero(region))
    count = len(diameter)
    mean_d_px = float(diameter.mean()) if count else float("nan")
    metrics = {
        "pore_count": float(count),
        "pore_density_per_cm2": count / (region_px / scale**2 / 100.0) if scaled else float("nan"),
        "pore_mean_diameter_mm": mean_d_px / scale if scaled else float("nan"),
        "pore_area_fraction": float(area.sum()) / region_px,
        "pore_mean_diameter_px": mean_d_px,
        "pore_density_per_mpx": count / region_px * 1e6,
        "pore_count_fine": float(count_fine),
    }
    if rgb is not None and np.ndim(rgb) == 3:
        overlay = np.array(rgb, dtype=np.float32, copy=True)
        overlay[labels > 0] = (0.0, 0.9, 0.9)
    else:
        overlay = None
    return Measurement(metrics=metrics, overlay=overlay, labels=labels)


# Directions of the all-round test: 4 axes, both ways (unit steps in rows, cols).
_AXES = np.array([(0.0, 1.0), (1.0, 0.0), (np.sqrt(0.5), np.sqrt(0.5)), (np.sqrt(0.5), -np.sqrt(0.5))])


def _all_round_fall(
    depth: np.ndarray, row: np.ndarray, col: np.ndarray, diameter: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """For the chosen regions: the weakest over 4 axes of the darkness fall from the region's centroid
    (``row``, ``col``: centroids of all regions) to 1-2 diameters away (the larger of the two ways along
    an axis), over the strongest.

    A pore is dark in the middle and skin all round: the fall is about the same on every axis (~1). A
    piece of a line (a faint line broken by noise into short pieces, each round enough to pass the
    shape filter) stays dark along the line: no fall on that axis (~0). Taking the larger of the two
    ways keeps a pore with a neighbour on one side.
    """
    index = np.flatnonzero(chosen)
    r0, c0, reach = row[index], col[index], np.maximum(diameter[index], 2.0)
    last_r, last_c = depth.shape[0] - 1, depth.shape[1] - 1

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return depth[
            np.clip(np.rint(r), 0, last_r).astype(np.intp), np.clip(np.rint(c), 0, last_c).astype(np.intp)
        ]

    def around(dr: float, dc: float) -> np.ndarray:
        # The mean darkness 1, 1.5 and 2 diameters away: a faint line's noise averages out along it.
        return sum(at(r0 + f * reach * dr, c0 + f * reach * dc) for f in (1.0, 1.5, 2.0)) / 3.0

    centre = at(r0, c0)
    falls = np.empty((len(index), len(_AXES)), dtype=np.float64)
    for k, (dr, dc) in enumerate(_AXES):
        falls[:, k] = np.maximum(centre - around(dr, dc), centre - around(-dr, -dc))
    strongest = falls.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(strongest > 0, falls.min(axis=1) / strongest, 0.0)
