"""`cytolab compress`: lossless Zstandard copy of .rtdc files."""
from __future__ import annotations

import json
import os
import pathlib

import h5py
import hdf5plugin
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.cli import compress
from cytolab.cli.main import main
from cytolab.errors import CytolabError
from cytolab.io.copier import is_properly_compressed
from cytolab.io.files import md5_5m, md5sum
from cytolab.simulate import simulate_rtdc

REAL_FILES = [
    "fmt-hdf5_fl_2017",                      # contour, image, traces, logs
    "fmt-hdf5_mask-contour_2018",            # contour and mask
    "fmt-hdf5_image-bg_2020",                # image_bg
    "fmt-hdf5_raw-cytoshot-exported",        # tables and logs
    "fmt-hdf5_segfault-compound_2023",       # compound tables
    "fmt-hdf5_shapein_raw-with-variable-length-logs",
    "fmt-hdf5_cytoshot_full-features_2023",  # user metadata
    "example_traces",
]


# helpers ---------------------------------------------------------------------


def fingerprint(path: pathlib.Path) -> tuple[str, int]:
    """Full MD5 and modification time (ns) of a file."""
    return md5sum(path), os.stat(path).st_mtime_ns


def h5_objects(h5: h5py.File) -> dict[str, h5py.Dataset | h5py.Group]:
    """Every group and dataset of a file by path (hard links)."""
    found: dict[str, h5py.Dataset | h5py.Group] = {}
    h5.visititems(lambda name, obj: found.__setitem__(name, obj))
    return found


def filter_ids(dset: h5py.Dataset) -> dict[int, tuple[int, ...]]:
    plist = dset.id.get_create_plist()
    return {int(plist.get_filter(ii)[0]): tuple(plist.get_filter(ii)[2])
            for ii in range(plist.get_nfilters())}


def assert_values_equal(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype, what
    assert a.shape == b.shape, what
    if a.dtype.kind == "f":
        assert np.array_equal(a, b, equal_nan=True), what
    elif a.dtype.names:  # compound tables
        for name in a.dtype.names:
            assert_values_equal(a[name], b[name], f"{what}[{name}]")
    else:
        assert np.array_equal(a, b), what


def assert_attrs_equal(src, dst, what: str, superset: bool = False) -> None:
    for key in src.attrs:
        assert key in dst.attrs, f"{what}: attribute {key!r} missing"
        a, b = src.attrs[key], dst.attrs[key]
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b), f"{what}: attribute {key!r}"
        else:
            assert a == b, f"{what}: attribute {key!r}: {a!r} != {b!r}"
    if not superset:
        assert set(dst.attrs) == set(src.attrs), what


def assert_same_content(path_in: pathlib.Path, path_out: pathlib.Path,
                        new_logs: set[str]) -> None:
    """Every object, value and attribute of `path_in` is in `path_out`.

    The output may have `new_logs` in addition, and image stacks may have
    gained the HDF5 IMAGE attributes.
    """
    with h5py.File(path_in) as src, h5py.File(path_out) as dst:
        assert_attrs_equal(src, dst, "root")
        sobj, dobj = h5_objects(src), h5_objects(dst)
        extra = {f"logs/{name}" for name in new_logs}
        assert set(dobj) - set(sobj) == extra | ({"logs"} if "logs" not in sobj
                                                 else set())
        for name, obj in sobj.items():
            assert name in dobj, name
            image = name in ("events/image", "events/image_bg", "events/mask")
            assert_attrs_equal(obj, dobj[name], name, superset=image)
            if isinstance(obj, h5py.Dataset):
                assert_values_equal(obj[()], dobj[name][()], name)


def assert_all_zstd(path: pathlib.Path) -> int:
    """Every dataset: Zstd level >= 5 and Fletcher-32 (vlen: Zstd only)."""
    count = 0
    with h5py.File(path) as h5:
        for name, obj in h5_objects(h5).items():
            if not isinstance(obj, h5py.Dataset):
                continue
            filters = filter_ids(obj)
            assert hdf5plugin.ZSTD_ID in filters, (name, filters)
            assert filters[hdf5plugin.ZSTD_ID][0] >= 5, (name, filters)
            if not obj.dtype.hasobject:
                assert h5py.h5z.FILTER_FLETCHER32 in filters, (name, filters)
            count += 1
    return count


@pytest.fixture
def sim_file(tmp_path) -> pathlib.Path:
    return simulate_rtdc(tmp_path / "sim.rtdc", num_events=40, images=True,
                         traces=True, seed=7)


# behaviour -------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL_FILES)
def test_compress_real_files_lossless(real_rtdc_files, tmp_path, name):
    path_in = real_file(real_rtdc_files, name)
    before = fingerprint(path_in)
    out = compress(path_in, tmp_path / "out.rtdc")
    assert out == tmp_path / "out.rtdc"
    assert fingerprint(path_in) == before
    assert_same_content(path_in, out, new_logs={"cytolab-compress"})
    assert assert_all_zstd(out) > 0
    with h5py.File(out) as h5:
        assert is_properly_compressed(h5)
        log = json.loads("\n".join(v.decode() for v in h5["logs/cytolab-compress"]))
    assert log["verb"] == "compress"
    assert log["options"] == {"force": False}
    assert log["files"][0]["md5-5M"] == md5_5m(path_in)
    assert log["files"][0]["name"] == path_in.name


def test_compress_real_file_dataset_view(real_rtdc_files, tmp_path):
    # the dataset API sees the same features, metadata and logs
    path_in = real_file(real_rtdc_files, "fmt-hdf5_fl_2017")
    out = compress(path_in, tmp_path / "out.rtdc")
    with cytolab.new_dataset(path_in) as ds, cytolab.new_dataset(out) as dc:
        assert dc.features_innate == ds.features_innate
        assert dc.config.as_dict() == ds.config.as_dict()
        assert np.array_equal(dc["image"][3], ds["image"][3])
        assert np.array_equal(dc["contour"][4], ds["contour"][4])
        assert np.array_equal(dc["trace"]["fl1_raw"][2], ds["trace"]["fl1_raw"][2])
        assert sorted(dc.logs) == sorted(ds.logs) + ["cytolab-compress"]


def test_compress_keeps_basins(sim_file, tmp_path):
    # a derived file with a mapped file basin and an internal basin
    with cytolab.new_dataset(sim_file) as ds:
        ds.filter.manual[::3] = False
        ds.apply_filter()
        derived = ds.export.hdf5(tmp_path / "derived.rtdc", features=["deform"],
                                 basins=True)
    with cytolab.RTDCWriter(derived, mode="append") as hw:
        hw.store_basin(basin_name="notes", basin_type="internal",
                       basin_format="h5dataset",
                       internal_data={"userdef1": np.arange(3, dtype=float)},
                       basin_map=("basinmap1", np.arange(26) % 3))
    before = fingerprint(derived)
    out = compress(derived, tmp_path / "c.rtdc")
    assert fingerprint(derived) == before
    assert_same_content(derived, out, new_logs={"cytolab-compress"})
    assert_all_zstd(out)
    with cytolab.new_dataset(out) as dc, cytolab.new_dataset(sim_file) as ds:
        assert len(dc) == 26
        assert dc.features_innate == ["basinmap0", "basinmap1", "deform"]
        sel = dc["basinmap0"].astype(int)
        assert np.array_equal(dc["area_um"], ds["area_um"][sel])
        assert np.array_equal(dc["image"][4], ds["image"][sel[4]])
        assert np.array_equal(dc["userdef1"], np.arange(26) % 3)


def test_compress_already_compressed_input(sim_file, tmp_path):
    # a cytolab file is copied as stored: identical chunks, identical values
    out = compress(sim_file, tmp_path / "again.rtdc")
    assert_same_content(sim_file, out, new_logs={"cytolab-compress"})
    with h5py.File(sim_file) as src, h5py.File(out) as dst:
        for name in ("events/deform", "events/image"):
            assert dst[name].chunks == src[name].chunks
            assert dst[name].id.get_storage_size() == \
                src[name].id.get_storage_size()


def test_compress_recompresses_uncompressed(tmp_path):
    path = tmp_path / "plain.rtdc"
    with h5py.File(path, "w") as h5:
        h5.attrs["experiment:sample"] = "plain"
        h5.attrs["imaging:pixel size"] = 0.34
        h5.create_dataset("events/deform", data=np.linspace(0, 0.1, 5000))
        h5.create_dataset("events/image", data=np.full((50, 8, 9), 7, np.uint8))
        h5.create_dataset("logs/notes", data=[b"line one", b"line two"])
    out = compress(path, tmp_path / "packed.rtdc")
    assert_same_content(path, out, new_logs={"cytolab-compress"})
    assert assert_all_zstd(out) == 4  # deform, image, notes, cytolab-compress
    with h5py.File(out) as h5:
        assert h5["events/image"].attrs["CLASS"] == b"IMAGE"
        assert h5["events/deform"].id.get_storage_size() < 5000 * 8


# command line ----------------------------------------------------------------


def test_compress_command_line(sim_file, tmp_path, capsys):
    assert main(["compress", str(sim_file), str(tmp_path / "cli")]) == 0
    out = tmp_path / "cli.rtdc"  # suffix appended
    assert_same_content(sim_file, out, new_logs={"cytolab-compress"})
    # again: the output exists -> exit 1, the file is not touched
    before = fingerprint(out)
    assert main(["compress", str(sim_file), str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert fingerprint(out) == before


def test_compress_force_is_deprecated(sim_file, tmp_path, capsys):
    with pytest.warns(DeprecationWarning, match="deprecated"):
        out = compress(sim_file, tmp_path / "f.rtdc", force=True)
    with h5py.File(out) as h5:
        log = json.loads("\n".join(v.decode() for v in h5["logs/cytolab-compress"]))
    assert log["options"] == {"force": True}
    # --force does not allow overwriting
    with pytest.raises(FileExistsError, match="f.rtdc"):
        compress(sim_file, out, force=True)
    assert main(["compress", "--force", str(sim_file), str(out)]) == 1
    assert main(["compress", "--force", str(sim_file),
                 str(tmp_path / "g.rtdc")]) == 0
    assert "deprecated" in capsys.readouterr().err


def test_compress_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compress", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "cytolab compress measurement.rtdc" in text
    assert "--force" in text and "Zstandard" in text


# bad input -------------------------------------------------------------------


def test_compress_missing_input(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        compress(tmp_path / "missing.rtdc", tmp_path / "out.rtdc")
    assert main(["compress", str(tmp_path / "missing.rtdc"),
                 str(tmp_path / "out.rtdc")]) == 1
    assert "missing.rtdc" in capsys.readouterr().err
    assert not (tmp_path / "out.rtdc").exists()


def test_compress_not_rtdc(tmp_path, capsys):
    text = tmp_path / "notes.rtdc"
    text.write_text("not HDF5")
    with pytest.raises(CytolabError, match="notes.rtdc"):
        compress(text, tmp_path / "out.rtdc")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as h5:
        h5.create_dataset("data", data=[1, 2, 3])
    with pytest.raises(CytolabError, match="no 'events' group"):
        compress(plain, tmp_path / "out.rtdc")
    assert main(["compress", str(plain), str(tmp_path / "out.rtdc")]) == 1
    assert "plain.h5" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.rtdc", "plain.h5"]


def test_compress_bad_output(sim_file, tmp_path):
    before = fingerprint(sim_file)
    with pytest.raises(ValueError, match="also an input"):
        compress(sim_file, sim_file)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compress(sim_file, tmp_path / "nowhere" / "out.rtdc")
    existing = tmp_path / "exists.rtdc"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists.rtdc"):
        compress(sim_file, existing)
    assert existing.read_bytes() == b"keep me"
    assert fingerprint(sim_file) == before
    # without suffix check the name is used as given
    out = compress(sim_file, tmp_path / "raw.h5", check_suffix=False)
    assert out.name == "raw.h5" and out.exists()


def test_compress_failure_leaves_nothing(sim_file, tmp_path, monkeypatch):
    import cytolab.cli._compress as mod

    calls = []

    def broken(src, dst, **kwargs):
        calls.append(kwargs["features"])
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return original(src, dst, **kwargs)

    original = mod.rtdc_copy
    monkeypatch.setattr(mod, "rtdc_copy", broken)
    with pytest.raises(OSError, match="disk full"):
        compress(sim_file, tmp_path / "out.rtdc")
    assert len(calls) == 3  # failed in the middle of the copy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.rtdc"]
