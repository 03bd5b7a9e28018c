"""Colour on float sRGB images: CIELAB, the sRGB transfer curve, colour differences, ITA, melanin and
erythema indices.

All conversions are in floating point (L* in 0-100); OpenCV's 8-bit Lab, which is rescaled, is never used.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from texture.measurement import check_mask, check_rgb

__all__ = [
    "rgb_to_lab",
    "srgb_to_linear",
    "linear_to_srgb",
    "eight_bit_codes",
    "linear_of_codes",
    "delta_e",
    "lab_of",
    "check_finite_lightness",
    "ita_deg",
    "ita_with_reason",
    "ita_undefined_reason",
    "ita_class",
    "ITA_MIN_B_STAR",
    "melanin_index",
    "erythema_index",
    "ITA_CLASSES",
]

# Chardon et al. 1991 / Del Bino et al. 2006 skin-colour categories, lower bounds in degrees.
ITA_CLASSES: tuple[tuple[str, float], ...] = (
    ("very_light", 55.0),
    ("light", 41.0),
    ("intermediate", 28.0),
    ("tan", 10.0),
    ("brown", -30.0),
    ("dark", -np.inf),
)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2° observer) of a float sRGB image in [0, 1]; L* in 0-100."""
    return rgb2lab(check_rgb(rgb))


def _srgb_to_linear_formula(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


# Below this many values the formula is cheaper than the 8-bit check.
_CODES_MIN_SIZE = 4096


def eight_bit_codes(values: np.ndarray) -> np.ndarray | None:
    """The 8-bit codes ``k`` of an array whose every value is exactly ``k / 255`` as a decoded 8-bit image
    holds it (float32 ``k / 255`` computed in float32, as :mod:`pipelines.io.decode` does, or float64
    ``k / 255``), as uint8 of the same shape; None for any other array (or a small one).

    A function of one value is then a 256-entry lookup, exactly equal to evaluating it on every pixel
    (the sRGB curve's ``**`` on a 12 MP photo takes ~0.3 s; the check and lookup ~0.05 s).
    """
    arr = np.asarray(values)
    if arr.dtype not in (np.float32, np.float64) or arr.size < _CODES_MIN_SIZE:
        return None
    flat = np.ascontiguousarray(arr).reshape(-1, 1)
    # Rounded and saturated to 0-255 in one pass; NaN or values outside [0, 1] then fail the comparison.
    codes = cv2.convertScaleAbs(flat, alpha=255.0)
    if not np.array_equal(cv2.LUT(codes, _CODE_VALUE[arr.dtype]), flat):
        return None
    return codes.reshape(arr.shape)


_CODE_VALUE = {np.dtype(d): np.arange(256, dtype=d) / np.dtype(d).type(255) for d in (np.float32, np.float64)}
_LINEAR_OF_CODE = {d: _srgb_to_linear_formula(v) for d, v in _CODE_VALUE.items()}
for _table in _LINEAR_OF_CODE.values():
    _table.flags.writeable = False


def linear_of_codes(dtype: np.dtype | type) -> np.ndarray:
    """Linear value of each 8-bit code 0..255 as :func:`srgb_to_linear` gives it for a decoded photo of
    ``dtype`` (float32 or float64): the table behind :func:`eight_bit_codes` lookups (read-only)."""
    return _LINEAR_OF_CODE[np.dtype(dtype)]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve (IEC 61966-2-1), giving values proportional to reflectance (float64).

    Images decoded from 8 bits are converted by a 256-entry table of the same formula (identical values,
    :func:`eight_bit_codes`)."""
    codes = eight_bit_codes(rgb)
    if codes is not None:
        flat = cv2.LUT(codes.reshape(-1, 1), _LINEAR_OF_CODE[np.asarray(rgb).dtype])
        return flat.reshape(codes.shape)
    return _srgb_to_linear_formula(rgb)


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    m = check_mask(mask, values.shape[:2])
    if not m.any():
        raise ValueError("mask selects no pixels")
    return values[m]


#: ITA is defined only for colours whose b* (CIELAB yellowness) is at least this. Skin under white
#: light has a red-to-yellow hue (h_ab ~ 25-75 deg, Xiao et al., Color Res Appl 2017), so its b* is
#: clearly positive; below 3, the ITA = atan2(L* - 50, b*) of skin lightness (L* 40-80) lies beyond
#: ~ +-80 deg, outside the published classes, and swings by ~3 deg or more per unit of b*: it then
#: measures the white balance, not the skin.
ITA_MIN_B_STAR = 3.0


class ItaResult(NamedTuple):
    """:func:`ita_with_reason`'s answer: ``ita_deg`` (NaN when undefined), ``reason`` ('' when defined),
    and the median ``lightness`` (L*) and ``b_star`` it was computed from."""

    ita_deg: float
    reason: str
    lightness: float
    b_star: float


def ita_undefined_reason(lightness: float, b_star: float, *, min_b_star: float = ITA_MIN_B_STAR) -> str:
    """Why the ITA of a colour (L*, b*) is undefined, as a sentence for a warning; '' when it is defined.

    ITA (Chardon et al. 1991) classifies skin by the angle of (b*, L* - 50); it is defined here only
    where b* >= ``min_b_star`` (:data:`ITA_MIN_B_STAR`), which also keeps |ITA| < 90 deg (a negative
    b* gives |ITA| > 90 deg, a blue colour no skin has).
    """
    if not (np.isfinite(lightness) and np.isfinite(b_star)):
        return "ITA undefined: the median L* or b* of the skin is not a number"
    if b_star < min_b_star:
        angle = float(np.degrees(np.arctan2(lightness - 50.0, b_star)))
        return (
            f"ITA undefined: the skin's median b* is {b_star:.1f}, below {min_b_star:g} (the angle would be "
            f"{angle:.0f} deg); a colour cast (blue light, no white balance) or a non-skin region, not a "
            "skin colour: calibrate the colour (a chart) or check the ROI"
        )
    return ""


def ita_with_reason(
    lab: np.ndarray, *, mask: np.ndarray | None = None, min_b_star: float = ITA_MIN_B_STAR
) -> ItaResult:
    """Individual Typology Angle in degrees, ``atan2(L* - 50, b*)`` (Chardon et al. 1991), with the reason
    it is undefined.

    Computed from the median L* and median b* of the pixels in ``mask`` (the median resists the few dark
    pores or bright glints a skin mask lets through). Defined only where the median b* >= ``min_b_star``
    (:data:`ITA_MIN_B_STAR`, so also |ITA| < 90 deg): otherwise ``ita_deg`` is NaN and ``reason`` says why
    (see :func:`ita_undefined_reason`), for the caller to turn into a warning; :func:`ita_class` of NaN is
    no class.

    Parameters
    ----------
    lab : ndarray, shape (rows, cols, 3)
        Float CIELAB image (see :func:`rgb_to_lab`).
    mask : ndarray of bool, optional
        Skin pixels to use; all pixels when omitted.
    min_b_star : float
        Least median b* for which ITA is defined.

    Returns
    -------
    ItaResult
        ``(ita_deg, reason, lightness, b_star)``.
    """
    lab = np.asarray(lab, dtype=np.float64)
    if lab.ndim != 3 or lab.shape[2] != 3:
        raise ValueError(f"lab must have shape (rows, cols, 3), got {lab.shape}")
    pix = _masked(lab, mask)
    if not np.all(np.isfinite(pix[:, [0, 2]])):
        raise ValueError("lab contains NaN or infinite values")
    L, b = float(np.median(pix[:, 0])), float(np.median(pix[:, 2]))
    reason = ita_undefined_reason(L, b, min_b_star=min_b_star)
    ita = float("nan") if reason else float(np.degrees(np.arctan2(L - 50.0, b)))
    return ItaResult(ita, reason, L, b)


def ita_deg(lab: np.ndarray, *, mask: np.ndarray | None = None, min_b_star: float = ITA_MIN_B_STAR) -> float:
    """Individual Typology Angle in degrees: ``atan2(L* - 50, b*)`` (Chardon et al. 1991); NaN where it is
    undefined (median b* < ``min_b_star``, see :func:`ita_with_reason`, which also gives the reason).

    Parameters
    ----------
    lab : ndarray, shape (rows, cols, 3)
        Float CIELAB image (see :func:`rgb_to_lab`).
    mask : ndarray of bool, optional
        Skin pixels to use; all pixels when omitted.
    min_b_star : float
        Least median b* for which ITA is defined (:data:`ITA_MIN_B_STAR`).
    """
    return ita_with_reason(lab, mask=mask, min_b_star=min_b_star).ita_deg


def ita_class(ita: float) -> str:
    """Skin-colour category of an ITA value: very_light > 55°, light 41-55°, intermediate 28-41°,
    tan 10-28°, brown -30-10°, dark < -30° (Del Bino et al. 2006); '' (no class) for NaN and for
    |ITA| >= 90° (no skin colour: see :data:`ITA_MIN_B_STAR`)."""
    if not np.isfinite(ita) or abs(ita) >= 90.0:
        return ""
    for name, lower in ITA_CLASSES:
        if ita > lower:
            return name
    return "dark"


def _optical_density(channel: np.ndarray) -> np.ndarray:
    # Reflectance of 0 would be infinite absorbance; one 16-bit step is far below any real skin value.
    return -np.log10(np.clip(channel, 1.0 / 65535.0, 1.0))


def melanin_index(rgb: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Melanin index ``MI = 100 * log10(1 / R)`` of the median linear red reflectance.

    The narrow-band reflectance formula of Diffey, Oliver & Farr (Br J Dermatol 1984;111:663-672), with the
    camera's linearised red channel standing in for the 655 nm band (Takiwaki et al., Skin Res Technol 1994).
    Higher means more melanin. Only comparable between photos taken with the same camera and lighting,
    or after colour correction.
    """
    lin = srgb_to_linear(check_rgb(rgb))
    red = np.median(_masked(lin[..., 0], mask))
    return float(100.0 * _optical_density(np.asarray(red)))


def erythema_index(rgb: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Erythema index ``EI = 100 * log10(R / G)`` of the median linear red and green reflectances.

    Diffey, Oliver & Farr (1984): haemoglobin absorbs green (568 nm) far more than red (655 nm), so the
    log ratio rises with redness; the camera's linearised channels stand in for the two bands.
    """
    lin = srgb_to_linear(check_rgb(rgb))
    red = np.median(_masked(lin[..., 0], mask))
    green = np.median(_masked(lin[..., 1], mask))
    return float(100.0 * (_optical_density(np.asarray(green)) - _optical_density(np.asarray(red))))


def lab_of(rgb: np.ndarray | None, lab: np.ndarray | None, *, check_finite: bool = True) -> np.ndarray:
    """The float CIELAB to measure on: ``lab`` when given (validated), else converted from ``rgb``.

    ``check_finite=False`` leaves the finite check of L* to a caller that checks its own copy.

    Raises ``ValueError`` for a wrong shape, a non-float array or non-finite L*.
    """
    lab = _lab_layout(rgb, lab)
    if check_finite:
        check_finite_lightness(lab[..., 0])
    return lab


def _lab_layout(rgb: np.ndarray | None, lab: np.ndarray | None) -> np.ndarray:
    """:func:`lab_of` without the finite check of L* (for callers that check their own copy of L*)."""
    if lab is None:
        if rgb is None:
            raise ValueError("give rgb or lab")
        return rgb_to_lab(check_rgb(rgb))
    lab = np.asarray(lab)
    if lab.ndim != 3 or lab.shape[2] != 3 or 0 in lab.shape:
        raise ValueError(f"lab must have shape (rows, cols, 3), got {lab.shape}")
    if lab.dtype.kind != "f":
        raise ValueError(f"lab must be float CIELAB (L* 0-100), got dtype {lab.dtype}")
    return lab


def check_finite_lightness(lightness: np.ndarray) -> None:
    if not np.isfinite(lightness).all():
        raise ValueError("lab contains NaN or infinite L* values")


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Apply the sRGB transfer curve (IEC 61966-2-1) to linear values in [0, 1]; inverse of
    :func:`texture.color.srgb_to_linear`. Values are clipped to [0, 1] first."""
    lin = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference ΔE00 (Sharma, Wu & Dalal 2005) between CIELAB arrays (last axis L*a*b*),
    via :func:`skimage.color.deltaE_ciede2000` with kL = kC = kH = 1. About 1 is a just-noticeable difference;
    ΔE00 < 3 is the usual tolerance for a colour-corrected photo."""
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    if lab1.shape[-1] != 3 or lab2.shape[-1] != 3:
        raise ValueError(f"Lab arrays need a last axis of 3, got {lab1.shape} and {lab2.shape}")
    if not (np.all(np.isfinite(lab1)) and np.all(np.isfinite(lab2))):
        raise ValueError("Lab arrays contain NaN or infinite values")
    return deltaE_ciede2000(lab1, lab2)
