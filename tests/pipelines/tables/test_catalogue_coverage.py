"""Every column the pipeline writes to metrics.csv is in the metric catalogue.

A small folder goes through the whole run: two photos of one subject (baseline and an aligned, exposure-
normalised follow-up), a picrosirius-red section, an H&E section with an epidermis (eosin columns,
epidermis and stratum corneum) and a PSR section large enough to be analysed tile by tile (slide
columns). A column the catalogue lacks fails here with its name: add one line for it to
pipelines/tables/catalogue.py.
"""

import numpy as np
import pytest
import tifffile
from PIL import Image

from pipelines import analyze_folder
from pipelines.record import IDENTITY_COLUMNS
from pipelines.tables.catalogue import lookup, unknown_columns
from texture.phantoms.histology import he_nuclei_section, psr_section
from texture.phantoms.photo import render_skin


def _u8(rgb):
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def run_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coverage")
    for session, exposure in ((0, 1.0), (1, 1.03)):
        skin = render_skin(
            size_mm=(12.0, 10.0), px_per_mm=25.0, seed=3, n_spots=2, n_lines=2, exposure=exposure
        )
        Image.fromarray(_u8(skin.rgb)).save(folder / f"P01_s{session}_cheek.png")
    Image.fromarray(_u8(psr_section((160, 160), density=0.4, seed=1))).save(folder / "P01_s0_biopsy_psr.png")
    he = he_nuclei_section((128.0, 128.0), stratum_corneum_um=8.0, seed=2)
    Image.fromarray(_u8(he.rgb)).save(folder / "P02_s0_biopsy_he.png")
    big = _u8(psr_section((520, 520), density=0.4, seed=4))
    tifffile.imwrite(folder / "P03_s0_biopsy_psr.tif", big, tile=(256, 256), photometric="rgb")
    rows = ["file,subject,session,modality,region,stain,px_per_mm"]
    rows += [f"P01_s{s}_cheek.png,P01,{s},photo,cheek,,20" for s in (0, 1)]
    rows += [
        "P01_s0_biopsy_psr.png,P01,0,histology,biopsy,psr,1000",
        "P02_s0_biopsy_he.png,P02,0,histology,biopsy,he,1000",
    ]
    rows += ["P03_s0_biopsy_psr.tif,P03,0,histology,biopsy,psr,1000"]
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # The 520 x 520 TIFF is analysed tile by tile.
    result = analyze_folder(folder, backend="serial", tile_above_pixels=200_000, slide_tile_px=512)
    failed = result.errors[result.errors["stage"] != "warning"]
    assert failed.empty, failed.to_dict("records")
    return result.metrics


def test_every_metrics_column_is_catalogued(run_metrics):
    missing = unknown_columns(run_metrics.columns)
    assert not missing, f"metrics.csv columns missing from the metric catalogue: {missing}"


def test_the_run_exercised_every_kind_of_column(run_metrics):
    cols = set(run_metrics.columns)
    # If one of these disappears, the test above no longer covers that kind of column.
    assert set(IDENTITY_COLUMNS) <= cols
    assert {"exposure_gain", "registration_error_px", "eosin_area_fraction", "slide_tiles"} <= cols
    assert {"collagen_area_fraction", "epidermis_thickness_mean_um", "pore_mean_diameter_px"} <= cols
    roles = {lookup(c).role for c in cols}
    assert roles == {"identity", "outcome", "qc", "descriptive"}
