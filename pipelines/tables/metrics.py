"""Per-image records into the ``metrics.csv`` table, which of its columns are metrics, and ``errors.csv``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from pipelines.record import IDENTITY_COLUMNS

__all__ = ["ERRORS_COLUMNS", "GROUP_COLUMNS", "metrics_table", "metric_columns", "errors_table"]


GROUP_COLUMNS = ("subject", "region", "modality", "stain")


ERRORS_COLUMNS = ("file", "stage", "error_type", "message")


# Columns of metrics.csv that describe the image, not the skin.
_NOT_METRICS = frozenset(IDENTITY_COLUMNS) | {"registration_error_px"}


def metrics_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per image: identity columns first (docs/architecture.md order), then metrics in
    first-seen order, sorted by subject, region, session, file."""
    records = list(records)
    if not records:
        return pd.DataFrame(columns=list(IDENTITY_COLUMNS))
    order: dict[str, None] = dict.fromkeys(IDENTITY_COLUMNS)
    for rec in records:
        order.update(dict.fromkeys(rec))
    frame = pd.DataFrame.from_records(records, columns=list(order))
    frame["session"] = frame["session"].astype("int64")
    for col in ("subject", "region", "modality", "stain", "date", "treatment", "file"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame.sort_values(["subject", "region", "session", "file"], kind="stable").reset_index(drop=True)


def metric_columns(metrics: pd.DataFrame) -> list[str]:
    """The numeric measurement columns of a metrics table."""
    return [
        c
        for c in metrics.columns
        if c not in _NOT_METRICS
        and pd.api.types.is_numeric_dtype(metrics[c])
        and not pd.api.types.is_bool_dtype(metrics[c])
    ]


def errors_table(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """``errors.csv``: one row per image that failed (or warning), columns file, stage, error_type,
    message."""
    return pd.DataFrame(list(rows), columns=list(ERRORS_COLUMNS))
