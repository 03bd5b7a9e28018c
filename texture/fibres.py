"""Fibres traced in a collagen channel and linked through junctions, as CT-FIRE's FIRE does.

Method
------
1. **Ridges and skeleton**: a Sato ridge filter of the collagen channel (:func:`texture.filters.ridge_filter`)
   inside the given mask keeps the fibre cores (ridge response above ``ridge_fraction`` of its 95th
   percentile, plus mask pixels as bright as a typical core, since a crossing is a bright plateau whose
   ridge response vanishes); the cores are skeletonised and cut into branches between end and junction
   pixels (:mod:`texture._skeleton_graph`: skan's method, Nunez-Iglesias et al. 2018, *PeerJ* 6:e4312,
   with identical output, in numpy: nothing to compile).
2. **Junctions**: the junction pixels of one 8-connected cluster are one junction; two junctions joined by
   a branch no longer than the fibres' diameter there (``bridge`` below) are one crossing, the way two
   thick fibres crossing at a shallow angle skeletonise into two forks joined by a short bridge.
3. **Linking through junctions** (FIRE, Stein et al. 2008, *J Microsc* 232:463; as run by CT-FIRE, Bredfeldt
   et al. 2014, *J Biomed Opt* 19:016007): at each junction the direction in which every branch arrives is
   measured over ``direction_px`` of skeleton beyond the junction's own radius; the two branches whose
   directions continue each other best are joined into one fibre when they deviate by at most
   ``link_angle_deg`` from a straight continuation (CT-FIRE's ``thresh_linka`` = cos 150 degrees, i.e.
   30 degrees), then the next best pair, and so on. Two straight fibres crossing stay two fibres; a branch
   that leaves a fibre obliquely ends at the junction. Free ends at most ``link_gap_px`` apart whose
   outward directions point at each other within the same tolerance are joined across the gap (FIRE's
   ``thresh_linkd``, 15 px in CT-FIRE).
4. **Per-fibre measures** (CT-FIRE's ``fibFeatures`` definitions, see ``getFIRE.m`` of uw-loci/curvelets):
   ``length_px`` = length along the fibre (the skeleton staircase smoothed by a 2 px Gaussian along the
   path, plus the distance-transform radius at each free end, since the skeleton stops about one radius
   short of the tip); ``end_to_end_px`` = distance between the fibre's two ends (free ends extended by the
   same radius along the fibre's end direction); ``straightness`` = end-to-end / length (CT-FIRE's column
   "curvature", f8); ``width_px`` = 2 x median distance-transform radius along the skeleton - 0.5 (EDT is
   measured between pixel centres, see :func:`_measure`; CT-FIRE's width is 2 x *mean* radius at its
   vertices); ``angle_deg`` = direction of the end-to-end chord (CT-FIRE's ``M.angle_xy``), degrees
   counter-clockwise from +x as seen on screen, in [0, 180); ``centre_rc`` = midpoint of the two ends
   (CT-FIRE's fibre centre). Fibres shorter than ``min_length_px`` are dropped (CT-FIRE's default 30 px).

For TWOMBLI's descriptors (:mod:`texture.matrix`) the skeleton is returned with its spurs pruned (a
branch with one free end, shorter than ``spur_px``, at a junction of three or more branches; AnaMorf's
"minimum branch length", 10 px in TWOMBLI: Wershof et al. 2021, *Life Sci Alliance* 4:e202000880), with
its end and branch points counted by AnaMorf's rules. Fibres are linked on the unpruned branches: a spur is
shorter than any reported fibre, and on the CT-FIRE test images pruning before linking broke more fibres
than it joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.morphology import skeletonize

from texture._skeleton_graph import SkeletonGraph, skeleton_graph
from texture.filters import ridge_filter
from texture.matrix import skeleton_branch_points, skeleton_end_points

__all__ = ["Fibres", "trace_fibres", "fibre_table", "alignment_coefficient", "CTFIRE_MIN_LENGTH_PX"]

#: CT-FIRE's default minimum fibre length ("LL1", px).
CTFIRE_MIN_LENGTH_PX = 30.0

#: Two junctions joined by a branch no longer than this times the sum of their distance-transform
#: radii are one crossing: two fibres of width w crossing at an angle a overlap over about
#: w / sin(a / 2) px along their bisector; 2.5 (r1 + r2) keeps crossings down to 30 degrees (the
#: link tolerance) one junction on the phantoms of texture.phantoms.fibres.
_BRIDGE_FACTOR = 2.5

#: Gaussian (px along the path) that smooths the skeleton staircase before measuring length.
_PATH_SMOOTH_PX = 2.0


@dataclass
class Fibres:
    """Traced fibres: per-fibre measures in px and the skeleton they come from.

    Attributes
    ----------
    skeleton : ndarray of bool
        The pruned skeleton (all branches, including those of fibres below the minimum length).
    length_px, end_to_end_px, straightness, width_px, angle_deg : ndarray
        One value per fibre (see the module notes).
    centre_rc : ndarray, shape (n, 2)
        Midpoint of each fibre's two ends, (row, col).
    ends_rc : ndarray, shape (n, 2, 2)
        The two ends of each fibre, (row, col).
    segments : ndarray of int
        Number of skeleton branches joined into each fibre (1 = not linked through any junction).
    branch_points_rc, end_points_rc : ndarray, shape (m, 2)
        Junctions (centroid of each cluster of junction pixels) and free ends of the pruned skeleton.
    path_rc, path_indptr :
        Skeleton pixels of every fibre in order, concatenated (``path_rc[path_indptr[i]:path_indptr[i+1]]``).
    """

    skeleton: np.ndarray
    length_px: np.ndarray
    width_px: np.ndarray
    straightness: np.ndarray
    centre_rc: np.ndarray
    branch_points_rc: np.ndarray
    end_to_end_px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    angle_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ends_rc: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))
    segments: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    end_points_rc: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    path_rc: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int32))
    path_indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    @property
    def count(self) -> int:
        return int(self.length_px.size)

    def select(self, keep: np.ndarray) -> Fibres:
        """The fibres where ``keep`` is True (skeleton, end and branch points unchanged)."""
        keep = np.asarray(keep, dtype=bool)
        n_px = np.diff(self.path_indptr)
        which = np.repeat(keep, n_px)
        indptr = np.concatenate([[0], np.cumsum(n_px[keep])]).astype(np.int64)
        return Fibres(
            self.skeleton,
            self.length_px[keep],
            self.width_px[keep],
            self.straightness[keep],
            self.centre_rc[keep],
            self.branch_points_rc,
            self.end_to_end_px[keep],
            self.angle_deg[keep],
            self.ends_rc[keep],
            self.segments[keep],
            self.end_points_rc,
            self.path_rc[which],
            indptr,
        )


def _empty(shape: tuple[int, int]) -> Fibres:
    e = np.zeros(0)
    return Fibres(np.zeros(shape, dtype=bool), e, e, e, np.zeros((0, 2)), np.zeros((0, 2)))


def _check_trace_options(
    min_length_px: float, spur_px: float, link_angle_deg: float, direction_px: float, link_gap_px: float
) -> None:
    for name, value in (
        ("min_length_px", min_length_px),
        ("spur_px", spur_px),
        ("direction_px", direction_px),
        ("link_gap_px", link_gap_px),
    ):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not (0.0 <= link_angle_deg <= 90.0):
        raise ValueError(f"link_angle_deg must be within [0, 90] degrees, got {link_angle_deg!r}")


def trace_fibres(
    channel: np.ndarray,
    mask: np.ndarray,
    *,
    ridge_sigmas_px: Sequence[float] = (1.0, 2.0, 3.0),
    min_length_px: float = CTFIRE_MIN_LENGTH_PX,
    spur_px: float = 10.0,
    link_angle_deg: float = 30.0,
    direction_px: float = 10.0,
    link_gap_px: float = 15.0,
    ridge_fraction: float = 0.25,
    prune_rounds: int = 3,
) -> Fibres:
    """Fibres of a collagen channel, linked through junctions (see the module notes).

    Parameters
    ----------
    channel : ndarray
        Collagen channel (bright fibres), 2-D.
    mask : ndarray of bool
        Where fibres are traced (e.g. :func:`texture.collagen.fibre_mask`); also the mask whose distance
        transform gives the fibre widths.
    ridge_sigmas_px : sequence of float
        Scales of the Sato ridge filter (px).
    min_length_px : float
        Fibres shorter than this are dropped (CT-FIRE's default: 30 px).
    spur_px : float
        Spurs (branches with a free end) shorter than this are pruned from the returned skeleton
        (TWOMBLI's default minimum branch length: 10 px); fibres are linked before pruning.
    link_angle_deg : float
        Largest deviation from a straight continuation at which two branches meeting at a junction are
        one fibre (CT-FIRE: 30 degrees).
    direction_px : float
        Length of skeleton (px, beyond the junction's radius) over which a branch's arrival direction
        is measured.
    link_gap_px : float
        Free ends at most this far apart whose directions continue each other (within
        ``link_angle_deg``) are joined across the gap (CT-FIRE's ``thresh_linkd``: 15 px); 0 disables.
    ridge_fraction : float
        Ridge cores are where the ridge response exceeds this fraction of its 95th percentile in
        the mask.
    prune_rounds : int
        Rounds of spur pruning (a pruned spur may leave a shorter one behind).

    Returns
    -------
    Fibres
    """
    _check_trace_options(min_length_px, spur_px, link_angle_deg, direction_px, link_gap_px)
    mask = np.asarray(mask, dtype=bool)
    ridge = ridge_filter(channel, sigmas_px=list(ridge_sigmas_px))
    inside = ridge[mask]
    # A ridge response at float32 rounding level (a uniform image) is no ridge.
    if inside.size == 0 or np.percentile(inside, 95) <= 1e-6:
        return _empty(mask.shape)
    # Keep the ridge cores: drops the dim saddles between touching fibres, keeps each fibre whole.
    ridge_mask = mask & (ridge > ridge_fraction * np.percentile(inside, 95))
    del ridge, inside
    # Where fibres cross, the image is a bright plateau whose Hessian (hence ridge response) is ~0:
    # keep mask pixels at least as bright as a typical ridge core, so crossings stay connected.
    channel = np.asarray(channel)
    if ridge_mask.any():
        ridge_mask |= mask & (channel >= np.median(channel[ridge_mask]))
    skel_img = skeletonize(ridge_mask)
    dist = _distance_to_background(mask)

    skel = _skeleton_graph(skel_img)
    if skel is None or not skel.n_paths:
        out = _empty(mask.shape)
        out.skeleton = skel_img
        return out
    fibres = _link_and_measure(
        skel,
        dist,
        link_angle_deg=link_angle_deg,
        direction_px=direction_px,
        link_gap_px=link_gap_px,
        spur_px=spur_px,
        prune_rounds=prune_rounds,
    )
    # TWOMBLI's end and branch points are counted on the pruned skeleton, as AnaMorf does.
    fibres.end_points_rc = skeleton_end_points(fibres.skeleton)
    fibres.branch_points_rc = skeleton_branch_points(fibres.skeleton)
    return fibres.select(fibres.length_px >= min_length_px)


def _skeleton_graph(skel_img: np.ndarray) -> SkeletonGraph | None:
    # An isolated skeleton pixel is no fibre (length 0).
    u8 = skel_img.view(np.uint8)
    neighbours = cv2.filter2D(u8, cv2.CV_16S, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)
    skel_img &= neighbours > 1
    if not skel_img.any():
        return None
    return skeleton_graph(skel_img)


def _distance_to_background(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of each mask pixel to the nearest non-mask pixel (0 outside), float64.

    OpenCV's exact (Felzenszwalb) transform in float32, about 10x faster than
    ``scipy.ndimage.distance_transform_edt``; squared distances are integers, so rounding the
    square restores scipy's float64 values exactly. A mask without background falls back to
    scipy (OpenCV then returns "infinity").
    """
    if mask.all():
        return ndi.distance_transform_edt(mask)
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d = d.astype(np.float64)
    np.square(d, out=d)
    np.round(d, out=d)
    return np.sqrt(d, out=d)


def _link_and_measure(
    skel: SkeletonGraph,
    dist: np.ndarray,
    *,
    link_angle_deg: float,
    direction_px: float,
    link_gap_px: float,
    spur_px: float,
    prune_rounds: int,
) -> Fibres:
    """Group skeleton branches into fibres through junctions and across short gaps and measure them; prune
    spurs from the skeleton returned with them.

    Spurs are pruned on the branch graph, not by re-skeletonising: a branch shorter than ``spur_px``
    with one free end whose other end is a junction of at least three branches is dropped (its
    junction pixel stays), for ``prune_rounds`` rounds.
    """
    indptr = skel.path_indptr
    nodes = skel.path_indices
    coords_all = skel.coordinates.astype(np.int64)
    degrees = skel.degrees
    first, last = nodes[indptr[:-1]], nodes[indptr[1:] - 1]
    lengths = skel.path_lengths

    # Junction clusters: 8-connected junction pixels are one junction.
    junction_nodes = np.flatnonzero(degrees >= 3)
    jc = coords_all[junction_nodes]
    shape = dist.shape
    jimg = np.zeros(shape, dtype=bool)
    jimg[jc[:, 0], jc[:, 1]] = True
    lab, n_clusters = ndi.label(jimg, structure=np.ones((3, 3)))
    node_cluster = np.full(len(degrees), -1)
    node_cluster[junction_nodes] = lab[jc[:, 0], jc[:, 1]] - 1

    # Bridges: a branch between two junctions no longer than the fibre diameter there belongs to one
    # crossing (two forks of a skeletonised X), as does any branch within one cluster.
    ca, cb = node_cluster[first], node_cluster[last]
    radius_first = dist[coords_all[first, 0], coords_all[first, 1]]
    radius_last = dist[coords_all[last, 0], coords_all[last, 1]]
    both = (ca >= 0) & (cb >= 0)
    bridge = both & ((ca == cb) | (lengths <= _BRIDGE_FACTOR * (radius_first + radius_last)))
    # Clusters joined by bridges are one junction: connected components of the bridge graph.
    # (One dummy root when there is no junction, so that lookups below stay in bounds.)
    n_nodes = max(n_clusters, 1)
    graph = coo_matrix((np.ones(int(bridge.sum())), (ca[bridge], cb[bridge])), shape=(n_nodes, n_nodes))
    cluster_root = connected_components(graph, directed=False)[1].astype(int)

    # The junction (root cluster) at each branch end, -1 for a free end (or a loop's own pixel).
    end_j = np.stack(
        [
            np.where(ca >= 0, cluster_root[np.maximum(ca, 0)], -1),
            np.where(cb >= 0, cluster_root[np.maximum(cb, 0)], -1),
        ],
        axis=1,
    )
    free = np.stack([degrees[first] == 1, degrees[last] == 1], axis=1)

    # Spur pruning on the graph (see the docstring), for the skeleton that TWOMBLI's descriptors measure.
    # Fibres are linked on the unpruned graph: a spur is shorter than any reported fibre, and pruning it
    # before linking fragmented more fibres on the CT-FIRE test images than it joined.
    keep_path = ~bridge
    pruned = keep_path.copy()
    n_roots = max(n_clusters, 1)
    for _ in range(prune_rounds if spur_px > 0 else 0):
        alive_ends = end_j[pruned]
        count = np.bincount(alive_ends[alive_ends >= 0], minlength=n_roots)
        at_busy = (end_j >= 0) & (count[np.maximum(end_j, 0)] >= 3)
        spur = pruned & (lengths < spur_px) & ((free[:, 0] & at_busy[:, 1]) | (free[:, 1] & at_busy[:, 0]))
        if not spur.any():
            break
        pruned &= ~spur
    alive_ends = end_j[keep_path]
    count = np.bincount(alive_ends[alive_ends >= 0], minlength=n_roots)

    # The pruned skeleton: dropped spurs lose every pixel but junction pixels.
    skeleton = np.zeros(dist.shape, dtype=bool)
    alive_nodes = nodes[np.repeat(pruned | bridge, np.diff(indptr))]
    skeleton[coords_all[alive_nodes, 0], coords_all[alive_nodes, 1]] = True

    # Every kept branch end that sits on a junction: its arrival direction.
    kept = np.flatnonzero(keep_path)
    jp = np.repeat(kept, 2)
    je = np.tile([0, 1], kept.size)
    junction_of = end_j[jp, je]
    at_junction = junction_of >= 0
    at_junction[at_junction] = count[junction_of[at_junction]] >= 2
    jp, je, junction_of = jp[at_junction], je[at_junction], junction_of[at_junction]
    u_all = _arrival_directions(jp, je, indptr, nodes, coords_all, dist, direction_px)

    # Pair the branch ends at each junction, best continuation first (also where pruning left two:
    # a fibre does not turn a corner because a speck beside the corner was pruned).
    cos_tol = np.cos(np.deg2rad(link_angle_deg))
    partner: dict[tuple[int, int], tuple[int, int]] = {}
    # All pairs of ends at the same junction, vectorised: ends sorted by junction, then every offset.
    order = np.argsort(junction_of, kind="stable")
    jo, po, eo, uo = junction_of[order], jp[order], je[order], u_all[order]
    group_max = int(np.bincount(jo).max()) if jo.size else 0
    cand_i, cand_j = [], []
    for d in range(1, group_max):
        i = np.arange(jo.size - d)
        same = (jo[i] == jo[i + d]) & (po[i] != po[i + d])  # a loop back onto itself is no continuation
        cand_i.append(i[same])
        cand_j.append(i[same] + d)
    if cand_i:
        ci, cj = np.concatenate(cand_i), np.concatenate(cand_j)
        # Arrival directions point into the junction: a straight continuation has u_i = -u_j.
        c = -np.einsum("ij,ij->i", uo[ci], uo[cj])
        ok = c >= cos_tol
        ci, cj, c = ci[ok], cj[ok], c[ok]
        used = np.zeros(jo.size, dtype=bool)
        for k in np.argsort(-c, kind="stable"):
            i, j = ci[k], cj[k]
            if used[i] or used[j]:
                continue
            used[i] = used[j] = True
            a, b = (int(po[i]), int(eo[i])), (int(po[j]), int(eo[j]))
            partner[a] = b
            partner[b] = a

    if link_gap_px > 0:
        _link_gaps(
            partner,
            keep_path,
            free,
            coords_all,
            nodes,
            indptr,
            dist,
            direction_px,
            link_gap_px,
            cos_tol,
        )

    # Walk the chains of linked branches.
    visited = ~keep_path
    chains: list[list[tuple[int, bool]]] = []  # (path, reversed)

    def walk(p: int, entry_end: int) -> list[tuple[int, bool]]:
        chain = []
        while True:
            visited[p] = True
            chain.append((p, entry_end == 1))
            exit_end = 1 - entry_end
            nxt = partner.get((p, exit_end))
            if nxt is None or visited[nxt[0]]:
                return chain
            p, entry_end = nxt

    for p in np.flatnonzero(keep_path):
        if visited[p]:
            continue
        # Start from a chain end: follow the links backwards first.
        start, start_end = int(p), 0
        seen = {start}
        while True:
            back = partner.get((start, start_end))
            if back is None or back[0] in seen:
                break
            start, start_end = back[0], 1 - back[1]
            seen.add(start)
        chains.append(walk(start, start_end))

    # Concatenate each chain's pixels in order, all chains at once.
    segments = np.array([len(ch) for ch in chains], dtype=int)
    elem_p = np.array([p for ch in chains for p, _ in ch], dtype=np.int64)
    elem_rev = np.array([rev for ch in chains for _, rev in ch], dtype=bool)
    elem_chain = np.repeat(np.arange(len(chains)), segments)
    seg_start = indptr[elem_p]
    seg_len = indptr[elem_p + 1] - seg_start
    px_elem = np.repeat(np.arange(elem_p.size), seg_len)
    k = np.arange(px_elem.size) - np.repeat(np.cumsum(seg_len) - seg_len, seg_len)
    idx = np.where(elem_rev[px_elem], seg_start[px_elem] + seg_len[px_elem] - 1 - k, seg_start[px_elem] + k)
    pix = coords_all[nodes[idx]]
    # A branch that continues another at the same pixel (a junction pixel both contain) adds it once.
    dup = np.zeros(px_elem.size, dtype=bool)
    if px_elem.size > 1:
        same_chain = elem_chain[px_elem[1:]] == elem_chain[px_elem[:-1]]
        dup[1:] = (k[1:] == 0) & same_chain & np.all(pix[1:] == pix[:-1], axis=1)
    path_rc = pix[~dup].astype(np.int32)
    n_px = np.bincount(elem_chain[px_elem[~dup]], minlength=len(chains)).astype(np.int64)
    path_indptr = np.concatenate([[0], np.cumsum(n_px)]).astype(np.int64)
    first_elem = np.cumsum(segments) - segments
    last_elem = np.cumsum(segments) - 1
    free_start = free[elem_p[first_elem], np.where(elem_rev[first_elem], 1, 0)]
    free_end = free[elem_p[last_elem], np.where(elem_rev[last_elem], 0, 1)]
    closed = (n_px > 2) & np.all(
        path_rc[path_indptr[:-1]] == path_rc[np.maximum(path_indptr[1:] - 1, 0)], axis=1
    )
    free_start &= ~closed
    free_end &= ~closed

    length, e2e, straight, width, angle, ends = _measure(
        path_rc, path_indptr, closed, free_start, free_end, dist
    )

    return Fibres(
        skeleton=skeleton,
        length_px=length,
        width_px=width,
        straightness=straight,
        centre_rc=ends.mean(axis=1) if len(ends) else np.zeros((0, 2)),
        branch_points_rc=np.zeros((0, 2)),
        end_to_end_px=e2e,
        angle_deg=angle,
        ends_rc=ends,
        segments=segments,
        path_rc=path_rc,
        path_indptr=path_indptr,
    )


def _link_gaps(
    partner,
    keep_path,
    free,
    coords_all,
    nodes,
    indptr,
    dist,
    direction_px,
    link_gap_px,
    cos_tol,
) -> None:
    """Join free ends across gaps (FIRE's ``thresh_linkd``/``thresh_linka`` linking of fibre ends).

    Two free ends (skeleton end pixels) of different branches at most ``link_gap_px`` apart are one fibre
    when each end's outward direction points at the other end within the link tolerance; the best
    aligned pairs are joined first, each end at most once.
    """
    from scipy.spatial import cKDTree

    kept = np.flatnonzero(keep_path)
    fp = np.repeat(kept, 2)
    fe = np.tile([0, 1], kept.size)
    is_free = free[fp, fe]
    fp, fe = fp[is_free], fe[is_free]
    if fp.size < 2:
        return
    ends = list(zip(fp.tolist(), fe.tolist(), strict=True))
    end_idx = np.where(fe == 1, indptr[fp + 1] - 1, indptr[fp])
    pos_a = coords_all[nodes[end_idx]].astype(float)
    out_a = _arrival_directions(fp, fe, indptr, nodes, coords_all, dist, direction_px)
    cand = []
    for i, j in cKDTree(pos_a).query_pairs(r=float(link_gap_px)):
        if ends[i][0] == ends[j][0]:
            continue
        g = pos_a[j] - pos_a[i]
        norm = np.hypot(g[0], g[1])
        if norm == 0:
            continue
        g /= norm
        ci, cj = float(out_a[i] @ g), float(-(out_a[j] @ g))
        # Both ends must point across the gap, and the fibre must continue straight on.
        cont = -float(out_a[i] @ out_a[j])
        if min(ci, cj, cont) >= cos_tol:
            cand.append((min(ci, cj, cont), i, j))
    cand.sort(reverse=True)
    used: set[int] = set()
    for _, i, j in cand:
        if i in used or j in used:
            continue
        used.update((i, j))
        partner[ends[i]] = ends[j]
        partner[ends[j]] = ends[i]


def _arrival_directions(
    paths: np.ndarray,
    ends: np.ndarray,
    indptr: np.ndarray,
    nodes: np.ndarray,
    coords: np.ndarray,
    dist: np.ndarray,
    direction_px: float,
) -> np.ndarray:
    """Unit (drow, dcol) with which each branch ``paths[i]`` arrives at its end ``ends[i]`` (0 = first
    pixel, 1 = last), all at once.

    Measured between the points about ``radius`` and ``radius + direction_px`` pixels of skeleton back
    from the end, where ``radius`` is the distance-transform radius at the end: inside that radius the
    skeleton bends towards a junction's centre and says nothing about the fibre. Branches too short
    for that use their two ends.
    """
    if paths.size == 0:
        return np.zeros((0, 2))
    start = indptr[paths]
    n = indptr[paths + 1] - start
    end_idx = np.where(ends == 1, start + n - 1, start)
    end_rc = coords[nodes[end_idx]]
    r = dist[end_rc[:, 0], end_rc[:, 1]]
    near = np.minimum(np.maximum(np.round(r), 1), n - 1).astype(np.int64)
    far = np.minimum(near + max(round(direction_px), 2), n - 1).astype(np.int64)
    short = far <= near
    near[short] = 0
    far[short] = n[short] - 1
    # k pixels back from the end, along the branch.
    back = np.where(
        ends[:, None] == 1,
        start[:, None] + n[:, None] - 1 - np.stack([near, far], 1),
        start[:, None] + np.stack([near, far], 1),
    )
    v = (coords[nodes[back[:, 0]]] - coords[nodes[back[:, 1]]]).astype(float)
    norm = np.hypot(v[:, 0], v[:, 1])
    out = np.zeros_like(v)
    ok = norm > 0
    out[ok] = v[ok] / norm[ok, None]
    return out


def _measure(
    coords: np.ndarray,
    indptr: np.ndarray,
    closed: np.ndarray,
    free_start: np.ndarray,
    free_end: np.ndarray,
    dist: np.ndarray,
):
    """Length, end-to-end length, straightness, width, angle and ends of every fibre, all at once.

    Length = staircase-smoothed path length (:func:`_smoothed_lengths`) + the distance-transform radius
    (minus half a pixel) at each free end. Width = 2 * median radius - 0.5: the radius falls to zero over
    the last radius before each tip, hence the median; EDT is measured between pixel centres, so a centred
    skeleton of an odd width w has radius (w + 1) / 2 and one of an even width sits half a pixel
    off-centre with radius w / 2: 2 r - 0.5 is right on average over both.
    """
    n_px = np.diff(indptr)
    if n_px.size == 0:
        e = np.zeros(0)
        return e, e, e, e, e, np.zeros((0, 2, 2))
    start, stop = indptr[:-1], indptr[1:] - 1
    radii = dist[coords[:, 0], coords[:, 1]]
    steps = np.diff(coords.astype(float), axis=0)
    step_len = np.hypot(steps[:, 0], steps[:, 1])
    path_of = np.repeat(np.arange(n_px.size), n_px)
    same = path_of[1:] == path_of[:-1]
    raw = np.bincount(path_of[1:][same], weights=step_len[same], minlength=n_px.size)
    path_len = _smoothed_lengths(coords, indptr, closed, raw)

    end_radius = np.maximum(radii - 0.5, 0.0)
    ext0 = np.where(free_start, end_radius[start], 0.0)
    ext1 = np.where(free_end, end_radius[stop], 0.0)
    length = path_len + ext0 + ext1

    # End directions over the last few pixels, to extend free ends to the fibre tips.
    k = np.minimum(n_px - 1, 5)
    d0 = coords[start] - coords[start + k]
    d1 = coords[stop] - coords[stop - k]
    n0 = np.maximum(np.hypot(d0[:, 0], d0[:, 1]), 1e-12)[:, None]
    n1 = np.maximum(np.hypot(d1[:, 0], d1[:, 1]), 1e-12)[:, None]
    e0 = coords[start] + d0 / n0 * ext0[:, None]
    e1 = coords[stop] + d1 / n1 * ext1[:, None]
    ends = np.stack([e0, e1], axis=1)
    chord = e1 - e0
    e2e = np.hypot(chord[:, 0], chord[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = np.where(length > 0, np.minimum(e2e / length, 1.0), 1.0)
    # Screen angle: +x = +col, +y (up) = -row.
    angle = np.mod(np.degrees(np.arctan2(-chord[:, 0], chord[:, 1])), 180.0)

    ranked = radii[np.lexsort((radii, path_of))]
    lo = ranked[start + (n_px - 1) // 2]
    hi = ranked[start + n_px // 2]
    width = np.maximum(2.0 * (lo + hi) / 2.0 - 0.5, 1.0)
    return length, e2e, straight, width, angle, ends


def _smoothed_lengths(
    coords: np.ndarray, indptr: np.ndarray, closed: np.ndarray, raw: np.ndarray
) -> np.ndarray:
    """Length of every skeleton path after smoothing its pixel staircase, all paths in one pass.

    An 8-connected digital line at slope 0.4 is ~8 % longer (diagonal steps count sqrt 2) than
    the line it samples; a Gaussian of 2 px along the path removes the staircase but keeps bends
    of fibre scale. Paths of fewer than 5 pixels keep their ``raw`` length. Each path is padded
    by the filter radius as its own boundary mode would extend it (nearest, or wrap for closed
    loops), so one filter over the concatenation equals per-path filtering.
    """
    n_px = np.diff(indptr)
    out = raw.astype(float).copy()
    todo = np.flatnonzero(n_px >= 5)
    if todo.size == 0:
        return out
    radius = int(4.0 * _PATH_SMOOTH_PX + 0.5)  # scipy's default truncate = 4
    lens = n_px[todo]
    padded_len = lens + 2 * radius
    which = np.repeat(np.arange(todo.size), padded_len)
    offsets = np.concatenate([[0], np.cumsum(padded_len)[:-1]])
    k = np.arange(which.size) - offsets[which] - radius  # position in the path, -radius..L+radius
    length = lens[which]
    pos = np.where(closed[todo][which], np.mod(k, length), np.clip(k, 0, length - 1))
    src = indptr[todo][which] + pos
    xy = ndi.gaussian_filter1d(coords[src].astype(float), _PATH_SMOOTH_PX, axis=0, mode="nearest")
    interior = (k >= 0) & (k < length)
    xy = xy[interior]
    raw_xy = coords[src[interior]]
    which = which[interior]
    begin = np.concatenate([[0], np.cumsum(lens)[:-1]])
    end = begin + lens - 1
    # Pin the ends of open paths: "nearest" smoothing pulls them inwards by about a pixel.
    open_paths = ~closed[todo]
    xy[begin[open_paths]] = raw_xy[begin[open_paths]]
    xy[end[open_paths]] = raw_xy[end[open_paths]]
    steps = np.diff(xy, axis=0)
    step_len = np.hypot(steps[:, 0], steps[:, 1])
    same_path = which[1:] == which[:-1]
    out[todo] = np.bincount(which[1:][same_path], weights=step_len[same_path], minlength=todo.size)
    return out


def alignment_coefficient(angles_deg: np.ndarray, *, weights: np.ndarray | None = None) -> float:
    """CurveAlign's coefficient of alignment: mean resultant length of the doubled fibre angles.

    ``|sum w exp(2 i theta)| / sum w`` (``circ_r`` of the doubled angles in CurveAlign; Liu et al. 2020,
    *Front Bioeng Biotechnol* 8:1001): 1 when every fibre is parallel, 0 for isotropic fibres. CurveAlign
    reports it unweighted (``weights=None``); with fibre lengths as weights long fibres count more. NaN
    without fibres.
    """
    a = np.deg2rad(2.0 * np.asarray(angles_deg, dtype=float))
    w = np.ones_like(a) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != a.shape:
        raise ValueError(f"weights must have the shape of angles_deg {a.shape}, got {w.shape}")
    total = w.sum()
    if a.size == 0 or total <= 0:
        return float("nan")
    return float(np.hypot((w * np.cos(a)).sum(), (w * np.sin(a)).sum()) / total)


#: Columns of :func:`fibre_table`, in order.
FIBRE_TABLE_COLUMNS = (
    "fibre_id",
    "length_px",
    "length_um",
    "end_to_end_length_px",
    "end_to_end_length_um",
    "straightness",
    "width_px",
    "width_um",
    "angle_deg",
    "centre_x_px",
    "centre_y_px",
    "centre_x_um",
    "centre_y_um",
    "segments",
)


def fibre_table(
    fibres: Fibres, px_per_mm: float | None = None, *, offset_rc: tuple[float, float] = (0.0, 0.0)
) -> dict[str, list]:
    """Per-fibre table in the spirit of CT-FIRE's ``fibFeatures`` (column -> list), µm columns NaN
    without a scale; ``centre_x``/``centre_y`` are the column/row of the fibre centre (image axes, origin
    top-left, as CT-FIRE's end-point row/col) shifted by ``offset_rc`` (a tile's origin in its slide).
    """
    um = 1000.0 / px_per_mm if px_per_mm else float("nan")
    cx = fibres.centre_rc[:, 1] + offset_rc[1]
    cy = fibres.centre_rc[:, 0] + offset_rc[0]
    cols = {
        "fibre_id": list(range(1, fibres.count + 1)),
        "length_px": fibres.length_px,
        "length_um": fibres.length_px * um,
        "end_to_end_length_px": fibres.end_to_end_px,
        "end_to_end_length_um": fibres.end_to_end_px * um,
        "straightness": fibres.straightness,
        "width_px": fibres.width_px,
        "width_um": fibres.width_px * um,
        "angle_deg": fibres.angle_deg,
        "centre_x_px": cx,
        "centre_y_px": cy,
        "centre_x_um": cx * um,
        "centre_y_um": cy * um,
        "segments": fibres.segments,
    }
    return {k: [v.item() if hasattr(v, "item") else v for v in np.asarray(col)] for k, col in cols.items()}
