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
3. **Orientation** (structure tensor, as OrientationJ: Rezakhaniha et al. 2012,
   *Biomech Model Mechanobiol* 11:461): the structure tensor (Sobel derivatives, as
   :func:`skimage.feature.structure_tensor`) of the collagen channel pre-smoothed by a 1 px
   Gaussian, with a Gaussian window of ``orientation_scale_um``. The tensors of collagen pixels
   are summed; the eigenvector of the smallest eigenvalue of that mean tensor is the dominant fibre
   direction (``collagen_orientation_deg``) and (l1 - l2) / (l1 + l2) is ``collagen_coherency``
   (0 isotropic, 1 perfectly parallel). Per-pixel fibre angles give the orientation histogram
   (10 degree bins) and ``collagen_alignment``, the mean resultant length of the doubled angles
   (CurveAlign's alignment coefficient; Liu et al. 2020, *Front Bioeng Biotechnol* 8:1001).
4. **Fibres**: :func:`texture.fibres.trace_fibres`.

Angles follow the convention of ``docs/architecture.md``: degrees counter-clockwise from +x as seen
on screen, folded into [0, 180).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from texture.fibres import Fibres, trace_fibres
from texture.filters import gaussian_smooth
from texture.measurement import Measurement, check_mask, check_rgb, check_scale, px_to_mm, px_to_um
from texture.orientation import (
    BIN_DEG,
    N_BINS,
    fibre_angle,
    orientation_overlay,
    orientation_tensor,
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

    def __add__(self, other: CollagenSums) -> CollagenSums:
        return CollagenSums(
            self.tissue_px + other.tissue_px,
            self.collagen_px + other.collagen_px,
            self.jxx + other.jxx,
            self.jxy + other.jxy,
            self.jyy + other.jyy,
            self.cos2 + other.cos2,
            self.sin2 + other.sin2,
            self.angle_counts + other.angle_counts,
            self.fibre_count + other.fibre_count,
            self.fibre_length_px + other.fibre_length_px,
            self.fibre_width_px + other.fibre_width_px,
            self.fibre_straightness + other.fibre_straightness,
            self.branch_points + other.branch_points,
            self.fibres_measured or other.fibres_measured,
        )

    def orientation_table(self) -> dict[str, list[float]]:
        """Orientation histogram: ``bin_start_deg`` and ``fraction`` of collagen pixels per bin."""
        total = self.angle_counts.sum()
        frac = self.angle_counts / total if total else np.full(N_BINS, np.nan)
        return {
            "bin_start_deg": [float(b) for b in range(0, 180, BIN_DEG)],
            "fraction": [float(f) for f in frac],
        }

    def metrics(self, px_per_mm: float | None = None) -> dict[str, float]:
        """Final metric columns (ARCHITECTURE.md names), µm columns NaN without a scale."""
        nan = float("nan")
        m: dict[str, float] = {}
        m["tissue_area_px"] = float(self.tissue_px)
        m["tissue_area_mm2"] = px_to_mm(self.tissue_px, px_per_mm, power=2)
        m["collagen_area_fraction"] = self.collagen_px / self.tissue_px if self.tissue_px else nan
        if self.collagen_px and (self.jxx + self.jyy) > 0:
            angle, coh = tensor_orientation(self.jxx, self.jxy, self.jyy)
            m["collagen_orientation_deg"] = float(angle)
            m["collagen_coherency"] = float(coh)
            m["collagen_alignment"] = float(np.hypot(self.cos2, self.sin2) / self.collagen_px)
        else:
            m["collagen_orientation_deg"] = nan
            m["collagen_coherency"] = nan
            m["collagen_alignment"] = nan
        n = self.fibre_count
        if self.fibres_measured:
            m["fibre_count"] = float(n)
            length = self.fibre_length_px / n if n else nan
            width = self.fibre_width_px / n if n else nan
            m["fibre_length_mean_px"] = length
            m["fibre_length_mean_um"] = px_to_um(length, px_per_mm)
            m["fibre_width_mean_px"] = width
            m["fibre_width_mean_um"] = px_to_um(width, px_per_mm)
            m["fibre_straightness_mean"] = self.fibre_straightness / n if n else nan
            m["fibre_branch_point_count"] = float(self.branch_points)
            area_mm2 = px_to_mm(self.tissue_px, px_per_mm, power=2)
            m["fibre_branch_points_per_mm2"] = (
                self.branch_points / area_mm2 if area_mm2 and np.isfinite(area_mm2) else nan
            )
        else:
            for key in (
                "fibre_count",
                "fibre_length_mean_px",
                "fibre_length_mean_um",
                "fibre_width_mean_px",
                "fibre_width_mean_um",
                "fibre_straightness_mean",
                "fibre_branch_point_count",
                "fibre_branch_points_per_mm2",
            ):
                m[key] = nan
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
            tables={"orientations": self.sums.orientation_table()},
        )


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
    fibre_min_length_um: float = 8.0,
    count_region: tuple[slice, slice] | None = None,
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
        Collagen threshold on the channel (OD units; SHG grey 0-1); automatic (Otsu) when None.
    orientation_scale_um, orientation_scale_px : float
        Gaussian window of the structure tensor (the px value is used when there is no scale).
    vectors, collagen_index : optional
        Custom stain OD vectors and which of them is collagen.
    tissue_od_threshold : float
        Glass/tissue OD cut-off (:func:`detect_tissue`).
    fibres : bool
        Trace fibres (the slowest step).
    fibre_min_length_um : float
        Shorter skeleton pieces are spurs or specks, not fibres (8 px without a scale).
    count_region : (slice, slice), optional
        Only pixels (and fibre centres) inside it enter the sums: used by whole-slide tiling
        so each pixel is counted by exactly one tile while filters see the overlap.

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
    tissue = detect_tissue(rgb, model, od_threshold=tissue_od_threshold) & roi
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
        threshold = threshold_from_histogram(collagen_histogram(channel, tissue & counted, model), model)
    elif not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    coll = tissue & (channel > threshold)

    sigma = max(_scale_px(orientation_scale_um, orientation_scale_px, px_per_mm), 0.5)
    # Derivative scale of 1 px (as OrientationJ's pre-filter): smoother than the mask channel so
    # anti-aliased fibre edges do not bias the gradient directions towards the pixel axes.
    jxx, jxy, jyy = orientation_tensor(gaussian_smooth(raw, 1.0), sigma_px=sigma)
    del raw
    sel = coll & counted
    angle = fibre_angle(*(t[sel].astype(np.float64) for t in (jxx, jxy, jyy)))
    doubled = np.deg2rad(2.0 * angle)
    bins = np.minimum((angle // BIN_DEG).astype(int), N_BINS - 1)
    sums = CollagenSums(
        tissue_px=int(np.count_nonzero(tissue & counted)),
        collagen_px=int(np.count_nonzero(sel)),
        jxx=float(jxx[sel].sum(dtype=np.float64)),
        jxy=float(jxy[sel].sum(dtype=np.float64)),
        jyy=float(jyy[sel].sum(dtype=np.float64)),
        cos2=float(np.cos(doubled).sum(dtype=np.float64)),
        sin2=float(np.sin(doubled).sum(dtype=np.float64)),
        angle_counts=np.bincount(bins, minlength=N_BINS).astype(np.int64),
    )

    traced = None
    if fibres:
        min_px = max(_scale_px(fibre_min_length_um, 8.0, px_per_mm), 3.0)
        ridge_hi = max(_scale_px(3.0, 3.0, px_per_mm), 1.0)
        sigmas = np.unique(np.round(np.linspace(1.0, ridge_hi, 3), 2))
        traced = trace_fibres(channel, coll, ridge_sigmas_px=sigmas, min_fibre_px=min_px)
        own = _inside(traced.centre_rc, counted)
        sums.fibre_count = int(own.sum())
        sums.fibre_length_px = float(traced.length_px[own].sum())
        sums.fibre_width_px = float(traced.width_px[own].sum())
        sums.fibre_straightness = float(traced.straightness[own].sum())
        sums.branch_points = int(_inside(traced.branch_points_rc, counted).sum())
        sums.fibres_measured = True
    return CollagenAnalysis(model, channel, tissue, coll, float(threshold), jxx, jxy, jyy, traced, sums)


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
    ``collagen_coherency``, ``collagen_alignment``, ``fibre_*`` (µm and ``_px`` twins),
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
