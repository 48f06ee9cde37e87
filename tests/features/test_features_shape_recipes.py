"""Dataset wiring of the shape features (`cytolab.rtdc.ancillaries.shape`).

The recipes are tested on copies of real files that keep only what the
recipe needs (mask or contour, positions, metadata): the recomputed features
must equal the stored ones (same tolerances and exceptions as the kernel
tests, see test_features_moments.py and test_features_volume.py).
"""
from __future__ import annotations

import pathlib
import warnings

import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from realdata import real_file

import cytolab
from cytolab.errors import BadFeatureSizeWarning
from cytolab.features import LazyContour, get_contour, get_volume, moments_features
from cytolab.rtdc.ancillaries import chunks
from cytolab.simulate import simulate_rtdc

INERTIA = ["inert_ratio_cvx", "inert_ratio_prnc", "inert_ratio_raw", "tilt"]


def copy_subset(src: pathlib.Path, dst: pathlib.Path, features: list[str]
                ) -> pathlib.Path:
    """Copy the metadata and some event features of `src` to a new file."""
    with h5py.File(src, "r") as h5in, h5py.File(dst, "w") as h5out:
        for key, value in h5in.attrs.items():
            h5out.attrs[key] = value
        events = h5out.create_group("events")
        for feat in features:
            h5in.copy(h5in["events"][feat], events, name=feat)
    return dst


def stored(path: pathlib.Path, features: list[str]) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {f: h5["events"][f][:] for f in features}


def test_inertia_recomputed_from_mask(real_rtdc_files, tmp_path):
    src = real_file(real_rtdc_files, "fmt-hdf5_cytoshot_full-features_2023")
    path = copy_subset(src, tmp_path / "masks.rtdc", ["mask", "pos_x", "pos_y"])
    ref = stored(src, INERTIA)
    with cytolab.new_dataset(path) as ds:
        assert "contour" not in ds.features_innate
        assert set(INERTIA + ["contour", "volume"]) <= set(ds.features_ancillary)
        assert isinstance(ds["contour"], LazyContour)
        for feat in ["inert_ratio_cvx", "inert_ratio_raw", "tilt"]:
            np.testing.assert_allclose(ds[feat], ref[feat], rtol=1e-6,
                                       err_msg=feat)
        # float32 rotation of the reference (see test_features_moments.py)
        np.testing.assert_allclose(ds["inert_ratio_prnc"], ref["inert_ratio_prnc"],
                                   rtol=2e-5)
        assert not ds["tilt"].flags.writeable
        masks = np.asarray(ds["mask"][:])
        np.testing.assert_array_equal(ds["contour"][5], get_contour(masks[5]))
        vol = ds["volume"]
        expected = get_volume(get_contour(masks), ds["pos_x"], ds["pos_y"],
                              ds.config["imaging"]["pixel size"])
        np.testing.assert_array_equal(vol, expected)


def test_four_features_share_one_computation(real_rtdc_files, tmp_path,
                                             monkeypatch):
    src = real_file(real_rtdc_files, "fmt-hdf5_cytoshot_full-features_2023")
    path = copy_subset(src, tmp_path / "masks.rtdc", ["mask"])
    from cytolab.rtdc.ancillaries import shape

    calls = []
    original = shape.moments_features

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(shape, "moments_features", counting)
    with cytolab.new_dataset(path) as ds:
        for feat in INERTIA:
            ds[feat]
    assert len(calls) == 1  # one chunk, one computation for all four


def test_volume_from_stored_contour(real_rtdc_files):
    """The stored volume (dclab < 0.37) is ignored and recomputed."""
    src = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    ref = stored(src, ["pos_x", "pos_y"])
    with h5py.File(src, "r") as h5:
        contours = [h5["events/contour"][str(ii)][:] for ii in range(8)]
        pix = float(h5.attrs["imaging:pixel size"])
    with pytest.warns(BadFeatureSizeWarning) as record:
        ds = cytolab.new_dataset(src)
    assert any("'volume'" in str(w.message) for w in record)
    with ds:
        assert "volume" not in ds.features_innate
        assert "contour" in ds.features_innate
        np.testing.assert_array_equal(
            ds["volume"], get_volume(contours, ref["pos_x"], ref["pos_y"], pix))


def test_contour_and_volume_from_mask_only(real_rtdc_files, tmp_path):
    src = real_file(real_rtdc_files, "fmt-hdf5_mask-contour_2018")
    path = copy_subset(src, tmp_path / "masks.rtdc",
                       ["mask", "pos_x", "pos_y", "inert_ratio_cvx"])
    with h5py.File(src, "r") as h5:
        contours = [h5["events/contour"][str(ii)][:] for ii in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadFeatureSizeWarning)  # see above
        ds_ref = cytolab.new_dataset(src)
    with ds_ref, cytolab.new_dataset(path) as ds:
        assert isinstance(ds["contour"], LazyContour)
        for ii in range(8):
            np.testing.assert_array_equal(ds["contour"][ii], contours[ii])
        np.testing.assert_array_equal(ds["volume"], ds_ref["volume"])
        # stored Shape-In inertia ratio wins over the recipe
        np.testing.assert_array_equal(ds["inert_ratio_cvx"],
                                      ds_ref["inert_ratio_cvx"])
        np.testing.assert_allclose(ds["inert_ratio_raw"],
                                   ds_ref["inert_ratio_raw"], rtol=1e-6)


def test_chunked_computation_equals_kernel(tmp_path, monkeypatch):
    """Several chunks (small chunk budget) give the same result."""
    path = simulate_rtdc(tmp_path / "sim.rtdc", num_events=450, images=True,
                         seed=4, progress=False)
    with h5py.File(path, "r+") as h5:
        for feat in ["volume", "inert_ratio_cvx", "inert_ratio_raw"]:
            del h5["events"][feat]
        masks = h5["events/mask"][:]
        pos_x = h5["events/pos_x"][:]
        pos_y = h5["events/pos_y"][:]
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 100 * 80 * 250)
    contours = get_contour(masks)
    expected = moments_features(contours, features=INERTIA)
    with cytolab.new_dataset(path) as ds:
        assert chunks.chunk_size_for(ds, ["mask"]) // 4 < len(ds)
        for feat in INERTIA:
            np.testing.assert_array_equal(ds[feat], expected[feat])
        np.testing.assert_array_equal(
            ds["volume"], get_volume(contours, pos_x, pos_y, 0.34))
        assert len(ds["contour"]._cache) <= 1000


def test_bad_masks_in_dataset():
    masks = np.zeros((5, 20, 30), dtype=bool)
    masks[1, 5, 5] = True  # one pixel
    masks[2, :8, :12] = True  # touching the border
    masks[3, 2:5, 2:5] = True  # two objects
    masks[3, 8:18, 5:25] = True
    masks[4] = True  # the whole image
    ds = cytolab.new_dataset({"mask": masks, "pos_x": np.array([1.0] * 4 + [np.nan]),
                              "pos_y": np.ones(5)})
    ds.config["imaging"]["pixel size"] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tilt = ds["tilt"]
        vol = ds["volume"]
    assert np.isnan(tilt[0]) and np.isnan(tilt[1])
    assert np.isfinite(tilt[2:]).all()
    assert np.isnan(vol[:2]).all() and np.isfinite(vol[2:4]).all()
    assert np.isnan(vol[4])  # NaN position
    assert ds["contour"][0].shape == (0, 2)
    assert ds["contour"][3][:, 1].min() == 8  # the larger object


def test_recipe_requirements():
    masks = np.zeros((3, 10, 10), dtype=bool)
    masks[:, 2:6, 2:7] = True
    ds = cytolab.new_dataset({"mask": masks, "pos_x": np.ones(3),
                              "pos_y": np.ones(3)})
    # no pixel size in the metadata: no volume
    assert "volume" not in ds
    assert "tilt" in ds and "contour" in ds
    ds.config["imaging"]["pixel size"] = 0.34
    assert "volume" in ds
    nomask = cytolab.new_dataset({"deform": np.ones(3)})
    assert not {"contour", "tilt", "volume"} & set(nomask.features)
    contours = cytolab.new_dataset({"contour": get_contour(masks)})
    assert "tilt" in contours and "volume" not in contours
