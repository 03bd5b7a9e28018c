"""A folder in, tables out: the whole run, usable from Python or from the CLI.

>>> from pipelines import analyze_folder
>>> result = analyze_folder("sample_images")              # nothing written
>>> result.metrics.head(); result.changes.head()
>>> result = analyze_folder("sample_images", out_dir="out")  # writes the output folder
"""

from __future__ import annotations

import ast
import dataclasses
import multiprocessing
import platform
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.analyze import PAIRED_BASELINE_TABLE, Outcome, Reference
from pipelines.batch import (
    Progress,
    ResultCache,
    Task,
    TaskError,
    resolve_backend,
    run_tasks,
    skintex_version,
)
from pipelines.config import Settings, load_config
from pipelines.io.files import output_lock, sha256_of_file, sweep_temporaries
from pipelines.io.metadata import ImageItem, collect_items, manifest_for
from pipelines.outputs.export import write_csv, write_json, write_parquet
from pipelines.outputs.folder import (
    check_output_folder,
    previous_outputs,
    probe_writable,
    prune_overlays,
    remove_stale,
)
from pipelines.record import baseline_session, overlay_key
from pipelines.tables.catalogue import unknown_columns
from pipelines.tables.changes import changes_table
from pipelines.tables.cohort import cohort_table
from pipelines.tables.metrics import errors_table, metrics_table
from pipelines.tables.qc import qc_table

__all__ = ["RunResult", "analyze_folder", "write_outputs", "plan_tasks", "GUARD_WARNING"]

#: The one warning a plain script without the ``__main__`` guard gets (its run then goes serial).
GUARD_WARNING = (
    'analyze_folder() was called at the top level of a script without `if __name__ == "__main__":`; '
    "worker processes would import the script again and run it, so this run uses the serial backend. "
    'Put the call under `if __name__ == "__main__":` to analyse images in parallel.'
)

#: Photo texture discretisation used by the pipeline (ARCHITECTURE "Texture on photos"), for run.json.
PHOTO_TEXTURE_METHOD = (
    "L* inside the ROI discretised with the IBSI fixed bin width (glcm_bin_width, default 1 L* unit, bins "
    "anchored at L* = 0; texture.skin_glcm), or into glcm_levels equal-width levels over its 0.5th-99.5th "
    "percentile range when glcm_levels is set; symmetric GLCM, distance 1, 4 directions averaged"
)


@dataclass
class RunResult:
    """The tables of a run (pandas DataFrames) and its provenance."""

    metrics: pd.DataFrame
    changes: pd.DataFrame
    cohort: pd.DataFrame
    errors: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_info: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def qc(self) -> pd.DataFrame:
        """``qc.csv``: identity and quality-control columns per image (see :mod:`pipelines.tables.qc`)."""
        return qc_table(self.metrics)

    @property
    def n_failed(self) -> int:
        return int((self.errors["stage"] != "warning").sum()) if not self.errors.empty else 0

    @property
    def exit_status(self) -> int:
        """0 when every image was analysed, 2 when some are in errors.csv (warnings do not count)."""
        return 2 if self.n_failed else 0


def plan_tasks(
    items: list[ImageItem], settings: Settings, *, out_dir: Path | None, input_root: Path
) -> list[Task]:
    """One task per image; photo follow-ups carry their subject/region baseline as reference when
    alignment or colour correction is on."""
    wants_reference = settings.register or settings.color_correction != "none"
    baselines: dict[tuple[str, str], ImageItem] = {}
    groups: dict[tuple[str, str], list[ImageItem]] = defaultdict(list)
    for item in items:
        if item.modality == "photo":
            groups[(item.subject, item.region)].append(item)
    for key, members in groups.items():
        base_session = baseline_session(m.session for m in members)
        baselines[key] = sorted((m for m in members if m.session == base_session), key=lambda m: m.file)[0]
    tasks = []
    for item in items:
        reference = None
        base = baselines.get((item.subject, item.region))
        if wants_reference and item.modality == "photo" and base is not None and base is not item:
            if item.session != base.session:
                reference = Reference(path=base.path, roi=base.roi, px_per_mm=base.px_per_mm)
        tasks.append(Task(item=item, reference=reference, out_dir=out_dir, input_root=input_root))
    return tasks


def _study_batch(items: list[ImageItem], settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Study-wide histology values per stain, before any image is analysed: the run.json record and
    the ``histology_batch`` the analysis uses.

    A Macenko stain-vector estimate for every brightfield stain (used when ``histology.stain_vectors``
    is ``estimate``) and, when ``histology.threshold`` is ``batch``, one collagen threshold from all
    images of that stain; both go into ``histology_batch`` unless the config already fixes
    them (e.g. copied from an earlier study's run.json, so later sessions are thresholded alike).
    Whole slides are left out; a stain whose batch pass fails (e.g. an undecodable file, whose own
    error row says why) keeps the per-image rules, and run.json says so. When the slides' own dye
    colours lie more than :data:`STAIN_MISMATCH_DEG` from the preset's and the estimate is not used,
    the first image of that stain carries a warning saying so.
    """
    from pipelines.analyze import _is_slide
    from pipelines.assays.histology import study_batch

    by_stain: dict[str, list[tuple[Path, float | None]]] = defaultdict(list)
    first: dict[str, ImageItem] = {}
    for item in items:
        if item.modality != "histology" or item.stain == "psr_polarized":
            continue
        try:
            if _is_slide(item, settings):
                continue
        except Exception:  # unreadable header: the analysis reports it
            continue
        by_stain[item.stain].append((item.path, item.px_per_mm))
        first.setdefault(item.stain, item)
    records: dict[str, Any] = {}
    fixed = dict(settings.histology_batch)
    for stain, images in sorted(by_stain.items()):
        given = settings.histology_batch.get(stain)
        if given:
            records[stain] = {"source": "config", **given}
            continue
        try:
            entry, record = study_batch(images, stain, settings.histology, max_pixels=settings.max_pixels)
        except Exception as exc:  # one bad file must not stop the study: per-image rules then
            records[stain] = {"source": "run", "error": f"{type(exc).__name__}: {exc}", "images": len(images)}
            continue
        if entry:
            fixed[stain] = entry
        records[stain] = {"source": "run", **record}
        angles = record.get("stain_estimate", {}).get("angle_to_preset_deg") or []
        if "stain_vectors" not in entry and angles and max(angles) > STAIN_MISMATCH_DEG:
            first[stain].notes.append(
                f"the {len(images)} {stain} images' own dye colours lie up to {max(angles):.0f} deg from "
                "the preset's (Macenko estimate in run.json, histology_batch): their unmixing may be off; "
                "consider the histology option stain_vectors: estimate"
            )
    return records, fixed


#: Angle (degrees) between a dye's estimated and preset OD vectors above which the run warns.
STAIN_MISMATCH_DEG = 15.0


def _hash_or_empty(path: Path) -> str:
    try:
        return sha256_of_file(path)
    except OSError:
        return ""


def _versions(backend: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = [
        "numpy",
        "scipy",
        "scikit-image",
        "opencv-python-headless",
        "pandas",
        "pillow",
        "pillow-heif",
        "tifffile",
        "pyarrow",
    ]
    if backend == "dask":
        names += ["dask", "distributed"]
    out = {"skintex": skintex_version(), "python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def analyze_folder(
    path: str | Path,
    *,
    out_dir: str | Path | None = None,
    manifest: str | Path | None = None,
    config: str | Path | None = None,
    settings: Settings | None = None,
    progress: bool = False,
    force: bool = False,
    **options: Any,
) -> RunResult:
    """Analyse every image in a folder and return the tables.

    Parameters
    ----------
    path : str or Path
        Input folder (searched recursively) or a single image file.
    out_dir : str or Path, optional
        When given, write the output folder (tables, run.json, overlays, cache) there; otherwise nothing
        is written. The run owns the folder: see ``force``.
    manifest, config : str or Path, optional
        Manifest CSV (default ``path/manifest.csv`` when present) and YAML config.
    settings : Settings, optional
        Ready-made settings (``config`` and ``options`` are then ignored).
    progress : bool
        Show progress on stderr.
    force : bool
        Write into an output folder that holds files skintex did not write (skintex replaces only its
        own file names). Without it such a folder is refused before any work. A folder holding an
        earlier skintex run is always accepted: that run's tables and report are removed first.
    **options
        Any :class:`~pipelines.config.Settings` field, e.g. ``px_per_mm=25``, ``backend="serial"``.

    Raises
    ------
    pipelines.io.metadata.MetadataError
        Configuration or manifest problems, before any image is analysed.
    pipelines.outputs.folder.OutputFolderError
        The output folder is a file, not writable, full, or holds another tool's files.
    pipelines.io.files.OutputLockedError
        Another skintex run is writing to the same output folder.

    Notes
    -----
    The default backend (``auto``) is ``processes``, one worker per core, on a machine with more than one
    core, else ``serial``. Worker processes import the main script again, as ``multiprocessing`` always
    does: call this under ``if __name__ == "__main__":`` in a script. A call at the top level of a
    script without that guard is detected; it then runs serially, with one ``RuntimeWarning`` naming the
    guard (never empty tables). Notebooks and the interactive prompt need no guard.
    """
    started = datetime.now(timezone.utc)
    settings = settings or load_config(config, **options)
    settings = _guard_safe(settings)
    root = Path(path)
    input_root = root if root.is_dir() else root.parent
    used_manifest = manifest_for(root, manifest) if root.is_dir() else None
    items = collect_items(
        root,
        manifest=manifest,
        pattern=settings.pattern,
        px_per_mm=settings.px_per_mm,
        force_scale=settings.force_scale,
    )
    out = Path(out_dir) if out_dir is not None else None
    if out is None:
        return _run(items, settings, None, input_root, root, used_manifest, started, progress, set())
    check_output_folder(out, input_root=input_root, force=force)
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        check_output_folder(out, input_root=input_root, force=force)  # unchanged since we took the lock
        probe_writable(out)
        sweep_temporaries(out)  # safe: we hold the lock, so no other run is writing here
        earlier = previous_outputs(out)  # removed at the end unless this run writes them again
        return _run(items, settings, out, input_root, root, used_manifest, started, progress, earlier)


def _run(
    items: list[ImageItem],
    settings: Settings,
    out: Path | None,
    input_root: Path,
    root: Path,
    used_manifest: Path | None,
    started: datetime,
    progress: bool,
    earlier: set[str],
) -> RunResult:
    histology_batch, fixed = _study_batch(items, settings)
    if fixed != settings.histology_batch:  # a copy: the caller's Settings stay as given
        settings = dataclasses.replace(settings, histology_batch=fixed)
    tasks = plan_tasks(items, settings, out_dir=out, input_root=input_root)
    backend, workers = resolve_backend(settings)
    run_info: dict[str, Any] = {
        "skintex_version": skintex_version(),
        "status": "running",
        "versions": _versions(backend),
        # Names only: absolute paths can carry user or patient names.
        "input": root.name,
        "manifest": used_manifest.name if used_manifest is not None else None,
        "config": settings.as_dict(),
        "backend": backend,
        "workers": workers,
        "photo_texture": PHOTO_TEXTURE_METHOD,
        # Per stain: the stain-vector estimate and any study-wide threshold (pipelines.run._study_batch).
        "histology_batch": histology_batch,
        "started": started.isoformat(timespec="seconds"),
        # Until this run ends, the earlier run's files are in the folder too: listed, for the next run.
        "outputs": sorted(set(_BASE_OUTPUTS) | earlier),
    }
    cache = None
    if out is not None:
        # Written first: an interrupted run's files are then known as skintex's to the next run.
        write_json(run_info, out / "run.json")
    if out is not None and settings.cache:
        for task in tasks:
            # An unreadable file keeps an empty hash: it is not cached, and its decode error row says why.
            task.file_sha256 = _hash_or_empty(task.item.path)
            if task.reference is not None:
                task.reference_sha256 = _hash_or_empty(task.reference.path)
            task.roi_sha256 = _roi_hash(task.item, input_root)
        cache = ResultCache(out / "cache", settings)

    records: list[dict[str, Any]] = []
    extra_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    error_rows: list[dict[str, Any]] = []
    bar = Progress(len(tasks), enabled=progress)

    def ran_on(backend: str, workers: int) -> None:  # what ran the images not served from the cache
        run_info["backend_used"] = {"backend": backend, "workers": workers}

    try:
        for task, result in run_tasks(tasks, settings, cache=cache, on_result=bar.update, on_backend=ran_on):
            if isinstance(result, TaskError):
                error_rows.append(vars(result))
                continue
            assert isinstance(result, Outcome)
            records.append(result.record)
            records.extend(result.extra_records)  # facial zones of a full-face photo
            for name, rows in result.tables.items():
                extra_rows[name].extend(rows)
            for message in result.warnings:
                error_rows.append(
                    {"file": task.item.file, "stage": "warning", "error_type": "Warning", "message": message}
                )
    finally:
        bar.close()

    metrics = metrics_table(records)
    error_rows.extend(_scale_warnings(metrics))
    # Follow-ups compared with their baseline measured again on the same skin (pipelines.tables.pairing).
    paired = pd.DataFrame(extra_rows.get(PAIRED_BASELINE_TABLE, []))
    changes = changes_table(metrics, paired_baselines=paired)
    cohort = cohort_table(changes)
    errors = errors_table(sorted(error_rows, key=lambda r: (r["file"], r["stage"])))
    tables = {
        name: pd.DataFrame(rows).sort_values(["file"], kind="stable").reset_index(drop=True)
        for name, rows in sorted(extra_rows.items())
    }
    failed = int((errors["stage"] != "warning").sum()) if not errors.empty else 0
    run_info.update(
        status="complete",
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        counts={
            "images": len(tasks),
            "analysed": len(records),
            "failed": failed,
            "warnings": int((errors["stage"] == "warning").sum()) if not errors.empty else 0,
            "cached": bar.cached,
        },
        corrections=_corrections(metrics),
        # Columns the metric catalogue does not know get no changes (see docs/metrics.md).
        uncatalogued_columns=unknown_columns(metrics.columns),
        outputs=[*_BASE_OUTPUTS, *(f"{name}.csv" for name in tables)],
    )
    result = RunResult(metrics, changes, cohort, errors, tables, run_info, out)
    if out is not None:
        write_outputs(result, out)
        keep = set()
        if not metrics.empty and {"sha256", "file"} <= set(metrics.columns):
            pairs = zip(metrics["sha256"], metrics["file"], strict=True)
            keep = {overlay_key(str(sha), str(name)) for sha, name in pairs}
        prune_overlays(out, keep)  # the report shows this run's images only
        remove_stale(out, earlier - set(run_info["outputs"]))
    return result


#: What every run writes in its output folder (recorded in run.json so the next run can clean it).
_BASE_OUTPUTS = (
    "metrics.csv",
    "metrics.parquet",
    "changes.csv",
    "cohort.csv",
    "qc.csv",
    "errors.csv",
    "run.json",
    "report.html",
    "overlays",
    "cache",
)


def _roi_hash(item: ImageItem, input_root: Path) -> str:
    """Hash of an ROI mask file's bytes (a polygon is in the item itself): a mask edited under the same
    name must not be served from the cache."""
    from pipelines.analyze import is_polygon_spec

    spec = item.roi.strip()
    if not spec or is_polygon_spec(spec):
        return ""
    return _hash_or_empty(input_root / spec) or "unreadable"


def _guard_safe(settings: Settings) -> Settings:
    """Serial settings (with :data:`GUARD_WARNING`) when the call comes from the top level of a script
    without the ``__main__`` guard and would otherwise start worker processes."""
    backend, workers = resolve_backend(settings)
    starts_processes = (backend == "processes" and workers > 1) or (
        backend == "dask" and not settings.scheduler
    )
    if not starts_processes:
        return settings
    if multiprocessing.parent_process() is not None and getattr(
        multiprocessing.current_process(), "_inheriting", False
    ):
        # We are a worker importing the unguarded script: starting workers from here would recurse.
        raise RuntimeError(GUARD_WARNING)
    if not _called_from_unguarded_script():
        return settings
    warnings.warn(GUARD_WARNING, RuntimeWarning, stacklevel=3)
    return dataclasses.replace(settings, backend="serial")


def _called_from_unguarded_script() -> bool:
    """True when the current call stack starts at the top level of the ``__main__`` script, outside any
    ``if __name__ == "__main__":`` block (decided from the script's syntax tree)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return False  # interactive prompt, notebook, frozen app: workers do not import it again
    frame = sys._getframe(1)
    line = None
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                return False
    return True


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def _scale_warnings(metrics: pd.DataFrame) -> list[dict[str, Any]]:
    """Warn about images of one subject/region/modality taken at another scale than its baseline: mm and
    µm columns stay comparable, ``_px`` columns do not."""
    rows: list[dict[str, Any]] = []
    if metrics.empty:
        return rows
    said: set[tuple[str, str]] = set()  # once per photo, not once per facial zone row
    for _, group in metrics.groupby(["subject", "region", "modality"], sort=False):
        scales = group["px_per_mm"].dropna()
        if scales.nunique() <= 1:
            continue
        base = group.sort_values(["session", "file"]).iloc[0]
        for _, row in group.iterrows():
            if row["px_per_mm"] != base["px_per_mm"] and (row["file"], base["file"]) not in said:
                said.add((row["file"], base["file"]))
                rows.append(
                    {
                        "file": row["file"],
                        "stage": "warning",
                        "error_type": "ScaleMismatch",
                        "message": f"px_per_mm {row['px_per_mm']:g} differs from the baseline's "
                        f"{base['px_per_mm']:g} ({base['file']}): mm/µm columns are comparable, _px are not",
                    }
                )
    return rows


def _corrections(metrics: pd.DataFrame) -> dict[str, int]:
    """How many photos got which colour correction (from the per-image ``color_correction`` column)."""
    if "color_correction" not in metrics.columns:
        return {}
    return {str(k): int(v) for k, v in metrics["color_correction"].value_counts().items()}


def write_outputs(result: RunResult, out_dir: str | Path) -> None:
    """Write metrics.csv/.parquet, changes.csv, cohort.csv, qc.csv, errors.csv, extra tables and run.json
    (last, so a complete run.json means complete tables)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.metrics, out / "metrics.csv")
    write_parquet(result.metrics, out / "metrics.parquet")
    write_csv(result.changes, out / "changes.csv")
    write_csv(result.cohort, out / "cohort.csv")
    write_csv(result.qc, out / "qc.csv")
    write_csv(result.errors, out / "errors.csv")
    for name, frame in result.tables.items():
        write_csv(frame, out / f"{name}.csv")
    write_json(result.run_info, out / "run.json")
