"""The time-lapse Pipeline on simulated movies with oracle networks: files
per position, accuracy against the truth, worker processes, failures, Dask
batches and the demo."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tifffile

from cytolab._dask import BatchError
from cytolab.errors import PipelineWarning
from cytolab.simulate.movies import simulate_mothermachine
from cytolab.timelapse import assets
from cytolab.timelapse.config import Config
from cytolab.timelapse.demo import demo_timelapse
from cytolab.timelapse.evaluate import evaluate_position
from cytolab.timelapse.images import resize_image
from cytolab.timelapse.pipeline import (
    Pipeline,
    PipelineError,
    run_batch,
)
from cytolab.timelapse.position import Position
from cytolab.timelapse.preprocess import ChamberDetectionError
from cytolab.timelapse.tiling import create_windows
from cytolab.timelapse.truth import position_from_truth
from cytolab.timelapse.xpreader import XPReader

N_FRAMES, N_CHAMBERS = 10, 3


# ------------------------------------------------------------------ oracles
# Module-level classes: worker processes unpickle them.
class ChamberOracle:
    """rois network: the true chamber boxes (nothing on a blank frame)."""

    def __init__(self, chambers, shape, overlap=24):
        self.mask = np.zeros(shape, np.float32)
        for xtl, ytl, xbr, ybr in chambers:
            self.mask[ytl:ybr, xtl:xbr] = 1
        self.overlap = overlap

    def predict(self, x, batch_size):
        size = x.shape[1:3]
        if len(x) == 1 and self.mask.shape != size:
            out = resize_image(self.mask, size)[np.newaxis]
        else:
            out = create_windows(self.mask, size, self.overlap)[0]
        out = out * (x.reshape(len(x), -1).max(axis=1) > 0)[:, None, None]
        return out[..., np.newaxis]


class SegOracle:
    """seg network: the true mask of the nearest true chamber image."""

    def __init__(self, truths, config):
        size = config.models["seg"].target_size
        keys, masks = [], []
        for truth in truths:
            for roi in position_from_truth(truth, config).rois:
                for frame in roi.frames:
                    keys.append(resize_image(roi.get_img(frame), size).ravel())
                    masks.append(resize_image(roi.get_seg(frame).astype(np.float32),
                                              size))
        self.keys, self.masks = np.array(keys), np.array(masks)

    def predict(self, x, batch_size):
        flat = x[..., 0].reshape(len(x), -1)
        dist = (flat ** 2).sum(1)[:, None] - 2 * flat @ self.keys.T \
            + (self.keys ** 2).sum(1)[None]
        return self.masks[dist.argmin(axis=1)][..., np.newaxis]


class OverlapTracker:
    """track network: the cells at t mostly covered by the cell at t-1."""

    def predict(self, x, batch_size):
        out = np.zeros(x.shape[:3] + (2,), np.float32)
        for i, item in enumerate(x):
            seed = item[..., 1] > 0.5
            count, comps = cv2.connectedComponents((item[..., 3] > 0.5)
                                                   .astype(np.uint8))
            for j in range(1, count):
                obj = comps == j
                if (seed & obj).sum() >= 0.5 * obj.sum():
                    out[i, obj, 0] = 1
        return out


class NoCells:
    """seg network that finds nothing."""

    def predict(self, x, batch_size):
        return np.zeros(x.shape, np.float32)


def mm_config(shape):
    return Config.default("mothermachine")


def write_positions(folder, stacks):
    """One TIFF per position, channel and frame."""
    folder.mkdir(parents=True, exist_ok=True)
    for p, stack in enumerate(stacks):
        for f, frame in enumerate(stack):
            for c, image in enumerate(frame):
                tifffile.imwrite(folder / f"Position{p:02d}_Channel{c:02d}_"
                                          f"Frame{f:03d}.tif",
                                 np.round(image * 65535).astype(np.uint16))
    return folder


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    """Two simulated positions (drift, rotation, fluorescence), a blank
    third one, the truths, a configuration and oracle networks."""
    truths = [simulate_mothermachine(N_FRAMES, N_CHAMBERS, seed=seed, drift=True,
                                     rotation=rotation, fluorescence=True)
              for seed, rotation in ((31, 2.0), (32, -1.0))]
    folder = tmp_path_factory.mktemp("experiment")
    blank = np.zeros_like(truths[0].images)
    write_positions(folder, [truths[0].images, truths[1].images, blank])
    shape = truths[0].labels.shape[1:]
    config = mm_config(shape)
    models = {"rois": ChamberOracle(truths[0].chambers, shape),
              "seg": SegOracle(truths, config), "track": OverlapTracker()}
    return folder, truths, config, models


@pytest.fixture(scope="module")
def processed(movies, tmp_path_factory):
    """Positions 0 and 1 processed in this process, kept in memory."""
    folder, _, config, models = movies
    out = tmp_path_factory.mktemp("results")
    pipeline = Pipeline(XPReader(folder), config, out, models=models)
    results = pipeline.process(positions=[0, 1], save_as=("netCDF", "movie", "rtdc"),
                               clear=False)
    return pipeline, results, out


def test_process_writes_files_per_position(processed, movies):
    pipeline, results, out = processed
    _, truths, _, _ = movies
    assert [r.position_nb for r in results] == [0, 1]
    for result in results:
        base = f"Position{result.position_nb:06d}"
        assert [f.name for f in result.files] == [f"{base}.nc", f"{base}.mp4",
                                                  f"{base}.rtdc"]
        assert all(f.parent == out and f.stat().st_size > 0 for f in result.files)
        assert result.rois == N_CHAMBERS and result.frames == range(N_FRAMES)
        position = pipeline.positions[result.position_nb]
        assert result.cells == sum(len(r.lineage) for r in position.rois)
        assert result.divisions == sum(1 for r in position.rois
                                       for c in r.lineage.cells.values() if c.motherid)
        back = Position.load_netcdf(result.files[0])
        assert back.compare(position, level=1) == []
        assert back.frame_shape == truths[0].labels.shape[1:]


def test_pipeline_matches_truth(processed, movies):
    pipeline, _, _ = processed
    _, truths, _, _ = movies
    for number, truth in enumerate(truths):
        position = pipeline.positions[number]
        assert position.rotate == pytest.approx(-truth.rotation, abs=0.25)
        np.testing.assert_allclose(position.drift_values, truth.drift[:, ::-1],
                                   atol=1)
        result = evaluate_position(position, truth)
        # the oracles segment perfectly: only undoing the rotation (nearest
        # neighbour) changes pixels at the cell borders
        assert result["segmentation"]["f1"] >= 0.99
        assert result["segmentation"]["mean_iou"] > 0.9
        assert result["links"]["link_error_rate"] < 0.1
        assert result["growth_rate"]["n"] > 0


def test_clear_and_frames(movies, tmp_path):
    folder, _, config, models = movies
    pipeline = Pipeline(folder, config, tmp_path, models=models)
    (result,) = pipeline.process(positions=[1], frames=4, save_as="netCDF")
    assert result.frames == range(4)
    assert result.files == [tmp_path / "Position000001.nc"]
    position = pipeline.positions[1]
    assert position.rois == []  # cleared
    position.load()
    assert [roi.frames for roi in position.rois] == [range(4)] * N_CHAMBERS
    (result,) = pipeline.process(positions=[0], frames=slice(3, 7),
                                 save_as=["labeled-movie"])
    assert result.frames == range(3, 7)
    assert [f.name for f in result.files] == ["Position000000_labeled.mp4"]


def test_no_cells_no_rtdc(movies, tmp_path):
    folder, _, config, models = movies
    pipeline = Pipeline(folder, config, tmp_path, models={**models, "seg": NoCells()})
    with pytest.warns(PipelineWarning, match="Position 0 has no cells"):
        (result,) = pipeline.process(positions=[0], frames=2,
                                     save_as=["netCDF", "rtdc"])
    assert result.cells == 0 and result.rois == N_CHAMBERS
    assert result.files == [tmp_path / "Position000000.nc"]


def test_failures_are_collected(movies, tmp_path):
    folder, _, config, models = movies
    pipeline = Pipeline(folder, config, tmp_path, models=models)
    with pytest.raises(PipelineError, match="1 of 2 positions") as info:
        pipeline.process(positions=[2, 0], save_as="netCDF")
    error = info.value
    assert list(error.failures) == [2]
    assert "ChamberDetectionError" in error.failures[2]
    assert "Position 2" in str(error) and "'2D'" in str(error)
    assert [r.position_nb for r in error.outputs] == [0]
    assert error.outputs[0].files[0].exists()
    assert not (tmp_path / "Position000002.nc").exists()


def test_workers_give_the_same_results(movies, processed, tmp_path):
    folder, _, config, models = movies
    _, results, _ = processed
    pipeline = Pipeline(folder, config, tmp_path, models=models)
    with pytest.raises(PipelineError) as info:
        pipeline.process(save_as=("netCDF",), n_procs=2, clear=False)
    assert list(info.value.failures) == [2]
    assert "no chamber" in info.value.failures[2]
    assert isinstance(info.value.errors[2], ChamberDetectionError)
    parallel = {r.position_nb: r for r in info.value.outputs}
    for serial in results:
        mine = Position.load_netcdf(parallel[serial.position_nb].files[0])
        assert mine.compare(Position.load_netcdf(serial.files[0]), level=1) == []
        assert pipeline.positions[serial.position_nb].compare(mine, level=1) == []


def test_bad_arguments(movies, tmp_path):
    folder, _, config, models = movies
    with pytest.raises(ValueError, match="presets"):
        Pipeline(folder)
    pipeline = Pipeline(folder, config, tmp_path, models=models)
    with pytest.raises(ValueError, match="Position 5 is not"):
        pipeline.process(positions=[5])
    with pytest.raises(ValueError, match="Unknown output formats"):
        pipeline.process(save_as=["gif"])
    with pytest.raises(ValueError, match="consecutive"):
        pipeline.process(frames=range(0, 6, 2))
    with pytest.raises(ValueError, match="outside"):
        pipeline.process(frames=range(5, 20))
    assert Pipeline(folder, presets="2D").resfolder == folder

    class Local(OverlapTracker):  # not picklable: defined in a function
        pass

    pipeline.models["track"] = Local()
    with pytest.raises(ValueError, match="picklable"):
        pipeline.process(n_procs=2)


# ------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       host="127.0.0.1")
    yield cluster.scheduler_address
    cluster.close()


def test_run_batch_on_dask(movies, dask_cluster, tmp_path):
    folder, truths, config, models = movies
    tiff = tmp_path / "single.tif"
    tifffile.imwrite(tiff, np.round(truths[1].images[:4, 0] * 65535)
                     .astype(np.uint16), photometric="minisblack")
    results = run_batch([folder, tiff], tmp_path / "out", config=config,
                        scheduler=dask_cluster, models=models, positions=[0],
                        frames=4, save_as=["netCDF"], progress=False)
    assert list(results) == [folder, tiff]
    assert results[folder][0].files == [tmp_path / "out" / folder.name /
                                        "Position000000.nc"]
    assert results[tiff][0].files == [tmp_path / "out" / "single" /
                                      "Position000000.nc"]
    assert results[tiff][0].rois == N_CHAMBERS
    # a movie that fails does not stop the others
    blank = write_positions(tmp_path / "blank", [np.zeros_like(truths[0].images[:3])])
    with pytest.raises(BatchError, match="1 of 2 movies failed") as info:
        run_batch([blank, tiff], tmp_path / "out2", config=config,
                  scheduler=dask_cluster, models=models, save_as=["netCDF"],
                  progress=False)
    assert list(info.value.failures) == [blank]
    assert info.value.outputs == [tmp_path / "out2" / "single" / "Position000000.nc"]
    with pytest.raises(ValueError, match="same name"):
        run_batch([folder, folder], tmp_path, presets="2D")


# ------------------------------------------------------------------ demo
def segmentation_f1(report):
    """The F1 score of the segmentation line of a demo report."""
    line = next(li for li in report.splitlines() if "segmentation" in li)
    return float(line.split("F1")[1].split()[0])


def test_demo_timelapse_with_oracles(tmp_path):
    kwargs = {"n_frames": 8, "n_chambers": 2, "seed": 5}
    truth = simulate_mothermachine(**kwargs, fluorescence=True, drift=True,
                                   rotation=1.5)
    shape = truth.labels.shape[1:]
    config = mm_config(shape)
    models = {"rois": ChamberOracle(truth.chambers, shape),
              "seg": SegOracle([truth], config), "track": OverlapTracker()}
    stream = io.StringIO()
    out = demo_timelapse(tmp_path, **kwargs, models=models, stream=stream)
    text = stream.getvalue()
    assert out == tmp_path / "results"
    assert (out / "Position000000.nc").exists()
    assert (out / "Position000000.mp4").exists()
    assert (tmp_path / "lineage.png").exists()
    assert (tmp_path / "movie" / "truth.npz").exists()
    assert "found            2 chambers" in text
    assert segmentation_f1(text) >= 0.99
    assert "growth rate   median relative error" in text


@pytest.mark.skipif(not all(("mothermachine", m) in assets.WEIGHTS
                            for m in ("rois", "seg", "track")),
                    reason="no shipped mother-machine weights yet (assets.WEIGHTS)")
def test_demo_timelapse_with_shipped_weights(tmp_path):
    stream = io.StringIO()
    demo_timelapse(tmp_path, n_frames=12, n_chambers=3, stream=stream)
    assert segmentation_f1(stream.getvalue()) > 0.9
    assert (tmp_path / "results" / "Position000000.nc").exists()

