"""Time-lapse assets: shipped weights, simulated demo movies and training sets."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys
import textwrap
import types

import cv2
import numpy as np
import pytest

from cytolab.datacache import DataFileCorruptError, DataFileUnavailableError
from cytolab.timelapse import assets
from cytolab.timelapse.assets import (
    DEMO_MOVIES,
    TRAINING_SETS,
    AssetUnavailableError,
    MadeAsset,
    download_demo_movie,
    download_model,
    download_training_set,
    write_training_set,
)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> pathlib.Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(folder))
    monkeypatch.delenv("DELTA_ASSETS_CACHE", raising=False)
    return folder


def read(path: pathlib.Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


# ---------------------------------------------------------------- the cache
def test_cache_folder_precedence(tmp_path, monkeypatch):
    import pooch
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path / "cytolab"))
    monkeypatch.setenv("DELTA_ASSETS_CACHE", str(tmp_path / "delta"))
    assert assets.cache_dir() == tmp_path / "cytolab"
    monkeypatch.delenv("CYTOLAB_DATA_CACHE")
    assert assets.cache_dir() == tmp_path / "delta"
    monkeypatch.delenv("DELTA_ASSETS_CACHE")
    assert assets.cache_dir() == pathlib.Path(pooch.os_cache("cytolab"))


def test_made_assets_go_to_the_delta_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CYTOLAB_DATA_CACHE", raising=False)
    monkeypatch.setenv("DELTA_ASSETS_CACHE", str(tmp_path / "delta"))
    monkeypatch.setitem(DEMO_MOVIES, "2D", MadeAsset("demo_test", fake_movie))
    assert download_demo_movie("2D") == tmp_path / "delta" / "demo_test"


# ------------------------------------------------------------------ weights
@pytest.mark.parametrize("presets, model, match", [
    ("3D", "seg", "Unknown presets '3D'; valid presets: '2D', 'mothermachine'"),
    ("2D", "segment", "Unknown model 'segment'; valid models: 'rois', 'seg', 'track'"),
    ("2D", "rois", "The '2D' presets have no 'rois' model"),
])
def test_invalid_names(presets, model, match):
    for function in (download_model, download_training_set):
        with pytest.raises(ValueError, match=match):
            function(presets, model)
    if model == "seg":
        with pytest.raises(ValueError, match=match):
            download_demo_movie(presets)


def test_every_model_is_shipped_and_verified():
    """Each model of each presets ships, matches its SHA-256 and records the
    input size and presets of the configuration."""
    import json

    onnx = pytest.importorskip("onnx", reason="onnx (extra train) is missing")
    from cytolab.timelapse.config import PRESETS, ModelConfig, models_of
    expected = {(p, m) for p in PRESETS for m in models_of(p)}
    assert set(assets.WEIGHTS) == expected
    for presets, model in sorted(expected):
        path = download_model(presets, model)
        assert path.stat().st_size < 2**20  # small networks: the package stays lean
        meta = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}
                          ["cytolab"])
        assert meta["presets"] == presets and meta["network"] == model
        assert tuple(meta["target_size"]) == \
            ModelConfig.default(model, presets).target_size


def test_no_shipped_weights(monkeypatch):
    monkeypatch.delitem(assets.WEIGHTS, ("mothermachine", "seg"))
    with pytest.raises(AssetUnavailableError) as info:
        download_model("mothermachine", "seg")
    message = str(info.value)
    assert "no shipped weights for presets 'mothermachine', model 'seg'" in message
    assert "mothermachine_seg.onnx" in message
    assert "models.seg.model_path" in message
    assert isinstance(info.value, FileNotFoundError)


@pytest.fixture
def shipped(tmp_path, monkeypatch) -> pathlib.Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "2D_track.onnx").write_bytes(b"track weights")
    monkeypatch.setattr(assets, "WEIGHTS_DIR", folder)
    monkeypatch.setitem(assets.WEIGHTS, ("2D", "track"),
                        hashlib.sha256(b"track weights").hexdigest())
    return folder


def test_shipped_weights(shipped):
    assert download_model("2D", "track") == shipped / "2D_track.onnx"
    assert assets.weights_path("2D", "track") == shipped / "2D_track.onnx"


def test_corrupt_weights(shipped):
    (shipped / "2D_track.onnx").write_bytes(b"track weightz")
    with pytest.raises(DataFileCorruptError, match="Corrupt weights file '.*2D_track"
                                                   r"\.onnx'.*reinstall cytolab"):
        download_model("2D", "track")


def test_registered_weights_missing_from_installation(shipped):
    (shipped / "2D_track.onnx").unlink()
    with pytest.raises(AssetUnavailableError, match="missing from this installation"):
        download_model("2D", "track")


# ------------------------------------------------------------- demo movies
def fake_movie(path, **kwargs):
    calls = fake_movie.calls = getattr(fake_movie, "calls", [])
    calls.append((path, kwargs))
    assert path.is_dir() and not any(path.iterdir())
    (path / "Frame000.tif").write_bytes(b"frame")
    (path / "args.txt").write_text(repr(sorted(kwargs.items())))


def test_demo_movie_is_made_once(cache, monkeypatch):
    fake_movie.calls = []
    monkeypatch.setitem(DEMO_MOVIES, "mothermachine",
                        MadeAsset("demo_mm_test_v1", fake_movie, {"seed": 3}))
    for _ in range(3):
        path = download_demo_movie("mothermachine")
        assert path == cache / "demo_mm_test_v1"
        assert (path / "args.txt").read_text() == "[('seed', 3)]"
    assert len(fake_movie.calls) == 1
    assert os.listdir(cache) == ["demo_mm_test_v1"]


def test_simulator_failure(cache, monkeypatch):
    def broken(path, **kwargs):
        raise RuntimeError("out of cells")
    monkeypatch.setitem(DEMO_MOVIES, "2D", MadeAsset("demo_broken", broken))
    with pytest.raises(DataFileUnavailableError, match="demo_broken.*out of cells"):
        download_demo_movie("2D")
    assert os.listdir(cache) == []


def test_simulator_by_dotted_name(cache, tmp_path, monkeypatch):
    module = tmp_path / "mods" / "fake_simulator_tl.py"
    module.parent.mkdir()
    module.write_text(textwrap.dedent("""
        def movie(path, n_frames):
            for f in range(n_frames):
                (path / f"img{f}.png").write_bytes(b"x")
    """))
    monkeypatch.syspath_prepend(str(module.parent))
    monkeypatch.setitem(DEMO_MOVIES, "2D", MadeAsset(
        "demo_dotted", "fake_simulator_tl:movie", {"n_frames": 3}))
    path = download_demo_movie("2D")
    assert sorted(p.name for p in path.iterdir()) == ["img0.png", "img1.png",
                                                      "img2.png"]


def test_registry_names_the_simulator_lazily():
    assert DEMO_MOVIES["mothermachine"].simulator == \
        "cytolab.simulate.movies:simulate_mothermachine"
    assert DEMO_MOVIES["2D"].simulator == "cytolab.simulate.movies:simulate_agarpad"
    assert sorted(TRAINING_SETS) == [("2D", "seg"), ("2D", "track"),
                                     ("mothermachine", "rois"),
                                     ("mothermachine", "seg"),
                                     ("mothermachine", "track")]
    names = [a.name for a in [*DEMO_MOVIES.values(), *TRAINING_SETS.values()]]
    assert len(set(names)) == len(names)
    assert all(n.endswith("_v1") for n in names[:2])
    assert all(n.endswith("_v2") for n in names[2:])  # longer movies since v2
    for (presets, model), asset in TRAINING_SETS.items():
        assert asset.training_set == (presets, model)
        assert asset.simulator == DEMO_MOVIES[presets].simulator
        assert asset.kwargs["seed"] != DEMO_MOVIES[presets].kwargs["seed"]
    code = ("import sys, cytolab.timelapse.assets; "
            "print('cytolab.simulate.movies' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_real_simulator_demo_movie(cache, monkeypatch):
    """A small movie from the project's simulator reads back exactly."""
    movies = pytest.importorskip("cytolab.simulate.movies")
    from cytolab.timelapse.xpreader import XPReader
    small = dataclasses.replace(DEMO_MOVIES["mothermachine"], name="demo_small",
                                kwargs={"n_frames": 3, "n_chambers": 2, "seed": 0,
                                        "fluorescence": True})
    monkeypatch.setitem(DEMO_MOVIES, "mothermachine", small)
    path = download_demo_movie("mothermachine")
    truth = movies.MovieTruth.load(path)
    reader = XPReader(path)
    assert (reader.positions, reader.channels, reader.frames) == (1, 2, 3)
    images = reader.images(0).values
    assert images.dtype == np.uint16
    np.testing.assert_array_equal(images, np.round(truth.images * 65535))


# ------------------------------------------------------------ training sets
def mothermachine_truth() -> types.SimpleNamespace:
    """Two 4 x 3 px chambers side by side in a 6 x 8 image, 3 frames.

    Chamber 0 holds cell 1 (top) and cell 2 (below); cell 1 divides at
    frame 2 into 1 and its daughter 3. Chamber 1 holds cell 4.
    """
    labels = np.zeros((3, 6, 8), np.uint16)
    labels[0, 0, 1] = 1
    labels[0, 2, 1] = 2
    labels[0, 1, 5] = 4
    labels[1, 0:2, 1] = 1
    labels[1, 3, 1] = 2
    labels[1, 1:3, 5] = 4
    labels[2, 0, 1] = 1
    labels[2, 1, 1] = 3
    labels[2, 3, 1] = 2
    labels[2, 1:3, 5] = 4
    rng = np.random.default_rng(5)
    images = rng.integers(0, 65536, (3, 1, 6, 8)) / 65535
    return types.SimpleNamespace(
        images=images.astype(np.float32), labels=labels,
        mothers={1: None, 2: None, 3: 1, 4: None},
        first_frame={1: 0, 2: 0, 3: 2, 4: 0},
        chambers=[(0, 0, 3, 4), (4, 0, 7, 4)])


def test_mothermachine_training_sets(tmp_path):
    truth = mothermachine_truth()
    expected_images = np.round(truth.images[:, 0].astype(np.float64) * 65535)

    rois = write_training_set(tmp_path / "rois", truth, "mothermachine", "rois")
    assert sorted(os.listdir(rois / "img")) == [f"Position00_Frame00{t}.png"
                                                for t in range(3)]
    mask = np.zeros((6, 8), np.uint8)
    mask[0:4, 0:3] = mask[0:4, 4:7] = 1
    for t in range(3):
        np.testing.assert_array_equal(read(rois / "img" / f"Position00_Frame00{t}.png"),
                                      expected_images[t])
        np.testing.assert_array_equal(read(rois / "seg" / f"Position00_Frame00{t}.png"),
                                      mask)

    seg = write_training_set(tmp_path / "seg", truth, "mothermachine", "seg")
    assert len(os.listdir(seg / "img")) == 6
    name = "Position00_Chamber01_Frame002.png"
    np.testing.assert_array_equal(read(seg / "img" / name),
                                  expected_images[2, 0:4, 4:7])
    np.testing.assert_array_equal(read(seg / "seg" / name),
                                  (truth.labels[2, 0:4, 4:7] > 0).astype(np.uint8))

    track = write_training_set(tmp_path / "track", truth, "mothermachine", "track")
    assert sorted(os.listdir(track)) == ["img", "mot_dau", "previmg", "seg", "segall"]
    assert sorted(os.listdir(track / "seg")) == [
        "Position00_Chamber00_Frame001_Cell00.png",
        "Position00_Chamber00_Frame001_Cell01.png",
        "Position00_Chamber00_Frame002_Cell00.png",
        "Position00_Chamber00_Frame002_Cell01.png",
        "Position00_Chamber01_Frame001_Cell00.png",
        "Position00_Chamber01_Frame002_Cell00.png"]
    name = "Position00_Chamber00_Frame002_Cell00.png"  # cell 1, divides
    box = (slice(0, 4), slice(0, 3))
    np.testing.assert_array_equal(read(track / "previmg" / name),
                                  expected_images[1][box])
    np.testing.assert_array_equal(read(track / "img" / name), expected_images[2][box])
    np.testing.assert_array_equal(read(track / "seg" / name),
                                  (truth.labels[1][box] == 1).astype(np.uint8))
    np.testing.assert_array_equal(read(track / "segall" / name),
                                  (truth.labels[2][box] > 0).astype(np.uint8))
    mot_dau = np.zeros((4, 3), np.uint8)
    mot_dau[0, 1], mot_dau[1, 1] = 1, 2
    np.testing.assert_array_equal(read(track / "mot_dau" / name), mot_dau)
    name = "Position00_Chamber00_Frame002_Cell01.png"  # cell 2, no daughter
    expected = np.zeros((4, 3), np.uint8)
    expected[3, 1] = 1
    np.testing.assert_array_equal(read(track / "mot_dau" / name), expected)


def test_2d_tracking_windows_are_centred_and_padded(tmp_path):
    labels = np.zeros((2, 300, 280), np.uint16)
    labels[0, 10:13, 20:30] = 7  # centroid (11, 24.5) -> window corner (-117, -104)
    labels[1, 10:13, 20:31] = 7
    labels[1, 200:203, 200:210] = 8  # another cell, not a daughter
    images = np.linspace(0, 1, 2 * 300 * 280).reshape(2, 1, 300, 280)
    truth = types.SimpleNamespace(images=images, labels=labels,
                                  mothers={7: None, 8: None},
                                  first_frame={7: 0, 8: 1}, chambers=[])
    folder = write_training_set(tmp_path / "t", truth, "2D", "track")
    name = "Position00_Frame001_Cell00.png"
    assert os.listdir(folder / "seg") == [name]
    seed = read(folder / "seg" / name)
    assert seed.shape == (256, 256)
    ys, xs = np.nonzero(seed)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (127, 129, 124, 133)
    img = read(folder / "img" / name)
    np.testing.assert_array_equal(img[:117, :], 0)  # zero padding above the frame
    np.testing.assert_array_equal(img[:, :104], 0)
    np.testing.assert_array_equal(img[117:, 104:],
                                  np.round(images[1, 0, :139, :152] * 65535))
    segall = read(folder / "segall" / name)
    assert segall.sum() == 33 + 0  # cell 8 lies outside the window
    mot_dau = read(folder / "mot_dau" / name)
    assert set(np.unique(mot_dau)) == {0, 1} and mot_dau.sum() == 33


def test_2d_segmentation_set_and_sample_cap(tmp_path):
    labels = np.zeros((10, 20, 30), np.uint16)
    labels[:, 5:8, 5:15] = 1
    images = np.full((10, 1, 20, 30), 0.5)
    truth = types.SimpleNamespace(images=images, labels=labels, mothers={1: None},
                                  first_frame={1: 0}, chambers=[])
    folder = write_training_set(tmp_path / "s", truth, "2D", "seg", max_samples=4)
    assert sorted(os.listdir(folder / "img")) == [
        "Position00_Frame000.png", "Position00_Frame003.png",
        "Position00_Frame006.png", "Position00_Frame009.png"]
    np.testing.assert_array_equal(read(folder / "img" / "Position00_Frame003.png"),
                                  np.full((20, 30), 32768))
    assert read(folder / "seg" / "Position00_Frame003.png").sum() == 30


def test_download_training_set_uses_the_simulator_once(cache, monkeypatch):
    calls = []

    def simulate(path, **kwargs):
        calls.append((path, kwargs))
        return mothermachine_truth()
    monkeypatch.setitem(TRAINING_SETS, ("mothermachine", "seg"), MadeAsset(
        "train_test_v1", simulate, {"seed": 1}, ("mothermachine", "seg")))
    for _ in range(2):
        path = download_training_set("mothermachine", "seg")
        assert path == cache / "train_test_v1"
        assert sorted(os.listdir(path)) == ["img", "seg"]
        assert len(os.listdir(path / "img")) == 6
    assert calls == [(None, {"seed": 1})]
