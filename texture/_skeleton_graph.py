"""The graph of a 2-D skeleton image: its pixels, their 8-neighbour degrees and the paths (branches)
between end and junction pixels, with their lengths.

A reimplementation of what :mod:`texture.fibres` used of skan 0.13's ``Skeleton`` (Nunez-Iglesias et
al. 2018, *PeerJ* 6:e4312; ``skan/csr.py``), giving the same node order, paths (same order and
direction), degrees and lengths, but with numba kernels that numba can cache on disk (skan's path walk
takes a numba jitclass, which numba cannot cache, so every fresh process compiled it for 4.5-6.7 s).
``tests/texture/test_skeleton_graph.py`` checks the equality with skan, which stays a test-only peer.

Method (skan's ``skeleton_to_csgraph`` and ``_build_skeleton_path_graph``)
--------------------------------------------------------------------------
1. **Pixel graph**: nodes are the skeleton pixels in raster (row-major) order; an edge joins every
   pair of 8-neighbours, weighted 1 along an axis and sqrt(2) diagonally.
2. **Junction clusters**: among pixels with three or more neighbours ("junction" pixels), edges that
   join two junction pixels are replaced by their minimum spanning tree (SciPy's
   ``minimum_spanning_tree`` on the same sparse matrix skan builds, so the same ties are broken the
   same way). This drops the redundant edges of a 2x2 or L-shaped block of junction pixels; the
   degrees are counted after it.
3. **Paths** (:func:`texture._skeleton_kernels.build_paths`): from every node of degree 1 or > 2, in
   node order, each unvisited edge in neighbour order starts a path that runs through nodes of degree 2
   and stops at the next node of another degree; isolated cycles come last, each closed on its start.
4. **Lengths**: the sum of the steps (1 or sqrt(2) px) along each path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

__all__ = ["SkeletonGraph", "skeleton_graph"]

# The 8 neighbours in raster order of their position, so that each node's neighbours come out sorted
# by node index (nodes are numbered in raster order): the CSR rows need no sorting.
_OFFSETS_RC = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
_WEIGHTS = np.where(np.all(_OFFSETS_RC != 0, axis=1), np.sqrt(2.0), 1.0)


@dataclass(frozen=True)
class SkeletonGraph:
    """The graph of a skeleton image (see the module notes).

    Attributes
    ----------
    coordinates : ndarray of int, shape (N, 2)
        (row, col) of each skeleton pixel (node), in raster order.
    degrees : ndarray of int, shape (N,)
        Number of neighbours of each node in the graph (8-neighbours, less the redundant edges between
        junction pixels).
    path_indptr, path_indices : ndarray of int
        The paths (branches), CSR style: path ``i`` visits nodes
        ``path_indices[path_indptr[i]:path_indptr[i + 1]]`` end to end (a cycle repeats its start).
    path_lengths : ndarray of float, shape (P,)
        Length of each path along its pixels (px; steps of 1 or sqrt(2)).
    """

    coordinates: np.ndarray
    degrees: np.ndarray
    path_indptr: np.ndarray
    path_indices: np.ndarray
    path_lengths: np.ndarray

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(self.path_indptr.size - 1)


def _check_skeleton(skeleton: np.ndarray) -> np.ndarray:
    skeleton = np.asarray(skeleton)
    if skeleton.ndim != 2:
        raise ValueError(f"skeleton must be a 2-D image, got {skeleton.ndim} dimensions")
    return skeleton.astype(bool, copy=False)


def _pixel_graph(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows and columns of the nodes, and for each node its 8 neighbours' node indices (-1: none) and
    which of them are edges (all neighbours, before the junction clusters are reduced)."""
    rows, cols = np.nonzero(skeleton)
    h, w = skeleton.shape
    # Node index + 1 of each pixel of the image padded by one pixel (0: background), so that the
    # neighbours of border pixels need no bounds checks.
    label = np.zeros((h + 2) * (w + 2), dtype=np.int32 if rows.size < 2**31 - 1 else np.int64)
    centre = (rows + 1) * (w + 2) + (cols + 1)
    label[centre] = np.arange(1, rows.size + 1)
    steps = _OFFSETS_RC[:, 0] * (w + 2) + _OFFSETS_RC[:, 1]
    neighbours = label[centre[:, None] + steps].astype(np.int64) - 1
    return rows, cols, neighbours, neighbours >= 0


def _drop_redundant_junction_edges(neighbours: np.ndarray, present: np.ndarray) -> None:
    """Keep, among the edges joining two junction pixels (>= 3 neighbours), only a minimum spanning
    tree (in place on ``present``), as skan's ``_mst_junctions`` does."""
    n = neighbours.shape[0]
    junction = present.sum(axis=1) >= 3
    both = present & junction[:, None] & junction[np.where(present, neighbours, 0)]
    if not both.any():
        return
    # The same canonical CSR matrix skan hands to SciPy (rows in node order, sorted columns, same
    # weights), so that SciPy's Kruskal breaks ties between equal weights the same way.
    counts = both.sum(axis=1)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    cols = neighbours[both]
    data = np.broadcast_to(_WEIGHTS, both.shape)[both]
    tree = minimum_spanning_tree(csr_matrix((data, cols, indptr), shape=(n, n))).tocoo()
    tr, tc = tree.row.astype(np.int64), tree.col.astype(np.int64)
    keys = np.concatenate((tr * n + tc, tc * n + tr))
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    present[both] = np.isin(rows * n + cols, keys)


def skeleton_graph(skeleton: np.ndarray) -> SkeletonGraph:
    """Graph of a 2-D skeleton: nodes, degrees, and paths between end and junction pixels.

    Identical to skan 0.13's ``Skeleton(skeleton, spacing=1)`` (Nunez-Iglesias et al. 2018, *PeerJ*
    6:e4312) in ``coordinates``, ``degrees``, ``paths.indptr``, ``paths.indices`` and
    ``path_lengths()``; see the module notes for the method.

    Parameters
    ----------
    skeleton : ndarray, 2-D
        Skeleton image (nonzero = skeleton pixel), one pixel wide as from
        :func:`skimage.morphology.skeletonize`.

    Returns
    -------
    SkeletonGraph
        Lengths in px.
    """
    skeleton = _check_skeleton(skeleton)
    rows, cols, neighbours, present = _pixel_graph(skeleton)
    _drop_redundant_junction_edges(neighbours, present)
    degrees = present.sum(axis=1).astype(np.int64)
    indptr = np.concatenate(([0], np.cumsum(degrees)))
    indices = neighbours[present]

    # Imported here: numba takes ~0.5 s to import; importing texture should not pay it.
    from texture._skeleton_kernels import build_paths, path_lengths

    n_edges = indices.size // 2
    # Every path uses at least one edge and holds its edges + 1 nodes: at most n_edges paths and
    # 2 n_edges node entries.
    path_indptr = np.zeros(n_edges + 1, dtype=np.int64)
    path_indices = np.zeros(2 * n_edges, dtype=np.int64)
    m, used = build_paths(indptr, indices, degrees, path_indptr, path_indices)
    path_indptr = path_indptr[:m]
    path_indices = path_indices[:used]
    lengths = path_lengths(path_indptr, path_indices, rows, cols)
    return SkeletonGraph(
        coordinates=np.column_stack((rows, cols)),
        degrees=degrees,
        path_indptr=path_indptr,
        path_indices=path_indices,
        path_lengths=lengths,
    )
