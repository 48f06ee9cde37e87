"""Simulated ground truth as pipeline results.

:func:`position_from_truth` turns a simulated movie's truth (a
:class:`~cytolab.simulate.MovieTruth`) into the :class:`~.position.Position`
a perfect segmentation and tracking would produce: one region per
mother-machine chamber (or the whole frame of an agar pad), the true masks
and labels, and lineages measured from the true labels. It shows what the
outputs look like, gives evaluation and training a reference, and lets the
netCDF, movie and ``.rtdc`` outputs be tested on realistic data.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .boxes import CroppingBox
from .config import Config
from .geometry import correct_drift, rotate
from .measure import roi_features
from .position import Position
from .roi import ROI


def position_from_truth(truth: Any, config: Config | None = None,
                        position_nb: int = 0) -> Position:
    """The :class:`Position` of a perfect pipeline on a simulated movie.

    Parameters
    ----------
    truth
        A :class:`~cytolab.simulate.MovieTruth`.
    config
        Configuration (default: the preset matching the movie).
    position_nb
        Number of the position.

    Returns
    -------
    Position
        Regions with images (corrected for drift and rotation), masks,
        labels and lineages (cell ids renumbered from 1 per region in order
        of appearance), growth rates computed; drift and rotation recorded.
        The truth's drift is along the image axes after its rotation, so
        combining both is exact only up to that order.

    Examples
    --------
    >>> from cytolab.simulate import simulate_mothermachine
    >>> position = position_from_truth(simulate_mothermachine(8, 2, seed=1))
    >>> len(position.rois), position.rois[0].frames
    (2, range(0, 8))
    """
    preset = "mothermachine" if truth.kind == "mothermachine" else "2D"
    config = config or Config.default(preset)
    position = Position(position_nb, config)
    position.frame_shape = tuple(truth.labels.shape[1:])
    position.rotate = -float(truth.rotation)
    position.drift_values = np.asarray(truth.drift, dtype=float)[:, ::-1].copy()
    images = correct_drift(truth.images, position.drift_values[:, None, :])
    labels = correct_drift(truth.labels, position.drift_values)
    if truth.rotation:
        images = rotate(images, position.rotate)
        labels = rotate(labels, position.rotate, order=0)
    if truth.kind == "mothermachine":
        boxes = [CroppingBox(*box) for box in truth.chambers]
        owner = {cid: truth.cell_chamber[cid] for cid in truth.cell_ids}
    else:
        boxes = [CroppingBox.full(truth.labels[0])]
        owner = dict.fromkeys(truth.cell_ids, 0)
    for number, box in enumerate(boxes):
        roi = ROI(box.crop(images), number, 0, box, config)
        cells = [cid for cid in truth.cell_ids if owner[cid] == number]
        _fill_roi(roi, truth, box.crop(labels), cells, box)
        position.rois.append(roi)
    position.compute_growthrates()
    return position


def _fill_roi(roi: ROI, truth: Any, labels: np.ndarray, cells: list[int],
              box: CroppingBox) -> None:
    """Masks, labels (renumbered) and lineage of one region from the truth."""
    order = sorted(cells, key=lambda cid: (truth.first_frame[cid], cid))
    newid: dict[int, int] = {}
    lut = np.zeros(int(truth.labels.max()) + 1, dtype=np.uint16)
    offset = np.array([box.ytl, box.xtl])
    for frame in roi.frames:
        frame_labels = labels[frame]
        present = [cid for cid in order if truth.first_frame[cid] <= frame
                   <= truth.last_frame[cid]]
        poles = {}
        for cid in present:
            old, new = truth.poles[cid, frame]
            poles[cid] = (np.rint(new - offset).astype(np.int16),
                          np.rint(old - offset).astype(np.int16))
        fluo = roi.get_fluo(frame)
        features = roi_features(frame_labels, poles, fluo if len(fluo) else None)
        for cid in present:
            if cid not in features:  # not visible in this region (cut off)
                continue
            if cid in newid:
                roi.lineage.extend(newid[cid], features[cid])
            else:
                mother = newid.get(truth.mothers.get(cid) or -1)
                if mother is not None and frame not in roi.lineage.cells[mother].frames:
                    mother = None  # the mother has left the region already
                newid[cid] = roi.lineage.create(frame, features[cid], mother)
            lut[cid] = newid[cid]
        roi.set_seg(frame, frame_labels > 0)
        roi.set_labels(frame, lut[frame_labels])
