"""Benchmark: export a large simulated measurement to .rtdc, .tsv and .fcs.

Simulates N events (default 1,000,000) with the 20 scalar features of
:data:`cytolab.simulate.SIMULATED_FEATURES` into an ``.rtdc`` file, then
times (best of `--repeat` runs, each on a freshly opened dataset):

* ``export_hdf5``: all events (stored data are copied without decoding);
* ``export_hdf5_filtered``: the events with ``deform`` below 0.03 (about
  70 %), read, decoded and re-encoded;
* ``export_tsv``: all events as text;
* ``export_fcs``: all events as float32.

``peak_mb`` is the peak of memory allocated through Python and NumPy
(tracemalloc) during one extra run.

Prints one JSON line per result:
``{"operation", "events", "features", "seconds", "throughput", "peak_mb"}``
with ``throughput`` in events per second.

Usage: ``python benchmarks/bench_export.py [--events N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
import tracemalloc
from collections.abc import Callable

import cytolab
from cytolab.simulate import SIMULATED_FEATURES, simulate_rtdc


def run_export(src: pathlib.Path, kind: str, out: pathlib.Path,
               filtered: bool) -> tuple[float, int]:
    """Open `src`, export it; return the time of the export and its events."""
    with cytolab.new_dataset(src) as ds:
        features = list(SIMULATED_FEATURES)
        if filtered:
            ds.config["filtering"]["deform min"] = 0
            ds.config["filtering"]["deform max"] = 0.03
            ds.apply_filter()
        events = int(ds.filter.all.sum()) if filtered else len(ds)
        export: Callable = getattr(ds.export, kind)
        t0 = time.perf_counter()
        if kind == "hdf5":
            export(out, features=features, filtered=filtered, override=True)
        else:
            export(out, features, filtered=filtered, override=True)
        return time.perf_counter() - t0, events


def peak_memory(src: pathlib.Path, kind: str, out: pathlib.Path,
                filtered: bool) -> float:
    tracemalloc.start()
    run_export(src, kind, out, filtered)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions; the best time is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        src = simulate_rtdc(tmp / "source.rtdc", num_events=args.events, seed=1,
                            progress=False)
        cases = [("export_hdf5", "hdf5", False, "out.rtdc"),
                 ("export_hdf5_filtered", "hdf5", True, "out_filtered.rtdc"),
                 ("export_tsv", "tsv", False, "out.tsv"),
                 ("export_fcs", "fcs", False, "out.fcs")]
        for operation, kind, filtered, name in cases:
            out = tmp / name
            runs = [run_export(src, kind, out, filtered)
                    for _ in range(args.repeat)]
            seconds = min(t for t, _ in runs)
            events = runs[0][1]
            print(json.dumps({
                "operation": operation, "events": events,
                "features": len(SIMULATED_FEATURES),
                "seconds": round(seconds, 4),
                "throughput": round(events / seconds),
                "peak_mb": round(peak_memory(src, kind, out, filtered), 1),
                "file_mb": round(out.stat().st_size / 1e6, 1),
            }), flush=True)


if __name__ == "__main__":
    main()
