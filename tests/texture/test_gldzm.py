"""GLDZM: border distances and hand-built zone distance matrices.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest

from texture.gldzm import GLDZM_FEATURES, border_distance, gldzm_features


def test_keys():
    assert list(gldzm_features(np.array([[1, 2], [2, 2]]))) == [f"gldzm_{name}" for name in GLDZM_FEATURES]


def test_border_distance_is_city_block_steps_to_outside():
    mask = np.ones((5, 5), bool)
    expected = np.array(
        [
            [1, 1, 1, 1, 1],
            [1, 2, 2, 2, 1],
            [1, 2, 3, 2, 1],
            [1, 2, 2, 2, 1],
            [1, 1, 1, 1, 1],
        ]
    )
    np.testing.assert_array_equal(border_distance(mask), expected)
    mask[2, 2] = False  # a hole is border too
    assert border_distance(mask)[2, 1] == 1 and border_distance(mask)[1, 1] == 2


def test_centre_zone_distance():
    image = np.ones((5, 5), dtype=int)
    image[2, 2] = 2  # zone {centre} at distance 3; the ring zone touches the border: distance 1
    features = gldzm_features(image)
    assert features["gldzm_small_distance_emphasis"] == pytest.approx((1 + 1 / 9) / 2)
    assert features["gldzm_large_distance_emphasis"] == pytest.approx((1 + 9) / 2)
    assert features["gldzm_zone_percentage"] == pytest.approx(2 / 25)
    assert features["gldzm_large_distance_high_grey_level_emphasis"] == pytest.approx((1 + 4 * 9) / 2)
    assert features["gldzm_zone_distance_variance"] == pytest.approx(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        gldzm_features(np.ones((3, 3)), mask=np.zeros((3, 3), bool))
