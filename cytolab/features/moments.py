"""Shape features of event contours: moments, inertia ratios, tilt, areas.

All features are computed for many contours at once: the contours of a
chunk of events are concatenated into one point array and every per-contour
sum (polygon moments, perimeter, bounding box) is one ``np.add.reduceat``
over that array, so there is no Python loop per event except for the convex
hull (one :func:`cv2.convexHull` call per event).

Moments follow OpenCV's ``moments.cpp`` for polygons (Green's theorem over
the closed contour, orientation-independent), but the sums over integer
contours are done in 64-bit integers relative to the first contour point,
which makes them exact. Older tools multiplied the (up to 16-bit) contour
coordinates in 32-bit integers; for events with a large horizontal extent
(wide regions of interest) the products overflowed and the inertia ratios
and tilt came out wrong or NaN (dclab issue #212, fixed in dclab 0.48.2).

Units: ``area_msd``/``area_cvx`` [px], ``area_um``/``area_um_raw`` [µm²],
``per_um_raw``/``size_x``/``size_y``/``pos_x``/``pos_y`` [µm]; the other
features are dimensionless (``tilt`` in radians).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = [
    "MOMENTS_FEATURES",
    "PIXEL_SIZE_FEATURES",
    "contour_moments",
    "convex_hulls",
    "moments_features",
]

#: Features computed by :func:`moments_features`.
MOMENTS_FEATURES = (
    "area_cvx", "area_msd", "area_um", "area_um_raw", "circ", "deform",
    "deform_raw", "eccentr_prnc", "inert_ratio_cvx", "inert_ratio_prnc",
    "inert_ratio_raw", "per_ratio", "per_um_raw", "pos_x", "pos_y", "size_x",
    "size_y", "tilt",
)

#: Features of :data:`MOMENTS_FEATURES` that need the pixel size [µm].
PIXEL_SIZE_FEATURES = ("area_um", "area_um_raw", "per_um_raw", "pos_x", "pos_y",
                       "size_x", "size_y")

#: Features that need the convex hull of the contour.
_HULL_FEATURES = ("area_cvx", "area_um", "circ", "deform", "inert_ratio_cvx",
                  "per_ratio", "pos_x", "pos_y")

#: A polygon whose doubled area is not above this counts as degenerate
#: (OpenCV uses the same threshold).
_AREA_EPSILON = float(np.finfo(np.float32).eps)

#: Integer sums are exact in int64 for contours up to this extent [px];
#: larger ones are summed in float64.
_MAX_EXACT_EXTENT = 2**12


class _Packed:
    """Contours of a chunk concatenated into one point array.

    Attributes
    ----------
    pts
        ``(N, 2)`` int64 or float64 array of all points.
    starts, counts
        Index of the first point and number of points of each contour.
    """

    def __init__(self, pts: np.ndarray, starts: np.ndarray, counts: np.ndarray
                 ) -> None:
        self.pts = pts
        self.starts = starts
        self.counts = counts

    def __len__(self) -> int:
        return len(self.counts)


def _as_contour(cont: Any, index: int | None = None) -> np.ndarray:
    arr = np.asarray(cont)
    if arr.ndim == 3 and arr.shape[1] == 1:  # OpenCV layout (J, 1, 2)
        arr = arr[:, 0, :]
    if arr.size == 0:
        return np.zeros((0, 2), dtype=arr.dtype if arr.dtype.kind in "iuf"
                        else np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        which = "contour" if index is None else f"contour {index}"
        raise ValueError(f"{which} must be an array of shape (J, 2) with x "
                         f"and y coordinates, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        which = "contour" if index is None else f"contour {index}"
        raise ValueError(f"{which} must hold numbers, got dtype {arr.dtype}")
    return arr


def _is_single(contours: Any) -> bool:
    """Whether `contours` is one contour rather than a sequence of them."""
    return isinstance(contours, np.ndarray) and contours.ndim == 2


def _pack(contours: Any) -> _Packed:
    """Concatenate one contour or a sequence of contours."""
    if _is_single(contours):
        items = [_as_contour(contours)]
    else:  # a sequence, or a (K, J, 2) array of K contours of J points
        items = [_as_contour(cc, ii) for ii, cc in enumerate(contours)]
    counts = np.fromiter((len(cc) for cc in items), dtype=np.int64,
                         count=len(items))
    starts = np.zeros(len(items), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    if not items or counts.sum() == 0:
        return _Packed(np.zeros((0, 2), dtype=np.int64), starts, counts)
    pts = np.concatenate([cc for cc in items if len(cc)])
    if pts.dtype.kind in "iu":
        pts = pts.astype(np.int64)
    else:
        pts = pts.astype(np.float64)
    return _Packed(pts, starts, counts)


def _reduce(ufunc: np.ufunc, values: np.ndarray, packed: _Packed,
            empty: Any = 0) -> np.ndarray:
    """Per-contour reduction of a per-point array (`empty` for no points)."""
    nonempty = packed.counts > 0
    out = np.full(len(packed), empty, dtype=values.dtype)
    if values.size:
        out[nonempty] = ufunc.reduceat(values, packed.starts[nonempty])
    return out


def _neighbours(packed: _Packed) -> np.ndarray:
    """Index of the previous point of each point (cyclic within a contour)."""
    prev = np.arange(-1, len(packed.pts) - 1, dtype=np.int64)
    nonempty = packed.counts > 0
    first = packed.starts[nonempty]
    prev[first] = first + packed.counts[nonempty] - 1
    return prev


def _polygon_sums(packed: _Packed, perimeter: bool = True, bbox: bool = True
                  ) -> dict[str, Any]:
    """Green's-theorem sums of each closed polygon, relative to its first point.

    Returns the doubled signed area ``a00``, the sums ``a10, a01, a20, a11,
    a02`` (OpenCV notation, not yet normalised), the origin ``x0, y0`` the
    coordinates were taken relative to and, if requested, the perimeter and
    the bounding box (``xmin, xmax, ymin, ymax``).
    """
    n = len(packed)
    nonempty = packed.counts > 0
    pts = packed.pts
    origin = np.zeros((n, 2), dtype=pts.dtype)
    origin[nonempty] = pts[packed.starts[nonempty]]
    rel = pts - np.repeat(origin, packed.counts, axis=0)
    out: dict[str, Any] = {"x0": origin[:, 0], "y0": origin[:, 1]}
    if bbox:
        out["xmin"] = _reduce(np.minimum, pts[:, 0], packed)
        out["xmax"] = _reduce(np.maximum, pts[:, 0], packed)
        out["ymin"] = _reduce(np.minimum, pts[:, 1], packed)
        out["ymax"] = _reduce(np.maximum, pts[:, 1], packed)
    if rel.dtype.kind == "i" and rel.size and \
            int(np.abs(rel).max()) > _MAX_EXACT_EXTENT:
        rel = rel.astype(np.float64)
    x = rel[:, 0]
    y = rel[:, 1]
    prev = _neighbours(packed)
    xp = x[prev]
    yp = y[prev]
    dxy = xp * y
    dxy -= x * yp
    sx = xp + x
    sy = yp + y
    xx = x * x
    yy = y * y
    out["a00"] = _reduce(np.add, dxy, packed)
    out["a10"] = _reduce(np.add, dxy * sx, packed)
    out["a01"] = _reduce(np.add, dxy * sy, packed)
    # x_p (x_p + x) + x**2 = x_p**2 + x_p x + x**2, and alike
    out["a20"] = _reduce(np.add, dxy * (xp * sx + xx), packed)
    out["a02"] = _reduce(np.add, dxy * (yp * sy + yy), packed)
    # x_p (2 y_p + y) + x (y_p + 2 y) = 2 (x_p y_p + x y) + x_p y + x y_p
    out["a11"] = _reduce(np.add, dxy * (2 * (xp * yp + x * y) + xp * y + x * yp),
                         packed)
    if perimeter:
        # segment lengths rounded to single precision, as OpenCV's
        # arcLength does (the reference tools use it): matches their
        # perimeters to the last digit instead of to 2e-8
        dx = x - xp
        dy = y - yp
        seg = np.sqrt(dx * dx + dy * dy).astype(np.float32)
        out["perimeter"] = _reduce(np.add, seg.astype(np.float64), packed)
    return out


def _moments_from_sums(sums: dict[str, Any], counts: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """Raw and central moments (NaN for degenerate polygons)."""
    a00 = sums["a00"].astype(np.float64)
    valid = (np.abs(a00) > _AREA_EPSILON) & (counts >= 3)
    sign = np.where(valid, np.sign(a00), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        m00 = a00 * sign / 2
        m10 = sums["a10"] * sign / 6
        m01 = sums["a01"] * sign / 6
        m20 = sums["a20"] * sign / 12
        m11 = sums["a11"] * sign / 24
        m02 = sums["a02"] * sign / 12
        cx = m10 / m00
        cy = m01 / m00
        mu20 = m20 - m10 * cx
        mu11 = m11 - m10 * cy
        mu02 = m02 - m01 * cy
    x0 = sums["x0"].astype(np.float64)
    y0 = sums["y0"].astype(np.float64)
    # raw moments about the image origin from those about the first point
    return {
        "m00": m00,
        "m10": m10 + x0 * m00,
        "m01": m01 + y0 * m00,
        "m20": m20 + 2 * x0 * m10 + x0**2 * m00,
        "m11": m11 + x0 * m01 + y0 * m10 + x0 * y0 * m00,
        "m02": m02 + 2 * y0 * m01 + y0**2 * m00,
        "mu20": mu20, "mu11": mu11, "mu02": mu02,
        "cx": cx + x0, "cy": cy + y0,
    }


def contour_moments(contours: np.ndarray | Iterable[np.ndarray]
                    ) -> dict[str, Any]:
    """Spatial and central moments up to second order of closed contours.

    Parameters
    ----------
    contours
        One contour, a ``(J, 2)`` array of x, y coordinates [px], or a
        sequence of them (the polygon is closed implicitly).

    Returns
    -------
    dict
        ``m00`` (area), ``m10``, ``m01``, ``m20``, ``m11``, ``m02``,
        ``mu20``, ``mu11``, ``mu02`` and the centroid ``cx``, ``cy``: floats
        for one contour, arrays for a sequence. NaN for contours with fewer
        than three points or zero area. Unlike OpenCV's ``cv2.moments`` the
        result does not depend on the orientation (``m00 >= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> square = np.array([[0, 0], [4, 0], [4, 2], [0, 2]])
    >>> mom = contour_moments(square)
    >>> mom["m00"], mom["cx"], round(mom["mu20"], 6)
    (8.0, 2.0, 10.666667)
    """
    packed = _pack(contours)
    mom = _moments_from_sums(_polygon_sums(packed, perimeter=False),
                             packed.counts)
    if _is_single(contours):
        return {key: float(val[0]) for key, val in mom.items()}
    return mom


def _hull_indices(packed: _Packed) -> _Packed:
    """Convex hulls as indices into ``packed.pts`` (empty if undefined)."""
    pts = packed.pts
    if pts.dtype.kind == "i":
        pts32 = pts.astype(np.int32)
        usable = packed.counts >= 3
    else:
        pts32 = pts.astype(np.float32)
        finite = _reduce(np.logical_and, np.isfinite(pts).all(axis=1), packed,
                         empty=False)
        usable = (packed.counts >= 3) & finite
    which = np.flatnonzero(usable)
    starts = packed.starts[which]
    ends = starts + packed.counts[which]
    convex_hull = cv2.convexHull
    hulls = [convex_hull(pts32[a:b], returnPoints=False)
             for a, b in zip(starts.tolist(), ends.tolist())]
    counts = np.zeros(len(packed), dtype=np.int64)
    counts[which] = np.fromiter(map(len, hulls), dtype=np.int64,
                                count=len(hulls))
    if hulls:
        index = np.concatenate(hulls).ravel().astype(np.int64)
        index += np.repeat(starts, counts[which])
    else:
        index = np.zeros(0, dtype=np.int64)
    hstarts = np.zeros(len(packed), dtype=np.int64)
    np.cumsum(counts[:-1], out=hstarts[1:])
    return _Packed(index, hstarts, counts)


def convex_hulls(contours: np.ndarray | Iterable[np.ndarray]
                 ) -> np.ndarray | list[np.ndarray]:
    """Convex hull of each contour (vertices in hull order).

    Parameters
    ----------
    contours
        One ``(J, 2)`` contour or a sequence of them.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        ``(H, 2)`` hull vertices (a subset of the contour points) per contour;
        empty for contours with fewer than three points or with NaN.

    Examples
    --------
    >>> import numpy as np
    >>> cont = np.array([[0, 0], [2, 1], [4, 0], [4, 3], [0, 3]])
    >>> len(convex_hulls(cont))
    4
    """
    packed = _pack(contours)
    hulls = _hull_indices(packed)
    out = [packed.pts[hulls.pts[s:s + c]]
           for s, c in zip(hulls.starts, hulls.counts, strict=True)]
    return out[0] if _is_single(contours) else out


def _hull_points(packed: _Packed, hulls: _Packed) -> _Packed:
    return _Packed(packed.pts[hulls.pts], hulls.starts, hulls.counts)


def _principal(mom: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest eigenvalue of the central second-moment matrix."""
    mean = (mom["mu20"] + mom["mu02"]) / 2
    half = np.hypot((mom["mu20"] - mom["mu02"]) / 2, mom["mu11"])
    lmax = mean + half
    # product of the eigenvalues is the determinant (avoids cancellation)
    det = mom["mu20"] * mom["mu02"] - mom["mu11"] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lmin = np.where(lmax > 0, det / lmax, np.nan)
    return lmax, lmin


def _check_pixel_size(pixel_size: Any) -> float:
    try:
        pix = float(pixel_size)
    except (TypeError, ValueError):
        raise ValueError(f"pixel_size must be a positive number [µm], got "
                         f"{pixel_size!r}") from None
    if not pix > 0 or not np.isfinite(pix):
        raise ValueError(f"pixel_size must be a positive number [µm], got "
                         f"{pixel_size!r}")
    return pix


def moments_features(contours: np.ndarray | Iterable[np.ndarray],
                     pixel_size: float | None = None,
                     features: Sequence[str] | None = None,
                     ) -> dict[str, np.ndarray]:
    """Contour-based shape features of many events at once.

    Parameters
    ----------
    contours
        Sequence of ``(J, 2)`` contours [px] (e.g. from
        :func:`~cytolab.features.contour.get_contour`), or a single contour.
    pixel_size
        Pixel size [µm]; required for the features in
        :data:`PIXEL_SIZE_FEATURES` (left out when None and `features` is
        None).
    features
        Names of the features to compute (default: all that the arguments
        allow); see :data:`MOMENTS_FEATURES`. Features that need no convex
        hull are much cheaper.

    Returns
    -------
    dict
        Feature name to float64 array with one value per contour:

        ``area_msd``
            Area enclosed by the contour [px] (polygon area, which is smaller
            than the number of mask pixels).
        ``area_cvx``, ``area_um``
            Area of the convex hull [px], and in µm².
        ``area_um_raw``
            ``area_msd`` in µm².
        ``circ``, ``deform``
            Circularity ``2 sqrt(pi A) / P`` of the convex hull (area A,
            perimeter P) and deformation ``1 - circ``.
        ``deform_raw``
            The same for the raw contour.
        ``per_ratio``, ``per_um_raw``
            Raw over convex perimeter; raw perimeter in µm.
        ``size_x``, ``size_y``
            Bounding-box size in µm, counting pixels (``max - min + 1``).
        ``pos_x``, ``pos_y``
            Centroid of the convex hull [µm].
        ``inert_ratio_raw``, ``inert_ratio_cvx``
            ``sqrt(mu20 / mu02)`` of the contour and of its convex hull.
        ``inert_ratio_prnc``, ``eccentr_prnc``
            ``sqrt(l1 / l2)`` and ``sqrt(1 - l2 / l1)`` of the principal
            second moments ``l1 >= l2`` (moments about the principal axes).
        ``tilt``
            Absolute angle [rad, 0 to pi/2] between the principal axis of
            the contour and the channel axis (x); pi/2 where the orientation
            is undefined (``mu11 = 0`` and ``mu20 = mu02``).

        Contours with fewer than three points, zero area or NaN give NaN.

    Raises
    ------
    ValueError
        For an unknown feature name, a pixel-size feature without
        `pixel_size`, or a contour that is not ``(J, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> rect = np.array([[0, 0], [0, 2], [0, 4], [10, 4], [10, 0]])
    >>> feats = moments_features([rect, rect[:2]], pixel_size=0.5)
    >>> feats["area_msd"].tolist(), feats["size_x"].tolist()
    ([40.0, nan], [5.5, nan])
    >>> round(float(feats["inert_ratio_raw"][0]), 3)
    2.5
    """
    pix = None if pixel_size is None else _check_pixel_size(pixel_size)
    if features is None:
        wanted = [f for f in MOMENTS_FEATURES
                  if pix is not None or f not in PIXEL_SIZE_FEATURES]
    else:
        wanted = list(features)
        unknown = sorted(set(wanted) - set(MOMENTS_FEATURES))
        if unknown:
            raise ValueError(f"Unknown shape feature(s) {unknown}; available: "
                             f"{list(MOMENTS_FEATURES)}")
        if pix is None and set(wanted) & set(PIXEL_SIZE_FEATURES):
            raise ValueError(
                f"pixel_size is required for "
                f"{sorted(set(wanted) & set(PIXEL_SIZE_FEATURES))}")
    packed = _pack(contours)
    counts = packed.counts
    need_per = bool({"deform_raw", "per_ratio", "per_um_raw"} & set(wanted))
    need_box = bool({"size_x", "size_y"} & set(wanted))
    sums = _polygon_sums(packed, perimeter=need_per, bbox=need_box)
    mom = _moments_from_sums(sums, counts)
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        area = mom["m00"]
        per = np.where(np.isfinite(area), sums["perimeter"], np.nan) \
            if need_per else None
        lmax, lmin = _principal(mom)
        calc = {
            "area_msd": lambda: area,
            "area_um_raw": lambda: area * pix**2,
            "deform_raw": lambda: 1 - 2 * np.sqrt(np.pi * area) / per,
            "per_um_raw": lambda: per * pix,
            "inert_ratio_raw": lambda: np.sqrt(mom["mu20"] / mom["mu02"]),
            "inert_ratio_prnc": lambda: np.sqrt(lmax / lmin),
            "eccentr_prnc": lambda: np.sqrt(1 - lmin / lmax),
            "tilt": lambda: _tilt(mom),
            "size_x": lambda: np.where(
                np.isfinite(area), sums["xmax"] - sums["xmin"] + 1, np.nan
            ).astype(np.float64) * pix,
            "size_y": lambda: np.where(
                np.isfinite(area), sums["ymax"] - sums["ymin"] + 1, np.nan
            ).astype(np.float64) * pix,
        }
        for name in wanted:
            if name in calc:
                out[name] = np.asarray(calc[name](), dtype=np.float64)
        if set(wanted) & set(_HULL_FEATURES):
            hulls = _hull_points(packed, _hull_indices(packed))
            hsums = _polygon_sums(hulls, bbox=False, perimeter=bool(
                {"circ", "deform", "per_ratio"} & set(wanted)))
            hmom = _moments_from_sums(hsums, hulls.counts)
            harea = np.where(np.isfinite(area), hmom["m00"], np.nan)
            hper = hsums.get("perimeter")
            hcalc = {
                "area_cvx": lambda: harea,
                "area_um": lambda: harea * pix**2,
                "circ": lambda: 2 * np.sqrt(np.pi * harea) / hper,
                "deform": lambda: 1 - 2 * np.sqrt(np.pi * harea) / hper,
                "per_ratio": lambda: per / hper,
                "pos_x": lambda: hmom["cx"] * pix,
                "pos_y": lambda: hmom["cy"] * pix,
                "inert_ratio_cvx": lambda: np.sqrt(hmom["mu20"] / hmom["mu02"]),
            }
            for name in wanted:
                if name in hcalc:
                    out[name] = np.asarray(hcalc[name](), dtype=np.float64)
    return {name: out[name] for name in wanted}


def _tilt(mom: dict[str, np.ndarray]) -> np.ndarray:
    """Absolute angle between the major principal axis and the x axis."""
    # 0.5 * atan2(2 mu11, mu02 - mu20) + pi/2 equals minus the major-axis
    # angle modulo pi; written this way, the isotropic case (atan2(0, 0))
    # gives pi/2 like the reference tools
    angle = 0.5 * np.arctan2(2 * mom["mu11"], mom["mu02"] - mom["mu20"]) + np.pi / 2
    angle = np.mod(angle, np.pi)
    return np.abs(np.where(angle > np.pi / 2, angle - np.pi, angle))
