"""Full-face photos through the pipeline: one row per facial zone, iris scale, refused scales, no face.

Photos: the scikit-image astronaut portrait (NASA, public domain) and scikit-image's coffee cup (no face).
"""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from pipelines import analyze_folder
from pipelines.config import load_config
from pipelines.io.metadata import MetadataError

FAST = {"backend": "serial", "register": False, "color_correction": "none"}
ZONES_SEEN = {"glabella", "nose", "left_cheek", "right_cheek", "right_periorbital", "chin"}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    Image.fromarray(data.astronaut()).save(folder / "P01_s0_face.png")
    Image.fromarray(data.astronaut()).save(folder / "P01_s1_face.png")  # an identical follow-up
    out = folder / "out"
    return folder, out, analyze_folder(folder, out_dir=out, **FAST)


def test_one_row_per_visible_zone(faces):
    _, _, result = faces
    m = result.metrics
    for file in ("P01_s0_face.png", "P01_s1_face.png"):
        rows = m[m["file"] == file]
        # The photo's own whole-skin row plus one row per visible zone.
        assert set(rows["region"]) == ZONES_SEEN | {"face"}, sorted(rows["region"])
        zone_rows = rows[rows["region"] != "face"]
        assert (zone_rows["roi_area_px"] < rows[rows["region"] == "face"]["roi_area_px"].iloc[0]).all()
        assert zone_rows["red_area_fraction"].between(0, 1).all()
        assert zone_rows["red_lesion_count"].notna().all()
    # Her bangs cover the forehead and her hair the left temple: not measured, and said so.
    messages = " ".join(result.errors["message"])
    assert "zone forehead not measured" in messages and "zone left_periorbital not measured" in messages
    assert (result.errors["stage"] == "warning").all()


def test_iris_scale_recorded_per_image(faces):
    _, _, result = faces
    m = result.metrics
    assert (m["px_per_mm_source"] == "iris").all()
    # Hand measurement of the two irises: 6.8 and 7.4 px for 11.7 mm (tests/texture/test_face.py).
    assert m["px_per_mm"].iloc[0] == pytest.approx(7.1 / 11.7, rel=0.10)
    assert m["px_per_mm_uncertainty_pct"].between(4.3, 15).all()
    assert m["roi_area_cm2"].notna().all()  # mm columns filled from the iris scale


def test_identical_follow_up_changes_nothing_per_zone(faces):
    _, _, result = faces
    c = result.changes
    follow = c[(c["session"] == 1) & c["region"].isin(ZONES_SEEN)]
    assert not follow.empty
    assert np.nanmax(np.abs(follow["delta"].to_numpy(dtype=float))) == 0.0
    assert not follow["beyond_repeatability"].any()


def test_identical_follow_up_with_registration_changes_nothing_per_zone(tmp_path):
    # Default preparation of a follow-up (registration, common region, exposure normalisation): the zones
    # of an identical copy must still match the baseline's exactly.
    Image.fromarray(data.astronaut()).save(tmp_path / "P01_s0_face.png")
    Image.fromarray(data.astronaut()).save(tmp_path / "P01_s1_face.png")
    result = analyze_folder(tmp_path, backend="serial")
    c = result.changes
    follow = c[(c["session"] == 1) & c["region"].isin(ZONES_SEEN)]
    assert set(follow["region"]) == ZONES_SEEN
    assert np.nanmax(np.abs(follow["delta"].to_numpy(dtype=float))) == 0.0
    assert not result.errors["message"].str.contains("head pose").any()  # compared, and equal
    # The whole-face row too: without a given scale, its paired baseline is read at the follow-up's
    # iris scale (it was read at the assumed 25 px/mm: spot_count 2 -> 107 on an identical copy).
    every_row = c[c["session"] == 1]
    assert set(every_row["region"]) > ZONES_SEEN
    assert np.nanmax(np.abs(every_row["delta"].to_numpy(dtype=float))) == 0.0


def test_turned_follow_up_gets_a_pose_warning(tmp_path):
    # A shear of the face below the eye line (x += 0.12 (y - eye line)) moves the nose base sideways
    # against the eyes as a turned head does: ~8 deg of yaw by the landmarks, beyond the 5 deg limit.
    import cv2

    astronaut = data.astronaut()
    shear = np.float32([[1, 0.12, -0.12 * 103], [0, 1, 0]])
    turned = cv2.warpAffine(
        astronaut, shear, (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    Image.fromarray(astronaut).save(tmp_path / "P01_s0_face.png")
    Image.fromarray(turned).save(tmp_path / "P01_s1_face.png")
    # Default preparation: the follow-up carries its baseline (the pose is compared with it).
    result = analyze_folder(tmp_path, backend="serial")
    pose = result.errors[result.errors["message"].str.contains("head pose differs")]
    assert list(pose["file"]) == ["P01_s1_face.png"] and "yaw" in pose["message"].iloc[0]


def test_zone_overlay_written(faces):
    _, out, _ = faces
    overlays = list((out / "overlays").rglob("zones.jpg"))
    assert len(overlays) == 2
    with Image.open(overlays[0]) as im:
        assert max(im.size) <= 1024
    saved = pd.read_csv(out / "metrics.csv")
    assert set(saved["region"]) == ZONES_SEEN | {"face"}


def test_given_scale_wins_and_implausible_scale_is_refused(tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "P01_s0_face.png")
    # 1 px/mm (the eyes 43 mm apart: plausible, though the iris says ~0.6) is used as given.
    given = analyze_folder(tmp_path, px_per_mm=1.0, **FAST)
    assert (given.metrics["px_per_mm_source"] == "given").all()
    assert (given.metrics["px_per_mm"] == 1.0).all()
    assert given.metrics["px_per_mm_uncertainty_pct"].isna().all()
    # A whole face at 5000 px/mm: refused before any measurement (by the face, or earlier by the metadata).
    refused = analyze_folder(tmp_path, px_per_mm=5000, photo={"face": {"zones": True}}, **FAST)
    assert refused.metrics.empty
    assert (refused.errors["stage"] != "warning").sum() == 1
    # 20 px/mm passes as a close-up, but the face it holds would have its eyes 2 mm apart: refused.
    forced = analyze_folder(tmp_path, px_per_mm=20, photo={"face": {"zones": True}}, **FAST)
    assert forced.metrics.empty
    failed = forced.errors[forced.errors["stage"] != "warning"]
    assert list(failed["stage"]) == ["measure"] and "implausible" in failed["message"].iloc[0]


def test_no_face_gives_whole_skin_row_and_a_warning(tmp_path):
    Image.fromarray(data.coffee()).save(tmp_path / "P01_s0_face.png")
    result = analyze_folder(tmp_path, **FAST)
    assert list(result.metrics["region"]) == ["face"]
    warned = result.errors[result.errors["stage"] == "warning"]["message"]
    assert warned.str.contains("face zones not measured").any()
    assert result.errors[result.errors["stage"] != "warning"].empty


def test_user_roi_and_close_ups_get_no_zones(tmp_path):
    roi_dir, close_dir = tmp_path / "roi", tmp_path / "close"
    roi_dir.mkdir()
    close_dir.mkdir()
    Image.fromarray(data.astronaut()).save(roi_dir / "a.png")
    manifest = {"file": ["a.png"], "subject": ["P01"], "session": [0], "modality": ["photo"]}
    manifest.update(region=["cheek"], roi=["180 115, 210 115, 210 145, 180 145"])
    pd.DataFrame(manifest).to_csv(roi_dir / "manifest.csv", index=False)
    result = analyze_folder(roi_dir, **FAST)
    assert list(result.metrics["region"]) == ["cheek"]
    # A scale that makes the 512 px photo 20 mm wide: a close-up, no face is looked for (no warning).
    Image.fromarray(data.astronaut()).save(close_dir / "P01_s0_cheek.png")
    close = analyze_folder(close_dir, px_per_mm=25.6, **FAST)
    assert list(close.metrics["region"]) == ["cheek"]
    assert not close.errors["message"].str.contains("face").any()


def test_face_options_are_checked_before_work(tmp_path):
    for bad in ({"zones": "maybe"}, {"landmark_model": 17}, {"pose_limit_deg": {"yaw": -1}}, {"colour": 1}):
        with pytest.raises(MetadataError, match="face"):
            load_config(photo={"face": bad})
    assert load_config(photo={"face": {"zones": False}}).photo["face"] == {"zones": False}


def test_zones_can_be_switched_off(tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "P01_s0_face.png")
    result = analyze_folder(tmp_path, photo={"face": {"zones": False}}, **FAST)
    assert list(result.metrics["region"]) == ["face"]
    assert (result.metrics["px_per_mm_source"] == "none").all()
