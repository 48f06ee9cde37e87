"""The time-lapse demo: a simulated mother-machine movie through the pipeline.

:func:`demo_timelapse` simulates a short movie of bacteria growing in the
chambers of a mother machine (with stage drift, a slight rotation and a
fluorescence channel, ground truth included), runs the :class:`~.pipeline.
Pipeline` on it with the shipped networks, scores the result against the
truth (:mod:`.evaluate`) and writes the results movie and a lineage plot.
``cytolab demo --timelapse`` calls it.
"""
from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import numpy as np

from . import evaluate
from .config import Config
from .pipeline import Pipeline
from .position import Position
from .video import random_colors

__all__ = ["demo_timelapse"]


def _lineage_plot(position: Position, path: pathlib.Path) -> str:
    """Lineage trees of all chambers in one figure; the path or why not."""
    try:
        from ..plot._mpl import import_pyplot
        plt = import_pyplot()
    except ImportError:
        return 'skipped (for plots: pip install "cytolab[plot]")'
    count = max(len(position.rois), 1)
    fig, axes = plt.subplots(count, 1, figsize=(8, 1.6 * count + 0.6),
                             sharex=True, squeeze=False)
    try:
        for ax, roi in zip(axes[:, 0], position.rois, strict=False):
            # the colours of the results movie
            roi.lineage.plot(ax=ax, colors=random_colors(roi.lineage.cells,
                                                         seed=roi.roi_nb))
            ax.set_ylabel(f"chamber {roi.roi_nb}", fontsize="small")
            ax.set_xlabel("")
        axes[-1, 0].set_xlabel("frame")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return str(path)


def demo_timelapse(outdir: str | os.PathLike = "cytolab-demo-timelapse", *,
                   n_frames: int = 30, n_chambers: int = 4, seed: int = 2024,
                   config: Config | None = None,
                   models: Mapping[str, Any] | None = None,
                   stream: TextIO | None = None, plot: bool = True,
                   progress_bar: bool = False) -> pathlib.Path:
    """Simulate a mother-machine movie, track its cells, score the result.

    Parameters
    ----------
    outdir
        Folder for everything written: ``movie/`` (the simulated images and
        ``truth.npz``), ``results/`` (``Position000000.nc`` and ``.mp4``)
        and ``lineage.png``.
    n_frames, n_chambers
        Size of the simulated movie.
    seed
        Seed of the simulation (the shipped networks were trained on
        movies of other seeds).
    config
        Pipeline configuration (default: the ``mothermachine`` presets,
        with the chamber detector's input fitted to the frames when they
        are smaller).
    models
        Networks to use instead of the configuration's (see
        :class:`~.pipeline.Pipeline`).
    stream
        Where to print the summary (default: standard output).
    plot
        Draw ``lineage.png`` (skipped with a note without matplotlib).
    progress_bar
        Show progress.

    Returns
    -------
    pathlib.Path
        The results folder.

    Raises
    ------
    cytolab.timelapse.assets.AssetUnavailableError
        No shipped weights and no `models` given.
    """
    from ..simulate.movies import simulate_mothermachine

    stream = stream or sys.stdout
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    truth = simulate_mothermachine(n_frames, n_chambers, seed=seed, fluorescence=True,
                                   drift=True, rotation=1.5, path=outdir / "movie")
    shape = truth.labels.shape[1:]
    lines = ["cytolab demo --timelapse",
             f"  movie            {outdir / 'movie'} ({n_frames} frames of "
             f"{shape[0]}x{shape[1]} px, {n_chambers} chambers, phase contrast "
             f"and fluorescence, simulated)"]
    config = config or Config.default("mothermachine")
    pipeline = Pipeline(outdir / "movie", config, outdir / "results", models=models)
    (result,) = pipeline.process(save_as=("netCDF", "movie"), clear=False,
                                 progress_bar=progress_bar)
    position = pipeline.positions[0]
    drift_error = np.abs(np.asarray(position.drift_values)[:n_frames]
                         - truth.drift[:, ::-1]).max()
    lines += [
        f"  corrections      rotation {position.rotate:+.2f}° (simulated "
        f"{-truth.rotation:+.2f}°), drift within {drift_error:.0f} px of the "
        f"simulated drift (up to {np.abs(truth.drift).max()} px)",
        f"  found            {result.rois} chambers, {result.cells} cells, "
        f"{result.divisions} divisions (simulated: {len(truth.cell_ids)} cells, "
        f"{len(truth.divisions)} divisions)",
    ]
    lines += [f"  {label:<17}{path}" for label, path in
              zip(("results", "results movie"), result.files, strict=False)]
    if plot:
        drawn = _lineage_plot(position, outdir / "lineage.png")
        lines.append(f"  lineage plot     {drawn}")
    report = evaluate.format_report(evaluate.evaluate_position(position, truth))
    lines.append("  accuracy against the ground truth:")
    lines += ["    " + line for line in report.splitlines()]
    print("\n".join(lines), file=stream)
    return pipeline.resfolder
