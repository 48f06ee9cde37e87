"""Realistic synthetic data with known ground truth.

:func:`simulate_rtdc` writes a deformability-cytometry measurement, optionally
with images and fluorescence traces; it powers the demo, the tests at scale
and the benchmarks.
"""
from .rtdc import (
    SIMULATED_FEATURES,
    SIMULATED_TRACE_FEATURES,
    simulate_images,
    simulate_rtdc,
    simulate_scalar_features,
    simulate_traces,
)

__all__ = ["SIMULATED_FEATURES", "SIMULATED_TRACE_FEATURES", "simulate_images",
           "simulate_rtdc", "simulate_scalar_features", "simulate_traces"]
