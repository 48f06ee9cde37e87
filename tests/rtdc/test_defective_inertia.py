"""Stored inertia ratios and tilt from writers with the integer-overflow bug.

dclab < 0.48.2 and Shape-In < 2.0.5 computed contour moments with 32-bit
integer sums that overflow for events reaching far right (dclab #212).
cytolab recomputes the rightmost events of such files and hides stored
features that disagree (they are then computed from the contours).
"""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

import cytolab
from cytolab.errors import BadFeatureSizeWarning
from cytolab.features.contour import get_contour
from cytolab.features.moments import moments_features
from cytolab.simulate.rtdc import simulate_rtdc

INERTIA = ["inert_ratio_cvx", "inert_ratio_raw", "inert_ratio_prnc", "tilt"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """A file with masks and correct stored inertia features."""
    path = tmp_path_factory.mktemp("inertia") / "base.rtdc"
    simulate_rtdc(path, num_events=60, images=True, seed=12)
    with h5py.File(path, "a") as h5:
        masks = h5["events/mask"][:]
        values = moments_features(get_contour(masks), features=INERTIA)
        for feat in INERTIA:
            if feat in h5["events"]:
                del h5["events"][feat]
            h5["events"][feat] = values[feat]
    return path


def _variant(truth, tmp_path, version, corrupt=(), where="rightmost"):
    path = tmp_path / "variant.rtdc"
    path.write_bytes(truth.read_bytes())
    with h5py.File(path, "a") as h5:
        h5.attrs["setup:software version"] = version
        reach = h5["events/pos_x"][:] + h5["events/size_x"][:] / 2
        idx = int(np.argmax(reach)) if where == "rightmost" else int(np.argmin(reach))
        for feat in corrupt:
            data = h5["events"][feat][:]
            data[idx] = -3.5  # what an overflow produced: nonsense
            del h5["events"][feat]
            h5["events"][feat] = data
    return path


def _open(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = cytolab.new_dataset(path)
    hidden = {feat for feat in INERTIA for w in caught
              if issubclass(w.category, BadFeatureSizeWarning)
              and f"'{feat}'" in str(w.message)}
    return ds, hidden


def test_correct_values_of_old_writer_are_kept(truth, tmp_path):
    path = _variant(truth, tmp_path, "dclab 0.40.0")
    ds, hidden = _open(path)
    with ds:
        assert hidden == set()
        assert set(INERTIA) <= set(ds.features_innate)


@pytest.mark.parametrize("version", ["dclab 0.40.0", "ShapeIn 2.0.4",
                                     "ShapeIn 2.0.4 | dclab 0.48.1"])
def test_overflowed_values_are_recomputed(truth, tmp_path, version):
    path = _variant(truth, tmp_path, version, corrupt=["inert_ratio_cvx", "tilt"])
    ds, hidden = _open(path)
    with ds, h5py.File(truth) as h5:
        assert hidden == {"inert_ratio_cvx", "tilt"}
        assert "inert_ratio_cvx" in ds.features_ancillary
        assert "inert_ratio_raw" in ds.features_innate
        for feat in ("inert_ratio_cvx", "tilt"):
            np.testing.assert_allclose(ds[feat], h5["events"][feat][:], rtol=1e-12)


def test_only_the_rightmost_events_are_checked(truth, tmp_path):
    # an event far left cannot have overflowed; it is not looked at
    path = _variant(truth, tmp_path, "dclab 0.40.0", corrupt=["tilt"],
                    where="leftmost")
    ds, hidden = _open(path)
    with ds:
        assert hidden == set()


@pytest.mark.parametrize("version", ["ShapeIn 2.0.4 | dclab 0.48.2",
                                     "dclab 0.50.4", "CytoShot 0.0.6 | dclab 0.51.0"])
def test_values_exported_by_fixed_dclab_are_trusted(truth, tmp_path, version):
    path = _variant(truth, tmp_path, version, corrupt=["inert_ratio_cvx", "tilt"])
    ds, hidden = _open(path)
    with ds:
        assert hidden == set()


@pytest.mark.parametrize("version", ["ShapeIn 2.0.5", "2.2.0.0", "CytoShot 0.0.6",
                                     "cytolab 0.1.0"])
def test_writers_without_the_bug_are_trusted(truth, tmp_path, version):
    path = _variant(truth, tmp_path, version, corrupt=["inert_ratio_cvx", "tilt"])
    ds, hidden = _open(path)
    with ds:
        assert hidden == set()


@pytest.mark.parametrize("version", ["ShapeIn 2.0.7 | dclab 0.22.1",
                                     "2.2.0.0 | dclab 0.29.1"])
def test_shapein_205_ratios_are_trusted_but_not_old_dclab_tilt(truth, tmp_path,
                                                              version):
    path = _variant(truth, tmp_path, version,
                    corrupt=["inert_ratio_cvx", "inert_ratio_raw", "tilt"])
    ds, hidden = _open(path)
    with ds:
        assert hidden == {"tilt"}


def test_without_raw_data_stored_values_are_kept(truth, tmp_path):
    path = _variant(truth, tmp_path, "dclab 0.40.0", corrupt=["tilt"])
    with h5py.File(path, "a") as h5:
        del h5["events/mask"]
    ds, hidden = _open(path)
    with ds:
        assert hidden == set()
        assert "tilt" in ds.features_innate
