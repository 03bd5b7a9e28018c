"""Across subjects: the change of each metric per follow-up session, with a paired test (``cohort.csv``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.tables.changes import baseline_sessions

__all__ = ["COHORT_COLUMNS", "MIN_SUBJECTS_FOR_TEST", "cohort_table"]


COHORT_COLUMNS = (
    "metric",
    "session",
    "n_subjects",
    "pct_change_mean",
    "pct_change_median",
    "pct_change_sd",
    "test",
    "p_value",
    "note",
)


#: The fewest subjects for which the paired test is run at all.
MIN_SUBJECTS_FOR_TEST = 3


def cohort_table(changes: pd.DataFrame) -> pd.DataFrame:
    """Across subjects, per metric and follow-up session: n, mean/median/SD of % change, and a
    two-sided Wilcoxon signed-rank test of the paired (value - baseline) differences.

    A subject with several regions contributes the mean over its regions. With fewer than
    :data:`MIN_SUBJECTS_FOR_TEST` subjects no test is run; the ``note`` column says why. With fewer than
    6 subjects the exact two-sided test cannot reach p < 0.05, which the note also says.
    """
    if changes.empty:
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    follow = changes[changes["session"] != baseline_sessions(changes)]
    per_subject = (
        follow.groupby(["metric", "session", "subject"], sort=True)[["pct_change", "delta"]]
        .mean()
        .reset_index()
    )
    rows = []
    for (metric, session), group in per_subject.groupby(["metric", "session"], sort=True):
        deltas = group["delta"].dropna().to_numpy()
        pct = group["pct_change"].dropna().to_numpy()
        n = int(len(deltas))
        test, p_value, note = "wilcoxon_signed_rank", float("nan"), ""
        if n < MIN_SUBJECTS_FOR_TEST:
            test, note = "", f"n = {n} subjects: too few for a paired test (needs >= {MIN_SUBJECTS_FOR_TEST})"
        elif np.all(deltas == 0):
            note = "all differences are zero: no test"
        else:
            p_value = float(stats.wilcoxon(deltas, alternative="two-sided").pvalue)
            if n < 6:
                note = f"n = {n}: the exact two-sided test cannot reach p < 0.05 below 6 subjects"
        rows.append(
            {
                "metric": metric,
                "session": int(session),
                "n_subjects": n,
                "pct_change_mean": float(np.mean(pct)) if pct.size else float("nan"),
                "pct_change_median": float(np.median(pct)) if pct.size else float("nan"),
                "pct_change_sd": float(np.std(pct, ddof=1)) if pct.size >= 2 else float("nan"),
                "test": test,
                "p_value": p_value,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=list(COHORT_COLUMNS))
