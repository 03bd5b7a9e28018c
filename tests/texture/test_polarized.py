"""Picrosirius red under polarised light: hue classes and their area fractions against known truth."""

import numpy as np
import pytest

from texture.phantoms.histology import POLARIZED_COLORS, polarized_psr
from texture.polarized import HUE_CLASSES_DEG, birefringent_mask, hue_classes, measure_polarized_psr

COLORS = ("red", "orange", "yellow", "green")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "fractions",
    [None, {"red": 0.1, "orange": 0.2, "yellow": 0.3, "green": 0.4}, {"red": 0.6, "green": 0.4}],
)
def test_hue_fractions_of_collagen_area_within_003(seed, fractions):
    phantom = polarized_psr(fractions=fractions, seed=seed)
    m = measure_polarized_psr(phantom.rgb).metrics
    for colour in COLORS:
        assert m[f"collagen_pol_{colour}_fraction"] == pytest.approx(
            phantom.truth[f"{colour}_fraction"], abs=0.03
        ), colour
    assert sum(m[f"collagen_pol_{c}_fraction"] for c in COLORS) == pytest.approx(1.0)
    assert m["collagen_pol_area_fraction"] == pytest.approx(phantom.truth["area_fraction"], rel=0.05)
    t = phantom.truth
    ratio = (t["red_fraction"] + t["orange_fraction"]) / t["green_fraction"]
    assert m["collagen_pol_thick_thin_ratio"] == pytest.approx(ratio, rel=0.1)


def test_dim_green_fibres_are_cut_at_their_own_edges():
    # Green fibres are half as bright as red ones: a global cut would thin them, the local
    # half-maximum does not. Pixel-level agreement with the rendered labels:
    phantom = polarized_psr(seed=4, blur_px=0.0)
    mask = birefringent_mask(phantom.rgb)
    truth = phantom.truth["labels"] > 0
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.9
    green = phantom.truth["labels"] == 4
    assert mask[green].mean() > 0.95


def test_hue_bounds_follow_rich_and_whittaker():
    h8 = 360.0 / 256.0
    # Class by the 8-bit hue bounds: red 230-255 and 0-9, orange 10-38, yellow 39-51, green 52-128.
    for value, expected in [
        (5, 1),
        (240, 1),
        (10, 2),
        (38, 2),
        (39, 3),
        (51, 3),
        (52, 4),
        (128, 4),
        (129, 0),
        (229, 0),
    ]:
        assert hue_classes(np.array([value * h8 + 0.1]))[0] == expected, value
    assert set(HUE_CLASSES_DEG) == set(COLORS)
    # The phantom's colours lie inside their classes.
    for i, colour in enumerate(COLORS, start=1):
        assert hue_classes(np.array([POLARIZED_COLORS[colour][0]]))[0] == i


def test_no_green_gives_nan_ratio_and_dark_field_has_no_collagen():
    phantom = polarized_psr(fractions={"red": 1.0}, seed=0)
    m = measure_polarized_psr(phantom.rgb).metrics
    assert np.isnan(m["collagen_pol_thick_thin_ratio"])
    assert m["collagen_pol_red_fraction"] == pytest.approx(1.0, abs=0.01)
    dark = np.full((64, 64, 3), 0.03) + 0.005 * np.random.default_rng(0).standard_normal((64, 64, 3))
    d = measure_polarized_psr(np.clip(dark, 0, 1)).metrics
    assert d["collagen_pol_area_fraction"] == 0.0 and np.isnan(d["collagen_pol_red_fraction"])


def test_grey_light_is_birefringent_but_unclassified_and_mask_restricts():
    rgb = np.full((64, 64, 3), 0.02)
    rgb[10:20, 5:60] = 0.8  # white leak
    rgb[40:50, 5:60] = (0.9, 0.1, 0.05)  # red fibre
    m = measure_polarized_psr(rgb).metrics
    assert m["collagen_pol_unclassified_fraction"] == pytest.approx(0.5, abs=0.05)
    assert m["collagen_pol_red_fraction"] == 1.0
    half = np.zeros((64, 64), dtype=bool)
    half[:32] = True
    assert measure_polarized_psr(rgb, mask=half).metrics["collagen_pol_area_fraction"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        measure_polarized_psr(rgb, mask=np.zeros((64, 64), dtype=bool))
