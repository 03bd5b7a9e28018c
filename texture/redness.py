"""Red areas of facial skin (VISIA-like): an erythema map relative to the surrounding skin, the fraction
of skin that is red, and the count and size of small inflammatory lesions (red papules, 1-5 mm).

Method:

1. **Erythema index map**: ``EI = 100 * log10(R / G)`` of the linearised red and green reflectances
   (Dawson et al., Phys Med Biol 1980;25:695-709; Diffey, Oliver & Farr, Br J Dermatol 1984;111:663-672):
   haemoglobin absorbs green far more than red, so EI rises with blood content. Each channel is first
   averaged over a Gaussian of ``smooth_mm`` (less sensor noise; papules are >= 1 mm). A ratio of two
   channels is blind to the illumination level, so shading across a face does not read as redness.
2. **Relative to the surrounding skin**: the background EI is a masked Gaussian average (normalised
   convolution, Knutsson & Westin, CVPR 1993) over ``background_mm``, computed twice: the second time
   without the pixels the first pass found red, so a large red patch does not raise its own background.
   ``excess EI = EI - background``: the map the red areas are read from, in EI units. This follows the
   idea of VISIA's RBX red map (haemoglobin relative to the person's own skin) without its proprietary
   spectral model.
3. **Red areas**: excess EI above ``threshold_ei``. ``red_area_fraction`` = red pixels / skin pixels.
4. **Inflammatory lesions**: connected red areas (8-connectivity) with an equivalent diameter
   ``2 sqrt(A / pi)`` in ``lesion_diameter_mm`` and a principal-axis ratio at most ``max_elongation``
   (papules and pustules are round; flushing and telangiectatic lines are not).

Measurements, not diagnoses: a red area is redder than its surroundings, whatever the cause.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture.color import srgb_to_linear
from texture.measurement import ASSUMED_PX_PER_MM, Measurement, check_mask, check_rgb, check_scale

__all__ = ["erythema_map", "excess_erythema", "measure_red_areas", "RED_COLUMNS"]

#: Columns of :func:`measure_red_areas`.
RED_COLUMNS: tuple[str, ...] = (
    "red_area_fraction",
    "red_mean_excess_ei",
    "red_lesion_count",
    "red_lesion_density_per_cm2",
    "red_lesion_density_per_mpx",
    "red_lesion_mean_diameter_mm",
    "red_lesion_mean_diameter_px",
)

_FLOOR = 1e-4  # reflectance floor before the log (black pixels)


def erythema_map(rgb: np.ndarray, *, smooth_px: float = 0.0) -> np.ndarray:
    """Per-pixel erythema index ``100 log10(R / G)`` (float32) of linear sRGB, after an optional Gaussian
    average of each channel with sigma ``smooth_px``."""
    lin = srgb_to_linear(check_rgb(rgb)).astype(np.float32)
    red, green = lin[..., 0], lin[..., 1]
    if smooth_px > 0:
        red = cv2.GaussianBlur(np.ascontiguousarray(red), (0, 0), smooth_px)
        green = cv2.GaussianBlur(np.ascontiguousarray(green), (0, 0), smooth_px)
    return (100.0 * (np.log10(np.maximum(red, _FLOOR)) - np.log10(np.maximum(green, _FLOOR)))).astype(
        np.float32
    )


def _masked_blur(values: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: Gaussian average of ``values`` over the pixels where ``weights`` is 1."""
    w = weights.astype(np.float32)
    num = cv2.GaussianBlur(values * w, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(w, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    out = np.full(values.shape, np.nan, np.float32)
    ok = den > 1e-3
    out[ok] = num[ok] / den[ok]
    return out


def excess_erythema(
    ei: np.ndarray, mask: np.ndarray, *, background_px: float, threshold_ei: float
) -> np.ndarray:
    """``ei`` minus the erythema of the surrounding skin (two-pass masked Gaussian of sigma
    ``background_px / 2``; the second pass leaves out what the first found above ``threshold_ei``).
    The background is computed on a copy reduced to ~8 px per ``background_px / 2`` (it is smooth)."""
    rows, cols = ei.shape
    sigma = max(1.0, background_px / 2.0)
    factor = max(1.0, sigma / 8.0)
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    small_ei = cv2.resize(ei, size, interpolation=cv2.INTER_AREA) if factor > 1 else ei
    small_mask = (
        cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        if factor > 1
        else mask
    )
    if not small_mask.any():
        small_mask = np.ones_like(small_mask)
    s_sigma = sigma / factor
    first = _masked_blur(small_ei, small_mask, s_sigma)
    calm = small_mask & ~(small_ei - np.nan_to_num(first, nan=0.0) > threshold_ei)
    if np.count_nonzero(calm) < 0.2 * np.count_nonzero(small_mask):
        calm = small_mask  # mostly red: the first pass is the better background
    background = _masked_blur(small_ei, calm, s_sigma)
    background = np.where(np.isfinite(background), background, np.nanmedian(small_ei[small_mask]))
    if factor > 1:
        background = cv2.resize(background.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    return (ei - background).astype(np.float32)


def measure_red_areas(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    threshold_ei: float = 5.0,
    smooth_mm: float = 0.15,
    background_mm: float = 12.0,
    lesion_diameter_mm: tuple[float, float] = (1.0, 5.0),
    max_elongation: float = 2.5,
    overlay: bool = True,
) -> Measurement:
    """Red areas and inflammatory lesions of a skin photo (method in the module docstring).

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1].
    px_per_mm : float, optional
        Scale. Without it the mm columns are NaN and the mm sizes below are read at
        :data:`texture.measurement.ASSUMED_PX_PER_MM`.
    mask : ndarray of bool, optional
        Skin to measure (a facial zone); default the whole image.
    threshold_ei : float
        Excess erythema index (EI units) above which a pixel is red. The default 5 is ~4x the pixel
        noise of the map on 8-bit photos (EI SD ~1.2 after ``smooth_mm``) and below the ~8-15 EI units
        of papules and flushing measured by reflectance (Diffey et al. 1984).
    smooth_mm : float
        Gaussian sigma applied to the red and green channels, mm.
    background_mm : float
        Size of the surrounding skin the redness is relative to (Gaussian sigma = half of it), mm; must
        be well above the largest lesion.
    lesion_diameter_mm : (min, max)
        Equivalent diameters counted as inflammatory lesions, mm.
    max_elongation : float
        Largest principal-axis ratio of a lesion.
    overlay : bool
        Build the overlay (a full-size copy of the photo; off when measuring many zones of one photo).

    Returns
    -------
    Measurement
        Columns :data:`RED_COLUMNS`: ``red_area_fraction`` (0-1 of ``mask``), ``red_mean_excess_ei``
        (mean excess EI over the red pixels, 0 when none), ``red_lesion_count``,
        ``red_lesion_density_per_cm2`` (per cm² of mask) and its twin ``red_lesion_density_per_mpx``,
        ``red_lesion_mean_diameter_mm`` and ``_px`` (NaN without lesions). ``labels``: lesions 1..n;
        ``overlay``: red areas tinted, lesions outlined in yellow; ``tables["excess_ei"]``: the map.
    """
    image = check_rgb(rgb)
    shape = image.shape[:2]
    region = check_mask(mask, shape)
    n_region = int(np.count_nonzero(region))
    if n_region == 0:
        raise ValueError("mask selects no pixels")
    scale = check_scale(px_per_mm)
    if not (threshold_ei > 0 and smooth_mm >= 0 and background_mm > 0 and max_elongation >= 1):
        raise ValueError(
            "threshold_ei and background_mm must be positive, smooth_mm >= 0, max_elongation >= 1"
        )
    d_lo, d_hi = lesion_diameter_mm
    if not 0 < d_lo < d_hi:
        raise ValueError("need 0 < lesion_diameter_mm[0] < lesion_diameter_mm[1]")
    if background_mm < 2 * d_hi:
        raise ValueError("background_mm must be at least twice the largest lesion diameter")
    s = scale if scale is not None else ASSUMED_PX_PER_MM
    # Work in the mask's bounding box plus the background reach: a facial zone is a small part of a
    # 12 MP photo. Outside the box the map is 0 (not measured).
    ys, xs = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    reach = int(np.ceil(background_mm * s))
    box = (
        slice(max(0, ys[0] - reach), min(shape[0], ys[-1] + reach + 1)),
        slice(max(0, xs[0] - reach), min(shape[1], xs[-1] + reach + 1)),
    )
    sub_region = region[box]
    ei = erythema_map(image[box], smooth_px=smooth_mm * s)
    excess = excess_erythema(ei, sub_region, background_px=background_mm * s, threshold_ei=threshold_ei)
    red = (excess > threshold_ei) & sub_region
    n_red = int(np.count_nonzero(red))

    n, labels, stats, _ = cv2.connectedComponentsWithStats(red.astype(np.uint8), connectivity=8)
    diameters = 2.0 * np.sqrt(stats[1:, cv2.CC_STAT_AREA] / np.pi)
    keep = np.zeros(n, dtype=bool)
    ok = (diameters >= d_lo * s) & (diameters <= d_hi * s)
    for i in np.flatnonzero(ok) + 1:
        x, y, w, h = stats[i, :4]
        yy, xx = np.nonzero(labels[y : y + h, x : x + w] == i)
        if len(xx) < 5:
            continue
        ev = np.linalg.eigvalsh(np.cov(np.vstack([xx, yy]).astype(float)))
        if ev[0] <= 0 or np.sqrt(ev[1] / ev[0]) <= max_elongation:
            keep[i] = True
    lesion_ids = np.flatnonzero(keep)
    lesion_d = 2.0 * np.sqrt(stats[lesion_ids, cv2.CC_STAT_AREA] / np.pi)
    relabel = np.zeros(n, dtype=np.int32)
    relabel[lesion_ids] = np.arange(1, len(lesion_ids) + 1)
    lesion_labels = np.zeros(shape, dtype=np.int32)
    lesion_labels[box] = relabel[labels]

    count = len(lesion_ids)
    area_cm2 = n_region / scale**2 / 100.0 if scale is not None else float("nan")
    mean_d_px = float(lesion_d.mean()) if count else float("nan")
    metrics = {
        "red_area_fraction": n_red / n_region,
        "red_mean_excess_ei": float(excess[red].mean()) if n_red else 0.0,
        "red_lesion_count": float(count),
        "red_lesion_density_per_cm2": count / area_cm2 if scale is not None else float("nan"),
        "red_lesion_density_per_mpx": count / (n_region / 1e6),
        "red_lesion_mean_diameter_mm": mean_d_px / scale if scale is not None else float("nan"),
        "red_lesion_mean_diameter_px": mean_d_px,
    }
    full_excess = np.zeros(shape, np.float32)
    full_excess[box] = excess
    picture = None
    if overlay:
        picture = image.astype(np.float32, copy=True)
        sub = picture[box]
        sub[red] = 0.5 * sub[red] + 0.5 * np.array([1.0, 0.0, 0.2], np.float32)
        kernel = np.ones((3, 3), np.uint8)
        edges = cv2.morphologyEx((lesion_labels[box] > 0).astype(np.uint8), cv2.MORPH_GRADIENT, kernel)
        sub[edges > 0] = (1.0, 0.9, 0.0)
    return Measurement(
        metrics, overlay=picture, labels=lesion_labels, tables={"excess_ei": {"map": full_excess}}
    )
