"""Moving metadata, features and basins from one open file into another.

These are the steps of building a derived file (the output of a pipeline,
a file that only refers to basins): :func:`copy_metadata` never replaces
anything the destination already has, :func:`copy_features` copies whole
features or a selection of their events, :func:`copy_basins` carries basin
definitions over together with the ``basinmapN`` features and internal
basin data they need, and :func:`create_with_basins` writes a new file
made of nothing but basins. The copying itself is done by
:func:`~.copier.h5ds_copy` and :class:`~.writer.HDF5Writer`.
"""
from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from ..errors import (
    BasinUnavailableWarning,
    CreatingFileWithoutBasinWarning,
    FeatureNotAvailableError,
    IgnoringBasinTypeWarning,
)
from .arrays import ChunkedEventArray, RaggedEventArray, get_mapping_indices
from .basins import basin_file_candidates, read_basin_dicts
from .copier import COPY_BUFFER_BYTES, copy_attrs, h5ds_copy
from .files import atomic_path, get_measurement_identifier, is_hdf5_file, open_h5
from .writer import HDF5Writer

__all__ = ["copy_basins", "copy_features", "copy_metadata", "create_with_basins"]

#: Attributes that summarize all values of a feature; a selection of events
#: gets its own.
_STATS_ATTRS = ("min", "max", "mean", "_count")


def copy_metadata(h5_src: h5py.Group, h5_dst: h5py.Group) -> None:
    """Copy root attributes, logs and tables that the destination lacks.

    Nothing in `h5_dst` is ever replaced: an attribute, log or table of the
    same name that already exists there is kept as it is.

    Parameters
    ----------
    h5_src
        Open source file.
    h5_dst
        Open, writable destination file.

    Examples
    --------
    >>> import io, h5py
    >>> src, dst = h5py.File(io.BytesIO(), "w"), h5py.File(io.BytesIO(), "w")
    >>> src.attrs["experiment:sample"] = "blood"
    >>> src.attrs["imaging:pixel size"] = 0.34
    >>> dst.attrs["experiment:sample"] = "mine"
    >>> copy_metadata(src, dst)
    >>> dst.attrs["experiment:sample"], float(dst.attrs["imaging:pixel size"])
    ('mine', 0.34)
    """
    copy_attrs(h5_src, h5_dst, overwrite=False)
    for group_name in ("logs", "tables"):
        group = h5_src.get(group_name)
        if not isinstance(group, h5py.Group):
            continue
        dst_group = h5_dst.require_group(group_name)
        for name in group:
            if name not in dst_group:
                h5ds_copy(group, name, dst_group)


def copy_features(h5_src: h5py.Group, h5_dst: h5py.Group, features: Sequence[str],
                  mapping: Any = None,
                  ds_kwds: Mapping[str, Any] | None = None) -> None:
    """Copy features from ``/events`` of one file to ``/events`` of another.

    Parameters
    ----------
    h5_src
        Open source file.
    h5_dst
        Open, writable destination file; must not have these features yet.
    features
        Names in the source's ``/events`` (datasets, the ``trace`` group or
        the ``contour`` group).
    mapping
        Source event indices to write, in order (any index mapping of
        :func:`~.arrays.get_mapping_indices`). None: copy the features as
        they are stored (compressed chunks are copied without decoding when
        they already use the default filters).
    ds_kwds
        Dataset keywords for features written through a `mapping` (see
        :func:`~.writer.set_default_filter_kwargs`).

    Raises
    ------
    FeatureNotAvailableError
        If a feature is not in the source.
    ValueError
        If a feature already exists in the destination (checked before
        anything is written).

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> src, dst = h5py.File(io.BytesIO(), "w"), h5py.File(io.BytesIO(), "w")
    >>> _ = src.create_dataset("events/deform", data=np.arange(5) / 10)
    >>> copy_features(src, dst, ["deform"], mapping=[4, 0])
    >>> dst["events/deform"][:].tolist()
    [0.4, 0.0]
    """
    features = list(features)
    events = h5_src.get("events")
    missing = [f for f in features if not isinstance(events, h5py.Group)
               or f not in events]
    if missing:
        raise FeatureNotAvailableError(f"Cannot copy feature(s) {missing}: not "
                                       f"in '{h5_src.file.filename}'")
    dst_events = h5_dst.require_group("events")
    taken = [f for f in features if f in dst_events]
    if taken:
        raise ValueError(f"Feature(s) {taken} already exist in "
                         f"'{h5_dst.file.filename}'")
    if mapping is None:
        for feat in features:
            h5ds_copy(events, feat, dst_events)
        return
    indices = get_mapping_indices(mapping).astype(np.int64)
    with HDF5Writer(h5_dst, ds_kwds=ds_kwds) as hw:
        for feat in features:
            _copy_mapped(events[feat], indices, hw, f"events/{feat}")


def _copy_mapped(obj: h5py.Dataset | h5py.Group, indices: np.ndarray,
                 hw: HDF5Writer, dst_path: str) -> None:
    """Write the events `indices` of a dataset or group to `dst_path`."""
    group_name, _, name = dst_path.rpartition("/")
    if isinstance(obj, h5py.Group):
        if all(key.isdigit() for key in obj):  # one dataset per event
            hw.store_ragged(name, RaggedEventArray(obj)[indices],
                            group_name=group_name)
        else:
            for key in obj:
                _copy_mapped(obj[key], indices, hw, f"{dst_path}/{key}")
        copy_attrs(obj, hw.h5[dst_path], overwrite=False)
        return
    data = ChunkedEventArray(obj, cache_chunks=0, chunk_size=1)
    event_bytes = max(1, int(np.prod(obj.shape[1:])) * obj.dtype.itemsize)
    step = max(1, COPY_BUFFER_BYTES // event_bytes)
    hw.require_feature(name, obj.shape[1:], obj.dtype, group_name=group_name)
    for start in range(0, len(indices), step):
        hw.store_feature_chunk(name, data[indices[start:start + step]],
                               group_name=group_name)
    copy_attrs(obj, hw.h5[dst_path], skip=_STATS_ATTRS, overwrite=False)


def copy_basins(h5_src: h5py.Group, h5_dst: h5py.Group,
                internal_basins: bool = True) -> list[str]:
    """Define the basins of one file in another.

    The basin definitions are stored anew rather than copied: the
    ``basinmapN`` feature a mapped basin needs is read from the source and
    stored as the next free ``basinmapN`` of the destination (an identical
    one is reused), and the definition points to it. Relative paths of
    file basins are kept, and their absolute form (resolved against the
    source's folder) is added when the destination lives elsewhere, so the
    basin stays reachable.

    Parameters
    ----------
    h5_src
        Open source file.
    h5_dst
        Open, writable destination file with the same events as the source.
    internal_basins
        Also copy internal basins with their data (group ``basin_events``).

    Returns
    -------
    list of str
        Keys of the basin definitions in the destination.

    Raises
    ------
    ValueError
        If internal basin data of the same name but other content already
        exist in the destination.
    """
    src_dir = _folder(h5_src)
    dst_dir = _folder(h5_dst)
    src_events = h5_src.get("events")
    keys = []
    with HDF5Writer(h5_dst) as hw:
        for bdict in read_basin_dicts(h5_src):
            bdict = {k: v for k, v in bdict.items() if k != "key"}
            name = bdict.get("name")
            if bdict.get("type") == "internal":
                if not internal_basins:
                    continue
                _copy_internal_data(h5_src, h5_dst, bdict)
            elif bdict.get("type") == "file" and src_dir is not None \
                    and src_dir != dst_dir:
                bdict["paths"] = _with_absolute(bdict.get("paths") or [], src_dir)
            mapping = bdict.get("mapping") or "same"
            if mapping != "same":
                if not isinstance(src_events, h5py.Group) or mapping not in src_events:
                    warnings.warn(f"Not copying basin '{name}' of "
                                  f"'{h5_src.file.filename}': its mapping "
                                  f"feature '{mapping}' is missing",
                                  BasinUnavailableWarning, stacklevel=2)
                    continue
                bdict["mapping"] = hw.next_basinmap(src_events[mapping][:])
            keys.append(hw.store_basin_dict(bdict))
    return keys


def _folder(h5: h5py.Group) -> pathlib.Path | None:
    """Folder of an open file on disk (None for in-memory files)."""
    name = h5.file.filename
    if h5.file.driver in ("core", "fileobj") or not os.path.isfile(name):
        return None
    return pathlib.Path(name).resolve().parent


def _with_absolute(paths: Sequence[str], folder: pathlib.Path) -> list[str]:
    out = [str(p) for p in paths]
    for cand in basin_file_candidates(paths, folder):
        absolute = str(cand.resolve())
        if absolute not in out:
            out.append(absolute)
    return out


def _copy_internal_data(h5_src: h5py.Group, h5_dst: h5py.Group,
                        bdict: Mapping[str, Any]) -> None:
    for loc in bdict.get("paths") or []:
        group = h5_src.get(loc)
        if not isinstance(group, h5py.Group):
            continue
        dst_group = h5_dst.require_group(loc)
        for feat in bdict.get("features") or list(group):
            if feat not in group:
                continue
            if feat not in dst_group:
                h5ds_copy(group, feat, dst_group)
            elif not np.array_equal(group[feat][()], dst_group[feat][()]):
                raise ValueError(f"Internal basin data '{loc}/{feat}' of "
                                 f"'{h5_src.file.filename}' differ from those "
                                 f"already in '{h5_dst.file.filename}'")


def create_with_basins(path_out: str | os.PathLike,
                       basin_paths: Sequence[str | os.PathLike
                                             | Sequence[str | os.PathLike]]
                       ) -> pathlib.Path:
    """Write an ``.rtdc`` file that consists only of basins.

    Metadata (attributes, logs, tables) are taken from the basins, the first
    one first; the ``events`` group is empty. Each basin lists the features
    and the measurement identifier of its file.

    Parameters
    ----------
    path_out
        The file to write (replaced atomically if it exists).
    basin_paths
        One entry per basin: a path, or a list of alternative paths of the
        same basin (e.g. relative and absolute). Relative paths are resolved
        against the folder of `path_out` and stored as given.

    Returns
    -------
    pathlib.Path
        `path_out`.

    Warns
    -----
    CreatingFileWithoutBasinWarning
        For a basin none of whose paths is an existing HDF5 file (it is left
        out), and when the file ends up without any basin.
    IgnoringBasinTypeWarning
        For locations that are not HDF5 files (URLs, other formats); they
        are not stored.

    Examples
    --------
    >>> import h5py, pathlib, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> with h5py.File(tmp / "raw.rtdc", "w") as h5:
    ...     h5.attrs["experiment:event count"] = 3
    ...     _ = h5.create_dataset("events/deform", data=[.1, .2, .3])
    >>> out = create_with_basins(tmp / "ref.rtdc", [["raw.rtdc", tmp / "raw.rtdc"]])
    >>> from cytolab.io import HDF5Data
    >>> with HDF5Data(out) as data:
    ...     data["deform"].tolist(), data.basins[0]["paths"][0]
    ([0.1, 0.2, 0.3], 'raw.rtdc')
    """
    if isinstance(basin_paths, (str, os.PathLike)):
        raise TypeError("`basin_paths` must be a list of paths (or of lists of "
                        "alternative paths), got a single path")
    path_out = pathlib.Path(path_out)
    stored = 0
    with atomic_path(path_out) as tmp, HDF5Writer(tmp, mode="w") as hw:
        hw.h5.require_group("events")
        for entry in basin_paths:
            alternatives = [entry] if isinstance(entry, (str, os.PathLike)) \
                else list(entry)
            stored += _store_file_basin(hw, alternatives, path_out)
    if not stored:
        warnings.warn(f"'{path_out}' was created without any basin",
                      CreatingFileWithoutBasinWarning, stacklevel=2)
    return path_out


def _store_file_basin(hw: HDF5Writer, alternatives: list[Any],
                      path_out: pathlib.Path) -> int:
    """Store one file basin given by alternative paths; return 1 or 0."""
    representative, unsupported = None, []
    for loc in alternatives:
        if "://" in str(loc):
            unsupported.append(loc)
            continue
        cand = basin_file_candidates([loc], path_out.parent)[0]
        if cand.is_file() and not is_hdf5_file(cand):
            unsupported.append(loc)
        elif representative is None and cand.is_file():
            representative = cand
    if unsupported:
        warnings.warn(f"Not storing basin location(s) "
                      f"{[str(u) for u in unsupported]} in '{path_out}': only "
                      f"HDF5 files can be basins here", IgnoringBasinTypeWarning,
                      stacklevel=3)
    if representative is None:
        warnings.warn(f"None of {[str(a) for a in alternatives]} is an "
                      f"accessible HDF5 file; '{path_out}' is created without "
                      f"this basin", CreatingFileWithoutBasinWarning,
                      stacklevel=3)
        return 0
    h5, _ = open_h5(representative)
    with h5:
        copy_metadata(h5, hw.h5)
        events = h5.get("events")
        names = list(events) if isinstance(events, h5py.Group) else []
        features = sorted(f for f in names
                          if f != "index" and not f.startswith("basinmap"))
        hw.store_basin(name=representative.name,
                       paths=[str(a) for a in alternatives if a not in unsupported],
                       features=features,
                       description="created by create_with_basins",
                       identifier=get_measurement_identifier(h5))
    return 1

