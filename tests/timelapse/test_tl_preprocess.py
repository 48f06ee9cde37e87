"""Preparing positions: frames, chamber detection, rotation and drift
correction, and the Position's segmentation/tracking calls."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cytolab.simulate.movies import simulate_agarpad, simulate_mothermachine
from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.config import Config
from cytolab.timelapse.images import resize_image
from cytolab.timelapse.position import Position
from cytolab.timelapse.preprocess import (
    ChamberDetectionError,
    as_frames,
    boxes_from_mask,
    find_roi_boxes,
    fitting_size,
)
from cytolab.timelapse.tiling import create_windows
from cytolab.timelapse.truth import position_from_truth


class ChamberOracle:
    """rois network: the true chamber boxes; records its inputs."""

    def __init__(self, chambers, shape, overlap=24, empty=False):
        self.mask = np.zeros(shape, np.float32)
        if not empty:
            for xtl, ytl, xbr, ybr in chambers:
                self.mask[ytl:ybr, xtl:xbr] = 1
        self.overlap = overlap
        self.inputs = []

    def predict(self, x, batch_size):
        self.inputs.append(x.shape)
        size = x.shape[1:3]
        if len(x) == 1 and self.mask.shape != size:
            out = resize_image(self.mask, size)[np.newaxis]
        else:
            out = create_windows(self.mask, size, self.overlap)[0]
        return out[..., np.newaxis]


class Counting:
    """seg/track network: a fixed 'cell' in the upper half; counts calls."""

    def __init__(self, channels=1):
        self.calls = []
        self.channels = channels

    def predict(self, x, batch_size):
        self.calls.append(len(x))
        out = np.zeros(x.shape[:3] + (self.channels,), np.float32)
        out[:, 8:x.shape[1] // 2, 6:-6] = 1
        return out


def mm_config(shape):
    return Config.default("mothermachine")


def assert_boxes_close(boxes, chambers, atol=2):
    assert len(boxes) == len(chambers)
    found = np.array([[b.xtl, b.ytl, b.xbr, b.ybr] for b in boxes])
    np.testing.assert_allclose(found, np.array(chambers), atol=atol)


@pytest.fixture(scope="module")
def tilted():
    """Drifting, rotated movie with fluorescence."""
    return simulate_mothermachine(12, 3, seed=5, drift=True, rotation=2.5,
                                  fluorescence=True)


@pytest.fixture(scope="module")
def straight():
    return simulate_mothermachine(6, 3, seed=6)


# ------------------------------------------------------------------ frames
def test_as_frames_arrays_and_dataarrays():
    stack = np.arange(6 * 2 * 3 * 4, dtype=np.uint16).reshape(6, 2, 3, 4)
    frames, numbers = as_frames(stack)
    assert numbers == range(6) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, stack / np.float32(65535))
    frames, numbers = as_frames(stack[:, 0], range(2, 5))
    assert numbers == range(2, 5) and frames.shape == (3, 1, 3, 4)
    np.testing.assert_array_equal(frames[:, 0], stack[2:5, 0] / np.float32(65535))
    # a DataArray's frame coordinate gives the numbers (any dimension order)
    da = xr.DataArray(stack.astype(np.float32), dims=("frame", "channel", "y", "x"),
                      coords={"frame": np.arange(10, 16)}).transpose("y", "frame",
                                                                    "x", "channel")
    frames, numbers = as_frames(da, range(12, 14))
    assert numbers == range(12, 14)
    np.testing.assert_array_equal(frames, stack[2:4])
    with pytest.raises(ValueError, match="consecutive"):
        as_frames(stack, [0, 2])
    with pytest.raises(ValueError, match=r"frames \[6\] are not among"):
        as_frames(stack, range(4, 7))
    with pytest.raises(ValueError, match="not empty"):
        as_frames(np.zeros((0, 1, 3, 3)))


def test_boxes_left_to_right():
    mask = np.zeros((20, 30), np.uint8)
    mask[2:18, 20:26] = 1
    mask[5:15, 2:8] = 1
    mask[1, 1] = 1  # a speck is an object too (filtering is postprocess')
    assert boxes_from_mask(mask) == [CroppingBox(1, 1, 2, 2), CroppingBox(2, 5, 8, 15),
                                     CroppingBox(20, 2, 26, 18)]
    assert boxes_from_mask(np.zeros((4, 4), np.uint8)) == []


def test_fitting_size():
    assert fitting_size((344, 224), (512, 512)) == (336, 224)
    assert fitting_size((600, 700), (512, 512)) == (512, 512)
    assert fitting_size((10, 40), (512, 32)) == (16, 32)


# ---------------------------------------------------------------- chambers
def test_find_roi_boxes_small_frame(straight):
    # 344 x 176 px frames, 512 x 512 px network input: windows of the frame's
    # own size in multiples of 16 (never resized: the scale of training)
    shape = straight.labels.shape[1:]
    config = mm_config(shape)
    oracle = ChamberOracle(straight.chambers, shape)
    boxes = find_roi_boxes(straight.images[0, 0], config, model=oracle)
    assert oracle.inputs == [(2, 336, 176, 1)]
    assert_boxes_close(boxes, straight.chambers)
    # integer frames are scaled like float ones
    as_uint16 = np.round(straight.images[0, 0] * 65535).astype(np.uint16)
    assert Position.find_roi_boxes(as_uint16, config, model=oracle) == boxes


def test_find_roi_boxes_tiled(straight):
    shape = straight.labels.shape[1:]
    config = mm_config(shape)
    config.update("models.rois.target_size", (128, 128))
    config.update("models.rois.tolerable_resizing_factor", 0.0)
    oracle = ChamberOracle(straight.chambers, shape, overlap=24)
    boxes = find_roi_boxes(straight.images[0, 0], config, min_overlap_crop=24,
                           model=oracle)
    windows = create_windows(np.zeros(shape), (128, 128), 24)[0]
    assert oracle.inputs == [(len(windows), 128, 128, 1)] and len(windows) > 1
    assert_boxes_close(boxes, straight.chambers)


def test_tiny_frames_error(straight):
    config = Config.default("mothermachine")
    with pytest.raises(ValueError, match=r"12 x 176 px\) is too small"):
        find_roi_boxes(straight.images[0, 0, :12], config,
                       model=ChamberOracle([], (1, 1)))
    with pytest.raises(ValueError, match="2-D"):
        find_roi_boxes(straight.images[0], config)


# -------------------------------------------------------------- preprocess
def test_preprocess_recovers_rotation_and_drift(tilted):
    shape = tilted.labels.shape[1:]
    position = Position(3, mm_config(shape))
    position.models["rois"] = ChamberOracle(tilted.chambers, shape)
    position.preprocess(tilted.images)
    assert position.frame_shape == shape
    assert position.rotate == pytest.approx(-tilted.rotation, abs=0.25)
    assert np.abs(tilted.drift).max() >= 2
    np.testing.assert_allclose(position.drift_values, tilted.drift[:, ::-1], atol=1)
    assert_boxes_close([roi.box for roi in position.rois], tilted.chambers)
    perfect = position_from_truth(tilted)
    same_box = 0
    for roi, true_roi in zip(position.rois, perfect.rois, strict=True):
        assert roi.roi_nb == true_roi.roi_nb and roi.frames == range(12)
        assert roi.fluo_stack.shape[1] == 1  # channel 1: fluorescence
        if roi.box == true_roi.box:
            # the same view of the chamber as the perfect corrections give
            corr = np.corrcoef(roi.img_stack.ravel(), true_roi.img_stack.ravel())
            assert corr[0, 1] > 0.95
            assert np.abs(roi.img_stack - true_roi.img_stack).mean() < 0.01
            same_box += 1
    assert same_box >= 2
    # without corrections: no rotation, no drift, chambers found all the same
    config = mm_config(shape)
    config.update("correct_rotation", False)
    config.update("correct_drift", False)
    plain = Position(3, config)
    plain.models["rois"] = ChamberOracle(tilted.chambers, shape)
    plain.preprocess(tilted.images)
    assert plain.rotate == 0 and not plain.drift_values.any()
    assert len(plain.rois) == 3


def test_preprocess_frame_range_and_reference(tilted):
    shape = tilted.labels.shape[1:]
    config = mm_config(shape)
    config.update("correct_rotation", False)
    truth = simulate_mothermachine(12, 3, seed=5, drift=True, fluorescence=True)
    da = xr.DataArray(truth.images, dims=("frame", "channel", "y", "x"),
                      coords={"frame": np.arange(12)})
    position = Position(0, config)
    position.models["rois"] = ChamberOracle(truth.chambers, shape)
    position.preprocess(da, range(4, 10))
    assert [roi.frames for roi in position.rois] == [range(4, 10)] * 3
    drift = truth.drift[:, ::-1]
    assert position.drift_values.shape == (10, 2)
    assert not position.drift_values[:4].any()
    np.testing.assert_allclose(position.drift_values[4:], drift[4:10] - drift[4],
                               atol=1)
    # the corrections may refer to another frame
    position.preprocess(da, range(4, 10), reference=truth.images[0, 0])
    np.testing.assert_allclose(position.drift_values[4:], drift[4:10], atol=1)
    with pytest.raises(ValueError, match="reference frame has the shape"):
        position.preprocess(da, reference=np.zeros((3, 3)))


def test_no_chamber_error(straight):
    shape = straight.labels.shape[1:]
    position = Position(7, mm_config(shape))
    position.models["rois"] = ChamberOracle([], shape, empty=True)
    with pytest.raises(ChamberDetectionError) as info:
        position.preprocess(straight.images)
    assert "Position 7" in str(info.value) and "'2D'" in str(info.value)


def test_2d_single_roi():
    truth = simulate_agarpad(3, seed=2, n_founders=4)
    position = Position(1, Config.default("2D"))
    position.preprocess(truth.images)
    assert len(position.rois) == 1
    assert position.rois[0].box == CroppingBox.full(truth.labels[0])
    assert position.rotate == 0 and not position.drift_values.any()
    assert position.models == {}  # no network was needed
    np.testing.assert_array_equal(position.rois[0].img_stack, truth.images[:, 0])


# -------------------------------------------------------- segment and track
def test_segment_shares_predict_calls(straight):
    shape = straight.labels.shape[1:]
    config = mm_config(shape)
    position = Position(0, config)
    position.models["rois"] = ChamberOracle(straight.chambers, shape)
    position.models["seg"] = seg = Counting()
    position.preprocess(straight.images)
    position.segment()
    assert seg.calls == [3 * 6]  # all chambers and frames in one call
    for roi in position.rois:
        assert roi.segmented.all()
        height = roi.seg_stack.shape[1]
        assert roi.seg_stack[:, height // 4].any() and not roi.seg_stack[:, -5].any()
    config.update("models.seg.chunk_size", 4)
    seg.calls.clear()
    position.segment(range(2, 5))
    assert seg.calls == [4, 4, 1]
    # tracking: each region gets the loaded network
    position.models["track"] = track = Counting(channels=2)
    position.segment()
    position.track(progress_bar=False)
    assert sum(track.calls) > 0
    for roi in position.rois:
        assert roi.tracked.all() and len(roi.lineage) >= 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's ONNX export
def test_get_model_loads_onnx_once(straight, tmp_path):
    torch = pytest.importorskip("torch")
    from cytolab.timelapse import models

    torch.manual_seed(0)
    path = models.export_onnx(models.unet_seg(input_size=(256, 32, 1), levels=2,
                                              filters=2), tmp_path / "seg.onnx",
                              (256, 32))
    shape = straight.labels.shape[1:]
    config = mm_config(shape)
    config.update("models.seg.model_path", str(path))
    position = Position(0, config)
    position.models["rois"] = ChamberOracle(straight.chambers, shape)
    seg = position.get_model("seg")
    assert position.get_model("seg") is seg and hasattr(seg, "predict")
    position.preprocess(straight.images[:2])
    position.segment()  # the real ONNX path; an untrained network
    assert all(roi.segmented.all() for roi in position.rois)
