"""Photo analysis: one float RGB facial photo in, one flat record of skin metrics out.

The colour space is converted once per image; the skin mask is combined with the user's ROI once; every
``texture`` measurement receives both. Column names follow ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from pipelines.record import ImageResult
from texture import color
from texture.measurement import check_mask, check_rgb
from texture.roi import skin_mask

__all__ = ["analyze_photo", "DEFAULT_GLCM_FEATURES", "photo_lab", "glcm_columns"]

DEFAULT_GLCM_FEATURES: tuple[str, ...] = (
    "glcm_contrast",
    "glcm_inverse_difference_moment",
    "glcm_angular_second_moment",
    "glcm_correlation",
)
# scikit-image graycoprops names of the IBSI features, for the fallback without texture.glcm.
_SKIMAGE_PROPS = {
    "glcm_contrast": "contrast",
    "glcm_inverse_difference_moment": "homogeneity",
    "glcm_angular_second_moment": "ASM",
    "glcm_correlation": "correlation",
    "glcm_dissimilarity": "dissimilarity",
}
# Medians and percentiles are taken on at most this many ROI pixels (a fixed stride, deterministic):
# their sampling error is far below a tenth of an L* unit, and a 12-megapixel photo stays cheap.
_MAX_SAMPLE = 1_000_000


def photo_lab(rgb: np.ndarray) -> np.ndarray:
    """Float32 CIELAB (D65) of a float sRGB image, for structure measurements on large photos.

    OpenCV's float conversion (not its rescaled 8-bit one): L* 0-100, a*, b* unscaled, ~10x faster than
    scikit-image's float64 ``rgb2lab``. It deviates from it by at most ~0.3 units (its gamma curve is
    tabulated), far below the pore, spot and line contrasts it is used for. Colour indices (ITA, melanin,
    erythema) are computed from the RGB values with :mod:`texture.color`, not from this.
    """
    rgb = check_rgb(rgb)
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def _sample(values: np.ndarray) -> np.ndarray:
    step = max(1, len(values) // _MAX_SAMPLE)
    return values[::step]


def glcm_columns(
    lightness: np.ndarray,
    mask: np.ndarray,
    *,
    levels: int = 32,
    features: tuple[str, ...] = DEFAULT_GLCM_FEATURES,
    robust_percentiles: tuple[float, float] = (0.5, 99.5),
) -> dict[str, float]:
    """GLCM texture of L* in the ROI, the way the photo columns ``glcm_*`` are defined.

    L* is discretised into ``levels`` grey levels over the image's own robust range (the 0.5th-99.5th
    percentile of L* in the ROI; values outside are clipped), so that a uniformly brighter flash does not
    read as a texture change (ARCHITECTURE.md). Matrices are symmetric, distance 1 px, the 4 in-plane
    directions, only pairs with both pixels in the ROI, features per direction averaged (IBSI
    "2D, averaged"), via :func:`texture.glcm.glcm_features`.
    """
    if not mask.any():
        raise ValueError("the ROI is empty: no pixel to compute texture on")
    lo, hi = np.percentile(_sample(lightness[mask]), robust_percentiles)
    span = float(hi - lo)
    if span <= 0:
        codes = np.ones(lightness.shape, dtype=np.uint8)
    else:
        scaled = (np.clip(lightness, lo, hi) - np.float32(lo)) * np.float32(levels / span)
        codes = (np.minimum(scaled.astype(np.int32), levels - 1) + 1).astype(np.uint8)
    try:
        from texture.glcm import glcm_features
    except ImportError:
        return _glcm_skimage(codes, mask, levels, features)
    values = glcm_features(codes, mask, levels=None, distance=1, aggregation="averaged")
    unknown = [f for f in features if f not in values]
    if unknown:
        raise ValueError(f"unknown GLCM features {unknown}; known: {sorted(values)}")
    return {f: float(values[f]) for f in features}


def _glcm_skimage(
    codes: np.ndarray, mask: np.ndarray, levels: int, features: tuple[str, ...]
) -> dict[str, float]:
    # graycomatrix cannot mask: pixels outside the ROI get level 0 and row/column 0 are dropped, which
    # leaves exactly the pairs with both pixels inside (the IBSI convention).
    from skimage.feature import graycomatrix, graycoprops

    unknown = [f for f in features if f not in _SKIMAGE_PROPS]
    if unknown:
        raise ValueError(f"GLCM features {unknown} need texture.glcm; available: {list(_SKIMAGE_PROPS)}")
    padded = np.where(mask, codes, 0).astype(np.uint8)
    angles = [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    m = graycomatrix(padded, [1], angles, levels=levels + 1, symmetric=True)[1:, 1:].astype(float)
    return {f: float(np.mean(graycoprops(m, _SKIMAGE_PROPS[f]))) for f in features}


def _colour_indices(rgb: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    # texture.color works on whole images in float64; a strided sample of the skin pixels as an
    # (n, 1, 3) image gives the same medians at a fraction of the cost on large photos.
    pixels = _sample(rgb[mask]).astype(np.float64)[:, None, :]
    lab = color.rgb_to_lab(pixels)
    ita = color.ita_deg(lab)
    return {
        "ita_deg": ita,
        "ita_class": color.ita_class(ita),
        "melanin_index": color.melanin_index(pixels),
        "erythema_index": color.erythema_index(pixels),
    }


def _tint(rgb: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    out = np.array(rgb, dtype=np.float32, copy=True)
    out[mask] = 0.5 * out[mask] + 0.5 * np.asarray(colour, dtype=np.float32)
    return out


def analyze_photo(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None,
    roi: np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
) -> ImageResult:
    """All photo metrics of one facial photo.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1], upright.
    px_per_mm : float or None
        Scale. Without it the mm and cm² columns are NaN and their ``_px`` twins carry the values.
    roi : ndarray of bool, optional
        User region of interest; intersected with the automatic skin mask.
    options : mapping, optional
        ``glcm_levels`` (32), ``glcm_features`` (the four of ARCHITECTURE.md), ``skin_mask`` (True: use
        the automatic skin mask; False: the ROI alone).

    Returns
    -------
    ImageResult
        ``metrics``: numeric columns plus the string ``ita_class``; ``overlays``: RGB float images.
    """
    options = dict(options or {})
    rgb = check_rgb(rgb)
    if px_per_mm is not None and (not np.isfinite(px_per_mm) or px_per_mm <= 0):
        raise ValueError(f"px_per_mm must be a positive number or None, got {px_per_mm!r}")
    shape = rgb.shape[:2]
    user_roi = check_mask(roi, shape, name="roi")
    if not user_roi.any():
        raise ValueError("the ROI is empty")
    lab = photo_lab(rgb)

    region = user_roi.copy()
    if options.get("skin_mask", True):
        region &= skin_mask(rgb, lab=lab, px_per_mm=px_per_mm)
    if not region.any():
        raise ValueError("no skin found inside the ROI")

    metrics: dict[str, Any] = {}
    area_px = float(region.sum())
    metrics["roi_area_px"] = area_px
    metrics["roi_area_cm2"] = area_px / float(px_per_mm) ** 2 / 100.0 if px_per_mm else float("nan")
    metrics.update(_colour_indices(rgb, region))

    features = tuple(options.get("glcm_features", DEFAULT_GLCM_FEATURES))
    levels = int(options.get("glcm_levels", 32))
    metrics.update(glcm_columns(lab[..., 0], region, levels=levels, features=features))

    overlays = {"roi": _tint(rgb, ~region, (0.0, 0.0, 0.0))}
    return ImageResult(metrics=metrics, overlays=overlays)
