"""Bad, foreign and damaged input: clear errors and warnings naming the file.

Every error that involves a file must name it; warnings about the content
of a file name the file and the offending feature or metadata key.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import warnings

import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.errors import (
    BadFeatureSizeWarning,
    CytolabError,
    FeatureNotAvailableError,
    FeatureShapeError,
    FileFormatError,
    UnknownConfigurationKeyWarning,
    UnknownFeatureWarning,
)

N = 10
META = {
    "experiment:event count": N,
    "experiment:sample": "bad-input",
    "imaging:frame rate": 2000.0,
    "imaging:pixel size": 0.34,
    "setup:software version": "cytolab-tests 1.0",
}


def write_rtdc(path, features=None, attrs=None):
    """Write a small .rtdc file with h5py (no cytolab code involved)."""
    rng = np.random.default_rng(42)
    if features is None:
        features = {"deform": rng.uniform(0, 0.1, N),
                    "area_um": rng.uniform(10, 100, N),
                    "frame": np.arange(N, dtype=np.float64) * 3 + 7}
    with h5py.File(path, "w") as h5:
        for key, val in (META if attrs is None else attrs).items():
            h5.attrs[key] = val
        events = h5.create_group("events")
        for name, data in features.items():
            events.create_dataset(name, data=data)
    return path


def _open(src, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = cytolab.new_dataset(src, **kwargs)
    return ds, caught


def _messages(caught, category):
    return [str(w.message) for w in caught if issubclass(w.category, category)]


# files that are not RT-DC datasets ----------------------------------------------------
@pytest.mark.parametrize("as_str", [True, False])
def test_path_does_not_exist(tmp_path, as_str):
    path = tmp_path / "missing" / "nothing.rtdc"
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(str(path) if as_str else path)
    assert isinstance(exc.value, OSError)
    assert isinstance(exc.value, CytolabError)
    assert str(path) in str(exc.value)


def test_directory(tmp_path):
    folder = tmp_path / "folder.rtdc"
    folder.mkdir()
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(folder)
    assert str(folder) in str(exc.value)
    assert "director" in str(exc.value)


def test_text_file_named_rtdc(tmp_path):
    path = tmp_path / "notes.rtdc"
    path.write_text("this is not HDF5\n" * 10)
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)
    with open(path, "rb") as fd, pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(fd)
    assert str(path) in str(exc.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.rtdc"
    path.write_bytes(b"")
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)


def test_unsupported_inputs(tmp_path):
    with pytest.raises(TypeError):
        cytolab.new_dataset(42)
    tdms = tmp_path / "M1_data.tdms"
    tdms.write_bytes(b"TDSm")
    # a lone .tdms table without its ini files: a clear error naming the file
    with pytest.raises(cytolab.errors.FileFormatError) as exc:
        cytolab.new_dataset(tdms)
    assert str(tdms) in str(exc.value) and "para.ini" in str(exc.value)


@pytest.fixture
def real_copy(real_rtdc_files, tmp_path):
    """A writable copy of a real file with images, masks and traces."""
    src = real_file(real_rtdc_files, "fmt-hdf5_fl_2018")
    dst = tmp_path / "copy.rtdc"
    shutil.copyfile(src, dst)
    os.chmod(dst, stat.S_IRUSR | stat.S_IWUSR)
    return dst


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_hdf5(real_copy, fraction):
    size = real_copy.stat().st_size
    with open(real_copy, "r+b") as fd:
        fd.truncate(int(size * fraction))
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(real_copy)
    assert isinstance(exc.value, OSError)
    assert str(real_copy) in str(exc.value)
    # the same through a file object
    with open(real_copy, "rb") as fd, pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(fd)
    assert str(real_copy) in str(exc.value)


def test_signature_only(tmp_path):
    path = tmp_path / "sig.rtdc"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 8)
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)


def test_hdf5_without_events(tmp_path):
    path = tmp_path / "no_events.rtdc"
    with h5py.File(path, "w") as h5:
        h5.attrs.update(META)
        h5.create_dataset("features/deform", data=np.zeros(N))
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)
    assert "events" in str(exc.value)
    with h5py.File(path) as h5:
        with pytest.raises(FileFormatError) as exc:
            cytolab.new_dataset(h5)
        assert str(path) in str(exc.value)
        assert h5.id.valid  # not ours to close
    with open(path, "rb") as fd, pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(fd)
    assert str(path) in str(exc.value)


def test_events_is_not_a_group(tmp_path):
    path = tmp_path / "events_dataset.rtdc"
    with h5py.File(path, "w") as h5:
        h5.attrs.update(META)
        h5.create_dataset("events", data=np.zeros(N))
    with pytest.raises(FileFormatError) as exc:
        cytolab.new_dataset(path)
    assert str(path) in str(exc.value)


def test_damaged_data_chunk(real_copy):
    with h5py.File(real_copy) as h5:
        info = h5["events"]["image"].id.get_chunk_info(0)
    with open(real_copy, "r+b") as fd:  # overwrite part of the gzip stream
        fd.seek(info.byte_offset + 10)
        fd.write(b"\x00" * 50)
    ds, _ = _open(real_copy)
    with ds, pytest.raises(FileFormatError) as exc:
        ds["image"][0]
    assert str(real_copy) in str(exc.value)


# bad content of a valid file ----------------------------------------------------------
def test_feature_too_short(tmp_path):
    path = write_rtdc(tmp_path / "short.rtdc")
    with h5py.File(path, "a") as h5:
        h5["events"].create_dataset("circ", data=np.ones(N - 3))
    ds, caught = _open(path)
    with ds:
        assert len(ds) == N
        assert "circ" not in ds.features_innate
        msgs = _messages(caught, BadFeatureSizeWarning)
        assert any("'circ'" in m and str(path) in m for m in msgs), msgs
        with pytest.raises(FeatureNotAvailableError) as exc:
            ds["circ"]
        assert "circ" in str(exc.value) and str(path) in str(exc.value)
        # the good features are unaffected
        assert np.array_equal(ds["deform"], h5py.File(path)["events/deform"][:])


def test_feature_too_long(tmp_path):
    path = write_rtdc(tmp_path / "long.rtdc")
    with h5py.File(path, "a") as h5:
        h5["events"].create_dataset("circ", data=np.linspace(0, 1, N + 5))
        h5["events"].create_dataset(
            "image", data=np.arange((N + 2) * 4 * 6, dtype=np.uint8).reshape(-1, 4, 6),
            chunks=(4, 4, 6))
    ds, caught = _open(path)
    with ds:
        assert len(ds) == N
        msgs = _messages(caught, BadFeatureSizeWarning)
        for feat in ("circ", "image"):
            assert any(f"'{feat}'" in m and str(path) in m for m in msgs), feat
        assert np.array_equal(ds["circ"], np.linspace(0, 1, N + 5)[:N])
        image = ds["image"]
        assert len(image) == N and image.shape[0] == N
        assert image[:].shape == (N, 4, 6)
        assert np.array_equal(image[-1], h5py.File(path)["events/image"][N - 1])
        with pytest.raises(IndexError):
            image[N]


def test_dataset_length_is_most_common_length(tmp_path):
    rng = np.random.default_rng(1)
    path = write_rtdc(tmp_path / "vote.rtdc", features={
        "deform": rng.random(N), "circ": rng.random(N), "area_um": rng.random(N),
        "frame": rng.random(N + 1), "bright_avg": rng.random(N - 1)})
    ds, caught = _open(path)
    with ds:
        assert len(ds) == N
        assert ds.features_innate == ["area_um", "circ", "deform", "frame"]
        msgs = _messages(caught, BadFeatureSizeWarning)
        assert any("'bright_avg'" in m for m in msgs)
        assert any("'frame'" in m for m in msgs)


def test_unknown_metadata_key(tmp_path):
    attrs = dict(META, **{"imaging:exposure wobble": 3.5,
                          "fantasy:key": "value"})
    path = write_rtdc(tmp_path / "unknown_meta.rtdc", attrs=attrs)
    ds, caught = _open(path)
    with ds:
        msgs = _messages(caught, UnknownConfigurationKeyWarning)
        assert len(msgs) == 1, msgs  # one warning for the whole file
        assert "exposure wobble" in msgs[0] and "fantasy" in msgs[0]
        assert str(path) in msgs[0]
        # kept, so that nothing of the file is lost
        assert ds.config["imaging"]["exposure wobble"] == 3.5
        assert ds.config["imaging"]["pixel size"] == 0.34


def test_invalid_metadata_value(tmp_path):
    path = write_rtdc(tmp_path / "bad_value.rtdc",
                      attrs=dict(META, **{"imaging:frame rate": "fast"}))
    ds, caught = _open(path)
    with ds:
        msgs = [str(w.message) for w in caught]
        assert any("frame rate" in m and str(path) in m for m in msgs), msgs
        # without a usable frame rate, time cannot be computed
        assert "time" not in ds
        with pytest.raises(FeatureNotAvailableError) as exc:
            ds["time"]
        assert "time" in str(exc.value) and str(path) in str(exc.value)


def test_unknown_feature_name(tmp_path):
    path = write_rtdc(tmp_path / "unknown_feat.rtdc")
    with h5py.File(path, "a") as h5:
        h5["events"].create_dataset("wobbliness", data=np.ones(N))
    ds, caught = _open(path)
    with ds:
        msgs = _messages(caught, UnknownFeatureWarning)
        assert any("'wobbliness'" in m and str(path) in m for m in msgs), msgs
        assert "wobbliness" not in ds
        assert "wobbliness" not in ds.features
        assert len(ds) == N


def test_scalar_feature_with_wrong_dimensions(tmp_path):
    path = write_rtdc(tmp_path / "wrong_ndim.rtdc")
    with h5py.File(path, "a") as h5:
        h5["events"].create_dataset("circ", data=np.ones((N, 2)))
    ds, caught = _open(path)
    with ds:
        msgs = [str(w.message) for w in caught]
        assert any("'circ'" in m and str(path) in m for m in msgs), msgs
        assert "circ" not in ds.features_innate


@pytest.mark.parametrize("feat", ["nonexistent_feature", "userdef3"])
def test_missing_feature(tmp_path, feat):
    path = write_rtdc(tmp_path / "few.rtdc")
    ds, _ = _open(path)
    with ds:
        assert feat not in ds
        with pytest.raises(FeatureNotAvailableError) as exc:
            ds[feat]
        assert isinstance(exc.value, KeyError)
        assert f"'{feat}'" in str(exc.value)
        assert str(path) in str(exc.value)


# read-only data -----------------------------------------------------------------------
def test_features_are_read_only(real_rtdc_files):
    path = real_file(real_rtdc_files, "fmt-hdf5_fl_2017")  # contour + trace
    ds, _ = _open(path)
    with ds:
        with pytest.raises(ValueError):
            ds["circ"][0] = 1
        with pytest.raises(ValueError):
            ds["deform"][0] = 1  # computed (ancillary)
        with pytest.raises(ValueError):
            ds["index"][0] = 5
        with pytest.raises(ValueError):
            ds["time"][:] = 0
        with pytest.raises(ValueError):
            ds["image"][0][0, 0] = 1
        with pytest.raises(ValueError):
            ds["image"][:2][0, 0, 0] = 1
        with pytest.raises(ValueError):
            ds["contour"][0][0, 0] = 1
        with pytest.raises(TypeError):
            ds["trace"]["fl1_raw"] = np.zeros((5, 100))
        with pytest.raises(ValueError):
            ds["trace"]["fl1_raw"][0][0] = 1
        with pytest.raises(TypeError):
            ds["deform"] = np.zeros(len(ds))
        assert not np.all(ds["circ"] == 1)


def test_masks_and_tables_are_read_only(real_rtdc_files):
    ds, _ = _open(real_file(real_rtdc_files, "fmt-hdf5_fl_2018"))
    with ds:
        with pytest.raises(ValueError):
            ds["mask"][0][0, 0] = True
    ds, _ = _open(real_file(real_rtdc_files, "fmt-hdf5_raw-cytoshot-exported"))
    with ds:
        table = ds.tables["so2exp_cytoshot_monitor"]
        with pytest.raises(ValueError):
            table["focus"][0] = 1


# dict datasets ------------------------------------------------------------------------
def test_dict_with_unknown_feature():
    with pytest.raises(ValueError, match="bogus"):
        cytolab.new_dataset({"bogus": [1]})


def test_dict_with_different_lengths():
    with pytest.raises(FeatureShapeError) as exc:
        cytolab.new_dataset({"deform": [0.1, 0.2, 0.3], "area_um": [10, 20]})
    assert isinstance(exc.value, ValueError)
    assert "deform" in str(exc.value) and "area_um" in str(exc.value)


def test_dict_with_wrong_shape():
    with pytest.raises(ValueError):
        cytolab.new_dataset({"deform": np.zeros((3, 2))})
    with pytest.raises(ValueError):
        cytolab.new_dataset({"image": np.zeros(3)})


def test_dict_data_are_copied_and_read_only():
    deform = np.array([0.1, 0.2])
    ds = cytolab.new_dataset({"deform": deform})
    deform[0] = 5
    assert ds["deform"][0] == 0.1
    with pytest.raises(ValueError):
        ds["deform"][0] = 1


# the input file is never modified -----------------------------------------------------
def _fingerprint(path):
    st = path.stat()
    return (hashlib.md5(path.read_bytes()).hexdigest(), st.st_size,
            st.st_mtime_ns)


def _read_everything(ds):
    for feat in ds.features:
        data = ds[feat]
        if feat == "trace":
            for key in data:
                np.asarray(data[key][:])
        elif feat == "contour":
            list(data)
        else:
            np.asarray(data[:])
    dict(ds.logs.items())
    dict(ds.tables.items())
    ds.config.as_dict()
    ds.hash  # noqa: B018
    ds.get_measurement_identifier()


@pytest.mark.parametrize("name", [
    "fmt-hdf5_fl_2017",                # contour, trace, szip image, unknown feat
    "fmt-hdf5_image-bg_2020",          # image_bg, defective time
    "fmt-hdf5_raw-cytoshot-exported",  # logs and tables
    "example_video",                   # mask longer than the dataset
])
def test_input_file_never_modified(real_rtdc_files, tmp_path, name):
    src = real_file(real_rtdc_files, name)
    path = tmp_path / src.name
    shutil.copy2(src, path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)  # writable: a write would land
    before = _fingerprint(path)
    for opener in (lambda p: p, str, lambda p: open(p, "rb"),
                   lambda p: h5py.File(p, "r")):
        src_obj = opener(path)
        ds, _ = _open(src_obj)
        with ds:
            _read_everything(ds)
        if hasattr(src_obj, "close"):
            src_obj.close()
    assert _fingerprint(path) == before


def test_read_only_file_opens(real_copy):
    os.chmod(real_copy, stat.S_IRUSR)
    try:
        ds, _ = _open(real_copy)
        with ds:
            _read_everything(ds)
    finally:
        os.chmod(real_copy, stat.S_IRUSR | stat.S_IWUSR)


def test_in_memory_file_is_not_modified(real_copy):
    raw = real_copy.read_bytes()
    buffer = io.BytesIO(raw)
    ds, _ = _open(buffer)
    with ds:
        _read_everything(ds)
    assert buffer.getvalue() == raw
