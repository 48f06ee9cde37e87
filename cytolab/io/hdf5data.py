"""`HDF5Data`: the dcnum-style reader of ``.rtdc`` files, built on this layer.

:class:`HDF5Data` is what the event-extraction pipeline reads: a light,
picklable view of one file with an optional index mapping (a subset of the
events), its metadata, logs and tables, and the features of its basins. It
adds no HDF5 code of its own: files are opened by :func:`~.files.open_h5`,
images are served by :class:`HDF5ImageCache` (a
:class:`~.arrays.ChunkedEventArray`), index mappings are those of
:mod:`~.arrays` and basins are located with the rules of :mod:`~.basins`.

Nested basins (basins of a basin) are not followed; the dataset API
(:func:`cytolab.new_dataset`) does that.
"""
from __future__ import annotations

import hashlib
import math
import numbers
import os
import pathlib
import pickle
import warnings
from collections.abc import Mapping
from typing import Any, BinaryIO

import h5py
import numpy as np

from ..errors import (
    BadFeatureSizeWarning,
    BasinIdentifierMismatchError,
    BasinmapFeatureMissingError,
    BasinNotAvailableError,
    BasinUnavailableWarning,
    FeatureNotAvailableError,
    FileFormatError,
)
from .arrays import (
    ChunkedEventArray,
    EventArray,
    MappedEventArray,
    RaggedEventArray,
    get_mapped_object,
    get_mapping_indices,
)
from .basins import basin_file_candidates, check_basin_identifier, read_basin_dicts
from .files import (
    get_measurement_identifier,
    is_hdf5_file,
    md5_5m,
    open_h5,
    read_root_metadata,
)
from .ppid import (
    CODE_SEP,
    index_mapping_to_ppid,
    kwargs_to_ppid,
    ppid_to_index_mapping,
    ppid_to_kwargs,
    split_ppid,
)
from .writer import read_text_lines

__all__ = ["PROTECTED_FEATURES", "BasinIdentifierMismatchError", "HDF5Data",
           "HDF5ImageCache", "ImageCorrCache"]

#: Scalar features that describe a whole frame rather than one event; they
#: are copied unchanged into processed outputs.
PROTECTED_FEATURES = ["bg_off", "flow_rate", "frame", "g_force", "pressure",
                      "temp", "temp_amb", "time"]

#: Basin (type, format) pairs that HDF5Data can open.
SUPPORTED_BASINS = {("file", "hdf5"), ("internal", "h5dataset")}

#: Features of a basin that describe the basin's own events.
_BASIN_PRIVATE = {"index"} | {f"basinmap{ii}" for ii in range(10)}

IndexMapping = int | slice | list | np.ndarray | None


class _Blocks:
    """Blocks of `chunk_size` consecutive images (for pipeline authors)."""

    chunk_size: int
    __len__: Any  # provided by the array class

    @property
    def num_chunks(self) -> int:
        """Number of blocks of `chunk_size` images."""
        return math.ceil(len(self) / self.chunk_size)

    def get_chunk_slice(self, chunk_index: int) -> slice:
        """Event slice of block `chunk_index`."""
        if not 0 <= chunk_index < self.num_chunks:
            raise IndexError(f"Chunk {chunk_index} out of range "
                             f"({self.num_chunks} chunks)")
        start = chunk_index * self.chunk_size
        return slice(start, min(start + self.chunk_size, len(self)))


class HDF5ImageCache(_Blocks, ChunkedEventArray):
    """Images (or masks) of an HDF5 dataset, read in cached chunks of events.

    Reading one image decompresses a whole HDF5 chunk; this cache keeps the
    last `cache_size` blocks of `chunk_size` images, so reading images one
    after another is fast. Slices (``cache[a:b]``) bypass the cache and read
    the range with one HDF5 read, which is what a pipeline working through
    large blocks of frames wants.

    Parameters
    ----------
    h5ds
        The dataset, or a :class:`~.arrays.MappedEventArray` of it (a
        dataset seen through an index mapping, see
        :func:`~.arrays.get_mapped_object`). Mapped events are read with one
        sorted HDF5 read per block.
    chunk_size
        Images per cached block (also the unit of :meth:`get_chunk`).
    cache_size
        Number of blocks kept in memory.
    boolean
        Return boolean arrays (masks are stored as uint8 0/255).

    Examples
    --------
    >>> import numpy as np
    >>> cache = HDF5ImageCache(np.arange(5 * 2 * 3).reshape(5, 2, 3), chunk_size=2)
    >>> len(cache), cache.shape, cache.num_chunks, cache.get_chunk_slice(2)
    (5, (5, 2, 3), 3, slice(4, 5, None))
    >>> cache[3][1].tolist()
    [21, 22, 23]
    >>> cache[1:3].shape
    (2, 2, 3)
    """

    def __init__(self, h5ds: Any, chunk_size: int = 1000, cache_size: int = 2,
                 boolean: bool = False) -> None:
        if int(chunk_size) < 1:
            raise ValueError(f"`chunk_size` must be at least 1, got {chunk_size}")
        super().__init__(h5ds, boolean=boolean, cache_chunks=cache_size,
                         chunk_size=max(1, min(int(chunk_size), len(h5ds))))
        self._indices: np.ndarray | None = None
        self._source: ChunkedEventArray | None = None
        if isinstance(h5ds, MappedEventArray):
            # read the underlying data directly: one sorted read per block
            self._indices = h5ds.indices
            self._source = ChunkedEventArray(h5ds.data, cache_chunks=0,
                                             chunk_size=1)

    @property
    def cache_size(self) -> int:
        """Number of blocks of `chunk_size` images kept in memory."""
        return self.cache_chunks

    def get_chunk(self, chunk_index: int) -> np.ndarray:
        """Images of block `chunk_index` (read-only, served from the cache)."""
        self.get_chunk_slice(chunk_index)  # range check
        return self._get_chunk(chunk_index)

    def _read(self, selection: Any) -> np.ndarray:
        if self._source is None:
            return super()._read(selection)
        mapped = self._indices[selection]
        if np.ndim(mapped) == 0:
            return self._source._read(int(mapped))
        return self._source._get_many(mapped)


class ImageCorrCache(_Blocks, EventArray):
    """Background-corrected images: ``image - image_bg`` as int16.

    Parameters
    ----------
    image, image_bg
        Per-event images of equal shape (e.g. :class:`HDF5ImageCache`).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((3, 2, 2), 10, dtype=np.uint8)
    >>> bg = np.full((3, 2, 2), 12, dtype=np.uint8)
    >>> corr = ImageCorrCache(img, bg)
    >>> corr[0].tolist(), corr[1:].shape, corr.dtype
    ([[-2, -2], [-2, -2]], (2, 2, 2), dtype('int16'))
    """

    def __init__(self, image: Any, image_bg: Any) -> None:
        if tuple(image.shape) != tuple(image_bg.shape):
            raise ValueError(f"`image` has shape {tuple(image.shape)} but "
                             f"`image_bg` has shape {tuple(image_bg.shape)}")
        self.image = image
        self.image_bg = image_bg
        self._length = len(image)
        self.shape = tuple(image.shape)
        self.dtype = np.dtype(np.int16)
        self.ndim = len(self.shape)
        self.chunk_size = int(getattr(image, "chunk_size", None) or
                              max(1, self._length))

    def get_chunk(self, chunk_index: int) -> np.ndarray:
        """Corrected images of block `chunk_index`."""
        return self[self.get_chunk_slice(chunk_index)]

    def _get_one(self, index: int) -> np.ndarray:
        return np.subtract(self.image[index], self.image_bg[index],
                           dtype=np.int16)

    def _get_many(self, indices: np.ndarray) -> np.ndarray:
        return np.subtract(self.image[indices], self.image_bg[indices],
                           dtype=np.int16)


def _is_ragged(group: h5py.Group) -> bool:
    """Whether a group holds one dataset per event (named "0", "1", ...)."""
    return all(name.isdigit() for name in group)


def _item_length(obj: h5py.Dataset | h5py.Group) -> int | None:
    """Number of events stored in a feature (dataset, trace or contour group)."""
    if isinstance(obj, h5py.Dataset):
        return int(obj.shape[0]) if obj.shape else None
    if not len(obj):
        return None
    if _is_ragged(obj):
        return len(obj)
    lengths = [obj[k].shape[0] for k in obj
               if isinstance(obj[k], h5py.Dataset) and obj[k].ndim >= 1]
    return min(lengths) if lengths else None  # e.g. the trace group


def _count_events(group: h5py.Group) -> int | None:
    """Number of events of a group of features: the most common length.

    1-D features decide; without them, any feature. None for an empty group.
    """
    scalar, other = [], []
    for name in group:
        obj = group[name]
        size = _item_length(obj)
        if size is None:
            continue
        is_scalar = isinstance(obj, h5py.Dataset) and obj.ndim == 1
        (scalar if is_scalar else other).append(size)
    lengths = scalar or other
    if not lengths:
        return None
    values, counts = np.unique(lengths, return_counts=True)
    return int(values[np.argmax(counts)])


def _flatten_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``{"section:key": value}`` from a flat or nested metadata dict."""
    flat: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}:{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _read_table(obj: h5py.Dataset | h5py.Group) -> Any:
    """A table: a compound array, or a dict of columns for a group."""
    if isinstance(obj, h5py.Group):
        return {k: obj[k][()] for k in obj if isinstance(obj[k], h5py.Dataset)}
    return obj[()]


class HDF5Data:
    """One ``.rtdc`` file, as the event-extraction pipeline reads it.

    Parameters
    ----------
    path
        Path of the file, an open :class:`h5py.File`, or a binary file
        object. Files opened from a path are closed by :meth:`close`; a
        file passed in stays open.
    pixel_size
        Pixel size in µm; overrides ``imaging:pixel size`` of the file (and
        is written into :attr:`meta`).
    md5_5m
        MD5 of the first 5 MiB of the file; computed on first use if None.
    meta
        Metadata ``{"section:key": value}`` (a nested dict is accepted);
        read from the root attributes if None.
    basins
        Basin definitions; read from ``/basins`` if None (see
        :meth:`extract_basin_dicts`).
    logs
        ``{name: lines}``; read from ``/logs`` on first use if None.
    tables
        ``{name: compound array}``; read from ``/tables`` on first use if
        None.
    image_cache_size
        Blocks of images kept in memory per image feature.
    image_chunk_size
        Images per block.
    index_mapping
        Show only these events: an int N (the first N), a slice, or a list
        or array of indices (NumPy rules for ints and slices; a list must
        index existing events).

    Raises
    ------
    FileFormatError
        If the file does not exist, is not HDF5, is damaged, or has no
        ``events`` group.

    Notes
    -----
    ``data[feat]`` returns a read-only NumPy array for scalar features and
    an :class:`HDF5ImageCache` for images and masks (masks as bool), both
    already seen through the index mapping; ``contour`` gives lazy
    per-event arrays and ``trace`` a dict of lazy arrays. Features found in
    the basins are resolved the same way: file basins (each listed path is
    tried, relative ones against the folder of this file) and internal
    basins (group ``basin_events``), directly (then the basin must have
    exactly the events of this file) or through a ``basinmapN`` feature.
    A basin whose measurement identifier differs from the expected one (its
    ``identifier``, else that of this file) raises
    :class:`~cytolab.errors.BasinIdentifierMismatchError`; a basin that
    cannot be found is skipped with a
    :class:`~cytolab.errors.BasinUnavailableWarning`.

    The number of events is the most common length of the 1-D features
    (without any: ``experiment:event count``, then the first basin).
    Longer features are cut to it; shorter ones are left out with a
    :class:`~cytolab.errors.BadFeatureSizeWarning`.

    Instances opened from a path are picklable (they are reopened from the
    path, e.g. in a worker process); in-memory files and file objects are
    not.

    Examples
    --------
    >>> import io, h5py, numpy as np
    >>> fd = io.BytesIO()
    >>> with h5py.File(fd, "w") as h5:
    ...     h5.attrs["imaging:pixel size"] = 0.34
    ...     _ = h5.create_dataset("events/deform", data=np.linspace(0, .1, 6))
    >>> with HDF5Data(fd, index_mapping=slice(0, None, 2)) as data:
    ...     print(len(data), data.pixel_size, data["deform"].round(2).tolist())
    3 0.34 [0.0, 0.04, 0.08]
    """

    def __init__(self, path: str | os.PathLike | h5py.File | BinaryIO,
                 pixel_size: float | None = None, md5_5m: str | None = None,
                 meta: Mapping[str, Any] | None = None,
                 basins: list[dict[str, Any]] | None = None,
                 logs: Mapping[str, list[str]] | None = None,
                 tables: Mapping[str, np.ndarray] | None = None,
                 image_cache_size: int = 2, image_chunk_size: int = 1000,
                 index_mapping: IndexMapping = None) -> None:
        if isinstance(path, (str, os.PathLike)):
            path = pathlib.Path(path).resolve()
        self._owned = False
        self._h5, self._owned = open_h5(path, mode="r")
        try:
            self._setup(path, pixel_size, md5_5m, meta, basins, logs, tables,
                        image_cache_size, image_chunk_size, index_mapping)
        except BaseException:
            self.close()
            raise

    def _setup(self, path: Any, pixel_size: float | None, md5: str | None,
               meta: Mapping[str, Any] | None, basins: list | None,
               logs: Mapping | None, tables: Mapping | None,
               image_cache_size: int, image_chunk_size: int,
               index_mapping: IndexMapping) -> None:
        self._fileobj = path if hasattr(path, "read") else None
        #: The file on disk (None for in-memory files and file objects that
        #: do not name a file)
        self.path: pathlib.Path | None = self._disk_path(path)
        self._name = str(self.path) if self.path is not None else \
            str(getattr(path, "name", None) or self._h5.file.filename)
        self._picklable = isinstance(path, pathlib.Path) or (
            isinstance(path, h5py.Group) and self.path is not None
            and self._h5.file.driver not in ("core", "fileobj"))
        events = self._h5.get("events")
        if not isinstance(events, h5py.Group):
            raise FileFormatError(
                f"'{self._name}' is not an RT-DC file: it has no 'events' "
                f"group (found: {sorted(self._h5.keys())})")
        self._meta = _flatten_meta(meta) if meta is not None else _flatten_meta(
            read_root_metadata(self._h5))
        if pixel_size is not None:
            self._meta["imaging:pixel size"] = float(pixel_size)
        self._md5_5m = md5
        self._basins = list(basins) if basins is not None else \
            self.extract_basin_dicts(self._h5)
        self._logs = None if logs is None else dict(logs)
        self._tables = None if tables is None else dict(tables)
        self.image_cache_size = int(image_cache_size)
        if int(image_chunk_size) < 1:
            raise ValueError(f"`image_chunk_size` must be at least 1, got "
                             f"{image_chunk_size}")
        self.image_chunk_size = int(image_chunk_size)
        self._index_mapping = index_mapping
        self._basin_files: list[h5py.File] = []
        self._basin_data: dict[int, tuple | Exception] = {}
        self._basin_warned: set[int] = set()
        self._cache: dict[str, Any] = {}
        self._raw_length = self._find_raw_length(events)
        self._own = self._usable_features(events)
        self._indices = self._resolve_mapping(index_mapping)

    def _disk_path(self, path: Any) -> pathlib.Path | None:
        if isinstance(path, pathlib.Path):
            return path
        candidates = [getattr(path, "name", None)]
        if isinstance(path, h5py.Group) and \
                self._h5.file.driver not in ("core", "fileobj"):
            candidates.insert(0, self._h5.file.filename)
        for name in candidates:
            if isinstance(name, str) and os.path.isfile(name):
                return pathlib.Path(name).resolve()
        return None

    def _find_raw_length(self, events: h5py.Group) -> int:
        count = _count_events(events)
        if count is None:
            count = self._meta.get("experiment:event count")
        if count is None:
            count = self._length_from_basins()
        return int(count or 0)

    def _length_from_basins(self) -> int | None:
        """Number of events of a file that only refers to basins."""
        for bdict in self._basins:
            if (bdict.get("mapping") or "same") != "same":
                continue
            try:
                group, _ = self._open_basin(bdict)
            except (BasinNotAvailableError, FileFormatError):
                continue
            count = _count_events(group)
            if count is not None:
                return count
        return None

    def _usable_features(self, events: h5py.Group) -> list[str]:
        usable = []
        for name in sorted(events):
            obj = events[name]
            size = _item_length(obj)
            if size is None and isinstance(obj, h5py.Group):
                continue  # an empty group (e.g. trace without traces)
            if size is None or size < self._raw_length:
                what = "no event axis" if size is None else f"{size} events"
                warnings.warn(f"Ignoring feature '{name}' in '{self._name}': it "
                              f"has {what}, the file has {self._raw_length} "
                              f"events", BadFeatureSizeWarning, stacklevel=4)
                continue
            usable.append(name)
        return usable

    def _resolve_mapping(self, index_mapping: IndexMapping) -> np.ndarray | None:
        if index_mapping is None:
            return None
        if isinstance(index_mapping, numbers.Integral):
            index_mapping = slice(0, int(index_mapping))
        try:
            indices = get_mapping_indices(index_mapping, size=self._raw_length)
        except ValueError as exc:
            raise ValueError(f"Invalid `index_mapping` for '{self._name}': "
                             f"{exc}") from exc
        if indices.size and indices.max() >= self._raw_length:
            raise ValueError(f"`index_mapping` refers to event {indices.max()}, "
                             f"but '{self._name}' has {self._raw_length} events")
        return indices.astype(np.int64)

    # dictionary protocol
    def __contains__(self, feat: object) -> bool:
        if not isinstance(feat, str):
            return False
        try:
            self._locate(feat)
        except FeatureNotAvailableError:
            return False
        return True

    def __getitem__(self, feat: str) -> Any:
        if feat not in self._cache:
            if feat in ("image", "image_bg", "mask"):
                data = self.get_image_cache(feat)
                if data is None:
                    raise FeatureNotAvailableError(
                        f"Feature '{feat}' not found in '{self._name}' or its "
                        f"basins")
            else:
                data = self._load(*self._locate(feat), feat)
            self._cache[feat] = data
        return self._cache[feat]

    def __len__(self) -> int:
        return self._raw_length if self._indices is None else len(self._indices)

    def __iter__(self):
        return iter(self.keys())

    def __repr__(self) -> str:
        return f"<HDF5Data '{self._name}' with {len(self)} events>"

    def keys(self) -> list[str]:
        """Features of the file and of its usable basins, sorted."""
        names = set(self._own)
        for index in range(len(self._basins)):
            try:
                names.update(self.get_basin_data(index)[1])
            except BasinNotAvailableError as exc:
                self._warn_basin(index, exc)
        return sorted(names)

    def __enter__(self) -> HDF5Data:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the basin files and, if this instance opened it, the file."""
        for h5 in getattr(self, "_basin_files", []):
            if h5.id.valid:
                h5.close()
        self._basin_files = []
        if self._owned and self._h5.id.valid:
            self._h5.close()

    # pickling
    def __getstate__(self) -> dict[str, Any]:
        if not self._picklable:
            raise pickle.PicklingError(
                f"HDF5Data of '{self._name}' cannot be pickled: it was opened "
                f"from an in-memory file or a file object; open it from a "
                f"path to use it in other processes")
        return {"path": str(self.path), "md5_5m": self._md5_5m,
                "meta": self._meta, "basins": self._basins, "logs": self._logs,
                "tables": self._tables, "image_cache_size": self.image_cache_size,
                "image_chunk_size": self.image_chunk_size,
                "index_mapping": self._index_mapping}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    # properties
    @property
    def h5(self) -> h5py.File:
        """The open HDF5 file."""
        return self._h5

    @property
    def meta(self) -> dict[str, Any]:
        """Metadata ``{"section:key": value}``."""
        return self._meta

    @property
    def meta_nest(self) -> dict[str, dict[str, Any]]:
        """Metadata as nested dict ``{section: {key: value}}``."""
        nest: dict[str, dict[str, Any]] = {}
        for name, value in self._meta.items():
            section, _, key = name.partition(":")
            nest.setdefault(section, {})[key] = value
        return nest

    @property
    def pixel_size(self) -> float | None:
        """Pixel size in µm (``imaging:pixel size``)."""
        value = self._meta.get("imaging:pixel size")
        return None if value is None else float(value)

    @pixel_size.setter
    def pixel_size(self, value: float) -> None:
        self._meta["imaging:pixel size"] = float(value)

    @property
    def md5_5m(self) -> str:
        """MD5 of the first 5 MiB of the file."""
        if self._md5_5m is None:
            if self.path is not None:
                self._md5_5m = md5_5m(self.path)
            elif self._fileobj is not None:
                self._md5_5m = md5_5m(self._fileobj)
            else:  # in-memory HDF5 file: hash its image
                self._h5.flush()
                image = self._h5.file.id.get_file_image()
                self._md5_5m = hashlib.md5(image[:5 * 1024**2]).hexdigest()
        return self._md5_5m

    @property
    def basins(self) -> list[dict[str, Any]]:
        """Basin definitions, in the order they are searched."""
        return self._basins

    @property
    def logs(self) -> dict[str, list[str]]:
        """Logs ``{name: lines}``."""
        if self._logs is None:
            group = self._h5.get("logs")
            self._logs = {} if not isinstance(group, h5py.Group) else {
                k: read_text_lines(group[k]) for k in sorted(group)
                if isinstance(group[k], h5py.Dataset)}
        return self._logs

    @property
    def tables(self) -> dict[str, Any]:
        """Tables ``{name: compound array}``."""
        if self._tables is None:
            group = self._h5.get("tables")
            self._tables = {} if not isinstance(group, h5py.Group) else {
                k: _read_table(group[k]) for k in sorted(group)}
        return self._tables

    @property
    def index_mapping(self) -> IndexMapping:
        """The index mapping as given (None: all events)."""
        return self._index_mapping

    @property
    def image(self) -> HDF5ImageCache | None:
        """Images (None when there are none)."""
        return self._optional("image")

    @property
    def image_bg(self) -> HDF5ImageCache | None:
        """Background images (None when there are none)."""
        return self._optional("image_bg")

    @property
    def mask(self) -> HDF5ImageCache | None:
        """Boolean masks (None when there are none)."""
        return self._optional("mask")

    @property
    def image_corr(self) -> ImageCorrCache | None:
        """``image - image_bg`` as int16 (None without both)."""
        if "image_corr" not in self._cache:
            image, image_bg = self.image, self.image_bg
            if image is None or image_bg is None:
                return None
            self._cache["image_corr"] = ImageCorrCache(image, image_bg)
        return self._cache["image_corr"]

    @property
    def image_num_chunks(self) -> int:
        """Number of blocks of `image_chunk_size` images."""
        return math.ceil(len(self) / self.image_chunk_size)

    @property
    def features_scalar_frame(self) -> list[str]:
        """The :data:`PROTECTED_FEATURES` available as scalar features."""
        feats = []
        for feat in PROTECTED_FEATURES:
            try:
                obj, _ = self._locate(feat)
            except FeatureNotAvailableError:
                continue
            if isinstance(obj, h5py.Dataset) and obj.ndim == 1:
                feats.append(feat)
        return feats

    def _optional(self, feat: str) -> HDF5ImageCache | None:
        try:
            return self[feat]
        except FeatureNotAvailableError:
            return None

    # feature access
    def _view_indices(self, stored: int | None) -> np.ndarray | None:
        """Indices into a feature of this file with `stored` events."""
        if self._indices is not None:
            return self._indices
        if stored == self._raw_length:
            return None
        return np.arange(self._raw_length)

    def _locate(self, feat: str) -> tuple[h5py.Dataset | h5py.Group,
                                          np.ndarray | None]:
        """Where a feature is stored and which of its events are shown."""
        if feat in self._own:
            obj = self._h5["events"][feat]
            return obj, self._view_indices(_item_length(obj))
        for index, bdict in enumerate(self._basins):
            declared = bdict.get("features")
            if feat in _BASIN_PRIVATE or declared is not None \
                    and feat not in declared:
                continue
            try:
                group, feats, mapping = self.get_basin_data(index)
            except BasinNotAvailableError as exc:
                self._warn_basin(index, exc)
                continue
            if feat in feats:
                return group[feat], mapping
        raise FeatureNotAvailableError(
            f"Feature '{feat}' not found in '{self._name}' or its basins")

    def _load(self, obj: h5py.Dataset | h5py.Group, indices: np.ndarray | None,
              feat: str) -> Any:
        if isinstance(obj, h5py.Group):
            if _is_ragged(obj):  # contour
                return get_mapped_object(RaggedEventArray(obj), indices)
            return {k: get_mapped_object(ChunkedEventArray(obj[k]), indices)
                    for k in sorted(obj)}  # trace
        if obj.ndim == 1:
            try:
                data = obj[()]
            except OSError as exc:
                raise FileFormatError(f"Cannot read feature '{feat}' from "
                                      f"'{self._name}' (damaged file?): "
                                      f"{exc}") from exc
            if indices is not None:
                data = data[indices]
            data.flags.writeable = False
            return data
        return HDF5ImageCache(get_mapped_object(obj, indices),
                              chunk_size=self.image_chunk_size,
                              cache_size=self.image_cache_size,
                              boolean=(feat == "mask"))

    def get_image_cache(self, feat: str) -> HDF5ImageCache | None:
        """Image cache of an image-like feature, also searched in the basins.

        Returns None when neither the file nor its basins have `feat`.
        """
        if feat in self._cache:
            return self._cache[feat]
        try:
            obj, indices = self._locate(feat)
        except FeatureNotAvailableError:
            return None
        if not isinstance(obj, h5py.Dataset) or obj.ndim < 2:
            raise ValueError(f"Feature '{feat}' of '{self._name}' is not "
                             f"image-like (shape {getattr(obj, 'shape', None)})")
        cache = self._load(obj, indices, feat)
        self._cache[feat] = cache
        return cache

    # basins
    @staticmethod
    def extract_basin_dicts(h5: h5py.Group, check: bool = True
                            ) -> list[dict[str, Any]]:
        """Basin definitions of a file, in priority order.

        Parameters
        ----------
        h5
            The open file.
        check
            Keep only basins that can be used here: file basins in HDF5
            format and internal basins, whose ``basinmapN`` feature (for
            mapped basins) exists in the file.
        """
        bdicts = read_basin_dicts(h5)
        if not check:
            return bdicts
        events = h5.get("events")
        kept = []
        for bdict in bdicts:
            if (bdict.get("type"), bdict.get("format")) not in SUPPORTED_BASINS:
                continue
            mapping = bdict.get("mapping") or "same"
            if mapping != "same" and (events is None or mapping not in events):
                warnings.warn(f"Ignoring basin '{bdict.get('name')}' of "
                              f"'{h5.file.filename}': its mapping feature "
                              f"'{mapping}' is missing", BasinUnavailableWarning,
                              stacklevel=2)
                continue
            kept.append(bdict)
        return kept

    def get_basin_data(self, index: int) -> tuple[h5py.Group, list[str],
                                                  np.ndarray | None]:
        """Open basin `index` of :attr:`basins`.

        Returns
        -------
        group : h5py.Group
            Group holding the basin's features as datasets.
        features : list of str
            The features this basin provides.
        index_mapping : numpy.ndarray or None
            Event ``i`` of this instance (after its own index mapping) is
            event ``index_mapping[i]`` of `group`; None when they are the
            same events.

        Raises
        ------
        BasinNotAvailableError
            If the basin cannot be found or does not fit the events.
        BasinIdentifierMismatchError
            If the basin belongs to another measurement.
        """
        if index not in self._basin_data:
            try:
                self._basin_data[index] = self._basin_data_uncached(index)
            except (BasinNotAvailableError, BasinIdentifierMismatchError) as exc:
                self._basin_data[index] = exc
            except FileFormatError as exc:  # a damaged basin file
                self._basin_data[index] = BasinNotAvailableError(str(exc))
        result = self._basin_data[index]
        if isinstance(result, Exception):
            raise result
        return result

    def _basin_data_uncached(self, index: int) -> tuple:
        bdict = self._basins[index]
        group, feats = self._open_basin(bdict)
        name = bdict.get("name")
        mapping = bdict.get("mapping") or "same"
        size = _count_events(group) or 0
        if mapping == "same":
            if size != self._raw_length:
                raise BasinNotAvailableError(
                    f"Basin '{name}' of '{self._name}' has {size} events, but "
                    f"the file has {self._raw_length} and the mapping is 'same'")
            return group, feats, self._view_indices(size)
        events = self._h5["events"]
        if mapping not in events:
            raise BasinmapFeatureMissingError(
                f"Basin '{name}' of '{self._name}' needs the mapping feature "
                f"'{mapping}', which the file does not have")
        bmap = np.asarray(events[mapping][:self._raw_length], dtype=np.int64)
        if bmap.size and bmap.max() >= size:
            raise BasinNotAvailableError(
                f"Mapping '{mapping}' of '{self._name}' refers to event "
                f"{bmap.max()}, but basin '{name}' has only {size} events")
        return group, feats, bmap if self._indices is None else bmap[self._indices]

    def _open_basin(self, bdict: Mapping[str, Any]) -> tuple[h5py.Group, list[str]]:
        kind = (bdict.get("type"), bdict.get("format"))
        if kind == ("file", "hdf5"):
            return self._get_basin_data_file(bdict)
        if kind == ("internal", "h5dataset"):
            return self._get_basin_data_internal(bdict)
        raise BasinNotAvailableError(
            f"Basin '{bdict.get('name')}' of '{self._name}' has type "
            f"'{kind[0]}' and format '{kind[1]}'; HDF5Data opens only "
            f"{sorted(SUPPORTED_BASINS)}")

    @staticmethod
    def _basin_features(group: h5py.Group, bdict: Mapping[str, Any]) -> list[str]:
        feats = set(group) - _BASIN_PRIVATE
        declared = bdict.get("features")
        if declared is not None:
            feats &= set(declared)
        return sorted(feats)

    def _get_basin_data_file(self, bn_dict: Mapping[str, Any]
                             ) -> tuple[h5py.Group, list[str]]:
        """Open a file basin, trying each of its paths in turn.

        Returns the basin's ``events`` group and its features.
        """
        name = bn_dict.get("name")
        ref_dir = None if self.path is None else self.path.parent
        candidates = basin_file_candidates(bn_dict.get("paths") or [], ref_dir)
        expected = bn_dict.get("identifier") or \
            get_measurement_identifier(self.meta_nest)
        mismatch = None
        for cand in candidates:
            if not is_hdf5_file(cand):
                continue
            try:
                h5, _ = open_h5(cand)
            except FileFormatError:
                continue
            try:
                check_basin_identifier(expected, get_measurement_identifier(h5),
                                       name, cand)
            except BasinIdentifierMismatchError as exc:
                h5.close()
                mismatch = exc  # another path may hold the right file
                continue
            if not isinstance(h5.get("events"), h5py.Group):
                h5.close()
                continue
            self._basin_files.append(h5)
            return h5["events"], self._basin_features(h5["events"], bn_dict)
        if mismatch is not None:
            raise mismatch
        tried = ", ".join(f"'{c}'" for c in candidates) or "no paths"
        raise BasinNotAvailableError(f"Basin '{name}' of '{self._name}' not "
                                     f"found (tried {tried})")

    def _get_basin_data_internal(self, bn_dict: Mapping[str, Any]
                                 ) -> tuple[h5py.Group, list[str]]:
        """The group of an internal basin and its features."""
        for loc in bn_dict.get("paths") or []:
            group = self._h5.get(loc)
            if isinstance(group, h5py.Group):
                return group, self._basin_features(group, bn_dict)
        raise BasinNotAvailableError(
            f"Internal basin '{bn_dict.get('name')}' of '{self._name}': group "
            f"{bn_dict.get('paths')} not found")

    def _warn_basin(self, index: int, exc: Exception) -> None:
        if index not in self._basin_warned:
            self._basin_warned.add(index)
            warnings.warn(f"Ignoring basin: {exc}", BasinUnavailableWarning,
                          stacklevel=4)

    # pipeline identifiers
    @classmethod
    def get_ppid_code(cls) -> str:
        """Code of the data step in pipeline identifiers: ``"hdf"``."""
        return "hdf"

    def get_ppid(self) -> str:
        """Pipeline identifier of these data (pixel size and index mapping).

        Examples
        --------
        >>> import io, h5py
        >>> fd = io.BytesIO()
        >>> with h5py.File(fd, "w") as h5:
        ...     h5.attrs["imaging:pixel size"] = 0.34
        ...     _ = h5.create_dataset("events/deform", data=[0.1, 0.2])
        >>> HDF5Data(fd, index_mapping=1).get_ppid()
        'hdf:p=0.34^i=1'
        """
        return self.get_ppid_from_ppkw({"pixel_size": self.pixel_size,
                                        "index_mapping": self._index_mapping})

    @classmethod
    def get_ppid_from_ppkw(cls, kwargs: Mapping[str, Any]) -> str:
        """Pipeline identifier from ``pixel_size`` and ``index_mapping``.

        The pixel size is rounded to 8 decimals (float32 metadata would
        otherwise give different identifiers for the same setting).

        Examples
        --------
        >>> HDF5Data.get_ppid_from_ppkw({"pixel_size": 0.3400000035762787,
        ...                              "index_mapping": slice(0, 100)})
        'hdf:p=0.34^i=s_0_100_n'
        """
        pixel_size = kwargs.get("pixel_size")
        if pixel_size is not None:
            pixel_size = round(float(pixel_size), 8)
        index = cls.get_ppid_index_mapping(kwargs.get("index_mapping"))
        return cls.get_ppid_code() + CODE_SEP + kwargs_to_ppid(
            {"pixel_size": pixel_size, "index_mapping": index})

    @staticmethod
    def get_ppid_index_mapping(index_mapping: IndexMapping) -> str:
        """The index-mapping part of the identifier (see
        :func:`~.ppid.index_mapping_to_ppid`)."""
        return index_mapping_to_ppid(index_mapping)

    @staticmethod
    def get_ppkw_from_ppid(dat_ppid: str) -> dict[str, Any]:
        """``{"pixel_size": ..., "index_mapping": ...}`` from an identifier.

        Raises
        ------
        ValueError
            If the identifier is not one of data (code ``hdf``) or its index
            mapping is the hash of an index list (not recoverable).

        Examples
        --------
        >>> HDF5Data.get_ppkw_from_ppid("hdf:p=0.34^i=s_0_100_n")
        {'pixel_size': 0.34, 'index_mapping': slice(0, 100, None)}
        """
        code, parts = split_ppid(dat_ppid)
        if code != HDF5Data.get_ppid_code() or len(parts) != 1:
            raise ValueError(f"Not a data pipeline identifier: {dat_ppid!r} "
                             f"(expected 'hdf:p=...^i=...')")
        kwargs = ppid_to_kwargs(parts[0], {"pixel_size": 0.0,
                                           "index_mapping": "0"})
        kwargs["index_mapping"] = ppid_to_index_mapping(kwargs["index_mapping"])
        return kwargs

