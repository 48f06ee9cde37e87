"""Rewrite an RT-DC file without clutter (optionally without basins or logs).

Writes INPUT anew into OUTPUT: a fresh HDF5 file that holds only what the
measurement consists of, so space left behind by deleted or overwritten
data, root attributes that are not metadata, stale analysis settings
(``filtering``, ``calculation``) and HDF5 objects outside the RT-DC layout
disappear. Metadata (including the ``user`` section), features, tables, and
unless stripped the logs and basins are kept value for value, stored with
Zstandard compression and Fletcher-32 checksums. Unlike ``cytolab
compress``, repacking adds no log of its own.

With --strip-basins the output has no basins (no basin definitions, no
internal basin data, no ``basinmapN`` features); with --strip-logs it has
no logs. ``.rtdc`` is appended to OUTPUT when it has another suffix; an
existing OUTPUT is never replaced.

Examples:

  cytolab repack measurement.rtdc measurement_repacked.rtdc
  cytolab repack --strip-logs --strip-basins derived.rtdc derived_clean.rtdc
"""
from __future__ import annotations

import argparse
import pathlib

import h5py

from .. import definitions as dfn
from ..io.files import atomic_path, open_h5
from ._common import PathLike, check_input, check_output
from ._compress import copy_rtdc_file

#: Sections of root attributes (``"section:key"``) that a repack keeps.
KEPT_SECTIONS: frozenset[str] = frozenset(dfn.CFG_METADATA) | {"user"}


def repack(path_in: PathLike, path_out: PathLike, strip_basins: bool = False,
           strip_logs: bool = False, check_suffix: bool = True) -> pathlib.Path:
    """Recreate an ``.rtdc`` file, dropping clutter (and basins or logs).

    Parameters
    ----------
    path_in
        Input ``.rtdc`` file (never modified).
    path_out
        Output file; must not exist. ``.rtdc`` is appended when the name has
        another suffix (unless `check_suffix` is False).
    strip_basins
        Leave out the basins: definitions (``/basins``), internal basin data
        (``/basin_events``) and the ``basinmapN`` features, which only
        describe basins.
    strip_logs
        Leave out all logs.
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

    Notes
    -----
    Kept: root attributes ``"section:key"`` whose section is a metadata
    section (:data:`cytolab.definitions.CFG_METADATA`) or ``user``, with
    their stored types -- keys unknown to cytolab in these sections too
    (they may come from newer acquisition software); all features in
    ``/events`` and their attributes; tables; logs and basins unless
    stripped. Dropped: other root attributes, the analysis sections
    ``filtering`` and ``calculation``, root members outside the RT-DC
    layout, and the free space of deleted or overwritten objects. No log is
    added (unlike ``cytolab compress``); the file is written under a
    temporary name and renamed when complete.

    Examples
    --------
    >>> import pathlib, tempfile, h5py
    >>> from cytolab.simulate import simulate_rtdc
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> src = simulate_rtdc(tmp / "m.rtdc", num_events=100, seed=1)
    >>> with h5py.File(src, "a") as h5:
    ...     h5.attrs["stale"] = "left over"
    >>> out = repack(src, tmp / "repacked.rtdc")
    >>> with h5py.File(out) as h5:
    ...     "stale" in h5.attrs, "logs" in h5, len(h5["events/deform"])
    (False, False, 100)
    """
    path_in = check_input(path_in)
    path_out = check_output(path_out, inputs=[path_in], check_suffix=check_suffix)
    with atomic_path(path_out) as tmp:
        src, _ = open_h5(path_in, "r")
        with src, h5py.File(tmp, "w") as dst:
            features = [name for name in src["events"]
                        if not (strip_basins and name.startswith("basinmap"))]
            copy_rtdc_file(src, dst, features=features,
                           include_basins=not strip_basins,
                           include_logs=not strip_logs, include_tables=True,
                           desc="repack")
            for name in list(dst.attrs):
                if not _is_kept_attribute(name):
                    del dst.attrs[name]
    return path_out


def _is_kept_attribute(name: str) -> bool:
    """Whether a root attribute is metadata that a repack keeps."""
    section, sep, key = name.partition(":")
    return bool(sep and key) and section in KEPT_SECTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab repack``."""
    parser.add_argument("path_in", metavar="INPUT", help="input .rtdc file")
    parser.add_argument("path_out", metavar="OUTPUT",
                        help="output .rtdc file (must not exist)")
    parser.add_argument("--strip-basins", action="store_true",
                        help="do not copy basins (definitions, internal basin "
                        "data, basinmap features)")
    parser.add_argument("--strip-logs", action="store_true",
                        help="do not copy any logs")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab repack`` with parsed arguments."""
    repack(args.path_in, args.path_out, strip_basins=args.strip_basins,
           strip_logs=args.strip_logs)
