"""Tests of ``ds.export``: .rtdc (HDF5), .tsv, .fcs and .avi export."""
from __future__ import annotations

import json
import pathlib
import shutil
import sys
import time

import h5py
import numpy as np
import pytest

import cytolab
from cytolab import definitions as dfn
from cytolab.rtdc import export as export_mod
from cytolab.rtdc.export import LimitingExportSizeWarning
from cytolab.rtdc.formats.dict import RTDC_Dict
from cytolab.rtdc.formats.hierarchy import map_indices_child2root
from cytolab.rtdc.plugin import load_plugin_feature, remove_plugin_feature
from cytolab.rtdc.temporary import (
    deregister_temporary_feature,
    register_temporary_feature,
    set_temporary_feature,
)
from cytolab.simulate import simulate_rtdc

pytestmark = pytest.mark.filterwarnings(
    "ignore::cytolab.errors.UnknownConfigurationKeyWarning")


# ----------------------------------------------------------------- fixtures
@pytest.fixture
def example(rtdc_data_dir, tmp_path) -> pathlib.Path:
    """A writable copy of the documentation's example.rtdc in its own folder."""
    folder = tmp_path / "source"
    folder.mkdir()
    path = folder / "example.rtdc"
    shutil.copy(rtdc_data_dir / "example.rtdc", path)
    path.chmod(0o644)
    return path


@pytest.fixture
def rich(tmp_path) -> pathlib.Path:
    """A small file with every kind of feature, logs and tables."""
    rng = np.random.default_rng(5)
    n = 23
    path = tmp_path / "rich.rtdc"
    mask = np.zeros((n, 12, 16), dtype=bool)
    for ii in range(n):
        mask[ii, 2:4 + ii % 6, 3:9] = True
    table = np.zeros(4, dtype=[("time", "f8"), ("temp", "f4")])
    table["time"] = np.arange(4)
    table["temp"] = [22.0, 22.5, 23.0, 23.5]
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        hw.store_metadata({"experiment": {"sample": "rich", "run index": 3,
                                          "date": "2024-05-01", "time": "10:11:12"},
                           "imaging": {"pixel size": 0.34, "frame rate": 2000},
                           "setup": {"identifier": "rich-setup", "channel width": 20,
                                     "flow rate": 0.04, "medium": "CellCarrier"}})
        hw.store_feature("deform", rng.uniform(0, 0.1, n))
        hw.store_feature("area_um", rng.uniform(20, 100, n))
        hw.store_feature("frame", np.arange(n) * 3 + 1)
        hw.store_feature("index", np.arange(n))
        hw.store_feature("image", rng.integers(0, 255, (n, 12, 16), dtype=np.uint8))
        hw.store_feature("image_bg", rng.integers(0, 255, (n, 12, 16), dtype=np.uint8))
        hw.store_feature("mask", mask)
        hw.store_feature("contour", [rng.integers(0, 16, (5 + ii % 4, 2))
                                     for ii in range(n)])
        hw.store_feature("trace", {"fl1_raw": rng.integers(0, 100, (n, 30)),
                                   "fl2_raw": rng.integers(0, 100, (n, 30))})
        hw.store_log("acquisition", ["line one", "line two"])
        hw.store_log("notes", ["µ-unicode ✓"])
        hw.store_table("temperature", table)
    return path


def _no_leftovers(folder: pathlib.Path) -> bool:
    return not any(p.name.endswith(".cytolab-tmp") for p in folder.iterdir())


ZSTD, FLETCHER32 = 32015, 3


def _filter_ids(dset: h5py.Dataset) -> set[int]:
    plist = dset.id.get_create_plist()
    return {plist.get_filter(ii)[0] for ii in range(plist.get_nfilters())}


def _basin_dicts(path: pathlib.Path) -> list[dict]:
    with h5py.File(path) as h5:
        return [json.loads("\n".join(v.decode() for v in h5["basins"][key][:]))
                for key in h5.get("basins", {})]


# ----------------------------------------------------------- documentation
def test_hdf5_documented_example(example, tmp_path):
    ds = cytolab.new_dataset(example)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .15
    ds.apply_filter()
    # the reference prints float32 results; ours are float64, hence rtol
    assert np.isclose(ds["deform"].mean(), 0.0287258, rtol=1e-6)
    mean = ds["deform"][ds.filter.all].mean()
    assert np.isclose(mean, 0.026480934, rtol=1e-7)
    out = ds.export.hdf5(path=tmp_path / "export_example.rtdc",
                         features=["area_um", "aspect", "deform"],
                         filtered=True, override=True)
    assert out == tmp_path / "export_example.rtdc"
    with cytolab.new_dataset(out) as ds2:
        assert np.isclose(ds2["deform"][:].mean(), 0.026480934, rtol=1e-7)
        assert ds2["deform"][:].mean() == pytest.approx(mean, rel=1e-12)
        assert len(ds2) == ds.filter.all.sum() == ds2.config["experiment"][
            "event count"]
        assert ds2.features_innate == ["area_um", "aspect", "deform"]
        assert "deform min" not in ds2.config["filtering"]
        assert ds2.config["setup"]["software version"].endswith(
            f"| cytolab {cytolab.__version__}")
        # a subset of the measurement: a new, reproducible identifier
        mid = ds.get_measurement_identifier()
        mid2 = ds2.get_measurement_identifier()
        assert mid2.startswith(mid + "_") and len(mid2) == len(mid) + 13
        log = json.loads("\n".join(ds2.logs["cytolab-export"]))
        assert log["source"]["path"] == str(example)
        assert log["source"]["measurement identifier"] == mid
        assert log["source"]["hash"] == ds.hash
        assert log["features"] == ["area_um", "aspect", "deform"]
        assert log["filtered"] is True and log["events"] == len(ds2)
        assert log["software"] == f"cytolab {cytolab.__version__}"
        assert log["date"][:2] == "20"
    # same selection -> same identifier
    out2 = ds.export.hdf5(tmp_path / "again", features=["deform"])
    with cytolab.new_dataset(out2) as ds3:
        assert ds3.get_measurement_identifier() == mid2


def test_tsv_documented_example(example, tmp_path):
    import pandas as pd

    ds = cytolab.new_dataset(example)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .15
    ds.apply_filter()
    out = ds.export.tsv(path=tmp_path / "export_example.tsv",
                        features=["area_um", "deform"], filtered=True,
                        override=True)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf# cytolab version: ")
    lines = raw.decode("utf-8-sig").splitlines()
    names = lines.index("area_um\tdeform")
    assert lines[names + 1] == "# Area [µm²]\tDeformation"
    assert all(ln.startswith("# ") for ln in lines[:names])
    assert "# experiment:sample: docs-data" in lines
    assert not any("filtering" in ln for ln in lines[:names])
    expected = np.column_stack([ds["area_um"][ds.filter.all],
                                ds["deform"][ds.filter.all]])
    df = pd.read_csv(out, sep="\t", comment="#")
    assert list(df.columns) == ["area_um", "deform"]
    np.testing.assert_allclose(df.to_numpy(), expected, rtol=5e-13, atol=0)
    arr = np.loadtxt(out, delimiter="\t", comments="#", skiprows=names + 1,
                     encoding="utf-8-sig")
    np.testing.assert_allclose(arr, expected, rtol=5e-13, atol=0)
    with open(out, encoding="utf-8-sig") as fd:
        arr2 = np.loadtxt((ln for ln in fd if not ln.startswith("#")),
                          delimiter="\t", skiprows=1)
    np.testing.assert_array_equal(arr, arr2)


def test_basin_only_mapped_export(example, tmp_path):
    """The documented "implicitly mapped basin via HDF5 export" example."""
    (tmp_path / "out").mkdir()
    with cytolab.new_dataset(example) as ds:
        ds.filter.manual[1::2] = False
        ds.apply_filter()
        out = ds.export.hdf5(path=tmp_path / "out" / "output.rtdc", features=[],
                             filtered=True, basins=True)
        mid = ds.get_measurement_identifier()
    # a very small file without copies of the raw data
    assert out.stat().st_size < example.stat().st_size / 5
    with h5py.File(out) as h5:
        assert list(h5["events"]) == ["basinmap0"]
        np.testing.assert_array_equal(h5["events/basinmap0"][:],
                                      np.arange(0, 5000, 2))
        datasets = []
        h5.visititems(lambda name, obj: datasets.append(name)
                      if isinstance(obj, h5py.Dataset) else None)
        assert all(n.split("/")[0] in ("events", "basins", "logs")
                   for n in datasets)
    (bdict,) = _basin_dicts(out)
    assert bdict["type"] == "file" and bdict["format"] == "hdf5"
    assert bdict["mapping"] == "basinmap0"
    assert bdict["features"] is None
    assert bdict["paths"] == [str(example), "../source/example.rtdc"]
    assert bdict["identifier"] == mid
    assert "cytolab" in bdict["description"]
    with cytolab.new_dataset(example) as ds_in, cytolab.new_dataset(out) as ds_out:
        assert len(ds_out) == 2500
        assert np.allclose(ds_in["deform"][::2], ds_out["deform"])
        np.testing.assert_array_equal(ds_in["circ"][::2], ds_out["circ"])
        assert ds_out.get_measurement_identifier().startswith(mid + "_")
    # both files moved together: the relative path still works
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(str(example.parent), moved / "source")
    shutil.move(str(out.parent), moved / "out")
    with cytolab.new_dataset(moved / "out" / "output.rtdc") as ds_out:
        assert len(ds_out) == 2500
        assert ds_out["area_cvx"].shape == (2500,)


def test_basin_only_unfiltered_is_mapped(example, tmp_path):
    with cytolab.new_dataset(example) as ds:
        out = ds.export.hdf5(tmp_path / "b", features=[], filtered=False,
                             basins=True)
    with cytolab.new_dataset(out) as ds_out, cytolab.new_dataset(example) as ds_in:
        assert len(ds_out) == 5000
        np.testing.assert_array_equal(ds_out["pos_x"], ds_in["pos_x"])
        # all events: the measurement identifier is kept
        assert ds_out.get_measurement_identifier() == \
            ds_in.get_measurement_identifier()


def test_basins_copied_and_remapped(example, tmp_path):
    """Basins of the source are copied (unfiltered) or combined (filtered)."""
    with cytolab.new_dataset(example) as ds:
        ds.filter.manual[1::2] = False
        ds.apply_filter()
        half = ds.export.hdf5(tmp_path / "half", features=["deform"], basins=True)
    with cytolab.new_dataset(half) as ds_half:
        plain = ds_half.export.hdf5(tmp_path / "plain", features=["index"],
                                    filtered=False, basins=True)
        ds_half.filter.manual[:100] = False
        ds_half.apply_filter()
        sub = ds_half.export.hdf5(tmp_path / "sub", features=["deform"],
                                  basins=True)
    # unfiltered: the upstream basin (mapped) plus a basin for `half` itself
    bdicts = {b["paths"][0]: b for b in _basin_dicts(plain)}
    assert sorted(bdicts) == sorted([str(half), str(example)])
    assert bdicts[str(half)]["mapping"] == "same"
    assert bdicts[str(example)]["mapping"] == "basinmap0"
    mid = bdicts[str(example)]["identifier"]
    assert bdicts[str(half)]["identifier"].startswith(mid + "_")
    with cytolab.new_dataset(example) as ds_in:
        with cytolab.new_dataset(plain) as ds_plain:
            assert len(ds_plain) == 2500
            np.testing.assert_array_equal(ds_plain["deform"], ds_in["deform"][::2])
            np.testing.assert_array_equal(ds_plain["area_cvx"],
                                          ds_in["area_cvx"][::2])
            np.testing.assert_array_equal(ds_plain["index"], np.arange(1, 2501))
        with cytolab.new_dataset(sub) as ds_sub:
            assert len(ds_sub) == 2400
            np.testing.assert_array_equal(ds_sub["area_cvx"],
                                          ds_in["area_cvx"][200::2])
            with h5py.File(sub) as h5:
                maps = sorted(h5["events"][k][:].tolist()[:2]
                              for k in h5["events"] if k.startswith("basinmap"))
            assert maps == [[100, 101], [200, 202]]


def test_hierarchy_child_export_with_basins(example, tmp_path):
    ds = cytolab.new_dataset(example)
    ds.config["filtering"]["deform min"] = 0
    ds.config["filtering"]["deform max"] = .03
    child = cytolab.new_dataset(ds)
    child.config["filtering"]["area_um min"] = 30
    child.config["filtering"]["area_um max"] = 60
    child.apply_filter()
    grandchild = cytolab.new_dataset(child)
    grandchild.filter.manual[::3] = False
    grandchild.apply_filter()
    out = grandchild.export.hdf5(tmp_path / "child", features=["area_um"],
                                 basins=True)
    root_idx = map_indices_child2root(grandchild,
                                      np.flatnonzero(grandchild.filter.all))
    (bdict,) = _basin_dicts(out)
    assert bdict["paths"][0] == str(example)
    assert bdict["identifier"] == ds.get_measurement_identifier()
    with cytolab.new_dataset(out) as ds_out:
        assert len(ds_out) == grandchild.filter.all.sum() == root_idx.size
        np.testing.assert_array_equal(ds_out["basinmap0"], root_idx)
        np.testing.assert_array_equal(ds_out["area_um"],
                                      grandchild["area_um"][grandchild.filter.all])
        np.testing.assert_array_equal(ds_out["deform"],
                                      grandchild["deform"][grandchild.filter.all])
        np.testing.assert_array_equal(ds_out["index"], np.arange(1, len(ds_out) + 1))
        assert ds_out.get_measurement_identifier() != ds.get_measurement_identifier()
    # unfiltered export of the child: still a subset of the root file
    out2 = child.export.hdf5(tmp_path / "child2", features=[], filtered=False,
                             basins=True)
    with cytolab.new_dataset(out2) as ds_out:
        np.testing.assert_array_equal(ds_out["pos_x"], child["pos_x"])


def test_internal_basin_reached_through_source(tmp_path):
    src = tmp_path / "internal.rtdc"
    with cytolab.RTDCWriter(src, mode="reset") as hw:
        hw.store_metadata({"experiment": {"date": "2024-01-01", "time": "10:00:00"},
                           "setup": {"identifier": "internal-test"}})
        hw.store_feature("deform", np.array([0.1, 0.2, 0.3, 0.4]))
        hw.store_basin(basin_name="frames", basin_type="internal",
                       basin_format="h5dataset", basin_locs=["basin_events"],
                       internal_data={"userdef7": np.array([10., 20., 30.])},
                       basin_map=np.array([0, 0, 1, 2]))
    with cytolab.new_dataset(src) as ds:
        ds.filter.manual[0] = False
        ds.apply_filter()
        out = ds.export.hdf5(tmp_path / "out", features=["deform"], basins=True)
    bdicts = _basin_dicts(out)
    assert [b["type"] for b in bdicts] == ["file"]  # internal basin not copied
    with cytolab.new_dataset(out) as ds_out:
        np.testing.assert_array_equal(ds_out["userdef7"], [10., 20., 30.])
        np.testing.assert_array_equal(ds_out["deform"], [0.2, 0.3, 0.4])


# ----------------------------------------------------------- kinds of data
@pytest.mark.parametrize("filtered", [False, True])
def test_non_scalar_features(rich, tmp_path, filtered):
    with cytolab.new_dataset(rich) as ds:
        ds.filter.manual[[0, 5, 6, 22]] = False
        ds.apply_filter()
        out = ds.export.hdf5(tmp_path / "copy", filtered=filtered)
        keep = ds.filter.all if filtered else np.ones(len(ds), dtype=bool)
        idx = np.flatnonzero(keep)
        with cytolab.new_dataset(out) as ds2:
            assert len(ds2) == idx.size
            assert set(ds2.features_innate) == set(ds.features_innate)
            for feat in ["image", "image_bg", "mask"]:
                np.testing.assert_array_equal(ds2[feat][:], ds[feat][idx])
            for ii, jj in enumerate(idx):
                np.testing.assert_array_equal(ds2["contour"][ii], ds["contour"][jj])
            for key in ["fl1_raw", "fl2_raw"]:
                np.testing.assert_array_equal(ds2["trace"][key][:],
                                              ds["trace"][key][idx])
            np.testing.assert_array_equal(ds2["deform"], ds["deform"][idx])
            np.testing.assert_array_equal(ds2["frame"], ds["frame"][idx])
            np.testing.assert_array_equal(ds2["index"], np.arange(1, idx.size + 1))
            assert ds2.config["fluorescence"]["samples per event"] == 30
            assert ds2.config["imaging"]["roi size x"] == 16
            assert ds2.h5file["events/mask"][0].max() == 255


@pytest.mark.filterwarnings("ignore::cytolab.errors.BadFeatureSizeWarning")
def test_real_files_with_images_and_traces(rtdc_data_dir, tmp_path):
    for name, feats in [("example_video.rtdc", ["image", "mask", "deform"]),
                        ("example_traces.rtdc", ["trace", "fl1_max"])]:
        with cytolab.new_dataset(rtdc_data_dir / name) as ds:
            ds.filter.manual[1] = False
            ds.apply_filter()
            for filtered in (False, True):
                out = ds.export.hdf5(tmp_path / f"{filtered}{name}", features=feats,
                                     filtered=filtered)
                idx = np.flatnonzero(ds.filter.all) if filtered \
                    else np.arange(len(ds))
                with cytolab.new_dataset(out) as ds2:
                    assert len(ds2) == idx.size
                    for feat in feats:
                        if feat == "trace":
                            assert sorted(ds2["trace"]) == sorted(ds["trace"])
                            for key in ds["trace"]:
                                np.testing.assert_array_equal(
                                    ds2["trace"][key][:], ds["trace"][key][idx])
                        else:
                            np.testing.assert_array_equal(
                                np.asarray(ds2[feat][:]), np.asarray(ds[feat])[idx])
                    # stored data without compression are compressed
                    with h5py.File(out) as h5:
                        dset = h5["events"][feats[0]]
                        if isinstance(dset, h5py.Group):
                            dset = dset["fl1_raw"]
                        assert _filter_ids(dset) == {ZSTD, FLETCHER32}


def test_unfiltered_copy_keeps_data_and_filters(tmp_path):
    src = simulate_rtdc(tmp_path / "sim.rtdc", num_events=300, images=True, seed=2)
    with cytolab.new_dataset(src) as ds:
        out = ds.export.hdf5(tmp_path / "copy", filtered=False)
        with cytolab.new_dataset(out) as ds2:
            for feat in ds.features_innate:
                np.testing.assert_array_equal(np.asarray(ds2[feat][:]),
                                              np.asarray(ds[feat][:]))
            assert ds2.get_measurement_identifier() == \
                ds.get_measurement_identifier()
    with h5py.File(out) as h5:
        assert _filter_ids(h5["events/image"]) == {ZSTD, FLETCHER32}


def test_image_export_memory_is_bounded(tmp_path, monkeypatch):
    import tracemalloc

    monkeypatch.setattr(export_mod, "EXPORT_CHUNK_BYTES", 1024**2)
    src = simulate_rtdc(tmp_path / "sim.rtdc", num_events=600, images=True,
                        seed=6)
    with cytolab.new_dataset(src) as ds:
        ds.filter.manual[::7] = False
        ds.apply_filter()
        child = cytolab.new_dataset(ds)
        for data in (ds, child):
            tracemalloc.start()
            out = data.export.hdf5(tmp_path / "images", override=True,
                                   features=["image", "image_bg", "mask", "deform"])
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            # 3 x 10 MB of images pass through in blocks of 1 MiB
            assert peak < 10 * 1024**2
            idx = np.flatnonzero(ds.filter.all)
            with cytolab.new_dataset(out) as ds2:
                assert len(ds2) == idx.size
                for ii in [0, 1, 250, idx.size - 1]:
                    np.testing.assert_array_equal(ds2["image"][ii],
                                                  ds["image"][idx[ii]])
                    np.testing.assert_array_equal(ds2["mask"][ii],
                                                  ds["mask"][idx[ii]])


def test_compression_kwargs(rich, tmp_path):
    with cytolab.new_dataset(rich) as ds:
        plain = ds.export.hdf5(tmp_path / "plain", features=["deform", "image"],
                               compression_kwargs={"compression": None})
        with pytest.warns(DeprecationWarning):
            gz = ds.export.hdf5(tmp_path / "gz", features=["deform"],
                                compression="gzip")
    with h5py.File(plain) as h5:
        assert h5["events/deform"].compression is None
        assert h5["events/image"].compression is None
        assert h5["events/deform"].fletcher32
    with h5py.File(gz) as h5:
        assert h5["events/deform"].compression == "gzip"


def test_logs_and_tables_with_prefix(rich, tmp_path):
    with cytolab.new_dataset(rich) as ds:
        out = ds.export.hdf5(tmp_path / "a", features=["deform"], logs=True,
                             tables=True)
        out_b = ds.export.hdf5(tmp_path / "b", features=["deform"], logs=True,
                               tables=True, meta_prefix="orig-")
        out_c = ds.export.hdf5(tmp_path / "c", features=["deform"])
        table = ds.tables["temperature"]
    with cytolab.new_dataset(out) as ds2:
        assert sorted(ds2.logs) == ["cytolab-export", "src_acquisition",
                                    "src_notes"]
        assert ds2.logs["src_acquisition"] == ["line one", "line two"]
        assert ds2.logs["src_notes"] == ["µ-unicode ✓"]
        assert list(ds2.tables) == ["src_temperature"]
        np.testing.assert_array_equal(ds2.tables["src_temperature"], table)
    with cytolab.new_dataset(out_b) as ds2:
        assert sorted(ds2.logs) == ["cytolab-export", "orig-acquisition",
                                    "orig-notes"]
        assert list(ds2.tables) == ["orig-temperature"]
    with cytolab.new_dataset(out_c) as ds2:
        assert list(ds2.logs) == ["cytolab-export"]
        assert list(ds2.tables) == []


def test_temporary_and_plugin_features(rich, tmp_path):
    recipe = tmp_path / "exp_plugin.py"
    recipe.write_text(
        "import numpy as np\n"
        "def compute(ds):\n"
        "    img = np.asarray(ds['image'][:], dtype=np.float32)\n"
        "    return {'exp_plugin_x': 2 * ds['deform'],\n"
        "            'exp_plugin_img': img[:, :4, :5] / 2}\n"
        "info = {'method': compute,\n"
        "        'feature names': ['exp_plugin_x', 'exp_plugin_img'],\n"
        "        'feature labels': ['Plugin X', 'Plugin image'],\n"
        "        'features required': ['deform', 'image'],\n"
        "        'scalar feature': [True, False],\n"
        "        'feature shapes': [None, (4, 5)]}\n")
    register_temporary_feature("exp_tmp_score")
    register_temporary_feature("exp_tmp_stack", is_scalar=False)
    plugins = load_plugin_feature(recipe)
    try:
        with cytolab.new_dataset(rich) as ds:
            n = len(ds)
            score = np.linspace(0, 1, n)
            stack = np.arange(n * 6, dtype=np.int16).reshape(n, 2, 3)
            set_temporary_feature(ds, "exp_tmp_score", score)
            set_temporary_feature(ds, "exp_tmp_stack", stack)
            ds.filter.manual[3] = False
            ds.apply_filter()
            feats = ["exp_tmp_score", "exp_tmp_stack", "exp_plugin_x",
                     "exp_plugin_img"]
            out = ds.export.hdf5(tmp_path / "tmp", features=ds.features_innate
                                 + feats)
            tsv = ds.export.tsv(tmp_path / "tmp", ["exp_tmp_score", "exp_plugin_x"])
            keep = ds.filter.all
            expected_img = np.asarray(ds["image"][:], dtype=np.float32)[keep][
                :, :4, :5] / 2
            expected_x = 2 * ds["deform"][keep]
        with cytolab.new_dataset(out) as ds2:
            assert len(ds2) == n - 1
            np.testing.assert_array_equal(ds2["exp_tmp_score"], score[keep])
            np.testing.assert_array_equal(ds2["exp_tmp_stack"][:], stack[keep])
            assert ds2["exp_tmp_stack"].dtype == np.int16
            # stored plugin data are read back as they were exported
            assert "exp_plugin_x" in ds2.features_innate
            np.testing.assert_array_equal(ds2["exp_plugin_x"], expected_x)
            np.testing.assert_array_equal(ds2["exp_plugin_img"][:], expected_img)
        lines = tsv.read_text(encoding="utf-8-sig").splitlines()
        assert "exp_tmp_score\texp_plugin_x" in lines
        assert "# exp_tmp_score\tPlugin X" in lines
    finally:
        for plugin in plugins:
            remove_plugin_feature(plugin)
        deregister_temporary_feature("exp_tmp_score")
        deregister_temporary_feature("exp_tmp_stack")


def test_limiting_export_size(tmp_path):
    ds = RTDC_Dict({"deform": np.linspace(0, .1, 10),
                    "area_um": np.arange(7, dtype=float)}, check_length=False)
    with pytest.warns(LimitingExportSizeWarning, match="area_um"):
        out = ds.export.hdf5(tmp_path / "short", features=["deform", "area_um"])
    with cytolab.new_dataset(out) as ds2:
        assert len(ds2) == 7
        np.testing.assert_array_equal(ds2["deform"], np.linspace(0, .1, 10)[:7])
    # a filter that removes events past the shortest feature
    ds.filter.manual[[1, 8]] = False
    ds.apply_filter()
    with pytest.warns(LimitingExportSizeWarning):
        out = ds.export.hdf5(tmp_path / "short_filtered",
                             features=["deform", "area_um"])
    with cytolab.new_dataset(out) as ds2:
        np.testing.assert_array_equal(ds2["area_um"], [0, 2, 3, 4, 5, 6])


def test_skip_checks(tmp_path, recwarn):
    ds = cytolab.new_dataset({"deform": np.linspace(0, .1, 10),
                              "area_um": np.arange(10.0)})
    ds.export.hdf5(tmp_path / "x", skip_checks=True)
    assert not [w for w in recwarn if w.category is LimitingExportSizeWarning]


# --------------------------------------------------------------------- tsv
def test_tsv_number_formats(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 2000
    data = {
        "deform": rng.uniform(0, 0.2, n),
        "pos_x": rng.normal(0, 1e3, n),  # negative values
        "area_um": rng.lognormal(3, 4, n),  # wide range of magnitudes
        "frame": rng.integers(0, 10**12, n),
        "index_online": -rng.integers(0, 10**6, n),  # negative integers
        "nevents": (rng.random(n) > .5),  # booleans
        "temp": rng.normal(20, 1, n).astype(np.float32),
        "bright_avg": np.round(rng.normal(100, 5, n)),  # integral floats
        "bright_sd": rng.normal(0, 1, n) * 10.0 ** rng.integers(-150, 150, n),
        "size_x": np.zeros(n),
    }
    data["deform"][[3, 7]] = np.nan
    data["pos_x"][[4, 5]] = [np.inf, -np.inf]
    data["bright_avg"][10] = np.nan
    data["frame"][0] = 0
    data["area_um"][[1, 2]] = [0.0, 9.9999999999999e-1]
    ds = cytolab.new_dataset(data)
    feats = list(data)
    out = ds.export.tsv(tmp_path / "formats", feats)
    df = pd.read_csv(out, sep="\t", comment="#")
    assert list(df.columns) == feats
    for feat in feats:
        expected = np.asarray(data[feat])
        got = df[feat].to_numpy()
        if expected.dtype.kind in "iub":
            np.testing.assert_array_equal(got, expected.astype(np.int64))
            assert df[feat].dtype == np.int64
        else:
            np.testing.assert_allclose(got, expected.astype(np.float64),
                                       rtol=5e-13, atol=0, equal_nan=True)
    assert df["bright_avg"].to_numpy()[11] == data["bright_avg"][11]
    text = out.read_text(encoding="utf-8-sig")
    assert "\tnan\t" in text and "\tinf\t" in text and "\t-inf\t" in text
    assert "\0" not in text


def test_tsv_meta_data_and_empty_selection(tmp_path):
    ds = cytolab.new_dataset({"deform": np.array([.1, .2, .3])})
    ds.config["experiment"]["sample"] = "two\nlines"
    ds.filter.manual[:] = False
    ds.apply_filter()
    out = ds.export.tsv(tmp_path / "empty.tsv", ["deform"],
                        meta_data={"operator": "Jürgen", "note": "a\nb"})
    assert out.name == "empty.tsv"
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == f"# cytolab version: {cytolab.__version__}"
    assert lines[1:3] == ["# operator: Jürgen", "# note: a b"]
    assert "# experiment:sample: two lines" in lines
    assert lines[-2:] == ["deform", "# Deformation"]


@pytest.mark.slow
def test_tsv_large_export_fast_and_exact(tmp_path):
    """1,000,000 events x 20 features (the benchmark checks the 2 s target)."""
    rng = np.random.default_rng(1)
    sim = cytolab.simulate.simulate_scalar_features(1_000_000, rng)
    feats = list(cytolab.simulate.SIMULATED_FEATURES)
    ds = cytolab.new_dataset({f: sim[f] for f in feats})
    t0 = time.perf_counter()
    out = ds.export.tsv(tmp_path / "big", feats)
    assert time.perf_counter() - t0 < 10  # loose bound: shared CI machines
    with open(out, encoding="utf-8-sig") as fd:
        lines = [ln for ln in fd if not ln.startswith("#")]
    assert len(lines) == 1_000_001
    rows = np.loadtxt(lines[1::997], delimiter="\t")
    idx = np.arange(0, 1_000_000, 997)
    for col, feat in enumerate(feats):
        np.testing.assert_allclose(rows[:, col], sim[feat][idx], rtol=5e-13)


# --------------------------------------------------------------------- fcs
def test_fcs_export_roundtrip_with_flowio(example, tmp_path):
    flowio = pytest.importorskip("flowio")
    with cytolab.new_dataset(example) as ds:
        ds.filter.manual[:10] = False
        ds.apply_filter()
        feats = ["area_um", "deform", "frame"]
        meta = {"operator": "Jürgen Müller", "comment": "µm² & more"}
        out = ds.export.fcs(tmp_path / "events", feats, meta_data=meta)
        expected = np.column_stack([ds[f][ds.filter.all] for f in feats])
    assert out.name == "events.fcs"
    fcs = flowio.FlowData(str(out))
    assert fcs.pnn_labels == feats
    assert fcs.pns_labels == [dfn.get_feature_label(f) for f in feats]
    assert fcs.pns_labels[:2] == ["Area [µm²]", "Deformation"]
    assert fcs.text["operator"] == "Jürgen Müller"
    assert fcs.text["comment"] == "µm² & more"
    assert fcs.text["cytolab version"] == cytolab.__version__
    events = np.reshape(np.array(fcs.events, dtype=np.float32), (-1, 3))
    np.testing.assert_array_equal(events, expected.astype(np.float32))


def test_fcs_export_drops_nan_events(tmp_path):
    flowio = pytest.importorskip("flowio")
    deform = np.array([.1, np.nan, .3, .4, .5])
    area = np.array([1., 2., 3., np.nan, 5.])
    ds = cytolab.new_dataset({"deform": deform, "area_um": area,
                              "bright_avg": np.full(5, np.nan)})
    out = ds.export.fcs(tmp_path / "nan", ["deform", "area_um"])
    fcs = flowio.FlowData(str(out))
    assert fcs.event_count == 3
    np.testing.assert_array_equal(np.reshape(fcs.events, (-1, 2)),
                                  np.float32([[.1, 1], [.3, 3], [.5, 5]]))
    out = ds.export.fcs(tmp_path / "allnan", ["bright_avg"])
    assert flowio.FlowData(str(out)).event_count == 0


# --------------------------------------------------------------------- avi
def test_avi_export(tmp_path):
    imageio = pytest.importorskip("imageio")
    pytest.importorskip("imageio_ffmpeg")
    src = simulate_rtdc(tmp_path / "sim.rtdc", num_events=30, images=True, seed=4)
    with cytolab.new_dataset(src) as ds:
        ds.filter.manual[::3] = False
        ds.apply_filter()
        out = ds.export.avi(tmp_path / "movie")
        out_all = ds.export.avi(tmp_path / "movie_all", filtered=False)
        images = np.asarray(ds["image"][:])
        keep = ds.filter.all
    assert out.name == "movie.avi"
    frames = np.array([frame for frame in imageio.get_reader(out).iter_data()])
    assert frames.shape[:3] == (20, 80, 250)
    np.testing.assert_array_equal(frames[..., 0], images[keep])  # lossless
    reader = imageio.get_reader(out_all)
    assert reader.count_frames() == 30
    assert reader.get_meta_data()["size"] == (250, 80)


def test_avi_missing_extra(tmp_path, monkeypatch):
    src = simulate_rtdc(tmp_path / "sim.rtdc", num_events=3, images=True, seed=4)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with cytolab.new_dataset(src) as ds:
        with pytest.raises(ImportError, match=r'pip install "cytolab\[export\]"'):
            ds.export.avi(tmp_path / "movie")
    assert not (tmp_path / "movie.avi").exists()


# --------------------------------------------------------------- bad input
def test_existing_file_is_untouched(rich, tmp_path):
    ds = cytolab.new_dataset(rich)
    for kind, suffix in [("hdf5", ".rtdc"), ("tsv", ".tsv"), ("fcs", ".fcs"),
                         ("avi", ".avi")]:
        target = tmp_path / f"exists{suffix}"
        target.write_bytes(b"precious")
        args = {"hdf5": (["deform"],), "tsv": (["deform"],),
                "fcs": (["deform"],), "avi": ()}[kind]
        with pytest.raises(OSError, match="already exists"):
            getattr(ds.export, kind)(tmp_path / "exists", *args)
        assert target.read_bytes() == b"precious"
        out = getattr(ds.export, kind)(tmp_path / "exists", *args, override=True)
        assert out == target and target.read_bytes() != b"precious"
    assert _no_leftovers(tmp_path)


def test_suffix_is_appended(rich, tmp_path):
    ds = cytolab.new_dataset(rich)
    assert ds.export.hdf5(tmp_path / "a.txt", ["deform"]).name == "a.txt.rtdc"
    assert ds.export.hdf5(tmp_path / "b.rtdc", ["deform"]).name == "b.rtdc"
    assert ds.export.tsv(tmp_path / "c", ["deform"]).name == "c.tsv"


@pytest.mark.parametrize("kind", ["tsv", "fcs"])
def test_non_scalar_feature_to_text(rich, tmp_path, kind):
    ds = cytolab.new_dataset(rich)
    with pytest.raises(ValueError, match="'image' is not scalar"):
        getattr(ds.export, kind)(tmp_path / "x", ["deform", "image"])
    assert list(tmp_path.glob("x*")) == []


@pytest.mark.parametrize("kind", ["hdf5", "tsv", "fcs"])
def test_unknown_and_unavailable_features(example, tmp_path, kind):
    ds = cytolab.new_dataset(example)
    with pytest.raises(ValueError, match="Unknown feature 'deformation'"):
        getattr(ds.export, kind)(tmp_path / "x", ["deform", "deformation"])
    with pytest.raises(ValueError, match="'fl1_max' is not available"):
        getattr(ds.export, kind)(tmp_path / "x", ["fl1_max"])
    with pytest.raises(TypeError):
        getattr(ds.export, kind)(tmp_path / "x", ["deform", 3])
    assert list(tmp_path.glob("x*")) == []


def test_avi_without_images(example, tmp_path):
    ds = cytolab.new_dataset(example)
    with pytest.raises(OSError, match="no 'image' feature"):
        ds.export.avi(tmp_path / "movie")
    assert [p.name for p in tmp_path.iterdir()] == ["source"]


def test_hdf5_bad_arguments(example, tmp_path):
    ds = cytolab.new_dataset(example)
    with pytest.raises(ValueError, match="nothing to export"):
        ds.export.hdf5(tmp_path / "x", features=[])
    with pytest.raises(ValueError, match="basins=True"):
        ds.export.hdf5(tmp_path / "x", features=["basinmap0"])
    with pytest.raises(ValueError, match="own file"):
        ds.export.hdf5(example, features=["deform"], override=True)
    with pytest.raises(FileNotFoundError):
        ds.export.hdf5(tmp_path / "missing" / "x", features=["deform"])
    dict_ds = cytolab.new_dataset({"deform": np.ones(3)})
    with pytest.raises(ValueError, match="stored in a file"):
        dict_ds.export.hdf5(tmp_path / "x", features=[], basins=True)
    with pytest.warns(UserWarning, match="no basin"):
        dict_ds.export.hdf5(tmp_path / "x", features=["deform"], basins=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "x.rtdc"]


def test_error_midway_leaves_nothing(rich, tmp_path, monkeypatch):
    ds = cytolab.new_dataset(rich)
    ds.filter.manual[0] = False  # no fast copy: every feature is written
    ds.apply_filter()
    calls = []

    def fail(self, feat, *args, **kwargs):
        calls.append(feat)
        if len(calls) > 1:
            raise RuntimeError("disk on fire")
        return original(self, feat, *args, **kwargs)

    original = cytolab.RTDCWriter.store_feature
    monkeypatch.setattr(cytolab.RTDCWriter, "store_feature", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ds.export.hdf5(tmp_path / "broken", features=["deform", "area_um"])
    monkeypatch.undo()

    def fail_rows(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_mod, "write_tsv_rows", fail_rows)
    with pytest.raises(RuntimeError):
        ds.export.tsv(tmp_path / "broken", ["deform"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # an existing file survives a failed override
    (out_dir / "keep.tsv").write_text("old")
    with pytest.raises(RuntimeError):
        ds.export.tsv(out_dir / "keep", ["deform"], override=True)
    assert (out_dir / "keep.tsv").read_text() == "old"
    assert not (tmp_path / "broken.rtdc").exists()
    assert not (tmp_path / "broken.tsv").exists()
    assert _no_leftovers(tmp_path) and _no_leftovers(out_dir)
