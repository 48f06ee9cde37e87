"""Flickering detection on synthetic frame series with known flicker."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.io import HDF5Data, HDF5ImageCache, HDF5Writer
from cytolab.io.flicker import detect_flickering


def steady(num: int = 200, seed: int = 3) -> np.ndarray:
    """Frames with camera noise (+-2 grey levels) and a cell below the ROI."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(98, 103, size=(num, 40, 60)).astype(np.uint8)
    frames[:, 20:30, 10:20] = 40  # cells never reach the top rows
    return frames


def with_flicker(frames: np.ndarray, indices, delta: int) -> np.ndarray:
    out = frames.astype(np.int16)
    out[list(indices)] += delta
    return np.clip(out, 0, 255).astype(np.uint8)


def test_steady_series():
    assert detect_flickering(steady()) is False


@pytest.mark.parametrize("delta", [6, -6, 30])
def test_flickering_series(delta):
    assert detect_flickering(with_flicker(steady(), range(0, 200, 20), delta)) is True


def test_count_threshold_edge():
    frames = steady()
    # medians of the ROI are exactly 100 without flicker
    assert np.all(np.median(frames[:, :10].reshape(200, -1), axis=1) == 100)
    five = with_flicker(frames, [3, 50, 77, 120, 199], 4)
    four = with_flicker(frames, [3, 50, 77, 120], 4)
    assert detect_flickering(five) is True  # count_threshold=5 reached
    assert detect_flickering(four) is False
    assert detect_flickering(four, count_threshold=4) is True


def test_brightness_threshold_is_exclusive():
    frames = np.full((50, 12, 16), 100, dtype=np.uint8)
    frames[:5] = 103
    assert detect_flickering(frames, brightness_threshold=3) is False
    assert detect_flickering(frames, brightness_threshold=2.99) is True
    assert detect_flickering(frames) is True  # default 2.5


def test_max_frames_and_roi_height():
    frames = steady()
    late = with_flicker(frames, range(150, 200, 5), 10)
    assert detect_flickering(late) is True
    assert detect_flickering(late, max_frames=150) is False
    # flicker only below row 10 (e.g. a reflection): outside the default ROI
    rows = frames.copy()
    rows[::10, 10:] += 50
    assert detect_flickering(rows) is False
    assert detect_flickering(rows, roi_height=15) is False  # 5 of 15 rows
    assert detect_flickering(rows, roi_height=30) is True  # 20 of 30 rows
    assert detect_flickering(rows, roi_height=1000) is True  # whole frame


def test_empty_and_invalid_input():
    assert detect_flickering(np.zeros((0, 10, 10), np.uint8)) is False
    with pytest.raises(ValueError, match="roi_height"):
        detect_flickering(steady(), roi_height=0)
    with pytest.raises(ValueError, match="count_threshold"):
        detect_flickering(steady(), count_threshold=0)
    with pytest.raises(ValueError, match="max_frames"):
        detect_flickering(steady(), max_frames=0)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        detect_flickering(np.zeros((10, 10)))


def test_hdf5data_and_image_cache(tmp_path):
    path = tmp_path / "m.rtdc"
    frames = with_flicker(steady(), range(0, 200, 25), 8)
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("frame", np.arange(200))
        hw.store_feature_chunk("image", frames)
    with HDF5Data(path) as data:
        assert detect_flickering(data) is True
        assert detect_flickering(data.image) is True
    with HDF5Data(path, index_mapping=slice(1, None, 2)) as data:
        # the flickering frames (multiples of 25) are mostly even: 4 odd ones
        assert detect_flickering(data) is False
        assert detect_flickering(data, count_threshold=4) is True
    assert detect_flickering(HDF5ImageCache(steady(), chunk_size=7)) is False
    no_images = tmp_path / "scalars.rtdc"
    with HDF5Writer(no_images, mode="w") as hw:
        hw.store_feature_chunk("deform", np.arange(5.0))
    with HDF5Data(no_images) as data, pytest.raises(ValueError, match="image"):
        detect_flickering(data)
