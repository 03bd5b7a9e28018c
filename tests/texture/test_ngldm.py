"""NGLDM: dependence counts against a brute-force neighbourhood walk, a hand-counted square.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest

from texture.ngldm import NGLDM_FEATURES, dependence_counts, ngldm_features


def test_keys():
    assert list(ngldm_features(np.array([[1, 2], [2, 2]]))) == [f"ngldm_{name}" for name in NGLDM_FEATURES]


def test_dependence_counts_match_brute_force():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 3, size=(8, 9))
    counts = dependence_counts(grey)
    for r in range(8):
        for c in range(9):
            if not grey[r, c]:
                continue
            expected = 1
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr or dc) and 0 <= rr < 8 and 0 <= cc < 9 and grey[rr, cc] == grey[r, c]:
                        expected += 1
            assert counts[r, c] == expected


def test_constant_square_known_values():
    # 3x3 constant: corners k = 4, edges k = 6, centre k = 9.
    features = ngldm_features(np.ones((3, 3), dtype=int))
    assert features["ngldm_low_dependence_emphasis"] == pytest.approx((4 / 16 + 4 / 36 + 1 / 81) / 9)
    assert features["ngldm_high_dependence_emphasis"] == pytest.approx((4 * 16 + 4 * 36 + 81) / 9)
    assert features["ngldm_dependence_count_percentage"] == 1.0
    assert features["ngldm_dependence_count_energy"] == pytest.approx((16 + 16 + 1) / 81)


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        ngldm_features(np.ones((3, 3)), mask=np.zeros((3, 3), bool))


def test_volume_dependence_counts_of_a_constant_cube():
    # 3x3x3 constant: centre 1 + 26; a corner 1 + 7; an edge middle 1 + 11; a face centre 1 + 17.
    counts = dependence_counts(np.ones((3, 3, 3), dtype=np.int64))
    assert counts[1, 1, 1] == 27 and counts[0, 0, 0] == 8
    assert counts[0, 0, 1] == 12 and counts[0, 1, 1] == 18
    features = ngldm_features(np.ones((3, 3, 3), dtype=int), aggregation="3d")
    assert features["ngldm_high_dependence_emphasis"] == pytest.approx(
        (8 * 64 + 12 * 144 + 6 * 324 + 729) / 27
    )
