"""The event-extraction pipeline: raw frames in, events with features out.

:func:`run` reads the frames of a measurement in chunks, computes the
background, segments, gates and measures every object in worker processes,
and writes the events in frame order to a new ``.rtdc`` file:

* new features and per-event masks are stored; the raw images are not
  copied but linked by a mapped basin to the input file;
* sparse-median backgrounds are stored once each, as an internal basin that
  every event maps into; rolling-median backgrounds are stored per event;
* per-frame scalars of the input (``time``, ``temp``, ``flow_rate``, ...) are
  copied to each event of the frame;
* the ``pipeline:dcnum ...`` metadata hold the identifiers of every step and
  their hash; ``logs/cytolab-process`` holds the job (options, identifiers,
  timings, versions) and ``logs/cytolab-process-warnings`` what needs the
  user's attention.

The output is written under a temporary name and renamed when complete: a
failure (a dead worker, a full disk, a corrupt input chunk, Ctrl+C) never
leaves a partial file under the final name. Results are deterministic: the
same input and options give the same feature data, whatever the number of
worker processes.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import pathlib
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import h5py
import numpy as np

from .._progress import progress_bar
from ..errors import CytolabError, FileFormatError, PipelineWarning
from ..io.arrays import get_mapping_indices
from ..io.files import atomic_path, get_measurement_identifier
from ..io.flicker import detect_flickering
from ..io.hdf5data import HDF5Data
from ..io.joblog import get_command_log
from ..io.ppid import index_mapping_to_ppid, ppid_hash
from ..io.transfer import copy_metadata
from ..io.writer import HDF5Writer
from .background import Background, SparseMedian, get_background
from .extract import FeatureExtractor, Gate, get_extractor, get_gate
from .segment import Segmenter, get_segmenter

#: Version of the pipeline; raised whenever results change for the same options.
PIPELINE_GENERATION = "1"

#: Fraction of discarded objects above which the job log warns.
DISCARD_WARN_FRACTION = 0.005

#: Suffix of output files (default output name: input stem + suffix).
OUTPUT_SUFFIX = "_processed.rtdc"

#: Frames per chunk handed to a worker.
DEFAULT_CHUNK_SIZE = 250


class PipelineError(CytolabError):
    """The pipeline could not complete; no output was written."""


class _Job:
    """Everything a worker needs to process a chunk (picklable)."""

    def __init__(self, path: pathlib.Path, index_mapping: Any, pixel_size: float,
                 background: Background, segmenter: Segmenter,
                 extractor: FeatureExtractor, gate: Gate) -> None:
        self.path = path
        self.index_mapping = index_mapping
        self.pixel_size = pixel_size
        self.background = background
        self.segmenter = segmenter
        self.extractor = extractor
        self.gate = gate
        self.token = uuid.uuid4().hex
        self._data: HDF5Data | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_data"] = None
        state["_bg_state"] = self.background.state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        bg_state = state.pop("_bg_state")
        self.__dict__.update(state)
        self.background.set_state(bg_state)

    @property
    def data(self) -> HDF5Data:
        if self._data is None:
            self._data = HDF5Data(self.path, pixel_size=self.pixel_size,
                                  index_mapping=self.index_mapping)
        return self._data

    def close(self) -> None:
        if self._data is not None:
            self._data.close()
            self._data = None

    def process(self, start: int, stop: int) -> dict[str, Any]:
        """Events of frames ``start:stop`` (indices after index mapping)."""
        data = self.data
        try:
            images = np.asarray(data.image[start:stop])
            bg_stack, bg_index, bg_off = self.background.compute(
                data, start, stop, images)
        except (OSError, KeyError, ValueError) as exc:
            raise FileFormatError(
                f"Cannot read frames {start} to {stop - 1} of '{self.path}': "
                f"{exc}") from None
        backgrounds = bg_stack[bg_index]
        objects = self.segmenter.segment(images, backgrounds, bg_off)
        min_area = int(self.gate.kwargs["min_area"])
        counted = int(np.count_nonzero(objects.area >= min_area))
        objects = objects.select(self.gate.keep(objects))
        fidx = objects.frame
        masks = objects.masks()
        ev_off = None if bg_off is None else bg_off[fidx]
        feats = self.extractor.extract(masks, images[fidx], backgrounds[fidx],
                                       ev_off, self.pixel_size)
        if ev_off is not None:
            feats["bg_off"] = ev_off
        # 0/255 like every .rtdc mask; converted here, in parallel
        masks = masks.view(np.uint8) * np.uint8(255)
        # per-event backgrounds are stored only when each frame has its own
        # (rolling median); others are stored once or live in the input
        per_event_bg = backgrounds[fidx] if self.background.code == "rollmed" \
            else None
        return {"frame_index": fidx + start, "features": feats, "mask": masks,
                "bg_index": bg_index[fidx], "image_bg": per_event_bg,
                "counted": counted, "frames": stop - start}


#: The job a worker process is working on (reused while its token is the same,
#: so the input file is opened once per worker, not once per chunk).
_WORKER_JOB: _Job | None = None


def _work(job: _Job, start: int, stop: int) -> dict[str, Any]:
    global _WORKER_JOB
    if _WORKER_JOB is None or _WORKER_JOB.token != job.token:
        if _WORKER_JOB is not None:
            _WORKER_JOB.close()
        _WORKER_JOB = job
    return _WORKER_JOB.process(start, stop)


def _noop() -> None:
    """Warm-up task: makes the pool start its workers."""


def start_pool(num_procs: int) -> cf.ProcessPoolExecutor:
    """Worker processes, started before any file is opened.

    On Linux the workers are forked (instant start-up) while this process
    holds no open HDF5 file. Forking is only safe without other threads (a
    lock held by one would stay locked in the child), so when other threads
    run (e.g. a Dask client's event loop) the workers come from a fork
    server instead.
    """
    if sys.platform.startswith("linux"):
        method = "fork" if threading.active_count() == 1 else "forkserver"
    else:
        method = "spawn"
    pool = cf.ProcessPoolExecutor(max_workers=num_procs,
                                  mp_context=multiprocessing.get_context(method))
    for fut in [pool.submit(_noop) for _ in range(num_procs)]:
        fut.result()
    return pool


def _chunks(num: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, num)) for a in range(0, num, size)]


def _results_in_order(job: _Job, chunks: list[tuple[int, int]],
                      pool: cf.ProcessPoolExecutor | None, num_procs: int
                      ) -> Iterator[dict[str, Any]]:
    """Chunk results in frame order, computed by `pool` (or here if None).

    At most two chunks per worker are in flight, which bounds memory.
    """
    if pool is None:
        for start, stop in chunks:
            yield job.process(start, stop)
        return
    pending: dict[int, cf.Future] = {}
    todo = iter(enumerate(chunks))
    try:
        for _ in range(2 * num_procs):
            _submit_next(pool, job, todo, pending)
        nxt = 0
        while pending:
            result = pending.pop(nxt).result()
            nxt += 1
            _submit_next(pool, job, todo, pending)
            yield result
    except BrokenProcessPool:
        raise PipelineError(
            f"A worker process died while processing '{job.path}' (killed, "
            f"out of memory or crashed); no output was written") from None
    finally:
        for fut in pending.values():
            fut.cancel()


def _submit_next(pool: cf.ProcessPoolExecutor, job: _Job, todo: Iterator,
                 pending: dict[int, cf.Future]) -> None:
    item = next(todo, None)
    if item is not None:
        index, (start, stop) = item
        pending[index] = pool.submit(_work, job, start, stop)


def _choose_background(data: HDF5Data, background: Any,
                       background_kwargs: Mapping[str, Any] | None,
                       notes: list[str]) -> Background:
    if background is None and not background_kwargs:
        flicker = bool(detect_flickering(data))
        if flicker:
            notes.append("Flickering illumination detected: using the sparse "
                         "median background with offset correction")
        return get_background("sparsemed", offset_correction=flicker)
    return get_background(background, **(background_kwargs or {}))


def _default_output(path_in: pathlib.Path) -> pathlib.Path:
    return path_in.with_name(path_in.stem + OUTPUT_SUFFIX)


def run(path_in: str | os.PathLike, path_out: str | os.PathLike | None = None, *,
        background: str | Background | None = None,
        background_kwargs: Mapping[str, Any] | None = None,
        segmenter: str | Segmenter | None = "thresh",
        segmenter_kwargs: Mapping[str, Any] | None = None,
        feature: str | FeatureExtractor | None = "legacy",
        feature_kwargs: Mapping[str, Any] | None = None,
        gate: str | Gate | None = "norm",
        gate_kwargs: Mapping[str, Any] | None = None,
        index_mapping: int | slice | list | np.ndarray | None = None,
        pixel_size: float | None = None, num_procs: int | None = None,
        chunk_size: int | None = None, overwrite: bool = False,
        progress: bool | None = None) -> pathlib.Path:
    """Extract events from the raw frames of a measurement.

    Parameters
    ----------
    path_in
        Input ``.rtdc`` file with raw ``image`` data (one frame per event).
    path_out
        Output file; default ``<input stem>_processed.rtdc`` next to the
        input.
    background, background_kwargs
        Background method (``"sparsemed"``, ``"rollmed"``, ``"copy"``, a full
        identifier such as ``"rollmed:k=50"``, or an instance) and its
        keywords. Default: sparse median, with offset correction when
        :func:`~cytolab.io.flicker.detect_flickering` finds flickering.
    segmenter, segmenter_kwargs
        Segmenter (default ``"thresh"``, threshold -6) and keywords, including
        the post-processing keywords ``clear_border``, ``fill_holes`` and
        ``closing_disk``.
    feature, feature_kwargs
        Feature extractor (``"legacy"``) and keywords (``brightness``,
        ``haralick``, ``volume``).
    gate, gate_kwargs
        Gate (``"norm"``) and keywords (``min_area``, ``max_area``,
        ``exclude_border``).
    index_mapping
        Process only part of the input: the first N frames (int), a slice,
        or a list of frame indices.
    pixel_size
        Pixel size [µm] overriding ``imaging:pixel size`` of the input.
    num_procs
        Worker processes (default: number of CPUs; 1 runs in this process).
    chunk_size
        Frames per work unit (default: 250); memory grows with it.
    overwrite
        Replace an existing output file.
    progress
        Show a progress bar (default: when on a terminal).

    Returns
    -------
    pathlib.Path
        The output file.

    Raises
    ------
    FileFormatError
        Missing, corrupt or truncated input, or input without images.
    FileExistsError
        The output exists and `overwrite` is False.
    PipelineError
        A worker died or the output could not be written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from cytolab.simulate import simulate_frames
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = simulate_frames(tmp / "raw.rtdc", num_frames=200, seed=1)
    >>> out = run(tmp / "raw.rtdc", num_procs=1, progress=False)
    >>> out.name
    'raw_processed.rtdc'
    """
    t_start = time.perf_counter()
    path_in = pathlib.Path(path_in)
    path_out = _default_output(path_in) if path_out is None else pathlib.Path(path_out)
    if path_out.resolve() == path_in.resolve():
        raise ValueError(f"Output '{path_out}' must differ from the input")
    if path_out.exists() and not overwrite:
        raise FileExistsError(f"Output file '{path_out}' exists; pass "
                              f"overwrite=True to replace it")
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    num_procs = int(num_procs or os.cpu_count() or 1)
    # workers start first, while no file is open, and warm up meanwhile
    pool = start_pool(num_procs) if num_procs > 1 else None
    try:
        return _run(path_in, path_out, pool, num_procs, t_start, background,
                    background_kwargs, segmenter, segmenter_kwargs, feature,
                    feature_kwargs, gate, gate_kwargs, index_mapping, pixel_size,
                    int(chunk_size), progress)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run(path_in: pathlib.Path, path_out: pathlib.Path,
         pool: cf.ProcessPoolExecutor | None, num_procs: int, t_start: float,
         background: Any, background_kwargs: Any, segmenter: Any,
         segmenter_kwargs: Any, feature: Any, feature_kwargs: Any, gate: Any,
         gate_kwargs: Any, index_mapping: Any, pixel_size: float | None,
         chunk_size: int, progress: bool | None) -> pathlib.Path:
    notes: list[str] = []
    with HDF5Data(path_in, pixel_size=pixel_size,
                  index_mapping=index_mapping) as data:
        if data.image is None:
            raise FileFormatError(f"'{path_in}' has no image data to process")
        pix = data.pixel_size
        if not pix or not np.isfinite(pix) or pix <= 0:
            raise FileFormatError(f"'{path_in}' has no valid 'imaging:pixel size' "
                                  f"({pix!r}); pass pixel_size")
        bg = _choose_background(data, background, background_kwargs, notes)
        seg = get_segmenter(segmenter, **(segmenter_kwargs or {}))
        ext = get_extractor(feature, **(feature_kwargs or {}))
        gat = get_gate(gate, **(gate_kwargs or {}))
        t_bg = time.perf_counter()
        bg.prepare(data)
        t_bg = time.perf_counter() - t_bg
        job = _Job(path_in.resolve(), index_mapping, pix, bg, seg, ext, gat)
        ppids = {"data": data.get_ppid(), "background": bg.ppid,
                 "segmenter": seg.ppid, "feature": ext.ppid, "gate": gat.ppid}
        with atomic_path(path_out) as tmp:
            try:
                stats = _write_output(tmp, data, job, pool, num_procs, chunk_size,
                                      progress, ppids)
            except (OSError, RuntimeError) as exc:
                # h5py reports failed writes (full disk, size limit) as
                # OSError or, when flushing, as RuntimeError
                if isinstance(exc, FileFormatError) or (
                        isinstance(exc, RuntimeError) and "write" not in str(exc)):
                    raise
                raise PipelineError(f"Could not write '{path_out}': "
                                    f"{str(exc).splitlines()[0]}") from exc
            stats["background seconds"] = round(t_bg, 3)
            stats["total seconds"] = round(time.perf_counter() - t_start, 3)
            stats["frames per second"] = round(
                len(data) / max(stats["total seconds"], 1e-9), 1)
            _write_logs(tmp, path_in, path_out, data, job, ppids, stats, notes,
                        num_procs, chunk_size)
    return path_out


class _ScalarBuffer:
    """Collects scalar features of many chunks and writes them in one go.

    Each HDF5 append costs about a millisecond whatever its size, so fewer,
    larger appends keep the writing process from becoming the bottleneck.
    """

    def __init__(self, writer: HDF5Writer, flush_events: int = 50_000) -> None:
        self.writer = writer
        self.flush_events = flush_events
        self.parts: dict[str, list[np.ndarray]] = {}
        self.size = 0

    def add(self, feats: Mapping[str, np.ndarray]) -> None:
        for name, values in feats.items():
            self.parts.setdefault(name, []).append(np.asarray(values))
        self.size += len(next(iter(feats.values()), ()))
        if self.size >= self.flush_events:
            self.flush()

    def flush(self) -> None:
        for name in sorted(self.parts):
            self.writer.store_feature_chunk(name, np.concatenate(self.parts[name]))
        self.parts.clear()
        self.size = 0


def _write_output(tmp: pathlib.Path, data: HDF5Data, job: _Job,
                  pool: cf.ProcessPoolExecutor | None, num_procs: int,
                  chunk_size: int, progress: bool | None,
                  ppids: Mapping[str, str]) -> dict[str, Any]:
    num_frames = len(data)
    bg = job.background
    counted = kept = nan_events = 0
    input_index = None if data.index_mapping is None else get_mapping_indices(
        data.index_mapping, size=len(data.h5["events/image"]))
    frame_values = {f: np.asarray(data[f]) for f in data.features_scalar_frame
                    if f != "bg_off"}
    if "frame" not in frame_values:
        frame_values["frame"] = np.arange(1, num_frames + 1, dtype=np.uint64)
    t0 = time.perf_counter()
    with HDF5Writer(tmp, mode="w") as hw:
        copy_metadata(data.h5, hw.h5)
        scalars = _ScalarBuffer(hw)
        basin_map: list[np.ndarray] = []
        bg_map: list[np.ndarray] = []
        with progress_bar(total=num_frames, desc="process", unit="frames",
                          show=progress) as bar:
            for res in _results_in_order(job, _chunks(num_frames, chunk_size),
                                         pool, num_procs):
                fidx = res["frame_index"]
                counted += res["counted"]
                kept += len(fidx)
                feats = dict(res["features"])
                for name, values in frame_values.items():
                    feats[name] = values[fidx]
                feats["nevents"] = _nevents(fidx)
                nan_events += _count_nan_events(feats)
                scalars.add(feats)
                if len(fidx):
                    hw.store_feature_chunk("mask", res["mask"])
                    if bg.code == "rollmed":
                        hw.store_feature_chunk("image_bg", res["image_bg"])
                basin_map.append(fidx if input_index is None else input_index[fidx])
                bg_map.append(res["bg_index"])
                bar.update(res["frames"])
        scalars.flush()
        t_proc = time.perf_counter() - t0
        _store_basins(hw, job, data, tmp, basin_map, bg_map)
        _set_pipeline_metadata(hw.h5, ppids, kept, data)
    return {"frames": num_frames, "events": kept, "objects": counted,
            "processing seconds": round(t_proc, 3), "nan events": nan_events}


def _store_basins(hw: HDF5Writer, job: _Job, data: HDF5Data, tmp: pathlib.Path,
                  basin_map: list[np.ndarray], bg_map: list[np.ndarray]) -> None:
    """Link the raw images (mapped file basin) and sparse backgrounds (internal)."""
    bg = job.background
    mapping = np.concatenate(basin_map) if basin_map else np.zeros(0)
    provided = ["image"] + (["image_bg"] if bg.code == "copy" else [])
    src = pathlib.Path(job.path)
    paths = [str(src)]
    try:
        paths.append(os.path.relpath(src, tmp.parent.resolve()))
    except ValueError:  # different drives on Windows
        pass
    hw.store_basin(name="raw data", paths=paths, features=provided,
                   description="Raw frames the events were extracted from",
                   mapping=mapping.astype(np.uint64),
                   identifier=get_measurement_identifier(data.meta_nest))
    if isinstance(bg, SparseMedian):
        idx = np.concatenate(bg_map) if bg_map else np.zeros(0)
        hw.store_basin(name="background",
                       description="Sparse-median background images",
                       internal_data={"image_bg": bg.backgrounds},
                       mapping=idx.astype(np.uint64))


def _count_nan_events(feats: Mapping[str, np.ndarray]) -> int:
    """Number of events with a NaN in a shape feature (degenerate masks)."""
    bad = None
    for name in ("deform", "area_um", "inert_ratio_cvx"):
        if name in feats:
            isnan = np.isnan(np.asarray(feats[name], dtype=np.float64))
            bad = isnan if bad is None else bad | isnan
    return 0 if bad is None else int(np.count_nonzero(bad))


def _nevents(fidx: np.ndarray) -> np.ndarray:
    """Number of events in the frame of each event."""
    if not len(fidx):
        return np.zeros(0, np.uint64)
    _, inverse, counts = np.unique(fidx, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.uint64)


def _set_pipeline_metadata(h5: h5py.File, ppids: Mapping[str, str], num: int,
                           data: HDF5Data) -> None:
    for key, value in ppids.items():
        h5.attrs[f"pipeline:dcnum {key}"] = value
    h5.attrs["pipeline:dcnum generation"] = PIPELINE_GENERATION
    h5.attrs["pipeline:dcnum hash"] = ppid_hash(PIPELINE_GENERATION, *ppids.values())
    h5.attrs["pipeline:dcnum yield"] = num
    h5.attrs["pipeline:dcnum mapping"] = index_mapping_to_ppid(data.index_mapping)
    h5.attrs["experiment:event count"] = num
    h5.attrs["imaging:pixel size"] = float(data.pixel_size)


def _write_logs(tmp: pathlib.Path, path_in: pathlib.Path, path_out: pathlib.Path,
                data: HDF5Data, job: _Job, ppids: Mapping[str, str],
                stats: Mapping[str, Any], notes: list[str], num_procs: int,
                chunk_size: int) -> None:
    warn = list(notes)
    objects, events = stats["objects"], stats["events"]
    if objects and (objects - events) / objects > DISCARD_WARN_FRACTION:
        warn.append(f"{objects - events} of {objects} objects "
                    f"({100 * (objects - events) / objects:.2f}%) were discarded "
                    f"by the gate {ppids['gate']}")
    if events == 0:
        warn.append("No events were found")
    if stats["nan events"]:
        warn.append(f"{stats['nan events']} events have undefined shape "
                    f"features (NaN), e.g. masks too small for a contour")
    options = {
        "path in": str(path_in), "path out": str(path_out),
        "num procs": num_procs, "chunk size": chunk_size,
        "index mapping": index_mapping_to_ppid(job.index_mapping),
        "pixel size": job.pixel_size,
        "background": {"code": job.background.code,
                       "kwargs": job.background.kwargs},
        "segmenter": {"code": job.segmenter.code, "kwargs": job.segmenter.kwargs,
                      "kwargs_mask": job.segmenter.kwargs_mask},
        "feature": {"code": job.extractor.code, "kwargs": job.extractor.kwargs},
        "gate": {"code": job.gate.code, "kwargs": job.gate.kwargs},
    }
    log = get_command_log([path_in], {
        "process": options,
        "pipeline": {"generation": PIPELINE_GENERATION, **ppids,
                     "hash": ppid_hash(PIPELINE_GENERATION, *ppids.values())},
        "statistics": dict(stats)})
    with HDF5Writer(tmp, mode="a") as hw:
        for name, lines in data.logs.items():
            if name not in hw.h5.get("logs", {}):
                hw.store_log(name, list(lines))
        for name, table in data.tables.items():
            if name not in hw.h5.get("tables", {}):
                hw.store_table(name, table)
        hw.store_log("cytolab-process", log.splitlines(), override=True)
        if warn:
            hw.store_log("cytolab-process-warnings", warn, override=True)
    for text in warn:
        warnings.warn(f"{path_in}: {text}", PipelineWarning, stacklevel=3)
