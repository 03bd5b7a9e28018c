"""texture.color against values computed by hand from the published definitions: the sRGB transfer
curve (IEC 61966-2-1), CIELAB of reference colours, ITA (Chardon et al. 1991) and the melanin and
erythema indices of Diffey, Oliver & Farr (1984)."""

import math

import numpy as np
import pytest

from texture.color import (
    ITA_CLASSES,
    erythema_index,
    ita_class,
    lab_of,
    linear_to_srgb,
    melanin_index,
    rgb_to_lab,
    srgb_to_linear,
)


def uniform(rgb, shape=(8, 10)):
    return np.broadcast_to(np.asarray(rgb, dtype=float), (*shape, 3)).copy()


def test_srgb_transfer_curve_published_points():
    # IEC 61966-2-1: linear segment below 0.04045, then ((v + 0.055) / 1.055) ** 2.4.
    assert srgb_to_linear(np.array([0.04045]))[0] == pytest.approx(0.04045 / 12.92)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(((0.5 + 0.055) / 1.055) ** 2.4)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.2140, abs=1e-4)
    assert srgb_to_linear(np.array([1.0]))[0] == pytest.approx(1.0)


def test_transfer_curve_round_trip():
    v = np.linspace(0.0, 1.0, 1001)
    assert np.allclose(linear_to_srgb(srgb_to_linear(v)), v, atol=1e-12)


def test_lab_of_white_black_and_grey():
    lab = rgb_to_lab(np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]]))
    # skimage's sRGB matrix and D65 white agree to ~0.005 in a* and b* (rounded published constants).
    assert lab[0, 0] == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[0, 1] == pytest.approx([0.0, 0.0, 0.0], abs=1e-3)
    # L* of Y = 0.2140: 116 * Y^(1/3) - 16 = 53.39 (grey has a* = b* = 0).
    assert lab[0, 2] == pytest.approx([116 * 0.21404 ** (1 / 3) - 16, 0.0, 0.0], abs=0.02)


def test_ita_classes_are_the_published_bounds():
    # Chardon et al. 1991 / Del Bino et al. 2006: > 55 very light, 41-55 light, 28-41 intermediate,
    # 10-28 tan, -30-10 brown, < -30 dark.
    bounds = dict(ITA_CLASSES)
    assert [bounds[k] for k in ("very_light", "light", "intermediate", "tan", "brown")] == [
        55,
        41,
        28,
        10,
        -30,
    ]
    assert ita_class(60.0) == "very_light" and ita_class(29.1) == "intermediate" and ita_class(-45) == "dark"


def test_ita_of_a_uniform_skin_is_the_hand_computed_angle():
    from skimage.color import lab2rgb

    from texture.color import ita_deg

    lab = np.array([[[60.0, 12.0, 18.0]]])
    rgb = uniform(lab2rgb(lab)[0, 0])
    # atan((L* - 50) / b*) = atan(10 / 18) = 29.05 deg (the 29.1 deg).
    assert ita_deg(rgb_to_lab(rgb)) == pytest.approx(math.degrees(math.atan(10 / 18)), abs=0.05)


def test_melanin_and_erythema_indices_from_their_definitions():
    # Linear reflectances R = 0.25, G = 0.10: MI = 100 log10(1 / R), EI = 100 log10(R / G).
    rgb = uniform(linear_to_srgb(np.array([0.25, 0.10, 0.08])))
    assert melanin_index(rgb) == pytest.approx(100 * math.log10(1 / 0.25), abs=1e-6)
    assert erythema_index(rgb) == pytest.approx(100 * math.log10(0.25 / 0.10), abs=1e-6)


def test_indices_use_the_masked_pixels_only():
    rgb = uniform(linear_to_srgb(np.array([0.25, 0.10, 0.08])))
    rgb[:, :5] = linear_to_srgb(np.array([0.5, 0.5, 0.5]))
    mask = np.zeros(rgb.shape[:2], bool)
    mask[:, 5:] = True
    assert melanin_index(rgb, mask=mask) == pytest.approx(100 * math.log10(4), abs=1e-6)
    with pytest.raises(ValueError, match="no pixels"):
        melanin_index(rgb, mask=np.zeros_like(mask))


def test_lab_of_validates_its_input():
    with pytest.raises(ValueError, match="give rgb or lab"):
        lab_of(None, None)
    with pytest.raises(ValueError, match="shape"):
        lab_of(None, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="float"):
        lab_of(None, np.zeros((4, 4, 3), dtype=np.uint8))
    bad = np.zeros((4, 4, 3))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lab_of(None, bad)
    assert lab_of(None, bad, check_finite=False) is not None


def test_eight_bit_table_gives_the_formulas_values():
    # Decoded 8-bit photos (float32 k/255 as pipelines.io.decode makes them, and float64 k/255) go through
    # a 256-entry table: the values must equal the sRGB formula evaluated on every pixel.
    from texture.color import _srgb_to_linear_formula, eight_bit_codes

    rng = np.random.default_rng(5)
    k = rng.integers(0, 256, (90, 140, 3), dtype=np.uint8)
    for x in (k.astype(np.float32) / np.float32(255), k / 255.0, (k / 255.0)[::2, 1::3]):
        assert np.array_equal(eight_bit_codes(x), k if x.shape == k.shape else k[::2, 1::3])
        assert np.array_equal(srgb_to_linear(x), _srgb_to_linear_formula(x))
    x = k.astype(np.float32) / np.float32(255)
    for off in (x + np.float32(1e-4), x - 1.0, np.where(k == 7, np.nan, x).astype(np.float32)):
        assert eight_bit_codes(off) is None
    assert eight_bit_codes(x[:10, :10]) is None  # small arrays take the formula
