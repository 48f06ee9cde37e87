"""Benchmark: shape features (contour, inertia ratios + tilt, volume).

Simulates a measurement of N events (default 20,000) with 80 x 250 masks
(:func:`cytolab.simulate.simulate_rtdc`), then measures

* the kernels alone on masks/contours in memory (``kernel:*``), and
* the dataset recipes, ``ds["contour"]`` (traced on access), ``ds["tilt"]``
  (all four inertia features) and ``ds["volume"]``, each on a freshly opened
  file that stores masks and positions but no contours, inertia ratios or
  volume (``dataset:*``; includes reading and decompressing the masks).

The peak memory of the dataset recipes (tracemalloc) is measured for N and,
in the ``...:peak_memory_at_N/4`` lines, for N / 4 events: it must not grow
with N (chunked computation). The seconds of those lines are measured under
tracemalloc (slower) and only given for completeness.

Prints one JSON line per result:
``{"operation", "events", "seconds", "events_per_s", "peak_mb"}``.

Usage: ``python benchmarks/bench_features_shape.py [--events N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

import cytolab
from cytolab.features import get_contour, get_volume, moments_features
from cytolab.simulate import simulate_rtdc

INERTIA = ["inert_ratio_cvx", "inert_ratio_prnc", "inert_ratio_raw", "tilt"]


def report(operation: str, events: int, seconds: float,
           peak_mb: float | None = None) -> None:
    print(json.dumps({"operation": operation, "events": events,
                      "seconds": round(seconds, 4),
                      "events_per_s": round(events / seconds),
                      "peak_mb": None if peak_mb is None else round(peak_mb, 1)}),
          flush=True)


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def traced(func: Callable[[], Any]) -> tuple[float, float]:
    """Run `func`; return (seconds, peak traced memory in MB)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    func()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1024**2


def bench_kernels(path: pathlib.Path, repeat: int) -> None:
    with cytolab.new_dataset(path) as ds:
        masks = np.asarray(ds["mask"][:])
        pos_x = np.asarray(ds["pos_x"])
        pos_y = np.asarray(ds["pos_y"])
        pix = float(ds.config["imaging"]["pixel size"])
    n = len(masks)
    sec, contours = best_of(repeat, lambda: get_contour(masks))
    report("kernel:get_contour", n, sec)
    sec, _ = best_of(repeat, lambda: moments_features(contours, features=INERTIA))
    report("kernel:inertia_ratios+tilt", n, sec)
    sec, _ = best_of(repeat, lambda: moments_features(contours, pixel_size=pix))
    report("kernel:moments_features(all)", n, sec)
    sec, _ = best_of(repeat, lambda: get_volume(contours, pos_x, pos_y, pix))
    report("kernel:get_volume", n, sec)
    sec, _ = best_of(repeat, lambda: get_volume(get_contour(masks), pos_x, pos_y,
                                                pix))
    report("kernel:get_volume+get_contour", n, sec)


def dataset_feature(path: pathlib.Path, feature: str) -> None:
    with cytolab.new_dataset(path) as ds:
        data = ds[feature]
        if feature == "contour":
            for start in range(0, len(data), 1000):
                data[start:start + 1000]  # traced in blocks, as users iterate
        else:
            assert len(data) == len(ds)


def bench_dataset(path: pathlib.Path, small: pathlib.Path, repeat: int) -> None:
    with cytolab.new_dataset(path) as ds:
        n = len(ds)
    with cytolab.new_dataset(small) as ds:
        n_small = len(ds)
    for feature, name in [("contour", "dataset:contour"),
                          ("tilt", "dataset:inertia_ratios+tilt"),
                          ("volume", "dataset:volume(with contour)")]:
        sec, _ = best_of(repeat, lambda f=feature: dataset_feature(path, f))
        _, peak = traced(lambda f=feature: dataset_feature(path, f))
        sec_small, peak_small = traced(lambda f=feature: dataset_feature(small, f))
        report(name, n, sec, peak)
        report(name + ":peak_memory_at_N/4", n_small, sec_small, peak_small)


def simulate(path: pathlib.Path, events: int, seed: int) -> None:
    """Simulated measurement with masks, without the features benchmarked."""
    simulate_rtdc(path, num_events=events, images=True, seed=seed,
                  progress=False)
    with h5py.File(path, "r+") as h5:  # our own temporary file
        for feat in ["volume", "inert_ratio_cvx", "inert_ratio_raw"]:
            del h5["events"][feat]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "shape.rtdc"
        small = pathlib.Path(tmp) / "shape_small.rtdc"
        simulate(path, args.events, seed=1)
        simulate(small, max(1, args.events // 4), seed=2)
        bench_kernels(path, args.repeat)
        bench_dataset(path, small, args.repeat)


if __name__ == "__main__":
    main()
