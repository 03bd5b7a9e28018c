"""changes.csv and cohort.csv by scale: hand-computed cases through the table functions."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipelines.tables import catalogue
from pipelines.tables.changes import CHANGES_COLUMNS, changes_table
from pipelines.tables.cohort import COHORT_COLUMNS, cohort_table
from pipelines.tables.metrics import metrics_table
from pipelines.tables.qc import qc_table

SRD_1 = 1.96 * math.sqrt(2.0)  # single captures at both sessions


def _rec(subject, session, *, file=None, modality="photo", region="cheek", stain="", **metrics):
    return {
        "file": file or f"{subject}_{session}_{region}.png",
        "sha256": "0" * 64,
        "subject": subject,
        "session": session,
        "date": "",
        "modality": modality,
        "region": region,
        "stain": stain,
        "px_per_mm": 25.0,
        "width_px": 10,
        "height_px": 10,
        "treatment": "",
        **metrics,
    }


def _row(changes, metric, session, subject="P1"):
    sel = changes[(changes.metric == metric) & (changes.session == session) & (changes.subject == subject)]
    assert len(sel) == 1, (metric, session, subject)
    return SimpleNamespace(**sel.iloc[0].to_dict())  # attribute access without Series' own methods


def test_only_outcomes_have_changes_and_qc_goes_to_its_own_table():
    common = {
        "roi_area_px": 3e5,
        "roi_area_cm2": 4.8,
        "exposure_gain": 1.01,
        "registration_error_px": 0.3,
        "pore_mean_diameter_mm": 0.4,
        "pore_mean_diameter_px": 10.0,
        "collagen_orientation_deg": 20.0,
        "mystery_metric": 1.0,  # not catalogued: left out (a test keeps the catalogue complete)
    }
    metrics = metrics_table([_rec("P1", 0, **common), _rec("P1", 1, **common)])
    ch = changes_table(metrics)
    assert list(ch.columns) == list(CHANGES_COLUMNS)
    assert set(ch.metric) == {"pore_mean_diameter_mm"}
    qc = qc_table(metrics)
    assert {
        "roi_area_px",
        "roi_area_cm2",
        "exposure_gain",
        "registration_error_px",
        "pore_mean_diameter_px",
    } <= set(qc.columns)
    assert "pore_mean_diameter_mm" not in qc.columns and "collagen_orientation_deg" not in qc.columns
    assert len(qc) == 2 and qc.columns[0] == "file"


def test_ita_is_an_interval_scale_same_verdict_near_zero_and_at_45():
    # The case: +1.3 deg at a baseline of 0.8 deg and at 45 deg. Interval scale: no % change,
    # SRD = 1.96 * sqrt(2) * 1.5 deg = 4.158 deg at both (not CV x |baseline|: 0.044 vs 2.49 deg).
    metrics = metrics_table(
        [
            _rec("P1", 0, ita_deg=0.8),
            _rec("P1", 1, ita_deg=2.1),
            _rec("P2", 0, ita_deg=45.0),
            _rec("P2", 1, ita_deg=46.3),
        ]
    )
    ch = changes_table(metrics)
    for subject in ("P1", "P2"):
        row = _row(ch, "ita_deg", 1, subject)
        assert row.delta == pytest.approx(1.3)
        assert row.scale == "interval" and row.delta_unit == "deg"
        assert math.isnan(row.pct_change) and "no % change" in row.note
        assert row.srd == pytest.approx(SRD_1 * 1.5)
        assert row.beyond_repeatability == False  # noqa: E712


def test_fraction_changes_in_percentage_points():
    metrics = metrics_table(
        [_rec("P1", 0, pore_area_fraction=0.070), _rec("P1", 1, pore_area_fraction=0.080)]
    )
    row = _row(changes_table(metrics), "pore_area_fraction", 1)
    assert row.delta == pytest.approx(1.0) and row.delta_unit == "pp"  # 7 % -> 8 %: +1 pp
    assert math.isnan(row.pct_change) and row.note.startswith("fraction")
    assert row.srd == pytest.approx(SRD_1 * 0.3)  # 0.83 pp
    assert row.beyond_repeatability == True  # noqa: E712
    assert row.value == pytest.approx(0.080)  # values stay fractions, as in metrics.csv


def test_counts_from_zero():
    metrics = metrics_table(
        [
            _rec("P1", 0, spot_count=0.0),
            _rec("P1", 1, spot_count=1.0),
            _rec("P1", 2, spot_count=3.0),
        ]
    )
    ch = changes_table(metrics)
    one, three = _row(ch, "spot_count", 1), _row(ch, "spot_count", 2)
    assert one.srd == pytest.approx(SRD_1 * 1.0)  # SD floor of one count
    assert one.beyond_repeatability == False  # noqa: E712  0 -> 1
    assert three.beyond_repeatability == True  # noqa: E712  0 -> 3 > 2.77
    assert math.isnan(one.pct_change) and "baseline is 0" in one.note
    # delta_previous 1 -> 3 and its % change against a baseline under 10 counts: none.
    assert three.delta_previous == 2.0 and math.isnan(three.pct_change_previous)


def test_ratio_scale_percent_change_and_srd():
    metrics = metrics_table(
        [_rec("P1", 0, pore_mean_diameter_mm=0.40), _rec("P1", 1, pore_mean_diameter_mm=0.30)]
    )
    row = _row(changes_table(metrics), "pore_mean_diameter_mm", 1)
    assert row.pct_change == pytest.approx(-25.0)
    assert row.repeatability_cv == 0.04 and row.repeatability_source == "default"
    assert row.srd == pytest.approx(SRD_1 * 0.04 * 0.40)  # 0.0443 mm
    assert row.beyond_repeatability == True  # noqa: E712


def test_repeat_captures_are_averaged_and_shrink_the_srd():
    metrics = metrics_table(
        [
            _rec("P1", 0, file="a", pore_mean_diameter_mm=0.40),
            _rec("P1", 0, file="b", pore_mean_diameter_mm=0.44),
            _rec("P1", 1, file="c", pore_mean_diameter_mm=0.40),
        ]
    )
    ch = changes_table(metrics)
    base, follow = _row(ch, "pore_mean_diameter_mm", 0), _row(ch, "pore_mean_diameter_mm", 1)
    assert base.value == pytest.approx(0.42) and base.n_captures == 2 and follow.n_captures == 1
    sd = 0.04 * 0.42
    assert follow.srd == pytest.approx(1.96 * math.sqrt(sd**2 / 2 + sd**2 / 1))
    # One subject with repeats is far from the >= 10 needed: the default CV is used, and said so.
    assert follow.repeatability_cv == 0.04 and "too few" in follow.repeatability_source


def test_run_estimate_replaces_the_default_with_ten_subjects():
    records = []
    for i in range(10):
        s = f"P{i:02d}"
        records += [
            _rec(s, 0, file=f"{s}a", pore_mean_diameter_mm=1.0),
            _rec(s, 0, file=f"{s}b", pore_mean_diameter_mm=1.2),  # CV sqrt(0.02)/1.1 = 12.9 %
            _rec(s, 1, file=f"{s}c", pore_mean_diameter_mm=1.1),
        ]
    ch = changes_table(metrics_table(records))
    row = _row(ch, "pore_mean_diameter_mm", 1, "P00")
    assert row.repeatability_cv == pytest.approx(math.sqrt(0.02) / 1.1)
    assert row.repeatability_source == "run estimate (df = 10, 10 subjects)"
    ch9 = changes_table(metrics_table(records[:27]))
    assert _row(ch9, "pore_mean_diameter_mm", 1, "P00").repeatability_cv == 0.04


def test_axial_outcomes_use_axial_means_and_wrapped_deltas(monkeypatch):
    # No catalogued outcome is axial today (the surface-relative angle is folded to 0-90 deg, an
    # interval): a test entry exercises the axial path.
    entry = catalogue.Metric(
        "test_axis_deg",
        "deg",
        "axial",
        "outcome",
        "test axis",
        method="test",
        repeatability=3.0,
        repeatability_source="test",
        repeatability_basis="assumption",
    )
    monkeypatch.setitem(catalogue._EXACT, "test_axis_deg", entry)
    metrics = metrics_table(
        [
            _rec("P1", 0, file="a", test_axis_deg=178.0),
            _rec("P1", 0, file="b", test_axis_deg=4.0),
            _rec("P1", 1, file="c", test_axis_deg=179.0),
            _rec("P1", 1, file="d", test_axis_deg=7.0),
        ]
    )
    ch = changes_table(metrics)
    base, follow = _row(ch, "test_axis_deg", 0), _row(ch, "test_axis_deg", 1)
    assert base.value == pytest.approx(1.0) and follow.value == pytest.approx(3.0)  # not 91 and 93
    assert follow.delta == pytest.approx(2.0) and math.isnan(follow.pct_change)
    assert follow.srd == pytest.approx(1.96 * math.sqrt(9 / 2 + 9 / 2))


def test_pixel_twin_stands_in_without_a_scale():
    nan = float("nan")
    metrics = metrics_table(
        [
            _rec("P1", 0, pore_mean_diameter_mm=nan, pore_mean_diameter_px=10.0),
            _rec("P1", 1, pore_mean_diameter_mm=nan, pore_mean_diameter_px=8.0),
        ]
    )
    row = _row(changes_table(metrics), "pore_mean_diameter_px", 1)
    assert row.pct_change == pytest.approx(-20.0) and row.scale == "ratio"
    assert "pixel twin of pore_mean_diameter_mm" in row.note
    assert row.srd == pytest.approx(SRD_1 * 0.04 * 10.0)


def test_histology_has_no_default_repeatability():
    metrics = metrics_table(
        [
            _rec("P1", 0, modality="histology", stain="psr", collagen_area_fraction=0.30),
            _rec("P1", 1, modality="histology", stain="psr", collagen_area_fraction=0.45),
        ]
    )
    row = _row(changes_table(metrics), "collagen_area_fraction", 1)
    assert row.delta == pytest.approx(15.0) and pd.isna(row.beyond_repeatability)
    assert "no repeatability" in row.note


# --- cohort -----------------------------------------------------------------------------------------------


def _cohort_metrics(deltas_a, deltas_b, *, extra_qc=True):
    records = []
    for i, (da, db) in enumerate(zip(deltas_a, deltas_b, strict=True)):
        s = f"S{i}"
        qc = {"roi_area_px": 3e5 + i, "exposure_gain": 1.0} if extra_qc else {}
        records += [
            _rec(s, 0, ita_deg=30.0 + i, melanin_index=20.0 + i, **qc),
            _rec(s, 1, ita_deg=30.0 + i + da, melanin_index=20.0 + i + db, **qc),
        ]
    return metrics_table(records)


def test_cohort_hodges_lehmann_interval_wilcoxon_and_adjustment_by_hand():
    a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    b = [-0.6, -0.5, -0.4, -0.3, -0.2, -0.1]
    cohort = cohort_table(changes_table(_cohort_metrics(a, b)))
    assert list(cohort.columns) == list(COHORT_COLUMNS)
    assert set(cohort.metric) == {"ita_deg", "melanin_index"}  # outcomes only: no roi_area_px, exposure_gain
    row = SimpleNamespace(**cohort.set_index("metric").loc["ita_deg"].to_dict())
    assert row.n_subjects == 6 and row.n_zero == 0
    assert row.delta_median == pytest.approx(0.35)
    # Walsh averages of 0.1..0.6: median 0.35; n = 6: k = 1, the interval is [min, max] at 1 - 2/64.
    assert row.hl_estimate == pytest.approx(0.35)
    assert (row.ci_low, row.ci_high) == (pytest.approx(0.1), pytest.approx(0.6))
    assert row.ci_level == pytest.approx(1 - 2 / 64)
    # All six of one sign: exact two-sided p = 2/64; two metrics in the session: Holm 2 x 1/32 for
    # both, BH 2 x p / rank = 1/32 for both.
    assert row.p_value == pytest.approx(2 / 64) and row.test_method == "exact"
    assert row.p_holm == pytest.approx(4 / 64) and row.q_bh == pytest.approx(2 / 64)
    assert "family: the 2 outcome metric(s) tested at session 1" in row.note


def test_cohort_counts_zero_differences_and_says_when_there_are_too_few():
    a = [0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    cohort = cohort_table(changes_table(_cohort_metrics(a, a)))
    row = SimpleNamespace(**cohort.set_index("metric").loc["ita_deg"].to_dict())
    assert row.n_zero == 2 and "2 zero difference(s) dropped" in row.note
    # 5 positive non-zero differences, no ties: exact p = 2/32.
    assert row.p_value == pytest.approx(2 / 32)
    few = cohort_table(changes_table(_cohort_metrics([1.0, 2.0], [1.0, 2.0])))
    r = SimpleNamespace(**few.set_index("metric").loc["ita_deg"].to_dict())
    assert r.n_subjects == 2 and math.isnan(r.p_value) and "too few" in r.note and math.isnan(r.p_holm)


def test_cohort_pct_change_median_only_for_ratio_scales():
    records = []
    for i, f in enumerate((0.9, 0.8, 0.85)):
        s = f"S{i}"
        records += [
            _rec(s, 0, pore_mean_diameter_mm=0.4, ita_deg=40.0),
            _rec(s, 1, pore_mean_diameter_mm=0.4 * f, ita_deg=41.0),
        ]
    cohort = cohort_table(changes_table(metrics_table(records))).set_index("metric")
    assert cohort.loc["pore_mean_diameter_mm", "pct_change_median"] == pytest.approx(-15.0)
    assert np.isnan(cohort.loc["ita_deg", "pct_change_median"])
