"""The integrity checker: every check triggered by a file made here, a clean
file that triggers none, files that cannot be opened, and the real files."""
from __future__ import annotations

import hashlib
import json
import pathlib
import shutil

import h5py
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.features.contour import get_contour
from cytolab.io.writer import HDF5Writer
from cytolab.rtdc.check import (
    ICue,
    IntegrityChecker,
    _shapein_version,
    format_cues,
    sanity_check,
)
from cytolab.simulate import simulate_rtdc

N = 30  # events of the simulated files


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> pathlib.Path:
    """A clean measurement: images, masks, contours (from the masks), traces."""
    path = simulate_rtdc(tmp_path_factory.mktemp("clean") / "clean.rtdc",
                         num_events=N, images=True, traces=True, seed=7)
    with cytolab.new_dataset(path) as ds:
        contours = get_contour(np.asarray(ds["mask"][:]))
    with cytolab.RTDCWriter(path, mode="append") as hw:
        hw.store_feature("contour", contours)
    return path


@pytest.fixture(scope="module")
def scalar_only(tmp_path_factory) -> pathlib.Path:
    """A clean measurement with scalar features only."""
    return simulate_rtdc(tmp_path_factory.mktemp("scalar") / "scalar.rtdc",
                         num_events=N, seed=8)


def modified(source: pathlib.Path, tmp_path: pathlib.Path, change) -> pathlib.Path:
    """A copy of `source` changed by `change(h5)`."""
    path = tmp_path / f"modified_{source.name}"
    shutil.copy(source, path)
    with h5py.File(path, "a") as h5:
        change(h5)
    return path


def run_check(path, **kwargs) -> list[ICue]:
    with IntegrityChecker(path) as checker:
        return checker.check(**kwargs)


def by_id(cues, identifier) -> list[ICue]:
    return [cue for cue in cues if cue.identifier == identifier]


def replace(group: h5py.Group, name: str, data, **kwargs) -> None:
    del group[name]
    group.create_dataset(name, data=data, **kwargs)


def md5_and_mtime(path: pathlib.Path) -> tuple[str, int]:
    return hashlib.md5(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# --------------------------------------------------------------------- ICue


def test_icue_fields_and_rendering():
    cue = ICue("Invalid value", "violation", "metadata wrong", data={"n": 1},
               identifier="metadata-invalid", cfg_section="setup",
               cfg_key="chip region", cfg_choices=("channel", "reservoir"))
    assert repr(cue) == '<ICue violation [metadata wrong]: "Invalid value">'
    assert str(cue) == "violation: [metadata wrong] Invalid value"
    assert cue.as_text(level=False) == "[metadata wrong] Invalid value"
    assert cue.as_dict() == {
        "msg": "Invalid value", "level": "violation", "category": "metadata wrong",
        "data": {"n": 1}, "identifier": "metadata-invalid", "cfg_section": "setup",
        "cfg_key": "chip region", "cfg_choices": ["channel", "reservoir"]}
    assert json.loads(json.dumps(cue.as_dict()))["cfg_key"] == "chip region"
    assert cue == ICue(**{k: v for k, v in cue.as_dict().items()})
    assert cue != ICue("Invalid value", "alert", "metadata wrong")
    with pytest.raises(ValueError, match="Invalid cue level 'warning'"):
        ICue("x", "warning", "test")


def test_level_summary_and_format():
    cues = [ICue("a", "alert", "c1"), ICue("b", "violation", "c2"),
            ICue("c", "alert", "c1"), ICue("d", "info", "c3")]
    assert ICue.get_level_summary(cues) == {"info": 1, "alert": 2, "violation": 1}
    assert ICue.get_level_summary([]) == {"info": 0, "alert": 0, "violation": 0}
    assert format_cues(cues).splitlines() == [
        "violations (1):", "  - [c2] b",
        "alerts (2):", "  - [c1] a", "  - [c1] c",
        "info (1):", "  - [c3] d"]


def test_shapein_version_parsing():
    assert _shapein_version("ShapeIn 2.0.7 | dclab 0.22.1.post3") == (2, 0, 7)
    assert _shapein_version("Shape-In 2.2.1.0") == (2, 2, 1, 0)
    assert _shapein_version("2.2.0.0dev") == (2, 2, 0, 0)
    assert _shapein_version("2.3.4.54 | dclab 0.47.4") == (2, 3, 4, 54)
    assert _shapein_version("CytoShot 0.0.6") is None
    assert _shapein_version("dclab 0.22.7") is None
    assert _shapein_version("") is None


# ------------------------------------------------------------ clean files


def test_clean_file_has_only_the_compression_info(clean):
    cues = run_check(clean)
    assert [(c.level, c.identifier) for c in cues] == [("info", "compression")]
    # 20 scalar + 12 fluorescence features, image, image_bg, mask, trace, contour
    assert cues[0].data == {"compressed": 37, "uncompressed": 0,
                            "properly compressed": 37, "total": 37}
    assert cues[0].msg == ("Compression: all 37 features compressed (37 with "
                           "Zstandard level >= 5 and checksums)")


def test_every_check_runs():
    assert IntegrityChecker.check_names() == [
        "check_metadata_missing", "check_metadata_unknown", "check_metadata_bad",
        "check_flow_rate", "check_shapein_medium_bug", "check_feature_size",
        "check_feature_dtype", "check_fl_max_negative", "check_temp_zero",
        "check_images", "check_contour", "check_traces", "check_compression",
        "check_basins", "check_logs", "check_load_warnings"]


def test_input_is_not_modified(clean):
    before = md5_and_mtime(clean)
    run_check(clean)
    assert md5_and_mtime(clean) == before


# ---------------------------------------------------------- each check


def set_attr(key, value):
    def change(h5):
        h5.attrs[key] = value
    return change


def del_attr(key):
    def change(h5):
        del h5.attrs[key]
    return change


# (change, identifier, level, expected message, cfg_section, cfg_key)
METADATA_CASES = [
    (del_attr("setup:medium"), "metadata-missing", "violation",
     "Metadata missing: [setup] 'medium' (Measurement medium)", "setup", "medium"),
    (del_attr("imaging:frame rate"), "metadata-missing", "violation",
     "Metadata missing: [imaging] 'frame rate' (Camera frame rate [Hz])",
     "imaging", "frame rate"),
    (del_attr("experiment:sample"), "metadata-recommended", "alert",
     "Metadata recommended: [experiment] 'sample' (Sample name or user-defined "
     "reference)", "experiment", "sample"),
    (del_attr("fluorescence:sample rate"), "metadata-missing", "violation",
     "Metadata missing: [fluorescence] 'sample rate' (Sampling rate of the traces "
     "[Hz])", "fluorescence", "sample rate"),
    (del_attr("fluorescence:laser count"), "metadata-recommended", "alert",
     "Metadata recommended: [fluorescence] 'laser count' (Number of lasers in "
     "use)", "fluorescence", "laser count"),
    (set_attr("imaging:exposure time", 20.0), "metadata-unknown", "alert",
     "Unknown metadata key [imaging] 'exposure time' (value 20.0)", "imaging",
     "exposure time"),
    (set_attr("magic:wand", "yes"), "metadata-unknown", "alert",
     "Unknown metadata section [magic] (keys: wand)", "magic", None),
    (set_attr("imaging:pixel size", -0.34), "metadata-invalid", "violation",
     "Invalid value of [imaging] 'pixel size': -0.34 (must be greater than zero)",
     "imaging", "pixel size"),
    (set_attr("imaging:frame rate", 0.0), "metadata-invalid", "violation",
     "Invalid value of [imaging] 'frame rate': 0.0 (must be greater than zero)",
     "imaging", "frame rate"),
    (set_attr("setup:channel width", -20.0), "metadata-invalid", "violation",
     "Invalid value of [setup] 'channel width': -20.0 (must be greater than "
     "zero)", "setup", "channel width"),
    (set_attr("imaging:frame rate", np.nan), "metadata-invalid", "violation",
     "Invalid value of [imaging] 'frame rate': nan (not a finite number)",
     "imaging", "frame rate"),
    (set_attr("experiment:run index", "first"), "metadata-invalid", "violation",
     None, "experiment", "run index"),
    (set_attr("experiment:date", "01.01.2026"), "metadata-format", "alert",
     "Unexpected format of [experiment] 'date': '01.01.2026' (expected "
     "YYYY-MM-DD)", "experiment", "date"),
    (set_attr("setup:flow rate", 0.0), "flow-rate-invalid", "violation",
     "Invalid value of [setup] 'flow rate': 0 µL/s (zero flow rate)", "setup",
     "flow rate"),
    (set_attr("setup:flow rate sheath", -0.03), "flow-rate-invalid", "violation",
     "Invalid value of [setup] 'flow rate sheath': -0.03 µL/s (negative flow "
     "rate)", "setup", "flow rate sheath"),
    (set_attr("setup:flow rate", 0.05), "flow-rate-sum", "alert",
     "Flow rates do not add up: sample 0.01 + sheath 0.03 = 0.04 µL/s, but "
     "[setup] 'flow rate' is 0.05 µL/s", "setup", "flow rate"),
    (set_attr("experiment:event count", N + 1), "event-count", "violation",
     f"[experiment] 'event count' is {N + 1}, but the dataset has {N} events",
     "experiment", "event count"),
]


@pytest.mark.parametrize("change,identifier,level,msg,section,key", METADATA_CASES)
def test_metadata_checks(clean, tmp_path, change, identifier, level, msg, section,
                         key):
    cues = by_id(run_check(modified(clean, tmp_path, change)), identifier)
    assert len(cues) == 1, cues
    cue = cues[0]
    assert (cue.level, cue.cfg_section, cue.cfg_key) == (level, section, key)
    if msg is not None:
        assert cue.msg == msg
    else:
        assert cue.msg.startswith(f"Invalid value of [{section}] '{key}': 'first' "
                                  f"(cannot be converted")


def test_invalid_value_is_reported_once(clean, tmp_path):
    # opening warns about the unconvertible value; the warning is not repeated
    cues = run_check(modified(clean, tmp_path, set_attr("imaging:roi size x", "x")))
    assert [c.identifier for c in cues if c.level != "info"] == ["metadata-invalid"]


def test_choices(clean, tmp_path):
    cues = run_check(modified(clean, tmp_path, set_attr("setup:chip region", "inlet")))
    [cue] = by_id(cues, "metadata-invalid")
    assert cue.msg == ("Invalid value of [setup] 'chip region': 'inlet' (must be "
                       "one of channel, reservoir)")
    assert cue.cfg_choices == ["channel", "reservoir"]


def test_flow_rate_tolerance(clean, tmp_path):
    # values stored as float32 do not add up exactly; that is not an alert
    def change(h5):
        for key, value in (("flow rate", 0.19), ("flow rate sample", 0.1),
                           ("flow rate sheath", 0.09)):
            h5.attrs[f"setup:{key}"] = np.float64(np.float32(value))
    assert not by_id(run_check(modified(clean, tmp_path, change)), "flow-rate-sum")


def test_flow_rate_sum_data(clean, tmp_path):
    cues = run_check(modified(clean, tmp_path, set_attr("setup:flow rate", 0.16)))
    [cue] = by_id(cues, "flow-rate-sum")
    assert cue.data == {"flow rate": 0.16, "flow rate sample": 0.01,
                        "flow rate sheath": 0.03}


@pytest.mark.parametrize("version,medium,expected", [
    ("2.2.1.0 | dclab 0.33.0", "CellCarrierB", True),
    ("ShapeIn 2.2.2.3", "CellCarrierB", True),
    ("2.2.1.0", "CellCarrier", False),
    ("2.2.0.0 | dclab 0.29.1", "CellCarrierB", False),
    ("2.3.4.54", "CellCarrierB", False),
    ("CytoShot 0.14.1", "CellCarrierB", False),
])
def test_shapein_medium_bug(scalar_only, tmp_path, version, medium, expected):
    def change(h5):
        h5.attrs["setup:software version"] = version
        h5.attrs["setup:medium"] = medium
    cues = by_id(run_check(modified(scalar_only, tmp_path, change)),
                 "shapein-medium-bug")
    assert len(cues) == int(expected)
    if expected:
        assert cues[0].level == "alert"
        assert (cues[0].cfg_section, cues[0].cfg_key) == ("setup", "medium")
        assert cues[0].cfg_choices == ["CellCarrier", "CellCarrierB"]
        assert "may have written the wrong medium" in cues[0].msg


def test_empty_dataset(tmp_path):
    path = simulate_rtdc(tmp_path / "empty.rtdc", num_events=0, seed=1)
    cues = run_check(path)
    assert [(c.level, c.identifier, c.msg) for c in cues if c.level != "info"] == [
        ("alert", "empty-dataset", "The measurement has no events")]


@pytest.mark.parametrize("size", [N + 1, N - 1])
def test_feature_size(clean, tmp_path, size):
    def change(h5):
        replace(h5["events"], "deform", np.linspace(0, 0.1, size))
    cues = run_check(modified(clean, tmp_path, change))
    [cue] = by_id(cues, "feature-size")
    assert cue.level == "violation"
    assert cue.msg == f"Feature 'deform' has {size} events, the dataset has {N}"
    # the warning raised on opening is not repeated as a load-warning
    assert not by_id(cues, "load-warning")


def test_feature_size_of_images_and_traces(clean, tmp_path):
    def change(h5):
        events = h5["events"]
        replace(events, "image_bg", np.zeros((N + 2, 80, 250), dtype=np.uint8))
        events["image_bg"].attrs.update({"CLASS": b"IMAGE", "IMAGE_VERSION": b"1.2",
                                         "IMAGE_SUBCLASS": b"IMAGE_GRAYSCALE"})
        replace(events["trace"], "fl2_raw", np.zeros((N - 3, 177), dtype=np.int16))
        del events["contour"][str(N - 1)]
    cues = by_id(run_check(modified(clean, tmp_path, change)), "feature-size")
    assert sorted(c.msg for c in cues) == [
        f"Feature 'contour' has {N - 1} events, the dataset has {N}",
        f"Feature 'image_bg' has {N + 2} events, the dataset has {N}",
        f"Feature 'trace/fl2_raw' has {N - 3} events, the dataset has {N}"]


def test_feature_dtype(clean, tmp_path):
    def change(h5):
        replace(h5["events"], "deform", np.zeros((N, 2)))
        replace(h5["events"], "circ", np.array([b"round"] * N))
    cues = by_id(run_check(modified(clean, tmp_path, change)), "feature-dtype")
    assert [(c.level, c.msg) for c in cues] == [
        ("violation", "Feature 'deform': scalar feature with shape (30, 2) (must be "
                      "1-D)"),
        ("violation", "Scalar feature 'circ' holds |S5 data (must be numbers)")]


def test_fl_max_negative(clean, tmp_path):
    def change(h5):
        data = h5["events/fl2_max"][:]
        data[[1, 5, 7]] = -4
        replace(h5["events"], "fl2_max", data)
    cues = by_id(run_check(modified(clean, tmp_path, change)), "fl-max-negative")
    assert [(c.level, c.msg, c.data) for c in cues] == [
        ("alert", f"Feature 'fl2_max' is negative for 3 of {N} events",
         {"feature": "fl2_max", "count": 3})]


def test_temp_all_zero(clean, tmp_path):
    def change(h5):
        replace(h5["events"], "temp", np.zeros(N))
    cues = run_check(modified(clean, tmp_path, change))
    [cue] = by_id(cues, "temp-all-zero")
    assert cue.level == "alert" and "'temp' is zero for all events" in cue.msg
    # one event with a temperature is enough
    def change_one(h5):
        replace(h5["events"], "temp", np.r_[np.zeros(N - 1), 23.0])
    assert not by_id(run_check(modified(clean, tmp_path, change_one)),
                     "temp-all-zero")


def test_image_dtype(clean, tmp_path):
    def change(h5):
        image_attrs = dict(h5["events/image"].attrs)
        replace(h5["events"], "image", h5["events/image"][:].astype(np.uint16))
        h5["events/image"].attrs.update(image_attrs)
        replace(h5["events"], "mask", h5["events/mask"][:].astype(np.float32))
        h5["events/mask"].attrs.update(image_attrs)
    cues = by_id(run_check(modified(clean, tmp_path, change)), "image-dtype")
    assert [(c.level, c.msg) for c in cues] == [
        ("violation", "Feature 'image' must be an (N, H, W) array of uint8, got "
                      "uint16 with shape (30, 80, 250)"),
        ("violation", "Feature 'mask' must be an (N, H, W) array of uint8 or bool, "
                      "got float32 with shape (30, 80, 250)")]


def test_image_shape_against_roi(clean, tmp_path):
    cues = run_check(modified(clean, tmp_path, set_attr("imaging:roi size x", 200)))
    shape = by_id(cues, "image-shape")
    assert [c.data["feature"] for c in shape] == ["image", "image_bg", "mask"]
    assert shape[0].msg == ("Feature 'image' has images of 250 x 80 pixels, but "
                            "[imaging] 'roi size x/y' is 200 x 80")
    assert all(c.level == "violation" for c in shape)
    assert not by_id(cues, "mask-shape")


def test_mask_shape_against_image(clean, tmp_path):
    def change(h5):
        attrs = dict(h5["events/mask"].attrs)
        replace(h5["events"], "mask", h5["events/mask"][:, :, :200])
        h5["events/mask"].attrs.update(attrs)
    cues = run_check(modified(clean, tmp_path, change))
    [cue] = by_id(cues, "mask-shape")
    assert cue.level == "violation"
    assert cue.msg == "Masks have 200 x 80 pixels, images 250 x 80"
    assert [c.data["feature"] for c in by_id(cues, "image-shape")] == ["mask"]


def test_image_attributes(clean, tmp_path):
    def change(h5):
        del h5["events/image"].attrs["CLASS"]
        h5["events/mask"].attrs["IMAGE_VERSION"] = "1.0"
    cues = by_id(run_check(modified(clean, tmp_path, change)), "image-attributes")
    assert [(c.level, c.data["feature"]) for c in cues] == [("alert", "image"),
                                                             ("alert", "mask")]
    assert "CLASS is None" in cues[0].msg
    assert "IMAGE_VERSION is '1.0'" in cues[1].msg


def set_contour(index, points):
    def change(h5):
        replace(h5["events/contour"], str(index), np.asarray(points))
    return change


@pytest.mark.parametrize("change,identifier,level,events", [
    (set_contour(4, [[10, 10], [300, 20], [11, 12]]), "contour-outside",
     "violation", [4]),
    (set_contour(2, [[10, -1], [11, 12], [12, 12]]), "contour-outside",
     "violation", [2]),
    (set_contour(3, [[10, 10], [11, 10]]), "contour-short", "alert", [3]),
    (set_contour(6, np.zeros((5, 3), dtype=int)), "contour-shape", "violation",
     [6]),
])
def test_contour_checks(clean, tmp_path, change, identifier, level, events):
    cues = run_check(modified(clean, tmp_path, change))
    [cue] = by_id(cues, identifier)
    assert cue.level == level
    assert cue.data == {"events": events, "checked": N}


def test_contour_against_mask(clean, tmp_path):
    def change(h5):
        # move the contours of events 0 and 29 away from their event
        for index in (0, N - 1):
            cont = h5[f"events/contour/{index}"][:]
            cont[:, 1] = np.where(cont[:, 1] > 40, cont[:, 1] - 30, cont[:, 1] + 30)
            replace(h5["events/contour"], str(index), cont)
    path = modified(clean, tmp_path, change)
    [cue] = by_id(run_check(path), "contour-mask")
    assert cue.level == "alert"
    assert cue.data == {"events": [0, N - 1], "checked": 10}
    assert cue.msg.startswith("2 of 10 checked contours have points that are not")
    # only sampled events are looked at
    [cue] = by_id(run_check(path, mask_events=1), "contour-mask")
    assert cue.data == {"events": [0], "checked": 1}
    [cue] = by_id(run_check(path, sample_events=2, mask_events=2), "contour-mask")
    assert cue.data == {"events": [0, N - 1], "checked": 2}


def test_contours_of_the_clean_file_match_the_masks(clean):
    assert not [c for c in run_check(clean, mask_events=N) if c.category == "contour"]


def test_traces(clean, tmp_path):
    cues = run_check(modified(clean, tmp_path,
                              set_attr("fluorescence:samples per event", 100)))
    samples = by_id(cues, "trace-samples")
    assert len(samples) == 6 and all(c.level == "violation" for c in samples)
    assert samples[0].msg == ("Trace 'fl1_median' has 177 samples per event, but "
                              "[fluorescence] 'samples per event' is 100")

    def change(h5):
        h5["events/trace"].create_dataset("fl4_raw", data=np.zeros((N, 177)))
    [cue] = by_id(run_check(modified(clean, tmp_path, change)), "trace-unknown")
    assert cue.level == "alert" and "Unknown fluorescence trace 'fl4_raw'" in cue.msg


def test_compression(clean, tmp_path):
    def change(h5):
        replace(h5["events"], "deform", h5["events/deform"][:])  # no filters
        replace(h5["events"], "circ", h5["events/circ"][:], compression="gzip",
                chunks=True)
    cues = run_check(modified(clean, tmp_path, change))
    [info] = by_id(cues, "compression")
    assert info.data == {"compressed": 36, "uncompressed": 1,
                         "properly compressed": 35, "total": 37}
    assert info.msg == ("Compression: 36 of 37 features compressed (35 with "
                        "Zstandard level >= 5 and checksums)")
    [alert] = by_id(cues, "compression-missing")
    assert alert.level == "alert" and alert.data == {"features": ["deform"]}


def test_basins(scalar_only, tmp_path):
    path = tmp_path / "derived.rtdc"
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        with cytolab.new_dataset(scalar_only) as ds:
            hw.store_metadata(ds.config.as_dict(pop_filtering=True))
            hw.store_feature("userdef1", np.arange(N, dtype=float))
        hw.store_basin(basin_name="gone", basin_type="file", basin_format="hdf5",
                       basin_locs=[tmp_path / "missing.rtdc"], verify=False)
    with HDF5Writer(path, mode="a") as hw:
        hw.store_basin_dict({"name": "future", "type": "remote",
                             "format": "teleport", "urls": ["tp://x"],
                             "description": "a basin of a later version"})
    cues = run_check(path)
    [gone] = by_id(cues, "basin-unavailable")
    assert gone.level == "alert"
    assert gone.msg.startswith("Basin 'gone' cannot be used: ")
    assert gone.data == {"location": str(tmp_path / "missing.rtdc")}
    [future] = by_id(cues, "basin-unsupported")
    assert future.level == "info"
    assert future.msg == ("Basin 'future' has type/format remote/teleport, which "
                          "cytolab does not support (ignored)")
    # the warning of the unavailable basin is not repeated
    assert not by_id(cues, "load-warning")


def test_working_basin_gives_no_cue(scalar_only, tmp_path):
    path = tmp_path / "derived.rtdc"
    with cytolab.new_dataset(scalar_only) as ds:
        ds.export.hdf5(path, features=["deform"], basins=True)
    assert not [c for c in run_check(path) if c.category == "basins"]


def test_logs(clean, tmp_path):
    assert not [c for c in run_check(clean) if c.category == "logs"]  # no logs

    def change(h5):
        logs = h5.create_group("logs")
        logs.create_dataset("numbers", data=np.arange(3))
        logs.create_dataset("text", data=np.array([b"line 1", b"line 2"]))
    [cue] = [c for c in run_check(modified(clean, tmp_path, change))
             if c.category == "logs"]
    assert (cue.level, cue.identifier) == ("alert", "log-unreadable")
    assert cue.msg.startswith("Log 'numbers' is not readable text")


def test_load_warnings(clean, tmp_path):
    def change(h5):
        # time stored as float32 is known to be imprecise; 'ncells' is unknown
        h5["events"].create_dataset("time", data=np.arange(N, dtype=np.float32))
        h5["events"].create_dataset("ncells", data=np.ones(N))
    cues = by_id(run_check(modified(clean, tmp_path, change)), "load-warning")
    assert [(c.level, c.data["category"]) for c in cues] == [
        ("alert", "BadFeatureSizeWarning"), ("alert", "UnknownFeatureWarning")]
    assert "Ignoring stored feature 'time'" in cues[0].msg
    assert "stored as float32" in cues[0].msg
    assert "Ignoring unknown feature 'ncells'" in cues[1].msg


def test_failing_check_becomes_a_violation(clean, monkeypatch):
    def boom(self, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(IntegrityChecker, "check_temp_zero", boom)
    cues = run_check(clean)
    [cue] = by_id(cues, "check-failed")
    assert cue.msg == "Check 'check_temp_zero' failed: RuntimeError: boom"
    assert cue.level == "violation"
    assert by_id(cues, "compression")  # the other checks still ran


# ------------------------------------------------- files that do not open


def test_missing_file_raises():
    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        IntegrityChecker("/nonexistent/missing.rtdc")
    with pytest.raises(FileNotFoundError):
        sanity_check("/nonexistent/missing.rtdc")


@pytest.mark.parametrize("kind", ["truncated", "text", "no-events"])
def test_unreadable_files_give_one_violation(clean, tmp_path, kind):
    path = tmp_path / "bad.rtdc"
    if kind == "truncated":
        path.write_bytes(clean.read_bytes()[:4000])
    elif kind == "text":
        path.write_text("not a measurement\n")
    else:
        with h5py.File(path, "w") as h5:
            h5.attrs["experiment:date"] = "2026-01-01"
    cues = run_check(path)
    assert [(c.level, c.identifier) for c in cues] == [("violation",
                                                        "file-unreadable")]
    assert cues[0].msg.startswith(f"Cannot open '{path}': ")
    assert sanity_check(path) == cues
    if kind == "no-events":
        assert "no 'events' group" in cues[0].msg


def test_damaged_feature_data(clean, tmp_path):
    path = tmp_path / "damaged.rtdc"
    shutil.copy(clean, path)
    with h5py.File(path, "r") as h5:
        info = h5["events/deform"].id.get_chunk_info(0)
    with path.open("r+b") as fd:  # overwrite the (checksummed) chunk
        fd.seek(info.byte_offset)
        fd.write(b"\xff" * info.size)
    cues = run_check(path)
    assert [(c.level, c.identifier) for c in cues] == [("violation",
                                                        "feature-unreadable")]
    assert cues[0].msg.startswith("Cannot read feature 'deform': OSError")


def test_no_feature_data(tmp_path):
    path = tmp_path / "nothing.rtdc"
    with h5py.File(path, "w") as h5:
        h5.create_group("events")
    [cue] = run_check(path)
    assert (cue.level, cue.identifier) == ("violation", "no-feature-data")


# ---------------------------------------------------------- open datasets


def test_open_datasets(clean):
    with cytolab.new_dataset(clean) as ds:
        checker = IntegrityChecker(ds)
        assert checker.path == clean.resolve()
        cues = checker.check()
        checker.close()  # does not close a dataset it did not open
        assert len(ds["deform"]) == N
        assert [c.identifier for c in cues] == ["compression"]
        # a hierarchy child: no HDF5 checks, metadata of the parent
        child = cytolab.new_dataset(ds)
        assert IntegrityChecker(child).check() == []
    # a dict dataset has no metadata: violations, and its data are checked
    data = cytolab.new_dataset({"deform": np.array([0.1, 0.2]),
                                "temp": np.zeros(2)})
    cues = IntegrityChecker(data).check()
    assert by_id(cues, "temp-all-zero")
    assert {c.cfg_key for c in by_id(cues, "metadata-missing")} >= {
        "frame rate", "pixel size", "medium"}


# ---------------------------------------------------------------- real data

#: Violations expected in the real files (all others have none):
#: - example_video: its mask dataset has 20 events, the measurement 10;
#: - fmt-hdf5_fl_2017 (artificial test data): no setup identifier, no samples
#:   per event although there are traces, images of 90 x 50 px with roi size
#:   50 x 90 (the axes are swapped);
#: - the CytoShot full-feature files were written by a pipeline that dropped
#:   the frame rate (their `time` cannot be checked against `frame`).
REAL_VIOLATIONS = {
    "example_video": ["feature-size"],
    "fmt-hdf5_fl_2017": ["metadata-missing", "metadata-missing", "image-shape"],
    "fmt-hdf5_cytoshot_full-features_2023": ["metadata-missing"],
    "fmt-hdf5_cytoshot_full-features_legacy_allev_2023": ["metadata-missing"],
}


def test_real_files(real_rtdc_files):
    assert len(real_rtdc_files) >= 17
    for name, path in real_rtdc_files.items():
        before = md5_and_mtime(path)
        cues = run_check(path)
        assert md5_and_mtime(path) == before, name
        assert not by_id(cues, "check-failed"), (name, cues)
        assert len(by_id(cues, "compression")) == 1, name
        violations = [c.identifier for c in cues if c.level == "violation"]
        assert violations == REAL_VIOLATIONS.get(name, []), (name, violations)


def test_real_file_details(real_rtdc_files):
    cues = run_check(real_file(real_rtdc_files, "example_video"))
    assert by_id(cues, "feature-size")[0].msg == (
        "Feature 'mask' has 20 events, the dataset has 10")

    cues = run_check(real_file(real_rtdc_files, "fmt-hdf5_fl_2017"))
    assert [c.cfg_key for c in by_id(cues, "metadata-missing")] == [
        "identifier", "samples per event"]
    assert {c.cfg_key for c in by_id(cues, "metadata-unknown")} == {
        "exposure time", "flash current"}
    [flow] = by_id(cues, "flow-rate-sum")  # 0.1 + 0.6 != 0.16
    assert flow.data == {"flow rate": 0.16, "flow rate sample": 0.1,
                         "flow rate sheath": 0.6}
    assert [c.data["category"] for c in by_id(cues, "load-warning")] == [
        "UnknownFeatureWarning"]  # 'ncells'

    # Shape-In's empty measurement
    cues = run_check(real_file(real_rtdc_files, "fmt-hdf5_shapein_empty"))
    assert by_id(cues, "empty-dataset")

    # one bead each has a negative fl1_max and fl2_max
    cues = run_check(real_file(real_rtdc_files, "example_traces"))
    assert [c.data for c in by_id(cues, "fl-max-negative")] == [
        {"feature": "fl1_max", "count": 1}, {"feature": "fl2_max", "count": 1}]

    # Shape-In 2.0.7 wrote a wrong `aspect`: hidden and recomputed, reported
    cues = run_check(real_file(real_rtdc_files, "fmt-hdf5_fl-no-contour_2019"))
    [warn] = by_id(cues, "load-warning")
    assert "'aspect'" in warn.msg and "Shape-In 2.0.7" in warn.msg

    # contours recorded by Shape-In agree with their masks; the stored time
    # (float32) and volume (old dclab) are reported as recomputed
    cues = run_check(real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018"),
                     mask_events=8)
    assert not [c for c in cues if c.category == "contour"]
    assert len(by_id(cues, "load-warning")) == 2

    # old Shape-In files store scalar features uncompressed
    cues = run_check(real_file(real_rtdc_files, "example"))
    assert by_id(cues, "compression")[0].data == {
        "compressed": 0, "uncompressed": 13, "properly compressed": 0,
        "total": 13}
    assert len(by_id(cues, "compression-missing")[0].data["features"]) == 13


def test_real_tdms_measurements(request):
    """Legacy TDMS measurements are checked without HDF5-specific checks."""
    try:
        folders = request.getfixturevalue("real_tdms_dirs")
    except pytest.FixtureLookupError:  # pragma: no cover
        pytest.skip("no real_tdms_dirs fixture")
    paths = sorted(p for folder in folders.values() for p in folder.rglob("*.tdms")
                   if not p.name.endswith("_traces.tdms"))
    assert paths
    for path in paths:
        cues = run_check(path)
        if by_id(cues, "file-unreadable"):  # TDMS not supported (yet)
            continue
        assert not by_id(cues, "check-failed"), (path, cues)
        assert not by_id(cues, "compression")  # only for HDF5 files
