"""texture.pores against phantoms with known pores (texture.phantoms.photo)."""

import math

import cv2
import numpy as np
import pytest

from texture._regions import moments_from_pixels
from texture.measurement import ASSUMED_PX_PER_MM
from texture.phantoms.photo import render_lines, render_skin
from texture.pores import half_depth_outlines, measure_pores


def _relative_error(measured, truth):
    return abs(measured / truth - 1.0)


@pytest.mark.parametrize("px_per_mm", [20.0, 30.0])
def test_count_diameter_density_on_shaded_skin(px_per_mm):
    # Pores 0.2-0.6 mm, illumination varying by +-25 % across the field.
    # From the former 0.1 mm floor (below every rendered pore, so all of them count): the detector's
    # accuracy. The default 0.25 mm floor is tested on its own below.
    phantom = render_skin(px_per_mm=px_per_mm, size_mm=(20.0, 20.0), seed=3)
    truth = phantom.truth
    m = measure_pores(phantom.rgb, px_per_mm=px_per_mm, min_diameter_mm=0.1).metrics
    assert _relative_error(m["pore_count"], truth["pore_count"]) <= 0.05
    assert _relative_error(m["pore_mean_diameter_mm"], truth["pore_mean_diameter_mm"]) <= 0.10
    assert _relative_error(m["pore_density_per_cm2"], truth["pore_density_per_cm2"]) <= 0.05
    assert _relative_error(m["pore_area_fraction"], truth["pore_area_fraction"]) <= 0.10


@pytest.mark.parametrize(
    "conditions",
    [
        {"shading": 0.5},  # strong side lighting
        {"pore_depth": 0.2, "noise_sd": 0.015},  # faint pores, noisier sensor
        {"blur_px": 0.8},  # a soft lens
    ],
)
def test_count_and_size_robust_to_shading_faint_pores_and_blur(conditions):
    phantom = render_skin(px_per_mm=20.0, seed=4, **conditions)
    m = measure_pores(phantom.rgb, px_per_mm=20.0, min_diameter_mm=0.1).metrics
    assert _relative_error(m["pore_count"], phantom.truth["pore_count"]) <= 0.05
    assert _relative_error(m["pore_mean_diameter_mm"], phantom.truth["pore_mean_diameter_mm"]) <= 0.10


def test_same_skin_at_two_scales_gives_same_mm_values():
    low = measure_pores(render_skin(px_per_mm=20.0, seed=5).rgb, px_per_mm=20.0).metrics
    high = measure_pores(render_skin(px_per_mm=30.0, seed=5).rgb, px_per_mm=30.0).metrics
    assert _relative_error(low["pore_mean_diameter_mm"], high["pore_mean_diameter_mm"]) <= 0.03
    assert _relative_error(low["pore_density_per_cm2"], high["pore_density_per_cm2"]) <= 0.03
    # and the pixel twins scale with the resolution
    ratio = high["pore_mean_diameter_px"] / low["pore_mean_diameter_px"]
    assert ratio == pytest.approx(1.5, rel=0.03)


@pytest.mark.parametrize("px_per_mm", [15.0, 20.0, 25.0])
def test_pore_shrink_of_15_percent_reads_minus_15(px_per_mm):
    # Issue 13: -15 +- 3 %. Pores of 0.35-0.7 mm stay above the 0.25 mm floor after shrinking (0.30-0.6
    # mm), so no pore leaves the count (see the next test for pores that cross the floor).
    kwargs = {"px_per_mm": px_per_mm, "seed": 6, "pore_diameter_mm": (0.35, 0.7)}
    before = measure_pores(render_skin(**kwargs).rgb, px_per_mm=px_per_mm).metrics
    after_phantom = render_skin(pore_scale=0.85, noise_seed=60, **kwargs)
    after = measure_pores(after_phantom.rgb, px_per_mm=px_per_mm).metrics
    change = 100.0 * (after["pore_mean_diameter_mm"] / before["pore_mean_diameter_mm"] - 1.0)
    assert -18.0 <= change <= -12.0
    assert abs(after["pore_count"] - before["pore_count"]) <= 0.01 * before["pore_count"]


def test_pores_shrinking_across_the_floor_leave_the_count_but_not_the_fine_count():
    # A documented limit of any floor: pores of 0.2-0.6 mm shrunk by 15 % (0.17-0.51 mm): those that
    # fall under 0.25 mm leave pore_count (truth: pores of 0.25-0.294 mm before), while
    # pore_count_fine (from 0.1 mm) keeps them all.
    phantom = render_skin(px_per_mm=20.0, seed=6)
    before = measure_pores(phantom.rgb, px_per_mm=20.0).metrics
    after = measure_pores(render_skin(px_per_mm=20.0, seed=6, pore_scale=0.85).rgb, px_per_mm=20.0).metrics
    d = phantom.pores[:, 2]  # diameters before shrinking
    # A pore within 5 % of the floor may fall either side of it (as in the test below): bounds of the drop.
    lo, hi = 0.25 * 0.95, 0.25 * 1.05
    least = np.sum(d >= hi) - np.sum(0.85 * d >= lo)
    most = np.sum(d >= lo) - np.sum(0.85 * d >= hi)
    drop = before["pore_count"] - after["pore_count"]
    print(f"drop {drop:.0f} of {before['pore_count']:.0f} (bounds {least}-{most})")
    assert least <= drop <= most and drop >= 0.1 * before["pore_count"]
    assert after["pore_count_fine"] == before["pore_count_fine"] == len(d)


def test_repeatability_under_new_noise_and_exposure():
    # The same skin re-shot five times: new sensor noise, flash -3 % .. +3 %; faint pores on a noisy
    # sensor so that the test has something to lose.
    counts, diameters = [], []
    for k, exposure in enumerate([0.97, 0.985, 1.0, 1.015, 1.03]):
        phantom = render_skin(
            px_per_mm=20.0,
            seed=7,
            exposure=exposure,
            noise_seed=100 + k,
            pore_depth=0.2,
            noise_sd=0.02,
        )
        m = measure_pores(phantom.rgb, px_per_mm=20.0).metrics
        counts.append(m["pore_count"])
        diameters.append(m["pore_mean_diameter_mm"])
    cv_count = np.std(counts, ddof=1) / np.mean(counts)
    cv_diameter = np.std(diameters, ddof=1) / np.mean(diameters)
    print(f"repeatability CV: count {100 * cv_count:.2f} %, mean diameter {100 * cv_diameter:.2f} %")
    assert cv_count < 0.03
    assert cv_diameter < 0.03


def test_lines_and_spots_are_not_pores():
    phantom = render_skin(
        px_per_mm=25.0, size_mm=(24.0, 24.0), seed=8, pore_density_per_cm2=0, n_lines=6, n_spots=5
    )
    assert phantom.truth["pore_count"] == 0
    assert measure_pores(phantom.rgb, px_per_mm=25.0).metrics["pore_count"] <= 1


def test_without_scale_mm_columns_are_nan_and_px_twins_use_default_size_range():
    phantom = render_skin(px_per_mm=ASSUMED_PX_PER_MM, seed=9)
    scaled = measure_pores(phantom.rgb, px_per_mm=ASSUMED_PX_PER_MM).metrics
    unscaled = measure_pores(phantom.rgb).metrics
    assert math.isnan(unscaled["pore_mean_diameter_mm"])
    assert math.isnan(unscaled["pore_density_per_cm2"])
    assert unscaled["pore_count"] == scaled["pore_count"]
    assert unscaled["pore_mean_diameter_px"] == pytest.approx(
        scaled["pore_mean_diameter_mm"] * ASSUMED_PX_PER_MM
    )
    area_mpx = phantom.rgb.shape[0] * phantom.rgb.shape[1] / 1e6
    assert unscaled["pore_density_per_mpx"] == pytest.approx(scaled["pore_count"] / area_mpx)


def test_mask_restricts_count_but_not_density():
    phantom = render_skin(px_per_mm=20.0, seed=10)
    mask = np.zeros(phantom.rgb.shape[:2], bool)
    mask[:, : mask.shape[1] // 2] = True
    half = measure_pores(phantom.rgb, px_per_mm=20.0, mask=mask, min_diameter_mm=0.1)
    whole = measure_pores(phantom.rgb, px_per_mm=20.0, min_diameter_mm=0.1)
    in_left = np.sum(phantom.pores[:, 0] < 10.0)
    assert abs(half.metrics["pore_count"] - in_left) <= 0.05 * in_left + 1
    assert (
        _relative_error(half.metrics["pore_density_per_cm2"], whole.metrics["pore_density_per_cm2"]) <= 0.15
    )
    assert not half.labels[:, mask.shape[1] // 2 + 1 :].any()


def test_bad_input_raises_value_error():
    rgb = np.full((50, 50, 3), 0.6)
    with pytest.raises(ValueError):
        measure_pores(rgb, mask=np.zeros((50, 50), bool))
    with pytest.raises(ValueError):
        measure_pores(rgb, mask=np.ones((40, 50), bool))
    with pytest.raises(ValueError):
        measure_pores(rgb[..., 0])
    with pytest.raises(ValueError):
        measure_pores(rgb, min_diameter_mm=1.0, max_diameter_mm=0.5)
    with pytest.raises(ValueError, match="fine_min_diameter_mm"):
        measure_pores(rgb, min_diameter_mm=0.2, fine_min_diameter_mm=0.3)
    with pytest.raises(ValueError, match="min_all_round_fall"):
        measure_pores(rgb, min_all_round_fall=1.5)


def test_uniform_skin_has_no_pores():
    rng = np.random.default_rng(0)
    rgb = np.clip(np.full((200, 200, 3), (0.8, 0.6, 0.5)) + rng.normal(0, 0.01, (200, 200, 3)), 0, 1)
    m = measure_pores(rgb, px_per_mm=20.0).metrics
    assert m["pore_count"] == 0
    assert math.isnan(m["pore_mean_diameter_mm"])
    assert m["pore_area_fraction"] == 0


def test_bad_lab_raises_value_error():
    lab = np.zeros((30, 30, 3), np.float32)
    lab[..., 0] = 60.0
    lab[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        measure_pores(None, lab=lab)
    with pytest.raises(ValueError, match="float"):
        measure_pores(None, lab=np.zeros((30, 30, 3), np.uint8))
    with pytest.raises(ValueError, match="rgb or lab"):
        measure_pores(None)


@pytest.mark.parametrize("px_per_mm", [20.0, 30.0])
def test_default_floor_counts_pores_from_a_quarter_millimetre(px_per_mm):
    # Pores of 0.2-0.6 mm: the default counts those of >= 0.25 mm; a pore within 5 % of the floor may
    # fall either side of it (its outline is read within a few %), so the count lies between the truth
    # counts for floors of 0.2375 and 0.2625 mm. The fine count is the former definition.
    phantom = render_skin(px_per_mm=px_per_mm, size_mm=(20.0, 20.0), seed=3)
    d = phantom.pores[:, 2]
    m = measure_pores(phantom.rgb, px_per_mm=px_per_mm).metrics
    assert np.sum(d >= 0.2625) <= m["pore_count"] <= np.sum(d >= 0.2375)
    former = measure_pores(phantom.rgb, px_per_mm=px_per_mm, min_diameter_mm=0.1).metrics
    assert m["pore_count_fine"] == former["pore_count"] == len(d)
    kept = d[d >= 0.25]
    assert _relative_error(m["pore_mean_diameter_mm"], kept.mean()) <= 0.03


@pytest.mark.parametrize("px_per_mm", [15.0, 20.0, 25.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_photo_of_six_lines_has_no_pores(px_per_mm, seed):
    # Issue 13: six 0.3 mm lines and no pores -> 0 pores, also in the fine count; faint lines (15 % light
    # loss, noisier sensor) break into pieces that the all-round test rejects. At 10 px/mm (below the
    # >= 20 px/mm pore work needs) the faint photo of seed 2 holds one 7-px noise speck 3.5 mm from any
    # line that reads as a pore whatever the noise level (the same noise pattern, scaled).
    arcs = render_skin(
        px_per_mm=px_per_mm,
        size_mm=(24.0, 24.0),
        seed=seed,
        pore_density_per_cm2=0,
        n_lines=6,
        line_width_mm=0.3,
    )
    faint = render_lines((0.3,) * 6, px_per_mm=px_per_mm, seed=seed, line_depth=0.15, noise_sd=0.015)
    for rgb in (arcs.rgb, faint.rgb):
        m = measure_pores(rgb, px_per_mm=px_per_mm).metrics
        assert m["pore_count"] == 0 and m["pore_count_fine"] == 0


def test_all_round_test_is_what_rejects_pieces_of_faint_lines():
    # Without step 6 the pieces of faint lines are counted (the test has something to catch).
    found = 0
    for seed in range(3):
        faint = render_lines((0.3,) * 6, px_per_mm=10.0, seed=seed, line_depth=0.1, noise_sd=0.02)
        found += measure_pores(faint.rgb, px_per_mm=10.0, min_all_round_fall=0.0).metrics["pore_count_fine"]
        print(seed, measure_pores(faint.rgb, px_per_mm=10.0).metrics["pore_count_fine"])
    assert found >= 1


def test_moments_of_a_rectangle_by_hand():
    # A 3 x 4 px rectangle (rows 2-4, cols 5-8) and one lone pixel: a pixelised h x w rectangle has
    # second moments h^2/12 and w^2/12 (pixel extent included), so elongation w/h = 4/3 and ellipse fill
    # area / (4 pi sqrt(h^2 w^2 / 144)) = 12 / (4 pi) for the rectangle.
    rr, cc = np.mgrid[2:5, 5:9]
    rr, cc = np.append(rr.ravel(), 0), np.append(cc.ravel(), 0)
    lab = np.append(np.ones(12, dtype=np.intp), 2)
    area, row, col, elongation, fill = moments_from_pixels(rr, cc, lab, 3)
    assert area.tolist() == [0.0, 12.0, 1.0]
    assert row[1] == pytest.approx(3.0) and col[1] == pytest.approx(6.5)
    assert elongation[1] == pytest.approx(4.0 / 3.0)
    assert fill[1] == pytest.approx(12.0 / (4.0 * np.pi))
    assert row[0] == col[0] == 0.0  # an empty label


def test_half_depth_outlines_in_a_caller_buffer_are_the_same():
    # The labels buffer is scratch space only: outlines, labels and count do not depend on it (a
    # buffer holding garbage included).
    rng = np.random.default_rng(0)
    depth = 4.0 * cv2.GaussianBlur(rng.normal(0.0, 1.0, (120, 160)).astype(np.float32), (0, 0), 2.0)
    level = np.full(depth.shape, 60.0, dtype=np.float32)
    candidates = depth > 0.5
    buffer = rng.integers(-5, 5, depth.shape).astype(np.int32)
    plain = half_depth_outlines(depth, candidates, 1.0, level=level)
    buffered = half_depth_outlines(depth, candidates, 1.0, level=level, labels=buffer)
    assert plain[2] == buffered[2] > 10
    assert np.array_equal(plain[0], buffered[0]) and np.array_equal(plain[1], buffered[1])
