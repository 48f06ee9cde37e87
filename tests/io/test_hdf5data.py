"""HDF5Data and its image caches: the dcnum-style reader of the io layer.

The files are written with HDF5Writer (and plain h5py where a layout must be
exact), with event values that encode the event index, so that every check
of an index mapping or a basin mapping is an exact comparison.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import io
import multiprocessing
import pickle
import shutil
import warnings

import h5py
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.errors import (
    BasinIdentifierMismatchError,
    BasinNotAvailableError,
    BasinUnavailableWarning,
    FeatureNotAvailableError,
    FileFormatError,
)
from cytolab.io import (
    HDF5Data,
    HDF5ImageCache,
    HDF5Writer,
    ImageCorrCache,
    get_mapped_object,
    get_measurement_identifier,
)
from cytolab.io.hdf5data import PROTECTED_FEATURES

NUM = 20
META = {"experiment:date": "2024-05-06", "experiment:time": "10:11:12",
        "setup:identifier": "setup-A", "imaging:pixel size": 0.34,
        "experiment:event count": NUM, "setup:flow rate": 0.06}
#: identifier of META (experiment:time/date + setup:identifier)
MID = get_measurement_identifier({"experiment": {"date": "2024-05-06",
                                                 "time": "10:11:12"},
                                  "setup": {"identifier": "setup-A"}})


def images(num: int = NUM, offset: int = 0) -> np.ndarray:
    """uint8 frames whose pixel (0, 0) is the event index (+ offset)."""
    data = np.zeros((num, 6, 8), dtype=np.uint8)
    data += (np.arange(num, dtype=np.uint8) + offset)[:, None, None]
    data[:, 1, :] = 200
    return data


def masks(num: int = NUM) -> np.ndarray:
    data = np.zeros((num, 6, 8), dtype=bool)
    for ii in range(num):
        data[ii, 2:4, : ii % 8 + 1] = True
    return data


def write_measurement(path, num: int = NUM, meta=None, offset: int = 0,
                      extra=None):
    """A measurement: scalars and images encode the event index."""
    with HDF5Writer(path, mode="w") as hw:
        for key, value in (meta or META).items():
            hw.h5.attrs[key] = value
        hw.store_feature_chunk("deform", np.arange(num) / 100 + offset)
        hw.store_feature_chunk("frame", np.arange(num, dtype=np.uint64) * 2 + 1)
        hw.store_feature_chunk("time", np.arange(num) * 0.5)
        hw.store_feature_chunk("image", images(num, offset))
        hw.store_feature_chunk("image_bg", np.full((num, 6, 8), 3, np.uint8))
        hw.store_feature_chunk("mask", masks(num))
        for key, value in (extra or {}).items():
            hw.store_feature_chunk(key, value)
        hw.store_log("acquisition", ["line one", "line two"])
        hw.store_table("monitor", {"brightness": np.array([1.0, 2.0])})
    return path


@pytest.fixture
def measurement(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    return write_measurement(folder / "raw.rtdc")


# basics ----------------------------------------------------------------------


def test_basics(measurement):
    with HDF5Data(measurement) as data:
        assert len(data) == NUM
        assert data.keys() == ["deform", "frame", "image", "image_bg", "mask",
                               "time"]
        assert "deform" in data and "area_um" not in data and 3 not in data
        assert list(data) == data.keys()
        assert data.path == measurement.resolve()
        assert isinstance(data.h5, h5py.File)
        assert data.pixel_size == 0.34
        assert data.meta["setup:flow rate"] == 0.06
        assert data.meta_nest["experiment"] == {"date": "2024-05-06",
                                                "time": "10:11:12",
                                                "event count": NUM}
        assert data.logs == {"acquisition": ["line one", "line two"]}
        assert data.tables["monitor"]["brightness"].tolist() == [1.0, 2.0]
        assert data.basins == []
        assert data.index_mapping is None
        assert data.features_scalar_frame == ["frame", "time"]
        deform = data["deform"]
        assert isinstance(deform, np.ndarray) and not deform.flags.writeable
        assert np.array_equal(deform, np.arange(NUM) / 100)
        assert data["deform"] is deform  # cached
        assert isinstance(data["image"], HDF5ImageCache)
        assert data["image"] is data.image
        assert data.image.shape == (NUM, 6, 8)
        assert data.image[7][0, 0] == 7
        assert data.mask.boolean and data.mask[5].dtype == bool
        assert np.array_equal(data.mask[5], masks()[5])
        assert isinstance(data.image_corr, ImageCorrCache)
        assert data.image_corr[4][0, 0] == 4 - 3
        assert data.image_corr[4].dtype == np.int16
        with pytest.raises(FeatureNotAvailableError, match="area_um"):
            data["area_um"]
        assert repr(data).endswith(f"with {NUM} events>")
    assert not data.h5.id.valid  # closed by the context manager


def test_protected_features():
    assert PROTECTED_FEATURES == ["bg_off", "flow_rate", "frame", "g_force",
                                  "pressure", "temp", "temp_amb", "time"]


def test_md5_5m_and_identifier(measurement):
    with HDF5Data(measurement) as data:
        expected = hashlib.md5(measurement.read_bytes()[:5 * 1024**2]).hexdigest()
        assert data.md5_5m == expected
        assert get_measurement_identifier(data.h5) == MID
    assert HDF5Data(measurement, md5_5m="abc").md5_5m == "abc"


def test_md5_5m_of_large_file_hashes_first_5_mib(tmp_path):
    path = tmp_path / "big.rtdc"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/deform", data=np.random.default_rng(1)
                          .random(1_000_000))  # 8 MB, stored uncompressed
    raw = path.read_bytes()
    assert len(raw) > 5 * 1024**2
    with HDF5Data(path) as data:
        assert data.md5_5m == hashlib.md5(raw[:5 * 1024**2]).hexdigest()
        assert data.md5_5m != hashlib.md5(raw).hexdigest()


def test_arguments_override_file(measurement):
    with HDF5Data(measurement, pixel_size=0.5, meta={"imaging": {"pixel size": 1},
                                                     "experiment": {"sample": "x"}},
                  logs={"mine": ["a"]}, tables={}, basins=[]) as data:
        assert data.pixel_size == 0.5  # pixel_size wins over meta
        assert data.meta == {"imaging:pixel size": 0.5, "experiment:sample": "x"}
        assert data.logs == {"mine": ["a"]} and data.tables == {}
        data.pixel_size = 0.25
        assert data.meta["imaging:pixel size"] == 0.25


def test_opened_from_h5py_file_and_file_object(measurement):
    with h5py.File(measurement) as h5:
        with HDF5Data(h5) as data:
            assert data.path == measurement.resolve()
            assert data["deform"][3] == 0.03
        assert h5.id.valid  # a file passed in stays open
    with open(measurement, "rb") as fd:
        with HDF5Data(fd) as data:
            assert data.image[2][0, 0] == 2
            assert data.md5_5m == hashlib.md5(
                measurement.read_bytes()[:5 * 1024**2]).hexdigest()


def test_in_memory_file():
    fd = io.BytesIO()
    write_measurement(fd)
    with HDF5Data(fd) as data:
        assert data.path is None
        assert len(data) == NUM and data.image[3][0, 0] == 3
        assert len(data.md5_5m) == 32
    core = h5py.File("mem.rtdc", "w", driver="core", backing_store=False)
    core.create_dataset("events/deform", data=[1.0, 2.0])
    data = HDF5Data(core)
    assert data.path is None and len(data.md5_5m) == 32
    core.close()


def test_length_from_scalar_features(tmp_path):
    """A longer image stack is trimmed; a shorter feature is ignored."""
    path = tmp_path / "m.rtdc"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("events/deform", data=np.arange(5.0))
        h5.create_dataset("events/area_um", data=np.arange(5.0))
        h5.create_dataset("events/image", data=images(8))
        h5.create_dataset("events/pos_x", data=np.arange(3.0))
    with pytest.warns(cytolab.errors.BadFeatureSizeWarning, match="pos_x"):
        data = HDF5Data(path)
    with data:
        assert len(data) == 5
        assert "pos_x" not in data
        assert data.image.shape == (5, 6, 8)
        assert np.array_equal(data.image[:], images(5))


def test_contour_and_trace(tmp_path):
    path = tmp_path / "m.rtdc"
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", np.arange(4.0))
        hw.store_ragged("contour", [np.full((ii + 3, 2), ii) for ii in range(4)])
        hw.store_feature_chunk("fl1_raw", np.arange(40).reshape(4, 10),
                               group_name="events/trace")
    with HDF5Data(path, index_mapping=[3, 1]) as data:
        assert data["contour"][0].shape == (6, 2) and data["contour"][1][0, 0] == 1
        assert np.array_equal(data["trace"]["fl1_raw"][1], np.arange(10, 20))


# index mapping ---------------------------------------------------------------


MAPPINGS = {
    "int": (7, np.arange(7)),
    "int-larger-than-data": (100, np.arange(NUM)),
    "slice": (slice(2, 15, 3), np.arange(2, 15, 3)),
    "slice-open": (slice(None, None, -4), np.arange(NUM)[::-4]),
    "list": ([5, 0, 19, 5], np.array([5, 0, 19, 5])),
    "array": (np.array([18, 2, 3, 11]), np.array([18, 2, 3, 11])),
    "bool": (np.arange(NUM) % 3 == 0, np.arange(0, NUM, 3)),
}


@pytest.mark.parametrize("name", MAPPINGS)
def test_index_mapping(measurement, name):
    mapping, expected = MAPPINGS[name]
    with HDF5Data(measurement, index_mapping=mapping, image_chunk_size=3) as data:
        assert len(data) == len(expected)
        assert np.array_equal(data["deform"], expected / 100)
        assert np.array_equal(data["frame"], expected * 2 + 1)
        assert data.image.shape == (len(expected), 6, 8)
        # through the cache (int) and in one read (slice)
        assert [data.image[ii][0, 0] for ii in range(len(data))] == expected.tolist()
        assert np.array_equal(data.image[:], images()[expected])
        assert np.array_equal(data.image[1:3], images()[expected[1:3]])
        assert np.array_equal(data.mask[:], masks()[expected])
        assert np.array_equal(data.mask[len(data) - 1], masks()[expected[-1]])
        assert np.array_equal(data.image_corr[:],
                              images()[expected].astype(np.int16) - 3)
        assert data.image_corr[0][0, 0] == expected[0] - 3
        assert data.image_num_chunks == -(-len(expected) // 3)
        assert data.index_mapping is mapping


@pytest.mark.parametrize("mapping", [[0, NUM], [-1], np.array([[1, 2]]),
                                     np.array([0.5])])
def test_index_mapping_invalid(measurement, mapping):
    with pytest.raises(ValueError, match="raw.rtdc|index"):
        HDF5Data(measurement, index_mapping=mapping)


# image caches ----------------------------------------------------------------


class CountingArray:
    """Array-like that counts its reads (stands in for an h5py dataset)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads: list = []

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, sel):
        self.reads.append(sel)
        return self.data[sel]


def test_image_cache_chunks_and_lru():
    source = CountingArray(images(NUM))
    cache = HDF5ImageCache(source, chunk_size=6, cache_size=2)
    assert (len(cache), cache.shape, cache.chunk_size, cache.cache_size) == \
        (NUM, (NUM, 6, 8), 6, 2)
    assert cache.h5ds is source and cache.boolean is False
    assert cache.num_chunks == 4
    assert [cache.get_chunk_slice(ii) for ii in (0, 3)] == [slice(0, 6), slice(18, 20)]
    assert [cache[ii][0, 0] for ii in range(6)] == list(range(6))
    assert source.reads == [slice(0, 6)]  # one chunk read for six images
    cache[7], cache[13], cache[0]
    assert len(source.reads) == 4  # chunk 0 was evicted (LRU of two)
    assert np.array_equal(cache.get_chunk(3), images(NUM)[18:])
    with pytest.raises(IndexError):
        cache.get_chunk(4)
    assert not cache[2].flags.writeable


def test_image_cache_slice_is_one_read():
    source = CountingArray(images(NUM))
    cache = HDF5ImageCache(source, chunk_size=4)
    block = cache[3:17]
    assert np.array_equal(block, images(NUM)[3:17])
    assert source.reads == [slice(3, 17)]


def test_image_cache_mapped_slice_is_one_sorted_read():
    source = CountingArray(images(NUM))
    indices = np.array([15, 2, 9, 9, 4, 18])
    cache = HDF5ImageCache(get_mapped_object(source, indices), chunk_size=100)
    assert np.array_equal(cache[1:5], images(NUM)[indices[1:5]])
    assert len(source.reads) == 1
    assert np.array_equal(cache[:], images(NUM)[indices])
    assert len(source.reads) == 2
    assert cache[0][0, 0] == 15  # through the LRU: one more read of the block
    assert cache[5][0, 0] == 18
    assert len(source.reads) == 3


def test_image_cache_on_h5py_dataset_mapped_and_bool(measurement):
    with h5py.File(measurement) as h5:
        mapped = get_mapped_object(h5["events/mask"], [4, 1])
        cache = HDF5ImageCache(mapped, chunk_size=1000, boolean=True)
        assert cache.chunk_size == 2  # never more than the events
        assert cache[0].dtype == bool
        assert np.array_equal(cache[:], masks()[[4, 1]])


def test_image_corr_cache_shapes():
    with pytest.raises(ValueError, match="shape"):
        ImageCorrCache(images(3), images(4))
    corr = ImageCorrCache(HDF5ImageCache(images(10), chunk_size=4),
                          np.full((10, 6, 8), 250, np.uint8))
    assert corr.chunk_size == 4 and corr.num_chunks == 3
    assert np.array_equal(corr.get_chunk(2)[:, 0, 0], [8 - 250, 9 - 250])
    assert corr[::3][:, 1, 0].tolist() == [200 - 250] * 4


# pickling --------------------------------------------------------------------


def test_pickle_round_trip(measurement):
    with HDF5Data(measurement, pixel_size=0.5, index_mapping=[3, 1],
                  image_chunk_size=7, image_cache_size=3) as data:
        md5 = data.md5_5m
        clone = pickle.loads(pickle.dumps(data))
    with clone:
        assert clone.pixel_size == 0.5
        assert clone.index_mapping == [3, 1]
        assert clone.image_chunk_size == 7 and clone.image_cache_size == 3
        assert np.array_equal(clone["deform"], [0.03, 0.01])
        assert clone.image[0][0, 0] == 3
        assert clone.logs == {"acquisition": ["line one", "line two"]}
        assert clone.md5_5m == md5


def _worker_read(data: HDF5Data) -> tuple[int, list[float], list[int]]:
    """Runs in a worker process: read scalars and images."""
    with data:
        return len(data), data["deform"].tolist(), \
            data.image_corr[:][:, 0, 0].tolist()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_pickle_into_worker_process(measurement, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"start method {method!r} not available")
    data = HDF5Data(measurement, index_mapping=slice(5, 9))
    ctx = multiprocessing.get_context(method)
    with data, concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert pool.submit(len, data).result() == 4
        num, deform, corr = pool.submit(_worker_read, data).result()
    assert num == 4
    assert deform == [0.05, 0.06, 0.07, 0.08]
    assert corr == [5 - 3, 6 - 3, 7 - 3, 8 - 3]


def test_pickle_from_h5py_file_on_disk(measurement):
    with h5py.File(measurement) as h5:
        clone = pickle.loads(pickle.dumps(HDF5Data(h5)))
    with clone:
        assert clone["deform"][2] == 0.02


def test_pickle_in_memory_is_clear_error():
    fd = io.BytesIO()
    write_measurement(fd)
    with HDF5Data(fd) as data:
        with pytest.raises(pickle.PicklingError, match="in-memory|file object"):
            pickle.dumps(data)


# basins ----------------------------------------------------------------------


def write_derived(path, basin_paths, num: int = NUM, mapping=None,
                  identifier=None, meta=None):
    with HDF5Writer(path, mode="w") as hw:
        for key, value in (meta or META).items():
            hw.h5.attrs[key] = value
        nev = num if mapping is None else len(mapping)
        hw.h5.attrs["experiment:event count"] = nev
        hw.store_feature_chunk("userdef1", np.arange(nev) * 10.0)
        hw.store_basin("raw data", paths=basin_paths, mapping=mapping,
                       identifier=identifier)
    return path


@pytest.mark.parametrize("relative", [True, False])
def test_file_basin(measurement, relative):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["raw.rtdc" if relative else str(measurement)],
                  identifier=MID)
    with HDF5Data(out) as data:
        assert data.keys() == ["deform", "frame", "image", "image_bg", "mask",
                               "time", "userdef1"]
        assert np.array_equal(data["deform"], np.arange(NUM) / 100)
        assert data.image[11][0, 0] == 11
        assert data.features_scalar_frame == ["frame", "time"]
        group, feats, mapping = data.get_basin_data(0)
        assert group.name == "/events" and group.file.filename == str(measurement)
        assert feats == ["deform", "frame", "image", "image_bg", "mask", "time"]
        assert mapping is None


def test_file_basin_relative_to_referrer_not_cwd(measurement, tmp_path,
                                                 monkeypatch):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["raw.rtdc"])
    monkeypatch.chdir(tmp_path)  # "raw.rtdc" is not in the working directory
    with HDF5Data(out) as data:
        assert data["deform"][4] == 0.04


def test_file_basin_tries_each_path(measurement):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["/nonexistent/raw.rtdc", "missing.rtdc", "raw.rtdc"])
    with HDF5Data(out) as data:
        assert data["frame"][2] == 5


def test_file_basin_missing_is_skipped_with_warning(measurement):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["gone.rtdc"])
    with HDF5Data(out) as data:
        with pytest.warns(BasinUnavailableWarning, match="gone.rtdc"):
            assert "deform" not in data
        assert data.keys() == ["userdef1"]
        with pytest.raises(BasinNotAvailableError, match="gone.rtdc"):
            data.get_basin_data(0)
        with pytest.raises(FeatureNotAvailableError):
            data["deform"]


def test_file_basin_identifier_mismatch(measurement):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["raw.rtdc"], identifier="another-measurement")
    with HDF5Data(out) as data:
        assert data["userdef1"][1] == 10  # own features still work
        with pytest.raises(BasinIdentifierMismatchError, match="another-measure"):
            data["deform"]
        with pytest.raises(BasinIdentifierMismatchError):
            data.get_basin_data(0)
    # without identifier in the definition, the referrer's own is expected
    meta = dict(META, **{"setup:identifier": "setup-B"})
    write_derived(out, ["raw.rtdc"], meta=meta)
    with HDF5Data(out) as data, pytest.raises(BasinIdentifierMismatchError):
        data["image"]


def test_mapped_file_basin(measurement):
    out = measurement.parent / "derived.rtdc"
    bmap = np.array([1, 3, 5, 7, 18, 19])
    write_derived(out, ["raw.rtdc"], mapping=bmap)
    with HDF5Data(out) as data:
        assert len(data) == 6
        assert np.array_equal(data["deform"], bmap / 100)
        assert [data.image[ii][0, 0] for ii in range(6)] == bmap.tolist()
        assert np.array_equal(data.mask[:], masks()[bmap])
        assert np.array_equal(data.get_basin_data(0)[2], bmap)
    with HDF5Data(out, index_mapping=slice(1, None, 2)) as data:
        expected = bmap[1::2]
        assert np.array_equal(data["userdef1"], [10.0, 30.0, 50.0])
        assert np.array_equal(data["deform"], expected / 100)
        assert np.array_equal(data.image[:][:, 0, 0], expected)
        assert np.array_equal(data.get_basin_data(0)[2], expected)


def test_internal_basin_with_mapping(tmp_path):
    path = tmp_path / "m.rtdc"
    backgrounds = np.stack([np.full((6, 8), 10 * (ii + 1), np.uint8)
                            for ii in range(3)])
    bmap = np.repeat([0, 1, 2], [8, 8, 4])
    with HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("image", images())
        hw.store_feature_chunk("frame", np.arange(NUM, dtype=np.uint64))
        hw.store_basin("background", internal_data={"image_bg": backgrounds},
                       mapping=bmap)
    with HDF5Data(path) as data:
        assert data.basins[0]["type"] == "internal"
        assert "image_bg" in data and "image_bg" in data.keys()
        assert np.array_equal(data.image_bg[:], backgrounds[bmap])
        assert data.image_bg[9][0, 0] == 20
        assert np.array_equal(data.image_corr[17], images()[17].astype(np.int16)
                              - 30)
        group, feats, mapping = data.get_basin_data(0)
        assert group.name == "/basin_events" and feats == ["image_bg"]
    with HDF5Data(path, index_mapping=[19, 0, 8]) as data:
        assert data.image_bg[:][:, 0, 0].tolist() == [30, 10, 20]
        assert data.get_image_cache("image_bg")[0][0, 0] == 30
        assert data.get_image_cache("qpi_oah") is None


def test_extract_basin_dicts_check(measurement):
    out = measurement.parent / "derived.rtdc"
    write_derived(out, ["raw.rtdc"])
    with HDF5Writer(out) as hw:
        hw.store_basin_dict({"name": "remote", "type": "remote", "format": "http",
                             "urls": ["https://example.com/a.rtdc"]})
        hw.store_basin_dict({"name": "mapped", "type": "file", "format": "hdf5",
                             "paths": ["raw.rtdc"], "mapping": "basinmap7"})
    with h5py.File(out) as h5:
        assert len(HDF5Data.extract_basin_dicts(h5, check=False)) == 3
        with pytest.warns(BasinUnavailableWarning, match="basinmap7"):
            kept = HDF5Data.extract_basin_dicts(h5)
        assert [b["name"] for b in kept] == ["raw data"]


# pipeline identifiers --------------------------------------------------------


@pytest.mark.parametrize("mapping, part", [
    (None, "0"), (100, "100"), (slice(10, None, 2), "s_10_n_2"),
    (slice(None, 50), "s_n_50_n")])
def test_ppid_round_trip(measurement, mapping, part):
    with HDF5Data(measurement, index_mapping=mapping) as data:
        ppid = data.get_ppid()
    assert ppid == f"hdf:p=0.34^i={part}"
    assert HDF5Data.get_ppid_code() == "hdf"
    assert HDF5Data.get_ppid_index_mapping(mapping) == part
    assert HDF5Data.get_ppkw_from_ppid(ppid) == {"pixel_size": 0.34,
                                                 "index_mapping": mapping}
    assert HDF5Data.get_ppid_from_ppkw(HDF5Data.get_ppkw_from_ppid(ppid)) == ppid


def test_ppid_pixel_size_rounding_and_errors():
    kw = {"pixel_size": np.float32(0.34), "index_mapping": None}
    assert HDF5Data.get_ppid_from_ppkw(kw) == "hdf:p=0.34^i=0"
    assert HDF5Data.get_ppkw_from_ppid("hdf:p=none^i=0")["pixel_size"] is None
    ppid = HDF5Data.get_ppid_from_ppkw({"pixel_size": 0.34,
                                        "index_mapping": [3, 1]})
    assert ppid.startswith("hdf:p=0.34^i=h") and len(ppid) == len("hdf:p=0.34^i=") + 9
    with pytest.raises(ValueError, match="cannot be recovered"):
        HDF5Data.get_ppkw_from_ppid(ppid)
    with pytest.raises(ValueError, match="Not a data pipeline identifier"):
        HDF5Data.get_ppkw_from_ppid("sparsemed:k=200")


# bad input -------------------------------------------------------------------


def test_bad_input(tmp_path, measurement):
    with pytest.raises(FileFormatError, match="missing.rtdc"):
        HDF5Data(tmp_path / "missing.rtdc")
    text = tmp_path / "notes.rtdc"
    text.write_text("not HDF5")
    with pytest.raises(FileFormatError, match="notes.rtdc"):
        HDF5Data(text)
    truncated = tmp_path / "truncated.rtdc"
    truncated.write_bytes(measurement.read_bytes()[:3000])
    with pytest.raises(FileFormatError, match="truncated.rtdc"):
        HDF5Data(truncated)
    no_events = tmp_path / "no_events.rtdc"
    with h5py.File(no_events, "w") as h5:
        h5.create_dataset("logs/x", data=[b"a"])
    with pytest.raises(FileFormatError, match="no_events.rtdc.*events"):
        HDF5Data(no_events)
    with pytest.raises(ValueError, match="image_chunk_size"):
        HDF5Data(measurement, image_chunk_size=0)


def test_damaged_image_chunk_names_file(tmp_path):
    path = tmp_path / "damaged.rtdc"
    write_measurement(path, num=200)
    with h5py.File(path) as h5:
        offset = h5["events/image"].id.get_chunk_info(0).byte_offset
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))
    with HDF5Data(path) as data:
        with pytest.raises(FileFormatError, match="damaged.rtdc"):
            data.image[0]


# real files ------------------------------------------------------------------


REAL = ["fmt-hdf5_cytoshot_full-features_2023", "fmt-hdf5_image-bg_2020",
        "fmt-hdf5_fl_2018", "fmt-hdf5_mask-contour_2018",
        "fmt-hdf5_raw-cytoshot-exported", "example_video", "example_traces"]


def test_real_full_features(real_rtdc_files):
    path = real_file(real_rtdc_files, "fmt-hdf5_cytoshot_full-features_2023")
    with HDF5Data(path) as data:
        assert len(data) == 40
        assert data.pixel_size == 0.2645
        assert data.meta["experiment:date"] == "2022-04-21"
        assert data.meta_nest["setup"]["identifier"] == \
            "RC-0115-mock-mock-mock-win-a92d"
        assert get_measurement_identifier(data.h5) == \
            "d5a40aed-0b6c-0412-e87c-59789fdd28d0"
        assert data.md5_5m == hashlib.md5(path.read_bytes()[:5 * 1024**2]
                                          ).hexdigest()
        assert data.image.shape == (40, 80, 400)
        assert data.features_scalar_frame == ["frame", "time"]
        with h5py.File(path) as h5:
            assert np.array_equal(data["deform"], h5["events/deform"][:])
            assert np.array_equal(data.image[17], h5["events/image"][17])
            assert np.array_equal(data.image_bg[3:9], h5["events/image_bg"][3:9])
            assert np.array_equal(data.mask[39], h5["events/mask"][39] > 0)
        assert data.get_ppid() == "hdf:p=0.2645^i=0"


@pytest.mark.parametrize("name", REAL)
def test_real_identifier_and_features_agree_with_dataset_api(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cytolab.new_dataset(path)
    with ds, HDF5Data(path, index_mapping=slice(0, None, 2)) as data:
        assert get_measurement_identifier(data.h5) == \
            ds.get_measurement_identifier()
        assert len(data) == (len(ds) + 1) // 2
        assert set(ds.features_innate) <= set(data.keys()) | {"time", "volume"}
        assert np.array_equal(data["frame"], ds["frame"][::2])
        if "image" in ds:
            assert np.array_equal(data.image[:], np.asarray(ds["image"])[::2])


def test_real_file_copied_elsewhere_as_basin(real_rtdc_files, tmp_path):
    path = real_file(real_rtdc_files, "fmt-hdf5_image-bg_2020")
    shutil.copy(path, tmp_path / "raw.rtdc")
    with h5py.File(path) as h5:
        mid = get_measurement_identifier(h5)
    out = tmp_path / "derived.rtdc"
    with HDF5Writer(out, mode="w") as hw, h5py.File(path) as h5:
        for key, value in h5.attrs.items():
            hw.h5.attrs[key] = value
        hw.store_feature_chunk("userdef1", np.arange(5.0))
        hw.store_basin("raw", paths=["raw.rtdc"], mapping=np.array([4, 0]),
                       identifier=mid)
    with HDF5Data(out) as data, h5py.File(path) as h5:
        assert np.array_equal(data.image_bg[:], h5["events/image_bg"][:][[4, 0]])
        assert np.array_equal(data["deform"], h5["events/deform"][:][[4, 0]])


# dcnum-style module ----------------------------------------------------------


def test_cytolab_read_module():
    import cytolab.read as read

    assert cytolab.read is read
    assert read.HDF5Data is HDF5Data and read.HDF5ImageCache is HDF5ImageCache
    assert read.PROTECTED_FEATURES is PROTECTED_FEATURES
    assert read.BasinIdentifierMismatchError is BasinIdentifierMismatchError
    for name in read.__all__:
        assert getattr(read, name) is getattr(cytolab.io, name, None) or \
            name == "BasinIdentifierMismatchError"
