"""FLImage: layout, modes, metadata, background, copies, bad input."""
import pathlib

import h5py
import numpy as np
import pytest

from cytolab.errors import FileFormatError
from cytolab.fluor import (
    META_KEYS_FL,
    FLImage,
    ReadOnlyError,
    SuspiciousUnitWarning,
)

BASIC = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "flimage" / \
    "basic.h5"


@pytest.fixture
def image():
    return np.random.default_rng(0).normal(50, 5, (30, 40))


def test_meta_keys():
    assert META_KEYS_FL == ["pixel size", "time", "flimage version", "identifier",
                            "qpimage version", "sim center", "sim model", "sim radius"]


def test_reference_file_opens_identically():
    if not BASIC.exists():
        pytest.skip(f"reference flimage file not found: {BASIC}")
    with h5py.File(BASIC, "r") as h5:
        raw = h5["fluorescence/raw"][...]
        attrs = {k: h5.attrs[k] for k in h5.attrs}
    with FLImage(h5file=BASIC, h5mode="r") as fli:
        np.testing.assert_array_equal(fli.raw_fl, raw)
        np.testing.assert_array_equal(fli.fl, raw)
        assert fli.bg_fl.shape == raw.shape and not fli.bg_fl.any()
        assert fli.dtype == np.float32 and fli.shape == (10, 20)
        assert fli.meta == {"pixel size": 5.4e-08, "flimage version": "0.1.0.post7",
                            "qpimage version": "0.5.2"}
        assert fli.meta["pixel size"] == attrs["pixel size"]
        assert fli.info == list(fli.meta.items())
        assert "time" not in fli
        copy = fli.copy()
        np.testing.assert_array_equal(copy.raw_fl, raw)
        assert copy.meta == fli.meta


def test_layout_written_matches_flimage(tmp_path, image):
    path = tmp_path / "fl.h5"
    bg = np.full(image.shape, 3.0)
    with FLImage(image, meta_data={"pixel size": 1e-7, "time": 2.5,
                                   "identifier": "cell 1", "sim center": (4, 5)},
                 h5file=path) as fli:
        fli.set_bg_data(bg)
    with h5py.File(path, "r") as h5:
        assert set(h5) == {"fluorescence"}
        assert dict(h5.attrs) .keys() == {"pixel size", "time", "identifier",
                                          "sim center"}
        assert h5.attrs["pixel size"] == 1e-7 and h5.attrs["time"] == 2.5
        assert h5.attrs["identifier"] == "cell 1"
        np.testing.assert_array_equal(h5.attrs["sim center"], [4, 5])
        group = h5["fluorescence"]
        assert len(group.attrs) == 0
        assert set(group) == {"raw", "bg_data"}
        for dset in (group["raw"], group["bg_data/data"]):
            assert dset.dtype == np.float32
            assert dset.compression == "gzip" and dset.fletcher32
            assert dset.attrs["CLASS"] == b"IMAGE"
            assert dset.attrs["IMAGE_SUBCLASS"] == b"IMAGE_GRAYSCALE"
        np.testing.assert_array_equal(group["raw"][...], image.astype(np.float32))
        np.testing.assert_array_equal(group["bg_data/data"][...], bg)


@pytest.mark.parametrize("mode", ["w", "w-", "x", "a"])
def test_round_trip_for_creating_modes(tmp_path, image, mode):
    path = tmp_path / f"{mode}.h5"
    with FLImage(image, meta_data={"time": 1.0}, h5file=path, h5mode=mode):
        pass
    for reopen in ("r", "r+", "a"):
        with FLImage(h5file=path, h5mode=reopen) as fli:
            np.testing.assert_array_equal(fli.raw_fl, image.astype(np.float32))
            assert fli["time"] == 1.0


def test_in_memory_and_group(image):
    fli = FLImage(image, meta_data={"pixel size": 2e-7})
    assert fli.h5.file.driver == "core"
    np.testing.assert_array_equal(fli.fl, image.astype(np.float32))
    with h5py.File("mem.h5", "w", driver="core", backing_store=False) as h5:
        group = h5.create_group("sub")
        FLImage(image, h5file=group)
        assert "sub/fluorescence/raw" in h5
        again = FLImage(h5file=group)
        np.testing.assert_array_equal(again.raw_fl, image.astype(np.float32))
    other = FLImage(image)
    assert other.h5.file.filename != fli.h5.file.filename  # separate memory files


def test_mode_rules(tmp_path, image):
    path = tmp_path / "fl.h5"
    FLImage(image, h5file=path).close()
    for mode in ("w-", "x"):
        with pytest.raises(FileExistsError, match="fl.h5"):
            FLImage(image, h5file=path, h5mode=mode)
    with FLImage(h5file=path, h5mode="r") as fli:
        for action in (lambda: fli.set_bg_data(np.zeros(image.shape)),
                       lambda: fli.__setitem__("time", 1.0)):
            with pytest.raises(ReadOnlyError, match="read-only"):
                action()
    with pytest.raises(ReadOnlyError, match="read-only"):
        FLImage(image, h5file=path, h5mode="r")
    for mode in ("r", "r+"):
        with pytest.raises(FileNotFoundError, match="missing.h5"):
            FLImage(h5file=tmp_path / "missing.h5", h5mode=mode)
    with pytest.raises(ValueError, match="Invalid h5mode 'q'"):
        FLImage(image, h5mode="q")
    # "w" truncates
    with FLImage(image * 2, h5file=path, h5mode="w") as fli:
        np.testing.assert_array_equal(fli.raw_fl, (image * 2).astype("f4"))


def test_input_file_unchanged_when_read(tmp_path, image):
    path = tmp_path / "fl.h5"
    FLImage(image, meta_data={"time": 3.0}, h5file=path).close()
    before = path.read_bytes()
    with FLImage(h5file=path, h5mode="r") as fli:
        fli.copy(h5file=tmp_path / "copy.h5").close()
    assert path.read_bytes() == before


def test_background_handling(image):
    fli = FLImage(image)
    fli.set_bg_data(np.ones(image.shape) * 10)
    np.testing.assert_allclose(fli.fl, image - 10, rtol=1e-6)
    other = FLImage(np.full(image.shape, 4.0))
    other.set_bg_data(np.ones(image.shape))
    fli.set_bg_data(other)  # uses the other's corrected fluorescence: 3
    np.testing.assert_allclose(fli.bg_fl, 3.0)
    fli.set_bg_data(None)
    assert not fli.bg_fl.any()
    np.testing.assert_array_equal(fli.fl, fli.raw_fl)
    with pytest.raises(ValueError, match=r"background has shape \(3, 3\)"):
        fli.set_bg_data(np.zeros((3, 3)))
    assert not fli.fl.flags.writeable


def test_new_data_replace_background(tmp_path, image):
    path = tmp_path / "fl.h5"
    with FLImage(image, h5file=path) as fli:
        fli.set_bg_data(np.ones(image.shape))
    with FLImage(image + 1, h5file=path) as fli:
        assert not fli.fluorescence.has_bg
        np.testing.assert_allclose(fli.fl, image + 1, rtol=1e-6)


@pytest.mark.parametrize("h5dtype", ["float64", "uint16", "float16"])
def test_h5dtype(image, h5dtype):
    fli = FLImage(np.abs(image), h5dtype=h5dtype)
    assert fli.dtype == np.dtype(h5dtype)
    np.testing.assert_array_equal(fli.raw_fl, np.abs(image).astype(h5dtype))


def test_copy_to_file_and_memory(tmp_path, image):
    fli = FLImage(image, meta_data={"time": 5.0, "identifier": "a"})
    fli.set_bg_data(np.full(image.shape, 2.0))
    on_disk = fli.copy(h5file=tmp_path / "c.h5")
    on_disk.close()
    with FLImage(h5file=tmp_path / "c.h5", h5mode="r") as back:
        np.testing.assert_array_equal(back.raw_fl, fli.raw_fl)
        np.testing.assert_array_equal(back.bg_fl, fli.bg_fl)
        assert back.meta == fli.meta
        assert back.h5["fluorescence/raw"].compression == "gzip"
    mem = fli.copy()
    mem.set_bg_data(None)
    assert fli.fluorescence.has_bg  # the original is untouched


def test_metadata_validation(image):
    with pytest.raises(KeyError, match="'pixelsize'.*'pixel size', 'time'"):
        FLImage(image, meta_data={"pixelsize": 1e-7})
    with pytest.raises(ValueError, match="must be positive"):
        FLImage(image, meta_data={"pixel size": -1.0})
    with pytest.raises(ValueError, match="must be a number"):
        FLImage(image, meta_data={"time": "noon"})
    with pytest.raises(ValueError, match="must be finite"):
        FLImage(image, meta_data={"time": float("nan")})
    with pytest.raises(ValueError, match="must be text"):
        FLImage(image, meta_data={"identifier": 5})
    with pytest.warns(SuspiciousUnitWarning, match="micrometres"):
        FLImage(image, meta_data={"pixel size": 0.34})
    fli = FLImage(image, meta_data={"time": 1})
    assert fli["time"] == 1.0 and isinstance(fli["time"], float)
    with pytest.raises(KeyError, match="not set"):
        fli["pixel size"]
    with pytest.raises(KeyError, match="valid keys"):
        fli["colour"]
    fli["identifier"] = "x"
    assert fli.meta["identifier"] == "x"


@pytest.mark.parametrize("data,match", [
    (np.zeros((3, 4, 5)), "2-D image"),
    (np.zeros(5), "2-D image"),
    (np.zeros((0, 4)), "empty"),
    (np.array([["a", "b"]]), "numeric"),
    (np.zeros((3, 3), complex), "complex"),
])
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        FLImage(data)


def test_not_an_flimage(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["events/deform"] = np.zeros(3)
    with pytest.raises(FileFormatError, match="other.h5.*does not hold an FLImage"):
        FLImage(h5file=path, h5mode="r")
    with pytest.raises(FileFormatError, match="does not hold an FLImage"):
        FLImage(h5file=path, h5mode="a")
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(FileFormatError, match="does not hold an FLImage"):
        FLImage(h5file=empty, h5mode="r")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(FileFormatError, match="text.h5"):
        FLImage(h5file=text, h5mode="r")
    with pytest.raises(FileFormatError, match="No fluorescence data"):
        _ = FLImage().raw_fl
