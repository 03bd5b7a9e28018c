"""IBSI discretisation and the shared slice/direction helpers."""

import numpy as np
import pytest

from texture.discretisation import (
    IN_PLANE_OFFSETS,
    discretise,
    grey_level_image,
    line_stream,
    shifted_pair_views,
    size_matrix_features,
    validate_stack,
)


def _discretise_stack(image, mask, **kwargs):
    image, mask = validate_stack(image, mask)
    return discretise(image, mask=mask, **kwargs)


def test_8bit_full_range_256_levels_gives_value_plus_one():
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    image3, mask3 = validate_stack(image, None)
    codes, n_levels = discretise(image3, mask=mask3, levels=256)
    assert n_levels == 256
    np.testing.assert_array_equal(grey_level_image(codes, mask3)[0], image.astype(int) + 1)


def test_fixed_bin_number_formula_on_floats():
    # floor(4 (x - 0) / 2) = 0, 1, 2, 3, and the maximum goes to the top level (IBSI FBN).
    image = np.array([[0.0, 0.5, 1.0, 1.5, 2.0]])
    codes, n_levels = _discretise_stack(image, None, levels=4)
    assert n_levels == 4
    np.testing.assert_array_equal(codes[0, 0], [0, 1, 2, 3, 3])


def test_range_is_taken_inside_the_mask_only():
    image = np.array([[0.0, 10.0, 20.0, 1000.0]])
    mask = np.array([[True, True, True, False]])
    codes, _ = _discretise_stack(image, mask, levels=2)
    np.testing.assert_array_equal(codes[0, 0, :3], [0, 1, 1])


def test_integer_lookup_matches_float_formula():
    rng = np.random.default_rng(3)
    image = rng.integers(-500, 3000, size=(40, 50)).astype(np.int16)
    mask = rng.random(image.shape) > 0.3
    codes_int, _ = _discretise_stack(image, mask, levels=37)
    codes_float, _ = _discretise_stack(image.astype(float), mask, levels=37)
    np.testing.assert_array_equal(codes_int[0][mask], codes_float[0][mask])


def test_levels_none_keeps_integer_levels():
    image = np.array([[1, 3], [6, 2]], dtype=np.int16)
    codes, n_levels = _discretise_stack(image, None, levels=None)
    assert n_levels == 6
    np.testing.assert_array_equal(codes[0], image - 1)


def test_levels_none_rejects_non_integer_and_zero_levels():
    with pytest.raises(ValueError, match="integer grey levels"):
        _discretise_stack(np.array([[1.5, 2.0]]), None, levels=None)
    with pytest.raises(ValueError, match=">= 1"):
        _discretise_stack(np.array([[0, 2]]), None, levels=None)


def test_constant_roi_is_one_level():
    codes, n_levels = _discretise_stack(np.full((4, 4), 7.5), None, levels=32)
    assert n_levels == 32 and not codes.any()


@pytest.mark.parametrize("levels", [0, -3, 2.5, True])
def test_bad_levels(levels):
    with pytest.raises(ValueError, match="levels"):
        _discretise_stack(np.ones((3, 3)), None, levels=levels)


def test_validate_stack_errors():
    with pytest.raises(ValueError, match="2D"):
        validate_stack(np.zeros(5), None)
    with pytest.raises(ValueError, match="shape"):
        validate_stack(np.zeros((4, 4)), np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="empty"):
        validate_stack(np.zeros((4, 4)), np.zeros((4, 4), bool))
    image = np.zeros((4, 4))
    image[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        validate_stack(image, None)
    mask = np.ones((4, 4), bool)
    mask[0, 0] = False
    assert validate_stack(image, mask)[0].shape == (1, 4, 4)  # NaN outside the mask is fine


def test_shifted_pairs_are_neighbours_at_offset():
    grid = np.arange(20).reshape(4, 5)
    for dy, dx in IN_PLANE_OFFSETS:
        a, b = shifted_pair_views(grid, (dy, dx))
        rows, cols = np.divmod(a, 5)
        np.testing.assert_array_equal(b, (rows + dy) * 5 + cols + dx)


def test_line_stream_runs_follow_the_direction():
    grid = np.arange(1, 13).reshape(3, 4)
    for dy, dx in IN_PLANE_OFFSETS:
        stream = line_stream(grid, (dy, dx))
        np.testing.assert_array_equal(np.sort(stream[stream > 0]), np.arange(1, 13))
        # Consecutive non-zero entries are neighbours along (dy, dx) or its opposite.
        for a, b in zip(stream[:-1], stream[1:], strict=True):
            if a and b:
                (ra, ca), (rb, cb) = divmod(a - 1, 4), divmod(b - 1, 4)
                assert (rb - ra, cb - ca) in {(dy, dx), (-dy, -dx)}


def test_size_matrix_features_on_hand_counted_matrix():
    # Two runs: grey 1 length 1, grey 2 length 3.
    matrix = np.array([[1, 0, 0], [0, 0, 1]], dtype=float)
    f = size_matrix_features(matrix, n_units=4)
    assert f["small_emphasis"] == pytest.approx((1 + 1 / 9) / 2)
    assert f["large_emphasis"] == pytest.approx((1 + 9) / 2)
    assert f["high_grey_emphasis"] == pytest.approx((1 + 4) / 2)
    assert f["large_high_grey_emphasis"] == pytest.approx((1 + 36) / 2)
    assert f["percentage"] == pytest.approx(0.5)
    assert f["grey_variance"] == pytest.approx(0.25)
    assert f["size_variance"] == pytest.approx(1.0)
    assert f["entropy"] == pytest.approx(1.0)
    assert f["grey_non_uniformity"] == pytest.approx(1.0)
    assert f["normalised_size_non_uniformity"] == pytest.approx(0.5)


def test_too_many_levels_for_a_matrix_is_a_clear_error():
    image = np.arange(1, 5001).reshape(50, 100)
    codes, n_levels = _discretise_stack(image, None, levels=None)  # fine for first order
    assert n_levels == 5000
    with pytest.raises(ValueError, match="levels=N"):
        _discretise_stack(image, None, levels=None, max_levels=4096)


def test_nan_outside_mask_is_ignored_by_fixed_bin_number():
    image = np.array([[np.nan, 0.0, 1.0, 2.0]])
    mask = np.array([[False, True, True, True]])
    codes, _ = _discretise_stack(image, mask, levels=3)
    np.testing.assert_array_equal(codes[0, 0, 1:], [0, 1, 2])
