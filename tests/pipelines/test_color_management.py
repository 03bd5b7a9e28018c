"""Colour-managed decoding: the same skin saved in sRGB, Display P3 and Adobe RGB reads the same indices,
and float TIFFs are scaled by their range, not their own min/max."""

import io

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from pipelines.io.decode import ImageDecodeError, load_image
from tests.pipelines.icc_profiles import adobe_rgb_icc, display_p3_icc
from texture.color import srgb_to_linear
from texture.phantoms.photo import render_skin
from texture.pigment import measure_skin_color


@pytest.fixture(scope="module")
def skin8():
    rgb = render_skin(size_mm=(8.0, 8.0), px_per_mm=25.0, seed=3, n_spots=2).rgb
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _indices(rgb):
    return measure_skin_color(rgb).metrics


def _in_profile(rgb8, icc):
    target = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    source = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return ImageCms.profileToProfile(
        Image.fromarray(rgb8), source, target, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
    )


def _save(im, path, fmt, **kw):
    im.save(path, format=fmt, **kw)
    return path


_MEDIAN_STEP = (
    "a median of one 8-bit channel moves in whole code steps (0.5 index units near R = 190): the profile "
    "round trip moves a few % of pixels by one code and the median jumps a step, measured {} here "
    "(pixel means agree within 0.1 %, test below); needs an interpolated median in texture.color"
)


@pytest.mark.parametrize("icc", [display_p3_icc, adobe_rgb_icc], ids=["p3", "adobe"])
@pytest.mark.parametrize(
    "name",
    [
        "ita_deg",
        pytest.param(
            "melanin_index", marks=pytest.mark.xfail(strict=True, reason=_MEDIAN_STEP.format("+1.8 %"))
        ),
        pytest.param(
            "erythema_index", marks=pytest.mark.xfail(strict=True, reason=_MEDIAN_STEP.format("-2.2 %"))
        ),
    ],
)
def test_same_skin_in_another_profile_reads_the_same_indices(skin8, tmp_path, icc, name):
    profile = icc()
    twin = _save(Image.fromarray(skin8), tmp_path / "srgb.png", "PNG")
    other = _save(_in_profile(skin8, profile), tmp_path / "other.png", "PNG", icc_profile=profile)
    reference, loaded = load_image(twin), load_image(other)
    assert reference.icc_profile == ""
    assert loaded.icc_profile.endswith("(test)")
    want, got = _indices(reference.rgb)[name], _indices(loaded.rgb)[name]
    assert got == pytest.approx(want, rel=0.005)


@pytest.mark.parametrize(
    ("fmt", "suffix", "icc", "kw"),
    [
        ("PNG", ".png", display_p3_icc, {}),
        ("PNG", ".png", adobe_rgb_icc, {}),
        ("JPEG", ".jpg", adobe_rgb_icc, {"quality": 100, "subsampling": 0}),
        ("HEIF", ".heic", display_p3_icc, {"quality": 100}),
    ],
    ids=["p3-png", "adobe-png", "adobe-jpeg", "p3-heic"],
)
def test_same_skin_in_another_profile_decodes_to_the_same_reflectance(skin8, tmp_path, fmt, suffix, icc, kw):
    profile = icc()
    twin = _save(Image.fromarray(skin8), tmp_path / f"srgb{suffix}", fmt, **kw)
    other = _save(_in_profile(skin8, profile), tmp_path / f"other{suffix}", fmt, icc_profile=profile, **kw)
    want = srgb_to_linear(load_image(twin).rgb).reshape(-1, 3).mean(axis=0)
    got = srgb_to_linear(load_image(other).rgb).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(got, want, rtol=0.005)
    # The test has teeth: the same file read without its profile is off by far more.
    with Image.open(other) as im:
        raw = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    ignored = srgb_to_linear(raw).reshape(-1, 3).mean(axis=0)
    assert np.max(np.abs(ignored / want - 1.0)) > 0.03
    ignored_indices, want_indices = _indices(raw), _indices(load_image(twin).rgb)
    assert abs(ignored_indices["melanin_index"] / want_indices["melanin_index"] - 1.0) > 0.03


def test_srgb_profile_is_recorded_and_not_reapplied(skin8, tmp_path):
    srgb_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(skin8).save(tmp_path / "tagged.png", icc_profile=srgb_icc)
    loaded = load_image(tmp_path / "tagged.png")
    assert "sRGB" in loaded.icc_profile
    np.testing.assert_array_equal(loaded.rgb, skin8.astype(np.float32) / 255.0)


def test_float_tiffs_are_scaled_by_their_range_not_their_own_extremes(skin8, tmp_path):
    unit = skin8.astype(np.float32) / 255.0
    tifffile.imwrite(tmp_path / "unit.tif", unit, photometric="rgb")
    tifffile.imwrite(tmp_path / "byte.tif", skin8.astype(np.float32), photometric="rgb")
    # A darker copy must stay darker (a min/max stretch made every float image span 0-1).
    tifffile.imwrite(tmp_path / "dark.tif", 0.5 * skin8.astype(np.float32), photometric="rgb")
    a = load_image(tmp_path / "unit.tif").rgb
    b = load_image(tmp_path / "byte.tif").rgb
    c = load_image(tmp_path / "dark.tif").rgb
    np.testing.assert_allclose(a, unit, atol=1e-7)
    np.testing.assert_allclose(b, unit, atol=1e-6)
    np.testing.assert_allclose(c, 0.5 * unit, atol=1e-6)
    tifffile.imwrite(tmp_path / "huge.tif", np.full((32, 32, 3), 1e6, np.float32), photometric="rgb")
    with pytest.raises(ImageDecodeError, match="known range"):
        load_image(tmp_path / "huge.tif")
