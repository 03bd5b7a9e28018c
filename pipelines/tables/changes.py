"""Per-session changes of every metric against the baseline and the previous session (``changes.csv``).

Change statistics
-----------------
For each subject x region x modality x stain x metric, the value of a session is the mean over its images
(repeat captures). The baseline is session 0, or the earliest session present. ``delta = value - baseline``,
``pct_change = 100 * delta / |baseline|``; the same against the previous session present. Orientation
angles (``collagen_orientation_deg``) are axial: their deltas are wrapped into [-90, 90) and have no % change.

A change is ``beyond_repeatability`` when ``|delta|`` exceeds the smallest real difference
``SRD = 1.96 * sqrt(2) * CV * |baseline|`` (Weir, J Strength Cond Res 2005;19:231; Beckerman et al.,
Clin Rehabil 2001;15:558), where CV is the metric's repeatability coefficient of variation: estimated from
repeat captures in the same session when the run has them (root-mean-square of the within-session CVs),
otherwise taken from :data:`pipelines.tables.repeatability.DEFAULT_REPEATABILITY_CV`, measured by the
project's own validation. Without a CV, the flag is empty.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.tables.metrics import GROUP_COLUMNS, metric_columns
from pipelines.tables.repeatability import (
    DEFAULT_REPEATABILITY_CV,
    repeatability_from_repeats,
    smallest_real_difference,
)

__all__ = ["CHANGES_COLUMNS", "AXIAL_METRICS", "changes_table", "baseline_sessions"]

CHANGES_COLUMNS = (
    "subject",
    "region",
    "modality",
    "stain",
    "metric",
    "session",
    "date",
    "days_from_baseline",
    "value",
    "baseline_value",
    "delta",
    "pct_change",
    "previous_value",
    "delta_previous",
    "pct_change_previous",
    "repeatability_cv",
    "beyond_repeatability",
)
#: Axial angles in [0, 180): differences wrap, ratios are meaningless.
AXIAL_METRICS = frozenset({"collagen_orientation_deg"})


def changes_table(
    metrics: pd.DataFrame, *, repeatability_cv: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Long table of per-session values and their changes against baseline and the previous session.

    Parameters
    ----------
    metrics : DataFrame
        A metrics table (see :func:`metrics_table`).
    repeatability_cv : mapping, optional
        CV per metric; default: estimated from repeats in ``metrics`` where present, else the default
        table.
    """
    columns = metric_columns(metrics) if not metrics.empty else []
    if not columns:
        return pd.DataFrame(columns=list(CHANGES_COLUMNS))
    cv_table = dict(DEFAULT_REPEATABILITY_CV)
    cv_table.update(repeatability_from_repeats(metrics) if repeatability_cv is None else repeatability_cv)
    keys = [*GROUP_COLUMNS, "metric"]
    frame = metrics[[*GROUP_COLUMNS, "session", "date", *columns]].copy()
    frame["date"] = frame["date"].replace("", np.nan)
    long = frame.melt(id_vars=[*GROUP_COLUMNS, "session", "date"], var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    # One value per session: the mean over repeat captures; the session's date is its earliest.
    per = (
        long.groupby([*keys, "session"], dropna=False, sort=True)
        .agg(value=("value", "mean"), date=("date", "min"))
        .reset_index()
    )
    per = per[per["value"].notna()].reset_index(drop=True)
    if per.empty:
        return pd.DataFrame(columns=list(CHANGES_COLUMNS))
    grouped = per.groupby(keys, dropna=False, sort=False)
    has_zero = grouped["session"].transform(lambda s: bool((s == 0).any()))
    base_session = np.where(has_zero, 0, grouped["session"].transform("min"))
    is_base = per["session"].to_numpy() == base_session
    base = per["value"].where(is_base).groupby([per[k] for k in keys], dropna=False).transform("first")
    base_date = per["date"].where(is_base).groupby([per[k] for k in keys], dropna=False).transform("first")
    previous = grouped["value"].shift(1)

    value = per["value"].to_numpy(dtype=float)
    base_v = base.to_numpy(dtype=float)
    prev_v = previous.to_numpy(dtype=float)
    axial = per["metric"].isin(AXIAL_METRICS).to_numpy()
    delta = np.where(axial, (value - base_v + 90.0) % 180.0 - 90.0, value - base_v)
    delta_prev = np.where(axial, (value - prev_v + 90.0) % 180.0 - 90.0, value - prev_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(axial | (base_v == 0), np.nan, 100.0 * delta / np.abs(base_v))
        pct_prev = np.where(axial | (prev_v == 0), np.nan, 100.0 * delta_prev / np.abs(prev_v))
    cv = per["metric"].map(lambda m: cv_table.get(m, np.nan)).to_numpy(dtype=float)
    srd = smallest_real_difference(base_v, cv)
    beyond = pd.array(np.abs(delta) > srd, dtype="boolean")
    beyond[~np.isfinite(srd)] = pd.NA
    beyond[is_base] = False
    days = (pd.to_datetime(per["date"]) - pd.to_datetime(base_date)).dt.total_seconds() / 86400.0

    out = per[[*GROUP_COLUMNS, "metric", "session"]].copy()
    out["session"] = out["session"].astype("int64")
    out["date"] = per["date"].fillna("")
    out["days_from_baseline"] = days.to_numpy(dtype=float)
    out["value"] = value
    out["baseline_value"] = base_v
    out["delta"] = delta
    out["pct_change"] = pct
    out["previous_value"] = prev_v
    out["delta_previous"] = delta_prev
    out["pct_change_previous"] = pct_prev
    out["repeatability_cv"] = cv
    out["beyond_repeatability"] = beyond
    # Metric-major order, as a reader scans one metric's series at a time.
    order = {m: i for i, m in enumerate(columns)}
    out = out.sort_values(
        ["metric", *GROUP_COLUMNS, "session"], key=lambda c: c.map(order) if c.name == "metric" else c
    )
    return out[list(CHANGES_COLUMNS)].reset_index(drop=True)


def baseline_sessions(changes: pd.DataFrame) -> pd.Series:
    """Per row, the session that served as that row's baseline (the group's earliest, 0 if present)."""
    grouped = changes.groupby([*GROUP_COLUMNS, "metric"], dropna=False)["session"]
    has_zero = grouped.transform(lambda s: bool((s == 0).any()))
    return pd.Series(np.where(has_zero, 0, grouped.transform("min")), index=changes.index)
