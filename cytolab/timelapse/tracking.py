"""From tracking-network outputs to cell identities and pole ages.

For every cell of the previous frame the tracking U-Net predicts where that
cell (and, after a division, its daughter) lies on the current frame.
:func:`tracking_scores` measures how much each current cell is covered by each
prediction, :func:`attributions` turns the scores into links (a previous cell
continues as one current cell, or divides into two), and :func:`track_poles`
and :func:`division_poles` keep the poles' ages: every cell has an *old* pole
and a *new* pole (made by the most recent division), the mother of a division
is the cell that keeps the old pole.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .boxes import CroppingBox
from .lineage import CellFeatures, Pole
from .measure import eucl

#: Smallest tracking score that can link a previous cell to a current cell.
MIN_SCORE = 0.2


def _outputs(logits: np.ndarray, count: int) -> np.ndarray:
    """Tracking outputs as (previous_cells, H, W) float32."""
    out = np.asarray(logits, dtype=np.float32)
    if out.ndim == 4 and out.shape[-1] == 1:
        out = out[..., 0]
    if out.ndim != 3:
        raise ValueError(f"tracking_scores: logits must have shape "
                         f"(previous_cells, H, W[, 1]), got {np.shape(logits)}")
    if out.shape[0] != count:
        raise ValueError(f"tracking_scores: {out.shape[0]} tracking outputs but "
                         f"{count} boxes")
    return out


def tracking_scores(labels: np.ndarray, logits: np.ndarray,
                    boxes: Sequence[CroppingBox]) -> np.ndarray:
    """How much each current cell is covered by each previous cell's prediction.

    Parameters
    ----------
    labels
        Label image (H, W) of the current frame (not yet tracked): cell
        numbers 1..n, 0 for background.
    logits
        Tracking outputs (previous_cells, h, w) or (previous_cells, h, w, 1),
        values in [0, 1]; output ``i`` covers ``boxes[i]``.
    boxes
        Where each output lies in the frame (:class:`.boxes.CroppingBox` or
        any object with ``xtl``, ``ytl``, ``xbr``, ``ybr``); parts outside
        the frame are ignored. An output's shape must equal its box's size.

    Returns
    -------
    numpy.ndarray
        float32 scores (previous_cells, n): entry ``[i, j]`` is the mean of
        output ``i`` over the pixels of current cell ``j + 1`` (0 for cell
        numbers absent from `labels`).

    Examples
    --------
    >>> import numpy as np
    >>> from cytolab.timelapse.boxes import CroppingBox
    >>> labels = np.array([[1, 1, 0, 2, 2]], dtype=np.uint16)
    >>> logits = np.array([[[1.0, 0.5, 0.0, 0.0, 0.0]],
    ...                    [[0.0, 0.0, 0.0, 1.0, 1.0]]])
    >>> box = CroppingBox(xtl=0, ytl=0, xbr=5, ybr=1)
    >>> tracking_scores(labels, logits, [box, box])
    array([[0.75, 0.  ],
           [0.  , 1.  ]], dtype=float32)
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.dtype.kind not in "ui":
        raise ValueError(f"tracking_scores: labels must be a 2-D integer image, "
                         f"got shape {lab.shape} and dtype {lab.dtype}")
    out = _outputs(logits, len(boxes))
    ncells = int(lab.max(initial=0))
    areas = np.bincount(lab.ravel(), minlength=ncells + 1)[1:]
    scores = np.zeros((len(boxes), ncells), dtype=np.float32)
    for i, box in enumerate(boxes):
        box = CroppingBox(xtl=box.xtl, ytl=box.ytl, xbr=box.xbr, ybr=box.ybr)
        if out.shape[1:] != box.shape:
            raise ValueError(f"tracking_scores: output {i} has shape "
                             f"{out.shape[1:]} but its box has size {box.shape}")
        # outside the frame the crop is background (0), which is not counted
        sums = np.bincount(box.crop(lab).ravel(), weights=out[i].ravel(),
                           minlength=ncells + 1)[1:]
        scores[i] = sums / np.maximum(areas, 1)
    return scores


def attributions(scores: np.ndarray, min_score: float = MIN_SCORE) -> np.ndarray:
    """Link previous cells (rows) to current cells (columns).

    Rules: a previous cell can only be linked to its two best-scoring current
    cells (a cell continues, or divides into two), and only where the score
    is at least `min_score`. A current cell is linked to at most one previous
    cell: of the previous cells that may be linked to it, the one with the
    highest score. Ties go to the lower index.

    Parameters
    ----------
    scores
        Scores (previous_cells, current_cells) from :func:`tracking_scores`.
    min_score
        Smallest score that can make a link.

    Returns
    -------
    numpy.ndarray
        bool (previous_cells, current_cells): True where linked. Each row has
        0 (the cell vanished), 1 or 2 (a division) True entries, each column
        0 (a new cell) or 1.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[0.9, 0.8, 0.0],
    ...                    [0.0, 0.9, 0.1]])
    >>> attributions(scores).astype(int)
    array([[1, 0, 0],
           [0, 1, 0]])
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"attributions: scores must be 2-D, got shape {s.shape}")
    attrib = np.zeros(s.shape, dtype=bool)
    if s.size == 0:
        return attrib
    ranked = np.argsort(-s, axis=1, kind="stable")[:, :2]
    top_two = np.zeros(s.shape, dtype=bool)
    top_two[np.arange(s.shape[0])[:, np.newaxis], ranked] = True
    allowed = top_two & (s >= min_score)
    best_previous = np.argmax(np.where(allowed, s, -np.inf), axis=0)
    linked = np.flatnonzero(allowed.any(axis=0))
    attrib[best_previous[linked], linked] = True
    return attrib


def _old_first(prev_old: Pole, prev_new: Pole) -> bool:
    """Tie-break that flips when `prev_old` and `prev_new` are exchanged."""
    return tuple(np.asarray(prev_old).tolist()) < tuple(np.asarray(prev_new).tolist())


def _swapped(features: CellFeatures) -> CellFeatures:
    return dataclasses.replace(features, new_pole=features.old_pole,
                               old_pole=features.new_pole)


def track_poles(features: CellFeatures, prev_old: Pole, prev_new: Pole
                ) -> CellFeatures:
    """Give a cell's poles the ages of the nearest poles on the previous frame.

    Parameters
    ----------
    features
        Features of the cell on the current frame, whose ``new_pole`` and
        ``old_pole`` may be the wrong way round.
    prev_old, prev_new
        The cell's old and new pole on the previous frame.

    Returns
    -------
    CellFeatures
        A copy of `features` whose poles are ordered so that the summed
        distance old-to-`prev_old` plus new-to-`prev_new` is the smallest.
        Exchanging `prev_old` and `prev_new` exchanges the returned poles
        (on a tie as well, as long as ``prev_old != prev_new``).

    Examples
    --------
    >>> import numpy as np
    >>> from cytolab.timelapse.lineage import CellFeatures
    >>> feats = CellFeatures(new_pole=np.array([10, 5], np.int16),
    ...                      old_pole=np.array([40, 5], np.int16))
    >>> tracked = track_poles(feats, prev_old=np.array([11, 5]),
    ...                       prev_new=np.array([38, 5]))
    >>> tracked.old_pole.tolist(), tracked.new_pole.tolist()
    ([10, 5], [40, 5])
    """
    keep = (eucl(features.old_pole, prev_old)
            + eucl(features.new_pole, prev_new))
    swap = (eucl(features.new_pole, prev_old)
            + eucl(features.old_pole, prev_new))
    if keep < swap or (keep == swap and _old_first(prev_old, prev_new)):
        return dataclasses.replace(features)
    return _swapped(features)


def _nearest(features: CellFeatures, target: Pole) -> float:
    return min(eucl(features.new_pole, target),
               eucl(features.old_pole, target))


def _old_pole_near(features: CellFeatures, target: Pole) -> CellFeatures:
    """Copy of `features` with the pole nearest `target` as the old pole."""
    if eucl(features.old_pole, target) <= eucl(features.new_pole, target):
        return dataclasses.replace(features)
    return _swapped(features)


def division_poles(features1: CellFeatures, features2: CellFeatures,
                   prev_old: Pole, prev_new: Pole
                   ) -> tuple[CellFeatures, CellFeatures, bool]:
    """Tell mother from daughter after a division, and order their poles.

    The mother keeps the old pole of the dividing cell, the daughter gets its
    new pole; both get a new pole where they split.

    Parameters
    ----------
    features1, features2
        Features of the two cells on the frame of the division (poles in
        any order).
    prev_old, prev_new
        Old and new pole of the dividing cell on the previous frame.

    Returns
    -------
    mother, daughter : CellFeatures
        Copies of the two features with ordered poles: each cell's old pole
        is its pole nearest `prev_old` (mother) or `prev_new` (daughter).
    first_cell_is_mother : bool
        True if `features1` is the mother: the cell with a pole near
        `prev_old` (with the other cell's pole near `prev_new`).

    Notes
    -----
    Exchanging `prev_old` and `prev_new` exchanges mother and daughter
    (on a tie as well, as long as ``prev_old != prev_new``); the poles of
    each cell stay as they were ordered.

    Examples
    --------
    >>> import numpy as np
    >>> from cytolab.timelapse.lineage import CellFeatures
    >>> def rod(new, old):  # a vertical cell in column 5
    ...     return CellFeatures(new_pole=np.array([new, 5], np.int16),
    ...                         old_pole=np.array([old, 5], np.int16))
    >>> upper, lower = rod(2, 18), rod(22, 40)
    >>> mother, daughter, first = division_poles(
    ...     upper, lower, prev_old=np.array([41, 5]), prev_new=np.array([1, 5]))
    >>> first, mother.old_pole.tolist(), daughter.old_pole.tolist()
    (False, [40, 5], [2, 5])
    """
    first_mother = _nearest(features1, prev_old) + _nearest(features2, prev_new)
    second_mother = _nearest(features2, prev_old) + _nearest(features1, prev_new)
    first_is_mother = first_mother < second_mother or (
        first_mother == second_mother and _old_first(prev_old, prev_new))
    mother, daughter = ((features1, features2) if first_is_mother
                        else (features2, features1))
    return (_old_pole_near(mother, prev_old), _old_pole_near(daughter, prev_new),
            first_is_mother)
