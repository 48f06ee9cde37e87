"""RTDCBase behaviour: dispatch, dict datasets, feature lists, ancillary engine."""
from __future__ import annotations

import io
import pickle

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import (
    BadFeatureSizeWarning,
    FeatureNotAvailableError,
    FileFormatError,
)
from cytolab.rtdc import RTDC_HDF5, AncillaryFeature, RTDC_Dict
from cytolab.simulate import simulate_rtdc


@pytest.fixture
def sim_path(tmp_path):
    return simulate_rtdc(tmp_path / "sim.rtdc", num_events=30, images=True, seed=2)


@pytest.fixture
def recipes():
    """Register recipes for a test and remove them afterwards."""
    made = []

    def make(*args, **kwargs):
        recipe = AncillaryFeature(*args, **kwargs)
        made.append(recipe)
        return recipe

    yield make
    for recipe in made:
        AncillaryFeature.unregister(recipe)


def test_new_dataset_dispatch(sim_path, tmp_path):
    assert isinstance(cytolab.new_dataset({"deform": [0.1]}), RTDC_Dict)
    with cytolab.new_dataset(sim_path) as ds:
        assert isinstance(ds, RTDC_HDF5) and ds.format == "hdf5"
        assert ds.path == sim_path.resolve()
    # HDF5 content is detected whatever the extension
    odd = tmp_path / "measurement.dat"
    odd.write_bytes(sim_path.read_bytes())
    with cytolab.new_dataset(odd) as ds:
        assert len(ds) == 30
    with h5py.File(sim_path) as h5, cytolab.new_dataset(h5) as ds:
        assert len(ds) == 30
    assert not h5.id.valid  # closed by its own context manager only
    buf = io.BytesIO(sim_path.read_bytes())
    with cytolab.new_dataset(buf) as ds:
        assert np.array_equal(ds["deform"], cytolab.new_dataset(sim_path)["deform"])


def test_new_dataset_errors(tmp_path):
    with pytest.raises(FileFormatError, match="not found.*nope.rtdc"):
        cytolab.new_dataset(tmp_path / "nope.rtdc")
    with pytest.raises(NotImplementedError, match="Remote"):
        cytolab.new_dataset("https://example.org/data.rtdc")
    with pytest.raises(FileFormatError, match="missing a_para.ini"):
        (tmp_path / "a.tdms").write_bytes(b"TDSm")
        cytolab.new_dataset(tmp_path / "a.tdms")
    with pytest.raises(TypeError, match="int"):
        cytolab.new_dataset(42)


def test_dict_dataset():
    ds = cytolab.new_dataset({"area_um": [10.0, 20.0, 30.0],
                              "deform": np.array([0.01, 0.02, 0.03]),
                              "mask": np.ones((3, 4, 5), dtype=np.uint8),
                              "contour": [np.zeros((4, 2))] * 3,
                              "trace": {"fl1_raw": np.arange(12).reshape(3, 4)}})
    assert len(ds) == 3 and ds.path == "none" and ds.format == "dict"
    assert ds.config["experiment"]["event count"] == 3
    assert ds["mask"].dtype == bool
    assert ds["trace"]["fl1_raw"].shape == (3, 4)
    assert ds.features_innate == ["area_um", "contour", "deform", "mask", "trace"]
    with pytest.raises(ValueError):
        ds["deform"][0] = 5
    same = cytolab.new_dataset({"area_um": [10.0, 20.0, 30.0],
                                "deform": np.array([0.01, 0.02, 0.03]),
                                "mask": np.ones((3, 4, 5), dtype=np.uint8),
                                "contour": [np.zeros((4, 2))] * 3,
                                "trace": {"fl1_raw": np.arange(12).reshape(3, 4)}})
    assert ds.hash == same.hash and len(ds.hash) == 32
    assert ds.identifier != same.identifier


def test_dict_dataset_copies_input():
    data = np.array([1.0, 2.0])
    ds = cytolab.new_dataset({"area_um": data})
    data[0] = 99
    assert ds["area_um"][0] == 1.0


def test_feature_lists(sim_path):
    with cytolab.new_dataset(sim_path) as ds:
        assert "index" in ds.features_ancillary
        assert "time" in ds.features_ancillary
        assert "deform" not in ds.features_ancillary  # stored
        assert set(ds.features_innate) < set(ds.features)
        assert "image" not in ds.features_scalar and "deform" in ds.features_scalar
        assert "index" in ds.features_loaded  # rapid ancillaries are listed
        assert ds.features == sorted(ds.features)
        assert list(ds) == ds.features


def test_basic_ancillaries_values(sim_path):
    with cytolab.new_dataset(sim_path) as ds:
        frame = ds["frame"]
        fr = ds.config["imaging"]["frame rate"]
        assert np.array_equal(ds["index"], np.arange(1, 31))
        assert ds["time"].dtype == np.float64
        assert np.allclose(ds["time"], (frame - frame[0]) / fr, rtol=0, atol=0)
    dd = cytolab.new_dataset({"circ": [0.9, 0.8], "area_cvx": [100., 50.],
                              "area_msd": [90., 50.], "size_x": [10., 8.],
                              "size_y": [5., 8.]})
    dd.config["imaging"]["pixel size"] = 0.5
    assert np.allclose(dd["deform"], [0.1, 0.2])
    assert np.allclose(dd["area_um"], [25.0, 12.5])
    assert np.allclose(dd["aspect"], [2.0, 1.0])
    assert np.allclose(dd["area_ratio"], [100 / 90, 1.0])
    # no pixel size -> no area_um
    assert "area_um" not in cytolab.new_dataset({"area_cvx": [1.0]})


def test_ancillary_cache_follows_metadata():
    ds = cytolab.new_dataset({"area_cvx": [100.0]})
    ds.config["imaging"]["pixel size"] = 0.5
    assert ds["area_um"][0] == 25.0
    ds.config["imaging"]["pixel size"] = 1.0
    assert ds["area_um"][0] == 100.0


def test_ancillary_priority_and_req_func(recipes):
    ds = cytolab.new_dataset({"deform": [0.1, 0.2]})
    low = recipes("userdef5", lambda d: np.full(len(d), 1.0),
                  req_features=["deform"], priority=0)
    high = recipes("userdef5", lambda d: np.full(len(d), 2.0),
                   req_features=["deform"], priority=5,
                   req_func=lambda d: "userdef6" in d)
    # high priority unavailable (req_func false) -> low wins
    assert ds["userdef5"].tolist() == [1.0, 1.0]
    assert low.is_available(ds) and not high.is_available(ds)
    ds2 = cytolab.new_dataset({"deform": [0.1, 0.2], "userdef6": [0, 0]})
    assert ds2["userdef5"].tolist() == [2.0, 2.0]
    assert high.is_available(ds2) and not low.is_available(ds2)
    assert AncillaryFeature.available_features(ds2)["userdef5"] is high


def test_ancillary_shared_method_and_computed_once(recipes):
    calls = []

    def both(ds):
        calls.append(1)
        return {"userdef1": ds["deform"] * 2, "userdef2": ds["deform"] * 3}

    recipes("userdef1", both, req_features=["deform"])
    recipes("userdef2", both, req_features=["deform"])
    ds = cytolab.new_dataset({"deform": [1.0, 2.0]})
    assert ds["userdef1"].tolist() == [2.0, 4.0]
    assert ds["userdef2"].tolist() == [3.0, 6.0]
    ds["userdef1"]
    assert len(calls) == 1
    assert not ds["userdef1"].flags.writeable


def test_ancillary_size_check(recipes):
    recipes("userdef3", lambda d: np.arange(5.0), req_features=["deform"])
    recipes("userdef4", lambda d: np.arange(1.0), req_features=["deform"])
    ds = cytolab.new_dataset({"deform": [1.0, 2.0, 3.0]})
    with pytest.warns(BadFeatureSizeWarning, match="trimming"):
        assert ds["userdef3"].tolist() == [0.0, 1.0, 2.0]
    with pytest.warns(BadFeatureSizeWarning, match="padding"):
        out = ds["userdef4"]
    assert out[0] == 0 and np.isnan(out[1:]).all()


def test_ancillary_cycles_do_not_recurse(recipes):
    recipes("userdef8", lambda d: d["userdef9"], req_features=["userdef9"])
    recipes("userdef9", lambda d: d["userdef8"], req_features=["userdef8"])
    ds = cytolab.new_dataset({"deform": [1.0]})
    assert "userdef8" not in ds and "userdef9" not in ds
    with pytest.raises(FeatureNotAvailableError, match="userdef8"):
        ds["userdef8"]


def test_missing_feature_message(sim_path):
    with cytolab.new_dataset(sim_path) as ds:
        with pytest.raises(FeatureNotAvailableError, match="not a known feature"):
            ds["bogus"]
        with pytest.raises(KeyError):
            ds["emodulus"]


def test_measurement_identifier_and_title(tmp_path):
    path = tmp_path / "m.rtdc"
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"experiment": {"date": "2024-01-02", "time": "10:00:00",
                                          "run index": 3, "sample": "blood"},
                           "setup": {"identifier": "setup-1"}})
        hw.store_feature("deform", [0.1])
    with cytolab.new_dataset(path) as ds:
        assert ds.get_measurement_identifier() == \
            "023f1d76-f268-8d2d-56e9-eb1ec7e7eccd"
        assert "3" in ds.title and "blood" in ds.title
    with h5py.File(path, "a") as h5:
        h5.attrs["experiment:run identifier"] = "run-xyz"
    with cytolab.new_dataset(path) as ds:
        assert ds.get_measurement_identifier() == "run-xyz"
    assert cytolab.new_dataset({"deform": [1.0]}).get_measurement_identifier() is None


def test_config_is_not_written_back(sim_path):
    before = sim_path.read_bytes()
    with cytolab.new_dataset(sim_path) as ds:
        ds.config["user"]["note"] = "changed"
        ds.config["experiment"]["sample"] = "renamed"
        pickle.loads(pickle.dumps(ds.config))
    assert sim_path.read_bytes() == before
    with cytolab.new_dataset(sim_path) as ds:
        assert "note" not in ds.config["user"]


def test_scalar_read_cached_and_image_lazy(sim_path):
    with cytolab.new_dataset(sim_path) as ds:
        assert ds["deform"] is ds["deform"]
        img = ds["image"]
        assert img.shape == (30, 80, 250)
        assert np.array_equal(img[-1], img[29])
        assert ds["mask"][0].dtype == bool


def test_release_cache_reaches_parents_and_basins(tmp_path):
    """release_cache drops what was cached after the checkpoint, also in the
    hierarchy parent and in opened basins, and keeps what was there."""
    path = simulate_rtdc(tmp_path / "m.rtdc", num_events=30, seed=2)
    with cytolab.new_dataset(path) as ds:
        ds.export.hdf5(tmp_path / "b.rtdc", features=["deform"], basins=True)
    with cytolab.new_dataset(tmp_path / "b.rtdc") as dsb:
        child = cytolab.new_dataset(dsb)
        kept = dsb["aspect"]  # cached before the checkpoint
        mark = child.cache_checkpoint()
        area = child["area_um"]  # from the parent's basin
        assert "area_um" in dsb.features_basin
        assert any("area_um" in c for c in dsb._feature_caches())
        child.release_cache(mark)
        assert not any("area_um" in c for c in child._feature_caches())
        assert dsb["aspect"] is kept
        assert np.array_equal(child["area_um"], area)  # read again on demand
        child.release_cache()
        assert "aspect" not in dsb._ancillaries
