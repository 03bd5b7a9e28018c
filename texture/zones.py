"""Standard facial zones of a full-face photo, built from the five landmarks of :mod:`texture.face`.

The zones follow the areas a clinic grades separately (VISIA-style): ``forehead``, ``glabella``, ``nose``,
``left_periorbital`` / ``right_periorbital`` (crow's feet, lateral to the outer eye corner),
``left_cheek`` / ``right_cheek`` and ``chin``; left and right are the subject's.

Method. Every zone is a polygon in a face frame: origin at the midpoint of the two eye centres, ``u`` along
the eye line toward the subject's left eye, ``v`` perpendicular (down the face); the unit is the
interocular distance D (eye centre to eye centre, ~62 mm in adults). Along ``v`` the unit is D / cos(yaw),
so a turned head keeps its vertical proportions. Positions not given by the five points (brows, lips,
chin, hairline) are placed from adult facial proportions (Farkas, Anthropometry of the Head and Face,
1994: brows ~0.3 D above the eye line, mouth ~0.3 D and chin ~1 D below the nose base) with margins of
~0.1 D (~6 mm) from each excluded structure. Midline zones below the eyes (nose, chin, lips) follow the
line from the eye midpoint through the nose base, which is where the midline appears in a turned head.

Pixel masks are the polygons minus explicit exclusions (both eyes with their lids and lashes, both brows,
lips, nostrils: ellipses from the same frame) and minus everything the colour skin mask of
:func:`texture.roi.skin_mask` rejects (hair, background, shadows, glints). A zone with less than
``min_visible_fraction`` of its polygon left (hair over the forehead, a cheek turned away) is not
reported. Views: when |yaw| exceeds ``max_yaw_deg`` (a 45 deg view) the far-side cheek and periorbital
zones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.draw import polygon as draw_polygon

from texture.color import rgb_to_lab
from texture.face import Face, Pose, estimate_pose
from texture.measurement import check_mask, check_rgb
from texture.roi import skin_mask

__all__ = [
    "ZONE_NAMES",
    "FaceZones",
    "face_frame",
    "zone_polygons",
    "exclusion_polygons",
    "face_zones",
    "zone_overlay",
]

ZONE_NAMES: tuple[str, ...] = (
    "forehead",
    "glabella",
    "nose",
    "left_periorbital",
    "right_periorbital",
    "left_cheek",
    "right_cheek",
    "chin",
)

#: Overlay colour (sRGB 0-1) of each zone.
ZONE_COLORS: dict[str, tuple[float, float, float]] = {
    "forehead": (0.95, 0.75, 0.10),
    "glabella": (0.95, 0.35, 0.10),
    "nose": (0.85, 0.15, 0.55),
    "left_periorbital": (0.20, 0.70, 0.95),
    "right_periorbital": (0.10, 0.45, 0.95),
    "left_cheek": (0.15, 0.85, 0.35),
    "right_cheek": (0.45, 0.90, 0.15),
    "chin": (0.60, 0.35, 0.95),
}

# Zone outlines in the face frame (u, v) in units of D. Side zones are given for the subject's left
# (u > 0) and mirrored. "eye" zones are relative to that eye's outer corner; "mid" zones are centred on
# the seen midline; "nose" offsets in v are from the nose base (v_n).
_FOREHEAD = [(-0.72, -0.52), (0.72, -0.52), (0.80, -0.82), (0.60, -1.08), (-0.60, -1.08), (-0.80, -0.82)]
_GLABELLA = [(-0.17, -0.48), (0.17, -0.48), (0.13, -0.12), (-0.13, -0.12)]
_PERIORBITAL = [(0.06, -0.16), (0.30, -0.20), (0.37, 0.06), (0.28, 0.30), (0.06, 0.18)]  # from the corner
_CHEEK = [(0.33, 0.32), (0.80, 0.30), (0.90, 0.55)]  # upper part, eye frame
_CHEEK_LOW = [(0.84, 0.22), (0.60, 0.22), (0.42, -0.05)]  # lower part, v from the nose base
_CHIN = [(-0.30, 0.60), (0.30, 0.60), (0.23, 0.88), (-0.23, 0.88)]  # v from the nose base
_NOSE_TOP_V, _NOSE_TOP_HALF, _NOSE_BOTTOM_DV, _NOSE_BOTTOM_HALF = 0.0, 0.10, -0.12, 0.19

# Exclusions: eye ellipse (semi-axes in eye widths), brow / lips / nostril ellipses (centre, semi-axes in D).
_EYE_SEMI = (0.58, 0.32)
_BROW = {"du": 0.03, "v": -0.30, "semi": (0.40, 0.12)}  # du: outward from the eye centre
_LIPS = {"dv": 0.28, "semi": (0.56, 0.25)}  # wide enough for a broad smile
_NOSTRILS = {"dv": -0.02, "semi": (0.28, 0.08)}

# L* units below the central face's median skin lightness that mark hair or deep shadow: brown hair sits
# 25-45 below facial skin, while the forehead's own shading under clinic lighting stays within ~10.
_DARK_DROP_L = 18.0


@dataclass(frozen=True)
class FaceZones:
    """Zone masks of one photo.

    Attributes
    ----------
    masks : dict of str to ndarray of bool
        The reported zones (visible ones only), in :data:`ZONE_NAMES` order.
    polygons : dict of str to ndarray (k, 2)
        Every zone's outline (x, y px) before pixel exclusions, including zones not reported.
    excluded : ndarray of bool
        Eyes, brows, lips and nostrils (the geometric exclusions).
    hidden : dict of str to str
        Zones not reported and why.
    pose : Pose
    """

    masks: dict[str, np.ndarray]
    polygons: dict[str, np.ndarray]
    excluded: np.ndarray
    hidden: dict[str, str] = field(default_factory=dict)
    pose: Pose | None = None


def face_frame(face: Face, pose: Pose | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin, u axis and v axis (as image vectors of one unit each) and v_n, the nose base's v.

    ``origin + u * axes_u + v * axes_v`` is the image point (x, y) of frame point (u, v).
    """
    pose = estimate_pose(face) if pose is None else pose
    right, left = face.eye_centre("right"), face.eye_centre("left")
    axis = left - right
    d = float(np.hypot(*axis))
    ux = axis / d
    uy = np.array([-ux[1], ux[0]])
    cos_yaw = float(np.cos(np.radians(np.clip(pose.yaw_deg, -60.0, 60.0))))
    origin = 0.5 * (left + right)
    axis_u, axis_v = ux * d, uy * (d / cos_yaw)
    nose = face.point("nose_base") - origin
    v_n = float(nose @ uy) / (d / cos_yaw)
    return origin, axis_u, axis_v, v_n


def _to_image(points_uv, origin, axis_u, axis_v) -> np.ndarray:
    uv = np.asarray(points_uv, dtype=float)
    return origin + uv[:, :1] * axis_u + uv[:, 1:2] * axis_v


def _frame_uv(face: Face, point: np.ndarray, origin, axis_u, axis_v) -> np.ndarray:
    m = np.column_stack([axis_u, axis_v])
    return np.linalg.solve(m, point - origin)


def zone_polygons(face: Face, *, pose: Pose | None = None) -> dict[str, np.ndarray]:
    """Outline (x, y px, shape (k, 2)) of every zone in :data:`ZONE_NAMES` (method in the module doc)."""
    origin, au, av, v_n = face_frame(face, pose)
    u_n = float(_frame_uv(face, face.point("nose_base"), origin, au, av)[0])

    def mid(points, dv0=0.0):  # centred on the midline through the nose base, v from dv0
        # The seen midline: u goes from 0 at the eye line to u_n at the nose base.
        out = []
        for u, v in points:
            vv = v + dv0
            out.append((u + u_n * vv / v_n if v_n > 0 else u, vv))
        return out

    polys: dict[str, list[tuple[float, float]]] = {
        "forehead": list(_FOREHEAD),
        "glabella": list(_GLABELLA),
        "nose": mid(
            [
                (-_NOSE_TOP_HALF, _NOSE_TOP_V),
                (_NOSE_TOP_HALF, _NOSE_TOP_V),
                (_NOSE_BOTTOM_HALF, v_n + _NOSE_BOTTOM_DV),
                (-_NOSE_BOTTOM_HALF, v_n + _NOSE_BOTTOM_DV),
            ]
        ),
        "chin": mid(_CHIN, v_n),
    }
    for side, sign in (("left", 1.0), ("right", -1.0)):
        cu, cv = _frame_uv(face, face.point(f"{side}_eye_outer"), origin, au, av)
        polys[f"{side}_periorbital"] = [(cu + sign * du, cv + dv) for du, dv in _PERIORBITAL]
        upper = [(sign * u, v) for u, v in _CHEEK]
        lower = [(sign * u, v_n + dv) for u, dv in _CHEEK_LOW]
        polys[f"{side}_cheek"] = upper + lower
    return {name: _to_image(polys[name], origin, au, av) for name in ZONE_NAMES}


def _ellipse(centre, half_u, half_v, axis_u, axis_v, n: int = 48) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return centre + np.outer(half_u * np.cos(t), axis_u) + np.outer(half_v * np.sin(t), axis_v)


def exclusion_polygons(face: Face, *, pose: Pose | None = None) -> dict[str, np.ndarray]:
    """Outlines (x, y px) of the structures never measured: ``left_eye``, ``right_eye``, ``left_brow``,
    ``right_brow``, ``lips``, ``nostrils``."""
    origin, au, av, v_n = face_frame(face, pose)
    u_n = float(_frame_uv(face, face.point("nose_base"), origin, au, av)[0])
    out: dict[str, np.ndarray] = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        outer, inner = face.point(f"{side}_eye_outer"), face.point(f"{side}_eye_inner")
        width = float(np.hypot(*(outer - inner)))
        e_u = (outer - inner) / width
        e_v = np.array([-e_u[1], e_u[0]])
        centre = 0.5 * (outer + inner)
        out[f"{side}_eye"] = _ellipse(centre, _EYE_SEMI[0] * width, _EYE_SEMI[1] * width, e_u, e_v)
        cu, _ = _frame_uv(face, centre, origin, au, av)
        brow_c = origin + (cu + sign * _BROW["du"]) * au + _BROW["v"] * av
        out[f"{side}_brow"] = _ellipse(brow_c, _BROW["semi"][0], _BROW["semi"][1], au, av)
    lips_c = origin + (u_n * (v_n + _LIPS["dv"]) / v_n) * au + (v_n + _LIPS["dv"]) * av
    out["lips"] = _ellipse(lips_c, _LIPS["semi"][0], _LIPS["semi"][1], au, av)
    nose_c = origin + u_n * au + (v_n + _NOSTRILS["dv"]) * av
    out["nostrils"] = _ellipse(nose_c, _NOSTRILS["semi"][0], _NOSTRILS["semi"][1], au, av)
    return out


def _fill(shape: tuple[int, int], polygon_xy: np.ndarray) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (sub-pixel vertices; unbiased area, unlike a filled
    outline, which adds half the perimeter)."""
    pts = np.asarray(polygon_xy, dtype=float)
    rr, cc = draw_polygon(pts[:, 1], pts[:, 0], shape=shape)
    mask = np.zeros(shape, dtype=bool)
    mask[rr, cc] = True
    return mask


def _hair_and_shadow(
    rgb: np.ndarray, polygons: dict[str, np.ndarray], skin: np.ndarray, interocular_px: float
) -> np.ndarray:
    """Pixels much darker than the central face's skin: hair over the forehead or temples (brown and blond
    hair pass the skin hue rule), deep shadow. Reference: median L* of the nose, glabella and cheek
    polygons' skin. A pixel is dark when its L*, smoothed over ~D/30 (~2 mm, so pores and fine lines
    never qualify), lies more than ``_DARK_DROP_L`` below that median."""
    shape = rgb.shape[:2]
    ref = np.zeros(shape, dtype=bool)
    for name in ("nose", "glabella", "left_cheek", "right_cheek"):
        ref |= _fill(shape, polygons[name])
    ref &= skin
    if np.count_nonzero(ref) < 20:
        return np.zeros(shape, dtype=bool)
    # Decided on a copy with the eyes ~120 px apart (the smoothing is D/30 = 4 px there): a 12 MP photo
    # costs no more than a web image.
    factor = max(1.0, interocular_px / 120.0)
    rows, cols = shape
    small = rgb.astype(np.float32, copy=False)
    small_ref = ref
    if factor > 1.0:
        size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        small_ref = cv2.resize(ref.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        if not small_ref.any():
            small_ref = None
    light = rgb_to_lab(np.clip(small, 0.0, 1.0))[..., 0].astype(np.float32)
    sigma = max(0.7, interocular_px / factor / 30.0)
    smooth = cv2.GaussianBlur(light, (0, 0), sigma)
    level = float(np.median(light[small_ref])) if small_ref is not None else float(np.median(light))
    dark = (smooth < level - _DARK_DROP_L).astype(np.uint8)
    if factor > 1.0:
        dark = cv2.resize(dark, (cols, rows), interpolation=cv2.INTER_NEAREST)
    return dark.astype(bool)


def face_zones(
    image: np.ndarray,
    face: Face,
    *,
    skin: np.ndarray | None = None,
    pose: Pose | None = None,
    max_yaw_deg: float = 25.0,
    min_visible_fraction: float = 0.2,
) -> FaceZones:
    """Pixel masks of the facial zones of ``image`` (method in the module docstring).

    Parameters
    ----------
    image : ndarray, shape (rows, cols, 3)
        Float sRGB in [0, 1].
    face : Face
        From :func:`texture.face.detect_face` or :meth:`texture.face.Face.from_landmarks`.
    skin : ndarray of bool, optional
        Skin mask to intersect with; default :func:`texture.roi.skin_mask` of ``image`` decided at its
        own ~640 px working size (a whole face needs no finer skin border; at a 4 px/mm working scale a
        12 MP face photo would cost ~2 s more).
    pose : Pose, optional
        Default :func:`texture.face.estimate_pose` of ``face``.
    max_yaw_deg : float
        Beyond this |yaw| the far-side cheek and periorbital zones are hidden.
    min_visible_fraction : float
        A zone keeping less than this fraction of its polygon's pixels is hidden.

    Returns
    -------
    FaceZones
    """
    rgb = check_rgb(image)
    shape = rgb.shape[:2]
    if not 0.0 <= min_visible_fraction <= 1.0:
        raise ValueError("min_visible_fraction must be in [0, 1]")
    if not 0.0 < max_yaw_deg <= 90.0:
        raise ValueError("max_yaw_deg must be in (0, 90]")
    skin_px = skin_mask(rgb) if skin is None else check_mask(skin, shape, name="skin")
    pose = estimate_pose(face) if pose is None else pose
    polygons = zone_polygons(face, pose=pose)
    excluded = np.zeros(shape, dtype=bool)
    for poly in exclusion_polygons(face, pose=pose).values():
        excluded |= _fill(shape, poly)
    hidden: dict[str, str] = {}
    if abs(pose.yaw_deg) > max_yaw_deg:
        far = "left" if pose.yaw_deg > 0 else "right"
        for name in (f"{far}_cheek", f"{far}_periorbital"):
            hidden[name] = f"turned away (yaw {pose.yaw_deg:+.0f} deg)"
    dark = _hair_and_shadow(rgb, polygons, skin_px & ~excluded, face.interocular_px)
    masks: dict[str, np.ndarray] = {}
    for name in ZONE_NAMES:
        if name in hidden:
            continue
        area = _fill(shape, polygons[name])
        total = int(np.count_nonzero(area))
        if total == 0:
            hidden[name] = "outside the photo"
            continue
        area &= skin_px
        area &= ~excluded
        area &= ~dark
        kept = int(np.count_nonzero(area))
        if kept < min_visible_fraction * total:
            hidden[name] = f"only {kept / total:.0%} skin (hair, background or out of frame)"
            continue
        masks[name] = area
    return FaceZones(masks, polygons, excluded, hidden, pose)


def zone_overlay(image: np.ndarray, zones: FaceZones, *, alpha: float = 0.35) -> np.ndarray:
    """The photo with each zone tinted in its :data:`ZONE_COLORS`, outlined, and the exclusions greyed."""
    rgb = check_rgb(image).astype(np.float32)
    out = rgb.copy()
    grey = out[zones.excluded].mean(axis=1, keepdims=True) if zones.excluded.any() else None
    if grey is not None:
        out[zones.excluded] = 0.5 * out[zones.excluded] + 0.5 * grey * 0.5
    thickness = max(1, round(max(rgb.shape[:2]) / 400))
    for name, mask in zones.masks.items():
        colour = np.array(ZONE_COLORS[name], dtype=np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
    for name in zones.masks:
        pts = np.round(zones.polygons[name]).astype(np.int32)
        cv2.polylines(out, [pts], True, tuple(float(c) for c in ZONE_COLORS[name]), thickness, cv2.LINE_AA)
    return np.clip(out, 0.0, 1.0)
