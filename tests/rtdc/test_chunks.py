"""Streaming features through kernels in chunks, reading ahead in a thread."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from cytolab.rtdc.ancillaries.chunks import compute_in_chunks, iter_event_chunks
from cytolab.rtdc.formats.dict import RTDC_Dict


def _dataset(n=1003):
    rng = np.random.default_rng(4)
    return RTDC_Dict({"deform": rng.random(n), "area_um": rng.random(n) * 100})


def test_chunks_in_order_and_complete():
    ds = _dataset()
    seen = []
    for sl, data in iter_event_chunks(ds, ["deform", "area_um"], chunk_size=100):
        np.testing.assert_array_equal(data["deform"], ds["deform"][sl])
        np.testing.assert_array_equal(data["area_um"], ds["area_um"][sl])
        seen.append((sl.start, sl.stop))
    assert seen == [(s, min(s + 100, len(ds))) for s in range(0, len(ds), 100)]


def test_reading_overlaps_the_kernel_in_another_thread(monkeypatch):
    ds = _dataset()
    readers = set()
    original = type(ds).__getitem__

    def spy(self, feat):
        readers.add(threading.current_thread().name)
        return original(self, feat)

    monkeypatch.setattr(type(ds), "__getitem__", spy)
    out = compute_in_chunks(ds, ["deform", "area_um"],
                            lambda d, a: {"prod": d * a}, ["prod"], chunk_size=64)
    monkeypatch.undo()
    np.testing.assert_array_equal(out["prod"], ds["deform"] * ds["area_um"])
    assert any(name.startswith("cytolab-read") for name in readers)


def test_read_errors_reach_the_caller(monkeypatch):
    ds = _dataset()
    original = type(ds).__getitem__
    calls = []

    def failing(self, feat):
        calls.append(feat)
        if len(calls) > 3:
            raise OSError("damaged chunk")
        return original(self, feat)

    monkeypatch.setattr(type(ds), "__getitem__", failing)
    with pytest.raises(OSError, match="damaged chunk"):
        compute_in_chunks(ds, ["deform"], lambda d: {"x": d}, ["x"], chunk_size=100)
