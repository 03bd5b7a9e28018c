"""Faces in full-face clinic photos: detection, landmarks, head pose and a scale from the iris.

Detection and landmarks use dlib (optional extra ``skintex[face]``: the ``dlib-bin`` wheels and the model
files of the ``face-recognition-models`` package; nothing is downloaded at run time):

- **Face box**: dlib's HOG + linear SVM frontal face detector (Dalal & Triggs, CVPR 2005; King, JMLR 2009),
  compiled into the dlib library (Boost Software License). It is run on a copy reduced to
  ``work_long_side_px`` so a 12-megapixel photo costs the same as a web image.
- **Landmarks** (default): dlib's 5-point shape predictor (an ensemble of regression trees, Kazemi &
  Sullivan, CVPR 2014) trained by D. King on his own CC0 dataset: outer and inner corner of each eye and
  the base of the nose (subnasale). The 68-point predictor of the same package was trained on iBUG 300-W,
  whose licence excludes commercial use: it is used only when asked for (``landmark_model="68"``) and its
  licence is stated in :data:`LANDMARK_MODELS`. docs/face.md gives the reasoning.

Left and right are the **subject's** (anatomical) sides, as in clinical notes: in a photo taken by a
camera (not a mirrored selfie) the subject's left eye is on the image's right.

Head pose (:func:`estimate_pose`) comes from the five points and a generic adult face (weak perspective);
the absolute angles carry the subject's own anatomy as a bias of several degrees, which cancels in the
difference between two sessions of the same subject, the use it is made for (:func:`pose_difference`).

The iris gives a scale without a ruler (:func:`iris_scale`): the horizontal visible iris diameter (HVID,
"white to white") of adults is 11.7 mm with a between-person SD of about 0.4-0.5 mm (Rüfer, Schröder & Erb,
Cornea 2005;24:259-261), i.e. a ~4 % uncertainty for one subject before any measurement error.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from texture.color import srgb_to_linear
from texture.measurement import check_rgb, check_scale

__all__ = [
    "Face",
    "FaceSearch",
    "Pose",
    "IrisScale",
    "LANDMARK_MODELS",
    "FIVE_POINT_NAMES",
    "HVID_MM",
    "HVID_SD_MM",
    "POSE_LIMIT_DEG",
    "INTEROCULAR_RANGE_MM",
    "face_support",
    "detect_face",
    "estimate_pose",
    "pose_difference",
    "pose_warning",
    "iris_scale",
    "check_face_scale",
]

#: The five landmarks every :class:`Face` carries, in dlib's 5-point order.
FIVE_POINT_NAMES: tuple[str, ...] = (
    "left_eye_outer",
    "left_eye_inner",
    "right_eye_outer",
    "right_eye_inner",
    "nose_base",
)

#: Landmark models: file in the ``face_recognition_models`` package, and the licence of model and data.
LANDMARK_MODELS: dict[str, dict[str, str]] = {
    "5": {
        "file": "shape_predictor_5_face_landmarks.dat",
        "licence": "CC0 1.0 (model and training data by D. King, dlib 5-point face landmark dataset)",
    },
    "68": {
        "file": "shape_predictor_68_face_landmarks.dat",
        "licence": (
            "trained on iBUG 300-W, whose licence excludes commercial use: research use only, "
            "ask Imperial College London before any commercial or clinical-service use"
        ),
    },
}

# dlib's 68-point indices of the five points above (iBUG 300-W mark-up, 0-based).
_FIVE_FROM_68 = (45, 42, 36, 39, 33)

#: Horizontal visible iris diameter of adults and its between-person SD, mm (Rüfer et al., Cornea 2005).
HVID_MM = 11.7
HVID_SD_MM = 0.5

#: Largest yaw / pitch difference (degrees) of a follow-up against its baseline before a warning. At 5 deg
#: the foreshortening of a cheek facing ~40 deg away from the camera changes its projected area by ~8 %
#: (cos 40 deg vs cos 45 deg), the order of the photo metrics' session-to-session repeatability; roll is
#: in-plane and is undone by registration, so it has no limit here.
POSE_LIMIT_DEG: dict[str, float] = {"yaw": 5.0, "pitch": 5.0}

#: Interocular distance (eye centre to eye centre, mm) a real adult face can have: adult interpupillary
#: distances span ~50-75 mm (Dodgson, Proc SPIE 2004); a scale implying a distance outside this wider
#: range is not a scale of this face.
INTEROCULAR_RANGE_MM: tuple[float, float] = (40.0, 90.0)

# Generic adult face for the pose model, mm, relative to the midpoint of the eye centres (x to the image
# right in a frontal view, y down, z toward the camera). Eye centre = mean of the canthi: half interocular
# distance 31 mm (en-en 32 mm, ex-ex 92 mm); subnasale 47 mm below the eye line and ~18 mm in front of the
# canthal plane (Farkas, Anthropometry of the Head and Face, 1994, adult means rounded).
_GENERIC_HALF_IOD_MM = 31.0
_GENERIC_NOSE_DROP_MM = 47.0
_GENERIC_NOSE_DEPTH_MM = 18.0


@dataclass(frozen=True)
class Face:
    """A detected face: box, landmarks (x, y in px of the analysed image) and where they came from.

    Attributes
    ----------
    box_xyxy : (x0, y0, x1, y1)
        Face box from the detector, px.
    landmarks : mapping of str to (x, y)
        At least :data:`FIVE_POINT_NAMES`; the 68-point model adds ``p0`` .. ``p67``.
    score : float
        Detector confidence (SVM margin; NaN for landmarks given by hand).
    model : str
        ``"dlib-5"``, ``"dlib-68"`` or ``"given"``.
    """

    box_xyxy: tuple[float, float, float, float]
    landmarks: Mapping[str, tuple[float, float]]
    score: float = float("nan")
    model: str = "given"

    def __post_init__(self) -> None:
        missing = [n for n in FIVE_POINT_NAMES if n not in self.landmarks]
        if missing:
            raise ValueError(f"face landmarks miss {missing}")
        pts = np.array([self.landmarks[n] for n in FIVE_POINT_NAMES], dtype=float)
        if pts.shape != (5, 2) or not np.isfinite(pts).all():
            raise ValueError("face landmarks must be finite (x, y) pairs")
        if self.interocular_px <= 0:
            raise ValueError("the two eyes coincide")

    @classmethod
    def from_landmarks(cls, landmarks: Mapping[str, tuple[float, float]]) -> Face:
        """A face from landmarks placed by hand or by another tool (box = their bounding box)."""
        pts = np.array([landmarks[n] for n in FIVE_POINT_NAMES if n in landmarks], dtype=float)
        if len(pts) < 5:
            missing = [n for n in FIVE_POINT_NAMES if n not in landmarks]
            raise ValueError(f"face landmarks miss {missing}")
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return cls((float(x0), float(y0), float(x1), float(y1)), dict(landmarks), float("nan"), "given")

    def point(self, name: str) -> np.ndarray:
        """Landmark ``name`` as a float array (x, y)."""
        return np.asarray(self.landmarks[name], dtype=float)

    def eye_centre(self, side: str) -> np.ndarray:
        """Midpoint of the two corners of the subject's ``"left"`` or ``"right"`` eye, px."""
        return 0.5 * (self.point(f"{side}_eye_outer") + self.point(f"{side}_eye_inner"))

    def eye_width_px(self, side: str) -> float:
        """Corner-to-corner width of one eye, px."""
        return float(np.hypot(*(self.point(f"{side}_eye_outer") - self.point(f"{side}_eye_inner"))))

    @property
    def interocular_px(self) -> float:
        """Distance between the two eye centres, px."""
        return float(np.hypot(*(self.eye_centre("left") - self.eye_centre("right"))))


@dataclass(frozen=True)
class FaceSearch:
    """What :func:`detect_face` found: the face (or None) and, when None, why."""

    face: Face | None
    reason: str = ""
    n_candidates: int = 0

    def __bool__(self) -> bool:
        return self.face is not None


@dataclass(frozen=True)
class Pose:
    """Head pose, degrees.

    ``yaw_deg`` > 0: the nose points toward the image's +x (the subject turned to their left in a camera
    photo); ``pitch_deg`` > 0: chin up; ``roll_deg``: angle of the line from the subject's right eye to
    their left eye, counter-clockwise on screen from +x, in (-90, 90] (a signed rotation, not an
    orientation, hence not folded into [0, 180)).
    """

    yaw_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True)
class IrisScale:
    """Scale from the horizontal visible iris diameter (:func:`iris_scale`).

    ``px_per_mm`` and ``uncertainty_pct`` (one standard uncertainty, % of the scale) are None when no
    iris was resolved; ``reason`` then says why. ``diameter_px`` holds each eye's measured HVID (NaN when
    that eye failed).
    """

    px_per_mm: float | None
    uncertainty_pct: float | None
    diameter_px: dict[str, float] = field(default_factory=dict)
    source: str = "iris"
    reason: str = ""


def _model_dir() -> Path | None:
    # find_spec does not import the package (its __init__ needs pkg_resources, gone from new setuptools).
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def face_support(landmark_model: str = "5") -> tuple[bool, str]:
    """Whether face detection can run here: (True, "") or (False, what to install)."""
    if landmark_model not in LANDMARK_MODELS:
        raise ValueError(f"landmark_model must be one of {sorted(LANDMARK_MODELS)}, got {landmark_model!r}")
    if importlib.util.find_spec("dlib") is None:
        return False, "face zones not available: install the face extra (pip install 'skintex[face]')"
    folder = _model_dir()
    if folder is None or not (folder / LANDMARK_MODELS[landmark_model]["file"]).is_file():
        return False, (
            "face zones not available: the landmark model is missing (pip install 'skintex[face]' "
            "installs face-recognition-models)"
        )
    return True, ""


_CACHE: dict[str, object] = {}


def _dlib_objects(landmark_model: str):
    import dlib  # optional dependency, checked by face_support

    if "detector" not in _CACHE:
        _CACHE["detector"] = dlib.get_frontal_face_detector()
    key = f"predictor{landmark_model}"
    if key not in _CACHE:
        path = _model_dir() / LANDMARK_MODELS[landmark_model]["file"]
        _CACHE[key] = dlib.shape_predictor(str(path))
    return dlib, _CACHE["detector"], _CACHE[key]


def detect_face(
    image: np.ndarray,
    *,
    landmark_model: str = "5",
    min_score: float = 0.3,
    work_long_side_px: int = 800,
    min_face_fraction: float = 0.05,
) -> FaceSearch:
    """Find the most confident face of a photo and its landmarks.

    Parameters
    ----------
    image : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1].
    landmark_model : {"5", "68"}
        ``"5"`` (default, CC0). ``"68"`` is trained on non-commercial data (see :data:`LANDMARK_MODELS`);
        its five anchor points are taken from the 68 and all 68 are kept as ``p0`` .. ``p67``.
    min_score : float
        Smallest detector margin accepted; dlib's own default is 0, and on a test set of face-free photos
        (skin close-ups, objects, a space suit) false faces scored below 0.2.
    work_long_side_px : int
        The detector runs on a copy of about this long side (faces in clinic photos fill the frame);
        the landmarks are then placed on the full-resolution image.
    min_face_fraction : float
        A face box narrower than this fraction of the image's short side is ignored (a face in the
        background, a picture on the wall).

    Returns
    -------
    FaceSearch
        ``face`` is None when dlib is not installed, no face was found, or the best face scored below
        ``min_score``; ``reason`` says which. Never raises for a photo without a face.
    """
    rgb = check_rgb(image)
    ok, why = face_support(landmark_model)
    if not ok:
        return FaceSearch(None, why, 0)
    if work_long_side_px < 64:
        raise ValueError("work_long_side_px must be at least 64")
    dlib, detector, predictor = _dlib_objects(landmark_model)
    rows, cols = rgb.shape[:2]
    u8 = cv2.convertScaleAbs(rgb, alpha=255.0)  # rounds and saturates to 0-255 in one pass
    factor = max(rows, cols) / float(work_long_side_px)
    small = u8
    if factor > 1.0:
        small = cv2.resize(u8, (max(1, round(cols / factor)), max(1, round(rows / factor))), cv2.INTER_AREA)
    else:
        factor = 1.0
    # Small web images need one pyramid up-step for faces under ~80 px; large ones never do.
    upsample = 1 if max(small.shape[:2]) <= 640 else 0
    boxes, scores, _ = detector.run(np.ascontiguousarray(small), upsample, 0.0)
    n = len(boxes)
    keep = []
    for box, score in zip(boxes, scores, strict=True):
        width = (box.right() - box.left()) * factor
        if width >= min_face_fraction * min(rows, cols):
            keep.append((float(score), box))
    if not keep:
        return FaceSearch(None, "no face found", n)
    score, box = max(keep, key=lambda item: item[0])
    if score < min_score:
        return FaceSearch(None, f"no confident face (best detector score {score:.2f} < {min_score})", n)
    x0, y0, x1, y1 = (box.left() * factor, box.top() * factor, box.right() * factor, box.bottom() * factor)
    rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
    shape = predictor(u8, rect)
    pts = [(float(p.x), float(p.y)) for p in shape.parts()]
    if landmark_model == "68":
        landmarks = {f"p{i}": p for i, p in enumerate(pts)}
        landmarks.update({name: pts[i] for name, i in zip(FIVE_POINT_NAMES, _FIVE_FROM_68, strict=True)})
    else:
        landmarks = dict(zip(FIVE_POINT_NAMES, pts, strict=True))
    face = Face((x0, y0, x1, y1), landmarks, score, f"dlib-{landmark_model}")
    return FaceSearch(face, "", n)


def estimate_pose(face: Face) -> Pose:
    """Yaw, pitch and roll of the head from the five landmarks (weak perspective, generic face).

    Method: roll is the angle of the eye line. After undoing it, with the generic adult face of this
    module (eye centres +-31 mm, subnasale 47 mm below and 18 mm in front of them) turned by a pitch
    ``p`` (about the ear-to-ear axis) and then a yaw ``y`` (about the vertical axis), the eyes appear
    ``62 s cos y`` apart and the nose base ``s (47 sin p + 18 cos p) sin y`` to the side of their midpoint
    and ``s (47 cos p - 18 sin p)`` below it (``s`` px/mm): three equations solved for ``y``, ``p``, ``s``
    (alternating closed forms; the pitch root nearest 0).
    The generic geometry makes the absolute angles biased by the subject's anatomy (a nose 3 mm deeper
    reads as a 15 % larger yaw); differences between sessions of one subject cancel the bias. When the
    nose base lies lower than the generic face allows at any pitch, ``pitch_deg`` is NaN (not compared
    between sessions) and yaw is read at pitch 0.
    """
    right, left = face.eye_centre("right"), face.eye_centre("left")
    axis = left - right
    d_eyes = float(np.hypot(*axis))
    ux = axis / d_eyes
    uy = np.array([-ux[1], ux[0]])  # image "down" in the face frame (y grows downward)
    nose = face.point("nose_base") - 0.5 * (left + right)
    dx, dy = float(nose @ ux), float(nose @ uy)
    # Screen counter-clockwise = negative image-y direction.
    roll = float(np.degrees(np.arctan2(-axis[1], axis[0])))
    iod = 2.0 * _GENERIC_HALF_IOD_MM
    drop, depth = _GENERIC_NOSE_DROP_MM, _GENERIC_NOSE_DEPTH_MM
    radius, phase = np.hypot(drop, depth), np.arctan2(depth, drop)
    # Rotation = yaw (vertical axis) after pitch (the head's ear-to-ear axis). Eye centres: 62 s cos(yaw)
    # apart. Nose base: across = s (47 sin p + 18 cos p) sin y, down = s (47 cos p - 18 sin p). Solved by
    # alternating the two closed forms from p = 0 (the coupling is weak: converged in < 10 rounds).
    pitch = 0.0
    for _ in range(30):
        forward = drop * np.sin(pitch) + depth * np.cos(pitch)
        yaw = float(np.arctan((dx / d_eyes) * iod / forward))
        scale = d_eyes / (iod * np.cos(yaw))
        ratio = float(dy / (scale * radius))
        if not -1.0 < ratio < 1.0:
            # The nose base sits farther below the eyes than the generic face can at any pitch (a long
            # midface: subnasale drop > ~0.81 x the eye distance). Pitch is then undetermined (NaN, so
            # never compared) and yaw is read at pitch 0; clipping instead drove the solution to the
            # pitch where the nose base has no depth, and yaw to +-90 deg.
            yaw = float(np.arctan((dx / d_eyes) * iod / depth))
            return Pose(float(np.degrees(yaw)), float("nan"), roll)
        # dy / s = R cos(p + phase): p = +-acos(ratio) - phase; keep the root nearest zero.
        roots = (np.arccos(ratio) - phase, -np.arccos(ratio) - phase)
        new_pitch = float(min(roots, key=abs))
        if abs(new_pitch - pitch) < 1e-9:
            break
        pitch = new_pitch
    return Pose(float(np.degrees(yaw)), float(np.degrees(pitch)), roll)


def pose_difference(pose: Pose, baseline: Pose) -> dict[str, float]:
    """Signed differences follow-up minus baseline, degrees: ``yaw``, ``pitch``, ``roll``."""
    roll = (pose.roll_deg - baseline.roll_deg + 180.0) % 360.0 - 180.0
    return {
        "yaw": pose.yaw_deg - baseline.yaw_deg,
        "pitch": pose.pitch_deg - baseline.pitch_deg,
        "roll": roll,
    }


def pose_warning(pose: Pose, baseline: Pose, *, limit_deg: Mapping[str, float] | None = None) -> str | None:
    """A sentence when yaw or pitch differ from the baseline by more than ``limit_deg``
    (default :data:`POSE_LIMIT_DEG`), else None. Roll is not checked: registration undoes it."""
    limits = dict(POSE_LIMIT_DEG if limit_deg is None else limit_deg)
    for key, value in limits.items():
        if key not in ("yaw", "pitch", "roll") or not np.isfinite(value) or value <= 0:
            raise ValueError(f"pose limits must be positive degrees for yaw/pitch/roll, got {key}={value!r}")
    diff = pose_difference(pose, baseline)
    over = [f"{k} {diff[k]:+.1f} deg" for k, lim in limits.items() if abs(diff[k]) > lim]
    if not over:
        return None
    shown = ", ".join(f"{k} {v:g}" for k, v in limits.items())
    return f"head pose differs from the baseline: {', '.join(over)} (limits {shown} deg)"


def check_face_scale(face: Face, px_per_mm: float | None) -> float | None:
    """Refuse a scale that makes this face's interocular distance impossible.

    Returns the checked scale (None stays None); raises ``ValueError`` when the eyes would be outside
    :data:`INTEROCULAR_RANGE_MM` apart (e.g. a whole face given 5000 px/mm).
    """
    scale = check_scale(px_per_mm)
    if scale is None:
        return None
    iod_mm = face.interocular_px / scale
    lo, hi = INTEROCULAR_RANGE_MM
    if not lo <= iod_mm <= hi:
        raise ValueError(
            f"px_per_mm {scale:g} is implausible for this face: it puts the eyes {iod_mm:.3g} mm apart "
            f"(adults: {lo:g}-{hi:g} mm)"
        )
    return scale


def _eye_strip(red: np.ndarray, outer: np.ndarray, inner: np.ndarray, oversample: float):
    """Resample the eye into a strip aligned with its corners (image-left corner on the left)."""
    a, b = (outer, inner) if outer[0] <= inner[0] else (inner, outer)
    width = float(np.hypot(*(b - a)))
    ux = (b - a) / width
    uy = np.array([-ux[1], ux[0]])
    centre = 0.5 * (a + b)
    half_w, half_h = 0.6 * width, 0.35 * width
    cols, rows = int(round(2 * half_w * oversample)), int(round(2 * half_h * oversample))
    # Strip pixel (j, i) -> image point centre + ((j - cols/2) ux + (i - rows/2) uy) / oversample.
    m = np.empty((2, 3))
    m[:, 0] = ux / oversample
    m[:, 1] = uy / oversample
    m[:, 2] = centre - (cols / 2.0) * ux / oversample - (rows / 2.0) * uy / oversample
    strip = cv2.warpAffine(
        red, m, (cols, rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return strip, width


def _crossing(profile: np.ndarray, start: int, step: int, level: float, stop: int) -> float:
    """Sub-pixel index where ``profile`` first rises above ``level`` walking from ``start`` by ``step``."""
    i = start
    while i != stop:
        j = i + step
        if profile[j] >= level:
            t = (level - profile[i]) / (profile[j] - profile[i])
            return i + step * float(t)
        i = j
    return float("nan")


def _chord(
    strip: np.ndarray, cx: int, cy: int, half: int, win: int, mid_c: int, width_s: float, min_contrast: float
) -> tuple[float, float]:
    """Sub-pixel width (strip px) of the dark iris along the rows ``cy +- half`` (NaN when no edge) and
    the dimmer of the two sclera levels beside it."""
    rows, cols = strip.shape
    if cy - half < 0 or cy + half + 1 > rows:
        return float("nan"), float("nan")
    # 25th percentile across the rows: a catchlight in the iris does not brighten the profile.
    profile = np.percentile(strip[cy - half : cy + half + 1], 25, axis=0)
    core = profile[max(0, cx - win // 4) : cx + win // 4 + 1]
    iris_level = float(np.median(core))
    edge_lo = max(0, int(mid_c - 0.5 * width_s))
    edge_hi = min(cols - 1, int(mid_c + 0.5 * width_s))
    left_white = float(profile[edge_lo : max(edge_lo + 1, cx - win // 2)].max())
    right_white = float(profile[min(edge_hi - 1, cx + win // 2) : edge_hi + 1].max())
    white = min(left_white, right_white)
    if white - iris_level < min_contrast:
        return float("nan"), white
    x_left = _crossing(profile, cx, -1, 0.5 * (iris_level + left_white), edge_lo)
    x_right = _crossing(profile, cx, +1, 0.5 * (iris_level + right_white), edge_hi)
    if not (np.isfinite(x_left) and np.isfinite(x_right)):
        return float("nan"), white
    # Refine: the first levels mix in the pupil (darker than the iris), which pulls the crossing toward
    # the iris. Re-cross each side half-way between the iris just inside that edge and the sclera just
    # outside it (bands 10-25 % of the first diameter from the edge).
    d0 = x_right - x_left
    lo_band, hi_band = max(1, int(round(0.10 * d0))), max(2, int(round(0.25 * d0)))
    refined = []
    for x_edge, step, stop in ((x_left, -1, edge_lo), (x_right, +1, edge_hi)):
        e = int(round(x_edge))
        inside = profile[np.clip(np.arange(e - step * hi_band, e - step * lo_band, step), 0, cols - 1)]
        outside_idx = np.arange(e + step * lo_band, e + step * hi_band, step)
        outside_idx = outside_idx[(outside_idx >= edge_lo) & (outside_idx <= edge_hi)]
        if outside_idx.size == 0 or inside.size == 0:
            return float("nan"), white
        iris_side, white_side = float(np.median(inside)), float(np.median(profile[outside_idx]))
        if white_side - iris_side < min_contrast:
            return float("nan"), white
        refined.append(_crossing(profile, cx, step, 0.5 * (iris_side + white_side), stop))
    return float(refined[1] - refined[0]), white


def _iris_diameter(red: np.ndarray, outer: np.ndarray, inner: np.ndarray, min_contrast: float) -> float:
    """White-to-white diameter of one iris, px (NaN when not resolved)."""
    oversample = 8.0
    strip, width = _eye_strip(red, outer, inner, oversample)
    rows, cols = strip.shape
    mid_r, mid_c = rows // 2, cols // 2
    expect = 0.41 * width * oversample  # HVID / palpebral fissure ~ 11.7 / 28.5 mm
    # Iris centre: the darkest window of the expected diameter in a band around the corner line, within
    # the middle of the eye (the iris never sits in a corner of an open eye looking at the camera).
    band = strip[max(0, mid_r - int(0.12 * width * oversample)) : mid_r + int(0.12 * width * oversample) + 1]
    dark = 1.0 - band.mean(axis=0)
    win = max(3, int(round(expect)))
    score = np.convolve(dark, np.ones(win) / win, mode="same")
    lo, hi = int(mid_c - 0.3 * width * oversample), int(mid_c + 0.3 * width * oversample)
    cx = lo + int(np.argmax(score[lo:hi]))
    # The limbus is a circle whose top and bottom the lids hide. Each row within +-0.15 eye widths of
    # the corner line gives a chord 2h at height y; on a circle of radius R centred at height y0,
    # h^2 + y^2 = (R^2 - y0^2) + 2 y0 y: a straight-line fit in y, refitted without rows that miss the
    # circle by more than 4 % of R (lashes and lid shadow widen a chord). HVID = 2R, the widest chord
    # even when the lids cover the middle row. Too few rows (a small iris): the widest chord, after a
    # 3-row running median against noise.
    half = 0  # single rows: a band would read each chord at its widest row and inflate R
    step = max(1, int(round(oversample / 2)))
    reach = int(0.15 * width * oversample)
    ys, hs = [], []
    for cy in range(mid_r - reach, mid_r + reach + 1, step):
        chord, _ = _chord(strip, cx, cy, half, win, mid_c, width * oversample, min_contrast)
        if np.isfinite(chord):
            ys.append(float(cy))
            hs.append(chord / 2.0)
    if not ys:
        return float("nan")
    y, h = np.array(ys), np.array(hs)
    diameter = float("nan")
    keep = np.ones(len(y), dtype=bool)
    for _ in range(3):
        if keep.sum() < 5 or np.ptp(y[keep]) < 0.5 * h[keep].max():
            break
        slope, intercept = np.polyfit(y[keep], h[keep] ** 2 + y[keep] ** 2, 1)
        y0 = slope / 2.0
        r2 = intercept + y0**2
        if r2 <= 0 or abs(y0 - mid_r) > reach * 2:
            break
        radius = float(np.sqrt(r2))
        model = np.sqrt(np.maximum(r2 - (y - y0) ** 2, 0.0))
        new_keep = np.abs(model - h) <= 0.04 * radius
        diameter = 2.0 * radius / oversample
        if (new_keep == keep).all():
            break
        keep = new_keep
    if not np.isfinite(diameter):
        smooth = [float(np.median(h[max(0, i - 1) : i + 2])) for i in range(len(h))]
        diameter = 2.0 * max(smooth) / oversample
    if not np.isfinite(diameter) or not 0.28 * width <= diameter <= 0.6 * width:
        return float("nan")
    return float(diameter)


def iris_scale(
    image: np.ndarray,
    face: Face,
    *,
    hvid_mm: float = HVID_MM,
    hvid_sd_mm: float = HVID_SD_MM,
    min_diameter_px: float = 6.0,
    min_contrast: float = 0.08,
    edge_sd_px: float = 0.35,
) -> IrisScale:
    """Scale (px/mm) from the horizontal visible iris diameter of the eyes of ``face``.

    Method: each eye is resampled (8x, bilinear, linear light) into a strip aligned with its two
    corners; the iris is the darkest window of the expected width (0.41 eye widths) near the corner line.
    On every strip row within +-0.15 eye widths of that line, the limbus on each side is the sub-pixel
    crossing half-way between the iris just inside and the sclera just outside it, giving a chord. The
    lids hide the top and bottom of the iris, so a circle is fitted to the chords (rows off the circle
    by > 4 % of its radius, widened by lashes or a catchlight, are dropped) and HVID = its diameter
    ("white to white", Daugman's circular limbus model: IEEE TCSVT 2004;14:21-30); with too few rows the
    widest chord is used. With both eyes the mean is used. ``px_per_mm = HVID_px / hvid_mm``.

    Uncertainty (one SD, %): the between-person spread ``hvid_sd_mm / hvid_mm`` (4.3 %), the edge
    localisation ``sqrt(2) * edge_sd_px / HVID_px / sqrt(n_eyes)`` and, with two eyes, half their
    difference over their mean, added in quadrature.

    Parameters
    ----------
    image : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1] (the red channel is used: sclera reflects it, every iris colour absorbs it
        more than skin does).
    face : Face
    hvid_mm, hvid_sd_mm : float
        Population HVID and its SD, mm.
    min_diameter_px : float
        An iris narrower than this is "not resolved" (its edges would carry > 8 % error each).
    min_contrast : float
        Smallest sclera-minus-iris step of the linear red reflectance (0-1) on both sides.
    edge_sd_px : float
        Standard uncertainty of one limbus edge, px.

    Returns
    -------
    IrisScale
        ``px_per_mm`` None (with ``reason``) when no eye was resolved; never raises for a closed eye.
    """
    rgb = check_rgb(image)
    if not (hvid_mm > 0 and hvid_sd_mm >= 0 and min_diameter_px > 0 and edge_sd_px >= 0):
        raise ValueError("hvid_mm, min_diameter_px must be positive; hvid_sd_mm, edge_sd_px non-negative")
    rows, cols = rgb.shape[:2]
    diameters: dict[str, float] = {}
    for side in ("right", "left"):
        width = face.eye_width_px(side)
        if width * 0.41 < min_diameter_px:
            diameters[side] = float("nan")
            continue
        outer, inner = face.point(f"{side}_eye_outer"), face.point(f"{side}_eye_inner")
        # Only the eye's surroundings, in linear light: the lens and the pixels average light linearly,
        # so a blurred limbus edge is half-way in linear reflectance, not in sRGB code values.
        (x0, y0), (x1, y1) = np.minimum(outer, inner) - width, np.maximum(outer, inner) + width
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(cols, int(np.ceil(x1)) + 1), min(rows, int(np.ceil(y1)) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            diameters[side] = float("nan")
            continue
        red = srgb_to_linear(rgb[y0:y1, x0:x1, 0]).astype(np.float32)
        shift = np.array([x0, y0], dtype=float)
        diameters[side] = _iris_diameter(red, outer - shift, inner - shift, min_contrast)
    good = np.array([d for d in diameters.values() if np.isfinite(d) and d >= min_diameter_px])
    if good.size == 0:
        widths = [face.eye_width_px(s) for s in ("right", "left")]
        if max(widths) * 0.41 < min_diameter_px:
            reason = (
                f"iris not resolved (expected about {0.41 * max(widths):.1f} px < {min_diameter_px:g} px)"
            )
        else:
            reason = "no iris edge found (eyes closed, looking aside, or too little contrast)"
        return IrisScale(None, None, diameters, "iris", reason)
    hvid_px = float(good.mean())
    parts = [hvid_sd_mm / hvid_mm, np.sqrt(2.0) * edge_sd_px / hvid_px / np.sqrt(good.size)]
    if good.size == 2:
        parts.append(0.5 * abs(good[0] - good[1]) / hvid_px)
    uncertainty = 100.0 * float(np.sqrt(np.sum(np.square(parts))))
    return IrisScale(hvid_px / hvid_mm, uncertainty, diameters, "iris", "")
