"""GLRLM: run matrices against a brute-force line walk, hand-counted runs, invariances.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import numpy as np
import pytest

from texture.discretisation import IN_PLANE_OFFSETS
from texture.glrlm import GLRLM_FEATURES, glrlm_features, run_length_matrix


def _brute_force_runs(grey, offset):
    """Walk every line from its start pixel, counting maximal runs of equal non-zero values."""
    rows, cols = grey.shape
    dy, dx = offset
    counts = {}
    for r in range(rows):
        for c in range(cols):
            pr, pc = r - dy, c - dx  # previous pixel on the line
            if not grey[r, c]:
                continue
            if 0 <= pr < rows and 0 <= pc < cols and grey[pr, pc] == grey[r, c]:
                continue  # not the start of a run
            length, rr, cc = 0, r, c
            while 0 <= rr < rows and 0 <= cc < cols and grey[rr, cc] == grey[r, c]:
                length, rr, cc = length + 1, rr + dy, cc + dx
            counts[(grey[r, c], length)] = counts.get((grey[r, c], length), 0) + 1
    return counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_matrix_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    grey = rng.integers(1, 4, size=(9, 13))
    grey[rng.random(grey.shape) < 0.2] = 0  # outside the mask
    for offset in IN_PLANE_OFFSETS:
        matrix = run_length_matrix(grey, 3, offset)
        expected = np.zeros_like(matrix)
        for (level, length), n in _brute_force_runs(grey, offset).items():
            expected[level - 1, length - 1] = n
        np.testing.assert_array_equal(matrix, expected)


def test_keys():
    features = glrlm_features(np.array([[1, 2], [2, 2]]))
    assert list(features) == [f"glrlm_{name}" for name in GLRLM_FEATURES]


def test_all_distinct_levels_give_unit_runs():
    image = np.arange(1, 26).reshape(5, 5)  # every pixel its own level: every run has length 1
    features = glrlm_features(image)
    assert features["glrlm_short_runs_emphasis"] == 1.0
    assert features["glrlm_long_runs_emphasis"] == 1.0
    assert features["glrlm_run_percentage"] == 1.0
    assert features["glrlm_run_length_variance"] == pytest.approx(0.0, abs=1e-12)


def test_constant_square_known_values():
    # 4x4 constant: 0 and 90 degrees: 4 runs of 4; diagonals: runs 1, 2, 3, 4, 3, 2, 1.
    features = glrlm_features(np.ones((4, 4), dtype=int))
    rp_straight, rp_diagonal = 4 / 16, 7 / 16
    assert features["glrlm_run_percentage"] == pytest.approx((2 * rp_straight + 2 * rp_diagonal) / 4)
    lre_diagonal = (2 * (1 + 4 + 9) + 16) / 7
    assert features["glrlm_long_runs_emphasis"] == pytest.approx((2 * 16 + 2 * lre_diagonal) / 4)
    merged = glrlm_features(np.ones((4, 4), dtype=int), aggregation="slice_merged")
    assert merged["glrlm_run_percentage"] == pytest.approx((4 + 4 + 7 + 7) / (4 * 16))


def test_mask_breaks_runs():
    image = np.ones((1, 5), dtype=int)
    mask = np.array([[True, True, False, True, True]])
    features = glrlm_features(image, mask=mask)
    # Horizontal: two runs of 2 -> LRE 4; other directions have runs of 1 -> LRE 1.
    assert features["glrlm_long_runs_emphasis"] == pytest.approx((4 + 1 + 1 + 1) / 4)


def test_transpose_invariance():
    rng = np.random.default_rng(4)
    image = rng.integers(1, 5, size=(11, 17))
    assert glrlm_features(image.T) == pytest.approx(glrlm_features(image))


def test_bad_input():
    with pytest.raises(ValueError, match="aggregation"):
        glrlm_features(np.ones((3, 3), dtype=int), aggregation="3D")
    with pytest.raises(ValueError, match="empty"):
        glrlm_features(np.ones((3, 3)), mask=np.zeros((3, 3), bool))


def _brute_force_runs_nd(grey, offset):
    """n-D version of the line walk: runs start where the previous voxel differs or is outside."""
    shape = np.array(grey.shape)
    step = np.array(offset)
    counts = {}
    for p in np.ndindex(grey.shape):
        p = np.array(p)
        level = grey[tuple(p)]
        previous = p - step
        if not level:
            continue
        if ((previous >= 0) & (previous < shape)).all() and grey[tuple(previous)] == level:
            continue
        length, q = 0, p.copy()
        while ((q >= 0) & (q < shape)).all() and grey[tuple(q)] == level:
            length, q = length + 1, q + step
        counts[(level, length)] = counts.get((level, length), 0) + 1
    return counts


def test_volume_run_matrices_match_brute_force():
    from texture.discretisation import VOLUME_OFFSETS

    rng = np.random.default_rng(9)
    grey = rng.integers(1, 3, size=(3, 4, 5))
    grey[rng.random(grey.shape) < 0.15] = 0
    for offset in VOLUME_OFFSETS:
        matrix = run_length_matrix(grey, 2, offset)
        expected = np.zeros_like(matrix)
        for (level, length), n in _brute_force_runs_nd(grey, offset).items():
            expected[level - 1, length - 1] = n
        np.testing.assert_array_equal(matrix, expected, err_msg=str(offset))


def _reference_matrix(grey, n_levels, offset):
    """(Ng, longest side) run counts from the pixel-by-pixel line walk of ``_brute_force_runs``."""
    matrix = np.zeros((n_levels, max(grey.shape)))
    for (level, length), n in _brute_force_runs(grey, offset).items():
        matrix[level - 1, length - 1] = n
    return matrix


def _random_grey(rng, shape, n_levels, inside, blocky):
    """Random levels 1..n_levels, 0 outside a random mask; blocky images have long runs."""
    if blocky:  # constant 3x3 .. 5x5 blocks: runs up to the full side in every direction
        block = int(rng.integers(3, 6))
        coarse = rng.integers(1, n_levels + 1, size=(-(-shape[0] // block), -(-shape[1] // block)))
        grey = np.kron(coarse, np.ones((block, block), dtype=int))[: shape[0], : shape[1]]
    else:
        grey = rng.integers(1, n_levels + 1, size=shape)
    grey[rng.random(shape) >= inside] = 0
    return grey


SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (7, 16), (16, 7), (12, 12)]


@pytest.mark.parametrize("n_levels", [1, 2, 5, 32, 300])
@pytest.mark.parametrize("shape", SHAPES)
def test_run_matrix_equals_pixel_walk(shape, n_levels):
    # The fast 2D builder (level histogram for runs of 1, run ends for the others, transposed
    # buffers) against the line walk: every direction, masks from full to sparse, short and long
    # runs, uint8 and (300 levels) uint16 streams.
    rng = np.random.default_rng(sum(shape) * 1000 + n_levels)
    for inside in (1.0, 0.8, 0.3):
        for blocky in (False, True):
            grey = _random_grey(rng, shape, n_levels, inside, blocky)
            for offset in IN_PLANE_OFFSETS:
                np.testing.assert_array_equal(
                    run_length_matrix(grey, n_levels, offset),
                    _reference_matrix(grey, n_levels, offset),
                    err_msg=f"{offset}, inside {inside}, blocky {blocky}",
                )


def test_run_matrix_equals_pixel_walk_beyond_uint16():
    rng = np.random.default_rng(11)
    grey = rng.integers(65530, 65540, size=(6, 5))  # levels above 65535: int64 streams
    grey[rng.random(grey.shape) < 0.2] = 0
    for offset in IN_PLANE_OFFSETS:
        np.testing.assert_array_equal(
            run_length_matrix(grey, 65540, offset)[65529:], _reference_matrix(grey, 65540, offset)[65529:]
        )


@pytest.mark.parametrize("aggregation", ["averaged", "slice_merged", "direction_merged", "merged"])
def test_stack_features_equal_features_of_reference_matrices(aggregation):
    # glrlm_features reuses its buffers from slice to slice and drops the all-zero long-run
    # columns: its values must equal the IBSI formulas applied to the line walk's matrices.
    from texture.discretisation import (
        SIZE_MATRIX_FEATURES,
        aggregate_matrices,
        size_matrix_features,
        slice_average,
    )

    rng = np.random.default_rng(5)
    n_levels = 6
    stack = np.stack(
        [
            _random_grey(rng, (10, 13), n_levels, inside, blocky)
            for inside, blocky in [(1.0, True), (0.6, False)]
        ]
        + [np.zeros((10, 13), dtype=int)]  # a slice outside the mask: no runs, skipped
    )
    stack[0, 0, 0] = n_levels  # Ng is the largest level present
    mask = stack > 0
    matrices = np.array([[_reference_matrix(s, n_levels, o) for o in IN_PLANE_OFFSETS] for s in stack])
    n_pixels = np.repeat(mask.sum(axis=(1, 2))[:, None], 4, axis=1).astype(float)
    groups = zip(
        aggregate_matrices(matrices, aggregation), aggregate_matrices(n_pixels, aggregation), strict=True
    )
    expected = slice_average([size_matrix_features(m, n) for m, n in groups if n > 0])
    features = glrlm_features(np.where(mask, stack, 1), mask=mask, aggregation=aggregation)
    for generic, name in zip(SIZE_MATRIX_FEATURES[:16], GLRLM_FEATURES, strict=True):
        assert features[f"glrlm_{name}"] == pytest.approx(expected[generic], rel=1e-12), name
