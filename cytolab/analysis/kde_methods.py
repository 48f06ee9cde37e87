"""Kernel density estimates of 2-D scatter data (alias ``cytolab.kde_methods``).

Four estimators with one signature, ``kde(events_x, events_y, xout=None,
yout=None, **kwargs)``, registered in :data:`methods`:

``"histogram"`` (:func:`kde_histogram`)
    A normalised 2-D histogram, interpolated bilinearly between bin centres.
    Default: 47 x 47 bins over the range of the events.
``"gauss"`` (:func:`kde_gauss`)
    Gaussian kernels with the covariance of the events scaled by Scott's
    factor ``N ** (-1/6)``.
``"multivariate"`` (:func:`kde_multivariate`)
    Gaussian product kernels with bandwidths ``bw=(bwx, bwy)``; default is
    the normal reference rule ``1.06 * std * N ** (-1/6)`` per axis.
``"none"`` (:func:`kde_none`)
    Ones (no colouring by density).

Inputs are flattened; events with NaN or infinite coordinates are ignored and
positions with NaN or infinite coordinates get NaN; the result has the shape
of `xout`. Without valid events every density is NaN. Gaussian estimates
are exact for small problems and binned (FFT convolution on a fine grid,
within 0.5 % of exact where the density exceeds 1 % of its maximum) for
large ones, so a million events take a fraction of a second; see
:mod:`cytolab.analysis._kernels`.

The spacing helpers :func:`bin_width_doane`, :func:`bin_num_doane` and
:func:`bin_width_percentile` give grid spacings and bin counts for contour
plots.

Examples
--------
>>> import numpy as np
>>> from cytolab.analysis import kde_methods
>>> x = np.array([1.0, 1.1, 0.9, 5.0, np.nan])
>>> y = np.array([2.0, 2.1, 1.9, 3.0, 1.0])
>>> density = kde_methods.kde_gauss(x, y)
>>> bool(density[0] > density[3]), bool(np.isnan(density[4]))
(True, True)
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._kernels import bilinear, gaussian_sum

__all__ = [
    "bin_num_doane", "bin_width_doane", "bin_width_percentile", "get_bad_vals",
    "ignore_nan_inf", "kde_gauss", "kde_histogram", "kde_multivariate",
    "kde_none", "methods",
]

#: Default number of histogram bins per axis of :func:`kde_histogram`.
HISTOGRAM_BINS = (47, 47)
#: Largest correlation kept in the kernel of :func:`kde_gauss` (events on a
#: line, e.g. a feature against itself, would need a singular kernel).
MAX_CORRELATION = 0.999


def get_bad_vals(x: Any, y: Any) -> np.ndarray:
    """Boolean mask of the positions where `x` or `y` is NaN or infinite."""
    return ~(np.isfinite(x) & np.isfinite(y))


def bin_width_doane(a: Any) -> float:
    """Bin width by Doane's formula (for histograms).

    ``k = 1 + log2(n) + log2(1 + |g1| / sigma_g1)`` bins span the range of
    the finite values of `a` (``g1``: sample skewness, ``sigma_g1 =
    sqrt(6 (n - 2) / ((n + 1) (n + 3)))``). Kept for compatibility; prefer
    :func:`bin_width_percentile`.

    Returns
    -------
    float
        ``(max - min) / k``; NaN when undefined (fewer than three values or
        no spread).

    Examples
    --------
    >>> round(bin_width_doane([1.0, 2.0, 2.0, 3.0, 10.0]), 4)
    1.7964
    """
    a = _finite(a)
    n = a.size
    if n < 3:
        return math.nan
    dev = a - a.mean()
    var = float(dev @ dev) / n
    if not var > 0:
        return math.nan
    skew = float(np.dot(dev * dev, dev)) / n / var ** 1.5
    sigma_g1 = math.sqrt(6 * (n - 2) / ((n + 1) * (n + 3)))
    k = 1 + math.log2(n) + math.log2(1 + abs(skew) / sigma_g1)
    return float((a.max() - a.min()) / k)


def bin_num_doane(a: Any) -> int:
    """Number of bins by Doane's formula; 5 when it cannot be determined.

    Examples
    --------
    >>> bin_num_doane([1.0, 2.0, 2.0, 3.0, 10.0])
    6
    >>> bin_num_doane([1.0, 1.0, 1.0])
    5
    """
    a = _finite(a)
    width = bin_width_doane(a)
    if not (np.isfinite(width) and width > 0):
        return 5
    return int(math.ceil((a.max() - a.min()) / width))


def bin_width_percentile(a: Any) -> float:
    """Grid spacing ``(P90 - P10) / 23`` of the finite values of `a`.

    Robust for RT-DC data (unlike rules scaled by ``len(a)``, which get tiny
    for millions of events); 0 when most values are equal, NaN without
    values.

    Examples
    --------
    >>> bin_width_percentile(np.arange(101.0))
    3.4782608695652173
    """
    a = _finite(a)
    if a.size == 0:
        return math.nan
    p10, p90 = np.percentile(a, [10, 90])
    return float((p90 - p10) / 23)


def ignore_nan_inf(kde_method: Callable[..., np.ndarray]
                   ) -> Callable[..., np.ndarray]:
    """Wrap a KDE so that it skips invalid events and positions.

    The wrapped function flattens its inputs, estimates from the finite
    events only, evaluates at the finite positions only and returns NaN at
    the others, in the shape of `xout` (default: the events).
    """
    @functools.wraps(kde_method)
    def wrapper(events_x: Any, events_y: Any, xout: Any = None, yout: Any = None,
                *args: Any, **kwargs: Any) -> np.ndarray:
        ex = np.asarray(events_x, dtype=float).ravel()
        ey = np.asarray(events_y, dtype=float).ravel()
        if ex.size != ey.size:
            raise ValueError(f"events_x and events_y differ in size: {ex.size} "
                             f"vs {ey.size}")
        if (xout is None) != (yout is None):
            raise ValueError("Give both xout and yout, or neither")
        if xout is None:
            xo, yo, shape = ex, ey, ex.shape
        else:
            xo = np.asarray(xout, dtype=float)
            yo = np.asarray(yout, dtype=float)
            if xo.shape != yo.shape:
                raise ValueError(f"xout and yout differ in shape: {xo.shape} "
                                 f"vs {yo.shape}")
            shape = xo.shape
            xo, yo = xo.ravel(), yo.ravel()
        good_in = ~get_bad_vals(ex, ey)
        good_out = ~get_bad_vals(xo, yo)
        density = np.full(xo.size, np.nan)
        if np.any(good_in) and np.any(good_out):
            density[good_out] = kde_method(ex[good_in], ey[good_in],
                                           xo[good_out], yo[good_out],
                                           *args, **kwargs)
        return density.reshape(shape)
    return wrapper


@ignore_nan_inf
def kde_histogram(events_x: np.ndarray, events_y: np.ndarray,
                  xout: np.ndarray | None = None, yout: np.ndarray | None = None,
                  bins: int | tuple[int, int] = HISTOGRAM_BINS) -> np.ndarray:
    """Histogram-based density estimate.

    The events are counted in ``bins`` bins over their range (an axis
    without spread gets the range ``value +- 0.5``), the counts are
    normalised to a density (integral 1), and the density is interpolated
    bilinearly between bin centres (constant in the outer half bins).
    Positions outside the histogram get 0.

    Parameters
    ----------
    events_x, events_y
        Events (flattened; NaN and inf ignored).
    xout, yout
        Positions (default: the events).
    bins
        Number of bins per axis, ``(binsx, binsy)`` or one number for both.

    Returns
    -------
    np.ndarray
        Density at the positions, shape of `xout`.

    Examples
    --------
    >>> x = np.array([0.0, 0.0, 1.0, 1.0])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> kde_histogram(x, y, bins=2).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    bx, by = _pair(bins, "bins")
    if bx < 1 or by < 1:
        raise ValueError(f"bins must be positive integers, got {bins}")
    x0, x1, wx = _hist_axis(events_x, bx)
    y0, y1, wy = _hist_axis(events_y, by)
    ix = np.minimum(((events_x - x0) / wx).astype(np.intp), bx - 1)
    iy = np.minimum(((events_y - y0) / wy).astype(np.intp), by - 1)
    counts = np.bincount(ix * by + iy, minlength=bx * by).reshape(bx, by)
    hist = counts / (events_x.size * wx * wy)
    fi = np.clip((xout - x0) / wx - 0.5, 0, bx - 1)
    fj = np.clip((yout - y0) / wy - 0.5, 0, by - 1)
    density = bilinear(hist, fi, fj)
    outside = (xout < x0) | (xout > x1) | (yout < y0) | (yout > y1)
    density[outside] = 0
    return density


@ignore_nan_inf
def kde_gauss(events_x: np.ndarray, events_y: np.ndarray,
              xout: np.ndarray | None = None, yout: np.ndarray | None = None,
              method: str = "auto") -> np.ndarray:
    """Gaussian kernel density estimate with Scott's bandwidth.

    The kernel covariance is the covariance of the events times
    ``N ** (-1/3)`` (Scott's factor squared in two dimensions), as
    ``scipy.stats.gaussian_kde`` does. An axis without spread gets a small
    fallback spread (1 % of its value, or 1 for 0) and a correlation beyond
    :data:`MAX_CORRELATION` is reduced to it, so events on a line still
    give a finite density.

    Parameters
    ----------
    events_x, events_y
        Events (flattened; NaN and inf ignored).
    xout, yout
        Positions (default: the events).
    method
        ``"auto"`` (exact for up to 10 million event-position pairs, binned
        beyond), ``"exact"`` or ``"binned"``.

    Returns
    -------
    np.ndarray
        Density at the positions, shape of `xout`.

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 2.0, 3.0])
    >>> d = kde_gauss(x, 2 * x + np.array([0, 0.1, -0.1, 0]))
    >>> bool(d[1] > d[0])
    True
    """
    n = events_x.size
    factor2 = n ** (-1 / 3)
    sx = _spread(events_x)
    sy = _spread(events_y)
    if n > 1 and np.ptp(events_x) > 0 and np.ptp(events_y) > 0:
        corr = np.corrcoef(events_x, events_y)[0, 1]
        corr = float(np.clip(np.nan_to_num(corr), -MAX_CORRELATION,
                             MAX_CORRELATION))
    else:
        corr = 0.0
    # whiten: u = x / sx, v = (y / sy - corr * u) / sqrt(1 - corr^2)
    root = math.sqrt(1 - corr * corr)
    bw = math.sqrt(factor2)

    def whiten(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = x / sx
        return u, (y / sy - corr * u) / root

    u, v = whiten(events_x, events_y)
    uo, vo = whiten(xout, yout)
    density = gaussian_sum(u, v, uo, vo, bw, bw, method=method)
    return density / (sx * sy * root)


@ignore_nan_inf
def kde_multivariate(events_x: np.ndarray, events_y: np.ndarray,
                     xout: np.ndarray | None = None,
                     yout: np.ndarray | None = None,
                     bw: tuple[float, float] | None = None,
                     method: str = "auto") -> np.ndarray:
    """Gaussian product-kernel density estimate with bandwidths per axis.

    ``f(p) = 1/N sum_i N(px; x_i, bwx) N(py; y_i, bwy)``.

    Parameters
    ----------
    events_x, events_y
        Events (flattened; NaN and inf ignored).
    xout, yout
        Positions (default: the events).
    bw
        Bandwidths ``(bwx, bwy)`` (standard deviations of the kernel, in the
        units of the data); default: ``1.06 * std * N ** (-1/6)`` per axis.
    method
        ``"auto"`` (exact for up to 10 million event-position pairs, binned
        beyond), ``"exact"`` or ``"binned"``.

    Returns
    -------
    np.ndarray
        Density at the positions, shape of `xout`.

    Examples
    --------
    >>> d = kde_multivariate([0.0], [0.0], xout=[0.0], yout=[0.0], bw=(1, 1))
    >>> round(float(d[0]), 6)  # 1 / (2 pi)
    0.159155
    """
    if bw is None:
        rule = 1.06 * events_x.size ** (-1 / 6)
        bwx, bwy = rule * _spread(events_x), rule * _spread(events_y)
    else:
        bwx, bwy = (float(b) for b in _pair(bw, "bw", cast=float))
        if not (bwx > 0 and bwy > 0 and math.isfinite(bwx * bwy)):
            raise ValueError(f"Bandwidths must be positive and finite, got "
                             f"bw={bw}")
    return gaussian_sum(events_x, events_y, xout, yout, bwx, bwy, method=method)


@ignore_nan_inf
def kde_none(events_x: np.ndarray, events_y: np.ndarray,
             xout: np.ndarray | None = None,
             yout: np.ndarray | None = None) -> np.ndarray:
    """No density estimate: ones at the valid positions, NaN elsewhere.

    Examples
    --------
    >>> kde_none([1, 2], [3, np.inf]).tolist()
    [1.0, nan]
    """
    return np.ones(xout.size)


#: The estimators by their ``kde_type`` name.
methods: dict[str, Callable[..., np.ndarray]] = {
    "gauss": kde_gauss,
    "histogram": kde_histogram,
    "multivariate": kde_multivariate,
    "none": kde_none,
}


def get_method(kde_type: str) -> Callable[..., np.ndarray]:
    """The estimator named `kde_type` (a key of :data:`methods`)."""
    try:
        return methods[kde_type]
    except KeyError:
        raise ValueError(f"Unknown kde_type '{kde_type}'; choose one of "
                         f"{sorted(methods)}") from None


def _finite(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=float).ravel()
    return a[np.isfinite(a)]


def _pair(value: Any, name: str, cast: type = int) -> tuple[Any, Any]:
    if np.ndim(value) == 0:
        return cast(value), cast(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be one value or a pair, got {value!r}")
    return cast(value[0]), cast(value[1])


def _spread(a: np.ndarray) -> float:
    """Standard deviation of `a`, or a fallback when there is no spread."""
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    if std > 0 and math.isfinite(std):
        return std
    scale = float(np.abs(a).max()) if a.size else 0.0
    return 0.01 * scale if scale > 0 else 1.0


def _hist_axis(a: np.ndarray, bins: int) -> tuple[float, float, float]:
    """Edges and bin width of a histogram axis over the range of `a`."""
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi, (hi - lo) / bins
