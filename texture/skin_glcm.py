"""GLCM texture of skin lightness (CIELAB L*) in a region: how the photo columns ``glcm_*`` are defined.

The IBSI texture family itself is :mod:`texture.glcm`; this module decides how a photo's L* becomes
grey levels before it (see :func:`glcm_columns`).
"""

from __future__ import annotations

import numpy as np

from texture._stats import percentiles
from texture.glcm import glcm_features

__all__ = ["DEFAULT_GLCM_FEATURES", "glcm_columns"]

#: The default photo texture columns (one list, read by the pipeline's config and its docs).
DEFAULT_GLCM_FEATURES: tuple[str, ...] = (
    "glcm_contrast",
    "glcm_inverse_difference_moment",
    "glcm_angular_second_moment",
    "glcm_correlation",
)


# The robust L* range is taken on a regular grid of at most this many pixels (deterministic): its
# sampling error is far below a tenth of an L* unit, and a 12-megapixel photo stays cheap.
_MAX_SAMPLE = 1_000_000


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
    step = max(1, int(np.sqrt(lightness.size / _MAX_SAMPLE)))
    sample = lightness[::step, ::step][mask[::step, ::step]]
    lo, hi = percentiles(sample if sample.size else lightness[mask], robust_percentiles)
    span = float(hi - lo)
    if span <= 0:
        codes = np.ones(lightness.shape, dtype=np.uint8)
    else:
        # floor(levels * (L - lo) / span), clipped to 0..levels-1, then 1-based; in place, float32.
        # A strided L* (a channel of Lab) is copied first: the subtraction then runs on contiguous
        # memory, in place (same float32 arithmetic, half the time of a strided subtraction).
        if lightness.flags.c_contiguous:
            scaled = np.subtract(lightness, np.float32(lo), dtype=np.float32)
        else:
            scaled = np.array(lightness, dtype=np.float32, order="C")
            np.subtract(scaled, np.float32(lo), out=scaled)
        np.multiply(scaled, np.float32(levels / span), out=scaled)
        np.clip(scaled, 0, levels - 1, out=scaled)
        codes = scaled.astype(np.uint8)
        codes += 1
    values = glcm_features(codes, mask, levels=None, distance=1, aggregation="averaged")
    unknown = [f for f in features if f not in values]
    if unknown:
        raise ValueError(f"unknown GLCM features {unknown}; known: {sorted(values)}")
    return {f: float(values[f]) for f in features}
