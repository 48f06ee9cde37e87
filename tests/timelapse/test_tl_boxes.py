"""Cropping boxes (cytolab.timelapse.boxes)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.labels import find_contours


def test_box_validation_and_shape():
    box = CroppingBox(xtl=np.int64(2), ytl=-3, xbr=7, ybr=4)
    assert box.shape == (7, 5)
    assert isinstance(box.xtl, int)
    with pytest.raises(ValueError, match="xbr"):
        CroppingBox(xtl=5, ytl=0, xbr=5, ybr=3)
    with pytest.raises(ValueError, match="ybr"):
        CroppingBox(xtl=0, ytl=3, xbr=5, ybr=1)
    with pytest.raises(ValueError, match="xtl must be an integer"):
        CroppingBox(xtl=0.5, ytl=0, xbr=5, ybr=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.xtl = 3
    assert {box, CroppingBox(2, -3, 7, 4)} == {box}


def test_crop_inside_and_zero_padding_outside():
    image = np.arange(1, 21, dtype=np.uint16).reshape(4, 5)
    assert np.array_equal(CroppingBox(1, 1, 4, 3).crop(image), image[1:3, 1:4])
    patch = CroppingBox(xtl=-2, ytl=2, xbr=2, ybr=6).crop(image)
    assert patch.dtype == np.uint16
    assert patch.tolist() == [[0, 0, 11, 12], [0, 0, 16, 17], [0, 0, 0, 0],
                              [0, 0, 0, 0]]
    assert not CroppingBox(10, 10, 12, 12).crop(image).any()


def test_crop_stack_of_images():
    stack = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    patches = CroppingBox(3, -1, 6, 2).crop(stack)
    assert patches.shape == (2, 3, 3, 3)
    assert np.array_equal(patches[..., 1:, :2], stack[..., :2, 3:5])
    assert not patches[..., 0, :].any() and not patches[..., 2].any()


def test_crop_dataarray_keeps_dims_coords_and_attrs():
    data = np.random.default_rng(0).random((3, 6, 2, 8)).astype(np.float32)
    images = xr.DataArray(
        data, dims=("frame", "y", "channel", "x"),
        coords={"frame": [10, 11, 12], "channel": ["bf", "gfp"],
                "y": np.arange(6), "x": np.arange(8)},
        attrs={"unit": "a.u."}, name="movie")
    box = CroppingBox(xtl=5, ytl=2, xbr=10, ybr=5)
    patches = box.crop(images)
    assert isinstance(patches, xr.DataArray)
    assert patches.dims == images.dims
    assert patches.sizes == {"frame": 3, "y": 3, "channel": 2, "x": 5}
    assert patches["frame"].values.tolist() == [10, 11, 12]
    assert patches["channel"].values.tolist() == ["bf", "gfp"]
    assert "x" not in patches.coords and "y" not in patches.coords
    assert patches.attrs == {"unit": "a.u."} and patches.name == "movie"
    expected = np.zeros((3, 3, 2, 5), dtype=np.float32)
    expected[..., :3] = data[:, 2:5, :, 5:8]
    assert np.array_equal(patches.values, expected)
    with pytest.raises(ValueError, match="'y' and 'x' dimensions"):
        box.crop(xr.DataArray(np.zeros((2, 2)), dims=("a", "b")))


def test_full_box():
    assert CroppingBox.full(np.zeros((2, 7, 9))) == CroppingBox(0, 0, 9, 7)
    images = xr.DataArray(np.zeros((4, 3)), dims=("x", "y"))
    assert CroppingBox.full(images) == CroppingBox(0, 0, 4, 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        CroppingBox.full(np.zeros(3))


def test_patch_is_a_copy_and_clips_outside():
    image = np.zeros((4, 5), dtype=np.int32)
    patch = np.arange(1, 10).reshape(3, 3)
    out = CroppingBox(xtl=3, ytl=-1, xbr=6, ybr=2).patch(image, patch)
    assert not image.any()
    assert out.tolist() == [[0, 0, 0, 4, 5], [0, 0, 0, 7, 8], [0, 0, 0, 0, 0],
                            [0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="patch has shape"):
        CroppingBox(0, 0, 2, 2).patch(image, patch)


def test_crop_then_patch_round_trip():
    rng = np.random.default_rng(1)
    image = rng.random((20, 30))
    box = CroppingBox(4, 6, 17, 15)
    rebuilt = box.patch(np.zeros_like(image), box.crop(image))
    assert np.array_equal(rebuilt[6:15, 4:17], image[6:15, 4:17])
    rebuilt[6:15, 4:17] = 0
    assert not rebuilt.any()


def test_resize():
    box = CroppingBox(xtl=3, ytl=5, xbr=9, ybr=11)
    assert box.resize(fx=2) == CroppingBox(6, 5, 18, 11)
    assert box.resize(fy=0.5) == CroppingBox(3, 2, 9, 6)   # 2.5 -> 2, 5.5 -> 6
    assert box.resize() == box
    assert CroppingBox(0, 0, 1, 1).resize(0.1, 0.1) == CroppingBox(0, 0, 1, 1)
    with pytest.raises(ValueError, match="fx must be positive"):
        box.resize(fx=0)


@pytest.mark.parametrize("shape", [(32, 32), (48, 20), (31, 17)])
def test_tracking_box_centred_on_cell(shape):
    mask = np.zeros((100, 120), dtype=np.uint8)
    mask[60:75, 10:16] = 1               # centroid (x 12.5, y 67) -> (12, 67)
    contour = find_contours(mask)[0]
    box = CroppingBox.tracking_box(contour, shape)
    assert box.shape == shape
    assert (box.ytl + shape[0] // 2, box.xtl + shape[1] // 2) == (67, 12)
    # the crop holds the whole cell, centred; the part left of x=0 is padding
    crop = box.crop(mask)
    assert crop.sum() == mask.sum() or box.xtl < 0
    with pytest.raises(ValueError, match="positive sizes"):
        CroppingBox.tracking_box(contour, (0, 4))
