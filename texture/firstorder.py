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


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


def _statistics(x: np.ndarray) -> dict[str, float]:
    """The 18 statistics shared (with different names) by IBSI 3.3 and 3.4, in IBSI 3.3 order."""
    mean = x.mean()
    centred = x - mean
    variance = float((centred**2).mean())
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    return {
        "mean": float(mean),
        "variance": variance,
        "skewness": _ratio(float((centred**3).mean()), variance**1.5),
        "kurtosis": _ratio(float((centred**4).mean()), variance**2) - (3.0 if variance > 0 else 0),
        "median": float(median),
        "minimum": float(x.min()),
        "p10": float(p10),
        "p90": float(p90),
        "maximum": float(x.max()),
        "iqr": float(p75 - p25),
        "range": float(x.max() - x.min()),
        "mad": float(np.abs(centred).mean()),
        "robust_mad": float(np.abs(robust - robust.mean()).mean()),
        "medad": float(np.abs(x - median).mean()),
        "cov": _ratio(np.sqrt(variance), float(mean)),
        "qcod": _ratio(float(p75 - p25), float(p75 + p25)),
        "energy": float((x**2).sum()),
        "rms": float(np.sqrt((x**2).mean())),
    }


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
    values = image[mask].astype(np.float64)
    codes, n_levels = discretise(image, mask=mask, levels=levels)
    grey = codes[mask].astype(np.float64) + 1.0

    raw = _statistics(values)
    disc = _statistics(grey)
    features = dict(zip(INTENSITY_STATISTICS, raw.values(), strict=True))

    counts = np.bincount(grey.astype(np.int64) - 1, minlength=n_levels).astype(np.float64)
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
