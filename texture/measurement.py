"""The result type shared by every measurement function, and physical-unit helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

__all__ = [
    "Measurement",
    "ASSUMED_PX_PER_MM",
    "px_to_mm",
    "px_to_um",
    "check_rgb",
    "check_mask",
    "check_scale",
    "work_factor",
    "reduce_with_mask",
]


@dataclass
class Measurement:
    """What a ``measure_*`` function returns.

    Attributes
    ----------
    metrics : dict of str to float
        Final column names (see docs/architecture.md) to values. Length columns carry their unit in the name;
        without a scale they are NaN and their ``_px`` twin carries the value.
    overlay : ndarray, optional
        An RGB float image in [0, 1] (same rows/cols as the input) showing what was measured.
    labels : ndarray, optional
        An integer label image of the detected objects (0 = background).
    tables : dict of str to dict
        Extra per-image tables (e.g. an orientation histogram) as column name -> sequence.
    notes : dict of str to str
        Why a metric is NaN or needs care, keyed by its column (e.g. ``ita_deg``): a sentence the
        caller can turn into a warning. Empty when there is nothing to say.
    """

    metrics: dict[str, float]
    overlay: np.ndarray | None = None
    labels: np.ndarray | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


# Resampling and colour conversions overshoot [0, 1] by rounding error; that is not bad input.
_RANGE_SLACK = 1e-3


def check_scale(px_per_mm: float | None, *, name: str = "px_per_mm") -> float | None:
    """Return the scale as a float, or None when unknown; raise ``ValueError`` for 0, negative, NaN or
    infinite values, which are never a real scale (silently reading them as "no scale" would hide a
    broken manifest)."""
    if px_per_mm is None:
        return None
    try:
        value = float(px_per_mm)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number or None, got {px_per_mm!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number or None, got {px_per_mm!r}")
    return value


def px_to_mm(value_px: float, px_per_mm: float | None, *, power: int = 1) -> float:
    """Convert a pixel length (``power=1``) or area (``power=2``) to mm; NaN when the scale is unknown."""
    if px_per_mm is None or not np.isfinite(px_per_mm) or px_per_mm <= 0:
        return float("nan")
    return float(value_px) / float(px_per_mm) ** power


def px_to_um(value_px: float, px_per_mm: float | None, *, power: int = 1) -> float:
    """Convert a pixel length (``power=1``) or area (``power=2``) to µm; NaN when the scale is unknown."""
    return px_to_mm(value_px, px_per_mm, power=power) * 1000.0**power


def check_rgb(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Validate an RGB image in [0, 1] of shape (rows, cols, 3) and return it as floating point.

    float32 input stays float32 (a 12-megapixel photo in float64 costs 288 MB); other dtypes become float64.

    Raises ``ValueError`` with a clear message for wrong shape, empty images or non-finite values.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must be RGB with shape (rows, cols, 3), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind != "f":
        # An 8-bit image (0-255) read as if it were 0-1 would be measured as nonsense: refuse it.
        raise ValueError(
            f"{name} must be floating point in [0, 1], got dtype {arr.dtype} "
            "(convert with skimage.util.img_as_float)"
        )
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    lo, hi = float(arr.min()), float(arr.max())  # NaN propagates through min/max: one pass each
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if lo < -_RANGE_SLACK or hi > 1.0 + _RANGE_SLACK:
        raise ValueError(f"{name} values must lie in [0, 1], found {lo:.4g} to {hi:.4g}")
    return arr


def check_mask(mask: np.ndarray | None, shape: tuple[int, ...], *, name: str = "mask") -> np.ndarray:
    """Return a boolean mask of ``shape`` (all True when ``mask`` is None); raise on a shape mismatch."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} shape {m.shape} does not match image shape {tuple(shape)}")
    return m.astype(bool, copy=False)


def work_factor(scale_px_per_mm: float, work_px_per_mm: float) -> float:
    """Downsampling factor to a coarser working scale; 1 unless it saves at least half the pixels."""
    return scale_px_per_mm / work_px_per_mm if scale_px_per_mm > 1.5 * work_px_per_mm else 1.0


def reduce_with_mask(image: np.ndarray, mask: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` area-averaged and ``mask`` nearest-sampled by ``factor`` (unchanged when factor <= 1).

    A mask that vanishes on the reduced grid (a sliver) becomes all True rather than empty.
    """
    if factor <= 1.0:
        return image, mask
    rows, cols = mask.shape[:2]
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    if not small_mask.any():
        small_mask[...] = True
    return small, small_mask


#: Scale assumed for the default pore sizes when the photo has none (a typical close-up).
ASSUMED_PX_PER_MM = 25.0
