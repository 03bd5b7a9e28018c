"""The bundled demo data: a small synthetic treatment series, generated deterministically.

Two subjects, four sessions two weeks apart (a microneedling course): close-up cheek photos whose pores
shrink and brown spots fade, with the flash a few percent brighter or dimmer each time; and
picrosirius-red histology at baseline and at the last session whose collagen gets denser. The truth used
to render every image is written to ``truth.csv`` beside them, so the demo's numbers can be checked.

Regenerate with ``python -m pipelines.samples [FOLDER]``.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.io.files import atomic_write
from texture.phantoms.histology import psr_section
from texture.phantoms.photo import render_skin

__all__ = ["SAMPLES_DIR", "generate_samples", "ensure_samples"]

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "sample_images"
PHOTO_PX_PER_MM = 25.0
HISTOLOGY_PX_PER_MM = 1000.0  # 1 µm per pixel
SESSIONS = (0, 1, 2, 3)
START = date(2026, 3, 2)
# Per session: pore diameter factor, spot optical-density factor, flash exposure.
PORE_SCALE = (1.00, 0.95, 0.90, 0.85)
SPOT_STRENGTH = (1.00, 0.85, 0.70, 0.55)
EXPOSURE = (1.00, 1.03, 0.98, 1.02)
SUBJECTS = {"P01": 11, "P02": 23}  # subject -> geometry seed
COLLAGEN_DENSITY = {0: 0.30, 3: 0.45}


def _jpeg_bytes(rgb: np.ndarray, when: date) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when.strftime("%Y:%m:%d 10:00:00")  # DateTimeOriginal
    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(
        buf, format="JPEG", quality=90, exif=exif
    )
    return buf.getvalue()


def _png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def generate_samples(folder: str | Path = SAMPLES_DIR) -> Path:
    """Write the demo series (photos, histology, ``manifest.csv``, ``truth.csv``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_rows, truth_rows = [], []
    for subject, seed in SUBJECTS.items():
        for s in SESSIONS:
            when = START + timedelta(days=14 * s)
            phantom = render_skin(
                size_mm=(24.0, 20.0),
                px_per_mm=PHOTO_PX_PER_MM,
                seed=seed,
                pore_density_per_cm2=70.0,
                pore_scale=PORE_SCALE[s],
                n_spots=3,
                spot_strength=SPOT_STRENGTH[s],
                n_lines=2,
                exposure=EXPOSURE[s],
                noise_seed=seed * 100 + s,
            )
            name = f"{subject}_s{s}_cheek.jpg"
            _write(folder / name, _jpeg_bytes(phantom.rgb, when))
            manifest_rows.append(
                [name, subject, s, when.isoformat(), "photo", "cheek", "", PHOTO_PX_PER_MM, "microneedling"]
            )
            truth_rows.append({"file": name, **{k: round(float(v), 6) for k, v in phantom.truth.items()}})
        for s, density in COLLAGEN_DENSITY.items():
            when = START + timedelta(days=14 * s)
            rgb = psr_section((384, 384), density=density, seed=seed + s)
            name = f"{subject}_s{s}_biopsy_psr.png"
            _write(folder / name, _png_bytes(rgb))
            manifest_rows.append(
                [
                    name,
                    subject,
                    s,
                    when.isoformat(),
                    "histology",
                    "biopsy",
                    "psr",
                    HISTOLOGY_PX_PER_MM,
                    "microneedling",
                ]
            )
            truth_rows.append({"file": name, "collagen_density": density})
    with atomic_write(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["file", "subject", "session", "date", "modality", "region", "stain", "px_per_mm", "treatment"]
        )
        writer.writerows(manifest_rows)
    keys: dict[str, None] = {}
    for row in truth_rows:
        keys.update(dict.fromkeys(row))
    with atomic_write(folder / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(keys))
        writer.writeheader()
        writer.writerows(truth_rows)
    return folder


def ensure_samples(folder: str | Path | None = None) -> Path:
    """The sample folder to demo on: ``folder`` if given, else ``./sample_images`` or the repository's,
    generated when absent."""
    if folder is not None:
        folder = Path(folder)
    elif Path("sample_images/manifest.csv").is_file():
        folder = Path("sample_images")
    else:
        folder = SAMPLES_DIR
    if not (folder / "manifest.csv").is_file():
        generate_samples(folder)
    return folder


if __name__ == "__main__":  # pragma: no cover
    target = generate_samples(sys.argv[1] if len(sys.argv) > 1 else SAMPLES_DIR)
    print(f"sample images written to {target}")
