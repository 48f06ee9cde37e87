"""Writing per-event data, logs, tables and basins to HDF5.

:class:`HDF5Writer` is the one writer of cytolab: the dataset-level
:class:`cytolab.rtdc.RTDCWriter` and the pipelines build on it. What it writes
is predictable: every feature is one resizable dataset in ``/events`` (or in
the group you name), chunked towards 1 MiB, compressed with Zstandard level 5
and protected by Fletcher-32 checksums (override with `ds_kwds`).
"""
from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import h5py
import hdf5plugin
import numpy as np

from ..definitions import features as dfn_features
from .files import H5Source, open_h5

#: Target chunk size in bytes.
CHUNK_SIZE_BYTES = 1024**2
#: Minimum number of events in a chunk.
CHUNK_MIN_EVENTS = 10

#: HDF5 attributes that make HDF viewers display a dataset as image stack.
IMAGE_ATTRIBUTES = {
    "CLASS": np.bytes_("IMAGE"),
    "IMAGE_VERSION": np.bytes_("1.2"),
    "IMAGE_SUBCLASS": np.bytes_("IMAGE_GRAYSCALE"),
}

#: Group holding the feature data of internal basins.
INTERNAL_BASIN_GROUP = "basin_events"


def set_default_filter_kwargs(ds_kwds: Mapping[str, Any] | None = None,
                              compression: bool = True) -> dict[str, Any]:
    """Return HDF5 dataset keywords with cytolab's default filters.

    Parameters
    ----------
    ds_kwds
        Keywords to start from; keys given here win over the defaults.
    compression
        Add Zstandard (level 5, HDF5 filter 32015) compression.

    Returns
    -------
    dict
        Keywords for :meth:`h5py.Group.create_dataset` including
        ``fletcher32=True``.

    Examples
    --------
    >>> kw = set_default_filter_kwargs()
    >>> kw["fletcher32"], kw["compression"]
    (True, 32015)
    >>> set_default_filter_kwargs(compression=False)
    {'fletcher32': True}
    >>> set_default_filter_kwargs({"compression": None})
    {'fletcher32': True}
    """
    kwds: dict[str, Any] = {}
    if compression and "compression" not in (ds_kwds or {}):
        kwds.update(hdf5plugin.Zstd(clevel=5))
    kwds["fletcher32"] = True
    kwds.update({k: v for k, v in (ds_kwds or {}).items()
                 if not (k == "compression" and v is None)})
    return kwds


def get_best_nd_chunks(item_shape: Sequence[int],
                       item_dtype: np.dtype | type = np.float64) -> tuple[int, ...]:
    """Chunk shape for per-event data: about 1 MiB, at least 10 events.

    Parameters
    ----------
    item_shape
        Shape of one event, ``()`` for scalar features.
    item_dtype
        Data type of the feature.

    Examples
    --------
    >>> get_best_nd_chunks((), np.float64)
    (131072,)
    >>> get_best_nd_chunks((80, 400), np.uint8)
    (32, 80, 400)
    """
    item_shape = tuple(int(s) for s in item_shape)
    event_bytes = max(1, int(np.prod(item_shape)) * np.dtype(item_dtype).itemsize)
    nevents = max(CHUNK_MIN_EVENTS, CHUNK_SIZE_BYTES // event_bytes)
    return (nevents,) + item_shape


def _finite_stats(data: np.ndarray) -> tuple[float, float, float, int] | None:
    """min, max, sum and count of the finite values of numeric 1-D data."""
    if data.dtype.kind not in "biuf" or data.size == 0:
        return None
    if data.dtype.kind == "f":
        finite = data[np.isfinite(data)]
    else:
        finite = data
    if finite.size == 0:
        return None
    return (float(finite.min()), float(finite.max()),
            float(finite.sum(dtype=np.float64)), int(finite.size))


class HDF5Writer:
    """Write per-event data and supplementary information to an HDF5 file.

    Parameters
    ----------
    obj
        Path or open :class:`h5py.File`. A file passed in is never closed by
        the writer.
    mode
        File mode when `obj` is a path.
    ds_kwds
        Default dataset keywords (see :func:`set_default_filter_kwargs`).

    Examples
    --------
    >>> import io, numpy as np
    >>> with HDF5Writer(io.BytesIO(), mode="w") as hw:
    ...     _ = hw.store_feature_chunk("deform", np.array([0.1, 0.2]))
    ...     _ = hw.store_feature_chunk("deform", np.array([0.3]))
    ...     hw.events["deform"][:].tolist()
    [0.1, 0.2, 0.3]
    """

    def __init__(self, obj: H5Source, mode: str = "a",
                 ds_kwds: Mapping[str, Any] | None = None) -> None:
        self.h5, self._owned = open_h5(obj, mode=mode)
        self.ds_kwds = set_default_filter_kwargs(ds_kwds)

    # context manager
    def __enter__(self) -> HDF5Writer:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        """Flush, and close the file if the writer opened it."""
        if self._owned:
            self.h5.close()
        else:
            self.h5.flush()

    @property
    def events(self) -> h5py.Group:
        """The ``/events`` group (created on demand)."""
        return self.h5.require_group("events")

    @staticmethod
    def get_best_nd_chunks(item_shape: Sequence[int],
                           feat_dtype: np.dtype | type = np.float64
                           ) -> tuple[int, ...]:
        """See :func:`get_best_nd_chunks`."""
        return get_best_nd_chunks(item_shape, feat_dtype)

    # features
    def require_feature(self, feat: str, item_shape: Sequence[int],
                        feat_dtype: np.dtype | type,
                        ds_kwds: Mapping[str, Any] | None = None,
                        group_name: str = "events") -> h5py.Dataset:
        """Return the resizable dataset of a feature, creating it if needed.

        Parameters
        ----------
        feat
            Feature name.
        item_shape
            Shape of one event; ``()`` or ``(1,)`` for scalar features.
        feat_dtype
            Data type.
        ds_kwds
            Dataset keywords overriding the writer's defaults.
        group_name
            Group to create the dataset in.
        """
        item_shape = tuple(int(s) for s in item_shape)
        if item_shape == (1,):
            item_shape = ()
        group = self.h5.require_group(group_name)
        if feat in group:
            dset = group[feat]
            if dset.shape[1:] != item_shape:
                raise ValueError(
                    f"Feature '{feat}' in '{self.h5.filename}' has per-event "
                    f"shape {dset.shape[1:]}, cannot append data of shape "
                    f"{item_shape}")
            if not dset.maxshape or dset.maxshape[0] is not None:
                raise ValueError(
                    f"Feature '{feat}' in '{self.h5.filename}' is not "
                    f"resizable (maxshape {dset.maxshape}); cannot append")
            return dset
        kwds = dict(self.ds_kwds)
        kwds.update(ds_kwds or {})
        kwds.setdefault("chunks", get_best_nd_chunks(item_shape, feat_dtype))
        dset = group.create_dataset(feat, shape=(0,) + item_shape,
                                    dtype=feat_dtype,
                                    maxshape=(None,) + item_shape, **kwds)
        if feat in dfn_features.FEATURES_IMAGE_UINT8:
            dset.attrs.update(IMAGE_ATTRIBUTES)
        return dset

    def store_feature_chunk(self, feat: str, data: Any,
                            group_name: str = "events") -> h5py.Dataset:
        """Append events of one feature.

        Parameters
        ----------
        feat
            Feature name.
        data
            Array with the event axis first. Boolean data (masks) are stored
            as uint8.
        group_name
            Group holding the feature.

        Returns
        -------
        h5py.Dataset
            The dataset written to.
        """
        data = np.asarray(data)
        if data.ndim == 0:
            raise ValueError(f"Feature '{feat}': expected an array with one "
                             f"entry per event, got a scalar")
        if data.dtype == bool:
            # image-like masks use 0/255 like the rest of the ecosystem, so
            # that HDF5 viewers show them
            scale = 255 if feat in dfn_features.FEATURES_IMAGE_UINT8 else 1
            data = data.astype(np.uint8) * np.uint8(scale)
        group = self.h5.require_group(group_name)
        dtype = group[feat].dtype if feat in group else data.dtype
        dset = self.require_feature(feat, data.shape[1:], dtype,
                                    group_name=group_name)
        start = dset.shape[0]
        dset.resize(start + data.shape[0], axis=0)
        dset[start:] = data
        if data.ndim == 1:
            # Statistics of the values as stored (after any dtype conversion).
            stored = data if data.dtype == dset.dtype else dset[start:]
            self._update_stats(dset, stored, start)
        return dset

    @staticmethod
    def _update_stats(dset: h5py.Dataset, data: np.ndarray, start: int) -> None:
        """Keep the ``min``/``max``/``mean`` attributes of scalar data current."""
        stats = _finite_stats(data)
        if stats is None:
            return
        vmin, vmax, vsum, count = stats
        attrs = dset.attrs
        if start and "_count" not in attrs:
            # Written by another tool: summarize the old events once.
            old = _finite_stats(dset[:start])
            if old is not None:
                attrs["min"], attrs["max"] = old[0], old[1]
                attrs["mean"], attrs["_count"] = old[2] / old[3], old[3]
        old_count = int(attrs.get("_count", 0)) if start else 0
        if old_count:
            vmin = min(vmin, float(attrs["min"]))
            vmax = max(vmax, float(attrs["max"]))
            vsum += float(attrs["mean"]) * old_count
        count += old_count
        attrs["min"] = vmin
        attrs["max"] = vmax
        attrs["mean"] = vsum / count
        attrs["_count"] = count

    def store_ragged(self, feat: str, data: Iterable[Any],
                     group_name: str = "events") -> h5py.Group:
        """Append per-event arrays of varying length (e.g. contours).

        Each event becomes a dataset named by its index in a group.
        """
        group = self.h5.require_group(group_name).require_group(feat)
        start = len(group)
        for ii, item in enumerate(data):
            group.create_dataset(str(start + ii), data=np.asarray(item),
                                 **self._unchunked_kwds())
        return group

    def _unchunked_kwds(self) -> dict[str, Any]:
        """Default dataset keywords for non-event data (h5py picks the chunks)."""
        return {k: v for k, v in self.ds_kwds.items() if k != "chunks"}

    # logs and tables
    def store_log(self, log: str, data: str | Sequence[str],
                  override: bool = False, append: bool = False) -> h5py.Dataset:
        """Store text lines as a log in ``/logs``.

        Parameters
        ----------
        log
            Name of the log.
        data
            Lines of text (a single string is split into lines).
        override
            Replace an existing log of that name.
        append
            Add the lines to an existing log of that name.

        Raises
        ------
        ValueError
            If the log exists and neither `override` nor `append` is set.
        """
        lines = data.splitlines() if isinstance(data, str) else list(data)
        lines = [ln.decode("utf-8") if isinstance(ln, bytes) else str(ln)
                 for ln in lines]
        group = self.h5.require_group("logs")
        if log in group:
            if append:
                lines = read_text_lines(group[log]) + lines
            elif not override:
                raise ValueError(f"Log '{log}' already exists in "
                                 f"'{self.h5.filename}'")
            del group[log]
        return write_text(group, log, lines, **self._unchunked_kwds())

    def store_table(self, name: str, table: Any) -> h5py.Dataset:
        """Store a table (compound array) in ``/tables``.

        Parameters
        ----------
        name
            Name of the table.
        table
            A structured NumPy array (or recarray), an :class:`h5py.Dataset`,
            or a dict of equal-length 1-D columns (stored as float64
            columns unless they are already NumPy arrays).
        """
        if isinstance(table, h5py.Dataset):
            attrs = dict(table.attrs)
            table = table[()]
        else:
            attrs = {}
        if isinstance(table, Mapping):
            if not table:
                raise ValueError(f"Table '{name}' has no columns")
            columns = list(table.keys())
            arrays = [np.asarray(table[c]) for c in columns]
            lengths = {len(a) for a in arrays}
            if len(lengths) > 1:
                raise ValueError(f"Table '{name}': columns have different "
                                 f"lengths {sorted(lengths)}")
            dtype = np.dtype([(c, a.dtype if a.dtype.kind in "biuf" else
                               np.float64) for c, a in zip(columns, arrays)])
            rec = np.zeros(lengths.pop() if lengths else 0, dtype=dtype)
            for c, a in zip(columns, arrays):
                try:
                    rec[c] = a
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"Table '{name}': column '{c}' is not "
                                     f"numeric ({exc})") from exc
            table = rec
        table = np.asarray(table)
        if table.dtype.names is None:
            raise ValueError(f"Table '{name}' must have named columns "
                             f"(structured array or dict), got {table.dtype}")
        group = self.h5.require_group("tables")
        if name in group:
            del group[name]
        dset = group.create_dataset(name, data=table, **self._unchunked_kwds())
        dset.attrs.update(attrs)
        return dset

    # basins
    def store_basin_dict(self, bdict: Mapping[str, Any]) -> str:
        """Store the JSON definition of a basin in ``/basins``.

        Returns
        -------
        str
            The basin key (the name of the dataset), a hash of its content.
        """
        lines = json.dumps(dict(bdict), indent=2, sort_keys=True).split("\n")
        key = basin_key(lines)
        group = self.h5.require_group("basins")
        if key not in group:
            write_text(group, key, lines, **self._unchunked_kwds())
        return key

    def next_basinmap(self, mapping: np.ndarray) -> str:
        """Store `mapping` as the next free ``basinmapN`` feature.

        A ``basinmapN`` feature that already holds exactly this mapping is
        reused.

        Returns
        -------
        str
            Name of the mapping feature.
        """
        mapping = np.asarray(mapping, dtype=np.uint64)
        events = self.events
        for ii in range(10):
            name = f"basinmap{ii}"
            if name not in events:
                self.store_feature_chunk(name, mapping)
                return name
            if events[name].shape == mapping.shape \
                    and np.array_equal(events[name][:], mapping):
                return name
        raise ValueError(f"All ten basin mappings (basinmap0-9) are used in "
                         f"'{self.h5.filename}'")

    def store_internal_basin_data(self, data: Mapping[str, Any]) -> list[str]:
        """Append feature data of an internal basin (group ``basin_events``).

        Returns
        -------
        list of str
            The sorted feature names.
        """
        for feat, values in data.items():
            if not dfn_features.feature_exists(feat):
                raise ValueError(f"Unknown feature '{feat}' in internal basin data")
            self.store_feature_chunk(feat, values, group_name=INTERNAL_BASIN_GROUP)
        return sorted(data)

    def store_basin(self, name: str, paths: Sequence[str | pathlib.Path] | None = None,
                    features: Sequence[str] | None = None,
                    description: str | None = None,
                    mapping: np.ndarray | None = None,
                    internal_data: Mapping[str, np.ndarray] | None = None,
                    identifier: str | None = None) -> str:
        """Define a file basin or an internal basin.

        Parameters
        ----------
        name
            Name of the basin (need not be unique).
        paths
            Locations of the basin file (for file basins).
        features
            Features the basin provides (None: all of the basin's features).
        description
            Free-text description.
        mapping
            Indices into the basin, one per event of this file; stored as a
            ``basinmapN`` feature. None: the basin has the same events.
        internal_data
            Feature data stored inside this file (internal basin); then
            `paths` and `features` must be None.
        identifier
            Measurement identifier of the basin.

        Returns
        -------
        str
            The basin key.
        """
        bdict: dict[str, Any] = {"name": name, "description": description}
        if internal_data is not None:
            if paths is not None or features is not None:
                raise ValueError("For internal basins, `paths` and `features` "
                                 "must be None")
            bdict.update(type="internal", format="h5dataset",
                         paths=[INTERNAL_BASIN_GROUP],
                         features=self.store_internal_basin_data(internal_data))
        else:
            if not paths:
                raise ValueError("A file basin needs at least one path")
            bdict.update(type="file", format="hdf5",
                         paths=[str(p) for p in paths],
                         features=None if features is None else sorted(features))
        bdict["mapping"] = "same" if mapping is None else self.next_basinmap(mapping)
        if identifier is not None:
            bdict["identifier"] = identifier
        return self.store_basin_dict(bdict)


def basin_key(lines: Sequence[str]) -> str:
    """Key of a basin definition: the MD5 of its JSON lines."""
    return hashlib.md5("\n".join(lines).encode("utf-8")).hexdigest()


def write_text(group: h5py.Group, name: str, lines: Sequence[str],
               **ds_kwds: Any) -> h5py.Dataset:
    """Write lines of text as a dataset of fixed-length UTF-8 strings.

    `ds_kwds` are passed to :meth:`h5py.Group.create_dataset` (default:
    Fletcher-32 checksums only).
    """
    encoded = [ln.encode("utf-8") for ln in lines]
    width = max([len(e) for e in encoded] + [1])
    arr = np.array(encoded, dtype=f"S{width}")
    return group.create_dataset(name, data=arr, **(ds_kwds or {"fletcher32": True}))


def read_text_lines(dset: h5py.Dataset) -> list[str]:
    """Read a text dataset (fixed or variable length, bytes or str)."""
    if dset.shape == ():
        values = [dset[()]]
    else:
        values = list(dset[()])
    return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
            for v in values]
