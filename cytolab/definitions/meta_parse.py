"""Parsers that turn raw metadata values into well-typed Python objects.

Metadata reach cytolab from several places: HDF5 root attributes (numpy
scalars, ``bytes``, ``str`` or small arrays), the INI-like text format of
:mod:`cytolab.rtdc.config` (everything is a string there) and user code.
Each parser below accepts all of these spellings of a value and returns one
canonical Python type, or raises :class:`ValueError` naming the value it could
not understand.

:data:`func_types` maps every parser to the output type(s) a converted value
may have; :func:`cytolab.definitions.get_config_value_type` is built on it.
"""
from __future__ import annotations

import ast
import json
import numbers
import re
from typing import Any

import numpy as np

__all__ = [
    "f1dfloatduple",
    "f2dfloatarray",
    "fbool",
    "fboolorfloat",
    "ffloat",
    "fint",
    "fintlist",
    "fpassthrough",
    "fstr",
    "fuser",
    "func_types",
    "lcstr",
]

_TRUE_WORDS = frozenset({"true", "1", "1.0", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "0.0", "no", "off"})
# separators between numbers in a textual list: commas and/or whitespace
_SPLIT_RE = re.compile(r"[\s,]+")


def _bad(kind: str, value: Any) -> ValueError:
    return ValueError(f"Cannot convert {value!r} to {kind}")


def _as_text(value: Any) -> str | None:
    """Return `value` as ``str`` if it is textual (``str`` or ``bytes``)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad("text (invalid UTF-8)", value) from exc
    if isinstance(value, str):  # includes np.str_
        return str(value)
    return None


def _as_scalar(value: Any) -> Any:
    """Unwrap numpy scalars and one-element arrays; decode bytes."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise _bad("a scalar", value)
        value = value.reshape(-1)[0]
    text = _as_text(value)
    if text is not None:
        return text.strip()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _split_numbers(text: str) -> list[str]:
    """Split "[1, 2]", "(1 2)" or "1,2" into its number tokens."""
    inner = text.strip()
    while inner and inner[0] in "([" and inner[-1] in ")]":
        inner = inner[1:-1].strip()
    if not inner:
        return []
    return [tok for tok in _SPLIT_RE.split(inner) if tok]


def fstr(value: Any) -> str:
    """Return a text value as ``str``.

    Parameters
    ----------
    value
        ``str``, ``bytes`` (decoded as UTF-8), ``numpy.str_``/``numpy.bytes_``
        or a zero-dimensional array holding one of those.

    Returns
    -------
    str
        The text, unchanged apart from decoding.

    Raises
    ------
    ValueError
        If `value` is not textual (numbers, lists, ``None``, ...).
    """
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    text = _as_text(value)
    if text is None:
        raise _bad("str", value)
    return text


def lcstr(value: Any) -> str:
    """Return a text value as lower-case ``str``.

    Parameters
    ----------
    value
        Anything :func:`fstr` accepts.

    Returns
    -------
    str
        The lower-cased text.

    Raises
    ------
    ValueError
        If `value` is not textual.
    """
    try:
        return fstr(value).lower()
    except ValueError:
        raise _bad("lower-case str", value) from None


def ffloat(value: Any) -> float:
    """Return a number as Python ``float``.

    Parameters
    ----------
    value
        A real number (Python or numpy, also a one-element array) or its text
        form, e.g. ``"0.34"``, ``b"20"``, ``"nan"``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If `value` is not a real number.
    """
    try:
        item = _as_scalar(value)
    except ValueError:
        raise _bad("float", value) from None
    if isinstance(item, (str, numbers.Real)):  # bool counts as Real
        try:
            return float(item)
        except (ValueError, OverflowError):
            pass
    raise _bad("float", value)


def fint(value: Any) -> int:
    """Return an integral value as Python ``int``.

    Parameters
    ----------
    value
        An integer (Python or numpy, also a one-element array), a float with
        an integral value (``250.0``), or a text form such as ``"5"`` or
        ``"5.0"``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If `value` is not a number or has a fractional part.
    """
    try:
        item = _as_scalar(value)
    except ValueError:
        raise _bad("int", value) from None
    if isinstance(item, numbers.Integral):  # includes bool
        return int(item)
    if isinstance(item, str):
        try:
            return int(item)
        except ValueError:
            try:
                item = float(item)
            except ValueError:
                raise _bad("int", value) from None
    if isinstance(item, numbers.Real):
        fitem = float(item)
        if fitem.is_integer():
            return int(fitem)
    raise _bad("int", value)


def fbool(value: Any) -> bool:
    """Return a truth value as Python ``bool``.

    Parameters
    ----------
    value
        ``bool``/``numpy.bool_``, the numbers 0 and 1, or one of the words
        ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``
        (case-insensitive, also as ``bytes``).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        For any other value (e.g. ``2`` or ``"maybe"``).
    """
    try:
        item = _as_scalar(value)
    except ValueError:
        raise _bad("bool", value) from None
    if isinstance(item, bool):
        return item
    if isinstance(item, str):
        word = item.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    elif isinstance(item, numbers.Real) and item in (0, 1):
        return bool(item)
    raise _bad("bool", value)


def fboolorfloat(value: Any) -> bool | float:
    """Return a value that is either a flag or a number.

    Booleans (and the words ``true``/``false``) become ``bool``; every other
    number or numeric text becomes ``float``.

    Parameters
    ----------
    value
        A ``bool``, a real number or a text form of either.

    Returns
    -------
    bool or float

    Raises
    ------
    ValueError
        If `value` is neither a boolean nor a number.
    """
    try:
        item = _as_scalar(value)
    except ValueError:
        raise _bad("bool or float", value) from None
    if isinstance(item, bool):
        return item
    if isinstance(item, str) and item.lower() in ("true", "false"):
        return item.lower() == "true"
    try:
        return ffloat(item)
    except ValueError:
        raise _bad("bool or float", value) from None


def _literal(text: str) -> Any:
    """Evaluate a textual list/tuple literal, or return None if impossible."""
    for loader in (json.loads, ast.literal_eval):
        try:
            return loader(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def fintlist(value: Any) -> list[int]:
    """Return a list of integers.

    Parameters
    ----------
    value
        A list, tuple or array of integral numbers, a single integer, or a
        text form such as ``"[1, 2]"``, ``"1,2"`` or ``"[]"``.

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        If any element is not integral.
    """
    text = _as_text(value)
    if text is not None:
        items: Any = _split_numbers(text)
    elif isinstance(value, np.ndarray):
        items = value.reshape(-1).tolist() if value.ndim <= 1 else None
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, (numbers.Integral, np.integer)):
        items = [value]
    else:
        items = None
    if items is None:
        raise _bad("list of int", value)
    try:
        return [fint(it) for it in items]
    except ValueError:
        raise _bad("list of int", value) from None


def f1dfloatduple(value: Any) -> tuple[float, float]:
    """Return a pair of floats.

    Parameters
    ----------
    value
        A sequence or array with exactly two numbers, or a text form such as
        ``"(0.1, 0.2)"``, ``"[0.1, 0.2]"`` or ``"0.1 0.2"``.

    Returns
    -------
    tuple of float
        ``(first, second)``.

    Raises
    ------
    ValueError
        If `value` does not hold exactly two numbers.
    """
    text = _as_text(value)
    if text is not None:
        items: Any = _split_numbers(text)
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.asarray(value, dtype=object).reshape(-1))
    else:
        items = None
    if items is None or len(items) != 2:
        raise _bad("a pair of floats", value)
    try:
        return (ffloat(items[0]), ffloat(items[1]))
    except ValueError:
        raise _bad("a pair of floats", value) from None


def f2dfloatarray(value: Any) -> np.ndarray:
    """Return a two-dimensional ``float64`` array (e.g. polygon points).

    Parameters
    ----------
    value
        A nested list or array, or its text form: JSON/Python style
        (``"[[0.1, 0.2], [0.1, 2.5]]"``) or numpy print style
        (``"[[0.1 0.2]\\n [0.1 2.5]]"``).

    Returns
    -------
    numpy.ndarray
        A new 2-D float64 array.

    Raises
    ------
    ValueError
        If `value` is not a rectangular 2-D collection of numbers.
    """
    text = _as_text(value)
    data: Any = value
    if text is not None:
        data = _literal(text)
        if data is None:
            # numpy's print style: rows in brackets, numbers separated by blanks
            rows = re.findall(r"\[([^\[\]]*)\]", text)
            if not rows:
                raise _bad("a 2-D float array", value)
            data = [_split_numbers(row) for row in rows]
    try:
        arr = np.array(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise _bad("a 2-D float array", value) from None
    if arr.ndim != 2 or arr.size == 0:
        raise _bad("a 2-D float array", value)
    return arr


def fuser(value: Any) -> Any:
    """Return a free-form (``user`` section) value, decoding ``bytes``.

    Parameters
    ----------
    value
        Anything; ``bytes``/``numpy.bytes_`` are decoded to ``str``.

    Returns
    -------
    object
        `value` itself, or the decoded text.
    """
    text = _as_text(value) if isinstance(value, (bytes, np.bytes_)) else None
    return value if text is None else text


def fpassthrough(value: Any) -> Any:
    """Return `value` unchanged (used for keys without a definition)."""
    return value


#: Output type(s) of each parser, suitable for :func:`isinstance`.
func_types: dict[Any, type | tuple[type, ...]] = {
    float: numbers.Number,
    ffloat: numbers.Number,
    str: str,
    fstr: str,
    lcstr: str,
    f1dfloatduple: (tuple, np.ndarray),
    f2dfloatarray: np.ndarray,
    fbool: (bool, np.bool_),
    fboolorfloat: (bool, np.bool_, float),
    fint: numbers.Integral,
    fintlist: list,
}
