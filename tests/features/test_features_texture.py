"""Haralick texture features (``tex_*``) and their ancillary recipe.

Conformance: the 22 stored features of the two CytoShot files (written with
dclab/mahotas) are reproduced to 1e-10 relative (observed: below 1e-12;
the residue comes from the different order of floating-point sums).

The vectorized kernel never builds a GLCM; it is checked here against a
plain per-event implementation with dense co-occurrence matrices and the
textbook formulas.
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
from cytolab.features.texture import (
    TEXTURE_FEATURES,
    TEXTURE_NAMES,
    get_texture,
    texture_features,
)

TEX_FILES = ("fmt-hdf5_cytoshot_full-features_2023",
             "fmt-hdf5_cytoshot_full-features_legacy_allev_2023")


# --------------------------------------------------------------------------
# dense reference implementation (one event, one GLCM at a time)
# --------------------------------------------------------------------------
def _entropy(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def _glcm(levels, dy, dx):
    """Symmetric co-occurrence matrix of gray levels >= 1 (0 = ignored)."""
    h, w = levels.shape
    n = int(levels.max()) + 1
    glcm = np.zeros((n, n))
    for y in range(h):
        for x in range(w):
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w:
                a, b = levels[y, x], levels[yy, xx]
                if a and b:
                    glcm[a, b] += 1
                    glcm[b, a] += 1
    return glcm


def _haralick(glcm):
    p = glcm / glcm.sum()
    n = len(p)
    i, j = np.mgrid[:n, :n]
    k = np.arange(n)
    px, py = p.sum(0), p.sum(1)
    ux, uy = px @ k, py @ k
    vx, vy = px @ k**2 - ux**2, py @ k**2 - uy**2
    psum = np.bincount((i + j).ravel(), p.ravel(), 2 * n)
    pdiff = np.bincount(abs(i - j).ravel(), p.ravel(), n)
    tk = np.arange(2 * n)
    hx, hy, hxy = _entropy(px), _entropy(py), _entropy(p)
    outer = np.outer(px, py)
    hxy1 = -np.sum(p[outer > 0] * np.log2(outer[outer > 0]))
    hxy2 = _entropy(outer)
    cor = 1.0 if vx * vy == 0 else ((i * j * p).sum() - ux * uy) / np.sqrt(vx * vy)
    return {
        "asm": np.sum(p**2),
        "con": np.sum((i - j) ** 2 * p),
        "cor": cor,
        "den": _entropy(pdiff),
        "ent": hxy,
        "f12": (hxy - hxy1) / max(hx, hy) if max(hx, hy) else hxy - hxy1,
        "f13": np.sqrt(max(0.0, 1 - np.exp(-2 * (hxy2 - hxy)))),
        "idm": np.sum(p / (1 + (i - j) ** 2)),
        "sen": _entropy(psum),
        "sva": tk**2 @ psum - (tk @ psum) ** 2,
        "var": vx,
    }


def _reference(mask, image, image_bg=None):
    """tex_* of one event: shift to levels >= 1 inside the mask, 0 outside."""
    corr = image.astype(np.int64)
    if image_bg is not None:
        corr = corr - image_bg
    out = {name: np.nan for name in TEXTURE_FEATURES}
    if not mask.any():
        return out
    levels = np.where(mask, corr - corr[mask].min() + 1, 0)
    per_dir = []
    for dy, dx in ((0, 1), (1, 1), (1, 0), (1, -1)):
        glcm = _glcm(levels, dy, dx)
        if glcm.sum() == 0:
            return out
        per_dir.append(_haralick(glcm))
    for name in TEXTURE_NAMES:
        vals = [d[name] for d in per_dir]
        out[f"tex_{name}_avg"] = np.mean(vals)
        out[f"tex_{name}_ptp"] = np.ptp(vals)
    return out


def _assert_close(res, refs, rtol=1e-9, atol=1e-12):
    for name in TEXTURE_FEATURES:
        expected = np.array([ref[name] for ref in refs], dtype=float)
        np.testing.assert_allclose(res[name], expected, rtol=rtol, atol=atol,
                                   err_msg=name)


# --------------------------------------------------------------------------
# conformance with the real files
# --------------------------------------------------------------------------
def _read(path, *names):
    with h5py.File(path, "r") as h5:
        return {name: h5["events"][name][:] for name in names}


@pytest.mark.parametrize("name", TEX_FILES)
def test_texture_matches_stored_values(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    data = _read(path, "mask", "image", "image_bg", *TEXTURE_FEATURES)
    res = texture_features(data["mask"], data["image"], data["image_bg"])
    for feat in TEXTURE_FEATURES:
        np.testing.assert_allclose(res[feat], data[feat], rtol=1e-10, atol=0,
                                   err_msg=feat)


def test_dense_reference_matches_stored_values(real_rtdc_files):
    """The reference implementation of this file is itself conformant."""
    path = real_file(real_rtdc_files, TEX_FILES[1])
    data = _read(path, "mask", "image", "image_bg", *TEXTURE_FEATURES)
    for idx in (0, 5):  # two small events (the loops are slow)
        ref = _reference(data["mask"][idx] > 0, data["image"][idx],
                         data["image_bg"][idx])
        for feat in TEXTURE_FEATURES:
            assert ref[feat] == pytest.approx(data[feat][idx], rel=1e-10), feat


@pytest.mark.parametrize("name", TEX_FILES)
def test_dataset_recomputes_stored_texture(real_rtdc_files, name):
    path = real_file(real_rtdc_files, name)
    data = _read(path, "mask", "image", "image_bg", *TEXTURE_FEATURES)
    ds = cytolab.new_dataset({k: data[k] for k in ("mask", "image", "image_bg")})
    assert set(TEXTURE_FEATURES) <= set(ds.features_ancillary)
    for feat in TEXTURE_FEATURES:
        np.testing.assert_allclose(ds[feat], data[feat], rtol=1e-10, err_msg=feat)


def test_texture_recipes_share_one_computation(monkeypatch):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (4, 10, 12), dtype=np.uint8)
    ds = cytolab.new_dataset({"image": image, "image_bg": image // 2,
                              "mask": np.ones((4, 10, 12), bool)})
    from cytolab.rtdc.ancillaries import texture as anc_texture

    calls = []
    real = anc_texture.texture_features

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(anc_texture, "texture_features", counting)
    for feat in TEXTURE_FEATURES:
        ds[feat]
    assert len(calls) == 1


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------
@st.composite
def _events(draw):
    num = draw(st.integers(1, 3))
    height = draw(st.integers(1, 7))
    width = draw(st.integers(1, 7))
    shape = (num, height, width)
    image = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 255)))
    image_bg = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 255)))
    mask = draw(hnp.arrays(bool, shape, elements=st.booleans()))
    return mask, image, image_bg


@settings(max_examples=120, deadline=None)
@given(_events())
def test_texture_equals_dense_reference(events):
    mask, image, image_bg = events
    res = texture_features(mask, image, image_bg)
    refs = [_reference(m, i, b) for m, i, b in zip(mask, image, image_bg)]
    _assert_close(res, refs)


def test_texture_reference_on_larger_random_events():
    rng = np.random.default_rng(7)
    image = rng.integers(60, 200, (3, 20, 30), dtype=np.uint8)
    image_bg = rng.integers(90, 110, (3, 20, 30), dtype=np.uint8)
    yy, xx = np.mgrid[:20, :30]
    mask = np.stack([((yy - 10) / 8) ** 2 + ((xx - c) / 9) ** 2 < 1
                     for c in (10, 15, 20)])
    res = texture_features(mask, image, image_bg)
    refs = [_reference(m, i, b) for m, i, b in zip(mask, image, image_bg)]
    _assert_close(res, refs)


def test_batches_give_the_same_result(monkeypatch):
    from cytolab.features import texture

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (11, 9, 13), dtype=np.uint8)
    mask = rng.random((11, 9, 13)) > 0.2
    whole = texture_features(mask, image)
    monkeypatch.setattr(texture, "_BATCH_EVENTS", 3)
    batched = texture_features(mask, image)
    for name in TEXTURE_FEATURES:
        np.testing.assert_array_equal(whole[name], batched[name])


def test_invariant_to_gray_level_offset_and_outside_pixels():
    rng = np.random.default_rng(5)
    image = rng.integers(20, 120, (2, 12, 14), dtype=np.uint8)
    mask = np.zeros((2, 12, 14), bool)
    mask[:, 2:10, 3:12] = True
    base = texture_features(mask, image)
    shifted = texture_features(mask, image + np.uint8(100))
    noisy = image.copy()
    noisy[~mask] = rng.integers(0, 255, (~mask).sum())
    outside = texture_features(mask, noisy)
    for name in TEXTURE_FEATURES:
        np.testing.assert_allclose(shifted[name], base[name], rtol=1e-12)
        np.testing.assert_array_equal(outside[name], base[name])


def test_sixteen_bit_images():
    rng = np.random.default_rng(6)
    image = rng.integers(0, 2000, (2, 6, 7), dtype=np.uint16)
    image_bg = rng.integers(0, 2000, (2, 6, 7), dtype=np.uint16)
    mask = np.ones((2, 6, 7), bool)
    res = texture_features(mask, image, image_bg)
    refs = [_reference(m, i, b) for m, i, b in zip(mask, image, image_bg)]
    _assert_close(res, refs)


def test_wide_gray_level_range_splits_batches(monkeypatch):
    from cytolab.features import texture

    rng = np.random.default_rng(9)
    image = rng.integers(0, 60000, (5, 4, 6), dtype=np.uint16)
    mask = np.ones((5, 4, 6), bool)
    whole = texture_features(mask, image)
    monkeypatch.setattr(texture, "_MAX_BINS", 1)  # one event per batch
    split = texture_features(mask, image)
    for name in TEXTURE_FEATURES:
        np.testing.assert_array_equal(whole[name], split[name])
    monkeypatch.setattr(texture, "_MAX_LEVELS", 1000)
    with pytest.raises(ValueError, match="gray levels inside a mask span"):
        texture_features(mask, image)


def test_constant_image():
    image = np.full((1, 5, 5), 9, np.uint8)
    tex = get_texture(np.ones((5, 5), bool), image[0])
    assert tex["tex_asm_avg"] == 1 and tex["tex_ent_avg"] == 0
    assert tex["tex_cor_avg"] == 1 and tex["tex_con_avg"] == 0
    assert tex["tex_var_avg"] == 0 and tex["tex_f12_avg"] == 0


def test_get_texture_single_and_list():
    rng = np.random.default_rng(8)
    image = rng.integers(0, 255, (2, 6, 6), dtype=np.uint8)
    mask = np.ones((2, 6, 6), bool)
    stack = get_texture(mask, image)
    listed = get_texture(list(mask), list(image))
    single = get_texture(mask[1], image[1])
    assert sorted(stack) == sorted(TEXTURE_FEATURES)
    assert isinstance(single["tex_con_avg"], float)
    for name in TEXTURE_FEATURES:
        np.testing.assert_array_equal(stack[name], listed[name])
        assert single[name] == stack[name][1]


# --------------------------------------------------------------------------
# bad input and degenerate events
# --------------------------------------------------------------------------
def test_degenerate_events_give_nan():
    image = np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 6, 6)
    mask = np.zeros((4, 6, 6), bool)
    mask[1, 3, 3] = True           # one pixel: no pair at all
    mask[2, 1:5, 2] = True         # vertical line: no horizontal pair
    mask[3, 1:4, 1:4] = True       # a real event
    res = texture_features(mask, image)
    for name in TEXTURE_FEATURES:
        assert np.isnan(res[name][:3]).all(), name
        assert np.isfinite(res[name][3]), name


def test_texture_bad_input():
    mask = np.ones((2, 4, 5), bool)
    image = np.ones((2, 4, 5), np.uint8)
    with pytest.raises(ValueError, match="image_bg has shape"):
        texture_features(mask, image, np.ones((2, 5, 4), np.uint8))
    with pytest.raises(ValueError, match="image has shape"):
        texture_features(mask, np.ones((1, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="image must be an integer"):
        texture_features(mask, image.astype(float))
    with pytest.raises(ValueError, match="mask must be a boolean or integer"):
        texture_features(mask.astype(np.float32), image)
    empty = texture_features(np.zeros((0, 4, 5), bool), np.zeros((0, 4, 5), np.uint8))
    assert all(v.shape == (0,) for v in empty.values())
