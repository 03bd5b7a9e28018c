"""Who owns an output folder, and getting it ready before any work starts.

A run owns its output folder. Before the first image is analysed, :func:`check_output_folder` refuses

- a path that is a file, or a folder that cannot be created or written to;
- a folder with less than :data:`MIN_FREE_BYTES` free;
- a folder holding files that no skintex run wrote (another tool's, or the user's own ``metrics.csv``),
  unless the user forces it (``--force``). When ``-o`` is the input folder, its images and manifest are
  inputs, not foreign files: only a foreign file under one of skintex's own output names is refused there.

A folder that holds an earlier skintex run is taken over: the files that run listed in its ``run.json``
(``outputs``) and this run does not write again are removed (:func:`remove_stale`), and so are the overlay
folders of images that are not in this run (:func:`prune_overlays`), so the report and the tables show
only the current run. Both happen after the new tables are written, so a run killed half-way leaves the
earlier run's complete files (every file is replaced atomically), never a folder with neither; the
interrupted run's ``run.json`` lists both runs' files for the next run to clean. The per-image cache
stays: it is keyed by content and settings, and is what makes "re-run the same command to resume" work.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.io.files import LOCK_NAME, TEMP_PREFIX, is_temporary

__all__ = [
    "MIN_FREE_BYTES",
    "OUTPUT_NAMES",
    "OutputFolderError",
    "check_output_folder",
    "previous_outputs",
    "previous_run",
    "probe_writable",
    "prune_overlays",
    "remove_stale",
]

#: Free space an output folder needs before a run starts: tables, overlays and the cache of a
#: few hundred images fit in far less; below this a run would fail at its first write.
MIN_FREE_BYTES = 64 * 2**20

#: Names a run writes in its output folder (extra long tables such as ``orientations.csv`` are added
#: by name in ``run.json``'s ``outputs``).
OUTPUT_NAMES = (
    "metrics.csv",
    "metrics.parquet",
    "changes.csv",
    "cohort.csv",
    "qc.csv",
    "errors.csv",
    "orientations.csv",
    "paired_baseline.csv",
    "run.json",
    "report.html",
    "overlays",
    "cache",
)

# Files a desktop leaves in any folder: never "another tool's files".
_HARMLESS = re.compile(r"^(\..*|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)
# What a run.json's ``outputs`` may name for removal: a plain file name with an output suffix, so a
# hand-edited run.json can never point the cleaner at anything else.
_REMOVABLE = re.compile(r"^[^/\\]+\.(csv|parquet|html)$")
_OVERLAY_KEY = re.compile(r"^[0-9a-f]{16}$")


class OutputFolderError(ValueError):
    """The output folder cannot be used (not writable, full, or holding files skintex did not write)."""


def previous_run(out: Path) -> dict[str, Any] | None:
    """The ``run.json`` of an earlier skintex run in ``out``, or None when there is none."""
    path = out / "run.json"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            data = json.loads(fh.read(1 << 22))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "skintex_version" not in data:
        return None
    return data


def _owned_names(run: dict[str, Any] | None) -> set[str]:
    if run is None:
        return set()
    listed = run.get("outputs")
    names = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    # A run.json written before ``outputs`` existed: the names every run writes.
    return names | set(OUTPUT_NAMES)


def _same_or_inside(inner: Path, outer: Path) -> bool:
    try:
        inner.resolve().relative_to(outer.resolve())
    except (ValueError, OSError):
        return False
    return True


def _listing(names: Iterable[str], limit: int = 5) -> str:
    names = sorted(names)
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_output_folder(out: str | Path, *, input_root: Path | None = None, force: bool = False) -> None:
    """Refuse an output folder that this run cannot or must not write into; writes nothing.

    Raises
    ------
    OutputFolderError
        The path is a file; the folder (or the parent it would be created in) is not writable; it has
        less than :data:`MIN_FREE_BYTES` free; it holds files no skintex run wrote (unless ``force``).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError("the output path is a file, not a folder; give a folder with -o")
    existing = out
    while not existing.exists():  # the folder will be created: its nearest existing parent must be writable
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError("the output folder cannot be created: a part of its path is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError("the output folder is not writable (permission denied)")
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = None
    if free is not None and free < MIN_FREE_BYTES:
        raise OutputFolderError(
            f"only {free / 2**20:.0f} MiB free where the output folder is; skintex needs at least "
            f"{MIN_FREE_BYTES / 2**20:.0f} MiB: free some space or choose another folder"
        )
    if not out.is_dir() or force:
        return
    owned = _owned_names(previous_run(out))
    entries = [
        e.name
        for e in out.iterdir()
        if e.name != LOCK_NAME and not is_temporary(e.name) and not _HARMLESS.match(e.name)
    ]
    foreign = [n for n in entries if n not in owned]
    if input_root is not None and _same_or_inside(input_root, out):
        # -o is the input folder (or contains it): the images are inputs. Only a file under one of
        # skintex's own output names that no skintex run wrote is someone else's.
        foreign = [n for n in foreign if n in OUTPUT_NAMES]
    if foreign:
        raise OutputFolderError(
            f"the output folder holds {len(foreign)} file(s) that skintex did not write "
            f"({_listing(foreign)}); "
            "choose an empty or new folder, or pass --force (force=True) to write there anyway "
            "(skintex then replaces only its own file names)"
        )


def probe_writable(out: Path) -> None:
    """Create and delete a temporary file in ``out``: permissions and read-only mounts fail here, before
    any image is analysed, rather than at the first cache write."""
    try:
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f"{TEMP_PREFIX}probe.", suffix=".tmp")
    except OSError as exc:
        raise OutputFolderError(
            f"the output folder is not writable ({exc.strerror or type(exc).__name__})"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def previous_outputs(out: Path) -> set[str]:
    """The files an earlier skintex run in ``out`` wrote (its ``run.json`` ``outputs``) that a new run
    may remove: plain ``.csv``/``.parquet``/``.html`` names directly in ``out``, never anything else."""
    run = previous_run(out)
    if run is None:
        return set()
    return {n for n in _owned_names(run) if _REMOVABLE.match(n) and ".." not in n}


def remove_stale(out: Path, names: Iterable[str]) -> list[str]:
    """Remove the files ``names`` (from :func:`previous_outputs`) that the current run did not write
    again, e.g. an earlier run's ``orientations.csv`` when this run has no histology; returns them.

    Called after the new tables are written: until then a crash leaves the earlier run's complete
    files, never a folder with neither."""
    removed = []
    for name in sorted(names):
        if not _REMOVABLE.match(name) or ".." in name:
            continue
        path = out / name
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(name)
    return removed


def prune_overlays(out: Path, keep: set[str]) -> int:
    """Remove overlay folders (``overlays/<16 hex>``) of images that are not in the current run."""
    folder = out / "overlays"
    if not folder.is_dir() or folder.is_symlink():
        return 0
    removed = 0
    for entry in folder.iterdir():
        if (
            entry.is_dir()
            and not entry.is_symlink()
            and _OVERLAY_KEY.match(entry.name)
            and entry.name not in keep
        ):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
