"""Tissue versus glass, and the collagen threshold, in stained sections.

Tissue (:func:`detect_tissue`)
------------------------------
Brightfield sections are found in four local steps, each documented by its own option:

1. **Stained tissue**: glass transmits nearly all light, so a pixel is stained tissue when the
   optical density of its darkest channel (relative to the glass colour ``glass_rgb``, white by
   default; :func:`estimate_glass_rgb` measures it), Gaussian-smoothed over ``smooth_px``, exceeds
   ``od_threshold`` (0.1, i.e. < 79 % transmission).
2. **Pale tissue**: loose or oedematous dermis, fat septa and faintly stained matrix often transmit
   80-90 % of the light. Pixels above ``pale_od_threshold`` (0.04 OD: glass at its brightest is
   < 0.02 OD plus noise) count as tissue when stained tissue lies within ``pale_reach_um``
   (hysteresis by distance, not by unbounded connectivity, so whole-slide tiles reproduce it).
3. **Holes** (fat vacuoles, vessel lumens, small tears) enclosed by tissue and at most
   ``max_hole_um`` across (bounding box) are part of the section and are filled; larger
   enclosed glass (a real gap between pieces) stays glass. Adipocytes are 50-150 µm across.
4. **Pen marks** (marker ink on the coverslip) are excluded: pixels whose smoothed OD is not a
   non-negative mixture of the stain's own dyes (residual above ``pen_residual`` of the OD norm,
   OD norm above 0.3) or that absorb > 90 % in every channel (black ink). A pen of the same colour
   as a dye cannot be told from that dye. **Folds** (doubled section) are excluded only when
   ``fold_od`` is given: the counterstain (not the collagen dye, whose density varies with the
   biology) smoothed over 4 ``smooth_px`` above ``fold_od``, since a doubled section doubles it.
   Off by default: the right cut-off depends on the staining run, and total intensity alone cannot
   tell a fold from a dense collagen bundle (folds are likewise found with slide-specific
   cut-offs, e.g. Bautista & Yagi 2010, *Proc IEEE EMBC*).

Holes are filled before ink and folds are removed (their pale rims would otherwise enclose
them). Every step reaches at most :func:`tissue_context_px` pixels, so tiles of a whole slide that carry
that much context reproduce the whole-image mask exactly.

SHG images have no glass: tissue is the **signal envelope**, the grey image smoothed over
``envelope_px`` above ``shg_level`` (0.02 of full scale, five 8-bit grey levels: five times the
dark-field envelope of the CurveAlign test images), hole-filled like brightfield. The level is
absolute, not relative to the image's own percentiles, so whole-slide tiles agree; raise it for a
detector whose dark level is offset. A user mask replaces it (see
:func:`texture.collagen.analyze_collagen`).

Collagen threshold
------------------
The collagen channel inside tissue is histogrammed in fixed bins (:func:`collagen_histogram`), so
whole-slide tiles, or all slides of a study (:func:`batch_threshold`), pool their histograms and get
exactly the same threshold. :func:`threshold_from_histogram` offers two rules:

- ``'half_max'`` (default): **half the optical density of a fully stained fibre**. The histogram is
  split by Otsu's method; the fully stained level ``peak`` is the median of the upper class (its
  mode is unstable when blur flattens it). The threshold is ``background + 0.5 * (peak -
  background)``, where the background is 0 for deconvolved dyes (an unstained pixel holds no dye)
  and the mode of the lower class (histogram smoothed over 0.02) for SHG (detector offset and
  scatter). An anti-aliased or blurred fibre edge crosses half
  its core density exactly at the geometric edge (the half-maximum / full-width-at-half-maximum
  edge criterion), so the mask matches the fibre's true width; a dermis that is all collagen has one
  population, whose upper-class mode is its own level, so nearly all of it is above half of it.
- ``'otsu'``: Otsu's threshold (the behaviour before 0.2): it lands between the background peak and
  the fibres, counting the fibre halo when fibres are sparse and splitting a unimodal,
  all-collagen dermis in two.

Both are floored at :data:`MIN_THRESHOLD`, so a faint counterstain is never collagen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from texture.filters import gaussian_smooth
from texture.stains import StainModel, optical_density

__all__ = [
    "MIN_THRESHOLD",
    "THRESHOLD_METHODS",
    "detect_tissue",
    "estimate_glass_rgb",
    "tissue_context_px",
    "collagen_histogram",
    "threshold_from_histogram",
    "batch_threshold",
]


#: Smallest automatic threshold: 0.1 OD of collagen dye for brightfield stains, 0.05 of full
#: scale for SHG intensity.
MIN_THRESHOLD = {"brightfield": 0.1, "shg": 0.05}

#: Rules of :func:`threshold_from_histogram`.
THRESHOLD_METHODS = ("half_max", "otsu")


_HIST_RANGE = {"brightfield": 3.0, "shg": 1.0}


_HIST_BINS = 600

# Histogram smoothing before the mode is read: 0.02 OD (brightfield) / 0.02 of full scale (SHG).
_MODE_SMOOTH = 0.02

# Defaults in pixels when the scale is unknown (a 20x scan is ~2 px/µm).
_MAX_HOLE_PX = 300.0
_PALE_REACH_PX = 100.0

# Pen marks: smoothed OD norm above this and unexplained by the dyes (or black) over this scale.
_PEN_MIN_OD = 0.3
_BLACK_OD = 1.0


def _to_px(value_um: float, px_per_mm: float | None, default_px: float) -> float:
    if px_per_mm is None:
        return float(default_px)
    return float(value_um) * float(px_per_mm) / 1000.0


def _check_non_negative(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_glass(glass_rgb: Sequence[float] | None) -> np.ndarray:
    if glass_rgb is None:
        return np.ones(3, dtype=np.float32)
    g = np.asarray(glass_rgb, dtype=np.float32).reshape(-1)
    if g.size != 3 or not np.all(np.isfinite(g)) or np.any(g <= 0) or np.any(g > 1):
        raise ValueError(f"glass_rgb must be three values in (0, 1], got {glass_rgb!r}")
    return g


def tissue_context_px(
    *,
    px_per_mm: float | None = None,
    smooth_px: float = 2.0,
    max_hole_um: float = 150.0,
    pale_reach_um: float = 50.0,
    envelope_px: float = 8.0,
) -> int:
    """Pixels of context a window needs for :func:`detect_tissue` to equal the whole-image mask.

    The farthest reach of the smoothing (4 sigma), the pale-tissue distance and the largest filled
    hole, with the same options as :func:`detect_tissue`.
    """
    hole = _to_px(max_hole_um, px_per_mm, _MAX_HOLE_PX)
    reach = _to_px(pale_reach_um, px_per_mm, _PALE_REACH_PX)
    smooth = 4.0 * max(smooth_px, envelope_px)
    return int(np.ceil(smooth + reach + hole)) + 2


def estimate_glass_rgb(rgb: np.ndarray, *, min_fraction: float = 0.01) -> tuple[float, float, float] | None:
    """The colour of bare glass in a brightfield image, or None when there is (almost) none.

    Glass is the brightest, most uniform population: pixels whose darkest channel is within 0.03
    of the image's 99.5th percentile of that channel and above 0.8. If they cover at least
    ``min_fraction`` of the image and their per-channel median is near neutral (channels within
    0.06), that median is the glass colour (the I0 of Beer-Lambert). Estimate it once per slide
    (e.g. on an overview) and pass it to :func:`detect_tissue` as ``glass_rgb``.
    """
    img = np.asarray(rgb, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb must have shape (rows, cols, 3), got {img.shape}")
    darkest = img.min(axis=2)
    top = float(np.percentile(darkest, 99.5))
    bright = darkest >= max(top - 0.03, 0.8)
    if bright.mean() < min_fraction:
        return None
    colour = tuple(float(np.median(img[..., c][bright])) for c in range(3))
    if max(colour) - min(colour) > 0.06:  # tinted: pale stained tissue or a cleft, not bare glass
        return None
    return colour


def detect_tissue(
    rgb: np.ndarray,
    model: StainModel,
    *,
    smooth_px: float = 2.0,
    od_threshold: float = 0.1,
    px_per_mm: float | None = None,
    pale_od_threshold: float | None = 0.04,
    pale_reach_um: float = 50.0,
    max_hole_um: float = 150.0,
    glass_rgb: Sequence[float] | None = None,
    exclude_pen: bool = True,
    pen_residual: float = 0.35,
    fold_od: float | None = None,
    envelope_px: float = 8.0,
    shg_level: float = 0.02,
) -> np.ndarray:
    """Tissue (True) versus glass, pen marks and (optionally) folds; see the module notes.

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], (rows, cols, 3); SHG: grey replicated to RGB.
    model : StainModel
        The stain (SHG when ``model.collagen`` is None).
    smooth_px : float
        Gaussian sigma (px) of the OD before thresholding.
    od_threshold : float
        OD of the darkest channel above which a pixel is stained tissue.
    px_per_mm : float, optional
        Scale for the µm options; without it 100 px (reach) and 300 px (holes) are used.
    pale_od_threshold : float or None
        Lower OD for pale tissue near stained tissue; None disables the pale step.
    pale_reach_um : float
        How far (µm) from stained tissue a pale pixel may lie.
    max_hole_um : float
        Enclosed glass up to this extent (µm, bounding box) is part of the section; 0 disables.
    glass_rgb : sequence of 3 floats, optional
        Colour of bare glass (I0); white when None.
    exclude_pen : bool
        Exclude marker ink (colours that are no non-negative mix of the dyes, or black).
    pen_residual : float
        Fraction of the OD norm left unexplained by the dyes above which a pixel is ink.
    fold_od : float, optional
        Counterstain concentration (OD; e.g. picric acid for PSR; the summed RGB OD for H&E),
        smoothed over 4 ``smooth_px``, above which tissue is a fold (a doubled section doubles its
        counterstain); about 1.5 times that of single-thickness tissue. None: folds are kept.
    envelope_px : float
        SHG: Gaussian sigma (px) of the signal envelope.
    shg_level : float
        SHG: envelope level (fraction of full scale) above which is tissue.

    Returns
    -------
    ndarray of bool
        (rows, cols) tissue mask.
    """
    for name, value in (
        ("smooth_px", smooth_px),
        ("od_threshold", od_threshold),
        ("pale_reach_um", pale_reach_um),
        ("max_hole_um", max_hole_um),
        ("pen_residual", pen_residual),
        ("envelope_px", envelope_px),
        ("shg_level", shg_level),
    ):
        _check_non_negative(name, value)
    if pale_od_threshold is not None:
        _check_non_negative("pale_od_threshold", pale_od_threshold)
    if fold_od is not None:
        _check_non_negative("fold_od", fold_od)
    hole_px = _to_px(max_hole_um, px_per_mm, _MAX_HOLE_PX)
    if model.collagen is None:
        return _shg_envelope(rgb, envelope_px=envelope_px, level=shg_level, max_hole_px=hole_px)

    glass = _check_glass(glass_rgb)
    # Channel-wise minimum relative to the glass colour: numpy's min(axis=2) over 3 interleaved
    # values is several times slower.
    rel = np.asarray(rgb, dtype=np.float32) / glass
    darkest = np.minimum(np.minimum(rel[..., 0], rel[..., 1]), rel[..., 2])
    raw_od = optical_density(np.clip(darkest, 1.0 / 255.0, 1.0))
    del darkest
    od_max = gaussian_smooth(raw_od, smooth_px) if smooth_px > 0 else raw_od
    tissue = od_max > od_threshold
    if pale_od_threshold is not None and pale_od_threshold < od_threshold and tissue.any():
        reach = int(round(_to_px(pale_reach_um, px_per_mm, _PALE_REACH_PX)))
        if reach > 0:
            # Half the smoothing: a low cut-off on the full blur would spread every dark edge
            # about 2 sigma onto the glass.
            pale = gaussian_smooth(raw_od, 0.5 * smooth_px) if smooth_px > 0 else raw_od
            tissue |= _dilate_disk(tissue, reach) & (pale > pale_od_threshold)
            del pale
    del od_max, raw_od

    # Holes first: ink and folds removed afterwards must not leave a rim that encloses them.
    if hole_px >= 1:
        tissue = fill_small_holes(tissue, max_extent_px=hole_px)
    if exclude_pen or fold_od is not None:
        od = optical_density(np.clip(rel, 1.0 / 255.0, 1.0))
        if smooth_px > 0:
            od = gaussian_smooth(od, smooth_px)  # OpenCV filters the three channels in one pass
        if exclude_pen:
            tissue &= ~_ink(od, model, pen_residual, grow_px=int(np.ceil(2.0 * smooth_px)) + 1)
        if fold_od is not None:
            level = gaussian_smooth(_counterstain(od, model), 4.0 * max(smooth_px, 1.0))
            tissue &= ~(level > fold_od)
    return tissue


def _ink(od: np.ndarray, model: StainModel, pen_residual: float, grow_px: int) -> np.ndarray:
    """Pixels whose OD is not a non-negative mix of the model's real dyes, or black; the dense
    core of a stroke, grown by ``grow_px`` into its paler, equally unexplained rim."""
    real = [i for i, name in enumerate(model.dyes) if name and name != "residual"]
    m = model.matrix[real].astype(np.float32)  # dyes x RGB
    od = np.ascontiguousarray(od, dtype=np.float32)
    # Per-pixel matrix products by cv2.transform (in C, several times faster than numpy matmuls).
    # Least squares on the real dyes, negative concentrations clipped: what the dyes can explain.
    conc = cv2.transform(od, np.linalg.pinv(m).T.astype(np.float32))
    np.maximum(conc, 0.0, out=conc)
    if conc.ndim == 2:  # one dye: OpenCV drops the channel axis
        conc = conc[..., None]
    resid = od - cv2.transform(conc, m.T.copy())
    ones = np.ones((1, 3), dtype=np.float32)
    norm2 = cv2.transform(od * od, ones)
    unexplained = cv2.transform(resid * resid, ones) > np.float32(pen_residual**2) * norm2
    black = np.minimum(np.minimum(od[..., 0], od[..., 1]), od[..., 2]) > _BLACK_OD
    core = (unexplained & (norm2 > _PEN_MIN_OD**2)) | black
    if not core.any():
        return core
    return core | (_dilate_disk(core, grow_px) & (unexplained | black))


def _counterstain(od: np.ndarray, model: StainModel) -> np.ndarray:
    """Concentration (OD) of the counterstain dyes: neither the measured dye, nor haematoxylin,
    nor a residual; the summed RGB OD when the stain has none (H&E)."""
    others = [
        i
        for i, name in enumerate(model.dyes)
        if name and name != "residual" and i not in (model.collagen, model.haematoxylin)
    ]
    if not others:
        return od.sum(axis=2)
    conc = od @ np.linalg.inv(model.matrix).astype(np.float32)
    return np.maximum(conc[..., others], 0.0).sum(axis=2)


def _dilate_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a disk of ``radius`` px (outside the image is background)."""
    if radius <= 0:
        return mask.copy()
    # Distance to the nearest True pixel: a Euclidean disk for any radius in linear time (OpenCV's
    # 5x5 chamfer mask, within 2 % of the exact distance; 3x faster than its exact transform).
    dist = cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    return dist <= radius


def fill_small_holes(mask: np.ndarray, *, max_extent_px: float) -> np.ndarray:
    """Fill background regions enclosed by ``mask`` whose bounding box is at most ``max_extent_px``.

    Regions touching the image border are never holes. The bounding-box extent (not the area)
    bounds how far a filled hole reaches, which keeps the result local for tiling.
    """
    lab, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    out = mask.copy()
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None or i in border:
            continue
        if max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) <= max_extent_px:
            out[sl] |= lab[sl] == i
    return out


def _shg_envelope(rgb: np.ndarray, *, envelope_px: float, level: float, max_hole_px: float) -> np.ndarray:
    grey = np.asarray(rgb, dtype=np.float32).mean(axis=2)
    envelope = gaussian_smooth(grey, envelope_px) if envelope_px > 0 else grey
    tissue = envelope > level
    if max_hole_px >= 1:
        tissue = fill_small_holes(tissue, max_extent_px=max_hole_px)
    return tissue


def _kind(model: StainModel) -> str:
    return "shg" if model.collagen is None else "brightfield"


def collagen_histogram(channel: np.ndarray, tissue: np.ndarray, model: StainModel) -> np.ndarray:
    """Counts of the collagen channel inside tissue in fixed bins (poolable across tiles)."""
    hi = _HIST_RANGE[_kind(model)]
    values = np.clip(channel[tissue], 0.0, hi)
    return np.histogram(values, bins=_HIST_BINS, range=(0.0, hi))[0].astype(np.int64)


def threshold_from_histogram(counts: np.ndarray, model: StainModel, *, method: str = "half_max") -> float:
    """Collagen threshold of a :func:`collagen_histogram` (see the module notes).

    Parameters
    ----------
    counts : ndarray
        Histogram counts (or weights) in the fixed bins of :func:`collagen_histogram`.
    model : StainModel
        The stain (brightfield or SHG decides the range, floor and background).
    method : {'half_max', 'otsu'}
        Half the OD of a fully stained fibre (default), or Otsu's threshold.

    Returns
    -------
    float
        Threshold in OD units (SHG: grey 0-1), at least :data:`MIN_THRESHOLD`.
    """
    if method not in THRESHOLD_METHODS:
        raise ValueError(f"threshold method must be one of {THRESHOLD_METHODS}, got {method!r}")
    kind = _kind(model)
    floor = MIN_THRESHOLD[kind]
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (_HIST_BINS,):
        raise ValueError(
            f"counts must be a collagen_histogram of {_HIST_BINS} bins, got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("histogram counts must be finite and >= 0")
    if counts.sum() == 0 or np.count_nonzero(counts) < 2:
        return floor
    hi = _HIST_RANGE[kind]
    width = hi / _HIST_BINS
    centres = (np.arange(_HIST_BINS) + 0.5) * width
    otsu = float(threshold_otsu(hist=(counts, centres)))
    if method == "otsu":
        return float(max(otsu, floor))
    upper = centres > otsu
    if counts[upper].sum() == 0 or counts[~upper].sum() == 0:
        return float(max(otsu, floor))
    peak = _weighted_median(centres[upper], counts[upper])
    if kind == "brightfield":
        background = 0.0
    else:
        smooth = ndi.gaussian_filter1d(counts, _MODE_SMOOTH / width, mode="constant")
        background = float(centres[~upper][np.argmax(smooth[~upper])])
    return float(max(background + 0.5 * (peak - background), floor))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    cum = np.cumsum(weights)
    return float(values[int(np.searchsorted(cum, 0.5 * cum[-1]))])


def batch_threshold(
    histograms: Iterable[np.ndarray],
    model: StainModel,
    *,
    method: str = "half_max",
    weight: str = "image",
) -> float:
    """One collagen threshold for a whole study batch, from every image's :func:`collagen_histogram`.

    Compute it once over all slides of a study and pass it to every analysis as ``threshold=`` so
    all sessions are thresholded alike (record it with the run).

    Parameters
    ----------
    histograms : iterable of ndarray
        One histogram per image (or per slide, already pooled over its tiles).
    model : StainModel
        The stain of the batch.
    method : {'half_max', 'otsu'}
        As in :func:`threshold_from_histogram`.
    weight : {'image', 'pixels'}
        ``'image'``: each histogram is normalised to sum 1 first, so every image weighs the same
        whatever its tissue area; ``'pixels'``: raw counts are pooled (large slides weigh more).
    """
    if weight not in ("image", "pixels"):
        raise ValueError(f"weight must be 'image' or 'pixels', got {weight!r}")
    total = np.zeros(_HIST_BINS, dtype=np.float64)
    n = 0
    for h in histograms:
        h = np.asarray(h, dtype=np.float64)
        if h.shape != (_HIST_BINS,):
            raise ValueError(f"each histogram must have {_HIST_BINS} bins, got shape {h.shape}")
        s = h.sum()
        if s > 0:
            total += h / s if weight == "image" else h
        n += 1
    if n == 0:
        raise ValueError("batch_threshold needs at least one histogram")
    return threshold_from_histogram(total, model, method=method)
