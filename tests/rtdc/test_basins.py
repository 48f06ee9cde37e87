"""Basins: features of a dataset provided by other files or groups."""
from __future__ import annotations

import json
import pathlib
import shutil

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import BasinUnavailableWarning, FeatureNotAvailableError
from cytolab.io import HDF5Writer
from cytolab.simulate import simulate_rtdc


@pytest.fixture
def measurement(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small simulated measurement with images in its own folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    return simulate_rtdc(folder / "input.rtdc", num_events=40, images=True, seed=7)


def _derived(path_out, path_in, **basin_kwargs):
    with cytolab.new_dataset(path_in) as ds, \
            cytolab.RTDCWriter(path_out, mode="reset") as hw:
        hw.store_metadata(ds.config.as_dict(pop_filtering=True))
        bmap = basin_kwargs.get("basin_map")
        if isinstance(bmap, tuple):
            bmap = bmap[1]
        nev = len(ds) if bmap is None else len(bmap)
        hw.store_feature("userdef1", np.arange(nev) * 0.5)
        return hw.store_basin(basin_name="raw data", basin_type="file",
                              basin_format="hdf5", basin_locs=[path_in],
                              **basin_kwargs)


def test_userdef1_with_file_basin(measurement, tmp_path):
    out = measurement.parent / "output.rtdc"
    key = _derived(out, measurement)
    with cytolab.new_dataset(out) as ds_out, cytolab.new_dataset(measurement) as ds_in:
        assert "userdef1" in ds_out.features_innate
        assert "image" in ds_out and "image" in ds_out.features_basin
        assert "deform" in ds_out.features_basin
        assert "userdef1" not in ds_out.features_basin
        assert np.array_equal(ds_out["deform"], ds_in["deform"])
        assert np.array_equal(ds_out["image"][5], ds_in["image"][5])
        assert np.array_equal(ds_out["mask"][len(ds_in) - 1],
                              ds_in["mask"][len(ds_in) - 1])
        assert ds_out.basins[0].key == key
        assert set(ds_in.features_innate) <= set(ds_out.features)


def test_basin_json_layout(measurement):
    out = measurement.parent / "output.rtdc"
    key = _derived(out, measurement)
    with h5py.File(out) as h5:
        lines = [ln.decode() for ln in h5["basins"][key][:]]
    bdict = json.loads("\n".join(lines))
    assert bdict["type"] == "file"
    assert bdict["format"] == "hdf5"
    assert bdict["mapping"] == "same"
    assert bdict["features"] is None
    assert bdict["name"] == "raw data"
    # absolute path first, then the path relative to the output file
    assert bdict["paths"] == [str(measurement.resolve()), "input.rtdc"]
    with cytolab.new_dataset(measurement) as ds:
        assert bdict["identifier"] == ds.get_measurement_identifier()


def test_every_second_event_mapped_basin(measurement):
    out = measurement.parent / "output.rtdc"
    with cytolab.new_dataset(measurement) as ds:
        nev = len(ds)
    mapping = np.arange(0, nev, 2, dtype=np.uint64)
    _derived(out, measurement, basin_map=mapping)
    with cytolab.new_dataset(out) as ds_out, cytolab.new_dataset(measurement) as ds_in:
        assert len(ds_out) == len(mapping) == nev // 2
        assert "basinmap0" in ds_out.features_innate
        assert np.array_equal(ds_out["basinmap0"], mapping)
        assert np.array_equal(ds_out["deform"], ds_in["deform"][::2])
        assert np.array_equal(ds_out["area_um"], ds_in["area_um"][::2])
        assert np.array_equal(ds_out["image"][3], ds_in["image"][6])
        assert np.array_equal(ds_out["mask"][1:4], ds_in["mask"][2:8:2])
        # computed features belong to the derived dataset, not the basin
        assert np.array_equal(ds_out["index"], np.arange(1, len(mapping) + 1))


def test_mapped_basin_with_explicit_name_and_duplicates(measurement):
    out = measurement.parent / "output.rtdc"
    mapping = np.array([3, 3, 0, 10], dtype=np.uint64)
    _derived(out, measurement, basin_map=("basinmap4", mapping))
    with cytolab.new_dataset(out) as ds_out, cytolab.new_dataset(measurement) as ds_in:
        assert np.array_equal(ds_out["basinmap4"], mapping)
        assert np.array_equal(ds_out["pos_x"], ds_in["pos_x"][[3, 3, 0, 10]])


def test_mapped_basin_out_of_range_rejected_on_write(measurement):
    out = measurement.parent / "output.rtdc"
    with pytest.raises(ValueError, match="refers to event 4000"):
        _derived(out, measurement, basin_map=np.array([0, 4000]))
    assert not out.exists()


def test_relative_path_after_moving_both_files(measurement, tmp_path):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    moved = tmp_path / "elsewhere"
    shutil.move(str(measurement.parent), str(moved))
    assert not measurement.exists()  # the absolute path is now invalid
    with cytolab.new_dataset(moved / "output.rtdc") as ds_out, \
            cytolab.new_dataset(moved / "input.rtdc") as ds_in:
        assert np.array_equal(ds_out["deform"], ds_in["deform"])
        assert ds_out.basins[0].location == moved / "input.rtdc"


def test_missing_basin_file_reported(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    measurement.unlink()
    with pytest.warns(BasinUnavailableWarning, match="raw data.*not found"):
        with cytolab.new_dataset(out) as ds:
            assert "userdef1" in ds.features
            assert "image" not in ds
            assert ds.features_basin == []
            with pytest.raises(FeatureNotAvailableError,
                               match=r"'image'.*raw data.*file not found"):
                ds["image"]
            assert np.array_equal(ds["userdef1"], np.arange(40) * 0.5)


def test_wrong_measurement_identifier_rejected(measurement, tmp_path):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    # replace the basin file by a different measurement under the same name
    other = simulate_rtdc(tmp_path / "other.rtdc", num_events=40, seed=8)
    with h5py.File(other, "a") as h5:
        h5.attrs["experiment:run identifier"] = "another-measurement"
    shutil.copy(other, measurement)
    with pytest.warns(BasinUnavailableWarning, match="another-measurement"):
        with cytolab.new_dataset(out) as ds:
            assert "deform" not in ds.features_basin
            with pytest.raises(FeatureNotAvailableError, match="another-measurement"):
                ds["bright_avg"]


def test_identifier_checked_against_referrer_without_stored_identifier(
        measurement, tmp_path):
    out = measurement.parent / "output.rtdc"
    with cytolab.RTDCWriter(out, mode="reset") as hw:
        hw.store_metadata({"experiment": {"run identifier": "not-the-input"}})
        hw.store_feature("userdef1", np.zeros(40))
        hw.store_basin(basin_name="raw", basin_type="file", basin_format="hdf5",
                       basin_locs=[measurement], verify=False)
    with pytest.warns(BasinUnavailableWarning, match="not-the-input"):
        with cytolab.new_dataset(out) as ds:
            assert "deform" not in ds


def test_features_restriction(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement, basin_feats=["deform", "image"])
    with cytolab.new_dataset(out) as ds:
        assert ds.features_basin == ["deform", "image"]
        assert "bright_avg" not in ds
        with pytest.raises(FeatureNotAvailableError):
            ds["bright_avg"]


def test_basins_are_loaded_lazily_and_closed(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    ds = cytolab.new_dataset(out)
    ds["userdef1"]
    assert ds._basins is None  # nothing about basins was touched yet
    ds["image"][0]
    basin = ds.basins[0]
    assert basin._ds is not None
    h5 = basin._ds.h5file
    ds.close()
    assert basin._ds is None and not h5.id.valid


def test_enable_basins_false(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    with cytolab.new_dataset(out, enable_basins=False) as ds:
        assert "image" not in ds
        assert ds.features_basin == []


def test_nested_basins(measurement):
    mid = measurement.parent / "mid.rtdc"
    top = measurement.parent / "top.rtdc"
    _derived(mid, measurement, basin_map=np.arange(0, 40, 2))
    with cytolab.new_dataset(mid) as dm, cytolab.RTDCWriter(top, mode="reset") as hw:
        hw.store_metadata(dm.config.as_dict(pop_filtering=True))
        hw.store_feature("userdef2", np.ones(10))
        hw.store_basin(basin_name="mid", basin_type="file", basin_format="hdf5",
                       basin_locs=[mid], basin_map=np.arange(10) * 2)
    with cytolab.new_dataset(top) as dt, cytolab.new_dataset(measurement) as di:
        # event i of top = event 2i of mid = event 4i of the input
        assert np.array_equal(dt["deform"], di["deform"][::4])
        assert np.array_equal(dt["userdef1"], np.arange(0, 20, 2) * 0.5)
        assert np.array_equal(dt["image"][2], di["image"][8])


def test_internal_basin(tmp_path):
    path = tmp_path / "internal.rtdc"
    frame_data = np.array([10., 20., 30.])
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"imaging": {"frame rate": 1000}})
        hw.store_feature("deform", np.array([0.1, 0.2, 0.3, 0.4]))
        hw.store_basin(basin_name="frames", basin_type="internal",
                       basin_format="h5dataset", basin_locs=["basin_events"],
                       internal_data={"userdef7": frame_data},
                       basin_map=np.array([0, 0, 1, 2]))
    with h5py.File(path) as h5:
        assert "basin_events" in h5 and "userdef7" in h5["basin_events"]
    with cytolab.new_dataset(path) as ds:
        assert ds.features_basin == ["userdef7"]
        assert np.array_equal(ds["userdef7"], [10., 10., 20., 30.])


def test_priority_same_before_mapped(measurement):
    """Two basins provide `deform`: the unmapped one is used."""
    out = measurement.parent / "output.rtdc"
    with cytolab.new_dataset(measurement) as ds_in:
        nev = len(ds_in)
        deform = ds_in["deform"]
    # a second basin file whose events are in reverse order
    rev = measurement.parent / "reversed.rtdc"
    with cytolab.new_dataset(measurement) as ds_in, \
            cytolab.RTDCWriter(rev, mode="reset") as hw:
        hw.store_metadata(ds_in.config.as_dict(pop_filtering=True))
        hw.store_feature("deform", deform[::-1])
    with cytolab.RTDCWriter(out, mode="reset") as hw, \
            cytolab.new_dataset(measurement) as ds_in:
        hw.store_metadata(ds_in.config.as_dict(pop_filtering=True))
        hw.store_feature("userdef1", np.zeros(nev))
        hw.store_basin(basin_name="reversed", basin_type="file",
                       basin_format="hdf5", basin_locs=[rev],
                       basin_map=np.arange(nev)[::-1])
        hw.store_basin(basin_name="same", basin_type="file", basin_format="hdf5",
                       basin_locs=[measurement])
    with cytolab.new_dataset(out) as ds:
        assert [b.name for b in ds.basins] == ["same", "reversed"]
        assert np.array_equal(ds["deform"], deform)


def test_unknown_basin_types_are_skipped(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement)
    with h5py.File(out, "a") as h5:
        HDF5Writer(h5).store_basin_dict({"name": "future", "type": "teleport",
                                         "format": "quantum", "mapping": "same"})
    with cytolab.new_dataset(out) as ds:
        assert [b.name for b in ds.basins] == ["raw data"]
        assert "image" in ds


def test_same_mapping_with_wrong_length_is_unavailable(measurement, tmp_path):
    out = measurement.parent / "output.rtdc"
    with cytolab.new_dataset(measurement) as ds_in, \
            cytolab.RTDCWriter(out, mode="reset") as hw:
        hw.store_metadata(ds_in.config.as_dict(pop_filtering=True))
        hw.store_feature("userdef1", np.zeros(5))
        hw.store_basin(basin_name="raw", basin_type="file", basin_format="hdf5",
                       basin_locs=[measurement])
    with pytest.warns(BasinUnavailableWarning, match="40 events.*has 5"):
        with cytolab.new_dataset(out) as ds:
            assert "image" not in ds


def test_basin_as_dict_round_trip(measurement):
    out = measurement.parent / "output.rtdc"
    _derived(out, measurement, basin_map=np.arange(0, 40, 4))
    with cytolab.new_dataset(out) as ds:
        kwargs = ds.basins[0].as_dict()
    assert kwargs["basin_type"] == "file" and kwargs["basin_format"] == "hdf5"
    assert np.array_equal(kwargs["basin_map"], np.arange(0, 40, 4))
    again = measurement.parent / "again.rtdc"
    with cytolab.RTDCWriter(again, mode="reset") as hw:
        hw.store_feature("userdef1", np.zeros(10))
        hw.store_basin(**kwargs)
    with cytolab.new_dataset(again) as da, cytolab.new_dataset(measurement) as di:
        assert np.array_equal(da["deform"], di["deform"][::4])
