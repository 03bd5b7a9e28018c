"""Epidermis: thickness and interdigitation against H&E phantoms of known geometry."""

import numpy as np
import pytest
from skimage.transform import rotate

from texture.epidermis import DERMIS, EPIDERMIS, GLASS, measure_epidermis, segment_epidermis
from texture.phantoms.histology import he_section


@pytest.mark.parametrize("px_per_um", [1.0, 2.0])
@pytest.mark.parametrize("thickness_um", [40.0, 80.0])
def test_wavy_epidermis_thickness_within_10_percent(px_per_um, thickness_um):
    phantom = he_section(px_per_um=px_per_um, thickness_um=thickness_um, seed=1)
    m = measure_epidermis(phantom.rgb, px_per_mm=px_per_um * 1000.0).metrics
    truth = phantom.truth
    assert m["epidermis_found"] == 1.0
    assert m["epidermis_thickness_mean_um"] == pytest.approx(truth["thickness_mean_um"], rel=0.10)
    assert m["epidermis_thickness_mean_px"] == pytest.approx(m["epidermis_thickness_mean_um"] * px_per_um)
    # The rete ridges make the thickness vary: sd ~ amplitude / sqrt(2).
    assert m["epidermis_thickness_sd_um"] == pytest.approx(truth["thickness_sd_um"], rel=0.25)
    assert m["epidermis_interdigitation_index"] == pytest.approx(truth["interdigitation_index"], abs=0.03)


def test_flat_junction_has_interdigitation_one():
    phantom = he_section(rete_amplitude_um=0.0, thickness_um=50.0, seed=2)
    m = measure_epidermis(phantom.rgb, px_per_mm=1000.0).metrics
    assert m["epidermis_interdigitation_index"] == pytest.approx(1.0, abs=0.02)
    assert m["epidermis_thickness_sd_um"] < 3.0


def test_segmentation_matches_the_drawn_epidermis():
    phantom = he_section(px_per_um=1.0, seed=4)
    seg = segment_epidermis(phantom.rgb, px_per_mm=1000.0)
    truth = phantom.truth["epidermis"]
    iou = (seg.epidermis & truth).sum() / (seg.epidermis | truth).sum()
    assert iou > 0.85
    assert set(np.unique(seg.labels)) == {GLASS, EPIDERMIS, DERMIS}
    assert np.array_equal(seg.labels == GLASS, phantom.truth["glass"]) or (
        np.mean((seg.labels == GLASS) != phantom.truth["glass"]) < 0.01
    )


@pytest.mark.parametrize("angle", [90.0, 180.0, 20.0, -110.0])
def test_thickness_does_not_depend_on_the_section_orientation(angle):
    phantom = he_section((300.0, 300.0), px_per_um=1.0, glass_um=60.0, seed=2)
    turned = rotate(phantom.rgb, angle, resize=False, cval=0.96, mode="constant", order=1)
    m = measure_epidermis(turned, px_per_mm=1000.0).metrics
    assert m["epidermis_thickness_mean_um"] == pytest.approx(phantom.truth["thickness_mean_um"], rel=0.10)


def test_no_glass_or_no_band_means_no_epidermis():
    phantom = he_section(seed=0)
    dermis_only = phantom.rgb[150:, :]  # no glass at all
    m = measure_epidermis(dermis_only, px_per_mm=1000.0).metrics
    assert m["epidermis_found"] == 0.0 and np.isnan(m["epidermis_thickness_mean_um"])


def test_stain_without_haematoxylin_is_refused():
    with pytest.raises(ValueError, match="haematoxylin"):
        measure_epidermis(np.full((32, 32, 3), 0.5), stain="shg")


@pytest.mark.parametrize("px_per_mm", [0.0, -5.0, float("nan"), float("inf")])
def test_meaningless_scale_is_refused(px_per_mm):
    with pytest.raises(ValueError, match="px_per_mm"):
        measure_epidermis(he_section(seed=0).rgb, px_per_mm=px_per_mm)


# Haematoxylin in the nuclei only, with and without a stratum corneum (the hard cases).


@pytest.mark.parametrize("px_per_um", [1.0, 2.0])
@pytest.mark.parametrize("corneum_um", [0.0, 12.0, 20.0])
def test_nuclei_only_epidermis_thickness_with_and_without_stratum_corneum(px_per_um, corneum_um):
    from texture.phantoms.histology import he_nuclei_section

    phantom = he_nuclei_section(px_per_um=px_per_um, stratum_corneum_um=corneum_um, seed=1)
    truth = phantom.truth
    m = measure_epidermis(phantom.rgb, px_per_mm=px_per_um * 1000.0).metrics
    assert m["epidermis_found"] == 1.0
    # Without the stratum corneum (viable epidermis) and with it (surface to junction).
    assert m["epidermis_thickness_mean_um"] == pytest.approx(truth["thickness_mean_um"], rel=0.10)
    assert m["epidermis_total_thickness_mean_um"] == pytest.approx(truth["thickness_total_mean_um"], rel=0.10)
    assert m["stratum_corneum_thickness_mean_um"] == pytest.approx(truth["stratum_corneum_um"], abs=4.0)
    assert m["epidermis_interdigitation_index"] == pytest.approx(truth["interdigitation_index"], abs=0.03)
    assert m["epidermis_total_thickness_mean_px"] == pytest.approx(
        m["epidermis_total_thickness_mean_um"] * px_per_um
    )


def test_stratum_corneum_is_labelled_where_it_is():
    from texture.epidermis import STRATUM_CORNEUM
    from texture.phantoms.histology import he_nuclei_section

    phantom = he_nuclei_section(stratum_corneum_um=15.0, seed=3)
    seg = segment_epidermis(phantom.rgb, px_per_mm=1000.0)
    truth = phantom.truth["stratum_corneum"]
    found = seg.labels == STRATUM_CORNEUM
    assert (found & truth).sum() / (found | truth).sum() > 0.7
    epi = phantom.truth["epidermis"]
    assert (seg.epidermis & epi).sum() / (seg.epidermis | epi).sum() > 0.85


def test_uniformly_tinted_epidermis_has_no_stratum_corneum():
    m = measure_epidermis(he_section(seed=3).rgb, px_per_mm=1000.0).metrics
    assert m["stratum_corneum_thickness_mean_um"] == pytest.approx(0.0, abs=1.0)
    assert m["epidermis_total_thickness_mean_um"] == pytest.approx(m["epidermis_thickness_mean_um"], abs=1.0)
