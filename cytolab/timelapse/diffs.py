"""Readable differences between time-lapse results, and a file lister.

The ``compare`` methods of the lineage and of the processing objects build a
*difference tree*: a list whose strings each describe one difference, where a
list right after a string holds the details of that string::

    ["cell 3", ["motherid: 1 ≠ 2", "frame 5", ["length: 3.0 ≠ 4.0"]],
     "cells only in the first lineage: [7]"]

:func:`print_diffs` prints such a tree with box-drawing branches.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"


def color_diff(prefix: str, a: Any, b: Any) -> str:
    """Describe two different values: ``prefix`` + red `a` + ``≠`` + green `b`.

    Parameters
    ----------
    prefix
        Text in front, usually naming the compared quantity.
    a, b
        The values (formatted with :func:`str`).

    Returns
    -------
    str
        The text with ANSI colour codes (red for `a`, green for `b`).

    Examples
    --------
    >>> color_diff("length: ", 3.0, 4.0)
    'length: \\x1b[31m3.0\\x1b[0m ≠ \\x1b[32m4.0\\x1b[0m'
    """
    return f"{prefix}{_RED}{a}{_RESET} ≠ {_GREEN}{b}{_RESET}"


def _differing(a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
    """Boolean mask of the elements that differ (NaN equals NaN)."""
    ne = np.asarray(a1 != a2)
    if a1.dtype.kind in "fc" and a2.dtype.kind in "fc":
        ne &= ~(np.isnan(a1) & np.isnan(a2))
    return ne


def compare_arrays(array1: np.ndarray, array2: np.ndarray,
                   name: str = "array") -> list[str]:
    """List the differences between two arrays.

    Parameters
    ----------
    array1, array2
        Arrays to compare. NaNs at the same places count as equal.
    name
        Name of the array used in the descriptions.

    Returns
    -------
    list of str
        Empty if the arrays are equal; otherwise one entry for a different
        shape, one for a different dtype and one for different values (their
        count and the first differing element).

    Examples
    --------
    >>> import numpy as np
    >>> compare_arrays(np.arange(3), np.arange(3))
    []
    >>> diffs = compare_arrays(np.zeros((2, 2)), np.eye(2), name="seg")
    >>> diffs[0].startswith("seg: 2 of 4 values differ, first at (0, 0): ")
    True
    """
    a1 = np.asarray(array1)
    a2 = np.asarray(array2)
    diffs: list[str] = []
    if a1.dtype != a2.dtype:
        diffs.append(color_diff(f"{name} dtype: ", a1.dtype, a2.dtype))
    if a1.shape != a2.shape:
        diffs.insert(0, color_diff(f"{name} shape: ", a1.shape, a2.shape))
        return diffs
    ne = _differing(a1, a2)
    count = int(np.count_nonzero(ne))
    if count:
        first = tuple(int(i) for i in np.argwhere(ne)[0])
        diffs.append(color_diff(
            f"{name}: {count} of {a1.size} values differ, first at {first}: ",
            a1[first], a2[first]))
    return diffs


def _entries(diffs: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """Pair each string of a difference tree with its detail list."""
    entries: list[tuple[str, list[Any]]] = []
    for item in diffs:
        if isinstance(item, str):
            entries.append((item, []))
        elif entries:
            entries[-1][1].extend(item)
        else:  # details without a heading: they belong to this level
            entries.extend(_entries(item))
    return entries


def format_diffs(diffs: Sequence[Any], lasts: Sequence[bool] | None = None) -> str:
    """Format a difference tree as text (see :func:`print_diffs`).

    Examples
    --------
    >>> print(format_diffs(["cell 3", ["motherid: 1 ≠ 2", "frame 5",
    ...                                ["area: 3 ≠ 4"]], "cell 7 missing"]))
    cell 3
    ├── motherid: 1 ≠ 2
    └── frame 5
        └── area: 3 ≠ 4
    cell 7 missing
    """
    lines: list[str] = []
    _format_into(lines, diffs, None if lasts is None else list(lasts))
    return "\n".join(lines)


def _format_into(lines: list[str], diffs: Sequence[Any],
                 lasts: list[bool] | None) -> None:
    entries = _entries(diffs)
    for i, (text, details) in enumerate(entries):
        last = i == len(entries) - 1
        if lasts is None:  # top level: no branches
            lines.append(text)
            child_lasts: list[bool] = []
        else:
            indent = "".join("    " if done else "│   " for done in lasts)
            lines.append(f"{indent}{'└── ' if last else '├── '}{text}")
            child_lasts = [*lasts, last]
        if details:
            _format_into(lines, details, child_lasts)


def print_diffs(diffs: Sequence[Any], lasts: Sequence[bool] | None = None) -> None:
    """Print a difference tree with box-drawing branches.

    Parameters
    ----------
    diffs
        Difference tree: strings, each optionally followed by a list of its
        details (which may nest further).
    lasts
        For printing a sub-tree: one flag per enclosing level, True where the
        enclosing entry was the last of its level (this decides whether a
        ``│`` continues on the left). None prints `diffs` as the top level,
        without branches.

    Examples
    --------
    >>> print_diffs(["roi00", ["cell 2", ["motherid: 1 ≠ None"]]])
    roi00
    └── cell 2
        └── motherid: 1 ≠ None
    """
    text = format_diffs(diffs, lasts)
    if text:
        print(text)


def report(diffs: list[Any], level: int) -> list[Any] | None:
    """What a ``compare`` method returns: at level 0 the differences are
    printed (nothing when there are none) and None is returned; at higher
    levels (a caller nesting them in its own tree) they are returned."""
    if level == 0:
        print_diffs(diffs)
        return None
    return diffs


def list_files(directory: str | os.PathLike, suffixes: Iterable[str]
               ) -> list[pathlib.Path]:
    """The files in `directory` whose names end with one of `suffixes`, sorted.

    Parameters
    ----------
    directory
        Folder to list (not recursively).
    suffixes
        Accepted endings, with or without the leading dot (``".tif"``,
        ``"tiff"``, ``".ome.tif"``); matched case-insensitively.

    Returns
    -------
    list of pathlib.Path
        Matching regular files, sorted by name.

    Raises
    ------
    NotADirectoryError
        If `directory` is not a folder.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["b.TIF", "a.tif", "c.png"]:
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in list_files(folder, [".tif"])]
    ['a.tif', 'b.TIF']
    """
    folder = pathlib.Path(directory)
    if not folder.is_dir():
        raise NotADirectoryError(f"Cannot list files in {folder}: not a folder")
    ends = tuple(s.lower() if s.startswith(".") else f".{s.lower()}"
                 for s in suffixes)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.lower().endswith(ends))
