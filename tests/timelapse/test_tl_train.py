"""Training smoke tests: tiny networks, a few iterations, real folders."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (extra train) is missing")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from cytolab.cli.main import main  # noqa: E402
from cytolab.simulate.movies import simulate_mothermachine  # noqa: E402
from cytolab.timelapse import models  # noqa: E402
from cytolab.timelapse.assets import write_training_set  # noqa: E402
from cytolab.timelapse.runtime import load_model  # noqa: E402
from cytolab.timelapse.train import train  # noqa: E402

TINY = {"levels": 2, "filters": (4, 8), "batch_size": 4, "seed": 3,
        "kw_data_aug": {}, "progress": False}


@pytest.fixture(scope="module")
def truth():
    return simulate_mothermachine(n_frames=6, n_chambers=2, seed=21)


@pytest.fixture(scope="module")
def seg_set(tmp_path_factory, truth):
    return write_training_set(tmp_path_factory.mktemp("seg"), truth,
                              "mothermachine", "seg")


@pytest.fixture(scope="module")
def track_set(tmp_path_factory, truth):
    return write_training_set(tmp_path_factory.mktemp("track"), truth,
                              "mothermachine", "track")


def test_seg_training_loss_decreases_and_exports(tmp_path, seg_set):
    out = tmp_path / "seg.onnx"
    result = train("seg", seg_set, out, epochs=4, validation_split=0.25,
                   learning_rate=5e-3, **TINY)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert {"val_loss", "val_accuracy", "val_dice"} <= set(result.history[-1])
    assert result.model_path == out and result.checkpoint_path.is_file()
    history = json.loads((tmp_path / "seg.onnx.history.json").read_text())
    assert history == result.history
    # the exported network runs in onnxruntime and agrees with PyTorch
    net = models.load_model(out).eval()
    x = np.random.default_rng(0).random((2, 256, 32, 1), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(load_model(out).predict(x, 2), expected, atol=1e-5)


def test_track_training_runs(tmp_path, track_set):
    result = train("track", track_set, tmp_path / "track.onnx", epochs=2,
                   steps_per_epoch=3, validation_split=0, **TINY)
    assert len(result.history) == 2 and "val_loss" not in result.history[0]
    net = models.load_model(result.model_path)
    assert net.config["input_channels"] == 4 and net.config["output_classes"] == 2


def test_finetune_changes_only_the_expanding_path(tmp_path, seg_set):
    base = train("seg", seg_set, tmp_path / "base.onnx", epochs=1, steps_per_epoch=2,
                 validation_split=0, **TINY)
    tuned = train("seg", seg_set, tmp_path / "tuned.onnx", epochs=1, steps_per_epoch=3,
                  validation_split=0, init=base.model_path, finetune=True,
                  learning_rate=1e-2, **TINY)
    before = models.load_model(base.model_path).state_dict()
    after = models.load_model(tuned.model_path).state_dict()
    for name, value in before.items():
        same = torch.equal(value, after[name])
        if name.startswith("down."):
            assert same, f"{name} changed although the encoder is frozen"
    assert not all(torch.equal(before[n], after[n]) for n in before
                   if not n.startswith("down.")), "nothing was fine-tuned"


def test_resume_continues_from_checkpoint(tmp_path, seg_set):
    out = tmp_path / "r.onnx"
    first = train("seg", seg_set, out, epochs=1, steps_per_epoch=2,
                  validation_split=0, **TINY)
    resumed = train("seg", seg_set, out, epochs=2, steps_per_epoch=2,
                    validation_split=0, resume=True, **TINY)
    assert resumed.history[0] == first.history[0] and len(resumed.history) == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"finetune": True}, ValueError, "needs init"),
    ({"epochs": 0}, ValueError, "must be positive"),
    ({"output": "model.pt"}, ValueError, ".onnx"),
    ({"model": "nope"}, ValueError, "nope"),
])
def test_train_rejects_bad_arguments(tmp_path, seg_set, kwargs, error, match):
    args = {"model": "seg", "dataset_path": seg_set,
            "output": tmp_path / "x.onnx", **kwargs}
    args["output"] = tmp_path / args["output"]
    with pytest.raises(error, match=match):
        train(**args, progress=False)


def test_train_missing_folder(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError), match="nowhere"):
        train("seg", tmp_path / "nowhere", tmp_path / "x.onnx", progress=False)


def test_cli_train_timelapse(tmp_path, seg_set, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["train-timelapse", str(seg_set), str(out), "--model", "seg",
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--no-augmentation", "--no-progress"]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train-timelapse", "--help"])
    assert "--finetune" in capsys.readouterr().out
    assert main(["train-timelapse", str(out)]) == 1  # neither dataset nor --simulated
