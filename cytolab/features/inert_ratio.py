"""Inertia ratios and tilt of event contours (one feature per function).

Thin per-feature entry points to :func:`cytolab.features.moments.moments_features`
under the names users of dclab know. Each accepts one contour (returns a
float) or a sequence of contours (returns an array).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .moments import _is_single, moments_features

__all__ = ["INERTIA_FEATURES", "get_inert_ratio_cvx", "get_inert_ratio_prnc",
           "get_inert_ratio_raw", "get_tilt"]

#: The features of this module (all from the same moments of a contour)
INERTIA_FEATURES = ("inert_ratio_cvx", "inert_ratio_prnc", "inert_ratio_raw", "tilt")


def _one(cont: np.ndarray | Iterable[np.ndarray], name: str
         ) -> float | np.ndarray:
    values = moments_features(cont, features=[name])[name]
    return float(values[0]) if _is_single(cont) else values


def get_inert_ratio_raw(cont: np.ndarray | Iterable[np.ndarray]
                        ) -> float | np.ndarray:
    """Inertia ratio ``sqrt(mu20 / mu02)`` of the contour.

    ``mu20`` and ``mu02`` are the central second moments of the polygon along
    x (channel axis) and y, computed as OpenCV's ``moments`` does, with exact
    64-bit integer sums for integer contours (older tools overflowed for
    events with a large horizontal extent, dclab issue #212).

    Parameters
    ----------
    cont
        One ``(J, 2)`` contour of x, y pixel coordinates, or a sequence.

    Returns
    -------
    float or numpy.ndarray
        Values > 1 for events elongated along the channel; NaN for contours
        with fewer than three points or zero area.

    Examples
    --------
    >>> import numpy as np
    >>> get_inert_ratio_raw(np.array([[0, 0], [6, 0], [6, 2], [0, 2]]))
    3.0
    """
    return _one(cont, "inert_ratio_raw")


def get_inert_ratio_cvx(cont: np.ndarray | Iterable[np.ndarray]
                        ) -> float | np.ndarray:
    """Inertia ratio ``sqrt(mu20 / mu02)`` of the convex hull of the contour.

    Parameters
    ----------
    cont
        One ``(J, 2)`` contour of x, y pixel coordinates, or a sequence.

    Returns
    -------
    float or numpy.ndarray
        NaN for contours with fewer than three points or zero area.

    Examples
    --------
    >>> import numpy as np
    >>> cont = np.array([[0, 0], [3, 1], [6, 0], [6, 2], [0, 2]])  # notched
    >>> get_inert_ratio_cvx(cont)
    3.0
    """
    return _one(cont, "inert_ratio_cvx")


def get_inert_ratio_prnc(cont: np.ndarray | Iterable[np.ndarray]
                         ) -> float | np.ndarray:
    """Principal inertia ratio ``sqrt(l1 / l2)`` of the contour.

    ``l1 >= l2`` are the eigenvalues of the central second-moment matrix
    ``[[mu20, mu11], [mu11, mu02]]``, i.e. the second moments about the
    principal axes, so the result (>= 1) does not depend on how the event is
    tilted. It is computed in closed form; the reference tools rotate the
    contour about the image origin in single precision instead and agree to
    about ``eps_float32 * (distance from the origin) / (minor radius of
    gyration)`` (up to 2e-5 relative for small events).

    Parameters
    ----------
    cont
        One ``(J, 2)`` contour of x, y pixel coordinates, or a sequence.

    Returns
    -------
    float or numpy.ndarray
        NaN for contours with fewer than three points or zero area.

    Examples
    --------
    >>> import numpy as np
    >>> square = np.array([[0, 0], [6, 0], [6, 2], [0, 2]])
    >>> rotated = np.array([[0, 0], [6, 6], [4, 8], [-2, 2]])
    >>> get_inert_ratio_prnc(square), get_inert_ratio_prnc(rotated)
    (3.0, 3.0)
    """
    return _one(cont, "inert_ratio_prnc")


def get_tilt(cont: np.ndarray | Iterable[np.ndarray]) -> float | np.ndarray:
    """Absolute tilt of the contour's principal axis to the channel axis.

    Parameters
    ----------
    cont
        One ``(J, 2)`` contour of x, y pixel coordinates, or a sequence.

    Returns
    -------
    float or numpy.ndarray
        Angle in radians between 0 (major axis along x, the flow direction)
        and pi/2 (major axis along y). Shapes without a preferred direction
        (``mu11 = 0``, ``mu20 = mu02``) give pi/2; degenerate contours NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(get_tilt(np.array([[0, 0], [6, 6], [4, 8], [-2, 2]])), 4)
    0.7854
    """
    return _one(cont, "tilt")
