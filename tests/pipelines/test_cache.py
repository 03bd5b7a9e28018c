"""The per-image result cache (``OUT/cache``): what it keys on and what it refuses to trust (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipelines import analyze_folder
from tests.pipelines.hostile import FAST, skin


@pytest.mark.parametrize("content", ["{}", "null", "[]", '{"record": {}, "tables": {}, "warnings": []}', "7"])
def test_a_cache_file_replaced_by_hand_is_analysed_again(inside, tmp_path, content):
    """Issue 19: a cache file replaced by {} or null raised KeyError/TypeError on every re-run until
    --no-cache."""
    out = tmp_path / "out"
    first = analyze_folder(inside, out_dir=out, **FAST)
    (entry,) = list((out / "cache").glob("*.json"))
    entry.write_text(content, encoding="utf-8")
    again = analyze_folder(inside, out_dir=out, **FAST)
    assert again.run_info["counts"]["cached"] == 0 and again.run_info["counts"]["analysed"] == 1
    assert again.errors.empty
    np.testing.assert_allclose(
        again.metrics.select_dtypes("number").to_numpy(), first.metrics.select_dtypes("number").to_numpy()
    )
    assert analyze_folder(inside, out_dir=out, **FAST).run_info["counts"]["cached"] == 1  # repaired


def test_an_roi_mask_changed_under_the_same_name_is_analysed_again(tmp_path):
    """Issue 19: the cache key hashed the mask's name, not its bytes: a re-run reported "1 from cache"
    with the old mask's values."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    mask = np.zeros((96, 128), np.uint8)
    mask[:, :64] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    (folder / "manifest.csv").write_text("file,subject,session,roi\nP01_s0_cheek.png,P01,0,mask.png\n")
    out = tmp_path / "out"
    first = analyze_folder(folder, out_dir=out, **FAST)
    assert analyze_folder(folder, out_dir=out, **FAST).run_info["counts"]["cached"] == 1
    mask[:, :] = 0
    mask[:32, :] = 255  # another region (4096 px, not 6144), same file name
    Image.fromarray(mask).save(folder / "mask.png")
    second = analyze_folder(folder, out_dir=out, **FAST)
    assert second.run_info["counts"]["cached"] == 0
    assert first.metrics["roi_area_px"].iloc[0] != second.metrics["roi_area_px"].iloc[0]
