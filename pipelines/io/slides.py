"""Reading large images (whole slides) window by window, and their scale from metadata."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

__all__ = ["OPENSLIDE_SUFFIXES", "SlideReader", "open_slide", "read_scale_px_per_mm", "is_large_image"]


OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif")


_TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".svs", ".ndpi", ".btf", ".tf8")


# Resolutions coarser than 10 µm/px are a writer's default (72 dpi), not a microscope scale.
_MIN_PLAUSIBLE_PX_PER_MM = 100.0


_UNIT_TO_UM = {"nm": 1e-3, "µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}


def _has_tiff_suffix(path: Path) -> bool:
    return path.name.lower().endswith(_TIFF_SUFFIXES)


def read_scale_px_per_mm(path: str | Path) -> float | None:
    """Scale (px/mm) from a file's metadata, or None when it has none (or an implausible one).

    Looked up in order: OME-XML ``PhysicalSizeX`` (+ ``PhysicalSizeXUnit``, default µm), Aperio's
    ``MPP`` in the ImageDescription, OpenSlide's ``openslide.mpp-x`` (if installed, for non-TIFF
    slide formats), the TIFF ``XResolution``/``ResolutionUnit`` tags (inch or cm). Values coarser
    than 10 µm/px (e.g. a 72 dpi default) are ignored.
    """
    path = Path(path)
    scale = None
    if _has_tiff_suffix(path):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            scale = _ome_scale(tif.ome_metadata) if tif.is_ome else None
            page = tif.pages.first
            if scale is None:
                desc = page.description or ""
                m = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", desc)
                if m and float(m.group(1)) > 0:
                    scale = 1000.0 / float(m.group(1))
            if scale is None:
                scale = _tag_scale(page)
    elif path.suffix.lower() in OPENSLIDE_SUFFIXES:
        openslide = _import_openslide()
        if openslide is not None:
            with openslide.OpenSlide(str(path)) as slide:
                mpp = slide.properties.get("openslide.mpp-x")
                scale = 1000.0 / float(mpp) if mpp else None
    if scale is None or not np.isfinite(scale) or scale < _MIN_PLAUSIBLE_PX_PER_MM:
        return None
    return float(scale)


def _ome_scale(xml: str | None) -> float | None:
    if not xml:
        return None
    m = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', xml)
    if not m:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', xml)
    um = float(m.group(1)) * _UNIT_TO_UM.get(unit.group(1) if unit else "µm", float("nan"))
    return 1000.0 / um if um > 0 else None


def _tag_scale(page) -> float | None:
    tags = page.tags
    if "XResolution" not in tags:
        return None
    num, den = tags["XResolution"].value
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    if den == 0 or num == 0:
        return None
    per_unit = num / den
    if unit == 2:  # inch
        return per_unit / 25.4
    if unit == 3:  # cm
        return per_unit / 10.0
    return None


def _import_openslide():
    try:
        import openslide  # optional extra: skintex[slide]
    except ImportError:  # also raised when the OpenSlide C library is missing
        return None
    return openslide


def is_large_image(path: str | Path, *, max_pixels: int) -> bool:
    """True when the image (level 0) has more than ``max_pixels`` pixels, read from the header only."""
    rows, cols = _image_shape(Path(path))
    return rows * cols > max_pixels


def _image_shape(path: Path) -> tuple[int, int]:
    if _has_tiff_suffix(path):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.series[0].levels[0].keyframe
            return int(page.imagelength), int(page.imagewidth)
    if path.suffix.lower() in OPENSLIDE_SUFFIXES:
        openslide = _import_openslide()
        if openslide is None:
            raise ValueError(f"{path.name}: reading this slide format needs openslide (skintex[slide])")
        with openslide.OpenSlide(str(path)) as slide:
            cols, rows = slide.dimensions
            return int(rows), int(cols)
    from PIL import Image

    with Image.open(path) as im:
        cols, rows = im.size
        return int(rows), int(cols)


class SlideReader:
    """Reads windows of level 0 of an image as float RGB in [0, 1], in bounded memory.

    TIFF (tiled or stripped, contiguous samples, any codec tifffile/imagecodecs decode): only the
    segments under the window are read and decoded. OpenSlide formats: ``read_region``. Anything
    else: decoded once in full by Pillow (fine for the few-hundred-megapixel images that are not
    slides).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._tif = None
        self._slide = None
        self._array = None
        suffix = self.path.suffix.lower()
        openslide = _import_openslide() if suffix in OPENSLIDE_SUFFIXES else None
        if openslide is None and suffix in OPENSLIDE_SUFFIXES and not _has_tiff_suffix(self.path):
            raise ValueError(
                f"{self.path.name}: this slide format needs openslide (pip install skintex[slide])"
            )
        if openslide is not None:
            # Preferred for vendor formats: e.g. NDPI may store a level as one huge JPEG strip.
            self._slide = openslide.OpenSlide(str(self.path))
            cols, rows = self._slide.dimensions
            self.shape = (int(rows), int(cols))
        elif _has_tiff_suffix(self.path):
            import tifffile

            self._tif = tifffile.TiffFile(self.path)
            page = self._tif.series[0].levels[0].keyframe
            if page.planarconfig != 1 and page.samplesperpixel > 1:
                raise ValueError(f"{self.path.name}: planar (separate) TIFF samples are not supported")
            self._page = page
            self.shape = (int(page.imagelength), int(page.imagewidth))
            if page.is_tiled:
                self._seg = (int(page.tilelength), int(page.tilewidth))
            else:
                self._seg = (int(page.rowsperstrip or page.imagelength), int(page.imagewidth))
            self._seg = (min(self._seg[0], self.shape[0]), self._seg[1])
            self._grid = (
                math.ceil(self.shape[0] / self._seg[0]),
                math.ceil(self.shape[1] / self._seg[1]),
            )
            self._scale = 1.0 / np.iinfo(page.dtype).max if page.dtype.kind in "ui" else 1.0
        else:
            from PIL import Image

            with Image.open(self.path) as im:
                self._array = np.asarray(im.convert("RGB"))
            self.shape = self._array.shape[:2]

    def __enter__(self) -> SlideReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
        if self._slide is not None:
            self._slide.close()

    def read(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Float32 RGB of rows r0:r1, cols c0:c1 (clipped to the image)."""
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, self.shape[0]), min(c1, self.shape[1])
        if self._array is not None:
            return self._array[r0:r1, c0:c1].astype(np.float32) / 255.0
        if self._slide is not None:
            region = self._slide.read_region((c0, r0), 0, (c1 - c0, r1 - r0))
            return np.asarray(region.convert("RGB"), dtype=np.float32) / 255.0
        return self._read_tiff(r0, r1, c0, c1)

    def _read_tiff(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        page = self._page
        sh, sw = self._seg
        ny, nx = self._grid
        out = np.empty((r1 - r0, c1 - c0, 3), dtype=np.float32)
        indices = [
            ty * nx + tx
            for ty in range(r0 // sh, min((r1 - 1) // sh + 1, ny))
            for tx in range(c0 // sw, min((c1 - 1) // sw + 1, nx))
        ]
        offsets = [page.dataoffsets[i] for i in indices]
        counts = [page.databytecounts[i] for i in indices]
        fh = self._tif.filehandle
        for data, index in fh.read_segments(offsets, counts, indices=indices, sort=True):
            seg = page.decode(data, index, jpegtables=page.jpegtables)[0]
            seg = np.asarray(seg).reshape(seg.shape[-3], seg.shape[-2], -1)
            ty, tx = divmod(index, nx)
            top, left = ty * sh, tx * sw
            ra, rb = max(r0, top), min(r1, top + sh, self.shape[0])
            ca, cb = max(c0, left), min(c1, left + sw, self.shape[1])
            block = seg[ra - top : rb - top, ca - left : cb - left]
            if block.shape[2] == 1:
                block = np.repeat(block, 3, axis=2)
            out[ra - r0 : rb - r0, ca - c0 : cb - c0] = block[..., :3] * self._scale
        return out


def open_slide(path: str | Path) -> SlideReader:
    """A :class:`SlideReader` for ``path`` (use as a context manager)."""
    return SlideReader(path)
