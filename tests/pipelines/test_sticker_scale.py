"""A calibration sticker named in the config gives the scale through the pipeline.

Precedence: given (manifest, --px-per-mm) > file > sticker > iris > none. Photos: a close-up skin
phantom with a drawn 10 mm white sticker (10 px/mm by construction) and scikit-image's astronaut portrait
(NASA, public domain), enlarged 2x, with a white disc of 55 px named as a 40 mm sticker (55 / 40 px/mm by
construction; her eyes ~86 px apart are then ~63 mm apart, a plausible face).
"""

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.util import img_as_float

from pipelines import analyze_folder
from pipelines.config import load_config
from pipelines.io.metadata import MetadataError
from texture.phantoms.photo import render_skin
from texture.phantoms.sticker import draw_sticker

FAST = {"backend": "serial", "register": False, "color_correction": "none"}
WHITE_10MM = {"sticker": {"diameter_mm": 10.0, "color": "#ffffff"}}


def _save(rgb: np.ndarray, path) -> None:
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def closeup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sticker_closeup")
    skin = render_skin(size_mm=(40.0, 30.0), px_per_mm=10.0, seed=4).rgb
    _save(
        draw_sticker(skin, diameter_mm=10.0, px_per_mm=10.0, center_xy=(300.0, 150.0)),
        folder / "P01_s0_cheek.png",
    )
    return folder


@pytest.fixture(scope="module")
def face_with_sticker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sticker_face")
    photo = img_as_float(data.astronaut()).astype(np.float32)
    big = np.clip(cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_CUBIC), 0, 1)
    _save(
        draw_sticker(big, diameter_mm=40.0, px_per_mm=55 / 40, center_xy=(300.3, 630.6)),
        folder / "P01_s0_face.png",
    )
    return folder


def test_sticker_gives_the_scale_of_a_closeup(closeup):
    result = analyze_folder(closeup, photo=WHITE_10MM, **FAST)
    m = result.metrics.iloc[0]
    assert m["px_per_mm_source"] == "sticker"
    assert m["px_per_mm"] == pytest.approx(10.0, rel=0.01)
    assert 0 < m["px_per_mm_uncertainty_pct"] < 2.0
    for column in ("roi_area_cm2", "pore_mean_diameter_mm", "pore_density_per_cm2"):
        assert np.isfinite(m[column]), column
    # The sticker is not skin: the ROI is the 12 cm2 field minus at least the sticker's 0.785 cm2.
    assert m["roi_area_cm2"] <= 12.0 - np.pi * 0.5**2
    assert result.errors.empty


def test_sticker_without_a_color_and_with_a_tolerance(closeup):
    photo = {"sticker": {"diameter_mm": 10.0, "tolerance_mm": 0.2}}
    m = analyze_folder(closeup, photo=photo, **FAST).metrics.iloc[0]
    assert m["px_per_mm_source"] == "sticker"
    assert m["px_per_mm"] == pytest.approx(10.0, rel=0.01)
    assert m["px_per_mm_uncertainty_pct"] >= 2.0  # 0.2 mm of 10 mm


def test_given_scale_wins_over_the_sticker(closeup):
    m = analyze_folder(closeup, px_per_mm=12.0, photo=WHITE_10MM, **FAST).metrics.iloc[0]
    assert m["px_per_mm_source"] == "given"
    assert m["px_per_mm"] == 12.0
    assert np.isnan(m["px_per_mm_uncertainty_pct"])


def test_sticker_with_a_user_roi(closeup, tmp_path):
    (tmp_path / "P01_s0_cheek.png").write_bytes((closeup / "P01_s0_cheek.png").read_bytes())
    (tmp_path / "manifest.csv").write_text(
        'file,subject,session,roi\nP01_s0_cheek.png,P01,0,"10 10, 150 10, 150 250"\n'
    )
    m = analyze_folder(tmp_path, photo=WHITE_10MM, **FAST).metrics.iloc[0]
    assert m["px_per_mm_source"] == "sticker"
    assert m["px_per_mm"] == pytest.approx(10.0, rel=0.01)
    assert np.isfinite(m["roi_area_cm2"])


@pytest.mark.parametrize("zones", ["auto", False])
def test_sticker_on_a_full_face_photo(face_with_sticker, zones):
    photo = {"sticker": {"diameter_mm": 40.0, "color": "#ffffff"}, "face": {"zones": zones}}
    result = analyze_folder(face_with_sticker, photo=photo, **FAST)
    m = result.metrics
    if zones == "auto":
        assert len(m) > 1  # the face was found: one row per zone too
    assert (m["px_per_mm_source"] == "sticker").all()
    assert m["px_per_mm"].to_numpy() == pytest.approx(55 / 40, rel=0.01)
    assert m["px_per_mm_uncertainty_pct"].between(0, 2).all()
    assert not result.errors["message"].str.contains("sticker").any()


def test_absent_sticker_warns_and_falls_back_to_the_iris(tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "P01_s0_face.png")
    # No green sticker anywhere in the photo.
    result = analyze_folder(tmp_path, photo={"sticker": {"diameter_mm": 10.0, "color": "#00ff00"}}, **FAST)
    assert (result.metrics["px_per_mm_source"] == "iris").all()
    errors = result.errors
    warned = errors[errors["message"].str.contains("calibration sticker")]
    assert len(warned) == 1 and (warned["stage"] == "warning").all()
    message = warned["message"].iloc[0]
    assert "not found" in message and "no round region" in message
    assert str(tmp_path) not in message


def test_sticker_implausible_for_the_face_is_dropped(tmp_path):
    # A 40 px disc named as a 10 mm sticker on the 512 px astronaut: 4 px/mm would put her eyes ~11 mm
    # apart. The face check drops it with a warning and the iris gives the scale.
    photo = img_as_float(data.astronaut())
    _save(
        draw_sticker(photo, diameter_mm=10.0, px_per_mm=4.0, center_xy=(425.3, 40.6)),
        tmp_path / "P01_s0_face.png",
    )
    result = analyze_folder(tmp_path, photo=WHITE_10MM, **FAST)
    assert (result.metrics["px_per_mm_source"] == "iris").all()
    messages = result.errors["message"]
    assert messages.str.contains("calibration sticker scale not used").sum() == 1
    assert messages.str.contains("implausible for this face").any()


@pytest.mark.parametrize(
    "bad",
    [
        {"diameter_mm": 0},
        {"diameter_mm": "10"},
        {"color": "#ffffff"},  # no diameter
        {"diameter_mm": 10.0, "color": "white"},
        {"diameter_mm": 10.0, "tolerance_mm": -1},
        {"diameter_mm": 10.0, "size": 3},
        "10 mm",
    ],
)
def test_bad_sticker_options_are_refused_up_front(bad):
    with pytest.raises(MetadataError, match="sticker"):
        load_config(photo={"sticker": bad})


def test_sticker_options_accepted():
    settings = load_config(photo={"sticker": {"diameter_mm": 10, "color": [95.0, 0.0, 2.0]}})
    assert settings.photo["sticker"]["diameter_mm"] == 10
    assert load_config(photo={"sticker": None}).photo["sticker"] is None


def test_identical_follow_up_with_a_sticker_changes_nothing(closeup, tmp_path):
    # Registration and exposure normalisation on (the defaults): the follow-up is paired with its baseline,
    # which is measured again at the follow-up's sticker scale through the registration.
    for session in (0, 1):
        (tmp_path / f"P01_s{session}_cheek.png").write_bytes((closeup / "P01_s0_cheek.png").read_bytes())
    result = analyze_folder(tmp_path, photo=WHITE_10MM, backend="serial")
    assert (result.metrics["px_per_mm_source"] == "sticker").all()
    assert result.metrics["px_per_mm"].to_numpy() == pytest.approx(10.0, rel=0.01)
    follow = result.changes[result.changes["session"] == 1]
    assert not follow.empty
    assert follow["delta"].abs().max() == 0.0
    assert result.errors.empty


def test_a_moved_sticker_is_not_measured_as_skin(tmp_path):
    # The same skin in both sessions, the sticker stuck elsewhere the second time (as in a clinic). Each
    # photo's sticker is left out and painted over, the baseline's too when it is measured again on the
    # common region: nothing changes beyond repeatability, and the sticker's edge is no line. Left in, it
    # read as 6 lines in the baseline and a lightness SD 1.67 -> 1.26 L* (8 metrics flagged).
    skin = render_skin(size_mm=(40.0, 30.0), px_per_mm=10.0, seed=4).rgb  # no lines drawn
    _save(
        draw_sticker(skin, diameter_mm=10.0, px_per_mm=10.0, center_xy=(300.0, 150.0)),
        tmp_path / "P01_s0_cheek.png",
    )
    _save(
        draw_sticker(skin, diameter_mm=10.0, px_per_mm=10.0, center_xy=(90.0, 200.0)),
        tmp_path / "P01_s1_cheek.png",
    )
    result = analyze_folder(tmp_path, photo=WHITE_10MM, backend="serial", cache=False)
    assert (result.metrics["px_per_mm_source"] == "sticker").all()
    assert (result.metrics["line_count"] == 0).all()
    follow = result.changes[result.changes["session"] == 1]
    assert len(follow) > 15
    assert not follow["beyond_repeatability"].fillna(False).astype(bool).any(), follow[
        ["metric", "baseline_value", "value"]
    ].to_string()
    # A given scale wins, and the sticker is still left out of the skin.
    given = analyze_folder(tmp_path, photo=WHITE_10MM, px_per_mm=10.0, backend="serial", cache=False)
    assert (given.metrics["px_per_mm_source"] == "given").all()
    assert (given.metrics["line_count"] == 0).all()
