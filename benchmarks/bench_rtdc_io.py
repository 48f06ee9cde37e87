"""Benchmark: write and reopen a large simulated .rtdc file.

Writes N events (default 1,000,000) with the 20 scalar features of the
simulator through :class:`cytolab.RTDCWriter` (Zstd level 5 + Fletcher-32,
1 MiB chunks), then opens the file and reads one scalar feature completely.
Also measures the peak memory (tracemalloc) of reading one feature from files
with 5 and with 20 features: it must not grow with the number of features.

Prints one JSON line per result:
``{"operation", "events", "features", "seconds", "mb_per_s", ...}``.

Usage: ``python benchmarks/bench_rtdc_io.py [--events N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
import tracemalloc

import numpy as np

import cytolab
from cytolab.simulate import SIMULATED_FEATURES, simulate_scalar_features


def write_file(path: pathlib.Path, data: dict[str, np.ndarray]) -> float:
    t0 = time.perf_counter()
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"imaging": {"frame rate": 2000.0, "pixel size": 0.34},
                           "experiment": {"sample": "benchmark", "run index": 1}})
        for name, values in data.items():
            hw.store_feature(name, values)
    return time.perf_counter() - t0


def open_and_read(path: pathlib.Path, feature: str) -> float:
    t0 = time.perf_counter()
    with cytolab.new_dataset(path) as ds:
        values = ds[feature]
        assert len(values) == len(ds)
    return time.perf_counter() - t0


def peak_read_memory(path: pathlib.Path, feature: str) -> int:
    tracemalloc.start()
    with cytolab.new_dataset(path) as ds:
        _ = ds[feature].sum()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="repetitions; the best time is reported")
    args = parser.parse_args()
    n = args.events
    rng = np.random.default_rng(0)
    sim = simulate_scalar_features(n, rng)
    data = {name: sim[name] for name in SIMULATED_FEATURES}
    nbytes = sum(v.nbytes for v in data.values())
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bench.rtdc"
        t_write = min(write_file(path, data) for _ in range(args.repeat))
        size = path.stat().st_size
        print(json.dumps({"operation": "write_rtdc", "events": n,
                          "features": len(data), "seconds": round(t_write, 4),
                          "mb_per_s": round(nbytes / 1e6 / t_write, 1),
                          "file_mb": round(size / 1e6, 1)}))
        t_read = min(open_and_read(path, "deform") for _ in range(args.repeat))
        print(json.dumps({"operation": "open_and_read_one_feature", "events": n,
                          "features": len(data), "seconds": round(t_read, 4),
                          "mb_per_s": round(8 * n / 1e6 / t_read, 1)}))
        small = pathlib.Path(tmp) / "bench_small.rtdc"
        write_file(small, {k: data[k] for k in list(data)[:5]})
        for fpath, nfeat in ((small, 5), (path, len(data))):
            peak = peak_read_memory(fpath, "deform" if nfeat > 5 else "area_cvx")
            print(json.dumps({"operation": "peak_memory_read_one_feature",
                              "events": n, "features": nfeat,
                              "peak_mb": round(peak / 1e6, 2)}))


if __name__ == "__main__":
    main()
