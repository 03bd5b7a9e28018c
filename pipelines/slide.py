"""Whole slides and other large images: tile-by-tile histology in bounded memory.

A slide is read one window at a time straight from its TIFF segments (tiles or strips, decoded by
tifffile/imagecodecs without zarr), so memory depends on ``tile_px``, not on the slide. Every
window carries ``overlap`` pixels of context on each side so the filters (stain smoothing, tissue
detection, structure tensor) see the same neighbourhood as in the whole image, and only the
window's interior is counted. The collagen sums of the interiors (tissue and collagen pixel
counts, structure tensors, doubled-angle vectors, histogram counts) are added: the slide's metrics
are exactly those of the whole image, not averages of per-tile values.

Passes: (1) the collagen-channel histogram of all tissue, for the automatic threshold (skipped
when ``threshold`` is given), and a small overview image; (2) the metrics. The epidermis, when
requested, is found on the overview (downsampled to at most ``overview_px`` per side) and its
dermis mask is scaled back up to restrict collagen, so tiled and whole-image results then agree
only to the overview's resolution. Fibres are traced per window and each fibre is counted by the
window holding its middle; fibres longer than the overlap are split at window borders.

``.svs``/``.ndpi``/``.mrxs``/... go through OpenSlide when it is installed (optional extra
``skintex[slide]``); ``.svs`` and ``.ndpi`` are TIFF-based and are otherwise read with tifffile
(memory then depends on the file's segment size: NDPI files that store a level as one JPEG strip
need OpenSlide to stay bounded).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.histology import (
    EPIDERMIS_COLUMNS,
    _wants_epidermis,
    block_mean,
    collagen_kwargs,
    histology_options,
)
from pipelines.record import ImageResult
from texture.collagen import CollagenSums, analyze_collagen
from texture.measurement import check_scale as validate_scale
from texture.orientation import orientation_overlay, tensor_orientation
from texture.stains import collagen_channel, stain_model
from texture.tissue import collagen_histogram, detect_tissue, threshold_from_histogram

__all__ = [
    "read_scale_px_per_mm",
    "is_large_image",
    "SlideReader",
    "open_slide",
    "analyze_slide",
]

OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif")
_TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".svs", ".ndpi", ".btf", ".tf8")
# Resolutions coarser than 10 µm/px are a writer's default (72 dpi), not a microscope scale.
_MIN_PLAUSIBLE_PX_PER_MM = 100.0
# Context for the pass-1 histogram: >= the 8 px radius of detect_tissue's 2 px Gaussian (truncated
# at 4 sigma) and the 2 px of the collagen channel's 0.5 px one.
_HISTOGRAM_MARGIN_PX = 16
_UNIT_TO_UM = {"nm": 1e-3, "µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}


def _is_tiff(path: Path) -> bool:
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
    if _is_tiff(path):
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
    if _is_tiff(path):
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
        if openslide is None and suffix in OPENSLIDE_SUFFIXES and not _is_tiff(self.path):
            raise ValueError(
                f"{self.path.name}: this slide format needs openslide (pip install skintex[slide])"
            )
        if openslide is not None:
            # Preferred for vendor formats: e.g. NDPI may store a level as one huge JPEG strip.
            self._slide = openslide.OpenSlide(str(self.path))
            cols, rows = self._slide.dimensions
            self.shape = (int(rows), int(cols))
        elif _is_tiff(self.path):
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


def _windows(shape: tuple[int, int], tile: int, overlap: int) -> Iterator[tuple]:
    """(read box, interior slices within the read window, interior box) for each tile."""
    rows, cols = shape
    for r in range(0, rows, tile):
        for c in range(0, cols, tile):
            r1, c1 = min(r + tile, rows), min(c + tile, cols)
            rr0, cc0 = max(r - overlap, 0), max(c - overlap, 0)
            rr1, cc1 = min(r1 + overlap, rows), min(c1 + overlap, cols)
            interior = (slice(r - rr0, r1 - rr0), slice(c - cc0, c1 - cc0))
            yield (rr0, rr1, cc0, cc1), interior, (r, r1, c, c1)


def analyze_slide(
    path: str | Path,
    *,
    stain: str,
    px_per_mm: float | None = None,
    tile_px: int = 2048,
    options: Mapping[str, Any] | None = None,
    overview_px: int = 2048,
) -> ImageResult:
    """Histology metrics of a large image computed tile by tile (same columns and options as
    :func:`pipelines.histology.analyze_histology`).

    Parameters
    ----------
    path : path
        Tiled/stripped TIFF or OME-TIFF (tifffile), ``.svs``/``.ndpi`` (tifffile, or OpenSlide when
        installed), other OpenSlide formats (OpenSlide needed), or any Pillow-readable image.
    stain, options :
        As for ``analyze_histology``.
    px_per_mm : float, optional
        Scale; read from the file (:func:`read_scale_px_per_mm`) when None.
    tile_px : int
        Interior size of a window; memory grows with (tile_px + 2 * overlap)^2.
    overview_px : int
        Longest side of the overview used for overlays and the epidermis.

    Returns
    -------
    ImageResult
        Metrics (plus ``slide_tiles``, ``width_px``-independent), overlays at overview
        resolution, and the orientation table.
    """
    if tile_px < 64:
        raise ValueError(f"tile_px must be at least 64, got {tile_px}")
    px_per_mm = validate_scale(px_per_mm)
    opts = histology_options(options)
    if opts["roi"] is not None:
        raise ValueError("a roi mask is not supported for whole slides (it would need the full image)")
    kwargs = collagen_kwargs(opts, stain=stain)
    model = stain_model(kwargs["stain"], vectors=kwargs["vectors"], collagen_index=kwargs["collagen_index"])
    warnings: list[str] = []
    if px_per_mm is None:
        px_per_mm = read_scale_px_per_mm(path)
        if px_per_mm is None:
            warnings.append("no scale in the file metadata: µm columns are NaN")

    sigma = kwargs["orientation_scale_px"]
    if px_per_mm:
        sigma = kwargs["orientation_scale_um"] * px_per_mm / 1000.0
    # Gaussian kernels reach 4 sigma; + Sobel, channel and tissue smoothing; fibres want more room.
    overlap = int(math.ceil(4.0 * max(sigma, 0.5) + 4.0 * 2.0 + 4))
    if kwargs["fibres"]:
        overlap = max(overlap, 64)

    with SlideReader(path) as reader:
        rows, cols = reader.shape
        factor = max(1, math.ceil(max(rows, cols) / overview_px))
        tile = max(factor, (tile_px // factor) * factor)  # interiors align with overview blocks
        windows = list(_windows((rows, cols), tile, overlap))
        ov_shape = (math.ceil(rows / factor), math.ceil(cols / factor))
        overview = np.zeros((*ov_shape, 3), dtype=np.float32)

        # Pass 1: pooled histogram for the automatic threshold, and the overview.
        hist = None
        for _, _, (ir0, ir1, ic0, ic1) in windows:
            # Only the channel and tissue smoothing need context here (radius 8 px), not the
            # whole filter overlap: a narrower margin gives the same interior values.
            r0, c0 = max(ir0 - _HISTOGRAM_MARGIN_PX, 0), max(ic0 - _HISTOGRAM_MARGIN_PX, 0)
            r1 = min(ir1 + _HISTOGRAM_MARGIN_PX, rows)
            c1 = min(ic1 + _HISTOGRAM_MARGIN_PX, cols)
            interior = (slice(ir0 - r0, ir1 - r0), slice(ic0 - c0, ic1 - c0))
            rgb = reader.read(r0, r1, c0, c1)
            inner = rgb[interior]
            overview[
                ir0 // factor : ir0 // factor + math.ceil(inner.shape[0] / factor),
                ic0 // factor : ic0 // factor + math.ceil(inner.shape[1] / factor),
            ] = block_mean(inner, factor)
            if kwargs["threshold"] is None:
                channel = collagen_channel(rgb, model)
                tissue = detect_tissue(rgb, model, od_threshold=kwargs["tissue_od_threshold"])
                h = collagen_histogram(channel[interior], tissue[interior], model)
                hist = h if hist is None else hist + h
            del rgb
        threshold = kwargs["threshold"]
        if threshold is None:
            threshold = threshold_from_histogram(hist, model)

        epidermis_metrics = {k: float("nan") for k in EPIDERMIS_COLUMNS}
        dermis_overview = None
        epidermis_overview = None
        if _wants_epidermis(opts, stain):
            from texture.epidermis import measure_epidermis

            epi = measure_epidermis(
                overview,
                px_per_mm=None if px_per_mm is None else px_per_mm / factor,
                stain=stain,
                **dict(opts["epidermis_options"] or {}),
            )
            for k in EPIDERMIS_COLUMNS:
                epidermis_metrics[k] = epi.metrics[k]
            for k in ("epidermis_thickness_mean_px", "epidermis_thickness_sd_px"):
                epidermis_metrics[k] = epi.metrics[k] * factor
            if epi.metrics["epidermis_found"]:
                dermis_overview = epi.labels == 2
                epidermis_overview = epi.labels == 1
            else:
                warnings.append("no epidermis found: collagen measured over all tissue")

        # Pass 2: metrics from exact sums over the window interiors.
        sums = CollagenSums()
        ov_collagen = np.zeros(ov_shape, dtype=np.float32)
        ov_tissue = np.zeros(ov_shape, dtype=np.float32)
        ov_orient = np.zeros((*ov_shape, 3), dtype=np.float32)
        ov_fibres = np.zeros(ov_shape, dtype=np.float32)
        run = dict(kwargs, threshold=threshold)
        for (r0, r1, c0, c1), interior, (ir0, _, ic0, _) in windows:
            rgb = reader.read(r0, r1, c0, c1)
            mask = None
            if dermis_overview is not None:
                rr = np.minimum(np.arange(r0, r1) // factor, ov_shape[0] - 1)
                cc = np.minimum(np.arange(c0, c1) // factor, ov_shape[1] - 1)
                mask = dermis_overview[np.ix_(rr, cc)]
            res = analyze_collagen(rgb, px_per_mm=px_per_mm, mask=mask, count_region=interior, **run)
            sums = sums + res.sums
            h = math.ceil((interior[0].stop - interior[0].start) / factor)
            w = math.ceil((interior[1].stop - interior[1].start) / factor)
            box = (slice(ir0 // factor, ir0 // factor + h), slice(ic0 // factor, ic0 // factor + w))
            ov_collagen[box] = block_mean(res.mask[interior], factor)
            ov_tissue[box] = block_mean(res.tissue[interior], factor)
            # Orientation overview: the collagen tensors summed per block, then angle/coherency.
            inside = res.mask[interior]
            block_t = [block_mean(t[interior] * inside, factor) for t in (res.jxx, res.jxy, res.jyy)]
            angle, coherency = tensor_orientation(*block_t, dtype=np.float32)
            frac = ov_collagen[box]
            ov_orient[box] = orientation_overlay(angle, coherency * np.clip(2.0 * frac, 0.0, 1.0))
            if res.fibres is not None:
                ov_fibres[box] = np.minimum(block_mean(res.fibres.skeleton[interior], factor) * factor, 1)
            del rgb, res

    if sums.tissue_px == 0:
        raise ValueError("no tissue found (the slide reads as glass); check the stain or tissue_od_threshold")
    metrics: dict[str, Any] = sums.metrics(px_per_mm)
    metrics["collagen_threshold"] = float(threshold)
    metrics.update(epidermis_metrics)
    metrics["slide_tiles"] = float(len(windows))
    metrics["slide_overview_factor"] = float(factor)

    # Overlays in float32 and in place: at overview_px = 2048 each RGB overlay is 48 MB.
    np.clip(overview, 0, 1, out=overview)
    collagen_ov = np.empty_like(overview)
    collagen_ov[:] = (0.35 + 0.5 * overview.mean(axis=2))[..., None]
    collagen_ov[ov_tissue < 0.5] = 1.0
    for k, colour in enumerate((1.0, 0.55, 0.0)):
        layer = collagen_ov[..., k]
        layer *= 1 - ov_collagen
        layer += ov_collagen * colour
    fibres_ov = np.repeat((0.15 * ov_collagen + 0.85 * ov_fibres)[..., None], 3, axis=2)
    del ov_collagen, ov_fibres, ov_tissue
    np.clip(fibres_ov, 0, 1, out=fibres_ov)
    np.clip(ov_orient, 0, 1, out=ov_orient)
    epidermis_ov = overview
    if epidermis_overview is not None:
        from scipy import ndimage as ndi

        edge = epidermis_overview & ~ndi.binary_erosion(epidermis_overview, iterations=2)
        epidermis_ov[edge] = (0.0, 0.9, 0.9)
    return ImageResult(
        metrics=metrics,
        overlays={
            "collagen": collagen_ov,
            "orientation": ov_orient,
            "fibres": fibres_ov,
            "epidermis": epidermis_ov,
        },
        tables={"orientations": sums.orientation_table()},
        warnings=warnings,
    )
