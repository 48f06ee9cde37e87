"""Data augmentation of time-lapse training samples (cytolab.timelapse.augment)."""
import cv2
import numpy as np
import pytest

from cytolab.timelapse.augment import (
    AUGMENTATION_KEYS,
    check_augmentation_parameters,
    data_augmentation,
    histogram_voodoo,
    illumination_voodoo,
    smart_elastic_deform,
)

GEOMETRIC = {
    "elastic_deformation": {"sigma": 3, "points": 4},
    "horizontal_flip": True,
    "vertical_flip": True,
    "rotations90d": True,
    "resize": True,
    "rotation": 20,
    "zoom": 0.5,
    "shiftX": 0.1,
    "shiftY": 0.1,
}
INTENSITY = {
    "illumination_voodoo": True,
    "histogram_voodoo": True,
    "gaussian_noise": 0.1,
    "gaussian_blur": 1.5,
}
ALL = {**GEOMETRIC, **INTENSITY}


def sample(shape=(64, 64)):
    """Mask with three well separated cells, off-centre and asymmetric."""
    mask = np.zeros(shape, np.uint8)
    mask[6:20, 8:18] = 1
    mask[30:50, 36:44] = 1
    mask[44:58, 10:16] = 1
    return mask


def texture(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape).astype(np.float32)


def components(mask):
    return cv2.connectedComponents(np.asarray(mask, np.uint8), connectivity=8)[0] - 1


@pytest.mark.parametrize("key", sorted(GEOMETRIC))
def test_same_geometric_transform_for_all_arrays(key):
    mask = sample()
    changed = False
    for seed in range(6):
        img, msk, wei = data_augmentation([mask * 0.5, mask, mask * 3.0],
                                          {key: GEOMETRIC[key]}, order=0,
                                          rng=np.random.default_rng(seed))
        # nearest-neighbour everywhere: image and weights follow the mask exactly
        np.testing.assert_array_equal(img, msk * 0.5)
        np.testing.assert_array_equal(wei, msk * 3.0)
        changed |= not np.array_equal(msk, mask)
    assert changed, f"{key} never changed the sample"


@pytest.mark.parametrize("key", sorted(GEOMETRIC))
def test_bilinear_image_stays_aligned_with_mask(key):
    mask = sample()
    for seed in range(3):
        img, msk = data_augmentation([mask * 0.8, mask], {key: GEOMETRIC[key]},
                                     order=[1, 0], rng=np.random.default_rng(seed))
        disagree = np.count_nonzero((img > 0.4) != (msk > 0))
        assert disagree <= 0.02 * mask.size


@pytest.mark.parametrize("key", sorted(INTENSITY))
def test_intensity_ops_touch_only_interpolated_images(key):
    mask = sample()
    image = texture(mask.shape) * (1 + mask)
    levels = (mask * 0.25 + 0.5).astype(np.float32)  # order 0, not a mask
    img, msk, lev = data_augmentation([image, mask, levels], {key: INTENSITY[key]},
                                      order=[1, 0, 0], rng=np.random.default_rng(3))
    assert not np.allclose(img, image)
    np.testing.assert_array_equal(msk, mask)
    np.testing.assert_array_equal(lev, levels)


def test_every_documented_key_is_accepted():
    params = {**ALL, "gaussain_blur": 1.0}
    del params["gaussian_blur"]
    assert set(params) | {"gaussian_blur"} == set(AUGMENTATION_KEYS)
    mask = sample((48, 64))
    out = data_augmentation([texture(mask.shape), mask, texture(mask.shape, 1)],
                            params, order=[1, 0, 1], rng=np.random.default_rng(0))
    assert [o.shape for o in out] == [mask.shape] * 3
    assert all(o.dtype == np.float32 for o in out)


def test_blur_spellings():
    image = texture((32, 32))
    one = data_augmentation([image], {"gaussain_blur": 2}, order=1)
    other = data_augmentation([image], {"gaussian_blur": 2}, order=1)
    np.testing.assert_array_equal(one[0], other[0])
    expected = cv2.GaussianBlur(image, (0, 0), 2, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(one[0], expected, atol=1e-6)
    with pytest.raises(ValueError, match="gaussain_blur.*gaussian_blur"):
        data_augmentation([image], {"gaussain_blur": 1, "gaussian_blur": 1}, order=1)


def test_bad_parameters():
    image = texture((8, 8))
    with pytest.raises(ValueError, match="Unknown.*'rotate'.*valid ones: .*shiftY"):
        data_augmentation([image], {"rotate": 3})
    with pytest.raises(ValueError, match="non-negative"):
        data_augmentation([image], {"zoom": -0.1})
    with pytest.raises(ValueError, match="fraction of the image size"):
        data_augmentation([image], {"shiftY": 5})
    with pytest.raises(ValueError, match="must be a number"):
        data_augmentation([image], {"rotation": "a lot"})
    with pytest.raises(ValueError, match="unknown keys"):
        data_augmentation([image], {"elastic_deformation": {"alpha": 3}})
    with pytest.raises(ValueError, match="points"):
        data_augmentation([image], {"elastic_deformation": {"points": 1}})
    with pytest.raises(ValueError, match="orders"):
        data_augmentation([image], {}, order=2)
    with pytest.raises(ValueError, match="2 values for 1"):
        data_augmentation([image], {}, order=[0, 1])
    with pytest.raises(ValueError, match="same shape"):
        data_augmentation([image, image[:4]], {})
    with pytest.raises(ValueError, match="list of 2-D arrays"):
        data_augmentation(image, {})


def test_switched_off_operations_do_nothing():
    mask = sample()
    off = {"horizontal_flip": False, "zoom": 0, "rotation": 0.0,
           "elastic_deformation": None, "gaussian_noise": 0}
    assert check_augmentation_parameters(off) == {}
    out = data_augmentation([mask * 0.5, mask], off, order=[1, 0])
    np.testing.assert_array_equal(out[0], mask * 0.5)
    np.testing.assert_array_equal(out[1], mask)
    assert check_augmentation_parameters(
        {"elastic_deformation": True})["elastic_deformation"] == {"sigma": 10.0,
                                                                 "points": 5}


def test_seeded_reproducibility():
    mask = sample()
    image = texture(mask.shape)
    first = data_augmentation([image, mask], ALL, [1, 0], np.random.default_rng(7))
    again = data_augmentation([image, mask], ALL, [1, 0], np.random.default_rng(7))
    other = data_augmentation([image, mask], ALL, [1, 0], np.random.default_rng(8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_masks_stay_binary_and_inputs_untouched():
    mask = sample((64, 48))
    image = texture(mask.shape)
    kept = (image.copy(), mask.copy())
    for seed in range(5):
        img, msk = data_augmentation([image, mask.astype(bool)], ALL, [1, 0],
                                     np.random.default_rng(seed))
        assert set(np.unique(msk)) <= {0.0, 1.0}
        assert msk.shape == img.shape == mask.shape
    np.testing.assert_array_equal(image, kept[0])
    np.testing.assert_array_equal(mask, kept[1])


def test_rotations90d_on_rectangles_keeps_the_shape():
    image = texture((40, 16))
    seen = set()
    for seed in range(12):
        (out,) = data_augmentation([image], {"rotations90d": True}, order=1,
                                   rng=np.random.default_rng(seed))
        if np.array_equal(out, image):
            seen.add(0)
        else:
            np.testing.assert_array_equal(out, image[::-1, ::-1])
            seen.add(180)
    assert seen == {0, 180}


def test_rotations90d_on_squares_uses_all_quarter_turns():
    image = texture((16, 16))
    seen = set()
    for seed in range(20):
        (out,) = data_augmentation([image], {"rotations90d": True}, order=1,
                                   rng=np.random.default_rng(seed))
        seen.update(k for k in range(4) if np.array_equal(out, np.rot90(image, k)))
    assert seen == {0, 1, 2, 3}


def test_flips_happen_about_half_of_the_time():
    image = texture((8, 8))
    flipped = sum(
        np.array_equal(data_augmentation([image], {"horizontal_flip": True}, 1,
                                         np.random.default_rng(seed))[0],
                       image[:, ::-1])
        for seed in range(200))
    assert 70 < flipped < 130


def test_zoom_enlarges_within_bounds():
    mask = np.zeros((64, 64), np.uint8)
    mask[27:37, 27:37] = 1
    for seed in range(10):
        (out,) = data_augmentation([mask], {"zoom": 0.5}, 0,
                                   np.random.default_rng(seed))
        side = np.sqrt(out.sum())
        assert 10 <= side <= 15 + 1


def test_shift_moves_along_the_requested_axis_only():
    mask = np.zeros((64, 64), np.uint8)
    mask[20:30, 20:30] = 1
    moved = set()
    for seed in range(10):
        (out,) = data_augmentation([mask], {"shiftX": 5 / 64}, 0,
                                   np.random.default_rng(seed))
        ys, xs = np.nonzero(out)
        assert ys.mean() == pytest.approx(24.5)
        assert abs(xs.mean() - 24.5) <= 5.5  # at most 5/64 of the width
        moved.add(round(xs.mean() - 24.5))
    assert len(moved) > 2


def test_noise_level_is_bounded_by_the_parameter():
    image = np.full((64, 64), 0.5, np.float32)
    for seed in range(5):
        (out,) = data_augmentation([image], {"gaussian_noise": 0.05}, 1,
                                   np.random.default_rng(seed))
        assert (out - image).std() < 0.06
        assert out.mean() == pytest.approx(0.5, abs=0.01)


def _check_cells_kept_apart(labels_out, mask_out):
    """Each object of the output mask covers pixels of one input cell only."""
    count, comps = cv2.connectedComponents(mask_out.astype(np.uint8), connectivity=8)
    assert np.all(labels_out[mask_out > 0] > 0)
    for comp in range(1, count):
        assert len(np.unique(labels_out[comps == comp])) == 1


def test_touching_cells_are_never_merged_by_elastic_deformation():
    mask = np.zeros((48, 48), np.uint8)
    mask[8:40, 10:23] = 1
    mask[8:40, 24:37] = 1  # one-pixel gap
    labels = np.zeros(mask.shape, np.float32)
    labels[8:40, 10:23], labels[8:40, 24:37] = 1, 2
    cleared = 0
    for seed in range(8):
        # the label image (values 0, 1, 2: not a mask) is warped plainly
        lab, msk = smart_elastic_deform([labels, mask], 0, sigma=4, points=4,
                                        rng=np.random.default_rng(seed))
        assert msk.dtype == np.uint8
        _check_cells_kept_apart(lab, msk)
        cleared += int((lab > 0).sum() - msk.sum())
    assert cleared > 0  # cells did touch and were separated


def test_touching_cells_are_never_merged_by_data_augmentation():
    mask = np.zeros((48, 48), np.uint8)
    mask[8:40, 10:23] = 1
    mask[8:40, 24:37] = 1
    labels = np.zeros(mask.shape, np.float32)
    labels[8:40, 10:23], labels[8:40, 24:37] = 1, 2
    params = {"resize": True, "rotation": 30, "elastic_deformation": {"sigma": 3}}
    for seed in range(8):
        lab, msk = data_augmentation([labels, mask], params, 0,
                                     np.random.default_rng(seed))
        _check_cells_kept_apart(lab, msk)


def test_smart_elastic_deform_is_smooth_and_repeatable():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    first = smart_elastic_deform([xx, yy], 1, sigma=2, points=3,
                                 rng=np.random.default_rng(1))
    again = smart_elastic_deform([xx, yy], [1, 1], sigma=2, points=(3, 3),
                                 rng=np.random.default_rng(1))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # sampled coordinates = displacement field: small and smooth (away from
    # the border, where the edge pixels are repeated)
    inner = (slice(12, -12), slice(12, -12))
    dx, dy = (first[0] - xx)[inner], (first[1] - yy)[inner]
    assert 0 < np.abs(dx).max() < 12 and 0 < np.abs(dy).max() < 12
    assert np.abs(np.diff(dx, axis=1)).max() < 0.5
    assert np.abs(np.diff(dy, axis=0)).max() < 0.5
    none = smart_elastic_deform([xx], 1, sigma=0, rng=np.random.default_rng(1))
    np.testing.assert_allclose(none[0], xx, atol=1e-4)


def test_histogram_voodoo_is_a_monotonic_remapping():
    image = texture((32, 32))
    out = histogram_voodoo(image, np.random.default_rng(5))
    order = np.argsort(image, axis=None)
    assert np.all(np.diff(out.ravel()[order]) >= -1e-6)
    assert out.min() == pytest.approx(image.min())
    assert out.max() == pytest.approx(image.max())
    assert np.abs(out - image).max() > 0.01
    constant = np.full((4, 4), 0.3, np.float32)
    np.testing.assert_array_equal(histogram_voodoo(constant, np.random.default_rng()),
                                  constant)
    with pytest.raises(ValueError, match="num_control_points"):
        histogram_voodoo(image, np.random.default_rng(), num_control_points=0)


def test_illumination_voodoo_varies_along_y_only():
    columns = np.linspace(0.2, 1.0, 8, dtype=np.float32)
    image = np.tile(columns, (60, 1))
    out = illumination_voodoo(image, np.random.default_rng(2))
    assert out.min() == pytest.approx(0.2) and out.max() == pytest.approx(1.0)
    assert np.ptp(out[:, -1]) > 0.05  # brightness changes along the rows
    # out = a + b * profile[row] * image: differences between columns keep
    # their ratios on every row
    assert np.all(np.diff(out, axis=1) > 0)
    ratio = (out[:, 7] - out[:, 0]) / (out[:, 3] - out[:, 0])
    np.testing.assert_allclose(ratio, (columns[7] - columns[0])
                               / (columns[3] - columns[0]), rtol=1e-4)
    with pytest.raises(ValueError, match="num_control_points"):
        illumination_voodoo(image, np.random.default_rng(), num_control_points=1)
