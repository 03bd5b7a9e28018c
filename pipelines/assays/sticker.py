"""The photo assay's sticker step: a scale from a round calibration sticker named in the config.

Photo option ``sticker`` (config ``photo: {sticker: {diameter_mm: 10.0, color: "#ffffff",
tolerance_mm: 0.1}}``; default none). Where the scale of a photo comes from, first found wins:

1. ``given``: the manifest's ``px_per_mm`` or ``--px-per-mm`` / the config's ``px_per_mm``;
2. ``file``: the file's own metadata;
3. ``sticker``: :func:`texture.sticker.find_sticker` with the configured diameter, colour and tolerance,
   within the plausible range of a photo (:data:`pipelines.io.scale.PLAUSIBLE_PX_PER_MM`);
4. ``iris``: the iris of a full-face photo (:mod:`pipelines.assays.face`);
5. ``none``.

A sticker scale is a scale found in the photo, like the iris's: when a face is found, the same
plausibility check as for a given scale applies (:func:`texture.face.check_face_scale`, eyes 40-90 mm
apart), and a sticker scale failing it is dropped with a warning (the iris then gives the scale). A
configured sticker that is not found (absent, cut by the border, two equally good candidates) gives a
warning row saying why, and the photo falls back to the iris or to no scale. The sticker itself (its
ellipse, widened by 10 % + 4 px) is left out of the measured skin, and painted over with the median colour
of the skin around it (:func:`hide_sticker`), whatever gives the scale: otherwise the line, spot and
illumination filters read its edge as a line or a lightness step in the skin next to it. A registered
follow-up's baseline gets the same treatment for its own sticker, wherever it sat in that session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pipelines.config import sticker_options
from pipelines.io.scale import PLAUSIBLE_PX_PER_MM
from texture.sticker import StickerScale, find_sticker

__all__ = ["StickerStep", "sticker_step", "hide_sticker"]


@dataclass
class StickerStep:
    """What :func:`sticker_step` found: the scale (None when not found), the sticker's pixels to leave
    out of the skin, and a warning when a configured sticker was not found."""

    px_per_mm: float | None
    uncertainty_pct: float | None
    mask: np.ndarray | None
    warning: str | None
    found: StickerScale | None = None


def _sticker_mask(shape: tuple[int, int], found: StickerScale) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cx, cy = found.center_xy
    axes = (int(np.ceil(0.55 * found.diameter_px + 4)), int(np.ceil(0.55 * found.minor_axis_px + 4)))
    # cv2 turns clockwise on screen (y down); angle_deg is counter-clockwise.
    cv2.ellipse(mask, (int(round(cx)), int(round(cy))), axes, -found.angle_deg, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


def sticker_step(rgb: np.ndarray, options: Mapping[str, Any] | None) -> StickerStep | None:
    """Look for the configured sticker in ``rgb`` (float sRGB); None when no sticker is configured.

    ``options`` is the photo options mapping (its ``sticker`` entry is read). Call it only when the photo
    has no given or file scale (module docstring: those win).
    """
    opts = sticker_options((options or {}).get("sticker"))
    if opts is None:
        return None
    color = opts["color"]
    found = find_sticker(
        rgb,
        diameter_mm=opts["diameter_mm"],
        color=tuple(color) if isinstance(color, list) else color,
        tolerance_mm=opts["tolerance_mm"],
        px_per_mm_range=PLAUSIBLE_PX_PER_MM["photo"],
    )
    if not found:
        warning = (
            f"calibration sticker ({opts['diameter_mm']:g} mm) not found: {found.reason}; "
            "the scale comes from the iris when a face shows one"
        )
        return StickerStep(None, None, None, warning, found)
    return StickerStep(
        found.px_per_mm, found.uncertainty_pct, _sticker_mask(rgb.shape[:2], found), None, found
    )


def hide_sticker(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``rgb`` with the sticker's pixels (``mask``) set to the median colour of a ring of skin
    around them (as wide as a fifth of the sticker, at least 3 px).

    The mask is also left out of the measured region; painting it over keeps the filters that read a
    neighbourhood (line and spot detectors, illumination flattening) from seeing the sticker's edge in
    the skin next to it. A white 10 mm sticker left in place read as 4 fine lines and a lightness SD 30 %
    higher than the same skin without it.
    """
    mask = np.asarray(mask, dtype=bool)
    out = np.array(rgb, copy=True)
    if not mask.any():
        return out
    width = max(3, int(round(0.2 * np.sqrt(np.count_nonzero(mask)))))
    grown = cv2.dilate(
        mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1,) * 2)
    )
    ring = grown.astype(bool) & ~mask
    source = out[ring] if ring.any() else out[~mask]
    if source.size:
        out[mask] = np.median(source, axis=0)
    return out
