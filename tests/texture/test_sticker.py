"""Scale from a round calibration sticker (texture.sticker) against phantoms of known truth.

Every expected value comes from the construction: the sticker is drawn with ``diameter_mm`` at
``px_per_mm`` (texture.phantoms.sticker), so the true scale is the ``px_per_mm`` it was drawn at. The real
photo is scikit-image's astronaut portrait (NASA, public domain) with a white disc painted on it.
"""

import numpy as np
import pytest
from skimage import data
from skimage.util import img_as_float

from texture.phantoms.photo import render_skin
from texture.phantoms.sticker import draw_sticker, sticker_coverage
from texture.sticker import find_sticker, sticker_color_lab

SKIN_LAB = (65.0, 12.0, 17.0)  # render_skin's default skin colour


def _skin(px_per_mm: float, **kwargs) -> np.ndarray:
    return render_skin(size_mm=(40.0, 30.0), px_per_mm=px_per_mm, seed=5, **kwargs).rgb


def _check(found, px_per_mm: float, center_xy, *, rel: float = 0.01) -> None:
    assert found, found.reason
    error_pct = 100.0 * abs(found.px_per_mm / px_per_mm - 1.0)
    assert error_pct < 100.0 * rel, error_pct
    # The error lies within the reported one-SD uncertainty.
    assert error_pct <= found.uncertainty_pct, (error_pct, found.uncertainty_pct)
    assert np.hypot(found.center_xy[0] - center_xy[0], found.center_xy[1] - center_xy[1]) < 0.5


def test_phantom_disc_covers_its_area():
    # The phantom itself: a supersampled disc covers pi r^2 pixels, an ellipse pi a b.
    cover = sticker_coverage((200, 200), center_xy=(99.3, 100.6), diameter_px=120.0)
    assert cover.sum() == pytest.approx(np.pi * 60.0**2, rel=1e-3)
    tilted = sticker_coverage((200, 200), center_xy=(99.3, 100.6), diameter_px=120.0, tilt_deg=40.0)
    assert tilted.sum() == pytest.approx(np.pi * 60.0 * 60.0 * np.cos(np.deg2rad(40.0)), rel=1e-3)


@pytest.mark.parametrize("px_per_mm", [4.0, 10.0, 25.0])
def test_sharp_white_sticker(px_per_mm):
    rgb = _skin(px_per_mm)
    center = (0.6 * rgb.shape[1] + 0.3, 0.45 * rgb.shape[0] + 0.2)
    image = draw_sticker(rgb, diameter_mm=10.0, px_per_mm=px_per_mm, center_xy=center)
    found = find_sticker(image, diameter_mm=10.0)
    _check(found, px_per_mm, center)
    # A disc: both axes are the diameter.
    assert found.minor_axis_px == pytest.approx(10.0 * px_per_mm, rel=0.01)


@pytest.mark.parametrize("px_per_mm", [4.0, 10.0, 25.0])
def test_blurred_edge(px_per_mm):
    rgb = _skin(px_per_mm)
    center = (0.35 * rgb.shape[1], 0.5 * rgb.shape[0] + 0.5)
    image = draw_sticker(rgb, diameter_mm=10.0, px_per_mm=px_per_mm, center_xy=center, blur_px=1.5)
    _check(find_sticker(image, diameter_mm=10.0, color="#ffffff"), px_per_mm, center)


@pytest.mark.parametrize("px_per_mm", [4.0, 10.0, 25.0])
@pytest.mark.parametrize("blur_px", [0.0, 1.5])
def test_low_contrast_sticker(px_per_mm, blur_px):
    # A sticker 8 Delta E*ab lighter than the skin (Delta E00 ~6.3), on evenly lit skin so that the
    # contrast is 8 everywhere.
    rgb = _skin(px_per_mm, shading=0.0)
    sticker = (SKIN_LAB[0] + 8.0, SKIN_LAB[1], SKIN_LAB[2])
    center = (0.4 * rgb.shape[1], 0.5 * rgb.shape[0])
    image = draw_sticker(
        rgb, diameter_mm=10.0, px_per_mm=px_per_mm, color=sticker, center_xy=center, blur_px=blur_px
    )
    found = find_sticker(image, diameter_mm=10.0)
    _check(found, px_per_mm, center)
    assert found.contrast_delta_e == pytest.approx(8.0, abs=2.0)


@pytest.mark.parametrize("px_per_mm", [4.0, 10.0, 25.0])
def test_tilted_sticker_major_axis_gives_the_scale(px_per_mm):
    rgb = _skin(px_per_mm)
    center = (0.5 * rgb.shape[1] + 0.25, 0.5 * rgb.shape[0] - 0.4)
    image = draw_sticker(
        rgb, diameter_mm=10.0, px_per_mm=px_per_mm, center_xy=center, tilt_deg=40.0, tilt_axis_deg=30.0
    )
    found = find_sticker(image, diameter_mm=10.0)
    _check(found, px_per_mm, center)
    assert found.minor_axis_px / found.diameter_px == pytest.approx(np.cos(np.deg2rad(40.0)), rel=0.01)
    assert found.angle_deg == pytest.approx(30.0, abs=1.0)  # counter-clockwise on screen


def test_cut_sticker_is_refused():
    rgb = _skin(10.0)
    # Centre 3 mm inside the right edge: 2 mm of the 10 mm sticker are outside the image.
    image = draw_sticker(rgb, diameter_mm=10.0, px_per_mm=10.0, center_xy=(rgb.shape[1] - 1 - 30.0, 150.0))
    for color in (None, "#ffffff"):
        found = find_sticker(image, diameter_mm=10.0, color=color)
        assert found.px_per_mm is None and not found
        assert "border" in found.reason


def test_no_sticker():
    found = find_sticker(_skin(10.0), diameter_mm=10.0)
    assert found.px_per_mm is None and found.uncertainty_pct is None
    assert "no round region" in found.reason


def test_white_sticker_told_from_a_dark_mole_by_its_color():
    rgb = _skin(10.0)
    sticker_xy, mole_xy = (120.4, 150.3), (280.0, 148.0)
    image = draw_sticker(rgb, diameter_mm=10.0, px_per_mm=10.0, center_xy=sticker_xy)
    # A round dark-brown mole of similar size (9 mm) beside it.
    image = draw_sticker(image, diameter_mm=9.0, px_per_mm=10.0, color=(30.0, 12.0, 18.0), center_xy=mole_xy)
    _check(find_sticker(image, diameter_mm=10.0, color="#ffffff"), 10.0, sticker_xy)
    # Without the colour the two are equally good: refused rather than guessed.
    blind = find_sticker(image, diameter_mm=10.0)
    assert blind.px_per_mm is None and blind.n_candidates == 2
    assert "could be the sticker" in blind.reason


def test_sticker_among_round_spots_needs_its_color():
    # Round brown spots (1-4 mm) are as regular as the sticker: without a colour nothing tells them apart
    # (the scale is unknown, so size does not either) and no scale is given; with it, the sticker.
    # At 25 px/mm the spots are 32-58 px wide, large enough to be a 10 mm sticker at 3-6 px/mm.
    rgb = render_skin(size_mm=(40.0, 30.0), px_per_mm=25.0, seed=1, n_spots=3).rgb
    center = (600.3, 337.6)
    image = draw_sticker(rgb, diameter_mm=10.0, px_per_mm=25.0, center_xy=center)
    blind = find_sticker(image, diameter_mm=10.0)
    assert blind.px_per_mm is None and "could be the sticker" in blind.reason
    _check(find_sticker(image, diameter_mm=10.0, color="#ffffff"), 25.0, center)


def test_large_photo_is_searched_on_a_reduced_copy():
    # 2048 x 1536 px (searched at 1024 px): the edge is still read at full resolution.
    rng = np.random.default_rng(3)
    rgb = np.clip(np.full((1536, 2048, 3), (0.8, 0.6, 0.5)) + rng.normal(0, 0.01, (1536, 2048, 3)), 0, 1)
    center = (1203.37, 611.81)
    image = draw_sticker(rgb, diameter_mm=12.0, px_per_mm=30.0, center_xy=center, color="#1f5fbf")
    found = find_sticker(image, diameter_mm=12.0, color="#1f5fbf")
    _check(found, 30.0, center, rel=0.005)


@pytest.mark.parametrize(
    "center",
    [(260.3, 150.6), (150.3, 315.6), (425.3, 40.6), (40.3, 95.6)],
    ids=["face", "suit", "wall", "flag"],
)
def test_white_disc_painted_on_a_real_photo(center):
    # A 40 px white disc named as a 10 mm sticker: 4 px/mm by construction.
    photo = img_as_float(data.astronaut())
    image = draw_sticker(photo, diameter_mm=10.0, px_per_mm=4.0, center_xy=center)
    found = find_sticker(image, diameter_mm=10.0, color="#ffffff")
    assert found, found.reason
    assert found.px_per_mm == pytest.approx(4.0, rel=0.02)
    assert np.hypot(found.center_xy[0] - center[0], found.center_xy[1] - center[1]) < 1.0


def test_tolerance_adds_to_the_uncertainty():
    image = draw_sticker(_skin(10.0), diameter_mm=10.0, px_per_mm=10.0, center_xy=(200.0, 150.0))
    exact = find_sticker(image, diameter_mm=10.0)
    loose = find_sticker(image, diameter_mm=10.0, tolerance_mm=0.1)
    assert loose.px_per_mm == exact.px_per_mm
    # 0.1 mm on 10 mm is 1 %, added in quadrature.
    assert loose.uncertainty_pct == pytest.approx(np.hypot(exact.uncertainty_pct, 1.0), rel=1e-9)


def test_color_parsing():
    assert sticker_color_lab("#ffffff") == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert sticker_color_lab("#000000") == pytest.approx([0.0, 0.0, 0.0], abs=0.01)
    assert sticker_color_lab((50.0, 10.0, -20.0)) == pytest.approx([50.0, 10.0, -20.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"diameter_mm": 0.0}, "diameter_mm"),
        ({"diameter_mm": -5.0}, "diameter_mm"),
        ({"diameter_mm": float("nan")}, "diameter_mm"),
        ({"diameter_mm": 10.0, "color": "white"}, "hex"),
        ({"diameter_mm": 10.0, "color": "#fff"}, "hex"),
        ({"diameter_mm": 10.0, "color": (120.0, 0.0, 0.0)}, "L\\* in 0-100"),
        ({"diameter_mm": 10.0, "color": (50.0, 0.0)}, "L\\*"),
        ({"diameter_mm": 10.0, "tolerance_mm": -0.1}, "tolerance_mm"),
        ({"diameter_mm": 10.0, "px_per_mm_range": (10.0, 1.0)}, "px_per_mm_range"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_sticker(np.zeros((64, 64, 3)), **kwargs)
