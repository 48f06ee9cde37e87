"""Tests of the FCS 3.0 writer :func:`cytolab.io.write_fcs`."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.io import write_fcs
from cytolab.io.fcs import FCS_MAX_HEADER_OFFSET

flowio = pytest.importorskip("flowio")


def _header(path) -> dict[str, int]:
    head = path.read_bytes()[:58]
    names = ["text_start", "text_end", "data_start", "data_end",
             "analysis_start", "analysis_end"]
    return {name: int(head[10 + 8 * ii:18 + 8 * ii])
            for ii, name in enumerate(names)}


def _text(path) -> dict[str, str]:
    """Minimal independent TEXT parser (handles doubled delimiters)."""
    head = _header(path)
    raw = path.read_bytes()[head["text_start"]:head["text_end"] + 1].decode("utf-8")
    delim = raw[0]
    assert raw[-1] == delim
    items, current, ii = [], "", 1
    while ii < len(raw):
        char = raw[ii]
        if char == delim:
            if ii + 1 < len(raw) - 1 and raw[ii + 1] == delim and current:
                current += delim
                ii += 2
                continue
            items.append(current)
            current = ""
        else:
            current += char
        ii += 1
    return dict(zip(items[::2], items[1::2]))


def test_roundtrip_flowio(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(50, 20, (1234, 3))
    path = write_fcs(tmp_path / "a.fcs", ["area_um", "deform", "pos_x"], data,
                     text_kwargs={"operator": "Jane", "run": 7},
                     channel_labels=["Area [µm²]", "Deformation", "Position x"])
    fcs = flowio.FlowData(str(path))
    assert fcs.version == "3.0"
    assert fcs.event_count == 1234 and fcs.channel_count == 3
    assert fcs.pnn_labels == ["area_um", "deform", "pos_x"]
    assert fcs.pns_labels == ["Area [µm²]", "Deformation", "Position x"]
    assert fcs.text["operator"] == "Jane" and fcs.text["run"] == "7"
    events = np.reshape(np.array(fcs.events, dtype=np.float32), (-1, 3))
    np.testing.assert_array_equal(events, data.astype(np.float32))


def test_header_offsets_and_keywords(tmp_path):
    data = np.arange(40, dtype=np.float64).reshape(20, 2) - 5.5
    path = write_fcs(tmp_path / "b.fcs", ["x", "y"], data)
    raw = path.read_bytes()
    head = _header(path)
    assert raw[:10] == b"FCS3.0    "
    assert raw[58:256] == b" " * 198  # padding up to TEXT
    assert head["text_start"] == 256
    assert head["data_start"] == head["text_end"] + 1
    assert head["data_end"] - head["data_start"] + 1 == 20 * 2 * 4
    assert head["data_end"] == len(raw) - 1
    assert head["analysis_start"] == head["analysis_end"] == 0
    text = _text(path)
    assert int(text["$BEGINDATA"]) == head["data_start"]
    assert int(text["$ENDDATA"]) == head["data_end"]
    assert text["$BYTEORD"] == "1,2,3,4" and text["$DATATYPE"] == "F"
    assert text["$MODE"] == "L" and text["$NEXTDATA"] == "0"
    assert text["$TOT"] == "20" and text["$PAR"] == "2"
    for key in ("$BEGINANALYSIS", "$ENDANALYSIS", "$BEGINSTEXT", "$ENDSTEXT"):
        assert text[key] == "0"
    assert [text[f"$P{i}N"] for i in (1, 2)] == ["x", "y"]
    assert [text[f"$P{i}S"] for i in (1, 2)] == ["x", "y"]  # default labels
    assert [text[f"$P{i}B"] for i in (1, 2)] == ["32", "32"]
    assert [text[f"$P{i}E"] for i in (1, 2)] == ["0,0", "0,0"]
    assert [text[f"$P{i}R"] for i in (1, 2)] == ["33", "34"]  # above the max
    values = np.frombuffer(raw[head["data_start"]:], dtype="<f4").reshape(20, 2)
    np.testing.assert_array_equal(values, data.astype(np.float32))


@pytest.mark.slow
def test_large_file_offsets_in_text(tmp_path):
    """DATA beyond byte 99,999,999: HEADER offsets 0, TEXT has them."""
    nevents = 12_600_000
    data = np.empty((nevents, 2), dtype=np.float32)
    data[:, 0] = np.arange(nevents)
    data[:, 1] = -1.5
    path = write_fcs(tmp_path / "large.fcs", ["n", "c"], data)
    head = _header(path)
    assert head["data_start"] == head["data_end"] == 0
    text = _text(path)
    assert int(text["$ENDDATA"]) > FCS_MAX_HEADER_OFFSET
    assert int(text["$ENDDATA"]) == path.stat().st_size - 1
    assert int(text["$ENDDATA"]) - int(text["$BEGINDATA"]) + 1 == nevents * 8
    fcs = flowio.FlowData(str(path))
    assert fcs.event_count == nevents
    events = np.asarray(fcs.events, dtype=np.float32).reshape(-1, 2)
    np.testing.assert_array_equal(events[::100_003], data[::100_003])


def test_non_ascii_and_delimiters(tmp_path):
    meta = {"operator": "Jürgen Müller", "unit": "µm²", "pipe": "a|b",
            "slash": "c/d", "empty": ""}
    path = write_fcs(tmp_path / "c.fcs", ["area"], np.ones((3, 1)),
                     text_kwargs=meta, channel_labels=["Fläche [µm²]"])
    fcs = flowio.FlowData(str(path))
    assert fcs.text["operator"] == "Jürgen Müller"
    assert fcs.text["unit"] == "µm²"
    assert fcs.text["pipe"] == "a|b" and fcs.text["slash"] == "c/d"
    assert fcs.pns_labels == ["Fläche [µm²]"]
    assert _text(path)["empty"] == " "


def test_delimiter_escaped_when_unavoidable(tmp_path):
    every = "|/\x0c\x1e!~;@%&"
    path = write_fcs(tmp_path / "d.fcs", ["a"], np.zeros((2, 1)),
                     text_kwargs={"all": f"x{every}y"})
    raw = path.read_bytes()
    head = _header(path)
    assert raw[head["text_start"]:head["text_start"] + 1] == b"|"
    assert _text(path)["all"] == f"x{every}y"


def test_empty_data(tmp_path):
    path = write_fcs(tmp_path / "e.fcs", ["a", "b"], np.zeros((0, 2)))
    fcs = flowio.FlowData(str(path))
    assert fcs.event_count == 0 and len(fcs.events) == 0


def test_second_reader_fcsparser(tmp_path):
    fcsparser = pytest.importorskip("fcsparser")
    data = np.random.default_rng(2).random((50, 2)) * 1e3
    path = write_fcs(tmp_path / "f.fcs", ["a", "b"], data, {"note": "Zoë"})
    meta, frame = fcsparser.parse(str(path), reformat_meta=True)
    assert list(frame.columns) == ["a", "b"]
    np.testing.assert_array_equal(frame.to_numpy(), data.astype(np.float32))
    assert meta["note"] == "Zoë"


def test_replaces_existing_file_atomically(tmp_path):
    target = tmp_path / "g.fcs"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        write_fcs(target, ["a"], np.zeros((2, 2)))
    assert target.read_bytes() == b"old"
    write_fcs(target, ["a"], np.zeros((2, 1)))
    assert target.read_bytes()[:6] == b"FCS3.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fcs"]


@pytest.mark.parametrize("names, data, kwargs, match", [
    (["a"], np.zeros(3), {}, "shape"),
    (["a"], np.zeros((3, 2)), {}, "2 parameters"),
    (["a", "a"], np.zeros((3, 2)), {}, "unique"),
    (["a,b"], np.zeros((3, 1)), {}, "comma"),
    (["a"], np.zeros((3, 1)), {"channel_labels": ["x", "y"]}, "labels"),
    (["a"], np.zeros((3, 1)), {"text_kwargs": {"$TOT": 5}}, "reserved"),
    (["a"], np.zeros((3, 1)), {"text_kwargs": {"$p1n": "x"}}, "reserved"),
    (["a"], np.zeros((3, 1)), {"text_kwargs": {" ": "x"}}, "empty"),
])
def test_bad_arguments(tmp_path, names, data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_fcs(tmp_path / "h.fcs", names, data, **kwargs)
    assert list(tmp_path.iterdir()) == []
