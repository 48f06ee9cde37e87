"""Brightness kernels (``bright_*``) and their ancillary recipes.

Conformance: the values stored by the reference tools in the real files are
reproduced. Files written by dclab (CytoShot 2023) store float64 values:
we agree to 1e-12 relative (only the last bits of the SD differ, from a
different summation order). Files written by Shape-In store float32 values:
we agree to 1e-6 relative (float32 rounding).
"""
from __future__ import annotations

import h5py
import hdf5plugin  # noqa: F401  (Zstd filter for some of the real files)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from realdata import real_file

import cytolab
from cytolab.features import bright
from cytolab.features.bright import (
    bright_bc_features,
    bright_features,
    get_bright,
    get_bright_bc,
    get_bright_perc,
)

BC_NAMES = ("bright_bc_avg", "bright_bc_sd", "bright_perc_10", "bright_perc_90")

#: Files whose stored bright_avg/bright_sd follow from image and mask.
#: float64 files (dclab) to 1e-12, float32 files (Shape-In) to 1e-6.
BRIGHT_FILES = {
    "fmt-hdf5_cytoshot_full-features_2023": 1e-12,
    "fmt-hdf5_cytoshot_full-features_legacy_allev_2023": 1e-12,
    "fmt-hdf5_fl_2018": 1e-6,
    "fmt-hdf5_image-bg_2020": 1e-6,
    "fmt-hdf5_mask-contour_2018": 1e-6,
    "fmt-hdf5_wide-channel_2023": 1e-6,
    "example_video": 1e-6,
}
# Not listed, on purpose:
# - fmt-hdf5_fl-no-contour_2019 ("mask_with_artefact"): every mask carries
#   the same 28-pixel artefact next to the cell; Shape-In computed the
#   stored brightness from the cell contour only (see
#   test_bright_of_masks_with_artefact).
# - fmt-hdf5_polygon_gate_2021: every scalar is a placeholder constant.

BC_FILES = ("fmt-hdf5_cytoshot_full-features_2023",
            "fmt-hdf5_cytoshot_full-features_legacy_allev_2023")


def _read(path, *names):
    with h5py.File(path, "r") as h5:
        return {name: h5["events"][name][:] for name in names}


def _naive(mask, image, image_bg=None):
    """Per-event reference with plain NumPy (loop over events)."""
    out = {k: [] for k in ("avg", "sd", "p10", "p90")}
    for m, im, bg in zip(mask, image,
                         image_bg if image_bg is not None else [None] * len(mask)):
        vals = im[m.astype(bool)].astype(np.int64)
        if bg is not None:
            vals = vals - bg[m.astype(bool)]
        if vals.size == 0:
            for k in out:
                out[k].append(np.nan)
            continue
        out["avg"].append(vals.mean())
        out["sd"].append(vals.std())
        out["p10"].append(np.percentile(vals, 10))
        out["p90"].append(np.percentile(vals, 90))
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def _relerr(value, ref):
    value, ref = np.asarray(value, float), np.asarray(ref, float)
    assert np.array_equal(np.isnan(value), np.isnan(ref))
    ok = ~np.isnan(ref)
    scale = np.maximum(np.abs(ref[ok]), 1e-300)
    return float(np.max(np.abs(value[ok] - ref[ok]) / scale, initial=0))


# --------------------------------------------------------------------------
# conformance with the real files
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BRIGHT_FILES))
def test_bright_matches_stored_values(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    data = _read(path, "mask", "image", "bright_avg", "bright_sd")
    num = len(data["bright_avg"])  # example_video stores 20 masks, 10 events
    res = bright_features(data["mask"][:num], data["image"][:num])
    for feat in ("bright_avg", "bright_sd"):
        assert _relerr(res[feat], data[feat]) < BRIGHT_FILES[name], feat


def test_bright_of_masks_with_artefact(real_rtdc_files):
    """Without the artefact common to all masks, the stored values follow."""
    path = real_file(real_rtdc_files, "fmt-hdf5_fl-no-contour_2019")
    data = _read(path, "mask", "image", "bright_avg", "bright_sd")
    mask = data["mask"] > 0
    artefact = np.logical_and.reduce(mask)
    assert artefact.sum() == 28
    raw = bright_features(mask, data["image"])
    assert _relerr(raw["bright_avg"], data["bright_avg"]) > 0.1
    res = bright_features(mask & ~artefact, data["image"])
    for feat in ("bright_avg", "bright_sd"):
        assert _relerr(res[feat], data[feat]) < 1e-6, feat


@pytest.mark.parametrize("name", BC_FILES)
def test_bright_bc_matches_stored_values(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    data = _read(path, "mask", "image", "image_bg", *BC_NAMES)
    res = bright_bc_features(data["mask"], data["image"], data["image_bg"])
    assert _relerr(res["bright_bc_avg"], data["bright_bc_avg"]) < 1e-12
    assert _relerr(res["bright_bc_sd"], data["bright_bc_sd"]) < 1e-12
    # percentiles: bit-identical (same interpolation arithmetic as NumPy)
    np.testing.assert_array_equal(res["bright_perc_10"], data["bright_perc_10"])
    np.testing.assert_array_equal(res["bright_perc_90"], data["bright_perc_90"])


@pytest.mark.parametrize("name", BC_FILES)
def test_dataset_recomputes_stored_brightness(real_rtdc_files, name):
    """Ancillary recipes on a dataset that only has image, image_bg, mask."""
    path = real_file(real_rtdc_files, name)
    data = _read(path, "mask", "image", "image_bg", "bright_avg", "bright_sd",
                 *BC_NAMES)
    ds = cytolab.new_dataset({k: data[k] for k in ("mask", "image", "image_bg")})
    assert "bright_avg" in ds.features_ancillary
    for feat in ("bright_avg", "bright_sd", *BC_NAMES):
        assert _relerr(ds[feat], data[feat]) < 1e-12, feat


def test_dataset_hdf5_streams_in_chunks(tmp_path, real_rtdc_files, monkeypatch):
    """Through an .rtdc file written without brightness, in small chunks."""
    path = real_file(real_rtdc_files, "fmt-hdf5_cytoshot_full-features_2023")
    data = _read(path, "mask", "image", "image_bg", "bright_avg", *BC_NAMES)
    out = tmp_path / "images_only.rtdc"
    with cytolab.RTDCWriter(out, mode="reset") as hw:
        hw.store_metadata({"experiment": {"sample": "t", "run index": 1},
                           "imaging": {"pixel size": 0.2645, "roi size x": 400,
                                       "roi size y": 80}})
        for feat in ("mask", "image", "image_bg"):
            hw.store_feature(feat, data[feat])
    from cytolab.rtdc.ancillaries import chunks

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 7 * 3 * 80 * 400)  # ~7 events
    with cytolab.new_dataset(out) as ds:
        assert "bright_avg" not in ds.features_innate
        assert _relerr(ds["bright_avg"], data["bright_avg"]) < 1e-12
        np.testing.assert_array_equal(ds["bright_perc_90"], data["bright_perc_90"])


def test_recipes_share_one_computation(monkeypatch):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (5, 10, 12), dtype=np.uint8)
    mask = rng.random((5, 10, 12)) > 0.5
    ds = cytolab.new_dataset({"image": image, "mask": mask, "image_bg": image})
    calls = []
    real = bright.bright_features

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    from cytolab.rtdc.ancillaries import bright as anc_bright

    monkeypatch.setattr(anc_bright, "bright_features", counting)
    ds["bright_avg"]
    ds["bright_sd"]
    assert len(calls) == 1
    # background-corrected image of an image minus itself is 0 everywhere
    np.testing.assert_array_equal(ds["bright_bc_avg"], 0)


def test_bg_off_is_subtracted_and_invalidates_cache():
    rng = np.random.default_rng(1)
    image = rng.integers(50, 200, (4, 8, 9), dtype=np.uint8)
    image_bg = rng.integers(50, 200, (4, 8, 9), dtype=np.uint8)
    mask = np.ones((4, 8, 9), bool)
    ds = cytolab.new_dataset({"image": image, "image_bg": image_bg, "mask": mask})
    before = np.array(ds["bright_perc_10"])
    off = np.array([1.0, 2.0, -3.5, 0.0])
    ref = bright_bc_features(mask, image, image_bg, bg_off=off)
    ds2 = cytolab.new_dataset({"image": image, "image_bg": image_bg, "mask": mask,
                               "bg_off": off})
    np.testing.assert_allclose(ds2["bright_perc_10"], before - off)
    np.testing.assert_allclose(ds2["bright_bc_avg"], ref["bright_bc_avg"])
    # SD is unaffected by a per-event constant
    np.testing.assert_allclose(ds2["bright_bc_sd"], ds["bright_bc_sd"])


# --------------------------------------------------------------------------
# properties against a plain NumPy reference
# --------------------------------------------------------------------------
@st.composite
def _events(draw, dtype=np.uint8):
    num = draw(st.integers(0, 6))
    height = draw(st.integers(1, 7))
    width = draw(st.integers(1, 7))
    shape = (num, height, width)
    elems = st.integers(0, 255) if dtype == np.uint8 else st.integers(0, 60000)
    image = draw(hnp.arrays(dtype, shape, elements=elems))
    image_bg = draw(hnp.arrays(dtype, shape, elements=elems))
    mask = draw(hnp.arrays(bool, shape))
    return mask, image, image_bg


@settings(max_examples=150, deadline=None)
@given(_events())
def test_bright_equals_numpy_reference(events):
    mask, image, image_bg = events
    ref = _naive(mask, image)
    res = bright_features(mask, image)
    np.testing.assert_allclose(res["bright_avg"], ref["avg"], rtol=1e-12)
    np.testing.assert_allclose(res["bright_sd"], ref["sd"], rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(_events())
def test_bright_bc_equals_numpy_reference(events):
    mask, image, image_bg = events
    ref = _naive(mask, image, image_bg)
    res = bright_bc_features(mask, image, image_bg)
    np.testing.assert_allclose(res["bright_bc_avg"], ref["avg"], rtol=1e-12)
    np.testing.assert_allclose(res["bright_bc_sd"], ref["sd"], rtol=1e-9, atol=1e-9)
    # percentiles are bit-identical to np.percentile
    np.testing.assert_array_equal(res["bright_perc_10"], ref["p10"])
    np.testing.assert_array_equal(res["bright_perc_90"], ref["p90"])


@settings(max_examples=60, deadline=None)
@given(_events(dtype=np.uint16))
def test_bright_bc_16bit_images(events):
    """16-bit images: int32 arithmetic, no overflow."""
    mask, image, image_bg = events
    ref = _naive(mask, image, image_bg)
    res = bright_bc_features(mask, image, image_bg)
    np.testing.assert_allclose(res["bright_bc_avg"], ref["avg"], rtol=1e-12)
    np.testing.assert_array_equal(res["bright_perc_10"], ref["p10"])
    np.testing.assert_array_equal(res["bright_perc_90"], ref["p90"])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_percentile_paths_agree(monkeypatch, dtype):
    """Histogram path (small gray-level span) and sort path give equal values."""
    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max + 1
    image = rng.integers(0, top, (30, 9, 11), dtype=dtype)
    image_bg = rng.integers(0, top, (30, 9, 11), dtype=dtype)
    mask = rng.random((30, 9, 11)) > 0.3
    mask[4] = False
    ref = _naive(mask, image, image_bg)
    hist = bright_bc_features(mask, image, image_bg)
    monkeypatch.setattr(bright, "_MAX_HIST_BINS", 0)  # force the sort path
    ordered = bright_bc_features(mask, image, image_bg)
    for name in BC_NAMES:
        np.testing.assert_array_equal(hist[name], ordered[name])
    np.testing.assert_array_equal(ordered["bright_perc_10"], ref["p10"])


def test_no_int8_wraparound():
    image = np.array([[[0, 255]]], dtype=np.uint8)
    image_bg = np.array([[[255, 0]]], dtype=np.uint8)
    mask = np.ones((1, 1, 2), bool)
    res = bright_bc_features(mask, image, image_bg)
    assert res["bright_perc_10"][0] == pytest.approx(-255 + 0.1 * 510)
    assert res["bright_bc_avg"][0] == 0
    assert res["bright_bc_sd"][0] == 255


def test_float_images_allowed_for_plain_brightness():
    image = np.array([[0.5, 1.5], [2.5, 100.0]])
    mask = np.array([[True, True], [True, False]])
    assert get_bright(mask, image) == pytest.approx((1.5, np.std([0.5, 1.5, 2.5])))


# --------------------------------------------------------------------------
# user-facing API
# --------------------------------------------------------------------------
def test_get_bright_single_list_and_stack():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 255, (3, 6, 5), dtype=np.uint8)
    masks = rng.random((3, 6, 5)) > 0.4
    avg, sd = get_bright(masks, images)
    assert avg.shape == sd.shape == (3,)
    lavg, lsd = get_bright(list(masks), list(images))
    np.testing.assert_array_equal(avg, lavg)
    single = get_bright(masks[1], images[1])
    assert isinstance(single[0], float)
    assert single == (avg[1], sd[1])


def test_ret_data_alphabetical_and_single_metric():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    mask = image % 2 == 0
    assert get_bright(mask, image, "sd,avg") == get_bright(mask, image, "avg,sd")
    assert get_bright(mask, image, "avg") == 5.0
    assert get_bright(mask, image, " sd ") == pytest.approx(np.std(image[mask]))
    with pytest.raises(ValueError, match="ret_data"):
        get_bright(mask, image, "median")
    with pytest.raises(ValueError, match="ret_data"):
        get_bright(mask, image, "")


def test_get_bright_bc_and_perc_single_event():
    image = np.array([[90, 100, 120, 200]], dtype=np.uint8)
    image_bg = np.full((1, 4), 100, dtype=np.uint8)
    mask = np.array([[True, True, True, False]])
    avg, sd = get_bright_bc(mask, image, image_bg)
    assert avg == pytest.approx(10 / 3)
    assert sd == pytest.approx(np.std([-10, 0, 20]))
    assert get_bright_bc(mask, image, image_bg, bg_off=2, ret_data="avg") \
        == pytest.approx(10 / 3 - 2)
    p10, p90 = get_bright_perc(mask, image, image_bg)
    assert (p10, p90) == (np.percentile([-10, 0, 20], 10),
                          np.percentile([-10, 0, 20], 90))


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
def test_empty_mask_gives_nan():
    image = np.full((2, 4, 4), 7, dtype=np.uint8)
    mask = np.zeros((2, 4, 4), bool)
    mask[1, 2, 2] = True
    res = bright_features(mask, image)
    assert np.isnan(res["bright_avg"][0]) and np.isnan(res["bright_sd"][0])
    assert res["bright_avg"][1] == 7 and res["bright_sd"][1] == 0
    bc = bright_bc_features(mask, image, image)
    for name in BC_NAMES:
        assert np.isnan(bc[name][0])
        assert bc[name][1] == 0
    assert all(np.isnan(v) for v in get_bright(mask[0], image[0]))


def test_all_masks_empty_and_zero_events():
    image = np.zeros((3, 2, 2), np.uint8)
    res = bright_bc_features(np.zeros((3, 2, 2), bool), image, image)
    assert all(np.isnan(v).all() for v in res.values())
    none = bright_features(np.zeros((0, 5, 5), bool), np.zeros((0, 5, 5), np.uint8))
    assert none["bright_avg"].shape == (0,)


def test_one_pixel_event():
    image = np.zeros((1, 80, 250), np.uint8)
    image[0, 79, 249] = 200
    mask = image > 0
    assert get_bright(mask, image) == (200.0, 0.0)
    assert get_bright_perc(mask, image, np.zeros_like(image)) == (200.0, 200.0)


def test_mismatched_shapes_name_the_argument():
    mask = np.ones((2, 4, 5), bool)
    with pytest.raises(ValueError, match="image has shape"):
        get_bright(mask, np.ones((2, 4, 6), np.uint8))
    with pytest.raises(ValueError, match="image has shape"):
        get_bright(mask, np.ones((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="image_bg has shape"):
        get_bright_bc(mask, np.ones((2, 4, 5), np.uint8), np.ones((4, 5), np.uint8))
    with pytest.raises(ValueError, match="mask must be a 2-D image or a 3-D"):
        get_bright(np.ones(5, bool), np.ones(5, np.uint8))
    with pytest.raises(ValueError, match="same shape"):
        get_bright([np.ones((2, 2), bool), np.ones((3, 3), bool)],
                   [np.ones((2, 2)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="bg_off"):
        get_bright_bc(mask, np.ones((2, 4, 5), np.uint8),
                      np.ones((2, 4, 5), np.uint8), bg_off=[1, 2, 3])


def test_wrong_dtypes():
    mask = np.ones((3, 3), bool)
    with pytest.raises(ValueError, match="mask must be a boolean or integer"):
        get_bright(np.ones((3, 3), float), np.ones((3, 3), np.uint8))
    with pytest.raises(ValueError, match="image must be a real-valued"):
        get_bright(mask, np.ones((3, 3), complex))
    with pytest.raises(ValueError, match="image must be a real-valued"):
        get_bright(mask, np.full((3, 3), "a"))
    with pytest.raises(ValueError, match="image_bg must be an integer"):
        get_bright_bc(mask, np.ones((3, 3), np.uint8), np.ones((3, 3)))
    # integer masks (as stored in files, 0/255) are accepted
    assert get_bright(np.full((3, 3), 255, np.uint8), np.ones((3, 3)), "avg") == 1
