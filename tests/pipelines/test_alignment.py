"""pipelines.assays.alignment: the pipeline wrappers of texture.registration (align_to_baseline) and
texture.colorchart / texture.exposure (correct_color)."""

import warnings

import numpy as np
import pytest

from pipelines.assays.alignment import align_series, align_to_baseline, correct_color
from tests.texture.test_colorchart import sample_at
from tests.texture.test_registration import grid_error, true_moving_to_baseline, view
from texture.color import linear_to_srgb, srgb_to_linear
from texture.colorchart import chart_delta_e
from texture.exposure import median_l_star
from texture.phantoms.colorchart import colorchart_photo, skin_background


@pytest.fixture(scope="module")
def phantom():
    return colorchart_photo((420, 560), chart_angle_deg=7.0, seed=2)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return skin_background((600, 600), seed=3, pore_density=0.003)


def test_correct_color_uses_the_chart_when_there_is_one(phantom):
    corrected, info = correct_color(phantom.rgb, baseline_l_star=50.0)
    assert info["color_correction"] == "chart"
    assert info["color_delta_e_before"] > 6.0 > 3.0 > info["color_delta_e_after"]
    assert np.isnan(info["exposure_gain"])
    assert len(info["chart_outline_xy"]) == 4 and np.array(info["color_correction_matrix"]).shape == (3, 3)
    after = chart_delta_e(sample_at(corrected, phantom.patch_centers))
    assert after.mean() < 3.0


def test_correct_color_falls_back_to_exposure_then_none():
    baseline = skin_background((200, 200), seed=6)
    followup = linear_to_srgb(srgb_to_linear(baseline) * 1.04)
    target = median_l_star(baseline)
    corrected, info = correct_color(followup, baseline_l_star=target)
    assert info["color_correction"] == "exposure"
    assert info["exposure_gain"] == pytest.approx(1 / 1.04, rel=2e-3)
    assert np.isnan(info["color_delta_e_before"]) and np.isnan(info["color_delta_e_after"])
    assert abs(median_l_star(corrected) - target) < 0.5
    unchanged, info = correct_color(followup)
    assert info["color_correction"] == "none" and unchanged is not None
    np.testing.assert_array_equal(unchanged, followup)


def test_align_to_baseline_gives_the_baseline_back_on_the_overlap(scene):
    baseline, _ = view(scene)
    moving, _ = view(scene, 4.0, (15.0, -12.0))
    before = np.abs(moving - baseline).mean()
    result = align_to_baseline(moving, baseline)
    assert result.success, result.message
    assert result.warped_rgb.shape == baseline.shape
    assert result.registration_error_px < 1.0
    overlap = result.overlap_mask
    # The rotated follow-up cannot cover the baseline's corners; most of it is covered.
    assert 0.75 < overlap.mean() < 0.99
    after = np.abs(result.warped_rgb - baseline)[overlap].mean()
    print(f"\nmean |follow-up - baseline|: {before:.4f} unaligned, {after:.4f} aligned on overlap")
    assert after < 0.01 < before


def test_a_chart_held_elsewhere_is_masked_out_of_the_alignment(scene):
    baseline, to_b = view(scene, noise_seed=1)
    moving, to_m = view(scene, 4.0, (15.0, -12.0), noise_seed=2)
    chart = colorchart_photo((200, 260), chart_width=240, chart_center=(130, 100), cast=(1, 1, 1)).rgb
    chart = chart[10:190, 5:255]
    baseline[200:380, 130:380] = chart  # the chart moves independently of the skin between sessions
    moving[210:390, 100:350] = chart
    baseline_skin = np.ones(baseline.shape[:2], bool)
    baseline_skin[195:385, 125:385] = False
    followup_skin = np.ones(moving.shape[:2], bool)
    followup_skin[205:395, 95:355] = False
    result = align_to_baseline(moving, baseline, baseline_mask=baseline_skin, followup_mask=followup_skin)
    err = grid_error(result.registration.matrix, true_moving_to_baseline(to_b, to_m))
    print(f"\nchart held elsewhere, both masked: grid err {err:.3f} px, {result.message}")
    assert result.success, result.message
    assert err < 0.5
    assert not result.overlap_mask[200:380, 130:380].any()


def test_align_to_baseline_reports_failure_without_numbers(scene):
    baseline, _ = view(scene)
    noise = np.random.default_rng(2).random(baseline.shape)
    result = align_to_baseline(noise, baseline)
    assert not result.success
    assert result.warped_rgb is None and result.overlap_mask is None
    assert np.isnan(result.registration_error_px)
    assert "failed" in result.message


def test_align_series_still_works_with_a_deprecation_warning(scene):
    baseline, _ = view(scene)
    moving, _ = view(scene, 4.0, (15.0, -12.0))
    with pytest.warns(DeprecationWarning, match="align_to_baseline"):
        old = align_series(baseline, moving)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = align_to_baseline(moving, baseline)
    assert old.success and new.success
    assert old.registration_error_px == new.registration_error_px
