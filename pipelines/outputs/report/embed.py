"""Overlays and images embedded in the report as size-capped data URIs."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_MAX_SIDE = 640


# Refuse overlays larger than this before decoding them (the pipeline writes small JPEGs).
IMAGE_MAX_PIXELS = 64_000_000


def overlay_folder(out: Path, key: str) -> Path | None:
    prefix = key.strip().lower()[:16]
    # The prefix names a folder: only hex digits, so a hostile table cannot point outside out/.
    if not _SHA_PREFIX.fullmatch(prefix):
        return None
    folder = out / "overlays" / prefix
    return folder if folder.is_dir() else None


def embed_overlay(out: Path, folder: Path | None, kind: str) -> str | None:
    if folder is None:
        return None
    for suffix in (".jpg", ".jpeg", ".png"):
        path = folder / f"{kind}{suffix}"
        if path.is_file():
            # Symlinks pointing outside the output folder are not followed.
            if not path.resolve().is_relative_to(out.resolve()):
                return None
            return image_data_uri(path)
    return None


def image_data_uri(path: Path) -> str | None:
    """JPEG data URI of an image, downscaled and re-encoded from pixels only (no EXIF/ICC)."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > IMAGE_MAX_PIXELS:
                return None
            im.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
            upright = ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    upright.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    # A fresh image from the raw pixels carries no metadata at all (EXIF, GPS, XMP, ICC).
    clean = Image.frombytes("RGB", upright.size, upright.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=88, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_SHA_PREFIX = re.compile(r"[0-9a-f]{16}")


#: Overlay kinds in display order (``overlays/<key>/<kind>.jpg``, key: ``pipelines.analyze.overlay_key``).
OVERLAY_KINDS: tuple[str, ...] = (
    "image",
    "roi",
    "zones",
    "pores",
    "spots",
    "wrinkles",
    "collagen",
    "orientation",
    "fibres",
    "epidermis",
)


OVERLAY_CAPTIONS = {
    "image": "Image",
    "roi": "Region of interest",
    "zones": "Facial zones",
    "pores": "Pores",
    "spots": "Pigmented spots",
    "wrinkles": "Wrinkles",
    "collagen": "Collagen",
    "orientation": "Collagen orientation map",
    "fibres": "Fibres",
    "epidermis": "Epidermis",
}
