"""Tissue versus glass, and the collagen threshold, in stained sections.

**Tissue** (:func:`detect_tissue`): glass transmits nearly all light, so a pixel is tissue when its
largest channel OD, smoothed over ``smooth_px``, exceeds ``od_threshold`` (0.1, i.e. < 79 %
transmission). SHG images have no glass signal: the whole field (or the given mask) is tissue.

**Collagen threshold**: Otsu's threshold over a fixed-bin histogram of the collagen channel inside
tissue (fixed bins so that whole-slide tiles can pool their histograms and get exactly the same
threshold), floored at :data:`MIN_THRESHOLD` so that a faint counterstain is never collagen.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import threshold_otsu

from texture.filters import gaussian_smooth
from texture.stains import StainModel, optical_density

__all__ = ["MIN_THRESHOLD", "detect_tissue", "collagen_histogram", "threshold_from_histogram"]


#: Smallest automatic threshold: 0.1 OD of collagen dye for brightfield stains, 0.05 of full
#: scale for SHG intensity.
MIN_THRESHOLD = {"brightfield": 0.1, "shg": 0.05}


_HIST_RANGE = {"brightfield": 3.0, "shg": 1.0}


_HIST_BINS = 600


def detect_tissue(
    rgb: np.ndarray,
    model: StainModel,
    *,
    smooth_px: float = 2.0,
    od_threshold: float = 0.1,
) -> np.ndarray:
    """Tissue (True) versus glass: the largest channel OD, Gaussian-smoothed, above ``od_threshold``.

    Purely local (no hole filling) so that tiles with enough overlap reproduce it exactly. Empty
    lumens and tears inside the section read as glass and are excluded from tissue area.
    SHG: returns all True (no transmitted-light background to detect).
    """
    if model.collagen is None:
        return np.ones(rgb.shape[:2], dtype=bool)
    # Channel-wise minimum: numpy's min(axis=2) over 3 interleaved values is several times slower.
    darkest = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]).astype(np.float32)
    od_max = optical_density(np.clip(darkest, 1.0 / 255.0, 1.0))
    del darkest
    if smooth_px > 0:
        od_max = gaussian_smooth(od_max, smooth_px)
    return od_max > od_threshold


def _kind(model: StainModel) -> str:
    return "shg" if model.collagen is None else "brightfield"


def collagen_histogram(channel: np.ndarray, tissue: np.ndarray, model: StainModel) -> np.ndarray:
    """Counts of the collagen channel inside tissue in fixed bins (poolable across tiles)."""
    hi = _HIST_RANGE[_kind(model)]
    values = np.clip(channel[tissue], 0.0, hi)
    return np.histogram(values, bins=_HIST_BINS, range=(0.0, hi))[0].astype(np.int64)


def threshold_from_histogram(counts: np.ndarray, model: StainModel) -> float:
    """Otsu's threshold of a :func:`collagen_histogram`, floored at :data:`MIN_THRESHOLD`."""
    kind = _kind(model)
    floor = MIN_THRESHOLD[kind]
    counts = np.asarray(counts)
    if counts.sum() == 0 or np.count_nonzero(counts) < 2:
        return floor
    hi = _HIST_RANGE[kind]
    centres = (np.arange(_HIST_BINS) + 0.5) * hi / _HIST_BINS
    return float(max(threshold_otsu(hist=(counts, centres)), floor))
