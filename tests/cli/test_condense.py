"""`cytolab condense`: scalar features (stored, computed, from basins)."""
from __future__ import annotations

import io
import json
import os
import pathlib
import warnings
import zipfile

import h5py
import numpy as np
import pytest
from realdata import RTDC_DATA, real_file

import cytolab
from cytolab.cli import condense
from cytolab.cli._condense import (
    CondenseFeatureWarning,
    condense_dataset,
    config_hash,
    plan_features,
)
from cytolab.cli.main import main
from cytolab.errors import CytolabError
from cytolab.io.copier import is_properly_compressed
from cytolab.io.files import md5_5m, md5sum
from cytolab.rtdc.ancillaries import AncillaryFeature
from cytolab.simulate import simulate_rtdc

#: computed features the raw file below gets in its condensed copy
EXPENSIVE = (["bright_avg", "bright_bc_avg", "bright_bc_sd", "bright_perc_10",
              "bright_perc_90", "bright_sd", "inert_ratio_cvx", "inert_ratio_prnc",
              "inert_ratio_raw", "tilt", "volume"]
             + [f"tex_{m}_{k}" for m in ("asm", "con", "cor", "den", "ent", "f12",
                                         "f13", "idm", "sen", "sva", "var")
                for k in ("avg", "ptp")])
#: cheap computed features of the raw file
RAPID = ["area_ratio", "area_um", "aspect", "deform", "index", "time"]
#: stored scalar features of the raw file
STORED = ["area_cvx", "area_msd", "bg_med", "circ", "frame", "index_online",
          "nevents", "pos_x", "pos_y", "size_x", "size_y", "temp"]
NON_SCALAR = ["contour", "image", "image_bg", "mask", "trace"]


def fingerprint(path: pathlib.Path) -> tuple[str, int]:
    return md5sum(path), os.stat(path).st_mtime_ns


def read_log(h5: h5py.File, name: str) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in h5["logs"][name]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, pathlib.Path]:
    """A simulated measurement and files derived from it.

    ``sim``: images, masks, traces and every simulated feature; ``raw``: the
    same events with images and masks but without the features computable
    from them (as a camera would write it); ``derived``: a gated subset
    (26 of 40 events) holding only a mapped basin to ``sim``.
    """
    tmp = tmp_path_factory.mktemp("condense")
    sim = simulate_rtdc(tmp / "sim.rtdc", num_events=40, images=True,
                        traces=True, seed=11)
    with cytolab.new_dataset(sim) as ds:
        ds.export.hdf5(tmp / "raw.rtdc", features=STORED + ["image", "image_bg",
                                                             "mask", "trace"],
                       filtered=False, logs=True)
        ds.filter.manual[::3] = False
        ds.apply_filter()
        ds.export.hdf5(tmp / "derived.rtdc", features=[], basins=True)
    return {"sim": sim, "raw": tmp / "raw.rtdc", "derived": tmp / "derived.rtdc"}


# behaviour -------------------------------------------------------------------


def test_condense_computes_all_scalar_features(sources, tmp_path):
    raw = sources["raw"]
    before = fingerprint(raw)
    out = condense(raw, tmp_path / "c.rtdc")
    assert out == tmp_path / "c.rtdc"
    assert fingerprint(raw) == before
    with h5py.File(out) as h5:
        feats = sorted(h5["events"])
        assert all(h5["events"][f].ndim == 1 for f in feats)
        assert is_properly_compressed(h5)
        assert sorted(h5["logs"]) == ["cytolab-condense", "cytolab-export"]
        log = json.loads("\n".join(read_log(h5, "cytolab-condense")))
    assert feats == sorted(STORED + RAPID + EXPENSIVE)
    assert not set(feats) & set(NON_SCALAR)
    assert log["verb"] == "condense"
    assert log["options"] == {"store_ancillary_features": True,
                              "store_basin_features": True}
    assert log["files"][0]["md5-5M"] == md5_5m(raw)
    with cytolab.new_dataset(raw) as ds, cytolab.new_dataset(out) as dc:
        assert len(dc) == len(ds) == 40
        assert dc.features_innate == feats
        for feat in feats:  # every value as the dataset gives it
            assert np.array_equal(dc[feat], ds[feat], equal_nan=True), feat
        assert dc.config["imaging"]["pixel size"] == 0.34
        assert dc.config["experiment"]["sample"] == ds.config["experiment"]["sample"]
        assert np.all(dc["volume"] > 0)
        assert np.all((dc["inert_ratio_cvx"] >= 1) & (dc["inert_ratio_cvx"] < 5))


def test_condense_no_ancillary_features(sources, tmp_path):
    out = condense(sources["raw"], tmp_path / "c.rtdc",
                   store_ancillary_features=False)
    with h5py.File(out) as h5:
        feats = sorted(h5["events"])
        log = json.loads("\n".join(read_log(h5, "cytolab-condense")))
    # the cheap ones stay (time from frame, index, area_um, ...), none of
    # the expensive ones is computed
    assert feats == sorted(STORED + RAPID)
    assert log["options"]["store_ancillary_features"] is False
    with cytolab.new_dataset(sources["raw"]) as ds, cytolab.new_dataset(out) as dc:
        assert np.array_equal(dc["time"], ds["time"])
        assert np.array_equal(dc["index"], np.arange(1, 41))
        assert "volume" not in dc  # no masks here to compute it from
        assert dc.features_innate == feats


def test_condense_basin_features(sources, tmp_path):
    derived = sources["derived"]
    out = condense(derived, tmp_path / "c.rtdc")
    with cytolab.new_dataset(sources["sim"]) as ds, \
            cytolab.new_dataset(derived) as dd, cytolab.new_dataset(out) as dc:
        sel = dd["basinmap0"].astype(int)
        assert len(dc) == 26
        scalar_sim = [f for f in ds.features_innate if f not in NON_SCALAR]
        assert set(scalar_sim) <= set(dc.features_innate)
        for feat in scalar_sim:
            assert np.array_equal(dc[feat], ds[feat][sel], equal_nan=True), feat
        # computed ones too (inertia from the basin's masks)
        assert np.array_equal(dc["inert_ratio_prnc"], dd["inert_ratio_prnc"])
        # the basin definition is kept: images are still reachable
        assert dc.basins_get_dicts() == dd.basins_get_dicts()
        assert np.array_equal(dc["image"][5], ds["image"][sel[5]])
        assert "image" not in dc.features_innate


def test_condense_no_basin_features(sources, tmp_path):
    derived = sources["derived"]
    out = condense(derived, tmp_path / "c.rtdc", store_basin_features=False)
    # stored: basinmap0; computed: index (the file's own events) and the
    # features computed from data the basin provides (they are ancillary
    # features of the derived file, not basin features)
    computed_cheap = ["area_ratio", "fl1_max_ctc", "fl2_max_ctc", "fl3_max_ctc",
                      "index", "time"]
    computed = computed_cheap + [f for f in EXPENSIVE if f not in (
        "bright_avg", "bright_sd", "inert_ratio_cvx", "inert_ratio_raw",
        "volume")]
    with h5py.File(out) as h5:
        assert sorted(h5["events"]) == sorted(["basinmap0"] + computed)
        assert "basins" in h5
    with cytolab.new_dataset(derived) as dd, cytolab.new_dataset(out) as dc:
        # not stored, but still reachable through the kept basin
        assert "deform" not in dc.features_innate
        assert np.array_equal(dc["deform"], dd["deform"])
        for feat in computed:
            assert np.array_equal(dc[feat], dd[feat], equal_nan=True), feat
    assert main(["condense", "--no-basin-features", "--no-ancillary-features",
                 str(derived), str(tmp_path / "c2.rtdc")]) == 0
    with h5py.File(tmp_path / "c2.rtdc") as h5:
        assert sorted(h5["events"]) == sorted(["basinmap0"] + computed_cheap)


def test_condense_twice_keeps_earlier_log(sources, tmp_path):
    first = condense(sources["raw"], tmp_path / "c1.rtdc")
    second = condense(first, tmp_path / "c2.rtdc")
    with cytolab.new_dataset(first) as d1:
        suffix = config_hash(d1)
    with h5py.File(first) as h1, h5py.File(second) as h2:
        assert sorted(h2["logs"]) == sorted(["cytolab-condense",
                                             f"cytolab-condense_{suffix}",
                                             "cytolab-export"])
        assert read_log(h2, f"cytolab-condense_{suffix}") == \
            read_log(h1, "cytolab-condense")
        log2 = json.loads("\n".join(read_log(h2, "cytolab-condense")))
        assert log2["files"][0]["name"] == "c1.rtdc"
        assert sorted(h2["events"]) == sorted(h1["events"])
        for feat in h1["events"]:
            assert np.array_equal(h1["events"][feat][:], h2["events"][feat][:],
                                  equal_nan=True)


def test_condense_real_file_defective_features(real_rtdc_files, tmp_path):
    # stored float32 time and an old volume: hidden, recomputed, logged
    path = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    before = fingerprint(path)
    out = condense(path, tmp_path / "c.rtdc")
    assert fingerprint(path) == before
    with h5py.File(out) as h5:
        assert h5["events/time"].dtype == np.float64
        warn = read_log(h5, "cytolab-condense-warnings")
    assert any("BadFeatureSizeWarning" in ln and "'time'" in ln for ln in warn)
    assert any("'volume'" in ln for ln in warn)
    with cytolab.new_dataset(path) as ds, cytolab.new_dataset(out) as dc, \
            h5py.File(out) as h5:
        assert "contour" not in dc.features_innate and len(dc) == len(ds) == 8
        for feat in ("time", "volume", "inert_ratio_prnc", "tilt", "deform"):
            # (read from the file: the reader hides any `volume` of a file
            # whose software version names dclab < 0.37, even a recomputed one)
            assert np.array_equal(h5["events"][feat][:], ds[feat],
                                  equal_nan=True), feat
        assert sorted(h5["events"]) == sorted(ds.features_scalar)


@pytest.mark.parametrize("name", ["fmt-hdf5_raw-cytoshot-exported",
                                  "fmt-hdf5_fl_2018", "example_traces"])
def test_condense_real_files(real_rtdc_files, tmp_path, name):
    path = real_file(real_rtdc_files, name)
    out = condense(path, tmp_path / "c.rtdc")
    with cytolab.new_dataset(path) as ds, cytolab.new_dataset(out) as dc, \
            h5py.File(path) as h5in, h5py.File(out) as h5out:
        assert sorted(h5out["events"]) == sorted(ds.features_scalar)
        for feat in h5out["events"]:
            assert np.array_equal(h5out["events"][feat][:], ds[feat],
                                  equal_nan=True), feat
        assert len(dc) == len(ds)
        for group in ("logs", "tables"):
            for key in h5in.get(group, {}):
                assert np.array_equal(h5in[group][key][()], h5out[group][key][()])
        assert dict(dc.config["user"]) == dict(ds.config["user"])


def test_condense_real_tdms(tmp_path):
    archive = RTDC_DATA / "fmt-tdms_fl-image_2016.zip"
    if not archive.is_file():
        pytest.skip(f"reference file not found: {archive}")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "tdms")
    path = next((tmp_path / "tdms").rglob("M1_20160905_greenBeads.tdms"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = cytolab.new_dataset(path)
        except NotImplementedError:
            pytest.skip("cytolab cannot read .tdms files yet")
    files = {p: fingerprint(p) for p in path.parent.iterdir()}
    out = condense(path, tmp_path / "tdms_condensed.rtdc")
    assert {p: fingerprint(p) for p in path.parent.iterdir()} == files
    with ds, h5py.File(out) as h5:
        assert sorted(h5["events"]) == sorted(ds.features_scalar)
        for feat in h5["events"]:
            assert np.array_equal(h5["events"][feat][:], ds[feat],
                                  equal_nan=True), feat
        assert h5.attrs["experiment:event count"] == len(ds) == 44
        assert {"M1_camera.ini", "M1_para.ini", "cytolab-condense"} <= set(h5["logs"])
        assert read_log(h5, "M1_para.ini") == list(ds.logs["M1_para.ini"])
        assert h5.attrs["imaging:pixel size"] == ds.config["imaging"]["pixel size"]


def test_condense_dataset_dict_and_warnings(tmp_path):
    rng = np.random.default_rng(1)
    ds = cytolab.new_dataset({"frame": np.arange(100) * 3,
                              "circ": rng.uniform(0.8, 1, 100),
                              "area_cvx": rng.uniform(100, 200, 100)})
    ds.config["imaging"]["frame rate"] = 2000.0
    ds.config["imaging"]["pixel size"] = 0.5
    ds.config["experiment"]["sample"] = "dict data"
    fd = io.BytesIO()
    with h5py.File(fd, "w") as h5:
        feats = condense_dataset(ds, h5, warnings_list=["opened with a note"])
        assert feats == ["area_cvx", "area_um", "circ", "deform", "frame",
                         "index", "time"]
        assert np.allclose(h5["events/area_um"][:], ds["area_cvx"] * 0.25)
        assert np.allclose(h5["events/time"][:], np.arange(100) * 3 / 2000)
        assert h5.attrs["experiment:sample"] == "dict data"
        assert h5.attrs["experiment:event count"] == 100
        assert read_log(h5, "cytolab-condense-warnings") == ["opened with a note"]
        log = json.loads("\n".join(read_log(h5, "cytolab-condense")))
        assert log["files"] == [] and log["verb"] == "condense"
    # into a new file by path; the path must not exist
    out = tmp_path / "dict.rtdc"
    assert condense_dataset(ds, out, store_ancillary_features=False) == feats
    with pytest.raises(FileExistsError):
        condense_dataset(ds, out)
    with h5py.File(out) as h5, pytest.raises(ValueError, match="read-only"):
        condense_dataset(ds, h5)


def test_condense_dataset_filtered_child(sources, tmp_path):
    # a hierarchy child (the gated events) condenses like any dataset
    with cytolab.new_dataset(sources["raw"]) as ds:
        ds.config["filtering"]["circ min"] = 0.96
        ds.config["filtering"]["circ max"] = 0.98
        ds.apply_filter()
        child = cytolab.new_dataset(ds)
        assert 0 < len(child) < 40
        feats = condense_dataset(child, tmp_path / "child.rtdc")
        assert feats == sorted(STORED + RAPID + EXPENSIVE)
        with cytolab.new_dataset(tmp_path / "child.rtdc") as dc:
            assert len(dc) == len(child)
            assert dc.config["experiment"]["event count"] == len(child)
            for feat in feats:
                assert np.array_equal(dc[feat], child[feat], equal_nan=True), feat
            assert np.array_equal(dc["index"], np.arange(1, len(child) + 1))
            assert sorted(dc.logs) == ["cytolab-condense", "cytolab-export"]


def test_condense_dataset_releases_caches(sources):
    # data cached while condensing are dropped; what the user had stays
    with cytolab.new_dataset(sources["raw"]) as ds:
        deform = ds["deform"]
        circ = ds["circ"]
        with h5py.File(io.BytesIO(), "w") as h5:
            condense_dataset(ds, h5)
        assert set(ds._ancillaries) == {"deform"}
        assert ds._ancillaries["deform"][1] is deform
        assert set(ds._events._cache) == {"circ"}
        assert ds["circ"] is circ


def test_condense_failing_recipe_is_left_out(sources, tmp_path):
    def broken(ds):
        raise RuntimeError("kernel exploded")

    recipe = AncillaryFeature("userdef7", broken, req_features=["deform"])
    try:
        with pytest.warns(CondenseFeatureWarning, match="kernel exploded"):
            out = condense(sources["raw"], tmp_path / "c.rtdc",
                           store_ancillary_features=True)
        with cytolab.new_dataset(sources["raw"]) as ds:
            assert ("ancillary", ["userdef7"]) in plan_features(ds)
    finally:
        AncillaryFeature.unregister(recipe)
    with h5py.File(out) as h5:
        assert "userdef7" not in h5["events"]
        assert "volume" in h5["events"]
        warn = read_log(h5, "cytolab-condense-warnings")
    assert any(CondenseFeatureWarning.__name__ in ln and "userdef7" in ln
               and "kernel exploded" in ln for ln in warn)


def test_plan_features_groups_shared_recipes(sources):
    with cytolab.new_dataset(sources["raw"]) as ds:
        plan = plan_features(ds)
        cheap = plan_features(ds, store_ancillary_features=False)
    groups = [feats for source, feats in plan if source == "ancillary"]
    assert ["inert_ratio_cvx", "inert_ratio_prnc", "inert_ratio_raw", "tilt"] \
        in groups
    assert [f for f in EXPENSIVE if f.startswith("tex_")] in groups
    assert [f for source, feats in plan for f in feats if source == "innate"] \
        == STORED
    assert sorted(f for _, feats in cheap for f in feats) == sorted(STORED + RAPID)


# command line ----------------------------------------------------------------


def test_condense_command_line(sources, tmp_path):
    assert main(["condense", str(sources["raw"]), str(tmp_path / "cli")]) == 0
    with h5py.File(tmp_path / "cli.rtdc") as h5:
        assert sorted(h5["events"]) == sorted(STORED + RAPID + EXPENSIVE)
    assert main(["condense", "--no-ancillary-features", str(sources["raw"]),
                 str(tmp_path / "cheap.rtdc")]) == 0
    with h5py.File(tmp_path / "cheap.rtdc") as h5:
        assert sorted(h5["events"]) == sorted(STORED + RAPID)


def test_condense_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["condense", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "cytolab condense measurement.rtdc" in text
    assert "--no-ancillary-features" in text and "--no-basin-features" in text


# bad input -------------------------------------------------------------------


def test_condense_bad_input(sources, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="missing.rtdc"):
        condense(tmp_path / "missing.rtdc", tmp_path / "out.rtdc")
    text = tmp_path / "notes.rtdc"
    text.write_text("not HDF5")
    with pytest.raises(CytolabError, match="notes.rtdc"):
        condense(text, tmp_path / "out.rtdc")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as h5:
        h5.create_dataset("data", data=[1, 2, 3])
    with pytest.raises(CytolabError, match="plain.h5"):
        condense(plain, tmp_path / "out.rtdc")
    tdms = tmp_path / "M1_data.tdms"
    tdms.write_bytes(b"TDSm garbage")
    assert main(["condense", str(tdms), str(tmp_path / "out.rtdc")]) == 1
    assert "M1_data.tdms" in capsys.readouterr().err
    for args in ([str(tmp_path / "missing.rtdc")], [str(plain)]):
        assert main(["condense", *args, str(tmp_path / "out.rtdc")]) == 1
        assert "error" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "M1_data.tdms", "notes.rtdc", "plain.h5"]


def test_condense_bad_output(sources, tmp_path):
    raw = sources["raw"]
    before = fingerprint(raw)
    with pytest.raises(ValueError, match="also an input"):
        condense(raw, raw)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        condense(raw, tmp_path / "nowhere" / "out.rtdc")
    existing = tmp_path / "exists.rtdc"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="exists.rtdc"):
        condense(raw, existing)
    assert existing.read_bytes() == b"keep me"
    assert fingerprint(raw) == before


def test_condense_failure_leaves_nothing(sources, tmp_path, monkeypatch):
    import cytolab.cli._condense as mod

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(mod, "h5ds_copy", broken)
    with pytest.raises(OSError, match="disk full"):
        condense(sources["raw"], tmp_path / "out.rtdc")
    assert list(tmp_path.iterdir()) == []
