"""Segmentation and tracking of a region of interest with the U-Nets.

The functions here do the work of the :class:`~.roi.ROI` methods of the same
names (the methods only delegate). Both presets work on the images of a
region, ``roi.get_img(frame)``:

Segmentation (``models.seg``)
    *Mother machine*: a chamber crop is resized to the network input
    (``target_size``) when :meth:`~.config.ModelConfig.resizing_tolerable`,
    else cut into overlapping windows of that size. *2D*: the whole frame is
    cut into windows of the input size (never resized: cells must keep the
    pixel size the network learned). Outputs go back to the region's size
    (resized, or stitched with :func:`~.tiling.stitch_pic`), are thresholded
    at 0.5 and cleaned (:func:`~.labels.postprocess`: opening of resized
    outputs, objects below ``min_area`` removed). :func:`segment` predicts
    many frames per call of the model (:func:`~.runtime.chunks_predict`).

Tracking (``models.track``)
    For frame ``t`` the network gets one input per cell of frame ``t - 1``
    (cells from top to bottom, as :func:`~.labels.cells_in_frame` orders
    them), with the channels previous image, that cell's mask at ``t - 1``,
    current image and all cells at ``t``. *Mother machine*: the whole region
    resized to the input size. *2D*: a window of the input size centred on
    the cell (:meth:`~.boxes.CroppingBox.tracking_box`, zero-padded outside
    the frame). The two outputs (the cell and its daughter at ``t``) are
    merged (maximum), scored against the cells at ``t``
    (:func:`~.tracking.tracking_scores`) and turned into links
    (:func:`~.tracking.attributions`): a cell linked to one current cell
    continues, to two divides (the mother keeps the old pole,
    :func:`~.tracking.division_poles`), current cells linked to none are new
    cells without mother (the first frame, cells entering the field of
    view, lost tracks). Cells are measured with
    :func:`~.measure.roi_features` and the label image of ``t`` is written
    with the lineage's cell ids.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _progress
from .boxes import CroppingBox
from .config import Config, ModelConfig
from .images import resize_image, resize_mask
from .labels import cells_in_frame, label_seg, postprocess
from .lineage import CellFeatures, Lineage
from .measure import find_poles, roi_features
from .runtime import chunks_predict, load_model
from .tiling import create_windows, stitch_pic
from .tracking import attributions, division_poles, track_poles, tracking_scores

if TYPE_CHECKING:  # pragma: no cover
    from .roi import ROI

__all__ = [
    "get_segmentation_inputs",
    "get_tracking_inputs",
    "process_segmentation_outputs",
    "process_tracking_outputs",
    "segment",
    "segment_frames",
    "track",
]

#: Largest overlap [px] of segmentation windows (less for small windows)
MIN_OVERLAP = 24

#: Windows of a segmentation input: ``(loc_y, loc_x)`` of :func:`create_windows`
Windows = tuple[np.ndarray, np.ndarray]

#: Side [px] of the square opening that cleans segmentation masks: 3 px
#: removes speckles but keeps the rounded poles of 10 px wide cells, whose
#: sub-pixel size (and so the growth rates) a 5 px square would blur (on
#: simulated mother machines: 2.6 % instead of 3.8 % median growth-rate
#: error, with the same object F1 of 1.0)
OPENING = 3



# ------------------------------------------------------------------ helpers
def is_mothermachine(config: Config) -> bool:
    """Whether `config` processes mother-machine chambers (else 2D frames).

    The segmentation model's ``default_model`` presets decide; without one,
    a configuration with a ``rois`` model is a mother machine.
    """
    default = config.models["seg"].default_model if "seg" in config.models else None
    if default is not None:
        return default[0] == "mothermachine"
    return "rois" in config.models


def _model_config(roi: ROI, name: str) -> ModelConfig:
    try:
        return roi.config.models[name]
    except KeyError:
        raise ValueError(f"ROI {roi.roi_nb}: the configuration has no '{name}' "
                         f"model (models: {', '.join(roi.config.models)})") from None


def resolve_model(config: Config, name: str, model: Any = None) -> Any:
    """`model` ready to predict; None loads ``config.models[name].model()``
    with the threads of ``config.backends["onnx"]``."""
    backend = config.backends.get("onnx")
    threads = backend.number_of_cores if backend is not None else None
    if model is None:
        return load_model(config.models[name].model(), threads=threads)
    return load_model(model, threads=threads)


def _frames(roi: ROI, frames: Iterable[int]) -> list[int]:
    out = [int(f) for f in frames]
    for frame in out:
        roi._index(frame)  # IndexError naming the region's frames
    return out


def _index(roi: ROI, frame: int) -> int:
    return roi._index(int(frame))


def _overlap(target_size: tuple[int, int]) -> int:
    return min(MIN_OVERLAP, min(target_size) // 2)


def _first_channel(outputs: Any, what: str) -> np.ndarray:
    """``(n, y, x)`` float32: channel 0 of NHWC network outputs."""
    out = np.asarray(outputs, dtype=np.float32)
    if out.ndim == 3:
        return out
    if out.ndim != 4:
        raise ValueError(f"{what} must have shape (n, y, x, channels), got "
                         f"{out.shape}")
    return out[..., 0]


# ------------------------------------------------------------- segmentation
def get_segmentation_inputs(roi: ROI, frame: int
                            ) -> tuple[np.ndarray, Windows | None]:
    """Inputs of the segmentation network for one frame of a region.

    Parameters
    ----------
    roi
        The region.
    frame
        Frame number.

    Returns
    -------
    x : numpy.ndarray
        float32 ``(n, *target_size, 1)``: the resized region (n = 1) or its
        windows.
    windows : (loc_y, loc_x) or None
        Window bounds (:func:`~.tiling.create_windows`), None if resized.

    Raises
    ------
    ValueError
        2D frames smaller than the network input (the message names the
        configuration key to change).
    """
    cfg = _model_config(roi, "seg")
    image = roi.get_img(frame)
    if is_mothermachine(roi.config):
        if cfg.resizing_tolerable(image.shape):
            resized = resize_image(image, cfg.target_size)
            return resized[np.newaxis, :, :, np.newaxis], None
    elif image.shape[0] < cfg.target_size[0] or image.shape[1] < cfg.target_size[1]:
        raise ValueError(
            f"ROI {roi.roi_nb}: frames of {image.shape[0]}x{image.shape[1]} px are "
            f"smaller than the segmentation network input of "
            f"{cfg.target_size[0]}x{cfg.target_size[1]} px; 2D frames are cut "
            f"into tiles, not resized. Set 'models.seg.target_size' to at most "
            f"the frame size (multiples of 8), e.g. config.update("
            f"'models.seg.target_size', {tuple(s // 8 * 8 for s in image.shape)})")
    windows, loc_y, loc_x = create_windows(image, cfg.target_size,
                                           _overlap(cfg.target_size))
    return windows[..., np.newaxis].astype(np.float32, copy=False), (loc_y, loc_x)


def process_segmentation_outputs(roi: ROI, outputs: Any, frame: int,
                                 windows: Windows | None = None) -> None:
    """Store the mask of `frame` from the segmentation network's outputs.

    Parameters
    ----------
    roi
        The region (its ``seg_stack`` and ``segmented`` are updated).
    outputs
        ``(n, y, x, 1)`` probabilities for the inputs of
        :func:`get_segmentation_inputs`.
    frame
        Frame number.
    windows
        As returned with the inputs: None for one resized input.
    """
    cfg = _model_config(roi, "seg")
    prob = _first_channel(outputs, "Segmentation outputs")
    shape = roi.get_img(frame).shape
    min_size = cfg.min_area or None
    if windows is None:
        if len(prob) != 1:
            raise ValueError(f"ROI {roi.roi_nb}, frame {frame}: {len(prob)} "
                             f"segmentation outputs without windows (expected 1)")
        mask = postprocess(resize_image(prob[0], shape), square_size=OPENING,
                           min_size=min_size)
    else:
        mask = postprocess(stitch_pic(prob, *windows), square_size=OPENING,
                           min_size=min_size, crop=True)
    roi.set_seg(frame, np.asarray(mask).reshape(shape))


def segment(roi: ROI, frames: Iterable[int], model: Any = None) -> None:
    """Segment frames of a region: fills ``seg_stack``.

    The inputs of consecutive frames are gathered into groups of at least
    ``chunk_size`` inputs (the whole movie of a chamber usually) and each
    group is predicted with :func:`~.runtime.chunks_predict`, so that the
    model is called once per chunk, not once per frame.

    Parameters
    ----------
    roi
        The region.
    frames
        Frame numbers.
    model
        Anything :func:`~.runtime.load_model` takes; None: the model of
        ``roi.config.models["seg"]``.
    """
    frames = _frames(roi, frames)
    if frames:
        segment_frames([(roi, frame) for frame in frames],
                       resolve_model(roi.config, "seg", model),
                       _model_config(roi, "seg"))


def segment_frames(jobs: Iterable[tuple[ROI, int]], model: Any, cfg: ModelConfig,
                   done: Callable[[int], Any] | None = None) -> None:
    """Segment (region, frame) pairs, many per call of the model.

    The inputs of consecutive pairs (of one region or of several, e.g. all
    chambers of a position) are gathered until they reach ``cfg.chunk_size``
    and predicted together with :func:`~.runtime.chunks_predict`; each
    region then gets its outputs. `done` is called with the number of pairs
    finished after every call of the model (e.g. a progress bar's
    ``update``).
    """
    group: list[tuple[ROI, int, np.ndarray, Windows | None]] = []

    def flush() -> None:
        outputs = chunks_predict(np.concatenate([x for _, _, x, _ in group]), model,
                                 cfg.chunk_size, cfg.batch_size)
        start = 0
        for roi, frame, x, windows in group:
            process_segmentation_outputs(roi, outputs[start:start + len(x)], frame,
                                         windows)
            start += len(x)
        if done is not None:
            done(len(group))
        group.clear()

    count = 0
    for roi, frame in jobs:
        x, windows = get_segmentation_inputs(roi, frame)
        group.append((roi, frame, x, windows))
        count += len(x)
        if count >= cfg.chunk_size:
            flush()
            count = 0
    if group:
        flush()


# ----------------------------------------------------------------- tracking
def _track_window(roi: ROI) -> tuple[int, int]:
    return _model_config(roi, "track").target_size


def get_tracking_inputs(roi: ROI, frame: int
                        ) -> tuple[np.ndarray, list[CroppingBox]]:
    """Inputs of the tracking network for `frame` of a region.

    Parameters
    ----------
    roi
        The region; `frame` must be segmented and, unless it is the
        region's first frame, the previous frame tracked.
    frame
        Frame number.

    Returns
    -------
    x : numpy.ndarray
        float32 ``(cells of frame - 1, *target_size, 4)``, channels
        previous image, the cell's mask at ``frame - 1``, current image,
        all cells at `frame`. Empty on the first frame.
    boxes : list of CroppingBox
        Where each input lies in the region (mother machine: the whole
        region, resized to the input).

    Raises
    ------
    RuntimeError
        `frame` is not segmented, or ``frame - 1`` not tracked.
    """
    index = _index(roi, frame)
    height, width = size = _track_window(roi)
    if not roi.segmented[index]:
        raise RuntimeError(f"ROI {roi.roi_nb}: frame {frame} is not segmented yet; "
                           f"segment it before tracking")
    if index == 0:
        return np.zeros((0, height, width, 4), np.float32), []
    if not roi.tracked[index - 1]:
        raise RuntimeError(f"ROI {roi.roi_nb}: frame {frame - 1} has no labels yet; "
                           f"track the frames in order (from frame "
                           f"{roi.first_frame})")
    prev_labels = roi.get_labels(frame - 1)
    cellids, contours = cells_in_frame(prev_labels, return_contours=True)
    previmg, img = roi.get_img(frame - 1), roi.get_img(frame)
    segall = roi.get_seg(frame)
    x = np.zeros((len(cellids), height, width, 4), np.float32)
    if is_mothermachine(roi.config):
        # channels in the order of data.TRACK_INPUTS, resized as for training
        x[..., 0] = resize_image(previmg, size)
        x[..., 2] = resize_image(img, size)
        x[..., 3] = resize_mask(segall, size)
        for i, cellid in enumerate(cellids):
            x[i, ..., 1] = resize_mask(prev_labels == cellid, size)
        return x, [CroppingBox.full(prev_labels)] * len(cellids)
    boxes = [CroppingBox.tracking_box(contour, size) for contour in contours]
    for i, (cellid, box) in enumerate(zip(cellids, boxes, strict=True)):
        x[i, ..., 0] = box.crop(previmg)
        x[i, ..., 1] = box.crop(prev_labels == cellid)
        x[i, ..., 2] = box.crop(img)
        x[i, ..., 3] = box.crop(segall)
    return x, boxes


def _outputs_in_boxes(outputs: Any, boxes: Sequence[CroppingBox]) -> np.ndarray:
    """Tracking outputs ``(n, y, x, channels)``, resized to their boxes."""
    out = np.asarray(outputs, dtype=np.float32)
    if out.ndim == 3:
        out = out[..., np.newaxis]
    if out.ndim != 4 or len(out) != len(boxes):
        raise ValueError(f"Tracking outputs must have shape ({len(boxes)}, y, x, "
                         f"channels) for {len(boxes)} boxes, got {out.shape}")
    shape = boxes[0].shape
    if any(box.shape != shape for box in boxes):
        raise ValueError("Tracking boxes must all have the same size")
    if out.shape[1:3] == shape:
        return out
    return np.stack([np.stack([resize_image(o[..., c], shape)
                               for c in range(out.shape[-1])], axis=-1)
                     for o in out])


class _Tracking:
    """Links between the cells of frame - 1 and those of a frame.

    Attributes
    ----------
    previous : list of int
        Cell ids on the previous frame, top to bottom (one per output).
    links : numpy.ndarray
        bool (previous cells, current cells) of :func:`attributions`.
    """

    def __init__(self, labels: np.ndarray, previous: list[int], outputs: Any,
                 boxes: Sequence[CroppingBox]) -> None:
        self.labels = labels
        self.previous = previous
        self.boxes = list(boxes)
        ncells = int(labels.max(initial=0))
        if not previous:
            self.outputs = np.zeros((0, 1, 1, 1), np.float32)
            self.links = np.zeros((0, ncells), dtype=bool)
            return
        self.outputs = _outputs_in_boxes(outputs, boxes)
        self.links = attributions(tracking_scores(labels, self.outputs.max(axis=-1),
                                                  boxes))

    def mother_first(self, row: int, first: int, second: int) -> bool | None:
        """Whether the network's outputs of previous cell `row` make current
        cell `first` (rather than `second`) the mother of a division: True,
        False, or None when it does not tell them apart (one output)."""
        if self.outputs.shape[-1] < 2:
            return None
        box = self.boxes[row:row + 1]
        mother = tracking_scores(self.labels, self.outputs[row:row + 1, ..., 0], box)[0]
        daughter = tracking_scores(self.labels, self.outputs[row:row + 1, ..., 1],
                                   box)[0]
        lead = mother - daughter
        if lead[first - 1] == lead[second - 1]:
            return None
        return bool(lead[first - 1] > lead[second - 1])


def _poles_of(features: CellFeatures) -> tuple[np.ndarray, np.ndarray]:
    return features.new_pole, features.old_pole


def _ages_unknown(lineage: Lineage, cellid: int) -> bool:
    """Whether a cell's pole ages are a guess: it appeared without mother
    and has not divided yet."""
    cell = lineage.cell(cellid)
    return cell.motherid is None and not cell.divisions()


def _division(roi: ROI, tracking: _Tracking, row: int, cells: Sequence[int],
              poles: dict[int, tuple[np.ndarray, np.ndarray]], frame: int
              ) -> tuple[int, int]:
    """Mother and daughter (current cell numbers) of a division, with their
    poles set in `poles`.

    The mother is the cell with the old pole (:func:`division_poles`).
    When the dividing cell's pole ages are a guess, the network's mother
    and daughter outputs decide instead, and the cell's poles on its
    earlier frames are exchanged if the guess was wrong.
    """
    prev_id = tracking.previous[row]
    found = [CellFeatures(*poles[j]) for j in cells]
    before = roi.lineage.cell(prev_id).features(frame - 1)
    mother, daughter, first = division_poles(*found, before.old_pole,
                                             before.new_pole)
    network = (tracking.mother_first(row, *cells)
               if _ages_unknown(roi.lineage, prev_id) else None)
    if network is not None and network != first:
        roi.lineage.swap_poles(prev_id)
        before = roi.lineage.cell(prev_id).features(frame - 1)
        mother, daughter, first = division_poles(*found, before.old_pole,
                                                 before.new_pole)
    jm, jd = (cells[0], cells[1]) if first else (cells[1], cells[0])
    poles[jm], poles[jd] = _poles_of(mother), _poles_of(daughter)
    return jm, jd


def process_tracking_outputs(roi: ROI, outputs: Any, frame: int,
                             boxes: Sequence[CroppingBox]) -> None:
    """Update the lineage and write the labels of `frame` from tracking outputs.

    Parameters
    ----------
    roi
        The region; its lineage gets the cells of `frame` and
        ``label_stack[frame]`` their ids.
    outputs
        ``(cells of frame - 1, y, x, 2)`` probabilities for the inputs of
        :func:`get_tracking_inputs` (outputs of another size than their
        boxes are resized to them).
    frame
        Frame number.
    boxes
        As returned with the inputs.

    Raises
    ------
    RuntimeError
        `frame` is not segmented or already has cells in the lineage.

    Notes
    -----
    A cell that appears without mother gets its poles in
    :func:`~.measure.find_poles` order (the upper one as new pole): their
    ages are unknown. When it first divides, the network's mother and
    daughter outputs tell which part is the mother, and its poles on the
    earlier frames are exchanged if needed (:meth:`.Lineage.swap_poles`);
    from then on the poles' ages are known and decide the mother.
    """
    index = _index(roi, frame)
    if not roi.segmented[index]:
        raise RuntimeError(f"ROI {roi.roi_nb}: frame {frame} is not segmented yet; "
                           f"segment it before tracking")
    if roi.lineage.cellids_at(frame):
        raise RuntimeError(f"ROI {roi.roi_nb}: frame {frame} is tracked already "
                           f"(its cells are in the lineage); track again from "
                           f"frame {roi.first_frame} to start a new lineage")
    labels = label_seg(roi.get_seg(frame))
    previous = cells_in_frame(roi.get_labels(frame - 1)) if index else []
    if len(previous) != len(boxes):
        raise ValueError(f"ROI {roi.roi_nb}, frame {frame}: {len(boxes)} tracking "
                         f"boxes for {len(previous)} cells on the previous frame")
    tracking = _Tracking(labels, previous, outputs, boxes)
    ncells = tracking.links.shape[1]
    _, contours = cells_in_frame(labels, return_contours=True)
    poles = {j + 1: find_poles(contours[j]) for j in range(ncells)}
    continues: dict[int, int] = {}  # current cell -> previous id it continues
    daughters: dict[int, int] = {}  # current cell -> id of its mother
    for row, prev_id in enumerate(previous):
        linked = [int(j) + 1 for j in np.flatnonzero(tracking.links[row])]
        if len(linked) == 1:
            before = roi.lineage.cell(prev_id).features(frame - 1)
            poles[linked[0]] = _poles_of(track_poles(
                CellFeatures(*poles[linked[0]]), before.old_pole, before.new_pole))
            continues[linked[0]] = prev_id
        elif len(linked) == 2:
            jm, jd = _division(roi, tracking, row, linked, poles, frame)
            continues[jm], daughters[jd] = prev_id, prev_id
    fluo = roi.get_fluo(frame)
    features = roi_features(labels, poles, fluo if len(fluo) else None)
    lut = np.zeros(ncells + 1, dtype=np.uint16)
    for j, prev_id in continues.items():
        roi.lineage.extend(prev_id, features[j])
        lut[j] = prev_id
    for j in range(1, ncells + 1):
        if j not in continues:
            lut[j] = roi.lineage.create(frame, features[j], daughters.get(j))
    roi.set_labels(frame, lut[labels])


def track(roi: ROI, frames: Iterable[int], model: Any = None, *,
          progress_bar: bool = False) -> None:
    """Track cells over frames of a region: fills the lineage and labels.

    Frames are processed in order (each needs the labels of the one
    before); all cells of a frame go to the model in one
    :func:`~.runtime.chunks_predict` call. Tracking from the region's first
    frame starts a new lineage (labels of all frames are cleared).

    Parameters
    ----------
    roi
        The region (segmented on `frames`).
    frames
        Frame numbers, ascending.
    model
        Anything :func:`~.runtime.load_model` takes; None: the model of
        ``roi.config.models["track"]``.
    progress_bar
        Show a progress bar (on a terminal).
    """
    cfg = _model_config(roi, "track")
    frames = _frames(roi, frames)
    if not frames:
        return
    if frames != sorted(frames):
        raise ValueError(f"ROI {roi.roi_nb}: frames must be tracked in ascending "
                         f"order, got {frames}")
    predictor = resolve_model(roi.config, "track", model)
    if frames[0] == roi.first_frame:
        roi.lineage = Lineage()
        roi.label_stack[:] = 0
        roi.tracked[:] = False
    bar = _progress.progress_bar(frames, desc=f"Tracking ROI {roi.roi_nb}",
                                 unit="frame", show=None if progress_bar else False)
    with bar:
        for frame in bar:
            x, boxes = get_tracking_inputs(roi, frame)
            outputs = chunks_predict(x, predictor, cfg.chunk_size, cfg.batch_size)
            process_tracking_outputs(roi, outputs, frame, boxes)
