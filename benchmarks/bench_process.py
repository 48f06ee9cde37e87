"""Benchmark: the event-extraction pipeline on simulated raw frames.

Simulates a raw measurement of N frames of 80 x 400 pixels (about one cell
per frame, camera noise) and runs ``cytolab process`` on it as a separate
command, with the default settings (sparse-median background, threshold
segmenter, all features, masks written). Measured for the whole command,
start-up included:

- ``seconds``: wall time (best of ``--repeat``);
- ``frames_per_s`` and ``events_per_s``;
- ``peak_rss_mb``: largest sum of the resident memory of the command and
  all its worker processes, sampled every 20 ms from /proc (Linux only).

Prints one JSON line per size:
``{"operation", "frames", "events", "procs", "seconds", "frames_per_s",
"events_per_s", "peak_rss_mb"}``.

Usage: ``python benchmarks/bench_process.py [--frames N [N ...]]
[--procs P] [--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import h5py

from cytolab.simulate import simulate_frames


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants [MB] (Linux)."""
    total, todo = 0, [pid]
    while todo:
        cur = todo.pop()
        try:
            with open(f"/proc/{cur}/status") as fd:
                for line in fd:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{cur}/task"):
                with open(f"/proc/{cur}/task/{task}/children") as fd:
                    todo += [int(c) for c in fd.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def run_once(path_in: pathlib.Path, path_out: pathlib.Path, procs: int
             ) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "cytolab.cli.main", "process", str(path_in),
           str(path_out), "--overwrite", "--no-progress", "--num-procs", str(procs)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        if sys.platform.startswith("linux"):
            peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"cytolab process failed ({proc.returncode})")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10_000])
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for frames in args.frames:
            raw = tmp / f"raw_{frames}.rtdc"
            simulate_frames(raw, num_frames=frames, seed=7)
            out = tmp / f"out_{frames}.rtdc"
            best = min(run_once(raw, out, args.procs) for _ in range(args.repeat))
            with h5py.File(out) as h5:
                events = int(h5.attrs["experiment:event count"])
            print(json.dumps({
                "operation": "process (sparsemed, thresh, all features)",
                "frames": frames, "events": events, "procs": args.procs,
                "seconds": round(best[0], 3),
                "frames_per_s": round(frames / best[0], 1),
                "events_per_s": round(events / best[0], 1),
                "peak_rss_mb": round(best[1], 1)}), flush=True)


if __name__ == "__main__":
    main()
