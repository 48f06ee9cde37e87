"""`cytolab join`: recording order, shared features, time/frame/index, logs."""
from __future__ import annotations

import datetime
import hashlib
import json
import pathlib
import shutil
import warnings

import h5py
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.cli import _join, join
from cytolab.cli._join import FeatureSetNotIdenticalJoinWarning, JoinTimingWarning
from cytolab.cli.main import main
from cytolab.errors import CytolabError, CytolabWarning, FeatureShapeError
from cytolab.simulate import simulate_rtdc

RATE = 2000.0  # frame rate of the simulator


# ----------------------------------------------------------------- helpers
def simulated(path: pathlib.Path, num_events: int, seed: int,
              time: str | None = "12:00:00", images: bool = False,
              traces: bool = False) -> pathlib.Path:
    """A simulated measurement recorded at `time` on 2026-01-01."""
    simulate_rtdc(path, num_events=num_events, images=images, traces=traces,
                  seed=seed)
    with h5py.File(path, "a") as h5:
        if time is None:
            del h5.attrs["experiment:time"]
        else:
            h5.attrs["experiment:time"] = time
    return path


def snapshot(paths) -> dict[pathlib.Path, tuple[str, int]]:
    return {pathlib.Path(p): (hashlib.md5(pathlib.Path(p).read_bytes()).hexdigest(),
                              pathlib.Path(p).stat().st_mtime_ns) for p in paths}


def folder_listing(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Three measurements with images; recording order c, a, b."""
    tmp = tmp_path_factory.mktemp("join3")
    return {
        "a": simulated(tmp / "a.rtdc", 30, seed=1, time="12:00:00", images=True),
        "b": simulated(tmp / "b.rtdc", 20, seed=2, time="12:00:10", images=True),
        "c": simulated(tmp / "c.rtdc", 25, seed=3, time="11:59:00", images=True),
    }


@pytest.fixture(scope="module")
def joined(three, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("join3out") / "joined.rtdc"
    return join([three["a"], three["b"], three["c"]], out)


# ----------------------------------------------------------- simulated data
def test_join_concatenates_in_recording_order(three, joined):
    a, b, c = (cytolab.new_dataset(three[k]) for k in "abc")
    order = [c, a, b]  # 11:59:00, 12:00:00, 12:00:10
    try:
        with cytolab.new_dataset(joined) as ds:
            assert len(ds) == 75
            assert ds.config["experiment"]["event count"] == 75
            assert joined.name == "joined.rtdc"
            # every stored feature of the inputs, images included
            for feat in ("deform", "area_um", "bright_avg", "pos_x", "temp",
                         "nevents", "image", "mask", "image_bg"):
                expected = np.concatenate([np.asarray(d[feat][:]) for d in order])
                assert np.array_equal(np.asarray(ds[feat][:]), expected), feat
            # time: relative to the start of c (11:59:00)
            expected = np.concatenate([c["time"], a["time"] + 60.0,
                                       b["time"] + 70.0])
            assert np.array_equal(ds["time"], expected)
            assert np.all(np.diff(ds["time"]) > 0)
            # frame: offset by the start in frames (60 s, 70 s at 2000 Hz)
            expected = np.concatenate([c["frame"], a["frame"] + 120_000,
                                       b["frame"] + 140_000])
            assert np.array_equal(ds["frame"], expected)
            assert np.all(np.diff(ds["frame"]) > 0)
            # index counts the output's events; index_online continues
            assert np.array_equal(ds["index"], np.arange(1, 76))
            assert np.array_equal(c["index_online"], np.arange(1, 26))
            assert np.array_equal(ds["index_online"], np.arange(1, 76))
            # no basins, the stored features are all shared ones
            assert ds.basins_get_dicts() == []
            assert "basinmap0" not in ds.features_innate
    finally:
        for d in (a, b, c):
            d.close()


def test_join_metadata_and_logs(three, joined):
    with cytolab.new_dataset(joined) as ds, cytolab.new_dataset(three["c"]) as c:
        exp = ds.config["experiment"]
        # metadata of the earliest recording (c), not of the first argument
        assert exp["time"] == "11:59:00" and exp["date"] == "2026-01-01"
        assert exp["sample"] == "simulated cells"
        assert ds.config["imaging"]["roi size x"] == 250
        assert ds.config["imaging"]["frame rate"] == RATE
        # a new measurement identifier
        mid = ds.get_measurement_identifier()
        ids = [cytolab.new_dataset(three[k]).get_measurement_identifier()
               for k in "abc"]
        assert mid not in ids and len(mid) == 36
        assert c.get_measurement_identifier() == ids[2]
        logs = ds.logs
        assert sorted(logs) == ["cytolab-join", "src-#1_cfg", "src-#2_cfg",
                                "src-#3_cfg"]
        for ii, when in enumerate(["11:59:00", "12:00:00", "12:00:10"], 1):
            lines = list(logs[f"src-#{ii}_cfg"])
            assert lines[0] == "[experiment]"
            assert f"time = {when}" in lines
            assert "frame rate = 2000.0" in lines
        log = json.loads("\n".join(logs["cytolab-join"]))
        assert log["verb"] == "join"
        assert [f["name"] for f in log["files"]] == ["c.rtdc", "a.rtdc", "b.rtdc"]
        assert log["files"][0]["md5-5M"] == hashlib.md5(
            three["c"].read_bytes()[:5 * 1024**2]).hexdigest()
        assert log["options"]["metadata"] == {}


def test_join_order_of_arguments_does_not_matter(three, joined, tmp_path):
    other = join([three["b"], three["c"], three["a"]], tmp_path / "other.rtdc")
    with cytolab.new_dataset(joined) as d1, cytolab.new_dataset(other) as d2:
        assert d1.features_innate == d2.features_innate
        for feat in d1.features_innate:
            assert np.array_equal(np.asarray(d1[feat][:]),
                                  np.asarray(d2[feat][:])), feat
        assert d1.config["experiment"] == d2.config["experiment"]


def test_join_inputs_untouched_and_no_leftovers(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 10, seed=1)
    b = simulated(tmp_path / "b.rtdc", 10, seed=2, time="12:01:00")
    before = snapshot([a, b])
    out = join([a, b], tmp_path / "out")
    assert out == tmp_path / "out.rtdc"
    assert snapshot([a, b]) == before
    assert folder_listing(tmp_path) == ["a.rtdc", "b.rtdc", "out.rtdc"]


def test_join_streams_images_in_blocks(three, joined, tmp_path, monkeypatch):
    # blocks of 3 images: many appends per input, same result
    monkeypatch.setattr(_join, "CHUNK_BYTES", 3 * 80 * 250)
    out = join([three["a"], three["b"], three["c"]], tmp_path / "small.rtdc")
    with cytolab.new_dataset(out) as d1, cytolab.new_dataset(joined) as d2:
        for feat in ("image", "mask", "image_bg"):
            assert np.array_equal(d1[feat][:], d2[feat][:])


def test_join_shared_features_only_with_warning(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 12, seed=1, traces=True)
    b = simulated(tmp_path / "b.rtdc", 8, seed=2, time="12:00:05")
    with pytest.warns(FeatureSetNotIdenticalJoinWarning) as record:
        out = join([a, b], tmp_path / "out.rtdc")
    message = str(record[0].message)
    assert "trace (not in b.rtdc)" in message
    assert "fl1_max (not in b.rtdc)" in message
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(b) as db:
        assert "trace" not in ds and "fl1_max" not in ds
        assert set(ds.features_innate) == set(db.features_innate) | {"index",
                                                                     "time"}
        logged = "\n".join(ds.logs["cytolab-join-warnings"])
        assert "FeatureSetNotIdenticalJoinWarning: Only features shared" in logged
        assert "trace (not in b.rtdc)" in logged


def test_join_traces(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 12, seed=1, traces=True)
    b = simulated(tmp_path / "b.rtdc", 8, seed=2, time="11:00:00", traces=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CytolabWarning)  # nothing to warn about
        out = join([a, b], tmp_path / "out.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(a) as da, \
            cytolab.new_dataset(b) as db:
        assert sorted(ds["trace"]) == sorted(da["trace"])
        for key in da["trace"]:
            assert np.array_equal(ds["trace"][key][:], np.concatenate(
                [db["trace"][key][:], da["trace"][key][:]]))
        assert np.array_equal(ds["fl2_max"], np.concatenate([db["fl2_max"],
                                                            da["fl2_max"]]))
        assert ds.config["fluorescence"]["samples per event"] == 177
        assert "cytolab-join-warnings" not in ds.logs


def test_join_unknown_recording_time_keeps_given_order(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 10, seed=1, time="13:00:00")
    b = simulated(tmp_path / "b.rtdc", 6, seed=2, time=None)
    with pytest.warns(JoinTimingWarning, match=r"unknown for \['b.rtdc'\]"):
        out = join([a, b], tmp_path / "out.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(a) as da, \
            cytolab.new_dataset(b) as db:
        assert np.array_equal(ds["deform"], np.concatenate([da["deform"],
                                                           db["deform"]]))
        # b follows a directly: one frame (period) after a's last event
        t_b = db["time"] - db["time"][0] + da["time"][-1] + 1 / RATE
        assert np.allclose(ds["time"], np.concatenate([da["time"], t_b]),
                           rtol=0, atol=1e-12)
        f_b = db["frame"] - db["frame"][0] + da["frame"][-1] + 1
        assert np.array_equal(ds["frame"], np.concatenate([da["frame"], f_b]))
        assert np.array_equal(ds["index_online"], np.arange(1, 17))
        assert ds.config["experiment"]["time"] == "13:00:00"
        assert "JoinTimingWarning" in "\n".join(ds.logs["cytolab-join-warnings"])


def test_join_overlapping_recordings_still_monotonic(tmp_path):
    # b starts 10 ms after a, but a lasts longer than that
    a = simulated(tmp_path / "a.rtdc", 40, seed=1, time="12:00:00")
    b = simulated(tmp_path / "b.rtdc", 5, seed=2, time="12:00:00.01")
    with cytolab.new_dataset(a) as da:
        assert da["time"][-1] > 0.01
        a_last_time, a_last_frame = da["time"][-1], da["frame"][-1]
    with pytest.warns(JoinTimingWarning, match="starts before the previous"):
        out = join([b, a], tmp_path / "out.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(b) as db:
        assert np.all(np.diff(ds["time"]) > 0)
        assert np.all(np.diff(ds["frame"]) > 0)
        assert ds["time"][40] == pytest.approx(a_last_time + 1 / RATE)
        assert ds["frame"][40] == a_last_frame + 1
        assert np.array_equal(ds["frame"][40:],
                              db["frame"] - db["frame"][0] + a_last_frame + 1)


def test_join_metadata_override(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 5, seed=1)
    b = simulated(tmp_path / "b.rtdc", 5, seed=2, time="12:00:01")
    meta = {"experiment": {"sample": "pooled", "run identifier": "my-run"},
            "user": {"operator": "Jane"}}
    out = join([a, b], tmp_path / "out.rtdc", metadata=meta)
    with cytolab.new_dataset(out) as ds:
        assert ds.config["experiment"]["sample"] == "pooled"
        assert ds.config["experiment"]["time"] == "12:00:00"  # kept
        assert ds.get_measurement_identifier() == "my-run"
        assert ds.config["user"]["operator"] == "Jane"
        log = json.loads("\n".join(ds.logs["cytolab-join"]))
        assert log["options"]["metadata"]["user"] == {"operator": "Jane"}


# ---------------------------------------------------------------- real data
def test_join_real_files(real_rtdc_files, tmp_path):
    fl = real_file(real_rtdc_files, "fmt-hdf5_fl_2018")  # 2018-12-11 10:04:03
    mc = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")  # 04-27 17:43:16
    before = snapshot([fl, mc])
    with pytest.warns(FeatureSetNotIdenticalJoinWarning) as record:
        out = join([fl, mc], tmp_path / "real.rtdc")
    dropped = str([w.message for w in record
                   if w.category is FeatureSetNotIdenticalJoinWarning][0])
    assert "contour (not in calibration_beads.rtdc)" in dropped
    assert "trace (not in mask_contour_reference.rtdc)" in dropped
    assert snapshot([fl, mc]) == before
    delta = (datetime.datetime(2018, 12, 11, 10, 4, 3)
             - datetime.datetime(2018, 4, 27, 17, 43, 16)).total_seconds()
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(fl) as dfl, \
            cytolab.new_dataset(mc) as dmc:
        assert len(ds) == len(dmc) + len(dfl) == 15
        assert ds.config["experiment"]["date"] == "2018-04-27"
        assert ds.config["imaging"]["frame rate"] == 4000.0
        assert np.array_equal(ds["time"], np.concatenate(
            [dmc["time"], dfl["time"] + delta]))
        assert np.array_equal(ds["frame"], np.concatenate(
            [dmc["frame"], dfl["frame"] + round(delta * 4000)]))
        for feat in ("image", "mask", "deform", "bright_avg"):
            assert np.array_equal(np.asarray(ds[feat][:]), np.concatenate(
                [np.asarray(dmc[feat][:]), np.asarray(dfl[feat][:])])), feat
        assert "contour" not in ds.features_innate
        assert "date = 2018-04-27" in list(ds.logs["src-#1_cfg"])
        assert "date = 2018-12-11" in list(ds.logs["src-#2_cfg"])
        logged = "\n".join(ds.logs["cytolab-join-warnings"])
        assert "different frame rates" in logged


def test_join_real_contours_and_logs(real_rtdc_files, tmp_path):
    mc = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    copy = tmp_path / "copy.rtdc"
    shutil.copy(mc, copy)
    # the same recording time: the copy follows the original directly
    with pytest.warns(JoinTimingWarning, match="starts before the previous"):
        out = join([mc, copy], tmp_path / "twice.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(mc) as dmc:
        assert len(ds) == 16
        assert "contour" in ds.features_innate
        for ii in range(16):
            assert np.array_equal(ds["contour"][ii], dmc["contour"][ii % 8])
        assert np.all(np.diff(ds["frame"]) > 0)

    raw = real_file(real_rtdc_files, "fmt-hdf5_shapein_raw-with-variable-length-logs")
    copy = tmp_path / "raw_copy.rtdc"
    shutil.copy(raw, copy)
    with pytest.warns(JoinTimingWarning):
        out = join([raw, copy], tmp_path / "raw.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(raw) as draw:
        assert list(ds.logs["src-#2_M1_para.ini"]) == list(draw.logs["M1_para.ini"])
        assert np.array_equal(ds["image"][20:], draw["image"][:])


# ---------------------------------------------------------------- bad input
def _two_image_files(tmp_path, shape_a, shape_b, names=("a.rtdc", "b.rtdc")):
    paths = []
    for name, shape in zip(names, (shape_a, shape_b)):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        with cytolab.RTDCWriter(path, mode="reset") as hw:
            hw.store_metadata({"experiment": {"date": "2026-01-01",
                                              "time": f"12:00:0{len(paths)}"}})
            hw.store_feature("deform", np.linspace(0, 0.1, 4))
            hw.store_feature("image", np.full((4,) + shape, 7, np.uint8))
        paths.append(path)
    return paths


def test_join_different_image_shapes_fails_before_writing(tmp_path):
    a, b = _two_image_files(tmp_path, (10, 20), (12, 20))
    before = snapshot([a, b])
    with pytest.raises(FeatureShapeError, match=r"images of different shapes"
                       r".*\(10, 20\) in 'a.rtdc', \(12, 20\) in 'b.rtdc'"):
        join([a, b], tmp_path / "out.rtdc")
    assert folder_listing(tmp_path) == ["a.rtdc", "b.rtdc"]
    assert snapshot([a, b]) == before


def test_join_same_file_names_are_told_apart(tmp_path):
    # Shape-In names every measurement M001_data.rtdc: messages give paths
    a, b = _two_image_files(tmp_path, (10, 20), (12, 20),
                            names=("d1/M001_data.rtdc", "d2/M001_data.rtdc"))
    with pytest.raises(FeatureShapeError) as exc:
        join([a, b], tmp_path / "out.rtdc")
    assert f"(10, 20) in '{a}', (12, 20) in '{b}'" in str(exc.value)
    assert not (tmp_path / "out.rtdc").exists()


def test_join_real_different_image_shapes(real_rtdc_files, tmp_path):
    fl17 = real_file(real_rtdc_files, "fmt-hdf5_fl_2017")  # 50 x 90
    fl18 = real_file(real_rtdc_files, "fmt-hdf5_fl_2018")  # 80 x 250
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytolabWarning)
        with pytest.raises(FeatureShapeError, match="artificial_hdf5.rtdc"):
            join([fl17, fl18], tmp_path / "out.rtdc")
    assert folder_listing(tmp_path) == []


def test_join_bad_input(tmp_path):
    a = simulated(tmp_path / "a.rtdc", 5, seed=1)
    b = simulated(tmp_path / "b.rtdc", 5, seed=2)
    text = tmp_path / "notes.txt"
    text.write_text("not a measurement")
    noevents = tmp_path / "plain.h5"
    with h5py.File(noevents, "w") as h5:
        h5["data"] = np.arange(3)
    existing = tmp_path / "exists.rtdc"
    existing.write_bytes(b"keep me")
    before = snapshot([a, b, text, noevents, existing])
    listing = folder_listing(tmp_path)

    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        join([a, tmp_path / "missing.rtdc"], tmp_path / "out.rtdc")
    with pytest.raises(FileExistsError, match="exists.rtdc"):
        join([a, b], existing)
    with pytest.raises(FileNotFoundError, match="Output folder does not exist"):
        join([a, b], tmp_path / "nowhere" / "out.rtdc")
    with pytest.raises(ValueError, match="at least one input"):
        join([], tmp_path / "out.rtdc")
    with pytest.raises(CytolabError, match="notes.txt.*not an RT-DC"):
        join([a, text], tmp_path / "out.rtdc")
    with pytest.raises(CytolabError, match="plain.h5.*no 'events' group"):
        join([a, noevents], tmp_path / "out.rtdc")
    with pytest.raises(ValueError, match="is also an input"):
        join([a, b], a)
    with pytest.raises(ValueError, match="given twice"):
        join([a, b, tmp_path / "." / "a.rtdc"], tmp_path / "out.rtdc")
    with pytest.raises(ValueError, match="Invalid `metadata`.*nonsense"):
        join([a, b], tmp_path / "out.rtdc", metadata={"nonsense": {"x": 1}})
    with pytest.raises(ValueError, match="Invalid `metadata`.*run index"):
        join([a, b], tmp_path / "out.rtdc",
             metadata={"experiment": {"run index": "first"}})
    with pytest.raises(ValueError, match="dict of sections"):
        join([a, b], tmp_path / "out.rtdc", metadata={"experiment": 3})
    assert folder_listing(tmp_path) == listing
    assert snapshot([a, b, text, noevents, existing]) == before


def test_join_error_while_writing_leaves_nothing(tmp_path, monkeypatch):
    a = simulated(tmp_path / "a.rtdc", 5, seed=1, images=True)
    b = simulated(tmp_path / "b.rtdc", 5, seed=2, images=True)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_join, "_copy_nonscalar", broken)
    with pytest.raises(OSError, match="disk full"):
        join([a, b], tmp_path / "out.rtdc")
    assert folder_listing(tmp_path) == ["a.rtdc", "b.rtdc"]


def test_join_no_shared_features(tmp_path):
    paths = []
    for name, feat in (("a", "deform"), ("b", "area_um")):
        path = tmp_path / f"{name}.rtdc"
        with cytolab.RTDCWriter(path, mode="reset") as hw:
            hw.store_feature(feat, np.ones(3))
        paths.append(path)
    with warnings.catch_warnings(record=True) as record, \
            pytest.raises(ValueError, match="no features in common"):
        warnings.simplefilter("always")
        join(paths, tmp_path / "out.rtdc")
    assert {w.category for w in record} == {JoinTimingWarning,
                                            FeatureSetNotIdenticalJoinWarning}
    assert folder_listing(tmp_path) == ["a.rtdc", "b.rtdc"]


# ------------------------------------------------------------------- CLI
def test_join_command_line(three, tmp_path, capsys):
    out = tmp_path / "cli.rtdc"
    args = ["join", "-o", str(out), str(three["b"]), str(three["a"])]
    assert main(args) == 0
    assert f"joined 2 files into {out}" in capsys.readouterr().out
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(three["a"]) as da:
        assert len(ds) == 50
        assert np.array_equal(ds["deform"][:30], da["deform"])
        assert ds.config["experiment"]["time"] == "12:00:00"
    # the output exists now: exit code 1 with the reason
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "cytolab join: error: Output file exists" in err and "cli.rtdc" in err
    assert main(["join", "-o", str(tmp_path / "x.rtdc"),
                 str(tmp_path / "missing.rtdc")]) == 1
    assert "missing.rtdc" in capsys.readouterr().err
    assert not (tmp_path / "x.rtdc").exists()
    with pytest.raises(SystemExit) as exc:  # no input at all
        main(["join", "-o", str(tmp_path / "x.rtdc")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["join", "--help"])
    assert exc.value.code == 0
    assert "cytolab join -o joined.rtdc" in capsys.readouterr().out
