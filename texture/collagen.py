"""The collagen summary of a stained section: area fraction, orientation, alignment and fibres.

The steps live in their own modules: stain separation (:mod:`texture.stains`), tissue and the
collagen threshold (:mod:`texture.tissue`), filters (:mod:`texture.filters`), the orientation field
(:mod:`texture.orientation`) and fibre tracing (:mod:`texture.fibres`). This module runs them in
order and keeps every pooled quantity as sums in :class:`CollagenSums`, so tiles of a whole slide
combine exactly (``sum(tiles).metrics()``), never by averaging per-tile angles.

Method
------
1. **Collagen channel**: the collagen dye concentration (OD units; SHG: grey intensity), smoothed by
   a 0.5 px Gaussian against pixel noise (more would widen thin fibres at the threshold).
2. **Tissue** and **collagen mask**: :func:`texture.tissue.detect_tissue`, then the channel above
   the threshold (:func:`texture.tissue.threshold_from_histogram`, or ``threshold=``). Area fractions
   are of tissue, not of the field.
3. **Orientation**, as OrientationJ defines it (Rezakhaniha et al. 2012, *Biomech Model Mechanobiol*
   11:461; :mod:`texture.orientation`): its cubic-spline gradient of the *unfiltered* collagen
   channel. The gradient products summed over the analysed tissue (its one-pixel image border left
   out) give OrientationJ's "Dominant Direction": the dominant fibre direction
   (``collagen_orientation_deg``) and ``collagen_coherency`` = (l1 - l2) / (l1 + l2) (0 isotropic,
   1 perfectly parallel). Below coherency :data:`texture.orientation.MIN_COHERENCY` (0.1) there is
   no dominant direction: the orientation is NaN and ``collagen_orientation_undefined`` is 1. With
   the skin surface's direction (``surface_deg``), ``collagen_orientation_to_surface_deg`` is the
   angle between fibres and surface in [0, 90]. The products smoothed by a Gaussian window of
   ``orientation_scale_um`` (OrientationJ's local tensor) give per-pixel fibre angles on collagen
   pixels: the orientation histogram (10 degree bins) and ``collagen_pixel_alignment``, the mean
   resultant length of their doubled angles (pixel-based; not CurveAlign's per-fibre coefficient).
   Before 0.3 the channel was smoothed by 1 px and only collagen-mask pixels were summed, which read
   coherency 1.44-1.75x higher than OrientationJ on real images.
4. **Fibres** (:func:`texture.fibres.trace_fibres`) traced in :func:`fibre_mask`, linked through
   junctions and across gaps as CT-FIRE does, shorter than ``fibre_min_length_um`` dropped
   (CT-FIRE's 30 px without a scale): count, mean length, end-to-end length, width, straightness,
   the axial mean angle and CurveAlign's coefficient of alignment of the fibre angles
   (``fibre_alignment_coefficient``, and length-weighted), AnaMorf curvature; per-fibre table
   ``fibres``.
5. **Matrix** (TWOMBLI, :mod:`texture.matrix`): high-density-matrix fraction of tissue, skeleton
   length per mm² of tissue, end and branch points per mm², lacunarity and box-counting dimension
   of the pruned skeleton (the last not poolable over slide tiles: NaN there).

Angles follow the convention of ``docs/architecture.md``: degrees counter-clockwise from +x as seen
on screen, folded into [0, 180).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from texture.fibres import CTFIRE_MIN_LENGTH_PX, Fibres, fibre_table, trace_fibres
from texture.filters import gaussian_smooth
from texture.matrix import (
    box_counting_dimension,
    hdm_grey_cut,
    lacunarity_from_counts,
    path_curvature_deg,
)
from texture.measurement import Measurement, check_mask, check_rgb, check_scale, px_to_mm, px_to_um
from texture.orientation import (
    BIN_DEG,
    MIN_COHERENCY,
    N_BINS,
    fibre_angle,
    orientation_overlay,
    orientation_to_surface_deg,
    orientationj_gradient,
    tensor_orientation,
)
from texture.stains import StainModel, collagen_channel, stain_model
from texture.tissue import collagen_histogram, detect_tissue, threshold_from_histogram

__all__ = [
    "CollagenSums",
    "CollagenAnalysis",
    "analyze_collagen",
    "measure_collagen",
]


@dataclass
class CollagenSums:
    """Poolable sums behind every collagen metric; add tiles, then call :meth:`metrics`."""

    tissue_px: int = 0
    collagen_px: int = 0
    jxx: float = 0.0
    jxy: float = 0.0
    jyy: float = 0.0
    cos2: float = 0.0
    sin2: float = 0.0
    angle_counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS, dtype=np.int64))
    fibre_count: int = 0
    fibre_length_px: float = 0.0
    fibre_width_px: float = 0.0
    fibre_straightness: float = 0.0
    branch_points: int = 0
    fibres_measured: bool = False

    # Poolable sums of the fibre table and TWOMBLI's descriptors (texture.fibres, texture.matrix).
    fibre_end_to_end_px: float = 0.0
    fibre_cos2: float = 0.0
    fibre_sin2: float = 0.0
    fibre_length_cos2: float = 0.0
    fibre_length_sin2: float = 0.0
    skeleton_px: int = 0
    end_points: int = 0
    hdm_px: int = 0
    curvature_deg_sum: float = 0.0
    curvature_points: int = 0
    curvature_fibres: int = 0
    #: Box counting needs the whole mask at once: set for an untiled image, NaN once tiles are added.
    fractal_dimension: float = float("nan")
    #: Direction of the skin surface (degrees), when known, for ``collagen_orientation_to_surface_deg``.
    surface_deg: float = float("nan")

    def __add__(self, other: CollagenSums) -> CollagenSums:
        out = CollagenSums()
        for f in fields(CollagenSums):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "fibres_measured":
                value = a or b
            elif f.name == "fractal_dimension":
                value = float("nan")
            elif f.name == "surface_deg":
                value = a if np.isfinite(a) else b
            else:
                value = a + b
            setattr(out, f.name, value)
        return out

    def orientation_table(self) -> dict[str, list[float]]:
        """Orientation histogram: ``bin_start_deg`` and ``fraction`` of collagen pixels per bin."""
        total = self.angle_counts.sum()
        frac = self.angle_counts / total if total else np.full(N_BINS, np.nan)
        return {
            "bin_start_deg": [float(b) for b in range(0, 180, BIN_DEG)],
            "fraction": [float(f) for f in frac],
        }

    def metrics(self, px_per_mm: float | None = None) -> dict[str, float]:
        """Final metric columns (docs/architecture.md names), µm columns NaN without a scale."""
        nan = float("nan")
        m: dict[str, float] = {}
        m["tissue_area_px"] = float(self.tissue_px)
        m["tissue_area_mm2"] = px_to_mm(self.tissue_px, px_per_mm, power=2)
        m["collagen_area_fraction"] = self.collagen_px / self.tissue_px if self.tissue_px else nan
        if (self.jxx + self.jyy) > 0:
            # OrientationJ's dominant direction of the analysed region (see analyze_collagen).
            angle, coh = tensor_orientation(self.jxx, self.jxy, self.jyy)
            undefined = float(coh) < MIN_COHERENCY
            m["collagen_orientation_deg"] = nan if undefined else float(angle)
            m["collagen_coherency"] = float(coh)
            m["collagen_orientation_undefined"] = float(undefined)
        else:
            # No gradient at all: OrientationJ reports coherency 0 (its energy test), and no orientation.
            m["collagen_orientation_deg"] = nan
            m["collagen_coherency"] = 0.0 if self.tissue_px else nan
            m["collagen_orientation_undefined"] = 1.0
        m["collagen_orientation_to_surface_deg"] = orientation_to_surface_deg(
            m["collagen_orientation_deg"], self.surface_deg
        )
        m["collagen_pixel_alignment"] = (
            float(np.hypot(self.cos2, self.sin2) / self.collagen_px) if self.collagen_px else nan
        )
        area_mm2 = px_to_mm(self.tissue_px, px_per_mm, power=2)
        has_area = bool(area_mm2) and np.isfinite(area_mm2)
        n = self.fibre_count
        keys = (
            "fibre_count",
            "fibre_length_mean_px",
            "fibre_length_mean_um",
            "fibre_end_to_end_length_mean_px",
            "fibre_end_to_end_length_mean_um",
            "fibre_width_mean_px",
            "fibre_width_mean_um",
            "fibre_straightness_mean",
            "fibre_angle_mean_deg",
            "fibre_alignment_coefficient",
            "fibre_alignment_coefficient_length_weighted",
            "fibre_curvature_mean_deg",
            "fibre_curvature_count",
            "fibre_branch_point_count",
            "fibre_branch_points_per_mm2",
            "fibre_end_point_count",
            "fibre_end_points_per_mm2",
            "matrix_fibre_length_px",
            "matrix_fibre_length_mm_per_mm2",
            "matrix_high_density_fraction",
            "matrix_lacunarity",
            "matrix_fractal_dimension",
        )
        if not self.fibres_measured:
            m.update(dict.fromkeys(keys, nan))
            return m
        m["fibre_count"] = float(n)
        length = self.fibre_length_px / n if n else nan
        e2e = self.fibre_end_to_end_px / n if n else nan
        width = self.fibre_width_px / n if n else nan
        m["fibre_length_mean_px"] = length
        m["fibre_length_mean_um"] = px_to_um(length, px_per_mm)
        m["fibre_end_to_end_length_mean_px"] = e2e
        m["fibre_end_to_end_length_mean_um"] = px_to_um(e2e, px_per_mm)
        m["fibre_width_mean_px"] = width
        m["fibre_width_mean_um"] = px_to_um(width, px_per_mm)
        m["fibre_straightness_mean"] = self.fibre_straightness / n if n else nan
        # Axial (doubled-angle) mean of the per-fibre angles, and its resultant length: CurveAlign's
        # circular mean and "Coef of Alignment" of fibre angles.
        m["fibre_angle_mean_deg"] = (
            float(np.mod(np.degrees(np.arctan2(self.fibre_sin2, self.fibre_cos2)) / 2.0, 180.0)) if n else nan
        )
        m["fibre_alignment_coefficient"] = float(np.hypot(self.fibre_cos2, self.fibre_sin2) / n) if n else nan
        m["fibre_alignment_coefficient_length_weighted"] = (
            float(np.hypot(self.fibre_length_cos2, self.fibre_length_sin2) / self.fibre_length_px)
            if self.fibre_length_px > 0
            else nan
        )
        m["fibre_curvature_mean_deg"] = (
            self.curvature_deg_sum / self.curvature_points if self.curvature_points else nan
        )
        m["fibre_curvature_count"] = float(self.curvature_fibres)
        m["fibre_branch_point_count"] = float(self.branch_points)
        m["fibre_branch_points_per_mm2"] = self.branch_points / area_mm2 if has_area else nan
        m["fibre_end_point_count"] = float(self.end_points)
        m["fibre_end_points_per_mm2"] = self.end_points / area_mm2 if has_area else nan
        m["matrix_fibre_length_px"] = float(self.skeleton_px)
        length_mm = px_to_mm(self.skeleton_px, px_per_mm)
        m["matrix_fibre_length_mm_per_mm2"] = length_mm / area_mm2 if has_area else nan
        m["matrix_high_density_fraction"] = self.hdm_px / self.tissue_px if self.tissue_px else nan
        m["matrix_lacunarity"] = lacunarity_from_counts(self.skeleton_px, self.tissue_px)
        m["matrix_fractal_dimension"] = float(self.fractal_dimension)
        return m


@dataclass
class CollagenAnalysis:
    """Everything :func:`analyze_collagen` computed, for metrics and overlays.

    ``jxx, jxy, jyy`` are the local structure tensors (screen axes, float32); the per-pixel
    ``angle_deg`` and ``coherency`` are derived from them on demand (overlays only).
    """

    model: StainModel
    channel: np.ndarray
    tissue: np.ndarray
    mask: np.ndarray
    threshold: float
    jxx: np.ndarray
    jxy: np.ndarray
    jyy: np.ndarray
    fibres: Fibres | None
    sums: CollagenSums

    @property
    def angle_deg(self) -> np.ndarray:
        return tensor_orientation(self.jxx, self.jxy, self.jyy)[0]

    @property
    def coherency(self) -> np.ndarray:
        return tensor_orientation(self.jxx, self.jxy, self.jyy)[1]

    def orientation_overlay(self) -> np.ndarray:
        """Hue = local fibre angle, value = local coherency, black outside the collagen mask."""
        angle, coherency = tensor_orientation(self.jxx, self.jxy, self.jyy, dtype=np.float32)
        return orientation_overlay(angle, coherency, self.mask)

    def measurement(self, px_per_mm: float | None = None) -> Measurement:
        return Measurement(
            metrics=self.sums.metrics(px_per_mm),
            overlay=self.orientation_overlay(),
            labels=self.mask.astype(np.int32),
            tables=self.tables(px_per_mm),
        )

    def tables(
        self, px_per_mm: float | None = None, *, offset_rc: tuple[float, float] = (0.0, 0.0)
    ) -> dict[str, dict]:
        """``orientations`` (10 degree histogram) and, when fibres were traced, ``fibres`` (one row per
        fibre, :func:`texture.fibres.fibre_table`)."""
        out: dict[str, dict] = {"orientations": self.sums.orientation_table()}
        if self.fibres is not None:
            out["fibres"] = fibre_table(self.fibres, px_per_mm, offset_rc=offset_rc)
        return out


def _scale_px(value_um: float | None, value_px: float, px_per_mm: float | None) -> float:
    if value_um is not None and px_per_mm is not None and np.isfinite(px_per_mm) and px_per_mm > 0:
        return value_um * px_per_mm / 1000.0
    return value_px


def analyze_collagen(
    rgb: np.ndarray,
    *,
    stain: str = "psr",
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    threshold: float | None = None,
    orientation_scale_um: float = 4.0,
    orientation_scale_px: float = 4.0,
    vectors: Sequence[Sequence[float]] | None = None,
    collagen_index: int = 0,
    tissue_od_threshold: float = 0.1,
    fibres: bool = True,
    fibre_min_length_um: float = 15.0,
    fibre_min_length_px: float = CTFIRE_MIN_LENGTH_PX,
    fibre_link_angle_deg: float = 30.0,
    curvature_window_px: int = 20,
    surface_deg: float | None = None,
    count_region: tuple[slice, slice] | None = None,
    threshold_method: str = "half_max",
    tissue_options: Mapping[str, Any] | None = None,
) -> CollagenAnalysis:
    """Collagen mask, orientation field and fibres of a stained section (see module notes).

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], (rows, cols, 3). SHG: grey replicated to RGB (collagen bright).
    stain : str
        A key of :data:`STAIN_PRESETS` or ``'custom'`` (with ``vectors``).
    px_per_mm : float, optional
        Scale; converts the µm options to pixels and the lengths to µm.
    mask : ndarray of bool, optional
        Region to analyse (e.g. the dermis from :mod:`texture.epidermis`), intersected with tissue.
    threshold : float, optional
        Collagen threshold on the channel (OD units; SHG grey 0-1), e.g. one fixed for a study batch
        (:func:`texture.tissue.batch_threshold`); automatic (``threshold_method``) when None.
    orientation_scale_um, orientation_scale_px : float
        Gaussian window of the structure tensor (the px value is used when there is no scale).
    vectors, collagen_index : optional
        Custom stain OD vectors and which of them is collagen.
    tissue_od_threshold : float
        Glass/tissue OD cut-off (:func:`detect_tissue`).
    fibres : bool
        Trace fibres (the slowest step) and measure TWOMBLI's matrix descriptors.
    fibre_min_length_um, fibre_min_length_px : float
        Fibres shorter than this are not reported (the px value is used when there is no scale;
        CT-FIRE's default minimum is 30 px, 15 µm at a typical SHG 0.5 µm/px).
    fibre_link_angle_deg : float
        Largest bend at which two branches meeting at a junction are one fibre (CT-FIRE: 30).
    curvature_window_px : int
        AnaMorf/TWOMBLI curvature window (its default 20 px).
    surface_deg : float, optional
        Direction of the skin surface (e.g. :func:`texture.orientation.surface_angle_deg` of the
        epidermis mask) for ``collagen_orientation_to_surface_deg``.
    count_region : (slice, slice), optional
        Only pixels (and fibre centres) inside it enter the sums: used by whole-slide tiling
        so each pixel is counted by exactly one tile while filters see the overlap.
    threshold_method : {'half_max', 'otsu'}
        Automatic threshold rule (:func:`texture.tissue.threshold_from_histogram`): half the OD of
        a fully stained fibre (default), or Otsu's (before 0.2).
    tissue_options : mapping, optional
        Further keyword arguments of :func:`texture.tissue.detect_tissue` (pale tissue, holes,
        glass colour, pen marks, folds, SHG envelope). For SHG a given ``mask`` is the tissue.

    Raises
    ------
    ValueError
        Bad image, mask or scale; an empty mask; no tissue at all (unless ``count_region`` is
        given: a slide tile may be all glass).
    """
    rgb = check_rgb(rgb, name="rgb")
    if min(rgb.shape[:2]) < 3:
        # The structure tensor needs a neighbourhood: a line or a dot of pixels has no orientation.
        raise ValueError(f"image too small to measure collagen orientation: {rgb.shape[:2]} px")
    px_per_mm = check_scale(px_per_mm)
    model = stain_model(stain, vectors=vectors, collagen_index=collagen_index)
    roi = check_mask(mask, rgb.shape[:2])
    if not roi.any():
        raise ValueError("mask is empty: no pixel to measure")
    raw = collagen_channel(rgb, model, smooth_px=0.0)
    channel = gaussian_smooth(raw, 0.5)
    if model.collagen is None and mask is not None:
        tissue = roi.copy()  # SHG shows no glass: the user's region is the tissue
    else:
        tissue_kw = dict(tissue_options or {})
        tissue_kw.setdefault("px_per_mm", px_per_mm)
        tissue = detect_tissue(rgb, model, od_threshold=tissue_od_threshold, **tissue_kw) & roi
    counted = np.zeros_like(tissue)
    if count_region is None:
        if not tissue.any():
            raise ValueError(
                "no tissue found (the image or mask reads as glass); check the stain or tissue_od_threshold"
            )
        counted[:] = True
    else:
        counted[count_region] = True  # a whole-slide tile may be all glass: its sums are zero
    if threshold is None:
        threshold = threshold_from_histogram(
            collagen_histogram(channel, tissue & counted, model), model, method=threshold_method
        )
    elif not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    coll = tissue & (channel > threshold)

    sigma = max(_scale_px(orientation_scale_um, orientation_scale_px, px_per_mm), 0.5)
    # OrientationJ's definition: its cubic-spline gradient of the unfiltered channel; the local tensor
    # (angle histogram, pixel alignment, overlay) smoothed by the window, the dominant direction and
    # coherency from the unsmoothed gradient products summed over the analysed tissue (its 1 px image
    # border excluded, where the mirrored spline has no gradient across the border).
    gx, gy = orientationj_gradient(raw)
    del raw
    gxx, gxy, gyy = gx * gx, gx * gy, gy * gy
    del gx, gy
    region = tissue & counted
    region[0, :] = region[-1, :] = False
    region[:, 0] = region[:, -1] = False
    ojxx = float(gxx[region].sum())
    ojxy = float(gxy[region].sum())
    ojyy = float(gyy[region].sum())
    jxx = gaussian_smooth(gxx.astype(np.float32), sigma)
    jxy = gaussian_smooth(gxy.astype(np.float32), sigma)
    jyy = gaussian_smooth(gyy.astype(np.float32), sigma)
    del gxx, gxy, gyy
    sel = coll & counted
    angle = fibre_angle(*(t[sel].astype(np.float64) for t in (jxx, jxy, jyy)))
    doubled = np.deg2rad(2.0 * angle)
    bins = np.minimum((angle // BIN_DEG).astype(int), N_BINS - 1)
    sums = CollagenSums(
        tissue_px=int(np.count_nonzero(tissue & counted)),
        collagen_px=int(np.count_nonzero(sel)),
        jxx=ojxx,
        jxy=ojxy,
        jyy=ojyy,
        cos2=float(np.cos(doubled).sum(dtype=np.float64)),
        sin2=float(np.sin(doubled).sum(dtype=np.float64)),
        angle_counts=np.bincount(bins, minlength=N_BINS).astype(np.int64),
    )
    if surface_deg is not None:
        sums.surface_deg = float(surface_deg)

    traced = None
    if fibres:
        min_px = _scale_px(fibre_min_length_um, fibre_min_length_px, px_per_mm)
        ridge_hi = max(_scale_px(3.0, 3.0, px_per_mm), 1.0)
        sigmas = np.unique(np.round(np.linspace(1.0, ridge_hi, 3), 2))
        traced = trace_fibres(
            channel,
            fibre_mask(channel, tissue, threshold),
            ridge_sigmas_px=sigmas,
            min_length_px=min_px,
            link_angle_deg=fibre_link_angle_deg,
            # CT-FIRE joins aligned fibre ends up to 15 px apart, half its 30 px minimum length.
            link_gap_px=0.5 * min_px,
        )
        traced = _add_fibre_sums(sums, traced, counted, curvature_window_px)
        # TWOMBLI's HDM rule is a cut on ImageJ's unweighted grey (R + G + B) / 3 (texture.matrix).
        cut = 3.0 * hdm_grey_cut(dark_fibres=model.collagen is not None)
        grey_sum = rgb.sum(axis=2, dtype=np.float32)
        hdm = grey_sum < cut if model.collagen is not None else grey_sum >= cut
        sums.hdm_px = int(np.count_nonzero(hdm & tissue & counted))
        if count_region is None:
            sums.fractal_dimension = box_counting_dimension(traced.skeleton)
    return CollagenAnalysis(model, channel, tissue, coll, float(threshold), jxx, jxy, jyy, traced, sums)


#: Gaussian (px) of the local background a fibre must stand out from (:func:`fibre_mask`).
FIBRE_BACKGROUND_PX = 16.0


def fibre_mask(channel: np.ndarray, tissue: np.ndarray, threshold: float) -> np.ndarray:
    """Where fibres are traced: tissue pixels brighter than their local background (the channel
    smoothed by a Gaussian of :data:`FIBRE_BACKGROUND_PX`) and than a quarter of the collagen
    threshold. The collagen (area-fraction) mask is too strict for tracing: dim fibres between
    bright bundles, which CT-FIRE traces, fall below a global threshold but stand out locally.
    """
    background = _smooth_background(channel, FIBRE_BACKGROUND_PX)
    return tissue & (channel > background) & (channel > 0.25 * float(threshold))


def _smooth_background(channel: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian background of ``sigma_px``, computed at a quarter of the resolution (area-averaged, the
    Gaussian there sigma / 4, bilinear back): a 16 px Gaussian holds nothing finer than 4 px, and the
    full-resolution kernel (129 taps) cost more than the fibre tracing it serves."""
    import cv2

    rows, cols = channel.shape
    f = 4
    if min(rows, cols) < 8 * f:
        return gaussian_smooth(channel, sigma_px)
    small = cv2.resize(
        np.asarray(channel, dtype=np.float32),
        (max(cols // f, 1), max(rows // f, 1)),
        interpolation=cv2.INTER_AREA,
    )
    small = gaussian_smooth(small, sigma_px / f)
    return cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)


def _add_fibre_sums(sums: CollagenSums, traced: Fibres, counted: np.ndarray, window_px: int) -> Fibres:
    """Add the fibres whose centre lies in ``counted`` (and the skeleton there) to ``sums``; return them."""
    own = _inside(traced.centre_rc, counted)
    mine = traced.select(own)
    sums.fibre_count = mine.count
    sums.fibre_length_px = float(mine.length_px.sum())
    sums.fibre_end_to_end_px = float(mine.end_to_end_px.sum())
    sums.fibre_width_px = float(mine.width_px.sum())
    sums.fibre_straightness = float(mine.straightness.sum())
    doubled = np.deg2rad(2.0 * mine.angle_deg)
    sums.fibre_cos2 = float(np.cos(doubled).sum())
    sums.fibre_sin2 = float(np.sin(doubled).sum())
    sums.fibre_length_cos2 = float((mine.length_px * np.cos(doubled)).sum())
    sums.fibre_length_sin2 = float((mine.length_px * np.sin(doubled)).sum())
    curv = path_curvature_deg(mine.path_rc, mine.path_indptr, window_px=window_px)
    sums.curvature_deg_sum = float(curv.sum())
    sums.curvature_points = int(curv.size)
    # AnaMorf measures curvature only along lines longer than two windows.
    sums.curvature_fibres = int(np.count_nonzero(np.diff(mine.path_indptr) > 2 * int(window_px)))
    sums.branch_points = int(_inside(traced.branch_points_rc, counted).sum())
    sums.end_points = int(_inside(traced.end_points_rc, counted).sum())
    sums.skeleton_px = int(np.count_nonzero(traced.skeleton & counted))
    sums.fibres_measured = True
    return mine


def _inside(points_rc: np.ndarray, region: np.ndarray) -> np.ndarray:
    if points_rc.size == 0:
        return np.zeros(0, dtype=bool)
    idx = np.clip(np.round(points_rc).astype(int), 0, np.array(region.shape) - 1)
    return region[idx[:, 0], idx[:, 1]]


def measure_collagen(
    rgb: np.ndarray,
    *,
    stain: str = "psr",
    px_per_mm: float | None = None,
    mask: np.ndarray | None = None,
    threshold: float | None = None,
    orientation_scale_um: float = 4.0,
    vectors: Sequence[Sequence[float]] | None = None,
    fibres: bool = True,
) -> Measurement:
    """Collagen metrics of a stained section as a :class:`Measurement`.

    Metrics: ``collagen_area_fraction`` (of tissue), ``collagen_orientation_deg``,
    ``collagen_coherency``, ``collagen_pixel_alignment``, ``fibre_*`` (µm and ``_px`` twins), ``matrix_*``,
    ``tissue_area_mm2``. Overlay: orientation colour map; labels: collagen mask; table
    ``orientations`` (10 degree histogram). See :func:`analyze_collagen` for the options.
    """
    result = analyze_collagen(
        rgb,
        stain=stain,
        px_per_mm=px_per_mm,
        mask=mask,
        threshold=threshold,
        orientation_scale_um=orientation_scale_um,
        vectors=vectors,
        fibres=fibres,
    )
    return result.measurement(px_per_mm)


# Names that lived here before the split (0.1): importable for one release, with a warning.
_MOVED = {
    "STAIN_PRESETS": "texture.stains",
    "StainModel": "texture.stains",
    "stain_model": "texture.stains",
    "separate": "texture.stains",
    "collagen_channel": "texture.stains",
    "MIN_THRESHOLD": "texture.tissue",
    "detect_tissue": "texture.tissue",
    "collagen_histogram": "texture.tissue",
    "threshold_from_histogram": "texture.tissue",
    "orientation_tensor": "texture.orientation",
    "tensor_orientation": "texture.orientation",
    "orientation_overlay": "texture.orientation",
    "BIN_DEG": "texture.orientation",
    "N_BINS": "texture.orientation",
    "gaussian_smooth": "texture.filters",
    "ridge_filter": "texture.filters",
    "trace_fibres": "texture.fibres",
    "Fibres": "texture.fibres",
    "validate_scale": "texture.measurement",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        target = "check_scale" if name == "validate_scale" else name
        warnings.warn(
            f"texture.collagen.{name} moved to {_MOVED[name]}.{target}; the old name goes in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), target)
    raise AttributeError(f"module 'texture.collagen' has no attribute {name!r}")
