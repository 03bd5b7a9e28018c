"""The common region of a registered pair and the paired baseline in changes.csv, on hand-made cases."""

import numpy as np
import pandas as pd
import pytest

from pipelines.assays.alignment import align_to_baseline, common_region
from pipelines.tables.changes import changes_table
from pipelines.tables.metrics import metrics_table
from pipelines.tables.pairing import UNCALIBRATED_NOTE
from texture.registration import Registration


def _registration(dx: float, dy: float) -> Registration:
    """A follow-up whose content sits (dx, dy) px from the baseline's: x_b = x_f - dx."""
    return Registration(np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]]), 0.0, 50, True, "test")


def test_identity_keeps_both_rois_intersection_without_resampling():
    base = np.zeros((40, 50), bool)
    base[5:35, 5:45] = True
    follow = np.zeros((40, 50), bool)
    follow[10:30, 0:50] = True
    region = common_region(base, follow, _registration(0.004, 0.0))  # below the 0.01 px identity tolerance
    assert region.identity
    np.testing.assert_array_equal(region.baseline_mask, base & follow)
    np.testing.assert_array_equal(region.followup_mask, base & follow)
    assert region.baseline_fraction == pytest.approx(20 * 40 / (30 * 40))
    assert region.followup_fraction == pytest.approx(20 * 40 / (20 * 50))


def test_a_shift_maps_the_region_into_each_frame():
    # The camera moved: follow-up pixel (x, y) shows baseline pixel (x - 10, y - 4).
    base = np.ones((60, 80), bool)
    follow = np.ones((60, 80), bool)
    region = common_region(base, follow, _registration(10, 4), margin_px=0, frame_margin_px=3)
    assert not region.identity
    # Baseline frame: what the follow-up shows (x < 70, y < 56) without the 3 px band of either frame.
    want = np.zeros((60, 80), bool)
    want[3:53, 3:67] = True
    np.testing.assert_array_equal(region.baseline_mask, want)
    # The same skin in the follow-up's frame: shifted by (10, 4).
    np.testing.assert_array_equal(region.followup_mask, np.roll(np.roll(want, 4, axis=0), 10, axis=1))
    assert region.area_px == 50 * 64
    assert region.baseline_fraction == pytest.approx(50 * 64 / (60 * 80))


def test_identical_pixels_register_as_the_identity_even_without_keypoints():
    flat = np.full((64, 64, 3), 0.5, np.float32)  # no keypoint at all
    aligned = align_to_baseline(flat, flat.copy())
    assert aligned.success and aligned.registration_error_px == 0.0
    np.testing.assert_array_equal(aligned.registration.matrix, np.eye(2, 3))


def _record(session, value, *, color="exposure", ita=40.0, file=None):
    return {
        "file": file or f"S_{session}.png",
        "sha256": "0" * 64,
        "subject": "S",
        "session": session,
        "date": "",
        "modality": "photo",
        "region": "cheek",
        "stain": "",
        "px_per_mm": 25.0,
        "width_px": 10,
        "height_px": 10,
        "treatment": "",
        "pore_mean_diameter_mm": value,
        "ita_deg": ita,
        "color_correction": color,
    }


def test_changes_use_the_paired_baseline_of_each_follow_up():
    metrics = metrics_table([_record(0, 0.50), _record(1, 0.45), _record(2, 0.40)])
    # Session 1 was aligned: the baseline re-measured on its common region read 0.48; session 2 was not.
    paired = pd.DataFrame(
        [
            {"file": "S_1.png", "subject": "S", "session": 1, "modality": "photo", "region": "cheek",
             "stain": "", "metric": "pore_mean_diameter_mm", "baseline_value": 0.48},
            {"file": "S_1.png", "subject": "S", "session": 1, "modality": "photo", "region": "cheek",
             "stain": "", "metric": "ita_deg", "baseline_value": 41.0},
        ]
    )  # fmt: skip
    changes = changes_table(metrics, paired_baselines=paired).set_index(["metric", "session"])
    row = changes.loc[("pore_mean_diameter_mm", 1)]
    assert row["baseline_value"] == 0.48 and row["delta"] == pytest.approx(-0.03)
    assert row["pct_change"] == pytest.approx(100 * -0.03 / 0.48)
    row2 = changes.loc[("pore_mean_diameter_mm", 2)]
    assert row2["baseline_value"] == 0.50 and row2["delta"] == pytest.approx(-0.10)
    assert changes.loc[("pore_mean_diameter_mm", 0), "delta"] == 0.0
    assert changes.loc[("ita_deg", 1), "delta"] == pytest.approx(-1.0)
    # Without a chart, colour rows say they are uncalibrated; structure rows do not.
    assert UNCALIBRATED_NOTE in changes.loc[("ita_deg", 1), "note"]
    assert UNCALIBRATED_NOTE not in changes.loc[("pore_mean_diameter_mm", 1), "note"]


def test_colour_is_calibrated_only_with_a_chart_in_both_sessions():
    both = metrics_table([_record(0, 0.5, color="chart"), _record(1, 0.5, color="chart", ita=45.0)])
    one = metrics_table([_record(0, 0.5, color="chart"), _record(1, 0.5, color="exposure", ita=45.0)])
    note_both = changes_table(both).set_index(["metric", "session"]).loc[("ita_deg", 1), "note"]
    note_one = changes_table(one).set_index(["metric", "session"]).loc[("ita_deg", 1), "note"]
    assert UNCALIBRATED_NOTE not in note_both
    assert UNCALIBRATED_NOTE in note_one
