"""The experiment reader: folders of image sequences and single files."""
from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np
import pytest
import tifffile

from cytolab.errors import CytolabError, FileFormatError
from cytolab.timelapse.xpreader import (
    ExperimentIndexError,
    ExperimentNotFoundError,
    InconsistentImageError,
    MissingImageFileError,
    UnknownChannelError,
    XPReader,
    guess_prototype,
)

SHAPE = (6, 7)


def value(p: int, c: int, f: int) -> int:
    return 1000 * p + 100 * c + f


def pattern(p: int, c: int, f: int) -> np.ndarray:
    """A unique image per (position, channel, frame), not symmetric."""
    image = np.full(SHAPE, value(p, c, f), np.uint16)
    image[0, : p + c + f + 1] += 7
    return image


def write_sequence(folder: pathlib.Path, name: str, positions: int, channels: int,
                   frames: int, first: int = 0) -> pathlib.Path:
    """Write images named ``name.format(p, c, f)`` (numbers from `first`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in range(positions):
        for c in range(channels):
            for f in range(frames):
                path = folder / name.format(p + first, c + first, f + first)
                if path.suffix == ".tif":
                    tifffile.imwrite(path, pattern(p, c, f))
                else:
                    assert cv2.imwrite(str(path), pattern(p, c, f))
    return folder


@pytest.fixture
def sequence(tmp_path) -> pathlib.Path:
    """2 positions x 3 channels x 4 frames, 1-based names."""
    name = "Position{:02d}_Channel{:02d}_Frame{:03d}.tif"
    return write_sequence(tmp_path / "xp", name, 2, 3, 4, first=1)


# ------------------------------------------------------------------ folders
def test_folder_with_prototype(sequence):
    xp = XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif",
                  fileorder="pcf", channel_names=["phase", "gfp", "rfp"])
    assert (xp.positions, xp.channels, xp.frames) == (2, 3, 4)
    assert xp.first_numbers == {"p": 1, "c": 1, "f": 1}
    assert xp.channel_names == ("phase", "gfp", "rfp")
    assert xp.image_path(1, "rfp", 3) == sequence / "Position02_Channel03_Frame004.tif"
    assert xp.image_path(0, 0, 0) == sequence / "Position01_Channel01_Frame001.tif"
    movie = xp.images(1)
    assert movie.dims == ("frame", "channel", "y", "x")
    assert movie.shape == (4, 3) + SHAPE and movie.dtype == np.uint16
    assert movie.coords["frame"].values.tolist() == [0, 1, 2, 3]
    assert movie.coords["channel"].values.tolist() == ["phase", "gfp", "rfp"]
    for f in range(4):
        for c in range(3):
            np.testing.assert_array_equal(movie.values[f, c], pattern(1, c, f))
    assert "2 positions, 3 channels, 4 frames" in repr(xp)


def test_channel_and_frame_selection(sequence):
    xp = XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif",
                  channel_names=["phase", "gfp", "rfp"])
    movie = xp.images(0, channels=["rfp", 0], frames=range(1, 4, 2))
    assert movie.coords["channel"].values.tolist() == ["rfp", "phase"]
    assert movie.coords["frame"].values.tolist() == [1, 3]
    np.testing.assert_array_equal(movie.values[1, 0], pattern(0, 2, 3))
    np.testing.assert_array_equal(movie.values[0, 1], pattern(0, 0, 1))
    one = xp.images(1, channels="gfp", frames=[2])
    assert one.shape == (1, 1) + SHAPE
    np.testing.assert_array_equal(one.values[0, 0], pattern(1, 1, 2))
    assert xp.images(0, channels=np.int64(2), frames=2).values[0, 0, 0, 0] == \
        value(0, 2, 2) + 7
    empty = xp.images(0, frames=range(0))
    assert empty.shape == (0, 3) + SHAPE


def test_zero_based_and_other_fileorder(tmp_path):
    folder = write_sequence(tmp_path / "xp", "t{2:03d}_c{1}_xy{0}.png", 2, 2, 3)
    xp = XPReader(folder, prototype="t%03d_c%d_xy%d.png", fileorder="fcp")
    assert xp.first_numbers == {"p": 0, "c": 0, "f": 0}
    assert (xp.positions, xp.channels, xp.frames) == (2, 2, 3)
    assert xp.image_path(1, 0, 2).name == "t002_c0_xy1.png"
    np.testing.assert_array_equal(xp.images(1, channels=1, frames=[2]).values[0, 0],
                                  pattern(1, 1, 2))


def test_prototype_with_fewer_axes_and_subfolders(tmp_path):
    for p in range(2):
        write_sequence(tmp_path / "xp" / f"Pos{p}", "img_{2:03d}.tif", 1, 1, 3)
    xp = XPReader(tmp_path / "xp", prototype="Pos%d/img_%03d.tif", fileorder="pf")
    assert (xp.positions, xp.channels, xp.frames) == (2, 1, 3)
    assert xp.image_path(1, 0, 2) == tmp_path / "xp" / "Pos1" / "img_002.tif"
    assert xp.images(1).values[2, 0, 0, 0] == value(0, 0, 2) + 7


def test_only_canonical_names_count(sequence):
    # "Frame1" is not what %03d makes of 1: the file is ignored, not a duplicate
    tifffile.imwrite(sequence / "Position01_Channel01_Frame1.tif",
                     np.zeros((2, 2), np.uint16))
    (sequence / "notes.txt").write_text("hello")
    xp = XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif")
    assert xp.frames == 4
    np.testing.assert_array_equal(xp.images(0, 0, [0]).values[0, 0], pattern(0, 0, 0))


def test_space_padded_and_percent_literals(tmp_path):
    folder = tmp_path / "xp"
    folder.mkdir()
    for f in (8, 9, 10):
        tifffile.imwrite(folder / f"50%_t{f:3d}.tif", pattern(0, 0, f))
    xp = XPReader(folder, prototype="50%%_t%3d.tif", fileorder="f")
    assert xp.frames == 3 and xp.first_numbers["f"] == 8
    assert xp.image_path(0, 0, 1).name == "50%_t  9.tif"
    np.testing.assert_array_equal(xp.images(0).values[2, 0], pattern(0, 0, 10))


# ------------------------------------------------------------ autodetection
def test_autodetected_prototype(sequence):
    (sequence / "truth.npz").write_bytes(b"not an image")
    xp = XPReader(sequence)
    assert xp.prototype == "Position%02d_Channel%02d_Frame%03d.tif"
    assert xp.fileorder == "pcf"
    assert (xp.positions, xp.channels, xp.frames) == (2, 3, 4)
    assert xp.channel_names == ("0", "1", "2")
    np.testing.assert_array_equal(xp.images(1, "2", [3]).values[0, 0], pattern(1, 2, 3))


@pytest.mark.parametrize("names, prototype, fileorder", [
    (["t{2:03d}_xy{0:02d}_w{1}.png"], "t%03d_xy%02d_w%d.png", "fpc"),
    (["img_{0}_{1}_{2:04d}.tif"], "img_%d_%d_%04d.tif", "pcf"),
    (["scan{1:02d}-{2:02d}.tif"], "scan%02d-%02d.tif", "cf"),
    (["Exp2024_Position00_Channel00_Frame{2:03d}.tif"],
     "Exp2024_Position00_Channel00_Frame%03d.tif", "f"),
])
def test_guess_prototype(names, prototype, fileorder):
    sizes = {"p": 2 if "p" in fileorder else 1, "c": 2 if "c" in fileorder else 1,
             "f": 11}
    files = [names[0].format(p, c, f) for p in range(sizes["p"])
             for c in range(sizes["c"]) for f in range(sizes["f"])]
    assert guess_prototype(files) == (prototype, fileorder)


def test_guess_prototype_widths_and_rules():
    assert guess_prototype(["a1.tif", "a2.tif", "a10.tif"]) == ("a%d.tif", "f")
    assert guess_prototype(["a01.tif", "a02.tif", "b.tif"]) == ("a%02d.tif", "f")
    assert guess_prototype(["c1_1.png", "c2_1.png", "c1_2.png", "c2_2.png"],
                           fileorder="fcp") == ("c%d_%d.png", "cp")
    with pytest.raises(ValueError, match="several patterns"):
        guess_prototype(["a1.tif", "a2.tif", "b1.tif", "b2.tif"])
    with pytest.raises(ValueError, match="Cannot tell 4 numbers"):
        guess_prototype([f"{a}_{b}_{c}_{d}.tif" for a in (1, 2) for b in (1, 2)
                         for c in (1, 2) for d in (1, 2)])
    with pytest.raises(ValueError, match="No file names"):
        guess_prototype([])


def test_autodetect_single_varying_number_png_jpg(tmp_path):
    folder = tmp_path / "xp"
    folder.mkdir()
    for f in range(3):
        assert cv2.imwrite(str(folder / f"frame_{f}.jpg"),
                           np.full((16, 16), 40 + 50 * f, np.uint8))
    xp = XPReader(folder)
    assert (xp.prototype, xp.fileorder, xp.frames) == ("frame_%d.jpg", "f", 3)
    movie = xp.images(0)
    assert movie.dtype == np.uint8
    assert movie.values[:, 0].reshape(3, -1).tolist() == \
        [[40] * 256, [90] * 256, [140] * 256]


def test_png_8_and_16_bit_and_colour(tmp_path):
    folder = tmp_path / "xp"
    folder.mkdir()
    gray16 = np.arange(42, dtype=np.uint16).reshape(SHAPE) * 1500
    assert cv2.imwrite(str(folder / "im_0.png"), gray16)
    gray8 = (np.arange(42).reshape(SHAPE) * 5).astype(np.uint8)
    assert cv2.imwrite(str(folder / "im_1.png"), np.dstack([gray8] * 3))  # grey as RGB
    colour = np.zeros(SHAPE + (3,), np.uint8)
    colour[..., 2] = 200  # red in OpenCV's BGR order
    assert cv2.imwrite(str(folder / "im_2.png"), colour)
    xp = XPReader(folder)
    movie = xp.images(0)
    assert movie.dtype == np.uint16  # promoted to hold every frame
    np.testing.assert_array_equal(movie.values[0, 0], gray16)
    np.testing.assert_array_equal(movie.values[1, 0], gray8)
    np.testing.assert_array_equal(movie.values[2, 0],
                                  cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    assert movie.values[2, 0, 0, 0] == 60  # 0.299 * 200


# ------------------------------------------------------------- single files
def test_multipage_tiff_pages_are_frames(tmp_path):
    stack = np.stack([pattern(0, 0, f) for f in range(5)])
    tifffile.imwrite(tmp_path / "movie.tif", stack, photometric="minisblack")
    xp = XPReader(tmp_path / "movie.tif")
    assert (xp.positions, xp.channels, xp.frames) == (1, 1, 5)
    assert xp.prototype is None and xp.image_path(0, 0, 4) == tmp_path / "movie.tif"
    np.testing.assert_array_equal(xp.images(0).values[:, 0], stack)
    np.testing.assert_array_equal(xp.images(0, frames=[3, 1]).values[:, 0],
                                  stack[[3, 1]])


def test_imagej_hyperstack(tmp_path):
    data = np.stack([np.stack([pattern(0, c, f) for c in range(2)]) for f in range(3)])
    tifffile.imwrite(tmp_path / "hyper.tif", data, imagej=True,
                     metadata={"axes": "TCYX"})
    xp = XPReader(tmp_path / "hyper.tif", channel_names=["phase", "fluo"])
    assert (xp.positions, xp.channels, xp.frames) == (1, 2, 3)
    np.testing.assert_array_equal(xp.images(0).values, data)
    np.testing.assert_array_equal(xp.images(0, "fluo", [2]).values[0, 0],
                                  pattern(0, 1, 2))


def test_imagej_zstack_counts_frames(tmp_path):
    data = np.stack([pattern(0, 0, f) for f in range(4)])
    tifffile.imwrite(tmp_path / "z.tif", data, imagej=True, metadata={"axes": "ZYX"})
    xp = XPReader(tmp_path / "z.tif")
    assert (xp.channels, xp.frames) == (1, 4)
    np.testing.assert_array_equal(xp.images(0).values[:, 0], data)


def test_imagej_unsupported_axes(tmp_path):
    data = np.zeros((2, 3, 4, 5), np.uint16)
    tifffile.imwrite(tmp_path / "tz.tif", data, imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(FileFormatError, match=r"tz\.tif.*not Z=3"):
        XPReader(tmp_path / "tz.tif")


def test_single_png_and_folder_with_one_file(tmp_path):
    assert cv2.imwrite(str(tmp_path / "one.png"), pattern(0, 0, 0))
    xp = XPReader(tmp_path / "one.png")
    assert (xp.positions, xp.channels, xp.frames) == (1, 1, 1)
    np.testing.assert_array_equal(xp.images(0).values[0, 0], pattern(0, 0, 0))
    folder = tmp_path / "only"
    folder.mkdir()
    stack = np.stack([pattern(0, 0, f) for f in range(3)])
    tifffile.imwrite(folder / "stack.tif", stack, photometric="minisblack")
    xp = XPReader(folder)
    assert xp.path == folder / "stack.tif" and xp.frames == 3
    np.testing.assert_array_equal(xp.images(0).values[:, 0], stack)


def test_tiff_compression_without_imagecodecs(tmp_path):
    """OpenCV writes LZW-compressed TIFF; those read without imagecodecs."""
    folder = tmp_path / "xp"
    folder.mkdir()
    for f in range(2):
        assert cv2.imwrite(str(folder / f"f{f}.tif"), pattern(0, 0, f))
    ok, pages = cv2.imencodemulti(".tif", [pattern(0, 0, f) for f in range(3)])
    assert ok
    (tmp_path / "multi.tif").write_bytes(pages.tobytes())
    np.testing.assert_array_equal(XPReader(folder).images(0).values[1, 0],
                                  pattern(0, 0, 1))
    movie = XPReader(tmp_path / "multi.tif").images(0)
    np.testing.assert_array_equal(movie.values[:, 0],
                                  np.stack([pattern(0, 0, f) for f in range(3)]))


# ---------------------------------------------------------------- rotation
def test_rotation_keeps_shape(tmp_path):
    image = np.arange(5 * 8, dtype=np.float32).reshape(5, 8)
    tifffile.imwrite(tmp_path / "a.tif", image)
    xp = XPReader(tmp_path / "a.tif")
    half = xp.images(0, rotate=180).values[0, 0]
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half, image[::-1, ::-1])
    square = np.arange(36, dtype=np.uint16).reshape(6, 6) * 100
    tifffile.imwrite(tmp_path / "b.tif", square)
    quarter = XPReader(tmp_path / "b.tif").images(0, rotate=90).values[0, 0]
    np.testing.assert_array_equal(quarter, np.rot90(square))  # counter-clockwise
    small = XPReader(tmp_path / "a.tif").images(0, rotate=3.0).values[0, 0]
    assert small.shape == (5, 8)
    assert XPReader(tmp_path / "a.tif").images(0, rotate=0).values[0, 0].tolist() == \
        image.tolist()


# ------------------------------------------------------------------- errors
def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(ExperimentNotFoundError, match="nowhere.*does not exist"):
        XPReader(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    with pytest.raises(ExperimentNotFoundError, match="empty.*holds no image files"):
        XPReader(empty)
    with pytest.raises(ExperimentNotFoundError, match="matches the prototype"):
        XPReader(empty, prototype="img%03d.tif", fileorder="f")


def test_missing_frame_file_is_named(sequence):
    (sequence / "Position02_Channel01_Frame003.tif").unlink()
    with pytest.raises(MissingImageFileError,
                       match="lacks 1 image file.*'Position02_Channel01_Frame003.tif'"):
        XPReader(sequence)
    for f in (1, 2):
        (sequence / f"Position01_Channel03_Frame00{f}.tif").unlink()
    with pytest.raises(MissingImageFileError, match="lacks 3 image file"):
        XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif")


def test_file_removed_after_opening(sequence):
    xp = XPReader(sequence)
    (sequence / "Position01_Channel01_Frame002.tif").unlink()
    with pytest.raises(MissingImageFileError, match="Position01_Channel01_Frame002"):
        xp.images(0)


def test_inconsistent_frame_sizes(sequence):
    tifffile.imwrite(sequence / "Position01_Channel02_Frame003.tif",
                     np.zeros((6, 8), np.uint16))
    xp = XPReader(sequence)
    with pytest.raises(InconsistentImageError) as info:
        xp.images(0)
    message = str(info.value)
    assert "Position01_Channel02_Frame003.tif' has the shape (6, 8)" in message
    assert "Position01_Channel01_Frame001.tif' has (6, 7)" in message
    xp.images(1)  # the other position is fine


def test_unreadable_image(tmp_path):
    folder = write_sequence(tmp_path / "xp", "a_{2}.png", 1, 1, 2)
    (folder / "a_1.png").write_bytes(b"garbage")
    with pytest.raises(FileFormatError, match=r"a_1\.png"):
        XPReader(folder).images(0)
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(FileFormatError, match=r"bad\.tif"):
        XPReader(tmp_path / "bad.tif")


def test_unknown_channels_and_out_of_range(sequence):
    xp = XPReader(sequence, channel_names=["phase", "gfp", "rfp"])
    with pytest.raises(UnknownChannelError,
                       match=r"'yfp'; valid channels: names \['phase', 'gfp', 'rfp'\] "
                             r"or indices 0 to 2"):
        xp.images(0, channels="yfp")
    for bad in (3, -1, True, 1.0):
        with pytest.raises(UnknownChannelError):
            xp.images(0, channels=[0, bad])
        with pytest.raises(UnknownChannelError):
            xp.image_path(0, bad, 0)
    with pytest.raises(ExperimentIndexError,
                       match="Position 2 is out of range.*0 to 1"):
        xp.images(2)
    with pytest.raises(ExperimentIndexError, match="Frame 4 is out of range.*4 frames"):
        xp.images(0, frames=range(2, 5))
    with pytest.raises(ExperimentIndexError, match="Frame -1"):
        xp.image_path(0, 0, -1)
    with pytest.raises(ExperimentIndexError, match="Position"):
        xp.image_path(-1, 0, 0)


def test_bad_arguments(sequence):
    with pytest.raises(ValueError, match="only %d, %0Nd, %Nd and %% are allowed"):
        XPReader(sequence, prototype="Position%s_%03d.tif")
    with pytest.raises(ValueError, match=r"fileorder 'pcf' must name each %d.*\(2\)"):
        XPReader(sequence, prototype="Position%02d_Frame%03d.tif")
    with pytest.raises(ValueError, match="fileorder 'ppf'"):
        XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif",
                 fileorder="ppf")
    with pytest.raises(ValueError, match="fileorder 'pcx'"):
        XPReader(sequence, prototype="Position%02d_Channel%02d_Frame%03d.tif",
                 fileorder="pcx")
    with pytest.raises(ValueError, match="channel_names must be 3 distinct strings"):
        XPReader(sequence, channel_names=["a", "b"])
    with pytest.raises(ValueError, match="channel_names"):
        XPReader(sequence, channel_names=["a", "a", "b"])


def test_error_classes():
    for error in (ExperimentNotFoundError, MissingImageFileError):
        assert issubclass(error, CytolabError) and issubclass(error, FileNotFoundError)
    for error in (InconsistentImageError, UnknownChannelError, ExperimentIndexError):
        assert issubclass(error, CytolabError) and issubclass(error, ValueError)
    assert issubclass(ExperimentIndexError, IndexError)


def test_missing_xarray_gives_install_hint(sequence, monkeypatch):
    xp = XPReader(sequence)
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r'xarray: pip install "cytolab\[timelapse'):
        xp.images(0)
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ImportError, match=r'tifffile: pip install "cytolab\[timelapse'):
        XPReader(sequence / "Position01_Channel01_Frame001.tif")
