"""texture.pigment: brown spots, evenness and skin colour against phantoms and hand computation."""

import math

import numpy as np
import pytest
from skimage.color import lab2rgb

from texture import color
from texture.phantoms.photo import render_skin
from texture.pigment import measure_skin_color, measure_spots
from texture.pores import measure_pores


@pytest.mark.parametrize("px_per_mm", [20.0, 30.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_spot_count_and_area_fraction(px_per_mm, seed):
    # Six brown spots of 1-4 mm among pores, on shaded skin.
    phantom = render_skin(px_per_mm=px_per_mm, size_mm=(24.0, 24.0), n_spots=6, seed=seed)
    m = measure_spots(phantom.rgb, px_per_mm=px_per_mm).metrics
    assert abs(m["spot_count"] - phantom.truth["spot_count"]) <= 1
    assert m["spot_area_fraction"] == pytest.approx(phantom.truth["spot_area_fraction"], rel=0.15)
    mean_d = phantom.spots[:, 2].mean()
    assert m["spot_mean_diameter_mm"] == pytest.approx(mean_d, rel=0.15)


def test_spots_below_one_mm_and_lines_are_not_spots():
    phantom = render_skin(px_per_mm=20.0, size_mm=(24.0, 24.0), n_lines=6, seed=2)
    m = measure_spots(phantom.rgb, px_per_mm=20.0).metrics
    assert m["spot_count"] == 0
    assert m["spot_area_fraction"] == 0


def test_ita_of_skin_around_spots_and_pores():
    phantom = render_skin(px_per_mm=20.0, size_mm=(24.0, 24.0), n_spots=6, seed=3)
    spots = measure_spots(phantom.rgb, px_per_mm=20.0)
    pores = measure_pores(phantom.rgb, px_per_mm=20.0)
    colour = measure_skin_color(phantom.rgb, exclude=(spots.labels > 0) | (pores.labels > 0))
    assert colour.metrics["ita_deg"] == pytest.approx(phantom.truth["skin_ita_deg"], abs=2.0)


def test_fading_spots_keep_their_outline_and_read_as_more_even():
    # Outlines are cut at half each spot's own depth, so a paler spot keeps its size; the fading
    # shows in the evenness, and a spot gone entirely is not counted.
    kwargs = {"px_per_mm": 20.0, "size_mm": (24.0, 24.0), "n_spots": 6, "seed": 4}
    full = measure_spots(render_skin(**kwargs).rgb, px_per_mm=20.0).metrics
    faded = measure_spots(render_skin(spot_strength=0.4, **kwargs).rgb, px_per_mm=20.0).metrics
    none = measure_spots(render_skin(spot_strength=0.0, **kwargs).rgb, px_per_mm=20.0).metrics
    assert none["spot_count"] == 0
    assert faded["spot_count"] == full["spot_count"]
    assert faded["spot_area_fraction"] == pytest.approx(full["spot_area_fraction"], rel=0.1)
    assert none["pigment_evenness"] > faded["pigment_evenness"] > full["pigment_evenness"]
    assert 0 < full["pigment_evenness"] <= 1
    assert full["pigment_lightness_sd"] == pytest.approx(1 / full["pigment_evenness"] - 1)


def test_skin_colour_by_hand_with_exclusion():
    # Left half skin (L*=65, b*=18: ITA = atan(15/18) = 39.806 deg), right half a dark brown patch.
    skin = lab2rgb(np.array([[[65.0, 10.0, 18.0]]]))[0, 0]
    brown = lab2rgb(np.array([[[35.0, 12.0, 25.0]]]))[0, 0]
    rgb = np.empty((40, 60, 3))
    rgb[:, :30], rgb[:, 30:] = skin, brown
    exclude = np.zeros((40, 60), bool)
    exclude[:, 30:] = True
    m = measure_skin_color(rgb, exclude=exclude).metrics
    assert m["ita_deg"] == pytest.approx(39.806, abs=0.01)
    lin_r = ((skin[0] + 0.055) / 1.055) ** 2.4
    lin_g = ((skin[1] + 0.055) / 1.055) ** 2.4
    assert m["melanin_index"] == pytest.approx(100 * math.log10(1 / lin_r), rel=1e-6)
    assert m["erythema_index"] == pytest.approx(100 * math.log10(lin_r / lin_g), rel=1e-6)


def test_without_scale_mm_is_nan():
    phantom = render_skin(px_per_mm=25.0, size_mm=(24.0, 24.0), n_spots=4, seed=5)
    m = measure_spots(phantom.rgb).metrics
    assert math.isnan(m["spot_mean_diameter_mm"])
    assert m["spot_mean_diameter_px"] > 25  # >= 1 mm at the assumed 25 px/mm
    assert m["spot_count"] == pytest.approx(4, abs=1)


def test_bad_input_raises_value_error():
    rgb = np.full((30, 30, 3), 0.6)
    with pytest.raises(ValueError):
        measure_spots(rgb, mask=np.zeros((30, 30), bool))
    with pytest.raises(ValueError):
        measure_skin_color(rgb[..., :2])
    with pytest.raises(ValueError):
        measure_skin_color(rgb, mask=np.zeros((30, 30), bool))


def _uniform_lab(lab_value, shape=(20, 30)):
    lab = np.empty((*shape, 3))
    lab[:] = lab_value
    return lab


@pytest.mark.parametrize(
    ("lab_value", "expected_deg", "expected_class"),
    [
        # By hand: atan((L - 50) / b) in degrees.
        ((60.0, 12.0, 18.0), 29.0546, "intermediate"),  # atan(10 / 18)
        ((66.0, 11.0, 15.0), 46.8476, "light"),  # atan(16 / 15)
        ((75.0, 8.0, 3.0), 83.1572, "very_light"),  # b* exactly at the 3.0 limit: still defined
        ((30.0, 10.0, 12.0), -59.0362, "dark"),  # atan(-20 / 12)
    ],
)
def test_ita_defined_for_skin_colours(lab_value, expected_deg, expected_class):
    result = color.ita_with_reason(_uniform_lab(lab_value))
    assert result.ita_deg == pytest.approx(expected_deg, abs=1e-3)
    assert result.reason == ""
    assert color.ita_deg(_uniform_lab(lab_value)) == pytest.approx(expected_deg, abs=1e-3)
    assert color.ita_class(result.ita_deg) == expected_class


@pytest.mark.parametrize("b_star", [-17.0, -1.0, 0.0, 2.9])
def test_ita_undefined_without_a_meaningfully_positive_b_star(b_star):
    # A blue-cast photo (b* -17 read 124-152 deg before) or a grey one: NaN, no class, a reason.
    lab = _uniform_lab((70.0, 2.0, b_star))
    result = color.ita_with_reason(lab)
    assert math.isnan(result.ita_deg) and math.isnan(color.ita_deg(lab))
    assert color.ita_class(result.ita_deg) == ""
    assert "b*" in result.reason and "undefined" in result.reason
    assert result.b_star == pytest.approx(b_star) and result.lightness == pytest.approx(70.0)


def test_ita_class_refuses_angles_beyond_90_degrees():
    for angle in (90.0, 124.0, -95.0, float("nan")):
        assert color.ita_class(angle) == ""
    assert color.ita_class(89.9) == "very_light"


def test_skin_colour_of_a_blue_cast_photo_gives_nan_ita_and_a_note():
    rgb = np.broadcast_to(lab2rgb(np.array([[[75.0, -1.0, -17.0]]]))[0, 0], (30, 40, 3)).copy()
    m = measure_skin_color(rgb)
    assert math.isnan(m.metrics["ita_deg"])
    assert "b*" in m.notes["ita_deg"]
    assert np.isfinite(m.metrics["melanin_index"]) and np.isfinite(m.metrics["erythema_index"])
    skin = measure_skin_color(np.broadcast_to(lab2rgb(np.array([[[65.0, 10.0, 18.0]]]))[0, 0], (30, 40, 3)))
    assert skin.notes == {} and skin.metrics["ita_deg"] == pytest.approx(39.806, abs=0.05)


def test_ita_rises_by_the_true_amount_when_skin_lightens_under_the_same_light():
    # Issue 13: skin truly lightening from Lab (60, 12, 18) to (66, 11, 15): ITA 29.05 -> 46.85 deg.
    before = measure_skin_color(lab2rgb(_uniform_lab((60.0, 12.0, 18.0)))).metrics["ita_deg"]
    after = measure_skin_color(lab2rgb(_uniform_lab((66.0, 11.0, 15.0)))).metrics["ita_deg"]
    assert after - before == pytest.approx(46.8476 - 29.0546, abs=0.2)
