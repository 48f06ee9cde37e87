"""Realistic synthetic data with known ground truth.

:func:`simulate_rtdc` writes a deformability-cytometry measurement; it powers
the demo, the tests at scale and the benchmarks.
"""
from .rtdc import (
    SIMULATED_FEATURES,
    simulate_images,
    simulate_rtdc,
    simulate_scalar_features,
)

__all__ = ["SIMULATED_FEATURES", "simulate_images", "simulate_rtdc",
           "simulate_scalar_features"]
