"""Tests of the scale conversion for the linear elastic model."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.features.emodulus import scale_linear as sl

KW_ALL = {
    "channel_width_in": 20.0,
    "channel_width_out": 30.0,
    "flow_rate_in": 0.04,
    "flow_rate_out": 0.16,
    "viscosity_in": 15.0,
    "viscosity_out": 5.0,
}
# sigma = eta Q / L^3: (5 * 0.16 / 30^3) / (15 * 0.04 / 20^3)
EMOD_FACTOR = (5.0 * 0.16 / 27000.0) / (15.0 * 0.04 / 8000.0)


@pytest.mark.parametrize("w_in,w_out", [(20.0, 30.0), (30.0, 20.0), (20.0, 20.0),
                                        (15.0, 40.0)])
def test_area_and_volume_ratios(w_in, w_out):
    data = np.array([10.0, 55.5, 300.0])
    area = sl.scale_area_um(data, w_in, w_out)
    vol = sl.scale_volume(data, w_in, w_out)
    np.testing.assert_allclose(area, data * (w_out / w_in) ** 2, rtol=1e-14)
    np.testing.assert_allclose(vol, data * (w_out / w_in) ** 3, rtol=1e-14)
    # round trip
    np.testing.assert_allclose(sl.scale_area_um(area, w_out, w_in), data)
    np.testing.assert_allclose(sl.scale_volume(vol, w_out, w_in), data)


def test_exact_literals():
    assert sl.scale_area_um(100.0, 20.0, 40.0) == 400.0
    assert sl.scale_volume(100.0, 20.0, 40.0) == 800.0
    assert sl.scale_area_um(90.0, 30.0, 20.0) == pytest.approx(40.0)
    # flow rate x4, viscosity /3, same channel: modulus x4/3
    assert sl.scale_emodulus(3.0, 20, 20, 0.04, 0.16, 15.0, 5.0) == pytest.approx(4.0)
    # channel twice as wide: modulus / 8
    assert sl.scale_emodulus(8.0, 20, 40, 0.1, 0.1, 3.0, 3.0) == pytest.approx(1.0)


def test_emodulus_ratio():
    emod = np.array([0.5, 1.2, 3.0])
    got = sl.scale_emodulus(emod, **KW_ALL)
    np.testing.assert_allclose(got, emod * EMOD_FACTOR, rtol=1e-14)
    # round trip
    back = sl.scale_emodulus(
        got, channel_width_in=30.0, channel_width_out=20.0, flow_rate_in=0.16,
        flow_rate_out=0.04, viscosity_in=5.0, viscosity_out=15.0)
    np.testing.assert_allclose(back, emod)


def test_emodulus_array_viscosity_out():
    emod = np.array([1.0, 2.0, 3.0, 4.0])
    visc_out = np.array([4.0, 5.0, np.nan, 6.0])
    kw = dict(KW_ALL, viscosity_out=visc_out)
    got = sl.scale_emodulus(emod, **kw)
    expected = emod * (visc_out * 0.16 / 27000.0) / (15.0 * 0.04 / 8000.0)
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert np.isnan(got[2])
    # a scalar modulus broadcasts against per-event viscosities
    got = sl.scale_emodulus(1.0, **dict(kw, viscosity_out=np.array([5.0, 10.0])))
    np.testing.assert_allclose(got, [EMOD_FACTOR, 2 * EMOD_FACTOR])
    # in place with an array viscosity
    emod2 = emod.copy()
    out = sl.scale_emodulus(emod2, inplace=True, **kw)
    assert out is emod2
    np.testing.assert_allclose(emod2, expected)


@pytest.mark.parametrize("func,kw", [
    (sl.scale_area_um, {"channel_width_in": 20.0, "channel_width_out": 30.0}),
    (sl.scale_volume, {"channel_width_in": 20.0, "channel_width_out": 30.0}),
    (sl.scale_emodulus, KW_ALL),
])
def test_inplace_vs_copy(func, kw):
    data = np.array([1.0, 2.0, 3.0])
    orig = data.copy()
    out = func(data, **kw)
    assert out is not data
    np.testing.assert_array_equal(data, orig)  # input untouched
    res = func(data, inplace=True, **kw)
    assert res is data
    np.testing.assert_allclose(data, out)
    # float32 arrays keep their dtype in place
    data32 = orig.astype(np.float32)
    assert func(data32, inplace=True, **kw) is data32
    assert data32.dtype == np.float32
    np.testing.assert_allclose(data32, out, rtol=1e-6)
    # integer arrays cannot be scaled in place
    with pytest.raises(TypeError, match="floating-point"):
        func(np.array([1, 2, 3]), inplace=True, **kw)
    # but they can be scaled into a new float array
    np.testing.assert_allclose(func(np.array([1, 2, 3]), **kw), out)


def test_scalar_outputs_are_floats():
    assert isinstance(sl.scale_area_um(10.0, 20, 30), float)
    assert isinstance(sl.scale_volume(10, 20, 30), float)
    assert isinstance(sl.scale_emodulus(1.0, **KW_ALL), float)


@pytest.mark.parametrize("bad", [0.0, -20.0, np.nan])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match="channel_width_in"):
        sl.scale_area_um(1.0, bad, 20.0)
    with pytest.raises(ValueError, match="channel_width_out"):
        sl.scale_volume(1.0, 20.0, bad)
    for key in ("flow_rate_in", "flow_rate_out", "viscosity_in"):
        with pytest.raises(ValueError, match=key):
            sl.scale_emodulus(1.0, **dict(KW_ALL, **{key: bad}))
    if not np.isnan(bad):
        with pytest.raises(ValueError, match="viscosity_out"):
            sl.scale_emodulus(1.0, **dict(KW_ALL, viscosity_out=np.array([5, bad])))


def test_scale_feature_dispatch():
    data = np.array([10.0, 20.0])
    np.testing.assert_allclose(sl.scale_feature("area_um", data, **KW_ALL),
                               data * 2.25)
    np.testing.assert_allclose(sl.scale_feature("volume", data, **KW_ALL),
                               data * 3.375)
    np.testing.assert_allclose(sl.scale_feature("emodulus", data, **KW_ALL),
                               data * EMOD_FACTOR)
    for feat in ("deform", "circ"):
        out = sl.scale_feature(feat, data, **KW_ALL)
        assert out is not data
        np.testing.assert_array_equal(out, data)
        out[0] = -1  # a real copy
        assert data[0] == 10.0
        assert sl.scale_feature(feat, data, inplace=True, **KW_ALL) is data
        assert sl.scale_feature(feat, 0.1, **KW_ALL) == 0.1
    # area and volume only need the channel widths
    widths = {"channel_width_in": 20.0, "channel_width_out": 40.0}
    assert sl.scale_feature("area_um", 1.0, **widths) == 4.0
    assert sl.scale_feature("volume", 1.0, **widths) == 8.0


def test_scale_feature_inplace():
    for feat, factor in (("area_um", 2.25), ("volume", 3.375),
                         ("emodulus", EMOD_FACTOR)):
        data = np.array([1.0, 4.0])
        out = sl.scale_feature(feat, data, inplace=True, **KW_ALL)
        assert out is data
        np.testing.assert_allclose(data, [factor, 4 * factor])


def test_scale_feature_errors():
    with pytest.raises(ValueError, match="bright_avg"):
        sl.scale_feature("bright_avg", np.ones(2), **KW_ALL)
    with pytest.raises(TypeError, match="viscosity_out"):
        kw = dict(KW_ALL)
        del kw["viscosity_out"]
        sl.scale_feature("emodulus", np.ones(2), **kw)


def test_convert_deprecated_area_deform():
    area = np.array([10.0, 40.0])
    deform = np.array([0.01, 0.05])
    with pytest.warns(DeprecationWarning, match="scale_feature"):
        res = sl.convert(area, deform, 20.0, 30.0)
    assert isinstance(res, tuple) and len(res) == 2
    area_c, deform_c = res
    np.testing.assert_allclose(area_c, area * 2.25)
    np.testing.assert_array_equal(deform_c, deform)
    assert area_c is not area and deform_c is not deform
    np.testing.assert_array_equal(area, [10.0, 40.0])
    # flow rates without emodulus: still only area and deform
    with pytest.warns(DeprecationWarning):
        res = sl.convert(area, deform, 20.0, 30.0, flow_rate_in=0.04,
                         flow_rate_out=0.16)
    assert len(res) == 2


def test_convert_with_emodulus():
    area = np.array([10.0, 40.0])
    deform = np.array([0.01, 0.05])
    emod = np.array([1.0, 2.0])
    with pytest.warns(DeprecationWarning):
        area_c, deform_c, emod_c = sl.convert(area, deform, emodulus=emod, **KW_ALL)
    np.testing.assert_allclose(area_c, area * 2.25)
    np.testing.assert_array_equal(deform_c, deform)
    np.testing.assert_allclose(emod_c, emod * EMOD_FACTOR)
    # in place: the input arrays are overwritten and returned
    with pytest.warns(DeprecationWarning):
        res = sl.convert(area, deform, emodulus=emod, inplace=True, **KW_ALL)
    assert res[0] is area and res[1] is deform and res[2] is emod
    np.testing.assert_allclose(area, [22.5, 90.0])
    np.testing.assert_allclose(emod, [EMOD_FACTOR, 2 * EMOD_FACTOR])


def test_convert_emodulus_missing_parameters():
    area = np.array([10.0])
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match="viscosity_in"):
        sl.convert(area, np.array([0.1]), 20.0, 30.0, emodulus=np.array([1.0]),
                   flow_rate_in=0.04, flow_rate_out=0.16, viscosity_out=5.0,
                   inplace=True)
    assert area[0] == 10.0  # nothing was scaled
