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
    _coerce_numbers(table, path.name, notes)
    if "session" in table:
        table["session"] = pd.to_numeric(table["session"], errors="coerce")
    for column in ("subject", "region"):
        if column in table:
            table[column] = table[column].fillna("")
    return table


#: Columns of the saved tables that hold numbers whatever a hand edit put in them.
NUMERIC_COLUMNS = frozenset(
    {
        "session",
        "px_per_mm",
        "width_px",
        "height_px",
        "days_from_baseline",
        "n_captures",
        "value",
        "baseline_value",
        "delta",
        "pct_change",
        "previous_value",
        "delta_previous",
        "pct_change_previous",
        "repeatability_cv",
        "repeatability_sd",
        "srd",
        "n_subjects",
        "n_zero",
        "delta_median",
        "hl_estimate",
        "ci_low",
        "ci_high",
        "ci_level",
        "pct_change_mean",
        "pct_change_median",
        "pct_change_sd",
        "p_value",
        "p_holm",
        "q_bh",
        "bin_start_deg",
        "bin_end_deg",
        "fraction",
    }
)


def _coerce_numbers(table: pd.DataFrame, name: str, notes: list[str]) -> None:
    """Number columns made numeric in place: a hand-edited cell (``#DIV/0!``, ``2 subjects``, ``n/a``)
    becomes empty, and the page says how many there were, instead of the report failing on text where a
    number belongs. A column counts as numeric when skintex writes it so (:data:`NUMERIC_COLUMNS`) or
    when most of its filled cells are numbers (metric columns)."""
    for column in table.columns:
        values = table[column]
        if column in TEXT_COLUMNS or not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        filled = values.notna() & values.astype(str).str.strip().ne("")
        numbers = pd.to_numeric(values.where(filled), errors="coerce")
        odd = filled & numbers.isna()
        if not odd.any():
            if filled.any():
                table[column] = numbers
            continue
        if column not in NUMERIC_COLUMNS and int(numbers.notna().sum()) <= int(odd.sum()):
            continue  # a text column (a class, a note)
        example = str(values[odd].iloc[0])[:30]
        table[column] = numbers
        notes.append(
            f"{name}: {int(odd.sum())} cell(s) of column {column!r} are not numbers "
            f"(e.g. {example!r}, a hand edit?) and are shown empty."
        )


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
