"""Extract events from raw frames: background, segmentation, gating, features.

Processes the raw camera frames of INPUT (an .rtdc file with an `image`
feature, one frame per event) and writes OUTPUT (default:
INPUT_processed.rtdc) with the features and masks of every event found. The
raw images are not copied: OUTPUT refers to INPUT through a basin. The
metadata `pipeline:dcnum ...` identify every step exactly; the log
`cytolab-process` holds the options, timings and library versions.

Default steps: sparse-median background (with per-frame offset correction
when flickering illumination is detected), threshold segmenter (-6 gray
levels, border objects cleared, holes filled, closing with a disk of 2 px),
objects of at least 10 px, all features (shape, brightness, texture,
volume). Step options are KEY=VALUE pairs, e.g. `-s thresh=-8 -s
closing_disk=3`.

With --batch, INPUT is a folder: every .rtdc file below it is processed on a
Dask cluster (a local one by default, or the running cluster given by
--scheduler), and OUTPUT is the folder for the results (default: next to
each input).

Examples:

  cytolab process raw.rtdc
  cytolab process raw.rtdc events.rtdc --background rollmed -b kernel_size=200
  cytolab process raw.rtdc --index-mapping 0:10000 --num-procs 4
  cytolab process --batch measurements/ results/
  cytolab process --batch measurements/ --scheduler tcp://10.0.0.5:8786
"""
from __future__ import annotations

import argparse
import pathlib
from typing import Any

from ..io.ppid import parse_value
from ..process import run as process
from ..process import run_batch
from ..process.background import BACKGROUND_METHODS
from ..process.segment import SEGMENTERS


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    return parse_value(text)


def parse_kwargs(items: list[str] | None, option: str) -> dict[str, Any]:
    """``["key=value", ...]`` to a dict with ints, floats and booleans."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{option} expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        out[key.strip()] = _value(value.strip())
    return out


def parse_index_mapping(text: str | None) -> int | slice | None:
    """``"N"`` (first N frames) or ``"start:stop[:step]"``."""
    if text is None:
        return None
    if ":" in text:
        parts = [int(p) if p else None for p in text.split(":")]
        if len(parts) > 3:
            raise ValueError(f"Invalid --index-mapping '{text}'")
        return slice(*parts)
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab process``."""
    parser.add_argument("input", type=pathlib.Path,
                        help="raw measurement (.rtdc), or a folder with --batch")
    parser.add_argument("output", type=pathlib.Path, nargs="?",
                        help="output file (folder with --batch); default: next "
                             "to the input, named *_processed.rtdc")
    parser.add_argument("--background", default=None,
                        help=f"background method {sorted(BACKGROUND_METHODS)} or "
                             "a full identifier (default: sparsemed, with offset "
                             "correction if flickering is detected)")
    parser.add_argument("-b", "--background-kwarg", action="append", metavar="K=V",
                        help="background option (repeatable), e.g. kernel_size=200")
    parser.add_argument("--segmenter", default="thresh",
                        help=f"segmenter {sorted(SEGMENTERS)} (default: thresh)")
    parser.add_argument("-s", "--segmenter-kwarg", action="append", metavar="K=V",
                        help="segmenter option, e.g. thresh=-6, closing_disk=2")
    parser.add_argument("-f", "--feature-kwarg", action="append", metavar="K=V",
                        help="feature option: brightness, haralick, volume")
    parser.add_argument("-g", "--gate-kwarg", action="append", metavar="K=V",
                        help="gate option: min_area, max_area, exclude_border")
    parser.add_argument("--index-mapping", metavar="N|START:STOP[:STEP]",
                        help="process only part of the frames")
    parser.add_argument("--pixel-size", type=float,
                        help="pixel size [µm] overriding the metadata")
    parser.add_argument("--num-procs", type=int, default=None,
                        help="worker processes (default: all CPUs)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="frames per work unit")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output")
    parser.add_argument("--batch", action="store_true",
                        help="process every .rtdc file below the INPUT folder "
                             "on Dask")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --batch: address of a running Dask scheduler "
                             "(default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None,
                        help="with --batch: workers of the local cluster")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not show a progress bar")


def run_args(args: argparse.Namespace) -> dict[str, Any]:
    """Pipeline keywords from parsed arguments."""
    return {
        "background": args.background,
        "background_kwargs": parse_kwargs(args.background_kwarg, "-b"),
        "segmenter": args.segmenter,
        "segmenter_kwargs": parse_kwargs(args.segmenter_kwarg, "-s"),
        "feature_kwargs": parse_kwargs(args.feature_kwarg, "-f"),
        "gate_kwargs": parse_kwargs(args.gate_kwarg, "-g"),
        "index_mapping": parse_index_mapping(args.index_mapping),
        "pixel_size": args.pixel_size,
        "overwrite": args.overwrite,
    }


def run(args: argparse.Namespace) -> int:
    """Run ``cytolab process``."""
    kwargs = run_args(args)
    progress = False if args.no_progress else None
    if args.batch:
        if not args.input.is_dir():
            raise ValueError(f"--batch expects a folder, got '{args.input}'")
        outputs = run_batch(args.input, args.output, scheduler=args.scheduler,
                            n_workers=args.workers, progress=progress, **kwargs)
        print(f"Processed {len(outputs)} files")
        return 0
    if args.scheduler or args.workers:
        raise ValueError("--scheduler and --workers need --batch")
    out = process(args.input, args.output, num_procs=args.num_procs,
                  chunk_size=args.chunk_size, progress=progress, **kwargs)
    print(out)
    return 0
