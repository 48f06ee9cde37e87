"""A small, dependency-free writer for Flow Cytometry Standard (FCS 3.0) files.

An FCS data set has three parts:

* HEADER (bytes 0-57): the version ``"FCS3.0"``, four spaces, then six
  right-justified 8-character ASCII integers: first and last byte of the
  TEXT, DATA and ANALYSIS segments (offsets from the start of the file,
  inclusive). Offsets that do not fit in 8 digits (above 99,999,999) are
  written as 0 and only given in TEXT (``$BEGINDATA``/``$ENDDATA``).
* TEXT: keyword/value pairs separated by a delimiter character; the
  segment starts and ends with the delimiter, a delimiter inside a keyword
  or value is written twice.
* DATA: list-mode events, one after another, each with one value per
  parameter (channel).

:func:`write_fcs` writes 32-bit little-endian floats (``$DATATYPE`` ``F``,
``$BYTEORD`` ``1,2,3,4``, ``$MODE`` ``L``); TEXT starts at byte 256 (the
gap after the HEADER is filled with spaces) and is UTF-8 encoded, as FCS
3.1 allows, so that non-ASCII metadata survive. Every parameter gets
``$PnN`` (name), ``$PnS`` (label), ``$PnB`` (32), ``$PnE`` (``0,0``:
linear) and ``$PnR`` (range: the smallest integer above the largest value,
at least 1).
"""
from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .files import atomic_path

__all__ = ["FCS_MAX_HEADER_OFFSET", "write_fcs"]

#: Largest offset that fits in an 8-digit HEADER field.
FCS_MAX_HEADER_OFFSET = 99_999_999
#: Byte at which the TEXT segment starts.
TEXT_START = 256
#: Delimiters tried in order; the first one found in no keyword or value wins.
#: (Characters with a meaning in regular expressions, other than ``|``, are
#: avoided because some readers split with unescaped regular expressions.)
_DELIMITERS = ("|", "/", "\x0c", "\x1e", "!", "~", ";", "@", "%", "&")
#: Events written per block (bounds the memory used for conversion).
_ROWS_PER_BLOCK = 262_144


def write_fcs(path: str | os.PathLike, channel_names: Sequence[str],
              data: Any, text_kwargs: Mapping[str, Any] | None = None,
              channel_labels: Sequence[str] | None = None) -> pathlib.Path:
    """Write list-mode data to an FCS 3.0 file with float32 values.

    Parameters
    ----------
    path
        Output file; replaced if it exists. The file is written under a
        temporary name and renamed when complete.
    channel_names
        Short name of each parameter (``$PnN``); must be unique and must not
        contain commas.
    data
        Array of shape (events, parameters); converted to little-endian
        float32.
    text_kwargs
        Additional keyword/value pairs for the TEXT segment (e.g. the
        software version). Keywords must not be empty and must not be one of
        the keywords this function writes itself; values are converted with
        ``str`` (an empty value is written as a single space, since FCS does
        not allow empty values).
    channel_labels
        Longer description of each parameter (``$PnS``); defaults to the
        names.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If the data are not two-dimensional, the number of names or labels
        does not match the number of parameters, names are duplicated or
        contain commas, or a keyword is empty or reserved.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "beads.fcs"
    >>> data = np.array([[1.5, 20.0], [2.5, 30.0], [3.5, 40.0]])
    >>> _ = write_fcs(path, ["area", "deform"], data, {"operator": "Jane"})
    >>> head = path.read_bytes()[:58]
    >>> head[:6], int(head[10:18]), int(head[26:34]) > int(head[18:26])
    (b'FCS3.0', 256, True)
    """
    names = [str(n) for n in channel_names]
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"`data` must have shape (events, parameters), got "
                         f"shape {arr.shape}")
    nevents, npar = arr.shape
    if len(names) != npar:
        raise ValueError(f"Got {len(names)} channel names for {npar} parameters")
    labels = names if channel_labels is None else [str(lb) for lb in channel_labels]
    if len(labels) != npar:
        raise ValueError(f"Got {len(labels)} channel labels for {npar} parameters")
    for name in names:
        if not name or "," in name:
            raise ValueError(f"Invalid channel name {name!r}: it must not be "
                             f"empty or contain a comma")
    if len(set(names)) != len(names):
        raise ValueError(f"Channel names must be unique, got {names}")

    fixed: dict[str, str] = {
        "$BYTEORD": "1,2,3,4", "$DATATYPE": "F", "$MODE": "L",
        "$NEXTDATA": "0", "$TOT": str(nevents), "$PAR": str(npar),
        "$BEGINANALYSIS": "0", "$ENDANALYSIS": "0",
        "$BEGINSTEXT": "0", "$ENDSTEXT": "0",
    }
    for ii, (name, label) in enumerate(zip(names, labels), start=1):
        fixed[f"$P{ii}N"] = name
        fixed[f"$P{ii}S"] = label or " "
        fixed[f"$P{ii}B"] = "32"
        fixed[f"$P{ii}E"] = "0,0"
        fixed[f"$P{ii}R"] = str(_channel_range(arr[:, ii - 1]))
    reserved = {k.upper() for k in fixed} | {"$BEGINDATA", "$ENDDATA"}
    user: dict[str, str] = {}
    for key, value in (text_kwargs or {}).items():
        key = str(key)
        if not key.strip():
            raise ValueError("TEXT keywords must not be empty")
        if key.upper() in reserved:
            raise ValueError(f"TEXT keyword '{key}' is reserved (written by "
                             f"write_fcs itself)")
        user[key] = str(value) if str(value) != "" else " "

    data_bytes = nevents * npar * 4
    text, data_start, data_end = _layout(fixed, user, data_bytes)
    large = data_end > FCS_MAX_HEADER_OFFSET
    header = b"FCS3.0    " + b"".join(
        f"{value:>8d}".encode("ascii") for value in (
            TEXT_START, TEXT_START + len(text) - 1,
            0 if large else data_start, 0 if large else data_end, 0, 0))
    with atomic_path(path) as tmp, open(tmp, "wb") as fd:
        fd.write(header.ljust(TEXT_START, b" "))
        fd.write(text)
        for start in range(0, nevents, _ROWS_PER_BLOCK):
            block = np.ascontiguousarray(arr[start:start + _ROWS_PER_BLOCK],
                                         dtype="<f4")
            fd.write(block.data)
    return pathlib.Path(path)


def _channel_range(values: np.ndarray) -> int:
    """``$PnR``: smallest integer above the largest finite value (at least 1)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1
    return max(1, math.floor(float(finite.max())) + 1)


def _layout(fixed: Mapping[str, str], user: Mapping[str, str], data_bytes: int
            ) -> tuple[bytes, int, int]:
    """Encode TEXT and find the DATA offsets (which TEXT itself contains).

    The offsets are written into TEXT, so TEXT's length depends on them; the
    loop settles after at most a few rounds because the digit count of the
    offsets can only grow.
    """
    delim = _choose_delimiter([*fixed, *fixed.values(), *user, *user.values()])
    data_start = data_end = 0
    for _ in range(10):
        pairs = {"$BEGINDATA": str(data_start), "$ENDDATA": str(data_end),
                 **fixed, **user}
        text = _encode_text(pairs, delim)
        # DATA follows TEXT; without events it is empty (end = start - 1)
        new_start = TEXT_START + len(text)
        new_end = new_start + data_bytes - 1
        if (new_start, new_end) == (data_start, data_end):
            return text, data_start, data_end
        data_start, data_end = new_start, new_end
    raise RuntimeError("FCS TEXT layout did not converge")  # pragma: no cover


def _choose_delimiter(strings: Sequence[str]) -> str:
    joined = "".join(strings)
    for delim in _DELIMITERS:
        if delim not in joined:
            return delim
    return _DELIMITERS[0]  # escaped by doubling


def _encode_text(pairs: Mapping[str, str], delim: str) -> bytes:
    parts = [delim]
    for key, value in pairs.items():
        parts += [key.replace(delim, delim * 2), delim,
                  value.replace(delim, delim * 2), delim]
    return "".join(parts).encode("utf-8")
