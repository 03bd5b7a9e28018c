"""One line per measured figure, in a form ``benchmarks/run_all.py`` collects into its table.

``RESULT<TAB>name<TAB>value<TAB>goal<TAB>status<TAB>note``: ``status`` is ``met``, ``NOT met`` or
``info`` (a figure without a goal). Benchmarks print their own details around these lines.
"""

from __future__ import annotations

import operator

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


def result(
    name: str,
    value: float,
    *,
    goal: float | None = None,
    op: str = "<=",
    fmt: str = ".2f",
    unit: str = "",
    note: str = "",
) -> str:
    """Print (and return) one RESULT line; ``value`` is compared with ``goal`` by ``op``."""
    shown = f"{value:{fmt}}{unit}"
    if goal is None:
        goal_text, status = "-", "info"
    else:
        goal_text = f"{op} {goal:g}{unit}"
        status = "met" if _OPS[op](value, goal) else "NOT met"
    line = "\t".join(("RESULT", name, shown, goal_text, status, note))
    print(line, flush=True)
    return line


def min_median(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
    return ordered[0], median
