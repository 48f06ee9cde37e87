"""Reproducible downsampling of scatter data (alias ``cytolab.downsampling``).

:func:`downsample_grid` keeps the outline of a scatter plot and its density:
it lays a grid of about `samples` cells over the data, keeps the first event
of every occupied cell (so sparse regions and outliers survive) and fills up
with a seeded random choice among the other events (so dense regions stay
dense). :func:`downsample_rand` draws a seeded random subset; the dataset's
``limit events`` filter uses it. Both keep the order of the events and
return exactly `samples` events when there are that many to choose from.

Examples
--------
>>> import numpy as np
>>> from cytolab.analysis.downsampling import downsample_grid
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=10_000), rng.normal(size=10_000)
>>> dsa, dsb, idx = downsample_grid(a, b, samples=500, ret_idx=True)
>>> dsa.size, int(idx.sum()), bool(np.array_equal(a[idx], dsa))
(500, 500, True)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["downsample_grid", "downsample_rand", "norm", "populate_grid",
           "valid"]

#: Seed of the random choices (the same events every time).
SEED = 47


def valid(a: Any, b: Any) -> np.ndarray:
    """Boolean mask of the events where both `a` and `b` are finite."""
    return np.isfinite(a) & np.isfinite(b)


def norm(a: Any) -> np.ndarray:
    """`a` scaled to [0, 1] by its finite minimum and maximum.

    Without spread (or without finite values) the result is 0 at the finite
    values; NaN and inf stay NaN.

    Examples
    --------
    >>> norm([2.0, 4.0, 3.0]).tolist()
    [0.0, 1.0, 0.5]
    """
    a = np.asarray(a, dtype=float)
    finite = np.isfinite(a)
    out = np.full(a.shape, np.nan)
    if not finite.any():
        return out
    lo, hi = a[finite].min(), a[finite].max()
    out[finite] = (a[finite] - lo) / (hi - lo) if hi > lo else 0.0
    return out


def populate_grid(x_discrete: np.ndarray, y_discrete: np.ndarray,
                  keepd: np.ndarray, toproc: np.ndarray) -> None:
    """Keep the first event of every occupied grid cell.

    Parameters
    ----------
    x_discrete, y_discrete
        Non-negative integer cell coordinates of the events.
    keepd
        Boolean output array (same size); set to True at the first event (in
        order) among `toproc` of each cell, False elsewhere.
    toproc
        Boolean mask of the events to consider.

    Examples
    --------
    >>> keep = np.zeros(4, dtype=bool)
    >>> populate_grid(np.array([0, 0, 1, 0]), np.array([0, 0, 0, 1]), keep,
    ...               np.ones(4, dtype=bool))
    >>> keep.tolist()
    [True, False, True, True]
    """
    keepd[:] = False
    candidates = np.flatnonzero(toproc)
    if candidates.size == 0:
        return
    xd = np.asarray(x_discrete, dtype=np.int64)[candidates]
    yd = np.asarray(y_discrete, dtype=np.int64)[candidates]
    ny = int(yd.max()) + 1
    cells = xd * ny + yd
    first = np.full(int(cells.max()) + 1, candidates.size, dtype=np.int64)
    np.minimum.at(first, cells, np.arange(candidates.size))
    keepd[candidates[first[first < candidates.size]]] = True


def downsample_grid(a: Any, b: Any, samples: int, remove_invalid: bool = False,
                    ret_idx: bool = False) -> tuple[np.ndarray, ...]:
    """Downsample a scatter plot by content, to exactly `samples` events.

    A ``floor(sqrt(samples))``-squared grid spans the finite events; the
    first event of every occupied cell is kept, and events chosen at random
    (seeded, reproducible) from the rest make up the number. Events with
    NaN or inf are only used when there are not enough valid ones, and
    not at all with `remove_invalid`.

    Parameters
    ----------
    a, b
        The coordinates of the events (1-D, same size).
    samples
        Number of events to return; when fewer events are available
        (all of them, or the valid ones with `remove_invalid`), all of
        those are returned.
    remove_invalid
        Never return events with NaN or inf.
    ret_idx
        Also return the boolean mask `idx` with ``a[idx] == dsa``.

    Returns
    -------
    dsa, dsb : np.ndarray
        The kept events, in their original order.
    idx : np.ndarray
        Only with `ret_idx`.

    Examples
    --------
    >>> a = np.r_[np.zeros(1000), 5.0]
    >>> dsa, dsb = downsample_grid(a, a, samples=10)
    >>> dsa.size, 5.0 in dsa          # the outlier is kept
    (10, True)
    """
    a, b, samples = _check(a, samples, b)
    good = valid(a, b)
    pools = (good,) if remove_invalid else (good, ~good)
    if samples >= sum(np.count_nonzero(pool) for pool in pools):
        idx = np.logical_or.reduce(pools)
    else:
        cells = max(1, math.isqrt(samples))
        idx = np.zeros(a.size, dtype=bool)
        populate_grid(_discrete(a, cells), _discrete(b, cells), idx, good)
        _fill_or_trim(idx, pools, samples)
    if ret_idx:
        return a[idx], b[idx], idx
    return a[idx], b[idx]


def downsample_rand(a: Any, samples: int, remove_invalid: bool = False,
                    ret_idx: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
    """Keep a reproducible random subset of exactly `samples` events.

    Parameters
    ----------
    a
        The values of the events (1-D).
    samples
        Number of events to keep (all of them when there are fewer).
    remove_invalid
        Drop NaN and inf values first.
    ret_idx
        Also return the boolean mask `idx` with ``a[idx] == dsa``.

    Returns
    -------
    dsa : np.ndarray
        The kept values, in their original order.
    idx : np.ndarray
        Only with `ret_idx`.

    Examples
    --------
    >>> dsa = downsample_rand(np.arange(10), samples=3)
    >>> dsa.size, bool(np.all(np.diff(dsa) > 0))
    (3, True)
    """
    a, _, samples = _check(a, samples)
    pool = np.isfinite(a) if remove_invalid else np.ones(a.size, dtype=bool)
    idx = np.zeros(a.size, dtype=bool)
    _fill_or_trim(idx, (pool,), samples)
    if ret_idx:
        return a[idx], idx
    return a[idx]


def _check(a: Any, samples: int, b: Any = None
           ) -> tuple[np.ndarray, np.ndarray | None, int]:
    a = np.asarray(a).ravel()
    if b is not None:
        b = np.asarray(b).ravel()
        if a.size != b.size:
            raise ValueError(f"a and b differ in size: {a.size} vs {b.size}")
    if int(samples) != samples or samples < 0:
        raise ValueError(f"samples must be a non-negative integer, got "
                         f"{samples!r}")
    return a, b, int(samples)


def _discrete(a: np.ndarray, cells: int) -> np.ndarray:
    """Cell index 0..cells-1 of each value (0 for NaN/inf, never used)."""
    scaled = np.nan_to_num(norm(a), nan=0.0) * cells
    return np.minimum(scaled.astype(np.int64), cells - 1)


def _fill_or_trim(idx: np.ndarray, pools: tuple[np.ndarray, ...],
                  samples: int) -> None:
    """Add events at random (from the first of `pools` first) or remove
    kept ones at random until `samples` are kept."""
    kept = np.count_nonzero(idx)
    rng = np.random.default_rng(SEED)
    for pool in pools:
        if kept >= samples:
            break
        others = np.flatnonzero(pool & ~idx)
        take = min(samples - kept, others.size)
        idx[rng.choice(others, size=take, replace=False)] = True
        kept += take
    if kept > samples:
        drop = rng.choice(np.flatnonzero(idx), size=kept - samples, replace=False)
        idx[drop] = False
