"""Writing output files atomically, with spreadsheet-safe CSV.

Every file is written to a temporary file in the same folder and renamed over the target
(``os.replace`` is atomic on POSIX and Windows), so a run killed at any moment leaves either the old or the
new complete file, never a half-written one and never a stray temporary file after a normal exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.io.files import atomic_write, write_json

__all__ = [
    "write_csv",
    "write_parquet",
    "write_json",
    "neutralise_formulas",
    "restore_formulas",
    "FORMULA_PREFIXES",
]

#: Cells starting with these are read as formulas by spreadsheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
    safe = neutralise_formulas(frame)
    # Python's csv quotes a cell holding a line terminator character; with the usual "\n" a bare "\r"
    # (possible in a file name) went out unquoted and split the row in every reader. Tables holding one
    # are written with "\r\n" rows (RFC 4180), which makes the writer quote both characters.
    terminator = "\r\n" if _has_carriage_return(safe) else "\n"
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        safe.to_csv(fh, index=False, lineterminator=terminator)
    return path


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    if any("\r" in str(c) for c in frame.columns):
        return True
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            if frame[col].map(lambda v: isinstance(v, str) and "\r" in v).any():
                return True
    return False


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as Parquet atomically; values are kept exactly as they are."""
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        frame.to_parquet(fh, index=False)
    return path
