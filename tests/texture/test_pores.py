"""texture.pores against phantoms with known pores (texture.phantoms.photo)."""

import math

import numpy as np
import pytest

from texture.measurement import ASSUMED_PX_PER_MM
from texture.phantoms.photo import render_skin
from texture.pores import measure_pores


def _relative_error(measured, truth):
    return abs(measured / truth - 1.0)


@pytest.mark.parametrize("px_per_mm", [20.0, 30.0])
def test_count_diameter_density_on_shaded_skin(px_per_mm):
    # Pores 0.2-0.6 mm, illumination varying by +-25 % across the field.
    phantom = render_skin(px_per_mm=px_per_mm, size_mm=(20.0, 20.0), seed=3)
    truth = phantom.truth
    m = measure_pores(phantom.rgb, px_per_mm=px_per_mm).metrics
    assert _relative_error(m["pore_count"], truth["pore_count"]) <= 0.05
    assert _relative_error(m["pore_mean_diameter_mm"], truth["pore_mean_diameter_mm"]) <= 0.10
    assert _relative_error(m["pore_density_per_cm2"], truth["pore_density_per_cm2"]) <= 0.05
    assert _relative_error(m["pore_area_fraction"], truth["pore_area_fraction"]) <= 0.10


@pytest.mark.parametrize(
    "conditions",
    [
        {"shading": 0.5},  # strong side lighting
        {"pore_depth": 0.2, "noise_sd": 0.015},  # faint pores, noisier sensor
        {"blur_px": 0.8},  # a soft lens
    ],
)
def test_count_and_size_robust_to_shading_faint_pores_and_blur(conditions):
    phantom = render_skin(px_per_mm=20.0, seed=4, **conditions)
    m = measure_pores(phantom.rgb, px_per_mm=20.0).metrics
    assert _relative_error(m["pore_count"], phantom.truth["pore_count"]) <= 0.05
    assert _relative_error(m["pore_mean_diameter_mm"], phantom.truth["pore_mean_diameter_mm"]) <= 0.10


def test_same_skin_at_two_scales_gives_same_mm_values():
    low = measure_pores(render_skin(px_per_mm=20.0, seed=5).rgb, px_per_mm=20.0).metrics
    high = measure_pores(render_skin(px_per_mm=30.0, seed=5).rgb, px_per_mm=30.0).metrics
    assert _relative_error(low["pore_mean_diameter_mm"], high["pore_mean_diameter_mm"]) <= 0.03
    assert _relative_error(low["pore_density_per_cm2"], high["pore_density_per_cm2"]) <= 0.03
    # and the pixel twins scale with the resolution
    ratio = high["pore_mean_diameter_px"] / low["pore_mean_diameter_px"]
    assert ratio == pytest.approx(1.5, rel=0.03)


def test_pore_shrink_of_15_percent_reads_minus_15():
    before = measure_pores(render_skin(px_per_mm=20.0, seed=6).rgb, px_per_mm=20.0).metrics
    after_phantom = render_skin(px_per_mm=20.0, seed=6, pore_scale=0.85, noise_seed=60)
    after = measure_pores(after_phantom.rgb, px_per_mm=20.0).metrics
    change = 100.0 * (after["pore_mean_diameter_mm"] / before["pore_mean_diameter_mm"] - 1.0)
    assert -19.0 <= change <= -11.0
    assert after["pore_count"] == before["pore_count"]


def test_repeatability_under_new_noise_and_exposure():
    # The same skin re-shot five times: new sensor noise, flash -3 % .. +3 %; faint pores on a noisy
    # sensor so that the test has something to lose.
    counts, diameters = [], []
    for k, exposure in enumerate([0.97, 0.985, 1.0, 1.015, 1.03]):
        phantom = render_skin(
            px_per_mm=20.0,
            seed=7,
            exposure=exposure,
            noise_seed=100 + k,
            pore_depth=0.2,
            noise_sd=0.02,
        )
        m = measure_pores(phantom.rgb, px_per_mm=20.0).metrics
        counts.append(m["pore_count"])
        diameters.append(m["pore_mean_diameter_mm"])
    cv_count = np.std(counts, ddof=1) / np.mean(counts)
    cv_diameter = np.std(diameters, ddof=1) / np.mean(diameters)
    print(f"repeatability CV: count {100 * cv_count:.2f} %, mean diameter {100 * cv_diameter:.2f} %")
    assert cv_count < 0.03
    assert cv_diameter < 0.03


def test_lines_and_spots_are_not_pores():
    phantom = render_skin(
        px_per_mm=25.0, size_mm=(24.0, 24.0), seed=8, pore_density_per_cm2=0, n_lines=6, n_spots=5
    )
    assert phantom.truth["pore_count"] == 0
    assert measure_pores(phantom.rgb, px_per_mm=25.0).metrics["pore_count"] <= 1


def test_without_scale_mm_columns_are_nan_and_px_twins_use_default_size_range():
    phantom = render_skin(px_per_mm=ASSUMED_PX_PER_MM, seed=9)
    scaled = measure_pores(phantom.rgb, px_per_mm=ASSUMED_PX_PER_MM).metrics
    unscaled = measure_pores(phantom.rgb).metrics
    assert math.isnan(unscaled["pore_mean_diameter_mm"])
    assert math.isnan(unscaled["pore_density_per_cm2"])
    assert unscaled["pore_count"] == scaled["pore_count"]
    assert unscaled["pore_mean_diameter_px"] == pytest.approx(
        scaled["pore_mean_diameter_mm"] * ASSUMED_PX_PER_MM
    )
    area_mpx = phantom.rgb.shape[0] * phantom.rgb.shape[1] / 1e6
    assert unscaled["pore_density_per_mpx"] == pytest.approx(scaled["pore_count"] / area_mpx)


def test_mask_restricts_count_but_not_density():
    phantom = render_skin(px_per_mm=20.0, seed=10)
    mask = np.zeros(phantom.rgb.shape[:2], bool)
    mask[:, : mask.shape[1] // 2] = True
    half = measure_pores(phantom.rgb, px_per_mm=20.0, mask=mask)
    whole = measure_pores(phantom.rgb, px_per_mm=20.0)
    in_left = np.sum(phantom.pores[:, 0] < 10.0)
    assert abs(half.metrics["pore_count"] - in_left) <= 0.05 * in_left + 1
    assert (
        _relative_error(half.metrics["pore_density_per_cm2"], whole.metrics["pore_density_per_cm2"]) <= 0.15
    )
    assert not half.labels[:, mask.shape[1] // 2 + 1 :].any()


def test_bad_input_raises_value_error():
    rgb = np.full((50, 50, 3), 0.6)
    with pytest.raises(ValueError):
        measure_pores(rgb, mask=np.zeros((50, 50), bool))
    with pytest.raises(ValueError):
        measure_pores(rgb, mask=np.ones((40, 50), bool))
    with pytest.raises(ValueError):
        measure_pores(rgb[..., 0])
    with pytest.raises(ValueError):
        measure_pores(rgb, min_diameter_mm=1.0, max_diameter_mm=0.5)


def test_uniform_skin_has_no_pores():
    rng = np.random.default_rng(0)
    rgb = np.clip(np.full((200, 200, 3), (0.8, 0.6, 0.5)) + rng.normal(0, 0.01, (200, 200, 3)), 0, 1)
    m = measure_pores(rgb, px_per_mm=20.0).metrics
    assert m["pore_count"] == 0
    assert math.isnan(m["pore_mean_diameter_mm"])
    assert m["pore_area_fraction"] == 0


def test_bad_lab_raises_value_error():
    lab = np.zeros((30, 30, 3), np.float32)
    lab[..., 0] = 60.0
    lab[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        measure_pores(None, lab=lab)
    with pytest.raises(ValueError, match="float"):
        measure_pores(None, lab=np.zeros((30, 30, 3), np.uint8))
    with pytest.raises(ValueError, match="rgb or lab"):
        measure_pores(None)
