"""Fine-tune the shipped segmentation network for a "new species".

Simulates mother-machine movies of thinner, shorter cells (5 px wide
instead of 10, born 15 px long instead of 24, in 8 px chambers) than those
the shipped network learned, writes a small training set from one movie
(seed 7) with border weight maps (as for the shipped network),
fine-tunes the shipped ``mothermachine`` seg network on it (only the
expanding path of the U-Net is trained, :func:`cytolab.timelapse.train.
train` with ``finetune=True``) and scores both networks on another movie
(seed 8): object F1 at IoU > 0.5 and > 0.9 and the mean IoU of matched
cells. Prints one JSON line per network.

Usage::

    python scripts/finetune_new_species.py [--epochs 8] [--learning-rate 5e-4]
                                            [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import tempfile

import numpy as np

from cytolab.simulate import simulate_mothermachine
from cytolab.timelapse.assets import download_model, write_training_set
from cytolab.timelapse.data import make_weights, seg_weights
from cytolab.timelapse.evaluate import match_labels, segmentation_scores
from cytolab.timelapse.labels import label_seg
from cytolab.timelapse.runtime import load_model
from cytolab.timelapse.train import train
from cytolab.timelapse.truth import position_from_truth

#: The new species: thin, short cells in narrow chambers
SPECIES = {"cell_width": 5.0, "chamber_width": 8, "birth_length": 15.0}

#: Augmentation for fine-tuning: flips, illumination and noise, but no zoom
#: or rotation, which would teach other cell widths than the species' own
AUGMENTATION = {"horizontal_flip": True, "vertical_flip": True,
                "illumination_voodoo": True, "histogram_voodoo": True,
                "gaussian_noise": 0.03}


def score(model_path: pathlib.Path, truth) -> dict[str, float]:
    """Segmentation scores of a network on the chambers of a movie."""
    model = load_model(model_path)
    position = position_from_truth(truth)
    true, pred = [], []
    for roi in position.rois:
        true += [roi.get_labels(f) for f in roi.frames]
        roi.segment(roi.frames, model)
        pred += [label_seg(roi.get_seg(f)) for f in roi.frames]
    true_stack, pred_stack = np.stack(true), np.stack(pred)
    loose = segmentation_scores(pred_stack, true_stack)
    strict = segmentation_scores(pred_stack, true_stack,
                                 matching=match_labels(pred_stack, true_stack, 0.9))
    return {"f1_iou50": round(loose["f1"], 4), "f1_iou90": round(strict["f1"], 4),
            "mean_iou": round(loose["mean_iou"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--out", default=None, help="folder (default: temporary)")
    args = parser.parse_args()
    out = pathlib.Path(args.out or tempfile.mkdtemp(prefix="cytolab-species-"))
    out.mkdir(parents=True, exist_ok=True)
    training = simulate_mothermachine(30, 4, seed=7, **SPECIES)
    dataset = write_training_set(out / "training_set", training, "mothermachine",
                                 "seg")
    make_weights(dataset, seg_weights)
    shipped = download_model("mothermachine", "seg")
    result = train("seg", dataset, out / "seg_new_species.onnx", init=shipped,
                   finetune=True, epochs=args.epochs, batch_size=8,
                   learning_rate=args.learning_rate, kw_data_aug=AUGMENTATION,
                   validation_split=0.1, seed=1)
    test = simulate_mothermachine(30, 4, seed=8, **SPECIES)
    for name, path in (("shipped", shipped), ("fine-tuned", result.model_path)):
        print(json.dumps({"network": name, "species": SPECIES,
                          "training_seconds": round(result.seconds, 1)
                          if name == "fine-tuned" else 0, **score(path, test)}))


if __name__ == "__main__":
    main()
