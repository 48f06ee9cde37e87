"""RTDCWriter: round trips through `cytolab.new_dataset`, layout via h5py.

What is written must read back unchanged (scalars bit for bit), land on disk
in the layout of the ecosystem (DESIGN.md, "File formats"), and a failed write
must never leave a file, or a temporary file, behind.
"""
from __future__ import annotations

import os
import pathlib
import stat
import warnings

import h5py
import hdf5plugin  # noqa: F401  (registers the Zstd filter for reading)
import numpy as np
import pytest

import cytolab
from cytolab import definitions as dfn
from cytolab.errors import FeatureShapeError, UnknownConfigurationKeyWarning
from cytolab.io import IMAGE_ATTRIBUTES
from cytolab.rtdc.writer import BRAND, RTDCWriter

N = 7


class Boom(RuntimeError):
    """The error raised inside `with` to simulate a crash."""


def leftovers(folder: pathlib.Path) -> list[str]:
    """Temporary files of the writer (they are hidden: use listdir)."""
    return [name for name in os.listdir(folder) if "cytolab-tmp" in name]


def write_full(path: pathlib.Path, mode: str = "reset", seed: int = 0) -> dict:
    """Write a small but complete dataset; return what was written."""
    rng = np.random.default_rng(seed)
    data = {
        "deform": rng.random(N).astype(np.float32),
        "area_um": rng.random(N) * 100,
        "frame": np.arange(N, dtype=np.int64) * 3 + 10,
        "image": rng.integers(0, 256, (N, 9, 13), dtype=np.uint8),
        "mask": rng.random((N, 9, 13)) > 0.5,
        "contour": [rng.integers(0, 13, (k + 3, 2)).astype(np.uint16)
                    for k in range(N)],
        "trace": {"fl1_raw": rng.integers(-5, 500, (N, 25)).astype(np.int16),
                  "fl1_median": rng.integers(-5, 500, (N, 25)).astype(np.int16),
                  "fl2_raw": rng.integers(-5, 500, (N, 25)).astype(np.int16)},
    }
    with RTDCWriter(path, mode=mode) as hw:
        hw.store_metadata({
            "experiment": {"sample": "beads", "run index": 3,
                           "date": "2024-05-01", "time": "13:14:15"},
            "imaging": {"pixel size": 0.34, "frame rate": 2000,
                        "flash duration": 2},
            "setup": {"channel width": 20, "chip region": "channel",
                      "flow rate": 0.04, "medium": "CellCarrier",
                      "software version": "ShapeIn 2.0.1"},
            "fluorescence": {"laser 1 power": 5, "sample rate": 312500},
        })
        for feat, values in data.items():
            hw.store_feature(feat, values)
    return data


# round trips ------------------------------------------------------------------


@pytest.mark.parametrize("feat, values", [
    ("deform", np.array([0.1, 1 / 3, np.pi, 1e-30, -0.0, np.nan, np.inf],
                        dtype=np.float32)),
    ("area_um", np.array([0.1, 1 / 3, np.pi, 1e-300, 5e-324, -0.0, np.nan])),
    ("frame", np.array([0, 1, 2**40, 2**62, -5], dtype=np.int64)),
    ("fl1_max", np.array([0, 1, 255, 65535], dtype=np.uint16)),
    ("bright_avg", np.array([1, -2, 2**31 - 1], dtype=np.int32)),
])
def test_scalar_bit_exact(tmp_path, feat, values):
    path = tmp_path / "scalar.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature(feat, values)
    with h5py.File(path, "r") as h5:
        dset = h5["events"][feat]
        assert dset.dtype == values.dtype
        assert dset.ndim == 1
        assert dset[:].tobytes() == values.tobytes()
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == len(values)
        out = np.asarray(ds[feat])
        assert out.dtype == values.dtype
        assert out.tobytes() == values.tobytes()


def test_scalar_from_list_and_single_value(tmp_path):
    path = tmp_path / "list.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.5, 0.25])
        hw.store_feature("deform", 0.125)  # a single event
    with cytolab.new_dataset(path) as ds:
        assert ds["deform"].tolist() == [0.5, 0.25, 0.125]


def test_full_round_trip(tmp_path):
    path = tmp_path / "full.rtdc"
    data = write_full(path)
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == N
        for feat in ["deform", "area_um", "frame"]:
            assert np.asarray(ds[feat]).tobytes() == data[feat].tobytes()
        for ii in range(N):
            assert ds["image"][ii].dtype == np.uint8
            np.testing.assert_array_equal(ds["image"][ii], data["image"][ii])
            assert ds["mask"][ii].dtype == bool
            np.testing.assert_array_equal(ds["mask"][ii], data["mask"][ii])
            np.testing.assert_array_equal(ds["contour"][ii], data["contour"][ii])
            for key, trace in data["trace"].items():
                np.testing.assert_array_equal(ds["trace"][key][ii], trace[ii])
        assert sorted(ds["trace"]) == sorted(data["trace"])
        cfg = ds.config
        assert cfg["experiment"]["event count"] == N
        assert cfg["experiment"]["sample"] == "beads"
        assert cfg["imaging"]["roi size x"] == 13
        assert cfg["imaging"]["roi size y"] == 9
        assert cfg["fluorescence"]["samples per event"] == 25
        assert cfg["fluorescence"]["channel count"] == 2
        assert cfg["setup"]["software version"] == f"ShapeIn 2.0.1 | {BRAND}"


def test_image_layout_on_disk(tmp_path):
    path = tmp_path / "img.rtdc"
    data = write_full(path)
    with h5py.File(path, "r") as h5:
        for feat in ["image", "mask"]:
            dset = h5["events"][feat]
            assert dset.dtype == np.uint8
            assert dset.shape == (N, 9, 13)
            for key, value in IMAGE_ATTRIBUTES.items():
                assert isinstance(dset.attrs[key], bytes), (feat, key)
                assert dset.attrs[key] == value
            assert dset.attrs["CLASS"] == b"IMAGE"
            assert dset.attrs["IMAGE_SUBCLASS"] == b"IMAGE_GRAYSCALE"
            assert dset.attrs["IMAGE_VERSION"] == b"1.2"
            assert "32015" in dset._filters and dset.fletcher32
        np.testing.assert_array_equal(h5["events/image"][:], data["image"])
        raw_mask = h5["events/mask"][:]
        np.testing.assert_array_equal(raw_mask != 0, data["mask"])
        # like the reference files: 0 (background) and 255 (event)
        assert set(np.unique(raw_mask)) == {0, 255}
        contour = h5["events/contour"]
        assert isinstance(contour, h5py.Group)
        assert sorted(contour, key=int) == [str(ii) for ii in range(N)]
        assert contour["4"].shape == (7, 2)
        trace = h5["events/trace"]
        assert sorted(trace) == ["fl1_median", "fl1_raw", "fl2_raw"]
        assert trace["fl1_raw"].shape == (N, 25)
        assert trace["fl1_raw"].dtype == np.int16


def test_image_bg_and_single_image(tmp_path):
    path = tmp_path / "bg.rtdc"
    img = np.arange(4 * 5, dtype=np.uint8).reshape(4, 5)
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("image_bg", img)  # one event without the event axis
        hw.store_feature("image_bg", np.stack([img, img + 1]).astype(np.int64))
    with h5py.File(path, "r") as h5:
        assert h5["events/image_bg"].shape == (3, 4, 5)
        assert h5["events/image_bg"].dtype == np.uint8
        assert h5["events/image_bg"].attrs["CLASS"] == b"IMAGE"
    with cytolab.new_dataset(path) as ds:
        np.testing.assert_array_equal(ds["image_bg"][2], img + 1)


def test_qpi_float32_images(tmp_path):
    path = tmp_path / "qpi.rtdc"
    pha = np.random.default_rng(1).normal(size=(3, 6, 8))
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("qpi_pha", pha)
    with h5py.File(path, "r") as h5:
        assert h5["events/qpi_pha"].dtype == np.float32
    with cytolab.new_dataset(path) as ds:
        np.testing.assert_array_equal(ds["qpi_pha"][1], pha[1].astype(np.float32))


def test_contours_of_varying_length(tmp_path):
    path = tmp_path / "contour.rtdc"
    contours = [np.array([[1, 2]]), np.arange(40).reshape(20, 2),
                np.array([[5, 6], [7, 8], [9, 10]])]
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("contour", contours[:2])
        hw.store_feature("contour", contours[2:])  # appended
        hw.store_feature("deform", np.zeros(3))
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 3
        assert [len(c) for c in ds["contour"]] == [1, 20, 3]
        for ii, ref in enumerate(contours):
            np.testing.assert_array_equal(ds["contour"][ii], ref)


def test_traces_appended_per_name(tmp_path):
    path = tmp_path / "trace.rtdc"
    first = np.arange(2 * 10, dtype=np.int16).reshape(2, 10)
    second = -first[:1]
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("trace", {"fl3_median": first})
        hw.store_feature("trace", {"fl3_median": second})
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 3
        np.testing.assert_array_equal(ds["trace"]["fl3_median"][1], first[1])
        np.testing.assert_array_equal(ds["trace"]["fl3_median"][2], second[0])
        assert ds.config["fluorescence"]["samples per event"] == 10
        assert ds.config["fluorescence"]["channel count"] == 1


def test_nonscalar_feature_with_shape(tmp_path):
    name = "cytolab_writer_test_vec"
    dfn.register_feature(name, is_scalar=False)
    try:
        path = tmp_path / "nonscalar.rtdc"
        values = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
        with RTDCWriter(path, mode="reset") as hw:
            hw.store_feature(name, values, shape=(3, 4))
            hw.store_feature(name, values[0], shape=(3, 4))  # one event
            with pytest.warns(UserWarning, match="shape"):
                hw.store_feature(name, values)
            with pytest.raises(FeatureShapeError, match=f"'{name}'.*shape"):
                hw.store_feature(name, values, shape=(4, 3))
        with h5py.File(path, "r") as h5:
            dset = h5["events"][name]
            assert dset.shape == (5, 3, 4)
            np.testing.assert_array_equal(dset[2], values[0])
    finally:
        dfn.unregister_feature(name)


def test_logs_round_trip_and_append(tmp_path):
    path = tmp_path / "log.rtdc"
    lines = ["[Image]", "Exposure = 2 µs", "Bemerkung: Blutprobe Ü", "✓ done"]
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
        hw.store_log("M1_para.ini", lines)
        hw.store_log("notes", "line one\nline two")
        hw.store_log("notes", ["line three"])  # appended
    with h5py.File(path, "r") as h5:
        assert h5["logs/M1_para.ini"].dtype.kind == "S"
        assert "32015" in h5["logs/M1_para.ini"]._filters
    with cytolab.new_dataset(path) as ds:
        assert ds.logs["M1_para.ini"] == lines
        assert ds.logs["notes"] == ["line one", "line two", "line three"]
        assert sorted(ds.logs) == ["M1_para.ini", "notes"]
    with RTDCWriter(path) as hw:  # append mode: logs are extended
        hw.store_log("notes", ["line four"])
    with cytolab.new_dataset(path) as ds:
        assert ds.logs["notes"][-2:] == ["line three", "line four"]


def test_tables_round_trip(tmp_path):
    path = tmp_path / "table.rtdc"
    arr = np.zeros(3, dtype=[("time", "f8"), ("temperature", "f4"), ("n", "i4")])
    arr["time"] = [0, 1.5, 3]
    arr["temperature"] = [23.5, 23.6, 23.7]
    arr["n"] = [1, 2, 3]
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
        hw.store_table("monitor", arr)
        hw.store_table("columns", {"x": np.array([1.0, 2.0]), "y": [3.0, 4.0]})
    with cytolab.new_dataset(path) as ds:
        assert sorted(ds.tables) == ["columns", "monitor"]
        tab = ds.tables["monitor"]
        assert tab.dtype == arr.dtype
        np.testing.assert_array_equal(tab, arr)
        assert ds.tables["columns"]["y"].tolist() == [3.0, 4.0]
    with h5py.File(path, "r") as h5:
        assert h5["tables/monitor"].dtype.names == ("time", "temperature", "n")


def test_table_without_columns_is_error(tmp_path):
    with RTDCWriter(tmp_path / "t.rtdc", mode="reset") as hw:
        with pytest.raises(ValueError, match="'tab'.*named columns"):
            hw.store_table("tab", np.arange(3))


# metadata ---------------------------------------------------------------------


def test_metadata_types_follow_definitions(tmp_path):
    path = tmp_path / "meta.rtdc"
    write_full(path)
    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
    assert attrs["experiment:sample"] == "beads"
    for name, value in attrs.items():
        section, key = name.split(":", 1)
        vtype = dfn.get_config_value_type(section, key)
        if vtype is str:
            # strings as str (variable-length UTF-8), never bytes
            assert isinstance(value, str), (name, type(value))
        elif vtype is not None:
            assert isinstance(value, vtype), (name, type(value), vtype)
    # strings given as numbers are converted with the key's parser
    assert attrs["experiment:run index"] == 3
    assert isinstance(attrs["imaging:frame rate"], (float, np.floating))
    assert isinstance(attrs["setup:channel width"], (float, np.floating))
    with cytolab.new_dataset(path) as ds:
        for section in ["experiment", "imaging", "setup", "fluorescence"]:
            for key, value in ds.config[section].items():
                vtype = dfn.get_config_value_type(section, key)
                if vtype is not None:
                    assert isinstance(value, vtype), (section, key, value)
        assert ds.config["imaging"]["pixel size"] == 0.34
        assert ds.config["experiment"]["date"] == "2024-05-01"


def test_metadata_parsing_and_dropping(tmp_path):
    path = tmp_path / "meta.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1, 0.2])
        hw.store_metadata({
            "experiment": {"run index": "7", "sample": b"bytes sample",
                           "time": ""},  # empty: not stored
            "setup": {"chip region": "Channel", "flow rate": "0.16"},
            "filtering": {"enable filters": True},  # analysis: not stored
            "calculation": {"emodulus medium": "water"},
        })
        with pytest.raises(ValueError, match="pixel size.*'abc'|'abc'.*pixel size"):
            hw.store_metadata({"imaging": {"pixel size": "abc"}})
    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
    assert attrs["experiment:run index"] == 7
    assert attrs["experiment:sample"] == "bytes sample"
    assert isinstance(attrs["experiment:sample"], str)
    assert attrs["setup:chip region"] == "channel"
    assert attrs["setup:flow rate"] == 0.16
    assert "experiment:time" not in attrs
    assert "imaging:pixel size" not in attrs
    assert not [k for k in attrs if k.startswith(("filtering:", "calculation:"))]


def test_user_metadata(tmp_path):
    path = tmp_path / "user.rtdc"
    user = {"operator": "Jörg", "passage": 12, "ratio": 0.75, "flag": True,
            "channels": [1.5, 2.5], "any key with spaces": "ok"}
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
        hw.store_metadata({"user": user})
    with h5py.File(path, "r") as h5:
        assert isinstance(h5.attrs["user:operator"], str)
        assert h5.attrs["user:passage"] == 12
    with cytolab.new_dataset(path) as ds:
        out = ds.config["user"]
        assert out["operator"] == "Jörg"
        assert out["passage"] == 12
        assert out["ratio"] == 0.75
        assert bool(out["flag"]) is True
        assert list(out["channels"]) == [1.5, 2.5]
        assert out["any key with spaces"] == "ok"


def test_unknown_metadata_key_warns_and_is_not_stored(tmp_path):
    path = tmp_path / "unknown.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
        with pytest.warns(UnknownConfigurationKeyWarning,
                          match="experiment:no such key"):
            hw.store_metadata({"experiment": {"no such key": 1,
                                              "sample": "kept"}})
    with h5py.File(path, "r") as h5:
        assert "experiment:no such key" not in h5.attrs
        assert h5.attrs["experiment:sample"] == "kept"


def test_unknown_metadata_section_is_error(tmp_path):
    with RTDCWriter(tmp_path / "s.rtdc", mode="reset") as hw:
        with pytest.raises(ValueError, match="section 'peter'"):
            hw.store_metadata({"peter": {"a": 1}})
        # nothing of the call was stored
        with pytest.raises(ValueError, match="section 'nope'"):
            hw.store_metadata({"experiment": {"sample": "x"}, "nope": {}})
        assert "experiment:sample" not in hw.h5file.attrs


# modes ------------------------------------------------------------------------


def test_mode_append(tmp_path):
    path = tmp_path / "append.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", np.array([0.1, 0.2, 0.3]))
        hw.store_feature("index", np.arange(3))
        hw.store_feature("contour", [np.zeros((2, 2), int)] * 3)
    with RTDCWriter(path, mode="append") as hw:
        hw.store_feature("deform", np.array([0.4, 0.5]))
        # the values passed are ignored: index continues the numbering
        hw.store_feature("index", np.array([0, 1]))
        hw.store_feature("contour", [np.ones((4, 2), int)] * 2)
    with RTDCWriter(path) as hw:  # default mode is append
        hw.store_feature("deform", np.array([0.6]))
        hw.store_feature("index", np.array([99]))
        hw.store_feature("contour", [np.ones((5, 2), int)])
    with h5py.File(path, "r") as h5:
        assert h5["events/index"][:].tolist() == [1, 2, 3, 4, 5, 6]
        assert h5.attrs["experiment:event count"] == 6
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 6
        np.testing.assert_array_equal(ds["deform"], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        np.testing.assert_array_equal(ds["index"], np.arange(1, 7))
        assert [len(c) for c in ds["contour"]] == [2, 2, 2, 4, 4, 5]
        assert ds.config["experiment"]["event count"] == 6


def test_mode_replace(tmp_path):
    path = tmp_path / "replace.rtdc"
    write_full(path)
    new_deform = np.linspace(0, 1, N)
    new_image = np.zeros((N, 9, 13), np.uint8)
    new_trace = np.ones((N, 25), np.int16)
    with RTDCWriter(path, mode="replace") as hw:
        hw.store_feature("deform", new_deform)
        hw.store_feature("image", new_image)
        hw.store_feature("trace", {"fl1_raw": new_trace})
        hw.store_feature("contour", [np.zeros((3, 2), int)] * N)
    with h5py.File(path, "r") as h5:
        assert h5["events/deform"].dtype == np.float64
        assert h5["events/image"].attrs["CLASS"] == b"IMAGE"
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == N
        np.testing.assert_array_equal(ds["deform"], new_deform)
        np.testing.assert_array_equal(ds["image"][3], new_image[3])
        np.testing.assert_array_equal(ds["trace"]["fl1_raw"][2], new_trace[2])
        # other traces and features are kept
        assert sorted(ds["trace"]) == ["fl1_median", "fl1_raw", "fl2_raw"]
        assert "area_um" in ds.features_innate
        assert [len(c) for c in ds["contour"]] == [3] * N


def test_mode_reset(tmp_path):
    path = tmp_path / "reset.rtdc"
    write_full(path)
    with RTDCWriter(path) as hw:
        hw.store_log("old", ["x"])
        hw.store_table("old", {"a": [1.0]})
        hw.store_metadata({"user": {"old": 1}})
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("area_um", np.array([1.0, 2.0]))
    with h5py.File(path, "r") as h5:
        assert list(h5["events"]) == ["area_um"]
        assert "logs" not in h5 or not len(h5["logs"])
        assert "tables" not in h5 or not len(h5["tables"])
        assert sorted(h5.attrs) == ["experiment:event count",
                                    "setup:software version"]
        assert h5.attrs["setup:software version"] == BRAND
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 2
        assert not ds.logs
        assert not ds.tables


def test_invalid_mode(tmp_path):
    with pytest.raises(ValueError, match="mode 'overwrite'"):
        RTDCWriter(tmp_path / "x.rtdc", mode="overwrite")
    assert not os.listdir(tmp_path)


# rectify_metadata -------------------------------------------------------------


def test_rectify_roi_from_mask_only(tmp_path):
    path = tmp_path / "mask.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("mask", np.zeros((4, 30, 80), bool))
    with h5py.File(path, "r") as h5:
        assert h5.attrs["imaging:roi size x"] == 80
        assert h5.attrs["imaging:roi size y"] == 30
        assert h5.attrs["experiment:event count"] == 4
        assert "fluorescence:samples per event" not in h5.attrs


def test_rectify_overrides_wrong_metadata(tmp_path):
    path = tmp_path / "wrong.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"experiment": {"event count": 1000},
                           "imaging": {"roi size x": 1, "roi size y": 2},
                           "fluorescence": {"samples per event": 3,
                                            "channel count": 3}})
        hw.store_feature("image", np.zeros((5, 20, 50), np.uint8))
        hw.store_feature("trace", {"fl1_raw": np.zeros((5, 40), np.int16)})
    with h5py.File(path, "r") as h5:
        assert h5.attrs["experiment:event count"] == 5
        assert h5.attrs["imaging:roi size x"] == 50
        assert h5.attrs["imaging:roi size y"] == 20
        assert h5.attrs["fluorescence:samples per event"] == 40
        # only added when missing
        assert h5.attrs["fluorescence:channel count"] == 3


def test_rectify_metadata_explicit_call(tmp_path):
    path = tmp_path / "explicit.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.rectify_metadata()  # nothing written yet: no error
        hw.store_feature("deform", np.zeros(3))
        hw.rectify_metadata()
        assert hw.h5file.attrs["experiment:event count"] == 3


def test_rectify_empty_image_and_traces(tmp_path):
    path = tmp_path / "empty.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", np.zeros(0))
        hw.store_feature("image", np.zeros((0, 20, 30), np.uint8))
        hw.store_feature("trace", {"fl1_raw": np.zeros((0, 16), np.int16)})
    with h5py.File(path, "r") as h5:
        assert h5.attrs["experiment:event count"] == 0
        assert h5["events/image"].shape == (0, 20, 30)
        assert h5.attrs.get("imaging:roi size x", 30) == 30
        assert h5.attrs.get("imaging:roi size y", 20) == 20
        assert h5.attrs.get("fluorescence:samples per event", 16) == 16


def test_rectify_empty_trace_group(tmp_path):
    path = tmp_path / "emptytrace.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", np.zeros(2))
        hw.store_feature("trace", {})
    with h5py.File(path, "r") as h5:
        assert h5.attrs["experiment:event count"] == 2
        assert "fluorescence:samples per event" not in h5.attrs
        assert "fluorescence:channel count" not in h5.attrs


def test_rectify_event_count_from_contour_only(tmp_path):
    path = tmp_path / "contouronly.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("contour", [np.zeros((3, 2), int)] * 4)
    with h5py.File(path, "r") as h5:
        assert h5.attrs["experiment:event count"] == 4


# version branding -------------------------------------------------------------


def test_version_brand_new_file_and_idempotent(tmp_path):
    path = tmp_path / "brand.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
    with h5py.File(path, "r") as h5:
        assert h5.attrs["setup:software version"] == BRAND
    for _ in range(2):
        with RTDCWriter(path) as hw:
            hw.store_feature("deform", [0.2])
            assert hw.version_brand() == BRAND
            assert hw.version_brand() == BRAND
    with h5py.File(path, "r") as h5:
        assert h5.attrs["setup:software version"] == BRAND
        assert isinstance(h5.attrs["setup:software version"], str)
    assert BRAND.startswith("cytolab ")
    assert BRAND == f"cytolab {cytolab.__version__}"


def test_version_brand_appends_to_existing(tmp_path):
    path = tmp_path / "brand.rtdc"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/deform", data=np.zeros(2), maxshape=(None,))
        h5.attrs["setup:software version"] = np.bytes_("ShapeIn 2.0.5 | dclab 0.11.0")
    for _ in range(3):
        with RTDCWriter(path):
            pass
    with h5py.File(path, "r") as h5:
        assert h5.attrs["setup:software version"] == \
            f"ShapeIn 2.0.5 | dclab 0.11.0 | {BRAND}"
    with cytolab.new_dataset(path) as ds:
        assert ds.config["setup"]["software version"].endswith(f"| {BRAND}")


def test_version_brand_arguments(tmp_path):
    with RTDCWriter(tmp_path / "b.rtdc", mode="reset") as hw:
        assert hw.version_brand(old_version="dclab 0.60",
                                write_attribute=False) == f"dclab 0.60 | {BRAND}"
        assert "setup:software version" not in hw.h5file.attrs
        assert hw.version_brand(old_version=f"X | {BRAND}") == f"X | {BRAND}"
        assert hw.h5file.attrs["setup:software version"] == f"X | {BRAND}"


# open h5py.File, compression --------------------------------------------------


def test_open_h5py_file_stays_open(tmp_path):
    path = tmp_path / "open.rtdc"
    with h5py.File(path, "w") as h5:
        with RTDCWriter(h5) as hw:
            hw.store_feature("deform", np.array([0.1, 0.2]))
        assert h5.id.valid
        assert h5.attrs["experiment:event count"] == 2
        assert h5.attrs["setup:software version"] == BRAND
        # still usable, also by a second writer
        h5.attrs["user:after"] = "yes"
        with RTDCWriter(h5, mode="append") as hw:
            hw.store_feature("deform", np.array([0.3]))
        assert h5.id.valid
        assert h5["events/deform"].shape == (3,)
        # an error inside `with` leaves a passed-in file open, too
        with pytest.raises(Boom):
            with RTDCWriter(h5) as hw:
                raise Boom()
        assert h5.id.valid
    assert leftovers(tmp_path) == []
    with cytolab.new_dataset(path) as ds:
        assert ds["deform"].tolist() == [0.1, 0.2, 0.3]
        assert ds.config["user"]["after"] == "yes"


def test_open_h5py_file_reset(tmp_path):
    path = tmp_path / "open_reset.rtdc"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/area_um", data=np.ones(4))
        h5.create_dataset("logs/x", data=np.array([b"a"]))
        h5.attrs["experiment:sample"] = "old"
        with RTDCWriter(h5, mode="reset") as hw:
            hw.store_feature("deform", np.zeros(2))
        assert list(h5) == ["events"]
        assert list(h5["events"]) == ["deform"]
        assert "experiment:sample" not in h5.attrs


def test_compression_off(tmp_path):
    path = tmp_path / "raw.rtdc"
    with RTDCWriter(path, mode="reset",
                    compression_kwargs={"compression": None}) as hw:
        hw.store_feature("deform", np.arange(5.0))
        hw.store_feature("image", np.zeros((5, 4, 4), np.uint8))
        hw.store_feature("contour", [np.zeros((3, 2), int)] * 5)
        hw.store_log("log", ["a"])
    with h5py.File(path, "r") as h5:
        for name in ["events/deform", "events/image", "events/contour/0", "logs/log"]:
            assert h5[name].compression is None, name
            assert "32015" not in h5[name]._filters, name
    with cytolab.new_dataset(path) as ds:
        np.testing.assert_array_equal(ds["deform"], np.arange(5.0))


def test_default_compression(tmp_path):
    path = tmp_path / "zstd.rtdc"
    write_full(path)
    with h5py.File(path, "r") as h5:
        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert "32015" in obj._filters, name
                assert obj._filters["32015"] == (5,), name
                assert obj.fletcher32, name
        h5.visititems(check)


def test_files_get_normal_permissions(tmp_path):
    """The temporary file must not keep mkstemp's owner-only mode 0o600."""
    path = tmp_path / "perm.rtdc"
    umask = os.umask(0o022)
    os.umask(umask)
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", [0.1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# errors -----------------------------------------------------------------------


@pytest.mark.parametrize("feat, data, exc, pattern", [
    ("no_such_feature", np.zeros(3), ValueError, "Unknown feature 'no_such_feature'"),
    ("deform", np.zeros((3, 2)), FeatureShapeError, r"'deform'.*1-D.*\(3, 2\)"),
    ("image", np.zeros(3, np.uint8), FeatureShapeError, r"'image'.*3-D.*\(3,\)"),
    ("image", np.zeros((2, 3, 4, 5), np.uint8), FeatureShapeError,
     r"'image'.*3-D.*\(2, 3, 4, 5\)"),
    ("image", np.full((2, 4, 4), 256), FeatureShapeError, r"'image'.*256.*0\.\.255"),
    ("image", np.full((2, 4, 4), -1), FeatureShapeError, r"'image'.*-1.*0\.\.255"),
    ("image", np.full((2, 4, 4), 0.5), FeatureShapeError, r"'image'.*uint8.*float64"),
    ("mask", np.zeros((4, 4)), FeatureShapeError, "'mask'.*uint8.*float64"),
    ("contour", [np.zeros((5, 3))], FeatureShapeError, r"contour.*\(M, 2\).*\(5, 3\)"),
    ("contour", [np.zeros(5)], FeatureShapeError, r"contour.*\(M, 2\).*\(5,\)"),
    ("trace", {"fl4_raw": np.zeros((2, 5))}, ValueError, "Unknown trace 'fl4_raw'"),
    ("trace", np.zeros((2, 5)), FeatureShapeError, "'trace'.*dict"),
    ("trace", {"fl1_raw": np.zeros((2, 5, 3))}, FeatureShapeError,
     r"trace/fl1_raw.*2-D"),
])
def test_store_feature_errors(tmp_path, feat, data, exc, pattern):
    path = tmp_path / "err.rtdc"
    with RTDCWriter(path, mode="reset") as hw:
        with pytest.raises(exc, match=pattern):
            hw.store_feature(feat, data)
        hw.store_feature("deform", [0.1])
    with h5py.File(path, "r") as h5:
        # the failed call left nothing behind
        assert list(h5["events"]) == ["deform"]


def test_errors_are_cytolab_errors(tmp_path):
    with RTDCWriter(tmp_path / "e.rtdc", mode="reset") as hw:
        with pytest.raises(cytolab.errors.CytolabError):
            hw.store_feature("deform", np.zeros((2, 2)))


def test_missing_output_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RTDCWriter(tmp_path / "nope" / "x.rtdc", mode="reset")


def test_existing_non_hdf5_file_in_append_mode(tmp_path):
    path = tmp_path / "text.rtdc"
    path.write_text("not hdf5")
    with pytest.raises(cytolab.errors.FileFormatError, match="text.rtdc"):
        RTDCWriter(path)
    assert path.read_text() == "not hdf5"


# crash safety -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "append", "replace"])
def test_crash_new_file_leaves_nothing(tmp_path, mode):
    path = tmp_path / "crash.rtdc"
    with pytest.raises(Boom):
        with RTDCWriter(path, mode=mode) as hw:
            hw.store_metadata({"experiment": {"sample": "x"}})
            hw.store_feature("deform", np.arange(100.0))
            hw.store_feature("image", np.zeros((100, 20, 20), np.uint8))
            raise Boom("crash")
    assert not path.exists()
    assert leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == []


def test_crash_in_reset_keeps_existing_file_byte_identical(tmp_path):
    path = tmp_path / "existing.rtdc"
    write_full(path)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    with pytest.raises(Boom):
        with RTDCWriter(path, mode="reset") as hw:
            hw.store_feature("deform", np.arange(1000.0))
            hw.store_log("log", ["half"])
            # while writing, the final name still holds the old file
            assert path.read_bytes() == before
            raise Boom()
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["existing.rtdc"]
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == N


def test_crash_while_closing_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "close.rtdc"

    def broken(self):
        raise Boom("rectify failed")

    monkeypatch.setattr(RTDCWriter, "rectify_metadata", broken)
    with pytest.raises(Boom):
        with RTDCWriter(path, mode="reset") as hw:
            hw.store_feature("deform", [0.1])
    assert os.listdir(tmp_path) == []


def test_reset_success_replaces_existing_file(tmp_path):
    path = tmp_path / "existing.rtdc"
    write_full(path)
    with RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("deform", np.zeros(2))
    assert os.listdir(tmp_path) == ["existing.rtdc"]
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 2


def test_close_without_context_manager(tmp_path):
    path = tmp_path / "manual.rtdc"
    hw = RTDCWriter(path, mode="reset")
    hw.store_feature("deform", [0.1, 0.2])
    assert not path.exists()  # written under a temporary name until closed
    hw.close()
    hw.close()  # idempotent
    assert path.exists()
    assert leftovers(tmp_path) == []
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 2


def test_no_warnings_on_normal_write(tmp_path):
    path = tmp_path / "quiet.rtdc"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_full(path)
        with cytolab.new_dataset(path) as ds:
            assert len(ds) == N
