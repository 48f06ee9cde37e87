"""Tests for cytolab.definitions.metadata and cytolab.definitions.meta_parse."""
import numbers

import numpy as np
import pytest

from cytolab import definitions as dfn
from cytolab.definitions import meta_parse as mp

# --- parsers -----------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (5, 5), (np.int32(5), 5), (np.int64(-3), -3), (np.uint8(7), 7),
    (250.0, 250), (np.float64(234.0), 234), ("5", 5), (" 5 ", 5), ("5.0", 5),
    (b"12", 12), (np.bytes_(b"12"), 12), ("1e3", 1000), (True, 1),
    (np.array([4], dtype=np.float32), 4), (np.array(6), 6),
])
def test_fint_good(value, expected):
    result = mp.fint(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [
    5.5, "5.5", "five", "", None, [1, 2], np.array([1, 2]), float("nan"),
    "inf", b"\xff\xfe",
])
def test_fint_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.fint(value)


def test_fint_error_names_value():
    with pytest.raises(ValueError, match="'banana'"):
        mp.fint("banana")


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (np.True_, True), (np.False_, False),
    ("True", True), ("false", False), ("FALSE", False), (" yes ", True),
    ("0", False), ("1", True), (b"true", True), (np.bytes_(b"False"), False),
    (1, True), (0, False), (np.int64(1), True), (1.0, True),
    (np.array([True]), True),
])
def test_fbool_good(value, expected):
    result = mp.fbool(value)
    assert result is expected


@pytest.mark.parametrize("value", ["maybe", 2, -1, 0.5, "", None, [True]])
def test_fbool_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.fbool(value)


@pytest.mark.parametrize("value, expected", [
    (True, True), (np.False_, False), ("true", True), ("False", False),
    (b"TRUE", True), (2.5, 2.5), ("2.5", 2.5), (np.float32(0.5), 0.5), (3, 3.0),
    (b"1.25", 1.25),
])
def test_fboolorfloat_good(value, expected):
    result = mp.fboolorfloat(value)
    assert result == expected
    assert type(result) is type(expected) or (
        isinstance(expected, float) and type(result) is float)


@pytest.mark.parametrize("value", ["yes please", None, [1.0], "1.0.0"])
def test_fboolorfloat_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.fboolorfloat(value)


@pytest.mark.parametrize("value, expected", [
    ([1, 2], [1, 2]), ((3,), [3]), (np.array([4, 5]), [4, 5]), ("[1, 2]", [1, 2]),
    ("1,2", [1, 2]), ("[]", []), (b"[7]", [7]), ([1.0, np.int8(2)], [1, 2]),
    (np.int64(3), [3]), ("(1 2 3)", [1, 2, 3]), ([], []),
])
def test_fintlist_good(value, expected):
    result = mp.fintlist(value)
    assert result == expected
    assert type(result) is list
    assert all(type(v) is int for v in result)


@pytest.mark.parametrize("value", [[1.5], "[a, b]", None, 2.5, {"a": 1},
                                   np.zeros((2, 2))])
def test_fintlist_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.fintlist(value)


@pytest.mark.parametrize("value, expected", [
    ((0.1, 0.2), (0.1, 0.2)), ([1, 2], (1.0, 2.0)),
    (np.array([0.5, -3.0], dtype=np.float32), (0.5, -3.0)),
    ("(0.1, 0.2)", (0.1, 0.2)), ("[0.1, 0.2]", (0.1, 0.2)), ("0.1 0.2", (0.1, 0.2)),
    (b"[-10, 10]", (-10.0, 10.0)),
])
def test_f1dfloatduple_good(value, expected):
    result = mp.f1dfloatduple(value)
    assert isinstance(result, tuple)
    assert all(type(v) is float for v in result)
    assert np.allclose(result, expected)


@pytest.mark.parametrize("value", [(1, 2, 3), [1], "1", "(a, b)", None, 5.0])
def test_f1dfloatduple_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.f1dfloatduple(value)


@pytest.mark.parametrize("value", [
    [[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]],
    np.array([[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]], dtype=np.float32),
    "[[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]]",
    "[[0.1 0.2]\n [0.1 2.5]\n [3.3 3.2]]",
    b"[[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]]",
    "((0.1, 0.2), (0.1, 2.5), (3.3, 3.2))",
])
def test_f2dfloatarray_good(value):
    result = mp.f2dfloatarray(value)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    assert result.shape == (3, 2)
    assert np.allclose(result, [[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]], atol=1e-6)


@pytest.mark.parametrize("value", [
    [1, 2], "[[1, 2], [3]]", "hello", "[[a, b]]", None, 1.0, [], [[]],
])
def test_f2dfloatarray_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.f2dfloatarray(value)


@pytest.mark.parametrize("value, expected", [
    ("Channel", "channel"), (b"RESERVOIR", "reservoir"),
    (np.bytes_(b"Abc-12"), "abc-12"), (np.str_("XyZ"), "xyz"),
])
def test_lcstr_good(value, expected):
    result = mp.lcstr(value)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize("value", [12, None, [b"a"], 1.5])
def test_lcstr_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.lcstr(value)


@pytest.mark.parametrize("value, expected", [
    ("2017-07-16", "2017-07-16"), (b"10:37:15", "10:37:15"),
    (np.bytes_(b"LED (ZMD L1)"), "LED (ZMD L1)"), (np.str_("x"), "x"),
    (np.array(b"abc"), "abc"), ("µm ä", "µm ä"), ("µm".encode(), "µm"),
])
def test_fstr_good(value, expected):
    result = mp.fstr(value)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize("value", [1, 2.5, None, [1], b"\xff"])
def test_fstr_bad(value):
    with pytest.raises(ValueError):
        mp.fstr(value)


@pytest.mark.parametrize("value, expected", [
    (0.34, 0.34), (np.float32(0.5), 0.5), (np.int64(20), 20.0), ("0.25", 0.25),
    (b"1.5", 1.5), (np.array([2.0], dtype=np.float32), 2.0), (3, 3.0),
])
def test_ffloat_good(value, expected):
    result = mp.ffloat(value)
    assert result == expected
    assert type(result) is float


def test_ffloat_nan():
    assert np.isnan(mp.ffloat("nan"))


@pytest.mark.parametrize("value", ["abc", None, [1.0, 2.0], 1j, np.zeros(3)])
def test_ffloat_bad(value):
    with pytest.raises(ValueError, match="Cannot convert"):
        mp.ffloat(value)


def test_fuser_and_passthrough():
    assert mp.fuser(b"abc") == "abc"
    assert mp.fuser(np.bytes_(b"abc")) == "abc"
    obj = [1, 2]
    assert mp.fuser(obj) is obj
    assert mp.fuser(np.int64(4)) == 4
    assert mp.fpassthrough(b"abc") == b"abc"


def test_func_types():
    ft = mp.func_types
    assert ft[float] is numbers.Number
    assert ft[mp.fint] is numbers.Integral
    assert ft[mp.fintlist] is list
    assert ft[mp.lcstr] is str
    assert ft[mp.fstr] is str
    assert ft[str] is str
    assert set(ft[mp.fbool]) == {bool, np.bool_}
    assert set(ft[mp.fboolorfloat]) == {bool, np.bool_, float}
    assert set(ft[mp.f1dfloatduple]) == {tuple, np.ndarray}
    assert ft[mp.f2dfloatarray] is np.ndarray


# --- metadata tables ------------------------------------------------------------


def test_sections():
    assert set(dfn.CFG_ANALYSIS) == {"calculation", "filtering"}
    assert set(dfn.CFG_METADATA) == {
        "experiment", "fluorescence", "fmt_tdms", "imaging", "online_contour",
        "online_filter", "pipeline", "qpi", "setup"}
    assert set(dfn.config_keys) == set(dfn.CFG_ANALYSIS) | set(dfn.CFG_METADATA)
    assert "user" in dfn.CFG_SECTIONS
    assert dfn.section_exists("user")
    assert dfn.section_exists("imaging")
    assert not dfn.section_exists("peter")
    assert dfn.meta_const.CFG_METADATA is dfn.CFG_METADATA
    for section, keys in dfn.config_keys.items():
        assert len(keys) == len(set(keys)), section


def test_pipeline_keys_are_dcnum():
    assert dfn.config_keys["pipeline"] == [
        "dcnum background", "dcnum data", "dcnum feature", "dcnum gate",
        "dcnum generation", "dcnum hash", "dcnum mapping", "dcnum segmenter",
        "dcnum yield"]


@pytest.mark.parametrize("section, key, func", [
    ("experiment", "date", mp.fstr),
    ("experiment", "event count", mp.fint),
    ("experiment", "run index", mp.fint),
    ("fluorescence", "baseline 2 offset", mp.fint),
    ("fluorescence", "laser 3 lambda", mp.ffloat),
    ("fluorescence", "sample rate", mp.fint),
    ("fluorescence", "trace median", mp.fint),
    ("fmt_tdms", "video frame offset", mp.fint),
    ("imaging", "pixel size", mp.ffloat),
    ("imaging", "roi size y", mp.fint),
    ("imaging", "flash device", mp.fstr),
    ("online_contour", "bg empty", mp.fbool),
    ("online_contour", "no absdiff", mp.fbool),
    ("online_contour", "bin threshold", mp.fint),
    ("online_filter", "target duration", mp.ffloat),
    ("online_filter", "target event count", mp.fint),
    ("pipeline", "dcnum yield", mp.fint),
    ("pipeline", "dcnum hash", mp.fstr),
    ("qpi", "focus interval", mp.f1dfloatduple),
    ("qpi", "sideband freq", mp.f1dfloatduple),
    ("qpi", "scale to filter", mp.fboolorfloat),
    ("qpi", "invert phase", mp.fbool),
    ("qpi", "padding", mp.fint),
    ("qpi", "wavelength", mp.ffloat),
    ("setup", "chip region", mp.lcstr),
    ("setup", "chip identifier", mp.lcstr),
    ("setup", "channel width", mp.ffloat),
    ("setup", "medium", mp.fstr),
    ("calculation", "crosstalk fl21", mp.ffloat),
    ("calculation", "emodulus lut", mp.fstr),
    ("calculation", "emodulus viscosity", mp.ffloat),
    ("filtering", "enable filters", mp.fbool),
    ("filtering", "limit events", mp.fint),
    ("filtering", "polygon filters", mp.fintlist),
    ("filtering", "hierarchy parent", mp.fstr),
    ("filtering", "remove invalid events", mp.fbool),
])
def test_key_parsers(section, key, func):
    assert dfn.config_key_exists(section, key)
    assert dfn.get_config_value_func(section, key) is func
    assert dfn.get_config_value_type(section, key) == mp.func_types[func]


def test_every_key_has_parser_with_type_and_description():
    for section, keys in dfn.config_keys.items():
        for key in keys:
            func = dfn.get_config_value_func(section, key)
            assert func in mp.func_types, (section, key)
            assert dfn.get_config_value_descr(section, key) != key
            assert isinstance(dfn.get_config_value_unit(section, key), str)


def test_descr_and_units():
    assert dfn.get_config_value_unit("imaging", "pixel size") == "µm"
    assert dfn.get_config_value_unit("setup", "flow rate") == "µL/s"
    assert dfn.get_config_value_unit("calculation", "emodulus viscosity") == "mPa·s"
    assert dfn.get_config_value_unit("experiment", "sample") == ""
    assert dfn.get_config_value_descr("imaging", "pixel size").endswith("[µm]")
    assert dfn.get_config_value_descr("imaging", "peter") == "peter"
    assert dfn.get_config_value_unit("imaging", "peter") == ""
    assert "Area" in dfn.get_config_value_descr("filtering", "area_um min")


def test_unknown_keys():
    assert not dfn.config_key_exists("imaging", "exposure time")
    assert not dfn.config_key_exists("peter", "pan")
    assert dfn.get_config_value_type("imaging", "exposure time") is None
    func = dfn.get_config_value_func("imaging", "exposure time")
    obj = object()
    assert func(obj) is obj


def test_user_section():
    assert dfn.config_key_exists("user", "any key at all")
    assert dfn.get_config_value_type("user", "x") is None
    assert dfn.get_config_value_func("user", "x")(b"abc") == "abc"


@pytest.mark.parametrize("key, exists", [
    ("deform min", True), ("deform max", True), ("area_um max", True),
    ("ml_score_abc min", True), ("index max", True),
    ("image min", False), ("peter min", False), ("deform", False),
    ("deform avg", False), ("deform,area_um polygon points", False),
])
def test_filtering_dynamic_keys(key, exists):
    assert dfn.config_key_exists("filtering", key) is exists
    if exists:
        assert dfn.get_config_value_func("filtering", key) is mp.ffloat


def test_filtering_registered_feature():
    assert not dfn.config_key_exists("filtering", "fancy_feat min")
    dfn.register_feature("fancy_feat", "Fancy [a.u.]")
    try:
        assert dfn.config_key_exists("filtering", "fancy_feat min")
        assert dfn.config_key_exists("filtering", "fancy_feat max")
        assert dfn.get_config_value_func("filtering", "fancy_feat max") is mp.ffloat
    finally:
        dfn.unregister_feature("fancy_feat")
    assert not dfn.config_key_exists("filtering", "fancy_feat min")


@pytest.mark.parametrize("key, func", [
    ("area_um min", mp.ffloat), ("size_x max", mp.ffloat),
    ("area_ratio soft limit", mp.fbool),
    ("size_x,size_y polygon points", mp.f2dfloatarray),
    ("size_x,size_y soft limit", mp.fbool),
    ("area_um,deform polygon points", mp.f2dfloatarray),
])
def test_online_filter_dynamic_keys(key, func):
    assert dfn.config_key_exists("online_filter", key)
    assert dfn.get_config_value_func("online_filter", key) is func


@pytest.mark.parametrize("key", [
    "peter min", "size_x polygon points", "size_x,peter polygon points",
    "a,b,c soft limit", "size_x,size_y min", "size_x mean",
])
def test_online_filter_invalid_keys(key):
    assert not dfn.config_key_exists("online_filter", key)


def test_definitions_imports_no_other_cytolab_package():
    import ast
    import pathlib

    pkg = pathlib.Path(dfn.__file__).parent
    for path in pkg.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, path
                assert not (node.module or "").startswith("cytolab"), path
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("cytolab"), path
