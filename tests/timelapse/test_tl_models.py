"""U-Net models, losses, metrics, hashes, ONNX export and weight import."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (extra train) is missing")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
onnx = pytest.importorskip("onnx", reason="onnx is not installed")

from cytolab.errors import FileFormatError  # noqa: E402
from cytolab.timelapse import models  # noqa: E402


def test_unet_shapes_and_filters():
    net = models.unet((64, 32, 3), "sigmoid", output_classes=2, levels=3, filters=4)
    assert net.config["filters"] == [4, 8, 16]
    with torch.no_grad():
        out = net(torch.rand(2, 64, 32, 3))
    assert out.shape == (2, 64, 32, 2)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert models.unet(levels=5).config["filters"] == [64, 128, 256, 512, 1024]
    assert models.unet(levels=2, filters=(3, 5)).config["filters"] == [3, 5]


def test_softmax_sums_to_one():
    net = models.unet((None, None, 1), "softmax", output_classes=3, levels=2,
                      filters=2).eval()
    out = net(torch.rand(1, 16, 16, 1))
    np.testing.assert_allclose(out.sum(-1).detach().numpy(), 1, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"final_activation": "relu"}, "final_activation"),
    ({"dropout": 1.0}, "dropout"),
    ({"levels": 0}, "levels"),
    ({"filters": (1, 2)}, "filters"),
    ({"input_size": (30, 32, 1), "levels": 3}, "multiples of 4"),
])
def test_unet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.unet(**{"levels": 3, **kwargs})


def test_wrong_input_channels():
    net = models.unet_track(input_size=(32, 32, 4), levels=2, filters=2)
    with pytest.raises(ValueError, match="input must be"):
        net(torch.zeros(1, 32, 32, 1))
    with pytest.raises(ValueError, match="4 channels"):
        models.unet_track(input_size=(32, 32, 1))


def test_losses_exact_values():
    # mask 1 with weight 2, prediction 0.5 -> 2 * ln 2; mask 0 weight 1, p=0.9 -> ln 10
    y_true = torch.tensor([[1.0, 2.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)
    y_pred = torch.tensor([0.5, 0.9]).reshape(1, 1, 2, 1)
    loss = models.pixelwise_weighted_binary_crossentropy_seg(y_true, y_pred)
    assert float(loss) == pytest.approx((2 * np.log(2) + np.log(10)) / 2, rel=1e-6)
    logits = torch.logit(y_pred)
    from_logits = models.pixelwise_weighted_binary_crossentropy_seg(
        y_true, logits, from_logits=True)
    assert float(from_logits) == pytest.approx(float(loss), rel=1e-5)
    # zero weights switch pixels off
    y_zero = y_true.clone()
    y_zero[..., 1] = 0
    assert float(models.pixelwise_weighted_binary_crossentropy_seg(y_zero, y_pred)) == 0


def test_track_loss_uses_both_outputs():
    y_true = torch.tensor([1.0, 0.0, 3.0]).reshape(1, 1, 1, 3)
    y_pred = torch.tensor([0.5, 0.5]).reshape(1, 1, 1, 2)
    loss = models.pixelwise_weighted_binary_crossentropy_track(y_true, y_pred)
    assert float(loss) == pytest.approx(3 * np.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="weight map"):
        models.pixelwise_weighted_binary_crossentropy_track(y_true[..., :2], y_pred)


def test_unstack_acc():
    y_true = torch.tensor([1.0, 9.0, 0.0, 9.0, 1.0, 9.0, 0.0, 9.0]).reshape(1, 2, 2, 2)
    y_pred = torch.tensor([0.9, 0.2, 0.1, 0.7]).reshape(1, 2, 2, 1)
    assert float(models.unstack_acc(y_true, y_pred)) == 0.5


def test_hash_model_tracks_weights(tmp_path):
    a = models.unet(levels=2, filters=2)
    b = models.unet(levels=2, filters=2)
    assert models.hash_model(a) != models.hash_model(b)  # different init
    b.load_state_dict(a.state_dict())
    assert models.hash_model(a) == models.hash_model(b)
    with torch.no_grad():
        b.head.bias += 1e-3
    assert models.hash_model(a) != models.hash_model(b)
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert models.hash_model(path) == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _trained_like(net):
    """Random batch statistics, so that exported weights are all distinct."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen))
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
    return net.eval()


@pytest.mark.parametrize("make, channels", [(models.unet_seg, 1),
                                            (models.unet_track, 4)])
def test_onnx_export_matches_torch_and_reloads(tmp_path, make, channels):
    net = _trained_like(make(input_size=(32, 16, channels), levels=3, filters=3))
    path = models.export_onnx(net, tmp_path / "m.onnx", (32, 16), presets="x")
    meta = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}
                      ["cytolab"])
    assert meta["architecture"] == net.config
    assert meta["target_size"] == [32, 16] and meta["presets"] == "x"
    assert meta["weights_sha256"] == models.hash_model(net)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((3, 64, 24, channels), dtype=np.float32)
    out = session.run(None, {"input": x})[0]  # other sizes than exported work
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    again = models.load_model(path)
    assert models.hash_model(again) == models.hash_model(net)
    assert again.loss is net.loss


def test_load_weights_errors(tmp_path):
    net = models.unet_seg(input_size=(16, 16, 1), levels=2, filters=2)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        models.load_weights(net, tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(FileFormatError, match="bad.onnx"):
        models.load_weights(net, bad)
    wider = models.unet_seg(input_size=(16, 16, 1), levels=2, filters=3)
    other = models.export_onnx(wider, tmp_path / "o.onnx", (16, 16))
    with pytest.raises(ValueError, match="another architecture"):
        models.load_weights(net, other)
    pt = tmp_path / "w.pt"
    torch.save(net.state_dict(), pt)
    fresh = models.unet_seg(pt, input_size=(16, 16, 1), levels=2, filters=2)
    assert models.hash_model(fresh) == models.hash_model(net)
