"""Wrinkles and fine lines on close-up skin photos: long, thin, dark valleys in L*.

Method (on L* reduced to ~10 px/mm when the photo has more than 15 px/mm):

1. **Ridge filter for dark lines**, multi-scale Hessian: at each Gaussian scale sigma (0.06-0.15 mm) the
   eigenvalues l1 >= l2 of the Hessian of L*; a dark valley has a large positive l1 across it and l2 ~ 0
   along it. The response is ``sigma^2 (l1 - |l2|) - sigma |grad L*|`` (scale-normalised, Lindeberg 1998):
   ``- |l2|`` rejects round blobs (pores, where l1 ~ l2) and ``- sigma |grad|`` rejects the dark side of
   a spot's edge (a valley's centre has no slope, a step edge has). Maximum over scales; its unit is L*.
   This is the ``black_ridges=True`` reading of scikit-image's ``sato``/``frangi`` family, written with
   OpenCV filters for speed.
2. **Segmentation**: hysteresis between 3 and 6 robust SDs of the response (and at least
   ``min_contrast / 2`` and ``min_contrast``), so a line that fades in and out stays one line.
3. **Skeleton** (scikit-image ``skeletonize``), 8-connected pieces; length of a piece = its
   orthogonal steps + sqrt(2) x diagonal steps. Pieces shorter than ``min_length_mm`` are dropped.
4. **Width**: the darkness ``depth = skin level - L*`` integrated across the line divided by its depth
   at the centre line (the equivalent width of the valley; exact for a flat-floored groove).

Limits: lines crossing each other merge into one piece; lines fainter than ~3 noise SDs are missed; lines
narrower than ~1.5 px at the working scale (0.15 mm at 10 px/mm) are detected with reduced contrast and
their width is overestimated; the equivalent width includes the lens blur (a 0.15 mm line under a
1 px blur at 20 px/mm reads 0.20 mm); hairs are dark lines too. Cast shadows of deep folds are measured
as their dark side only.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import skeletonize

from texture._stats import fast_median, masked_robust_sd
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

__all__ = ["measure_wrinkles", "dark_ridge_response", "skeleton_lengths", "WRINKLE_WORK_PX_PER_MM"]

#: Lines are analysed at no more than this resolution.
WRINKLE_WORK_PX_PER_MM = 10.0


def dark_ridge_response(lightness: np.ndarray, sigmas_px: tuple[float, ...]) -> np.ndarray:
    """Multi-scale dark-line response of a grey image (L* units), see the module docstring."""
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
    widths_mm: tuple[float, float] = (0.06, 0.15),
    min_contrast: float = 1.5,
) -> Measurement:
    """Count, length density and width of fine lines (method in the module docstring).

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
        Shorter pieces are not wrinkles.
    widths_mm : (float, float)
        Smallest and largest Gaussian scale of the ridge filter, in mm (3 scales between).
    min_contrast : float
        Least ridge response (L* units) of a line's core.

    Returns
    -------
    Measurement
        ``wrinkle_count``, ``wrinkle_length_mm_per_cm2``, ``wrinkle_mean_width_mm`` and twins
        ``wrinkle_length_px_per_mpx`` (px of line per million px of mask), ``wrinkle_mean_width_px``;
        ``labels``: the line pixels (full resolution) by piece; overlay: lines in yellow.
    """
    lab = lab_of(rgb, lab)
    shape = lab.shape[:2]
    region = check_mask(mask, shape)
    if not region.any():
        raise ValueError("mask selects no pixels")
    px_per_mm = check_scale(px_per_mm)
    scaled = px_per_mm is not None
    scale = px_per_mm if scaled else ASSUMED_PX_PER_MM
    # The filters are set in mm, so a coarser working copy measures the same thing.
    factor = work_factor(scale, WRINKLE_WORK_PX_PER_MM)
    work_scale = scale / factor
    light, small_region = reduce_with_mask(
        np.ascontiguousarray(lab[..., 0], dtype=np.float32), region, factor
    )
    lo, hi = (w * work_scale for w in widths_mm)
    sigmas = tuple(float(s) for s in np.geomspace(max(lo, 0.7), max(hi, 1.0), 3))
    response = dark_ridge_response(light, sigmas)
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
    keep = lengths >= min_length_mm * work_scale
    relabel = np.zeros(n_pieces + 1, dtype=np.int32)
    relabel[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    skeleton = relabel[labels]
    lengths = lengths[keep]
    count = int(keep.sum())

    # Equivalent width: integrated darkness across the line over its darkness at the centre.
    width_px = float("nan")
    if count:
        level = local_skin_level(light, feature_diameter_px=4 * sigmas[-1] + 3, mask=small_region)
        depth = level - light
        reach = int(np.ceil(3 * sigmas[-1]))
        band = cv2.dilate((skeleton > 0).astype(np.uint8), _disk(2 * reach + 1)).astype(bool)
        centre = _max_3x3_at(depth, *np.nonzero(skeleton))
        peak = float(fast_median(centre))
        if peak > 0:
            width_px = float(np.clip(depth[band], 0, None).sum()) / (float(lengths.sum()) * peak)
            width_px *= factor

    region_px = float(np.count_nonzero(region))
    total_px = float(lengths.sum()) * factor
    metrics = {
        "wrinkle_count": float(count),
        "wrinkle_length_mm_per_cm2": (total_px / scale) / (region_px / scale**2 / 100.0)
        if scaled
        else float("nan"),
        "wrinkle_mean_width_mm": width_px / scale if scaled else float("nan"),
        "wrinkle_length_px_per_mpx": total_px / region_px * 1e6,
        "wrinkle_mean_width_px": width_px,
    }
    full = cv2.dilate(skeleton.astype(np.float32), np.ones((3, 3), np.uint8))
    if factor > 1.0:
        full = cv2.resize(full, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    full_labels = full.astype(np.int32)
    overlay = None
    if rgb is not None and np.ndim(rgb) == 3:
        overlay = np.array(rgb, dtype=np.float32, copy=True)
        overlay[full_labels > 0] = (1.0, 0.9, 0.0)
    return Measurement(metrics=metrics, overlay=overlay, labels=full_labels)


def _skeleton_of_pieces(labels: np.ndarray, boxes: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """``skeletonize(chosen[labels])``: the skeleton of the chosen 8-connected pieces of a label image.

    When the pieces are few and their bounding boxes (``boxes``: connectedComponentsWithStats) cover
    little of the image, each piece is thinned in its own box. Same result: Zhang-Suen thinning only
    looks at 3x3 neighbourhoods and distinct 8-connected pieces never touch, so each piece thins alone
    exactly as it does in the whole image; a line photo's pieces cover a few % of it.
    """
    pieces = np.flatnonzero(chosen)
    x, y, w, h = (boxes[pieces, i] for i in range(4))
    if len(pieces) > 64 or int((w.astype(np.int64) * h).sum()) > labels.size // 2:
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
