"""`cytolab repack`: a fresh copy without clutter, optionally without
basins or logs, and without a log of its own."""
from __future__ import annotations

import os
import pathlib

import h5py
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.cli import repack
from cytolab.cli.main import main
from cytolab.errors import CytolabError
from cytolab.io.copier import is_properly_compressed
from cytolab.io.files import md5sum
from cytolab.simulate import simulate_rtdc


def fingerprint(path: pathlib.Path) -> tuple[str, int]:
    return md5sum(path), os.stat(path).st_mtime_ns


def h5_objects(h5: h5py.File) -> dict[str, h5py.Dataset | h5py.Group]:
    """Every dataset and non-empty group by path (empty groups are clutter)."""
    found: dict[str, h5py.Dataset | h5py.Group] = {}

    def visit(name: str, obj: h5py.Dataset | h5py.Group) -> None:
        if isinstance(obj, h5py.Dataset) or len(obj):
            found[name] = obj

    h5.visititems(visit)
    return found


def assert_values_equal(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, what
    if a.dtype.names:
        for name in a.dtype.names:
            assert_values_equal(a[name], b[name], f"{what}[{name}]")
    elif a.dtype.kind == "f":
        assert np.array_equal(a, b, equal_nan=True), what
    else:
        assert np.array_equal(a, b), what


def assert_same_objects(src: h5py.File, dst: h5py.File,
                        skip: tuple[str, ...] = ()) -> int:
    """Every object of `src` (not under `skip`) in `dst`: values, attributes."""
    count = 0
    dobj = h5_objects(dst)
    for name, obj in h5_objects(src).items():
        if name.startswith(skip):
            continue
        assert name in dobj, name
        for key in obj.attrs:
            assert np.array_equal(obj.attrs[key], dobj[name].attrs[key]), \
                (name, key)
        if isinstance(obj, h5py.Dataset):
            assert_values_equal(obj[()], dobj[name][()], name)
            count += 1
    return count


@pytest.fixture
def derived(tmp_path) -> pathlib.Path:
    """A gated export with a mapped file basin, an internal basin and logs."""
    sim = simulate_rtdc(tmp_path / "sim.rtdc", num_events=30, images=True, seed=5)
    with cytolab.new_dataset(sim) as ds:
        ds.filter.manual[:10] = False
        ds.apply_filter()
        path = ds.export.hdf5(tmp_path / "derived.rtdc",
                              features=["deform", "area_um"], basins=True)
    with cytolab.RTDCWriter(path, mode="append") as hw:
        hw.store_basin(basin_name="notes", basin_type="internal",
                       basin_format="h5dataset",
                       internal_data={"userdef2": np.linspace(0, 1, 5)},
                       basin_map=("basinmap1", np.arange(20) % 5))
        hw.store_log("lab-notes", ["cells from donor 7"])
        hw.store_table("monitor", {"pressure": np.arange(4.0),
                                   "temp": np.full(4, 23.5)})
        hw.store_metadata({"user": {"operator": "ana", "passage": 3}})
    return path


# behaviour -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fmt-hdf5_fl_2017", "fmt-hdf5_raw-cytoshot-exported",
                                  "fmt-hdf5_shapein_raw-with-variable-length-logs",
                                  "fmt-hdf5_cytoshot_full-features_2023"])
def test_repack_real_files(real_rtdc_files, tmp_path, name):
    path = real_file(real_rtdc_files, name)
    before = fingerprint(path)
    out = repack(path, tmp_path / "r.rtdc")
    assert out == tmp_path / "r.rtdc"
    assert fingerprint(path) == before
    with h5py.File(path) as src, h5py.File(out) as dst:
        assert assert_same_objects(src, dst) > 0
        # no new logs, no new objects, metadata (all of it here) unchanged
        assert set(h5_objects(dst)) == set(h5_objects(src))
        assert sorted(dst.attrs) == sorted(src.attrs)
        for key in src.attrs:
            assert dst.attrs[key] == src.attrs[key], key
        assert is_properly_compressed(dst)


def test_repack_keeps_everything_by_default(derived, tmp_path):
    before = fingerprint(derived)
    out = repack(derived, tmp_path / "r.rtdc")
    assert fingerprint(derived) == before
    with h5py.File(derived) as src, h5py.File(out) as dst:
        assert assert_same_objects(src, dst) > 0
        assert set(h5_objects(dst)) == set(h5_objects(src))
        assert sorted(dst["logs"]) == ["cytolab-export", "lab-notes"]
        assert not any("repack" in name for name in dst["logs"])
        assert dst.attrs["user:operator"] == "ana"
        assert dst.attrs["user:passage"] == 3
    with cytolab.new_dataset(out) as dr, cytolab.new_dataset(derived) as dd:
        assert dr.basins_get_dicts() == dd.basins_get_dicts()
        for feat in ("circ", "userdef2", "area_um"):
            assert np.array_equal(dr[feat], dd[feat]), feat
        assert np.array_equal(dr["image"][3], dd["image"][3])
        assert dict(dr.config["user"]) == {"operator": "ana", "passage": 3}


def test_repack_strip_basins(derived, tmp_path):
    out = repack(derived, tmp_path / "r.rtdc", strip_basins=True)
    with h5py.File(derived) as src, h5py.File(out) as dst:
        assert "basins" not in dst and "basin_events" not in dst
        assert sorted(dst["events"]) == ["area_um", "deform"]
        assert sorted(dst["logs"]) == ["cytolab-export", "lab-notes"]
        assert "tables" in dst
        assert_same_objects(src, dst, skip=("basins", "basin_events",
                                            "events/basinmap"))
    with cytolab.new_dataset(out) as dr:
        assert dr.features_basin == [] and "circ" not in dr
        assert len(dr) == 20


def test_repack_strip_logs(derived, tmp_path):
    out = repack(derived, tmp_path / "r.rtdc", strip_logs=True)
    with h5py.File(derived) as src, h5py.File(out) as dst:
        assert "logs" not in dst
        assert "basins" in dst and "basinmap1" in dst["events"]
        assert_same_objects(src, dst, skip=("logs",))
        assert np.array_equal(dst["tables/monitor"]["temp"], np.full(4, 23.5))


def test_repack_removes_clutter(derived, tmp_path):
    # deleted data leave free space behind; stale attributes and foreign
    # objects stay in the file until it is repacked
    with h5py.File(derived, "a") as h5:
        h5.create_dataset("scratch", data=np.random.default_rng(0).random(500_000))
        h5.flush()
        h5.create_group("junk").create_dataset("x", data=np.arange(1000))
        h5.flush()
        del h5["scratch"]  # free space in the middle of the file
        h5.attrs["stale"] = "left over"
        h5.attrs["filtering:enable filters"] = True
        h5.attrs["calculation:emodulus lut"] = "LE-2D-FEM-19"
        h5.attrs["imaging:newer tool key"] = 12.5  # unknown, but metadata
        h5["events/deform"].attrs["note"] = "dataset attributes are kept"
    size_before = derived.stat().st_size
    assert size_before > 4_000_000
    out = repack(derived, tmp_path / "r.rtdc")
    assert out.stat().st_size < size_before / 10
    with h5py.File(derived) as src, h5py.File(out) as dst:
        assert "junk" not in dst
        for key in ("stale", "filtering:enable filters", "calculation:emodulus lut"):
            assert key not in dst.attrs, key
        assert dst.attrs["imaging:newer tool key"] == 12.5
        assert dst.attrs["user:operator"] == "ana"
        assert dst["events/deform"].attrs["note"] == "dataset attributes are kept"
        kept = {k for k in src.attrs if k not in ("stale", "filtering:enable filters",
                                                  "calculation:emodulus lut")}
        assert set(dst.attrs) == kept
        assert_same_objects(src, dst, skip=("junk",))
    # repacking the repacked file changes nothing but the file
    again = repack(out, tmp_path / "r2.rtdc")
    with h5py.File(out) as a, h5py.File(again) as b:
        assert set(h5_objects(a)) == set(h5_objects(b))
        assert_same_objects(a, b)
    assert abs(again.stat().st_size - out.stat().st_size) < 1000


# command line ----------------------------------------------------------------


def test_repack_command_line(derived, tmp_path):
    assert main(["repack", "--strip-logs", "--strip-basins", str(derived),
                 str(tmp_path / "cli")]) == 0
    with h5py.File(tmp_path / "cli.rtdc") as h5:
        assert sorted(h5) == ["events", "tables"]
        assert sorted(h5["events"]) == ["area_um", "deform"]
    assert main(["repack", str(derived), str(tmp_path / "all.rtdc")]) == 0
    with h5py.File(tmp_path / "all.rtdc") as h5:
        assert sorted(h5) == ["basin_events", "basins", "events", "logs", "tables"]


def test_repack_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["repack", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "cytolab repack measurement.rtdc" in text
    assert "--strip-basins" in text and "--strip-logs" in text


# bad input -------------------------------------------------------------------


def test_repack_bad_input(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        repack(tmp_path / "missing.rtdc", tmp_path / "out.rtdc")
    text = tmp_path / "notes.rtdc"
    text.write_text("not HDF5")
    with pytest.raises(CytolabError, match="notes.rtdc"):
        repack(text, tmp_path / "out.rtdc")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as h5:
        h5.create_dataset("data", data=[1, 2, 3])
    with pytest.raises(CytolabError, match="no 'events' group"):
        repack(plain, tmp_path / "out.rtdc")
    for source in (tmp_path / "missing.rtdc", text, plain):
        assert main(["repack", str(source), str(tmp_path / "out.rtdc")]) == 1
        assert source.name in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.rtdc", "plain.h5"]


def test_repack_bad_output(derived, tmp_path):
    before = fingerprint(derived)
    with pytest.raises(ValueError, match="also an input"):
        repack(derived, derived)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        repack(derived, tmp_path / "nowhere" / "out.rtdc")
    existing = tmp_path / "exists.rtdc"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists.rtdc"):
        repack(derived, existing)
    assert existing.read_bytes() == b"keep me"
    assert fingerprint(derived) == before
    out = repack(derived, tmp_path / "plain", check_suffix=False)
    assert out.name == "plain" and out.exists()
    assert repack(derived, tmp_path / "fixed").name == "fixed.rtdc"


def test_repack_failure_leaves_nothing(derived, tmp_path, monkeypatch):
    import cytolab.cli._repack as mod

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(mod, "copy_rtdc_file", broken)
    names = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(OSError, match="disk full"):
        repack(derived, tmp_path / "out.rtdc")
    assert sorted(p.name for p in tmp_path.iterdir()) == names
