"""Isoelasticity lines (DC-ISO-01)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import cytolab
from cytolab import isoelastics as iso_mod
from cytolab.analysis.isoelastics import (
    AutoRecursiveDict,
    Isoelastics,
    check_lut_identifier,
    get_available_files,
    get_available_identifiers,
    get_default,
)
from cytolab.errors import (
    IsoelasticsEmodulusMeaninglessWarning,
    YoungsModulusLookupTableExceededWarning,
)
from cytolab.features.emodulus import datafiles, get_emodulus, load_mtext
from cytolab.features.emodulus.pxcorr import get_pixelation_delta
from cytolab.features.emodulus.viscosity import get_viscosity

#: LUT identifiers that have both a LUT and area_um-deform isoelastics
LUTS_WITH_ISOELASTICS = ["LE-2D-FEM-19", "HE-2D-FEM-22", "HE-3D-FEM-22"]

# The fixture ``emodulus_data`` (tests/conftest.py) points the data cache at
# ../shared/data/emodulus and skips when that folder is absent.


@pytest.fixture
def default(emodulus_data) -> Isoelastics:
    return get_default()


def toy() -> tuple[Isoelastics, list[np.ndarray]]:
    """An instance with two small area_um-deform lines of LUT 'toy'."""
    lines = [np.array([[50.0, 0.02, 1.5], [80.0, 0.03, 1.5], [120.0, 0.05, 1.5]]),
             np.array([[60.0, 0.01, 3.0], [90.0, 0.015, 3.0]])]
    iso = Isoelastics()
    iso.add(lines, "area_um", "deform", channel_width=20.0, flow_rate=0.04,
            viscosity=15.0, lut_identifier="toy")
    return iso, lines


def relative_errors(lines: list[np.ndarray], lut_identifier: str,
                    channel_width: float, flow_rate: float, viscosity: float
                    ) -> list[np.ndarray]:
    """|E(LUT at the line points) / E(line) - 1| per line (NaN outside)."""
    out = []
    for line in lines:
        with warnings.catch_warnings():
            # a few line ends lie just outside the LUT support -> NaN
            warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
            emod = get_emodulus(deform=line[:, 1], area_um=line[:, 0],
                                medium=viscosity, channel_width=channel_width,
                                flow_rate=flow_rate, px_um=0, temperature=None,
                                visc_model=None, lut_data=lut_identifier)
        out.append(np.abs(emod / line[:, 2] - 1))
    return out


def check_interpolation_tolerance(rel: list[np.ndarray], lines: list[np.ndarray]
                                  ) -> None:
    """The isoelastics and the LUT are the same simulations, but the LUT is
    a scattered point set that get_emodulus interpolates linearly, and the
    lines were extended beyond the LUT support by polynomial extrapolation
    (reference docs, example "Plotting custom isoelastics"). Measured with
    the published files: the median error per line is <= 0.65 %, 95 % of
    the points are within 0.8 %, and away from the line ends (3 points)
    and from tiny deformations (< 0.005, where the modulus changes steeply
    with deform and the LUT spacing dominates) every point is within 1.7 %.
    Only line ends reach 5-33 % (LUT boundary) and < 1 % lie outside the
    LUT (NaN). Tolerances: 1 %, 1 %, 2 % and 1 % NaN.
    """
    allrel = np.concatenate(rel)
    finite = np.isfinite(allrel)
    assert finite.mean() >= 0.99
    for rr in rel:
        assert np.nanmedian(rr) <= 0.01
    assert np.percentile(allrel[finite], 95) <= 0.01
    for rr, line in zip(rel, lines):
        inner = rr[3:-3][line[3:-3, 1] > 0.005]
        assert np.all(inner[np.isfinite(inner)] <= 0.02)


# --- registry and module functions (no data needed) ---

def test_alias_module():
    assert iso_mod is cytolab.analysis.isoelastics
    assert cytolab.isoelastics.Isoelastics is Isoelastics
    assert iso_mod.IsoelasticsEmodulusMeaninglessWarning \
        is IsoelasticsEmodulusMeaninglessWarning


def test_available_files_and_identifiers():
    files = get_available_files()
    assert files == sorted(n for n in datafiles.DATA_FILES if n.startswith("iso_"))
    assert "iso_HE-3D-FEM-22-volume-deform.txt" in files
    assert get_available_identifiers() == [
        "HE-2D-FEM-22", "HE-3D-FEM-22", "LE-2D-FEM-19", "LE-2D-ana-18"]


def test_auto_recursive_dict():
    d = AutoRecursiveDict()
    d["a"]["b"]["c"] = 1
    assert isinstance(d["a"], AutoRecursiveDict)
    assert d["a"]["b"]["c"] == 1
    assert "x" not in d["a"]  # membership does not create levels
    assert list(d["a"]) == ["b"]
    assert AutoRecursiveDict({"k": 2}, j=3) == {"k": 2, "j": 3}


# --- adding, swapping, circ ---

def test_add_registers_swapped_and_circ():
    iso, lines = toy()
    got = iso.get("area_um", "deform", 20.0, lut_identifier="toy")
    for aa, bb in zip(got, lines):
        assert np.array_equal(aa, bb)
    swapped = iso.get("deform", "area_um", 20.0, lut_identifier="toy")
    circ = iso.get("area_um", "circ", 20.0, lut_identifier="toy")
    circ_sw = iso.get("circ", "area_um", 20.0, lut_identifier="toy")
    for line, sw, cc, cs in zip(lines, swapped, circ, circ_sw):
        assert np.array_equal(sw, line[:, [1, 0, 2]])
        assert np.array_equal(cc[:, 0], line[:, 0])
        assert np.allclose(cc[:, 1], 1 - line[:, 1], rtol=0, atol=1e-15)
        assert np.array_equal(cc[:, 2], line[:, 2])
        assert np.array_equal(cs, cc[:, [1, 0, 2]])
    with pytest.raises(ValueError, match="volume"):
        iso.get("volume", "deform", 20.0, lut_identifier="toy")


def test_add_with_deform_first_column():
    iso = Isoelastics()
    line = np.array([[0.02, 50.0, 1.5], [0.03, 80.0, 1.5]])
    iso.add([line], "deform", "area_um", 20.0, 0.04, 15.0, lut_identifier="t")
    assert np.allclose(iso.get("circ", "area_um", 20.0, lut_identifier="t")[0],
                       [[0.98, 50.0, 1.5], [0.97, 80.0, 1.5]])
    assert np.array_equal(iso.get("area_um", "deform", 20.0, lut_identifier="t")[0],
                          line[:, [1, 0, 2]])


def test_add_copies_and_get_returns_copies():
    iso, lines = toy()
    original = lines[0].copy()
    lines[0][:] = 0  # the caller's arrays are not stored
    got = iso.get("area_um", "deform", 20.0, lut_identifier="toy")
    assert np.array_equal(got[0], original)
    got[0][:] = -1  # nor are returned arrays
    again = iso.get("area_um", "deform", 20.0, lut_identifier="toy")
    assert np.array_equal(again[0], original)


def test_add_errors():
    iso, lines = toy()
    with pytest.raises(ValueError, match="exist already"):
        iso.add(lines, "area_um", "deform", 20.0, 0.04, 15.0, lut_identifier="toy")
    # the derived circ lines count as existing as well; nothing is added
    with pytest.raises(ValueError, match="exist already"):
        iso.add(lines, "circ", "area_um", 20.0, 0.04, 15.0, lut_identifier="toy")
    # a different identifier is a separate set
    iso.add(lines, "area_um", "deform", 20.0, 0.04, 15.0, lut_identifier="toy2")
    with pytest.raises(ValueError, match="size feature"):
        iso.add(lines, "area_um", "volume", 20.0, 0.04, 15.0, lut_identifier="x")
    with pytest.raises(ValueError, match="size feature"):
        iso.add(lines, "area_um", "area_um", 20.0, 0.04, 15.0, lut_identifier="x")
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        iso.add([np.zeros((4, 2))], "area_um", "deform", 20.0, 0.04, 15.0,
                lut_identifier="x")
    with pytest.raises(TypeError, match="list"):
        iso.add(lines[0], "area_um", "deform", 20.0, 0.04, 15.0, lut_identifier="x")
    with pytest.raises(ValueError, match="flow_rate"):
        iso.add(lines, "area_um", "deform", 20.0, 0.0, 15.0, lut_identifier="x")
    with pytest.raises(ValueError, match="lut_identifier"):
        iso.add(lines, "area_um", "deform", 20.0, 0.04, 15.0)
    assert "x" not in iso._data


def test_get_errors():
    iso, _ = toy()
    with pytest.raises(ValueError, match="'nope'.*toy"):
        iso.get("area_um", "deform", 20.0, lut_identifier="nope")
    with pytest.raises(ValueError, match=r"\(area_um, emodulus\).*\(area_um, circ\)"):
        iso.get("area_um", "emodulus", 20.0, lut_identifier="toy")
    with pytest.raises(ValueError, match="px_um"):
        iso.get("area_um", "deform", 20.0, lut_identifier="toy", add_px_err=True)
    assert "nope" not in iso._data  # failed look-ups create nothing


# --- deprecated method argument ---

def test_check_lut_identifier():
    assert check_lut_identifier("HE-3D-FEM-22", None) == "HE-3D-FEM-22"
    with pytest.warns(DeprecationWarning, match="lut_identifier='LE-2D-ana-18'"):
        assert check_lut_identifier(None, "analytical") == "LE-2D-ana-18"
    with pytest.warns(DeprecationWarning):
        assert check_lut_identifier(None, "numerical") == "LE-2D-FEM-19"
    with pytest.warns(DeprecationWarning):
        assert check_lut_identifier("LE-2D-FEM-19", "numerical") == "LE-2D-FEM-19"
    with pytest.raises(ValueError, match="contradicts"), \
            pytest.warns(DeprecationWarning):
        check_lut_identifier("HE-2D-FEM-22", "numerical")
    with pytest.raises(ValueError, match="Unknown method"):
        check_lut_identifier(None, "FEM")
    with pytest.raises(ValueError, match="Give lut_identifier"):
        check_lut_identifier(None, None)


def test_method_is_deprecated_but_works(default):
    expected = default.get("area_um", "deform", 20.0, lut_identifier="LE-2D-FEM-19")
    with pytest.warns(DeprecationWarning, match="method") as record:
        got = default.get("area_um", "deform", 20.0, method="numerical")
    assert record[0].filename == __file__  # points at the caller
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    analy = default.get("area_um", "deform", 20.0, lut_identifier="LE-2D-ana-18")
    with pytest.warns(DeprecationWarning):
        got = default.get("area_um", "deform", 20.0, method="analytical")
    assert all(np.array_equal(a, b) for a, b in zip(got, analy))
    iso = Isoelastics()
    with pytest.warns(DeprecationWarning):
        iso.add(expected, "area_um", "deform", 20.0, 0.04, 15.0, method="numerical")
    assert "LE-2D-FEM-19" in iso._data


# --- scale conversion ---

def test_convert_scaling_ratios():
    line = np.array([[50.0, 0.02, 1.5], [80.0, 0.03, 2.5]])
    kw = {"channel_width_in": 20.0, "channel_width_out": 30.0,
          "flow_rate_in": 0.04, "flow_rate_out": 0.16,
          "viscosity_in": 15.0, "viscosity_out": 5.0}
    # stress ratio sigma_out / sigma_in with sigma = eta * Q / L**3
    stress = (5.0 * 0.16 / 30.0**3) / (15.0 * 0.04 / 20.0**3)
    out = Isoelastics.convert([line], "area_um", "deform", **kw)[0]
    assert np.allclose(out[:, 0], line[:, 0] * 1.5**2, rtol=1e-14)
    assert np.array_equal(out[:, 1], line[:, 1])
    assert np.allclose(out[:, 2], line[:, 2] * stress, rtol=1e-14)
    assert np.array_equal(line[0], [50.0, 0.02, 1.5])  # not in place
    out = Isoelastics.convert([line[:, [1, 0, 2]]], "circ", "volume", **kw)[0]
    assert np.array_equal(out[:, 0], line[:, 1])
    assert np.allclose(out[:, 1], line[:, 0] * 1.5**3, rtol=1e-14)
    # equal constants: only the positions change
    pos = Isoelastics.convert([line], "area_um", "deform", 20.0, 40.0, 1, 1, 1, 1)
    assert np.allclose(pos[0][:, 2], line[:, 2] * 0.125)
    # in place: the same arrays are modified and returned
    lines = [line.copy()]
    back = Isoelastics.convert(lines, "area_um", "deform", inplace=True, **kw)
    assert back is lines and back[0] is lines[0]
    assert np.allclose(lines[0][:, 0], line[:, 0] * 2.25)
    with pytest.raises(ValueError, match="emodulus"):
        Isoelastics.convert([line], "area_um", "emodulus", **kw)


def test_get_scales_like_convert():
    iso, lines = toy()
    got = iso.get("area_um", "deform", channel_width=30.0, lut_identifier="toy",
                  flow_rate=0.16, viscosity=5.0)
    stress = (5.0 * 0.16 / 30.0**3) / (15.0 * 0.04 / 20.0**3)
    for aa, line in zip(got, lines):
        assert np.allclose(aa, line * [2.25, 1, stress], rtol=1e-14)
    # None: flow rate and viscosity of the lines (moduli only scaled by width)
    got = iso.get("deform", "area_um", channel_width=30.0, lut_identifier="toy")
    for aa, line in zip(got, lines):
        assert np.allclose(aa, line[:, [1, 0, 2]] * [1, 2.25, (20 / 30)**3])
    got = iso.get("area_um", "deform", channel_width=20.0, lut_identifier="toy",
                  flow_rate=0.08)
    assert np.allclose(got[1][:, 2], 6.0)


# --- pixelation error ---

def test_add_px_err():
    line = np.array([[30.0, 0.02, 1.5], [100.0, 0.05, 1.5], [300.0, 0.07, 1.5]])
    out = Isoelastics.add_px_err([line], "area_um", "deform", px_um=0.34)[0]
    delta = get_pixelation_delta("deform", "area_um", line[:, 0], px_um=0.34)
    assert np.all(delta > 0)
    assert np.array_equal(out[:, 0], line[:, 0])
    assert np.allclose(out[:, 1], line[:, 1] + delta, rtol=1e-14)
    assert np.array_equal(out[:, 2], line[:, 2])
    # circularity loses what deformation gains; column order does not matter
    circ = np.column_stack([1 - line[:, 1], line[:, 0], line[:, 2]])
    out_c = Isoelastics.add_px_err([circ], "circ", "area_um", px_um=0.34)[0]
    assert np.allclose(out_c[:, 0], 1 - line[:, 1] - delta, rtol=1e-14)
    # volume-based delta and a different pixel size
    out_v = Isoelastics.add_px_err([line], "volume", "deform", px_um=0.68)[0]
    delta_v = get_pixelation_delta("deform", "volume", line[:, 0], px_um=0.68)
    assert np.allclose(out_v[:, 1], line[:, 1] + delta_v, rtol=1e-14)
    # px_um=0 adds nothing; inplace modifies the given arrays
    assert np.array_equal(
        Isoelastics.add_px_err([line], "area_um", "deform", px_um=0)[0], line)
    lines = [line.copy()]
    assert Isoelastics.add_px_err(lines, "area_um", "deform", 0.34,
                                  inplace=True) is lines
    assert np.allclose(lines[0][:, 1], line[:, 1] + delta)
    with pytest.raises(ValueError):
        Isoelastics.add_px_err([line], "area_um", "volume", px_um=0.34)


def test_get_adds_px_err_after_scaling():
    iso, _ = toy()
    kw = {"channel_width": 30.0, "lut_identifier": "toy", "flow_rate": 0.16,
          "viscosity": 5.0}
    plain = iso.get("area_um", "deform", **kw)
    with_err = iso.get("area_um", "deform", add_px_err=True, px_um=0.34, **kw)
    for pp, ww in zip(plain, with_err):
        # the error belongs to the size in the measurement's channel
        delta = get_pixelation_delta("deform", "area_um", pp[:, 0], px_um=0.34)
        assert np.allclose(ww[:, 1], pp[:, 1] + delta, rtol=1e-14)
        assert np.array_equal(ww[:, [0, 2]], pp[:, [0, 2]])


# --- the published files ---

def test_load_every_file(emodulus_data):
    paths = sorted(emodulus_data.glob("iso_*.txt"))
    assert [p.name for p in paths] == get_available_files()
    for path in paths:
        data, meta = load_mtext(path)
        col1, col2, _ = meta["column features"]
        iso = Isoelastics([path])
        assert list(iso._data) == [meta["lut identifier"]]
        lines = iso.get(col1, col2, channel_width=meta["channel_width"],
                        lut_identifier=meta["lut identifier"])
        # lossless: the lines are the file's rows, split where E changes
        assert np.array_equal(np.concatenate(lines), data)
        moduli = [line[0, 2] for line in lines]
        assert len(set(moduli)) == len(lines) >= 10
        for line in lines:
            assert len(line) > 10
            assert np.all(line[:, 2] == line[0, 2])  # E constant per line
        with pytest.raises(ValueError, match="exist already"):
            iso.load_data(path)


def test_get_default(default):
    assert sorted(default._data) == get_available_identifiers()
    for ident in ["LE-2D-FEM-19", "HE-2D-FEM-22", "HE-3D-FEM-22"]:
        for col1 in ["area_um", "volume"]:
            for col2 in ["deform", "circ"]:
                assert default.get(col1, col2, 20.0, lut_identifier=ident)
                assert default.get(col2, col1, 20.0, lut_identifier=ident)
    with pytest.raises(ValueError, match="volume"):
        default.get("volume", "deform", 20.0, lut_identifier="LE-2D-ana-18")
    # every call gives a new instance; additions do not leak into others
    other = get_default()
    assert other is not default
    default.add([np.ones((2, 3))], "area_um", "deform", 20.0, 0.04, 15.0,
                lut_identifier="mine")
    assert "mine" not in get_default()._data


def test_default_circ_lines_are_one_minus_deform(default):
    for ident in get_available_identifiers():
        deform = default.get("area_um", "deform", 20.0, lut_identifier=ident)
        circ = default.get("circ", "area_um", 20.0, lut_identifier=ident)
        for dd, cc in zip(deform, circ):
            assert np.array_equal(cc[:, 1], dd[:, 0])
            assert np.allclose(cc[:, 0], 1 - dd[:, 1], rtol=0, atol=1e-15)


@pytest.mark.parametrize("lut_identifier", LUTS_WITH_ISOELASTICS)
def test_lines_agree_with_lut(default, emodulus_data, lut_identifier):
    """Main check: points of the isoelastics fed through the LUT give back
    the modulus of their line (tolerance: see check_interpolation_tolerance)."""
    _, meta = load_mtext(emodulus_data / f"lut_{lut_identifier}.txt")
    cond = {"channel_width": meta["channel_width"],
            "flow_rate": meta["flow_rate"], "viscosity": meta["fluid_viscosity"]}
    lines = default.get("area_um", "deform", channel_width=cond["channel_width"],
                        lut_identifier=lut_identifier)
    rel = relative_errors(lines, lut_identifier, **cond)
    check_interpolation_tolerance(rel, lines)


@pytest.mark.parametrize("lut_identifier", LUTS_WITH_ISOELASTICS)
def test_scaled_lines_agree_with_lut(default, emodulus_data, lut_identifier):
    """Lines scaled to another channel, flow rate and viscosity agree with
    get_emodulus for those conditions just as well: both use the same
    linear-elastic scaling, so the relative errors must be the unscaled ones
    (to rounding, 1e-9) and within the same tolerance."""
    _, meta = load_mtext(emodulus_data / f"lut_{lut_identifier}.txt")
    own = {"channel_width": meta["channel_width"],
           "flow_rate": meta["flow_rate"], "viscosity": meta["fluid_viscosity"]}
    lines = default.get("area_um", "deform", channel_width=30.0, flow_rate=0.16,
                        viscosity=4.2, lut_identifier=lut_identifier)
    unscaled = default.get("area_um", "deform", channel_width=own["channel_width"],
                           lut_identifier=lut_identifier)
    assert not np.allclose(lines[0][:, [0, 2]], unscaled[0][:, [0, 2]])
    rel = relative_errors(lines, lut_identifier, channel_width=30.0,
                          flow_rate=0.16, viscosity=4.2)
    rel_own = relative_errors(unscaled, lut_identifier, **own)
    for rr, ro in zip(rel, rel_own):
        assert np.allclose(rr, ro, rtol=0, atol=1e-9, equal_nan=True)
    check_interpolation_tolerance(rel, lines)


# --- conditions from a dataset ---

def make_dataset(**setup) -> cytolab.RTDCBase:
    ds = cytolab.new_dataset({"area_um": np.array([50.0, 80.0]),
                              "deform": np.array([0.02, 0.03])})
    for key, value in setup.items():
        ds.config["setup"][key.replace("_", " ")] = value
    ds.config["imaging"]["pixel size"] = 0.25
    return ds


def test_get_with_rtdcbase_toy():
    iso, _ = toy()
    ds = make_dataset(channel_width=30.0, flow_rate=0.16, medium="CellCarrier B",
                      temperature=25.0)
    visc = get_viscosity("0.59% MC-PBS", 30.0, 0.16, 25.0, model="buyukurganci-2022")
    expected = iso.get("area_um", "circ", channel_width=30.0, flow_rate=0.16,
                       viscosity=visc, lut_identifier="toy", add_px_err=True,
                       px_um=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = iso.get_with_rtdcbase("area_um", "circ", ds, lut_identifier="toy",
                                    add_px_err=True)
    for aa, bb in zip(got, expected):
        assert np.array_equal(aa, bb)
    # an explicit viscosity wins
    got = iso.get_with_rtdcbase("area_um", "circ", ds, lut_identifier="toy",
                                viscosity=2.0)
    assert np.allclose(got[0][:, 2], iso.get(
        "area_um", "circ", 30.0, lut_identifier="toy", flow_rate=0.16,
        viscosity=2.0)[0][:, 2])
    # water: the viscosity depends on the temperature only (Kestin)
    ds.config["setup"]["medium"] = "water"
    got = iso.get_with_rtdcbase("area_um", "circ", ds, lut_identifier="toy")
    assert np.allclose(got[0][:, 2], iso.get(
        "area_um", "circ", 30.0, lut_identifier="toy", flow_rate=0.16,
        viscosity=get_viscosity("water", temperature=25.0))[0][:, 2])


@pytest.mark.parametrize("setup, reason", [
    ({"medium": "other", "temperature": 23.0}, "other"),
    ({"medium": "CellCarrier"}, "setup:temperature"),
    ({"temperature": 23.0}, "setup:medium"),
])
def test_get_with_rtdcbase_viscosity_fallback(setup, reason):
    iso, _ = toy()
    ds = make_dataset(channel_width=30.0, flow_rate=0.16, **setup)
    without = iso.get("area_um", "deform", 30.0, lut_identifier="toy",
                      flow_rate=0.16)
    with pytest.warns(IsoelasticsEmodulusMeaninglessWarning, match=reason) as rec:
        got = iso.get_with_rtdcbase("area_um", "deform", ds, lut_identifier="toy")
    assert rec[0].filename == __file__
    assert all(np.array_equal(a, b) for a, b in zip(got, without))
    # viscosity=False: the user asked for no viscosity scaling, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = iso.get_with_rtdcbase("area_um", "deform", ds, lut_identifier="toy",
                                    viscosity=False)
    assert all(np.array_equal(a, b) for a, b in zip(got, without))


def test_get_with_rtdcbase_missing_metadata():
    iso, _ = toy()
    ds = make_dataset(flow_rate=0.16)
    with pytest.raises(KeyError, match="channel width"):
        iso.get_with_rtdcbase("area_um", "deform", ds, lut_identifier="toy",
                              viscosity=3.0)
    ds = cytolab.new_dataset({"deform": [0.1]})
    ds.config["setup"]["channel width"] = 20.0
    ds.config["setup"]["flow rate"] = 0.04
    with pytest.raises(KeyError, match="pixel size"):
        iso.get_with_rtdcbase("area_um", "deform", ds, lut_identifier="toy",
                              viscosity=3.0, add_px_err=True)


def test_get_with_rtdcbase_simulated_file(default, tmp_path):
    from cytolab.simulate import simulate_rtdc
    ds = cytolab.new_dataset(simulate_rtdc(tmp_path / "sim.rtdc", num_events=20))
    setup = ds.config["setup"]
    visc = get_viscosity(setup["medium"], setup["channel width"],
                         setup["flow rate"], setup["temperature"],
                         model="buyukurganci-2022")
    expected = default.get("area_um", "deform",
                           channel_width=setup["channel width"],
                           flow_rate=setup["flow rate"], viscosity=visc,
                           lut_identifier="HE-3D-FEM-22", add_px_err=True,
                           px_um=ds.config["imaging"]["pixel size"])
    got = default.get_with_rtdcbase("area_um", "deform", ds,
                                    lut_identifier="HE-3D-FEM-22",
                                    add_px_err=True)
    assert len(got) == len(expected) == 11
    for aa, bb in zip(got, expected):
        assert np.array_equal(aa, bb)
    with pytest.warns(DeprecationWarning):
        old = default.get_with_rtdcbase("area_um", "deform", ds,
                                        method="numerical")
    assert np.array_equal(old[0], default.get_with_rtdcbase(
        "area_um", "deform", ds, lut_identifier="LE-2D-FEM-19")[0])


# --- file errors ---

def test_load_data_errors(tmp_path):
    header = ("# BEGIN METADATA\n# {@@}\n# END METADATA\n"
              "# area_um [um^2]\tdeform\temodulus [kPa]\n"
              "10.0 0.1 1.5\n20.0 0.05 1.5\n30.0 0.05 2.0\n")
    good = ('"lut identifier": "file-LUT", "channel_width": 20.0, '
            '"flow_rate": 0.04, "fluid_viscosity": 15.0')
    path = tmp_path / "iso.txt"
    path.write_text(header.replace("@@", good))
    iso = Isoelastics([path])
    lines = iso.get("area_um", "deform", 20.0, lut_identifier="file-LUT")
    assert [len(line) for line in lines] == [2, 1]
    path.write_text(header.replace("@@", good.replace("lut identifier",
                                                         "identifier")))
    with pytest.raises(ValueError, match="lut identifier"):
        Isoelastics([path])
    path.write_text(header.replace("@@", good.replace('"flow_rate": 0.04, ', "")))
    with pytest.raises(ValueError, match="flow_rate"):
        Isoelastics([path])
    path.write_text(header.replace("@@", good).replace("emodulus [kPa]", "x"))
    with pytest.raises(ValueError, match="emodulus"):
        Isoelastics([path])
