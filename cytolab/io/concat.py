"""Several measurement files seen as one, through HDF5 virtual datasets.

:func:`concatenated_hdf5_data` writes a small HDF5 file whose features are
virtual datasets: they read the events of the input files one after
another, without copying them. Only ``frame`` is written for real (rebuilt
so that it keeps increasing from file to file).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
import uuid
from collections.abc import Sequence

import h5py
import numpy as np

from .files import atomic_path
from .hdf5data import HDF5Data
from .transfer import copy_metadata
from .writer import HDF5Writer

__all__ = ["concatenated_hdf5_data"]

#: Attributes that summarize the values of one file only.
_STATS_ATTRS = ("min", "max", "mean", "_count")


def concatenated_hdf5_data(paths: Sequence[str | os.PathLike],
                           path_out: bool | str | os.PathLike | None = True,
                           compute_frame: bool = True,
                           features: Sequence[str] | None = None) -> HDF5Data:
    """Concatenate the events of several files along the event axis.

    Parameters
    ----------
    paths
        The input ``.rtdc`` files, in order. Metadata, logs and tables come
        from the first one; basins are not considered.
    path_out
        None: build the file in memory (HDF5's ``core`` driver; HDF5 then
        reads the inputs into memory too, so this is for small data, and
        the result cannot be pickled). True: a new file in the temporary
        directory of :mod:`tempfile` (``$TMPDIR``, e.g. ``/tmp``), named
        ``cytolab-concat-*.rtdc`` and left for the caller to remove (its
        path is ``result.path``). A path: that file (written under a
        temporary name, then renamed).
    compute_frame
        Rebuild ``frame``: the frames of each file are offset so that they
        continue after the largest frame of the previous file. Done when
        all files have ``frame``, whether or not `features` lists it.
    features
        Features to concatenate (default: every dataset and the ``trace``
        group in ``/events`` of the first file; per-event groups such as
        ``contour`` cannot be concatenated virtually and are left out).

    Returns
    -------
    HDF5Data
        The concatenated data.

    Raises
    ------
    ValueError
        If `paths` is empty, a feature is missing in one of the files (the
        message names file and feature), or a feature has a different
        per-event shape in different files.
    FileFormatError
        If an input is missing or not an ``.rtdc`` file.

    Notes
    -----
    The virtual datasets refer to the inputs by absolute path: moving or
    deleting an input makes its events unreadable (HDF5 fills them with
    zeros).

    Examples
    --------
    >>> import h5py, numpy as np, pathlib, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> for ii in range(2):
    ...     with h5py.File(tmp / f"m{ii}.rtdc", "w") as h5:
    ...         _ = h5.create_dataset("events/deform", data=[.1 + ii, .2 + ii])
    ...         _ = h5.create_dataset("events/frame", data=[1, 3])
    >>> with concatenated_hdf5_data([tmp / "m0.rtdc", tmp / "m1.rtdc"],
    ...                             path_out=tmp / "all.rtdc") as data:
    ...     data["deform"].tolist(), data["frame"].tolist()
    ([0.1, 0.2, 1.1, 1.2], [1, 3, 5, 7])
    """
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("`paths` must be a list of paths, got a single path")
    paths = [pathlib.Path(p).resolve() for p in paths]
    if not paths:
        raise ValueError("`paths` is empty: need at least one file")
    with contextlib.ExitStack() as stack:
        sources = []
        for path in paths:
            data = HDF5Data(path)
            stack.callback(data.close)
            sources.append(data)
        if path_out is None:
            h5 = h5py.File(f"cytolab-concat-{uuid.uuid4().hex}.rtdc", "w",
                           driver="core", backing_store=False)
            try:
                _write(h5, sources, compute_frame, features)
                result = HDF5Data(h5)
            except BaseException:
                h5.close()
                raise
            result._owned = True  # nobody else holds this in-memory file
            return result
        if path_out is True:
            fd, name = tempfile.mkstemp(prefix="cytolab-concat-", suffix=".rtdc")
            os.close(fd)
            target = pathlib.Path(name)
            try:
                with h5py.File(target, "w") as h5:
                    _write(h5, sources, compute_frame, features)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        else:
            target = pathlib.Path(path_out)
            with atomic_path(target) as tmp, h5py.File(tmp, "w") as h5:
                _write(h5, sources, compute_frame, features)
    return HDF5Data(target)


def _write(h5: h5py.File, sources: list[HDF5Data], compute_frame: bool,
           features: Sequence[str] | None) -> None:
    first = sources[0].h5["events"]
    if features is None:
        features = [f for f in first if isinstance(first[f], h5py.Dataset)
                    or f == "trace"]
    features = list(features)
    for feat in features:
        for data in sources:
            if feat not in data.h5["events"]:
                raise ValueError(f"Feature '{feat}' is missing in '{data.path}' "
                                 f"(it is in '{sources[0].path}'); use "
                                 f"`features` to choose features all files have")
    rebuild = compute_frame and all("frame" in d.h5["events"] for d in sources)
    copy_metadata(sources[0].h5, h5)
    h5.attrs["experiment:event count"] = sum(len(d) for d in sources)
    events = h5.require_group("events")
    for feat in features:
        if feat == "frame" and rebuild:
            continue
        if feat == "trace":
            for name in first["trace"]:
                _virtual(events, f"trace/{name}", sources)
        else:
            _virtual(events, feat, sources)
    if rebuild:
        _store_frames(h5, sources)


def _virtual(events: h5py.Group, name: str, sources: list[HDF5Data]) -> None:
    """Store feature `name` of all sources as one virtual dataset."""
    dsets = [d.h5["events"][name] for d in sources]
    if not all(isinstance(ds, h5py.Dataset) for ds in dsets):
        raise ValueError(f"Feature '{name}' of '{sources[0].path}' is not a "
                         f"dataset and cannot be concatenated")
    item = dsets[0].shape[1:]
    for data, ds in zip(sources, dsets):
        if ds.shape[0] < len(data):
            raise ValueError(f"Feature '{name}' of '{data.path}' has "
                             f"{ds.shape[0]} events, the file has {len(data)}")
        if ds.shape[1:] != item:
            raise ValueError(f"Feature '{name}' has per-event shape "
                             f"{ds.shape[1:]} in '{data.path}' but {item} in "
                             f"'{sources[0].path}'")
    sizes = [len(d) for d in sources]
    layout = h5py.VirtualLayout(shape=(sum(sizes),) + item, dtype=dsets[0].dtype)
    start = 0
    for data, ds, size in zip(sources, dsets, sizes):
        source = h5py.VirtualSource(str(data.path), ds.name, shape=ds.shape,
                                    dtype=ds.dtype)
        layout[start:start + size] = source[:size]
        start += size
    vds = events.create_virtual_dataset(name, layout)
    for key, value in dsets[0].attrs.items():
        if key not in _STATS_ATTRS:
            vds.attrs[key] = value


def _store_frames(h5: h5py.File, sources: list[HDF5Data]) -> None:
    """``frame`` of all sources, each file continuing after the previous."""
    dtype = sources[0].h5["events/frame"].dtype
    offset = 0
    with HDF5Writer(h5) as hw:
        hw.require_feature("frame", (), dtype)
        for data in sources:
            frames = np.asarray(data["frame"]).astype(dtype) + offset
            if frames.size:
                hw.store_feature_chunk("frame", frames)
                offset = frames.max() + 1
