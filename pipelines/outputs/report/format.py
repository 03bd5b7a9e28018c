"""Number, date and label formatting for the report (no pandas beyond missing-value checks)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

_ACRONYMS = {a.lower(): a for a in ("ITA", "GLCM", "GLRLM", "GLSZM", "GLDZM", "NGTDM", "NGLDM", "LBP")}


_UNITS = (
    ("_mm_per_cm2", "mm/cm²"),
    ("_per_cm2", "1/cm²"),
    ("_fraction", "fraction"),
    ("_deg", "°"),
    ("_um", "µm"),
    ("_mm", "mm"),
    ("_px", "px"),
)


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


def plain(text: str) -> str:
    # Matplotlib would read $...$ in user-supplied names as mathtext.
    return text.replace("$", r"\$")


def missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def truthy(value: Any) -> bool:
    if missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def cell(value: Any) -> str:
    return "" if missing(value) else str(value)


def session_text(session: Any) -> str:
    if missing(session):
        return ""
    number = float(session)
    return f"{number:g}"


def date_text(date: Any) -> str:
    """A date as written in the tables, without a midnight time that only adds noise."""
    text = cell(date)
    for midnight in ("T00:00:00", " 00:00:00"):
        if text.endswith(midnight):
            return text[: -len(midnight)]
    return text


def days_text(days: Any) -> str:
    return "" if missing(days) else f"{float(days):g}"


def format_number(value: Any) -> str:
    if missing(value) or value == "":
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


def format_pct(value: Any) -> str:
    if missing(value):
        return "–"
    return f"{float(value):+.1f} %"


def format_p(value: Any) -> str:
    if missing(value):
        return "–"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
