"""Separable image filters shared by the histology measurements: Gaussian smoothing and the Sato
ridge (tubeness) filter, both with scipy's weights and "reflect" border, run by OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["gaussian_smooth", "ridge_filter"]


def _gaussian_kernel(sigma: float, order: int, radius: int) -> np.ndarray:
    """Sampled Gaussian (order 0) or first derivative (order 1) as a correlation kernel.

    The same weights as :func:`scipy.ndimage.gaussian_filter1d` (which correlates with the
    flipped kernel) for the same radius.
    """
    x = np.arange(-radius, radius + 1, dtype=float)
    phi = np.exp(-0.5 * x**2 / sigma**2)
    phi /= phi.sum()
    if order == 1:
        phi *= x / sigma**2
    return phi.astype(np.float32)


def gaussian_smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Float32 Gaussian smoothing with the weights and "reflect" border of
    ``scipy.ndimage.gaussian_filter(image, sigma_px, mode='reflect')`` (radius 4 sigma), run by
    OpenCV's separable filter (several times faster; equal to float32 rounding).
    """
    img = np.asarray(image, dtype=np.float32)
    if sigma_px <= 0:
        return img.copy()
    k = _gaussian_kernel(float(sigma_px), 0, int(4.0 * float(sigma_px) + 0.5))
    return cv2.sepFilter2D(img, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT)


def ridge_filter(channel: np.ndarray, *, sigmas_px: Sequence[float]) -> np.ndarray:
    """Sato tubeness of bright ridges, float32: the same values as
    ``skimage.filters.sato(channel, sigmas, black_ridges=False, mode='reflect')``.

    Per scale the Hessian is computed as skimage does (two successive Gaussian first-derivative
    filters at sigma / sqrt(2)), with OpenCV separable filters (reflect border) instead of
    scipy's, and the response is sigma^2 * max(-lambda_min(H), 0) (Sato et al. 1998 in 2-D).
    """
    img = np.asarray(channel, dtype=np.float32)
    out = np.zeros_like(img)
    border = cv2.BORDER_REFLECT  # scipy's "reflect": d c b a | a b c d
    for sigma in sigmas_px:
        s = float(sigma) / np.sqrt(2.0)
        # Truncated at 8 sigma, where the weights are far below float32 resolution (skimage
        # uses 8, or 100 when sigma <= 1, with identical float32 results).
        radius = max(int(np.ceil(8.0 * s)), 1)
        g, d = _gaussian_kernel(s, 0, radius), _gaussian_kernel(s, 1, radius)
        # sepFilter2D(src, ddepth, kernel along columns (x), kernel along rows (y))
        grad_r = cv2.sepFilter2D(img, cv2.CV_32F, g, d, borderType=border)
        grad_c = cv2.sepFilter2D(img, cv2.CV_32F, d, g, borderType=border)
        hrr = cv2.sepFilter2D(grad_r, cv2.CV_32F, g, d, borderType=border)
        hrc = cv2.sepFilter2D(grad_r, cv2.CV_32F, d, g, borderType=border)
        del grad_r
        hcc = cv2.sepFilter2D(grad_c, cv2.CV_32F, d, g, borderType=border)
        del grad_c
        half = (hrr - hcc) * np.float32(0.5)
        hrc *= hrc
        half *= half
        half += hrc
        np.sqrt(half, out=half)
        hrr += hcc
        hrr *= np.float32(0.5)
        half -= hrr  # -(smallest eigenvalue of H) = largest of -H (bright ridges)
        np.maximum(half, 0.0, out=half)
        half *= np.float32(float(sigma) ** 2)
        np.maximum(out, half, out=out)
    return out
