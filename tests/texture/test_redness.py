"""Red areas and inflammatory lesions (texture.redness) on phantoms with known red patches."""

import numpy as np
import pytest
from skimage import data, util

from texture.face import detect_face
from texture.phantoms.face import render_red_patches
from texture.phantoms.photo import render_skin
from texture.redness import RED_COLUMNS, erythema_map, measure_red_areas
from texture.zones import face_zones


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_fraction_and_count_on_phantoms(seed, strength):
    ph = render_red_patches(seed=seed, strength=strength)
    m = measure_red_areas(ph.rgb, px_per_mm=ph.px_per_mm).metrics
    assert set(m) == set(RED_COLUMNS)
    assert m["red_area_fraction"] == pytest.approx(ph.truth["red_area_fraction"], rel=0.10)
    assert m["red_lesion_count"] == ph.truth["red_lesion_count"]
    assert m["red_lesion_mean_diameter_mm"] == pytest.approx(
        ph.truth["red_lesion_mean_diameter_mm"], rel=0.10
    )
    area_cm2 = ph.rgb.shape[0] * ph.rgb.shape[1] / ph.px_per_mm**2 / 100
    assert m["red_lesion_density_per_cm2"] == pytest.approx(ph.truth["red_lesion_count"] / area_cm2)


def test_smallest_and_largest_papules_count():
    # Hard case: papules at the 1 mm and 5 mm ends of the lesion range, no blotches.
    small = render_red_patches(seed=5, n_papules=10, papule_diameter_mm=(1.2, 1.5), n_blotches=0)
    big = render_red_patches(seed=6, n_papules=6, papule_diameter_mm=(4.0, 4.6), n_blotches=0)
    for ph in (small, big):
        m = measure_red_areas(ph.rgb, px_per_mm=ph.px_per_mm).metrics
        assert m["red_lesion_count"] == ph.truth["red_lesion_count"]


def test_blotches_are_red_area_but_no_lesions():
    ph = render_red_patches(seed=7, n_papules=0, n_blotches=3)
    m = measure_red_areas(ph.rgb, px_per_mm=ph.px_per_mm).metrics
    assert m["red_lesion_count"] == 0 and np.isnan(m["red_lesion_mean_diameter_mm"])
    assert m["red_area_fraction"] == pytest.approx(ph.truth["red_area_fraction"], rel=0.10)


def test_plain_skin_with_uneven_light_has_no_red_area():
    # Strong shading (+-40 %) and pores: a ratio of channels must not read light as redness.
    ph = render_skin(size_mm=(40, 30), px_per_mm=10, shading=0.4, pore_density_per_cm2=80)
    m = measure_red_areas(ph.rgb, px_per_mm=10).metrics
    assert m["red_area_fraction"] < 0.005 and m["red_lesion_count"] == 0


def test_exposure_change_does_not_change_red_areas():
    ph = render_red_patches(seed=2)
    brighter = np.clip(ph.rgb * 1.06, 0, 1)
    a = measure_red_areas(ph.rgb, px_per_mm=10).metrics
    b = measure_red_areas(brighter, px_per_mm=10).metrics
    assert b["red_lesion_count"] == a["red_lesion_count"]
    assert b["red_area_fraction"] == pytest.approx(a["red_area_fraction"], rel=0.05)


def test_without_scale_mm_is_nan_and_px_twin_is_set():
    ph = render_red_patches(seed=1, px_per_mm=25.0, size_mm=(30.0, 25.0), n_papules=5, n_blotches=0)
    m = measure_red_areas(ph.rgb).metrics  # assumed 25 px/mm for the sizes = the true scale here
    assert np.isnan(m["red_lesion_mean_diameter_mm"]) and np.isnan(m["red_lesion_density_per_cm2"])
    assert m["red_lesion_count"] == 5
    assert m["red_lesion_mean_diameter_px"] == pytest.approx(
        ph.truth["red_lesion_mean_diameter_mm"] * 25, rel=0.1
    )


def test_mask_limits_the_measurement():
    ph = render_red_patches(seed=3)
    mask = np.zeros(ph.rgb.shape[:2], bool)
    mask[:, : mask.shape[1] // 2] = True
    m = measure_red_areas(ph.rgb, px_per_mm=10, mask=mask).metrics
    x = ph.papules[:, 0]
    r = ph.papules[:, 2] / 2
    fully_left = np.sum(x + r < mask.shape[1] // 2 - 1)
    cut = np.sum((x - r < mask.shape[1] // 2) & (x + r >= mask.shape[1] // 2 - 1))
    assert fully_left <= m["red_lesion_count"] <= fully_left + cut


def test_erythema_map_definition():
    rgb = np.zeros((2, 2, 3))
    rgb[..., 0], rgb[..., 1] = 0.8, 0.5  # sRGB
    lin = lambda v: ((v + 0.055) / 1.055) ** 2.4  # noqa: E731
    assert erythema_map(rgb)[0, 0] == pytest.approx(100 * np.log10(lin(0.8) / lin(0.5)), rel=1e-5)


def test_papules_added_to_a_real_face_are_counted():
    # Known edit of a real photo: round red papules (haemoglobin filter of the phantoms) painted on the
    # cheeks of the astronaut. The photo has ~0.6 px/mm, too coarse for real 1-5 mm papules, so the
    # edit and the measurement use a nominal 2 px/mm: 7 px papules are 3.5 mm at that scale.
    rgb = util.img_as_float(data.astronaut())
    zones = face_zones(rgb, detect_face(rgb).face)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]] + 0.5
    # Placed on calm skin of each cheek, clear of its natural red crease by the nasolabial fold.
    added = {"right_cheek": [(189, 127), (191, 138)], "left_cheek": [(252, 126)]}
    for centres in added.values():
        for x, y in centres:
            cover = np.clip(0.5 - (np.hypot(xx - x - 0.5, yy - y - 0.5) - 3.5), 0, 1)
            lin *= np.array([0.97, 0.62, 0.80]) ** cover[..., None]
    edited = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055).clip(0, 1)
    for name, centres in added.items():
        mask = zones.masks[name]
        assert all(mask[y, x] for x, y in centres)
        before = measure_red_areas(rgb, px_per_mm=2.0, mask=mask)
        after_m = measure_red_areas(edited, px_per_mm=2.0, mask=mask)
        after = after_m.metrics
        # Every papule is found where it was painted, as one lesion of its own size (7 px).
        ids = {int(after_m.labels[y, x]) for x, y in centres}
        assert 0 not in ids and len(ids) == len(centres), name
        for i in ids:
            assert 2 * np.sqrt(np.sum(after_m.labels == i) / np.pi) == pytest.approx(7.0, rel=0.15)
        # Lesions elsewhere are the photo's own (a marginal ~1 mm one may flicker as the background shifts).
        assert abs(after["red_lesion_count"] - len(centres) - before.metrics["red_lesion_count"]) <= 1
        gain = (after["red_area_fraction"] - before.metrics["red_area_fraction"]) * mask.sum()
        assert gain == pytest.approx(len(centres) * np.pi * 3.5**2, rel=0.25), name


def test_bad_options():
    ph = render_red_patches(seed=0, n_papules=2, n_blotches=0)
    with pytest.raises(ValueError, match="mask selects no pixels"):
        measure_red_areas(ph.rgb, mask=np.zeros(ph.rgb.shape[:2], bool))
    with pytest.raises(ValueError, match="lesion_diameter_mm"):
        measure_red_areas(ph.rgb, lesion_diameter_mm=(5.0, 1.0))
    with pytest.raises(ValueError, match="twice"):
        measure_red_areas(ph.rgb, background_mm=6.0)
    with pytest.raises(ValueError, match="px_per_mm"):
        measure_red_areas(ph.rgb, px_per_mm=-1.0)
