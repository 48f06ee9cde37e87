"""Temporary features: registry, per-dataset data, stored data in files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import cytolab
from cytolab import definitions as dfn
from cytolab.errors import UnknownFeatureWarning
from cytolab.rtdc.temporary import (
    deregister_all,
    deregister_temporary_feature,
    register_temporary_feature,
    set_temporary_feature,
)


@pytest.fixture(autouse=True)
def _clean_temporary():
    deregister_all()
    yield
    deregister_all()


def make_file(path, extra=None):
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"experiment": {"sample": "t", "run index": 1,
                                          "date": "2026-11-21", "time": "10:00:00"},
                           "imaging": {"frame rate": 1000, "pixel size": .34},
                           "setup": {"channel width": 20, "chip region": "channel",
                                     "flow rate": .04, "identifier": "tmp"}})
        hw.store_feature("deform", np.linspace(0, .2, 10))
    if extra:
        with h5py.File(path, "a") as h5:
            for name, data in extra.items():
                h5["events"].create_dataset(name, data=data)
    return path


def test_register_set_and_read():
    register_temporary_feature("cell_class", label="Cell class [a.u.]")
    assert dfn.feature_exists("cell_class")
    assert dfn.scalar_feature_exists("cell_class")
    assert dfn.get_feature_label("cell_class") == "Cell class [a.u.]"
    ds = cytolab.new_dataset({"deform": np.arange(3.)})
    assert "cell_class" not in ds
    values = np.array([1., 2., 3.])
    set_temporary_feature(ds, "cell_class", values)
    values[0] = 99  # the dataset holds its own copy
    assert ds["cell_class"].tolist() == [1., 2., 3.]
    assert "cell_class" in ds.features and "cell_class" in ds.features_loaded
    assert "cell_class" in ds.features_scalar
    assert "cell_class" not in ds.features_innate
    with pytest.raises(ValueError):
        ds["cell_class"][0] = 5  # read-only


def test_non_scalar_temporary_feature():
    register_temporary_feature("my_image", is_scalar=False)
    ds = cytolab.new_dataset({"deform": np.arange(3.)})
    set_temporary_feature(ds, "my_image", np.zeros((3, 4, 5)))
    assert ds["my_image"].shape == (3, 4, 5)
    assert "my_image" not in ds.features_scalar


@pytest.mark.parametrize("name", ["Cell", "with space", "dash-name", "", 3])
def test_invalid_names(name):
    with pytest.raises(ValueError, match="Invalid"):
        register_temporary_feature(name)


def test_builtin_and_double_registration():
    with pytest.raises(ValueError, match="built-in"):
        register_temporary_feature("deform")
    register_temporary_feature("abc")
    with pytest.raises(ValueError, match="already registered"):
        register_temporary_feature("abc")


def test_set_errors():
    ds = cytolab.new_dataset({"deform": np.arange(3.)})
    with pytest.raises(ValueError, match="not a registered"):
        set_temporary_feature(ds, "unregistered", [1, 2, 3])
    register_temporary_feature("abc")
    with pytest.raises(ValueError, match="needs 3 values"):
        set_temporary_feature(ds, "abc", [1, 2])
    with pytest.raises(ValueError, match="1-D"):
        set_temporary_feature(ds, "abc", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="not a registered"):
        deregister_temporary_feature("nope")


def test_deregister_hides_data_reregister_shows_it():
    register_temporary_feature("abc")
    ds = cytolab.new_dataset({"deform": np.arange(3.)})
    set_temporary_feature(ds, "abc", [1, 2, 3])
    deregister_temporary_feature("abc")
    assert "abc" not in ds and "abc" not in ds.features
    with pytest.raises(KeyError):
        ds["abc"]
    register_temporary_feature("abc")
    assert ds["abc"].tolist() == [1, 2, 3]


def test_stored_data_registered_before_opening(tmp_path):
    path = make_file(tmp_path / "t.rtdc", {"my_temp": np.arange(10.)})
    register_temporary_feature("my_temp")
    ds = cytolab.new_dataset(path)
    assert ds["my_temp"].tolist() == list(range(10))
    assert "my_temp" in ds.features_innate


def test_stored_data_registered_after_opening(tmp_path):
    path = make_file(tmp_path / "t.rtdc", {"my_temp": np.arange(10.)})
    with pytest.warns(UnknownFeatureWarning, match="my_temp"):
        ds = cytolab.new_dataset(path)
    assert "my_temp" not in ds
    register_temporary_feature("my_temp")
    assert "my_temp" in ds
    assert ds["my_temp"].tolist() == list(range(10))
    deregister_temporary_feature("my_temp")
    assert "my_temp" not in ds and "my_temp" not in ds.features


def test_stored_data_with_wrong_length_stays_hidden(tmp_path):
    path = make_file(tmp_path / "t.rtdc", {"my_temp": np.arange(4.)})
    with pytest.warns(UnknownFeatureWarning):
        ds = cytolab.new_dataset(path)
    register_temporary_feature("my_temp")
    with pytest.warns(cytolab.errors.BadFeatureSizeWarning, match="my_temp"):
        assert "my_temp" not in ds


def test_ancillary_cache_follows_temporary_data():
    register_temporary_feature("circ_tmp")
    from cytolab.rtdc.ancillaries import AncillaryFeature
    recipe = AncillaryFeature("userdef7", lambda ds: 2 * ds["circ_tmp"],
                              req_features=["circ_tmp"])
    try:
        ds = cytolab.new_dataset({"deform": np.arange(3.)})
        assert "userdef7" not in ds
        set_temporary_feature(ds, "circ_tmp", [1, 2, 3])
        assert ds["userdef7"].tolist() == [2, 4, 6]
        set_temporary_feature(ds, "circ_tmp", [3, 2, 1])
        assert ds["userdef7"].tolist() == [6, 4, 2]
    finally:
        AncillaryFeature.unregister(recipe)
