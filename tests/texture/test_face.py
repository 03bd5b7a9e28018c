"""Face detection, head pose and the iris scale (texture.face).

Real photo: the scikit-image astronaut portrait (NASA, public domain). Hand measurements below were read
by eye from 30x enlargements of the image with a 1-pixel grid (row by row, the white-to-white limbus
crossing of each iris, and the pixel centres of the pupils), before any comparison with the code.
"""

import numpy as np
import pytest
from skimage import data, transform, util

from texture.face import (
    HVID_MM,
    POSE_LIMIT_DEG,
    Face,
    check_face_scale,
    detect_face,
    estimate_pose,
    face_support,
    iris_scale,
    pose_difference,
    pose_warning,
)
from texture.phantoms.face import render_face
from texture.phantoms.photo import render_skin

# Hand marks on the astronaut (x, y px).
PUPIL_RIGHT = (203.5, 101.0)  # subject's right eye = image left
PUPIL_LEFT = (246.5, 102.5)
HVID_HAND_PX = {"right": 6.8, "left": 7.4}  # each +-0.6 px (edge pixels are mixed)


@pytest.fixture(scope="module")
def astronaut():
    return util.img_as_float(data.astronaut())


@pytest.fixture(scope="module")
def astro_face(astronaut):
    found = detect_face(astronaut)
    assert found, found.reason
    return found.face


def test_face_extra_is_installed():
    # The test extra installs the face extra: zones must be testable in a fresh clone.
    ok, why = face_support()
    assert ok, why


def test_astronaut_face_and_landmarks(astro_face):
    x0, y0, x1, y1 = astro_face.box_xyxy
    for px, py in (PUPIL_RIGHT, PUPIL_LEFT):
        assert x0 < px < x1 and y0 < py < y1
    # The eye centres (mean of the two corners) lie within 3 px of the hand-marked pupils.
    assert np.hypot(*(astro_face.eye_centre("right") - PUPIL_RIGHT)) < 3.0
    assert np.hypot(*(astro_face.eye_centre("left") - PUPIL_LEFT)) < 3.0
    # Subject's left eye is on the image right; the nose base is below and between the eyes.
    assert astro_face.point("left_eye_outer")[0] > astro_face.point("right_eye_outer")[0]
    nose = astro_face.point("nose_base")
    assert PUPIL_RIGHT[0] < nose[0] < PUPIL_LEFT[0] and nose[1] > PUPIL_LEFT[1] + 20
    assert astro_face.model == "dlib-5"


def test_astronaut_iris_scale_matches_hand_measurement(astronaut, astro_face):
    scale = iris_scale(astronaut, astro_face)
    assert scale.px_per_mm is not None, scale.reason
    hand = np.mean(list(HVID_HAND_PX.values())) / HVID_MM
    assert scale.px_per_mm == pytest.approx(hand, rel=0.10)
    for side, value in HVID_HAND_PX.items():
        assert abs(scale.diameter_px[side] - value) < 1.0  # hand +-0.6 px, code +-0.35 px per edge
    # A 7 px iris: the uncertainty must say more than the population spread alone (4.3 %).
    assert 4.3 < scale.uncertainty_pct < 15


def test_iris_scale_follows_a_known_enlargement(astronaut, astro_face):
    # Known edit of the real photo: enlarged 4x (bicubic). The iris must read 4x as wide (within 5 %),
    # even though the lashes, sharp at this size, are darker than the iris on some rows.
    big = np.clip(transform.rescale(astronaut, 4, order=3, channel_axis=-1), 0, 1)
    native = iris_scale(astronaut, astro_face)
    scaled = iris_scale(big, detect_face(big).face)
    assert scaled.px_per_mm == pytest.approx(4 * native.px_per_mm, rel=0.05)


@pytest.mark.parametrize("px_per_mm", [1.0, 2.0, 4.0, 7.3])
def test_iris_scale_on_phantom(px_per_mm):
    ph = render_face(px_per_mm=px_per_mm, pore_density_per_cm2=2.0)
    scale = iris_scale(ph.rgb, Face.from_landmarks(ph.landmarks))
    assert scale.px_per_mm == pytest.approx(px_per_mm, rel=0.01)
    # Documented budget: population 0.5 / 11.7 and edges sqrt(2) * 0.35 px / HVID / sqrt(2 eyes); the two
    # drawn eyes are identical, so their difference adds nothing.
    hvid_px = HVID_MM * px_per_mm
    expected = 100 * np.hypot(0.5 / 11.7, 0.35 / hvid_px)
    assert scale.uncertainty_pct == pytest.approx(expected, rel=0.02)


def test_iris_scale_unresolved_or_closed_eyes_has_reason():
    ph = render_face(px_per_mm=0.3, pore_density_per_cm2=0.5)  # iris 3.5 px
    scale = iris_scale(ph.rgb, Face.from_landmarks(ph.landmarks))
    assert scale.px_per_mm is None and "not resolved" in scale.reason
    closed = render_face(px_per_mm=3.0, pore_density_per_cm2=2.0)
    rgb = closed.rgb.copy()
    for side in ("left_eye", "right_eye"):  # paint the eyes over with skin: no iris edge anywhere
        rgb[closed.masks[side]] = np.median(rgb[closed.masks["face"]], axis=0)
    scale = iris_scale(rgb, Face.from_landmarks(closed.landmarks))
    assert scale.px_per_mm is None and "no iris edge" in scale.reason


def test_no_face_is_none_with_reason_not_an_exception():
    for image in (util.img_as_float(data.coffee()), render_skin(size_mm=(30, 20), px_per_mm=20).rgb):
        found = detect_face(image)
        assert not found and found.face is None and found.reason


def _project(yaw, pitch, roll, scale=10.0, centre=(500.0, 400.0), drop=47.0):
    """The module's generic face (documented mm values; ``drop``: subnasale below the eyes) seen at the
    given pose, weak perspective."""
    pts = {
        "left_eye_outer": (46.0, 0.0, -5.0),
        "left_eye_inner": (16.0, 0.0, 5.0),
        "right_eye_outer": (-46.0, 0.0, -5.0),
        "right_eye_inner": (-16.0, 0.0, 5.0),
        "nose_base": (0.0, drop, 18.0),
    }
    y, p, r = np.radians([yaw, pitch, roll])
    # Yaw about the vertical axis (nose toward +x for yaw > 0), pitch about x (chin up for pitch > 0:
    # the nose base moves up), then roll in the image plane (counter-clockwise on screen for roll > 0).
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    out = {}
    for name, v in pts.items():
        x3 = ry @ rx @ np.array(v)
        x, yy = x3[0], x3[1]
        xr = x * np.cos(r) + yy * np.sin(r)
        yr = -x * np.sin(r) + yy * np.cos(r)
        out[name] = (centre[0] + scale * xr, centre[1] + scale * yr)
    return Face.from_landmarks(out)


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (10, 0, 0), (-20, 5, 0), (5, -8, 12), (30, 10, -20)])
def test_pose_of_projected_generic_face(yaw, pitch, roll):
    pose = estimate_pose(_project(yaw, pitch, roll))
    assert pose.roll_deg == pytest.approx(roll, abs=0.01)
    assert pose.yaw_deg == pytest.approx(yaw, abs=0.5)
    assert pose.pitch_deg == pytest.approx(pitch, abs=0.5)


def test_long_midface_gives_no_pitch_and_a_finite_yaw():
    # A subject whose nose base sits 60 mm below the eyes (the generic face: 47 mm) cannot be matched by
    # the generic face at any pitch: pitch is NaN, yaw still read from the nose base's sideways shift.
    for yaw, roll in ((0.0, 0.0), (10.0, 4.0), (-15.0, -6.0)):
        pose = estimate_pose(_project(yaw, 0, roll, drop=60.0))
        assert np.isnan(pose.pitch_deg) and pose.roll_deg == pytest.approx(roll, abs=0.01)
        assert pose.yaw_deg == pytest.approx(yaw, abs=0.5)
    assert pose_warning(pose, estimate_pose(_project(-15.0, 0, 0))) is None


def test_pose_warning_limits():
    base = estimate_pose(_project(0, 0, 0))
    assert pose_warning(estimate_pose(_project(3, -3, 15)), base) is None  # roll is registration's job
    msg = pose_warning(estimate_pose(_project(8, 0, 0)), base)
    assert msg is not None and "yaw" in msg and "pitch" not in msg.split("(")[0]
    assert pose_difference(estimate_pose(_project(0, 7, 0)), base)["pitch"] == pytest.approx(7, abs=0.5)
    assert POSE_LIMIT_DEG == {"yaw": 5.0, "pitch": 5.0}
    with pytest.raises(ValueError, match="pose limits"):
        pose_warning(base, base, limit_deg={"yaw": -1})


def test_rotated_astronaut_gives_the_rotation_as_roll(astronaut, astro_face):
    turned = transform.rotate(astronaut, 3.0, resize=False, mode="edge")  # 3 deg counter-clockwise
    face = detect_face(turned).face
    diff = pose_difference(estimate_pose(face), estimate_pose(astro_face))
    assert diff["roll"] == pytest.approx(3.0, abs=1.0)
    # Yaw and pitch must not change beyond what a 1 px landmark shift does on this small face (eyes
    # 43 px apart): 1 px of nose-base shift is atan(1/43 * 62/18) = 4.6 deg of yaw and ~4 deg of pitch.
    one_px_deg = np.degrees(np.arctan(1 / astro_face.interocular_px * 62 / 18))
    assert abs(diff["yaw"]) < one_px_deg and abs(diff["pitch"]) < one_px_deg


def test_implausible_scale_is_refused(astro_face):
    assert check_face_scale(astro_face, None) is None
    assert check_face_scale(astro_face, 0.62) == 0.62  # eyes 69 mm apart
    with pytest.raises(ValueError, match="implausible"):
        check_face_scale(astro_face, 5000.0)
    with pytest.raises(ValueError, match="implausible"):
        check_face_scale(astro_face, 0.2)


def test_face_validation():
    with pytest.raises(ValueError, match="miss"):
        Face.from_landmarks({"nose_base": (1.0, 2.0)})
    with pytest.raises(ValueError, match="landmark_model"):
        face_support("17")
