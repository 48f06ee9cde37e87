"""Reading basin definitions (the JSON documents in ``/basins``).

A basin is another place (a file, an internal group, a URL) that provides
features for the events of a dataset. This module only parses and orders the
definitions; opening basins is the job of the dataset layer.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import h5py

from ..errors import BasinUnavailableWarning
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
