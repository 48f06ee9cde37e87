"""Fluorescence crosstalk (spillover) correction for up to three channels.

The spill ``c_ij`` from channel i into channel j is the ratio ``fl_j / fl_i``
measured on cells stained only with the dye of channel i. With the
spillover matrix ``C`` (``C[i, j] = c_ij``, unit diagonal), the measured
signals of an event are ``measured = true @ C``; the true signals follow
from the compensation matrix ``inv(C)``.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["correct_crosstalk", "get_compensation_matrix"]


def get_compensation_matrix(ct21: float, ct31: float, ct12: float, ct32: float,
                            ct13: float, ct23: float) -> np.ndarray:
    """Compensation matrix: the inverse of the 3×3 spillover matrix.

    The spillover matrix is::

        | 1    c12  c13 |
        | c21  1    c23 |
        | c31  c32  1   |

    Parameters
    ----------
    ct21, ct31, ct12, ct32, ct13, ct23 : float
        Spill ``c_ij`` from channel i into channel j (``fl_j / fl_i`` for a
        single-stained sample of channel i).

    Returns
    -------
    ndarray of shape (3, 3)
        The inverted spillover matrix.

    Raises
    ------
    ValueError
        If a value is not finite or the spillover matrix is singular.

    Examples
    --------
    >>> inv = get_compensation_matrix(0, 0, 0.1, 0, 0, 0)
    >>> np.round(inv, 3).tolist()
    [[1.0, -0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    values = {"ct21": ct21, "ct31": ct31, "ct12": ct12, "ct32": ct32,
              "ct13": ct13, "ct23": ct23}
    for name, value in values.items():
        try:
            ok = np.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    spill = np.array([[1, ct12, ct13],
                      [ct21, 1, ct23],
                      [ct31, ct32, 1]], dtype=np.float64)
    try:
        return np.linalg.inv(spill)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the spillover matrix {spill.tolist()} is singular; "
                         f"check the crosstalk values") from exc


def correct_crosstalk(fl1: Any, fl2: Any, fl3: Any, fl_channel: int,
                      ct21: float = 0, ct31: float = 0, ct12: float = 0,
                      ct32: float = 0, ct13: float = 0, ct23: float = 0) -> Any:
    """Crosstalk-corrected fluorescence signal of one channel.

    Parameters
    ----------
    fl1, fl2, fl3 : float or array_like
        Measured signals of the three channels (e.g. ``fl1_max``). For
        two-channel data pass 0 for the missing channel and leave its
        crosstalk terms at 0.
    fl_channel : int
        Channel (1, 2 or 3) whose corrected signal is returned.
    ct21, ct31, ct12, ct32, ct13, ct23 : float
        Spill ``c_ij`` from channel i into channel j (see
        :func:`get_compensation_matrix`).

    Returns
    -------
    float or ndarray
        The corrected signal of `fl_channel`.

    Raises
    ------
    ValueError
        If `fl_channel` is not 1, 2 or 3, or the spillover matrix is singular.

    Examples
    --------
    A cell stained only in channel 1 spills 10 % into channel 2:

    >>> correct_crosstalk(100.0, 10.0, 0.0, fl_channel=2, ct12=0.1)
    0.0
    >>> correct_crosstalk(100.0, 10.0, 0.0, fl_channel=1, ct12=0.1)
    100.0
    """
    if (isinstance(fl_channel, bool) or not isinstance(fl_channel, numbers.Real)
            or fl_channel not in (1, 2, 3)):
        raise ValueError(f"fl_channel must be 1, 2 or 3, got {fl_channel!r}")
    comp = get_compensation_matrix(ct21=ct21, ct31=ct31, ct12=ct12, ct32=ct32,
                                   ct13=ct13, ct23=ct23)
    col = comp[:, int(fl_channel) - 1]
    out = col[0] * np.asarray(fl1, dtype=np.float64) \
        + col[1] * np.asarray(fl2, dtype=np.float64) \
        + col[2] * np.asarray(fl3, dtype=np.float64)
    return float(out) if out.ndim == 0 else out
