"""Position outputs on simulated movies: labels, netCDF, movies, .rtdc."""
import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import CytolabError, FileFormatError
from cytolab.simulate import simulate_agarpad, simulate_mothermachine
from cytolab.timelapse.export import USERDEF_FEATURES, export_rtdc
from cytolab.timelapse.position import Position
from cytolab.timelapse.truth import position_from_truth
from cytolab.timelapse.xpreader import XPReader


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    truth = simulate_mothermachine(10, 3, seed=7, fluorescence=True)
    folder = tmp_path_factory.mktemp("movie")
    truth.save(folder)
    return truth, folder


def in_chambers(truth, shift=(0, 0)):
    """Pixels of the chamber boxes (cells leaving a chamber stick out)."""
    inside = np.zeros(truth.labels.shape[1:], dtype=bool)
    for xtl, ytl, xbr, ybr in truth.chambers:
        inside[ytl + shift[0]:ybr + shift[0], xtl + shift[1]:xbr + shift[1]] = True
    return inside


def test_labels_match_truth(movie):
    truth, _ = movie
    position = position_from_truth(truth)
    assert len(position.rois) == 3
    labels = position.labels()
    assert len(labels) == truth.n_frames
    inside = in_chambers(truth)
    for frame, full in enumerate(labels):
        assert not full[~inside].any()
        np.testing.assert_array_equal(full[inside] > 0, truth.labels[frame][inside] > 0)
    corrected = position.labels(range(2, 4), undo_corrections=False)
    assert len(corrected) == 2


def test_labels_undo_drift():
    truth = simulate_mothermachine(8, 2, seed=3, drift=True)
    assert np.abs(truth.drift).max() > 0
    position = position_from_truth(truth)
    for frame, full in enumerate(position.labels()):
        inside = in_chambers(truth, truth.drift[frame])
        np.testing.assert_array_equal(full[inside] > 0, truth.labels[frame][inside] > 0)


def test_lineage_from_truth(movie):
    truth, _ = movie
    position = position_from_truth(truth)
    cells = sum(len(roi.lineage) for roi in position.rois)
    assert cells == len(truth.cell_ids)
    divisions = sum(1 for roi in position.rois for cell in roi.lineage.cells.values()
                    if cell.motherid)
    assert divisions == len(truth.divisions)
    roi = position.rois[0]
    assert np.isfinite(roi.lineage.cells[1].features(5).growthrate_length)


def test_netcdf_round_trip_and_clear(movie, tmp_path):
    truth, _ = movie
    position = position_from_truth(truth, position_nb=4)
    written = position.save(tmp_path / "pos", save_as="netCDF")
    assert written == [tmp_path / "pos.nc"]
    with h5py.File(written[0], "r") as h5:
        assert {"drift_values", "roi00", "roi01", "roi02"} <= set(h5)
        assert not any(name.startswith("roi03") for name in h5)
        assert h5.attrs["roi_count"] == 3
    back = Position.load_netcdf(written[0])
    assert back.compare(position, level=1) == []
    assert back.position_nb == 4 and back.frame_shape == truth.labels.shape[1:]
    back.rois[2].lineage.cells[1].features(0).length += 1
    diffs = back.compare(position, level=1)
    assert diffs[0] == "ROI 2"
    position.clear()
    assert position.rois == []
    position.load()
    assert len(position.rois) == 3
    with pytest.raises(CytolabError, match="never saved"):
        Position(0, position.config).load()


def test_default_name_and_bad_formats(movie, tmp_path, monkeypatch):
    truth, _ = movie
    position = position_from_truth(truth, position_nb=2)
    monkeypatch.chdir(tmp_path)
    assert position.save(save_as="netCDF")[0].name == "Position000002.nc"
    with pytest.raises(ValueError, match="needs the experiment's reader"):
        position.save(save_as="movie")
    with pytest.raises(ValueError, match="Unknown output formats"):
        position.save(save_as=("netCDF", "gif"))
    (tmp_path / "bad.nc").write_text("x")
    with pytest.raises(FileFormatError, match="bad.nc"):
        Position.load_netcdf(tmp_path / "bad.nc")


def test_movies(movie, tmp_path):
    import imageio.v3 as iio

    truth, folder = movie
    position = position_from_truth(truth)
    reader = XPReader(folder)
    plain, labeled = position.save(tmp_path / "pos", reader=reader,
                                   save_as=("movie", "labeled-movie"))
    assert plain.name == "pos.mp4" and labeled.name == "pos_labeled.mp4"
    frames = iio.imread(plain)
    assert frames.shape[0] == truth.n_frames
    assert frames.shape[1:3][0] >= truth.labels.shape[1]
    movie_frames = position.results_movie(reader, range(3))
    with_ids = position.results_movie(reader, range(3), with_labels=True)
    assert len(movie_frames) == 3 and movie_frames[0].dtype == np.uint8
    assert not np.array_equal(movie_frames[0], with_ids[0])
    colored = (movie_frames[0].max(axis=2) - movie_frames[0].min(axis=2)) > 30
    outline_pixels = colored.sum()
    assert outline_pixels > 0
    mask = truth.labels[0] > 0
    assert (colored & ~mask).sum() == 0  # outlines lie on cell pixels


def test_export_rtdc(movie, tmp_path):
    truth, _ = movie
    position = position_from_truth(truth)
    rows = sum(len(roi.lineage.to_table()["cellid"]) for roi in position.rois)
    path = export_rtdc(position, tmp_path / "cells.rtdc", pixel_size=0.1,
                       frame_interval=120.0)
    with cytolab.new_dataset(path) as ds:
        assert len(ds) == rows
        np.testing.assert_array_equal(ds["time"], ds["frame"] * 120.0)
        assert set(np.unique(ds["userdef2"])) == {0.0, 1.0, 2.0}
        first = position.rois[0].lineage.cells[1].features(3)
        hit = (ds["userdef2"] == 0) & (ds["userdef0"] == 1) & (ds["frame"] == 3)
        assert hit.sum() == 1
        assert ds["userdef4"][hit][0] == pytest.approx(first.length * 0.1)
        assert ds["area_um"][hit][0] == pytest.approx(first.area * 0.01)
        assert ds["userdef6"][hit][0] == pytest.approx(first.growthrate_length * 30)
        assert np.isfinite(ds["userdef8"]).all() and np.isnan(ds["userdef9"]).all()
        assert len(ds.logs["cytolab-timelapse"]) == len(USERDEF_FEATURES)
    plain = export_rtdc([position], tmp_path / "px.rtdc")
    with cytolab.new_dataset(plain) as ds:
        assert "time" not in ds.features_innate and "area_um" not in ds
        assert "area_msd" in ds
    empty = Position(0, position.config)
    with pytest.raises(ValueError, match="no cells"):
        export_rtdc(empty, tmp_path / "none.rtdc")
    assert not (tmp_path / "none.rtdc").exists()


def test_agarpad_position():
    truth = simulate_agarpad(6, seed=2, shape=(128, 128), n_founders=5)
    position = position_from_truth(truth)
    assert len(position.rois) == 1
    assert position.config.models.keys() >= {"seg", "track"}
    assert len(position.rois[0].lineage) == len(truth.cell_ids)
