"""analyze_histology: one stained image in, one record with stable columns and overlays out."""

import numpy as np
import pytest

from pipelines.histology import analyze_histology
from pipelines.record import ImageResult
from texture.phantoms.histology import aligned_fibres, psr_section, random_fibres

COLUMNS = [
    "collagen_area_fraction",
    "collagen_orientation_deg",
    "collagen_coherency",
    "collagen_alignment",
    "fibre_count",
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
    assert abs(m["collagen_orientation_deg"] - 112.0) <= 2.0
    assert m["collagen_coherency"] > 0.8
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
    assert m["collagen_coherency"] < 0.2 and m["collagen_alignment"] < 0.2
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
