"""Tests of the viscosity models of RT-DC media.

Expected values are computed here from the published formulas (written out
again, independently of the module) or are literals computed once with a
separate script from the same formulas.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cytolab.errors import (
    PipelineWarning,
    TemperatureOutOfRangeWarning,
    ViscosityModelFallbackWarning,
)
from cytolab.features.emodulus import viscosity as visc

# ---------------------------------------------------------------------------
# reference implementations (scalar, plain math) of the published formulas


def ref_buyukurganci(medium: str, width: float, flow: float, temp: float) -> float:
    a_coef, beta = {"0.49% MC-PBS": (2.30e-6, -0.0056),
                    "0.59% MC-PBS": (5.70e-6, -0.0744),
                    "0.83% MC-PBS": (16.52e-6, -0.1455)}[medium]
    t_k = temp + 273.15
    n = 0.00223 * t_k + beta
    k = a_coef * math.exp(3379.7 / t_k)
    shear = 8 * flow / (width / 1000) ** 3 * (0.6671 + 0.2121 / n)
    return 1000 * k * shear ** (n - 1)


def ref_herold(medium: str, width: float, flow: float, temp: float) -> float:
    k, n, t0 = {"0.49% MC-PBS": (0.179, 0.677, 23.2),
                "0.59% MC-PBS": (0.360, 0.634, 23.6)}[medium]
    s = 1.1856 * 6 * (2 / 3) * flow * 1e-9 / (width * 1e-6) ** 3
    inner = s * (0.6771 / 0.5928 + 0.2121 / (0.5928 * n))
    return 1000 * k * inner ** (n - 1) * (temp / t0) ** -0.866


def ref_kestin(temp: float) -> float:
    d = 20 - temp
    expo = d / (temp + 96) * (1.2364 - 1.37e-3 * d + 5.7e-6 * d * d)
    return 1.002 * 10 ** expo


MC_MEDIA = ["0.49% MC-PBS", "0.59% MC-PBS", "0.83% MC-PBS"]
WIDTHS = [15.0, 20.0, 30.0, 40.0]
FLOWS = [0.02, 0.04, 0.08, 0.12, 0.16, 0.32]


# ---------------------------------------------------------------------------
# grid tests against the reference formulas


@pytest.mark.parametrize("medium", MC_MEDIA)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("flow", FLOWS)
def test_buyukurganci_grid(medium, width, flow):
    temps = np.linspace(22, 37, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning inside 22-37 °C
        got = visc.get_viscosity(medium, width, flow, temps,
                                 model="buyukurganci-2022")
        direct = visc.get_viscosity_mc_pbs_buyukurganci_2022(
            medium, width, flow, temps)
    assert isinstance(got, np.ndarray) and got.shape == temps.shape
    expected = [ref_buyukurganci(medium, width, flow, t) for t in temps]
    # identical floating-point formula up to operation order
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_array_equal(got, direct)
    # scalar temperatures give floats with the same values
    for t, exp in zip(temps, expected):
        val = visc.get_viscosity(medium, width, flow, float(t),
                                 model="buyukurganci-2022")
        assert isinstance(val, float)
        assert val == pytest.approx(exp, rel=1e-12)


@pytest.mark.parametrize("medium", ["0.49% MC-PBS", "0.59% MC-PBS"])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("flow", FLOWS)
def test_herold_grid(medium, width, flow):
    temps = np.array([18.0, 20.5, 23.0, 24.2, 26.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning inside 18-26 °C
        got = visc.get_viscosity(medium, width, flow, temps, model="herold-2017")
        direct = visc.get_viscosity_mc_pbs_herold_2017(medium, width, flow, temps)
    expected = [ref_herold(medium, width, flow, t) for t in temps]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_array_equal(got, direct)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("flow", FLOWS)
def test_water_grid(width, flow):
    temps = np.linspace(0, 40, 9)
    got = visc.get_viscosity("water", width, flow, temps, model="kestin-1978")
    expected = [ref_kestin(t) for t in temps]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_shear_rate_formula():
    for flow in FLOWS:
        for width in WIDTHS:
            for n in (0.5, 0.65, 1.0):
                exp = 8 * flow / (width * 1e-3) ** 3 * (0.6671 + 0.2121 / n)
                got = visc.shear_rate_square_channel(flow, width, n)
                assert got == pytest.approx(exp, rel=1e-12)
    # vectorised over the flow index
    n = np.array([0.6, 0.7])
    got = visc.shear_rate_square_channel(0.16, 20.0, n)
    np.testing.assert_allclose(
        got, [160000 * (0.6671 + 0.2121 / 0.6), 160000 * (0.6671 + 0.2121 / 0.7)])


# ---------------------------------------------------------------------------
# literals (computed once with a stand-alone script using Python's math
# module and the formulas of FACTS.md; see the ref_* functions above)


def test_literal_values():
    assert visc.shear_rate_square_channel(0.16, 20, 0.65) == pytest.approx(
        158945.23076923075, rel=1e-12)
    assert visc.get_viscosity("0.49% MC-PBS", 20, 0.16, 23,
                              model="buyukurganci-2022") == pytest.approx(
        3.33362557300572, rel=1e-12)
    assert visc.get_viscosity("0.59% MC-PBS", 20, 0.16, 24,
                              model="buyukurganci-2022") == pytest.approx(
        3.5294945605348413, rel=1e-12)
    assert visc.get_viscosity("0.83% MC-PBS", 30, 0.04, 30,
                              model="buyukurganci-2022") == pytest.approx(
        13.615806042666213, rel=1e-12)
    assert visc.get_viscosity("0.49% MC-PBS", 20, 0.16, 23,
                              model="herold-2017") == pytest.approx(
        3.7716604630788444, rel=1e-12)
    assert visc.get_viscosity("0.59% MC-PBS", 20, 0.08, 25,
                              model="herold-2017") == pytest.approx(
        5.4734025822647805, rel=1e-12)
    assert visc.get_viscosity_water_kestin_1978(20) == pytest.approx(1.002,
                                                                     rel=1e-15)
    assert visc.get_viscosity_water_kestin_1978(10) == pytest.approx(
        1.3069848447724564, rel=1e-12)
    assert visc.get_viscosity_water_kestin_1978(23) == pytest.approx(
        0.9323802528744568, rel=1e-12)
    assert visc.get_viscosity_water_kestin_1978(37) == pytest.approx(
        0.6912643450925647, rel=1e-12)


def test_physical_trends():
    temps = np.linspace(22, 37, 16)
    for medium in MC_MEDIA:
        eta = visc.get_viscosity(medium, 20, 0.16, temps, model="buyukurganci-2022")
        assert np.all(np.diff(eta) < 0)  # thinner when warmer
        slow = visc.get_viscosity(medium, 20, 0.04, 25, model="buyukurganci-2022")
        fast = visc.get_viscosity(medium, 20, 0.16, 25, model="buyukurganci-2022")
        assert slow > fast  # shear thinning
    thin, mid, thick = (visc.get_viscosity(m, 20, 0.16, 25, model="buyukurganci-2022")
                        for m in MC_MEDIA)
    assert thin < mid < thick


# ---------------------------------------------------------------------------
# arrays, NaN and defaults


def test_temperature_array_shapes_and_nan():
    temps = np.array([[23.0, np.nan], [25.0, 30.0]])
    got = visc.get_viscosity("0.59% MC-PBS", 20, 0.16, temps,
                             model="buyukurganci-2022")
    assert got.shape == (2, 2)
    assert np.isnan(got[0, 1])
    assert got[1, 1] == pytest.approx(ref_buyukurganci("0.59% MC-PBS", 20, 0.16, 30))
    for model in ("herold-2017", "kestin-1978"):
        medium = "water" if model == "kestin-1978" else "0.49% MC-PBS"
        res = visc.get_viscosity(medium, 20, 0.16, [23.0, np.nan], model=model)
        assert np.isnan(res[1]) and np.isfinite(res[0])
    # list input
    res = visc.get_viscosity("water", temperature=[20, 20])
    assert isinstance(res, np.ndarray)
    np.testing.assert_allclose(res, [1.002, 1.002])


def test_all_nan_temperatures_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = visc.get_viscosity("0.49% MC-PBS", 20, 0.16, np.full(3, np.nan),
                                 model="buyukurganci-2022")
    assert np.all(np.isnan(res))


def test_defaults():
    with pytest.warns(ViscosityModelFallbackWarning):
        default = visc.get_viscosity()
    assert default == pytest.approx(ref_herold("0.49% MC-PBS", 20.0, 0.16, 23.0))
    assert visc.get_viscosity_mc_pbs_buyukurganci_2022() == pytest.approx(
        ref_buyukurganci("0.49% MC-PBS", 20.0, 0.16, 23.0))
    assert visc.get_viscosity_mc_pbs_herold_2017() == pytest.approx(
        ref_herold("0.49% MC-PBS", 20.0, 0.16, 23.0))
    assert visc.get_viscosity_water_kestin_1978() == pytest.approx(ref_kestin(23.0))


# ---------------------------------------------------------------------------
# media names


def test_media_constants():
    assert list(visc.SAME_MEDIA) == ["0.49% MC-PBS", "0.59% MC-PBS",
                                     "0.83% MC-PBS", "water"]
    # the documented list: every spelling, as written and in lower case
    assert len(visc.KNOWN_MEDIA) == 25
    assert visc.KNOWN_MEDIA == sorted(visc.ALIAS_MEDIA)
    assert {"CellCarrier", "cellcarrier b", "0.8% mc-pbs", "water"} \
        <= set(visc.KNOWN_MEDIA)
    for canonical, names in visc.SAME_MEDIA.items():
        assert canonical in names
        for name in names:
            assert visc.ALIAS_MEDIA[name] == canonical
            assert visc.ALIAS_MEDIA[name.lower()] == canonical
    assert set(visc.ALIAS_MEDIA.values()) == set(visc.SAME_MEDIA)
    assert visc.ALIAS_MEDIA["cellcarrierb"] == "0.59% MC-PBS"
    assert visc.ALIAS_MEDIA["0.8% mc-pbs"] == "0.83% MC-PBS"


@pytest.mark.parametrize("alias,canonical", [
    ("0.49% MC-PBS", "0.49% MC-PBS"),
    ("0.5% MC-PBS", "0.49% MC-PBS"),
    ("0.50% mc-pbs", "0.49% MC-PBS"),
    ("CellCarrier", "0.49% MC-PBS"),
    ("CELLCARRIER", "0.49% MC-PBS"),
    ("0.6% MC-PBS", "0.59% MC-PBS"),
    ("0.60% Mc-Pbs", "0.59% MC-PBS"),
    ("CellCarrier B", "0.59% MC-PBS"),
    ("cellcarrierB", "0.59% MC-PBS"),
    ("0.8% MC-PBS", "0.83% MC-PBS"),
    ("0.80% mc-pbs", "0.83% MC-PBS"),
    ("Water", "water"),
    ("  water ", "water"),
])
def test_alias_handling(alias, canonical):
    assert visc.canonical_medium(alias) == canonical
    if canonical == "water":
        assert visc.get_viscosity(alias, temperature=25.0) == pytest.approx(
            ref_kestin(25.0))
    else:
        got = visc.get_viscosity(alias, 20.0, 0.16, 25.0, model="buyukurganci-2022")
        assert got == pytest.approx(ref_buyukurganci(canonical, 20.0, 0.16, 25.0))
        got = visc.get_viscosity_mc_pbs_buyukurganci_2022(alias, 20.0, 0.16, 25.0)
        assert got == pytest.approx(ref_buyukurganci(canonical, 20.0, 0.16, 25.0))


@pytest.mark.parametrize("model", ["herold-2017", "herold-2017-fallback",
                                   "buyukurganci-2022", "kestin-1978",
                                   "not-a-model", None])
def test_water_ignores_model(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular, no fallback warning
        got = visc.get_viscosity("water", 20.0, 0.16, 24.0, model=model)
    assert got == pytest.approx(ref_kestin(24.0), rel=1e-12)
    # channel width and flow rate do not matter for a Newtonian liquid
    assert visc.get_viscosity("water", 40.0, 0.02, 24.0, model=model) == got


# ---------------------------------------------------------------------------
# warnings


def test_fallback_warns_and_equals_herold():
    with pytest.warns(ViscosityModelFallbackWarning, match="buyukurganci-2022"):
        fallback = visc.get_viscosity("0.59% MC-PBS", 20, 0.08, 24.0,
                                      model="herold-2017-fallback")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        herold = visc.get_viscosity("0.59% MC-PBS", 20, 0.08, 24.0,
                                    model="herold-2017")
    assert fallback == herold
    assert issubclass(ViscosityModelFallbackWarning, PipelineWarning)


def test_buyukurganci_inside_range_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        visc.get_viscosity("0.49% MC-PBS", 20, 0.16, [22.0, 29.5, 37.0],
                           model="buyukurganci-2022")
        visc.check_temperature("buyukurganci-2022", 22.0, 22, 37)


@pytest.mark.parametrize("model,medium,temps,lo,hi", [
    ("buyukurganci-2022", "0.49% MC-PBS", [21.5, 30.0, 38.25], 21.5, 38.25),
    ("buyukurganci-2022", "0.83% MC-PBS", [40.0], 40, 40),
    ("herold-2017", "0.59% MC-PBS", [17.0, 23.0], 17, 23),
    ("herold-2017", "0.49% MC-PBS", [np.nan, 27.5, 24.0], 24, 27.5),
    ("kestin-1978", "water", [-1.0, 45.0], -1, 45),
])
def test_out_of_range_warns_with_min_max(model, medium, temps, lo, hi):
    with pytest.warns(TemperatureOutOfRangeWarning) as rec:
        res = visc.get_viscosity(medium, 20.0, 0.16, np.array(temps), model=model)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert model in msg
    assert f"{lo:g}" in msg and f"{hi:g}" in msg
    assert res.shape == (len(temps),)  # computed anyway, never an error


def test_check_temperature_directly():
    with pytest.warns(TemperatureOutOfRangeWarning,
                      match=r"10\.5 °C \(min\).*50 °C \(max\)"):
        visc.check_temperature("my-model", np.array([10.5, 20.0, 50.0]), 15, 30)
    with pytest.warns(TemperatureOutOfRangeWarning, match="my-model"):
        visc.check_temperature("my-model", 31.0, 15, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        visc.check_temperature("my-model", [15.0, 30.0], 15, 30)  # inclusive
        visc.check_temperature("my-model", [], 15, 30)
    assert issubclass(TemperatureOutOfRangeWarning, PipelineWarning)


# ---------------------------------------------------------------------------
# errors


def test_unknown_medium():
    with pytest.raises(ValueError, match="ketchup") as exc:
        visc.get_viscosity("ketchup", model="buyukurganci-2022")
    assert "0.49% MC-PBS" in str(exc.value)
    with pytest.raises(ValueError, match="ketchup"):
        visc.canonical_medium("ketchup")
    with pytest.raises(TypeError):
        visc.canonical_medium(1.5)


@pytest.mark.parametrize("name", ["other", "Other"])
def test_other_medium_needs_user_viscosity(name):
    with pytest.raises(ValueError, match="viscosity.*explicitly"):
        visc.get_viscosity(name, model="buyukurganci-2022")


def test_unknown_model():
    with pytest.raises(ValueError, match="herold-2017.*buyukurganci-2022") as exc:
        visc.get_viscosity("0.49% MC-PBS", model="herold-2018")
    assert "herold-2018" in str(exc.value)


def test_model_not_defined_for_medium():
    with pytest.raises(ValueError, match="0.83% MC-PBS"):
        visc.get_viscosity("0.83% MC-PBS", model="herold-2017")
    with pytest.raises(ValueError, match="0.83% MC-PBS"):
        visc.get_viscosity_mc_pbs_herold_2017("0.8% MC-PBS")
    with pytest.raises(ValueError, match="kestin-1978"):
        visc.get_viscosity("0.49% MC-PBS", model="kestin-1978")
    with pytest.raises(ValueError, match="water"):
        visc.get_viscosity_mc_pbs_buyukurganci_2022("water")


@pytest.mark.parametrize("model", ["buyukurganci-2022", "herold-2017"])
@pytest.mark.parametrize("kw", [
    {"channel_width": 0.0}, {"channel_width": -20.0}, {"channel_width": np.nan},
    {"flow_rate": 0.0}, {"flow_rate": -0.16},
])
def test_bad_geometry(model, kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        visc.get_viscosity("0.49% MC-PBS", temperature=23.0, model=model, **kw)
    with pytest.raises(ValueError, match=name):
        visc.get_viscosity("water", temperature=23.0, **kw)
