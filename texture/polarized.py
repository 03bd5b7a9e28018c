"""Picrosirius red under polarised light: birefringent collagen split by interference colour.

Between crossed polarisers, sirius-red-stained collagen is birefringent on a dark field; the colour
depends on fibre thickness and packing: thick, densely packed fibres appear red to orange, thinner
and loosely packed ones yellow to green (Junqueira, Bignolas & Brentani 1979, *Histochem J*
11:447-455). Rich & Whittaker (2005, *J Morphol Sci* 22:97-104; the brief's "J Histotechnol") split
the birefringent pixels by hue into red, orange, yellow and green and report each as a fraction of
the collagen area; (red + orange) / green, thick over thin, is the usual proxy for the ratio of
collagen I (thick) to collagen III (thin) fibres.

**It is a proxy, not a collagen typing.** The colour also changes with section thickness, fibre
orientation to the polarisers (use circularly polarised light, or rotate and average, for
orientation-independent colour) and packing; Lattouf et al. (2014, *J Histochem Cytochem*
62:751-758) showed that hue alone does not identify collagen types. Compare ratios only between
sections cut, stained and imaged alike.

Method
------
1. **Birefringent area**: value V = max(R, G, B). A pixel is birefringent when V reaches half the
   brightest value within ``edge_radius_px`` (the local half-maximum, so a dim green fibre and a
   bright red one are both cut at their own edges, as the collagen threshold of
   :mod:`texture.tissue` does for brightfield) and that local maximum exceeds the dark field by
   ``min_contrast`` (dark field: the 5th percentile of V). Pixels with saturation below
   ``min_saturation`` (white or grey light leaking through imperfect polarisers) are birefringent
   but have no hue class.
2. **Hue classes** (HSV hue, Rich & Whittaker's 8-bit bounds h8 converted to degrees,
   h = h8 * 360 / 256): red h8 230-255 and 0-9 (323.4-360 and 0-14.1 deg), orange 10-38
   (14.1-54.8 deg), yellow 39-51 (54.8-73.1 deg), green 52-128 (73.1-181.4 deg). Rich & Whittaker
   start red at h8 = 2 because ImageJ gives unsaturated (black) pixels hue 0; we exclude those by
   ``min_saturation`` instead, so pure red (h = 0) counts as red. Hues 181.4-323.4 deg (blue,
   purple) are no collagen colour and stay unclassified. Bounds are upper-exclusive.
3. **Fractions** of the classified (collagen) area: ``collagen_pol_<colour>_fraction``; the area
   itself over the analysed region: ``collagen_pol_area_fraction``; the unclassified share of the
   birefringent area: ``collagen_pol_unclassified_fraction``; ``collagen_pol_thick_thin_ratio`` =
   (red + orange) / green, NaN without green.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture.measurement import Measurement, check_mask, check_rgb

__all__ = ["HUE_CLASSES_DEG", "hue_classes", "birefringent_mask", "measure_polarized_psr"]

_H8 = 360.0 / 256.0

#: Hue class bounds in degrees (lower inclusive, upper exclusive), after Rich & Whittaker 2005.
HUE_CLASSES_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "red": ((230 * _H8, 360.0), (0.0, 10 * _H8)),
    "orange": ((10 * _H8, 39 * _H8),),
    "yellow": ((39 * _H8, 52 * _H8),),
    "green": ((52 * _H8, 129 * _H8),),
}

_CLASSES = tuple(HUE_CLASSES_DEG)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (degrees [0, 360)), saturation and value (0-1) as float32."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2HSV)
    return hsv[..., 0], hsv[..., 1], hsv[..., 2]


def hue_classes(hue_deg: np.ndarray) -> np.ndarray:
    """Class index per pixel: 1 red, 2 orange, 3 yellow, 4 green, 0 no collagen colour."""
    h = np.mod(np.asarray(hue_deg, dtype=np.float64), 360.0)
    out = np.zeros(h.shape, dtype=np.uint8)
    for idx, name in enumerate(_CLASSES, start=1):
        for lo, hi in HUE_CLASSES_DEG[name]:
            out[(h >= lo) & (h < hi)] = idx
    return out


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def birefringent_mask(
    rgb: np.ndarray,
    *,
    edge_radius_px: float = 4.0,
    min_contrast: float = 0.08,
) -> np.ndarray:
    """Birefringent pixels of a crossed-polariser image: the local half-maximum rule (module notes).

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], (rows, cols, 3), birefringence bright on a dark field.
    edge_radius_px : float
        Radius (px) of the neighbourhood whose brightest value sets the local half-maximum; about
        half the widest fibre.
    min_contrast : float
        How far (0-1 of full scale) above the dark field a neighbourhood's brightest value must be.
    """
    rgb = check_rgb(rgb, name="rgb")
    _check_positive("edge_radius_px", edge_radius_px)
    _check_positive("min_contrast", min_contrast)
    value = rgb.max(axis=2).astype(np.float32)
    dark = float(np.percentile(value, 5.0))
    r = max(int(round(edge_radius_px)), 1)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    local_max = cv2.dilate(value, disk, borderType=cv2.BORDER_REPLICATE)
    half = dark + 0.5 * (local_max - dark)
    return (value >= half) & (local_max > dark + min_contrast) & (value > dark + 0.5 * min_contrast)


def measure_polarized_psr(
    rgb: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    edge_radius_px: float = 4.0,
    min_contrast: float = 0.08,
    min_saturation: float = 0.25,
) -> Measurement:
    """Collagen hue fractions of picrosirius red under polarised light (Rich & Whittaker 2005).

    Parameters
    ----------
    rgb : ndarray
        Float sRGB in [0, 1], (rows, cols, 3): a crossed- or circular-polariser image.
    mask : ndarray of bool, optional
        Region to analyse (e.g. the dermis outlined on a paired brightfield image); the whole
        field when None.
    edge_radius_px, min_contrast : float
        Birefringent-area rule (:func:`birefringent_mask`).
    min_saturation : float
        Below it a birefringent pixel is white/grey light and gets no hue class.

    Returns
    -------
    Measurement
        ``metrics``: ``collagen_pol_area_fraction`` (classified collagen area over the region),
        ``collagen_pol_red_fraction``, ``_orange_fraction``, ``_yellow_fraction``,
        ``_green_fraction`` (of the collagen area, summing to 1),
        ``collagen_pol_thick_thin_ratio`` ((red + orange) / green; NaN without green),
        ``collagen_pol_unclassified_fraction`` (birefringent but no collagen hue, over the
        birefringent area), ``collagen_pol_birefringent_px``;
        ``labels``: 0 background, 1-4 red, orange, yellow, green, 5 unclassified;
        ``overlay``: the classes painted in pure colours.

    Raises
    ------
    ValueError
        Bad image or mask, an empty mask, negative options.
    """
    rgb = check_rgb(rgb, name="rgb")
    region = check_mask(mask, rgb.shape[:2])
    if not region.any():
        raise ValueError("mask is empty: no pixel to measure")
    _check_positive("min_saturation", min_saturation)
    biref = birefringent_mask(rgb, edge_radius_px=edge_radius_px, min_contrast=min_contrast) & region
    hue, sat, _ = _hsv(rgb)
    cls = hue_classes(hue)
    cls[sat < min_saturation] = 0
    labels = np.zeros(rgb.shape[:2], dtype=np.int32)
    labels[biref] = np.where(cls[biref] > 0, cls[biref], 5)
    counts = np.bincount(labels.ravel(), minlength=6).astype(float)
    collagen = counts[1:5].sum()
    n_biref = counts[1:6].sum()
    nan = float("nan")
    metrics: dict[str, float] = {
        "collagen_pol_area_fraction": float(collagen / region.sum()),
        "collagen_pol_birefringent_px": float(n_biref),
    }
    for idx, name in enumerate(_CLASSES, start=1):
        metrics[f"collagen_pol_{name}_fraction"] = float(counts[idx] / collagen) if collagen else nan
    thick = counts[1] + counts[2]
    metrics["collagen_pol_thick_thin_ratio"] = float(thick / counts[4]) if counts[4] else nan
    metrics["collagen_pol_unclassified_fraction"] = float(counts[5] / n_biref) if n_biref else nan
    palette = np.array(
        [(0, 0, 0), (1, 0, 0), (1, 0.55, 0), (1, 1, 0), (0, 0.85, 0), (0.6, 0.6, 0.6)], dtype=np.float32
    )
    return Measurement(metrics=metrics, overlay=palette[labels], labels=labels)
