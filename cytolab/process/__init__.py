"""Raw deformability-cytometry frames to events: background, segmentation,
gating, features (the event-extraction pipeline).

Run it with :func:`run` (one measurement, all cores of this machine) or
:func:`run_batch` (many measurements on a Dask cluster); the command line
equivalent is ``cytolab process``.

Examples
--------
>>> import pathlib, tempfile
>>> import cytolab
>>> from cytolab.process import run
>>> from cytolab.simulate import simulate_frames
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> truth = simulate_frames(tmp / "raw.rtdc", num_frames=300, seed=3)
>>> out = run(tmp / "raw.rtdc", num_procs=1, progress=False)
>>> with cytolab.new_dataset(out) as ds:
...     print(ds.config["pipeline"]["dcnum segmenter"])
thresh:t=-6:cle=1^f=1^clo=2
"""
from .background import (
    BACKGROUND_METHODS,
    Background,
    CopyBackground,
    RollingMedian,
    SparseMedian,
    get_background,
)
from .batch import BatchError, find_inputs, run_batch
from .extract import FeatureExtractor, Gate, get_extractor, get_gate
from .pipeline import (
    OUTPUT_SUFFIX,
    PIPELINE_GENERATION,
    PipelineError,
    run,
)
from .segment import (
    SEGMENTERS,
    Objects,
    Segmenter,
    ThresholdSegmenter,
    get_segmenter,
    postprocess,
)

__all__ = [
    "BACKGROUND_METHODS", "Background", "BatchError", "CopyBackground",
    "FeatureExtractor", "Gate", "OUTPUT_SUFFIX", "Objects",
    "PIPELINE_GENERATION", "PipelineError", "RollingMedian", "SEGMENTERS",
    "Segmenter", "SparseMedian", "ThresholdSegmenter", "find_inputs",
    "get_background", "get_extractor", "get_gate", "get_segmenter",
    "postprocess", "run", "run_batch",
]
