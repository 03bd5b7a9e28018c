"""NGTDM: a hand-computed 3x3 neighbourhood and degenerate inputs.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest

from texture.ngtdm import NGTDM_FEATURES, ngtdm_features, ngtdm_vectors


def test_keys():
    assert list(ngtdm_features(np.array([[1, 2], [2, 2]]))) == [f"ngtdm_{name}" for name in NGTDM_FEATURES]


def test_hand_computed_centre_pixel():
    # Centre 2 among 1s: centre |2 - 1| = 1; corners |1 - 4/3| = 1/3; edges |1 - 6/5| = 1/5.
    grey = np.ones((3, 3), dtype=np.int64)
    grey[1, 1] = 2
    n, s = ngtdm_vectors(grey, np.ones((3, 3), bool), 2)
    np.testing.assert_allclose(n, [8, 1])
    np.testing.assert_allclose(s, [4 / 3 + 4 / 5, 1])
    features = ngtdm_features(grey)
    p = np.array([8, 1]) / 9
    assert features["ngtdm_coarseness"] == pytest.approx(1 / (p @ s))
    assert features["ngtdm_contrast"] == pytest.approx(2 * p[0] * p[1] / 2 * s.sum() / 9)
    assert features["ngtdm_busyness"] == pytest.approx((p @ s) / (2 * abs(p[0] - 2 * p[1])))
    assert features["ngtdm_strength"] == pytest.approx(2 * (p[0] + p[1]) / s.sum())


def test_mask_limits_neighbours_and_isolated_pixels_are_left_out():
    grey = np.array([[1, 9, 2, 2]])
    mask = np.array([[True, False, True, True]])
    n, s = ngtdm_vectors(np.where(mask, grey, 0), mask, 9)
    assert n.sum() == 2  # the isolated first pixel has no neighbour in the mask
    assert s.sum() == 0


def test_flat_image_conventions():
    features = ngtdm_features(np.full((6, 6), 3))
    assert features["ngtdm_coarseness"] == 1e6
    assert features["ngtdm_contrast"] == 0 and features["ngtdm_busyness"] == 0
    assert features["ngtdm_strength"] == 0


def test_bad_input():
    lonely = np.zeros((5, 5), bool)
    lonely[0, 0] = lonely[3, 3] = True
    with pytest.raises(ValueError, match="neighbour"):
        ngtdm_features(np.ones((5, 5), dtype=int), mask=lonely)
