"""TriangleInterpolator against scipy.interpolate.griddata(method="linear").

Tolerances (``np.testing.assert_allclose``, which also requires NaN at the
same places):

* generic points (random, in and around the hull) and support points:
  ``rtol=1e-12``. The original implementation (scipy's ``Delaunay.transform``)
  was bit-identical to griddata; the closed-form transform now in the
  working tree differs by up to 6.6e-13 relative on LE-2D-FEM-19;
* points on triangle edges: ``rtol=1e-12`` on the small synthetic sets,
  ``rtol=1e-10`` on the real LUTs. Their triangulations contain sliver
  triangles (condition number of the barycentric transform up to ~8e5);
  on an edge both neighbouring triangles are valid and the two codes may
  pick different ones; measured largest relative difference 3.8e-11.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import griddata
from scipy.spatial import QhullError

from cytolab.features.emodulus import load_mtext
from cytolab.features.emodulus.triangulation import TriangleInterpolator

LUTS = ["LE-2D-FEM-19", "HE-2D-FEM-22", "HE-3D-FEM-22"]


@pytest.fixture(scope="module", params=LUTS)
def real_lut(request, emod_data_dir):
    """(points normalised by column maxima as get_emodulus does, values,
    interpolator) of one real LUT."""
    lut, _ = load_mtext(emod_data_dir / f"lut_{request.param}.txt")
    points = lut[:, :2] / lut[:, :2].max(axis=0)
    values = lut[:, 2]
    return points, values, TriangleInterpolator(points, values)


def _griddata(points, values, xi):
    return griddata(points, values, xi, method="linear")


def _edges(simplices):
    """Unique undirected edges of a triangulation, shape (E, 2)."""
    edges = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]],
                            simplices[:, [2, 0]]])
    return np.unique(np.sort(edges, axis=1), axis=0)


# ------------------------------------------------------------ small cases
def test_tiny_synthetic_case():
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    values = np.array([0.0, 1.0, 2.0, 3.0])
    interp = TriangleInterpolator(pts, values)
    x = np.array([0.5, 0.25, 0.0, 1.0, 0.1, 1.0, 2.0, -1e-3, 0.3])
    y = np.array([0.5, 0.25, 0.0, 1.0, 0.7, 0.0, 2.0, 0.5, 1.0 + 1e-9])
    got = interp(x, y)
    # the values are x + 2 y (linear): reproduced inside, rtol 1e-12
    np.testing.assert_allclose(got[:6], x[:6] + 2 * y[:6], rtol=1e-12, atol=1e-15)
    assert np.all(np.isnan(got[6:]))
    np.testing.assert_allclose(got, _griddata(pts, values, np.column_stack([x, y])),
                               rtol=1e-12, atol=1e-15)


def test_docstring_example():
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    interp = TriangleInterpolator(pts, np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(
        interp(np.array([0.5, 0.25, 2.0]), np.array([0.5, 0.25, 2.0])),
        [1.5, 0.75, np.nan])


def test_scattered_synthetic_random_and_edges():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-3, 5, size=(300, 2))
    values = np.sin(pts[:, 0]) + pts[:, 1] ** 2
    interp = TriangleInterpolator(pts, values)
    xi = rng.uniform(-4, 6, size=(20000, 2))
    np.testing.assert_allclose(interp(xi[:, 0], xi[:, 1]),
                               _griddata(pts, values, xi), rtol=1e-12, atol=1e-14)
    # support points and edge points: rtol 1e-12
    np.testing.assert_allclose(interp(pts[:, 0], pts[:, 1]), values, rtol=1e-12)
    edges = _edges(interp.simplices)
    t = rng.uniform(0, 1, len(edges))[:, None]
    on_edge = pts[edges[:, 0]] * (1 - t) + pts[edges[:, 1]] * t
    got = interp(on_edge[:, 0], on_edge[:, 1])
    ref = _griddata(pts, values, on_edge)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_regular_grid_support():
    # cocircular points: the triangulation is not unique, but both use
    # the same Qhull call and therefore the same triangles
    gx, gy = np.meshgrid(np.linspace(0, 1, 21), np.linspace(0, 2, 11))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    values = np.cos(3 * pts[:, 0]) * pts[:, 1]
    interp = TriangleInterpolator(pts, values)
    # k / 200 is exact at the hull border (x = 1.0, y = 2.0); linspace is
    # not (see test_bounding_box_tolerance)
    qx, qy = np.meshgrid(np.arange(-20, 221) / 200, np.arange(-20, 421) / 200)
    xi = np.column_stack([qx.ravel(), qy.ravel()])  # many points on edges
    got = interp(xi[:, 0], xi[:, 1])
    ref = _griddata(pts, values, xi)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cells", [0.01, 1.0, 4.0, 64.0])
def test_grid_resolution_does_not_change_result(cells):
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(500, 2))
    values = rng.normal(size=500)
    xi = rng.normal(scale=1.5, size=(5000, 2))
    ref = TriangleInterpolator(pts, values)(xi[:, 0], xi[:, 1])
    got = TriangleInterpolator(pts, values, cells_per_triangle=cells)(xi[:, 0],
                                                                      xi[:, 1])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got, _griddata(pts, values, xi), rtol=1e-12,
                               atol=1e-14)


def test_query_shapes_and_invalid_values():
    pts = np.array([[0, 0], [2, 0], [0, 2], [2, 2], [1, 0.5]], dtype=float)
    interp = TriangleInterpolator(pts, pts[:, 0] + pts[:, 1])
    grid = np.full((3, 4), 0.5)
    assert interp(grid, grid).shape == (3, 4)
    scalar = interp(0.5, 1.0)
    assert np.shape(scalar) == ()
    assert float(scalar) == pytest.approx(1.5, rel=1e-12)
    assert interp(np.array([]), np.array([])).shape == (0,)
    got = interp(np.array([np.nan, 1.0, np.inf, -np.inf, 1.0]),
                 np.array([1.0, np.nan, 1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(np.isnan(got), [True, True, True, True, False])
    # lists are accepted
    assert interp([1.0], [1.0]).tolist() == pytest.approx([2.0])


@pytest.mark.parametrize("offset", [2.3e-16, 1e-15])
def test_bounding_box_tolerance(offset):
    """Points a hair outside the hull (within EPS) on the bounding-box sides:
    griddata interpolates, so must TriangleInterpolator."""
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.3]], dtype=float)
    values = pts[:, 0] + 2 * pts[:, 1]
    interp = TriangleInterpolator(pts, values)
    x = np.array([1 + offset, 0.5, -offset, 0.5])
    y = np.array([0.5, 1 + offset, 0.5, -offset])
    ref = _griddata(pts, values, np.column_stack([x, y]))
    assert np.all(np.isfinite(ref))
    np.testing.assert_allclose(interp(x, y), ref, rtol=1e-12)


def test_linspace_grid_on_hull_border_matches_inside_points():
    """The part of the above that works: points exactly on the border."""
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.3]], dtype=float)
    values = pts[:, 0] + 2 * pts[:, 1]
    interp = TriangleInterpolator(pts, values)
    x = np.array([1.0, 0.5, 0.0, 0.5, 1.0, 0.0])
    y = np.array([0.5, 1.0, 0.5, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(interp(x, y), x + 2 * y, rtol=1e-12)


# ---------------------------------------------------------------- degenerate
def test_collinear_points_raise_like_scipy():
    """Collinear support points have no triangulation: griddata raises
    QhullError, and so does TriangleInterpolator (in its constructor)."""
    pts = np.array([[0, 0], [1, 1], [2, 2], [3, 3]], dtype=float)
    values = np.arange(4.0)
    with pytest.raises(QhullError):
        _griddata(pts, values, np.array([[0.5, 0.5]]))
    with pytest.raises(QhullError):
        TriangleInterpolator(pts, values)


def test_too_few_points_raise_like_scipy():
    pts = np.array([[0, 0], [1, 1]], dtype=float)
    with pytest.raises(QhullError):
        _griddata(pts, np.arange(2.0), np.array([[0.5, 0.5]]))
    with pytest.raises(QhullError):
        TriangleInterpolator(pts, np.arange(2.0))


def test_zero_extent_axis_raises():
    # all support points share x: flat in 2-D
    pts = np.column_stack([np.ones(5), np.arange(5.0)])
    with pytest.raises(QhullError):
        TriangleInterpolator(pts, np.arange(5.0))


# ------------------------------------------------------------ the real LUTs
def test_real_lut_random_points(real_lut):
    """200k random points in and around the hull: griddata's values to
    rtol 1e-12, NaN at the same places."""
    points, values, interp = real_lut
    rng = np.random.default_rng(3)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = hi - lo
    xi = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=(200_000, 2))
    got = interp(xi[:, 0], xi[:, 1])
    ref = _griddata(points, values, xi)
    outside = np.isnan(ref)
    assert 0.05 < outside.mean() < 0.95  # both inside and outside points
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_real_lut_support_points(real_lut):
    """At its support points the interpolant is the LUT value (rtol 1e-12).

    griddata agrees where it is finite (rtol 1e-12). SciPy's walk can miss
    a support point: with scipy 1.17, point 9845 of LE-2D-FEM-19 gives NaN
    in griddata when evaluated after its predecessors (not when alone), as
    the walk starts from the previous point's sliver triangle and leaves
    the hull; TriangleInterpolator returns the LUT value there.
    """
    points, values, interp = real_lut
    got = interp(points[:, 0], points[:, 1])
    assert not np.any(np.isnan(got))
    np.testing.assert_allclose(got, values, rtol=1e-12)
    ref = _griddata(points, values, points)
    finite = np.isfinite(ref)
    assert finite.mean() > 0.999
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12)


def _fragile_edges(points, interp, edges):
    """Edges on which a point may be found in no triangle (NaN): hull edges
    (the point may round outside) and edges of sliver triangles (condition
    number of the barycentric transform > 1e4: its rounding error exceeds
    the inside tolerance of 100 ulp)."""
    simplices = interp.simplices
    tri = points[simplices]
    cond = np.linalg.cond(np.stack([tri[:, 0] - tri[:, 2], tri[:, 1] - tri[:, 2]],
                                   axis=-1))
    n = len(points)
    key = edges[:, 0] * n + edges[:, 1]
    sliver = simplices[cond > 1e4]
    fragile = _edges(sliver) if len(sliver) else np.empty((0, 2), dtype=int)
    hull = np.sort(interp.tri.convex_hull, axis=1)
    return np.isin(key, fragile[:, 0] * n + fragile[:, 1]) \
        | np.isin(key, hull[:, 0] * n + hull[:, 1])


def _check_on_edges(points, values, interp, t):
    edges = _edges(interp.simplices)
    on_edge = points[edges[:, 0]] * (1 - t) + points[edges[:, 1]] * t
    got = interp(on_edge[:, 0], on_edge[:, 1])
    ref = _griddata(points, values, on_edge)
    fragile = _fragile_edges(points, interp, edges)
    assert fragile.mean() < 0.05
    # elsewhere: always found, griddata's value and the linear blend of the
    # vertex values
    assert not np.any(np.isnan(got[~fragile]))
    np.testing.assert_allclose(got[~fragile], ref[~fragile], rtol=1e-10)
    expected = values[edges[:, 0]] * (1 - t[:, 0]) + values[edges[:, 1]] * t[:, 0]
    np.testing.assert_allclose(got[~fragile], expected[~fragile], rtol=1e-10)
    # on fragile edges NaN is possible (in griddata too; only a few)
    assert np.isnan(got).sum() <= 20 and np.isnan(ref).sum() <= 20
    both = ~np.isnan(got) & ~np.isnan(ref)
    np.testing.assert_allclose(got[both], ref[both], rtol=1e-10)
    # (a sliver amplifies rounding: the blend of the vertex values only to 1e-8)
    np.testing.assert_allclose(got[both], expected[both], rtol=1e-8)


def test_real_lut_edge_midpoints(real_lut):
    """Midpoints of triangle edges: the mean of the two vertex values and
    griddata's value (rtol 1e-10, see the module docstring).

    A few midpoints are NaN in both codes: hull edges whose midpoint rounds
    outside, and interior edges of near-degenerate sliver triangles (a
    vertex almost on the opposite edge) whose barycentric coordinates err
    by more than the tolerance in both neighbours (HE-2D-FEM-22: 5,
    HE-3D-FEM-22: 1 interior edge).
    """
    points, values, interp = real_lut
    _check_on_edges(points, values, interp, np.full((len(_edges(interp.simplices)),
                                                     1), 0.5))


def test_real_lut_points_on_edges(real_lut):
    """Random points along the edges (rtol 1e-10 to griddata)."""
    points, values, interp = real_lut
    rng = np.random.default_rng(4)
    t = rng.uniform(0.01, 0.99, (len(_edges(interp.simplices)), 1))
    _check_on_edges(points, values, interp, t)


def test_real_lut_bounding_box_border(real_lut):
    """Points on the borders of the bounding box (the last grid cells)."""
    points, values, interp = real_lut
    lo, hi = points.min(axis=0), points.max(axis=0)
    t = np.linspace(0, 1, 2001)
    xs = np.concatenate([np.full_like(t, hi[0]), np.full_like(t, lo[0]),
                         lo[0] + t * (hi[0] - lo[0]), lo[0] + t * (hi[0] - lo[0])])
    ys = np.concatenate([lo[1] + t * (hi[1] - lo[1]), lo[1] + t * (hi[1] - lo[1]),
                         np.full_like(t, hi[1]), np.full_like(t, lo[1])])
    got = interp(xs, ys)
    ref = _griddata(points, values, np.column_stack([xs, ys]))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-10)
