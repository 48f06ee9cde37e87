"""Fast, exact piecewise-linear interpolation on a fixed Delaunay triangulation.

:func:`scipy.interpolate.griddata` (``method="linear"``) triangulates the
support points and interpolates barycentrically in the triangle that holds
each query point. Triangulating is cheap; *finding* the triangle of a
million points with Qhull's walk is what makes it slow. A look-up table's
triangulation never changes, so :class:`TriangleInterpolator` builds it once
together with a uniform grid of cells, each listing the triangles that
overlap it (exact triangle/box overlap test). A query then tests only the
few candidate triangles of its cell, vectorized over all points. The
triangulation and the arithmetic are those of ``griddata`` (the 2 x 2
barycentric transforms in closed form), so the values agree with it to
rounding: within 1e-12 relative, and both within 2e-13 of the exact
rational result on the real LUTs.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay

#: Tolerance of the inside-triangle test in barycentric coordinates (that of
#: Qhull's point location in SciPy)
EPS = 100 * np.finfo(float).eps


class TriangleInterpolator:
    """Piecewise-linear interpolant of values on 2-D support points.

    Parameters
    ----------
    points
        Support points, shape ``(N, 2)``.
    values
        Values at the support points, shape ``(N,)``.
    cells_per_triangle
        Target number of grid cells per triangle (a finer grid means fewer
        candidate triangles per query point).

    Examples
    --------
    >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    >>> interp = TriangleInterpolator(pts, np.array([0.0, 1.0, 2.0, 3.0]))
    >>> interp(np.array([0.5, 0.25, 2.0]), np.array([0.5, 0.25, 2.0]))
    array([1.5 , 0.75,  nan])
    """

    def __init__(self, points: np.ndarray, values: np.ndarray,
                 cells_per_triangle: float = 16.0) -> None:
        points = np.ascontiguousarray(points, dtype=float)
        self.values = np.ascontiguousarray(values, dtype=float)
        # the same call griddata/LinearNDInterpolator makes: same triangles
        self.tri = Delaunay(points)
        self.simplices = self.tri.simplices.astype(np.intp)
        self._transform = _barycentric_transforms(points[self.simplices])
        self._vertex_values = self.values[self.simplices]
        self._build_grid(points, cells_per_triangle)

    def _build_grid(self, points: np.ndarray, cells_per_triangle: float) -> None:
        lo = points.min(axis=0)
        hi = points.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        ntri = len(self.simplices)
        size = int(np.clip(np.sqrt(ntri * cells_per_triangle), 1, 2048))
        self._lo = lo
        self._scale = size / span
        self._size = size
        corners = (points[self.simplices] - lo) * self._scale  # (T, 3, 2) in cells
        cmin = np.clip(np.floor(corners.min(axis=1)).astype(np.int64), 0, size - 1)
        cmax = np.clip(np.floor(corners.max(axis=1)).astype(np.int64), 0, size - 1)
        nx = cmax[:, 0] - cmin[:, 0] + 1
        ny = cmax[:, 1] - cmin[:, 1] + 1
        counts = nx * ny
        tri_of = np.repeat(np.arange(ntri), counts)
        local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cx = cmin[tri_of, 0] + local % nx[tri_of]
        cy = cmin[tri_of, 1] + local // nx[tri_of]
        keep = _triangle_overlaps_cell(corners, tri_of, cx, cy)
        tri_of, cx, cy = tri_of[keep], cx[keep], cy[keep]
        cell = cy * size + cx
        # within a cell, try the triangles covering most of it first
        cover = _coverage(corners[tri_of], cx, cy)
        order = np.lexsort((-cover, cell))
        self._candidates = tri_of[order]
        # cells entirely inside one triangle need no inside test at all
        self._sole = np.full(size * size, -1, dtype=np.intp)
        full = cover == len(_SAMPLES)
        self._sole[cell[full]] = tri_of[full]
        self._last = max(len(self._candidates) - 1, 0)
        self._indptr = np.zeros(size * size + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=size * size), out=self._indptr[1:])

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Interpolated values at the points (x, y); NaN outside the hull."""
        shape = np.shape(x)
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        out = np.full(x.size, np.nan)
        size = self._size
        fx = (x - self._lo[0]) * self._scale[0]
        fy = (y - self._lo[1]) * self._scale[1]
        # points on the upper border belong to the last cell
        strict = (fx >= 0) & (fx <= size) & (fy >= 0) & (fy <= size)
        border = None
        if strict.all():
            active = None  # all points: spare the gathers of the first pass
        else:
            # points a hair outside the grid go to the nearest cell, but
            # always through the inside-triangle test (with its tolerance)
            margin = 1e-9 * size
            near = ~strict & (fx >= -margin) & (fx <= size + margin) \
                & (fy >= -margin) & (fy <= size + margin)
            active = np.flatnonzero(strict | near)
            fx, fy = fx[active], fy[active]
            border = near[active]
        np.clip(fx, 0, size - 1, out=fx)
        np.clip(fy, 0, size - 1, out=fy)
        cell = fy.astype(np.int64)
        cell *= size
        cell += fx.astype(np.int64)
        sole = self._sole[cell]
        if border is not None:
            sole[border] = -1
        fast = sole >= 0
        where = np.flatnonzero(fast)
        if active is not None:
            where = active[where]
        self._evaluate(out, where, x[where], y[where], sole[fast])
        rest = ~fast
        active = np.flatnonzero(rest) if active is None else active[rest]
        start = self._indptr[cell[rest]]
        count = self._indptr[cell[rest] + 1] - start
        k = 0
        while active.size:
            tri = self._candidates[np.minimum(start + k, self._last)]
            b0, b1, b2 = self._barycentric(tri, x[active], y[active])
            hit = (b0 >= -EPS) & (b1 >= -EPS) & (b2 >= -EPS) & (count > k)
            out[active[hit]] = self._combine(tri[hit], b0[hit], b1[hit], b2[hit])
            k += 1
            more = ~hit & (count > k)
            active, start, count = active[more], start[more], count[more]
        return out.reshape(shape)

    def _barycentric(self, tri: np.ndarray, x: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tt = self._transform[tri]
        dx = x - tt[:, 4]
        dy = y - tt[:, 5]
        b0 = tt[:, 0] * dx
        b0 += tt[:, 1] * dy
        b1 = tt[:, 2] * dx
        b1 += tt[:, 3] * dy
        return b0, b1, 1.0 - b0 - b1

    def _combine(self, tri: np.ndarray, b0: np.ndarray, b1: np.ndarray,
                 b2: np.ndarray) -> np.ndarray:
        # same summation order as SciPy's LinearNDInterpolator
        vv = self._vertex_values[tri]
        return b0 * vv[:, 0] + b1 * vv[:, 1] + b2 * vv[:, 2]

    def _evaluate(self, out: np.ndarray, where: np.ndarray, x: np.ndarray,
                  y: np.ndarray, tri: np.ndarray) -> None:
        out[where] = self._combine(tri, *self._barycentric(tri, x, y))


def _barycentric_transforms(tri: np.ndarray) -> np.ndarray:
    """Per triangle ``(t00, t01, t10, t11, rx, ry)`` with the barycentric
    coordinates ``c0 = t00 (x - rx) + t01 (y - ry)``,
    ``c1 = t10 (x - rx) + t11 (y - ry)``, ``c2 = 1 - c0 - c1``.

    The layout of :attr:`scipy.spatial.Delaunay.transform` (anchored at the
    third vertex), computed in closed form: SciPy inverts each 2 x 2 matrix
    with a LAPACK call whose run time varies wildly with BLAS threading.
    Degenerate (zero-area) triangles get NaN, so no point is ever found in
    them.
    """
    rx, ry = tri[:, 2, 0], tri[:, 2, 1]
    ax, ay = tri[:, 0, 0] - rx, tri[:, 0, 1] - ry
    bx, by = tri[:, 1, 0] - rx, tri[:, 1, 1] - ry
    det = ax * by - bx * ay
    scale = np.maximum(np.abs(ax) + np.abs(bx), np.abs(ay) + np.abs(by)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.abs(det) > 1e3 * np.finfo(float).eps * scale, 1 / det, np.nan)
    return np.column_stack([by * inv, -bx * inv, -ay * inv, ax * inv, rx, ry])


def _triangle_overlaps_cell(tri: np.ndarray, tri_of: np.ndarray, cx: np.ndarray,
                            cy: np.ndarray) -> np.ndarray:
    """Whether triangles ``tri[tri_of]`` (of ``tri`` (T, 3, 2)) overlap the
    unit cells at (cx, cy).

    Separating-axis test on the three edge normals (the box axes are
    covered by the bounding boxes the cells come from); slightly
    conservative so that rounding never loses a triangle.
    """
    overlap = np.ones(len(cx), dtype=bool)
    for i in range(3):
        a = tri[:, i]
        b = tri[:, (i + 1) % 3]
        nx = a[:, 1] - b[:, 1]
        ny = b[:, 0] - a[:, 0]
        proj = tri[:, :, 0] * nx[:, None] + tri[:, :, 1] * ny[:, None]
        tmin, tmax = proj.min(axis=1), proj.max(axis=1)
        radius = 0.5 * (np.abs(nx) + np.abs(ny)) * (1 + 1e-9) + 1e-12
        # per pair: the projection of the cell centre onto the normal
        centre = (cx + 0.5) * nx[tri_of] + (cy + 0.5) * ny[tri_of]
        overlap &= (centre >= (tmin - radius)[tri_of]) \
            & (centre <= (tmax + radius)[tri_of])
    return overlap


#: Sample points of a unit cell: its corners and its centre
_SAMPLES = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5))


def _coverage(tri: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """How many of the corners and centre of each cell lie in its triangle.

    All of them means the cell lies inside the triangle (both are convex).
    """
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    cover = np.zeros(len(cx), dtype=np.int64)
    for sx, sy in _SAMPLES:
        px, py = cx + sx, cy + sy
        d0 = _side(a, b, px, py)
        d1 = _side(b, c, px, py)
        d2 = _side(c, a, px, py)
        cover += ((d0 >= 0) & (d1 >= 0) & (d2 >= 0)) \
            | ((d0 <= 0) & (d1 <= 0) & (d2 <= 0))
    return cover


def _side(p: np.ndarray, q: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (q[:, 0] - p[:, 0]) * (y - p[:, 1]) - (q[:, 1] - p[:, 1]) * (x - p[:, 0])
