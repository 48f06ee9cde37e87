"""Running the time-lapse networks: ONNX models on the CPU, in chunks.

The pipeline predicts with the ONNX files written by
:func:`cytolab.timelapse.models.export_onnx` through onnxruntime; PyTorch is
needed only for training. :func:`load_model` turns what a user hands the
pipeline into an object with a ``predict(x, batch_size)`` method:

* a path to an ONNX file: an :class:`OnnxModel` (one onnxruntime session
  per file, reused by every position and region that asks for it again);
* a PyTorch module (e.g. a :class:`~cytolab.timelapse.models.UNet` being
  trained): a :class:`TorchModel` that predicts without gradients in
  evaluation mode;
* anything else with a ``predict`` method (a Keras model, a test double):
  used as it is.

Arrays in and out are float32 NHWC, ``(batch, y, x, channels)``.
:func:`chunks_predict` feeds long inputs to a model a chunk at a time, so
that the outputs of a whole movie are gathered without ever handing the
model more than one chunk.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import sys
import threading
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import FileFormatError
from .assets import AssetUnavailableError

__all__ = ["OnnxModel", "Predictor", "TorchModel", "chunks_predict", "clear_cache",
           "load_model"]

#: ONNX metadata key written by :func:`cytolab.timelapse.models.export_onnx`
METADATA_KEY = "cytolab"

#: Sessions kept open by :func:`load_model` (least recently used dropped)
CACHE_SIZE = 8

ORT_HINT = ('The time-lapse networks run with onnxruntime, which is not '
            'installed: pip install "cytolab[timelapse]"')


@runtime_checkable
class Predictor(Protocol):
    """What the pipeline needs of a model."""

    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Outputs (NHWC) of inputs `x` (NHWC float32)."""


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - in the timelapse extra
        raise ImportError(f"{ORT_HINT} ({exc})") from exc
    return onnxruntime


def _all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _check_batch_size(batch_size: Any, name: str = "batch_size") -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _as_input(x: npt.ArrayLike, what: str, channels: int | None, multiple: int
              ) -> np.ndarray:
    """`x` as contiguous float32 NHWC, checked against a model's inputs."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    expected = (f"(batch, y, x, {channels if channels is not None else 'channels'})"
                f"{f' with y and x multiples of {multiple}' if multiple > 1 else ''}")
    if arr.ndim != 4:
        raise ValueError(f"{what} takes inputs of shape {expected}, got an array "
                         f"of shape {arr.shape}")
    if channels is not None and arr.shape[-1] != channels:
        raise ValueError(f"{what} takes {channels} input channel(s), shape "
                         f"{expected}; got shape {arr.shape}")
    if arr.shape[1] % multiple or arr.shape[2] % multiple:
        raise ValueError(f"{what} takes inputs of shape {expected}; got y, x = "
                         f"{arr.shape[1:3]} (change the network input size, "
                         f"'models.<model>.target_size', to multiples of "
                         f"{multiple})")
    return arr


def _batched(run: Any, x: np.ndarray, batch_size: int, channels: int | None
             ) -> np.ndarray:
    """Outputs of `run` over `x` in batches, written into one array as they
    come (`channels`: of an empty output, 1 if None)."""
    out: np.ndarray | None = None
    for start in range(0, len(x), batch_size):
        result = np.asarray(run(x[start:start + batch_size]), dtype=np.float32)
        if out is None:
            out = np.empty((len(x), *result.shape[1:]), dtype=np.float32)
        out[start:start + len(result)] = result
    if out is None:
        return np.zeros((0, *x.shape[1:3], channels or 1), np.float32)
    return out


class OnnxModel:
    """An ONNX network run by onnxruntime on the CPU.

    Use :func:`load_model` (which caches sessions) rather than this class.

    Parameters
    ----------
    path
        The ONNX file.
    threads
        Threads of each operator (intra-op); None: all cores available.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    metadata : dict
        The ``cytolab`` metadata of the file (empty if it has none):
        ``architecture``, ``target_size``, ``weights_sha256``, ...
    input_channels, output_channels : int or None
        Channels in and out (None if the file does not say).
    multiple : int
        Input heights and widths must be multiples of it
        (``2**(levels - 1)`` of the U-Net; 1 if unknown).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        ort = _import_onnxruntime()
        self.path = pathlib.Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads) if threads else _all_cores()
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=options,
                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise FileFormatError(f"'{self.path}' is not an ONNX model onnxruntime "
                                  f"can load: {exc}") from exc
        self.metadata = self._metadata()
        arch = self.metadata.get("architecture", {})
        node = self.session.get_inputs()[0]
        self.input_name = node.name
        self.output_name = self.session.get_outputs()[0].name
        declared = node.shape[-1] if node.shape else None
        self.input_channels: int | None = arch.get(
            "input_channels", declared if isinstance(declared, int) else None)
        out_decl = self.session.get_outputs()[0].shape
        out_decl = out_decl[-1] if out_decl else None
        self.output_channels: int | None = arch.get(
            "output_classes", out_decl if isinstance(out_decl, int) else None)
        self.multiple = 2 ** (int(arch["levels"]) - 1) if "levels" in arch else 1

    def _metadata(self) -> dict[str, Any]:
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            return {}
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"'{self.path}': the '{METADATA_KEY}' metadata "
                                  f"is not valid JSON ({exc})") from exc
        return meta if isinstance(meta, dict) else {}

    @property
    def target_size(self) -> tuple[int, int] | None:
        """Input size ``(y, x)`` the model was exported for (None if unknown)."""
        size = self.metadata.get("target_size")
        return None if size is None else (int(size[0]), int(size[1]))

    def predict(self, x: npt.ArrayLike, batch_size: int = 1) -> np.ndarray:
        """Outputs of the network.

        Parameters
        ----------
        x
            Inputs ``(batch, y, x, channels)``, float32 (images in [0, 1]).
        batch_size
            Inputs per run of the network.

        Returns
        -------
        numpy.ndarray
            float32 ``(batch, y, x, output_channels)``.

        Raises
        ------
        ValueError
            Wrong number of channels, or y/x not multiples of
            :attr:`multiple` (the message names the model file).
        """
        arr = _as_input(x, f"The model '{self.path}'", self.input_channels,
                        self.multiple)
        batch_size = _check_batch_size(batch_size)

        def run(batch: np.ndarray) -> np.ndarray:
            return self.session.run([self.output_name], {self.input_name: batch})[0]

        return _batched(run, arr, batch_size, self.output_channels)

    def __repr__(self) -> str:
        return (f"<OnnxModel '{self.path}': {self.input_channels} -> "
                f"{self.output_channels} channels>")


class TorchModel:
    """A PyTorch module predicting like an :class:`OnnxModel`.

    Predictions run without gradients, in evaluation mode (the module's
    mode is restored afterwards, so a training loop can validate with it).

    Parameters
    ----------
    module
        A ``torch.nn.Module`` taking and returning NHWC tensors (e.g. a
        :class:`~cytolab.timelapse.models.UNet`).
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        config = getattr(module, "config", None) or {}
        self.input_channels: int | None = config.get("input_channels")
        self.output_channels: int | None = config.get("output_classes")
        self.multiple = 2 ** (int(config["levels"]) - 1) if "levels" in config else 1

    def predict(self, x: npt.ArrayLike, batch_size: int = 1) -> np.ndarray:
        """Outputs of the module (see :meth:`OnnxModel.predict`)."""
        import torch

        arr = _as_input(x, f"The model {type(self.module).__name__}",
                        self.input_channels, self.multiple)
        batch_size = _check_batch_size(batch_size)
        device = next(iter(self.module.parameters()), torch.zeros(0)).device
        training = self.module.training

        def run(batch: np.ndarray) -> np.ndarray:
            out = self.module(torch.from_numpy(batch).to(device))
            return out.detach().cpu().numpy()

        self.module.eval()
        try:
            with torch.no_grad():
                return _batched(run, arr, batch_size, self.output_channels)
        finally:
            self.module.train(training)


_CACHE: collections.OrderedDict[tuple[Any, ...], OnnxModel] = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Close the onnxruntime sessions kept by :func:`load_model`."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")  # a module exists only if torch is imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def load_model(path_or_model: Any, *, threads: int | None = None) -> Predictor:
    """A model ready to predict.

    Parameters
    ----------
    path_or_model
        Path of an ONNX file, a PyTorch module, or an object with a
        ``predict(x, batch_size)`` method (returned as it is).
    threads
        Threads onnxruntime uses per operator (e.g.
        ``config.backends["onnx"].number_of_cores``); None: all cores.

    Returns
    -------
    Predictor
        For a file, an :class:`OnnxModel`; the same object is returned for
        the same file (same resolved path, modification time and size) and
        `threads`, so loading it for every region costs nothing.

    Raises
    ------
    AssetUnavailableError
        The file does not exist.
    FileFormatError
        onnxruntime cannot load the file.
    ImportError
        onnxruntime is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> class Identity:
    ...     def predict(self, x, batch_size):
    ...         return x
    >>> model = Identity()
    >>> load_model(model) is model
    True
    """
    if hasattr(path_or_model, "predict"):
        return path_or_model
    if _is_torch_module(path_or_model):
        return TorchModel(path_or_model)
    if not isinstance(path_or_model, (str, os.PathLike)):
        raise TypeError(f"load_model takes a path to an ONNX file, a PyTorch module "
                        f"or an object with a predict method, got "
                        f"{type(path_or_model).__name__}")
    path = pathlib.Path(path_or_model).expanduser()
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        raise AssetUnavailableError(
            f"The model file '{path}' does not exist (or is not a file). Point "
            f"the configuration at an ONNX model: "
            f"config.update('models.<model>.model_path', "
            f"'/path/to/model.onnx') or set \"model_path\" in the configuration "
            f"file.")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, threads)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is not None:
            _CACHE.move_to_end(key)
            return model
    model = OnnxModel(path, threads=threads)
    with _CACHE_LOCK:
        model = _CACHE.setdefault(key, model)
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model


def _output_channels(model: Any) -> int | None:
    channels = getattr(model, "output_channels", None)
    return int(channels) if isinstance(channels, (int, np.integer)) else None


def chunks_predict(inputs: npt.ArrayLike, model: Any, chunk_size: int,
                   batch_size: int | None = 1) -> np.ndarray:
    """Predict with a model chunk by chunk.

    The model gets at most `chunk_size` inputs per call (and predicts them
    in batches of `batch_size`); the outputs are written into one array as
    they come, so that the model never holds more than one chunk. Chunking
    does not change the results.

    Parameters
    ----------
    inputs
        ``(n, y, x, channels)`` inputs.
    model
        Anything :func:`load_model` takes (a model object, a path, a
        PyTorch module).
    chunk_size
        Inputs per call of the model.
    batch_size
        Inputs per batch within a call; None: the whole chunk at once.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, y, x, output_channels)``. For no inputs, an empty
        array whose channels are the model's ``output_channels`` if it
        declares them, else 1.

    Examples
    --------
    >>> import numpy as np
    >>> class Double:
    ...     def predict(self, x, batch_size):
    ...         return 2 * x
    >>> x = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    >>> chunks_predict(x, Double(), chunk_size=2).ravel().tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    chunk_size = _check_batch_size(chunk_size, "chunk_size")
    batch_size = chunk_size if batch_size is None else _check_batch_size(batch_size)
    arr = np.asarray(inputs)
    if arr.ndim != 4:
        raise ValueError(f"chunks_predict: inputs must have shape (n, y, x, "
                         f"channels), got {arr.shape}")
    predictor = load_model(model)

    def run(chunk: np.ndarray) -> np.ndarray:
        result = np.asarray(predictor.predict(np.ascontiguousarray(chunk, np.float32),
                                              batch_size=batch_size))
        if len(result) != len(chunk):
            raise ValueError(f"chunks_predict: the model returned {len(result)} "
                             f"outputs for {len(chunk)} inputs")
        return result

    return _batched(run, arr, chunk_size, _output_channels(predictor))
