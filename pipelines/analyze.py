"""One image in, one flat record out: decode once, pick the measurements for the modality.

The record holds the identity columns of ``metrics.csv`` followed by the metric columns. Whatever fails is
raised as an exception carrying the ``stage`` at which it failed, so the batch can write an ``errors.csv``
row and carry on.

A follow-up photo with a baseline reference is measured on the skin both photos show (the common region,
:mod:`pipelines.assays.alignment`) in its own pixels, and the baseline is measured again on that region:
those values leave as the extra table ``paired_baseline`` (:data:`PAIRED_BASELINE_TABLE`), which
:func:`pipelines.tables.changes.changes_table` uses as the follow-up's baseline; the record itself keeps
the follow-up's own values (:mod:`pipelines.tables.pairing`).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipelines.config import Settings, with_batch
from pipelines.io.decode import load_image, read_header
from pipelines.io.files import atomic_write
from pipelines.io.metadata import ImageItem, MetadataError
from pipelines.io.scale import scale_problem
from pipelines.record import OVERLAY_MAX_SIDE_PX, ImageResult, overlay_dir_for
from texture.roi import polygon_mask

__all__ = ["AnalysisError", "Outcome", "Reference", "analyze_item"]


class AnalysisError(Exception):
    """An image could not be analysed; ``stage`` says where (decode, metadata, roi, measure, ...)."""

    def __init__(self, stage: str, error: BaseException | str):
        self.stage = stage
        self.error_type = type(error).__name__ if isinstance(error, BaseException) else "Error"
        self.message = str(error)
        super().__init__(f"{stage}: {self.error_type}: {self.message}")

    def __reduce__(self):  # picklable across process and Dask boundaries
        return (_rebuild_analysis_error, (self.stage, self.error_type, self.message))


def _rebuild_analysis_error(stage: str, error_type: str, message: str) -> AnalysisError:
    err = AnalysisError(stage, message)
    err.error_type = error_type
    return err


@dataclass
class Reference:
    """What a follow-up photo is compared against: its subject/region baseline."""

    path: Path
    skin_l_star: float | None = None
    roi: str = ""  # the baseline's own ROI spec (manifest), relative to the input folder
    px_per_mm: float | None = None  # the baseline's scale from the manifest, when given


@dataclass
class Outcome:
    """The analysis of one image: its ``metrics.csv`` row, extra long tables, and warnings."""

    record: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Further metrics.csv rows of the same image (facial zones: ``region`` = zone name).
    extra_records: list[dict[str, Any]] = field(default_factory=list)


_POLYGON_RX = re.compile(r"^\s*-?\d+(\.\d+)?\s+-?\d+(\.\d+)?(\s*[,;]\s*-?\d+(\.\d+)?\s+-?\d+(\.\d+)?)+\s*$")


def is_polygon_spec(spec: str) -> bool:
    """True when an ROI spec is a polygon ``"x1 y1, x2 y2, ..."`` rather than a mask file name."""
    return bool(_POLYGON_RX.match(spec))


def roi_mask_from_spec(spec: str, shape: tuple[int, int], input_root: Path) -> np.ndarray | None:
    """A user ROI: a polygon ``"x1 y1, x2 y2, ..."`` in pixels (x right, y down) or a mask image path
    relative to the input folder (non-zero = inside). Empty spec: no user ROI."""
    spec = spec.strip()
    if not spec:
        return None
    if _POLYGON_RX.match(spec):
        xy = np.array([[float(v) for v in pair.split()] for pair in re.split(r"[,;]", spec)])
        if len(xy) < 3:
            raise ValueError("an ROI polygon needs at least 3 points")
        mask = polygon_mask(shape, xy)
    else:
        rel = Path(spec)
        path = input_root / rel
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"ROI mask {spec!r} lies outside the input folder")
        try:
            # The header first: a mask must match the image, so a 20000 x 20000 mask beside a 12 MP photo
            # is refused before it is decoded (masks are held to the image's own pixel limit this way).
            width, height = read_header(path)
            if (height, width) != tuple(shape):
                raise ValueError(f"ROI mask {spec!r} is {(width, height)} px, the image {shape[::-1]} px")
            with Image.open(path) as im:
                mask = np.asarray(im.convert("L")) > 0
        except ValueError as exc:
            if str(exc).startswith("ROI mask"):
                raise
            raise ValueError(f"ROI mask {spec!r} cannot be read as an image ({type(exc).__name__})") from None
        except OSError as exc:  # Pillow's message carries the absolute path: not ours
            raise ValueError(f"ROI mask {spec!r} cannot be read as an image ({type(exc).__name__})") from None
        if mask.shape != shape:
            raise ValueError(f"ROI mask {spec!r} is {mask.shape[::-1]} px, the image {shape[::-1]} px")
    if not mask.any():
        raise ValueError("the ROI is empty")
    return mask


def _save_overlay(image: np.ndarray, path: Path) -> None:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = (np.clip(arr[..., :3], 0, 1) * 255 + 0.5).astype(np.uint8)
    im = Image.fromarray(arr)
    im.thumbnail((OVERLAY_MAX_SIDE_PX, OVERLAY_MAX_SIDE_PX), Image.Resampling.LANCZOS)
    with atomic_write(path, "wb") as fh:
        im.save(fh, format="JPEG", quality=85)  # a fresh image: no EXIF, no GPS


def _identity(item: ImageItem, sha256: str, px_per_mm: float | None, shape: tuple[int, int], date: str):
    return {
        "file": item.file,
        "sha256": sha256,
        "subject": item.subject,
        "session": int(item.session),
        "date": date,
        "modality": item.modality,
        "region": item.region,
        "stain": item.stain,
        "px_per_mm": float(px_per_mm) if px_per_mm else float("nan"),
        "width_px": int(shape[1]),
        "height_px": int(shape[0]),
        "treatment": item.treatment,
    }


#: Exposure gains within this of 1 are not applied: 0.1 % of linear light is ~0.04 L*, below any metric's
#: resolution, and applying it would only add rounding (an identical copy must read exactly the same).
EXPOSURE_GAIN_TOLERANCE = 1e-3
#: Name of the per-follow-up table of paired baselines (``paired_baseline.csv``; module docstring).
PAIRED_BASELINE_TABLE = "paired_baseline"


@dataclass
class _PreparedPhoto:
    """A photo made comparable with its baseline (see :func:`_prepare_photo`)."""

    rgb: np.ndarray  # structure metrics are measured on this (own frame; exposure-normalised follow-up)
    roi: np.ndarray | None  # where to measure, in the photo's own frame
    columns: dict[str, Any]
    warnings: list[str]
    color_rgb: np.ndarray | None = None  # colour indices read here when it differs from rgb (as taken)
    aligned_rgb: np.ndarray | None = None  # the follow-up in the baseline's frame, for the report only
    paired: tuple[np.ndarray, np.ndarray, float | None] | None = None  # baseline rgb, region, px/mm
    # Baseline px per follow-up px (the registration's scale; 1 for an identical frame): turns a scale
    # found later for the follow-up (an iris) into the paired baseline's.
    base_scale_ratio: float = 1.0
    region: Any = None  # the pair's CommonRegion (pipelines.assays.alignment): maps zones between frames


def _prepare_photo(
    rgb: np.ndarray,
    settings: Settings,
    roi: np.ndarray | None,
    reference: Reference | None,
    px_per_mm: float | None,
    input_root: Path | None = None,
) -> _PreparedPhoto:
    """Make a follow-up photo comparable with its baseline before measuring it (the order and the
    reasons: :mod:`pipelines.assays.alignment`).

    Chart colour correction of both photos when a ColorChecker is found (``color_correction: auto``);
    registration of a follow-up to its baseline (``register``) and the common region of the two, in which
    the follow-up is measured in its own frame and the baseline measured again (``paired``); without a
    chart, exposure normalisation of the follow-up's **structure** image so that its median L* over the
    common region equals the baseline's; colour indices stay on the photo as taken (``color_rgb``).
    """
    from pipelines.assays.alignment import (
        COMMON_FRAME_MARGIN_MM,
        COMMON_SHARE_WARNING,
        align_to_baseline,
        common_region,
        correct_color,
    )
    from pipelines.assays.sticker import hide_sticker, sticker_step
    from texture.exposure import median_l_star, normalize_exposure
    from texture.measurement import ASSUMED_PX_PER_MM
    from texture.roi import polygon_mask, skin_mask

    warnings: list[str] = []
    columns: dict[str, Any] = {"color_correction": "none", "registration_error_px": float("nan")}
    use_chart = settings.color_correction == "auto"

    def corrected_roi(image: np.ndarray, user: np.ndarray | None, scale: float | None):
        # The chart is neither skin nor something to align on: keep it out of both.
        image, info = correct_color(image, detect_chart=use_chart)
        mask = skin_mask(image, px_per_mm=scale)
        if user is not None:
            mask &= user
        if info["chart_outline_xy"]:
            mask &= ~polygon_mask(image.shape, info["chart_outline_xy"])
        return image, info, mask

    # The photo's own skin mask is needed only to align it with a baseline (a baseline photo's assay finds
    # its skin itself): computed below, after the chart, from the same corrected image.
    rgb, info = correct_color(rgb, detect_chart=use_chart)
    if info["color_correction"] == "chart":
        columns.update(
            color_correction="chart",
            color_delta_e_before=info["color_delta_e_before"],
            color_delta_e_after=info["color_delta_e_after"],
        )
        chart_free = ~polygon_mask(rgb.shape, info["chart_outline_xy"])
        roi = chart_free if roi is None else (roi & chart_free)
    prepared = _PreparedPhoto(rgb=rgb, roi=roi, columns=columns, warnings=warnings)
    if reference is None:
        return prepared

    name = reference.path.name
    try:
        loaded = load_image(reference.path, max_pixels=settings.max_pixels)
        base_user = roi_mask_from_spec(
            reference.roi, loaded.rgb.shape[:2], input_root or reference.path.parent
        )
    except Exception as exc:  # the baseline's own row says why; this photo is still measured
        warnings.append(
            f"baseline {name} could not be read ({type(exc).__name__}): measured on its own ROI, "
            "without alignment, exposure normalisation or a paired baseline"
        )
        return prepared
    base_ppm = reference.px_per_mm or loaded.px_per_mm
    base_rgb = loaded.rgb
    base_sticker = sticker_step(base_rgb, settings.photo)  # its own sticker, wherever it sat then
    if base_sticker is not None and base_sticker.mask is not None:
        base_user = ~base_sticker.mask if base_user is None else base_user & ~base_sticker.mask
        base_rgb = hide_sticker(base_rgb, base_sticker.mask)
    baseline, base_info, base_roi = corrected_roi(base_rgb, base_user, base_ppm or px_per_mm)
    own_roi = skin_mask(rgb, px_per_mm=px_per_mm)
    if roi is not None:  # the user's ROI without the chart
        own_roi &= roi
    if not settings.register:
        return prepared
    if not base_roi.any() or not own_roi.any():
        warnings.append(f"no skin to align with baseline {name}: measured on its own ROI, without a pair")
        return prepared
    aligned = align_to_baseline(rgb, baseline, baseline_mask=base_roi, followup_mask=own_roi)
    if not aligned.success:
        warnings.append(f"not aligned to baseline {name}: {aligned.message}; measured without a pair")
        return prepared
    # A band along each photo's frame edge stays out: there one photo's measurement neighbourhood is cut
    # where the other shows real skin (COMMON_FRAME_MARGIN_MM).
    nominal = float(px_per_mm) if px_per_mm else ASSUMED_PX_PER_MM
    frame_margin = int(np.ceil(COMMON_FRAME_MARGIN_MM * nominal))
    region = common_region(base_roi, own_roi, aligned.registration, frame_margin_px=frame_margin)
    columns["registration_error_px"] = aligned.registration_error_px
    area = float(region.area_px)
    if base_ppm is None and px_per_mm:  # the baseline's scale from the follow-up's and the registration
        base_ppm = float(px_per_mm) * (1.0 if region.identity else aligned.registration.scale)
    columns.update(
        common_area_px=area,
        common_area_cm2=area / base_ppm**2 / 100.0 if base_ppm else float("nan"),
        common_baseline_fraction=region.baseline_fraction,
        common_followup_fraction=region.followup_fraction,
    )
    if area == 0 or not region.followup_mask.any():
        warnings.append(f"no common skin with baseline {name}: measured on its own ROI, without a pair")
        return prepared
    if min(region.baseline_fraction, region.followup_fraction) < COMMON_SHARE_WARNING:
        warnings.append(
            f"the common region with baseline {name} keeps {region.baseline_fraction:.0%} of the baseline's "
            f"ROI and {region.followup_fraction:.0%} of this photo's (below {COMMON_SHARE_WARNING:.0%}): "
            "changes describe the common skin only"
        )
    prepared.roi = region.followup_mask
    prepared.aligned_rgb = aligned.warped_rgb
    prepared.paired = (baseline, region.baseline_mask, base_ppm)
    prepared.base_scale_ratio = 1.0 if region.identity else float(aligned.registration.scale)
    prepared.region = region
    calibrated = info["color_correction"] == "chart" and base_info["color_correction"] == "chart"
    wants_exposure = settings.color_correction in ("auto", "exposure")
    if not calibrated and wants_exposure:
        try:
            target = median_l_star(baseline, mask=region.baseline_mask)
            normalised, gain = normalize_exposure(rgb, mask=region.followup_mask, reference_l_star=target)
        except ValueError as exc:  # an implausible gain: measure as captured, and say so
            warnings.append(f"exposure not normalised to baseline {name}: {exc}")
        else:
            columns.update(color_correction="exposure", exposure_gain=gain)
            if abs(gain - 1.0) > EXPOSURE_GAIN_TOLERANCE:
                prepared.color_rgb, prepared.rgb = rgb, normalised
    return prepared


def _measure_photo(rgb, item, settings, px_per_mm, roi, reference, input_root=None) -> ImageResult:
    from pipelines.assays.photo import analyze_photo
    from pipelines.assays.sticker import hide_sticker, sticker_step

    user_roi = roi
    # A configured calibration sticker gives the scale when none is given (pipelines.assays.sticker).
    # Like the iris's, its scale is applied after the alignment (the paired baseline's follows from it).
    # Whatever gives the scale, the sticker is not skin: left out and painted over.
    sticker = sticker_step(rgb, settings.photo)
    if sticker is not None and sticker.mask is not None:
        roi = ~sticker.mask if roi is None else roi & ~sticker.mask
        rgb = hide_sticker(rgb, sticker.mask)
    prepared = _prepare_photo(rgb, settings, roi, reference, px_per_mm, input_root)
    rgb, roi, columns, warnings = prepared.rgb, prepared.roi, prepared.columns, prepared.warnings
    if sticker is not None and sticker.warning and not px_per_mm:  # a given scale needs no sticker
        warnings.append(sticker.warning)
    found_ppm = sticker.px_per_mm if sticker is not None and not px_per_mm else None
    options = dict(settings.photo)
    if settings.glcm_levels is not None:
        options.setdefault("glcm_levels", settings.glcm_levels)
    if prepared.paired is not None:  # the common region already holds only skin, in both photos
        options["skin_mask"] = False
    face = None
    if user_roi is None:  # full-face photos: zones, iris scale, pose check (a user ROI always wins)
        from pipelines.assays.face import Pairing, full_face

        source = "given" if item.px_per_mm else "file"
        if found_ppm:
            source = "sticker"
        pairing = None
        if prepared.paired is not None:
            base_rgb, _, base_ppm = prepared.paired
            pairing = Pairing(
                base_rgb, prepared.region, base_ppm, prepared.base_scale_ratio, reference.path.name
            )
        face = full_face(
            rgb,
            px_per_mm=px_per_mm or found_ppm,
            source=source,
            uncertainty_pct=sticker.uncertainty_pct if found_ppm else None,
            options=options,
            measure=analyze_photo,
            within=roi,
            baseline_path=reference.path if reference is not None else None,
            max_pixels=settings.max_pixels,
            pairing=pairing,
            color_rgb=prepared.color_rgb,
        )
        px_per_mm = face.px_per_mm
        if prepared.paired is not None and prepared.paired[2] is None and px_per_mm:
            # No given scale: the follow-up's iris scale, carried through the registration, measures
            # the paired baseline too (otherwise the two would be read at different scales and even an
            # identical copy would change).
            base_rgb, base_region, _ = prepared.paired
            prepared.paired = (base_rgb, base_region, float(px_per_mm) * prepared.base_scale_ratio)
        columns.update(face.columns)
        warnings.extend(face.warnings)
    elif found_ppm:  # a user ROI: no face step; the sticker's scale as found
        px_per_mm = found_ppm
        columns.update(px_per_mm_source="sticker", px_per_mm_uncertainty_pct=sticker.uncertainty_pct)
        if prepared.paired is not None and prepared.paired[2] is None:
            base_rgb, base_region, _ = prepared.paired
            prepared.paired = (base_rgb, base_region, float(px_per_mm) * prepared.base_scale_ratio)
    result = analyze_photo(rgb, px_per_mm=px_per_mm, roi=roi, options=options, color_rgb=prepared.color_rgb)
    if prepared.paired is not None:
        # The baseline measured again on the same skin: this follow-up's baseline in changes.csv.
        base_rgb, base_region, base_ppm = prepared.paired
        base = analyze_photo(base_rgb, px_per_mm=base_ppm, roi=base_region, options=options)
        names = [k for k, v in base.metrics.items() if isinstance(v, (int, float, np.number))]
        zones = face.paired if face is not None else []  # the baseline per facial zone, same skin
        result.tables[PAIRED_BASELINE_TABLE] = {
            "region": [item.region] * len(names) + [r["region"] for r in zones],
            "metric": names + [r["metric"] for r in zones],
            "baseline_value": [float(base.metrics[k]) for k in names] + [r["baseline_value"] for r in zones],
            "baseline_file": [reference.path.name] * (len(names) + len(zones)),
        }
    result.metrics.update(columns)
    result.warnings.extend(warnings)
    if found_ppm and face is None:
        result.metrics["px_per_mm"] = float(px_per_mm)
    if face is not None:
        result.metrics["px_per_mm"] = float(px_per_mm) if px_per_mm else float("nan")
        result.rows.extend({**row, **{k: v for k, v in columns.items() if k not in row}} for row in face.rows)
        result.overlays.update(face.overlays)
    if prepared.aligned_rgb is not None:
        result.overlays["image"] = prepared.aligned_rgb  # the report shows the aligned photo
    elif columns["color_correction"] != "none":
        result.overlays.setdefault("image", rgb)  # the report shows the corrected photo
    return result


def _measure_histology(rgb, item, settings, px_per_mm, roi) -> ImageResult:
    from pipelines.assays.histology import analyze_histology

    # 'threshold: batch' / 'stain_vectors: estimate': the study-wide values the run computed.
    options = with_batch(settings.histology, settings.histology_batch.get(item.stain))
    return analyze_histology(rgb, stain=item.stain, px_per_mm=px_per_mm, options=options, roi=roi)


#: Smallest scale read from a file that is a microscope's (10 µm/px); photos carry 72-600 dpi.
MICROSCOPE_PX_PER_MM = 100.0


def infer_histology(rgb: np.ndarray, file_px_per_mm: float | None) -> tuple[str | None, str]:
    """Stain of an image that nothing labelled, when it is histology rather than a photo; and why.

    Histology when the image shows a stain colour signature (:func:`texture.stains.guess_stain`:
    no skin hue, the hue mix of H&E, PSR, Masson or SHG), or when its own metadata carry a microscope
    scale (at least :data:`MICROSCOPE_PX_PER_MM`, e.g. OME ``PhysicalSizeX`` in µm) and it shows no
    skin; without a signature such an image is taken as H&E, the commonest stain. None: a photo.
    """
    from texture.stains import guess_stain

    stain, shares = guess_stain(rgb)
    microscope = file_px_per_mm is not None and file_px_per_mm >= MICROSCOPE_PX_PER_MM
    if stain is not None:
        why = f"its colours match {stain.upper()} staining"
        if microscope:
            why += f" and it carries a microscope scale ({1000.0 / file_px_per_mm:.3g} µm/px)"
        return stain, why
    if microscope and shares["skin"] <= 0.10:
        return "he", (
            f"it carries a microscope scale ({1000.0 / file_px_per_mm:.3g} µm/px) and shows no skin; "
            "its stain is not recognised and is taken as H&E"
        )
    return None, ""


def _is_slide(item: ImageItem, settings: Settings) -> bool:
    """Histology TIFFs above ``settings.tile_above_pixels`` are analysed tile by tile in bounded memory;
    everything else is decoded whole (and refused above ``settings.max_pixels``)."""
    from pipelines.io.slides import OPENSLIDE_SUFFIXES

    if item.modality != "histology":
        return False
    suffix = item.path.suffix.lower()
    if suffix in OPENSLIDE_SUFFIXES:
        return True
    if suffix not in (".tif", ".tiff"):
        return False
    width, height = read_header(item.path)
    return width * height > settings.tile_above_pixels


def _measure_slide(item: ImageItem, settings: Settings) -> tuple[ImageResult, str, tuple[int, int], Any]:
    from pipelines.assays.slide import analyze_slide
    from pipelines.io.files import sha256_of_file
    from pipelines.io.slides import read_scale_px_per_mm

    width, height = read_header(item.path)
    px_per_mm = item.px_per_mm or read_scale_px_per_mm(item.path)
    result = analyze_slide(
        item.path,
        stain=item.stain,
        px_per_mm=px_per_mm,
        tile_px=settings.slide_tile_px,
        # Study-wide values given in the config apply to slides too (the run's batch pass skips them).
        options=with_batch(settings.histology, settings.histology_batch.get(item.stain)),
    )
    return result, sha256_of_file(item.path), (height, width), px_per_mm


def analyze_item(
    item: ImageItem,
    settings: Settings,
    *,
    out_dir: Path | None = None,
    input_root: Path | None = None,
    reference: Reference | None = None,
) -> Outcome:
    """Analyse one image; raises :class:`AnalysisError` with the failing stage.

    Parameters
    ----------
    item : ImageItem
        The file and its metadata.
    settings : Settings
        Run settings.
    out_dir : Path, optional
        When given, overlay images are written to ``OUT/overlays/<overlay_key>/<kind>.jpg`` for the report.
    input_root : Path, optional
        The input folder (ROI mask files are relative to it); default the image's folder.
    reference : Reference, optional
        The subject/region baseline photo, for alignment and exposure normalisation of follow-ups.
    """
    started = time.perf_counter()
    input_root = input_root or item.path.parent
    warnings = list(item.notes)
    loaded = None
    try:
        if not _is_slide(item, settings):
            loaded = load_image(item.path, max_pixels=settings.max_pixels)
    except MemoryError as exc:
        raise AnalysisError("decode", MemoryError("out of memory while decoding the image")) from exc
    except Exception as exc:
        raise AnalysisError("decode", exc) from exc

    if loaded is None:  # a whole slide: tile by tile, never fully in memory
        try:
            result, sha, shape, px_per_mm = _measure_slide(item, settings)
        except Exception as exc:
            raise AnalysisError("measure", exc) from exc
        rgb = None
        date = item.date
    else:
        rgb, sha, shape = loaded.rgb, loaded.sha256, loaded.rgb.shape[:2]
        px_per_mm = item.px_per_mm or loaded.px_per_mm
        date = item.date or (loaded.exif_datetime or "")
        try:
            roi = roi_mask_from_spec(item.roi, shape, input_root)
        except Exception as exc:
            raise AnalysisError("roi", exc) from exc
        if item.modality_inferred and item.modality == "photo":
            try:
                stain, why = infer_histology(rgb, loaded.px_per_mm)
            except Exception as exc:
                raise AnalysisError("measure", exc) from exc
            if stain is not None:
                item = dataclasses.replace(item, modality="histology", stain=stain)
                warnings.append(
                    f"analysed as histology (stain {stain}), not as a photo: {why}; "
                    "give modality and stain in a manifest to decide it yourself"
                )
        problem = None if settings.force_scale else scale_problem(px_per_mm, item.modality)
        if problem:  # now that the modality is known (pipelines.io.scale: the one plausibility rule)
            raise AnalysisError("metadata", ValueError(problem))
        try:
            if item.modality == "photo":
                result = _measure_photo(rgb, item, settings, px_per_mm, roi, reference, input_root)
            else:
                result = _measure_histology(rgb, item, settings, px_per_mm, roi)
        except MemoryError as exc:
            raise AnalysisError("measure", MemoryError("out of memory while measuring")) from exc
        except (ValueError, MetadataError) as exc:
            raise AnalysisError("measure", exc) from exc
        except Exception as exc:
            raise AnalysisError("measure", exc) from exc

    record = _identity(item, sha, px_per_mm, shape, date)
    record.update(result.metrics)
    if loaded is not None:  # which device profile the pixels were converted from (QC)
        record["icc_profile"] = loaded.icc_profile
    warnings.extend(result.warnings)
    if out_dir is not None and settings.overlays:
        target = overlay_dir_for(Path(out_dir), sha, item.file)
        try:
            if rgb is not None and "image" not in result.overlays:
                _save_overlay(rgb, target / "image.jpg")
            for kind, overlay in result.overlays.items():
                _save_overlay(overlay, target / f"{kind}.jpg")
        except OSError as exc:  # the message only: exc's own text carries the absolute path
            warnings.append(f"overlays not written: {exc.strerror or type(exc).__name__}")
    tables = {name: _long_rows(columns, record) for name, columns in result.tables.items() if columns}
    identity = _identity(item, sha, px_per_mm, shape, date)
    extra = [{**identity, "px_per_mm": record["px_per_mm"], **row} for row in result.rows]
    return Outcome(
        record=record,
        tables=tables,
        warnings=warnings,
        seconds=time.perf_counter() - started,
        extra_records=extra,
    )


def _long_rows(columns: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    """Column -> sequence table into rows, each prefixed with the image's identity."""
    ident = {k: record[k] for k in ("file", "subject", "session", "modality", "region", "stain")}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise AnalysisError("measure", ValueError("extra table columns differ in length"))
    n = lengths.pop()
    return [{**ident, **{k: _plain(v[i]) for k, v in columns.items()}} for i in range(n)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
