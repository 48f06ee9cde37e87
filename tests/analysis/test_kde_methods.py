"""Kernel density estimates (cytolab.analysis.kde_methods and _kernels).

Every reference value is computed here independently: brute-force kernel
sums written with numpy broadcasting, histograms counted by hand, and
scipy.stats.gaussian_kde as a second reference of the Gaussian estimate.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import cytolab
from cytolab.analysis import _kernels, kde_methods
from cytolab.analysis.kde_methods import (
    bin_num_doane,
    bin_width_doane,
    bin_width_percentile,
    get_bad_vals,
    get_method,
    kde_gauss,
    kde_histogram,
    kde_multivariate,
    kde_none,
    methods,
)

METHOD_NAMES = sorted(methods)


# --------------------------------------------------------------------------
# independent references
# --------------------------------------------------------------------------
def brute_gauss(x, y, px, py):
    """Gaussian KDE with kernel covariance cov(x, y) * n**(-1/3)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    px, py = np.asarray(px, float).ravel(), np.asarray(py, float).ravel()
    n = x.size
    cov = np.cov(x, y) * n ** (-1 / 3)
    inv = np.linalg.inv(cov)
    det = np.linalg.det(cov)
    out = np.empty(px.size)
    for start in range(0, px.size, 200):
        dx = px[start:start + 200, None] - x[None, :]
        dy = py[start:start + 200, None] - y[None, :]
        quad = inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy
        out[start:start + 200] = np.exp(-0.5 * quad).sum(axis=1)
    return out / (n * 2 * np.pi * np.sqrt(det))


def brute_product(x, y, px, py, bx, by):
    """mean_i N(px; x_i, bx) N(py; y_i, by)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    px, py = np.asarray(px, float).ravel(), np.asarray(py, float).ravel()
    out = np.empty(px.size)
    for start in range(0, px.size, 200):
        dx = (px[start:start + 200, None] - x[None, :]) / bx
        dy = (py[start:start + 200, None] - y[None, :]) / by
        gx = np.exp(-0.5 * dx * dx) / (np.sqrt(2 * np.pi) * bx)
        gy = np.exp(-0.5 * dy * dy) / (np.sqrt(2 * np.pi) * by)
        out[start:start + 200] = (gx * gy).mean(axis=1)
    return out


def normal_rule(a):
    a = np.asarray(a, float)
    return 1.06 * a.std(ddof=1) * a.size ** (-1 / 6)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    n = 150
    x = rng.normal(10, 2, n)
    y = 0.5 * x + rng.normal(0, 1, n)
    px = rng.uniform(4, 16, 40)
    py = rng.uniform(0, 10, 40)
    return x, y, px, py


# --------------------------------------------------------------------------
# aliases and registry
# --------------------------------------------------------------------------
def test_module_aliases():
    assert cytolab.kde_methods is kde_methods
    assert set(methods) == {"gauss", "histogram", "multivariate", "none"}
    assert methods["gauss"] is kde_gauss
    assert methods["histogram"] is kde_histogram
    assert methods["multivariate"] is kde_multivariate
    assert methods["none"] is kde_none
    for name in METHOD_NAMES:
        assert get_method(name) is methods[name]


def test_get_method_unknown_lists_names():
    with pytest.raises(ValueError) as exc:
        get_method("nope")
    msg = str(exc.value)
    assert "nope" in msg
    for name in METHOD_NAMES:
        assert name in msg


def test_get_bad_vals():
    x = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    y = np.array([1.0, 2.0, -np.inf, 4.0, 5.0])
    assert get_bad_vals(x, y).tolist() == [False, True, True, True, False]


# --------------------------------------------------------------------------
# kde_gauss
# --------------------------------------------------------------------------
def test_gauss_equals_brute_force(small):
    x, y, px, py = small
    got = kde_gauss(x, y, px, py)
    ref = brute_gauss(x, y, px, py)
    assert np.all(ref > 0)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_gauss_equals_scipy(small):
    stats = pytest.importorskip("scipy.stats")
    x, y, px, py = small
    ref = stats.gaussian_kde(np.vstack([x, y]))(np.vstack([px, py]))
    np.testing.assert_allclose(kde_gauss(x, y, px, py), ref, rtol=1e-10, atol=0)


def test_gauss_default_positions_are_events(small):
    x, y, _, _ = small
    got = kde_gauss(x, y)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, brute_gauss(x, y, x, y), rtol=1e-10, atol=0)


def test_gauss_grid_positions_keep_shape(small):
    x, y, _, _ = small
    gx, gy = np.meshgrid(np.linspace(5, 15, 7), np.linspace(1, 9, 5),
                         indexing="ij")
    got = kde_gauss(x, y, gx, gy)
    assert got.shape == (7, 5)
    ref = brute_gauss(x, y, gx, gy).reshape(7, 5)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_gauss_exact_and_binned_flags_small(small):
    x, y, px, py = small
    exact = kde_gauss(x, y, px, py, method="exact")
    assert np.array_equal(kde_gauss(x, y, px, py), exact)
    assert np.array_equal(kde_gauss(x, y, px, py, method="auto"), exact)
    with pytest.raises(ValueError, match="method"):
        kde_gauss(x, y, px, py, method="fancy")


# --------------------------------------------------------------------------
# kde_multivariate
# --------------------------------------------------------------------------
def test_multivariate_equals_brute_force(small):
    x, y, px, py = small
    got = kde_multivariate(x, y, px, py, bw=(0.7, 0.4))
    ref = brute_product(x, y, px, py, 0.7, 0.4)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)
    # the bandwidth really is a standard deviation: one event at the origin
    one = kde_multivariate([0.0], [0.0], [0.0, 0.7], [0.0, 0.4], bw=(0.7, 0.4))
    peak = 1 / (2 * np.pi * 0.7 * 0.4)
    np.testing.assert_allclose(one, [peak, peak * np.exp(-1)], rtol=1e-12)


def test_multivariate_scalar_bw_is_both_axes(small):
    x, y, px, py = small
    np.testing.assert_allclose(kde_multivariate(x, y, px, py, bw=0.6),
                               brute_product(x, y, px, py, 0.6, 0.6),
                               rtol=1e-10, atol=0)


def test_multivariate_default_bw_normal_rule(small):
    x, y, px, py = small
    bx, by = normal_rule(x), normal_rule(y)
    ref = brute_product(x, y, px, py, bx, by)
    np.testing.assert_allclose(kde_multivariate(x, y, px, py), ref,
                               rtol=1e-10, atol=0)
    np.testing.assert_allclose(kde_multivariate(x, y, px, py, bw=None), ref,
                               rtol=1e-10, atol=0)


@pytest.mark.parametrize("bw", [(0, 1), (1, 0), (-1, 1), (1, -0.5),
                                (np.nan, 1), (1, np.inf), 0, -2.0, np.nan,
                                (1, 2, 3), (1,)])
def test_multivariate_invalid_bw(small, bw):
    x, y, px, py = small
    with pytest.raises(ValueError):
        kde_multivariate(x, y, px, py, bw=bw)


# --------------------------------------------------------------------------
# binned estimate (FFT) against brute force
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lognormal():
    """20,000 RT-DC-like events and 300 positions (half of them events)."""
    rng = np.random.default_rng(2024)
    n = 20_000
    x = rng.lognormal(np.log(50), 0.3, n)
    y = rng.lognormal(np.log(0.02), 0.4, n)
    pick = rng.choice(n, 150, replace=False)
    px = np.r_[x[pick], rng.uniform(x.min(), x.max(), 150)]
    py = np.r_[y[pick], rng.uniform(y.min(), y.max(), 150)]
    return x, y, px, py


def _max_rel_dev(binned, exact):
    """Largest relative deviation where exact > 1 % of its maximum."""
    assert np.all(np.isfinite(binned))
    where = exact > 0.01 * exact.max()
    assert where.sum() > 100  # the comparison covers many positions
    return float(np.max(np.abs(binned[where] / exact[where] - 1)))


@pytest.mark.parametrize("bw", [None, (2.0, 0.001), (5.0, 0.004)])
def test_binned_multivariate_vs_brute_force(lognormal, bw, capsys):
    x, y, px, py = lognormal
    bx, by = (normal_rule(x), normal_rule(y)) if bw is None else bw
    exact = brute_product(x, y, px, py, bx, by)
    binned = kde_multivariate(x, y, px, py, bw=bw, method="binned")
    dev = _max_rel_dev(binned, exact)
    with capsys.disabled():
        print(f"\n[binned multivariate bw={bw}] max rel. deviation {dev:.3%}")
    assert dev < 0.01
    # far outside the data the binned sum is zero, as the exact one nearly is
    far = kde_multivariate(x, y, [1e4], [10.0], bw=bw, method="binned")
    assert far.tolist() == [0.0]


def test_binned_gauss_vs_brute_force(lognormal, capsys):
    x, y, px, py = lognormal
    exact = brute_gauss(x, y, px, py)
    # the exact path of the code agrees with the brute force
    np.testing.assert_allclose(kde_gauss(x, y, px, py, method="exact"), exact,
                               rtol=1e-10, atol=0)
    binned = kde_gauss(x, y, px, py, method="binned")
    dev = _max_rel_dev(binned, exact)
    with capsys.disabled():
        print(f"\n[binned gauss] max rel. deviation {dev:.3%}")
    assert dev < 0.01


def test_auto_selects_exact_for_small_and_binned_for_large(lognormal):
    x, y, px, py = lognormal
    assert x.size * px.size <= _kernels.EXACT_PAIRS
    for kde in (kde_gauss, kde_multivariate):
        auto = kde(x, y, px, py)
        assert np.array_equal(auto, kde(x, y, px, py, method="exact"))
        assert not np.array_equal(auto, kde(x, y, px, py, method="binned"))
    # default positions = the events: N x N pairs, far beyond EXACT_PAIRS
    assert x.size * x.size > _kernels.EXACT_PAIRS
    for kde in (kde_gauss, kde_multivariate):
        auto = kde(x, y)
        assert np.array_equal(auto, kde(x, y, method="binned"))


def test_gaussian_sum_unknown_method():
    a = np.array([0.0, 1.0])
    with pytest.raises(ValueError):
        _kernels.gaussian_sum(a, a, a, a, 1.0, 1.0, method="nope")


def test_fractional_index_and_bilinear():
    axis = np.array([0.0, 1.0, 3.0, 7.0])
    got = _kernels.fractional_index(np.array([0.0, 0.5, 2.0, 5.0, 7.0, -1, 8]),
                                    axis)
    np.testing.assert_allclose(got[:5], [0, 0.5, 1.5, 2.5, 3])
    assert np.isnan(got[5:]).all()
    # descending axis
    got = _kernels.fractional_index(np.array([7.0, 2.0]), axis[::-1])
    np.testing.assert_allclose(got, [0, 1.5])
    grid = np.array([[0.0, 1.0], [2.0, 5.0]])
    val = _kernels.bilinear(grid, np.array([0.5, 1.0, 0.0, 1.5, np.nan]),
                            np.array([0.5, 1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(val[:3], [(0 + 1 + 2 + 5) / 4, 5.0, 0.0])
    assert np.isnan(val[3:]).all()


# --------------------------------------------------------------------------
# kde_histogram
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hist_data():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 300)
    y = rng.uniform(10, 20, 300)
    return x, y


def _hand_histogram(x, y, bx, by):
    """Counts by loops, bin edges spanning [min, max], last bin closed."""
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    wx, wy = (x1 - x0) / bx, (y1 - y0) / by
    counts = np.zeros((bx, by))
    for xi, yi in zip(x, y):
        i = min(int(math.floor((xi - x0) / wx)), bx - 1)
        j = min(int(math.floor((yi - y0) / wy)), by - 1)
        counts[i, j] += 1
    return counts, x0, y0, wx, wy


def test_histogram_at_bin_centres(hist_data):
    x, y = hist_data
    bx, by = 6, 4
    counts, x0, y0, wx, wy = _hand_histogram(x, y, bx, by)
    # numpy as a second reference for the counts
    ref, _, _ = np.histogram2d(x, y, bins=(bx, by))
    assert np.array_equal(counts, ref)
    cx = x0 + (np.arange(bx) + 0.5) * wx
    cy = y0 + (np.arange(by) + 0.5) * wy
    gx, gy = np.meshgrid(cx, cy, indexing="ij")
    got = kde_histogram(x, y, gx, gy, bins=(bx, by))
    assert got.shape == (bx, by)
    np.testing.assert_allclose(got, counts / (x.size * wx * wy), rtol=1e-9,
                               atol=0)


def test_histogram_bilinear_between_centres(hist_data):
    x, y = hist_data
    bx, by = 6, 4
    counts, x0, y0, wx, wy = _hand_histogram(x, y, bx, by)
    dens = counts / (x.size * wx * wy)
    # midpoint between the centres of bins (2, 1), (3, 1), (2, 2), (3, 2)
    mx = x0 + 3 * wx
    my = y0 + 2 * wy
    expected = (dens[2, 1] + dens[3, 1] + dens[2, 2] + dens[3, 2]) / 4
    got = kde_histogram(x, y, [mx], [my], bins=(bx, by))
    np.testing.assert_allclose(got, [expected], rtol=1e-9)
    # a quarter of the way from centre (1, 0) to centre (2, 0) along x
    qx = x0 + 1.75 * wx
    qy = y0 + 0.5 * wy
    expected = 0.75 * dens[1, 0] + 0.25 * dens[2, 0]
    got = kde_histogram(x, y, [qx], [qy], bins=(bx, by))
    np.testing.assert_allclose(got, [expected], rtol=1e-9)
    # constant in the outer half bins
    got = kde_histogram(x, y, [x0 + 0.1 * wx], [y0 + 0.2 * wy], bins=(bx, by))
    np.testing.assert_allclose(got, [dens[0, 0]], rtol=1e-9)


def test_histogram_outside_is_zero(hist_data):
    x, y = hist_data
    px = np.array([x.min() - 0.1, x.max() + 0.1, 0.0, 0.0, x.max() + 5])
    py = np.array([15.0, 15.0, y.min() - 0.1, y.max() + 0.1, y.max() + 5])
    assert kde_histogram(x, y, px, py).tolist() == [0.0] * 5


def test_histogram_integral_is_one(hist_data):
    x, y = hist_data
    gxv = np.linspace(x.min(), x.max(), 401)
    gyv = np.linspace(y.min(), y.max(), 401)
    gx, gy = np.meshgrid(gxv, gyv, indexing="ij")
    for bins in [(6, 4), 10, (47, 47)]:
        dens = kde_histogram(x, y, gx, gy, bins=bins)
        # trapezoidal rule on the uniform grid
        wxv = np.full(gxv.size, gxv[1] - gxv[0])
        wxv[[0, -1]] /= 2
        wyv = np.full(gyv.size, gyv[1] - gyv[0])
        wyv[[0, -1]] /= 2
        integral = float(wxv @ dens @ wyv)
        assert integral == pytest.approx(1, abs=0.03), bins


def test_histogram_positive_at_every_event():
    """Every event lies in the histogram, also the one at the maximum.

    With y from 0.2 to 0.9 and 3 bins, ``0.2 + 3 * (0.7 / 3)`` rounds to
    0.8999999999999999 < 0.9; the event at y = 0.9 is counted in the last
    bin and must get that bin's density, not 0."""
    x = np.array([0.0, 1.0, 0.5])
    y = np.array([0.2, 0.9, 0.55])
    counts, x0, y0, wx, wy = _hand_histogram(x, y, 3, 3)
    assert counts[0, 0] == counts[2, 2] == counts[1, 1] == 1
    dens = counts / (x.size * wx * wy)
    expected = [dens[0, 0], dens[2, 2], dens[1, 1]]  # all 1 / (3 wx wy)
    np.testing.assert_allclose(kde_histogram(x, y, bins=3), expected,
                               rtol=1e-9)
    np.testing.assert_allclose(kde_histogram(y, x, bins=3), expected,
                               rtol=1e-9)
    # random data: no event gets zero density
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.lognormal(3, 0.3, 50)
        y = rng.normal(0, 1, 50)
        bins = int(rng.integers(1, 60))
        dens = kde_histogram(x, y, bins=bins)
        assert np.all(dens > 0), (bins, np.flatnonzero(dens == 0))


def test_histogram_int_bins_equals_pair(hist_data):
    x, y = hist_data
    px, py = x[:20], y[:20]
    assert np.array_equal(kde_histogram(x, y, px, py, bins=5),
                          kde_histogram(x, y, px, py, bins=(5, 5)))
    # default: 47 x 47 bins
    assert np.array_equal(kde_histogram(x, y, px, py),
                          kde_histogram(x, y, px, py, bins=(47, 47)))
    # documented example
    assert kde_histogram([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0],
                         bins=2).tolist() == [1.0] * 4


@pytest.mark.parametrize("bins", [0, -3, (0, 5), (5, 0), (5, -1)])
def test_histogram_bad_bins(hist_data, bins):
    x, y = hist_data
    with pytest.raises(ValueError):
        kde_histogram(x, y, bins=bins)


def test_histogram_identical_events():
    x = np.full(20, 3.0)
    y = np.full(20, -2.0)
    dens = kde_histogram(x, y)
    assert np.all(np.isfinite(dens)) and np.all(dens > 0)
    # range value +- 0.5: unit square, so the density integrates to one
    dens = kde_histogram(x, y, [3.0], [-2.0], bins=1)
    np.testing.assert_allclose(dens, [1.0])


# --------------------------------------------------------------------------
# kde_none
# --------------------------------------------------------------------------
def test_none():
    x = np.array([1.0, 2.0, np.nan, 4.0])
    y = np.array([1.0, np.inf, 3.0, 4.0])
    got = kde_none(x, y)
    assert got[[0, 3]].tolist() == [1.0, 1.0]
    assert np.isnan(got[[1, 2]]).all()
    got = kde_none(x, y, np.zeros((2, 3)), np.ones((2, 3)))
    assert got.shape == (2, 3) and np.all(got == 1)


# --------------------------------------------------------------------------
# behaviour common to all methods
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_bad_events_are_ignored(small, name):
    x, y, px, py = small
    kde = methods[name]
    ref = kde(x, y, px, py)
    xb = np.r_[x[:50], np.nan, x[50:100], np.inf, 1.0, x[100:], -np.inf]
    yb = np.r_[y[:50], 1.0, y[50:100], 2.0, np.nan, y[100:], 3.0]
    got = kde(xb, yb, px, py)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    # at the events themselves (default positions): NaN at the bad ones
    got = kde(xb, yb)
    bad = ~(np.isfinite(xb) & np.isfinite(yb))
    assert np.isnan(got[bad]).all()
    np.testing.assert_allclose(got[~bad], kde(x, y), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_bad_positions_give_nan(small, name):
    x, y, px, py = small
    kde = methods[name]
    pxb = px.copy()
    pyb = py.copy()
    pxb[[1, 5]] = [np.nan, np.inf]
    pyb[[9, 12]] = [-np.inf, np.nan]
    got = kde(x, y, pxb, pyb)
    ref = kde(x, y, px, py)
    bad = np.zeros(px.size, dtype=bool)
    bad[[1, 5, 9, 12]] = True
    assert np.isnan(got[bad]).all()
    assert np.all(np.isfinite(got[~bad]))
    np.testing.assert_allclose(got[~bad], ref[~bad], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_inputs_are_flattened(small, name):
    x, y, px, py = small
    kde = methods[name]
    ref = kde(x, y, px, py)
    got = kde(x.reshape(10, 15), y.reshape(15, 10), px.reshape(5, 8),
              py.reshape(5, 8))
    assert got.shape == (5, 8)
    np.testing.assert_allclose(got.ravel(), ref, rtol=1e-12, atol=0)
    # default positions: shape of the flattened events
    assert kde(x.reshape(10, 15), y.reshape(10, 15)).shape == (150,)
    # lists work too
    assert kde(list(x), list(y), list(px), list(py)).shape == px.shape


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_argument_errors(small, name):
    x, y, px, py = small
    kde = methods[name]
    with pytest.raises(ValueError):
        kde(x, y, px)  # xout without yout
    with pytest.raises(ValueError):
        kde(x, y, yout=py)  # yout without xout
    with pytest.raises(ValueError):
        kde(x, y[:-1], px, py)  # events differ in size
    with pytest.raises(ValueError):
        kde(x, y, px, py[:-1])  # positions differ in size
    with pytest.raises(ValueError):
        kde(x, y, px.reshape(5, 8), py.reshape(8, 5))  # positions differ in shape


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_no_valid_events_gives_nan(name):
    kde = methods[name]
    x = np.array([np.nan, 1.0, np.inf])
    y = np.array([1.0, np.nan, 2.0])
    got = kde(x, y, np.array([[0.0, 1.0], [2.0, 3.0]]), np.ones((2, 2)))
    assert got.shape == (2, 2) and np.isnan(got).all()
    assert np.isnan(kde(x, y)).all()
    got = kde([], [], [1.0, 2.0], [1.0, 2.0])
    assert got.shape == (2,) and np.isnan(got).all()


# --------------------------------------------------------------------------
# degenerate data: finite results, promptly
# --------------------------------------------------------------------------
DEGENERATE = {
    "identical": (np.full(50, 2.5), np.full(50, 0.03)),
    "single": (np.array([2.5]), np.array([0.03])),
    "zero_spread_x": (np.full(60, 7.0), np.linspace(0.0, 1.0, 60)),
    "zero_spread_y": (np.linspace(-1.0, 1.0, 60), np.zeros(60)),
    "all_zero": (np.zeros(30), np.zeros(30)),
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_degenerate_events_finite(case, name):
    x, y = DEGENERATE[case]
    kde = methods[name]
    got = kde(x, y)
    assert got.shape == x.shape
    assert np.all(np.isfinite(got)) and np.all(got > 0)
    # on a grid around the data
    gx, gy = np.meshgrid(np.linspace(x.min() - 1, x.max() + 1, 9),
                         np.linspace(y.min() - 1, y.max() + 1, 7), indexing="ij")
    got = kde(x, y, gx, gy)
    assert got.shape == (9, 7) and np.all(np.isfinite(got)) and np.all(got >= 0)


@pytest.mark.parametrize("case", sorted(DEGENERATE))
@pytest.mark.parametrize("kde", [kde_gauss, kde_multivariate])
def test_degenerate_events_finite_binned(case, kde):
    x, y = DEGENERATE[case]
    got = kde(x, y, method="binned")
    assert got.shape == x.shape
    assert np.all(np.isfinite(got)) and np.all(got > 0)
    # binned agrees with exact on the degenerate data as well
    np.testing.assert_allclose(got, kde(x, y, method="exact"), rtol=0.01)


def test_gauss_axis_against_itself():
    rng = np.random.default_rng(8)
    # many events near 1, a few spread out
    x = np.r_[rng.normal(1.0, 0.05, 200), np.linspace(3, 10, 20)]
    dens = kde_gauss(x, x)
    assert np.all(np.isfinite(dens)) and np.all(dens > 0)
    assert dens[:200].min() > dens[200:].max()
    # also at positions on the diagonal and with the binned sum
    pos = np.array([1.0, 5.0, 9.0])
    exact = kde_gauss(x, x, pos, pos, method="exact")
    binned = kde_gauss(x, x, pos, pos, method="binned")
    assert np.all(np.isfinite(exact)) and np.all(exact > 0)
    assert exact[0] > exact[1] and exact[0] > exact[2]
    np.testing.assert_allclose(binned, exact, rtol=0.01)
    # exactly anti-correlated as well
    dens = kde_gauss(x, -x)
    assert np.all(np.isfinite(dens)) and np.all(dens > 0)


# --------------------------------------------------------------------------
# spacing helpers
# --------------------------------------------------------------------------
def test_bin_width_percentile():
    rng = np.random.default_rng(3)
    a = rng.lognormal(0, 1, 1001)
    p10, p90 = np.percentile(a, [10, 90])
    assert bin_width_percentile(a) == pytest.approx((p90 - p10) / 23, rel=1e-12)
    bad = np.r_[a, np.nan, np.inf, -np.inf]
    assert bin_width_percentile(bad) == pytest.approx((p90 - p10) / 23,
                                                      rel=1e-12)
    assert bin_width_percentile(np.arange(101.0)) == pytest.approx(80 / 23)
    assert math.isnan(bin_width_percentile([]))
    assert math.isnan(bin_width_percentile([np.nan, np.inf]))
    assert bin_width_percentile(np.ones(10)) == 0


def _doane_width(values):
    a = [float(v) for v in values if math.isfinite(v)]
    n = len(a)
    mean = sum(a) / n
    m2 = sum((v - mean) ** 2 for v in a) / n
    m3 = sum((v - mean) ** 3 for v in a) / n
    g1 = m3 / m2 ** 1.5
    sigma_g1 = math.sqrt(6 * (n - 2) / ((n + 1) * (n + 3)))
    k = 1 + math.log2(n) + math.log2(1 + abs(g1) / sigma_g1)
    return (max(a) - min(a)) / k


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bin_width_doane(seed):
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0, 0.5 + seed, 50 + 100 * seed)
    assert bin_width_doane(a) == pytest.approx(_doane_width(a), rel=1e-10)
    bad = np.r_[np.nan, a, np.inf]
    assert bin_width_doane(bad) == pytest.approx(_doane_width(a), rel=1e-10)
    expected_num = math.ceil((a.max() - a.min()) / _doane_width(a))
    assert bin_num_doane(a) == expected_num
    assert bin_num_doane(bad) == expected_num


def test_doane_documented_values():
    a = [1.0, 2.0, 2.0, 3.0, 10.0]
    assert bin_width_doane(a) == pytest.approx(_doane_width(a), rel=1e-12)
    assert round(_doane_width(a), 4) == 1.7964
    assert bin_num_doane(a) == math.ceil(9 / _doane_width(a)) == 6


@pytest.mark.parametrize("a", [[1.0, 1.0, 1.0], [4.0] * 100, [1.0, 2.0], [3.0],
                               [], [np.nan, np.nan, np.nan],
                               [np.nan, 1.0, np.inf, 2.0]])
def test_doane_undefined(a):
    assert math.isnan(bin_width_doane(a))
    assert bin_num_doane(a) == 5
