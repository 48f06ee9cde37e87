"""Downsampling of scatter data (cytolab.analysis.downsampling)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cytolab
from cytolab.analysis import downsampling
from cytolab.analysis.downsampling import (
    downsample_grid,
    downsample_rand,
    norm,
    populate_grid,
    valid,
)


def test_module_alias():
    assert cytolab.downsampling is downsampling


@pytest.fixture(scope="module")
def scatter():
    rng = np.random.default_rng(12)
    n = 10_000
    a = rng.lognormal(3, 0.4, n)
    b = 0.001 * a + rng.normal(0, 0.01, n)
    return a, b


def is_subsequence_mask(idx, n):
    return idx.dtype == bool and idx.shape == (n,)


# --------------------------------------------------------------------------
# downsample_grid
# --------------------------------------------------------------------------
@pytest.mark.parametrize("samples", [1, 2, 3, 5, 10, 99, 100, 101, 500, 2500,
                                     9999])
def test_grid_exact_count_and_subset(scatter, samples):
    a, b = scatter
    dsa, dsb, idx = downsample_grid(a, b, samples, ret_idx=True)
    assert is_subsequence_mask(idx, a.size)
    assert dsa.size == dsb.size == samples == np.count_nonzero(idx)
    # a[idx] == dsa: the events in their original order
    assert np.array_equal(a[idx], dsa)
    assert np.array_equal(b[idx], dsb)
    # without ret_idx: the same events
    dsa2, dsb2 = downsample_grid(a, b, samples)
    assert np.array_equal(dsa2, dsa) and np.array_equal(dsb2, dsb)


def test_grid_order_preserved():
    a = np.arange(5000.0)
    b = np.sin(a)
    dsa, dsb = downsample_grid(a, b, 300)
    assert dsa.size == 300
    assert np.all(np.diff(dsa) > 0)
    assert np.array_equal(dsb, np.sin(dsa))


def test_grid_reproducible(scatter):
    a, b = scatter
    first = downsample_grid(a, b, 777, ret_idx=True)
    second = downsample_grid(a.copy(), b.copy(), 777, ret_idx=True)
    for one, two in zip(first, second):
        assert np.array_equal(one, two)


@pytest.mark.parametrize("samples", [10_000, 10_001, 10 ** 6])
def test_grid_samples_at_least_size(scatter, samples):
    a, b = scatter
    dsa, dsb, idx = downsample_grid(a, b, samples, ret_idx=True)
    assert idx.all()
    assert np.array_equal(dsa, a) and np.array_equal(dsb, b)


def test_grid_zero_samples(scatter):
    a, b = scatter
    dsa, dsb, idx = downsample_grid(a, b, 0, ret_idx=True)
    assert dsa.size == dsb.size == 0
    assert not idx.any() and idx.shape == a.shape


@pytest.mark.parametrize("samples", [-1, -100, 2.5, 0.1, np.nan])
def test_grid_bad_samples(scatter, samples):
    a, b = scatter
    with pytest.raises(ValueError):
        downsample_grid(a, b, samples)


def test_grid_integer_valued_float_samples(scatter):
    a, b = scatter
    assert downsample_grid(a, b, 50.0)[0].size == 50
    assert downsample_grid(a, b, np.int64(50))[0].size == 50


def test_grid_size_mismatch(scatter):
    a, b = scatter
    with pytest.raises(ValueError):
        downsample_grid(a, b[:-1], 10)


def _with_invalid(scatter, every=7):
    a, b = scatter
    a = a.copy()
    b = b.copy()
    a[::every] = np.nan
    b[3::every * 2] = np.inf
    b[5::every * 3] = -np.inf
    return a, b


@pytest.mark.parametrize("samples", [10, 500, 5000, 8000, 9000, 20000])
def test_grid_remove_invalid(scatter, samples):
    a, b = _with_invalid(scatter)
    n_valid = int(np.count_nonzero(np.isfinite(a) & np.isfinite(b)))
    dsa, dsb, idx = downsample_grid(a, b, samples, remove_invalid=True,
                                    ret_idx=True)
    assert np.all(np.isfinite(dsa)) and np.all(np.isfinite(dsb))
    assert dsa.size == min(samples, n_valid) == np.count_nonzero(idx)
    assert np.array_equal(a[idx], dsa) and np.array_equal(b[idx], dsb)


def test_grid_invalid_only_fill_up_few_valid():
    """With few valid events, all of them are used before invalid ones."""
    a = np.full(100, np.nan)
    b = np.full(100, np.nan)
    a[:5] = np.arange(5.0)
    b[:5] = np.arange(5.0)
    for samples in [3, 5, 10, 50]:
        dsa, dsb, idx = downsample_grid(a, b, samples, ret_idx=True)
        assert dsa.size == samples
        n_valid = np.count_nonzero(np.isfinite(dsa) & np.isfinite(dsb))
        assert n_valid == min(samples, 5), (
            f"samples={samples}: only {n_valid} of the 5 valid events "
            f"kept, the rest are NaN events")


def test_grid_invalid_only_fill_up_many_valid(scatter):
    """With enough valid events, no invalid event is returned."""
    a, b = _with_invalid(scatter)
    n_valid = int(np.count_nonzero(np.isfinite(a) & np.isfinite(b)))
    for samples in [500, 2000, n_valid]:
        dsa, dsb = downsample_grid(a, b, samples)
        assert dsa.size == samples
        bad = ~(np.isfinite(dsa) & np.isfinite(dsb))
        assert not bad.any(), (f"samples={samples}: {bad.sum()} NaN/inf "
                               f"events returned although {n_valid} valid "
                               f"events are available")
    # more samples than valid events: every valid event plus fill-up
    dsa, dsb = downsample_grid(a, b, n_valid + 100)
    assert dsa.size == n_valid + 100
    assert np.count_nonzero(np.isfinite(dsa) & np.isfinite(dsb)) == n_valid


def test_grid_all_invalid():
    a = np.full(50, np.nan)
    b = np.arange(50.0)
    dsa, dsb = downsample_grid(a, b, 10)
    assert dsa.size == 10 and np.isnan(dsa).all()
    dsa, dsb = downsample_grid(a, b, 10, remove_invalid=True)
    assert dsa.size == 0 and dsb.size == 0


def test_grid_keeps_outliers():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 10_000)
    b = rng.normal(0, 1, 10_000)
    a[4321], b[4321] = 50.0, 50.0
    a[77], b[77] = -40.0, 3.0
    # each outlier is alone in its grid cell (3 x 3 cells and finer)
    for samples in [9, 10, 100, 1000]:
        _, _, idx = downsample_grid(a, b, samples, ret_idx=True)
        assert idx[4321] and idx[77], samples
    # on a 2 x 2 grid only the corner outlier is alone in its cell
    _, _, idx = downsample_grid(a, b, 4, ret_idx=True)
    assert idx[4321]
    # documented example
    x = np.r_[np.zeros(1000), 5.0]
    dsa, _ = downsample_grid(x, x, samples=10)
    assert dsa.size == 10 and 5.0 in dsa


def _cells(values, cells):
    """Grid cell of each value, computed independently (loops)."""
    lo, hi = min(values), max(values)
    out = []
    for v in values:
        c = int(math.floor((v - lo) / (hi - lo) * cells))
        out.append(min(c, cells - 1))
    return np.array(out)


@pytest.mark.parametrize("samples", [16, 100, 400, 1000])
def test_grid_every_occupied_cell_kept(scatter, samples):
    a, b = scatter
    _, _, idx = downsample_grid(a, b, samples, ret_idx=True)
    cells = math.isqrt(samples)
    ca, cb = _cells(a, cells), _cells(b, cells)
    occupied = set(zip(ca.tolist(), cb.tolist()))
    kept = set(zip(ca[idx].tolist(), cb[idx].tolist()))
    assert occupied <= kept


def test_grid_two_clusters():
    rng = np.random.default_rng(3)
    n = 200_000
    n_big = int(0.95 * n)
    a = np.r_[rng.normal(0, 1, n_big), rng.normal(8, 0.5, n - n_big)]
    b = np.r_[rng.normal(0, 1, n_big), rng.normal(8, 0.5, n - n_big)]
    small = np.r_[np.zeros(n_big, dtype=bool), np.ones(n - n_big, dtype=bool)]
    order = rng.permutation(n)
    a, b, small = a[order], b[order], small[order]
    _, _, idx = downsample_grid(a, b, 2000, ret_idx=True)
    kept_small = np.count_nonzero(idx & small)
    kept_big = np.count_nonzero(idx & ~small)
    assert kept_small + kept_big == 2000
    # both represented; the small one keeps at least its share (5 %)
    assert kept_small >= 0.05 * 2000
    assert kept_big > 1000
    # the kept events span each cluster up to one cell of the
    # isqrt(2000) = 44 cells wide grid (the first event of a cell is kept)
    for values in (a, b):
        cell = (values.max() - values.min()) / math.isqrt(2000)
        for cluster in (small, ~small):
            full = values[cluster]
            kept = values[cluster & idx]
            assert kept.min() - full.min() <= cell
            assert full.max() - kept.max() <= cell
            assert cell < 0.1 * (full.max() - full.min())


def test_grid_identical_events():
    a = np.full(1000, 3.0)
    dsa, dsb, idx = downsample_grid(a, a, 10, ret_idx=True)
    assert dsa.size == 10 and np.all(dsa == 3.0)


def test_grid_empty():
    dsa, dsb = downsample_grid([], [], 5)
    assert dsa.size == dsb.size == 0


# --------------------------------------------------------------------------
# downsample_rand
# --------------------------------------------------------------------------
@pytest.mark.parametrize("samples", [0, 1, 7, 1000, 9999])
def test_rand_exact_count_order(scatter, samples):
    a, _ = scatter
    dsa, idx = downsample_rand(a, samples, ret_idx=True)
    assert dsa.size == samples == np.count_nonzero(idx)
    assert idx.dtype == bool and idx.shape == a.shape
    assert np.array_equal(a[idx], dsa)
    assert np.array_equal(downsample_rand(a, samples), dsa)
    # order: on an increasing array the kept values increase
    kept = downsample_rand(np.arange(a.size), samples)
    assert np.all(np.diff(kept) > 0)


def test_rand_reproducible(scatter):
    a, _ = scatter
    one = downsample_rand(a, 123, ret_idx=True)
    two = downsample_rand(a.copy(), 123, ret_idx=True)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])


def test_rand_all_when_fewer(scatter):
    a, _ = scatter
    dsa, idx = downsample_rand(a, a.size + 5, ret_idx=True)
    assert idx.all() and np.array_equal(dsa, a)


def test_rand_remove_invalid():
    a = np.arange(100.0)
    a[::3] = np.nan
    a[1::10] = np.inf
    n_valid = int(np.isfinite(a).sum())
    dsa, idx = downsample_rand(a, 30, remove_invalid=True, ret_idx=True)
    assert dsa.size == 30 and np.isfinite(dsa).all()
    dsa = downsample_rand(a, 90, remove_invalid=True)
    assert dsa.size == n_valid and np.isfinite(dsa).all()
    # without remove_invalid, all events count
    assert downsample_rand(a, 90).size == 90


@pytest.mark.parametrize("samples", [-1, 1.5, np.nan])
def test_rand_bad_samples(samples):
    with pytest.raises(ValueError):
        downsample_rand(np.arange(10), samples)


def test_rand_integers():
    dsa = downsample_rand(np.arange(10), samples=3)
    assert dsa.size == 3 and np.all(np.diff(dsa) > 0)
    assert set(dsa.tolist()) <= set(range(10))


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def test_norm():
    np.testing.assert_allclose(norm([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])
    got = norm(np.array([np.nan, -1.0, 1.0, np.inf, 0.0]))
    assert np.isnan(got[[0, 3]]).all()
    np.testing.assert_allclose(got[[1, 2, 4]], [0.0, 1.0, 0.5])
    # no spread: 0 at finite values
    got = norm(np.array([5.0, 5.0, np.nan]))
    assert got[:2].tolist() == [0.0, 0.0] and np.isnan(got[2])
    assert np.isnan(norm(np.array([np.nan, np.inf]))).all()
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    np.testing.assert_allclose(norm(x), (x - x.min()) / (x.max() - x.min()))


def test_valid():
    a = np.array([1.0, np.nan, 2.0, np.inf, 3.0])
    b = np.array([1.0, 1.0, -np.inf, 1.0, 3.0])
    assert valid(a, b).tolist() == [True, False, False, False, True]


def test_populate_grid_first_per_cell():
    xd = np.array([0, 0, 1, 0, 2, 1, 2, 0])
    yd = np.array([0, 0, 0, 1, 3, 0, 3, 1])
    keep = np.zeros(8, dtype=bool)
    populate_grid(xd, yd, keep, np.ones(8, dtype=bool))
    # independent: first occurrence of each (x, y) pair
    seen = set()
    expected = []
    for cx, cy in zip(xd, yd):
        expected.append((cx, cy) not in seen)
        seen.add((cx, cy))
    assert keep.tolist() == expected == [True, False, True, True, True, False,
                                         False, False]


def test_populate_grid_toproc_and_reset():
    xd = np.array([0, 0, 1, 0, 2, 1, 2, 0])
    yd = np.array([0, 0, 0, 1, 3, 0, 3, 1])
    toproc = np.array([False, True, False, True, False, True, True, True])
    keep = np.ones(8, dtype=bool)  # stale content must be reset
    populate_grid(xd, yd, keep, toproc)
    assert keep.tolist() == [False, True, False, True, False, True, True, False]
    keep[:] = True
    populate_grid(xd, yd, keep, np.zeros(8, dtype=bool))
    assert not keep.any()


def test_populate_grid_random():
    rng = np.random.default_rng(4)
    xd = rng.integers(0, 20, 3000)
    yd = rng.integers(0, 30, 3000)
    toproc = rng.random(3000) > 0.3
    keep = np.zeros(3000, dtype=bool)
    populate_grid(xd, yd, keep, toproc)
    seen = set()
    expected = np.zeros(3000, dtype=bool)
    for i in range(3000):
        if toproc[i] and (xd[i], yd[i]) not in seen:
            seen.add((xd[i], yd[i]))
            expected[i] = True
    assert np.array_equal(keep, expected)
