"""Volume of events from their contours, assuming rotational symmetry.

An RT-DC cell is imaged from the side while it flows along the channel axis
(x). Its volume is estimated by revolving the contour around the line
``y = pos_y`` parallel to that axis: the part of the contour above the axis
and the part below it are each revolved by a full turn and the two volumes
are averaged. A revolved contour segment is a truncated cone (frustum), so
the volume of a revolved polygon is a sum over its segments.

All contours of a chunk are processed at once (one point array, per-contour
sums with ``np.add.reduceat``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .moments import _AREA_EPSILON, _neighbours, _pack, _Packed, _reduce

__all__ = ["counter_clockwise", "get_volume", "vol_revolve"]


def _frustums(r: np.ndarray, z: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Signed frustum volume (without the factor pi) of each segment.

    The segment from point i to point ``nxt[i]`` sweeps a truncated cone of
    height ``dz`` and radii ``r0``, ``r1``:
    ``dz / 3 * (r0**2 + r0 * r1 + r1**2)``, positive when z increases.
    """
    r1 = r[nxt]
    return (z[nxt] - z) * (r * r + r * r1 + r1 * r1) / 3


def vol_revolve(r: np.ndarray, z: np.ndarray, point_scale: float = 1.0) -> float:
    """Volume of a polygon revolved around the z axis.

    Each segment of the closed polygon ``(r, z)`` sweeps a truncated cone
    ``V = h * pi / 3 * (R**2 + R * r + r**2)`` (height ``h`` along z, radii
    ``R`` and ``r``). Cones of segments along which z increases are added,
    the others subtracted (so inclusions are removed).

    Parameters
    ----------
    r
        Radial coordinates (distance from the axis; should be >= 0).
    z
        Coordinates along the axis of rotation.
    point_scale
        Size of one coordinate unit (e.g. the pixel size in µm); the result
        is multiplied by ``point_scale**3``.

    Returns
    -------
    float
        The volume. Positive when the polygon runs counter-clockwise in the
        r-z plane (r horizontal, z vertical), negative otherwise. The polygon
        is closed implicitly (a repeated first point does not matter).

    Raises
    ------
    ValueError
        If `r` and `z` differ in shape or are not 1-D.

    Examples
    --------
    A 2 x 1 rectangle revolved around one of its long sides is a cylinder of
    radius 1 and height 2:

    >>> import numpy as np
    >>> vol = vol_revolve(r=np.array([0., 1., 1., 0.]),
    ...                   z=np.array([0., 0., 2., 2.]))
    >>> bool(np.isclose(vol, 2 * np.pi))
    True
    """
    r = np.asarray(r, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if r.ndim != 1 or r.shape != z.shape:
        raise ValueError(f"r and z must be 1-D arrays of the same length, got "
                         f"shapes {r.shape} and {z.shape}")
    if r.size == 0:
        return 0.0
    nxt = np.roll(np.arange(r.size), -1)
    return float(np.pi * _frustums(r, z, nxt).sum() * point_scale**3)


def counter_clockwise(cx: np.ndarray, cy: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Put contour coordinates into counter-clockwise order.

    Parameters
    ----------
    cx, cy
        The x and y coordinates of a closed contour.

    Returns
    -------
    cx_cc, cy_cc : numpy.ndarray
        The same points, reversed if the contour ran clockwise in the x-y
        plane (x to the right, y upwards).

    Notes
    -----
    The orientation is taken from the sign of the enclosed (shoelace) area,
    which does not depend on where the contour lies; the reference tools
    look at the angles around (0, 0) instead and therefore need the contour
    centred there. For contours centred at (0, 0) both agree.

    Examples
    --------
    >>> import numpy as np
    >>> cx, cy = counter_clockwise(np.array([0, 0, 1]), np.array([0, 1, 0]))
    >>> cx.tolist(), cy.tolist()
    ([1, 0, 0], [0, 1, 0])
    """
    cx = np.asarray(cx)
    cy = np.asarray(cy)
    if cx.ndim != 1 or cx.shape != cy.shape:
        raise ValueError(f"cx and cy must be 1-D arrays of the same length, "
                         f"got shapes {cx.shape} and {cy.shape}")
    xf = cx.astype(np.float64)
    yf = cy.astype(np.float64)
    area2 = np.sum(np.roll(xf, 1) * yf - xf * np.roll(yf, 1))
    if area2 < 0:
        return cx[::-1], cy[::-1]
    return cx, cy


def _per_contour(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    arr = arr.ravel()
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values for {n} contours")
    return arr


def get_volume(cont: np.ndarray | Iterable[np.ndarray],
               pos_x: float | np.ndarray, pos_y: float | np.ndarray,
               pix: float, fix_orientation: bool = False
               ) -> float | np.ndarray:
    """Volume of events from their contours, assuming rotational symmetry.

    Parameters
    ----------
    cont
        One contour (a ``(J, 2)`` array of x, y pixel coordinates) or a
        sequence of them (e.g. ``ds["contour"]`` or a chunk of it).
    pos_x, pos_y
        Centroid of each event [µm] (``pos_x``, ``pos_y`` features); the
        axis of revolution is the line ``y = pos_y`` and the contour is
        centred at ``(pos_x, pos_y) / pix`` [px].
    pix
        Pixel size [µm] (``imaging:pixel size``).
    fix_orientation
        Reverse contours that run clockwise in the r-z plane, see
        :func:`counter_clockwise`. Off by default: stored and traced contours
        are already oriented correctly, and for porous events "fixing" the
        orientation can make the result worse.

    Returns
    -------
    volume : float or numpy.ndarray
        Volume [µm³]: the mean of the volumes of the upper half (``y >
        pos_y``, points below moved onto the axis) and the lower half revolved
        around the axis, each a sum of truncated cones (:func:`vol_revolve`).
        NaN for contours with fewer than three points, zero area or NaN
        coordinates/positions.

    Raises
    ------
    ValueError
        If `pix` is not a positive number or the number of positions does
        not match the number of contours.

    Examples
    --------
    A densely sampled ellipse with semi-axes 20 and 10 px, running
    counter-clockwise on screen (y pointing down) like traced contours, gives
    the volume of the prolate spheroid, 4/3 pi a b²:

    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    >>> cont = np.stack([50 + 20 * np.cos(t), 40 - 10 * np.sin(t)], axis=1)
    >>> vol = get_volume(cont, pos_x=50 * 0.5, pos_y=40 * 0.5, pix=0.5)
    >>> round(vol / (4 / 3 * np.pi * 10 * 5**2), 4)
    1.0
    """
    try:
        pix = float(pix)
    except (TypeError, ValueError):
        raise ValueError(f"pix must be a positive number [µm], got {pix!r}"
                         ) from None
    if not pix > 0 or not np.isfinite(pix):
        raise ValueError(f"pix must be a positive number [µm], got {pix!r}")
    single = isinstance(cont, np.ndarray) and cont.ndim == 2
    packed = _pack(cont)
    n = len(packed)
    px = _per_contour(pos_x, n, "pos_x") / pix
    py = _per_contour(pos_y, n, "pos_y") / pix
    volume = _volume_packed(packed, px, py, fix_orientation) * pix**3
    return float(volume[0]) if single else volume


def _volume_packed(packed: _Packed, px: np.ndarray, py: np.ndarray,
                   fix_orientation: bool) -> np.ndarray:
    """Mean revolved volume [px³] of packed contours centred at (px, py)."""
    counts = packed.counts
    pts = packed.pts.astype(np.float64)
    # z along the channel axis, r perpendicular to it
    z = pts[:, 0] - np.repeat(px, counts)
    r = pts[:, 1] - np.repeat(py, counts)
    prev = _neighbours(packed)
    nxt = np.empty_like(prev)
    nxt[prev] = np.arange(len(prev))
    area2 = _reduce(np.add, r[prev] * z - r * z[prev], packed)
    if fix_orientation:
        flip = np.repeat(area2 < 0, counts)
        if flip.any():
            nxt = np.where(flip, prev, nxt)
            area2 = np.abs(area2)
    upper = _reduce(np.add, _frustums(np.maximum(r, 0), z, nxt), packed)
    # below the axis the radius is -r; the same frustum sums with r <= 0
    # have the opposite sign for a contour of the same orientation
    lower = -_reduce(np.add, _frustums(np.minimum(r, 0), z, nxt), packed)
    volume = np.pi * (upper + lower) / 2
    valid = (counts >= 3) & (np.abs(area2) > _AREA_EPSILON)
    return np.where(valid, volume, np.nan)
