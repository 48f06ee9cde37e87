"""Time-lapse configuration: presets, JSON round trips, update semantics."""
from __future__ import annotations

import copy
import json
import pathlib

import pytest

from cytolab.errors import CytolabError, FileFormatError
from cytolab.timelapse import assets
from cytolab.timelapse.config import (
    BackendConfig,
    Config,
    ConfigError,
    ConfigKeyError,
    ModelConfig,
    read_json,
)


# ------------------------------------------------------------------ presets
@pytest.mark.parametrize("presets, model, expected", [
    ("mothermachine", "rois", ((512, 512), 500.0, 0.0, 4, 64)),
    ("mothermachine", "seg", ((256, 32), 20.0, 1.0, 8, 2048)),
    ("mothermachine", "track", ((256, 32), 0.0, 1.0, 8, 512)),
    ("2D", "seg", ((512, 512), 20.0, 0.0, 4, 64)),
    ("2D", "track", ((256, 256), 0.0, 0.0, 4, 64)),
])
def test_model_defaults(presets, model, expected):
    cfg = ModelConfig.default(model, presets)
    assert (cfg.target_size, cfg.min_area, cfg.tolerable_resizing_factor,
            cfg.batch_size, cfg.chunk_size) == expected
    assert cfg.model_path is None
    assert cfg.default_model == (presets, model)
    assert type(cfg.min_area) is float and type(cfg.batch_size) is int


def test_config_presets():
    mm = Config.default("mothermachine")
    assert list(mm.models) == ["rois", "seg", "track"]
    assert (mm.correct_rotation, mm.correct_drift, mm.whole_frame_drift) == \
        (True, True, False)
    pad = Config.default("2D")
    assert list(pad.models) == ["seg", "track"]
    assert (pad.correct_rotation, pad.correct_drift, pad.whole_frame_drift) == \
        (False, False, False)
    for config in (mm, pad):
        assert config.backends == {"onnx": BackendConfig(None, None)}
    assert Config.default("2D") is not Config.default("2D")
    assert Config.default("2D") == Config.default("2D")


def test_invalid_presets_and_models():
    with pytest.raises(ValueError, match="'2D', 'mothermachine'"):
        Config.default("agar")
    with pytest.raises(ValueError, match="'rois', 'seg', 'track'"):
        ModelConfig.default("segment", "2D")
    with pytest.raises(ValueError, match="no 'rois' model.*'seg', 'track'"):
        ModelConfig.default("rois", "2D")


@pytest.mark.parametrize("shape, tolerable", [
    ((511, 63), True), ((512, 63), False), ((511, 64), False),
    ((100, 10), True), ((256, 32), True), ((1, 1000), False),
    ((7, 300, 40), True),  # leading axes are ignored
])
def test_resizing_tolerable_factor_1(shape, tolerable):
    cfg = ModelConfig.default("seg", "mothermachine")  # (256, 32), factor 1.0
    assert cfg.resizing_tolerable(shape) is tolerable


def test_resizing_tolerable_factor_0():
    cfg = ModelConfig.default("seg", "2D")  # (512, 512), factor 0.0
    assert cfg.resizing_tolerable((511, 511))
    assert not cfg.resizing_tolerable((512, 100))
    assert not cfg.resizing_tolerable((100, 512))
    cfg.tolerable_resizing_factor = 0.5
    assert cfg.resizing_tolerable((767, 767)) and not cfg.resizing_tolerable((768, 1))


# ------------------------------------------------------------- round trips
def custom_config() -> Config:
    config = Config.default("mothermachine")
    config.update("models.seg.model_path", "/some/where/seg model.onnx")
    config.update("models.track.min_area", 12.25)
    config.update("backends.onnx.number_of_cores", 3)
    config.update("backends.gpu",
                  {"number_of_cores": None, "memory_growth_limit": 2048})
    config.update("whole_frame_drift", True)
    return config


@pytest.mark.parametrize("make", [lambda: Config.default("2D"),
                                  lambda: Config.default("mothermachine"),
                                  custom_config])
def test_serialize_round_trip(make, tmp_path):
    config = make()
    text = config.serialize()
    again = Config.deserialize(text)
    assert again == config
    assert again.serialize() == text
    config.write(tmp_path / "c.json")
    assert (tmp_path / "c.json").read_text(encoding="utf-8") == text
    assert Config.read(tmp_path / "c.json") == config
    assert Config.read(str(tmp_path / "c.json")) == config
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


def test_serialized_format_is_plain_indented_json():
    text = custom_config().serialize()
    assert text.startswith('{\n  "models": {\n    "rois": {\n      "model_path": null,')
    data = json.loads(text)
    assert list(data) == ["models", "backends", "correct_rotation", "correct_drift",
                          "whole_frame_drift"]
    assert data["models"]["seg"] == {
        "model_path": "/some/where/seg model.onnx", "target_size": [256, 32],
        "min_area": 20.0, "tolerable_resizing_factor": 1.0, "batch_size": 8,
        "chunk_size": 2048, "default_model": ["mothermachine", "seg"]}
    assert data["backends"] == {
        "onnx": {"number_of_cores": 3, "memory_growth_limit": None},
        "gpu": {"number_of_cores": None, "memory_growth_limit": 2048}}
    assert data["whole_frame_drift"] is True


def test_hand_written_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({
        "models": {"seg": {"model_path": "weights/seg.onnx", "target_size": [128, 64],
                           "min_area": 5, "tolerable_resizing_factor": 0,
                           "batch_size": 2, "chunk_size": 8}},
        "backends": {}, "correct_rotation": False, "correct_drift": True}))
    config = Config.read(path)
    seg = config.models["seg"]
    assert seg == ModelConfig(pathlib.Path("weights/seg.onnx"), (128, 64), 5.0, 0.0,
                              2, 8, None)
    assert type(seg.min_area) is float
    assert config.whole_frame_drift is False and config.backends == {}


def test_read_json_converts_lists_and_paths(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"a": [1, [2, 3]], "model_path": "m.onnx",
                                "nested": {"weights_path": "w", "name": "n_path"},
                                "paths": ["p"], "none_path": None}))
    assert read_json(path) == {"a": (1, (2, 3)), "model_path": pathlib.Path("m.onnx"),
                               "nested": {"weights_path": pathlib.Path("w"),
                                          "name": "n_path"},
                               "paths": ("p",), "none_path": None}


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileFormatError, match="nope.json"):
        read_json(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError, match="bad.json"):
        Config.read(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(FileFormatError, match="bad.json.*JSON object"):
        read_json(bad)
    data = json.loads(Config.default("2D").serialize())
    data["models"]["seg"]["batch_size"] = 0
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"models\.seg\.batch_size.*>= 1.*bad\.json"):
        Config.read(bad)
    with pytest.raises(ConfigError, match="Invalid configuration JSON"):
        Config.deserialize("{")


# ------------------------------------------------------------- unknown keys
def test_unknown_keys_are_named():
    data = json.loads(Config.default("2D").serialize())
    data["colour"] = 1
    data["model_file_seg"] = "x.h5"
    with pytest.raises(ConfigKeyError) as info:
        Config.deserialize(json.dumps(data))
    message = str(info.value)
    assert message.startswith("Unknown configuration keys: colour, model_file_seg")
    assert "'model_file_seg' is now 'models.seg.model_path'" in message
    assert "correct_drift" in message  # the valid keys are listed

    data = json.loads(Config.default("2D").serialize())
    data["models"]["seg"]["batchsize"] = 3
    data["backends"]["onnx"]["threads"] = 3
    with pytest.raises(ConfigKeyError, match=r"models\.seg\.batchsize.*batch_size"):
        Config.deserialize(json.dumps(data))
    del data["models"]["seg"]["batchsize"]
    with pytest.raises(ConfigKeyError, match=r"backends\.onnx\.threads"):
        Config.deserialize(json.dumps(data))

    data = json.loads(Config.default("2D").serialize())
    data["models"]["segmentation"] = data["models"].pop("seg")
    with pytest.raises(ConfigKeyError, match="models.segmentation"):
        Config.deserialize(json.dumps(data))


def test_missing_keys_are_named():
    data = json.loads(Config.default("2D").serialize())
    del data["correct_drift"]
    del data["models"]["track"]["chunk_size"]
    with pytest.raises(ConfigKeyError,
                       match="Missing configuration keys: correct_drift"):
        Config.deserialize(json.dumps(data))
    data["correct_drift"] = False
    with pytest.raises(ConfigKeyError, match=r"models\.track\.chunk_size"):
        Config.deserialize(json.dumps(data))
    # optional keys may be left out
    data["models"]["track"]["chunk_size"] = 1
    del data["models"]["track"]["default_model"]
    del data["whole_frame_drift"]
    config = Config.deserialize(json.dumps(data))
    assert config.models["track"].default_model is None
    assert config.whole_frame_drift is False


@pytest.mark.parametrize("field, value, match", [
    ("batch_size", "8", "integer >= 1"),
    ("batch_size", True, "integer >= 1"),
    ("batch_size", 2.0, "integer >= 1"),
    ("chunk_size", -1, "integer >= 1"),
    ("min_area", -0.5, "finite number >= 0"),
    ("min_area", float("inf"), "finite number >= 0"),
    ("tolerable_resizing_factor", "1", "finite number >= 0"),
    ("target_size", [256, 32, 1], r"pair \(y, x\)"),
    ("target_size", "ab", r"pair \(y, x\)"),
    ("target_size", [256, 0], "integer >= 1"),
    ("model_path", 5, "path or null"),
    ("model_path", "", "path or null"),
    ("default_model", ["2D", "rois"], "no 'rois' model"),
    ("default_model", "2D", r"pair \(presets, model\)"),
])
def test_wrong_values(field, value, match):
    data = json.loads(Config.default("2D").serialize())
    data["models"]["seg"][field] = value
    with pytest.raises(ConfigError, match=rf"models\.seg\.{field}.*{match}"):
        Config.deserialize(json.dumps(data))
    config = Config.default("2D")
    before = copy.deepcopy(config)
    with pytest.raises(ConfigError, match=rf"models\.seg\.{field}.*{match}"):
        config.update(f"models.seg.{field}", value)
    assert config == before


def test_wrong_top_level_and_backend_values():
    config = Config.default("mothermachine")
    with pytest.raises(ConfigError, match="'correct_drift' must be true or false"):
        config.update("correct_drift", 1)
    with pytest.raises(ConfigError, match=r"backends\.onnx\.memory_growth_limit"):
        config.update("backends.onnx.memory_growth_limit", 0)
    with pytest.raises(ConfigError, match="must be a JSON object"):
        config.update("models.seg", [1, 2])
    with pytest.raises(ConfigError, match="must be a ModelConfig"):
        Config(models={"seg": BackendConfig(1, 1)}, backends={}, correct_rotation=False,
               correct_drift=False)
    with pytest.raises(ConfigError, match="must be a BackendConfig"):
        Config(models={}, backends={"x": 3}, correct_rotation=False,
               correct_drift=False)
    assert config == Config.default("mothermachine")


def test_constructors_validate_and_normalise():
    cfg = ModelConfig("a/b.onnx", [64, 32], 3, 1, 2, 4)
    assert cfg.model_path == pathlib.Path("a/b.onnx")
    assert cfg.target_size == (64, 32) and type(cfg.min_area) is float
    with pytest.raises(ConfigError, match="batch_size"):
        ModelConfig(None, (64, 32), 3, 1, 0, 4)
    with pytest.raises(ConfigError, match="number_of_cores"):
        BackendConfig(-2, None)
    with pytest.raises(ConfigKeyError, match="Unknown model 'models.foo'"):
        Config(models={"foo": cfg}, backends={}, correct_rotation=False,
               correct_drift=False)


# ------------------------------------------------------------------- update
def test_update_fields_in_place():
    config = Config.default("mothermachine")
    seg = config.models["seg"]
    config.update("models.seg.batch_size", 16)
    config.update("models.seg.target_size", [128, 16])
    config.update("models.seg.model_path", "my/seg.onnx")
    config.update("models.seg.min_area", 7)
    config.update("correct_rotation", False)
    config.update("backends.onnx.memory_growth_limit", 1024)
    assert config.models["seg"] is seg  # same object, changed
    assert (seg.batch_size, seg.target_size, seg.model_path, seg.min_area) == \
        (16, (128, 16), pathlib.Path("my/seg.onnx"), 7.0)
    assert type(seg.min_area) is float
    assert config.correct_rotation is False
    assert config.backends["onnx"] == BackendConfig(None, 1024)
    config.update("models.seg.model_path", None)
    assert seg.model_path is None
    expected = Config.default("mothermachine")
    expected.models["seg"] = ModelConfig(None, (128, 16), 7.0, 1.0, 16, 2048,
                                         ("mothermachine", "seg"))
    expected.correct_rotation = False
    expected.backends["onnx"].memory_growth_limit = 1024
    assert config == expected


def test_update_whole_sub_configurations():
    config = Config.default("2D")
    rois = ModelConfig.default("rois", "mothermachine")
    config.update("models.rois", rois)
    assert config.models["rois"] == rois and config.models["rois"] is not rois
    rois.batch_size = 99  # the configuration holds a copy
    assert config.models["rois"].batch_size == 4
    config.update("models.track", {"model_path": "t.onnx", "target_size": (64, 64),
                                   "min_area": 0, "tolerable_resizing_factor": 0,
                                   "batch_size": 1, "chunk_size": 1})
    assert config.models["track"] == ModelConfig(pathlib.Path("t.onnx"), (64, 64),
                                                 0.0, 0.0, 1, 1, None)
    config.update("backends.cpu", BackendConfig(2, None))
    assert config.backends["cpu"] == BackendConfig(2, None)
    assert Config.deserialize(config.serialize()) == config


@pytest.mark.parametrize("key, match", [
    ("colour", "Unknown configuration key 'colour'; use one of correct_rotation"),
    ("models", "Unknown configuration key 'models'"),
    ("models.seg.batch_size.x", "Unknown configuration key"),
    ("params.seg.batch_size", "Unknown configuration key 'params.seg.batch_size'"),
    ("models.rois.batch_size", r"no 'models\.rois' \(present: seg, track\)"),
    ("models.seg.batchsize", "ModelConfig fields: model_path, target_size"),
    ("backends.onnx.cores", "BackendConfig fields: number_of_cores"),
    ("backends.tf.number_of_cores", r"no 'backends\.tf' \(present: onnx\)"),
    ("models.unet", "valid models: rois, seg, track"),
])
def test_update_unknown_keys(key, match):
    config = Config.default("2D")
    with pytest.raises(ConfigKeyError, match=match):
        config.update(key, 1)
    assert config == Config.default("2D")


def test_update_incomplete_sub_configuration():
    config = Config.default("2D")
    with pytest.raises(ConfigKeyError, match=r"Missing configuration keys: "
                                             r"models\.rois\.target_size"):
        config.update("models.rois", {"model_path": None})
    assert "rois" not in config.models


def test_error_classes():
    assert issubclass(ConfigError, CytolabError)
    assert issubclass(ConfigError, ValueError)
    assert issubclass(ConfigKeyError, ConfigError)
    assert issubclass(ConfigKeyError, KeyError)
    assert str(ConfigKeyError("plain message")) == "plain message"


# -------------------------------------------------------------- model files
def test_model_from_model_path(tmp_path):
    path = tmp_path / "seg.onnx"
    path.write_bytes(b"onnx")
    cfg = ModelConfig.default("seg", "2D")
    cfg.model_path = path
    assert cfg.model() == path
    cfg.model_path = tmp_path / "missing.onnx"
    with pytest.raises(assets.AssetUnavailableError,
                       match="missing.onnx.*does not exist"):
        cfg.model()
    with pytest.raises(FileNotFoundError):
        cfg.model()


def test_model_from_shipped_weights(tmp_path, monkeypatch):
    cfg = ModelConfig.default("track", "mothermachine")
    assert cfg.model() == assets.WEIGHTS_DIR / "mothermachine_track.onnx"
    monkeypatch.delitem(assets.WEIGHTS, ("mothermachine", "track"))
    with pytest.raises(assets.AssetUnavailableError,
                       match="no shipped weights for presets 'mothermachine', "
                             "model 'track'"):
        cfg.model()
    monkeypatch.setattr(assets, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "mothermachine_track.onnx").write_bytes(b"weights")
    import hashlib
    monkeypatch.setitem(assets.WEIGHTS, ("mothermachine", "track"),
                        hashlib.sha256(b"weights").hexdigest())
    assert cfg.model() == tmp_path / "mothermachine_track.onnx"


def test_model_without_path_or_default():
    cfg = ModelConfig(None, (32, 32), 0, 0, 1, 1)
    with pytest.raises(ConfigError, match="neither a model_path nor a default_model"):
        cfg.model()
