"""Filters: box, invalid, polygon, manual, limit events; dataset methods."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cytolab
from cytolab.rtdc.filter import FilterFeatureMissingWarning
from cytolab.rtdc.polygon_filter import PolygonFilter
from cytolab.rtdc.temporary import (
    deregister_all,
    register_temporary_feature,
    set_temporary_feature,
)


@pytest.fixture(autouse=True)
def _clean_registries():
    PolygonFilter.clear_all_filters()
    deregister_all()
    yield
    PolygonFilter.clear_all_filters()
    deregister_all()


def make_ds(n=100, seed=1):
    rng = np.random.default_rng(seed)
    return cytolab.new_dataset({
        "deform": rng.uniform(0, .3, n),
        "area_um": rng.uniform(10, 200, n),
        "bright_avg": rng.normal(100, 10, n),
    })


def test_documented_gating_example(rtdc_data_dir):
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .15
    ds.filter.manual[[0, 400, 345, 1000]] = False
    ds.apply_filter()
    assert not ds.filter.all[345]
    # values printed in the reference documentation (float32 precision)
    assert np.isclose(ds["deform"][:].mean(), 0.0287258, rtol=1e-6, atol=0)
    assert np.isclose(ds["deform"][ds.filter.all].mean(), 0.026486598,
                      rtol=1e-6, atol=0)


def test_polygon_file_on_example_data(rtdc_data_dir):
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    pf = PolygonFilter(filename=rtdc_data_dir / "example.poly")
    ds.polygon_filter_add(pf)
    ds.apply_filter()
    inside = pf.filter(ds["area_um"], ds["deform"])
    assert np.array_equal(ds.filter.polygon, inside)
    assert np.array_equal(ds.filter.all, inside)
    assert ds.filter.all.sum() == 1945
    assert ds.config["filtering"]["polygon filters"] == [pf.unique_id]
    # inverting the gate gives the complement
    inv = pf.copy(invert=True)
    ds.polygon_filter_rm(pf)
    ds.polygon_filter_add(inv.unique_id)
    ds.apply_filter()
    assert np.array_equal(ds.filter.all, ~inside)


def test_box_filter_inclusive_limits_and_nan():
    ds = cytolab.new_dataset({"deform": np.array([.1, .2, .3, np.nan, .25])})
    ds.config["filtering"]["deform min"] = .2
    ds.config["filtering"]["deform max"] = .3
    ds.apply_filter()
    assert ds.filter.box.tolist() == [False, True, True, False, True]
    assert ds.filter.all.tolist() == [False, True, True, False, True]


def test_swapped_limits_are_corrected():
    ds = make_ds()
    ds.config["filtering"]["deform min"] = .2
    ds.config["filtering"]["deform max"] = .1
    ds.apply_filter()
    assert ds.config["filtering"]["deform min"] == .1
    assert ds.config["filtering"]["deform max"] == .2
    d = ds["deform"]
    assert np.array_equal(ds.filter.all, (d >= .1) & (d <= .2))


@pytest.mark.parametrize("key", ["deform min", "deform max"])
def test_lone_limit_is_an_error(key):
    ds = make_ds()
    ds.config["filtering"][key] = .1
    with pytest.raises(ValueError, match="only one limit"):
        ds.apply_filter()


def test_unknown_feature_is_an_error():
    ds = make_ds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.config["filtering"]["peanut min"] = 0
        ds.config["filtering"]["peanut max"] = 1
    with pytest.raises((ValueError, KeyError), match="peanut"):
        ds.apply_filter()


def test_missing_feature_is_ignored_with_warning():
    ds = make_ds()
    ds.config["filtering"]["volume min"] = 0
    ds.config["filtering"]["volume max"] = 10
    with pytest.warns(FilterFeatureMissingWarning, match="volume"):
        ds.apply_filter()
    assert ds.filter.all.all()


def test_remove_invalid_events():
    ds = cytolab.new_dataset({"deform": np.array([.1, np.inf, .3, .4]),
                              "area_um": np.array([1., 2., np.nan, 4.])})
    ds.apply_filter()
    assert ds.filter.all.all() and not ds.filter.invalid.any()
    ds.config["filtering"]["remove invalid events"] = True
    ds.apply_filter()
    assert ds.filter.invalid.tolist() == [False, True, True, False]
    assert ds.filter.all.tolist() == [True, False, False, True]


def test_enable_filters_off_keeps_everything():
    ds = make_ds()
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .1
    ds.filter.manual[:10] = False
    ds.config["filtering"]["enable filters"] = False
    ds.apply_filter()
    assert ds.filter.all.all()
    ds.config["filtering"]["enable filters"] = True
    ds.apply_filter()
    assert not ds.filter.all[:10].any()
    assert ds.filter.all.sum() < len(ds)


def test_limit_events_is_reproducible_subset():
    ds = make_ds(1000)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .2
    ds.config["filtering"]["limit events"] = 50
    ds.apply_filter()
    first = ds.filter.all.copy()
    assert first.sum() == 50
    assert np.all(ds["deform"][first] <= .2)
    ds2 = make_ds(1000)
    ds2.config["filtering"].update(ds.config["filtering"])
    ds2.apply_filter()
    assert np.array_equal(ds2.filter.all, first)
    # a limit above the number of events changes nothing
    ds.config["filtering"]["limit events"] = 10_000
    ds.apply_filter()
    assert ds.filter.all.sum() == np.count_nonzero(ds["deform"] <= .2)


def test_negative_limit_events_rejected():
    ds = make_ds()
    ds.config["filtering"]["limit events"] = -1
    with pytest.raises(ValueError, match="limit events"):
        ds.apply_filter()


def test_read_only_arrays_and_manual_setter():
    ds = make_ds(10)
    ds.apply_filter()
    for name in ("all", "box", "polygon", "invalid"):
        with pytest.raises(ValueError):
            getattr(ds.filter, name)[0] = False
        with pytest.raises(AttributeError):
            setattr(ds.filter, name, np.ones(10, dtype=bool))
    ds.filter.manual = np.arange(10) % 2 == 0
    ds.apply_filter()
    assert ds.filter.all.tolist() == [True, False] * 5
    with pytest.raises(ValueError, match="boolean array of 10"):
        ds.filter.manual = np.ones(9, dtype=bool)


def test_only_changed_parts_are_recomputed(monkeypatch):
    ds = make_ds(200)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .2
    ds.config["filtering"]["area_um min"] = 0
    ds.config["filtering"]["area_um max"] = 100
    ds.apply_filter()
    reads = []
    orig = type(ds).__getitem__

    def spy(self, feat):
        reads.append(feat)
        return orig(self, feat)

    monkeypatch.setattr(type(ds), "__getitem__", spy)
    ds.apply_filter()
    assert reads == []
    ds.config["filtering"]["deform max"] = .25
    ds.apply_filter()
    assert reads == ["deform"]
    reads.clear()
    ds.apply_filter(force=["area_um"])
    assert reads == ["area_um"]


def test_reset_filter():
    ds = make_ds()
    pf = PolygonFilter(axes=("area_um", "deform"),
                       points=[[0, 0], [100, 0], [100, .2], [0, .2]])
    ds.polygon_filter_add(pf)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .1
    ds.filter.manual[:5] = False
    ds.apply_filter()
    assert ds.filter.all.sum() < len(ds)
    ds.reset_filter()
    assert ds.filter.all.all() and ds.filter.manual.all()
    assert "deform min" not in ds.config["filtering"]
    assert ds.config["filtering"]["polygon filters"] == []


def test_polygon_filter_add_rm_errors():
    ds = make_ds()
    with pytest.raises(KeyError, match="42"):
        ds.polygon_filter_add(42)
    ds.config["filtering"]["polygon filters"] = [42]
    with pytest.raises(KeyError, match="42"):
        ds.apply_filter()
    ds.polygon_filter_rm(42)
    ds.apply_filter()
    assert ds.filter.all.all()


def test_polygon_change_is_picked_up():
    ds = make_ds()
    pf = PolygonFilter(axes=("area_um", "deform"),
                       points=[[0, 0], [100, 0], [100, .2], [0, .2]])
    ds.polygon_filter_add(pf)
    ds.apply_filter()
    before = ds.filter.all.copy()
    pf.inverted = True
    ds.apply_filter()
    assert np.array_equal(ds.filter.all, ~before)


def test_filter_on_temporary_feature():
    register_temporary_feature("my_score")
    ds = make_ds(20)
    set_temporary_feature(ds, "my_score", np.arange(20.))
    ds.config["filtering"]["my_score min"] = 5
    ds.config["filtering"]["my_score max"] = 9
    ds.apply_filter()
    assert np.flatnonzero(ds.filter.all).tolist() == [5, 6, 7, 8, 9]
    # new data for the temporary feature -> the box filter is recomputed
    set_temporary_feature(ds, "my_score", np.arange(20.)[::-1])
    ds.apply_filter()
    assert np.flatnonzero(ds.filter.all).tolist() == [10, 11, 12, 13, 14]


def test_online_polygon_gate_of_real_file(real_rtdc_files):
    from realdata import real_file
    path = real_file(real_rtdc_files, "fmt-hdf5_polygon_gate_2021")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cytolab.new_dataset(path)
    filters = PolygonFilter.from_online_filter(ds.config)
    assert len(filters) == 1
    pf = filters[0]
    assert pf.axes == ("size_x", "size_y")
    assert np.allclose(pf.points, [[.1, .2], [.1, 2.5], [3.3, 3.2], [5.2, .9]])
    ds.polygon_filter_add(pf)
    ds.apply_filter()
    # the event lies outside the gate; it was recorded only because the
    # online gate was a "soft limit" (flagging, not discarding)
    assert ds.config["online_filter"]["size_x,size_y soft limit"] is True
    assert ds.filter.all.tolist() == [False]


# property-based: the filter equals a direct evaluation of its definition
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_filter_combination_matches_definition(data):
    n = data.draw(st.integers(1, 40))
    vals = st.one_of(st.floats(-5, 5), st.sampled_from([np.nan, np.inf, -np.inf]))
    x = np.array(data.draw(st.lists(vals, min_size=n, max_size=n)))
    y = np.array(data.draw(st.lists(vals, min_size=n, max_size=n)))
    ds = cytolab.new_dataset({"deform": x, "area_um": y})
    lo, hi = sorted(data.draw(st.lists(st.floats(-6, 6), min_size=2,
                                       max_size=2)))
    manual = np.array(data.draw(st.lists(st.booleans(), min_size=n,
                                         max_size=n)))
    invalid_on = data.draw(st.booleans())
    use_box = data.draw(st.booleans())
    if use_box:
        ds.config["filtering"]["deform min"] = lo
        ds.config["filtering"]["deform max"] = hi
    ds.config["filtering"]["remove invalid events"] = invalid_on
    ds.filter.manual[:] = manual
    ds.apply_filter()
    expected = manual.copy()
    if use_box:
        with np.errstate(invalid="ignore"):
            expected &= (x >= lo) & (x <= hi)
    if invalid_on:
        expected &= np.isfinite(x) & np.isfinite(y)
    assert np.array_equal(ds.filter.all, expected)
