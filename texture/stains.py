"""Stain models and colour deconvolution of brightfield sections.

Ruifrok & Johnston colour deconvolution (Ruifrok & Johnston 2001, *Anal Quant Cytol Histol*
23:291) with :func:`skimage.color.separate_stains`: optical density OD = -log10(I) is unmixed into
the concentrations of three dyes. Presets (:data:`STAIN_PRESETS`): ``psr`` picrosirius red (sirius
red, picric acid, Weigert haematoxylin), ``masson`` Masson's trichrome with methyl/aniline blue
(Ruifrok's vectors as in ImageJ Colour Deconvolution), ``masson_green`` (light green SF), ``he``
(the "collagen" channel is eosin, which also stains cytoplasm), ``shg`` (second-harmonic
generation: a grey image where collagen is bright; no unmixing), or custom vectors. Concentrations
are in OD units (a pure dye layer of OD 1 transmits 10 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.color import rgb_from_bpx, rgb_from_fgx, separate_stains

from texture.filters import gaussian_smooth

__all__ = [
    "STAIN_PRESETS",
    "StainModel",
    "stain_model",
    "separate",
    "optical_density",
    "collagen_channel",
]


@dataclass(frozen=True)
class StainModel:
    """Three dye optical-density vectors (rows, unit length) and which one is collagen.

    ``collagen`` is None for SHG, whose grey intensity is itself the collagen signal.
    ``haematoxylin`` is the index of the nuclear dye, when the stain has one.
    """

    name: str
    dyes: tuple[str, str, str]
    vectors: tuple[tuple[float, float, float], ...]
    collagen: int | None
    haematoxylin: int | None = None

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.vectors, dtype=float)


def _unit(v: Sequence[float]) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=float)
    return tuple(float(x) for x in a / np.linalg.norm(a))


def _od_of_colour(rgb: Sequence[float]) -> tuple[float, float, float]:
    return _unit(-np.log10(np.asarray(rgb, dtype=float)))


_HAEM = _unit((0.65, 0.70, 0.29))  # Ruifrok & Johnston haematoxylin


#: Built-in stain models. PSR vectors are the OD of a typical sirius-red fibre (RGB 0.80, 0.16,
#: 0.30) and of picric-acid yellow (0.96, 0.88, 0.45); Masson's are Ruifrok's methyl blue and
#: ponceau-fuchsin (ImageJ "Masson Trichrome"); light green SF from ImageJ "Feulgen Light Green".
STAIN_PRESETS: dict[str, StainModel] = {
    "psr": StainModel(
        "psr",
        ("sirius_red", "picric_acid", "haematoxylin"),
        (_od_of_colour((0.80, 0.16, 0.30)), _od_of_colour((0.96, 0.88, 0.45)), _HAEM),
        collagen=0,
        haematoxylin=2,
    ),
    "masson": StainModel(
        "masson",
        ("methyl_blue", "ponceau_fuchsin", "residual"),
        (_unit(rgb_from_bpx[0]), _unit(rgb_from_bpx[1]), _unit(rgb_from_bpx[2])),
        collagen=0,
    ),
    "masson_green": StainModel(
        "masson_green",
        ("light_green", "ponceau_fuchsin", "residual"),
        (
            _unit(rgb_from_fgx[1]),
            _unit(rgb_from_bpx[1]),
            _unit(np.cross(rgb_from_fgx[1], rgb_from_bpx[1])),
        ),
        collagen=0,
    ),
    "he": StainModel(
        "he",
        ("haematoxylin", "eosin", "residual"),
        (_HAEM, _unit((0.07, 0.99, 0.11)), _unit(np.cross(_HAEM, (0.07, 0.99, 0.11)))),
        collagen=1,
        haematoxylin=0,
    ),
    "shg": StainModel("shg", ("shg", "", ""), ((1.0, 0.0, 0.0),) * 3, collagen=None),
}


# separate_stains returns ln(I)/ln(1e-6) = OD/6; rescale to OD units.
_OD_PER_UNIT = -np.log10(1e-6)


def stain_model(
    stain: str,
    *,
    vectors: Sequence[Sequence[float]] | None = None,
    collagen_index: int = 0,
    haematoxylin_index: int | None = None,
) -> StainModel:
    """The preset for ``stain``, or a custom model when ``stain='custom'`` and ``vectors`` are given.

    ``vectors`` are 2 or 3 RGB optical-density vectors (normalised here); a missing third one is
    the cross product of the first two, as in Ruifrok & Johnston.
    """
    if stain == "custom" or vectors is not None:
        if vectors is None:
            raise ValueError("stain='custom' needs stain vectors (2 or 3 RGB OD vectors)")
        v = np.asarray(vectors, dtype=float)
        if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] not in (2, 3):
            raise ValueError(f"stain vectors must have shape (2, 3) or (3, 3), got {v.shape}")
        if not np.all(np.isfinite(v)) or np.any(np.linalg.norm(v, axis=1) == 0):
            raise ValueError("stain vectors must be finite and non-zero")
        if v.shape[0] == 2:
            v = np.vstack([v, np.cross(v[0], v[1])])
        rows = tuple(_unit(r) for r in v)
        if abs(np.linalg.det(np.array(rows))) < 1e-3:
            raise ValueError("stain vectors are (nearly) collinear: colours cannot be unmixed")
        if not 0 <= collagen_index < 3:
            raise ValueError(f"collagen_index must be 0, 1 or 2, got {collagen_index}")
        return StainModel(
            "custom",
            ("stain_0", "stain_1", "stain_2"),
            rows,
            collagen=collagen_index,
            haematoxylin=haematoxylin_index,
        )
    try:
        return STAIN_PRESETS[stain]
    except KeyError:
        known = ", ".join([*STAIN_PRESETS, "custom"])
        raise ValueError(f"unknown stain {stain!r}; expected one of {known}") from None


def separate(rgb: np.ndarray, model: StainModel) -> np.ndarray:
    """Dye concentrations (OD units, >= 0), shape (rows, cols, 3) in ``model.dyes`` order.

    Ruifrok–Johnston colour deconvolution via :func:`skimage.color.separate_stains`.
    """
    if model.collagen is None:
        raise ValueError("SHG images are not colour-deconvolved; use collagen_channel()")
    conv = np.linalg.inv(model.matrix)
    conc = separate_stains(np.clip(rgb, 0.0, 1.0), conv)
    return conc * _OD_PER_UNIT


def optical_density(intensity: np.ndarray) -> np.ndarray:
    """-log10 of positive float32 intensities, by OpenCV's vectorised natural log (about 4x
    faster than numpy's log10 here; both within 1.1e-7 of the exact value)."""
    flat = np.ascontiguousarray(intensity, dtype=np.float32).reshape(-1, 1)
    od = cv2.log(flat)
    od *= np.float32(-1.0 / np.log(10.0))
    return od.reshape(np.shape(intensity))


def collagen_channel(rgb: np.ndarray, model: StainModel, *, smooth_px: float = 0.5) -> np.ndarray:
    """Collagen signal per pixel: dye concentration in OD units (SHG: mean grey in [0, 1]).

    Equal to ``separate(rgb, model)[..., model.collagen]`` (tested), but only the collagen column
    of the unmixing matrix is applied, in float32, to keep whole-slide tiles small. Smoothed by a
    Gaussian of ``smooth_px`` against pixel noise before thresholding.
    """
    if model.collagen is None:
        channel = rgb.mean(axis=2, dtype=np.float32)
    else:
        column = np.linalg.inv(model.matrix)[:, model.collagen].astype(np.float32)
        # skimage.separate_stains: max(-log10(max(I, 1e-6)) @ inv(M), 0), here per column.
        od = optical_density(np.maximum(np.asarray(rgb, dtype=np.float32), np.float32(1e-6)))
        channel = np.maximum(od @ column, np.float32(0.0))
        del od
    if smooth_px > 0:
        channel = gaussian_smooth(channel, smooth_px)
    return channel
