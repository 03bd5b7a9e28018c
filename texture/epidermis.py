"""Epidermis in a stained skin section: segmentation, thickness and rete-ridge interdigitation.

Method
------
1. **Glass and surface**: glass is found as in :func:`texture.collagen.detect_tissue`; only glass
   regions touching the image border and covering at least ``min_glass_fraction`` of the image
   count as the outside of the section (holes and lumens inside it do not). The skin surface is
   the border between that glass and the tissue.
2. **Epidermis**: the haematoxylin channel (Ruifrok–Johnston deconvolution) smoothed over
   ``smooth_um`` so that the densely packed keratinocyte nuclei merge into one band, thresholded
   by Otsu inside the tissue (or ``threshold=``), closed and hole-filled; the connected component
   with the longest contact with the surface is the epidermis, provided that it lines at least
   ``min_surface_contact`` of the surface. Otherwise no epidermis is reported (NaN metrics).
3. **Thickness**: the image is turned by a multiple of 90 degrees so the glass lies above the
   tissue; in each column the epidermis' vertical extent is multiplied by cos(surface tilt)
   (surface height smoothed over ``surface_smooth_um``), which is the thickness along the surface
   normal for a locally straight surface. ``epidermis_thickness_mean_um`` and ``_sd_um`` are the
   mean and standard deviation over columns (per-column thickness as in histomorphometry of
   skin, e.g. Sandby-Møller et al. 2003, *Acta Derm Venereol* 83:410).
4. **Interdigitation index**: length of the dermal–epidermal junction (the epidermis' lower edge,
   one height per column, smoothed over ``smooth_um``) divided by the straight distance between
   its ends: 1 for a flat junction, larger for deep rete ridges.

Limits: one epidermis per image; surfaces curving by more than ~45 degrees inside the image
(e.g. a whole round punch biopsy) are measured per column in the dominant direction; junctions
that fold back over themselves are followed by their deepest point per column.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from texture.measurement import Measurement, check_rgb, px_to_um
from texture.measurement import check_scale as validate_scale
from texture.stains import separate, stain_model
from texture.tissue import detect_tissue

__all__ = ["segment_epidermis", "measure_epidermis", "EpidermisSegmentation"]

GLASS, EPIDERMIS, DERMIS = 0, 1, 2


class EpidermisSegmentation:
    """Labels (0 glass, 1 epidermis, 2 other tissue / dermis) and the frame used to measure them."""

    def __init__(self, labels: np.ndarray, turns: int, found: bool, reason: str = ""):
        self.labels = labels
        self.turns = turns
        self.found = found
        self.reason = reason

    @property
    def epidermis(self) -> np.ndarray:
        return self.labels == EPIDERMIS

    @property
    def dermis(self) -> np.ndarray:
        return self.labels == DERMIS


def _px(value_um: float, px_per_mm: float | None, default_px: float) -> float:
    if px_per_mm is None or not np.isfinite(px_per_mm) or px_per_mm <= 0:
        return default_px
    return value_um * px_per_mm / 1000.0


def _outer_glass(tissue: np.ndarray, min_fraction: float) -> np.ndarray:
    lab, n = ndi.label(~tissue)
    if n == 0:
        return np.zeros_like(tissue)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    border = border[border > 0]
    sizes = ndi.sum_labels(np.ones_like(lab), lab, index=border)
    keep = border[sizes >= min_fraction * tissue.size]
    return np.isin(lab, keep)


def _turns_to_put_glass_on_top(glass: np.ndarray) -> int:
    """k for np.rot90 (counter-clockwise quarter turns) bringing the glass above the tissue."""
    rows, cols = np.nonzero(glass)
    tr, tc = np.nonzero(~glass)
    dr = rows.mean() - tr.mean()
    dc = cols.mean() - tc.mean()
    if abs(dr) >= abs(dc):
        return 0 if dr < 0 else 2
    return 1 if dc > 0 else 3  # rot90 once moves the right edge to the top


def segment_epidermis(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    stain: str = "he",
    smooth_um: float = 4.0,
    threshold: float | None = None,
    tissue_od_threshold: float = 0.1,
    min_glass_fraction: float = 0.02,
    min_surface_contact: float = 0.3,
) -> EpidermisSegmentation:
    """Glass / epidermis / dermis labels of a stained skin section (see module notes)."""
    rgb = check_rgb(rgb, name="rgb")
    px_per_mm = validate_scale(px_per_mm)
    model = stain_model(stain)
    if model.haematoxylin is None:
        raise ValueError(f"stain {stain!r} has no haematoxylin channel to find the epidermis with")
    tissue = detect_tissue(rgb, model, od_threshold=tissue_od_threshold)
    glass = _outer_glass(tissue, min_glass_fraction)
    labels = np.full(tissue.shape, DERMIS, dtype=np.uint8)
    labels[glass] = GLASS
    if not glass.any():
        return EpidermisSegmentation(labels, 0, False, "no glass at the image border: no surface")
    tissue = ~glass
    if not tissue.any():
        raise ValueError("no tissue found: the image reads as glass")

    sigma = max(_px(smooth_um, px_per_mm, 4.0), 1.0)
    # Normalised convolution: average only over tissue, so the band keeps its edge at the glass.
    weight = ndi.gaussian_filter(tissue.astype(float), sigma)
    haem = separate(rgb, model)[..., model.haematoxylin] * tissue
    haem = ndi.gaussian_filter(haem, sigma) / np.maximum(weight, 1e-6)
    t = threshold if threshold is not None else threshold_otsu(haem[tissue])
    candidate = tissue & (haem > t)
    close = int(round(sigma))
    if close > 0:
        disk = _disk(close)
        # Closing as scipy's binary_closing(border_value=0): outside the image is background.
        disk = disk.astype(np.uint8)
        closed = cv2.dilate(candidate.view(np.uint8), disk)
        closed = cv2.erode(closed, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        candidate = (closed > 0) & tissue
    candidate = _fill_holes(candidate)

    # The band's edge is blurred by the smoothing: look for contact within ~2 sigma of the glass.
    reach = int(np.ceil(2 * sigma)) + 2
    # reach 3x3 dilations = one (2 reach + 1) square dilation
    square = np.ones((2 * reach + 1, 2 * reach + 1), dtype=np.uint8)
    surface = tissue & (cv2.dilate(glass.view(np.uint8), square) > 0)
    n_surface = int(surface.sum())
    lab, n = ndi.label(candidate)
    if n == 0 or n_surface == 0:
        return EpidermisSegmentation(labels, 0, False, "no haematoxylin-rich band")
    contact = ndi.sum_labels(surface, lab, index=np.arange(1, n + 1))
    best = int(np.argmax(contact))
    if contact[best] < min_surface_contact * n_surface:
        return EpidermisSegmentation(labels, 0, False, "no haematoxylin-rich band lines the tissue surface")
    labels[lab == best + 1] = EPIDERMIS
    return EpidermisSegmentation(labels, _turns_to_put_glass_on_top(glass), True)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndi.binary_fill_holes``: background not 4-connected to the image border is filled (one
    labelling instead of scipy's dilation to convergence)."""
    lab, _ = ndi.label(~mask)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return mask | ((lab > 0) & ~np.isin(lab, border[border > 0]))


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2


def measure_epidermis(
    rgb: np.ndarray,
    *,
    px_per_mm: float | None = None,
    stain: str = "he",
    smooth_um: float = 4.0,
    threshold: float | None = None,
    surface_smooth_um: float = 25.0,
    tissue_od_threshold: float = 0.1,
    min_glass_fraction: float = 0.02,
    min_surface_contact: float = 0.3,
) -> Measurement:
    """Epidermal thickness (mean, sd) and interdigitation index of a skin section.

    Returns a :class:`Measurement` with metrics ``epidermis_thickness_mean_um`` /
    ``_mean_px``, ``epidermis_thickness_sd_um`` / ``_sd_px``, ``epidermis_interdigitation_index``
    and ``epidermis_found`` (1/0; the others are NaN when no epidermis is found), ``labels``
    (0 glass, 1 epidermis, 2 dermis: pass ``labels == 2`` as the collagen mask) and an overlay
    with the epidermis outlined. Parameters in µm fall back to px values when the scale is unknown
    (smoothing 4 px, surface smoothing 25 px).
    """
    seg = segment_epidermis(
        rgb,
        px_per_mm=px_per_mm,
        stain=stain,
        smooth_um=smooth_um,
        threshold=threshold,
        tissue_od_threshold=tissue_od_threshold,
        min_glass_fraction=min_glass_fraction,
        min_surface_contact=min_surface_contact,
    )
    nan = float("nan")
    metrics = {
        "epidermis_found": 0.0,
        "epidermis_thickness_mean_um": nan,
        "epidermis_thickness_mean_px": nan,
        "epidermis_thickness_sd_um": nan,
        "epidermis_thickness_sd_px": nan,
        "epidermis_interdigitation_index": nan,
    }
    overlay = np.array(rgb, dtype=float, copy=True)
    if seg.found:
        thick, dej = _column_profiles(
            seg,
            _px(surface_smooth_um, px_per_mm, 25.0),
            max(_px(smooth_um, px_per_mm, 4.0), 1.0),
        )
        if thick.size:
            mean_px, sd_px = float(thick.mean()), float(thick.std())
            metrics.update(
                epidermis_found=1.0,
                epidermis_thickness_mean_px=mean_px,
                epidermis_thickness_mean_um=px_to_um(mean_px, px_per_mm),
                epidermis_thickness_sd_px=sd_px,
                epidermis_thickness_sd_um=px_to_um(sd_px, px_per_mm),
                epidermis_interdigitation_index=_interdigitation(dej),
            )
        epi = seg.epidermis
        edge = epi & ~ndi.binary_erosion(epi, structure=np.ones((3, 3)), iterations=2)
        overlay[edge] = (0.0, 0.9, 0.9)
    return Measurement(metrics=metrics, overlay=overlay, labels=seg.labels)


def _column_profiles(seg: EpidermisSegmentation, smooth_px: float, junction_smooth_px: float):
    """Per-column normal thickness (px) and junction heights (col, row), glass turned to the top."""
    labels = np.rot90(seg.labels, seg.turns)
    epi = labels == EPIDERMIS
    tissue = labels != GLASS
    cols = np.nonzero(epi.any(axis=0) & tissue.any(axis=0))[0]
    if cols.size == 0:
        return np.zeros(0), np.zeros((0, 2))
    surface_row = np.argmax(tissue, axis=0).astype(float)
    smooth_surface = ndi.gaussian_filter1d(surface_row, max(smooth_px, 1.0), mode="nearest")
    tilt = np.arctan(np.gradient(smooth_surface))
    vertical = epi.sum(axis=0).astype(float)
    thickness = vertical[cols] * np.cos(tilt[cols])
    rows = np.arange(epi.shape[0])[:, None]
    deepest = np.where(epi, rows, -1).max(axis=0)
    # The thresholded junction is jagged at the pixel scale; smoothing at the segmentation scale
    # keeps rete ridges (tens of µm) while removing steps that would inflate its length.
    depth = ndi.gaussian_filter1d(deepest[cols] + 0.5, junction_smooth_px, mode="nearest")
    dej = np.column_stack([cols.astype(float), depth])
    return thickness, dej


def _interdigitation(dej: np.ndarray) -> float:
    if len(dej) < 2:
        return float("nan")
    steps = np.diff(dej, axis=0)
    length = float(np.hypot(steps[:, 0], steps[:, 1]).sum())
    straight = float(np.hypot(*(dej[-1] - dej[0])))
    return length / straight if straight > 0 else float("nan")
