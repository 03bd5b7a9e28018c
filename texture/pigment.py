"""Pigmentation on close-up skin photos: brown spots, evenness, and the skin's own colour.

Spots are found on a copy reduced to ~10 px/mm (a 1 mm spot is still 10 px across), as regions darker than
the surrounding skin, outlined at half their own depth; evenness is the spread of L* at the spot scale;
skin colour (ITA, melanin and erythema indices, :mod:`texture.color`) is read on skin outside spots and
pores.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture import color
from texture._compat import deprecated_alias
from texture._regions import component_shapes
from texture._stats import fast_median, masked_robust_sd, robust_sd
from texture.color import lab_of
from texture.measurement import (
    ASSUMED_PX_PER_MM,
    Measurement,
    check_mask,
    check_rgb,
    check_scale,
    work_factor,
)

__all__ = ["measure_spots", "measure_skin_color", "color_sample_step", "SPOT_WORK_PX_PER_MM"]

#: Resolution at which spots and evenness are measured.
SPOT_WORK_PX_PER_MM = 10.0
# Colour medians use at most this many pixels (fixed stride): sampling error << 0.1 L* unit.
_MAX_SAMPLE = 100_000


def _reduce(image: np.ndarray, factor: float, interpolation=cv2.INTER_AREA) -> np.ndarray:
    if factor <= 1.0:
        return image
    rows, cols = image.shape[:2]
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    return cv2.resize(image, size, interpolation=interpolation)


def _disk(diameter_px: float) -> np.ndarray:
    d = max(3, int(round(diameter_px)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _normalised_blur(
    image: np.ndarray, weight: np.ndarray, sigma_px: float, *, fallback: np.ndarray
) -> np.ndarray:
    """Gaussian average of ``image`` over the pixels with ``weight`` 1 (Knutsson & Westin 1993); where
    too few such pixels are near (inside a large patch), ``fallback``."""
    num = _wide_blur(image * weight, sigma_px)
    den = _wide_blur(weight, sigma_px)
    return np.where(den > 0.05, num / np.maximum(den, 1e-6), fallback).astype(np.float32)


def _wide_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with a large sigma, computed on a copy reduced so that sigma is ~4 px."""
    factor = max(1.0, sigma_px / 4.0)
    small = _reduce(image, factor)
    # Replicated borders halve the bias a reflected border gives a gradient at the image edge.
    blurred = cv2.GaussianBlur(small, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REPLICATE)
    if factor == 1.0:
        return blurred
    return cv2.resize(blurred, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def measure_spots(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    lab: np.ndarray | None = None,
    min_diameter_mm: float = 1.0,
    max_diameter_mm: float = 8.0,
    min_contrast: float = 3.0,
    evenness_scale_mm: tuple[float, float] = (0.5, 8.0),
) -> Measurement:
    """Brown spots (hyperpigmented patches) and pigment evenness.

    Method, on L* reduced to ~10 px/mm (INTER_AREA):

    0. A grey closing with a disk of 0.6 ``min_diameter_mm`` removes pores and fine lines (narrower
       than the disk) without eroding the smallest spots.
    1. Skin level around spots: a Gaussian average of L* over the skin (normalised convolution, sigma
       1.5 mm, or 4 mm deep inside large patches), recomputed without the dark regions found so far
       (four rounds, at ~4 px/mm), so shading, gradients and the face's curvature cancel.
    2. ``depth = level - L*`` smoothed over ~0.08 mm; regions whose deepest point is at least
       ``min_contrast`` L* units (and 5 noise SDs) darker are outlined at half their own peak depth.
    3. Kept if the equivalent diameter is in [``min_diameter_mm``, ``max_diameter_mm``] (larger dark
       areas are shadows, hair or lesions, and the skin level is not reliable inside them), the shape is
       not a line (principal axes ratio <= 3) and the colour is brown rather than grey or blue (mean
       chroma C* at least 70 % of the skin's: shadows, veins and ink are excluded).

    ``pigment_evenness = 1 / (1 + s)`` where ``s`` (also reported as ``pigment_lightness_sd``, L* units)
    is the standard deviation over the mask of L* band-passed between ``evenness_scale_mm`` (difference of
    Gaussians with those sigmas: finer than pores and lines are smoothed away, coarser illumination is
    removed). 1 is perfectly even; spots, blotches and melasma lower it. Cf. the "evenness" of
    Matts et al., J Eur Acad Dermatol Venereol 2007 (contrast of chromophore maps).

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB (used for the overlay; may be None when ``lab`` is given).
    px_per_mm : float, optional
        Scale; without it the mm settings are read at 25 px/mm and ``spot_mean_diameter_mm`` is NaN.
    mask : ndarray of bool, optional
        Skin to search.
    lab : ndarray, optional
        Precomputed float CIELAB.

    Returns
    -------
    Measurement
        ``spot_count``, ``spot_area_fraction`` (of the mask), ``spot_mean_diameter_mm`` and its ``_px``
        twin, ``pigment_evenness``, ``pigment_lightness_sd``; ``labels`` (full resolution) and overlay
        (spots in magenta).
    """
    lab = lab_of(rgb, lab)
    shape = lab.shape[:2]
    region = check_mask(mask, shape)
    if not region.any():
        raise ValueError("mask selects no pixels")
    px_per_mm = check_scale(px_per_mm)
    scaled = px_per_mm is not None
    scale = px_per_mm if scaled else ASSUMED_PX_PER_MM
    # Reduce only when it saves at least half the pixels; the filters are set in mm anyway.
    factor = work_factor(scale, SPOT_WORK_PX_PER_MM)
    work_scale = scale / factor

    small = _reduce(np.ascontiguousarray(lab, dtype=np.float32), factor)
    small_region = _reduce(region.astype(np.uint8), factor, cv2.INTER_NEAREST).astype(bool)
    if not small_region.any():
        small_region[...] = True
    # A closing with a 0.6 mm disk (for 1 mm spots) first removes pores and fine lines (dark and
    # narrower than the disk), which would otherwise inflate the noise estimate and hide faint spots;
    # spots, wider than the disk, are unchanged.
    light = cv2.morphologyEx(
        np.ascontiguousarray(small[..., 0]), cv2.MORPH_CLOSE, _disk(0.6 * min_diameter_mm * work_scale)
    )
    # Skin level: a Gaussian average of the skin (normalised convolution, sigma 1.5 mm; 4 mm inside
    # patches too large for that), recomputed four times without the dark regions found so far. The
    # level is smooth, so this runs on a copy at ~4 px/mm and is scaled back once.
    level_factor = max(1.0, work_scale / 4.0)
    level_scale = work_scale / level_factor
    light_s = _reduce(light, level_factor)
    region_s = _reduce(small_region.view(np.uint8), level_factor, cv2.INTER_NEAREST) > 0
    if not region_s.any():
        region_s[...] = True
    weight = region_s.astype(np.float32)
    base = np.float32(fast_median(light_s[region_s]))
    dark = np.zeros(light_s.shape, np.uint8)
    for _ in range(4):
        wide = _normalised_blur(light_s, weight, 4.0 * level_scale, fallback=base)
        level_s = _normalised_blur(light_s, weight, 1.5 * level_scale, fallback=wide)
        depth_s = cv2.GaussianBlur(level_s - light_s, (0, 0), 0.5)
        noise = robust_sd(depth_s[weight > 0])
        dark = (depth_s > max(0.5 * min_contrast, 2.5 * noise)).astype(np.uint8)
        dark = cv2.dilate(dark, _disk(0.6 * level_scale))
        if not (region_s & (dark == 0)).any():
            break
        weight = (region_s & (dark == 0)).astype(np.float32)
    level = level_s
    if level_factor > 1.0:
        size = (light.shape[1], light.shape[0])
        level = cv2.resize(level_s, size, interpolation=cv2.INTER_LINEAR)
        dark = cv2.resize(dark, size, interpolation=cv2.INTER_NEAREST)
    depth = cv2.GaussianBlur(level - light, (0, 0), max(0.5, 0.08 * work_scale))
    skin_only = small_region & (dark == 0)
    noise = masked_robust_sd(depth, skin_only if skin_only.any() else small_region)
    t_detect = max(min_contrast, 5.0 * noise)
    candidates = ((depth > max(0.5 * min_contrast, 2.5 * noise)) & small_region).astype(np.uint8)
    n, labels = cv2.connectedComponents(candidates, connectivity=8)
    keep = np.zeros(0, bool)
    diameter = area = np.zeros(0)
    if n > 1:
        inside = labels > 0
        peaks = np.full(n, np.inf, dtype=np.float32)
        peaks[1:] = -np.inf
        np.maximum.at(peaks, labels[inside], depth[inside])
        half = np.where(peaks >= t_detect, 0.5 * peaks, np.inf).astype(np.float32)
        outline = (depth >= half[labels]) & small_region
        n, labels = cv2.connectedComponents(outline.view(np.uint8), connectivity=8)
    if n > 1:
        area, elongation, _ = component_shapes(labels, n - 1)
        diameter = np.sqrt(4.0 * area / np.pi)
        chroma = np.hypot(small[..., 1], small[..., 2])
        # Sums over the labelled pixels only (same pixels, same order: same float sums).
        inside = labels > 0
        labelled = labels[inside]
        sizes = np.maximum(np.bincount(labelled, minlength=n)[1:], 1)
        spot_chroma = np.bincount(labelled, chroma[inside], minlength=n)[1:] / sizes
        skin_chroma = float(fast_median(chroma[small_region & (labels == 0)]))
        keep = (diameter >= min_diameter_mm * work_scale) & (elongation <= 3.0)
        keep &= diameter <= max_diameter_mm * work_scale
        keep &= spot_chroma >= 0.7 * skin_chroma
        relabel = np.zeros(n, dtype=np.int32)
        relabel[1:][keep] = np.arange(1, int(keep.sum()) + 1)
        labels = relabel[labels]
        diameter, area = diameter[keep], area[keep]
    else:
        labels = np.zeros(light.shape, dtype=np.int32)

    small_region_px = float(np.count_nonzero(small_region))
    count = len(diameter)
    mean_d_px = float(diameter.mean()) * factor if count else float("nan")

    lo_sigma, hi_sigma = (s * work_scale for s in evenness_scale_mm)
    band = cv2.GaussianBlur(light, (0, 0), max(lo_sigma, 0.5)) - _wide_blur(light, hi_sigma)
    spread = float(np.std(band[small_region]))

    metrics = {
        "spot_count": float(count),
        "spot_area_fraction": float(area.sum()) / small_region_px,
        "spot_mean_diameter_mm": mean_d_px / scale if scaled else float("nan"),
        "spot_mean_diameter_px": mean_d_px,
        "pigment_evenness": 1.0 / (1.0 + spread),
        "pigment_lightness_sd": spread,
    }
    full_labels = labels
    if factor > 1.0:
        full_labels = cv2.resize(
            labels.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST
        ).astype(np.int32)
    overlay = None
    if rgb is not None and np.ndim(rgb) == 3:
        overlay = np.array(rgb, dtype=np.float32, copy=True)
        inside = full_labels > 0
        overlay[inside] = 0.5 * overlay[inside] + 0.5 * np.float32([0.9, 0.0, 0.9])
    return Measurement(metrics=metrics, overlay=overlay, labels=full_labels)


def color_sample_step(shape: tuple[int, ...]) -> int:
    """Stride of the regular grid :func:`measure_skin_color` reads on an image of ``shape`` (rows,
    cols): ~4x its sample size, which keeps large photos cheap while the medians barely move. A caller
    that builds ``mask``/``exclude`` only at ``[::step, ::step]`` and passes those grids (with
    ``rgb[::step, ::step]``) gets the same pixels and the same values."""
    return max(1, int(np.sqrt(shape[0] * shape[1] / (4 * _MAX_SAMPLE))))


def measure_skin_color(
    rgb: np.ndarray, *, mask: np.ndarray | None = None, exclude: np.ndarray | None = None
) -> Measurement:
    """ITA, melanin index and erythema index of the skin, outside spots and pores.

    The medians of :mod:`texture.color` (``ita_deg`` from float CIELAB, Chardon et al. 1991;
    ``melanin_index = 100 log10(1/R)`` and ``erythema_index = 100 log10(R/G)`` on linear reflectance,
    Diffey et al. 1984) over the pixels in ``mask`` and not in ``exclude``. On large photos a regular grid
    sample of at most ~10^5 pixels is used; its median differs from the full one by far less than 0.1 unit.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB in [0, 1].
    mask : ndarray of bool, optional
        Skin; default the whole image.
    exclude : ndarray of bool, optional
        Pixels to leave out (spots, pores, lines). Ignored if it would leave nothing.

    Returns
    -------
    Measurement
        ``ita_deg`` (NaN where ITA is undefined, :func:`texture.color.ita_with_reason`; then
        ``notes["ita_deg"]`` says why), ``melanin_index``, ``erythema_index``.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (rows, cols, 3), got {rgb.shape}")
    region = check_mask(mask, rgb.shape[:2])
    if not region.any():
        raise ValueError("mask selects no pixels")
    step = color_sample_step(rgb.shape[:2])
    grid_rgb, grid_region = rgb[::step, ::step], region[::step, ::step]
    if exclude is not None:
        rest = grid_region & ~check_mask(exclude, rgb.shape[:2], name="exclude")[::step, ::step]
        if rest.any():
            grid_region = rest
    if not grid_region.any():
        grid_region, grid_rgb = region, rgb
    # The pixels under the mask at a regular stride of at most ~_MAX_SAMPLE, gathered (and validated)
    # alone: the same pixels as every masked pixel gathered then strided, without that larger gather.
    where = np.flatnonzero(grid_region)
    rows, cols = np.divmod(where[:: max(1, len(where) // _MAX_SAMPLE)], grid_region.shape[1])
    pixels = check_rgb(grid_rgb[rows, cols][:, None, :], name="rgb").astype(np.float64)
    lab = color.rgb_to_lab(pixels)
    ita = color.ita_with_reason(lab)  # NaN with a reason where ITA is undefined (a colour cast)
    return Measurement(
        metrics={
            "ita_deg": ita.ita_deg,
            "melanin_index": color.melanin_index(pixels),
            "erythema_index": color.erythema_index(pixels),
        },
        notes={"ita_deg": ita.reason} if ita.reason else {},
    )


measure_skin_colour = deprecated_alias(measure_skin_color, "measure_skin_colour")
