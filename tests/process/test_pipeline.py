"""The event-extraction pipeline on simulated and real data."""
from __future__ import annotations

import json

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab import simulate
from cytolab.process import run
from cytolab.process.extract import FeatureExtractor


def match_truth(ds, truth):
    matched, false, whole = simulate.match_truth(ds["frame"][:], ds["pos_x"][:],
                                                 ds["pos_y"][:], truth)
    return matched, int(false.sum()), whole


def check_accuracy(path_out, truth):
    with cytolab.new_dataset(path_out) as ds:
        matched, false, want = match_truth(ds, truth)
        found = matched >= 0
        assert found.mean() >= 0.99, f"found {found.mean():.4f} of the cells"
        assert false <= 0.005 * len(ds), f"{false} false events of {len(ds)}"
        idx = matched[found]
        area = ds["area_um"][:][idx]
        area_true = truth["area_um"][want][found]
        rel = area / area_true - 1
        # pixelation: the convex hull of a digitised ellipse (pixel centres)
        # differs from the true area by about one pixel row around the rim
        pix = ds.config["imaging"]["pixel size"]
        rim = np.sqrt(area_true) * 4 * pix / area_true
        assert np.all(np.abs(rel) <= rim), np.abs(rel / rim).max()
        assert abs(np.median(rel)) < 0.03
        ddef = ds["deform"][:][idx] - truth["deform"][want][found]
        assert np.median(np.abs(ddef)) < 0.01
        assert np.abs(ddef).max() < 0.05
        return ds.config["pipeline"]["dcnum background"]


def test_accuracy_steady(raw_steady, tmp_path):
    path, truth = raw_steady
    out = run(path, tmp_path / "out.rtdc", num_procs=1, progress=False)
    bg_ppid = check_accuracy(out, truth)
    assert bg_ppid.endswith("o=0")  # no flickering: no offset correction


def test_accuracy_flicker_uses_offset_correction(raw_flicker, tmp_path):
    path, truth = raw_flicker
    with pytest.warns(cytolab.errors.PipelineWarning, match="Flickering"):
        out = run(path, tmp_path / "out.rtdc", num_procs=2, progress=False)
    assert check_accuracy(out, truth).endswith("o=1")
    with cytolab.new_dataset(out) as ds:
        assert "bg_off" in ds.features_innate
        assert np.abs(ds["bg_off"][:]).max() > 5
        warn = ds.logs["cytolab-process-warnings"]
        assert any("Flickering" in line for line in warn)
    # without offset correction the flickering frames break segmentation
    bad = run(path, tmp_path / "bad.rtdc", background="sparsemed",
              num_procs=1, progress=False)
    with cytolab.new_dataset(bad) as ds:
        matched, false, _ = match_truth(ds, truth)
        assert (matched >= 0).mean() < 0.99 or false > 0.005 * len(ds)


def test_output_layout(raw_steady, tmp_path):
    path, _ = raw_steady
    out = run(path, tmp_path / "out.rtdc", num_procs=1, progress=False)
    with cytolab.new_dataset(out) as ds, h5py.File(path) as raw:
        cfg = ds.config["pipeline"]
        assert cfg["dcnum background"] == "sparsemed:k=200^s=1^t=0^f=0.8^o=0"
        assert cfg["dcnum segmenter"] == "thresh:t=-6:cle=1^f=1^clo=2"
        assert cfg["dcnum feature"] == "legacy:b=1^h=1^v=1"
        assert cfg["dcnum gate"] == "norm:mi=10^ma=0^e=0"
        assert cfg["dcnum data"] == "hdf:p=0.34^i=0"
        assert cfg["dcnum yield"] == len(ds)
        assert len(cfg["dcnum hash"]) == 32
        assert ds.config["experiment"]["event count"] == len(ds)
        # images come from the input (mapped basin), not a copy
        with h5py.File(out) as h5:
            assert "image" not in h5["events"]
            assert h5["events/mask"].dtype == np.uint8
            assert set(np.unique(h5["events/mask"][:5])) <= {0, 255}
        frames = raw["events/frame"][:]
        for i in (0, len(ds) // 2, len(ds) - 1):
            index = int(np.flatnonzero(frames == ds["frame"][i])[0])
            np.testing.assert_array_equal(ds["image"][i], raw["events/image"][index])
        # per-frame scalars copied from the input frame
        np.testing.assert_array_equal(
            ds["time"][:], raw["events/time"][:][ds["basinmap0"][:]])
        # background: an internal basin of a few sparse-median images
        assert ds["image_bg"].shape == (len(ds), 80, 400)
        with h5py.File(out) as h5:
            assert h5["basin_events/image_bg"].shape[0] == 1
        # nevents = events in the same frame
        fr = ds["frame"][:]
        counts = {f: n for f, n in zip(*np.unique(fr, return_counts=True))}
        assert ds["nevents"][:].tolist() == [counts[f] for f in fr]
        log = json.loads("\n".join(ds.logs["cytolab-process"]))
        assert log["pipeline"]["hash"] == cfg["dcnum hash"]
        assert log["statistics"]["events"] == len(ds)
        assert log["files"][0]["name"] == path.name


def test_deterministic_and_independent_of_workers(raw_steady, tmp_path):
    path, _ = raw_steady
    one = run(path, tmp_path / "one.rtdc", num_procs=1, chunk_size=97,
              progress=False)
    two = run(path, tmp_path / "two.rtdc", num_procs=2, progress=False)
    with h5py.File(one) as h1, h5py.File(two) as h2:
        assert sorted(h1["events"]) == sorted(h2["events"])
        for name in h1["events"]:
            np.testing.assert_array_equal(h1["events"][name][:],
                                          h2["events"][name][:], err_msg=name)
        assert h1.attrs["pipeline:dcnum hash"] == h2.attrs["pipeline:dcnum hash"]
    again = run(path, tmp_path / "again.rtdc", num_procs=1, chunk_size=97,
                progress=False)
    with h5py.File(one) as h1, h5py.File(again) as h3:
        for name in ("deform", "area_um", "tex_con_avg", "mask"):
            d1, d3 = h1["events"][name], h3["events"][name]
            assert d1.chunks == d3.chunks
            for k in range(d1.id.get_num_chunks()):
                off = d1.id.get_chunk_info(k).chunk_offset
                assert d1.id.read_direct_chunk(off) == d3.id.read_direct_chunk(off)


@pytest.mark.parametrize("mapping", [150, slice(100, 400, 2), [5, 50, 60, 61, 300]])
def test_index_mapping(raw_steady, tmp_path, mapping):
    path, _ = raw_steady
    full = run(path, tmp_path / "full.rtdc", num_procs=1, progress=False)
    part = run(path, tmp_path / "part.rtdc", index_mapping=mapping, num_procs=1,
               progress=False)
    frames = np.arange(600)[mapping if not isinstance(mapping, int)
                            else slice(0, mapping)]
    with cytolab.new_dataset(full) as dsf, cytolab.new_dataset(part) as dsp:
        assert set(dsp["basinmap0"][:]) <= set(frames)
        # frames covered by the mapping give the same events as in the full
        # run, except for the rolling/sparse background, which is computed
        # from the selected frames only: compare the event positions
        sel = np.isin(dsf["basinmap0"][:], frames)
        assert abs(sel.sum() - len(dsp)) <= max(2, 0.02 * sel.sum())
        assert dsp.config["pipeline"]["dcnum mapping"] != "0"
        np.testing.assert_array_equal(dsp["image"][0],
                                      h5py.File(path)["events/image"][
                                          int(dsp["basinmap0"][0])])


def test_rollmed_and_copy_backgrounds(raw_steady, tmp_path):
    path, truth = raw_steady
    out = run(path, tmp_path / "roll.rtdc", background="rollmed",
              background_kwargs={"kernel_size": 50}, num_procs=2, progress=False)
    check_accuracy(out, truth)
    with h5py.File(out) as h5:
        assert h5["events/image_bg"].shape[0] == h5["events/deform"].shape[0]
    # "copy": reprocess the output (which has image and image_bg) as input
    out2 = run(out, tmp_path / "copy.rtdc", background="copy", num_procs=1,
               progress=False)
    with cytolab.new_dataset(out2) as ds2, cytolab.new_dataset(out) as ds:
        assert ds2.config["pipeline"]["dcnum background"] == "copy"
        assert len(ds2) >= len(ds) * 0.9


@pytest.mark.parametrize("name", [
    "fmt-hdf5_cytoshot_full-features_legacy_allev_2023",
    "fmt-hdf5_cytoshot_full-features_2023"])
def test_features_equal_reference(real_rtdc_files, name):
    """The extractor reproduces the features stored by the reference pipeline.

    Tolerances as in tests/features: 1e-6 relative for shape features
    (float32 storage), 1e-12 for brightness, 1e-9 for texture; except
    ``inert_ratio_prnc`` (see tests/features/test_features_moments.py).
    """
    path = real_file(real_rtdc_files, name)
    with h5py.File(path) as h5:
        ev = h5["events"]
        mask = ev["mask"][:].astype(bool)
        image, image_bg = ev["image"][:], ev["image_bg"][:]
        feats = FeatureExtractor().extract(mask, image, image_bg, None,
                                           float(h5.attrs["imaging:pixel size"]))
        tol = {"bright_avg": 1e-12, "bright_sd": 1e-12, "bright_bc_avg": 1e-12,
               "bright_bc_sd": 1e-12, "bright_perc_10": 1e-12,
               "bright_perc_90": 1e-12, "bg_med": 0}
        names = [n for n in ev if n in feats and n != "inert_ratio_prnc"]
        assert len(names) >= 40
        for name in names:
            rtol = tol.get(name, 1e-9 if name.startswith("tex_") else 1e-6)
            np.testing.assert_allclose(feats[name], ev[name][:], rtol=rtol,
                                       atol=1e-12, err_msg=name)


def test_bad_input(tmp_path, raw_steady):
    path, _ = raw_steady
    with pytest.raises(cytolab.errors.FileFormatError, match="missing.rtdc"):
        run(tmp_path / "missing.rtdc", num_procs=1)
    notes = tmp_path / "notes.rtdc"
    notes.write_text("not hdf5")
    with pytest.raises(cytolab.errors.CytolabError, match="notes.rtdc"):
        run(notes, num_procs=1)
    # no images
    noimg = tmp_path / "noimg.rtdc"
    with h5py.File(noimg, "w") as h5:
        h5.attrs["imaging:pixel size"] = 0.34
        h5["events/deform"] = np.zeros(3)
    with pytest.raises(cytolab.errors.CytolabError, match="no image"):
        run(noimg, num_procs=1)
    out = tmp_path / "exists.rtdc"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        run(path, out, num_procs=1)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="Unknown keyword"):
        run(path, tmp_path / "x.rtdc", segmenter_kwargs={"treshold": -5})
    with pytest.raises(ValueError, match="must differ"):
        run(path, path)
    assert not (tmp_path / "x.rtdc").exists()
