"""Fibres traced through crossings (CT-FIRE style): synthetic truth, per-fibre table, alignment, and the
agreement goals of issue 15 against CT-FIRE/CurveAlign's own outputs on real SHG images."""

from pathlib import Path

import numpy as np
import pytest

from texture.collagen import analyze_collagen
from texture.fibres import alignment_coefficient, fibre_table, trace_fibres
from texture.phantoms.fibres import crossing_fibres, curved_fibres, star

SHG = Path(__file__).resolve().parents[1] / "data" / "shg_curvealign"


def _angle_error(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b)) % 180.0
    return np.minimum(d, 180.0 - d)


def _analyse(phantom, **kw):
    return analyze_collagen(phantom.rgb, stain="shg", mask=np.ones(phantom.grey.shape, bool), **kw)


def _match(fibres, truth):
    """Each true fibre's traced partner (nearest angle); asserts a one-to-one match."""
    order = [int(np.argmin(_angle_error(fibres.angle_deg, a))) for a in truth["angles_deg"]]
    assert len(set(order)) == len(order), "two true fibres matched the same traced fibre"
    return np.array(order)


@pytest.mark.parametrize("angles", [(20.0, 110.0), (30.0, 60.0), (0.0, 35.0), (10.0, 40.0, 130.0)])
@pytest.mark.parametrize("width", [3.0, 5.0, 8.0])
def test_crossing_fibres_stay_whole_and_separate(angles, width):
    phantom = crossing_fibres(angles_deg=angles, width_px=width, seed=len(angles))
    fibres = _analyse(phantom).fibres
    truth = phantom.truth
    assert fibres.count == truth["count"]  # not merged, not broken at the crossing
    idx = _match(fibres, truth)
    np.testing.assert_allclose(fibres.length_px[idx], truth["lengths_px"], rtol=0.03)
    assert np.all(_angle_error(fibres.angle_deg[idx], truth["angles_deg"]) <= 1.5)
    assert np.all(fibres.segments >= 2)  # each was linked through the junction


@pytest.mark.parametrize("arms", [3, 4])
def test_star_arms_are_whole_fibres(arms):
    phantom = star(arms=arms)
    fibres = _analyse(phantom).fibres
    assert fibres.count == arms
    idx = _match(fibres, phantom.truth)
    np.testing.assert_allclose(fibres.length_px[idx], phantom.truth["lengths_px"], rtol=0.03)


@pytest.mark.parametrize("arc_deg", [90.0, 150.0])
def test_curved_fibres_length_and_straightness(arc_deg):
    phantom = curved_fibres(arc_deg=arc_deg)
    fibres = _analyse(phantom).fibres
    truth = phantom.truth
    assert fibres.count == truth["count"]
    # Arcs side by side: match by the fibre centre's column instead of the (equal) angles.
    idx = np.argsort(fibres.centre_rc[:, 1])
    np.testing.assert_allclose(fibres.length_px[idx], truth["lengths_px"], rtol=0.03)
    np.testing.assert_allclose(fibres.straightness[idx], truth["straightness"], atol=0.03)
    np.testing.assert_allclose(fibres.width_px[idx], truth["widths_px"], rtol=0.2)


def test_minimum_length_drops_short_fibres():
    phantom = crossing_fibres(angles_deg=(20.0, 110.0), length_px=60.0)
    grey = phantom.grey
    mask = grey > 0.5
    assert trace_fibres(grey, mask, min_length_px=30.0).count == 2
    assert trace_fibres(grey, mask, min_length_px=80.0).count == 0


def test_fibre_table_columns_and_units():
    phantom = crossing_fibres()
    result = _analyse(phantom, px_per_mm=2000.0, fibre_min_length_um=15.0)
    table = result.measurement(2000.0).tables["fibres"]
    n = result.fibres.count
    assert n == 2
    for col in (
        "fibre_id",
        "length_px",
        "length_um",
        "end_to_end_length_px",
        "straightness",
        "width_um",
        "angle_deg",
        "centre_x_px",
        "centre_y_px",
        "centre_x_um",
        "centre_y_um",
    ):
        assert len(table[col]) == n
    np.testing.assert_allclose(table["length_um"], np.asarray(table["length_px"]) * 0.5)
    # Both fibres cross at the image centre: their end midpoints sit there.
    np.testing.assert_allclose(table["centre_x_px"], 128.0, atol=1.5)
    np.testing.assert_allclose(table["centre_y_px"], 128.0, atol=1.5)
    unscaled = _analyse(phantom).measurement(None).tables["fibres"]
    assert np.all(np.isnan(unscaled["length_um"]))
    assert fibre_table(result.fibres, None, offset_rc=(10.0, 20.0))["centre_x_px"][0] == pytest.approx(
        table["centre_x_px"][0] + 20.0
    )


def test_alignment_coefficient_by_hand():
    assert alignment_coefficient([10.0, 10.0, 10.0]) == pytest.approx(1.0)
    assert alignment_coefficient([0.0, 90.0]) == pytest.approx(0.0, abs=1e-12)
    assert alignment_coefficient([0.0, 60.0, 120.0]) == pytest.approx(0.0, abs=1e-12)
    # 0 and 179 degrees are nearly the same axis.
    assert alignment_coefficient([0.0, 179.0]) == pytest.approx(np.cos(np.deg2rad(1.0)), abs=1e-9)
    # Length weights: one long fibre at 0 and a short one at 90 -> (3 - 1) / 4.
    assert alignment_coefficient([0.0, 90.0], weights=[3.0, 1.0]) == pytest.approx(0.5)
    assert np.isnan(alignment_coefficient([]))
    with pytest.raises(ValueError, match="weights"):
        alignment_coefficient([0.0, 1.0], weights=[1.0])


def test_bad_options_are_refused():
    grey = np.zeros((16, 16))
    with pytest.raises(ValueError, match="min_length_px"):
        trace_fibres(grey, grey > 0, min_length_px=-1.0)
    with pytest.raises(ValueError, match="link_angle_deg"):
        trace_fibres(grey, grey > 0, link_angle_deg=120.0)


# --- Agreement with CT-FIRE / CurveAlign on their own SHG images (issue 15 goals) -----------------
#
# CT-FIRE ran with its default 30 px minimum length; so do we (no scale: fibre_min_length_px = 30).
# Each (image, goal) is one test; goals we do not meet yet are strict xfails, so meeting one later
# turns the suite red until the marker is removed, and the table in docs/validation/collagen.md
# (docs/make_collagen_validation.py) shows every figure.

IMAGES = ("2B_D9_ROI1", "2B_D9_ROI2")


def _circular_mean_deg(angles_deg):
    z = np.exp(2j * np.deg2rad(np.asarray(angles_deg))).mean()
    return float(np.mod(np.degrees(np.angle(z)) / 2.0, 180.0))


@pytest.fixture(scope="module")
def shg_results():
    import tifffile

    out = {}
    for name in IMAGES:
        grey = tifffile.imread(SHG / f"{name}.tif").astype(float) / 255.0
        rgb = np.repeat(grey[..., None], 3, axis=2)
        metrics = analyze_collagen(rgb, stain="shg", mask=np.ones(grey.shape, bool)).sums.metrics()
        ct = np.loadtxt(SHG / f"{name}_fibFeatures.csv", delimiter=",", ndmin=2)
        stats = {}
        for line in (SHG / f"{name}_stats.csv").read_text().splitlines():
            key, _, value = line.strip().rpartition("\t")
            stats[key.strip()] = float(value)
        out[name] = (metrics, ct, stats)
    return out


def _goal(goal, metrics, ct, stats):
    """(ours, theirs, met) for one goal of issue 15."""
    if goal == "count":
        ours, theirs = metrics["fibre_count"], float(len(ct))
        return ours, theirs, abs(ours / theirs - 1) <= 0.25
    if goal == "length":
        ours, theirs = metrics["fibre_length_mean_px"], ct[:, 5].mean()
        return ours, theirs, abs(ours / theirs - 1) <= 0.20
    if goal == "width":
        ours, theirs = metrics["fibre_width_mean_px"], ct[:, 8].mean()
        return ours, theirs, abs(ours / theirs - 1) <= 0.15
    if goal == "straightness":
        ours, theirs = metrics["fibre_straightness_mean"], ct[:, 7].mean()
        return ours, theirs, abs(ours - theirs) <= 0.03
    if goal == "angle":
        ours, theirs = metrics["fibre_angle_mean_deg"], _circular_mean_deg(ct[:, 3])
        return ours, theirs, _angle_error(ours, theirs) <= 5.0
    if goal == "alignment":
        ours, theirs = metrics["fibre_alignment_coefficient"], stats["Coef of Alignment"]
        return ours, theirs, abs(ours - theirs) <= 0.08
    raise AssertionError(goal)


#: Goals not met yet (figures in docs/validation/collagen.md): CT-FIRE traces the faint fibres of its
#: curvelet-denoised image, we trace about half as many fibres >= 30 px; on ROI1 ours are straighter
#: (0.956 against 0.917: CT-FIRE's length runs through its jittery vertex polyline, ours along the
#: staircase-smoothed skeleton).
UNMET = {("2B_D9_ROI1", "count"), ("2B_D9_ROI2", "count"), ("2B_D9_ROI1", "straightness")}


@pytest.mark.parametrize(
    "name, goal",
    [
        pytest.param(n, g, marks=pytest.mark.xfail(strict=True, reason="issue 15 goal not met yet"))
        if (n, g) in UNMET
        else (n, g)
        for n in IMAGES
        for g in ("count", "length", "width", "straightness", "angle", "alignment")
    ],
)
def test_shg_agreement_with_ctfire_and_curvealign(shg_results, name, goal):
    ours, theirs, met = _goal(goal, *shg_results[name])
    assert met, f"{name} {goal}: ours {ours:.3f}, CT-FIRE/CurveAlign {theirs:.3f}"


def test_curvealign_coefficient_is_the_resultant_length_of_its_fibre_angles(shg_results):
    # Independent check of our reading of CurveAlign: its printed coefficient (2 decimals) is the mean
    # resultant length of the doubled per-fibre angles it summarised.
    for name in IMAGES:
        _, ct, stats = shg_results[name]
        values = np.loadtxt(SHG / f"{name}_values.csv", ndmin=1)
        np.testing.assert_allclose(np.sort(values), np.sort(ct[:, 3]), atol=0.01)
        assert alignment_coefficient(values) == pytest.approx(stats["Coef of Alignment"], abs=0.006)


def test_ring_is_one_closed_fibre_and_a_uniform_image_has_none():
    from texture.phantoms.fibres import render_polylines

    t = np.linspace(0.0, 2.0 * np.pi, 400)
    ring = np.stack([128 + 70 * np.sin(t), 128 + 70 * np.cos(t)], axis=1)
    grey = 0.05 + 0.85 * render_polylines((256, 256), [ring], [5.0])
    fibres = analyze_collagen(
        np.repeat(grey[..., None], 3, axis=2), stain="shg", mask=np.ones(grey.shape, bool)
    ).fibres
    assert fibres.count == 1
    # A closed fibre: its length is the circumference of its centre line, its ends coincide.
    assert fibres.length_px[0] == pytest.approx(2 * np.pi * 70, rel=0.03)
    assert fibres.straightness[0] < 0.05
    assert trace_fibres(np.ones((32, 32)), np.ones((32, 32), bool)).count == 0
