"""Self-contained HTML report of one finished output folder.

``build_report(out_dir)`` reads the saved tables (``metrics.csv``, ``changes.csv``, ``cohort.csv``,
``qc.csv``, ``errors.csv``, ``run.json``) and the overlay JPEGs under ``overlays/<overlay_key>/`` and writes
``out_dir/report.html``: run summary and provenance, per subject and region a before/after panel
(baseline vs latest session with their overlays), trend plots with the repeatability band, the
change tables, the cohort table (outcomes only, with adjusted p-values) and the quality-control values.

The page needs nothing but itself: images are re-encoded (which drops EXIF, GPS and ICC data) and
embedded as ``data:`` URIs, figures are matplotlib PNGs drawn off-screen with the Agg canvas, CSS
is inline, there is no JavaScript, and a Content-Security-Policy forbids loading anything else.
Every value taken from the tables is HTML-escaped by Jinja2's autoescape.

Any table may be missing, empty or unreadable (e.g. a run where every image failed): the report
still builds and says what it could not show.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pipelines.io.files import atomic_write
from pipelines.outputs.report.figures import KEY_METRICS, select_trend_metrics
from pipelines.outputs.report.format import format_number, format_p, format_pct, metric_label, metric_unit
from pipelines.outputs.report.load import TEXT_COLUMNS, read_run, read_table, values_from_metrics
from pipelines.outputs.report.views import (
    cohort_view,
    errors_view,
    provenance,
    qc_view,
    subject_views,
    summary,
)
from pipelines.tables.qc import qc_table
from pipelines.tables.repeatability import SRD_FACTOR

__all__ = [
    "KEY_METRICS",
    "build_report",
    "metric_label",
    "metric_unit",
    "render_report",
    "select_trend_metrics",
]

TEMPLATE_DIR = Path(__file__).with_name("templates")


TEXT_COLUMNS += ("treatment", "stage", "error_type", "message", "test", "note")


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
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(html)
    return target


#: Subjects that get their own panels (overlays, trends, change table). Each panel costs about half a
#: second and up to 100 KB of embedded images, so a 5000-subject study would take most of an hour and a
#: page no browser opens; beyond this the report shows the first subjects by name and says so (every
#: subject's numbers are in the tables, and the cohort section covers all of them).
MAX_SUBJECT_PANELS = 40


def _first_subjects(tables: dict, notes: list[str]) -> dict:
    """``tables`` limited to the first :data:`MAX_SUBJECT_PANELS` subjects by name (with a note)."""
    subjects: set[str] = set()
    for frame in tables.values():
        if "subject" in frame:
            subjects |= set(frame["subject"].dropna().astype(str))
    if len(subjects) <= MAX_SUBJECT_PANELS:
        return tables
    shown = set(sorted(subjects)[:MAX_SUBJECT_PANELS])
    notes.append(
        f"{len(subjects)} subjects: per-subject panels are shown for the first {MAX_SUBJECT_PANELS} by "
        "name; every subject is in metrics.csv and changes.csv, and the cohort section covers all of them."
    )
    return {
        name: frame[frame["subject"].astype(str).isin(shown)] if "subject" in frame else frame
        for name, frame in tables.items()
    }


def render_report(out_dir: str | Path) -> str:
    """The report page for ``out_dir`` as a string (see :func:`build_report`)."""
    out = Path(out_dir)
    notes: list[str] = []
    metrics = read_table(out / "metrics.csv", notes)
    changes = read_table(out / "changes.csv", notes)
    cohort = read_table(out / "cohort.csv", notes)
    qc = read_table(out / "qc.csv", notes)
    if qc.empty and not metrics.empty:
        qc = qc_table(metrics)  # an output folder of an older run: the same columns from metrics.csv
    errors = read_table(out / "errors.csv", notes)
    orientations = read_table(out / "orientations.csv", notes)
    run = read_run(out / "run.json", notes)

    if changes.empty and not metrics.empty:
        changes = values_from_metrics(metrics)
        if not changes.empty:
            notes.append(
                "changes.csv is missing or empty: values are shown from metrics.csv "
                "without change statistics."
            )

    panels = _first_subjects({"metrics": metrics, "changes": changes, "orientations": orientations}, notes)
    context = {
        "title": "skintex report",
        "css": (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8"),
        "notes": notes,
        "summary": summary(run, metrics, errors),
        "provenance": provenance(run),
        "errors": errors_view(errors),
        "subjects": subject_views(out, panels),
        "cohort": cohort_view(cohort),
        "qc": qc_view(qc),
        "srd_factor": SRD_FACTOR,
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["pct"] = format_pct
    env.filters["pvalue"] = format_p
    env.tests["mapping"] = lambda v: isinstance(v, dict)
    env.tests["sequence_of_scalars"] = lambda v: isinstance(v, list | tuple)
    return env.get_template("report.html.j2").render(**context)


# ---------------------------------------------------------------------------------------------
# Reading


# ---------------------------------------------------------------------------------------------
# Summary, provenance, errors, cohort


# ---------------------------------------------------------------------------------------------
# Per subject


# ---------------------------------------------------------------------------------------------
# Formatting helpers
