"""One histology image in, one record out: collagen, orientation, fibres and epidermis.

The batch calls :func:`analyze_histology` with the decoded float RGB image, the stain and scale from
the manifest; whole slides go through :mod:`pipelines.assays.slide`, which uses the same options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from pipelines.config import collagen_kwargs, histology_options
from pipelines.record import ImageResult
from texture._compat import warn_deprecated
from texture.collagen import CollagenAnalysis, analyze_collagen
from texture.epidermis import EPIDERMIS_METRICS
from texture.measurement import check_mask, check_rgb
from texture.measurement import check_scale as validate_scale
from texture.orientation import MIN_COHERENCY, surface_angle_deg
from texture.stains import STAIN_PRESETS, measured_names

__all__ = ["analyze_histology", "block_mean", "study_batch"]


#: Longest side of the overlays; larger images get block-mean reduced overlays.
OVERLAY_MAX_SIDE_PX = 2048

#: Epidermis columns (viable and total thickness, stratum corneum, interdigitation).
EPIDERMIS_COLUMNS = EPIDERMIS_METRICS

#: Said with every H&E result: what its eosin_* columns are, and are not.
HE_WARNING = (
    "H&E does not separate collagen: eosin_* columns measure all eosin-stained tissue (collagen, "
    "cytoplasm, muscle, red cells); use picrosirius red, Masson's trichrome or SHG to measure collagen"
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
    roi: np.ndarray | None = None,
) -> ImageResult:
    """Collagen, orientation, fibre and epidermis metrics of one stained section.

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], shape (rows, cols, 3). SHG images: grey replicated to RGB, or a
        grey (rows, cols) array.
    stain : str
        ``psr``, ``masson``, ``masson_green``, ``he``, ``shg``, ``vvg`` / ``elastin``,
        ``psr_polarized`` or ``custom`` (with ``options['stain_vectors']``); see
        :mod:`texture.stains`. H&E's columns are named ``eosin_*`` (with a warning: H&E does not
        separate collagen), VVG's ``elastin_*``; ``psr_polarized`` gives the ``collagen_pol_*``
        hue fractions of :func:`texture.polarized.measure_polarized_psr` only.
    px_per_mm : float or None
        Scale (0.5 µm/px is 2000 px/mm). Without it µm columns are NaN and ``_px`` twins carry
        the values, and the µm options fall back to their px counterparts.
    options : mapping, optional
        ``orientation_scale_um`` (4.0): structure-tensor window (Gaussian sigma) in µm;
        ``orientation_scale_px`` (4.0): the same when the scale is unknown;
        ``threshold`` (None = automatic, ``threshold_method``): collagen threshold in OD units
        (SHG: grey 0-1); ``'batch'`` is replaced by the run with one threshold for the whole study
        (:func:`texture.tissue.batch_threshold`, recorded in ``run.json``);
        ``threshold_method`` ('half_max'): half the OD of a fully stained fibre, or 'otsu';
        ``stain_vectors`` (None): 2 or 3 RGB optical-density vectors for a custom stain, with
        ``collagen_index`` (0) naming the collagen dye; ``'estimate'``: vectors estimated once
        from the study's images by the run (Macenko; :func:`texture.stains.estimate_stain_vectors`);
        ``tissue_od_threshold`` (0.1): glass versus tissue;
        ``tissue`` (None): options of :func:`texture.tissue.detect_tissue` (pale tissue, holes,
        glass colour, pen marks, folds, SHG envelope);
        ``polarized`` (None): options of :func:`texture.polarized.measure_polarized_psr`;
        ``fibres`` (True): trace fibres (slowest step);
        ``fibre_min_length_um`` (15.0): shorter fibres are not reported (without a scale CT-FIRE's
        30 px; see :mod:`texture.fibres`);
        ``epidermis`` ('auto' = only for H&E, True, False): find the epidermis, report its
        thickness and measure collagen in the dermis beneath it;
        ``epidermis_options`` (None): keyword arguments for
        :func:`texture.epidermis.measure_epidermis`;
        ``roi``: deprecated, pass ``roi=`` instead;
        ``glcm_features`` (the four of the photo columns; empty for none) and ``glcm_levels`` (32):
        IBSI GLCM texture of the collagen channel inside the measured tissue, discretised like the
        photo ``glcm_*`` columns (robust 0.5-99.5 percentile range, see
        :func:`texture.skin_glcm.glcm_columns`).

    roi : ndarray of bool, optional
        The region to measure (rows, cols), e.g. a manifest polygon: collagen is measured inside it
        (and beneath the epidermis when one is found); the epidermis is looked for in the whole image.

    Returns
    -------
    ImageResult
        ``metrics``: collagen_area_fraction, collagen_orientation_deg (NaN below coherency 0.1,
        collagen_orientation_undefined = 1), collagen_coherency (OrientationJ's), collagen_pixel_alignment,
        collagen_orientation_to_surface_deg (when an epidermis is found), fibre_* (count, mean length,
        end-to-end length, width, straightness, angle, CurveAlign alignment coefficient, curvature,
        branch/end points; :mod:`texture.fibres`), matrix_* (TWOMBLI: high-density fraction, skeleton
        length per mm2, lacunarity, fractal dimension; :mod:`texture.matrix`),
        epidermis_thickness_mean_um/_px, epidermis_thickness_sd_um/_px,
        epidermis_interdigitation_index, tissue_area_mm2/_px, collagen_threshold;
        ``overlays``: ``collagen``, ``orientation``, ``fibres``, ``epidermis``;
        ``tables``: ``orientations`` (``bin_start_deg``, ``fraction``; 10 degree bins) and ``fibres``
        (one row per fibre, :func:`texture.fibres.fibre_table`; written as ``fibres.csv``).
    """
    if stain == "shg" and np.ndim(rgb) == 2:  # microscopes save SHG as a single grey channel
        rgb = np.repeat(np.asarray(rgb)[..., None], 3, axis=2)
    rgb = check_rgb(rgb, name="rgb")
    px_per_mm = validate_scale(px_per_mm)
    opts = histology_options(options)
    if roi is not None:
        opts["roi"] = roi
    elif opts["roi"] is not None:  # the 0.1 spelling: ROI as an option, unlike analyze_photo(roi=)
        warn_deprecated("options['roi']", "pass roi= as a keyword, as analyze_photo takes it")
    if stain == "psr_polarized":
        return _analyze_polarized(rgb, opts)
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
    # The skin surface runs along the epidermis: fibre orientation relative to it compares across biopsies.
    surface_deg = surface_angle_deg(epidermis_mask) if epidermis_mask is not None else None
    result = analyze_collagen(
        rgb, px_per_mm=px_per_mm, mask=region, surface_deg=surface_deg, **collagen_kwargs(opts, stain=stain)
    )
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
    elif metrics.get("collagen_orientation_undefined") == 1.0:
        warnings.append(
            f"collagen coherency {metrics['collagen_coherency']:.2f} is below {MIN_COHERENCY}: no dominant "
            "orientation (collagen_orientation_deg is NaN)"
        )
    if stain in STAIN_PRESETS:  # H&E measures eosin, VVG elastin: name the columns after it
        metrics = measured_names(metrics, STAIN_PRESETS[stain])
        target = STAIN_PRESETS[stain].target
        if target != "collagen":  # the warnings name what was measured
            warnings = [w.replace("collagen", target) for w in warnings]
        if target == "eosin":
            warnings.append(HE_WARNING)

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
        tables=result.tables(px_per_mm),  # orientations, and fibres (one row per fibre: fibres.csv)
        warnings=warnings,
    )


#: Images a stain-vector estimate reads (evenly spread over the batch) and pixels it pools.
BATCH_ESTIMATE_IMAGES = 12
BATCH_ESTIMATE_PIXELS = 400_000


def study_batch(
    images: Sequence[tuple[Path, float | None]],
    stain: str,
    options: Mapping[str, Any] | None,
    *,
    max_pixels: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Study-wide values for one stain: a Macenko stain-vector estimate and, when asked, one threshold.

    Parameters
    ----------
    images : sequence of (path, px_per_mm)
        Every (non-slide) image of that stain, with its manifest scale (or None: the file's own).
    stain : str
        The stain of the batch.
    options : mapping
        The histology options (``threshold: batch`` asks for the batch threshold,
        ``stain_vectors: estimate`` for the estimated vectors to be used).
    max_pixels : int, optional
        Decoding limit, as for the analysis.

    Returns
    -------
    entry : dict
        For ``Settings.histology_batch[stain]``: ``threshold`` and/or ``stain_vectors`` with
        ``collagen_index``, only what the options ask for.
    record : dict
        For ``run.json``: the estimate (always, for brightfield stains: vectors, pixels used, cosine
        to the preset), the threshold with its rule and the number of images it pools.

    Notes
    -----
    The estimate (:func:`texture.stains.estimate_stain_vectors`) reads at most
    :data:`BATCH_ESTIMATE_IMAGES` images; the threshold (:func:`texture.tissue.batch_threshold`,
    each image weighing the same) reads every image once more before the analysis, and pools the
    collagen channel over each image's whole tissue (not its dermis or ROI).
    """
    from pipelines.io.decode import load_image
    from texture.stains import collagen_channel, estimate_stain_vectors, stain_model
    from texture.tissue import batch_threshold, collagen_histogram, detect_tissue

    opts = histology_options(options)
    entry: dict[str, Any] = {}
    record: dict[str, Any] = {"images": len(images)}
    if stain not in STAIN_PRESETS or not images:
        return entry, record
    preset = STAIN_PRESETS[stain]
    model = preset
    if preset.collagen is not None and not isinstance(opts["stain_vectors"], (list, tuple)):
        picks = sorted(
            {int(round(i)) for i in np.linspace(0, len(images) - 1, min(len(images), BATCH_ESTIMATE_IMAGES))}
        )
        sample = []
        for i in picks:
            rgb = load_image(images[i][0], max_pixels=max_pixels).rgb
            step = max(1, int(np.ceil(np.sqrt(rgb.shape[0] * rgb.shape[1] / 1_000_000))))
            sample.append(rgb[::step, ::step])
        try:
            estimate = estimate_stain_vectors(sample, stain, max_pixels=BATCH_ESTIMATE_PIXELS)
        except ValueError as exc:
            record["stain_estimate"] = {"error": str(exc)}
        else:
            record["stain_estimate"] = estimate.record()
            record["stain_estimate"]["images_read"] = len(picks)
            record["stain_estimate"]["angle_to_preset_deg"] = [
                float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))) for c in estimate.cosine_to_preset
            ]
            if opts["stain_vectors"] == "estimate":
                entry["stain_vectors"] = [list(v) for v in estimate.model.vectors]
                entry["collagen_index"] = int(estimate.model.collagen)
                model = estimate.model
    record["stain_vectors_used"] = "estimate" if "stain_vectors" in entry else "preset or config"
    if opts["threshold"] == "batch":
        kwargs = collagen_kwargs(opts, stain=stain)
        if "stain_vectors" not in entry and kwargs["vectors"] is not None:
            model = stain_model("custom", vectors=kwargs["vectors"], collagen_index=kwargs["collagen_index"])
        histograms = []
        for path, scale in images:
            loaded = load_image(path, max_pixels=max_pixels)
            rgb = loaded.rgb
            channel = collagen_channel(rgb, model)
            tissue = detect_tissue(
                rgb,
                model,
                od_threshold=kwargs["tissue_od_threshold"],
                **{"px_per_mm": scale or loaded.px_per_mm, **kwargs["tissue_options"]},
            )
            histograms.append(collagen_histogram(channel, tissue, model))
        threshold = batch_threshold(histograms, model, method=kwargs["threshold_method"])
        entry["threshold"] = float(threshold)
        record.update(
            threshold=float(threshold),
            threshold_method=kwargs["threshold_method"],
            threshold_images=len(histograms),
            threshold_weight="image",
        )
    return entry, record


def _analyze_polarized(rgb: np.ndarray, opts: Mapping[str, Any]) -> ImageResult:
    """Picrosirius red under polarised light: hue fractions of the birefringent collagen
    (:func:`texture.polarized.measure_polarized_psr`), inside ``roi`` when given."""
    from texture.polarized import measure_polarized_psr

    roi = None
    if opts["roi"] is not None:
        roi = check_mask(opts["roi"], rgb.shape[:2], name="roi")
    m = measure_polarized_psr(rgb, mask=roi, **dict(opts["polarized"] or {}))
    warnings = []
    if m.metrics["collagen_pol_birefringent_px"] == 0:
        warnings.append("no birefringent collagen found: hue fractions are undefined")
    factor = max(1, -(-max(rgb.shape[:2]) // OVERLAY_MAX_SIDE_PX))
    return ImageResult(
        metrics=dict(m.metrics),
        overlays={"collagen": block_mean(m.overlay, factor)},
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
