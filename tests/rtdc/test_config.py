"""Tests for cytolab.rtdc.config (Configuration, ConfigurationDict, text I/O)."""
import glob
import json
import pathlib
import pickle
import warnings

import numpy as np
import pytest

from cytolab import definitions as dfn
from cytolab.errors import FileFormatError, UnknownConfigurationKeyWarning
from cytolab.rtdc.config import (
    Configuration,
    ConfigurationDict,
    InvalidConfigurationValueWarning,
    load_from_file,
)

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"
REAL_FILES = sorted(glob.glob("/tmp/rd/*/*.rtdc")
                    + glob.glob(str(SHARED / "data" / "rtdc" / "*.rtdc")))

FILTERING_DEFAULTS = {
    "remove invalid events": False,
    "enable filters": True,
    "limit events": 0,
    "polygon filters": [],
    "hierarchy parent": "none",
}


def example_cfg():
    return {
        "experiment": {"date": b"2020-10-23", "event count": np.int64(47),
                       "sample": "my sample", "time": np.bytes_(b"10:37:15")},
        "imaging": {"pixel size": np.float32(0.34), "roi size x": 250.0,
                    "roi size y": np.int32(80), "flash device": "LED"},
        "setup": {"chip region": "Channel", "flow rate": 0.06,
                  "channel width": np.int64(20)},
        "online_contour": {"bg empty": np.True_, "bin threshold": np.int64(-6)},
        "online_filter": {
            "size_x,size_y polygon points": np.array(
                [[0.1, 0.2], [0.1, 2.5], [3.3, 3.2]], dtype=np.float32),
            "area_um min": np.float64(20.0),
            "area_um soft limit": np.False_},
        "qpi": {"focus interval": np.array([-10.0, 10.0]),
                "scale to filter": np.float64(0.5), "invert phase": "false"},
        "user": {"inlet": True, "n_channels": 4, "name": b"strangelove",
                 "ratio": 0.25, "tags": [1, 2]},
    }


# --- defaults and basic access --------------------------------------------


def test_defaults():
    cfg = Configuration()
    assert cfg["filtering"] == FILTERING_DEFAULTS
    assert dict(cfg["calculation"]) == {
        f"crosstalk fl{ab}": 0.0 for ab in ("12", "13", "21", "23", "31", "32")}
    assert "emodulus lut" not in cfg["calculation"]
    assert set(cfg.keys()) == {"filtering", "calculation"}


def test_conversion_on_construction():
    with pytest.warns(UnknownConfigurationKeyWarning) as rec:
        # the only unknown key is imaging:exposure time
        cfg = Configuration(cfg={"imaging": {"exposure time": 20.0,
                                             "roi size x": b"250"}})
    assert len(rec) == 1
    assert "imaging:exposure time" in str(rec[0].message)
    assert cfg["imaging"]["roi size x"] == 250
    assert cfg["imaging"]["exposure time"] == 20.0  # kept despite being unknown

    cfg = Configuration(cfg=example_cfg())
    assert cfg["experiment"]["date"] == "2020-10-23"
    assert cfg["experiment"]["time"] == "10:37:15"
    assert type(cfg["experiment"]["event count"]) is int
    assert type(cfg["imaging"]["pixel size"]) is float
    assert cfg["imaging"]["roi size x"] == 250
    assert type(cfg["imaging"]["roi size x"]) is int
    assert cfg["setup"]["chip region"] == "channel"
    assert type(cfg["setup"]["channel width"]) is float
    assert cfg["online_contour"]["bg empty"] is True
    assert cfg["qpi"]["focus interval"] == (-10.0, 10.0)
    assert cfg["qpi"]["invert phase"] is False
    pts = cfg["online_filter"]["size_x,size_y polygon points"]
    assert pts.dtype == np.float64 and pts.shape == (3, 2)
    assert cfg["user"]["name"] == "strangelove"


def test_missing_section_created_on_access():
    cfg = Configuration()
    assert "fluorescence" not in cfg
    sec = cfg["fluorescence"]
    assert isinstance(sec, ConfigurationDict)
    assert len(sec) == 0
    assert "fluorescence" not in cfg  # empty sections count as absent
    sec["laser count"] = "2"
    assert "fluorescence" in cfg
    assert cfg["fluorescence"]["laser count"] == 2
    assert cfg["fluorescence"] is sec


def test_unknown_section():
    cfg = Configuration()
    with pytest.raises(KeyError, match="peter"):
        cfg["peter"]
    with pytest.warns(UnknownConfigurationKeyWarning, match="peter"):
        cfg["peter"] = {"a": 1}
    assert cfg["peter"]["a"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg2 = Configuration(cfg={"peter": {"a": 1}, "imaging": {"nope": 1}},
                             disable_checks=True)
        assert cfg2["peter"]["a"] == 1
        assert cfg2["imaging"]["nope"] == 1
        assert len(cfg2["other"]) == 0


def test_get_contains_iter_dict():
    cfg = Configuration(cfg=example_cfg())
    assert cfg.get("imaging") is cfg["imaging"]
    assert cfg.get("fluorescence", "x") == "x"
    assert cfg.get("peter") is None
    assert "imaging" in cfg
    assert "peter" not in cfg
    assert set(cfg) == set(cfg.keys()) == set(example_cfg()) | {
        "filtering", "calculation"}
    plain = dict(cfg)
    assert plain["imaging"] is cfg["imaging"]
    assert len(cfg) == len(plain)


def test_setitem_replaces_section():
    cfg = Configuration(cfg=example_cfg())
    cfg["user"] = {"inlet": True, "n_channels": 4}
    assert cfg["user"] == {"inlet": True, "n_channels": 4}
    cfg["imaging"] = {"frame rate": "2000"}
    assert dict(cfg["imaging"]) == {"frame rate": 2000.0}
    # filtering keeps its defaults when replaced
    cfg["filtering"] = {"deform max": "0.1", "enable filters": False}
    assert cfg["filtering"]["deform max"] == 0.1
    assert cfg["filtering"]["enable filters"] is False
    assert cfg["filtering"]["limit events"] == 0


def test_user_section_update_clear():
    cfg = Configuration()
    cfg["user"] = {"inlet": True, "n_channels": 4}
    cfg["user"].update({"outlet": False, "RBC": True})
    assert dict(cfg["user"]) == {"inlet": True, "n_channels": 4,
                                 "outlet": False, "RBC": True}
    cfg.update({"user": {"extra": b"x"}})
    assert cfg["user"]["extra"] == "x"
    assert cfg["user"]["inlet"] is True
    cfg["user"].clear()
    assert len(cfg["user"]) == 0
    assert "user" not in cfg


def test_update_merges():
    cfg = Configuration(cfg=example_cfg())
    cfg.update({"imaging": {"frame rate": 1000}, "filtering": {"deform min": 0}})
    assert cfg["imaging"]["frame rate"] == 1000.0
    assert cfg["imaging"]["pixel size"] == pytest.approx(0.34)
    assert cfg["filtering"]["deform min"] == 0.0
    assert cfg["filtering"]["enable filters"] is True
    other = Configuration(cfg={"setup": {"medium": "water"}})
    cfg.update(other)
    assert cfg["setup"]["medium"] == "water"
    assert cfg["setup"]["chip region"] == "channel"


def test_reset_filtering():
    cfg = Configuration()
    cfg["filtering"]["deform min"] = 0.01
    cfg["filtering"]["polygon filters"] = [1, 2]
    cfg["filtering"]["hierarchy parent"] = "parent-id"
    cfg["filtering"]["enable filters"] = False
    cfg.reset_filtering()
    assert cfg["filtering"] == dict(FILTERING_DEFAULTS,
                                    **{"hierarchy parent": "parent-id"})


# --- ConfigurationDict rules ------------------------------------------------


def test_configdict_is_dict_like_not_dict():
    sec = ConfigurationDict("imaging", {"frame rate": 2000})
    assert not isinstance(sec, dict)
    assert sec.section == "imaging"
    assert sec == {"frame rate": 2000.0}
    assert list(sec.keys()) == ["frame rate"]
    assert list(sec.values()) == [2000.0]
    assert list(sec.items()) == [("frame rate", 2000.0)]
    assert sec.get("pixel size") is None
    assert sec.get("pixel size", 1) == 1
    assert "frame rate" in sec
    with pytest.raises(KeyError, match="pixel size"):
        sec["pixel size"]
    del sec["frame rate"]
    assert len(sec) == 0
    with pytest.raises(KeyError):
        del sec["frame rate"]
    assert "ConfigurationDict('imaging'" in repr(sec)
    with pytest.raises(TypeError):
        sec[1] = 2


def test_configdict_update_converts():
    sec = ConfigurationDict("setup")
    sec.update({"chip region": "RESERVOIR"}, temperature="23.5")
    assert sec["chip region"] == "reservoir"
    assert sec["temperature"] == 23.5
    sec.update([("flow rate", b"0.16")])
    assert sec["flow rate"] == 0.16


def test_configdict_unknown_key_warns_and_stores():
    sec = ConfigurationDict("imaging")
    with pytest.warns(UnknownConfigurationKeyWarning, match="imaging:flash current"):
        sec["flash current"] = np.float64(100.0)
    assert sec["flash current"] == 100.0
    quiet = ConfigurationDict("imaging", disable_checks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet["flash current"] = 1
    assert quiet["flash current"] == 1


def test_configdict_bad_value_warns_and_keeps_raw():
    sec = ConfigurationDict("imaging")
    with pytest.warns(InvalidConfigurationValueWarning,
                      match="imaging:roi size x") as rec:
        sec["roi size x"] = "large"
    assert "'large'" in str(rec[0].message)
    assert sec["roi size x"] == "large"


def test_configdict_none_and_empty():
    sec = ConfigurationDict("experiment")
    with pytest.warns(InvalidConfigurationValueWarning, match="experiment:sample"):
        sec["sample"] = None
    assert "sample" not in sec
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sec["sample"] = ""
        sec["date"] = b""
        sec["time"] = "   "
    assert len(sec) == 0
    user = ConfigurationDict("user")
    user["empty"] = ""
    assert "empty" not in user


def test_configdict_eq_and_copy():
    a = ConfigurationDict("online_filter", {
        "size_x,size_y polygon points": [[0, 1], [1, 1], [1, 0]]})
    b = a.copy()
    assert a == b
    assert a == {"size_x,size_y polygon points": np.array(
        [[0, 1], [1, 1], [1, 0]], dtype=float)}
    b["size_x,size_y polygon points"][0, 0] = 5
    assert a != b
    assert a != {"other": 1}
    assert a != 5


# --- copy, pickle, export ---------------------------------------------------------


def test_copy_independent():
    cfg = Configuration(cfg=example_cfg())
    cp = cfg.copy()
    assert cp == cfg
    assert cp is not cfg
    cp["imaging"]["pixel size"] = 0.5
    cp["user"]["tags"].append(3)
    cp["filtering"]["polygon filters"].append(1)
    assert cfg["imaging"]["pixel size"] == pytest.approx(0.34)
    assert cfg["user"]["tags"] == [1, 2]
    assert cfg["filtering"]["polygon filters"] == []
    assert cp != cfg


def test_pickle_round_trip():
    cfg = Configuration(cfg=example_cfg())
    restored = pickle.loads(pickle.dumps(cfg))
    assert restored == cfg
    assert isinstance(restored["imaging"], ConfigurationDict)
    restored["user"]["new"] = 1
    assert "new" not in cfg["user"]


def test_as_dict():
    cfg = Configuration(cfg=example_cfg())
    out = cfg.as_dict()
    assert type(out) is dict
    assert all(type(sec) is dict for sec in out.values())
    assert out["imaging"]["roi size x"] == 250
    out["user"]["tags"].append(5)
    assert cfg["user"]["tags"] == [1, 2]
    assert "filtering" in out
    popped = cfg.as_dict(pop_filtering=True)
    assert "filtering" not in popped
    assert "calculation" in popped
    assert "filtering" in cfg


def test_tojson():
    cfg = Configuration(cfg=example_cfg())
    cfg["user"]["np"] = np.int64(3)
    text = cfg.tojson()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["imaging"]) == sorted(data["imaging"])
    assert data["qpi"]["focus interval"] == [-10.0, 10.0]
    assert data["online_filter"]["size_x,size_y polygon points"][1] == \
        pytest.approx([0.1, 2.5])
    assert data["user"]["np"] == 3
    assert data["filtering"]["enable filters"] is True


def test_tostring_format_and_sections():
    cfg = Configuration(cfg=example_cfg())
    text = cfg.tostring()
    lines = text.splitlines()
    headers = [ln for ln in lines if ln.startswith("[")]
    assert headers == sorted(headers)
    assert "[imaging]" in lines
    assert "roi size x = 250" in lines
    assert "chip region = channel" in lines
    assert "bg empty = True" in lines
    only_meta = cfg.tostring(sections=dfn.CFG_METADATA)
    assert "[filtering]" not in only_meta
    assert "[user]" not in only_meta
    assert "[imaging]" in only_meta
    assert cfg.tostring(sections=["imaging"]).startswith("[imaging]\n")


def test_save_load_round_trip(tmp_path):
    cfg = Configuration(cfg=example_cfg())
    cfg["filtering"]["polygon filters"] = [0, 3]
    cfg["filtering"]["deform max"] = 0.1
    cfg["user"].update({
        "number text": "42", "bool text": "True", "blanks": "  padded ",
        "multi": "two\nlines", "quote": '"quoted"', "nan": float("nan"),
        "unicode": "µm ä", "null text": "null", "list": [[1.5, 2], [3, 4]],
    })
    cfg["calculation"]["emodulus lut"] = "LE-2D-FEM-19"
    path = tmp_path / "config.txt"
    cfg.save(path)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    loaded = load_from_file(path)
    assert type(loaded) is dict
    assert loaded["imaging"]["roi size x"] == 250
    assert loaded["filtering"]["polygon filters"] == [0, 3]
    assert loaded["qpi"]["focus interval"] == (-10.0, 10.0)
    assert loaded["user"]["number text"] == "42"
    assert loaded["user"]["bool text"] == "True"
    assert loaded["user"]["inlet"] is True
    assert loaded["user"]["n_channels"] == 4
    assert loaded["user"]["blanks"] == "  padded "
    assert loaded["user"]["multi"] == "two\nlines"
    assert loaded["user"]["quote"] == '"quoted"'
    assert loaded["user"]["null text"] == "null"
    assert loaded["user"]["unicode"] == "µm ä"
    assert loaded["user"]["list"] == [[1.5, 2], [3, 4]]
    assert np.isnan(loaded["user"]["nan"])
    again = Configuration(files=[path])
    assert again == cfg
    # float32 values survive exactly
    assert again["imaging"]["pixel size"] == float(np.float32(0.34))
    assert Configuration(files=path) == cfg


def test_load_from_file_unknown_and_bad(tmp_path):
    path = tmp_path / "cfg.txt"
    path.write_text(
        "# comment\n"
        "[imaging]\n"
        "frame rate = 2000\n"
        "exposure time = 20\n"
        "roi size x = big\n"
        "pixel size =\n"
        "\n"
        "[peter]\n"
        "a = 1\n"
        "[setup]\n"
        "chip region = \"Channel\"\n",
        encoding="utf-8")
    with pytest.warns(UserWarning) as rec:
        loaded = load_from_file(path)
    messages = " ".join(str(r.message) for r in rec)
    assert "imaging:exposure time" in messages
    assert "peter" in messages
    assert "'big'" in messages
    assert {r.category for r in rec} == {UnknownConfigurationKeyWarning,
                                         InvalidConfigurationValueWarning}
    assert loaded == {"imaging": {"frame rate": 2000.0},
                      "setup": {"chip region": "channel"}}


@pytest.mark.parametrize("content", ["key = value\n", "[imaging]\nno equal sign\n"])
def test_load_from_file_malformed(tmp_path, content):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FileFormatError, match="line"):
        load_from_file(path)


def test_tostring_rejects_bad_user_key():
    cfg = Configuration(cfg={"user": {"a = b": 1}})
    with pytest.raises(ValueError, match="a = b"):
        cfg.tostring()


def test_eq():
    cfg = Configuration(cfg=example_cfg())
    assert cfg == Configuration(cfg=example_cfg())
    assert cfg == cfg.as_dict()
    assert cfg != Configuration()
    assert cfg != "imaging"
    other = cfg.copy()
    other["user"]["inlet"] = False
    assert cfg != other


# --- real files -----------------------------------------------------------------


def _attrs_to_cfg(attrs):
    cfg = {}
    for name, value in attrs.items():
        if ":" in name:
            section, key = name.split(":", 1)
            cfg.setdefault(section, {})[key] = value
    return cfg


@pytest.mark.skipif(not REAL_FILES, reason="no real .rtdc files found in /tmp/rd "
                    "or ../shared/data/rtdc")
@pytest.mark.parametrize("path", REAL_FILES,
                         ids=[pathlib.Path(p).name for p in REAL_FILES])
def test_real_file_metadata(path):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("hdf5plugin")
    with h5py.File(path, "r") as h5:
        raw = _attrs_to_cfg(h5.attrs)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cfg = Configuration(cfg=raw)
    # every value of a known key must convert (unknown keys may warn)
    bad = [str(w.message) for w in rec
           if issubclass(w.category, InvalidConfigurationValueWarning)]
    assert not bad, bad
    n_checked = 0
    for section, keys in raw.items():
        for key, value in keys.items():
            if isinstance(value, (bytes, str)) and not value.strip():
                continue
            if section != "user" and not dfn.config_key_exists(section, key):
                # unknown keys are kept unchanged (apart from bytes decoding)
                assert key in cfg[section]
                continue
            stored = cfg[section][key]
            expected = dfn.get_config_value_type(section, key)
            if expected is not None:
                assert isinstance(stored, expected), (section, key, stored)
                n_checked += 1
            assert not isinstance(stored, bytes)
    # conversion is idempotent: converting the converted values changes nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownConfigurationKeyWarning)
        cfg2 = Configuration(cfg=cfg.as_dict())
    assert cfg2 == cfg
    assert n_checked > 0 or not raw


@pytest.mark.skipif(not REAL_FILES, reason="no real .rtdc files found")
def test_real_files_text_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("hdf5plugin")
    for ii, path in enumerate(REAL_FILES):
        with h5py.File(path, "r") as h5:
            raw = _attrs_to_cfg(h5.attrs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownConfigurationKeyWarning)
            cfg = Configuration(cfg=raw)
            # drop unknown keys: the text loader ignores them by design
            known = {sec: {k: v for k, v in cfg[sec].items()
                           if sec == "user" or dfn.config_key_exists(sec, k)}
                     for sec in cfg.keys()}
            expected = Configuration(cfg=known)
        out = tmp_path / f"cfg{ii}.txt"
        expected.save(out)
        assert Configuration(files=[out]) == expected, path


def test_filtering_accepts_registered_feature():
    dfn.register_feature("cfg_test_feat", "Config test [a.u.]")
    try:
        cfg = Configuration()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cfg["filtering"]["cfg_test_feat min"] = "0.5"
            cfg["filtering"]["cfg_test_feat max"] = np.float32(2)
        assert cfg["filtering"]["cfg_test_feat min"] == 0.5
        assert type(cfg["filtering"]["cfg_test_feat max"]) is float
    finally:
        dfn.unregister_feature("cfg_test_feat")
    with pytest.warns(UnknownConfigurationKeyWarning, match="cfg_test_feat min"):
        Configuration()["filtering"]["cfg_test_feat min"] = 0.5
