"""Synthetic photos with known truth for registration and colour correction.

- :func:`skin_background`: a skin-like textured float sRGB image (tone gradient, pores, spots, fine grain),
  the scene the registration tests move around.
- :func:`colorchart_photo`: that skin with an X-Rite ColorChecker Classic 24 drawn on it from the published
  reference colours (:data:`texture.colorchart.COLORCHECKER_SRGB`), then a known colour cast and exposure
  change applied in linear RGB, as a camera with the wrong white balance would.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from texture.color import linear_to_srgb, srgb_to_linear
from texture.colorchart import COLORCHECKER_SRGB

__all__ = ["skin_background", "ColorChartPhantom", "colorchart_photo", "CHART_LAYOUT"]

# Proportions of the Classic 24 (patch pitch = 1): patches 0.8 wide, black gaps 0.2, frame 0.35.
CHART_LAYOUT = {"patch": 0.8, "gap": 0.2, "frame": 0.35}


def skin_background(
    shape: tuple[int, int] = (512, 512),
    *,
    seed: int = 0,
    base_rgb: tuple[float, float, float] = (0.80, 0.60, 0.50),
    pore_density: float = 0.004,
) -> np.ndarray:
    """A skin-like float sRGB image: smooth tone variation, dark pores, a few spots and fine grain.

    Parameters
    ----------
    shape : (rows, cols)
    seed : int
        Everything random comes from ``numpy.random.default_rng(seed)``.
    base_rgb : 3 floats
        Mean skin colour in sRGB (default a light skin, L* about 67).
    pore_density : float
        Pores per pixel (dark Gaussian dots 1.5-3 px in radius).
    """
    rows, cols = shape
    rng = np.random.default_rng(seed)
    lin = srgb_to_linear(np.asarray(base_rgb, dtype=np.float64))
    shade = 1.0 + 0.15 * ndi.gaussian_filter(rng.standard_normal(shape), sigma=min(shape) / 8.0) * (
        min(shape) / 8.0
    )
    shade = np.clip(shade, 0.7, 1.3)
    grain = 1.0 + 0.04 * ndi.gaussian_filter(rng.standard_normal(shape), 1.0) * 2.0
    # Pores: impulses blurred by Gaussians of three radius classes (peak darkening 0.45 each).
    darkening = np.zeros(shape)
    n_pores = int(pore_density * rows * cols)
    rr = rng.integers(0, rows, n_pores)
    cc = rng.integers(0, cols, n_pores)
    radius_class = rng.integers(0, 3, n_pores)
    for k, rad in enumerate((1.5, 2.2, 3.0)):
        impulses = np.zeros(shape)
        pick = radius_class == k
        np.add.at(impulses, (rr[pick], cc[pick]), 0.45 * 2 * np.pi * rad**2)
        darkening += ndi.gaussian_filter(impulses, rad, mode="constant")
    yy, xx = np.mgrid[0:rows, 0:cols]
    # A few larger pigmented spots: brown (more absorption in blue/green than red).
    spots = np.zeros(shape)
    for _ in range(max(1, rows * cols // 40000)):
        r0, c0, rad = rng.uniform(0, rows), rng.uniform(0, cols), rng.uniform(6, 14)
        spots += 0.5 * np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / (2 * rad**2))
    transmit = np.exp(-np.clip(darkening, 0, 2))[..., None] * np.exp(
        -spots[..., None] * np.array([0.5, 0.9, 1.1])
    )
    out = lin[None, None, :] * (shade * grain)[..., None] * transmit
    return linear_to_srgb(np.clip(out, 0.0, 1.0))


@dataclass
class ColorChartPhantom:
    """A synthetic chart photo and its truth.

    Attributes
    ----------
    rgb : ndarray (rows, cols, 3)
        The photo as the camera delivers it (cast and exposure applied), float sRGB in [0, 1].
    reference_rgb : ndarray (rows, cols, 3)
        The same scene without cast or exposure change (what a perfect correction gives back).
    chart_corners : ndarray (4, 2)
        Outer corners of the chart's black frame, (x, y) = (column, row) pixels: top-left, top-right,
        bottom-right, bottom-left of the chart as printed (patch 1, dark skin, is at the top-left).
    patch_centers : ndarray (24, 2)
        Patch centres (x, y) in reading order of the chart (dark skin ... black).
    skin_mask : ndarray of bool
        Pixels of skin (not chart).
    cast_matrix : ndarray (3, 3)
        The linear-RGB matrix applied to every pixel (exposure included): ``camera = cast @ true``.
    """

    rgb: np.ndarray
    reference_rgb: np.ndarray
    chart_corners: np.ndarray
    patch_centers: np.ndarray
    skin_mask: np.ndarray
    cast_matrix: np.ndarray


def colorchart_photo(
    shape: tuple[int, int] = (480, 640),
    *,
    cast: tuple[float, float, float] = (1.25, 1.0, 0.70),
    crosstalk: float = 0.05,
    exposure: float = 1.0,
    chart_center: tuple[float, float] | None = None,
    chart_width: float | None = None,
    chart_angle_deg: float = 0.0,
    noise_sd: float = 0.004,
    seed: int = 0,
) -> ColorChartPhantom:
    """A skin photo bearing a ColorChecker Classic 24, with a known colour cast and exposure change.

    The chart is drawn from :data:`texture.colorchart.COLORCHECKER_SRGB` (X-Rite post-November-2014 values),
    four rows of six patches on a black frame, rotated by ``chart_angle_deg`` (counter-clockwise on
    screen). The cast is ``exposure * diag(cast)`` mixed with ``crosstalk`` of the other channels, applied in
    linear RGB; then Gaussian noise of ``noise_sd`` in sRGB.

    Parameters
    ----------
    shape : (rows, cols)
    cast : 3 floats
        Per-channel linear gains (R, G, B): the default is a warm (tungsten-like) cast.
    crosstalk : float
        Fraction of each other channel leaking in (a non-diagonal cast, which a white balance cannot fix).
    exposure : float
        Overall linear gain (1.04 = a flash 4 % brighter).
    chart_center : (x, y), optional
        Centre of the chart in pixels; default in the lower right part of the image.
    chart_width : float, optional
        Width of the chart frame in pixels; default 45 % of the image width.
    chart_angle_deg : float
    noise_sd : float
    seed : int
    """
    rows, cols = shape
    truth_rgb = skin_background(shape, seed=seed)
    width = 0.45 * cols if chart_width is None else float(chart_width)
    pitch = width / (6 + 2 * CHART_LAYOUT["frame"] - CHART_LAYOUT["gap"])
    frame = CHART_LAYOUT["frame"] * pitch
    height = 4 * pitch - CHART_LAYOUT["gap"] * pitch + 2 * frame
    if chart_center is None:
        chart_center = (cols - 0.55 * width, rows - 0.6 * height)
    cx, cy = chart_center
    theta = np.radians(chart_angle_deg)
    # Chart coordinates (u right, v down, origin at chart's top-left outer corner) to image (x, y);
    # counter-clockwise on screen with rows going down means y decreases for +theta.
    rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])

    def to_image(uv: np.ndarray) -> np.ndarray:
        centred = np.asarray(uv, dtype=np.float64) - np.array([width / 2, height / 2])
        return centred @ rot.T + np.array([cx, cy])

    corners = to_image(np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float))
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    # Inverse map every pixel to chart coordinates.
    uv = (np.stack([xx - cx, yy - cy], axis=-1) @ rot) + np.array([width / 2, height / 2])
    u, v = uv[..., 0], uv[..., 1]
    inside_chart = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    chart_rgb = np.full((rows, cols, 3), 0.09)  # the frame's near-black
    centers_uv = []
    half = CHART_LAYOUT["patch"] * pitch / 2
    for k, colour in enumerate(COLORCHECKER_SRGB):
        i, j = divmod(k, 6)
        pu = frame + j * pitch + half
        pv = frame + i * pitch + half
        centers_uv.append((pu, pv))
        in_patch = (np.abs(u - pu) < half) & (np.abs(v - pv) < half)
        chart_rgb[in_patch] = colour
    scene = np.where(inside_chart[..., None], chart_rgb, truth_rgb)
    # Anti-alias the drawn edges a little, as a lens would.
    scene = np.stack([ndi.gaussian_filter(scene[..., c], 0.7) for c in range(3)], axis=-1)
    cast_matrix = (1 - 2 * crosstalk) * np.diag(cast) + crosstalk * (np.ones((3, 3)) - np.eye(3)) * np.mean(
        cast
    )
    cast_matrix = exposure * cast_matrix
    camera_lin = srgb_to_linear(scene) @ cast_matrix.T
    camera = linear_to_srgb(np.clip(camera_lin, 0.0, 1.0))
    rng = np.random.default_rng(seed + 1)
    camera = np.clip(camera + rng.normal(0.0, noise_sd, camera.shape), 0.0, 1.0)
    mask_chart = cv2.fillConvexPoly(np.zeros(shape, np.uint8), np.round(corners).astype(np.int32), 1).astype(
        bool
    )
    return ColorChartPhantom(
        rgb=camera,
        reference_rgb=scene,
        chart_corners=corners,
        patch_centers=to_image(np.array(centers_uv)),
        skin_mask=~ndi.binary_dilation(mask_chart, iterations=3),
        cast_matrix=cast_matrix,
    )
