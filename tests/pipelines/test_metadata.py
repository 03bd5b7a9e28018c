"""Metadata from manifests and file names, with clear messages for every bad row."""

import os

import pytest
from PIL import Image

from pipelines.io.metadata import (
    DEFAULT_PATTERN,
    MetadataError,
    collect_items,
    compile_pattern,
    read_manifest,
)


def _touch_image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)


@pytest.fixture
def folder(tmp_path):
    for name in ("a.png", "b.png", "sub/c.png"):
        _touch_image(tmp_path / name)
    return tmp_path


def _manifest(folder, text):
    path = folder / "manifest.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_rows_become_items(folder):
    _manifest(
        folder,
        "file,subject,session,date,modality,region,stain,px_per_mm\n"
        "a.png,P1,0,2026-01-05,photo,cheek,,25\n"
        "sub/c.png,P1,3,2026-02-02,histology,biopsy,psr,2000\n",
    )
    items = collect_items(folder)
    assert [(i.file, i.subject, i.session, i.modality, i.stain, i.px_per_mm) for i in items] == [
        ("a.png", "P1", 0, "photo", "", 25.0),
        ("sub/c.png", "P1", 3, "histology", "psr", 2000.0),
    ]
    assert items[0].date == "2026-01-05T00:00:00"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("missing.png,P1,0,photo,", r"row 2, column 'file': 'missing.png' does not exist"),
        ("a.png,P1,zero,photo,", r"row 2, column 'session': session 'zero' is not a whole number"),
        ("a.png,P1,1.5,photo,", r"row 2, column 'session'.*whole number"),
        ("a.png,P1,0,xray,", r"row 2, column 'modality'/'stain': modality 'xray' is not one of"),
        ("a.png,P1,0,histology,", r"histology needs a stain"),
        ("a.png,P1,0,photo,abc", r"row 2, column 'px_per_mm': px_per_mm 'abc' is not a number"),
        ("a.png,P1,0,photo,-3", r"px_per_mm must be a positive number"),
        ("../x.png,P1,0,photo,", r"lies outside the input folder"),
        ("/etc/passwd,P1,0,photo,", r"lies outside the input folder"),
    ],
)
def test_bad_manifest_rows_name_row_and_column(folder, row, message):
    _manifest(folder, f"file,subject,session,modality,px_per_mm\n{row}\n")
    with pytest.raises(MetadataError, match=message):
        collect_items(folder)


def test_duplicate_file_and_unknown_column(folder):
    _manifest(folder, "file,subject\na.png,P1\n./a.png,P2\n")
    with pytest.raises(MetadataError, match=r"row 3.*already listed in row 2"):
        collect_items(folder)
    _manifest(folder, "file,subjcet\na.png,P1\n")
    with pytest.raises(MetadataError, match=r"row 1: unknown column\(s\) 'subjcet'"):
        collect_items(folder)


def test_symlink_leading_out_is_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    _touch_image(outside)
    os.symlink(outside, folder / "link.png")
    _manifest(folder, "file,subject\nlink.png,P1\n")
    with pytest.raises(MetadataError, match="outside the input folder"):
        read_manifest(folder / "manifest.csv")


def test_default_pattern_parses_documented_examples(tmp_path):
    for name in ("P01_s0_cheek.jpg", "P01_s6_biopsy_psr.tif", "AB-3_visit2.png", "holiday.png"):
        _touch_image(tmp_path / name)
    items = {i.file: i for i in collect_items(tmp_path)}
    a, b, c, d = (
        items[n] for n in ("P01_s0_cheek.jpg", "P01_s6_biopsy_psr.tif", "AB-3_visit2.png", "holiday.png")
    )
    assert (a.subject, a.session, a.region, a.modality) == ("P01", 0, "cheek", "photo")
    assert (b.subject, b.session, b.region, b.modality, b.stain) == ("P01", 6, "biopsy", "histology", "psr")
    assert (c.subject, c.session, c.region) == ("AB-3", 2, "")
    assert (d.subject, d.session) == ("holiday", 0) and "does not match" in d.notes[0]


def test_custom_pattern_and_validation(tmp_path):
    _touch_image(tmp_path / "2026-01-01 - Smith - 3.jpg")
    items = collect_items(tmp_path, pattern=r"^(?P<date>[\d-]+) - (?P<subject>\w+) - (?P<session>\d+)$")
    assert (items[0].subject, items[0].session, items[0].date) == ("Smith", 3, "2026-01-01T00:00:00")
    with pytest.raises(MetadataError, match="lacks the named group"):
        compile_pattern(r"(?P<subject>\w+)")
    with pytest.raises(MetadataError, match="not a valid regular expression"):
        compile_pattern(r"(?P<subject>")
    assert compile_pattern(DEFAULT_PATTERN)


def test_cli_scale_fills_only_missing_scales(folder):
    _manifest(folder, "file,px_per_mm\na.png,30\nb.png,\n")
    items = {i.file: i.px_per_mm for i in collect_items(folder, px_per_mm=20)}
    assert items == {"a.png": 30.0, "b.png": 20.0}


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(MetadataError, match="no images found"):
        collect_items(tmp_path)
