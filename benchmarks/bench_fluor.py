"""Benchmark: a fluorescence series written to disk and bleach-corrected.

Simulates N images (default 100 of 512 x 512, a bleaching cell plus camera
noise) and times, best of ``--repeat``:

- ``h5py_write``: writing the raw images with h5py alone, one chunked
  float32 dataset per image with the filters cytolab uses (gzip level 4,
  shuffle, Fletcher-32);
- ``h5py_write_reference_filters``: the same with the filters of the
  reference tool's files (gzip level 9, Fletcher-32, no shuffle);
- ``create``: ``FLSeries(h5file=..., h5mode="w")`` plus ``add_flimage`` of
  every image;
- ``create_and_bleach_correct``: ``create`` plus ``bleach_correction`` with
  the corrected series written to a second file (the figure of the issue),
  and its ratio to ``h5py_write``.

Prints one JSON line per operation: ``{"operation", "images", "shape",
"seconds", "ratio_to_h5py", "file_mb"}`` (``file_mb``: size of the series
file written).

Usage: ``python benchmarks/bench_fluor.py [--images N] [--size S]
[--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from collections.abc import Callable

import h5py
import numpy as np

from cytolab.fluor import FLImage, FLSeries
from cytolab.simulate.fluorescence import simulate_fluorescence_series


def h5py_write(images: np.ndarray, path: pathlib.Path, level: int,
               shuffle: bool) -> None:
    with h5py.File(path, "w") as h5:
        for index, image in enumerate(images):
            h5.create_dataset(f"fli_{index}/fluorescence/raw", data=image,
                              chunks=image.shape, compression="gzip",
                              compression_opts=level, shuffle=shuffle,
                              fletcher32=True)


def create(images: np.ndarray, times: np.ndarray, path: pathlib.Path) -> None:
    with FLSeries(h5file=path, h5mode="w") as fls:
        for image, t in zip(images, times, strict=True):
            fls.add_flimage(FLImage(image, meta_data={"time": t,
                                                      "pixel size": 1e-7}))


def create_and_correct(images: np.ndarray, times: np.ndarray,
                       path: pathlib.Path) -> None:
    create(images, times, path)
    with FLSeries(h5file=path, h5mode="r") as fls:
        fls.bleach_correction(h5out=path.with_name("corrected.h5"))


def best_of(repeat: int, func: Callable[[], None]) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    truth = simulate_fluorescence_series(args.images, (args.size, args.size))
    images, times = truth.images, truth.times
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "series.h5"
        runs = {
            "h5py_write": lambda: h5py_write(images, path, 4, True),
            "h5py_write_reference_filters": lambda: h5py_write(images, path, 9, False),
            "create": lambda: create(images, times, path),
            "create_and_bleach_correct": lambda: create_and_correct(images, times,
                                                                    path),
        }
        results, sizes = {}, {}
        for name, func in runs.items():
            results[name] = best_of(args.repeat, func)
            sizes[name] = path.stat().st_size / 1e6
    for name, seconds in results.items():
        print(json.dumps({
            "operation": name, "images": args.images,
            "shape": [args.size, args.size], "seconds": round(seconds, 3),
            "ratio_to_h5py": round(seconds / results["h5py_write"], 2),
            "file_mb": round(sizes[name], 1)}))


if __name__ == "__main__":
    main()
