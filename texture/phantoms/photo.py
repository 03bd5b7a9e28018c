"""Synthetic close-up skin photos with known pores, brown spots and fine lines.

Geometry is laid out in millimetres from ``seed`` alone, so the same skin can be rendered at any
``px_per_mm``, exposure or noise, and a treatment series (pores shrink with ``pore_scale``, spots fade
with ``spot_strength``) keeps every feature in place. Features never overlap (each is kept clear of the
others by a margin), so their count, sizes and lengths are known exactly.

Image formation, in linear sRGB reflectance: a uniform skin colour (given in CIELAB), times a smooth
illumination field (a linear gradient plus a dome, like a cheek lit from one side), times each feature's
transmittance (pores and lines: grey darkening; spots: a brown filter absorbing blue most, as melanin
does), times ``exposure``, optionally blurred by the lens (``blur_px``); then the sRGB curve, Gaussian
sensor noise and 8-bit quantisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.color import lab2rgb, rgb2lab

__all__ = ["SkinPhantom", "render_skin"]

# Linear-RGB transmittance of a full-strength spot: melanin absorbs blue > green > red.
_SPOT_TRANSMITTANCE = np.array([0.62, 0.48, 0.38])
_OCCUPANCY_CELLS_PER_MM = 20.0


@dataclass(frozen=True)
class SkinPhantom:
    """A rendered phantom and its truth (positions in mm, x right, y down, from the top-left corner).

    Attributes
    ----------
    rgb : ndarray, float32 (rows, cols, 3)
        sRGB in [0, 1].
    px_per_mm : float
    pores : ndarray (n, 3)
        x_mm, y_mm, diameter_mm of every pore as rendered (after ``pore_scale``).
    spots : ndarray (n, 3)
        x_mm, y_mm, diameter_mm of every spot.
    lines : tuple of ndarray (k, 2)
        Centre lines of the fine lines, x_mm, y_mm, sampled every 0.05 mm.
    line_width_mm : float
    truth : dict
        ``pore_count``, ``pore_mean_diameter_mm``, ``pore_density_per_cm2``, ``pore_area_fraction``,
        ``spot_count``, ``spot_area_fraction``, ``wrinkle_count``, ``wrinkle_length_mm_per_cm2``,
        ``wrinkle_mean_width_mm``, ``skin_ita_deg`` (ITA of the median pixel of the rendered skin without
        features or noise), ``area_cm2``.
    """

    rgb: np.ndarray
    px_per_mm: float
    pores: np.ndarray
    spots: np.ndarray
    lines: tuple[np.ndarray, ...]
    line_width_mm: float
    truth: dict[str, float] = field(default_factory=dict)


class _Occupancy:
    """A coarse raster of the skin in mm, marking where features (plus their margins) already are."""

    def __init__(self, width_mm: float, height_mm: float):
        self.scale = _OCCUPANCY_CELLS_PER_MM
        self.grid = np.zeros(
            (int(np.ceil(height_mm * self.scale)) + 1, int(np.ceil(width_mm * self.scale)) + 1),
            np.uint8,
        )

    def _disc_window(self, x: float, y: float, r: float):
        s = self.scale
        r0, r1 = int((y - r) * s), int(np.ceil((y + r) * s)) + 1
        c0, c1 = int((x - r) * s), int(np.ceil((x + r) * s)) + 1
        r0, c0 = max(r0, 0), max(c0, 0)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        inside = (rr / s - y) ** 2 + (cc / s - x) ** 2 <= r * r
        return (slice(r0, r1), slice(c0, c1)), inside

    def disc_free(self, x: float, y: float, r: float) -> bool:
        window, inside = self._disc_window(x, y, r)
        region = self.grid[window]
        return not region[inside[: region.shape[0], : region.shape[1]]].any()

    def mark_disc(self, x: float, y: float, r: float) -> None:
        window, inside = self._disc_window(x, y, r)
        region = self.grid[window]
        region[inside[: region.shape[0], : region.shape[1]]] = 1

    def _polyline(self, points_mm: np.ndarray, width_mm: float) -> np.ndarray:
        canvas = np.zeros_like(self.grid)
        pts = np.round(points_mm * self.scale * 16).astype(np.int32).reshape(-1, 1, 2)
        thickness = max(1, int(round(width_mm * self.scale)))
        cv2.polylines(canvas, [pts], False, 1, thickness=thickness, shift=4)
        return canvas.astype(bool)

    def polyline_free(self, points_mm: np.ndarray, width_mm: float) -> bool:
        return not (self.grid[self._polyline(points_mm, width_mm)]).any()

    def mark_polyline(self, points_mm: np.ndarray, width_mm: float) -> None:
        self.grid[self._polyline(points_mm, width_mm)] = 1


def _arc(rng: np.random.Generator, length_mm: float, width_mm: float, height_mm: float) -> np.ndarray:
    """A circular arc of the given length whose midpoint is uniform in the field."""
    radius = rng.uniform(12.0, 40.0)
    heading = rng.uniform(0, np.pi)
    bend = rng.choice([-1.0, 1.0])
    mid = rng.uniform((0, 0), (width_mm, height_mm))
    normal = bend * np.array([-np.sin(heading), np.cos(heading)])
    centre = mid + radius * normal
    mid_angle = np.arctan2(mid[1] - centre[1], mid[0] - centre[0])
    n = max(2, int(np.ceil(length_mm / 0.05)) + 1)
    half = length_mm / radius / 2
    phi = mid_angle + np.linspace(-half, half, n)
    return np.column_stack([centre[0] + radius * np.cos(phi), centre[1] + radius * np.sin(phi)])


def _skin_linear(skin_lab: tuple[float, float, float]) -> np.ndarray:
    srgb = lab2rgb(np.asarray(skin_lab, dtype=float).reshape(1, 1, 3)).reshape(3)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _illumination(rows: int, cols: int, shading: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 99])
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    u = ((x - cols / 2) * np.cos(angle) + (y - rows / 2) * np.sin(angle)) / (max(rows, cols) / 2)
    r2 = ((x - cols / 2) / (cols / 2)) ** 2 + ((y - rows / 2) / (rows / 2)) ** 2
    return (1.0 + shading * (0.7 * u + 0.3 * (1.0 - r2))).astype(np.float32)


def _disc_alpha(dist_px: np.ndarray, radius_px: float, ramp_px: float) -> np.ndarray:
    # Linear ramp centred on the edge: half coverage exactly at the nominal radius.
    return np.clip((radius_px - dist_px) / ramp_px + 0.5, 0.0, 1.0)


def _segment_distance(px: np.ndarray, py: np.ndarray, pts: np.ndarray) -> np.ndarray:
    d2 = np.full(px.shape, np.inf, dtype=np.float64)
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        vx, vy = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * vx + (py - y0) * vy) / max(vx * vx + vy * vy, 1e-12), 0.0, 1.0)
        d2 = np.minimum(d2, (px - x0 - t * vx) ** 2 + (py - y0 - t * vy) ** 2)
    return np.sqrt(d2)


def render_skin(
    *,
    size_mm: tuple[float, float] = (20.0, 20.0),
    px_per_mm: float = 25.0,
    seed: int = 0,
    pore_density_per_cm2: float = 60.0,
    pore_diameter_mm: tuple[float, float] = (0.2, 0.6),
    pore_scale: float = 1.0,
    pore_depth: float = 0.5,
    n_spots: int = 0,
    spot_diameter_mm: tuple[float, float] = (1.0, 4.0),
    spot_strength: float = 1.0,
    n_lines: int = 0,
    line_length_mm: tuple[float, float] = (6.0, 12.0),
    line_width_mm: float = 0.15,
    line_depth: float = 0.4,
    skin_lab: tuple[float, float, float] = (65.0, 12.0, 17.0),
    shading: float = 0.25,
    exposure: float = 1.0,
    noise_sd: float = 0.01,
    noise_seed: int | None = None,
    blur_px: float = 0.0,
) -> SkinPhantom:
    """Render a close-up skin photo with known features.

    Parameters
    ----------
    size_mm : (width, height)
        Field of view in mm; the image is ``round(size * px_per_mm)`` pixels.
    px_per_mm : float
        Rendering scale; the geometry in mm does not depend on it.
    seed : int
        Geometry (feature positions, sizes, illumination direction).
    pore_density_per_cm2, pore_diameter_mm, pore_scale, pore_depth :
        Pores are discs with diameters uniform in ``pore_diameter_mm`` times ``pore_scale``; their centres
        do not move with ``pore_scale``. ``pore_depth``: fraction of light lost at the pore's floor.
    n_spots, spot_diameter_mm, spot_strength :
        Round brown spots; ``spot_strength`` scales their optical density (0 = gone).
    n_lines, line_length_mm, line_width_mm, line_depth :
        Circular-arc fine lines (radius 12-40 mm) of the given width (flat floor, 1 px edges).
    skin_lab : (L*, a*, b*)
        Skin colour under unit illumination.
    shading : float
        Illumination varies by about +-``shading`` across the field.
    exposure : float
        Multiplies the light (1.03 = a 3 % brighter flash).
    noise_sd : float
        Sensor noise, standard deviation in sRGB units, drawn from ``noise_seed`` (default ``seed``).
    blur_px : float
        Optical blur (Gaussian point-spread function, sigma in px) applied in linear light.
    """
    if px_per_mm <= 0 or min(size_mm) <= 0:
        raise ValueError("px_per_mm and size_mm must be positive")
    width_mm, height_mm = map(float, size_mm)
    cols, rows = int(round(width_mm * px_per_mm)), int(round(height_mm * px_per_mm))
    occupancy = _Occupancy(width_mm, height_mm)
    edge = 1.0

    # Lines first (the longest features are hardest to place), then spots, then pores; each family has
    # its own random stream so that adding spots does not move the pores.
    rng = np.random.default_rng([seed, 1])
    lines: list[np.ndarray] = []
    for _ in range(300 * max(n_lines, 1)):
        if len(lines) >= n_lines:
            break
        pts = _arc(rng, rng.uniform(*line_length_mm), width_mm, height_mm)
        if (pts.min(axis=0) < edge).any() or (pts[:, 0] > width_mm - edge).any():
            continue
        if (pts[:, 1] > height_mm - edge).any():
            continue
        if occupancy.polyline_free(pts, line_width_mm + 2.0):
            occupancy.mark_polyline(pts, line_width_mm + 2.0)
            lines.append(pts)
    if len(lines) < n_lines:
        raise ValueError(f"could place only {len(lines)} of {n_lines} lines in {size_mm} mm")

    rng = np.random.default_rng([seed, 2])
    spots: list[tuple[float, float, float]] = []
    for _ in range(200 * max(n_spots, 1)):
        if len(spots) >= n_spots:
            break
        d = rng.uniform(*spot_diameter_mm)
        x, y = (
            rng.uniform(edge + d / 2, width_mm - edge - d / 2),
            rng.uniform(edge + d / 2, height_mm - edge - d / 2),
        )
        if occupancy.disc_free(x, y, d / 2 + 1.0):
            occupancy.mark_disc(x, y, d / 2 + 0.5)
            spots.append((x, y, d))
    if len(spots) < n_spots:
        raise ValueError(f"could place only {len(spots)} of {n_spots} spots in {size_mm} mm")

    rng = np.random.default_rng([seed, 3])
    area_cm2 = width_mm * height_mm / 100.0
    n_pores = int(round(pore_density_per_cm2 * area_cm2))
    pores: list[tuple[float, float, float]] = []
    for _ in range(30 * max(n_pores, 1)):
        if len(pores) >= n_pores:
            break
        d = rng.uniform(*pore_diameter_mm)
        x, y = rng.uniform(0.5, width_mm - 0.5), rng.uniform(0.5, height_mm - 0.5)
        if occupancy.disc_free(x, y, d / 2 + 0.25):
            occupancy.mark_disc(x, y, d / 2 + 0.05)
            pores.append((x, y, d))
    pores_arr = np.array(pores, dtype=float).reshape(-1, 3)
    pores_arr[:, 2] *= pore_scale
    spots_arr = np.array(spots, dtype=float).reshape(-1, 3)

    # Image formation in linear reflectance.
    skin = _skin_linear(skin_lab).astype(np.float32)
    light = _illumination(rows, cols, shading, seed) * np.float32(exposure)
    clean = light[..., None] * skin
    factor = np.ones((rows, cols, 3), np.float32)
    s = float(px_per_mm)

    def window(x_mm: float, y_mm: float, r_mm: float):
        c0, c1 = max(int((x_mm - r_mm) * s) - 2, 0), min(int((x_mm + r_mm) * s) + 3, cols)
        r0, r1 = max(int((y_mm - r_mm) * s) - 2, 0), min(int((y_mm + r_mm) * s) + 3, rows)
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5  # pixel centres
        return (slice(r0, r1), slice(c0, c1)), xx, yy

    for x, y, d in pores_arr:
        win, xx, yy = window(x, y, d / 2)
        alpha = _disc_alpha(np.hypot(xx - x * s, yy - y * s), d / 2 * s, 1.0)
        factor[win] *= (1.0 - pore_depth * alpha)[..., None].astype(np.float32)
    spot_ramp_px = max(1.0, 0.2 * s)
    for x, y, d in spots_arr:
        win, xx, yy = window(x, y, d / 2 + 0.2)
        alpha = _disc_alpha(np.hypot(xx - x * s, yy - y * s), d / 2 * s, spot_ramp_px)
        trans = _SPOT_TRANSMITTANCE[None, None, :] ** (spot_strength * alpha[..., None])
        factor[win] *= trans.astype(np.float32)
    for pts in lines:
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, half = (lo + hi) / 2, (hi - lo) / 2 + line_width_mm
        win, xx, yy = window(centre[0], centre[1], float(half.max()))
        # Chords every ~0.25 mm deviate from the arc (radius >= 12 mm) by < 1 um.
        coarse = np.vstack([pts[::5], pts[-1:]]) if len(pts) > 6 else pts
        alpha = _disc_alpha(_segment_distance(xx, yy, coarse * s), line_width_mm / 2 * s, 1.0)
        factor[win] *= (1.0 - line_depth * alpha)[..., None].astype(np.float32)

    linear = clean * factor
    if blur_px > 0:  # the lens: blur in linear light, before the sensor adds noise
        linear = cv2.GaussianBlur(linear.astype(np.float32), (0, 0), blur_px)
    srgb = np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055
    )
    noise_rng = np.random.default_rng([seed if noise_seed is None else noise_seed, 7])
    srgb = srgb + noise_rng.normal(0.0, noise_sd, srgb.shape).astype(np.float32)
    rgb = (np.round(np.clip(srgb, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)

    # Truth: ITA of the median pixel of the feature-free, noise-free skin (the illumination varies).
    clean_srgb = 1.055 * np.power(clean[:: max(1, rows // 200), :: max(1, cols // 200)], 1 / 2.4) - 0.055
    clean_lab = rgb2lab(np.clip(clean_srgb, 0, 1).astype(np.float64))
    med_l, med_b = np.median(clean_lab[..., 0]), np.median(clean_lab[..., 2])
    line_lengths = [float(np.sum(np.hypot(*np.diff(p, axis=0).T))) for p in lines]
    field_mm2 = cols * rows / s**2
    truth = {
        "area_cm2": field_mm2 / 100.0,
        "pore_count": float(len(pores_arr)),
        "pore_mean_diameter_mm": float(pores_arr[:, 2].mean()) if len(pores_arr) else float("nan"),
        "pore_density_per_cm2": len(pores_arr) / (field_mm2 / 100.0),
        "pore_area_fraction": float(np.sum(np.pi * pores_arr[:, 2] ** 2 / 4) / field_mm2),
        "spot_count": float(len(spots_arr)),
        "spot_area_fraction": float(np.sum(np.pi * spots_arr[:, 2] ** 2 / 4) / field_mm2),
        "wrinkle_count": float(len(lines)),
        "wrinkle_length_mm_per_cm2": sum(line_lengths) / (field_mm2 / 100.0),
        "wrinkle_mean_width_mm": float(line_width_mm) if lines else float("nan"),
        "skin_ita_deg": float(np.degrees(np.arctan2(med_l - 50.0, med_b))),
    }
    return SkinPhantom(
        rgb=rgb,
        px_per_mm=float(px_per_mm),
        pores=pores_arr,
        spots=spots_arr,
        lines=tuple(lines),
        line_width_mm=float(line_width_mm),
        truth=truth,
    )


# ---------------------------------------------------------------------------------------------------
# Phantoms for before/after checks (issue 13): lines of given widths, a texture of given amplitude and
# the optics of a dermoscope (circular field, frames, vignetting). They never change render_skin's output.

__all__ += ["LinePhantom", "render_lines", "render_textured_skin", "add_field_of_view"]


@dataclass(frozen=True)
class LinePhantom:
    """Lines of known widths on plain skin (positions in mm, x right, y down, from the top-left corner).

    Attributes
    ----------
    rgb : ndarray, float32 (rows, cols, 3)
        sRGB in [0, 1].
    px_per_mm : float
    lines : tuple of ndarray (k, 2)
        Centre line of each line, x_mm, y_mm, sampled every 0.05 mm (its ends are the line's ends; the
        rendered line has round caps of half its width beyond them).
    widths_mm : ndarray (n,)
        Full width of each line (flat floor, 1 px edge ramps centred on the nominal edge).
    lengths_mm : ndarray (n,)
        Length of each centre line.
    """

    rgb: np.ndarray
    px_per_mm: float
    lines: tuple[np.ndarray, ...]
    widths_mm: np.ndarray
    lengths_mm: np.ndarray


def _finish(linear: np.ndarray, *, noise_sd: float, noise_seed: int, blur_px: float) -> np.ndarray:
    """Linear light -> lens blur -> sRGB curve -> sensor noise -> 8-bit quantisation (as render_skin)."""
    if blur_px > 0:
        linear = cv2.GaussianBlur(linear.astype(np.float32), (0, 0), blur_px)
    srgb = np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055
    )
    noise_rng = np.random.default_rng([noise_seed, 7])
    srgb = srgb + noise_rng.normal(0.0, noise_sd, srgb.shape).astype(np.float32)
    return (np.round(np.clip(srgb, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def render_lines(
    widths_mm: tuple[float, ...] = (0.1, 0.3, 0.6, 1.0, 1.5, 2.5),
    *,
    length_mm: float = 16.0,
    px_per_mm: float = 10.0,
    seed: int = 0,
    line_depth: float = 0.35,
    bend_radius_mm: float = 40.0,
    skin_lab: tuple[float, float, float] = (65.0, 12.0, 17.0),
    shading: float = 0.25,
    noise_sd: float = 0.01,
    noise_seed: int | None = None,
    blur_px: float = 0.0,
) -> LinePhantom:
    """Skin with one line per entry of ``widths_mm``, each a gentle circular arc of ``length_mm``.

    Lines lie one above the other, each in its own band of height ``max(5, 4 x width)`` mm, so that no
    line's surroundings hold another line; the field is ``length_mm + 2 x max(4, 2 x widest)`` mm wide.
    The same ``seed`` and ``length_mm`` with other widths keeps every centre line where it was only
    when the band heights do not change (widths up to 1.25 mm all use 5 mm bands): a before/after pair
    of one narrowing line keeps its place.

    Parameters
    ----------
    widths_mm : tuple of float
        Full width of each line, mm.
    length_mm : float
        Length of every centre line (the round caps add half a width at each end).
    px_per_mm : float
        Rendering scale.
    seed : int
        Bend direction and orientation jitter (+-10 deg) of the lines; illumination direction.
    line_depth : float
        Fraction of light lost on a line's floor (the darkness of the valley).
    bend_radius_mm : float
        Radius of the arcs.
    skin_lab, shading, noise_sd, noise_seed, blur_px :
        As :func:`render_skin`.
    """
    widths = np.asarray(widths_mm, dtype=float).reshape(-1)
    if widths.size == 0 or np.any(widths <= 0) or px_per_mm <= 0 or length_mm <= 0:
        raise ValueError("widths_mm, length_mm and px_per_mm must be positive")
    rng = np.random.default_rng([seed, 11])
    margin = max(4.0, 2.0 * float(widths.max()))
    bands = np.maximum(5.0, 4.0 * widths)
    width_field, height_field = length_mm + 2 * margin, float(bands.sum()) + 2 * margin
    s = float(px_per_mm)
    cols, rows = int(round(width_field * s)), int(round(height_field * s))
    lines: list[np.ndarray] = []
    top = margin
    for band in bands:
        centre = np.array([width_field / 2, top + band / 2])
        heading = np.radians(rng.uniform(-10.0, 10.0))
        bend = rng.choice([-1.0, 1.0])
        n = max(2, int(np.ceil(length_mm / 0.05)) + 1)
        half = length_mm / bend_radius_mm / 2
        phi = np.linspace(-half, half, n)
        # An arc through ``centre`` with its chord along ``heading``.
        local = np.column_stack(
            [
                bend_radius_mm * np.sin(phi),
                bend * bend_radius_mm * (1 - np.cos(phi)) - bend * bend_radius_mm * (1 - np.cos(half)) / 2,
            ]
        )
        rot = np.array([[np.cos(heading), -np.sin(heading)], [np.sin(heading), np.cos(heading)]])
        lines.append(centre + local @ rot.T)
        top += band

    skin = _skin_linear(skin_lab).astype(np.float32)
    light = _illumination(rows, cols, shading, seed)
    factor = np.ones((rows, cols), np.float32)
    for pts, width in zip(lines, widths, strict=True):
        lo, hi = pts.min(axis=0) - width - 0.5, pts.max(axis=0) + width + 0.5
        c0, c1 = max(int(lo[0] * s), 0), min(int(np.ceil(hi[0] * s)), cols)
        r0, r1 = max(int(lo[1] * s), 0), min(int(np.ceil(hi[1] * s)), rows)
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
        coarse = np.vstack([pts[::5], pts[-1:]])
        alpha = _disc_alpha(_segment_distance(xx, yy, coarse * s), width / 2 * s, 1.0)
        factor[r0:r1, c0:c1] *= (1.0 - line_depth * alpha).astype(np.float32)
    linear = (light * factor)[..., None] * skin
    rgb = _finish(
        linear, noise_sd=noise_sd, noise_seed=seed if noise_seed is None else noise_seed, blur_px=blur_px
    )
    lengths = np.array([float(np.sum(np.hypot(*np.diff(p, axis=0).T))) for p in lines])
    return LinePhantom(rgb=rgb, px_per_mm=s, lines=tuple(lines), widths_mm=widths, lengths_mm=lengths)


def render_textured_skin(
    *,
    amplitude: float = 1.0,
    size_mm: tuple[float, float] = (20.0, 20.0),
    px_per_mm: float = 25.0,
    seed: int = 0,
    relief_sd: float = 0.06,
    relief_scale_mm: float = 0.12,
    pore_density_per_cm2: float = 60.0,
    pore_diameter_mm: tuple[float, float] = (0.2, 0.6),
    pore_depth: float = 0.5,
    skin_lab: tuple[float, float, float] = (65.0, 12.0, 17.0),
    shading: float = 0.25,
    exposure: float = 1.0,
    noise_sd: float = 0.01,
    noise_seed: int | None = None,
    blur_px: float = 0.0,
) -> np.ndarray:
    """Skin whose texture (micro-relief and pores) has a given amplitude; returns float32 sRGB.

    The texture is an optical density (absorbance): a Gaussian random field (white noise smoothed with
    a Gaussian of ``relief_scale_mm``, scaled to SD ``relief_sd``, like the furrow network of the skin
    surface) plus pores (discs losing ``pore_depth`` of the light). ``amplitude`` multiplies that density
    (transmittance ``T ** amplitude``): 0.75 is a smoother skin, 3 a rougher one, with every feature in
    place; the illumination, sensor noise (``noise_seed``) and skin colour do not change. Image formation
    as :func:`render_skin`.
    """
    if px_per_mm <= 0 or min(size_mm) <= 0 or amplitude < 0:
        raise ValueError("px_per_mm and size_mm must be positive, amplitude >= 0")
    s = float(px_per_mm)
    width_mm, height_mm = map(float, size_mm)
    cols, rows = int(round(width_mm * s)), int(round(height_mm * s))
    # The relief is drawn on a 50 px/mm grid in mm and resampled, so it is the same skin at any scale.
    grid = 50.0
    rng = np.random.default_rng([seed, 21])
    white = rng.normal(0.0, 1.0, (int(round(height_mm * grid)), int(round(width_mm * grid)))).astype(
        np.float32
    )
    relief = cv2.GaussianBlur(white, (0, 0), relief_scale_mm * grid, borderType=cv2.BORDER_REFLECT)
    relief *= np.float32(relief_sd / max(float(relief.std()), 1e-12))
    relief = cv2.resize(relief, (cols, rows), interpolation=cv2.INTER_AREA if s < grid else cv2.INTER_LINEAR)
    density = relief.copy()  # a zero-mean density: valleys darker, crests lighter than the mean skin

    rng = np.random.default_rng([seed, 23])
    n_pores = int(round(pore_density_per_cm2 * width_mm * height_mm / 100.0))
    occupancy = _Occupancy(width_mm, height_mm)
    for _ in range(30 * max(n_pores, 1)):
        if n_pores <= 0:
            break
        d = rng.uniform(*pore_diameter_mm)
        x, y = rng.uniform(0.5, width_mm - 0.5), rng.uniform(0.5, height_mm - 0.5)
        if not occupancy.disc_free(x, y, d / 2 + 0.25):
            continue
        occupancy.mark_disc(x, y, d / 2 + 0.05)
        n_pores -= 1
        c0, c1 = max(int((x - d) * s) - 2, 0), min(int((x + d) * s) + 3, cols)
        r0, r1 = max(int((y - d) * s) - 2, 0), min(int((y + d) * s) + 3, rows)
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
        alpha = _disc_alpha(np.hypot(xx - x * s, yy - y * s), d / 2 * s, 1.0)
        density[r0:r1, c0:c1] += (-np.log10(1.0 - pore_depth * alpha)).astype(np.float32)

    transmittance = np.power(np.float32(10.0), -np.float32(amplitude) * density)
    skin = _skin_linear(skin_lab).astype(np.float32)
    light = _illumination(rows, cols, shading, seed) * np.float32(exposure)
    linear = np.clip((light * transmittance)[..., None] * skin, 0.0, 1.0)
    return _finish(
        linear, noise_sd=noise_sd, noise_seed=seed if noise_seed is None else noise_seed, blur_px=blur_px
    )


def add_field_of_view(
    rgb: np.ndarray,
    *,
    circle_diameter_fraction: float | None = None,
    frame_px: int = 0,
    frame_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0),
    vignetting: float = 0.0,
    outside_rgb: tuple[float, float, float] = (0.02, 0.02, 0.02),
) -> tuple[np.ndarray, np.ndarray]:
    """The optics of a dermoscope or a cheap lens on a phantom photo, with the truth.

    Applied in linear light to float sRGB ``rgb``: ``vignetting`` darkens towards the corners
    (illumination ``1 - vignetting * (r / r_corner)^4``, r from the image centre), a circular field of
    view of ``circle_diameter_fraction`` x the short side leaves ``outside_rgb`` (near black) around it,
    and a constant frame of ``frame_px`` pixels of ``frame_rgb`` is drawn on the image's edge (as the
    3-px black frame of ISIC_0000046).

    Returns
    -------
    rgb : ndarray, float32
    illumination : ndarray, float32 (rows, cols)
        The relative light each pixel received: 1 on un-vignetted skin, 0 outside the circle and on the
        frame.
    """
    image = np.asarray(rgb, dtype=np.float32)
    rows, cols = image.shape[:2]
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = (rows - 1) / 2.0, (cols - 1) / 2.0
    r = np.hypot(yy - cy, xx - cx)
    illumination = (1.0 - np.float32(vignetting) * (r / np.hypot(cy, cx)) ** 4).astype(np.float32)
    linear = np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4)
    linear = linear * illumination[..., None]
    srgb = np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055
    )
    out = np.clip(srgb, 0.0, 1.0).astype(np.float32)
    if circle_diameter_fraction is not None:
        outside = r > circle_diameter_fraction * min(rows, cols) / 2.0
        out[outside] = outside_rgb
        illumination[outside] = 0.0
    if frame_px > 0:
        edge = np.zeros((rows, cols), bool)
        edge[:frame_px], edge[-frame_px:], edge[:, :frame_px], edge[:, -frame_px:] = True, True, True, True
        out[edge] = frame_rgb
        illumination[edge] = 0.0
    return np.round(out * 255.0).astype(np.float32) / np.float32(255.0), illumination
