"""Benchmark: box and polygon filtering of a large dataset.

Builds an in-memory dataset of N events (default 1,000,000) with the
simulated scalar features, then times ``ds.apply_filter()`` (from a fresh
filter, data in memory) for

* a box filter on two features (``deform`` and ``area_um``),
* a 20-vertex polygon filter on ``area_um``/``deform``,
* both together, and
* a repeated ``apply_filter()`` with nothing changed (cached).

Prints one JSON line per result: ``{"operation", "events", "seconds",
"events_per_s"}`` (best of ``--repeat`` runs).

Usage: ``python benchmarks/bench_filter.py [--events N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import cytolab
from cytolab.simulate import simulate_scalar_features


def polygon(n_vertices: int = 20) -> np.ndarray:
    phi = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    radius = 1 + 0.3 * np.cos(3 * phi)  # concave, not axis aligned
    return np.column_stack((60 + 30 * radius * np.cos(phi),
                            0.05 + 0.03 * radius * np.sin(phi)))


def timed(func, repeat: int, setup=None) -> float:
    best = np.inf
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.events
    data = {k: v for k, v in simulate_scalar_features(n, np.random.default_rng(0))
            .items() if not k.startswith("_")}
    pf = cytolab.PolygonFilter(axes=("area_um", "deform"), points=polygon())

    def fresh(box: bool, poly: bool):
        ds = cytolab.new_dataset(data)
        if box:
            ds.config["filtering"].update({"deform min": 0.01, "deform max": 0.1,
                                           "area_um min": 20, "area_um max": 150})
        if poly:
            ds.polygon_filter_add(pf)
        return ds

    for name, box, poly in [("filter box (2 features)", True, False),
                            ("filter polygon (20 vertices)", False, True),
                            ("filter box + polygon", True, True)]:
        ds = fresh(box, poly)
        seconds = timed(ds.apply_filter, args.repeat, setup=ds.filter.reset)
        print(json.dumps({"operation": name, "events": n, "seconds": seconds,
                          "events_per_s": n / seconds}))
    ds = fresh(True, True)
    ds.apply_filter()
    seconds = timed(ds.apply_filter, args.repeat)
    print(json.dumps({"operation": "filter box + polygon, unchanged (cached)",
                      "events": n, "seconds": seconds,
                      "events_per_s": n / seconds}))


if __name__ == "__main__":
    main()
