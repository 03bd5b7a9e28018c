"""Across subjects: the change of each outcome metric per follow-up session (``cohort.csv``).

Outcome metrics only (``changes.csv`` holds nothing else; see :mod:`pipelines.tables.catalogue`). Per
metric x follow-up session, over subjects (a subject with several regions contributes the mean of its
regions' changes), in the metric's ``delta_unit`` (percentage points for fractions, wrapped degrees for
axial angles):

- ``n_subjects`` and ``n_zero`` (subjects whose change is exactly 0);
- ``delta_median`` and the Hodges–Lehmann estimate ``hl_estimate`` with its distribution-free
  confidence interval ``ci_low``..``ci_high`` from the exact signed-rank distribution
  (``ci_level`` is the coverage actually achieved, >= 95 %; none below 6 subjects), ``ci_method``
  naming it (:func:`pipelines.tables.statistics.hodges_lehmann_ci`);
- ``pct_change_median`` for ratio and count metrics (median over subjects of the % change, where
  ``changes.csv`` reports one);
- the two-sided Wilcoxon signed-rank test of the changes against 0 (``p_value``; zero differences
  dropped and counted; exact for up to 50 non-zero differences, ``test_method`` says which);
- ``p_holm`` (Holm) and ``q_bh`` (Benjamini–Hochberg) across the outcome metrics tested at the same
  session: the family is stated in ``note``.

Measurements, not diagnoses: a small p says the median change is unlikely to be 0 in this cohort, not
that the treatment works.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.tables.changes import baseline_sessions
from pipelines.tables.statistics import (
    benjamini_hochberg,
    hodges_lehmann_ci,
    holm,
    wilcoxon_signed_rank,
)

__all__ = ["COHORT_COLUMNS", "MIN_SUBJECTS_FOR_TEST", "cohort_table"]


COHORT_COLUMNS = (
    "metric",
    "scale",
    "delta_unit",
    "session",
    "n_subjects",
    "n_zero",
    "delta_median",
    "hl_estimate",
    "ci_low",
    "ci_high",
    "ci_level",
    "ci_method",
    "pct_change_median",
    "test",
    "test_method",
    "p_value",
    "p_holm",
    "q_bh",
    "note",
)


#: The fewest subjects for which the paired test is run at all.
MIN_SUBJECTS_FOR_TEST = 3


def cohort_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Per outcome metric and follow-up session: n, median and Hodges–Lehmann change with its exact
    95 % interval, Wilcoxon signed-rank p, Holm p and Benjamini–Hochberg q across the session's metrics.

    With fewer than :data:`MIN_SUBJECTS_FOR_TEST` subjects no test is run, with fewer than 6 no 95 %
    interval exists and the exact two-sided test cannot reach p < 0.05; ``note`` says so.
    """
    if changes.empty:
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    follow = changes[changes["session"] != baseline_sessions(changes)]
    if follow.empty:
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    info = changes.groupby("metric", sort=False)[["scale", "delta_unit"]].first()
    per_subject = (
        follow.groupby(["metric", "session", "subject"], sort=True)[["pct_change", "delta"]]
        .mean()
        .reset_index()
    )
    rows = []
    for (metric, session), group in per_subject.groupby(["metric", "session"], sort=True):
        deltas = group["delta"].dropna().to_numpy(dtype=float)
        pct = group["pct_change"].dropna().to_numpy(dtype=float)
        n = int(deltas.size)
        notes = []
        ci = hodges_lehmann_ci(deltas)
        test, method, p_value = "wilcoxon_signed_rank", "", float("nan")
        n_zero = int(np.count_nonzero(deltas == 0))
        if n < MIN_SUBJECTS_FOR_TEST:
            test = ""
            notes.append(f"n = {n} subjects: too few for a paired test (needs >= {MIN_SUBJECTS_FOR_TEST})")
        else:
            result = wilcoxon_signed_rank(deltas)
            p_value, method = result.p_value, result.method
            if result.n_zero == n:
                notes.append("all differences are zero: no test")
            elif result.n_zero:
                notes.append(f"{result.n_zero} zero difference(s) dropped from the test")
            if n < 6:
                notes.append(f"n = {n}: the exact two-sided test cannot reach p < 0.05 below 6 subjects")
        if n and not np.isfinite(ci.low):
            notes.append("no 95 % interval below 6 subjects")
        rows.append(
            {
                "metric": metric,
                "scale": info.at[metric, "scale"],
                "delta_unit": info.at[metric, "delta_unit"],
                "session": int(session),
                "n_subjects": n,
                "n_zero": n_zero,
                "delta_median": float(np.median(deltas)) if n else float("nan"),
                "hl_estimate": ci.estimate,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "ci_level": ci.level,
                "ci_method": ci.method,
                "pct_change_median": float(np.median(pct)) if pct.size else float("nan"),
                "test": test,
                "test_method": method,
                "p_value": p_value,
                "note": notes,
            }
        )
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    out["q_bh"] = np.nan
    for session, idx in out.groupby("session").groups.items():
        p = out.loc[idx, "p_value"].to_numpy(dtype=float)
        m = int(np.isfinite(p).sum())
        out.loc[idx, "p_holm"] = holm(p)
        out.loc[idx, "q_bh"] = benjamini_hochberg(p)
        family = f"Holm/BH family: the {m} outcome metric(s) tested at session {session}"
        for i in idx:
            if np.isfinite(out.at[i, "p_value"]):
                out.at[i, "note"] = [*out.at[i, "note"], family]
    out["note"] = out["note"].map("; ".join)
    return out[list(COHORT_COLUMNS)]
