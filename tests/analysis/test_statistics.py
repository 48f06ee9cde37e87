"""Statistics of filtered events (DC-STAT-01)."""
from __future__ import annotations

import numpy as np
import pytest

import cytolab
from cytolab import statistics
from cytolab.analysis.statistics import (
    BadMethodWarning,
    Statistics,
    get_statistics,
    mode,
)


def test_documented_example(rtdc_data_dir):
    """Values printed in the reference documentation for example.rtdc.

    The reference computed them from float32 features; we agree to 1e-6
    relative (aspect is computed from float32 sizes there)."""
    ds = cytolab.new_dataset(rtdc_data_dir / "example.rtdc")
    stats = dict(zip(*get_statistics(ds, features=["deform", "aspect"],
                                     methods=["Mode", "Mean", "SD"])))
    expected = {
        "Mode Deformation": 0.016635261,
        "Mean Deformation": 0.0287258,
        "SD Deformation": 0.028740086,
        "Mode Aspect ratio of bounding box": 1.1091421916433233,
        "Mean Aspect ratio of bounding box": 1.2719607587337494,
        "SD Aspect ratio of bounding box": 0.2523385371130096,
    }
    assert list(stats) == list(expected)
    for key, value in expected.items():
        assert stats[key] == pytest.approx(value, rel=1e-6), key
    # statistics honour the filters
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .1
    ds.apply_filter()
    stats2 = dict(zip(*get_statistics(ds, features=["deform", "aspect"],
                                      methods=["Mode", "Mean", "SD"])))
    expected2 = {
        "Mode Deformation": 0.017006295,
        "Mean Deformation": 0.02476519,
        "SD Deformation": 0.015638638,
        "Mode Aspect ratio of bounding box": 1.1232223188589807,
        "Mean Aspect ratio of bounding box": 1.240720618624576,
        "SD Aspect ratio of bounding box": 0.15993707940243287,
    }
    for key, value in expected2.items():
        assert stats2[key] == pytest.approx(value, rel=1e-6), key


def test_available_methods_order():
    assert list(Statistics.available_methods) == [
        "Mean", "Median", "Mode", "SD", "Events", "%-gated", "Flow rate"]


def test_all_methods_and_dataset_statistics():
    ds = cytolab.new_dataset({"deform": np.array([.1, .2, .3, .4, np.nan]),
                              "area_um": np.array([1., 2., 3., 4., 5.])})
    ds.config["setup"]["flow rate"] = .16
    ds.filter.manual[0] = False
    ds.apply_filter()
    header, values = get_statistics(ds)
    res = dict(zip(header, values))
    assert header[:3] == ["Events", "%-gated", "Flow rate"]
    assert res["Events"] == 4
    assert res["%-gated"] == pytest.approx(80)
    assert res["Flow rate"] == pytest.approx(.16)
    assert res["Mean Deformation"] == pytest.approx(.3)  # nan dropped
    assert res["Median Deformation"] == pytest.approx(.3)
    assert res["SD Deformation"] == pytest.approx(np.std([.2, .3, .4]))
    assert res["Mean Area [µm²]"] == pytest.approx(3.5)
    assert len(header) == 3 + 4 * len(ds.features_scalar)  # incl. index


def test_no_features_still_gives_dataset_statistics():
    ds = cytolab.new_dataset({"deform": np.array([.1, .2])})
    header, values = get_statistics(ds, features=[])
    assert header == ["Events", "%-gated", "Flow rate"]
    assert values[0] == 2 and values[1] == 100 and np.isnan(values[2])


def test_bad_input():
    ds = cytolab.new_dataset({"deform": np.array([.1, .2])})
    with pytest.raises(ValueError, match="Unknown statistics"):
        get_statistics(ds, methods=["Average"])
    with pytest.raises(ValueError, match="scalar"):
        get_statistics(ds, features=["image"])
    with pytest.raises(KeyError):
        get_statistics(ds, features=["area_um"])
    ds.config["filtering"]["deform min"] = 5
    ds.config["filtering"]["deform max"] = 6
    ds.apply_filter()
    with pytest.warns(BadMethodWarning, match="no valid filtered events"):
        _, values = get_statistics(ds, methods=["Mean"], features=["deform"])
    assert np.isnan(values[0])


def test_mode_rounds_to_freedman_diaconis_bins():
    rng = np.random.default_rng(0)
    data = rng.normal(5, 1, 10_000)
    q25, q75 = np.percentile(data, [25, 75])
    width = 2 * (q75 - q25) / data.size ** (1 / 3)
    m = mode(data)
    # result is a bin centre: (k + 1/2) * width
    assert (m / width - .5) == pytest.approx(round(m / width - .5), abs=1e-9)
    assert abs(m - 5) < 3 * width
    assert np.isnan(mode([]))
    assert mode([2.0, 2.0, 2.0, 2.0, 7.0]) == 2.0


def test_module_alias():
    assert statistics is cytolab.statistics
    assert np.isnan(statistics.flow_rate(cytolab.new_dataset({"deform": [1.]})))
