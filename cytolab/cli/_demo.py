"""Simulate measurements and show what cytolab does with them.

Simulates raw camera frames of cells flowing through the channel and
extracts the events from them (background, segmentation, features; see
``cytolab process``), reporting how many of the simulated cells were found.
Also writes a synthetic RT-DC measurement (scalar features) and a smaller one with
images, masks and fluorescence traces, opens them again, writes a small
derived file with a new feature whose other features come from the
measurement through a basin (no data copied), draws an overview figure
(``overview.png``: density scatter plot, an event's image, contour and mask,
its fluorescence traces; needs ``cytolab[plot]``) and prints a summary.

With --timelapse, simulates a short mother-machine movie instead (bacteria
growing in chambers, with stage drift and a fluorescence channel), segments
and tracks its cells with the shipped networks, prints the accuracy against
the simulated ground truth and writes the results (netCDF file and movie
with the cells outlined) and a lineage plot (lineage.png).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import TextIO

import numpy as np

from ..process import OUTPUT_SUFFIX
from ..process import run as process
from ..rtdc import RTDCBase, RTDCWriter, new_dataset
from ..simulate import match_truth, simulate_frames, simulate_rtdc


def demo(outdir: str | pathlib.Path = "cytolab-demo", num_events: int = 5000,
         images: int = 500, seed: int = 42, stream: TextIO | None = None,
         plot: bool = True, frames: int = 2000) -> pathlib.Path:
    """Run the demo; return the path of the derived (basin-linked) file.

    Parameters
    ----------
    outdir
        Folder for the output files (created if needed).
    num_events
        Number of simulated events.
    images
        Number of events that get images and fluorescence traces (a
        separate, smaller measurement file, as an imaging flow cytometer
        records a subset of frames).
    seed
        Random seed.
    stream
        Where to print the summary (default: standard output).
    plot
        Draw ``overview.png`` of the measurement with images (skipped with
        a note when matplotlib is not installed).
    frames
        Number of raw frames to simulate and process (0: skip that part).

    Examples
    --------
    >>> import tempfile, io
    >>> out = demo(tempfile.mkdtemp(), num_events=300, images=20,
    ...            stream=io.StringIO(), frames=100)
    >>> out.name
    'derived.rtdc'
    """
    stream = stream or sys.stdout
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    raw = simulate_rtdc(outdir / "measurement.rtdc", num_events=num_events,
                        seed=seed)
    imaged = simulate_rtdc(outdir / "measurement_images.rtdc", num_events=images,
                           images=True, traces=True, seed=seed + 1)
    derived = outdir / "derived.rtdc"
    with new_dataset(raw) as ds:
        # a new per-event feature: size-normalised deformation, for a gated
        # subset (every cell larger than the median) -> a mapped basin
        selected = np.flatnonzero(ds["area_um"] > np.median(ds["area_um"]))
        userdef1 = ds["deform"][selected] / np.sqrt(ds["area_um"][selected])
        with RTDCWriter(derived, mode="reset") as hw:
            hw.store_metadata(ds.config.as_dict(pop_filtering=True))
            hw.store_feature("userdef1", userdef1)
            hw.store_basin(basin_name="simulated measurement", basin_type="file",
                           basin_format="hdf5", basin_locs=[raw],
                           basin_map=selected)
    with new_dataset(derived) as dd, new_dataset(raw) as ds, \
            new_dataset(imaged) as di:
        assert np.array_equal(dd["deform"], ds["deform"][selected])
        lines = [
            "cytolab demo",
            f"  measurement      {raw}",
            f"    events         {len(ds)}",
            f"    features       {len(ds.features)} ({len(ds.features_innate)} "
            f"stored, {len(ds.features_ancillary)} computed)",
            f"    median deform  {np.median(ds['deform']):.4f}",
            f"    median area    {np.median(ds['area_um']):.1f} µm²",
            f"    file size      {_size(raw)}",
            f"  with images      {imaged} (and fluorescence traces)",
            f"    events         {len(di)} of {di['image'].shape[1]}x"
            f"{di['image'].shape[2]} px",
            f"    file size      {_size(imaged)}",
            f"  derived file     {derived}",
            f"    events         {len(dd)} (cells larger than the median)",
            f"    stored         {', '.join(dd.features_innate)}",
            f"    from basin     {len(dd.features_basin)} features "
            f"({', '.join(dd.features_basin[:5])}, ...)",
            f"    file size      {_size(derived)}",
        ]
        if plot:
            lines.append(f"  overview         {_overview(di, outdir)}")
    if frames:
        lines += _raw_frames(outdir, frames, seed)
    print("\n".join(lines), file=stream)
    return derived


def _raw_frames(outdir: pathlib.Path, frames: int, seed: int) -> list[str]:
    """Simulate raw frames, extract their events, compare with the truth."""
    raw = outdir / "raw_frames.rtdc"
    truth = simulate_frames(raw, num_frames=frames, seed=seed)
    out = process(raw, outdir / ("raw_frames" + OUTPUT_SUFFIX), overwrite=True)
    with new_dataset(out) as ds:
        matched, false, whole = match_truth(ds["frame"], ds["pos_x"], ds["pos_y"],
                                            truth)
        log = json.loads("\n".join(ds.logs["cytolab-process"]))
        speed = log["statistics"]["frames per second"]
        return [
            f"  raw frames       {raw} ({frames} frames of "
            f"{ds['mask'].shape[1]}x{ds['mask'].shape[2]} px)",
            f"    simulated      {whole.sum()} whole cells "
            f"({(~whole).sum()} more cut off at the ends)",
            f"  events           {out}",
            f"    found          {len(ds)} events: {np.sum(matched >= 0)} of the "
            f"cells ({100 * np.mean(matched >= 0):.1f}%), {false.sum()} false",
            f"    speed          {speed:.0f} frames/s",
            f"    pipeline       {ds.config['pipeline']['dcnum hash']}",
        ]


def _overview(ds: RTDCBase, outdir: pathlib.Path) -> str:
    """Write ``overview.png`` of `ds`; return its path or why it was skipped."""
    try:
        from ..plot import overview
        from ..plot._mpl import import_pyplot
        plt = import_pyplot()
    except ImportError:
        return 'skipped (for plots: pip install "cytolab[plot]")'
    path = outdir / "overview.png"
    fig = overview(ds)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return str(path)


def _size(path: pathlib.Path) -> str:
    size = path.stat().st_size
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(size)  # pragma: no cover


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab demo``."""
    parser.add_argument("outdir", nargs="?", default="cytolab-demo",
                        help="output folder (default: ./cytolab-demo)")
    parser.add_argument("--events", type=int, default=5000,
                        help="number of simulated events (default: 5000)")
    parser.add_argument("--images", type=int, default=500,
                        help="number of events with images and traces "
                        "(default: 500)")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--frames", type=int, default=2000,
                        help="number of raw frames to simulate and process "
                        "(default: 2000; 0 skips)")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not draw overview.png (lineage.png)")
    parser.add_argument("--timelapse", action="store_true",
                        help="run the time-lapse demo: simulated mother-machine "
                             "movie, segmentation, tracking, lineages")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (overrides OUTDIR; default for "
                             "--timelapse: ./cytolab-demo-timelapse)")


def run(args: argparse.Namespace) -> pathlib.Path:
    """Run ``cytolab demo`` with parsed arguments."""
    if args.timelapse:
        from ..timelapse.demo import demo_timelapse
        default = "cytolab-demo-timelapse"  # unless OUTDIR is given
        return demo_timelapse(args.out or (default if args.outdir == "cytolab-demo"
                                           else args.outdir), plot=not args.no_plot)
    return demo(args.out or args.outdir, num_events=args.events, images=args.images,
                seed=args.seed, plot=not args.no_plot, frames=args.frames)
