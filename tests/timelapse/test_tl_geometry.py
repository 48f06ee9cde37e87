"""Affine transforms, rotation and drift (cytolab.timelapse.geometry)."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from cytolab.errors import PipelineWarning
from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.geometry import (
    affine_transform,
    compute_drift,
    correct_drift,
    deskew,
    drift_template,
    rotate,
)

CHAMBER_TOP = 50


def mothermachine_scene(seed: int = 0, shape=(300, 360)) -> np.ndarray:
    """Static device (textured, a main channel, vertical chambers) with cells.

    The scene is larger than a frame so that shifted frames can be cut from
    it without empty borders.
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 2)
    scene = 0.3 + 0.3 * texture / texture.std() * 0.2
    scene[CHAMBER_TOP - 30:CHAMBER_TOP, :] += 0.35            # main channel
    for x0 in range(14, width - 20, 24):
        scene[CHAMBER_TOP:height - 30, x0:x0 + 12] += 0.3       # chamber
        y = CHAMBER_TOP + 5
        while y < height - 40:                                  # cells
            length = int(rng.integers(15, 30))
            scene[y:y + length, x0 + 3:x0 + 9] -= 0.4
            y += length + 3
    scene += rng.normal(0, 0.03, shape)
    return scene.astype(np.float32)


def chamber_boxes(width: int) -> list[CroppingBox]:
    return [CroppingBox(xtl=x0, ytl=CHAMBER_TOP, xbr=x0 + 12, ybr=250)
            for x0 in range(14, width - 20, 24)]


# --- affine_transform --------------------------------------------------------

def test_affine_identity_rotation_and_shift_are_exact():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 60000, (7, 7)).astype(np.uint16)
    assert np.array_equal(affine_transform(image, order=0), image)
    assert np.array_equal(affine_transform(image, angle=90, order=0),
                          np.rot90(image))
    assert np.array_equal(affine_transform(image, angle=-90, order=1),
                          np.rot90(image, -1))
    assert np.array_equal(affine_transform(image, angle=180, order=3),
                          np.rot90(image, 2))
    shifted = affine_transform(image, shift=(2, -1), order=0)
    assert np.array_equal(shifted[:-1, 2:], image[1:, :-2])
    assert not shifted[-1].any() and not shifted[:, :2].any()
    wide = rng.random((6, 10)).astype(np.float32)   # non-square: size kept
    assert affine_transform(wide, angle=30, order=1).shape == (6, 10)


def test_affine_zoom_about_centre():
    image = np.zeros((9, 9), dtype=np.float32)
    image[3:6, 3:6] = 1
    zoomed = affine_transform(image, zoom=3.0, order=0)
    assert zoomed.all()                       # the square fills the image
    shrunk = affine_transform(image, zoom=1 / 3, order=0)
    assert shrunk.sum() == 1 and shrunk[4, 4] == 1


def test_affine_modes_and_dtypes():
    image = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
    edge = affine_transform(image, shift=(1, 0), order=0, mode="edge")
    assert edge[:, 0].tolist() == [1, 4, 7]
    reflect = affine_transform(image, shift=(1, 0), order=0, mode="reflect")
    assert reflect[:, 0].tolist() == [2, 5, 8]
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 2] = True
    rotated = affine_transform(mask, angle=90, order=0)
    assert rotated.dtype == bool and rotated[2, 0] and rotated.sum() == 1
    with pytest.raises(ValueError, match="order must be 0, 1 or 3"):
        affine_transform(image, order=2)
    with pytest.raises(ValueError, match="mode must be one of"):
        affine_transform(image, order=0, mode="wrap")
    with pytest.raises(ValueError, match="dtype complex128 is not supported"):
        affine_transform(image.astype(complex), order=0)
    with pytest.raises(ValueError, match="zoom must be positive"):
        affine_transform(image, zoom=0, order=0)
    with pytest.raises(ValueError, match="image must be 2-D"):
        affine_transform(image[None], order=0)


def test_affine_other_dtypes_go_through_float64():
    # int32, uint32 and float16 are no OpenCV warp types: warped as float64
    big = np.array([[0, 2**31 - 1], [-2**31, 7]], dtype=np.int32)
    quarter = affine_transform(big, angle=90, order=0)
    assert quarter.dtype == np.int32
    assert quarter.tolist() == np.rot90(big).tolist()
    wide = np.array([[0, 2**32 - 1], [5, 2**31]], dtype=np.uint32)
    assert affine_transform(wide, angle=180, order=1).tolist() == \
        wide[::-1, ::-1].tolist()
    half = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float16)
    # half a pixel to the right: bilinear mean of neighbours, zero outside
    shifted = affine_transform(half, shift=(0.5, 0), order=1)
    assert shifted.dtype == np.float16
    assert shifted.tolist() == [[0.0, 0.5], [0.5, 0.5]]
    # integers are rounded and clipped, not truncated
    ramp = np.array([[0, 3]], dtype=np.int32)
    assert affine_transform(ramp, shift=(0.5, 0), order=1).tolist() == [[0, 2]]


# --- rotate -----------------------------------------------------------------

def test_rotate_numpy_per_frame_angles():
    rng = np.random.default_rng(1)
    stack = rng.random((2, 3, 9, 11)).astype(np.float32)
    angles = np.array([[0.0, 5.0, -12.5], [90.0, 1.0, 3.0]])
    out = rotate(stack, angles)
    assert out.shape == stack.shape and out.dtype == np.float32
    for index in np.ndindex(angles.shape):
        assert np.array_equal(out[index], affine_transform(
            stack[index], angle=angles[index], order=1))
    # one angle for all; labels use nearest neighbour by default
    labels = rng.integers(0, 5, (2, 8, 8)).astype(np.uint16)
    rotated = rotate(labels, 33.0)
    assert set(np.unique(rotated)) <= set(np.unique(labels))
    with pytest.raises(ValueError, match="do not match the images"):
        rotate(stack, np.zeros(5))


def test_rotate_border_mode():
    image = np.arange(1, 13, dtype=np.float32).reshape(2, 6)
    # a wide image turned by 90 degrees: the outer columns come from outside
    zero = rotate(image, 90.0, order=0)
    assert zero.tolist() == [[0, 0, 4, 10, 0, 0], [0, 0, 3, 9, 0, 0]]
    edge = rotate(image, 90.0, order=0, mode="edge")
    assert edge.tolist() == [[4, 4, 4, 10, 10, 10], [3, 3, 3, 9, 9, 9]]


def test_rotate_dataarray_broadcasts_angles_over_dims():
    rng = np.random.default_rng(2)
    data = rng.random((3, 2, 10, 12)).astype(np.float32)
    images = xr.DataArray(data, dims=("position", "frame", "y", "x"),
                          coords={"position": [0, 1, 2]}, attrs={"px": 0.1})
    angles = xr.DataArray([1.5, -3.0, 0.0], dims=("position",))
    out = rotate(images, angles)
    assert isinstance(out, xr.DataArray)
    assert out.dims == images.dims and out.attrs == {"px": 0.1}
    assert out.dtype == np.float32
    for pos in range(3):
        for frame in range(2):
            assert np.array_equal(out.values[pos, frame], affine_transform(
                data[pos, frame], angle=float(angles[pos]), order=1))
    # one number for all images
    assert np.array_equal(rotate(images, 7.0).values, rotate(data, 7.0))
    with pytest.raises(ValueError, match="angles must be a number or a DataArray"):
        rotate(images, np.zeros(3))
    # y/x need not be the last dimensions
    swapped = rotate(images.transpose("y", "position", "x", "frame"), angles)
    assert swapped.dims == ("y", "position", "x", "frame")
    assert np.array_equal(swapped.transpose(*images.dims).values, out.values)


# --- deskew -----------------------------------------------------------------

@pytest.mark.parametrize("angle", [-5.0, -2.3, 0.0, 0.7, 4.6])
def test_deskew_finds_known_rotation(angle):
    frame = mothermachine_scene()[:256, :320]
    tilted = affine_transform(frame, angle=angle, order=1, mode="reflect")
    assert abs(deskew(tilted) + angle) <= 0.2
    # and applying the result straightens the frame
    assert abs(deskew(rotate(tilted, deskew(tilted)))) <= 0.2


def test_deskew_large_frame_and_featureless():
    frame = mothermachine_scene(shape=(700, 760))
    tilted = affine_transform(frame, angle=-3.2, order=1, mode="reflect")
    assert abs(deskew(tilted) - 3.2) <= 0.2
    assert deskew(np.full((50, 50), 0.4)) == 0.0
    with pytest.raises(ValueError, match="max_angle"):
        deskew(frame, max_angle=50)
    frame[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        deskew(frame)


# --- drift ------------------------------------------------------------------

DRIFTS = [(0, 0), (3, -2), (-7, 5), (12, 9), (-1, -11), (0, 4)]


def drifting_movie(scene: np.ndarray, shape=(240, 300), margin=25):
    """Frames cut from the scene so that frame[y + dy, x + dx] = ref[y, x]."""
    height, width = shape
    frames = [scene[margin - dy:margin - dy + height, margin - dx:margin - dx + width]
              for dx, dy in DRIFTS]
    return np.stack(frames)


def test_compute_drift_recovers_integer_drifts_exactly():
    movie = drifting_movie(mothermachine_scene())
    box, template = drift_template(chamber_boxes(300), movie[0])
    assert box == CroppingBox(xtl=14, ytl=0, xbr=290, ybr=CHAMBER_TOP)
    assert np.array_equal(template, movie[0, :CHAMBER_TOP, 14:290])
    assert compute_drift(movie, box, template) == DRIFTS
    # against the whole frame too
    box, template = drift_template([], movie[0], whole_frame=True)
    assert box == CroppingBox.full(movie[0])
    assert compute_drift(movie, box, template) == DRIFTS
    # a single frame
    assert compute_drift(movie[2], box, template) == [DRIFTS[2]]


def test_compute_drift_on_uint16_frames_and_bad_template():
    movie = (drifting_movie(mothermachine_scene(seed=3)) * 40000).astype(np.uint16)
    box, template = drift_template(chamber_boxes(300), movie[0])
    assert compute_drift(movie, box, template) == DRIFTS
    with pytest.raises(ValueError, match="template has shape"):
        compute_drift(movie, box, template[1:])
    with pytest.raises(ValueError, match="images must be 3-D"):
        compute_drift(movie[None], box, template)


def test_drift_template_falls_back_to_the_whole_frame():
    frame = np.zeros((100, 80), dtype=np.float32)
    high = [CroppingBox(5, 10, 15, 90), CroppingBox(40, 12, 50, 90)]
    with pytest.warns(PipelineWarning, match="too small"):
        box, template = drift_template(high, frame)
    assert box == CroppingBox(0, 0, 80, 100) and template.shape == (100, 80)
    box, _ = drift_template([CroppingBox(-5, 40, 120, 90)], frame)
    assert box == CroppingBox(0, 0, 80, 40)        # clipped to the frame


def test_correct_drift_numpy_restores_reference():
    movie = drifting_movie(mothermachine_scene())
    corrected = correct_drift(movie, np.array(DRIFTS))
    assert corrected.dtype == movie.dtype and corrected.shape == movie.shape
    for frame, (dx, dy) in zip(corrected, DRIFTS, strict=True):
        valid = CroppingBox(xtl=max(-dx, 0), ytl=max(-dy, 0),
                            xbr=300 - max(dx, 0), ybr=240 - max(dy, 0))
        assert np.array_equal(valid.crop(frame), valid.crop(movie[0]))
        assert np.count_nonzero(frame) == valid.shape[0] * valid.shape[1]
    # round trip with compute_drift
    box, template = drift_template(chamber_boxes(300), movie[0])
    assert compute_drift(corrected[:, :200], box, template) == [(0, 0)] * 6


def test_correct_drift_fractional_and_errors():
    image = np.tile(np.arange(10, dtype=np.float32), (4, 1))
    out = correct_drift(image[None], np.array([[0.5, 0.0]]))
    np.testing.assert_allclose(out[0, :, :9], image[:, :9] + 0.5, atol=1 / 32)
    with pytest.raises(ValueError, match="last dimension of size 2"):
        correct_drift(image, np.zeros(3))
    with pytest.raises(ValueError, match="do not match the images"):
        correct_drift(image[None], np.zeros((3, 2)))


def test_correct_drift_dataarray():
    movie = drifting_movie(mothermachine_scene())
    images = xr.DataArray(movie[:, None], dims=("frame", "channel", "y", "x"),
                          attrs={"unit": "a.u."})
    drifts = xr.DataArray(np.array(DRIFTS), dims=("frame", "xy"),
                          coords={"xy": ["x", "y"]})
    expected = correct_drift(movie, np.array(DRIFTS))
    out = correct_drift(images, drifts)
    assert out.dims == images.dims and out.attrs == {"unit": "a.u."}
    assert np.array_equal(out.values[:, 0], expected)
    # labelled coordinates are used by name, whatever their order
    flipped = xr.DataArray(np.array(DRIFTS)[:, ::-1], dims=("frame", "xy"),
                           coords={"xy": ["y", "x"]})
    assert np.array_equal(correct_drift(images, flipped).values, out.values)
    # unlabelled: (x, y) order
    plain = xr.DataArray(np.array(DRIFTS), dims=("frame", "xy"))
    assert np.array_equal(correct_drift(images, plain).values, out.values)
    with pytest.raises(ValueError, match="'xy' dimension"):
        correct_drift(images, np.array(DRIFTS))
    with pytest.raises(ValueError, match="must have size 2"):
        correct_drift(images, xr.DataArray(np.zeros((6, 3)), dims=("frame", "xy")))
