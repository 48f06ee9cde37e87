"""Concatenating measurement files with HDF5 virtual datasets."""
from __future__ import annotations

import pathlib
import pickle
import tempfile

import h5py
import numpy as np
import pytest

from cytolab.errors import FileFormatError
from cytolab.io import HDF5Data, HDF5Writer, concatenated_hdf5_data

SIZES = (4, 3, 5)
FRAMES = ([1, 2, 5, 9], [3, 4, 4], [0, 10, 11, 12, 20])


def write(path: pathlib.Path, ii: int, num: int, frames, extra=True) -> pathlib.Path:
    with HDF5Writer(path, mode="w") as hw:
        hw.h5.attrs["experiment:sample"] = f"sample {ii}"
        hw.h5.attrs["experiment:event count"] = num
        hw.h5.attrs["imaging:pixel size"] = 0.34 + ii
        hw.store_feature_chunk("deform", ii + np.arange(num) / 10)
        hw.store_feature_chunk("frame", np.asarray(frames, dtype=np.uint64))
        image = np.zeros((num, 4, 5), np.uint8) + np.arange(num, dtype=np.uint8
                                                          )[:, None, None]
        hw.store_feature_chunk("image", image + 10 * ii)
        if extra:
            hw.store_feature_chunk("area_um", np.full(num, 100.0 + ii))
        hw.store_feature_chunk("fl1_raw", np.full((num, 6), ii, np.int16),
                               group_name="events/trace")
        hw.store_log(f"log{ii}", [f"file {ii}"])
        hw.store_basin("somewhere", paths=["nowhere.rtdc"])
    return path


@pytest.fixture
def three(tmp_path) -> list[pathlib.Path]:
    return [write(tmp_path / f"m{ii}.rtdc", ii, num, fr)
            for ii, (num, fr) in enumerate(zip(SIZES, FRAMES))]


def check_content(data: HDF5Data) -> None:
    assert len(data) == sum(SIZES)
    assert np.allclose(data["deform"], [0, .1, .2, .3, 1, 1.1, 1.2,
                                        2, 2.1, 2.2, 2.3, 2.4])
    # file 1 continues after frame 9, file 2 after the new frame 15
    assert data["frame"].tolist() == [1, 2, 5, 9, 13, 14, 14,
                                      15, 25, 26, 27, 35]
    assert np.all(np.diff(data["frame"].astype(np.int64)) >= 0)
    assert data["frame"].dtype == np.uint64
    assert data.image[5][0, 0] == 11 and data.image[11][3, 4] == 24
    assert data.image[:][:, 0, 0].tolist() == [0, 1, 2, 3, 10, 11, 12,
                                               20, 21, 22, 23, 24]
    assert data["trace"]["fl1_raw"][:][:, 0].tolist() == [0] * 4 + [1] * 3 + [2] * 5
    assert data.meta["experiment:sample"] == "sample 0"  # from the first file
    assert data.meta["experiment:event count"] == 12
    assert data.pixel_size == 0.34
    assert data.logs == {"log0": ["file 0"]}
    assert data.basins == []  # basins are not considered
    assert data.h5["events/deform"].is_virtual
    assert not data.h5["events/frame"].is_virtual


def test_three_files_to_path(three, tmp_path):
    out = tmp_path / "out" / "all.rtdc"
    out.parent.mkdir()
    with concatenated_hdf5_data(three, path_out=out) as data:
        assert data.path == out.resolve()
        check_content(data)
        clone = pickle.loads(pickle.dumps(data))  # a file on disk: picklable
        with clone:
            check_content(clone)
    assert sorted(p.name for p in out.parent.iterdir()) == ["all.rtdc"]


def test_three_files_to_temporary_file(three):
    with concatenated_hdf5_data(three) as data:
        assert data.path.parent == pathlib.Path(tempfile.gettempdir()).resolve()
        assert data.path.name.startswith("cytolab-concat-")
        check_content(data)
    data.path.unlink()


def test_three_files_in_memory(three):
    with concatenated_hdf5_data(three, path_out=None) as data:
        assert data.path is None
        check_content(data)
        with pytest.raises(pickle.PicklingError):
            pickle.dumps(data)
        h5 = data.h5
    assert not h5.id.valid  # closed with the HDF5Data


def test_without_compute_frame(three, tmp_path):
    with concatenated_hdf5_data(three, path_out=tmp_path / "a.rtdc",
                                compute_frame=False) as data:
        assert data["frame"].tolist() == sum(FRAMES, [])
        assert data.h5["events/frame"].is_virtual


def test_features_subset(three, tmp_path):
    with concatenated_hdf5_data(three, path_out=tmp_path / "a.rtdc",
                                features=["deform", "image"]) as data:
        assert data.keys() == ["deform", "frame", "image"]  # frame rebuilt
        assert data["frame"][4] == 13
        assert data.image.shape == (12, 4, 5)
    with concatenated_hdf5_data(three, path_out=tmp_path / "b.rtdc",
                                features=["deform"], compute_frame=False) as data:
        assert data.keys() == ["deform"]


def test_missing_feature_names_file_and_feature(three, tmp_path):
    three[1].unlink()
    write(three[1], 1, 3, FRAMES[1], extra=False)
    with pytest.raises(ValueError, match=r"'area_um' is missing in '.*m1\.rtdc'"):
        concatenated_hdf5_data(three, path_out=tmp_path / "a.rtdc")
    assert not (tmp_path / "a.rtdc").exists()
    with concatenated_hdf5_data(three, path_out=tmp_path / "a.rtdc",
                                features=["deform", "image"]) as data:
        assert len(data) == 12
    with pytest.raises(ValueError, match="area_um.*m1.rtdc"):
        concatenated_hdf5_data(three, path_out=None, features=["area_um"])


def test_shape_mismatch_and_bad_input(three, tmp_path):
    with h5py.File(three[2], "a") as h5:
        del h5["events/image"]
        h5.create_dataset("events/image", data=np.zeros((5, 4, 6), np.uint8))
    with pytest.raises(ValueError, match=r"'image'.*\(4, 6\).*m2\.rtdc"):
        concatenated_hdf5_data(three, path_out=tmp_path / "a.rtdc")
    with pytest.raises(ValueError, match="empty"):
        concatenated_hdf5_data([])
    with pytest.raises(TypeError, match="list"):
        concatenated_hdf5_data(three[0])
    with pytest.raises(FileFormatError, match="nothere.rtdc"):
        concatenated_hdf5_data([three[0], tmp_path / "nothere.rtdc"])
