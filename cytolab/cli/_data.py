"""Manage the data files cytolab fetches on first use (look-up tables,
isoelasticity lines).

  cytolab data fetch     download all of them into the cache now (for
                         machines that will be offline later)
  cytolab data list      show each file, whether it is cached, and the cache

The cache folder is $CYTOLAB_DATA_CACHE when set, else the user's cache
folder. To equip an offline machine, run 'cytolab data fetch' elsewhere and
copy the cache folder over (or point $CYTOLAB_DATA_CACHE at the copy).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import TextIO

from ..features.emodulus import datafiles


def data(action: str = "fetch", stream: TextIO | None = None
         ) -> list[pathlib.Path]:
    """Fetch or list the registered data files.

    Parameters
    ----------
    action
        ``"fetch"`` (download what is missing, verify everything) or
        ``"list"``.
    stream
        Where to print the summary (default: standard output).

    Returns
    -------
    list of pathlib.Path
        Paths of the files in the cache (for ``"list"``: of those present).

    Examples
    --------
    >>> import io
    >>> paths = data("list", stream=io.StringIO())
    """
    stream = stream or sys.stdout
    folder = datafiles.cache_dir()
    if action == "fetch":
        paths = datafiles.fetch_all(progress=stream.isatty())
        print(f"{len(paths)} data files verified in {folder}", file=stream)
        return paths
    if action == "list":
        present = []
        print(f"cache folder: {folder}", file=stream)
        for name in sorted(datafiles.DATA_FILES):
            path = folder / name
            present += [path] if path.is_file() else []
            print(f"  {'cached ' if path.is_file() else 'missing'}  {name}",
                  file=stream)
        return present
    raise ValueError(f"Unknown action '{action}' (use 'fetch' or 'list')")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab data``."""
    parser.add_argument("action", choices=["fetch", "list"],
                        help="fetch: download and verify all files; "
                             "list: show what is cached")


def run(args: argparse.Namespace) -> list[pathlib.Path]:
    """Run ``cytolab data`` with parsed arguments."""
    return data(args.action)
