"""Reading and resizing images, masks and labels (cytolab.timelapse.images)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile

from cytolab.errors import FileFormatError
from cytolab.timelapse.images import (
    open_tiff,
    read_image,
    read_raw_image,
    read_reshape,
    read_tiff_page,
    rescale_image,
    resize_image,
    resize_labels,
    resize_mask,
    smart_resize,
    to_integer_values,
)
from cytolab.timelapse.labels import detect_touching_cells, label_seg


def write_png(path, image):
    assert cv2.imwrite(str(path), image)
    return path


# --- rescale_image / to_integer_values ------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rescale_round_trip_is_exact(dtype):
    values = np.arange(np.iinfo(dtype).max + 1, dtype=np.int64).astype(dtype)
    scaled = rescale_image(values)
    assert scaled.dtype == np.float32
    assert scaled.min() == 0 and scaled.max() == 1
    back = to_integer_values(scaled, dtype)
    assert back.dtype == dtype
    assert np.array_equal(back, values)


def test_rescale_and_to_integer_values_edge_cases():
    assert rescale_image(np.array([True, False])).tolist() == [1.0, 0.0]
    assert to_integer_values(np.array([-0.5, np.nan, 0.5, 2.0]), np.uint8
                             ).tolist() == [0, 0, 128, 255]
    with pytest.raises(ValueError, match="img must hold unsigned integers"):
        rescale_image(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="img must hold unsigned integers"):
        rescale_image(np.zeros(3, dtype=np.int16))
    with pytest.raises(ValueError, match="dtype must be an unsigned integer"):
        to_integer_values(np.zeros(3), np.float32)


# --- read_image -----------------------------------------------------------

def test_read_image_png_8_and_16_bit(tmp_path):
    img8 = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    img16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    out8 = read_image(write_png(tmp_path / "a.png", img8))
    out16 = read_image(write_png(tmp_path / "b.png", img16))
    assert out8.dtype == out16.dtype == np.float32
    assert np.array_equal(to_integer_values(out8, np.uint8), img8)
    assert np.array_equal(to_integer_values(out16, np.uint16), img16)


def test_read_image_colour_becomes_grey(tmp_path):
    bgr = np.zeros((2, 3, 3), dtype=np.uint8)
    bgr[..., 2] = 255      # pure red
    out = read_image(write_png(tmp_path / "red.png", bgr))
    assert out.shape == (2, 3)
    # BT.601 luma of red: 0.299 * 255 = 76.2
    assert np.all(to_integer_values(out, np.uint8) == 76)
    rgb = bgr[..., ::-1]
    for planar in ("contig", "separate"):
        name = tmp_path / f"red_{planar}.tif"
        tifffile.imwrite(name, rgb if planar == "contig" else
                         np.ascontiguousarray(np.moveaxis(rgb, -1, 0)),
                         photometric="rgb", planarconfig=planar)
        out = read_image(name)
        assert out.shape == (2, 3)
        assert np.all(to_integer_values(out, np.uint8) == 76)


def test_read_image_tiff_integer_and_float(tmp_path):
    img16 = np.arange(20, dtype=np.uint16).reshape(4, 5) * 1000
    tifffile.imwrite(tmp_path / "a.tif", img16)
    assert np.array_equal(to_integer_values(read_image(tmp_path / "a.tif"),
                                            np.uint16), img16)
    floats = np.linspace(-1, 3, 20, dtype=np.float32).reshape(4, 5)
    tifffile.imwrite(tmp_path / "f.tiff", floats)
    assert np.array_equal(read_image(tmp_path / "f.tiff"), floats)   # kept


def test_read_image_errors(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(FileFormatError, match="junk.png: not an image"):
        read_image(tmp_path / "junk.png")
    (tmp_path / "junk.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(FileFormatError, match="junk.tif: cannot read TIFF"):
        read_image(tmp_path / "junk.tif")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 4, 5), np.uint8),
                     photometric="minisblack")
    with pytest.raises(FileFormatError, match="holds 3 images"):
        read_image(tmp_path / "stack.tif")


# --- read_raw_image / open_tiff / read_tiff_page ------------------------------

def test_read_raw_image_keeps_the_stored_dtype(tmp_path):
    img16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    raw = read_raw_image(write_png(tmp_path / "a.png", img16))
    assert raw.dtype == np.uint16 and np.array_equal(raw, img16)
    floats = np.linspace(-1, 3, 12, dtype=np.float32).reshape(3, 4)
    tifffile.imwrite(tmp_path / "f.tif", floats)
    raw = read_raw_image(tmp_path / "f.tif")
    assert raw.dtype == np.float32 and np.array_equal(raw, floats)
    # grey stored as colour gives the grey values exactly
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    raw = read_raw_image(write_png(tmp_path / "g.png", np.dstack([grey] * 3)))
    assert raw.dtype == np.uint8 and np.array_equal(raw, grey)
    # the first image of a stack (read_image refuses stacks)
    stack = np.stack([grey, grey + 1, grey + 2])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    assert np.array_equal(read_raw_image(tmp_path / "stack.tif"), grey)
    with pytest.raises(FileFormatError, match="no such file"):
        read_raw_image(tmp_path / "missing.tif")


def test_read_tiff_page_of_an_open_file(tmp_path):
    stack = np.arange(3 * 2 * 5, dtype=np.uint16).reshape(3, 2, 5)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    with open_tiff(tmp_path / "stack.tif") as tif:
        for page in (2, 0, 1):
            assert np.array_equal(read_tiff_page(tif, page), stack[page])
        with pytest.raises(FileFormatError, match=r"stack\.tif: cannot read TIFF "
                                                  r"file \(image 3"):
            read_tiff_page(tif, 3)
    with pytest.raises(FileFormatError, match="missing.tif: no such file"):
        with open_tiff(tmp_path / "missing.tif"):
            pass


def test_lzw_tiff_without_imagecodecs(tmp_path):
    """OpenCV writes LZW-compressed TIFF, which tifffile cannot decode
    without imagecodecs: OpenCV decodes them then."""
    images = [np.arange(20, dtype=np.uint16).reshape(4, 5) * (k + 1)
              for k in range(3)]
    assert cv2.imwrite(str(tmp_path / "one.tif"), images[1])
    assert np.array_equal(to_integer_values(read_image(tmp_path / "one.tif"),
                                            np.uint16), images[1])
    ok, data = cv2.imencodemulti(".tif", images)
    assert ok
    (tmp_path / "multi.tif").write_bytes(data.tobytes())
    with open_tiff(tmp_path / "multi.tif") as tif:
        assert np.array_equal(read_tiff_page(tif, 2), images[2])
    colour = np.zeros((2, 3, 3), np.uint8)
    colour[..., 2] = 255  # red in OpenCV's BGR order
    assert cv2.imwrite(str(tmp_path / "red.tif"), colour)
    assert np.all(read_raw_image(tmp_path / "red.tif") == 76)


# --- read_reshape -----------------------------------------------------------

def test_read_reshape_resize_and_binarize(tmp_path):
    image = np.zeros((64, 8), dtype=np.uint8)
    image[10:50, 2:6] = 255
    path = write_png(tmp_path / "mask.png", image)
    out = read_reshape(path, target_size=(128, 16), order=0)
    assert out.shape == (128, 16) and out.dtype == np.float32
    assert set(np.unique(out)) == {0.0, 1.0}
    assert out.sum() == 4 * image.sum() / 255 * 1.0   # nearest: 4x pixels
    mask = read_reshape(path, target_size=(32, 4), binarize=True)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert read_reshape(path, target_size=None).shape == (64, 8)


def test_read_reshape_pad_mode(tmp_path):
    image = (np.arange(6 * 5).reshape(6, 5) * 8).astype(np.uint8)
    path = write_png(tmp_path / "small.png", image)
    out = read_reshape(path, target_size=(8, 7), method="pad")
    assert out.shape == (8, 7)
    assert np.array_equal(to_integer_values(out[:6, :5], np.uint8), image)
    assert not out[6:].any() and not out[:, 5:].any()
    # larger axes are kept as they are
    assert read_reshape(path, target_size=(4, 7), method="pad").shape == (6, 7)


def test_read_reshape_rejects_other_files(tmp_path):
    bmp = tmp_path / "a.bmp"
    assert cv2.imwrite(str(bmp), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="only PNG, JPEG or TIFF"):
        read_reshape(bmp)
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((2, 4, 5), np.uint8),
                     photometric="minisblack")
    with pytest.raises(ValueError, match="holds 2 images"):
        read_reshape(tmp_path / "stack.tif")
    png = write_png(tmp_path / "ok.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="method must be"):
        read_reshape(png, method="crop")
    with pytest.raises(ValueError, match="order must be"):
        read_reshape(png, order=3)
    with pytest.raises(ValueError, match="target_size must hold"):
        read_reshape(png, target_size=(0, 4))


# --- resizing -------------------------------------------------------------

def test_resize_image_bilinear():
    image = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    out = resize_image(image, (4, 4))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(out[:, 0], [0, 0.5, 1.5, 2])
    same = resize_image(image, (2, 2))
    assert np.array_equal(same, image) and same is not image
    with pytest.raises(ValueError, match="shape must be a pair"):
        resize_image(image, 4)
    with pytest.raises(ValueError, match="image must be float"):
        resize_image(np.zeros((2, 2), np.int64), (3, 3))


def test_resize_labels_nearest_keeps_ids():
    labels = np.array([[0, 3, 3], [7, 7, 0]], dtype=np.uint16)
    up = resize_labels(labels, (4, 6))
    assert up.dtype == np.uint16
    assert np.array_equal(up, np.kron(labels, np.ones((2, 2), np.uint16)))
    assert set(np.unique(resize_labels(up, (2, 3)))) == {0, 3, 7}


def two_cells_with_thin_gap() -> np.ndarray:
    """Two 8 x 9 cells separated by a 1-px column (at an even index)."""
    mask = np.zeros((12, 24), dtype=np.uint8)
    mask[2:10, 1:10] = 1
    mask[2:10, 11:20] = 1
    return mask


def test_resize_mask_prevent_touching_keeps_cells_apart():
    mask = two_cells_with_thin_gap()
    assert label_seg(mask).max() == 2
    merged = resize_mask(mask, (6, 12), prevent_touching=False)
    assert merged.dtype == np.uint8 and label_seg(merged).max() == 1
    apart = resize_mask(mask, (6, 12))
    assert apart.dtype == np.uint8 and set(np.unique(apart)) == {0, 1}
    assert label_seg(apart).max() == 2
    # only the contact column is lost
    assert merged.sum() - apart.sum() == 2 * 4


def test_resize_labels_prevent_touching():
    labels = label_seg(two_cells_with_thin_gap())
    small = resize_labels(labels, (6, 12), prevent_touching=True)
    assert not detect_touching_cells(small).any()
    assert set(np.unique(small)) == {0, 1, 2}
    touching = resize_labels(labels, (6, 12))
    assert detect_touching_cells(touching).sum() == 8


def test_smart_resize_picks_the_method():
    mask = two_cells_with_thin_gap()
    for kind in (np.uint8, np.float32, bool):
        out = smart_resize(mask.astype(kind), (6, 12))
        assert out.dtype == np.dtype(kind)
        assert label_seg(out).max() == 2       # cells kept apart
    weights = np.linspace(0, 2, 24, dtype=np.float32).reshape(2, 12)
    out = smart_resize(weights, (4, 24))
    np.testing.assert_allclose(out, resize_image(weights, (4, 24)))
