"""Segmentation and tracking of ROIs, with oracle networks on simulated movies.

The oracles are Python objects with a ``predict`` method that answer what a
perfect network would: they recognise each input among the frames of the
"perfect pipeline" result (:func:`position_from_truth`) and return the true
masks. Segmenting and tracking ROIs that hold only the images must then
reproduce the true lineage.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from cytolab.simulate.movies import simulate_agarpad, simulate_mothermachine
from cytolab.timelapse import predict
from cytolab.timelapse.assets import AssetUnavailableError
from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.config import Config
from cytolab.timelapse.evaluate import evaluate
from cytolab.timelapse.images import resize_image, resize_labels, resize_mask
from cytolab.timelapse.measure import eucl
from cytolab.timelapse.roi import ROI
from cytolab.timelapse.truth import position_from_truth


# ------------------------------------------------------------------ oracles
class MotherMachineSeg:
    """Segmentation oracle for resized chamber crops: input bytes -> mask."""

    def __init__(self, rois, size, blank=()):
        self.table = {}
        for roi in rois:
            for frame in roi.frames:
                seg = roi.get_seg(frame) * (frame not in blank)
                self.table[resize_image(roi.get_img(frame), size).tobytes()] = \
                    resize_image(seg.astype(np.float32), size)
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        return np.stack([self.table[xi[..., 0].tobytes()] for xi in x])[..., None]


class TileSeg:
    """Segmentation oracle for tiles at native resolution: finds each tile in
    the frames of `roi` (template matching) and returns the true mask there."""

    def __init__(self, roi):
        self.roi = roi
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        out = np.zeros(x.shape, np.float32)
        height, width = x.shape[1:3]
        for i, tile in enumerate(x[..., 0]):
            for frame in self.roi.frames:
                image = self.roi.get_img(frame)
                if image.shape[0] < height or image.shape[1] < width:
                    continue
                found = cv2.matchTemplate(image, tile, cv2.TM_SQDIFF)
                y, x0 = np.unravel_index(np.argmin(found), found.shape)
                where = (slice(y, y + height), slice(x0, x0 + width))
                if np.array_equal(image[where], tile):
                    out[i, ..., 0] = self.roi.get_seg(frame)[where]
                    break
            else:
                raise AssertionError("tile not found in the movie")
        return out


def _daughters(roi, cellid, frame):
    return [d for d, cell in roi.lineage.cells.items()
            if cell.motherid == cellid and cell.first_frame == frame]


class MotherMachineTrack:
    """Tracking oracle for resized chambers: the current image tells the
    frame, the seed mask the cell; returns its true mask and its daughter's.
    With `lie`, the two are exchanged for cells whose pole ages are known
    (born by division, or divided before)."""

    def __init__(self, rois, size, lie=False):
        self.size = size
        self.lie = lie
        self.frames = {resize_image(roi.get_img(f), size).tobytes(): (roi, f)
                       for roi in rois for f in roi.frames}
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        out = np.zeros((*x.shape[:3], 2), np.float32)
        for i, xi in enumerate(x):
            roi, frame = self.frames[xi[..., 2].tobytes()]
            previous = resize_labels(roi.get_labels(frame - 1), self.size)
            under = previous[xi[..., 1] > 0.5]
            cell = np.bincount(under[under > 0]).argmax()
            now = roi.get_labels(frame)
            out[i, ..., 0] = resize_image((now == cell).astype(np.float32), self.size)
            out[i, ..., 1] = resize_image(np.isin(now, _daughters(roi, cell, frame))
                                          .astype(np.float32), self.size)
            known = roi.lineage.cell(cell).motherid is not None or any(
                f < frame for f in roi.lineage.cell(cell).divisions())
            if self.lie and known:
                out[i] = out[i, ..., ::-1]
        return out


class WindowTrack:
    """Tracking oracle for windows around cells: finds the seed cell by the
    exact shape of its mask, checks the window against the images and
    returns the true masks in that window."""

    def __init__(self, roi):
        self.roi = roi
        self.shapes = {}
        for frame in roi.frames:
            labels = roi.get_labels(frame)
            for cell, where in enumerate(ndimage.find_objects(labels), 1):
                if where is not None:
                    mask = labels[where] == cell
                    self.shapes.setdefault((mask.shape, mask.tobytes()), []).append(
                        (frame, cell, where[0].start, where[1].start))
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        out = np.zeros((*x.shape[:3], 2), np.float32)
        height, width = x.shape[1:3]
        for i, xi in enumerate(x):
            (where,) = ndimage.find_objects((xi[..., 1] > 0.5).astype(np.uint8))
            mask = xi[..., 1][where] > 0.5
            hits = []
            for frame, cell, y0, x0 in self.shapes[(mask.shape, mask.tobytes())]:
                ytl, xtl = y0 - where[0].start, x0 - where[1].start
                box = CroppingBox(xtl=xtl, ytl=ytl, xbr=xtl + width, ybr=ytl + height)
                if frame + 1 in self.roi.frames and np.array_equal(
                        box.crop(self.roi.get_img(frame)), xi[..., 0]):
                    hits.append((frame + 1, cell, box))
            assert len(hits) == 1
            frame, cell, box = hits[0]
            now = box.crop(self.roi.get_labels(frame))
            out[i, ..., 0] = now == cell
            out[i, ..., 1] = np.isin(now, _daughters(self.roi, cell, frame))
        return out


# ------------------------------------------------------------------ helpers
def images_only(roi: ROI, config: Config | None = None) -> ROI:
    """A new ROI with the images (and fluorescence) of `roi`, nothing else."""
    stack = np.concatenate([roi.img_stack[:, None], roi.fluo_stack], axis=1)
    return ROI(stack, roi.roi_nb, roi.first_frame, roi.box, config or roi.config)


def score(rois, truth):
    """evaluate() of ROIs against the truth (ids made unique per ROI)."""
    labels = np.zeros(truth.labels.shape, np.int64)
    mothers = {}
    for roi in rois:
        offset = 1000 * (roi.roi_nb + 1)
        for frame in roi.frames:
            own = roi.get_labels(frame).astype(np.int64)
            labels[frame] = roi.box.patch(labels[frame],
                                          np.where(own > 0, own + offset, 0))
        for cell, mother in roi.lineage.motherids().items():
            mothers[cell + offset] = None if mother is None else mother + offset
    return evaluate(labels, mothers, truth)


def assert_perfect(result):
    assert result["links"]["link_error_rate"] == 0.0
    assert result["links"]["spurious"] == 0
    assert result["divisions"]["f1"] == 1.0 and result["divisions"]["tp"] > 0
    assert result["segmentation"]["f1"] == 1.0


def matched_cells(ours: ROI, theirs: ROI):
    """(frame, our cell, their cell) pairs of cells covering the same pixels."""
    for frame in ours.frames:
        mine, other = ours.get_labels(frame), theirs.get_labels(frame)
        for cell in np.unique(mine[mine > 0]):
            under = other[mine == cell]
            yield frame, int(cell), int(np.bincount(under).argmax())


def assert_pole_ages(ours: ROI, perfect: ROI):
    """Old poles lie at the true old poles for cells whose ages are known."""
    checked = 0
    for frame, cell, true_cell in matched_cells(ours, perfect):
        ours_cell = ours.lineage.cell(cell)
        if ours_cell.motherid is None and not ours_cell.divisions():
            continue  # a founder that never divided: its pole ages are a guess
        mine = ours_cell.features(frame)
        true = perfect.lineage.cell(true_cell).features(frame)
        assert eucl(mine.old_pole, true.old_pole) < eucl(mine.old_pole, true.new_pole)
        checked += 1
    assert checked > 20


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def mothermachine():
    truth = simulate_mothermachine(n_frames=12, n_chambers=2, seed=5,
                                   fluorescence=True)
    return truth, position_from_truth(truth)


@pytest.fixture(scope="module")
def agarpad():
    truth = simulate_agarpad(10, n_founders=4, shape=(128, 160), seed=2,
                             fluorescence=True)
    config = Config.default("2D")
    config.update("models.seg.target_size", (128, 96))
    config.update("models.track.target_size", (64, 64))
    return truth, position_from_truth(truth, config)


def mm_oracles(perfect, blank=()):
    config = perfect.config
    return (MotherMachineSeg(perfect.rois, config.models["seg"].target_size, blank),
            MotherMachineTrack(perfect.rois, config.models["track"].target_size))


# -------------------------------------------------------------------- tests
def test_mothermachine_oracle_reproduces_the_truth(mothermachine):
    truth, perfect = mothermachine
    seg, track = mm_oracles(perfect)
    rois = [images_only(roi) for roi in perfect.rois]
    for roi in rois:
        roi.segment(roi.frames, seg)
        roi.track(roi.frames, track)
    assert_perfect(score(rois, truth))
    # every frame of a chamber in one call, batches of the configured size
    models = perfect.config.models
    assert seg.calls == [(12, models["seg"].batch_size)] * 2
    # one call per frame after the first, with all cells of the previous frame
    counts = [len(roi.lineage.cellids_at(f)) for roi in rois for f in roi.frames[:-1]]
    assert track.calls == [(n, models["track"].batch_size) for n in counts]
    for roi, good in zip(rois, perfect.rois, strict=True):
        assert roi.segmented.all() and roi.tracked.all()
        roi.lineage.check()
        assert roi.lineage.motherids() == good.lineage.motherids()
        assert_pole_ages(roi, good)
        for frame, cell, _ in matched_cells(roi, good):
            feats = roi.lineage.cell(cell).features(frame)
            assert len(feats.fluo) == 1 and feats.fluo[0] > 0
            assert feats.length > feats.width > 0 and feats.area > 0


def test_known_pole_ages_decide_the_mother():
    truth = simulate_mothermachine(n_frames=40, n_chambers=1, seed=5)
    perfect = position_from_truth(truth)
    size = perfect.config.models["track"].target_size
    seg = MotherMachineSeg(perfect.rois, perfect.config.models["seg"].target_size)
    known = [(f, m) for f, m, _ in truth.divisions
             if truth.mothers[m] is not None
             or any(g < f for g, n, _ in truth.divisions if n == m)]
    assert len(truth.divisions) == 9 and len(known) == 4
    # two mothers are washed out of the chamber as their daughter is born,
    # which a lineage cannot hold (the daughters become cells without
    # mother): the perfect pipeline misses these two divisions too
    expected = score(perfect.rois, truth)
    assert expected["divisions"]["tp"] == 7
    assert expected["links"]["division_link_errors"] == 2
    for lie in (False, True):
        # a network that swaps mother and daughter of cells whose pole ages
        # are known is overruled by the poles
        roi = images_only(perfect.rois[0])
        roi.segment(roi.frames, seg)
        roi.track(roi.frames, MotherMachineTrack(perfect.rois, size, lie=lie))
        result = score([roi], truth)
        assert result["links"] == expected["links"]
        assert result["divisions"] == expected["divisions"]
        assert roi.lineage.motherids() == perfect.rois[0].lineage.motherids()
        assert_pole_ages(roi, perfect.rois[0])


def test_mothermachine_windows_when_resizing_is_not_tolerable(mothermachine):
    truth, perfect = mothermachine
    config = Config.deserialize(perfect.config.serialize())
    config.update("models.seg.target_size", (96, 32))
    config.update("models.seg.tolerable_resizing_factor", 0.5)
    roi = images_only(perfect.rois[0], config)
    x, windows = roi.get_segmentation_inputs(3)
    # overlaps of at least 16 px (half the window width), spread evenly
    assert x.shape == (3, 96, 32, 1) and x.dtype == np.float32
    assert windows[0].tolist() == [[0, 96], [72, 168], [144, 240]]
    assert windows[1].tolist() == [[0, 32]]
    np.testing.assert_array_equal(x[1, :, :, 0], roi.get_img(3)[72:168])
    roi.segment(roi.frames, TileSeg(perfect.rois[0]))
    # tiles are stitched at native resolution: the masks come back exactly
    np.testing.assert_array_equal(roi.seg_stack, perfect.rois[0].seg_stack)


def test_agarpad_oracle_reproduces_the_truth(agarpad):
    truth, perfect = agarpad
    good = perfect.rois[0]
    roi = images_only(good)
    x, windows = roi.get_segmentation_inputs(0)
    assert x.shape == (2, 128, 96, 1)
    assert windows[1].tolist() == [[0, 96], [64, 160]]
    seg, track = TileSeg(good), WindowTrack(good)
    roi.segment(roi.frames, seg)
    assert seg.calls == [(20, 4)]
    np.testing.assert_array_equal(roi.seg_stack, good.seg_stack)
    roi.track(roi.frames, track)
    assert_perfect(score([roi], truth))
    assert len(truth.divisions) == 4
    assert_pole_ages(roi, good)
    for frame, cell, true_cell in matched_cells(roi, good):
        mine = roi.lineage.cell(cell).features(frame)
        true = good.lineage.cell(true_cell).features(frame)
        assert mine.fluo == true.fluo and mine.area == true.area
        assert mine.edges == true.edges


def test_tracking_inputs_mothermachine(mothermachine):
    _, perfect = mothermachine
    good = perfect.rois[1]
    x, boxes = good.get_tracking_inputs(5)
    cells = sorted(good.lineage.cellids_at(4),
                   key=lambda c: np.argwhere(good.get_labels(4) == c)[0].tolist())
    assert x.shape == (len(cells), 256, 32, 4) and x.dtype == np.float32
    assert boxes == [CroppingBox(0, 0, 32, 240)] * len(cells)
    for i, cell in enumerate(cells):  # top to bottom
        np.testing.assert_array_equal(x[i, ..., 0], resize_image(good.get_img(4),
                                                                 (256, 32)))
        np.testing.assert_array_equal(x[i, ..., 1], resize_mask(
            good.get_labels(4) == cell, (256, 32)))
        np.testing.assert_array_equal(x[i, ..., 2], resize_image(good.get_img(5),
                                                                 (256, 32)))
        np.testing.assert_array_equal(x[i, ..., 3], resize_mask(good.get_seg(5),
                                                                (256, 32)))
    first, none = good.get_tracking_inputs(0)
    assert first.shape == (0, 256, 32, 4) and none == []


def test_tracking_inputs_2d_windows_around_cells(agarpad):
    _, perfect = agarpad
    good = perfect.rois[0]
    x, boxes = good.get_tracking_inputs(6)
    labels = good.get_labels(5)
    assert x.shape == (len(boxes), 64, 64, 4) == (len(np.unique(labels)) - 1, 64, 64, 4)
    for i, box in enumerate(boxes):
        seed = x[i, ..., 1] > 0
        cell = int(np.bincount(box.crop(labels)[seed]).argmax())
        centre = np.argwhere(labels == cell).mean(axis=0)
        assert np.abs(centre - [box.ytl + 32, box.xtl + 32]).max() <= 1
        np.testing.assert_array_equal(x[i, ..., 1], box.crop(labels == cell))
        np.testing.assert_array_equal(x[i, ..., 2], box.crop(good.get_img(6)))
        np.testing.assert_array_equal(x[i, ..., 3], box.crop(good.get_seg(6)))


def test_small_2d_frames_are_refused(agarpad):
    _, perfect = agarpad
    roi = images_only(perfect.rois[0], Config.default("2D"))
    with pytest.raises(ValueError, match=r"frames of 128x160 px are smaller than "
                                         r"the segmentation network input of "
                                         r"512x512 px.*'models.seg.target_size'"):
        roi.segment(roi.frames, TileSeg(perfect.rois[0]))


def test_tracking_needs_segmentation_and_previous_labels(mothermachine):
    _, perfect = mothermachine
    roi = images_only(perfect.rois[0])
    with pytest.raises(RuntimeError, match="frame 0 is not segmented"):
        roi.get_tracking_inputs(0)
    with pytest.raises(RuntimeError, match="frame 0 is not segmented"):
        roi.track(roi.frames, MotherMachineTrack(perfect.rois, (256, 32)))
    roi.segment(roi.frames, mm_oracles(perfect)[0])
    with pytest.raises(RuntimeError, match="frame 3 has no labels yet"):
        roi.get_tracking_inputs(4)
    with pytest.raises(ValueError, match="1 tracking boxes for 0 cells"):
        roi.process_tracking_outputs(np.zeros((1, 256, 32, 2)), 0,
                                     [CroppingBox(0, 0, 32, 240)])
    with pytest.raises(IndexError, match="Frame 12 is not in ROI 0"):
        roi.segment(range(10, 13), mm_oracles(perfect)[0])


def test_tracking_again(mothermachine):
    _, perfect = mothermachine
    seg, track = mm_oracles(perfect)
    roi = images_only(perfect.rois[0])
    roi.segment(roi.frames, seg)
    roi.track(range(0, 6), track)
    assert roi.tracked.tolist() == [True] * 6 + [False] * 6
    roi.track(range(6, 12), track)  # continues where it stopped
    lineage = roi.lineage
    assert lineage.motherids() == perfect.rois[0].lineage.motherids()
    with pytest.raises(RuntimeError, match="frame 7 is tracked already"):
        roi.track(range(7, 9), track)
    with pytest.raises(ValueError, match="ascending order"):
        roi.track([3, 2], track)
    roi.track(roi.frames, track)  # from the first frame: a new lineage
    assert roi.lineage is not lineage and roi.lineage == lineage


def test_frames_without_cells(mothermachine):
    _, perfect = mothermachine
    seg, track = mm_oracles(perfect, blank=(4, 5))
    roi = images_only(perfect.rois[0])
    roi.segment(roi.frames, seg)
    roi.track(roi.frames, track, progress_bar=True)
    assert roi.tracked.all()
    assert not roi.label_stack[4:6].any()
    roi.lineage.check()
    before, after = roi.lineage.cellids_at(3), roi.lineage.cellids_at(6)
    assert before and after and not set(before) & set(after)
    for cell in after:  # everything after the gap is new, without mother
        assert roi.lineage.cell(cell).first_frame == 6
        assert roi.lineage.cell(cell).motherid is None
    assert roi.lineage.cellids_at(4) == []


def test_roi_without_cells():
    config = Config.default("mothermachine")
    roi = ROI(np.zeros((4, 240, 32)), 3, 7, CroppingBox(0, 0, 32, 240), config)

    class Nothing:
        def predict(self, x, batch_size):
            return np.zeros(x.shape, np.float32)

    class NeverCalled:
        def predict(self, x, batch_size):
            raise AssertionError("no cells, nothing to track")

    roi.segment(roi.frames, Nothing())
    roi.track(roi.frames, NeverCalled())
    assert roi.segmented.all() and roi.tracked.all()
    assert len(roi.lineage) == 0 and not roi.label_stack.any()


def test_chunk_boundaries_do_not_change_results(mothermachine):
    _, perfect = mothermachine
    seg, track = mm_oracles(perfect)
    reference = images_only(perfect.rois[1])
    reference.segment(reference.frames, seg)
    reference.track(reference.frames, track)
    config = Config.deserialize(perfect.config.serialize())
    config.update("models.seg.chunk_size", 5)
    config.update("models.seg.batch_size", 2)
    config.update("models.track.chunk_size", 2)
    config.update("models.track.batch_size", 1)
    seg.calls.clear()
    track.calls.clear()
    roi = images_only(perfect.rois[1], config)
    roi.segment(roi.frames, seg)
    assert seg.calls == [(5, 2), (5, 2), (2, 2)]
    roi.track(roi.frames, track)
    assert {n for n, _ in track.calls} <= {1, 2} and len(track.calls) > 11
    np.testing.assert_array_equal(roi.seg_stack, reference.seg_stack)
    np.testing.assert_array_equal(roi.label_stack, reference.label_stack)
    assert roi.lineage == reference.lineage


def test_roi_methods_load_the_configured_models(mothermachine, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from cytolab.timelapse import models

    _, perfect = mothermachine
    torch.manual_seed(0)
    config = Config.deserialize(perfect.config.serialize())
    roi = images_only(perfect.rois[0], config)
    from cytolab.timelapse import assets
    monkeypatch.delitem(assets.WEIGHTS, ("mothermachine", "seg"))
    with pytest.raises(AssetUnavailableError, match="models.seg.model_path"):
        roi.segment(roi.frames)  # no shipped weights, no model_path
    seg = models.export_onnx(models.unet_seg(input_size=(256, 32, 1), levels=2,
                                             filters=2), tmp_path / "seg.onnx",
                             (256, 32))
    track = models.export_onnx(models.unet_track(input_size=(256, 32, 4), levels=2,
                                                 filters=2), tmp_path / "track.onnx",
                               (256, 32))
    config.update("models.seg.model_path", str(seg))
    config.update("models.track.model_path", str(tmp_path / "missing.onnx"))
    roi.segment(range(0, 4))
    assert roi.segmented.tolist() == [True] * 4 + [False] * 8
    with pytest.raises(AssetUnavailableError, match="missing.onnx"):
        roi.track(range(0, 4))
    # untrained networks give poor but consistent results
    roi.seg_stack[:4] = perfect.rois[0].seg_stack[:4]
    config.update("models.track.model_path", str(track))
    roi.track(range(0, 4))
    roi.lineage.check()
    assert roi.tracked[:4].all()
    assert sorted(np.unique(roi.label_stack[3]))[1:] == roi.lineage.cellids_at(3)
    x, _ = roi.get_tracking_inputs(1)
    np.testing.assert_array_equal(
        ROI.chunks_predict(x, track, chunk_size=2, batch_size=3),
        ROI.chunks_predict(x, str(track), chunk_size=len(x)))


def test_presets_of_a_configuration():
    assert predict.is_mothermachine(Config.default("mothermachine"))
    assert not predict.is_mothermachine(Config.default("2D"))
    config = Config.default("mothermachine")
    config.models["seg"].default_model = None  # a configuration of one's own
    assert predict.is_mothermachine(config)
    del config.models["rois"]
    assert not predict.is_mothermachine(config)
