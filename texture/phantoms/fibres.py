"""Synthetic fibre images with known truth: crossing straight fibres, curved fibres, a star, and fringe
(wave) patterns whose OrientationJ coherency has a closed form.

Fibres are rendered as anti-aliased round-capped polylines (bright on dark, as SHG): a pixel's value is
``clip(w / 2 + 0.5 - d, 0, 1)`` for its distance ``d`` to the centre line, so the rendered fibre is
``w`` px wide and its tip-to-tip length is the centre-line length plus ``w`` (the two caps). Every
generator is a pure function of its arguments.

Angle convention: degrees counter-clockwise from +x as seen on screen (a fibre rising to the right is
+45), in [0, 180).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FibrePhantom",
    "render_polylines",
    "crossing_fibres",
    "curved_fibres",
    "star",
    "fringes",
    "fringe_coherency",
    "fringe_angles_deg",
]


@dataclass
class FibrePhantom:
    """A grey image in [0, 1] (bright fibres) and its truth.

    ``truth`` holds per-fibre arrays ``lengths_px`` (tip to tip, along the fibre), ``angles_deg``
    (end-to-end chord), ``widths_px``, ``straightness`` (chord / length), and ``count``.
    """

    grey: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def rgb(self) -> np.ndarray:
        return np.repeat(self.grey[..., None], 3, axis=2)


def _unit(angle_deg: float) -> np.ndarray:
    """(drow, dcol) of a screen angle: +x is +col, +y (up) is -row."""
    a = np.deg2rad(angle_deg)
    return np.array([-np.sin(a), np.cos(a)])


def render_polylines(shape: tuple[int, int], polylines: list[np.ndarray], widths: list[float]) -> np.ndarray:
    """Max-composite of anti-aliased round-capped polylines ((n, 2) arrays of (row, col)), in [0, 1]."""
    canvas = np.zeros(shape)
    rows, cols = shape
    for pts, w in zip(polylines, widths, strict=True):
        pts = np.asarray(pts, dtype=float)
        half = w / 2.0
        lo = np.floor(pts.min(axis=0) - half - 2).astype(int)
        hi = np.ceil(pts.max(axis=0) + half + 2).astype(int)
        r0, c0 = max(lo[0], 0), max(lo[1], 0)
        r1, c1 = min(hi[0], rows - 1), min(hi[1], cols - 1)
        if r0 > r1 or c0 > c1:
            continue
        rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1].astype(float)
        dist = np.full(rr.shape, np.inf)
        for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
            d = p1 - p0
            seg2 = float(d @ d)
            t = np.zeros_like(rr) if seg2 == 0 else ((rr - p0[0]) * d[0] + (cc - p0[1]) * d[1]) / seg2
            t = np.clip(t, 0.0, 1.0)
            np.minimum(dist, np.hypot(rr - (p0[0] + t * d[0]), cc - (p0[1] + t * d[1])), out=dist)
        view = canvas[r0 : r1 + 1, c0 : c1 + 1]
        np.maximum(view, np.clip(half + 0.5 - dist, 0.0, 1.0), out=view)
    return canvas


def _grey(density: np.ndarray, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = 0.05 + 0.85 * density + rng.normal(0.0, noise, density.shape)
    return np.clip(g, 0.0, 1.0)


def _truth(polylines: list[np.ndarray], widths: list[float]) -> dict[str, Any]:
    lengths, angles, straight = [], [], []
    for pts, w in zip(polylines, widths, strict=True):
        pts = np.asarray(pts, dtype=float)
        centre = float(np.hypot(*np.diff(pts, axis=0).T).sum())
        chord = pts[-1] - pts[0]
        lengths.append(centre + w)
        # The caps extend the chord too, along the end directions.
        d0 = pts[0] - pts[1]
        d1 = pts[-1] - pts[-2]
        e0 = pts[0] + d0 / np.hypot(*d0) * w / 2
        e1 = pts[-1] + d1 / np.hypot(*d1) * w / 2
        straight.append(float(np.hypot(*(e1 - e0)) / (centre + w)))
        angles.append(float(np.mod(np.degrees(np.arctan2(-chord[0], chord[1])), 180.0)))
    return {
        "count": len(polylines),
        "lengths_px": np.array(lengths),
        "angles_deg": np.array(angles),
        "widths_px": np.array(widths, dtype=float),
        "straightness": np.array(straight),
    }


def crossing_fibres(
    shape: tuple[int, int] = (256, 256),
    *,
    angles_deg: tuple[float, ...] = (20.0, 110.0),
    length_px: float = 180.0,
    width_px: float = 5.0,
    noise: float = 0.02,
    seed: int = 0,
) -> FibrePhantom:
    """Straight fibres of one length, all crossing at the image centre (one per angle)."""
    centre = np.array(shape, dtype=float) / 2.0
    lines = [
        np.stack([centre - 0.5 * length_px * _unit(a), centre + 0.5 * length_px * _unit(a)])
        for a in angles_deg
    ]
    widths = [width_px] * len(lines)
    return FibrePhantom(_grey(render_polylines(shape, lines, widths), noise, seed), _truth(lines, widths))


def star(
    shape: tuple[int, int] = (256, 256),
    *,
    arms: int = 4,
    length_px: float = 200.0,
    width_px: float = 5.0,
    seed: int = 0,
) -> FibrePhantom:
    """``arms`` straight fibres through the centre at equal angles (a 4-arm star is two fibres crossed at
    90 degrees plus two at 45): no dominant direction; each fibre is whole through the crossing."""
    angles = tuple(float(a) for a in np.arange(arms) * 180.0 / arms + 7.0)
    return crossing_fibres(shape, angles_deg=angles, length_px=length_px, width_px=width_px, seed=seed)


def curved_fibres(
    shape: tuple[int, int] = (320, 360),
    *,
    radii_px: tuple[float, ...] = (60.0, 90.0),
    arc_deg: float = 120.0,
    width_px: float = 5.0,
    noise: float = 0.02,
    seed: int = 0,
) -> FibrePhantom:
    """Circular arcs (one per radius, side by side 20 px apart) of ``arc_deg`` each, bulging upwards.

    Raises ``ValueError`` when the arcs do not fit in ``shape``.
    """
    lines = []
    left = 10.0
    for r in radii_px:
        centre = np.array([shape[0] * 0.75, left + r])
        left += 2 * r + 20.0
        t = np.deg2rad(np.linspace(90 - arc_deg / 2, 90 + arc_deg / 2, max(int(r * np.deg2rad(arc_deg)), 8)))
        lines.append(np.stack([centre[0] - r * np.sin(t), centre[1] + r * np.cos(t)], axis=1))
    allpts = np.concatenate(lines)
    if allpts.min() < width_px or np.any(allpts.max(axis=0) > np.array(shape) - width_px):
        raise ValueError(f"arcs of radii {radii_px} px do not fit in an image of shape {shape}")
    widths = [width_px] * len(lines)
    return FibrePhantom(_grey(render_polylines(shape, lines, widths), noise, seed), _truth(lines, widths))


def fringes(
    shape: tuple[int, int] = (256, 256),
    *,
    components: tuple[tuple[float, float, int], ...] = ((1.0, 30.0, 16),),
) -> np.ndarray:
    """Sum of cosine waves ``amplitude * cos(2 pi k . x)``, each given as (amplitude, fringe angle in
    degrees, period in px). The fringes (wave crests) of a component run along its angle. The wave
    vector is rounded to a whole number of periods across the image, so the pattern is periodic; the
    exact angles used are given by :func:`fringe_angles_deg`.
    """
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols].astype(float)
    img = np.zeros(shape)
    for amp, kr, kc in _wave_vectors(shape, components):
        img += amp * np.cos(2.0 * np.pi * (kr * r / rows + kc * c / cols))
    return img


def _wave_vectors(shape: tuple[int, int], components) -> list[tuple[float, int, int]]:
    rows, cols = shape
    out = []
    for amp, angle, period in components:
        # The wave vector is normal to the crests: along the fringe angle + 90 degrees (screen axes).
        n = _unit(angle + 90.0)  # (drow, dcol)
        out.append((float(amp), int(round(n[0] * rows / period)), int(round(n[1] * cols / period))))
    return out


def fringe_angles_deg(shape: tuple[int, int], components) -> list[float]:
    """Exact fringe (crest) angle of each component of :func:`fringes` after its wave vector was
    rounded to whole periods, degrees in [0, 180)."""
    rows, cols = shape
    out = []
    for _, kr, kc in _wave_vectors(shape, components):
        # Crests run perpendicular to the wave vector (x = kc / cols, y = -kr / rows).
        wave = np.degrees(np.arctan2(-kr / rows, kc / cols))
        out.append(float(np.mod(wave - 90.0, 180.0)))
    return out


def fringe_coherency(shape: tuple[int, int], components) -> float:
    """Closed-form structure-tensor coherency of :func:`fringes` over whole periods.

    The gradient of ``sum a_i cos(k_i . x)`` is ``-sum a_i k_i sin(k_i . x)``; over whole periods the
    cross terms of distinct wave vectors average to zero, so the mean tensor is
    ``J = sum (a_i² / 2) k_i k_i^T``, and coherency = (l1 - l2) / (l1 + l2) of that 2 x 2 matrix.
    """
    rows, cols = shape
    j = np.zeros((2, 2))
    for amp, kr, kc in _wave_vectors(shape, components):
        k = 2.0 * np.pi * np.array([kc / cols, -kr / rows])  # (x, y) screen axes
        j += 0.5 * amp**2 * np.outer(k, k)
    tr = j[0, 0] + j[1, 1]
    return float(np.sqrt((j[0, 0] - j[1, 1]) ** 2 + 4 * j[0, 1] ** 2) / tr) if tr > 0 else 0.0
