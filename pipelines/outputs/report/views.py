"""View models of the report: summary, provenance, cohort, errors and one view per subject."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.outputs.report.embed import OVERLAY_CAPTIONS, OVERLAY_KINDS, embed_overlay, overlay_folder
from pipelines.outputs.report.figures import (
    KEY_METRICS,
    band_halfwidth,
    baseline_and_cv,
    orientation_figure,
    select_trend_metrics,
    trend_figure,
)
from pipelines.outputs.report.format import (
    cell,
    date_text,
    days_text,
    format_pct,
    metric_label,
    missing,
    session_text,
    truthy,
)
from pipelines.outputs.report.load import QUALITY_PATTERN
from pipelines.record import IDENTITY_COLUMNS, overlay_key
from pipelines.tables.catalogue import is_known, lookup

MAX_ERROR_ROWS = 200
MAX_QC_ROWS = 500


def summary(run: dict, metrics: pd.DataFrame, errors: pd.DataFrame) -> dict[str, Any]:
    is_warning = (
        errors["stage"].astype(str).str.lower().eq("warning")
        if "stage" in errors
        else pd.Series(False, index=errors.index)
    )
    n_subjects = metrics["subject"].nunique() if "subject" in metrics else 0
    n_sessions = metrics["session"].nunique() if "session" in metrics else 0
    version = str(run.get("skintex_version") or "")
    versions = run.get("versions")
    if not version and isinstance(versions, dict):
        version = str(versions.get("skintex", ""))
    return {
        "images": len(metrics),
        "subjects": n_subjects,
        "sessions": n_sessions,
        "errors": int((~is_warning).sum()),
        "warnings": int(is_warning.sum()),
        "started": _first_key(run, ("started", "start", "started_at", "start_time")),
        "finished": _first_key(run, ("finished", "end", "finished_at", "end_time")),
        "version": version,
    }


def _first_key(mapping: dict, keys: Sequence[str]) -> str:
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return str(mapping[key])
    return ""


def provenance(run: dict) -> dict[str, Any]:
    shown = {"versions", "config", "counts", "skintex_version"}
    corrections = {k: v for k, v in run.items() if re.search("correct|colou?r|exposure", k, re.IGNORECASE)}
    shown |= set(corrections)
    shown |= {"started", "start", "started_at", "start_time"}
    shown |= {"finished", "end", "finished_at", "end_time"}
    return {
        "versions": run.get("versions") if isinstance(run.get("versions"), dict) else {},
        "counts": run.get("counts") if isinstance(run.get("counts"), dict) else {},
        "corrections": corrections,
        "config_json": (
            json.dumps(run["config"], indent=2, sort_keys=True, default=str) if "config" in run else ""
        ),
        "other": {k: v for k, v in run.items() if k not in shown},
    }


def errors_view(errors: pd.DataFrame) -> dict[str, Any]:
    columns = [c for c in ("file", "stage", "error_type", "message") if c in errors]
    rows = [[cell(v) for v in row] for row in errors[columns].head(MAX_ERROR_ROWS).itertuples(index=False)]
    return {"columns": columns, "rows": rows, "total": len(errors)}


def cohort_view(cohort: pd.DataFrame) -> dict[str, Any]:
    """The cohort table: outcome metrics only (a cohort.csv of an older run may hold quality-control
    columns: they are left out and listed), with the Hodges-Lehmann change, its interval and the
    multiplicity-adjusted p-values when the table has them (``adjusted``)."""
    empty = {"rows": [], "has_note": False, "adjusted": False, "hidden": []}
    if cohort.empty or "metric" not in cohort:
        return empty
    is_outcome = cohort["metric"].map(lambda m: not is_known(str(m)) or lookup(str(m)).role == "outcome")
    hidden = sorted(set(cohort.loc[~is_outcome, "metric"].astype(str)))
    cohort = cohort[is_outcome]
    if cohort.empty:
        return {**empty, "hidden": hidden}
    order = {m: i for i, m in enumerate(KEY_METRICS)}
    cohort = cohort.assign(
        _key=cohort["metric"].map(lambda m: order.get(m, len(order))),
        _session=cohort["session"] if "session" in cohort else np.nan,
    ).sort_values(["_key", "metric", "_session"], kind="stable")
    rows = []
    previous = None
    for rec in cohort.to_dict("records"):
        n = rec.get("n_subjects")
        unit = "" if missing(rec.get("delta_unit")) else str(rec.get("delta_unit"))
        method = "" if missing(rec.get("test_method")) else f" ({rec.get('test_method')})"
        rows.append(
            {
                "first": rec["metric"] != previous,
                "metric": str(rec["metric"]),
                "label": metric_label(str(rec["metric"])),
                "session": session_text(rec.get("session")),
                "n": "" if missing(n) else int(n),
                "effect": rec.get("hl_estimate"),
                "ci_low": rec.get("ci_low"),
                "ci_high": rec.get("ci_high"),
                "unit": unit,
                "mean": rec.get("pct_change_mean"),
                "median": rec.get("pct_change_median"),
                "sd": rec.get("pct_change_sd"),
                "test": cell(rec.get("test")) + (method if cell(rec.get("test")) else ""),
                "p": rec.get("p_value"),
                "p_holm": rec.get("p_holm"),
                "q_bh": rec.get("q_bh"),
                "note": cell(rec.get("note")),
            }
        )
        previous = rec["metric"]
    adjusted = {"hl_estimate", "p_holm", "q_bh"} <= set(cohort.columns)
    return {"rows": rows, "has_note": "note" in cohort, "adjusted": adjusted, "hidden": hidden}


def qc_view(qc: pd.DataFrame) -> dict[str, Any]:
    """Technical values per image from qc.csv: capture and processing, not skin (``_px`` twins are in
    the file but not shown: they repeat the physical columns)."""
    if qc.empty:
        return {"columns": [], "rows": [], "total": 0}
    ident = [c for c in ("file", "subject", "session", "modality") if c in qc]
    values = [
        c
        for c in qc.columns
        if c not in IDENTITY_COLUMNS
        and is_known(c)
        and lookup(c).role == "qc"
        and lookup(c).twin_of is None
        and qc[c].notna().any()
    ]
    rows = [
        {"ident": [cell(rec.get(c)) for c in ident], "values": [rec.get(c) for c in values]}
        for rec in qc.head(MAX_QC_ROWS).to_dict("records")
    ]
    return {"ident": ident, "columns": values, "rows": rows, "total": len(qc)}


@dataclass
class Panel:
    kind: str
    caption: str
    before: str | None
    after: str | None


@dataclass
class SubjectView:
    anchor: str
    subject: str
    region: str
    modality: str
    baseline_session: str
    latest_session: str
    captures: list[dict[str, Any]] = field(default_factory=list)
    quality_columns: list[str] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    orientation_png: str | None = None
    trend_png: str | None = None
    trend_metrics: list[str] = field(default_factory=list)
    trend_x_label: str = ""
    trend_without_cv: list[str] = field(default_factory=list)
    table_sessions: list[dict[str, str]] = field(default_factory=list)
    table_rows: list[dict[str, Any]] = field(default_factory=list)
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    missing_images: int = 0


def subject_views(out: Path, tables: dict[str, pd.DataFrame]) -> list[SubjectView]:
    """One view per subject x region found in any of ``tables`` (metrics, changes, ...)."""
    groups: dict[tuple[str, str], dict[str, pd.DataFrame]] = {}
    for name, table in tables.items():
        if table.empty or "subject" not in table:
            continue
        if "region" not in table:
            table = table.assign(region="")
        for key, part in table.groupby(["subject", "region"], sort=False):
            groups.setdefault((str(key[0]), str(key[1])), {})[name] = part
    views = []
    for i, (key, parts) in enumerate(sorted(groups.items(), key=lambda kv: kv[0]), start=1):
        views.append(_subject_view(out, f"subject-{i}", key, parts))
    return views


def _subject_view(
    out: Path, anchor: str, key: tuple[str, str], parts: dict[str, pd.DataFrame]
) -> SubjectView:
    subject, region = key
    images = parts.get("metrics", pd.DataFrame())
    changes = parts.get("changes", pd.DataFrame())
    modality = ""
    for table in (images, changes):
        if "modality" in table and table["modality"].notna().any():
            modality = str(table["modality"].dropna().iloc[0])
            break
    sessions = sorted(
        set(images["session"].dropna() if "session" in images else [])
        | set(changes["session"].dropna() if "session" in changes else [])
    )
    view = SubjectView(
        anchor=anchor,
        subject=subject,
        region=region,
        modality=modality,
        baseline_session=session_text(sessions[0]) if sessions else "",
        latest_session=session_text(sessions[-1]) if len(sessions) > 1 else "",
    )
    days = _days_by_session(changes)
    dates = _dates_by_session(images, changes)
    view.table_sessions = [
        {"session": session_text(s), "date": dates.get(s, ""), "days": days_text(days.get(s))}
        for s in sessions
    ]
    _fill_captures(view, images, days)
    _fill_panels(view, out, images, sessions)
    _fill_orientation(view, parts.get("orientations", pd.DataFrame()))
    _fill_trend(view, changes)
    _fill_change_table(view, changes, sessions)
    return view


def _days_by_session(changes: pd.DataFrame) -> dict[float, float]:
    if changes.empty or "days_from_baseline" not in changes:
        return {}
    days = pd.to_numeric(changes["days_from_baseline"], errors="coerce")
    per_session = days.groupby(changes["session"]).first()
    return {s: d for s, d in per_session.items() if not missing(d)}


def _dates_by_session(*tables: pd.DataFrame) -> dict[float, str]:
    dates: dict[float, str] = {}
    for table in tables:
        if table.empty or "date" not in table or "session" not in table:
            continue
        for session, date in table.groupby("session")["date"].first().items():
            if not missing(date):
                dates.setdefault(session, date_text(date))
    return dates


def _fill_captures(view: SubjectView, images: pd.DataFrame, days: dict) -> None:
    if images.empty:
        return
    view.quality_columns = [
        c for c in images.columns if QUALITY_PATTERN.search(c) and images[c].notna().any()
    ]
    order = [c for c in ("session", "file") if c in images]
    for rec in images.sort_values(order, kind="stable").to_dict("records"):
        session = rec.get("session")
        view.captures.append(
            {
                "session": session_text(session),
                "date": date_text(rec.get("date")),
                "days": days_text(days.get(session)),
                "file": cell(rec.get("file")),
                "stain": cell(rec.get("stain")),
                "scale": rec.get("px_per_mm"),
                "quality": [rec.get(c) for c in view.quality_columns],
            }
        )


def _fill_panels(view: SubjectView, out: Path, images: pd.DataFrame, sessions: list) -> None:
    if images.empty or not sessions or "sha256" not in images:
        return
    latest = sessions[-1] if len(sessions) > 1 else None

    def overlay_dir(session: float | None) -> Path | None:
        if session is None:
            return None
        rows = images[images["session"] == session]
        if "file" in rows:
            rows = rows.sort_values("file", kind="stable")
        for sha, file in zip(rows["sha256"], rows.get("file", [""] * len(rows)), strict=True):
            if isinstance(sha, str) and sha:
                directory = overlay_folder(out, overlay_key(sha, str(file)))
                if directory is not None:
                    return directory
        return None

    before_dir, after_dir = overlay_dir(sessions[0]), overlay_dir(latest)
    for kind in OVERLAY_KINDS:
        before = embed_overlay(out, before_dir, kind)
        after = embed_overlay(out, after_dir, kind)
        if before is None and after is None:
            continue
        view.panels.append(Panel(kind, OVERLAY_CAPTIONS[kind], before, after))


def _fill_orientation(view: SubjectView, orientations: pd.DataFrame) -> None:
    """Baseline vs latest distribution of fibre orientation from ``orientations.csv``."""
    needed = {"session", "bin_start_deg", "fraction"}
    if orientations.empty or not needed <= set(orientations.columns):
        return
    table = orientations.assign(
        bin_start_deg=pd.to_numeric(orientations["bin_start_deg"], errors="coerce"),
        fraction=pd.to_numeric(orientations["fraction"], errors="coerce"),
    ).dropna(subset=["session", "bin_start_deg", "fraction"])
    if table.empty:
        return
    # Repeat captures in a session are averaged bin by bin.
    per_session = table.groupby(["session", "bin_start_deg"])["fraction"].mean()
    sessions = sorted(per_session.index.get_level_values(0).unique())
    shown = [sessions[0]] if len(sessions) == 1 else [sessions[0], sessions[-1]]
    view.orientation_png = orientation_figure(
        [
            (f"{'baseline' if i == 0 else 'latest'} · session {session_text(s)}", per_session.loc[s])
            for i, s in enumerate(shown)
        ]
    )


def _fill_trend(view: SubjectView, changes: pd.DataFrame) -> None:
    if changes.empty or not {"metric", "value", "session"} <= set(changes.columns):
        return
    values = changes.assign(value=pd.to_numeric(changes["value"], errors="coerce"))
    with_values = values.groupby("metric")["value"].apply(lambda v: v.notna().any())
    metrics = select_trend_metrics(with_values[with_values].index)
    if not metrics:
        return
    use_days = "days_from_baseline" in values and (
        pd.to_numeric(values["days_from_baseline"], errors="coerce").notna().all()
    )
    x_column = "days_from_baseline" if use_days else "session"
    view.trend_x_label = "days from baseline" if use_days else "session"
    view.trend_metrics = metrics
    judged = [c for c in ("repeatability_cv", "srd") if c in values]
    if judged:
        # A metric can be judged against measurement noise when it has a CV or (any scale) an SRD.
        known_any = values[judged].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
        known = known_any.groupby(values["metric"]).any()
        view.trend_without_cv = [m for m in metrics if not known.get(m, False)]
    else:
        view.trend_without_cv = list(metrics)
    view.trend_png = trend_figure(values, metrics, x_column, view.trend_x_label)


def _fill_change_table(view: SubjectView, changes: pd.DataFrame, sessions: list) -> None:
    if changes.empty or not {"metric", "session"} <= set(changes.columns):
        return
    order = {m: i for i, m in enumerate(KEY_METRICS)}
    metrics = sorted(changes["metric"].dropna().unique(), key=lambda m: (order.get(m, 99), m))
    for metric in metrics:
        rows = changes[changes["metric"] == metric]
        by_session = {r["session"]: r for r in rows.to_dict("records")}
        numeric = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
        baseline, cv = baseline_and_cv(numeric)
        unit = _first_text(rows, "delta_unit")
        cells = []
        for session in sessions:
            rec = by_session.get(session)
            if rec is None:
                cells.append(None)
                continue
            pct, delta = rec.get("pct_change"), rec.get("delta")
            # % change where changes.csv gives one (ratio scales), else the delta in its unit
            # (interval and axial scales; percentage points for fractions).
            change = pct if not missing(pct) else delta
            if not missing(pct):
                text = format_pct(pct)
            elif not missing(delta) and "delta_unit" in rows:
                text = f"{float(delta):+.3g} {unit}".strip()
            else:
                text = ""
            cells.append(
                {
                    "value": rec.get("value"),
                    "pct": pct,
                    "change": text,
                    "beyond": truthy(rec.get("beyond_repeatability")),
                    "direction": "" if missing(change) else ("up" if change > 0 else "down"),
                }
            )
        row = {
            "metric": str(metric),
            "label": metric_label(str(metric)),
            "cv": cv,
            "repeatability": _repeatability_text(rows, cv, unit),
            "srd": _srd_or_none(band_halfwidth(numeric, baseline, cv), unit),
            "cells": cells,
        }
        (view.table_rows if metric in view.trend_metrics else view.extra_rows).append(row)
    if not view.table_rows:
        view.table_rows, view.extra_rows = view.extra_rows, []


def _first_text(rows: pd.DataFrame, column: str) -> str:
    if column not in rows:
        return ""
    known = rows[column].dropna().astype(str)
    return known.iloc[0] if len(known) else ""


def _repeatability_text(rows: pd.DataFrame, cv: float, unit: str) -> str | None:
    """The repeatability as changes.csv used it: a CV in %, or an absolute within-subject SD."""
    if not missing(cv):
        return f"CV {100 * cv:.1f} %"
    if "repeatability_sd" in rows:
        sd = pd.to_numeric(rows["repeatability_sd"], errors="coerce").dropna()
        if len(sd):
            return f"SD {float(sd.iloc[0]):.3g} {unit}".strip()
    return None


def _srd_or_none(srd: float, unit: str) -> float | None:
    """SRD for the table, in the unit of the change (percentage points for fractions)."""
    if missing(srd):
        return None
    return srd * 100.0 if unit == "pp" else srd
