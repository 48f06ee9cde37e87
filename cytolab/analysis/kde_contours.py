"""Contour lines of density grids (alias ``cytolab.kde_contours``).

:func:`find_contours_level` traces the lines at a density level (marching
squares, :func:`skimage.measure.find_contours`) and returns them in data
coordinates; :func:`get_quantile_levels` finds the level whose contour
encloses a given fraction of the events. Both take the grids of
``ds.get_kde_contour`` (``ij`` indexing) or 1-D axes.

Examples
--------
>>> import numpy as np
>>> from cytolab.analysis import kde_contours
>>> x = np.linspace(-3, 3, 61)
>>> X, Y = np.meshgrid(x, x, indexing="ij")
>>> Z = np.exp(-(X**2 + Y**2) / 2)
>>> lines = kde_contours.find_contours_level(Z, X, Y, level=np.exp(-0.5))
>>> len(lines), round(float(np.hypot(*lines[0].T).mean()), 2)  # radius 1
(1, 1.0)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._kernels import bilinear, fractional_index

__all__ = ["find_contours_level", "get_quantile_levels"]


def find_contours_level(density: Any, x: Any, y: Any, level: float,
                        closed: bool = False) -> list[np.ndarray]:
    """Contour lines of `density` at a level relative to its maximum.

    Parameters
    ----------
    density
        2-D density grid of shape (M, N); NaN counts as no density.
    x, y
        Coordinates of the grid: (M, N) arrays with ``ij`` indexing, or
        1-D axes of size M and N (monotonic, not necessarily uniform).
    level
        Level between 0 and 1, relative to the maximum of `density`.
    closed
        Close lines that leave the grid along its border (as if the
        density were zero outside it).

    Returns
    -------
    list of np.ndarray
        One (P, 2) array of (x, y) points per line; empty when no line
        exists (e.g. a density without maximum).

    Raises
    ------
    ValueError
        For a level outside [0, 1] or grids whose shapes disagree.
    """
    from skimage.measure import find_contours

    density, xaxis, yaxis = _grid(density, x, y)
    if not 0 <= level <= 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    top = np.nanmax(density) if np.any(np.isfinite(density)) else np.nan
    if not (np.isfinite(top) and top > 0):
        return []
    values = np.nan_to_num(density, nan=0.0, posinf=top, neginf=0.0)
    absolute = level * top
    shift = 0
    if closed:
        below = min(float(values.min()), absolute) - 1.0
        values = np.pad(values, 1, constant_values=below)
        shift = 1
    if min(values.shape) < 2:
        return []
    lines = []
    for line in find_contours(values, absolute):
        fi = np.clip(line[:, 0] - shift, 0, xaxis.size - 1)
        fj = np.clip(line[:, 1] - shift, 0, yaxis.size - 1)
        lines.append(np.column_stack([_at_index(xaxis, fi), _at_index(yaxis, fj)]))
    return lines


def get_quantile_levels(density: Any, x: Any, y: Any, xp: Any, yp: Any,
                        q: Any, normalize: bool = True) -> float | np.ndarray:
    """Density levels whose contours enclose the fraction ``1 - q`` of events.

    The density is interpolated bilinearly at each event (events outside
    the grid count as zero density); the level for `q` is the `q`-quantile
    of these values, so the region where the density is at least the level
    holds ``1 - q`` of the events. With ``q=0.9`` the contour encloses the
    densest 10 % of the events.

    Parameters
    ----------
    density
        2-D density grid (M, N).
    x, y
        Grid coordinates, (M, N) with ``ij`` indexing or 1-D axes.
    xp, yp
        Events (NaN and inf ignored).
    q
        Quantile(s) between 0 and 1.
    normalize
        Return levels relative to the maximum of `density` (for
        :func:`find_contours_level`); else absolute densities.

    Returns
    -------
    float or np.ndarray
        One level per quantile (a float for a scalar `q`).

    Raises
    ------
    ValueError
        Without valid events, for quantiles outside [0, 1] or mismatching
        shapes.
    """
    density, xaxis, yaxis = _grid(density, x, y)
    xp = np.asarray(xp, dtype=float).ravel()
    yp = np.asarray(yp, dtype=float).ravel()
    if xp.size != yp.size:
        raise ValueError(f"xp and yp differ in size: {xp.size} vs {yp.size}")
    good = np.isfinite(xp) & np.isfinite(yp)
    if not good.any():
        raise ValueError("No valid (finite) events to compute quantile levels")
    qs = np.asarray(q, dtype=float)
    if np.any(~((qs >= 0) & (qs <= 1))):
        raise ValueError(f"Quantiles must be between 0 and 1, got {q}")
    values = np.nan_to_num(density, nan=0.0)
    at_events = bilinear(values, fractional_index(xp[good], xaxis),
                         fractional_index(yp[good], yaxis))
    at_events[np.isnan(at_events)] = 0
    levels = np.quantile(at_events, qs)
    if normalize:
        top = values.max()
        levels = levels / top if top > 0 else np.full_like(levels, np.nan)
    return float(levels) if levels.ndim == 0 else levels


def _grid(density: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density as a float grid and its two 1-D axes."""
    density = np.asarray(density, dtype=float)
    if density.ndim != 2:
        raise ValueError(f"density must be 2-D, got shape {density.shape}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xaxis = x[:, 0] if x.ndim == 2 else x
    yaxis = y[0, :] if y.ndim == 2 else y
    if x.ndim == 2 and x.shape != density.shape or \
            y.ndim == 2 and y.shape != density.shape:
        raise ValueError(f"x {x.shape} and y {y.shape} must have the shape of "
                         f"density {density.shape} (ij indexing)")
    if (xaxis.size, yaxis.size) != density.shape:
        raise ValueError(f"Axes of size {xaxis.size} and {yaxis.size} do not "
                         f"fit density of shape {density.shape}")
    return density, xaxis, yaxis


def _at_index(axis: np.ndarray, fractional: np.ndarray) -> np.ndarray:
    """Coordinates at fractional node indices of a 1-D axis."""
    return np.interp(fractional, np.arange(axis.size), axis)
