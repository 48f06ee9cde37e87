"""Lineage trees: building, editing (the reference diagrams), growth rates,
comparison, plotting and the table round trip."""
from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest

from cytolab.errors import CytolabError
from cytolab.timelapse.diffs import color_diff
from cytolab.timelapse.lineage import (
    TABLE_COLUMNS,
    Cell,
    CellAlreadyHasDaughterError,
    CellFeatures,
    CellNotOnFrameError,
    Lineage,
    LineageError,
    UnknownCellError,
    features_equal,
)
from cytolab.timelapse.tracking import division_poles


# ------------------------------------------------------------------ helpers
def feats(cellid: int, frame: int, **kw) -> CellFeatures:
    """Features tagged with their origin: length = 100 * cellid + frame."""
    kw.setdefault("length", float(100 * cellid + frame))
    return CellFeatures(new_pole=np.array([frame, cellid], np.int16),
                        old_pole=np.array([frame, -cellid], np.int16), **kw)


def from_diagram(rows: dict[int, str], mothers: dict[int, int]) -> Lineage:
    """A lineage drawn like the reference documentation.

    ``╺`` starts a cell without mother, ``┕`` a daughter (its mother given in
    `mothers`), ``┮`` marks the mother's division frame, ``╼`` continues;
    ``│`` and spaces are ignored.
    """
    cells = {}
    for cid, row in rows.items():
        first = next(i for i, ch in enumerate(row) if ch in "╺┕")
        last = len(row.rstrip()) - 1
        cells[cid] = Cell(mothers.get(cid), first, [None] * (last - first + 1),
                          [feats(cid, f) for f in range(first, last + 1)])
    for cid, mid in mothers.items():
        mother = cells[mid]
        mother._daughterids[cells[cid].first_frame - mother.first_frame] = cid
    lineage = Lineage(cells)
    lineage.check()
    assert render(lineage) == clean(rows)
    return lineage


def clean(rows: dict[int, str]) -> dict[int, str]:
    return {cid: row.replace("│", " ").rstrip() for cid, row in rows.items()}


def render(lineage: Lineage) -> dict[int, str]:
    """The diagram rows of a lineage (see :func:`from_diagram`)."""
    out = {}
    for cid, cell in lineage.cells.items():
        chars = [" "] * cell.first_frame
        for frame in cell.frames:
            if frame == cell.first_frame:
                chars.append("╺" if cell.motherid is None else "┕")
            elif cell.daughterid(frame) is not None:
                chars.append("┮")
            else:
                chars.append("╼")
        out[cid] = "".join(chars)
    return out


def origins(lineage: Lineage, cellid: int) -> list[int]:
    """Tags (100 * original cell + frame) of the frames of a cell."""
    return [int(f.length) for f in lineage.cells[cellid]._features]


# ---------------------------------------------------------------- Cell
def test_cell_accessors():
    cell = Cell(None, 3, [None, 7, None], [feats(1, f) for f in (3, 4, 5)])
    assert cell.frames == range(3, 6)
    assert cell.last_frame == 5
    assert cell.daughterid(4) == 7 and cell.daughterid(3) is None
    assert cell.features(5).length == 105.0
    new, old = cell.poles(4)
    assert new.tolist() == [4, 1] and old.tolist() == [4, -1]
    assert cell.divisions() == {4: 7}
    for method in (cell.daughterid, cell.features, cell.poles):
        for frame in (2, 6):
            with pytest.raises(CellNotOnFrameError, match=f"frame {frame} .*3 to 5"):
                method(frame)
    assert issubclass(CellNotOnFrameError, (CytolabError, LookupError))


def test_cell_needs_matching_lists():
    with pytest.raises(ValueError, match="one daughter id"):
        Cell(None, 0, [None, None], [feats(1, 0)])
    with pytest.raises(ValueError, match="at least one frame"):
        Cell(None, 0, [], [])


def test_equality_with_array_poles_and_nan():
    lin = from_diagram({1: "╺╼┮╼", 2: "  ┕╼"}, {2: 1})
    other = copy.deepcopy(lin)
    assert lin == other  # NaN growth rates and numpy poles compare fine
    other.cells[2].features(3).old_pole[0] = 99
    assert lin != other
    other = copy.deepcopy(lin)
    other.cells[1].features(0).fluo = [1.0]
    assert lin != other
    assert lin != "lineage" and lin.cells[1] != 1
    a = feats(1, 0, fluo=[0.5, math.nan])
    assert features_equal(a, copy.deepcopy(a))
    assert not features_equal(a, feats(1, 0, fluo=[0.5, 1.0]))


# ------------------------------------------------------- create / extend
def test_create_and_extend_as_in_the_diagrams():
    lin = Lineage()
    assert lin.next_cellid == 1
    assert lin.create(0, feats(1, 0)) == 1
    assert render(lin) == {1: "╺"}
    for frame in range(1, 10):
        lin.extend(1, feats(1, frame))
    with_new = copy.deepcopy(lin)
    assert with_new.create(5, feats(2, 5)) == 2
    assert render(with_new) == {1: "╺╼╼╼╼╼╼╼╼╼", 2: "     ╺"}
    assert lin.create(5, feats(2, 5), motherid=1) == 2
    assert render(lin) == {1: "╺╼╼╼╼┮╼╼╼╼", 2: "     ┕"}
    lin.extend(2, feats(2, 6))
    assert render(lin) == {1: "╺╼╼╼╼┮╼╼╼╼", 2: "     ┕╼"}
    assert lin.next_cellid == 3  # extend used no id
    assert lin.motherids() == {1: None, 2: 1}
    assert lin.cellids_at(4) == [1] and lin.cellids_at(6) == [1, 2]
    assert lin.cellids_at(10) == []
    lin.check()


def test_create_refusals_leave_the_lineage_unchanged():
    lin = from_diagram({1: "╺╼┮╼╼", 2: "  ┕╼"}, {2: 1})
    before = copy.deepcopy(lin)
    with pytest.raises(CellAlreadyHasDaughterError, match="already has daughter 2"):
        lin.create(2, feats(3, 2), motherid=1)
    with pytest.raises(CellNotOnFrameError, match="Cell 2 does not exist on frame 1"):
        lin.create(1, feats(3, 1), motherid=2)
    with pytest.raises(UnknownCellError, match="no cell 9"):
        lin.create(1, feats(3, 1), motherid=9)
    with pytest.raises(ValueError, match="from 0"):
        lin.create(-1, feats(3, 0))
    with pytest.raises(UnknownCellError):
        lin.extend(9, feats(9, 0))
    assert lin == before


def test_cell_ids_must_be_positive():
    with pytest.raises(ValueError, match=">= 1"):
        Lineage({0: Cell(None, 0, [None], [feats(0, 0)])})


# ------------------------------------------------------------ split / merge
def test_split_and_merge_diagram():
    lin = from_diagram({1: "╺╼╼╼╼╼╼╼╼╼"}, {})
    before = copy.deepcopy(lin)
    assert lin.split(1, frame=5) == 2
    assert render(lin) == {1: "╺╼╼╼╼", 2: "     ╺╼╼╼╼"}
    assert origins(lin, 2) == [105, 106, 107, 108, 109]
    lin.merge(2, 1)
    assert lin == before


def test_split_moves_later_daughters_and_merge_takes_them_back():
    rows = {1: "╺╼┮╼╼┮╼╼", 2: "  ┕╼", 3: "     ┕╼╼╼"}
    lin = from_diagram(rows, {2: 1, 3: 1})
    before = copy.deepcopy(lin)
    assert lin.split(1, 5) == 4
    assert render(lin) == {1: "╺╼┮╼╼", 2: "  ┕╼", 3: "     ┕╼╼╼", 4: "     ╺╼╼"}
    assert lin.motherids() == {1: None, 2: 1, 3: 4, 4: None}
    lin.check()
    lin.merge(4, 1)
    assert lin == before


def test_split_merge_refusals_leave_the_lineage_unchanged():
    lin = from_diagram({1: "╺┮╼╼", 2: "     ╺╼", 3: "    ╺╼", 4: " ┕╼╼╼╼",
                        5: "╺"}, {4: 1})
    before = copy.deepcopy(lin)
    with pytest.raises(CellNotOnFrameError, match="Cell 1 does not exist on frame 4"):
        lin.split(1, 4)
    with pytest.raises(CellNotOnFrameError):
        lin.split(1, -1)
    with pytest.raises(LineageError, match="first frame 0"):
        lin.split(1, 0)
    with pytest.raises(LineageError, match="frame after the last one of 1"):
        lin.merge(2, 1)  # gap of one frame
    with pytest.raises(LineageError, match="frame after the last one of 3"):
        lin.merge(1, 3)  # wrong order
    with pytest.raises(LineageError, match="has mother 1"):
        lin.merge(4, 5)
    with pytest.raises(LineageError, match="into itself"):
        lin.merge(3, 3)
    with pytest.raises(UnknownCellError, match="no cell 9"):
        lin.merge(9, 1)
    with pytest.raises(UnknownCellError):
        lin.merge(3, 9)
    with pytest.raises(UnknownCellError):
        lin.split(9, 1)
    assert lin == before
    lin.merge(3, 1)  # consecutive and motherless: fine
    assert render(lin) == {1: "╺┮╼╼╼╼", 2: "     ╺╼", 4: " ┕╼╼╼╼", 5: "╺"}


# ------------------------------------------------------------ adopt / pivot
ADOPT_PIVOT_STAGES = [
    {1: "╺╼╼╼╼╼╼╼╼╼", 2: "   ╺╼╼╼"},
    {1: "╺╼╼┮╼╼╼╼╼╼", 2: "   ┕╼╼╼"},
    {1: "╺╼╼┮╼╼╼", 2: "   ┕╼╼╼╼╼╼"},
    {1: "╺╼╼╼╼╼╼", 2: "   ╺╼╼╼╼╼╼"},
]


def test_adopt_pivot_adopt_diagram_and_back():
    lin = from_diagram(ADOPT_PIVOT_STAGES[0], {})
    snapshots = [copy.deepcopy(lin)]
    for step, stage in zip((lambda: lin.adopt(2, 1), lambda: lin.pivot(2),
                            lambda: lin.adopt(2, None)), ADOPT_PIVOT_STAGES[1:]):
        step()
        assert render(lin) == stage
        lin.check()
        snapshots.append(copy.deepcopy(lin))
    assert origins(lin, 1) == [100, 101, 102, 203, 204, 205, 206]
    assert origins(lin, 2) == [103, 104, 105, 106, 107, 108, 109]
    # and the way back, through the same states
    lin.adopt(2, 1)
    assert lin == snapshots[2]
    lin.pivot(2)
    assert lin == snapshots[1]
    lin.adopt(2, None)
    assert lin == snapshots[0]


def test_pivot_diagram_moves_daughters():
    before_rows = {1: "╺┮┮╼", 3: " │┕╼╼", 2: " ┕╼┮╼╼", 4: "   ┕╼╼╼"}
    lin = from_diagram(before_rows, {2: 1, 3: 1, 4: 2})
    before = copy.deepcopy(lin)
    lin.pivot(2)
    assert render(lin) == clean({1: "╺┮╼┮╼╼", 4: " │ ┕╼╼╼", 2: " ┕┮╼", 3: "  ┕╼╼"})
    assert lin.motherids() == {1: None, 2: 1, 3: 2, 4: 1}
    assert origins(lin, 1) == [100, 201, 202, 203, 204, 205]
    assert origins(lin, 2) == [101, 102, 103]
    lin.check()
    lin.pivot(2)
    assert lin == before


def test_adopt_changes_mother_and_is_its_own_inverse():
    lin = from_diagram({1: "╺╼┮╼╼╼", 2: "╺╼╼╼╼╼", 3: "  ┕╼╼"}, {3: 1})
    before = copy.deepcopy(lin)
    lin.adopt(3, 2)
    assert lin.motherids() == {1: None, 2: None, 3: 2}
    assert lin.cells[1].daughterid(2) is None and lin.cells[2].daughterid(2) == 3
    lin.check()
    lin.adopt(3, 1)
    assert lin == before
    lin.adopt(3, 1)  # already its mother: nothing changes
    assert lin == before


def test_adopt_and_pivot_refusals_leave_the_lineage_unchanged():
    # cell 2 is born on the first frame of its mother 1
    lin = from_diagram({1: "   ╺╼╼╼", 2: "   ┕╼╼", 3: "╺╼╼╼╼╼╼╼", 4: "     ╺╼",
                        5: "   ╺╼╼"}, {2: 1})
    lin.adopt(5, 3)
    before = copy.deepcopy(lin)
    with pytest.raises(CellNotOnFrameError, match="Cell 4 does not exist on frame 3"):
        lin.adopt(2, 4)  # the mother is not there when 2 appears
    with pytest.raises(CellAlreadyHasDaughterError, match="already has daughter 5"):
        lin.adopt(1, 3)  # 3 already divided on frame 3
    with pytest.raises(LineageError, match="descends from cell 1"):
        lin.adopt(1, 2)  # 2 is 1's daughter, born on 1's first frame
    with pytest.raises(LineageError, match="descends from cell 3"):
        lin.adopt(3, 3)
    with pytest.raises(UnknownCellError):
        lin.adopt(9, None)
    with pytest.raises(UnknownCellError):
        lin.adopt(4, 9)
    with pytest.raises(LineageError, match="no mother"):
        lin.pivot(3)
    with pytest.raises(UnknownCellError):
        lin.pivot(9)
    assert lin == before
    assert issubclass(CellAlreadyHasDaughterError, (LineageError, ValueError))
    assert issubclass(UnknownCellError, (CytolabError, KeyError))


# --------------------------------------------------------------- swap_poles
def poles(lin: Lineage, cellid: int) -> list[list[list[int]]]:
    return [[f.new_pole.tolist(), f.old_pole.tolist()]
            for f in lin.cells[cellid]._features]


def test_swap_poles_without_divisions():
    lin = from_diagram({1: "╺╼╼╼╼"}, {})
    before = copy.deepcopy(lin)
    lin.swap_poles(1)
    assert poles(lin, 1) == [[[f, -1], [f, 1]] for f in range(5)]
    lin.swap_poles(1)
    assert lin == before
    lin.swap_poles(1, frame=3)
    assert poles(lin, 1) == ([[[f, 1], [f, -1]] for f in range(3)]
                             + [[[f, -1], [f, 1]] for f in (3, 4)])
    lin.swap_poles(1, 3)
    assert lin == before


def test_swap_poles_pivots_at_the_next_division():
    rows = {1: "╺╼╼╼╼┮╼╼┮╼", 2: "     ┕╼╼╼╼", 3: "        ┕╼"}
    lin = from_diagram(rows, {2: 1, 3: 1})
    before = copy.deepcopy(lin)
    lin.swap_poles(1, frame=2)
    assert poles(lin, 1)[:5] == ([[[f, 1], [f, -1]] for f in (0, 1)]
                                 + [[[f, -1], [f, 1]] for f in (2, 3, 4)])
    # from the division on, 1 continues as the former daughter and vice versa
    assert origins(lin, 1) == [100, 101, 102, 103, 104, 205, 206, 207, 208, 209]
    assert origins(lin, 2) == [105, 106, 107, 108, 109]
    assert poles(lin, 2) == poles(before, 1)[5:]  # no further swaps
    assert lin.motherids() == {1: None, 2: 1, 3: 2}
    assert render(lin) == {1: "╺╼╼╼╼┮╼╼╼╼", 2: "     ┕╼╼┮╼", 3: "        ┕╼"}
    lin.check()
    lin.swap_poles(1, frame=2)
    assert lin == before


def test_swap_poles_agrees_with_division_poles():
    """After swapping, the pole tracking picks the other cell as mother."""
    prev = CellFeatures(new_pole=np.array([30, 5], np.int16),
                        old_pole=np.array([10, 5], np.int16), length=20.0)
    upper = CellFeatures(np.array([19, 5], np.int16), np.array([8, 5], np.int16),
                         length=11.0)
    lower = CellFeatures(np.array([32, 5], np.int16), np.array([21, 5], np.int16),
                         length=10.0)
    mother, daughter, _ = division_poles(upper, lower, prev.old_pole, prev.new_pole)
    lin = Lineage()
    lin.create(0, copy.deepcopy(prev))
    lin.extend(1, mother)
    lin.create(1, daughter, motherid=1)
    lin.swap_poles(1, frame=0)
    new, old = lin.cells[1].poles(0)
    mother2, daughter2, _ = division_poles(upper, lower, old, new)
    assert features_equal(lin.cells[1].features(1), mother2)
    assert features_equal(lin.cells[2].features(1), daughter2)


def test_swap_poles_refusals_leave_the_lineage_unchanged():
    lin = from_diagram({1: "╺╼┮╼", 2: "  ┕╼"}, {2: 1})
    before = copy.deepcopy(lin)
    with pytest.raises(CellNotOnFrameError, match="Cell 2 does not exist on frame 1"):
        lin.swap_poles(2, 1)
    with pytest.raises(UnknownCellError):
        lin.swap_poles(5)
    assert lin == before


def test_check_finds_inconsistent_links():
    lin = from_diagram({1: "╺╼┮╼", 2: "  ┕╼"}, {2: 1})
    lin.cells[1]._daughterids[2] = None
    with pytest.raises(LineageError, match="Cell 2 names 1 as mother"):
        lin.check()
    lin = from_diagram({1: "╺╼┮╼", 2: "  ┕╼"}, {2: 1})
    lin.cells[2].motherid = None
    with pytest.raises(LineageError, match="daughter 2 on frame 2"):
        lin.check()


# ------------------------------------------------------------- growth rates
def simulate(rate: float, frames: int, *, fraction: float = 0.4,
             threshold: float = 20.0) -> Lineage:
    """Exponential growth of every cell; division into unequal parts.

    The dividing cell's size on the division frame (what it would have been
    without division) goes `fraction` to the daughter, the rest to the mother.
    """
    lin = Lineage()
    sizes = {lin.create(0, feats(1, 0, length=12.0, area=30.0)): 12.0}
    for frame in range(1, frames):
        for cid in list(sizes):
            size = sizes[cid] * math.exp(rate)
            if size >= threshold:
                mine, theirs = size * (1 - fraction), size * fraction
                lin.extend(cid, feats(cid, frame, length=mine, area=2.5 * mine))
                did = lin.create(frame, feats(0, frame, length=theirs,
                                              area=2.5 * theirs), motherid=cid)
                sizes[cid], sizes[did] = mine, theirs
            else:
                lin.extend(cid, feats(cid, frame, length=size, area=2.5 * size))
                sizes[cid] = size
    return lin


@pytest.mark.parametrize("smooth_frames", [1, 7, 9])
def test_growthrates_recover_exponential_growth(smooth_frames):
    rate = 0.08
    lin = simulate(rate, 60)
    assert len(lin) > 20  # several generations
    assert sum(len(c.divisions()) for c in lin.cells.values()) == len(lin) - 1
    lin.compute_growthrates("length", smooth_frames=smooth_frames)
    lin.compute_growthrates("area", smooth_frames=smooth_frames)
    for cell in lin.cells.values():
        for feat in cell._features:  # all frames, including around divisions
            assert feat.growthrate_length == pytest.approx(rate, rel=1e-9)
            assert feat.growthrate_area == pytest.approx(rate, rel=1e-9)


def test_growthrates_with_noise_within_one_percent():
    rate = 0.08
    lin = simulate(rate, 60)
    rng = np.random.default_rng(1)
    for cell in lin.cells.values():
        for feat in cell._features:
            feat.length *= math.exp(rng.normal(0, 0.0003))
    lin.compute_growthrates("length")
    smoothed = np.array([f.growthrate_length for c in lin.cells.values()
                         for f in c._features])
    assert np.all(np.abs(smoothed / rate - 1) < 0.01)
    lin.compute_growthrates("length", smooth_frames=1)
    raw = np.array([f.growthrate_length for c in lin.cells.values()
                    for f in c._features])
    assert np.std(smoothed - rate) < 0.6 * np.std(raw - rate)


def test_growthrates_follow_the_division_formulas():
    """The doc's ratios: mother m0..m5, daughter d3..d5 born on frame 3."""
    m = [10.0, 11.0, 13.0, 8.0, 9.5, 10.0]
    d = {3: 6.0, 4: 6.5, 5: 7.5}
    lin = Lineage()
    lin.create(0, feats(1, 0, length=m[0]))
    for frame in range(1, 6):
        lin.extend(1, feats(1, frame, length=m[frame]))
    lin.create(3, feats(2, 3, length=d[3]), motherid=1)
    for frame in (4, 5):
        lin.extend(2, feats(2, frame, length=d[frame]))
    lin.compute_growthrates("length", smooth_frames=1)
    mother = [lin.cells[1].features(f).growthrate_length for f in range(6)]
    daughter = [lin.cells[2].features(f).growthrate_length for f in range(3, 6)]
    m3d3 = m[3] + d[3]
    expected_mother = [math.log(m[1] / m[0]), math.log(m[2] / m[0]) / 2,
                       math.log(m3d3 / m[1]) / 2,
                       math.log(m[4] / (m[2] * m[3] / m3d3)) / 2,
                       math.log(m[5] / m[3]) / 2, math.log(m[5] / m[4])]
    expected_daughter = [math.log(d[4] / (m[2] * d[3] / m3d3)) / 2,
                         math.log(d[5] / d[3]) / 2, math.log(d[5] / d[4])]
    assert mother == pytest.approx(expected_mother, rel=1e-12)
    assert daughter == pytest.approx(expected_daughter, rel=1e-12)
    assert math.isnan(lin.cells[1].features(0).growthrate_area)  # untouched


def test_growthrates_smoothing_window_reaches_into_the_mother():
    lin = Lineage()
    sizes = [10.0, 11.0, 12.0, 14.0]
    lin.create(0, feats(1, 0, length=sizes[0]))
    for f in (1, 2):
        lin.extend(1, feats(1, f, length=sizes[f]))
    lin.create(2, feats(2, 2, length=5.0), motherid=1)  # 12 + 5 = 17 in all
    lin.extend(2, feats(2, 3, length=6.0))
    lin.compute_growthrates("length", smooth_frames=3)
    # daughter's log series: mother's frames 0, 1 shifted, then 5, 6
    series = np.log([10.0 * 5 / 17, 11.0 * 5 / 17, 5.0, 6.0])
    raw = [series[1] - series[0], (series[2] - series[0]) / 2,
           (series[3] - series[1]) / 2, series[3] - series[2]]
    got = [lin.cells[2].features(f).growthrate_length for f in (2, 3)]
    assert got == pytest.approx([np.mean(raw[1:4]), np.mean(raw[2:4])], rel=1e-12)


def test_growthrates_ends_and_invalid_input():
    lin = Lineage()
    lin.create(0, feats(1, 0, length=10.0))
    lin.extend(1, feats(1, 1, length=12.0))
    lin.create(0, feats(2, 0, length=10.0))  # single frame, no mother
    lin.compute_growthrates("length")
    assert [f.growthrate_length for f in lin.cells[1]._features] == \
        pytest.approx([math.log(1.2)] * 2, rel=1e-12)
    assert math.isnan(lin.cells[2].features(0).growthrate_length)
    lin = simulate(0.1, 12)
    lin.cells[1]._features[3].length = 0.0  # a failed measurement
    lin.compute_growthrates("length", smooth_frames=1)
    rates = np.array([f.growthrate_length for f in lin.cells[1]._features])
    assert np.isnan(rates[2:5]).all()
    assert rates[[0, 1, *range(5, len(rates))]] == pytest.approx(0.1, rel=1e-9)
    lin.compute_growthrates("length", smooth_frames=5)  # filled in by neighbours
    assert [f.growthrate_length for f in lin.cells[1]._features] == \
        pytest.approx([0.1] * len(rates), rel=1e-9)
    with pytest.raises(ValueError, match="'width'"):
        lin.compute_growthrates("width")
    for bad in (0, 4, -1, 2.0, True):
        with pytest.raises(ValueError, match="odd integer"):
            lin.compute_growthrates("length", smooth_frames=bad)


# ------------------------------------------------------------------ compare
def test_compare_lists_and_prints_differences(capsys):
    lin = from_diagram({1: "╺╼┮╼", 2: "  ┕╼", 3: "╺╼"}, {2: 1})
    same = copy.deepcopy(lin)
    assert lin.compare(same, level=1) == []
    assert lin.compare(same) is None
    assert capsys.readouterr().out == ""
    other = copy.deepcopy(lin)
    other.cells[2].features(3).length = 1.5
    other.adopt(2, None)
    del other.cells[3]
    other.cells[4] = Cell(None, 0, [None], [feats(4, 0)])
    diffs = lin.compare(other, level=1)
    assert diffs == [
        "cells only in the first lineage: [3]",
        "cells only in the second lineage: [4]",
        "cell 1", ["frame 2", [color_diff("daughterid: ", 2, None)]],
        "cell 2", [color_diff("motherid: ", 1, None),
                   "frame 3", [color_diff("length: ", 203.0, 1.5)]],
    ]
    assert lin.compare(other) is None
    assert capsys.readouterr().out.splitlines() == [
        "cells only in the first lineage: [3]",
        "cells only in the second lineage: [4]",
        "cell 1",
        "└── frame 2",
        "    └── " + color_diff("daughterid: ", 2, None),
        "cell 2",
        "├── " + color_diff("motherid: ", 1, None),
        "└── frame 3",
        "    └── " + color_diff("length: ", 203.0, 1.5),
    ]
    assert lin.compare(3, level=2) == [color_diff("type: ", "Lineage", "int")]


def test_compare_frames_and_features():
    lin = from_diagram({1: "╺╼╼"}, {})
    other = copy.deepcopy(lin)
    other.cells[1]._features.pop()
    other.cells[1]._daughterids.pop()
    other.cells[1].features(0).old_pole[:] = [7, 7]
    other.cells[1].features(0).edges = "-x"
    diffs = lin.compare(other, level=1)
    assert diffs == ["cell 1", [
        color_diff("frames: ", "0..2", "0..1"),
        "frame 0", [color_diff("old_pole: ", [0, -1], [7, 7]),
                    color_diff("edges: ", "''", "'-x'")]]]


# --------------------------------------------------------------------- plot
def test_plot_draws_cells_and_divisions():
    from matplotlib.figure import Figure

    lin = from_diagram({1: "╺┮┮╼", 3: " │┕╼╼", 2: " ┕╼┮╼╼", 4: "   ┕╼╼╼"},
                       {2: 1, 3: 1, 4: 2})
    colors = {1: (1.0, 0.0, 0.0), 2: (0.0, 1.0, 0.0), 3: (0.0, 0.0, 1.0),
              4: (0.5, 0.5, 0.5)}
    ax = Figure().add_subplot()
    assert lin.plot(ax=ax, colors=colors) is ax
    cells, divisions = ax.collections
    # rows as in the reference diagram: 1, 3, 2, 4
    assert [seg.tolist() for seg in cells.get_segments()] == [
        [[-0.5, 0], [3.5, 0]], [[1.5, 1], [4.5, 1]], [[0.5, 2], [5.5, 2]],
        [[2.5, 3], [6.5, 3]]]
    assert sorted(seg.tolist() for seg in divisions.get_segments()) == [
        [[0.5, 0], [0.5, 2]], [[1.5, 0], [1.5, 1]], [[2.5, 2], [2.5, 3]]]
    assert cells.get_colors()[:, :3].tolist() == [
        list(colors[c]) for c in (1, 3, 2, 4)]
    assert [t.get_text() for t in ax.texts] == ["1", "3", "2", "4"]
    assert ax.get_ylim() == (3.5, -0.5)  # first row on top
    assert ax.get_xlim() == (-1.0, 9.0)
    ax2 = Figure().add_subplot()
    lin.plot(ax=ax2, labels=False)  # default colours
    assert len(ax2.texts) == 0 and len(ax2.collections[0].get_segments()) == 4


def test_plot_orders_roots_with_order_key():
    from matplotlib.figure import Figure

    lin = from_diagram({1: "╺╼╼", 2: "╺┮╼", 3: " ┕╼"}, {3: 2})
    ax = Figure().add_subplot()
    lin.plot(ax=ax, order_key=lambda cell: cell.poles(cell.first_frame)[1][1])
    rows = [seg[0][1] for seg in ax.collections[0].get_segments()]
    assert rows == [0, 1, 2]
    assert [t.get_text() for t in ax.texts] == ["2", "3", "1"]
    empty = Figure().add_subplot()
    Lineage().plot(ax=empty)
    assert len(empty.collections[0].get_segments()) == 0


def test_matplotlib_is_imported_lazily():
    code = ("import sys, cytolab.timelapse.lineage; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


# -------------------------------------------------------------------- table
def rich_lineage() -> Lineage:
    lin = simulate(0.1, 12)
    lin.compute_growthrates("length")
    for cid, cell in lin.cells.items():
        for frame, feat in zip(cell.frames, cell._features):
            feat.fluo = [0.1 * cid, frame + 0.25]
            feat.edges = "-x+y" if (cid + frame) % 3 == 0 else ""
            feat.width, feat.perimeter = 4.5, 2 * feat.length + 9
    return lin


def test_table_round_trip_is_exact():
    lin = rich_lineage()
    table = lin.to_table()
    assert tuple(table) == TABLE_COLUMNS
    nrows = sum(len(c.frames) for c in lin.cells.values())
    assert all(len(col) == nrows for col in table.values())
    assert table["new_pole"].dtype == np.int16 and table["new_pole"].shape == (nrows, 2)
    assert table["fluo"].shape == (nrows, 2) and table["fluo"].dtype == np.float64
    assert table["cellid"].dtype == np.int32 and table["edges"].dtype.kind == "U"
    first = table["cellid"] == 2
    assert table["motherid"][first].tolist() == [1] * first.sum()
    assert table["daughterid"][table["cellid"] == 1].tolist().count(0) \
        == len(lin.cells[1].frames) - len(lin.cells[1].divisions())
    back = Lineage.from_table(table)
    assert back == lin
    assert back.compare(lin, level=1) == []
    again = back.to_table()
    for name in TABLE_COLUMNS:
        np.testing.assert_array_equal(again[name], table[name])
    shuffled = np.random.default_rng(0).permutation(nrows)
    assert Lineage.from_table({k: v[shuffled] for k, v in table.items()}) == lin


def test_table_of_empty_lineage_and_no_fluo():
    table = Lineage().to_table()
    assert all(len(col) == 0 for col in table.values())
    assert table["fluo"].shape == (0, 0) and table["new_pole"].shape == (0, 2)
    assert Lineage.from_table(table) == Lineage()
    lin = from_diagram({1: "╺┮", 2: " ┕"}, {2: 1})
    assert lin.to_table()["fluo"].shape == (3, 0)
    assert Lineage.from_table(lin.to_table()) == lin


def test_table_errors():
    lin = from_diagram({1: "╺┮╼", 2: " ┕╼"}, {2: 1})
    lin.cells[1].features(0).fluo = [1.0]
    with pytest.raises(ValueError, match="numbers of fluorescence channels"):
        lin.to_table()
    lin.cells[1].features(0).fluo = []
    table = lin.to_table()
    with pytest.raises(ValueError, match="lacks the columns \\['edges'\\]"):
        Lineage.from_table({k: v for k, v in table.items() if k != "edges"})
    with pytest.raises(ValueError, match="\\['area'\\] do not have 5 rows"):
        Lineage.from_table({**table, "area": table["area"][:2]})
    gap = {**table, "frame": table["frame"] + np.array([0, 0, 1, 0, 0])}
    with pytest.raises(LineageError, match="frames of cell 1 are not consecutive"):
        Lineage.from_table(gap)
    orphan = {**table, "daughterid": np.zeros(5, np.int32)}
    with pytest.raises(LineageError, match="Cell 2 names 1 as mother"):
        Lineage.from_table(orphan)
