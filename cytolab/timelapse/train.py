"""Training the time-lapse networks on folders of images and masks.

:func:`train` trains the ``rois``, ``seg`` or ``track`` U-Net of a preset
from a training set (layout in :mod:`.assets`: ``img``/``seg`` folders, or
the five tracking folders), with data augmentation, a validation split,
progress, a checkpoint after every epoch and an ONNX file of the best
weights at the end, ready for the pipeline::

    from cytolab.timelapse import train
    result = train.train("seg", "my_training_set/", "seg.onnx",
                         presets="mothermachine", epochs=20)
    config.update("models.seg.model_path", result.model_path)

Fine-tuning (``init=`` the shipped or another cytolab ONNX file,
``finetune=True``) keeps the contracting half of the U-Net fixed and
retrains the expanding half and the output layer: a few annotated images of
a new species then suffice. The command-line form is ``cytolab
train-timelapse``. Needs ``pip install torch==2.13.0 "cytolab[train]"``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..io.files import atomic_path
from .config import ModelConfig, check_model

#: Default augmentation of each (presets, model): flips, small rotations,
#: zoom and shifts, illumination and contrast changes, noise and blur
DEFAULT_AUGMENTATION: Mapping[tuple[str, str], Mapping[str, Any]] = MappingProxyType({
    ("mothermachine", "rois"): MappingProxyType({
        "illumination_voodoo": True, "histogram_voodoo": True,
        "horizontal_flip": True, "gaussian_noise": 0.03, "rotation": 1,
        "zoom": 0.15, "shiftX": 0.05, "shiftY": 0.05}),
    ("mothermachine", "seg"): MappingProxyType({
        "illumination_voodoo": True, "histogram_voodoo": True,
        "horizontal_flip": True, "vertical_flip": True, "gaussian_noise": 0.03,
        "gaussian_blur": 1, "rotation": 2, "zoom": 0.1, "shiftX": 0.05,
        "shiftY": 0.05}),
    ("mothermachine", "track"): MappingProxyType({
        "horizontal_flip": True, "gaussian_noise": 0.03, "rotation": 1,
        "zoom": 0.05, "shiftX": 0.05, "shiftY": 0.05}),
    ("2D", "seg"): MappingProxyType({
        "illumination_voodoo": True, "histogram_voodoo": True,
        "horizontal_flip": True, "vertical_flip": True, "rotations90d": True,
        "gaussian_noise": 0.03, "gaussian_blur": 1, "rotation": 180,
        "zoom": 0.1}),
    ("2D", "track"): MappingProxyType({
        "horizontal_flip": True, "vertical_flip": True, "rotations90d": True,
        "gaussian_noise": 0.03, "rotation": 180, "zoom": 0.05}),
})


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` made.

    Attributes
    ----------
    model_path
        The ONNX file of the best weights.
    checkpoint_path
        The last checkpoint (``.pt``: weights, optimiser state, history).
    history
        One dict per epoch: ``epoch``, ``loss``, ``accuracy`` and, with a
        validation split, ``val_loss``, ``val_accuracy``, ``val_dice``.
    best_epoch
        Epoch whose weights were exported (lowest validation loss, or
        training loss without validation).
    seconds
        Training time.
    """

    model_path: pathlib.Path
    checkpoint_path: pathlib.Path
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"Training needs PyTorch ({exc}): pip install "
                          f'torch==2.13.0 "cytolab[train]"') from exc
    return torch


def load_datasets(model: str, dataset_path: str | os.PathLike,
                  target_size: tuple[int, int], *, presets: str,
                  kw_data_aug: Mapping[str, Any] | None, validation_split: float,
                  batch_size: int, seed: int) -> tuple[Any, Any | None]:
    """Training (and validation, or None) datasets of `model` from a folder."""
    from . import data
    aug = dict(kw_data_aug) if kw_data_aug is not None else None
    if model == "track":
        sets = data.load_training_dataset_track(
            dataset_path, target_size, kw_data_aug=aug,
            validation_split=validation_split, seed=seed, batch_size=batch_size)
    else:
        # chambers are resized to the input; whole frames are cropped
        crop = not (presets == "mothermachine" and model == "seg")
        sets = data.load_training_dataset_seg(
            dataset_path, target_size, crop=crop, kw_data_aug=aug,
            validation_split=validation_split, seed=seed,
            stack=model == "seg", batch_size=batch_size)
    if not isinstance(sets, tuple):
        sets = (sets,)
    return sets[0], (sets[1] if len(sets) > 1 else None)


def build_model(model: str, *, init: str | os.PathLike | None = None,
                levels: int = 4, filters: int | Sequence[int] | None = None,
                ) -> Any:
    """The U-Net to train: rebuilt from `init` (an ONNX file of cytolab or a
    ``.pt`` state dict of a model with the same `levels`/`filters`), else new."""
    from . import models
    if init is not None and pathlib.Path(init).suffix.lower() == ".onnx":
        return models.load_model(init)
    filters = models.SMALL_FILTERS[:levels] if filters is None else filters
    make = {"rois": lambda: models.unet_rois((None, None, 1), levels, filters),
            "seg": lambda: models.unet_seg(None, (None, None, 1), levels, filters),
            "track": lambda: models.unet_track(None, (None, None, 4), levels, filters)}
    net = make[model]()
    return net if init is None else models.load_weights(net, init)


def _freeze_encoder(net: Any) -> None:
    """Fine-tuning: keep the contracting path fixed (weights and batch
    statistics); the expanding path and the output layer train."""
    for block in net.down:
        block.eval()
        for param in block.parameters():
            param.requires_grad_(False)


def _batches(dataset: Any) -> Any:
    for i in range(len(dataset)):
        yield dataset[i]


def _evaluate(net: Any, dataset: Any, torch: Any) -> dict[str, float]:
    """Validation loss, pixel accuracy and Dice (pixel F1) over `dataset`."""
    net.eval()
    loss = acc = 0.0
    tp = fp = fn = 0.0
    n = 0
    with torch.no_grad():
        for x, y in _batches(dataset):
            xt, yt = torch.from_numpy(np.ascontiguousarray(x, np.float32)), \
                torch.from_numpy(np.ascontiguousarray(y, np.float32))
            logits = net.logits(xt).permute(0, 2, 3, 1)
            loss += float(net.loss(yt, logits, from_logits=True)) * len(x)
            prob = torch.sigmoid(logits)
            acc += float(net.metrics[0](yt, prob)) * len(x)
            pred, true = prob > 0.5, yt[..., :prob.shape[-1]] > 0.5
            tp += float((pred & true).sum())
            fp += float((pred & ~true).sum())
            fn += float((~pred & true).sum())
            n += len(x)
    n = max(n, 1)
    return {"val_loss": loss / n, "val_accuracy": acc / n,
            "val_dice": 2 * tp / max(2 * tp + fp + fn, 1.0)}


def train(model: str, dataset_path: str | os.PathLike, output: str | os.PathLike, *,
          presets: str = "mothermachine", epochs: int = 20,
          steps_per_epoch: int | None = None, batch_size: int = 8,
          learning_rate: float = 1e-3, validation_split: float = 0.1,
          kw_data_aug: Mapping[str, Any] | None = None,
          target_size: tuple[int, int] | None = None, levels: int = 4,
          filters: int | Sequence[int] | None = None,
          init: str | os.PathLike | None = None, finetune: bool = False,
          resume: bool = False, seed: int = 1, threads: int | None = None,
          checkpoint_dir: str | os.PathLike | None = None,
          progress: bool | None = None) -> TrainResult:
    """Train a network of the time-lapse pipeline and export it to ONNX.

    Parameters
    ----------
    model
        ``"rois"``, ``"seg"`` or ``"track"``.
    dataset_path
        Training set folder (layout in :mod:`.assets`; e.g. made by
        :func:`~.assets.download_training_set`).
    output
        The ONNX file to write (``.onnx``); the checkpoint
        (``<output>.checkpoint.pt``) and the history
        (``<output>.history.json``) go next to it or into `checkpoint_dir`.
    presets
        ``"mothermachine"`` or ``"2D"``: sets the input size recorded in the
        ONNX file and the default augmentation.
    epochs
        Passes over the training set (or `steps_per_epoch` batches).
    steps_per_epoch
        Batches per epoch (default: the whole training set).
    batch_size, learning_rate
        Of the Adam optimiser.
    validation_split
        Fraction of the samples held out for validation (0: none).
    kw_data_aug
        Augmentation (keys of :func:`~.augment.data_augmentation`); default
        :data:`DEFAULT_AUGMENTATION` of the presets and model; ``{}`` for
        none.
    target_size
        Size (y, x) of the training samples (default: the network input of
        the presets; whole 2D frames are cropped to it).
    levels, filters
        Architecture of a new network (default: 4 levels of
        :data:`~.models.SMALL_FILTERS`, the shipped size).
    init
        Start from these weights (a cytolab ONNX file, whose architecture
        it also takes, or a ``.pt`` state dict).
    finetune
        Train only the expanding path and the output layer (needs `init`).
    resume
        Continue from the checkpoint next to `output`.
    seed
        Seeds the weights, the data split, the shuffling and augmentation.
    threads
        CPU threads of PyTorch (default: all).
    checkpoint_dir
        Folder for the checkpoint and history (default: that of `output`).
    progress
        Show a progress bar (default: on a terminal).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Unknown model or presets, ``finetune`` without `init`, bad values.
    FileNotFoundError
        Missing training folders or `init` file.
    """
    torch = _import_torch()
    check_model(model, presets)
    if finetune and init is None:
        raise ValueError("train: finetune=True needs init= (the weights to fine-tune)")
    if epochs < 1 or batch_size < 1 or learning_rate <= 0:
        raise ValueError(f"train: epochs ({epochs}), batch_size ({batch_size}) and "
                         f"learning_rate ({learning_rate}) must be positive")
    output = pathlib.Path(output)
    if output.suffix.lower() != ".onnx":
        raise ValueError(f"train: the output '{output}' must be an .onnx file")
    if not output.parent.is_dir():  # found out now, not after hours of training
        raise FileNotFoundError(f"train: the folder of the output '{output}' "
                                f"does not exist")
    net_size = ModelConfig.default(model, presets).target_size
    size = tuple(target_size) if target_size is not None else net_size
    aug = DEFAULT_AUGMENTATION[presets, model] if kw_data_aug is None else kw_data_aug
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(int(threads))
    train_set, val_set = load_datasets(
        model, dataset_path, size, presets=presets, kw_data_aug=aug,
        validation_split=validation_split, batch_size=batch_size, seed=seed)
    net = build_model(model, init=init, levels=levels, filters=filters)
    params = [p for name, p in net.named_parameters()
              if not (finetune and name.startswith("down."))]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    side = pathlib.Path(checkpoint_dir) if checkpoint_dir else output.parent
    side.mkdir(parents=True, exist_ok=True)
    checkpoint = side / (output.name + ".checkpoint.pt")
    history: list[dict[str, float]] = []
    best = (np.inf, 0, None)
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        best = (state["best_score"], state["best_epoch"], state["best_model"])
    steps = steps_per_epoch or len(train_set)
    start = time.perf_counter()
    with progress_bar(total=(epochs - len(history)) * steps, desc=f"train {model}",
                      unit="batch", show=progress) as bar:
        for epoch in range(len(history) + 1, epochs + 1):
            net.train()
            if finetune:
                _freeze_encoder(net)
            losses, accs = [], []
            for step in range(steps):
                x, y = train_set[step % len(train_set)]
                xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
                yt = torch.from_numpy(np.ascontiguousarray(y, np.float32))
                logits = net.logits(xt).permute(0, 2, 3, 1)
                loss = net.loss(yt, logits, from_logits=True)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                accs.append(float(net.metrics[0](yt, torch.sigmoid(logits.detach()))))
                bar.update(1)
                if (step + 1) % len(train_set) == 0:
                    train_set.on_epoch_end()
            record = {"epoch": epoch, "loss": float(np.mean(losses)),
                      "accuracy": float(np.mean(accs))}
            if val_set is not None and len(val_set):
                record.update(_evaluate(net, val_set, torch))
            history.append(record)
            score = record.get("val_loss", record["loss"])
            if score < best[0]:
                weights = {k: v.clone() for k, v in net.state_dict().items()}
                best = (score, epoch, weights)
            bar.set_postfix({k: round(v, 4) for k, v in record.items()
                             if k != "epoch"})
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": net.state_dict(),
                            "optimizer": optimizer.state_dict(), "history": history,
                            "best_score": best[0], "best_epoch": best[1],
                            "best_model": best[2]}, tmp)
    seconds = time.perf_counter() - start
    net.load_state_dict(best[2])
    from .models import export_onnx
    export_onnx(net, output, net_size, presets=presets, network=model, training={
        "dataset": str(dataset_path), "epochs": epochs, "best_epoch": best[1],
        "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
        "finetune": finetune, "init": None if init is None else str(init),
        "train_size": list(size), "augmentation": dict(aug)})
    with atomic_path(side / (output.name + ".history.json")) as tmp:
        tmp.write_text(json.dumps(history, indent=2))
    return TrainResult(output, checkpoint, history, best[1], seconds)
