"""TWOMBLI's matrix descriptors: high-density matrix, skeleton length, end and branch points, lacunarity,
box-counting fractal dimension and curvature.

TWOMBLI (Wershof et al. 2021, *Life Sci Alliance* 4:e202000880; macro ``Twombli_v1.ijm`` of
wershofe/TWOMBLI) detects fibre centre lines (ImageJ "Ridge Detection") and hands the line mask to
AnaMorf (Barry et al. 2015, *Fungal Biol Biotechnol* 2:1; ``Batch_Analyser.java`` and
``HyphalAnalyser.java`` of djpbarry/AnaMorf), which prunes branches shorter than the minimum branch
length and measures the skeleton. Definitions followed here:

- **High-density matrix (HDM) fraction** (TWOMBLI's ``processFileHDM`` + ``Quant_Black_Space``):
  the 8-bit image (inverted first when the fibres are bright), display range set to 0..200 and
  applied, inverted again; HDM = 1 - fraction of black pixels. For bright fibres (SHG, fluorescence)
  that is the fraction of pixels with 8-bit grey > 255 - 200 = 55; for dark fibres (bright-field)
  the fraction with grey < 200. :func:`high_density_matrix` reproduces ImageJ's LUT arithmetic.
- **Total length**: AnaMorf counts skeleton pixels (a diagonal step counts 1, not sqrt 2).
- **End points**: skeleton pixels with one 8-neighbour, not within 2 px of the image border
  (AnaMorf's ``radius = 2`` margin). **Branch points**: junctions of the skeleton, one per
  8-connected cluster of pixels with more than two neighbours (AnaMorf counts junction pixels
  with a de-duplicating test; a cluster is the same junction).
- **Lacunarity** (AnaMorf): ``|var / mean² - 1|`` of the binary mask's pixel values with ImageJ's
  sample variance; for a mask covering a fraction p of n pixels that is
  ``|(1 - p) / p * n / (n - 1) - 1|`` (:func:`lacunarity_from_counts`, poolable over tiles).
- **Box-counting fractal dimension** (AnaMorf's ``FractalEstimator.do2DEstimate``): boxes of side
  2 .. max(rows, cols) / 4.5 px on a grid centred on the image; D = -slope of log(boxes holding
  mask pixels) against log(box side). Ten box sizes spaced geometrically here (AnaMorf: evenly),
  whole boxes only.
- **Curvature** (AnaMorf's ``CurveAnalyser.calcCurvature``): along a traced line, at each pixel j
  the change of direction (degrees) between the chords j-w -> j and j -> j+w, for a window w px;
  the mean |change| over all points of lines longer than 2 w. AnaMorf follows the longest path of
  each connected object; here every traced fibre (:mod:`texture.fibres`) is followed.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "high_density_matrix",
    "hdm_grey_cut",
    "skeleton_end_points",
    "skeleton_branch_points",
    "lacunarity",
    "lacunarity_from_counts",
    "box_counting_dimension",
    "path_curvature_deg",
    "TWOMBLI_MAX_DISPLAY_HDM",
    "ANAMORF_EDGE_PX",
]

#: TWOMBLI's default "Maximum Display HDM" (8-bit grey).
TWOMBLI_MAX_DISPLAY_HDM = 200

#: AnaMorf ignores end points within this many pixels of the image border.
ANAMORF_EDGE_PX = 2

_EIGHT = np.ones((3, 3), dtype=np.uint8)


def _check_2d(image: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {a.shape}")
    return a


def high_density_matrix(
    grey: np.ndarray, *, dark_fibres: bool = False, max_display: int = TWOMBLI_MAX_DISPLAY_HDM
) -> np.ndarray:
    """Boolean map of TWOMBLI's high-density matrix (its complement is what TWOMBLI counts as black).

    Parameters
    ----------
    grey : ndarray
        Grey image in [0, 1] (ImageJ's "8-bit" conversion of the picture TWOMBLI is given), 2-D.
    dark_fibres : bool
        True for dark fibres on a light background (bright-field stains), False for bright fibres
        (SHG, fluorescence).
    max_display : int
        TWOMBLI's "Maximum Display HDM" (default 200).

    Returns
    -------
    ndarray of bool
        The HDM fraction is ``mask.mean()`` over the image (or over a region).
    """
    g = _check_2d(grey, "grey").astype(float)
    if not np.all(np.isfinite(g)) or g.min() < 0 or g.max() > 1:
        raise ValueError("grey must be finite and within [0, 1]")
    if not (0 < max_display <= 255):
        raise ValueError(f"max_display must be within (0, 255], got {max_display!r}")
    return _hdm(g, dark_fibres=dark_fibres, max_display=max_display)


def hdm_grey_cut(*, dark_fibres: bool, max_display: int = TWOMBLI_MAX_DISPLAY_HDM) -> float:
    """The grey level (in [0, 1]) that TWOMBLI's HDM rule amounts to: HDM is ``grey > cut`` for bright
    fibres and ``grey < cut`` for dark ones (see :func:`high_density_matrix`)."""
    # ImageJ's "Apply LUT" after setMinAndMax(0, max) maps v to (v - min) / (max - min) * 256, truncated
    # and clamped to 255; a pixel is black after the final inversion where that is 255, i.e. where the
    # (possibly inverted) 8-bit value v satisfies v * 256 / max >= 255.
    v_black = int(np.ceil(255.0 * max_display / 256.0))  # smallest v that turns black: 200 for 200
    # Bright fibres: inverted first, so black where 255 - g8 >= v_black, HDM where g8 > 255 - v_black.
    # 8-bit rounding: g8 > k  <=>  g * 255 >= k + 0.5.
    return (v_black - 0.5) / 255.0 if dark_fibres else (255 - v_black + 0.5) / 255.0


def _hdm(grey: np.ndarray, *, dark_fibres: bool, max_display: int = TWOMBLI_MAX_DISPLAY_HDM) -> np.ndarray:
    cut = hdm_grey_cut(dark_fibres=dark_fibres, max_display=max_display)
    return grey < cut if dark_fibres else grey >= cut


def _neighbour_count(sk: np.ndarray) -> np.ndarray:
    """Number of 8-neighbours of every pixel that are skeleton pixels (OpenCV box sum, zero border)."""
    u8 = sk.view(np.uint8) if sk.dtype == bool else sk.astype(np.uint8)
    n = cv2.filter2D(u8, cv2.CV_16S, _EIGHT.astype(np.float32), borderType=cv2.BORDER_CONSTANT)
    return n - u8


def skeleton_end_points(skeleton: np.ndarray, *, edge_px: int = ANAMORF_EDGE_PX) -> np.ndarray:
    """(row, col) of skeleton pixels with exactly one 8-neighbour, not within ``edge_px`` of the border."""
    sk = np.ascontiguousarray(_check_2d(skeleton, "skeleton"), dtype=bool)
    ends = sk & (_neighbour_count(sk) == 1)
    if edge_px > 0:
        ends[: edge_px + 1, :] = False
        ends[-edge_px - 1 :, :] = False
        ends[:, : edge_px + 1] = False
        ends[:, -edge_px - 1 :] = False
    return np.argwhere(ends).astype(float)


def skeleton_branch_points(skeleton: np.ndarray) -> np.ndarray:
    """Centroids (row, col) of the 8-connected clusters of skeleton pixels with more than two neighbours."""
    sk = np.ascontiguousarray(_check_2d(skeleton, "skeleton"), dtype=bool)
    junction = sk & (_neighbour_count(sk) > 2)
    lab, k = ndi.label(junction, structure=_EIGHT)
    if k == 0:
        return np.zeros((0, 2))
    rc = np.argwhere(junction)
    which = lab[rc[:, 0], rc[:, 1]] - 1
    size = np.bincount(which, minlength=k)
    return np.stack([np.bincount(which, weights=rc[:, i], minlength=k) / size for i in (0, 1)], axis=1)


def lacunarity_from_counts(foreground_px: float, total_px: float) -> float:
    """AnaMorf's lacunarity ``|var / mean² - 1|`` of a binary mask from its pixel counts (NaN when the
    mask is empty or the region has fewer than 2 pixels)."""
    n = float(total_px)
    f = float(foreground_px)
    if n < 2 or f <= 0:
        return float("nan")
    p = f / n
    # ImageJ's standard deviation is the sample one (n - 1).
    return float(abs((1.0 - p) / p * n / (n - 1.0) - 1.0))


def lacunarity(mask: np.ndarray, *, region: np.ndarray | None = None) -> float:
    """AnaMorf's lacunarity of a binary mask (within ``region`` when given); see the module notes."""
    m = _check_2d(mask, "mask").astype(bool)
    if region is None:
        return lacunarity_from_counts(np.count_nonzero(m), m.size)
    r = np.asarray(region, dtype=bool)
    if r.shape != m.shape:
        raise ValueError(f"region shape {r.shape} does not match the mask {m.shape}")
    return lacunarity_from_counts(np.count_nonzero(m & r), np.count_nonzero(r))


def box_counting_dimension(mask: np.ndarray, *, n_sizes: int = 10) -> float:
    """Box-counting (Minkowski-Bouligand) dimension of a binary mask, AnaMorf's box range.

    Boxes of side s = 2 .. max(rows, cols) / 4.5 px (``n_sizes`` sides spaced geometrically, rounded
    to whole pixels), the grid of each size centred on the image and only whole boxes inside it,
    their count divided by the fraction of the image they cover; D = -slope of the least-squares
    line of log N(s) against log s, N(s) = number of boxes holding at least one mask pixel. NaN for
    an empty mask or an image too small for three box sizes.
    """
    m = _check_2d(mask, "mask").astype(bool)
    if not m.any():
        return float("nan")
    rows, cols = m.shape
    s_max = int(round(max(rows, cols) / 4.5))
    sizes = np.unique(np.round(np.geomspace(2, max(s_max, 2), n_sizes)).astype(int))
    if sizes.size < 3:
        return float("nan")
    counts = []
    for s in sizes:
        # Whole boxes only, the grid centred on the image (the leftover margin split evenly), the count
        # scaled up by the area the whole boxes leave out: partial border boxes would count a line's
        # ends as whole boxes (D too low), dropping them without the scaling makes D too high.
        nr, nc = rows // s, cols // s
        r0, c0 = (rows - nr * s) // 2, (cols - nc * s) // 2
        block = m[r0 : r0 + nr * s, c0 : c0 + nc * s]
        occupied = block.reshape(nr, s, nc, s).any(axis=(1, 3))
        coverage = (nr * nc * s * s) / float(rows * cols)
        counts.append(max(np.count_nonzero(occupied), 1) / coverage)
    slope = np.polyfit(np.log(sizes), np.log(np.asarray(counts, dtype=float)), 1)[0]
    return float(-slope)


def path_curvature_deg(path_rc: np.ndarray, indptr: np.ndarray, *, window_px: int) -> np.ndarray:
    """AnaMorf's curvature values (|change of direction| in degrees) at every point of every path
    longer than ``2 * window_px`` points, concatenated; see the module notes.

    ``path_rc`` holds the ordered pixels of all paths, ``indptr`` where each path starts and ends
    (as :class:`texture.fibres.Fibres`).
    """
    w = int(window_px)
    if w < 1:
        raise ValueError(f"window_px must be >= 1, got {window_px!r}")
    out = []
    pts = np.asarray(path_rc, dtype=float)
    for a, b in zip(indptr[:-1], indptr[1:], strict=True):
        p = pts[a:b]
        n = len(p)
        if n <= 2 * w:
            continue
        j = np.arange(w, n - w)
        v1 = p[j] - p[j - w]
        v2 = p[j + w] - p[j]
        # Screen angles (x = col, y = -row) of both chords; the change folded into (-180, 180].
        t1 = np.degrees(np.arctan2(-v1[:, 0], v1[:, 1]))
        t2 = np.degrees(np.arctan2(-v2[:, 0], v2[:, 1]))
        d = np.mod(t2 - t1 + 180.0, 360.0) - 180.0
        out.append(np.abs(d))
    return np.concatenate(out) if out else np.zeros(0)
