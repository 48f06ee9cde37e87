"""ONNX runtime of the time-lapse networks: numbers, chunking, caching, errors."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from cytolab.errors import FileFormatError  # noqa: E402
from cytolab.timelapse import models, runtime  # noqa: E402
from cytolab.timelapse.assets import AssetUnavailableError  # noqa: E402


def _trained_bn(net: torch.nn.Module, channels: int, seed: int) -> torch.nn.Module:
    """`net` with non-trivial batch-norm statistics, in evaluation mode."""
    gen = torch.Generator().manual_seed(seed)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 32, 16, channels, generator=gen) * 2)
    return net.eval()


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Tiny seg (2 levels) and track (3 levels) U-Nets and their ONNX files."""
    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    seg = _trained_bn(models.unet_seg(input_size=(256, 32, 1), levels=2, filters=2),
                      1, 1)
    track = _trained_bn(models.unet_track(input_size=(256, 32, 4), levels=3,
                                          filters=2), 4, 2)
    return {"seg": (seg, models.export_onnx(seg, folder / "seg.onnx", (256, 32))),
            "track": (track, models.export_onnx(track, folder / "track.onnx",
                                                (256, 32), presets="mothermachine"))}


def _inputs(n: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 32, 16, channels), np.float32)


@pytest.mark.parametrize("name, channels", [("seg", 1), ("track", 4)])
def test_onnx_gives_the_numbers_of_torch(nets, name, channels):
    net, path = nets[name]
    model = runtime.load_model(path)
    assert isinstance(model, runtime.OnnxModel)
    assert model.input_channels == channels
    assert model.output_channels == (2 if name == "track" else 1)
    assert model.multiple == (4 if name == "track" else 2)
    assert model.target_size == (256, 32)
    x = _inputs(5, channels)
    out = model.predict(x, batch_size=2)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    assert out.dtype == np.float32 and out.shape == expected.shape
    # same graph and weights; only the convolution kernels differ (MLAS vs
    # ATen), which may round differently in the last bits
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    assert 0 <= out.min() and out.max() <= 1


def test_torch_module_is_wrapped(nets):
    net, _ = nets["track"]
    net.train()
    model = runtime.load_model(net)
    assert isinstance(model, runtime.TorchModel)
    x = _inputs(3, 4)
    out = model.predict(x, batch_size=3)  # one batch: exactly what torch gives
    assert net.training  # the module's mode is given back
    net.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(out, net(torch.from_numpy(x)).numpy())
    with pytest.raises(ValueError, match=r"UNet takes 4 input channel"):
        model.predict(_inputs(1, 1), 1)
    with pytest.raises(ValueError, match="multiples of 4"):
        model.predict(np.zeros((1, 30, 16, 4), np.float32), 1)


@pytest.mark.parametrize("name, channels", [("seg", 1), ("track", 4)])
def test_chunks_and_batches_do_not_change_results(nets, name, channels):
    _, path = nets[name]
    x = _inputs(7, channels, seed=3)
    reference = runtime.load_model(path).predict(x, batch_size=7)
    for chunk_size in (1, 2, 3, 7, 50):
        for batch_size in (1, 2, 4, None):
            out = runtime.chunks_predict(x, path, chunk_size, batch_size)
            np.testing.assert_array_equal(out, reference)


class Recorder:
    """Doubles its inputs and records how it is called."""

    output_channels = 3

    def __init__(self):
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        return np.repeat(2 * x[..., :1], 3, axis=-1)


def test_chunks_predict_calls_the_model_per_chunk():
    rec = Recorder()
    x = np.arange(7, dtype=np.float32).reshape(7, 1, 1, 1)
    out = runtime.chunks_predict(x, rec, chunk_size=3, batch_size=2)
    assert rec.calls == [(3, 2), (3, 2), (1, 2)]
    assert out.shape == (7, 1, 1, 3) and out.dtype == np.float32
    assert out[:, 0, 0, 2].tolist() == [0, 2, 4, 6, 8, 10, 12]
    rec.calls.clear()
    runtime.chunks_predict(x, rec, chunk_size=4, batch_size=None)
    assert rec.calls == [(4, 4), (3, 4)]


def test_empty_inputs_give_empty_outputs(nets):
    rec = Recorder()
    empty = np.zeros((0, 32, 16, 4), np.float32)
    assert runtime.chunks_predict(empty, rec, 5).shape == (0, 32, 16, 3)
    assert rec.calls == []
    assert runtime.chunks_predict(empty, nets["track"][1], 5).shape == (0, 32, 16, 2)
    assert runtime.chunks_predict(empty[..., :1], nets["seg"][1], 5).shape == (
        0, 32, 16, 1)
    assert runtime.load_model(nets["seg"][1]).predict(empty[..., :1], 3).shape == (
        0, 32, 16, 1)

    class Unknown:
        def predict(self, x, batch_size):
            raise AssertionError("not called without inputs")

    assert runtime.chunks_predict(empty, Unknown(), 5).shape == (0, 32, 16, 1)


def test_chunks_predict_checks_its_arguments():
    x = np.zeros((2, 1, 1, 1), np.float32)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="chunk_size must be an integer"):
            runtime.chunks_predict(x, Recorder(), bad)
        with pytest.raises(ValueError, match="batch_size must be an integer"):
            runtime.chunks_predict(x, Recorder(), 2, bad)
    with pytest.raises(ValueError, match=r"shape \(n, y, x, channels\)"):
        runtime.chunks_predict(np.zeros((2, 3, 4)), Recorder(), 2)

    class Short:
        def predict(self, x, batch_size):
            return x[:1]

    with pytest.raises(ValueError, match="returned 1 outputs for 2 inputs"):
        runtime.chunks_predict(x, Short(), 2)


def test_sessions_are_cached_per_file_version(nets, tmp_path, monkeypatch):
    net, path = nets["seg"]
    first = runtime.load_model(path)
    assert runtime.load_model(str(path)) is first
    monkeypatch.chdir(path.parent)
    assert runtime.load_model(path.name) is first  # same resolved file
    assert runtime.load_model(path, threads=1) is not first
    assert runtime.load_model(path, threads=1) is runtime.load_model(path, threads=1)
    assert runtime.load_model(path, threads=1).session.get_session_options(
    ).intra_op_num_threads == 1
    # a file replaced by another model is loaded again
    copy = models.export_onnx(net, tmp_path / "copy.onnx", (256, 32))
    old = runtime.load_model(copy)
    models.export_onnx(models.unet_seg(input_size=(256, 32, 1), levels=3, filters=2),
                       copy, (256, 32))
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    new = runtime.load_model(copy)
    assert new is not old and new.multiple == 4 and old.multiple == 2
    runtime.clear_cache()
    assert runtime.load_model(path) is not first


def test_objects_with_predict_pass_through():
    rec = Recorder()
    assert runtime.load_model(rec) is rec
    assert isinstance(rec, runtime.Predictor)
    with pytest.raises(TypeError, match="got int"):
        runtime.load_model(3)


def test_missing_file(tmp_path):
    missing = tmp_path / "nothing.onnx"
    with pytest.raises(AssetUnavailableError, match="nothing.onnx") as info:
        runtime.load_model(missing)
    assert "model_path" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(AssetUnavailableError, match="does not exist"):
        runtime.chunks_predict(np.zeros((1, 8, 8, 1)), missing, 1)
    with pytest.raises(AssetUnavailableError):
        runtime.load_model(tmp_path)  # a folder


def test_file_onnxruntime_cannot_load(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(FileFormatError, match="bad.onnx.*not an ONNX model"):
        runtime.load_model(bad)


def test_wrong_inputs_name_the_model_file(nets):
    _, path = nets["track"]
    model = runtime.load_model(path)
    with pytest.raises(ValueError, match=r"track.onnx' takes 4 input channel.*"
                                         r"\(batch, y, x, 4\).*got shape "
                                         r"\(1, 32, 16, 1\)"):
        model.predict(np.zeros((1, 32, 16, 1), np.float32), 1)
    with pytest.raises(ValueError, match=r"track.onnx'.*multiples of 4; got "
                                         r"y, x = \(30, 16\).*target_size"):
        model.predict(np.zeros((1, 30, 16, 4), np.float32), 1)
    with pytest.raises(ValueError, match=r"track.onnx' takes inputs of shape"):
        model.predict(np.zeros((30, 16, 4), np.float32), 1)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.predict(np.zeros((1, 32, 16, 4), np.float32), 0)


def test_onnx_file_without_cytolab_metadata(nets, tmp_path):
    import onnx
    net, path = nets["seg"]
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(proto, str(plain))
    model = runtime.load_model(plain)
    assert model.metadata == {} and model.target_size is None
    assert model.multiple == 1
    assert (model.input_channels, model.output_channels) == (1, 1)  # declared
    x = _inputs(2, 1)
    np.testing.assert_array_equal(model.predict(x, 2),
                                  runtime.load_model(path).predict(x, 2))
    with pytest.raises(ValueError, match="plain.onnx' takes 1 input channel"):
        model.predict(_inputs(1, 2), 1)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "cytolab", "{not json"
    broken = tmp_path / "broken.onnx"
    onnx.save(proto, str(broken))
    with pytest.raises(FileFormatError, match="broken.onnx.*not valid JSON"):
        runtime.load_model(broken)


def test_missing_onnxruntime_says_what_to_install(nets, monkeypatch):
    runtime.clear_cache()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "cytolab\[timelapse\]"'):
        runtime.load_model(nets["seg"][1])
