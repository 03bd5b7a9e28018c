"""Local orientation from the structure tensor (as OrientationJ: Rezakhaniha et al. 2012,
*Biomech Model Mechanobiol* 11:461), its angle and coherency, and an orientation colour map.

Angles are degrees counter-clockwise from +x as seen on screen (rows grow downwards, so a fibre
rising to the right is +45), folded into [0, 180).
"""

from __future__ import annotations

import cv2
import numpy as np

from texture.filters import gaussian_smooth

__all__ = [
    "BIN_DEG",
    "N_BINS",
    "orientation_tensor",
    "tensor_orientation",
    "fibre_angle",
    "orientation_overlay",
]


#: Orientation histogram bin width (degrees).
BIN_DEG = 10


N_BINS = 180 // BIN_DEG


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
