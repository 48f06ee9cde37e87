"""Fluorescence traces from the ``*_traces.tdms`` file of a measurement.

Each trace channel (``FL1raw``, ``FL1med``, ...) is one long stream of
samples; the column ``FL1index`` of the event table gives the first sample
of each event. The traces are usable when every event has the same number of
samples (the difference between consecutive ``FL1index`` values); otherwise
they are discarded with a warning. Samples are read from disk on access.
Events whose samples lie (partly) beyond the end of a truncated stream get
zeros there (with one warning per trace).
"""
from __future__ import annotations

import pathlib
import types
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ....io import EventArray
from . import naming
from .exc import TraceWarning, nptdms_module
from .table import captured_nptdms_log


def find_trace_file(tdms_path: pathlib.Path) -> pathlib.Path | None:
    """``<stem>_traces.tdms`` next to the measurement, None if it is missing."""
    path = tdms_path.with_name(tdms_path.stem + "_traces.tdms")
    return path if path.is_file() else None


class TDMSTrace(EventArray):
    """One trace of all events, shape ``(events, samples per event)``.

    Parameters
    ----------
    channel
        An nptdms channel of a streamed file (sliced to read samples).
    starts
        First sample of each event.
    samples
        Samples per event.
    available
        Number of samples in the channel.
    """

    def __init__(self, channel: Any, starts: np.ndarray, samples: int,
                 available: int) -> None:
        self.channel = channel
        self.starts = np.asarray(starts, dtype=np.int64)
        self.samples = int(samples)
        self.available = int(available)
        self._length = len(self.starts)
        self.shape = (self._length, self.samples)
        self.dtype = np.dtype(channel.dtype)
        self.ndim = 2

    def incomplete_events(self) -> int:
        """Number of events whose samples are not all in the file."""
        return int(np.sum(self.starts + self.samples > self.available))

    def _read(self, lo: int, hi: int) -> np.ndarray:
        lo, hi = max(0, lo), min(hi, self.available)
        if hi <= lo:
            return np.zeros(0, dtype=self.dtype)
        with captured_nptdms_log():
            return np.asarray(self.channel[lo:hi], dtype=self.dtype)

    def _get_many(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        out = np.zeros((len(indices), self.samples), dtype=self.dtype)
        if len(indices):
            starts = self.starts[indices]
            lo, hi = int(starts.min()), int(starts.max()) + self.samples
            if hi - lo <= 4 * len(indices) * self.samples:
                block = self._read(lo, hi)
                for pos, start in enumerate(starts):
                    seg = block[start - lo:start - lo + self.samples]
                    out[pos, :len(seg)] = seg
            else:
                for pos, start in enumerate(starts):
                    seg = self._read(int(start), int(start) + self.samples)
                    out[pos, :len(seg)] = seg
        out.flags.writeable = False
        return out

    def _get_one(self, index: int) -> np.ndarray:
        return self._get_many(np.array([index]))[0]


class TraceSource:
    """The open trace file of a measurement and its traces."""

    def __init__(self, path: pathlib.Path, trace_index: np.ndarray | None,
                 length: int, tdms_path: Any) -> None:
        self.path = path
        self._file: Any = None
        self.traces: Mapping[str, TDMSTrace] = types.MappingProxyType({})
        self.samples_per_event: int | None = None
        starts = None if trace_index is None else np.asarray(trace_index, np.int64)
        if starts is None:
            warnings.warn(f"Ignoring the traces of '{tdms_path}': the event "
                          f"table has no '{naming.TRACE_INDEX_COLUMN}' column",
                          TraceWarning, stacklevel=3)
            return
        steps = np.unique(np.diff(starts))
        if len(steps) != 1 or steps[0] <= 0:
            what = (f"{len(steps)} different numbers of samples per event "
                    f"({steps[:5].tolist()}...)" if len(steps) > 1
                    else "the samples per event cannot be determined")
            warnings.warn(f"Ignoring the traces of '{tdms_path}': {what}",
                          TraceWarning, stacklevel=3)
            return
        samples = int(steps[0])
        nptdms = nptdms_module()
        with captured_nptdms_log():
            try:
                self._file = nptdms.TdmsFile.open(str(path))
                group = self._file[naming.TRACE_GROUP]
                channels = {ch.name: ch for ch in group.channels()}
            except Exception as exc:  # damaged file or missing group
                self.close()
                warnings.warn(f"Ignoring the traces of '{tdms_path}': cannot "
                              f"read '{path}': {exc}", TraceWarning, stacklevel=3)
                return
        traces = {}
        for channel_name, trace_name in naming.TRACE_CHANNELS.items():
            channel = channels.get(channel_name)
            if channel is None or channel.dtype is None \
                    or np.dtype(channel.dtype).kind not in "iuf":
                continue
            available = len(channel)
            if available == 0:
                continue
            trace = TDMSTrace(channel, starts[:length], samples, available)
            incomplete = trace.incomplete_events()
            if incomplete:
                warnings.warn(
                    f"Trace '{trace_name}' of '{tdms_path}' ends after "
                    f"{available} samples ({samples} per event): {incomplete} "
                    f"of {length} events are (partly) filled with zeros",
                    TraceWarning, stacklevel=3)
            traces[trace_name] = trace
        if traces:
            self.samples_per_event = samples
        else:
            self.close()
        self.traces = types.MappingProxyType(traces)

    def close(self) -> None:
        """Close the trace file."""
        if self._file is not None:
            self._file.close()
            self._file = None
