"""The time-lapse movie simulators: determinism, geometry, lineage, files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from skimage.registration import phase_cross_correlation

from cytolab.errors import FileFormatError
from cytolab.simulate.movies import (
    SEQUENCE_PATTERN,
    TRUTH_FILE,
    MovieTruth,
    capsule_mask,
    simulate_agarpad,
    simulate_mothermachine,
)
from cytolab.timelapse.evaluate import find_divisions, segmentation_scores

ARRAY_FIELDS = ("images", "labels", "length", "width", "area", "growth_rate",
                "fluo", "poles", "drift")
OTHER_FIELDS = ("kind", "mothers", "first_frame", "last_frame", "divisions",
                "exits", "chambers", "cell_chamber", "rotation")


@pytest.fixture(scope="module")
def mm() -> MovieTruth:
    return simulate_mothermachine(60, 4, seed=3, fluorescence=True)


@pytest.fixture(scope="module")
def pad() -> MovieTruth:
    return simulate_agarpad(30, seed=5, n_founders=8, shape=(256, 288))


def assert_same(a: MovieTruth, b: MovieTruth) -> None:
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for name in OTHER_FIELDS:
        assert getattr(a, name) == getattr(b, name), name


def division_frames(truth: MovieTruth) -> set[tuple[int, int]]:
    """(mother, frame) of every division."""
    return {(mother, frame) for frame, mother, _ in truth.divisions}


# --- determinism and streams -------------------------------------------------


def test_same_seed_same_movie_other_seed_other_movie(mm):
    assert_same(mm, simulate_mothermachine(60, 4, seed=3, fluorescence=True))
    other = simulate_mothermachine(60, 4, seed=4, fluorescence=True)
    assert not np.array_equal(other.labels, mm.labels)


def test_agarpad_is_deterministic(pad):
    assert_same(pad, simulate_agarpad(30, seed=5, n_founders=8, shape=(256, 288)))


def test_fluorescence_changes_neither_phase_nor_labels(mm):
    plain = simulate_mothermachine(60, 4, seed=3)
    assert plain.images.shape == (60, 1) + mm.images.shape[2:]
    np.testing.assert_array_equal(plain.images[:, 0], mm.images[:, 0])
    np.testing.assert_array_equal(plain.labels, mm.labels)
    assert np.all(np.isnan(plain.fluo))


def test_fluorescence_channel_follows_the_cells(mm):
    assert mm.images.shape[1] == 2
    frame = 40
    fluo = mm.images[frame, 1]
    ids = mm.cells_on(frame)
    inside = np.array([fluo[mm.labels[frame] == c].mean() for c in ids])
    background = np.median(fluo[mm.labels[frame] == 0])
    assert background < 0.06 < inside.min()
    truth = mm.fluo[ids, frame]
    assert np.corrcoef(inside, truth)[0, 1] > 0.95
    # slow variation: a few % per frame, inherited by the daughter
    cell = ids[0]
    steps = np.diff(np.log(mm.fluo[cell, mm.first_frame[cell]:]))
    assert 0.02 < np.std(steps) < 0.1
    _, mother, daughter = mm.divisions[0]
    assert mm.fluo[daughter, mm.first_frame[daughter]] == pytest.approx(
        mm.fluo[mother, mm.first_frame[daughter] - 1], rel=0.3)


def test_images_are_16_bit_levels_in_range(mm, pad):
    for truth in (mm, pad):
        assert truth.images.dtype == np.float32
        levels = np.rint(truth.images.astype(np.float64) * 65535).astype(np.uint16)
        np.testing.assert_array_equal(
            levels.astype(np.float32) / np.float32(65535), truth.images)
        assert truth.images.min() >= 0 and truth.images.max() <= 1


def test_phase_contrast_cells_are_dark_with_a_bright_halo(mm):
    frame = 30
    image, labels = mm.images[frame, 0], mm.labels[frame]
    cells = labels > 0
    ring = (cv2.dilate(cells.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~cells
    far = cv2.dilate(cells.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    box = mm.chambers[0]
    lumen = np.zeros_like(cells)
    lumen[box[1] + 8:box[3], box[0] + 8:box[2] - 8] = True
    assert image[cells].mean() < 0.75 * image[far & ~lumen].mean()
    assert image[ring & lumen].mean() > image[far].mean()


# --- geometry --------------------------------------------------------------


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_labels_are_the_capsules_of_the_truth(which, request):
    truth = request.getfixturevalue(which)
    shape = truth.labels.shape[1:]
    for frame in (0, truth.n_frames // 2, truth.n_frames - 1):
        labels = truth.labels[frame]
        ids = truth.cells_on(frame)
        present = np.unique(labels)
        np.testing.assert_array_equal(present[present > 0], ids)
        for cell in ids:
            mask = capsule_mask(shape, *truth.poles[cell, frame],
                                truth.width[cell, frame])
            drawn = labels == cell
            assert np.all(mask[drawn])
            if which == "mm":  # cells never touch there: exactly the capsule
                np.testing.assert_array_equal(drawn, mask)


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_label_area_matches_the_true_area(which, request):
    truth = request.getfixturevalue(which)
    height, width = truth.labels.shape[1:]
    rel = []
    for frame in range(0, truth.n_frames, 5):
        counts = np.bincount(truth.labels[frame].ravel(),
                             minlength=truth.area.shape[0])
        ids = truth.cells_on(frame)
        poles = truth.poles[ids, frame]
        margin = truth.width[ids, frame][:, None] / 2 + 1
        whole = np.all((poles.min(axis=1) > margin)
                       & (poles.max(axis=1) < [height, width] - margin), axis=1)
        rel.append(counts[ids[whole]] / truth.area[ids[whole], frame] - 1)
    rel = np.concatenate(rel)
    assert len(rel) > 100
    # pixel centres inside the capsule: unbiased up to the digitization of
    # cells at fixed sub-pixel positions (vertical cells in a chamber)
    assert abs(rel.mean()) < 0.02
    assert np.abs(rel).max() < 0.1


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_length_width_area_and_poles_agree(which, request):
    truth = request.getfixturevalue(which)
    on = np.isfinite(truth.length)
    tips = truth.poles[..., 0, :] - truth.poles[..., 1, :]
    tip_distance = np.hypot(tips[..., 0], tips[..., 1])
    np.testing.assert_allclose(tip_distance[on], truth.length[on], rtol=1e-9)
    w, length = truth.width[on], truth.length[on]
    np.testing.assert_allclose(truth.area[on], np.pi * w ** 2 / 4 + w * (length - w))
    assert np.all((w >= 9) & (w <= 11))
    assert 15 < length.min() and np.percentile(length, 99) < 55
    # (on a pad, a cell at the border waits to divide until both halves
    # are in view)
    assert length.max() < (60 if which == "mm" else 90)
    assert np.array_equal(on, np.isfinite(truth.growth_rate))


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_cells_grow_exponentially_at_their_rate(which, request):
    truth = request.getfixturevalue(which)
    divides = division_frames(truth)
    errors = [truth.length[c, t + 1] / (truth.length[c, t]
                                        * np.exp(truth.growth_rate[c, t])) - 1
              for c in truth.cell_ids
              for t in range(truth.first_frame[c], truth.last_frame[c])
              if (c, t + 1) not in divides]
    assert len(errors) > 500
    np.testing.assert_allclose(errors, 0, atol=1e-12)
    rates = truth.growth_rate[np.isfinite(truth.growth_rate)]
    mean = 0.03 if which == "mm" else 0.06
    assert rates.mean() == pytest.approx(mean, rel=0.05)
    assert 0.05 < rates.std() / rates.mean() < 0.15


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_division_conserves_length_and_keeps_the_old_pole(which, request):
    truth = request.getfixturevalue(which)
    assert len(truth.divisions) > 30
    birth = []
    for frame, mother, daughter in truth.divisions:
        before = truth.length[mother, frame - 1] * np.exp(
            truth.growth_rate[mother, frame - 1])
        after = truth.length[mother, frame] + truth.length[daughter, frame]
        assert after == pytest.approx(before, rel=1e-12)
        share = truth.length[mother, frame] / after
        assert 0.4 <= share <= 0.6
        # the new poles face each other, the old poles face away
        # (in a chamber exactly the gap of 2 px apart; on a pad pushed and
        # turned a little)
        old_m, new_m = truth.poles[mother, frame]
        old_d, new_d = truth.poles[daughter, frame]
        if which == "mm":
            assert np.hypot(*(new_m - new_d)) == pytest.approx(2.0)
            assert np.hypot(*(old_m - old_d)) == pytest.approx(after + 2)
        else:
            assert np.hypot(*(new_m - new_d)) < 8
            assert np.hypot(*(old_m - old_d)) == pytest.approx(after + 2, abs=6)
        assert truth.mothers[daughter] == mother
        assert truth.first_frame[daughter] == frame
        birth.append(truth.length[daughter, frame])
    # division at about twice the birth length
    sizes = [truth.length[m, f - 1] / truth.length[m, truth.first_frame[m]]
             for f, m, _ in truth.divisions if truth.mothers[m] is not None
             and truth.first_frame[m] > 0
             and not any(f0 < f and m0 == m for f0, m0, _ in truth.divisions)]
    assert len(sizes) > 5
    assert 1.7 < np.mean(sizes) < 2.2
    assert 18 < np.mean(birth) < 30


@pytest.mark.parametrize("which", ["mm", "pad"])
def test_lineage_records_are_consistent(which, request):
    truth = request.getfixturevalue(which)
    assert truth.cell_ids == list(range(1, len(truth.cell_ids) + 1))
    assert sorted(truth.mothers) == truth.cell_ids
    assert find_divisions(truth.labels, truth.mothers) == sorted(truth.divisions)
    founders = [c for c, m in truth.mothers.items() if m is None]
    assert all(truth.first_frame[c] == 0 for c in founders)
    for cell in truth.cell_ids:
        frames = np.flatnonzero(np.isfinite(truth.length[cell]))
        np.testing.assert_array_equal(
            frames, np.arange(truth.first_frame[cell], truth.last_frame[cell] + 1))
    exits = dict((c, f) for f, c in truth.exits)
    for cell in truth.cell_ids:
        if truth.last_frame[cell] < truth.n_frames - 1:
            assert exits[cell] == truth.last_frame[cell] + 1
        else:
            assert cell not in exits


def assert_apart(labels: np.ndarray) -> None:
    """No pixel of a label is next to (8-neighbourhood) one of another."""
    kernel = np.ones((3, 3), np.uint8)
    high = cv2.dilate(labels, kernel)
    low = cv2.erode(np.where(labels == 0, 65535, labels).astype(np.uint16), kernel)
    fg = labels > 0
    assert np.all(high[fg] == labels[fg]) and np.all(low[fg] == labels[fg])


def test_labels_of_different_cells_never_touch(mm, pad):
    for truth in (mm, pad):
        for labels in truth.labels:
            assert_apart(labels)


def test_agarpad_cells_never_overlap(pad):
    shape = pad.labels.shape[1:]
    for frame in (10, pad.n_frames - 1):
        ids = pad.cells_on(frame)
        masks = np.stack([capsule_mask(shape, *pad.poles[c, frame],
                                       pad.width[c, frame]) for c in ids])
        assert masks.sum(axis=0).max() == 1
        # at least one pixel apart: the labels lose no pixel to separation
        assert_apart((masks * ids[:, None, None]).sum(axis=0).astype(np.uint16))


def test_agarpad_colonies(pad):
    assert len(pad.cells_on(0)) == 8
    assert 50 < len(pad.cells_on(pad.n_frames - 1)) < 120
    assert pad.chambers == [] and pad.cell_chamber == {} and pad.rotation == 0.0
    big = simulate_agarpad(40, seed=0)
    assert big.labels.shape == (40, 512, 512)
    assert 200 < len(big.cells_on(39)) < 400


# --- mother machine ------------------------------------------------------


def test_mothermachine_layout(mm):
    assert mm.kind == "mothermachine"
    assert mm.images.shape == (60, 2, 344, 224)
    assert len(mm.chambers) == 4
    for k, (xtl, ytl, xbr, ybr) in enumerate(mm.chambers):
        assert (xbr - xtl, ybr - ytl) == (32, 240)  # fits a 256 x 32 input
        assert xtl == 24 + 48 * k
        cells = [c for c, chamber in mm.cell_chamber.items() if chamber == k]
        assert len(cells) > 10
        centres = mm.poles[cells].mean(axis=2)  # (cells, frames, 2)
        x = centres[..., 1][np.isfinite(centres[..., 1])]
        assert np.all((x > xtl + 8) & (x < xbr - 8))
        y = centres[..., 0][np.isfinite(centres[..., 0])]
        assert y.min() > ytl + 8
    assert sorted(mm.cell_chamber) == mm.cell_ids


def test_mother_cell_stays_at_the_closed_end(mm):
    for k, (xtl, ytl, xbr, _) in enumerate(mm.chambers):
        column = mm.labels[:, ytl + 10, (xtl + xbr) // 2]
        mother = int(column[0])
        assert mother > 0 and np.all(column == mother)
        assert mm.mothers[mother] is None and mm.cell_chamber[mother] == k
        old, new = mm.poles[mother, :, 0], mm.poles[mother, :, 1]
        assert np.all(old[:, 0] < new[:, 0])  # old pole up, against the wall
        assert np.all(old[:, 0] < ytl + 8 + 2)
        assert mother not in dict((c, f) for f, c in mm.exits)


def test_cells_leave_through_the_opening(mm):
    opening = mm.chambers[0][3]
    assert len(mm.exits) > 20
    centres = mm.poles[..., 0].mean(axis=-1)  # y of the centres
    on = np.isfinite(mm.length)
    for frame, cell in mm.exits:
        assert mm.last_frame[cell] == frame - 1
        assert centres[cell, frame - 1] <= opening - 0.5 or (
            mm.first_frame[cell] == frame - 1)  # a daughter born there
    newborn = {(d, f) for f, _, d in mm.divisions}
    for cell, frame in zip(*np.nonzero(on & (centres > opening - 0.5))):
        assert (cell, frame) in newborn
        assert mm.last_frame[cell] == frame
    assert centres[on].max() < opening + 30


def test_drift_is_recorded_and_recoverable():
    truth = simulate_mothermachine(30, 3, seed=5, drift=True)
    drift = truth.drift
    assert drift.shape == (30, 2) and drift.dtype == np.int64
    assert np.all(drift[0] == 0) and np.abs(np.diff(drift, axis=0)).max() <= 1
    assert np.abs(drift).max() <= 12 and np.any(drift != 0)
    for frame in (10, 20, 29):
        shift, _, _ = phase_cross_correlation(truth.images[0, 0],
                                              truth.images[frame, 0])
        np.testing.assert_array_equal(-shift, drift[frame])


def test_given_drift_shifts_labels_and_poles():
    shifts = np.zeros((12, 2), int)
    shifts[:, 0] = np.arange(12) // 2
    shifts[:, 1] = -(np.arange(12) // 3)
    plain = simulate_mothermachine(12, 2, seed=8)
    moved = simulate_mothermachine(12, 2, seed=8, drift=shifts)
    np.testing.assert_array_equal(moved.drift, shifts)
    np.testing.assert_allclose(moved.poles, plain.poles + shifts[None, :, None, :],
                               atol=1e-9)
    for frame, (dy, dx) in enumerate(shifts):
        back = np.roll(moved.labels[frame], (-dy, -dx), axis=(0, 1))
        np.testing.assert_array_equal(back[10:-10, 10:-10],
                                      plain.labels[frame, 10:-10, 10:-10])
    assert plain.mothers == moved.mothers and plain.divisions == moved.divisions
    with pytest.raises(ValueError, match="drift"):
        simulate_mothermachine(12, 2, drift=np.zeros((11, 2)))


def test_rotation_is_undone_by_rotating_back():
    plain = simulate_mothermachine(10, 3, seed=2)
    tilted = simulate_mothermachine(10, 3, seed=2, rotation=4.0)
    assert tilted.rotation == 4.0
    height, width = plain.labels.shape[1:]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 4.0, 1)
    poles = plain.poles[..., ::-1] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(tilted.poles, poles[..., ::-1], atol=1e-9)
    np.testing.assert_allclose(tilted.length, plain.length)
    back = np.stack([cv2.warpAffine(lab, cv2.getRotationMatrix2D(
        ((width - 1) / 2, (height - 1) / 2), -4.0, 1), (width, height),
        flags=cv2.INTER_NEAREST) for lab in tilted.labels])
    scores = segmentation_scores(back, plain.labels, iou_threshold=0.8)
    assert scores["f1"] == 1.0
    # the chambers are tilted in the image: the walls move along x with y
    column = tilted.images[0, 0, 40:260, :].mean(axis=0)
    assert not np.allclose(column, plain.images[0, 0, 40:260, :].mean(axis=0),
                           atol=0.02)


# --- files ---------------------------------------------------------------


def test_file_round_trip(tmp_path):
    folder = tmp_path / "movie"
    truth = simulate_mothermachine(5, 2, seed=1, fluorescence=True, drift=True,
                                   rotation=1.5, path=folder)
    names = sorted(p.name for p in folder.iterdir())
    expected = sorted([SEQUENCE_PATTERN.format(channel=c, frame=f)
                       for c in range(2) for f in range(5)] + [TRUTH_FILE])
    assert names == expected
    assert "Position00_Channel01_Frame004.tif" in names
    raw = tifffile.imread(folder / "Position00_Channel01_Frame003.tif")
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, np.rint(truth.images[3, 1] * 65535))
    assert_same(MovieTruth.load(folder), truth)


def test_saving_again_replaces_the_sequence(tmp_path):
    folder = tmp_path / "movie"
    simulate_agarpad(4, seed=1, n_founders=2, shape=(128, 128), fluorescence=True,
                     path=folder)
    (folder / "notes.txt").write_text("mine")
    short = simulate_agarpad(2, seed=2, n_founders=2, shape=(128, 128), path=folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["Position00_Channel00_Frame000.tif",
                     "Position00_Channel00_Frame001.tif", "notes.txt", TRUTH_FILE]
    assert_same(MovieTruth.load(folder), short)


def test_load_reports_missing_files(tmp_path):
    with pytest.raises(FileFormatError, match="truth.npz"):
        MovieTruth.load(tmp_path)
    folder = tmp_path / "movie"
    simulate_mothermachine(3, 1, seed=1, path=folder)
    (folder / "Position00_Channel00_Frame002.tif").unlink()
    with pytest.raises(FileFormatError, match="Frame002.tif"):
        MovieTruth.load(folder)
    (folder / "Position00_Channel00_Frame002.tif").write_bytes(b"not an image")
    with pytest.raises(FileFormatError, match="Frame002.tif"):
        MovieTruth.load(folder)
    np.savez_compressed(folder / TRUTH_FILE, labels=np.zeros((3, 4, 4), np.uint16))
    with pytest.raises(FileFormatError, match="not a movie truth file.*'chambers'"):
        MovieTruth.load(folder)
    (folder / TRUTH_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FileFormatError, match="cannot read the movie truth"):
        MovieTruth.load(folder)


# --- arguments -----------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"n_frames": 0}, "n_frames"),
    ({"n_chambers": 0}, "n_chambers"),
    ({"seed": -1}, "seed"),
    ({"noise": -0.1}, "noise"),
    ({"growth_rate": 0.0}, "growth_rate"),
    ({"growth_noise": 0.9}, "growth_noise"),
    ({"birth_length": 5.0}, "birth_length"),
    ({"chamber_width": 10}, "chamber_width"),
    ({"chamber_length": 40}, "chamber_length"),
])
def test_mothermachine_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_mothermachine(**{"n_frames": 2, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"n_founders": 0}, "n_founders"),
    ({"shape": (64, 512)}, "shape"),
    ({"shape": (256,)}, "shape"),
])
def test_agarpad_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_agarpad(2, **kwargs)


def test_capsule_mask_arguments():
    mask = capsule_mask((20, 20), (10, 10), (10, 10), 5)  # a disc
    assert mask.sum() == 21
    with pytest.raises(ValueError, match="width"):
        capsule_mask((5, 5), (1, 1), (3, 3), 0)
    with pytest.raises(ValueError, match="pole"):
        capsule_mask((5, 5), (1, 1, 1), (3, 3), 2)


def test_mothermachine_cell_width():
    """Another species: every cell within 1 px of the asked width."""
    truth = simulate_mothermachine(6, 2, seed=4, cell_width=5.0, chamber_width=8,
                                   birth_length=15.0)
    widths = truth.width[np.isfinite(truth.width)]
    assert widths.size and np.all(np.abs(widths - 5.0) <= 1.0)
    with pytest.raises(ValueError, match="chamber_width must be > 15"):
        simulate_mothermachine(2, 1, cell_width=14.0, chamber_width=15)
    with pytest.raises(ValueError, match="cell_width"):
        simulate_mothermachine(2, 1, cell_width=30.0)
