"""Writing output files atomically, with spreadsheet-safe CSV.

Every file is written to a temporary file in the same folder and renamed over the target
(``os.replace`` is atomic on POSIX and Windows), so a run killed at any moment leaves either the old or the
new complete file, never a half-written one and never a stray temporary file after a normal exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

__all__ = [
    "atomic_write",
    "sweep_temporaries",
    "write_csv",
    "write_parquet",
    "write_json",
    "neutralise_formulas",
    "restore_formulas",
    "FORMULA_PREFIXES",
]

#: Cells starting with these are read as formulas by spreadsheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success flush, fsync and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs are ordinary shared files
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sweep_temporaries(folder: str | Path) -> int:
    """Delete the temporary files that :func:`atomic_write` leaves when its process is killed
    (``.<name>.<random>.tmp``) anywhere below ``folder``; returns how many were removed."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def _neutralise_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells that a spreadsheet would run as a formula start with ``'``.

    Only text cells change (numbers such as -3.2 stay numbers), following the OWASP CSV-injection advice.
    Column names are treated the same way.
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutralise_cell)
    out.columns = [_neutralise_cell(str(c)) for c in out.columns]
    return out


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` on a table read back from CSV (for display, e.g. the report),
    so that a subject called ``=A1`` is shown as such and not as ``'=A1``."""
    out = frame.copy()

    def restore(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
            return value[1:]
        return value

    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(restore)
    out.columns = [restore(str(c)) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV atomically, formula-like text cells neutralised."""
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        neutralise_formulas(frame).to_csv(fh, index=False)
    return path


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as Parquet atomically; values are kept exactly as they are."""
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        frame.to_parquet(fh, index=False)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (UTF-8, indented, NaN written as null)."""
    path = Path(path)
    text = json.dumps(_nan_to_none(data), indent=2, default=_json_default, ensure_ascii=False)
    # A folder name that is not UTF-8 reaches Python as lone surrogates: escape them rather than
    # lose run.json (or a cached result) to a UnicodeEncodeError.
    with atomic_write(path, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text + "\n")
    return path


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value
