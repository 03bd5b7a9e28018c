"""Default repeatability (coefficient of variation) of each metric, for runs without repeat captures.

``SYNTHETIC_CV`` is what the project's own validation measured (``docs/make_repeatability_table.py``,
table in ``docs/repeatability.md``): the same synthetic skin re-rendered with new sensor noise and a flash
exposure of 0.97-1.03, exposure-normalised as the pipeline does, measured again; mean CV over 4 skins x 6
captures. It contains sensor noise and exposure only, not repositioning, skin state or lighting geometry,
so it is a lower bound for real captures. The default therefore never goes below
``REAL_CAPTURE_FLOOR_CV`` = 2 %, the low end of the 2-6 % repeatability reported for a commercial
facial imaging system (VISIA) on repeat captures. A run with repeat captures in the same session
estimates its own CVs (``pipelines.tables.changes.repeatability_from_repeats``), which then replace these.
Histology metrics have no default: their flag stays empty unless a run has repeat sections.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.tables.metrics import GROUP_COLUMNS, metric_columns

__all__ = [
    "DEFAULT_REPEATABILITY_CV",
    "SYNTHETIC_CV",
    "REAL_CAPTURE_FLOOR_CV",
    "SRD_FACTOR",
    "smallest_real_difference",
    "repeatability_from_repeats",
]

REAL_CAPTURE_FLOOR_CV = 0.02

SYNTHETIC_CV: dict[str, float] = {
    "erythema_index": 0.0107,
    "glcm_angular_second_moment": 0.0120,
    "glcm_contrast": 0.0040,
    "glcm_correlation": 0.0010,
    "glcm_inverse_difference_moment": 0.0038,
    "ita_deg": 0.0003,
    "melanin_index": 0.0064,
    "pigment_evenness": 0.0017,
    "pore_area_fraction": 0.0010,
    "pore_count": 0.0000,
    "pore_density_per_cm2": 0.0000,
    "pore_mean_diameter_mm": 0.0006,
    "spot_area_fraction": 0.0142,
    "spot_count": 0.0360,
    "texture_roughness": 0.0022,
    "wrinkle_count": 0.0000,
    "wrinkle_length_mm_per_cm2": 0.0042,
    "wrinkle_mean_width_mm": 0.0055,
}

DEFAULT_REPEATABILITY_CV: dict[str, float] = {
    metric: max(cv, REAL_CAPTURE_FLOOR_CV) for metric, cv in SYNTHETIC_CV.items()
}


def repeatability_from_repeats(metrics: pd.DataFrame) -> dict[str, float]:
    """Repeatability CV per metric from repeat captures (several images of one subject, region and
    session): the root-mean-square of the within-session CVs (SD with ddof=1 over |mean|)."""
    out: dict[str, float] = {}
    if metrics.empty:
        return out
    keys = [*GROUP_COLUMNS, "session"]
    for metric in metric_columns(metrics):
        cvs = []
        for _, values in metrics.groupby(keys, dropna=False)[metric]:
            values = values.dropna()
            if len(values) >= 2 and values.mean() != 0:
                cvs.append(values.std(ddof=1) / abs(values.mean()))
        if cvs:
            out[metric] = float(np.sqrt(np.mean(np.square(cvs))))
    return out


#: SRD = SRD_FACTOR * CV * |baseline|: 1.96 for a 95 % interval, sqrt(2) because a change is the
#: difference of two measurements that each carry the repeatability error (Bland & Altman 1986).
SRD_FACTOR = 1.96 * math.sqrt(2.0)


def smallest_real_difference(baseline, cv):
    """Smallest real difference of a metric, in the metric's unit.

    ``SRD = 1.96 * sqrt(2) * CV * |baseline|``: a change from baseline larger than this exceeds
    the 95 % limits of the measurement's own repeatability (Bland & Altman 1986; Weir 2005).

    Parameters
    ----------
    baseline : float or array_like
        The metric's value at baseline.
    cv : float or array_like
        Repeatability coefficient of variation as a fraction (0.05 for 5 %).

    Returns
    -------
    float or ndarray
        The SRD (>= 0), NaN where either input is missing; an array for array input.
    """
    if baseline is None or cv is None:
        return math.nan
    if np.ndim(baseline) == 0 and np.ndim(cv) == 0:
        return SRD_FACTOR * abs(float(cv) * float(baseline))
    return SRD_FACTOR * np.abs(np.asarray(cv, dtype=float) * np.asarray(baseline, dtype=float))
