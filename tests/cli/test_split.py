"""`cytolab split`: parts of at most N events, linked to the input by a basin."""
from __future__ import annotations

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
from cytolab.cli import join, split
from cytolab.cli.main import main
from cytolab.errors import CytolabError, CytolabWarning
from cytolab.rtdc.export import Export
from cytolab.simulate import simulate_rtdc


# ----------------------------------------------------------------- helpers
def snapshot(paths) -> dict[pathlib.Path, tuple[str, int]]:
    return {pathlib.Path(p): (hashlib.md5(pathlib.Path(p).read_bytes()).hexdigest(),
                              pathlib.Path(p).stat().st_mtime_ns) for p in paths}


def folder_listing(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_parts_match(parts, source, bounds, nonscalar=()):
    """Every event of each part equals the source event it came from."""
    with cytolab.new_dataset(source) as src:
        scalar = [f for f in src.features_innate
                  if cytolab.dfn.scalar_feature_exists(f) and f != "index"]
        scalar += ["time"]
        for part, (start, stop) in zip(parts, bounds):
            with cytolab.new_dataset(part) as ds:
                assert len(ds) == stop - start
                assert ds.config["experiment"]["event count"] == stop - start
                assert np.array_equal(ds["index"], np.arange(1, stop - start + 1))
                if stop - start < len(src):
                    assert np.array_equal(ds["basinmap0"], np.arange(start, stop))
                for feat in scalar:
                    assert np.array_equal(ds[feat], src[feat][start:stop],
                                          equal_nan=True), feat
                for feat in nonscalar:
                    assert feat in ds.features_basin, feat
                    if feat == "contour":
                        for ii in range(stop - start):
                            assert np.array_equal(ds["contour"][ii],
                                                  src["contour"][start + ii])
                    elif feat == "trace":
                        for key in src["trace"]:
                            assert np.array_equal(ds["trace"][key][:],
                                                  src["trace"][key][start:stop])
                    else:
                        assert np.array_equal(ds[feat][:], src[feat][start:stop])


@pytest.fixture(scope="module")
def imaged(tmp_path_factory) -> pathlib.Path:
    """45 simulated events with images, masks, backgrounds and traces."""
    folder = tmp_path_factory.mktemp("split_src")
    return simulate_rtdc(folder / "meas.rtdc", num_events=45, images=True,
                         traces=True, seed=7)


# ----------------------------------------------------------- simulated data
def test_split_simulated_with_images(imaged, tmp_path):
    before = snapshot([imaged])
    parts = split(imaged, path_out=tmp_path, split_events=20)
    assert parts == [tmp_path / f"meas_000{ii}.rtdc" for ii in (1, 2, 3)]
    assert folder_listing(tmp_path) == [p.name for p in parts]  # no leftovers
    assert snapshot([imaged]) == before
    assert_parts_match(parts, imaged, [(0, 20), (20, 40), (40, 45)],
                       nonscalar=("image", "mask", "image_bg", "trace"))
    # the parts are small: the image data stay in the input
    for part in parts:
        assert part.stat().st_size < imaged.stat().st_size / 4
        with cytolab.new_dataset(part) as ds:
            assert "image" not in ds.features_innate
            assert ds["fl1_max"].size == len(ds)  # stored scalar feature


def test_split_part_metadata_and_logs(imaged, tmp_path):
    parts = split(imaged, path_out=tmp_path, split_events=20)
    with cytolab.new_dataset(imaged) as src:
        mid = src.get_measurement_identifier()
    ids = set()
    for ii, part in enumerate(parts, 1):
        with cytolab.new_dataset(part) as ds:
            ids.add(ds.get_measurement_identifier())
            assert ds.get_measurement_identifier().startswith(f"{mid}_")
            assert ds.config["experiment"]["time"] == "12:00:00"
            log = json.loads("\n".join(ds.logs["cytolab-split"]))
            assert log["verb"] == "split"
            assert log["files"][0]["name"] == "meas.rtdc"
            assert log["options"]["part"] == ii
            assert log["options"]["parts"] == 3
            assert log["options"]["split_events"] == 20
            assert log["options"]["events"] == [20 * (ii - 1), min(20 * ii, 45)]
            assert "cytolab-export" in ds.logs
            (bdict,) = ds.basins_get_dicts()
            assert bdict["type"] == "file" and bdict["mapping"] == "basinmap0"
            assert str(imaged) in bdict["paths"]
    assert len(ids) == 3


def test_split_then_join_gives_back_the_measurement(imaged, tmp_path):
    parts = split(imaged, path_out=tmp_path, split_events=16)
    assert len(parts) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", CytolabWarning)  # same features, times
        out = join(parts[::-1], tmp_path / "joined.rtdc")
    with cytolab.new_dataset(out) as ds, cytolab.new_dataset(imaged) as src:
        assert len(ds) == 45
        for feat in src.features_innate + ["time"]:
            if feat == "trace":
                for key in src["trace"]:
                    assert np.array_equal(ds["trace"][key][:],
                                          src["trace"][key][:])
            else:
                assert np.array_equal(np.asarray(ds[feat][:]),
                                      np.asarray(src[feat][:])), feat
        assert ds.basins_get_dicts() == []


def test_split_skips_empty_boundary_images(tmp_path):
    src = simulate_rtdc(tmp_path / "tdms.rtdc", num_events=12, images=True,
                        seed=3)
    with h5py.File(src, "a") as h5:  # as old tdms conversions had them
        h5["events/image"][0] = 0
        h5["events/image"][11] = 0
    out = tmp_path / "out"
    out.mkdir()
    parts = split(src, path_out=out, split_events=5)
    assert [p.name for p in parts] == ["tdms_0001.rtdc", "tdms_0002.rtdc"]
    assert_parts_match(parts, src, [(1, 6), (6, 11)], nonscalar=("image",))
    for part in parts:
        part.unlink()
    # only the first one
    parts = split(src, path_out=out, split_events=5,
                  skip_final_empty_image=False)
    assert_parts_match(parts, src, [(1, 6), (6, 11), (11, 12)])
    for part in parts:
        part.unlink()
    # kept on request (command line)
    assert main(["split", str(src), "--path-out", str(out), "--split-events",
                 "5", "--include-empty-boundary-images"]) == 0
    parts = sorted(out.iterdir())
    assert_parts_match(parts, src, [(0, 5), (5, 10), (10, 12)],
                       nonscalar=("image",))


def test_split_only_empty_images(tmp_path):
    src = simulate_rtdc(tmp_path / "dark.rtdc", num_events=2, images=True,
                        seed=3)
    with h5py.File(src, "a") as h5:
        h5["events/image"][:] = 0
    with pytest.raises(CytolabError, match="only events with empty images"):
        split(src)
    assert folder_listing(tmp_path) == ["dark.rtdc"]
    assert len(split(src, skip_initial_empty_image=False)) == 1


def test_split_one_part_when_n_exceeds_length(tmp_path):
    src = simulate_rtdc(tmp_path / "few.rtdc", num_events=7, seed=1)
    parts = split(src, split_events=10000)  # default folder: the input's
    assert parts == [tmp_path / "few_0001.rtdc"]
    assert_parts_match(parts, src, [(0, 7)])
    with cytolab.new_dataset(parts[0]) as ds, cytolab.new_dataset(src) as ds0:
        (bdict,) = ds.basins_get_dicts()  # all events: basin not mapped
        assert bdict["mapping"] == "same"
        assert ds.get_measurement_identifier() == \
            ds0.get_measurement_identifier()
    parts[0].unlink()
    # the reference's ret_out_paths=False: the list is returned anyway
    assert split(src, split_events=4, ret_out_paths=False) == [
        tmp_path / "few_0001.rtdc", tmp_path / "few_0002.rtdc"]


def test_split_ignores_filters_stored_in_the_file(tmp_path):
    src = simulate_rtdc(tmp_path / "f.rtdc", num_events=20, seed=1)
    with h5py.File(src, "a") as h5:  # a gate saved by an analysis program
        h5.attrs["filtering:deform min"] = 0.0
        h5.attrs["filtering:deform max"] = 0.02
        h5.attrs["filtering:limit events"] = 5
    with cytolab.new_dataset(src) as ds:
        ds.apply_filter()
        assert np.count_nonzero(ds.filter.all) == 5
    parts = split(src, split_events=8)
    assert_parts_match(parts, src, [(0, 8), (8, 16), (16, 20)])


def test_split_many_parts_names(tmp_path):
    src = simulate_rtdc(tmp_path / "m.rtdc", num_events=23, seed=1)
    out = tmp_path / "parts"
    out.mkdir()
    parts = split(src, path_out=out, split_events=2)
    assert [p.name for p in parts] == [f"m_{ii:04d}.rtdc" for ii in range(1, 13)]
    assert_parts_match(parts, src, [(a, min(a + 2, 23)) for a in range(0, 23, 2)])


# ---------------------------------------------------------------- real data
def test_split_real_measurement(real_rtdc_files, tmp_path):
    src = real_file(real_rtdc_files, "example")  # 5000 events, scalar only
    before = snapshot([src])
    parts = split(src, path_out=tmp_path, split_events=1500)
    assert [p.name for p in parts] == [f"example_000{ii}.rtdc" for ii in range(1, 5)]
    assert_parts_match(parts, src, [(0, 1500), (1500, 3000), (3000, 4500),
                                    (4500, 5000)])
    assert snapshot([src]) == before


def test_split_real_images_contours_traces(real_rtdc_files, tmp_path):
    mc = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")  # 8 events
    before = snapshot([mc])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytolabWarning)  # float32 time etc.
        parts = split(mc, path_out=tmp_path, split_events=3)
        assert_parts_match(parts, mc, [(0, 3), (3, 6), (6, 8)],
                           nonscalar=("image", "mask", "contour"))
    assert snapshot([mc]) == before

    fl = real_file(real_rtdc_files, "fmt-hdf5_fl_2018")  # 7 events
    out = tmp_path / "fl"
    out.mkdir()
    parts = split(fl, path_out=out, split_events=4)
    assert_parts_match(parts, fl, [(0, 4), (4, 7)],
                       nonscalar=("image", "mask", "trace"))


def test_split_real_logs_are_kept(real_rtdc_files, tmp_path):
    raw = real_file(real_rtdc_files, "fmt-hdf5_shapein_raw-with-variable-length-logs")
    parts = split(raw, path_out=tmp_path, split_events=15)
    with cytolab.new_dataset(parts[1]) as ds, cytolab.new_dataset(raw) as src:
        assert len(ds) == 5
        assert list(ds.logs["src_M1_para.ini"]) == list(src.logs["M1_para.ini"])
        assert np.array_equal(ds["image"][:], src["image"][15:20])


def test_split_real_empty_file(real_rtdc_files, tmp_path):
    empty = real_file(real_rtdc_files, "fmt-hdf5_shapein_empty")
    with pytest.raises(CytolabError, match="has no events"):
        split(empty, path_out=tmp_path)
    assert folder_listing(tmp_path) == []


# ---------------------------------------------------------------- bad input
def test_split_bad_split_events(tmp_path):
    src = simulate_rtdc(tmp_path / "s.rtdc", num_events=5, seed=1)
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="positive integer"):
            split(src, split_events=bad)
    assert folder_listing(tmp_path) == ["s.rtdc"]


def test_split_bad_paths(tmp_path):
    src = simulate_rtdc(tmp_path / "s.rtdc", num_events=5, seed=1)
    text = tmp_path / "notes.txt"
    text.write_text("no measurement")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as h5:
        h5["x"] = 1
    listing = folder_listing(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        split(tmp_path / "missing.rtdc")
    with pytest.raises(FileNotFoundError, match="Output folder does not exist"):
        split(src, path_out=tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="notes.txt"):
        split(src, path_out=text)
    with pytest.raises(CytolabError, match="notes.txt.*not an RT-DC"):
        split(text)
    with pytest.raises(CytolabError, match="plain.h5.*no 'events' group"):
        split(plain)
    with pytest.raises(IsADirectoryError):
        split(tmp_path)
    empty = simulate_rtdc(tmp_path / "empty.rtdc", num_events=0, seed=1)
    with pytest.raises(CytolabError, match="empty.rtdc' has no events"):
        split(empty)
    assert folder_listing(tmp_path) == sorted(listing + ["empty.rtdc"])


def test_split_existing_part_is_not_replaced(tmp_path):
    src = simulate_rtdc(tmp_path / "s.rtdc", num_events=30, seed=1)
    existing = tmp_path / "s_0002.rtdc"
    existing.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="s_0002.rtdc"):
        split(src, split_events=10)
    # checked before writing: no part 1 either
    assert folder_listing(tmp_path) == ["s.rtdc", "s_0002.rtdc"]
    assert existing.read_bytes() == b"mine"


def test_split_failure_removes_written_parts(tmp_path, monkeypatch):
    src = simulate_rtdc(tmp_path / "s.rtdc", num_events=30, images=True, seed=1)
    before = snapshot([src])
    calls = []
    original = Export.hdf5

    def failing_on_second(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Export, "hdf5", failing_on_second)
    with pytest.raises(OSError, match="disk full"):
        split(src, split_events=10)
    assert len(calls) == 2  # the first part had been written
    assert folder_listing(tmp_path) == ["s.rtdc"]  # and was removed again
    assert snapshot([src]) == before
    # same through the command line: exit code 1, nothing left
    calls.clear()
    assert main(["split", str(src), "--split-events", "10"]) == 1
    assert folder_listing(tmp_path) == ["s.rtdc"]


# ------------------------------------------------------------------- CLI
def test_split_command_line(tmp_path, capsys):
    src = simulate_rtdc(tmp_path / "c.rtdc", num_events=25, seed=1)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["split", str(src), "--path-out", str(out),
                 "--split-events", "10"]) == 0
    stdout = capsys.readouterr().out
    assert str(out / "c_0003.rtdc") in stdout
    assert f"split '{src}' into 3 files" in stdout
    assert_parts_match(sorted(out.iterdir()), src, [(0, 10), (10, 20), (20, 25)])
    # reference spelling of the option, default folder
    assert main(["split", str(src), "--path_out", str(tmp_path)]) == 0
    assert (tmp_path / "c_0001.rtdc").exists()
    # errors: exit code 1 with the reason, nothing written
    assert main(["split", str(src), "--split-events", "0"]) == 1
    assert "positive integer" in capsys.readouterr().err
    assert main(["split", str(src), "--split-events", "-5",
                 "--path-out", str(tmp_path / "new")]) == 1
    assert main(["split", str(src), "--path-out", str(tmp_path / "nowhere")]) == 1
    assert "Output folder does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["split", str(src), "--split-events", "many"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["split", "--help"])
    assert exc.value.code == 0
    assert "cytolab split measurement.rtdc" in capsys.readouterr().out
    assert folder_listing(tmp_path) == ["c.rtdc", "c_0001.rtdc", "out"]
    # the parts work without the input's folder being the current one
    shutil.rmtree(out)
