"""Registration against known truth: follow-ups made from one scene by known rotations, shifts, scales and
exposure changes must be mapped back onto the baseline; unrelated images must fail loudly.

The last tests exercise ``pipelines.assays.alignment.align_series``, the pipeline wrapper of this module.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import io as skio

from texture.phantoms.colorchart import skin_background
from texture.registration import (
    Registration,
    common_overlap,
    register_to_baseline,
    warp_to_baseline,
)

VIEW = 400  # side of the baseline / follow-up photos, px


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return skin_background((600, 600), seed=3, pore_density=0.003)


def view(
    scene: np.ndarray,
    angle_deg: float = 0.0,
    shift=(0.0, 0.0),
    scale: float = 1.0,
    exposure: float = 1.0,
    noise_seed: int | None = None,
):
    """A VIEW x VIEW photo of ``scene``: content rotated ``angle_deg`` counter-clockwise on screen, scaled,
    and the camera shifted by ``shift`` (x, y) scene pixels; with ``noise_seed``, a separate capture (a
    little defocus, sensor noise SD 0.01). Returns the photo and the 2x3 map scene (x, y) -> photo (x, y)."""
    th = np.radians(angle_deg)
    # Counter-clockwise on screen with rows going down: x' = x cos + y sin, y' = -x sin + y cos.
    rot = scale * np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    scene_centre = np.array([(scene.shape[1] - 1) / 2, (scene.shape[0] - 1) / 2]) + np.asarray(shift)
    view_centre = np.array([(VIEW - 1) / 2, (VIEW - 1) / 2])
    to_view = np.hstack([rot, (view_centre - rot @ scene_centre)[:, None]])
    photo = cv2.warpAffine(scene, to_view, (VIEW, VIEW), flags=cv2.INTER_CUBIC)
    # A brighter flash multiplies linear light: apply the gain on the linearised values.
    linear = np.where(photo <= 0.04045, photo / 12.92, ((photo + 0.055) / 1.055) ** 2.4) * exposure
    photo = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.clip(linear, 0, 1) ** (1 / 2.4) - 0.055)
    if noise_seed is not None:
        photo = cv2.GaussianBlur(photo, (0, 0), 0.7)
        photo = photo + np.random.default_rng(noise_seed).normal(0.0, 0.01, photo.shape)
    return np.clip(photo, 0.0, 1.0), to_view


def true_moving_to_baseline(to_baseline: np.ndarray, to_moving: np.ndarray) -> np.ndarray:
    h = lambda m: np.vstack([m, [0, 0, 1]])  # noqa: E731
    return (h(to_baseline) @ np.linalg.inv(h(to_moving)))[:2]


def grid_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Largest displacement difference between two moving->baseline maps over the follow-up's pixels."""
    ys, xs = np.meshgrid(np.linspace(0, VIEW - 1, 9), np.linspace(0, VIEW - 1, 9))
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    return float(np.max(np.linalg.norm(estimate @ pts - truth @ pts, axis=0)))


@pytest.mark.parametrize(
    ("angle", "shift", "exposure"),
    [(4.0, (15.0, -12.0), 1.04), (-3.0, (-18.0, 10.0), 0.96), (5.0, (12.0, 17.0), 1.0)],
)
def test_recovers_rotation_shift_under_exposure_change(scene, angle, shift, exposure):
    baseline, to_b = view(scene, noise_seed=1)
    moving, to_m = view(scene, angle, shift, exposure=exposure, noise_seed=2)
    reg = register_to_baseline(moving, baseline)
    truth = true_moving_to_baseline(to_b, to_m)
    print(
        f"\nrot {angle:+.1f} shift {shift} exp {exposure}: recovered rot {reg.rotation_deg:+.4f} deg, "
        f"grid err {grid_error(reg.matrix, truth):.3f} px, error_px {reg.error_px:.3f}, "
        f"inliers {reg.n_inliers}, ECC rho {reg.ecc_correlation:.3f}"
    )
    assert reg.success, reg.message
    # The follow-up content was rotated +angle, so mapping it back is a rotation of -angle.
    assert reg.rotation_deg == pytest.approx(-angle, abs=0.3)
    centre = np.array([(VIEW - 1) / 2, (VIEW - 1) / 2, 1.0])
    assert np.linalg.norm(reg.matrix @ centre - truth @ centre) < 1.0
    assert grid_error(reg.matrix, truth) < 1.0
    assert reg.error_px < 1.0
    assert np.isfinite(reg.ecc_correlation)


def test_sparse_texture_is_still_registered():
    sparse = skin_background((600, 600), seed=8, pore_density=0.0005)
    baseline, to_b = view(sparse, noise_seed=3)
    moving, to_m = view(sparse, -4.0, (-15.0, 12.0), exposure=1.04, noise_seed=4)
    reg = register_to_baseline(moving, baseline)
    err = grid_error(reg.matrix, true_moving_to_baseline(to_b, to_m))
    print(f"\nsparse pores: grid err {err:.3f} px, {reg.message}")
    assert reg.success, reg.message
    assert err < 1.0


def test_uneven_lighting_does_not_pull_the_refinement(scene):
    baseline, to_b = view(scene, noise_seed=1)
    moving, to_m = view(scene, 4.0, (15.0, -12.0), noise_seed=2)
    # The flash moved: +-25 % light from left to right, multiplying the follow-up's (roughly linear) values.
    ramp = np.linspace(0.75, 1.25, VIEW)[None, :, None]
    reg = register_to_baseline(np.clip(moving * ramp, 0, 1), baseline)
    err = grid_error(reg.matrix, true_moving_to_baseline(to_b, to_m))
    print(f"\nlight gradient: grid err {err:.3f} px, {reg.message}")
    assert reg.success, reg.message
    assert np.isfinite(reg.ecc_correlation), reg.message  # ECC was kept, not rejected
    assert err < 0.5


def test_features_alone_and_orb_also_meet_the_tolerance(scene):
    baseline, to_b = view(scene)
    moving, to_m = view(scene, 4.0, (15.0, -12.0), exposure=1.04)
    truth = true_moving_to_baseline(to_b, to_m)
    for kwargs in ({"refine": False}, {"detector": "orb"}):
        reg = register_to_baseline(moving, baseline, **kwargs)
        assert reg.success, (kwargs, reg.message)
        assert reg.rotation_deg == pytest.approx(-4.0, abs=0.3), kwargs
        assert grid_error(reg.matrix, truth) < 1.0, kwargs


def test_black_padding_of_a_prewarped_followup_does_not_pull_the_alignment(scene):
    baseline, _ = view(scene)
    # A follow-up made by rotating the baseline itself: black wedges in its corners.
    rotate = cv2.getRotationMatrix2D(((VIEW - 1) / 2, (VIEW - 1) / 2), 4.0, 1.0)
    rotate[:, 2] += [12.0, -9.0]
    moving = cv2.warpAffine(baseline, rotate, (VIEW, VIEW), flags=cv2.INTER_LINEAR)
    reg = register_to_baseline(moving, baseline)
    assert reg.success, reg.message
    assert grid_error(reg.matrix, np.linalg.inv(np.vstack([rotate, [0, 0, 1]]))[:2]) < 0.5


def test_recovers_scale_change(scene):
    baseline, to_b = view(scene)
    moving, to_m = view(scene, 2.0, (5.0, 5.0), scale=1.08)
    reg = register_to_baseline(moving, baseline)
    assert reg.success, reg.message
    assert reg.scale == pytest.approx(1 / 1.08, rel=0.003)
    assert grid_error(reg.matrix, true_moving_to_baseline(to_b, to_m)) < 1.0


def test_grey_input_and_baseline_mask(scene):
    baseline, to_b = view(scene)
    moving, to_m = view(scene, -4.0, (10.0, 10.0))
    mask = np.zeros(baseline.shape[:2], bool)
    mask[:, : VIEW // 2] = True  # align on the left half only
    reg = register_to_baseline(moving.mean(axis=2), baseline.mean(axis=2), mask=mask)
    assert reg.success, reg.message
    assert grid_error(reg.matrix, true_moving_to_baseline(to_b, to_m)) < 1.0


def test_real_photo_rotated_and_shifted_is_registered(shared_data):
    photo = skio.imread(shared_data / "dermoscopy" / "ISIC_0000000.jpg")[..., :3] / 255.0
    baseline, to_b = view(photo)
    moving, to_m = view(photo, 3.5, (-14.0, 11.0), exposure=1.04)
    reg = register_to_baseline(moving, baseline)
    err = grid_error(reg.matrix, true_moving_to_baseline(to_b, to_m))
    print(f"\nreal photo: rot {reg.rotation_deg:+.4f} (truth -3.5), grid err {err:.3f} px, {reg.message}")
    assert reg.success, reg.message
    assert reg.rotation_deg == pytest.approx(-3.5, abs=0.3)
    assert err < 1.0


def test_unrelated_images_fail_with_a_message(scene):
    baseline, _ = view(scene)
    noise = np.random.default_rng(0).random(baseline.shape)
    other_skin = skin_background(baseline.shape[:2], seed=11, pore_density=0.003)
    for moving in (noise, other_skin):
        reg = register_to_baseline(moving, baseline)
        assert not reg.success
        assert "failed" in reg.message
        with pytest.raises(ValueError, match="failed registration"):
            warp_to_baseline(moving, reg, output_shape=baseline.shape)


def test_flat_image_fails_without_crashing(scene):
    baseline, _ = view(scene)
    reg = register_to_baseline(np.full_like(baseline, 0.5), baseline)
    assert not reg.success and "failed" in reg.message


def test_bad_input_raises(scene):
    baseline, _ = view(scene)
    bad = baseline.copy()
    bad[3, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        register_to_baseline(bad, baseline)
    with pytest.raises(ValueError, match="no pixels"):
        register_to_baseline(baseline, baseline, mask=np.zeros(baseline.shape[:2], bool))
    with pytest.raises(ValueError, match="shape"):
        register_to_baseline(baseline[..., :2], baseline)


def test_warp_of_a_pure_shift_and_its_valid_mask():
    rng = np.random.default_rng(1)
    image = rng.random((40, 60, 3))
    reg = Registration(np.array([[1.0, 0, 20], [0, 1.0, 0]]), 0.0, 100, True, "shift")
    warped, valid = warp_to_baseline(image, reg, output_shape=(40, 60, 3))
    assert warped.shape == (40, 60, 3)
    np.testing.assert_allclose(warped[:, 20:], image[:, :40], atol=1e-12)
    assert valid[:, 20:].all() and not valid[:, :20].any()
    overlap = common_overlap(valid, margin_px=2)
    # Eroded at the follow-up's edge (x = 20, 21) but not at the image border.
    assert not overlap[:, :22].any() and overlap[:, 22:].all()
    baseline_mask = np.zeros((40, 60), bool)
    baseline_mask[10:30, :] = True
    assert (common_overlap(valid, baseline_mask=baseline_mask, margin_px=0) == valid & baseline_mask).all()
