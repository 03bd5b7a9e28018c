"""GLCM texture of skin lightness (CIELAB L*) in a region: how the photo columns ``glcm_*`` are defined.

The IBSI texture family itself is :mod:`texture.glcm`; this module decides how a photo's L* becomes
grey levels before it (see :func:`glcm_columns`).

Definition (default): **IBSI fixed bin width** on the calibrated L* scale (IBSI reference manual,
section 2.7 "Discretisation"; Zwanenburg et al., Radiology 2020;295:328-338). Grey level
``floor(L* / bin_width) + 1`` with the bins anchored at L* = 0, the bottom of the CIELAB scale (the
IBSI re-segmentation lower bound), so a bin is the same band of lightness in every photo. A smoother
skin (lower amplitude of its lightness variation, or a blur) therefore reads as a lower
``glcm_contrast``; with the former per-image range (fixed bin *number* over the image's own
0.5-99.5th percentiles) it read the same, because the range stretched with the amplitude.

Why ``bin_width = 1`` L* unit (:data:`DEFAULT_BIN_WIDTH_L`):

- it is about one just-noticeable lightness difference (CIEDE2000 ΔE00 ~ 1; Sharma et al. 2005), the
  smallest step that has a visual meaning;
- it is ~2.5x the 8-bit quantisation step of sRGB at skin lightness (one code is 0.35-0.45 L* for
  L* 40-80), so no bin is an empty comb tooth between two 8-bit codes;
- the L* of skin in a region spans ~20-40 units (pores, lines, spots), so 20-40 levels are occupied:
  as many as the former 32-level setting, so ``glcm_inverse_difference_moment`` and
  ``glcm_angular_second_moment`` keep comparable magnitudes.

Consequences to know: contrast is in (L* units / bin_width)^2 and compares across photos only when
they are colour-managed or calibrated alike (L* is then a physical unit); a brighter exposure changes
the L* differences slightly (L* is a cube root of luminance: +5 % exposure scales differences near
L* 65 by ~1.6 %, contrast by ~3 %). The former definition stays available with ``levels=N`` (IBSI fixed
bin number over the robust range), which histology uses for its collagen channel (no calibrated unit).
"""

from __future__ import annotations

import numpy as np

from texture._stats import percentiles
from texture.glcm import glcm_features

__all__ = ["DEFAULT_GLCM_FEATURES", "DEFAULT_BIN_WIDTH_L", "glcm_columns"]

#: The default photo texture columns (one list, read by the pipeline's config and its docs).
DEFAULT_GLCM_FEATURES: tuple[str, ...] = (
    "glcm_contrast",
    "glcm_inverse_difference_moment",
    "glcm_angular_second_moment",
    "glcm_correlation",
)

#: Default IBSI fixed bin width on L* (CIE lightness units); reasons in the module docstring.
DEFAULT_BIN_WIDTH_L = 1.0

# The robust L* range (fixed bin number only) is taken on a regular grid of at most this many pixels
# (deterministic): its sampling error is far below a tenth of an L* unit, and a 12-megapixel photo
# stays cheap.
_MAX_SAMPLE = 1_000_000
# L* spans 0-100; float conversions overshoot by rounding error, clipped before binning.
_L_MAX = 100.0


def glcm_columns(
    lightness: np.ndarray,
    mask: np.ndarray,
    *,
    bin_width: float | None = None,
    levels: int | None = None,
    features: tuple[str, ...] = DEFAULT_GLCM_FEATURES,
    robust_percentiles: tuple[float, float] = (0.5, 99.5),
) -> dict[str, float]:
    """GLCM texture of L* in the ROI, the way the photo columns ``glcm_*`` are defined.

    Matrices are symmetric, distance 1 px, the 4 in-plane directions, only pairs with both pixels in
    the ROI, features per direction averaged (IBSI "2D, averaged"), via
    :func:`texture.glcm.glcm_features`. Grey levels: see the module docstring.

    Parameters
    ----------
    lightness : ndarray (rows, cols)
        CIELAB L* (0-100), float.
    mask : ndarray of bool (rows, cols)
        Region to measure.
    bin_width : float, optional
        IBSI fixed bin width in L* units, bins anchored at L* = 0 (default
        :data:`DEFAULT_BIN_WIDTH_L` = 1 when ``levels`` is not given).
    levels : int, optional
        Instead of a bin width: IBSI fixed bin number, ``levels`` bins over the image's own robust range
        (``robust_percentiles`` of L* in the ROI, values outside clipped). Relative to each image: a
        uniform change of contrast does not show. Give ``bin_width`` or ``levels``, not both.
    features : tuple of str
        ``glcm_<IBSI name>`` columns to return.
    robust_percentiles : (float, float)
        Percentiles of the robust range (``levels`` only).

    Returns
    -------
    dict
        ``glcm_<IBSI name>`` -> value; ``glcm_contrast`` in squared bins ((L* / bin_width)^2).

    Raises
    ------
    ValueError
        Empty ROI, both or invalid ``bin_width``/``levels``, unknown feature names.
    """
    if not mask.any():
        raise ValueError("the ROI is empty: no pixel to compute texture on")
    if bin_width is not None and levels is not None:
        raise ValueError("give bin_width (fixed bin width) or levels (fixed bin number), not both")
    if levels is not None:
        codes = _fixed_bin_number(lightness, mask, int(levels), robust_percentiles)
    else:
        width = DEFAULT_BIN_WIDTH_L if bin_width is None else float(bin_width)
        if not np.isfinite(width) or width <= 0:
            raise ValueError(f"bin_width must be a positive number of L* units, got {bin_width!r}")
        codes = _fixed_bin_width(lightness, width)
    values = glcm_features(codes, mask=mask, levels=None, distance=1, aggregation="averaged")
    unknown = [f for f in features if f not in values]
    if unknown:
        raise ValueError(f"unknown GLCM features {unknown}; known: {sorted(values)}")
    return {f: float(values[f]) for f in features}


def _fixed_bin_width(lightness: np.ndarray, width: float) -> np.ndarray:
    """1-based IBSI fixed-bin-width codes ``floor(L* / width) + 1`` of L* clipped to [0, 100]."""
    n_bins = int(np.floor(_L_MAX / width)) + 1
    dtype = np.uint8 if n_bins < 255 else np.uint16
    # Clipped straight into a new contiguous float32 array (one pass over a strided L* channel, which
    # was first copied, then clipped in place: 2 passes), then scaled in place. Same values: clipping
    # at 0 and 100 commutes with the cast to float32.
    scaled = np.clip(lightness, 0.0, _L_MAX, out=np.empty(np.shape(lightness), dtype=np.float32))
    if width != 1.0:  # x * 1 is x: the default width skips a pass
        np.multiply(scaled, np.float32(1.0 / width), out=scaled)
    codes = scaled.astype(dtype)  # truncation = floor for the non-negative values left by the clip
    codes += 1
    return codes


def _fixed_bin_number(
    lightness: np.ndarray, mask: np.ndarray, levels: int, robust_percentiles: tuple[float, float]
) -> np.ndarray:
    """The former definition: ``levels`` bins over the ROI's robust L* range, 1-based."""
    if isinstance(levels, bool) or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    step = max(1, int(np.sqrt(lightness.size / _MAX_SAMPLE)))
    sample = lightness[::step, ::step][mask[::step, ::step]]
    lo, hi = percentiles(sample if sample.size else lightness[mask], robust_percentiles)
    span = float(hi - lo)
    if span <= 0:
        return np.ones(lightness.shape, dtype=np.uint8)
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
    codes = scaled.astype(np.uint8 if levels <= 255 else np.uint16)
    codes += 1
    return codes
