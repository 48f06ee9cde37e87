"""Lazy, read-only views of per-event HDF5 data.

* :class:`ChunkedEventArray` serves N-D per-event data (images, masks, traces)
  through a small LRU cache of whole HDF5 chunks, so reading ``arr[i]`` for
  consecutive ``i`` decompresses each chunk once instead of once per event.
* :class:`RaggedEventArray` serves per-event datasets of varying length
  stored as a group of datasets named ``"0"``, ``"1"``, ... (contours).
* :class:`MappedEventArray` shows any of the above (or a NumPy array)
  through an index mapping, e.g. the events of a mapped basin.
"""
from __future__ import annotations

import collections
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import h5py
import numpy as np

from ..errors import FileFormatError

#: Never cache chunks larger than this; read single events instead.
MAX_CACHED_CHUNK_BYTES = 64 * 1024**2


def get_mapping_indices(index_mapping: int | slice | Sequence[int] | np.ndarray | None,
                        size: int | None = None) -> np.ndarray | None:
    """Turn an index mapping into an array of event indices.

    Parameters
    ----------
    index_mapping
        An integer N (the first N events), a slice, or a sequence/array of
        indices. None means "no mapping".
    size
        Number of events of the unmapped data; required for open slices.

    Returns
    -------
    indices : numpy.ndarray or None
        uint64 event indices, or None when `index_mapping` is None.

    Examples
    --------
    >>> get_mapping_indices(3)
    array([0, 1, 2], dtype=uint64)
    >>> get_mapping_indices(slice(1, None, 2), size=6)
    array([1, 3, 5], dtype=uint64)
    """
    if index_mapping is None:
        return None
    if isinstance(index_mapping, numbers.Integral):
        return np.arange(int(index_mapping), dtype=np.uint64)
    if isinstance(index_mapping, slice):
        if size is None:
            if index_mapping.stop is None or (index_mapping.start or 0) < 0 \
                    or index_mapping.stop < 0:
                raise ValueError(
                    f"Cannot resolve open slice {index_mapping} without a size")
            size = index_mapping.stop
        return np.arange(*index_mapping.indices(size), dtype=np.uint64)
    arr = np.asarray(index_mapping)
    if arr.dtype == bool:
        if size is not None and arr.shape != (size,):
            raise ValueError(f"Boolean index mapping has shape {arr.shape}, "
                             f"expected ({size},)")
        return np.flatnonzero(arr).astype(np.uint64)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(
            f"Index mapping must be a 1-D integer array, got {arr.dtype} "
            f"with shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError("Index mapping must not contain negative indices")
    return arr.astype(np.uint64, copy=False)


def _normalize_index(idx: Any, length: int) -> int | slice | np.ndarray:
    """Return an int (non-negative), a slice, or an integer index array."""
    if isinstance(idx, tuple):  # np.asarray would make it an event list
        raise IndexError(f"Index events first, then within the event "
                         f"(arr[i][y, x]); multi-axis index {idx!r} is not "
                         f"supported")
    if isinstance(idx, numbers.Integral):
        i = int(idx)
        if i < 0:
            i += length
        if not 0 <= i < length:
            raise IndexError(f"Event index {idx} out of range for {length} events")
        return i
    if isinstance(idx, slice):
        return idx
    arr = np.asarray(idx)
    if arr.dtype == bool:
        if arr.shape != (length,):
            raise IndexError(
                f"Boolean index has shape {arr.shape}, expected ({length},)")
        return np.flatnonzero(arr)
    if arr.size == 0:  # e.g. [] (float64 for NumPy), as numpy allows
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise IndexError(f"Unsupported index {idx!r}")
    arr = np.where(arr < 0, arr + length, arr)
    if arr.size and (arr.min() < 0 or arr.max() >= length):
        raise IndexError(f"Event indices out of range for {length} events")
    return arr


class EventArray:
    """Common interface of the lazy per-event arrays (read-only)."""

    #: Number of events
    _length: int

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[np.ndarray]:
        for ii in range(len(self)):
            yield self[ii]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[:]
        return data if dtype is None else data.astype(dtype)

    def __getitem__(self, idx: Any) -> Any:
        idx = _normalize_index(idx, len(self))
        if isinstance(idx, int):
            return self._get_one(idx)
        if isinstance(idx, slice):
            return self._get_many(np.arange(*idx.indices(len(self))))
        return self._get_many(idx)

    def _get_one(self, index: int) -> Any:
        raise NotImplementedError

    def _get_many(self, indices: np.ndarray) -> Any:
        raise NotImplementedError


class ChunkedEventArray(EventArray):
    """Read-only N-D per-event data (event axis first) with a chunk cache.

    Parameters
    ----------
    h5ds
        The HDF5 dataset (or any array-like with ``shape`` and ``dtype``).
    boolean
        Return boolean arrays (for masks stored as uint8).
    cache_chunks
        Number of chunks kept in memory.
    chunk_size
        Events per cached block; defaults to the HDF5 chunk size along the
        event axis.
    length
        Number of events to show (fewer than stored, e.g. when a file has
        longer features than events); defaults to all.

    Examples
    --------
    >>> import numpy as np
    >>> arr = ChunkedEventArray(np.arange(24).reshape(6, 2, 2), chunk_size=2)
    >>> arr[3].tolist()
    [[12, 13], [14, 15]]
    >>> len(arr), arr.shape
    (6, (6, 2, 2))
    """

    def __init__(self, h5ds: Any, boolean: bool = False, cache_chunks: int = 2,
                 chunk_size: int | None = None, length: int | None = None
                 ) -> None:
        self.h5ds = h5ds
        self.boolean = boolean
        stored = int(h5ds.shape[0])
        self._length = stored if length is None else min(int(length), stored)
        self.shape = (self._length,) + tuple(h5ds.shape[1:])
        self.dtype = np.dtype(bool) if boolean else h5ds.dtype
        self.ndim = len(self.shape)
        if chunk_size is None:
            chunks = getattr(h5ds, "chunks", None)
            chunk_size = chunks[0] if chunks else 1
            event_bytes = max(1, int(np.prod(self.shape[1:])) * h5ds.dtype.itemsize)
            chunk_size = max(1, min(chunk_size,
                                    MAX_CACHED_CHUNK_BYTES // event_bytes))
        self.chunk_size = int(chunk_size)
        self.cache_chunks = int(cache_chunks)
        self._cache: collections.OrderedDict[int, np.ndarray] = \
            collections.OrderedDict()

    def as_stored(self) -> ChunkedEventArray:
        """The same events with the stored data type (no bool conversion).

        Masks are stored as uint8 (0/255); kernels that accept nonzero as
        True (e.g. OpenCV) save a conversion pass by reading them as stored.
        """
        if not self.boolean:
            return self
        return ChunkedEventArray(self.h5ds, cache_chunks=self.cache_chunks,
                                 chunk_size=self.chunk_size, length=self._length)

    def _convert(self, data: np.ndarray) -> np.ndarray:
        if self.boolean:
            data = data.astype(bool)
        data.flags.writeable = False
        return data

    def _get_chunk(self, ichunk: int) -> np.ndarray:
        if ichunk in self._cache:
            self._cache.move_to_end(ichunk)
            return self._cache[ichunk]
        start = ichunk * self.chunk_size
        data = self._convert(self._read(
            slice(start, min(start + self.chunk_size, self._length))))
        self._cache[ichunk] = data
        while len(self._cache) > self.cache_chunks:
            self._cache.popitem(last=False)
        return data

    def _get_one(self, index: int) -> np.ndarray:
        if self.chunk_size <= 1:
            return self._convert(self._read(index))
        ichunk, offset = divmod(index, self.chunk_size)
        return self._get_chunk(ichunk)[offset]

    def _get_many(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size == 0:
            return self._convert(np.zeros((0,) + self.shape[1:],
                                          dtype=self.h5ds.dtype))
        if np.all(np.diff(indices) == 1):
            data = self._read(slice(indices[0], indices[-1] + 1))
        else:
            # h5py needs increasing indices; other array-likes may lack
            # __array__ (and converting them would read everything)
            uniq, inverse = np.unique(indices, return_inverse=True)
            lo, hi = int(uniq[0]), int(uniq[-1])
            if hi - lo + 1 <= 4 * uniq.size:
                # reading the whole range and picking in memory is much
                # faster than a scattered HDF5 selection of many events
                data = self._read(slice(lo, hi + 1))[uniq - lo][inverse]
            else:
                data = self._read(uniq)[inverse]
        if not data.flags.owndata:  # a view of caller data: do not freeze it
            data = data.copy()
        return self._convert(data)

    def _read(self, selection: Any) -> np.ndarray:
        try:
            return np.asarray(self.h5ds[selection])
        except OSError as exc:
            raise _read_error(self.h5ds, exc) from exc


class RaggedEventArray(EventArray):
    """Per-event arrays of varying length stored as datasets of one group.

    The datasets are named by the event index (``"0"``, ``"1"``, ...), the
    layout used for the ``contour`` feature.

    Parameters
    ----------
    group
        The HDF5 group.
    length
        Number of events; defaults to the number of datasets in `group`.
    """

    def __init__(self, group: h5py.Group, length: int | None = None) -> None:
        self.group = group
        self._length = len(group) if length is None else int(length)
        self.shape = (self._length, np.nan, 2)

    def _get_one(self, index: int) -> np.ndarray:
        try:
            data = self.group[str(index)][()]
        except KeyError as exc:
            raise FileFormatError(
                f"Event {index} is missing in '{self.group.name}' of "
                f"'{self.group.file.filename}'") from exc
        except OSError as exc:
            raise _read_error(self.group, exc) from exc
        data.flags.writeable = False
        return data

    def _get_many(self, indices: np.ndarray) -> list[np.ndarray]:
        return [self._get_one(int(ii)) for ii in indices]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        raise TypeError("Ragged data (e.g. contours) cannot be converted to one "
                        "NumPy array; index it per event instead")


class MappedEventArray(EventArray):
    """Show per-event data through an index mapping.

    Parameters
    ----------
    data
        A NumPy array or any :class:`EventArray` (or h5py dataset).
    indices
        Event indices into `data`: event ``i`` of this view is event
        ``indices[i]`` of `data`.
    """

    def __init__(self, data: Any, indices: np.ndarray) -> None:
        self.data = data
        self.indices = np.asarray(indices, dtype=np.int64)
        self._length = len(self.indices)
        shape = getattr(data, "shape", None)
        if shape is not None:
            self.shape = (self._length,) + tuple(shape[1:])
        dtype = getattr(data, "dtype", None)
        if dtype is not None:
            self.dtype = dtype
        if self._length and self.indices.max() >= len(data):
            raise IndexError(
                f"Index mapping refers to event {self.indices.max()}, but the "
                f"mapped data have only {len(data)} events")

    def _get_one(self, index: int) -> Any:
        return self.data[int(self.indices[index])]

    def _get_many(self, indices: np.ndarray) -> Any:
        mapped = self.indices[indices]
        if isinstance(self.data, h5py.Dataset):  # needs increasing indices
            uniq, inverse = np.unique(mapped, return_inverse=True)
            return self.data[uniq][inverse]
        return self.data[mapped]


def _read_error(obj: Any, exc: Exception) -> FileFormatError:
    """A clear error for data that HDF5 cannot read (damaged file)."""
    name = getattr(obj, "name", "data")
    fname = getattr(getattr(obj, "file", None), "filename", "<memory>")
    return FileFormatError(f"Cannot read '{name}' from '{fname}' (damaged or "
                           f"truncated file?): {exc}")


def get_mapped_object(obj: Any, index_mapping: Any = None) -> Any:
    """Return `obj` seen through `index_mapping` (unchanged if it is None).

    NumPy arrays are indexed directly (a copy); other per-event containers
    get a lazy :class:`MappedEventArray`.
    """
    indices = get_mapping_indices(index_mapping, size=len(obj))
    if indices is None:
        return obj
    if isinstance(obj, np.ndarray):
        out = obj[indices.astype(np.int64)]
        out.flags.writeable = False
        return out
    return MappedEventArray(obj, indices)
