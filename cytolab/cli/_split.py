"""Split a measurement into files of at most N events (each linked to the input).

The parts are named after the input, <stem>_0001.rtdc, <stem>_0002.rtdc, ...
and written into the input's folder (or --path-out). Each part stores the
scalar features of its events (including "time", so that it keeps the clock
of the whole measurement) and reaches everything else - images, masks,
contours, traces - through a mapped basin pointing at the input file, so the
parts are small. Keep the input file where it is, or move it together with
the parts.

Events whose image is completely black at the very beginning or end of the
measurement (old Shape-In/tdms conversions had such empty boundary images)
are left out unless --include-empty-boundary-images is given. No part is
ever empty. If a part cannot be written, the parts already written are
removed again (all or nothing); existing files are never replaced.

Examples:

  cytolab split measurement.rtdc
  cytolab split measurement.rtdc --split-events 5000 --path-out parts/
"""
from __future__ import annotations

import argparse
import os
import pathlib
from typing import Any

import numpy as np

from .. import definitions as dfn
from .._progress import progress_bar
from ..errors import CytolabError
from ..rtdc import RTDCBase, new_dataset
from ._common import check_input, check_output, output_file

__all__ = ["split"]

PathLike = str | os.PathLike


def split(path_in: PathLike, path_out: PathLike | None = None,
          split_events: int = 10000, skip_initial_empty_image: bool = True,
          skip_final_empty_image: bool = True, ret_out_paths: bool = True,
          verbose: bool = False) -> list[pathlib.Path]:
    """Split a measurement into ``.rtdc`` files of at most `split_events` events.

    Parameters
    ----------
    path_in
        The measurement (``.rtdc`` file).
    path_out
        Folder for the parts (must exist); default: the folder of `path_in`.
    split_events
        Maximum number of events per part (at least 1).
    skip_initial_empty_image
        Leave out the first event if its image is all zero (only for
        datasets with images).
    skip_final_empty_image
        Leave out the last event if its image is all zero.
    ret_out_paths
        Accepted for scripts written for the reference tools; the list of
        parts is always returned.
    verbose
        Print the path of each part written.

    Returns
    -------
    list of pathlib.Path
        The parts, in event order: ``<stem>_0001.rtdc``, ... (the number has
        at least four digits, more when there are more than 9999 parts).

    Raises
    ------
    ValueError
        `split_events` is not a positive integer.
    FileNotFoundError
        The input or the output folder does not exist.
    FileExistsError
        One of the parts exists already (checked before anything is written).
    cytolab.errors.CytolabError
        The input is not an RT-DC file, or has no events (left).

    Notes
    -----
    Each part is a filtered export (:meth:`cytolab.rtdc.export.Export.hdf5`)
    of consecutive events of the input with ``basins=True``: it stores the
    input's stored scalar features plus ``time`` (computed from the whole
    measurement when not stored), the input's logs (as ``src_<name>``) and a
    mapped basin (``basinmap0``) to the input file, through which all other
    features (images, contours, traces, ...) are read. Basins of the input
    are carried over. The part gets the measurement identifier of the input
    plus a digest of its events. The command log ``cytolab-split`` records,
    besides the options, the part number, the number of parts and the
    events of the input in the part (``events``: first, one past the last;
    counted from 0).

    The parts are written one after the other, each under a temporary name
    first; if any of them fails, the parts written so far are deleted, so
    either all parts exist or none.

    Examples
    --------
    >>> import pathlib, tempfile, cytolab
    >>> from cytolab.simulate import simulate_rtdc
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> src = simulate_rtdc(tmp / "meas.rtdc", num_events=25, images=True)
    >>> parts = split(src, split_events=10)
    >>> [p.name for p in parts]
    ['meas_0001.rtdc', 'meas_0002.rtdc', 'meas_0003.rtdc']
    >>> with cytolab.new_dataset(parts[2]) as ds, cytolab.new_dataset(src) as s:
    ...     print(len(ds), bool((ds["image"][0] == s["image"][20]).all()))
    5 True
    """
    path_in = check_input(path_in)
    if path_in.is_dir():
        raise IsADirectoryError(f"Input '{path_in}' is a directory, not an "
                                f"RT-DC file")
    if isinstance(split_events, bool) or not isinstance(
            split_events, (int, np.integer)) or split_events < 1:
        raise ValueError(f"`split_events` must be a positive integer (events "
                         f"per file), got {split_events!r}")
    split_events = int(split_events)
    out_dir = path_in.parent if path_out is None else pathlib.Path(path_out)
    if not out_dir.is_dir():
        if out_dir.exists():
            raise NotADirectoryError(f"Output path is not a folder: "
                                     f"'{out_dir}'")
        raise FileNotFoundError(f"Output folder does not exist: '{out_dir}'")

    with new_dataset(path_in) as ds:
        start, stop = _event_range(ds, path_in, skip_initial_empty_image,
                                   skip_final_empty_image)
        bounds = [(a, min(a + split_events, stop))
                  for a in range(start, stop, split_events)]
        width = max(4, len(str(len(bounds))))
        outs = [check_output(out_dir / f"{path_in.stem}_{ii:0{width}d}.rtdc",
                             inputs=[path_in])
                for ii in range(1, len(bounds) + 1)]
        features = _part_features(ds)
        ds.config.reset_filtering()  # only our selection may count
        options: dict[str, Any] = {
            "split_events": split_events,
            "skip_initial_empty_image": bool(skip_initial_empty_image),
            "skip_final_empty_image": bool(skip_final_empty_image),
            "parts": len(bounds)}
        written: list[pathlib.Path] = []
        try:
            with progress_bar(total=len(bounds), desc="split",
                              unit="file") as bar:
                for ii, ((a, b), out) in enumerate(zip(bounds, outs), start=1):
                    _select(ds, a, b)
                    with output_file(out, "split", [path_in],
                                     {**options, "part": ii,
                                      "events": [a, b]}) as tmp:
                        _export_part(ds, tmp, features)
                    written.append(out)
                    if verbose:
                        print(out)
                    bar.update(1)
        except BaseException:
            for done in written:
                done.unlink(missing_ok=True)
            raise
    return written


def _event_range(ds: RTDCBase, path: pathlib.Path, skip_initial: bool,
                 skip_final: bool) -> tuple[int, int]:
    """First and one-past-last event to split (empty boundary images out)."""
    size = len(ds)
    if size == 0:
        raise CytolabError(f"Input '{path}' has no events; nothing to split")
    start, stop = 0, size
    if "image" in ds:
        images = ds["image"]
        if skip_initial and not np.any(images[0]):
            start = 1
        if skip_final and stop > start and not np.any(images[size - 1]):
            stop = size - 1
        if stop <= start:
            raise CytolabError(f"Input '{path}' has only events with empty "
                               f"images; nothing to split (use "
                               f"--include-empty-boundary-images to keep them)")
    return start, stop


def _part_features(ds: RTDCBase) -> list[str]:
    """Features stored in each part: stored scalar features and ``time``."""
    feats = [f for f in ds.features_innate if dfn.scalar_feature_exists(f)
             and f != "index" and not (f.startswith("basinmap")
                                       and f[8:].isdigit())]
    if "time" in ds and "time" not in feats:
        feats.append("time")  # computed from the whole measurement's frames
    return feats


def _select(ds: RTDCBase, start: int, stop: int) -> None:
    """Let exactly the events start..stop-1 pass the filter of `ds`."""
    manual = ds.filter.manual
    manual[:] = False
    manual[start:stop] = True
    ds.apply_filter()
    selected = np.flatnonzero(ds.filter.all)
    if selected.size != stop - start or (
            selected.size and (selected[0] != start or selected[-1] != stop - 1)):
        raise CytolabError(f"Could not select events {start} to {stop - 1} of "
                           f"{ds} (got {selected.size} events)")


def _export_part(ds: RTDCBase, tmp: pathlib.Path, features: list[str]) -> None:
    """Export the selected events of `ds` to the (empty) file `tmp`."""
    # the export wants an .rtdc name; it is written next to `tmp` (same
    # folder, so the relative basin path is the same) and moved onto it
    staged = tmp.with_name(tmp.name + ".rtdc")
    try:
        ds.export.hdf5(staged, features=features, filtered=True, logs=True,
                       basins=True)
        os.replace(staged, tmp)
    finally:
        staged.unlink(missing_ok=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab split``."""
    parser.add_argument("path_in", metavar="PATH_IN",
                        help="input measurement (.rtdc file)")
    parser.add_argument("--path-out", "--path_out", dest="path_out",
                        metavar="DIR", default=None,
                        help="folder for the parts (default: the input's "
                        "folder)")
    parser.add_argument("--split-events", type=int, default=10000, metavar="N",
                        help="maximum number of events per file (default: "
                        "10000)")
    parser.add_argument("--include-empty-boundary-images", action="store_true",
                        help="keep a first or last event whose image is all "
                        "zero (left out by default)")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab split`` with parsed arguments."""
    skip = not args.include_empty_boundary_images
    parts = split(args.path_in, path_out=args.path_out,
                  split_events=args.split_events, skip_initial_empty_image=skip,
                  skip_final_empty_image=skip)
    for part in parts:
        print(part)
    print(f"split '{args.path_in}' into {len(parts)} files")
