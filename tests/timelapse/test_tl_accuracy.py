"""Accuracy of the shipped networks on simulated movies they never saw.

The networks were trained on movies of seed 1 (see
``scripts/train_timelapse_weights.py``); these movies use other seeds. The
figures are those of issue 11; ``benchmarks/bench_timelapse.py`` reports
them on longer movies.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from cytolab.simulate import simulate_agarpad, simulate_mothermachine  # noqa: E402
from cytolab.timelapse import Config, Position  # noqa: E402
from cytolab.timelapse.assets import WEIGHTS  # noqa: E402
from cytolab.timelapse.evaluate import evaluate_position, format_report  # noqa: E402


def _shipped(presets, models):
    missing = [m for m in models if (presets, m) not in WEIGHTS]
    if missing:
        pytest.skip(f"no shipped weights for {presets} {missing}")


def _run(truth, presets):
    position = Position(0, Config.default(presets))
    position.preprocess(truth.images)
    position.segment()
    position.track()
    position.compute_growthrates()
    result = evaluate_position(position, truth)
    print(format_report(result))
    return position, result


@pytest.fixture(scope="module")
def mothermachine():
    _shipped("mothermachine", ("rois", "seg", "track"))
    truth = simulate_mothermachine(50, 5, seed=101, drift=True, fluorescence=True)
    return truth, *_run(truth, "mothermachine")


def test_mothermachine_chambers_and_drift(mothermachine):
    truth, position, _ = mothermachine
    boxes = [(r.box.xtl, r.box.ytl, r.box.xbr, r.box.ybr) for r in position.rois]
    assert len(boxes) == len(truth.chambers)
    assert np.abs(np.array(boxes) - np.array(truth.chambers)).max() <= 4
    drift = np.asarray(position.drift_values)[:, ::-1]  # (x, y) -> (y, x)
    assert np.abs(drift - truth.drift).max() <= 1


def test_mothermachine_accuracy(mothermachine):
    _, _, result = mothermachine
    assert result["segmentation"]["f1"] >= 0.98
    assert result["links"]["link_error_rate"] <= 0.005
    assert result["divisions"]["f1"] >= 0.95          # within ±1 frame
    assert result["divisions"]["tolerance_frames"] == 1
    assert result["growth_rate"]["median_relative_error"] <= 0.03


def test_agarpad_accuracy():
    _shipped("2D", ("seg", "track"))
    truth = simulate_agarpad(24, seed=101)
    _, result = _run(truth, "2D")
    assert result["segmentation"]["f1"] >= 0.95
    assert result["links"]["link_error_rate"] <= 0.02
