"""pipelines.analyze: one item in, one record out (identity first, then metrics), failures raised as
AnalysisError with the stage that failed, and user ROIs parsed from polygons or mask files."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.analyze import AnalysisError, analyze_item, roi_mask_from_spec
from pipelines.config import load_config
from pipelines.io.metadata import ImageItem
from pipelines.record import IDENTITY_COLUMNS
from texture.phantoms.photo import render_skin


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("analyze")
    rgb = render_skin(size_mm=(16.0, 12.0), px_per_mm=20.0, seed=4).rgb  # 320 x 240 px
    path = folder / "P01_s0_cheek.png"
    Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def _item(path: Path, **kw) -> ImageItem:
    return ImageItem(path=path, file=path.name, subject="P01", session=0, region="cheek", **kw)


def test_record_starts_with_the_identity_columns_in_order(photo):
    outcome = analyze_item(_item(photo, px_per_mm=20.0), load_config())
    keys = list(outcome.record)
    assert keys[: len(IDENTITY_COLUMNS)] == list(IDENTITY_COLUMNS)
    assert outcome.record["width_px"] == 320 and outcome.record["height_px"] == 240
    assert outcome.record["px_per_mm"] == 20.0
    assert len(outcome.record["sha256"]) == 64
    assert outcome.record["pore_count"] >= 0


def test_undecodable_file_fails_at_the_decode_stage(tmp_path):
    bad = tmp_path / "P01_s0_cheek.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(AnalysisError) as info:
        analyze_item(_item(bad), load_config())
    assert info.value.stage == "decode"
    assert str(tmp_path) not in info.value.message  # messages say what is wrong, without paths


def test_roi_polygon_is_x_y_in_pixels(tmp_path):
    mask = roi_mask_from_spec("2 1, 8 1, 8 5, 2 5", (10, 12), tmp_path)
    assert mask.shape == (10, 12)
    rows, cols = np.nonzero(mask)
    assert cols.min() >= 2 and cols.max() <= 8 and rows.min() >= 1 and rows.max() <= 5
    assert roi_mask_from_spec("  ", (10, 12), tmp_path) is None


def test_roi_mask_file_must_match_the_image(tmp_path):
    Image.fromarray(np.full((5, 6), 255, np.uint8)).save(tmp_path / "roi.png")
    assert roi_mask_from_spec("roi.png", (5, 6), tmp_path).all()
    with pytest.raises(ValueError, match="px"):
        roi_mask_from_spec("roi.png", (10, 12), tmp_path)
    with pytest.raises(ValueError, match="at least 3 points|outside|cannot"):
        roi_mask_from_spec("1 1, 2 2", (10, 12), tmp_path)
