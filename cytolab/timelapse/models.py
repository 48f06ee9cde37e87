"""U-Net models of the time-lapse pipeline, their losses and ONNX export.

The networks are PyTorch modules, needed only to *train*; the pipeline runs
the exported ONNX files with onnxruntime (:mod:`.runtime`). Tensors follow
the reference tool's layout: images are ``(batch, y, x, channels)`` (NHWC)
in and out, so arrays from :mod:`.data` go straight in.

Three networks share one architecture (:func:`unet`):

=============  ===========  ==================================================
model          input        output (sigmoid probabilities)
=============  ===========  ==================================================
``rois``       1 channel    mother-machine chambers
``seg``        1 channel    cells
``track``      4 channels   (previous image, the cell to track at t-1,
                            current image, all cells at t) -> (the cell at t,
                            its daughter born at t)
=============  ===========  ==================================================

Training targets (``y_true``) stack the target masks and, last, a pixel
weight map: ``(B, Y, X, 2)`` for ``seg``/``rois``, ``(B, Y, X, 3)`` for
``track``.

An exported ONNX file records the architecture in its metadata (``cytolab``
key, JSON), so :func:`load_model` can rebuild the PyTorch module from it and
fine-tune the shipped weights.

``torch`` is imported when this module is; ``onnx`` only for export/import.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import FileFormatError

#: Final activations :func:`unet` accepts
ACTIVATIONS = ("linear", "sigmoid", "softmax")

#: ONNX metadata key holding the architecture (JSON)
METADATA_KEY = "cytolab"

#: Filters of the shipped networks: small, for CPU speed (see
#: ``scripts/train_timelapse_weights.py``)
SMALL_FILTERS = (8, 16, 32, 64)


def _filters(levels: int, filters: int | Sequence[int] | None) -> tuple[int, ...]:
    """Filters per level: None -> 64·2^level, int -> base·2^level, or as given."""
    if levels < 1:
        raise ValueError(f"unet: levels must be >= 1, got {levels}")
    if filters is None or isinstance(filters, (int, np.integer)):
        base = 64 if filters is None else int(filters)
        out = tuple(base * 2 ** level for level in range(levels))
    else:
        out = tuple(int(f) for f in filters)
    if len(out) != levels or min(out) < 1:
        raise ValueError(f"unet: filters must be None, a positive int or {levels} "
                         f"positive ints (one per level), got {filters!r}")
    return out


def _block(cin: int, cout: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True)]
    if dropout:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """A U-Net taking and returning NHWC tensors (see :func:`unet`).

    Attributes
    ----------
    config
        The arguments that rebuild it (``unet(**config)``).
    loss, metrics
        Set by :func:`unet_rois`, :func:`unet_seg` and :func:`unet_track`
        (the training loss and metric functions, ``(y_true, y_pred)``).
    """

    def __init__(self, channels: int, output_classes: int, final_activation: str,
                 dropout: float, filters: tuple[int, ...]) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "input_channels": channels, "output_classes": output_classes,
            "final_activation": final_activation, "dropout": dropout,
            "levels": len(filters), "filters": list(filters)}
        self.loss: Any = None
        self.metrics: list[Any] = []
        self.down = nn.ModuleList()
        cin = channels
        for level, cout in enumerate(filters):
            self.down.append(_block(cin, cout, dropout if level >= len(filters) - 2
                                    else 0.0))
            cin = cout
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for cout in reversed(filters[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, cout, 2, stride=2))
            self.merge.append(_block(2 * cout, cout, 0.0))
            cin = cout
        self.head = nn.Conv2d(cin, output_classes, 1)

    @property
    def multiple(self) -> int:
        """Input sizes must be multiples of this (2^(levels - 1))."""
        return 2 ** (self.config["levels"] - 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation outputs (NCHW) of NHWC inputs `x`."""
        if not torch.jit.is_tracing() and (
                x.ndim != 4 or x.shape[-1] != self.config["input_channels"]):
            raise ValueError(f"UNet: input must be (batch, y, x, "
                             f"{self.config['input_channels']}), got {tuple(x.shape)}")
        h = x.permute(0, 3, 1, 2)
        skips = []
        for level, block in enumerate(self.down):
            if level:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = merge(torch.cat([skip, up(h)], dim=1))
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NHWC outputs of NHWC inputs, after the final activation."""
        out = self.logits(x)
        activation = self.config["final_activation"]
        if activation == "sigmoid":
            out = torch.sigmoid(out)
        elif activation == "softmax":
            out = torch.softmax(out, dim=1)
        return out.permute(0, 2, 3, 1)


def unet(input_size: tuple[int | None, int | None, int] = (None, None, 1),
         final_activation: str = "linear", output_classes: int = 1,
         dropout: float = 0.0, levels: int = 5,
         filters: int | Sequence[int] | None = None) -> UNet:
    """The U-Net: `levels` resolution levels of two 3x3 convolutions each.

    Each convolution is followed by batch normalisation and ReLU; the
    contracting path halves the resolution with 2x2 max pooling, the
    expanding path doubles it with 2x2 transposed convolutions and
    concatenates the features of the same level; a 1x1 convolution gives
    the outputs.

    Parameters
    ----------
    input_size
        ``(y, x, channels)``; y and x may be None (the network is fully
        convolutional; any multiple of ``2**(levels-1)`` works).
    final_activation
        ``"linear"``, ``"sigmoid"`` or ``"softmax"`` (over classes).
    output_classes
        Output channels.
    dropout
        Dropout rate in [0, 1) after the two deepest levels (0: none).
    levels
        Resolution levels.
    filters
        Filters per level: None for 64·2^level, an int base for base·2^level,
        or one int per level.

    Returns
    -------
    UNet
        An untrained module (no loss attached).

    Examples
    --------
    >>> import torch
    >>> net = unet((256, 32, 1), "sigmoid", levels=4, filters=4)
    >>> net(torch.zeros(2, 256, 32, 1)).shape
    torch.Size([2, 256, 32, 1])
    """
    if final_activation not in ACTIVATIONS:
        raise ValueError(f"unet: final_activation must be one of {ACTIVATIONS}, "
                         f"got {final_activation!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"unet: dropout must be in [0, 1), got {dropout}")
    if output_classes < 1:
        raise ValueError(f"unet: output_classes must be >= 1, got {output_classes}")
    widths = _filters(levels, filters)
    multiple = 2 ** (levels - 1)
    for size in input_size[:2]:
        if size is not None and size % multiple:
            raise ValueError(f"unet: input size {input_size[:2]} must be multiples "
                             f"of {multiple} for {levels} levels")
    return UNet(int(input_size[2]), output_classes, final_activation, dropout, widths)


def _compiled(net: UNet, loss: Any, pretrained_weights: str | os.PathLike | None
              ) -> UNet:
    net.loss = loss
    net.metrics = [unstack_acc]
    if pretrained_weights is not None:
        load_weights(net, pretrained_weights)
    return net


def unet_rois(input_size: tuple[int, int, int] = (512, 512, 1), levels: int = 5,
              filters: int | Sequence[int] | None = None) -> UNet:
    """U-Net finding mother-machine chambers, with its loss attached.

    The loss is :func:`pixelwise_weighted_binary_crossentropy_seg` (with a
    weight map of ones it is the plain binary cross-entropy).

    Examples
    --------
    >>> net = unet_rois((64, 64, 1), levels=3, filters=4)
    >>> net.loss.__name__
    'pixelwise_weighted_binary_crossentropy_seg'
    """
    return _compiled(unet(input_size, "sigmoid", 1, 0.0, levels, filters),
                     pixelwise_weighted_binary_crossentropy_seg, None)


def unet_seg(pretrained_weights: str | os.PathLike | None = None,
             input_size: tuple[int, int, int] = (256, 32, 1), levels: int = 5,
             filters: int | Sequence[int] | None = None) -> UNet:
    """U-Net segmenting cells, with its loss and metric attached.

    Parameters
    ----------
    pretrained_weights
        Weights to load (:func:`load_weights`: a ``.pt`` state dict or an
        ONNX file exported by :func:`export_onnx`).
    input_size, levels, filters
        As for :func:`unet`.
    """
    return _compiled(unet(input_size, "sigmoid", 1, 0.0, levels, filters),
                     pixelwise_weighted_binary_crossentropy_seg, pretrained_weights)


def unet_track(pretrained_weights: str | os.PathLike | None = None,
               input_size: tuple[int, int, int] = (256, 32, 4), levels: int = 5,
               filters: int | Sequence[int] | None = None) -> UNet:
    """U-Net tracking one cell: outputs (mother, daughter) probabilities.

    The inputs are the previous image, the mask of the cell to track on it,
    the current image and the mask of all cells on it (channels in that
    order; :data:`cytolab.timelapse.data.TRACK_INPUTS`).
    """
    if input_size[2] != 4:
        raise ValueError(f"unet_track: the input has 4 channels, got {input_size}")
    return _compiled(unet(input_size, "sigmoid", 2, 0.0, levels, filters),
                     pixelwise_weighted_binary_crossentropy_track, pretrained_weights)


# --------------------------------------------------------------- losses
def _split_true(y_true: torch.Tensor, y_pred: torch.Tensor, name: str
                ) -> tuple[torch.Tensor, torch.Tensor]:
    classes = y_pred.shape[-1]
    if y_true.ndim != 4 or y_true.shape[-1] != classes + 1 \
            or y_true.shape[:-1] != y_pred.shape[:-1]:
        raise ValueError(f"{name}: y_true must stack {classes} target channel(s) and "
                         f"a weight map, shape {(*y_pred.shape[:-1], classes + 1)}; "
                         f"got {tuple(y_true.shape)} for y_pred {tuple(y_pred.shape)}")
    return y_true[..., :classes], y_true[..., classes:]


def _weighted_bce(y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool,
                  name: str) -> torch.Tensor:
    target, weights = _split_true(y_true, y_pred, name)
    if from_logits:
        loss = nn.functional.binary_cross_entropy_with_logits(
            y_pred, target, reduction="none")
    else:
        p = y_pred.clamp(1e-7, 1 - 1e-7)
        loss = -(target * torch.log(p) + (1 - target) * torch.log1p(-p))
    return (loss * weights).mean()


def pixelwise_weighted_binary_crossentropy_seg(
        y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False
) -> torch.Tensor:
    """Mean over pixels of ``weight · BCE(mask, prediction)``.

    Parameters
    ----------
    y_true
        ``(B, Y, X, 2)``: the target mask (0/1) and the weight map.
    y_pred
        ``(B, Y, X, 1)`` probabilities (or pre-activations with
        ``from_logits=True``, numerically safer for training).

    Examples
    --------
    >>> import torch
    >>> y_true = torch.tensor([1.0, 2.0]).reshape(1, 1, 1, 2)   # mask 1, weight 2
    >>> y_pred = torch.full((1, 1, 1, 1), 0.5)
    >>> round(float(pixelwise_weighted_binary_crossentropy_seg(y_true, y_pred)), 4)
    1.3863
    """
    return _weighted_bce(y_true, y_pred, from_logits,
                         "pixelwise_weighted_binary_crossentropy_seg")


def pixelwise_weighted_binary_crossentropy_track(
        y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False
) -> torch.Tensor:
    """As the ``_seg`` loss, for ``(B, Y, X, 3)`` targets (mother, daughter,
    weights) and ``(B, Y, X, 2)`` predictions; the weight map applies to both
    outputs."""
    return _weighted_bce(y_true, y_pred, from_logits,
                         "pixelwise_weighted_binary_crossentropy_track")


def unstack_acc(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Binary accuracy of ``y_pred > 0.5`` against the targets of `y_true`
    (the weight map, its last channel, is ignored).

    Examples
    --------
    >>> import torch
    >>> y_true = torch.tensor([[1.0, 5.0], [0.0, 5.0]]).reshape(1, 1, 2, 2)
    >>> float(unstack_acc(y_true, torch.tensor([0.9, 0.8]).reshape(1, 1, 2, 1)))
    0.5
    """
    target, _ = _split_true(y_true, y_pred, "unstack_acc")
    return ((y_pred > 0.5) == (target > 0.5)).float().mean()


# --------------------------------------------------------- weights, hash
def hash_model(model: nn.Module | str | os.PathLike) -> str:
    """SHA-256 (hex) of a model's weights: its state dict (names, shapes,
    dtypes and values, in order), or the bytes of a model file.

    Two modules with equal weights have equal hashes, whatever their
    training history.

    Examples
    --------
    >>> a, b = unet(levels=2, filters=2), unet(levels=2, filters=2)
    >>> _ = b.load_state_dict(a.state_dict())
    >>> hash_model(a) == hash_model(b)
    True
    """
    digest = hashlib.sha256()
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for name, tensor in model.state_dict().items():
        arr = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{arr.dtype}:{arr.shape};".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _onnx_metadata(path: pathlib.Path) -> tuple[Any, dict[str, Any]]:
    import onnx
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises various errors
        raise FileFormatError(f"'{path}' is not a readable ONNX model: {exc}") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise FileFormatError(f"'{path}' was not exported by cytolab (no "
                              f"'{METADATA_KEY}' metadata); it cannot be "
                              f"loaded into a PyTorch U-Net")
    return proto, json.loads(meta[METADATA_KEY])


def _onnx_weights(proto: Any) -> dict[str, np.ndarray]:
    """Weights of an exported graph by state-dict name: the named
    initializers, plus each batch normalisation's running statistics (the
    exporter stores them under generated names, found through the node)."""
    from onnx import numpy_helper
    values = {init.name: numpy_helper.to_array(init)
              for init in proto.graph.initializer}
    for node in proto.graph.node:  # the exporter shares equal tensors
        if node.op_type == "Constant" and node.output[0] not in values:
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    for node in proto.graph.node:
        if node.op_type == "BatchNormalization" and node.input[1].endswith(".weight"):
            prefix = node.input[1][:-len("weight")]
            for stat, name in zip(("running_mean", "running_var"), node.input[3:5]):
                if name in values:
                    values[prefix + stat] = values[name]
    return values


def load_weights(model: UNet, path: str | os.PathLike) -> UNet:
    """Load weights into `model` from a ``.pt``/``.pth`` state dict or an
    ONNX file exported by :func:`export_onnx`; returns `model`.

    Raises
    ------
    FileNotFoundError, FileFormatError, ValueError
        Missing file; unreadable file; weights of another architecture.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The weights file '{path}' does not exist")
    if path.suffix.lower() == ".onnx":
        proto, _ = _onnx_metadata(path)
        values = _onnx_weights(proto)
        state = {}
        for name, tensor in model.state_dict().items():
            if name not in values:
                if name.endswith("num_batches_tracked"):
                    state[name] = tensor
                    continue
                raise ValueError(f"'{path}': the ONNX file has no weights "
                                 f"'{name}'; another architecture?")
            state[name] = torch.from_numpy(np.array(values[name]))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise FileFormatError(f"'{path}' is not a PyTorch state dict: {exc}"
                                  ) from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"'{path}' holds weights of another architecture: "
                         f"{exc}") from exc
    return model


def load_model(path: str | os.PathLike) -> UNet:
    """Rebuild the PyTorch U-Net of an ONNX file exported by
    :func:`export_onnx` (architecture from its metadata), with its weights,
    loss and metric (for fine-tuning)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The model file '{path}' does not exist")
    _, meta = _onnx_metadata(path)
    arch = meta["architecture"]
    net = unet((None, None, arch["input_channels"]), arch["final_activation"],
               arch["output_classes"], arch["dropout"], arch["levels"],
               arch["filters"])
    loss = (pixelwise_weighted_binary_crossentropy_track
            if arch["output_classes"] == 2 else
            pixelwise_weighted_binary_crossentropy_seg)
    return _compiled(net, loss, path)


def export_onnx(model: UNet, path: str | os.PathLike,
                target_size: tuple[int, int], **info: Any) -> pathlib.Path:
    """Write `model` as an ONNX file runnable by onnxruntime.

    The batch, y and x axes are dynamic (y and x must stay multiples of
    ``2**(levels-1)``); inputs are float32 NHWC named ``"input"``, outputs
    the probabilities named ``"output"``. The metadata ``cytolab`` (JSON)
    records the architecture, `target_size`, the weights' :func:`hash_model`
    and any `info` (e.g. presets, model name, training settings). The file
    is written atomically.
    """
    from ..io.files import atomic_path
    path = pathlib.Path(path)
    model = model.eval()
    x = torch.zeros(1, *target_size, model.config["input_channels"])
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the TorchScript exporter (deprecated in favour of torch.export,
        # which needs onnxscript) gives compact graphs with dynamic y/x axes
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (x,), str(tmp), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch", 1: "y", 2: "x"},
                          "output": {0: "batch", 1: "y", 2: "x"}},
            opset_version=17, dynamo=False, do_constant_folding=False)
        import onnx
        proto = onnx.load(str(tmp))
        meta = {"architecture": model.config, "target_size": list(target_size),
                "weights_sha256": hash_model(model), **info}
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)
        onnx.save(proto, str(tmp))
    return path
