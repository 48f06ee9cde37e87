"""get_emodulus on the real look-up tables and on synthetic ones (DC-EMOD-01).

Reference values are computed here by hand: scaling into the LUT frame,
``scipy.interpolate.griddata(..., method="linear")`` on the max-normalised
LUT, and the stress scaling ``E ~ eta * Q / L**3`` back.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.interpolate import griddata
from scipy.spatial import Delaunay

from cytolab.errors import (
    KnowWhatYouAreDoingWarning,
    ViscosityModelFallbackWarning,
    YoungsModulusLookupTableExceededWarning,
)
from cytolab.features import emodulus
from cytolab.features.emodulus import (
    extrapolate_emodulus,
    get_emodulus,
    load_lut,
    normalize,
    register_lut,
)
from cytolab.features.emodulus.viscosity import get_viscosity

LUTS = ["LE-2D-FEM-19", "HE-2D-FEM-22", "HE-3D-FEM-22"]


def at_lut_conditions(meta: dict) -> dict:
    """Keyword arguments that evaluate a LUT at its own conditions."""
    return {"medium": meta["fluid_viscosity"], "channel_width": meta["channel_width"],
            "flow_rate": meta["flow_rate"], "temperature": None,
            "visc_model": None, "px_um": 0}


def by_hand(lut: np.ndarray, area_lut: np.ndarray, deform: np.ndarray) -> np.ndarray:
    """Linear interpolation of the LUT at points in its own frame."""
    norms = lut[:, :2].max(axis=0)
    return griddata(lut[:, :2] / norms, lut[:, 2],
                    np.column_stack([area_lut / norms[0], deform / norms[1]]),
                    method="linear")


def delta_area_um(area_um, px_um):
    """Pixelation error of deform (Herold 2017), written from FACTS.md."""
    x = np.asarray(area_um, dtype=float) * (0.34 / px_um) ** 2
    return (0.0012 + 0.020 * np.exp(-x / 7.1) + 0.010 * np.exp(-x / 38.6)
            + 0.005 * np.exp(-x / 296.0))


def delta_volume(volume, px_um):
    x = np.asarray(volume, dtype=float) * (0.34 / px_um) ** 3
    return (0.0013 + 0.0172 * np.exp(-x / 40.0) + 0.0070 * np.exp(-x / 450.0)
            + 0.0032 * np.exp(-x / 6040.0))


def inside_points(lut: np.ndarray, n: int, seed: int = 0, margin: float = 0.05
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Random (area_um, deform) well inside LUT triangles (barycentric
    coordinates >= margin), in the LUT frame."""
    norms = lut[:, :2].max(axis=0)
    tri = Delaunay(lut[:, :2] / norms)
    rng = np.random.default_rng(seed)
    simplex = rng.integers(0, len(tri.simplices), n)
    bary = rng.dirichlet([1.0, 1.0, 1.0], n) * (1 - 3 * margin) + margin
    pts = np.einsum("ij,ijk->ik", bary, lut[tri.simplices[simplex], :2])
    return pts[:, 0], pts[:, 1]


@pytest.fixture
def no_exceeded_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", YoungsModulusLookupTableExceededWarning)
        yield


@pytest.fixture(params=LUTS)
def real(request, lut_cache):
    """(identifier, lut, meta) of one internal LUT."""
    lut, meta = load_lut(request.param)
    return request.param, lut, meta


# ------------------------------------------------------------ the real LUTs
def test_support_points_map_to_their_modulus(real, no_exceeded_warning):
    """Every support point gives its own modulus at the LUT's conditions
    (rtol 1e-12)."""
    identifier, lut, meta = real
    emod = get_emodulus(deform=lut[:, 1], area_um=lut[:, 0], lut_data=identifier,
                        **at_lut_conditions(meta))
    np.testing.assert_allclose(emod, lut[:, 2], rtol=1e-12)


def test_edge_midpoints_are_vertex_means(real, no_exceeded_warning):
    """Midpoint of a LUT triangle edge = mean of its vertex values (linear
    interpolation; rtol 1e-10). Only edges between well-shaped interior
    triangles (see test_triangulation for slivers)."""
    identifier, lut, meta = real
    norms = lut[:, :2].max(axis=0)
    tri = Delaunay(lut[:, :2] / norms)
    corners = tri.points[tri.simplices]
    cond = np.linalg.cond(np.stack([corners[:, 0] - corners[:, 2],
                                    corners[:, 1] - corners[:, 2]], axis=-1))
    good = (cond < 1e3) & np.all(tri.neighbors >= 0, axis=1)
    simplices = tri.simplices[good]
    edges = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]]])
    edges = edges[np.random.default_rng(5).permutation(len(edges))[:3000]]
    mid = 0.5 * (lut[edges[:, 0], :2] + lut[edges[:, 1], :2])
    emod = get_emodulus(deform=mid[:, 1], area_um=mid[:, 0], lut_data=identifier,
                        **at_lut_conditions(meta))
    expected = 0.5 * (lut[edges[:, 0], 2] + lut[edges[:, 1], 2])
    np.testing.assert_allclose(emod, expected, rtol=1e-10)


def test_scaled_channel_by_hand(real, no_exceeded_warning):
    """channel_width 30, flow_rate 0.16, viscosity 5.3 mPa s: the size goes
    into the LUT frame with (20/30)^2, E comes back with (eta Q / L^3) ratio
    (rtol 1e-10)."""
    identifier, lut, meta = real
    area_lut, deform = inside_points(lut, 2000, seed=1)
    area_um = area_lut * (30.0 / 20.0) ** 2
    emod = get_emodulus(deform=deform, area_um=area_um, medium=5.3,
                        channel_width=30.0, flow_rate=0.16, px_um=0,
                        temperature=None, visc_model=None, lut_data=identifier)
    stress_out = 5.3 * 0.16 / 30.0 ** 3
    stress_lut = (meta["fluid_viscosity"] * meta["flow_rate"]
                  / meta["channel_width"] ** 3)
    expected = (by_hand(lut, area_um * (20.0 / 30.0) ** 2, deform)
                * stress_out / stress_lut)
    assert np.all(np.isfinite(expected))
    np.testing.assert_allclose(emod, expected, rtol=1e-10)


@pytest.mark.parametrize("model", ["buyukurganci-2022", "herold-2017"])
def test_medium_name_equals_viscosity_number(lut_cache, model, no_exceeded_warning):
    lut, _ = load_lut("HE-2D-FEM-22")
    area, deform = inside_points(lut, 500, seed=2)
    temperature = np.linspace(22.5, 25.5, 500)  # valid for both models
    for temp in (23.0, temperature):
        visc = get_viscosity("0.49% MC-PBS", channel_width=20.0, flow_rate=0.12,
                             temperature=temp, model=model)
        kw = {"deform": deform, "area_um": area, "channel_width": 20.0,
              "flow_rate": 0.12, "px_um": 0, "lut_data": "HE-2D-FEM-22"}
        named = get_emodulus(medium="0.49% MC-PBS", temperature=temp,
                             visc_model=model, **kw)
        number = get_emodulus(medium=visc, temperature=None, visc_model=None, **kw)
        np.testing.assert_allclose(named, number, rtol=1e-15)
        # aliases name the same medium
        alias = get_emodulus(medium="CellCarrier", temperature=temp,
                             visc_model=model, **kw)
        np.testing.assert_array_equal(alias, named)


def test_default_model_warns_fallback(lut_cache):
    kw = {"deform": np.array([0.05]), "area_um": np.array([100.0])}
    with pytest.warns(ViscosityModelFallbackWarning):
        default = get_emodulus(**kw)
    explicit = get_emodulus(visc_model="herold-2017", **kw)
    np.testing.assert_array_equal(default, explicit)
    assert np.all(np.isfinite(default))


def test_water(lut_cache):
    kw = {"deform": np.array([0.02]), "area_um": np.array([80.0]), "px_um": 0,
          "lut_data": "HE-3D-FEM-22"}
    emod = get_emodulus(medium="water", temperature=20.0, visc_model="kestin-1978",
                        **kw)
    ref = get_emodulus(medium=1.002, temperature=None, visc_model=None, **kw)
    np.testing.assert_allclose(emod, ref, rtol=1e-12)


@pytest.mark.parametrize("px_um", [0.34, 0.5])
def test_pixelation_correction(real, px_um, no_exceeded_warning):
    """px_um > 0 equals px_um = 0 on deform - delta(area_um) (rtol 1e-12)."""
    identifier, lut, meta = real
    area, deform = inside_points(lut, 1000, seed=3, margin=0.1)
    measured = deform + delta_area_um(area, px_um)  # corrected: inside again
    kw = at_lut_conditions(meta)
    kw.pop("px_um")
    corrected = get_emodulus(deform=measured, area_um=area, px_um=px_um,
                             lut_data=identifier, **kw)
    by_delta = get_emodulus(deform=measured - delta_area_um(area, px_um),
                            area_um=area, px_um=0, lut_data=identifier, **kw)
    np.testing.assert_allclose(corrected, by_delta, rtol=1e-12)
    assert np.all(np.isfinite(corrected))
    # and the correction matters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
        uncorrected = get_emodulus(deform=measured, area_um=area, px_um=0,
                                   lut_data=identifier, **kw)
    assert not np.allclose(corrected[np.isfinite(uncorrected)],
                           uncorrected[np.isfinite(uncorrected)], rtol=1e-3)


def test_pixelation_formula_spot_value():
    # the FACTS.md formula at 100 um^2 (cross-check of the helper itself)
    assert delta_area_um(100.0, 0.34) == pytest.approx(0.00552, abs=5e-6)


# ------------------------------------------------------------- outside/NaN
def test_outside_points_nan_and_warning(lut_cache):
    lut, meta = load_lut("LE-2D-FEM-19")
    area = np.array([100.0, 5000.0, 150.0, 100.0, 1.0])
    deform = np.array([0.05, 0.05, 0.9, 0.03, 0.05])
    with pytest.warns(YoungsModulusLookupTableExceededWarning,
                      match=r"3 of 5 events") as record:
        emod = get_emodulus(deform=deform, area_um=area, lut_data="LE-2D-FEM-19",
                            **at_lut_conditions(meta))
    assert len([w for w in record
                if w.category is YoungsModulusLookupTableExceededWarning]) == 1
    assert "LE-2D-FEM-19" in str(record[0].message)
    np.testing.assert_array_equal(np.isnan(emod), [False, True, True, False, True])


def test_nan_inputs_give_nan_without_warning(lut_cache, no_exceeded_warning):
    lut, meta = load_lut("HE-3D-FEM-22")
    area = np.array([np.nan, 100.0, np.nan, 100.0, np.inf])
    deform = np.array([0.05, np.nan, np.nan, 0.02, 0.02])
    emod = get_emodulus(deform=deform, area_um=area, lut_data="HE-3D-FEM-22",
                        **at_lut_conditions(meta))
    np.testing.assert_array_equal(np.isnan(emod), [True, True, True, False, True])


def test_nan_and_outside_counts_only_outside(lut_cache):
    lut, meta = load_lut("HE-3D-FEM-22")
    with pytest.warns(YoungsModulusLookupTableExceededWarning, match="1 of 3"):
        get_emodulus(deform=np.array([np.nan, 0.02, 0.02]),
                     area_um=np.array([100.0, 1e5, 100.0]),
                     lut_data="HE-3D-FEM-22", **at_lut_conditions(meta))


def _outside_case(lut):
    amax = lut[:, 0].max()
    area = np.array([1.05 * amax, 1.1 * amax, 100.0, np.nan])
    deform = np.array([0.05, 0.06, 0.03, 0.05])
    return area, deform


def test_extrapolate(lut_cache, no_exceeded_warning):
    lut, meta = load_lut("HE-3D-FEM-22")
    area, deform = _outside_case(lut)
    kw = dict(deform=deform, area_um=area, lut_data="HE-3D-FEM-22",
              **at_lut_conditions(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YoungsModulusLookupTableExceededWarning)
        plain = get_emodulus(**kw)
    with pytest.warns(KnowWhatYouAreDoingWarning):
        extra = get_emodulus(extrapolate=True, **kw)
    assert np.all(np.isfinite(extra[:3])) and np.all(extra[:3] > 0)
    assert np.isnan(extra[3])  # NaN input stays NaN
    assert np.isnan(plain[0]) and np.isnan(plain[1])
    assert extra[2] == plain[2]  # inside values untouched
    # larger cells of the same deformation are softer
    assert extra[0] < plain[2] * 10


def test_module_flag_extrapolates(lut_cache, monkeypatch, no_exceeded_warning):
    lut, meta = load_lut("HE-3D-FEM-22")
    area, deform = _outside_case(lut)
    kw = dict(deform=deform, area_um=area, lut_data="HE-3D-FEM-22",
              **at_lut_conditions(meta))
    with pytest.warns(KnowWhatYouAreDoingWarning):
        per_call = get_emodulus(extrapolate=True, **kw)
    monkeypatch.setattr(emodulus, "INACCURATE_SPLINE_EXTRAPOLATION", True)
    with pytest.warns(KnowWhatYouAreDoingWarning):
        flagged = get_emodulus(**kw)
    np.testing.assert_array_equal(flagged, per_call)


def test_extrapolate_no_warning_when_all_inside(lut_cache):
    lut, meta = load_lut("HE-3D-FEM-22")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emod = get_emodulus(deform=lut[:5, 1], area_um=lut[:5, 0],
                            lut_data="HE-3D-FEM-22", extrapolate=True,
                            **at_lut_conditions(meta))
    np.testing.assert_allclose(emod, lut[:5, 2], rtol=1e-12)


def test_extrapolate_emodulus_helper():
    """Linear data, a LUT without its upper right corner: outside the hull,
    inside and beyond the bounding box of the fitted points, the (kx=ky=1)
    spline continues the linear function (its domain includes the events,
    so FITPACK does not clamp them)."""
    grid = np.linspace(0.1, 1, 10)
    lut = np.array([[x, d, 1 + x + 2 * d] for x in grid for d in grid
                    if x + d <= 1.3])
    datax = np.array([0.9, 1.2, 0.5, np.nan, 0.3])
    deform = np.array([0.9, 0.5, 0.5, 0.5, 0.5])
    emod = np.array([np.nan, np.nan, 2.5, np.nan, 2.3])
    with pytest.warns(KnowWhatYouAreDoingWarning):
        out = extrapolate_emodulus(lut, datax, deform, emod, deform_norm=1.0,
                                   inplace=False)
    assert np.isnan(emod[0])  # not in place
    assert out[0] == pytest.approx(1 + 0.9 + 1.8, rel=1e-6)
    assert out[1] == pytest.approx(1 + 1.2 + 1.0, rel=1e-6)  # beyond x = 1
    assert np.isnan(out[3])  # NaN input
    assert out[2] == 2.5 and out[4] == 2.3  # finite values kept
    with pytest.warns(KnowWhatYouAreDoingWarning):
        same = extrapolate_emodulus(lut, datax, deform, emod, deform_norm=1.0)
    assert same is emod
    assert emod[0] == pytest.approx(3.7, rel=1e-6)


def test_extrapolate_emodulus_deform_threshold():
    """Only LUT points with deform > deform_thresh / deform_norm are fitted."""
    grid = np.linspace(0.1, 1, 10)
    lut = np.array([[x, d, 1 + x + 2 * d] for x in grid for d in grid])
    lut[lut[:, 1] < 0.35, 2] = 100.0  # garbage below the threshold
    emod = np.array([np.nan])
    with pytest.warns(KnowWhatYouAreDoingWarning):
        out = extrapolate_emodulus(lut, np.array([1.1]), np.array([0.5]), emod,
                                   deform_norm=2.0, deform_thresh=0.7)
    assert out[0] == pytest.approx(1 + 1.1 + 1.0, rel=1e-6)


def test_normalize_in_place():
    data = np.array([1.0, 2.0, 4.0])
    out = normalize(data, 4.0)
    assert out is data
    np.testing.assert_array_equal(data, [0.25, 0.5, 1.0])


# --------------------------------------------------------------------- copy
def test_copy_true_never_modifies_inputs(lut_cache):
    lut, _ = load_lut("LE-2D-FEM-19")
    area, deform = inside_points(lut, 50, seed=6)
    area = np.append(area * 2.25, [1e4, np.nan])
    deform = np.append(deform, [0.05, 0.05])
    area0, deform0 = area.copy(), deform.copy()
    area.flags.writeable = False  # would raise if written to
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for extrapolate in (False, True):
            get_emodulus(deform=deform, area_um=area, medium="0.49% MC-PBS",
                         channel_width=30.0, flow_rate=0.16, px_um=0.34,
                         temperature=23.0, visc_model="buyukurganci-2022",
                         extrapolate=extrapolate)
    np.testing.assert_array_equal(area, area0)
    np.testing.assert_array_equal(deform, deform0)


def test_copy_false_same_result_may_overwrite(lut_cache, no_exceeded_warning):
    lut, _ = load_lut("LE-2D-FEM-19")
    area, deform = inside_points(lut, 50, seed=7, margin=0.1)
    area = area * 2.25
    deform = deform + delta_area_um(area, 0.34)
    kw = dict(medium=5.0, channel_width=30.0, flow_rate=0.16, px_um=0.34,
              temperature=None, visc_model=None)
    ref = get_emodulus(deform=deform, area_um=area, copy=True, **kw)
    area_in, deform_in = area.copy(), deform.copy()
    out = get_emodulus(deform=deform_in, area_um=area_in, copy=False, **kw)
    np.testing.assert_array_equal(out, ref)
    # float64 arrays are used as scratch space (documented: may overwrite)
    assert not np.array_equal(area_in, area)
    assert not np.array_equal(deform_in, deform)
    # inputs that cannot be reused (lists, integers) still work
    out2 = get_emodulus(deform=list(deform), area_um=area.astype(np.float32),
                        copy=False, **kw)
    np.testing.assert_allclose(out2, ref, rtol=1e-5)


def test_copy_false_read_only_inputs(lut_cache, no_exceeded_warning):
    area = np.array([100.0, 120.0])
    deform = np.array([0.05, 0.06])
    ref = get_emodulus(deform=deform, area_um=area, medium=5.0, temperature=None,
                       visc_model=None)
    area.flags.writeable = False
    deform.flags.writeable = False
    out = get_emodulus(deform=deform, area_um=area, medium=5.0, temperature=None,
                       visc_model=None, copy=False)
    np.testing.assert_array_equal(out, ref)


# ---------------------------------------------------------------- bad input
_GOOD = {"medium": 15.0, "temperature": None, "visc_model": None, "px_um": 0}


def test_bad_size_arguments(synthetic_lut_file):
    d = np.array([0.05])
    with pytest.raises(ValueError, match="not both"):
        get_emodulus(deform=d, area_um=d, volume=d, lut_data=synthetic_lut_file,
                     **_GOOD)
    with pytest.raises(ValueError, match="area_um or volume"):
        get_emodulus(deform=d, lut_data=synthetic_lut_file, **_GOOD)
    with pytest.raises(ValueError, match="based on area_um, but volume"):
        get_emodulus(deform=d, volume=d, lut_data=synthetic_lut_file, **_GOOD)


def test_volume_with_real_area_lut(lut_cache):
    with pytest.raises(ValueError, match="LE-2D-FEM-19"):
        get_emodulus(deform=np.array([0.05]), volume=np.array([500.0]), **_GOOD)


def test_unknown_lut():
    with pytest.raises(ValueError, match="HE-3D-FEM-22"):  # lists known ones
        get_emodulus(deform=0.05, area_um=100.0, lut_data="LE-2D-FEM-99", **_GOOD)


def test_lut_file_without_metadata(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), None)
    with pytest.raises(ValueError, match="metadata"):
        get_emodulus(deform=0.05, area_um=100.0, lut_data=path, **_GOOD)


@pytest.mark.parametrize("name", ["channel_width", "flow_rate"])
@pytest.mark.parametrize("value", [-20.0, 0.0, np.nan])
def test_non_positive_geometry(synthetic_lut_file, name, value):
    with pytest.raises(ValueError, match=name):
        get_emodulus(deform=0.05, area_um=100.0, lut_data=synthetic_lut_file,
                     **{name: value}, **_GOOD)


@pytest.mark.parametrize("px_um", [-0.34, np.nan])
def test_bad_pixel_size(synthetic_lut_file, px_um):
    kw = dict(_GOOD, px_um=px_um)
    with pytest.raises(ValueError, match="px_um"):
        get_emodulus(deform=0.05, area_um=100.0, lut_data=synthetic_lut_file, **kw)


def test_number_medium_needs_no_temperature(synthetic_lut_file):
    kw = dict(deform=0.05, area_um=100.0, lut_data=synthetic_lut_file, px_um=0)
    with pytest.raises(ValueError, match="temperature"):
        get_emodulus(medium=15.0, temperature=23.0, visc_model=None, **kw)
    with pytest.raises(ValueError, match="visc_model"):
        get_emodulus(medium=15.0, temperature=None, visc_model="herold-2017", **kw)
    with pytest.raises(ValueError, match="positive"):
        get_emodulus(medium=-1.0, temperature=None, visc_model=None, **kw)
    with pytest.raises(TypeError):
        get_emodulus(medium=[15.0], temperature=None, visc_model=None, **kw)


def test_unknown_medium(synthetic_lut_file):
    with pytest.raises(ValueError, match="medium"):
        get_emodulus(deform=0.05, area_um=100.0, lut_data=synthetic_lut_file,
                     medium="honey", temperature=23.0, visc_model="herold-2017")


def test_shape_mismatch(synthetic_lut_file):
    with pytest.raises(ValueError, match="shape"):
        get_emodulus(deform=np.ones(3) * 0.05, area_um=np.ones(4) * 100,
                     lut_data=synthetic_lut_file, **_GOOD)


# -------------------------------------------------------- synthetic LUTs
def test_synthetic_area_lut_and_tuple(synthetic_lut_file, helpers,
                                      no_exceeded_warning):
    lut, meta = load_lut(synthetic_lut_file)
    area, deform = inside_points(lut, 300, seed=8)
    expected = helpers.linear(area, deform)
    for lut_data in (synthetic_lut_file, (lut, meta)):
        emod = get_emodulus(deform=deform, area_um=area, lut_data=lut_data,
                            **at_lut_conditions(meta))
        np.testing.assert_allclose(emod, expected, rtol=1e-12)


def test_per_event_viscosity(synthetic_lut_file, helpers, no_exceeded_warning):
    area = np.array([50.0, 100.0, 200.0])
    deform = np.array([0.05, 0.1, 0.15])
    visc = np.array([15.0, 7.5, 30.0])
    emod = get_emodulus(deform=deform, area_um=area, medium=visc,
                        channel_width=20.0, flow_rate=0.04, px_um=0,
                        temperature=None, visc_model=None,
                        lut_data=synthetic_lut_file)
    np.testing.assert_allclose(emod, helpers.linear(area, deform) * visc / 15.0,
                               rtol=1e-12)


@pytest.fixture
def volume_lut(tmp_path, helpers):
    data = helpers.synthetic(size_max=3000.0, seed=7)
    meta = dict(helpers.meta, identifier="test-synthetic-volume")
    path = helpers.write_lut(tmp_path / "lut_volume.txt", data, meta,
                             header="volume [um^3]\tdeform\temodulus [kPa]")
    return register_lut(path), data


def test_volume_lut(volume_lut, helpers, no_exceeded_warning):
    identifier, data = volume_lut
    volume, deform = inside_points(data, 200, seed=9)
    kw = dict(medium=15.0, flow_rate=0.04, temperature=None, visc_model=None,
              px_um=0, lut_data=identifier)
    emod = get_emodulus(deform=deform, volume=volume, channel_width=20.0, **kw)
    expected = helpers.linear(volume, deform)
    np.testing.assert_allclose(emod, expected, rtol=1e-12)
    # channel 30 um: volumes scale with (30/20)^3, moduli with (20/30)^3
    emod30 = get_emodulus(deform=deform, volume=volume * (30.0 / 20.0) ** 3,
                          channel_width=30.0, **kw)
    np.testing.assert_allclose(emod30, expected * (20.0 / 30.0) ** 3, rtol=1e-12)
    # area_um is not what this LUT is based on
    with pytest.raises(ValueError, match="volume"):
        get_emodulus(deform=deform, area_um=volume, channel_width=20.0, **kw)


def test_volume_lut_pixelation(volume_lut, no_exceeded_warning):
    identifier, data = volume_lut
    volume, deform = inside_points(data, 200, seed=10, margin=0.1)
    measured = deform + delta_volume(volume, 0.34)
    kw = dict(volume=volume, medium=15.0, channel_width=20.0, flow_rate=0.04,
              temperature=None, visc_model=None, lut_data=identifier)
    np.testing.assert_allclose(
        get_emodulus(deform=measured, px_um=0.34, **kw),
        get_emodulus(deform=measured - delta_volume(volume, 0.34), px_um=0, **kw),
        rtol=1e-12)


def test_scalar_inputs(synthetic_lut_file, helpers, no_exceeded_warning):
    kw = dict(lut_data=synthetic_lut_file, medium=15.0, channel_width=20.0,
              flow_rate=0.04, temperature=None, visc_model=None, px_um=0.34)
    scalar = get_emodulus(deform=0.1, area_um=120.0, **kw)
    assert np.ndim(scalar) == 0
    array = get_emodulus(deform=np.array([0.1]), area_um=np.array([120.0]), **kw)
    assert float(scalar) == array[0]
    expected = helpers.linear(120.0, 0.1 - delta_area_um(120.0, 0.34))
    assert float(scalar) == pytest.approx(expected, rel=1e-12)
    # 2-D inputs keep their shape
    grid = get_emodulus(deform=np.full((2, 3), 0.1), area_um=np.full((2, 3), 120.0),
                        **kw)
    assert grid.shape == (2, 3)
    np.testing.assert_array_equal(grid, float(scalar))


def test_docstring_example_tuple():
    lut = np.array([[20., 0.00, 1.], [200., 0.00, 1.], [20., 0.2, 3.],
                    [200., 0.2, 3.]])
    meta = {"column features": ["area_um", "deform", "emodulus"],
            "channel_width": 20.0, "flow_rate": 0.04, "fluid_viscosity": 15.0}
    emod = get_emodulus(deform=np.array([0.1]), area_um=np.array([100.0]),
                        medium=15.0, channel_width=20.0, flow_rate=0.04, px_um=0,
                        temperature=None, visc_model=None, lut_data=(lut, meta))
    np.testing.assert_allclose(emod, [2.0], rtol=1e-14)


# ---------------------------------------------------- documented example
def test_documented_isoelastics_example(lut_cache):
    """The dclab docs example 'isoelastics_custom.py': a 250 x 250 grid of
    area_um 0..350 and deform 0..0.2 through LE-2D-FEM-19 and HE-3D-FEM-22
    (medium 6.0, 20 um, 0.04 uL/s, no pixelation correction), then contour
    lines of constant modulus."""
    grid_size = 250
    area_um = np.linspace(0, 350, grid_size, endpoint=True)
    deform = np.linspace(0, 0.2, grid_size, endpoint=True)
    area_grid, deform_grid = np.meshgrid(area_um, deform, indexing="ij")
    for lut_name in ["LE-2D-FEM-19", "HE-3D-FEM-22"]:
        with pytest.warns(YoungsModulusLookupTableExceededWarning):
            emod = emodulus.get_emodulus(area_um=area_grid, deform=deform_grid,
                                         medium=6.0, channel_width=20,
                                         flow_rate=0.04, px_um=0,
                                         temperature=None, visc_model=None,
                                         lut_data=lut_name)
        assert emod.shape == (grid_size, grid_size)
        lut, meta = load_lut(lut_name)
        expected = by_hand(lut, area_grid.ravel(), deform_grid.ravel()).reshape(
            emod.shape) * 6.0 / meta["fluid_viscosity"]
        np.testing.assert_allclose(emod, expected, rtol=1e-10)
        assert 0.2 < np.mean(np.isfinite(emod)) < 0.95
        skimage = pytest.importorskip("skimage")
        for level in [0.5, 1.0, 2.0]:
            contours = skimage.measure.find_contours(emod, level=level)
            assert contours, (lut_name, level)
            longest = max(contours, key=len)
            assert len(longest) > 20
