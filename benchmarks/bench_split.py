"""Benchmark: split a large measurement with images, then join the parts again.

Simulates N events (default 100,000) with images, masks and background
images of 80 x 250 pixels (the image stack alone is 2 GB uncompressed; with
masks and backgrounds 6 GB), splits the file into parts of M events (default
10,000) with :func:`cytolab.cli.split` and joins the parts back into one file
with :func:`cytolab.cli.join` (which reads every image through the parts'
basins and writes it again), then checks that the joined file holds exactly
the events of the simulated one.

Each operation runs in its own Python process, started by a small monitor
process that reports ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the
peak resident memory of that one child. Compare it with the size of the image
data: bounded memory means the peak does not follow the file size.

Prints one JSON line per result:
``{"operation", "events", "seconds", "peak_rss_mb", ...}``.

Usage: ``python benchmarks/bench_split.py [--events N] [--split-events M]
[--dir DIR] [--keep]``
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

ROI = (80, 250)


# ------------------------------------------------------------ worker side
def op_simulate(spec: dict[str, Any]) -> dict[str, Any]:
    from cytolab.simulate import simulate_rtdc

    path = pathlib.Path(spec["src"])
    t0 = time.perf_counter()
    # 1,000 images per block keep the simulator's own memory low
    simulate_rtdc(path, num_events=spec["events"], images=True, seed=1,
                  chunk_size=20_000, progress=False)
    return {"seconds": time.perf_counter() - t0,
            "file_mb": path.stat().st_size / 1e6}


def op_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """Import cytolab, open the file, read one scalar feature and one image."""
    import cytolab

    t0 = time.perf_counter()
    with cytolab.new_dataset(spec["src"]) as ds:
        _ = ds["deform"].sum(), ds["image"][len(ds) // 2].sum()
    return {"seconds": time.perf_counter() - t0}


def op_split(spec: dict[str, Any]) -> dict[str, Any]:
    from cytolab.cli import split

    t0 = time.perf_counter()
    parts = split(spec["src"], path_out=spec["parts_dir"],
                  split_events=spec["split_events"])
    return {"seconds": time.perf_counter() - t0, "parts": len(parts),
            "parts_mb": sum(p.stat().st_size for p in parts) / 1e6}


def op_join(spec: dict[str, Any]) -> dict[str, Any]:
    from cytolab.cli import join

    parts = sorted(pathlib.Path(spec["parts_dir"]).glob("*.rtdc"))
    t0 = time.perf_counter()
    out = join(parts, spec["joined"])
    return {"seconds": time.perf_counter() - t0, "inputs": len(parts),
            "file_mb": out.stat().st_size / 1e6}


def op_verify(spec: dict[str, Any]) -> dict[str, Any]:
    """Compare the joined file with the simulated one, block by block."""
    import numpy as np

    import cytolab

    t0 = time.perf_counter()
    differing = []
    with cytolab.new_dataset(spec["src"]) as src, \
            cytolab.new_dataset(spec["joined"]) as out:
        assert len(src) == len(out)
        for feat in src.features_innate + ["time"]:
            if cytolab.dfn.scalar_feature_exists(feat):
                same = np.array_equal(src[feat], out[feat])
            else:
                same = all(np.array_equal(src[feat][a:a + 2000],
                                          out[feat][a:a + 2000])
                           for a in range(0, len(src), 2000))
            if not same:
                differing.append(feat)
        # the simulator restarts index_online at each block of events it
        # simulates (it decreases there); where that happens at the start of
        # a part, join shifts the part's index_online to continue
        result = {
            "seconds": time.perf_counter() - t0,
            "identical": not differing, "differing": differing,
            "index_online_decreases_in_input": _decreases(src["index_online"]),
            "index_online_decreases_in_output": _decreases(out["index_online"]),
        }
    return result


def _decreases(values: Any) -> int:
    import numpy as np

    return int(np.count_nonzero(np.diff(np.asarray(values)) <= 0))


OPERATIONS = {"simulate": op_simulate, "baseline": op_baseline,
              "split": op_split, "join": op_join, "verify": op_verify}


# ----------------------------------------------------------- monitor side
def run_measured(op: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `op` in a monitor process; return its result and peak memory."""
    proc = subprocess.run([sys.executable, __file__, "--monitor", op,
                           json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"{op} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def monitor(op: str, spec_json: str) -> None:
    proc = subprocess.run([sys.executable, __file__, "--worker", op, spec_json],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        sys.exit(proc.returncode)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Linux reports kilobytes; only the worker was a child of this process
    result["peak_rss_mb"] = resource.getrusage(
        resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def worker(op: str, spec_json: str) -> None:
    print(json.dumps(OPERATIONS[op](json.loads(spec_json))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--split-events", type=int, default=10_000)
    parser.add_argument("--dir", type=pathlib.Path, default=None,
                        help="work folder (default: a temporary one); an "
                        "existing simulated file there is reused")
    parser.add_argument("--keep", action="store_true",
                        help="keep the files (with --dir)")
    parser.add_argument("--monitor", nargs=2, metavar=("OP", "SPEC"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("OP", "SPEC"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.monitor:
        return monitor(*args.monitor)
    if args.worker:
        return worker(*args.worker)

    work = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="bench_split_"))
    work.mkdir(parents=True, exist_ok=True)
    n = args.events
    src = work / f"sim_{n}.rtdc"
    parts_dir = work / "parts"
    joined = work / "joined.rtdc"
    shutil.rmtree(parts_dir, ignore_errors=True)
    parts_dir.mkdir()
    joined.unlink(missing_ok=True)
    spec = {"src": str(src), "events": n, "parts_dir": str(parts_dir),
            "joined": str(joined), "split_events": args.split_events}
    image_gb = n * ROI[0] * ROI[1] / 1e9
    common = {"events": n, "image_data_gb": round(image_gb, 2),
              "image_mask_bg_data_gb": round(3 * image_gb, 2)}
    try:
        if not src.exists():
            res = run_measured("simulate", spec)
            print(json.dumps({"operation": "simulate_with_images", **common,
                              **_rounded(res)}))
        for op in ("baseline", "split", "join", "verify"):
            res = run_measured(op, spec)
            extra = {"split_events": args.split_events} if op == "split" else {}
            print(json.dumps({"operation": op, **common, **extra,
                              **_rounded(res)}))
    finally:
        if not (args.keep and args.dir):
            shutil.rmtree(work, ignore_errors=True)


def _rounded(result: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v
            for k, v in result.items()}


if __name__ == "__main__":
    main()
