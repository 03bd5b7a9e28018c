"""Shape descriptors of labelled regions from second moments (private helpers of pores and spots)."""

from __future__ import annotations

import numpy as np

__all__ = ["shapes_from_pixels", "moments_from_pixels", "component_shapes"]


def shapes_from_pixels(
    rr: np.ndarray, cc: np.ndarray, lab: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, elongation and ellipse fill of labels 0..n-1 from their pixels' coordinates (second moments)."""
    area, _, _, elongation, fill = moments_from_pixels(rr, cc, lab, n)
    return area, elongation, fill


def moments_from_pixels(
    rr: np.ndarray, cc: np.ndarray, lab: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Area, centroid row and column, elongation and ellipse fill of labels 0..n-1 from their pixels'
    coordinates (second moments). The centroid of an empty label is 0."""
    area = np.bincount(lab, minlength=n).astype(np.float64)
    safe = np.maximum(area, 1.0)
    r, c = rr.astype(np.float64), cc.astype(np.float64)
    mr = np.bincount(lab, r, n) / safe
    mc = np.bincount(lab, c, n) / safe
    # Central moments of a pixelised shape, plus 1/12 for the extent of each pixel.
    vr = np.bincount(lab, r * r, n) / safe - mr**2 + 1 / 12
    vc = np.bincount(lab, c * c, n) / safe - mc**2 + 1 / 12
    vrc = np.bincount(lab, r * c, n) / safe - mr * mc
    half_trace = (vr + vc) / 2
    root = np.sqrt(np.maximum(((vr - vc) / 2) ** 2 + vrc**2, 0.0))
    big, small = half_trace + root, np.maximum(half_trace - root, 1e-12)
    elongation = np.sqrt(big / small)
    fill = area / (4 * np.pi * np.sqrt(big * small))
    return area, mr, mc, elongation, fill


def component_shapes(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, elongation and ellipse fill of labels 1..n of a label image."""
    rr, cc = np.nonzero(labels)
    area, elongation, fill = shapes_from_pixels(rr, cc, labels[rr, cc], n + 1)
    return area[1:], elongation[1:], fill[1:]
