"""Simulated raw measurements shared by the pipeline tests."""
from __future__ import annotations

import pytest

from cytolab.simulate import simulate_frames


@pytest.fixture(scope="session")
def raw_steady(tmp_path_factory):
    """600 frames with cells, steady illumination, and their ground truth."""
    path = tmp_path_factory.mktemp("raw") / "steady.rtdc"
    truth = simulate_frames(path, num_frames=600, seed=11)
    return path, truth


@pytest.fixture(scope="session")
def raw_flicker(tmp_path_factory):
    """600 frames with flickering illumination."""
    path = tmp_path_factory.mktemp("raw") / "flicker.rtdc"
    truth = simulate_frames(path, num_frames=600, seed=12, flicker=True)
    return path, truth
