"""Local orientation from the structure tensor (as OrientationJ: Rezakhaniha et al. 2012,
*Biomech Model Mechanobiol* 11:461), its angle and coherency, and an orientation colour map.

OrientationJ's definition (Püspöki, Storath, Sage & Unser 2016, *Adv Anat Embryol Cell Biol* 219:69;
source: Biomedical-Imaging-Group/OrientationJ, ``Gradient.java``, ``StructureTensor.java``,
``OrientationJ_Dominant_Direction.java``):

- **Gradient** (its default, "Cubic Spline"): along each row the cubic B-spline coefficients of the
  image (mirror boundary, no pre-smoothing: ``sigmaLoG = 0``) are computed, and the x-derivative of
  the spline interpolant at each pixel is ``(c[x+1] - c[x-1]) / 2``; likewise along columns for y.
  :func:`orientationj_gradient` does this with :func:`scipy.ndimage.spline_filter1d`.
- **Local tensor** ("Analysis"): the products gx², gx·gy, gy² smoothed by a Gaussian window of
  ``sigma`` px (OrientationJ: "local window σ", default 1 px in macros, 2 px in the dialog; it runs a
  three-pole recursive approximation of the Gaussian, this module the sampled kernel).
- **Dominant direction** (whole image, :func:`dominant_direction`): the *unsmoothed* products summed
  over the image less its one-pixel border (or over a mask, as its "Measure" does), and from that
  one tensor the orientation and coherency ``sqrt((Jyy - Jxx)² + 4 Jxy²) / (Jxx + Jyy)``.
  OrientationJ reports coherency 0 when the mean energy ``Jxx + Jyy`` is at most 1 (8-bit grey
  units); here it is 0 only when the energy is 0, since our images are scaled to [0, 1].

Angles are degrees counter-clockwise from +x as seen on screen (rows grow downwards, so a fibre
rising to the right is +45), folded into [0, 180): OrientationJ's orientation of the gradient,
turned by 90 degrees to the fibre direction.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture.filters import gaussian_smooth

__all__ = [
    "BIN_DEG",
    "N_BINS",
    "orientation_tensor",
    "orientationj_gradient",
    "orientationj_tensor",
    "dominant_direction",
    "MIN_COHERENCY",
    "orientation_to_surface_deg",
    "surface_angle_deg",
    "tensor_orientation",
    "fibre_angle",
    "orientation_overlay",
]


#: Orientation histogram bin width (degrees).
BIN_DEG = 10


N_BINS = 180 // BIN_DEG

#: Below this whole-region coherency the dominant orientation is reported as NaN: a four-way star
#: (coherency ~0.06) or fibres crossed at 90 degrees (~0) have no dominant direction, and the angle
#: of their tensor is decided by noise. 0.1 is where the angle of two equal crossing fibre
#: families starts to be stable to a few degrees (see tests/texture/test_orientation.py).
MIN_COHERENCY = 0.1


def orientationj_gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (gx, gy) in screen axes (x right, y up) as OrientationJ's default "Cubic Spline".

    Each axis separately: cubic B-spline coefficients of the lines along that axis (mirror
    boundary, as ``CubicSpline.doSymmetricalExponentialFilter``), then the derivative of the spline
    interpolant at the samples, ``(c[k+1] - c[k-1]) / 2``. No smoothing across the axis and no
    pre-filter (OrientationJ's default ``sigmaLoG = 0``). float64; border pixels (where mirroring
    makes the central difference zero) are kept as computed.
    """
    from scipy.ndimage import spline_filter1d

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 3:
        raise ValueError(f"image must be 2-D and at least 3 x 3 px, got shape {img.shape}")
    cx = spline_filter1d(img, order=3, axis=1, mode="mirror")
    cr = spline_filter1d(img, order=3, axis=0, mode="mirror")
    gx = np.zeros_like(img)
    gx[:, 1:-1] = 0.5 * (cx[:, 2:] - cx[:, :-2])
    gy = np.zeros_like(img)
    # y points up: d/dy = -d/drow.
    gy[1:-1, :] = -0.5 * (cr[2:, :] - cr[:-2, :])
    return gx, gy


def orientationj_tensor(image: np.ndarray, *, sigma_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OrientationJ's local structure tensor (Jxx, Jxy, Jyy), float32, screen axes.

    Products of :func:`orientationj_gradient` smoothed by a Gaussian window of ``sigma_px``
    (scipy's weights, reflect border, radius 4 sigma; OrientationJ uses a recursive
    approximation of the same Gaussian).
    """
    gx, gy = orientationj_gradient(image)
    jxx = gaussian_smooth((gx * gx).astype(np.float32), sigma_px)
    jxy = gaussian_smooth((gx * gy).astype(np.float32), sigma_px)
    jyy = gaussian_smooth((gy * gy).astype(np.float32), sigma_px)
    return jxx, jxy, jyy


def dominant_direction(image: np.ndarray, *, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Whole-image orientation (degrees) and coherency as OrientationJ's "Dominant Direction".

    The gradient products of :func:`orientationj_gradient` summed over the image less its one-pixel
    border (OrientationJ's loop runs over 1..n-2), or over ``mask`` (as its "Measure" on a ROI),
    with no window. Returns ``(fibre angle in [0, 180), coherency in [0, 1])``; coherency 0 and
    angle NaN when the region has no gradient energy.
    """
    gx, gy = orientationj_gradient(image)
    sel = np.zeros(gx.shape, dtype=bool)
    sel[1:-1, 1:-1] = True
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != gx.shape:
            raise ValueError(f"mask shape {mask.shape} does not match the image {gx.shape}")
        sel &= mask
    x, y = gx[sel], gy[sel]
    jxx, jxy, jyy = float(x @ x), float(x @ y), float(y @ y)
    if jxx + jyy <= 0:
        return float("nan"), 0.0
    angle, coh = tensor_orientation(jxx, jxy, jyy)
    return float(angle), float(coh)


def surface_angle_deg(surface: np.ndarray) -> float:
    """Direction (degrees, [0, 180)) of a skin surface given as a mask of the epidermis (or of the
    tissue below the surface): the dominant direction of the mask's edges (OrientationJ's whole-image
    tensor of the mask, :func:`dominant_direction`), i.e. the direction the surface runs in.
    NaN when the mask has no edge."""
    m = np.asarray(surface, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"surface mask must be 2-D, got shape {m.shape}")
    if not m.any() or m.all():
        return float("nan")
    # Smooth the staircase of the mask's edge so that its pixel steps do not favour 0 and 90 degrees.
    angle, _ = dominant_direction(gaussian_smooth(m.astype(np.float32), 2.0))
    return angle


def orientation_to_surface_deg(orientation_deg: float, surface: float | np.ndarray) -> float:
    """Angle between the fibre orientation and the skin surface, degrees in [0, 90].

    0 = fibres run parallel to the surface, 90 = perpendicular to it. ``surface`` is the surface
    direction in degrees (same convention as the orientation) or a mask of the epidermis (see
    :func:`surface_angle_deg`). The relative angle of two undirected lines is folded into [0, 90],
    as CurveAlign's fibre angle relative to a boundary, so that it does not depend on which side of
    the section the epidermis lies or on a mirrored image. NaN when either direction is undefined.
    """
    if np.ndim(surface) == 0:
        s = float(surface)
    else:
        s = surface_angle_deg(np.asarray(surface))
    o = float(orientation_deg)
    if not (np.isfinite(o) and np.isfinite(s)):
        return float("nan")
    d = abs(o - s) % 180.0
    return float(min(d, 180.0 - d))


def orientation_tensor(channel: np.ndarray, *, sigma_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local structure tensor (Jxx, Jxy, Jyy) in screen axes (x right, y up), float32.

    As ``skimage.feature.structure_tensor(channel, sigma_px, mode='reflect')`` (Sobel
    derivatives, products smoothed by a Gaussian of ``sigma_px``), with OpenCV's separable
    filters. That gives the row/column tensor; with x = col and y = -row, Jxx = Acc, Jyy = Arr
    and Jxy = -Arc.
    """
    img = np.asarray(channel, dtype=np.float32)
    diff = np.array([-1.0, 0.0, 1.0], dtype=np.float32)  # scipy.ndimage.sobel's kernels
    smooth = np.array([1.0, 2.0, 1.0], dtype=np.float32)
    d_r = cv2.sepFilter2D(img, cv2.CV_32F, smooth, diff, borderType=cv2.BORDER_REFLECT)
    d_c = cv2.sepFilter2D(img, cv2.CV_32F, diff, smooth, borderType=cv2.BORDER_REFLECT)
    arc = gaussian_smooth(d_r * d_c, sigma_px)
    np.negative(arc, out=arc)
    np.multiply(d_r, d_r, out=d_r)
    arr = gaussian_smooth(d_r, sigma_px)
    del d_r
    np.multiply(d_c, d_c, out=d_c)
    acc = gaussian_smooth(d_c, sigma_px)
    return acc, arc, arr


def tensor_orientation(jxx, jxy, jyy, *, dtype=float) -> tuple[np.ndarray, np.ndarray]:
    """Fibre angle (degrees, [0, 180)) and coherency (l1 - l2) / (l1 + l2) of tensors.

    The gradient is strongest across a fibre, so the fibre runs along the eigenvector of the
    smallest eigenvalue: 90 degrees from the dominant gradient direction. Computed in ``dtype``
    (float64 by default; float32 is enough for overlays).
    """
    jxx, jxy, jyy = (np.asarray(a, dtype=dtype) for a in (jxx, jxy, jyy))
    angle = fibre_angle(jxx, jxy, jyy)
    trace = jxx + jyy
    diff = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        coherency = np.where(trace > 0, diff / np.where(trace > 0, trace, 1.0), 0.0)
    return angle, np.clip(coherency, 0.0, 1.0)


def fibre_angle(jxx: np.ndarray, jxy: np.ndarray, jyy: np.ndarray) -> np.ndarray:
    """The angle of :func:`tensor_orientation` alone (the histogram needs no coherency)."""
    grad_angle = 0.5 * np.degrees(np.arctan2(2.0 * jxy, jxx - jyy))
    return np.mod(grad_angle + 90.0, 180.0)


def orientation_overlay(
    angle_deg: np.ndarray, coherency: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Float32 RGB image: hue = fibre angle (0-180 degrees round the colour wheel), value =
    coherency, full saturation (OpenCV's float HSV to RGB). Pixels outside ``mask`` are black.
    """
    angle_deg = np.asarray(angle_deg)
    hsv = np.empty((*angle_deg.shape, 3), dtype=np.float32)
    # OpenCV float hue is in degrees 0-360: the fibre angle goes once round the wheel.
    np.multiply(np.mod(angle_deg, 180.0), 2.0, out=hsv[..., 0], casting="unsafe")
    hsv[..., 1] = 1.0
    np.clip(coherency, 0.0, 1.0, out=hsv[..., 2], casting="unsafe")
    if mask is not None:
        hsv[..., 2] *= mask
    if hsv.size == 0:
        return hsv
    image = hsv if hsv.ndim == 3 else hsv.reshape(-1, 1, 3)  # cvtColor takes (rows, cols, 3)
    return cv2.cvtColor(image, cv2.COLOR_HSV2RGB).reshape(hsv.shape)
