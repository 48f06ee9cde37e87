"""What every file-writing verb shares: path checks, the command log, and
writing the output under a temporary name.

A verb that writes an ``.rtdc`` file does its work inside
:func:`output_file`::

    with output_file(path_out, "compress", [path_in], {"force": False}) as tmp:
        ...  # write the complete output to `tmp`

On success the command log (JSON: job info, MD5 of the first 5 MiB of every
input, the options) and the warnings raised during the work are stored in
the ``logs`` group of `tmp` (as ``cytolab-<verb>`` and
``cytolab-<verb>-warnings``), and `tmp` is renamed to `path_out`. On any
error the temporary file is removed: nothing appears under the final name and
the inputs are never opened for writing.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import h5py

from ..errors import CytolabError
from ..io.files import atomic_path, is_hdf5_file
from ..io.joblog import get_command_log, get_job_info  # noqa: F401 (re-export)
from ..io.writer import HDF5Writer

PathLike = str | os.PathLike

def check_input(path: PathLike, rtdc: bool = True, events: bool = True
                ) -> pathlib.Path:
    """The input `path`, checked before any work is done.

    Parameters
    ----------
    path
        Input file (or folder, when not `rtdc`).
    rtdc
        The input must be an RT-DC file: a file, HDF5, and (with `events`)
        holding an ``events`` group.
    events
        Require the ``events`` group (off for tools that examine broken
        files, like ``verify``).

    Raises
    ------
    FileNotFoundError
        The input does not exist.
    IsADirectoryError
        An RT-DC input is a folder.
    CytolabError
        An RT-DC input is not HDF5 or has no ``events`` group.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Input file not found: '{path}'")
    if not rtdc:
        return path
    if path.is_dir():
        raise IsADirectoryError(f"'{path}' is a directory, not a measurement "
                                f"file")
    if not is_hdf5_file(path):
        raise CytolabError(f"Input '{path}' is not an RT-DC (HDF5) file")
    if events:
        with h5py.File(path, "r") as h5:
            if not isinstance(h5.get("events"), h5py.Group):
                raise CytolabError(f"Input '{path}' is not an RT-DC file: it "
                                   f"has no 'events' group (found: "
                                   f"{sorted(h5.keys())})")
    return path


def check_output(path: PathLike, inputs: Sequence[PathLike] = (),
                 suffix: str | None = ".rtdc", check_suffix: bool = True,
                 overwrite: bool = False) -> pathlib.Path:
    """The output `path`, checked before any work is done.

    Parameters
    ----------
    path
        Output file.
    inputs
        Input files (the output must not be one of them).
    suffix
        Required suffix; with `check_suffix` it is appended when missing.
    check_suffix
        Correct the suffix.
    overwrite
        Allow replacing an existing output.

    Raises
    ------
    FileExistsError
        The output exists (and not `overwrite`).
    FileNotFoundError
        The output folder does not exist.
    ValueError
        The output is one of the inputs.
    """
    path = pathlib.Path(path)
    if suffix and check_suffix and path.suffix != suffix:
        path = path.with_name(path.name + suffix)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Output folder does not exist: '{path.parent}'")
    for source in inputs:
        if pathlib.Path(source).resolve() == path.resolve():
            raise ValueError(f"Output '{path}' is also an input")
    if path.exists() and not overwrite:
        raise FileExistsError(f"Output file exists: '{path}' (remove it or "
                              f"choose another name)")
    return path


@contextlib.contextmanager
def output_file(path_out: PathLike, verb: str, paths_in: Sequence[PathLike],
                options: Mapping[str, Any] | None = None,
                extra_logs: Mapping[str, Sequence[str]] | None = None
                ) -> Iterator[pathlib.Path]:
    """Write an output file under a temporary name; log, then rename it.

    Parameters
    ----------
    path_out
        Final output path (already checked with :func:`check_output`).
    verb
        Name of the command, used in the log names.
    paths_in
        Input files (their MD5 goes into the command log).
    options
        The options of the command (JSON-serialisable).
    extra_logs
        Further logs to store (name -> lines), e.g. the source configuration
        of a join.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists and is empty; open it with
        mode ``"w"``).
    """
    with atomic_path(path_out) as tmp:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield tmp
        command_log = get_command_log(paths_in, {"verb": verb,
                                                 "options": dict(options or {})})
        entries = {f"cytolab-{verb}": command_log.splitlines()}
        if caught:
            entries[f"cytolab-{verb}-warnings"] = [
                f"{w.category.__name__}: {w.message}" for w in caught]
        entries.update(extra_logs or {})
        with HDF5Writer(tmp, mode="a") as hw:
            for name, lines in entries.items():
                hw.store_log(name, list(lines), override=True)
        for w in caught:  # let the caller see them, too
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
