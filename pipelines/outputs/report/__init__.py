"""Self-contained HTML report of one finished output folder.

``build_report(out_dir)`` reads the saved tables (``metrics.csv``, ``changes.csv``, ``cohort.csv``,
``errors.csv``, ``run.json``) and the overlay JPEGs under ``overlays/<overlay_key>/`` and writes
``out_dir/report.html``: run summary and provenance, per subject and region a before/after panel
(baseline vs latest session with their overlays), trend plots with the repeatability band, the
change tables, and the cohort table.

The page needs nothing but itself: images are re-encoded (which drops EXIF, GPS and ICC data) and
embedded as ``data:`` URIs, figures are matplotlib PNGs drawn off-screen with the Agg canvas, CSS
is inline, there is no JavaScript, and a Content-Security-Policy forbids loading anything else.
Every value taken from the tables is HTML-escaped by Jinja2's autoescape.

Any table may be missing, empty or unreadable (e.g. a run where every image failed): the report
still builds and says what it could not show.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image, ImageOps

from pipelines.analyze import IDENTITY_COLUMNS, overlay_key
from pipelines.outputs.export import restore_formulas

__all__ = [
    "KEY_METRICS",
    "SRD_FACTOR",
    "build_report",
    "metric_label",
    "metric_unit",
    "render_report",
    "select_trend_metrics",
    "smallest_real_difference",
]

TEMPLATE_DIR = Path(__file__).with_name("templates")

#: Metrics shown in the trend figure, in this order, when the run has them.
KEY_METRICS: tuple[str, ...] = (
    "pore_mean_diameter_mm",
    "pore_count",
    "spot_area_fraction",
    "ita_deg",
    "melanin_index",
    "erythema_index",
    "wrinkle_length_mm_per_cm2",
    "texture_roughness",
    "collagen_area_fraction",
    "collagen_coherency",
    "collagen_alignment",
    "epidermis_thickness_mean_um",
)
MAX_TREND_METRICS = 12

#: Overlay kinds in display order (``overlays/<key>/<kind>.jpg``, key: ``pipelines.analyze.overlay_key``).
OVERLAY_KINDS: tuple[str, ...] = (
    "image",
    "roi",
    "pores",
    "spots",
    "wrinkles",
    "collagen",
    "orientation",
    "fibres",
    "epidermis",
)
OVERLAY_CAPTIONS = {
    "image": "Image",
    "roi": "Region of interest",
    "pores": "Pores",
    "spots": "Pigmented spots",
    "wrinkles": "Wrinkles",
    "collagen": "Collagen",
    "orientation": "Collagen orientation map",
    "fibres": "Fibres",
    "epidermis": "Epidermis",
}
IMAGE_MAX_SIDE = 640
# Refuse overlays larger than this before decoding them (the pipeline writes small JPEGs).
IMAGE_MAX_PIXELS = 64_000_000
MAX_ERROR_ROWS = 200

#: SRD = SRD_FACTOR * CV * |baseline|: 1.96 for a 95 % interval, sqrt(2) because a change is the
#: difference of two measurements that each carry the repeatability error (Bland & Altman 1986).
SRD_FACTOR = 1.96 * math.sqrt(2.0)

TEXT_COLUMNS = ("file", "sha256", "subject", "date", "modality", "region", "stain", "metric")
TEXT_COLUMNS += ("treatment", "stage", "error_type", "message", "test", "note")
_QUALITY_PATTERN = re.compile(r"registration|color_delta_e|colour_delta_e|correction|exposure")
_ACRONYMS = {a.lower(): a for a in ("ITA", "GLCM", "GLRLM", "GLSZM", "GLDZM", "NGTDM", "NGLDM", "LBP")}
_SHA_PREFIX = re.compile(r"[0-9a-f]{16}")
_UNITS = (
    ("_mm_per_cm2", "mm/cm²"),
    ("_per_cm2", "1/cm²"),
    ("_fraction", "fraction"),
    ("_deg", "°"),
    ("_um", "µm"),
    ("_mm", "mm"),
    ("_px", "px"),
)


def smallest_real_difference(baseline: float, cv: float) -> float:
    """Smallest real difference of a metric, in the metric's unit.

    ``SRD = 1.96 * sqrt(2) * CV * |baseline|``: a change from baseline larger than this exceeds
    the 95 % limits of the measurement's own repeatability (Bland & Altman 1986; Weir 2005).

    Parameters
    ----------
    baseline : float
        The metric's value at baseline.
    cv : float
        Repeatability coefficient of variation as a fraction (0.05 for 5 %).

    Returns
    -------
    float
        The SRD (>= 0), NaN when either input is missing.
    """
    if baseline is None or cv is None:
        return math.nan
    return SRD_FACTOR * abs(float(cv) * float(baseline))


def select_trend_metrics(available: Iterable[str], *, limit: int = MAX_TREND_METRICS) -> list[str]:
    """Metrics for one subject's trend figure: the key ones present, in ``KEY_METRICS`` order.

    When none of the key metrics is present, the first ``limit`` available ones (sorted) are used
    so that a run with only, say, GLCM features still gets a figure.
    """
    available = list(dict.fromkeys(str(m) for m in available))
    chosen = [m for m in KEY_METRICS if m in available]
    if not chosen:
        chosen = sorted(available)
    return chosen[:limit]


def build_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` from the saved tables of a finished run.

    The file is written atomically (temporary file in the same folder, then ``os.replace``), so a
    reader sees either the previous complete report or the new one.

    Parameters
    ----------
    out_dir : str or Path
        Output folder written by ``skintex analyze``.

    Returns
    -------
    Path
        Path of the written ``report.html``.

    Raises
    ------
    NotADirectoryError
        If ``out_dir`` is not an existing folder.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise NotADirectoryError(f"output folder not found: {out}")
    html = render_report(out)
    target = out / "report.html"
    _write_atomic(target, html)
    return target


def render_report(out_dir: str | Path) -> str:
    """The report page for ``out_dir`` as a string (see :func:`build_report`)."""
    out = Path(out_dir)
    notes: list[str] = []
    metrics = _read_table(out / "metrics.csv", notes)
    changes = _read_table(out / "changes.csv", notes)
    cohort = _read_table(out / "cohort.csv", notes)
    errors = _read_table(out / "errors.csv", notes)
    orientations = _read_table(out / "orientations.csv", notes)
    run = _read_run(out / "run.json", notes)

    if changes.empty and not metrics.empty:
        changes = _values_from_metrics(metrics)
        if not changes.empty:
            notes.append(
                "changes.csv is missing or empty: values are shown from metrics.csv "
                "without change statistics."
            )

    context = {
        "title": "skintex report",
        "css": (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8"),
        "notes": notes,
        "summary": _summary(run, metrics, errors),
        "provenance": _provenance(run),
        "errors": _errors_view(errors),
        "subjects": _subject_views(
            out, {"metrics": metrics, "changes": changes, "orientations": orientations}
        ),
        "cohort": _cohort_view(cohort),
        "srd_factor": SRD_FACTOR,
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _format_number
    env.filters["pct"] = _format_pct
    env.filters["pvalue"] = _format_p
    env.tests["mapping"] = lambda v: isinstance(v, dict)
    env.tests["sequence_of_scalars"] = lambda v: isinstance(v, list | tuple)
    return env.get_template("report.html.j2").render(**context)


# ---------------------------------------------------------------------------------------------
# Reading


def _read_table(path: Path, notes: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    try:
        table = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        notes.append(f"{path.name} could not be read ({type(exc).__name__}: {exc}).")
        return pd.DataFrame()
    table = restore_formulas(table)  # the CSV keeps spreadsheets safe; the page shows the real text
    if "session" in table:
        table["session"] = pd.to_numeric(table["session"], errors="coerce")
    for column in ("subject", "region"):
        if column in table:
            table[column] = table[column].fillna("")
    return table


def _read_run(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        notes.append("run.json not found: provenance is not available.")
        return {}
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        notes.append(f"run.json could not be read ({type(exc).__name__}: {exc}).")
        return {}
    if not isinstance(run, dict):
        notes.append("run.json does not hold an object: provenance is not available.")
        return {}
    return run


def _values_from_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long subject x region x metric x session values when changes.csv is unavailable."""
    needed = {"subject", "session"}
    if not needed <= set(metrics.columns):
        return pd.DataFrame()
    value_columns = [
        c
        for c in metrics.columns
        if c not in IDENTITY_COLUMNS
        and pd.api.types.is_numeric_dtype(metrics[c])
        and not _QUALITY_PATTERN.search(c)
    ]
    if not value_columns:
        return pd.DataFrame()
    frame = metrics.copy()
    for column in ("region", "modality", "date"):
        if column not in frame:
            frame[column] = ""
    keys = ["subject", "region", "modality", "session", "date"]
    long = frame.melt(id_vars=keys, value_vars=value_columns, var_name="metric")
    return long.groupby(["subject", "region", "modality", "metric", "session"], as_index=False).agg(
        date=("date", "first"), value=("value", "mean")
    )


# ---------------------------------------------------------------------------------------------
# Summary, provenance, errors, cohort


def _summary(run: dict, metrics: pd.DataFrame, errors: pd.DataFrame) -> dict[str, Any]:
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


def _provenance(run: dict) -> dict[str, Any]:
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


def _errors_view(errors: pd.DataFrame) -> dict[str, Any]:
    columns = [c for c in ("file", "stage", "error_type", "message") if c in errors]
    rows = [[_cell(v) for v in row] for row in errors[columns].head(MAX_ERROR_ROWS).itertuples(index=False)]
    return {"columns": columns, "rows": rows, "total": len(errors)}


def _cohort_view(cohort: pd.DataFrame) -> dict[str, Any]:
    if cohort.empty or "metric" not in cohort:
        return {"rows": [], "has_note": False}
    order = {m: i for i, m in enumerate(KEY_METRICS)}
    cohort = cohort.assign(
        _key=cohort["metric"].map(lambda m: order.get(m, len(order))),
        _session=cohort["session"] if "session" in cohort else np.nan,
    ).sort_values(["_key", "metric", "_session"], kind="stable")
    rows = []
    previous = None
    for rec in cohort.to_dict("records"):
        n = rec.get("n_subjects")
        rows.append(
            {
                "first": rec["metric"] != previous,
                "metric": str(rec["metric"]),
                "label": metric_label(str(rec["metric"])),
                "session": _session_text(rec.get("session")),
                "n": "" if _missing(n) else int(n),
                "mean": rec.get("pct_change_mean"),
                "median": rec.get("pct_change_median"),
                "sd": rec.get("pct_change_sd"),
                "test": _cell(rec.get("test")),
                "p": rec.get("p_value"),
                "note": _cell(rec.get("note")),
            }
        )
        previous = rec["metric"]
    return {"rows": rows, "has_note": "note" in cohort}


# ---------------------------------------------------------------------------------------------
# Per subject


@dataclass
class _Panel:
    kind: str
    caption: str
    before: str | None
    after: str | None


@dataclass
class _SubjectView:
    anchor: str
    subject: str
    region: str
    modality: str
    baseline_session: str
    latest_session: str
    captures: list[dict[str, Any]] = field(default_factory=list)
    quality_columns: list[str] = field(default_factory=list)
    panels: list[_Panel] = field(default_factory=list)
    orientation_png: str | None = None
    trend_png: str | None = None
    trend_metrics: list[str] = field(default_factory=list)
    trend_x_label: str = ""
    trend_without_cv: list[str] = field(default_factory=list)
    table_sessions: list[dict[str, str]] = field(default_factory=list)
    table_rows: list[dict[str, Any]] = field(default_factory=list)
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    missing_images: int = 0


def _subject_views(out: Path, tables: dict[str, pd.DataFrame]) -> list[_SubjectView]:
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
) -> _SubjectView:
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
    view = _SubjectView(
        anchor=anchor,
        subject=subject,
        region=region,
        modality=modality,
        baseline_session=_session_text(sessions[0]) if sessions else "",
        latest_session=_session_text(sessions[-1]) if len(sessions) > 1 else "",
    )
    days = _days_by_session(changes)
    dates = _dates_by_session(images, changes)
    view.table_sessions = [
        {"session": _session_text(s), "date": dates.get(s, ""), "days": _days_text(days.get(s))}
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
    return {s: d for s, d in per_session.items() if not _missing(d)}


def _dates_by_session(*tables: pd.DataFrame) -> dict[float, str]:
    dates: dict[float, str] = {}
    for table in tables:
        if table.empty or "date" not in table or "session" not in table:
            continue
        for session, date in table.groupby("session")["date"].first().items():
            if not _missing(date):
                dates.setdefault(session, _date_text(date))
    return dates


def _fill_captures(view: _SubjectView, images: pd.DataFrame, days: dict) -> None:
    if images.empty:
        return
    view.quality_columns = [
        c for c in images.columns if _QUALITY_PATTERN.search(c) and images[c].notna().any()
    ]
    order = [c for c in ("session", "file") if c in images]
    for rec in images.sort_values(order, kind="stable").to_dict("records"):
        session = rec.get("session")
        view.captures.append(
            {
                "session": _session_text(session),
                "date": _date_text(rec.get("date")),
                "days": _days_text(days.get(session)),
                "file": _cell(rec.get("file")),
                "stain": _cell(rec.get("stain")),
                "scale": rec.get("px_per_mm"),
                "quality": [rec.get(c) for c in view.quality_columns],
            }
        )


def _fill_panels(view: _SubjectView, out: Path, images: pd.DataFrame, sessions: list) -> None:
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
                directory = _overlay_folder(out, overlay_key(sha, str(file)))
                if directory is not None:
                    return directory
        return None

    before_dir, after_dir = overlay_dir(sessions[0]), overlay_dir(latest)
    for kind in OVERLAY_KINDS:
        before = _embed_overlay(out, before_dir, kind)
        after = _embed_overlay(out, after_dir, kind)
        if before is None and after is None:
            continue
        view.panels.append(_Panel(kind, OVERLAY_CAPTIONS[kind], before, after))


def _overlay_folder(out: Path, key: str) -> Path | None:
    prefix = key.strip().lower()[:16]
    # The prefix names a folder: only hex digits, so a hostile table cannot point outside out/.
    if not _SHA_PREFIX.fullmatch(prefix):
        return None
    folder = out / "overlays" / prefix
    return folder if folder.is_dir() else None


def _embed_overlay(out: Path, folder: Path | None, kind: str) -> str | None:
    if folder is None:
        return None
    for suffix in (".jpg", ".jpeg", ".png"):
        path = folder / f"{kind}{suffix}"
        if path.is_file():
            # Symlinks pointing outside the output folder are not followed.
            if not path.resolve().is_relative_to(out.resolve()):
                return None
            return _image_data_uri(path)
    return None


def _image_data_uri(path: Path) -> str | None:
    """JPEG data URI of an image, downscaled and re-encoded from pixels only (no EXIF/ICC)."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > IMAGE_MAX_PIXELS:
                return None
            im.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
            upright = ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    upright.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    # A fresh image from the raw pixels carries no metadata at all (EXIF, GPS, XMP, ICC).
    clean = Image.frombytes("RGB", upright.size, upright.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=88, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _fill_orientation(view: _SubjectView, orientations: pd.DataFrame) -> None:
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
    view.orientation_png = _orientation_figure(
        [
            (f"{'baseline' if i == 0 else 'latest'} · session {_session_text(s)}", per_session.loc[s])
            for i, s in enumerate(shown)
        ]
    )


def _orientation_figure(distributions: list[tuple[str, pd.Series]]) -> str:
    """Half-rose plots (0-180 deg, counter-clockwise from +x as on screen) side by side."""
    fig = Figure(figsize=(3.4 * len(distributions), 2.0), dpi=110)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.1, top=0.88, wspace=0.3)
    rmax = max(float(d.max()) for _, d in distributions) * 1.08 or 1.0
    for i, (title, dist) in enumerate(distributions, start=1):
        ax = fig.add_subplot(1, len(distributions), i, projection="polar")
        starts = dist.index.to_numpy(float)
        width = float(np.min(np.diff(starts))) if len(starts) > 1 else 180.0
        ax.bar(
            np.deg2rad(starts + width / 2), dist.to_numpy(float), width=np.deg2rad(width),
            color="#1f4e8c" if i == 1 else "#c2185b", alpha=0.8, edgecolor="white", lw=0.6,
        )  # fmt: skip
        ax.set_thetamin(0)
        ax.set_thetamax(180)
        ax.set_rmax(rmax)
        ax.set_xticks(np.deg2rad([0, 45, 90, 135, 180]))
        ax.set_xticklabels(["0°", "45°", "90°", "135°", "180°"], fontsize=8.5)
        ax.set_yticklabels([])
        ax.set_title(title, fontsize=10, pad=2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _fill_trend(view: _SubjectView, changes: pd.DataFrame) -> None:
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
    if "repeatability_cv" in values:
        cv = pd.to_numeric(values["repeatability_cv"], errors="coerce")
        known = cv.groupby(values["metric"]).apply(lambda c: c.notna().any())
        view.trend_without_cv = [m for m in metrics if not known.get(m, False)]
    else:
        view.trend_without_cv = list(metrics)
    view.trend_png = _trend_figure(values, metrics, x_column, view.trend_x_label)


def _trend_figure(values: pd.DataFrame, metrics: list[str], x_column: str, x_label: str) -> str:
    ncols = min(4, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    # Figure is used directly (no pyplot): no global figure registry, nothing left open.
    width, height = 3.1 * ncols, 2.6 * nrows + 0.5
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    # Fixed margins in inches: a constrained layout would cost a second full draw.
    axes = fig.subplots(
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": 0.72 / width,
            "right": 1 - 0.12 / width,
            "bottom": 0.55 / height,
            "top": 1 - 0.8 / height,
            "wspace": 0.95 / (3.1 - 0.95),
            "hspace": 1.05 / (2.6 - 1.05),
        },
    ).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        rows = values[values["metric"] == metric].copy()
        rows["_x"] = pd.to_numeric(rows[x_column], errors="coerce")
        rows = rows.dropna(subset=["_x"]).sort_values("_x")
        x, y = rows["_x"].to_numpy(float), rows["value"].to_numpy(float)
        baseline, cv = _baseline_and_cv(rows)
        srd = smallest_real_difference(baseline, cv) if not _missing(baseline) else math.nan
        if not _missing(srd):
            ax.axhspan(baseline - srd, baseline + srd, color="#9fb7d9", alpha=0.35, lw=0)
        if not _missing(baseline):
            ax.axhline(baseline, color="#52657f", lw=0.8, ls="--")
        ax.plot(x, y, color="#1f4e8c", lw=1.6, marker="o", ms=4.5, zorder=3)
        flagged = _beyond_mask(rows, baseline, srd)
        if flagged.any():
            ax.plot(
                x[flagged], y[flagged], ls="none", marker="o", ms=8, mfc="#e07b00",
                mec="#1a1a1a", mew=0.8, zorder=4,
            )  # fmt: skip
        ax.set_title(_plain(metric_label(metric, unit=False)), fontsize=11, loc="left")
        unit = metric_unit(metric)
        if unit:
            ax.set_ylabel(_plain("degrees" if unit == "°" else unit), fontsize=9.5)
        ax.set_xticks(np.unique(x))
        ax.set_xticklabels([f"{v:g}" for v in np.unique(x)], fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
        ax.set_xlabel(x_label, fontsize=9.5)
        ax.grid(True, axis="y", color="#e3e7ee", lw=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.legend(
        handles=[
            Line2D([], [], color="#1f4e8c", marker="o", ms=4.5, lw=1.6, label="value"),
            Line2D([], [], color="#52657f", ls="--", lw=0.8, label="baseline"),
            Patch(color="#9fb7d9", alpha=0.35, label="baseline ± SRD (repeatability band)"),
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                ms=8,
                mfc="#e07b00",
                mec="#1a1a1a",
                label="change beyond repeatability",
            ),
        ],  # fmt: skip
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=4,
        fontsize=9.5,
        frameon=False,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _baseline_and_cv(rows: pd.DataFrame) -> tuple[float, float]:
    baseline = math.nan
    if "baseline_value" in rows:
        known = pd.to_numeric(rows["baseline_value"], errors="coerce").dropna()
        if len(known):
            baseline = float(known.iloc[0])
    if _missing(baseline) and len(rows) and "session" in rows:
        first = rows.sort_values("session").iloc[0]
        baseline = float(first["value"])
    cv = math.nan
    if "repeatability_cv" in rows:
        known = pd.to_numeric(rows["repeatability_cv"], errors="coerce").dropna()
        if len(known):
            cv = float(known.iloc[0])
    return baseline, cv


def _beyond_mask(rows: pd.DataFrame, baseline: float, srd: float) -> np.ndarray:
    """Sessions flagged beyond repeatability: changes.csv's own flag, else |value - base| > SRD."""
    if "beyond_repeatability" in rows:
        return rows["beyond_repeatability"].map(_truthy).to_numpy(bool)
    if _missing(srd):
        return np.zeros(len(rows), bool)
    return (np.abs(rows["value"].to_numpy(float) - baseline) > srd) & (rows["value"].notna())


def _fill_change_table(view: _SubjectView, changes: pd.DataFrame, sessions: list) -> None:
    if changes.empty or not {"metric", "session"} <= set(changes.columns):
        return
    order = {m: i for i, m in enumerate(KEY_METRICS)}
    metrics = sorted(changes["metric"].dropna().unique(), key=lambda m: (order.get(m, 99), m))
    for metric in metrics:
        rows = changes[changes["metric"] == metric]
        by_session = {r["session"]: r for r in rows.to_dict("records")}
        baseline, cv = _baseline_and_cv(rows.assign(value=pd.to_numeric(rows["value"], errors="coerce")))
        cells = []
        for session in sessions:
            rec = by_session.get(session)
            if rec is None:
                cells.append(None)
                continue
            pct = rec.get("pct_change")
            cells.append(
                {
                    "value": rec.get("value"),
                    "pct": pct,
                    "beyond": _truthy(rec.get("beyond_repeatability")),
                    "direction": "" if _missing(pct) else ("up" if pct > 0 else "down"),
                }
            )
        row = {
            "metric": str(metric),
            "label": metric_label(str(metric)),
            "cv": cv,
            "srd": smallest_real_difference(baseline, cv) if not _missing(baseline) else None,
            "cells": cells,
        }
        (view.table_rows if metric in view.trend_metrics else view.extra_rows).append(row)
    if not view.table_rows:
        view.table_rows, view.extra_rows = view.extra_rows, []


# ---------------------------------------------------------------------------------------------
# Formatting helpers


def metric_unit(metric: str) -> str:
    """Display unit from a column name's suffix (``_mm`` -> mm, ``_fraction`` -> fraction)."""
    for suffix, unit in _UNITS:
        if metric.endswith(suffix):
            return unit
    return ""


def metric_label(metric: str, *, unit: bool = True) -> str:
    """Readable label for a column name: ``pore_mean_diameter_mm`` -> ``Pore mean diameter (mm)``."""
    stem = metric
    for suffix, _ in _UNITS:
        if metric.endswith(suffix) and suffix != "_fraction":
            stem = metric[: -len(suffix)]
            break
    words = stem.replace("_", " ").strip()
    text = (words[:1].upper() + words[1:]) if words else metric
    first, _, rest = words.partition(" ")
    if first in _ACRONYMS:
        text = f"{_ACRONYMS[first]} {rest}".strip()
    u = metric_unit(metric)
    return f"{text} ({u})" if unit and u and u != "fraction" else text


def _plain(text: str) -> str:
    # Matplotlib would read $...$ in user-supplied names as mathtext.
    return text.replace("$", r"\$")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _truthy(value: Any) -> bool:
    if _missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _cell(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _session_text(session: Any) -> str:
    if _missing(session):
        return ""
    number = float(session)
    return f"{number:g}"


def _date_text(date: Any) -> str:
    """A date as written in the tables, without a midnight time that only adds noise."""
    text = _cell(date)
    for midnight in ("T00:00:00", " 00:00:00"):
        if text.endswith(midnight):
            return text[: -len(midnight)]
    return text


def _days_text(days: Any) -> str:
    return "" if _missing(days) else f"{float(days):g}"


def _format_number(value: Any) -> str:
    if _missing(value) or value == "":
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.4g}"
    return str(value)


def _format_pct(value: Any) -> str:
    if _missing(value):
        return "–"
    return f"{float(value):+.1f} %"


def _format_p(value: Any) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: the temporary file is created 0600, the report gets the usual permissions.
_UMASK = _current_umask()


def _write_atomic(target: Path, text: str) -> None:
    handle = tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        dir=target.parent,
        prefix=f".{target.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_UMASK)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
