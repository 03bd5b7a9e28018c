"""Photo analysis: one float RGB facial photo in, one flat record of skin metrics out.

The colour space is converted once per image (:func:`photo_lab`) and the skin mask is combined with the
user's ROI once; every ``texture`` measurement receives both. Pores and GLCM texture are measured on the
full image (pores need every pixel); the skin mask, spots, pigment evenness, fine lines and roughness on
one copy reduced to 10 px/mm (their smallest detail, a 0.15 mm line, is still resolved), which keeps a
12-megapixel photo cheap. ITA, melanin and erythema indices are read on skin outside the pores, spots and
lines. Column names follow docs/architecture.md: ``roi_area_cm2``/``roi_area_px``, ``pore_*``, ``spot_*``,
``pigment_evenness`` (+ ``pigment_lightness_sd``), ``ita_deg``, ``ita_class``, ``melanin_index``,
``erythema_index``, ``wrinkle_*``, ``texture_roughness``, ``glcm_*``; each mm column has a px twin.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from pipelines.config import photo_options
from pipelines.record import ImageResult
from texture import color
from texture.measurement import ASSUMED_PX_PER_MM, check_mask, check_rgb, check_scale
from texture.pigment import color_sample_step, measure_skin_color, measure_spots
from texture.pores import measure_pores
from texture.roi import skin_mask
from texture.roughness import measure_roughness
from texture.skin_glcm import DEFAULT_BIN_WIDTH_L, DEFAULT_GLCM_FEATURES, glcm_columns
from texture.wrinkles import measure_wrinkles

__all__ = [
    "analyze_photo",
    "photo_lab",
]

#: Overlays are returned at most this large (the report shows thumbnails; full-size copies of a
#: 12-megapixel photo would cost more than the measurements).
OVERLAY_MAX_SIDE_PX = 1024
#: Spots, lines, roughness and the skin mask are measured on a copy reduced to this resolution (the
#: photo itself when it has less).
COARSE_PX_PER_MM = 10.0


def photo_lab(rgb: np.ndarray) -> np.ndarray:
    """Float32 CIELAB (D65) of a float sRGB image, for structure measurements on large photos.

    OpenCV's float conversion (not its rescaled 8-bit one): L* 0-100, a*, b* unscaled, ~10x faster than
    scikit-image's float64 ``rgb2lab``. It deviates from it by at most ~0.3 units (its gamma curve is
    tabulated), far below the pore, spot and line contrasts it is used for. Colour indices (ITA, melanin,
    erythema) are computed from the RGB values with :mod:`texture.color`, not from this.
    """
    return _lab32(check_rgb(rgb))


def _lab32(rgb: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    # Output allocated by numpy (huge pages for large arrays): page-faults less than OpenCV's own.
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab, dst=np.empty_like(rgb))


# Pixel columns of the coarse measurements and their dimension in px (length 1, per area -2, ...).
_COARSE_PX_COLUMNS = {
    "spot_mean_diameter_px": 1,
    "wrinkle_mean_width_px": 1,
    "wrinkle_length_px_per_mpx": -1,  # px of line per 10^6 px of skin: length / area
    "fine_line_mean_width_px": 1,
    "fine_line_length_px_per_mpx": -1,
    "line_mean_width_px": 1,
    "line_length_px_per_mpx": -1,
}


def _thumbnail_size(shape: tuple[int, int]) -> tuple[int, int]:
    factor = float(-(-max(shape) // OVERLAY_MAX_SIDE_PX))  # integer: fast block mean
    return max(1, round(shape[1] / factor)), max(1, round(shape[0] / factor))


def _overlay(base: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    """``base`` (already thumbnail-sized) with ``mask`` (any size; bool, or uint8 0/255) painted
    half-transparent."""
    size = (base.shape[1], base.shape[0])
    # Thin features (pores, lines) must survive the reduction: any hit in the cell counts.
    full = mask
    if mask.dtype == bool:
        full = np.multiply(np.ascontiguousarray(mask).view(np.uint8), np.uint8(255), dtype=np.uint8)
    small = cv2.resize(full, size, interpolation=cv2.INTER_AREA) > 0
    tint = 0.6 * np.asarray(colour, dtype=np.float32)
    out = base.copy()
    if np.count_nonzero(small) * 10 < small.size:  # few painted pixels: blend just those
        out[small] = 0.4 * out[small] + tint
    else:  # many: blend everywhere and copy the painted ones (same arithmetic, no gather/scatter)
        blend = 0.4 * base
        blend += tint
        cv2.copyTo(blend, small.view(np.uint8), out)
    return out


#: Photos smaller than this (zone crops, thumbnails) run their stages one after the other: a thread's
#: hand-over costs more than it saves there.
_THREADED_MIN_PIXELS = 1_000_000
_stage_pool: ThreadPoolExecutor | None = None
_stage_pool_size = 0


def _stage_threads(shape: tuple[int, int]) -> int:
    """How many threads run a photo's independent stages: OpenCV's own thread count (a process-pool
    worker sets it to 1, so that workers do not oversubscribe the cores), only in the main thread (a
    caller that runs photos in its own threads, like a Dask worker, already uses the cores) and only for
    photos of at least ``_THREADED_MIN_PIXELS``."""
    if (
        shape[0] * shape[1] < _THREADED_MIN_PIXELS
        or threading.current_thread() is not threading.main_thread()
    ):
        return 1
    return max(1, min(cv2.getNumThreads(), os.cpu_count() or 1, 4))


def _run_stages(stages: dict[str, Callable[[], Any]], *, threads: int) -> dict[str, Any]:
    """Call each of ``stages`` (independent, pure) and return their results by name; with ``threads`` > 1
    on a shared thread pool, submitted in the order given (put the longest first).

    The stages spend their time in OpenCV and numpy, which release the GIL, so on 2 cores a 12 MP photo's
    stages take ~0.6 of their serial time (benchmarks/photo.py). The results are the same objects the
    serial calls return: each stage only reads its inputs. An exception is raised from the first stage,
    in the order given, that raised one.
    """
    global _stage_pool, _stage_pool_size
    if threads <= 1:
        return {name: call() for name, call in stages.items()}
    if _stage_pool is None or _stage_pool_size < threads:
        if _stage_pool is not None:  # a smaller pool from an earlier photo: its idle threads end
            _stage_pool.shutdown(wait=False)
        _stage_pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="skintex-photo")
        _stage_pool_size = threads
    # The stages keep the cores busy themselves: OpenCV's own workers inside each stage would only contend
    # with them (measured 2-15 % faster on 2 cores with one OpenCV thread while the stages run). OpenCV's
    # setting is process-wide, so it is restored as soon as they are done.
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        futures = {name: _stage_pool.submit(call) for name, call in stages.items()}
        return {name: future.result() for name, future in futures.items()}
    finally:
        cv2.setNumThreads(previous)


def _nearest_rows_cols(small_shape: tuple[int, int], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Source row and column of each pixel of an INTER_NEAREST resize from ``small_shape`` to
    ``shape``, read off OpenCV itself (resizing index ramps), so that a few pixels of an enlarged mask
    can be read without enlarging all of it."""
    rows = np.arange(small_shape[0], dtype=np.int32)[:, None]
    cols = np.arange(small_shape[1], dtype=np.int32)[None, :]
    rows = cv2.resize(rows, (1, shape[0]), interpolation=cv2.INTER_NEAREST).reshape(-1)
    cols = cv2.resize(cols, (shape[1], 1), interpolation=cv2.INTER_NEAREST).reshape(-1)
    return rows, cols


def analyze_photo(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None,
    roi: np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
    color_rgb: np.ndarray | None = None,
) -> ImageResult:
    """All photo metrics of one facial photo.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1], upright.
    px_per_mm : float or None
        Scale. Without it the mm and cm² columns are NaN and their ``_px`` twins carry the values.
    roi : ndarray of bool, optional
        User region of interest; intersected with the automatic skin mask.
    options : mapping, optional
        ``glcm_bin_width`` (IBSI fixed bin width on L*, default 1 L* unit, :mod:`texture.skin_glcm`) or
        ``glcm_levels`` (the former fixed bin number over the image's own range; replaces the bin width);
        ``glcm_features`` (the four of docs/architecture.md; any ``glcm_<IBSI name>``);
        ``skin_mask`` (True: intersect the ROI with :func:`texture.roi.skin_mask`; False: the ROI alone);
        ``pores``, ``spots``, ``wrinkles``, ``roughness``: dicts of keyword options for
        :func:`texture.pores.measure_pores`, :func:`texture.pigment.measure_spots`,
        :func:`texture.wrinkles.measure_wrinkles`, :func:`texture.roughness.measure_roughness`.
        ``face`` and ``sticker`` are read by the pipeline before this assay (:mod:`pipelines.assays.face`,
        :mod:`pipelines.assays.sticker`: zones, and the scale of a photo without one).
    color_rgb : ndarray, shape (rows, cols, 3), optional
        The photo the colour indices (ITA, melanin, erythema) are read from, when structure is measured
        on a processed copy (a follow-up's exposure normalised to its baseline for the structure
        thresholds): colour is read on the photo as taken or chart-corrected, never normalised to
        another photo's skin, which would erase a real change of colour. Default ``rgb``.

    Returns
    -------
    ImageResult
        ``metrics``: numeric columns plus the string ``ita_class``. ITA, melanin and erythema indices are
        read on the skin outside pores, spots and lines. ``overlays``: ``roi``, ``pores``, ``spots``,
        ``wrinkles``, ``roughness`` as RGB float images at most 1024 px on the long side.
    """
    options = photo_options(options)
    rgb = check_rgb(rgb)
    px_per_mm = check_scale(px_per_mm)
    shape = rgb.shape[:2]
    user_roi = None if roi is None else check_mask(roi, shape, name="roi")
    if user_roi is not None and not user_roi.any():
        raise ValueError("the ROI is empty")
    lab = _lab32(rgb)  # rgb validated above
    color_src = rgb if color_rgb is None else check_rgb(color_rgb, name="color_rgb")
    if color_src.shape != rgb.shape:
        raise ValueError(f"color_rgb has shape {color_src.shape}, rgb {rgb.shape}: they must match")

    # Spots, lines, roughness and the skin mask are measured on one copy reduced to ~10 px/mm (their
    # smallest detail, a 0.15 mm line, is still resolved); pores and GLCM texture on the full image.
    # Without a scale the texture functions read their mm settings at ASSUMED_PX_PER_MM; the coarse copy
    # is made at that nominal scale too, and the mm columns are blanked below.
    scaled = px_per_mm is not None
    nominal = float(px_per_mm) if scaled else ASSUMED_PX_PER_MM
    factor = max(1.0, nominal / COARSE_PX_PER_MM)
    coarse_ppm = nominal / factor
    coarse_size = (max(1, round(shape[1] / factor)), max(1, round(shape[0] / factor)))
    lab_c = lab if factor == 1.0 else cv2.resize(lab, coarse_size, interpolation=cv2.INTER_AREA)

    def to_coarse(mask: np.ndarray) -> np.ndarray:
        if factor == 1.0:
            return mask
        small = np.ascontiguousarray(mask).view(np.uint8)
        return cv2.resize(small, coarse_size, interpolation=cv2.INTER_NEAREST) > 0

    def to_full(mask: np.ndarray) -> np.ndarray:
        if factor == 1.0:
            return mask
        small = np.ascontiguousarray(mask, dtype=np.uint8)  # 0/1
        # Nearest neighbour keeps the values 0/1, which are valid bools: no comparison pass.
        return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).view(bool)

    # Without a user ROI the region is the skin mask alone (no full-size AND with an all-True mask).
    use_skin_mask = options.get("skin_mask", True)
    if user_roi is None:
        region_c = np.ones(lab_c.shape[:2], dtype=bool)
        region = None if use_skin_mask else np.ones(shape, dtype=bool)
    else:
        region_c = to_coarse(user_roi)
        region = user_roi
    if use_skin_mask:
        skin_c = skin_mask(None, lab=lab_c, px_per_mm=coarse_ppm if scaled else None)
        if user_roi is None:
            region_c, region = skin_c, to_full(skin_c)
        else:
            region_c = region_c & skin_c
            region = user_roi & to_full(skin_c)
    if not region.any() or not region_c.any():
        raise ValueError("no skin found inside the ROI")

    def opts(name: str) -> dict[str, Any]:
        value = options.get(name, {})
        if not isinstance(value, Mapping):
            raise ValueError(f"photo option {name!r} must be a mapping of keyword options")
        return dict(value)

    features_list = tuple(options.get("glcm_features", DEFAULT_GLCM_FEATURES))
    # IBSI fixed bin width on L* by default (texture.skin_glcm: a smoother skin reads lower contrast);
    # glcm_levels, when given, is the former per-image fixed bin number.
    levels = options.get("glcm_levels")
    bin_width = None if levels is not None else float(options.get("glcm_bin_width", DEFAULT_BIN_WIDTH_L))
    levels = None if levels is None else int(levels)
    coarse = {"px_per_mm": coarse_ppm, "mask": region_c, "lab": lab_c}
    size = _thumbnail_size(shape)
    threads = _stage_threads(shape)
    # Independent stages, longest first (see _run_stages).
    stage = _run_stages(
        {
            "pores": lambda: measure_pores(None, px_per_mm=px_per_mm, mask=region, lab=lab, **opts("pores")),
            "wrinkles": lambda: measure_wrinkles(None, **coarse, **opts("wrinkles")),
            "spots": lambda: measure_spots(None, **coarse, **opts("spots")),
            "glcm": lambda: glcm_columns(
                lab[..., 0], region, bin_width=bin_width, levels=levels, features=features_list
            ),
            "roughness": lambda: measure_roughness(None, **coarse, **opts("roughness")),
            "base": lambda: cv2.resize(np.asarray(rgb, dtype=np.float32), size, interpolation=cv2.INTER_AREA),
        },
        threads=threads,
    )
    pores, wrinkles, spots, roughness = stage["pores"], stage["wrinkles"], stage["spots"], stage["roughness"]
    # Spots and lines found at the coarse scale are widened by one coarse pixel before being left
    # out of the skin colour, so that their soft edges do not tint it.
    coarse_features = cv2.dilate(
        ((spots.labels > 0) | (wrinkles.labels > 0)).astype(np.uint8), np.ones((3, 3), np.uint8)
    )
    pore_mask = pores.labels > 0  # once, full size (cv2.compare fails on a 1 x 1 array)

    # The skin colour reads a regular grid of pixels (measure_skin_color's own sampling step): the
    # features to leave out are only needed there, so they are read off at those pixels instead of
    # being enlarged to full size. Same pixels, same values.
    def skin_colour():
        step = color_sample_step(shape)
        grid = (slice(None, None, step), slice(None, None, step))
        if step > 1 and color_sample_step(region[grid].shape) == 1 and region[grid].any():
            features = pore_mask[grid].copy()
            if factor != 1.0:
                rows, cols = _nearest_rows_cols(coarse_features.shape, shape)
                features |= coarse_features[np.ix_(rows[::step], cols[::step])] > 0
            else:
                features |= coarse_features[grid] > 0
            return measure_skin_color(color_src[grid], mask=region[grid], exclude=features)
        features = pore_mask | to_full(coarse_features)
        return measure_skin_color(color_src, mask=region, exclude=features)

    base = stage["base"]
    late = _run_stages(
        {
            "colour": skin_colour,
            "roi": lambda: _overlay(base, ~region_c, (0.0, 0.0, 0.0)),
            "pores": lambda: _overlay(base, pore_mask, (0.0, 0.9, 0.9)),
            "spots": lambda: _overlay(base, spots.labels > 0, (0.9, 0.0, 0.9)),
            "wrinkles": lambda: _overlay(base, wrinkles.labels > 0, (1.0, 0.9, 0.0)),
            "roughness": lambda: cv2.resize(roughness.overlay, size, interpolation=cv2.INTER_AREA),
        },
        threads=threads,
    )
    colour = late.pop("colour")
    overlays = late

    metrics: dict[str, Any] = {}
    area_px = float(np.count_nonzero(region))
    metrics["roi_area_px"] = area_px
    metrics["roi_area_cm2"] = area_px / float(px_per_mm) ** 2 / 100.0 if px_per_mm else float("nan")
    metrics.update(pores.metrics)
    metrics.update(spots.metrics)
    ita = colour.metrics["ita_deg"]
    metrics["ita_deg"] = ita
    metrics["ita_class"] = color.ita_class(ita)
    metrics["melanin_index"] = colour.metrics["melanin_index"]
    metrics["erythema_index"] = colour.metrics["erythema_index"]
    metrics.update(wrinkles.metrics)
    metrics.update(roughness.metrics)
    # The coarse measurements' pixel columns are in coarse pixels: express them in the photo's.
    for column, power in _COARSE_PX_COLUMNS.items():
        if column in metrics:
            metrics[column] *= factor**power
    if not scaled:
        for column in metrics:
            if column.endswith(("_mm", "_cm2", "_mm_per_cm2", "_per_cm2")):
                metrics[column] = float("nan")

    metrics.update(stage["glcm"])

    # Why a colour index is undefined (ITA of a blue-cast or grey photo: texture.color) reaches errors.csv.
    warnings = [reason for reason in colour.notes.values() if reason]
    return ImageResult(metrics=metrics, overlays=overlays, warnings=warnings)
