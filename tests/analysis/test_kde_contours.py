"""Contour lines and quantile levels (cytolab.analysis.kde_contours)."""
from __future__ import annotations

import numpy as np
import pytest

import cytolab
from cytolab.analysis import kde_contours
from cytolab.analysis.kde_contours import find_contours_level, get_quantile_levels
from cytolab.analysis.kde_methods import kde_gauss


def test_module_alias():
    assert cytolab.kde_contours is kde_contours


def points_inside(lines, x, y):
    """Events inside the polygons of `lines` (even-odd rule over all lines)."""
    pts = np.column_stack([x, y])
    try:
        from matplotlib.path import Path
    except ImportError:  # pragma: no cover - fallback
        from cytolab.rtdc.polygon_filter import point_in_poly

        def contains(line):
            return np.asarray(point_in_poly(pts, line), dtype=bool)
    else:
        def contains(line):
            return Path(line).contains_points(pts)
    inside = np.zeros(pts.shape[0], dtype=bool)
    for line in lines:
        inside ^= contains(line)
    return inside


# --------------------------------------------------------------------------
# find_contours_level
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gauss_grid():
    """Anisotropic Gaussian (sx=1, sy=2) on an ij grid of shape (61, 81)."""
    xv = np.linspace(-3, 3, 61)
    yv = np.linspace(-6, 6, 81)
    X, Y = np.meshgrid(xv, yv, indexing="ij")
    Z = np.exp(-0.5 * (X ** 2 + (Y / 2) ** 2))
    return xv, yv, X, Y, Z


@pytest.mark.parametrize("r", [0.5, 1.0, 1.5, 2.5])
def test_contour_of_gaussian_is_ellipse(gauss_grid, r):
    xv, yv, X, Y, Z = gauss_grid
    lines = find_contours_level(Z, X, Y, level=np.exp(-r * r / 2))
    assert len(lines) == 1
    line = lines[0]
    assert line.ndim == 2 and line.shape[1] == 2 and line.shape[0] > 10
    # closed line
    np.testing.assert_allclose(line[0], line[-1])
    # normalised radius: x / 1, y / 2 (the grid spacing is 0.1 and 0.15)
    radius = np.hypot(line[:, 0], line[:, 1] / 2)
    assert np.all(np.abs(radius - r) < 0.1)
    # the line goes around: it reaches the extremes of the ellipse
    assert line[:, 0].max() == pytest.approx(r, abs=0.1)
    assert line[:, 1].max() == pytest.approx(2 * r, abs=0.15)
    assert line[:, 0].min() == pytest.approx(-r, abs=0.1)


def test_contour_with_1d_axes(gauss_grid):
    xv, yv, X, Y, Z = gauss_grid
    level = np.exp(-0.5)
    lines_2d = find_contours_level(Z, X, Y, level)
    lines_1d = find_contours_level(Z, xv, yv, level)
    assert len(lines_1d) == len(lines_2d) == 1
    np.testing.assert_allclose(lines_1d[0], lines_2d[0])


def test_contour_relative_to_maximum(gauss_grid):
    xv, yv, X, Y, Z = gauss_grid
    level = np.exp(-0.5)
    ref = find_contours_level(Z, X, Y, level)
    scaled = find_contours_level(123.0 * Z, X, Y, level)
    np.testing.assert_allclose(scaled[0], ref[0])


def test_contour_on_log_spaced_axis():
    """A non-uniform axis: points are returned in data coordinates."""
    xv = np.logspace(0, 2, 121)  # 1 .. 100
    yv = np.linspace(-3, 3, 61)
    X, Y = np.meshgrid(xv, yv, indexing="ij")
    sig = 0.25
    Z = np.exp(-0.5 * (((np.log10(X) - 1) / sig) ** 2 + Y ** 2))
    for args in [(X, Y), (xv, yv)]:
        lines = find_contours_level(Z, *args, level=np.exp(-0.5))
        assert len(lines) == 1
        line = lines[0]
        # data coordinates: x between 10**0.75 and 10**1.25 (not node indices)
        assert line[:, 0].min() == pytest.approx(10 ** (1 - sig), rel=0.03)
        assert line[:, 0].max() == pytest.approx(10 ** (1 + sig), rel=0.03)
        radius = np.hypot((np.log10(line[:, 0]) - 1) / sig, line[:, 1])
        assert np.all(np.abs(radius - 1) < 0.1)


def test_contour_closed_at_border():
    xv = np.linspace(0, 4, 41)
    yv = np.linspace(-4, 4, 81)
    X, Y = np.meshgrid(xv, yv, indexing="ij")
    Z = np.exp(-0.5 * (X ** 2 + Y ** 2))  # maximum on the border x = 0
    level = np.exp(-0.5 * 2 ** 2)
    open_lines = find_contours_level(Z, X, Y, level)
    assert len(open_lines) == 1
    line = open_lines[0]
    assert not np.allclose(line[0], line[-1])
    # both ends on the border x = 0
    assert line[0, 0] == pytest.approx(0) and line[-1, 0] == pytest.approx(0)
    closed_lines = find_contours_level(Z, X, Y, level, closed=True)
    assert len(closed_lines) == 1
    line = closed_lines[0]
    np.testing.assert_array_equal(line[0], line[-1])
    # all points inside the grid, the arc still at radius 2
    assert line[:, 0].min() >= 0 and line[:, 0].max() <= 4
    arc = line[line[:, 0] > 0.05]
    assert np.all(np.abs(np.hypot(arc[:, 0], arc[:, 1]) - 2) < 0.1)
    # the closed polygon encloses the half disc
    inside = points_inside(closed_lines, np.array([0.5, 1.0, 3.0]),
                           np.array([0.0, 1.0, 0.0]))
    assert inside.tolist() == [True, True, False]


@pytest.mark.parametrize("level", [-0.1, 1.1, 2, np.nan])
def test_contour_bad_level(gauss_grid, level):
    xv, yv, X, Y, Z = gauss_grid
    with pytest.raises(ValueError):
        find_contours_level(Z, X, Y, level)


def test_contour_empty_density():
    xv = np.linspace(0, 1, 11)
    yv = np.linspace(0, 1, 12)
    X, Y = np.meshgrid(xv, yv, indexing="ij")
    assert find_contours_level(np.zeros(X.shape), X, Y, 0.5) == []
    assert find_contours_level(np.full(X.shape, np.nan), X, Y, 0.5) == []
    assert find_contours_level(np.zeros(X.shape), xv, yv, 0.5, closed=True) == []


def test_contour_nan_counts_as_no_density(gauss_grid):
    xv, yv, X, Y, Z = gauss_grid
    Zn = Z.copy()
    Zn[Zn < 1e-3] = np.nan
    lines = find_contours_level(Zn, X, Y, np.exp(-0.5))
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0], find_contours_level(Z, X, Y,
                                                             np.exp(-0.5))[0])


def test_contour_shape_mismatch(gauss_grid):
    xv, yv, X, Y, Z = gauss_grid
    with pytest.raises(ValueError):
        find_contours_level(Z, X.T, Y.T, 0.5)  # xy indexing
    with pytest.raises(ValueError):
        find_contours_level(Z, X[:-1], Y[:-1], 0.5)
    with pytest.raises(ValueError):
        find_contours_level(Z, xv[:-1], yv, 0.5)
    with pytest.raises(ValueError):
        find_contours_level(Z, yv, xv, 0.5)
    with pytest.raises(ValueError):
        find_contours_level(Z.ravel(), xv, yv, 0.5)


# --------------------------------------------------------------------------
# get_quantile_levels
# --------------------------------------------------------------------------
N_EVENTS = 20_000
COV = np.array([[4.0, 1.2], [1.2, 1.0]])


@pytest.fixture(scope="module")
def normal_events():
    rng = np.random.default_rng(7)
    x, y = rng.multivariate_normal([10.0, 5.0], COV, N_EVENTS).T
    return x, y


@pytest.fixture(scope="module", params=["gauss", "multivariate", "kde_gauss"])
def density_grid(request, normal_events):
    x, y = normal_events
    if request.param == "kde_gauss":
        xv = np.linspace(x.min(), x.max(), 90)
        yv = np.linspace(y.min(), y.max(), 70)
        X, Y = np.meshgrid(xv, yv, indexing="ij")
        Z = kde_gauss(x, y, X, Y)
    else:
        ds = cytolab.new_dataset({"area_um": x, "deform": y})
        X, Y, Z = ds.get_kde_contour(kde_type=request.param)
    return request.param, X, Y, Z


def test_quantile_levels_enclose_fraction(normal_events, density_grid, capsys):
    x, y = normal_events
    name, X, Y, Z = density_grid
    qs = np.array([0.1, 0.5, 0.9])
    levels = get_quantile_levels(Z, X, Y, x, y, qs)
    assert isinstance(levels, np.ndarray) and levels.shape == (3,)
    assert np.all(np.diff(levels) > 0) and np.all((levels > 0) & (levels < 1))
    # Scott's factor widens the estimate of a normal distribution:
    # its covariance is COV * (1 + n**(-1/3)) for "gauss"
    for q, level in zip(qs, levels):
        lines = find_contours_level(Z, X, Y, level, closed=True)
        assert lines
        frac = points_inside(lines, x, y).mean()
        err = frac - (1 - q)
        # continuous limit for a bivariate normal: 1 - L / Lmax
        analytic = 1 - level
        with capsys.disabled():
            print(f"\n[quantile {name} q={q}] enclosed {frac:.4f} "
                  f"(error {100 * err:+.3f} pp), analytic 1-L/Lmax "
                  f"{analytic:.4f} ({100 * (analytic - frac):+.2f} pp)")
        assert abs(err) < 0.01
        assert abs(analytic - frac) < 0.03


def test_quantile_levels_scalar_and_absolute(normal_events, density_grid):
    x, y = normal_events
    _, X, Y, Z = density_grid
    lev = get_quantile_levels(Z, X, Y, x, y, 0.5)
    assert isinstance(lev, float)
    arr = get_quantile_levels(Z, X, Y, x, y, [0.5])
    assert isinstance(arr, np.ndarray) and arr.shape == (1,)
    assert arr[0] == lev
    absolute = get_quantile_levels(Z, X, Y, x, y, [0.1, 0.5, 0.9],
                                   normalize=False)
    normalized = get_quantile_levels(Z, X, Y, x, y, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(absolute, normalized * Z.max(), rtol=1e-12)
    # 1-D axes give the same
    np.testing.assert_allclose(
        get_quantile_levels(Z, X[:, 0], Y[0, :], x, y, [0.1, 0.5, 0.9]),
        normalized, rtol=1e-12)


def test_quantile_levels_exact_on_events():
    """The level is the q-quantile of the (bilinear) density at the events."""
    xv = np.array([0.0, 1.0, 2.0])
    yv = np.array([0.0, 1.0])
    Z = np.array([[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]])  # Z = 4 x + 2 y
    px = np.array([0.5, 1.0, 1.5, 2.0, 0.25, 5.0])
    py = np.array([0.5, 0.0, 1.0, 1.0, 0.0, 0.5])  # last one outside -> 0
    at = np.array([3.0, 4.0, 8.0, 10.0, 1.0, 0.0])
    for q in [0.0, 0.2, 0.5, 0.8, 1.0]:
        expected = np.quantile(at, q)
        got = get_quantile_levels(Z, xv, yv, px, py, q, normalize=False)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
        got = get_quantile_levels(Z, xv, yv, px, py, q)
        assert got == pytest.approx(expected / 10, rel=1e-12, abs=1e-12)


def test_quantile_levels_ignore_nan_events(normal_events, density_grid):
    x, y = normal_events
    _, X, Y, Z = density_grid
    x, y = x[:2000], y[:2000]
    ref = get_quantile_levels(Z, X, Y, x, y, [0.1, 0.5, 0.9])
    xb = np.r_[np.nan, x, np.inf, 1.0]
    yb = np.r_[1.0, y, 2.0, np.nan]
    np.testing.assert_array_equal(
        get_quantile_levels(Z, X, Y, xb, yb, [0.1, 0.5, 0.9]), ref)


@pytest.mark.parametrize("q", [-0.1, 1.5, [0.5, 2.0], np.nan])
def test_quantile_levels_bad_q(normal_events, density_grid, q):
    x, y = normal_events
    _, X, Y, Z = density_grid
    with pytest.raises(ValueError):
        get_quantile_levels(Z, X, Y, x[:100], y[:100], q)


def test_quantile_levels_errors(normal_events, density_grid):
    x, y = normal_events
    _, X, Y, Z = density_grid
    with pytest.raises(ValueError):
        get_quantile_levels(Z, X, Y, [np.nan, 1.0], [1.0, np.inf], 0.5)
    with pytest.raises(ValueError):
        get_quantile_levels(Z, X, Y, [], [], 0.5)
    with pytest.raises(ValueError):
        get_quantile_levels(Z, X, Y, x[:10], y[:9], 0.5)
    with pytest.raises(ValueError):
        get_quantile_levels(Z, X.T, Y.T, x[:10], y[:10], 0.5)


@pytest.mark.parametrize("events", ["one", "identical"])
def test_quantile_levels_degenerate(events):
    if events == "one":
        x, y = np.array([20.0]), np.array([0.02])
    else:
        x, y = np.full(500, 20.0), np.full(500, 0.02)
    ds = cytolab.new_dataset({"area_um": x, "deform": y})
    for kde_type in ["histogram", "gauss", "multivariate"]:
        X, Y, Z = ds.get_kde_contour(kde_type=kde_type)
        assert X.shape == Z.shape and X.size < 1000
        levels = get_quantile_levels(Z, X, Y, x, y, [0.1, 0.5, 0.9])
        assert levels.shape == (3,)
        assert np.all(np.isfinite(levels) | np.isnan(levels))
        assert np.all(levels[np.isfinite(levels)] >= 0)
        for level in levels[np.isfinite(levels)]:
            lines = find_contours_level(Z, X, Y, min(level, 1.0), closed=True)
            assert isinstance(lines, list)
    # a density without maximum: NaN levels, no exception
    lev = get_quantile_levels(np.zeros((3, 4)), np.arange(3.0), np.arange(4.0),
                              [1.0], [1.0], 0.5)
    assert np.isnan(lev)
