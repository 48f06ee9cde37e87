"""The low-level write_* helpers of RTDCWriter (reference-API compatibility)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import BasinmapFeatureMissingError


def test_low_level_writers(tmp_path):
    path = tmp_path / "ll.rtdc"
    with cytolab.RTDCWriter(path, mode="reset") as hw:
        ev = hw.h5file.require_group("events")
        hw.write_ndarray(ev, "deform", np.arange(3.0))
        hw.write_ndarray(ev, "frame", [1, 2, 3], dtype=np.int32)
        hw.write_image_grayscale(ev, "mask", np.eye(4, dtype=bool)[None].repeat(3, 0),
                                 is_boolean=True)
        hw.write_image_float32(ev, "qpi_pha", np.ones((3, 4, 4)))
        hw.write_ragged(ev, "contour", [np.zeros((k + 2, 2)) for k in range(3)])
        hw.write_text(hw.h5file.require_group("logs"), "notes", "line one\nline two")
    with h5py.File(path) as h5:
        assert h5["events/frame"].dtype == np.int32
        assert h5["events/mask"].dtype == np.uint8
        assert h5["events/mask"].attrs["CLASS"] == b"IMAGE"
        assert h5["events/qpi_pha"].dtype == np.float32
        assert h5["logs/notes"].dtype.kind == "S"
    with cytolab.new_dataset(path) as ds:
        assert ds.logs["notes"] == ["line one", "line two"]
        assert np.array_equal(ds["mask"][2], np.eye(4, dtype=bool))
        assert [len(c) for c in ds["contour"]] == [2, 3, 4]
        assert np.array_equal(ds["deform"], [0.0, 1.0, 2.0])


def test_basinmap_missing_is_reported(tmp_path):
    src = tmp_path / "src.rtdc"
    with cytolab.RTDCWriter(src, mode="reset") as hw:
        hw.store_feature("deform", np.arange(5.0))
    out = tmp_path / "out.rtdc"
    with cytolab.RTDCWriter(out, mode="reset") as hw:
        hw.store_feature("userdef1", np.zeros(2))
        hw.store_basin(basin_name="src", basin_locs=[src], basin_map=[1, 3])
    with h5py.File(out, "a") as h5:
        del h5["events/basinmap0"]
    with pytest.warns(UserWarning, match="basinmap0"):
        with cytolab.new_dataset(out) as ds:
            assert "deform" not in ds
            with pytest.raises(BasinmapFeatureMissingError):
                ds.basins[0].basinmap  # noqa: B018


def test_unclosed_writer_warns_and_leaves_nothing(tmp_path):
    import gc

    path = tmp_path / "unclosed.rtdc"
    hw = cytolab.RTDCWriter(path, mode="reset")
    hw.store_feature("deform", [1.0])
    with pytest.warns(ResourceWarning, match="never closed"):
        del hw
        gc.collect()
    assert list(tmp_path.iterdir()) == []
