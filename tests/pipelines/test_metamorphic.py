"""Before/after that holds on real photos: follow-ups made from a baseline by known edits, measured by the
pipeline as in a run (registration, common region, paired baseline), must read no change where nothing
changed and the change where one was made (issue 13). Harness and edits: ``tests/pipelines/metamorphic.py``;
the full table: ``docs/make_metamorphic_table.py`` -> ``docs/validation/before_after.md``.

Metrics that cannot meet a bound are strict xfails with the measured figure (never a loosened bound).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.pipelines.metamorphic import (
    DERMOSCOPY_PX_PER_MM,
    EDITS,
    FALLS,
    RISES,
    followup_for,
    measure_pair,
    outcome_metrics,
    save,
    source,
    view,
)
from texture.phantoms.photo import render_lines, render_skin

EDIT = {edit.name: edit for edit in EDITS}

#: (image, edit) pairs run in CI (the table runs every image x edit).
IDENTICAL = ("ISIC_0000000", "ISIC_0000013", "ISIC_0000046", "phantom spots and lines")
INVARIANT = (
    *(
        ("ISIC_0000046", e)
        for e in ("rotation 5 deg", "shift 20 px", "exposure +5 %", "exposure -5 %", "JPEG q85")
    ),
    *(("phantom textured skin", e) for e in ("rotation 5 deg", "shift 20 px", "exposure +5 %", "JPEG q85")),
    ("ISIC_0000000", "rotation -3 deg"),
    ("ISIC_0000000", "JPEG q85"),
    ("ISIC_0000013", "shift 20 px"),
    ("ISIC_0000013", "rotation 5 deg"),
    ("ISIC_0000013", "exposure -5 %"),
    ("phantom spots and lines", "rotation 5 deg"),
)
DIRECTIONAL = (
    ("ISIC_0000046", "blur sigma 1 px"),
    ("ISIC_0000046", "texture amplitude x0.75"),
    ("phantom textured skin", "blur sigma 1 px"),
    ("phantom textured skin", "texture amplitude x0.75"),
    ("ISIC_0000013", "spot darkened 5 L*"),
    ("phantom spots and lines", "spot darkened 5 L*"),
)

#: Bounds the pipeline does not meet, with the figure measured (docs/validation/before_after.md).
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {
    ("ISIC_0000046", "JPEG q85", "glcm_contrast"): (
        "-7.6 % (-0.080), SRD 5.5 % (0.059): JPEG q85 removes pixel-scale detail that the 1-px GLCM at a "
        "1 L* bin width reads"
    ),
    ("ISIC_0000000", "JPEG q85", "glcm_contrast"): (
        "-7.4 % (-0.103), SRD 5.5 % (0.077): JPEG q85 removes pixel-scale detail that the 1-px GLCM at a "
        "1 L* bin width reads"
    ),
    ("phantom spots and lines", "rotation 5 deg", "wrinkle_length_mm_per_cm2"): (
        "0 -> 1.36 mm/cm2: a wrinkle (>= 0.5 mm wide) appears where the baseline has none (a fine-line "
        "crossing or spot edge read at the wrinkle scales after the rotation); from a baseline of 0 any "
        "length is beyond the SRD of a ratio"
    ),
    ("phantom spots and lines", "spot darkened 5 L*", "melanin_index"): (
        "change 0.0: melanin_index is the median of the skin outside spots (texture.pigment); a darkened "
        "spot is left out, and a median does not move when pixels below it darken"
    ),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("metamorphic")


_PAIRS: dict[tuple[str, str], object] = {}
_SOURCES: dict[str, tuple] = {}


def pair_for(folder, image: str, edit_name: str):
    """The image's baseline and the edit's follow-up through the pipeline (cached per module run)."""
    key = (image, edit_name)
    if key not in _PAIRS:
        if image not in _SOURCES:
            full, window = source(image)
            stem = "".join(c if c.isalnum() else "_" for c in image)
            _SOURCES[image] = (full, window, stem, save(view(full, window=window), folder / f"{stem}_base"))
        full, window, stem, baseline = _SOURCES[image]
        followup = followup_for(EDIT[edit_name], full, folder, stem, baseline, window=window)
        _PAIRS[key] = measure_pair(folder, baseline, followup, px_per_mm=DERMOSCOPY_PX_PER_MM)
    return _PAIRS[key]


def _case(image: str, edit: str, metric: str):
    reason = KNOWN_FAILURES.get((image, edit, metric))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(image, edit, metric, marks=marks, id=f"{image}-{edit}-{metric}")


@pytest.mark.parametrize("image", IDENTICAL)
def test_identical_copy_reads_exactly_zero_change_in_every_metric(folder, image):
    pair = pair_for(folder, image, "identical copy")
    assert pair.paired, pair.warnings
    # The same region in both (only the 0.5 mm frame band is left out of either).
    assert pair.record["common_baseline_fraction"] == pair.record["common_followup_fraction"] > 0.5
    metrics = outcome_metrics(pair.record)
    assert len(metrics) >= 20
    for metric in metrics:
        base, follow = pair.baseline[metric], pair.followup[metric]
        assert follow == base or (math.isnan(base) and math.isnan(follow)), metric


# Every outcome metric of the record (the list is stable: test_photo pins the columns).
_OUTCOMES = (
    "pore_count pore_density_per_cm2 pore_mean_diameter_mm pore_area_fraction pore_count_fine spot_count "
    "spot_area_fraction spot_mean_diameter_mm pigment_evenness pigment_lightness_sd ita_deg melanin_index "
    "erythema_index fine_line_count fine_line_length_mm_per_cm2 fine_line_mean_width_mm wrinkle_count "
    "wrinkle_length_mm_per_cm2 wrinkle_mean_width_mm line_count line_length_mm_per_cm2 line_mean_width_mm "
    "texture_roughness glcm_contrast glcm_inverse_difference_moment glcm_angular_second_moment "
    "glcm_correlation"
).split()


@pytest.mark.parametrize(
    ("image", "edit", "metric"), [_case(i, e, m) for i, e in INVARIANT for m in _OUTCOMES]
)
def test_geometry_exposure_and_jpeg_stay_within_repeatability(folder, image, edit, metric):
    pair = pair_for(folder, image, edit)
    assert pair.paired, pair.warnings
    assert metric in outcome_metrics(pair.record)
    change, srd = pair.change(metric), pair.srd(metric)
    if math.isnan(pair.baseline[metric]) and math.isnan(pair.followup[metric]):
        return  # no such feature in either photo: nothing to compare (the table says n/a)
    assert np.isfinite(srd), f"{metric}: no smallest real difference"
    assert abs(change) <= srd, f"{metric}: change {change:.4g}, SRD {srd:.4g}"


@pytest.mark.parametrize(
    ("image", "edit", "metric"),
    [
        _case(i, e, m)
        for i, e in DIRECTIONAL
        for m in (*FALLS.get(EDIT[e].kind, ()), *RISES.get(EDIT[e].kind, ()))
    ],
)
def test_smoothing_falls_and_a_darker_spot_rises(folder, image, edit, metric):
    pair = pair_for(folder, image, edit)
    assert pair.paired, pair.warnings
    change = pair.change(metric)
    if metric in FALLS.get(EDIT[edit].kind, ()):
        assert change < 0, f"{metric}: {change:+.4g}"
    else:
        assert change > 0, f"{metric}: {change:+.4g}"


# --- phantoms with a known truth, through the pipeline -----------------------------------------------------
def _phantom_pair(folder, name, before, after, px_per_mm):
    base = save(before, folder / f"{name}_base")
    follow = save(after, folder / f"{name}_follow")
    return measure_pair(folder, base, follow, px_per_mm=px_per_mm)


def test_pores_shrunk_15_percent_read_minus_15(folder):
    # Pores 0.35-0.7 mm: above the 0.25 mm floor before and after the shrink (texture.pores).
    kw = dict(size_mm=(16.0, 12.0), px_per_mm=25.0, seed=11, pore_diameter_mm=(0.35, 0.7), noise_seed=11)
    pair = _phantom_pair(
        folder,
        "pores",
        render_skin(pore_scale=1.0, **kw).rgb,
        render_skin(pore_scale=0.85, **kw).rgb,
        25.0,
    )
    assert pair.paired
    assert pair.pct("pore_mean_diameter_mm") == pytest.approx(-15.0, abs=3.0)


def test_skin_truly_lightened_by_6_l_star_raises_ita_by_the_true_amount(folder):
    # Lab (60, 12, 18) -> (66, 11, 15) under the same light: ITA 29.05 -> 46.85 deg (issue 13).
    def ita(lab):
        return math.degrees(math.atan2(lab[0] - 50.0, lab[2]))

    before_lab, after_lab = (60.0, 12.0, 18.0), (66.0, 11.0, 15.0)
    kw = dict(size_mm=(16.0, 12.0), px_per_mm=25.0, seed=12, noise_seed=12, shading=0.0)
    pair = _phantom_pair(
        folder,
        "lighter",
        render_skin(skin_lab=before_lab, **kw).rgb,
        render_skin(skin_lab=after_lab, **kw).rgb,
        25.0,
    )
    assert pair.paired
    true_rise = ita(after_lab) - ita(before_lab)
    assert pair.change("ita_deg") == pytest.approx(true_rise, abs=1.5)
    assert pair.change("melanin_index") < 0  # less melanin, not the rise exposure normalisation read
    assert pair.record["exposure_gain"] < 0.9  # structure was normalised to the darker baseline, colour not


@pytest.fixture(scope="module")
def lines_record(folder):
    from pipelines.analyze import analyze_item
    from pipelines.io.metadata import ImageItem
    from tests.pipelines.metamorphic import SETTINGS

    phantom = render_lines(px_per_mm=20.0, seed=4)
    path = save(phantom.rgb, folder / "lines")
    item = ImageItem(path=path, file=path.name, subject="L", session=0, px_per_mm=20.0)
    return phantom, analyze_item(item, SETTINGS, input_root=folder).record


def test_lines_from_0_1_to_2_5_mm_are_found_with_their_class(lines_record):
    phantom, rec = lines_record
    fine = phantom.widths_mm < 0.5
    assert (rec["fine_line_count"], rec["wrinkle_count"]) == (fine.sum(), (~fine).sum())
    area_cm2 = rec["roi_area_cm2"]
    for cls, chosen in (("fine_line", fine), ("wrinkle", ~fine)):
        assert rec[f"{cls}_length_mm_per_cm2"] * area_cm2 == pytest.approx(
            phantom.lengths_mm[chosen].sum(), rel=0.10
        ), cls


def test_a_line_only_photo_has_no_pores(lines_record):
    _, rec = lines_record
    assert rec["pore_count"] == 0
