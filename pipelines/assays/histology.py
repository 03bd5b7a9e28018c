"""One histology image in, one record out: collagen, orientation, fibres and epidermis.

The batch calls :func:`analyze_histology` with the decoded float RGB image, the stain and scale from
the manifest; whole slides go through :mod:`pipelines.assays.slide`, which uses the same options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from pipelines.config import collagen_kwargs, histology_options
from pipelines.record import ImageResult
from texture.collagen import CollagenAnalysis, analyze_collagen
from texture.measurement import check_mask, check_rgb
from texture.measurement import check_scale as validate_scale

__all__ = ["analyze_histology", "block_mean"]


#: Longest side of the overlays; larger images get block-mean reduced overlays.
OVERLAY_MAX_SIDE_PX = 2048

EPIDERMIS_COLUMNS = (
    "epidermis_thickness_mean_um",
    "epidermis_thickness_mean_px",
    "epidermis_thickness_sd_um",
    "epidermis_thickness_sd_px",
    "epidermis_interdigitation_index",
)


def _wants_epidermis(opts: Mapping[str, Any], stain: str) -> bool:
    # Only H&E reliably shows the epidermis as a haematoxylin-rich band; elsewhere ask for it.
    if opts["epidermis"] == "auto":
        return stain == "he"
    return bool(opts["epidermis"])


def analyze_histology(
    rgb: np.ndarray,
    *,
    stain: str,
    px_per_mm: float | None,
    options: Mapping[str, Any] | None = None,
) -> ImageResult:
    """Collagen, orientation, fibre and epidermis metrics of one stained section.

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], shape (rows, cols, 3). SHG images: grey replicated to RGB, or a
        grey (rows, cols) array.
    stain : str
        ``psr``, ``masson``, ``masson_green``, ``he``, ``shg`` or ``custom`` (with
        ``options['stain_vectors']``); see :mod:`texture.collagen`.
    px_per_mm : float or None
        Scale (0.5 µm/px is 2000 px/mm). Without it µm columns are NaN and ``_px`` twins carry
        the values, and the µm options fall back to their px counterparts.
    options : mapping, optional
        ``orientation_scale_um`` (4.0): structure-tensor window (Gaussian sigma) in µm;
        ``orientation_scale_px`` (4.0): the same when the scale is unknown;
        ``threshold`` (None = automatic Otsu): collagen threshold in OD units (SHG: grey 0-1);
        ``stain_vectors`` (None): 2 or 3 RGB optical-density vectors for a custom stain, with
        ``collagen_index`` (0) naming the collagen dye;
        ``tissue_od_threshold`` (0.1): glass versus tissue;
        ``fibres`` (True): trace fibres (slowest step);
        ``fibre_min_length_um`` (8.0): shorter skeleton pieces are not fibres;
        ``epidermis`` ('auto' = only for H&E, True, False): find the epidermis, report its
        thickness and measure collagen in the dermis beneath it;
        ``epidermis_options`` (None): keyword arguments for
        :func:`texture.epidermis.measure_epidermis`;
        ``roi`` (None): boolean mask (rows, cols) of the region to measure (e.g. a manifest
        polygon); collagen is measured inside it (and beneath the epidermis when one is found),
        the epidermis is looked for in the whole image;
        ``glcm_features`` (the four of the photo columns; empty for none) and ``glcm_levels`` (32):
        IBSI GLCM texture of the collagen channel inside the measured tissue, discretised like the
        photo ``glcm_*`` columns (robust 0.5-99.5 percentile range, see
        :func:`texture.skin_glcm.glcm_columns`).

    Returns
    -------
    ImageResult
        ``metrics``: collagen_area_fraction, collagen_orientation_deg, collagen_coherency,
        collagen_alignment, fibre_count, fibre_length_mean_um/_px, fibre_width_mean_um/_px,
        fibre_straightness_mean, fibre_branch_point_count, fibre_branch_points_per_mm2,
        epidermis_thickness_mean_um/_px, epidermis_thickness_sd_um/_px,
        epidermis_interdigitation_index, tissue_area_mm2/_px, collagen_threshold;
        ``overlays``: ``collagen``, ``orientation``, ``fibres``, ``epidermis``;
        ``tables``: ``orientations`` (``bin_start_deg``, ``fraction``; 10 degree bins).
    """
    if stain == "shg" and np.ndim(rgb) == 2:  # microscopes save SHG as a single grey channel
        rgb = np.repeat(np.asarray(rgb)[..., None], 3, axis=2)
    rgb = check_rgb(rgb, name="rgb")
    px_per_mm = validate_scale(px_per_mm)
    opts = histology_options(options)
    warnings: list[str] = []

    dermis = None
    epidermis_metrics = {k: float("nan") for k in EPIDERMIS_COLUMNS}
    epidermis_mask = None
    if _wants_epidermis(opts, stain):
        from texture.epidermis import measure_epidermis

        epi = measure_epidermis(
            rgb, px_per_mm=px_per_mm, stain=stain, **dict(opts["epidermis_options"] or {})
        )
        epidermis_metrics.update({k: epi.metrics[k] for k in EPIDERMIS_COLUMNS})
        if epi.labels is not None and np.any(epi.labels == 1):
            epidermis_mask = epi.labels == 1
            dermis = epi.labels == 2
        else:
            warnings.append("no epidermis found: collagen measured over all tissue")

    region = dermis
    if opts["roi"] is not None:
        roi = check_mask(opts["roi"], rgb.shape[:2], name="roi")
        if not roi.any():
            raise ValueError("roi is empty: no pixel to measure")
        region = roi if region is None else (region & roi)
    result = analyze_collagen(rgb, px_per_mm=px_per_mm, mask=region, **collagen_kwargs(opts, stain=stain))
    if result.sums.tissue_px == 0:
        raise ValueError("no tissue found (the image reads as glass); check the stain or tissue_od_threshold")
    metrics: dict[str, Any] = result.sums.metrics(px_per_mm)
    metrics["collagen_threshold"] = result.threshold
    texture_region = result.tissue if region is None else (result.tissue & region)
    if opts["glcm_features"] and texture_region.any():
        from texture.skin_glcm import glcm_columns

        metrics.update(
            glcm_columns(
                result.channel.astype(np.float32),
                texture_region,
                levels=int(opts["glcm_levels"]),
                features=tuple(opts["glcm_features"]),
            )
        )
    metrics.update(epidermis_metrics)
    if result.sums.collagen_px == 0:
        warnings.append("no collagen above the threshold: orientation metrics are undefined")

    # Overlays are for the report (which shows them at most 1024 px wide): float32, and reduced
    # by whole-pixel block means when the image is large, one at a time to bound memory.
    factor = max(1, -(-max(rgb.shape[:2]) // OVERLAY_MAX_SIDE_PX))
    overlays = {
        "collagen": block_mean(collagen_overlay(rgb, result), factor),
        "orientation": block_mean(_orientation(result), factor),
        "fibres": block_mean(fibre_overlay(result), factor),
        "epidermis": block_mean(epidermis_overlay(rgb, epidermis_mask), factor),
    }
    return ImageResult(
        metrics=metrics,
        overlays=overlays,
        tables={"orientations": result.sums.orientation_table()},
        warnings=warnings,
    )


def _orientation(result: CollagenAnalysis) -> np.ndarray:
    return result.orientation_overlay()


def block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """float32 mean over factor x factor blocks (edge blocks padded by repetition)."""
    a = np.asarray(a, dtype=np.float32)
    if factor == 1:
        return a
    rows, cols = a.shape[:2]
    if rows % factor or cols % factor:
        pad = [(0, (-rows) % factor), (0, (-cols) % factor)] + [(0, 0)] * (a.ndim - 2)
        a = np.pad(a, pad, mode="edge")
    # Sum of the factor^2 strided sub-images: ~10x faster than a mean over the reshaped block
    # axes (a strided reduction), same values to float32 rounding.
    out = a[::factor, ::factor].copy()
    for i in range(factor):
        for j in range(factor):
            if i or j:
                out += a[i::factor, j::factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


def collagen_overlay(rgb: np.ndarray, result: CollagenAnalysis) -> np.ndarray:
    """The image in grey, collagen painted orange, glass (non-tissue) left white."""
    out = np.empty(rgb.shape, dtype=np.float32)  # the report's precision; the sums stay float64
    out[:] = 0.35 + 0.5 * rgb.mean(axis=2, keepdims=True)
    out[~result.tissue] = 1.0
    out[result.mask] = (1.0, 0.55, 0.0)
    return out


def fibre_overlay(result: CollagenAnalysis) -> np.ndarray:
    """Fibre skeletons (white, thickened by a pixel) and branch points (red) on black."""
    shape = result.mask.shape
    out = np.zeros((*shape, 3), dtype=np.float32)
    out[result.mask] = 0.15
    if result.fibres is None:
        return out
    skel = cv2.dilate(result.fibres.skeleton.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out[skel] = 1.0
    for r, c in np.round(result.fibres.branch_points_rc).astype(int):
        out[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3] = (1.0, 0.1, 0.1)
    return out


def epidermis_overlay(rgb: np.ndarray, epidermis: np.ndarray | None) -> np.ndarray:
    """The image with the epidermis outlined in cyan (unchanged when none was found)."""
    out = np.array(rgb, dtype=np.float32, copy=True)
    if epidermis is None:
        return out
    edge = epidermis & ~ndi.binary_erosion(epidermis, structure=np.ones((3, 3)), iterations=2)
    out[edge] = (0.0, 0.9, 0.9)
    return out
