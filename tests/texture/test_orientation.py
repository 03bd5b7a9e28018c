"""Orientation and coherency as OrientationJ defines them, checked against an independent transcription of
its algorithm, closed-form fringe patterns, and the hard cases (stars, crossed fibres) that have none."""

import numpy as np
import pytest

from texture.collagen import analyze_collagen
from texture.orientation import (
    MIN_COHERENCY,
    dominant_direction,
    orientation_to_surface_deg,
    orientationj_gradient,
    surface_angle_deg,
)
from texture.phantoms.fibres import crossing_fibres, fringe_angles_deg, fringe_coherency, fringes, star


def _java_spline_coefficients(s):
    """OrientationJ's CubicSpline.doSymmetricalExponentialFilter, transcribed loop by loop."""
    a = np.sqrt(3.0) - 2.0
    n = len(s)
    k0 = int(np.ceil(np.log(1e-6) / np.log(abs(a))))
    v, pole = s[0], a
    for k in range(1, k0):
        v += pole * s[k]
        pole *= a
    cp = np.zeros(n)
    cp[0] = v
    for k in range(1, n):
        cp[k] = s[k] + a * cp[k - 1]
    cn = np.zeros(n)
    cn[n - 1] = (a / (a * a - 1.0)) * (cp[n - 1] + a * cp[n - 2])
    for k in range(n - 2, -1, -1):
        cn[k] = a * (cn[k + 1] - cp[k])
    return 6.0 * cn


def _java_gradient(img):
    """OrientationJ's Gradient.gradientSpline (sigmaLoG = 0): x along rows, y along columns, image axes."""
    ny, nx = img.shape
    gx = np.zeros_like(img)
    gy = np.zeros_like(img)
    sp = (0.0, 0.5, 0.5)  # getQuadraticSpline(0.5)
    for y in range(ny):
        c = _java_spline_coefficients(img[y, :])
        for x in range(1, nx - 1):
            left = c[x - 2] - c[x - 1] if x >= 2 else c[1] - c[0]
            gx[y, x] = left * sp[0] + (c[x - 1] - c[x]) * sp[1] + (c[x] - c[x + 1]) * sp[2]
    for x in range(nx):
        c = _java_spline_coefficients(img[:, x])
        for y in range(1, ny - 1):
            up = c[y - 2] - c[y - 1] if y >= 2 else c[1] - c[0]
            gy[y, x] = up * sp[0] + (c[y - 1] - c[y]) * sp[1] + (c[y] - c[y + 1]) * sp[2]
    return gx, gy


def test_gradient_equals_orientationj_spline_gradient():
    img = np.random.default_rng(3).uniform(0.0, 1.0, (23, 31))
    gx, gy = orientationj_gradient(img)
    jx, jy = _java_gradient(img)
    # OrientationJ's x-derivative is c[x-1] - c[x+1] (sign flipped); its y runs down the rows, ours up,
    # so its gy equals ours. The truncated causal start (1e-6) bounds the difference.
    np.testing.assert_allclose(gx, -jx, atol=2e-5)
    np.testing.assert_allclose(gy, jy, atol=2e-5)


@pytest.mark.parametrize(
    "components",
    [
        ((1.0, 30.0, 16),),
        ((1.0, 0.0, 16), (0.6, 90.0, 12)),
        ((1.0, 20.0, 16), (1.0, 80.0, 20)),
        ((1.0, 45.0, 10), (0.8, 135.0, 14), (0.3, 10.0, 24)),
        ((1.0, 0.0, 16), (1.0, 90.0, 16)),
    ],
)
def test_coherency_of_fringes_equals_the_closed_form(components):
    shape = (256, 256)
    img = fringes(shape, components=components)
    truth = fringe_coherency(shape, components)
    _, coh = dominant_direction(img)
    assert coh == pytest.approx(truth, abs=0.01)
    # The same through the collagen summary (SHG grey in [0, 1], the whole field as the region).
    grey = (img - img.min()) / (img.max() - img.min())
    m = analyze_collagen(
        np.repeat(grey[..., None], 3, axis=2), stain="shg", mask=np.ones(shape, bool), fibres=False
    ).sums.metrics()
    assert m["collagen_coherency"] == pytest.approx(truth, abs=0.01)


@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0, 100.0, 165.0])
def test_dominant_direction_of_a_single_fringe(angle):
    components = ((1.0, angle, 16),)
    img = fringes((256, 256), components=components)
    got, coh = dominant_direction(img)
    exact = fringe_angles_deg((256, 256), components)[0]  # wave vector rounded to whole periods
    d = abs(exact - angle) % 180.0
    assert min(d, 180.0 - d) <= 2.0
    d = abs(got - exact) % 180.0
    assert min(d, 180.0 - d) <= 0.05
    assert coh > 0.99


@pytest.mark.parametrize(
    "phantom",
    [
        star(arms=4),
        star(arms=3),
        crossing_fibres(angles_deg=(0.0, 90.0)),
        crossing_fibres(angles_deg=(30.0, 120.0)),
    ],
    ids=["star4", "star3", "crossed_0_90", "crossed_30_120"],
)
def test_no_orientation_where_there_is_none(phantom):
    m = analyze_collagen(
        phantom.rgb, stain="shg", mask=np.ones(phantom.grey.shape, bool), fibres=False
    ).sums.metrics()
    assert m["collagen_coherency"] < MIN_COHERENCY
    assert np.isnan(m["collagen_orientation_deg"])
    assert m["collagen_orientation_undefined"] == 1.0
    assert np.isnan(m["collagen_orientation_to_surface_deg"])


def test_an_oriented_image_is_flagged_defined():
    img = fringes((128, 128), components=((1.0, 60.0, 12), (0.3, 150.0, 12)))
    grey = (img - img.min()) / (img.max() - img.min())
    m = analyze_collagen(
        np.repeat(grey[..., None], 3, axis=2),
        stain="shg",
        mask=np.ones(grey.shape, bool),
        fibres=False,
        surface_deg=10.0,
    ).sums.metrics()
    assert m["collagen_orientation_undefined"] == 0.0
    assert abs(m["collagen_orientation_deg"] - 60.0) < 1.0
    assert m["collagen_orientation_to_surface_deg"] == pytest.approx(50.0, abs=1.0)


def test_orientation_to_surface_by_hand():
    assert orientation_to_surface_deg(30.0, 10.0) == pytest.approx(20.0)
    assert orientation_to_surface_deg(170.0, 10.0) == pytest.approx(20.0)  # undirected lines
    assert orientation_to_surface_deg(100.0, 10.0) == pytest.approx(90.0)
    assert orientation_to_surface_deg(5.0, 175.0) == pytest.approx(10.0)
    assert np.isnan(orientation_to_surface_deg(float("nan"), 10.0))


@pytest.mark.parametrize("tilt_deg", [0.0, 15.0, -20.0])
def test_surface_direction_from_an_epidermis_mask(tilt_deg):
    # A band (epidermis) whose lower edge rises by tan(tilt) per column; its upper edge too.
    rows, cols = np.mgrid[0:200, 0:300]
    edge = 100.0 - np.tan(np.deg2rad(tilt_deg)) * (cols - 150.0)
    band = (rows < edge) & (rows > edge - 40.0)
    got = surface_angle_deg(band)
    want = tilt_deg % 180.0
    d = abs(got - want) % 180.0
    assert min(d, 180.0 - d) <= 1.0
    # Fibres running at 100 degrees are 90 - |tilt - 10| ... from a surface at tilt: by the folded rule.
    assert orientation_to_surface_deg(want + 90.0, band) == pytest.approx(90.0, abs=1.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        orientationj_gradient(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="mask shape"):
        dominant_direction(np.zeros((8, 8)), mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="2-D"):
        surface_angle_deg(np.zeros(5, bool))
