"""Tests of `cytolab.rtdc.polygon_filter`."""
from __future__ import annotations

import pathlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytolab.rtdc.polygon_filter import (
    PolygonFilter,
    PolygonFilterError,
    get_polygon_filter_names,
    point_in_poly,
)

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
# concave "U" shape
CONCAVE = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3],
                    [0, 3]], dtype=float)

SIMPLE_POLY = """\
[Polygon 00000000]
X Axis = area_um
Y Axis = deform
Name = first
Inverted = False
point00000000 = 1.000000000000000e+00 2.000000000000000e-02
point00000001 = 5.000000000000000e+01 2.000000000000000e-02
point00000002 = 5.000000000000000e+01 8.000000000000000e-02
[Polygon 00000001]
X Axis = area_um
Y Axis = bright_avg
Name = second
Inverted = True
point00000000 = 0.000000000000000e+00 0.000000000000000e+00
point00000001 = 1.000000000000000e+00 0.000000000000000e+00
point00000002 = 1.000000000000000e+00 1.000000000000000e+00
point00000003 = 0.000000000000000e+00 1.000000000000000e+00
"""


@pytest.fixture(autouse=True)
def clean_registry():
    """Start and end every test with an empty filter registry."""
    PolygonFilter.clear_all_filters()
    yield
    PolygonFilter.clear_all_filters()


@pytest.fixture
def example_poly(rtdc_data_dir: pathlib.Path) -> pathlib.Path:
    path = rtdc_data_dir / "example.poly"
    if not path.exists():
        pytest.skip(f"reference file not found: {path}")
    return path


@pytest.fixture
def two_poly(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "two.poly"
    path.write_text(SIMPLE_POLY)
    return path


def _reference_inside(px: float, py: float, poly: np.ndarray) -> bool:
    """Brute-force winding number of a single point (no boundary points)."""
    d = poly - (px, py)
    ang = np.arctan2(d[:, 1], d[:, 0])
    dang = np.diff(np.append(ang, ang[0]))
    dang = (dang + np.pi) % (2 * np.pi) - np.pi
    return bool(abs(dang.sum()) > np.pi)


# --- reading the real Shape-Out file -------------------------------------

def test_read_real_example_poly(example_poly):
    pf = PolygonFilter(filename=example_poly)
    assert pf.axes == ("area_um", "deform")
    assert pf.name == "Example polygon filter created with DCscope"
    assert pf.inverted is False
    assert pf.points.shape == (13, 2)
    assert pf.points[0, 0] == 4.806285699729710e+01
    assert pf.points[-1, 1] == 3.671022252583199e-02
    assert pf.unique_id == 0
    assert PolygonFilter.instances == [pf]


def test_save_reproduces_real_file_exactly(example_poly, tmp_path):
    pf = PolygonFilter(filename=example_poly)
    out = tmp_path / "out.poly"
    pf.save(out)
    assert out.read_text() == example_poly.read_text()


def test_example_round_trip(example_poly, tmp_path):
    first = PolygonFilter.import_all(example_poly)
    # add a second, inverted filter so that multi-section files are covered
    PolygonFilter(axes=("area_um", "bright_avg"), points=CONCAVE,
                  inverted=True, name="concave")
    orig = list(PolygonFilter.instances)
    assert len(first) == 1
    out = tmp_path / "all.poly"
    PolygonFilter.save_all(out)
    PolygonFilter.clear_all_filters()
    again = PolygonFilter.import_all(out)
    assert len(again) == len(orig) == 2
    for a, b in zip(orig, again):
        assert a.axes == b.axes
        assert np.array_equal(a.points, b.points)
        assert a.name == b.name
        assert a.inverted == b.inverted
        assert a == b
        assert a.hash == b.hash


# --- reading files ----------------------------------------------------------

def test_fileid_selects_section(two_poly):
    pf0 = PolygonFilter(filename=two_poly)
    pf1 = PolygonFilter(filename=two_poly, fileid=1, unique_id=42)
    assert pf0.name == "first" and pf0.axes == ("area_um", "deform")
    assert pf1.name == "second" and pf1.inverted is True
    assert pf1.unique_id == 42
    assert pf1.points.shape == (4, 2)
    with pytest.raises(ValueError, match="fileid 2"):
        PolygonFilter(filename=two_poly, fileid=2)


def test_filename_overrides_arguments(two_poly):
    pf = PolygonFilter(axes=("a", "b"), points=SQUARE, inverted=True,
                       name="ignored", filename=two_poly)
    assert pf.name == "first"
    assert pf.inverted is False
    assert pf.axes == ("area_um", "deform")


def test_save_to_file_object_and_append(tmp_path):
    pf1 = PolygonFilter(axes=("x", "y"), points=SQUARE, name="one")
    pf2 = PolygonFilter(axes=("x", "y"), points=CONCAVE, name="two")
    path = tmp_path / "fobj.poly"
    with path.open("w") as fobj:
        ret = pf1.save(fobj, ret_fobj=True)
        assert ret is fobj
        pf2.save(fobj)
        assert not fobj.closed
    pf1.save(path)  # appends
    names = [pf.name for pf in PolygonFilter.import_all(path)]
    assert names == ["one", "two", "one"]
    text = path.read_text()
    assert text.startswith("[Polygon 00000000]\nX Axis = x\nY Axis = y\n"
                           "Name = one\nInverted = False\n"
                           "point00000000 = 0.000000000000000e+00 "
                           "0.000000000000000e+00\n")


def test_save_needs_poly_suffix(tmp_path):
    pf = PolygonFilter(axes=("x", "y"), points=SQUARE)
    with pytest.raises(ValueError, match=r"\.poly"):
        pf.save(tmp_path / "bad.txt")


def test_save_all_round_trips_arbitrary_points(tmp_path):
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(7, 2)) * 1e3
    PolygonFilter(axes=("x", "y"), points=pts)
    out = tmp_path / "rand.poly"
    PolygonFilter.save_all(out)
    (back,) = PolygonFilter.import_all(out)
    assert np.allclose(back.points, pts, rtol=1e-15, atol=0)


@pytest.mark.parametrize("content, where", [
    ("X Axis = a\n", "line 1"),
    ("[Polygon 0]\nX Axis = a\nY Axis = b\njunk line\n", "line 4"),
    ("[Polygon 0]\nX Axis = a\nY Axis = b\npoint0 = 1 2\npoint1 = 1 x\n",
     "line 5"),
    ("[Polygon 0]\nX Axis = a\nY Axis = b\npoint0 = 1 2 3\n", "line 4"),
    ("[Polygon 0]\nX Axis = a\nY Axis = b\nInverted = maybe\n", "line 4"),
    ("[Polygon 0]\nX Axis = a\nY Axis = b\npoint0 = 0 0\npoint1 = 1 0\n",
     "line 1"),
    ("[Polygon 0]\nX Axis = a\npoint0 = 0 0\npoint1 = 1 0\npoint2 = 1 1\n",
     "line 1"),
    ("[Something]\n", "line 1"),
])
def test_bad_file_raises(tmp_path, content, where):
    path = tmp_path / "bad.poly"
    path.write_text(content)
    with pytest.raises(ValueError, match=where) as exc:
        PolygonFilter(filename=path)
    assert str(path) in str(exc.value)
    assert isinstance(exc.value, PolygonFilterError)
    with pytest.raises(ValueError):
        PolygonFilter.import_all(path)
    assert PolygonFilter.instances == []


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.poly"
    path.write_text("\n")
    with pytest.raises(ValueError, match="no polygon"):
        PolygonFilter.import_all(path)


# --- registry and unique ids ------------------------------------------------

def test_unique_ids_and_registry():
    a = PolygonFilter(axes=("x", "y"), points=SQUARE)
    b = PolygonFilter(axes=("x", "y"), points=SQUARE)
    assert (a.unique_id, b.unique_id) == (0, 1)
    assert PolygonFilter.get_instance_from_id(1) is b
    assert PolygonFilter.unique_id_exists(0)
    assert not PolygonFilter.unique_id_exists(5)
    assert get_polygon_filter_names() == ["Polygon filter 0",
                                          "Polygon filter 1"]
    with pytest.raises(ValueError, match="unique_id 1"):
        PolygonFilter(axes=("x", "y"), points=SQUARE, unique_id=1)
    c = PolygonFilter(axes=("x", "y"), points=SQUARE, unique_id=10)
    d = PolygonFilter(axes=("x", "y"), points=SQUARE)
    assert c.unique_id == 10 and d.unique_id == 11
    PolygonFilter.remove(1)
    assert not PolygonFilter.unique_id_exists(1)
    assert PolygonFilter.instances == [a, c, d]
    with pytest.raises(KeyError):
        PolygonFilter.get_instance_from_id(1)
    # removed ids are not handed out again before clear_all_filters
    assert PolygonFilter(axes=("x", "y"), points=SQUARE).unique_id == 12
    PolygonFilter.clear_all_filters()
    assert PolygonFilter.instances == []
    assert PolygonFilter(axes=("x", "y"), points=SQUARE).unique_id == 0


def test_copy_and_invert():
    pf = PolygonFilter(axes=("x", "y"), points=SQUARE, name="sq")
    cp = pf.copy()
    inv = pf.copy(invert=True)
    assert cp == pf and cp is not pf
    assert cp.unique_id != pf.unique_id != inv.unique_id
    assert inv.inverted is True and inv.name == "sq"
    assert inv != pf and inv.hash != pf.hash
    assert inv.copy(invert=True) == pf
    assert len(PolygonFilter.instances) == 4
    x = np.array([0.5, 2.0, 0.2])
    y = np.array([0.5, 0.5, -1.0])
    assert np.array_equal(pf.filter(x, y), [True, False, False])
    assert np.array_equal(inv.filter(x, y), [False, True, True])


def test_equality_and_hash():
    a = PolygonFilter(axes=("x", "y"), points=SQUARE, name="a")
    b = PolygonFilter(axes=("x", "y"), points=SQUARE.copy(), name="b")
    assert a == b and a.hash == b.hash
    assert a != PolygonFilter(axes=("y", "x"), points=SQUARE)
    assert a != PolygonFilter(axes=("x", "y"), points=SQUARE[::-1])
    assert a != "not a filter"
    b.points = SQUARE * 2
    assert a != b and a.hash != b.hash


def test_points_property_is_a_copy():
    pf = PolygonFilter(axes=("x", "y"), points=SQUARE)
    pts = pf.points
    pts[0, 0] = 99
    assert pf.points[0, 0] == 0
    with pytest.raises(ValueError, match="at least 3"):
        pf.points = SQUARE[:2]


def test_filter_length_mismatch():
    pf = PolygonFilter(axes=("x", "y"), points=SQUARE)
    with pytest.raises(ValueError, match="length"):
        pf.filter([1, 2], [1])


# --- argument errors --------------------------------------------------------

@pytest.mark.parametrize("points", [
    SQUARE[:2], [[0, 0]], np.zeros((4, 3)), [0, 1, 2],
    [[0, 0], [1, 0], [np.nan, 1]],
])
def test_bad_points(points):
    with pytest.raises(ValueError):
        PolygonFilter(axes=("x", "y"), points=points)
    assert PolygonFilter.instances == []


@pytest.mark.parametrize("axes", [
    "xy", ("x",), ("x", "y", "z"), ("x", "x"), ("x", ""), ("x", 1), 5,
])
def test_bad_axes(axes):
    with pytest.raises(ValueError, match="axes"):
        PolygonFilter(axes=axes, points=SQUARE)
    assert PolygonFilter.instances == []


def test_missing_arguments():
    with pytest.raises(ValueError, match="filename"):
        PolygonFilter(axes=("x", "y"))
    with pytest.raises(ValueError, match="filename"):
        PolygonFilter(points=SQUARE)


# --- point_in_poly ----------------------------------------------------------

@pytest.mark.parametrize("poly", [
    SQUARE,
    # convex: regular 9-gon, not axis aligned
    np.column_stack((np.cos(np.linspace(0, 2 * np.pi, 9, endpoint=False)),
                     np.sin(np.linspace(0, 2 * np.pi, 9, endpoint=False)))),
    CONCAVE,
    # concave star, clockwise
    np.column_stack(((1 + 0.6 * np.cos(np.arange(14) * np.pi))
                     * np.cos(-np.arange(14) * 2 * np.pi / 14),
                     (1 + 0.6 * np.cos(np.arange(14) * np.pi))
                     * np.sin(-np.arange(14) * 2 * np.pi / 14))),
], ids=["square", "convex", "concave-U", "concave-star"])
def test_point_in_poly_matches_brute_force(poly):
    rng = np.random.default_rng(42)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    span = hi - lo
    pts = rng.uniform(lo - 0.2 * span, hi + 0.2 * span, size=(2000, 2))
    got = point_in_poly(pts, poly)
    ref = np.array([_reference_inside(px, py, poly) for px, py in pts])
    assert got.dtype == bool and got.shape == (2000,)
    assert np.array_equal(got, ref)
    assert 0 < got.sum() < got.size
    # vertex order (orientation) does not matter
    assert np.array_equal(point_in_poly(pts, poly[::-1]), got)


def test_point_in_poly_concave_notch():
    pts = [[0.5, 2.0], [1.5, 2.0], [2.5, 2.0], [1.5, 0.5]]
    assert point_in_poly(pts, CONCAVE).tolist() == [True, False, True, True]


def test_point_in_poly_edge_convention():
    # lower and left edges inside; upper and right edges outside
    edges = [[0.5, 0.0], [0.0, 0.5], [0.5, 1.0], [1.0, 0.5]]
    assert point_in_poly(edges, SQUARE).tolist() == [True, True, False, False]
    # of the corners, only the lower left one is inside
    corners = [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert point_in_poly(corners, SQUARE).tolist() == [True, False, False,
                                                       False]
    # independent of the vertex order
    assert point_in_poly(edges, SQUARE[::-1]).tolist() == [True, True, False,
                                                           False]
    # two squares sharing an edge: every shared boundary point is in one
    right = SQUARE + [1, 0]
    shared = np.column_stack((np.ones(5), np.linspace(0, 0.9, 5)))
    in_left = point_in_poly(shared, SQUARE)
    in_right = point_in_poly(shared, right)
    assert np.all(in_left ^ in_right)


def test_point_in_poly_single_point_nan_and_shapes():
    assert bool(point_in_poly([0.5, 0.5], SQUARE)) is True
    assert point_in_poly([0.5, 0.5], SQUARE).shape == ()
    assert bool(point_in_poly([5, 5], SQUARE)) is False
    res = point_in_poly([[np.nan, 0.5], [0.5, np.nan], [0.5, 0.5]], SQUARE)
    assert res.tolist() == [False, False, True]
    assert point_in_poly(np.zeros((0, 2)), SQUARE).shape == (0,)
    with pytest.raises(ValueError):
        point_in_poly(np.zeros((3, 3)), SQUARE)
    with pytest.raises(ValueError):
        point_in_poly([[0, 0]], SQUARE[:2])


def test_filter_on_real_data_example(example_poly):
    pf = PolygonFilter(filename=example_poly)
    # centroid of the example polygon lies inside, far corners outside
    cx, cy = pf.points.mean(axis=0)
    res = pf.filter([cx, 0.0, 500.0], [cy, 0.0, 0.5])
    assert res.tolist() == [True, False, False]


@settings(max_examples=80, deadline=None)
@given(
    poly=st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)),
                  min_size=3, max_size=12),
    pts=st.lists(st.tuples(st.integers(-25, 25), st.integers(-25, 25)),
                 min_size=1, max_size=30),
)
def test_point_in_poly_property_random_polygons(poly, pts):
    """Random (possibly self-intersecting) polygons on an integer grid, so
    that many points fall exactly on edges and vertices."""
    got = point_in_poly(np.array(pts, dtype=float), np.array(poly, dtype=float))
    ref = np.array([_reference_ray_cast(px, py, poly) for px, py in pts])
    assert np.array_equal(got, ref)


def _reference_ray_cast(px: int, py: int, poly: list) -> bool:
    """Exact (rational) even-odd ray casting with the documented convention:
    an edge counts when py is in [min(y0, y1), max(y0, y1)) and the edge
    crosses the ray strictly right of the point."""
    inside = False
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
        if min(y0, y1) <= py < max(y0, y1):
            xint = x0 + Fraction(py - y0) * (x1 - x0) / (y1 - y0)
            if xint > px:
                inside = not inside
    return inside
