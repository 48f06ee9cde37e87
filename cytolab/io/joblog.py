"""Job logs: where, when and with what a piece of work ran.

Every tool that writes a file (command-line verbs, the event-extraction
pipeline) stores such a log in the ``logs`` group of its output, so anyone
can see later how the file was made.
"""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from typing import Any

import h5py

from .._version import __version__
from .files import md5_5m

PathLike = str | os.PathLike

#: Libraries whose versions go into the job info.
LIBRARIES = ("numpy", "scipy", "h5py", "hdf5plugin", "scikit-image",
             "opencv-python-headless", "imageio", "nptdms", "tqdm")


def get_job_info() -> dict[str, dict[str, Any]]:
    """Where and with what a command runs: time, system, Python, libraries.

    Returns
    -------
    dict
        ``{"time": {...}, "system": {...}, "python": {...}, "libraries":
        {...}, "build": {...}}`` (JSON-serialisable).

    Examples
    --------
    >>> info = get_job_info()
    >>> sorted(info)
    ['build', 'libraries', 'python', 'system', 'time']
    """
    now = datetime.datetime.now().astimezone()
    libraries = {"cytolab": __version__}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    libraries["hdf5"] = h5py.version.hdf5_version
    return {
        "time": {"utc": now.astimezone(datetime.timezone.utc).isoformat(),
                 "local": now.isoformat()},
        "system": {"os": platform.system(), "release": platform.release(),
                   "machine": platform.machine(), "node": platform.node()},
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "libraries": libraries,
        "build": {"cytolab": __version__},
    }


def get_command_log(paths: Sequence[PathLike],
                    custom_dict: Mapping[str, Any] | None = None) -> str:
    """JSON command log: job info, MD5 (first 5 MiB) of `paths`, custom entries.

    Parameters
    ----------
    paths
        Input files (missing ones are listed with ``"md5-5M": null``).
    custom_dict
        Further JSON-serialisable entries (paths are turned into strings).

    Returns
    -------
    str
        Indented JSON.

    Examples
    --------
    >>> log = json.loads(get_command_log([], {"verb": "compress"}))
    >>> log["verb"], "libraries" in log["job"]
    ('compress', True)
    """
    files = []
    for ii, path in enumerate(paths):
        path = pathlib.Path(path)
        digest = md5_5m(path) if path.is_file() else None
        files.append({"index": ii, "name": path.name,
                      "path": str(path.resolve()), "md5-5M": digest})
    log: dict[str, Any] = {"job": get_job_info(), "files": files}
    for key, value in (custom_dict or {}).items():
        log[key] = value
    return json.dumps(log, indent=2, sort_keys=True, default=_jsonable)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"Not JSON serialisable: {obj!r}")
