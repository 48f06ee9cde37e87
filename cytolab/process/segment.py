"""Segmentation: from frames and backgrounds to one binary mask per object.

A segmenter has two parts. :meth:`Segmenter.binary` says which pixels belong
to any object (the part a model-based segmenter replaces); the shared
post-processing then

1. removes objects that touch the image border (``clear_border``; a cell cut
   off at the channel ends cannot be measured),
2. fills holes inside objects (``fill_holes``),
3. closes gaps with a disk of radius ``closing_disk`` pixels (0: off),

and splits the result into 8-connected objects, ordered by frame and, within
a frame, by the raster position of their first pixel. Steps 1-3 act on the
whole frame, with pixels outside the frame counting as background; this
reproduces the masks stored by the reference pipeline exactly.

For speed, a batch of frames is processed as one tall image in which the
frames are separated by background rows wide enough that no operation can
reach from one frame into the next; every OpenCV call then covers the whole
batch.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2
import numpy as np

from ..io.ppid import join_ppid, ppid_to_kwargs
from .steps import from_spec

#: Segmenters by identifier code.
SEGMENTERS: dict[str, type[Segmenter]] = {}

#: Keywords of the mask post-processing, in identifier order.
MASK_DEFAULTS: dict[str, Any] = {"clear_border": True, "fill_holes": True,
                                 "closing_disk": 2}


def disk(radius: int) -> np.ndarray:
    """Disk-shaped structuring element: pixels with ``x² + y² <= r²``.

    Examples
    --------
    >>> disk(1)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]], dtype=uint8)
    """
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


class Objects:
    """Objects found in a batch of frames.

    Attributes
    ----------
    frame
        Index of the frame (within the batch) of each object.
    area
        Number of pixels of each object.
    bbox
        ``(N, 4)`` bounding boxes ``x0, y0, width, height`` in frame pixels.
    """

    def __init__(self, frame: np.ndarray, area: np.ndarray, bbox: np.ndarray,
                 shape: tuple[int, int], labels: np.ndarray | None = None,
                 label_ids: np.ndarray | None = None,
                 origin: np.ndarray | None = None) -> None:
        self.frame, self.area, self.bbox = frame, area, bbox
        self.shape = shape
        self._labels, self._ids, self._origin = labels, label_ids, origin

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Objects:
        """No objects in frames of `shape`."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros((0, 4), np.int64), shape)

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, keep: np.ndarray) -> Objects:
        """The objects where `keep` (bool or indices) is true."""
        if self._labels is None:
            return self
        return Objects(self.frame[keep], self.area[keep], self.bbox[keep],
                       self.shape, self._labels, self._ids[keep],
                       self._origin[keep])

    def masks(self) -> np.ndarray:
        """``(N, H, W)`` bool full-frame mask of every object."""
        out = np.zeros((len(self), *self.shape), bool)
        for i in range(len(self)):
            x0, y0, w, h = self.bbox[i]
            tx, ty = self._origin[i]
            out[i, y0:y0 + h, x0:x0 + w] = \
                self._labels[ty:ty + h, tx:tx + w] == self._ids[i]
        return out


class _Tall:
    """Geometry of a batch of frames stacked into one tall image."""

    def __init__(self, num: int, height: int, width: int, margin: int) -> None:
        self.num, self.height, self.width = num, height, width
        self.margin = margin
        self.pitch = height + margin  # rows per frame incl. the separator

    def stack(self, frames: np.ndarray) -> np.ndarray:
        tall = np.zeros((self.margin + self.num * self.pitch,
                         self.width + 2 * self.margin), np.uint8)
        view = tall[self.margin:].reshape(self.num, self.pitch, -1)
        view[:, :self.height, self.margin:self.margin + self.width] = frames
        return tall

    def unstack(self, tall: np.ndarray) -> np.ndarray:
        view = tall[self.margin:].reshape(self.num, self.pitch, -1)
        return view[:, :self.height, self.margin:self.margin + self.width]


def postprocess(binary: np.ndarray, clear_border: bool = True,
                fill_holes: bool = True, closing_disk: int = 2) -> Objects:
    """Turn binary frames into separate object masks.

    Parameters
    ----------
    binary
        ``(N, H, W)`` bool (or 0/1) stack.
    clear_border, fill_holes, closing_disk
        The post-processing steps (see the module description).

    Returns
    -------
    Objects
        Frame index, area and bounding box of every object; full-frame
        masks on request (:meth:`Objects.masks`).

    Examples
    --------
    >>> import numpy as np
    >>> b = np.zeros((2, 10, 12), bool)
    >>> b[0, 2:6, 3:7] = True; b[0, 3:5, 4:6] = False   # a ring
    >>> b[1, 0:3, 0:3] = True                          # touches the border
    >>> obj = postprocess(b, closing_disk=0)
    >>> obj.frame.tolist(), obj.area.tolist(), int(obj.masks()[0].sum())
    ([0], [16], 16)
    """
    binary = np.asarray(binary)
    if binary.ndim != 3:
        raise ValueError(f"binary must be (N, H, W), got shape {binary.shape}")
    num, height, width = binary.shape
    radius = int(closing_disk)
    if radius < 0:
        raise ValueError(f"closing_disk must be >= 0, got {closing_disk}")
    if num == 0 or not binary.any():
        return Objects.empty((height, width))
    geo = _Tall(num, height, width, margin=2 * radius + 2)
    tall = geo.stack(binary.astype(np.uint8, copy=False))
    if clear_border:
        # components with a pixel on a frame edge (read from the edge rows
        # and columns of the label image) are removed through a lookup table
        count, labels = cv2.connectedComponents(tall, connectivity=8,
                                                ltype=cv2.CV_32S)
        frames = geo.unstack(labels)
        edge = np.concatenate([frames[:, 0].ravel(), frames[:, -1].ravel(),
                               frames[:, :, 0].ravel(), frames[:, :, -1].ravel()])
        keep = np.ones(count, np.uint8)
        keep[0] = 0
        keep[edge] = 0
        tall = keep[labels]
    if fill_holes:
        # flood the background from the margin, which surrounds every frame;
        # what stays unflooded is enclosed by objects: holes
        cv2.floodFill(tall, None, (0, 0), 2, flags=4)
        tall = (tall != 2).view(np.uint8)
    if radius:
        tall = cv2.morphologyEx(tall, cv2.MORPH_CLOSE, disk(radius),
                                borderType=cv2.BORDER_CONSTANT, borderValue=0)
    # Wu's algorithm numbers components in raster order of their first
    # pixel (the block-based default does not), which fixes the event order
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        tall, 8, cv2.CV_32S, cv2.CCL_WU)
    stats = stats[1:].astype(np.int64)
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    bbox = np.stack([left - geo.margin, (top - geo.margin) % geo.pitch,
                     stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]],
                    axis=1)
    return Objects((top - geo.margin) // geo.pitch, stats[:, cv2.CC_STAT_AREA],
                   bbox, (height, width), labels, np.arange(1, count),
                   np.stack([left, top], axis=1))


class Segmenter(abc.ABC):
    """Base class of segmenters.

    Subclasses set :attr:`code` and :attr:`defaults` and implement
    :meth:`binary`. Keywords are split into the segmenter's own and those of
    the post-processing (:data:`MASK_DEFAULTS`); the identifier lists both,
    e.g. ``thresh:t=-6:cle=1^f=1^clo=2``.
    """

    code: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        SEGMENTERS[cls.code] = cls

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(self.defaults) - set(MASK_DEFAULTS)
        if unknown:
            raise ValueError(
                f"Unknown keyword(s) {sorted(unknown)} for segmenter '{self.code}'; "
                f"valid: {list(self.defaults) + list(MASK_DEFAULTS)}")
        self.kwargs = {k: kwargs.get(k, v) for k, v in self.defaults.items()}
        self.kwargs_mask = {k: kwargs.get(k, v) for k, v in MASK_DEFAULTS.items()}
        if int(self.kwargs_mask["closing_disk"]) < 0:
            raise ValueError("closing_disk must be >= 0, got "
                             f"{self.kwargs_mask['closing_disk']}")

    @classmethod
    def kwargs_from_ppid_parts(cls, parts: list[str]) -> dict[str, Any]:
        """Keywords from the parts of an identifier after the code."""
        parsed: dict[str, Any] = {}
        if parts:
            parsed.update(ppid_to_kwargs(parts[0], cls.defaults))
        if len(parts) > 1:
            parsed.update(ppid_to_kwargs(parts[1], MASK_DEFAULTS))
        return parsed

    @property
    def ppid(self) -> str:
        """Pipeline identifier of the segmenter."""
        return join_ppid(self.code, self.kwargs, self.kwargs_mask)

    @abc.abstractmethod
    def binary(self, images: np.ndarray, backgrounds: np.ndarray,
               bg_off: np.ndarray | None) -> np.ndarray:
        """Pixels that belong to objects, ``(N, H, W)`` bool.

        Parameters
        ----------
        images, backgrounds
            ``(N, H, W)`` uint8 frames and their backgrounds.
        bg_off
            Per-frame background offset or None.
        """

    def segment(self, images: np.ndarray, backgrounds: np.ndarray,
                bg_off: np.ndarray | None = None) -> Objects:
        """Objects of a batch of frames (binary mask + post-processing)."""
        binary = self.binary(images, backgrounds, bg_off)
        return postprocess(binary, **self.kwargs_mask)


class ThresholdSegmenter(Segmenter):
    """Pixels darker than the background by more than a threshold.

    A pixel belongs to an object when ``image - background - bg_off < thresh``
    (``thresh`` in gray levels, negative: darker; default -6).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((1, 20, 30), 100, np.uint8)
    >>> img[0, 5:15, 10:20] = 80
    >>> seg = ThresholdSegmenter(thresh=-6)
    >>> seg.ppid
    'thresh:t=-6:cle=1^f=1^clo=2'
    >>> int(seg.segment(img, np.full_like(img, 100)).area[0])
    100
    """

    code = "thresh"
    defaults = {"thresh": -6}

    def binary(self, images: np.ndarray, backgrounds: np.ndarray,
               bg_off: np.ndarray | None) -> np.ndarray:
        diff = images.astype(np.int16)
        diff -= backgrounds
        thresh = float(self.kwargs["thresh"])
        if bg_off is None:
            return diff < thresh
        return diff < (thresh + np.asarray(bg_off, np.float64))[:, None, None]


def get_segmenter(spec: str | Segmenter | None = None, **kwargs: Any) -> Segmenter:
    """Segmenter from a code, a full identifier or an instance.

    Examples
    --------
    >>> get_segmenter("thresh:t=-8:cle=1^f=1^clo=3").kwargs_mask["closing_disk"]
    3
    """
    return from_spec(spec, kwargs, Segmenter, SEGMENTERS, "thresh", "segmenter")


def mask_kwargs(segmenter: Segmenter) -> Mapping[str, Any]:
    """Post-processing keywords of a segmenter (for logs)."""
    return dict(segmenter.kwargs_mask)
