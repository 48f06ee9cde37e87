"""Cell colours, outline overlays and H.264 videos."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.timelapse.video import (
    cell_outlines,
    overlay_frame,
    random_colors,
    write_video,
)


# ------------------------------------------------------------------ colours
def test_random_colors_are_distinct_repeatable_and_in_range():
    ids = list(range(1, 501))
    colors = random_colors(ids)
    assert sorted(colors) == ids
    assert len(set(colors.values())) == 500
    values = np.array(list(colors.values()))
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert all(isinstance(v, float) for c in colors.values() for v in c)
    assert random_colors(ids[::-1] + [7, 7]) == colors  # order and duplicates
    assert random_colors(ids, seed=1) != colors
    assert sorted(random_colors(ids, seed=1).values()) == sorted(colors.values())
    assert random_colors([]) == {}
    assert random_colors(np.array([3], np.uint16)) == {3: pytest.approx(
        random_colors([3])[3])}


# ----------------------------------------------------------------- overlays
def two_cells() -> np.ndarray:
    labels = np.zeros((8, 10), np.uint16)
    labels[1:5, 1:4] = 3   # 4 x 3 cell
    labels[1:5, 4:6] = 5   # touching it on the right
    return labels


def test_cell_outlines():
    outline = cell_outlines(two_cells())
    expected = np.zeros((8, 10), bool)
    expected[1:5, 1:6] = True
    expected[2:4, 2] = False  # interior of cell 3; cell 5 is 2 wide
    np.testing.assert_array_equal(outline, expected)
    edge = np.ones((3, 3), np.uint16)
    assert cell_outlines(edge).sum() == 8  # the frame's border counts as outside


def test_overlay_frame_draws_outlines_in_cell_colours():
    image = np.full((8, 10), 0.5, np.float32)
    labels = two_cells()
    out = overlay_frame(image, labels, {3: (1.0, 0.0, 0.0)})
    assert out.dtype == np.uint8 and out.shape == (8, 10, 3)
    outline = cell_outlines(labels)
    grey = [128, 128, 128]
    assert out[~outline].tolist() == [grey] * int((~outline).sum())
    assert out[outline & (labels == 3)].tolist() == [[255, 0, 0]] * 10
    assert out[outline & (labels == 5)].tolist() == [[255, 255, 255]] * 8
    assert image[0, 0] == 0.5  # input untouched


def test_overlay_frame_input_types():
    labels = np.zeros((4, 4), np.uint16)
    u16 = np.full((4, 4), 257 * 40, np.uint16)
    assert overlay_frame(u16, labels, {})[0, 0].tolist() == [40, 40, 40]
    u8 = np.full((4, 4), 7, np.uint8)
    assert overlay_frame(u8, labels, {})[0, 0].tolist() == [7, 7, 7]
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 2] = 9
    assert overlay_frame(rgb, labels, {})[0, 0].tolist() == [0, 0, 9]
    clipped = overlay_frame(np.full((4, 4), 2.0), labels, {})
    assert clipped[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="do not match"):
        overlay_frame(u8, np.zeros((3, 4), np.uint16), {})
    with pytest.raises(ValueError, match="non-negative integers"):
        overlay_frame(u8, labels.astype(float), {})
    with pytest.raises(ValueError, match="non-negative integers"):
        overlay_frame(u8, labels.astype(np.int16) - 1, {})
    with pytest.raises(ValueError, match="dtype int64"):
        overlay_frame(np.zeros((4, 4), np.int64), labels, {})
    with pytest.raises(ValueError, match="shape \\(4, 4, 2\\)"):
        overlay_frame(np.zeros((4, 4, 2)), labels, {})


def test_overlay_frame_writes_cell_ids():
    labels = np.zeros((30, 60), np.uint16)
    labels[10:20, 5:15] = 12
    labels[10:20, 45:58] = 3   # near the right edge: text goes to its left
    colors = {12: (0.0, 1.0, 0.0), 3: (0.0, 0.0, 1.0)}
    image = np.zeros((30, 60), np.float32)
    plain = overlay_frame(image, labels, colors)
    text = overlay_frame(image, labels, colors, cellids=True)
    changed = np.any(text != plain, axis=2)
    # "12" (11 px wide) right of cell 12 (columns 5-14), "3" (6 px wide) left
    # of cell 3 (columns 45-57), which has no room on its right
    cols = np.flatnonzero(changed.any(axis=0))
    assert set(cols) <= set(range(15, 29)) | set(range(37, 45))
    assert changed[:, 15:29].sum() > 10 and changed[:, 37:45].sum() > 5
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.min() >= 9 and rows.max() <= 20  # beside the cells (rows 10-19)
    # each id in its cell's colour
    id12, id3 = text[:, 15:29], text[:, 37:45]
    assert id12[..., 1].max() > 100 and id12[..., [0, 2]].max() == 0
    assert id3[..., 2].max() > 100 and id3[..., :2].max() == 0


# -------------------------------------------------------------------- video
def blocks(frames: int, height: int, width: int) -> np.ndarray:
    """Frames with a red and a green block that moves down frame by frame."""
    images = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        images[t, 2 * t:2 * t + 12, 2:22] = (220, 30, 30)
        images[t, 16:30, 24:44] = (30, 200, 60)
    return images


def read_video(path) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(path, plugin="FFMPEG", index=None)


def test_write_video_round_trip_with_odd_size(tmp_path):
    images = blocks(5, 33, 47)
    path = tmp_path / "movie.mp4"
    path.write_bytes(b"old content")  # overwritten
    write_video(images, path, verbose=0)
    back = read_video(path)
    assert back.shape == (5, 34, 48, 3)  # padded to even sizes
    assert np.abs(back[:, 33, :, :].astype(int)).max() < 40  # black padding
    for t in range(5):
        red = back[t, 2 * t + 3:2 * t + 9, 5:19].reshape(-1, 3).mean(axis=0)
        green = back[t, 19:27, 27:41].reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(red, [220, 30, 30], atol=12)
        np.testing.assert_allclose(green, [30, 200, 60], atol=12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.mp4"]


def test_write_video_accepts_lists_and_crf_changes_size(tmp_path):
    rng = np.random.default_rng(0)
    noisy = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    write_video(noisy, tmp_path / "fine.mkv", crf=17, verbose=0)
    write_video(noisy, tmp_path / "coarse.mkv", crf=35, verbose=0)
    assert len(read_video(tmp_path / "fine.mkv")) == 3
    sizes = [(tmp_path / name).stat().st_size for name in ("fine.mkv", "coarse.mkv")]
    assert sizes[0] > sizes[1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"crf": 52}, "crf must be an integer in 0..51"),
    ({"crf": -1}, "crf must be"),
    ({"crf": 20.5}, "crf must be"),
    ({"crf": True}, "crf must be"),
    ({"fps": 0}, "fps must be positive"),
    ({"filename": "movie.gif"}, "unknown video file ending"),
    ({"images": []}, "no images"),
    ({"images": np.zeros((2, 8, 8, 3), np.float32)}, "dtype float32"),
    ({"images": np.zeros((2, 8, 8), np.uint8)}, "shape \\(8, 8\\)"),
    ({"images": [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)]},
     "image 1 has shape \\(8, 10, 3\\), image 0 has \\(8, 8, 3\\)"),
])
def test_write_video_rejects_bad_input(tmp_path, kwargs, message):
    args = {"images": np.zeros((2, 8, 8, 3), np.uint8),
            "filename": "movie.mp4", **kwargs}
    args["filename"] = tmp_path / args["filename"]
    with pytest.raises(ValueError, match=message):
        write_video(args.pop("images"), args.pop("filename"), verbose=0, **args)
    assert list(tmp_path.iterdir()) == []
