"""Lazy per-event arrays: ChunkedEventArray, RaggedEventArray, MappedEventArray."""
from __future__ import annotations

import math

import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from realdata import real_file

from cytolab.io import arrays
from cytolab.io.arrays import (
    ChunkedEventArray,
    EventArray,
    MappedEventArray,
    RaggedEventArray,
    get_mapped_object,
    get_mapping_indices,
)

N = 23
CHUNK = 5


class CountingProxy:
    """Array-like that forwards to `data` and counts the reads."""

    def __init__(self, data, chunks=None):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.chunks = chunks
        self.reads = []

    def __getitem__(self, idx):
        self.reads.append(idx)
        return self.data[idx]

    def __len__(self):
        return self.shape[0]


def _images(n=N, dtype=np.uint8):
    rng = np.random.default_rng(7)
    return rng.integers(0, 255, size=(n, 6, 9)).astype(dtype)


@pytest.fixture
def h5_images(tmp_path):
    """A chunked, compressed h5py dataset of N images (CHUNK per chunk)."""
    data = _images()
    h5 = h5py.File(tmp_path / "images.h5", "w")
    dset = h5.create_dataset("image", data=data, chunks=(CHUNK, 6, 9),
                             compression="gzip")
    yield dset, data
    h5.close()


INDICES = [
    0, 3, N - 1, -1, -N, np.int64(4), np.uint8(2),
    slice(None), slice(2, 9), slice(None, None, 3), slice(-5, None),
    slice(None, None, -1), slice(15, 3, -4), slice(7, 7), slice(20, 100),
    slice(-100, 2),
    [0, 4, 4, 1], [N - 1, 0], [-1, -2, 0], [], np.array([3, 3, 3]),
    np.arange(0, N, 2), np.array([6, 7, 8, 9], dtype=np.uint32),
]


def _bool_index():
    mask = np.zeros(N, dtype=bool)
    mask[[0, 5, 6, 11, N - 1]] = True
    return mask


# ChunkedEventArray -------------------------------------------------------------------
@pytest.mark.parametrize("idx", INDICES + [_bool_index(), np.zeros(N, bool)],
                         ids=repr)
@pytest.mark.parametrize("source", ["numpy", "h5py", "proxy"])
def test_chunked_indexing_equals_numpy(h5_images, idx, source):
    dset, data = h5_images
    src = {"numpy": data, "h5py": dset,
           "proxy": CountingProxy(data, chunks=(CHUNK, 6, 9))}[source]
    arr = ChunkedEventArray(src, chunk_size=CHUNK if source == "numpy" else None)
    expected = data[idx]
    got = arr[idx]
    assert isinstance(got, np.ndarray)
    assert got.dtype == data.dtype
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert not got.flags.writeable


def test_chunked_attributes(h5_images):
    dset, data = h5_images
    arr = ChunkedEventArray(dset)
    assert isinstance(arr, EventArray)
    assert len(arr) == N
    assert arr.shape == data.shape
    assert arr.dtype == data.dtype
    assert arr.ndim == 3
    assert arr.chunk_size == CHUNK
    assert np.array_equal(np.asarray(arr), data)
    assert np.asarray(arr, dtype=float).dtype == float
    assert all(np.array_equal(a, b) for a, b in zip(arr, data))
    assert sum(1 for _ in arr) == N


@pytest.mark.parametrize("idx", [N, -N - 1, 10**9, [0, N], [-N - 1],
                                 np.ones(N - 1, bool), np.ones(N + 1, bool)],
                         ids=repr)
def test_chunked_out_of_range(h5_images, idx):
    dset, _ = h5_images
    for arr in (ChunkedEventArray(dset), ChunkedEventArray(dset[()], chunk_size=4)):
        with pytest.raises(IndexError):
            arr[idx]


@pytest.mark.parametrize("idx", [1.5, "a", (0, 1), (slice(None), 0),
                                 np.array([0.0, 1.0])], ids=repr)
def test_chunked_unsupported_index(idx):
    # a tuple is not a list of events: arr[0, 1] must not give events 0 and 1
    arr = ChunkedEventArray(_images(), chunk_size=4)
    with pytest.raises(IndexError):
        arr[idx]


def test_chunked_boolean(h5_images):
    dset, data = h5_images
    mask_data = (data > 128).astype(np.uint8) * 255
    arr = ChunkedEventArray(mask_data, boolean=True, chunk_size=CHUNK)
    assert arr.dtype == bool
    for idx in (0, -1, slice(3, 12), [5, 1], _bool_index(), slice(4, 4)):
        got = arr[idx]
        assert got.dtype == bool
        assert np.array_equal(got, mask_data[idx].astype(bool))
        assert not got.flags.writeable


@pytest.mark.parametrize("n, chunk", [(N, CHUNK), (20, 5), (7, 10), (1, 4),
                                      (10, 3), (10, 2)])
def test_chunked_cache_reads_each_chunk_once(n, chunk):
    data = _images(n)
    proxy = CountingProxy(data, chunks=(chunk, 6, 9))
    arr = ChunkedEventArray(proxy)
    for ii in range(n):
        assert np.array_equal(arr[ii], data[ii])
    assert len(proxy.reads) == math.ceil(n / chunk)
    # reading backwards re-reads only what is not in the cache (2 chunks)
    proxy.reads.clear()
    for ii in reversed(range(n)):
        assert np.array_equal(arr[ii], data[ii])
    assert len(proxy.reads) == max(0, math.ceil(n / chunk) - 2)


def test_chunked_cache_is_lru():
    data = _images(30)
    proxy = CountingProxy(data, chunks=(10, 6, 9))
    arr = ChunkedEventArray(proxy, cache_chunks=2)
    for ii in (0, 15, 1, 16, 9, 19):  # chunks 0 and 1 stay cached
        arr[ii]
    assert len(proxy.reads) == 2
    arr[25]  # chunk 2 evicts chunk 0 (least recently used)
    arr[12]  # chunk 1 still cached
    assert len(proxy.reads) == 3
    arr[3]
    assert len(proxy.reads) == 4


def test_chunked_explicit_chunk_size_and_no_chunks():
    data = _images(12)
    proxy = CountingProxy(data, chunks=None)  # contiguous: no caching
    arr = ChunkedEventArray(proxy)
    assert arr.chunk_size == 1
    for ii in range(12):
        assert np.array_equal(arr[ii], data[ii])
    assert len(proxy.reads) == 12
    proxy = CountingProxy(data, chunks=None)
    arr = ChunkedEventArray(proxy, chunk_size=4)
    for ii in range(12):
        arr[ii]
    assert len(proxy.reads) == 3


def test_chunked_large_events_are_not_cached_whole(monkeypatch):
    # chunks larger than the limit are cut to as many events as fit
    data = _images(12)
    event_bytes = data[0].nbytes
    monkeypatch.setattr(arrays, "MAX_CACHED_CHUNK_BYTES", 3 * event_bytes)
    proxy = CountingProxy(data, chunks=(12, 6, 9))
    arr = ChunkedEventArray(proxy)
    assert arr.chunk_size == 3
    for ii in range(12):
        assert np.array_equal(arr[ii], data[ii])
    assert len(proxy.reads) == 4


def test_chunked_real_dataset(real_rtdc_files):
    path = real_file(real_rtdc_files, "example_video")  # 10 events, chunks of 3
    with h5py.File(path) as h5:
        dset = h5["events"]["image"]
        data = dset[()]
        n = len(data)
        chunk = dset.chunks[0]
        assert chunk < n  # several chunks
        proxy = CountingProxy(dset, chunks=dset.chunks)
        arr = ChunkedEventArray(proxy)
        for ii in range(n):
            assert np.array_equal(arr[ii], data[ii])
        assert len(proxy.reads) == math.ceil(n / chunk)
        arr = ChunkedEventArray(dset)
        for idx in (0, -1, slice(2, 8, 2), [9, 0, 4], data[:, 0, 0] > 0):
            assert np.array_equal(arr[idx], data[idx])
        mask = ChunkedEventArray(h5["events"]["mask"], boolean=True)
        assert len(mask) == len(h5["events"]["mask"])
        assert np.array_equal(mask[-1], h5["events"]["mask"][-1].astype(bool))


# RaggedEventArray ---------------------------------------------------------------------
@pytest.fixture
def contour_group(tmp_path):
    rng = np.random.default_rng(3)
    contours = [rng.integers(0, 100, size=(4 + ii, 2)).astype(np.uint16)
                for ii in range(8)]
    h5 = h5py.File(tmp_path / "contour.h5", "w")
    grp = h5.create_group("contour")
    for ii, cont in enumerate(contours):
        grp.create_dataset(str(ii), data=cont)
    yield grp, contours
    h5.close()


def test_ragged_indexing(contour_group):
    grp, contours = contour_group
    arr = RaggedEventArray(grp)
    assert isinstance(arr, EventArray)
    assert len(arr) == 8
    assert arr.shape[0] == 8
    assert np.array_equal(arr[0], contours[0])
    assert np.array_equal(arr[-1], contours[-1])
    assert np.array_equal(arr[np.int32(3)], contours[3])
    for idx, expected in ((slice(1, 6, 2), [1, 3, 5]), ([7, 0, 7], [7, 0, 7]),
                          (np.arange(8) % 3 == 0, [0, 3, 6]),
                          (slice(None, None, -1), list(range(7, -1, -1))),
                          (slice(5, 5), [])):
        got = arr[idx]
        assert isinstance(got, list)
        assert len(got) == len(expected)
        for item, ii in zip(got, expected):
            assert np.array_equal(item, contours[ii])
            assert item.dtype == np.uint16
    assert all(np.array_equal(a, b) for a, b in zip(arr, contours))


def test_ragged_errors_and_read_only(contour_group):
    grp, _ = contour_group
    arr = RaggedEventArray(grp)
    for idx in (8, -9, [0, 8], np.ones(7, bool), (0, 1)):
        with pytest.raises(IndexError):
            arr[idx]
    with pytest.raises(TypeError):
        np.asarray(arr)
    with pytest.raises(ValueError):
        arr[0][0, 0] = 1


def test_ragged_length_limits_events(contour_group):
    grp, contours = contour_group
    arr = RaggedEventArray(grp, length=5)
    assert len(arr) == 5
    assert np.array_equal(arr[-1], contours[4])
    with pytest.raises(IndexError):
        arr[5]


def test_ragged_real_contours(real_rtdc_files):
    path = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    with h5py.File(path) as h5:
        grp = h5["events"]["contour"]
        arr = RaggedEventArray(grp)
        assert len(arr) == len(grp)
        for ii in (0, len(grp) - 1):
            assert np.array_equal(arr[ii], grp[str(ii)][()])


# index mapping ------------------------------------------------------------------------
@pytest.mark.parametrize("mapping, size, expected", [
    (4, None, [0, 1, 2, 3]),
    (0, None, []),
    (slice(2, 5), None, [2, 3, 4]),
    (slice(None, 6, 2), None, [0, 2, 4]),
    (slice(1, None, 3), 10, [1, 4, 7]),
    (slice(-3, None), 10, [7, 8, 9]),
    (slice(None, None, -4), 10, [9, 5, 1]),
    ([5, 1, 1, 0], None, [5, 1, 1, 0]),
    ((3, 2), None, [3, 2]),
    (np.array([7, 2], dtype=np.int16), None, [7, 2]),
    (np.array([True, False, True, True]), None, [0, 2, 3]),
    (np.array([False, True]), 2, [1]),
    ([], None, []),
])
def test_get_mapping_indices(mapping, size, expected):
    got = get_mapping_indices(mapping, size=size)
    assert got.dtype == np.uint64
    assert got.ndim == 1
    assert got.tolist() == expected


def test_get_mapping_indices_none():
    assert get_mapping_indices(None) is None
    assert get_mapping_indices(None, size=5) is None


@pytest.mark.parametrize("mapping, size", [
    (slice(2, None), None),       # open slice without a size
    (slice(-3, None), None),
    (slice(None, -1), None),
    ([1, -1], None),              # negative index
    (np.array([[0, 1]]), None),   # 2-D
    (np.array([0.5, 1.0]), None),  # not integers
    (["a", "b"], None),
    (np.ones(3, bool), 5),        # boolean of the wrong length
])
def test_get_mapping_indices_errors(mapping, size):
    with pytest.raises(ValueError):
        get_mapping_indices(mapping, size=size)


def test_get_mapped_object_numpy():
    data = np.arange(10) * 1.5
    assert get_mapped_object(data) is data
    assert get_mapped_object(data, None) is data
    for mapping, idx in ((3, [0, 1, 2]), (slice(1, None, 4), [1, 5, 9]),
                         ([9, 0, 0], [9, 0, 0]),
                         (data > 10, np.flatnonzero(data > 10))):
        got = get_mapped_object(data, mapping)
        assert isinstance(got, np.ndarray)
        assert np.array_equal(got, data[idx])
        assert not got.flags.writeable
    copy = get_mapped_object(data, slice(None))
    assert not np.shares_memory(copy, data) or not copy.flags.writeable


def test_get_mapped_object_errors():
    data = np.arange(5)
    with pytest.raises(IndexError):
        get_mapped_object(data, [7])
    with pytest.raises(IndexError):
        get_mapped_object(ChunkedEventArray(_images(5), chunk_size=2), [5])
    with pytest.raises(ValueError):
        get_mapped_object(data, np.ones(3, bool))
    with pytest.raises(ValueError):
        get_mapped_object(data, [-1])


@pytest.mark.parametrize("mapping", [4, slice(1, None, 2), [9, 0, 3, 3],
                                     np.arange(N) % 3 == 1], ids=repr)
def test_mapped_event_array(h5_images, mapping):
    dset, data = h5_images
    indices = get_mapping_indices(mapping, size=N).astype(int)
    for src in (ChunkedEventArray(dset), ChunkedEventArray(data, chunk_size=4),
                dset):
        mapped = get_mapped_object(src, mapping) if src is not dset \
            else MappedEventArray(dset, get_mapping_indices(mapping, size=N))
        assert isinstance(mapped, MappedEventArray)
        assert len(mapped) == len(indices)
        assert mapped.shape == (len(indices),) + data.shape[1:]
        assert mapped.dtype == data.dtype
        expected = data[indices]
        assert np.array_equal(mapped[:], expected)
        assert np.array_equal(mapped[0], expected[0])
        assert np.array_equal(mapped[-1], expected[-1])
        sub = [len(indices) - 1, 0, 0]
        assert np.array_equal(mapped[sub], expected[sub])
        with pytest.raises(IndexError):
            mapped[len(indices)]


def test_mapped_event_array_of_ragged(contour_group):
    grp, contours = contour_group
    mapped = get_mapped_object(RaggedEventArray(grp), [6, 2, 2])
    assert isinstance(mapped, MappedEventArray)
    assert len(mapped) == 3
    assert np.array_equal(mapped[0], contours[6])
    got = mapped[1:]
    assert len(got) == 2
    assert all(np.array_equal(g, contours[2]) for g in got)


def test_mapped_event_array_validates_indices():
    with pytest.raises(IndexError, match="event 5"):
        MappedEventArray(np.arange(3), np.array([0, 5]))
    empty = MappedEventArray(np.arange(3), np.array([], dtype=np.uint64))
    assert len(empty) == 0
    assert empty[:].shape == (0,)


def test_chunked_dense_selection_reads_one_range():
    data = _images()
    proxy = CountingProxy(data, chunks=(CHUNK, 6, 9))
    arr = ChunkedEventArray(proxy)
    got = arr[[9, 2, 5, 3]]  # range 2..9 holds 8 events, 4 wanted: one read
    assert np.array_equal(got, data[[9, 2, 5, 3]])
    assert proxy.reads == [slice(2, 10)]
    proxy.reads.clear()
    got = arr[[0, N - 1]]  # sparse: only the wanted events are read
    assert np.array_equal(got, data[[0, N - 1]])
    assert len(proxy.reads) == 1 and list(proxy.reads[0]) == [0, N - 1]


def test_chunked_length_and_as_stored():
    masks = (_images() > 128).astype(np.uint8) * 255
    arr = ChunkedEventArray(masks, boolean=True, chunk_size=CHUNK, length=10)
    assert len(arr) == 10 and arr.shape == (10, 6, 9)
    stored = arr.as_stored()
    assert stored.dtype == np.uint8 and len(stored) == 10
    assert np.array_equal(stored[:], masks[:10])
    assert np.array_equal(arr[:], masks[:10].astype(bool))
    assert stored.as_stored() is stored
    with pytest.raises(IndexError):
        stored[10]
