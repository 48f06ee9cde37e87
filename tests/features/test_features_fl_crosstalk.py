"""Fluorescence crosstalk correction and the ``flN_max_ctc`` recipes."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realdata import real_file

import cytolab
from cytolab.features.fl_crosstalk import correct_crosstalk, get_compensation_matrix
from cytolab.rtdc.ancillaries import AncillaryFeature

SPILL = {"ct12": 0.12, "ct13": 0.03, "ct21": 0.2, "ct23": 0.07,
         "ct31": 0.01, "ct32": 0.25}


def _spill_matrix(ct12=0, ct13=0, ct21=0, ct23=0, ct31=0, ct32=0):
    return np.array([[1, ct12, ct13], [ct21, 1, ct23], [ct31, ct32, 1]], float)


def test_compensation_matrix_inverts_spillover():
    comp = get_compensation_matrix(**SPILL)
    np.testing.assert_allclose(comp @ _spill_matrix(**SPILL), np.eye(3), atol=1e-14)
    np.testing.assert_array_equal(get_compensation_matrix(0, 0, 0, 0, 0, 0),
                                  np.eye(3))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 0.5), min_size=6, max_size=6),
       st.lists(st.floats(0, 1e4), min_size=3, max_size=3))
def test_correction_recovers_true_signals(spills, true):
    """Measured = true @ C (spill c_ij = fl_j / fl_i); correction inverts it."""
    kw = dict(zip(("ct12", "ct13", "ct21", "ct23", "ct31", "ct32"), spills))
    measured = np.array(true) @ _spill_matrix(**kw)
    for ch in (1, 2, 3):
        got = correct_crosstalk(*measured, fl_channel=ch, **kw)
        assert got == pytest.approx(true[ch - 1], rel=1e-9, abs=1e-7)


def test_single_stain_spill_is_removed():
    # a cell stained only in channel 1 with 10 % spill into channel 2
    fl1 = np.array([100.0, 250.0])
    fl2 = 0.1 * fl1
    np.testing.assert_allclose(
        correct_crosstalk(fl1, fl2, 0, fl_channel=2, ct12=0.1), 0, atol=1e-13)
    np.testing.assert_allclose(
        correct_crosstalk(fl1, fl2, 0, fl_channel=1, ct12=0.1), fl1)


def test_no_crosstalk_is_identity():
    fl = np.array([1.0, 2.0, 3.0])
    for ch in (1, 2, 3):
        np.testing.assert_array_equal(correct_crosstalk(fl, 2 * fl, 3 * fl, ch),
                                      ch * fl)
    assert isinstance(correct_crosstalk(1.0, 2.0, 3.0, 3), float)
    # integral floats and NumPy integers are accepted as channel numbers
    assert correct_crosstalk(1.0, 2.0, 3.0, 2.0) == correct_crosstalk(
        1.0, 2.0, 3.0, np.int64(2)) == 2.0


@pytest.mark.parametrize("bad", [0, 4, -1, "1", None, True, 2.5, np.nan])
def test_invalid_channel(bad):
    with pytest.raises(ValueError, match="fl_channel must be 1, 2 or 3"):
        correct_crosstalk(1.0, 1.0, 1.0, bad)


def test_invalid_spill_values():
    with pytest.raises(ValueError, match="ct21 must be a finite number"):
        get_compensation_matrix(np.nan, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="ct13 must be a finite number"):
        correct_crosstalk(1, 1, 1, 1, ct13="a lot")
    with pytest.raises(ValueError, match="singular"):
        correct_crosstalk(1, 1, 1, 1, ct12=1, ct21=1)


# --------------------------------------------------------------------------
# ancillary recipes
# --------------------------------------------------------------------------
def _dataset(channels=(1, 2, 3), num=20, seed=0):
    rng = np.random.default_rng(seed)
    return cytolab.new_dataset({f"fl{ch}_max": rng.uniform(10, 1000, num)
                                for ch in channels})


def test_recipe_priorities_and_registration_order():
    names = [r.feature_name for r in AncillaryFeature.features
             if r.feature_name.endswith("_max_ctc")]
    assert names == ["fl1_max_ctc", "fl2_max_ctc", "fl3_max_ctc",
                     "fl1_max_ctc", "fl2_max_ctc", "fl1_max_ctc",
                     "fl3_max_ctc", "fl2_max_ctc", "fl3_max_ctc"]
    for ch in (1, 2, 3):
        prios = [r.priority for r in AncillaryFeature.get_instances(f"fl{ch}_max_ctc")]
        assert prios == [1, 0, 0]


def test_three_channel_recipe_uses_all_spills():
    ds = _dataset()
    calc = ds.config["calculation"]
    for key, val in SPILL.items():
        calc[f"crosstalk fl{key[2:]}"] = val
    for ch in (1, 2, 3):
        expected = correct_crosstalk(ds["fl1_max"], ds["fl2_max"], ds["fl3_max"],
                                     fl_channel=ch, **SPILL)
        np.testing.assert_allclose(ds[f"fl{ch}_max_ctc"], expected, rtol=1e-14)
        recipe = AncillaryFeature.get_recipe(ds, f"fl{ch}_max_ctc")
        assert recipe.priority == 1


@pytest.mark.parametrize("pair", [(1, 2), (1, 3), (2, 3)])
def test_two_channel_recipes(pair):
    first, second = pair
    ds = _dataset(channels=pair)
    calc = ds.config["calculation"]
    calc[f"crosstalk fl{first}{second}"] = 0.15
    calc[f"crosstalk fl{second}{first}"] = 0.05
    # spill values involving the missing channel are ignored
    missing = ({1, 2, 3} - set(pair)).pop()
    calc[f"crosstalk fl{missing}{first}"] = 0.9
    calc[f"crosstalk fl{first}{missing}"] = 0.9
    fl = {ch: ds[f"fl{ch}_max"] if ch in pair else 0 for ch in (1, 2, 3)}
    spills = {f"ct{first}{second}": 0.15, f"ct{second}{first}": 0.05}
    for ch in pair:
        expected = correct_crosstalk(fl[1], fl[2], fl[3], fl_channel=ch, **spills)
        np.testing.assert_allclose(ds[f"fl{ch}_max_ctc"], expected, rtol=1e-14)
    assert f"fl{missing}_max_ctc" not in ds


def test_changing_a_spill_value_recomputes():
    ds = _dataset()
    before = np.array(ds["fl1_max_ctc"])
    np.testing.assert_array_equal(before, ds["fl1_max"])  # defaults are 0
    ds.config["calculation"]["crosstalk fl21"] = 0.3
    after = np.array(ds["fl1_max_ctc"])
    assert not np.allclose(after, before)
    expected = correct_crosstalk(ds["fl1_max"], ds["fl2_max"], ds["fl3_max"],
                                 fl_channel=1, ct21=0.3)
    np.testing.assert_allclose(after, expected, rtol=1e-14)
    ds.config["calculation"]["crosstalk fl21"] = 0.0
    np.testing.assert_array_equal(ds["fl1_max_ctc"], before)


def test_one_channel_has_no_ctc():
    ds = _dataset(channels=(2,))
    assert not any(f.endswith("_max_ctc") for f in ds.features)


def test_real_three_channel_file(real_rtdc_files):
    """fmt-hdf5_fl_2018: three channels; no stored ctc values exist, so the
    recipe is checked against the kernel with user-set spill values."""
    path = real_file(real_rtdc_files, "fmt-hdf5_fl_2018")
    with h5py.File(path, "r") as h5:
        fl = [h5["events"][f"fl{ch}_max"][:] for ch in (1, 2, 3)]
    with cytolab.new_dataset(path) as ds:
        np.testing.assert_array_equal(ds["fl2_max_ctc"], fl[1])
        ds.config["calculation"]["crosstalk fl12"] = 0.1
        ds.config["calculation"]["crosstalk fl32"] = 0.2
        np.testing.assert_allclose(
            ds["fl2_max_ctc"],
            correct_crosstalk(*fl, fl_channel=2, ct12=0.1, ct32=0.2), rtol=1e-14)
