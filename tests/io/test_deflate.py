"""Chunks encoded in Python threads must be byte-identical to HDF5's own."""
import threading

import h5py
import numpy as np
import pytest

from cytolab.io.deflate import ChunkWriter, encode_chunk, fletcher32, image_chunks


@pytest.mark.parametrize("shape,dtype,shuffle,level", [
    ((100, 130), "f4", True, 4),
    ((33, 17), "u1", False, 9),
    ((64, 64), "f8", True, 1),
    ((7,), "i2", True, 6),
    ((700, 700), "f4", True, 4),  # > 65536 checksum words: several blocks
])
def test_encode_chunk_equals_hdf5(tmp_path, shape, dtype, shuffle, level):
    rng = np.random.default_rng(1)
    data = (rng.standard_normal(shape) * 50).astype(dtype)
    with h5py.File(tmp_path / "ref.h5", "w") as h5:
        dset = h5.create_dataset("x", data=data, chunks=shape, compression="gzip",
                                 compression_opts=level, shuffle=shuffle,
                                 fletcher32=True)
        _, stored = dset.id.read_direct_chunk((0,) * len(shape))
    assert encode_chunk(data, level, shuffle, True) == stored


@pytest.mark.parametrize("payload", [
    np.full(70000, 0xFF, np.uint8),  # all words 0xffff: folded sums are 65535
    np.arange(1001, dtype=np.uint16).astype(np.uint8),  # odd byte count
    np.zeros(10, np.uint8),
    np.random.default_rng(3).integers(0, 256, 300_001, dtype=np.uint8),
])
def test_fletcher32_equals_hdf5(tmp_path, payload):
    """Checksum-only datasets store the raw bytes plus HDF5's checksum."""
    with h5py.File(tmp_path / "ref.h5", "w") as h5:
        dset = h5.create_dataset("x", data=payload, chunks=payload.shape,
                                 fletcher32=True)
        _, stored = dset.id.read_direct_chunk((0,))
    assert stored[:-4] == payload.tobytes()
    assert int.from_bytes(stored[-4:], "little") == fletcher32(payload.tobytes())


def test_fletcher32_detects_corruption():
    data = bytes(range(200))
    assert fletcher32(data) != fletcher32(data[:50] + b"\x00" + data[51:])


def test_image_chunks():
    assert image_chunks((512, 512), 4) == (512, 512)
    assert image_chunks((3000, 1000), 4) == (262, 1000)
    assert image_chunks((10, 20, 30), 1) == (10, 20, 30)
    with pytest.raises(ValueError, match="empty"):
        image_chunks((0, 5), 4)


def test_chunk_writer_round_trip_and_filters(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.normal(100, 10, (300, 257)).astype("f4") for _ in range(7)]
    images.append(rng.integers(0, 4000, (1100, 600)).astype("u2"))  # 2 chunks + edge
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as h5, ChunkWriter(workers=2, max_pending=2) as writer:
        for index, image in enumerate(images):
            writer.create_dataset(h5, f"img{index}", image)
    with h5py.File(path, "r") as h5:
        for index, image in enumerate(images):
            dset = h5[f"img{index}"]
            assert dset.compression == "gzip" and dset.compression_opts == 4
            assert dset.fletcher32 and dset.shuffle
            assert dset.dtype == image.dtype
            np.testing.assert_array_equal(dset[...], image)
        assert h5["img7"].chunks == (873, 600)


def test_chunk_writer_casts_and_replaces(tmp_path):
    with h5py.File(tmp_path / "w.h5", "w") as h5:
        with ChunkWriter(workers=1) as writer:
            writer.create_dataset(h5, "x", np.arange(12.0).reshape(3, 4))
            writer.create_dataset(h5, "x", np.ones((2, 2)), dtype="f4")
        assert h5["x"].dtype == np.float32 and h5["x"][...].tolist() == [[1, 1], [1, 1]]
        with pytest.raises(ValueError, match="empty"):
            ChunkWriter().create_dataset(h5, "y", np.zeros((0, 3)))


def test_chunk_writer_encodes_off_the_main_thread(tmp_path, monkeypatch):
    import cytolab.io.deflate as deflate
    threads = set()
    original = deflate.encode_chunk

    def spy(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(deflate, "encode_chunk", spy)
    with h5py.File(tmp_path / "w.h5", "w") as h5, ChunkWriter(workers=2) as writer:
        for index in range(6):
            writer.create_dataset(h5, f"x{index}", np.full((50, 50), index, "f4"))
    assert threads and all(name.startswith("cytolab-deflate") for name in threads)


def test_chunk_writer_failed_block_stores_nothing_pending(tmp_path):
    with h5py.File(tmp_path / "w.h5", "w") as h5:
        with pytest.raises(RuntimeError, match="boom"):
            with ChunkWriter(workers=1, max_pending=100) as writer:
                writer.create_dataset(h5, "x", np.ones((4, 4), "f4"))
                raise RuntimeError("boom")
        # dataset exists but was never filled: reads return the fill value
        assert h5["x"][...].sum() == 0


def test_direct_reader_round_trip_and_checksum(tmp_path):
    from cytolab.io.deflate import decode_chunk, direct_reader

    rng = np.random.default_rng(2)
    image = rng.normal(0, 1, (1100, 600)).astype("f4")  # two chunks plus an edge
    with h5py.File(tmp_path / "d.h5", "w") as h5:
        with ChunkWriter() as writer:
            writer.create_dataset(h5, "a", image)
        h5.create_dataset("lzf", data=image, chunks=(100, 600), compression="lzf")
        h5.create_dataset("tiles", data=image, chunks=(100, 100), compression="gzip")
        np.testing.assert_array_equal(direct_reader(h5["a"])(), image)
        assert direct_reader(h5["lzf"]) is None and direct_reader(h5["tiles"]) is None
    payload = encode_chunk(image[:10], shuffle=True, checksum=True)
    np.testing.assert_array_equal(decode_chunk(payload, image.dtype, (10, 600),
                                               True, True), image[:10])
    broken = payload[:20] + bytes([payload[20] ^ 1]) + payload[21:]
    with pytest.raises(ValueError, match="checksum mismatch"):
        decode_chunk(broken, image.dtype, (10, 600), True, True)
