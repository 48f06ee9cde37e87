"""Polygon filters: gate events by a polygon drawn in a 2D feature space.

A :class:`PolygonFilter` holds two feature names (the x and y axes), the
vertices of a polygon in that plane and an ``inverted`` flag. All filters
register themselves in the class-level list :attr:`PolygonFilter.instances`
under a unique integer id, which is how datasets will refer to them.

Filters are stored in the plain-text ``.poly`` format used by Shape-Out::

    [Polygon 00000000]
    X Axis = area_um
    Y Axis = deform
    Name = my gate
    Inverted = False
    point00000000 = 4.806285699729710e+01 3.159643080378363e-02
    point00000001 = 4.707025517531432e+01 2.200807132494297e-02
    ...

A file may contain several such sections, one after another.

Boundary convention of :func:`point_in_poly`
--------------------------------------------
A point is inside when a ray cast from it towards ``+x`` crosses the polygon
outline an odd number of times, where an edge is crossed when the point's y
lies in the half-open interval ``[min(y0, y1), max(y0, y1))`` of the edge and
the edge lies *strictly* to the right of the point. As a consequence, points
exactly on the boundary are decided deterministically: for an axis-aligned
rectangle, points on the lower and the left edge are **inside**, points on the
upper and the right edge are **outside**; of the four corners only the lower
left one is inside. Polygons that tile the plane therefore assign every
boundary point to exactly one of them. Points with a NaN coordinate are
always outside.
"""
from __future__ import annotations

import hashlib
import io
import pathlib
from collections.abc import Sequence
from typing import IO, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..errors import CytolabError

__all__ = [
    "PolygonFilter", "PolygonFilterError", "get_polygon_filter_names",
    "point_in_poly",
]

#: Format of one vertex coordinate in a ``.poly`` file.
_COORD_FMT = "{:.15e}"


class PolygonFilterError(CytolabError, ValueError):
    """A polygon filter is invalid or a ``.poly`` file is malformed."""


def point_in_poly(points: npt.ArrayLike, polygon: npt.ArrayLike) -> np.ndarray:
    """Test which points lie inside a polygon (vectorized ray casting).

    Parameters
    ----------
    points : array_like of shape (M, 2) or (2,)
        Coordinates ``(x, y)`` of the points to test. A single point of
        shape ``(2,)`` is accepted as well.
    polygon : array_like of shape (N, 2)
        Vertices of the polygon in drawing order (N >= 3). The polygon is
        closed implicitly; it may be concave but should not self-intersect
        (for self-intersecting outlines the even-odd rule applies).

    Returns
    -------
    numpy.ndarray of bool
        Shape ``(M,)`` (or a 0-d array for a single point): True where the
        point is inside.

    Notes
    -----
    Boundary convention: for an axis-aligned rectangle, points on the lower
    or left edge count as inside and points on the upper or right edge as
    outside; only the lower left corner is inside. In general, an edge counts
    as crossed by the ray towards ``+x`` when the point's y is in
    ``[min(y0, y1), max(y0, y1))`` and the edge is strictly to the right of
    the point. Points with a NaN coordinate are outside.

    The loop runs over the polygon's edges; every step is an in-place numpy
    operation on all points inside the polygon's bounding box.

    Examples
    --------
    >>> square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    >>> point_in_poly([[0.5, 0.5], [2, 2], [0, 0.5], [1, 0.5]], square)
    array([ True, False,  True, False])
    """
    pts = np.asarray(points, dtype=float)
    single = pts.ndim == 1
    if single:
        pts = pts.reshape(1, -1)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"`points` must have shape (M, 2), got {pts.shape}")
    poly = _check_polygon(polygon)

    result = np.zeros(pts.shape[0], dtype=bool)
    x = pts[:, 0]
    y = pts[:, 1]
    # Only points inside the bounding box can be inside the polygon
    # (the half-open convention excludes the box's top and right side).
    xmin, ymin = poly.min(axis=0)
    xmax, ymax = poly.max(axis=0)
    box = (x >= xmin) & (x < xmax) & (y >= ymin) & (y < ymax)
    idx = np.flatnonzero(box)
    if idx.size == 0:
        return result[0:1].reshape(()) if single else result
    bx = x[idx]
    by = y[idx]
    inside = np.zeros(idx.size, dtype=bool)
    # preallocated work arrays: full in-place passes are faster than
    # selecting the points of each edge's y range
    xcross = np.empty(idx.size)
    hit = np.empty(idx.size, dtype=bool)
    tmp = np.empty(idx.size, dtype=bool)

    x0 = poly[:, 0]
    y0 = poly[:, 1]
    x1 = np.roll(x0, -1)
    y1 = np.roll(y0, -1)
    for xa, ya, xb, yb in zip(x0, y0, x1, y1):
        if ya == yb:
            # A horizontal edge is never crossed under the half-open rule.
            continue
        if ya > yb:
            xa, ya, xb, yb = xb, yb, xa, ya
        # the edge spans [ya, yb) in y ...
        np.greater_equal(by, ya, out=hit)
        np.less(by, yb, out=tmp)
        hit &= tmp
        # ... and is crossed if its x at the points' y is right of the point
        np.subtract(by, ya, out=xcross)
        xcross *= (xb - xa) / (yb - ya)
        xcross += xa
        np.greater(xcross, bx, out=tmp)
        hit &= tmp
        inside ^= hit
    result[idx] = inside
    if single:
        return result.reshape(())
    return result


def _check_polygon(polygon: npt.ArrayLike) -> np.ndarray:
    """Return the polygon as a float (N, 2) array, validating it."""
    poly = np.array(polygon, dtype=float)
    if poly.ndim != 2 or poly.shape[1] != 2:
        raise PolygonFilterError(
            f"polygon points must have shape (N, 2), got {poly.shape}")
    if poly.shape[0] < 3:
        raise PolygonFilterError(
            f"a polygon needs at least 3 points, got {poly.shape[0]}")
    if not np.all(np.isfinite(poly)):
        raise PolygonFilterError("polygon points must be finite numbers")
    return poly


def _check_axes(axes: Any) -> tuple[str, str]:
    """Return the axes as a tuple of two distinct feature names."""
    if isinstance(axes, str) or not isinstance(axes, Sequence):
        raise PolygonFilterError(
            f"`axes` must be a sequence of two feature names, got {axes!r}")
    axes = tuple(axes)
    if len(axes) != 2 or not all(isinstance(a, str) and a for a in axes):
        raise PolygonFilterError(
            f"`axes` must be two non-empty feature names, got {axes!r}")
    if axes[0] == axes[1]:
        raise PolygonFilterError(
            f"the two polygon axes must differ, got {axes!r}")
    return axes  # type: ignore[return-value]


def _parse_poly_file(path: pathlib.Path) -> list[dict[str, Any]]:
    """Parse a ``.poly`` file into a list of section dictionaries.

    Each dictionary has the keys ``axes``, ``points``, ``name`` and
    ``inverted``. Raises :class:`PolygonFilterError` naming the file and
    line for anything malformed.
    """
    sections: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    header_line = 0

    def fail(lineno: int, msg: str) -> PolygonFilterError:
        return PolygonFilterError(f"malformed polygon file '{path}', "
                                  f"line {lineno}: {msg}")

    def finish(sec: dict[str, Any] | None, lineno: int) -> None:
        if sec is None:
            return
        if "xaxis" not in sec or "yaxis" not in sec:
            raise fail(lineno, "section has no 'X Axis' or 'Y Axis' entry")
        if len(sec["points"]) < 3:
            raise fail(lineno, f"section has {len(sec['points'])} points, "
                               f"at least 3 are needed")
        sections.append({
            "axes": (sec["xaxis"], sec["yaxis"]),
            "points": np.array(sec["points"], dtype=float),
            "name": sec.get("name"),
            "inverted": sec.get("inverted", False),
        })

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolygonFilterError(
            f"polygon file '{path}' is not a text file: {exc}") from exc

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            if not line[1:-1].strip().lower().startswith("polygon"):
                raise fail(lineno, f"unknown section header {line!r}")
            finish(current, header_line)
            current = {"points": []}
            header_line = lineno
            continue
        if current is None:
            raise fail(lineno, f"expected a '[Polygon N]' header, got {line!r}")
        if "=" not in line:
            raise fail(lineno, f"expected 'key = value', got {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        lkey = key.lower()
        if lkey == "x axis":
            current["xaxis"] = value
        elif lkey == "y axis":
            current["yaxis"] = value
        elif lkey == "name":
            current["name"] = value
        elif lkey == "inverted":
            if value.lower() not in ("true", "false"):
                raise fail(lineno, f"'Inverted' must be True or False, "
                                   f"got {value!r}")
            current["inverted"] = value.lower() == "true"
        elif lkey.startswith("point"):
            parts = value.split()
            try:
                coords = [float(p) for p in parts]
            except ValueError:
                coords = []
            if len(coords) != 2:
                raise fail(lineno, f"expected two numbers for {key}, "
                                   f"got {value!r}")
            current["points"].append(coords)
        # Other keys are ignored (forward compatibility).
    finish(current, header_line)
    if not sections:
        raise PolygonFilterError(f"no polygon found in file '{path}'")
    return sections


class PolygonFilter:
    """A polygonal gate on two features of RT-DC data.

    Parameters
    ----------
    axes : sequence of two str, optional
        Feature names of the x and y axis, e.g. ``("area_um", "deform")``.
    points : array_like of shape (N, 2), optional
        Polygon vertices ``(x, y)`` in drawing order, N >= 3.
    inverted : bool
        If True, :meth:`filter` keeps the events *outside* the polygon.
    name : str, optional
        Human-readable name; defaults to ``"Polygon filter <id>"``.
    filename : str or pathlib.Path, optional
        A ``.poly`` file. If given, ``axes``, ``points``, ``inverted`` and
        ``name`` are read from the file and the arguments are ignored.
    fileid : int
        Which polygon of ``filename`` to load (starting at 0).
    unique_id : int, optional
        Id under which the filter is registered. Defaults to the next free
        integer; an id that is already taken raises ``ValueError``.

    Raises
    ------
    PolygonFilterError
        (a ``ValueError``) for invalid axes or points, a malformed file, a
        ``fileid`` out of range, a taken ``unique_id``, or when neither
        ``filename`` nor ``axes`` and ``points`` are given.

    Examples
    --------
    >>> pf = PolygonFilter(axes=("area_um", "deform"),
    ...                    points=[[0, 0], [10, 0], [10, .1], [0, .1]])
    >>> pf.filter([5, 20], [.05, .05])
    array([ True, False])
    >>> PolygonFilter.remove(pf.unique_id)
    """

    #: All registered filters, in order of creation.
    instances: ClassVar[list[PolygonFilter]] = []
    _id_counter: ClassVar[int] = 0

    def __init__(self,
                 axes: Sequence[str] | None = None,
                 points: npt.ArrayLike | None = None,
                 inverted: bool = False,
                 name: str | None = None,
                 filename: str | pathlib.Path | None = None,
                 fileid: int = 0,
                 unique_id: int | None = None) -> None:
        if filename is not None:
            path = pathlib.Path(filename)
            sections = _parse_poly_file(path)
            if not 0 <= fileid < len(sections):
                raise PolygonFilterError(
                    f"fileid {fileid} out of range: '{path}' contains "
                    f"{len(sections)} polygon(s)")
            sec = sections[fileid]
            axes, points = sec["axes"], sec["points"]
            inverted, name = sec["inverted"], sec["name"]
        elif axes is None or points is None:
            raise PolygonFilterError(
                "either `filename` or both `axes` and `points` are required")

        self.axes: tuple[str, str] = _check_axes(axes)
        self._points = _check_polygon(points)
        self.inverted = bool(inverted)

        if unique_id is None:
            unique_id = PolygonFilter._next_free_id()
        else:
            unique_id = int(unique_id)
            if PolygonFilter.unique_id_exists(unique_id):
                raise PolygonFilterError(
                    f"a polygon filter with unique_id {unique_id} exists")
        self.unique_id: int = unique_id
        PolygonFilter._id_counter = max(PolygonFilter._id_counter,
                                        unique_id + 1)
        self.name: str = name if name else f"Polygon filter {unique_id}"
        PolygonFilter.instances.append(self)

    def __repr__(self) -> str:
        return (f"<PolygonFilter {self.unique_id} '{self.name}' "
                f"axes={self.axes} points={len(self._points)} "
                f"inverted={self.inverted}>")

    def __eq__(self, other: object) -> bool:
        """Equal when axes, points and ``inverted`` are equal (not name/id)."""
        if not isinstance(other, PolygonFilter):
            return NotImplemented
        return (self.axes == other.axes
                and self.inverted == other.inverted
                and self._points.shape == other._points.shape
                and bool(np.all(self._points == other._points)))

    # Mutable and compared by value: instances are not hashable.
    __hash__ = None  # type: ignore[assignment]

    @property
    def points(self) -> np.ndarray:
        """Polygon vertices, shape (N, 2) (a copy; assign to change)."""
        return self._points.copy()

    @points.setter
    def points(self, value: npt.ArrayLike) -> None:
        self._points = _check_polygon(value)

    @property
    def hash(self) -> str:
        """Hex digest identifying ``axes``, ``points`` and ``inverted``."""
        md5 = hashlib.md5(usedforsecurity=False)
        md5.update("\n".join(self.axes).encode("utf-8"))
        md5.update(np.ascontiguousarray(self._points, dtype="<f8").tobytes())
        md5.update(b"inverted" if self.inverted else b"normal")
        return md5.hexdigest()

    def copy(self, invert: bool = False) -> PolygonFilter:
        """Return a copy registered under a new unique id.

        Parameters
        ----------
        invert : bool
            If True, the copy's ``inverted`` flag is the opposite of this
            filter's.

        Returns
        -------
        PolygonFilter
            The new filter.
        """
        return PolygonFilter(axes=self.axes, points=self._points,
                             inverted=self.inverted != bool(invert),
                             name=self.name)

    def filter(self, datax: npt.ArrayLike, datay: npt.ArrayLike) -> np.ndarray:
        """Return which events pass the filter.

        Parameters
        ----------
        datax, datay : array_like
            Values of the x and y feature (``self.axes``), same length.

        Returns
        -------
        numpy.ndarray of bool
            True for events inside the polygon (outside if ``inverted``).
            See :func:`point_in_poly` for points on the boundary.
        """
        x = np.asarray(datax, dtype=float).ravel()
        y = np.asarray(datay, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"`datax` and `datay` differ in length: "
                             f"{x.size} != {y.size}")
        inside = point_in_poly(np.column_stack((x, y)), self._points)
        return ~inside if self.inverted else inside

    def save(self, polyfile: str | pathlib.Path | IO[str],
             ret_fobj: bool = False) -> IO[str] | None:
        """Write the filter in the ``.poly`` format.

        Parameters
        ----------
        polyfile : str, pathlib.Path or text file object
            A path (the filter is appended if the file exists; it must end
            with ``.poly``) or a file object opened for writing.
        ret_fobj : bool
            If True, the file object is left open and returned.

        Returns
        -------
        file object or None
            The open file object if ``ret_fobj``, else None.
        """
        if isinstance(polyfile, io.IOBase) or hasattr(polyfile, "write"):
            fobj = polyfile
        else:
            path = pathlib.Path(polyfile)  # type: ignore[arg-type]
            if path.suffix != ".poly":
                raise ValueError(f"polygon files must end with '.poly': {path}")
            fobj = path.open("a", encoding="utf-8")
        lines = [f"[Polygon {self.unique_id:08d}]",
                 f"X Axis = {self.axes[0]}",
                 f"Y Axis = {self.axes[1]}",
                 f"Name = {self.name}",
                 f"Inverted = {self.inverted}"]
        for ii, (px, py) in enumerate(self._points):
            lines.append(f"point{ii:08d} = "
                         f"{_COORD_FMT.format(px)} {_COORD_FMT.format(py)}")
        fobj.write("\n".join(lines) + "\n")  # type: ignore[union-attr]
        if ret_fobj:
            return fobj  # type: ignore[return-value]
        if fobj is not polyfile:
            fobj.close()  # type: ignore[union-attr]
        return None

    @staticmethod
    def save_all(polyfile: str | pathlib.Path | IO[str]) -> None:
        """Write all registered filters to one ``.poly`` file.

        Parameters
        ----------
        polyfile : str, pathlib.Path or text file object
            Target file (appended to if it exists) or open file object.
        """
        if not PolygonFilter.instances:
            raise PolygonFilterError("there are no polygon filters to save")
        fobj = PolygonFilter.instances[0].save(polyfile, ret_fobj=True)
        for pf in PolygonFilter.instances[1:]:
            pf.save(fobj, ret_fobj=True)  # type: ignore[arg-type]
        if fobj is not polyfile:
            fobj.close()  # type: ignore[union-attr]

    @staticmethod
    def from_online_filter(config: Any) -> list[PolygonFilter]:
        """Create (and register) a filter for every online polygon gate.

        Acquisition software stores the polygon gates applied during a
        measurement as ``online_filter:<x>,<y> polygon points``; this turns
        them into polygon filters that can be applied offline.

        Parameters
        ----------
        config : Configuration or mapping
            Metadata of a dataset (``ds.config``).

        Returns
        -------
        list of PolygonFilter
            One filter per gate, named ``"online gate <x>,<y>"``.
        """
        section = config.get("online_filter", {}) if hasattr(config, "get") else {}
        filters = []
        for key in sorted(section):
            if key.endswith(" polygon points"):
                axes = key[:-len(" polygon points")].split(",")
                filters.append(PolygonFilter(
                    axes=axes, points=np.asarray(section[key], dtype=float),
                    name=f"online gate {','.join(axes)}"))
        return filters

    @staticmethod
    def import_all(path: str | pathlib.Path) -> list[PolygonFilter]:
        """Create (and register) a filter for every polygon in a file.

        Parameters
        ----------
        path : str or pathlib.Path
            A ``.poly`` file.

        Returns
        -------
        list of PolygonFilter
            The new filters, in file order, each with a new unique id.
        """
        sections = _parse_poly_file(pathlib.Path(path))
        return [PolygonFilter(axes=sec["axes"], points=sec["points"],
                              inverted=sec["inverted"], name=sec["name"])
                for sec in sections]

    @staticmethod
    def get_instance_from_id(unique_id: int) -> PolygonFilter:
        """Return the registered filter with this id (KeyError if none)."""
        for pf in PolygonFilter.instances:
            if pf.unique_id == unique_id:
                return pf
        raise KeyError(f"no polygon filter with unique_id {unique_id}")

    @staticmethod
    def unique_id_exists(unique_id: int) -> bool:
        """Whether a registered filter has this unique id."""
        return any(pf.unique_id == unique_id for pf in PolygonFilter.instances)

    @staticmethod
    def remove(unique_id: int) -> None:
        """Unregister the filter with this id (no error if there is none)."""
        PolygonFilter.instances[:] = [
            pf for pf in PolygonFilter.instances if pf.unique_id != unique_id]

    @staticmethod
    def clear_all_filters() -> None:
        """Unregister all filters and restart the id counter at 0."""
        PolygonFilter.instances.clear()
        PolygonFilter._id_counter = 0

    @staticmethod
    def _next_free_id() -> int:
        """Next id not yet used since the last :meth:`clear_all_filters`."""
        uid = PolygonFilter._id_counter
        while PolygonFilter.unique_id_exists(uid):
            uid += 1
        return uid


def get_polygon_filter_names() -> list[str]:
    """Names of all registered polygon filters, in order of creation."""
    return [pf.name for pf in PolygonFilter.instances]
