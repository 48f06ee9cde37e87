"""Realistic synthetic data with known ground truth.

:func:`simulate_rtdc` writes a deformability-cytometry measurement, optionally
with images and fluorescence traces; it powers the demo, the tests at scale
and the benchmarks. :func:`simulate_frames` writes a raw measurement (camera
frames only, as an instrument records them) and returns the ground truth of
every cell in it, for testing and timing event extraction.
:func:`simulate_fluorescence_series` draws a bleaching cell in a
fluorescence time series, with the decay it was made with.
:func:`simulate_mothermachine` and :func:`simulate_agarpad` make time-lapse
movies of growing, dividing bacteria with their labels and lineage.
"""
from .fluorescence import FluorescenceSeriesTruth, simulate_fluorescence_series
from .frames import (
    FRAME_FEATURES,
    TRUTH_KEYS,
    ellipse_footprint,
    match_truth,
    simulate_frames,
)
from .movies import (
    SEQUENCE_PATTERN,
    TRUTH_FILE,
    MovieTruth,
    capsule_mask,
    simulate_agarpad,
    simulate_mothermachine,
)
from .rtdc import (
    SIMULATED_FEATURES,
    SIMULATED_TRACE_FEATURES,
    simulate_images,
    simulate_rtdc,
    simulate_scalar_features,
    simulate_traces,
)

__all__ = ["FRAME_FEATURES", "SEQUENCE_PATTERN", "SIMULATED_FEATURES",
           "SIMULATED_TRACE_FEATURES", "TRUTH_FILE", "TRUTH_KEYS",
           "FluorescenceSeriesTruth", "MovieTruth", "capsule_mask",
           "ellipse_footprint", "match_truth", "simulate_agarpad",
           "simulate_fluorescence_series", "simulate_frames", "simulate_images",
           "simulate_mothermachine", "simulate_rtdc", "simulate_scalar_features",
           "simulate_traces"]
