"""Metadata of fluorescence images: the valid keys and their checks.

Metadata are stored as attributes of the image's root group and use SI
units: ``pixel size`` in metres, ``time`` in seconds, ``sim radius`` in
metres (``sim center`` is in pixels).
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from ..errors import CytolabWarning

#: Valid FLImage metadata keys
META_KEYS_FL: list[str] = ["pixel size", "time", "flimage version", "identifier",
                           "qpimage version", "sim center", "sim model", "sim radius"]

#: Units of the keys that have one
META_UNITS: dict[str, str] = {"pixel size": "m", "time": "s", "sim center": "px",
                              "sim radius": "m"}

_TEXT_KEYS = {"flimage version", "identifier", "qpimage version", "sim model"}


class SuspiciousUnitWarning(CytolabWarning):
    """A metadata value looks like it is not in SI units."""


def check_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Validate FLImage metadata; return them with normalized types.

    Parameters
    ----------
    meta
        Metadata keyed by names of :data:`META_KEYS_FL`.

    Returns
    -------
    dict
        Text keys as ``str``, numeric keys as ``float`` (``sim center`` as a
        tuple of floats).

    Raises
    ------
    KeyError
        A key is not in :data:`META_KEYS_FL` (the message lists them).
    ValueError
        A value has the wrong type or is not finite, or the pixel size is not
        positive.

    Examples
    --------
    >>> check_meta({"pixel size": 5.4e-8, "time": 2})
    {'pixel size': 5.4e-08, 'time': 2.0}
    >>> check_meta({"pixelsize": 1e-7})
    Traceback (most recent call last):
        ...
    KeyError: "Unknown FLImage metadata key 'pixelsize'; valid keys are: 'pixel size', 'time', 'flimage version', 'identifier', 'qpimage version', 'sim center', 'sim model', 'sim radius'"
    """  # noqa: E501
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if key not in META_KEYS_FL:
            valid = ", ".join(repr(k) for k in META_KEYS_FL)
            raise KeyError(f"Unknown FLImage metadata key {key!r}; valid keys are: "
                           f"{valid}")
        out[key] = _check_value(key, value)
    size = out.get("pixel size")
    if size is not None and size > 1e-4:
        warnings.warn(f"'pixel size' is {size} m; metadata are in SI units (metres), "
                      f"was it given in micrometres?", SuspiciousUnitWarning,
                      stacklevel=3)
    return out


def _check_value(key: str, value: Any) -> Any:
    if key in _TEXT_KEYS:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise ValueError(f"FLImage metadata {key!r} must be text, got {value!r}")
        return value
    if key == "sim center":
        try:
            center = tuple(float(v) for v in value)
        except TypeError:
            raise ValueError(f"FLImage metadata 'sim center' must be a pair of "
                             f"pixel coordinates, got {value!r}") from None
        if len(center) != 2 or not all(map(math.isfinite, center)):
            raise ValueError(f"FLImage metadata 'sim center' must be two finite "
                             f"pixel coordinates, got {value!r}")
        return center
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"FLImage metadata {key!r} must be a number "
                         f"[{META_UNITS.get(key, '')}], got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"FLImage metadata {key!r} must be finite, got {value}")
    if key in ("pixel size", "sim radius") and value <= 0:
        raise ValueError(f"FLImage metadata {key!r} must be positive, got {value}")
    return value
