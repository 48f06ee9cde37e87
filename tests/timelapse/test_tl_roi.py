"""ROI: stacks, label-aware lineage editing, netCDF round trips."""
import h5py
import numpy as np
import pytest

from cytolab.errors import FileFormatError
from cytolab.simulate import simulate_mothermachine
from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.config import Config
from cytolab.timelapse.lineage import CellFeatures
from cytolab.timelapse.roi import ROI
from cytolab.timelapse.truth import position_from_truth

CONFIG = Config.default("mothermachine")


def make_roi(frames=10):
    return ROI(np.random.default_rng(0).random((frames, 2, 20, 8)), 3, 100,
               CroppingBox(0, 0, 8, 20), CONFIG)


def feats(area):
    return CellFeatures(np.array([0, 0], np.int16), np.array([1, 1], np.int16),
                        length=area / 2, area=float(area))


def labelled_roi():
    """Cell 1 on frames 100-109 (rows 0-3), daughter 2 from frame 104 (rows
    10-12); label pixel counts equal the stored areas."""
    roi = make_roi()
    for frame in roi.frames:
        labels = np.zeros((20, 8), np.uint16)
        labels[0:4, :] = 1  # 32 px
        if frame == 100:
            roi.lineage.create(frame, feats(32))
        else:
            roi.lineage.extend(1, feats(32))
        if frame >= 104:
            labels[10:13, :] = 2  # 24 px
            if frame == 104:
                roi.lineage.create(frame, feats(24), motherid=1)
            else:
                roi.lineage.extend(2, feats(24))
        roi.set_labels(frame, labels)
    return roi


def assert_labels_follow_lineage(roi):
    for cid, cell in roi.lineage.cells.items():
        for frame in cell.frames:
            count = int((roi.get_labels(frame) == cid).sum())
            assert count == cell.features(frame).area, (cid, frame)
    for frame in roi.frames:
        ids = set(np.unique(roi.get_labels(frame))) - {0}
        assert ids == set(roi.lineage.cellids_at(frame))


def test_stacks_and_access():
    roi = make_roi()
    assert roi.frames == range(100, 110)
    assert roi.get_img(101).shape == (20, 8) and roi.get_fluo(101).shape == (1, 20, 8)
    assert roi.img_stack.dtype == np.float32
    with pytest.raises(IndexError, match="Frame 99 is not in ROI 3"):
        roi.get_img(99)
    gray = ROI(np.full((2, 20, 8), 65535, np.uint16), 0, 0, CroppingBox(0, 0, 8, 20),
               CONFIG)
    assert gray.get_img(1).max() == 1.0 and gray.fluo_stack.shape == (2, 0, 20, 8)
    with pytest.raises(ValueError, match="box is 5x8"):
        ROI(np.zeros((2, 20, 8)), 0, 0, CroppingBox(0, 0, 8, 5), CONFIG)
    with pytest.raises(ValueError, match="not empty"):
        ROI(np.zeros((0, 20, 8)), 0, 0, CroppingBox(0, 0, 8, 20), CONFIG)
    with pytest.raises(ValueError, match="does not fit"):
        roi.set_seg(100, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-negative integers"):
        roi.set_labels(100, np.full((20, 8), -1))
    roi.set_seg(102, np.eye(20, 8) * 5)
    assert roi.segmented.tolist() == [False] * 2 + [True] + [False] * 7
    assert roi.get_seg(102).max() == 1


@pytest.mark.parametrize("edit,undo", [
    (lambda r: r.split(1, 106), lambda r, new: r.merge(new, 1)),
    (lambda r: r.pivot(2), lambda r, _: r.pivot(2)),
    (lambda r: r.adopt(2, None), lambda r, _: r.adopt(2, 1)),
    (lambda r: r.swap_poles(1, 102), lambda r, _: r.swap_poles(1, 102)),
])
def test_edits_keep_labels_in_step(edit, undo):
    roi = labelled_roi()
    labels, lineage = roi.label_stack.copy(), roi.to_xarray()
    result = edit(roi)
    assert_labels_follow_lineage(roi)
    undo(roi, result)
    assert_labels_follow_lineage(roi)
    np.testing.assert_array_equal(roi.label_stack, labels)
    assert roi.to_xarray().identical(lineage)


def test_split_and_pivot_relabel_pixels():
    roi = labelled_roi()
    new = roi.split(1, 106)
    assert new == 3
    assert (roi.get_labels(105)[0:4] == 1).all()
    assert (roi.get_labels(106)[0:4] == 3).all()
    roi.merge(3, 1)
    roi.pivot(2)  # the daughter's pixels now carry the mother's id and vice versa
    assert (roi.get_labels(104)[10:13] == 1).all()
    assert (roi.get_labels(104)[0:4] == 2).all()
    assert (roi.get_labels(103)[0:4] == 1).all()


def test_refused_edit_leaves_labels():
    roi = labelled_roi()
    before = roi.label_stack.copy()
    from cytolab.timelapse.lineage import LineageError
    with pytest.raises(LineageError, match="must start on the frame after"):
        roi.merge(2, 1)
    np.testing.assert_array_equal(roi.label_stack, before)


def test_netcdf_round_trip(tmp_path):
    truth = simulate_mothermachine(12, 2, seed=4, fluorescence=True)
    roi = position_from_truth(truth).rois[1]
    assert len(roi.lineage) > 1 and roi.fluo_stack.shape[1] == 1
    path = tmp_path / "roi.nc"
    roi.to_netcdf(path)
    back = ROI.load_netcdf(path)
    assert back.compare(roi, level=1) == []
    for name in ("img_stack", "fluo_stack", "seg_stack", "label_stack", "segmented",
                 "tracked"):
        np.testing.assert_array_equal(getattr(back, name), getattr(roi, name))
        assert getattr(back, name).dtype == getattr(roi, name).dtype
    assert back.lineage == roi.lineage and back.box == roi.box
    assert back.config == roi.config
    with h5py.File(path, "r") as h5:
        assert h5["img"].compression == "gzip" and h5["img"].chunks[0] == 1
        assert h5.attrs["schema"] == "cytolab-timelapse-roi/1"
    back.label_stack[3, 5, 5] += 1
    diffs = back.compare(roi, level=1)
    assert len(diffs) == 1 and diffs[0].startswith("labels: 1 of")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.nc"):
        ROI.load_netcdf(tmp_path / "nothing.nc")
    text = tmp_path / "text.nc"
    text.write_text("no netcdf")
    with pytest.raises(FileFormatError, match="text.nc"):
        ROI.load_netcdf(text)
    import xarray as xr
    xr.Dataset({"a": ("x", [1, 2])}).to_netcdf(tmp_path / "other.nc",
                                                engine="h5netcdf")
    with pytest.raises(FileFormatError, match="Not a cytolab time-lapse ROI"):
        ROI.load_netcdf(tmp_path / "other.nc")
