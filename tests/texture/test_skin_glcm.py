"""texture.skin_glcm: photo GLCM on L* with an IBSI fixed bin width (hand computation, phantoms of known
texture amplitude, and real dermoscopy photos under known edits)."""

import numpy as np
import pytest

from tests.texture import _photos
from texture.color import rgb_to_lab
from texture.phantoms.photo import render_textured_skin
from texture.skin_glcm import DEFAULT_BIN_WIDTH_L, glcm_columns


def _stripes(low: float, high: float, shape=(40, 60)) -> np.ndarray:
    light = np.full(shape, low, dtype=np.float32)
    light[:, ::2] = high  # vertical stripes one pixel wide
    return light


def test_stripes_by_hand_in_l_star_bins():
    # L* 30.4 and 70.2 -> bins floor(L / 1) + 1 = 31 and 71, 40 bins apart. Horizontal and both diagonal
    # neighbours always differ, vertical never: contrast = (3 * 40**2 + 0) / 4 = 1200; ASM 0.5 each way.
    mask = np.ones((40, 60), bool)
    m = glcm_columns(_stripes(30.4, 70.2), mask)
    assert DEFAULT_BIN_WIDTH_L == 1.0
    assert m["glcm_contrast"] == pytest.approx(1200.0, rel=1e-12)
    assert m["glcm_angular_second_moment"] == pytest.approx(0.5, rel=1e-12)
    assert m["glcm_inverse_difference_moment"] == pytest.approx((3 / (1 + 40**2) + 1) / 4, rel=1e-12)
    # 2 L* per bin: bins 16 and 36, 20 apart -> contrast 3 * 400 / 4.
    assert glcm_columns(_stripes(30.4, 70.2), mask, bin_width=2.0)["glcm_contrast"] == pytest.approx(300.0)


def test_stripe_amplitude_reads_in_the_contrast_and_a_shift_does_not():
    # The point of a fixed bin width: a smaller lightness amplitude is a smaller contrast, while a
    # uniform shift by whole bins (a brighter flash, roughly) changes nothing.
    mask = np.ones((40, 60), bool)
    wide = glcm_columns(_stripes(50.5, 58.5), mask)["glcm_contrast"]  # 8 bins: 3 * 64 / 4 = 48
    narrow = glcm_columns(_stripes(50.5, 56.5), mask)["glcm_contrast"]  # 6 bins: 27
    shifted = glcm_columns(_stripes(53.5, 61.5), mask)["glcm_contrast"]
    assert (wide, narrow, shifted) == pytest.approx((48.0, 27.0, 48.0))


def test_fixed_bin_number_keeps_the_former_definition():
    # levels=32 over the robust range: the two stripe values become levels 1 and 32 whatever their L*.
    mask = np.ones((40, 60), bool)
    for low, high in ((30.0, 70.0), (50.0, 52.0)):
        m = glcm_columns(_stripes(low, high), mask, levels=32)
        assert m["glcm_contrast"] == pytest.approx(3 * 31**2 / 4, rel=1e-9)


@pytest.fixture(scope="module")
def amplitude_series():
    # The same skin (micro-relief + pores, same sensor noise) at texture amplitude 0.75, 1, 1.5, 3, and
    # at amplitude 1 behind a lens blur of sigma 1 px.
    out = {}
    for label, kwargs in {
        "x0.75": {"amplitude": 0.75},
        "x1": {},
        "x1.5": {"amplitude": 1.5},
        "x3": {"amplitude": 3.0},
        "blur": {"blur_px": 1.0},
    }.items():
        rgb = render_textured_skin(px_per_mm=20.0, size_mm=(15.0, 15.0), seed=2, **kwargs)
        light = rgb_to_lab(rgb)[..., 0]
        out[label] = glcm_columns(light, np.ones(light.shape, bool))["glcm_contrast"]
    return out


def test_texture_amplitude_and_blur_move_the_contrast(amplitude_series):
    c = amplitude_series
    print({k: round(v, 3) for k, v in c.items()})
    # Contrast ~ E[(dL*)^2] grows about as the amplitude squared (plus the noise floor): demand at least
    # half of the ideal change in each direction.
    assert c["x0.75"] < c["x1"] * (1 - 0.5 * (1 - 0.75**2))
    assert c["x1.5"] > c["x1"] * (1 + 0.5 * (1.5**2 - 1))
    assert c["x3"] > c["x1"] * (1 + 0.5 * (3**2 - 1))
    assert c["blur"] < 0.8 * c["x1"]


@pytest.mark.parametrize("name", _photos.NAMES)
def test_real_photo_smoothing_lowers_contrast_and_roughening_raises_it(name):
    rgb = _photos.load(name)
    mask = np.zeros(rgb.shape[:2], bool)
    mask[20:-20, 20:-20] = True  # inside the photo's frame

    def contrast(image):
        return glcm_columns(rgb_to_lab(image)[..., 0], mask)["glcm_contrast"]

    base = contrast(rgb)
    smoother = contrast(_photos.texture_scaled(rgb, 0.75))
    rougher = contrast(_photos.texture_scaled(rgb, 1.5))
    blurred = contrast(_photos.blurred(rgb, 1.0))
    print(
        name,
        f"base {base:.3f} x0.75 {smoother / base - 1:+.1%} x1.5 {rougher / base - 1:+.1%} "
        f"blur {blurred / base - 1:+.1%}",
    )
    assert smoother < 0.9 * base
    assert rougher > 1.2 * base
    assert blurred < 0.9 * base


def test_bad_arguments_raise_value_error():
    light = _stripes(30.0, 70.0)
    mask = np.ones(light.shape, bool)
    with pytest.raises(ValueError, match="not both"):
        glcm_columns(light, mask, bin_width=1.0, levels=32)
    for width in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="bin_width"):
            glcm_columns(light, mask, bin_width=width)
    with pytest.raises(ValueError, match="empty"):
        glcm_columns(light, np.zeros_like(mask))
    with pytest.raises(ValueError, match="unknown GLCM"):
        glcm_columns(light, mask, features=("glcm_nonsense",))
