"""A scale (px/mm) from a round calibration sticker of known diameter placed on the skin.

A round sticker (a white or coloured dot of known diameter) is a common ruler in clinical and wound
photography: it lies in the plane of the skin it calibrates, which a ruler held beside the face does not
(a calibration object must sit at the depth of what it measures: Foltynski et al., PLoS One
2015;10:e0134622). Its diameter in pixels gives the scale.

Method (:func:`find_sticker`):

1. **Candidates**, on a copy reduced to ``work_long_side_px``: regions that differ from the skin around
   them. The local background is a three-pass masked Gaussian average of CIELAB (normalised convolution,
   Knutsson & Westin, CVPR 1993; each pass without what the previous one found different); a pixel's
   contrast is its Euclidean Lab distance (Delta E*ab) from it. The contrast map is thresholded at
   geometric levels (3-45 Delta E*ab) and, with a named ``color``, the distance to that colour at 4-35
   Delta E*ab (found even where a photo of face, clothes and backdrop has no single background); holes are
   filled (print on the sticker), and connected regions of a plausible size, convex (solidity >= 0.9) and
   elliptical (area within 15 % of their fitted ellipse's) are kept, the 40 with the largest contrast x
   diameter read further. A region touching the image border is never measured: a cut sticker would give
   a wrong diameter.
2. **Sub-pixel edge**: on rays from the centre of each candidate, through its ellipse, the full image is
   read in linear light (bilinear), projected on the colour difference between inside and outside (a
   blurred edge between two colours is half-way there in linear light at the true edge), and the edge is
   the half-way crossing between the levels just inside and just outside on that ray (medians over 1.5-4.5
   ramp widths from the edge; the ramp's width, step over slope, is measured on the first pass, so a sharp
   edge's levels are read close to it, before the surroundings' own structure). An ellipse is
   fitted to the edge points by the direct least-squares method of Fitzgibbon, Pilu & Fisher (IEEE TPAMI
   1999;21:476-480; ``cv2.fitEllipseDirect``); points off it by more than 3 robust SDs (a hair, a pore on
   the edge) are dropped and the fit repeated, three times from the refined ellipse.
3. **Acceptance**: edges found on >= 60 % of the rays with no gap over 120 deg, radial fit residual
   (RMS) <= max(0.6 px, 2.5 % of the minor semi-axis), minor/major axis ratio >= ``min_axis_ratio``.
   The **major axis** is the diameter: a disc seen obliquely is foreshortened only along its minor axis.
4. **Choice**: with ``color`` named, only candidates whose inside is within ``color_tolerance`` of that
   colour (Delta E*ab with the lightness difference halved) and nearer it than their surroundings are, and
   of those the ones within 5 Delta E*ab of the nearest colour. Then the most regular ellipse (lowest
   edge residual) wins, unless another is nearly as regular (residual <= 2 x the best's + 0.1 px): two
   equally good candidates (two stickers, a sticker and a round mole, spot or badge) are ambiguous and no
   scale is given. Without ``color`` any regular round object of a plausible size competes: name the
   colour whenever the photo may show one.

``px_per_mm = major_axis_px / diameter_mm``. Uncertainty (one SD, % of the scale): edge localisation
``sqrt(2) * edge_sd_px / major_axis_px`` (a systematic share that does not average out over the rays),
the fit's statistical error ``2 * rms * sqrt(2 / n_points) / major_axis_px`` and the manufacturing
tolerance ``tolerance_mm / diameter_mm``, added in quadrature.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from texture.color import linear_to_srgb, srgb_to_linear
from texture.measurement import check_rgb

__all__ = ["StickerScale", "find_sticker", "sticker_color_lab", "STICKER_PX_PER_MM_RANGE"]

#: Scales a sticker may give by default, px/mm: the plausible range of a photo (pipelines.io.scale).
STICKER_PX_PER_MM_RANGE: tuple[float, float] = (1.0, 200.0)

_LEVELS_DE = (3.0, 4.5, 6.5, 9.5, 14.0, 20.0, 30.0, 45.0)
_TARGET_LEVELS_DE = (4.0, 6.0, 9.0, 13.0, 18.0, 25.0, 35.0)
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")
_MIN_SOLIDITY = 0.9
_ELLIPSE_AREA_TOL = 0.15
_MIN_RAY_FRACTION = 0.6
_MAX_GAP_DEG = 120.0
_AMBIGUOUS_COLOR_DE = 5.0
_AMBIGUOUS_RMS_FACTOR = 2.0
_AMBIGUOUS_RMS_PX = 0.1
_MAX_REFINED = 40


@dataclass(frozen=True)
class StickerScale:
    """What :func:`find_sticker` found.

    Attributes
    ----------
    px_per_mm : float or None
        Scale, px/mm; None when no sticker was accepted (``reason`` says why).
    uncertainty_pct : float or None
        One standard uncertainty of the scale, % (module docstring).
    center_xy : tuple of float or None
        Centre of the fitted ellipse, px (x right, y down; pixel centres at whole numbers).
    diameter_px : float
        Major axis of the fitted ellipse, px (NaN when not found).
    minor_axis_px : float
        Minor axis, px (NaN when not found).
    angle_deg : float
        Direction of the major axis, degrees counter-clockwise from the image +x axis as seen on screen,
        in [0, 180) (NaN when not found).
    residual_px : float
        RMS radial distance of the edge points from the ellipse, px.
    contrast_delta_e : float
        Delta E*ab between the sticker's inside and its surroundings.
    n_candidates : int
        Round regions that passed every test (more than one: the choice of step 4).
    reason : str
        Why no scale was given ("" when found).
    """

    px_per_mm: float | None
    uncertainty_pct: float | None
    center_xy: tuple[float, float] | None = None
    diameter_px: float = float("nan")
    minor_axis_px: float = float("nan")
    angle_deg: float = float("nan")
    residual_px: float = float("nan")
    contrast_delta_e: float = float("nan")
    n_candidates: int = 0
    reason: str = ""

    def __bool__(self) -> bool:
        return self.px_per_mm is not None


def sticker_color_lab(color: str | Sequence[float]) -> np.ndarray:
    """CIELAB (D65) of a sticker colour given as an sRGB hex string (``"#ffffff"``) or an (L*, a*, b*)
    triple; ``ValueError`` for anything else."""
    if isinstance(color, str):
        match = _HEX.match(color.strip())
        if not match:
            raise ValueError(f"sticker color must be an sRGB hex string such as '#ffffff', got {color!r}")
        hex6 = match.group(1)
        srgb = np.array([int(hex6[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)
        return cv2.cvtColor(srgb.reshape(1, 1, 3), cv2.COLOR_RGB2Lab).reshape(3).astype(float)
    try:
        lab = np.asarray(color, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"sticker color must be '#rrggbb' or (L*, a*, b*), got {color!r}") from None
    if lab.shape != (3,) or not np.all(np.isfinite(lab)) or not 0.0 <= lab[0] <= 100.0:
        raise ValueError(f"sticker color must be '#rrggbb' or (L*, a*, b*) with L* in 0-100, got {color!r}")
    return lab


def _color_distance(lab: np.ndarray, target: np.ndarray) -> float:
    """Delta E*ab with the lightness difference halved: exposure and shading move a sticker's L* more
    than its chroma (a white sticker in a dim photo is light grey, not another colour)."""
    d = np.asarray(lab, dtype=float) - target
    return float(np.sqrt((0.5 * d[0]) ** 2 + d[1] ** 2 + d[2] ** 2))


def _lab(rgb: np.ndarray) -> np.ndarray:
    # Float input: true CIELAB (L* 0-100), not OpenCV's rescaled 8-bit Lab.
    rgb = np.ascontiguousarray(np.clip(rgb, 0.0, 1.0), dtype=np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


def _lab_of_linear(linear: np.ndarray) -> np.ndarray:
    return _lab(linear_to_srgb(np.asarray(linear, dtype=float)).reshape(1, 1, 3)).reshape(3).astype(float)


def _background(lab: np.ndarray) -> np.ndarray:
    """Local background Lab: three-pass masked Gaussian on a ~64 px copy (normalised convolution), each
    pass without the pixels the previous one found different."""
    rows, cols = lab.shape[:2]
    factor = max(1.0, max(rows, cols) / 64.0)
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    tiny = cv2.resize(lab, size, interpolation=cv2.INTER_AREA) if factor > 1 else lab.copy()
    sigma = max(tiny.shape[:2]) / 12.0
    keep = np.ones(tiny.shape[:2], np.float32)
    for _ in range(3):
        weight = cv2.GaussianBlur(keep, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        summed = cv2.GaussianBlur(tiny * keep[..., None], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        back = summed / np.maximum(weight, 1e-6)[..., None]
        if np.any(weight < 1e-3):  # nothing kept nearby: the median of what is kept
            fallback = np.median(tiny[keep > 0], axis=0) if keep.any() else np.median(tiny.reshape(-1, 3), 0)
            back[weight < 1e-3] = fallback
        dist = np.linalg.norm(tiny - back, axis=2)
        keep = (dist < max(2.0, 2.5 * float(np.median(dist)))).astype(np.float32)
    if factor > 1:
        back = cv2.resize(back, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return back


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Holes filled (what the background cannot reach from the border), as ``ndi.binary_fill_holes`` with
    4-connected background, by one flood fill (~50x faster)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(padded, None, (0, 0), 2, flags=4)
    return (padded != 2)[1:-1, 1:-1]


@dataclass
class _Candidate:
    cx: float
    cy: float
    width: float  # cv2 ellipse axes (full lengths) and angle, full-resolution px
    height: float
    angle: float
    contrast: float  # mean of the contrast map over the region, Delta E*ab


def _ellipse_radius(theta: np.ndarray, a: float, b: float, phi: float) -> np.ndarray:
    """Distance from an ellipse's centre to its edge along image angles ``theta`` (rad); semi-axis ``a``
    along image angle ``phi``."""
    t = theta - phi
    return a * b / np.sqrt((b * np.cos(t)) ** 2 + (a * np.sin(t)) ** 2)


def _axes(cand: _Candidate) -> tuple[float, float, float]:
    """(a, b, phi): semi-axes and the image angle (rad, y down) of ``a``, from cv2's ellipse."""
    return cand.width / 2.0, cand.height / 2.0, np.deg2rad(cand.angle)


def _candidates(
    small_lab: np.ndarray,
    factor: float,
    d_range_px: tuple[float, float],
    min_axis_ratio: float,
    target: np.ndarray | None,
    color_tolerance: float = np.inf,
) -> tuple[list[_Candidate], bool]:
    """Round regions of the contrast map at each level (and, with a named colour, of the distance to it),
    in full-resolution px; and whether a round region of a plausible size touched the image border."""
    rows, cols = small_lab.shape[:2]
    contrast = np.linalg.norm(small_lab - _background(small_lab), axis=2)
    contrast = cv2.GaussianBlur(contrast, (0, 0), 1.0)
    masks = ((contrast > level) for level in _LEVELS_DE)
    if target is not None:
        # Regions of the named colour itself: found even where the background estimate is poor (a face,
        # clothes and a backdrop in one photo).
        to_target = cv2.GaussianBlur(
            np.linalg.norm(small_lab - target.astype(np.float32), axis=2), (0, 0), 1.0
        )
        masks = itertools.chain(masks, ((to_target < level) for level in _TARGET_LEVELS_DE))
    d_lo, d_hi = d_range_px[0] / factor, min(d_range_px[1] / factor, float(max(rows, cols)))
    area_lo = np.pi / 4.0 * d_lo**2 * min_axis_ratio * 0.8
    area_hi = np.pi / 4.0 * d_hi**2 * 1.2
    found: list[_Candidate] = []
    cut = False
    for level_mask in masks:
        mask = _fill_holes(level_mask)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if not area_lo <= area <= area_hi or max(w, h) < 0.9 * d_lo or max(w, h) > 1.1 * d_hi:
                continue
            piece = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
            contours, _ = cv2.findContours(piece, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            contour = max(contours, key=len)
            hull_area = cv2.contourArea(cv2.convexHull(contour))
            if hull_area <= 0 or area / hull_area < _MIN_SOLIDITY or len(contour) < 5:
                continue
            if x == 0 or y == 0 or x + w == cols or y + h == rows:
                # A cut sticker: any round region at the border, of the named colour when there is one.
                inside = small_lab[y : y + h, x : x + w][piece > 0].mean(axis=0)
                cut |= target is None or _color_distance(inside, target) <= color_tolerance
                continue
            (ex, ey), (ew, eh), angle = cv2.fitEllipse(contour.astype(np.float32))
            if min(ew, eh) < min_axis_ratio * 0.8 * max(ew, eh) or min(ew, eh) <= 0:
                continue
            if abs(area - np.pi / 4.0 * ew * eh) > _ELLIPSE_AREA_TOL * area:
                continue
            if not 0.85 * d_lo <= max(ew, eh) <= 1.15 * d_hi:
                continue
            mean_contrast = float(contrast[y : y + h, x : x + w][piece > 0].mean())
            # Pixel centres: a coarse pixel i covers full-resolution (i - 0.5) * f - 0.5 ... onwards.
            centre = ((ex + x + 0.5) * factor - 0.5, (ey + y + 0.5) * factor - 0.5)
            found.append(_Candidate(*centre, ew * factor, eh * factor, angle, mean_contrast))
    return found, cut


def _dedupe(cands: list[_Candidate]) -> list[_Candidate]:
    kept: list[_Candidate] = []
    for c in cands:
        size = max(c.width, c.height)
        same = [
            k
            for k in kept
            if np.hypot(k.cx - c.cx, k.cy - c.cy) < 0.15 * min(c.width, c.height)
            and abs(max(k.width, k.height) - size) < 0.2 * size
        ]
        if not same:
            kept.append(c)
    return kept


def _row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row's masked values (NaN for a row without any); faster than ``np.nanmedian``."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    n = mask.sum(axis=1)
    rows = np.arange(len(values))
    lo = ordered[rows, np.maximum(n - 1, 0) // 2]
    hi = ordered[rows, np.maximum(n, 1) // 2 - (n == 0)]
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, 0.5 * (lo + np.where(n % 2 == 1, lo, hi)), np.nan)


@dataclass
class _Fit:
    cx: float
    cy: float
    major: float
    minor: float
    angle_deg: float
    rms: float
    n_points: int
    ray_fraction: float
    inside_lab: np.ndarray
    outside_lab: np.ndarray
    contrast: float

    def half_extent(self) -> tuple[float, float]:
        """Half width and half height of the ellipse's bounding box, px."""
        a, b, t = self.major / 2.0, self.minor / 2.0, np.deg2rad(self.angle_deg)
        return float(np.hypot(a * np.cos(t), b * np.sin(t))), float(np.hypot(a * np.sin(t), b * np.cos(t)))


def _refine(rgb: np.ndarray, cand: _Candidate, iterations: int = 3) -> _Fit | str:
    """Sub-pixel edge on rays and a direct least-squares ellipse fit (module docstring, step 2)."""
    # Only the candidate's surroundings, in linear light (a 12 MP photo is never linearised whole).
    reach = 1.6 * max(cand.width, cand.height) / 2.0 + 12.0
    x0, y0 = max(0, int(cand.cx - reach)), max(0, int(cand.cy - reach))
    x1 = min(rgb.shape[1], int(np.ceil(cand.cx + reach)) + 1)
    y1 = min(rgb.shape[0], int(np.ceil(cand.cy + reach)) + 1)
    lin = srgb_to_linear(rgb[y0:y1, x0:x1]).astype(np.float32)
    rows, cols = lin.shape[:2]
    full_rows, full_cols = rgb.shape[:2]
    cx, cy = cand.cx - x0, cand.cy - y0
    a, b, phi = _axes(cand)
    rms, points, fraction = np.inf, np.empty((0, 2)), 0.0
    edge_px = None  # width of the edge ramp, px, measured on the first pass
    for _ in range(iterations):
        big = max(a, b)
        n_rays = int(np.clip(round(2 * np.pi * big), 90, 720))
        theta = np.arange(n_rays) * (2 * np.pi / n_rays)
        rho0 = _ellipse_radius(theta, a, b, phi)
        half = np.minimum(np.maximum(8.0, 0.3 * rho0), 0.8 * rho0)  # samples each side of the edge
        if edge_px is None:  # first pass: wide windows, the edge's width is not known yet
            gap = np.minimum(np.maximum(4.0, 0.1 * rho0), 0.5 * half)  # skip the blurred edge itself
            reach = half
        else:  # the levels just beyond the ramp: less of the surroundings' own structure in them
            gap = np.minimum(np.full_like(rho0, max(1.5, 1.5 * edge_px)), 0.5 * half)
            reach = np.minimum(gap + max(3.0, 2.0 * edge_px), half)
        step = 0.25
        offsets = np.arange(-1.0, 1.0 + 1e-9, step / float(half.max()))  # in units of half
        rho = rho0[:, None] + offsets[None, :] * half[:, None]
        xs = (cx + rho * np.cos(theta)[:, None]).astype(np.float32)
        ys = (cy + rho * np.sin(theta)[:, None]).astype(np.float32)
        outside = (xs + x0 < 0) | (ys + y0 < 0) | (xs + x0 > full_cols - 1) | (ys + y0 > full_rows - 1)
        outside |= (xs < 0) | (ys < 0) | (xs > cols - 1) | (ys > rows - 1)
        prof = np.stack(
            [
                cv2.remap(lin[..., k], xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                for k in range(3)
            ],
            axis=2,
        ).astype(np.float64)
        dist = offsets[None, :] * half[:, None]  # signed distance from the expected edge, px
        inner = (dist <= -gap[:, None]) & (dist >= -reach[:, None]) & ~outside
        outer = (dist >= gap[:, None]) & (dist <= reach[:, None]) & ~outside
        # Inside and outside colours from the current ellipse (the candidate region's may be off).
        if not inner.any() or not outer.any():
            return "the sticker's surroundings are outside the image"
        inner_mean = prof[inner].mean(axis=0)
        outer_mean = prof[outer].mean(axis=0)
        diff = inner_mean - outer_mean
        norm2 = float(diff @ diff)
        if norm2 < 1e-8:
            return "no contrast at the edge"
        p = (prof - outer_mean) @ diff / norm2  # 0 outside, 1 inside
        p[outside] = np.nan
        # Per ray: the levels just inside and just outside, and the half-way crossing nearest the
        # expected edge (going outward the profile falls from ~1 to ~0).
        lin_in, lin_out = _row_median(p, inner), _row_median(p, outer)
        s = p - 0.5 * (lin_in + lin_out)[:, None]
        cross = (s[:, :-1] > 0) & (s[:, 1:] <= 0)
        cost = np.where(cross, np.abs(dist[:, :-1]), np.inf)
        i = np.argmin(cost, axis=1)
        k = np.arange(n_rays)
        ok = (
            np.isfinite(cost[k, i])
            & (lin_in - lin_out >= 0.5)
            & (inner.sum(axis=1) >= 2)
            & (outer.sum(axis=1) >= 2)
            & ~np.isnan(p).any(axis=1)
        )
        s0, s1 = s[k, i], s[k, np.minimum(i + 1, s.shape[1] - 1)]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = rho[k, i] + s0 / (s0 - s1) * (rho[k, np.minimum(i + 1, s.shape[1] - 1)] - rho[k, i])
        ok &= np.isfinite(r)
        if ok.sum() < _MIN_RAY_FRACTION * n_rays:
            return f"an edge on only {ok.mean():.0%} of the rays"
        if edge_px is None:
            # Ramp width = step / slope at the crossing (a Gaussian blur of sigma s gives 2.5 s).
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = (s0 - s1)[ok] / (rho[k, np.minimum(i + 1, s.shape[1] - 1)] - rho[k, i])[ok]
                widths = (lin_in - lin_out)[ok] / slope
            widths = widths[np.isfinite(widths) & (widths > 0)]
            edge_px = float(np.clip(np.median(widths), 0.7, 0.25 * rho0.min())) if widths.size else 2.0
        ok_theta = theta[ok]
        pts = np.column_stack([cx + r[ok] * np.cos(ok_theta), cy + r[ok] * np.sin(ok_theta)])
        keep = np.ones(len(pts), bool)
        for _ in range(3):
            (ex, ey), (ew, eh), ang = cv2.fitEllipseDirect(pts[keep].astype(np.float32))
            if not (np.isfinite(ew) and np.isfinite(eh)) or min(ew, eh) <= 0:
                return "no ellipse fits the edge"
            ea, eb, ephi = ew / 2.0, eh / 2.0, np.deg2rad(ang)
            rel = pts - (ex, ey)
            resid = np.hypot(rel[:, 0], rel[:, 1]) - _ellipse_radius(
                np.arctan2(rel[:, 1], rel[:, 0]), ea, eb, ephi
            )
            mad = 1.4826 * float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
            new_keep = np.abs(resid) <= max(0.5, 3.0 * mad)
            if new_keep.sum() < _MIN_RAY_FRACTION * n_rays or np.array_equal(new_keep, keep):
                break
            keep = new_keep
        if keep.sum() < _MIN_RAY_FRACTION * n_rays:
            return f"an edge on only {keep.sum() / n_rays:.0%} of the rays"
        kept_theta = ok_theta[keep]
        gaps = np.diff(np.concatenate([kept_theta, kept_theta[:1] + 2 * np.pi]))
        if np.rad2deg(gaps.max()) > _MAX_GAP_DEG:
            return f"no edge over more than {_MAX_GAP_DEG:g} deg of its outline"
        cx, cy, a, b, phi = float(ex), float(ey), ea, eb, ephi
        rms = float(np.sqrt(np.mean(resid[keep] ** 2)))
        points = pts[keep]
        fraction = float(keep.sum() / n_rays)
    major, minor = 2.0 * max(a, b), 2.0 * min(a, b)
    major_phi = phi if a >= b else phi + np.pi / 2.0
    # cv2 angles are in image coordinates (y down): on screen, counter-clockwise is the negative.
    angle = float((-np.rad2deg(major_phi)) % 180.0)
    inside_lab, outside_lab = _lab_of_linear(inner_mean), _lab_of_linear(outer_mean)
    contrast = float(np.linalg.norm(inside_lab - outside_lab))
    return _Fit(
        cx + x0, cy + y0, major, minor, angle, rms, len(points), fraction, inside_lab, outside_lab, contrast
    )


def find_sticker(
    image: np.ndarray,
    *,
    diameter_mm: float,
    color: str | Sequence[float] | None = None,
    tolerance_mm: float = 0.0,
    px_per_mm_range: tuple[float, float] = STICKER_PX_PER_MM_RANGE,
    min_diameter_px: float = 20.0,
    min_axis_ratio: float = 0.5,
    edge_sd_px: float = 0.35,
    work_long_side_px: int = 1024,
    color_tolerance: float = 25.0,
) -> StickerScale:
    """Scale (px/mm) from a round calibration sticker of known diameter in a photo.

    Method, acceptance and uncertainty: module docstring (candidate regions of contrast with their
    surroundings, half-way edge crossings in linear light on rays, the direct least-squares ellipse fit of
    Fitzgibbon et al. 1999; the major axis is the diameter).

    Parameters
    ----------
    image : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1].
    diameter_mm : float
        The sticker's diameter, mm (> 0).
    color : str or (L*, a*, b*), optional
        The sticker's colour as an sRGB hex string (``"#ffffff"``) or CIELAB triple. When given, only
        regions whose inside is nearer this colour than their surroundings are candidates (a white
        sticker is then told from a dark mole of its size). Default: any colour.
    tolerance_mm : float
        Manufacturing tolerance of the diameter (one SD), mm; added to the uncertainty. Default 0.
    px_per_mm_range : (float, float)
        Scales the sticker may give, px/mm (default the plausible range of a photo, 1-200 px/mm).
    min_diameter_px : float
        A sticker narrower than this is not measured (edge error ``sqrt(2) * edge_sd_px / diameter``: 2.5 %
        at 20 px).
    min_axis_ratio : float
        Smallest minor/major axis ratio (0.5: a disc tilted 60 deg from the camera).
    edge_sd_px : float
        Standard uncertainty of one edge, px (0.35 px: the same figure as the iris scale's).
    work_long_side_px : int
        Candidates are searched on a copy reduced to this long side; the edge is read at full resolution.
    color_tolerance : float
        With ``color``: largest distance of the sticker's inside from it, Delta E*ab with the lightness
        difference halved (exposure moves L* more than chroma).

    Returns
    -------
    StickerScale
        ``px_per_mm`` None with a ``reason`` when no sticker, a cut one (touching the border) or two
        equally good candidates were found; never raises for an image without a sticker.

    Raises
    ------
    ValueError
        For a diameter or tolerance that is not a positive (non-negative) number, a bad colour, or a bad
        range.
    """
    rgb = check_rgb(image)
    if isinstance(diameter_mm, bool) or not np.isfinite(diameter_mm) or not diameter_mm > 0:
        raise ValueError(f"diameter_mm must be a positive number of mm, got {diameter_mm!r}")
    if isinstance(tolerance_mm, bool) or not np.isfinite(tolerance_mm) or tolerance_mm < 0:
        raise ValueError(f"tolerance_mm must be a non-negative number of mm, got {tolerance_mm!r}")
    lo, hi = (float(v) for v in px_per_mm_range)
    if not 0 < lo < hi or not np.isfinite(hi):
        raise ValueError(f"px_per_mm_range must be (low, high) with 0 < low < high, got {px_per_mm_range!r}")
    if not (min_diameter_px > 0 and 0 < min_axis_ratio <= 1 and edge_sd_px >= 0 and work_long_side_px >= 64):
        raise ValueError(
            "min_diameter_px must be > 0, min_axis_ratio in (0, 1], edge_sd_px >= 0, work_long_side_px >= 64"
        )
    if not color_tolerance > 0:
        raise ValueError(f"color_tolerance must be a positive Delta E, got {color_tolerance!r}")
    target = None if color is None else sticker_color_lab(color)
    rows, cols = rgb.shape[:2]
    d_range = (max(min_diameter_px, diameter_mm * lo), diameter_mm * hi)
    if d_range[0] > max(rows, cols):
        return StickerScale(None, None, reason="the image is smaller than the smallest sticker it could show")
    factor = max(1.0, max(rows, cols) / work_long_side_px)
    if factor > 1:
        size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
        small = cv2.resize(np.asarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA)
    else:
        small = rgb
    cands, cut = _candidates(_lab(small), factor, d_range, min_axis_ratio, target, color_tolerance)
    # The most contrasted and largest regions first (contrast x diameter: a 10 mm sticker before the
    # hundreds of pores of a close-up); beyond _MAX_REFINED the rest are not read (time).
    cands = _dedupe(sorted(cands, key=lambda c: -c.contrast * np.sqrt(c.width * c.height)))[:_MAX_REFINED]
    fits: list[_Fit] = []
    rejected: list[str] = []
    for cand in cands:
        fit = _refine(rgb, cand)
        if isinstance(fit, str):
            rejected.append(fit)
            continue
        hx, hy = fit.half_extent()
        if min(fit.cx - hx, fit.cy - hy, cols - 1 - fit.cx - hx, rows - 1 - fit.cy - hy) < 1.0:
            cut = True
            continue
        if fit.minor < min_axis_ratio * fit.major:
            rejected.append(f"axis ratio {fit.minor / fit.major:.2f} < {min_axis_ratio:g}")
            continue
        if fit.rms > max(0.6, 0.025 * fit.minor / 2):
            rejected.append(f"not elliptical (edge residual {fit.rms:.2f} px)")
            continue
        if not d_range[0] <= fit.major <= d_range[1]:
            continue
        if target is not None:
            to_target = _color_distance(fit.inside_lab, target)
            if to_target > color_tolerance or to_target >= _color_distance(fit.outside_lab, target):
                continue
        same = [f for f in fits if np.hypot(f.cx - fit.cx, f.cy - fit.cy) < 0.25 * fit.minor]
        if same:  # the same sticker reached from two candidate regions: keep the better fit
            if fit.rms < same[0].rms:
                fits[fits.index(same[0])] = fit
            continue
        fits.append(fit)
    if not fits:
        if cut:
            reason = "a round region touches the image border (a cut sticker gives a wrong diameter)"
        elif target is not None:
            reason = f"no round region of the sticker's colour and {diameter_mm:g} mm diameter found"
        else:
            reason = f"no round region of {diameter_mm:g} mm diameter found"
        if rejected:
            reason += f" (nearest candidate: {rejected[0]})"
        return StickerScale(None, None, reason=reason)
    if target is not None:
        # The nearest colour, and any other within _AMBIGUOUS_COLOR_DE of it, compete on shape.
        colour = {id(f): _color_distance(f.inside_lab, target) for f in fits}
        nearest = min(colour.values())
        fits = [f for f in fits if colour[id(f)] <= nearest + _AMBIGUOUS_COLOR_DE]
    # The most regular ellipse wins; another nearly as regular one makes the choice ambiguous (neither
    # size nor contrast tells a sticker from a round badge, mole or spot: its colour does).
    fits.sort(key=lambda f: f.rms)
    best = fits[0]
    ambiguous = len(fits) > 1 and fits[1].rms <= _AMBIGUOUS_RMS_FACTOR * best.rms + _AMBIGUOUS_RMS_PX
    if ambiguous:
        where = " and ".join(f"({f.cx:.0f}, {f.cy:.0f}) px" for f in fits[:2])
        hint = "" if target is not None else "; name the sticker's color to tell them apart"
        return StickerScale(
            None,
            None,
            n_candidates=len(fits),
            reason=f"{len(fits)} round regions could be the sticker, at {where}{hint}",
        )
    parts = [
        np.sqrt(2.0) * edge_sd_px / best.major,
        2.0 * best.rms * np.sqrt(2.0 / best.n_points) / best.major,
        tolerance_mm / diameter_mm,
    ]
    uncertainty = 100.0 * float(np.sqrt(np.sum(np.square(parts))))
    return StickerScale(
        px_per_mm=best.major / diameter_mm,
        uncertainty_pct=uncertainty,
        center_xy=(best.cx, best.cy),
        diameter_px=best.major,
        minor_axis_px=best.minor,
        angle_deg=best.angle_deg,
        residual_px=best.rms,
        contrast_delta_e=best.contrast,
        n_candidates=len(fits),
    )
