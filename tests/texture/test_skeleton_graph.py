"""texture._skeleton_graph: hand-derived graphs, identity with skan (the peer it replaces) on random and
real skeletons, unchanged fibres, and no JIT compilation left in a fresh process (issue 18)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skan
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

import texture._skeleton_graph as graph_module
import texture.fibres as fibres_module
from texture._skeleton_graph import SkeletonGraph, skeleton_graph
from texture.collagen import analyze_collagen
from texture.phantoms.fibres import crossing_fibres, curved_fibres, star

ROOT = Path(__file__).resolve().parents[2]
SHG = ROOT / "tests" / "data" / "shg_curvealign"
SHG_IMAGES = ("2B_D9_ROI1", "2B_D9_ROI2")


def _skan(skel: np.ndarray) -> SkeletonGraph:
    s = skan.Skeleton(skel, spacing=1)
    return SkeletonGraph(
        coordinates=np.asarray(s.coordinates),
        degrees=np.asarray(s.degrees),
        path_indptr=np.asarray(s.paths.indptr),
        path_indices=np.asarray(s.paths.indices),
        path_lengths=np.asarray(s.path_lengths(), dtype=float),
    )


def _assert_same_as_skan(skel: np.ndarray) -> SkeletonGraph:
    ours, theirs = skeleton_graph(skel), _skan(skel)
    np.testing.assert_array_equal(ours.coordinates, theirs.coordinates)
    np.testing.assert_array_equal(ours.degrees, theirs.degrees)
    np.testing.assert_array_equal(ours.path_indptr, theirs.path_indptr)
    np.testing.assert_array_equal(ours.path_indices, theirs.path_indices)
    np.testing.assert_allclose(ours.path_lengths, theirs.path_lengths, rtol=0, atol=1e-12)
    return ours


def _without_isolated_pixels(skel: np.ndarray) -> np.ndarray:
    # As texture.fibres does before building the graph (skan cannot build a graph without an edge).
    return skel & (ndi.convolve(skel.astype(int), np.ones((3, 3), int), mode="constant") > 1)


# --- hand-derived truth -------------------------------------------------------------------------


def test_straight_and_diagonal_lines():
    skel = np.zeros((12, 12), bool)
    skel[2, 1:11] = True  # 10 px along x
    for k in range(5):  # 5 px diagonal
        skel[5 + k, 2 + k] = True
    g = skeleton_graph(skel)
    assert g.n_paths == 2
    np.testing.assert_array_equal(g.path_indptr, [0, 10, 15])
    np.testing.assert_array_equal(g.path_indices, np.arange(15))
    np.testing.assert_array_equal(g.degrees, [1] + [2] * 8 + [1] + [1, 2, 2, 2, 1])
    np.testing.assert_allclose(g.path_lengths, [9.0, 4 * np.sqrt(2)], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(g.coordinates[:3], [[2, 1], [2, 2], [2, 3]])


def test_diamond_cycle_closes_on_its_first_node():
    rc = [(0, 2), (1, 1), (1, 3), (2, 0), (2, 4), (3, 1), (3, 3), (4, 2)]  # raster order = node order
    skel = np.zeros((5, 5), bool)
    skel[tuple(np.transpose(rc))] = True
    g = skeleton_graph(skel)
    np.testing.assert_array_equal(g.coordinates, rc)
    np.testing.assert_array_equal(g.degrees, [2] * 8)
    # From node 0 along its first (lowest) neighbour, round the diamond and back to node 0.
    np.testing.assert_array_equal(g.path_indices, [0, 1, 3, 5, 7, 6, 4, 2, 0])
    np.testing.assert_array_equal(g.path_indptr, [0, 9])
    np.testing.assert_allclose(g.path_lengths, [8 * np.sqrt(2)], rtol=0, atol=1e-12)


def test_t_junction_drops_the_diagonal_edges_of_its_junction_pixels():
    # Bar along row 5 (cols 0-10, nodes 0-10), stem down col 5 (rows 6-10, nodes 11-15). The four
    # pixels around the meeting point all have >= 3 neighbours; their minimum spanning tree keeps the
    # three unit edges at (5, 5) and drops (5, 4)-(6, 5) and (5, 6)-(6, 5).
    skel = np.zeros((11, 11), bool)
    skel[5, :] = True
    skel[6:, 5] = True
    g = skeleton_graph(skel)
    expected_degrees = np.full(16, 2)
    expected_degrees[[0, 10, 15]] = 1
    expected_degrees[5] = 3
    np.testing.assert_array_equal(g.degrees, expected_degrees)
    np.testing.assert_array_equal(g.path_indptr, [0, 6, 12, 18])
    np.testing.assert_array_equal(
        g.path_indices, [0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 5, 11, 12, 13, 14, 15]
    )
    np.testing.assert_allclose(g.path_lengths, [5.0, 5.0, 5.0], rtol=0, atol=1e-12)


def test_empty_and_bad_input():
    g = skeleton_graph(np.zeros((4, 4), bool))
    assert g.n_paths == 0 and g.coordinates.shape == (0, 2) and g.path_lengths.size == 0
    with pytest.raises(ValueError, match="2-D"):
        skeleton_graph(np.zeros((4, 4, 3), bool))


# --- identity with skan -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("few_walks", [0, 16, 10**9])
def test_same_as_skan_on_skeletons_of_random_blobs(seed, few_walks, monkeypatch):
    # Walks advance vectorised while more than _FEW_WALKS are left, then one by one: both ways, alone
    # (0: all vectorised; 10**9: all one by one) and mixed (the default).
    monkeypatch.setattr(graph_module, "_FEW_WALKS", few_walks)
    rng = np.random.default_rng(seed)
    noise = ndi.gaussian_filter(rng.random((90, 117)), 1.5 + seed % 3)
    # Blobs with holes give cycles, crosses and T-junctions; they touch the image border.
    skel = _without_isolated_pixels(skeletonize(noise > np.percentile(noise, 35 + 5 * seed)))
    g = _assert_same_as_skan(skel)
    assert g.n_paths > 10 and (g.degrees >= 3).any()
    assert skel[[0, -1], :].any() or skel[:, [0, -1]].any()


@pytest.mark.parametrize("density", [0.25, 0.4, 0.6])
def test_same_as_skan_on_random_pixels(density):
    # Not skeletons at all: 2x2 blocks and clusters of junction pixels everywhere, many tied weights
    # for the minimum spanning tree, isolated cycles.
    rng = np.random.default_rng(int(density * 100))
    skel = _without_isolated_pixels(rng.random((60, 70)) < density)
    blocks = skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]
    assert blocks.any()
    _assert_same_as_skan(skel)


def test_same_as_skan_on_hard_shapes():
    skel = np.zeros((40, 40), bool)
    skel[0, :] = True  # along the top border
    skel[:, 0] = True  # and the left one: a corner
    skel[10:14, 10:14] = True  # a solid 4x4 block of junction pixels
    skel[12, 14:20] = True
    skel[20, 20:30] = True  # a cross
    skel[15:26, 25] = True
    rr, cc = np.nonzero(np.hypot(*np.mgrid[-5:6, -5:6]).round() == 4)  # an isolated ring
    skel[rr + 30, cc + 8] = True
    skel[30:, 35] = True  # touching the bottom border
    skel[35, 35:] = True  # and the right one
    skel[25, 2:4] = skel[26, 3:5] = True  # a 2-pixel staircase (L-shaped triangle of neighbours)
    _assert_same_as_skan(skel)


def _captured_shg_skeletons(monkeypatch) -> list[np.ndarray]:
    import tifffile

    captured = []
    real = fibres_module.skeleton_graph

    def capture(skel):
        captured.append(skel.copy())
        return real(skel)

    monkeypatch.setattr(fibres_module, "skeleton_graph", capture)
    for name in SHG_IMAGES:
        grey = tifffile.imread(SHG / f"{name}.tif").astype(float) / 255.0
        analyze_collagen(np.repeat(grey[..., None], 3, axis=2), stain="shg", mask=np.ones(grey.shape, bool))
    return captured


def test_same_as_skan_on_the_shg_skeletons(monkeypatch):
    skeletons = _captured_shg_skeletons(monkeypatch)
    assert len(skeletons) == len(SHG_IMAGES)
    for skel in skeletons:
        g = _assert_same_as_skan(skel)
        assert g.n_paths > 500


def _fibres_both_ways(monkeypatch, rgb):
    mask = np.ones(rgb.shape[:2], bool)
    ours = analyze_collagen(rgb, stain="shg", mask=mask)
    monkeypatch.setattr(fibres_module, "skeleton_graph", _skan)
    theirs = analyze_collagen(rgb, stain="shg", mask=mask)
    monkeypatch.undo()
    return ours, theirs


@pytest.mark.parametrize("case", ["2B_D9_ROI1", "crossing", "star", "curved"])
def test_fibres_unchanged_from_skan(monkeypatch, case):
    if case.startswith("2B"):
        import tifffile

        grey = tifffile.imread(SHG / f"{case}.tif").astype(float) / 255.0
        rgb = np.repeat(grey[..., None], 3, axis=2)
    else:
        phantom = {
            "crossing": lambda: crossing_fibres(angles_deg=(10.0, 40.0, 130.0), width_px=5.0, seed=3),
            "star": lambda: star(arms=4),
            "curved": lambda: curved_fibres(arc_deg=150.0),
        }[case]()
        rgb = phantom.rgb
    ours, theirs = _fibres_both_ways(monkeypatch, rgb)
    assert ours.fibres.count > 0
    for f in dataclasses.fields(ours.fibres):
        np.testing.assert_array_equal(getattr(ours.fibres, f.name), getattr(theirs.fibres, f.name), f.name)
    a, b = ours.sums.metrics(), theirs.sums.metrics()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], key)


# --- nothing to compile ---------------------------------------------------------------------------

_CHILD = """
import sys
import numpy as np
from texture.fibres import trace_fibres
from texture.phantoms.fibres import star

phantom = star(arms=3)
assert trace_fibres(phantom.grey, np.ones(phantom.grey.shape, bool)).count == 3
print(sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "skan", "llvmlite")))
"""


def test_fibres_in_a_fresh_process_compile_nothing():
    # Issue 18: skan's numba kernels were compiled in every fresh process (4.5-6.7 s). The fibre
    # tracer now needs no JIT at all, so it must not even import numba.
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
