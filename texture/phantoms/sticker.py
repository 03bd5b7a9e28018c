"""A round calibration sticker of known diameter drawn onto a photo (truth for :mod:`texture.sticker`).

The sticker is a disc of ``diameter_mm`` at ``px_per_mm``, optionally tilted away from the camera (an
ellipse whose major axis keeps the diameter and whose minor axis is ``cos(tilt)`` times it) and blurred by
the lens. Its coverage of each pixel is computed by supersampling (``supersample`` x ``supersample`` points
per pixel), then optionally blurred (Gaussian, ``blur_px``), and the sticker's colour is laid over the photo
in linear light with that coverage, as a camera integrates light over its pixels; the result is quantised to
8 bits like a camera file.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.color import lab2rgb

from texture.color import linear_to_srgb, srgb_to_linear
from texture.measurement import check_rgb
from texture.sticker import sticker_color_lab

__all__ = ["draw_sticker", "sticker_coverage"]


def sticker_coverage(
    shape: tuple[int, int],
    *,
    center_xy: tuple[float, float],
    diameter_px: float,
    tilt_deg: float = 0.0,
    tilt_axis_deg: float = 0.0,
    supersample: int = 8,
) -> np.ndarray:
    """Fraction (0-1, float32) of each pixel covered by the sticker's ellipse.

    Pixel centres are at whole numbers (x right, y down). ``tilt_axis_deg``: the axis the disc is turned
    about, counter-clockwise from the image +x axis as seen on screen; it stays the full ``diameter_px``
    long (the major axis), the perpendicular one becomes ``diameter_px * cos(tilt_deg)``.
    """
    if diameter_px <= 0 or not 0 <= tilt_deg < 90 or supersample < 1:
        raise ValueError("diameter_px must be > 0, tilt_deg in [0, 90), supersample >= 1")
    rows, cols = shape
    a = diameter_px / 2.0
    b = a * np.cos(np.deg2rad(tilt_deg))
    alpha = np.deg2rad(tilt_axis_deg)
    e1 = np.array([np.cos(alpha), -np.sin(alpha)])  # on screen CCW: y grows downward
    e2 = np.array([np.sin(alpha), np.cos(alpha)])
    cx, cy = center_xy
    x0, x1 = max(0, int(np.floor(cx - a)) - 1), min(cols, int(np.ceil(cx + a)) + 2)
    y0, y1 = max(0, int(np.floor(cy - a)) - 1), min(rows, int(np.ceil(cy + a)) + 2)
    cover = np.zeros(shape, np.float32)
    if x0 >= x1 or y0 >= y1:
        return cover
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    ys = (np.arange(y0, y1)[:, None] + sub[None, :]).reshape(-1) - cy
    xs = (np.arange(x0, x1)[:, None] + sub[None, :]).reshape(-1) - cx
    dx, dy = np.meshgrid(xs, ys)
    u = dx * e1[0] + dy * e1[1]
    v = dx * e2[0] + dy * e2[1]
    inside = ((u / a) ** 2 + (v / b) ** 2 <= 1.0).astype(np.float32)
    h, w = y1 - y0, x1 - x0
    cover[y0:y1, x0:x1] = inside.reshape(h, supersample, w, supersample).mean(axis=(1, 3))
    return cover


def draw_sticker(
    rgb: np.ndarray,
    *,
    diameter_mm: float,
    px_per_mm: float,
    color: str | Sequence[float] = "#ffffff",
    center_xy: tuple[float, float] | None = None,
    tilt_deg: float = 0.0,
    tilt_axis_deg: float = 0.0,
    blur_px: float = 0.0,
    quantize: bool = True,
) -> np.ndarray:
    """A copy of ``rgb`` (float sRGB in [0, 1]) with a round sticker laid on it.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
    diameter_mm, px_per_mm : float
        The sticker is ``diameter_mm * px_per_mm`` px across (its major axis when tilted).
    color : str or (L*, a*, b*)
        sRGB hex (``"#ffffff"``) or CIELAB of the sticker (as :func:`texture.sticker.sticker_color_lab`).
    center_xy : (float, float), optional
        Centre in px (pixel centres at whole numbers); default the image centre.
    tilt_deg, tilt_axis_deg : float
        Tilt away from the camera and the on-screen axis it turns about (:func:`sticker_coverage`).
    blur_px : float
        Lens blur of the sticker's edge (Gaussian sigma, px).
    quantize : bool
        Round to 8-bit levels, as a camera file.
    """
    image = check_rgb(rgb)
    rows, cols = image.shape[:2]
    if center_xy is None:
        center_xy = ((cols - 1) / 2.0, (rows - 1) / 2.0)
    cover = sticker_coverage(
        (rows, cols),
        center_xy=center_xy,
        diameter_px=diameter_mm * px_per_mm,
        tilt_deg=tilt_deg,
        tilt_axis_deg=tilt_axis_deg,
    )
    if blur_px > 0:
        cover = cv2.GaussianBlur(cover, (0, 0), blur_px)
    srgb = np.clip(lab2rgb(sticker_color_lab(color).reshape(1, 1, 3)).reshape(3), 0.0, 1.0)
    sticker_lin = srgb_to_linear(srgb)
    lin = srgb_to_linear(image)
    lin = lin * (1.0 - cover[..., None]) + sticker_lin * cover[..., None]
    out = linear_to_srgb(lin)
    if quantize:
        out = np.round(out * 255.0) / 255.0
    return out.astype(np.float32)
