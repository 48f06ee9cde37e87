"""Copy an RT-DC file with every dataset compressed (Zstandard, lossless).

Writes a copy of INPUT in which every HDF5 dataset (features, logs, tables,
basin definitions and data of internal basins) is stored with cytolab's
default filters: Zstandard level 5 plus Fletcher-32 checksums. Nothing is
lost or changed: metadata, features, logs, tables and basins are copied
value for value; datasets that are already compressed that way are copied
as stored (without decompressing them). A ``cytolab-compress`` log (JSON:
job information, MD5 of the input, options) is added to the output.

The output is written under a temporary name and renamed when complete; an
existing OUTPUT is never replaced. ``.rtdc`` is appended to OUTPUT when it
has another suffix.

Examples:

  cytolab compress measurement.rtdc measurement_compressed.rtdc
  cytolab compress raw/M001_data.rtdc archive/M001_data.rtdc
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import warnings
from collections.abc import Sequence

import h5py

from .._progress import progress_bar
from ..io.copier import rtdc_copy
from ..io.files import open_h5
from ._common import PathLike, check_input, check_output, output_file


def compress(path_in: PathLike, path_out: PathLike, force: bool = False,
             check_suffix: bool = True) -> pathlib.Path:
    """Write a losslessly compressed copy of an ``.rtdc`` file.

    Parameters
    ----------
    path_in
        Input ``.rtdc`` file (never modified).
    path_out
        Output file; must not exist. ``.rtdc`` is appended when the name has
        another suffix (unless `check_suffix` is False).
    force
        Deprecated and without effect (kept for users of the reference
        tools' ``--force``); it does **not** allow overwriting `path_out`.
    check_suffix
        Append ``.rtdc`` to `path_out` when it has another suffix.

    Returns
    -------
    pathlib.Path
        The output path (with the corrected suffix).

    Raises
    ------
    FileNotFoundError
        If the input or the output folder does not exist.
    FileExistsError
        If the output exists.
    ValueError
        If the output is the input.
    CytolabError
        If the input is not an RT-DC (HDF5) file.

    Warns
    -----
    DeprecationWarning
        If `force` is set.

    Notes
    -----
    Every dataset of the output is compressed with Zstandard (level 5) and
    carries Fletcher-32 checksums, except variable-length string logs (HDF5
    refuses checksums there; they are Zstandard-compressed only). Features,
    logs, tables, basin definitions, ``basinmapN`` features and the data of
    internal basins are copied; the root attributes (metadata) are copied
    with their stored types. uint8 image stacks lacking the HDF5 IMAGE
    attributes get them.

    Examples
    --------
    >>> import pathlib, tempfile, h5py
    >>> from cytolab.io.copier import is_properly_compressed
    >>> from cytolab.simulate import simulate_rtdc
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> src = simulate_rtdc(tmp / "m.rtdc", num_events=100, seed=1)
    >>> out = compress(src, tmp / "m_compressed")
    >>> out.name
    'm_compressed.rtdc'
    >>> with h5py.File(out) as h5:
    ...     "cytolab-compress" in h5["logs"], is_properly_compressed(h5)
    (True, True)
    """
    path_in = check_input(path_in)
    path_out = check_output(path_out, inputs=[path_in], check_suffix=check_suffix)
    if force:
        warnings.warn("`force` (--force) of `compress` is deprecated and has no "
                      "effect; it does not allow overwriting the output",
                      DeprecationWarning, stacklevel=2)
    with output_file(path_out, "compress", [path_in], {"force": bool(force)}) as tmp:
        src, _ = open_h5(path_in, "r")
        with src, h5py.File(tmp, "w") as dst:
            copy_rtdc_file(src, dst, desc="compress")
    return path_out


def copy_rtdc_file(src: h5py.File, dst: h5py.File,
                   features: Sequence[str] | None = None,
                   include_basins: bool = True, include_logs: bool = True,
                   include_tables: bool = True, desc: str | None = None) -> None:
    """Copy an ``.rtdc`` file feature by feature with the default filters.

    A thin layer over :func:`cytolab.io.copier.rtdc_copy` that copies one
    feature at a time, so that a progress bar can follow a large file.

    Parameters
    ----------
    src
        Open input file.
    dst
        Open, empty, writable output file.
    features
        Names in ``/events`` to copy (default: all of them). ``basinmapN``
        features the copied basins need are always copied with the basins.
    include_basins, include_logs, include_tables
        Copy the basin definitions (and internal basin data), the logs, the
        tables.
    desc
        Description of the progress bar (shown on terminals only).

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> from cytolab.io.copier import is_properly_compressed
    >>> src = h5py.File(io.BytesIO(), "w")
    >>> _ = src.create_dataset("events/deform", data=np.arange(5.))
    >>> dst = h5py.File(io.BytesIO(), "w")
    >>> copy_rtdc_file(src, dst)
    >>> float(dst["events/deform"][-1]), is_properly_compressed(dst)
    (4.0, True)
    >>> src.close(); dst.close()
    """
    events = src.get("events")
    names = list(events.keys()) if isinstance(events, h5py.Group) else []
    if features is not None:
        wanted = set(features)
        names = [n for n in names if n in wanted]
    # metadata, basins (with the maps they need), logs and tables first
    rtdc_copy(src, dst, features="none", include_basins=include_basins,
              include_logs=include_logs, include_tables=include_tables)
    for name in progress_bar(names, desc=desc, unit="feature"):
        if "events" in dst and name in dst["events"]:
            continue  # a basinmapN feature copied with the basins
        rtdc_copy(src, dst, features=[name], include_basins=False,
                  include_logs=False, include_tables=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab compress``."""
    parser.add_argument("path_in", metavar="INPUT", help="input .rtdc file")
    parser.add_argument("path_out", metavar="OUTPUT",
                        help="output .rtdc file (must not exist)")
    parser.add_argument("--force", action="store_true",
                        help="DEPRECATED, no effect (does not allow "
                        "overwriting OUTPUT)")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab compress`` with parsed arguments."""
    if args.force:
        print("cytolab compress: warning: --force is deprecated and has no "
              "effect (it does not allow overwriting OUTPUT)", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # said above
        compress(args.path_in, args.path_out, force=args.force)
