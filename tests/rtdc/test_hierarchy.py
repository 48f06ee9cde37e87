"""Hierarchy children: filtered events of a parent, stacked gates."""
from __future__ import annotations

import numpy as np
import pytest

import cytolab
from cytolab.rtdc.formats.hierarchy import (
    RTDC_Hierarchy,
    map_indices_child2parent,
    map_indices_child2root,
    map_indices_parent2child,
    map_indices_root2child,
)
from cytolab.rtdc.temporary import (
    deregister_all,
    register_temporary_feature,
    set_temporary_feature,
)
from cytolab.simulate import simulate_rtdc


@pytest.fixture(autouse=True)
def _clean_temporary():
    deregister_all()
    yield
    deregister_all()


def gated(ds, feat, lo, hi):
    ds.config["filtering"][f"{feat} min"] = lo
    ds.config["filtering"][f"{feat} max"] = hi
    ds.apply_filter()
    return ds


def test_documented_hierarchy_lengths(rtdc_data_dir):
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    gated(ds, "deform", 0, .15)
    ds.filter.manual[[0, 400, 345, 1000]] = False
    ds.apply_filter()
    child = cytolab.new_dataset(ds)
    assert isinstance(child, RTDC_Hierarchy) and child.format == "hierarchy"
    child.config["filtering"]["area_um min"] = 0
    child.config["filtering"]["area_um max"] = 80
    grandchild = cytolab.new_dataset(child)
    grandchild.rejuvenate()
    assert (len(ds), len(child), len(grandchild)) == (5000, 4933, 4778)
    assert (ds.filter.all.sum(), child.filter.all.sum(),
            grandchild.filter.all.sum()) == (4933, 4778, 4778)
    assert child.config["filtering"]["hierarchy parent"] == ds.identifier
    assert grandchild.config["filtering"]["hierarchy parent"] == child.identifier
    assert grandchild.get_root_parent() is ds
    assert grandchild.hparent is child
    # feature values are those of the selected root events
    root_idx = map_indices_child2root(grandchild, np.arange(len(grandchild)))
    assert np.array_equal(grandchild["deform"], ds["deform"][root_idx])
    assert np.array_equal(grandchild["area_um"], ds["area_um"][root_idx])
    assert np.all(grandchild["area_um"] <= 80)
    # logs and metadata come from the root
    assert grandchild.logs.keys() == ds.logs.keys()
    assert grandchild.config["setup"] == ds.config["setup"]


def test_index_mapping_round_trip():
    rng = np.random.default_rng(0)
    ds = cytolab.new_dataset({"deform": rng.uniform(0, 1, 50),
                              "area_um": rng.uniform(0, 1, 50)})
    child = cytolab.new_dataset(gated(ds, "deform", .2, .8))
    grandchild = cytolab.new_dataset(gated(child, "area_um", .5, 1))
    cidx = np.arange(len(child))
    pidx = map_indices_child2parent(child, cidx)
    assert np.array_equal(pidx, np.flatnonzero(ds.filter.all))
    assert np.array_equal(map_indices_parent2child(child, pidx), cidx)
    assert np.array_equal(child.map_indices_child2parent(cidx), pidx)
    gidx = np.arange(len(grandchild))
    ridx = map_indices_child2root(grandchild, gidx)
    assert np.array_equal(ds["deform"][ridx], grandchild["deform"])
    assert np.array_equal(map_indices_root2child(grandchild, ridx), gidx)
    excluded = np.flatnonzero(~ds.filter.all)[:1]
    with pytest.raises(ValueError, match="not part of the child"):
        map_indices_parent2child(child, excluded)
    with pytest.raises(TypeError, match="hierarchy child"):
        map_indices_child2parent(ds, [0])


def test_rejuvenate_follows_parent_and_keeps_manual():
    ds = cytolab.new_dataset({"deform": np.linspace(0, 1, 11)})
    gated(ds, "deform", 0, .5)
    child = cytolab.new_dataset(ds)
    assert len(child) == 6
    child.filter.manual[1] = False  # event deform=0.1 (root index 1)
    child.apply_filter()
    assert child.filter.all.sum() == 5
    old_hash = child.hash
    gated(ds, "deform", .1, .8)
    assert len(child) == 6  # unchanged until rejuvenated
    child.rejuvenate()
    assert len(child) == 8
    assert child.hash != old_hash
    assert np.allclose(child["deform"], np.linspace(.1, .8, 8))
    # manual exclusion still applies to the same root event
    assert child.filter.manual.tolist() == [False] + [True] * 7
    assert child.filter.all.sum() == 7


def test_index_counts_child_events_time_keeps_parent_clock():
    ds = cytolab.new_dataset({"deform": np.linspace(0, 1, 10),
                              "frame": np.arange(10) * 10})
    ds.config["imaging"]["frame rate"] = 100
    gated(ds, "deform", .5, 1)
    child = cytolab.new_dataset(ds)
    assert child["index"].tolist() == [1, 2, 3, 4, 5]
    assert np.allclose(child["time"], ds["time"][5:])
    assert "index" in child.features_ancillary


def _check_child_non_scalar(ds, feats):
    gated(ds, "deform", 0, float(np.median(ds["deform"])))
    child = cytolab.new_dataset(ds)
    grandchild = cytolab.new_dataset(child)
    sel = np.flatnonzero(ds.filter.all)
    assert 0 < len(child) < len(ds)
    for feat in feats:
        assert feat in child
        if feat == "trace":
            for key in ds["trace"]:
                assert len(child["trace"][key]) == len(child)
                assert np.array_equal(child["trace"][key][1],
                                      ds["trace"][key][sel[1]])
            continue
        assert len(child[feat]) == len(child)
        assert np.array_equal(child[feat][0], ds[feat][sel[0]])
        assert np.array_equal(child[feat][len(child) - 1], ds[feat][sel[-1]])
        assert np.array_equal(grandchild[feat][2], ds[feat][sel[2]])


def test_images_and_masks_through_children(tmp_path):
    path = simulate_rtdc(tmp_path / "sim.rtdc", num_events=40, images=True, seed=3)
    _check_child_non_scalar(cytolab.new_dataset(path), ["image", "image_bg", "mask"])


@pytest.mark.parametrize("name,feats", [
    ("fmt-hdf5_mask-contour_2018", ["contour", "mask", "image"]),
    ("example_traces", ["trace"]),
])
def test_real_non_scalar_features_through_children(real_rtdc_files, name, feats):
    import warnings

    from realdata import real_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cytolab.new_dataset(real_file(real_rtdc_files, name))
        _check_child_non_scalar(ds, feats)


def test_temporary_feature_set_on_child_reaches_parent():
    register_temporary_feature("my_flag")
    ds = cytolab.new_dataset({"deform": np.linspace(0, 1, 6)})
    child = cytolab.new_dataset(gated(ds, "deform", .3, 1))
    assert len(child) == 4
    set_temporary_feature(child, "my_flag", np.array([1, 2, 3, 4]))
    assert np.array_equal(child["my_flag"], [1, 2, 3, 4])
    assert np.array_equal(ds["my_flag"], [np.nan, np.nan, 1, 2, 3, 4],
                          equal_nan=True)
    assert "my_flag" in child.features_temporary
    # filter on the temporary feature in the child
    gated(child, "my_flag", 2, 3)
    assert child.filter.all.tolist() == [False, True, True, False]
    # a grandchild writes through both levels (NaN outside its events)
    grandchild = cytolab.new_dataset(child)
    set_temporary_feature(grandchild, "my_flag", np.array([20., 30.]))
    assert np.array_equal(grandchild["my_flag"], [20, 30])
    assert np.array_equal(child["my_flag"], [np.nan, 20, 30, np.nan],
                          equal_nan=True)
    assert np.array_equal(ds["my_flag"], [np.nan] * 3 + [20, 30, np.nan],
                          equal_nan=True)


def test_missing_feature_error_is_verbose():
    ds = cytolab.new_dataset({"deform": np.linspace(0, 1, 6)})
    child = cytolab.new_dataset(ds)
    with pytest.raises(KeyError, match="volume"):
        child["volume"]
    assert "volume" not in child


def test_child_of_empty_selection():
    ds = cytolab.new_dataset({"deform": np.linspace(0, 1, 6)})
    child = cytolab.new_dataset(gated(ds, "deform", 2, 3))
    assert len(child) == 0
    assert child["deform"].size == 0
    child.apply_filter()
    assert child.filter.all.size == 0


def test_hierarchy_needs_dataset():
    with pytest.raises(TypeError, match="dataset"):
        RTDC_Hierarchy({"deform": [1]})
