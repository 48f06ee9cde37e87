"""Difference helpers and the file lister of the time-lapse package."""
from __future__ import annotations

import numpy as np
import pytest

from cytolab.timelapse.diffs import (
    color_diff,
    compare_arrays,
    format_diffs,
    list_files,
    print_diffs,
)

RED, GREEN, RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"


def test_color_diff():
    assert color_diff("area: ", 3, 4.5) == f"area: {RED}3{RESET} ≠ {GREEN}4.5{RESET}"
    assert color_diff("", None, "x") == f"{RED}None{RESET} ≠ {GREEN}x{RESET}"


def test_compare_arrays_equal():
    assert compare_arrays(np.arange(5), np.arange(5)) == []
    a = np.array([1.0, np.nan])
    assert compare_arrays(a, a.copy()) == []  # NaN at the same place is equal
    assert compare_arrays(np.array(["a", "b"]), np.array(["a", "b"])) == []


def test_compare_arrays_differences():
    a = np.zeros((2, 3), np.uint16)
    b = a.copy()
    b[1, 0], b[1, 2] = 7, 9
    assert compare_arrays(a, b, name="labels") == [color_diff(
        "labels: 2 of 6 values differ, first at (1, 0): ", 0, 7)]
    assert compare_arrays(a, a.astype(np.int32), name="seg") == [
        color_diff("seg dtype: ", "uint16", "int32")]
    assert compare_arrays(a, np.zeros((3, 2), np.uint8)) == [
        color_diff("array shape: ", (2, 3), (3, 2)),
        color_diff("array dtype: ", "uint16", "uint8")]
    assert compare_arrays(np.array([np.nan, 1.0]), np.array([1.0, 1.0])) == [
        color_diff("array: 1 of 2 values differ, first at (0,): ", np.nan, 1.0)]
    assert compare_arrays(np.array(["-x", ""]), np.array(["-x", "+y"]),
                          name="edges") == [color_diff(
        "edges: 1 of 2 values differ, first at (1,): ", "", "+y")]


DIFFS = ["roi00", ["cell 2", ["motherid: 1 ≠ None", "frame 4", ["area: 3 ≠ 4"]],
                   "cell 5", ["frame 1", ["edges"]]],
         "roi01 only in the first position"]


def test_print_diffs_tree(capsys):
    print_diffs(DIFFS)
    assert capsys.readouterr().out == (
        "roi00\n"
        "├── cell 2\n"
        "│   ├── motherid: 1 ≠ None\n"
        "│   └── frame 4\n"
        "│       └── area: 3 ≠ 4\n"
        "└── cell 5\n"
        "    └── frame 1\n"
        "        └── edges\n"
        "roi01 only in the first position\n")


def test_print_diffs_subtree_and_edge_cases(capsys):
    print_diffs(["a", ["b"], "c"], lasts=[False])
    assert capsys.readouterr().out == "│   ├── a\n│   │   └── b\n│   └── c\n"
    print_diffs([])
    assert capsys.readouterr().out == ""
    # a detail list without heading belongs to the current level; two lists
    # after one heading are joined
    assert format_diffs([["x", "y"], "z", ["u"], ["v"]]) == (
        "x\ny\nz\n├── u\n└── v")


def test_list_files(tmp_path):
    for name in ["b.TIF", "a.tif", "c.png", "d.ome.tif", "e.tiff", "tif"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.tif").mkdir()
    assert [p.name for p in list_files(tmp_path, [".tif"])] == [
        "a.tif", "b.TIF", "d.ome.tif"]
    assert [p.name for p in list_files(str(tmp_path), ("tiff", ".PNG"))] == [
        "c.png", "e.tiff"]
    assert [p.name for p in list_files(tmp_path, {".ome.tif"})] == ["d.ome.tif"]
    assert list_files(tmp_path, []) == []
    assert all(p.parent == tmp_path for p in list_files(tmp_path, [".tif"]))
    with pytest.raises(NotADirectoryError, match="not a folder"):
        list_files(tmp_path / "a.tif", [".tif"])
