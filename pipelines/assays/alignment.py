"""Make a follow-up photo comparable with its baseline: same pixels (registration), same colours (chart
colour correction or exposure normalisation).

The intended order for each follow-up of a subject/region (the baseline itself is only colour-corrected):

1. ``rgb, info = correct_color(followup)``: chart correction when a ColorChecker is in the photo.
2. ``aligned = align_to_baseline(rgb, baseline_rgb, baseline_mask=baseline_skin)``; on failure
   (``aligned.success`` False) record ``aligned.message`` as a warning and do not report changes for the
   pair as if aligned.
3. Without a chart, normalise exposure on the common skin:
   ``correct_color(aligned.warped_rgb, baseline_l_star=median_l_star(baseline_rgb, mask=overlap),
   skin_mask=overlap)``, so both medians are taken over the same skin.
4. Measure baseline and follow-up inside ``aligned.overlap_mask``.

``info`` goes to ``run.json`` (which correction ran) and its ΔE / gain numbers to the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

__all__ = ["AlignmentResult", "align_to_baseline", "correct_color"]


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
