"""Benchmark: open and convert legacy TDMS measurements (``cytolab tdms2rtdc``).

Prints one JSON line per result. Measures

* the largest real archive (``fmt-tdms_fl-image-large-fov_2017``, 1279
  events, if ``../shared/data`` is there): open, convert;
* a synthetic measurement (default 20,000 events with 250 x 80 px video
  frames, contours and traces): open, read all images in order, convert;
  the peak of memory allocated while converting (tracemalloc), to show that
  memory does not grow with the number of events.

Usage: ``python benchmarks/bench_tdms2rtdc.py [EVENTS]``
"""
from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile

import cv2
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ARCHIVE = HERE.parents[1] / "shared" / "data" / "rtdc" / \
    "fmt-tdms_fl-image-large-fov_2017.zip"


def report(**kwargs) -> None:
    print(json.dumps(kwargs), flush=True)


def make_measurement(folder: pathlib.Path, num: int, width: int = 250,
                     height: int = 80, samples: int = 100) -> pathlib.Path:
    """A Shape-In-like measurement with video, contours and traces."""
    import imageio_ffmpeg
    import nptdms

    from cytolab.features.contour import get_contour

    rng = np.random.default_rng(42)
    folder.mkdir(parents=True, exist_ok=True)
    frame = 100 + np.cumsum(rng.integers(1, 20, num))
    x_px = rng.integers(20, width - 20, num)
    y_px = rng.integers(20, height - 20, num)
    table = {"time": frame.astype(np.float32),
             "x": (x_px * 0.34).astype(np.float32),
             "y": (y_px * 0.34).astype(np.float32),
             "circularity": rng.uniform(0.8, 1, num).astype(np.float32),
             "area": rng.uniform(50, 300, num).astype(np.float32),
             "FL1index": (np.arange(num) * samples).astype(np.int32)}
    path = folder / "M1_data.tdms"
    with nptdms.TdmsWriter(str(path)) as writer:
        writer.write_segment([nptdms.ChannelObject("Cell Track", k, v)
                              for k, v in table.items()])
    (folder / "M1_para.ini").write_text(
        "[General]\nMeasurement Number = 1\nVideo Frame Offset = 0\n"
        "[Image]\nPix Size = 0.34\n")
    (folder / "M1_camera.ini").write_text(
        f"[Framerate]\nFrame Rate = 2000\n[ROI]\nwidth = {width}\n"
        f"height = {height}\n")
    gen = imageio_ffmpeg.write_frames(str(folder / "M1_imaq.avi"), (width, height),
                                      pix_fmt_in="gray", pix_fmt_out="gray",
                                      codec="rawvideo", fps=30, macro_block_size=1)
    gen.send(None)
    with (folder / "M1_data_contours.txt").open("w") as fd:
        for ii in range(num):
            img = rng.integers(90, 110, (height, width), dtype=np.uint8)
            mask = np.zeros((height, width), dtype=np.uint8)
            cv2.ellipse(mask, (int(x_px[ii]), int(y_px[ii])), (9, 7), 0, 0, 360, 1,
                        -1)
            img[mask.astype(bool)] = 40
            gen.send(img.tobytes())
            fd.write(f"Contour in frame {frame[ii]} \n")
            fd.write("\n".join(f"( {x} , {y} )" for x, y in get_contour(mask)))
            fd.write("\n\n")
    gen.close()
    stream = rng.integers(-100, 1000, num * samples).astype(np.int16)
    with nptdms.TdmsWriter(str(folder / "M1_data_traces.tdms")) as writer:
        writer.write_segment([
            nptdms.ChannelObject("fluorescence traces", "FL1raw", stream),
            nptdms.ChannelObject("fluorescence traces", "FL1med", stream // 2)])
    return path


def bench(label: str, path: pathlib.Path, out: pathlib.Path) -> None:
    from cytolab.cli import tdms2rtdc
    from cytolab.rtdc.formats.tdms import RTDC_TDMS

    size = sum(p.stat().st_size for p in path.parent.iterdir() if p.is_file())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ds = RTDC_TDMS(path)
        t_open = time.perf_counter() - t0
        events = len(ds)
        if "image" in ds:
            t0 = time.perf_counter()
            for ii in range(events):
                ds["image"][ii]
            report(bench="tdms_read_images", data=label, events=events,
                   seconds=round(time.perf_counter() - t0, 3))
        ds.close()
        report(bench="tdms_open", data=label, events=events,
               seconds=round(t_open, 3))
        best = np.inf
        for _ in range(2):
            t0 = time.perf_counter()
            tdms2rtdc(path, out)
            best = min(best, time.perf_counter() - t0)
        tracemalloc.start()  # a separate run: tracing slows the conversion
        tdms2rtdc(path, out)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    report(bench="tdms2rtdc", data=label, events=events, input_mb=round(size / 1e6, 1),
           output_mb=round(out.stat().st_size / 1e6, 1), seconds=round(best, 3),
           events_per_s=round(events / best), peak_traced_mb=round(peak / 1e6, 1))


def main() -> None:
    num = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        if ARCHIVE.exists():
            with zipfile.ZipFile(ARCHIVE) as zf:
                zf.extractall(tmp / "real")
            bench(ARCHIVE.stem, next((tmp / "real").glob("*.tdms")),
                  tmp / "real.rtdc")
        t0 = time.perf_counter()
        path = make_measurement(tmp / "syn", num)
        report(bench="make_synthetic_tdms", events=num,
               seconds=round(time.perf_counter() - t0, 1))
        bench(f"synthetic-{num}", path, tmp / "syn.rtdc")
        if num >= 4000:  # memory must not grow with the number of events
            small = make_measurement(tmp / "small", num // 4)
            bench(f"synthetic-{num // 4}", small, tmp / "small.rtdc")


if __name__ == "__main__":
    main()
