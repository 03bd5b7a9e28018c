"""First-order features against scipy/numpy statistics and hand-counted histograms.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest
from scipy import stats

from texture.firstorder import INTENSITY_HISTOGRAM, INTENSITY_STATISTICS, firstorder_features


def test_keys():
    features = firstorder_features(np.array([[1, 2], [3, 3]]))
    assert list(features) == [f"firstorder_{name}" for name in INTENSITY_STATISTICS + INTENSITY_HISTOGRAM]


def test_statistics_match_scipy_on_random_intensities():
    rng = np.random.default_rng(0)
    image = rng.gamma(2.0, 10.0, size=(60, 70))
    mask = rng.random(image.shape) > 0.4
    x = image[mask]
    f = firstorder_features(image, mask=mask, levels=16)
    assert f["firstorder_mean_intensity"] == pytest.approx(x.mean())
    assert f["firstorder_intensity_variance"] == pytest.approx(x.var())
    assert f["firstorder_intensity_skewness"] == pytest.approx(stats.skew(x))
    assert f["firstorder_excess_intensity_kurtosis"] == pytest.approx(stats.kurtosis(x))
    assert f["firstorder_median_intensity"] == pytest.approx(np.median(x))
    assert f["firstorder_intensity_interquartile_range"] == pytest.approx(stats.iqr(x))
    assert f["firstorder_intensity_based_energy"] == pytest.approx((x**2).sum())
    assert f["firstorder_root_mean_square_intensity"] == pytest.approx(np.sqrt((x**2).mean()))
    assert f["firstorder_intensity_based_coefficient_of_variation"] == pytest.approx(x.std() / x.mean())


def test_histogram_features_on_hand_counted_levels():
    # Levels 1 x4, 2 x1, 3 x0, 4 x3: histogram (4, 1, 0, 3).
    image = np.array([[1, 1, 1, 1, 2, 4, 4, 4]])
    f = firstorder_features(image)
    assert f["firstorder_intensity_histogram_mode"] == 1
    assert f["firstorder_discretised_intensity_uniformity"] == pytest.approx((16 + 1 + 9) / 64)
    p = np.array([4, 1, 3]) / 8
    assert f["firstorder_discretised_intensity_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    # Gradient: H(2)-H(1) = -3, (H(3)-H(1))/2 = -2, (H(4)-H(2))/2 = 1, H(4)-H(3) = 3.
    assert f["firstorder_minimum_histogram_gradient"] == -3
    assert f["firstorder_minimum_histogram_gradient_intensity"] == 1
    assert f["firstorder_maximum_histogram_gradient"] == 3
    assert f["firstorder_maximum_histogram_gradient_intensity"] == 4
    assert f["firstorder_mean_discretised_intensity"] == pytest.approx(18 / 8)


def test_robust_mad_uses_10th_to_90th_percentile():
    x = np.arange(1.0, 101.0)
    f = firstorder_features(x[None, :], levels=10)
    p10, p90 = np.percentile(x, [10, 90])
    kept = x[(x >= p10) & (x <= p90)]
    assert f["firstorder_intensity_based_robust_mean_absolute_deviation"] == pytest.approx(
        np.abs(kept - kept.mean()).mean()
    )


def test_stack_pools_all_slices():
    rng = np.random.default_rng(1)
    stack = rng.integers(1, 9, size=(3, 10, 10))
    pooled = firstorder_features(stack.reshape(1, 30, 10))
    assert firstorder_features(stack) == pytest.approx(pooled)


def test_constant_roi_is_finite():
    f = firstorder_features(np.full((5, 5), 4.0), levels=8)
    assert all(np.isfinite(v) for v in f.values())
    assert f["firstorder_intensity_skewness"] == 0
    assert f["firstorder_intensity_variance"] == 0


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        firstorder_features(np.ones((3, 3)), mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="levels"):
        firstorder_features(np.full((3, 3), 0.5))
