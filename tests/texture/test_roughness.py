"""texture.roughness: a grating of known amplitude, invariances, and phantom series."""

import numpy as np
import pytest

from tests.texture import _photos
from texture.phantoms.photo import render_skin, render_textured_skin
from texture.roughness import measure_roughness


def _grating_lab(period_mm, amplitude, px_per_mm, shape=(200, 400)):
    x = np.arange(shape[1]) / px_per_mm
    lab = np.zeros((*shape, 3), np.float32)
    lab[..., 0] = 60.0 + amplitude * np.sin(2 * np.pi * x / period_mm)
    lab[..., 1], lab[..., 2] = 10.0, 15.0
    return lab


@pytest.mark.parametrize("period_mm", [0.5, 1.0])
def test_sinusoidal_grating_matches_difference_of_gaussians_gain(period_mm):
    # A sinusoid of amplitude A has SD A / sqrt(2); a DoG with sigmas s1 < s2 passes it with gain
    # exp(-2 pi^2 s1^2 / p^2) - exp(-2 pi^2 s2^2 / p^2).
    amplitude, s1, s2 = 5.0, 0.05, 0.5
    gain = np.exp(-2 * np.pi**2 * s1**2 / period_mm**2) - np.exp(-2 * np.pi**2 * s2**2 / period_mm**2)
    lab = _grating_lab(period_mm, amplitude, px_per_mm=10.0)
    m = measure_roughness(None, lab=lab, px_per_mm=10.0).metrics
    assert m["texture_roughness"] == pytest.approx(amplitude / np.sqrt(2) * gain, rel=0.05)


def test_same_skin_at_two_scales_reads_the_same():
    low = measure_roughness(render_skin(px_per_mm=20.0, seed=1).rgb, px_per_mm=20.0).metrics
    high = measure_roughness(render_skin(px_per_mm=30.0, seed=1).rgb, px_per_mm=30.0).metrics
    assert high["texture_roughness"] == pytest.approx(low["texture_roughness"], rel=0.05)


def test_shading_and_exposure_do_not_read_as_texture():
    flat = measure_roughness(render_skin(px_per_mm=20.0, seed=2, shading=0.0).rgb, px_per_mm=20.0)
    shaded = measure_roughness(
        render_skin(px_per_mm=20.0, seed=2, shading=0.4, exposure=1.03, noise_seed=9).rgb,
        px_per_mm=20.0,
    )
    assert shaded.metrics["texture_roughness"] == pytest.approx(flat.metrics["texture_roughness"], rel=0.05)


def test_smaller_pores_read_smoother_and_bare_skin_is_near_the_noise_floor():
    values = [
        measure_roughness(render_skin(px_per_mm=20.0, seed=3, pore_scale=s).rgb, px_per_mm=20.0).metrics[
            "texture_roughness"
        ]
        for s in (1.0, 0.85, 0.7)
    ]
    assert values[0] > values[1] > values[2]
    bare = measure_roughness(
        render_skin(px_per_mm=20.0, seed=3, pore_density_per_cm2=0).rgb, px_per_mm=20.0
    ).metrics["texture_roughness"]
    assert bare < 0.1 * values[0]


def test_overlay_and_bad_input():
    phantom = render_skin(px_per_mm=20.0, seed=4)
    result = measure_roughness(phantom.rgb, px_per_mm=20.0)
    assert result.overlay.shape == phantom.rgb.shape
    with pytest.raises(ValueError):
        measure_roughness(phantom.rgb, mask=np.zeros(phantom.rgb.shape[:2], bool))
    with pytest.raises(ValueError):
        measure_roughness(phantom.rgb, scales_mm=(0.5, 0.1))


@pytest.mark.parametrize("px_per_mm", [10.0, 25.0])
def test_smoother_or_blurred_skin_reads_smoother(px_per_mm):
    # The same skin (micro-relief + pores, same noise): texture amplitude x0.75 is ideally -25 % (the
    # band-passed L* scales with the density, noise aside), a lens blur of 1 px removes fine detail.
    def roughness(**kwargs):
        rgb = render_textured_skin(px_per_mm=px_per_mm, size_mm=(15.0, 15.0), seed=5, **kwargs)
        return measure_roughness(rgb, px_per_mm=px_per_mm).metrics["texture_roughness"]

    base, smoother, blurred = roughness(), roughness(amplitude=0.75), roughness(blur_px=1.0)
    print(px_per_mm, f"x0.75 {smoother / base - 1:+.1%} blur {blurred / base - 1:+.1%}")
    assert smoother < 0.85 * base
    assert blurred < 0.98 * base


@pytest.mark.parametrize("name", _photos.NAMES)
def test_real_photo_smoothing_and_blur_lower_roughness(name):
    rgb = _photos.load(name)
    mask = np.zeros(rgb.shape[:2], bool)
    mask[20:-20, 20:-20] = True  # inside the photo's frame

    def roughness(image):
        return measure_roughness(image, mask=mask).metrics["texture_roughness"]

    base = roughness(rgb)
    # Detail up to the band's coarse end (0.5 mm at the assumed 25 px/mm) scaled by 0.75 and 1.5.
    smoother = roughness(_photos.texture_scaled(rgb, 0.75, scale_px=12.5))
    rougher = roughness(_photos.texture_scaled(rgb, 1.5, scale_px=12.5))
    blurred = roughness(_photos.blurred(rgb, 1.0))
    print(
        name,
        f"x0.75 {smoother / base - 1:+.1%} x1.5 {rougher / base - 1:+.1%} blur {blurred / base - 1:+.1%}",
    )
    # Part of the band's energy lies at scales above the edit's 12.5 px, so the fall is below the ideal
    # 25 %: demand 7 %. A 1 px blur removes little of a 0.05-0.5 mm band at 25 px/mm (~3 %), still far
    # beyond the metric's repeatability (CV 0.22 %: smallest real difference 0.6 %).
    assert smoother < 0.93 * base
    assert rougher > 1.2 * base
    assert blurred < 0.99 * base
