"""Benchmark: density colouring, contour grids and downsampling of scatter plots.

Lognormal area_um/deform data (area ~ lognormal(ln 60, 0.3), deform ~
lognormal(ln 0.02, 0.4)) in an in-memory dataset; every operation goes
through the dataset methods (filters included), best of ``--repeat`` runs:

* ``get_kde_scatter`` with the histogram KDE, 1,000,000 events;
* ``get_kde_contour`` (histogram KDE, automatic spacing), 1,000,000 events;
* ``get_downsampled_scatter`` 1,000,000 -> 5,000 events;
* ``get_kde_scatter`` with the multivariate KDE (bandwidths = percentile
  spacing), 10,000, 100,000 and 1,000,000 events, each with the largest
  relative deviation from the exact kernel sum, evaluated by brute force at
  ``--check`` random events, among the positions whose exact density
  exceeds 1 % of the maximum there.

Prints one JSON line per result:
``{"operation", "events", "seconds", ...}``.

Usage: ``python benchmarks/bench_kde.py [--repeat R] [--check M]``
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import cytolab
from cytolab.analysis import kde_methods
from cytolab.analysis._kernels import gaussian_sum


def report(operation: str, events: int, seconds: float, **extra: object) -> None:
    print(json.dumps({"operation": operation, "events": events,
                      "seconds": round(seconds, 4), **extra}), flush=True)


def dataset(num: int, seed: int = 0) -> cytolab.RTDCBase:
    rng = np.random.default_rng(seed)
    return cytolab.new_dataset({
        "area_um": rng.lognormal(np.log(60), 0.3, num),
        "deform": rng.lognormal(np.log(0.02), 0.4, num),
    })


def best(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - t0)
    return min(times), result


def deviation(ds: cytolab.RTDCBase, density: np.ndarray, check: int) -> float:
    """Largest relative deviation from the exact multivariate estimate."""
    x, y = np.asarray(ds["area_um"]), np.asarray(ds["deform"])
    bw = (kde_methods.bin_width_percentile(x), kde_methods.bin_width_percentile(y))
    pick = np.random.default_rng(1).choice(x.size, min(check, x.size),
                                           replace=False)
    exact = gaussian_sum(x, y, x[pick], y[pick], *bw, method="exact")
    dense = exact > 0.01 * exact.max()
    return float(np.max(np.abs(density[pick][dense] / exact[dense] - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--check", type=int, default=1000,
                        help="events compared with the exact estimate")
    args = parser.parse_args()

    ds = dataset(1_000_000)
    ds.get_kde_scatter()  # warm up (imports, first reads)
    seconds, _ = best(lambda: ds.get_kde_scatter(kde_type="histogram"),
                      args.repeat)
    report("get_kde_scatter:histogram", len(ds), seconds)
    seconds, (xg, _, _) = best(lambda: ds.get_kde_contour(), args.repeat)
    report("get_kde_contour:histogram", len(ds), seconds, grid=list(xg.shape))
    seconds, (xs, _) = best(
        lambda: ds.get_downsampled_scatter(downsample=5000), args.repeat)
    report("get_downsampled_scatter:5000", len(ds), seconds, kept=int(xs.size))

    for num in (10_000, 100_000, 1_000_000):
        dsm = dataset(num, seed=2)
        seconds, density = best(
            lambda dsm=dsm: dsm.get_kde_scatter(kde_type="multivariate"),
            max(1, args.repeat // 2))
        report("get_kde_scatter:multivariate", num, seconds,
               max_rel_deviation=round(deviation(dsm, density, args.check), 5))


if __name__ == "__main__":
    main()
