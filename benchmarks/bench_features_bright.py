"""Benchmark: brightness and texture features of image events.

Simulates N events (default 20,000) with 80 x 250 images, background images
and masks (:mod:`cytolab.simulate`), writes them to an ``.rtdc`` file
without any brightness or texture feature, and measures

* the pure kernels (:func:`cytolab.features.bright.bright_features`,
  :func:`~cytolab.features.bright.bright_bc_features`,
  :func:`cytolab.features.texture.texture_features`) on in-memory chunks of
  2,000 events;
* the same features through the dataset (``ds["bright_avg"]`` etc.), which
  streams images and masks from the file in chunks (including HDF5
  decompression).

Prints one JSON line per result:
``{"operation", "events", "seconds", "events_per_s", "peak_mb"}``;
``peak_mb`` is the peak of memory allocated during the operation
(tracemalloc, which sees NumPy's allocations).

Usage: ``python benchmarks/bench_features_bright.py [--events N] [--repeat R]``
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

import numpy as np

import cytolab
from cytolab.features.bright import bright_bc_features, bright_features
from cytolab.features.texture import texture_features
from cytolab.simulate.rtdc import (
    DEFAULT_METADATA,
    simulate_images,
    simulate_scalar_features,
)

KERNEL_CHUNK = 2000


def write_image_file(path: pathlib.Path, num: int, seed: int = 0) -> None:
    """Simulated events with image, image_bg, mask and a few scalars only."""
    rng = np.random.default_rng(seed)
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata(DEFAULT_METADATA)
        for start in range(0, num, KERNEL_CHUNK):
            count = min(KERNEL_CHUNK, num - start)
            feats = simulate_scalar_features(count, rng, first_frame=start * 5)
            for name in ("deform", "area_um", "frame"):
                hw.store_feature(name, feats[name])
            for name, data in simulate_images(feats, rng).items():
                hw.store_feature(name, data)


def measure(func: Callable[[], Any]) -> tuple[float, float]:
    """Seconds and peak allocated MB of one call."""
    tracemalloc.start()
    t0 = time.perf_counter()
    func()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 1024**2


def report(operation: str, events: int, seconds: float, peak_mb: float) -> None:
    print(json.dumps({"operation": operation, "events": events,
                      "seconds": round(seconds, 4),
                      "events_per_s": round(events / seconds),
                      "peak_mb": round(peak_mb, 1)}), flush=True)


def bench_kernels(path: pathlib.Path, num: int, repeat: int) -> None:
    """Time the kernels on chunks of events held in memory."""
    with cytolab.new_dataset(path) as ds:
        chunks = [(np.asarray(ds["mask"][sl]), np.asarray(ds["image"][sl]),
                   np.asarray(ds["image_bg"][sl]))
                  for sl in (slice(s, s + KERNEL_CHUNK)
                             for s in range(0, num, KERNEL_CHUNK))]
    kernels = {
        "kernel:bright_avg+bright_sd":
            lambda: [bright_features(m, i) for m, i, _ in chunks],
        "kernel:bright_bc_avg+sd+perc_10+perc_90":
            lambda: [bright_bc_features(m, i, b) for m, i, b in chunks],
        "kernel:tex_* (22 features)":
            lambda: [texture_features(m, i, b) for m, i, b in chunks],
    }
    for name, func in kernels.items():
        runs = [measure(func) for _ in range(repeat)]
        report(name, num, min(r[0] for r in runs), max(r[1] for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions; the best time is reported")
    args = parser.parse_args()
    num = args.events
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bench_images.rtdc"
        write_image_file(path, num)

        # kernels alone, on chunks already in memory (time excludes reading)
        bench_kernels(path, num, args.repeat)

        # through the dataset: read + decompress + compute, streamed
        features = {
            "dataset:bright_avg+bright_sd": "bright_avg",
            "dataset:bright_bc_avg+sd+perc_10+perc_90": "bright_bc_avg",
            "dataset:tex_* (22 features)": "tex_asm_avg",
        }
        for name, feat in features.items():
            runs = []
            for _ in range(args.repeat):
                with cytolab.new_dataset(path) as ds:
                    runs.append(measure(lambda ds=ds, feat=feat: ds[feat]))
            report(name, num, min(r[0] for r in runs), max(r[1] for r in runs))


if __name__ == "__main__":
    main()
