"""Cells across the frames of a movie and the lineage tree that links them.

A :class:`Lineage` holds :class:`Cell` objects under integer ids (counting up
from 1, as the labels of the label images). A cell lives on consecutive
frames; each frame has its :class:`CellFeatures` and, if the cell divided on
that frame, the id of its daughter. The daughter's first frame is the frame
of the division, and its ``motherid`` points back.

In the diagrams below, a row is a cell and a column a frame: ``╺`` is the
first frame of a cell without mother, ``┕`` the first frame of a daughter,
``┮`` a frame on which the cell divided and ``╼`` any other frame::

    frames : 0....5....
    cell #1: ╺╼╼╼╼┮╼╼╼╼
    cell #2:      ┕╼╼╼╼
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import CytolabError
from .diffs import color_diff, report

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

#: A cell pole: its pixel position as ``(y, x)`` (int16).
Pole = npt.NDArray[np.int16]


@dataclasses.dataclass
class CellFeatures:
    """Measurements of one cell on one frame.

    Parameters
    ----------
    new_pole, old_pole
        Pixel positions ``(y, x)`` of the pole made by the most recent
        division and of the older pole.
    length, width, area, perimeter
        Size of the cell in pixels (``area`` in pixels²).
    fluo
        Mean fluorescence inside the cell, one value per fluorescence channel.
    edges
        Image edges the cell touches: a concatenation of ``"-x"``, ``"+x"``,
        ``"-y"`` and ``"+y"``, or ``""``.
    growthrate_length, growthrate_area
        Growth rates in 1/frame (NaN until computed).
    """

    new_pole: Pole
    old_pole: Pole
    length: float = 0.0
    width: float = 0.0
    area: float = 0.0
    perimeter: float = 0.0
    fluo: list[float] = dataclasses.field(default_factory=list)
    edges: str = ""
    growthrate_length: float = math.nan
    growthrate_area: float = math.nan


# ------------------------------------------------------------------ errors
class LineageError(CytolabError, ValueError):
    """An edit of a lineage was refused; the lineage is unchanged."""


class CellAlreadyHasDaughterError(LineageError):
    """The would-be mother already has a daughter on that frame."""


class CellNotOnFrameError(CytolabError, LookupError):
    """A cell does not exist on the requested frame."""


class UnknownCellError(CytolabError, KeyError):
    """The lineage has no cell with that id."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------- features
_POLES = ("new_pole", "old_pole")
_SIZES = ("length", "width", "area", "perimeter")
_RATES = ("growthrate_length", "growthrate_area")


def _same_number(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def features_equal(a: CellFeatures, b: CellFeatures) -> bool:
    """Whether two :class:`CellFeatures` hold the same values.

    Poles and ``fluo`` are compared as arrays, and NaN equals NaN (the
    dataclass's own ``==`` cannot compare array-valued poles).

    Examples
    --------
    >>> import copy
    >>> import numpy as np
    >>> f = CellFeatures(np.array([1, 2], np.int16), np.array([9, 2], np.int16))
    >>> features_equal(f, copy.deepcopy(f))
    True
    """
    return not features_diffs(a, b)


def features_diffs(a: CellFeatures, b: CellFeatures) -> list[str]:
    """Differences between two :class:`CellFeatures`, one string per field."""
    diffs = []
    for name in _POLES:
        pa, pb = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        if not np.array_equal(pa, pb):
            diffs.append(color_diff(f"{name}: ", pa.tolist(), pb.tolist()))
    for name in (*_SIZES, *_RATES):
        va, vb = float(getattr(a, name)), float(getattr(b, name))
        if not _same_number(va, vb):
            diffs.append(color_diff(f"{name}: ", va, vb))
    fa = np.asarray(a.fluo, dtype=float)
    fb = np.asarray(b.fluo, dtype=float)
    if not np.array_equal(fa, fb, equal_nan=True):
        diffs.append(color_diff("fluo: ", fa.tolist(), fb.tolist()))
    if a.edges != b.edges:
        diffs.append(color_diff("edges: ", repr(a.edges), repr(b.edges)))
    return diffs


# -------------------------------------------------------------------- cell
@dataclasses.dataclass(eq=False)
class Cell:
    """One cell across the frames on which it exists.

    Parameters
    ----------
    motherid
        Id of the mother, None for a cell that did not appear by division.
    first_frame
        First frame of the cell.
    _daughterids
        For each frame of the cell: the id of the daughter born on that
        frame, or None.
    _features
        For each frame of the cell: its measurements.
    """

    motherid: int | None
    first_frame: int
    _daughterids: list[int | None]
    _features: list[CellFeatures]

    def __post_init__(self) -> None:
        if len(self._daughterids) != len(self._features) or not self._features:
            raise ValueError(f"A cell needs one daughter id (or None) and one "
                             f"CellFeatures per frame, and at least one frame; "
                             f"got {len(self._daughterids)} daughter ids and "
                             f"{len(self._features)} features")

    @property
    def frames(self) -> range:
        """The frames on which the cell exists."""
        return range(self.first_frame, self.first_frame + len(self._features))

    @property
    def last_frame(self) -> int:
        """The last frame on which the cell exists."""
        return self.first_frame + len(self._features) - 1

    def _index(self, frame: int) -> int:
        if frame not in self.frames:
            raise CellNotOnFrameError(
                f"frame {frame} is not a frame of this cell (it exists on "
                f"frames {self.first_frame} to {self.last_frame})")
        return frame - self.first_frame

    def daughterid(self, frame: int) -> int | None:
        """Id of the daughter born on `frame`, or None (no division then).

        Raises
        ------
        CellNotOnFrameError
            If the cell does not exist on `frame`.
        """
        return self._daughterids[self._index(frame)]

    def features(self, frame: int) -> CellFeatures:
        """Measurements of the cell on `frame`.

        Raises
        ------
        CellNotOnFrameError
            If the cell does not exist on `frame`.
        """
        return self._features[self._index(frame)]

    def poles(self, frame: int) -> tuple[Pole, Pole]:
        """``(new_pole, old_pole)`` of the cell on `frame`.

        Raises
        ------
        CellNotOnFrameError
            If the cell does not exist on `frame`.
        """
        feats = self.features(frame)
        return feats.new_pole, feats.old_pole

    def divisions(self) -> dict[int, int]:
        """Frame of each division of the cell to the daughter's id."""
        return {frame: did for frame, did in zip(self.frames, self._daughterids)
                if did is not None}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return (self.motherid == other.motherid
                and self.first_frame == other.first_frame
                and self._daughterids == other._daughterids
                and len(self._features) == len(other._features)
                and all(map(features_equal, self._features, other._features)))

    def diffs(self, other: Cell) -> list[Any]:
        """Difference tree (see :mod:`.diffs`) between two cells."""
        diffs: list[Any] = []
        if self.motherid != other.motherid:
            diffs.append(color_diff("motherid: ", self.motherid, other.motherid))
        if self.frames != other.frames:
            diffs.append(color_diff(
                "frames: ", f"{self.first_frame}..{self.last_frame}",
                f"{other.first_frame}..{other.last_frame}"))
        for frame in range(max(self.first_frame, other.first_frame),
                           min(self.last_frame, other.last_frame) + 1):
            frame_diffs = features_diffs(self.features(frame), other.features(frame))
            if self.daughterid(frame) != other.daughterid(frame):
                frame_diffs.insert(0, color_diff(
                    "daughterid: ", self.daughterid(frame), other.daughterid(frame)))
            if frame_diffs:
                diffs += [f"frame {frame}", frame_diffs]
        return diffs


# ----------------------------------------------------------------- lineage
#: Columns of :meth:`Lineage.to_table`, one row per cell and frame.
TABLE_COLUMNS = ("cellid", "frame", "motherid", "daughterid", *_POLES, *_SIZES,
                 "fluo", "edges", *_RATES)


@dataclasses.dataclass(eq=False)
class Lineage:
    """The cells of a region of interest and how they descend from each other.

    Two methods build a lineage frame by frame: :meth:`create` adds a cell
    (with or without mother) and :meth:`extend` adds the next frame of a
    cell::

                      create(frame=0)
        frames : 0....5....  ------------>   0....5....
        cell #1:                             ╺

                      create(frame=5)
        frames : 0....5....  ------------>   0....5....
        cell #1: ╺╼╼╼╼╼╼╼╼╼                  ╺╼╼╼╼╼╼╼╼╼
        cell #2:                                  ╺

                 create(frame=5, motherid=1)
        frames : 0....5....  ------------>   0....5....
        cell #1: ╺╼╼╼╼╼╼╼╼╼                  ╺╼╼╼╼┮╼╼╼╼
        cell #2:                                  ┕

                      extend(cellid=2)
        frames : 0....5....  ------------>   0....5....
        cell #1: ╺╼╼╼╼┮╼╼╼╼                  ╺╼╼╼╼┮╼╼╼╼
        cell #2:      ┕                           ┕╼

    Five methods edit it: :meth:`split` / :meth:`merge` cut a cell in two
    and join it again, :meth:`adopt` changes a cell's mother, :meth:`pivot`
    exchanges the roles of mother and daughter, :meth:`swap_poles` exchanges
    a cell's poles::

                  split(1, frame=5)
        frames : 0....5....  ------------>   0....5....
        cell #1: ╺╼╼╼╼╼╼╼╼╼                  ╺╼╼╼╼
        cell #2:                                  ╺╼╼╼╼
                            <------------
                              merge(2, 1)

                  adopt(2, 1)    pivot(2)      adopt(2, None)
        frames : 0..3......  ->  0..3......  ->  0..3......  ->  0..3......
        cell #1: ╺╼╼╼╼╼╼╼╼╼      ╺╼╼┮╼╼╼╼╼╼      ╺╼╼┮╼╼╼         ╺╼╼╼╼╼╼
        cell #2:    ╺╼╼╼            ┕╼╼╼            ┕╼╼╼╼╼╼         ╺╼╼╼╼╼╼
                 <-  adopt(2, None)  <-  pivot(2)  <-  adopt(2, 1)

    An edit that is not possible raises an error (a :class:`LineageError`,
    :class:`CellNotOnFrameError` or :class:`UnknownCellError`, all
    :class:`~cytolab.errors.CytolabError`) and leaves the lineage unchanged.
    These methods only change the lineage; the label images of a region of
    interest must be updated along (the region's own methods do both).

    Parameters
    ----------
    cells
        Cell id (>= 1) to :class:`Cell`.

    Examples
    --------
    >>> import numpy as np
    >>> pole = np.zeros(2, np.int16)
    >>> lin = Lineage()
    >>> lin.create(0, CellFeatures(pole, pole, length=10.0))
    1
    >>> lin.extend(1, CellFeatures(pole, pole, length=11.0))
    >>> lin.create(1, CellFeatures(pole, pole, length=4.0), motherid=1)
    2
    >>> lin.motherids()
    {1: None, 2: 1}
    """

    cells: dict[int, Cell] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for cellid in self.cells:
            if isinstance(cellid, bool) or not isinstance(cellid, (int, np.integer)) \
                    or cellid < 1:
                raise ValueError(f"Cell ids must be integers >= 1 (0 is the "
                                 f"background of label images), got {cellid!r}")

    # ---------------------------------------------------------- reading
    @property
    def next_cellid(self) -> int:
        """The id that the next new cell gets (one more than the largest)."""
        return max(self.cells, default=0) + 1

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[int]:
        return iter(self.cells)

    def __contains__(self, cellid: object) -> bool:
        return cellid in self.cells

    def cell(self, cellid: int) -> Cell:
        """The cell `cellid`.

        Raises
        ------
        UnknownCellError
            If there is no such cell.
        """
        try:
            return self.cells[cellid]
        except (KeyError, TypeError):
            raise UnknownCellError(
                f"The lineage has no cell {cellid!r} (it has "
                f"{len(self.cells)} cells, ids {_id_summary(self.cells)})") from None

    def _on_frame(self, cellid: int, frame: int) -> Cell:
        cell = self.cell(cellid)
        if frame not in cell.frames:
            raise CellNotOnFrameError(
                f"Cell {cellid} does not exist on frame {frame} (it exists on "
                f"frames {cell.first_frame} to {cell.last_frame})")
        return cell

    def motherids(self) -> dict[int, int | None]:
        """Cell id to mother id (None without mother), sorted by cell id."""
        return {cid: self.cells[cid].motherid for cid in sorted(self.cells)}

    def cellids_at(self, frame: int) -> list[int]:
        """Sorted ids of the cells that exist on `frame`."""
        return sorted(cid for cid, cell in self.cells.items() if frame in cell.frames)

    def check(self) -> None:
        """Check that mothers and daughters point at each other.

        Raises
        ------
        LineageError
            Naming the first inconsistency found.
        """
        for cid, cell in self.cells.items():
            mid = cell.motherid
            if mid is not None and (
                    mid not in self.cells
                    or cell.first_frame not in self.cells[mid].frames
                    or self.cells[mid].daughterid(cell.first_frame) != cid):
                raise LineageError(f"Cell {cid} names {mid} as mother, but {mid} "
                                   f"has no daughter {cid} on frame "
                                   f"{cell.first_frame}")
            for frame, did in cell.divisions().items():
                daughter = self.cells.get(did)
                if daughter is None or daughter.motherid != cid \
                        or daughter.first_frame != frame:
                    raise LineageError(f"Cell {cid} has daughter {did} on frame "
                                       f"{frame}, but that cell does not start "
                                       f"there with mother {cid}")
        self._check_no_cycles()

    def _check_no_cycles(self) -> None:
        for cid in self.cells:
            self._ancestors(cid)

    def _ancestors(self, cellid: int) -> list[int]:
        """Mother, grandmother, ... of `cellid` (LineageError on a cycle)."""
        seen = [cellid]
        mid = self.cells[cellid].motherid
        while mid is not None and mid in self.cells:
            if mid in seen:
                raise LineageError(f"Cell {cellid} descends from itself "
                                   f"(through {seen[1:]})")
            seen.append(mid)
            mid = self.cells[mid].motherid
        return seen[1:]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Lineage):
            return NotImplemented
        return (self.cells.keys() == other.cells.keys()
                and all(self.cells[cid] == other.cells[cid] for cid in self.cells))

    # --------------------------------------------------------- building
    def _check_mother(self, motherid: int, frame: int, cellid: int | None) -> Cell:
        """The mother-to-be, after checking that it can get a daughter on `frame`."""
        mother = self._on_frame(motherid, frame)
        current = mother.daughterid(frame)
        if current is not None and current != cellid:
            raise CellAlreadyHasDaughterError(
                f"Cell {motherid} already has daughter {current} on frame "
                f"{frame}; a cell divides at most once per frame")
        return mother

    def create(self, frame: int, features: CellFeatures,
               motherid: int | None = None) -> int:
        """Add a cell that appears on `frame`.

        Parameters
        ----------
        frame
            First frame of the cell.
        features
            Its measurements on that frame.
        motherid
            The mother, if the cell was born by division on `frame`; the
            mother must exist on `frame` and not have a daughter there yet.

        Returns
        -------
        int
            Id of the new cell (:attr:`next_cellid`).
        """
        if frame < 0:
            raise ValueError(f"Frames count from 0, got {frame}")
        if motherid is not None:
            self._check_mother(motherid, frame, None)
        cellid = self.next_cellid
        self.cells[cellid] = Cell(motherid, frame, [None], [features])
        if motherid is not None:
            mother = self.cells[motherid]
            mother._daughterids[frame - mother.first_frame] = cellid
        return cellid

    def extend(self, cellid: int, features: CellFeatures) -> None:
        """Add the next frame (after its last one) to cell `cellid`.

        Examples
        --------
        ::

            frames : ......
            cell #1: ╺╼╼╼╼
                        extend(cellid=1, features=features)
            frames : ......
            cell #1: ╺╼╼╼╼╼
        """
        cell = self.cell(cellid)
        cell._daughterids.append(None)
        cell._features.append(features)

    # ---------------------------------------------------------- editing
    def _set_mother_of_daughters(self, daughterids: list[int | None],
                                 motherid: int) -> None:
        for did in daughterids:
            if did is not None:
                self.cells[did].motherid = motherid

    def split(self, cellid: int, frame: int) -> int:
        """Cut cell `cellid` in two: from `frame` on it is a new cell.

        The new cell has no mother and takes the daughters born from `frame`
        on. Inverse of :meth:`merge`.

        Parameters
        ----------
        cellid
            Cell to cut.
        frame
            First frame of the new cell: after the first frame of `cellid`
            and not after its last.

        Returns
        -------
        int
            Id of the new cell.

        Examples
        --------
        ::

            frames : 0....5....
            cell #1: ╺╼╼╼╼╼╼╼╼╼
                        split(cellid=1, frame=5)
            frames : 0....5....
            cell #1: ╺╼╼╼╼
            cell #2:      ╺╼╼╼╼
        """
        cell = self._on_frame(cellid, frame)
        if frame == cell.first_frame:
            raise LineageError(f"Cannot split cell {cellid} on its first frame "
                               f"{frame}: the first part would have no frames")
        i = frame - cell.first_frame
        newid = self.next_cellid
        self.cells[newid] = Cell(None, frame, cell._daughterids[i:],
                                 cell._features[i:])
        del cell._daughterids[i:], cell._features[i:]
        self._set_mother_of_daughters(self.cells[newid]._daughterids, newid)
        return newid

    def merge(self, cellid: int, merge_into_cellid: int) -> None:
        """Append cell `cellid` to cell `merge_into_cellid`; `cellid` disappears.

        `cellid` must start on the frame after the last one of
        `merge_into_cellid` and have no mother (detach it first with
        ``adopt(cellid, None)``). Its daughters become daughters of
        `merge_into_cellid`. Inverse of :meth:`split`.

        Examples
        --------
        ::

            frames : ..........
            cell #1: ╺╼╼╼╼
            cell #2:      ╺╼╼╼╼
                        merge(cellid=2, merge_into_cellid=1)
            frames : ..........
            cell #1: ╺╼╼╼╼╼╼╼╼╼
        """
        cell = self.cell(cellid)
        into = self.cell(merge_into_cellid)
        if cellid == merge_into_cellid:
            raise LineageError(f"Cannot merge cell {cellid} into itself")
        if cell.first_frame != into.last_frame + 1:
            raise LineageError(
                f"Cannot merge cell {cellid} (frames {cell.first_frame} to "
                f"{cell.last_frame}) into cell {merge_into_cellid} (frames "
                f"{into.first_frame} to {into.last_frame}): it must start on the "
                f"frame after the last one of {merge_into_cellid}")
        if cell.motherid is not None:
            raise LineageError(
                f"Cannot merge cell {cellid} into {merge_into_cellid}: it has "
                f"mother {cell.motherid}; call adopt({cellid}, None) first")
        into._daughterids.extend(cell._daughterids)
        into._features.extend(cell._features)
        self._set_mother_of_daughters(cell._daughterids, merge_into_cellid)
        del self.cells[cellid]

    def adopt(self, cellid: int, motherid: int | None) -> None:
        """Make `motherid` the mother of `cellid` (None: no mother).

        The mother must exist on the first frame of `cellid` and not have
        another daughter on that frame. Calling it again with the previous
        mother undoes it.

        Raises
        ------
        CellNotOnFrameError
            If the mother does not exist on the first frame of `cellid`.
        CellAlreadyHasDaughterError
            If the mother has another daughter on that frame.
        LineageError
            If the cell would descend from itself.

        Examples
        --------
        ::

            frames    : ..........
            cell #0001: ╺╼╼╼╼╼╼╼╼╼
            cell #0002:      ╺╼╼╼╼
                        adopt(cellid=2, motherid=1)
            frames    : ..........
            cell #0001: ╺╼╼╼╼┮╼╼╼╼
            cell #0002:      ┕╼╼╼╼
                        adopt(cellid=2, motherid=None)
            frames    : ..........
            cell #0001: ╺╼╼╼╼╼╼╼╼╼
            cell #0002:      ╺╼╼╼╼
        """
        cell = self.cell(cellid)
        if motherid is not None:
            self._check_mother(motherid, cell.first_frame, cellid)
            if motherid == cellid or cellid in self._ancestors(motherid):
                raise LineageError(f"Cell {motherid} descends from cell {cellid} "
                                   f"and cannot become its mother")
        old = cell.motherid
        if old is not None and old in self.cells:
            mother = self.cells[old]
            mother._daughterids[cell.first_frame - mother.first_frame] = None
        cell.motherid = motherid
        if motherid is not None:
            mother = self.cells[motherid]
            mother._daughterids[cell.first_frame - mother.first_frame] = cellid

    def pivot(self, cellid: int) -> None:
        """Exchange the roles of cell `cellid` and its mother.

        From the division on, the mother's id continues with the frames (and
        later daughters) of `cellid`, and `cellid` with those of the mother.
        Doing it twice restores the lineage.

        Examples
        --------
        ::

            frames    : .......
            cell #0001: ╺┮┮╼
            cell #0003:  │┕╼╼
            cell #0002:  ┕╼┮╼╼
            cell #0004:    ┕╼╼╼
                        pivot(cellid=2)
            frames    : .......
            cell #0001: ╺┮╼┮╼╼
            cell #0004:  │ ┕╼╼╼
            cell #0002:  ┕┮╼
            cell #0003:   ┕╼╼
        """
        cell = self.cell(cellid)
        if cell.motherid is None:
            raise LineageError(f"Cannot pivot cell {cellid}: it has no mother")
        motherid = cell.motherid
        mother = self.cells[motherid]
        i = cell.first_frame - mother.first_frame
        mother_tail_d = mother._daughterids[i + 1:]
        mother_tail_f = mother._features[i:]
        cell_tail_d = cell._daughterids[1:]
        mother._daughterids[i + 1:] = cell_tail_d
        mother._features[i:] = cell._features
        cell._daughterids[1:] = mother_tail_d
        cell._features[:] = mother_tail_f
        self._set_mother_of_daughters(cell_tail_d, motherid)
        self._set_mother_of_daughters(mother_tail_d, cellid)

    def swap_poles(self, cellid: int, frame: int | None = None) -> None:
        """Exchange the new and old pole of cell `cellid` from `frame` on.

        Pole ages decide which cell of a division is the mother (the one
        with the old pole). So the poles are exchanged on the frames from
        `frame` (all frames if None) up to the cell's next division after
        `frame`; at that division the mother and daughter roles are
        exchanged (:meth:`pivot`), because the former daughter is the cell
        that has the (now) old pole. The poles after that division need no
        change: the daughter's old pole was the mother's new pole. This
        assumes the pole tracking is symmetric in the old and new pole (as
        :func:`.tracking.track_poles` and :func:`.tracking.division_poles`
        are). Calling it twice restores the lineage.

        Examples
        --------
        ::

            frames : 0....5....
            cell #1: ╺╼╼╼╼┮╼╼╼╼
            cell #2:      ┕╼╼╼╼
                        swap_poles(cellid=1, frame=2)
            frames : 0....5....
            cell #1: ╺╼╼╼╼┮╼╼╼╼   poles exchanged on frames 2 to 4, and from
            cell #2:      ┕╼╼╼╼   frame 5 on cells 1 and 2 exchanged (pivot)
        """
        cell = self.cell(cellid)
        if frame is None:
            frame = cell.first_frame
        self._on_frame(cellid, frame)
        later = [f for f in cell.divisions() if f > frame]
        stop = min(later) if later else cell.last_frame + 1
        for f in range(frame, stop):
            feats = cell._features[f - cell.first_frame]
            feats.new_pole, feats.old_pole = feats.old_pole, feats.new_pole
        if later:
            self.pivot(cell.daughterid(stop))

    # --------------------------------------------------------- analysis
    def compute_growthrates(self, feature: str = "length",
                            smooth_frames: int = 7, *,
                            exclude_edges: bool = False) -> None:
        """Compute every cell's growth rate on every frame, in 1/frame.

        The rate on frame t is half the change of the log size between frame
        t-1 and t+1, smoothed by a running mean over a centred window. Across
        a division (the doc's notation: mother m, daughter d, division on
        frame 3) the sizes are renormalised so that the ratios measure the
        growth of the whole: the mother's sizes from the division on are
        multiplied by (1 + d₃/m₃) and the daughter's frames before its birth
        are the mother's sizes times d₃/(m₃+d₃), e.g. the mother's rate on
        frame 2 uses (m₃+d₃)/m₁ and the daughter's rate on frame 3 uses
        d₄/(m₂·d₃/(m₃+d₃)). One such factor is added per division, in log
        space (so long movies do not overflow). The smoothing window runs
        back through the mother (and her mother, ...) in the same way.

        Where frame t-1 or t+1 does not exist (first frame of a cell without
        mother, last frame of a cell, ends of the movie), the one-sided
        difference over one frame is used, so every frame of a cell with at
        least two known frames (counting its ancestors) gets a rate; the
        smoothing window is cut at the ends. A size <= 0 or NaN makes the
        changes into and out of its frame unknown; the smoothing skips
        unknown values (a rate is NaN only if its whole window is).

        To convert to other units, divide by the frame interval: with frames
        5 min apart, GR [1/h] = GR [1/frame] / (5/60).

        Parameters
        ----------
        feature
            Size feature: ``"length"`` or ``"area"``; the result goes into
            ``growthrate_<feature>`` of each :class:`CellFeatures`.
        smooth_frames
            Size (odd, >= 1) of the centred smoothing window; 1 does not
            smooth.
        exclude_edges
            Treat the size of a cell touching the image edge (non-empty
            ``edges``: the cell is cut, its size is not its own) as unknown.
            An extension of cytolab; off by default as in the reference.
        """
        target = f"growthrate_{feature}"
        if target not in _RATES:
            raise ValueError(f"Cannot compute growth rates of {feature!r}; "
                             f"choose one of {[r[11:] for r in _RATES]}")
        if isinstance(smooth_frames, bool) or not isinstance(
                smooth_frames, (int, np.integer)) or smooth_frames < 1 \
                or smooth_frames % 2 == 0:
            raise ValueError(f"smooth_frames must be an odd integer >= 1 (a "
                             f"centred window), got {smooth_frames!r}")
        steps = {cid: self._log_steps(cid, feature, exclude_edges)
                 for cid in self.cells}
        half = smooth_frames // 2
        for cid, cell in self.cells.items():
            start, series = self._extended_log_steps(cid, steps, half + 1)
            rates = _centred_mean(_rates_from_steps(series), smooth_frames)
            for feats, rate in zip(cell._features, rates[cell.first_frame - start:]):
                setattr(feats, target, float(rate))

    def _log_steps(self, cellid: int, feature: str, exclude_edges: bool = False
                   ) -> np.ndarray:
        """Renormalised change of a cell's log size into each of its frames.

        Entry k is log(size[k] / size[k-1]), plus log(1 + daughter/mother)
        on a division frame (the growth of the whole); entry 0 is NaN.
        """
        cell = self.cells[cellid]
        sizes = np.array([np.nan if exclude_edges and f.edges else getattr(f, feature)
                          for f in cell._features], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.where(sizes > 0, sizes, np.nan))
            steps = np.concatenate([[np.nan], np.diff(logs)])
            for frame, did in cell.divisions().items():
                i = frame - cell.first_frame
                dfeat = self.cells[did].features(frame)
                dsize = np.nan if exclude_edges and dfeat.edges else \
                    float(getattr(dfeat, feature))
                valid = dsize > 0 and sizes[i] > 0
                steps[i] += np.log1p(dsize / sizes[i]) if valid else np.nan
        return steps

    def _extended_log_steps(self, cellid: int, steps: Mapping[int, np.ndarray],
                            back: int) -> tuple[int, np.ndarray]:
        """Log-size steps of a cell, preceded by up to `back` steps of its
        ancestors: the step into a daughter's first frame is the mother's
        (renormalised) step into that frame.

        Returns the first frame of the series and its steps into the
        following frames.
        """
        cell = self.cells[cellid]
        parts = [steps[cellid][1:]]
        start = cell.first_frame
        for _ in range(len(self.cells)):  # bounded even if links form a loop
            if back <= 0 or cell.motherid not in self.cells:
                break
            mother = self.cells[cell.motherid]
            i = start - mother.first_frame
            take = min(back, i)
            parts.insert(0, steps[cell.motherid][i - take + 1:i + 1])
            start, back, cell = start - take, back - take, mother
        return start, np.concatenate(parts)

    def compare(self, other: object, level: int = 0) -> list[Any] | None:
        """List the differences between this lineage and `other`.

        Parameters
        ----------
        other
            The lineage to compare with.
        level
            0: print the differences (nothing if there are none) and return
            None. Higher levels are for callers that nest the result in their
            own difference tree (e.g. a region of interest's ``compare``):
            the differences are returned, not printed.

        Returns
        -------
        list or None
            Difference tree (see :mod:`.diffs`), empty if equal; None at
            level 0.
        """
        return report(self._diffs(other), level)

    def _diffs(self, other: object) -> list[Any]:
        if not isinstance(other, Lineage):
            return [color_diff("type: ", "Lineage", type(other).__name__)]
        diffs: list[Any] = []
        only_self = sorted(set(self.cells) - set(other.cells))
        only_other = sorted(set(other.cells) - set(self.cells))
        if only_self:
            diffs.append(f"cells only in the first lineage: {only_self}")
        if only_other:
            diffs.append(f"cells only in the second lineage: {only_other}")
        for cid in sorted(set(self.cells) & set(other.cells)):
            cell_diffs = self.cells[cid].diffs(other.cells[cid])
            if cell_diffs:
                diffs += [f"cell {cid}", cell_diffs]
        return diffs

    def plot(self, *, order_key: Callable[[Cell], float] | None = None, ax: Axes,
             colors: Mapping[int, tuple[float, float, float]] | None = None,
             labels: bool = True) -> Axes:
        """Draw the lineage tree on `ax`.

        Each cell is a horizontal line over its frames (from frame - 0.5 of
        its first to + 0.5 of its last); a vertical line at the division
        (frame - 0.5) joins a daughter to its mother. Below each cell come its
        daughters, the latest-born first, so that no lines cross.

        Parameters
        ----------
        order_key
            Function of a :class:`Cell` whose value orders the cells without
            mother from top to bottom (default: by id). For a vertical
            mother machine, e.g. ``lambda cell: cell.poles(cell.first_frame)[0][0]``
            orders them by their position on their first frame.
        ax
            matplotlib axes to draw on.
        colors
            Cell id to ``(r, g, b)`` in [0, 1] (cells without an entry are
            black); by default :func:`.video.random_colors` of the cell ids.
        labels
            Write each cell's id at the end of its line.

        Returns
        -------
        matplotlib.axes.Axes
            `ax`, with the cell lines and the division lines as two
            :class:`~matplotlib.collections.LineCollection` objects.
        """
        try:
            from matplotlib.collections import LineCollection
        except ImportError as exc:
            raise ImportError(f"Lineage.plot needs matplotlib, which is not "
                              f"installed ({exc}); install it with: "
                              f'pip install "cytolab[plot]"') from exc
        from .video import random_colors

        if colors is None:
            colors = random_colors(self.cells)
        rows = {cid: row for row, cid in enumerate(self._plot_order(order_key))}
        color = {cid: colors.get(cid, (0.0, 0.0, 0.0)) for cid in rows}
        cell_lines = [[(self.cells[cid].first_frame - 0.5, row),
                       (self.cells[cid].last_frame + 0.5, row)]
                      for cid, row in rows.items()]
        links = [(did, cid, frame) for cid in rows
                 for frame, did in self.cells[cid].divisions().items()]
        division_lines = [[(frame - 0.5, rows[mid]), (frame - 0.5, rows[did])]
                          for did, mid, frame in links]
        ax.add_collection(LineCollection(cell_lines, colors=[color[c] for c in rows],
                                         linewidths=2))
        ax.add_collection(LineCollection(division_lines, linewidths=1,
                                         colors=[color[d] for d, _, _ in links]))
        if labels:
            for cid, row in rows.items():
                ax.text(self.cells[cid].last_frame + 0.7, row, str(cid),
                        va="center", ha="left", fontsize="x-small")
        if rows:
            first = min(c.first_frame for c in self.cells.values())
            last = max(c.last_frame for c in self.cells.values())
            ax.set_xlim(first - 1, last + (3 if labels else 1))
            ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("frame")
        ax.set_yticks([])
        return ax

    def _plot_order(self, order_key: Callable[[Cell], float] | None) -> list[int]:
        """Cell ids from top to bottom: each cell above its subtree."""
        roots = [cid for cid, c in self.cells.items()
                 if c.motherid is None or c.motherid not in self.cells]
        if order_key is None:
            roots.sort()
        else:
            roots.sort(key=lambda cid: (order_key(self.cells[cid]), cid))
        order: list[int] = []
        stack = roots[::-1]
        while stack:
            cid = stack.pop()
            order.append(cid)
            # pushed in birth order, so the latest-born daughter comes next
            stack.extend(did for _, did in sorted(self.cells[cid].divisions().items()))
        return order

    # ------------------------------------------------------------ table
    def to_table(self) -> dict[str, np.ndarray]:
        """All cells as plain arrays, one row per cell and frame.

        Rows are sorted by cell id and frame. Columns (:data:`TABLE_COLUMNS`):
        ``cellid``, ``frame``, ``motherid`` (the cell's mother, repeated on
        each of its rows) and ``daughterid`` (0 for none), all int32;
        ``new_pole`` and ``old_pole`` (rows, 2) int16 ``(y, x)``; ``length``,
        ``width``, ``area``, ``perimeter``, ``growthrate_length`` and
        ``growthrate_area`` float64; ``fluo`` (rows, channels) float64;
        ``edges`` unicode strings. :meth:`from_table` rebuilds the lineage
        exactly.

        Raises
        ------
        ValueError
            If the cells have different numbers of fluorescence channels.
        """
        rows = [(cid, frame, cell, feats) for cid in sorted(self.cells)
                for cell in (self.cells[cid],)
                for frame, feats in zip(cell.frames, cell._features)]
        nfluo = {len(feats.fluo) for *_, feats in rows}
        if len(nfluo) > 1:
            raise ValueError(f"Cells have different numbers of fluorescence "
                             f"channels ({sorted(nfluo)}); cannot make a table")
        table: dict[str, np.ndarray] = {
            "cellid": np.array([r[0] for r in rows], dtype=np.int32),
            "frame": np.array([r[1] for r in rows], dtype=np.int32),
            "motherid": np.array([r[2].motherid or 0 for r in rows], dtype=np.int32),
            "daughterid": np.array([r[2].daughterid(r[1]) or 0 for r in rows],
                                   dtype=np.int32),
        }
        feats = [r[3] for r in rows]
        for name in _POLES:
            table[name] = np.array([getattr(f, name) for f in feats],
                                   dtype=np.int16).reshape(len(rows), 2)
        for name in _SIZES:
            table[name] = np.array([getattr(f, name) for f in feats], dtype=np.float64)
        table["fluo"] = np.array([list(f.fluo) for f in feats], dtype=np.float64
                                 ).reshape(len(rows), nfluo.pop() if nfluo else 0)
        table["edges"] = np.array([f.edges for f in feats], dtype=np.str_)
        for name in _RATES:
            table[name] = np.array([getattr(f, name) for f in feats], dtype=np.float64)
        return {name: table[name] for name in TABLE_COLUMNS}

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Lineage:
        """Rebuild a lineage from the arrays of :meth:`to_table`.

        Rows may come in any order.

        Raises
        ------
        ValueError
            If a column is missing or has the wrong number of rows.
        LineageError
            If a cell's frames are not consecutive or mother and daughter
            links disagree.
        """
        missing = [name for name in TABLE_COLUMNS if name not in table]
        if missing:
            raise ValueError(f"Lineage table lacks the columns {missing}")
        cols = {name: np.asarray(table[name]) for name in TABLE_COLUMNS}
        nrows = len(cols["cellid"])
        wrong = [name for name, col in cols.items() if len(col) != nrows]
        if wrong:
            raise ValueError(f"Lineage table columns {wrong} do not have "
                             f"{nrows} rows like 'cellid'")
        order = np.lexsort((cols["frame"], cols["cellid"]))
        cols = {name: col[order] for name, col in cols.items()}
        ids, starts = np.unique(cols["cellid"], return_index=True)
        cells: dict[int, Cell] = {}
        for cid, lo, hi in zip(ids.tolist(), starts, [*starts[1:], nrows]):
            frames = cols["frame"][lo:hi]
            if not np.array_equal(frames, np.arange(frames[0], frames[0] + hi - lo)):
                raise LineageError(f"Lineage table: the frames of cell {cid} are "
                                   f"not consecutive: {frames.tolist()}")
            mid = int(cols["motherid"][lo])
            daughters = [int(d) or None for d in cols["daughterid"][lo:hi]]
            cells[cid] = Cell(mid or None, int(frames[0]), daughters,
                              [_row_features(cols, i) for i in range(lo, hi)])
        lineage = cls(cells)
        lineage.check()
        return lineage


def _row_features(cols: Mapping[str, np.ndarray], i: int) -> CellFeatures:
    return CellFeatures(
        new_pole=np.array(cols["new_pole"][i], dtype=np.int16),
        old_pole=np.array(cols["old_pole"][i], dtype=np.int16),
        **{name: float(cols[name][i]) for name in (*_SIZES, *_RATES)},
        fluo=[float(v) for v in cols["fluo"][i]],
        edges=str(cols["edges"][i]))


def _id_summary(ids: Mapping[int, Any]) -> str:
    if not ids:
        return "none"
    return f"{min(ids)} to {max(ids)}"


def _rates_from_steps(steps: np.ndarray) -> np.ndarray:
    """Per-frame rates of len(steps) + 1 frames: the mean of the steps before
    and after a frame (half the change from frame-1 to frame+1), one step at
    the ends."""
    rates = np.full(len(steps) + 1, np.nan)
    if len(steps):
        rates[1:-1] = (steps[:-1] + steps[1:]) / 2
        rates[0] = steps[0]
        rates[-1] = steps[-1]
    return rates


def _centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over a centred window, cut at the ends, ignoring NaN."""
    valid = ~np.isnan(values)
    csum = np.concatenate([[0.0], np.cumsum(np.where(valid, values, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(valid)])
    idx = np.arange(len(values))
    lo = np.clip(idx - window // 2, 0, len(values))
    hi = np.clip(idx + window // 2 + 1, 0, len(values))
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / count, np.nan)
