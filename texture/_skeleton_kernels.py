"""Numba kernels of :mod:`texture._skeleton_graph`: the walk that cuts a skeleton's pixel graph into
paths, and the paths' lengths.

Plain ``numba.njit(cache=True)`` functions on plain arrays (no jitclass, which numba cannot cache), so
that numba compiles them once and every later process loads the machine code from its on-disk cache.
The cache lives in ``__pycache__`` next to this file; when the package directory is read-only (a
system-wide install) numba falls back to a per-user directory (``~/.cache/numba``, or
``$NUMBA_CACHE_DIR`` when set; checked with a read-only copy of the package), so the cache still works.

This module imports numba at import time: import it only where the kernels are needed
(:func:`texture._skeleton_graph.skeleton_graph` does, lazily), so that importing :mod:`texture` or
starting the command line stays fast.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SQRT2 = math.sqrt(2.0)


@numba.njit(cache=True, nogil=True)
def _edge_index(indptr, indices, row, col):
    """Position of edge (row, col) in the CSR arrays, -1 if absent (rows hold at most 8 entries)."""
    for k in range(indptr[row], indptr[row + 1]):
        if indices[k] == col:
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _walk_path(indptr, indices, degrees, visited, node, edge, out, start):
    """Walk from ``node`` along CSR entry ``edge`` through nodes of degree 2, writing the nodes to
    ``out[start:]``; stop at a node of another degree or back at ``node``. Returns the count written.

    Mirrors skan 0.13's ``_walk_path`` step by step (including its count when the loop ends on an
    already visited edge), so that the paths come out identical.
    """
    out[start] = node
    start_node = node
    neighbour = indices[edge]
    j = start + 1
    while not visited[edge]:
        visited[edge] = True
        visited[_edge_index(indptr, indices, neighbour, node)] = True
        out[j] = neighbour
        if degrees[neighbour] != 2 or neighbour == start_node:
            break
        first = indptr[neighbour]
        if indices[first] != node:
            nxt = first
        else:
            nxt = first + 1
        node = neighbour
        neighbour = indices[nxt]
        edge = nxt
        j += 1
    return j - start + 1


@numba.njit(cache=True, nogil=True)
def build_paths(indptr, indices, degrees, path_indptr, path_indices):
    """Cut a pixel graph (CSR, sorted neighbours) into paths between nodes of degree != 2.

    skan 0.13's order (Nunez-Iglesias et al. 2018, *PeerJ* 6:e4312, ``csr._build_paths``): nodes of
    degree 1 or > 2 in node order, each of their unvisited edges in CSR order starts a path; then
    every remaining unvisited edge lies on an isolated cycle, walked from its lowest node along that
    node's first neighbour (the start node closes the cycle at the end of the path).

    ``path_indptr`` (zeros, length >= paths + 1) and ``path_indices`` (length >= edges + paths) are
    filled in place. Returns (number of ``path_indptr`` entries used, number of ``path_indices`` used).
    """
    visited = np.zeros(indices.size, dtype=np.bool_)
    n_paths = 0
    used = 0
    for node in range(degrees.size):
        if degrees[node] > 2 or degrees[node] == 1:
            for edge in range(indptr[node], indptr[node + 1]):
                if not visited[edge]:
                    n = _walk_path(indptr, indices, degrees, visited, node, edge, path_indices, used)
                    path_indptr[n_paths + 1] = path_indptr[n_paths] + n
                    n_paths += 1
                    used += n
    for node in range(degrees.size):
        if degrees[node] > 0:
            edge = indptr[node]
            if not visited[edge]:
                n = _walk_path(indptr, indices, degrees, visited, node, edge, path_indices, used)
                path_indptr[n_paths + 1] = path_indptr[n_paths] + n
                n_paths += 1
                used += n
    return n_paths + 1, used


@numba.njit(cache=True, nogil=True)
def path_lengths(path_indptr, path_indices, rows, cols):
    """Length of each path (px): the sum of its steps, 1 along an axis and sqrt(2) diagonally, added
    in path order as skan's ``_path_distance`` does (so the sums round the same way)."""
    n_paths = path_indptr.size - 1
    out = np.empty(n_paths, dtype=np.float64)
    for p in range(n_paths):
        d = 0.0
        for k in range(path_indptr[p], path_indptr[p + 1] - 1):
            u = path_indices[k]
            v = path_indices[k + 1]
            if rows[u] != rows[v] and cols[u] != cols[v]:
                d += _SQRT2
            else:
                d += 1.0
        out[p] = d
    return out
