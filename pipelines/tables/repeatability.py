"""Repeatability of each metric: the catalogue's default, a run's own estimate, and which one is used.

Defaults live in the metric catalogue (:mod:`pipelines.tables.catalogue`), per metric, with their
source: VISIA repeatability (Henseler) for analogous photo features, documented assumptions elsewhere,
none for histology. A run with repeat captures (several images of one subject x region x modality x
stain x session) estimates its own repeatability, pooled over those groups with its degrees of freedom
(:func:`pipelines.tables.statistics.pooled_repeatability`); the estimate replaces the default only with
>= 2 captures in >= 10 subjects, and never goes below it
(:func:`pipelines.tables.statistics.combine_repeatability`).

``SYNTHETIC_CV`` is what the project's own validation measured (``docs/make_repeatability_table.py``,
table in ``docs/repeatability.md``): the same synthetic skin re-rendered with new sensor noise and a flash
exposure of 0.97-1.03, exposure-normalised as the pipeline does, measured again; mean CV over 4 skins x 6
captures. It contains sensor noise and exposure only, not repositioning, skin state or lighting geometry,
so it is a lower bound for real captures, kept for reference: every catalogue default is at or above it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.tables.catalogue import CATALOGUE, is_known, lookup
from pipelines.tables.metrics import GROUP_COLUMNS
from pipelines.tables.statistics import (
    RepeatabilityEstimate,
    combine_repeatability,
    pooled_repeatability,
)
from pipelines.tables.statistics import smallest_real_difference as _srd

__all__ = [
    "DEFAULT_REPEATABILITY_CV",
    "SYNTHETIC_CV",
    "SRD_FACTOR",
    "Repeatability",
    "smallest_real_difference",
    "repeatability_estimates",
    "repeatability_from_repeats",
    "repeatability_for_run",
]

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

#: The catalogue's default CVs of photo metrics on ratio and count scales (interval, axial and fraction
#: metrics have absolute SDs instead: see the catalogue).
DEFAULT_REPEATABILITY_CV: dict[str, float] = {
    m.name: m.repeatability
    for m in CATALOGUE
    if m.repeatability is not None and m.repeatability_kind == "cv" and not m.is_pattern
}

#: SRD = SRD_FACTOR * SD for single captures: 1.96 for a 95 % interval, sqrt(2) because a change is the
#: difference of two measurements that each carry the repeatability error (Weir 2005).
SRD_FACTOR = 1.96 * math.sqrt(2.0)


def smallest_real_difference(baseline, cv):
    """Smallest real difference of a ratio-scale metric from single captures, in the metric's unit.

    ``SRD = 1.96 * sqrt(2) * CV * |baseline|`` (Weir, J Strength Cond Res 2005). The general formula
    (any scale, averaged captures, the count floor) is
    :func:`pipelines.tables.statistics.smallest_real_difference`, which this calls.

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
    sd = np.abs(np.asarray(cv, dtype=float) * np.asarray(baseline, dtype=float))
    out = np.vectorize(lambda s: _srd(float(s)), otypes=[float])(sd)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Repeatability:
    """The repeatability used for one metric and modality.

    Attributes
    ----------
    value : float or None
        CV, SD (metric unit) or SD in percentage points, as the catalogue's kind for the metric.
    source : str
        ``default`` (the catalogue's, see docs/metrics.md), ``run estimate (df = .., n subjects)``,
        ``default floor (...)``, ``given`` or ``none``.
    estimate : RepeatabilityEstimate or None
        The run's own estimate, usable or not.
    """

    value: float | None
    source: str
    estimate: RepeatabilityEstimate | None


def _repeat_rows(metrics: pd.DataFrame, modality: str) -> pd.DataFrame:
    """The rows of ``modality`` whose (group, session) holds more than one capture: the only rows a
    repeatability estimate can use (most runs have none, and then no column needs grouping)."""
    rows = metrics[metrics["modality"] == modality]
    sizes = rows.groupby([*GROUP_COLUMNS, "session"], dropna=False, sort=False)["session"].transform("size")
    return rows[sizes.to_numpy() >= 2]


def _groups(rows: pd.DataFrame, column: str) -> tuple[list[np.ndarray], list[object]]:
    keys = [*GROUP_COLUMNS, "session"]
    groups, subjects = [], []
    for key, values in rows.groupby(keys, dropna=False)[column]:
        v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
        if v.size >= 2:
            groups.append(v)
            subjects.append(key[0])
    return groups, subjects


def repeatability_estimates(
    metrics: pd.DataFrame, columns: Mapping[str, str] | None = None
) -> dict[tuple[str, str], RepeatabilityEstimate]:
    """The run's own pooled repeatability per (column, modality), from groups of repeat captures.

    ``columns`` maps each column to the catalogue column that defines its scale (default: every
    catalogued numeric column with a repeatability kind, mapped to itself)."""
    out: dict[tuple[str, str], RepeatabilityEstimate] = {}
    if metrics.empty or "modality" not in metrics:
        return out
    if columns is None:
        columns = {c: c for c in metrics.columns if is_known(c) and lookup(c).repeatability_kind}
    repeats = {m: _repeat_rows(metrics, m) for m in sorted(metrics["modality"].dropna().unique())}
    repeats = {m: rows for m, rows in repeats.items() if not rows.empty}
    for column, defining in columns.items():
        scale = lookup(defining).scale
        for modality, rows in repeats.items():
            groups, subjects = _groups(rows, column)
            if groups:
                out[(column, modality)] = pooled_repeatability(groups, subjects, scale=scale)
    return out


def repeatability_from_repeats(metrics: pd.DataFrame) -> dict[str, float]:
    """Pooled repeatability per metric from the run's repeat captures, usable or not (the changes
    table uses an estimate only with enough subjects; see :func:`repeatability_for_run`)."""
    return {column: est.value for (column, _), est in repeatability_estimates(metrics).items()}


def repeatability_for_run(
    metrics: pd.DataFrame, columns: Mapping[str, str], *, overrides: Mapping[str, float] | None = None
) -> dict[tuple[str, str], Repeatability]:
    """The repeatability each (column, modality) of a run uses, with its source.

    Parameters
    ----------
    metrics : DataFrame
        The metrics table.
    columns : mapping
        Column -> the catalogue column that defines it (itself, or the physical twin of a ``_px``
        column).
    overrides : mapping, optional
        Values given by the caller (same kind as the catalogue's), used as they are.
    """
    overrides = dict(overrides or {})
    estimates = repeatability_estimates(metrics, columns)
    modalities = sorted(metrics["modality"].dropna().unique()) if "modality" in metrics else []
    out: dict[tuple[str, str], Repeatability] = {}
    for column, defining in columns.items():
        entry = lookup(defining)
        for modality in modalities:
            estimate = estimates.get((column, modality))
            if column in overrides:
                out[(column, modality)] = Repeatability(float(overrides[column]), "given", estimate)
                continue
            value, source = combine_repeatability(entry.default_repeatability(modality), estimate)
            out[(column, modality)] = Repeatability(value, source, estimate)
    return out
