"""Stain models and colour deconvolution of brightfield sections.

Ruifrok & Johnston colour deconvolution (Ruifrok & Johnston 2001, *Anal Quant Cytol Histol*
23:291) with :func:`skimage.color.separate_stains`: optical density OD = -log10(I) is unmixed into
the concentrations of three dyes. Presets (:data:`STAIN_PRESETS`): ``psr`` picrosirius red (sirius
red, picric acid, Weigert haematoxylin), ``masson`` Masson's trichrome with methyl/aniline blue
(Ruifrok's vectors as in ImageJ Colour Deconvolution), ``masson_green`` (light green SF), ``he``
(the measured channel is eosin, which stains collagen *and* cytoplasm, muscle and red cells alike:
H&E does not separate collagen, so its measurements are named ``eosin_*``, see
:attr:`StainModel.target`), ``vvg`` / ``elastin`` (Verhoeff–van Gieson: elastic fibres black, the
measured channel; collagen red, other tissue yellow), ``shg`` (second-harmonic generation: a grey
image where collagen is bright; no unmixing), or custom vectors. Concentrations are in OD units (a
pure dye layer of OD 1 transmits 10 %).

Stain vectors can be estimated from the user's own slides (:func:`estimate_stain_vectors`, after
Macenko et al. 2009, *Proc IEEE ISBI* 1107-1110) instead of the preset colours, pooled over a whole
batch so that every slide is unmixed alike; the estimate is returned as a model whose vectors the
caller records.
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
    "StainEstimate",
    "estimate_stain_vectors",
    "measured_names",
    "guess_stain",
    "vector_from_region",
]


@dataclass(frozen=True)
class StainModel:
    """Three dye optical-density vectors (rows, unit length) and which one is collagen.

    ``collagen`` is the index of the measured dye (the collagen dye for PSR, Masson and SHG; eosin
    for H&E; the elastic-fibre black for VVG), None for SHG, whose grey intensity is itself the
    collagen signal. ``haematoxylin`` is the index of the nuclear dye, when the stain has one.
    ``target`` names what the measured dye shows (``collagen``, ``eosin``, ``elastin``): the prefix
    of its measurement columns (:func:`measured_names`).
    """

    name: str
    dyes: tuple[str, str, str]
    vectors: tuple[tuple[float, float, float], ...]
    collagen: int | None
    haematoxylin: int | None = None
    target: str = "collagen"

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.vectors, dtype=float)


def _unit(v: Sequence[float]) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=float)
    return tuple(float(x) for x in a / np.linalg.norm(a))


def _od_of_color(rgb: Sequence[float]) -> tuple[float, float, float]:
    return _unit(-np.log10(np.asarray(rgb, dtype=float)))


_HAEM = _unit((0.65, 0.70, 0.29))  # Ruifrok & Johnston haematoxylin


_VVG = StainModel(
    "vvg",
    ("verhoeff_black", "van_gieson_fuchsin", "picric_acid"),
    (
        _od_of_color((0.14, 0.13, 0.17)),
        _od_of_color((0.85, 0.28, 0.42)),
        _od_of_color((0.96, 0.88, 0.45)),
    ),
    collagen=0,
    target="elastin",
)


#: Built-in stain models. PSR vectors are the OD of a typical sirius-red fibre (RGB 0.80, 0.16,
#: 0.30) and of picric-acid yellow (0.96, 0.88, 0.45); Masson's are Ruifrok's methyl blue and
#: ponceau-fuchsin (ImageJ "Masson Trichrome"); light green SF from ImageJ "Feulgen Light Green".
#: VVG (``vvg``, alias ``elastin``): Verhoeff's iron-haematoxylin black of elastic fibres (a
#: slightly bluish black, RGB 0.14, 0.13, 0.17), van Gieson's acid-fuchsin red of collagen
#: (0.85, 0.28, 0.42) and its picric-acid yellow; the measured channel is the black (elastin).
STAIN_PRESETS: dict[str, StainModel] = {
    "psr": StainModel(
        "psr",
        ("sirius_red", "picric_acid", "haematoxylin"),
        (_od_of_color((0.80, 0.16, 0.30)), _od_of_color((0.96, 0.88, 0.45)), _HAEM),
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
        target="eosin",
    ),
    "vvg": _VVG,
    "elastin": _VVG,
    "shg": StainModel("shg", ("shg", "", ""), ((1.0, 0.0, 0.0),) * 3, collagen=None),
}


def measured_names(metrics: dict[str, float], model: StainModel) -> dict[str, float]:
    """``metrics`` with ``collagen_*`` keys renamed after what the stain measures.

    H&E: ``collagen_area_fraction`` becomes ``eosin_area_fraction`` (and the orientation columns
    ``eosin_orientation_deg``, ``eosin_coherency``, ``eosin_alignment``); VVG: ``elastin_*``. Other
    keys, and every key for collagen stains, are unchanged.
    """
    if model.target == "collagen":
        return dict(metrics)
    prefix = f"{model.target}_"
    return {
        (prefix + k[len("collagen_") :] if k.startswith("collagen_") else k): v for k, v in metrics.items()
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
    if stain == "psr_polarized":
        raise ValueError(
            "stain 'psr_polarized' (polarised light) is not colour-deconvolved; use texture.polarized"
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


@dataclass(frozen=True)
class StainEstimate:
    """Stain vectors estimated from images (:func:`estimate_stain_vectors`).

    ``model`` is the preset with its two dominant dyes' vectors replaced (usable as
    ``stain_model('custom', vectors=model.vectors, collagen_index=model.collagen)``);
    ``n_pixels`` the stained pixels used; ``cosine_to_preset`` how close each estimated vector is
    to the preset's (1 = same colour); ``estimated`` the indices of the two estimated dyes.
    """

    model: StainModel
    n_pixels: int
    cosine_to_preset: tuple[float, float]
    estimated: tuple[int, int]

    def record(self) -> dict[str, object]:
        """Plain values for a run record (JSON): dyes, vectors, pixels used, agreement."""
        return {
            "stain": self.model.name,
            "dyes": list(self.model.dyes),
            "vectors": [list(v) for v in self.model.vectors],
            "estimated_dyes": [self.model.dyes[i] for i in self.estimated],
            "n_pixels": self.n_pixels,
            "cosine_to_preset": list(self.cosine_to_preset),
            "method": "Macenko et al. 2009",
        }


def estimate_stain_vectors(
    images: Sequence[np.ndarray],
    stain: str,
    *,
    od_min: float = 0.15,
    percentile: float = 1.0,
    max_pixels: int = 500_000,
    glass_rgb: Sequence[float] | None = None,
    seed: int = 0,
) -> StainEstimate:
    """Estimate the two dominant dye vectors of ``stain`` from a batch of images (Macenko).

    Macenko et al. 2009 (*Proc IEEE ISBI* 1107-1110): optical densities of stained pixels (OD norm
    above ``od_min``; the original drops pixels below it in any channel, which would discard the
    pale picric-acid yellow whose red OD is ~0) are projected onto the plane of their two main
    principal directions; the ``percentile`` and ``100 - percentile`` angles in that plane are the
    two dyes. They replace the preset's measured dye and its first counterstain, matched by the
    assignment with the larger summed cosine; any third dye is kept (haematoxylin in PSR) or
    re-derived as their cross product (a residual channel). Pixels are pooled over ``images``
    (at most ``max_pixels``, an equal share per image, drawn with ``seed``) so that one estimate
    serves a whole batch.

    Parameters
    ----------
    images : sequence of ndarray
        Float sRGB images in [0, 1], (rows, cols, 3), all of the same stain.
    stain : str
        A brightfield preset (not ``shg``).
    od_min : float
        Minimum OD norm of a pixel used (glass and faint pixels carry no dye direction).
    percentile : float
        Robust extreme angle, in percent (Macenko's alpha).
    max_pixels : int
        Pixels sampled over the batch.
    glass_rgb : sequence of 3 floats, optional
        Colour of bare glass (I0), white when None.
    seed : int
        Seed of the pixel sampling.

    Raises
    ------
    ValueError
        No images, a stain without dyes (SHG), or too few stained pixels (< 100).
    """
    preset = stain_model(stain)
    if preset.collagen is None:
        raise ValueError("SHG images have no dye vectors to estimate")
    if len(images) == 0:
        raise ValueError("estimate_stain_vectors needs at least one image")
    if not 0 < percentile < 50:
        raise ValueError(f"percentile must be in (0, 50), got {percentile}")
    i0 = np.ones(3) if glass_rgb is None else np.asarray(glass_rgb, dtype=float)
    rng = np.random.default_rng(seed)
    share = max(int(max_pixels) // len(images), 1)
    samples = []
    for img in images:
        a = np.asarray(img, dtype=float)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"each image must have shape (rows, cols, 3), got {a.shape}")
        od = -np.log10(np.clip(a.reshape(-1, 3) / i0, 1.0 / 255.0, 1.0))
        od = od[np.linalg.norm(od, axis=1) > od_min]
        if len(od) > share:
            od = od[rng.choice(len(od), share, replace=False)]
        samples.append(od)
    od = np.concatenate(samples)
    if len(od) < 100:
        raise ValueError(f"too few stained pixels to estimate stain vectors ({len(od)} < 100)")
    # Principal plane of the OD cloud (about the origin, as Macenko: OD is additive in the dyes).
    _, _, vt = np.linalg.svd(od, full_matrices=False)
    e1, e2 = vt[0], vt[1]
    if e1.sum() < 0:
        e1 = -e1
    if e2.sum() < 0:
        e2 = -e2
    angle = np.arctan2(od @ e2, od @ e1)
    lo, hi = np.percentile(angle, [percentile, 100.0 - percentile])
    v_lo = np.cos(lo) * e1 + np.sin(lo) * e2
    v_hi = np.cos(hi) * e1 + np.sin(hi) * e2
    v_lo, v_hi = (v / np.linalg.norm(v) for v in (v_lo, v_hi))
    target = preset.collagen
    counter = next(i for i, name in enumerate(preset.dyes) if i != target and name and name != "residual")
    pm = preset.matrix
    keep = (
        (v_lo, v_hi)
        if pm[target] @ v_lo + pm[counter] @ v_hi >= pm[target] @ v_hi + pm[counter] @ v_lo
        else (v_hi, v_lo)
    )
    rows = [np.asarray(v) for v in pm]
    rows[target], rows[counter] = keep
    third = 3 - target - counter
    if preset.dyes[third] == "residual":
        rows[third] = np.cross(rows[0], rows[1])
    vectors = tuple(_unit(r) for r in rows)
    if abs(np.linalg.det(np.array(vectors))) < 1e-3:
        raise ValueError("estimated stain vectors are (nearly) collinear: the images show one dye only")
    model = StainModel(
        f"{preset.name}_estimated",
        preset.dyes,
        vectors,
        collagen=preset.collagen,
        haematoxylin=preset.haematoxylin,
        target=preset.target,
    )
    cos = (float(pm[target] @ keep[0]), float(pm[counter] @ keep[1]))
    return StainEstimate(model, int(len(od)), cos, (target, counter))


def vector_from_region(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    od_min: float = 0.15,
    glass_rgb: Sequence[float] | None = None,
) -> tuple[float, float, float]:
    """The OD vector (unit length) of one dye from a region the user marked as stained by it alone.

    The mean optical density of the marked pixels whose OD norm exceeds ``od_min`` (glass and faint
    pixels carry no colour direction), normalised: the single-stain-control calibration of
    Ruifrok & Johnston 2001. Pass two or three such vectors to ``stain_model('custom', vectors=...)``.
    """
    img = np.asarray(rgb, dtype=float)
    region = np.asarray(mask, dtype=bool)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb must have shape (rows, cols, 3), got {img.shape}")
    if region.shape != img.shape[:2]:
        raise ValueError(f"mask shape {region.shape} does not match the image {img.shape[:2]}")
    i0 = np.ones(3) if glass_rgb is None else np.asarray(glass_rgb, dtype=float)
    od = -np.log10(np.clip(img[region] / i0, 1.0 / 255.0, 1.0))
    od = od[np.linalg.norm(od, axis=1) > od_min]
    if len(od) < 10:
        raise ValueError(f"the region holds too few stained pixels ({len(od)} < 10) to give a dye colour")
    return _unit(od.mean(axis=0))


# CIELAB hue-angle bands (degrees) of the stain colour signatures (guess_stain).
_SKIN_HUES = (40.0, 70.0)
_PINK_HUES = ((300.0, 360.0), (0.0, 15.0))
_PURPLE_HUES = ((250.0, 300.0),)
_RED_HUES = ((20.0, 40.0),)
_YELLOW_HUES = ((70.0, 110.0),)
_BLUE_HUES = ((200.0, 300.0),)
_MASSON_RED_HUES = ((340.0, 360.0), (0.0, 25.0))
_GREEN_HUES = ((110.0, 200.0),)


def _share(hue: np.ndarray, bands: tuple[tuple[float, float], ...]) -> float:
    if hue.size == 0:
        return 0.0
    inside = np.zeros(hue.shape, dtype=bool)
    for lo, hi in bands:
        inside |= (hue >= lo) & (hue < hi)
    return float(inside.mean())


def guess_stain(rgb: np.ndarray, *, max_side: int = 512) -> tuple[str | None, dict[str, float]]:
    """The stain whose colour signature an image shows, or None; and the shares it was decided on.

    A conservative rule for telling histology from photos when nothing else says which an image
    is. CIELAB hue angles h_ab of the coloured pixels (chroma C* > 8, L* < 95: not glass) are
    counted in bands; skin lies at h_ab 40-70 deg (Lab of skin: a* and b* both positive, b*
    about a*). No signature is returned when more than 10 % of the coloured pixels have skin hue.

    - ``masson`` / ``masson_green``: at least 20 % blue (200-300) / green (110-200) and 20 % red
      (340-25) (checked first).
    - ``he``: at least 60 % pink/magenta (h_ab 300-15 deg: eosin and its mixes with haematoxylin).
    - ``psr``: at least 80 % red (20-40) plus yellow (70-110), and at least 5 % red.
    - ``shg``: under 2 % of the pixels coloured and at least 40 % dark (L* < 25): bright structures
      on a dark field.

    Dermoscopy under blue-violet light, skin photos and faces give none of these on the project's
    reference images (tested). ``rgb`` is reduced to at most ``max_side`` px per side first.
    """
    from skimage.color import rgb2lab

    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb must have shape (rows, cols, 3), got {img.shape}")
    step = max(1, int(np.ceil(max(img.shape[:2]) / max_side)))
    # Only the sampled pixels become float64 (a whole 12 MP photo would be 288 MB and ~0.25 s).
    lab = rgb2lab(np.clip(img[::step, ::step].astype(np.float64), 0.0, 1.0))
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    coloured = (chroma > 8.0) & (lightness < 95.0)
    hue = np.degrees(np.arctan2(b[coloured], a[coloured])) % 360.0
    shares = {
        "coloured": float(coloured.mean()),
        "dark": float((lightness < 25.0).mean()),
        "skin": _share(hue, (_SKIN_HUES,)),
        "pink": _share(hue, _PINK_HUES),
        "purple": _share(hue, _PURPLE_HUES),
        "red": _share(hue, _RED_HUES),
        "yellow": _share(hue, _YELLOW_HUES),
        "blue": _share(hue, _BLUE_HUES),
        "masson_red": _share(hue, _MASSON_RED_HUES),
        "green": _share(hue, _GREEN_HUES),
    }
    if shares["coloured"] < 0.02:
        return ("shg" if shares["dark"] >= 0.4 else None), shares
    if shares["skin"] > 0.10:
        return None, shares
    # Masson first: its ponceau-fuchsin red also falls in the pink band of H&E.
    if shares["blue"] >= 0.2 and shares["masson_red"] >= 0.2:
        return "masson", shares
    if shares["green"] >= 0.2 and shares["masson_red"] >= 0.2:
        return "masson_green", shares
    if shares["pink"] >= 0.6:
        return "he", shares
    if shares["red"] + shares["yellow"] >= 0.8 and shares["red"] >= 0.05:
        return "psr", shares
    return None, shares
