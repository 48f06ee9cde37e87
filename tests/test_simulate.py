"""The RT-DC simulator: reproducible, consistent, chunked."""
from __future__ import annotations

import numpy as np
import pytest

import cytolab
from cytolab.simulate import SIMULATED_FEATURES, simulate_rtdc, simulate_scalar_features


def test_reproducible_and_complete(tmp_path):
    a = simulate_rtdc(tmp_path / "a.rtdc", num_events=200, seed=5)
    b = simulate_rtdc(tmp_path / "b.rtdc", num_events=200, seed=5)
    c = simulate_rtdc(tmp_path / "c.rtdc", num_events=200, seed=6)
    with cytolab.new_dataset(a) as da, cytolab.new_dataset(b) as db, \
            cytolab.new_dataset(c) as dc:
        assert len(da) == 200
        assert sorted(SIMULATED_FEATURES) == [f for f in da.features_innate]
        for feat in SIMULATED_FEATURES:
            assert np.array_equal(da[feat], db[feat])
        assert not np.array_equal(da["deform"], dc["deform"])


def test_features_are_consistent():
    rng = np.random.default_rng(1)
    f = simulate_scalar_features(5000, rng)
    assert len(SIMULATED_FEATURES) == 20
    assert np.allclose(f["deform"], 1 - f["circ"])
    assert np.allclose(f["area_um"], f["area_cvx"] * 0.34**2)
    assert np.allclose(f["aspect"], f["size_x"] / f["size_y"])
    assert np.all(np.diff(f["frame"]) > 0)
    # realistic ranges for cells in RT-DC
    assert 0.01 < np.median(f["deform"]) < 0.05
    assert 40 < np.median(f["area_um"]) < 80
    assert np.all(f["area_msd"] <= f["area_cvx"])


def test_images_match_features(tmp_path):
    path = simulate_rtdc(tmp_path / "i.rtdc", num_events=30, images=True, seed=1)
    with cytolab.new_dataset(path) as ds:
        assert ds["image"].shape == (30, 80, 250) == ds["mask"].shape
        assert ds["image"][0].dtype == np.uint8
        area_mask = np.array([ds["mask"][i].sum() for i in range(30)])
        # the mask area is the pixelated ellipse area (within a few percent)
        assert np.allclose(area_mask, ds["area_cvx"], rtol=0.08)
        ys, xs = np.nonzero(ds["mask"][0])
        assert abs(xs.mean() * 0.34 - ds["pos_x"][0]) < 0.5
        # the cell is darker than the background inside the mask
        img = ds["image"][0].astype(float)
        bg = ds["image_bg"][0].astype(float)
        inner = ds["mask"][0]
        assert img[inner].mean() < bg[inner].mean()


def test_chunked_writing_gives_same_events(tmp_path):
    one = simulate_rtdc(tmp_path / "1.rtdc", num_events=1000, seed=3,
                        chunk_size=1000)
    many = simulate_rtdc(tmp_path / "2.rtdc", num_events=1000, seed=3,
                         chunk_size=128)
    with cytolab.new_dataset(one) as d1, cytolab.new_dataset(many) as d2:
        assert len(d1) == len(d2) == 1000
        assert np.all(np.diff(d2["frame"]) > 0)
        assert d2.config["experiment"]["event count"] == 1000


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="num_events"):
        simulate_rtdc(tmp_path / "x.rtdc", num_events=-1)
    assert not (tmp_path / "x.rtdc").exists()


def test_index_online_grows_across_chunks(tmp_path):
    """The device counts events: index_online continues from chunk to chunk."""
    path = simulate_rtdc(tmp_path / "chunks.rtdc", num_events=250, chunk_size=100,
                         seed=4)
    with cytolab.new_dataset(path) as ds:
        assert ds["index_online"].tolist() == list(range(1, 251))
        assert np.all(np.diff(ds["frame"]) > 0)
