"""Tracking logic: scores, attributions and pole ages."""
from __future__ import annotations

import copy
import types

import numpy as np
import pytest

from cytolab.timelapse.boxes import CroppingBox
from cytolab.timelapse.lineage import CellFeatures, features_equal
from cytolab.timelapse.tracking import (
    attributions,
    division_poles,
    track_poles,
    tracking_scores,
)


def pole(y: int, x: int) -> np.ndarray:
    return np.array([y, x], dtype=np.int16)


def cf(new: tuple[int, int], old: tuple[int, int], **kw) -> CellFeatures:
    return CellFeatures(new_pole=pole(*new), old_pole=pole(*old), **kw)


# ------------------------------------------------------------------ scores
def test_tracking_scores_exact():
    labels = np.zeros((6, 4), dtype=np.uint16)
    labels[0:2, :] = 1        # 8 pixels
    labels[3:5, 1:3] = 2      # 4 pixels
    labels[5, 3] = 4          # 1 pixel, label 3 absent
    full = np.zeros((6, 4), np.float32)
    full[0, :] = 1.0          # half of cell 1
    full[3:5, 1] = 0.5        # two pixels of cell 2 at 0.5
    # second output: a 3x3 box reaching outside the frame at the bottom right
    box2 = CroppingBox(xtl=2, ytl=4, xbr=5, ybr=7)
    out2 = np.zeros((3, 3), np.float32)
    out2[0, 0] = 1.0          # pixel (4, 2) of cell 2
    out2[1, 1] = 0.25         # pixel (5, 3) of cell 4
    out2[2, 2] = 9.0          # outside the frame: ignored
    scores = tracking_scores(labels, [full[:3, :3], out2],
                             [CroppingBox(0, 0, 3, 3), box2])
    assert scores.dtype == np.float32 and scores.shape == (2, 4)
    # first output cropped to its box (3x3 top-left): cell 1 gets 3 of 8 pixels
    np.testing.assert_array_equal(scores, np.array(
        [[3 / 8, 0.0, 0.0, 0.0], [0.0, 1 / 4, 0.0, 0.25]], np.float32))
    whole = tracking_scores(labels, full[np.newaxis, ..., np.newaxis],
                            [CroppingBox(0, 0, 4, 6)])  # (n, h, w, 1) outputs
    np.testing.assert_array_equal(whole, np.array([[0.5, 0.25, 0.0, 0.0]],
                                                  np.float32))


def test_tracking_scores_box_above_and_left_of_the_frame():
    labels = np.zeros((3, 3), dtype=np.uint16)
    labels[0, 0] = 1
    labels[2, 2] = 2
    # 2x2 output whose box starts one pixel above and left of the frame:
    # only its bottom-right value lies on the frame, on pixel (0, 0)
    out = np.array([[[5.0, 6.0], [7.0, 0.5]]], np.float32)
    box = CroppingBox(xtl=-1, ytl=-1, xbr=1, ybr=1)
    assert tracking_scores(labels, out, [box]).tolist() == [[0.5, 0.0]]
    # any object with the four corners will do
    plain = types.SimpleNamespace(xtl=-1, ytl=-1, xbr=1, ybr=1)
    assert tracking_scores(labels, out, [plain]).tolist() == [[0.5, 0.0]]


def test_tracking_scores_edge_cases():
    labels = np.zeros((4, 4), np.uint16)
    labels[1, 1] = 1
    away = CroppingBox(xtl=10, ytl=10, xbr=12, ybr=12)  # misses the frame
    assert tracking_scores(labels, np.ones((1, 2, 2)), [away]).tolist() == [[0.0]]
    empty = tracking_scores(np.zeros((4, 4), np.uint16), np.ones((1, 2, 2)),
                            [CroppingBox(0, 0, 2, 2)])
    assert empty.shape == (1, 0)
    assert tracking_scores(labels, np.zeros((0, 2, 2)), []).shape == (0, 1)
    with pytest.raises(ValueError, match="output 0 has shape \\(2, 2\\) but its "
                                         "box has size \\(3, 2\\)"):
        tracking_scores(labels, np.ones((1, 2, 2)), [CroppingBox(0, 0, 2, 3)])
    with pytest.raises(ValueError, match="2 tracking outputs but 1 boxes"):
        tracking_scores(labels, np.ones((2, 2, 2)), [CroppingBox(0, 0, 2, 2)])
    with pytest.raises(ValueError, match="logits must have shape"):
        tracking_scores(labels, np.ones((2, 2)), [CroppingBox(0, 0, 2, 2)])
    with pytest.raises(ValueError, match="2-D integer image"):
        tracking_scores(labels.astype(float), np.ones((1, 2, 2)),
                        [CroppingBox(0, 0, 2, 2)])


# ------------------------------------------------------------ attributions
@pytest.mark.parametrize(("scores", "expected"), [
    # one old cell continuing as one new cell
    ([[0.9]], [[1]]),
    # a division: both new cells go to the old one
    ([[0.9, 0.7]], [[1, 1]]),
    # at most two: the third best is left out
    ([[0.9, 0.7, 0.8]], [[1, 0, 1]]),
    # below the minimum score: the old cell vanished, the new one is new
    ([[0.19]], [[0]]),
    # competition: a new cell goes to the old cell with the higher score
    ([[0.9, 0.8, 0.0], [0.0, 0.9, 0.1]], [[1, 0, 0], [0, 1, 0]]),
    # ... unless it is not among that old cell's two best
    ([[0.3, 0.0, 0.0], [0.5, 0.9, 0.8]], [[1, 0, 0], [0, 1, 1]]),
    # ties go to the lower index
    ([[0.5], [0.5]], [[1], [0]]),
])
def test_attributions_rules(scores, expected):
    attrib = attributions(np.array(scores, np.float32))
    assert attrib.dtype == bool
    assert attrib.astype(int).tolist() == expected


def test_attributions_min_score_and_empty():
    assert attributions(np.array([[0.15]]), min_score=0.1).tolist() == [[True]]
    assert attributions(np.zeros((0, 3))).shape == (0, 3)
    assert attributions(np.zeros((2, 0))).shape == (2, 0)
    assert attributions(np.array([[np.nan, 0.5]])).tolist() == [[False, True]]
    with pytest.raises(ValueError, match="2-D"):
        attributions(np.zeros(3))


def test_attributions_properties_on_random_scores():
    rng = np.random.default_rng(3)
    for _ in range(200):
        scores = rng.random((rng.integers(1, 6), rng.integers(1, 6)))
        scores[rng.random(scores.shape) < 0.3] = 0.0
        attrib = attributions(scores)
        assert (attrib.sum(axis=1) <= 2).all()
        assert (attrib.sum(axis=0) <= 1).all()
        assert (scores[attrib] >= 0.2).all()
        for old, new in zip(*np.nonzero(attrib)):
            assert (scores[old] > scores[old, new]).sum() <= 1  # among its best two
        # a new cell left without link had no eligible old cell
        for new in np.flatnonzero(~attrib.any(axis=0)):
            for old in range(scores.shape[0]):
                if scores[old, new] >= 0.2:
                    assert (scores[old] > scores[old, new]).sum() >= 2


# ---------------------------------------------------------------- track_poles
def test_track_poles_orders_the_poles():
    feats = cf(new=(10, 5), old=(40, 5), length=30.0)
    kept = track_poles(feats, prev_old=pole(38, 5), prev_new=pole(11, 5))
    assert kept.old_pole.tolist() == [40, 5] and kept.new_pole.tolist() == [10, 5]
    swapped = track_poles(feats, prev_old=pole(11, 5), prev_new=pole(38, 5))
    assert swapped.old_pole.tolist() == [10, 5] and swapped.new_pole.tolist() == [40, 5]
    assert swapped.length == 30.0
    assert feats.new_pole.tolist() == [10, 5]  # input untouched
    assert swapped is not feats


def test_track_poles_large_coordinates_do_not_overflow():
    # int16 squares would overflow: 300**2 > 32767
    feats = cf(new=(0, 0), old=(300, 300))
    tracked = track_poles(feats, prev_old=pole(5, 5), prev_new=pole(290, 290))
    assert tracked.old_pole.tolist() == [0, 0]


def random_poles(seed: int, count: int, tries: int = 500):
    """`count` random poles per try on a small grid (ties are frequent there),
    the last two (previous old and new pole) distinct."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        p = rng.integers(0, 4, size=(count, 2))
        if not (p[-2] == p[-1]).all():
            yield p


def test_track_poles_is_symmetric():
    for p in random_poles(7, 4):
        feats = cf(new=tuple(p[0]), old=tuple(p[1]))
        a = track_poles(feats, prev_old=pole(*p[2]), prev_new=pole(*p[3]))
        b = track_poles(feats, prev_old=pole(*p[3]), prev_new=pole(*p[2]))
        assert a.old_pole.tolist() == b.new_pole.tolist()
        assert a.new_pole.tolist() == b.old_pole.tolist()


# ------------------------------------------------------------- division_poles
def test_division_poles_identifies_the_mother():
    prev_old, prev_new = pole(41, 5), pole(1, 5)
    upper = cf(new=(2, 5), old=(18, 5), length=17.0)
    lower = cf(new=(40, 5), old=(22, 5), length=19.0)
    mother, daughter, first = division_poles(upper, lower, prev_old, prev_new)
    assert first is False
    assert mother.length == 19.0 and daughter.length == 17.0
    assert (mother.old_pole.tolist(), mother.new_pole.tolist()) == ([40, 5], [22, 5])
    assert (daughter.old_pole.tolist(), daughter.new_pole.tolist()) == ([2, 5], [18, 5])
    mother, daughter, first = division_poles(lower, upper, prev_old, prev_new)
    assert first is True and mother.length == 19.0
    assert upper.old_pole.tolist() == [18, 5]  # inputs untouched


def test_division_poles_is_symmetric():
    for p in random_poles(11, 6):
        f1 = cf(new=tuple(p[0]), old=tuple(p[1]), length=1.0)
        f2 = cf(new=tuple(p[2]), old=tuple(p[3]), length=2.0)
        saved = copy.deepcopy((f1, f2))
        m1, d1, first1 = division_poles(f1, f2, pole(*p[4]), pole(*p[5]))
        m2, d2, first2 = division_poles(f1, f2, pole(*p[5]), pole(*p[4]))
        assert first1 != first2
        assert features_equal(m1, d2) and features_equal(d1, m2)
        assert features_equal(f1, saved[0]) and features_equal(f2, saved[1])
