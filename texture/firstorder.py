"""IBSI first-order features: intensity-based statistics and intensity histogram features.

Definitions follow the IBSI reference manual, sections 3.3 (intensity-based statistics, on the raw
intensities) and 3.4 (intensity histogram, on discretised grey levels); Zwanenburg et al.,
Radiology 2020; https://ibsi.readthedocs.io/en/latest/03_Image_features.html. All pixels (voxels)
inside the mask are pooled, whether the image is 2D or a stack (IBSI first-order features are not
aggregated per slice).

Conventions: variance, skewness and kurtosis use the population (1/N) moments; percentiles use
numpy's default linear interpolation; entropy in bits (log2). The histogram gradient is the central
difference, one-sided at the first and last grey level (IBSI). A constant ROI gives 0 for
skewness and excess kurtosis (instead of 0/0) and 0 for the coefficients of variation and
dispersion when the mean is 0.
"""

from __future__ import annotations

import numpy as np

from texture._compat import positional_deprecated
from texture.discretisation import discretise, validate_stack

#: IBSI intensity-based statistics (keys of :func:`firstorder_features` without ``firstorder_``).
INTENSITY_STATISTICS: tuple[str, ...] = (
    "mean_intensity",
    "intensity_variance",
    "intensity_skewness",
    "excess_intensity_kurtosis",
    "median_intensity",
    "minimum_intensity",
    "10th_intensity_percentile",
    "90th_intensity_percentile",
    "maximum_intensity",
    "intensity_interquartile_range",
    "intensity_range",
    "intensity_based_mean_absolute_deviation",
    "intensity_based_robust_mean_absolute_deviation",
    "intensity_based_median_absolute_deviation",
    "intensity_based_coefficient_of_variation",
    "intensity_based_quartile_coefficient_of_dispersion",
    "intensity_based_energy",
    "root_mean_square_intensity",
)

#: IBSI intensity histogram features (keys without ``firstorder_``).
INTENSITY_HISTOGRAM: tuple[str, ...] = (
    "mean_discretised_intensity",
    "discretised_intensity_variance",
    "discretised_intensity_skewness",
    "excess_discretised_intensity_kurtosis",
    "median_discretised_intensity",
    "minimum_discretised_intensity",
    "10th_discretised_intensity_percentile",
    "90th_discretised_intensity_percentile",
    "maximum_discretised_intensity",
    "intensity_histogram_mode",
    "discretised_intensity_interquartile_range",
    "discretised_intensity_range",
    "intensity_histogram_mean_absolute_deviation",
    "intensity_histogram_robust_mean_absolute_deviation",
    "intensity_histogram_median_absolute_deviation",
    "intensity_histogram_coefficient_of_variation",
    "intensity_histogram_quartile_coefficient_of_dispersion",
    "discretised_intensity_entropy",
    "discretised_intensity_uniformity",
    "maximum_histogram_gradient",
    "maximum_histogram_gradient_intensity",
    "minimum_histogram_gradient",
    "minimum_histogram_gradient_intensity",
)


# The keys of the statistics helpers, in IBSI 3.3 order (zipped with INTENSITY_STATISTICS).
_KEYS = (
    "mean",
    "variance",
    "skewness",
    "kurtosis",
    "median",
    "minimum",
    "p10",
    "p90",
    "maximum",
    "iqr",
    "range",
    "mad",
    "robust_mad",
    "medad",
    "cov",
    "qcod",
    "energy",
    "rms",
)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


_PERCENTILES = np.array([10.0, 25.0, 50.0, 75.0, 90.0])


def _sorted_percentiles(ranks: np.ndarray, value_at) -> np.ndarray:
    """numpy's default ("linear") percentiles 10, 25, 50, 75, 90 of a sample of ``ranks`` values,
    given ``value_at(k)``, the k-th smallest values (k an integer array). Same arithmetic as
    ``numpy.percentile`` (virtual index (n - 1) q, and its two-sided lerp), so bit-identical."""
    virtual = (ranks - 1) * (_PERCENTILES / 100.0)
    previous = np.floor(virtual)
    gamma = virtual - previous
    previous = previous.astype(np.int64)
    below = value_at(previous)
    above = value_at(np.minimum(previous + 1, ranks - 1))
    difference = above - below
    return np.where(gamma >= 0.5, above - difference * (1.0 - gamma), below + difference * gamma)


def _moments(
    mean: float, variance: float, third: float, fourth: float, p: np.ndarray, lo: float, hi: float
) -> dict[str, float]:
    p10, p25, median, p75, p90 = (float(v) for v in p)
    return {
        "mean": float(mean),
        "variance": variance,
        "skewness": _ratio(third, variance * np.sqrt(variance)),
        "kurtosis": _ratio(fourth, variance * variance) - (3.0 if variance > 0 else 0),
        "median": median,
        "minimum": lo,
        "p10": p10,
        "p90": p90,
        "maximum": hi,
        "iqr": p75 - p25,
        "range": hi - lo,
        "cov": _ratio(np.sqrt(variance), float(mean)),
        "qcod": _ratio(p75 - p25, p75 + p25),
    }


def _pixel_statistics(x: np.ndarray) -> dict[str, float]:
    """The 18 statistics shared (with different names) by IBSI 3.3 and 3.4, from the pixel values.

    Powers are products of the centred values (``c2 * c`` instead of ``c**3``: numpy's ``**`` with
    exponents 3 and 4 calls ``pow`` per element, 5-10x slower; values equal within float rounding).
    """
    mean = x.mean()
    centred = x - mean
    squared = centred * centred
    variance = float(squared.mean())
    third = float((squared * centred).mean())
    squared *= squared
    fourth = float(squared.mean())
    order = np.sort(x)
    p = _sorted_percentiles(x.size, lambda k: order[k])
    out = _moments(mean, variance, third, fourth, p, float(order[0]), float(order[-1]))
    robust = order[np.searchsorted(order, p[0], "left") : np.searchsorted(order, p[4], "right")]
    np.abs(centred, out=centred)
    energy = float(np.dot(x, x))
    out |= {
        "mad": float(centred.mean()),
        "robust_mad": float(np.abs(robust - robust.mean()).mean()),
        "medad": float(np.abs(x - p[2]).mean()),
        "energy": energy,
        "rms": float(np.sqrt(energy / x.size)),
    }
    return {key: out[key] for key in _KEYS}


def _histogram_statistics(values: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """As :func:`_pixel_statistics` for a sample given as distinct ``values`` (ascending) and their
    ``counts`` (> 0): integer images and discretised grey levels, with at most a few thousand
    distinct values, need no per-pixel arithmetic. Equal to the per-pixel statistics within float
    rounding (sums are taken in another order; order statistics and, for integers, the mean and
    energy are exact)."""
    counts = counts.astype(np.float64)
    n = counts.sum()
    mean = float(counts @ values) / n
    centred = values - mean
    squared = centred * centred
    variance = float(counts @ squared) / n
    third = float(counts @ (squared * centred)) / n
    fourth = float(counts @ (squared * squared)) / n
    cumulative = np.cumsum(counts)
    p = _sorted_percentiles(int(n), lambda k: values[np.searchsorted(cumulative, k, "right")])
    out = _moments(mean, variance, third, fourth, p, float(values[0]), float(values[-1]))
    robust = (values >= p[0]) & (values <= p[4])
    robust_counts, robust_values = counts[robust], values[robust]
    robust_mean = float(robust_counts @ robust_values) / robust_counts.sum()
    energy = float(counts @ (values * values))
    out |= {
        "mad": float(counts @ np.abs(centred)) / n,
        "robust_mad": float(robust_counts @ np.abs(robust_values - robust_mean)) / robust_counts.sum(),
        "medad": float(counts @ np.abs(values - p[2])) / n,
        "energy": energy,
        "rms": float(np.sqrt(energy / n)),
    }
    return {key: out[key] for key in _KEYS}


def _intensity_statistics(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Statistics of the raw intensities: from a histogram for integer images spanning at most
    65536 values (one ``bincount`` pass), from the pixels otherwise."""
    values = image.reshape(-1) if mask.all() else image[mask]
    if image.dtype.kind in "ui":
        lo, hi = int(values.min()), int(values.max())
        if hi - lo <= 65535:
            counts = np.bincount((values - lo).astype(np.intp, copy=False), minlength=hi - lo + 1)
            present = counts > 0
            levels = np.arange(lo, hi + 1, dtype=np.float64)[present]
            return _histogram_statistics(levels, counts[present])
    return _pixel_statistics(values.astype(np.float64))


@positional_deprecated("mask")
def firstorder_features(
    image: np.ndarray, *, mask: np.ndarray | None = None, levels: int | None = None
) -> dict[str, float]:
    """IBSI intensity-based statistics and intensity histogram features of the masked pixels.

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Intensities (any real scale; the statistics are in the image's units).
    mask : ndarray of bool, same shape, optional
        Region of interest. Default: the whole image.
    levels : int, optional
        Discretisation for the histogram features: None means the image already holds integer grey
        levels 1..Ng; an integer means IBSI fixed bin number over the masked min-max range.

    Returns
    -------
    dict
        ``firstorder_<IBSI name>`` -> value: the 18 intensity statistics
        (:data:`INTENSITY_STATISTICS`) then the 23 histogram features (:data:`INTENSITY_HISTOGRAM`).

    Raises
    ------
    ValueError
        Bad shapes, empty mask, NaN inside the mask, or ``levels=None`` with non-integer values.
    """
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask=mask, levels=levels)
    raw = _intensity_statistics(image, mask)
    features = dict(zip(INTENSITY_STATISTICS, raw.values(), strict=True))

    # The discretised statistics come from the grey-level histogram (Ng bins), not the pixels.
    inside = codes.reshape(-1) if mask.all() else codes[mask]
    counts = np.bincount(inside, minlength=n_levels).astype(np.float64)
    present = counts > 0
    disc = _histogram_statistics(np.flatnonzero(present) + 1.0, counts[present])
    p = counts / counts.sum()
    nz = p[p > 0]
    gradient = np.gradient(counts) if n_levels > 1 else np.zeros(1)
    histogram = {
        "mean_discretised_intensity": disc["mean"],
        "discretised_intensity_variance": disc["variance"],
        "discretised_intensity_skewness": disc["skewness"],
        "excess_discretised_intensity_kurtosis": disc["kurtosis"],
        "median_discretised_intensity": disc["median"],
        "minimum_discretised_intensity": disc["minimum"],
        "10th_discretised_intensity_percentile": disc["p10"],
        "90th_discretised_intensity_percentile": disc["p90"],
        "maximum_discretised_intensity": disc["maximum"],
        # Ties go to the lowest grey level.
        "intensity_histogram_mode": float(np.argmax(counts) + 1),
        "discretised_intensity_interquartile_range": disc["iqr"],
        "discretised_intensity_range": disc["range"],
        "intensity_histogram_mean_absolute_deviation": disc["mad"],
        "intensity_histogram_robust_mean_absolute_deviation": disc["robust_mad"],
        "intensity_histogram_median_absolute_deviation": disc["medad"],
        "intensity_histogram_coefficient_of_variation": disc["cov"],
        "intensity_histogram_quartile_coefficient_of_dispersion": disc["qcod"],
        "discretised_intensity_entropy": float(-(nz * np.log2(nz)).sum()),
        "discretised_intensity_uniformity": float((p**2).sum()),
        "maximum_histogram_gradient": float(gradient.max()),
        "maximum_histogram_gradient_intensity": float(np.argmax(gradient) + 1),
        "minimum_histogram_gradient": float(gradient.min()),
        "minimum_histogram_gradient_intensity": float(np.argmin(gradient) + 1),
    }
    features.update(histogram)
    return {f"firstorder_{name}": value for name, value in features.items()}
