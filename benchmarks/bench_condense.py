"""Benchmark: condense a large simulated .rtdc file (time and peak memory).

Simulates measurements of N events with the scalar features of the
simulator (default N = 250,000 and 1,000,000; the simulator writes in
chunks) and condenses each with :func:`cytolab.cli.condense` in a fresh
child process, so that the peak memory of condensing is measured alone:

- ``seconds``: wall time of ``condense`` (best of ``--repeat`` runs);
- ``peak_rss_mb``: peak resident memory of the child process while
  condensing (Linux ``VmHWM``, reset after the imports; elsewhere
  ``ru_maxrss``), ``baseline_rss_mb`` its resident memory after importing
  cytolab and before condensing, ``condense_rss_mb`` the difference;
- ``tracemalloc_peak_mb``: peak of the memory allocated through Python and
  NumPy while condensing (separate run with :mod:`tracemalloc`);
- ``column_mb``: size of one float64 feature column (N x 8 bytes), the
  unit in which the memory of condensing should be counted: it must not
  grow with N beyond a few columns, and not with the number of features.

Prints one JSON line per result:
``{"operation", "events", "input_mb", "features_in", "features_out",
"seconds", "peak_rss_mb", "baseline_rss_mb", "condense_rss_mb",
"tracemalloc_peak_mb", "column_mb", ...}``.

Usage: ``python benchmarks/bench_condense.py [--events N [N ...]] [--repeat R]
[--no-ancillary-features]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import h5py

from cytolab.simulate import simulate_rtdc

#: Runs `condense` in a child process and prints its measurements as JSON.
CHILD = r"""
import json, os, resource, sys, time, tracemalloc
import cytolab
from cytolab.cli import condense


def status_kb(key):
    # Linux: VmHWM (peak) and VmRSS (current) of this process; unlike
    # ru_maxrss they do not carry over the parent's peak through exec
    try:
        with open("/proc/self/status") as fd:
            for line in fd:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak():
    try:  # Linux >= 4.0: reset VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as fd:
            fd.write("5")
        return True
    except OSError:
        return False


path_in, path_out, mode, anc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
reset = reset_peak()
baseline = status_kb("VmRSS") if reset else status_kb("VmHWM")
if mode == "tracemalloc":
    tracemalloc.start()
t0 = time.perf_counter()
condense(path_in, path_out, store_ancillary_features=anc == "1")
seconds = time.perf_counter() - t0
result = {"seconds": seconds, "baseline_rss_kb": baseline,
          "peak_rss_kb": status_kb("VmHWM"), "peak_reset": reset}
if mode == "tracemalloc":
    result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
print(json.dumps(result))
"""


def run_child(path_in: pathlib.Path, path_out: pathlib.Path, mode: str,
              ancillaries: bool) -> dict:
    """Condense in a fresh interpreter; return its measurements."""
    path_out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path_in), str(path_out), mode,
         "1" if ancillaries else "0"],
        check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(events: int, repeat: int, ancillaries: bool,
          tmp: pathlib.Path) -> dict:
    path_in = tmp / f"sim_{events}.rtdc"
    path_out = tmp / f"sim_{events}_condensed.rtdc"
    t0 = time.perf_counter()
    simulate_rtdc(path_in, num_events=events, images=False, seed=1,
                  progress=False)
    t_sim = time.perf_counter() - t0
    runs = [run_child(path_in, path_out, "rss", ancillaries)
            for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    traced = run_child(path_in, path_out, "tracemalloc", ancillaries)
    with h5py.File(path_in) as h5:
        features_in = len(h5["events"])
    with h5py.File(path_out) as h5:
        features_out = len(h5["events"])
    peak = max(r["peak_rss_kb"] for r in runs) / 1024
    baseline = min(r["baseline_rss_kb"] for r in runs) / 1024
    return {"operation": "condense", "events": events,
            "store_ancillary_features": ancillaries,
            "input_mb": round(path_in.stat().st_size / 1e6, 1),
            "output_mb": round(path_out.stat().st_size / 1e6, 1),
            "features_in": features_in, "features_out": features_out,
            "seconds": round(best["seconds"], 3),
            "peak_rss_mb": round(peak, 1),
            "baseline_rss_mb": round(baseline, 1),
            "condense_rss_mb": round(peak - baseline, 1),
            "tracemalloc_peak_mb": round(traced["tracemalloc_peak"] / 1e6, 1),
            "column_mb": round(events * 8 / 1e6, 1),
            "simulate_seconds": round(t_sim, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+",
                        default=[250_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions; the best time is reported")
    parser.add_argument("--no-ancillary-features", action="store_true",
                        help="condense with --no-ancillary-features")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for events in args.events:
            result = bench(events, args.repeat, not args.no_ancillary_features,
                           pathlib.Path(tmp))
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
