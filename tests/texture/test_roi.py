"""texture.roi: skin mask on synthetic scenes with known regions and a real portrait; polygons."""

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.color import lab2rgb

from tests.texture import _photos
from texture.phantoms.photo import add_field_of_view, render_skin
from texture.pigment import measure_spots
from texture.roi import field_of_view_mask, polygon_mask, skin_mask


def _colour(lab):
    return lab2rgb(np.array(lab, dtype=float).reshape(1, 1, 3)).reshape(3)


def test_scene_with_background_hair_lips_and_glint():
    # Known regions drawn on a 20 px/mm "face": skin everywhere except the listed patches.
    rng = np.random.default_rng(0)
    rgb = np.empty((400, 400, 3))
    rgb[:] = _colour((65, 12, 17))
    truth = np.ones((400, 400), bool)
    regions = {
        "background (blue-grey wall)": (np.s_[:, :80], (60, -2, -12)),
        "hair (dark brown)": (np.s_[:60, 80:], (18, 4, 8)),
        "lips (red)": (np.s_[300:340, 180:300], (48, 40, 18)),
        "glint (white)": (np.s_[150:170, 250:270], (97, 0, 2)),
        "sclera (white, grey)": (np.s_[120:140, 120:160], (85, 0, 2)),
    }
    for region, lab in regions.values():
        rgb[region] = _colour(lab)
        truth[region] = False
    rgb = np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1)
    mask = skin_mask(rgb, px_per_mm=20.0)
    inner = truth.copy()
    inner[:, :90] = inner[:70] = False  # away from the region borders
    assert mask[inner].mean() > 0.97
    for name, (region, _) in regions.items():
        assert mask[region].mean() < 0.05, name


def test_pores_spots_and_lines_stay_in_the_mask():
    phantom = render_skin(px_per_mm=20.0, size_mm=(24.0, 24.0), n_spots=6, n_lines=6, seed=1)
    mask = skin_mask(phantom.rgb, px_per_mm=20.0)
    assert mask.mean() > 0.99


def test_real_portrait_keeps_face_drops_suit_and_background():
    rgb = data.astronaut() / 255.0
    mask = skin_mask(rgb)
    assert mask[80:180, 180:280].mean() > 0.7  # face
    assert mask[300:500, 50:250].mean() < 0.1  # orange suit
    assert mask[100:250, 420:512].mean() < 0.1  # background
    assert mask[138:153, 205:242].mean() < 0.5  # mouth: lips and teeth


def test_colour_cast_falls_back_to_lightness_rules():
    # A blue-cast photo (dermoscopy light), where under 5 % of the pixels have a skin hue, still gives
    # skin rather than an almost empty mask.
    rgb = np.empty((200, 200, 3))
    rgb[:] = _colour((75, -1, -17))
    rgb[90:110, 90:120] = _colour((40, 8, 5))  # a small lesion, still in
    mask = skin_mask(rgb)
    assert mask.mean() > 0.95


def test_all_dark_image_raises():
    with pytest.raises(ValueError):
        skin_mask(np.zeros((50, 50, 3)))


def test_polygon_mask_uses_x_y_order():
    # A 20 px wide (x 10..30), 3 px tall (y 2..5) rectangle.
    mask = polygon_mask((40, 50), [(10, 2), (30, 2), (30, 5), (10, 5)])
    assert mask.shape == (40, 50)
    assert mask[3, 20] and not mask[20, 3]
    rows, cols = np.nonzero(mask)
    assert rows.min() >= 2 and rows.max() <= 5 and cols.min() >= 10 and cols.max() <= 30


def test_polygon_mask_rejects_bad_polygons():
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(1, 1), (5, 5)])
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(100, 100), (120, 100), (120, 120)])
    with pytest.raises(ValueError):
        polygon_mask((40, 50), [(1, 1), (np.nan, 5), (3, 3)])


# --- Field of view: frames, dermoscope circles, vignetting (issue 13) ---------------------------------


def _plain_skin(**kwargs):
    return render_skin(px_per_mm=10.0, size_mm=(40.0, 30.0), seed=11, **kwargs).rgb


@pytest.mark.parametrize(
    ("frame_px", "frame_rgb"), [(3, (0.0, 0.0, 0.0)), (1, (1.0, 1.0, 1.0)), (5, (0.5, 0.5, 0.5))]
)
def test_constant_frames_are_cut_exactly(frame_px, frame_rgb):
    rgb, light = add_field_of_view(_plain_skin(), frame_px=frame_px, frame_rgb=frame_rgb)
    fov = field_of_view_mask(rgb)
    assert not fov[light == 0].any()
    assert fov[light > 0].all()


def test_a_frame_of_two_colours_as_isic_exports_is_cut():
    # ISIC_0000046: one white line, then two black ones.
    rgb, _ = add_field_of_view(_plain_skin(), frame_px=3, frame_rgb=(0.0, 0.0, 0.0))
    rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1] = 1.0, 1.0, 1.0, 1.0
    fov = field_of_view_mask(rgb)
    assert not fov[:3].any() and not fov[-3:].any() and not fov[:, :3].any() and not fov[:, -3:].any()
    assert fov[3:-3, 3:-3].all()


@pytest.mark.parametrize("diameter", [0.8, 0.95, 1.1])
def test_dermoscope_circle_outside_is_cut_inside_kept(diameter):
    # A circle wider than the short side (1.1) leaves only the corners outside.
    rgb, light = add_field_of_view(_plain_skin(), circle_diameter_fraction=diameter)
    fov = field_of_view_mask(rgb)
    outside, inside = light == 0, light > 0
    # The outline is found on a ~320 px copy: allow its 1-2 px of blur at the rim.
    rim = cv2.dilate(outside.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & inside
    assert (~fov[outside]).mean() > 0.995
    assert fov[inside & ~rim].all()


def test_vignetted_corners_are_cut_gentle_shading_kept():
    # Light falling to 20 % in the corners (vignetting 0.8) on evenly lit skin.
    rgb, light = add_field_of_view(_plain_skin(shading=0.0), vignetting=0.8)
    fov = field_of_view_mask(rgb)
    # A corner below 0.7 of its edge middles is vignetted; its region ends where the light is 0.7 of
    # the brighter edge middle (~0.9 here, so 0.63): cut below 0.45, kept above 0.75.
    cut, kept = (~fov[light < 0.45]).mean(), fov[light > 0.75].mean()
    print(f"cut where light < 0.45: {cut:.3f}; kept where > 0.75: {kept:.4f}")
    assert cut > 0.95
    assert kept > 0.995


@pytest.mark.parametrize("shading", [0.0, 0.25, 0.3])
def test_shaded_skin_and_a_dark_central_lesion_stay_in_the_field(shading):
    # Side lighting of +-30 % darkens whole sides, not corners alone: no corner reads as vignetted.
    rgb = _plain_skin(shading=shading).copy()
    rows, cols = rgb.shape[:2]
    yy, xx = np.mgrid[0:rows, 0:cols]
    lesion = (yy - rows / 2) ** 2 + (xx - cols / 2) ** 2 < (0.3 * rows) ** 2
    rgb[lesion] = _colour((22, 8, 10))  # a very dark lesion: far below 35 % of the skin's luminance
    assert field_of_view_mask(rgb).all()


def test_margin_keeps_clear_of_the_image_edge_and_the_field():
    rgb = _plain_skin()
    fov = field_of_view_mask(rgb, margin_px=10)
    assert not fov[:10].any() and not fov[-10:].any() and not fov[:, :10].any() and not fov[:, -10:].any()
    assert fov[10:-10, 10:-10].all()
    framed, _ = add_field_of_view(rgb, frame_px=3)
    fov = field_of_view_mask(framed, margin_px=10)
    assert not fov[:13].any() and fov[13:-13, 13:-13].all()


def test_skin_mask_drops_what_the_optics_did_not_show():
    # A black 3 px frame and a dermoscope circle.
    rgb, light = add_field_of_view(_plain_skin(), frame_px=3, circle_diameter_fraction=0.9)
    mask = skin_mask(rgb, px_per_mm=10.0)
    assert not mask[light == 0].any()
    assert mask[light > 0].mean() > 0.98


@pytest.mark.parametrize("name", _photos.NAMES)
def test_dermoscopy_frames_are_cut_and_the_field_kept(name):
    # All three ISIC exports carry a 1 px white frame; ISIC_0000046 then two black lines.
    rgb = _photos.load(name)
    fov = field_of_view_mask(rgb)
    frame = 3 if name == "ISIC_0000046" else 1
    edges = (fov[:frame], fov[-frame:], fov[:, :frame], fov[:, -frame:])
    assert not any(edge.any() for edge in edges)
    # Inside the frame, along the middle half of each edge (away from the corners and the vignetted
    # regions that grow from them along ISIC_0000046's darker left side), the field is kept.
    rows, cols = fov.shape
    middle_r, middle_c = slice(rows // 4, rows - rows // 4), slice(cols // 4, cols - cols // 4)
    inner = (
        fov[frame + 1, middle_c],
        fov[-frame - 2, middle_c],
        fov[middle_r, frame + 1],
        fov[middle_r, -frame - 2],
    )
    assert all(line.all() for line in inner)
    print(name, f"field kept {fov.mean():.3f}")
    assert fov.mean() > (0.93 if name == "ISIC_0000046" else 0.99)
    skin = skin_mask(rgb, field_of_view=False)
    assert not (skin_mask(rgb) & ~fov).any()
    if name == "ISIC_0000046":  # the frame was in the skin mask before
        assert (skin & ~fov).sum() > 10_000


def test_field_of_view_bad_arguments():
    rgb = _plain_skin()
    with pytest.raises(ValueError, match="margin_px"):
        field_of_view_mask(rgb, margin_px=-1)
    with pytest.raises(ValueError, match="max_frame_fraction"):
        field_of_view_mask(rgb, max_frame_fraction=0.6)
    with pytest.raises(ValueError):
        field_of_view_mask(rgb[..., 0])


def test_vignetted_corners_of_isic_0000046_no_longer_read_as_spots():
    # Issue 13: its darker corners (left ones ~1.1 stops below the edge middles) read as brown spots.
    rgb = _photos.load("ISIC_0000046")
    edge = np.zeros(rgb.shape[:2], bool)
    edge[:15], edge[-15:], edge[:, :15], edge[:, -15:] = True, True, True, True

    def spots_at_edge(mask):
        labels = measure_spots(rgb, mask=mask).labels
        return len(np.unique(labels[edge & (labels > 0)]))

    fov = field_of_view_mask(rgb)
    assert not fov[4, 4] and not fov[-5, 4]  # the left corners are out
    assert spots_at_edge(skin_mask(rgb, field_of_view=False)) >= 2
    assert spots_at_edge(skin_mask(rgb)) == 0
