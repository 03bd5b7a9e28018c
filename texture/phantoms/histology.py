"""Synthetic histology with known truth: stained collagen fibres, sparse fibres, H&E with an epidermis.

Every generator is a pure function of its arguments (``seed`` included), returns float sRGB in [0, 1]
and, where a truth is known, a :class:`HistologyPhantom` carrying it.

The colours are rendered with the Beer–Lambert law from each dye's *appearance* (the RGB of a fully
stained region), chosen independently of the stain vectors in :mod:`texture.collagen`, so a test that
recovers the truth also shows that the presets tolerate a realistic mismatch of the dye colours.

Angle convention (docs/architecture.md): degrees counter-clockwise from +x as seen on screen, so a fibre at
+45 rises to the right (rows decrease as columns increase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "HistologyPhantom",
    "fibre_density",
    "stained_section",
    "aligned_fibres",
    "random_fibres",
    "sparse_fibres",
    "he_section",
    "psr_section",
    "antialiased_fibres",
    "collagen_dermis",
    "pale_section",
    "he_nuclei_section",
    "polarized_psr",
    "POLARIZED_COLORS",
]

# Appearance (RGB of a fully stained region) of each dye in the phantoms.
_DYE_RGB = {
    "sirius_red": (0.72, 0.10, 0.22),
    "picric_yellow": (0.95, 0.86, 0.48),
    "aniline_blue": (0.30, 0.42, 0.82),
    "acid_fuchsin": (0.86, 0.32, 0.40),
    "light_green": (0.35, 0.78, 0.55),
    "haematoxylin": (0.32, 0.22, 0.58),
    "eosin": (0.96, 0.45, 0.68),
}


@dataclass
class HistologyPhantom:
    """A synthetic stained image and what is known about it.

    Attributes
    ----------
    rgb : ndarray
        Float sRGB image in [0, 1], shape (rows, cols, 3).
    collagen : ndarray
        Collagen density in [0, 1] per pixel (1 inside a fibre, anti-aliased edges).
    truth : dict
        Known values, e.g. ``angle_deg``, ``area_fraction``, ``lengths_px``, ``widths_px``,
        ``straightness``, ``thickness_mean_um``.
    """

    rgb: np.ndarray
    collagen: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)


def _dye_od(name: str) -> np.ndarray:
    return -np.log10(np.asarray(_DYE_RGB[name], dtype=float))


def _render(shape: tuple[int, int], amounts: dict[str, np.ndarray | float]) -> np.ndarray:
    """Beer–Lambert: transmitted light = 10 ** -(sum of amount * dye optical density)."""
    od = np.zeros((*shape, 3))
    for name, amount in amounts.items():
        od += np.asarray(amount, dtype=float)[..., None] * _dye_od(name)
    return np.clip(10.0 ** (-od), 0.0, 1.0)


def _direction(angle_deg: float) -> np.ndarray:
    """Unit (drow, dcol) of a screen angle: +x is +col, +y (up) is -row."""
    a = np.deg2rad(angle_deg)
    return np.array([-np.sin(a), np.cos(a)])


def _draw_polyline(canvas: np.ndarray, points_rc: np.ndarray, width: float) -> None:
    """Max-composite an anti-aliased polyline of ``width`` px (round caps) onto ``canvas``."""
    half = width / 2.0
    rows, cols = canvas.shape
    for p0, p1 in zip(points_rc[:-1], points_rc[1:], strict=True):
        r_lo = int(max(np.floor(min(p0[0], p1[0]) - half - 2), 0))
        r_hi = int(min(np.ceil(max(p0[0], p1[0]) + half + 2), rows - 1))
        c_lo = int(max(np.floor(min(p0[1], p1[1]) - half - 2), 0))
        c_hi = int(min(np.ceil(max(p0[1], p1[1]) + half + 2), cols - 1))
        if r_lo > r_hi or c_lo > c_hi:
            continue
        rr, cc = np.mgrid[r_lo : r_hi + 1, c_lo : c_hi + 1].astype(float)
        d = p1 - p0
        seg2 = float(d @ d)
        if seg2 == 0:
            t = np.zeros_like(rr)
        else:
            t = np.clip(((rr - p0[0]) * d[0] + (cc - p0[1]) * d[1]) / seg2, 0.0, 1.0)
        dist = np.hypot(rr - (p0[0] + t * d[0]), cc - (p0[1] + t * d[1]))
        value = np.clip(half + 0.5 - dist, 0.0, 1.0)
        view = canvas[r_lo : r_hi + 1, c_lo : c_hi + 1]
        np.maximum(view, value, out=view)


def fibre_density(
    shape: tuple[int, int],
    centres_rc: np.ndarray,
    angles_deg: np.ndarray,
    lengths_px: np.ndarray,
    widths_px: np.ndarray,
) -> np.ndarray:
    """Density map in [0, 1] of straight fibres (round-capped segments) with the given geometry.

    ``lengths_px`` are centreline lengths; the visible fibre is ``width`` longer (its caps).
    """
    canvas = np.zeros(shape)
    for c, a, ln, w in zip(centres_rc, angles_deg, lengths_px, widths_px, strict=True):
        half = 0.5 * ln * _direction(a)
        _draw_polyline(canvas, np.array([c - half, c + half]), w)
    return canvas


def stained_section(
    collagen: np.ndarray,
    *,
    stain: str = "psr",
    seed: int = 0,
    glass: np.ndarray | None = None,
    noise: float = 0.01,
) -> np.ndarray:
    """Colour a collagen density map as a stained section.

    Parameters
    ----------
    collagen : ndarray
        Collagen density in [0, 1], shape (rows, cols).
    stain : {'psr', 'masson', 'masson_green', 'he', 'shg'}
        ``psr``: red fibres on picric-yellow tissue; ``masson``: blue (``masson_green``: green)
        fibres on pale red cytoplasm; ``he``: eosin-pink fibres on paler pink; ``shg``: bright
        fibres on a dark field (grey, replicated to RGB).
    seed : int
        Seed of the background texture and noise.
    glass : ndarray of bool, optional
        Where there is no tissue (rendered as slightly off-white glass; black for SHG).
    noise : float
        Standard deviation of additive Gaussian noise on the final RGB.
    """
    rng = np.random.default_rng(seed)
    shape = collagen.shape
    # Slowly varying stain uptake, as in a real section.
    mottle = ndi.gaussian_filter(rng.standard_normal(shape), 6.0)
    mottle = 1.0 + 0.15 * mottle / (mottle.std() + 1e-12)
    tissue = np.ones(shape) if glass is None else (~glass).astype(float)
    if stain == "shg":
        grey = 0.04 + 0.85 * collagen * mottle + 0.03 * tissue
        rgb = np.repeat(grey[..., None], 3, axis=2)
    elif stain == "psr":
        rgb = _render(
            shape,
            {"sirius_red": 1.3 * collagen * mottle, "picric_yellow": 0.8 * tissue * mottle},
        )
    elif stain in ("masson", "masson_green"):
        dye = "aniline_blue" if stain == "masson" else "light_green"
        rgb = _render(
            shape,
            {dye: 1.2 * collagen * mottle, "acid_fuchsin": 0.35 * tissue * (1 - 0.7 * collagen)},
        )
    elif stain == "he":
        rgb = _render(
            shape,
            {"eosin": (0.35 + 0.9 * collagen) * tissue * mottle, "haematoxylin": 0.05 * tissue},
        )
    else:
        raise ValueError(f"unknown phantom stain {stain!r}")
    if glass is not None and stain != "shg":
        rgb[glass] = np.clip(rgb[glass] * 0.0 + np.array([0.96, 0.96, 0.95]), 0, 1)
    rgb = rgb + noise * rng.standard_normal(rgb.shape)
    return np.clip(rgb, 0.0, 1.0)


def aligned_fibres(
    shape: tuple[int, int] = (256, 256),
    *,
    angle_deg: float = 30.0,
    stain: str = "psr",
    n_fibres: int | None = None,
    width_px: float = 4.0,
    length_px: tuple[float, float] = (60.0, 160.0),
    angle_sd_deg: float = 0.0,
    seed: int = 0,
) -> HistologyPhantom:
    """Straight fibres all at ``angle_deg`` (± ``angle_sd_deg``), random positions and lengths.

    Truth: ``angle_deg`` (folded into [0, 180)), ``area_fraction`` (density > 0.5 over the image).
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    if n_fibres is None:
        n_fibres = int(rows * cols / 900)
    centres = rng.uniform([0, 0], [rows, cols], size=(n_fibres, 2))
    angles = angle_deg + angle_sd_deg * rng.standard_normal(n_fibres)
    lengths = rng.uniform(*length_px, size=n_fibres)
    density = fibre_density(shape, centres, angles, lengths, np.full(n_fibres, width_px))
    rgb = stained_section(density, stain=stain, seed=seed + 1)
    truth = {"angle_deg": float(angle_deg % 180.0), "area_fraction": float((density > 0.5).mean())}
    return HistologyPhantom(rgb, density, truth)


def random_fibres(
    shape: tuple[int, int] = (256, 256),
    *,
    stain: str = "psr",
    n_fibres: int | None = None,
    width_px: float = 3.0,
    length_px: tuple[float, float] = (30.0, 80.0),
    seed: int = 0,
) -> HistologyPhantom:
    """Straight fibres with uniformly random orientation (a basket-weave): truth alignment ~ 0."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    if n_fibres is None:
        n_fibres = int(rows * cols / 500)
    centres = rng.uniform([0, 0], [rows, cols], size=(n_fibres, 2))
    # Stratified angles (one per 180/n sector, shuffled): the sample itself is isotropic, so the
    # truth is alignment ~ 0 without the sampling noise of a few dozen uniform draws.
    angles = rng.permutation((np.arange(n_fibres) + rng.uniform(size=n_fibres)) * 180.0 / n_fibres)
    lengths = rng.uniform(*length_px, size=n_fibres)
    density = fibre_density(shape, centres, angles, lengths, np.full(n_fibres, width_px))
    rgb = stained_section(density, stain=stain, seed=seed + 1)
    return HistologyPhantom(rgb, density, {"area_fraction": float((density > 0.5).mean())})


def sparse_fibres(
    shape: tuple[int, int] = (480, 480),
    *,
    grid: int = 4,
    stain: str = "psr",
    width_px: tuple[float, float] = (3.0, 7.0),
    arc_deg: float = 0.0,
    seed: int = 0,
) -> HistologyPhantom:
    """Separated fibres, one per grid cell, of known length, width and straightness.

    With ``arc_deg == 0`` the fibres are straight segments; otherwise each is a circular arc
    subtending ``arc_deg`` (straightness = chord / arc = 2 sin(phi/2) / phi).

    Truth: ``count``; per fibre ``lengths_px`` (tip to tip along the centreline, caps included),
    ``widths_px`` and ``straightness`` (of the centreline).
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    cell_r, cell_c = rows / grid, cols / grid
    cell = min(cell_r, cell_c)
    canvas = np.zeros(shape)
    lengths, widths, straight = [], [], []
    for i in range(grid):
        for j in range(grid):
            centre = np.array([(i + 0.5) * cell_r, (j + 0.5) * cell_c])
            w = float(rng.uniform(*width_px))
            angle = float(rng.uniform(0, 180))
            if arc_deg == 0:
                ln = float(rng.uniform(0.45, 0.7) * cell)
                half = 0.5 * ln * _direction(angle)
                pts = np.array([centre - half, centre + half])
                straight.append(1.0)
            else:
                phi = np.deg2rad(arc_deg)
                chord = float(rng.uniform(0.45, 0.6) * cell)
                radius = chord / (2 * np.sin(phi / 2))
                ln = radius * phi
                # Arc centred in the cell: circle centre offset along the chord's normal.
                t = np.linspace(-phi / 2, phi / 2, max(int(ln / 2), 16))
                a = np.deg2rad(angle)
                u = np.array([-np.sin(a), np.cos(a)])  # chord direction (row, col)
                n = np.array([u[1], -u[0]])
                sagitta = radius * (1 - np.cos(phi / 2))
                circle_c = centre - n * (radius - sagitta / 2)
                pts = circle_c + radius * (np.cos(t)[:, None] * n + np.sin(t)[:, None] * u)
                straight.append(float(2 * np.sin(phi / 2) / phi))
            _draw_polyline(canvas, pts, w)
            lengths.append(ln + w)
            widths.append(w)
    rgb = stained_section(canvas, stain=stain, seed=seed + 1)
    truth = {
        "count": grid * grid,
        "lengths_px": np.array(lengths),
        "widths_px": np.array(widths),
        "straightness": np.array(straight),
        "area_fraction": float((canvas > 0.5).mean()),
    }
    return HistologyPhantom(rgb, canvas, truth)


def he_section(
    size_um: tuple[float, float] = (256.0, 256.0),
    *,
    px_per_um: float = 1.0,
    thickness_um: float = 60.0,
    rete_amplitude_um: float = 15.0,
    rete_wavelength_um: float = 128.0,
    glass_um: float = 40.0,
    seed: int = 0,
) -> HistologyPhantom:
    """H&E-like skin section: glass on top, a haematoxylin-rich epidermis, a pink dermis below.

    The epidermis' lower border (dermal–epidermal junction) undulates like rete ridges:
    thickness(x) = ``thickness_um`` + ``rete_amplitude_um`` sin(2 pi x / ``rete_wavelength_um``),
    measured vertically (the skin surface is horizontal up to a gentle ±2 µm undulation).

    Truth: ``thickness_mean_um`` and ``thickness_sd_um`` of the rendered per-column thickness,
    ``interdigitation_index`` (junction length / straight length), ``epidermis`` (bool mask).
    """
    rng = np.random.default_rng(seed)
    rows, cols = (int(round(s * px_per_um)) for s in size_um)
    x_um = (np.arange(cols) + 0.5) / px_per_um
    surface_um = glass_um + 2.0 * np.sin(2 * np.pi * x_um / (size_um[1] * 1.3) + 0.7)
    thick_um = thickness_um + rete_amplitude_um * np.sin(2 * np.pi * x_um / rete_wavelength_um)
    y_um = (np.arange(rows)[:, None] + 0.5) / px_per_um
    glass = y_um < surface_um[None, :]
    epidermis = (~glass) & (y_um < (surface_um + thick_um)[None, :])
    dermis = ~(glass | epidermis)

    # Dermal collagen: random fibres, widths ~2 µm.
    n = int(rows * cols / (600 * px_per_um**2))
    centres = rng.uniform([0, 0], [rows, cols], size=(n, 2))
    coll = fibre_density(
        (rows, cols),
        centres,
        rng.uniform(0, 180, n),
        rng.uniform(20, 60, n) * px_per_um,
        np.full(n, 2.0 * px_per_um),
    )
    # Keratinocyte nuclei: dense dark dots in the epidermis; sparse fibroblast nuclei in the dermis.
    nuclei = np.zeros((rows, cols))
    dots = rng.random((rows, cols))
    nuclei[epidermis & (dots < 0.02 / px_per_um**2)] = 1
    nuclei[dermis & (dots < 0.0008 / px_per_um**2)] = 1
    nuclei = np.clip(ndi.gaussian_filter(nuclei, 1.6 * px_per_um) * 12 * px_per_um**2, 0, 1)
    haem = 0.45 * epidermis + 0.06 * dermis + 0.9 * nuclei
    eosin = 0.3 * epidermis + (0.35 + 0.6 * coll) * dermis
    rgb = _render((rows, cols), {"haematoxylin": haem, "eosin": eosin})
    rgb[glass] = (0.96, 0.96, 0.95)
    rgb = np.clip(rgb + 0.01 * rng.standard_normal(rgb.shape), 0, 1)

    depth_px = epidermis.sum(axis=0)
    thickness = depth_px / px_per_um
    dej_um = surface_um + thick_um
    dej_len = np.sum(np.hypot(np.diff(x_um), np.diff(dej_um)))
    truth = {
        "thickness_mean_um": float(thickness.mean()),
        "thickness_sd_um": float(thickness.std()),
        "interdigitation_index": float(dej_len / (x_um[-1] - x_um[0])),
        "epidermis": epidermis,
        "glass": glass,
        "px_per_mm": px_per_um * 1000.0,
    }
    return HistologyPhantom(rgb, coll * dermis, truth)


def psr_section(
    shape: tuple[int, int] = (384, 384),
    *,
    density: float = 0.4,
    glass_fraction: float = 0.12,
    seed: int = 0,
) -> np.ndarray:
    """A small, realistic-looking picrosirius-red dermis image; ``density`` sets the collagen amount.

    Wavy collagen bundles in a loose basket-weave on picric-yellow tissue, with a strip of glass
    along the top edge (``glass_fraction`` of the rows, 0 for none). ``density`` in [0, 1] is roughly
    the fraction of tissue covered by collagen (the number of bundles scales with it), so a series
    generated with growing ``density`` shows collagen getting denser after treatment.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    rng = np.random.default_rng(seed)
    rows, cols = shape
    canvas = np.zeros(shape)
    # Each bundle covers about length * width px; draw until the target coverage is met.
    target = density * rows * cols
    covered = 0.0
    main_angle = rng.uniform(0, 180)
    while covered < target and density > 0:
        ln = rng.uniform(40, 140)
        w = rng.uniform(2.5, 7.0)
        angle = main_angle + rng.normal(0, 35)
        start = rng.uniform([0, 0], [rows, cols])
        n_pts = max(int(ln / 6), 3)
        turns = np.cumsum(rng.normal(0, 8, n_pts))
        steps = np.array([_direction(angle + t) for t in turns]) * (ln / n_pts)
        pts = start + np.vstack([np.zeros(2), np.cumsum(steps, axis=0)])
        _draw_polyline(canvas, pts, w)
        covered += ln * w * 0.8
        if covered >= rows * cols:
            break
    glass = np.zeros(shape, dtype=bool)
    glass_rows = int(round(glass_fraction * rows))
    if glass_rows:
        edge = glass_rows + 4 * np.sin(np.arange(cols) / 23.0 + rng.uniform(0, 6))
        glass = np.arange(rows)[:, None] < edge[None, :]
        canvas[glass] = 0
    return stained_section(canvas, stain="psr", seed=seed + 7, glass=glass, noise=0.015)


# ---------------------------------------------------------------------------------------------
# Hard cases for tissue detection, the collagen threshold, the epidermis and polarised PSR.


def _coverage(
    shape: tuple[int, int], strokes: list[tuple[np.ndarray, float]], supersample: int
) -> np.ndarray:
    """Exact-ish area coverage in [0, 1] of polylines (points_rc, width_px), by supersampling.

    Each stroke is drawn ``supersample`` times larger, then block-averaged: a pixel's value is the
    fraction of its area inside a fibre (anti-aliasing as a renderer does it), so the sum of the
    coverage is the fibres' true area.
    """
    s = int(supersample)
    big = np.zeros((shape[0] * s, shape[1] * s))
    for pts, width in strokes:
        # Pixel centres of the fine grid sit at (i + 0.5) / s of a coarse pixel.
        _draw_polyline(big, (np.asarray(pts, dtype=float) + 0.5) * s - 0.5, width * s)
    return big.reshape(shape[0], s, shape[1], s).mean(axis=(1, 3))


def _random_strokes(
    rng: np.random.Generator,
    shape: tuple[int, int],
    n: int,
    width_px: tuple[float, float],
    length_px: tuple[float, float],
    wavy: bool = True,
) -> list[tuple[np.ndarray, float]]:
    rows, cols = shape
    strokes = []
    for _ in range(n):
        ln = rng.uniform(*length_px)
        w = rng.uniform(*width_px)
        start = rng.uniform([0, 0], [rows, cols])
        angle = rng.uniform(0, 180)
        n_pts = max(int(ln / 8), 2)
        turns = np.cumsum(rng.normal(0, 6 if wavy else 0, n_pts))
        steps = np.array([_direction(angle + t) for t in turns]) * (ln / n_pts)
        strokes.append((start + np.vstack([np.zeros(2), np.cumsum(steps, axis=0)]), w))
    return strokes


def antialiased_fibres(
    shape: tuple[int, int] = (384, 384),
    *,
    stain: str = "psr",
    n_fibres: int | None = None,
    width_px: tuple[float, float] = (1.5, 6.0),
    length_px: tuple[float, float] = (30.0, 140.0),
    blur_px: float = 0.0,
    supersample: int = 4,
    noise: float = 0.01,
    seed: int = 0,
) -> HistologyPhantom:
    """Thin to thick wavy fibres rendered by area coverage (anti-aliased), optionally blurred.

    Unlike :func:`aligned_fibres` the edge pixels carry the exact fraction of their area covered
    by a fibre, and ``blur_px`` (Gaussian sigma, px) blurs the *transmitted light* as a microscope's
    point-spread function does, after the Beer–Lambert rendering.

    Truth: ``area_fraction`` — the fibres' true (geometric) area over the image area, i.e. the mean
    coverage; ``area_fraction_px`` — pixels more than half covered.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    if n_fibres is None:
        n_fibres = int(rows * cols / 1400)
    strokes = _random_strokes(rng, shape, n_fibres, width_px, length_px)
    cover = _coverage(shape, strokes, supersample)
    rgb = stained_section(cover, stain=stain, seed=seed + 1, noise=0.0)
    if blur_px > 0:
        rgb = np.stack([ndi.gaussian_filter(rgb[..., c], blur_px) for c in range(3)], axis=2)
    rgb = np.clip(rgb + noise * rng.standard_normal(rgb.shape), 0.0, 1.0)
    truth = {"area_fraction": float(cover.mean()), "area_fraction_px": float((cover > 0.5).mean())}
    return HistologyPhantom(rgb, cover, truth)


def collagen_dermis(
    shape: tuple[int, int] = (320, 320),
    *,
    stain: str = "psr",
    glass_fraction: float = 0.15,
    seed: int = 0,
) -> HistologyPhantom:
    """A dermis that is all collagen: packed bundles of varying stain depth, glass along the top.

    Every tissue pixel is collagen (bundles touch; their stain depth varies 0.7-1.0 with an
    oriented bundle texture and the usual uptake mottle), so the true collagen area fraction of
    tissue is 1. Truth: ``area_fraction`` (1.0), ``tissue`` (bool mask).
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    # Bundles: noise stretched along a common direction (strongly anisotropic Gaussian).
    texture = ndi.gaussian_filter(rng.standard_normal(shape), (1.5, 9.0))
    texture = (texture - texture.min()) / (np.ptp(texture) + 1e-12)
    density = 0.7 + 0.3 * texture
    glass_rows = int(round(glass_fraction * rows))
    glass = np.zeros(shape, dtype=bool)
    if glass_rows:
        edge = glass_rows + 5 * np.sin(np.arange(cols) / 31.0 + rng.uniform(0, 6))
        glass = np.arange(rows)[:, None] < edge[None, :]
    density[glass] = 0.0
    rgb = stained_section(density, stain=stain, seed=seed + 3, glass=glass if glass.any() else None)
    return HistologyPhantom(rgb, density, {"area_fraction": 1.0, "tissue": ~glass})


def pale_section(
    shape: tuple[int, int] = (400, 400),
    *,
    collagen_fraction: float = 0.05,
    fat: bool = True,
    pen: bool = True,
    fold: bool = False,
    seed: int = 0,
) -> HistologyPhantom:
    """Pale, loosely stained PSR tissue with sparse collagen on glass: the hard case for tissue masks.

    A blob-shaped section on glass; its matrix takes only a trace of picric acid (transmits ~86 %
    in blue, so a 0.1 OD cut-off calls it glass), with fat vacuoles (empty, glass-like interiors
    ringed by thin pale membranes), sparse sirius-red fibres covering about
    ``collagen_fraction`` of the section, a green marker-pen stroke across glass and tissue
    (``pen``) and a fold (a band of doubled section, ``fold``).

    Truth: ``tissue`` (the section incl. fat vacuoles, minus the pen stroke and the fold),
    ``area_fraction`` (collagen area — fibre coverage — inside ``tissue`` over its area),
    ``section`` (the whole section outline), ``pen`` and ``fold`` masks.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(float)
    # Section outline: a wobbly ellipse covering ~55 % of the field.
    theta = np.arctan2(rr - rows / 2, cc - cols / 2)
    radius = 1.0 + 0.08 * np.sin(3 * theta + rng.uniform(0, 6)) + 0.05 * np.sin(5 * theta + rng.uniform(0, 6))
    ell = np.hypot((rr - rows / 2) / (0.42 * rows), (cc - cols / 2) / (0.40 * cols))
    section = ell < radius
    # Fat: round vacuoles with 1.5 px membranes, inside the section.
    vacuoles = np.zeros(shape, dtype=bool)
    membranes = np.zeros(shape)
    if fat:
        for _ in range(10):
            r0, c0 = rng.uniform(0.3, 0.7, 2) * (rows, cols)
            rad = rng.uniform(10, 28)
            d = np.hypot(rr - r0, cc - c0)
            if not section[d < rad + 3].all():
                continue
            vacuoles |= d < rad
            membranes = np.maximum(membranes, np.clip(1.25 - np.abs(d - rad), 0, 1))
    # Sparse collagen fibres inside the matrix (not in vacuoles).
    area = section.sum()
    strokes: list[tuple[np.ndarray, float]] = []
    target = collagen_fraction * area
    cover = np.zeros(shape)
    while cover[section & ~vacuoles].sum() < target:
        strokes += _random_strokes(rng, shape, 4, (2.0, 5.0), (30.0, 90.0))
        cover = _coverage(shape, strokes, 4)
    cover = cover * (section & ~vacuoles)
    matrix = section & ~vacuoles
    mottle = ndi.gaussian_filter(rng.standard_normal(shape), 6.0)
    mottle = 1.0 + 0.15 * mottle / (mottle.std() + 1e-12)
    picric = 0.2 * matrix * mottle + 0.5 * membranes * section
    fold_mask = np.zeros(shape, dtype=bool)
    if fold:
        # A band of doubled section: twice the dye along a diagonal strip inside the section.
        dist = np.abs((rr - rows * 0.55) * 0.6 - (cc - cols * 0.5) * 0.8)
        fold_mask = (dist < 20) & section
        picric = picric + 0.2 * fold_mask * mottle
        cover = np.where(fold_mask, np.minimum(2 * cover, 1.0), cover)
    od = np.zeros((*shape, 3))
    od += (1.3 * cover * mottle)[..., None] * _dye_od("sirius_red")
    od += picric[..., None] * _dye_od("picric_yellow")
    if fold:
        od += (1.3 * cover * fold_mask)[..., None] * _dye_od("sirius_red")
    pen_mask = np.zeros(shape, dtype=bool)
    if pen:
        # Green marker: a thick stroke from the glass into the section edge.
        pen_cover = _coverage(
            shape, [(np.array([[0.08 * rows, 0.55 * cols], [0.30 * rows, 0.95 * cols]]), 14.0)], 2
        )
        pen_mask = pen_cover > 0.5
        green_ink_od = -np.log10(np.array([0.18, 0.55, 0.30]))
        od += pen_cover[..., None] * green_ink_od
    glass_rgb = np.array([0.95, 0.95, 0.94])
    rgb = glass_rgb * 10.0 ** (-od)
    rgb = np.clip(rgb + 0.01 * rng.standard_normal(rgb.shape), 0.0, 1.0)
    tissue = section & ~pen_mask & ~fold_mask
    truth = {
        "tissue": tissue,
        "section": section,
        "pen": pen_mask,
        "fold": fold_mask,
        "area_fraction": float(cover[tissue].sum() / tissue.sum()),
    }
    return HistologyPhantom(rgb, cover, truth)


def he_nuclei_section(
    size_um: tuple[float, float] = (256.0, 256.0),
    *,
    px_per_um: float = 1.0,
    thickness_um: float = 60.0,
    stratum_corneum_um: float = 0.0,
    rete_amplitude_um: float = 10.0,
    rete_wavelength_um: float = 128.0,
    glass_um: float = 40.0,
    nucleus_spacing_um: float = 9.0,
    nucleus_radius_um: float = 3.0,
    seed: int = 0,
) -> HistologyPhantom:
    """H&E skin in which haematoxylin marks only nuclei, optionally under a stratum corneum.

    The viable epidermis is pale pink cytoplasm packed with keratinocyte nuclei in layers that
    follow it (basal nuclei 1 µm above the junction, the uppermost 1 µm below the stratum
    corneum, ``nucleus_spacing_um`` apart; nothing between the nuclei takes haematoxylin, unlike
    :func:`he_section`). Above it, a stratum corneum of ``stratum_corneum_um`` is eosinophilic,
    anucleate and lamellar. The dermis is pink collagen with sparse spindle-shaped fibroblast
    nuclei. The viable epidermis is ``thickness_um`` + ``rete_amplitude_um`` sin(2 pi x / wavelength)
    thick, measured vertically.

    Truth: ``thickness_mean_um`` (viable epidermis, without the stratum corneum),
    ``thickness_total_mean_um`` (skin surface to junction, with it), ``stratum_corneum_um``,
    ``thickness_sd_um``, ``interdigitation_index``, ``epidermis`` (viable), ``stratum_corneum``,
    ``glass`` (bool masks), ``px_per_mm``.
    """
    rng = np.random.default_rng(seed)
    rows, cols = (int(round(s * px_per_um)) for s in size_um)
    x_um = (np.arange(cols) + 0.5) / px_per_um
    y_um = (np.arange(rows)[:, None] + 0.5) / px_per_um
    surface_um = glass_um + 2.0 * np.sin(2 * np.pi * x_um / (size_um[1] * 1.3) + 0.7)
    top_um = surface_um + stratum_corneum_um
    thick_um = thickness_um + rete_amplitude_um * np.sin(2 * np.pi * x_um / rete_wavelength_um)
    dej_um = top_um + thick_um
    glass = y_um < surface_um[None, :]
    corneum = (~glass) & (y_um < top_um[None, :])
    epidermis = (y_um >= top_um[None, :]) & (y_um < dej_um[None, :])
    dermis = ~(glass | corneum | epidermis)

    # Nuclei in layers that follow the epidermis, as keratinocytes stratify: the basal layer's
    # nuclei sit 1 µm above the junction, the uppermost layer's 1 µm below the stratum corneum
    # (or the surface), the layers between evenly spaced; ``nucleus_spacing_um`` apart in each layer.
    yy, xx = np.mgrid[0:rows, 0:cols]
    yy_um, xx_um = (yy + 0.5) / px_per_um, (xx + 0.5) / px_per_um
    nuclei = np.zeros((rows, cols))
    s = nucleus_spacing_um
    r0 = nucleus_radius_um
    n_layers = max(int(round((thickness_um - 2 * (r0 + 1)) / s)) + 1, 2)
    for k in range(n_layers):
        offset = rng.uniform(0, s)
        for gx in np.arange(offset, size_um[1], s):
            cx = gx + rng.uniform(-0.15, 0.15) * s
            col = min(max(int(cx * px_per_um), 0), cols - 1)
            span = dej_um[col] - top_um[col] - 2 * (r0 + 1)
            cy = top_um[col] + r0 + 1 + k * span / (n_layers - 1)
            if 0 < k < n_layers - 1:
                cy += rng.uniform(-0.1, 0.1) * s
            r = r0 * rng.uniform(0.85, 1.15) if 0 < k < n_layers - 1 else r0
            d = np.hypot(yy_um - cy, xx_um - cx)
            nuclei = np.maximum(nuclei, np.clip((r - d) * px_per_um + 0.5, 0, 1))
    # Fibroblasts: sparse spindles in the dermis.
    fibro = np.zeros((rows, cols))
    n_fibro = int(size_um[0] * size_um[1] / 1500)
    for _ in range(n_fibro):
        cy, cx = rng.uniform(0, size_um[0]), rng.uniform(0, size_um[1])
        col = min(int(cx * px_per_um), cols - 1)
        if cy < dej_um[col] + 8:
            continue
        a = rng.uniform(0, np.pi)
        u = (yy_um - cy) * np.cos(a) + (xx_um - cx) * np.sin(a)
        v = -(yy_um - cy) * np.sin(a) + (xx_um - cx) * np.cos(a)
        fibro = np.maximum(fibro, np.clip(1.5 - np.hypot(u / 6.0, v / 1.5) * 1.5, 0, 1))
    n = int(rows * cols / (600 * px_per_um**2))
    coll = fibre_density(
        (rows, cols),
        rng.uniform([0, 0], [rows, cols], size=(n, 2)),
        rng.uniform(0, 180, n),
        rng.uniform(20, 60, n) * px_per_um,
        np.full(n, 2.0 * px_per_um),
    )
    lamellae = 0.75 + 0.25 * np.sin(2 * np.pi * yy_um / 3.0 + 0.3 * np.sin(xx_um / 7.0))
    haem = 1.0 * nuclei * epidermis + 0.9 * fibro * dermis
    eosin = 0.3 * epidermis + 0.6 * lamellae * corneum + (0.35 + 0.6 * coll) * dermis
    rgb = _render((rows, cols), {"haematoxylin": haem, "eosin": eosin})
    rgb[glass] = (0.96, 0.96, 0.95)
    rgb = np.clip(rgb + 0.01 * rng.standard_normal(rgb.shape), 0, 1)

    viable = epidermis.sum(axis=0) / px_per_um
    total = (epidermis | corneum).sum(axis=0) / px_per_um
    dej_len = np.sum(np.hypot(np.diff(x_um), np.diff(dej_um)))
    truth = {
        "thickness_mean_um": float(viable.mean()),
        "thickness_sd_um": float(viable.std()),
        "thickness_total_mean_um": float(total.mean()),
        "stratum_corneum_um": float(corneum.sum(axis=0).mean() / px_per_um),
        "interdigitation_index": float(dej_len / (x_um[-1] - x_um[0])),
        "epidermis": epidermis,
        "stratum_corneum": corneum,
        "glass": glass,
        "px_per_mm": px_per_um * 1000.0,
    }
    return HistologyPhantom(rgb, coll * dermis, truth)


#: Hues (degrees) and brightness of the polarised-PSR phantom's fibre colours, each well inside
#: its Rich & Whittaker class (see :mod:`texture.polarized`).
POLARIZED_COLORS = {
    "red": (356.0, 0.92),
    "orange": (32.0, 0.90),
    "yellow": (63.0, 0.80),
    "green": (115.0, 0.50),
}


def _hsv_to_rgb(h_deg: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, s, v))


def polarized_psr(
    shape: tuple[int, int] = (480, 480),
    *,
    fractions: dict[str, float] | None = None,
    grid: int = 8,
    width_px: tuple[float, float] = (2.0, 7.0),
    blur_px: float = 0.7,
    background: float = 0.03,
    noise: float = 0.01,
    seed: int = 0,
) -> HistologyPhantom:
    """Picrosirius red under crossed polarisers: coloured birefringent fibres on a dark field.

    One fibre per grid cell (separated, so colours do not mix), each red, orange, yellow or green
    with a hue jitter of ±3° inside its class, drawn by area coverage (anti-aliased) over a near-black
    background, then blurred by ``blur_px``. Green (thin) fibres are dimmer, as in real sections.
    The classes are assigned so that their areas approach ``fractions`` (default red 0.35, orange
    0.25, yellow 0.15, green 0.25).

    Truth: per class ``<colour>_fraction`` — its area (fibre coverage) over the total fibre area —
    and ``area_fraction`` (total fibre area over the image), ``labels`` (0 background, 1-4 red,
    orange, yellow, green where a fibre covers more than half a pixel).
    """
    rng = np.random.default_rng(seed)
    if fractions is None:
        fractions = {"red": 0.35, "orange": 0.25, "yellow": 0.15, "green": 0.25}
    names = list(POLARIZED_COLORS)
    if set(fractions) - set(names):
        raise ValueError(f"fractions keys must be among {names}")
    want = np.array([fractions.get(k, 0.0) for k in names], dtype=float)
    want = want / want.sum()
    rows, cols = shape
    cell_r, cell_c = rows / grid, cols / grid
    strokes: dict[str, list[tuple[np.ndarray, float]]] = {k: [] for k in names}
    got = np.zeros(len(names))
    cells = [(i, j) for i in range(grid) for j in range(grid)]
    rng.shuffle(cells)
    for i, j in cells:
        centre = np.array([(i + 0.5) * cell_r, (j + 0.5) * cell_c])
        w = float(rng.uniform(*width_px))
        ln = float(rng.uniform(0.45, 0.7) * min(cell_r, cell_c))
        half = 0.5 * ln * _direction(float(rng.uniform(0, 180)))
        # Greedy: give the fibre to the class furthest below its target share (area of a
        # round-capped segment: ln * w + pi * w^2 / 4).
        share = got / got.sum() if got.sum() else np.zeros_like(got)
        k = int(np.argmax(want - share))
        strokes[names[k]].append((np.array([centre - half, centre + half]), w))
        got[k] += ln * w + np.pi * w * w / 4
    covers = {k: _coverage(shape, strokes[k], 4) for k in names}
    rgb = np.full((*shape, 3), background)
    labels = np.zeros(shape, dtype=np.int32)
    for idx, k in enumerate(names, start=1):
        hue, value = POLARIZED_COLORS[k]
        c = covers[k]
        # Per-pixel hue jitter per fibre would need fibre ids; a smooth field within ±3° suffices.
        jitter = 3.0 * np.tanh(ndi.gaussian_filter(rng.standard_normal(shape), 20.0) * 40.0)
        colour = np.stack([_hsv_to_rgb(hue + j, 0.9, value) for j in (-3.0, 0.0, 3.0)])
        pick = np.clip(np.round((jitter + 3.0) / 3.0).astype(int), 0, 2)
        fibre_rgb = colour[pick]
        rgb = rgb * (1 - c[..., None]) + fibre_rgb * c[..., None]
        labels[c > 0.5] = idx
    if blur_px > 0:
        rgb = np.stack([ndi.gaussian_filter(rgb[..., ch], blur_px) for ch in range(3)], axis=2)
    rgb = np.clip(rgb + noise * rng.standard_normal(rgb.shape), 0.0, 1.0)
    total = sum(c.sum() for c in covers.values())
    truth: dict[str, Any] = {f"{k}_fraction": float(covers[k].sum() / total) for k in names}
    truth["area_fraction"] = float(total / (rows * cols))
    truth["labels"] = labels
    return HistologyPhantom(rgb, sum(covers.values()), truth)
