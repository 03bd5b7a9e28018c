"""Region of interest on facial photos: a colour-based skin mask and user polygons.

The skin mask decides which pixels every photo metric may look at. It is deliberately conservative about
what it drops (background, hair, eyes, lips, glints) and lenient about what it keeps (pores, brown spots
and fine lines are skin and must stay in, or they could never be measured).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.draw import polygon2mask

from texture._stats import fast_median
from texture.color import rgb_to_lab
from texture.measurement import check_rgb

__all__ = ["skin_mask", "polygon_mask", "SKIN_HUE_RANGE_DEG"]

# Hue angle h_ab = atan2(b*, a*) of human skin under white light spans roughly 20-80 degrees (red to
# yellow; Xiao et al., Color Res Appl 2017, measured 25-75 deg over four ethnic groups).
SKIN_HUE_RANGE_DEG: tuple[float, float] = (15.0, 85.0)

# The mask is computed on an image of about this many pixels on its long side (or ~4 px/mm): skin
# boundaries do not need finer detail, and this keeps a 12-megapixel photo cheap.
_WORK_LONG_SIDE_PX = 640
_WORK_PX_PER_MM = 4.0


def _work_factor(shape: tuple[int, int], px_per_mm: float | None) -> float:
    """Downsampling factor (>= 1) from full resolution to the working resolution."""
    by_size = max(shape) / _WORK_LONG_SIDE_PX
    if px_per_mm is not None and np.isfinite(px_per_mm) and px_per_mm > 0:
        by_size = min(by_size, px_per_mm / _WORK_PX_PER_MM)
    return max(1.0, by_size)


def _disk(diameter_px: float) -> np.ndarray:
    d = max(1, int(round(diameter_px)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def skin_mask(
    rgb: np.ndarray,
    *,
    lab: np.ndarray | None = None,
    px_per_mm: float | None = None,
    hue_range_deg: tuple[float, float] = SKIN_HUE_RANGE_DEG,
    min_chroma: float = 6.0,
    max_chroma: float = 45.0,
    specular_lightness: float = 92.0,
) -> np.ndarray:
    """Boolean mask of skin pixels in a facial photo, from CIELAB colour rules and morphology.

    Method (on a copy reduced to ~640 px long side or ~4 px/mm, then scaled back, nearest neighbour):

    1. **Specular highlights**: L* above ``specular_lightness``, or L* > 80 with chroma C* < ``min_chroma``
       (white glints of oily skin).
    2. **Dark structures** (hair, brows, lashes, pupils, nostrils, deep shadow): L* below 45 % of the median
       L* of the remaining pixels, and never below 12.
    3. **Non-skin colours**: hue angle h_ab outside ``hue_range_deg``, chroma below ``min_chroma``
       (background, sclera, grey or blue clothing) or above ``max_chroma`` (saturated clothing, make-up;
       skin rarely exceeds C* 40), and **lips**: hue more than 18 deg redder than the
       median skin hue with a* at least 8 above the median skin a*. If this colour rule would keep less than
       5 % of the pixels left after steps 1-2, the photo has a colour cast (no white balance, blue
       dermoscopy light) and the rule is skipped rather than dropping all skin.
    4. **Clean-up**: closing with a ~1.2 mm disk (so pores and fine lines, which may fail the darkness
       rule, stay in) after which pixels failing the colour, lips or glint rules are removed again,
       opening with a ~0.5 mm disk, and removal of pieces under 0.5 % of the image area.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1]; may be None when ``lab`` is given.
    lab : ndarray, optional
        The same image in float CIELAB (:func:`texture.color.rgb_to_lab`), to avoid converting twice.
    px_per_mm : float, optional
        Scale; sets the morphology sizes. Without it they assume a face ~ 640 px across (1 px ~ 0.3 mm).
    hue_range_deg, min_chroma, max_chroma, specular_lightness : float
        Colour rules above.

    Returns
    -------
    ndarray of bool, shape (rows, cols)

    Limits
    ------
    Colour rules cannot tell skin from a skin-coloured background (wood, beige walls); crop or pass a user
    ROI for such photos. Blond or red hair may pass the hue rule; dark skin under dim light may be confused
    with shadow. Lips on very red skin (rosacea) may stay in.
    """
    source = check_rgb(rgb) if lab is None else np.asarray(lab)
    if source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"lab must have shape (rows, cols, 3), got {source.shape}")
    rows, cols = source.shape[:2]
    factor = _work_factor((rows, cols), px_per_mm)
    small = source.astype(np.float32, copy=False)
    if factor > 1.0:
        size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    if lab is None:  # convert only the reduced copy: the mask is decided at that resolution anyway
        small = rgb_to_lab(np.clip(small, 0.0, 1.0)).astype(np.float32)
    L, a, b = small[..., 0], small[..., 1], small[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))

    specular = (L > specular_lightness) | ((L > 80.0) & (chroma < min_chroma))
    keep = ~specular
    if keep.any():
        keep &= max(12.0, 0.45 * float(fast_median(L[keep]))) <= L
    if not keep.any():
        raise ValueError("no skin-like pixels: the image is all dark or all specular")

    colour = (hue >= hue_range_deg[0]) & (hue <= hue_range_deg[1]) & keep
    colour &= (chroma >= min_chroma) & (chroma <= max_chroma)
    if colour.sum() >= 0.05 * keep.sum():
        ref_hue = float(fast_median(hue[colour]))
        ref_a = float(fast_median(a[colour]))
        lips = (hue < ref_hue - 18.0) & (a > ref_a + 8.0)
        keep = colour & ~lips
        not_skin = (~colour & ~(L < 0.45 * float(fast_median(L[colour])))) | lips | specular
    else:
        not_skin = specular

    work_px_per_mm = (px_per_mm / factor) if px_per_mm else max(small.shape) / 200.0
    m = keep.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _disk(1.2 * work_px_per_mm))
    # The closing must not fill glints, teeth or lips back in: only dark pixels (pores, lines) may be
    # re-admitted. A 3x3 median drops isolated noisy "not skin" pixels first.
    m[cv2.medianBlur(not_skin.astype(np.uint8), 3) > 0] = 0
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _disk(0.5 * work_px_per_mm))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= 0.005 * m.size
    big[0] = False
    m = big[labels].astype(np.uint8)
    if factor > 1.0:
        m = cv2.resize(m, (cols, rows), interpolation=cv2.INTER_NEAREST)
    return m.astype(bool)


def polygon_mask(shape: tuple[int, ...], polygon_xy: Sequence[Sequence[float]]) -> np.ndarray:
    """Rasterise a user ROI polygon given as (x, y) = (column, row) vertices in pixels.

    Manifests and annotation tools list vertices as x, y; scikit-image's ``polygon2mask`` expects
    (row, col). This swaps the axes so that callers never have to remember which is which.

    Parameters
    ----------
    shape : tuple
        Image shape; only (rows, cols) is used.
    polygon_xy : sequence of (x, y)
        At least three vertices, in pixel units, x to the right, y down.
    """
    pts = np.asarray(polygon_xy, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ValueError(f"polygon needs at least 3 (x, y) vertices, got array of shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("polygon vertices must be finite numbers")
    mask = polygon2mask(tuple(shape[:2]), pts[:, ::-1])
    if not mask.any():
        raise ValueError("polygon covers no pixel of the image")
    return mask
