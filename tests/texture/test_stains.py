"""Stain presets, naming of what a stain measures, and stain vectors estimated from a batch."""

import numpy as np
import pytest

from texture.collagen import analyze_collagen
from texture.stains import (
    STAIN_PRESETS,
    estimate_stain_vectors,
    measured_names,
    separate,
    stain_model,
)


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _od(rgb):
    return _unit(-np.log10(np.asarray(rgb, dtype=float)))


def _two_dye_scene(dye_a, dye_b, *, seed=0, shape=(160, 160)):
    """Beer-Lambert scene built here, independent of the presets: patches of dye A alone, dye B
    alone and their mixtures, on glass."""
    rng = np.random.default_rng(seed)
    a = np.zeros(shape)
    b = np.zeros(shape)
    for _ in range(40):
        r, c = rng.integers(0, shape[0] - 20, 2)
        which = rng.integers(0, 3)
        amount = rng.uniform(0.3, 1.2)
        if which in (0, 2):
            a[r : r + 20, c : c + 20] += amount
        if which in (1, 2):
            b[r : r + 20, c : c + 20] += amount
    od = a[..., None] * -np.log10(dye_a) + b[..., None] * -np.log10(dye_b)
    rgb = 10.0 ** (-od)
    return np.clip(rgb + 0.005 * rng.standard_normal(rgb.shape), 0, 1)


def test_he_measures_eosin_and_says_so():
    model = stain_model("he")
    assert model.target == "eosin"
    renamed = measured_names(
        {"collagen_area_fraction": 0.3, "collagen_orientation_deg": 10.0, "fibre_count": 4.0}, model
    )
    assert renamed == {"eosin_area_fraction": 0.3, "eosin_orientation_deg": 10.0, "fibre_count": 4.0}
    assert measured_names({"collagen_area_fraction": 0.3}, stain_model("psr")) == {
        "collagen_area_fraction": 0.3
    }


def test_vvg_elastin_preset_separates_black_fibres_from_red_collagen():
    model = stain_model("elastin")
    assert model is stain_model("vvg") and model.target == "elastin"
    # Black elastic fibres (stripes) on van Gieson red collagen and yellow tissue, built here.
    rgb = np.ones((120, 120, 3)) * np.array([0.95, 0.85, 0.5])
    rgb[:, 40:80] = (0.82, 0.3, 0.42)  # collagen
    rgb[::10, :] = (0.15, 0.14, 0.18)  # elastic fibres, 1 px every 10 rows
    rgb[1::10, :] = (0.15, 0.14, 0.18)
    conc = separate(rgb, model)
    black = conc[..., 0]
    fibres = np.zeros((120, 120), dtype=bool)
    fibres[::10] = fibres[1::10] = True
    assert black[fibres].min() > 5 * max(black[~fibres].max(), 0.05)
    r = analyze_collagen(rgb, stain="vvg", fibres=False)
    assert measured_names(r.sums.metrics(), model)["elastin_area_fraction"] == pytest.approx(0.2, abs=0.03)


def test_psr_polarized_is_not_a_brightfield_stain():
    with pytest.raises(ValueError, match="polarized"):
        stain_model("psr_polarized")


@pytest.mark.parametrize(
    ("stain", "dye_a", "dye_b"),
    [
        # A bluer sirius red and a more orange picric acid than the preset's colours.
        ("psr", (0.70, 0.12, 0.42), (0.97, 0.80, 0.40)),
        # A greyer aniline blue and a more purple fuchsin than Ruifrok's.
        ("masson", (0.40, 0.50, 0.80), (0.80, 0.35, 0.55)),
    ],
)
def test_macenko_estimate_recovers_the_slides_own_dye_colours(stain, dye_a, dye_b):
    images = [_two_dye_scene(dye_a, dye_b, seed=s) for s in range(3)]
    est = estimate_stain_vectors(images, stain)
    preset = STAIN_PRESETS[stain]
    got_a = np.asarray(est.model.vectors[preset.collagen])
    got_b = np.asarray(est.model.vectors[est.estimated[1]])
    assert got_a @ _od(dye_a) > 0.999 and got_b @ _od(dye_b) > 0.999
    # ... closer than the preset's assumed colours.
    assert got_a @ _od(dye_a) > preset.matrix[preset.collagen] @ _od(dye_a)
    record = est.record()
    assert record["method"].startswith("Macenko") and len(record["vectors"]) == 3
    assert est.n_pixels > 1000


def test_estimated_vectors_measure_the_collagen_area_better():
    dye_a, dye_b = (0.70, 0.12, 0.42), (0.97, 0.80, 0.40)
    images = [_two_dye_scene(dye_a, dye_b, seed=s) for s in range(3)]
    est = estimate_stain_vectors(images, "psr")
    # Collagen dye alone in a known block, counterstain everywhere.
    a = np.zeros((120, 120))
    a[30:90, 30:60] = 1.0
    od = a[..., None] * -np.log10(dye_a) + 0.8 * -np.log10(np.asarray(dye_b))[None, None, :]
    rgb = np.clip(10.0 ** (-od), 0, 1)
    truth = a.mean()
    custom = analyze_collagen(rgb, stain="custom", vectors=est.model.vectors, fibres=False)
    assert custom.sums.metrics()["collagen_area_fraction"] == pytest.approx(truth, abs=0.01)


def test_estimation_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="SHG"):
        estimate_stain_vectors([np.ones((8, 8, 3))], "shg")
    with pytest.raises(ValueError, match="at least one"):
        estimate_stain_vectors([], "psr")
    with pytest.raises(ValueError, match="too few"):
        estimate_stain_vectors([np.ones((8, 8, 3))], "psr")


def test_stain_signature_tells_histology_from_photos(shared_data):
    from PIL import Image
    from skimage import data

    from texture.phantoms.histology import collagen_dermis, he_nuclei_section, pale_section, random_fibres
    from texture.stains import guess_stain

    he_crop = (
        np.asarray(Image.open(shared_data / "histology" / "OS-1-detail_crop_y0-550_x0-550.png"), float) / 255
    )
    assert guess_stain(he_crop)[0] == "he"
    for stain in ("psr", "masson", "masson_green", "he", "shg"):
        assert guess_stain(random_fibres(stain=stain, seed=2).rgb)[0] == stain
    assert guess_stain(collagen_dermis().rgb)[0] == "psr"
    assert guess_stain(pale_section().rgb)[0] == "psr"
    assert guess_stain(he_nuclei_section().rgb)[0] == "he"
    # Real photos: a face and dermoscopy (two of them under blue-violet light) have no stain signature.
    assert guess_stain(data.astronaut() / 255.0)[0] is None
    for path in sorted((shared_data / "dermoscopy").glob("*.jpg")):
        assert guess_stain(np.asarray(Image.open(path).convert("RGB"), float) / 255)[0] is None, path.name


def test_vector_from_a_marked_single_stain_region():
    from texture.stains import vector_from_region

    dye = (0.70, 0.12, 0.42)
    rgb = _two_dye_scene(dye, (0.97, 0.80, 0.40), seed=5)
    # Pixels of dye A alone: built from the same scene with dye B absent.
    only_a = _two_dye_scene(dye, (1.0, 1.0, 1.0), seed=5)
    region = (only_a.min(axis=2) < 0.9) & (np.abs(rgb - only_a).max(axis=2) < 0.02)
    v = np.asarray(vector_from_region(rgb, region))
    assert v @ _od(dye) > 0.999
    with pytest.raises(ValueError, match="too few"):
        vector_from_region(np.ones((8, 8, 3)), np.ones((8, 8), dtype=bool))
