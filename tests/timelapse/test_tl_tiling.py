"""Windows for the networks and stitching (cytolab.timelapse.tiling)."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.timelapse.tiling import create_windows, stitch_pic


@pytest.mark.parametrize("shape, target, overlap", [
    ((512, 512), (512, 512), 24),     # exactly one window
    ((1024, 512), (512, 512), 24),    # multiple of the target size
    ((700, 1100), (512, 512), 24),    # not a multiple
    ((300, 97), (64, 32), 10),        # many windows, odd sizes
    ((100, 60), (256, 128), 24),      # smaller than the target: padded
    ((40, 300), (64, 64), 0),         # smaller along y only, no overlap
])
def test_windows_cover_and_stitch_back_exactly(shape, target, overlap):
    rng = np.random.default_rng(0)
    image = rng.integers(1, 60000, size=shape).astype(np.uint16)
    windows, loc_y, loc_x = create_windows(image, target, overlap)
    assert windows.dtype == image.dtype
    assert loc_y.dtype == loc_x.dtype == np.int32
    assert windows.shape == (len(loc_y) * len(loc_x),) + target
    for locs, size, tsize in ((loc_y, shape[0], target[0]),
                              (loc_x, shape[1], target[1])):
        assert locs[0, 0] == 0 and locs[-1, 1] == size
        if size <= tsize:
            assert locs.tolist() == [[0, size]]
        else:
            assert np.all(locs[:, 1] - locs[:, 0] == tsize)
            assert np.all(locs[:-1, 1] - locs[1:, 0] >= overlap)   # overlap
            # as few windows as the overlap allows
            step = tsize - overlap
            assert len(locs) == -(-(size - overlap) // step)
    # window content: the image where it exists, zero padding elsewhere
    for iy, (y0, y1) in enumerate(loc_y):
        for ix, (x0, x1) in enumerate(loc_x):
            win = windows[iy * len(loc_x) + ix]
            assert np.array_equal(win[:y1 - y0, :x1 - x0], image[y0:y1, x0:x1])
            assert not win[y1 - y0:].any() and not win[:, x1 - x0:].any()
    stitched = stitch_pic(windows, loc_y, loc_x)
    assert stitched.dtype == image.dtype
    assert np.array_equal(stitched, image)


def test_stitch_splits_overlaps_in_the_middle():
    windows, loc_y, loc_x = create_windows(np.zeros((10, 7)), (4, 7), 1)
    assert loc_y.tolist() == [[0, 4], [3, 7], [6, 10]]
    results = np.stack([np.full((4, 7), index) for index in range(3)])
    stitched = stitch_pic(results, loc_y, loc_x)
    # overlap rows 3 and 6: each cut at (start + previous stop) // 2
    assert stitched[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]


def test_stitch_accepts_lists():
    results = np.arange(2 * 2 * 3).reshape(2, 2, 3)
    out = stitch_pic(results, [(0, 2)], [(0, 3), (2, 5)])
    # overlap column 2 is cut at (2 + 3) // 2 = 2: it comes from window 1
    assert out.tolist() == [[0, 1, 6, 7, 8], [3, 4, 9, 10, 11]]


def test_invalid_arguments():
    image = np.zeros((20, 20))
    with pytest.raises(ValueError, match="min_overlap"):
        create_windows(image, (8, 8), 8)
    with pytest.raises(ValueError, match="min_overlap"):
        create_windows(image, (8, 8), -1)
    with pytest.raises(ValueError, match="image must be 2-D"):
        create_windows(np.zeros((2, 20, 20)))
    with pytest.raises(ValueError, match="target_size must hold"):
        create_windows(image, (0, 8))
    windows, loc_y, loc_x = create_windows(image, (8, 8), 2)
    with pytest.raises(ValueError, match="results holds"):
        stitch_pic(windows[:-1], loc_y, loc_x)
    with pytest.raises(ValueError, match="loc_x does not describe"):
        stitch_pic(windows, loc_y, loc_x[::-1])
    with pytest.raises(ValueError, match="loc_y must have shape"):
        stitch_pic(windows, loc_y[:, 0], loc_x)
    with pytest.raises(ValueError, match="results must be 3-D"):
        stitch_pic(windows[0], loc_y, loc_x)
