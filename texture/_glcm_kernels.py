"""numba kernel of :mod:`texture.glcm`: the 4 in-plane co-occurrence matrices of a 2D slice in one pass.

Imported lazily by :mod:`texture.glcm`, never at package import: the first kernel call of a process
costs ~0.25 s to import numba plus ~0.35 s to load the compiled kernel from its cache (measured). Compiled
on first use (~2 s, once per machine and numba version) and cached on disk (``cache=True``): next to
this file in ``__pycache__``, or, when the package directory is read-only (a system-wide install), in
numba's per-user cache directory (``$NUMBA_CACHE_DIR`` or ``~/.cache/numba``), which numba falls back
to by itself (checked with a copy of this file on a read-only bind mount).

Counting (one pass, 8-bit codes): pixel x = (r, c), its right neighbour b = (r, c + d) and its upper
neighbour u = (r - d, c) form a triple whose histogram (S^3 bins, S = Ng + 1) holds three of the four
directions at once: (x, b) is 0 degrees, (x, u) is 90 degrees, and (b, u), the pixel (r, c + d) with
its neighbour at (-d, -d), is 135 degrees; the 45-degree pairs (x, (r - d, c + d)) get a plain pair
histogram. Two increments per pixel instead of four: 1.4 ms against 2.8 ms for four pair histograms
in one pass (32 levels, 1024^2, measured in one process). The triple histogram has S^3 int32 bins
(144 kB at 32 levels, twice), so this kernel is used for small Ng only (``_KERNEL_MAX_LEVELS`` in
:mod:`texture.glcm`).

Code Ng is the sentinel of pixels outside the mask, of rows above the slice and of the padding columns:
pairs with a sentinel land in row or column Ng of a histogram, which the caller cuts (a sentinel x
still brings the 135-degree pair (b, u) of its triple).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def triple_counts(
    source: np.ndarray, table: np.ndarray, mask: np.ndarray, has_mask: bool, n_levels: int, distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-order pair counts of a 2D slice at Chebyshev ``distance`` (see the module docstring).

    ``source`` (rows, cols) uint8 holds grey values mapped to codes 0..Ng-1 by ``table`` (256 uint8);
    ``mask`` (rows, cols) uint8, nonzero inside, is read only when ``has_mask``. ``distance`` must be
    below rows and cols (the row buffer is then smaller than 3 slices). Returns the triple histograms
    (2, S, S, S) [., x, b, u] and the 45-degree pair histograms (2, S, S) [., x, upper right], int32,
    S = Ng + 1 (index Ng: a sentinel), each in two halves to be summed (see below). At most
    2**31 - 1 pixels.
    """
    rows, cols = source.shape
    # Unsigned indices: numba then emits no wrap-around check for negative indices.
    d = np.uintp(distance)
    s = np.uintp(n_levels + 1)
    sentinel = np.uint8(n_levels)
    # x runs over the padded columns 0 .. cols + d - 1 (real columns -d .. cols - 1), rounded up to an
    # even number with one more sentinel column: even x go to the first half of each histogram, odd x
    # to the second. On a run of equal triples (a flat or masked-out region) consecutive increments
    # then hit two counters, not one: without it such regions took 1.6x longer (store-to-load
    # forwarding of each increment into the next).
    n_x = (cols + distance + 1) // 2 * 2
    width = n_x + distance
    # Codes of the last d + 1 rows, row r in slot r % (d + 1). Slots not yet written (rows above the
    # slice) and the padding columns keep the sentinel.
    ring = np.full((distance + 1, width), sentinel, dtype=np.uint8)
    triples = np.zeros((2, s, s, s), dtype=np.int32)
    diagonal = np.zeros((2, s, s), dtype=np.int32)
    even_t, odd_t = triples[0], triples[1]
    even_d, odd_d = diagonal[0], diagonal[1]
    for r in range(rows):
        here = ring[r % (distance + 1)]
        above = ring[(r + 1) % (distance + 1)]  # row r - d
        line = source[r]
        if has_mask:
            inside = mask[r]
            for c in range(cols):
                here[d + np.uintp(c)] = table[line[c]] if inside[c] else sentinel
        else:
            for c in range(cols):
                here[d + np.uintp(c)] = table[line[c]]
        for c in range(0, n_x, 2):
            c0 = np.uintp(c)
            c1 = c0 + np.uintp(1)
            x = here[c0]
            even_t[x, here[c0 + d], above[c0]] += 1
            even_d[x, above[c0 + d]] += 1
            x = here[c1]
            odd_t[x, here[c1 + d], above[c1]] += 1
            odd_d[x, above[c1 + d]] += 1
    return triples, diagonal
