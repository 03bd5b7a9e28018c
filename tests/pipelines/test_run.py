"""A folder in, tables out: the whole run through the Python API and the CLI."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipelines import analyze_folder
from pipelines.cli import app
from pipelines.record import overlay_key
from pipelines.tables.changes import CHANGES_COLUMNS
from pipelines.tables.metrics import ERRORS_COLUMNS
from texture.phantoms.histology import psr_section


def _skin(seed, shape=(160, 200), tone=(0.80, 0.62, 0.52)):
    rng = np.random.default_rng(seed)
    rgb = np.ones((*shape, 3)) * np.array(tone) + rng.normal(0, 0.01, (*shape, 3))
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture
def series(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for session, tone in ((0, (0.80, 0.62, 0.52)), (1, (0.74, 0.56, 0.46))):
        Image.fromarray(_skin(session, tone=tone)).save(folder / f"P01_s{session}_cheek.png")
    psr = (psr_section((192, 192), density=0.4, seed=1) * 255).round().astype(np.uint8)
    Image.fromarray(psr).save(folder / "P01_s0_biopsy_psr.png")
    good = folder / "P01_s0_cheek.png"
    (folder / "P02_s0_cheek.jpg").write_bytes(good.read_bytes()[:200])  # truncated / wrong content
    return folder


def _scaled(folder):
    """Each image at the scale of its modality: photos 20 px/mm, the section 1000 px/mm (2 µm/px). One
    --px-per-mm for both is refused since issue 19 (20 px/mm is no microscope scale)."""
    (folder / "manifest.csv").write_text(
        "file,subject,session,region,stain,px_per_mm\n"
        "P01_s0_cheek.png,P01,0,cheek,,20\nP01_s1_cheek.png,P01,1,cheek,,20\n"
        "P01_s0_biopsy_psr.png,P01,0,biopsy,psr,1000\nP02_s0_cheek.jpg,P02,0,cheek,,20\n",
        encoding="utf-8",
    )
    return folder


def test_folder_gives_tables_and_errors_without_writing(series, tmp_path):
    result = analyze_folder(_scaled(series), backend="serial", register=False)
    m = result.metrics
    assert sorted(m["file"]) == ["P01_s0_biopsy_psr.png", "P01_s0_cheek.png", "P01_s1_cheek.png"]
    assert list(m.columns[:12]) == [
        "file",
        "sha256",
        "subject",
        "session",
        "date",
        "modality",
        "region",
        "stain",
        "px_per_mm",
        "width_px",
        "height_px",
        "treatment",
    ]
    photo = m[m["modality"] == "photo"].set_index("session")
    # The darker follow-up photo reads as lower ITA (tanned), and the change table says so.
    assert photo.loc[1, "ita_deg"] < photo.loc[0, "ita_deg"]
    ita = result.changes.query("metric == 'ita_deg' and session == 1").iloc[0]
    assert ita["delta"] == pytest.approx(photo.loc[1, "ita_deg"] - photo.loc[0, "ita_deg"])
    histo = m[m["modality"] == "histology"].iloc[0]
    assert 0 < histo["collagen_area_fraction"] < 1
    assert list(result.errors.columns) == list(ERRORS_COLUMNS)
    failed = result.errors[result.errors["stage"] != "warning"]
    assert failed["file"].tolist() == ["P02_s0_cheek.jpg"] and failed["stage"].tolist() == ["decode"]
    assert result.exit_status == 2
    assert not (tmp_path / "out").exists()


def test_output_folder_is_complete_and_atomic(series, tmp_path):
    out = tmp_path / "out"
    result = analyze_folder(_scaled(series), out_dir=out, backend="serial", register=False)
    for name in ("metrics.csv", "metrics.parquet", "changes.csv", "cohort.csv", "errors.csv", "run.json"):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp"))
    csv = pd.read_csv(out / "metrics.csv")
    parquet = pd.read_parquet(out / "metrics.parquet")
    assert len(csv) == len(parquet) == len(result.metrics) == 3
    assert list(pd.read_csv(out / "changes.csv").columns) == list(CHANGES_COLUMNS)
    run = json.loads((out / "run.json").read_text())
    counts = run["counts"]
    assert {k: counts[k] for k in ("images", "analysed", "failed", "cached")} == {
        "images": 4,
        "analysed": 3,
        "failed": 1,
        "cached": 0,
    }
    # At its real scale the section may warn (e.g. no dominant orientation): counted as in errors.csv.
    errors = pd.read_csv(out / "errors.csv")
    assert counts["warnings"] == int((errors["stage"] == "warning").sum())
    assert run["versions"]["skintex"] and run["versions"]["numpy"]
    sha = result.metrics.set_index("file").loc["P01_s0_cheek.png", "sha256"]
    assert (out / "overlays" / overlay_key(sha, "P01_s0_cheek.png") / "image.jpg").is_file()


def test_cached_rerun_gives_identical_tables(series, tmp_path):
    out = tmp_path / "out"
    first = analyze_folder(_scaled(series), out_dir=out, backend="serial", register=False)
    second = analyze_folder(series, out_dir=out, backend="serial", register=False)
    assert second.run_info["counts"]["cached"] == 3
    pd.testing.assert_frame_equal(first.metrics, second.metrics)
    third = analyze_folder(series, out_dir=out, backend="serial", register=False, glcm_levels=16)
    assert third.run_info["counts"]["cached"] == 0  # a changed setting re-analyses


def test_cli_analyze_exit_status_and_usage_error(series, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(app, ["analyze", str(series), "-o", str(out), "--backend", "serial", "--no-report"])
    assert res.exit_code == 2, res.output
    assert (out / "metrics.csv").is_file()
    (series / "manifest.csv").write_text("file,session\nP01_s0_cheek.png,first\n")
    bad = tmp_path / "bad"
    res = runner.invoke(app, ["analyze", str(series), "-o", str(bad)])
    assert res.exit_code == 1
    assert "row 2, column 'session'" in res.output
    assert not bad.exists()  # a configuration error writes nothing


def test_unscaled_photo_has_nan_mm_and_px_twins(series):
    result = analyze_folder(series, backend="serial", register=False)
    photo = result.metrics[result.metrics["modality"] == "photo"].iloc[0]
    assert math.isnan(photo["px_per_mm"])


def test_real_ome_tiff_scale_comes_from_its_metadata(shared_data, tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    # A copy in the test's own folder: symlinks leading out of the input folder are refused.
    shutil.copy(shared_data / "histology" / "OS-1-detail.ome.tif", folder / "H1_s0_skin_he.ome.tif")
    result = analyze_folder(folder, backend="serial")
    row = result.metrics.iloc[0]
    assert row["px_per_mm"] == pytest.approx(1000 / 0.2271, rel=1e-3)
    # H&E: the measured channel is eosin, named so (issue 16).
    assert 0 < row["eosin_area_fraction"] < 1


def test_large_histology_tiff_is_analysed_tile_by_tile_like_whole(tmp_path):
    import tifffile

    rgb = psr_section((1024, 1024), density=0.4, seed=5)
    folder = tmp_path / "big"
    folder.mkdir()
    tifffile.imwrite(
        folder / "P1_s0_biopsy_psr.tif",
        (rgb * 255).round().astype(np.uint8),
        tile=(256, 256),
        photometric="rgb",
    )
    whole = analyze_folder(folder, backend="serial", px_per_mm=1000).metrics.iloc[0]
    tiled = analyze_folder(
        folder, backend="serial", px_per_mm=1000, tile_above_pixels=500_000, slide_tile_px=512
    ).metrics.iloc[0]
    assert "slide_tiles" in tiled and tiled["slide_tiles"] > 1
    assert tiled["collagen_area_fraction"] == pytest.approx(whole["collagen_area_fraction"], rel=0.005)
    # Orientation is NaN and flagged below coherency 0.1 since 4946298 (issue 15): this section's fibres
    # run every way (coherency ~0.08), so both read it undefined, and the coherency and pixel alignment
    # carry the comparison (a defined angle tiled vs whole: tests/pipelines/test_slide.py).
    assert whole["collagen_orientation_undefined"] == tiled["collagen_orientation_undefined"] == 1
    assert np.isnan(whole["collagen_orientation_deg"]) and np.isnan(tiled["collagen_orientation_deg"])
    assert tiled["collagen_coherency"] == pytest.approx(whole["collagen_coherency"], abs=1e-3)
    assert tiled["collagen_pixel_alignment"] == pytest.approx(whole["collagen_pixel_alignment"], abs=1e-3)
