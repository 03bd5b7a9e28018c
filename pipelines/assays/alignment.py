"""Make a follow-up photo comparable with its baseline: the same skin (registration and the common
region), the same colours (chart colour correction) and, for structure metrics only, the same exposure.

What :mod:`pipelines.analyze` does for each follow-up of a subject/region:

1. ``rgb, info = correct_color(photo)`` for both photos: chart correction when a ColorChecker is in the
   photo (then the colour indices are calibrated).
2. ``aligned = align_to_baseline(rgb, baseline_rgb, baseline_mask=..., followup_mask=...)``; on failure
   (``aligned.success`` False) ``aligned.message`` becomes a warning and the follow-up is measured on its
   own ROI, without a paired baseline.
3. ``region = common_region(baseline_roi, followup_roi, aligned.registration)``: the same skin in both
   frames (below).
4. Structure metrics of the follow-up are measured after exposure normalisation to the baseline over the
   common region (one linear gain, :func:`texture.exposure.normalize_exposure`); colour indices (ITA,
   melanin, erythema) are read on the photo as taken (or chart-corrected), **never** normalised to the
   baseline's skin, which would erase a real change of skin colour.
5. The baseline is measured again on ``region.baseline_mask``: the paired baseline of this follow-up.

``info`` goes to ``run.json`` (which correction ran) and its ΔE / gain numbers to the metrics.

Symmetric measurement (:func:`common_region`): a follow-up and its baseline are measured on the same
skin. The common region is the baseline's ROI ∩ the follow-up's ROI mapped into the baseline frame ∩ the
registration overlap (eroded by :data:`COMMON_MARGIN_PX` so that the follow-up's cut edge never reaches a
metric), without a band of :data:`COMMON_FRAME_MARGIN_MM` along each photo's own frame edge (there one
photo's measurement neighbourhood is cut while the other shows skin); each ROI already excludes frames,
a dermoscope's dark surround and vignetted corners
(:func:`texture.roi.skin_mask`). The region is mapped back into the follow-up's own frame, and each photo
is measured **in its own pixels** on its copy of the region: only masks are resampled (nearest
neighbour), never the photos, so a follow-up's texture is not smoothed by an interpolation the baseline
never went through. A registration that moves no image corner by more than :data:`IDENTITY_TOLERANCE_PX`
is taken as the identity, so an identical copy is measured on exactly the baseline's pixels and region
and every change is exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from texture._compat import deprecated_alias
from texture.color import linear_to_srgb, srgb_to_linear
from texture.colorchart import (
    apply_color_correction,
    chart_delta_e,
    color_correction_matrix,
    detect_colorchecker,
)
from texture.exposure import normalize_exposure
from texture.measurement import check_mask, check_rgb
from texture.registration import Registration, common_overlap, register_to_baseline, warp_to_baseline

__all__ = [
    "AlignmentResult",
    "CommonRegion",
    "COMMON_FRAME_MARGIN_MM",
    "COMMON_MARGIN_PX",
    "COMMON_SHARE_WARNING",
    "IDENTITY_TOLERANCE_PX",
    "align_to_baseline",
    "common_region",
    "correct_color",
]

#: A registration whose matrix moves no image corner by more than this (pixels) is the identity.
IDENTITY_TOLERANCE_PX = 0.01
#: Below this share of either photo's ROI the pair no longer shows the same skin: a warning row says so
#: (the changes then describe the common part only, which may not represent the treated area).
COMMON_SHARE_WARNING = 0.5
#: Band along each photo's frame edge left out of the common region, mm (converted with the photo's
#: scale, or texture.measurement.ASSUMED_PX_PER_MM without one). Near a frame edge the neighbourhood a
#: structure measurement reads around a pixel is cut (or reflected) in one photo and real skin in the
#: other. 0.5 mm: the coarse end of the roughness band and the size of the largest pores. Measured on a
#: 20 px shift of ISIC_0000046 (docs/make_metamorphic_table.py): without the band pore density read
#: +18 % and roughness -6.3 % (beyond the SRD); with 0.5 mm both within; 1 mm also, but left so few
#: pores that a 5 deg rotation read +3 pores (beyond the SRD of a count on 73 % of the ROI).
COMMON_FRAME_MARGIN_MM = 0.5
#: Pixels of the follow-up's edge in the baseline frame left out of the common region: bilinear
#: interpolation reaches 1 px, and the feature/ECC fit is good to ~1 px.
COMMON_MARGIN_PX = 2


@dataclass
class AlignmentResult:
    """A follow-up photo brought into its baseline's pixel grid.

    Attributes
    ----------
    warped_rgb : ndarray (rows, cols, 3) or None
        The follow-up resampled onto the baseline's grid (baseline shape; 0 outside the follow-up).
        None when alignment failed.
    overlap_mask : ndarray of bool or None
        Baseline pixels seen in both photos (and inside ``baseline_mask``): compute metrics of both photos
        here. None when alignment failed.
    registration_error_px : float
        :attr:`texture.registration.Registration.error_px` (median inlier reprojection error, baseline
        pixels); NaN when alignment failed.
    success : bool
    message : str
        What was done or why it failed (a warning for ``errors.csv`` when it failed).
    registration : Registration
        The full registration (matrix, inliers, ECC correlation).
    """

    warped_rgb: np.ndarray | None
    overlap_mask: np.ndarray | None
    registration_error_px: float
    success: bool
    message: str
    registration: Registration


def align_to_baseline(
    followup_rgb: np.ndarray,
    baseline_rgb: np.ndarray,
    *,
    baseline_mask: np.ndarray | None = None,
    followup_mask: np.ndarray | None = None,
    min_overlap_fraction: float = 0.3,
) -> AlignmentResult:
    """Register a follow-up photo to its baseline and resample it onto the baseline's pixel grid.

    The image that moves comes first, as in :func:`texture.registration.register_to_baseline`.

    Feature matching + RANSAC similarity + ECC refinement (:func:`texture.registration.register_to_baseline`),
    aligning on the pixels of ``baseline_mask`` / ``followup_mask`` when given. When a photo has a colour
    chart, leave it out of both masks (``info["chart_outline_xy"]`` of :func:`correct_color`): a chart
    held somewhere else at the follow-up moves independently of the skin. A failed registration is
    returned with ``success=False`` and a message; it never raises for an unalignable pair (bad input
    arrays still raise ``ValueError``).
    """
    baseline_rgb = check_rgb(baseline_rgb, name="baseline_rgb")
    followup_rgb = check_rgb(followup_rgb, name="followup_rgb")
    mask = None if baseline_mask is None else check_mask(baseline_mask, baseline_rgb.shape[:2])
    if mask is not None and not mask.any():
        raise ValueError("baseline_mask selects no pixels")
    moving_mask = None if followup_mask is None else check_mask(followup_mask, followup_rgb.shape[:2])
    if moving_mask is not None and not moving_mask.any():
        raise ValueError("followup_mask selects no pixels")
    if followup_rgb.shape == baseline_rgb.shape and np.array_equal(followup_rgb, baseline_rgb):
        # The same pixels: the identity is the exact answer, even where too few keypoints are found.
        registration = Registration(np.eye(2, 3), 0.0, 0, True, "identical pixels: identity", 1.0, 0.0)
    else:
        registration = register_to_baseline(
            followup_rgb,
            baseline_rgb,
            mask=mask,
            moving_mask=moving_mask,
            min_overlap_fraction=min_overlap_fraction,
        )
    if not registration.success:
        return AlignmentResult(None, None, float("nan"), False, registration.message, registration)
    warped, valid = warp_to_baseline(followup_rgb, registration, output_shape=baseline_rgb.shape)
    overlap = common_overlap(valid, baseline_mask=mask)
    if not overlap.any():
        message = "alignment failed: the aligned photos share no pixels inside the baseline mask"
        return AlignmentResult(None, None, float("nan"), False, message, registration)
    return AlignmentResult(
        warped_rgb=np.clip(warped, 0.0, 1.0),
        overlap_mask=overlap,
        registration_error_px=float(registration.error_px),
        success=True,
        message=registration.message,
        registration=registration,
    )


def correct_color(
    rgb: np.ndarray,
    *,
    baseline_l_star: float | None = None,
    skin_mask: np.ndarray | None = None,
    detect_chart: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Colour-correct a photo from a ColorChecker in it, or else normalise its exposure to the baseline.

    - Chart found (:func:`texture.colorchart.detect_colorchecker`): a 3x3 linear-RGB least-squares
      colour-correction matrix maps the 24 patches onto the X-Rite reference; ``color_delta_e_before`` /
      ``_after`` are the mean CIEDE2000 of the 24 patches against the reference before and after (the
      after value is the fit's residual on the chart itself).
    - No chart, ``baseline_l_star`` given: exposure normalised so that the median L* of ``skin_mask``
      equals ``baseline_l_star`` (:func:`texture.colorchart.normalize_exposure`).
    - Otherwise nothing is changed.

    Returns
    -------
    rgb : ndarray
        The corrected photo (the input itself when nothing ran).
    info : dict
        ``color_correction`` ("chart", "exposure" or "none"), ``color_delta_e_before``,
        ``color_delta_e_after`` (NaN unless a chart was used), ``exposure_gain`` (linear gain; NaN unless
        exposure was normalised), ``chart_detector`` ("mcc", "grid" or ""), ``chart_outline_xy`` (the chart's
        polygon as a list of (x, y), empty without a chart: exclude it from skin masks, e.g. with
        ``texture.roi.polygon_mask``) and ``color_correction_matrix`` (3x3 nested list, or empty).
    """
    rgb = check_rgb(rgb)
    info: dict[str, Any] = {
        "color_correction": "none",
        "color_delta_e_before": float("nan"),
        "color_delta_e_after": float("nan"),
        "exposure_gain": float("nan"),
        "chart_detector": "",
        "chart_outline_xy": [],
        "color_correction_matrix": [],
    }
    chart = detect_colorchecker(rgb) if detect_chart else None
    if chart is not None:
        matrix = color_correction_matrix(chart.patch_rgb)
        corrected_patches = linear_to_srgb(srgb_to_linear(chart.patch_rgb) @ matrix.T)
        info.update(
            color_correction="chart",
            color_delta_e_before=float(np.mean(chart_delta_e(chart.patch_rgb))),
            color_delta_e_after=float(np.mean(chart_delta_e(corrected_patches))),
            chart_detector=chart.method,
            chart_outline_xy=chart.outline.round(1).tolist(),
            color_correction_matrix=matrix.round(6).tolist(),
        )
        return apply_color_correction(rgb, matrix), info
    if baseline_l_star is not None:
        corrected, gain = normalize_exposure(rgb, mask=skin_mask, reference_l_star=baseline_l_star)
        info.update(color_correction="exposure", exposure_gain=gain)
        return corrected, info
    return rgb, info


correct_colour = deprecated_alias(correct_color, "correct_colour")


def align_series(baseline_rgb: np.ndarray, followup_rgb: np.ndarray, **kwargs) -> AlignmentResult:
    """Deprecated (0.2): :func:`align_to_baseline` with the follow-up first; goes in 0.3."""
    import warnings

    warnings.warn(
        "align_series(baseline, followup) is renamed align_to_baseline(followup, baseline); "
        "the old name goes in 0.3",
        DeprecationWarning,
        stacklevel=2,
    )
    return align_to_baseline(followup_rgb, baseline_rgb, **kwargs)


@dataclass
class CommonRegion:
    """The skin a baseline and a follow-up both show, in each photo's own pixel grid.

    Attributes
    ----------
    baseline_mask : ndarray of bool
        The common region in the baseline's frame.
    followup_mask : ndarray of bool
        The same region in the follow-up's frame.
    baseline_fraction, followup_fraction : float
        Share (0-1) of each photo's own ROI that the common region keeps.
    identity : bool
        True when the registration was taken as the identity (no mask was resampled).
    matrix : ndarray (2, 3) or None
        The registration (follow-up -> baseline pixels); None for the identity.
    """

    baseline_mask: np.ndarray
    followup_mask: np.ndarray
    baseline_fraction: float
    followup_fraction: float
    identity: bool
    matrix: np.ndarray | None = None

    @property
    def area_px(self) -> int:
        """Area of the common region in baseline pixels."""
        return int(np.count_nonzero(self.baseline_mask))

    def to_followup(self, baseline_mask: np.ndarray) -> np.ndarray:
        """A part of the common region, given in the baseline's frame, in the follow-up's frame (nearest
        neighbour; never outside the follow-up's common region). The same mapping as the region itself,
        so a part and its copy cover the same skin."""
        part = np.asarray(baseline_mask, dtype=bool) & self.baseline_mask
        if self.identity or self.matrix is None:
            return part & self.followup_mask
        rows, cols = self.followup_mask.shape
        return self.followup_mask & _warp_mask(part, self.matrix, (cols, rows), inverse=True)

    def to_baseline(self, followup_mask: np.ndarray) -> np.ndarray:
        """A mask in the follow-up's frame mapped into the baseline's frame (nearest neighbour)."""
        mask = np.asarray(followup_mask, dtype=bool)
        if self.identity or self.matrix is None:
            return mask.copy()
        rows, cols = self.baseline_mask.shape
        return _warp_mask(mask, self.matrix, (cols, rows), inverse=False)


def _is_identity(matrix: np.ndarray, shape: tuple[int, int], tolerance_px: float) -> bool:
    rows, cols = shape
    corners = np.array([[0, 0, 1], [cols - 1, 0, 1], [0, rows - 1, 1], [cols - 1, rows - 1, 1]], float)
    moved = corners @ np.asarray(matrix, dtype=float).T
    return bool(np.max(np.abs(moved - corners[:, :2])) <= tolerance_px)


def _inner(shape: tuple[int, ...], margin_px: int) -> np.ndarray:
    """The frame without a band of ``margin_px`` along its edges."""
    inner = np.zeros(shape[:2], dtype=bool)
    m = max(0, int(margin_px))
    if 2 * m < min(shape[:2]):
        inner[m : shape[0] - m, m : shape[1] - m] = True
    return inner


def _warp_mask(mask: np.ndarray, matrix: np.ndarray, size_xy: tuple[int, int], inverse: bool) -> np.ndarray:
    flags = cv2.INTER_NEAREST | (cv2.WARP_INVERSE_MAP if inverse else 0)
    out = cv2.warpAffine(
        mask.astype(np.uint8), np.asarray(matrix, dtype=np.float64), size_xy, flags=flags, borderValue=0
    )
    return out.astype(bool)


def common_region(
    baseline_roi: np.ndarray,
    followup_roi: np.ndarray,
    registration: Registration,
    *,
    margin_px: int = COMMON_MARGIN_PX,
    frame_margin_px: int = 0,
    identity_tolerance_px: float = IDENTITY_TOLERANCE_PX,
) -> CommonRegion:
    """The common region of a registered pair: baseline ROI ∩ follow-up ROI mapped into the baseline frame
    ∩ registration overlap (eroded by ``margin_px`` at the follow-up's edge), and its copy in the
    follow-up's frame (module docstring).

    Parameters
    ----------
    baseline_roi, followup_roi : ndarray of bool
        Each photo's own ROI (skin mask, user ROI, chart excluded) in its own frame.
    registration : Registration
        A successful :func:`texture.registration.register_to_baseline` (follow-up -> baseline).
    margin_px : int
        Erosion of the overlap at the follow-up's edge, in baseline pixels.
    frame_margin_px : int
        Pixels along each photo's own frame edge left out of the region (both photos): a measurement
        reads a neighbourhood around each pixel, which near a frame edge is cut off (or reflected) in
        one photo while the other photo shows real skin there (:data:`COMMON_FRAME_MARGIN_MM`).
    identity_tolerance_px : float
        A matrix moving no corner by more than this is taken as the identity.

    Returns
    -------
    CommonRegion
        May be empty (``area_px == 0``); the caller decides what an empty or small region means.
    """
    if not registration.success:
        raise ValueError(f"no common region without a registration: {registration.message}")
    base = np.asarray(baseline_roi, dtype=bool)
    follow = np.asarray(followup_roi, dtype=bool)
    if base.ndim != 2 or follow.ndim != 2:
        raise ValueError("baseline_roi and followup_roi must be 2-D masks")
    identity = base.shape == follow.shape and _is_identity(
        registration.matrix, base.shape, identity_tolerance_px
    )
    base_inner, follow_inner = _inner(base.shape, frame_margin_px), _inner(follow.shape, frame_margin_px)
    if identity:
        common = base & follow & base_inner
        common_follow = common.copy()
    else:
        rows, cols = base.shape
        follow_in_base = _warp_mask(follow, registration.matrix, (cols, rows), inverse=False)
        inside = _warp_mask(follow_inner, registration.matrix, (cols, rows), inverse=False)
        common = common_overlap(inside, baseline_mask=base & follow_in_base & base_inner, margin_px=margin_px)
        # Back into the follow-up's frame (the matrix maps follow-up to baseline: an inverse map), and
        # never outside the follow-up's own ROI.
        common_follow = follow & _warp_mask(
            common, registration.matrix, (follow.shape[1], follow.shape[0]), inverse=True
        )
    base_area, follow_area = np.count_nonzero(base), np.count_nonzero(follow)
    return CommonRegion(
        baseline_mask=common,
        followup_mask=common_follow,
        baseline_fraction=float(np.count_nonzero(common) / base_area) if base_area else 0.0,
        followup_fraction=float(np.count_nonzero(common_follow) / follow_area) if follow_area else 0.0,
        identity=identity,
        matrix=None if identity else np.asarray(registration.matrix, dtype=np.float64),
    )
