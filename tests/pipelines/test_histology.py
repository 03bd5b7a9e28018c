"""analyze_histology: one stained image in, one record with stable columns and overlays out."""

import numpy as np
import pytest

from pipelines.assays.histology import HE_WARNING, analyze_histology
from pipelines.record import ImageResult
from texture.phantoms.histology import aligned_fibres, psr_section, random_fibres

COLUMNS = [
    "collagen_area_fraction",
    "collagen_orientation_deg",
    "collagen_coherency",
    "collagen_pixel_alignment",
    "collagen_orientation_undefined",
    "collagen_orientation_to_surface_deg",
    "fibre_count",
    "fibre_alignment_coefficient",
    "matrix_high_density_fraction",
    "fibre_length_mean_um",
    "fibre_length_mean_px",
    "fibre_width_mean_um",
    "fibre_width_mean_px",
    "fibre_straightness_mean",
    "epidermis_thickness_mean_um",
    "epidermis_thickness_mean_px",
    "epidermis_thickness_sd_um",
    "epidermis_thickness_sd_px",
    "tissue_area_mm2",
]


@pytest.mark.parametrize("stain", ["psr", "shg"])
def test_psr_and_shg_orientation_and_record_shape(stain):
    phantom = aligned_fibres((200, 200), angle_deg=112.0, stain=stain, seed=8)
    result = analyze_histology(phantom.rgb, stain=stain, px_per_mm=2000.0)
    assert isinstance(result, ImageResult)
    for col in COLUMNS:
        assert col in result.metrics
    m = result.metrics
    # OrientationJ's unfiltered gradient: within 2.5 degrees on the phantoms' sharp edges (issue 15).
    assert abs(m["collagen_orientation_deg"] - 112.0) <= 2.5
    # OrientationJ's whole-field coherency includes the background noise (issue 15): > 0.8 / 1.6.
    assert m["collagen_coherency"] > 0.5
    assert m["collagen_area_fraction"] == pytest.approx(phantom.truth["area_fraction"], rel=0.15)
    assert m["tissue_area_mm2"] == pytest.approx(200 * 200 / 2000.0**2, rel=0.02)
    assert m["fibre_length_mean_um"] == pytest.approx(m["fibre_length_mean_px"] / 2.0)
    for name in ("collagen", "orientation", "fibres", "epidermis"):
        overlay = result.overlays[name]
        assert overlay.shape == (200, 200, 3)
        assert overlay.min() >= 0.0 and overlay.max() <= 1.0
    table = result.tables["orientations"]
    assert len(table["bin_start_deg"]) == len(table["fraction"]) == 18


def test_without_scale_um_columns_are_nan_and_px_twins_carry_values():
    phantom = aligned_fibres((160, 160), angle_deg=40.0, stain="psr", seed=1)
    m = analyze_histology(phantom.rgb, stain="psr", px_per_mm=None).metrics
    assert np.isnan(m["fibre_length_mean_um"]) and m["fibre_length_mean_px"] > 0
    assert np.isnan(m["tissue_area_mm2"])


def test_random_fibres_low_coherency_through_the_pipeline():
    phantom = random_fibres((200, 200), stain="psr", seed=4)
    m = analyze_histology(phantom.rgb, stain="psr", px_per_mm=None, options={"fibres": False}).metrics
    assert m["collagen_coherency"] < 0.2 and m["collagen_pixel_alignment"] < 0.2
    assert np.isnan(m["fibre_count"])


def test_psr_section_density_controls_collagen_amount():
    low = analyze_histology(
        psr_section(density=0.2, seed=1), stain="psr", px_per_mm=2000.0, options={"fibres": False}
    )
    high = analyze_histology(
        psr_section(density=0.5, seed=1), stain="psr", px_per_mm=2000.0, options={"fibres": False}
    )
    assert high.metrics["collagen_area_fraction"] > low.metrics["collagen_area_fraction"] + 0.1
    # The glass strip along the top is not tissue.
    assert low.metrics["tissue_area_mm2"] < 0.95 * 384 * 384 / 2000.0**2


def test_options_are_validated():
    rgb = aligned_fibres((64, 64), stain="psr").rgb
    with pytest.raises(ValueError, match="unknown histology option"):
        analyze_histology(rgb, stain="psr", px_per_mm=None, options={"sigma": 3})
    with pytest.raises(ValueError, match="no tissue"):
        analyze_histology(np.ones((64, 64, 3)), stain="psr", px_per_mm=None)


def test_threshold_option_overrides_the_automatic_threshold():
    rgb = aligned_fibres((128, 128), stain="psr", seed=3).rgb
    m = analyze_histology(rgb, stain="psr", px_per_mm=None, options={"threshold": 0.9}).metrics
    assert m["collagen_threshold"] == pytest.approx(0.9)


def test_he_section_measures_epidermis_and_collagen_beneath_it():
    from texture.phantoms.histology import he_section

    phantom = he_section(px_per_um=1.0, thickness_um=60.0, seed=5)
    result = analyze_histology(phantom.rgb, stain="he", px_per_mm=1000.0)
    m = result.metrics
    assert m["epidermis_thickness_mean_um"] == pytest.approx(phantom.truth["thickness_mean_um"], rel=0.10)
    # Collagen is measured in the dermis only: its tissue area excludes glass and epidermis.
    dermis_px = (~phantom.truth["glass"] & ~phantom.truth["epidermis"]).sum()
    assert m["tissue_area_px"] == pytest.approx(dermis_px, rel=0.05)
    # H&E measures eosin, not collagen: its columns say so (issue 16), and a warning says why.
    assert m["eosin_coherency"] < 0.3  # the dermis phantom is a basket-weave
    assert "collagen_area_fraction" not in m and 0.0 < m["eosin_area_fraction"] <= 1.0
    assert result.overlays["epidermis"].shape == phantom.rgb.shape
    # The basket-weave has no dominant direction (coherency below 0.1): its orientation is NaN, and a
    # warning says so (issue 15); the H&E warning stays.
    assert result.warnings[-1] == HE_WARNING
    assert all("no dominant orientation" in w for w in result.warnings[:-1])
    assert m["eosin_orientation_undefined"] == (1.0 if m["eosin_coherency"] < 0.1 else 0.0)
    # The epidermis gives the surface direction: the orientation relative to it is defined when the
    # orientation is.
    assert np.isnan(m["eosin_orientation_to_surface_deg"]) == np.isnan(m["eosin_orientation_deg"])


def test_real_he_crop_gives_sane_values(shared_data):
    from PIL import Image

    path = shared_data / "histology" / "OS-1-detail_crop_y0-550_x0-550.png"
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255.0
    result = analyze_histology(rgb, stain="he", px_per_mm=1000.0 / 0.2271)
    m = result.metrics
    # A tumour with collagen-rich stroma, no skin surface in this crop. H&E: eosin_* columns.
    assert 0.05 < m["eosin_area_fraction"] < 0.7
    assert m["tissue_area_mm2"] > 0.95 * (550 * 0.2271e-3) ** 2  # the crop is all section
    # Orientation is NaN when flagged undefined (coherency below the documented floor).
    angle = m["eosin_orientation_deg"]
    assert (np.isnan(angle) and m["eosin_orientation_undefined"] == 1) or 0.0 <= angle < 180.0
    assert 0.0 <= m["eosin_coherency"] <= 1.0 and 0.0 <= m["eosin_pixel_alignment"] <= 1.0
    assert HE_WARNING in result.warnings
    assert m["fibre_count"] > 0 and 0.5 < m["fibre_width_mean_um"] < 20.0
    assert np.isnan(m["epidermis_thickness_mean_um"])
    assert any("no epidermis" in w for w in result.warnings)


def test_immunohistochemistry_with_custom_vectors_runs():
    from skimage.color import rgb_from_hdx
    from skimage.data import immunohistochemistry

    rgb = immunohistochemistry() / 255.0
    # Collagen index 1 = DAB here: any custom brown stain is unmixed and measured the same way.
    m = analyze_histology(
        rgb,
        stain="custom",
        px_per_mm=None,
        options={"stain_vectors": rgb_from_hdx[:2].tolist(), "collagen_index": 1, "fibres": False},
    ).metrics
    assert 0.01 < m["collagen_area_fraction"] < 0.9
    assert 0.0 <= m["collagen_coherency"] <= 1.0


def test_grey_shg_image_is_accepted_and_equals_its_rgb_copy():
    phantom = aligned_fibres((128, 128), angle_deg=70.0, stain="shg", seed=2)
    grey = phantom.rgb.mean(axis=2)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    a = analyze_histology(grey, stain="shg", px_per_mm=None, options={"fibres": False}).metrics
    b = analyze_histology(rgb, stain="shg", px_per_mm=None, options={"fibres": False}).metrics
    assert a["collagen_orientation_deg"] == pytest.approx(b["collagen_orientation_deg"])
    assert abs(a["collagen_orientation_deg"] - 70.0) <= 2.0


@pytest.mark.parametrize("px_per_mm", [0.0, -1.0, float("nan"), float("inf")])
def test_meaningless_scale_is_refused(px_per_mm):
    rgb = aligned_fibres((32, 32), stain="psr").rgb
    with pytest.raises(ValueError, match="px_per_mm"):
        analyze_histology(rgb, stain="psr", px_per_mm=px_per_mm)


def test_roi_option_restricts_the_measurement():
    rgb = aligned_fibres((128, 128), angle_deg=50.0, stain="psr", seed=7).rgb
    roi = np.zeros((128, 128), bool)
    roi[:, :40] = True
    m = analyze_histology(rgb, stain="psr", px_per_mm=1000.0, roi=roi).metrics
    assert m["tissue_area_px"] == 128 * 40
    with pytest.raises(ValueError, match="roi"):
        analyze_histology(rgb, stain="psr", px_per_mm=None, roi=np.zeros((3, 3), bool))


def test_overlays_of_a_large_image_are_reduced(monkeypatch):
    import pipelines.assays.histology as histology

    monkeypatch.setattr(histology, "OVERLAY_MAX_SIDE_PX", 64)
    rgb = aligned_fibres((150, 100), stain="psr", seed=1).rgb
    result = histology.analyze_histology(rgb, stain="psr", px_per_mm=None, options={"fibres": False})
    assert result.overlays["collagen"].shape == (50, 34, 3)  # factor 3, edge block padded
    assert result.overlays["collagen"].dtype == np.float32


def test_collagen_texture_is_invariant_to_quarter_turns():
    # Direction-averaged GLCM features over the 4 in-plane directions cannot change when the section
    # is turned by 90 degrees: the 0/90 and 45/135 direction matrices swap.
    rgb = psr_section((192, 192), density=0.4, seed=3)
    options = {"fibres": False}
    a = analyze_histology(rgb, stain="psr", px_per_mm=1000, options=options).metrics
    b = analyze_histology(np.rot90(rgb).copy(), stain="psr", px_per_mm=1000, options=options).metrics
    for key in ("glcm_contrast", "glcm_inverse_difference_moment", "glcm_angular_second_moment"):
        assert a[key] == pytest.approx(b[key], rel=1e-6), key
    assert 0 < a["glcm_angular_second_moment"] < 1


def test_fibre_table_rows_match_the_fibre_count():
    phantom = aligned_fibres((200, 200), angle_deg=30.0, stain="shg", seed=2)
    result = analyze_histology(phantom.rgb, stain="shg", px_per_mm=2000.0)
    table = result.tables["fibres"]
    assert len(table["fibre_id"]) == result.metrics["fibre_count"] > 0
    np.testing.assert_allclose(np.mean(table["length_px"]), result.metrics["fibre_length_mean_px"])
    np.testing.assert_allclose(np.asarray(table["length_um"]), np.asarray(table["length_px"]) / 2.0)
    # Fibres of one direction: their angles and the CurveAlign coefficient say so.
    assert result.metrics["fibre_alignment_coefficient"] > 0.9
    assert abs(result.metrics["fibre_angle_mean_deg"] - 30.0) < 3.0


def test_run_writes_fibres_csv_next_to_metrics(tmp_path):
    import pandas as pd
    from PIL import Image

    from pipelines import analyze_folder

    folder = tmp_path / "in"
    folder.mkdir()
    for session, angle in ((0, 30.0), (1, 120.0)):
        rgb = aligned_fibres((160, 160), angle_deg=angle, stain="shg", seed=session).rgb
        Image.fromarray((rgb * 255).round().astype(np.uint8)).save(folder / f"P01_s{session}_biopsy_shg.png")
    out = tmp_path / "out"
    result = analyze_folder(folder, out_dir=out, backend="serial", overlays=False)
    assert (out / "metrics.csv").exists() and (out / "fibres.csv").exists()
    fibres = pd.read_csv(out / "fibres.csv")
    metrics = result.metrics.set_index("session")
    # One row per fibre per image, with the image's identity first.
    assert list(fibres.columns[:3]) == ["file", "subject", "session"]
    counts = fibres.groupby("session").size()
    for session in (0, 1):
        assert counts[session] == metrics.loc[session, "fibre_count"]
        angles = fibres.loc[fibres["session"] == session, "angle_deg"]
        want = 30.0 if session == 0 else 120.0
        assert np.median(np.abs((angles - want + 90.0) % 180.0 - 90.0)) < 3.0
