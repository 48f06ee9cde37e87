"""Isoelasticity lines: curves of constant Young's modulus in feature space.

An isoelastic (isoelasticity line) is the set of (size, deformation) pairs
that a look-up table (LUT) maps to one Young's modulus. Drawn over a
scatter plot of ``area_um`` (or ``volume``) against ``deform`` they show the
stiffness of the events at a glance. Like the LUTs, the lines come from
simulations for one channel width, flow rate and medium viscosity, so
:meth:`Isoelastics.get` scales them to the conditions of a measurement
(:mod:`cytolab.features.emodulus.scale_linear`) and, if asked, adds the
pixelation error that measured contours have and simulated ones lack
(:mod:`cytolab.features.emodulus.pxcorr`).

Lines are stored per LUT identifier (e.g. ``"LE-2D-FEM-19"``) and per pair
of features. Each set of lines is a list of arrays of shape ``(N, 3)``:
the two features, then the Young's modulus [kPa], constant along a line.

The lines published with the LUTs are data files (``iso_<ID>-<feature>-
deform.txt``, :mod:`cytolab.features.emodulus.datafiles`), fetched on first
use by :func:`get_default`.

Examples
--------
>>> import numpy as np
>>> iso = Isoelastics()
>>> line = np.array([[50.0, 0.02, 1.5], [80.0, 0.03, 1.5]])
>>> iso.add([line], "area_um", "deform", channel_width=20.0, flow_rate=0.04,
...         viscosity=15.0, lut_identifier="my-LUT")
>>> iso.get("deform", "area_um", channel_width=20.0,
...         lut_identifier="my-LUT")[0].tolist()
[[0.02, 50.0, 1.5], [0.03, 80.0, 1.5]]
"""
from __future__ import annotations

import collections
import os
import pathlib
import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import IsoelasticsEmodulusMeaninglessWarning
from ..features.emodulus import datafiles
from ..features.emodulus.load import load_mtext
from ..features.emodulus.pxcorr import get_pixelation_delta_pair
from ..features.emodulus.scale_linear import scale_feature
from ..features.emodulus.viscosity import get_viscosity

__all__ = [
    "AutoRecursiveDict",
    "Isoelastics",
    "IsoelasticsEmodulusMeaninglessWarning",
    "check_lut_identifier",
    "get_available_files",
    "get_available_identifiers",
    "get_default",
]

#: Legacy values of the deprecated ``method`` argument -> LUT identifier
METHOD_LUT_IDENTIFIERS = {
    "analytical": "LE-2D-ana-18",
    "numerical": "LE-2D-FEM-19",
}

#: Features that give the size of an event (abscissa of the lines)
SIZE_FEATURES = ("area_um", "volume")
#: Features that give the shape of an event (``circ = 1 - deform``)
SHAPE_FEATURES = ("deform", "circ")

#: Viscosity model used by :meth:`Isoelastics.get_with_rtdcbase`
DEFAULT_VISCOSITY_MODEL = "buyukurganci-2022"

# registered file names look like "iso_LE-2D-FEM-19-area_um-deform.txt"
_ISO_NAME = re.compile(r"iso_(?P<lut>.+)-(?P<col1>area_um|volume)-"
                       r"(?P<col2>deform)\.txt")

# parsed registered files (their content is fixed by their SHA-256 sum)
_REGISTERED_CACHE: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()


class AutoRecursiveDict(collections.UserDict):
    """A dictionary that creates a nested instance for every missing key.

    Reading ``d["a"]["b"]`` stores empty levels ``"a"`` and ``"b"``, so
    nested entries can be assigned without creating the levels first. Test
    membership with ``in`` (which creates nothing) before reading a key that
    may be absent.

    Examples
    --------
    >>> d = AutoRecursiveDict()
    >>> d["LE-2D-FEM-19"]["area_um"]["deform"] = 1
    >>> "volume" in d["LE-2D-FEM-19"]
    False
    >>> d["LE-2D-FEM-19"]["area_um"]["deform"]
    1
    """

    def __missing__(self, key: Any) -> AutoRecursiveDict:
        value = AutoRecursiveDict()
        self.data[key] = value
        return value


def check_lut_identifier(lut_identifier: str | None, method: str | None) -> str:
    """Resolve the LUT identifier from it and the deprecated `method`.

    Parameters
    ----------
    lut_identifier
        LUT identifier (e.g. ``"HE-3D-FEM-22"``) or None.
    method
        Deprecated: ``"analytical"`` (means ``"LE-2D-ana-18"``) or
        ``"numerical"`` (means ``"LE-2D-FEM-19"``), or None.

    Returns
    -------
    str
        The LUT identifier.

    Raises
    ------
    ValueError
        Neither argument is given, `method` is unknown, or the two disagree.

    Warns
    -----
    DeprecationWarning
        If `method` is given.

    Examples
    --------
    >>> check_lut_identifier("HE-2D-FEM-22", None)
    'HE-2D-FEM-22'
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     check_lut_identifier(None, "numerical")
    'LE-2D-FEM-19'
    """
    if method is not None:
        if method not in METHOD_LUT_IDENTIFIERS:
            raise ValueError(
                f"Unknown method {method!r} (deprecated argument; it only "
                f"accepts {', '.join(map(repr, METHOD_LUT_IDENTIFIERS))}); "
                f"pass lut_identifier instead")
        from_method = METHOD_LUT_IDENTIFIERS[method]
        warnings.warn(
            f"The argument 'method' is deprecated; pass "
            f"lut_identifier={from_method!r} instead of method={method!r}",
            DeprecationWarning, stacklevel=3)
        if lut_identifier is not None and lut_identifier != from_method:
            raise ValueError(
                f"method={method!r} means lut_identifier={from_method!r}, "
                f"which contradicts lut_identifier={lut_identifier!r}; "
                f"pass only lut_identifier")
        return from_method
    if lut_identifier is None:
        raise ValueError(
            f"Give lut_identifier, the look-up table the lines belong to "
            f"(available: {', '.join(get_available_identifiers())})")
    if not isinstance(lut_identifier, str):
        raise TypeError(f"lut_identifier must be a string, got {lut_identifier!r}")
    return lut_identifier


def get_available_files() -> list[str]:
    """Names of the registered isoelasticity line files.

    The files are not downloaded by this call; :func:`get_default` fetches
    them (see :func:`cytolab.features.emodulus.datafiles.fetch`).

    Returns
    -------
    list of str
        Sorted file names, ``iso_<LUT identifier>-<feature>-deform.txt``.

    Examples
    --------
    >>> "iso_LE-2D-FEM-19-area_um-deform.txt" in get_available_files()
    True
    """
    return sorted(name for name in datafiles.DATA_FILES
                  if _ISO_NAME.fullmatch(name))


def get_available_identifiers() -> list[str]:
    """LUT identifiers for which isoelasticity lines are registered.

    Returns
    -------
    list of str
        Sorted identifiers.

    Examples
    --------
    >>> get_available_identifiers()
    ['HE-2D-FEM-22', 'HE-3D-FEM-22', 'LE-2D-FEM-19', 'LE-2D-ana-18']
    """
    names = (_ISO_NAME.fullmatch(name) for name in get_available_files())
    return sorted({match.group("lut") for match in names if match})


def get_default() -> Isoelastics:
    """All registered isoelasticity lines in a new :class:`Isoelastics`.

    The data files are fetched into the cache on first use and parsed once
    per session; every call returns a fresh instance, so lines a user adds
    to it do not show up in later calls.

    Returns
    -------
    Isoelastics
        Lines of every identifier of :func:`get_available_identifiers`.

    Raises
    ------
    cytolab.features.emodulus.datafiles.DataFileUnavailableError
        A file is neither cached nor downloadable.

    Examples
    --------
    >>> iso = get_default()  # doctest: +SKIP
    >>> lines = iso.get("area_um", "deform", channel_width=20.0,
    ...                 lut_identifier="LE-2D-FEM-19")  # doctest: +SKIP
    >>> len(lines), lines[0].shape[1]  # doctest: +SKIP
    (11, 3)
    """
    iso = Isoelastics()
    for name in get_available_files():
        with _CACHE_LOCK:
            if name not in _REGISTERED_CACHE:
                data, meta = load_mtext(datafiles.fetch(name))
                data.flags.writeable = False
                _REGISTERED_CACHE[name] = (data, meta)
            data, meta = _REGISTERED_CACHE[name]
        iso._add_table(data, meta, source=name)
    return iso


def _check_pair(col1: str, col2: str, where: str) -> None:
    """Lines need one size and one shape feature."""
    pair = {col1, col2}
    if len(pair & set(SIZE_FEATURES)) != 1 or len(pair & set(SHAPE_FEATURES)) != 1:
        raise ValueError(
            f"{where}: (col1, col2) = ({col1!r}, {col2!r}) must be one size "
            f"feature ({', '.join(SIZE_FEATURES)}) and one shape feature "
            f"({', '.join(SHAPE_FEATURES)})")


def _as_lines(isoel: Sequence[Any]) -> list[np.ndarray]:
    """Validated float copies of a list of lines."""
    if isinstance(isoel, np.ndarray) and isoel.ndim == 2:
        raise TypeError("isoel must be a list of (N, 3) arrays, not one array")
    lines = []
    for ii, line in enumerate(isoel):
        arr = np.array(line, dtype=float, copy=True)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"Isoelastic {ii} must have the shape (N, 3), "
                             f"got {arr.shape}")
        lines.append(arr)
    return lines


def _split_lines(data: np.ndarray) -> list[np.ndarray]:
    """Split rows of a three-column table where the modulus changes."""
    if len(data) == 0:
        return []
    starts = np.flatnonzero(np.diff(data[:, 2]) != 0) + 1
    return [np.array(part) for part in np.split(data, starts)]


class Isoelastics:
    """Isoelasticity lines of one or more look-up tables.

    Parameters
    ----------
    paths
        Isoelasticity line files to load (see :meth:`load_data`).

    Examples
    --------
    >>> import numpy as np
    >>> iso = Isoelastics()
    >>> line = np.array([[50.0, 0.02, 1.5], [80.0, 0.03, 1.5]])
    >>> iso.add([line], "area_um", "deform", channel_width=20.0,
    ...         flow_rate=0.04, viscosity=15.0, lut_identifier="my-LUT")
    >>> iso.get("area_um", "circ", channel_width=20.0,
    ...         lut_identifier="my-LUT")[0][:, 1].tolist()
    [0.98, 0.97]
    """

    def __init__(self, paths: Sequence[str | os.PathLike] | None = None) -> None:
        #: lut identifier -> col1 -> col2 -> {"isoelastics", "meta"}
        self._data = AutoRecursiveDict()
        for path in paths or []:
            self.load_data(path)

    def __repr__(self) -> str:
        idents = ", ".join(sorted(self._data)) or "none"
        return f"<Isoelastics of LUTs: {idents}>"

    def _has(self, lut_identifier: str, col1: str, col2: str) -> bool:
        return (lut_identifier in self._data
                and col1 in self._data[lut_identifier]
                and col2 in self._data[lut_identifier][col1])

    def _pairs(self, lut_identifier: str) -> list[tuple[str, str]]:
        if lut_identifier not in self._data:
            return []
        level = self._data[lut_identifier]
        return sorted((c1, c2) for c1 in level for c2 in level[c1])

    def add(self, isoel: Sequence[np.ndarray], col1: str, col2: str,
            channel_width: float, flow_rate: float, viscosity: float,
            method: str | None = None, lut_identifier: str | None = None
            ) -> None:
        """Add isoelasticity lines.

        Also added, for convenience: the lines with `col1` and `col2`
        swapped and, if one column is ``deform``, the lines in terms of
        ``circ = 1 - deform`` (in both column orders).

        Parameters
        ----------
        isoel
            The lines, each an array of shape ``(N, 3)``: `col1`, `col2`,
            Young's modulus [kPa]. They are copied.
        col1, col2
            Features of the first two columns: one of ``area_um``,
            ``volume`` and one of ``deform``, ``circ``.
        channel_width
            Channel width the lines were computed for [µm].
        flow_rate
            Flow rate the lines were computed for [µL/s].
        viscosity
            Medium viscosity the lines were computed for [mPa·s].
        method
            Deprecated; use `lut_identifier` (see
            :func:`check_lut_identifier`).
        lut_identifier
            Identifier of the LUT the lines belong to.

        Raises
        ------
        ValueError
            The columns are not a size/shape pair, a line is not of shape
            ``(N, 3)``, a condition is not positive, or lines for one of
            the column pairs to add already exist for this identifier
            (nothing is added then).

        Examples
        --------
        >>> import numpy as np
        >>> iso = Isoelastics()
        >>> iso.add([np.array([[50.0, 0.02, 1.5], [80.0, 0.03, 1.5]])],
        ...         "area_um", "deform", channel_width=20.0, flow_rate=0.04,
        ...         viscosity=15.0, lut_identifier="my-LUT")
        >>> iso.get("circ", "area_um", channel_width=20.0,
        ...         lut_identifier="my-LUT")[0].tolist()
        [[0.98, 50.0, 1.5], [0.97, 80.0, 1.5]]
        """
        lut_identifier = check_lut_identifier(lut_identifier, method)
        _check_pair(col1, col2, "add")
        for name, value in (("channel_width", channel_width),
                            ("flow_rate", flow_rate), ("viscosity", viscosity)):
            if not (isinstance(value, (int, float, np.number))
                    and float(value) > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        lines = _as_lines(isoel)
        meta = [float(channel_width), float(flow_rate), float(viscosity)]

        sets = {(col1, col2): lines,
                (col2, col1): [line[:, [1, 0, 2]] for line in lines]}
        if "deform" in (col1, col2):
            shape_idx = 0 if col1 == "deform" else 1
            circ_lines = []
            for line in lines:
                circ = line.copy()
                circ[:, shape_idx] = 1 - circ[:, shape_idx]
                circ_lines.append(circ)
            c1, c2 = ("circ", col2) if col1 == "deform" else (col1, "circ")
            sets[(c1, c2)] = circ_lines
            sets[(c2, c1)] = [line[:, [1, 0, 2]] for line in circ_lines]

        existing = [pair for pair in sets if self._has(lut_identifier, *pair)]
        if existing:
            raise ValueError(
                f"Isoelastics for {lut_identifier!r} with the columns "
                f"{', '.join(map(str, existing))} exist already (added directly "
                f"or derived from other columns); use a new Isoelastics "
                f"instance to replace them")
        for (c1, c2), data in sets.items():
            self._data[lut_identifier][c1][c2] = {"isoelastics": data,
                                                  "meta": list(meta)}

    @staticmethod
    def add_px_err(isoel: list[np.ndarray], col1: str, col2: str, px_um: float,
                   inplace: bool = False) -> list[np.ndarray]:
        """Add the pixelation error of measured contours to the lines.

        Lines from simulations are free of the pixelation error that the
        contours of real (pixelated) images have (Herold 2017). To draw
        them over measured data, the error is added back: the shape feature
        becomes ``deform + delta`` (``circ - delta`` for circularity), with
        `delta` from :func:`~cytolab.features.emodulus.pxcorr.
        get_pixelation_delta_pair` at the size of each point. The size
        feature does not change.

        Parameters
        ----------
        isoel
            Lines of shape ``(N, 3)`` with columns `col1`, `col2`, modulus.
        col1, col2
            Features of the first two columns: one size feature
            (``area_um``, ``volume``) and one shape feature (``deform``,
            ``circ``).
        px_um
            Pixel size of the measurement [µm]; 0 adds nothing.
        inplace
            Modify the arrays of `isoel` (and return `isoel`) instead of
            returning new ones.

        Returns
        -------
        list of numpy.ndarray
            Lines with the pixelation error.

        Examples
        --------
        >>> import numpy as np
        >>> line = np.array([[100.0, 0.05, 1.0]])
        >>> out = Isoelastics.add_px_err([line], "area_um", "deform", 0.34)
        >>> round(float(out[0][0, 1]), 5)
        0.05552
        """
        _check_pair(col1, col2, "add_px_err")
        lines = isoel if inplace else [np.array(line, dtype=float, copy=True)
                                       for line in isoel]
        for line in lines:
            delta1, delta2 = get_pixelation_delta_pair(
                col1, col2, line[:, 0], line[:, 1], px_um=px_um)
            # measured = corrected + delta (pxcorr subtracts delta)
            line[:, 0] += delta1
            line[:, 1] += delta2
        return lines

    @staticmethod
    def convert(isoel: list[np.ndarray], col1: str, col2: str,
                channel_width_in: float, channel_width_out: float,
                flow_rate_in: float, flow_rate_out: float,
                viscosity_in: float, viscosity_out: float,
                inplace: bool = False) -> list[np.ndarray]:
        """Scale lines to another channel width, flow rate and viscosity.

        Sizes scale with the channel width (``area_um`` squared, ``volume``
        cubed), the shape features stay the same and the modulus scales
        with the stress ``viscosity * flow_rate / channel_width**3`` (see
        :func:`~cytolab.features.emodulus.scale_linear.scale_feature`).

        Parameters
        ----------
        isoel
            Lines of shape ``(N, 3)`` with columns `col1`, `col2`, modulus.
        col1, col2
            Features of the first two columns: ``area_um``, ``volume``,
            ``deform`` or ``circ``.
        channel_width_in, channel_width_out
            Channel width of the lines and the target one [µm].
        flow_rate_in, flow_rate_out
            Flow rate of the lines and the target one [µL/s].
        viscosity_in, viscosity_out
            Viscosity of the lines and the target one [mPa·s].
        inplace
            Modify the arrays of `isoel` (and return `isoel`) instead of
            returning new ones.

        Returns
        -------
        list of numpy.ndarray
            The scaled lines.

        Notes
        -----
        When only the positions of the lines matter (not their moduli),
        any equal constants (e.g. 1) do for the flow rates and viscosities.

        Examples
        --------
        >>> import numpy as np
        >>> line = np.array([[50.0, 0.02, 1.5]])
        >>> Isoelastics.convert([line], "area_um", "deform",
        ...                     channel_width_in=20, channel_width_out=40,
        ...                     flow_rate_in=0.04, flow_rate_out=0.32,
        ...                     viscosity_in=15, viscosity_out=15)[0].tolist()
        [[200.0, 0.02, 1.5]]
        """
        for col in (col1, col2):
            if col not in SIZE_FEATURES + SHAPE_FEATURES:
                raise ValueError(
                    f"convert: cannot scale the column {col!r}; columns must be "
                    f"one of {', '.join(SIZE_FEATURES + SHAPE_FEATURES)}")
        kw = {"channel_width_in": channel_width_in,
              "channel_width_out": channel_width_out,
              "flow_rate_in": flow_rate_in, "flow_rate_out": flow_rate_out,
              "viscosity_in": viscosity_in, "viscosity_out": viscosity_out}
        lines = isoel if inplace else [np.array(line, dtype=float, copy=True)
                                       for line in isoel]
        for line in lines:
            for idx, feat in enumerate((col1, col2, "emodulus")):
                # column views are scaled in place (in the copy unless inplace)
                scale_feature(feat, line[:, idx], inplace=True, **kw)
        return lines

    def get(self, col1: str, col2: str, channel_width: float,
            method: str | None = None, lut_identifier: str | None = None,
            flow_rate: float | None = None, viscosity: float | None = None,
            add_px_err: bool = False, px_um: float | None = None
            ) -> list[np.ndarray]:
        """Isoelasticity lines scaled to the conditions of a measurement.

        Parameters
        ----------
        col1, col2
            Features of the first two columns of every line, e.g.
            ``"area_um", "deform"``.
        channel_width
            Channel width [µm].
        method
            Deprecated; use `lut_identifier`.
        lut_identifier
            Identifier of the LUT whose lines to return.
        flow_rate
            Flow rate [µL/s]; None means that of the lines (the moduli are
            then only right if that was the measurement's flow rate).
        viscosity
            Medium viscosity [mPa·s]; None means that of the lines (same
            caveat).
        add_px_err
            Add the pixelation error (:meth:`add_px_err`), for plotting
            the lines over measured data.
        px_um
            Pixel size [µm]; required if `add_px_err`.

        Returns
        -------
        list of numpy.ndarray
            New arrays of shape ``(N, 3)``: `col1`, `col2`, modulus [kPa].

        Raises
        ------
        ValueError
            No lines for `lut_identifier` or for the column pair,
            `add_px_err` without `px_um`, or bad conditions.

        Examples
        --------
        >>> iso = get_default()  # doctest: +SKIP
        >>> lines = iso.get("area_um", "deform", channel_width=30.0,
        ...                 lut_identifier="HE-3D-FEM-22", flow_rate=0.16,
        ...                 viscosity=5.0, add_px_err=True,
        ...                 px_um=0.34)  # doctest: +SKIP
        """
        lut_identifier = check_lut_identifier(lut_identifier, method)
        if lut_identifier not in self._data:
            raise ValueError(
                f"No isoelastics for the LUT identifier {lut_identifier!r}; this "
                f"instance has: {', '.join(sorted(self._data)) or 'none'}")
        if not self._has(lut_identifier, col1, col2):
            pairs = ", ".join(f"({c1}, {c2})" for c1, c2 in self._pairs(lut_identifier))
            raise ValueError(
                f"No isoelastics for the columns ({col1}, {col2}) of "
                f"{lut_identifier!r}; available column pairs: {pairs}")
        if add_px_err and px_um is None:
            raise ValueError("add_px_err=True needs the pixel size px_um")
        entry = self._data[lut_identifier][col1][col2]
        channel_width_in, flow_rate_in, viscosity_in = entry["meta"]
        lines = self.convert(
            entry["isoelastics"], col1, col2,
            channel_width_in=channel_width_in, channel_width_out=channel_width,
            flow_rate_in=flow_rate_in,
            flow_rate_out=flow_rate_in if flow_rate is None else flow_rate,
            viscosity_in=viscosity_in,
            viscosity_out=viscosity_in if viscosity is None else viscosity)
        if add_px_err:
            self.add_px_err(lines, col1, col2, px_um=px_um, inplace=True)
        return lines

    def get_with_rtdcbase(self, col1: str, col2: str, dataset: Any,
                          method: str | None = None,
                          lut_identifier: str | None = None,
                          viscosity: float | None | bool = None,
                          add_px_err: bool = False) -> list[np.ndarray]:
        """Isoelasticity lines for the conditions of a dataset.

        Channel width and flow rate come from ``setup:channel width`` and
        ``setup:flow rate``, the pixel size (for `add_px_err`) from
        ``imaging:pixel size`` of ``dataset.config``.

        Parameters
        ----------
        col1, col2
            Features of the first two columns of every line.
        dataset
            The measurement (a :class:`~cytolab.RTDCBase`).
        method
            Deprecated; use `lut_identifier`.
        lut_identifier
            Identifier of the LUT whose lines to return.
        viscosity
            Medium viscosity [mPa·s]. None: computed from ``setup:medium``
            and ``setup:temperature`` (and the channel width and flow rate)
            with the ``"buyukurganci-2022"`` model; if that is not possible
            (unknown medium, no temperature), the moduli are not scaled for
            viscosity and an :class:`IsoelasticsEmodulusMeaninglessWarning`
            is issued. False: do not scale for viscosity (no warning).
        add_px_err
            Add the pixelation error (:meth:`add_px_err`).

        Returns
        -------
        list of numpy.ndarray
            Lines of shape ``(N, 3)``: `col1`, `col2`, modulus [kPa].

        Raises
        ------
        KeyError
            The dataset lacks the channel width, flow rate or (with
            `add_px_err`) pixel size.

        Examples
        --------
        >>> import cytolab
        >>> ds = cytolab.new_dataset({"area_um": [50.0], "deform": [0.02]})
        >>> ds.config["setup"]["channel width"] = 20.0
        >>> ds.config["setup"]["flow rate"] = 0.04
        >>> ds.config["setup"]["medium"] = "CellCarrier"
        >>> ds.config["setup"]["temperature"] = 23.0
        >>> lines = get_default().get_with_rtdcbase(
        ...     "area_um", "deform", ds,
        ...     lut_identifier="LE-2D-FEM-19")  # doctest: +SKIP
        """
        lut_identifier = check_lut_identifier(lut_identifier, method)
        setup = dataset.config["setup"]
        for key in ("channel width", "flow rate"):
            if key not in setup:
                raise KeyError(f"The dataset {dataset!r} has no 'setup:{key}', "
                               f"which the isoelastics need")
        channel_width = setup["channel width"]
        flow_rate = setup["flow rate"]
        px_um = None
        if add_px_err:
            imaging = dataset.config["imaging"]
            if "pixel size" not in imaging:
                raise KeyError(f"The dataset {dataset!r} has no 'imaging:pixel "
                               f"size', which add_px_err=True needs")
            px_um = imaging["pixel size"]

        if viscosity is False:
            viscosity = None
        elif viscosity is None:
            viscosity = self._dataset_viscosity(dataset, channel_width, flow_rate)
        return self.get(col1, col2, channel_width=channel_width,
                        lut_identifier=lut_identifier, flow_rate=flow_rate,
                        viscosity=viscosity, add_px_err=add_px_err, px_um=px_um)

    @staticmethod
    def _dataset_viscosity(dataset: Any, channel_width: float, flow_rate: float
                           ) -> float | None:
        """Medium viscosity of a dataset, or None (with a warning)."""
        setup = dataset.config["setup"]
        missing = [key for key in ("medium", "temperature") if key not in setup]
        if missing:
            reason = f"the dataset has no {' or '.join('setup:' + m for m in missing)}"
        else:
            try:
                return float(get_viscosity(
                    medium=setup["medium"], channel_width=channel_width,
                    flow_rate=flow_rate, temperature=setup["temperature"],
                    model=DEFAULT_VISCOSITY_MODEL))
            except (ValueError, TypeError) as exc:
                reason = str(exc)
        warnings.warn(
            f"The viscosity of the medium of {dataset!r} could not be computed "
            f"({reason}), so the Young's moduli of the isoelastics were not "
            f"scaled to it and are meaningless; pass viscosity to fix this",
            IsoelasticsEmodulusMeaninglessWarning, stacklevel=3)
        return None

    def load_data(self, path: str | os.PathLike) -> None:
        """Load isoelasticity lines from a text file.

        The file holds three columns (size feature, ``deform`` or
        ``circ``, ``emodulus``); each run of rows with one modulus is a
        line. Its metadata (see
        :func:`~cytolab.features.emodulus.load.load_mtext`) give the
        ``"lut identifier"``, ``channel_width``, ``flow_rate`` and
        ``fluid_viscosity``.

        Parameters
        ----------
        path
            The isoelasticity line file.

        Raises
        ------
        ValueError
            The file is not a valid isoelasticity line file, or its lines
            are loaded already.

        Examples
        --------
        >>> iso = Isoelastics()
        >>> iso.load_data("iso_LE-2D-FEM-19-area_um-deform.txt")  # doctest: +SKIP
        """
        data, meta = load_mtext(path)
        self._add_table(data, meta, source=str(pathlib.Path(path)))

    def _add_table(self, data: np.ndarray, meta: dict[str, Any], source: str
                   ) -> None:
        """Add the lines of a parsed isoelastics file."""
        columns = meta.get("column features", [])
        if len(columns) != 3 or columns[2] != "emodulus":
            raise ValueError(f"'{source}' must have three columns, the last "
                             f"being emodulus; got {columns}")
        lut_identifier = meta.get("lut identifier")
        if not lut_identifier:
            raise ValueError(f"The metadata of '{source}' lack the "
                             f"'lut identifier'")
        missing = [key for key in ("channel_width", "flow_rate", "fluid_viscosity")
                   if key not in meta]
        if missing:
            raise ValueError(f"The metadata of '{source}' lack "
                             f"{', '.join(missing)}")
        self.add(_split_lines(data), columns[0], columns[1],
                 channel_width=meta["channel_width"], flow_rate=meta["flow_rate"],
                 viscosity=meta["fluid_viscosity"], lut_identifier=lut_identifier)
