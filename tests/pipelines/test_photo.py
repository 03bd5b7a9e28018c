"""pipelines.assays.photo: the photo record against hand-computed truth and synthetic phantoms."""

import math
import os

import numpy as np
import pytest
from skimage.color import lab2rgb

from pipelines.assays.photo import analyze_photo


def _uniform(lab_value, shape=(64, 80)):
    rgb = lab2rgb(np.array(lab_value, dtype=float).reshape(1, 1, 3))
    return np.broadcast_to(rgb, (*shape, 3)).copy()


def test_ita_of_uniform_patch_matches_hand_computation():
    # L* = 65, b* = 18: ITA = atan((65 - 50) / 18) = atan(0.8333) = 39.806 degrees -> intermediate.
    rgb = _uniform((65.0, 10.0, 18.0))
    result = analyze_photo(rgb, px_per_mm=None)
    assert result.metrics["ita_deg"] == pytest.approx(39.806, abs=0.02)
    assert result.metrics["ita_class"] == "intermediate"


def test_ita_of_light_patch_and_class():
    # L* = 75, b* = 12: atan(25 / 12) = 64.359 degrees -> very light.
    rgb = _uniform((75.0, 8.0, 12.0))
    result = analyze_photo(rgb, px_per_mm=20.0)
    assert result.metrics["ita_deg"] == pytest.approx(64.359, abs=0.02)
    assert result.metrics["ita_class"] == "very_light"


def test_melanin_and_erythema_indices_of_uniform_patch():
    # Diffey 1984 on linear reflectances: MI = 100 log10(1/R), EI = 100 log10(R/G).
    rgb = np.zeros((40, 40, 3))
    rgb[...] = (0.8, 0.6, 0.5)
    result = analyze_photo(rgb, px_per_mm=None, options={"skin_mask": False})
    lin = [((c + 0.055) / 1.055) ** 2.4 for c in (0.8, 0.6)]
    assert result.metrics["melanin_index"] == pytest.approx(100 * math.log10(1 / lin[0]), rel=1e-6)
    assert result.metrics["erythema_index"] == pytest.approx(100 * math.log10(lin[0] / lin[1]), rel=1e-6)


def test_undefined_ita_has_no_class_and_says_why():
    # A blue cast (b* < 3): ITA NaN without a class (texture.color), and the reason is a warning row.
    result = analyze_photo(_uniform((65.0, 5.0, -10.0)), px_per_mm=None)
    assert math.isnan(result.metrics["ita_deg"]) and result.metrics["ita_class"] == ""
    assert any("ITA undefined" in w for w in result.warnings)
    assert not analyze_photo(_uniform((65.0, 10.0, 18.0)), px_per_mm=None).warnings


def test_roi_area_in_cm2_and_px():
    rgb = _uniform((65.0, 10.0, 18.0), shape=(100, 200))
    roi = np.zeros((100, 200), bool)
    roi[10:60, 20:120] = True  # 5000 px at 10 px/mm = 50 mm2 = 0.5 cm2
    result = analyze_photo(rgb, px_per_mm=10.0, roi=roi, options={"skin_mask": False})
    assert result.metrics["roi_area_px"] == 5000
    assert result.metrics["roi_area_cm2"] == pytest.approx(0.5)
    no_scale = analyze_photo(rgb, px_per_mm=None, roi=roi, options={"skin_mask": False})
    assert math.isnan(no_scale.metrics["roi_area_cm2"])


def _stripes(shape=(60, 60)):
    rgb = np.full((*shape, 3), 0.3)
    rgb[:, ::2] = 0.7  # vertical stripes one pixel wide
    return rgb


def _l_star(srgb: float) -> float:
    linear = ((srgb + 0.055) / 1.055) ** 2.4
    return 116.0 * linear ** (1.0 / 3.0) - 16.0  # grey: Y = linear, Yn = 1


def test_glcm_of_vertical_stripes_on_the_fixed_l_star_bin_width():
    # The default since issue 13: IBSI fixed bin width of 1 L* unit anchored at 0 (texture.skin_glcm).
    # Stripes of sRGB 0.3 and 0.7 (L* 32.5 and 72.8): horizontal and diagonal neighbours differ by d bins.
    d = int(_l_star(0.7)) - int(_l_star(0.3))
    m = analyze_photo(_stripes(), px_per_mm=None, options={"skin_mask": False}).metrics
    assert m["glcm_contrast"] == pytest.approx(3 * d**2 / 4, rel=1e-9)
    assert m["glcm_inverse_difference_moment"] == pytest.approx((3 / (1 + d**2) + 1) / 4, rel=1e-9)
    # Half the amplitude (stripes 0.4 / 0.6): a smoother skin reads a lower contrast.
    smooth = np.full((60, 60, 3), 0.4)
    smooth[:, ::2] = 0.6
    d2 = int(_l_star(0.6)) - int(_l_star(0.4))
    low = analyze_photo(smooth, px_per_mm=None, options={"skin_mask": False}).metrics
    assert low["glcm_contrast"] == pytest.approx(3 * d2**2 / 4, rel=1e-9) and d2 < d


def test_glcm_of_vertical_stripes_matches_hand_computation():
    # The former definition, kept as glcm_levels=N: two L* values -> levels 1 and 32 (the robust range
    # spans exactly the two). Horizontal and both diagonal neighbours always differ by 31 levels,
    # vertical neighbours never: contrast = (3 * 31**2 + 0) / 4, IDM = (3 / (1 + 31**2) + 1) / 4,
    # ASM = 0.5 in every direction (two equally likely cells), correlation = (-1 - 1 - 1 + 1) / 4.
    result = analyze_photo(_stripes(), px_per_mm=None, options={"skin_mask": False, "glcm_levels": 32})
    m = result.metrics
    assert m["glcm_contrast"] == pytest.approx(3 * 961 / 4, rel=1e-9)
    assert m["glcm_inverse_difference_moment"] == pytest.approx((3 / 962 + 1) / 4, rel=1e-9)
    assert m["glcm_angular_second_moment"] == pytest.approx(0.5, rel=1e-9)
    assert m["glcm_correlation"] == pytest.approx(-0.5, rel=1e-9)


def test_glcm_ignores_pixels_outside_roi_and_exposure():
    rgb = _stripes((60, 80))
    roi = np.zeros(rgb.shape[:2], bool)
    roi[:, :40] = True
    # The former per-image range (glcm_levels): the default fixed L* bin width sees exposure on purpose.
    options = {"skin_mask": False, "glcm_levels": 32}
    base = analyze_photo(rgb, px_per_mm=None, roi=roi, options=options).metrics
    changed = rgb.copy()
    changed[:, 40:] = np.random.default_rng(0).random((60, 40, 3))
    changed[:, :40] *= 1.03  # a flash 3 % brighter: the robust range absorbs it
    other = analyze_photo(changed, px_per_mm=None, roi=roi, options=options).metrics
    for key in ("glcm_contrast", "glcm_inverse_difference_moment", "glcm_correlation"):
        assert other[key] == pytest.approx(base[key], rel=1e-9)


def test_bad_inputs_raise_value_error():
    rgb = _uniform((65.0, 10.0, 18.0))
    with pytest.raises(ValueError):
        analyze_photo(rgb[..., 0], px_per_mm=None)
    with pytest.raises(ValueError):
        analyze_photo(rgb, px_per_mm=None, roi=np.zeros(rgb.shape[:2], bool))
    with pytest.raises(ValueError):
        analyze_photo(rgb, px_per_mm=-1.0)
    bad = rgb.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        analyze_photo(bad, px_per_mm=None)


def test_every_metric_on_a_phantom_with_known_truth():
    from texture.phantoms.photo import render_skin

    phantom = render_skin(px_per_mm=25.0, size_mm=(24.0, 24.0), n_spots=5, n_lines=6, seed=11)
    truth = phantom.truth
    # Definitions changed on purpose (issue 13): the default pore floor is 0.25 mm (this phantom's pores
    # start at 0.2 mm: counted at the former 0.1 mm floor) and its 0.15 mm lines are fine lines.
    result = analyze_photo(phantom.rgb, px_per_mm=25.0, options={"pores": {"min_diameter_mm": 0.1}})
    m = result.metrics
    assert m["roi_area_cm2"] == pytest.approx(truth["area_cm2"], rel=0.02)
    assert m["pore_count"] == pytest.approx(truth["pore_count"], rel=0.05)
    assert m["pore_density_per_cm2"] == pytest.approx(truth["pore_density_per_cm2"], rel=0.05)
    assert m["pore_mean_diameter_mm"] == pytest.approx(truth["pore_mean_diameter_mm"], rel=0.10)
    assert abs(m["spot_count"] - truth["spot_count"]) <= 1
    assert m["spot_area_fraction"] == pytest.approx(truth["spot_area_fraction"], rel=0.15)
    assert abs(m["fine_line_count"] - truth["wrinkle_count"]) <= 1
    assert m["fine_line_length_mm_per_cm2"] == pytest.approx(truth["wrinkle_length_mm_per_cm2"], rel=0.20)
    assert m["ita_deg"] == pytest.approx(truth["skin_ita_deg"], abs=2.0)
    assert set(result.overlays) >= {"pores", "spots", "wrinkles", "roi"}
    for overlay in result.overlays.values():
        assert overlay.ndim == 3 and overlay.shape[2] == 3
        assert overlay.min() >= 0 and overlay.max() <= 1
    for key, value in m.items():
        if key != "ita_class":
            assert isinstance(value, float), key


def test_columns_are_stable_without_scale():
    from texture.phantoms.photo import render_skin

    phantom = render_skin(px_per_mm=25.0, size_mm=(16.0, 16.0), n_spots=2, n_lines=2, seed=12)
    scaled = analyze_photo(phantom.rgb, px_per_mm=25.0).metrics
    unscaled = analyze_photo(phantom.rgb, px_per_mm=None).metrics
    assert list(scaled) == list(unscaled)
    for key in ("pore_mean_diameter_mm", "pore_density_per_cm2", "fine_line_length_mm_per_cm2"):
        assert math.isnan(unscaled[key])
    assert unscaled["pore_count"] == pytest.approx(scaled["pore_count"], rel=0.05)
    assert unscaled["pore_mean_diameter_px"] == pytest.approx(
        scaled["pore_mean_diameter_mm"] * 25.0, rel=0.05
    )
    # 0.15 mm lines are fine lines since issue 13 (wrinkle_* holds lines >= 0.5 mm only).
    for key in ("spot_mean_diameter_px", "fine_line_mean_width_px", "fine_line_length_px_per_mpx"):
        assert unscaled[key] == pytest.approx(scaled[key], rel=0.05), key


def test_pixel_twins_are_in_photo_pixels():
    # Spots and lines are measured on a reduced copy; their px columns must still be photo pixels:
    # length_px = length_mm * s, and px of line per Mpx = (mm per cm2) * 1e4 / s at s px/mm.
    from texture.phantoms.photo import render_skin

    s = 25.0
    phantom = render_skin(px_per_mm=s, size_mm=(20.0, 20.0), n_spots=3, n_lines=3, seed=14)
    m = analyze_photo(phantom.rgb, px_per_mm=s).metrics
    assert m["spot_mean_diameter_px"] == pytest.approx(m["spot_mean_diameter_mm"] * s)
    # 0.15 mm lines are fine lines since issue 13; every line-family twin must be in photo pixels.
    for family in ("fine_line", "line"):
        assert m[f"{family}_mean_width_px"] == pytest.approx(m[f"{family}_mean_width_mm"] * s)
        assert m[f"{family}_length_px_per_mpx"] == pytest.approx(m[f"{family}_length_mm_per_cm2"] * 1e4 / s)
    assert m["pore_mean_diameter_px"] == pytest.approx(m["pore_mean_diameter_mm"] * s)
    assert m["pore_density_per_mpx"] == pytest.approx(m["pore_density_per_cm2"] * 1e4 / s**2)
    assert m["roi_area_px"] == pytest.approx(m["roi_area_cm2"] * 100 * s**2)


def test_pore_shrink_series_reads_minus_15_percent():
    from texture.phantoms.photo import render_skin

    # Pores 0.35-0.7 mm: above the 0.25 mm default floor before and after (issue 13; 0.2-0.6 mm pores
    # shrunk 15 % cross the floor, pinned in tests/texture/test_pores.py).
    kwargs = {
        "px_per_mm": 20.0,
        "size_mm": (20.0, 20.0),
        "n_spots": 3,
        "seed": 13,
        "pore_diameter_mm": (0.35, 0.7),
    }
    before = analyze_photo(render_skin(**kwargs).rgb, px_per_mm=20.0).metrics
    after = analyze_photo(render_skin(pore_scale=0.85, noise_seed=99, **kwargs).rgb, px_per_mm=20.0).metrics
    change = 100 * (after["pore_mean_diameter_mm"] / before["pore_mean_diameter_mm"] - 1)
    assert -19.0 <= change <= -11.0


def test_real_dermoscopy_photo_every_metric_in_sane_ranges(shared_data):
    from PIL import Image

    with Image.open(shared_data / "dermoscopy" / "ISIC_0000000.jpg") as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    result = analyze_photo(rgb, px_per_mm=None)
    m = result.metrics
    assert 0.3 < m["roi_area_px"] / (rgb.shape[0] * rgb.shape[1]) <= 1.0
    for key in ("pore_area_fraction", "spot_area_fraction", "pigment_evenness"):
        assert 0.0 <= m[key] <= 1.0, key
    for key in ("pore_count", "spot_count", "wrinkle_count", "texture_roughness", "glcm_contrast"):
        assert m[key] >= 0 and np.isfinite(m[key]), key
    assert -1.0 <= m["glcm_correlation"] <= 1.0
    assert 0.0 < m["glcm_angular_second_moment"] <= 1.0
    assert 0.0 < m["glcm_inverse_difference_moment"] <= 1.0
    # ITA is undefined (NaN, no class) where the skin's median b* < 3 (texture.color, issue 13).
    assert (math.isnan(m["ita_deg"]) and m["ita_class"] == "") or -90.0 <= m["ita_deg"] <= 90.0
    assert np.isfinite(m["melanin_index"]) and np.isfinite(m["erythema_index"])

    # The pigmented lesion (image centre) against the skin in the top-right corner: darker, lower ITA,
    # more melanin.
    rows, cols = rgb.shape[:2]
    yy, xx = np.mgrid[0:rows, 0:cols]
    lesion = (yy - 380) ** 2 + (xx - 450) ** 2 < 120**2
    skin = (yy < 130) & (xx > 880)
    opts = {"skin_mask": False}
    on_lesion = analyze_photo(rgb, px_per_mm=None, roi=lesion, options=opts).metrics
    on_skin = analyze_photo(rgb, px_per_mm=None, roi=skin, options=opts).metrics
    # The dermoscope's bluish light leaves this photo's skin b* below 3: ITA is undefined there since
    # issue 13 (NaN, no class); where both are defined the lesion's ITA is lower.
    if np.isfinite(on_lesion["ita_deg"]) and np.isfinite(on_skin["ita_deg"]):
        assert on_lesion["ita_deg"] < on_skin["ita_deg"] - 20
    assert on_lesion["ita_class"] == "" or np.isfinite(on_lesion["ita_deg"])
    assert on_lesion["melanin_index"] > on_skin["melanin_index"]
    assert np.median(rgb[lesion], axis=0).mean() < np.median(rgb[skin], axis=0).mean()


def _same_result(a, b) -> None:
    assert list(a.metrics) == list(b.metrics)
    for column, value in a.metrics.items():
        other = b.metrics[column]
        assert value == other or (value != value and other != other), column
    assert list(a.overlays) == list(b.overlays)
    for name, overlay in a.overlays.items():
        assert np.array_equal(overlay, b.overlays[name]), name
    assert a.warnings == b.warnings


def test_stages_on_threads_give_exactly_the_serial_result(monkeypatch):
    # A photo of >= 1 MP runs its independent stages on threads (pipelines.assays.photo._run_stages):
    # the record must be the one the stages give one after the other, to the bit.
    from pipelines.assays import photo
    from texture.phantoms.photo import render_skin

    rgb = render_skin(size_mm=(60.0, 45.0), px_per_mm=20.0, seed=3, n_spots=6, n_lines=4).rgb
    assert rgb.shape[0] * rgb.shape[1] >= photo._THREADED_MIN_PIXELS
    opencv_threads = photo.cv2.getNumThreads()
    monkeypatch.setattr(photo, "_stage_threads", lambda shape: 2)  # whatever this machine's cores
    threaded = photo.analyze_photo(rgb, px_per_mm=20.0)
    assert photo.cv2.getNumThreads() == opencv_threads  # OpenCV's setting is given back
    monkeypatch.setattr(photo, "_stage_threads", lambda shape: 1)
    serial = photo.analyze_photo(rgb, px_per_mm=20.0)
    _same_result(threaded, serial)
    assert threaded.metrics["pore_count"] > 0 and threaded.metrics["line_count"] > 0


def test_stage_threads_only_for_large_photos_in_the_main_thread(monkeypatch):
    import threading

    from pipelines.assays import photo

    monkeypatch.setattr(photo.cv2, "getNumThreads", lambda: 2)
    assert photo._stage_threads((100, 100)) == 1  # a zone crop: no hand-over
    assert photo._stage_threads((3000, 4000)) == min(2, os.cpu_count() or 1)
    monkeypatch.setattr(photo.cv2, "getNumThreads", lambda: 1)  # a process-pool worker
    assert photo._stage_threads((3000, 4000)) == 1
    monkeypatch.setattr(photo.cv2, "getNumThreads", lambda: 2)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(photo._stage_threads((3000, 4000))))
    worker.start()
    worker.join()
    assert seen == [1]  # a caller's own thread (a Dask worker): it already uses the cores


def test_a_failing_stage_raises_its_own_error_from_the_threads(monkeypatch):
    from pipelines.assays import photo

    def broken(*args, **kwargs):
        raise ValueError("roughness needs more skin")

    monkeypatch.setattr(photo, "measure_roughness", broken)
    monkeypatch.setattr(photo, "_stage_threads", lambda shape: 2)
    rgb = _uniform((65.0, 10.0, 18.0), shape=(120, 160))
    opencv_threads = photo.cv2.getNumThreads()
    with pytest.raises(ValueError, match="roughness needs more skin"):
        photo.analyze_photo(rgb, px_per_mm=10.0)
    assert photo.cv2.getNumThreads() == opencv_threads
