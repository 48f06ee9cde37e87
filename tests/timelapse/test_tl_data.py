"""Training data, weight maps and prediction inputs (cytolab.timelapse.data)."""
import pathlib

import cv2
import numpy as np
import pytest
from scipy import ndimage

from cytolab.errors import CytolabError, FileFormatError
from cytolab.timelapse import data
from cytolab.timelapse.assets import write_training_set
from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.images import read_image, resize_image
from cytolab.timelapse.labels import label_seg
from cytolab.timelapse.tiling import create_windows

AUG = {"rotation": 3, "zoom": 0.15, "horizontal_flip": True,
       "histogram_voodoo": True, "illumination_voodoo": True,
       "elastic_deformation": {"sigma": 2, "points": 5}}


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def blobs(shape, seed):
    """A 0/1 mask with a few rectangular cells."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 6)
        mask[y:y + 8, x:x + 5] = 1
    return mask


def make_seg_set(root, count=10, shape=(40, 24), mask_scale=1, weights=False):
    """Synthetic seg training set: 16-bit images, 8-bit masks (0/1 or 0/255)."""
    for i in range(count):
        mask = blobs(shape, i)
        image = (mask.astype(np.uint16) * 30000 + 1000 * (i + 1)).astype(np.uint16)
        name = f"sample{i:02d}.png"
        write(root / "img" / name, image)
        write(root / "seg" / name, (mask * mask_scale).astype(np.uint8))
        if weights:
            write(root / "wei" / name, np.full(shape, 65535 // (i + 1), np.uint16))
    return root


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from cytolab.simulate.movies import simulate_mothermachine

    truth = simulate_mothermachine(n_frames=5, n_chambers=2, seed=3, path=None)
    root = tmp_path_factory.mktemp("training")
    for model in ("seg", "track"):
        write_training_set(root / model, truth, "mothermachine", model)
    return root


# ------------------------------------------------------------ file names
def test_path_from_prototype():
    proto = "Position%02d_Chamber%02d_Frame%03d.png"
    assert data.path_from_prototype(proto, "pcf", position=2, chamber=11,
                                    frame=7) == pathlib.Path(
        "Position02_Chamber11_Frame007.png")
    assert data.path_from_prototype("pos%d/t%04d_c%02d.tif", "ptn", position=0,
                                    frame=5, cellnb=3) == pathlib.Path(
        "pos0/t0005_c03.tif")
    with pytest.raises(ValueError, match="needs a chamber number"):
        data.path_from_prototype(proto, "pcf", position=0, frame=1)
    with pytest.raises(ValueError, match="one letter per %d"):
        data.path_from_prototype(proto, "pf", position=0, frame=1)
    with pytest.raises(ValueError, match="unknown letter 'x'"):
        data.path_from_prototype(proto, "pxf", position=0, frame=1)


def test_kernel():
    assert data.kernel(2).tolist() == [[1, 1], [1, 1]]
    assert data.kernel(5).dtype == np.uint8
    with pytest.raises(ValueError):
        data.kernel(0)


def test_random_crop_pads_and_aligns():
    img = np.arange(6 * 10, dtype=np.float32).reshape(6, 10) + 1
    seg = (img % 3 == 0).astype(np.uint8)
    wei = img * 2
    corners = set()
    for seed in range(20):
        a, b, c = data.random_crop(img, seg, wei, (8, 4), np.random.default_rng(seed))
        assert a.shape == b.shape == c.shape == (8, 4)
        np.testing.assert_array_equal(a[6:], 0)  # padded rows
        np.testing.assert_array_equal(b, (a % 3 == 0) & (a > 0))
        np.testing.assert_array_equal(c, a * 2)
        corners.add(int(a[0, 0]))
    assert corners == {1, 2, 3, 4, 5, 6, 7}  # every x offset 0..6
    again = data.random_crop(img, seg, None, (3, 3), np.random.default_rng(4))
    np.testing.assert_array_equal(
        again[0], data.random_crop(img, seg, wei, (3, 3), np.random.default_rng(4))[0])
    assert again[2] is None
    with pytest.raises(ValueError, match="one shape"):
        data.random_crop(img, seg[:3], None, (3, 3), np.random.default_rng())


# ------------------------------------------------------------ weight maps
def reference_seg_weights(mask, classweights, w0, sigma):
    labels = label_seg(mask)
    dist = np.stack([ndimage.distance_transform_edt(labels != k)
                     for k in range(1, labels.max() + 1)])
    dist.sort(axis=0)
    border = w0 * np.exp(-(dist[0] + dist[1]) ** 2 / (2 * sigma ** 2))
    return np.where(mask > 0, classweights[1], classweights[0] + border)


def test_seg_weights_matches_the_unet_formula():
    mask = np.zeros((60, 50), np.uint8)
    mask[5:20, 5:12] = mask[5:20, 14:22] = 1      # 2 px apart
    mask[30:40, 30:45] = mask[43:55, 30:45] = 1   # 3 px apart
    mask[50:58, 2:6] = 1
    for classweights, w0, sigma in [((1, 1), 12, 2), ((0.5, 3), 10, 5)]:
        out = data.seg_weights(mask, classweights, w0, sigma)
        assert out.dtype == np.float32
        expected = reference_seg_weights(mask, classweights, w0, sigma)
        np.testing.assert_allclose(out, expected, atol=w0 * 1e-6 + 1e-5)
    out = data.seg_weights(mask, (0.5, 3))
    np.testing.assert_array_equal(out[mask > 0], 3.0)  # exact class weight
    assert out[12, 12] > 4 > out[0, 49] == 0.5         # gap >> far background


def test_seg_weights_single_cell_and_errors():
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 255
    np.testing.assert_array_equal(data.seg_weights(mask, (2, 7)),
                                  np.where(mask > 0, 7.0, 2.0))
    np.testing.assert_array_equal(data.seg_weights(mask * 0), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        data.seg_weights(mask, sigma=0)
    with pytest.raises(ValueError, match="classweights"):
        data.seg_weights(mask, classweights=(1,))


def test_seg_weights_2D():
    mask = np.zeros((12, 20), np.uint8)
    mask[2:10, 2:8] = mask[2:10, 9:15] = 1   # one-pixel gap at column 8
    out = data.seg_weights_2D(mask, classweights=(0.5, 2))
    assert out[5, 8] == 0.5 * (1 + data.GAP_GAIN)        # gap
    assert out[5, 2] == 2 * (1 + data.CONTOUR_GAIN)      # outline
    assert out[5, 4] == 2.0                               # inside
    assert out[5, 18] == 0.5                              # far background
    assert out[0, 0] == 0.5  # near one cell only
    np.testing.assert_array_equal(data.seg_weights_2D(np.zeros((4, 4))), 1.0)


def test_tracking_weights():
    track = np.zeros((100, 20), np.uint8)
    track[10:30, 5:15] = 1
    segall = track.copy()
    segall[32:50, 5:15] = 1   # neighbour
    segall[90:99, 5:15] = 1   # far cell
    out = data.tracking_weights(track * 2, segall * 255, halo_distance=40)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[track > 0], 1 + data.HALO_GAIN + data.CELL_GAIN)
    assert out[33, 10] == pytest.approx(1 + (1 - 4 / 40) * 4)
    assert out[31, 10] == pytest.approx(1 + (1 - 2 / 40) * 1)
    np.testing.assert_array_equal(out[90:], 1.0)
    assert out[33, 10] > out[31, 10] > out[80, 10] == 1.0
    np.testing.assert_array_equal(data.tracking_weights(track * 0, segall), 1.0)
    with pytest.raises(ValueError, match="shape"):
        data.tracking_weights(track, segall[:50])
    with pytest.raises(ValueError, match="halo_distance"):
        data.tracking_weights(track, segall, 0)


def test_estimate_seg2D_classweights(tmp_path):
    for i, cells in enumerate([10, 30, 0]):
        mask = np.zeros((10, 10), np.uint8)
        mask.flat[:cells] = 255 if i == 0 else 1
        write(tmp_path / "seg" / f"m{i}.png", mask)
    background, cells = data.estimate_seg2D_classweights(tmp_path / "seg")
    # 40 cell and 260 background pixels: equal total weight, mean weight 1
    assert (background, cells) == pytest.approx((300 / (2 * 260), 300 / (2 * 40)))
    one = data.estimate_seg2D_classweights(tmp_path / "seg", 1,
                                           np.random.default_rng(3))
    assert one == data.estimate_seg2D_classweights(tmp_path / "seg", 1,
                                                   np.random.default_rng(3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.TrainingSetError, match="empty.*no image files"):
        data.estimate_seg2D_classweights(tmp_path / "empty")


def test_estimate_classweights_gives_zero_to_absent_classes():
    y = np.zeros((2, 4, 4, 3), np.float32)
    y[..., 0, :2, 0] = 1   # 4 mother pixels, no daughter, weights channel last
    y[..., 2] = 7
    batches = iter([(None, y)] * 10)
    weights = data.estimate_classweights(batches, num_samples=3)
    assert weights == pytest.approx((3 * 32 / (2 * 3 * 28), 3 * 32 / (2 * 3 * 4), 0))
    with pytest.raises(ValueError, match="no batches"):
        data.estimate_classweights([], 3)


def test_make_weights(tmp_path):
    root = make_seg_set(tmp_path, count=3, mask_scale=255)
    data.make_weights(root, data.seg_weights)
    for i in range(3):
        name = f"sample{i:02d}.png"
        raw = cv2.imread(str(root / "wei" / name), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.max() == 65535
        weights = data.seg_weights(blobs((40, 24), i))
        np.testing.assert_allclose(read_image(root / "wei" / name),
                                   weights / weights.max(), atol=1 / 65535)
    assert not list((root / "wei").glob(".*"))  # no temporary files left
    with pytest.raises(data.TrainingSetError, match="sample00.png.*shape"):
        data.make_weights(root, lambda mask: mask[1:])
    with pytest.raises(data.TrainingSetError, match="sample00.png.*negative"):
        data.make_weights(root, lambda mask: mask - 1.0)
    with pytest.raises(data.TrainingSetError, match="seg.*does not exist"):
        data.make_weights(tmp_path / "nothing", data.seg_weights)


# ------------------------------------------------------------ segmentation sets
def test_load_training_dataset_seg_splits(tmp_path):
    root = make_seg_set(tmp_path)
    train = data.load_training_dataset_seg(root, (32, 16))
    assert isinstance(train, data.SegmentationDataset) and train.num_items == 10
    train, val = data.load_training_dataset_seg(root, (32, 16), validation_split=0.3)
    assert (train.num_items, val.num_items) == (7, 3)
    assert (train.mode, val.mode) == ("training", "evaluation")
    train, test = data.load_training_dataset_seg(root, (32, 16), test_split=0.01)
    assert (train.num_items, test.num_items) == (9, 1)
    train, val, test = data.load_training_dataset_seg(
        root, (32, 16), validation_split=0.2, test_split=0.2, seed=4)
    assert (train.num_items, val.num_items, test.num_items) == (6, 2, 2)
    again = data.load_training_dataset_seg(root, (32, 16), validation_split=0.2,
                                           test_split=0.2, seed=4)
    other = data.load_training_dataset_seg(root, (32, 16), validation_split=0.2,
                                           test_split=0.2, seed=5)
    for a, b in zip((val, test), again[1:]):
        np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(np.concatenate([val[0][0], val[1][0]]),
                              np.concatenate([other[1][0][0], other[1][1][0]]))
    with pytest.raises(ValueError, match="no training samples"):
        data.load_training_dataset_seg(root, (32, 16), validation_split=0.5,
                                       test_split=0.5)
    with pytest.raises(data.TrainingSetError, match="too few"):
        data.load_training_dataset_seg(make_seg_set(tmp_path / "one", count=1),
                                       (32, 16), validation_split=0.1)


def test_split_partitions_the_samples(tmp_path):
    root = make_seg_set(tmp_path)
    datasets = data.load_training_dataset_seg(root, (40, 24), validation_split=0.2,
                                              test_split=0.3, seed=2)
    levels = []
    for ds in datasets:
        for i in range(len(ds)):
            x, _ = ds[i]
            levels.extend(np.round(x.min(axis=(1, 2, 3)) * 65535).tolist())
    assert sorted(levels) == [1000 * (i + 1) for i in range(10)]


def test_segmentation_batches_evaluation_resize(tmp_path):
    root = make_seg_set(tmp_path, count=5, mask_scale=255, weights=True)
    files = tuple(sorted((root / sub).iterdir()) for sub in ("img", "seg", "wei"))
    ds = data.SegmentationDataset(files, (32, 16), "evaluation", batch_size=2)
    assert len(ds) == 3 and ds.num_items == 5
    x, y = ds[0]
    assert x.shape == (2, 32, 16, 1) and y.shape == (2, 32, 16, 2)
    assert x.dtype == y.dtype == np.float32
    expected = resize_image(read_image(root / "img" / "sample00.png"), (32, 16))
    np.testing.assert_array_equal(x[0, ..., 0], expected)
    assert set(np.unique(y[..., 0])) == {0.0, 1.0}
    np.testing.assert_allclose(y[1, ..., 1], (65535 // 2) / 65535)  # wei/ read
    assert ds[2][0].shape[0] == 1  # last batch is smaller
    assert ds[-1][0].shape[0] == 1
    with pytest.raises(IndexError):
        ds[3]


def test_segmentation_evaluation_tiles(tmp_path):
    root = make_seg_set(tmp_path, count=2, shape=(50, 70))
    ds = data.SegmentationDataset(
        ([root / "img/sample00.png", root / "img/sample01.png"],
         [root / "seg/sample00.png", root / "seg/sample01.png"], None),
        (32, 32), "evaluation", crop=True, batch_size=4)
    image = read_image(root / "img/sample00.png")
    windows = create_windows(image, (32, 32), min_overlap=24)[0]
    assert ds.num_items == 2 * len(windows) and len(ds) == -(-ds.num_items // 4)
    x, y = ds[0]
    np.testing.assert_array_equal(x[:4, ..., 0], windows[:4])
    np.testing.assert_array_equal(y[..., 1], 1.0)  # no weights: ones


def test_segmentation_training_is_seeded_and_shuffled(tmp_path):
    root = make_seg_set(tmp_path, count=6)
    files = (sorted((root / "img").iterdir()), sorted((root / "seg").iterdir()), None)

    def make(seed, aug=AUG):
        return data.SegmentationDataset(files, (24, 16), "training", kw_data_aug=aug,
                                        crop=True, rng=seed, batch_size=3)
    def epoch(ds):
        """Background level of each item (identifies the sample) in batch order."""
        batches = [ds[i] for i in range(len(ds))]
        levels = [round(float(x[k].min()) * 65535, -3)
                  for x, _ in batches for k in range(len(x))]
        return levels, batches

    one, two = make(3), make(3)
    for _ in range(2):
        (_, batches1), (_, batches2) = epoch(one), epoch(two)
        for (x1, y1), (x2, y2) in zip(batches1, batches2):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
            assert x1.shape == (3, 24, 16, 1)
            assert set(np.unique(y1[..., 0])) <= {0.0, 1.0}
        one.on_epoch_end()
        two.on_epoch_end()
    plain = make(1, aug=None)
    orders = set()
    for _ in range(4):
        levels = epoch(plain)[0]
        assert sorted(levels) == [1000.0 * (i + 1) for i in range(6)]
        orders.add(tuple(levels))
        plain.on_epoch_end()
    assert len(orders) > 1  # reshuffled every epoch


def test_segmentation_dataset_errors(tmp_path):
    root = make_seg_set(tmp_path, count=3)
    (root / "seg" / "sample01.png").unlink()
    with pytest.raises(data.TrainingSetError, match=r"seg.sample01.png' is missing"):
        data.load_training_dataset_seg(root, (32, 16))
    write(root / "seg" / "sample01.png", np.zeros((40, 24), np.uint8))
    write(root / "seg" / "extra.png", np.zeros((40, 24), np.uint8))
    with pytest.raises(data.TrainingSetError, match="extra.png' has no counterpart"):
        data.load_training_dataset_seg(root, (32, 16))
    (root / "seg" / "extra.png").unlink()
    write(root / "seg" / "sample02.png", np.zeros((30, 24), np.uint8))
    with pytest.raises(data.TrainingSetError, match="differ in shape.*sample02.png"):
        data.load_training_dataset_seg(root, (32, 16))
    with pytest.raises(data.TrainingSetError, match="img folder .*does not exist"):
        data.load_training_dataset_seg(tmp_path / "nowhere", (32, 16))
    (root / "img" / "sample00.png").write_bytes(b"not a png")
    with pytest.raises(FileFormatError, match="sample00.png"):
        data.SegmentationDataset(([root / "img/sample00.png"],
                                  [root / "seg/sample00.png"], None), (8, 8))
    with pytest.raises(ValueError, match="mode"):
        data.SegmentationDataset(([], [], None), (8, 8), "testing")
    with pytest.raises(data.TrainingSetError, match="no samples"):
        data.SegmentationDataset(([], [], None), (8, 8))
    with pytest.raises(data.TrainingSetError, match="2 images, 1 masks"):
        data.SegmentationDataset(([root / "img/sample01.png"] * 2,
                                  [root / "seg/sample01.png"], None), (8, 8))
    with pytest.raises(ValueError, match="Unknown data augmentation"):
        data.SegmentationDataset(([root / "seg/sample01.png"],
                                  [root / "seg/sample01.png"], None), (8, 8),
                                 kw_data_aug={"rotate": 1})
    assert issubclass(data.TrainingSetError, CytolabError)


def test_simulated_seg_set_loads(simulated):
    train, val = data.load_training_dataset_seg(simulated / "seg", (256, 32),
                                                kw_data_aug=AUG, validation_split=0.2,
                                                batch_size=4)
    assert (train.num_items, val.num_items) == (8, 2)
    x, y = train[0]
    assert x.shape == (4, 256, 32, 1) and y.shape == (4, 256, 32, 2)
    assert set(np.unique(y[..., 0])) == {0.0, 1.0}
    np.testing.assert_array_equal(y[..., 1], 1.0)


# ------------------------------------------------------------ tracking sets
def track_files(root):
    return {key: sorted((root / key).iterdir())
            for key in (*data.TRACK_INPUTS, "mot_dau")}


def test_tracking_dataset_channel_semantics(simulated):
    root = simulated / "track"
    ds = data.TrackingDataset(track_files(root), (240, 32), "evaluation",
                              kw_data_aug=AUG)  # not used in evaluation
    names = sorted(p.name for p in (root / "seg").iterdir())
    assert ds.num_items == len(names) == 49
    x, y = ds.batch([0, 5])
    assert x.shape == (2, 240, 32, 4) and y.shape == (2, 240, 32, 3)
    assert data.TRACK_INPUTS == ("previmg", "seg", "img", "segall")
    for row, index in enumerate([0, 5]):
        name = names[index]
        for channel, sub in enumerate(data.TRACK_INPUTS):
            expected = read_image(root / sub / name)
            if sub in ("seg", "segall"):
                expected = (expected > 0).astype(np.float32)
            np.testing.assert_array_equal(x[row, ..., channel], expected)
        target = cv2.imread(str(root / "mot_dau" / name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(y[row, ..., 0], target == 1)
        np.testing.assert_array_equal(y[row, ..., 1], target == 2)
        np.testing.assert_array_equal(y[row, ..., 2], 1.0)
    divisions = [i for i in range(ds.num_items) if ds.batch([i])[1][..., 1].any()]
    assert divisions  # the simulated movie has daughters


def test_tracking_training_with_online_weights(simulated):
    root = simulated / "track"
    train, val = data.load_training_dataset_track(
        root, (256, 32), kw_data_aug=AUG, validation_split=0.25, seed=2,
        batch_size=4, weights="online")
    assert (train.num_items, val.num_items) == (37, 12)
    for ds in (train, val):
        x, y = ds[0]
        assert x.shape == (4, 256, 32, 4) and y.shape == (4, 256, 32, 3)
        for b in range(4):
            expected = data.tracking_weights(np.maximum(y[b, ..., 0], y[b, ..., 1]),
                                             x[b, ..., 3])
            np.testing.assert_allclose(y[b, ..., 2], expected, rtol=1e-6)
            # mother and daughter are cells of segall, binary
            assert np.all(x[b, ..., 3][y[b, ..., 0] > 0] == 1)
            assert np.all(x[b, ..., 3][y[b, ..., 1] > 0] == 1)
        assert set(np.unique(y[..., :2])) <= {0.0, 1.0}


def test_train_generator_track(simulated, tmp_path):
    root = simulated / "track"
    folders = [root / sub for sub in ("img", "seg", "previmg", "segall", "mot_dau")]
    gen = data.train_generator_track(5, *folders, augment_params=AUG, seed=4)
    same = data.train_generator_track(5, *folders, augment_params=AUG, seed=4)
    for _ in range(12):  # beyond one epoch of 49 samples
        x, y = next(gen)
        x2, y2 = next(same)
        assert x.shape == (5, 256, 32, 4) and y.shape == (5, 256, 32, 3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    # weight maps from a folder
    names = sorted(p.name for p in (root / "seg").iterdir())
    for i, name in enumerate(names):
        write(tmp_path / "wei" / name, np.full((240, 32), 1000 * (i + 1), np.uint16))
    gen = data.train_generator_track(2, *folders, tmp_path / "wei",
                                     target_size=(240, 32))
    x, y = next(gen)
    levels = np.unique(y[..., 2])
    assert len(levels) == 2 and all(round(v * 65535) % 1000 == 0 for v in levels)
    (tmp_path / "wei" / names[3]).unlink()
    with pytest.raises(data.TrainingSetError, match=names[3] + "' is missing"):
        data.train_generator_track(2, *folders, tmp_path / "wei")


def test_train_generator_track_crop_windows(simulated):
    root = simulated / "track"
    folders = [root / sub for sub in ("img", "seg", "previmg", "segall", "mot_dau")]
    gen = data.train_generator_track(8, *folders, "online", crop_windows=True,
                                     target_size=(64, 32), seed=1)
    x, y = next(gen)
    assert x.shape == (8, 64, 32, 4)
    for b in range(8):
        ys, _ = np.nonzero(x[b, ..., 1])
        assert abs(ys.mean() - 32) <= 1  # the window is centred on the seed
    shifted = data.train_generator_track(8, *folders, crop_windows=True,
                                         target_size=(64, 32), shift=4, seed=1)
    x_shift, _ = next(shifted)
    np.testing.assert_array_equal(x_shift[..., :2], x[..., :2])  # t-1 not moved
    assert not np.array_equal(x_shift[..., 2:], x[..., 2:])


def test_tracking_dataset_errors(simulated, tmp_path):
    root = simulated / "track"
    files = {key: sorted((root / key).iterdir())[:2]
             for key in (*data.TRACK_INPUTS, "mot_dau")}
    with pytest.raises(ValueError, match="lacks the keys"):
        data.TrackingDataset({k: v for k, v in files.items() if k != "segall"}, (8, 8))
    with pytest.raises(ValueError, match="weights"):
        data.TrackingDataset(files, (8, 8), weights="offline")
    with pytest.raises(ValueError, match="not both"):
        data.TrackingDataset({**files, "wei": files["img"]}, (8, 8), weights="online")
    with pytest.raises(data.TrainingSetError, match="counts"):
        data.TrackingDataset({**files, "img": files["img"][:1]}, (8, 8))
    bad = tmp_path / "bad.png"
    write(bad, np.full((240, 32), 255, np.uint8))
    with pytest.raises(data.TrainingSetError, match="bad.png.*0 \\(background\\)"):
        data.TrackingDataset({**files, "mot_dau": [bad, bad]}, (8, 8))


# ------------------------------------------------------------ prediction inputs
def test_predict_compile_matches_the_tracking_training_set(simulated):
    names = sorted(p.name for p in (simulated / "seg" / "img").iterdir())
    inputs, outputs, boxes = data.predict_compile_from_seg_track(
        simulated / "seg" / "img", simulated / "seg" / "seg", names,
        target_size=(240, 32))
    track_names = sorted(p.name for p in (simulated / "track" / "seg").iterdir())
    assert [p.name for p in outputs] == track_names   # frame 0 skipped
    assert inputs.shape == (49, 240, 32, 4) and inputs.dtype == np.float32
    ds = data.TrackingDataset(track_files(simulated / "track"), (240, 32),
                              "evaluation")
    for i in (0, 17, 48):
        np.testing.assert_array_equal(inputs[i], ds.batch([i])[0][0])
    assert all(box == CroppingBox(0, 0, 32, 240) for box in boxes)


def test_predict_compile_crop_windows_and_resize(simulated):
    folder = simulated / "seg"
    name = "Position00_Chamber01_Frame002.png"
    resized, outputs, _ = data.predict_compile_from_seg_track(
        folder / "img", folder / "seg", [name])
    cropped, _, boxes = data.predict_compile_from_seg_track(
        folder / "img", folder / "seg", [name], target_size=(64, 32),
        crop_windows=True)
    assert resized.shape[1:] == (256, 32, 4) and cropped.shape[1:] == (64, 32, 4)
    assert [p.name for p in outputs] == [
        f"Position00_Chamber01_Frame002_Cell{k:02d}.png" for k in range(len(outputs))]
    tops = []
    for k, box in enumerate(boxes):
        assert box.shape == (64, 32)
        image = read_image(folder / "img" / name)
        np.testing.assert_array_equal(cropped[k, ..., 2], box.crop(image))
        seed_rows = np.nonzero(cropped[k, ..., 1])[0] + box.ytl
        tops.append(seed_rows.min())
    assert tops == sorted(tops)   # cells counted from the top
    none, names, _ = data.predict_compile_from_seg_track(
        folder / "img", folder / "seg", ["Position00_Chamber00_Frame000.png"])
    assert none.shape == (0, 256, 32, 4) and names == []
    with pytest.raises(ValueError, match="Frame<number>"):
        data.predict_compile_from_seg_track(folder / "img", folder / "seg", ["a.png"])


def test_predict_compile_missing_current_frame(simulated, tmp_path):
    seg = tmp_path / "seg"
    seg.mkdir()
    name = "Position00_Chamber00_Frame001.png"
    source = simulated / "seg" / "seg" / "Position00_Chamber00_Frame000.png"
    (seg / "Position00_Chamber00_Frame000.png").write_bytes(source.read_bytes())
    with pytest.raises(data.TrainingSetError, match="Frame001.png' does not exist"):
        data.predict_compile_from_seg_track(simulated / "seg" / "img", seg, [name])


def test_predict_generator_seg(tmp_path):
    write(tmp_path / "b.png", np.full((40, 20), 65535, np.uint16))
    write(tmp_path / "a.png", np.zeros((300, 20), np.uint16))
    resized = list(data.predict_generator_seg(tmp_path, target_size=(64, 16)))
    assert [r.shape for r in resized] == [(1, 64, 16, 1)] * 2
    assert resized[0].max() == 0 and resized[1].min() == 1  # sorted by name
    padded = list(data.predict_generator_seg(tmp_path, files_list=["b.png", "a.png"],
                                             target_size=(64, 16), crop_windows=True))
    assert [p.shape for p in padded] == [(1, 64, 20, 1), (1, 300, 20, 1)]
    np.testing.assert_array_equal(padded[0][0, 40:], 0)
    with pytest.raises(data.TrainingSetError, match="c.png' does not exist"):
        data.predict_generator_seg(tmp_path, files_list=["c.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.TrainingSetError, match="no image files"):
        data.predict_generator_seg(tmp_path / "empty")


# ------------------------------------------------------------ saving results
def test_save_result_seg_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    outputs = rng.random((3, 16, 8, 2)).astype(np.float32)
    data.save_result_seg(tmp_path / "out", outputs,
                         files_list=["x/a.png", "b.tif", "c.jpg"])
    for name, image in zip(["a.png", "b.tif"], outputs):
        np.testing.assert_allclose(read_image(tmp_path / "out" / name), image[..., 0],
                                   atol=0.5 / 255 + 1e-6)
    assert read_image(tmp_path / "out" / "c.jpg").shape == (16, 8)
    data.save_result_seg(tmp_path / "num", outputs[..., 0] > 0.5)
    saved = cv2.imread(str(tmp_path / "num" / "00002.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(saved, (outputs[2, ..., 0] > 0.5) * 255)
    labels = np.arange(3 * 16 * 8, dtype=np.uint16).reshape(3, 16, 8)
    data.save_result_seg(tmp_path / "lab", labels)
    saved = cv2.imread(str(tmp_path / "lab" / "00001.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(saved, labels[1])
    with pytest.raises(ValueError, match="2 names for 3 images"):
        data.save_result_seg(tmp_path, outputs, files_list=["a.png", "b.png"])
    with pytest.raises(ValueError, match="only .png"):
        data.save_result_seg(tmp_path, outputs[:1], files_list=["a.bmp"])
    with pytest.raises(ValueError, match="dtype int64"):
        data.save_result_seg(tmp_path, labels.astype(np.int64))
    with pytest.raises(ValueError, match="3-D"):
        data.save_result_seg(tmp_path, outputs[0, ..., 0])


def test_save_result_seg_multipage_appends(tmp_path):
    import tifffile

    outputs = np.random.default_rng(1).random((3, 10, 6)).astype(np.float32)
    data.save_result_seg(tmp_path, outputs, files_list=["stack.tif"], multipage=True)
    data.save_result_seg(tmp_path, outputs[:2], files_list=["stack.tif"],
                         multipage=True)
    with tifffile.TiffFile(tmp_path / "stack.tif") as tif:
        pages = [page.asarray() for page in tif.pages]
    assert len(pages) == 5
    np.testing.assert_array_equal(pages[4], np.rint(outputs[1] * 255))
    with pytest.raises(ValueError, match="TIFF"):
        data.save_result_seg(tmp_path, outputs, files_list=["a.png"], multipage=True)


def test_save_result_track(tmp_path):
    outputs = np.zeros((2, 12, 6, 3), np.float32)
    outputs[0, 2:5, :, 0] = 1
    outputs[1, 6:9, :, 1] = 0.8
    data.save_result_track(tmp_path, outputs,
                           ["Position00_Frame001_Cell00.png", "F_Cell01.png"])
    mother = cv2.imread(str(tmp_path / "mother_Position00_Frame001_Cell00.png"),
                        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(mother, outputs[0, ..., 0] * 255)
    daughter = read_image(tmp_path / "daughter_F_Cell01.png")
    np.testing.assert_allclose(daughter, outputs[1, ..., 1], atol=0.5 / 255)
    data.save_result_track(tmp_path / "n", outputs)
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == [
        "daughter_00000.png", "daughter_00001.png", "mother_00000.png",
        "mother_00001.png"]
    with pytest.raises(ValueError, match="mother and daughter"):
        data.save_result_track(tmp_path, outputs[..., :1])
