"""Tests of the pixelation correction of the deformation (Herold 2017)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cytolab.features.emodulus import pxcorr


def ref_area(area_um: float, px_um: float) -> float:
    x = area_um * (0.34 / px_um) ** 2
    return (0.0012 + 0.020 * math.exp(-x / 7.1) + 0.010 * math.exp(-x / 38.6)
            + 0.005 * math.exp(-x / 296))


def ref_volume(volume: float, px_um: float) -> float:
    x = volume * (0.34 / px_um) ** 3
    return (0.0013 + 0.0172 * math.exp(-x / 40) + 0.0070 * math.exp(-x / 450)
            + 0.0032 * math.exp(-x / 6040))


AREAS = [10.0, 25.0, 50.0, 100.0, 300.0, 1250.0]
VOLUMES = [20.0, 100.0, 500.0, 2000.0, 10000.0]
PIXELS = [0.2, 0.34, 0.5, 0.68]


@pytest.mark.parametrize("px_um", PIXELS)
def test_area_formula(px_um):
    got = pxcorr.corr_deform_with_area_um(np.array(AREAS), px_um=px_um)
    np.testing.assert_allclose(got, [ref_area(a, px_um) for a in AREAS],
                               rtol=1e-12)
    for a in AREAS:
        val = pxcorr.corr_deform_with_area_um(a, px_um=px_um)
        assert isinstance(val, float)
        assert val == pytest.approx(ref_area(a, px_um), rel=1e-12)


@pytest.mark.parametrize("px_um", PIXELS)
def test_volume_formula(px_um):
    got = pxcorr.corr_deform_with_volume(np.array(VOLUMES), px_um=px_um)
    np.testing.assert_allclose(got, [ref_volume(v, px_um) for v in VOLUMES],
                               rtol=1e-12)


def test_literals():
    # computed once with a stand-alone script (math module, FACTS.md formulas)
    assert pxcorr.corr_deform_with_area_um(50) == pytest.approx(
        0.008178426332280239, rel=1e-12)
    assert pxcorr.corr_deform_with_area_um(50, px_um=0.68) == pytest.approx(
        0.01666590860823857, rel=1e-12)
    assert pxcorr.corr_deform_with_volume(200) == pytest.approx(
        0.008999930247516563, rel=1e-12)
    assert pxcorr.corr_deform_with_volume(200, px_um=0.5) == pytest.approx(
        0.01412455582359165, rel=1e-12)


def test_limits_and_trend():
    # small events: all exponentials ~1; large events: only the offset remains
    assert pxcorr.corr_deform_with_area_um(0.0) == pytest.approx(0.0362)
    assert pxcorr.corr_deform_with_area_um(1e7) == pytest.approx(0.0012)
    assert pxcorr.corr_deform_with_volume(0.0) == pytest.approx(0.0287)
    assert pxcorr.corr_deform_with_volume(1e9) == pytest.approx(0.0013)
    d = pxcorr.corr_deform_with_area_um(np.linspace(5, 2000, 100))
    assert np.all(np.diff(d) < 0)
    # a coarser pixel grid means a larger error for the same event
    assert (pxcorr.corr_deform_with_area_um(100, 0.68)
            > pxcorr.corr_deform_with_area_um(100, 0.34))


def test_shapes_and_nan():
    data = np.array([[50.0, np.nan], [100.0, 200.0]])
    got = pxcorr.corr_deform_with_area_um(data)
    assert got.shape == (2, 2)
    assert np.isnan(got[0, 1])
    assert got[1, 1] == pytest.approx(ref_area(200.0, 0.34))


def test_px_um_zero_disables():
    assert pxcorr.corr_deform_with_area_um(100.0, px_um=0) == 0.0
    assert pxcorr.corr_deform_with_volume(100.0, px_um=0.0) == 0.0
    arr = pxcorr.corr_deform_with_area_um(np.array([1.0, 50.0, 500.0]), px_um=0)
    np.testing.assert_array_equal(arr, np.zeros(3))
    np.testing.assert_array_equal(
        pxcorr.get_pixelation_delta("deform", "volume", np.ones(4), px_um=0),
        np.zeros(4))
    d1, d2 = pxcorr.get_pixelation_delta_pair("circ", "area_um", np.ones(3),
                                              np.full(3, 50.0), px_um=0)
    np.testing.assert_array_equal(d1, 0)
    np.testing.assert_array_equal(d2, 0)


@pytest.mark.parametrize("px_um", [-0.34, np.nan])
def test_bad_px_um(px_um):
    with pytest.raises(ValueError, match="px_um"):
        pxcorr.corr_deform_with_area_um(100.0, px_um=px_um)
    with pytest.raises(ValueError, match="px_um"):
        pxcorr.get_pixelation_delta("area_um", "area_um", 100.0, px_um=px_um)


def test_get_pixelation_delta():
    area = np.array([30.0, 80.0, 400.0])
    vol = np.array([100.0, 800.0, 4000.0])
    exp_a = [ref_area(a, 0.5) for a in area]
    exp_v = [ref_volume(v, 0.5) for v in vol]
    np.testing.assert_allclose(
        pxcorr.get_pixelation_delta("deform", "area_um", area, px_um=0.5), exp_a)
    np.testing.assert_allclose(
        pxcorr.get_pixelation_delta("deform", "volume", vol, px_um=0.5), exp_v)
    # circ = 1 - deform: its error (to subtract) has the opposite sign
    np.testing.assert_allclose(
        pxcorr.get_pixelation_delta("circ", "area_um", area, px_um=0.5),
        -np.array(exp_a))
    np.testing.assert_allclose(
        pxcorr.get_pixelation_delta("circ", "volume", vol, px_um=0.5),
        -np.array(exp_v))
    # size features themselves are not corrected
    for feat in ("area_um", "volume"):
        np.testing.assert_array_equal(
            pxcorr.get_pixelation_delta(feat, "area_um", area), np.zeros(3))
    assert pxcorr.get_pixelation_delta("volume", "volume", 5.0) == 0.0
    # corrected deform and circ stay consistent
    deform = np.array([0.02, 0.05, 0.1])
    circ = 1 - deform
    deform_corr = deform - pxcorr.get_pixelation_delta("deform", "area_um", area)
    circ_corr = circ - pxcorr.get_pixelation_delta("circ", "area_um", area)
    np.testing.assert_allclose(circ_corr, 1 - deform_corr)


@pytest.mark.parametrize("feats_corr,feat_absc", [
    ("deform", "deform"),
    ("deform", "circ"),
    ("deform", "bright_avg"),
    ("emodulus", "area_um"),
    ("bright_avg", "volume"),
    ("area_um", "deform"),
])
def test_get_pixelation_delta_unsupported(feats_corr, feat_absc):
    with pytest.raises(ValueError) as exc:
        pxcorr.get_pixelation_delta(feats_corr, feat_absc, 100.0)
    msg = str(exc.value)
    assert feats_corr in msg or feat_absc in msg


@pytest.mark.parametrize("shape_feat,sign", [("deform", 1), ("circ", -1)])
@pytest.mark.parametrize("size_feat,ref", [("area_um", ref_area),
                                           ("volume", ref_volume)])
def test_pair(shape_feat, sign, size_feat, ref):
    size = np.array([40.0, 120.0, 600.0])
    shape = np.array([0.03, 0.06, 0.02])
    expected = sign * np.array([ref(s, 0.34) for s in size])
    d_shape, d_size = pxcorr.get_pixelation_delta_pair(shape_feat, size_feat,
                                                       shape, size)
    np.testing.assert_allclose(d_shape, expected)
    np.testing.assert_array_equal(d_size, np.zeros(3))
    # the order of the pair does not matter
    d_size2, d_shape2 = pxcorr.get_pixelation_delta_pair(size_feat, shape_feat,
                                                         size, shape)
    np.testing.assert_array_equal(d_shape2, d_shape)
    np.testing.assert_array_equal(d_size2, d_size)


def test_pair_scalars():
    d1, d2 = pxcorr.get_pixelation_delta_pair("area_um", "deform", 100.0, 0.05,
                                              px_um=0.68)
    assert d1 == 0.0
    assert d2 == pytest.approx(ref_area(100.0, 0.68))


@pytest.mark.parametrize("feats", [
    ("deform", "circ"),
    ("area_um", "volume"),
    ("deform", "deform"),
    ("deform", "bright_avg"),
    ("emodulus", "area_um"),
])
def test_pair_unsupported(feats):
    with pytest.raises(ValueError, match="pair") as exc:
        pxcorr.get_pixelation_delta_pair(*feats, 0.1, 0.1)
    assert feats[0] in str(exc.value) and feats[1] in str(exc.value)
