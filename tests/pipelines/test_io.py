"""Decoding: every format becomes upright float RGB in [0, 1]; bad files raise clear errors."""

import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from pipelines.io.decode import ImageDecodeError, ImageTooLargeError, find_images, load_image
from pipelines.io.files import sha256_of_file


def _gradient(h=40, w=60):
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx / (w - 1), yy / (h - 1), np.full((h, w), 0.5)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def test_png_rgb_roundtrip_values_and_hash(tmp_path):
    arr = _gradient()
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (40, 60, 3)
    np.testing.assert_allclose(loaded.rgb, arr / 255.0, atol=1e-6)
    assert loaded.sha256 == sha256_of_file(path)
    assert (loaded.width_px, loaded.height_px) == (60, 40)


def test_exif_rotated_jpeg_is_loaded_upright(tmp_path):
    # A landscape image stored with EXIF orientation 6 ("rotate 90 CW to view") must come out portrait,
    # with the stored top-left corner now at the top-right.
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :10] = [255, 0, 0]  # red marker at the stored top-left
    exif = Image.Exif()
    exif[274] = 6
    path = tmp_path / "rot.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    rgb = load_image(path).rgb
    assert rgb.shape == (60, 40, 3)
    assert rgb[:8, -8:, 0].mean() > 0.8 and rgb[:8, :8, 0].mean() < 0.2


def test_16bit_grey_png_and_tiff_scale_to_unit_range(tmp_path):
    grey = np.linspace(0, 65535, 50 * 50).reshape(50, 50).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "g.png")
    tifffile.imwrite(tmp_path / "g.tif", grey)
    for name in ("g.png", "g.tif"):
        loaded = load_image(tmp_path / name)
        assert loaded.source_bit_depth == 16
        np.testing.assert_allclose(loaded.rgb[..., 1], grey / 65535.0, atol=1e-6)
        assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_16bit_rgb_tiff(tmp_path):
    arr = _gradient().astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "c.tif", arr, photometric="rgb")
    np.testing.assert_allclose(load_image(tmp_path / "c.tif").rgb, arr / 65535.0, atol=1e-6)


def test_rgba_png_drops_alpha_and_cmyk_jpeg_converts(tmp_path):
    arr = _gradient()
    rgba = np.dstack([arr, np.full(arr.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image(tmp_path / "a.png").rgb, arr / 255.0, atol=1e-6)
    Image.fromarray(np.full((20, 20, 3), [200, 100, 50], np.uint8)).convert("CMYK").save(
        tmp_path / "c.jpg", quality=95
    )
    rgb = load_image(tmp_path / "c.jpg").rgb
    np.testing.assert_allclose(rgb.mean(axis=(0, 1)), np.array([200, 100, 50]) / 255, atol=0.03)


def test_heic_decodes(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    arr = _gradient(64, 64)
    heif = pillow_heif.from_bytes(mode="RGB", size=(64, 64), data=arr.tobytes())
    heif.save(tmp_path / "p.heic", quality=95)
    rgb = load_image(tmp_path / "p.heic").rgb
    assert rgb.shape == (64, 64, 3)
    assert np.abs(rgb - arr / 255.0).mean() < 0.03


def test_bad_files_raise_clear_errors(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("this is not an image")
    buf = io.BytesIO()
    Image.fromarray(_gradient(200, 200)).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    for name in ("empty.jpg", "text.png", "trunc.png"):
        with pytest.raises(ImageDecodeError):
            load_image(tmp_path / name)


def test_pixel_limit_is_checked_from_the_header(tmp_path):
    Image.fromarray(_gradient(100, 100)).save(tmp_path / "big.png")
    with pytest.raises(ImageTooLargeError, match="exceeds the limit"):
        load_image(tmp_path / "big.png", max_pixels=100 * 99)
    assert load_image(tmp_path / "big.png", max_pixels=100 * 100).rgb.shape == (100, 100, 3)


def test_exif_datetime_is_read(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2026:03:14 09:26:53"
    Image.fromarray(_gradient()).save(tmp_path / "d.jpg", exif=exif)
    assert load_image(tmp_path / "d.jpg").exif_datetime == "2026-03-14T09:26:53"


def test_find_images_is_recursive_and_filters_by_suffix(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.JPG", "sub/b.png", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)] == ["a.JPG", "sub/b.png"]


def test_real_dermoscopy_photo_decodes(shared_data):
    loaded = load_image(shared_data / "dermoscopy" / "ISIC_0000000.jpg")
    assert loaded.rgb.shape == (767, 1022, 3)
    assert 0.2 < loaded.rgb.mean() < 0.9


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
def test_8bit_samples_become_code_over_255_in_float32(channels):
    # Every 8-bit code, in each layout a decoder returns (grey, grey+alpha, RGB, RGBA), must become
    # float32(code) / float32(255) exactly, as a plain conversion and division gives (decode uses a table).
    from pipelines.io.decode import _to_float_rgb

    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    arr = codes if channels is None else np.stack([np.roll(codes, k) for k in range(channels)], axis=2)
    rgb, bits = _to_float_rgb(arr)
    assert bits == 8 and rgb.dtype == np.float32 and rgb.shape == (16, 16, 3) and rgb.flags.c_contiguous
    expected = arr.astype(np.float32) / np.float32(255.0)
    expected = expected[..., None] if expected.ndim == 2 else expected
    first = expected[..., :1] if expected.shape[2] < 3 else expected[..., :3]
    assert np.array_equal(rgb, np.broadcast_to(first, (16, 16, 3)))


def test_16bit_and_signed_samples_stay_in_unit_range():
    from pipelines.io.decode import _to_float_rgb

    u16 = np.array([[0, 1, 32768, 65535]], dtype=np.uint16)
    rgb, bits = _to_float_rgb(u16)
    assert bits == 16
    assert np.array_equal(rgb[..., 0], u16.astype(np.float32) / np.float32(65535.0))
    signed = np.array([[-5, 0, 100, 32767]], dtype=np.int16)
    rgb, _ = _to_float_rgb(signed)
    assert rgb.min() == 0.0 and rgb.max() == 1.0  # negative samples clipped to black
