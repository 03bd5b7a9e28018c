"""Chart-based colour correction and exposure normalisation of photos.

Reference chart: X-Rite (Calibrite) ColorChecker Classic 24, edition after November 2014. The reference
values are X-Rite's published CIELAB (D50 illuminant, 2° observer; X-Rite 2016, "New color specifications
for ColorChecker SG and Classic Charts"; the same numbers as ``CCS_COLORCHECKER24_AFTER_NOV2014`` in the
colour-science package). They are converted once, at import, to what an ideal sRGB camera would record:
Lab(D50) -> XYZ(D50, white 0.96422, 1, 0.82521) -> Bradford chromatic adaptation to D65 -> linear sRGB
(IEC 61966-2-1 matrix) -> sRGB encoding. The cyan patch lies slightly outside the sRGB gamut (linear red
-0.044): :data:`COLORCHECKER_SRGB` clips it, :data:`COLORCHECKER_LINEAR_SRGB` keeps it unclipped for
fitting, and :data:`COLORCHECKER_LAB_D65` is the unclipped colorimetric truth used for ΔE (so a perfectly
rendered sRGB cyan still shows ΔE00 3.4 against it: the gamut's limit, not an error of the correction).

Colour differences are CIEDE2000 (ΔE00, Sharma, Wu & Dalal 2005) between CIELAB values computed in float
with the D65 white of sRGB (:func:`texture.color.rgb_to_lab`).

Kept apart from :mod:`texture.color` (indices on already-corrected images) because it carries the chart
data, the detector and the fitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from skimage.color import lab2xyz, xyz2lab

from texture.color import delta_e, linear_to_srgb, rgb_to_lab, srgb_to_linear
from texture.measurement import check_rgb

__all__ = [
    "COLORCHECKER_NAMES",
    "COLORCHECKER_LAB_D50",
    "COLORCHECKER_LAB_D65",
    "COLORCHECKER_LINEAR_SRGB",
    "COLORCHECKER_SRGB",
    "ChartDetection",
    "detect_colorchecker",
    "may_hold_chart",
    "chart_from_corners",
    "color_correction_matrix",
    "apply_color_correction",
    "chart_delta_e",
]

COLORCHECKER_NAMES: tuple[str, ...] = (
    "dark skin",
    "light skin",
    "blue sky",
    "foliage",
    "blue flower",
    "bluish green",
    "orange",
    "purplish blue",
    "moderate red",
    "purple",
    "yellow green",
    "orange yellow",
    "blue",
    "green",
    "red",
    "yellow",
    "magenta",
    "cyan",
    "white 9.5",
    "neutral 8",
    "neutral 6.5",
    "neutral 5",
    "neutral 3.5",
    "black 2",
)

#: X-Rite ColorChecker Classic 24 (after November 2014), CIELAB D50 2°, reading order (row by row from the
#: dark-skin corner). Source: X-Rite (2016), as tabulated in colour-science
#: ``DATA_COLORCHECKER24_AFTER_NOV2014_CIE_LAB``.
COLORCHECKER_LAB_D50: np.ndarray = np.array(
    [
        [37.54, 14.37, 14.92],
        [64.66, 19.27, 17.50],
        [49.32, -3.82, -22.54],
        [43.46, -12.74, 22.72],
        [54.94, 9.61, -24.79],
        [70.48, -32.26, -0.37],
        [62.73, 35.83, 56.50],
        [39.43, 10.75, -45.17],
        [50.57, 48.64, 16.67],
        [30.10, 22.54, -20.87],
        [71.77, -24.13, 58.19],
        [71.51, 18.24, 67.37],
        [28.37, 15.42, -49.80],
        [54.38, -39.72, 32.27],
        [42.43, 51.05, 28.62],
        [81.80, 2.67, 80.41],
        [50.63, 51.28, -14.12],
        [49.57, -29.71, -28.32],
        [95.19, -1.03, 2.93],
        [81.29, -0.57, 0.44],
        [66.89, -0.75, -0.06],
        [50.76, -0.13, 0.14],
        [35.63, -0.46, -0.48],
        [20.64, 0.07, -0.46],
    ]
)

# Bradford cone response matrix (Lam 1985; Lindbloom's chromatic adaptation page) and the white points skimage
# uses for D50 / D65 (2°).
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
_WHITE_D50 = np.array([0.96422, 1.0, 0.82521])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_XYZ_TO_LINEAR_SRGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)


def _reference_d65() -> tuple[np.ndarray, np.ndarray]:
    adapt = (
        np.linalg.inv(_BRADFORD) @ np.diag((_BRADFORD @ _WHITE_D65) / (_BRADFORD @ _WHITE_D50)) @ _BRADFORD
    )
    xyz_d50 = lab2xyz(COLORCHECKER_LAB_D50[None], illuminant="D50")[0]
    xyz_d65 = xyz_d50 @ adapt.T
    return xyz_d65, xyz2lab(xyz_d65[None], illuminant="D65")[0]


_XYZ_D65, _LAB_D65 = _reference_d65()
#: The chart in linear sRGB (D65), unclipped: cyan's red is slightly negative (outside the gamut).
COLORCHECKER_LINEAR_SRGB: np.ndarray = _XYZ_D65 @ _XYZ_TO_LINEAR_SRGB.T
#: The chart as float sRGB in [0, 1] (gamut-clipped); dark skin is (116, 79, 65) / 255.
COLORCHECKER_SRGB: np.ndarray = linear_to_srgb(COLORCHECKER_LINEAR_SRGB)
#: The chart in CIELAB relative to D65 (Bradford-adapted from the published D50 values): the ΔE reference.
COLORCHECKER_LAB_D65: np.ndarray = _LAB_D65
for _const in (COLORCHECKER_LAB_D50, COLORCHECKER_LINEAR_SRGB, COLORCHECKER_SRGB, COLORCHECKER_LAB_D65):
    _const.setflags(write=False)


def _patch_lab(patch_rgb: np.ndarray) -> np.ndarray:
    patch_rgb = np.asarray(patch_rgb, dtype=np.float64)
    if patch_rgb.ndim != 2 or patch_rgb.shape[1] != 3:
        raise ValueError(f"patch colours must have shape (n_patches, 3), got {patch_rgb.shape}")
    return rgb_to_lab(np.clip(patch_rgb, 0.0, 1.0)[None])[0]


def chart_delta_e(patch_rgb: np.ndarray, reference_lab: np.ndarray | None = None) -> np.ndarray:
    """ΔE00 of each measured chart patch (float sRGB, shape (24, 3)) against the reference CIELAB
    (default :data:`COLORCHECKER_LAB_D65`)."""
    reference = COLORCHECKER_LAB_D65 if reference_lab is None else np.asarray(reference_lab, float)
    lab = _patch_lab(patch_rgb)
    if lab.shape != reference.shape:
        raise ValueError(f"{lab.shape[0]} patches measured but {reference.shape[0]} reference values")
    return delta_e(lab, reference)


@dataclass
class ChartDetection:
    """A ColorChecker found in a photo.

    Attributes
    ----------
    patch_rgb : ndarray (24, 3)
        Mean colour of the central part of each patch, float sRGB (averaged in linear light), in the
        chart's reading order (dark skin ... black), whatever the chart's orientation in the photo.
    patch_centers : ndarray (24, 2)
        Patch centres in (x, y) = (column, row) pixels, same order.
    corners : ndarray (4, 2)
        Outer corners of the patch area, (x, y): dark-skin corner, bluish-green corner, black corner,
        white corner.
    chart_mask : ndarray of bool (rows, cols)
        Pixels covered by the chart (patches and frame): exclude them from skin measurements.
    outline : ndarray (4, 2)
        The polygon (x, y) filled to make ``chart_mask`` (``corners`` widened by 15 % for the frame).
    method : str
        ``"mcc"`` (OpenCV's Macbeth chart detector), ``"grid"`` (this module's fallback) or ``"corners"``
        (corners given by the user).
    """

    patch_rgb: np.ndarray
    patch_centers: np.ndarray
    corners: np.ndarray
    chart_mask: np.ndarray
    method: str
    outline: np.ndarray


def _sample_patches(rgb: np.ndarray, polygons: np.ndarray, *, shrink: float = 0.5) -> np.ndarray:
    """Mean sRGB colour (averaged in linear light) inside each patch polygon shrunk about its centre,
    so that blurred edges and the black gaps do not leak in."""
    rows, cols = rgb.shape[:2]
    out = np.empty((len(polygons), 3))
    for k, poly in enumerate(polygons):
        centre = poly.mean(axis=0)
        inner = centre + shrink * (poly - centre)
        x0, y0 = np.floor(inner.min(axis=0)).astype(int)
        x1, y1 = np.ceil(inner.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cols), min(y1, rows)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"chart patch {k + 1} lies outside the image")
        local = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(local, np.round((inner - [x0, y0]) * 16).astype(np.int32), 1, shift=4)
        if not local.any():
            raise ValueError(f"chart patch {k + 1} is too small to sample")
        # Linearise only the patch's box: a 12-megapixel photo is never converted as a whole.
        out[k] = srgb_to_linear(rgb[y0:y1, x0:x1][local.astype(bool)]).mean(axis=0)
    return linear_to_srgb(out)


def _outline(corners: np.ndarray, *, margin: float = 0.15) -> np.ndarray:
    centre = corners.mean(axis=0)
    return centre + (1.0 + margin) * (corners - centre)


def _chart_mask(shape: tuple[int, int], outline: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(outline * 16).astype(np.int32), 1, shift=4)
    return mask.astype(bool)


# Patch layout in units of the patch pitch (centre-to-centre distance): patches are about 0.8 pitch wide on
# the printed chart; sampling only the central half of each makes the exact gap width irrelevant.
_PATCH_FRACTION = 0.8


def _grid_polygons(corners: np.ndarray) -> np.ndarray:
    """Patch polygons (24, 4, 2) of a chart whose patch-area corners are ``corners`` (reading order)."""
    width = 6 - (1 - _PATCH_FRACTION)
    height = 4 - (1 - _PATCH_FRACTION)
    canonical = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    hom = cv2.getPerspectiveTransform(canonical.astype(np.float32), corners.astype(np.float32))
    polys = []
    for k in range(24):
        i, j = divmod(k, 6)
        x0, y0 = j, i
        square = np.array(
            [
                [x0, y0],
                [x0 + _PATCH_FRACTION, y0],
                [x0 + _PATCH_FRACTION, y0 + _PATCH_FRACTION],
                [x0, y0 + _PATCH_FRACTION],
            ],
            np.float64,
        )
        polys.append(cv2.perspectiveTransform(square[None], hom)[0])
    return np.array(polys)


def chart_from_corners(rgb: np.ndarray, corners: np.ndarray) -> ChartDetection:
    """Sample a ColorChecker Classic 24 whose patch-area corners the user gives.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB photo in [0, 1].
    corners : array-like (4, 2)
        (x, y) = (column, row) pixel coordinates of the outer corners of the patch area (not the frame):
        the corner at dark skin, then at bluish green, black and white (going round the chart).
    """
    rgb = check_rgb(rgb)
    corners = np.asarray(corners, dtype=np.float64)
    if corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
        raise ValueError(f"corners must be 4 finite (x, y) points, got shape {corners.shape}")
    polygons = _grid_polygons(corners)
    return ChartDetection(
        patch_rgb=_sample_patches(rgb, polygons),
        patch_centers=polygons.mean(axis=1),
        corners=corners,
        chart_mask=_chart_mask(rgb.shape[:2], _outline(corners)),
        outline=_outline(corners),
        method="corners",
    )


def _detect_mcc(rgb: np.ndarray, *, work_size: int = 1200) -> ChartDetection | None:
    if not hasattr(cv2, "mcc"):
        return None
    # A chart is large in the frame: finding it on a copy at most ``work_size`` wide is enough (and a
    # 12-megapixel photo takes cv2.mcc seconds); the patches are then sampled on the full image.
    base = min(1.0, work_size / max(rgb.shape[:2]))
    small = rgb if base == 1.0 else cv2.resize(rgb, None, fx=base, fy=base, interpolation=cv2.INTER_AREA)
    bgr = np.round(np.clip(small[..., ::-1], 0.0, 1.0) * 255).astype(np.uint8)
    # cv2.mcc misses some charts at one scale and finds them at another (e.g. a perfectly axis-aligned
    # synthetic chart), so try the copy as it is and then slightly reduced.
    for factor in (1.0, 0.8):
        scale = base * factor
        img = (
            bgr
            if factor == 1.0
            else cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        )
        detector = cv2.mcc.CCheckerDetector_create()
        if not detector.process(img, 1):
            continue
        checker = detector.getBestColorChecker()
        polygons = np.asarray(checker.getColorCharts(), dtype=np.float64).reshape(-1, 4, 2)
        if polygons.shape[0] != 24:
            continue
        # Back to full-resolution pixel coordinates (pixel centres stay centred).
        polygons = (polygons + 0.5) / scale - 0.5
        centres = polygons.mean(axis=1)
        pitch = np.median(np.linalg.norm(np.diff(centres.reshape(4, 6, 2), axis=1), axis=-1))
        # Corners of the patch area: extrapolate the corner patches' centres by half a patch.
        grid = centres.reshape(4, 6, 2)
        ex = (grid[0, -1] - grid[0, 0]) / 5.0
        ey = (grid[-1, 0] - grid[0, 0]) / 3.0
        half = _PATCH_FRACTION / 2.0
        corners = np.array(
            [
                grid[0, 0] - half * ex - half * ey,
                grid[0, -1] + half * ex - half * ey,
                grid[-1, -1] + half * ex + half * ey,
                grid[-1, 0] - half * ex + half * ey,
            ]
        )
        if not np.isfinite(pitch) or pitch < 4:
            continue
        try:
            patch_rgb = _sample_patches(rgb, polygons)
        except ValueError:  # a patch cut off by the image border
            continue
        return ChartDetection(
            patch_rgb=patch_rgb,
            patch_centers=centres,
            corners=corners,
            chart_mask=_chart_mask(rgb.shape[:2], _outline(corners)),
            outline=_outline(corners),
            method="mcc",
        )
    return None


def color_correction_matrix(
    measured_rgb: np.ndarray,
    reference_rgb: np.ndarray | None = None,
    *,
    affine: bool = False,
    saturation_limit: float = 0.98,
) -> np.ndarray:
    """Least-squares colour-correction matrix from measured chart patches to their reference, in linear RGB.

    Solves ``min_M sum_k |M @ lin(measured_k) - lin(reference_k)|^2`` (ordinary least squares over the
    patches and channels; ``lin`` undoes the sRGB curve). In linear light a change of illuminant or exposure
    is (to first order) a 3x3 matrix, which is why the fit is done there and not on encoded sRGB.

    Parameters
    ----------
    measured_rgb : ndarray (n, 3)
        Patch colours as photographed, float sRGB in [0, 1].
    reference_rgb : ndarray (n, 3), optional
        Their true colours, float sRGB. Default: the ColorChecker Classic 24
        (:data:`COLORCHECKER_LINEAR_SRGB`, unclipped, so the slightly out-of-gamut cyan pulls towards its
        true colour).
    affine : bool
        Fit a 3x4 matrix ``[M | t]`` (with an offset, e.g. for flare) instead of 3x3.
    saturation_limit : float
        Patches with any measured channel at or above this are clipped highlights, no longer linear in
        the light, and are left out of the fit.

    Returns
    -------
    ndarray (3, 3) or (3, 4)
        Apply it with :func:`apply_color_correction`.
    """
    measured = np.asarray(measured_rgb, dtype=np.float64)
    if measured.ndim != 2 or measured.shape[1] != 3:
        raise ValueError(f"measured_rgb must have shape (n_patches, 3), got {measured.shape}")
    if reference_rgb is None:
        target = np.asarray(COLORCHECKER_LINEAR_SRGB)
    else:
        target = srgb_to_linear(np.asarray(reference_rgb, dtype=np.float64))
    if target.shape != measured.shape:
        raise ValueError(f"{measured.shape[0]} measured patches but {target.shape[0]} references")
    if not (np.all(np.isfinite(measured)) and np.all(np.isfinite(target))):
        raise ValueError("patch colours contain NaN or infinite values")
    usable = np.all(measured < saturation_limit, axis=1)
    n_params = 4 if affine else 3
    if usable.sum() < n_params + 3:
        raise ValueError(
            f"only {int(usable.sum())} unsaturated patches: too few to fit a colour-correction matrix"
        )
    source = srgb_to_linear(measured[usable])
    if affine:
        source = np.hstack([source, np.ones((source.shape[0], 1))])
    solution, *_ = np.linalg.lstsq(source, target[usable], rcond=None)
    return solution.T


def apply_color_correction(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a colour-correction matrix (3x3 or 3x4 from :func:`color_correction_matrix`) to a float sRGB
    image: linearise, multiply, clip to [0, 1], re-encode as sRGB."""
    rgb = check_rgb(rgb)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape not in ((3, 3), (3, 4)) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"colour-correction matrix must be finite 3x3 or 3x4, got {matrix.shape}")
    linear = srgb_to_linear(rgb) @ matrix[:, :3].T
    if matrix.shape[1] == 4:
        linear = linear + matrix[:, 3]
    return linear_to_srgb(linear)


def _chart_fits(patch_rgb: np.ndarray, *, max_delta_e: float) -> bool:
    """Whether 24 sampled colours behave like a ColorChecker in reading order: after the best 3x3 linear
    fit they must match the reference to within ``max_delta_e`` on average (a misread chart, a wrong
    orientation or something else entirely fits far worse)."""
    try:
        matrix = color_correction_matrix(patch_rgb)
    except ValueError:
        return False
    fitted = linear_to_srgb(srgb_to_linear(patch_rgb) @ matrix.T)
    return float(np.mean(chart_delta_e(fitted))) <= max_delta_e


#: Hue angles h_ab (degrees) that skin never has under any white light but five or more of the chart's
#: patches keep even under a strong tungsten cast: greens, cyans and blues.
_CHART_ONLY_HUES_DEG = (120.0, 300.0)
#: Chroma C*ab above which a pixel counts as one of those colours: the bluish green, blue, green and cyan
#: patches keep 19-45 under a (1, 0.6, 0.3) cast with 5 % crosstalk; grey-blue shadows, veins and a drawn
#: face's eyes stay below.
_CHART_ONLY_MIN_CHROMA = 15.0


def may_hold_chart(rgb: np.ndarray, *, work_size: int = 800, min_pixels: int = 12) -> bool:
    """Whether a photo can hold a ColorChecker at all: a cheap gate before the detectors.

    Every detection must map the chart's 24 colours onto the reference with a small error, so a chart in
    the photo shows its green, cyan and blue patches: hue angle h_ab in 120-300 deg with chroma above 10.
    Simulated on the reference colours, 8 patches qualify under daylight and 4 (bluish green, blue,
    green, cyan) still do with linear channel gains of (1, 0.6, 0.3) and 5 % crosstalk, a stronger
    tungsten cast than an uncorrected incandescent lamp gives; skin, hair and a dark surround have none
    (bluish dermoscopy photos and blue eyes do, and are searched as before). Below
    ``min_pixels`` such pixels on a copy ``work_size`` px wide (the grid detector's own working size,
    where its smallest chart has patches of ~3 x 3 px), no detector can succeed, and the ~0.2-0.7 s they
    take per chart-free photo is skipped. A photo with any saturated blue or green in it (a backdrop,
    clothing) is searched as before.
    """
    return _may_hold_chart(check_rgb(rgb), work_size=work_size, min_pixels=min_pixels)


def _may_hold_chart(rgb: np.ndarray, *, work_size: int = 800, min_pixels: int = 12) -> bool:
    """:func:`may_hold_chart` of a photo already validated (one pass over a 12 MP photo less)."""
    scale = min(1.0, work_size / max(rgb.shape[:2]))
    small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # OpenCV's float Lab (D65, same formulas as texture.color.rgb_to_lab to ~1e-3): a gate needs no more.
    lab = cv2.cvtColor(np.ascontiguousarray(small, dtype=np.float32), cv2.COLOR_RGB2Lab)
    a, b = lab[..., 1], lab[..., 2]
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    lo, hi = _CHART_ONLY_HUES_DEG
    chart_only = (hue > lo) & (hue < hi) & (a * a + b * b > _CHART_ONLY_MIN_CHROMA**2)
    return int(np.count_nonzero(chart_only)) >= min_pixels


def detect_colorchecker(
    rgb: np.ndarray, *, method: str = "auto", max_fit_delta_e: float = 8.0
) -> ChartDetection | None:
    """Find an X-Rite ColorChecker Classic 24 in a photo and sample its patches.

    Photos without any green, cyan or blue are refused at once (:func:`may_hold_chart`).
    ``auto`` first looks for a 4 x 6 grid of uniform, equally sized square patches (:func:`_detect_grid`),
    then, when that finds nothing, uses OpenCV's Macbeth chart detector (``cv2.mcc.CCheckerDetector``,
    chart type MCC24) when this OpenCV build has it. The grid detector goes first because it is
    deterministic: cv2.mcc (OpenCV 5.0) returned patch centres up to 5 px apart for the same image on
    repeated calls in one process, which would make a run's numbers depend on the order of its images.
    Either way a detection is kept only when its 24
    colours can be mapped onto the reference by one 3x3 linear-RGB matrix with mean ΔE00 <=
    ``max_fit_delta_e``, which rejects look-alike grids and misread orientations. When automatic detection
    fails, give the chart's corners to :func:`chart_from_corners`.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB photo in [0, 1].
    method : {"auto", "mcc", "grid"}
    max_fit_delta_e : float

    Returns
    -------
    ChartDetection or None
        None when no chart was found.
    """
    rgb = check_rgb(rgb)
    if method not in ("auto", "mcc", "grid"):
        raise ValueError(f"method must be 'auto', 'mcc' or 'grid', got {method!r}")
    if not _may_hold_chart(rgb):
        return None
    detectors = {"mcc": (_detect_mcc,), "grid": (_detect_grid,), "auto": (_detect_grid, _detect_mcc)}
    for detect in detectors[method]:
        found = detect(rgb)
        if found is not None and _chart_fits(found.patch_rgb, max_delta_e=max_fit_delta_e):
            return found
    return None


# Chart orientations: (rotation name, function of (row, col) in reading order -> grid index (i, j) along the
# photo's two grid axes, grid extent (n_i, n_j)).
_ORIENTATIONS = (
    (lambda r, c: (c, r), (6, 4)),
    (lambda r, c: (5 - c, 3 - r), (6, 4)),
    (lambda r, c: (r, 5 - c), (4, 6)),
    (lambda r, c: (3 - r, c), (4, 6)),
)


def _detect_grid(rgb: np.ndarray, *, work_size: int = 800) -> ChartDetection | None:
    """Fallback detector: a 4 x 6 grid of flat, equally sized squares.

    1. On a copy at most ``work_size`` pixels wide, flat regions are pixels whose CIELAB gradient
       magnitude is below 3 ΔE/px; connected flat regions filling >= 80 % of a nearly square rotated box
       are patch candidates.
    2. The largest family of candidates with the same size (+-20 %) and orientation (+-6°) is fitted by an
       affine grid (pitch from nearest-neighbour spacing); it must span 6 x 4 or 4 x 6 cells.
    3. Each of the four chart orientations is tried; the one whose colours fit the reference best (3x3
       linear-RGB least squares, mean ΔE00) gives the reading order. Patches are then sampled on the full
       image.
    """
    rows, cols = rgb.shape[:2]
    scale = min(1.0, work_size / max(rows, cols))
    work = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lab = rgb_to_lab(np.clip(cv2.GaussianBlur(work, (0, 0), 1.0), 0.0, 1.0)).astype(np.float32)
    grad = np.zeros(lab.shape[:2], np.float32)
    for ch in range(3):
        gx = cv2.Sobel(lab[..., ch], cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(lab[..., ch], cv2.CV_32F, 0, 1, ksize=3) / 8.0
        grad += gx**2 + gy**2
    flat = (np.sqrt(grad) < 3.0).astype(np.uint8)
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    candidates = []
    for k in range(1, n_labels):
        area = stats[k, cv2.CC_STAT_AREA]
        if area < 25 or area > 0.05 * flat.size:
            continue
        x, y, w, h = stats[k, :4]
        region = (labels[y : y + h, x : x + w] == k).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(contours[0] + np.array([x, y]))
        if min(bw, bh) < 4 or min(bw, bh) / max(bw, bh) < 0.75 or area / (bw * bh) < 0.8:
            continue
        candidates.append((cx, cy, np.sqrt(bw * bh), angle % 90.0))
    if len(candidates) < 12:
        return None
    cand = np.array(candidates)
    side, angle = cand[:, 2], cand[:, 3]
    same_size = np.abs(side[None, :] / side[:, None] - 1.0) < 0.2
    angle_diff = np.abs((angle[None, :] - angle[:, None] + 45.0) % 90.0 - 45.0)
    family = same_size & (angle_diff < 6.0)
    members = cand[family[np.argmax(family.sum(axis=1))]]
    if len(members) < 12:
        return None
    centres = members[:, :2]
    ref_angle = members[0, 3]
    theta = np.radians(ref_angle + np.median((members[:, 3] - ref_angle + 45.0) % 90.0 - 45.0))
    axes = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    pq = centres @ axes.T
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    pitch = float(np.median(dist.min(axis=1)))
    index = np.round((pq - pq.min(axis=0)) / pitch)
    extent = tuple(int(v) for v in index.max(axis=0) + 1)
    if extent not in ((6, 4), (4, 6)):
        return None
    # Affine map from grid index (i, j) to work-image (x, y), least squares over the found patches.
    design = np.hstack([index, np.ones((len(index), 1))])
    grid_to_xy, *_ = np.linalg.lstsq(design, centres, rcond=None)
    to_full = 1.0 / scale
    best: tuple[float, ChartDetection] | None = None
    for to_index, shape in _ORIENTATIONS:
        if shape != extent:
            continue

        def image_xy(r: np.ndarray, c: np.ndarray, to_index=to_index) -> np.ndarray:
            i, j = to_index(np.asarray(r, float), np.asarray(c, float))
            xy = np.stack([i, j, np.ones_like(i)], axis=-1) @ grid_to_xy
            return (xy + 0.5) * to_full - 0.5

        h = _PATCH_FRACTION / 2.0
        polygons = np.stack(
            [
                image_xy(np.repeat(np.arange(4), 6) + dr, np.tile(np.arange(6), 4) + dc)
                for dr, dc in ((-h, -h), (-h, h), (h, h), (h, -h))
            ],
            axis=1,
        )
        corners = image_xy(np.array([-h, -h, 3 + h, 3 + h]), np.array([-h, 5 + h, 5 + h, -h]))
        try:
            patch_rgb = _sample_patches(rgb, polygons)
            matrix = color_correction_matrix(patch_rgb)
        except ValueError:
            continue
        fitted = linear_to_srgb(srgb_to_linear(patch_rgb) @ matrix.T)
        score = float(np.mean(chart_delta_e(fitted)))
        if best is None or score < best[0]:
            best = (
                score,
                ChartDetection(
                    patch_rgb=patch_rgb,
                    patch_centers=polygons.mean(axis=1),
                    corners=corners,
                    chart_mask=_chart_mask((rows, cols), _outline(corners)),
                    outline=_outline(corners),
                    method="grid",
                ),
            )
    return None if best is None else best[1]


def __getattr__(name: str) -> Any:
    # Exposure normalisation moved to texture.exposure (0.2); the old names work for one release.
    if name in ("median_l_star", "normalize_exposure"):
        import warnings

        from texture import exposure

        warnings.warn(
            f"texture.colorchart.{name} moved to texture.exposure.{name}; the old name goes in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(exposure, name)
    raise AttributeError(f"module 'texture.colorchart' has no attribute {name!r}")
