"""Manifests: paths leading out of the input folder and hostile rows stop the run before any work;
real-world spreadsheets (capitalised or semicolon headers, decimal commas, other date formats, Excel's
trailing empty rows) are read (issues 9 and 19).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines import analyze_folder
from pipelines.io.metadata import MetadataError
from tests.pipelines.hostile import FAST


def _refused(folder: Path, file_cell: str, tmp_path: Path, monkeypatch) -> str:
    calls = []
    import pipelines.batch

    monkeypatch.setattr(pipelines.batch, "analyze_item", lambda *a, **k: calls.append(a))
    (folder / "manifest.csv").write_text(
        f"file,subject,session\nP01_s0_cheek.png,P01,0\n{file_cell},P01,1\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    with pytest.raises(MetadataError) as info:
        analyze_folder(folder, out_dir=out, **FAST)
    assert not calls, "an image was analysed before the manifest was validated"
    assert not out.exists(), "something was written before the manifest was validated"
    message = str(info.value)
    assert "manifest.csv" in message and "row 3" in message and "'file'" in message
    assert "outside the input folder" in message
    return message


def test_manifest_parent_path_is_refused(inside, tmp_path, monkeypatch):
    _refused(inside, "../outside.png", tmp_path, monkeypatch)


def test_manifest_absolute_path_is_refused(inside, tmp_path, monkeypatch):
    _refused(inside, str(tmp_path / "outside.png"), tmp_path, monkeypatch)


def test_manifest_symlink_leading_out_is_refused(inside, tmp_path, monkeypatch):
    os.symlink(tmp_path / "outside.png", inside / "link.png")
    _refused(inside, "link.png", tmp_path, monkeypatch)


def test_symlink_out_found_by_folder_scan_is_refused(inside, tmp_path):
    """Without a manifest, a symlink in the folder pointing outside stops the run too, naming the link
    (but not where it leads: messages must not spread absolute paths)."""
    os.symlink(tmp_path / "outside.png", inside / "P09_s0_cheek.png")
    out = tmp_path / "out"
    with pytest.raises(MetadataError, match="'P09_s0_cheek.png' is a symlink leading outside") as info:
        analyze_folder(inside, out_dir=out, **FAST)
    assert "outside.png" not in str(info.value)
    assert not out.exists()
    # A symlink to a file inside the folder is fine.
    (inside / "P09_s0_cheek.png").unlink()
    os.symlink(inside / "P01_s0_cheek.png", inside / "P09_s0_cheek.png")
    assert set(analyze_folder(inside, **FAST).metrics["file"]) == {"P01_s0_cheek.png", "P09_s0_cheek.png"}


@pytest.mark.parametrize(
    "rows,column,words",
    [
        ("P01_s0_cheek.png,P01,0,../outside.png\n", "'roi'", "outside the input folder"),
        ("P01_s0_cheek.png,P01,0,missing_mask.png\n", "'roi'", "does not exist"),
        ("P01_s0_cheek.png,P01,0,,surplus\n", None, "more values than the header"),
        ("P01_s0_cheek.png,P\x001,0,\n", "'subject'", "control characters"),
        ("P01_s0_cheek.png,P01,-1,\n", "'session'", "whole number >= 0"),
        ("P01_s0_cheek.png,P01,nan,\n", "'session'", "whole number"),
    ],
    ids=["roi-outside", "roi-missing", "surplus-value", "nul-byte", "negative-session", "nan-session"],
)
def test_hostile_manifest_rows_are_refused_before_any_work(inside, tmp_path, rows, column, words):
    (inside / "manifest.csv").write_text("file,subject,session,roi\n" + rows, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(MetadataError) as info:
        analyze_folder(inside, out_dir=out, **FAST)
    message = str(info.value)
    assert "manifest.csv" in message and "row 2" in message and words in message
    if column:
        assert f"column {column}" in message
    assert not out.exists()
