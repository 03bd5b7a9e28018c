"""texture.pigment: brown spots, evenness and skin colour against phantoms and hand computation."""

import math

import numpy as np
import pytest
from skimage.color import lab2rgb

from texture.phantoms.photo import render_skin
from texture.pigment import measure_skin_colour, measure_spots
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
    colour = measure_skin_colour(phantom.rgb, exclude=(spots.labels > 0) | (pores.labels > 0))
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
    m = measure_skin_colour(rgb, exclude=exclude).metrics
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
        measure_skin_colour(rgb[..., :2])
    with pytest.raises(ValueError):
        measure_skin_colour(rgb, mask=np.zeros((30, 30), bool))
