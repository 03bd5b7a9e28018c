"""texture.roi: skin mask on synthetic scenes with known regions and a real portrait; polygons."""

import numpy as np
import pytest
from skimage import data
from skimage.color import lab2rgb

from texture.phantoms.photo import render_skin
from texture.roi import polygon_mask, skin_mask


def _colour(lab):
    return lab2rgb(np.array(lab, dtype=float).reshape(1, 1, 3)).reshape(3)


def test_scene_with_background_hair_lips_and_glint():
    # Known regions drawn on a 20 px/mm "face": skin everywhere except the listed patches.
    rng = np.random.default_rng(0)
    rgb = np.empty((400, 400, 3))
    rgb[:] = _colour((65, 12, 17))
    truth = np.ones((400, 400), bool)
    regions = {
        "background (blue-grey wall)": (np.s_[:, :80], (60, -2, -12)),
        "hair (dark brown)": (np.s_[:60, 80:], (18, 4, 8)),
        "lips (red)": (np.s_[300:340, 180:300], (48, 40, 18)),
        "glint (white)": (np.s_[150:170, 250:270], (97, 0, 2)),
        "sclera (white, grey)": (np.s_[120:140, 120:160], (85, 0, 2)),
    }
    for region, lab in regions.values():
        rgb[region] = _colour(lab)
        truth[region] = False
    rgb = np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1)
    mask = skin_mask(rgb, px_per_mm=20.0)
    inner = truth.copy()
    inner[:, :90] = inner[:70] = False  # away from the region borders
    assert mask[inner].mean() > 0.97
    for name, (region, _) in regions.items():
        assert mask[region].mean() < 0.05, name


def test_pores_spots_and_lines_stay_in_the_mask():
    phantom = render_skin(px_per_mm=20.0, size_mm=(24.0, 24.0), n_spots=6, n_lines=6, seed=1)
    mask = skin_mask(phantom.rgb, px_per_mm=20.0)
    assert mask.mean() > 0.99


def test_real_portrait_keeps_face_drops_suit_and_background():
    rgb = data.astronaut() / 255.0
    mask = skin_mask(rgb)
    assert mask[80:180, 180:280].mean() > 0.7  # face
    assert mask[300:500, 50:250].mean() < 0.1  # orange suit
    assert mask[100:250, 420:512].mean() < 0.1  # background
    assert mask[138:153, 205:242].mean() < 0.5  # mouth: lips and teeth


def test_colour_cast_falls_back_to_lightness_rules():
    # A blue-cast photo (dermoscopy light), where under 5 % of the pixels have a skin hue, still gives
    # skin rather than an almost empty mask.
    rgb = np.empty((200, 200, 3))
    rgb[:] = _colour((75, -1, -17))
    rgb[90:110, 90:120] = _colour((40, 8, 5))  # a small lesion, still in
    mask = skin_mask(rgb)
    assert mask.mean() > 0.95


def test_all_dark_image_raises():
    with pytest.raises(ValueError):
        skin_mask(np.zeros((50, 50, 3)))


def test_polygon_mask_uses_x_y_order():
    # A 20 px wide (x 10..30), 3 px tall (y 2..5) rectangle.
    mask = polygon_mask((40, 50), [(10, 2), (30, 2), (30, 5), (10, 5)])
    assert mask.shape == (40, 50)
    assert mask[3, 20] and not mask[20, 3]
    rows, cols = np.nonzero(mask)
    assert rows.min() >= 2 and rows.max() <= 5 and cols.min() >= 10 and cols.max() <= 30


def test_polygon_mask_rejects_bad_polygons():
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(1, 1), (5, 5)])
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(100, 100), (120, 100), (120, 120)])
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(1, 1), (np.nan, 5), (3, 3)])
