"""Benchmark: the time-lapse pipeline on a simulated mother-machine movie.

Simulates a movie (default 60 frames, 8 chambers, phase contrast and
fluorescence, stage drift) and runs the steps of one position of the
time-lapse pipeline in this process with the shipped networks (or the ONNX
files of ``--models DIR``: ``rois.onnx``, ``seg.onnx``, ``track.onnx``, or
``mothermachine_<model>.onnx``), timing each step:

- ``preprocess``: rotation, chamber detection, drift correction, crops;
- ``segment``: segmentation of all chambers and frames;
- ``track``: tracking, including the cell features (poles, length, area,
  fluorescence, ...);
- ``growth rates``;
- ``segment + track + features``: the figure of the issue, and ``total``.

Prints one JSON line per step: ``{"operation", "frames", "chambers",
"cell_frames", "seconds", "cells_per_s", "peak_rss_mb", "movie_mb"}``,
and one for the accuracy against the simulated truth
(``"timelapse accuracy"``: ``segmentation_f1``, ``link_error_rate``,
``division_f1``, ``growth_rate_median_relative_error``; see
:func:`cytolab.timelapse.evaluate.evaluate_position`). ``cell_frames``
counts every cell on every frame found (the rows of the lineages),
``cells_per_s`` is that over ``seconds``; ``peak_rss_mb`` is the largest
resident memory of the process at the end of the step
(``resource.getrusage``, Linux; the simulated movie, about 60 MB at the
defaults, included), ``movie_mb`` the size of the simulated images. (Memory
is not traced while timing: tracing would slow the Python parts down.)

Usage: ``python benchmarks/bench_timelapse.py [--frames N] [--chambers C]
[--models DIR] [--threads T]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from cytolab.simulate import simulate_mothermachine
from cytolab.timelapse.assets import AssetUnavailableError
from cytolab.timelapse.config import MODELS, Config
from cytolab.timelapse.evaluate import evaluate_position
from cytolab.timelapse.position import Position


def model_files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """The ONNX files of a --models folder, by model name."""
    found = {}
    for name in MODELS:
        for candidate in (f"{name}.onnx", f"mothermachine_{name}.onnx"):
            if (folder / candidate).is_file():
                found[name] = folder / candidate
    missing = [m for m in MODELS if m not in found]
    if missing:
        raise FileNotFoundError(f"No ONNX file for {missing} in '{folder}' "
                                f"(expected e.g. {missing[0]}.onnx)")
    return found


def configure(shape: tuple[int, int], threads: int | None) -> Config:
    """The mother-machine presets with `threads` cores."""
    config = Config.default("mothermachine")
    config.update("backends.onnx.number_of_cores", threads)
    return config


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _step(name: str, func: Callable[[], None], times: dict[str, float],
          peaks: dict[str, float]) -> None:
    start = time.perf_counter()
    func()
    times[name] = time.perf_counter() - start
    peaks[name] = _rss_mb()


def run(n_frames: int, n_chambers: int, models: Mapping[str, Any] | None = None,
        threads: int | None = None, seed: int = 11) -> list[dict[str, Any]]:
    """Time the pipeline steps on a simulated movie; one record per step."""
    truth = simulate_mothermachine(n_frames, n_chambers, seed=seed,
                                   fluorescence=True, drift=True)
    config = configure(truth.labels.shape[1:], threads)
    position = Position(0, config)
    position.models = dict(models or {})
    for name in MODELS:  # loading the networks is not part of the figures
        position.get_model(name)
    times: dict[str, float] = {}
    peaks: dict[str, float] = {}
    _step("preprocess", lambda: position.preprocess(truth.images), times, peaks)
    _step("segment", position.segment, times, peaks)
    _step("track", position.track, times, peaks)
    _step("growth rates", position.compute_growthrates, times, peaks)
    cells = sum(len(roi.lineage.to_table()["cellid"]) for roi in position.rois)
    times["segment + track + features"] = times["segment"] + times["track"]
    peaks["segment + track + features"] = max(peaks["segment"], peaks["track"])
    times["total"] = sum(times[s] for s in ("preprocess", "segment", "track",
                                            "growth rates"))
    peaks["total"] = max(peaks.values())
    movie_mb = truth.images.nbytes / 2**20
    records = [{"operation": f"timelapse {name}", "frames": n_frames,
                "chambers": len(position.rois), "cell_frames": cells,
                "seconds": round(seconds, 3),
                "cells_per_s": round(cells / seconds, 1) if seconds else None,
                "peak_rss_mb": round(peaks[name], 1), "movie_mb": round(movie_mb, 1)}
               for name, seconds in times.items()]
    scores = evaluate_position(position, truth)
    records.append({
        "operation": "timelapse accuracy", "frames": n_frames,
        "chambers": len(position.rois), "cell_frames": cells,
        "segmentation_f1": round(scores["segmentation"]["f1"], 4),
        "link_error_rate": round(scores["links"]["link_error_rate"], 4),
        "division_f1": round(scores["divisions"]["f1"], 4),
        "growth_rate_median_relative_error": round(
            scores["growth_rate"]["median_relative_error"], 4)})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--chambers", type=int, default=8)
    parser.add_argument("--models", type=pathlib.Path, metavar="DIR",
                        help="folder of ONNX files (default: shipped weights)")
    parser.add_argument("--threads", type=int, default=None,
                        help="onnxruntime threads (default: all cores)")
    args = parser.parse_args()
    models = None if args.models is None else model_files(args.models)
    try:
        records = run(args.frames, args.chambers, models, args.threads)
    except AssetUnavailableError as exc:
        sys.exit(f"bench_timelapse: {exc}\n(or pass --models DIR)")
    for record in records:
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
