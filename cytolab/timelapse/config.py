"""Configuration of the time-lapse pipeline: models, backends, corrections.

A :class:`Config` holds one :class:`ModelConfig` per neural network (``rois``
finds the chambers of a mother machine, ``seg`` segments cells, ``track``
links cells between frames), the compute :class:`BackendConfig` and the
image corrections. It is stored as human-editable JSON (indent 2)::

    {
      "models": {
        "seg": {
          "model_path": null,
          "target_size": [256, 32],
          ...
        }
      },
      "backends": {"onnx": {"number_of_cores": null, "memory_growth_limit": null}},
      "correct_rotation": true,
      "correct_drift": true,
      "whole_frame_drift": false
    }

``"model_path": null`` means the weights shipped with cytolab for
``default_model`` (see :mod:`cytolab.timelapse.assets`); to use a model of
your own, set it to the path of your ONNX file, in the JSON file or with
``config.update("models.seg.model_path", "/path/to/seg.onnx")``.

Presets
-------
``"mothermachine"`` movies show a row of narrow chambers; each chamber is
cropped (``rois``), resized to the network input and segmented/tracked on its
own. ``"2D"`` movies (agar pads) show growing micro-colonies; whole frames
are segmented in tiles and each cell is tracked in a window around it. The
defaults:

============= ===== =========== ======== ========== ===== =====
presets       model target_size min_area resize tol batch chunk
============= ===== =========== ======== ========== ===== =====
mothermachine rois  (512, 512)  500      0.0        4     64
mothermachine seg   (256, 32)   20       1.0        8     2048
mothermachine track (256, 32)   0        1.0        8     512
2D            seg   (512, 512)  20       0.0        4     64
2D            track (256, 256)  0        0.0        4     64
============= ===== =========== ======== ========== ===== =====

Why these values:

* **target_size** (y, x), the network input: multiples of 16 so the four
  poolings of the U-Net divide evenly. A mother-machine chamber (about 32 px
  wide, up to 256 px long) fits ``(256, 32)`` with little resizing;
  chamber detection needs the layout of the whole frame, hence 512 px
  tiles. 2D frames are segmented in 512 px tiles (large enough that few
  cells are cut by tile borders). A 2D tracking window of 256 px is about
  eight cell lengths: the cell, its daughters after one frame and the
  neighbours pushing it; 128 px loses them in dense colonies, 512 px would
  cost four times more per cell (tracking runs once per cell and frame).
* **min_area** (px²): objects below it are removed. 20 px² only removes
  speckles (a newborn cell of 10 x 20 px has about 170 px²). 500 px² drops
  debris detected as chambers while keeping chambers cut by the image
  border down to 1/16 of their length. Tracking does not use it (0).
* **tolerable_resizing_factor**: see :meth:`ModelConfig.resizing_tolerable`.
  Chamber crops vary in size with the optics and are resized to the input
  when at most twice as large (1.0); beyond that they are cropped. Frames
  for chamber detection are never resized (0.0): they are cut into tiles
  at their own scale, as the network was trained (a frame smaller than the
  input gets tiles of its own size, in multiples of 16). 2D frames are
  never resized either (0.0): cells must keep the pixel size the network learned,
  so larger frames are tiled and frames smaller than the input are refused
  with an error that names ``models.seg.target_size`` (the networks are
  fully convolutional: any multiple of 8 works).
* **batch_size**: images per call of the network. On a CPU, batches of
  8 chamber crops (256x32) run as fast as batches of 128 while keeping
  onnxruntime's working memory low (measured on a 60-frame, 8-chamber
  position: 512 cells/s either way, peak memory 430 MB instead of 830 MB);
  512x512 tiles go 4 at a time (4 MiB of input).
* **chunk_size**: images handed to the model per call, about 64 MiB of
  float32 input (16 batches), which bounds memory on long movies.
* **correct_rotation / correct_drift**: on for mother machines (chambers must
  be vertical and boxes must follow the stage drift), off for 2D pads (no
  chambers; cells are tracked with windows around them).

Only the ``"onnx"`` backend is configured by default (``number_of_cores``:
``None`` = all cores; ``memory_growth_limit``: GPU memory cap in MB, ``None``
= no cap).
"""
from __future__ import annotations

import dataclasses
import json
import numbers
import os
import pathlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ..errors import CytolabError, FileFormatError
from ..io.files import atomic_path

PRESETS = ("2D", "mothermachine")
MODELS = ("rois", "seg", "track")

Presets = Literal["2D", "mothermachine"]
ModelName = Literal["rois", "seg", "track"]


class ConfigError(CytolabError, ValueError):
    """A configuration value has the wrong type or is out of range."""


class ConfigKeyError(ConfigError, KeyError):
    """A configuration key does not exist (or a required one is missing)."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


# ------------------------------------------------------------------ checks
def check_presets(presets: str) -> str:
    """Return `presets` if valid, else raise a ValueError naming the valid ones."""
    if presets not in PRESETS:
        raise ValueError(f"Unknown presets {presets!r}; valid presets: "
                         f"{', '.join(map(repr, PRESETS))}")
    return presets


def check_model(model: str, presets: str) -> str:
    """Return `model` if the presets have it, else raise a ValueError."""
    check_presets(presets)
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; valid models: "
                         f"{', '.join(map(repr, MODELS))}")
    if (presets, model) not in _MODEL_DEFAULTS:
        raise ValueError(f"The {presets!r} presets have no {model!r} model "
                         f"(valid models: {', '.join(map(repr, models_of(presets)))})")
    return model


def models_of(presets: str) -> tuple[str, ...]:
    """The models used with the given presets."""
    return tuple(m for p, m in _MODEL_DEFAULTS if p == check_presets(presets))


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"Configuration key '{key}' must be true or false, "
                          f"got {value!r}")
    return value


def _int(key: str, value: Any, minimum: int = 1) -> int:
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < minimum):
        raise ConfigError(f"Configuration key '{key}' must be an integer >= "
                          f"{minimum}, got {value!r}")
    return int(value)


def _int_or_none(key: str, value: Any) -> int | None:
    return None if value is None else _int(key, value)


def _float(key: str, value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= value < float("inf")):
        raise ConfigError(f"Configuration key '{key}' must be a finite number "
                          f">= 0, got {value!r}")
    return float(value)


def _size(key: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
            or len(value) != 2:
        raise ConfigError(f"Configuration key '{key}' must be a pair (y, x) of "
                          f"integers, got {value!r}")
    return (_int(key, value[0]), _int(key, value[1]))


def _path_or_none(key: str, value: Any) -> pathlib.Path | None:
    if value is None or isinstance(value, pathlib.Path):
        return value
    if isinstance(value, str) and value:
        return pathlib.Path(value)
    raise ConfigError(f"Configuration key '{key}' must be a path or null, "
                      f"got {value!r}")


def _default_model(key: str, value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            check_model(value[1], value[0])
        except ValueError as exc:
            raise ConfigError(f"Configuration key '{key}': {exc}") from None
        return (value[0], value[1])
    raise ConfigError(f"Configuration key '{key}' must be a pair (presets, model) "
                      f"or null, got {value!r}")


def _validate(obj: Any, checks: Mapping[str, Callable[[str, Any], Any]],
              prefix: str) -> None:
    """Check and normalise the fields of a dataclass in place."""
    for name, check in checks.items():
        object.__setattr__(obj, name, check(f"{prefix}{name}", getattr(obj, name)))


# ------------------------------------------------------------- dataclasses
@dataclasses.dataclass
class ModelConfig:
    """Settings of one neural network.

    Parameters
    ----------
    model_path
        ONNX file of the model; ``None`` for the weights shipped with
        cytolab for `default_model`.
    target_size
        Input size ``(y, x)`` of the network in pixels.
    min_area
        Objects smaller than this (px²) are removed (``rois`` and ``seg``
        only).
    tolerable_resizing_factor
        How much larger than `target_size` an image may be and still be
        resized to it instead of being cropped/tiled
        (:meth:`resizing_tolerable`).
    batch_size
        Images per prediction batch. Lower it when running out of memory;
        raise it for speed.
    chunk_size
        Images handed to the model per call (each call predicts in batches
        of `batch_size`); bounds memory on long movies.
    default_model
        ``(presets, model)`` of the shipped weights used when `model_path`
        is ``None``.

    Examples
    --------
    >>> cfg = ModelConfig.default("seg", "mothermachine")
    >>> cfg.target_size, cfg.min_area
    ((256, 32), 20.0)
    >>> cfg.resizing_tolerable((300, 40)), cfg.resizing_tolerable((600, 40))
    (True, False)
    """

    model_path: pathlib.Path | None
    target_size: tuple[int, int]
    min_area: float
    tolerable_resizing_factor: float
    batch_size: int
    chunk_size: int
    default_model: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        _validate(self, _MODEL_CHECKS, "")

    @classmethod
    def default(cls, model: ModelName, presets: Presets) -> ModelConfig:
        """Default settings of `model` for `presets` (table in the module doc)."""
        check_model(model, presets)
        size, min_area, factor, batch, chunk = _MODEL_DEFAULTS[presets, model]
        return cls(None, size, min_area, factor, batch, chunk,
                   default_model=(presets, model))

    def resizing_tolerable(self, shape: tuple[int, int]) -> bool:
        """Whether an image of `shape` (y, x) is resized to the input size.

        It is when, on both axes, ``size < target * (tolerable_resizing_factor
        + 1)``; otherwise it is cropped (or cut into tiles).
        """
        limit = 1.0 + self.tolerable_resizing_factor
        return all(ref < target * limit
                   for ref, target in zip(shape[-2:], self.target_size))

    def model(self) -> pathlib.Path:
        """Path of the model file: `model_path` when set, else the shipped
        weights of `default_model` (:func:`~cytolab.timelapse.assets.download_model`).

        Raises
        ------
        ConfigError
            Neither `model_path` nor `default_model` is set.
        FileNotFoundError
            `model_path` does not exist, or no weights are shipped.
        """
        if self.model_path is not None:
            if not self.model_path.is_file():
                from .assets import AssetUnavailableError
                raise AssetUnavailableError(
                    f"The model file '{self.model_path}' (model_path) does not exist")
            return self.model_path
        if self.default_model is None:
            raise ConfigError("This model configuration has neither a model_path "
                              "nor a default_model")
        from .assets import download_model
        return download_model(*self.default_model)


@dataclasses.dataclass
class BackendConfig:
    """Settings of a compute backend.

    Parameters
    ----------
    number_of_cores
        CPU threads to use (``None``: all).
    memory_growth_limit
        GPU memory cap in MB (e.g. 1024, 2048) against out-of-memory and
        driver troubles; ``None``: no cap.
    """

    number_of_cores: int | None
    memory_growth_limit: int | None

    def __post_init__(self) -> None:
        _validate(self, _BACKEND_CHECKS, "")


@dataclasses.dataclass
class Config:
    """Configuration of the time-lapse pipeline.

    Parameters
    ----------
    models
        Settings per network: keys among ``"rois"``, ``"seg"``, ``"track"``.
    backends
        Settings per compute backend (e.g. ``"onnx"``).
    correct_rotation
        Straighten mother-machine frames before cropping chambers.
    correct_drift
        Follow the stage drift between frames.
    whole_frame_drift
        Estimate the drift on the whole frame instead of a template region.

    Examples
    --------
    >>> config = Config.default("mothermachine")
    >>> config.update("models.seg.batch_size", 16)
    >>> Config.deserialize(config.serialize()) == config
    True
    >>> sorted(Config.default("2D").models)
    ['seg', 'track']
    """

    models: dict[str, ModelConfig]
    backends: dict[str, BackendConfig]
    correct_rotation: bool
    correct_drift: bool
    whole_frame_drift: bool = False

    def __post_init__(self) -> None:
        for name, model in self.models.items():
            if name not in MODELS:
                raise ConfigKeyError(f"Unknown model 'models.{name}'; valid models: "
                                     f"{', '.join(MODELS)}")
            if not isinstance(model, ModelConfig):
                raise ConfigError(f"'models.{name}' must be a ModelConfig, "
                                  f"got {type(model).__name__}")
        for name, backend in self.backends.items():
            if not isinstance(backend, BackendConfig):
                raise ConfigError(f"'backends.{name}' must be a BackendConfig, "
                                  f"got {type(backend).__name__}")
        _validate(self, _TOP_CHECKS, "")

    # ---------------------------------------------------------- creation
    @classmethod
    def default(cls, presets: Presets) -> Config:
        """Default configuration of `presets` (table in the module doc)."""
        mothermachine = check_presets(presets) == "mothermachine"
        models = {m: ModelConfig.default(m, presets) for m in models_of(presets)}
        return cls(models=models,
                   backends={"onnx": BackendConfig(None, None)},
                   correct_rotation=mothermachine, correct_drift=mothermachine,
                   whole_frame_drift=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build a configuration from the structure stored in JSON.

        Raises
        ------
        ConfigKeyError
            Unknown or missing keys (all named).
        ConfigError
            Values of the wrong type.
        """
        _check_keys(data, {f.name for f in dataclasses.fields(cls)},
                    required=("models", "backends", "correct_rotation",
                              "correct_drift"), where="")
        models = {name: _from_mapping(ModelConfig, value, f"models.{name}.")
                  for name, value in _mapping(data["models"], "models").items()}
        backends = {name: _from_mapping(BackendConfig, value, f"backends.{name}.")
                    for name, value in _mapping(data["backends"], "backends").items()}
        top = {k: v for k, v in data.items() if k not in ("models", "backends")}
        return cls(models=models, backends=backends, **top)

    @classmethod
    def deserialize(cls, json_str: str) -> Config:
        """Build a configuration from a JSON string (see :meth:`serialize`)."""
        try:
            data = json.loads(json_str)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Invalid configuration JSON: {exc}") from exc
        return cls.from_dict(_convert(data))

    @staticmethod
    def read(path: str | os.PathLike) -> Config:
        """Read a configuration file written by :meth:`write` (or by hand)."""
        try:
            return Config.from_dict(read_json(path))
        except ConfigError as exc:
            raise type(exc)(f"{exc} (in '{path}')") from None

    # ---------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON types (paths as strings)."""
        return _jsonable(dataclasses.asdict(self))

    def serialize(self) -> str:
        """The configuration as a JSON string (indent 2)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: str | os.PathLike) -> None:
        """Write the configuration as JSON to `path` (replaced atomically)."""
        with atomic_path(path) as tmp:
            tmp.write_text(self.serialize(), encoding="utf-8")

    # ---------------------------------------------------------- editing
    def update(self, key: str, value: Any) -> None:
        """Set one configuration value in place.

        Parameters
        ----------
        key
            A top-level key (``"correct_drift"``), a dotted field key
            (``"models.seg.batch_size"``, ``"backends.onnx.number_of_cores"``)
            or a whole sub-configuration (``"models.rois"``, with a
            :class:`ModelConfig` or a dict of all its fields).
        value
            The new value; checked like values read from JSON (lists for
            ``target_size`` and strings for ``model_path`` are converted).

        Raises
        ------
        ConfigKeyError
            Unknown key (the message lists the valid ones).
        ConfigError
            Wrong type or value; the configuration is left unchanged.
        """
        parts = key.split(".")
        if len(parts) == 1:
            check = _TOP_CHECKS.get(key)
            if check is None:
                raise ConfigKeyError(_unknown_key_message(key, _TOP_CHECKS))
            setattr(self, key, check(key, value))
            return
        section, name = parts[0], parts[1]
        if section not in ("models", "backends") or len(parts) > 3:
            raise ConfigKeyError(_unknown_key_message(key, _TOP_CHECKS))
        kind = ModelConfig if section == "models" else BackendConfig
        entries: dict = getattr(self, section)
        if len(parts) == 2:
            if section == "models" and name not in MODELS:
                raise ConfigKeyError(f"Unknown configuration key '{key}'; valid "
                                     f"models: {', '.join(MODELS)}")
            if not isinstance(value, kind):
                value = _from_mapping(kind, _mapping(value, key), f"{key}.")
            entries[name] = dataclasses.replace(value)
            return
        if name not in entries:
            raise ConfigKeyError(f"Unknown configuration key '{key}': there is no "
                                 f"'{section}.{name}' (present: "
                                 f"{', '.join(sorted(entries)) or 'none'})")
        field = parts[2]
        checks = _MODEL_CHECKS if kind is ModelConfig else _BACKEND_CHECKS
        if field not in checks:
            raise ConfigKeyError(f"Unknown configuration key '{key}'; "
                                 f"{kind.__name__} fields: {', '.join(checks)}")
        setattr(entries[name], field, checks[field](key, value))


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON configuration file into a dict.

    Lists become tuples and the strings of keys ending in ``_path`` become
    :class:`pathlib.Path`.

    Raises
    ------
    FileFormatError
        The file cannot be read or is not a JSON object.
    """
    try:
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"Cannot read the configuration file '{path}': "
                              f"{exc}") from exc
    if not isinstance(data, dict):
        raise FileFormatError(f"The configuration file '{path}' does not hold a "
                              f"JSON object")
    return _convert(data)


# ------------------------------------------------------------------ helpers
def _convert(data: Any, key: str = "") -> Any:
    """Lists -> tuples and non-empty ``*_path`` strings -> Path, recursively."""
    if isinstance(data, dict):
        return {k: _convert(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return tuple(_convert(v) for v in data)
    if isinstance(data, str) and data and key.endswith("_path"):
        return pathlib.Path(data)
    return data


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    if isinstance(data, pathlib.PurePath):
        return str(data)
    return data


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"Configuration key '{key}' must be a JSON object, "
                          f"got {value!r}")
    return value


def _check_keys(data: Mapping[str, Any], valid: set[str], required: tuple[str, ...],
                where: str) -> None:
    unknown = sorted(set(data) - valid)
    if unknown:
        hints = [f" ('{k}' is now 'models.{k[11:]}.model_path')" for k in unknown
                 if k.startswith("model_file_")]
        raise ConfigKeyError(
            f"Unknown configuration keys: {', '.join(where + k for k in unknown)}"
            f"{''.join(hints)}; valid keys{' of ' + where[:-1] if where else ''}: "
            f"{', '.join(sorted(valid))}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ConfigKeyError(f"Missing configuration keys: "
                             f"{', '.join(where + k for k in missing)}")


def _from_mapping(kind: type, data: Any, where: str) -> Any:
    """A ModelConfig/BackendConfig from a mapping, keys checked."""
    data = _mapping(data, where[:-1])
    fields = [f for f in dataclasses.fields(kind)]
    required = tuple(f.name for f in fields if f.default is dataclasses.MISSING)
    _check_keys(data, {f.name for f in fields}, required, where)
    checks = _MODEL_CHECKS if kind is ModelConfig else _BACKEND_CHECKS
    return kind(**{k: checks[k](where + k, v) for k, v in data.items()})


def _unknown_key_message(key: str, top: Mapping[str, Any]) -> str:
    return (f"Unknown configuration key '{key}'; use one of "
            f"{', '.join(top)}, 'models.<model>[.<field>]' or "
            f"'backends.<backend>[.<field>]'")


_MODEL_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "model_path": _path_or_none,
    "target_size": _size,
    "min_area": _float,
    "tolerable_resizing_factor": _float,
    "batch_size": _int,
    "chunk_size": _int,
    "default_model": _default_model,
}
_BACKEND_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "number_of_cores": _int_or_none,
    "memory_growth_limit": _int_or_none,
}
_TOP_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "correct_rotation": _bool,
    "correct_drift": _bool,
    "whole_frame_drift": _bool,
}

#: (presets, model) -> (target_size, min_area, tolerable_resizing_factor,
#: batch_size, chunk_size); the reasons are in the module doc
_MODEL_DEFAULTS: dict[tuple[str, str],
                      tuple[tuple[int, int], float, float, int, int]] = {
    ("mothermachine", "rois"): ((512, 512), 500.0, 0.0, 4, 64),
    ("mothermachine", "seg"): ((256, 32), 20.0, 1.0, 8, 2048),
    ("mothermachine", "track"): ((256, 32), 0.0, 1.0, 8, 512),
    ("2D", "seg"): ((512, 512), 20.0, 0.0, 4, 64),
    ("2D", "track"): ((256, 256), 0.0, 0.0, 4, 64),
}
