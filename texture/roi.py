"""Region of interest on facial photos: a colour-based skin mask, the optical field of view, user polygons.

The skin mask decides which pixels every photo metric may look at. It is deliberately conservative about
what it drops (background, hair, eyes, lips, glints) and lenient about what it keeps (pores, brown spots
and fine lines are skin and must stay in, or they could never be measured).

What the optics did not show is never skin: :func:`field_of_view_mask` drops constant frames drawn on the
image's edges (the 1-3 px white and black frames of dermoscopy exports), the dark outside of a
dermoscope's circular field and vignetted corners, and can keep an inner margin (the edge a registration
may cut). :func:`skin_mask` applies it by default.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.draw import polygon2mask

from texture._stats import fast_median
from texture.color import rgb_to_lab
from texture.measurement import check_rgb

__all__ = ["skin_mask", "field_of_view_mask", "polygon_mask", "SKIN_HUE_RANGE_DEG"]

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
    field_of_view: bool = True,
    margin_px: float = 0.0,
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
    5. **Field of view** (``field_of_view=True``): pixels outside :func:`field_of_view_mask` (frames,
       the outside of a dermoscope's circle, vignetted corners; ``margin_px`` from its edge) are
       removed last, after the closing that would otherwise fill a thin frame back in.

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
    field_of_view : bool
        Remove what the optics did not show (step 5).
    margin_px : float
        Inner margin kept clear of the field's edge, in pixels of ``rgb`` (step 5).

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
    mask = m.astype(bool)
    if field_of_view:
        mask &= field_of_view_mask(rgb, lab=lab, margin_px=margin_px)
    return mask


#: Defaults of :func:`field_of_view_mask` (documented there).
_FRAME_MAX_FRACTION = 0.02
_FRAME_MIN_CONTRAST_L = 5.0
_MIN_RELATIVE_LUMINANCE = 0.25
_MIN_CORNER_ILLUMINATION = 0.7
_FOV_WORK_LONG_SIDE_PX = 320


def field_of_view_mask(
    rgb: np.ndarray | None,
    *,
    lab: np.ndarray | None = None,
    margin_px: float = 0.0,
    max_frame_fraction: float = _FRAME_MAX_FRACTION,
    min_frame_contrast: float = _FRAME_MIN_CONTRAST_L,
    min_relative_luminance: float = _MIN_RELATIVE_LUMINANCE,
    min_corner_illumination: float = _MIN_CORNER_ILLUMINATION,
) -> np.ndarray:
    """Pixels the optics showed: the image without its constant frames, the dark outside of a dermoscope's
    circular field, vignetted corners, and an optional inner margin.

    Method:

    1. **Constant frames**, at full resolution, edge by edge: from the outermost row (column) inward,
       each line whose median L* differs from the lines just inside the frame zone (the next
       ``max_frame_fraction`` of the side) by at least ``min_frame_contrast`` L* and by 3 times its own
       spread (1.4826 MAD) is frame, until the first line that is not; a following line that still
       differs by a third of that is a partial (blended) frame line and goes too. Frames of any colour
       (the white and black borders of ISIC exports) are found; skin, however shaded, changes far less
       from one line to the next.
    2. **Outside the optical field** (a dermoscope's circle, vignetting), on a copy ~320 px long: the
       relative luminance ``Y / Y_ref`` (Y from L*, ``Y_ref`` the 90th percentile inside the frames: the
       well-lit skin); regions below ``min_relative_luminance`` (0.25: light fallen by 2 stops) in the
       image smoothed over ~1 % of its size that reach an image corner are outside, outlined by the
       unsmoothed pixels below the same level within ~2 blur widths of them. Vignetting and a circular field
       always darken the corners first; a dark lesion in the field does not reach a corner, and is kept.
    3. **Vignetted corners**, on the same copy: a corner whose well-lit skin (90th percentile of Y in a
       box of 6 % of the short side) is below ``min_corner_illumination`` (0.7, half a stop) of the
       brighter of the two adjacent edge middles is vignetted (a lens darkens corners first; side
       lighting darkens a whole side, corner and edge middle alike: the phantoms' shading of +-25-30 %
       leaves every corner >= 0.74; +-35 % reaches 0.70). Its
       vignetted region is the part of its quadrant, connected to it, where the smoothed luminance is
       below that fraction of the edge middles'. Corners already outside a circular field are left to
       step 2.
    4. **Margin**: the field is eroded by ``margin_px`` (a disk), the image edge counting as outside.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3)
        Float sRGB in [0, 1]; may be None when ``lab`` is given.
    lab : ndarray, optional
        The same image in float CIELAB.
    margin_px : float
        Inner margin, pixels, kept clear of the field's edge (e.g. the largest shift a registration may
        apply).
    max_frame_fraction : float
        Widest frame searched, as a fraction of each side (at least 4 px).
    min_frame_contrast : float
        Least difference of median L* between a frame line and the image inside it.
    min_relative_luminance : float
        Relative luminance below which a region reaching a corner is outside the field (step 2).
    min_corner_illumination : float
        Corner-to-edge-middle luminance ratio below which a corner is vignetted (step 3); 0: off.

    Returns
    -------
    ndarray of bool, shape (rows, cols)

    Limits
    ------
    A frame line of the skin's own lightness is not found (it does not matter to the measurements
    either); a dark lesion (below 25 % of the skin's luminance) that reaches an image corner, or a dark
    lesion in a vignetted corner, is taken as outside the field: pass a user ROI for such photos. Corners
    less than half a stop darker than the edge middles stay in; strong side lighting (+-35 %) can cut a
    sliver (< 1 %) of the darkest corner.
    """
    source = check_rgb(rgb) if lab is None else np.asarray(lab)
    if source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"lab must have shape (rows, cols, 3), got {source.shape}")
    if not 0 <= max_frame_fraction < 0.5:
        raise ValueError("max_frame_fraction must be in [0, 0.5)")
    if not (np.isfinite(margin_px) and margin_px >= 0):
        raise ValueError("margin_px must be a non-negative number of pixels")
    rows, cols = source.shape[:2]
    mask = np.ones((rows, cols), dtype=bool)

    def lightness(region: np.ndarray) -> np.ndarray:
        if lab is not None:
            return np.asarray(region[..., 0], dtype=np.float32)
        return rgb_to_lab(np.clip(region, 0.0, 1.0)).astype(np.float32)[..., 0]

    # 1. Frames, edge by edge (the line arrays are small: a few % of the image).
    top, bottom, left, right = 0, 0, 0, 0
    if min(rows, cols) >= 8:
        depth_r = max(4, int(np.ceil(max_frame_fraction * rows)))
        depth_c = max(4, int(np.ceil(max_frame_fraction * cols)))
        band_r = min(2 * depth_r, rows // 2)
        band_c = min(2 * depth_c, cols // 2)
        top = _frame_width(lightness(source[:band_r]), depth_r, min_frame_contrast)
        bottom = _frame_width(lightness(source[rows - band_r :])[::-1], depth_r, min_frame_contrast)
        left = _frame_width(lightness(source[:, :band_c]).T, depth_c, min_frame_contrast)
        right = _frame_width(lightness(source[:, cols - band_c :]).T[::-1], depth_c, min_frame_contrast)
        mask[:top], mask[rows - bottom :], mask[:, :left], mask[:, cols - right :] = (
            False,
            False,
            False,
            False,
        )
    inner = (slice(top, rows - bottom), slice(left, cols - right))

    # 2. Dark regions reaching a corner of the framed image, on a small copy.
    window = source[inner]
    if min(window.shape[:2]) >= 8 and min_relative_luminance > 0:
        factor = max(1.0, max(window.shape[:2]) / _FOV_WORK_LONG_SIDE_PX)
        small = window.astype(np.float32, copy=False)
        if factor > 1.0:
            size = (max(1, round(window.shape[1] / factor)), max(1, round(window.shape[0] / factor)))
            small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        small_light = lightness(small)
        outside = _dark_corners(small_light, min_relative_luminance)
        if min_corner_illumination > 0:
            outside |= _vignetted_corners(small_light, min_corner_illumination, outside=outside)
        if outside.any():
            if factor > 1.0:
                grown = cv2.resize(
                    outside.astype(np.float32),
                    (window.shape[1], window.shape[0]),
                    interpolation=cv2.INTER_LINEAR,
                )
                outside = grown >= 0.5
            mask[inner] &= ~outside

    # 4. Inner margin from the field's edge and the image's edge.
    if margin_px > 0:
        padded = np.pad(mask.view(np.uint8), 1)
        eroded = cv2.erode(padded, _disk(2 * margin_px + 1))
        mask = eroded[1:-1, 1:-1].astype(bool)
    return mask


def _frame_width(lines: np.ndarray, depth: int, min_contrast: float) -> int:
    """Number of frame lines at the start of ``lines`` (L*, one image line per row, outermost first)."""
    depth = min(depth, len(lines) // 2)
    if depth < 1:
        return 0
    # Contiguous rows (a column band of a Lab channel is strided: its medians take 10x longer).
    lines = np.ascontiguousarray(lines, dtype=np.float32)
    medians = np.median(lines, axis=1)
    spreads = 1.4826 * np.median(np.abs(lines - medians[:, None]), axis=1)
    reference = float(np.median(medians[depth:]))
    width = 0
    while width < depth:
        contrast = abs(float(medians[width]) - reference)
        if contrast < min_contrast or contrast < 3.0 * float(spreads[width]):
            break
        width += 1
    if 0 < width < depth and abs(float(medians[width]) - reference) >= min_contrast / 3.0:
        width += 1  # a line half frame, half image (a frame edge falling inside a pixel, or JPEG blur)
    return width


def _dark_corners(lightness: np.ndarray, min_relative_luminance: float) -> np.ndarray:
    """Regions of low relative luminance that reach a corner of the image (step 2 of
    :func:`field_of_view_mask`)."""
    light = np.clip(lightness, 0.0, 100.0)
    luminance = np.where(light > 8.0, ((light + 16.0) / 116.0) ** 3, light / 903.3).astype(np.float32)
    reference = float(np.percentile(luminance, 90))
    if reference <= 0:
        return np.zeros(light.shape, dtype=bool)
    sigma = max(1.0, 0.01 * max(light.shape))
    relative = luminance / np.float32(reference)
    dark = (cv2.GaussianBlur(relative, (0, 0), sigma) < min_relative_luminance).astype(np.uint8)
    n, labels = cv2.connectedComponents(dark, connectivity=8)
    if n <= 1:
        return np.zeros(light.shape, dtype=bool)
    reach = max(1, int(round(0.02 * min(light.shape))))
    corners = np.concatenate(
        [
            labels[:reach, :reach].ravel(),
            labels[:reach, -reach:].ravel(),
            labels[-reach:, :reach].ravel(),
            labels[-reach:, -reach:].ravel(),
        ]
    )
    chosen = np.zeros(n, dtype=bool)
    chosen[np.unique(corners)] = True
    chosen[0] = False
    if not chosen[1:].any():
        return np.zeros(light.shape, dtype=bool)
    # Regions are decided on the smoothed image (hairs and pores do not matter) but outlined by the
    # unsmoothed pixels within ~2 blur widths of them: the blur would otherwise leave a rim of the dark
    # outside in, or take a rim of the lit field out.
    grown = cv2.dilate(chosen[labels].astype(np.uint8), _disk(4.0 * sigma + 1.0))
    return (grown > 0) & (relative < min_relative_luminance)


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


def _vignetted_corners(lightness: np.ndarray, min_ratio: float, *, outside: np.ndarray) -> np.ndarray:
    """The vignetted parts of the image's corners (step 3 of :func:`field_of_view_mask`); corners
    already mostly ``outside`` the field (a dermoscope's circle) are left to step 2."""
    light = np.clip(lightness, 0.0, 100.0)
    luminance = np.where(light > 8.0, ((light + 16.0) / 116.0) ** 3, light / 903.3).astype(np.float32)
    rows, cols = luminance.shape
    box = max(2, int(round(0.06 * min(rows, cols))))
    out = np.zeros((rows, cols), dtype=bool)
    if min(rows, cols) < 4 * box:
        return out
    r0, c0 = rows // 2 - box, cols // 2 - box
    middles = {
        "top": luminance[:box, c0 : c0 + 2 * box],
        "bottom": luminance[-box:, c0 : c0 + 2 * box],
        "left": luminance[r0 : r0 + 2 * box, :box],
        "right": luminance[r0 : r0 + 2 * box, -box:],
    }
    lit = {side: float(np.percentile(values, 90)) for side, values in middles.items()}
    smooth = cv2.GaussianBlur(luminance, (0, 0), max(1.0, 0.01 * max(rows, cols)))
    half_r, half_c = rows // 2, cols // 2
    for vertical, horizontal in (("top", "left"), ("top", "right"), ("bottom", "left"), ("bottom", "right")):
        rs = slice(0, half_r) if vertical == "top" else slice(rows - half_r, rows)
        cs = slice(0, half_c) if horizontal == "left" else slice(cols - half_c, cols)
        quadrant = smooth[rs, cs]
        corner_box = (
            slice(0, box) if vertical == "top" else slice(half_r - box, half_r),
            slice(0, box) if horizontal == "left" else slice(half_c - box, half_c),
        )
        if outside[rs, cs][corner_box].mean() >= 0.5:
            continue
        reference = max(lit[vertical], lit[horizontal])
        corner_lit = float(np.percentile(luminance[rs, cs][corner_box], 90))
        if reference <= 0 or corner_lit >= min_ratio * reference:
            continue
        dark = (quadrant < min_ratio * reference).astype(np.uint8)
        n, labels = cv2.connectedComponents(dark, connectivity=8)
        touching = np.unique(labels[corner_box])
        chosen = np.zeros(n, dtype=bool)
        chosen[touching] = True
        chosen[0] = False
        out[rs, cs] |= chosen[labels]
    return out
