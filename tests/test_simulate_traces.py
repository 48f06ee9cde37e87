"""Fluorescence traces of the RT-DC simulator (``simulate_rtdc(traces=True)``)."""
from __future__ import annotations

import numpy as np
import pytest

import cytolab
from cytolab import dfn
from cytolab.simulate import (
    SIMULATED_FEATURES,
    SIMULATED_TRACE_FEATURES,
    simulate_rtdc,
    simulate_scalar_features,
    simulate_traces,
)
from cytolab.simulate import rtdc as sim_rtdc

TRACE_NAMES = ["fl1_median", "fl1_raw", "fl2_median", "fl2_raw", "fl3_median",
               "fl3_raw"]
SAMPLE_RATE = 312500
PERIOD_US = 1e6 / SAMPLE_RATE  # 3.2 µs


@pytest.fixture(scope="module")
def fl_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fl") / "fl.rtdc"
    return simulate_rtdc(path, num_events=600, seed=11, traces=True)


def _naive_rolling_median(raw: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(raw, ((0, 0), (half, half)), mode="edge")
    out = np.empty_like(raw)
    for j in range(raw.shape[1]):
        out[:, j] = np.median(padded[:, j:j + window], axis=1)
    return out


def _pulse_width_samples(sig: np.ndarray) -> int:
    """Walk left and right from the maximum while at or above half maximum."""
    peak = int(np.argmax(sig))
    half = sig[peak] / 2
    if sig[peak] <= 0:
        return 0
    left = peak
    while left > 0 and sig[left - 1] >= half:
        left -= 1
    right = peak
    while right < len(sig) - 1 and sig[right + 1] >= half:
        right += 1
    return right - left + 1


def test_trace_keys_shape_dtype(fl_path):
    with cytolab.new_dataset(fl_path) as ds:
        assert "trace" in ds
        traces = ds["trace"]
        assert sorted(traces) == TRACE_NAMES == sorted(dfn.FLUOR_TRACES)
        for name in TRACE_NAMES:
            assert traces[name].shape == (600, 177)
            assert np.asarray(traces[name][0]).dtype == np.int16
            assert np.asarray(traces[name][:]).dtype == np.int16
        # the median traces are a rolling median (window 5) of the raw ones
        for ch in (1, 2, 3):
            raw = np.asarray(traces[f"fl{ch}_raw"][:])
            median = np.asarray(traces[f"fl{ch}_median"][:])
            assert not np.array_equal(raw, median)
            assert np.array_equal(median, _naive_rolling_median(raw, 5))
        assert sorted(SIMULATED_FEATURES + SIMULATED_TRACE_FEATURES + ("trace",)) \
            == sorted(ds.features_innate)


def test_metadata_valid_and_consistent(fl_path):
    for feat in SIMULATED_TRACE_FEATURES:
        assert dfn.feature_exists(feat)
        assert dfn.scalar_feature_exists(feat)
    assert len(SIMULATED_TRACE_FEATURES) == 12
    with cytolab.new_dataset(fl_path) as ds:
        fl = ds.config["fluorescence"]
        for key in fl:
            assert dfn.config_key_exists("fluorescence", key), key
        assert fl["samples per event"] == ds["trace"]["fl1_raw"].shape[1] == 177
        assert fl["sample rate"] == SAMPLE_RATE
        assert fl["channel count"] == 3
        assert fl["trace median"] == 5
        assert fl["bit depth"] == 16
        assert (fl["channel 1 name"], fl["channel 2 name"],
                fl["channel 3 name"]) == ("525/50", "593/46", "700/75")
        assert fl["laser 1 lambda"] == 488.0
        assert fl["laser 3 lambda"] == 640.0
        assert (fl["signal min"], fl["signal max"]) == (-1.0, 1.0)
        assert ds.config["experiment"]["event count"] == 600


def test_fl_features_agree_with_median_traces(fl_path):
    with cytolab.new_dataset(fl_path) as ds:
        for ch in (1, 2, 3):
            median = np.asarray(ds["trace"][f"fl{ch}_median"][:], dtype=float)
            sig = median - np.median(median, axis=1)[:, None]
            peak = np.argmax(sig, axis=1)
            height = sig[np.arange(len(sig)), peak]
            assert np.array_equal(ds[f"fl{ch}_max"], height)
            assert np.array_equal(ds[f"fl{ch}_pos"], peak / SAMPLE_RATE * 1e6)
            width = np.array([_pulse_width_samples(s) for s in sig]) * PERIOD_US
            assert np.all(np.abs(ds[f"fl{ch}_width"] - width) <= PERIOD_US + 1e-9)
            # the area of a bright Gaussian pulse is ~1.06 * height * FWHM
            area = ds[f"fl{ch}_area"]
            bright = height > 1000
            assert bright.sum() > 50
            ratio = area[bright] / (height[bright] * width[bright] / PERIOD_US)
            assert 0.85 < np.median(ratio) < 1.3
            assert np.all(area[bright] > height[bright])


def test_fl_features_are_plausible(fl_path):
    with cytolab.new_dataset(fl_path) as ds:
        # widths as in real measurements (~10-40 µs)
        for ch in (1, 2, 3):
            bright = ds[f"fl{ch}_max"] > 1000
            width = ds[f"fl{ch}_width"][bright]
            assert 15 < np.median(width) < 40
            assert np.percentile(width, 5) > 10
            assert np.percentile(width, 95) < 45
        # fl1 is bright in about 30 % of the cells, fl3 in about 20 %
        assert 0.22 < np.mean(ds["fl1_max"] > 1000) < 0.38
        assert 0.13 < np.mean(ds["fl3_max"] > 1000) < 0.27
        # pulses sit near the middle of the trace (283.2 µs) ...
        assert abs(np.median(ds["fl1_pos"]) - 177 / 2 * PERIOD_US) < 20
        # ... earlier for cells imaged further downstream
        bright = ds["fl1_max"] > 1000
        corr = np.corrcoef(ds["pos_x"][bright], ds["fl1_pos"][bright])[0, 1]
        assert corr < -0.9
        # all channels see the same cell at the same time
        both = bright & (ds["fl3_max"] > 1000)
        assert np.all(np.abs(ds["fl1_pos"][both] - ds["fl3_pos"][both])
                      <= 2 * PERIOD_US)


def test_reproducible(tmp_path):
    a = simulate_rtdc(tmp_path / "a.rtdc", num_events=150, seed=4, traces=True)
    b = simulate_rtdc(tmp_path / "b.rtdc", num_events=150, seed=4, traces=True)
    c = simulate_rtdc(tmp_path / "c.rtdc", num_events=150, seed=5, traces=True)
    with cytolab.new_dataset(a) as da, cytolab.new_dataset(b) as db, \
            cytolab.new_dataset(c) as dc:
        for name in TRACE_NAMES:
            assert np.array_equal(da["trace"][name][:], db["trace"][name][:])
            assert not np.array_equal(da["trace"][name][:], dc["trace"][name][:])
        for feat in SIMULATED_TRACE_FEATURES:
            assert np.array_equal(da[feat], db[feat])
        assert not np.array_equal(da["fl1_max"], dc["fl1_max"])


def test_without_traces_unchanged(tmp_path):
    plain = simulate_rtdc(tmp_path / "p.rtdc", num_events=200, seed=5)
    with_fl = simulate_rtdc(tmp_path / "f.rtdc", num_events=200, seed=5,
                            traces=True)
    with cytolab.new_dataset(plain) as dp, cytolab.new_dataset(with_fl) as df:
        # values of the simulator before traces were added (seed 5)
        expected_area = [49.100131151590894, 43.08844282824346, 56.387875201630585]
        expected_deform = [0.01635955229781183, 0.0159799621003186,
                           0.038680246737253565]
        for ds in (dp, df):
            assert ds["area_um"][:3].tolist() == expected_area
            assert ds["deform"][:3].tolist() == expected_deform
            assert ds["frame"][:3].tolist() == [1, 2, 5]
            assert float(ds["area_um"].sum()) == pytest.approx(12162.283673628,
                                                               rel=1e-12)
        for feat in SIMULATED_FEATURES:
            assert np.array_equal(dp[feat], df[feat])
        assert "trace" not in dp
        assert "fl1_max" not in dp
        assert "fluorescence" not in dp.config
        assert sorted(dp.features_innate) == sorted(SIMULATED_FEATURES)
        assert dp.config["setup"]["module composition"] == "AcCellerator"
        assert "Fluorescence" in df.config["setup"]["module composition"]


def test_with_images(tmp_path):
    path = simulate_rtdc(tmp_path / "i.rtdc", num_events=45, images=True,
                         traces=True, seed=2, chunk_size=200)  # image chunks of 10
    ref = simulate_rtdc(tmp_path / "r.rtdc", num_events=45, images=True, seed=2,
                        chunk_size=200)
    with cytolab.new_dataset(path) as ds, cytolab.new_dataset(ref) as dr:
        assert len(ds) == 45
        assert ds["image"].shape == (45, 80, 250) == ds["mask"].shape
        assert ds["trace"]["fl2_raw"].shape == (45, 177)
        assert ds["fl2_max"].shape == (45,)
        assert np.array_equal(ds["image"][7], dr["image"][7])
        assert np.array_equal(ds["deform"], dr["deform"])
        median = np.asarray(ds["trace"]["fl2_median"][:], dtype=float)
        height = median.max(axis=1) - np.median(median, axis=1)
        assert np.array_equal(ds["fl2_max"], height)


def test_small_blocks_and_chunks(tmp_path, monkeypatch):
    # many writer chunks and trace blocks give one consistent dataset
    monkeypatch.setattr(sim_rtdc, "_TRACE_BLOCK", 7)
    path = simulate_rtdc(tmp_path / "s.rtdc", num_events=100, seed=1,
                         chunk_size=30, traces=True)
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 100
        assert ds["trace"]["fl3_raw"].shape == (100, 177)
        median = np.asarray(ds["trace"]["fl3_median"][:], dtype=float)
        peak = np.argmax(median - np.median(median, axis=1)[:, None], axis=1)
        assert np.array_equal(ds["fl3_pos"], peak / SAMPLE_RATE * 1e6)


def test_zero_events(tmp_path):
    path = simulate_rtdc(tmp_path / "z.rtdc", num_events=0, traces=True)
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == 0
        assert ds.config["fluorescence"]["samples per event"] == 177
        for feat in SIMULATED_TRACE_FEATURES:
            assert ds[feat].shape == (0,)
        assert "trace" in ds
        assert ds["trace"]["fl1_raw"].shape == (0, 177)
    plain = simulate_rtdc(tmp_path / "z0.rtdc", num_events=0, images=True)
    with cytolab.new_dataset(plain) as ds:
        assert len(ds) == 0
        assert "trace" not in ds
        assert ds["image"].shape == (0, 80, 250)


def test_measure_pulses_on_a_known_gaussian():
    samples = np.arange(101)
    fwhm = 10.0  # samples
    pulse = 1000 * np.exp(-4 * np.log(2) * ((samples - 40) / fwhm) ** 2)
    trace = np.round(pulse - 20).astype(np.int16)[None, :]
    result = sim_rtdc.measure_pulses(trace, sample_rate=1e6)  # 1 µs per sample
    assert result["max"][0] == 1000
    assert result["pos"][0] == 40.0
    # samples at or above half maximum: |x - 40| <= 5
    assert result["width"][0] == 11.0
    # area of a Gaussian: height * fwhm * sqrt(pi / (4 ln 2))
    assert result["area"][0] == pytest.approx(1000 * fwhm * 1.0645, rel=0.01)
    flat = sim_rtdc.measure_pulses(np.zeros((2, 9), dtype=np.int16), 1e6)
    assert flat["width"].tolist() == [0.0, 0.0]
    assert flat["area"].tolist() == [0.0, 0.0]


def test_rolling_median_matches_naive():
    rng = np.random.default_rng(0)
    raw = rng.integers(-100, 100, size=(20, 50)).astype(np.int16)
    for window in (1, 3, 5, 7):
        out = sim_rtdc.rolling_median(raw, window)
        assert out.dtype == np.int16
        assert np.array_equal(out, _naive_rolling_median(raw, window))
    with pytest.raises(ValueError, match="odd"):
        sim_rtdc.rolling_median(raw, 4)


def test_simulate_traces_directly():
    rng = np.random.default_rng(3)
    feats = simulate_scalar_features(500, rng)
    out = simulate_traces(feats, np.random.default_rng(4), samples=121,
                          median_window=3)
    assert sorted(out["trace"]) == TRACE_NAMES
    assert out["trace"]["fl1_raw"].shape == (500, 121)
    assert set(SIMULATED_TRACE_FEATURES) <= set(out)
    # faster flow: shorter pulses
    fast = simulate_traces(feats, np.random.default_rng(4), samples=121,
                           median_window=3, flow_speed=0.2)
    bright = (out["fl1_max"] > 1000) & (fast["fl1_max"] > 1000)
    assert np.median(fast["fl1_width"][bright]) < 0.7 * np.median(
        out["fl1_width"][bright])
