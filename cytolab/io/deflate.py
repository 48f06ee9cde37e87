"""Gzip-compressed HDF5 datasets whose chunks are encoded on several cores.

HDF5 runs its filters (shuffle, deflate, Fletcher-32) in the thread that
writes, one chunk after the other. Here the same filter pipeline is run in
Python worker threads (:mod:`zlib` releases the GIL while it compresses) and
the finished bytes are stored with ``write_direct_chunk``. The datasets
declare the usual filters, so every HDF5 reader decodes them as if HDF5 had
written them; only the writing is faster.

:class:`ChunkWriter` keeps the HDF5 calls in the calling thread and only the
encoding in the pool, so it is safe with h5py, which is not thread-parallel.
"""
from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import h5py
import numpy as np

#: Default deflate level: level 4 with the shuffle filter compresses float
#: images better than level 9 without it, at a fraction of the time.
DEFLATE_LEVEL = 4

#: Chunks of 2-D images are whole rows, sized towards this many bytes.
IMAGE_CHUNK_BYTES = 1 << 20


def fletcher32(data: bytes) -> int:
    """HDF5's Fletcher-32 checksum of `data`.

    The checksum is over 16-bit big-endian words (a trailing odd byte counts
    as the high byte of a last word), with end-around-carry sums; it equals
    what the HDF5 library computes for its ``fletcher32`` filter.

    Examples
    --------
    >>> hex(fletcher32(b"abcde"))
    '0x4ff029c7'
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % 2:
        raw = np.concatenate([raw, np.zeros(1, np.uint8)])
    words = raw.view(">u2")
    n = words.size
    if n == 0 or not words.any():
        return 0
    # The library folds both sums (end-around carry) every 360 words; only
    # their values modulo 65535 survive, and a folded sum is 0 only when all
    # words are 0. sum1 = sum(w_j), sum2 = sum(w_j * (n - j)) for j = 0..n-1,
    # computed exactly in float64 blocks (each block total < 2**53).
    block = 1 << 16
    padded = np.zeros(-(-n // block) * block, dtype=np.float64)
    padded[:n] = words
    blocks = padded.reshape(-1, block)
    sums = blocks.sum(axis=1)
    local = blocks @ np.arange(block, dtype=np.float64)
    s1 = sum(int(v) for v in sums)
    weighted = sum(b * block * int(v) + int(w)
                   for b, (v, w) in enumerate(zip(sums, local, strict=True)))
    s1, s2 = s1 % 65535, (n * s1 - weighted) % 65535
    return ((s2 or 65535) << 16) | (s1 or 65535)


def encode_chunk(chunk: np.ndarray, level: int = DEFLATE_LEVEL, shuffle: bool = True,
                 checksum: bool = True, rle: bool = False) -> bytes:
    """Run HDF5's shuffle -> deflate -> Fletcher-32 pipeline on one chunk.

    Parameters
    ----------
    chunk
        The chunk's data, C-contiguous, in the dataset's dtype.
    level
        Deflate level 0-9.
    shuffle, checksum
        Apply the shuffle filter / append the Fletcher-32 checksum.
    rle
        Deflate with zlib's run-length strategy instead of the default one
        (see :class:`ChunkWriter`); any deflate decoder reads both.

    Returns
    -------
    bytes
        What HDF5 stores for the chunk with these filters (byte for byte
        when `rle` is False).
    """
    buf = np.ascontiguousarray(chunk)
    size = buf.dtype.itemsize
    if shuffle and size > 1:
        data = buf.view(np.uint8).reshape(-1, size).T.tobytes()
    else:
        data = buf.tobytes()
    if rle:
        deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
        data = deflate.compress(data) + deflate.flush()
    else:
        data = zlib.compress(data, level)
    if checksum:
        data += fletcher32(data).to_bytes(4, "little")
    return data


def image_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunk shape for an image: whole rows, about :data:`IMAGE_CHUNK_BYTES`.

    Examples
    --------
    >>> image_chunks((512, 512), 4)
    (512, 512)
    >>> image_chunks((2048, 2048), 4)
    (128, 2048)
    """
    if not shape or 0 in shape:
        raise ValueError(f"cannot chunk an empty image of shape {shape}")
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    rows = int(max(1, min(shape[0], IMAGE_CHUNK_BYTES // max(row_bytes, 1))))
    return (rows, *shape[1:])


def _encode_all(data: np.ndarray, rows: int, level: int, shuffle: bool,
                checksum: bool, rle: bool) -> list[bytes]:
    out = []
    for start in range(0, data.shape[0], rows):
        chunk = data[start:start + rows]
        if chunk.shape[0] < rows:  # edge chunks are stored at full size
            pad = np.zeros((rows, *data.shape[1:]), dtype=data.dtype)
            pad[:chunk.shape[0]] = chunk
            chunk = pad
        out.append(encode_chunk(chunk, level, shuffle, checksum, rle))
    return out


def decode_chunk(payload: bytes, dtype: np.dtype, shape: tuple[int, ...],
                 shuffle: bool, checksum: bool) -> np.ndarray:
    """Invert :func:`encode_chunk`: verify, inflate and unshuffle a chunk.

    Raises
    ------
    ValueError
        The Fletcher-32 checksum does not match (corrupt data).
    """
    if checksum:
        payload, stored = payload[:-4], int.from_bytes(payload[-4:], "little")
        if fletcher32(payload) != stored:
            raise ValueError("Fletcher-32 checksum mismatch (corrupt chunk)")
    data = zlib.decompress(payload)
    size = np.dtype(dtype).itemsize
    raw = np.frombuffer(data, dtype=np.uint8)
    if shuffle and size > 1:
        raw = raw.reshape(size, -1).T
    return np.ascontiguousarray(raw).view(dtype).reshape(shape)


def direct_reader(dset: h5py.Dataset) -> Callable[[], np.ndarray] | None:
    """Read a dataset's chunks now; decode them later, in any thread.

    Returns a function that decodes the raw chunk bytes (read here, in the
    calling thread) into the dataset's array, so that the decoding of many
    datasets can run on several cores. Returns None when the dataset is not
    chunked with exactly the filters of this module (deflate, optionally
    shuffle and Fletcher-32): read such datasets with h5py.
    """
    plist = dset.id.get_create_plist()
    if dset.chunks is None or dset.compression != "gzip" or dset.scaleoffset:
        return None
    known = {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE,
             h5py.h5z.FILTER_FLETCHER32}
    if any(plist.get_filter(i)[0] not in known for i in range(plist.get_nfilters())):
        return None
    shape, chunks, dtype = dset.shape, dset.chunks, dset.dtype
    if chunks[1:] != shape[1:] or dtype.byteorder == ">":
        return None  # only whole-row chunks (as written here), native order
    pieces = []
    for start in range(0, shape[0], chunks[0]):
        mask, payload = dset.id.read_direct_chunk((start, *[0] * (len(shape) - 1)))
        if mask:
            return None  # a filter was skipped for this chunk
        pieces.append(payload)
    shuffle, checksum = dset.shuffle, dset.fletcher32

    def decode() -> np.ndarray:
        parts = [decode_chunk(p, dtype, chunks, shuffle, checksum) for p in pieces]
        return np.concatenate(parts)[:shape[0]] if len(parts) > 1 else parts[0]

    return decode


class ChunkWriter:
    """Create gzip-compressed datasets with chunks encoded in worker threads.

    Datasets are created at once; their data are stored when the encoding
    finishes, at the latest on :meth:`flush` or when the writer closes. Read
    a dataset only after :meth:`flush`.

    Parameters
    ----------
    workers
        Number of encoding threads (default: the number of CPUs, at most 8).
    level
        Deflate level.
    shuffle, checksum
        Use the shuffle filter / Fletcher-32 checksums.
    max_pending
        Datasets whose data may wait in memory before the writer blocks.
    rle
        Deflate with zlib's run-length strategy (default). After the shuffle
        filter, numeric data are runs of equal high-order bytes next to
        noisy low-order bytes: matching only runs compresses noisy float
        images as well as the default strategy (measured: 0.82 vs 0.84 of
        the size) three times faster. The stream is ordinary deflate.

    Examples
    --------
    >>> import h5py, numpy as np
    >>> with h5py.File("doc.h5", "w", driver="core", backing_store=False) as h5:
    ...     with ChunkWriter(workers=2) as writer:
    ...         ds = writer.create_dataset(h5, "img", np.ones((8, 8), "f4"))
    ...     float(ds[3, 3]), ds.compression, ds.fletcher32
    (1.0, 'gzip', True)
    """

    def __init__(self, workers: int | None = None, level: int = DEFLATE_LEVEL,
                 shuffle: bool = True, checksum: bool = True,
                 max_pending: int | None = None, rle: bool = True) -> None:
        self.rle = rle
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.level = level
        self.shuffle = shuffle
        self.checksum = checksum
        self.max_pending = max_pending or 2 * self.workers + 2
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[h5py.Dataset, int, Future[list[bytes]]]] = deque()

    def create_dataset(self, group: h5py.Group, name: str, data: np.ndarray,
                       dtype: np.typing.DTypeLike | None = None) -> h5py.Dataset:
        """Create ``group[name]`` holding `data` (cast to `dtype`).

        Parameters
        ----------
        group
            Where to create the dataset (an existing `name` is replaced).
        name
            Dataset name.
        data
            Array with at least one dimension; chunked by whole rows.
        dtype
            Storage dtype (default: that of `data`).

        Returns
        -------
        h5py.Dataset
            The new dataset (filled once the writer has flushed).
        """
        arr = np.ascontiguousarray(data, dtype=dtype)
        if arr.ndim == 0 or arr.size == 0:
            raise ValueError(f"cannot store an empty or 0-d array as '{name}' "
                             f"(shape {arr.shape})")
        chunks = image_chunks(arr.shape, arr.dtype.itemsize)
        if name in group:
            del group[name]
        dset = group.create_dataset(
            name, shape=arr.shape, dtype=arr.dtype, chunks=chunks,
            compression="gzip", compression_opts=self.level,
            shuffle=self.shuffle and arr.dtype.itemsize > 1,
            fletcher32=self.checksum)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers,
                                            thread_name_prefix="cytolab-deflate")
        future = self._pool.submit(_encode_all, arr, chunks[0], self.level,
                                   self.shuffle and arr.dtype.itemsize > 1,
                                   self.checksum, self.rle)
        self._pending.append((dset, chunks[0], future))
        while len(self._pending) > self.max_pending:
            self._store_next()
        return dset

    def _store_next(self) -> None:
        dset, rows, future = self._pending.popleft()
        offset_tail = (0,) * (dset.ndim - 1)
        for index, payload in enumerate(future.result()):
            dset.id.write_direct_chunk((index * rows, *offset_tail), payload)

    def flush(self) -> None:
        """Store the data of all datasets created so far."""
        while self._pending:
            self._store_next()

    def close(self) -> None:
        """Flush and stop the worker threads."""
        try:
            self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            self._pending.clear()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:  # do not store data of a failed job; just stop the threads
            self._pending.clear()
            self.close()
