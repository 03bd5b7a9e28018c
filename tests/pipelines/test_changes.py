"""Change-table arithmetic on hand-made tables whose answers are worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.tables.changes import CHANGES_COLUMNS, changes_table
from pipelines.tables.cohort import COHORT_COLUMNS, cohort_table
from pipelines.tables.metrics import metrics_table
from pipelines.tables.repeatability import repeatability_from_repeats


def _record(subject, session, value, *, date="", file=None, region="cheek", angle=None, modality="photo"):
    rec = {
        "file": file or f"{subject}_{session}.png",
        "sha256": "0" * 64,
        "subject": subject,
        "session": session,
        "date": date,
        "modality": modality,
        "region": region,
        "stain": "",
        "px_per_mm": 25.0,
        "width_px": 10,
        "height_px": 10,
        "treatment": "",
        "pore_mean_diameter_mm": value,
        "ita_class": "light",
    }
    if angle is not None:
        rec["collagen_orientation_deg"] = angle
    return rec


def test_changes_against_baseline_and_previous():
    metrics = metrics_table(
        [
            _record("P1", 0, 0.40, date="2026-01-01"),
            _record("P1", 2, 0.30, date="2026-01-29"),
            _record("P1", 1, 0.36, date="2026-01-15"),
        ]
    )
    ch = changes_table(metrics, repeatability_cv={"pore_mean_diameter_mm": 0.02})
    assert list(ch.columns) == list(CHANGES_COLUMNS)
    ch = ch.set_index("session")
    assert ch.loc[1, "delta"] == pytest.approx(-0.04)
    assert ch.loc[1, "pct_change"] == pytest.approx(-10.0)
    assert ch.loc[2, "pct_change"] == pytest.approx(-25.0)
    assert ch.loc[2, "previous_value"] == pytest.approx(0.36)
    assert ch.loc[2, "delta_previous"] == pytest.approx(-0.06)
    assert ch.loc[2, "pct_change_previous"] == pytest.approx(-100 * 0.06 / 0.36)
    assert list(ch["days_from_baseline"]) == [0.0, 14.0, 28.0]
    assert math.isnan(ch.loc[0, "previous_value"])
    # SRD = 1.96 * sqrt(2) * 0.02 * 0.40 = 0.0222 mm: a 0.04 mm change is beyond it.
    assert ch.loc[1, "beyond_repeatability"] == True  # noqa: E712 (pandas nullable boolean)
    assert ch.loc[0, "beyond_repeatability"] == False  # noqa: E712


def test_small_change_is_within_repeatability():
    metrics = metrics_table([_record("P1", 0, 0.400), _record("P1", 1, 0.396)])  # -1 %
    ch = changes_table(metrics, repeatability_cv={"pore_mean_diameter_mm": 0.02}).set_index("session")
    assert ch.loc[1, "pct_change"] == pytest.approx(-1.0)
    assert ch.loc[1, "beyond_repeatability"] == False  # noqa: E712


def test_earliest_session_is_baseline_when_session_zero_is_missing():
    ch = changes_table(metrics_table([_record("P1", 2, 2.0), _record("P1", 5, 3.0)]))
    assert ch["baseline_value"].tolist() == [2.0, 2.0]
    assert ch.set_index("session").loc[5, "pct_change"] == pytest.approx(50.0)
    assert math.isnan(ch.set_index("session").loc[2, "days_from_baseline"])  # no dates known


def test_repeat_captures_are_averaged_and_give_repeatability():
    records = [
        _record("P1", 0, 0.40, file="a"),
        _record("P1", 0, 0.44, file="b"),
        _record("P1", 1, 0.30, file="c"),
    ]
    metrics = metrics_table(records)
    cv = repeatability_from_repeats(metrics)["pore_mean_diameter_mm"]
    assert cv == pytest.approx(np.std([0.40, 0.44], ddof=1) / 0.42)
    ch = changes_table(metrics).set_index("session")
    assert ch.loc[0, "value"] == pytest.approx(0.42)
    # Definition changed on purpose (issue 14): a run's own estimate replaces the catalogue default only
    # with >= 2 captures in >= 10 subjects; one subject keeps the default CV (4 %, VISIA pores).
    assert ch.loc[1, "repeatability_cv"] == pytest.approx(0.04)
    assert "too few" in ch.loc[1, "repeatability_source"]


def test_frame_relative_orientation_has_no_changes():
    # Definition changed on purpose (issue 14): an angle relative to the image frame of different
    # biopsies cannot change meaningfully between sessions; it stays in metrics.csv only. Axial means
    # and wrapped deltas are tested in tests/pipelines/tables/test_scale_aware_changes.py.
    metrics = metrics_table([_record("P1", 0, 1.0, angle=175.0), _record("P1", 1, 1.0, angle=5.0)])
    assert "collagen_orientation_deg" not in set(changes_table(metrics)["metric"])


def test_subjects_and_regions_are_separate_series():
    metrics = metrics_table(
        [
            _record("P1", 0, 1.0),
            _record("P1", 1, 2.0),
            _record("P2", 0, 4.0),
            _record("P2", 1, 3.0),
            _record("P1", 0, 10.0, region="forehead"),
            _record("P1", 1, 5.0, region="forehead"),
        ]
    )
    ch = changes_table(metrics).query("metric == 'pore_mean_diameter_mm' and session == 1")
    got = {(r.subject, r.region): r.pct_change for r in ch.itertuples()}
    assert got == {("P1", "cheek"): 100.0, ("P1", "forehead"): -50.0, ("P2", "cheek"): -25.0}


def test_cohort_with_three_subjects_has_a_p_value():
    records = []
    for subject, base in (("P1", 0.40), ("P2", 0.50), ("P3", 0.45)):
        records += [_record(subject, 0, base), _record(subject, 1, base * 0.85)]
    cohort = cohort_table(changes_table(metrics_table(records)))
    assert list(cohort.columns) == list(COHORT_COLUMNS)
    row = cohort.query("metric == 'pore_mean_diameter_mm'").iloc[0]
    assert row["n_subjects"] == 3 and row["session"] == 1
    # pct_change_mean / _sd are gone on purpose (issue 14): the cohort reports the median change with
    # its Hodges-Lehmann interval in the metric's unit, and the median % change for ratio scales.
    assert row["pct_change_median"] == pytest.approx(-15.0)
    assert row["delta_median"] == pytest.approx(-0.15 * 0.45)
    assert row["test"] == "wilcoxon_signed_rank"
    assert row["p_value"] == pytest.approx(0.25)  # exact two-sided signed-rank, n = 3, all negative
    assert "cannot reach" in row["note"]


def test_cohort_with_too_few_subjects_says_so():
    cohort = cohort_table(changes_table(metrics_table([_record("P1", 0, 1.0), _record("P1", 1, 0.5)])))
    row = cohort.iloc[0]
    assert row["n_subjects"] == 1 and math.isnan(row["p_value"]) and "too few" in row["note"]


def test_empty_inputs_give_empty_tables_with_columns():
    assert list(changes_table(pd.DataFrame()).columns) == list(CHANGES_COLUMNS)
    assert list(cohort_table(changes_table(pd.DataFrame())).columns) == list(COHORT_COLUMNS)
