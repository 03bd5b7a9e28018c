"""Paired baselines and colour calibration: what ``changes.csv`` compares a follow-up with.

Paired baselines
----------------
A follow-up photo registered to its baseline is measured on the skin both photos show (the common region,
:mod:`pipelines.assays.alignment`), and the baseline photo is measured again on that same region. The
follow-up's analysis returns those re-measured values as the extra table ``paired_baseline``
(``paired_baseline.csv``: the follow-up's identity, ``metric``, ``baseline_value``, ``baseline_file``).
``metrics.csv`` keeps each image's own measurement: the baseline on its whole ROI, a follow-up on its
common region. In ``changes.csv`` a follow-up session's ``baseline_value`` is the mean of its captures'
paired baselines when it has them (:func:`paired_baseline_values`), else the baseline session's own value
(a follow-up that could not be aligned: its warning row in ``errors.csv`` says so). An identical copy of
the baseline therefore reads exactly 0 change in every metric.

Colour calibration
------------------
ITA, melanin and erythema indices are calibrated only when a ColorChecker corrected both the baseline and
the follow-up (``color_correction == "chart"``). Otherwise they are measured on the photos as taken (never
normalised to the baseline's skin, which would erase a real change of skin colour), and their change rows
carry :data:`UNCALIBRATED_NOTE` (:func:`color_calibration`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.tables.metrics import GROUP_COLUMNS

__all__ = [
    "COLOR_METRICS",
    "UNCALIBRATED_NOTE",
    "PAIRED_COLUMNS",
    "paired_baseline_values",
    "color_calibration",
    "color_uncalibrated",
]

#: Change rows of these metrics say whether the colour was calibrated.
COLOR_METRICS = frozenset({"ita_deg", "melanin_index", "erythema_index"})
UNCALIBRATED_NOTE = "colour uncalibrated: no colour chart in both photos, measured on the photos as taken"
#: Columns of the ``paired_baseline`` table that identify a follow-up's value.
PAIRED_COLUMNS = (*GROUP_COLUMNS, "session", "metric")


def paired_baseline_values(per: pd.DataFrame, paired: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Per row of ``per`` (group x metric x session), the mean paired baseline of that session's captures,
    and whether the session has one (False: the baseline session, unaligned follow-ups). A paired value
    may be NaN while present (no feature in the common region): the change is then NaN too, never a
    comparison with the baseline's whole ROI.

    Parameters
    ----------
    per : DataFrame
        Columns ``subject``, ``region``, ``modality``, ``stain``, ``metric``, ``session``.
    paired : DataFrame or None
        The ``paired_baseline`` table (columns of :data:`PAIRED_COLUMNS` and ``baseline_value``).
    """
    out = pd.Series(np.nan, index=per.index, dtype=float)
    present = pd.Series(False, index=per.index, dtype=bool)
    if paired is None or paired.empty or per.empty:
        return out, present
    missing = [c for c in (*PAIRED_COLUMNS, "baseline_value") if c not in paired.columns]
    if missing:
        raise ValueError(f"the paired baseline table lacks columns {missing}")
    table = paired[[*PAIRED_COLUMNS, "baseline_value"]].copy()
    for column in GROUP_COLUMNS:
        table[column] = table[column].fillna("").astype(str)
    table["session"] = table["session"].astype("int64")
    table["baseline_value"] = pd.to_numeric(table["baseline_value"], errors="coerce")
    grouped = table.groupby(list(PAIRED_COLUMNS), dropna=False)["baseline_value"]
    means, sizes = grouped.mean(), grouped.size()
    keys = per[list(PAIRED_COLUMNS)].copy()
    for column in GROUP_COLUMNS:
        keys[column] = keys[column].fillna("").astype(str)
    keys["session"] = keys["session"].astype("int64")
    index = pd.MultiIndex.from_frame(keys)
    values = pd.Series(means.reindex(index).to_numpy(dtype=float), index=per.index)
    present = pd.Series(sizes.reindex(index).fillna(0).to_numpy() > 0, index=per.index)
    return values, present


def color_uncalibrated(calibration: dict[tuple, bool], group: tuple, sessions: tuple[int, ...]) -> bool:
    """True unless every one of ``sessions`` of ``group`` (subject, region, modality, stain) was
    chart-corrected (``calibration`` from :func:`color_calibration`)."""
    return not all(calibration.get((*group, int(s)), False) for s in sessions)


def color_calibration(metrics: pd.DataFrame) -> dict[tuple, bool]:
    """(subject, region, modality, stain, session) -> True when every capture of that session was
    chart-corrected (``color_correction == "chart"``)."""
    if metrics.empty or "color_correction" not in metrics.columns:
        return {}
    frame = metrics[[*GROUP_COLUMNS, "session"]].copy()
    frame["chart"] = metrics["color_correction"].astype(str).eq("chart")
    grouped = frame.groupby([*GROUP_COLUMNS, "session"], dropna=False)["chart"].all()
    return {key: bool(value) for key, value in grouped.items()}
