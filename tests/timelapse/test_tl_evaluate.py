"""Scores of segmentation, tracking and lineage results against a truth."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from cytolab.simulate.movies import simulate_mothermachine
from cytolab.timelapse.evaluate import (
    division_scores,
    evaluate,
    find_divisions,
    format_report,
    growth_rate_error,
    link_errors,
    match_labels,
    segmentation_scores,
)


def movie(frames: list[dict[int, tuple[int, int]]], width: int = 40) -> np.ndarray:
    """A (T, 4, width) label stack: ``{label: (x0, x1)}`` bars per frame."""
    out = np.zeros((len(frames), 4, width), np.uint16)
    for t, bars in enumerate(frames):
        for label, (x0, x1) in bars.items():
            out[t, :, x0:x1] = label
    return out


# A cell 1 that grows and divides on frame 2 into 1 (left) and 3 (right),
# and a cell 2 that stays the same; 4 frames.
TRUE = movie([{1: (0, 8), 2: (30, 36)},
              {1: (0, 10), 2: (30, 36)},
              {1: (0, 5), 3: (6, 11), 2: (30, 36)},
              {1: (0, 6), 3: (7, 13), 2: (30, 36)}])
TRUE_MOTHERS = {1: None, 2: None, 3: 1}
# continuations: cell 1 on frames 1, 2, 3; cell 2 on 1, 2, 3; cell 3 on 3;
# plus the division link 1 -> 3 on frame 2
N_LINKS = 8


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    lut = np.arange(65536, dtype=np.uint16)
    for old, new in mapping.items():
        lut[old] = new
    return lut[labels]


# --- matching and segmentation --------------------------------------------


def test_perfect_prediction_with_other_identifiers():
    pred = relabel(TRUE, {1: 7, 2: 5, 3: 9})
    result = evaluate(pred, {7: None, 5: None, 9: 7},
                      SimpleNamespace(labels=TRUE, mothers=TRUE_MOTHERS))
    seg = result["segmentation"]
    assert (seg["precision"], seg["recall"], seg["f1"], seg["mean_iou"]) == (
        1.0, 1.0, 1.0, 1.0)
    assert (seg["tp"], seg["fp"], seg["fn"]) == (10, 0, 0)
    links = result["links"]
    assert links["true_links"] == links["pred_links"] == links["correct"] == N_LINKS
    assert links["true_division_links"] == 1
    assert (links["unmatched"], links["wrong"], links["spurious"]) == (0, 0, 0)
    assert links["link_error_rate"] == links["spurious_rate"] == 0.0
    div = result["divisions"]
    assert (div["tp"], div["fp"], div["fn"], div["f1"]) == (1, 0, 0, 1.0)
    assert div["tolerance_frames"] == 1
    assert result["growth_rate"] is None


def test_match_labels_pairs_and_ious():
    pred = movie([{4: (0, 6), 5: (30, 36), 6: (20, 22)}])
    m = match_labels(pred, TRUE[:1])
    assert m.frame.tolist() == [0, 0]
    assert m.true_id.tolist() == [1, 2] and m.pred_id.tolist() == [4, 5]
    np.testing.assert_allclose(m.iou, [6 / 8, 1.0])
    assert m.n_true.tolist() == [2] and m.n_pred.tolist() == [3]
    assert m.true_to_pred() == {(0, 1): 4, (0, 2): 5}
    assert m.pred_to_true() == {(0, 4): 1, (0, 5): 2}


def test_iou_of_exactly_the_threshold_is_no_match():
    true = movie([{1: (0, 8)}])
    pred = movie([{1: (0, 4)}])  # IoU 0.5
    assert len(match_labels(pred, true).frame) == 0
    assert len(match_labels(pred, true, iou_threshold=0.49).frame) == 1


def test_low_threshold_matches_greedily_one_to_one():
    true = movie([{1: (0, 10), 2: (10, 14)}])
    pred = movie([{8: (2, 14)}])  # IoU 8/14 with 1, 4/14 with 2
    m = match_labels(pred, true, iou_threshold=0.1)
    assert m.true_id.tolist() == [1] and m.pred_id.tolist() == [8]


def test_split_cell_is_two_false_positives_and_a_miss():
    pred = TRUE.copy()
    pred[1] = movie([{1: (0, 5), 4: (5, 10), 2: (30, 36)}])[0]  # 1 cut in two
    seg = segmentation_scores(pred, TRUE)
    assert (seg["tp"], seg["fp"], seg["fn"]) == (9, 2, 1)
    assert seg["precision"] == pytest.approx(9 / 11)
    assert seg["recall"] == pytest.approx(9 / 10)
    assert seg["f1"] == pytest.approx(18 / 21)
    # the links of cell 1 into and out of frame 1 (1 -> 1 twice, 1 -> 3)
    # have no partner there
    links = link_errors(pred, TRUE_MOTHERS, TRUE, TRUE_MOTHERS)
    assert (links["unmatched"], links["wrong"]) == (3, 0)
    assert links["link_error_rate"] == pytest.approx(3 / N_LINKS)
    # predicted: the same three links from and to the left half (label 1) on
    # frame 1 are spurious; label 4 is never linked
    assert links["pred_links"] == N_LINKS and links["spurious"] == 3


def test_false_positives_lower_precision_only():
    pred = TRUE.copy()
    pred[0, :, 15:18] = 8
    pred[3, :, 20:24] = 9
    seg = segmentation_scores(pred, TRUE)
    assert (seg["tp"], seg["fp"], seg["fn"]) == (10, 2, 0)
    assert seg["precision"] == pytest.approx(10 / 12) and seg["recall"] == 1.0
    links = link_errors(pred, TRUE_MOTHERS, TRUE, TRUE_MOTHERS)
    assert links["link_error_rate"] == 0.0 and links["spurious"] == 0


def test_empty_frames_and_empty_movies():
    true = np.concatenate([np.zeros((2, 4, 40), np.uint16), TRUE])
    pred = np.concatenate([np.zeros((2, 4, 40), np.uint16), TRUE])
    seg = segmentation_scores(pred, true)
    assert (seg["tp"], seg["fp"], seg["fn"], seg["f1"]) == (10, 0, 0, 1.0)
    empty = np.zeros((3, 5, 5), np.uint8)
    seg = segmentation_scores(empty, empty)
    assert (seg["precision"], seg["recall"], seg["f1"]) == (1.0, 1.0, 1.0)
    assert math.isnan(seg["mean_iou"])
    seg = segmentation_scores(np.zeros((3, 4, 5), np.uint8), TRUE[:3, :, :5])
    assert (seg["precision"], seg["recall"], seg["f1"]) == (0.0, 0.0, 0.0)
    assert (seg["fn"], seg["fp"]) == (3, 0)
    links = link_errors(empty, {}, empty, {})
    assert links["true_links"] == 0 and links["link_error_rate"] == 0.0
    result = evaluate(empty, {}, SimpleNamespace(labels=empty, mothers={}))
    assert result["divisions"]["f1"] == 1.0
    assert "mean IoU nan" in format_report(result)


def test_single_frames_count_as_movies():
    m = match_labels(TRUE[0], TRUE[0])
    assert m.n_true.tolist() == [2] and len(m.frame) == 2


# --- links ---------------------------------------------------------------


def test_swapped_identities_give_two_wrong_and_two_spurious_links():
    pred = TRUE.copy()
    pred[3] = relabel(TRUE[3], {1: 2, 2: 1})  # 1 and 2 swap on the last frame
    links = link_errors(pred, TRUE_MOTHERS, TRUE, TRUE_MOTHERS)
    assert links["true_links"] == N_LINKS
    assert (links["correct"], links["unmatched"], links["wrong"]) == (6, 0, 2)
    assert links["link_error_rate"] == pytest.approx(2 / N_LINKS)
    assert links["spurious"] == 2 and links["division_link_errors"] == 0


def test_missed_division():
    # the prediction keeps mother and daughter as one object: from frame 2 on
    # it matches the mother by IoU 5/11 and 6/13 -> no match at all
    pred = movie([{1: (0, 8), 2: (30, 36)},
                  {1: (0, 10), 2: (30, 36)},
                  {1: (0, 11), 2: (30, 36)},
                  {1: (0, 13), 2: (30, 36)}])
    result = evaluate(pred, {}, SimpleNamespace(labels=TRUE, mothers=TRUE_MOTHERS))
    seg = result["segmentation"]
    assert (seg["tp"], seg["fp"], seg["fn"]) == (6, 2, 4)
    links = result["links"]
    # 1->1 on frames 2 and 3, 1->3 on frame 2 and 3->3 on frame 3 are unmatched
    assert (links["correct"], links["unmatched"], links["wrong"]) == (4, 4, 0)
    assert links["division_link_errors"] == 1
    assert links["pred_links"] == 6 and links["spurious"] == 2
    div = result["divisions"]
    assert (div["tp"], div["fp"], div["fn"]) == (0, 0, 1)
    assert (div["precision"], div["recall"], div["f1"]) == (0.0, 0.0, 0.0)


def test_swapped_mother_and_daughter():
    pred = TRUE.copy()
    pred[2:] = relabel(TRUE[2:], {1: 3, 3: 1})  # the right half keeps the id
    links = link_errors(pred, {3: 1}, TRUE, TRUE_MOTHERS)
    # true 1->1 (frame 2) is a predicted division, true 1->3 a continuation
    assert (links["wrong"], links["division_link_errors"]) == (2, 1)
    assert links["spurious"] == 2
    div = division_scores(find_divisions(pred, {3: 1}),
                          find_divisions(TRUE, TRUE_MOTHERS),
                          matching=match_labels(pred, TRUE))
    assert (div["tp"], div["fp"], div["fn"]) == (0, 1, 1)


def test_find_divisions_ignores_cells_not_in_the_labels():
    assert find_divisions(TRUE, {**TRUE_MOTHERS, 9: 1}) == [(2, 1, 3)]


# --- divisions -----------------------------------------------------------


def test_division_tolerance():
    late = movie([{1: (0, 8), 2: (30, 36)},
                  {1: (0, 10), 2: (30, 36)},
                  {1: (0, 11), 2: (30, 36)},  # still one cell on frame 2
                  {1: (0, 6), 3: (7, 13), 2: (30, 36)}])
    matching = match_labels(late, TRUE)
    pred, true = find_divisions(late, {3: 1}), find_divisions(TRUE, TRUE_MOTHERS)
    assert pred == [(3, 1, 3)] and true == [(2, 1, 3)]
    one = division_scores(pred, true, tolerance=1, matching=matching)
    assert (one["tp"], one["fp"], one["fn"], one["tolerance_frames"]) == (1, 0, 0, 1)
    zero = division_scores(pred, true, tolerance=0, matching=matching)
    assert (zero["tp"], zero["fp"], zero["fn"], zero["f1"]) == (0, 1, 1, 0.0)


def test_divisions_by_identifier_match_once():
    pred = [(4, 1, 2), (5, 1, 2), (9, 3, 4), (20, 5, 6)]
    true = [(5, 1, 2), (9, 3, 4), (12, 7, 8)]
    result = division_scores(pred, true, tolerance=1)
    assert (result["tp"], result["fp"], result["fn"]) == (2, 2, 1)
    assert result["precision"] == 0.5 and result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(4 / 7)
    with pytest.raises(ValueError, match="tolerance"):
        division_scores(pred, true, tolerance=-1)


# --- growth rates --------------------------------------------------------


def test_growth_rate_error_by_identifier_and_through_matching():
    truth = np.full((4, 4), np.nan)
    truth[1] = [0.02, 0.02, 0.04, 0.04]
    truth[2] = [0.01, 0.01, 0.01, np.nan]
    pred = {1: {0: 0.02, 1: 0.03, 2: 0.04, 3: 0.02}, 2: {0: 0.011, 1: 0.0}}
    result = growth_rate_error(pred, truth)
    rel = [0, 0.5, 0, 0.5, 0.1, 1.0]
    assert result["n"] == 6
    assert result["median_relative_error"] == pytest.approx(np.median(rel))
    assert result["mean_relative_error"] == pytest.approx(np.mean(rel))
    # through a matching, predicted cell 7 is true cell 1
    labels = movie([{1: (0, 5)}] * 4)
    matching = match_labels(relabel(labels, {1: 7}), labels)
    result = growth_rate_error({7: {f: 0.022 for f in range(4)}}, truth,
                               matching=matching)
    assert result["n"] == 4
    assert result["median_relative_error"] == pytest.approx((0.1 + 0.45) / 2)
    nothing = growth_rate_error({}, truth)
    assert nothing["n"] == 0 and math.isnan(nothing["median_relative_error"])
    with pytest.raises(ValueError, match="2-D"):
        growth_rate_error(np.zeros(3), truth)


# --- arguments -----------------------------------------------------------


def test_bad_arguments():
    with pytest.raises(ValueError, match="differ in shape"):
        match_labels(TRUE[:2], TRUE)
    with pytest.raises(ValueError, match="iou_threshold"):
        match_labels(TRUE, TRUE, iou_threshold=1.0)
    with pytest.raises(ValueError, match="integer labels"):
        segmentation_scores(TRUE.astype(float), TRUE)
    with pytest.raises(ValueError, match="pred_labels"):
        segmentation_scores(np.zeros((2, 2, 2, 2), int), TRUE)
    with pytest.raises(ValueError, match="growth_rate"):
        evaluate(TRUE, {}, SimpleNamespace(labels=TRUE, mothers={}),
                 pred_growth_rate={})


# --- the simulator's truth -----------------------------------------------


@pytest.fixture(scope="module")
def sim():
    return simulate_mothermachine(40, 3, seed=11)


def test_simulated_truth_against_itself_is_perfect(sim):
    result = evaluate(sim.labels, sim.mothers, sim, pred_growth_rate=sim.growth_rate)
    assert result["segmentation"]["f1"] == 1.0
    assert result["segmentation"]["tp"] == int(np.isfinite(sim.length).sum())
    assert result["links"]["link_error_rate"] == 0.0
    assert result["links"]["spurious"] == 0
    assert result["links"]["true_division_links"] == len(sim.divisions)
    assert result["divisions"]["tp"] == len(sim.divisions) > 10
    assert result["growth_rate"]["median_relative_error"] == 0.0
    assert result["growth_rate"]["n"] == result["segmentation"]["tp"]
    report = format_report(result)
    assert "F1 1.000" in report and "error rate 0.000" in report
    assert "growth rate   median relative error 0.000" in report


def test_permuted_identifiers_are_still_perfect(sim):
    rng = np.random.default_rng(0)
    ids = np.array(sim.cell_ids)
    new = rng.permutation(np.arange(100, 100 + len(ids)))
    perm = dict(zip(ids.tolist(), new.tolist()))
    pred = relabel(sim.labels, perm)
    mothers = {perm[c]: (None if m is None else perm[m])
               for c, m in sim.mothers.items()}
    rates = np.full((new.max() + 1, sim.n_frames), np.nan)
    rates[new] = sim.growth_rate[ids]
    result = evaluate(pred, mothers, sim, pred_growth_rate=rates)
    assert result["segmentation"]["f1"] == 1.0
    assert result["links"]["link_error_rate"] == 0.0
    assert result["links"]["spurious"] == 0
    assert result["divisions"]["f1"] == 1.0
    assert result["growth_rate"]["mean_relative_error"] == 0.0


def test_one_swapped_link_in_a_simulation_is_counted_exactly(sim):
    frame = 20
    a, b = [c for c in sim.cells_on(frame) if sim.first_frame[c] < frame][:2]
    pred = sim.labels.copy()
    pred[frame:] = relabel(sim.labels[frame:], {a: b, b: a})
    # from `frame` on, a is called b and b is called a, also as the mother of
    # daughters born later (a daughter born on `frame` has its mother's
    # object on frame - 1, still under the old name)
    swap = {a: b, b: a}
    mothers = {}
    for cell, mother in sim.mothers.items():
        if mother in swap and sim.first_frame[cell] > frame:
            mother = swap[mother]
        mothers[cell] = mother
    result = evaluate(pred, mothers, sim)
    links = result["links"]
    assert (links["wrong"], links["unmatched"], links["spurious"]) == (2, 0, 2)
    assert links["link_error_rate"] == pytest.approx(2 / links["true_links"])
    assert result["segmentation"]["f1"] == 1.0
    assert result["divisions"]["f1"] == 1.0
