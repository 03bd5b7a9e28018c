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
   (:func:`texture.face.iris_scale`). ``px_per_mm_source`` (``given``, ``file``, ``iris``, ``none``)
   and ``px_per_mm_uncertainty_pct`` (iris: one SD in %, else NaN) are recorded per image.
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
    "baseline_pose_warning",
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
    rgb: np.ndarray, *, px_per_mm: float | None, source: str, options: Mapping[str, Any] | None
) -> FaceStep:
    """Steps 1-5 of the module docstring up to the zones (not their measurement).

    ``source`` says where ``px_per_mm`` came from (``given``, ``file``; ``none`` when it is None).
    Raises ``ValueError`` only for a given scale that this face makes implausible.
    """
    opts = face_options(options)
    columns: dict[str, Any] = {
        "px_per_mm_source": source if px_per_mm else "none",
        "px_per_mm_uncertainty_pct": float("nan"),
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


def baseline_pose_warning(baseline_rgb: np.ndarray, pose: Pose, options: Mapping[str, Any]) -> str | None:
    """A warning when ``pose`` differs from the baseline photo's beyond ``face.pose_limit_deg``; also
    when the baseline shows no face."""
    opts = face_options(options)
    found = detect_face(baseline_rgb, landmark_model=opts["landmark_model"])
    if not found:
        return f"pose not compared with the baseline: {found.reason} in the baseline"
    return pose_warning(pose, estimate_pose(found.face), limit_deg=opts["pose_limit_deg"])


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + margin + 1)),
        slice(max(0, cols[0] - margin), min(mask.shape[1], cols[-1] + margin + 1)),
    )


def zone_rows(
    rgb: np.ndarray,
    zones: FaceZones,
    *,
    px_per_mm: float | None,
    photo_options: Mapping[str, Any],
    columns: Mapping[str, Any],
    measure,
    within: np.ndarray | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One metrics row per zone: ``measure(rgb_crop, px_per_mm=, roi=, options=)`` (the photo assay) on
    the zone's bounding box with the zone as ROI, plus the red-area columns and ``columns`` (scale
    source, pose). ``within``: a mask the zones are limited to (the overlap with the baseline after
    alignment). A zone that cannot be measured (too little skin) is left out with a warning."""
    opts = face_options(photo_options.get("face"))
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    margin = max(2, int(round(0.02 * max(rgb.shape[:2]))))
    for name, mask in zones.masks.items():
        if within is not None:
            mask = mask & within
            if not mask.any():
                warnings.append(f"zone {name} not measured: outside the overlap with the baseline")
                continue
        box = _box(mask, margin)
        crop, roi = rgb[box], mask[box]
        try:
            # The zone already holds only skin (the face's skin mask, hair and shadow removed): the assay
            # must not apply a skin mask of its own, decided on the crop alone, to a baseline and not to a
            # registered follow-up (whose common region is skin already), or the two would differ.
            result = measure(
                crop, px_per_mm=px_per_mm, roi=roi, options={**photo_options, "skin_mask": False}
            )
            red = measure_red_areas(crop, px_per_mm=px_per_mm, mask=roi, overlay=False, **dict(opts["red"]))
        except ValueError as exc:
            warnings.append(f"zone {name} not measured: {exc}")
            continue
        row = dict(result.metrics)
        row.update(red.metrics)
        if not px_per_mm:
            for key in ("red_lesion_density_per_cm2", "red_lesion_mean_diameter_mm"):
                row[key] = float("nan")
        row.update(columns)
        row["region"] = name
        rows.append(row)
    return rows, warnings


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
) -> FullFace:
    """Face, scale, pose check against the baseline (``baseline_path``), zones and their rows.

    ``measure`` is the photo assay (:func:`pipelines.assays.photo.analyze_photo`); ``options`` the photo
    options (with ``face``). Raises ``ValueError`` only for a given scale this face makes implausible.
    """
    step = find_face(rgb, px_per_mm=px_per_mm, source=source, options=options.get("face"))
    out = FullFace(step.px_per_mm, dict(step.columns), warnings=list(step.warnings))
    if step.zones is None:
        return out
    if baseline_path is not None and step.pose is not None:
        try:
            baseline = load_image(baseline_path, max_pixels=max_pixels).rgb
            message = baseline_pose_warning(baseline, step.pose, options.get("face"))
        except Exception as exc:  # the baseline's own row says what is wrong with it
            message = f"pose not compared with the baseline ({type(exc).__name__})"
        if message:
            out.warnings.append(message)
    rows, warnings = zone_rows(
        rgb,
        step.zones,
        px_per_mm=step.px_per_mm,
        photo_options=options,
        columns=out.columns,
        measure=measure,
        within=within,
    )
    out.rows, out.overlays["zones"] = rows, zones_thumbnail(rgb, step.zones)
    out.warnings.extend(warnings)
    return out
