"""Segment and track growing bacteria in time-lapse movies.

Each MOVIE is a folder of image files (one per position, channel and
frame; the file name pattern is guessed) or a multi-page TIFF file. Every
position goes through the time-lapse pipeline: rotation and drift
correction and chamber detection (mother machines), segmentation and
tracking with the U-Net models of the presets (the shipped weights, or
your own ONNX files), growth rates. The results of each position are
written as Position000000.nc (netCDF: images, masks, labels, lineage; read
with cytolab.timelapse.Position.load_netcdf) and Position000000.mp4 (the
movie with the cells outlined) into the movie's folder, or into --out
(with several movies: one subfolder per movie). A summary is printed per
position: regions of interest, cells, divisions and the files written.

Channel 0 is the phase contrast channel that is segmented; further channels
are measured as fluorescence.

Exit codes: 0 success, 1 failure (positions that could be processed are
saved and listed nevertheless), 2 invalid arguments.

Examples:

  cytolab track movie_folder/ --preset mothermachine
  cytolab track pad.tif --preset 2D --out results/ --frames 0:50 --rtdc
  cytolab track movie/ --preset mothermachine --model-seg my_seg.onnx --procs 4
  cytolab track day1/ day2/ --config my_config.json --save-as netCDF
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ..timelapse.config import MODELS, PRESETS, Config, check_presets
from ..timelapse.pipeline import Pipeline, PipelineError, PositionResult, movie_name
from ..timelapse.position import SAVE_FORMATS
from ._process import parse_index_mapping

__all__ = ["track"]

PathLike = str | os.PathLike


def _config(presets: str | None, config: Config | PathLike | None,
            model_paths: Mapping[str, PathLike | None]) -> Config:
    """The configuration: a file or the presets', with model files set."""
    if config is None:
        if presets is None:
            raise ValueError("Give the presets (--preset mothermachine or 2D) or a "
                             "configuration file (--config)")
        cfg = Config.default(check_presets(presets))
    elif isinstance(config, Config):
        cfg = Config.deserialize(config.serialize())
    else:
        cfg = Config.read(config)
    for name, path in model_paths.items():
        if path is not None:
            if name not in cfg.models:
                raise ValueError(f"The configuration has no {name!r} model "
                                 f"(models: {', '.join(cfg.models)})")
            cfg.update(f"models.{name}.model_path", str(path))
    return cfg


def _summary(result: PositionResult) -> str:
    files = ", ".join(str(f) for f in result.files) or "nothing saved"
    return (f"  position {result.position_nb}: {result.rois} ROI"
            f"{'' if result.rois == 1 else 's'}, {result.cells} cells, "
            f"{result.divisions} divisions, frames {result.frames.start}-"
            f"{result.frames.stop - 1} -> {files}")


def track(movies: PathLike | Sequence[PathLike], *, presets: str | None = None,
          config: Config | PathLike | None = None, out: PathLike | None = None,
          frames: int | slice | range | None = None,
          positions: Sequence[int] | None = None,
          save_as: Sequence[str] = ("netCDF", "movie"), rtdc: bool = False,
          procs: int = 1, model_paths: Mapping[str, PathLike | None] | None = None,
          progress: bool | None = None, stream: TextIO | None = None
          ) -> dict[pathlib.Path, list[PositionResult]]:
    """Run the time-lapse pipeline on movies and print a summary.

    Parameters
    ----------
    movies
        Folders of images or multi-page TIFF files.
    presets
        ``"mothermachine"`` or ``"2D"`` (unless `config` is given).
    config
        A :class:`~cytolab.timelapse.config.Config` or its JSON file.
    out
        Results folder (default: each movie's folder); with several
        movies, one subfolder per movie.
    frames
        The first N frames, or a slice/range of consecutive frames.
    positions
        Position numbers (default: all).
    save_as
        Formats: ``"netCDF"``, ``"movie"``, ``"labeled-movie"``.
    rtdc
        Also write the cells as ``.rtdc`` events
        (:func:`cytolab.timelapse.export.export_rtdc`).
    procs
        Positions processed side by side.
    model_paths
        ONNX files overriding the configuration's, by model name.
    progress
        Show progress (default: on a terminal).
    stream
        Where to print the summary (default: standard output).

    Returns
    -------
    dict
        Movie -> summaries of its positions.

    Raises
    ------
    PipelineError
        Some positions failed (after the others were saved and listed).
    """
    stream = stream or sys.stdout
    cfg = _config(presets, config, model_paths or {})
    paths = [pathlib.Path(movies)] if isinstance(movies, (str, os.PathLike)) \
        else [pathlib.Path(m) for m in movies]
    formats = [*save_as, *(["rtdc"] if rtdc else [])]
    show = sys.stderr.isatty() if progress is None else progress
    done: dict[pathlib.Path, list[PositionResult]] = {}
    for path in paths:
        resfolder = None if out is None else pathlib.Path(out)
        if resfolder is not None and len(paths) > 1:
            resfolder = resfolder / movie_name(path)
        pipeline = Pipeline(path, cfg, resfolder)
        reader = pipeline.reader
        print(f"{path}: {reader.positions} position"
              f"{'' if reader.positions == 1 else 's'}, {reader.channels} channel"
              f"{'' if reader.channels == 1 else 's'}, {reader.frames} frames",
              file=stream)
        try:
            done[path] = pipeline.process(positions=positions, frames=frames,
                                          save_as=formats, progress_bar=show,
                                          n_procs=procs)
        except PipelineError as exc:
            for result in exc.outputs:
                print(_summary(result), file=stream)
            raise
        for result in done[path]:
            print(_summary(result), file=stream)
    return done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab track``."""
    parser.add_argument("movies", nargs="+", type=pathlib.Path, metavar="MOVIE",
                        help="folder of images or multi-page TIFF file")
    parser.add_argument("--preset", choices=PRESETS,
                        help="mothermachine (chambers) or 2D (agar pads); "
                             "needed unless --config is given")
    parser.add_argument("--config", type=pathlib.Path, metavar="JSON",
                        help="configuration file (see "
                             "cytolab.timelapse.config.Config)")
    parser.add_argument("--out", type=pathlib.Path, metavar="DIR",
                        help="results folder (default: the movie's folder)")
    parser.add_argument("--frames", metavar="N|A:B",
                        help="the first N frames, or frames A to B-1")
    parser.add_argument("--positions", type=int, nargs="+", metavar="P",
                        help="positions to process (default: all)")
    parser.add_argument("--save-as", nargs="+", choices=list(SAVE_FORMATS),
                        default=["netCDF", "movie"], metavar="FORMAT",
                        help="netCDF, movie and/or labeled-movie "
                             "(default: netCDF movie)")
    parser.add_argument("--rtdc", action="store_true",
                        help="also write the cells as events of an .rtdc file "
                             "per position")
    parser.add_argument("--procs", type=int, default=1, metavar="N",
                        help="positions processed side by side (default: 1)")
    for name in MODELS:
        parser.add_argument(f"--model-{name}", type=pathlib.Path, metavar="PATH",
                            help=f"ONNX file of the {name} network (default: "
                                 f"the shipped weights of the presets)")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not show progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``cytolab track``."""
    frames: Any = parse_index_mapping(args.frames)
    track(args.movies, presets=args.preset, config=args.config, out=args.out,
          frames=frames, positions=args.positions, save_as=args.save_as,
          rtdc=args.rtdc, procs=args.procs,
          model_paths={name: getattr(args, f"model_{name}") for name in MODELS},
          progress=False if args.no_progress else None)
    return 0
