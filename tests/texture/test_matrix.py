"""TWOMBLI/AnaMorf matrix descriptors against hand-made images with known answers."""

import numpy as np
import pytest

from texture.collagen import CollagenSums, analyze_collagen
from texture.matrix import (
    box_counting_dimension,
    high_density_matrix,
    lacunarity,
    lacunarity_from_counts,
    path_curvature_deg,
    skeleton_branch_points,
    skeleton_end_points,
)
from texture.phantoms.fibres import crossing_fibres


def test_high_density_matrix_follows_twomblis_8_bit_rule():
    v8 = np.arange(256, dtype=float)
    grey = (v8 / 255.0).reshape(16, 16)
    # Bright fibres: inverted, display 0..200 applied, inverted again; black (not HDM) for grey <= 55.
    bright = high_density_matrix(grey).ravel()
    np.testing.assert_array_equal(bright, v8 > 55)
    # Dark fibres (bright-field): no first inversion; HDM where grey < 200.
    dark = high_density_matrix(grey, dark_fibres=True).ravel()
    np.testing.assert_array_equal(dark, v8 < 200)
    with pytest.raises(ValueError, match="within"):
        high_density_matrix(grey * 2.0)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.9])
def test_lacunarity_equals_anamorfs_variance_over_squared_mean(fraction):
    rng = np.random.default_rng(1)
    mask = rng.uniform(size=(40, 50)) < fraction
    values = np.where(mask, 255.0, 0.0)
    # ImageJ's ImageStatistics: sample standard deviation.
    brute = abs(values.var(ddof=1) / values.mean() ** 2 - 1.0)
    assert lacunarity(mask) == pytest.approx(brute, rel=1e-12)
    assert lacunarity_from_counts(mask.sum(), mask.size) == pytest.approx(brute, rel=1e-12)
    region = np.zeros(mask.shape, bool)
    region[:20] = True
    sub = values[:20]
    assert lacunarity(mask, region=region) == pytest.approx(abs(sub.var(ddof=1) / sub.mean() ** 2 - 1.0))
    assert np.isnan(lacunarity(np.zeros((4, 4), bool)))


def test_box_counting_dimension_of_a_line_and_a_plane():
    line = np.zeros((256, 256), bool)
    line[128, :] = True
    assert box_counting_dimension(line) == pytest.approx(1.0, abs=0.05)
    plane = np.ones((256, 256), bool)
    assert box_counting_dimension(plane) == pytest.approx(2.0, abs=0.05)
    # Sierpinski carpet of level 5 (243 px): log 8 / log 3 = 1.893.
    carpet = np.ones((243, 243), bool)
    idx = np.arange(243)
    for k in range(5):
        third = (idx // 3**k) % 3 == 1
        carpet[np.ix_(third, third)] = False
    assert box_counting_dimension(carpet) == pytest.approx(np.log(8) / np.log(3), abs=0.08)
    assert np.isnan(box_counting_dimension(np.zeros((64, 64), bool)))


def test_end_and_branch_points_of_a_drawn_skeleton():
    sk = np.zeros((40, 40), bool)
    sk[20, 5:36] = True  # a plus sign: 4 ends, 1 junction
    sk[5:36, 20] = True
    ends = skeleton_end_points(sk)
    assert len(ends) == 4
    assert {tuple(e) for e in ends} == {(20.0, 5.0), (20.0, 35.0), (5.0, 20.0), (35.0, 20.0)}
    bp = skeleton_branch_points(sk)
    assert len(bp) == 1 and tuple(np.round(bp[0])) == (20.0, 20.0)
    # An end within 2 px of the border is not counted (AnaMorf's margin).
    sk[20, 1:5] = True
    assert len(skeleton_end_points(sk)) == 3


def test_curvature_of_a_line_and_a_circle():
    w = 20
    line = np.stack([np.zeros(200), np.arange(200.0)], axis=1)
    assert np.allclose(path_curvature_deg(line, np.array([0, 200]), window_px=w), 0.0)
    r = 100.0
    t = np.arange(0, 400) / r  # unit steps along the circle
    circle = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    curv = path_curvature_deg(circle, np.array([0, 400]), window_px=w)
    # Successive chords of w unit steps turn by the arc angle w / r between them (chords of equal arcs).
    assert curv.size == 400 - 2 * w
    np.testing.assert_allclose(curv, np.degrees(w / r), atol=1e-9)
    # Paths not longer than 2 w contribute nothing.
    assert path_curvature_deg(line[:40], np.array([0, 40]), window_px=w).size == 0


def test_matrix_sums_of_regions_equal_the_whole():
    phantom = crossing_fibres(angles_deg=(20.0, 110.0, 60.0))
    mask = np.ones(phantom.grey.shape, bool)
    whole = analyze_collagen(phantom.rgb, stain="shg", mask=mask)
    parts = CollagenSums()
    for region in [(slice(0, 100), slice(None)), (slice(100, None), slice(None))]:
        parts = (
            parts
            + analyze_collagen(
                phantom.rgb, stain="shg", mask=mask, threshold=whole.threshold, count_region=region
            ).sums
        )
    for name in ("fibre_count", "skeleton_px", "hdm_px", "end_points", "branch_points", "curvature_points"):
        assert getattr(parts, name) == getattr(whole.sums, name), name
    for name in ("fibre_length_px", "fibre_cos2", "fibre_sin2", "jxx", "jxy", "jyy"):
        assert getattr(parts, name) == pytest.approx(getattr(whole.sums, name), rel=1e-9, abs=1e-9), name
    # Box counting needs the whole mask: pooled tiles do not report it.
    assert np.isfinite(whole.sums.metrics()["matrix_fractal_dimension"])
    assert np.isnan(parts.metrics()["matrix_fractal_dimension"])
