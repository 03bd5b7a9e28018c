"""A treatment series read honestly: follow-ups rotated, shifted and re-exposed still give the true change."""

from datetime import date, timedelta

import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines import analyze_folder
from texture.phantoms.photo import render_skin

PX_PER_MM = 25.0
# Per follow-up: pore diameter factor, rotation (deg), shift (px), exposure.
FOLLOW_UPS = {1: (0.95, 3.0, (12, -8), 1.04), 2: (0.90, -2.5, (-15, 10), 0.96), 3: (0.85, 4.0, (8, 14), 1.03)}


def _capture(seed, scale, angle, shift, exposure):
    phantom = render_skin(
        size_mm=(20.0, 16.0),
        px_per_mm=PX_PER_MM,
        seed=seed,
        pore_density_per_cm2=70.0,
        # Above the 0.25 mm default pore floor before and after the shrink (issue 13 raised it from 0.1 mm;
        # the default 0.2-0.6 mm pores shrunk 15 % cross it and the mean of those kept falls only ~10 %).
        pore_diameter_mm=(0.35, 0.7),
        pore_scale=scale,
        exposure=exposure,
        noise_seed=seed * 10 + int(scale * 100),
    )
    rgb = phantom.rgb
    if angle or any(shift):
        rows, cols = rgb.shape[:2]
        matrix = cv2.getRotationMatrix2D((cols / 2, rows / 2), angle, 1.0)
        matrix[:, 2] += shift
        rgb = cv2.warpAffine(rgb, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return rgb, phantom.truth["pore_mean_diameter_mm"]


def _save(folder, name, rgb):
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(folder / name, quality=95)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    rows, truth = ["file,subject,session,date,region,px_per_mm"], {}
    for subject, seed in (("S1", 1), ("S2", 2), ("S3", 3)):
        rgb, base_d = _capture(seed, 1.0, 0.0, (0, 0), 1.0)
        _save(folder, f"{subject}_0.jpg", rgb)
        rows.append(f"{subject}_0.jpg,{subject},0,2026-01-05,cheek,{PX_PER_MM}")
        for session, (scale, angle, shift, exposure) in FOLLOW_UPS.items():
            rgb, d = _capture(seed, scale, angle, shift, exposure)
            _save(folder, f"{subject}_{session}.jpg", rgb)
            when = date(2026, 1, 5) + timedelta(days=14 * session)
            rows.append(f"{subject}_{session}.jpg,{subject},{session},{when},cheek,{PX_PER_MM}")
            truth[(subject, session)] = 100.0 * (d - base_d) / base_d
    # A fourth subject whose pores change by only 1 %: within repeatability.
    rgb, base_d = _capture(4, 1.0, 0.0, (0, 0), 1.0)
    _save(folder, "S4_0.jpg", rgb)
    rgb, d = _capture(4, 0.99, 2.0, (6, 6), 1.02)
    _save(folder, "S4_1.jpg", rgb)
    rows += [f"S4_0.jpg,S4,0,2026-01-05,cheek,{PX_PER_MM}", f"S4_1.jpg,S4,1,2026-01-19,cheek,{PX_PER_MM}"]
    truth[("S4", 1)] = 100.0 * (d - base_d) / base_d
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    result = analyze_folder(folder, backend="processes", workers=2)
    return result, truth


def test_pore_diameter_change_matches_truth_despite_motion_and_exposure(series):
    result, truth = series
    assert result.exit_status == 0, result.errors
    changes = result.changes.query("metric == 'pore_mean_diameter_mm'").set_index(["subject", "session"])
    for key, true_pct in truth.items():
        assert changes.loc[key, "pct_change"] == pytest.approx(true_pct, abs=3.0), key
    follow = result.metrics[result.metrics["session"] > 0]
    assert (follow["registration_error_px"] < 1.0).all()
    assert set(follow["color_correction"]) == {"exposure"}


def test_days_from_baseline_and_repeatability_flags(series):
    result, _ = series
    changes = result.changes.query("metric == 'pore_mean_diameter_mm'").set_index(["subject", "session"])
    assert [changes.loc[("S1", s), "days_from_baseline"] for s in (0, 1, 2, 3)] == [0.0, 14.0, 28.0, 42.0]
    assert bool(changes.loc[("S1", 3), "beyond_repeatability"]) is True  # -15 %
    assert bool(changes.loc[("S4", 1), "beyond_repeatability"]) is False  # -1 %


def test_cohort_has_three_subjects_and_a_p_value(series):
    result, _ = series
    row = result.cohort.query("metric == 'pore_mean_diameter_mm' and session == 3").iloc[0]
    assert row["n_subjects"] == 3
    assert row["test"] == "wilcoxon_signed_rank" and 0 < row["p_value"] <= 1
    # The cohort reports the median % change (pct_change_mean is gone on purpose, issue 14).
    assert row["pct_change_median"] == pytest.approx(-15.0, abs=3.0)
