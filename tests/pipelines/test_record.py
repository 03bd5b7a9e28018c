"""The baseline rule (pipelines.record): session 0 when present, else the earliest, one group or many."""

import numpy as np
import pandas as pd
import pytest

from pipelines.record import baseline_session, baseline_sessions_by_group
from pipelines.tables.changes import baseline_sessions


def test_baseline_session_rule():
    assert baseline_session([2, 0, 1]) == 0
    assert baseline_session([3, 1, 2]) == 1
    assert baseline_session([-1, 0, 4]) == 0  # a screening visit before the baseline does not replace it
    assert baseline_session([-2, 3]) == -2
    with pytest.raises(ValueError, match="no sessions"):
        baseline_session([])


def test_vectorised_baseline_equals_the_rule_per_group():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 60, 2000)
    sessions = rng.integers(-2, 6, 2000)
    got = baseline_sessions_by_group(sessions, groups)
    for g in np.unique(groups):
        assert (got[groups == g] == baseline_session(sessions[groups == g])).all()
    assert baseline_sessions_by_group(np.array([], int), np.array([], int)).size == 0
    with pytest.raises(ValueError, match="one length"):
        baseline_sessions_by_group(np.zeros(3), np.zeros(2))


def test_changes_rows_get_their_groups_baseline():
    # Photo rows have no stain (NaN): they must still form groups, not be dropped.
    frame = pd.DataFrame(
        {
            "subject": ["A", "A", "A", "B", "B", "B"],
            "region": ["cheek"] * 6,
            "modality": ["photo"] * 6,
            "stain": [np.nan] * 6,
            "metric": ["m", "m", "n", "m", "m", "m"],
            "session": [1, 2, 3, 0, 2, -1],
        }
    )
    assert list(baseline_sessions(frame)) == [1, 1, 3, 0, 0, 0]
