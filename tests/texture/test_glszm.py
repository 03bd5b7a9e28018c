"""GLSZM: zones against per-level 8-connected labelling, hand-counted zones.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest
from scipy import ndimage

from texture.glszm import GLSZM_FEATURES, glszm_features, grey_level_zones


def test_keys():
    assert list(glszm_features(np.array([[1, 2], [2, 2]]))) == [f"glszm_{name}" for name in GLSZM_FEATURES]


def test_zones_match_per_level_labelling():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 4, size=(20, 23))  # 0 = outside the mask
    _, zone_grey, zone_size = grey_level_zones(grey)
    expected = []
    for level in range(1, 4):
        labels, n = ndimage.label(grey == level, structure=np.ones((3, 3)))
        expected += [(level, s) for s in np.bincount(labels.ravel())[1:]]
    assert sorted(zip(zone_grey.tolist(), zone_size.tolist(), strict=True)) == sorted(
        (int(a), int(b)) for a, b in expected
    )


def test_diagonal_neighbours_form_one_zone():
    # 8-connectivity: the two 1s touch diagonally, so do the two 2s: two zones of size 2.
    features = glszm_features(np.array([[1, 2], [2, 1]]))
    assert features["glszm_small_zone_emphasis"] == pytest.approx(1 / 4)
    assert features["glszm_large_zone_emphasis"] == pytest.approx(4)
    assert features["glszm_zone_percentage"] == pytest.approx(2 / 4)
    assert features["glszm_grey_level_variance"] == pytest.approx(0.25)


def test_stack_is_slice_average():
    rng = np.random.default_rng(1)
    a, b = rng.integers(1, 4, size=(2, 10, 10))
    a[0, 0] = b[0, 0] = 3
    stack = glszm_features(np.stack([a, b]))
    fa, fb = glszm_features(a), glszm_features(b)
    assert stack == pytest.approx({k: (fa[k] + fb[k]) / 2 for k in stack})


def test_discretised_float_and_bad_input():
    image = np.array([[0.0, 0.1], [0.9, 1.0]])
    assert glszm_features(image, levels=2) == glszm_features(np.array([[1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="empty"):
        glszm_features(np.ones((3, 3)), mask=np.zeros((3, 3), bool))


def test_merged_stack_pools_the_zones_of_all_slices():
    a = np.array([[1, 1], [2, 2]])  # zones: (1, size 2), (2, size 2)
    b = np.array([[1, 2], [2, 2]])  # zones: (1, size 1), (2, size 3)
    merged = glszm_features(np.stack([a, b]), aggregation="merged")
    assert merged["glszm_small_zone_emphasis"] == pytest.approx((2 / 4 + 1 + 1 / 9) / 4)
    assert merged["glszm_zone_percentage"] == pytest.approx(4 / 8)
    with pytest.raises(ValueError, match="aggregation"):
        glszm_features(a, aggregation="slice_merged")


def test_one_large_flat_zone():
    features = glszm_features(np.ones((300, 300), dtype=int))
    assert features["glszm_large_zone_emphasis"] == pytest.approx(300.0**4)
    assert features["glszm_zone_percentage"] == pytest.approx(1 / 90000)
