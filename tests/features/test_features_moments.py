"""Contour moments and the shape features derived from them.

Conformance: the features are recomputed from the contours of the stored
masks and compared with the values the reference tools stored (Shape-In,
dclab, CytoShot/dcnum). Tolerance: 1e-6 relative; float32 storage alone
accounts for up to 6e-8. Explained exceptions (separate tests):

* ``inert_ratio_prnc`` of the CytoShot files processed by dclab 0.50: dclab
  rotated the contour about the image origin in single precision before
  summing the moments; we compute the principal moments in closed form.
  The deviation (up to 1.75e-5) stays below ``eps_float32 * R / s_min``
  (R: largest distance of a contour point from the image origin, s_min:
  minor radius of gyration), the rounding error of float32 coordinates.
* ``fmt-hdf5_fl-no-contour_2019`` ("mask_with_artefact"), event 2: the mask
  holds two objects; Shape-In computed the features from the smaller one
  (the first in raster order), we keep the longest contour as dclab does.
  The stored values match the other object exactly.
* ``fmt-hdf5_polygon_gate_2021`` stores placeholder values (e.g. ``circ`` =
  31.67), and ``fmt-hdf5_fl_2017`` ("in-silico") random values unrelated to
  its contours; neither can serve as a reference.
"""
from __future__ import annotations

import warnings

import cv2
import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from realdata import real_file

from cytolab.features import (
    LazyContour,
    contour_moments,
    convex_hulls,
    get_contour,
    get_inert_ratio_cvx,
    get_inert_ratio_prnc,
    get_inert_ratio_raw,
    get_tilt,
    moments_features,
)
from cytolab.features.moments import MOMENTS_FEATURES, PIXEL_SIZE_FEATURES

EPS32 = float(np.finfo(np.float32).eps)


def rectangle(x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Closed polygon of a w x h rectangle (with points on the edges)."""
    top = [(x, y0) for x in range(x0, x0 + w)]
    right = [(x0 + w, y) for y in range(y0, y0 + h)]
    bottom = [(x, y0 + h) for x in range(x0 + w, x0, -1)]
    left = [(x0, y) for y in range(y0 + h, y0, -1)]
    return np.array(top + right + bottom + left)


def ellipse(a: float, b: float, angle: float = 0.0, center=(300.0, 40.0),
            n: int = 4000) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = a * np.cos(t), b * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([center[0] + ca * x - sa * y, center[1] + sa * x + ca * y],
                    axis=1)


# moments
def test_rectangle_moments_exact():
    w, h = 12, 5
    mom = contour_moments(rectangle(7, 3, w, h))
    assert mom["m00"] == w * h
    assert mom["cx"] == pytest.approx(7 + w / 2, rel=1e-15)
    assert mom["cy"] == pytest.approx(3 + h / 2, rel=1e-15)
    assert mom["mu20"] == pytest.approx(w**3 * h / 12, rel=1e-14)
    assert mom["mu02"] == pytest.approx(w * h**3 / 12, rel=1e-14)
    assert mom["mu11"] == pytest.approx(0, abs=1e-9)
    assert get_inert_ratio_raw(rectangle(7, 3, w, h)) == pytest.approx(w / h)


@settings(max_examples=80, deadline=None)
@given(arrays(bool, st.tuples(st.integers(3, 20), st.integers(3, 30))),
       st.integers(0, 700), st.integers(0, 300))
def test_moments_agree_with_opencv(mask, dx, dy):
    """Same moments as ``cv2.moments`` on traced random masks."""
    cont = get_contour(mask)
    if len(cont) < 3:
        return
    cont = cont + [dx, dy]
    ref = cv2.moments(cont.astype(np.int32))
    mom = contour_moments(cont)
    if ref["m00"] == 0:
        assert np.isnan(mom["m00"])
        return
    for key in ["m00", "m10", "m01", "m20", "m11", "m02"]:
        assert mom[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-9), key
    # OpenCV subtracts large raw moments in double precision (cancellation
    # far from the origin); ours are exact up to the final rounding
    scale = ref["m20"] + ref["m02"]
    for key in ["mu20", "mu11", "mu02"]:
        assert mom[key] == pytest.approx(ref[key], abs=1e-12 * scale), key


def test_orientation_and_start_point_do_not_matter():
    cont = get_contour(np.pad(np.tri(9, 14, 3, dtype=bool), 2))
    feats = moments_features([cont, cont[::-1], np.roll(cont, 7, axis=0)],
                             pixel_size=0.5)
    for name, values in feats.items():
        np.testing.assert_allclose(values[1:], values[0], rtol=1e-12,
                                   err_msg=name)


def test_no_integer_overflow_far_from_origin():
    """dclab issue #212: 32-bit products overflowed for large x.

    The sums are taken relative to the first point in 64-bit integers, so a
    contour at x = 60000 gives exactly the result at x = 0.
    """
    cont = get_contour(np.pad(np.tri(20, 90, 10, dtype=bool), 1))
    near = moments_features(cont[None], features=["inert_ratio_raw", "tilt",
                                                  "inert_ratio_prnc"])
    far_cont = (cont + [60000, 30000]).astype(np.uint16)
    far = moments_features([far_cont], features=list(near))
    for name in near:
        np.testing.assert_allclose(far[name], near[name], rtol=1e-12)
    # the naive 32-bit computation would indeed have overflowed
    x = far_cont[:, 0].astype(np.int32)
    y = far_cont[:, 1].astype(np.int32)
    with np.errstate(over="ignore"):
        naive = (np.roll(x, 1) * y - x * np.roll(y, 1)) * (x * x)
    exact = ((np.roll(x, 1).astype(np.int64) * y - x.astype(np.int64)
              * np.roll(y, 1)) * (x.astype(np.int64) ** 2))
    assert not np.array_equal(naive, exact)


def test_huge_contours_fall_back_to_float():
    big = rectangle(0, 0, 30000, 20000)[::50]
    feats = moments_features([big], features=["area_msd", "inert_ratio_raw"])
    assert feats["area_msd"][0] == pytest.approx(30000 * 20000, rel=1e-12)
    assert feats["inert_ratio_raw"][0] == pytest.approx(1.5, rel=1e-12)


# derived features
@pytest.mark.parametrize("angle", [0.0, 0.3, -0.7, np.pi / 2, 2.0])
def test_principal_features_of_rotated_ellipse(angle):
    a, b = 30.0, 12.0
    feats = moments_features([ellipse(a, b, angle)])
    assert feats["inert_ratio_prnc"][0] == pytest.approx(a / b, rel=1e-5)
    assert feats["eccentr_prnc"][0] == pytest.approx(np.sqrt(1 - b**2 / a**2),
                                                     rel=1e-5)
    expected_tilt = abs((angle + np.pi / 2) % np.pi - np.pi / 2)
    assert feats["tilt"][0] == pytest.approx(expected_tilt, abs=1e-6)
    if angle == 0:
        assert feats["inert_ratio_raw"][0] == pytest.approx(a / b, rel=1e-5)
    if angle == np.pi / 2:
        assert feats["inert_ratio_raw"][0] == pytest.approx(b / a, rel=1e-5)


def test_tilt_of_isotropic_shape_is_right_angle():
    """Orientation undefined (mu11 = 0, mu20 = mu02): pi/2 like dclab."""
    assert get_tilt(rectangle(3, 3, 6, 6)) == pytest.approx(np.pi / 2)
    assert get_tilt(rectangle(3, 3, 6, 2)) == 0
    assert get_tilt(rectangle(3, 3, 2, 6)) == pytest.approx(np.pi / 2)


def test_convex_hull_features():
    notched = np.array([[0, 0], [5, 3], [10, 0], [10, 6], [0, 6]])
    box = np.array([[0, 0], [10, 0], [10, 6], [0, 6]])
    feats = moments_features([notched, box], pixel_size=2.0)
    assert feats["area_msd"].tolist() == [45.0, 60.0]
    assert feats["area_cvx"].tolist() == [60.0, 60.0]
    assert feats["area_um"].tolist() == [240.0, 240.0]
    assert feats["area_um_raw"].tolist() == [180.0, 240.0]
    assert feats["inert_ratio_cvx"][0] == feats["inert_ratio_cvx"][1]
    assert feats["per_ratio"][0] > 1 and feats["per_ratio"][1] == 1
    assert feats["per_um_raw"][1] == pytest.approx(2 * 32)
    # the hull centroid is the position
    assert feats["pos_x"].tolist() == [10.0, 10.0]
    assert feats["pos_y"].tolist() == [6.0, 6.0]
    # bounding box counts pixels
    assert feats["size_x"].tolist() == [22.0, 22.0]
    assert feats["size_y"].tolist() == [14.0, 14.0]
    hull = convex_hulls(notched)
    assert {tuple(p) for p in hull.tolist()} == {tuple(p) for p in box.tolist()}


def test_circularity_of_circle_and_square():
    circle = ellipse(40, 40, n=20000)
    feats = moments_features([circle, rectangle(0, 0, 10, 10)],
                             features=["circ", "deform", "deform_raw"])
    assert feats["circ"][0] == pytest.approx(1, abs=1e-7)
    assert feats["deform"][0] == pytest.approx(0, abs=1e-7)
    # square: 2 sqrt(pi A) / P = sqrt(pi) / 2
    assert feats["circ"][1] == pytest.approx(np.sqrt(np.pi) / 2, rel=1e-7)
    assert feats["deform_raw"][1] == pytest.approx(1 - np.sqrt(np.pi) / 2,
                                                   rel=1e-6)


def test_single_contour_and_sequences():
    rect = rectangle(0, 0, 8, 4)
    assert isinstance(get_inert_ratio_raw(rect), float)
    assert isinstance(get_inert_ratio_cvx(rect), float)
    assert isinstance(get_inert_ratio_prnc(rect), float)
    assert isinstance(get_tilt(rect), float)
    values = get_inert_ratio_raw([rect, rect.T.T[::-1]])
    assert isinstance(values, np.ndarray) and values.shape == (2,)
    # OpenCV layout (J, 1, 2), unsigned, float, stacked (K, J, 2)
    assert get_inert_ratio_raw([rect[:, None, :]])[0] == pytest.approx(2)
    assert get_inert_ratio_raw([rect.astype(np.uint16)])[0] == pytest.approx(2)
    assert get_inert_ratio_raw([rect.astype(float)])[0] == pytest.approx(2)
    assert get_inert_ratio_raw(np.stack([rect, rect])).shape == (2,)
    masks = np.zeros((3, 10, 20), dtype=bool)
    masks[:, 2:6, 3:15] = True
    assert get_tilt(LazyContour(masks)).tolist() == [0, 0, 0]


def test_pixel_size_features():
    cont = [rectangle(0, 0, 4, 2)]
    no_pix = moments_features(cont)
    assert set(no_pix) == set(MOMENTS_FEATURES) - set(PIXEL_SIZE_FEATURES)
    assert set(moments_features(cont, pixel_size=0.34)) == set(MOMENTS_FEATURES)
    with pytest.raises(ValueError, match="pixel_size is required"):
        moments_features(cont, features=["pos_x"])
    with pytest.raises(ValueError, match="positive"):
        moments_features(cont, pixel_size=0)
    with pytest.raises(ValueError, match="positive"):
        moments_features(cont, pixel_size="big")
    with pytest.raises(ValueError, match="Unknown shape feature"):
        moments_features(cont, features=["volume"])
    assert list(moments_features(cont, features=["tilt", "circ"])) == \
        ["tilt", "circ"]


# bad input
def test_degenerate_contours_give_nan_without_warnings():
    rect = rectangle(0, 0, 5, 3)
    bad = [
        np.zeros((0, 2), dtype=np.int32),  # empty mask
        np.array([[4, 4]]),  # one-pixel event
        np.array([[4, 4], [5, 4]]),  # two points
        np.array([[0, 0], [1, 1], [2, 2], [3, 3]]),  # a line, zero area
        np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0]]) * 0,  # one point x5
        np.array([[0.0, 0], [np.nan, 2], [3, 2], [3, 0]]),  # NaN
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feats = moments_features([rect] + bad, pixel_size=0.34)
    for name, values in feats.items():
        assert np.isfinite(values[0]), name
        assert np.all(np.isnan(values[1:])), name


def test_empty_input():
    feats = moments_features([], pixel_size=1.0)
    assert set(feats) == set(MOMENTS_FEATURES)
    assert all(v.shape == (0,) and v.dtype == np.float64 for v in feats.values())
    assert contour_moments([])["m00"].shape == (0,)


def test_only_degenerate_contours():
    feats = moments_features([np.zeros((0, 2)), np.ones((1, 2))], pixel_size=1)
    assert all(np.isnan(v).all() for v in feats.values())


def test_bad_contour_shape():
    with pytest.raises(ValueError, match="contour 1 .*shape"):
        moments_features([rectangle(0, 0, 3, 3), np.zeros((4, 3))])
    with pytest.raises(ValueError, match="contour .*shape"):
        get_inert_ratio_raw(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="numbers"):
        moments_features([np.array([["a", "b"], ["c", "d"]])])


# conformance with the stored features of real files
#: file -> number of events to compare (None: all). example_video stores
#: more masks (20) than events (10).
CONFORMANCE_FILES = {
    "fmt-hdf5_cytoshot_extended-moments-features": None,
    "fmt-hdf5_cytoshot_full-features_2023": None,
    "fmt-hdf5_cytoshot_full-features_legacy_allev_2023": None,
    "fmt-hdf5_fl-no-contour_2019": None,
    "fmt-hdf5_fl_2018": None,
    "fmt-hdf5_image-bg_2020": None,
    "fmt-hdf5_mask-contour_2018": None,
    "fmt-hdf5_wide-channel_2023": None,
    "example_video": 10,
}

#: (file, feature) -> events explained in the module docstring
EXCLUDED = {
    ("fmt-hdf5_fl-no-contour_2019", None): [2],
    ("fmt-hdf5_cytoshot_full-features_2023", "inert_ratio_prnc"): "all",
    ("fmt-hdf5_cytoshot_full-features_legacy_allev_2023",
     "inert_ratio_prnc"): "all",
}


def _recompute(path, size=None):
    with h5py.File(path, "r") as h5:
        events = h5["events"]
        size = len(events["mask"]) if size is None else size
        masks = events["mask"][:size]
        stored = {name: events[name][:size].astype(np.float64)
                  for name in MOMENTS_FEATURES if name in events}
        pix = float(h5.attrs["imaging:pixel size"])
    contours = get_contour(masks)
    return contours, moments_features(contours, pixel_size=pix), stored


@pytest.mark.parametrize("name", sorted(CONFORMANCE_FILES))
def test_conformance_stored_features(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    _, computed, stored = _recompute(path, CONFORMANCE_FILES[name])
    assert stored, "file stores no shape feature"
    for feat, ref in stored.items():
        keep = np.ones(len(ref), dtype=bool)
        skip = EXCLUDED.get((name, feat), EXCLUDED.get((name, None), []))
        if skip == "all":
            continue
        keep[skip] = False
        np.testing.assert_allclose(computed[feat][keep], ref[keep], rtol=1e-6,
                                   atol=0, err_msg=f"{name}: {feat}")


@pytest.mark.parametrize("name", ["fmt-hdf5_cytoshot_full-features_2023",
                                  "fmt-hdf5_cytoshot_full-features_legacy_allev_2023"])
def test_conformance_inert_ratio_prnc_float32_rotation(real_rtdc_files, name):
    """dclab 0.50 rotated the contour about (0, 0) in single precision.

    The coordinates of the rotated contour are then off by up to
    ``eps32 * R`` (R: distance from the image origin), which changes the
    second moments about the principal axes by a relative amount of about
    ``eps32 * R / s_min`` (s_min: minor radius of gyration). All deviations
    are below that bound and tiny for large events.
    """
    path = real_file(real_rtdc_files, name)
    contours, computed, stored = _recompute(path)
    mom = contour_moments(contours)
    half = np.hypot((mom["mu20"] - mom["mu02"]) / 2, mom["mu11"])
    lmin = (mom["mu20"] + mom["mu02"]) / 2 - half
    radius = np.array([np.sqrt((c.astype(float) ** 2).sum(axis=1).max())
                       for c in contours])
    bound = EPS32 * radius / np.sqrt(lmin / mom["m00"])
    rel = np.abs(computed["inert_ratio_prnc"] / stored["inert_ratio_prnc"] - 1)
    assert np.all(rel <= bound)
    assert rel.max() < 2e-5
    # the principal ratio is the largest ratio over all directions
    assert np.all(computed["inert_ratio_prnc"] >= computed["inert_ratio_raw"] - 1e-12)


def test_conformance_extended_moments_eccentricity(real_rtdc_files):
    """CytoShot stores eccentr_prnc computed without the float32 rotation."""
    path = real_file(real_rtdc_files, "fmt-hdf5_cytoshot_extended-moments-features")
    _, computed, stored = _recompute(path)
    np.testing.assert_allclose(computed["eccentr_prnc"], stored["eccentr_prnc"],
                               rtol=1e-10)
    # perimeters are rounded like OpenCV's arcLength: identical
    np.testing.assert_array_equal(computed["per_um_raw"], stored["per_um_raw"])


def test_conformance_shapein_kept_other_object(real_rtdc_files):
    """mask_with_artefact, event 2: Shape-In measured the other object."""
    path = real_file(real_rtdc_files, "fmt-hdf5_fl-no-contour_2019")
    with h5py.File(path, "r") as h5:
        mask = h5["events/mask"][2]
        stored = {name: float(h5["events"][name][2]) for name in
                  ["area_msd", "area_cvx", "pos_x", "pos_y", "inert_ratio_raw",
                   "inert_ratio_cvx", "circ", "size_x", "size_y"]}
        pix = float(h5.attrs["imaging:pixel size"])
    found, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    objects = [f.reshape(-1, 2) for f in found if len(f) >= 3]
    assert len(objects) == 2
    ours = get_contour(mask)
    other = [c for c in objects if len(c) != len(ours)][0]
    assert len(other) < len(ours)
    feats = moments_features([other], pixel_size=pix)
    for name, ref in stored.items():
        assert feats[name][0] == pytest.approx(ref, rel=1e-6), name
    # and ours is the longest contour, as documented
    assert moments_features([ours], features=["area_msd"])["area_msd"][0] \
        != stored["area_msd"]
