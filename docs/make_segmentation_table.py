"""Regenerate docs/validation/segmentation.md: tissue, collagen threshold, epidermis and polarised-PSR data.

The fragment is one section of docs/validation.md, which ``docs/make_validation.py`` assembles.

Every figure is measured here on phantoms with known truth (texture.phantoms.histology) or on the real
H&E crop of OpenSlide test data (../shared/data/histology), old rule against new rule. Run from the
repository root: ``python docs/make_segmentation_table.py`` (about a minute), then
``python docs/make_validation.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from texture.collagen import analyze_collagen
from texture.epidermis import measure_epidermis
from texture.phantoms.histology import (
    antialiased_fibres,
    collagen_dermis,
    he_nuclei_section,
    pale_section,
    polarized_psr,
)
from texture.polarized import measure_polarized_psr
from texture.stains import STAIN_PRESETS, estimate_stain_vectors, stain_model
from texture.tissue import detect_tissue

ROOT = Path(__file__).resolve().parents[1]
HE_CROP = ROOT.parent / "shared" / "data" / "histology" / "OS-1-detail_crop_y0-550_x0-550.png"
OLD_TISSUE = {"pale_od_threshold": None, "max_hole_um": 0.0, "exclude_pen": False}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _fraction(rgb: np.ndarray, **kwargs) -> float:
    return analyze_collagen(rgb, stain="psr", fibres=False, **kwargs).sums.metrics()["collagen_area_fraction"]


def tissue_rows() -> list[str]:
    model = stain_model("psr")
    rows = []
    for seed in (0, 1, 2):
        p = pale_section(seed=seed)
        t = p.truth
        new = detect_tissue(p.rgb, model)
        old = detect_tissue(p.rgb, model, **OLD_TISSUE)
        rows.append(
            f"| pale section, seed {seed} | {_iou(old, t['tissue']):.3f} | {_iou(new, t['tissue']):.3f} "
            f"| {(new & ~t['section']).sum() / t['section'].sum():.4f} "
            f"| {(new & t['pen']).sum() / t['pen'].sum():.3f} "
            f"| {t['area_fraction']:.4f} | {_fraction(p.rgb, tissue_options=OLD_TISSUE):.4f} "
            f"| {_fraction(p.rgb):.4f} |"
        )
    return rows


def he_rows() -> list[str]:
    if not HE_CROP.is_file():
        return ["| (../shared/data not found) | | |"]
    rgb = np.asarray(Image.open(HE_CROP).convert("RGB"), dtype=float) / 255.0
    model, scale = stain_model("he"), 1000.0 / 0.2271
    rng = np.random.default_rng(0)
    slide = np.clip(
        np.full((750, 750, 3), (0.94, 0.94, 0.93)) + 0.01 * rng.standard_normal((750, 750, 3)), 0, 1
    )
    slide[100:650, 100:650] = rgb
    section = np.zeros((750, 750), dtype=bool)
    section[100:650, 100:650] = True
    out = []
    for name, kwargs in (("former rule", OLD_TISSUE), ("new rule", {})):
        crop = detect_tissue(rgb, model, px_per_mm=scale, **kwargs)
        mask = detect_tissue(slide, model, px_per_mm=scale, **kwargs)
        out.append(
            f"| {name} | {crop.mean():.4f} | {mask[section].mean():.4f} | {mask[~section].mean():.4f} |"
        )
    return out


def threshold_rows() -> list[str]:
    rows = []
    for seed in (0, 1):
        p = collagen_dermis(seed=seed)
        rows.append(
            f"| all-collagen dermis, seed {seed} | 1.000 | {_fraction(p.rgb, threshold_method='otsu'):.3f} "
            f"| {_fraction(p.rgb):.3f} |"
        )
    for blur in (0.0, 0.5, 0.7, 1.0):
        truth, otsu, half = [], [], []
        for seed in (0, 1, 2):
            p = antialiased_fibres(blur_px=blur, seed=seed)
            truth.append(p.truth["area_fraction"])
            otsu.append(_fraction(p.rgb, threshold_method="otsu"))
            half.append(_fraction(p.rgb))
        t = np.array(truth)
        rows.append(
            f"| anti-aliased fibres, blur {blur} px (3 seeds, mean) | {t.mean():.4f} "
            f"| {np.mean(otsu):.4f} ({100 * np.mean(np.array(otsu) / t - 1):+.1f} %) "
            f"| {np.mean(half):.4f} ({100 * np.mean(np.array(half) / t - 1):+.1f} %) |"
        )
    return rows


def epidermis_rows() -> list[str]:
    rows = []
    for corneum in (0.0, 12.0, 20.0):
        for ppu in (1.0, 2.0):
            p = he_nuclei_section(px_per_um=ppu, stratum_corneum_um=corneum, seed=1)
            m = measure_epidermis(p.rgb, px_per_mm=ppu * 1000.0).metrics
            rows.append(
                f"| {corneum:.0f} µm | {ppu:g} | {p.truth['thickness_mean_um']:.1f} "
                f"| {m['epidermis_thickness_mean_um']:.1f} | {p.truth['thickness_total_mean_um']:.1f} "
                f"| {m['epidermis_total_thickness_mean_um']:.1f} "
                f"| {m['stratum_corneum_thickness_mean_um']:.1f} |"
            )
    return rows


def polarized_rows() -> list[str]:
    rows = []
    for fractions in (None, {"red": 0.1, "orange": 0.2, "yellow": 0.3, "green": 0.4}):
        worst = 0.0
        for seed in (0, 1, 2):
            p = polarized_psr(fractions=fractions, seed=seed)
            m = measure_polarized_psr(p.rgb).metrics
            for colour in ("red", "orange", "yellow", "green"):
                worst = max(worst, abs(m[f"collagen_pol_{colour}_fraction"] - p.truth[f"{colour}_fraction"]))
        label = "35/25/15/25 %" if fractions is None else "10/20/30/40 %"
        rows.append(f"| red/orange/yellow/green {label} | {worst:.4f} |")
    return rows


def estimate_rows() -> list[str]:
    def scene(a, b, seed):
        rng = np.random.default_rng(seed)
        ca, cb = np.zeros((160, 160)), np.zeros((160, 160))
        for _ in range(40):
            r, c = rng.integers(0, 140, 2)
            which, amount = rng.integers(0, 3), rng.uniform(0.3, 1.2)
            if which in (0, 2):
                ca[r : r + 20, c : c + 20] += amount
            if which in (1, 2):
                cb[r : r + 20, c : c + 20] += amount
        od = ca[..., None] * -np.log10(a) + cb[..., None] * -np.log10(b)
        return np.clip(10.0**-od + 0.005 * rng.standard_normal(od.shape), 0, 1)

    a, b = np.array((0.70, 0.12, 0.42)), np.array((0.97, 0.80, 0.40))
    est = estimate_stain_vectors([scene(a, b, s) for s in range(3)], "psr")
    unit = -np.log10(a) / np.linalg.norm(np.log10(a))
    got = float(np.asarray(est.model.vectors[0]) @ unit)
    preset = float(STAIN_PRESETS["psr"].matrix[0] @ unit)
    rows = [f"| sirius red drawn as RGB (0.70, 0.12, 0.42) | {preset:.4f} | {got:.5f} |"]
    if HE_CROP.is_file():
        rgb = np.asarray(Image.open(HE_CROP).convert("RGB"), dtype=float) / 255.0
        he = estimate_stain_vectors([rgb], "he")
        angle = float(np.degrees(np.arccos(min(he.cosine_to_preset[0], 1.0))))
        kwargs = {"fibres": False, "px_per_mm": 1000.0 / 0.2271}
        preset_fraction = analyze_collagen(rgb, stain="he", **kwargs).sums.metrics()["collagen_area_fraction"]
        own = analyze_collagen(rgb, stain="custom", vectors=he.model.vectors, collagen_index=1, **kwargs)
        rows.append(
            f"| real H&E crop, eosin (no truth) | {he.cosine_to_preset[0]:.4f} ({angle:.0f} deg apart) "
            f"| eosin area {preset_fraction:.3f} with the preset, "
            f"{own.sums.metrics()['collagen_area_fraction']:.3f} with the estimate |"
        )
    return rows


def main() -> None:
    lines = [
        "## Histology segmentation: measured figures",
        "",
        "Generated by `python docs/make_segmentation_table.py`; phantoms from `texture.phantoms.histology`",
        "(truth known by construction), the real crop from OpenSlide test data. Former rule: tissue =",
        "darkest-channel OD > 0.1 only, collagen threshold = Otsu.",
        "",
        "### Tissue on pale sections (PSR, sparse collagen, fat, marker pen, on glass)",
        "",
        "| case | IoU former | IoU new | glass called tissue (of section) | pen left in | collagen truth "
        "| collagen former | collagen new |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *tissue_rows(),
        "",
        "### Tissue on the real H&E crop (all section) and on the crop laid on glass",
        "",
        "| rule | crop covered | section covered on glass | glass called tissue |",
        "| --- | --- | --- | --- |",
        *he_rows(),
        "",
        "### Collagen area fraction: Otsu against half the fibre OD",
        "",
        "| phantom | truth | Otsu | half-max |",
        "| --- | --- | --- | --- |",
        *threshold_rows(),
        "",
        "### Epidermis with haematoxylin in nuclei only (viable truth 60 µm)",
        "",
        "| stratum corneum | px/µm | viable truth | viable measured | total truth | total measured "
        "| stratum corneum measured |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *epidermis_rows(),
        "",
        "### Polarised PSR hue fractions (3 seeds each)",
        "",
        "| areas drawn | largest error of a fraction |",
        "| --- | --- |",
        *polarized_rows(),
        "",
        "### Stain vector estimate (Macenko) against the preset",
        "",
        "| slide's dye | cosine preset-truth (real crop: preset-estimate) | cosine estimate-truth |",
        "| --- | --- | --- |",
        *estimate_rows(),
        "",
    ]
    target = ROOT / "docs" / "validation" / "segmentation.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {target}; run docs/make_validation.py to assemble docs/validation.md")


if __name__ == "__main__":
    main()
