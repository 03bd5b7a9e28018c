"""Issue 16 through the pipeline: H&E named eosin, polarised PSR and VVG stains, a study-wide
threshold and stain estimate recorded in run.json, and histology recognised without a manifest."""

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipelines import analyze_folder
from pipelines.assays.histology import HE_WARNING
from pipelines.cli import app
from texture.phantoms.histology import aligned_fibres, he_section, polarized_psr, psr_section


def _save(rgb: np.ndarray, path) -> None:
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(path)


def _vvg_image() -> np.ndarray:
    """Black elastic fibres (20 % of the rows) on van Gieson red collagen and yellow tissue."""
    rgb = np.ones((120, 120, 3)) * np.array([0.95, 0.85, 0.5])
    rgb[:, 40:80] = (0.82, 0.3, 0.42)
    rgb[::10, :] = rgb[1::10, :] = (0.15, 0.14, 0.18)
    return rgb


@pytest.fixture
def stains(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _save(he_section(seed=2).rgb, folder / "he.png")
    pol = polarized_psr((320, 320), grid=6, seed=3)
    _save(pol.rgb, folder / "pol.png")
    _save(_vvg_image(), folder / "vvg.png")
    (folder / "manifest.csv").write_text(
        "file,subject,session,modality,stain,px_per_mm\n"
        "he.png,P01,0,histology,he,1000\n"
        "pol.png,P01,0,histology,psr_polarized,\n"
        "vvg.png,P01,0,histology,vvg,\n",
        encoding="utf-8",
    )
    return folder, pol.truth


def test_he_polarized_and_vvg_through_a_manifest(stains):
    folder, truth = stains
    result = analyze_folder(folder, backend="serial", histology={"fibres": False})
    assert result.n_failed == 0
    rows = result.metrics.set_index("stain")
    # H&E: eosin_* columns, never a collagen fraction, and the warning that says why.
    assert 0 < rows.loc["he", "eosin_area_fraction"] <= 1
    assert "collagen_area_fraction" not in rows.columns or np.isnan(rows.loc["he", "collagen_area_fraction"])
    he_warnings = result.errors[result.errors["file"] == "he.png"]["message"].tolist()
    assert HE_WARNING in he_warnings
    # Polarised PSR: hue fractions of the collagen area (truth from the phantom), within 0.03.
    for colour in ("red", "orange", "yellow", "green"):
        assert rows.loc["psr_polarized", f"collagen_pol_{colour}_fraction"] == pytest.approx(
            truth[f"{colour}_fraction"], abs=0.03
        )
    # VVG: the black elastic fibres, 20 % of the section.
    assert rows.loc["vvg", "elastin_area_fraction"] == pytest.approx(0.2, abs=0.03)


def test_study_threshold_and_stain_estimate_are_recorded_and_applied(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for session, seed in enumerate((1, 2, 3)):
        _save(
            aligned_fibres((160, 160), angle_deg=30.0 * session, seed=seed).rgb,
            folder / f"P01_s{session}_d_psr.png",
        )
    config = {"threshold": "batch", "stain_vectors": "estimate", "fibres": False}
    result = analyze_folder(folder, backend="serial", histology=config)
    assert result.n_failed == 0
    batch = result.run_info["histology_batch"]["psr"]
    assert batch["source"] == "run" and batch["threshold_images"] == 3
    assert batch["stain_estimate"]["method"].startswith("Macenko")
    assert batch["stain_vectors_used"] == "estimate"
    # One threshold for every session, the recorded one.
    np.testing.assert_allclose(result.metrics["collagen_threshold"], batch["threshold"])
    # Without asking, the estimate is still recorded; each image keeps its own threshold.
    plain = analyze_folder(folder, backend="serial", histology={"fibres": False})
    assert "stain_estimate" in plain.run_info["histology_batch"]["psr"]
    assert "threshold" not in plain.run_info["histology_batch"]["psr"]
    # A threshold fixed by the config (e.g. from an earlier study) is used as given.
    fixed = analyze_folder(
        folder,
        backend="serial",
        histology={"threshold": "batch", "fibres": False},
        histology_batch={"psr": {"threshold": 0.5}},
    )
    assert fixed.run_info["histology_batch"]["psr"]["source"] == "config"
    np.testing.assert_allclose(fixed.metrics["collagen_threshold"], 0.5)


def test_unlabelled_histology_is_recognised_with_a_warning(tmp_path, shared_data):
    from skimage import data

    folder = tmp_path / "in"
    folder.mkdir()
    # The real H&E OME-TIFF under a name the pattern does not know, a PSR section named like a
    # photo, and a real face photo: only the face is a photo.
    shutil.copy(shared_data / "histology" / "OS-1-detail.ome.tif", folder / "section.ome.tif")
    _save(psr_section((200, 200), seed=3), folder / "P02_s0_biopsy.png")
    Image.fromarray(data.astronaut()).save(folder / "P01_s0_cheek.png")
    result = analyze_folder(folder, backend="serial", histology={"fibres": False, "epidermis": False})
    assert result.n_failed == 0
    rows = result.metrics[result.metrics["modality"] == "histology"].set_index("file")
    assert (rows.loc["section.ome.tif", "modality"], rows.loc["section.ome.tif", "stain"]) == (
        "histology",
        "he",
    )
    assert (rows.loc["P02_s0_biopsy.png", "modality"], rows.loc["P02_s0_biopsy.png", "stain"]) == (
        "histology",
        "psr",
    )
    # The face stays a photo (a full-face photo may give one row per facial zone).
    face = result.metrics[result.metrics["file"] == "P01_s0_cheek.png"]
    assert len(face) >= 1 and (face["modality"] == "photo").all()
    said = result.errors[result.errors["stage"] == "warning"]
    recognised = said[said["message"].str.startswith("analysed as histology")]
    assert sorted(recognised["file"]) == ["P02_s0_biopsy.png", "section.ome.tif"]
    assert "microscope scale" in recognised.set_index("file").loc["section.ome.tif", "message"]


def test_console_counts_warnings_in_its_last_line(stains, tmp_path):
    folder, _ = stains
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["analyze", str(folder), "-o", str(out), "--backend", "serial", "--no-report"]
    )
    assert res.exit_code == 0, res.output
    errors = pd.read_csv(out / "errors.csv")
    n = int((errors["stage"] == "warning").sum())
    assert n >= 1
    lines = res.output.splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith("analysed "))  # the final summary
    assert f"{n} warning" in lines[at]
    assert any(line.startswith("warning ") for line in lines[:at])  # the warnings themselves come first


def test_a_slides_dye_colour_far_from_the_preset_is_recorded_and_said(tmp_path, shared_data):
    folder = tmp_path / "in"
    folder.mkdir()
    # The real H&E crop: its eosin is bluer than the preset's (a scanner and a staining run of its own).
    shutil.copy(
        shared_data / "histology" / "OS-1-detail_crop_y0-550_x0-550.png", folder / "H1_s0_skin_he.png"
    )
    result = analyze_folder(folder, backend="serial", histology={"fibres": False, "epidermis": False})
    estimate = result.run_info["histology_batch"]["he"]["stain_estimate"]
    assert max(estimate["angle_to_preset_deg"]) > 15.0
    said = result.errors[result.errors["stage"] == "warning"]["message"]
    assert said.str.contains("stain_vectors: estimate").any()
    # Asked for, the estimate is used and the warning goes.
    used = analyze_folder(
        folder, backend="serial", histology={"fibres": False, "epidermis": False, "stain_vectors": "estimate"}
    )
    assert used.run_info["histology_batch"]["he"]["stain_vectors_used"] == "estimate"
    assert not used.errors["message"].str.contains("stain_vectors: estimate").any()
    before = result.metrics["eosin_area_fraction"].iloc[0]
    after = used.metrics["eosin_area_fraction"].iloc[0]
    assert after > before  # the pink stroma is eosin once the slide's own eosin colour is used
