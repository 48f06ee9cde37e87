"""Train a time-lapse network (chambers, cells or tracking) on your images.

DATASET is a training-set folder: `img/` and `seg/` (same file names; 16-bit
or 8-bit images, masks 0/1 or 0/255, optional `wei/` weight maps) for the
`rois` and `seg` networks; `previmg/`, `seg/`, `img/`, `segall/` and
`mot_dau/` for `track`. `cytolab train-timelapse --simulated` makes one
from the simulator instead. OUTPUT is the ONNX file to write; a checkpoint
(OUTPUT.checkpoint.pt) is saved after every epoch and the per-epoch
metrics go to OUTPUT.history.json.

Fine-tune the shipped weights for a new species with --finetune (the
contracting half of the U-Net stays fixed):

  cytolab train-timelapse my_cells/ seg.onnx --model seg --finetune

Then use the new model:

  cytolab track movie/ --preset mothermachine --model-seg seg.onnx

Needs PyTorch: pip install torch==2.13.0 "cytolab[train]".
"""
from __future__ import annotations

import argparse
import json
import sys

from ..timelapse.config import MODELS, PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cytolab train-timelapse``."""
    parser.add_argument("dataset", nargs="?", help="training-set folder")
    parser.add_argument("output", help="ONNX file to write")
    parser.add_argument("--model", choices=MODELS, default="seg",
                        help="network to train (default: seg)")
    parser.add_argument("--preset", choices=PRESETS, default="mothermachine",
                        help="movie type (default: mothermachine)")
    parser.add_argument("--simulated", action="store_true",
                        help="train on the simulated training set of the preset")
    parser.add_argument("--epochs", type=int, default=20, help="default: 20")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="batches per epoch (default: the whole set)")
    parser.add_argument("--batch-size", type=int, default=8, help="default: 8")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam learning rate (default: 0.001)")
    parser.add_argument("--validation-split", type=float, default=0.1,
                        help="fraction held out for validation (default: 0.1)")
    parser.add_argument("--init", default=None,
                        help="start from these weights (ONNX of cytolab or .pt)")
    parser.add_argument("--finetune", action="store_true",
                        help="retrain only the expanding path (default init: the "
                             "shipped weights)")
    parser.add_argument("--no-augmentation", action="store_true",
                        help="train without data augmentation")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint next to OUTPUT")
    parser.add_argument("--seed", type=int, default=1, help="default: 1")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``cytolab train-timelapse``."""
    from ..timelapse.assets import download_model, download_training_set
    from ..timelapse.train import train
    if args.simulated == (args.dataset is not None):
        raise ValueError("give either DATASET or --simulated")
    dataset = (download_training_set(args.preset, args.model) if args.simulated
               else args.dataset)
    init = args.init
    if args.finetune and init is None:
        init = download_model(args.preset, args.model)
    result = train(args.model, dataset, args.output, presets=args.preset,
                   epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                   batch_size=args.batch_size, learning_rate=args.learning_rate,
                   validation_split=args.validation_split,
                   kw_data_aug={} if args.no_augmentation else None, init=init,
                   finetune=args.finetune, resume=args.resume, seed=args.seed,
                   progress=False if args.no_progress else None)
    last = result.history[-1]
    print(f"wrote {result.model_path} (best epoch {result.best_epoch} of "
          f"{len(result.history)}, {result.seconds:.0f} s)")
    print("last epoch: " + json.dumps({k: round(v, 4) for k, v in last.items()}),
          file=sys.stdout)
    return 0
