"""Detecting flickering illumination in a series of frames.

A faulty LED driver makes the brightness of whole frames jump at random.
Such data need a background that corrects each frame's offset (the
``sparsemed`` background with ``offset_correction=True``); this module tells
whether that is the case, by looking at a strip of the frames where no
cells are expected (the top rows: the channel wall).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .hdf5data import HDF5Data

__all__ = ["detect_flickering"]


def detect_flickering(image_data: Any, roi_height: int = 10,
                      brightness_threshold: float = 2.5, count_threshold: int = 5,
                      max_frames: int = 1000) -> bool:
    """Whether the brightness of a series of frames flickers.

    The median brightness of a full-width strip of the top `roi_height`
    rows is computed for each of the first `max_frames` frames. A frame
    flickers when its median differs from the median of all these medians
    by more than `brightness_threshold`; the series flickers when at least
    `count_threshold` frames do.

    Parameters
    ----------
    image_data
        Frames, event axis first: a (N, H, W) array, an
        :class:`~cytolab.io.HDF5Data` (its ``image`` is used) or anything
        that returns such an array for a slice (e.g. an image cache).
    roi_height
        Height of the strip in pixels (at least 1; at most the frame height
        is used).
    brightness_threshold
        Brightness difference (grey levels) beyond which a frame flickers.
    count_threshold
        Minimum number of flickering frames for a positive result (at
        least 1).
    max_frames
        Number of frames analysed, from the start (at least 1).

    Returns
    -------
    bool
        True if the series flickers; False also for an empty series.

    Raises
    ------
    ValueError
        If an argument is out of range, or the data are not a stack of
        2-D frames (or an HDF5Data without images).

    Examples
    --------
    >>> import numpy as np
    >>> frames = np.full((100, 20, 30), 100, dtype=np.uint8)
    >>> detect_flickering(frames)
    False
    >>> frames[::10] += 5  # every tenth frame is brighter
    >>> detect_flickering(frames)
    True
    """
    if int(roi_height) < 1:
        raise ValueError(f"`roi_height` must be at least 1, got {roi_height}")
    if int(count_threshold) < 1:
        raise ValueError(f"`count_threshold` must be at least 1, got "
                         f"{count_threshold}")
    if int(max_frames) < 1:
        raise ValueError(f"`max_frames` must be at least 1, got {max_frames}")
    frames = _frames(image_data)
    stack = np.asarray(frames[:int(max_frames)])
    if stack.ndim != 3:
        raise ValueError(f"`image_data` must be a stack of 2-D frames (N, H, W), "
                         f"got shape {stack.shape}")
    if stack.shape[0] == 0:
        return False
    roi = stack[:, :int(roi_height), :].reshape(stack.shape[0], -1)
    medians = np.median(roi, axis=1)
    deviation = np.abs(medians - np.median(medians))
    return bool(np.count_nonzero(deviation > brightness_threshold)
                >= int(count_threshold))


def _frames(image_data: Any) -> Any:
    """The sliceable frames of `image_data`."""
    if isinstance(image_data, HDF5Data):
        if image_data.image is None:
            raise ValueError(f"{image_data!r} has no 'image' feature to "
                             f"check for flickering")
        return image_data.image
    return image_data
