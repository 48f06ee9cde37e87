"""Opening HDF5 files safely, reading root attributes, and file identity.

Everything that touches an HDF5 file on disk goes through :func:`open_h5` so
that a missing, foreign or truncated file always gives the same clear
:class:`~cytolab.errors.FileFormatError` naming the file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import h5py
import hdf5plugin  # noqa: F401  (registers the Zstd and other HDF5 filters)
import numpy as np

from ..errors import FileFormatError

#: Number of bytes hashed to identify a file (fast on network shares).
MD5_5M_BYTES = 5 * 1024**2

#: HDF5 files start with this signature (at offset 0, 512, 1024, ...).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

PathLike = str | os.PathLike
H5Source = PathLike | h5py.File | h5py.Group | BinaryIO


def is_hdf5_file(path: PathLike) -> bool:
    """Return True if `path` is a regular file that starts like an HDF5 file.

    Parameters
    ----------
    path
        Path to a file on disk.

    Examples
    --------
    >>> is_hdf5_file("/nonexistent.rtdc")
    False
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as fd:
        head = fd.read(8)
    return head == HDF5_SIGNATURE


def open_h5(obj: H5Source, mode: str = "r", **h5kwargs: Any) -> tuple[h5py.File, bool]:
    """Open an HDF5 file and say whether the caller owns the handle.

    Parameters
    ----------
    obj
        A path, an open :class:`h5py.File` (or group), or a binary file-like
        object.
    mode
        File mode for paths and file objects (``"r"``, ``"r+"``, ``"a"``,
        ``"w"``).
    **h5kwargs
        Passed on to :class:`h5py.File`.

    Returns
    -------
    h5 : h5py.File or h5py.Group
        The open file.
    owned : bool
        True when this function opened the file (the caller must close it),
        False when `obj` was already an h5py object.

    Raises
    ------
    FileFormatError
        If the file does not exist, is not an HDF5 file, or is damaged.
    """
    if isinstance(obj, h5py.Group):
        return obj, False
    if isinstance(obj, (str, os.PathLike)):
        path = pathlib.Path(obj)
        if mode == "r":
            if not path.exists():
                raise FileFormatError(f"File not found: '{path}'")
            if path.is_dir():
                raise FileFormatError(f"Expected a file, got a directory: '{path}'")
            if not is_hdf5_file(path):
                raise FileFormatError(
                    f"Not an HDF5 file (no HDF5 signature): '{path}'")
        name = str(path)
    else:
        name = getattr(obj, "name", repr(obj))
    try:
        h5 = h5py.File(obj, mode, **h5kwargs)
    except (OSError, ValueError) as exc:
        raise FileFormatError(
            f"Cannot open '{name}' as HDF5 (truncated or damaged file?): "
            f"{exc}") from exc
    return h5, True


def decode_attr(value: Any) -> Any:
    """Convert an HDF5 attribute value to a plain Python/NumPy value.

    Bytes become str, zero-dimensional NumPy values become Python scalars;
    arrays are returned unchanged.
    """
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return np.char.decode(value, "utf-8").tolist()
        if value.dtype.kind == "O":
            return [decode_attr(v) for v in value.tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_root_metadata(h5: h5py.Group) -> dict[str, dict[str, Any]]:
    """Read root attributes named ``"section:key"`` into a nested dict.

    Attributes without a colon are skipped (they are not metadata).
    """
    meta: dict[str, dict[str, Any]] = {}
    for name, value in h5.attrs.items():
        if ":" not in name:
            continue
        section, key = name.split(":", 1)
        meta.setdefault(section, {})[key] = decode_attr(value)
    return meta


def get_measurement_identifier(meta: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Return the identifier of a measurement from its metadata.

    The identifier is ``experiment:run identifier`` when it is set.
    Otherwise it is derived from ``experiment:time``, ``experiment:date`` and
    ``setup:identifier`` (the MD5 of ``"{time}_{date}_{identifier}"`` written
    as a UUID, the rule shared by the whole ecosystem). Without these, the
    result is None.

    Parameters
    ----------
    meta
        Nested metadata ``{section: {key: value}}``; an :class:`h5py.Group`
        (whose attributes are read) is accepted too.

    Examples
    --------
    >>> get_measurement_identifier({"experiment": {"run identifier": "abc"}})
    'abc'
    >>> get_measurement_identifier({
    ...     "experiment": {"time": "10:00:00", "date": "2024-01-02"},
    ...     "setup": {"identifier": "setup-1"}})
    '023f1d76-f268-8d2d-56e9-eb1ec7e7eccd'
    """
    if isinstance(meta, h5py.Group):
        meta = read_root_metadata(meta)
    exp = meta.get("experiment", {})
    mid = exp.get("run identifier")
    if mid:
        return str(mid)
    mtime = exp.get("time") or None
    mdate = exp.get("date") or None
    msid = meta.get("setup", {}).get("identifier") or None
    if None in (mtime, mdate, msid):
        return None
    digest = hashlib.md5(f"{mtime}_{mdate}_{msid}".encode()).hexdigest()
    return str(uuid.UUID(hex=digest))


def md5sum(path: PathLike | BinaryIO, blocksize: int = 65536, count: int = 0) -> str:
    """Return the MD5 hex digest of (the beginning of) a file.

    Parameters
    ----------
    path
        File path or binary file object (read from its start).
    blocksize
        Bytes read per block.
    count
        Number of blocks to hash; 0 hashes the whole file. The identity of a
        measurement file is ``md5sum(path, count=80)``: its first 5 MiB.
    """
    hasher = hashlib.md5()
    with _binary(path) as fd:
        nblocks = 0
        while True:
            block = fd.read(blocksize)
            if not block:
                break
            hasher.update(block)
            nblocks += 1
            if count and nblocks >= count:
                break
    return hasher.hexdigest()


def md5_5m(path: PathLike | BinaryIO) -> str:
    """MD5 of the first 5 MiB of a file (see :func:`md5sum`)."""
    return md5sum(path, blocksize=65536, count=MD5_5M_BYTES // 65536)


@contextlib.contextmanager
def _binary(path: PathLike | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as fd:
            yield fd
    else:
        pos = path.tell()
        path.seek(0)
        try:
            yield path
        finally:
            path.seek(pos)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[pathlib.Path]:
    """Yield a temporary path next to `path`; rename it to `path` on success.

    If the block raises, the temporary file is removed and `path` is left
    untouched, so a crash never leaves a half-written file under the final
    name.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = pathlib.Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def temporary_sibling(path: PathLike) -> pathlib.Path:
    """Return a fresh, unused file name in the directory of `path`.

    The (empty) file is created with the permissions of any new file
    (``0o666`` minus the umask), not the owner-only ``0o600`` of
    :func:`tempfile.mkstemp`, because it is renamed to the final output.
    """
    path = pathlib.Path(path)
    while True:
        name = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.cytolab-tmp"
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return name
