"""GLCM: hand-countable phantoms, scikit-image agreement, invariances and bad input.

The IBSI digital phantom conformance is in test_ibsi_conformance.py.
"""

import cv2
import numpy as np
import pytest
from skimage.feature import graycomatrix, graycoprops

from texture.discretisation import IN_PLANE_OFFSETS, discretise
from texture.glcm import (
    GLCM_FEATURES,
    GLCM_MAP_FEATURES,
    features_from_matrices,
    glcm_features,
    glcm_map,
    glcm_matrices,
)

SKIMAGE_ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
# scikit-image property -> IBSI feature
SKIMAGE_TO_IBSI = {
    "contrast": "contrast",
    "dissimilarity": "dissimilarity",
    "homogeneity": "inverse_difference_moment",
    "ASM": "angular_second_moment",
    "correlation": "correlation",
}


def _assert_graycomatrix_counts(ours: np.ndarray, codes: np.ndarray) -> None:
    """Our four directions (0, 45, 90, 135 deg) against scikit-image's counts of 32-level ``codes``."""
    theirs = graycomatrix(codes, [1], SKIMAGE_ANGLES, levels=32, symmetric=True, normed=False)
    for ours_direction, skimage_angle in ((0, 0), (1, 3), (2, 2), (3, 1)):
        np.testing.assert_array_equal(ours[ours_direction], theirs[:, :, 0, skimage_angle])


def test_all_25_keys_in_ibsi_snake_case():
    features = glcm_features(np.array([[1, 2, 3], [3, 2, 1], [2, 2, 1]]))
    assert len(GLCM_FEATURES) == 25
    assert list(features) == [f"glcm_{name}" for name in GLCM_FEATURES]
    assert all(np.isfinite(v) for v in features.values())


@pytest.mark.parametrize("seed", [0, 1])
def test_matrices_match_brute_force_pair_count(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(1, 6, size=(9, 11))
    mask = rng.random(image.shape) > 0.25
    mask[0, 0] = True
    image[0, 0] = 5  # Ng = 5 whatever the draw
    for distance in (1, 2):
        matrices = glcm_matrices(image, mask, distance=distance)[0]
        for d, (dy, dx) in enumerate(IN_PLANE_OFFSETS):
            expected = np.zeros((5, 5))
            for r in range(9):
                for c in range(11):
                    r2, c2 = r + dy * distance, c + dx * distance
                    if 0 <= r2 < 9 and 0 <= c2 < 11 and mask[r, c] and mask[r2, c2]:
                        expected[image[r, c] - 1, image[r2, c2] - 1] += 1
                        expected[image[r2, c2] - 1, image[r, c] - 1] += 1
            np.testing.assert_array_equal(matrices[d], expected)


def _brute_force_counts(levels_image, mask, n_levels, distance):
    """Symmetric pair counts per direction by a loop over the pixels (grey levels 1..Ng)."""
    rows, cols = levels_image.shape
    expected = np.zeros((4, n_levels, n_levels))
    for d, (dy, dx) in enumerate(IN_PLANE_OFFSETS):
        for r in range(rows):
            for c in range(cols):
                r2, c2 = r + dy * distance, c + dx * distance
                if 0 <= r2 < rows and 0 <= c2 < cols and mask[r, c] and mask[r2, c2]:
                    i, j = levels_image[r, c] - 1, levels_image[r2, c2] - 1
                    expected[d, i, j] += 1
                    expected[d, j, i] += 1
    return expected


def _fixed_bin_number(image, mask, n_levels):
    """IBSI fixed bin number levels 1..Ng, written out here independently of the library."""
    values = image[mask].astype(np.float64)
    lo, hi = values.min(), values.max()
    if lo == hi:
        return np.ones(image.shape, dtype=np.int64)
    levels = np.floor(n_levels * (image.astype(np.float64) - lo) / (hi - lo)).astype(np.int64) + 1
    return np.clip(levels, 1, n_levels)


@pytest.mark.parametrize("input_kind", ["uint8 levels", "uint8 fixed bins", "int64 levels"])
@pytest.mark.parametrize("n_levels", [2, 7, 32, 250, 255])
def test_byte_pair_counting_matches_brute_force(monkeypatch, input_kind, n_levels):
    # 8-bit images with Ng <= 255 (and integer codes that fit a byte) are counted as 16-bit words of
    # byte pairs, in bands of rows: equal to a loop over the pixels for shapes down to one row or
    # column, odd widths, sparse masks, distances 1-3, bands of 1 row, a few rows or the whole
    # slice. Codes Ng..255 are the sentinels (outside the mask): 8 of them for Ng <= 248, one for
    # Ng = 255, the largest the byte pairs take. 8-bit
    # images are discretised by a lookup table, or a bit shift when that gives the same codes.
    import texture.glcm as glcm

    rng = np.random.default_rng(n_levels)
    shapes = [(1, 9), (9, 1), (2, 2), (7, 10), (8, 13), (13, 6)]
    checked = 0
    for shape in shapes:
        for fraction_out in (0.0, 0.3, 0.7):
            mask = rng.random(shape) >= fraction_out
            mask.flat[0] = True
            if input_kind == "uint8 fixed bins":
                image = rng.integers(0, 256, size=shape).astype(np.uint8)
                if fraction_out == 0.0:
                    # Full range 0..255: into 2 or 32 levels the codes are value >> 7 or >> 3.
                    image.flat[:2] = (0, 255)
                expected_levels = _fixed_bin_number(image, mask, n_levels)
                kwargs = {"levels": n_levels}
                matrix_size = n_levels
            else:
                expected_levels = rng.integers(1, n_levels + 1, size=shape)
                expected_levels.flat[0] = n_levels  # Ng = n_levels whatever the draw
                image = expected_levels.astype(np.uint8 if input_kind == "uint8 levels" else np.int64)
                kwargs = {}
                matrix_size = n_levels
            for distance in (1, 2, 3):
                expected = _brute_force_counts(expected_levels, mask, matrix_size, distance)
                # Byte pairs forced (these images are below the size they pay off from, the triples
                # off) in bands of the whole slice, one row, a few rows; then the path the size
                # picks (triples, 2D calcHist).
                monkeypatch.setattr(glcm, "_TRIPLE_MAX_LEVELS", 0)
                monkeypatch.setattr(glcm, "_BYTE_PAIR_MIN_PIXELS", 0)
                monkeypatch.setattr(glcm, "_BYTE_PAIR_PIXELS_PER_BIN", 0)
                for band_pixels in (2**21, 1, 20):
                    monkeypatch.setattr(glcm, "_BAND_PIXELS", band_pixels)
                    counts = glcm_matrices(image, mask, distance=distance, **kwargs)[0]
                    np.testing.assert_array_equal(counts, expected)
                    checked += 1
                monkeypatch.undo()
                counts = glcm_matrices(image, mask, distance=distance, **kwargs)[0]
                np.testing.assert_array_equal(counts, expected)
    assert checked == len(shapes) * 3 * 3 * 3


def test_byte_pair_counts_equal_skimage_graycomatrix(monkeypatch):
    # scikit-image's own counts (symmetric, not normalised) of a smooth 32-level texture large
    # enough for the byte pairs (600 x 520: checked that they ran) and of small noise (byte pairs
    # forced). Its angle pi/4 steps (+1, +1) in (row, col), i.e. our 135 degrees, and 3 pi/4 our 45.
    # The triples, which 32 levels at this size would take, are off (tested below).
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_MAX_LEVELS", 0)
    rng = np.random.default_rng(21)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(600, 520)), axis=0), axis=1)
    smooth = np.floor(32 * (smooth - smooth.min()) / np.ptp(smooth)).clip(0, 31).astype(np.uint8)
    noise = rng.integers(0, 32, size=(97, 64)).astype(np.uint8)
    calls = []
    original = glcm._byte_pair_stack
    monkeypatch.setattr(glcm, "_byte_pair_stack", lambda *args: calls.append(1) or original(*args))
    for codes, forced in ((smooth, False), (noise, True)):
        if forced:
            monkeypatch.setattr(glcm, "_BYTE_PAIR_MIN_PIXELS", 0)
            monkeypatch.setattr(glcm, "_BYTE_PAIR_PIXELS_PER_BIN", 0)
        codes[0, 0] = 31
        _assert_graycomatrix_counts(glcm_matrices(codes + 1)[0], codes)
    assert len(calls) == 2


def _count_triple_calls(monkeypatch):
    """Records the arguments of each triple count: (source, table, mask, Ng, codes used, distance)."""
    import texture.glcm as glcm

    calls = []
    original = glcm._triple_stack
    monkeypatch.setattr(glcm, "_triple_stack", lambda *args: calls.append(args) or original(*args))
    return calls


def _edge_mask(shape, edges):
    inside = np.ones(shape, bool)
    if edges == "top right":  # the rows and columns whose pairs the triples miss
        inside[0], inside[:, -1] = False, False
        inside[-1, 0] = True
    else:
        inside[-1], inside[:, 0] = False, False
        inside[0, -1] = True
    return inside


@pytest.mark.parametrize(
    "input_kind", ["uint8 levels", "uint8 fixed bins", "uint8 full range", "int64 levels"]
)
@pytest.mark.parametrize("n_levels", [1, 2, 7, 32, 64, 80])
def test_triple_counting_matches_brute_force(monkeypatch, input_kind, n_levels):
    # The triple histograms (forced: these images are below the size they pay off from; 80 levels
    # is above the levels they take by default) against a loop over the pixels: shapes down to
    # 2 x 2, odd and even widths, no mask, 30 % and 90 % out, whole edge rows and columns out,
    # distances 1 to 3. Distances not below both sides, and 1-pixel-wide images, go to the other
    # paths (same counts). 8-bit images are discretised by a lookup table, or by calcHist's own bins
    # when the codes are the values shifted right (full range 0..255 into 2**k levels), integer
    # images first.
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
    monkeypatch.setattr(glcm, "_TRIPLE_MAX_LEVELS", 80)
    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(200 + n_levels)
    expected_calls = 0
    for shape in [(2, 2), (4, 3), (3, 4), (7, 10), (8, 13), (13, 6), (1, 9), (9, 1)]:
        for masking in (None, 0.3, 0.9, "top right", "bottom left"):
            if masking is None or isinstance(masking, str):
                inside = np.ones(shape, bool) if masking is None else _edge_mask(shape, masking)
            else:
                inside = rng.random(shape) >= masking
                inside.flat[-1] = True  # never empty
            if input_kind.startswith("uint8 f"):
                image = rng.integers(0, 256, size=shape).astype(np.uint8)
                if input_kind == "uint8 full range":
                    inside.flat[:2] = True
                    image.flat[:2] = (0, 255)
                expected_levels = _fixed_bin_number(image, inside, n_levels)
                kwargs = {"levels": n_levels}
            else:
                expected_levels = rng.integers(1, n_levels + 1, size=shape)
                expected_levels[inside.nonzero()[0][0], inside.nonzero()[1][0]] = n_levels  # Ng
                image = expected_levels.astype(np.uint8 if input_kind == "uint8 levels" else np.int64)
                kwargs = {}
            mask = None if masking is None else inside
            for distance in (1, 2, 3):
                expected = _brute_force_counts(expected_levels, inside, n_levels, distance)
                counts = glcm_matrices(image, mask, distance=distance, **kwargs)[0]
                np.testing.assert_array_equal(counts, expected)
                expected_calls += distance < min(shape)
    assert len(calls) == expected_calls
    kinds = {type(args[1]) for args in calls}
    if input_kind == "int64 levels":
        assert kinds == {type(None)}
    elif (
        input_kind == "uint8 full range"
        and n_levels in (2, 32, 64)
        or input_kind == "uint8 levels"
        and n_levels <= 2
    ):
        assert kinds == {int}  # code = value >> 7, 3, 2; levels 1..2 (or 1) -> value >> 1
    elif input_kind == "uint8 levels":
        assert kinds == {np.ndarray}


@pytest.mark.parametrize("n_levels", [2, 60, 255])
def test_triples_count_only_the_codes_used(monkeypatch, n_levels):
    # 8-bit grey levels (levels=None) that inside the mask occupy only lowest..Ng (skin L* at one
    # unit per level: Ng ~100, 20-45 levels occupied): the histograms span the codes used, placed
    # at their offset in the (Ng, Ng) matrices. Against a loop over the pixels, with lower levels
    # outside the mask, unmasked, distances 1 and 2; all 2s is Ng = 2 with codes 1..1 (a bit shift).
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(300 + n_levels)
    checked = 0
    for lowest in sorted({max(1, n_levels - 63), max(1, n_levels - 9), n_levels}):
        for shape in [(2, 2), (7, 10), (13, 6)]:
            for masking in (None, 0.3, "top right"):
                if masking is None or isinstance(masking, str):
                    inside = np.ones(shape, bool) if masking is None else _edge_mask(shape, masking)
                else:
                    inside = rng.random(shape) >= masking
                    inside.flat[-1] = True
                levels_image = rng.integers(lowest, n_levels + 1, size=shape)
                rows, cols = inside.nonzero()
                levels_image[rows[-1], cols[-1]] = lowest
                levels_image[rows[0], cols[0]] = n_levels  # Ng
                levels_image[~inside] = rng.integers(1, lowest + 1, size=(~inside).sum())
                image = levels_image.astype(np.uint8)
                mask = None if masking is None else inside
                for distance in (1, 2):
                    expected = _brute_force_counts(levels_image, inside, n_levels, distance)
                    counts = glcm_matrices(image, mask, distance=distance)[0]
                    np.testing.assert_array_equal(counts, expected)
                    checked += distance < min(shape)
    assert len(calls) == checked
    used = {tuple(args[4]) for args in calls}
    assert any(first > 0 for first, _ in used)
    assert all(last == n_levels - 1 for _, last in used)
    if n_levels == 2:
        assert (1, 1) in used and {type(args[1]) for args in calls if tuple(args[4]) == (1, 1)} == {int}


@pytest.mark.parametrize("masked", [False, True])
def test_triple_counting_in_row_bands_matches_brute_force(monkeypatch, masked):
    # calcHist counts in float32, exact up to 2**24: the triples and pairs are counted in bands of
    # rows of at most that many. A tiny limit (not below the width, which the triples need) exercises
    # the same code (bands of 1 row, of 2 and 3 rows with a partial last band, one band) against a
    # loop over the pixels, distances 1 and 2.
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(8)
    image = rng.integers(1, 6, size=(11, 9)).astype(np.uint8)
    image[5, 5] = 5
    mask = rng.random(image.shape) > 0.3 if masked else np.ones(image.shape, bool)
    mask[5, 5] = True
    for distance in (1, 2):
        expected = _brute_force_counts(image, mask, 5, distance)
        for limit in (9, 16, 25, 2**24):
            monkeypatch.setattr(glcm, "_CALCHIST_MAX_PAIRS", limit)
            np.testing.assert_array_equal(glcm_matrices(image, mask, distance=distance)[0], expected)
    assert len(calls) == 8


def test_triple_counts_above_2_24_pairs_are_exact():
    # A flat 4100 x 4100 image: more than 2**24 triples all in one bin, an odd count that float32
    # cannot hold (16 801 801 would round to an even number) unless counted in bands.
    rows = cols = 4100
    counts = glcm_matrices(np.ones((rows, cols), dtype=np.uint8))[0, :, 0, 0]
    diagonal = 2 * (rows - 1) * (cols - 1)
    np.testing.assert_array_equal(counts, [2 * rows * (cols - 1), diagonal, 2 * (rows - 1) * cols, diagonal])


def test_triple_counts_equal_skimage_graycomatrix(monkeypatch):
    # The default path of a 32-level 8-bit texture of 600 x 520 (checked that it is the triples), and
    # the triples forced on small noise and on a flat image, against scikit-image's own counts
    # (symmetric, not normalised). Its angle pi/4 is our 135 degrees and 3 pi/4 our 45.
    import texture.glcm as glcm

    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(22)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(600, 520)), axis=0), axis=1)
    smooth = np.floor(32 * (smooth - smooth.min()) / np.ptp(smooth)).clip(0, 31).astype(np.uint8)
    noise = rng.integers(0, 32, size=(97, 64)).astype(np.uint8)
    flat = np.full((40, 33), 31, dtype=np.uint8)  # one bin counted over and over
    for codes, forced in ((smooth, False), (noise, True), (flat, True)):
        if forced:
            monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
        codes[0, 0] = 31
        _assert_graycomatrix_counts(glcm_matrices(codes + 1)[0], codes)
    assert len(calls) == 3


@pytest.mark.parametrize("n_levels", [8, 32, 48])
def test_triples_on_a_real_photo_equal_byte_pairs_and_skimage(monkeypatch, n_levels):
    # A dermoscopy photo (CC0, tests/data/dermoscopy), grey 767 x 1022: large enough for the triples
    # by default (checked). Unmasked, distance 1: scikit-image's counts. Masked to its darker 70 %
    # (a lesion-like region with ragged edges), distances 1 and 2: the byte pairs' counts (triples
    # off), and bit-identical features.
    import texture.glcm as glcm

    from ._photos import load

    grey = cv2.cvtColor((load("ISIC_0000000") * 255).round().astype(np.uint8), cv2.COLOR_RGB2GRAY)
    mask = grey < np.percentile(grey, 70)
    calls = _count_triple_calls(monkeypatch)
    byte_pair_calls = []
    original = glcm._byte_pair_stack
    monkeypatch.setattr(glcm, "_byte_pair_stack", lambda *a: byte_pair_calls.append(1) or original(*a))
    ours = glcm_matrices(grey, levels=n_levels)[0]
    codes, _ = discretise(grey, mask=np.ones(grey.shape, bool), levels=n_levels)
    theirs = graycomatrix(codes, [1], SKIMAGE_ANGLES, levels=n_levels, symmetric=True, normed=False)
    for ours_direction, skimage_angle in ((0, 0), (1, 3), (2, 2), (3, 1)):
        np.testing.assert_array_equal(ours[ours_direction], theirs[:, :, 0, skimage_angle])
    for distance in (1, 2):
        triple_counts = glcm_matrices(grey, mask, levels=n_levels, distance=distance)
        triple_features = glcm_features(grey, mask=mask, levels=n_levels, distance=distance)
        with monkeypatch.context() as patch:
            patch.setattr(glcm, "_TRIPLE_MAX_LEVELS", 0)
            np.testing.assert_array_equal(
                triple_counts, glcm_matrices(grey, mask, levels=n_levels, distance=distance)
            )
            assert triple_features == glcm_features(grey, mask=mask, levels=n_levels, distance=distance)
    assert len(calls) == 5 and len(byte_pair_calls) == 4


@pytest.mark.parametrize("name", ["ISIC_0000000", "ISIC_0000046"])
def test_triples_on_skin_lightness_equal_byte_pairs(monkeypatch, name):
    # The photo assay's GLCM input: L* at one unit per level (IBSI fixed bin width, levels 1..101)
    # of a dermoscopy photo, masked to its skin (L* above its 40th percentile, ragged edges): Ng is
    # ~100 but the skin occupies ~15-45 levels, which the triples count. Same counts as the byte
    # pairs (triples off), bit-identical features, distances 1 and 2.
    from skimage.color import rgb2lab

    import texture.glcm as glcm

    from ._photos import load

    lightness = rgb2lab(load(name))[..., 0]
    codes = (np.floor(np.clip(lightness, 0, 100)) + 1).astype(np.uint8)
    skin = lightness > np.percentile(lightness, 40)
    calls = _count_triple_calls(monkeypatch)
    for distance in (1, 2):
        counts = glcm_matrices(codes, skin, distance=distance)
        features = glcm_features(codes, mask=skin, distance=distance)
        assert len(calls) == 2 * distance  # counts and features, triples on
        first, last = calls[-1][4]
        assert first > 40 and last - first + 1 <= 64
        with monkeypatch.context() as patch:
            patch.setattr(glcm, "_TRIPLE_MAX_LEVELS", 0)
            np.testing.assert_array_equal(counts, glcm_matrices(codes, skin, distance=distance))
            assert features == glcm_features(codes, mask=skin, distance=distance)
    assert len(calls) == 4


def _bincount_counts(levels_image, mask, n_levels, distance):
    """Symmetric pair counts per direction by numpy.bincount of the valid pairs (levels 1..Ng)."""
    rows, cols = levels_image.shape
    expected = np.zeros((4, n_levels, n_levels))
    for d, (dy, dx) in enumerate(IN_PLANE_OFFSETS):
        dy, dx = dy * distance, dx * distance
        a = (slice(max(0, -dy), rows - max(0, dy)), slice(max(0, -dx), cols - max(0, dx)))
        b = (slice(max(0, dy), rows + min(0, dy)), slice(max(0, dx), cols + min(0, dx)))
        valid = mask[a] & mask[b]
        index = (levels_image[a][valid] - 1) * n_levels + levels_image[b][valid] - 1
        counts = np.bincount(index, minlength=n_levels * n_levels).reshape(n_levels, n_levels)
        expected[d] = counts + counts.T
    return expected


@pytest.mark.parametrize("n_levels", [80, 252, 253, 255])
def test_masked_mid_size_slices_equal_a_bincount(n_levels):
    # Too many levels for the triples, too few pixels for the byte pairs: the 2D calcHist counts
    # codes with sentinels outside the mask (Ng <= 252; calcHist's own mask was 5x slower) or, for
    # Ng 253..255, with calcHist's mask. A disk and a 30 % random mask of 300 x 280, distances 1, 2.
    rng = np.random.default_rng(n_levels)
    levels_image = rng.integers(1, n_levels + 1, size=(300, 280))
    yy, xx = np.mgrid[:300, :280]
    for mask in ((yy - 150) ** 2 + (xx - 140) ** 2 < 120**2, rng.random((300, 280)) > 0.3):
        levels_image[mask.nonzero()[0][0], mask.nonzero()[1][0]] = n_levels
        for distance in (1, 2):
            expected = _bincount_counts(levels_image, mask, n_levels, distance)
            counts = glcm_matrices(levels_image.astype(np.uint8), mask, distance=distance)[0]
            np.testing.assert_array_equal(counts, expected)


def test_triple_dispatch_by_size_levels_and_distance(monkeypatch):
    # The triples run from (S + 1)^3 pixels, S <= 64 the levels used (8-bit images: from the lowest
    # to the highest grey level in the mask; others: Ng), for distances below both sides, in 2D
    # only; other images go to the byte pairs or the 2D calcHist, with the same counts.
    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(6)
    image = rng.integers(0, 256, size=(300, 300)).astype(np.uint8)  # 90 000 pixels
    glcm_matrices(image, levels=8)
    glcm_matrices(image, levels=40)  # 41^3 = 68 921 <= 90 000
    glcm_matrices(image, distance=299, levels=8)
    assert len(calls) == 3
    glcm_matrices(image, levels=44)  # 45^3 = 91 125 > 90 000
    glcm_matrices(image, distance=300, levels=8)
    glcm_matrices(image[None].repeat(2, axis=0), levels=8, volume=True)
    assert len(calls) == 3
    large = rng.integers(0, 256, size=(560, 560)).astype(np.uint8)  # 313 600 >= 65^3 = 274 625
    glcm_matrices(large, levels=64)
    assert len(calls) == 4
    counts_65 = glcm_matrices(large, levels=65)[0]
    assert len(calls) == 4
    np.testing.assert_array_equal(counts_65[0].sum(), 2 * 560 * 559)
    # Ng = 100 with levels 71..100 used (30: 31^3 = 29 791 <= 90 000): triples; 41..100 (60:
    # 61^3 > 90 000) not.
    narrow = rng.integers(71, 101, size=(300, 300)).astype(np.uint8)
    narrow[0, :2] = (71, 100)
    wide = narrow - 30
    wide[0, 1] = 100
    assert glcm_matrices(narrow).shape[-1] == 100
    assert len(calls) == 5 and tuple(calls[-1][4]) == (70, 99)
    np.testing.assert_array_equal(glcm_matrices(wide, distance=2)[0, :, :40], 0)  # levels 1..40 unused
    assert len(calls) == 5
    column = rng.integers(1, 9, size=(70_000, 1)).astype(np.uint8)
    column[0] = 8
    counts = glcm_matrices(column)[0]
    assert len(calls) == 5
    expected_vertical = np.zeros((8, 8))
    np.add.at(expected_vertical, (column[1:, 0] - 1, column[:-1, 0] - 1), 1)
    np.testing.assert_array_equal(counts[2], expected_vertical + expected_vertical.T)
    assert not counts[[0, 1, 3]].any()


def test_triples_of_a_stack_with_empty_slice_and_non_contiguous_input(monkeypatch):
    # A stack whose middle slice lies entirely outside the mask (zero counts there), read through a
    # strided view (a channel of an interleaved array), distance 2.
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
    calls = _count_triple_calls(monkeypatch)
    rng = np.random.default_rng(5)
    interleaved = rng.integers(0, 256, size=(3, 20, 17, 3)).astype(np.uint8)
    image = interleaved[..., 1]
    mask = rng.random(image.shape) > 0.2
    mask[1] = False
    counts = glcm_matrices(image, mask, levels=16, distance=2)
    assert len(calls) == 1
    expected_levels = _fixed_bin_number(image, mask, 16)
    for z in range(3):
        expected = _brute_force_counts(expected_levels[z], mask[z], 16, 2)
        np.testing.assert_array_equal(counts[z], expected)
    assert not counts[1].any()


def test_all_masked_or_pairless_mask_raises_on_the_triple_path(monkeypatch):
    import texture.glcm as glcm

    monkeypatch.setattr(glcm, "_TRIPLE_PIXELS_PER_BIN", 0)
    calls = _count_triple_calls(monkeypatch)
    image = np.random.default_rng(7).integers(0, 256, size=(12, 12)).astype(np.uint8)
    with pytest.raises(ValueError, match="mask is empty"):
        glcm_features(image, mask=np.zeros(image.shape, bool), levels=8)
    isolated = np.zeros(image.shape, bool)
    isolated[::2, ::2] = True  # no two mask pixels at distance 1
    with pytest.raises(ValueError, match="no pair"):
        glcm_features(image, mask=isolated, levels=8)
    assert len(calls) == 1
    # At distance 2 the same mask has pairs in every direction.
    features = glcm_features(image, mask=isolated, levels=8, distance=2)
    assert all(np.isfinite(v) for v in features.values())


@pytest.mark.parametrize("masked", [False, True])
def test_calchist_counted_in_row_bands_matches_brute_force(monkeypatch, masked):
    # 256 levels (no sentinel code left for the byte pairs): above 2**24 pairs the 2D calcHist path
    # counts in bands of rows; a tiny band limit exercises the same code (bands of 1 and 2 rows, a
    # partial last band) against a loop over the pixels.
    import texture.glcm as glcm

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(7, 10)).astype(np.uint8)
    image[0, :2] = (0, 255)  # levels=256 over 0..255: level = value + 1
    mask = rng.random(image.shape) > 0.3 if masked else np.ones(image.shape, bool)
    mask[0, :2] = True
    expected = _brute_force_counts(image.astype(np.int64) + 1, mask, 256, 1)
    for limit in (10, 20):
        monkeypatch.setattr(glcm, "_CALCHIST_MAX_PAIRS", limit)
        np.testing.assert_array_equal(glcm_matrices(image, mask, levels=256)[0], expected)


@pytest.mark.parametrize(("levels", "seed"), [(256, 0), (8, 1), (31, 2)])
def test_agrees_with_skimage_graycoprops(levels, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, levels, size=(120, 97)).astype(np.uint8)
    image[0, :2] = (0, levels - 1)  # full range: our level = value + 1, skimage's = value
    ours = glcm_features(image, levels=levels)
    matrices = graycomatrix(image, [1], SKIMAGE_ANGLES, levels=levels, symmetric=True, normed=True)
    for prop, name in SKIMAGE_TO_IBSI.items():
        expected = graycoprops(matrices, prop).mean()
        assert ours[f"glcm_{name}"] == pytest.approx(expected, rel=1e-9), prop


def test_smooth_image_agrees_with_skimage_correlation_near_one():
    yy, xx = np.mgrid[:64, :64]
    image = ((xx + yy) * 2).astype(np.uint8)
    ours = glcm_features(image + 1, levels=None)
    matrices = graycomatrix(image, [1], SKIMAGE_ANGLES, levels=256, symmetric=True, normed=True)
    assert ours["glcm_correlation"] == pytest.approx(graycoprops(matrices, "correlation").mean(), rel=1e-9)


def test_vertical_stripes_known_values():
    # Columns alternate 1, 2: horizontal and diagonal pairs always differ by 1, vertical never.
    image = np.tile([1, 2], (6, 3))
    averaged = glcm_features(image)
    assert averaged["glcm_contrast"] == pytest.approx(0.75)
    assert averaged["glcm_joint_average"] == pytest.approx(1.5)
    # Slice-merged: 3 of 4 directions' pairs differ; pair counts: horizontal 6*5, diagonals 5*5
    # each, vertical 5*6, so contrast = (30 + 25 + 25) / (30 + 25 + 25 + 30).
    merged = glcm_features(image, aggregation="slice_merged")
    assert merged["glcm_contrast"] == pytest.approx(80 / 110)


def test_constant_image_has_defined_values():
    features = glcm_features(np.full((8, 8), 3.0), levels=32)
    assert all(np.isfinite(v) for v in features.values())
    assert features["glcm_correlation"] == 1.0
    assert features["glcm_information_correlation_1"] == 0.0
    assert features["glcm_information_correlation_2"] == 0.0
    assert features["glcm_joint_maximum"] == 1.0
    assert features["glcm_angular_second_moment"] == 1.0
    assert features["glcm_joint_entropy"] == 0.0
    assert features["glcm_contrast"] == 0.0
    assert features["glcm_joint_average"] == 1.0
    features_ng1 = glcm_features(np.ones((5, 5), dtype=np.uint8))
    assert features_ng1["glcm_normalised_inverse_difference"] == 1.0


def test_rotation_and_transpose_invariance_of_averaged_features():
    rng = np.random.default_rng(5)
    image = rng.integers(1, 9, size=(30, 41))
    reference = glcm_features(image)
    for transformed in (image.T, np.rot90(image), image[::-1], image[:, ::-1]):
        result = glcm_features(transformed)
        for key, value in reference.items():
            assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_pixels_outside_mask_do_not_matter():
    rng = np.random.default_rng(6)
    image = rng.integers(1, 7, size=(20, 20))
    image[0, 0] = 6
    mask = np.zeros(image.shape, bool)
    mask[3:17, 2:15] = True
    mask[0, 0] = True  # isolated: contributes no pair, keeps Ng = 6
    altered = image.copy()
    altered[~mask] = rng.integers(1, 7, size=(~mask).sum())
    altered[0, 0] = 6
    assert glcm_features(image, mask=mask) == glcm_features(altered, mask=mask)


def test_float_image_with_levels_equals_its_integer_levels():
    rng = np.random.default_rng(7)
    k = rng.integers(0, 8, size=(25, 25))
    k[0, :2] = (0, 7)
    image = 0.1 * k + 3.0
    assert glcm_features(image, levels=8) == pytest.approx(glcm_features(k + 1))


def test_stack_averages_over_slices():
    rng = np.random.default_rng(8)
    a = rng.integers(1, 5, size=(12, 12))
    b = rng.integers(1, 5, size=(12, 12))
    a[0, 0] = b[0, 0] = 4
    stack = glcm_features(np.stack([a, b]))
    fa, fb = glcm_features(a), glcm_features(b)
    for key in stack:
        assert stack[key] == pytest.approx((fa[key] + fb[key]) / 2, rel=1e-12)


def test_direction_without_pairs_is_left_out():
    # One row: only the horizontal direction has pairs.
    image = np.array([[1, 2, 2, 1, 3]])
    features = glcm_features(image)
    horizontal = glcm_matrices(image)[0, 0]
    assert features["glcm_contrast"] == pytest.approx(
        (horizontal * (np.subtract.outer(np.arange(3), np.arange(3)) ** 2)).sum() / horizontal.sum()
    )


def test_bad_input():
    image = np.ones((6, 6), dtype=np.uint8)
    with pytest.raises(ValueError, match="empty"):
        glcm_features(image, mask=np.zeros((6, 6), bool))
    lonely = np.zeros((6, 6), bool)
    lonely[2, 2] = lonely[4, 5] = True
    with pytest.raises(ValueError, match="no pair"):
        glcm_features(image, mask=lonely)
    with pytest.raises(ValueError, match="aggregation"):
        glcm_features(image, aggregation="3D")
    with pytest.raises(ValueError, match="distance"):
        glcm_features(image, distance=0)
    with pytest.raises(ValueError, match="no pair"):  # the distance spans the image (was cv2.error)
        glcm_features(np.array([[1, 2], [2, 1]]), distance=3)
    with pytest.raises(ValueError, match="integer grey levels"):
        glcm_features(np.full((4, 4), 0.5) + np.eye(4))
    nan_image = np.ones((6, 6))
    nan_image[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        glcm_features(nan_image, levels=8)


# glcm_map ------------------------------------------------------------------------------------


def _window_reference(levels_image, mask, r, c, window, n_levels, merged=False):
    """IBSI 2D-averaged features of the window crop, from explicitly counted matrices."""
    half = window // 2
    r0, r1 = max(0, r - half), min(levels_image.shape[0], r + half + 1)
    c0, c1 = max(0, c - half), min(levels_image.shape[1], c + half + 1)
    crop, crop_mask = levels_image[r0:r1, c0:c1].copy(), mask[r0:r1, c0:c1]
    crop[~crop_mask] = 1
    matrices = glcm_matrices(crop, crop_mask)[0]
    padded = np.zeros((4, n_levels, n_levels))
    size = matrices.shape[-1]
    padded[:, :size, :size] = matrices
    if merged:
        padded = padded.sum(axis=0, keepdims=True)
    padded = padded[padded.sum(axis=(1, 2)) > 0]
    return {name: values.mean() for name, values in features_from_matrices(padded).items()}


@pytest.mark.parametrize(
    ("n_levels", "window", "rows", "aggregation"),
    [
        (8, 7, 26, "averaged"),
        (300, 5, 26, "averaged"),
        (6, 9, 300, "averaged"),
        (8, 7, 26, "slice_merged"),
        (6, 9, 300, "slice_merged"),
    ],
)
def test_map_equals_features_of_each_window(n_levels, window, rows, aggregation):
    # 300 rows: the map is computed in strips of 128 rows; check rows next to the seams too.
    rng = np.random.default_rng(11)
    image = rng.integers(1, n_levels + 1, size=(rows, 31))
    image[0, 0] = n_levels
    mask = rng.random(image.shape) > 0.15
    mask[0, 0] = True
    maps = glcm_map(image, window=window, levels=None, mask=mask, aggregation=aggregation)
    assert set(maps) == {f"glcm_{name}" for name in GLCM_MAP_FEATURES}
    checked = 0
    points = [(0, 0), (0, 30), (rows - 1, 0), (rows - 1, 30), (3, 4), (12, 15), (20, 9), (7, 28)]
    if rows > 256:
        points += [(125, 3), (127, 10), (128, 20), (130, 30), (255, 5), (256, 17), (259, 0)]
    for r, c in points:
        if not mask[r, c]:
            assert np.isnan(maps["glcm_contrast"][r, c])
            continue
        reference = _window_reference(
            image, mask, r, c, window, n_levels, merged=aggregation == "slice_merged"
        )
        for name in GLCM_MAP_FEATURES:
            assert maps[f"glcm_{name}"][r, c] == pytest.approx(reference[name], rel=1e-9, abs=1e-12), (
                name,
                r,
                c,
            )
        checked += 1
    assert checked >= 5


def test_map_of_discretised_float_image_and_constant_region():
    image = np.zeros((20, 20))
    image[:, 10:] = np.tile([0.0, 1.0], (20, 5))  # flat left half, stripes on the right
    maps = glcm_map(image, window=5, levels=2, features=["glcm_contrast", "correlation"])
    assert maps["glcm_contrast"][10, 3] == 0.0
    assert maps["glcm_correlation"][10, 3] == 1.0  # flat window: IBSI/skimage convention
    assert maps["glcm_contrast"][10, 15] == pytest.approx(0.75)  # as test_vertical_stripes


def test_map_bad_input():
    image = np.ones((10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match="joint_entropy"):
        glcm_map(image, window=5, levels=None, features=["joint_entropy"])
    with pytest.raises(ValueError, match="odd"):
        glcm_map(image, window=4, levels=None)
    with pytest.raises(ValueError, match="2D"):
        glcm_map(np.ones((2, 10, 10)), window=5, levels=4)
    with pytest.raises(ValueError, match="empty"):
        glcm_map(image, window=5, levels=None, mask=np.zeros((10, 10), bool))


def test_25d_aggregations_reduce_to_2d_ones_for_one_slice():
    rng = np.random.default_rng(12)
    image = rng.integers(1, 6, size=(15, 16))
    assert glcm_features(image, aggregation="direction_merged") == pytest.approx(
        glcm_features(image, aggregation="averaged")
    )
    assert glcm_features(image, aggregation="merged") == pytest.approx(
        glcm_features(image, aggregation="slice_merged")
    )


def test_merged_stack_pools_pairs_of_all_slices():
    # Slice 0: horizontal stripes, slice 1: vertical stripes. Merged over everything, contrast is
    # the fraction of differing pairs among all pairs of both slices.
    a = np.tile([[1], [2]], (3, 6))  # 6x6, rows alternate
    stack = np.stack([a, a.T])
    merged = glcm_features(stack, aggregation="merged")
    # Per slice: differing pairs = vertical (5*6) + two diagonals (5*5 each); all = 110 pairs.
    assert merged["glcm_contrast"] == pytest.approx(80 / 110)
    direction_merged = glcm_features(stack, aggregation="direction_merged")
    # 0 and 90 degrees: half the pairs differ (30 of 60); diagonals: all differ.
    assert direction_merged["glcm_contrast"] == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)


def test_volume_matrices_match_brute_force_pair_count():
    from texture.discretisation import VOLUME_OFFSETS

    rng = np.random.default_rng(13)
    image = rng.integers(1, 4, size=(3, 5, 6))
    image[0, 0, 0] = 3
    mask = rng.random(image.shape) > 0.2
    mask[0, 0, 0] = True
    matrices = glcm_matrices(image, mask, volume=True)[0]
    assert matrices.shape == (13, 3, 3)
    for d, offset in enumerate(VOLUME_OFFSETS):
        expected = np.zeros((3, 3))
        for p in np.ndindex(image.shape):
            q = tuple(np.add(p, offset))
            if all(0 <= q[k] < image.shape[k] for k in range(3)) and mask[p] and mask[q]:
                expected[image[p] - 1, image[q] - 1] += 1
                expected[image[q] - 1, image[p] - 1] += 1
        np.testing.assert_array_equal(matrices[d], expected)
