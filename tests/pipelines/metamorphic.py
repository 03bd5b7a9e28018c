"""Before/after under known edits: the harness shared by ``tests/pipelines/test_metamorphic.py`` and
``docs/make_metamorphic_table.py``.

A follow-up is made from a baseline photo by one known edit, both are written to files and the follow-up
goes through the pipeline exactly as in a run (:func:`pipelines.analyze.analyze_item` with its baseline
as reference: decoding, registration, common region, exposure normalisation of structure, the paired
baseline). The change of a metric is the follow-up's value minus its paired baseline, as
``changes.csv`` computes it; its smallest real difference comes from the metric catalogue's default
repeatability (:mod:`pipelines.tables.catalogue`, :mod:`pipelines.tables.statistics`), one capture on
each side.

Photos: the three CC0 ISIC dermoscopy photos in ``tests/data/dermoscopy``. A *view* is what the pipeline
is given: the photo reduced to half size (INTER_AREA) and, for the edits, a centred 400 x 300 px window
of it. Geometric edits (rotation, shift) are applied to the full-size photo before the reduction and
the crop, as a moved camera would see it: the window shows real skin beyond the baseline's edge (no
padding), and the averaging of the reduction removes most of the smoothing of the resampling, which a
camera does not apply (a rotation by bilinear interpolation at working size alone lowers the 1-px GLCM
contrast by ~20 %, an artefact of the edit, not a change of the skin). The files carry no scale: a
nominal 25 px/mm at half size (a dermoscope's ~20 mm field across ~1000 px, halved) sets which features
count (pores >= 0.25 mm, lines by width); the edits are judged against the same photo, so the nominal
scale does not bias them. Phantoms (:mod:`texture.phantoms.photo`) are rendered at twice the working
scale and viewed the same way.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipelines.analyze import PAIRED_BASELINE_TABLE, Reference, analyze_item
from pipelines.config import Settings
from pipelines.io.decode import load_image
from pipelines.io.metadata import ImageItem
from pipelines.tables.catalogue import is_known, lookup
from pipelines.tables.statistics import sd_within, smallest_real_difference
from texture.color import rgb_to_lab

REPO = Path(__file__).resolve().parents[2]
DERMOSCOPY = REPO / "tests" / "data" / "dermoscopy"
PHOTOS = ("ISIC_0000000", "ISIC_0000013", "ISIC_0000046")
#: Nominal scale of the half-size dermoscopy copies (module docstring).
DERMOSCOPY_PX_PER_MM = 25.0
CHANGE_SCALES = ("ratio", "interval", "count", "fraction")
#: The pipeline's defaults, without facial zones (no face in a dermoscopy photo or a phantom patch) and
#: without the colour-chart search (none of these images holds a chart; the search costs ~1 s a photo).
SETTINGS = Settings(photo={"face": {"zones": False}}, color_correction="exposure")


#: The working window of a view (rows, cols), at half size: the whole of the two smaller photos (the
#: centre of ISIC_0000000 is its lesion, 0.6 % skin, too little skin to register on), the centre of
#: ISIC_0000046.
WINDOW = (383, 511)
#: Phantoms are viewed through a smaller window (their texture is uniform; time).
PHANTOM_WINDOW = (300, 400)


def dermoscopy_photo(name: str) -> np.ndarray:
    """A CC0 dermoscopy photo at full size, float sRGB."""
    return load_image(DERMOSCOPY / f"{name}.jpg").rgb


def view(full: np.ndarray, *, geometry=None, window: tuple[int, int] | None = WINDOW) -> np.ndarray:
    """What the pipeline is given: ``full`` moved by ``geometry`` (a function of the full-size image and
    the window's centre in its pixels), reduced to half size, the centred ``window`` cut out (None: the
    whole reduced photo)."""
    rows, cols = full.shape[:2]
    centre = ((cols - 1) / 2.0, (rows - 1) / 2.0)
    if geometry is not None:
        full = geometry(full, centre)
    half = cv2.resize(full, (cols // 2, rows // 2), interpolation=cv2.INTER_AREA)
    half = np.clip(half, 0.0, 1.0).astype(np.float32)
    if window is None:
        return half
    h, w = window
    top, left = (half.shape[0] - h) // 2, (half.shape[1] - w) // 2
    if top < 0 or left < 0:
        raise ValueError(f"the photo is smaller than the window {window}")
    return np.ascontiguousarray(half[top : top + h, left : left + w])


def rotation(degrees: float):
    """A geometry for :func:`view`: the camera turned by ``degrees`` about the window's centre."""

    def apply(full: np.ndarray, centre) -> np.ndarray:
        matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
        return _warp(full, matrix, cv2.INTER_LANCZOS4)

    return apply


def translation(dx_half: int, dy_half: int):
    """A geometry for :func:`view`: the camera moved by (dx, dy) pixels of the half-size view (whole
    full-size pixels: no resampling)."""

    def apply(full: np.ndarray, centre) -> np.ndarray:
        return _warp(
            full, np.array([[1.0, 0.0, 2.0 * dx_half], [0.0, 1.0, 2.0 * dy_half]]), cv2.INTER_NEAREST
        )

    return apply


# --- edits ----------------------------------------------------------------------------------------------
def _warp(rgb: np.ndarray, matrix: np.ndarray, interpolation: int) -> np.ndarray:
    rows, cols = rgb.shape[:2]
    # Reflected borders only reach the full photo's edge, far outside the working window.
    out = cv2.warpAffine(
        np.asarray(rgb, np.float32),
        matrix,
        (cols, rows),
        flags=interpolation,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.clip(out, 0.0, 1.0)


def exposure(rgb: np.ndarray, gain: float) -> np.ndarray:
    """A flash ``gain`` times brighter: linear RGB times one factor."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(linear * gain, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def blur(rgb: np.ndarray, sigma_px: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), sigma_px)


def texture_amplitude(rgb: np.ndarray, factor: float, *, sigma_px: float) -> np.ndarray:
    """Skin detail finer than ``sigma_px`` scaled by ``factor`` in L*, a*, b* (a smoothing treatment):
    ``lab' = low + factor * (lab - low)`` with ``low`` the Gaussian-smoothed Lab."""
    lab = rgb_to_lab(rgb).astype(np.float32)
    low = cv2.GaussianBlur(lab, (0, 0), sigma_px)
    return lab_to_rgb(low + factor * (lab - low))


def darken_spot(rgb: np.ndarray, delta_l: float, *, sigma_px: float) -> np.ndarray:
    """The pigmented spot or lesion (smoothed L* more than 3 below its median, feathered) darkened by
    ``delta_l`` L* units, a* and b* unchanged."""
    lab = rgb_to_lab(rgb).astype(np.float32)
    smooth = cv2.GaussianBlur(lab[..., 0], (0, 0), sigma_px)
    spot = (smooth < np.median(smooth) - 3.0).astype(np.float32)
    weight = np.clip(cv2.GaussianBlur(spot, (0, 0), 1.0), 0.0, 1.0)
    lab[..., 0] -= delta_l * weight
    return lab_to_rgb(lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    from skimage.color import lab2rgb

    return np.clip(lab2rgb(lab.astype(np.float64)), 0.0, 1.0).astype(np.float32)


# --- measuring a pair -------------------------------------------------------------------------------------
def save(rgb: np.ndarray, path: Path, *, quality: int | None = None) -> Path:
    arr = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if quality is None:
        Image.fromarray(arr).save(path.with_suffix(".png"))
        return path.with_suffix(".png")
    Image.fromarray(arr).save(path.with_suffix(".jpg"), quality=quality)
    return path.with_suffix(".jpg")


@dataclass
class PairResult:
    """One follow-up against its paired baseline."""

    baseline: dict[str, float]
    followup: dict[str, float]
    record: dict
    warnings: list[str]
    paired: bool = True  # False: not aligned, no paired baseline (then no change can be read)

    def change(self, metric: str) -> float:
        if not self.paired:
            return math.nan
        """Follow-up minus paired baseline, in the unit of ``changes.csv`` (fractions in points)."""
        delta = self.followup[metric] - self.baseline[metric]
        return 100.0 * delta if lookup(metric).scale == "fraction" else delta

    def srd(self, metric: str) -> float:
        """Smallest real difference of the change (one capture each side; NaN without a default)."""
        entry = lookup(metric)
        if not self.paired:
            return math.nan
        sd = sd_within(entry.scale, entry.default_repeatability("photo"), self.baseline[metric])
        return smallest_real_difference(sd, k_baseline=1, k_followup=1, scale=entry.scale)

    def pct(self, metric: str) -> float:
        base = self.baseline[metric]
        return 100.0 * (self.followup[metric] - base) / abs(base) if base else math.nan


def outcome_metrics(record: dict) -> list[str]:
    """The outcome columns of a photo record that have change statistics."""
    return [
        k
        for k, v in record.items()
        if is_known(k)
        and lookup(k).role == "outcome"
        and lookup(k).scale in CHANGE_SCALES
        and isinstance(v, (int, float, np.number))
    ]


def measure_pair(
    folder: Path,
    baseline: Path,
    followup: Path,
    *,
    px_per_mm: float | None,
    settings: Settings = SETTINGS,
) -> PairResult:
    """The follow-up file analysed by the pipeline with ``baseline`` as its reference."""
    item = ImageItem(path=followup, file=followup.name, subject="S", session=1, px_per_mm=px_per_mm)
    reference = Reference(path=baseline, px_per_mm=px_per_mm)
    outcome = analyze_item(item, settings, input_root=folder, reference=reference)
    rows = outcome.tables.get(PAIRED_BASELINE_TABLE, [])
    base = {row["metric"]: row["baseline_value"] for row in rows}
    follow = {k: float(v) for k, v in outcome.record.items() if k in base}
    return PairResult(base, follow, outcome.record, outcome.warnings, paired=bool(rows))


def copy_pair(folder: Path, rgb: np.ndarray, name: str) -> tuple[Path, Path]:
    """A baseline file and a byte-identical copy of it."""
    base = save(rgb, folder / f"{name}_base")
    copy = folder / f"{name}_copy{base.suffix}"
    shutil.copyfile(base, copy)
    return base, copy


# --- the edits of the suite -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """A known edit: ``kind`` says what must hold (``identical``: every change exactly 0; ``invariant``:
    every |change| within the smallest real difference; ``smoother``: texture contrast and roughness fall;
    ``darker_spot``: spot contrast and melanin index rise)."""

    name: str
    kind: str
    geometry: object = None
    pixels: object = None  # function of the working view
    quality: int | None = None
    identical: bool = False


#: Texture detail scaled by the amplitude edit: finer than 0.5 mm at the nominal 25 px/mm.
AMPLITUDE_SIGMA_PX = 12.5

EDITS: tuple[Edit, ...] = (
    Edit("identical copy", "identical", identical=True),
    Edit("rotation 5 deg", "invariant", geometry=rotation(5.0)),
    Edit("rotation -3 deg", "invariant", geometry=rotation(-3.0)),
    Edit("shift 20 px", "invariant", geometry=translation(16, 12)),
    Edit("exposure +5 %", "invariant", pixels=lambda v: exposure(v, 1.05)),
    Edit("exposure -5 %", "invariant", pixels=lambda v: exposure(v, 0.95)),
    Edit("JPEG q85", "invariant", quality=85),
    Edit("blur sigma 1 px", "smoother", pixels=lambda v: blur(v, 1.0)),
    Edit(
        "texture amplitude x0.75",
        "smoother",
        pixels=lambda v: texture_amplitude(v, 0.75, sigma_px=AMPLITUDE_SIGMA_PX),
    ),
    Edit("spot darkened 5 L*", "darker_spot", pixels=lambda v: darken_spot(v, 5.0, sigma_px=5.0)),
)
#: What must fall or rise under the directional edits.
FALLS = {"smoother": ("glcm_contrast", "texture_roughness")}
RISES = {"darker_spot": ("pigment_lightness_sd", "melanin_index")}


def followup_for(
    edit: Edit, full: np.ndarray, folder: Path, stem: str, baseline: Path, *, window=WINDOW
) -> Path:
    """The follow-up file of ``edit`` made from the full-size photo ``full``."""
    if edit.identical:
        copy = folder / f"{stem}_identical{baseline.suffix}"
        shutil.copyfile(baseline, copy)
        return copy
    working = view(full, geometry=edit.geometry, window=window)
    if edit.pixels is not None:
        working = edit.pixels(working)
    tag = "".join(c if c.isalnum() else "_" for c in edit.name)
    return save(working, folder / f"{stem}_{tag}", quality=edit.quality)


def phantom_textured(seed: int = 5) -> np.ndarray:
    """A textured skin phantom (micro-relief and pores) at twice the working scale."""
    from texture.phantoms.photo import render_textured_skin

    return render_textured_skin(
        size_mm=(20.0, 16.0), px_per_mm=2 * DERMOSCOPY_PX_PER_MM, seed=seed, noise_seed=seed
    )


def phantom_spots(seed: int = 6) -> np.ndarray:
    """A skin phantom with pores, brown spots and fine lines at twice the working scale."""
    from texture.phantoms.photo import render_skin

    return render_skin(
        size_mm=(20.0, 16.0),
        px_per_mm=2 * DERMOSCOPY_PX_PER_MM,
        seed=seed,
        n_spots=4,
        n_lines=3,
        pore_diameter_mm=(0.35, 0.7),
        noise_seed=seed,
    ).rgb


PHANTOMS = {"phantom textured skin": phantom_textured, "phantom spots and lines": phantom_spots}


def source(name: str) -> tuple[np.ndarray, tuple[int, int]]:
    """A full-size image of the suite and its working window."""
    if name in PHANTOMS:
        return PHANTOMS[name](), PHANTOM_WINDOW
    return dermoscopy_photo(name), WINDOW


def sources() -> dict[str, tuple[np.ndarray, tuple[int, int]]]:
    """Every full-size image of the suite with its window, by name."""
    return {name: source(name) for name in (*PHOTOS, *PHANTOMS)}
