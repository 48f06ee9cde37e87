"""Score segmentation, tracking and lineage results against a ground truth.

Pure functions on label stacks and lineage dictionaries, for example the
output of a time-lapse pipeline against a :class:`~cytolab.simulate.movies.
MovieTruth`:

- :func:`match_labels` pairs predicted and true objects frame by frame
  (IoU above a threshold, one to one);
- :func:`segmentation_scores`: precision, recall, F1 and mean IoU of objects;
- :func:`link_errors`: how many frame-to-frame links of the true lineage the
  prediction gets wrong, and how many links it invents;
- :func:`division_scores`: precision, recall and F1 of divisions, with a
  tolerance in frames;
- :func:`growth_rate_error`: relative error of growth rates;
- :func:`evaluate` runs them all, :func:`format_report` prints the result.

Conventions
-----------
Label stacks are ``(T, Y, X)`` integer arrays (0 = background; a single
``(Y, X)`` image counts as one frame); an object is the set of pixels of one
label on one frame, and a cell is all objects with one label. A lineage is a
dict ``{cellid: motherid or None}``; cells missing from it have no mother. A
division is ``(frame, mother, daughter)``, ``frame`` being the daughter's
first frame (see :func:`find_divisions`). Ratios over nothing (say precision
without any prediction) are 1.0 when there was nothing to get wrong either,
else 0.0.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Mothers = Mapping[int, int | None]
Division = tuple[int, int, int]


class TruthLike(Protocol):
    """What :func:`evaluate` needs of a ground truth (e.g. a ``MovieTruth``)."""

    labels: np.ndarray
    mothers: Mapping[int, int | None]


@dataclasses.dataclass(frozen=True)
class Matching:
    """One-to-one pairs of predicted and true objects, frame by frame.

    Attributes
    ----------
    frame, true_id, pred_id, iou
        One entry per matched pair (sorted by frame, then true id).
    n_true, n_pred
        Number of objects on each frame.
    iou_threshold
        Pairs have an IoU above it.
    """

    frame: np.ndarray
    true_id: np.ndarray
    pred_id: np.ndarray
    iou: np.ndarray
    n_true: np.ndarray
    n_pred: np.ndarray
    iou_threshold: float

    def pred_to_true(self) -> dict[tuple[int, int], int]:
        """``{(frame, pred_id): true_id}``."""
        return dict(zip(zip(self.frame.tolist(), self.pred_id.tolist()),
                        self.true_id.tolist()))

    def true_to_pred(self) -> dict[tuple[int, int], int]:
        """``{(frame, true_id): pred_id}``."""
        return dict(zip(zip(self.frame.tolist(), self.true_id.tolist()),
                        self.pred_id.tolist()))


def match_labels(pred_labels: npt.ArrayLike, true_labels: npt.ArrayLike,
                 iou_threshold: float = 0.5) -> Matching:
    """Pair the objects of two label stacks frame by frame.

    On each frame, a predicted and a true object are paired when their
    intersection over union (IoU) is above `iou_threshold`. For thresholds
    of 0.5 or more an object can overlap at most one other that much, so the
    pairing is unique; below 0.5, pairs are taken greedily by decreasing IoU
    (ties by true id, then predicted id), each object used once.

    Parameters
    ----------
    pred_labels, true_labels
        ``(T, Y, X)`` (or ``(Y, X)``) label stacks of the same shape.
    iou_threshold
        In [0, 1).

    Returns
    -------
    Matching

    Examples
    --------
    >>> true = np.array([[1, 1, 1, 0, 2, 2]])
    >>> pred = np.array([[5, 5, 0, 0, 7, 0]])
    >>> m = match_labels(pred, true)
    >>> m.true_id.tolist(), m.pred_id.tolist(), m.iou.round(3).tolist()
    ([1], [5], [0.667])
    """
    pred, true = _stacks(pred_labels, true_labels)
    if not 0 <= iou_threshold < 1:
        raise ValueError(f"iou_threshold must be in [0, 1), got {iou_threshold}")
    parts: list[tuple[np.ndarray, ...]] = []
    n_true = np.zeros(len(true), np.int64)
    n_pred = np.zeros(len(true), np.int64)
    for frame, (p, t) in enumerate(zip(pred, true)):
        t_ids, t_idx = _compact(t)
        p_ids, p_idx = _compact(p)
        overlap = np.bincount(t_idx * len(p_ids) + p_idx,
                              minlength=len(t_ids) * len(p_ids)
                              ).reshape(len(t_ids), len(p_ids))
        # index 0 is the background (present or not)
        t_area, p_area = overlap.sum(axis=1)[1:], overlap.sum(axis=0)[1:]
        overlap = overlap[1:, 1:]
        t_ids, p_ids = t_ids[1:], p_ids[1:]
        n_true[frame], n_pred[frame] = len(t_ids), len(p_ids)
        union = t_area[:, None] + p_area[None, :] - overlap
        iou = overlap / np.maximum(union, 1)
        ti, pi = _one_to_one(iou, iou_threshold)
        parts.append((np.full(len(ti), frame), t_ids[ti], p_ids[pi], iou[ti, pi]))
    frame_, true_id, pred_id, ious = (
        np.concatenate([part[k] for part in parts]) if parts else np.zeros(0)
        for k in range(4))
    return Matching(frame=frame_.astype(np.int64), true_id=true_id.astype(np.int64),
                    pred_id=pred_id.astype(np.int64), iou=ious.astype(np.float64),
                    n_true=n_true, n_pred=n_pred, iou_threshold=float(iou_threshold))


def segmentation_scores(pred_labels: npt.ArrayLike, true_labels: npt.ArrayLike,
                        iou_threshold: float = 0.5, *,
                        matching: Matching | None = None) -> dict[str, Any]:
    """Object-level segmentation scores over all frames.

    A true positive is a pair of :func:`match_labels`; every other predicted
    object is a false positive, every other true object a false negative.

    Parameters
    ----------
    pred_labels, true_labels
        ``(T, Y, X)`` (or ``(Y, X)``) label stacks of the same shape.
    iou_threshold
        See :func:`match_labels`.
    matching
        A matching of these stacks, if already computed.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``; ``mean_iou`` (over the true
        positives; NaN without any); counts ``tp``, ``fp``, ``fn``; and the
        ``iou_threshold``.

    Examples
    --------
    >>> true = np.array([[1, 1, 1, 0, 2, 2]])
    >>> pred = np.array([[5, 5, 0, 0, 7, 0]])
    >>> s = segmentation_scores(pred, true)
    >>> s["tp"], s["fp"], s["fn"], s["precision"], s["recall"]
    (1, 1, 1, 0.5, 0.5)
    """
    if matching is None:
        matching = match_labels(pred_labels, true_labels, iou_threshold)
    tp = len(matching.frame)
    fp = int(matching.n_pred.sum()) - tp
    fn = int(matching.n_true.sum()) - tp
    return {**_prf(tp, fp, fn),
            "mean_iou": float(matching.iou.mean()) if tp else math.nan,
            "iou_threshold": matching.iou_threshold}


def find_divisions(labels: npt.ArrayLike, mothers: Mothers) -> list[Division]:
    """Divisions of a lineage as seen in a label stack.

    A division is ``(frame, mother, daughter)`` for every cell with a mother
    that appears in `labels`, ``frame`` being its first frame there.

    Examples
    --------
    >>> labels = np.array([[[1, 0, 0]], [[1, 0, 2]], [[1, 3, 2]]])
    >>> find_divisions(labels, {1: None, 2: 1, 3: 2})
    [(1, 1, 2), (2, 2, 3)]
    """
    presence = _presence(_stack(labels, "labels"))
    first = _first_frames(presence)
    out = [(first[cell], int(mother), int(cell))
           for cell, mother in mothers.items()
           if mother is not None and cell in first]
    return sorted(out)


def link_errors(pred_labels: npt.ArrayLike, pred_mothers: Mothers,
                true_labels: npt.ArrayLike, true_mothers: Mothers, *,
                iou_threshold: float = 0.5,
                matching: Matching | None = None) -> dict[str, Any]:
    """Frame-to-frame tracking errors of a prediction.

    A *link* joins an object on frame ``t - 1`` to one on frame ``t``: a
    *continuation* links the two objects of one cell on consecutive frames,
    a *division* link joins a mother on ``t - 1`` to its daughter on the
    daughter's first frame ``t``. Links come from the labels (which cells
    are on which frame) and the lineage dicts.

    Every true link is checked through the object matching
    (:func:`match_labels`): it is *correct* when both its objects are
    matched and the prediction links their partners the same way (a
    continuation by the same predicted label on both frames, a division by
    the predicted lineage making the partner on ``t`` a daughter, first
    seen on ``t``, of the partner on ``t - 1``). Otherwise it is
    *unmatched* (an end has no partner: a segmentation error) or *wrong*
    (both ends have partners, not linked that way; a mother/daughter swap
    makes two wrong links). A predicted link whose counterpart is not a
    true link of the same kind is *spurious*. Since the matching is one to
    one, correct true links and correct predicted links are the same number.

    Parameters
    ----------
    pred_labels, pred_mothers
        Predicted label stack and lineage.
    true_labels, true_mothers
        True label stack and lineage.
    iou_threshold
        See :func:`match_labels`.
    matching
        A matching of these stacks, if already computed.

    Returns
    -------
    dict
        ``true_links`` (of which ``true_division_links``), ``correct``,
        ``unmatched``, ``wrong``, ``division_link_errors`` (true division
        links not correct), ``link_error_rate`` = (unmatched + wrong) /
        true_links (0.0 without true links), ``pred_links``, ``spurious``
        and ``spurious_rate`` = spurious / pred_links (0.0 without predicted
        links).

    Examples
    --------
    Two cells, tracked perfectly, then with swapped labels on frame 2:

    >>> true = np.array([[[1, 0, 2]]] * 3)
    >>> r = link_errors(true, {}, true, {})
    >>> r["true_links"], r["correct"], r["link_error_rate"]
    (4, 4, 0.0)
    >>> pred = true.copy()
    >>> pred[2] = [[2, 0, 1]]
    >>> r = link_errors(pred, {}, true, {})
    >>> r["wrong"], r["spurious"], r["link_error_rate"]
    (2, 2, 0.5)
    """
    pred, true = _stacks(pred_labels, true_labels)
    if matching is None:
        matching = match_labels(pred, true, iou_threshold)
    true_links = _links(true, true_mothers)
    pred_links = _links(pred, pred_mothers)
    lookup = matching.true_to_pred()
    prev = np.array([lookup.get((t - 1, a), 0) for t, a in
                     zip(true_links[:, 0].tolist(), true_links[:, 1].tolist())],
                    np.int64)
    cur = np.array([lookup.get((t, b), 0) for t, b in
                    zip(true_links[:, 0].tolist(), true_links[:, 2].tolist())],
                   np.int64)
    matched = (prev > 0) & (cur > 0)
    mapped = np.stack([true_links[:, 0], prev, cur, true_links[:, 3]], axis=1)
    correct = matched & _rows_in(mapped, pred_links)
    is_division = true_links[:, 3] == 1
    n_true, n_pred, n_correct = len(true_links), len(pred_links), int(correct.sum())
    return {
        "true_links": n_true, "true_division_links": int(is_division.sum()),
        "correct": n_correct, "unmatched": int((~matched).sum()),
        "wrong": int((matched & ~correct).sum()),
        "division_link_errors": int((is_division & ~correct).sum()),
        "link_error_rate": (n_true - n_correct) / n_true if n_true else 0.0,
        "pred_links": n_pred, "spurious": n_pred - n_correct,
        "spurious_rate": (n_pred - n_correct) / n_pred if n_pred else 0.0,
    }


def division_scores(pred_divisions: Iterable[Sequence[int]],
                    true_divisions: Iterable[Sequence[int]], tolerance: int = 1,
                    *, matching: Matching | None = None) -> dict[str, Any]:
    """Precision, recall and F1 of detected divisions.

    A predicted division ``(tp, Mp, Dp)`` matches a true one ``(tt, Mt,
    Dt)`` when ``|tp - tt| <= tolerance`` and the cells correspond: the
    daughters are paired on frame ``max(tp, tt)`` (the first frame both
    exist) and the mothers on frame ``min(tp, tt) - 1`` (the last frame
    neither has divided). Without a `matching`, cells correspond when they
    have the same identifier. Each division is matched at most once,
    closest frames first.

    Parameters
    ----------
    pred_divisions, true_divisions
        ``(frame, mother, daughter)`` triples (see :func:`find_divisions`).
    tolerance
        Largest frame difference of a match (>= 0).
    matching
        Object matching of the predicted and the true labels.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn`` and
        ``tolerance_frames``.

    Examples
    --------
    >>> division_scores([(5, 1, 3), (9, 2, 4)], [(6, 1, 3)])["precision"]
    0.5
    >>> division_scores([(5, 1, 3)], [(6, 1, 3)], tolerance=0)["f1"]
    0.0
    """
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ValueError(f"tolerance must be an integer >= 0, got {tolerance!r}")
    pred = [tuple(int(v) for v in d) for d in pred_divisions]
    true = [tuple(int(v) for v in d) for d in true_divisions]
    lookup = matching.pred_to_true() if matching is not None else None

    def corresponds(p: Division, t: Division) -> bool:
        if lookup is None:
            return p[1:] == t[1:]
        late, early = max(p[0], t[0]), min(p[0], t[0]) - 1
        return (lookup.get((late, p[2])) == t[2]
                and lookup.get((early, p[1])) == t[1])

    by_frame: dict[int, list[int]] = {}
    for k, t in enumerate(true):
        by_frame.setdefault(t[0], []).append(k)
    candidates = sorted(
        (abs(p[0] - true[k][0]), i, k)
        for i, p in enumerate(pred)
        for frame in range(p[0] - tolerance, p[0] + tolerance + 1)
        for k in by_frame.get(frame, ()) if corresponds(p, true[k]))
    used_pred: set[int] = set()
    used_true: set[int] = set()
    for _, i, k in candidates:
        if i not in used_pred and k not in used_true:
            used_pred.add(i)
            used_true.add(k)
    tp = len(used_pred)
    return {**_prf(tp, len(pred) - tp, len(true) - tp),
            "tolerance_frames": int(tolerance)}


def growth_rate_error(pred: Any, truth: Any, *,
                      matching: Matching | None = None) -> dict[str, Any]:
    """Relative error of predicted growth rates.

    Parameters
    ----------
    pred, truth
        Growth rates per cell and frame: a 2-D array indexed ``[cellid,
        frame]`` (like ``MovieTruth.growth_rate``) or a mapping ``{cellid:
        {frame: rate}}``; NaN or absent where undefined.
    matching
        Object matching: compares each true object with its predicted
        partner. Without it, cell identifiers are taken to be the same.

    Returns
    -------
    dict
        ``median_relative_error`` and ``mean_relative_error`` of
        ``|pred - true| / |true|`` over the objects where both are defined
        (and the true rate is not 0), and their number ``n`` (NaN errors
        when ``n`` is 0).

    Examples
    --------
    >>> truth = {1: {0: 0.02, 1: 0.02}, 2: {1: 0.04}}
    >>> pred = {1: {0: 0.021, 1: float("nan")}, 2: {1: 0.03}}
    >>> r = growth_rate_error(pred, truth)
    >>> r["n"], round(r["median_relative_error"], 3)
    (2, 0.15)
    """
    p_table, t_table = _rate_table(pred, "pred"), _rate_table(truth, "truth")
    if matching is None:
        cells, frames = np.nonzero(np.isfinite(t_table))
        p_cells = cells
    else:
        cells, frames, p_cells = matching.true_id, matching.frame, matching.pred_id
    true_values = _lookup(t_table, cells, frames)
    pred_values = _lookup(p_table, p_cells, frames)
    ok = np.isfinite(true_values) & np.isfinite(pred_values) & (true_values != 0)
    rel = np.abs(pred_values[ok] - true_values[ok]) / np.abs(true_values[ok])
    return {"median_relative_error": float(np.median(rel)) if rel.size else math.nan,
            "mean_relative_error": float(rel.mean()) if rel.size else math.nan,
            "n": int(rel.size)}


def evaluate(pred_labels: npt.ArrayLike, pred_mothers: Mothers, truth: TruthLike,
             *, pred_growth_rate: Any = None, tolerance: int = 1,
             iou_threshold: float = 0.5) -> dict[str, Any]:
    """Score a segmentation, tracking and lineage result against the truth.

    Parameters
    ----------
    pred_labels, pred_mothers
        Predicted label stack and lineage.
    truth
        Anything with ``labels`` and ``mothers`` (and ``growth_rate`` to
        score `pred_growth_rate`), e.g. a ``MovieTruth``.
    pred_growth_rate
        Predicted growth rates (see :func:`growth_rate_error`), optional.
    tolerance
        Of :func:`division_scores` [frames].
    iou_threshold
        Of :func:`match_labels`.

    Returns
    -------
    dict
        ``segmentation``, ``links`` and ``divisions`` (the dicts of
        :func:`segmentation_scores`, :func:`link_errors` and
        :func:`division_scores`) and ``growth_rate``
        (:func:`growth_rate_error`, or None).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> labels = np.array([[[1, 1, 0, 0]], [[1, 0, 2, 2]]])
    >>> truth = SimpleNamespace(labels=labels, mothers={1: None, 2: 1})
    >>> result = evaluate(labels, {2: 1}, truth)
    >>> result["segmentation"]["f1"], result["links"]["link_error_rate"]
    (1.0, 0.0)
    """
    true = _stack(truth.labels, "truth.labels")
    pred = _stack(pred_labels, "pred_labels")
    matching = match_labels(pred, true, iou_threshold)
    result: dict[str, Any] = {
        "segmentation": segmentation_scores(pred, true, matching=matching),
        "links": link_errors(pred, pred_mothers, true, truth.mothers,
                             matching=matching),
        "divisions": division_scores(find_divisions(pred, pred_mothers),
                                     find_divisions(true, truth.mothers),
                                     tolerance, matching=matching),
        "growth_rate": None,
    }
    if pred_growth_rate is not None:
        true_rate = getattr(truth, "growth_rate", None)
        if true_rate is None:
            raise ValueError("truth has no growth_rate to compare "
                             "pred_growth_rate with")
        result["growth_rate"] = growth_rate_error(pred_growth_rate, true_rate,
                                                  matching=matching)
    return result


def position_results(position: Any, frames: Sequence[int] | None = None, *,
                     feature: str = "length"
                     ) -> tuple[np.ndarray, Mothers, dict[int, dict[int, float]]]:
    """A Position's results as one label stack with ids unique across regions.

    Parameters
    ----------
    position
        A :class:`~cytolab.timelapse.position.Position` (regions with
        lineages and label stacks).
    frames
        Frames to draw (default: all of the position).
    feature
        Growth rates of this feature (``"length"`` or ``"area"``).

    Returns
    -------
    labels : ndarray
        ``(T, Y, X)`` uint32 labels on the original frames (corrections
        undone); region ``k``'s cell ``c`` becomes ``offset_k + c``.
    mothers : dict
        ``{cellid: motherid or None}`` in the same ids.
    growth_rate : dict
        ``{cellid: {frame: rate}}`` (``growthrate_<feature>``, NaN where
        undefined).
    """
    frames = list(position.frames if frames is None else frames)
    shape = tuple(position.frame_shape or (0, 0))
    labels = np.zeros((len(frames), *shape), dtype=np.uint32)
    mothers: dict[int, int | None] = {}
    rates: dict[int, dict[int, float]] = {}
    offset = 0
    for roi in position.rois:
        for i, frame in enumerate(frames):
            roi_lab = position.roi_labels(roi, frame).astype(np.uint32)
            labels[i] = np.where(roi_lab > 0, roi_lab + offset, labels[i])
        for cid, cell in roi.lineage.cells.items():
            mothers[cid + offset] = (None if cell.motherid is None
                                     else cell.motherid + offset)
            rates[cid + offset] = {f: float(getattr(cell.features(f),
                                                    f"growthrate_{feature}"))
                                   for f in cell.frames}
        offset += max(roi.lineage.cells, default=0)
    return labels, mothers, rates


def evaluate_position(position: Any, truth: Any, *, feature: str = "length",
                      tolerance: int = 1, iou_threshold: float = 0.5,
                      founder_divisions: str = "either") -> dict[str, Any]:
    """:func:`evaluate` a pipeline's Position against a simulated truth.

    Its frames are those of the truth; growth rates of `feature` are scored
    against ``truth.growth_rate``. Only what the position's regions show is
    scored (:func:`restrict_truth`). With ``founder_divisions="either"``
    the first division of a cell present from the first frame counts either
    way round (:func:`align_founder_divisions`: which of its poles is older
    cannot be seen); ``"strict"`` scores the simulator's choice.

    Examples
    --------
    >>> from cytolab.simulate import simulate_mothermachine
    >>> from cytolab.timelapse.truth import position_from_truth
    >>> truth = simulate_mothermachine(10, 2, seed=3)
    >>> r = evaluate_position(position_from_truth(truth), truth)
    >>> r["segmentation"]["f1"], r["links"]["link_error_rate"], r["divisions"]["f1"]
    (1.0, 0.0, 1.0)
    """
    frames = range(len(truth.labels))
    labels, mothers, rates = position_results(position, frames, feature=feature)
    truth = restrict_truth(truth, region_masks(position, frames))
    labels = _drop_ignored(labels, truth.ignored)
    if founder_divisions == "either":
        truth = align_founder_divisions(labels, truth, iou_threshold)
    elif founder_divisions != "strict":
        raise ValueError(f"founder_divisions must be 'either' or 'strict', got "
                         f"{founder_divisions!r}")
    return evaluate(labels, mothers, truth, pred_growth_rate=rates,
                    tolerance=tolerance, iou_threshold=iou_threshold)


def align_founder_divisions(pred_labels: npt.ArrayLike, truth: Any,
                            iou_threshold: float = 0.5) -> Any:
    """The truth with each founder's first division oriented as predicted.

    The mother of a division is the cell that keeps the old pole. For a
    cell on the first frame that has not divided yet (a *founder*) no movie
    can tell which pole is older, so its first division may be recorded
    either way round. Where the prediction continues the founder as the
    true daughter (and makes the true mother the new cell), this returns
    the truth with those two identities swapped from the division on
    (labels, mothers of later cells, growth rates, ...); all other
    divisions are scored as they are.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> true = np.array([[[1, 1, 1, 0]], [[1, 0, 2, 0]]])
    >>> truth = SimpleNamespace(labels=true, mothers={1: None, 2: 1})
    >>> pred = np.array([[[1, 1, 1, 0]], [[2, 0, 1, 0]]])  # swapped
    >>> align_founder_divisions(pred, truth).labels[1].tolist()
    [[2, 0, 1, 0]]
    """
    true = _stack(truth.labels, "truth.labels")
    pred = _stack(pred_labels, "pred_labels")
    lookup = match_labels(pred, true, iou_threshold).true_to_pred()
    founders = set(np.unique(true[0]).tolist()) - {0}
    first_division: dict[int, tuple[int, int]] = {}
    for frame, mother, daughter in sorted(find_divisions(true, truth.mothers)):
        if mother in founders and mother not in first_division:
            first_division[mother] = (frame, daughter)
    swaps = []
    for mother, (frame, daughter) in first_division.items():
        before = lookup.get((frame - 1, mother))
        as_mother = lookup.get((frame, mother))
        as_daughter = lookup.get((frame, daughter))
        if before and as_daughter == before and as_mother != before:
            swaps.append((frame, mother, daughter))
    if not swaps:
        return truth
    aligned = copy.copy(truth)
    labels = true.copy()
    mothers = dict(truth.mothers)
    growth = getattr(truth, "growth_rate", None)
    growth = None if growth is None else np.array(growth, dtype=float)
    for frame, a, b in swaps:
        later = labels[frame:]
        was_a = later == a
        later[later == b] = a
        later[was_a] = b
        born_later = {c for t in range(frame + 1, len(labels))
                      for c in np.unique(labels[t]).tolist()
                      if c and not np.any(labels[:t] == c)}
        for cell in born_later:
            if mothers.get(cell) in (a, b):
                mothers[cell] = b if mothers[cell] == a else a
        if growth is not None and max(a, b) < len(growth):
            growth[[a, b], frame:] = growth[[b, a], frame:]
    aligned.labels, aligned.mothers = labels, mothers
    if growth is not None:
        aligned.growth_rate = growth
    return aligned


class _Area:
    """Stands for a region whose every pixel is labelled 1."""

    def __init__(self, roi: Any) -> None:
        self.box, self.frames = roi.box, roi.frames

    def get_labels(self, frame: int) -> np.ndarray:
        return np.ones(self.box.shape, dtype=np.uint16)


def region_masks(position: Any, frames: Iterable[int]) -> np.ndarray:
    """``(T, Y, X)`` bool: the pixels of the original frames that the
    position's regions cover (corrections undone as for its labels)."""
    frames = list(frames)
    masks = np.zeros((len(frames), *(position.frame_shape or (0, 0))), dtype=bool)
    for roi in position.rois:
        area = _Area(roi)
        for i, frame in enumerate(frames):
            masks[i] |= position.roi_labels(area, frame) > 0
    return masks


def restrict_truth(truth: Any, masks: npt.ArrayLike, min_fraction: float = 0.5
                   ) -> Any:
    """The truth as seen inside analysed regions (e.g. mother-machine chambers).

    Objects with less than `min_fraction` of their pixels inside `masks` are
    dropped, the others cut to the masks. A cell keeps its mother only when
    the mother is inside on the frame the cell first is (a division the
    region cannot show, say of a mother being pushed out of a chamber, is
    not scored). Other attributes (``growth_rate``, ...) are kept; the
    attribute ``ignored`` marks the pixels of the dropped objects inside the
    masks (:func:`evaluate_position` ignores predictions lying there).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> labels = np.array([[[1, 1, 0, 0]], [[1, 0, 2, 2]]])
    >>> truth = SimpleNamespace(labels=labels, mothers={1: None, 2: 1})
    >>> masks = np.array([[[True, True, True, False]]] * 2)
    >>> seen = restrict_truth(truth, masks)
    >>> seen.labels.tolist(), seen.mothers
    ([[[1, 1, 0, 0]], [[1, 0, 2, 0]]], {1: None, 2: 1})
    >>> restrict_truth(truth, masks, min_fraction=0.6).labels[1].tolist()
    [[1, 0, 0, 0]]
    """
    labels = _stack(truth.labels, "truth.labels")
    masks = np.broadcast_to(np.asarray(masks, dtype=bool), labels.shape)
    out = np.zeros_like(labels)
    present: set[tuple[int, int]] = set()
    for t in range(len(labels)):
        lab = labels[t].ravel()
        size = np.bincount(lab)
        inside = np.bincount(lab[masks[t].ravel()], minlength=size.size)
        keep = inside >= min_fraction * np.maximum(size, 1)
        keep[0] = False
        out[t] = np.where(masks[t] & keep[labels[t]], labels[t], 0)
        present.update((t, int(c)) for c in np.flatnonzero(keep & (size > 0)))
    first: dict[int, int] = {}
    for t, cell in sorted(present):
        first.setdefault(cell, t)
    mothers = {cell: (mother if mother is not None and cell in first
                      and (first[cell], mother) in present else None)
               for cell, mother in truth.mothers.items()}
    seen = copy.copy(truth)
    seen.labels, seen.mothers = out, mothers
    seen.ignored = masks & (labels > 0) & (out == 0)
    return seen


def _drop_ignored(labels: np.ndarray, ignored: np.ndarray) -> np.ndarray:
    """`labels` without the objects lying mostly on `ignored` pixels (parts
    of cells the truth leaves out: neither a hit nor a false positive)."""
    out = labels.copy()
    for t in range(len(labels)):
        lab = labels[t].ravel()
        size = np.bincount(lab)
        on = np.bincount(lab[ignored[t].ravel()], minlength=size.size)
        drop = on * 2 > size
        drop[0] = False
        out[t][drop[labels[t]]] = 0
    return out


def format_report(result: Mapping[str, Any]) -> str:
    """A short text report of :func:`evaluate`'s result.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> labels = np.array([[[1, 1, 0, 0]], [[1, 0, 2, 2]]])
    >>> truth = SimpleNamespace(labels=labels, mothers={1: None, 2: 1})
    >>> print(format_report(evaluate(labels, {2: 1}, truth)))
    segmentation  precision 1.000  recall 1.000  F1 1.000  mean IoU 1.000  (TP 3, FP 0, FN 0; IoU > 0.5)
    links         error rate 0.000  (0 of 2 true links: 0 unmatched, 0 wrong; 0 of 1 division links)
                  spurious 0 of 2 predicted links (rate 0.000)
    divisions     precision 1.000  recall 1.000  F1 1.000  (TP 1, FP 0, FN 0; tolerance 1 frame)
    """  # noqa: E501
    seg, links, div = result["segmentation"], result["links"], result["divisions"]
    tol = div["tolerance_frames"]
    lines = [
        f"segmentation  {_scores(seg)}  mean IoU {seg['mean_iou']:.3f}  "
        f"(TP {seg['tp']}, FP {seg['fp']}, FN {seg['fn']}; "
        f"IoU > {seg['iou_threshold']:g})",
        f"links         error rate {links['link_error_rate']:.3f}  "
        f"({links['true_links'] - links['correct']} of {links['true_links']} "
        f"true links: {links['unmatched']} unmatched, {links['wrong']} wrong; "
        f"{links['division_link_errors']} of {links['true_division_links']} "
        f"division links)",
        f"              spurious {links['spurious']} of {links['pred_links']} "
        f"predicted links (rate {links['spurious_rate']:.3f})",
        f"divisions     {_scores(div)}  (TP {div['tp']}, FP {div['fp']}, "
        f"FN {div['fn']}; tolerance {tol} frame{'' if tol == 1 else 's'})",
    ]
    rate = result.get("growth_rate")
    if rate is not None:
        lines.append(f"growth rate   median relative error "
                     f"{rate['median_relative_error']:.3f}, mean "
                     f"{rate['mean_relative_error']:.3f}  (n = {rate['n']})")
    return "\n".join(lines)


# --- helpers -------------------------------------------------------------


def _stack(labels: npt.ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"{name} must be a (T, Y, X) or (Y, X) label array, "
                         f"got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels, got {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must not hold negative labels")
    return array


def _stacks(pred_labels: npt.ArrayLike, true_labels: npt.ArrayLike
            ) -> tuple[np.ndarray, np.ndarray]:
    pred = _stack(pred_labels, "pred_labels")
    true = _stack(true_labels, "true_labels")
    if pred.shape != true.shape:
        raise ValueError(f"pred_labels and true_labels differ in shape: "
                         f"{pred.shape} vs {true.shape}")
    return pred, true


def _compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels present (0 first, always) and each pixel's index among them."""
    flat = labels.ravel()
    present = np.bincount(flat) > 0
    present[0] = True
    ids = np.flatnonzero(present)
    lut = np.zeros(len(present), np.int64)
    lut[ids] = np.arange(len(ids))
    return ids, lut[flat]


def _one_to_one(iou: np.ndarray, threshold: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pairs above `threshold`, one to one."""
    rows, cols = np.nonzero(iou > threshold)
    if threshold >= 0.5 or not len(rows):
        return rows, cols
    order = np.lexsort((cols, rows, -iou[rows, cols]))
    used_r: set[int] = set()
    used_c: set[int] = set()
    keep = []
    for k in order.tolist():
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            keep.append(k)
    keep_arr = np.sort(np.array(keep, np.int64))
    return rows[keep_arr], cols[keep_arr]


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else float(fn == 0)
    recall = tp / (tp + fn) if tp + fn else float(fp == 0)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "tp": int(tp), "fp": int(fp), "fn": int(fn)}


def _presence(labels: np.ndarray) -> list[np.ndarray]:
    """Sorted labels (without 0) on each frame."""
    out = []
    for frame in labels:
        ids = np.unique(frame)
        out.append(ids[ids != 0].astype(np.int64))
    return out


def _first_frames(presence: list[np.ndarray]) -> dict[int, int]:
    first: dict[int, int] = {}
    for frame, ids in enumerate(presence):
        for cell in ids.tolist():
            first.setdefault(cell, frame)
    return first


def _links(labels: np.ndarray, mothers: Mothers) -> np.ndarray:
    """``(n, 4)`` int array of links: frame, id on frame - 1, id, kind.

    Kind 0 is a continuation, 1 a division.
    """
    presence = _presence(labels)
    rows = [np.stack([np.full(len(both), t), both, both, np.zeros(len(both), int)],
                     axis=1)
            for t in range(1, len(presence))
            for both in [np.intersect1d(presence[t - 1], presence[t])]]
    rows.append(np.array([(frame, mother, daughter, 1) for frame, mother, daughter
                          in find_divisions(labels, mothers)],
                         np.int64).reshape(-1, 4))
    return np.concatenate(rows).astype(np.int64)


def _rows_in(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each row of `rows` is a row of `table` (int arrays, 4 wide)."""
    if not len(rows) or not len(table):
        return np.zeros(len(rows), bool)
    view = np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))
    return np.isin(np.ascontiguousarray(rows).view(view).ravel(),
                   np.ascontiguousarray(table.astype(rows.dtype)).view(view).ravel())


def _rate_table(rates: Any, name: str) -> np.ndarray:
    """Growth rates as a 2-D float array ``[cellid, frame]``, NaN = unknown."""
    if isinstance(rates, Mapping):
        entries = [(int(c), int(f), float(v)) for c, per_frame in rates.items()
                   for f, v in per_frame.items()]
        if not entries:
            return np.full((0, 0), np.nan)
        cells, frames, values = map(np.array, zip(*entries))
        table = np.full((cells.max() + 1, frames.max() + 1), np.nan)
        table[cells, frames] = values
        return table
    table = np.asarray(rates, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"{name} growth rates must be a 2-D array [cellid, frame] "
                         f"or a mapping {{cellid: {{frame: rate}}}}, got an array "
                         f"of shape {table.shape}")
    return table


def _lookup(table: np.ndarray, cells: np.ndarray, frames: np.ndarray
            ) -> np.ndarray:
    inside = (cells < table.shape[0]) & (frames < table.shape[1])
    out = np.full(len(cells), np.nan)
    out[inside] = table[cells[inside], frames[inside]]
    return out


def _scores(scores: Mapping[str, Any]) -> str:
    return (f"precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
            f"F1 {scores['f1']:.3f}")
