"""Event contours from the ``*_contours.txt`` file of a TDMS measurement.

The file lists one entry per event::

    Contour in frame 577
    ( 799 , 13 )
    ( 799 , 14 )
    ...

(x, y in pixels). The frame number of an entry tells which event it belongs
to. Shape-In did not write the entry of the first event (the entries start at
the second event), fRT-DC did; entries are matched to events by their frame
number, looking at the expected entry and the two before and after it. Events
without a matching entry get an empty ``(0, 2)`` contour (with one warning).

The file is memory-mapped and indexed once; an entry is parsed when its
event is read. ``mask`` is computed from the contour (filled polygon).
"""
from __future__ import annotations

import mmap
import pathlib
import re
import warnings
from typing import Any

import cv2
import numpy as np

from ....io import EventArray
from .config import measurement_id
from .exc import ContourMismatchWarning

_HEADER = re.compile(rb"Contour in frame\s+(-?\d+)")
_NUMBER = re.compile(rb"-?\d+")
#: Entries around the expected one that are searched for the event's frame
SEARCH_ORDER = (0, -1, 1, -2, 2)


def find_contour_file(tdms_path: pathlib.Path) -> pathlib.Path | None:
    """The contour file of a measurement.

    ``<tdms stem>_contours.txt`` if it exists, otherwise the first (in
    alphabetical order) ``M<n>_*contours.txt`` of the same measurement id.
    """
    exact = tdms_path.with_name(tdms_path.stem + "_contours.txt")
    if exact.is_file():
        return exact
    mid = measurement_id(tdms_path)
    cands = sorted(p for p in tdms_path.parent.glob("*_contours.txt")
                   if p.is_file() and p.name.split("_")[0] == mid)
    return cands[0] if cands else None


class ContourFile:
    """Index of a contour text file: frame number and location of each entry."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = pathlib.Path(path)
        with self.path.open("rb") as fd:
            if self.path.stat().st_size == 0:
                self._map: Any = b""
            else:
                self._map = mmap.mmap(fd.fileno(), 0, access=mmap.ACCESS_READ)
        frames: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        for match in _HEADER.finditer(self._map):
            if starts:  # a header ends the previous entry
                ends.append(match.start())
            frames.append(int(match.group(1)))
            starts.append(match.end())
        if starts:
            ends.append(len(self._map))
        #: frame number of each entry
        self.frames = np.asarray(frames, dtype=np.int64)
        self._starts = starts
        self._ends = ends

    def __len__(self) -> int:
        return len(self.frames)

    def points(self, entry: int) -> np.ndarray:
        """The ``(J, 2)`` int32 points (x, y) of one entry."""
        text = self._map[self._starts[entry]:self._ends[entry]]
        values = np.array([int(v) for v in _NUMBER.findall(text)], dtype=np.int32)
        if values.size % 2:  # a truncated last entry
            values = values[:-1]
        return values.reshape(-1, 2)

    def close(self) -> None:
        """Release the memory map."""
        if isinstance(self._map, mmap.mmap):
            self._map.close()


def match_entries(entry_frames: np.ndarray, event_frames: np.ndarray) -> np.ndarray:
    """Entry of the contour file for each event (-1: none).

    The expected entry of event ``i`` is ``i - offset``, where the offset is
    0 if the first entry belongs to the first event and 1 if it belongs to
    the second one; the entries ``i - offset + d`` for ``d`` in
    :data:`SEARCH_ORDER` are tried, the first one with the event's frame
    number wins.

    Examples
    --------
    >>> match_entries(np.array([11, 12, 14]), np.array([10, 11, 12, 14]))
    array([-1,  0,  1,  2])
    """
    num = len(event_frames)
    result = np.full(num, -1, dtype=np.int64)
    if not len(entry_frames) or not num:
        return result
    offset = 0
    if entry_frames[0] != event_frames[0] and num > 1 \
            and entry_frames[0] == event_frames[1]:
        offset = 1
    events = np.arange(num)
    for delta in SEARCH_ORDER:
        entries = events - offset + delta
        valid = (result < 0) & (entries >= 0) & (entries < len(entry_frames))
        idx = np.flatnonzero(valid)
        hit = entry_frames[entries[idx]] == event_frames[idx]
        result[idx[hit]] = entries[idx[hit]]
    return result


class TDMSContours(EventArray):
    """The ``contour`` feature of a TDMS dataset (parsed on access).

    Parameters
    ----------
    cfile
        The indexed contour file.
    entries
        Entry of each event (-1: no contour; an empty (0, 2) array).
    """

    def __init__(self, cfile: ContourFile, entries: np.ndarray) -> None:
        self.cfile = cfile
        self.entries = np.asarray(entries, dtype=np.int64)
        self._length = len(self.entries)
        self.shape = (self._length, np.nan, 2)
        self.dtype = np.dtype(np.int32)
        self._empty = np.zeros((0, 2), dtype=np.int32)
        self._empty.flags.writeable = False

    def _get_one(self, index: int) -> np.ndarray:
        entry = int(self.entries[index])
        if entry < 0:
            return self._empty
        data = self.cfile.points(entry)
        data.flags.writeable = False
        return data

    def _get_many(self, indices: np.ndarray) -> list[np.ndarray]:
        return [self._get_one(int(ii)) for ii in indices]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        raise TypeError("Ragged data (contours) cannot be converted to one "
                        "NumPy array; index it per event instead")


def contour_to_mask(contour: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Binary mask of the area enclosed by a contour (boundary included).

    Examples
    --------
    >>> square = np.array([[1, 1], [3, 1], [3, 3], [1, 3]])
    >>> int(contour_to_mask(square, (5, 5)).sum())
    9
    """
    mask = np.zeros(shape, dtype=np.uint8)
    if len(contour):
        pts = np.asarray(contour, dtype=np.int32).reshape(-1, 1, 2)
        cv2.drawContours(mask, [pts], -1, 1, thickness=cv2.FILLED)
    return mask.view(bool)


class ContourMasks(EventArray):
    """The ``mask`` feature of a TDMS dataset: filled contours.

    Parameters
    ----------
    contours
        The contours of the events.
    shape
        ``(height, width)`` of the images.
    """

    def __init__(self, contours: TDMSContours, shape: tuple[int, int]) -> None:
        self.contours = contours
        self._length = len(contours)
        self.shape = (self._length,) + tuple(int(s) for s in shape)
        self.dtype = np.dtype(bool)
        self.ndim = 3

    def _get_one(self, index: int) -> np.ndarray:
        mask = contour_to_mask(self.contours[index], self.shape[1:])
        mask.flags.writeable = False
        return mask

    def _get_many(self, indices: np.ndarray) -> np.ndarray:
        out = np.zeros((len(indices),) + self.shape[1:], dtype=bool)
        for pos, ii in enumerate(indices):
            out[pos] = self._get_one(int(ii))
        out.flags.writeable = False
        return out


def open_contours(tdms_path: pathlib.Path, frame: np.ndarray | None
                  ) -> tuple[ContourFile, TDMSContours] | None:
    """The contours of a measurement, None if it has no (usable) contour file."""
    path = find_contour_file(tdms_path)
    if path is None or frame is None:
        return None
    cfile = ContourFile(path)
    entries = match_entries(cfile.frames, np.asarray(frame))
    missing = int(np.sum(entries < 0))
    if missing == len(entries):
        warnings.warn(f"Ignoring '{path}': no entry matches the frame numbers "
                      f"of the events of '{tdms_path}'", ContourMismatchWarning,
                      stacklevel=3)
        cfile.close()
        return None
    if missing:
        warnings.warn(f"{missing} of {len(entries)} events of '{tdms_path}' have "
                      f"no contour in '{path.name}' (no entry with their frame "
                      f"number); they get an empty contour", ContourMismatchWarning,
                      stacklevel=3)
    return cfile, TDMSContours(cfile, entries)
