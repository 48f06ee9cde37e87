"""Photobleaching: background from the image border, exponential decay fit.

Bleaching is modelled as ``I(t) = amplitude * exp(-rate * (t - t0)) + offset``
with ``t0`` the first acquisition time. The fit projects out the two linear
parameters for a log-spaced grid of rates, keeps the best rate and then
refines all three by non-linear least squares, so it needs no starting
values from the user and does not fall into the poor local minima of a
plain ``curve_fit``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from ..errors import CytolabError


class BleachFitError(CytolabError, ValueError):
    """The intensity trace cannot be fitted with an exponential decay."""


@dataclasses.dataclass(frozen=True)
class BleachFit:
    """An exponential decay plus offset, fitted to an intensity trace.

    Attributes
    ----------
    amplitude
        Bleaching part of the intensity at ``t0``.
    rate
        Decay rate [1/s] (the decay constant is ``1 / rate``).
    offset
        Intensity that does not bleach.
    t0
        Time of the first image [s].
    """

    amplitude: float
    rate: float
    offset: float
    t0: float

    @property
    def tau(self) -> float:
        """Decay constant [s]."""
        return 1.0 / self.rate if self.rate > 0 else np.inf

    def __call__(self, times: npt.ArrayLike) -> np.ndarray:
        """The fitted intensity at `times` [s]."""
        dt = np.asarray(times, dtype=float) - self.t0
        return self.amplitude * np.exp(-self.rate * dt) + self.offset


def border_mask(shape: tuple[int, int], border_px: int) -> np.ndarray:
    """Boolean mask of the `border_px` outermost pixels of an image.

    Examples
    --------
    >>> border_mask((4, 5), 1).astype(int)
    array([[1, 1, 1, 1, 1],
           [1, 0, 0, 0, 1],
           [1, 0, 0, 0, 1],
           [1, 1, 1, 1, 1]])
    """
    if isinstance(border_px, bool) or not isinstance(border_px, (int, np.integer)):
        raise TypeError(f"border_px must be an integer, got {border_px!r}")
    if border_px < 1 or 2 * border_px >= min(shape):
        raise ValueError(f"border_px={border_px} must be at least 1 and leave an "
                         f"interior in images of shape {tuple(shape)}")
    mask = np.ones(shape, dtype=bool)
    mask[border_px:-border_px, border_px:-border_px] = False
    return mask


def _linear_part(dt: np.ndarray, y: np.ndarray, rate: float
                 ) -> tuple[float, float, float]:
    """Best amplitude and offset for a fixed rate, and the squared residual."""
    design = np.column_stack([np.exp(-rate * dt), np.ones_like(dt)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return float(coef[0]), float(coef[1]), float(resid @ resid)


def fit_bleaching(times: npt.ArrayLike, flint: npt.ArrayLike) -> BleachFit:
    """Fit ``amplitude * exp(-rate * (t - t0)) + offset`` to a trace.

    Parameters
    ----------
    times
        Acquisition times [s], increasing.
    flint
        Intensity at each time.

    Returns
    -------
    BleachFit
        The fitted model (callable on times).

    Raises
    ------
    BleachFitError
        Fewer than three points, non-finite values, times not increasing, or
        no decay to fit.

    Examples
    --------
    >>> t = np.linspace(0, 10, 30)
    >>> fit = fit_bleaching(t, 5 * np.exp(-0.3 * t) + 2)
    >>> round(fit.rate, 6), round(fit.amplitude, 6), round(fit.offset, 6)
    (0.3, 5.0, 2.0)
    """
    from scipy.optimize import least_squares

    t = np.asarray(times, dtype=float)
    y = np.asarray(flint, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise BleachFitError(f"times and intensities must be 1-D of equal length, "
                             f"got shapes {t.shape} and {y.shape}")
    if t.size < 3:
        raise BleachFitError(f"Fitting the bleaching needs at least 3 images, got "
                             f"{t.size}")
    if not (np.isfinite(t).all() and np.isfinite(y).all()):
        raise BleachFitError("The times or the intensity trace contain NaN or inf")
    if np.any(np.diff(t) <= 0):
        raise BleachFitError("The acquisition times must be strictly increasing")
    dt = t - t[0]
    span = dt[-1]
    rates = np.geomspace(0.01 / span, 100 / span, 121)
    best = min(rates, key=lambda k: _linear_part(dt, y, k)[2])
    amp, off, _ = _linear_part(dt, y, best)
    scale = max(float(np.abs(y).max()), 1e-300)

    def residuals(p: np.ndarray) -> np.ndarray:
        return (p[0] * np.exp(-p[1] * dt) + p[2] - y) / scale

    result = least_squares(residuals, [amp, best, off], x_scale=[scale, best, scale],
                           bounds=([-np.inf, 0, -np.inf], [np.inf, np.inf, np.inf]),
                           xtol=1e-14, ftol=1e-14, gtol=1e-14)
    amp, rate, off = (float(v) for v in result.x)
    if not (result.success and np.isfinite(result.x).all()):
        raise BleachFitError(f"The bleaching fit did not converge: {result.message}")
    return BleachFit(amplitude=amp, rate=rate, offset=off, t0=float(t[0]))
