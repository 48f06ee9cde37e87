"""Masks, labels and contours of time-lapse frames (cytolab.timelapse.labels)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from cytolab.timelapse.labels import (
    binarize_threshold,
    cells_in_frame,
    centroid,
    detect_touching_cells,
    distance_transform_labels,
    filter_areas,
    find_contours,
    label_seg,
    postprocess,
)


def random_cells(seed: int, shape=(60, 80), count=12) -> np.ndarray:
    """Mask of separate random rectangles (8-separated by construction)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, dtype=np.uint8)
    for _ in range(count):
        h, w = rng.integers(2, 9, size=2)
        y, x = rng.integers(0, shape[0] - h), rng.integers(0, shape[1] - w)
        if not mask[max(y - 1, 0):y + h + 1, max(x - 1, 0):x + w + 1].any():
            mask[y:y + h, x:x + w] = 1
    return mask


# --- binarize_threshold ---------------------------------------------------

def test_binarize_threshold_middle_of_range_ignores_nan():
    image = np.array([[2.0, 4.0, np.nan], [5.9, 6.1, 10.0]])
    mask = binarize_threshold(image, None)
    assert mask.dtype == np.uint8
    assert mask.tolist() == [[0, 0, 0], [0, 1, 1]]   # threshold 6


def test_binarize_threshold_explicit_is_strict():
    image = np.array([[0.5, 0.50001, 0.2]], dtype=np.float32)
    assert binarize_threshold(image, 0.5).tolist() == [[0, 1, 0]]


def test_binarize_threshold_rejects_non_2d():
    with pytest.raises(ValueError, match="array must be a 2-D"):
        binarize_threshold(np.zeros(5), 0.5)


# --- filter_areas ---------------------------------------------------------

def test_filter_areas_counts_pixels_with_8_connectivity():
    mask = np.zeros((10, 20), dtype=np.uint8)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = 1          # diagonal: 3 pixels
    mask[5:9, 5:10] = 1                               # 20 pixels
    mask[1:3, 12:18] = 255                            # 12 pixels, 255 allowed
    assert filter_areas(mask, min_area=3).sum() == 35
    assert filter_areas(mask, min_area=4).sum() == 32
    assert filter_areas(mask, min_area=13).sum() == 20
    assert filter_areas(mask, min_area=None, max_area=12).sum() == 15
    assert filter_areas(mask, min_area=None).max() == 1
    assert filter_areas(mask).sum() == 20   # default min_area 20


# --- find_contours --------------------------------------------------------

def test_find_contours_layout_and_points():
    mask = np.zeros((12, 12), dtype=np.uint8)
    mask[2:6, 2:6] = 1
    mask[3:5, 3:5] = 0            # hole, ignored
    mask[8:10, 7:11] = 1
    contours = find_contours(mask)
    assert len(contours) == 2
    for contour in contours:
        assert contour.dtype == np.int32
        assert contour.ndim == 3 and contour.shape[1:] == (1, 2)
    expected, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    for ours, theirs in zip(contours, expected, strict=True):
        assert np.array_equal(ours, theirs)
    assert find_contours(np.zeros((4, 4), bool)) == []


# --- label_seg / cells_in_frame ---------------------------------------------

def test_label_seg_numbers_from_top_by_topmost_pixel():
    seg = np.zeros((20, 10), dtype=np.uint8)
    seg[2:18, 0:2] = 1    # tall cell: top at row 2, centroid low
    seg[5:7, 5:9] = 1     # short cell below the tall one's top
    seg[0:2, 6:9] = 1     # top cell
    seg[2:4, 4:5] = 1     # same top row as the tall cell, further right
    labels = label_seg(seg)
    assert labels.dtype == np.uint16
    assert labels[0, 6] == 1
    assert labels[10, 0] == 2
    assert labels[2, 4] == 3
    assert labels[5, 5] == 4
    assert np.array_equal(labels > 0, seg > 0)


def test_label_seg_cellnumbers():
    seg = random_cells(0)
    count = int(label_seg(seg).max())
    numbers = list(range(1000, 1000 + count))[::-1]
    labels = label_seg(seg, cellnumbers=numbers)
    assert cells_in_frame(labels) == numbers
    assert np.array_equal(labels > 0, seg > 0)
    with pytest.raises(ValueError, match="holds 2 ids but seg holds"):
        label_seg(seg, cellnumbers=[1, 2])
    with pytest.raises(ValueError, match="between 1 and 65535"):
        label_seg(seg, cellnumbers=[0] + numbers[1:])
    with pytest.raises(ValueError, match="between 1 and 65535"):
        label_seg(seg, cellnumbers=[65536] + numbers[1:])
    with pytest.raises(ValueError, match="duplicate"):
        label_seg(seg, cellnumbers=[numbers[1]] + numbers[1:])


def test_label_seg_refuses_more_than_65535_cells():
    seg = np.zeros((512, 512), dtype=np.uint8)
    seg[::2, ::2] = 1       # 65536 isolated pixels
    with pytest.raises(ValueError, match="65536 cells"):
        label_seg(seg)
    seg[0, 0] = 0           # 65535 is fine
    assert label_seg(seg).max() == 65535


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cells_in_frame_follows_label_seg_order(seed):
    labels = label_seg(random_cells(seed))
    count = int(labels.max())
    assert count > 3
    assert cells_in_frame(labels) == list(range(1, count + 1))
    # shuffled ids keep the spatial order
    perm = np.random.default_rng(seed).permutation(np.arange(1, count + 1)) * 3
    relabelled = np.concatenate([[0], perm]).astype(np.uint16)[labels]
    assert cells_in_frame(relabelled) == perm.tolist()


def test_cells_in_frame_contours_in_image_coordinates():
    labels = np.zeros((30, 30), dtype=np.uint16)
    labels[3:9, 20:25] = 7
    labels[12:20, 4:8] = 2
    labels[12:14, 9:11] = 5       # same top row as cell 2, to its right
    ids, contours = cells_in_frame(labels, return_contours=True)
    assert ids == [7, 2, 5]
    for cellid, contour in zip(ids, contours, strict=True):
        expected = find_contours(labels == cellid)[0]
        assert contour.dtype == np.int32 and contour.shape[1:] == (1, 2)
        assert sorted(map(tuple, contour[:, 0])) == sorted(map(tuple, expected[:, 0]))
    assert cells_in_frame(np.zeros((5, 5), np.uint16), return_contours=True) == ([], [])


def test_cells_in_frame_rejects_bad_labels():
    with pytest.raises(ValueError, match="integer cell ids"):
        cells_in_frame(np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="between 0 and 65535"):
        cells_in_frame(np.full((3, 3), 70000, dtype=np.int32))


# --- centroid -------------------------------------------------------------

def test_centroid_of_area_and_of_degenerate_contours():
    mask = np.zeros((20, 30), np.uint8)
    mask[4:9, 10:21] = 1
    assert centroid(find_contours(mask)[0]) == (15, 6)
    line = np.array([[[2, 3]], [[6, 3]]], dtype=np.int32)   # no area
    assert centroid(line) == (4, 3)
    with pytest.raises(ValueError, match="contour must have shape"):
        centroid(np.zeros((3, 3)))


# --- detect_touching_cells / distance_transform_labels -----------------------

def test_detect_touching_cells_marks_both_sides_only():
    labels = np.zeros((8, 10), dtype=np.uint16)
    labels[1:4, 1:4] = 1
    labels[1:4, 4:7] = 2       # touches 1 along a column
    labels[4:6, 7:9] = 3       # touches 2 at one corner only (diagonal)
    labels[6:8, 0:3] = 4       # alone
    touching = detect_touching_cells(labels)
    expected = np.zeros_like(touching)
    expected[1:4, 3:5] = True
    expected[3, 6] = expected[4, 7] = True
    assert np.array_equal(touching, expected)
    assert not detect_touching_cells(labels == 1).any()


def test_distance_transform_labels_per_cell():
    labels = np.zeros((20, 30), dtype=np.uint16)
    labels[2:12, 2:14] = 1
    labels[2:12, 14:25] = 2      # touching 1
    labels[14:20, 20:30] = 3     # at the image border
    dist = distance_transform_labels(labels)
    assert dist.dtype == np.float32
    expected = np.zeros(labels.shape)
    for cellid in (1, 2, 3):
        own = labels == cellid
        expected[own] = ndimage.distance_transform_edt(own)[own]
    np.testing.assert_allclose(dist, expected, rtol=0, atol=1e-5)
    # the contact counts as an edge; the image border does not
    assert dist[6, 13] == 1 and dist[6, 14] == 1
    assert dist[19, 29] == 6 and dist[14, 29] == 1 and dist[17, 20] == 1


# --- postprocess ------------------------------------------------------------

def test_postprocess_opening_small_objects_and_stacks():
    prob = np.zeros((3, 20, 20), dtype=np.float32)
    prob[:, 2:10, 2:10] = 0.9          # 64 px cell
    prob[:, 18, 0:20] = 0.7            # one-pixel line: opened away
    prob[:, 12:15, 14:17] = 0.6        # 9 px blob: survives a 3x3 opening
    prob[1, 2:10, 2:10] = 0.4          # below 0.5 on the second image
    out = postprocess(prob, square_size=3)
    assert out.shape == (3, 20, 20) and out.dtype == np.uint8
    assert out.sum(axis=(1, 2)).tolist() == [73, 9, 73]
    assert postprocess(prob, square_size=3, min_size=10).sum(axis=(1, 2)).tolist() \
        == [64, 0, 64]
    # default 5x5 opening also removes the 3x3 blob
    assert postprocess(prob[0]).sum() == 64
    # cropped tiles: no opening
    assert postprocess(prob[0], crop=True).sum() == 64 + 20 + 9
    assert postprocess(prob[:1]).shape == (20, 20)   # squeezed
    with pytest.raises(ValueError, match="square_size"):
        postprocess(prob, square_size=0)
    with pytest.raises(ValueError, match="images must be 2-D"):
        postprocess(np.zeros(4))
