"""Reading the saved tables and run.json of an output folder, tolerating hand-edited files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.outputs.export import restore_formulas
from pipelines.record import IDENTITY_COLUMNS
from pipelines.tables.catalogue import is_known, lookup

TEXT_COLUMNS = ("file", "sha256", "subject", "date", "modality", "region", "stain", "metric")


def read_table(path: Path, notes: list[str]) -> pd.DataFrame:
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


def read_run(path: Path, notes: list[str]) -> dict[str, Any]:
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


def values_from_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long subject x region x metric x session values when changes.csv is unavailable."""
    needed = {"subject", "session"}
    if not needed <= set(metrics.columns):
        return pd.DataFrame()
    value_columns = [
        c
        for c in metrics.columns
        if c not in IDENTITY_COLUMNS
        and pd.api.types.is_numeric_dtype(metrics[c])
        and not QUALITY_PATTERN.search(c)
        # Outcomes only (quality control and frame-relative angles are no trends of the skin).
        and (not is_known(c) or lookup(c).role == "outcome")
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


QUALITY_PATTERN = re.compile(r"registration|color_delta_e|correction|exposure")
