"""Copying HDF5 objects and whole ``.rtdc`` files with cytolab's storage defaults.

Four jobs live here:

- :func:`is_properly_compressed` tells whether a dataset (or every dataset
  in a group) is stored the way cytolab stores data: Zstandard level 5 or
  higher (HDF5 filter 32015) plus Fletcher-32 checksums.
- :func:`h5ds_copy` copies one dataset or group. Data that are already
  properly compressed are copied by HDF5 itself, chunk by chunk without
  decompression; everything else is rewritten slab by slab with the default
  filters, so memory use stays bounded whatever the size of the dataset.
- :func:`rtdc_copy` copies an ``.rtdc`` file (metadata, a choice of
  features, logs, tables and basins) between two open files.
- :func:`combine_h5files` merges the features of several measurements of
  the same events into one in-memory file; :func:`check_external` and
  :func:`assert_no_external` detect data living outside a file.

Links are resolved while copying: a soft or external link in the source
becomes a real copy of its target in the destination, so that every copy
is self-contained.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import h5py
import hdf5plugin
import numpy as np

from ..definitions import features as dfn_features
from ..errors import (
    ExternalDataForbiddenError,
    FeatureNotAvailableError,
    FeatureShapeError,
)
from .basins import read_basin_dicts
from .files import open_h5
from .writer import (
    CHUNK_SIZE_BYTES,
    IMAGE_ATTRIBUTES,
    INTERNAL_BASIN_GROUP,
    get_best_nd_chunks,
    read_text_lines,
    set_default_filter_kwargs,
)

#: HDF5 filter id of Zstandard (registered by :mod:`hdf5plugin`).
ZSTD_FILTER_ID: int = hdf5plugin.ZSTD_ID
#: Lowest Zstandard level that counts as properly compressed (the default).
MIN_ZSTD_LEVEL: int = int(set_default_filter_kwargs()["compression_opts"][0])
#: Level the Zstandard filter uses when a dataset stores no level at all.
_ZSTD_IMPLICIT_LEVEL = 3
#: Upper bound of the data held in memory while rewriting one dataset, and
#: of the size of the chunks written by a rewrite.
COPY_BUFFER_BYTES: int = 32 * CHUNK_SIZE_BYTES

#: Feature selections understood by :func:`rtdc_copy`.
FEATURE_SELECTIONS = ("all", "scalar", "none")

_ObjKey = tuple[int, int]


# compression check -----------------------------------------------------------


def _filters(dset: h5py.Dataset) -> dict[int, tuple[int, ...]]:
    """Filter id -> client data values of a dataset's filter pipeline."""
    plist = dset.id.get_create_plist()
    out: dict[int, tuple[int, ...]] = {}
    for ii in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(ii)
        out[int(code)] = tuple(int(v) for v in values)
    return out


def _filterable(dset: h5py.Dataset) -> bool:
    """Whether HDF5 can apply filters to a dataset of this shape at all.

    Filters need chunked storage; zero-dimensional datasets and datasets with
    an empty non-event axis cannot be chunked in a useful way.
    """
    return dset.ndim >= 1 and all(int(s) > 0 for s in dset.shape[1:])


def _is_external_dataset(dset: h5py.Dataset) -> bool:
    """Whether a dataset's values live outside its file (virtual or raw)."""
    return bool(dset.is_virtual or dset.external)


def _dataset_properly_compressed(dset: h5py.Dataset) -> bool:
    if not _filterable(dset):
        return True
    if _is_external_dataset(dset):
        return False
    filters = _filters(dset)
    if ZSTD_FILTER_ID not in filters:
        return False
    values = filters[ZSTD_FILTER_ID]
    level = values[0] if values else _ZSTD_IMPLICIT_LEVEL
    if level < MIN_ZSTD_LEVEL:
        return False
    # HDF5 refuses checksums on variable-length data (they are heap
    # references); Zstandard alone is the best such a dataset can have.
    if dset.dtype.hasobject:
        return True
    return h5py.h5z.FILTER_FLETCHER32 in filters


def is_properly_compressed(h5obj: h5py.Dataset | h5py.Group) -> bool:
    """Whether data are stored with cytolab's default filters.

    A dataset is properly compressed when it is chunked and filtered with
    Zstandard (HDF5 filter 32015) at level 5 or higher *and* Fletcher-32
    checksums, exactly what :func:`~cytolab.io.writer.set_default_filter_kwargs`
    gives. Two kinds of datasets count as properly compressed because HDF5
    cannot do better for them: variable-length data (HDF5 refuses checksums
    on them, so Zstandard level >= 5 suffices) and datasets that cannot be
    chunked at all (zero-dimensional, or with an empty non-event axis).
    Virtual datasets and datasets in external raw files never count.

    Parameters
    ----------
    h5obj
        A dataset, or a group: then every dataset reachable from it (through
        hard, soft and external links) must be properly compressed. An empty
        group is properly compressed.

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        If `h5obj` is not an h5py dataset or group.

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> from cytolab.io.writer import set_default_filter_kwargs
    >>> with h5py.File(io.BytesIO(), "w") as h5:
    ...     raw = h5.create_dataset("raw", data=np.arange(100))
    ...     good = h5.create_dataset("good", data=np.arange(100),
    ...                              **set_default_filter_kwargs())
    ...     is_properly_compressed(raw), is_properly_compressed(good)
    (False, True)
    """
    if isinstance(h5obj, h5py.Dataset):
        return _dataset_properly_compressed(h5obj)
    if isinstance(h5obj, h5py.Group):
        return all(_dataset_properly_compressed(ds)
                   for ds in _walk_datasets(h5obj, set()))
    raise TypeError(f"Expected an h5py Dataset or Group, got "
                    f"{type(h5obj).__name__}: {h5obj!r}")


# object access ---------------------------------------------------------------


def _describe(loc: h5py.Group, name: str | None = None) -> str:
    """Human-readable location: object path and file name."""
    path = loc.name or "/"
    if name is not None:
        path = f"{path.rstrip('/')}/{name}"
    try:
        fname = loc.file.filename
    except (ValueError, OSError):  # closed file
        fname = "<closed file>"
    return f"'{path}' in '{fname}'"


def _get_object(loc: h5py.Group, name: str) -> Any:
    """``loc[name]`` with an error message that names file and object."""
    try:
        return loc[name]
    except (KeyError, OSError) as exc:
        raise KeyError(f"Object {_describe(loc, name)} does not exist or is "
                       f"a link that cannot be resolved ({exc})") from exc


def _object_key(obj: h5py.HLObject) -> _ObjKey:
    """Identity of an HDF5 object (file number and address)."""
    info = h5py.h5o.get_info(obj.id)
    return int(info.fileno), int(info.addr)


def _walk_datasets(group: h5py.Group, path: set[_ObjKey]) -> Iterator[h5py.Dataset]:
    """Every dataset reachable from `group`, following links like a copy."""
    key = _object_key(group)
    if key in path:
        raise ValueError(f"Group {_describe(group)} contains itself "
                         f"(cyclic hard or soft link)")
    inner = path | {key}
    for name in group:
        obj = _get_object(group, name)
        if isinstance(obj, h5py.Dataset):
            yield obj
        elif isinstance(obj, h5py.Group):
            yield from _walk_datasets(obj, inner)


def _require_group_arg(obj: Any, argname: str) -> h5py.Group:
    if not isinstance(obj, h5py.Group):
        raise TypeError(f"`{argname}` must be an open h5py File or Group, got "
                        f"{type(obj).__name__}: {obj!r}")
    return obj


def _require_writable(group: h5py.Group, argname: str) -> None:
    if group.file.mode != "r+":
        raise ValueError(f"`{argname}` ('{group.file.filename}') is opened "
                         f"read-only; open it with mode 'a', 'r+' or 'w'")


# attributes ------------------------------------------------------------------


def copy_attrs(src: h5py.HLObject, dst: h5py.HLObject, overwrite: bool = True,
               skip: Sequence[str] = ()) -> None:
    """Copy attributes, keeping their HDF5 type (bytes stay bytes).

    Parameters
    ----------
    src, dst
        HDF5 objects (files, groups, datasets).
    overwrite
        Replace attributes `dst` already has; if False they are kept.
    skip
        Attribute names not to copy.
    """
    for name in src.attrs:
        if name in skip or (not overwrite and name in dst.attrs):
            continue
        aid = src.attrs.get_id(name)
        value = src.attrs[name]
        if isinstance(value, h5py.Empty):
            dst.attrs.create(name, value)
        else:
            dst.attrs.create(name, value, shape=aid.shape, dtype=aid.dtype)


# dataset rewriting -----------------------------------------------------------


def _rewrite_chunks(shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """Chunk shape for a rewritten dataset.

    The event axis uses :func:`~cytolab.io.writer.get_best_nd_chunks`,
    limited to the number of events present (small datasets such as single
    contours get one small chunk instead of a mostly empty 1 MiB chunk). A
    chunk never exceeds :data:`COPY_BUFFER_BYTES`; for enormous events the
    other axes are split too.
    """
    chunks = list(get_best_nd_chunks(shape[1:], dtype))
    if shape[0] > 0:
        chunks[0] = min(chunks[0], shape[0])
    itemsize = max(1, np.dtype(dtype).itemsize)
    while math.prod(chunks) * itemsize > COPY_BUFFER_BYTES and max(chunks) > 1:
        # shrink the event axis first, then the largest other axis
        axis = 0 if chunks[0] > 1 else int(np.argmax(chunks))
        chunks[axis] = (chunks[axis] + 1) // 2
    return tuple(chunks)


def _slab_size(src: h5py.Dataset, dst: h5py.Dataset) -> int:
    """Events per read/write step: whole chunks of source and destination.

    Reading whole source chunks avoids decompressing one source chunk many
    times; writing whole destination chunks avoids rewriting them.
    """
    dst_rows = dst.chunks[0]
    src_rows = src.chunks[0] if src.chunks else 1
    return dst_rows * max(1, -(-src_rows // dst_rows))


def _copy_values(src: h5py.Dataset, dst: h5py.Dataset) -> None:
    """Copy all values slab by slab; at most ~COPY_BUFFER_BYTES in memory."""
    nrows = src.shape[0]
    if nrows == 0 or src.size == 0:
        return
    step = _slab_size(src, dst)
    row_bytes = (src.size // nrows) * max(1, src.dtype.itemsize)
    for start in range(0, nrows, step):
        stop = min(start + step, nrows)
        if (stop - start) * row_bytes <= COPY_BUFFER_BYTES:
            dst[start:stop] = src[start:stop]
        else:
            # Huge source chunks: go destination chunk by destination chunk
            # (each at most COPY_BUFFER_BYTES, see _rewrite_chunks).
            slab = (slice(start, stop),) + tuple(slice(0, s) for s in src.shape[1:])
            for sel in dst.iter_chunks(slab):
                dst[sel] = src[sel]


def _rewrite_dataset(src: h5py.Dataset, dst_loc: h5py.Group, dst_name: str,
                     compress: bool) -> h5py.Dataset:
    """Write a new dataset with the default filters and copy the values."""
    if not _filterable(src):
        dst = dst_loc.create_dataset(dst_name, data=src[()], dtype=src.dtype)
        copy_attrs(src, dst)
        return dst
    kwds = set_default_filter_kwargs(compression=compress)
    if src.dtype.hasobject:
        kwds.pop("fletcher32", None)  # not allowed on variable-length data
    elif src.fillvalue is not None:
        kwds["fillvalue"] = src.fillvalue
    maxshape = tuple(src.maxshape) if src.maxshape else tuple(src.shape)
    dst = dst_loc.create_dataset(
        dst_name, shape=src.shape, dtype=src.dtype,
        chunks=_rewrite_chunks(src.shape, src.dtype),
        maxshape=(None,) + maxshape[1:], **kwds)
    _copy_values(src, dst)
    copy_attrs(src, dst)
    return dst


# copying objects -------------------------------------------------------------


def _copy_object(src: Any, dst_loc: h5py.Group, dst_name: str,
                 ensure_compression: bool, recursive: bool,
                 path: set[_ObjKey]) -> h5py.Dataset | h5py.Group:
    if isinstance(src, h5py.Dataset):
        if _is_external_dataset(src):
            # materialize: the copy must not depend on other files
            return _rewrite_dataset(src, dst_loc, dst_name, ensure_compression)
        if ensure_compression and not _dataset_properly_compressed(src):
            return _rewrite_dataset(src, dst_loc, dst_name, True)
        # HDF5 copies the stored chunks as they are (no decompression)
        dst_loc.copy(src, dst_loc, name=dst_name)
        return dst_loc[dst_name]
    if isinstance(src, h5py.Group):
        if not recursive:
            raise ValueError(f"Source {_describe(src)} is a group; pass "
                             f"recursive=True to copy groups")
        key = _object_key(src)
        if key in path:
            raise ValueError(f"Group {_describe(src)} contains itself "
                             f"(cyclic hard or soft link)")
        dst = dst_loc.create_group(dst_name)
        copy_attrs(src, dst)
        inner = path | {key}
        for name in src:
            _copy_object(_get_object(src, name), dst, name,
                         ensure_compression, recursive, inner)
        return dst
    raise ValueError(f"Source '{getattr(src, 'name', src)}' is neither an HDF5 "
                     f"dataset nor a group ({type(src).__name__})")


def h5ds_copy(src_loc: h5py.Group, src_name: str, dst_loc: h5py.Group,
              dst_name: str | None = None, ensure_compression: bool = True,
              recursive: bool = True) -> h5py.Dataset | h5py.Group:
    """Copy an HDF5 dataset (or group) with its attributes.

    Parameters
    ----------
    src_loc
        Group (or file) holding the source.
    src_name
        Name (or relative path) of the source in `src_loc`.
    dst_loc
        Group (or file) to copy to; may be in another file.
    dst_name
        Name of the copy in `dst_loc`; defaults to `src_name`. Missing
        intermediate groups are created.
    ensure_compression
        Rewrite datasets that are not :func:`is_properly_compressed` with the
        default filters (Zstandard level 5, Fletcher-32) and chunks from
        :func:`~cytolab.io.writer.get_best_nd_chunks`. When False, datasets
        are copied exactly as stored.
    recursive
        Copy groups (such as ``events/trace`` or ``events/contour``) with
        everything in them; each dataset inside is handled as above.

    Returns
    -------
    h5py.Dataset or h5py.Group
        The copy, ``dst_loc[dst_name]``.

    Raises
    ------
    KeyError
        If `src_name` does not exist in `src_loc` (or is a broken link).
    ValueError
        If the source is neither a dataset nor a group, if it is a group and
        `recursive` is False, or if `dst_name` already exists in `dst_loc`.
    TypeError
        If `src_loc` or `dst_loc` is not an h5py group.

    Notes
    -----
    Properly compressed datasets are copied by HDF5 (``H5Ocopy``), which
    moves the compressed chunks without decoding them. A rewrite reads and
    writes slabs of whole chunks along the first axis: a slab covers at least
    one source chunk and one destination chunk and is capped at
    :data:`COPY_BUFFER_BYTES` (32 MiB) -- beyond that it proceeds one
    destination chunk at a time -- so a 10 GB dataset is never loaded whole.
    A rewritten dataset keeps shape, data type (fixed- or variable-length
    strings included), fill value and attributes; its first axis becomes
    resizable. Virtual datasets and datasets in external raw files are always
    rewritten, so the copy never depends on other files. Links inside a
    copied group are resolved and their targets copied.

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> src = h5py.File(io.BytesIO(), "w")
    >>> dst = h5py.File(io.BytesIO(), "w")
    >>> ds = src.create_dataset("deform", data=np.linspace(0, 1, 50))
    >>> ds.attrs["unit"] = "a.u."
    >>> cp = h5ds_copy(src, "deform", dst)
    >>> is_properly_compressed(ds), is_properly_compressed(cp), cp.attrs["unit"]
    (False, True, 'a.u.')
    >>> bool(np.array_equal(cp[:], ds[:]))
    True
    >>> src.close(); dst.close()
    """
    _require_group_arg(src_loc, "src_loc")
    _require_group_arg(dst_loc, "dst_loc")
    dst_name = src_name if dst_name is None else dst_name
    src = _get_object(src_loc, src_name)
    if not isinstance(src, (h5py.Dataset, h5py.Group)):
        raise ValueError(f"Source {_describe(src_loc, src_name)} is neither an "
                         f"HDF5 dataset nor a group ({type(src).__name__})")
    if dst_loc.get(dst_name, getlink=True) is not None:
        raise ValueError(f"Destination {_describe(dst_loc, dst_name)} "
                         f"already exists")
    if "/" in dst_name.strip("/"):
        dst_loc.require_group(dst_name.strip("/").rsplit("/", 1)[0])
    return _copy_object(src, dst_loc, dst_name, ensure_compression, recursive,
                        set())


# .rtdc files -----------------------------------------------------------------


def _event_members(events: h5py.Group | None) -> list[str]:
    return [] if events is None else list(events.keys())


def _is_scalar_feature(events: h5py.Group, name: str) -> bool:
    obj = events.get(name)
    return isinstance(obj, h5py.Dataset) and obj.ndim == 1


def _select_features(src: h5py.Group, events: h5py.Group | None,
                     features: Any) -> list[str]:
    """Resolve the `features` argument of :func:`rtdc_copy` to names."""
    if isinstance(features, str):
        if features not in FEATURE_SELECTIONS:
            raise ValueError(f"`features` must be a list of feature names or "
                             f"one of {FEATURE_SELECTIONS}, got '{features}'")
        if features == "none" or events is None:
            return []
        names = _event_members(events)
        if features == "scalar":
            names = [n for n in names if _is_scalar_feature(events, n)]
        return names
    if not isinstance(features, Iterable):
        raise TypeError(f"`features` must be a list of feature names or one "
                        f"of {FEATURE_SELECTIONS}, got {type(features).__name__}")
    names = []
    for name in features:
        if not isinstance(name, str):
            raise TypeError(f"Feature names must be str, got "
                            f"{type(name).__name__}: {name!r}")
        if name not in names:
            names.append(name)
    missing = [n for n in names if events is None or n not in events]
    if missing:
        where = "it has no 'events' group" if events is None else \
            f"available: {sorted(_event_members(events))}"
        raise FeatureNotAvailableError(
            f"Cannot copy feature(s) {missing} from '{src.file.filename}': "
            f"{where}")
    return names


def _basin_maps(src: h5py.Group, events: h5py.Group | None) -> list[str]:
    """``basinmapN`` features that the basins of `src` refer to."""
    if events is None:
        return []
    maps = []
    for bdict in read_basin_dicts(src):
        mapping = bdict.get("mapping", "same")
        if isinstance(mapping, str) and mapping != "same" and mapping in events \
                and mapping not in maps:
            maps.append(mapping)
    return maps


def _join(group_name: str, name: str) -> str:
    return f"{group_name}/{name}" if group_name else name


def _exists(group: h5py.Group, path: str) -> bool:
    return group.get(path, getlink=True) is not None


def _rtdc_copy(src: h5py.Group, dst: h5py.Group, features: Any,
               include_basins: bool, include_logs: bool, include_tables: bool,
               meta_prefix: str, ensure_compression: bool) -> list[str]:
    """Implementation of :func:`rtdc_copy`; returns the copied feature names."""
    _require_group_arg(src, "src_h5file")
    _require_group_arg(dst, "dst_h5file")
    _require_writable(dst, "dst_h5file")
    if not isinstance(meta_prefix, str) or "/" in meta_prefix:
        raise ValueError(f"`meta_prefix` must be a str without '/', got "
                         f"{meta_prefix!r}")
    events = src.get("events")
    if events is not None and not isinstance(events, h5py.Group):
        raise ValueError(f"'/events' in '{src.file.filename}' is not a group")
    feats = _select_features(src, events, features)
    if include_basins:
        feats += [m for m in _basin_maps(src, events) if m not in feats]

    # plan everything, then check for collisions before writing anything
    plan: list[tuple[h5py.Group, str, str, str]] = []  # src grp, name, dst grp, name
    if feats:
        plan += [(events, f, "events", f) for f in feats]
    for group_name, wanted in (("logs", include_logs), ("tables", include_tables)):
        group = src.get(group_name)
        if wanted and isinstance(group, h5py.Group):
            plan += [(group, n, group_name, meta_prefix + n) for n in group]
    basins_todo = []
    if include_basins:
        basins = src.get("basins")
        if isinstance(basins, h5py.Group):
            for key in basins:
                if _exists(dst, f"basins/{key}") and \
                        _same_text(basins[key], dst["basins"][key]):
                    continue  # basin keys are content hashes: already there
                basins_todo.append(key)
            plan += [(basins, k, "basins", k) for k in basins_todo]
        internal = src.get(INTERNAL_BASIN_GROUP)
        if isinstance(internal, h5py.Group):
            plan.append((src, INTERNAL_BASIN_GROUP, "", INTERNAL_BASIN_GROUP))
    taken = [_join(dgrp, dname) for _, _, dgrp, dname in plan
             if _exists(dst, _join(dgrp, dname))]
    if taken:
        raise ValueError(f"Cannot copy '{src.file.filename}' to "
                         f"'{dst.file.filename}': the destination already "
                         f"holds {taken}")

    copy_attrs(src, dst)
    if feats:
        dst_events = dst.require_group("events")
        copy_attrs(events, dst_events)
    for sgrp, sname, dgrp, dname in plan:
        target = dst.require_group(dgrp) if dgrp else dst
        obj = h5ds_copy(sgrp, sname, target, dname,
                        ensure_compression=ensure_compression)
        if dgrp == "events" and sname in dfn_features.FEATURES_IMAGE_UINT8 \
                and isinstance(obj, h5py.Dataset) and obj.ndim == 3 \
                and obj.dtype == np.uint8:
            for key, value in IMAGE_ATTRIBUTES.items():
                if key not in obj.attrs:
                    obj.attrs[key] = value
    return feats


def _same_text(a: Any, b: Any) -> bool:
    if not (isinstance(a, h5py.Dataset) and isinstance(b, h5py.Dataset)):
        return False
    return read_text_lines(a) == read_text_lines(b)


def rtdc_copy(src_h5file: h5py.Group, dst_h5file: h5py.Group,
              features: list[str] | Literal["all", "scalar", "none"] = "all",
              include_basins: bool = True, include_logs: bool = True,
              include_tables: bool = True, meta_prefix: str = "") -> None:
    """Copy an ``.rtdc`` file into another open file, compressing everything.

    Parameters
    ----------
    src_h5file
        Open source file (or group laid out like an ``.rtdc`` file).
    dst_h5file
        Open, writable destination file.
    features
        ``"all"`` (every member of ``/events``), ``"scalar"`` (the 1-D
        datasets in ``/events``; groups such as ``contour`` and ``trace`` and
        image stacks are left out), ``"none"``, or a list of names in
        ``/events``.
    include_basins
        Copy the basin definitions (``/basins``), the feature data of
        internal basins (``/basin_events``) and the ``basinmapN`` features
        that mapped basins need -- the latter even if `features` does not
        select them, because a mapped basin is unusable without its map.
    include_logs
        Copy ``/logs``.
    include_tables
        Copy ``/tables``.
    meta_prefix
        Prepended to the names of the copied logs and tables.

    Raises
    ------
    FeatureNotAvailableError
        If `features` lists a name that is not in the source's ``/events``
        (or the source has no ``/events``). Nothing is written then.
    ValueError
        If `features` is an unknown selection, `meta_prefix` contains
        ``/``, the destination is read-only, or an object to be copied
        already exists in the destination (checked before writing).
    TypeError
        If a file argument is not an h5py group/file.

    Notes
    -----
    All root attributes (the ``"section:key"`` metadata and anything else)
    are copied with their stored types; they replace attributes of the same
    name in the destination. Datasets are copied with :func:`h5ds_copy`:
    those not properly compressed are recompressed chunk-wise, the rest is
    copied as stored, so logs keep their string type (fixed-length bytes or
    variable-length) and tables their compound type. A source without
    ``/events`` is fine (only metadata are copied). Image stacks in
    ``/events`` (``image``, ``image_bg``, ``mask``, ... stored as uint8)
    that lack the HDF5 IMAGE attributes get them. Basins that already exist
    in the destination with identical content are skipped. Other root
    members that are not part of the ``.rtdc`` layout are not copied.

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> src = h5py.File(io.BytesIO(), "w")
    >>> src.attrs["experiment:sample"] = "blood"
    >>> _ = src.create_dataset("events/deform", data=np.linspace(0, .1, 20))
    >>> _ = src.create_dataset("events/image", data=np.zeros((20, 8, 9), "u1"))
    >>> _ = src.create_dataset("logs/notes", data=[b"hello"])
    >>> dst = h5py.File(io.BytesIO(), "w")
    >>> rtdc_copy(src, dst, features="scalar", meta_prefix="src_")
    >>> sorted(dst["events"]), sorted(dst["logs"]), dst.attrs["experiment:sample"]
    (['deform'], ['src_notes'], 'blood')
    >>> is_properly_compressed(dst)
    True
    >>> src.close(); dst.close()
    """
    _rtdc_copy(src_h5file, dst_h5file, features=features,
               include_basins=include_basins, include_logs=include_logs,
               include_tables=include_tables, meta_prefix=meta_prefix,
               ensure_compression=True)


# external data ---------------------------------------------------------------


def _softlink_leaves_file(group: h5py.Group, target: str, depth: int = 0) -> bool:
    """Whether resolving the soft-link path `target` passes an external link."""
    if depth > 32:  # soft links pointing at each other
        return False
    current = group.file["/"] if target.startswith("/") else group
    parts = [p for p in target.split("/") if p and p != "."]
    for ii, part in enumerate(parts):
        link = current.get(part, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            return True
        if isinstance(link, h5py.SoftLink):
            if _softlink_leaves_file(current, link.path, depth + 1):
                return True
        if link is None or ii == len(parts) - 1:
            return False
        nxt = current.get(part)
        if not isinstance(nxt, h5py.Group):
            return False
        current = nxt
    return False


def check_external(h5: h5py.Group | h5py.Dataset) -> tuple[bool, str | None]:
    """Look for data outside a file, without following external links.

    External data are external links, soft links whose path crosses an
    external link, virtual datasets and datasets stored in external raw
    files. The whole hierarchy below `h5` is searched.

    Parameters
    ----------
    h5
        An open file, group or dataset.

    Returns
    -------
    found : bool
        True if external data were found.
    path : str or None
        HDF5 path of the first link or dataset found, else None.

    Examples
    --------
    >>> import io, h5py
    >>> h5 = h5py.File(io.BytesIO(), "w")
    >>> _ = h5.create_dataset("events/deform", data=[0.1, 0.2])
    >>> check_external(h5)
    (False, None)
    >>> h5["events/area_um"] = h5py.ExternalLink("other.rtdc", "/events/area_um")
    >>> check_external(h5)
    (True, '/events/area_um')
    >>> h5.close()
    """
    if isinstance(h5, h5py.Dataset):
        return (True, h5.name) if _is_external_dataset(h5) else (False, None)
    _require_group_arg(h5, "h5")
    groups: list[h5py.Group] = [h5]
    datasets: list[h5py.Dataset] = []

    def collect(_name: str, obj: Any) -> None:
        # visititems follows hard links only, each object once
        if isinstance(obj, h5py.Group):
            groups.append(obj)
        elif isinstance(obj, h5py.Dataset):
            datasets.append(obj)

    h5.visititems(collect)
    for group in groups:
        for name in group:
            link = group.get(name, getlink=True)
            path = f"{group.name.rstrip('/')}/{name}"
            if isinstance(link, h5py.ExternalLink):
                return True, path
            if isinstance(link, h5py.SoftLink) and \
                    _softlink_leaves_file(group, link.path):
                return True, path
    for dset in datasets:
        if _is_external_dataset(dset):
            return True, dset.name
    return False, None


def assert_no_external(h5: h5py.Group | h5py.Dataset) -> None:
    """Raise :class:`~cytolab.errors.ExternalDataForbiddenError` on external data.

    See :func:`check_external` for what counts as external data.

    Examples
    --------
    >>> import io, h5py
    >>> h5 = h5py.File(io.BytesIO(), "w")
    >>> h5["x"] = h5py.ExternalLink("/elsewhere.h5", "/x")
    >>> assert_no_external(h5)
    Traceback (most recent call last):
    ...
    cytolab.errors.ExternalDataForbiddenError: ...
    >>> h5.close()
    """
    found, path = check_external(h5)
    if found:
        try:
            fname = h5.file.filename
        except (ValueError, OSError):
            fname = "<closed file>"
        raise ExternalDataForbiddenError(
            f"'{fname}' refers to external data at '{path}' (external link, "
            f"virtual dataset or external raw file), which is not allowed here")


def _event_count(h5: h5py.Group) -> int | None:
    """Number of events of a file: metadata first, then the data."""
    count = h5.attrs.get("experiment:event count")
    if count is not None:
        with contextlib.suppress(TypeError, ValueError):
            return int(np.asarray(count).reshape(-1)[0])
    events = h5.get("events")
    if not isinstance(events, h5py.Group) or len(events) == 0:
        return None
    names = sorted(events)
    for name in names:
        obj = events.get(name)
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1:
            return int(obj.shape[0])
    for name in names:
        obj = events.get(name)
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 1:
            return int(obj.shape[0])
    return None


def combine_h5files(paths: Iterable[str | os.PathLike],
                    external: Literal["follow", "raise"] = "follow"
                    ) -> io.BytesIO:
    """Merge the features of several files of the same events in memory.

    Parameters
    ----------
    paths
        ``.rtdc`` files with the same number of events. The first file
        provides the metadata (root attributes), logs, tables and basins;
        the features of all files are merged in the given order, and a
        feature present in several files is taken from the first of them.
    external
        ``"follow"``: external links, virtual datasets and external raw
        files in the inputs are resolved while copying and their values
        stored in the combined file. ``"raise"``: raise
        :class:`~cytolab.errors.ExternalDataForbiddenError` if any input
        refers to external data (checked before anything is copied, without
        opening the external targets).

    Returns
    -------
    io.BytesIO
        An HDF5 file, positioned at its start; open it with
        ``h5py.File(fd)`` or :func:`cytolab.new_dataset`.

    Raises
    ------
    FileFormatError
        If a path does not exist or is not an HDF5 file.
    FeatureShapeError
        If the files have different numbers of events.
    ValueError
        If `paths` is empty or `external` is not "follow"/"raise".
    TypeError
        If a path is not a str or path-like object.

    Notes
    -----
    The combined file holds copies, not links: an HDF5 file in a Python
    file object resolves external links and virtual datasets with the file
    object's own driver, so links to the inputs could not be read back
    (virtual datasets would even read as fill values). Data are copied as
    stored (no recompression; compressed chunks are not decoded), so the
    memory needed is about the stored size of all merged features. Basin
    definitions are copied unchanged; file basins given by relative paths
    cannot be found from an in-memory file.

    The number of events of a file is its ``experiment:event count``
    attribute or, without it, the length of its first 1-D feature; files
    without any events are not compared.

    Examples
    --------
    >>> import h5py, numpy as np, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = [pathlib.Path(tmp) / name for name in ("a.rtdc", "b.rtdc")]
    ...     for path, feat in zip(paths, ["deform", "area_um"]):
    ...         with h5py.File(path, "w") as h5:
    ...             _ = h5.create_dataset(f"events/{feat}", data=np.arange(4.))
    ...     fd = combine_h5files(paths)
    >>> with h5py.File(fd) as h5:  # self-contained: the inputs are gone
    ...     sorted(h5["events"]), float(h5["events/area_um"][-1])
    (['area_um', 'deform'], 3.0)
    """
    if external not in ("follow", "raise"):
        raise ValueError(f"`external` must be 'follow' or 'raise', got "
                         f"{external!r}")
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("`paths` must be a list of paths, got a single path")
    paths = list(paths)
    if not paths:
        raise ValueError("`paths` is empty: need at least one file to combine")
    for pp in paths:
        if not isinstance(pp, (str, os.PathLike)):
            raise TypeError(f"Expected paths (str or os.PathLike), got "
                            f"{type(pp).__name__}: {pp!r}")
    fd = io.BytesIO()
    with contextlib.ExitStack() as stack:
        sources: list[tuple[pathlib.Path, h5py.File]] = []
        for pp in paths:
            path = pathlib.Path(pp)
            h5, _ = open_h5(path, "r")
            stack.callback(h5.close)
            if external == "raise":
                assert_no_external(h5)
            sources.append((path, h5))
        counts = [(path, _event_count(h5)) for path, h5 in sources]
        known = {c for _, c in counts if c is not None}
        if len(known) > 1:
            listing = ", ".join(f"'{p}': {c}" for p, c in counts)
            raise FeatureShapeError(f"Cannot combine files with different "
                                    f"numbers of events ({listing})")
        with h5py.File(fd, "w") as dst:
            _rtdc_copy(sources[0][1], dst, features="all", include_basins=True,
                       include_logs=True, include_tables=True, meta_prefix="",
                       ensure_compression=False)
            for _path, h5 in sources[1:]:
                events = h5.get("events")
                if not isinstance(events, h5py.Group):
                    continue
                for name in events:
                    if not _exists(dst, f"events/{name}"):
                        dst_events = dst.require_group("events")
                        h5ds_copy(events, name, dst_events,
                                  ensure_compression=False)
    fd.seek(0)
    return fd
