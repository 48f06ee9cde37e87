"""Join measurements into one .rtdc file, in the order they were recorded.

The inputs are sorted by their recording time (metadata experiment:date and
experiment:time) and their events are concatenated. The output gets the
metadata of the EARLIEST recording (not of the first file named on the
command line) and only the features that all inputs provide; features left
out are named in a warning that is also stored in the output's logs.

The feature "time" becomes the time since the start of the earliest
recording, "frame" and "index_online" continue across the inputs, and
"index" counts the events of the output (1 to N). The metadata of each input
go into the log "src-#<i>_cfg" (i = position in recording order, from 1) and
its logs into "src-#<i>_<name>". The output has no basins: features that an
input gets from a basin are copied. Join only measurements of the same run
(same setup, same image size).

Examples:

  cytolab join -o joined.rtdc M001_data.rtdc M002_data.rtdc M003_data.rtdc
  cytolab join -o all.rtdc run1/*.rtdc
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import pathlib
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from .. import definitions as dfn
from .._progress import progress_bar
from ..errors import CytolabWarning, FeatureShapeError
from ..io.files import md5_5m
from ..rtdc import RTDCBase, RTDCWriter, new_dataset
from ._common import check_input, check_output, output_file

__all__ = ["FeatureSetNotIdenticalJoinWarning", "JoinTimingWarning", "join"]

PathLike = str | os.PathLike

#: Bytes of image-like event data read and written at a time.
CHUNK_BYTES = 8 * 1024**2
#: Contours read and written at a time.
CONTOUR_CHUNK = 1000


class FeatureSetNotIdenticalJoinWarning(CytolabWarning):
    """The inputs of a join do not all have the same features.

    Only the features shared by all inputs are written; the message names the
    ones left out and the inputs that lack them.
    """


class JoinTimingWarning(CytolabWarning):
    """``time``/``frame`` of a join could not follow the recording times.

    Raised when the recording time of an input is unknown (the inputs are
    then joined in the given order, each one directly after the previous
    one), when an input starts before the previous one ended, or when the
    inputs were recorded with different frame rates.
    """


@dataclass
class _Source:
    """One input of a join, opened."""

    path: pathlib.Path
    ds: RTDCBase
    start: datetime.datetime | None
    features: set[str] = field(default_factory=set)
    traces: set[str] = field(default_factory=set)
    #: name in messages: the file name, or the path if names repeat
    label: str = ""

    def close(self) -> None:
        """Close the dataset and let go of it (and of its cached data)."""
        if self.ds is not None:
            self.ds.close()
            self.ds = None  # type: ignore[assignment]


@dataclass
class _Plan:
    """Everything decided before the output is written."""

    sources: list[_Source]
    scalar: list[str]
    nonscalar: list[str]
    traces: list[str]
    metadata: dict[str, dict[str, Any]]
    frame_rate: float | None
    logs: dict[str, list[str]]


def join(paths_in: Sequence[PathLike], path_out: PathLike,
         metadata: Mapping[str, Mapping[str, Any]] | None = None
         ) -> pathlib.Path:
    """Join RT-DC measurements into one ``.rtdc`` file.

    Parameters
    ----------
    paths_in
        The measurements (``.rtdc`` files), in any order: they are sorted by
        recording time (``experiment:date`` + ``experiment:time``; for the
        same recording time, e.g. parts made by ``cytolab split``, by the
        ``time`` of their first event). When the time of any input is
        unknown, the given order is used and a :class:`JoinTimingWarning` is
        issued.
    path_out
        Output file; ``.rtdc`` is appended when the name does not end with
        it. It must not exist.
    metadata
        Metadata ``{section: {key: value}}`` that replace keys of the
        metadata taken from the earliest recording (other keys of a section
        are kept).

    Returns
    -------
    pathlib.Path
        The written file (with the corrected suffix).

    Raises
    ------
    ValueError
        No input, an input given twice, `metadata` that is not valid, inputs
        without features in common, or only empty inputs.
    FileNotFoundError
        An input or the output folder does not exist.
    FileExistsError
        The output exists.
    cytolab.errors.CytolabError
        An input is not an RT-DC file.
    cytolab.errors.FeatureShapeError
        The inputs have images (masks, traces, ...) of different sizes.

    Warns
    -----
    FeatureSetNotIdenticalJoinWarning
        Features that not all inputs have were left out.
    JoinTimingWarning
        See the class.

    Notes
    -----
    * Metadata: those of the earliest recording (the reference command-line
      help says so; its function documentation says "first input", which is
      the same when the inputs are given in recording order), with
      ``experiment:event count`` set to the total, and a new
      ``experiment:run identifier``: a UUID made from the SHA-256 of the
      measurement identifiers of the inputs in recording order (the same
      inputs always give the same identifier; the output is never mistaken
      for one of its inputs). Keys in `metadata` win.
    * Features: those that every input has stored or gets from a basin, plus
      ``time`` when every input has it (it is usually computed from
      ``frame``). ``trace`` is written with the trace channels all inputs
      share. ``index`` is always written (1 to N).
    * ``time``: each input's time plus the offset of its recording start
      from that of the earliest input (seconds, from the metadata).
    * ``frame``: each input's frames plus the offset of its recording start
      in frames (``round(offset * frame rate)``, frame rate of the earliest
      input).
    * When the start of an input is unknown or its shifted ``time`` or
      ``frame`` would come before the last value of the previous input, the
      input follows the previous one directly instead: its first event gets
      the previous last ``time`` plus one frame period (``1 / frame rate``,
      0 when unknown) and the previous last ``frame`` plus one. So both
      never decrease over the output.
    * ``index_online``: kept when the values of an input already come after
      those of the previous input (e.g. parts of one measurement), else
      shifted to continue directly after them; it always increases.
    * Logs: ``src-#<i>_cfg`` holds the metadata of the i-th input in
      recording order as ``[section]`` / ``key = value`` lines (the text
      format of :meth:`cytolab.rtdc.config.Configuration.tostring`; JSON if
      a key cannot be written that way), and ``src-#<i>_<name>`` the
      input's own logs. The command log ``cytolab-join`` lists the inputs in
      the same order, and ``cytolab-join-warnings`` the warnings.
    * No basins are written. Event data are streamed in blocks of about
      8 MiB (images) or 1000 events (contours); only one input is read at a
      time, so memory does not grow with the size of the files.

    Examples
    --------
    >>> import pathlib, tempfile, h5py, cytolab
    >>> from cytolab.simulate import simulate_rtdc
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> a = simulate_rtdc(tmp / "a.rtdc", num_events=30, seed=1)
    >>> b = simulate_rtdc(tmp / "b.rtdc", num_events=20, seed=2)
    >>> with h5py.File(b, "a") as h5:  # recorded ten minutes before `a`
    ...     h5.attrs["experiment:time"] = "11:50:00"
    >>> out = join([a, b], tmp / "joined")
    >>> with cytolab.new_dataset(out) as ds:
    ...     print(out.name, len(ds), ds.config["experiment"]["time"])
    ...     print(round(float(ds["time"][20]), 3))  # first event of `a`
    joined.rtdc 50 11:50:00
    600.0
    """
    paths = _check_inputs(paths_in)
    path_out = check_output(path_out, inputs=paths, suffix=".rtdc")
    metadata = _check_metadata(metadata)
    sources: list[_Source] = []
    try:
        early: list[warnings.WarningMessage] = []
        try:  # warnings of opening and planning go into the output's logs
            with warnings.catch_warnings(record=True) as early:
                warnings.simplefilter("always")
                plan = _plan(paths, metadata, sources)
        except BaseException:
            _reissue(early)
            raise
        ordered = [src.path for src in plan.sources]
        options = {"metadata": metadata or {},
                   "recording order": [str(p) for p in ordered]}
        with output_file(path_out, "join", ordered, options,
                         extra_logs=plan.logs) as tmp:
            _reissue(early)
            _write(tmp, plan)
    finally:
        for src in sources:
            src.close()
    return path_out


def _reissue(caught: Sequence[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# ------------------------------------------------------------------ checks
def _check_inputs(paths_in: Sequence[PathLike]) -> list[pathlib.Path]:
    if isinstance(paths_in, (str, os.PathLike)):
        paths_in = [paths_in]
    paths = [check_input(p) for p in paths_in]
    if not paths:
        raise ValueError("cytolab join needs at least one input file")
    seen: dict[pathlib.Path, pathlib.Path] = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            raise ValueError(f"Input '{path}' is given twice (joining a "
                             f"measurement with itself duplicates its events)")
        seen[key] = path
    return paths


def _check_metadata(metadata: Mapping[str, Mapping[str, Any]] | None
                    ) -> dict[str, dict[str, Any]] | None:
    """`metadata` as a plain dict, validated like RTDCWriter would."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(
            isinstance(v, Mapping) for v in metadata.values()):
        raise ValueError(f"`metadata` must be a dict of sections, each a dict "
                         f"of key: value, got {metadata!r}")
    meta = {str(sec): dict(vals) for sec, vals in metadata.items()}
    name = f"cytolab-join-check-{uuid.uuid4().hex}.h5"
    with h5py.File(name, "w", driver="core", backing_store=False) as h5, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown keys: warned when writing
        try:
            RTDCWriter(h5, mode="reset").store_metadata(meta)
        except ValueError as exc:
            raise ValueError(f"Invalid `metadata` for cytolab join: {exc}") \
                from exc
    return meta


# ------------------------------------------------------------------ plan
def _start_time(ds: RTDCBase) -> datetime.datetime | None:
    """Recording start from ``experiment:date`` and ``experiment:time``."""
    exp = ds.config["experiment"]
    date, time = exp.get("date"), exp.get("time")
    if not date or not time:
        return None
    whole, _, fraction = str(time).strip().partition(".")
    try:
        start = datetime.datetime.strptime(f"{str(date).strip()} {whole}",
                                           "%Y-%m-%d %H:%M:%S")
        if fraction:
            start += datetime.timedelta(seconds=float(f"0.{fraction}"))
    except ValueError:
        return None
    return start


def _first_time(ds: RTDCBase) -> float:
    """``time`` of the first event (0 when unknown)."""
    if not len(ds) or "time" not in ds:
        return 0.0
    value = float(ds["time"][0])
    return value if math.isfinite(value) else 0.0


def _available(ds: RTDCBase) -> set[str]:
    """Features of `ds` that a join can write (stored or from basins)."""
    feats = set(ds.features_innate) | set(ds.features_basin)
    if "time" in ds:
        feats.add("time")
    return {f for f in feats if f != "index" and not
            (f.startswith("basinmap") and f[8:].isdigit())}


def _plan(paths: Sequence[pathlib.Path],
          metadata: dict[str, dict[str, Any]] | None,
          sources: list[_Source]) -> _Plan:
    """Open the inputs (appended to `sources`), sort them, decide what to write.

    The caller closes the opened `sources`, also when this fails.
    """
    for path in paths:
        ds = new_dataset(path)
        src = _Source(path=path, ds=ds, start=_start_time(ds),
                      features=_available(ds))
        if "trace" in src.features:
            src.traces = set(ds["trace"])
        sources.append(src)
    names = [src.path.name for src in sources]
    unique = len(set(names)) == len(names)
    for src in sources:
        src.label = src.path.name if unique else str(src.path)
    unknown = [src.label for src in sources if src.start is None]
    sources = list(sources)
    if unknown:
        warnings.warn(f"Recording time (experiment:date/time) unknown for "
                      f"{unknown}; joining in the given order, each input "
                      f"directly after the previous one", JoinTimingWarning,
                      stacklevel=4)
    else:
        # same start (e.g. parts of one measurement): by the time of the
        # first event; complete ties keep the given order
        sources.sort(key=lambda s: (s.start, _first_time(s.ds)))

    shared = set.intersection(*(src.features for src in sources))
    traces: set[str] = set()
    if "trace" in shared:
        traces = set.intersection(*(src.traces for src in sources))
        if not traces:
            shared.discard("trace")
    _warn_dropped(sources, shared, traces)
    if not shared:
        raise ValueError(f"The inputs have no features in common: "
                         f"{[str(s.path) for s in sources]}")
    if not any(len(src.ds) for src in sources):
        raise ValueError(f"All inputs are empty (no events): "
                         f"{[str(s.path) for s in sources]}")
    scalar = sorted(f for f in shared if dfn.scalar_feature_exists(f))
    nonscalar = sorted(f for f in shared if f not in scalar)
    _check_shapes(sources, nonscalar, sorted(traces))

    first = sources[0].ds
    meta = first.config.as_dict(pop_filtering=True)
    meta.pop("calculation", None)
    meta.setdefault("experiment", {})["run identifier"] = _joined_identifier(
        sources)
    for section, values in (metadata or {}).items():
        meta.setdefault(section, {}).update(values)
    frame_rate = _frame_rate(first)
    rates = {src.label: _frame_rate(src.ds) for src in sources}
    if len({r for r in rates.values() if r is not None}) > 1:
        warnings.warn(f"The inputs were recorded with different frame rates "
                      f"{rates}; 'frame' of the output counts frames at "
                      f"{frame_rate} Hz only approximately", JoinTimingWarning,
                      stacklevel=4)

    logs: dict[str, list[str]] = {}
    for ii, src in enumerate(sources, start=1):
        logs[f"src-#{ii}_cfg"] = _config_lines(src.ds)
        for name, lines in src.ds.logs.items():
            logs[f"src-#{ii}_{name}"] = [str(ln) for ln in lines]
    return _Plan(sources=sources, scalar=scalar, nonscalar=nonscalar,
                 traces=sorted(traces), metadata=meta, frame_rate=frame_rate,
                 logs=logs)


def _warn_dropped(sources: Sequence[_Source], shared: set[str],
                  traces: set[str]) -> None:
    everything = set.union(*(src.features for src in sources))
    missing = {}
    for feat in sorted(everything - shared):
        missing[feat] = [s.label for s in sources if feat not in s.features]
    if "trace" in shared:
        for key in sorted(set.union(*(s.traces for s in sources)) - traces):
            missing[f"trace/{key}"] = [s.label for s in sources
                                       if key not in s.traces]
    if missing:
        listed = "; ".join(f"{feat} (not in {', '.join(names)})"
                           for feat, names in missing.items())
        warnings.warn(f"Only features shared by all inputs are joined; left "
                      f"out: {listed}", FeatureSetNotIdenticalJoinWarning,
                      stacklevel=4)


def _check_shapes(sources: Sequence[_Source], nonscalar: Sequence[str],
                  traces: Sequence[str]) -> None:
    """Per-event shapes of image-like features and traces must agree."""
    checks: list[tuple[str, Any]] = []
    for feat in nonscalar:
        if feat in ("contour", "trace"):
            continue
        checks.append((feat, lambda ds, f=feat: tuple(ds[f].shape[1:])))
    for key in traces:
        checks.append((f"trace/{key}",
                       lambda ds, k=key: tuple(ds["trace"][k].shape[1:])))
    for name, shape_of in checks:
        shapes = {src.label: shape_of(src.ds) for src in sources}
        if len(set(shapes.values())) > 1:
            what = "images" if name in ("image", "mask", "image_bg") \
                else "events"
            raise FeatureShapeError(
                f"Cannot join inputs with {what} of different shapes: "
                f"'{name}' has per-event shape "
                + ", ".join(f"{shp} in '{nm}'" for nm, shp in shapes.items()))


def _frame_rate(ds: RTDCBase) -> float | None:
    rate = ds.config["imaging"].get("frame rate")
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def _joined_identifier(sources: Sequence[_Source]) -> str:
    parts = [src.ds.get_measurement_identifier() or md5_5m(src.path)
             for src in sources]
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return str(uuid.UUID(hex=digest[:32]))


def _config_lines(ds: RTDCBase) -> list[str]:
    sections = [s for s in ds.config.keys() if s in dfn.CFG_METADATA
                or s == "user"]
    try:
        text = ds.config.tostring(sections=sections)
    except ValueError:  # a key the text format cannot hold
        meta = {s: vals for s, vals in ds.config.as_dict().items()
                if s in sections}
        text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    return text.splitlines()


# ------------------------------------------------------------------ write
def _write(path: pathlib.Path, plan: _Plan) -> None:
    total = sum(len(src.ds) for src in plan.sources) * (
        1 + len(plan.scalar) + len(plan.nonscalar))
    period = 1 / plan.frame_rate if plan.frame_rate else 0.0
    first_start = plan.sources[0].start
    last: dict[str, float] = {}
    with RTDCWriter(path, mode="reset") as hw, \
            progress_bar(total=total, desc="join", unit="ev",
                         unit_scale=True) as bar:
        hw.store_metadata(plan.metadata)
        for src in plan.sources:
            ds = src.ds
            size = len(ds)
            if size:
                delta = None if src.start is None or first_start is None \
                    else (src.start - first_start).total_seconds()
                hw.store_feature("index", np.zeros(size, dtype=np.uint8))
                bar.update(size)
                offsets = _offsets(src, plan, delta, period, last)
                for feat in plan.scalar:
                    values = np.asarray(ds[feat])
                    if feat in offsets:
                        values = values + offsets[feat]
                    hw.store_feature(feat, values)
                    if feat in offsets:
                        finite = values[np.isfinite(values)]
                        if finite.size:
                            last[feat] = float(finite.max())
                    bar.update(size)
                for feat in plan.nonscalar:
                    _copy_nonscalar(hw, ds, feat, plan.traces)
                    bar.update(size)
            src.close()  # frees its cached feature data


def _offsets(src: _Source, plan: _Plan, delta: float | None, period: float,
             last: Mapping[str, float]) -> dict[str, float]:
    """What to add to ``time``, ``frame`` and ``index_online`` of `src`."""
    ds = src.ds
    offsets: dict[str, float] = {}
    shifted = []
    if "time" in plan.scalar:
        first = _first_finite(ds["time"])
        off = delta
        if "time" in last and (off is None or first + off < last["time"]):
            if off is not None:
                shifted.append("time")
            off = last["time"] + period - first
        offsets["time"] = off or 0.0
    if "frame" in plan.scalar:
        first = _first_finite(ds["frame"])
        off = None
        if delta is not None and plan.frame_rate:
            off = round(delta * plan.frame_rate)
        if "frame" in last and (off is None or first + off < last["frame"]):
            if off is not None:
                shifted.append("frame")
            off = last["frame"] + 1 - first
        offsets["frame"] = int(round(off or 0))
    if "index_online" in plan.scalar:
        first = _first_finite(ds["index_online"])
        off = 0.0
        if "index_online" in last and first <= last["index_online"]:
            off = last["index_online"] + 1 - first
        offsets["index_online"] = int(round(off))
    if shifted:
        warnings.warn(f"'{src.label}' starts before the previous input "
                      f"ended (by its recording time); its {shifted} values "
                      f"follow the previous input directly instead",
                      JoinTimingWarning, stacklevel=4)
    return offsets


def _first_finite(values: Any) -> float:
    """First finite value of scalar feature data (0 if there is none)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    return float(values[finite[0]]) if finite.size else 0.0


def _copy_nonscalar(hw: RTDCWriter, ds: RTDCBase, feat: str,
                    traces: Sequence[str]) -> None:
    """Append a non-scalar feature of `ds` to `hw` in blocks."""
    size = len(ds)
    data = ds[feat]
    if feat == "contour":
        for start in range(0, size, CONTOUR_CHUNK):
            stop = min(start + CONTOUR_CHUNK, size)
            hw.store_feature("contour", [data[ii] for ii in range(start, stop)])
        return
    if feat == "trace":
        for key in traces:
            for start, stop in _blocks(data[key], size):
                hw.store_feature("trace", {key: np.asarray(data[key][start:stop])})
        return
    for start, stop in _blocks(data, size):
        chunk = np.asarray(data[start:stop])
        hw.store_feature(feat, chunk, shape=chunk.shape[1:])


def _blocks(data: Any, size: int) -> list[tuple[int, int]]:
    """(start, stop) of blocks of about :data:`CHUNK_BYTES` of `data`."""
    shape = tuple(getattr(data, "shape", (size,))[1:])
    itemsize = np.dtype(getattr(data, "dtype", np.float64)).itemsize
    event_bytes = max(1, int(np.prod(shape, dtype=np.int64)) * itemsize)
    step = max(1, CHUNK_BYTES // event_bytes)
    return [(start, min(start + step, size)) for start in range(0, size, step)]


# ------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab join``."""
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output file (.rtdc; the suffix is appended when "
                        "missing); must not exist")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="input .rtdc files (any order: they are joined "
                        "in recording order)")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab join`` with parsed arguments."""
    out = join(args.inputs, args.output)
    print(f"joined {len(args.inputs)} files into {out}")
