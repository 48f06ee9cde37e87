"""Convert legacy .tdms measurements (a file or a folder tree) to .rtdc.

TDMS_PATH is a measurement's .tdms file (not a *_traces.tdms file) or a
folder: then every measurement below it is converted and the folder tree is
mirrored under RTDC_PATH (created if needed). Existing output files are
overwritten. Keep the .tdms originals: the conversion writes what cytolab can
read of them (see the logs of the output files).

Everything readable is written: the scalar features of the event table, the
images (video), contours, masks (filled contours; named in the log of
computed features) and fluorescence traces, the metadata (ini files mapped
to cytolab metadata) and the original ini/text files as logs. Each output
gets the command log "cytolab-tdms2rtdc", the warnings of the conversion
("cytolab-tdms2rtdc-warnings") and "cytolab-tdms2rtdc-details" (events
written and skipped, features copied and computed).

Old Shape-In versions did not store the video frame of the first (or last)
event; such events get a zero image when reading the .tdms data and are
left out of the .rtdc file unless --include-empty-boundary-images is given.

Examples:
  cytolab tdms2rtdc /data/HLC12398/online/M1_data.tdms M1.rtdc
  cytolab tdms2rtdc --compute-ancillary-features /data/2017 /data/2017-rtdc
  cytolab tdms2rtdc --include-empty-boundary-images M1_data.tdms M1.rtdc
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import definitions as dfn
from .._progress import progress_bar
from ..errors import CytolabError, CytolabWarning
from ..rtdc import RTDCWriter
from ..rtdc.formats.tdms import RTDC_TDMS, get_tdms_files
from ..rtdc.formats.tdms.config import required_files
from ..rtdc.formats.tdms.video import VideoImages
from ._common import check_input, check_output, output_file

#: Bytes of image data written per block
CHUNK_BYTES = 8 * 1024**2
#: Events per block of contours
CONTOUR_CHUNK = 1000
#: Name of the log with what was converted
DETAILS_LOG = "cytolab-tdms2rtdc-details"


def tdms2rtdc(path_tdms: str | os.PathLike, path_rtdc: str | os.PathLike,
              compute_features: bool = False, skip_initial_empty_image: bool = True,
              skip_final_empty_image: bool = True, progress: bool | None = None
              ) -> list[pathlib.Path]:
    """Convert a ``.tdms`` measurement, or all below a folder, to ``.rtdc``.

    Parameters
    ----------
    path_tdms
        A measurement ``.tdms`` file or a folder (searched recursively with
        :func:`~cytolab.rtdc.formats.tdms.get_tdms_files`).
    path_rtdc
        For a file: the output file (``.rtdc`` is appended when missing; an
        existing folder gets ``<stem>.rtdc`` inside). For a folder: the
        output folder, in which the tree of `path_tdms` is mirrored.
        Existing output files are overwritten.
    compute_features
        Also store the ancillary features that can be computed (e.g.
        ``time``, ``area_um``, ``volume``); their names are logged.
    skip_initial_empty_image
        Leave out the first event when the video has no frame for it.
    skip_final_empty_image
        Leave out the last event when the video has no frame for it.
    progress
        Show progress bars (default: on a terminal).

    Returns
    -------
    list of pathlib.Path
        The written files, in the order of the inputs.

    Raises
    ------
    FileNotFoundError
        If the input or the output folder does not exist.
    ValueError
        If the input is not a ``.tdms`` measurement, a folder holds none,
        or the output for a folder is a file.
    cytolab.errors.FileFormatError
        If a measurement is incomplete (e.g. no ``para.ini``) or damaged.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> tdms2rtdc("M1_data.tdms", out / "M1.rtdc")  # doctest: +SKIP
    [PosixPath('.../M1.rtdc')]
    """
    path_tdms = check_input(path_tdms, rtdc=False)
    path_rtdc = pathlib.Path(path_rtdc)
    if path_tdms.is_dir():
        jobs = _folder_jobs(path_tdms, path_rtdc)
    else:
        _check_tdms_file(path_tdms)
        if path_rtdc.is_dir():
            path_rtdc = path_rtdc / (path_tdms.stem + ".rtdc")
        out = check_output(path_rtdc, inputs=[path_tdms], overwrite=True)
        jobs = [(path_tdms, out)]
    for source, _ in jobs:  # cheap checks of every input before any work
        required_files(source.resolve())
    options = {"compute_features": bool(compute_features),
               "skip_initial_empty_image": bool(skip_initial_empty_image),
               "skip_final_empty_image": bool(skip_final_empty_image)}
    written = []
    for source, target in jobs:
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(_convert(source, target, options, progress))
    return written


def _check_tdms_file(path: pathlib.Path) -> None:
    if path.suffix.lower() != ".tdms":
        raise ValueError(f"Input '{path}' is not a .tdms file (give a "
                         f"measurement's .tdms file or a folder)")
    if path.name.endswith("_traces.tdms"):
        raise ValueError(f"Input '{path}' is a trace file; give the "
                         f"measurement's .tdms file instead")


def _folder_jobs(root: pathlib.Path, out_root: pathlib.Path
                 ) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """Input files below `root` and their outputs below `out_root`."""
    files = get_tdms_files(root)
    if not files:
        raise ValueError(f"No .tdms measurements found in '{root}'")
    if out_root.exists() and not out_root.is_dir():
        raise ValueError(f"Output '{out_root}' is a file; for the folder "
                         f"'{root}' give an output folder")
    if not out_root.parent.is_dir():
        raise FileNotFoundError(f"Output folder does not exist: '{out_root.parent}'")
    base = root.resolve()
    jobs = []
    for path in files:
        target = out_root / path.relative_to(base).with_suffix(".rtdc")
        if target.is_dir():
            raise ValueError(f"Output '{target}' is a folder")
        jobs.append((path, target))
    return jobs


def _convert(source: pathlib.Path, target: pathlib.Path, options: Mapping[str, Any],
             progress: bool | None) -> pathlib.Path:
    """Convert one measurement (written under a temporary name, then renamed)."""
    with output_file(target, "tdms2rtdc", [source], options=options) as tmp:
        with RTDC_TDMS(source) as ds:
            first, stop = _event_range(ds, options)
            copied = [f for f in ds.features_innate if f != "mask"]
            computed = ["mask"] if "mask" in ds.features_innate else []
            if options["compute_features"]:
                computed += _computable(ds)
            details = {
                "source": str(source.resolve()),
                "events in source": len(ds),
                "events written": stop - first,
                "skipped events": [i for i in (0, len(ds) - 1)
                                   if not first <= i < stop],
                "video frame offset": ds.config["fmt_tdms"].get(
                    "video frame offset"),
                "features copied": copied,
                "features computed": computed,
            }
            with RTDCWriter(tmp, mode="reset") as hw:
                hw.store_metadata(ds.config.as_dict(pop_filtering=True))
                _write_features(hw, ds, copied + computed, slice(first, stop),
                                progress, source.name)
                for name, lines in ds.logs.items():
                    hw.store_log(name, lines)
                hw.store_log(DETAILS_LOG, json.dumps(details, indent=2).splitlines())
    return target


def _event_range(ds: RTDC_TDMS, options: Mapping[str, Any]) -> tuple[int, int]:
    """First and stop index of the events to write (boundary events skipped)."""
    first, stop = 0, len(ds)
    images = ds["image"] if "image" in ds.features_innate else None
    if isinstance(images, VideoImages) and len(ds):
        if options["skip_initial_empty_image"] and not images.has_frame(0):
            first = 1
        last = len(ds) - 1
        if options["skip_final_empty_image"] and last >= first:
            images[last]  # reading finds out whether the video ends early
            if not images.has_frame(last):
                stop = last
    return first, max(first, stop)


def _computable(ds: RTDC_TDMS) -> list[str]:
    """Ancillary features that can be computed for `ds` (tested one by one)."""
    names = []
    for feat in ds.features_ancillary:
        if not dfn.scalar_feature_exists(feat) or feat == "index":
            continue
        try:
            ds[feat]
        except Exception as exc:  # a recipe failing must not stop the rest
            warnings.warn(f"Not storing ancillary feature '{feat}' of "
                          f"'{ds.path}': {exc}", CytolabWarning, stacklevel=2)
            continue
        names.append(feat)
    return names


def _write_features(hw: RTDCWriter, ds: RTDC_TDMS, features: list[str],
                    sel: slice, progress: bool | None, name: str) -> None:
    nsel = sel.stop - sel.start
    bulky = [f for f in features if not dfn.scalar_feature_exists(f)]
    for feat in features:
        if dfn.scalar_feature_exists(feat):
            hw.store_feature(feat, np.asarray(ds[feat])[sel])
    with progress_bar(total=nsel * len(bulky), desc=f"tdms2rtdc {name}",
                      unit="ev", show=progress) as bar:
        for feat in bulky:
            data = ds[feat]
            if feat == "trace":
                for key in sorted(data):
                    for lo, hi in _blocks(sel, data[key].shape[1:], 2):
                        hw.store_feature("trace", {key: data[key][lo:hi]})
                bar.update(nsel)
            elif feat == "contour":
                for lo, hi in _blocks(sel, None, 0):
                    hw.store_feature("contour", data[lo:hi])
                    bar.update(hi - lo)
            else:
                for lo, hi in _blocks(sel, data.shape[1:], 1):
                    hw.store_feature(feat, np.asarray(data[lo:hi]))
                    bar.update(hi - lo)


def _blocks(sel: slice, shape: tuple[int, ...] | None, itemsize: int
            ) -> list[tuple[int, int]]:
    """Ranges of events covering `sel`, ~:data:`CHUNK_BYTES` of data each."""
    if shape is None:
        step = CONTOUR_CHUNK
    else:
        step = max(1, CHUNK_BYTES // max(1, int(np.prod(shape)) * itemsize))
    return [(lo, min(lo + step, sel.stop)) for lo in range(sel.start, sel.stop, step)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab tdms2rtdc``."""
    parser.add_argument("tdms_path", metavar="TDMS_PATH",
                        help="a measurement's .tdms file, or a folder with "
                             ".tdms measurements (searched recursively)")
    parser.add_argument("rtdc_path", metavar="RTDC_PATH",
                        help="output .rtdc file, or output folder for a folder "
                             "(existing files are overwritten)")
    parser.add_argument("--compute-ancillary-features", dest="compute_features",
                        action="store_true",
                        help="also store the features that can be computed "
                             "(e.g. time, area_um, volume), so that they need "
                             "not be computed when the file is used")
    parser.add_argument("--include-empty-boundary-images",
                        dest="include_empty_boundary_images", action="store_true",
                        help="keep the first/last event when the video has no "
                             "frame for it (it gets a zero image)")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab tdms2rtdc`` with parsed arguments."""
    include = args.include_empty_boundary_images
    paths = tdms2rtdc(args.tdms_path, args.rtdc_path,
                      compute_features=args.compute_features,
                      skip_initial_empty_image=not include,
                      skip_final_empty_image=not include)
    for path in paths:
        print(f"wrote {path}")
    if not paths:  # pragma: no cover - tdms2rtdc raises instead
        raise CytolabError("nothing converted")
