"""LUT text format, loading and registry (DC-EMOD-02, DC-EMOD-03)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cytolab.features import emodulus
from cytolab.features.emodulus import load
from cytolab.features.emodulus.load import (
    EXTERNAL_LUTS,
    get_internal_lut_names_dict,
    get_lut_path,
    load_lut,
    load_mtext,
    register_lut,
)

INTERNAL = {
    # identifier: (rows, fluid_viscosity) of the reference files
    "LE-2D-FEM-19": (13038, 15.0),
    "HE-2D-FEM-22": (16394, 6.0),
    "HE-3D-FEM-22": (1241, 6.0),
}


# ---------------------------------------------------------------- load_mtext
def test_load_mtext_synthetic(synthetic_lut_file, helpers):
    data, meta = load_mtext(synthetic_lut_file)
    np.testing.assert_array_equal(data, helpers.synthetic())
    for key, value in helpers.meta.items():
        assert meta[key] == value
    assert meta["column features"] == ["area_um", "deform", "emodulus"]
    assert meta["column units"] == ["um^2", "", "kPa"]


def test_load_mtext_header_separated_by_double_spaces(tmp_path, helpers):
    # the header as written in FACTS.md: columns separated by two spaces
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), helpers.meta,
                             header="volume [um^3]  deform  emodulus [kPa]")
    _, meta = load_mtext(path)
    assert meta["column features"] == ["volume", "deform", "emodulus"]
    assert meta["column units"] == ["um^3", "", "kPa"]


def test_load_mtext_accepts_str_path(synthetic_lut_file):
    data, _ = load_mtext(str(synthetic_lut_file))
    assert data.shape == (64, 3)


@pytest.mark.parametrize("identifier", sorted(INTERNAL))
def test_load_mtext_real_files(emod_data_dir, identifier):
    data, meta = load_mtext(emod_data_dir / f"lut_{identifier}.txt")
    rows, visc = INTERNAL[identifier]
    assert data.shape == (rows, 3)
    assert meta["identifier"] == identifier
    assert meta["channel_width"] == 20.0
    assert meta["flow_rate"] == 0.04
    assert meta["fluid_viscosity"] == visc
    assert meta["column features"] == ["area_um", "deform", "emodulus"]
    assert meta["column units"] == ["um^2", "", "kPa"]
    assert np.all(np.isfinite(data))


def test_load_mtext_real_isoelastics(emod_data_dir):
    # isoelasticity lines use the same format (first column may be volume)
    for path in sorted(emod_data_dir.glob("iso_*.txt")):
        data, meta = load_mtext(path)
        feature = "volume" if "-volume-" in path.name else "area_um"
        assert meta["column features"] == [feature, "deform", "emodulus"], path
        assert data.shape[1] == 3


def test_load_mtext_no_metadata(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), None)
    with pytest.raises(ValueError, match="metadata"):
        load_mtext(path)


def test_load_mtext_only_begin_marker(tmp_path, helpers):
    path = tmp_path / "a.txt"
    path.write_text("# BEGIN METADATA\n# {}\n# area_um [um^2]\tdeform\temodulus [kPa]\n"
                    "1 2 3\n")
    with pytest.raises(ValueError, match="metadata"):
        load_mtext(path)


def test_load_mtext_broken_json(tmp_path, helpers):
    path = tmp_path / "a.txt"
    path.write_text("# BEGIN METADATA\n# {\"identifier\": \"x\",\n# END METADATA\n"
                    "# area_um [um^2]\tdeform\temodulus [kPa]\n1 2 3\n")
    with pytest.raises(ValueError, match="JSON"):
        load_mtext(path)


def test_load_mtext_json_not_an_object(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("# BEGIN METADATA\n# [1, 2]\n# END METADATA\n"
                    "# area_um [um^2]\tdeform\temodulus [kPa]\n1 2 3\n")
    with pytest.raises(ValueError, match="not a JSON object"):
        load_mtext(path)


def test_load_mtext_missing_header(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), helpers.meta,
                             header=None)
    with pytest.raises(ValueError, match="header"):
        load_mtext(path)


def test_load_mtext_wrong_column_count(tmp_path, helpers):
    data = np.column_stack([helpers.synthetic(), np.ones(64)])
    path = helpers.write_lut(tmp_path / "a.txt", data, helpers.meta)
    with pytest.raises(ValueError, match="4 data columns but its header names 3"):
        load_mtext(path)


def test_load_mtext_keeps_nan(tmp_path, helpers):
    # load_mtext reads what is there; load_lut rejects it (next tests)
    data = helpers.synthetic()
    data[5, 2] = np.nan
    path = helpers.write_lut(tmp_path / "a.txt", data, helpers.meta)
    loaded, _ = load_mtext(path)
    assert np.isnan(loaded[5, 2])


# ------------------------------------------------------------------ load_lut
@pytest.mark.parametrize("key", ["channel_width", "flow_rate", "fluid_viscosity"])
def test_load_lut_missing_condition(tmp_path, helpers, key):
    meta = helpers.meta
    del meta[key]
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), meta)
    with pytest.raises(ValueError, match=key):
        load_lut(path)


def test_load_lut_condition_not_a_number(tmp_path, helpers):
    meta = helpers.meta
    meta["flow_rate"] = "0.04"
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), meta)
    with pytest.raises(ValueError, match="flow_rate"):
        load_lut(path)


@pytest.mark.parametrize("key", ["channel_width", "flow_rate", "fluid_viscosity"])
@pytest.mark.parametrize("bad", [True, 0, -20.0])
def test_load_lut_invalid_condition_value(tmp_path, helpers, key, bad):
    meta = helpers.meta
    meta[key] = bad
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), meta)
    with pytest.raises(ValueError, match=key):
        load_lut(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_load_lut_nan_in_data(tmp_path, helpers, bad):
    data = helpers.synthetic()
    data[7, 1] = bad
    path = helpers.write_lut(tmp_path / "a.txt", data, helpers.meta)
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_lut(path)


def test_load_lut_four_columns(tmp_path, helpers):
    data = np.column_stack([helpers.synthetic(), np.ones(64)])
    path = helpers.write_lut(tmp_path / "a.txt", data, helpers.meta,
                             header="area_um [um^2]\tdeform\temodulus [kPa]\tfoo")
    with pytest.raises(ValueError, match="three columns"):
        load_lut(path)


def test_load_lut_wrong_column_names(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), helpers.meta,
                             header="area_um [um^2]\tcirc\temodulus [kPa]")
    with pytest.raises(ValueError, match="columns"):
        load_lut(path)


def test_load_lut_without_metadata_file(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), None)
    with pytest.raises(ValueError, match="metadata"):
        load_lut(path)


@pytest.mark.parametrize("identifier", sorted(INTERNAL))
def test_load_lut_internal(lut_cache, identifier):
    lut, meta = load_lut(identifier)
    ref, ref_meta = load_mtext(lut_cache / f"lut_{identifier}.txt")
    np.testing.assert_array_equal(lut, ref)
    assert meta == ref_meta


def test_load_lut_default_is_le_2d_fem_19(lut_cache):
    lut, meta = load_lut()
    assert meta["identifier"] == "LE-2D-FEM-19"
    assert lut.shape == (13038, 3)


def test_load_lut_path_and_str_path(synthetic_lut_file, helpers):
    for arg in (synthetic_lut_file, str(synthetic_lut_file)):
        lut, meta = load_lut(arg)
        np.testing.assert_array_equal(lut, helpers.synthetic())
        assert meta["identifier"] == "test-synthetic-area"


def test_load_lut_tuple_passes_through(helpers):
    lut = helpers.synthetic()
    meta = dict(helpers.meta, **{"column features": ["area_um", "deform", "emodulus"]})
    lut2, meta2 = load_lut((lut, meta))
    np.testing.assert_array_equal(lut2, lut)
    assert meta2 == meta


def test_load_lut_tuple_is_checked(helpers):
    lut = helpers.synthetic()
    with pytest.raises(ValueError, match="columns"):
        load_lut((lut, helpers.meta))  # no "column features"
    meta = dict(helpers.meta, **{"column features": ["area_um", "deform", "emodulus"]})
    with pytest.raises(ValueError, match="three columns"):
        load_lut((lut[:, :2], meta))


def test_load_lut_returns_copies(synthetic_lut_file):
    lut, meta = load_lut(synthetic_lut_file)
    expected = lut.copy()
    assert lut.flags.writeable
    lut *= 2.0
    meta["channel_width"] = 99.0
    meta["new key"] = 1
    lut2, meta2 = load_lut(synthetic_lut_file)
    np.testing.assert_array_equal(lut2, expected)
    assert meta2["channel_width"] == 20.0
    assert "new key" not in meta2
    assert not np.shares_memory(lut, lut2)


def test_load_lut_internal_returns_copies(lut_cache):
    lut, _ = load_lut("HE-3D-FEM-22")
    expected = lut.copy()
    lut[:] = 0.0
    np.testing.assert_array_equal(load_lut("HE-3D-FEM-22")[0], expected)


def test_load_lut_metadata_lists_are_copies(synthetic_lut_file):
    _, meta = load_lut(synthetic_lut_file)
    meta["column features"][0] = "volume"
    meta["column units"].append("junk")
    _, meta2 = load_lut(synthetic_lut_file)
    assert meta2["column features"] == ["area_um", "deform", "emodulus"]
    assert meta2["column units"] == ["um^2", "", "kPa"]


def test_load_lut_sees_rewritten_file(tmp_path, helpers):
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), helpers.meta)
    load_lut(path)
    data = helpers.synthetic()
    data[:, 2] *= 2
    helpers.write_lut(path, data, helpers.meta)
    np.testing.assert_array_equal(load_lut(path)[0], data)


# ------------------------------------------------------------ lut paths, ids
def test_get_internal_lut_names_dict():
    names = get_internal_lut_names_dict()
    assert names == {key: f"lut_{key}.txt" for key in INTERNAL}
    names["foo"] = "bar"  # a copy
    assert "foo" not in get_internal_lut_names_dict()


def test_get_lut_path_existing_file_first(synthetic_lut_file):
    assert get_lut_path(synthetic_lut_file) == synthetic_lut_file
    assert get_lut_path(str(synthetic_lut_file)) == synthetic_lut_file


def test_get_lut_path_internal(lut_cache):
    assert get_lut_path("HE-2D-FEM-22") == lut_cache / "lut_HE-2D-FEM-22.txt"


def test_get_lut_path_internal_offline_without_cache():
    # the autouse fixture left an empty cache and a dead download URL
    from cytolab.features.emodulus.datafiles import DataFileUnavailableError
    with pytest.raises(DataFileUnavailableError, match="cytolab data fetch"):
        get_lut_path("LE-2D-FEM-19")


def test_unknown_identifier_lists_known(synthetic_lut_file):
    register_lut(synthetic_lut_file)
    with pytest.raises(ValueError) as info:
        load_lut("no-such-LUT")
    message = str(info.value)
    assert "no-such-LUT" in message
    for identifier in [*INTERNAL, "test-synthetic-area"]:
        assert identifier in message
    with pytest.raises(ValueError, match="no-such-LUT"):
        get_lut_path("no-such-LUT")


# ------------------------------------------------------------- register_lut
def test_register_lut_identifier_from_metadata(synthetic_lut_file, helpers):
    assert register_lut(synthetic_lut_file) == "test-synthetic-area"
    assert EXTERNAL_LUTS["test-synthetic-area"] == synthetic_lut_file.resolve()
    assert get_lut_path("test-synthetic-area") == synthetic_lut_file.resolve()
    lut, meta = load_lut("test-synthetic-area")
    np.testing.assert_array_equal(lut, helpers.synthetic())
    # also exposed at package level, and the same registry
    assert emodulus.register_lut is register_lut
    assert emodulus.EXTERNAL_LUTS is load.EXTERNAL_LUTS


def test_register_lut_explicit_identifier(synthetic_lut_file):
    assert register_lut(synthetic_lut_file, identifier="mine") == "mine"
    assert "mine" in EXTERNAL_LUTS
    assert "test-synthetic-area" not in EXTERNAL_LUTS
    assert load_lut("mine")[1]["identifier"] == "test-synthetic-area"


def test_register_lut_cleanup_fixture_works():
    # the previous tests registered LUTs; the autouse fixture removed them
    assert "mine" not in EXTERNAL_LUTS
    assert "test-synthetic-area" not in EXTERNAL_LUTS


def test_register_lut_duplicate(synthetic_lut_file, tmp_path, helpers):
    register_lut(synthetic_lut_file)
    other = helpers.write_lut(tmp_path / "other.txt", helpers.synthetic(),
                              helpers.meta)
    with pytest.raises(ValueError, match="already"):
        register_lut(other)
    with pytest.raises(ValueError, match="already"):
        register_lut(synthetic_lut_file)
    # the first registration is kept
    assert EXTERNAL_LUTS["test-synthetic-area"] == synthetic_lut_file.resolve()


@pytest.mark.parametrize("identifier", sorted(INTERNAL))
def test_register_lut_internal_identifier_taken(synthetic_lut_file, identifier):
    with pytest.raises(ValueError, match="already"):
        register_lut(synthetic_lut_file, identifier=identifier)


def test_register_lut_without_identifier(tmp_path, helpers):
    meta = helpers.meta
    del meta["identifier"]
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), meta)
    with pytest.raises(ValueError, match="identifier"):
        register_lut(path)
    assert register_lut(path, "given") == "given"


def test_register_lut_invalid_file(tmp_path, helpers):
    meta = helpers.meta
    del meta["fluid_viscosity"]
    path = helpers.write_lut(tmp_path / "a.txt", helpers.synthetic(), meta)
    with pytest.raises(ValueError, match="fluid_viscosity"):
        register_lut(path)
    assert "test-synthetic-area" not in EXTERNAL_LUTS


def test_registered_lut_in_get_emodulus(synthetic_lut_file, helpers):
    identifier = register_lut(synthetic_lut_file)
    deform = np.array([0.05, 0.1, 0.15])
    area = np.array([50.0, 120.0, 250.0])
    emod = emodulus.get_emodulus(deform=deform, area_um=area, medium=15.0,
                                 channel_width=20.0, flow_rate=0.04, px_um=0,
                                 temperature=None, visc_model=None,
                                 lut_data=identifier)
    np.testing.assert_allclose(emod, helpers.linear(area, deform), rtol=1e-12)


def test_metadata_json_roundtrip_of_real_file(emod_data_dir):
    # every key the spec lists survives parsing with its JSON type
    _, meta = load_mtext(emod_data_dir / "lut_LE-2D-FEM-19.txt")
    for key in ("authors", "channel_width_unit", "date", "dimensionality",
                "flow_rate_unit", "fluid_viscosity_unit", "method", "model",
                "publication", "software", "summary"):
        assert isinstance(meta[key], str), key
    json.dumps({k: v for k, v in meta.items()})
