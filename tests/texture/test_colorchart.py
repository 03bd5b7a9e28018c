"""Chart colour correction and exposure normalisation against known truth: a synthetic chart photo with a
known cast, published CIEDE2000 test pairs, exact matrix recovery, and known exposure gains.

The last tests exercise ``pipelines.assays.alignment.correct_color``, the pipeline wrapper of this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import io as skio

from texture.color import delta_e, linear_to_srgb, rgb_to_lab, srgb_to_linear
from texture.colorchart import (
    COLORCHECKER_LAB_D50,
    COLORCHECKER_LAB_D65,
    COLORCHECKER_LINEAR_SRGB,
    COLORCHECKER_NAMES,
    COLORCHECKER_SRGB,
    apply_color_correction,
    chart_delta_e,
    chart_from_corners,
    color_correction_matrix,
    detect_colorchecker,
    may_hold_chart,
)
from texture.exposure import median_l_star, normalize_exposure
from texture.phantoms.colorchart import colorchart_photo, skin_background


def sample_at(rgb: np.ndarray, centres: np.ndarray, half: int = 4) -> np.ndarray:
    """Mean colour of a (2 half + 1)^2 square around each true patch centre (independent of the detector)."""
    out = []
    for x, y in np.round(centres).astype(int):
        out.append(rgb[y - half : y + half + 1, x - half : x + half + 1].reshape(-1, 3).mean(axis=0))
    return np.array(out)


_DERMOSCOPY = Path(__file__).resolve().parents[1] / "data" / "dermoscopy"


@pytest.fixture(scope="module")
def phantom():
    return colorchart_photo((420, 560), chart_angle_deg=7.0, seed=2)


@pytest.fixture(scope="module")
def dim_cool_phantom():
    """A different cast (bluish, daylight-like) and a flash 15 % too weak."""
    return colorchart_photo((420, 560), cast=(0.85, 1.0, 1.25), exposure=0.85, chart_angle_deg=-5.0, seed=3)


def test_ciede2000_matches_sharma_test_pairs():
    # Sharma, Wu & Dalal (2005), Color Res. Appl. 30:21-30, Table 1, pairs 1, 7 and 17.
    lab1 = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = np.array([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    np.testing.assert_allclose(delta_e(lab1, lab2), [2.0425, 2.3669, 27.1492], atol=1e-4)
    with pytest.raises(ValueError):
        delta_e(lab1[:, :2], lab2[:, :2])


def test_reference_values_are_consistent():
    # Bradford adaptation maps the D50 white onto the D65 white with the same Y, so near-neutral patches keep
    # their L* (the chart's greys are slightly chromatic, b* up to 2.9, hence a few hundredths of drift).
    neutrals = slice(18, 24)
    np.testing.assert_allclose(
        COLORCHECKER_LAB_D65[neutrals, 0], COLORCHECKER_LAB_D50[neutrals, 0], atol=0.05
    )
    assert np.all(np.abs(COLORCHECKER_LAB_D65[neutrals, 1:]) < 3.0)
    # The sRGB rendering reproduces the reference except cyan, which lies outside the sRGB gamut.
    rendered = chart_delta_e(COLORCHECKER_SRGB)
    assert np.all(np.delete(rendered, 17) < 0.1)
    assert COLORCHECKER_LINEAR_SRGB[17, 0] < 0 and 2.0 < rendered[17] < 5.0
    # Dark skin as 8-bit sRGB, close to X-Rite's published (115, 82, 68) for the chart.
    assert np.all(np.abs(np.round(COLORCHECKER_SRGB[0] * 255) - [115, 82, 68]) <= 4)
    with pytest.raises(ValueError):
        COLORCHECKER_SRGB[0, 0] = 0.0


def test_matrix_recovers_a_known_linear_cast_exactly():
    cast = np.array([[1.1, 0.05, 0.02], [0.03, 0.9, 0.04], [0.0, 0.06, 0.75]])
    reference = linear_to_srgb(np.clip(COLORCHECKER_LINEAR_SRGB, 0, 1))
    measured = linear_to_srgb(srgb_to_linear(reference) @ cast.T)
    matrix = color_correction_matrix(measured, reference)
    np.testing.assert_allclose(matrix, np.linalg.inv(cast), atol=1e-9)
    offset = np.array([0.01, 0.02, 0.0])
    measured_affine = linear_to_srgb(srgb_to_linear(reference) @ cast.T + offset)
    affine = color_correction_matrix(measured_affine, reference, affine=True)
    assert affine.shape == (3, 4)
    np.testing.assert_allclose(affine[:, :3], np.linalg.inv(cast), atol=1e-6)
    np.testing.assert_allclose(affine[:, 3], -np.linalg.inv(cast) @ offset, atol=1e-6)


def test_saturated_patches_are_left_out_of_the_fit():
    gain = np.diag([1.3, 1.3, 1.3])  # overexposed: white and neutral 8 clip
    reference = linear_to_srgb(np.clip(COLORCHECKER_LINEAR_SRGB, 0, 1))
    measured = linear_to_srgb(srgb_to_linear(reference) @ gain.T)
    assert np.any(measured >= 0.98)
    np.testing.assert_allclose(color_correction_matrix(measured, reference), np.linalg.inv(gain), atol=1e-9)
    with pytest.raises(ValueError, match="too few"):
        color_correction_matrix(np.ones((24, 3)), reference)


@pytest.mark.parametrize("method", ["mcc", "grid"])
@pytest.mark.parametrize("angle", [0.0, 12.0, 180.0])
def test_chart_is_found_where_it_was_drawn(method, angle):
    ph = colorchart_photo((420, 560), chart_angle_deg=angle, seed=1)
    found = detect_colorchecker(ph.rgb, method=method)
    assert found is not None, (method, angle)
    pitch = np.linalg.norm(ph.patch_centers[1] - ph.patch_centers[0])
    # Reading order recovered whatever the orientation; centres within 10 % of the patch pitch (15 % for
    # cv2.mcc, whose answer for the same image moves by up to ~5 px between calls in one process; patches
    # are sampled on their central half, so that offset still samples inside each patch).
    tolerance = 0.15 if method == "mcc" else 0.1
    assert np.max(np.linalg.norm(found.patch_centers - ph.patch_centers, axis=1)) < tolerance * pitch
    assert found.chart_mask[~ph.skin_mask].mean() > 0.9
    assert found.chart_mask[ph.skin_mask].mean() < 0.02


def test_no_chart_in_plain_skin():
    assert detect_colorchecker(skin_background((300, 400), seed=5)) is None


def test_a_grid_of_the_wrong_colours_is_not_taken_for_the_chart():
    ph = colorchart_photo((420, 560), chart_angle_deg=0.0, seed=1)
    pitch = np.linalg.norm(ph.patch_centers[1] - ph.patch_centers[0])
    half = int(0.42 * pitch)
    shuffled = ph.rgb.copy()
    colours = sample_at(ph.rgb, ph.patch_centers)[np.random.default_rng(0).permutation(24)]
    for (x, y), colour in zip(np.round(ph.patch_centers).astype(int), colours, strict=True):
        shuffled[y - half : y + half, x - half : x + half] = colour
    assert detect_colorchecker(shuffled) is None


def test_a_chart_cut_by_the_image_border_is_not_used():
    ph = colorchart_photo((420, 560), chart_center=(520.0, 330.0), chart_width=250.0)
    assert detect_colorchecker(ph.rgb) is None


@pytest.mark.parametrize("cast", [(1.0, 0.6, 0.3), (1.25, 1.0, 0.7), (0.6, 0.8, 1.0)])
def test_chart_gate_passes_charts_under_strong_casts(cast):
    # (1, 0.6, 0.3): stronger than an uncorrected tungsten lamp. A small chart (patches ~9 px).
    ph = colorchart_photo((420, 560), cast=cast, chart_width=90.0, seed=4)
    assert may_hold_chart(ph.rgb), cast
    skin_only = ph.rgb.copy()
    skin_only[~ph.skin_mask] = np.median(ph.rgb[ph.skin_mask], axis=0)  # the chart painted over
    assert not may_hold_chart(skin_only), cast


def test_chart_gate_refuses_skin_without_searching(shared_data):
    from texture.phantoms.face import render_face

    photo = skio.imread(shared_data / "dermoscopy" / "ISIC_0000013.jpg")[..., :3] / 255.0
    for skin in (skin_background((300, 400), seed=5), render_face(px_per_mm=2.0).rgb, photo):
        assert not may_hold_chart(skin)
    # A bluish dermoscopy photo passes the gate: it is searched by the detectors, which find nothing.
    bluish = skio.imread(shared_data / "dermoscopy" / "ISIC_0000046.jpg")[..., :3] / 255.0
    assert may_hold_chart(bluish) and detect_colorchecker(bluish) is None


def test_no_chart_in_a_real_skin_photo(shared_data):
    photo = skio.imread(shared_data / "dermoscopy" / "ISIC_0000013.jpg")[..., :3] / 255.0
    assert detect_colorchecker(photo) is None


@pytest.mark.parametrize("method", ["mcc", "grid"])
@pytest.mark.parametrize("which", ["phantom", "dim_cool_phantom"])
def test_cast_is_corrected_to_within_delta_e_3(which, method, request):
    phantom = request.getfixturevalue(which)
    found = detect_colorchecker(phantom.rgb, method=method)
    assert found is not None
    matrix = color_correction_matrix(found.patch_rgb)
    corrected = apply_color_correction(phantom.rgb, matrix)
    before = chart_delta_e(sample_at(phantom.rgb, phantom.patch_centers))
    after = chart_delta_e(sample_at(corrected, phantom.patch_centers))
    skin = phantom.skin_mask
    skin_before = delta_e(rgb_to_lab(phantom.rgb)[skin], rgb_to_lab(phantom.reference_rgb)[skin])
    skin_after = delta_e(rgb_to_lab(corrected)[skin], rgb_to_lab(phantom.reference_rgb)[skin])
    print(
        f"\n{which} [{found.method}] chart mean dE00 {before.mean():.2f} -> {after.mean():.2f} "
        f"(max {after.max():.2f} at {COLORCHECKER_NAMES[after.argmax()]}); "
        f"skin mean dE00 {skin_before.mean():.2f} -> {skin_after.mean():.2f}"
    )
    assert before.mean() > 6.0  # the cast is real
    assert after.mean() < 3.0
    assert skin_after.mean() < 3.0 < skin_before.mean()


def test_chart_from_user_corners(phantom):
    grid = phantom.patch_centers.reshape(4, 6, 2)
    ex, ey = (grid[0, -1] - grid[0, 0]) / 5, (grid[-1, 0] - grid[0, 0]) / 3
    h = 0.4  # patches are 0.8 pitch wide in the phantom
    corners = [
        grid[0, 0] - h * ex - h * ey,
        grid[0, -1] + h * ex - h * ey,
        grid[-1, -1] + h * ex + h * ey,
        grid[-1, 0] - h * ex + h * ey,
    ]
    found = chart_from_corners(phantom.rgb, corners)
    assert found.method == "corners"
    np.testing.assert_allclose(found.patch_centers, phantom.patch_centers, atol=0.5)
    with pytest.raises(ValueError):
        chart_from_corners(phantom.rgb, corners[:3])


@pytest.mark.parametrize("exposure", [1.04, 0.96])
def test_exposure_change_is_normalised_to_baseline_median_l_star(exposure):
    baseline = skin_background((256, 256), seed=4)
    linear = srgb_to_linear(baseline)
    brighter = linear_to_srgb(linear * exposure)
    mask = np.ones(baseline.shape[:2], bool)
    mask[:20] = False
    target = median_l_star(baseline, mask=mask)
    raw = median_l_star(brighter, mask=mask)
    corrected, gain = normalize_exposure(brighter, mask=mask, reference_l_star=target)
    after = median_l_star(corrected, mask=mask)
    print(
        f"\nexposure x{exposure}: median L* {raw:.2f} -> {after:.3f} (baseline {target:.3f}), gain {gain:.4f}"
    )
    assert abs(raw - target) > 0.8  # a 4 % flash change is visible in L*
    assert abs(after - target) < 0.5
    assert gain == pytest.approx(1 / exposure, rel=2e-3)
    # median_l_star agrees with the library's float Lab.
    assert target == pytest.approx(np.median(rgb_to_lab(baseline)[..., 0][mask]), abs=0.01)


@pytest.mark.parametrize("change", [-6.0, 4.0, 12.0])  # darker; brighter; brighter with pixels clipping
def test_exposure_of_an_8_bit_photo_by_table_equals_the_formula(change):
    from texture.color import _srgb_to_linear_formula

    photo = skio.imread(_DERMOSCOPY / "ISIC_0000013.jpg")[::2, ::2, :3]
    rgb = photo.astype(np.float32) / np.float32(255)  # as pipelines.io.decode gives it: the table path
    mask = np.ones(rgb.shape[:2], bool)
    mask[:30] = False
    target = median_l_star(rgb, mask=mask) + change
    corrected, gain = normalize_exposure(rgb, mask=mask, reference_l_star=target)
    # The same gain as the documented iteration evaluated pixel by pixel (to the last bits of a sum) ...
    weights = np.array([0.212671, 0.715160, 0.072169])
    linear = _srgb_to_linear_formula(rgb)[mask]
    y_target = ((target + 16.0) / 116.0) ** 3
    expected = y_target / np.median(linear @ weights)
    for _ in range(2):
        expected *= y_target / np.median(np.clip(linear * expected, 0, 1) @ weights)
    assert gain == pytest.approx(expected, rel=1e-12)
    # ... the same corrected values, and the target reached.
    np.testing.assert_array_equal(corrected, linear_to_srgb(_srgb_to_linear_formula(rgb) * gain))
    assert median_l_star(corrected, mask=mask) == pytest.approx(target, abs=0.05)
    newly_clipped = (rgb[mask] < 1.0) & (corrected[mask] >= 1.0 - 1e-9)
    assert newly_clipped.any() == (change > 0)  # brighter: the clipping passes run; darker: skipped


def test_exposure_bad_input():
    rgb = skin_background((64, 64), seed=4)
    with pytest.raises(ValueError, match="no pixels"):
        normalize_exposure(rgb, mask=np.zeros((64, 64), bool), reference_l_star=60.0)
    with pytest.raises(ValueError, match="gain"):
        normalize_exposure(rgb * 0.05, mask=None, reference_l_star=90.0)
    with pytest.raises(ValueError):
        normalize_exposure(rgb, mask=None, reference_l_star=float("nan"))


def test_automatic_detection_is_repeatable_in_one_process():
    ph = colorchart_photo((420, 560), chart_angle_deg=0.0, seed=1)
    first = detect_colorchecker(ph.rgb)
    for _ in range(3):
        np.testing.assert_array_equal(detect_colorchecker(ph.rgb).patch_centers, first.patch_centers)
