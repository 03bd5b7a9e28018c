"""Per-session changes of outcome metrics against the baseline and the previous session (``changes.csv``).

Which columns, and how, is read from the metric catalogue (:mod:`pipelines.tables.catalogue`): only
outcome columns with a ratio, interval, count, axial or fraction scale have changes. Quality-control
columns (``_px`` twins, exposure gain, thresholds, areas measured) go to ``qc.csv``
(:func:`pipelines.tables.qc.qc_table`), descriptive ones (an orientation relative to the image frame of
different biopsies) stay in ``metrics.csv``. A ``_px`` twin stands in for its physical column only when
the run has no value of that column at all (no scale); its ``note`` says so.

Change statistics
-----------------
For each subject x region x modality x stain x metric:

- the value of a session is the mean over its captures (``n_captures``), for axial angles their axial
  (circular, period 180 degrees) mean;
- the baseline is session 0, or the earliest session present (:func:`baseline_sessions`); a follow-up
  photo aligned to it is compared with its *paired baseline*, the baseline photo measured again on the
  skin both show (``paired_baselines``, :mod:`pipelines.tables.pairing`), so the same skin is measured the
  same way; colour indices without a chart in both sessions carry the note "colour uncalibrated";
- ``delta = value - baseline`` in ``delta_unit``: fractions in percentage points (``pp``), axial angles
  wrapped into [-90, 90); the same against the previous session present;
- ``pct_change = 100 * delta / |baseline|`` only for ratio and count scales against a baseline of at
  least 10 within-subject SDs (:func:`pipelines.tables.statistics.percent_change_note`), else empty with
  the reason in ``note``;
- ``beyond_repeatability`` when ``|delta| > srd``, the smallest real difference of the two session means
  (Weir, J Strength Cond Res 2005;19:231): ``1.96 * sqrt(SD**2 / k_baseline + SD**2 / k_session)``,
  where SD is the within-subject SD of one capture: CV x |baseline| for ratio scales, ``max(CV x
  |baseline|, 1)`` counts for counts (never below one count: 0 -> 1 is never flagged), an absolute SD
  for interval and axial scales and in percentage points for fractions
  (:mod:`pipelines.tables.statistics`). The repeatability is the catalogue's default for the modality,
  replaced by the run's own pooled estimate only with >= 2 captures in >= 10 subjects and never below
  the default (:mod:`pipelines.tables.repeatability`); ``repeatability_source`` says which. Without a
  repeatability the flag is empty and ``note`` says why.

The per-comparison flag is a 95 % rule: with m outcome metrics x s follow-ups per subject, about
0.05 x m x s changes per subject are flagged by chance even when nothing changed; cohort inference
(:mod:`pipelines.tables.cohort`) adjusts for multiplicity, this table does not.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.record import baseline_sessions_by_group
from pipelines.tables.catalogue import is_known, lookup
from pipelines.tables.metrics import GROUP_COLUMNS
from pipelines.tables.pairing import (
    COLOR_METRICS,
    UNCALIBRATED_NOTE,
    color_calibration,
    color_uncalibrated,
    paired_baseline_values,
)
from pipelines.tables.repeatability import repeatability_for_run
from pipelines.tables.statistics import (
    axial_mean,
    percent_change_note,
    sd_within,
    smallest_real_difference,
    wrap_axial,
)

__all__ = ["CHANGES_COLUMNS", "CHANGE_SCALES", "change_columns", "changes_table", "baseline_sessions"]

CHANGES_COLUMNS = (
    "subject",
    "region",
    "modality",
    "stain",
    "metric",
    "scale",
    "session",
    "date",
    "days_from_baseline",
    "n_captures",
    "value",
    "baseline_value",
    "delta",
    "delta_unit",
    "pct_change",
    "previous_value",
    "delta_previous",
    "pct_change_previous",
    "repeatability_cv",
    "repeatability_sd",
    "repeatability_source",
    "srd",
    "beyond_repeatability",
    "note",
)
#: Scales with change statistics.
CHANGE_SCALES = frozenset({"ratio", "interval", "count", "axial", "fraction"})


def _numeric(metrics: pd.DataFrame, column: str) -> bool:
    dtype = metrics[column].dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def change_columns(metrics: pd.DataFrame) -> dict[str, str]:
    """The columns of ``metrics`` that get changes, mapped to the catalogue column that defines them
    (themselves, or for a ``_px`` twin standing in for a physical column without any value, that column).

    Columns the catalogue does not know are left out (a test keeps the catalogue complete)."""
    out: dict[str, str] = {}
    for column in metrics.columns:
        if not is_known(column) or not _numeric(metrics, column):
            continue
        entry = lookup(column)
        if entry.role == "outcome" and entry.scale in CHANGE_SCALES:
            out[column] = column
        elif entry.twin_of is not None and is_known(entry.twin_of):
            physical = lookup(entry.twin_of)
            has_physical = entry.twin_of in metrics and metrics[entry.twin_of].notna().any()
            if physical.role == "outcome" and physical.scale in CHANGE_SCALES and not has_physical:
                out[column] = entry.twin_of
    return out


def _session_values(long: pd.DataFrame, keys: list[str], axial: set[str]) -> pd.DataFrame:
    """One row per group x session: mean (axial mean for axial metrics), capture count, earliest date."""
    grouped = long.groupby([*keys, "session"], dropna=False, sort=True)
    per = grouped.agg(value=("value", "mean"), n_captures=("value", "count"), date=("date", "min"))
    if axial:
        is_axial = long["metric"].isin(axial)
        if is_axial.any():
            ax = long[is_axial].groupby([*keys, "session"], dropna=False, sort=True)["value"].agg(axial_mean)
            per.loc[ax.index, "value"] = ax
    return per.reset_index()


def changes_table(
    metrics: pd.DataFrame,
    *,
    repeatability: Mapping[str, float] | None = None,
    repeatability_cv: Mapping[str, float] | None = None,
    paired_baselines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long table of per-session values and their changes against baseline and the previous session.

    Parameters
    ----------
    metrics : DataFrame
        A metrics table (:func:`pipelines.tables.metrics.metrics_table`).
    repeatability : mapping, optional
        Repeatability per metric in the catalogue's kind (CV for ratio and count scales, SD in the
        metric's unit for interval and axial scales, SD in percentage points for fractions); replaces
        the default and the run's estimate for those metrics.
    repeatability_cv : mapping, optional
        The former name of ``repeatability`` (a CV only for ratio and count scales).
    paired_baselines : DataFrame, optional
        The ``paired_baseline`` table of the run (:mod:`pipelines.tables.pairing`): a follow-up session
        with one is compared with the baseline measured again on the skin both photos show, instead of
        the baseline's own value. Colour indices without a chart in both sessions get the note
        :data:`pipelines.tables.pairing.UNCALIBRATED_NOTE`.
    """
    overrides = dict(repeatability_cv or {})
    overrides.update(repeatability or {})
    columns = change_columns(metrics) if not metrics.empty else {}
    if not columns:
        return pd.DataFrame(columns=list(CHANGES_COLUMNS))
    entries = {c: lookup(defining) for c, defining in columns.items()}
    keys = [*GROUP_COLUMNS, "metric"]
    frame = metrics[[*GROUP_COLUMNS, "session", "date", *columns]].copy()
    frame["date"] = frame["date"].replace("", np.nan)
    long = frame.melt(id_vars=[*GROUP_COLUMNS, "session", "date"], var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long = long[long["value"].notna()]
    if long.empty:
        return pd.DataFrame(columns=list(CHANGES_COLUMNS))
    axial = {c for c, e in entries.items() if e.scale == "axial"}
    per = _session_values(long, keys, axial)
    rep = repeatability_for_run(metrics, columns, overrides=overrides)

    grouped = per.groupby(keys, dropna=False, sort=False)
    base_of = baseline_sessions(per).to_numpy()
    is_base = per["session"].to_numpy() == base_of
    by_group = [per[k] for k in keys]
    base = per["value"].where(is_base).groupby(by_group, dropna=False).transform("first")
    # Same skin, measured the same way (pipelines.tables.pairing): a registered follow-up's baseline is
    # the baseline photo measured again on their common region.
    paired, has_pair = paired_baseline_values(per, paired_baselines)
    base = base.where(~(has_pair.to_numpy() & ~is_base), paired)
    calibration = color_calibration(metrics)
    base_n = per["n_captures"].where(is_base).groupby(by_group, dropna=False).transform("first")
    base_date = per["date"].where(is_base).groupby(by_group, dropna=False).transform("first")
    previous = grouped["value"].shift(1)
    days = (pd.to_datetime(per["date"]) - pd.to_datetime(base_date)).dt.total_seconds() / 86400.0

    rows = []
    for i, rec in enumerate(per.itertuples(index=False)):
        entry = entries[rec.metric]
        scale = entry.scale
        value, b, prev = float(rec.value), float(base.iat[i]), float(previous.iat[i])
        delta, delta_prev = value - b, value - prev
        if scale == "axial":
            delta, delta_prev = float(wrap_axial(delta)), float(wrap_axial(delta_prev))
        elif scale == "fraction":
            delta, delta_prev = 100.0 * delta, 100.0 * delta_prev
        notes = []
        group = (rec.subject, rec.region, rec.modality, rec.stain)
        if rec.metric in COLOR_METRICS and color_uncalibrated(calibration, group, (rec.session, base_of[i])):
            notes.append(UNCALIBRATED_NOTE)
        if columns[rec.metric] != rec.metric:
            notes.append(f"no scale in this run: pixel twin of {columns[rec.metric]}")
        r = rep.get((rec.metric, rec.modality))
        value_rep, source = (r.value, r.source) if r is not None else (None, "none")
        sd = sd_within(scale, value_rep, b)
        pct_note = percent_change_note(scale, b, sd)
        pct = 100.0 * delta / abs(b) if not pct_note else float("nan")
        prev_note = percent_change_note(scale, prev, sd_within(scale, value_rep, prev))
        pct_prev = 100.0 * delta_prev / abs(prev) if not prev_note else float("nan")
        if pct_note:
            notes.append(pct_note)
        k_base, k = int(base_n.iat[i]) if np.isfinite(base_n.iat[i]) else 1, int(rec.n_captures)
        srd = smallest_real_difference(sd, k_baseline=max(k_base, 1), k_followup=max(k, 1), scale=scale)
        if value_rep is None:
            notes.append("no repeatability for this metric: no flag")
            beyond = pd.NA
        elif not np.isfinite(srd) or srd <= 0:
            notes.append("baseline 0: a CV gives no smallest real difference")
            beyond = pd.NA
        else:
            beyond = bool(abs(delta) > srd) if not is_base[i] else False
        rows.append(
            {
                "scale": scale,
                "delta": delta,
                "delta_unit": entry.delta_unit,
                "pct_change": pct,
                "previous_value": prev,
                "delta_previous": delta_prev,
                "pct_change_previous": pct_prev,
                "repeatability_cv": value_rep if entry.repeatability_kind == "cv" and value_rep else np.nan,
                "repeatability_sd": sd,
                "repeatability_source": source,
                "srd": srd,
                "beyond_repeatability": beyond,
                "note": "; ".join(notes),
            }
        )
    extra = pd.DataFrame(rows, index=per.index)
    out = per[[*GROUP_COLUMNS, "metric", "session", "n_captures", "value"]].copy()
    out["session"] = out["session"].astype("int64")
    out["n_captures"] = out["n_captures"].astype("int64")
    out["date"] = per["date"].fillna("")
    out["days_from_baseline"] = days.to_numpy(dtype=float)
    out["baseline_value"] = base.to_numpy(dtype=float)
    out = pd.concat([out, extra], axis=1)
    out["beyond_repeatability"] = out["beyond_repeatability"].astype("boolean")
    # Metric-major order, as a reader scans one metric's series at a time.
    order = {m: i for i, m in enumerate(columns)}
    out = out.sort_values(
        ["metric", *GROUP_COLUMNS, "session"], key=lambda c: c.map(order) if c.name == "metric" else c
    )
    return out[list(CHANGES_COLUMNS)].reset_index(drop=True)


def baseline_sessions(changes: pd.DataFrame) -> pd.Series:
    """Per row, the session that served as that row's baseline (the group's earliest, 0 if present)."""
    groups = changes.groupby([*GROUP_COLUMNS, "metric"], dropna=False, sort=False).ngroup().to_numpy()
    sessions = changes["session"].to_numpy(dtype="int64")
    return pd.Series(baseline_sessions_by_group(sessions, groups), index=changes.index, dtype="int64")
