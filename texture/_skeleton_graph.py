"""The graph of a 2-D skeleton image: its pixels, their 8-neighbour degrees and the paths (branches)
between end and junction pixels, with their lengths.

A reimplementation of what :mod:`texture.fibres` used of skan 0.13's ``Skeleton`` (Nunez-Iglesias et
al. 2018, *PeerJ* 6:e4312; ``skan/csr.py``), giving the same node order, paths (same order and
direction), degrees and lengths (summed in the same order, so equal to the last bit), in numpy and
SciPy only. skan's path walk is a numba function taking a numba jitclass, which numba cannot cache: every
fresh process compiled it for 4.5-6.7 s before its first histology image (issue 18). Here nothing is
compiled, so there is nothing to cache. ``tests/texture/test_skeleton_graph.py`` checks the equality
with skan, which stays a test-only peer.

Method (skan's ``skeleton_to_csgraph`` and ``_build_skeleton_path_graph``)
--------------------------------------------------------------------------
1. **Pixel graph**: nodes are the skeleton pixels in raster (row-major) order; an edge joins every
   pair of 8-neighbours, weighted 1 along an axis and sqrt(2) diagonally.
2. **Junction clusters**: among pixels with three or more neighbours ("junction" pixels), edges that
   join two junction pixels are replaced by their minimum spanning tree (SciPy's
   ``minimum_spanning_tree`` on the same sparse matrix skan builds, so the same ties are broken the
   same way). This drops the redundant edges of a 2x2 or L-shaped block of junction pixels; the
   degrees are counted after it.
3. **Paths**: skan walks from every node of degree 1 or > 2, in node order, along each of its edges
   not yet walked, in neighbour order, through nodes of degree 2 up to the next node of another
   degree; isolated cycles come last, each walked from its lowest node along that node's first
   neighbour and closed on it. Here all walks from those nodes advance together, one step per
   iteration (vectorised over the walks; the last few long ones finish one by one), and each branch
   keeps the one of its two walks that skan
   reaches first: the one whose first edge comes first in the graph's edge order. Cycles follow.
4. **Lengths**: the steps (1 or sqrt(2) px) added along each walk in path order, as skan adds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

__all__ = ["SkeletonGraph", "skeleton_graph"]

# The 8 neighbours in raster order of their position, so that each node's neighbours come out sorted
# by node index (nodes are numbered in raster order): the CSR rows need no sorting.
_OFFSETS_RC = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
_WEIGHTS = np.where(np.all(_OFFSETS_RC != 0, axis=1), np.sqrt(2.0), 1.0)

#: Walks advance together (vectorised) while more than this many are left, then one by one.
_FEW_WALKS = 16


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
    h, w = skeleton.shape
    rows, cols = np.divmod(np.flatnonzero(skeleton), w)  # as np.nonzero, 8x faster on a sparse image
    # Raveled positions in the image padded by one pixel, so that the neighbours of border pixels
    # need no bounds checks; in raster order, hence sorted.
    centre = (rows + 1) * (w + 2) + (cols + 1)
    around = centre[:, None] + (_OFFSETS_RC[:, 0] * (w + 2) + _OFFSETS_RC[:, 1])
    if rows.size * 64 >= skeleton.size:
        # Dense enough: look the neighbours up in an image of node index + 1 (0: background).
        label = np.zeros((h + 2) * (w + 2), dtype=np.int32 if rows.size < 2**31 - 1 else np.int64)
        label[centre] = np.arange(1, rows.size + 1)
        neighbours = label[around].astype(np.int64) - 1
    else:
        # A few pixels in a large image: a binary search beats filling an image-sized array.
        at = np.minimum(np.searchsorted(centre, around), max(rows.size - 1, 0))
        neighbours = np.where(centre[at] == around, at, -1) if rows.size else around
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


def _walk(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    degrees: np.ndarray,
    start_node: np.ndarray,
    first_edge: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walk from each ``start_node`` along its edge ``first_edge`` (a position in the CSR arrays)
    through nodes of degree 2, until a node of another degree or the start node again (skan's
    ``_walk_path``); all walks advance together, one step per iteration, until few are left.

    Returns, for every step of every walk, the walk, the step number (1, 2, ...) and the node reached;
    and per walk its last edge and its length (the step weights added in walk order).
    """
    walk = np.arange(start_node.size)
    previous = start_node
    edge = first_edge
    last_edge = np.empty(start_node.size, dtype=np.int64)
    length = np.zeros(start_node.size)
    walks, steps, nodes = [], [], []
    step = 1
    while walk.size > _FEW_WALKS:
        node = indices[edge]
        length[walk] += weights[edge]
        walks.append(walk)
        steps.append(np.full(walk.size, step))
        nodes.append(node)
        stop = (degrees[node] != 2) | (node == start_node[walk])
        if stop.any():
            last_edge[walk[stop]] = edge[stop]
            go = ~stop
            walk, node, previous = walk[go], node[go], previous[go]
        # A node of degree 2 has two neighbours: go on to the one the walk did not come from.
        first = indptr[node]
        edge = np.where(indices[first] != previous, first, first + 1)
        previous = node
        step += 1
    # The last few (long) walks one by one: a numpy step costs ~30 us whatever the number of walks, a
    # Python step ~1 us (a 17000 px ring took 0.6 s in lockstep, 0.03 s here).
    for w, e, at in zip(walk.tolist(), edge.tolist(), previous.tolist(), strict=True):
        start, total, trail = int(start_node[w]), float(length[w]), []
        while True:
            node = int(indices[e])
            total += float(weights[e])  # the same float64 additions, in the same order
            trail.append(node)
            if degrees[node] != 2 or node == start:
                break
            first = int(indptr[node])
            e = first if indices[first] != at else first + 1
            at = node
        length[w], last_edge[w] = total, e
        walks.append(np.full(len(trail), w))
        steps.append(np.arange(step, step + len(trail)))
        nodes.append(np.array(trail, dtype=np.int64))
    if not walks:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, last_edge, length
    return np.concatenate(walks), np.concatenate(steps), np.concatenate(nodes), last_edge, length


def _paths(
    indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, degrees: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """skan's paths (CSR: indptr, node indices) and their lengths, from the pixel graph's CSR arrays."""
    n_nodes = degrees.size
    row = np.repeat(np.arange(n_nodes, dtype=np.int64), degrees)
    # Position of each edge's reverse: (row, col) keys are sorted (rows in order, sorted columns).
    reverse = np.searchsorted(row * n_nodes + indices, indices * n_nodes + row)
    ends = (degrees == 1) | (degrees > 2)
    starts = np.flatnonzero(ends[row])
    walk, step, node, last_edge, length = _walk(indptr, indices, weights, degrees, row[starts], starts)
    # Every branch is walked from both ends; skan walks it once, from the end whose edge into the
    # branch comes first in edge order (nodes in order, then neighbours in order). The other walk
    # starts at the reverse of this one's last edge (for a branch looping back to its junction too).
    keep = starts < reverse[last_edge]
    on_kept = keep[walk]
    path_of_step = (np.cumsum(keep) - 1)[walk[on_kept]]
    step, node = step[on_kept], node[on_kept]
    start_nodes, lengths = row[starts[keep]], length[keep]

    # What no walk reached: isolated cycles (all nodes of degree 2), each from its lowest node along its
    # first neighbour, in the order of those nodes.
    reached = ends.copy()
    reached[node] = True
    loose = np.flatnonzero(~reached & (degrees == 2))
    if loose.size:
        graph = csr_matrix((np.ones(indices.size), indices, indptr), shape=(n_nodes, n_nodes))
        _, label = connected_components(graph[loose][:, loose], directed=False)
        lowest = np.sort(loose[np.unique(label, return_index=True)[1]])
        c_walk, c_step, c_node, _, c_length = _walk(indptr, indices, weights, degrees, lowest, indptr[lowest])
        path_of_step = np.concatenate((path_of_step, c_walk + start_nodes.size))
        step = np.concatenate((step, c_step))
        node = np.concatenate((node, c_node))
        start_nodes = np.concatenate((start_nodes, lowest))
        lengths = np.concatenate((lengths, c_length))

    path_indptr = np.zeros(start_nodes.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(path_of_step, minlength=start_nodes.size) + 1, out=path_indptr[1:])
    path_indices = np.empty(path_indptr[-1], dtype=np.int64)
    path_indices[path_indptr[:-1]] = start_nodes
    path_indices[path_indptr[path_of_step] + step] = node
    return path_indptr, path_indices, lengths


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

    weights = np.broadcast_to(_WEIGHTS, present.shape)[present]
    path_indptr, path_indices, lengths = _paths(indptr, indices, weights, degrees)
    return SkeletonGraph(
        coordinates=np.column_stack((rows, cols)),
        degrees=degrees,
        path_indptr=path_indptr,
        path_indices=path_indices,
        path_lengths=lengths,
    )
