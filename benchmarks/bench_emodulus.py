"""Benchmark: Young's modulus of 1,000,000 events from the LE-2D-FEM-19 LUT.

Draws N (default 1,000,000) random (area_um, deform) pairs that lie inside
the look-up table at the measurement's conditions (channel width 20 µm,
flow rate 0.16 µL/s, pixel size 0.34 µm, 0.49% MC-PBS at 23 °C with the
buyukurganci-2022 model) and times :func:`cytolab.features.emodulus.get_emodulus`:

* the first call (reads the LUT and builds its triangulation and grid),
* later calls (the interpolator is cached per LUT).

With ``--compare`` it also runs :func:`scipy.interpolate.griddata` on the same
normalised points (what the reference tool does) and reports its time and
the largest difference between the two.

The LUT files come from the data cache (``CYTOLAB_DATA_CACHE``; when unset
and ``../shared/data/emodulus`` exists next to the checkout, that folder).

Prints one JSON line per result:
``{"operation", "events", "seconds", "events_per_s", ...}``.

Usage: ``python benchmarks/bench_emodulus.py [--events N] [--repeat R] [--compare]``
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import time
import warnings

import numpy as np

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "emodulus"
if "CYTOLAB_DATA_CACHE" not in os.environ and SHARED.is_dir():
    os.environ["CYTOLAB_DATA_CACHE"] = str(SHARED)

from cytolab.features import emodulus as em  # noqa: E402

CONDITIONS = dict(medium="0.49% MC-PBS", channel_width=20.0, flow_rate=0.16,
                  px_um=0.34, temperature=23.0, visc_model="buyukurganci-2022",
                  lut_data="LE-2D-FEM-19")


def report(operation: str, events: int, seconds: float, **extra: object) -> None:
    print(json.dumps({"operation": operation, "events": events,
                      "seconds": round(seconds, 4),
                      "events_per_s": round(events / seconds), **extra}), flush=True)


def random_events(num: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`num` (area_um, deform) pairs inside the LUT at CONDITIONS."""
    lut, _ = em.load_lut(CONDITIONS["lut_data"])
    rng = np.random.default_rng(seed)
    area, deform = np.empty(0), np.empty(0)
    while area.size < num:
        a = rng.uniform(lut[:, 0].min(), lut[:, 0].max() * 2, 2 * num)
        d = rng.uniform(0, lut[:, 1].max(), 2 * num)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inside = np.isfinite(em.get_emodulus(d, area_um=a, **CONDITIONS))
        area = np.concatenate([area, a[inside]])
        deform = np.concatenate([deform, d[inside]])
    return area[:num], deform[:num]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", action="store_true",
                        help="also time scipy griddata and compare values")
    args = parser.parse_args()
    area, deform = random_events(args.events)

    em._INTERPOLATORS.clear()
    t0 = time.perf_counter()
    emod = em.get_emodulus(deform, area_um=area, **CONDITIONS)
    report("get_emodulus:first_call(LE-2D-FEM-19)", args.events,
           time.perf_counter() - t0)
    best = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        emod = em.get_emodulus(deform, area_um=area, **CONDITIONS)
        best = min(best, time.perf_counter() - t0)
    report("get_emodulus(LE-2D-FEM-19)", args.events, best,
           nan=int(np.isnan(emod).sum()))

    if args.compare:
        from scipy.interpolate import griddata
        lut, meta = em.load_lut(CONDITIONS["lut_data"])
        norms = lut[:, :2].max(axis=0)
        # the same inputs get_emodulus interpolates at (LUT frame, normalised)
        x = area * (meta["channel_width"] / CONDITIONS["channel_width"]) ** 2 / norms[0]
        y = (deform - em.pxcorr.corr_deform_with_area_um(area, 0.34)) / norms[1]
        t0 = time.perf_counter()
        ref = griddata(lut[:, :2] / norms, lut[:, 2], (x, y), method="linear")
        seconds = time.perf_counter() - t0
        ours = em._interpolator(lut)[0](x, y)
        report("scipy.griddata(LE-2D-FEM-19)", args.events, seconds,
               max_abs_diff=float(np.nanmax(np.abs(ours - ref))),
               nan_mismatch=int(np.sum(np.isnan(ours) != np.isnan(ref))))


if __name__ == "__main__":
    main()
