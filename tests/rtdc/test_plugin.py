"""Plugin features (DC-PLG-01/02) and ml_class (DC-ANC-02)."""
from __future__ import annotations

import textwrap
import warnings

import h5py
import numpy as np
import pytest

import cytolab
from cytolab import definitions as dfn
from cytolab.rtdc.plugin import (
    PlugInFeature,
    PluginImportError,
    import_plugin_feature_script,
    load_plugin_feature,
    remove_all_plugin_features,
    remove_plugin_feature,
)
from cytolab.rtdc.temporary import deregister_all

SIMPLE = '''
def compute_my_feature(rtdc_ds):
    """circularity times area"""
    return {"circ_times_area": rtdc_ds["circ"] * rtdc_ds["area_um"]}

info = {
    "method": compute_my_feature,
    "description": "Compute area times circularity",
    "feature names": ["circ_times_area"],
    "features required": ["circ", "area_um"],
    "version": "0.1.0",
}
'''

ADVANCED = '''
CALLS = []

def compute_some_new_features(rtdc_ds):
    CALLS.append(1)
    circ_per_area = rtdc_ds["circ"] / rtdc_ds["area_um"]
    circ_times_area = rtdc_ds["circ"] * rtdc_ds["area_um"]
    return {"circ_per_area": circ_per_area, "circ_times_area": circ_times_area}

info = {
    "method": compute_some_new_features,
    "description": "This plugin computes two features",
    "long description": "in one function",
    "feature names": ["circ_per_area", "circ_times_area"],
    "feature labels": ["Circularity per area", "Circularity times area"],
    "features required": ["circ", "area_um"],
    "config required": [],
    "method check required": lambda x: True,
    "scalar feature": [True, True],
    "version": "0.1.0",
}
'''

METADATA = '''
def compute_area_exponent(rtdc_ds):
    return {"area_exp": rtdc_ds["area_um"] ** rtdc_ds.config["user"]["exp"]}

info = {
    "method": compute_area_exponent,
    "feature names": ["area_exp"],
    "features required": ["area_um"],
    "config required": [["user", ["exp"]]],
    "version": "0.1.0",
}
'''

NON_SCALAR = '''
import numpy as np

def compute(rtdc_ds):
    masks = np.asarray(rtdc_ds["mask"][:])
    return {"mask_inverted": ~masks, "mask_pixels": masks.sum(axis=(1, 2))}

info = {
    "method": compute,
    "feature names": ["mask_inverted", "mask_pixels"],
    "features required": ["mask"],
    "scalar feature": [False, True],
    "feature shapes": [(80, 250), None],
}
'''


@pytest.fixture(autouse=True)
def _clean():
    remove_all_plugin_features()
    deregister_all()
    yield
    remove_all_plugin_features()
    deregister_all()


def recipe(tmp_path, text, name="plugin.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_documented_simple_example(rtdc_data_dir, tmp_path):
    plugins = load_plugin_feature(recipe(tmp_path, SIMPLE))
    assert len(plugins) == 1 and isinstance(plugins[0], PlugInFeature)
    assert plugins[0].feature_name == "circ_times_area"
    assert plugins[0].plugin_feature_info["version"] == "0.1.0"
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    assert "circ_times_area" in ds
    assert np.allclose(ds["circ_times_area"], ds["circ"] * ds["area_um"])
    ds.config["filtering"]["circ_times_area min"] = 23
    ds.config["filtering"]["circ_times_area max"] = 29
    ds.apply_filter()
    # number printed in the reference documentation
    assert np.sum(~ds.filter.all) == 4828
    assert not (tmp_path / "__pycache__").exists()


def test_two_features_computed_once(tmp_path):
    plugins = load_plugin_feature(recipe(tmp_path, ADVANCED))
    assert [p.feature_name for p in plugins] == ["circ_per_area", "circ_times_area"]
    assert dfn.get_feature_label("circ_per_area") == "Circularity per area"
    ds = cytolab.new_dataset({"circ": np.array([.5, .8]),
                              "area_um": np.array([10., 20.])})
    assert np.allclose(ds["circ_per_area"], [.05, .04])
    assert np.allclose(ds["circ_times_area"], [5, 16])
    calls = plugins[0].method.__globals__["CALLS"]
    assert len(calls) == 1
    assert {"circ_per_area", "circ_times_area"} <= set(ds.features_ancillary)


def test_config_required(rtdc_data_dir, tmp_path):
    load_plugin_feature(recipe(tmp_path, METADATA))
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    assert "area_exp" not in ds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.config["user"] = {"inlet": True, "n_channels": 4, "exp": 3}
    assert "area_exp" in ds
    assert np.allclose(ds["area_exp"], ds["area_um"] ** 3)
    ds.config["user"]["exp"] = 2  # a changed requirement recomputes
    assert np.allclose(ds["area_exp"], ds["area_um"] ** 2)


def test_non_scalar_plugin_feature_and_export(tmp_path):
    from cytolab.simulate import simulate_rtdc
    path = simulate_rtdc(tmp_path / "sim.rtdc", num_events=12, images=True)
    load_plugin_feature(recipe(tmp_path, NON_SCALAR))
    ds = cytolab.new_dataset(path)
    assert not dfn.scalar_feature_exists("mask_inverted")
    assert ds["mask_inverted"].shape == (12, 80, 250)
    assert np.array_equal(ds["mask_inverted"][3], ~np.asarray(ds["mask"][3]))
    assert "mask_pixels" in ds.features_scalar
    assert "mask_inverted" not in ds.features_scalar


def test_stored_plugin_data_is_innate(tmp_path):
    path = tmp_path / "data.rtdc"
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_feature("circ", np.array([.5, .8]))
        hw.store_feature("area_um", np.array([10., 20.]))
    with h5py.File(path, "a") as h5:
        h5["events/circ_times_area"] = np.array([111., 222.])
    # recipe loaded after opening
    with pytest.warns(cytolab.errors.UnknownFeatureWarning):
        ds = cytolab.new_dataset(path)
    plugins = load_plugin_feature(recipe(tmp_path, SIMPLE))
    assert ds["circ_times_area"].tolist() == [111, 222]
    assert "circ_times_area" in ds.features_innate
    # recipe loaded before opening
    ds2 = cytolab.new_dataset(path)
    assert ds2["circ_times_area"].tolist() == [111, 222]
    remove_plugin_feature(plugins[0])
    assert "circ_times_area" not in ds2


def test_removal(tmp_path):
    plugins = load_plugin_feature(recipe(tmp_path, ADVANCED))
    ds = cytolab.new_dataset({"circ": np.array([.5]), "area_um": np.array([10.])})
    remove_plugin_feature(plugins[0])
    assert "circ_per_area" not in ds and "circ_times_area" in ds
    assert not dfn.feature_exists("circ_per_area")
    remove_all_plugin_features()
    assert "circ_times_area" not in ds
    with pytest.raises(TypeError, match="PlugInFeature"):
        remove_plugin_feature("circ_times_area")
    # the names can be loaded again
    assert len(load_plugin_feature(recipe(tmp_path, ADVANCED))) == 2


def test_bad_recipes(tmp_path):
    with pytest.raises(PluginImportError, match="not found"):
        load_plugin_feature(tmp_path / "missing.py")
    with pytest.raises(PluginImportError, match="ModuleNotFoundError"):
        load_plugin_feature(recipe(tmp_path, "import not_a_module_xyz\n", "a.py"))
    with pytest.raises(PluginImportError, match="no `info`"):
        load_plugin_feature(recipe(tmp_path, "x = 1\n", "b.py"))
    with pytest.raises(ValueError, match="must be a list"):
        load_plugin_feature(recipe(
            tmp_path, "info = {'method': print, 'feature names': 'abc'}\n", "c.py"))
    with pytest.raises(ValueError, match="exist already"):
        load_plugin_feature(recipe(
            tmp_path, "info = {'method': print, 'feature names': ['deform']}\n",
            "d.py"))
    with pytest.raises(ValueError, match="one entry per feature"):
        load_plugin_feature(recipe(
            tmp_path, "info = {'method': print, 'feature names': ['aa', 'bb'],"
                      " 'feature labels': ['A']}\n", "e.py"))
    assert not dfn.feature_exists("aa") and not dfn.feature_exists("bb")
    load_plugin_feature(recipe(tmp_path, SIMPLE))
    with pytest.raises(ValueError, match="exist already"):
        load_plugin_feature(recipe(tmp_path, SIMPLE, "again.py"))


def test_import_script_returns_info(tmp_path):
    info = import_plugin_feature_script(recipe(tmp_path, SIMPLE))
    assert info["feature names"] == ["circ_times_area"]
    assert not dfn.feature_exists("circ_times_area")  # importing registers nothing
    assert not (tmp_path / "__pycache__").exists()


def test_identifier_depends_on_file(tmp_path):
    a = load_plugin_feature(recipe(tmp_path, SIMPLE, "a.py"))[0]
    remove_all_plugin_features()
    b = load_plugin_feature(recipe(tmp_path, SIMPLE + "\n# changed\n", "b.py"))[0]
    assert a.identifier != b.identifier


# ml_class
def test_ml_class_from_scores():
    ds = cytolab.new_dataset({
        "ml_score_abc": np.array([.1, .9, np.nan, .3]),
        "ml_score_xyz": np.array([.5, .2, np.nan, np.nan]),
        "ml_score_def": np.array([.4, 0, np.nan, .2])})
    # classes in sorted name order: abc=0, def=1, xyz=2
    assert np.array_equal(ds["ml_class"], [2, 0, np.nan, 0], equal_nan=True)
    assert "ml_class" in ds.features_ancillary


def test_ml_class_follows_score_set():
    cytolab.register_temporary_feature("ml_score_zzz")
    ds = cytolab.new_dataset({"ml_score_abc": np.array([.1, .9])})
    assert ds["ml_class"].tolist() == [0, 0]
    cytolab.set_temporary_feature(ds, "ml_score_zzz", [.5, .5])
    assert ds["ml_class"].tolist() == [1, 0]
    cytolab.set_temporary_feature(ds, "ml_score_zzz", [0, 1])
    assert ds["ml_class"].tolist() == [0, 1]


def test_no_scores_no_ml_class():
    ds = cytolab.new_dataset({"deform": np.array([.1])})
    assert "ml_class" not in ds
