"""A follow-up full-face photo is measured in its baseline's zones (pipelines.assays.face.paired_zone_rows).

The edit: the same face photographed with the camera rolled by 3 deg. A camera does not smooth what it
rotates, so the roll is applied to a 4x Lanczos enlargement (the "scene") and both photos are that scene
reduced back with area averaging (as tests/pipelines/metamorphic.py views its geometric edits); a roll by
bilinear interpolation at photo size alone lowers the 1-px GLCM contrast by ~25 %, an artefact of the edit.

Photos: the scikit-image astronaut portrait (NASA, public domain) and the synthetic face of
texture.phantoms.face (no lines drawn; pores of 0.5-1 mm).
"""

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from pipelines import analyze_folder
from pipelines.assays.face import _flat_outside, zone_rows
from pipelines.assays.photo import analyze_photo
from texture.phantoms.face import render_face
from texture.zones import FaceZones


def _camera_roll(scene: np.ndarray, degrees: float, factor: int) -> np.ndarray:
    rows, cols = scene.shape[:2]
    matrix = cv2.getRotationMatrix2D(((cols - 1) / 2, (rows - 1) / 2), degrees, 1.0)
    turned = cv2.warpAffine(
        scene, matrix, (cols, rows), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT
    )
    return _view(turned, factor)


def _view(scene: np.ndarray, factor: int) -> np.ndarray:
    rows, cols = scene.shape[:2]
    small = cv2.resize(scene, (cols // factor, rows // factor), interpolation=cv2.INTER_AREA)
    return (np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8)


def _pair(folder, scene: np.ndarray, factor: int):
    Image.fromarray(_view(scene, factor)).save(folder / "P01_s0_face.png")
    Image.fromarray(_camera_roll(scene, 3.0, factor)).save(folder / "P01_s1_face.png")
    result = analyze_folder(folder, out_dir=folder / "out", backend="serial", cache=False)
    paired = pd.read_csv(folder / "out" / "paired_baseline.csv")
    return result, paired


@pytest.fixture(scope="module")
def astronaut_pair(tmp_path_factory):
    scene = cv2.resize(
        data.astronaut().astype(np.float32) / 255, None, fx=4, fy=4, interpolation=cv2.INTER_LANCZOS4
    )
    return _pair(tmp_path_factory.mktemp("astro"), scene, 4)


@pytest.fixture(scope="module")
def phantom_pair(tmp_path_factory):
    scene = render_face(px_per_mm=8.0, seed=1).rgb.astype(np.float32)  # viewed at 4 px/mm
    return _pair(tmp_path_factory.mktemp("phantom"), scene, 2)


def _zone_changes(result) -> pd.DataFrame:
    c = result.changes
    return c[(c["session"] == 1) & (c["region"] != "face")]


@pytest.mark.parametrize("which", ["astronaut_pair", "phantom_pair"])
def test_follow_up_zones_cover_the_baselines_skin(which, request):
    result, paired = request.getfixturevalue(which)
    m = result.metrics
    follow = m[(m["session"] == 1) & (m["region"] != "face")].set_index("region")["roi_area_px"]
    base = paired[paired["metric"] == "roi_area_px"].set_index("region")["baseline_value"]
    zones = sorted(set(follow.index))
    assert len(zones) >= 6 and set(zones) <= set(base.index)
    # The same skin mapped by the registration: equal areas up to nearest-neighbour resampling of the
    # mask (its own landmarks had put the astronaut's right cheek at -13.5 %).
    ratio = follow[zones] / base[zones]
    assert ratio.between(0.99, 1.01).all(), ratio.to_dict()
    # The paired baseline of a zone is the zone's own, not the whole photo's.
    assert not np.allclose(base[zones].to_numpy(), base.get("face", np.nan))


def test_phantom_zones_keep_their_measurements_under_a_roll(phantom_pair):
    result, _ = phantom_pair
    zc = _zone_changes(result)
    assert zc["region"].nunique() == 8
    flagged = zc[zc["beyond_repeatability"].fillna(False).astype(bool)]
    # Known misses, measured (not hidden): chains of 2-4 px pores read as a few forehead "wrinkles" in one
    # photo and not the other (the phantom draws no line), and the angular second moment at 1 L* bins
    # moves 6-9 % in three zones (limit 5.5 %). Everything else is within repeatability.
    allowed = flagged["metric"].str.match(r"(wrinkle|line)_|glcm_angular_second_moment")
    assert allowed.all(), flagged[~allowed][["region", "metric", "delta", "srd"]].to_string()
    for metric in ("pore_count", "ita_deg", "red_area_fraction", "texture_roughness", "glcm_contrast"):
        rows = zc[zc["metric"] == metric]
        assert len(rows) == 8 and not rows["beyond_repeatability"].fillna(False).astype(bool).any(), metric


@pytest.mark.xfail(
    strict=True,
    reason="issue 17 goal not met: a 3 deg roll of the astronaut leaves 16 of 183 zone x metric cells beyond "
    "repeatability (spots and red areas of 2-5 px at 0.66 px/mm, GLCM in 300-1000 px zones)",
)
def test_astronaut_zones_within_repeatability_under_a_roll(astronaut_pair):
    result, _ = astronaut_pair
    assert not _zone_changes(result)["beyond_repeatability"].fillna(False).astype(bool).any()


def test_structures_next_to_a_zone_do_not_reach_into_it():
    # Skin with a dark brow-like bar just outside a rectangular zone, inside the zone's bounding box
    # margin: the zone must read as the same zone without the bar (no line, same lightness spread).
    rng = np.random.default_rng(3)
    skin = np.clip(np.array([0.78, 0.60, 0.52]) + rng.normal(0, 0.004, (200, 300, 3)), 0, 1)
    barred = skin.copy()
    barred[40:50, 40:260] = [0.25, 0.18, 0.15]  # 2.5 mm wide at 4 px/mm, 4 rows above the zone
    mask = np.zeros((200, 300), bool)
    mask[54:160, 40:260] = True
    zones = FaceZones({"forehead": mask}, {"forehead": np.zeros((0, 2))}, np.zeros_like(mask))
    common = dict(px_per_mm=4.0, photo_options={}, columns={}, measure=analyze_photo)
    (plain,), _ = zone_rows(skin, zones, **common)
    (near,), _ = zone_rows(barred, zones, **common)
    assert near["line_count"] == plain["line_count"] == 0
    assert near["pigment_lightness_sd"] == pytest.approx(plain["pigment_lightness_sd"], rel=0.02)
    out = _flat_outside(barred, mask)
    assert np.array_equal(out[mask], barred[mask]) and np.ptp(out[~mask], axis=0).max() == 0
