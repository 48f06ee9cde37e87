"""Where fluorescence data live: a file, a group, or memory.

:func:`open_group` turns the ``h5file``/``h5mode`` arguments of
:class:`~cytolab.fluor.FLImage` and :class:`~cytolab.fluor.FLSeries` into an
HDF5 group; :func:`store_image` is the one way image arrays are written.
"""
from __future__ import annotations

import itertools
import os
import pathlib

import h5py
import numpy as np

from ..errors import CytolabError
from ..io.deflate import ChunkWriter
from ..io.files import open_h5
from ..io.writer import IMAGE_ATTRIBUTES

#: Valid values of ``h5mode``
H5MODES = ("r", "r+", "w", "w-", "x", "a")

H5File = str | os.PathLike | h5py.Group | None

_memory_files = itertools.count()


class ReadOnlyError(CytolabError, PermissionError):
    """Data were to be written to a file opened read-only."""


def open_group(h5file: H5File, h5mode: str = "a") -> tuple[h5py.Group, bool]:
    """The HDF5 group for `h5file` and whether the caller must close its file.

    Parameters
    ----------
    h5file
        None (in memory: HDF5 "core" driver without backing store), a path
        (opened with `h5mode`), or an open :class:`h5py.Group` / ``File``
        (used as it is).
    h5mode
        ``"r"`` (read only, must exist), ``"r+"`` (read/write, must exist),
        ``"w"`` (create, truncate), ``"w-"`` or ``"x"`` (create, fail if it
        exists), ``"a"`` (read/write if it exists, create otherwise).

    Returns
    -------
    group : h5py.Group
    owned : bool
        True when this function opened the file.
    """
    if h5mode not in H5MODES:
        raise ValueError(f"Invalid h5mode {h5mode!r}; valid modes are "
                         f"{', '.join(map(repr, H5MODES))}")
    if isinstance(h5file, h5py.Group):
        return h5file, False
    if h5file is None:
        name = f"cytolab-memory-{os.getpid()}-{next(_memory_files)}.h5"
        return h5py.File(name, "w", driver="core", backing_store=False), True
    if not isinstance(h5file, (str, os.PathLike)):
        raise TypeError(f"h5file must be a path, an h5py group or None, got "
                        f"{type(h5file).__name__}")
    path = pathlib.Path(h5file)
    if h5mode in ("w-", "x") and path.exists():
        raise FileExistsError(f"Refusing to overwrite '{path}' (h5mode={h5mode!r}); "
                              f"use h5mode='w' to replace it")
    if h5mode in ("r", "r+") and not path.exists():
        raise FileNotFoundError(f"File not found: '{path}' (h5mode={h5mode!r})")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Folder '{path.parent}' does not exist (for '{path}')")
    return open_h5(path, h5mode)


def is_writable(group: h5py.Group) -> bool:
    """Whether data may be written to `group`."""
    return group.file.mode != "r"


def require_writable(group: h5py.Group, what: str) -> None:
    """Raise :class:`ReadOnlyError` unless `group` is writable."""
    if not is_writable(group):
        raise ReadOnlyError(f"Cannot {what}: '{group.file.filename}' is open read-only "
                            f"(h5mode='r')")


def in_memory(group: h5py.Group) -> bool:
    """Whether `group` lives in an HDF5 file held in memory."""
    return group.file.driver == "core"


def store_image(group: h5py.Group, name: str, data: np.ndarray, dtype: np.dtype,
                writer: ChunkWriter | None = None) -> h5py.Dataset:
    """Write a 2-D image as ``group[name]`` with the HDF5 image attributes.

    On disk the image is gzip-compressed with shuffle and Fletcher-32 (by
    `writer`, else a writer made for this image); in memory it is stored
    uncompressed, since compressing there costs time and saves nothing on
    disk.
    """
    if in_memory(group):
        if name in group:
            del group[name]
        dset = group.create_dataset(name, data=np.asarray(data, dtype=dtype))
    elif writer is not None:
        dset = writer.create_dataset(group, name, data, dtype=dtype)
    else:
        with ChunkWriter(workers=1) as own:
            dset = own.create_dataset(group, name, data, dtype=dtype)
    dset.attrs.update(IMAGE_ATTRIBUTES)
    return dset


def describe(group: h5py.Group) -> str:
    """Name a group for error messages: file name plus group path."""
    where = "" if group.name == "/" else f" (group '{group.name}')"
    filename = group.file.filename
    if in_memory(group):
        filename = "in-memory file"
    return f"'{filename}'{where}"


__all__ = ["H5MODES", "ReadOnlyError", "describe", "in_memory",
           "is_writable", "open_group", "require_writable", "store_image"]
