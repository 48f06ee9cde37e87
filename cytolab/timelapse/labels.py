"""Segmentation masks, label images and cell contours of time-lapse frames.

Conventions (shared by all of :mod:`cytolab.timelapse`):

* an *image* is a 2-D float array (float32 in [0, 1] after
  :func:`~cytolab.timelapse.images.read_image`);
* a *segmentation mask* is a 2-D uint8 array of 0 (background) and 1 (cell);
* a *label image* is a 2-D uint16 array, 0 for the background and the cell
  id for every pixel of a cell (ids at most 65535);
* a *contour* is an OpenCV contour: an int32 array of shape ``(J, 1, 2)``
  holding ``(x, y)`` pixel coordinates of the boundary pixels (functions that
  take contours also accept the flat ``(J, 2)`` layout);
* pixel positions are ``(y, x)`` (numpy order) unless a function says
  otherwise. Objects are 8-connected (diagonal neighbours belong together).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..features.contour import get_contour
from ..features.moments import contour_moments

__all__ = [
    "Contour",
    "Image",
    "Labels",
    "SegmentationMask",
    "binarize_threshold",
    "cells_in_frame",
    "centroid",
    "detect_touching_cells",
    "distance_transform_labels",
    "filter_areas",
    "find_contours",
    "label_seg",
    "postprocess",
]

#: A grey-scale image, shape ``(Y, X)`` (float32 in [0, 1] unless stated).
Image = npt.NDArray[Any]
#: A segmentation mask, uint8 of 0 and 1, shape ``(Y, X)``.
SegmentationMask = npt.NDArray[np.uint8]
#: A label image, uint16 cell ids (0 = background), shape ``(Y, X)``.
Labels = npt.NDArray[np.uint16]
#: An OpenCV contour: int32 ``(J, 1, 2)`` array of ``(x, y)`` points.
Contour = npt.NDArray[np.int32]

#: Largest cell id a uint16 label image can hold.
MAX_LABEL = int(np.iinfo(np.uint16).max)

_SQUARE_3 = np.ones((3, 3), dtype=np.uint8)


def _as_2d(array: Any, name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (Y, X), got shape "
                         f"{arr.shape}")
    return arr


def _check_shape(shape: Any, name: str) -> tuple[int, int]:
    """``(height, width)`` of a size argument, both at least 1."""
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (height, width), got "
                         f"{shape!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"{name} must hold two positive sizes, got {shape!r}")
    return height, width


def _as_mask(mask: Any, name: str) -> np.ndarray:
    """Contiguous 2-D uint8 0/1 copy or view of a mask (non-zero = cell)."""
    arr = _as_2d(mask, name)
    if arr.dtype == np.uint8 and arr.size and arr.max() <= 1:
        return np.ascontiguousarray(arr)
    return np.ascontiguousarray(arr != 0).view(np.uint8)


def _as_labels(labels: Any, name: str = "labels") -> np.ndarray:
    """2-D uint16 label image (integer labels in 0..65535 are accepted)."""
    arr = _as_2d(labels, name)
    if arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    if arr.dtype == bool:
        return arr.astype(np.uint16)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer cell ids, got dtype "
                         f"{arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > MAX_LABEL):
        raise ValueError(f"{name} must hold cell ids between 0 and "
                         f"{MAX_LABEL}, got values from {arr.min()} to "
                         f"{arr.max()}")
    return arr.astype(np.uint16)


def _xy_points(contour: Any, name: str = "contour") -> np.ndarray:
    """``(J, 2)`` view of an OpenCV ``(J, 1, 2)`` or flat ``(J, 2)`` contour."""
    arr = np.asarray(contour)
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (J, 1, 2) or (J, 2) with x "
                         f"and y coordinates, got shape {np.shape(contour)}")
    if len(arr) == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _cv_contour(points: np.ndarray) -> Contour:
    """OpenCV layout ``(J, 1, 2)`` int32 of ``(J, 2)`` points."""
    return np.ascontiguousarray(points, dtype=np.int32).reshape(-1, 1, 2)


def binarize_threshold(array: Image, threshold: float | None = None
                       ) -> SegmentationMask:
    """Binarize an image by thresholding.

    Parameters
    ----------
    array
        2-D image (any real dtype).
    threshold
        Pixels strictly above `threshold` become 1. None takes the middle of
        the dynamic range, ``(min + max) / 2`` (NaN pixels ignored).

    Returns
    -------
    mask : numpy.ndarray of uint8
        0/1 mask of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> binarize_threshold(np.array([[0.0, 0.2], [0.6, 1.0]]), None).tolist()
    [[0, 0], [1, 1]]
    >>> binarize_threshold(np.array([[0.0, 0.2], [0.6, 1.0]]), 0.1).tolist()
    [[0, 1], [1, 1]]
    """
    arr = _as_2d(array, "array")
    if threshold is None:
        if arr.size == 0 or np.all(np.isnan(arr)):
            return np.zeros(arr.shape, dtype=np.uint8)
        threshold = (float(np.nanmin(arr)) + float(np.nanmax(arr))) / 2
    return (arr > threshold).astype(np.uint8)


def filter_areas(image: SegmentationMask, min_area: float | None = 20,
                 max_area: float | None = None) -> SegmentationMask:
    """Remove objects that are too small or too large from a mask.

    Parameters
    ----------
    image
        2-D segmentation mask (non-zero pixels are cells).
    min_area, max_area
        Objects (8-connected) with fewer than `min_area` or more than
        `max_area` pixels are removed; None disables that bound.

    Returns
    -------
    mask : numpy.ndarray of uint8
        Filtered 0/1 mask.

    Notes
    -----
    The area of an object here is its number of pixels (OpenCV connected
    components), not the polygon area of its contour (:func:`cell_area`),
    which is smaller by about half the perimeter.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((6, 10), dtype=np.uint8)
    >>> mask[1:3, 1:3] = 1   # 4 pixels
    >>> mask[1:5, 5:9] = 1   # 16 pixels
    >>> int(filter_areas(mask, min_area=5).sum())
    16
    >>> int(filter_areas(mask, min_area=None, max_area=5).sum())
    4
    """
    mask = _as_mask(image, "image")
    count, comps, stats, _ = cv2.connectedComponentsWithStats(
        mask, connectivity=8, ltype=cv2.CV_32S)
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = np.ones(count, dtype=bool)
    keep[0] = False
    if min_area is not None:
        keep &= areas >= min_area
    if max_area is not None:
        keep &= areas <= max_area
    return keep[comps].astype(np.uint8)


def find_contours(mask: SegmentationMask) -> list[Contour]:
    """Outer contours of all objects of a segmentation mask.

    Parameters
    ----------
    mask
        2-D segmentation mask (non-zero pixels are cells).

    Returns
    -------
    contours : list of numpy.ndarray
        One OpenCV contour (int32 ``(J, 1, 2)``, ``(x, y)`` points, every
        boundary pixel) per 8-connected object, in OpenCV's order. Holes are
        ignored.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 8), dtype=np.uint8)
    >>> mask[1:3, 1:3] = 1
    >>> mask[2:4, 5:7] = 1
    >>> [c.shape for c in find_contours(mask)]
    [(4, 1, 2), (4, 1, 2)]
    """
    found = cv2.findContours(_as_mask(mask, "mask"), cv2.RETR_EXTERNAL,
                             cv2.CHAIN_APPROX_NONE)
    # OpenCV 3 returned (image, contours, hierarchy), later versions
    # (contours, hierarchy)
    return [_cv_contour(c.reshape(-1, 2)) for c in found[-2]]


def _raster_order(labels: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Ids of the labels present, sorted by their first pixel in raster order.

    The first pixel is the topmost pixel of a cell (the leftmost one if
    several share the top row). Also returns :func:`scipy.ndimage.find_objects`
    of `labels` (bounding boxes indexed by ``id - 1``).
    """
    objects = ndimage.find_objects(labels)
    ids = []
    firsts = []
    width = labels.shape[1]
    for index, box in enumerate(objects):
        if box is None:
            continue
        top = box[0].start
        row = labels[top, box[1]]
        first_x = box[1].start + int(np.argmax(row == index + 1))
        ids.append(index + 1)
        firsts.append(top * width + first_x)
    order = np.argsort(np.asarray(firsts, dtype=np.int64), kind="stable")
    return np.asarray(ids, dtype=np.int64)[order], objects


def label_seg(seg: SegmentationMask, cellnumbers: Sequence[int] | None = None
              ) -> Labels:
    """Label the cells of a segmentation mask from top to bottom.

    Parameters
    ----------
    seg
        2-D segmentation mask; every 8-connected object is one cell.
    cellnumbers
        Ids to give the cells, in the order of the cells from the top of the
        image to the bottom (by their topmost pixel, leftmost first on the
        same row). Must hold one id per cell, all distinct, between 1 and
        65535. None numbers the cells 1, 2, 3, ...

    Returns
    -------
    labels : numpy.ndarray of uint16
        Label image (0 = background).

    Raises
    ------
    ValueError
        If `cellnumbers` does not match the number of cells or holds ids
        outside 1..65535 or duplicates, or if there are more than 65535
        cells.

    Examples
    --------
    >>> import numpy as np
    >>> seg = np.zeros((6, 4), dtype=np.uint8)
    >>> seg[4:6, 0:2] = 1   # lower cell
    >>> seg[0:2, 2:4] = 1   # upper cell
    >>> label_seg(seg)[[0, 4], [2, 0]].tolist()
    [1, 2]
    >>> label_seg(seg, cellnumbers=[7, 3])[[0, 4], [2, 0]].tolist()
    [7, 3]
    """
    mask = _as_mask(seg, "seg")
    count, comps = cv2.connectedComponents(mask, connectivity=8,
                                           ltype=cv2.CV_32S)
    ncells = count - 1
    if ncells > MAX_LABEL:
        raise ValueError(f"seg holds {ncells} cells, more than a uint16 label "
                         f"image can number ({MAX_LABEL})")
    if cellnumbers is None:
        numbers = np.arange(1, ncells + 1, dtype=np.int64)
    else:
        numbers = np.asarray(cellnumbers, dtype=np.int64).ravel()
        if len(numbers) != ncells:
            raise ValueError(f"cellnumbers holds {len(numbers)} ids but seg "
                             f"holds {ncells} cells")
        if ncells and (numbers.min() < 1 or numbers.max() > MAX_LABEL):
            raise ValueError(f"cellnumbers must lie between 1 and {MAX_LABEL}, "
                             f"got values from {numbers.min()} to "
                             f"{numbers.max()}")
        if len(np.unique(numbers)) != ncells:
            raise ValueError("cellnumbers holds duplicate ids")
    order, _ = _raster_order(comps)
    table = np.zeros(count, dtype=np.uint16)
    table[order] = numbers
    return table[comps]


@overload
def cells_in_frame(labels: Labels, *, return_contours: Literal[False] = False
                   ) -> list[int]: ...


@overload
def cells_in_frame(labels: Labels, *, return_contours: Literal[True]
                   ) -> tuple[list[int], list[Contour]]: ...


def cells_in_frame(labels: Labels, *, return_contours: bool = False
                   ) -> list[int] | tuple[list[int], list[Contour]]:
    """Ids of the cells of a label image, sorted from top to bottom.

    Parameters
    ----------
    labels
        2-D label image.
    return_contours
        Also return the contour of each cell.

    Returns
    -------
    cellids : list of int
        Ids present in `labels` (0 excluded), ordered by the topmost pixel
        of each cell (leftmost first on the same row), the order in which
        :func:`label_seg` numbers cells.
    contours : list of numpy.ndarray
        Only with `return_contours`: the OpenCV contour of each cell in
        image coordinates (for a cell in several pieces, the longest one).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 0, 9, 9, 0],
    ...                    [0, 0, 9, 9, 0],
    ...                    [0, 0, 0, 0, 0],
    ...                    [0, 4, 4, 0, 0],
    ...                    [0, 4, 4, 0, 0]], dtype=np.uint16)
    >>> cells_in_frame(labels)
    [9, 4]
    >>> ids, contours = cells_in_frame(labels, return_contours=True)
    >>> contours[1][:, 0].tolist()
    [[1, 3], [1, 4], [2, 4], [2, 3]]
    """
    lab = _as_labels(labels)
    ids, objects = _raster_order(lab)
    cellids = [int(i) for i in ids]
    if not return_contours:
        return cellids
    contours = []
    for cellid in cellids:
        box = objects[cellid - 1]
        points = get_contour(lab[box] == cellid)
        offset = np.array([box[1].start, box[0].start], dtype=np.int32)
        contours.append(_cv_contour(points + offset))
    return cellids, contours


def centroid(contour: Contour) -> tuple[int, int]:
    """Centroid of the area enclosed by a contour, rounded to pixels.

    Parameters
    ----------
    contour
        OpenCV contour ``(J, 1, 2)`` or ``(J, 2)`` of ``(x, y)`` points.

    Returns
    -------
    cx, cy : int
        Column (x) and row (y) of the centroid. For a contour enclosing no
        area (a line or a point), the mean of its points.

    Examples
    --------
    >>> import numpy as np
    >>> centroid(np.array([[0, 0], [6, 0], [6, 2], [0, 2]]))
    (3, 1)
    """
    points = _xy_points(contour)
    mom = contour_moments(points)
    cx, cy = mom["cx"], mom["cy"]
    if not (np.isfinite(cx) and np.isfinite(cy)):
        cx, cy = points.mean(axis=0)
    return int(round(float(cx))), int(round(float(cy)))


def detect_touching_cells(labels: Labels) -> npt.NDArray[np.bool_]:
    """Pixels of a cell that touch another cell.

    Parameters
    ----------
    labels
        2-D label image.

    Returns
    -------
    touching : numpy.ndarray of bool
        True for cell pixels with an 8-neighbour of a different, non-zero
        label (both sides of a contact are marked).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 2, 2, 0, 3]], dtype=np.uint16)
    >>> detect_touching_cells(labels).astype(int).tolist()
    [[0, 1, 1, 0, 0, 0]]
    """
    lab = _as_labels(labels)
    # morphology ignores the image border (it pads with neutral values)
    largest = cv2.dilate(lab, _SQUARE_3)
    smallest = cv2.erode(np.where(lab == 0, np.uint16(MAX_LABEL), lab),
                         _SQUARE_3)
    return (lab > 0) & ((largest > lab) | (smallest < lab))


def distance_transform_labels(labels: Labels) -> Image:
    """Euclidean distance of each cell pixel to the nearest other pixel.

    Parameters
    ----------
    labels
        2-D label image; cells may touch.

    Returns
    -------
    distance_map : numpy.ndarray of float32
        For each cell pixel, the distance to the nearest pixel of a
        different label (background or another cell); 0 on the background.
        Pixels outside the image do not count as different.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 1, 1, 1, 2, 2, 0]], dtype=np.uint16)
    >>> distance_transform_labels(labels).tolist()
    [[0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 0.0]]
    """
    lab = _as_labels(labels)
    out = np.zeros(lab.shape, dtype=np.float32)
    height, width = lab.shape
    for index, box in enumerate(ndimage.find_objects(lab)):
        if box is None:
            continue
        # one pixel of margin so that the neighbours are seen
        grown = (slice(max(box[0].start - 1, 0), min(box[0].stop + 1, height)),
                 slice(max(box[1].start - 1, 0), min(box[1].stop + 1, width)))
        inside = lab[grown] == index + 1
        dist = cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
        out[grown][inside] = dist[inside]
    return out


def postprocess(images: npt.NDArray[np.floating], *, square_size: int = 5,
                min_size: float | None = None, crop: bool = False
                ) -> SegmentationMask:
    """Clean segmentation network outputs with mathematical morphology.

    Parameters
    ----------
    images
        One 2-D output ``(Y, X)`` or a stack ``(N, Y, X)`` of cell
        probabilities in [0, 1].
    square_size
        Side of the square structuring element of the morphological opening
        that removes thin protrusions and bridges (1 disables it).
    min_size
        Objects with fewer pixels are removed (see :func:`filter_areas`);
        None keeps all.
    crop
        True when the outputs come from tiles cut at the native resolution
        (no resizing): the opening, meant to smooth the edges of resized
        outputs, is skipped.

    Returns
    -------
    masks : numpy.ndarray of uint8
        Probabilities above 0.5 as 0/1 masks, cleaned, squeezed like
        :func:`numpy.squeeze`.

    Examples
    --------
    >>> import numpy as np
    >>> prob = np.zeros((9, 9), dtype=np.float32)
    >>> prob[2:7, 2:7] = 0.9   # a 5 x 5 cell
    >>> prob[0, 0:9] = 0.8     # a one-pixel line
    >>> int(postprocess(prob, square_size=3).sum())
    25
    >>> int(postprocess(prob, crop=True).sum())
    34
    """
    arr = np.asarray(images)
    if arr.ndim not in (2, 3):
        raise ValueError(f"images must be 2-D (Y, X) or 3-D (N, Y, X), got "
                         f"shape {arr.shape}")
    if int(square_size) < 1:
        raise ValueError(f"square_size must be at least 1, got {square_size}")
    stack = (arr.reshape((-1,) + arr.shape[-2:]) > 0.5).astype(np.uint8)
    element = np.ones((int(square_size), int(square_size)), dtype=np.uint8)
    for index, mask in enumerate(stack):
        if not crop and square_size > 1:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, element,
                                    borderType=cv2.BORDER_REPLICATE)
        if min_size is not None:
            mask = filter_areas(mask, min_area=min_size)
        stack[index] = mask
    return np.squeeze(stack)
