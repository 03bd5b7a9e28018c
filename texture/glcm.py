"""IBSI grey-level co-occurrence matrix (GLCM) features, and sliding-window GLCM feature maps.

Definitions follow the IBSI reference manual, section 3.6 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html): symmetric matrices at Chebyshev
distance ``distance`` along the 4 in-plane directions, only pairs with both pixels in the mask,
entropies in bits (log2). Aggregations (IBSI section 3.6, "aggregating features"):

- ``"averaged"`` (IBSI "2D, averaged"): the 25 features of every (slice, direction) matrix, averaged.
- ``"slice_merged"`` (IBSI "2D, slice-merged"): the 4 direction matrices of a slice summed, features
  per slice, averaged over slices.
- ``"direction_merged"`` (IBSI "2.5D, direction-merged"): each direction's matrices summed over the
  slices, features per direction, averaged.
- ``"merged"`` (IBSI "2.5D, merged"): one matrix summed over all slices and directions.
- ``"3d_averaged"`` (IBSI "3D, averaged"): one matrix per direction of the 13 through the volume
  (Chebyshev distance in 3D, pairs across slices included), features averaged.
- ``"3d_merged"`` (IBSI "3D, merged"): the 13 direction matrices summed.

For a single 2D image "averaged" = "direction_merged" = "3d_averaged" and "slice_merged" =
"merged" = "3d_merged" (matrices without pairs are left out).

Matrices without any pair (e.g. the vertical direction of a one-row mask) are left out of the
average, as PyRadiomics does; if no matrix has a pair, ``ValueError``.

Pairs are counted as histograms. When the codes of a 2D slice span S <= 64 levels (8-bit images:
from the code of the lowest to that of the highest grey level in the mask; other images: Ng) and
the slice has at least (S + 1)^3 pixels, one 3D OpenCV ``calcHist`` of (pixel, right neighbour,
upper neighbour) triples holds 3 directions at once and one 2D ``calcHist`` the fourth: two
histogram increments per pixel instead of four (see "Triple counting" below). Otherwise, with
Ng <= 255 on a large enough 2D slice (from ~460 000 pixels at 100 levels), two neighbouring 8-bit
codes read as one 16-bit word, so that one 1D ``calcHist`` (IPP) counts a direction (see "Byte-pair
counting" below; 8-bit images are discretised band by band straight into the padded copy);
otherwise one 2D ``calcHist`` of two shifted views (smaller slices, Ng = 256; pixels outside the
mask get sentinel codes when Ng <= 252) or ``numpy.bincount`` (more levels, 3D), in bands of at
most 2**24 pairs. All give the same integer
counts (tested against a loop over the pixels and scikit-image's ``graycomatrix``). The features
come from the matrix's marginals (row, sum and difference distributions) in O(Ng^2), so the cost
is a few passes over the image whatever the number of features.

Grey levels: with ``levels=None`` Ng is the largest level inside the mask (as the IBSI phantom,
Ng = 6); Ng enters only the normalised inverse difference (moment). To keep Ng fixed across
images, pass ``levels=N`` (fixed bin number over the masked min-max; clip the image to a robust
range first if that is the range wanted).

Degenerate matrices (a constant ROI, Ng = 1 or all pairs on one level) give defined values, never
NaN: correlation = 1 (as scikit-image's ``graycoprops`` and PyRadiomics), information correlation
1 and 2 = 0 (PyRadiomics), all variances, cluster moments and entropies 0, joint maximum and
angular second moment 1.
"""

from __future__ import annotations

import functools
import sys

import cv2
import numpy as np

from texture._compat import positional_deprecated
from texture.discretisation import (
    IN_PLANE_OFFSETS,
    MAX_MATRIX_LEVELS,
    VOLUME_OFFSETS,
    aggregate_matrices,
    check_aggregation,
    discretise,
    shifted_pair_views,
    validate_stack,
)

#: The 25 IBSI GLCM features, in IBSI manual order (keys of :func:`glcm_features` without ``glcm_``).
GLCM_FEATURES: tuple[str, ...] = (
    "joint_maximum",
    "joint_average",
    "joint_variance",
    "joint_entropy",
    "difference_average",
    "difference_variance",
    "difference_entropy",
    "sum_average",
    "sum_variance",
    "sum_entropy",
    "angular_second_moment",
    "contrast",
    "dissimilarity",
    "inverse_difference",
    "normalised_inverse_difference",
    "inverse_difference_moment",
    "normalised_inverse_difference_moment",
    "inverse_variance",
    "correlation",
    "autocorrelation",
    "cluster_tendency",
    "cluster_shade",
    "cluster_prominence",
    "information_correlation_1",
    "information_correlation_2",
)

_AGGREGATIONS = (
    "averaged",
    "slice_merged",
    "direction_merged",
    "merged",
    "3d_averaged",
    "3d_merged",
)

# calcHist counts in float32, exact up to 2**24 pairs per matrix.
_CALCHIST_MAX_PAIRS = 2**24

# Pixels per band of rows in the byte-pair counting (bounded so that each calcHist call counts at
# most 2**24 pairs, exact in float32, and the interleaved copies of a band stay small).
_BAND_PIXELS = 2**21

# Triple counting (see "Triple counting" below) takes 2D slices whose codes span up to this many
# levels (its histogram of up to 68^3 int32 bins, 1.3 MB with the mask's sentinels, stays in the
# 2 MB L2 cache), from this many pixels per bin of that histogram (each calcHist call zeroes,
# converts and sums it). Measured against the byte pairs and the 2D calcHist (96^2..1024^2, smooth
# and uniform noise, 8..80 levels, unmasked, a disk mask and 30 % random out; one process, min of
# 7): 0.5-0.95x their time where the rule takes it, e.g. 32 levels on 1024^2 2.3 ms against 3.1
# ms, 64 levels 0.60-0.76x from 560^2; 80 levels 0.74-1.4x (not taken); below (S + 1)^3 pixels
# mixed (e.g. 64 levels on 128^2 1.3x).
_TRIPLE_MAX_LEVELS = 64
_TRIPLE_PIXELS_PER_BIN = 1

# Sentinel codes Ng .. Ng + 3 (cycling along the row) mark pixels outside the mask in the triple
# counting and the 2D calcHist (bins of their own, cut from the counts): with one sentinel a
# masked-out block increments one bin back to back, 2x slower (a disk mask with 52 % out, 1024^2, 32
# levels: 4.1 ms to count, 2.1 ms with 4 sentinels, which cost nothing on a 30 % random mask; 2:
# 2.5 ms, 3: 2.1 ms). A sentinel outside calcHist's range instead skips the pair but costs a
# mispredicted branch per pair on a random mask (7x slower).
_TRIPLE_SENTINELS = 4

# Byte-pair counting handles up to 255 levels: codes Ng..255 are left for the sentinels.
_MAX_BYTE_LEVELS = 255

# Byte pairs pay off from this many pixels per slice, plus this many per histogram bin (each
# calcHist call costs ~10 us at 4096 bins up to ~400 us at 65536): 2D calcHist below. Break-even
# measured on 128^2..1024^2 images, 8..255 levels, one thread (e.g. 32 levels: ~250 000 pixels).
_BYTE_PAIR_MIN_PIXELS = 2**17
_BYTE_PAIR_PIXELS_PER_BIN = 12

# Sentinel codes Ng, Ng + 1, ... (cycling along the row) mark pixels outside the mask and the padding
# column. Several of them: a run of identical words (a masked-out region) makes calcHist increment
# one bin back to back, 2-3x slower per word than varied words.
_SENTINEL_KINDS = 8

# Byte pairs read as one native uint16 are (first + 256 * second) on little-endian machines only.
_LITTLE_ENDIAN = sys.byteorder == "little"


def _pair_counts(
    codes: np.ndarray, mask: np.ndarray, full_mask: bool, n_levels: int, offset: tuple[int, ...]
) -> np.ndarray:
    """Symmetric co-occurrence counts (Ng, Ng) of one 2D slice (or volume) for one offset."""
    a, b = shifted_pair_views(codes, offset)
    if a.size == 0:
        return np.zeros((n_levels, n_levels))
    valid = None
    if not full_mask:
        ma, mb = shifted_pair_views(mask, offset)
        valid = ma & mb
    if codes.dtype == np.uint8 and codes.ndim == 2:
        # calcHist counts in float32 (exact up to 2**24), so larger images are counted in bands of
        # rows, each exact, summed in float64: identical counts, 3x faster than the int64 bincount
        # on a masked 24 MP image (0.76 s against 2.3 s for the 4 directions).
        band = max(1, _CALCHIST_MAX_PAIRS // max(1, a.shape[1]))
        counts = np.zeros((n_levels, n_levels))
        for top in range(0, a.shape[0], band):
            rows = slice(top, top + band)
            valid_u8 = None if valid is None else valid[rows].view(np.uint8)
            counts += cv2.calcHist(
                [a[rows], b[rows]], [0, 1], valid_u8, [n_levels, n_levels], [0, n_levels, 0, n_levels]
            )
    else:
        index = a.astype(np.int64) * n_levels + b
        index = index[valid] if valid is not None else index.reshape(-1)
        counts = np.bincount(index, minlength=n_levels * n_levels).astype(np.float64)
        counts = counts.reshape(n_levels, n_levels)
    return counts + counts.T


# Byte-pair counting (2D slices, Ng <= 255) -----------------------------------------------------
#
# Two neighbouring uint8 codes (a, b) stored next to each other in memory read as one uint16 word
# a + 256 b, so a direction's pair counts are a 1D histogram over such words: one calcHist call
# (OpenCV's IPP path for 1D histograms, about 2x faster per pair than its 2D histogram), reshaped
# to (codes, 256) and cut to (Ng, Ng). The words of a direction are read straight
# from the codes (horizontal pairs: the rows themselves, at even and odd byte offsets) or from one
# interleaved copy of two rows (cv2.merge of row r and row r - 1: even words are the vertical pairs,
# odd words the 135-degree pairs; of rows r - 1 and r: odd words are the 45-degree pairs). Codes
# outside the mask and one padding column per row hold a sentinel code >= Ng: the histogram spans
# every word that can occur (IPP is about 4x slower per word on values outside its range), and
# words with a sentinel byte land in rows or columns >= Ng, which are cut, so exactly the pairs
# with both pixels inside the mask and the image are counted. The image is processed in bands of
# rows, each with its own padded copy (8-bit images discretised straight into it by a lookup table
# or a bit shift).


def _sentinel_span(n_levels: int) -> int:
    """Codes 0 .. span - 1 occur in the padded copies: Ng levels and the sentinels."""
    return min(256, n_levels + _SENTINEL_KINDS)


def _word_histogram(buffer: np.ndarray, start: int, n_levels: int) -> np.ndarray:
    """Counts (Ng, Ng), [second byte, first byte], of the words buffer[start + 2k : start + 2k + 2]
    of a flat uint8 buffer (at most 2**24 words: exact in calcHist's float32)."""
    n_words = (buffer.size - start) // 2
    if n_words == 0:
        return np.zeros((n_levels, n_levels))
    span = _sentinel_span(n_levels)
    bins = 256 * span
    # One row of words: OpenCV runs IPP on one thread below 64 rows; its 2-thread stripes were up to
    # 3x slower when the other core was busy (shared machine).
    words = buffer[start : start + 2 * n_words].view(np.uint16).reshape(1, n_words)
    hist = cv2.calcHist([words], [0], None, [bins], [0, bins])
    return hist.reshape(span, 256)[:n_levels, :n_levels].astype(np.float64)


def _merged_rows(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Flat bytes first[0, 0], second[0, 0], first[0, 1], second[0, 1], ... of two equal arrays."""
    return cv2.merge([first, second]).reshape(-1)


def _padded_band(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    rows: slice,
    sentinels: np.ndarray,
) -> np.ndarray:
    """Codes of ``source[rows]`` (through ``table``: a 256-entry lookup table, a right shift by that
    many bits, or None for codes already) with ``sentinels`` (one per column, one more for the
    extra last column) outside ``mask`` and in the extra column."""
    block = source[rows]
    padded = np.empty((block.shape[0], block.shape[1] + 1), dtype=np.uint8)
    padded[:, -1] = sentinels[-1]
    inner = padded[:, :-1]
    if table is None:
        inner[...] = block
    elif isinstance(table, int):
        np.right_shift(block, table, out=inner)  # 3x faster than the lookup table
    else:
        _into(cv2.LUT(block, table, dst=inner), inner)
    if mask is not None:
        keep = np.negative(mask[rows].view(np.uint8))  # 255 inside the mask (wraps), 0 outside
        np.bitwise_and(inner, keep, out=inner)
        np.bitwise_or(inner, np.bitwise_and(~keep, sentinels[:-1]), out=inner)
    return padded


def _into(result: np.ndarray, dst: np.ndarray) -> None:
    # OpenCV writes into a compatible ``dst`` and returns it; copy in case it allocated instead.
    if result is not dst:
        dst[...] = result


def _band_counts(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    band: tuple[int, int],
    distance: int,
    n_levels: int,
) -> np.ndarray:
    """Counts (4, Ng, Ng), one order of each pair, of the pairs whose first pixel lies in rows
    ``band`` = (top, bottom) of the slice, for :data:`texture.discretisation.IN_PLANE_OFFSETS`."""
    top, bottom = band
    lead = min(top, distance)  # rows above the band that its upward pairs reach
    span = _sentinel_span(n_levels)
    sentinels = (n_levels + np.arange(source.shape[1] + 1) % (span - n_levels)).astype(np.uint8)
    padded = _padded_band(source, table, mask, slice(top - lead, bottom), sentinels)
    counts = np.zeros((4, n_levels, n_levels))
    width = padded.shape[1]
    # Row ``distance`` of ``padded`` is the first whose upward neighbours exist (in the slice).
    up_first = distance if padded.shape[0] > distance else None
    if distance == 1:
        own = padded[lead:].reshape(-1)
        counts[0] = _word_histogram(own, 0, n_levels) + _word_histogram(own, 1, n_levels)
        if up_first is not None:
            up = _merged_rows(padded[1:], padded[:-1])
            counts[2] = _word_histogram(up, 0, n_levels)
            counts[3] = _word_histogram(up, 1, n_levels)
            down = _merged_rows(padded[:-1], padded[1:])
            counts[1] = _word_histogram(down, 1, n_levels)
        return counts
    # Longer distances: one interleaved copy per direction, whose even words are the pairs.
    for d, (dy, dx) in enumerate(IN_PLANE_OFFSETS):
        dy, dx = dy * distance, dx * distance
        first = up_first if dy else lead
        if first is None or abs(dx) >= width:
            continue
        cols_a = slice(max(0, -dx), width - max(0, dx))
        cols_b = slice(max(0, dx), width + min(0, dx))
        pairs = _merged_rows(padded[first:, cols_a], padded[first + dy : padded.shape[0] + dy, cols_b])
        counts[d] = _word_histogram(pairs, 0, n_levels)
    return counts


def _byte_pair_counts(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    n_levels: int,
    distance: int,
) -> np.ndarray:
    """Symmetric counts (4, Ng, Ng) of one 2D slice, the same as :func:`_pair_counts` per direction.

    ``source`` holds uint8 codes (``table`` None) or 8-bit grey values that ``table`` maps to codes
    (see :func:`_padded_band`); ``mask`` None counts every pixel. Ng <= 255. One thread: bands on
    two threads were slower on the shared 2-core machine, whose other core is rarely idle.
    """
    rows, cols = source.shape
    band_rows = max(1, _BAND_PIXELS // (cols + 1))
    counts = np.zeros((4, n_levels, n_levels))
    for top in range(0, rows, band_rows):
        counts += _band_counts(source, table, mask, (top, min(rows, top + band_rows)), distance, n_levels)
    return counts + counts.transpose(0, 2, 1)


def _uint8_code_table(
    image: np.ndarray, mask: np.ndarray | None, levels: int | None
) -> tuple[np.ndarray | int, int, int, int] | None:
    """For an 8-bit stack: the table grey value -> code that :func:`discretise` applies, Ng, and the
    codes of the lowest and highest grey value inside the mask (the same codes, Ng and errors:
    ``discretise`` itself runs on the values lo..hi); None when the image is not 8-bit or Ng > 255.
    Values outside lo..hi (only outside the mask) get code 0. When the codes of lo..hi are the
    values shifted right by k bits, the table is the int k."""
    if image.dtype != np.uint8 or (isinstance(levels, (int, np.integer)) and levels > _MAX_BYTE_LEVELS):
        return None
    flat = image.reshape(-1, image.shape[-1])
    full_mask = mask is None or bool(mask.all())
    inside = None if full_mask else np.ascontiguousarray(mask.reshape(flat.shape)).view(np.uint8)
    lo, hi, _, _ = cv2.minMaxLoc(flat, inside)
    return _range_code_table(int(lo), int(hi), levels)


# Keyed by (lo, hi, levels) with their types (typed: levels=True must still raise, not hit 1's
# entry); ~0.1 ms saved per image, a few % of a 1024^2 GLCM. Tables are read-only.
@functools.lru_cache(maxsize=1024, typed=True)
def _range_code_table(lo: int, hi: int, levels: int | None) -> tuple[np.ndarray | int, int, int, int] | None:
    """:func:`_uint8_code_table` of an image whose grey values inside the mask span lo..hi."""
    values = np.arange(lo, hi + 1, dtype=np.uint8)
    codes, n_levels = discretise(
        values, mask=np.ones(values.shape, bool), levels=levels, max_levels=MAX_MATRIX_LEVELS
    )
    if n_levels > _MAX_BYTE_LEVELS:
        return None
    used = int(codes[0]), int(codes[-1])
    for bits in range(8):
        if np.array_equal(codes, values >> bits):
            return bits, n_levels, *used  # e.g. 0..255 into 32 levels: code = value >> 3
    table = np.zeros(256, dtype=np.uint8)  # values outside lo..hi lie outside the mask
    table[values] = codes
    table.flags.writeable = False
    return table, n_levels, *used


# Triple counting (2D slices whose codes span <= 64 levels) --------------------------------------
#
# With x = (r, c), its right neighbour b = (r, c + d) and its upper neighbour u = (r - d, c), the 3D
# histogram of the triples (x, b, u) holds three directions at once: its marginal over u is the
# 0-degree pairs (x, b), over b the 90-degree pairs (x, u), over x the pairs (b, u), i.e. pixel
# b with its neighbour at (-d, -d): 135 degrees. One 2D histogram adds the 45-degree pairs (x, (r - d,
# c + d)). The triples are read from three shifted views of the codes (no copy, no interleaving):
# calcHist takes each view with its own row step. The triples cover every 135-degree and 45-degree
# pair, but not the horizontal pairs of the first d rows nor the vertical pairs of the last d
# columns (their triple would reach outside the slice): two small 2D histograms add them. Pixels
# outside the mask hold a sentinel code (4 bins more per axis, cut), so a triple with one pixel
# outside still brings the pair of its other two. The histograms span only the codes that occur
# (first..last, from the grey range inside the mask), placed at their offset in the (Ng, Ng)
# matrices: e.g. skin L* at 1 unit per level has Ng ~100 but spans 20-45 levels. Measured on 32
# levels, 1024^2: 1.1 ms for the triples (3 directions), 0.85 ms for the 45-degree pairs, against
# ~3 ms for the four directions as byte pairs.


def _triple_pays(shape: tuple[int, int], distance: int, span: int) -> bool:
    """Whether the triples count a slice of ``shape`` whose codes span ``span`` levels."""
    rows, cols = shape
    return (
        span <= _TRIPLE_MAX_LEVELS
        and distance < min(rows, cols)  # the three views are not empty
        and cols <= _CALCHIST_MAX_PAIRS  # a band of one row stays exact in float32
        and rows * cols >= _TRIPLE_PIXELS_PER_BIN * (span + 1) ** 3
    )


def _band_histograms(views: list[np.ndarray], bins: int, span: tuple[int, int]):
    """calcHist of the code tuples of equal-shape, non-empty 2D uint8 views (values binned uniformly
    over [low, high) = ``span``, ``bins`` per axis), one float32 histogram per band of rows of at
    most 2**24 tuples: every count and every sum of counts of a band is an integer <= 2**24, exact in
    float32."""
    rows, cols = views[0].shape
    band = max(1, _CALCHIST_MAX_PAIRS // cols)
    n = len(views)
    for start in range(0, rows, band):
        band_views = [v[start : start + band] for v in views]
        yield cv2.calcHist(band_views, list(range(n)), None, [bins] * n, list(span) * n)


def _pair_histogram(first: np.ndarray, second: np.ndarray, bins: int, span: tuple[int, int]) -> np.ndarray:
    """Counts (bins, bins), float64, [first code, second code] of two equal-shape 2D views."""
    counts = np.zeros((bins, bins))
    for band in _band_histograms([first, second], bins, span):
        counts += band
    return counts


def _sentinel_codes(values: np.ndarray, mask: np.ndarray, n_codes: int) -> np.ndarray:
    """2D uint8 ``values`` inside ``mask`` (C-contiguous bool), sentinel codes n_codes .. n_codes +
    3 cycling along the row outside it (n_codes + 4 <= 256)."""
    codes = np.empty(values.shape, dtype=np.uint8)
    codes[...] = (n_codes + np.arange(values.shape[1]) % _TRIPLE_SENTINELS).astype(np.uint8)
    # cv2.copyTo: 0.14 ms on 1024^2, np.copyto(where=) 5.8 ms.
    _into(cv2.copyTo(values, mask.view(np.uint8), codes), codes)
    return codes


def _triple_counts(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    used: tuple[int, int],
    distance: int,
) -> np.ndarray:
    """Symmetric counts (4, S, S) of one 2D slice for the codes ``used`` = (first, last), S = last -
    first + 1: the same as :func:`_pair_counts` per direction, cut to [first:last + 1] per axis.

    ``source``, ``table``, ``mask``: as in :func:`_byte_pair_counts` (``mask`` C-contiguous); codes
    inside the mask lie in first..last.
    """
    first, last = used
    n_used = last - first + 1
    if mask is None:
        bins = n_used
        if isinstance(table, int):
            # calcHist bins the 8-bit values themselves: S bins over [first, last + 1) * 2**k give
            # (value >> k) - first (its bin width 2**k is exact in binary), no pass over the image.
            codes, span = source, (first << table, (last + 1) << table)
        else:
            codes, span = (source if table is None else cv2.LUT(source, table)), (first, last + 1)
    else:
        # Codes shifted to 0..S-1, sentinels S..S+3.
        bins = n_used + _TRIPLE_SENTINELS
        span = (0, bins)
        if first == 0 and table is None:
            values = source
        elif first == 0 and isinstance(table, int):
            values = np.right_shift(source, table)  # 3x faster than the lookup table
        else:
            grey = np.arange(256)
            codes_of = grey if table is None else grey >> table if isinstance(table, int) else table
            # Values that wrap lie outside first..last, so outside the mask: overwritten below.
            values = cv2.LUT(source, ((codes_of.astype(np.int64) - first) % 256).astype(np.uint8))
        codes = _sentinel_codes(values, mask, n_used)
    d = distance
    x, right, up = codes[d:, :-d], codes[d:, d:], codes[:-d, :-d]
    counts = np.zeros((4, bins, bins))
    ones = np.ones(bins, dtype=np.float32)
    for triples in _band_histograms([x, right, up], bins, span):
        # Marginals summed in float32 (exact, see _band_histograms) by matrix products: 7x faster
        # than numpy's sums along the inner axes.
        counts[0] += triples @ ones  # (x, right): 0 degrees
        counts[2] += ones @ triples  # (x, up): 90 degrees
        # (right, up) = (pixel, its upper left): 135 degrees
        counts[3] += (ones @ triples.reshape(bins, bins * bins)).reshape(bins, bins)
    counts[1] = _pair_histogram(x, codes[:-d, d:], bins, span)  # (x, upper right): 45 degrees
    counts[0] += _pair_histogram(codes[:d, :-d], codes[:d, d:], bins, span)  # first d rows
    counts[2] += _pair_histogram(codes[d:, -d:], codes[:-d, -d:], bins, span)  # last d columns
    counts = counts[:, :n_used, :n_used]
    return counts + counts.transpose(0, 2, 1)


def _triple_stack(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    n_levels: int,
    used: tuple[int, int],
    distance: int,
) -> np.ndarray:
    """:func:`_triple_counts` of every slice (``mask`` None: all pixels) placed in (slices, 4, Ng, Ng)
    matrices (zero outside the codes ``used``)."""
    first, last = used
    out = np.zeros((source.shape[0], 4, n_levels, n_levels))
    for z in range(source.shape[0]):
        inside = None if mask is None or mask[z].all() else np.ascontiguousarray(mask[z])
        out[z, :, first : last + 1, first : last + 1] = _triple_counts(
            source[z], table, inside, used, distance
        )
    return out


def _entropies_bits(distributions: tuple[np.ndarray, ...]) -> np.ndarray:
    """Entropies in bits of stacks of distributions (each (n, k)), as rows (len(distributions), n):
    one logarithm over all of them side by side (half the time of one call each)."""
    joined = np.concatenate(distributions, axis=1)
    terms = np.log2(joined, out=np.zeros_like(joined), where=joined > 0)
    terms *= joined
    starts = np.cumsum([0] + [d.shape[1] for d in distributions[:-1]])
    return -np.add.reduceat(terms, starts, axis=1).T


def _diagonal_sums(p: np.ndarray) -> np.ndarray:
    """Sums of a stack of (Ng, Ng) matrices along their anti-diagonals i + j = 0 .. 2Ng-2.

    Laying each row out in a row of length 2Ng and re-reading the buffer with rows of length 2Ng-1
    shifts row i right by i, so that column i + j collects element (i, j).
    """
    n, n_levels = p.shape[0], p.shape[1]
    padded = np.zeros((n, n_levels, 2 * n_levels))
    padded[:, :, :n_levels] = p
    skewed = padded.reshape(n, -1)[:, : n_levels * (2 * n_levels - 1)]
    return skewed.reshape(n, n_levels, 2 * n_levels - 1).sum(axis=1)


@functools.lru_cache(maxsize=64)
def _difference_weights(n_levels: int) -> np.ndarray:
    """(Ng, 7) weights of the difference distribution k = |i - j| = 0 .. Ng - 1 for contrast and the
    inverse differences (one matrix product for the 7 features instead of 7 products). Read-only."""
    k = np.arange(n_levels, dtype=np.float64)
    inverse_square = np.zeros(n_levels)
    inverse_square[1:] = 1.0 / k[1:] ** 2  # inverse variance leaves out k = 0
    weights = np.stack(
        [
            k**2,  # contrast
            1.0 / (1.0 + k),  # inverse difference
            1.0 / (1.0 + k / n_levels),  # normalised inverse difference
            1.0 / (1.0 + k**2),  # inverse difference moment
            1.0 / (1.0 + k**2 / n_levels**2),  # normalised inverse difference moment
            inverse_square,  # inverse variance
        ],
        axis=1,
    )
    weights.flags.writeable = False
    return weights


def features_from_matrices(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The 25 IBSI GLCM features of a stack of symmetric co-occurrence count matrices (n, Ng, Ng).

    Every matrix must hold at least one pair. Ng is the matrix size (it enters the normalised
    inverse differences). Returns feature name (without ``glcm_``) -> array of n values.
    """
    n_levels = counts.shape[-1]
    p = counts / counts.sum(axis=(1, 2), keepdims=True)
    levels = np.arange(1, n_levels + 1, dtype=np.float64)
    p_row = p.sum(axis=2)

    p_sum = _diagonal_sums(p)
    signed_diff = _diagonal_sums(p[:, :, ::-1])  # column k holds i - j = k - (Ng - 1)
    p_diff = signed_diff[:, n_levels - 1 :].copy()
    p_diff[:, 1:] += signed_diff[:, n_levels - 2 :: -1]
    k_sum = np.arange(2, 2 * n_levels + 1, dtype=np.float64)
    k_diff = np.arange(n_levels, dtype=np.float64)

    mean = p_row @ levels
    deviation = levels[None, :] - mean[:, None]
    variance = (deviation**2 * p_row).sum(axis=1)
    covariance = np.einsum("ni,nij,nj->n", deviation, p, deviation)
    sum_average = p_sum @ k_sum
    centred_sum = k_sum[None, :] - 2.0 * mean[:, None]
    difference_average = p_diff @ k_diff

    flat_p = p.reshape(p.shape[0], -1)
    joint_entropy, marginal_entropy, difference_entropy, sum_entropy = _entropies_bits(
        (flat_p, p_row, p_diff, p_sum)
    )
    # For a symmetric matrix HXY1 = HXY2 = HX + HY = 2 HX (IBSI information correlation 1, 2).
    mutual_information = np.maximum(2.0 * marginal_entropy - joint_entropy, 0.0)
    has_spread = variance > 0
    has_entropy = marginal_entropy > 0
    weighted = p_diff @ _difference_weights(n_levels)
    centred_square = centred_sum * centred_sum

    return {
        "joint_maximum": flat_p.max(axis=1),
        "joint_average": mean,
        "joint_variance": variance,
        "joint_entropy": joint_entropy,
        "difference_average": difference_average,
        "difference_variance": ((k_diff[None, :] - difference_average[:, None]) ** 2 * p_diff).sum(axis=1),
        "difference_entropy": difference_entropy,
        "sum_average": sum_average,
        "sum_variance": ((k_sum[None, :] - sum_average[:, None]) ** 2 * p_sum).sum(axis=1),
        "sum_entropy": sum_entropy,
        "angular_second_moment": np.einsum("ni,ni->n", flat_p, flat_p),
        "contrast": weighted[:, 0],
        "dissimilarity": difference_average,
        "inverse_difference": weighted[:, 1],
        "normalised_inverse_difference": weighted[:, 2],
        "inverse_difference_moment": weighted[:, 3],
        "normalised_inverse_difference_moment": weighted[:, 4],
        "inverse_variance": weighted[:, 5],
        "correlation": np.where(has_spread, covariance / np.where(has_spread, variance, 1.0), 1.0),
        "autocorrelation": np.einsum("i,nij,j->n", levels, p, levels),
        "cluster_tendency": (centred_square * p_sum).sum(axis=1),
        "cluster_shade": (centred_square * centred_sum * p_sum).sum(axis=1),
        "cluster_prominence": (centred_square * centred_square * p_sum).sum(axis=1),
        "information_correlation_1": np.where(
            has_entropy, -mutual_information / np.where(has_entropy, marginal_entropy, 1.0), 0.0
        ),
        "information_correlation_2": np.sqrt(np.maximum(1.0 - np.exp(-2.0 * mutual_information), 0.0)),
    }


def _discretise(image: np.ndarray, mask: np.ndarray, levels: int | None) -> tuple[np.ndarray, int]:
    """:func:`texture.discretisation.discretise` (same codes, Ng and errors), with the grey-level
    range of a masked 8-bit slice read by ``cv2.minMaxLoc`` under the mask instead of gathering the
    masked values first (the gather dominated on 12-megapixel photos)."""
    if levels is None and image.dtype == np.uint8 and image.shape[0] == 1 and not mask.all():
        lo, hi, _, _ = cv2.minMaxLoc(image[0], np.ascontiguousarray(mask[0]).view(np.uint8))
        lo, hi = int(lo), int(hi)
        if lo < 1:
            raise ValueError(f"levels=None needs grey levels >= 1 inside the mask, found {lo}")
        return image - np.asarray(1, dtype=np.uint8), hi  # wraps outside the mask only
    return discretise(image, mask=mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)


def glcm_matrices(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    levels: int | None = None,
    distance: int = 1,
    volume: bool = False,
) -> np.ndarray:
    """Symmetric co-occurrence counts per slice and in-plane direction (or per 3D direction).

    Returns
    -------
    ndarray, shape (slices, 4, Ng, Ng), or (1, 13, Ng, Ng) when ``volume``
        Pair counts (each unordered pair counted in both orders) for the directions
        :data:`texture.discretisation.IN_PLANE_OFFSETS` (0, 45, 90, 135 degrees), or the 13
        :data:`texture.discretisation.VOLUME_OFFSETS` through the whole stack.
    """
    whole = mask is None  # no pass over a mask of ones to find that out
    image, mask = validate_stack(image, mask)
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
        raise ValueError(f"distance must be a positive integer, got {distance!r}")
    slice_pixels = image.shape[1] * image.shape[2]
    codes = None
    if not volume and image.dtype == np.uint8:
        # 8-bit slices: the grey range inside the mask (one minMaxLoc) and the table of its codes.
        fused = _uint8_code_table(image, None if whole else mask, levels)
        if fused is not None:
            table, n_levels, *used = fused
            if _triple_pays(image.shape[1:], distance, used[1] - used[0] + 1):
                # 8-bit image, codes in a few levels: discretised by calcHist itself or one lookup.
                return _triple_stack(image, table, None if whole else mask, n_levels, used, distance)
            if _LITTLE_ENDIAN and _byte_pairs_pay(slice_pixels, n_levels):
                # 8-bit image, Ng <= 255: discretised band by band while counting.
                return _byte_pair_stack(image, table, None if whole else mask, n_levels, distance)
            # The other paths: the same codes by one lookup pass (discretise gathers the masked
            # values first: 2.4 ms on a 30 % masked 560^2 slice, the lookup ~0.1 ms).
            codes = _looked_up(image, table)
    if codes is None:
        codes, n_levels = _discretise(image, mask=mask, levels=levels)
    if not volume and codes.dtype == np.uint8 and _triple_pays(codes.shape[1:], distance, n_levels):
        # Other integer images: all Ng levels counted (finding the codes used would cost a pass).
        return _triple_stack(codes, None, None if whole else mask, n_levels, (0, n_levels - 1), distance)
    if (
        not volume
        and _LITTLE_ENDIAN
        and codes.dtype == np.uint8
        and n_levels <= _MAX_BYTE_LEVELS
        and _byte_pairs_pay(slice_pixels, n_levels)
    ):
        return _byte_pair_stack(codes, None, None if whole else mask, n_levels, distance)
    if volume:
        codes, mask = codes[None], mask[None]
    offsets = VOLUME_OFFSETS if volume else IN_PLANE_OFFSETS
    out = np.empty((codes.shape[0], len(offsets), n_levels, n_levels))
    for z in range(codes.shape[0]):
        full_mask = bool(mask[z].all())
        slice_codes, bins = codes[z], n_levels
        if not full_mask and not volume and codes.dtype == np.uint8 and n_levels + _TRIPLE_SENTINELS <= 256:
            # calcHist with a mask costs ~6 ns per pair (a masked 560^2 slice at 80 levels: 9-11 ms
            # for the 4 directions); sentinel codes outside the mask, cut from the counts, ~1 ns.
            slice_codes = _sentinel_codes(codes[z], np.ascontiguousarray(mask[z]), n_levels)
            full_mask, bins = True, n_levels + _TRIPLE_SENTINELS
        for d, offset in enumerate(offsets):
            scaled = tuple(o * distance for o in offset)
            counts = _pair_counts(slice_codes, mask[z], full_mask, bins, scaled)
            out[z, d] = counts[:n_levels, :n_levels]
    return out


def _looked_up(image: np.ndarray, table: np.ndarray | int) -> np.ndarray:
    """Codes of an 8-bit stack through a table of :func:`_uint8_code_table` (a bit shift or a
    256-entry lookup table)."""
    if isinstance(table, int):
        return np.right_shift(image, table)
    flat = np.ascontiguousarray(image).reshape(-1, image.shape[-1])
    return cv2.LUT(flat, table).reshape(image.shape)


def _byte_pairs_pay(slice_pixels: int, n_levels: int) -> bool:
    bins = 256 * _sentinel_span(n_levels)
    return slice_pixels >= _BYTE_PAIR_MIN_PIXELS + _BYTE_PAIR_PIXELS_PER_BIN * bins


def _byte_pair_stack(
    source: np.ndarray,
    table: np.ndarray | int | None,
    mask: np.ndarray | None,
    n_levels: int,
    distance: int,
) -> np.ndarray:
    """:func:`_byte_pair_counts` of every slice (``mask`` None: all pixels), (slices, 4, Ng, Ng)."""
    out = np.empty((source.shape[0], 4, n_levels, n_levels))
    for z in range(source.shape[0]):
        inside = None if mask is None or mask[z].all() else np.ascontiguousarray(mask[z])
        out[z] = _byte_pair_counts(source[z], table, inside, n_levels, distance)
    return out


@positional_deprecated("mask")
def glcm_features(
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    levels: int | None = None,
    distance: int = 1,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """All 25 IBSI GLCM features of a 2D image or a stack of slices.

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest; only pairs with both pixels inside count. Default: the whole image.
    levels : int, optional
        None: ``image`` holds integer grey levels (Ng = the largest level in the mask). An integer:
        IBSI fixed bin number discretisation of the masked min-max range into that many levels.
    distance : int
        Chebyshev distance between the pixels of a pair (IBSI default 1).
    aggregation : str
        "averaged", "slice_merged", "direction_merged", "merged", "3d_averaged" or "3d_merged":
        IBSI "2D, averaged", "2D, slice-merged", "2.5D, direction-merged", "2.5D, merged",
        "3D, averaged" or "3D, merged" (see module docstring).

    Returns
    -------
    dict
        ``glcm_<IBSI name>`` -> value, e.g. ``glcm_joint_maximum``; entropies in bits.

    Raises
    ------
    ValueError
        Bad shapes, empty mask, NaN in the mask, non-integer grey levels with ``levels=None``, or a
        mask without any pixel pair at ``distance``.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    volume = aggregation.startswith("3d")
    matrices = glcm_matrices(image, mask, levels=levels, distance=distance, volume=volume)
    stack = aggregate_matrices(matrices, aggregation)
    stack = stack[stack.sum(axis=(1, 2)) > 0]
    if len(stack) == 0:
        raise ValueError(f"no pair of neighbouring pixels (distance {distance}) lies inside the mask")
    values = features_from_matrices(stack)
    means = np.mean([values[name] for name in GLCM_FEATURES], axis=1)
    return {f"glcm_{name}": float(mean) for name, mean in zip(GLCM_FEATURES, means, strict=True)}


# Sliding-window maps -------------------------------------------------------------------------

#: Features :func:`glcm_map` supports: those that are expectations over the pairs of the window of
#: a function of the pair, or combinations of such moments. Not supported (not linear in the
#: matrix): joint maximum, the three entropies, angular second moment, information correlations.
GLCM_MAP_FEATURES: tuple[str, ...] = (
    "joint_average",
    "joint_variance",
    "difference_average",
    "difference_variance",
    "sum_average",
    "sum_variance",
    "contrast",
    "dissimilarity",
    "inverse_difference",
    "normalised_inverse_difference",
    "inverse_difference_moment",
    "normalised_inverse_difference_moment",
    "inverse_variance",
    "correlation",
    "autocorrelation",
    "cluster_tendency",
    "cluster_shade",
    "cluster_prominence",
)

# Pair moments each map feature needs. "t1".."t4": powers of the centred pair sum
# t = a + b - (Ng + 1); "d1", "d2": powers of |a - b|; the rest are functions of |a - b|.
_MAP_STRIP_ROWS = 128

_MAP_MOMENTS = {
    "joint_average": {"t1"},
    "joint_variance": {"t1", "t2", "d2"},
    "difference_average": {"d1"},
    "difference_variance": {"d1", "d2"},
    "sum_average": {"t1"},
    "sum_variance": {"t1", "t2"},
    "contrast": {"d2"},
    "dissimilarity": {"d1"},
    "inverse_difference": {"id"},
    "normalised_inverse_difference": {"nid"},
    "inverse_difference_moment": {"idm"},
    "normalised_inverse_difference_moment": {"nidm"},
    "inverse_variance": {"iv"},
    "correlation": {"t1", "t2", "d2"},
    "autocorrelation": {"t1", "t2", "d2"},
    "cluster_tendency": {"t1", "t2"},
    "cluster_shade": {"t1", "t2", "t3"},
    "cluster_prominence": {"t1", "t2", "t3", "t4"},
}


def _difference_functions(n_levels: int) -> dict[str, np.ndarray]:
    # 256 entries so that cv2.LUT can index uint8 differences directly.
    k = np.arange(max(n_levels, 256), dtype=np.float64)
    inverse_square = np.zeros(len(k))
    inverse_square[1:] = 1.0 / k[1:] ** 2
    return {
        "d1": k,
        "d2": k**2,
        "id": 1.0 / (1.0 + k),
        "nid": 1.0 / (1.0 + k / n_levels),
        "idm": 1.0 / (1.0 + k**2),
        "nidm": 1.0 / (1.0 + k**2 / n_levels**2),
        "iv": inverse_square,
    }


def _direction_features(names: list[str], m: dict[str, np.ndarray], n_levels: int) -> dict[str, np.ndarray]:
    """Features of one direction from the window means of the pair moments.

    The matrix is symmetric, so mu_x = mu_y = E[a + b] / 2; with s = a + b and d = |a - b|,
    a^2 + b^2 = (s^2 + d^2) / 2 and ab = (s^2 - d^2) / 4.
    """
    out: dict[str, np.ndarray] = {}
    sum_variance = None
    if m.keys() & {"t2"}:
        sum_variance = np.maximum(m["t2"] - m["t1"] * m["t1"], 0.0)
    simple = {
        "difference_average": "d1",
        "dissimilarity": "d1",
        "contrast": "d2",
        "inverse_difference": "id",
        "normalised_inverse_difference": "nid",
        "inverse_difference_moment": "idm",
        "normalised_inverse_difference_moment": "nidm",
        "inverse_variance": "iv",
    }
    for name in names:
        if name in simple:
            out[name] = m[simple[name]]
        elif name == "sum_average":
            out[name] = m["t1"] + (n_levels + 1)
        elif name == "joint_average":
            out[name] = (m["t1"] + (n_levels + 1)) / 2
        elif name == "difference_variance":
            out[name] = np.maximum(m["d2"] - m["d1"] * m["d1"], 0.0)
        elif name in ("sum_variance", "cluster_tendency"):
            out[name] = sum_variance
        elif name == "joint_variance":
            out[name] = (sum_variance + m["d2"]) / 4
        elif name == "correlation":
            spread = sum_variance + m["d2"]
            flat = spread <= 0
            spread[flat] = 1.0
            corr = (sum_variance - m["d2"]) / spread
            corr[flat] = 1.0
            out[name] = corr
        elif name == "autocorrelation":
            sum_mean = m["t1"] + (n_levels + 1)
            out[name] = (sum_variance + sum_mean * sum_mean - m["d2"]) / 4
        elif name == "cluster_shade":
            t1 = m["t1"]
            out[name] = m["t3"] - t1 * (3 * m["t2"] - 2 * t1 * t1)
        elif name == "cluster_prominence":
            t1 = m["t1"]
            t1_sq = t1 * t1
            out[name] = m["t4"] - t1 * (4 * m["t3"] - t1 * (6 * m["t2"] - 3 * t1_sq))
        else:
            raise AssertionError(name)
    return out


def _take(index: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table[index]


def _window_sum(
    values: np.ndarray,
    placed: np.ndarray,
    anchor: tuple[slice, slice],
    valid: np.ndarray | None,
    ksize: tuple[int, int],
    box_anchor: tuple[int, int],
) -> np.ndarray:
    """Sum of per-pair ``values`` (placed at each pair's first pixel) over each pixel's window.

    ``placed`` is a zeroed buffer of the image's shape whose ``anchor`` region gets overwritten.
    """
    if valid is None:
        placed[anchor] = values
    else:
        np.multiply(values, valid, out=placed[anchor])
    return cv2.boxFilter(
        placed, -1, ksize, anchor=box_anchor, normalize=False, borderType=cv2.BORDER_CONSTANT
    )


def glcm_map(
    image: np.ndarray,
    *,
    window: int,
    levels: int | None,
    features: tuple[str, ...] | list[str] = GLCM_MAP_FEATURES,
    mask: np.ndarray | None = None,
    distance: int = 1,
    aggregation: str = "averaged",
) -> dict[str, np.ndarray]:
    """Per-pixel GLCM feature maps over a sliding square window, for overlays.

    The value at a pixel is the IBSI 2D feature of the window centred on it, from the symmetric
    co-occurrence matrices of the pairs lying entirely inside the window (and the mask):
    ``"averaged"`` per direction, features averaged over the directions that have pairs;
    ``"slice_merged"`` the 4 directions' pairs pooled in one matrix (faster). No matrix is built
    per pixel: every supported feature is a combination of window means of functions of the pair
    (a, b) - powers of a + b and functions of |a - b| - and a window mean is a box filter
    (``cv2.boxFilter``, unnormalised, one per moment and direction) over the image of that function
    placed at each pair's first pixel, divided by the box-filtered pair count. Equals
    :func:`glcm_features` on the window crop with the whole image's Ng (tested); windows at the
    image edge are cropped to the image. Computed in strips of rows to bound memory (about 20
    float64 images of a strip). Supported features:
    :data:`GLCM_MAP_FEATURES`; the rest are non-linear in the matrix and would need one box filter
    per matrix cell.

    Parameters
    ----------
    image : ndarray (rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities (discretised
        once over the whole masked image, IBSI fixed bin number).
    window : int
        Odd window side in pixels (>= 3).
    levels : int or None
        As in :func:`glcm_features`.
    features : sequence of str
        Feature names, with or without the ``glcm_`` prefix. Default: all supported.
    mask : ndarray of bool, optional
        Only pairs with both pixels inside count; the maps are NaN outside the mask.
    distance : int
        Chebyshev distance of the pairs.
    aggregation : {"averaged", "slice_merged"}
        As in :func:`glcm_features` for one 2D image.

    Returns
    -------
    dict
        ``glcm_<name>`` -> float64 map (rows, cols); NaN where the window holds no pair.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"glcm_map needs a 2D image, got shape {image.shape}")
    if min(image.shape) < 2:
        raise ValueError(f"glcm_map needs at least 2 rows and 2 columns, got shape {image.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValueError(f"window must be an odd integer >= 3, got {window!r}")
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3, got {window}")
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
        raise ValueError(f"distance must be a positive integer, got {distance!r}")
    check_aggregation(aggregation, ("averaged", "slice_merged"))
    names = [f.removeprefix("glcm_") for f in features]
    unsupported = sorted(set(names) - set(GLCM_MAP_FEATURES))
    if unsupported or not names:
        raise ValueError(
            f"glcm_map cannot compute {unsupported or 'no feature'}; supported: {GLCM_MAP_FEATURES}"
        )
    stack, stack_mask = validate_stack(image, mask)
    codes, n_levels = discretise(stack, mask=stack_mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)
    codes, inside = codes[0], stack_mask[0]
    full_mask = bool(inside.all())
    needed = set().union(*(_MAP_MOMENTS[n] for n in names))
    difference_functions = _difference_functions(n_levels)
    half = window // 2
    rows, cols = codes.shape
    maps = {f"glcm_{name}": np.empty((rows, cols)) for name in names}
    # Horizontal strips with a halo of half a window: the same result as the whole image (box
    # sums never reach further), in arrays small enough to stay in cache and be reused.
    for top in range(0, rows, _MAP_STRIP_ROWS):
        bottom = min(rows, top + _MAP_STRIP_ROWS)
        lo, hi = max(0, top - half), min(rows, bottom + half)
        strip = _map_block(
            codes[lo:hi],
            None if full_mask else inside[lo:hi],
            names,
            needed,
            window,
            distance,
            n_levels,
            difference_functions,
            aggregation == "slice_merged",
        )
        for name in names:
            maps[f"glcm_{name}"][top:bottom] = strip[name][top - lo : bottom - lo]
    return maps


def _map_block(
    codes: np.ndarray,
    inside: np.ndarray | None,
    names: list[str],
    needed: set[str],
    window: int,
    distance: int,
    n_levels: int,
    difference_functions: dict[str, np.ndarray],
    merged: bool,
) -> dict[str, np.ndarray]:
    """Window features over a 2D block (``inside`` None: no mask), direction-averaged or merged."""
    half = window // 2
    rows, cols = codes.shape
    totals = {n: np.zeros((rows, cols)) for n in names}
    n_directions = np.zeros((rows, cols))
    # Merged: window sums of every moment over the 4 directions, features once at the end.
    pooled = {m: np.zeros((rows, cols)) for m in needed} if merged else {}
    pooled_count = np.zeros((rows, cols))
    placed = np.zeros((rows, cols))
    for dy, dx in IN_PLANE_OFFSETS:
        dy, dx = dy * distance, dx * distance
        if abs(dy) >= window or abs(dx) >= window:
            continue
        a, b = shifted_pair_views(codes, (dy, dx))
        anchor = (slice(max(0, -dy), rows - max(0, dy)), slice(max(0, -dx), cols - max(0, dx)))
        valid = None
        if inside is not None:
            ma, mb = shifted_pair_views(inside, (dy, dx))
            valid = ma & mb
        # Pairs entirely inside the window centred at (r, c) have their first pixel in rows
        # r - half + max(0, -dy) .. r + half - max(0, dy), and likewise for columns.
        box = (placed, anchor, valid, (window - abs(dx), window - abs(dy)))
        box_anchor = (half - max(0, -dx), half - max(0, -dy))
        placed.fill(0.0)

        count = _window_sum(np.ones(a.shape), *box, box_anchor)
        t = a.astype(np.float64)
        t += b
        t -= n_levels - 1  # a + b - (Ng + 1) with 1-based levels
        powers = {"t1": t}
        if needed & {"t2", "t3", "t4"}:
            powers["t2"] = t * t
        if "t3" in needed:
            powers["t3"] = powers["t2"] * t
        if "t4" in needed:
            powers["t4"] = powers["t2"] * powers["t2"]
        if codes.dtype == np.uint8:
            d = cv2.absdiff(a, b)
            lookup = cv2.LUT
        else:
            d = np.abs(a.astype(np.int64) - b)
            lookup = _take
        sums = {}
        for moment in needed:
            values = powers[moment] if moment in powers else lookup(d, difference_functions[moment])
            sums[moment] = _window_sum(values, *box, box_anchor)
        if merged:
            pooled_count += count
            for moment, value in sums.items():
                pooled[moment] += value
            continue
        has_pairs = count > 0.5
        inverse_count = np.divide(1.0, count, out=np.zeros_like(count), where=has_pairs)
        for value in sums.values():
            value *= inverse_count
        for name, value in _direction_features(names, sums, n_levels).items():
            np.add(totals[name], value, out=totals[name], where=has_pairs)
        n_directions += has_pairs

    if merged:
        n_directions = (pooled_count > 0.5).astype(np.float64)
        inverse_count = np.divide(1.0, pooled_count, out=np.zeros_like(pooled_count), where=n_directions > 0)
        for value in pooled.values():
            value *= inverse_count
        totals = _direction_features(names, pooled, n_levels)
        totals = {n: np.array(v, dtype=np.float64, copy=True) for n, v in totals.items()}
    no_pairs = n_directions == 0
    n_directions[no_pairs] = 1.0
    blank = no_pairs if inside is None else no_pairs | ~inside
    for value in totals.values():
        value /= n_directions
        value[blank] = np.nan
    return totals
