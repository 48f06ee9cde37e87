"""Contours from masks (`cytolab.features.contour`).

"Agree" with a stored contour means: the same points in the same order,
starting at the same point (``np.array_equal``). The acquisition software
and dclab store the OpenCV border-following contour of the mask, and so do
we, so no tolerance is needed.
"""
from __future__ import annotations

import cv2
import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from realdata import real_file

from cytolab.features import LazyContour, get_contour


def _closed_chain(cont: np.ndarray) -> bool:
    """Consecutive points (cyclic) are 8-neighbours or equal."""
    step = np.abs(cont - np.roll(cont, 1, axis=0))
    return bool(np.all(step.max(axis=1) <= 1))


def test_rectangle_traced_in_order():
    mask = np.zeros((6, 7), dtype=bool)
    mask[1:4, 2:5] = True
    cont = get_contour(mask)
    assert cont.shape == (8, 2)
    assert cont.dtype.kind == "i"
    # x is the column, y the row; the corner pixels and edge midpoints
    assert {tuple(p) for p in cont.tolist()} == {
        (2, 1), (3, 1), (4, 1), (4, 2), (4, 3), (3, 3), (2, 3), (2, 2)}
    assert cont[0].tolist() == [2, 1]  # first pixel in raster order
    assert _closed_chain(cont)


def test_stack_and_list_give_lists():
    masks = np.zeros((3, 5, 5), dtype=np.uint8)
    masks[:, 1:3, 1:3] = 255
    masks[1] = 0
    conts = get_contour(masks)
    assert isinstance(conts, list) and len(conts) == 3
    assert conts[1].shape == (0, 2)
    assert [c.shape for c in get_contour(list(masks))] == [c.shape for c in conts]


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int32, np.float64])
def test_mask_dtypes(dtype):
    mask = np.zeros((5, 6), dtype=dtype)
    mask[1:4, 1:5] = 1
    ref = get_contour(mask.astype(bool))
    np.testing.assert_array_equal(get_contour(mask), ref)


def test_empty_mask_gives_empty_contour():
    cont = get_contour(np.zeros((10, 12), dtype=bool))
    assert cont.shape == (0, 2)


def test_one_pixel_event():
    mask = np.zeros((5, 5), dtype=bool)
    mask[2, 3] = True
    assert get_contour(mask).tolist() == [[3, 2]]


def test_full_mask_and_border_objects():
    """Objects touching the image border are traced along the border."""
    full = get_contour(np.ones((4, 5), dtype=bool))
    assert len(full) == 2 * (4 + 5) - 4
    assert full[:, 0].min() == 0 and full[:, 0].max() == 4
    assert full[:, 1].min() == 0 and full[:, 1].max() == 3
    mask = np.zeros((6, 8), dtype=bool)
    mask[3:, 5:] = True  # bottom-right corner
    cont = get_contour(mask)
    assert cont[:, 0].max() == 7 and cont[:, 1].max() == 5
    assert _closed_chain(cont)


def test_several_objects_keep_longest():
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:4, 2:4] = True  # small object first in raster order
    mask[8:16, 10:25] = True  # large one
    mask[18, 28] = True  # single pixel
    cont = get_contour(mask)
    assert cont[:, 0].min() == 10 and cont[:, 0].max() == 24
    assert cont[:, 1].min() == 8 and cont[:, 1].max() == 15


def test_holes_are_ignored():
    mask = np.zeros((9, 9), dtype=bool)
    mask[1:8, 1:8] = True
    mask[3:6, 3:6] = False
    cont = get_contour(mask)
    assert cont[:, 0].min() == 1 and cont[:, 0].max() == 7
    assert len(cont) == 24


def test_thin_line_and_diagonal():
    line = np.zeros((5, 8), dtype=bool)
    line[2, 1:7] = True
    cont = get_contour(line)
    # OpenCV walks along a one-pixel-wide line and back
    assert {tuple(p) for p in cont.tolist()} == {(x, 2) for x in range(1, 7)}
    diag = np.eye(6, dtype=bool)
    assert len({tuple(p) for p in get_contour(diag).tolist()}) == 6


def test_bad_dimensions():
    with pytest.raises(ValueError, match="2-D"):
        get_contour(np.zeros(5, dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        get_contour(np.zeros((2, 3, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match="mask 1"):
        get_contour([np.zeros((3, 3)), np.zeros(3)])


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_random_masks_contour_on_object_boundary(mask):
    cont = get_contour(mask)
    assert cont.ndim == 2 and cont.shape[1] == 2
    if not mask.any():
        assert len(cont) == 0
        return
    # every contour point is a mask pixel at the boundary of its object
    assert mask[cont[:, 1], cont[:, 0]].all()
    padded = np.pad(mask, 1)
    neigh = (padded[:-2, 1:-1] & padded[2:, 1:-1]
             & padded[1:-1, :-2] & padded[1:-1, 2:])
    assert not neigh[cont[:, 1], cont[:, 0]].any()
    assert _closed_chain(cont)


# lazy container
def test_lazy_contour_indexing():
    masks = np.zeros((50, 10, 12), dtype=bool)
    for ii in range(50):
        masks[ii, 2:5, 2:3 + ii % 8] = True
    lc = LazyContour(masks)
    assert len(lc) == 50
    assert lc.shape[0] == 50 and lc.shape[2] == 2
    np.testing.assert_array_equal(lc[7], get_contour(masks[7]))
    np.testing.assert_array_equal(lc[-1], get_contour(masks[49]))
    assert [len(c) for c in lc[3:9]] == [len(c) for c in get_contour(masks[3:9])]
    assert [len(c) for c in lc[::10]] == [len(get_contour(m)) for m in masks[::10]]
    picked = lc[[4, 2, 4]]
    np.testing.assert_array_equal(picked[0], picked[2])
    sel = np.zeros(50, dtype=bool)
    sel[[1, 5]] = True
    assert len(lc[sel]) == 2
    assert lc[[]] == []
    assert sum(1 for _ in lc) == 50
    with pytest.raises(IndexError):
        lc[50]
    with pytest.raises(IndexError):
        lc[-51]
    with pytest.raises(IndexError):
        lc[np.ones(3, dtype=bool)]
    with pytest.raises(IndexError):
        lc[0.5]
    with pytest.raises(TypeError, match="different lengths"):
        np.asarray(lc)
    with pytest.raises(ValueError, match="max_cached"):
        LazyContour(masks, max_cached=0)


def test_lazy_contour_results_are_read_only():
    lc = LazyContour(np.ones((2, 4, 4), dtype=bool))
    with pytest.raises(ValueError):
        lc[0][0, 0] = 3


def test_lazy_contour_cache_is_bounded():
    """At most `max_cached` contours stay in memory, however much is read."""
    masks = np.zeros((3000, 8, 8), dtype=bool)
    masks[:, 2:6, 2:6] = True
    lc = LazyContour(masks)
    assert lc.max_cached == 1000
    for start in range(0, 3000, 700):
        lc[start:start + 700]
    assert len(lc._cache) <= 1000
    for ii in range(1500):
        lc[ii]
    assert len(lc._cache) == 1000
    small = LazyContour(masks, max_cached=5)
    small[:100]
    assert len(small._cache) == 5
    # the most recent ones are kept
    assert sorted(small._cache) == [95, 96, 97, 98, 99]


def test_lazy_contour_reads_masks_lazily():
    class CountingMasks:
        def __init__(self, data):
            self.data = data
            self.reads = 0

        def __len__(self):
            return len(self.data)

        def __getitem__(self, idx):
            self.reads += 1
            return self.data[idx]

    masks = CountingMasks(np.ones((100, 5, 5), dtype=bool))
    lc = LazyContour(masks)
    assert masks.reads == 0
    lc[3]
    lc[3]
    assert masks.reads == 1
    lc[10:60]  # one read of the block
    assert masks.reads == 2


# conformance with the contours stored in real files
def test_stored_contours_identical(real_rtdc_files):
    """fmt-hdf5_mask-contour_2018 stores masks and Shape-In contours."""
    path = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    with h5py.File(path, "r") as h5:
        masks = h5["events/mask"][:]
        stored = [h5["events/contour"][str(ii)][:] for ii in range(len(masks))]
    for ii, cont in enumerate(get_contour(masks)):
        np.testing.assert_array_equal(cont, stored[ii], err_msg=f"event {ii}")
    lazy = LazyContour(masks)
    for ii in range(len(masks)):
        np.testing.assert_array_equal(lazy[ii], stored[ii])


@pytest.mark.parametrize("name", [
    "fmt-hdf5_cytoshot_full-features_2023",
    "fmt-hdf5_fl_2018",
    "fmt-hdf5_image-bg_2020",
    "fmt-hdf5_wide-channel_2023",
])
def test_real_masks_contours_match_opencv(real_rtdc_files, name):
    """On real masks our contour is OpenCV's longest outer border."""
    path = real_file(real_rtdc_files, name)
    with h5py.File(path, "r") as h5:
        masks = h5["events/mask"][:20]
    for mask, cont in zip(masks, get_contour(masks)):
        found, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                    cv2.CHAIN_APPROX_NONE)
        ref = max(found, key=len).reshape(-1, 2)
        np.testing.assert_array_equal(cont, ref)
