"""Background methods: sparse median, rolling median, copy; offsets."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.process.background import (
    BACKGROUND_METHODS,
    RollingMedian,
    SparseMedian,
    frame_offsets,
    get_background,
    read_frames,
    rolling_lower_median,
)


class FakeData:
    """The part of HDF5Data the background methods use."""

    def __init__(self, images, frame_rate=None, image_bg=None, bg_off=None):
        self.image = images
        self.image_bg = image_bg
        self.meta_nest = {"imaging": {"frame rate": frame_rate}} if frame_rate else {}
        self._bg_off = bg_off
        self.path = "fake.rtdc"

    def __len__(self):
        return len(self.image)

    def __contains__(self, feat):
        return feat == "bg_off" and self._bg_off is not None

    def __getitem__(self, feat):
        return self._bg_off


@pytest.mark.parametrize("kernel", [1, 2, 5, 10, 31])
def test_rolling_lower_median_equals_brute_force(kernel):
    rng = np.random.default_rng(kernel)
    frames = rng.integers(90, 110, size=(60, 7, 9), dtype=np.uint8)
    frames[20:25, 2:5, 2:5] = 10          # a dark cell passing by
    frames[40, :, :] = 255                # a saturated frame
    got = rolling_lower_median(frames, kernel)
    rank = (kernel - 1) // 2
    want = np.stack([np.sort(frames[s:s + kernel], axis=0)[rank]
                     for s in range(len(frames) - kernel + 1)])
    np.testing.assert_array_equal(got, want)


def test_rolling_lower_median_bad_kernel():
    with pytest.raises(ValueError, match="kernel"):
        rolling_lower_median(np.zeros((3, 2, 2), np.uint8), 4)


def test_rolling_median_chunks_agree_with_whole():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 4, 5), dtype=np.uint8)
    data = FakeData(images)
    bg = RollingMedian(kernel_size=8)
    whole_stack, whole_idx, _ = bg.compute(data, 0, 50, images)
    whole = whole_stack[whole_idx]
    for start, stop in [(0, 7), (7, 30), (30, 50)]:
        stack, idx, off = bg.compute(data, start, stop, images[start:stop])
        assert off is None
        np.testing.assert_array_equal(stack[idx], whole[start:stop])
    # frame 25 uses the window 21..28 (centred, shifted inwards at the ends)
    np.testing.assert_array_equal(
        whole[25], np.sort(images[21:29], axis=0)[3])
    np.testing.assert_array_equal(whole[0], np.sort(images[0:8], axis=0)[3])
    np.testing.assert_array_equal(whole[49], np.sort(images[42:50], axis=0)[3])


def test_frame_offsets_equal_numpy_median():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 9, 11), dtype=np.uint8)
    bgs = rng.integers(0, 256, size=(20, 9, 11), dtype=np.uint8)
    want = np.median(images.astype(float) - bgs, axis=(1, 2))
    np.testing.assert_array_equal(frame_offsets(images, bgs), want)
    # even number of pixels: mean of the two middle values
    even = frame_offsets(np.array([[[1, 2]]], np.uint8), np.zeros((1, 1, 2), np.uint8))
    assert even.tolist() == [1.5]
    assert frame_offsets(images[:0], bgs[:0]).shape == (0,)


def test_sparse_median_background_and_offsets():
    rng = np.random.default_rng(2)
    truth = rng.integers(150, 200, size=(10, 12), dtype=np.uint8)
    images = np.repeat(truth[None], 400, axis=0).astype(np.int16)
    images += rng.integers(-2, 3, size=images.shape).astype(np.int16)
    images[::7, 3:7, 3:8] -= 40                 # cells in some frames
    flicker = np.zeros(400)
    flicker[::13] = 12
    images += flicker.astype(np.int16)[:, None, None]
    images = images.clip(0, 255).astype(np.uint8)
    data = FakeData(images, frame_rate=100.0)   # split_time 1 s = 100 frames
    bg = SparseMedian(kernel_size=50, offset_correction=True)
    bg.prepare(data)
    assert bg.backgrounds.shape == (4, 10, 12)
    assert np.abs(bg.backgrounds.astype(int) - truth).max() <= 1
    stack, idx, off = bg.compute(data, 150, 260, images[150:260])
    assert idx.tolist() == [1] * 50 + [2] * 60
    np.testing.assert_allclose(off, flicker[150:260], atol=1.01)
    # pickled to workers via state()
    other = SparseMedian(kernel_size=50, offset_correction=True)
    other.set_state(bg.state())
    np.testing.assert_array_equal(other.backgrounds, bg.backgrounds)


def test_sparse_median_cleansing_drops_frames_with_cells():
    # noisy background 96..104; a dark cell sits in 40 % of the frames and
    # drags the plain median to the lower end of the noise
    rng = np.random.default_rng(4)
    frames = rng.integers(96, 105, size=(100, 6, 6)).astype(np.uint8)
    frames[:40, 1:5, 1:5] = 20
    plain = SparseMedian(kernel_size=100, frac_cleansing=1.0).median_of(frames)
    clean = SparseMedian(kernel_size=100, frac_cleansing=0.6).median_of(frames)
    want = np.rint(np.median(frames[40:], axis=0)).astype(np.uint8)
    np.testing.assert_array_equal(clean, want)
    assert plain[1:5, 1:5].mean() < 98.5 < clean[1:5, 1:5].mean()
    # outside the cell, cleansing changes little
    assert abs(int(plain[0, 0]) - int(clean[0, 0])) <= 2


def test_sparse_median_sampling_without_frame_rate():
    bg = SparseMedian(kernel_size=30)
    step = bg.step_frames(100, None)
    assert step == 30
    samples = bg.sample_indices(100, step)
    assert len(samples) == 4
    for idx in samples:
        assert len(idx) == 30 and idx.min() >= 0 and idx.max() < 100
    # fewer frames than the kernel: all frames once
    first = bg.sample_indices(10, bg.step_frames(10, None))[0]
    assert first.tolist() == list(range(10))


def test_copy_background_uses_stored_images():
    images = np.zeros((5, 3, 3), np.uint8)
    image_bg = np.arange(45, dtype=np.uint8).reshape(5, 3, 3)
    data = FakeData(images, image_bg=image_bg, bg_off=np.arange(5.0))
    bg = get_background("copy")
    bg.prepare(data)
    assert bg.has_offset
    stack, idx, off = bg.compute(data, 1, 4, images[1:4])
    np.testing.assert_array_equal(stack[idx], image_bg[1:4])
    assert off.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(Exception, match="image_bg"):
        get_background("copy").prepare(FakeData(images))


def test_identifiers_and_bad_keywords():
    assert get_background().ppid == "sparsemed:k=200^s=1^t=0^f=0.8^o=0"
    assert RollingMedian().ppid == "rollmed:k=100^b=10000"
    again = get_background("sparsemed:k=100^s=0.5^t=2^f=0.6^o=1")
    assert again.kwargs == {"kernel_size": 100, "split_time": 0.5,
                            "thresh_cleansing": 2.0, "frac_cleansing": 0.6,
                            "offset_correction": True}
    assert set(BACKGROUND_METHODS) == {"sparsemed", "rollmed", "copy"}
    with pytest.raises(ValueError, match="Unknown background"):
        get_background("mean")
    with pytest.raises(ValueError, match="kernel_size"):
        SparseMedian(kernel_size=0)
    with pytest.raises(ValueError, match="frac_cleansing"):
        SparseMedian(frac_cleansing=0)
    with pytest.raises(ValueError, match="Unknown keyword"):
        RollingMedian(kernel=3)


def test_read_frames_dense_and_sparse():
    images = np.arange(100 * 4, dtype=np.uint8).reshape(100, 2, 2)
    data = FakeData(images)
    for idx in ([3, 4, 8], [0, 50, 99]):
        np.testing.assert_array_equal(read_frames(data, np.array(idx)), images[idx])
    assert read_frames(data, np.array([], int)).shape == (0, 2, 2)


def test_sparse_median_samples_in_runs():
    bg = SparseMedian(kernel_size=200)
    (idx,) = bg.sample_indices(3000, 3000, run=32)
    assert len(idx) == 200 and len(np.unique(idx)) == 200
    runs = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
    assert len(runs) == 8 and all(len(r) == 25 for r in runs)  # run <= k / 8
    assert idx.min() == 0 and idx.max() == 2999   # spread over the stretch
    images = np.arange(3000 * 4, dtype=np.uint32).reshape(3000, 2, 2) % 251
    np.testing.assert_array_equal(read_frames(FakeData(images), idx), images[idx])
