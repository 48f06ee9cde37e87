"""`cytolab tdms2rtdc`: legacy .tdms measurements to .rtdc files."""
from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
import warnings

import numpy as np
import pytest

import cytolab
from cytolab import definitions as dfn
from cytolab.cli import tdms2rtdc
from cytolab.cli.main import main
from cytolab.rtdc.formats.tdms import RTDC_TDMS, IncompleteTDMSError

pytest.importorskip("nptdms")
pytest.importorskip("imageio_ffmpeg")

#: archive -> (measurement file, events, events written by default)
ARCHIVES = {
    "fmt-tdms_2fl-no-image_2017": ("M1_data.tdms", 137, slice(0, 137)),
    "fmt-tdms_fl-image-large-fov_2017": ("M14_0.024000ul_s.tdms", 1279,
                                         slice(1, 1278)),
    "fmt-tdms_fl-image_2016": ("M1_20160905_greenBeads.tdms", 44, slice(1, 43)),
    "fmt-tdms_fl_2015": ("M1_20151026_1142_Laura-DyeCycle_1h.tdms", 919,
                         slice(0, 919)),
    "fmt-tdms_minimal_2016": ("M1_2us_70A_0.120000ul_s.tdms", 155, slice(0, 155)),
    "fmt-tdms_shapein-2.0.1-no-image_2017": ("M1_data.tdms", 547, slice(0, 547)),
}
#: output metadata set from the data by the writer (not in the TDMS config)
RECTIFIED = {("fluorescence", "channel count"), ("imaging", "roi size x"),
             ("imaging", "roi size y"), ("fluorescence", "samples per event")}


def tdms_path(real_tdms_dirs, name: str) -> pathlib.Path:
    if name not in real_tdms_dirs:
        pytest.skip(f"archive {name} not available")
    return real_tdms_dirs[name] / ARCHIVES[name][0]


def snapshot(folder: pathlib.Path) -> dict:
    return {p: (p.stat().st_mtime_ns, hashlib.md5(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def quiet_tdms(path) -> RTDC_TDMS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RTDC_TDMS(path)


def assert_same_data(src: RTDC_TDMS, out, sel: slice) -> None:
    """Every stored feature and metadata value of `src` is in `out`."""
    assert len(out) == sel.stop - sel.start
    assert set(src.features_innate) <= set(out.features_innate)
    for feat in src.features_innate:
        if dfn.scalar_feature_exists(feat):
            expected = np.asarray(src[feat])[sel]
            assert np.array_equal(out[feat], expected, equal_nan=True), feat
            assert out[feat].dtype == expected.dtype, feat
        elif feat == "trace":
            assert sorted(out["trace"]) == sorted(src["trace"])
            for key, trace in src["trace"].items():
                assert np.array_equal(out["trace"][key][:], trace[sel]), key
        elif feat == "contour":
            for ii in range(sel.start, sel.stop):
                assert np.array_equal(out["contour"][ii - sel.start],
                                      src["contour"][ii]), ii
        else:  # image, mask
            assert np.array_equal(out[feat][:], src[feat][sel]), feat
            assert out[feat].dtype == src[feat].dtype
    for section in src.config.keys():
        if section in ("filtering", "calculation", "fmt_tdms"):
            continue
        for key, value in src.config[section].items():
            if (section, key) == ("experiment", "event count"):
                assert out.config[section][key] == len(out)
            elif (section, key) == ("setup", "software version"):
                assert out.config[section][key].startswith(value + " | cytolab")
            else:
                assert out.config[section][key] == value, (section, key)
    for section in out.config.keys():
        for key in out.config[section]:
            if section in ("filtering", "calculation") or (section, key) in RECTIFIED:
                continue
            assert key in src.config[section] or (section, key) == \
                ("setup", "software version"), (section, key)
    for section, key in RECTIFIED:
        if key in src.config[section] and key in out.config[section]:
            assert out.config[section][key] == src.config[section][key]


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_roundtrip_every_archive(real_tdms_dirs, tmp_path, name):
    path = tdms_path(real_tdms_dirs, name)
    _, events, sel = ARCHIVES[name]
    before = snapshot(path.parent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = tdms2rtdc(path, tmp_path / "out")
    assert written == [tmp_path / "out.rtdc"]
    with quiet_tdms(path) as src, cytolab.new_dataset(written[0]) as out:
        assert len(src) == events
        assert_same_data(src, out, sel)
        details = json.loads("\n".join(out.logs["cytolab-tdms2rtdc-details"]))
        assert details["events in source"] == events
        assert details["events written"] == sel.stop - sel.start
        assert details["skipped events"] == [i for i in (0, events - 1)
                                             if not sel.start <= i < sel.stop]
        assert details["features copied"] == [f for f in src.features_innate
                                              if f != "mask"]
        assert details["features computed"] == (["mask"] if "mask" in src.features
                                                else [])
        for log in src.logs:
            assert out.logs[log] == src.logs[log]
    assert snapshot(path.parent) == before  # inputs untouched


def test_boundary_images_kept_on_request(real_tdms_dirs, tmp_path):
    path = tdms_path(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["tdms2rtdc", "--include-empty-boundary-images", str(path),
                     str(tmp_path / "all.rtdc")]) == 0
    with quiet_tdms(path) as src, cytolab.new_dataset(tmp_path / "all.rtdc") as out:
        assert len(out) == 44
        assert not out["image"][0].any() and out["image"][1].any()
        assert_same_data(src, out, slice(0, 44))
        assert out.config["experiment"]["event count"] == 44


def test_compute_ancillary_features(real_tdms_dirs, tmp_path, capsys):
    path = tdms_path(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["tdms2rtdc", "--compute-ancillary-features", str(path),
                     str(tmp_path / "anc")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'anc.rtdc'}"
    with quiet_tdms(path) as src, cytolab.new_dataset(tmp_path / "anc.rtdc") as out:
        details = json.loads("\n".join(out.logs["cytolab-tdms2rtdc-details"]))
        computed = details["features computed"]
        assert computed[0] == "mask"
        assert {"time", "area_um", "volume", "bright_avg", "tilt"} <= set(computed)
        for feat in computed[1:]:
            assert feat in out.features_innate, feat
            assert np.allclose(out[feat], src[feat][1:43], equal_nan=True), feat
        assert np.allclose(out["time"], (src["frame"][1:43] - 750) / 1000.0)
        log = json.loads("\n".join(out.logs["cytolab-tdms2rtdc"]))
        assert log["verb"] == "tdms2rtdc"
        assert log["options"] == {"compute_features": True,
                                  "skip_initial_empty_image": True,
                                  "skip_final_empty_image": True}
        assert log["files"][0]["name"] == path.name
        warned = "\n".join(out.logs["cytolab-tdms2rtdc-warnings"])
        assert "MissingFramesWarning" in warned and "TraceWarning" in warned


def test_folder_tree_mirrored_and_overwritten(real_tdms_dirs, tmp_path, capsys):
    names = ["fmt-tdms_fl_2015", "fmt-tdms_minimal_2016"]
    root = tmp_path / "in"
    for name in names:
        shutil.copytree(tdms_path(real_tdms_dirs, name).parent,
                        root / "project" / name / "online")
    out = tmp_path / "out"
    before = snapshot(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["tdms2rtdc", str(root), str(out)]) == 0
    expected = [out / "project" / name / "online" /
                pathlib.Path(ARCHIVES[name][0]).with_suffix(".rtdc") for name in names]
    assert capsys.readouterr().out.splitlines() == [f"wrote {p}" for p in expected]
    stamps = [p.stat().st_mtime_ns for p in expected]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = tdms2rtdc(root, out)  # existing outputs are overwritten
    assert again == expected
    assert all(p.stat().st_mtime_ns >= s for p, s in zip(expected, stamps))
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == \
        sorted(p.name for p in expected)  # no temporary files left
    with cytolab.new_dataset(expected[0]) as ds:
        assert len(ds) == 919 and ds.config["experiment"]["sample"] == names[0]
    assert snapshot(root) == before


def test_output_folder_for_single_file(real_tdms_dirs, tmp_path):
    path = tdms_path(real_tdms_dirs, "fmt-tdms_shapein-2.0.1-no-image_2017")
    written = tdms2rtdc(path, tmp_path)
    assert written == [tmp_path / "M1_data.rtdc"]
    (tmp_path / "sub").mkdir()
    written = tdms2rtdc(path, tmp_path / "sub" / "named")
    assert written == [tmp_path / "sub" / "named.rtdc"]


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tdms2rtdc", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "cytolab tdms2rtdc /data" in text and "--compute-ancillary-features" in text
    assert "--include-empty-boundary-images" in text


# --------------------------------------------------------------- bad input
def test_missing_input(tmp_path, capsys):
    assert main(["tdms2rtdc", str(tmp_path / "M1_x.tdms"), str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and "M1_x.tdms" in err
    with pytest.raises(FileNotFoundError):
        tdms2rtdc(tmp_path / "M1_x.tdms", tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


def test_input_not_a_measurement(real_tdms_dirs, tmp_path):
    path = tdms_path(real_tdms_dirs, "fmt-tdms_fl-image_2016")
    with pytest.raises(ValueError, match="trace file"):
        tdms2rtdc(path.with_name(path.stem + "_traces.tdms"), tmp_path / "o")
    other = tmp_path / "data.rtdc"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .tdms file"):
        tdms2rtdc(other, tmp_path / "o")
    with pytest.raises(ValueError, match="No .tdms measurements"):
        tdms2rtdc(tmp_path, tmp_path / "o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.rtdc"]


def test_output_folder_missing_or_file(real_tdms_dirs, tmp_path, capsys):
    path = tdms_path(real_tdms_dirs, "fmt-tdms_fl_2015")
    assert main(["tdms2rtdc", str(path), str(tmp_path / "no" / "o.rtdc")]) == 1
    assert "Output folder does not exist" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        tdms2rtdc(path.parent, tmp_path / "no" / "out")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ValueError, match="is a file"):
        tdms2rtdc(path.parent, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_missing_para_ini_writes_nothing(real_tdms_dirs, tmp_path, capsys):
    root = tmp_path / "in"
    for name in ("fmt-tdms_fl_2015", "fmt-tdms_minimal_2016"):
        shutil.copytree(tdms_path(real_tdms_dirs, name).parent, root / name)
    (root / "fmt-tdms_minimal_2016" / "M1_para.ini").unlink()
    assert main(["tdms2rtdc", str(root), str(tmp_path / "out")]) == 1
    assert "missing M1_para.ini" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # checked before any conversion
    with pytest.raises(IncompleteTDMSError, match="M1_para.ini"):
        tdms2rtdc(root / "fmt-tdms_minimal_2016" / ARCHIVES[
            "fmt-tdms_minimal_2016"][0], tmp_path / "m.rtdc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_corrupt_tdms_writes_nothing(real_tdms_dirs, tmp_path, capsys):
    src = tdms_path(real_tdms_dirs, "fmt-tdms_fl_2015")
    shutil.copytree(src.parent, tmp_path / "m")
    path = tmp_path / "m" / src.name
    path.write_bytes(b"this is no TDMS file" * 10)
    target = tmp_path / "out.rtdc"
    target.write_bytes(b"old content")
    assert main(["tdms2rtdc", str(path), str(target)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err
    assert target.read_bytes() == b"old content"  # not replaced on failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "out.rtdc"]
