"""Copying datasets and .rtdc files: values, types, attributes, compression.

Sources are built with :class:`cytolab.RTDCWriter` and with raw h5py in the
shapes found in real files (uncompressed, gzip, contiguous, bool, images
with IMAGE attributes, fixed- and variable-length logs, compound tables),
and every real file in ``../shared/data/rtdc`` is copied and re-read.
Values must be bit-identical after a copy: no tolerance.
"""
from __future__ import annotations

import io
import json
import tracemalloc
import warnings

import h5py
import hdf5plugin
import numpy as np
import pytest

import cytolab
from cytolab.errors import (
    CytolabError,
    ExternalDataForbiddenError,
    FeatureNotAvailableError,
    FeatureShapeError,
    FileFormatError,
)
from cytolab.io import copier
from cytolab.io.copier import (
    assert_no_external,
    check_external,
    combine_h5files,
    h5ds_copy,
    is_properly_compressed,
    rtdc_copy,
)
from cytolab.io.writer import IMAGE_ATTRIBUTES, set_default_filter_kwargs

ZSTD = 32015
FLETCHER32 = h5py.h5z.FILTER_FLETCHER32


def filters(dset: h5py.Dataset) -> dict[int, tuple[int, ...]]:
    plist = dset.id.get_create_plist()
    out = {}
    for ii in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(ii)
        out[int(code)] = tuple(values)
    return out


def all_datasets(group: h5py.Group) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    group.visititems(lambda _n, obj: found.append(obj)
                     if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.fixture
def h5pair(tmp_path):
    """An open source file and an open destination file."""
    src = h5py.File(tmp_path / "src.h5", "w")
    dst = h5py.File(tmp_path / "dst.h5", "w")
    yield src, dst
    src.close()
    dst.close()


def make_rtdc(path, n=30, seed=0, scalar=("deform", "area_um"), images=True,
              extra_meta=None):
    """An .rtdc file written by cytolab's RTDCWriter."""
    rng = np.random.default_rng(seed)
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        meta = {"experiment": {"sample": f"sample {seed}", "run index": 1},
                "imaging": {"pixel size": 0.34}}
        for sec, vals in (extra_meta or {}).items():
            meta.setdefault(sec, {}).update(vals)
        hw.store_metadata(meta)
        for feat in scalar:
            hw.store_feature(feat, rng.random(n))
        if images:
            hw.store_feature("image", rng.integers(0, 255, (n, 12, 20),
                                                   dtype=np.uint8))
            hw.store_feature("trace", {"fl1_raw": rng.integers(
                0, 100, (n, 16)).astype(np.int16)})
        hw.store_log("acquisition", ["line 1", "line 2"])
        hw.store_table("monitor", {"time": np.arange(4.0), "temp": np.ones(4)})
    return path


# is_properly_compressed ------------------------------------------------------


@pytest.mark.parametrize("kwds, expected", [
    ({}, False),                                              # contiguous
    ({"chunks": (10,)}, False),                               # chunked, raw
    ({"compression": "gzip"}, False),
    ({"compression": "gzip", "fletcher32": True}, False),
    (dict(hdf5plugin.Zstd(clevel=1), fletcher32=True), False),  # too weak
    (dict(hdf5plugin.Zstd(clevel=5)), False),                 # no checksum
    (dict(hdf5plugin.Zstd(), fletcher32=True), False),        # implicit level 3
    (dict(hdf5plugin.Zstd(clevel=5), fletcher32=True), True),
    (dict(hdf5plugin.Zstd(clevel=9), fletcher32=True), True),
    ({"chunks": (7,), **set_default_filter_kwargs()}, True),
])
def test_is_properly_compressed_dataset(h5pair, kwds, expected):
    src, _ = h5pair
    dset = src.create_dataset("x", data=np.arange(100.0), **kwds)
    assert is_properly_compressed(dset) is expected


def test_is_properly_compressed_special_cases(h5pair):
    src, _ = h5pair
    # variable-length strings cannot carry checksums: Zstd >= 5 suffices
    vlen = src.create_dataset("vlen", data=["a", "bc"], dtype=h5py.string_dtype(),
                              chunks=(2,), **hdf5plugin.Zstd(clevel=5))
    vlen_weak = src.create_dataset("vlen_weak", data=["a"],
                                   dtype=h5py.string_dtype(), chunks=(1,),
                                   **hdf5plugin.Zstd(clevel=2))
    scalar = src.create_dataset("scalar", data=3.0)  # cannot be chunked
    assert is_properly_compressed(vlen)
    assert not is_properly_compressed(vlen_weak)
    assert is_properly_compressed(scalar)


def test_is_properly_compressed_group(h5pair):
    src, _ = h5pair
    grp = src.create_group("trace")
    assert is_properly_compressed(grp)  # empty
    grp.create_dataset("fl1_raw", data=np.ones((5, 10)), **set_default_filter_kwargs())
    assert is_properly_compressed(grp)
    assert is_properly_compressed(src)
    grp.create_group("deeper").create_dataset("raw", data=np.ones(3))
    assert not is_properly_compressed(grp)
    assert not is_properly_compressed(src)


def test_is_properly_compressed_wrong_type():
    with pytest.raises(TypeError, match="h5py Dataset or Group"):
        is_properly_compressed(np.arange(3))


# h5ds_copy -------------------------------------------------------------------


@pytest.mark.parametrize("kwds", [
    {},
    {"chunks": (50,)},
    {"compression": "gzip", "chunks": (64,)},
    {"compression": "lzf"},
    dict(hdf5plugin.Zstd(clevel=1)),
])
def test_h5ds_copy_recompresses(h5pair, kwds):
    src, dst = h5pair
    data = np.random.default_rng(1).random(1000)
    sds = src.create_dataset("deform", data=data, **kwds)
    sds.attrs["min"] = data.min()
    sds.attrs["note"] = "plain str"
    sds.attrs["tag"] = np.bytes_("bytes")
    out = h5ds_copy(src, "deform", dst)
    assert isinstance(out, h5py.Dataset)
    assert out.name == "/deform"
    np.testing.assert_array_equal(out[:], data)
    assert is_properly_compressed(out)
    flt = filters(out)
    assert flt[ZSTD][0] == 5 and FLETCHER32 in flt
    assert out.chunks[0] <= 1000
    assert out.maxshape == (None,)
    assert out.attrs["min"] == data.min()
    assert out.attrs["note"] == "plain str"
    assert isinstance(out.attrs["tag"], np.bytes_)  # type kept: bytes stay bytes


def test_h5ds_copy_fast_path_keeps_storage(h5pair):
    src, dst = h5pair
    data = np.arange(500, dtype=np.int32)
    sds = src.create_dataset("frame", data=data, chunks=(37,),
                             **hdf5plugin.Zstd(clevel=7), fletcher32=True)
    out = h5ds_copy(src, "frame", dst)
    # properly compressed data are copied as stored (same chunks and filters)
    assert out.chunks == (37,)
    assert filters(out) == filters(sds)
    np.testing.assert_array_equal(out[:], data)


def test_h5ds_copy_without_ensure_compression(h5pair):
    src, dst = h5pair
    src.create_dataset("a", data=np.arange(100), compression="gzip", chunks=(10,))
    src.create_dataset("b", data=np.arange(100))
    out_a = h5ds_copy(src, "a", dst, ensure_compression=False)
    out_b = h5ds_copy(src, "b", dst, ensure_compression=False)
    assert out_a.compression == "gzip" and out_a.chunks == (10,)
    assert out_b.chunks is None and out_b.compression is None
    np.testing.assert_array_equal(out_b[:], np.arange(100))


def test_h5ds_copy_dst_name_and_intermediate_groups(h5pair):
    src, dst = h5pair
    src.create_dataset("x", data=np.arange(10))
    out = h5ds_copy(src, "x", dst, "events/userdef1")
    assert out.name == "/events/userdef1"
    np.testing.assert_array_equal(dst["events/userdef1"][:], np.arange(10))


def test_h5ds_copy_group_recursive(h5pair):
    src, dst = h5pair
    trace = src.create_group("events/trace")
    trace.attrs["kind"] = "fluorescence"
    raw = np.arange(60, dtype=np.int16).reshape(6, 10)
    trace.create_dataset("fl1_raw", data=raw)
    trace.create_dataset("fl1_median", data=raw * 2, compression="gzip")
    contour = src.create_group("events/contour")
    for ii in range(12):  # names sort as strings: 0, 1, 10, 11, 2, ...
        contour.create_dataset(str(ii), data=np.full((ii + 3, 2), ii, np.uint16))
    out = h5ds_copy(src["events"], "trace", dst)
    assert isinstance(out, h5py.Group)
    assert out.attrs["kind"] == "fluorescence"
    np.testing.assert_array_equal(out["fl1_raw"][:], raw)
    np.testing.assert_array_equal(out["fl1_median"][:], raw * 2)
    assert is_properly_compressed(out)
    cout = h5ds_copy(src["events"], "contour", dst)
    assert sorted(cout, key=int) == [str(ii) for ii in range(12)]
    for ii in range(12):
        np.testing.assert_array_equal(cout[str(ii)][:], contour[str(ii)][:])
        assert cout[str(ii)].dtype == np.uint16
    assert is_properly_compressed(cout)


def test_h5ds_copy_group_not_recursive(h5pair):
    src, dst = h5pair
    src.create_group("trace").create_dataset("fl1_raw", data=np.ones((2, 3)))
    with pytest.raises(ValueError, match="'/trace'.*is a group"):
        h5ds_copy(src, "trace", dst, recursive=False)
    assert "trace" not in dst


def test_h5ds_copy_errors(h5pair):
    src, dst = h5pair
    src.create_dataset("x", data=np.arange(3))
    dst.create_dataset("x", data=np.arange(3))
    src["dtype"] = np.dtype("f8")  # a committed datatype: neither kind
    with pytest.raises(KeyError, match=r"/missing.* in .*src\.h5.*does not exist"):
        h5ds_copy(src, "missing", dst)
    with pytest.raises(ValueError, match="'/x' in '.*dst.h5' already exists"):
        h5ds_copy(src, "x", dst)
    with pytest.raises(ValueError, match="'/dtype'.*neither an HDF5 dataset"):
        h5ds_copy(src, "dtype", dst)
    with pytest.raises(TypeError, match="src_loc"):
        h5ds_copy("src.h5", "x", dst)
    with pytest.raises(TypeError, match="dst_loc"):
        h5ds_copy(src, "x", np.zeros(3))


def test_h5ds_copy_dtypes_kept(h5pair):
    src, dst = h5pair
    src.create_dataset("bool", data=np.array([True, False, True] * 10))
    img = np.random.default_rng(2).integers(0, 255, (7, 30, 40), dtype=np.uint8)
    sim = src.create_dataset("image", data=img, chunks=(3, 15, 20))
    sim.attrs.update(IMAGE_ATTRIBUTES)
    src.create_dataset("empty", shape=(0, 80, 250), dtype=np.uint8,
                       chunks=(10, 80, 250), maxshape=(None, 80, 250))
    src.create_dataset("zero_d", data=np.float32(1.5))
    src.create_dataset("f32", data=np.linspace(0, 1, 20, dtype=np.float32))
    for name in ("bool", "image", "empty", "zero_d", "f32"):
        h5ds_copy(src, name, dst)
        assert dst[name].dtype == src[name].dtype, name
        assert dst[name].shape == src[name].shape, name
        np.testing.assert_array_equal(dst[name][()], src[name][()])
    assert dst["bool"].dtype == np.bool_
    for key, value in IMAGE_ATTRIBUTES.items():
        assert dst["image"].attrs[key] == value
        assert dst["image"].attrs.get_id(key).dtype == sim.attrs.get_id(key).dtype
    assert is_properly_compressed(dst)


def test_h5ds_copy_strings_kept(h5pair):
    src, dst = h5pair
    lines = ["[General]", "Sample = blood", "Ümlaut = µm"]
    src.create_dataset("vlen_utf8", data=lines, dtype=h5py.string_dtype("utf-8"))
    src.create_dataset("vlen_ascii", data=[b"a", b"bb", b""],
                       dtype=h5py.string_dtype("ascii"), chunks=(10,),
                       maxshape=(None,))
    src.create_dataset("fixed", data=np.array([b"abc", b"defgh"], dtype="S100"))
    src.create_dataset("fixed_utf8", data=np.array(
        [s.encode() for s in lines], dtype=h5py.string_dtype("utf-8", 30)))
    for name in ("vlen_utf8", "vlen_ascii", "fixed", "fixed_utf8"):
        out = h5ds_copy(src, name, dst)
        assert out.dtype == src[name].dtype, name
        assert h5py.check_string_dtype(out.dtype) == \
            h5py.check_string_dtype(src[name].dtype), name
        assert list(out[()]) == list(src[name][()]), name
        assert is_properly_compressed(out), name
    assert [s.decode() for s in dst["vlen_utf8"][()]] == lines


def test_h5ds_copy_compound_table(h5pair):
    src, dst = h5pair
    table = np.zeros((9, 1), dtype=[("time", "<f8"), ("temp", "<f4"),
                                    ("flag", "i1")])
    table["time"] = np.arange(9).reshape(9, 1)
    src.create_dataset("tables/monitor", data=table, compression="gzip")
    out = h5ds_copy(src["tables"], "monitor", dst)
    assert out.dtype == table.dtype
    np.testing.assert_array_equal(out[()], table)
    assert is_properly_compressed(out)


def test_h5ds_copy_chunked_source_larger_than_buffer(h5pair, monkeypatch):
    """Source chunks above the copy budget are copied chunk by chunk."""
    src, dst = h5pair
    monkeypatch.setattr(copier, "COPY_BUFFER_BYTES", 32 * 1024)
    data = np.random.default_rng(3).integers(0, 255, (50, 64, 100), np.uint8)
    src.create_dataset("image", data=data, chunks=(25, 64, 100))  # 160 kB chunks
    out = h5ds_copy(src, "image", dst)
    assert np.prod(out.chunks) <= 32 * 1024
    np.testing.assert_array_equal(out[:], data)


def test_h5ds_copy_bounded_memory(tmp_path):
    """Recompression never holds the dataset in memory, only a few chunks.

    A 48 MB contiguous uint8 stack is rewritten into ~1 MiB chunks; the peak
    of memory allocated through Python/NumPy (tracemalloc) during the copy
    must stay far below the dataset size.
    """
    shape = (600, 200, 400)  # 48 MB
    block = np.random.default_rng(4).integers(0, 255, (50,) + shape[1:], np.uint8)
    with h5py.File(tmp_path / "big.h5", "w") as h5:
        dset = h5.create_dataset("image", shape=shape, dtype=np.uint8)
        for start in range(0, shape[0], 50):
            dset[start:start + 50] = block
    with h5py.File(tmp_path / "big.h5", "r") as src, \
            h5py.File(tmp_path / "out.h5", "w") as dst:
        tracemalloc.start()
        try:
            out = h5ds_copy(src, "image", dst)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert is_properly_compressed(out)
        assert peak < 8 * 1024**2, f"peak {peak / 1024**2:.1f} MiB"
        np.testing.assert_array_equal(out[-50:], block)
        np.testing.assert_array_equal(out[275:325], src["image"][275:325])


# rtdc_copy -------------------------------------------------------------------


def test_rtdc_copy_writer_file(tmp_path):
    path = make_rtdc(tmp_path / "in.rtdc")
    with h5py.File(path, "r") as src, h5py.File(tmp_path / "out.rtdc", "w") as dst:
        rtdc_copy(src, dst)
        assert dict(dst.attrs) == dict(src.attrs)
        assert sorted(dst["events"]) == sorted(src["events"])
        for name in ("deform", "area_um", "image", "trace/fl1_raw"):
            np.testing.assert_array_equal(dst["events"][name][()],
                                          src["events"][name][()])
        for key, value in IMAGE_ATTRIBUTES.items():
            assert dst["events/image"].attrs[key] == value
        assert list(dst["logs/acquisition"][()]) == [b"line 1", b"line 2"]
        np.testing.assert_array_equal(dst["tables/monitor"][()],
                                      src["tables/monitor"][()])
        assert is_properly_compressed(dst)
    with cytolab.new_dataset(path) as ds0, \
            cytolab.new_dataset(tmp_path / "out.rtdc") as ds1:
        assert len(ds1) == len(ds0) == 30
        np.testing.assert_array_equal(ds1["deform"], ds0["deform"])
        assert ds1.config["experiment"]["sample"] == "sample 0"
        assert ds1.logs["acquisition"] == ["line 1", "line 2"]


def raw_rtdc(h5: h5py.File) -> None:
    """An uncompressed .rtdc layout written with plain h5py (as old tools did)."""
    h5.attrs["experiment:sample"] = np.bytes_("legacy")  # bytes attribute
    h5.attrs["experiment:event count"] = 10
    h5.attrs["imaging:pixel size"] = 0.34
    ev = h5.create_group("events")
    ev.create_dataset("deform", data=np.linspace(0, 0.1, 10, dtype=np.float32))
    ev.create_dataset("frame", data=np.arange(10), compression="gzip")
    ev.create_dataset("image", data=np.ones((10, 8, 9), np.uint8))  # no attrs
    ev.create_dataset("mask", data=np.zeros((10, 8, 9), bool))
    cont = ev.create_group("contour")
    for ii in range(10):
        cont.create_dataset(str(ii), data=np.full((4, 2), ii))
    tr = ev.create_group("trace")
    tr.create_dataset("fl1_raw", data=np.ones((10, 5), np.int16))
    h5.create_dataset("logs/so_cfg", data=np.array([b"a", b"bb"], dtype="S100"))
    h5.create_dataset("logs/vlen", data=["x", "yz"], dtype=h5py.string_dtype())
    h5.create_dataset("tables/monitor", data=np.zeros(
        3, dtype=[("time", "f8"), ("focus", "f8")]))


def test_rtdc_copy_raw_h5py_file(h5pair):
    src, dst = h5pair
    raw_rtdc(src)
    rtdc_copy(src, dst)
    assert dst.attrs["experiment:sample"] == b"legacy"
    assert dst.attrs.get_id("experiment:sample").dtype == \
        src.attrs.get_id("experiment:sample").dtype
    assert sorted(dst["events"]) == ["contour", "deform", "frame", "image",
                                     "mask", "trace"]
    assert dst["events/mask"].dtype == bool
    assert dst["events/image"].attrs["CLASS"] == b"IMAGE"  # added to uint8 stacks
    assert "CLASS" not in dst["events/mask"].attrs  # a bool mask is left alone
    assert dst["logs/so_cfg"].dtype == np.dtype("S100")
    assert h5py.check_string_dtype(dst["logs/vlen"].dtype).length is None
    assert is_properly_compressed(dst)
    assert dst["events/deform"].dtype == np.float32


@pytest.mark.parametrize("features, expected", [
    ("all", ["contour", "deform", "frame", "image", "mask", "trace"]),
    ("scalar", ["deform", "frame"]),
    ("none", None),
    (["image", "deform"], ["deform", "image"]),
    (["trace", "trace"], ["trace"]),
    ([], None),
])
def test_rtdc_copy_feature_selection(h5pair, features, expected):
    src, dst = h5pair
    raw_rtdc(src)
    rtdc_copy(src, dst, features=features)
    if expected is None:
        assert "events" not in dst
    else:
        assert sorted(dst["events"]) == expected
    # metadata and logs are copied whatever the feature selection
    assert dst.attrs["experiment:event count"] == 10
    assert sorted(dst["logs"]) == ["so_cfg", "vlen"]


def test_rtdc_copy_invalid_features(h5pair):
    src, dst = h5pair
    raw_rtdc(src)
    with pytest.raises(FeatureNotAvailableError,
                       match=r"\['bright_avg'\] from '.*src.h5'.*available"):
        rtdc_copy(src, dst, features=["deform", "bright_avg"])
    # nothing was written
    assert len(dst) == 0 and len(dst.attrs) == 0
    with pytest.raises(ValueError, match="one of"):
        rtdc_copy(src, dst, features="images")
    with pytest.raises(TypeError, match="Feature names must be str"):
        rtdc_copy(src, dst, features=["deform", 3])
    with pytest.raises(TypeError, match="list of feature names"):
        rtdc_copy(src, dst, features=3)
    assert issubclass(FeatureNotAvailableError, CytolabError)


def test_rtdc_copy_prefix_and_includes(h5pair):
    src, dst = h5pair
    raw_rtdc(src)
    rtdc_copy(src, dst, meta_prefix="src_")
    assert sorted(dst["logs"]) == ["src_so_cfg", "src_vlen"]
    assert sorted(dst["tables"]) == ["src_monitor"]
    # a second copy with another prefix adds to the same destination groups
    dst2 = dst.create_group("second")  # any group works as destination
    rtdc_copy(src, dst2, include_logs=False, include_tables=False,
              features="none")
    assert "logs" not in dst2 and "tables" not in dst2 and "events" not in dst2
    with pytest.raises(ValueError, match="without '/'"):
        rtdc_copy(src, dst2, meta_prefix="a/b")


def test_rtdc_copy_conflicts_checked_first(h5pair):
    src, dst = h5pair
    raw_rtdc(src)
    rtdc_copy(src, dst, features="none", include_tables=False)
    with pytest.raises(ValueError, match=r"already holds \['logs/so_cfg'"):
        rtdc_copy(src, dst, features="scalar")
    assert "events" not in dst  # nothing written by the failed call
    rtdc_copy(src, dst, features="scalar", meta_prefix="again_")
    assert "again_so_cfg" in dst["logs"] and "deform" in dst["events"]


def test_rtdc_copy_without_events(h5pair):
    src, dst = h5pair
    src.attrs["experiment:sample"] = "no events"
    src.create_dataset("logs/log", data=[b"x"])
    for features in ("all", "scalar", "none"):
        rtdc_copy(src, dst.create_group(features), features=features)
        assert dst[features].attrs["experiment:sample"] == "no events"
        assert "events" not in dst[features]
    with pytest.raises(FeatureNotAvailableError, match="no 'events' group"):
        rtdc_copy(src, dst.create_group("list"), features=["deform"])


def test_rtdc_copy_basins(tmp_path):
    basin_path = make_rtdc(tmp_path / "basin.rtdc", n=20, images=False)
    path = tmp_path / "in.rtdc"
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"experiment": {"sample": "x", "run index": 1}})
        hw.store_feature("userdef1", np.arange(5.0))
        hw.store_basin("parent", basin_locs=[basin_path],
                       basin_map=np.array([0, 2, 4, 6, 8]))
        hw.store_basin("inner", basin_type="internal", basin_format="h5dataset",
                       internal_data={"userdef2": np.arange(20.0)},
                       basin_map=np.arange(5))
    with h5py.File(path, "r") as src, h5py.File(tmp_path / "out.rtdc", "w") as dst:
        rtdc_copy(src, dst, features="none")
        # the basin maps come along although no feature was selected
        assert sorted(dst["events"]) == ["basinmap0", "basinmap1"]
        assert sorted(dst["basins"]) == sorted(src["basins"])
        assert "basin_events" in dst
    with cytolab.new_dataset(tmp_path / "out.rtdc") as ds:
        np.testing.assert_array_equal(ds["userdef2"], np.arange(5.0))
        with cytolab.new_dataset(basin_path) as parent:
            np.testing.assert_array_equal(
                ds["deform"], np.asarray(parent["deform"])[[0, 2, 4, 6, 8]])
    with h5py.File(path, "r") as src, h5py.File(tmp_path / "nob.rtdc", "w") as dst:
        rtdc_copy(src, dst, features="none", include_basins=False)
        assert "basins" not in dst and "events" not in dst
        assert "basin_events" not in dst


def test_rtdc_copy_argument_errors(tmp_path, h5pair):
    src, dst = h5pair
    raw_rtdc(src)
    with pytest.raises(TypeError, match="src_h5file"):
        rtdc_copy(str(tmp_path / "src.h5"), dst)
    with pytest.raises(TypeError, match="dst_h5file"):
        rtdc_copy(src, tmp_path / "dst.h5")
    src.flush()
    with h5py.File(tmp_path / "ro.h5", "w"):
        pass
    with h5py.File(tmp_path / "ro.h5", "r") as ro:
        with pytest.raises(ValueError, match="read-only"):
            rtdc_copy(src, ro)


# check_external / combine_h5files -------------------------------------------


@pytest.fixture
def external_sources(tmp_path):
    """Files that refer to data elsewhere, in each of the four ways."""
    target = tmp_path / "target.h5"
    with h5py.File(target, "w") as h5:
        h5.create_dataset("events/area_um", data=np.arange(10.0) * 3)
        h5.create_dataset("events/deform", data=np.arange(10.0))
    raw = tmp_path / "raw.bin"
    np.arange(10.0).tofile(raw)
    paths = {}
    for kind in ("link", "soft", "virtual", "rawfile"):
        paths[kind] = tmp_path / f"{kind}.rtdc"
        with h5py.File(paths[kind], "w") as h5:
            h5.attrs["experiment:event count"] = 10
            ev = h5.create_group("events")
            ev.create_dataset("frame", data=np.arange(10))
            if kind == "link":
                ev["area_um"] = h5py.ExternalLink(str(target), "/events/area_um")
            elif kind == "soft":
                h5["outside"] = h5py.ExternalLink(str(target), "/events")
                ev["area_um"] = h5py.SoftLink("/outside/area_um")
            elif kind == "virtual":
                layout = h5py.VirtualLayout(shape=(10,), dtype="f8")
                layout[:] = h5py.VirtualSource(str(target), "events/area_um",
                                               shape=(10,))
                ev.create_virtual_dataset("area_um", layout)
            else:
                ev.create_dataset("area_um", shape=(10,), dtype="<f8",
                                  external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
    return paths


def test_check_external(external_sources, h5pair):
    src, _ = h5pair
    raw_rtdc(src)
    src["events/alias"] = h5py.SoftLink("/events/deform")  # internal: fine
    assert check_external(src) == (False, None)
    assert_no_external(src)
    expected = {"link": "/events/area_um", "soft": "/outside",
                "virtual": "/events/area_um", "rawfile": "/events/area_um"}
    for kind, path in external_sources.items():
        with h5py.File(path, "r") as h5:
            found, where = check_external(h5)
            assert found, kind
            assert where == expected[kind], kind
            with pytest.raises(ExternalDataForbiddenError, match=where):
                assert_no_external(h5)
    with h5py.File(external_sources["soft"], "r") as h5:
        # the soft link alone is recognised too
        assert check_external(h5["events"]) == (True, "/events/area_um")
        assert check_external(h5["events/frame"]) == (False, None)


def test_combine_external_raise(external_sources):
    for path in external_sources.values():
        with pytest.raises(ExternalDataForbiddenError, match=str(path.name)):
            combine_h5files([path], external="raise")
    assert issubclass(ExternalDataForbiddenError, CytolabError)


def test_combine_external_follow(external_sources):
    for kind, path in external_sources.items():
        fd = combine_h5files([path], external="follow")
        with h5py.File(fd, "r") as h5:
            # self-contained: values were copied, not linked
            assert check_external(h5) == (False, None), kind
            np.testing.assert_array_equal(h5["events/area_um"][:],
                                          np.arange(10.0) * (1 if kind == "rawfile"
                                                             else 3))
            np.testing.assert_array_equal(h5["events/frame"][:], np.arange(10))


def test_rtdc_copy_materializes_external(external_sources, tmp_path):
    with h5py.File(external_sources["virtual"], "r") as src, \
            h5py.File(tmp_path / "out.h5", "w") as dst:
        rtdc_copy(src, dst)
        assert not dst["events/area_um"].is_virtual
        assert check_external(dst) == (False, None)
        assert is_properly_compressed(dst)


def test_combine_files(tmp_path):
    pa = make_rtdc(tmp_path / "a.rtdc", seed=1, scalar=("deform", "area_um"))
    pb = make_rtdc(tmp_path / "b.rtdc", seed=2, scalar=("deform", "bright_avg"),
                   images=False)
    pc = tmp_path / "c.rtdc"
    with h5py.File(pc, "w") as h5:  # plain h5py, no metadata at all
        h5.create_dataset("events/userdef1", data=np.arange(30.0))
        h5.create_dataset("logs/other", data=[b"not used"])
    fd = combine_h5files([pa, pb, pc])
    assert isinstance(fd, io.BytesIO) and fd.tell() == 0
    with h5py.File(fd, "r") as h5, h5py.File(pa, "r") as ha, \
            h5py.File(pb, "r") as hb:
        assert sorted(h5["events"]) == ["area_um", "bright_avg", "deform",
                                        "image", "trace", "userdef1"]
        # first file wins on duplicates, metadata from the first file
        np.testing.assert_array_equal(h5["events/deform"][:], ha["events/deform"][:])
        np.testing.assert_array_equal(h5["events/bright_avg"][:],
                                      hb["events/bright_avg"][:])
        np.testing.assert_array_equal(h5["events/userdef1"][:], np.arange(30.0))
        assert dict(h5.attrs) == dict(ha.attrs)
        assert sorted(h5["logs"]) == ["acquisition"]
        assert sorted(h5["tables"]) == ["monitor"]
    fd.seek(0)
    with cytolab.new_dataset(fd) as ds:
        assert len(ds) == 30
        assert ds.config["experiment"]["sample"] == "sample 1"
        np.testing.assert_array_equal(ds["userdef1"], np.arange(30.0))
    fd2 = combine_h5files([pb, pa])  # order matters for duplicates
    with h5py.File(fd2, "r") as h5, h5py.File(pb, "r") as hb:
        np.testing.assert_array_equal(h5["events/deform"][:], hb["events/deform"][:])
        assert h5.attrs["experiment:sample"] == "sample 2"


def test_combine_unequal_event_counts(tmp_path):
    pa = make_rtdc(tmp_path / "a.rtdc", n=30, images=False)
    pb = make_rtdc(tmp_path / "b.rtdc", n=31, images=False)
    with pytest.raises(FeatureShapeError, match=r"a.rtdc': 30, .*b.rtdc': 31"):
        combine_h5files([pa, pb])
    pc = tmp_path / "c.rtdc"
    with h5py.File(pc, "w") as h5:  # no count attribute: the data decide
        h5.create_dataset("events/userdef1", data=np.arange(12.0))
    with pytest.raises(FeatureShapeError, match="c.rtdc': 12"):
        combine_h5files([pa, pc])


def test_combine_argument_errors(tmp_path):
    pa = make_rtdc(tmp_path / "a.rtdc", images=False)
    with pytest.raises(ValueError, match="empty"):
        combine_h5files([])
    with pytest.raises(ValueError, match="'follow' or 'raise'"):
        combine_h5files([pa], external="ignore")
    with pytest.raises(FileFormatError, match="missing.rtdc"):
        combine_h5files([pa, tmp_path / "missing.rtdc"])
    (tmp_path / "text.rtdc").write_text("no hdf5")
    with pytest.raises(FileFormatError, match="text.rtdc"):
        combine_h5files([tmp_path / "text.rtdc"])
    with pytest.raises(TypeError, match="list of paths"):
        combine_h5files(str(pa))
    with pytest.raises(TypeError, match="Expected paths"):
        combine_h5files([pa, 3])


# real files ------------------------------------------------------------------


def _scalar_equal(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_copy_real_files(real_rtdc_files, tmp_path):
    assert real_rtdc_files, "no real .rtdc files found"
    for short, path in real_rtdc_files.items():
        out = tmp_path / f"{short}.rtdc"
        with h5py.File(path, "r") as src, h5py.File(out, "w") as dst:
            rtdc_copy(src, dst)
            assert is_properly_compressed(dst), short
            for dset in all_datasets(dst):
                if dset.ndim >= 1 and dset.size:
                    assert ZSTD in filters(dset), (short, dset.name)
            assert sorted(dst.attrs) == sorted(src.attrs), short
            for grp in ("logs", "tables"):
                for name in src.get(grp, {}):
                    sds, dds = src[grp][name], dst[grp][name]
                    assert dds.dtype == sds.dtype, (short, name)
                    assert h5py.check_string_dtype(dds.dtype) == \
                        h5py.check_string_dtype(sds.dtype), (short, name)
                    assert dds.shape == sds.shape, (short, name)
                    assert np.array_equal(dds[()], sds[()]), (short, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd real files warn on open
            with cytolab.new_dataset(path) as ds0, cytolab.new_dataset(out) as ds1:
                assert len(ds1) == len(ds0), short
                assert json.dumps(dict(ds1.config), sort_keys=True, default=str) \
                    == json.dumps(dict(ds0.config), sort_keys=True, default=str), short
                assert sorted(ds1.features_innate) == sorted(ds0.features_innate)
                for feat in ds0.features_innate:
                    if feat in ds0.features_scalar:
                        assert _scalar_equal(ds1[feat], ds0[feat]), (short, feat)
                assert dict(ds1.logs) == dict(ds0.logs), short


def test_combine_real_file_with_itself(real_rtdc_files, tmp_path):
    path = real_rtdc_files.get("example_traces")
    if path is None:
        pytest.skip("example_traces.rtdc not available")
    other = tmp_path / "userdef.rtdc"
    with h5py.File(path, "r") as h5:
        n = h5["events/deform"].shape[0]
    with h5py.File(other, "w") as h5:
        h5.create_dataset("events/userdef1", data=np.arange(n, dtype=float))
    fd = combine_h5files([path, other], external="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with cytolab.new_dataset(fd) as ds, cytolab.new_dataset(path) as ds0:
            assert "userdef1" in ds and "trace" in ds
            np.testing.assert_array_equal(ds["deform"], ds0["deform"])
            np.testing.assert_array_equal(ds["userdef1"], np.arange(n))
