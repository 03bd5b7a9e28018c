"""Real dermoscopy photos (CC0, ISIC Archive; tests/data/dermoscopy/LICENSE.md) and known edits of them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

DERMOSCOPY = Path(__file__).resolve().parents[1] / "data" / "dermoscopy"
NAMES = ("ISIC_0000000", "ISIC_0000013", "ISIC_0000046")


def load(name: str) -> np.ndarray:
    """Float32 sRGB in [0, 1] of one of :data:`NAMES`."""
    with Image.open(DERMOSCOPY / f"{name}.jpg") as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def blurred(rgb: np.ndarray, sigma_px: float = 1.0) -> np.ndarray:
    """Gaussian lens blur of ``sigma_px``, in linear light (as optics blur)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4).astype(np.float32)
    linear = cv2.GaussianBlur(linear, (0, 0), sigma_px)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32)


def texture_scaled(rgb: np.ndarray, factor: float, *, scale_px: float = 4.0) -> np.ndarray:
    """The photo with the amplitude of its fine lightness texture multiplied by ``factor``.

    L* = smooth + detail, smooth being L* under a Gaussian of ``scale_px``; the detail is scaled and
    a*, b* are kept, so the colour of the skin and of the lesion stay as they were.
    """
    lab = rgb2lab(rgb.astype(np.float64))
    light = lab[..., 0].astype(np.float32)
    smooth = cv2.GaussianBlur(light, (0, 0), scale_px)
    lab[..., 0] = np.clip(smooth + factor * (light - smooth), 0.0, 100.0)
    return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32)
