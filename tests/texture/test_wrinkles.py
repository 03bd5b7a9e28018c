"""texture.wrinkles against phantoms with known fine lines, and skeleton length by hand."""

import math

import numpy as np
import pytest

from texture.phantoms.photo import render_skin
from texture.wrinkles import measure_wrinkles, skeleton_lengths


@pytest.mark.parametrize("px_per_mm", [20.0, 30.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_six_curved_lines_count_length_width(px_per_mm, seed):
    phantom = render_skin(
        px_per_mm=px_per_mm, size_mm=(24.0, 24.0), n_lines=6, pore_density_per_cm2=0, seed=seed
    )
    m = measure_wrinkles(phantom.rgb, px_per_mm=px_per_mm).metrics
    assert abs(m["wrinkle_count"] - 6) <= 1
    assert m["wrinkle_length_mm_per_cm2"] == pytest.approx(
        phantom.truth["wrinkle_length_mm_per_cm2"], rel=0.20
    )
    assert m["wrinkle_mean_width_mm"] == pytest.approx(phantom.line_width_mm, rel=0.25)


def test_lines_among_pores_and_spots():
    phantom = render_skin(px_per_mm=25.0, size_mm=(24.0, 24.0), n_lines=6, n_spots=5, seed=2)
    m = measure_wrinkles(phantom.rgb, px_per_mm=25.0).metrics
    assert abs(m["wrinkle_count"] - 6) <= 1
    assert m["wrinkle_length_mm_per_cm2"] == pytest.approx(
        phantom.truth["wrinkle_length_mm_per_cm2"], rel=0.20
    )


def test_pores_and_spot_edges_are_not_lines():
    phantom = render_skin(px_per_mm=25.0, size_mm=(24.0, 24.0), n_spots=6, seed=3)
    m = measure_wrinkles(phantom.rgb, px_per_mm=25.0).metrics
    assert m["wrinkle_count"] <= 1


def test_rotation_by_90_degrees_keeps_count_and_length():
    phantom = render_skin(px_per_mm=20.0, size_mm=(24.0, 24.0), n_lines=6, pore_density_per_cm2=0, seed=4)
    upright = measure_wrinkles(phantom.rgb, px_per_mm=20.0).metrics
    turned = measure_wrinkles(np.rot90(phantom.rgb).copy(), px_per_mm=20.0).metrics
    assert turned["wrinkle_count"] == upright["wrinkle_count"]
    assert turned["wrinkle_length_mm_per_cm2"] == pytest.approx(
        upright["wrinkle_length_mm_per_cm2"], rel=0.03
    )


def test_skeleton_lengths_by_hand():
    sk = np.zeros((60, 60), bool)
    sk[5, 5:45] = True  # 40 px horizontal: 39 steps
    idx = np.arange(20)
    sk[20 + idx, 10 + idx] = True  # diagonal of 20 px: 19 diagonal steps
    sk[50, 10:20] = True  # an L: 9 horizontal + 5 vertical steps
    sk[45:50, 19] = True
    labels, lengths, n = skeleton_lengths(sk)
    assert n == 3
    by_label = {int(labels[5, 5]): 39.0, int(labels[20, 10]): 19 * math.sqrt(2), int(labels[50, 10]): 14.0}
    for label, expected in by_label.items():
        assert lengths[label - 1] == pytest.approx(expected)


def test_without_scale_mm_is_nan_and_px_twins_are_set():
    phantom = render_skin(px_per_mm=25.0, size_mm=(24.0, 24.0), n_lines=6, pore_density_per_cm2=0, seed=5)
    scaled = measure_wrinkles(phantom.rgb, px_per_mm=25.0).metrics
    m = measure_wrinkles(phantom.rgb).metrics
    assert math.isnan(m["wrinkle_length_mm_per_cm2"]) and math.isnan(m["wrinkle_mean_width_mm"])
    assert m["wrinkle_count"] == scaled["wrinkle_count"]
    # L_mm / A_cm2 = (L_px / s) / (A_px / s^2 / 100) = (L_px / A_px) * s * 100 at s = 25 px/mm
    mm_per_cm2 = m["wrinkle_length_px_per_mpx"] / 1e6 * 25.0 * 100.0
    assert mm_per_cm2 == pytest.approx(scaled["wrinkle_length_mm_per_cm2"], rel=1e-6)


def test_bad_input_raises_value_error():
    rgb = np.full((40, 40, 3), 0.6)
    with pytest.raises(ValueError):
        measure_wrinkles(rgb, mask=np.zeros((40, 40), bool))
    with pytest.raises(ValueError):
        measure_wrinkles(rgb[..., 0])
