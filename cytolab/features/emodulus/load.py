"""Look-up tables of the Young's modulus: text format, registry, loading.

A look-up table (LUT) is a text file of three columns, (area_um or
volume, deform, emodulus), simulated for one channel width, flow rate and
medium viscosity. Comment lines (``#``) hold a JSON object between
``# BEGIN METADATA`` and ``# END METADATA`` that states those conditions,
and the last comment line names the columns (``area_um [um^2]``, ``deform``,
``emodulus [kPa]``, tab-separated).

Internal LUTs are fetched on first use (:mod:`.datafiles`); users add their
own with :func:`register_lut`.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import pathlib
import re
import warnings
from typing import Any

import numpy as np

from .datafiles import fetch

#: Identifiers of look-up tables the user registered -> file path
EXTERNAL_LUTS: dict[str, pathlib.Path] = {}

#: Internal LUT identifiers -> data file name
INTERNAL_LUTS = {
    "LE-2D-FEM-19": "lut_LE-2D-FEM-19.txt",
    "HE-2D-FEM-22": "lut_HE-2D-FEM-22.txt",
    "HE-3D-FEM-22": "lut_HE-3D-FEM-22.txt",
}

#: Features a LUT can be based on (its first column)
LUT_ABSCISSAE = ("area_um", "volume")

#: Feature each internal LUT is based on (known without reading the file)
_INTERNAL_ABSCISSA = {"LE-2D-FEM-19": "area_um", "HE-2D-FEM-22": "area_um",
                      "HE-3D-FEM-22": "area_um"}


def load_mtext(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a text table with embedded JSON metadata.

    Parameters
    ----------
    path
        The text file.

    Returns
    -------
    data : numpy.ndarray
        The numeric columns, shape ``(N, columns)``.
    meta : dict
        The JSON metadata plus ``"column features"`` (names of the columns,
        e.g. ``["area_um", "deform", "emodulus"]``) and ``"column units"``
        (``["um^2", "", "kPa"]``).

    Raises
    ------
    ValueError
        The file has no metadata block, broken JSON, no column header, or
        data that do not match the header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = path.write_text(
    ...     "# BEGIN METADATA\\n# {\\"identifier\\": \\"demo\\"}\\n"
    ...     "# END METADATA\\n# area_um [um^2]\\tdeform\\temodulus [kPa]\\n"
    ...     "10.0 0.1 1.5\\n20.0 0.05 1.5\\n")
    >>> data, meta = load_mtext(path)
    >>> data.shape, meta["identifier"], meta["column features"]
    ((2, 3), 'demo', ['area_um', 'deform', 'emodulus'])
    """
    path = pathlib.Path(path)
    comments = []
    with path.open("r", encoding="utf-8") as fd:
        for line in fd:
            if not line.startswith("#"):
                if line.strip():
                    break
                continue
            comments.append(line[1:].strip())
    if "BEGIN METADATA" not in comments or "END METADATA" not in comments:
        raise ValueError(f"'{path}' has no metadata block (comment lines "
                         f"'# BEGIN METADATA' ... '# END METADATA')")
    start, stop = comments.index("BEGIN METADATA"), comments.index("END METADATA")
    try:
        meta = json.loads("\n".join(comments[start + 1:stop]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"'{path}' has broken metadata JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"The metadata of '{path}' is not a JSON object")
    header = [c for c in comments[stop + 1:] if c]
    if not header:
        raise ValueError(f"'{path}' has no column header after the metadata")
    names, units = [], []
    for column in re.split(r"\t|\s{2,}", header[-1]):
        match = re.fullmatch(r"\s*(\S+)\s*(?:\[(.*)\])?\s*", column)
        if match is None:
            raise ValueError(f"Cannot parse the column header '{header[-1]}' "
                             f"of '{path}'")
        names.append(match.group(1))
        units.append(match.group(2) or "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy: "empty input file"
        data = np.loadtxt(path, ndmin=2)
    if data.size == 0:
        raise ValueError(f"'{path}' has no data rows")
    if data.shape[1] != len(names):
        raise ValueError(f"'{path}' has {data.shape[1]} data columns but its "
                         f"header names {len(names)} ({header[-1]})")
    meta["column features"] = names
    meta["column units"] = units
    return data, meta


def get_internal_lut_names_dict() -> dict[str, str]:
    """Internal LUT identifiers and their data file names."""
    return dict(INTERNAL_LUTS)


def get_lut_path(path_or_id: str | os.PathLike) -> pathlib.Path:
    """Path of a LUT given as file path, internal or registered identifier.

    Internal LUTs are downloaded into the cache on first use.

    Raises
    ------
    ValueError
        Neither an existing file nor a known identifier.
    """
    path = pathlib.Path(path_or_id)
    if path.is_file():
        return path
    name = str(path_or_id)
    if name in EXTERNAL_LUTS:
        return EXTERNAL_LUTS[name]
    if name in INTERNAL_LUTS:
        return fetch(INTERNAL_LUTS[name])
    known = sorted(INTERNAL_LUTS) + sorted(EXTERNAL_LUTS)
    raise ValueError(f"'{name}' is neither a LUT file nor a known LUT identifier "
                     f"(known: {', '.join(known)}; add your own with register_lut)")


def get_lut_feature(path_or_id: str | os.PathLike) -> str:
    """The feature a LUT is based on (``"area_um"`` or ``"volume"``).

    Cheap: internal LUTs are known, registered and file LUTs are read once
    (and cached); nothing is downloaded.

    Raises
    ------
    ValueError
        Unknown identifier or invalid file.
    """
    name = str(path_or_id)
    if name in _INTERNAL_ABSCISSA and name not in EXTERNAL_LUTS:
        return _INTERNAL_ABSCISSA[name]
    path = EXTERNAL_LUTS.get(name) or pathlib.Path(path_or_id)
    if not pathlib.Path(path).is_file():
        raise ValueError(f"'{name}' is neither a LUT file nor a known LUT identifier")
    return _read_lut(*_file_key(path))[1]["column features"][0]


def register_lut(path: str | os.PathLike, identifier: str | None = None
                 ) -> str:
    """Make a user's LUT file available under an identifier.

    Parameters
    ----------
    path
        LUT text file (see :func:`load_mtext`).
    identifier
        Name to use; default: the ``identifier`` in the file's metadata.

    Returns
    -------
    str
        The identifier.

    Raises
    ------
    ValueError
        No identifier given or in the file, the identifier is taken, or the
        file is not a valid LUT.
    """
    path = pathlib.Path(path).resolve()
    _, meta = _read_lut(*_file_key(path))
    identifier = identifier or meta.get("identifier")
    if not identifier:
        raise ValueError(f"'{path}' has no 'identifier' in its metadata; "
                         f"pass one to register_lut")
    if identifier in INTERNAL_LUTS or identifier in EXTERNAL_LUTS:
        raise ValueError(f"A LUT with the identifier '{identifier}' is already "
                         f"registered")
    EXTERNAL_LUTS[identifier] = path
    return identifier


def load_lut(lut_data: str | os.PathLike | tuple[np.ndarray, dict] = "LE-2D-FEM-19"
             ) -> tuple[np.ndarray, dict[str, Any]]:
    """A LUT as ``(array of shape (N, 3), metadata)``.

    Parameters
    ----------
    lut_data
        Internal or registered identifier, path of a LUT file, or an
        already loaded ``(lut, meta)`` tuple (passed through).

    Returns
    -------
    lut : numpy.ndarray
        Columns (area_um or volume, deform, emodulus); a fresh copy.
    meta : dict
        Metadata (see :func:`load_mtext`); a fresh copy.

    Examples
    --------
    >>> lut, meta = load_lut("LE-2D-FEM-19")  # doctest: +SKIP
    >>> meta["channel_width"], lut.shape[1]  # doctest: +SKIP
    (20.0, 3)
    """
    if isinstance(lut_data, tuple):
        lut, meta = lut_data
        lut = np.asarray(lut, dtype=float)
        _check_lut(lut, meta, "the given LUT")
        return lut, copy.deepcopy(meta)
    path = get_lut_path(lut_data)
    lut, meta = _read_lut(*_file_key(path))
    return lut.copy(), copy.deepcopy(meta)


def _file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """Cache key of a file: resolved path, modification time and size (a
    file rewritten in place is read again)."""
    path = pathlib.Path(path).resolve()
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=16)
def _read_lut(path: str, mtime_ns: int, size: int
              ) -> tuple[np.ndarray, dict[str, Any]]:
    # mtime_ns and size are part of the cache key only (see _file_key)
    lut, meta = load_mtext(path)
    _check_lut(lut, meta, f"'{path}'")
    lut.flags.writeable = False
    return lut, meta


def _check_lut(lut: np.ndarray, meta: dict[str, Any], name: str) -> None:
    if lut.ndim != 2 or lut.shape[1] != 3 or len(lut) < 3:
        raise ValueError(f"The LUT {name} must have three columns and at least "
                         f"three rows, got shape {lut.shape}")
    columns = meta.get("column features", [])
    if len(columns) != 3 or columns[0] not in LUT_ABSCISSAE \
            or columns[1:] != ["deform", "emodulus"]:
        raise ValueError(f"The LUT {name} must have the columns (area_um or "
                         f"volume, deform, emodulus), got {columns}")
    bad = [key for key in ("channel_width", "flow_rate", "fluid_viscosity")
           if isinstance(meta.get(key), bool)
           or not isinstance(meta.get(key), (int, float))
           or not np.isfinite(meta[key]) or meta[key] <= 0]
    if bad:
        raise ValueError(f"The metadata of the LUT {name} lack a positive number "
                         f"for {', '.join(bad)}")
    if not np.all(np.isfinite(lut)):
        raise ValueError(f"The LUT {name} holds NaN or infinite values")
