"""Event contours traced from binary masks.

A contour is the closed chain of the boundary pixels of an event mask,
given as a ``(J, 2)`` integer array of ``(x, y)`` pixel coordinates (x: column
index along the channel axis, y: row index). It is traced with OpenCV's
border following (:func:`cv2.findContours`, outer borders only, every
boundary pixel kept), the same tracing the acquisition software uses:
for the reference files that store both masks and contours, the traced
contours are identical to the stored ones, point by point, including start
point and orientation.

:class:`LazyContour` computes contours on demand from a sequence of masks
(e.g. the masks of a dataset) and keeps the most recently used ones.
"""
from __future__ import annotations

import collections
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = ["LazyContour", "get_contour"]

#: Maximum number of contours a :class:`LazyContour` keeps in memory.
MAX_CACHED_CONTOURS = 1000


def _as_cv_mask(mask: np.ndarray) -> np.ndarray:
    """2-D uint8 view/copy of `mask` (non-zero means inside) for OpenCV."""
    if mask.dtype == np.uint8:
        return np.ascontiguousarray(mask)
    if mask.dtype != bool:
        mask = mask != 0
    return np.ascontiguousarray(mask).view(np.uint8)


def _trace(mask: np.ndarray) -> np.ndarray:
    """Longest outer contour of one 2-D uint8 mask, (J, 2) int32."""
    found, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not found:
        return np.zeros((0, 2), dtype=np.int32)
    if len(found) == 1:
        longest = found[0]
    else:
        longest = max(found, key=len)  # first of equal length wins
    return longest.reshape(-1, 2)


def get_contour(mask: np.ndarray | Sequence[np.ndarray]
                ) -> np.ndarray | list[np.ndarray]:
    """Contour of the event(s) in a binary mask.

    Parameters
    ----------
    mask
        One mask of shape ``(H, W)`` or a stack of shape ``(K, H, W)`` (or a
        list of 2-D masks). Booleans or integers; non-zero pixels belong to
        the event.

    Returns
    -------
    contour : numpy.ndarray or list of numpy.ndarray
        For a 2-D mask, an int32 array of shape ``(J, 2)`` with the ``x``
        (column) and ``y`` (row) coordinates of the boundary pixels in
        tracing order (8-connected, not closed: the last point is a neighbour
        of the first). For a stack, a list of K such arrays.

    Notes
    -----
    * When a mask holds several objects, only the longest contour (most
      points) is returned; of equally long contours the first one OpenCV
      reports wins.
    * Holes inside the event are ignored (outer border only).
    * An empty mask gives an empty ``(0, 2)`` array; a one-pixel event a
      ``(1, 2)`` array. Shape features of such contours are NaN.
    * Objects touching the image border are traced along the border.
    * The traced contour equals the contour stored by the acquisition
      software (Shape-In / dclab) for the same mask: same points, same
      order, same start point.

    Raises
    ------
    ValueError
        If `mask` is not 2-D or 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 6), dtype=bool)
    >>> mask[1:4, 2:4] = True
    >>> get_contour(mask).tolist()
    [[2, 1], [2, 2], [2, 3], [3, 3], [3, 2], [3, 1]]
    >>> get_contour(np.zeros((2, 5, 6), dtype=bool))[0].shape
    (0, 2)
    """
    if isinstance(mask, np.ndarray):
        if mask.ndim == 2:
            return _trace(_as_cv_mask(mask))
        if mask.ndim != 3:
            raise ValueError(f"mask must be 2-D (H, W) or 3-D (K, H, W), got "
                             f"shape {mask.shape}")
        if mask.dtype == bool or mask.dtype == np.uint8:
            stack = np.ascontiguousarray(mask).view(np.uint8)
            return [_trace(m) for m in stack]
    out = []
    for ii, mi in enumerate(mask):
        mi = np.asarray(mi)
        if mi.ndim != 2:
            raise ValueError(f"mask {ii} of the stack must be 2-D, got shape "
                             f"{mi.shape}")
        out.append(_trace(_as_cv_mask(mi)))
    return out


class LazyContour:
    """Per-event contours computed on demand from a sequence of masks.

    Behaves like a read-only list of contours: ``len(lc)``, ``lc[i]`` (a
    ``(J, 2)`` array), ``lc[a:b]`` and ``lc[[i, j]]`` (lists), iteration.
    The most recently used contours (at most `max_cached`) are kept, so
    memory stays bounded however many events there are.

    Parameters
    ----------
    masks
        Anything with ``len`` and event indexing that returns 2-D masks
        (``masks[i]``) and stacks for slices (``masks[a:b]``): a NumPy array
        or a lazy per-event array of a dataset.
    max_cached
        Number of contours kept in the least-recently-used cache.

    Examples
    --------
    >>> import numpy as np
    >>> masks = np.zeros((3, 6, 8), dtype=bool)
    >>> masks[:, 2:4, 2:6] = True
    >>> lc = LazyContour(masks)
    >>> len(lc), lc[0].shape, len(lc[1:])
    (3, (8, 2), 2)
    """

    def __init__(self, masks: Any, max_cached: int = MAX_CACHED_CONTOURS) -> None:
        if max_cached < 1:
            raise ValueError(f"max_cached must be >= 1, got {max_cached}")
        self.masks = masks
        self.max_cached = int(max_cached)
        self._length = len(masks)
        #: shape like the stored contour feature (ragged second axis)
        self.shape = (self._length, np.nan, 2)
        self._cache: collections.OrderedDict[int, np.ndarray] = \
            collections.OrderedDict()

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[np.ndarray]:
        step = max(1, min(self.max_cached, 256))
        for start in range(0, self._length, step):
            yield from self[start:start + step]

    def __repr__(self) -> str:
        return (f"<LazyContour of {self._length} events "
                f"({len(self._cache)} cached)>")

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        raise TypeError("Contours have different lengths and cannot be "
                        "converted to one NumPy array; index them per event")

    def __getitem__(self, idx: Any) -> np.ndarray | list[np.ndarray]:
        if isinstance(idx, numbers.Integral):
            index = int(idx)
            if index < 0:
                index += self._length
            if not 0 <= index < self._length:
                raise IndexError(f"Event index {idx} out of range for "
                                 f"{self._length} events")
            return self._get_one(index)
        if isinstance(idx, slice):
            return self._get_many(np.arange(*idx.indices(self._length)),
                                  contiguous=idx.step in (None, 1))
        if isinstance(idx, tuple):
            raise IndexError("Index events first, then within the contour "
                             "(lc[i][j, k])")
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (self._length,):
                raise IndexError(f"Boolean index has shape {arr.shape}, "
                                 f"expected ({self._length},)")
            arr = np.flatnonzero(arr)
        elif arr.size == 0:
            arr = np.zeros(0, dtype=np.int64)
        elif arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise IndexError(f"Unsupported index {idx!r}")
        arr = np.where(arr < 0, arr + self._length, arr).astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self._length):
            raise IndexError(f"Event indices out of range for {self._length} "
                             f"events")
        return self._get_many(arr, contiguous=False)

    def _remember(self, index: int, contour: np.ndarray) -> None:
        contour.flags.writeable = False
        self._cache[index] = contour
        self._cache.move_to_end(index)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)

    def _get_one(self, index: int) -> np.ndarray:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        contour = get_contour(np.asarray(self.masks[index]))
        self._remember(index, contour)
        return contour

    def _get_many(self, indices: np.ndarray, contiguous: bool
                  ) -> list[np.ndarray]:
        missing = [int(ii) for ii in indices if int(ii) not in self._cache]
        computed: dict[int, np.ndarray] = {}
        if missing:
            if contiguous and len(indices) > 1:
                # one read of the whole range (fast for chunked HDF5 data)
                start = int(indices[0])
                block = np.asarray(self.masks[start:int(indices[-1]) + 1])
                stack = [block[ii - start] for ii in missing]
            else:
                stack = [np.asarray(self.masks[ii]) for ii in missing]
            for ii, mask in zip(missing, stack, strict=True):
                cont = get_contour(mask)
                cont.flags.writeable = False
                computed[ii] = cont
        out = [computed[int(ii)] if int(ii) in computed else self._cache[int(ii)]
               for ii in indices]
        # remember the last ones (a long slice must not evict everything
        # only to fill the cache with events that are never read again)
        keep = min(len(out), self.max_cached)
        for ii, cont in zip(indices[len(out) - keep:], out[len(out) - keep:],
                            strict=True):
            self._remember(int(ii), cont)
        return out
