"""Reading basin definitions (the JSON documents in ``/basins``).

A basin is another place (a file, an internal group, a URL) that provides
features for the events of a dataset. This module parses and orders the
definitions and holds the rules shared by everything that opens basins
(:class:`~cytolab.io.HDF5Data` here, the basin classes of the dataset layer):
where a file basin may be (:func:`basin_file_candidates`) and whether it
belongs to the right measurement (:func:`check_basin_identifier`).
"""
from __future__ import annotations

import json
import os
import pathlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import h5py

from ..errors import BasinIdentifierMismatchError, BasinUnavailableWarning
from .writer import read_text_lines


def read_basin_dicts(h5: h5py.Group) -> list[dict[str, Any]]:
    """Return the basin definitions stored in a file, in priority order.

    Definitions that are not valid JSON are skipped with a
    :class:`~cytolab.errors.BasinUnavailableWarning`.

    Parameters
    ----------
    h5
        The open file (its ``basins`` group is read).
    """
    if "basins" not in h5:
        return []
    bdicts = []
    for key in sorted(h5["basins"].keys()):
        obj = h5["basins"][key]
        if not isinstance(obj, h5py.Dataset):
            continue
        text = "\n".join(read_text_lines(obj))
        try:
            bdict = json.loads(text)
        except json.JSONDecodeError as exc:
            warnings.warn(f"Ignoring basin '{key}' in '{h5.file.filename}': "
                          f"invalid JSON ({exc})", BasinUnavailableWarning,
                          stacklevel=2)
            continue
        if not isinstance(bdict, dict):
            continue
        bdict["key"] = key
        bdicts.append(bdict)
    return sorted(bdicts, key=basin_priority_sorted_key)


def basin_priority_sorted_key(bdict: Mapping[str, Any]) -> str:
    """Sort key that puts the preferred basins first.

    Internal before file before remote; for remote basins http before s3
    before dcor; unmapped ("same") before mapped basins.

    Examples
    --------
    >>> bds = [{"type": "remote", "format": "dcor"},
    ...        {"type": "file", "format": "hdf5", "mapping": "basinmap0"},
    ...        {"type": "file", "format": "hdf5", "mapping": "same"}]
    >>> [(b["type"], b.get("mapping")) for b in
    ...  sorted(bds, key=basin_priority_sorted_key)]
    [('file', 'same'), ('file', 'basinmap0'), ('remote', None)]
    """
    srt_type = {"internal": "a", "file": "b", "remote": "c"}.get(
        bdict.get("type", ""), "z")
    srt_format = {"h5dataset": "a", "hdf5": "b", "http": "c", "s3": "d",
                  "dcor": "e"}.get(bdict.get("format", ""), "z")
    mapping = bdict.get("mapping", "same") or "same"
    srt_map = "a" if mapping == "same" else "b" + mapping
    return srt_type + srt_format + srt_map


def basin_file_candidates(paths: Sequence[str | os.PathLike],
                          ref_dir: pathlib.Path | None) -> list[pathlib.Path]:
    """Where a file basin may be, in the order to try.

    Absolute paths are taken as given; relative ones are resolved against
    the folder of the referring file (`ref_dir`), or left relative when it is
    unknown (in-memory files). Windows separators are accepted anywhere.

    Parameters
    ----------
    paths
        The ``paths`` of a basin definition.
    ref_dir
        Folder of the file that defines the basin.

    Examples
    --------
    >>> import pathlib
    >>> [p.as_posix() for p in basin_file_candidates(
    ...     ["/data/raw.rtdc", "raw.rtdc", "sub\\\\raw.rtdc"], pathlib.Path("/out"))]
    ['/data/raw.rtdc', '/out/raw.rtdc', '/out/sub/raw.rtdc']
    """
    out = []
    for p in paths:
        path = pathlib.Path(str(p).replace("\\", "/"))
        if not path.is_absolute() and ref_dir is not None:
            path = ref_dir / path
        out.append(path)
    return out


def check_basin_identifier(expected: str | None, actual: str | None,
                           name: str, location: Any) -> None:
    """Refuse a basin that belongs to another measurement.

    Nothing is checked when either identifier is unknown (None).

    Parameters
    ----------
    expected
        Identifier the basin should have (from its definition, or that of
        the referring measurement).
    actual
        Identifier of the basin as opened.
    name, location
        Name and location of the basin, for the message.

    Raises
    ------
    BasinIdentifierMismatchError
        If both are known and differ.

    Examples
    --------
    >>> check_basin_identifier("abc", None, "raw", "raw.rtdc")  # unknown: ok
    >>> check_basin_identifier("abc", "xyz", "raw", "raw.rtdc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cytolab.errors.BasinIdentifierMismatchError: ... measurement 'xyz', but 'abc' ...
    """
    if expected is not None and actual is not None and expected != actual:
        raise BasinIdentifierMismatchError(
            f"Basin '{name}' at {location} belongs to measurement "
            f"'{actual}', but '{expected}' was expected")
