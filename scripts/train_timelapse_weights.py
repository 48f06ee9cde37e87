"""Train the time-lapse networks shipped with cytolab, reproducibly.

Every network is trained with cytolab's own code (:mod:`cytolab.timelapse.
train`) on a training set made by the simulator (:func:`cytolab.timelapse.
assets.download_training_set`: movies with seed 1, never used for
evaluation), with fixed seeds, on the CPU. The ONNX files go to
``cytolab/timelapse/weights/``; their SHA-256 are printed as the lines to put
into ``WEIGHTS`` of ``cytolab/timelapse/assets.py``. The settings of each run
are also stored in the ONNX file's metadata (``cytolab`` key).

Usage::

    pip install torch==2.13.0 -e ".[train]"
    python scripts/train_timelapse_weights.py            # all five networks
    python scripts/train_timelapse_weights.py mothermachine/seg

Took about 20 minutes on 2 CPU cores. An interrupted run continues from its
checkpoint (in ``timelapse-training/``) when started again.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import time

import torch

from cytolab.timelapse import data
from cytolab.timelapse.assets import WEIGHTS_DIR, download_training_set
from cytolab.timelapse.train import train

#: (presets, model) -> training settings (see cytolab.timelapse.train.train)
RUNS = {
    ("mothermachine", "seg"): {"epochs": 16, "batch_size": 16,
                               "weights": "seg_weights"},
    ("mothermachine", "track"): {"epochs": 6, "batch_size": 16, "weights": None},
    ("mothermachine", "rois"): {"epochs": 12, "batch_size": 4,
                                "target_size": (256, 256), "weights": None},
    ("2D", "seg"): {"epochs": 25, "batch_size": 4, "target_size": (256, 256),
                    "weights": "seg_weights_2D"},
    ("2D", "track"): {"epochs": 5, "batch_size": 8, "weights": None},
}

SEED = 1

#: Checkpoints and histories (not shipped)
CHECKPOINTS = pathlib.Path("timelapse-training")


def run(presets: str, model: str) -> str:
    settings = dict(RUNS[presets, model])
    weights = settings.pop("weights")
    dataset = download_training_set(presets, model)
    if weights and not (dataset / "wei").is_dir():
        data.make_weights(dataset, getattr(data, weights))
    out = WEIGHTS_DIR / f"{presets}_{model}.onnx"
    start = time.perf_counter()
    result = train(model, dataset, out, presets=presets, seed=SEED,
                   validation_split=0.1, checkpoint_dir=CHECKPOINTS,
                   resume=True, **settings)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    print(json.dumps({"presets": presets, "model": model, "sha256": sha,
                      "seconds": round(time.perf_counter() - start),
                      "best_epoch": result.best_epoch, **result.history[-1]}),
          flush=True)
    return sha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="presets/model (default: all)")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    runs = [tuple(r.split("/")) for r in args.runs] or list(RUNS)
    hashes = {run_: run(*run_) for run_ in runs}
    for (presets, model), sha in hashes.items():
        print(f'    ("{presets}", "{model}"): "{sha}",', file=sys.stderr)


if __name__ == "__main__":
    main()
