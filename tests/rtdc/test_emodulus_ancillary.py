"""The ``emodulus`` ancillary feature: scenarios A, B, C through ``ds.config``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.errors import YoungsModulusLookupTableExceededWarning
from cytolab.features import emodulus as em
from cytolab.rtdc.ancillaries import AncillaryFeature
from cytolab.rtdc.formats.dict import RTDC_Dict

SETUP = {"channel width": 20.0, "flow rate": 0.16}


def _dict_dataset(n=200, seed=1, volume=False):
    rng = np.random.default_rng(seed)
    data = {"deform": rng.uniform(0.01, 0.08, n), "area_um": rng.uniform(40, 150, n),
            "temp": rng.uniform(22.5, 25.0, n)}
    if volume:
        data["volume"] = rng.uniform(100, 1500, n)
    ds = RTDC_Dict(data)
    ds.config["setup"].update(SETUP)
    ds.config["imaging"]["pixel size"] = 0.34
    return ds


def _direct(ds, **kwargs):
    kw = dict(deform=ds["deform"], area_um=ds["area_um"], channel_width=20.0,
              flow_rate=0.16, px_um=0.34, lut_data="LE-2D-FEM-19")
    kw.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
        return em.get_emodulus(**kw)


def _recipe(ds):
    return AncillaryFeature.get_recipe(ds, "emodulus")


def test_not_available_until_configured(emodulus_data):
    ds = _dict_dataset()
    calc = ds.config["calculation"]
    assert "emodulus" not in ds
    calc["emodulus lut"] = "LE-2D-FEM-19"
    assert "emodulus" not in ds
    calc["emodulus medium"] = "0.49% MC-PBS"
    assert "emodulus" not in ds  # no model chosen: nothing is guessed
    calc["emodulus viscosity model"] = "buyukurganci-2022"
    assert "emodulus" in ds  # scenario A: per-event temperature
    assert _recipe(ds).priority == 4


def test_availability_check_computes_nothing(emodulus_data, monkeypatch):
    ds = _dict_dataset()
    ds.config["calculation"].update({"emodulus lut": "LE-2D-FEM-19",
                                     "emodulus medium": "CellCarrier",
                                     "emodulus temperature": 23.0,
                                     "emodulus viscosity model": "buyukurganci-2022"})
    calls = []
    real = em.get_emodulus
    monkeypatch.setattr("cytolab.rtdc.ancillaries.emodulus.get_emodulus",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert "emodulus" in ds
    assert "emodulus" in ds.features
    assert not calls
    ds["emodulus"]
    ds["emodulus"]
    assert len(calls) == 1  # cached


def test_scenario_c_example_rtdc(emodulus_data, rtdc_data_dir):
    """The documented example: known medium, one temperature for all events."""
    with cytolab.new_dataset(rtdc_data_dir / "example.rtdc") as ds:
        calc = ds.config["calculation"]
        calc["emodulus lut"] = "LE-2D-FEM-19"
        calc["emodulus medium"] = ds.config["setup"]["medium"]
        calc["emodulus temperature"] = 23.0
        calc["emodulus viscosity model"] = "buyukurganci-2022"
        assert _recipe(ds).priority == 5
        with pytest.warns(YoungsModulusLookupTableExceededWarning):
            emod = ds["emodulus"]
        expected = _direct(ds, medium="CellCarrier", temperature=23.0,
                           visc_model="buyukurganci-2022",
                           channel_width=ds.config["setup"]["channel width"],
                           flow_rate=ds.config["setup"]["flow rate"],
                           px_um=ds.config["imaging"]["pixel size"])
        np.testing.assert_array_equal(emod, expected)
        finite = np.isfinite(emod)
        assert 0.5 * len(ds) < finite.sum() < len(ds)
        assert 0.5 < np.median(emod[finite]) < 3  # kPa, beads/cells range
        # another temperature: recomputed (cache keyed by the config)
        calc["emodulus temperature"] = 25.0
        with pytest.warns(YoungsModulusLookupTableExceededWarning):
            warm = ds["emodulus"]
        assert not np.allclose(warm[finite], emod[finite])


def test_scenario_a_real_temperature_feature(emodulus_data, real_rtdc_files):
    path = real_file(real_rtdc_files, "fmt-hdf5_wide-channel_2023")
    with cytolab.new_dataset(path) as ds:
        calc = ds.config["calculation"]
        calc.update({"emodulus lut": "LE-2D-FEM-19", "emodulus medium": "CellCarrierB",
                     "emodulus viscosity model": "buyukurganci-2022"})
        assert _recipe(ds).priority == 4
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
            emod = ds["emodulus"]
        expected = _direct(ds, medium="0.59% MC-PBS", temperature=ds["temp"],
                           visc_model="buyukurganci-2022",
                           channel_width=ds.config["setup"]["channel width"],
                           flow_rate=ds.config["setup"]["flow rate"],
                           px_um=ds.config["imaging"]["pixel size"])
        np.testing.assert_array_equal(emod, expected)
        # an explicit temperature beats the feature (scenario C)
        calc["emodulus temperature"] = 23.0
        assert _recipe(ds).priority == 5
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
            fixed = ds["emodulus"]
        np.testing.assert_array_equal(fixed, _direct(
            ds, medium="0.59% MC-PBS", temperature=23.0,
            visc_model="buyukurganci-2022",
            channel_width=ds.config["setup"]["channel width"],
            flow_rate=ds.config["setup"]["flow rate"],
            px_um=ds.config["imaging"]["pixel size"]))


@pytest.mark.parametrize("medium", [None, "other", "my custom buffer"])
def test_scenario_b_user_viscosity_for_any_medium(emodulus_data, medium):
    ds = _dict_dataset()
    calc = ds.config["calculation"]
    calc.update({"emodulus lut": "LE-2D-FEM-19", "emodulus viscosity": 5.5})
    if medium is not None:
        calc["emodulus medium"] = medium
    assert _recipe(ds).priority == 2
    np.testing.assert_array_equal(
        ds["emodulus"], _direct(ds, medium=5.5, temperature=None, visc_model=None))


def test_viscosity_and_known_medium_are_not_mixed(emodulus_data):
    ds = _dict_dataset()
    calc = ds.config["calculation"]
    calc.update({"emodulus lut": "LE-2D-FEM-19", "emodulus viscosity": 5.5,
                 "emodulus medium": "0.49% MC-PBS"})
    # a known medium and a fixed viscosity contradict each other
    assert "emodulus" not in ds
    calc["emodulus viscosity model"] = "herold-2017"
    calc["emodulus temperature"] = 24.0
    # a full scenario C is preferred and the fixed viscosity is not used
    np.testing.assert_array_equal(
        ds["emodulus"], _direct(ds, medium="0.49% MC-PBS", temperature=24.0,
                                visc_model="herold-2017"))


def test_reservoir_has_no_emodulus(emodulus_data):
    ds = _dict_dataset()
    ds.config["calculation"].update({"emodulus lut": "LE-2D-FEM-19",
                                     "emodulus viscosity": 5.5})
    assert "emodulus" in ds
    ds.config["setup"]["chip region"] = "reservoir"
    assert "emodulus" not in ds


def test_missing_pixel_size_or_channel_makes_it_unavailable(emodulus_data):
    for section, key in [("imaging", "pixel size"), ("setup", "channel width"),
                         ("setup", "flow rate")]:
        ds = _dict_dataset()
        ds.config["calculation"].update({"emodulus lut": "LE-2D-FEM-19",
                                         "emodulus viscosity": 5.5})
        assert "emodulus" in ds
        del ds.config[section][key]
        assert "emodulus" not in ds, key


def test_unknown_lut_or_medium_is_not_available(emodulus_data):
    ds = _dict_dataset()
    calc = ds.config["calculation"]
    calc.update({"emodulus lut": "NO-SUCH-LUT", "emodulus medium": "water",
                 "emodulus temperature": 23.0,
                 "emodulus viscosity model": "kestin-1978"})
    assert "emodulus" not in ds
    calc["emodulus lut"] = "HE-3D-FEM-22"
    assert "emodulus" in ds
    calc["emodulus medium"] = "honey"
    assert "emodulus" not in ds


def _write_volume_lut(path, identifier):
    vol, deform = np.meshgrid(np.linspace(50, 2000, 12), np.linspace(0.0, 0.2, 9))
    emod = 0.5 + vol / 1000 + 10 * deform  # linear: interpolation is exact
    rows = np.column_stack([vol.ravel(), deform.ravel(), emod.ravel()])
    header = (
        "# BEGIN METADATA\n"
        f'# {{"identifier": "{identifier}", "channel_width": 20.0,\n'
        '#  "flow_rate": 0.04, "fluid_viscosity": 15.0}\n'
        "# END METADATA\n"
        "# volume [um^3]\tdeform\temodulus [kPa]\n")
    path.write_text(header + "\n".join(" ".join(repr(float(v)) for v in row)
                                       for row in rows) + "\n")
    return path


def test_registered_volume_lut_selects_the_volume_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr(em.load, "EXTERNAL_LUTS", {})
    lut_id = em.register_lut(_write_volume_lut(tmp_path / "vol.txt", "TEST-VOL-1"))
    ds = _dict_dataset(volume=True)
    ds.config["calculation"].update({"emodulus lut": lut_id,
                                     "emodulus viscosity": 15.0})
    recipe = _recipe(ds)
    assert "volume" in recipe.req_features and "area_um" not in recipe.req_features
    expected = em.get_emodulus(deform=ds["deform"], volume=ds["volume"], medium=15.0,
                               channel_width=20.0, flow_rate=0.16, px_um=0.34,
                               temperature=None, visc_model=None, lut_data=lut_id)
    np.testing.assert_array_equal(ds["emodulus"], expected)
    # same conditions as the LUT except the flow rate: exact linear law
    delta = em.pxcorr.corr_deform_with_volume(ds["volume"], px_um=0.34)
    lin = 0.5 + ds["volume"] / 1000 + 10 * (ds["deform"] - delta)
    np.testing.assert_allclose(ds["emodulus"], lin * 0.16 / 0.04, rtol=1e-12)
