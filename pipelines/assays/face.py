"""Full-face photos in the photo assay: the face, a scale without a ruler, the pose and one row per zone.

Called by :func:`pipelines.analyze._measure_photo` when the user gave no ROI. In order:

1. **Whether to look for a face** (photo option ``face.zones``): ``"auto"`` (default) looks unless the
   photo is a close-up of known scale (its long side under ``face.min_field_mm``, 100 mm: no face fits);
   ``true`` always looks; ``false`` never does.
2. **Face and landmarks** (:func:`texture.face.detect_face`; dlib and its CC0 5-point model from the
   ``face`` extra). Without the extra, or without a face, the photo is measured on the whole-skin ROI as
   before and a warning says why.
3. **Scale**: a scale from the manifest, ``--px-per-mm`` or the file always wins, after a plausibility
   check against the face (:func:`texture.face.check_face_scale`: eyes 40-90 mm apart; an implausible
   scale fails the image before anything is measured). Without one, the iris gives it
   (:func:`texture.face.iris_scale`). A calibration sticker's scale (:mod:`pipelines.assays.sticker`)
   comes before the iris and gets the same check, but is dropped with a warning when it fails it.
   ``px_per_mm_source`` (``given``, ``file``, ``sticker``, ``iris``, ``none``) and
   ``px_per_mm_uncertainty_pct`` (sticker, iris: one SD in %, else NaN) are recorded per image.
4. **Pose**: ``face_yaw_deg``, ``face_pitch_deg``, ``face_roll_deg`` (:func:`texture.face.estimate_pose`);
   a follow-up whose yaw or pitch differs from its baseline's by more than ``face.pose_limit_deg``
   (default :data:`texture.face.POSE_LIMIT_DEG`, 5 deg) gets a warning row.
5. **Zones** (:func:`texture.zones.face_zones`): each visible zone is measured as its own row of
   ``metrics.csv`` (``region`` = zone name) with every photo metric plus the red-area columns
   (:func:`texture.redness.measure_red_areas`); the photo's own row keeps the whole skin. A ``zones``
   overlay shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pipelines.config import face_options
from pipelines.io.decode import load_image
from texture.face import (
    Face,
    Pose,
    check_face_scale,
    detect_face,
    estimate_pose,
    face_support,
    iris_scale,
    pose_warning,
)
from texture.redness import measure_red_areas
from texture.zones import FaceZones, face_zones, zone_overlay

__all__ = [
    "FaceStep",
    "FullFace",
    "full_face",
    "find_face",
    "Pairing",
    "paired_zone_rows",
    "zone_rows",
    "zones_thumbnail",
]

_THUMB_PX = 1024


@dataclass
class FaceStep:
    """What :func:`find_face` decided for one photo."""

    px_per_mm: float | None
    columns: dict[str, Any]
    face: Face | None = None
    pose: Pose | None = None
    zones: FaceZones | None = None
    warnings: list[str] = field(default_factory=list)


def find_face(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None,
    source: str,
    options: Mapping[str, Any] | None,
    uncertainty_pct: float | None = None,
) -> FaceStep:
    """Steps 1-5 of the module docstring up to the zones (not their measurement).

    ``source`` says where ``px_per_mm`` came from (``given``, ``file``, ``sticker``; ``none`` when it is
    None), ``uncertainty_pct`` its one-SD uncertainty when known (a sticker's). Raises ``ValueError`` only
    for a given scale that this face makes implausible; a sticker's is dropped with a warning instead (a
    wrong object taken for the sticker), and the iris gives the scale.
    """
    opts = face_options(options)
    columns: dict[str, Any] = {
        "px_per_mm_source": source if px_per_mm else "none",
        "px_per_mm_uncertainty_pct": float(uncertainty_pct) if uncertainty_pct else float("nan"),
    }
    step = FaceStep(px_per_mm, columns)
    if opts["zones"] is False:
        return step
    if opts["zones"] == "auto" and px_per_mm and max(rgb.shape[:2]) / px_per_mm < opts["min_field_mm"]:
        return step  # a close-up of known scale: no face fits in it
    ok, why = face_support(opts["landmark_model"])
    if not ok:
        step.warnings.append(f"{why}; measured on the whole-skin ROI")
        return step
    found = detect_face(rgb, landmark_model=opts["landmark_model"])
    if not found:
        step.warnings.append(f"face zones not measured ({found.reason}); measured on the whole-skin ROI")
        return step
    face = found.face
    if px_per_mm and source == "sticker":
        try:
            check_face_scale(face, px_per_mm)
        except ValueError as exc:
            step.warnings.append(f"calibration sticker scale not used: {exc}")
            px_per_mm = step.px_per_mm = None
            columns.update(px_per_mm_source="none", px_per_mm_uncertainty_pct=float("nan"))
    if px_per_mm:
        check_face_scale(face, px_per_mm)  # refuses e.g. 5000 px/mm on a whole face
    else:
        scale = iris_scale(rgb, face)
        if scale.px_per_mm is not None:
            step.px_per_mm = scale.px_per_mm
            columns["px_per_mm_source"] = "iris"
            columns["px_per_mm_uncertainty_pct"] = scale.uncertainty_pct
        else:
            step.warnings.append(f"no scale from the iris ({scale.reason}): mm columns are NaN")
    pose = estimate_pose(face)
    columns.update(face_yaw_deg=pose.yaw_deg, face_pitch_deg=pose.pitch_deg, face_roll_deg=pose.roll_deg)
    zones = face_zones(rgb, face, pose=pose)
    for name, reason in zones.hidden.items():
        step.warnings.append(f"zone {name} not measured: {reason}")
    step.face, step.pose, step.zones = face, pose, zones
    return step


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + margin + 1)),
        slice(max(0, cols[0] - margin), min(mask.shape[1], cols[-1] + margin + 1)),
    )


def _measure_zone(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    px_per_mm: float | None,
    photo_options: Mapping[str, Any],
    red_options: Mapping[str, Any],
    measure,
    color_rgb: np.ndarray | None = None,
) -> dict[str, Any]:
    """One zone's metrics: the photo assay and the red areas on the zone's bounding box with the zone as
    ROI. Raises ``ValueError`` when the zone cannot be measured (too little skin)."""
    margin = max(2, int(round(0.02 * max(rgb.shape[:2]))))
    box = _box(mask, margin)
    roi = mask[box]
    structure = _flat_outside(rgb[box], roi)
    colour = structure if color_rgb is None else _flat_outside(color_rgb[box], roi)
    # The zone already holds only skin (the face's skin mask, hair and shadow removed): the assay must not
    # apply a skin mask of its own, decided on the crop alone, to a baseline and not to a registered
    # follow-up (whose common region is skin already), or the two would differ.
    result = measure(
        structure,
        px_per_mm=px_per_mm,
        roi=roi,
        options={**photo_options, "skin_mask": False},
        color_rgb=None if color_rgb is None else colour,
    )
    # Red areas are a colour measurement: read on the photo as taken, like the colour indices.
    red = measure_red_areas(colour, px_per_mm=px_per_mm, mask=roi, overlay=False, **dict(red_options))
    row = dict(result.metrics)
    row.update(red.metrics)
    if not px_per_mm:
        for key in ("red_lesion_density_per_cm2", "red_lesion_mean_diameter_mm"):
            row[key] = float("nan")
    return row


def _flat_outside(rgb: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """The crop with everything outside the zone set to the zone's median colour.

    Filters with a neighbourhood (line and spot detectors, illumination flattening) would otherwise read
    the eyes, brows, lips or hair next to a zone as edges of the skin inside it; and which of them a
    zone's bounding box holds depends on the photo's roll, so a turned copy of the same face would read
    differently. Flat skin outside the zone carries no structure into it.
    """
    out = np.array(rgb, dtype=np.float64 if rgb.dtype == np.float64 else np.float32, copy=True)
    if roi.any():
        out[~roi] = np.median(out[roi], axis=0)
    return out


def zone_rows(
    rgb: np.ndarray,
    zones: FaceZones,
    *,
    px_per_mm: float | None,
    photo_options: Mapping[str, Any],
    columns: Mapping[str, Any],
    measure,
    color_rgb: np.ndarray | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One metrics row per zone of an unpaired photo (a baseline, or a follow-up that could not be
    aligned): ``measure(rgb_crop, px_per_mm=, roi=, options=, color_rgb=)`` (the photo assay) on the
    zone's bounding box with the zone as ROI, plus the red-area columns and ``columns`` (scale source,
    pose). A zone that cannot be measured (too little skin) is left out with a warning."""
    opts = face_options(photo_options.get("face"))
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for name, mask in zones.masks.items():
        try:
            row = _measure_zone(
                rgb,
                mask,
                px_per_mm=px_per_mm,
                photo_options=photo_options,
                red_options=opts["red"],
                measure=measure,
                color_rgb=color_rgb,
            )
        except ValueError as exc:
            warnings.append(f"zone {name} not measured: {exc}")
            continue
        rows.append({**row, **columns, "region": name})
    return rows, warnings


@dataclass
class Pairing:
    """A registered follow-up's pairing with its baseline (:func:`pipelines.analyze._prepare_photo`).

    Attributes
    ----------
    baseline_rgb : ndarray (rows, cols, 3)
        The baseline photo (float sRGB in [0, 1]) in its own frame.
    region : CommonRegion
        The common region of the pair (:func:`pipelines.assays.alignment.common_region`), with the
        mapping between the two frames.
    baseline_px_per_mm : float or None
        The scale the baseline is measured at again (None: from the follow-up's, see ``scale_ratio``).
    scale_ratio : float
        Baseline pixels per follow-up pixel (the registration's scale; 1 for an identical frame).
    baseline_file : str
        The baseline's file name (for ``paired_baseline.csv``).
    """

    baseline_rgb: np.ndarray
    region: Any  # pipelines.assays.alignment.CommonRegion (same layer; kept untyped to stay decoupled)
    baseline_px_per_mm: float | None
    scale_ratio: float
    baseline_file: str


def paired_zone_rows(
    rgb: np.ndarray,
    own: FaceZones,
    baseline_zones: FaceZones,
    pairing: Pairing,
    *,
    px_per_mm: float | None,
    photo_options: Mapping[str, Any],
    columns: Mapping[str, Any],
    measure,
    color_rgb: np.ndarray | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], FaceZones, list[str]]:
    """Zone rows of a registered follow-up and its paired baseline, on the **same skin**.

    Each zone is the baseline's (its landmarks), limited to the common region and to what neither photo
    excludes (eyes, brows, lips, nostrils of either face), then mapped into the follow-up's frame by the
    registration; the follow-up is measured on that copy and the baseline measured again on the original.
    A zone is reported only when both photos show it. Landmarks found again on the follow-up would place
    each zone a few pixels differently (1 px of landmark error moves a cheek's border by ~2 % of a 43 px
    face), and that difference, not the skin's, would then be read as change.

    Returns
    -------
    rows : list of dict
        The follow-up's ``metrics.csv`` rows (``region`` = zone).
    paired : list of dict
        ``region``, ``metric``, ``baseline_value``, ``baseline_file``: the baseline re-measured per zone.
    zones : FaceZones
        The zones in the follow-up's frame (for the overlay).
    warnings : list of str
    """
    opts = face_options(photo_options.get("face"))
    region = pairing.region
    base_ppm = pairing.baseline_px_per_mm
    if base_ppm is None and px_per_mm:
        base_ppm = float(px_per_mm) * pairing.scale_ratio
    excluded = baseline_zones.excluded | region.to_baseline(own.excluded)
    rows: list[dict[str, Any]] = []
    paired: list[dict[str, Any]] = []
    masks: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for name in baseline_zones.polygons:
        # A zone hidden in this photo has its warning already (find_face); say so for the baseline's too.
        if name in baseline_zones.hidden and name not in own.hidden:
            warnings.append(f"zone {name} not measured: {baseline_zones.hidden[name]} in the baseline")
        if name not in baseline_zones.masks or name not in own.masks:
            continue
        base_mask = baseline_zones.masks[name] & region.baseline_mask & ~excluded
        follow_mask = region.to_followup(base_mask)
        if not follow_mask.any() or not base_mask.any():
            warnings.append(f"zone {name} not measured: outside the overlap with the baseline")
            continue
        try:
            row = _measure_zone(
                rgb,
                follow_mask,
                px_per_mm=px_per_mm,
                photo_options=photo_options,
                red_options=opts["red"],
                measure=measure,
                color_rgb=color_rgb,
            )
            base = _measure_zone(
                pairing.baseline_rgb,
                base_mask,
                px_per_mm=base_ppm,
                photo_options=photo_options,
                red_options=opts["red"],
                measure=measure,
            )
        except ValueError as exc:
            warnings.append(f"zone {name} not measured: {exc}")
            continue
        rows.append({**row, **columns, "region": name})
        masks[name] = follow_mask
        paired.extend(
            {"region": name, "metric": k, "baseline_value": float(v), "baseline_file": pairing.baseline_file}
            for k, v in base.items()
            if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        )
    polygons = {k: _to_followup_points(v, region) for k, v in baseline_zones.polygons.items()}
    zones = FaceZones(masks, polygons, own.excluded, dict(own.hidden), own.pose)
    return rows, paired, zones, warnings


def _to_followup_points(points_xy: np.ndarray, region) -> np.ndarray:
    """Baseline-frame points (x, y) in the follow-up's frame (the inverse of the registration)."""
    pts = np.asarray(points_xy, dtype=np.float64)
    if region.identity or region.matrix is None:
        return pts.copy()
    inverse = cv2.invertAffineTransform(region.matrix)
    return pts @ inverse[:, :2].T + inverse[:, 2]


def zones_thumbnail(rgb: np.ndarray, zones: FaceZones) -> np.ndarray:
    """The zone overlay at most ~1024 px on its long side (the report's size), cheap on 12 MP photos."""
    shape = rgb.shape[:2]
    factor = max(1.0, max(shape) / _THUMB_PX)
    if factor == 1.0:
        return zone_overlay(rgb, zones)
    size = (max(1, round(shape[1] / factor)), max(1, round(shape[0] / factor)))
    small = np.clip(cv2.resize(np.asarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA), 0, 1)

    def shrink(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0

    small_zones = FaceZones(
        masks={k: shrink(v) for k, v in zones.masks.items()},
        polygons={k: v / factor for k, v in zones.polygons.items()},
        excluded=shrink(zones.excluded),
        hidden=dict(zones.hidden),
        pose=zones.pose,
    )
    return zone_overlay(small, small_zones)


@dataclass
class FullFace:
    """What the photo assay adds for a full-face photo (see the module docstring)."""

    px_per_mm: float | None
    columns: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: The baseline re-measured per zone (registered follow-ups only): ``paired_baseline.csv`` rows.
    paired: list[dict[str, Any]] = field(default_factory=list)
    overlays: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def full_face(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None,
    source: str,
    options: Mapping[str, Any],
    measure,
    within: np.ndarray | None = None,
    baseline_path=None,
    max_pixels: int | None = None,
    pairing: Pairing | None = None,
    color_rgb: np.ndarray | None = None,
    uncertainty_pct: float | None = None,
) -> FullFace:
    """Face, scale, pose check against the baseline, zones and their rows.

    ``measure`` is the photo assay (:func:`pipelines.assays.photo.analyze_photo`); ``options`` the photo
    options (with ``face``); ``color_rgb`` the photo as taken when ``rgb`` is exposure-normalised.
    A registered follow-up (``pairing``) is measured in its baseline's zones, mapped by the registration,
    and its baseline again on the same zones (:func:`paired_zone_rows`); otherwise each zone is the photo's
    own, limited to ``within`` (the common region of a follow-up whose baseline shows no face). The pose is
    compared with the baseline's (``pairing`` or the photo at ``baseline_path``). Raises ``ValueError``
    only for a given scale this face makes implausible.
    """
    step = find_face(
        rgb, px_per_mm=px_per_mm, source=source, options=options.get("face"), uncertainty_pct=uncertainty_pct
    )
    out = FullFace(step.px_per_mm, dict(step.columns), warnings=list(step.warnings))
    if step.zones is None:
        return out
    face_opts = face_options(options.get("face"))
    baseline_zones = None
    if step.pose is not None and (pairing is not None or baseline_path is not None):
        try:
            if pairing is not None:
                baseline = pairing.baseline_rgb
            else:
                baseline = load_image(baseline_path, max_pixels=max_pixels).rgb
            found = detect_face(baseline, landmark_model=face_opts["landmark_model"])
            if not found:
                message = f"pose not compared with the baseline: {found.reason} in the baseline"
            else:
                base_pose = estimate_pose(found.face)
                message = pose_warning(step.pose, base_pose, limit_deg=face_opts["pose_limit_deg"])
                if pairing is not None:
                    baseline_zones = face_zones(baseline, found.face, pose=base_pose)
        except Exception as exc:  # the baseline's own row says what is wrong with it
            message = f"pose not compared with the baseline ({type(exc).__name__})"
        if message:
            out.warnings.append(message)
    common = dict(px_per_mm=step.px_per_mm, photo_options=options, columns=out.columns, measure=measure)
    if pairing is not None and baseline_zones is not None:
        rows, out.paired, shown, warnings = paired_zone_rows(
            rgb, step.zones, baseline_zones, pairing, color_rgb=color_rgb, **common
        )
    else:
        zones = step.zones
        if within is not None:
            zones = FaceZones(
                {k: m & within for k, m in zones.masks.items() if (m & within).any()},
                zones.polygons,
                zones.excluded,
                dict(zones.hidden),
                zones.pose,
            )
        rows, warnings = zone_rows(rgb, zones, color_rgb=color_rgb, **common)
        warnings += [
            f"zone {k} not measured: outside the overlap with the baseline"
            for k in step.zones.masks
            if k not in zones.masks
        ]
        shown = zones
    out.rows, out.overlays["zones"] = rows, zones_thumbnail(rgb, shown)
    out.warnings.extend(warnings)
    return out
