"""HDF5Writer: what lands on disk, checked with plain h5py.

These tests pin the storage defaults of the ecosystem (FACTS.md, "Storage
defaults"): Zstandard level 5 (HDF5 filter 32015) plus Fletcher-32, chunks of
about 1 MiB with at least 10 events, the HDF5 IMAGE attributes, logs as
fixed-length UTF-8 strings, tables as compound datasets and basins as JSON
lines.
"""
from __future__ import annotations

import io
import json

import h5py
import hdf5plugin  # noqa: F401  (registers the Zstd filter for reading)
import numpy as np
import pytest

from cytolab.io import read_basin_dicts
from cytolab.io.writer import (
    CHUNK_MIN_EVENTS,
    CHUNK_SIZE_BYTES,
    IMAGE_ATTRIBUTES,
    INTERNAL_BASIN_GROUP,
    HDF5Writer,
    get_best_nd_chunks,
    read_text_lines,
    set_default_filter_kwargs,
    write_text,
)

ZSTD = 32015


def filters(dset: h5py.Dataset) -> dict[int, tuple[int, ...]]:
    """Filter id -> client values of a dataset, read from its creation plist."""
    plist = dset.id.get_create_plist()
    out = {}
    for ii in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(ii)
        out[int(code)] = tuple(values)
    return out


def assert_default_filters(dset: h5py.Dataset) -> None:
    flt = filters(dset)
    assert ZSTD in flt, f"{dset.name} is not Zstd-compressed: {flt}"
    assert flt[ZSTD][:1] == (5,), f"{dset.name}: Zstd level {flt[ZSTD]}"
    assert h5py.h5z.FILTER_FLETCHER32 in flt, f"{dset.name}: no fletcher32"
    assert dset.fletcher32


@pytest.fixture
def path(tmp_path):
    return tmp_path / "out.h5"


# filter keywords and chunks ---------------------------------------------------


def test_set_default_filter_kwargs():
    kw = set_default_filter_kwargs()
    assert kw["compression"] == ZSTD
    assert tuple(kw["compression_opts"]) == (5,)
    assert kw["fletcher32"] is True
    assert set_default_filter_kwargs(compression=False) == {"fletcher32": True}
    # explicit None switches compression off, other keys win over defaults
    assert set_default_filter_kwargs({"compression": None}) == {"fletcher32": True}
    kw = set_default_filter_kwargs({"compression": "gzip", "compression_opts": 4})
    assert kw == {"compression": "gzip", "compression_opts": 4, "fletcher32": True}
    kw = set_default_filter_kwargs({"fletcher32": False})
    assert kw["fletcher32"] is False and kw["compression"] == ZSTD


@pytest.mark.parametrize("item_shape, dtype", [
    ((), np.float64), ((), np.float32), ((), np.uint8), ((1,), np.int64),
    ((80, 400), np.uint8), ((80, 250), np.float32), ((2, 100), np.int16),
    ((1000, 1000), np.float64), ((4096, 4096), np.uint8),
])
def test_get_best_nd_chunks(item_shape, dtype):
    chunks = get_best_nd_chunks(item_shape, dtype)
    assert chunks[1:] == tuple(item_shape)
    nevents = chunks[0]
    assert nevents >= CHUNK_MIN_EVENTS
    event_bytes = int(np.prod(item_shape)) * np.dtype(dtype).itemsize
    if event_bytes * CHUNK_MIN_EVENTS <= CHUNK_SIZE_BYTES:
        # as many events as fit into 1 MiB, and not one more
        assert nevents * event_bytes <= CHUNK_SIZE_BYTES
        assert (nevents + 1) * event_bytes > CHUNK_SIZE_BYTES
    else:
        assert nevents == CHUNK_MIN_EVENTS
    assert HDF5Writer.get_best_nd_chunks(item_shape, dtype) == chunks


def test_get_best_nd_chunks_known_values():
    assert get_best_nd_chunks((), np.float64) == (131072,)
    assert get_best_nd_chunks((80, 400), np.uint8) == (32, 80, 400)
    assert get_best_nd_chunks((1000, 1000), np.float64)[0] == 10


def test_default_filters_and_chunks_on_disk(path):
    rng = np.random.default_rng(42)
    deform = rng.random(50)
    images = rng.integers(0, 256, size=(12, 80, 250), dtype=np.uint8)
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", deform)
        hw.store_feature_chunk("image", images)
        hw.store_feature_chunk("qpi_pha", rng.random((3, 20, 30)).astype(np.float32))
    with h5py.File(path, "r") as h5:
        for name in ["deform", "image", "qpi_pha"]:
            dset = h5["events"][name]
            assert_default_filters(dset)
            assert str(ZSTD) in dset._filters  # h5py reports plugin filters by id
            assert dset.maxshape[0] is None
            assert dset.chunks == get_best_nd_chunks(dset.shape[1:], dset.dtype)
        assert h5["events/deform"].chunks == (131072,)
        assert h5["events/image"].chunks == (52, 80, 250)
        np.testing.assert_array_equal(h5["events/deform"][:], deform)
        np.testing.assert_array_equal(h5["events/image"][:], images)


def test_ds_kwds_override(path):
    with HDF5Writer(path, mode="w", ds_kwds={"compression": None}) as hw:
        hw.store_feature_chunk("deform", np.arange(5.0))
        hw.require_feature("area_um", (), np.float32,
                           ds_kwds={"compression": "gzip", "chunks": (7,)})
    with h5py.File(path, "r") as h5:
        dset = h5["events/deform"]
        assert dset.compression is None
        assert filters(dset) == {h5py.h5z.FILTER_FLETCHER32: ()}
        area = h5["events/area_um"]
        assert area.compression == "gzip"
        assert area.chunks == (7,)
        assert area.dtype == np.float32


def test_require_feature(path):
    with HDF5Writer(path, mode="w") as hw:
        dset = hw.require_feature("deform", (1,), np.float32)
        assert dset.shape == (0,)
        assert dset.dtype == np.float32
        assert hw.require_feature("deform", (), np.float32) == dset
        with pytest.raises(ValueError, match="deform.*shape"):
            hw.require_feature("deform", (3,), np.float32)
        img = hw.require_feature("image", (5, 6), np.uint8)
        assert img.shape == (0, 5, 6)
        assert img.chunks == get_best_nd_chunks((5, 6), np.uint8)
        extra = hw.require_feature("userdef1", (), np.float64, group_name="grp")
        assert extra.name == "/grp/userdef1"


# appending --------------------------------------------------------------------


def test_append_chunks(path):
    rng = np.random.default_rng(0)
    parts = [rng.random(n) for n in (3, 1, 17, 0, 5)]
    imgs = [rng.integers(0, 256, (n, 8, 9), dtype=np.uint8) for n in (2, 4, 1)]
    with HDF5Writer(path, mode="w") as hw:
        for part in parts:
            hw.store_feature_chunk("deform", part)
        for img in imgs:
            hw.store_feature_chunk("image", img)
    with h5py.File(path, "r") as h5:
        np.testing.assert_array_equal(h5["events/deform"][:], np.concatenate(parts))
        np.testing.assert_array_equal(h5["events/image"][:], np.concatenate(imgs))
    # reopen and keep appending
    with HDF5Writer(path, mode="a") as hw:
        hw.store_feature_chunk("deform", np.array([7.0]))
    with h5py.File(path, "r") as h5:
        assert h5["events/deform"].shape == (27,)
        assert h5["events/deform"][-1] == 7.0


def test_append_keeps_dtype_of_existing_feature(path):
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", np.array([0.5, 0.25], dtype=np.float32))
        hw.store_feature_chunk("deform", np.array([0.1], dtype=np.float64))
        dset = hw.events["deform"]
        assert dset.dtype == np.float32
        # the statistics describe what is stored, not the float64 input
        assert dset.attrs["min"] == float(np.float32(0.1))


def test_append_wrong_shape_or_scalar(path):
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("image", np.zeros((2, 4, 5), np.uint8))
        with pytest.raises(ValueError, match="'image'.*shape"):
            hw.store_feature_chunk("image", np.zeros((2, 4, 6), np.uint8))
        with pytest.raises(ValueError, match="'deform'.*scalar"):
            hw.store_feature_chunk("deform", np.float64(1.0))


def test_append_to_non_resizable_dataset_is_clear_error(path):
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/deform", data=np.arange(3.0))
    with HDF5Writer(path, mode="a") as hw:
        with pytest.raises(ValueError, match="'deform'.*resizable"):
            hw.store_feature_chunk("deform", np.array([1.0]))


def test_bool_stored_as_uint8_with_image_attrs(path):
    mask = np.zeros((3, 6, 7), dtype=bool)
    mask[:, 2:4, 1:5] = True
    mask[1, 0, 0] = True
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("mask", mask)
        hw.store_feature_chunk("image", np.ones((3, 6, 7), np.uint8))
        hw.store_feature_chunk("image_bg", np.ones((3, 6, 7), np.uint8))
        hw.store_feature_chunk("userdef1", np.ones((3, 6, 7), np.uint8))
    with h5py.File(path, "r") as h5:
        dset = h5["events/mask"]
        assert dset.dtype == np.uint8
        np.testing.assert_array_equal(dset[:] > 0, mask)
        for name in ["mask", "image", "image_bg"]:
            attrs = h5["events"][name].attrs
            for key, value in IMAGE_ATTRIBUTES.items():
                assert isinstance(attrs[key], bytes), (name, key)
                assert attrs[key] == value
            assert attrs["CLASS"] == b"IMAGE"
            assert attrs["IMAGE_SUBCLASS"] == b"IMAGE_GRAYSCALE"
            assert attrs["IMAGE_VERSION"] == b"1.2"
        # not an image feature: no image attributes
        assert "CLASS" not in h5["events/userdef1"].attrs


# min / max / mean -------------------------------------------------------------


def assert_stats(dset: h5py.Dataset) -> None:
    values = dset[:]
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    assert dset.attrs["min"] == finite.min()
    assert dset.attrs["max"] == finite.max()
    assert np.isclose(dset.attrs["mean"], np.mean(finite, dtype=np.float64),
                      rtol=1e-12, atol=0)
    assert dset.attrs["_count"] == finite.size


def test_stats_several_appends_with_nan_inf(path):
    chunks = [
        np.array([np.nan, np.nan]),                    # nothing finite yet
        np.array([1.5, np.inf, -2.0, np.nan]),
        np.array([10.25]),
        np.array([-np.inf, 3.0, 4.0, 0.0]),
        np.array([], dtype=float),
        np.array([np.nan]),
    ]
    with HDF5Writer(path, mode="w") as hw:
        dset = hw.store_feature_chunk("deform", chunks[0])
        assert "min" not in dset.attrs  # no finite value: no statistics
        for chunk in chunks[1:]:
            dset = hw.store_feature_chunk("deform", chunk)
            assert_stats(dset)
    with h5py.File(path, "r") as h5:
        dset = h5["events/deform"]
        assert_stats(dset)
        assert dset.attrs["min"] == -2.0
        assert dset.attrs["max"] == 10.25
        assert dset.attrs["mean"] == pytest.approx((1.5 - 2 + 10.25 + 3 + 4) / 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16,
                                   np.int64])
def test_stats_match_numpy_random(path, dtype):
    rng = np.random.default_rng(7)
    with HDF5Writer(path, mode="w") as hw:
        for size in (1, 10, 333, 2, 1000):
            data = (rng.normal(size=size) * 1000)
            if np.dtype(dtype).kind == "u":
                data = np.abs(data)
            dset = hw.store_feature_chunk("area_um", data.astype(dtype))
            assert_stats(dset)


def test_stats_after_append_to_plain_h5py_dataset(path):
    """A dataset written by another tool (no statistics) is summarized once."""
    old = np.array([5.0, np.nan, -1.0, 2.0])
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/deform", data=old, maxshape=(None,),
                          chunks=(10,))
    with HDF5Writer(path, mode="a") as hw:
        dset = hw.store_feature_chunk("deform", np.array([0.5, np.inf]))
        assert_stats(dset)
        assert dset.attrs["_count"] == 4
        dset = hw.store_feature_chunk("deform", np.array([100.0]))
        assert_stats(dset)
        assert dset.attrs["max"] == 100.0


def test_stats_after_append_to_plain_h5py_dataset_with_stale_stats(path):
    """Statistics without `_count` come from an unknown tool: recomputed."""
    old = np.array([1.0, 2.0, 3.0])
    with h5py.File(path, "w") as h5:
        dset = h5.create_dataset("events/deform", data=old, maxshape=(None,))
        dset.attrs.update({"min": -100.0, "max": 100.0, "mean": 42.0})
    with HDF5Writer(path, mode="a") as hw:
        dset = hw.store_feature_chunk("deform", np.array([4.0]))
        assert_stats(dset)
        assert dset.attrs["mean"] == 2.5


def test_stats_bool_and_nonnumeric(path):
    with HDF5Writer(path, mode="w") as hw:
        dset = hw.store_feature_chunk("flag", np.array([True, False, True]))
        assert dset.dtype == np.uint8
        assert_stats(dset)
        dset = hw.store_feature_chunk("names", np.array([b"a", b"bc"]))
        assert "min" not in dset.attrs
        # no statistics for non-scalar features
        dset = hw.store_feature_chunk("image", np.ones((2, 3, 3), np.uint8))
        assert "min" not in dset.attrs


# ragged data ------------------------------------------------------------------


def test_store_ragged(path):
    contours = [np.arange(2 * n, dtype=np.uint16).reshape(n, 2) for n in (3, 10, 1)]
    more = [np.zeros((0, 2), np.uint16), np.ones((5, 2), np.uint16)]
    with HDF5Writer(path, mode="w") as hw:
        hw.store_ragged("contour", contours)
        grp = hw.store_ragged("contour", more)
        assert len(grp) == 5
    with h5py.File(path, "r") as h5:
        grp = h5["events/contour"]
        assert sorted(grp.keys(), key=int) == ["0", "1", "2", "3", "4"]
        for ii, ref in enumerate(contours + more):
            np.testing.assert_array_equal(grp[str(ii)][:], ref)
            assert grp[str(ii)].dtype == np.uint16
            assert grp[str(ii)].fletcher32
        # same filters as every other dataset (the reference tools compress too)
        assert_default_filters(grp["1"])


# logs -------------------------------------------------------------------------


def test_log_fixed_length_utf8_round_trip(path):
    lines = ["[general]", "Temperature = 23.5 °C", "Probe: Zelllinie ÄÖÜ ß",
             "日本語 ✓ 🧫", "", "trailing   "]
    with HDF5Writer(path, mode="w") as hw:
        hw.store_log("acquisition", lines)
    with h5py.File(path, "r") as h5:
        dset = h5["logs/acquisition"]
        # fixed-length byte strings (variable-length strings cannot be filtered)
        assert dset.dtype.kind == "S"
        assert h5py.check_string_dtype(dset.dtype).length == dset.dtype.itemsize
        assert dset.dtype.itemsize == max(len(ln.encode("utf-8")) for ln in lines)
        assert dset.shape == (len(lines),)
        assert [v.decode("utf-8") for v in dset[:]] == lines
        assert read_text_lines(dset) == lines
        assert_default_filters(dset)


def test_log_from_single_string_and_bytes(path):
    with HDF5Writer(path, mode="w") as hw:
        hw.store_log("text", "first line\nzweite Zeile ü\n")
        hw.store_log("raw", [b"bytes \xc3\xa4", "str"])
        assert read_text_lines(hw.h5["logs/text"]) == ["first line", "zweite Zeile ü"]
        assert read_text_lines(hw.h5["logs/raw"]) == ["bytes ä", "str"]


def test_log_empty(path):
    with HDF5Writer(path, mode="w") as hw:
        hw.store_log("empty", [])
    with h5py.File(path, "r") as h5:
        assert h5["logs/empty"].shape == (0,)
        assert read_text_lines(h5["logs/empty"]) == []


def test_log_exists_override_append(path):
    with HDF5Writer(path, mode="w") as hw:
        hw.store_log("log", ["a", "b"])
        with pytest.raises(ValueError, match="'log' already exists"):
            hw.store_log("log", ["c"])
        assert read_text_lines(hw.h5["logs/log"]) == ["a", "b"]
        hw.store_log("log", ["a much longer line than before ☃"], append=True)
        assert read_text_lines(hw.h5["logs/log"]) == [
            "a", "b", "a much longer line than before ☃"]
        hw.store_log("log", ["new"], override=True)
        assert read_text_lines(hw.h5["logs/log"]) == ["new"]
        hw.store_log("fresh", ["x"], append=True)  # append to nothing: creates
        assert read_text_lines(hw.h5["logs/fresh"]) == ["x"]


def test_write_text_and_read_text_lines_variants(path):
    with h5py.File(path, "w") as h5:
        write_text(h5, "fixed", ["ä", "bc"])
        assert h5["fixed"].dtype == np.dtype("S2")
        assert h5["fixed"].fletcher32
        h5.create_dataset("vlen", data=["one", "zwei ü"],
                          dtype=h5py.string_dtype("utf-8"))
        h5.create_dataset("scalar", data="single line",
                          dtype=h5py.string_dtype("utf-8"))
        assert read_text_lines(h5["fixed"]) == ["ä", "bc"]
        assert read_text_lines(h5["vlen"]) == ["one", "zwei ü"]
        assert read_text_lines(h5["scalar"]) == ["single line"]


# tables -----------------------------------------------------------------------


def test_table_from_dict(path):
    table = {"time": np.array([0.0, 0.5, 1.0]), "temp": [23.1, 23.2, 23.3],
             "count": np.array([1, 2, 3], dtype=np.int32)}
    with HDF5Writer(path, mode="w") as hw:
        hw.store_table("monitor", table)
    with h5py.File(path, "r") as h5:
        dset = h5["tables/monitor"]
        assert dset.dtype.names == ("time", "temp", "count")
        assert dset.dtype["count"] == np.int32
        assert dset.dtype["temp"] == np.float64
        data = dset[:]
        for key, values in table.items():
            np.testing.assert_array_equal(data[key], values)
        assert_default_filters(dset)


def test_table_from_structured_array_and_replace(path):
    arr = np.zeros(4, dtype=[("a", np.float32), ("b", np.uint16)])
    arr["a"] = [1, 2, 3, 4.5]
    arr["b"] = [9, 8, 7, 6]
    with HDF5Writer(path, mode="w") as hw:
        hw.store_table("tab", arr)
        hw.store_table("rec", arr.view(np.recarray))
        hw.store_table("tab", arr[:2])  # same name: replaced
    with h5py.File(path, "r") as h5:
        assert h5["tables/tab"].dtype == arr.dtype
        np.testing.assert_array_equal(h5["tables/tab"][:], arr[:2])
        np.testing.assert_array_equal(h5["tables/rec"][:], arr)


def test_table_from_h5py_dataset_keeps_attrs(tmp_path):
    src = tmp_path / "src.h5"
    arr = np.array([(1.0, 2), (3.0, 4)], dtype=[("x", "f8"), ("y", "i2")])
    with h5py.File(src, "w") as h5:
        dset = h5.create_dataset("tab", data=arr)
        dset.attrs["unit"] = "s"
    with h5py.File(src, "r") as h5src, \
            HDF5Writer(tmp_path / "dst.h5", mode="w") as hw:
        hw.store_table("copy", h5src["tab"])
    with h5py.File(tmp_path / "dst.h5", "r") as h5:
        np.testing.assert_array_equal(h5["tables/copy"][:], arr)
        assert h5["tables/copy"].attrs["unit"] == "s"


def test_table_errors(path):
    with HDF5Writer(path, mode="w") as hw:
        with pytest.raises(ValueError, match="'plain'.*named columns"):
            hw.store_table("plain", np.arange(5.0))
        with pytest.raises(ValueError, match="'plain2'.*named columns"):
            hw.store_table("plain2", np.zeros((3, 2)))
        with pytest.raises(ValueError, match="'ragged'.*different lengths"):
            hw.store_table("ragged", {"a": [1.0, 2.0], "b": [1.0]})
        assert "plain" not in hw.h5.get("tables", {})


# basins -----------------------------------------------------------------------


def basin_json(h5: h5py.File, key: str) -> dict:
    dset = h5["basins"][key]
    lines = [v.decode("utf-8") if isinstance(v, bytes) else v for v in dset[:]]
    assert all("\n" not in ln for ln in lines)
    assert len(lines) > 1  # stored line by line, not as one blob
    return json.loads("\n".join(lines))


def test_basin_file_json_layout(path, tmp_path):
    other = tmp_path / "basin.rtdc"
    with HDF5Writer(path, mode="w") as hw:
        key = hw.store_basin("raw data", paths=[other, "relative/basin.rtdc"],
                             features=["image", "deform"], description="origin",
                             identifier="abc-123")
    with h5py.File(path, "r") as h5:
        assert list(h5["basins"].keys()) == [key]
        assert h5["basins"][key].dtype.kind == "S"
        bdict = basin_json(h5, key)
        assert "basinmap0" not in h5.get("events", {})
    assert bdict["name"] == "raw data"
    assert bdict["description"] == "origin"
    assert bdict["type"] == "file"
    assert bdict["format"] == "hdf5"
    assert bdict["paths"] == [str(other), "relative/basin.rtdc"]
    assert bdict["features"] == ["deform", "image"]
    assert bdict["mapping"] == "same"
    assert bdict["identifier"] == "abc-123"
    # the cytolab reader understands what the writer wrote
    with h5py.File(path, "r") as h5:
        (read,) = read_basin_dicts(h5)
    assert read["name"] == "raw data"
    assert read["paths"] == bdict["paths"]


def test_basin_key_stable_for_identical_content(tmp_path):
    kwargs = {"name": "b", "paths": ["x.rtdc"], "features": ["deform"]}
    with HDF5Writer(tmp_path / "1.h5", mode="w") as hw:
        key1 = hw.store_basin(**kwargs)
        key1b = hw.store_basin(**kwargs)
        key_other = hw.store_basin(**dict(kwargs, description="different"))
        assert len(hw.h5["basins"]) == 2
    with HDF5Writer(tmp_path / "2.h5", mode="w") as hw:
        # feature order does not matter (sorted), a new file gives the same key
        key2 = hw.store_basin(name="b", paths=["x.rtdc"], features=["deform"])
        key_dict = hw.store_basin_dict({"b": 1, "a": 2})
        key_dict2 = hw.store_basin_dict({"a": 2, "b": 1})
    assert key1 == key1b == key2
    assert key_other != key1
    assert key_dict == key_dict2
    assert len(key1) == 32 and int(key1, 16) >= 0


def test_basin_internal_data(path):
    userdef = np.arange(6, dtype=np.float64) * 0.5
    image = np.full((6, 4, 5), 7, np.uint8)
    with HDF5Writer(path, mode="w") as hw:
        key = hw.store_basin("internal", internal_data={"userdef1": userdef,
                                                        "image": image},
                             description="in-file")
    with h5py.File(path, "r") as h5:
        grp = h5[INTERNAL_BASIN_GROUP]
        assert INTERNAL_BASIN_GROUP == "basin_events"
        np.testing.assert_array_equal(grp["userdef1"][:], userdef)
        np.testing.assert_array_equal(grp["image"][:], image)
        assert grp["image"].attrs["CLASS"] == b"IMAGE"
        assert_default_filters(grp["userdef1"])
        # nothing leaked into /events
        assert "userdef1" not in h5.get("events", {})
        bdict = basin_json(h5, key)
    assert bdict["type"] == "internal"
    assert bdict["format"] == "h5dataset"
    assert bdict["paths"] == ["basin_events"]
    assert bdict["features"] == ["image", "userdef1"]
    assert bdict["mapping"] == "same"


def test_basin_argument_errors(path):
    with HDF5Writer(path, mode="w") as hw:
        with pytest.raises(ValueError, match="internal"):
            hw.store_basin("x", paths=["a.rtdc"], internal_data={"deform": [1.0]})
        with pytest.raises(ValueError, match="internal"):
            hw.store_basin("x", features=["deform"], internal_data={"deform": [1.0]})
        with pytest.raises(ValueError, match="path"):
            hw.store_basin("x", paths=[])
        with pytest.raises(ValueError, match="path"):
            hw.store_basin("x")
        assert "basins" not in hw.h5 or len(hw.h5["basins"]) == 0


def test_basin_with_mapping(path):
    mapping = np.array([0, 2, 5, 7])
    with HDF5Writer(path, mode="w") as hw:
        key = hw.store_basin("mapped", paths=["big.rtdc"], mapping=mapping)
        key2 = hw.store_basin("mapped 2", paths=["big.rtdc"], mapping=mapping)
        key3 = hw.store_basin("other", paths=["big.rtdc"], mapping=mapping[::-1])
    with h5py.File(path, "r") as h5:
        assert basin_json(h5, key)["mapping"] == "basinmap0"
        assert basin_json(h5, key2)["mapping"] == "basinmap0"  # reused
        assert basin_json(h5, key3)["mapping"] == "basinmap1"
        assert h5["events/basinmap0"].dtype == np.uint64
        np.testing.assert_array_equal(h5["events/basinmap0"][:], mapping)
        np.testing.assert_array_equal(h5["events/basinmap1"][:], mapping[::-1])


def test_next_basinmap_reuse_and_limit(path):
    with HDF5Writer(path, mode="w") as hw:
        names = [hw.next_basinmap(np.arange(5) + ii) for ii in range(10)]
        assert names == [f"basinmap{ii}" for ii in range(10)]
        # identical content: reused, whatever its position
        assert hw.next_basinmap(np.arange(5) + 3) == "basinmap3"
        assert hw.next_basinmap(np.arange(5, dtype=np.int32)) == "basinmap0"
        with pytest.raises(ValueError, match="basinmap"):
            hw.next_basinmap(np.arange(5) + 100)
        # a mapping of another length is different content, too
        with pytest.raises(ValueError, match="basinmap"):
            hw.next_basinmap(np.arange(4))
        assert sorted(hw.events.keys()) == sorted(names)


# file handling ----------------------------------------------------------------


def test_passed_in_file_stays_open(path):
    with h5py.File(path, "w") as h5:
        with HDF5Writer(h5) as hw:
            hw.store_feature_chunk("deform", np.arange(3.0))
        assert h5.id.valid
        h5["events/deform"].attrs["still"] = "writable"
        assert h5["events/deform"].shape == (3,)


def test_path_is_closed(path):
    hw = HDF5Writer(path, mode="w")
    h5 = hw.h5
    hw.store_feature_chunk("deform", np.arange(3.0))
    hw.close()
    assert not h5.id.valid
    with h5py.File(path, "r") as h5:
        assert h5["events/deform"].shape == (3,)


def test_in_memory_file():
    buf = io.BytesIO()
    with HDF5Writer(buf, mode="w") as hw:
        hw.store_feature_chunk("deform", np.array([0.1, 0.2]))
    with h5py.File(buf, "r") as h5:
        np.testing.assert_array_equal(h5["events/deform"][:], [0.1, 0.2])


def test_table_errors_name_table_and_column(tmp_path):
    with HDF5Writer(tmp_path / "t.h5", mode="w") as hw:
        with pytest.raises(ValueError, match="Table 'notes': column 'a'"):
            hw.store_table("notes", {"a": ["x", "y"]})
        with pytest.raises(ValueError, match="Table 'empty' has no columns"):
            hw.store_table("empty", {})
