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


# ---------------------------------------------------------------------------------------------
# Issue 19: real-world spreadsheets, dates, FIFOs, sessions, scales


def _two_photos(folder: Path) -> None:
    from PIL import Image

    from tests.pipelines.hostile import skin

    Image.fromarray(skin(0)).save(folder / "a.png")
    Image.fromarray(skin(1)).save(folder / "b.png")


@pytest.mark.parametrize(
    "text",
    [
        "File,Subject,Session,PX_PER_MM\na.png,S1,0,20\nb.png,S1,1,20.5\n",
        " File , Subject ,Session, Px Per Mm\na.png,S1,0,20\nb.png,S1,1,20.5\n",
        "file;subject;session;px_per_mm\na.png;S1;0;20\nb.png;S1;1;20,5\n",  # a European spreadsheet
        "file\tsubject\tsession\tpx-per-mm\na.png\tS1\t0\t20\nb.png\tS1\t1\t20,5\n",
        # Excel's trailing rows
        'file,subject,session,px_per_mm\na.png,S1,0,20\nb.png,S1,1,"20,5"\n,,,\n,,,\n',
    ],
    ids=["capitalised", "spaces", "semicolons-decimal-comma", "tabs", "excel-empty-rows"],
)
def test_spreadsheet_manifests_are_read(tmp_path, text):
    """Issue 19: a capitalised or semicolon-separated header only said "needs a 'file' column"; Excel's
    trailing ",," rows refused the batch as "empty file name"."""
    from pipelines.io.metadata import read_manifest

    _two_photos(tmp_path)
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    items = read_manifest(tmp_path / "manifest.csv")
    assert [(i.file, i.subject, i.session, i.px_per_mm) for i in items] == [
        ("a.png", "S1", 0, 20.0),
        ("b.png", "S1", 1, 20.5),
    ]


def test_a_header_without_a_file_column_says_what_it_found(tmp_path):
    from pipelines.io.metadata import read_manifest

    (tmp_path / "manifest.csv").write_text("image|subject\na.png|S1\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"needs a 'file' column \(found: 'image\|subject'"):
        read_manifest(tmp_path / "manifest.csv")


@pytest.mark.parametrize(
    "cell,iso",
    [
        ("2024-03-05", "2024-03-05T00:00:00"),
        ("05.03.2024", "2024-03-05T00:00:00"),
        ("05/03/2024", "2024-03-05T00:00:00"),
        ("20240305", "2024-03-05T00:00:00"),
        ("2024/03/05", "2024-03-05T00:00:00"),
        ("05.03.2024 14:30", "2024-03-05T14:30:00"),
        ("2024-03-05 14:30:15", "2024-03-05T14:30:15"),
    ],
)
def test_dates_in_documented_formats_are_read_day_first(tmp_path, cell, iso):
    from pipelines.io.metadata import read_manifest

    _two_photos(tmp_path)
    (tmp_path / "manifest.csv").write_text(f"file,date\na.png,{cell}\n", encoding="utf-8")
    assert read_manifest(tmp_path / "manifest.csv")[0].date == iso


def test_a_date_in_no_known_format_names_row_and_column_and_pandas_stays_quiet(tmp_path):
    """Issue 19: dates in other formats raised pandas' "Could not infer format" warning on the console."""
    import warnings

    _two_photos(tmp_path)
    (tmp_path / "manifest.csv").write_text(
        "file,subject,session,date\na.png,S1,0,2024-03-05\nb.png,S1,1,March 5th\n", encoding="utf-8"
    )
    with pytest.raises(
        MetadataError, match=r"manifest.csv: row 3, column 'date': date 'March 5th'.*YYYY-MM-DD"
    ):
        analyze_folder(tmp_path, **FAST)
    # Dates with and without a time in one series: the day counts come out without a pandas warning.
    (tmp_path / "manifest.csv").write_text(
        "file,subject,session,date\na.png,S1,0,05.03.2024\nb.png,S1,1,2024-03-12 10:00\n", encoding="utf-8"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = analyze_folder(tmp_path, **FAST)
    assert set(result.changes["days_from_baseline"].dropna()) == {0.0, 7 + 10 / 24}


def test_a_fifo_in_the_manifest_is_named_as_a_pipe(tmp_path):
    """Issue 19: a FIFO listed in the manifest "does not exist" (it does) — and reading it would hang."""
    _two_photos(tmp_path)
    os.mkfifo(tmp_path / "c.png")
    (tmp_path / "manifest.csv").write_text("file\na.png\nc.png\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"row 3, column 'file': 'c.png' is a named pipe \(FIFO\)"):
        analyze_folder(tmp_path, **FAST)
    (tmp_path / "manifest.csv").unlink()
    result = analyze_folder(tmp_path, **FAST)  # without a manifest the scan skips what is not a file
    assert sorted(result.metrics["file"]) == ["a.png", "b.png"]


@pytest.mark.parametrize("session", ["1e20", "99999999999999999999", "1000001"])
def test_huge_sessions_are_refused_before_any_work(tmp_path, session):
    """Issue 19: session 1e20 analysed every image, then raised OverflowError, on every re-run."""
    _two_photos(tmp_path)
    (tmp_path / "manifest.csv").write_text(f"file,subject,session\na.png,S1,0\nb.png,S1,{session}\n")
    with pytest.raises(MetadataError, match=r"row 3, column 'session'.*<= 1,000,000"):
        analyze_folder(tmp_path, out_dir=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_a_huge_session_in_a_file_name_is_refused_before_any_work(tmp_path):
    from PIL import Image

    from tests.pipelines.hostile import skin

    Image.fromarray(skin(0)).save(tmp_path / "P01_s0_cheek.png")
    Image.fromarray(skin(1)).save(tmp_path / "P01_s99999999999999999999_cheek.png")
    with pytest.raises(MetadataError, match="P01_s99999999999999999999_cheek.png: file name: session"):
        analyze_folder(tmp_path, **FAST)


# ---------------------------------------------------------------------------------------------
# Issue 19: implausible scales are refused with the reason, unless forced


def _photo_and_section(folder: Path, photo_scale: str, section_scale: str) -> None:
    import numpy as np
    from PIL import Image

    from tests.pipelines.hostile import skin
    from texture.phantoms.histology import psr_section

    Image.fromarray(skin(0, shape=(120, 160))).save(folder / "p.png")
    rgb = (psr_section((128, 128), density=0.4, seed=2) * 255).round().astype(np.uint8)
    Image.fromarray(rgb).save(folder / "h.png")
    (folder / "manifest.csv").write_text(
        "file,subject,modality,stain,px_per_mm\n"
        f"p.png,S1,photo,,{photo_scale}\nh.png,S1,histology,psr,{section_scale}\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "photo,section,row,words",
    [
        ("5000", "2000", 2, "px_per_mm 5000 is outside the plausible range for photo images, 1-200"),
        ("0.5", "2000", 2, "px_per_mm 0.5 is outside the plausible range for photo images"),
        ("20", "2", 3, "px_per_mm 2 is outside the plausible range for histology images, 100-20000"),
        ("20", "1e9", 3, "px_per_mm 1e+09 is outside the plausible range for histology"),
    ],
)
def test_implausible_scales_are_refused_at_load_with_the_reason(tmp_path, photo, section, row, words):
    """Issue 19: --px-per-mm 5000 on a 1 MP photo ran 195 s for ITA +90 deg; 0.5 px/mm changed the ROI and
    ITA silently; px_per_mm 1e9 failed to allocate 1.4e18 bytes."""
    _photo_and_section(tmp_path, photo, section)
    with pytest.raises(MetadataError) as info:
        analyze_folder(tmp_path, out_dir=tmp_path / "out", backend="serial")
    message = str(info.value)
    assert words in message and "--force-scale" in message
    assert ("p.png" if row == 2 else "h.png") in message
    assert not (tmp_path / "out").exists()


def test_a_forced_scale_is_accepted(tmp_path):
    _photo_and_section(tmp_path, "0.9", "2000")
    result = analyze_folder(tmp_path, backend="serial", register=False, force_scale=True)
    assert sorted(result.metrics["file"]) == ["h.png", "p.png"]


def test_a_command_line_scale_is_checked_against_the_modality_the_image_turns_out_to_have(tmp_path):
    """Without a manifest the image decides photo or histology; a photo then gets the photo range."""
    from PIL import Image

    from tests.pipelines.hostile import skin

    Image.fromarray(skin(0)).save(tmp_path / "P01_s0_cheek.png")
    result = analyze_folder(tmp_path, backend="serial", register=False, px_per_mm=5000)
    row = result.errors.iloc[0]
    assert (row["file"], row["stage"], row["error_type"]) == ("P01_s0_cheek.png", "metadata", "ValueError")
    assert "px_per_mm 5000 is outside the plausible range for photo images" in row["message"]
    assert result.metrics.empty or "P01_s0_cheek.png" not in set(result.metrics["file"])
    with pytest.raises(
        MetadataError, match="px_per_mm 50000 is outside the plausible range for images, 1-20000"
    ):
        analyze_folder(tmp_path, backend="serial", px_per_mm=50_000)


def test_the_scale_rule_lives_in_one_place():
    from pipelines.io.scale import PLAUSIBLE_PX_PER_MM, scale_problem

    assert PLAUSIBLE_PX_PER_MM == {"photo": (1.0, 200.0), "histology": (100.0, 20_000.0)}
    assert scale_problem(None, "photo") is None
    assert scale_problem(200.0, "photo") is None and scale_problem(200.01, "photo") is not None
    assert scale_problem(100.0, "histology") is None and scale_problem(99.9, "histology") is not None
    assert scale_problem(5000.0, None) is None  # modality unknown: the union of the ranges
