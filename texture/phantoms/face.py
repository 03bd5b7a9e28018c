"""Synthetic full-face photos and red-patch skin with known truth.

:func:`render_face` draws a frontal face from ellipses on the pore texture of
:func:`texture.phantoms.photo.render_skin`: face outline on a grey background, hair cap, brows, eyes
(white sclera, an iris of exactly :data:`texture.face.HVID_MM` across, a pupil), nostrils and lips, laid out
in mm from adult proportions (interocular distance 62 mm). The five landmarks, the masks of every drawn
structure and the pores left visible are returned, so zones, scale and per-zone pore counts have an
exact answer.

:func:`render_red_patches` puts round red papules (1-5 mm) and larger red blotches on skin: haemoglobin is
modelled as a filter absorbing green most (linear-RGB transmittance 0.97, 0.62, 0.80 at full strength),
so the erythema index of a papule is ~19 EI units above the skin's.

Positions in mm: x right, y down, from the image's top-left corner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from texture.face import HVID_MM
from texture.phantoms.photo import render_skin

__all__ = ["FacePhantom", "RedPhantom", "render_face", "render_red_patches"]

_HAEMOGLOBIN_TRANSMITTANCE = np.array([0.97, 0.62, 0.80])


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb8(linear: np.ndarray, noise_sd: float, seed: int) -> np.ndarray:
    srgb = np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055
    )
    rng = np.random.default_rng([seed, 11])
    srgb = srgb + rng.normal(0.0, noise_sd, srgb.shape)
    return (np.round(np.clip(srgb, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def _ellipse_alpha(xx, yy, cx, cy, a, b, ramp_px: float, s: float) -> np.ndarray:
    """Coverage (0-1) of an axis-aligned ellipse (mm) with a linear edge of ``ramp_px`` pixels."""
    r = np.hypot((xx - cx) / a, (yy - cy) / b)
    # distance to the edge in px, approximately (r - 1) times the local radius
    local = np.hypot((xx - cx), (yy - cy)) * s / np.maximum(r, 1e-9)
    dist_px = (r - 1.0) * local
    return np.clip(0.5 - dist_px / ramp_px, 0.0, 1.0)


@dataclass(frozen=True)
class FacePhantom:
    """A rendered synthetic face.

    Attributes
    ----------
    rgb : ndarray float32 (rows, cols, 3)
    px_per_mm : float
    landmarks : dict of str to (x, y) px
        The five points of :data:`texture.face.FIVE_POINT_NAMES` (subject's left eye on the image right).
    masks : dict of str to ndarray of bool
        ``face`` (skin of the face ellipse, hair excluded), ``hair``, ``background``, ``left_eye``,
        ``right_eye``, ``left_brow``, ``right_brow``, ``lips``, ``nostrils``; a pixel belongs to a drawn
        structure when its coverage is at least 0.5.
    pores : ndarray (n, 3)
        x_px, y_px, diameter_px of every pore fully on visible face skin.
    iris_diameter_px : float
    """

    rgb: np.ndarray
    px_per_mm: float
    landmarks: dict[str, tuple[float, float]]
    masks: dict[str, np.ndarray]
    pores: np.ndarray
    iris_diameter_px: float
    truth: dict[str, float] = field(default_factory=dict)


def render_face(
    *,
    px_per_mm: float = 4.0,
    seed: int = 0,
    hairline_mm: float = -72.0,
    pore_density_per_cm2: float = 8.0,
    pore_diameter_mm: tuple[float, float] = (0.5, 1.0),
    skin_lab: tuple[float, float, float] = (68.0, 12.0, 16.0),
    noise_sd: float = 0.01,
) -> FacePhantom:
    """Render a frontal synthetic face (layout in the module docstring).

    Parameters
    ----------
    px_per_mm : float
        Rendering scale (the canvas is 180 x 230 mm).
    seed : int
        Pore layout, illumination and noise.
    hairline_mm : float
        Hair covers the face above this height relative to the eye line (negative = above the eyes);
        -72 leaves the whole forehead zone bare, -45 covers most of it.
    pore_density_per_cm2, pore_diameter_mm : float
        Pores of the skin texture (see :func:`texture.phantoms.photo.render_skin`).
    skin_lab : (L*, a*, b*)
    noise_sd : float
        Sensor noise (sRGB units).
    """
    if px_per_mm <= 0:
        raise ValueError("px_per_mm must be positive")
    width_mm, height_mm = 180.0, 230.0
    skin = render_skin(
        size_mm=(width_mm, height_mm),
        px_per_mm=px_per_mm,
        seed=seed,
        pore_density_per_cm2=pore_density_per_cm2,
        pore_diameter_mm=pore_diameter_mm,
        skin_lab=skin_lab,
        shading=0.08,
        noise_sd=0.0,
    )
    s = float(px_per_mm)
    rows, cols = skin.rgb.shape[:2]
    linear = _to_linear(skin.rgb.astype(np.float64))
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64) + 0.5
    xx, yy = xx / s, yy / s  # pixel centres in mm
    cx, cy = width_mm / 2.0, 95.0  # midpoint of the eye centres
    ramp = 1.0

    def ell(x0, y0, a, b):
        return _ellipse_alpha(xx, yy, cx + x0, cy + y0, a, b, ramp, s)

    def paint(alpha, colour):
        linear[...] = linear * (1 - alpha[..., None]) + alpha[..., None] * np.asarray(colour)

    masks: dict[str, np.ndarray] = {}
    face_alpha = ell(0.0, 15.0, 75.0, 110.0)
    background = 1.0 - face_alpha
    paint(background, (0.30, 0.32, 0.36))
    masks["background"] = background >= 0.5
    hair = face_alpha * np.clip(0.5 - ((yy - cy) - hairline_mm) * s / ramp, 0.0, 1.0)
    paint(hair, (0.05, 0.03, 0.02))
    masks["hair"] = hair >= 0.5
    for side, sign in (("left", 1.0), ("right", -1.0)):
        brow = ell(sign * 32.0, -19.0, 20.0, 3.5)
        paint(brow, (0.06, 0.04, 0.03))
        masks[f"{side}_brow"] = brow >= 0.5
        eye = ell(sign * 31.0, 0.0, 14.0, 5.0)
        paint(eye, (0.80, 0.78, 0.76))
        iris = np.minimum(eye, ell(sign * 31.0, 0.0, HVID_MM / 2, HVID_MM / 2))
        paint(iris, (0.10, 0.05, 0.02))
        pupil = np.minimum(eye, ell(sign * 31.0, 0.0, 2.0, 2.0))
        paint(pupil, (0.01, 0.01, 0.01))
        masks[f"{side}_eye"] = eye >= 0.5
    nostrils = np.maximum(ell(-8.0, 44.0, 4.0, 2.5), ell(8.0, 44.0, 4.0, 2.5))
    paint(nostrils, (0.04, 0.02, 0.02))
    masks["nostrils"] = nostrils >= 0.5
    lips = ell(0.0, 66.0, 25.0, 8.0)
    paint(lips, (0.45, 0.12, 0.12))
    masks["lips"] = lips >= 0.5
    structures = masks["background"] | masks["hair"]
    for key in ("left_brow", "right_brow", "left_eye", "right_eye", "nostrils", "lips"):
        structures |= masks[key]
    masks["face"] = ~structures
    rgb = _to_srgb8(linear, noise_sd, seed)

    def px(x_mm, y_mm):
        return ((cx + x_mm) * s, (cy + y_mm) * s)

    landmarks = {
        "left_eye_outer": px(45.0, 0.0),
        "left_eye_inner": px(17.0, 0.0),
        "right_eye_outer": px(-45.0, 0.0),
        "right_eye_inner": px(-17.0, 0.0),
        "nose_base": px(0.0, 47.0),
    }
    # Pores kept when their whole disc lies on visible face skin (pixel-centre test of the disc's box).
    kept = []
    for x, y, d in skin.pores:
        r = d / 2 * s + 1.0
        x0, x1 = int(max(0, x * s - r)), int(min(cols, x * s + r + 1))
        y0, y1 = int(max(0, y * s - r)), int(min(rows, y * s + r + 1))
        if masks["face"][y0:y1, x0:x1].all():
            kept.append((x * s, y * s, d * s))
    pores = np.array(kept, dtype=float).reshape(-1, 3)
    truth = {"interocular_mm": 62.0, "nose_drop_mm": 47.0, "iris_diameter_mm": HVID_MM}
    return FacePhantom(rgb, s, landmarks, masks, pores, HVID_MM * s, truth)


@dataclass(frozen=True)
class RedPhantom:
    """Skin with known red papules and blotches.

    ``papules`` and ``blotches``: x_px, y_px, diameter_px. ``truth``: ``red_area_fraction`` (area of all
    red discs over the image), ``red_lesion_count`` (papules), ``red_lesion_mean_diameter_mm``.
    """

    rgb: np.ndarray
    px_per_mm: float
    papules: np.ndarray
    blotches: np.ndarray
    truth: dict[str, float] = field(default_factory=dict)


def render_red_patches(
    *,
    size_mm: tuple[float, float] = (60.0, 45.0),
    px_per_mm: float = 10.0,
    seed: int = 0,
    n_papules: int = 12,
    papule_diameter_mm: tuple[float, float] = (1.5, 4.5),
    n_blotches: int = 2,
    blotch_diameter_mm: tuple[float, float] = (9.0, 14.0),
    strength: float = 1.0,
    pore_density_per_cm2: float = 40.0,
    skin_lab: tuple[float, float, float] = (65.0, 12.0, 17.0),
    shading: float = 0.25,
    noise_sd: float = 0.01,
) -> RedPhantom:
    """Render skin (pores, uneven light) with round red papules and larger red blotches at known places.

    Papules and blotches never touch each other (>= 2 mm apart) nor the border (>= 3 mm). ``strength``
    scales the haemoglobin optical density (0.5: half the EI excess). Blotches are larger than
    ``papule_diameter_mm`` and are no lesions.
    """
    if n_papules < 0 or n_blotches < 0:
        raise ValueError("counts must be non-negative")
    skin = render_skin(
        size_mm=size_mm,
        px_per_mm=px_per_mm,
        seed=seed,
        pore_density_per_cm2=pore_density_per_cm2,
        skin_lab=skin_lab,
        shading=shading,
        noise_sd=0.0,
    )
    s = float(px_per_mm)
    rows, cols = skin.rgb.shape[:2]
    width_mm, height_mm = cols / s, rows / s
    rng = np.random.default_rng([seed, 21])
    placed: list[tuple[float, float, float]] = []

    def place(d_range, n, label):
        out = []
        for _ in range(2000 * max(n, 1)):
            if len(out) >= n:
                break
            d = rng.uniform(*d_range)
            x = rng.uniform(3 + d / 2, width_mm - 3 - d / 2)
            y = rng.uniform(3 + d / 2, height_mm - 3 - d / 2)
            if all(np.hypot(x - px_, y - py_) > (d + pd) / 2 + 2.0 for px_, py_, pd in placed):
                placed.append((x, y, d))
                out.append((x, y, d))
        if len(out) < n:
            raise ValueError(f"could place only {len(out)} of {n} {label} in {size_mm} mm")
        return np.array(out, dtype=float).reshape(-1, 3)

    blotches = place(blotch_diameter_mm, n_blotches, "blotches")
    papules = place(papule_diameter_mm, n_papules, "papules")
    linear = _to_linear(skin.rgb.astype(np.float64))
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64) + 0.5
    density = np.zeros((rows, cols))
    for x, y, d in np.vstack([blotches, papules]):
        dist = np.hypot(xx - x * s, yy - y * s) - d / 2 * s
        density = np.maximum(density, np.clip(0.5 - dist, 0.0, 1.0))
    linear *= _HAEMOGLOBIN_TRANSMITTANCE[None, None, :] ** (strength * density[..., None])
    rgb = _to_srgb8(linear, noise_sd, seed)
    area_mm2 = np.pi / 4 * (np.sum(blotches[:, 2] ** 2) + np.sum(papules[:, 2] ** 2))
    truth = {
        "red_area_fraction": float(area_mm2 / (cols * rows / s**2)),
        "red_lesion_count": float(len(papules)),
        "red_lesion_mean_diameter_mm": float(papules[:, 2].mean()) if len(papules) else float("nan"),
    }
    to_px = np.array([s, s, s])
    return RedPhantom(rgb, s, papules * to_px, blotches * to_px, truth)
