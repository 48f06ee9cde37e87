"""Preparing the frames of a position: rotation, chambers, drift.

Before cells are segmented, the frames of a position are straightened
(:func:`~.geometry.deskew` of a reference frame), the mother-machine
chambers are found on the reference by the ``rois`` network
(:func:`find_roi_boxes`), and the stage drift of every frame relative to
the reference is measured on the static structure above the chambers
(:func:`~.geometry.drift_template`, :func:`~.geometry.compute_drift`) and
corrected. :meth:`.position.Position.preprocess` runs these steps and cuts
the regions of interest out of the corrected frames.

Order of the corrections: frames are rotated first, then shifted back by
their drift, as :meth:`.position.Position.labels` assumes when it undoes
them (drift measured along the axes of the straightened frames). The drift
template reaches :data:`CLOSED_END_MARGIN` px into the chamber boxes (see
there why).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import CytolabError
from .boxes import CroppingBox, _is_dataarray
from .config import Config
from .geometry import compute_drift, correct_drift, deskew, drift_template, rotate
from .labels import label_seg, postprocess
from .predict import resolve_model
from .runtime import chunks_predict
from .tiling import create_windows, stitch_pic

__all__ = [
    "ChamberDetectionError",
    "Corrections",
    "as_frames",
    "boxes_from_mask",
    "correct_frames",
    "find_roi_boxes",
    "fitting_size",
    "plausible_chambers",
    "roi_probabilities",
]

#: Probabilities above this are chambers
THRESHOLD = 0.5

#: Multiple suggested for network input sizes (four poolings of the U-Net)
SIZE_MULTIPLE = 16

#: How far [px] the drift template reaches below the top of the chamber
#: boxes: the PDMS above the chambers may show no structure at all (it does
#: in simulated movies), so the template also holds the closed ends of the
#: chambers (about 8 px of wall in a box) and the old pole of the mother
#: cells sitting against them, which do not move but with the stage.
CLOSED_END_MARGIN = 32


class ChamberDetectionError(CytolabError):
    """No chamber was found where a mother-machine movie should have some."""


@dataclasses.dataclass
class Corrections:
    """What :func:`correct_frames` found and applied.

    Attributes
    ----------
    rotate
        Rotation applied to the frames [degrees, counter-clockwise].
    boxes
        Regions of interest on the straightened reference, left to right.
    drifts
        ``(frames, 2)`` drift ``(x, y)`` [px] of each frame, corrected.
    frames
        The corrected frames ``(frames, channels, Y, X)``, float32.
    """

    rotate: float
    boxes: list[CroppingBox]
    drifts: np.ndarray
    frames: np.ndarray


# --------------------------------------------------------------- frames
def _as_float(arr: np.ndarray) -> np.ndarray:
    """Pixels as float32, integers scaled to [0, 1] by their type's maximum."""
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if arr.dtype.kind in "ui":
        return (arr / np.float32(np.iinfo(arr.dtype).max)).astype(np.float32)
    if arr.dtype.kind != "f":
        raise ValueError(f"frames must hold numbers, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float32)


def as_frames(all_frames: Any, frames: Sequence[int] | None = None
              ) -> tuple[np.ndarray, range]:
    """Frames of a position as float32 ``(frames, channels, Y, X)``.

    Parameters
    ----------
    all_frames
        ``(frames, channels, Y, X)`` (or ``(frames, Y, X)``): an xarray
        DataArray as :meth:`.xpreader.XPReader.images` returns (its
        ``frame`` coordinate gives the frame numbers) or a NumPy array
        whose item ``i`` is frame ``i``. Integers are scaled to [0, 1].
    frames
        Frame numbers to take (consecutive, increasing); default: all.

    Returns
    -------
    stack : numpy.ndarray
        float32 ``(frames, channels, Y, X)``.
    numbers : range
        The frame numbers of the stack.

    Examples
    --------
    >>> import numpy as np
    >>> stack, numbers = as_frames(np.zeros((5, 2, 4, 3), np.uint16), range(1, 3))
    >>> stack.shape, stack.dtype.name, numbers
    ((2, 2, 4, 3), 'float32', range(1, 3))
    """
    if _is_dataarray(all_frames):
        if "frame" in all_frames.coords:
            numbers = [int(f) for f in np.asarray(all_frames["frame"].values)]
        else:
            numbers = list(range(all_frames.shape[0]))
        dims = [d for d in ("frame", "channel", "y", "x") if d in all_frames.dims]
        arr = np.asarray(all_frames.transpose(*dims).values)
    else:
        arr = np.asarray(all_frames)
        numbers = list(range(arr.shape[0])) if arr.ndim else []
    if arr.ndim == 3:
        arr = arr[:, np.newaxis]
    if arr.ndim != 4 or 0 in arr.shape:
        raise ValueError(f"all_frames must be (frames, channels, Y, X) and not "
                         f"empty, got shape {arr.shape}")
    if frames is None:
        wanted = numbers
    else:
        wanted = [int(f) for f in frames]
        missing = sorted(set(wanted) - set(numbers))
        if missing or not wanted:
            raise ValueError(f"frames {missing or wanted} are not among the frames "
                             f"given ({numbers[0]} to {numbers[-1]})")
    if np.any(np.diff(wanted) != 1):
        raise ValueError(f"frames must be consecutive and increasing, got "
                         f"{wanted[:5]}{' ...' if len(wanted) > 5 else ''}")
    if wanted != numbers:
        index = {n: i for i, n in enumerate(numbers)}
        arr = arr[[index[f] for f in wanted]]
    return _as_float(arr), range(wanted[0], wanted[-1] + 1)


# ------------------------------------------------------------ chambers
def fitting_size(shape: tuple[int, int], target: tuple[int, int]
                 ) -> tuple[int, int]:
    """The largest input size, in multiples of 16, that fits frames of
    `shape` and is not larger than `target`.

    Examples
    --------
    >>> fitting_size((344, 224), (512, 512))
    (336, 224)
    """
    return tuple(max(SIZE_MULTIPLE, min(s, t) // SIZE_MULTIPLE * SIZE_MULTIPLE)
                 for s, t in zip(shape, target, strict=True))


def roi_probabilities(reference: np.ndarray, config: Config, model: Any,
                      min_overlap_crop: int = 24) -> np.ndarray:
    """Chamber probabilities of the ``rois`` network on a whole frame.

    The network sees the frame at its own scale, as in training: cut into
    overlapping windows of the input size (:func:`.tiling.create_windows`),
    whose outputs are stitched back together. A frame smaller than the
    input on an axis gets windows of its own size there (in multiples of
    16, :func:`fitting_size`; the U-Net is fully convolutional).

    Returns
    -------
    numpy.ndarray
        float32 probability map of the frame's shape.
    """
    cfg = config.models["rois"]
    image = _as_float(np.asarray(reference))
    if min(image.shape) < SIZE_MULTIPLE:
        raise ValueError(f"The frame ({image.shape[0]} x {image.shape[1]} px) is "
                         f"too small for chamber detection (at least "
                         f"{SIZE_MULTIPLE} px on each axis)")
    size = fitting_size(image.shape, cfg.target_size)
    windows, loc_y, loc_x = create_windows(image, size,
                                           min(min_overlap_crop, min(size) // 2))
    out = chunks_predict(windows[..., np.newaxis], model, cfg.chunk_size,
                         cfg.batch_size)
    return stitch_pic(np.asarray(out)[..., 0], loc_y, loc_x).astype(np.float32)


def boxes_from_mask(mask: np.ndarray) -> list[CroppingBox]:
    """Bounding box of every object of a mask, left to right.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((10, 12), np.uint8)
    >>> mask[2:9, 7:10] = 1
    >>> mask[1:8, 1:4] = 1
    >>> boxes_from_mask(mask)
    [CroppingBox(xtl=1, ytl=1, xbr=4, ybr=8), CroppingBox(xtl=7, ytl=2, xbr=10, ybr=9)]
    """
    objects = ndimage.find_objects(label_seg(mask))
    boxes = [CroppingBox(xtl=sx.start, ytl=sy.start, xbr=sx.stop, ybr=sy.stop)
             for sy, sx in (o for o in objects if o is not None)]
    return sorted(boxes, key=lambda b: (b.xtl, b.ytl))


def find_roi_boxes(reference: np.ndarray, config: Config,
                   min_overlap_crop: int = 24, *, model: Any = None
                   ) -> list[CroppingBox]:
    """Chambers of a mother-machine frame, found by the ``rois`` network.

    Parameters
    ----------
    reference
        2-D frame (straightened), float in [0, 1] or integers.
    config
        Configuration with a ``rois`` model.
    min_overlap_crop
        Minimum overlap [px] of the windows the frame is cut into.
    model
        The network: anything :func:`.runtime.load_model` takes; default:
        the one of `config`.

    Returns
    -------
    list of CroppingBox
        Bounding box of each chamber (probability above 0.5, cleaned by
        :func:`.labels.postprocess`, objects smaller than
        ``models.rois.min_area`` and slivers (:func:`plausible_chambers`)
        removed), sorted left to right; empty when there is none.

    Raises
    ------
    ValueError
        The frame is not 2-D or smaller than 16 px.
    """
    image = np.asarray(reference)
    if image.ndim != 2:
        raise ValueError(f"reference must be a 2-D frame (Y, X), got shape "
                         f"{image.shape}")
    model = resolve_model(config, "rois", model)
    probabilities = roi_probabilities(image, config, model, min_overlap_crop)
    mask = postprocess(probabilities, min_size=config.models["rois"].min_area,
                       crop=True)
    return plausible_chambers(boxes_from_mask(mask))


def plausible_chambers(boxes: list[CroppingBox]) -> list[CroppingBox]:
    """Drop slivers: boxes less than half as wide or as tall as the median
    box (bits of chambers cut by the frame border, or debris), whose cells
    could not be followed anyway.

    Examples
    --------
    >>> boxes = [CroppingBox(0, 20, 6, 260), CroppingBox(24, 24, 56, 264),
    ...          CroppingBox(72, 24, 104, 264)]
    >>> [b.xtl for b in plausible_chambers(boxes)]
    [24, 72]
    """
    if not boxes:
        return boxes
    width = float(np.median([b.xbr - b.xtl for b in boxes]))
    height = float(np.median([b.ybr - b.ytl for b in boxes]))
    return [b for b in boxes
            if b.xbr - b.xtl >= width / 2 and b.ybr - b.ytl >= height / 2]


# ------------------------------------------------------------ corrections
def correct_frames(stack: np.ndarray, config: Config,
                   reference: np.ndarray | None = None, *,
                   find_boxes: Any = None, position_nb: int = 0) -> Corrections:
    """Straighten the frames, find the regions, measure and correct drift.

    Parameters
    ----------
    stack
        float32 ``(frames, channels, Y, X)``; channel 0 is the phase
        contrast image the corrections are measured on.
    config
        Configuration (``correct_rotation``, ``correct_drift``,
        ``whole_frame_drift``; chambers are detected when it has a
        ``rois`` model, else the whole frame is the one region).
    reference
        2-D phase contrast frame the corrections refer to (default: the
        first frame of `stack`), as read (not straightened).
    find_boxes
        ``find_boxes(straightened_reference) -> list[CroppingBox]`` (default:
        the whole frame for configurations without ``rois``; required with).
    position_nb
        For error messages.

    Raises
    ------
    ChamberDetectionError
        No chamber was found on the reference.
    """
    reference = stack[0, 0] if reference is None else _as_float(np.asarray(reference))
    if reference.shape != stack.shape[-2:]:
        raise ValueError(f"The reference frame has the shape {reference.shape}, "
                         f"but the frames have {stack.shape[-2:]}")
    angle = deskew(reference) if config.correct_rotation else 0.0
    if angle:
        reference = rotate(reference, angle, order=1, mode="edge")
        stack = rotate(stack, angle, order=1, mode="edge")
    if "rois" in config.models:
        boxes = list(find_boxes(reference))
        if not boxes:
            raise ChamberDetectionError(
                f"Position {position_nb}: no chamber was found on the reference "
                f"frame; is this a mother-machine movie? For agar pads and other "
                f"movies without chambers use the '2D' presets")
    else:
        boxes = [CroppingBox.full(reference)]
    drifts = np.zeros((len(stack), 2))
    if config.correct_drift:
        # the template is the region above the boxes given: boxes moved down
        # by the margin make it include the chambers' closed ends
        lowered = [CroppingBox(b.xtl, b.ytl + CLOSED_END_MARGIN, b.xbr,
                               b.ybr + CLOSED_END_MARGIN)
                   for b in boxes] if "rois" in config.models else []
        box, template = drift_template(lowered, reference,
                                       whole_frame=config.whole_frame_drift)
        drifts = np.asarray(compute_drift(stack[:, 0], box, template), dtype=float)
        if np.any(drifts):
            stack = correct_drift(stack, drifts[:, np.newaxis, :])
    return Corrections(rotate=float(angle), boxes=boxes, drifts=drifts,
                       frames=stack)
