"""Building derived files: copy_metadata, copy_features, copy_basins,
create_with_basins, and the dcnum-style ``cytolab.write`` module."""
from __future__ import annotations

import json
import pathlib
import warnings

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import (
    CreatingFileWithoutBasinWarning,
    CytolabWarning,
    FeatureNotAvailableError,
    IgnoringBasinTypeWarning,
)
from cytolab.io import (
    INTERNAL_BASIN_GROUP,
    HDF5Data,
    HDF5Writer,
    copy_basins,
    copy_features,
    copy_metadata,
    create_with_basins,
    get_measurement_identifier,
    is_properly_compressed,
    read_basin_dicts,
)

NUM = 10
META = {"experiment:date": "2024-05-06", "experiment:time": "10:11:12",
        "setup:identifier": "setup-A", "imaging:pixel size": 0.34,
        "experiment:event count": NUM}


def write_source(path, num: int = NUM) -> pathlib.Path:
    with HDF5Writer(path, mode="w") as hw:
        for key, value in META.items():
            hw.h5.attrs[key] = value
        hw.h5.attrs["experiment:sample"] = np.bytes_(b"blood")  # fixed-length
        hw.store_feature_chunk("deform", np.arange(num) / 10)
        hw.store_feature_chunk("image", np.arange(num * 12, dtype=np.uint8
                                                  ).reshape(num, 3, 4))
        hw.store_feature_chunk("fl1_raw", np.arange(num * 5).reshape(num, 5),
                               group_name="events/trace")
        hw.store_ragged("contour", [np.full((ii + 1, 2), ii) for ii in range(num)])
        hw.store_log("acquisition", ["src line"])
        hw.store_log("shared", ["from source"])
        hw.store_table("monitor", {"t": np.array([1.0, 2.0])})
    return path


@pytest.fixture
def source(tmp_path) -> pathlib.Path:
    folder = tmp_path / "src"
    folder.mkdir()
    return write_source(folder / "raw.rtdc")


# copy_metadata ---------------------------------------------------------------


def test_copy_metadata_never_overwrites(source, tmp_path):
    dst_path = tmp_path / "dst.rtdc"
    with h5py.File(dst_path, "w") as dst:
        dst.attrs["imaging:pixel size"] = 1.5
        dst.create_dataset("logs/shared", data=[b"mine"])
        dst.create_dataset("tables/monitor", data=np.zeros(1, [("x", "f4")]))
        with h5py.File(source) as src:
            copy_metadata(src, dst)
            copy_metadata(src, dst)  # a second call changes nothing
    with h5py.File(dst_path) as dst:
        assert dst.attrs["imaging:pixel size"] == 1.5
        assert dst.attrs["experiment:date"] == "2024-05-06"
        sample = dst.attrs.get_id("experiment:sample")
        assert dst.attrs["experiment:sample"] == b"blood"  # type kept
        assert sample.dtype == np.dtype("S5")
        assert [x.decode() for x in dst["logs/shared"][:]] == ["mine"]
        assert [x.decode() for x in dst["logs/acquisition"][:]] == ["src line"]
        assert dst["tables/monitor"].dtype.names == ("x",)
        assert "events" not in dst and "basins" not in dst


# copy_features ---------------------------------------------------------------


def test_copy_features_whole(source, tmp_path):
    with h5py.File(source) as src, h5py.File(tmp_path / "d.rtdc", "w") as dst:
        copy_features(src, dst, ["deform", "image", "trace", "contour"])
        assert np.array_equal(dst["events/deform"][:], src["events/deform"][:])
        assert np.array_equal(dst["events/image"][:], src["events/image"][:])
        assert dst["events/image"].attrs["CLASS"] == b"IMAGE"
        assert np.array_equal(dst["events/trace/fl1_raw"][:],
                              src["events/trace/fl1_raw"][:])
        assert np.array_equal(dst["events/contour/7"][:], np.full((8, 2), 7))
        assert is_properly_compressed(dst["events"])


def test_copy_features_mapped(source, tmp_path):
    mapping = np.array([9, 2, 2, 5])
    with h5py.File(source) as src, h5py.File(tmp_path / "d.rtdc", "w") as dst:
        copy_features(src, dst, ["deform", "image", "trace", "contour"],
                      mapping=mapping, ds_kwds={"compression": "gzip"})
        assert np.array_equal(dst["events/deform"][:], mapping / 10)
        assert dst["events/deform"].attrs["max"] == 0.9  # of the copied events
        assert np.array_equal(dst["events/image"][:], src["events/image"][:][mapping])
        assert dst["events/image"].compression == "gzip"
        assert dst["events/image"].fletcher32
        assert np.array_equal(dst["events/trace/fl1_raw"][:],
                              src["events/trace/fl1_raw"][:][mapping])
        assert [dst[f"events/contour/{ii}"].shape[0] for ii in range(4)] == \
            [10, 3, 3, 6]
    with h5py.File(source) as src, h5py.File(tmp_path / "e.rtdc", "w") as dst:
        copy_features(src, dst, ["deform", "image"], mapping=[])
        assert dst["events/deform"].shape == (0,)
        assert dst["events/image"].shape == (0, 3, 4)


def test_copy_features_errors(source, tmp_path):
    with h5py.File(source) as src, h5py.File(tmp_path / "d.rtdc", "w") as dst:
        dst.create_dataset("events/image", data=np.zeros((1, 3, 4), np.uint8))
        with pytest.raises(ValueError, match=r"\['image'\] already exist"):
            copy_features(src, dst, ["deform", "image"])
        assert "deform" not in dst["events"]  # checked before writing
        with pytest.raises(FeatureNotAvailableError, match="area_um.*raw.rtdc"):
            copy_features(src, dst, ["area_um"])


# copy_basins -----------------------------------------------------------------


def write_derived(path, raw: pathlib.Path) -> pathlib.Path:
    """A file with a mapped file basin and an internal basin."""
    with HDF5Writer(path, mode="w") as hw:
        for key, value in META.items():
            hw.h5.attrs[key] = value
        hw.h5.attrs["experiment:event count"] = 4
        hw.store_feature_chunk("userdef1", np.arange(4.0))
        hw.store_basin("raw", paths=["raw.rtdc"], mapping=np.array([1, 3, 5, 7]),
                       identifier=get_measurement_identifier(hw.h5))
        hw.store_basin("bg", internal_data={
            "image_bg": np.stack([np.full((3, 4), v, np.uint8) for v in (7, 8)])},
            mapping=np.array([0, 0, 1, 1]))
    return path


def test_copy_basins(source, tmp_path):
    derived = write_derived(source.parent / "derived.rtdc", source)
    out = tmp_path / "elsewhere" / "out.rtdc"
    out.parent.mkdir()
    with h5py.File(derived) as src, HDF5Writer(out, mode="w") as hw:
        for key, value in src.attrs.items():
            hw.h5.attrs[key] = value
        hw.store_feature_chunk("userdef2", np.arange(4.0))
        hw.store_feature_chunk("basinmap0", np.array([9, 9, 9, 9], np.uint64))
        keys = copy_basins(src, hw.h5)
    assert len(keys) == 2
    with h5py.File(out) as h5:
        bdicts = {b["name"]: b for b in read_basin_dicts(h5)}
        # renumbered: basinmap0 of the destination was taken
        assert {bdicts["raw"]["mapping"], bdicts["bg"]["mapping"]} == \
            {"basinmap1", "basinmap2"}
        raw_map = h5["events"][bdicts["raw"]["mapping"]][:]
        assert raw_map.tolist() == [1, 3, 5, 7]
        assert bdicts["raw"]["paths"] == ["raw.rtdc", str(source.resolve())]
        assert h5[f"{INTERNAL_BASIN_GROUP}/image_bg"].shape == (2, 3, 4)
    with HDF5Data(out) as data:
        assert np.array_equal(data["deform"], [0.1, 0.3, 0.5, 0.7])
        assert data.image_bg[:][:, 0, 0].tolist() == [7, 7, 8, 8]
        assert data["userdef2"].tolist() == [0, 1, 2, 3]


def test_copy_basins_same_folder_and_without_internal(source):
    derived = write_derived(source.parent / "derived.rtdc", source)
    out = source.parent / "out.rtdc"
    with h5py.File(derived) as src, h5py.File(out, "w") as dst:
        copy_features(src, dst, ["userdef1"])
        copy_basins(src, dst, internal_basins=False)
        copy_basins(src, dst, internal_basins=False)  # idempotent
    with h5py.File(out) as h5:
        bdicts = read_basin_dicts(h5)
        assert len(bdicts) == 1 and bdicts[0]["paths"] == ["raw.rtdc"]
        assert bdicts[0]["mapping"] == "basinmap0"
        assert INTERNAL_BASIN_GROUP not in h5
    with HDF5Data(out) as data:
        assert data.keys() == ["basinmap0", "contour", "deform", "image",
                               "trace", "userdef1"]
        assert data.image[:][:, 0, 0].tolist() == [12, 36, 60, 84]


def test_copy_basins_conflicting_internal_data(source, tmp_path):
    derived = write_derived(source.parent / "derived.rtdc", source)
    with h5py.File(derived) as src, h5py.File(tmp_path / "o.rtdc", "w") as dst:
        dst.create_dataset(f"{INTERNAL_BASIN_GROUP}/image_bg",
                           data=np.zeros((2, 3, 4), np.uint8))
        with pytest.raises(ValueError, match="image_bg.*differ"):
            copy_basins(src, dst)


# create_with_basins ----------------------------------------------------------


def test_create_with_basins_list_of_paths(source, tmp_path):
    second = write_source(source.parent / "second.rtdc", num=NUM)
    out = source.parent / "ref.rtdc"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert create_with_basins(out, [source, str(second)]) == out
    with h5py.File(out) as h5:
        assert list(h5["events"]) == []
        assert h5.attrs["experiment:date"] == "2024-05-06"
        assert [x.decode() for x in h5["logs/acquisition"][:]] == ["src line"]
        bdicts = read_basin_dicts(h5)
        assert len(bdicts) == 2
        raw = next(b for b in bdicts if b["name"] == "raw.rtdc")
        assert raw["paths"] == [str(source)]
        assert raw["features"] == ["contour", "deform", "image", "trace"]
        assert raw["identifier"] == get_measurement_identifier(h5)
    with HDF5Data(out) as data:
        assert len(data) == NUM
        assert np.array_equal(data["deform"], np.arange(NUM) / 10)
    assert sorted(p.name for p in out.parent.iterdir()) == \
        ["raw.rtdc", "ref.rtdc", "second.rtdc"]  # no temporary file left


def test_create_with_basins_alternative_paths(source, tmp_path, monkeypatch):
    out = source.parent / "ref.rtdc"
    create_with_basins(out, [["raw.rtdc", source.resolve()]])
    with h5py.File(out) as h5:
        (bdict,) = read_basin_dicts(h5)
        assert bdict["paths"] == ["raw.rtdc", str(source.resolve())]
    # moved elsewhere: the absolute alternative is still found
    moved = tmp_path / "moved.rtdc"
    out.rename(moved)
    monkeypatch.chdir(tmp_path)
    with HDF5Data(moved) as data:
        assert data.image[3][0, 0] == 36


def test_create_with_basins_warnings(source, tmp_path):
    text = source.parent / "notes.tdms"
    text.write_text("not HDF5")
    out = source.parent / "ref.rtdc"
    with pytest.warns(IgnoringBasinTypeWarning, match="notes.tdms.*https") as rec:
        create_with_basins(out, [["notes.tdms", "https://example.com/a.rtdc",
                                  "raw.rtdc"]])
    assert not any(issubclass(w.category, CreatingFileWithoutBasinWarning)
                   for w in rec)
    with h5py.File(out) as h5:
        assert read_basin_dicts(h5)[0]["paths"] == ["raw.rtdc"]
    with pytest.warns(CreatingFileWithoutBasinWarning) as rec:
        create_with_basins(out, ["missing.rtdc", source])
    assert any("missing.rtdc" in str(w.message) for w in rec)
    with h5py.File(out) as h5:
        assert len(read_basin_dicts(h5)) == 1
    with pytest.warns(CreatingFileWithoutBasinWarning, match="without any basin"):
        create_with_basins(out, [])
    with h5py.File(out) as h5:
        assert "basins" not in h5 and "events" in h5
    with pytest.raises(TypeError, match="list"):
        create_with_basins(out, source)


def test_warning_classes():
    for cls in (CreatingFileWithoutBasinWarning, IgnoringBasinTypeWarning):
        assert issubclass(cls, UserWarning) and issubclass(cls, CytolabWarning)


# HDF5Writer (DN-WR-01..05) through HDF5Data ------------------------------------


def test_writer_basin_with_internal_data_mapping_identifier(tmp_path):
    path = tmp_path / "m.rtdc"
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", np.arange(6.0))
        key = hw.store_basin("bg", internal_data={"image_bg": np.zeros((2, 3, 4),
                                                                       np.uint8)},
                             mapping=np.array([0, 1, 1, 0, 1, 0]),
                             identifier="run-1", description="backgrounds")
        hw.store_log("run", ["a"])
        with pytest.raises(ValueError, match="already exists"):
            hw.store_log("run", ["b"])
        hw.store_log("run", ["c"], override=True)
    with h5py.File(path) as h5:
        bdict = json.loads("\n".join(x.decode() for x in h5["basins"][key][:]))
    assert bdict == {"name": "bg", "description": "backgrounds",
                     "type": "internal", "format": "h5dataset",
                     "paths": ["basin_events"], "features": ["image_bg"],
                     "mapping": "basinmap0", "identifier": "run-1"}
    with HDF5Data(path) as data:
        assert data.image_bg.shape == (6, 3, 4)
        assert data.logs["run"] == ["c"]


# the dcnum-style module ------------------------------------------------------


def test_cytolab_write_module():
    import cytolab.write as write

    assert cytolab.write is write
    assert write.HDF5Writer is HDF5Writer
    assert write.create_with_basins is create_with_basins
    assert write.CreatingFileWithoutBasinWarning is CreatingFileWithoutBasinWarning
    assert write.set_default_filter_kwargs()["fletcher32"] is True
    assert set(write.__all__) == {
        "CreatingFileWithoutBasinWarning", "HDF5Writer",
        "IgnoringBasinTypeWarning", "copy_basins", "copy_features",
        "copy_metadata", "create_with_basins", "set_default_filter_kwargs"}
    # nothing of the dataset API is shadowed
    assert cytolab.RTDCWriter.__name__ == "RTDCWriter"
