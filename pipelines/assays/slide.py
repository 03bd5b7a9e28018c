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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.assays.histology import (
    EPIDERMIS_COLUMNS,
    HE_WARNING,
    _wants_epidermis,
    block_mean,
)
from pipelines.config import collagen_kwargs, histology_options
from pipelines.io.slides import SlideReader, read_scale_px_per_mm
from pipelines.record import ImageResult
from texture.collagen import CollagenSums, analyze_collagen
from texture.measurement import check_scale as validate_scale
from texture.orientation import orientation_overlay, surface_angle_deg, tensor_orientation
from texture.stains import STAIN_PRESETS, collagen_channel, measured_names, stain_model
from texture.tissue import collagen_histogram, detect_tissue, threshold_from_histogram

__all__ = ["analyze_slide"]

# Context for the pass-1 histogram: >= the 8 px radius of detect_tissue's 2 px Gaussian (truncated
# at 4 sigma) and the 2 px of the collagen channel's 0.5 px one.
_HISTOGRAM_MARGIN_PX = 16


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
    :func:`pipelines.assays.histology.analyze_histology`).

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
    if stain == "psr_polarized":
        raise ValueError("polarised-light PSR is not supported for whole slides yet: export a region")
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
        # Fibres need the 64 px reach of their local-background Gaussian (texture.collagen.fibre_mask)
        # and room to be linked through junctions and gaps: with 64 px, fibres linked across window
        # borders were split into 20 % more pieces than the whole image holds; with 96, 5 %.
        overlap = max(overlap, 96)

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
                # The same tissue rule as pass 2 (analyze_collagen); holes and pale tissue wider
                # than the margin are resolved per window (see texture.tissue.tissue_context_px).
                tissue = detect_tissue(
                    rgb,
                    model,
                    od_threshold=kwargs["tissue_od_threshold"],
                    **{"px_per_mm": px_per_mm, **kwargs["tissue_options"]},
                )
                h = collagen_histogram(channel[interior], tissue[interior], model)
                hist = h if hist is None else hist + h
            del rgb
        threshold = kwargs["threshold"]
        if threshold is None:
            threshold = threshold_from_histogram(hist, model, method=kwargs["threshold_method"])

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
            for k in EPIDERMIS_COLUMNS:
                if k.endswith("_px"):  # measured on the overview: back to slide pixels
                    epidermis_metrics[k] = epi.metrics[k] * factor
            if epi.metrics["epidermis_found"]:
                dermis_overview = epi.labels == 2
                epidermis_overview = epi.labels == 1
                # A direction is scale-free: the overview's epidermis gives the slide's surface direction.
                kwargs = dict(kwargs, surface_deg=surface_angle_deg(epidermis_overview))
            else:
                warnings.append("no epidermis found: collagen measured over all tissue")

        # Pass 2: metrics from exact sums over the window interiors.
        sums = CollagenSums()
        ov_collagen = np.zeros(ov_shape, dtype=np.float32)
        ov_tissue = np.zeros(ov_shape, dtype=np.float32)
        ov_orient = np.zeros((*ov_shape, 3), dtype=np.float32)
        ov_fibres = np.zeros(ov_shape, dtype=np.float32)
        run = dict(kwargs, threshold=threshold)
        fibre_rows: dict[str, list] = {}
        jobs = [(window, interior) for window, interior, _ in windows]
        common = {"run": run, "px_per_mm": px_per_mm, "factor": factor, "dermis_overview": dermis_overview}
        cluster_map = _cluster_map()
        if cluster_map is not None:  # a Dask worker: spread the windows over the cluster
            parts = cluster_map(str(path), jobs, **common)
        else:
            parts = (_measure_window(reader, job, **common) for job in jobs)
        # Summed in window order whatever ran them: the same metrics on any number of workers.
        for (_, _, (ir0, _, ic0, _)), part in zip(windows, parts, strict=True):
            sums = sums + part["sums"]
            h, w = part["collagen"].shape
            box = (slice(ir0 // factor, ir0 // factor + h), slice(ic0 // factor, ic0 // factor + w))
            ov_collagen[box] = part["collagen"]
            ov_tissue[box] = part["tissue"]
            # Orientation overview: the collagen tensors summed per block, then angle/coherency.
            angle, coherency = tensor_orientation(*part["tensors"], dtype=np.float32)
            frac = ov_collagen[box]
            ov_orient[box] = orientation_overlay(angle, coherency * np.clip(2.0 * frac, 0.0, 1.0))
            if part["fibres"] is not None:
                ov_fibres[box] = part["fibres"]
            for col, values in part["fibre_rows"].items():
                fibre_rows.setdefault(col, []).extend(values)
            del part

    if sums.tissue_px == 0:
        raise ValueError("no tissue found (the slide reads as glass); check the stain or tissue_od_threshold")
    metrics: dict[str, Any] = sums.metrics(px_per_mm)
    metrics["collagen_threshold"] = float(threshold)
    metrics.update(epidermis_metrics)
    metrics["slide_tiles"] = float(len(windows))
    metrics["slide_overview_factor"] = float(factor)
    if stain in STAIN_PRESETS:  # H&E measures eosin, VVG elastin: name the columns after it
        metrics = measured_names(metrics, STAIN_PRESETS[stain])
        if STAIN_PRESETS[stain].target == "eosin":
            warnings.append(HE_WARNING)

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
        tables=_slide_tables(sums, fibre_rows),
        warnings=warnings,
    )


def _window_mask(dermis_overview: np.ndarray | None, window: tuple, factor: int) -> np.ndarray | None:
    """The dermis mask of one read window, from the overview (None: no epidermis found)."""
    if dermis_overview is None:
        return None
    r0, r1, c0, c1 = window
    rr = np.minimum(np.arange(r0, r1) // factor, dermis_overview.shape[0] - 1)
    cc = np.minimum(np.arange(c0, c1) // factor, dermis_overview.shape[1] - 1)
    return dermis_overview[np.ix_(rr, cc)]


def _measure_window(
    reader: Any,
    job: tuple,
    *,
    run: dict,
    px_per_mm: float | None,
    factor: int,
    dermis_overview: np.ndarray | None,
) -> dict:
    """Pass 2 of one window: its collagen sums (interior only), overview blocks and fibre rows.

    Returns only what the slide keeps (sums and overview-sized blocks), so that a window measured
    on another machine sends back kilobytes, not the window.
    """
    (r0, r1, c0, c1), interior = job
    mask = _window_mask(dermis_overview, (r0, r1, c0, c1), factor)
    rgb = reader.read(r0, r1, c0, c1)
    res = analyze_collagen(rgb, px_per_mm=px_per_mm, mask=mask, count_region=interior, **run)
    del rgb
    inside = res.mask[interior]
    part = {
        "sums": res.sums,
        "collagen": block_mean(res.mask[interior], factor),
        "tissue": block_mean(res.tissue[interior], factor),
        "tensors": [block_mean(t[interior] * inside, factor) for t in (res.jxx, res.jxy, res.jyy)],
        "fibres": None,
        "fibre_rows": {},
    }
    if res.fibres is not None:
        part["fibres"] = np.minimum(block_mean(res.fibres.skeleton[interior], factor) * factor, 1)
        # The window's own fibres (centre in its interior), in slide coordinates.
        part["fibre_rows"] = res.tables(px_per_mm, offset_rc=(r0, c0))["fibres"]
    return part


def _measure_windows_from_file(path: str, jobs: list[tuple], **kwargs: Any) -> list[dict]:
    """:func:`_measure_window` for a batch of windows, the slide opened by the worker itself."""
    with SlideReader(path) as reader:
        return [_measure_window(reader, job, **kwargs) for job in jobs]


def _cluster_map():
    """When this slide runs as a task on a Dask worker, a function that measures windows as tasks
    on the whole cluster (each worker reads its windows from the slide's path, which must be on
    storage every worker sees); None otherwise (the windows run here, one after another)."""
    try:
        from distributed import get_worker, worker_client
    except ImportError:
        return None
    try:
        get_worker()
    except ValueError:
        return None

    def cluster_map(path: str, jobs: list[tuple], **kwargs: Any) -> list[dict]:
        # A few windows per task: enough tasks to keep every worker busy, few enough that the
        # scheduler's per-task overhead (~1 ms) and the slide's re-opening stay small.
        with worker_client() as client:
            n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
            size = max(1, math.ceil(len(jobs) / (4 * n_workers)))
            batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
            futures = [
                client.submit(_measure_windows_from_file, path, batch, pure=False, **kwargs)
                for batch in batches
            ]
            return [part for batch in client.gather(futures) for part in batch]

    return cluster_map


def _slide_tables(sums: CollagenSums, fibre_rows: dict[str, list]) -> dict[str, dict[str, list]]:
    """``orientations`` and, when fibres were traced, ``fibres`` numbered across the whole slide."""
    tables: dict[str, dict[str, list]] = {"orientations": sums.orientation_table()}
    if sums.fibres_measured:
        if fibre_rows:
            fibre_rows["fibre_id"] = list(range(1, len(fibre_rows["fibre_id"]) + 1))
        tables["fibres"] = fibre_rows
    return tables
