"""Time-lapse microscopy of growing bacteria: movies, lineages, measurements.

The names follow DeLTA's API (``delta.config``, ``delta.imgops``,
``delta.lineage``, ``delta.utils``, ``delta.pipeline``), gathered here:

- configuration and assets: :class:`Config`, :class:`ModelConfig`,
  :class:`BackendConfig`, :func:`read_json`, :func:`download_model`,
  :func:`download_training_set`, :func:`download_demo_movie`;
- reading experiments: :class:`XPReader`;
- image operations: :class:`CroppingBox`, :func:`affine_transform`,
  :func:`rotate`, :func:`deskew`, :func:`compute_drift`,
  :func:`correct_drift`, :func:`drift_template`, :func:`create_windows`,
  :func:`stitch_pic`, masks and labels, reading and resizing images;
- cells: :func:`roi_features` and the measurements of :mod:`.measure`,
  the tracking logic of :mod:`.tracking`, :class:`Lineage`;
- results: :class:`ROI`, :class:`Position` (netCDF, movies),
  :func:`export_rtdc`, :func:`write_video`;
- simulated truth and scores: :func:`position_from_truth` and the module
  :mod:`.evaluate`;
- the pipeline: :class:`Pipeline` (with ``Position.preprocess``/``segment``/
  ``track`` and ``ROI.segment``/``track``), :func:`run_batch` (Dask),
  :func:`load_model` and :func:`chunks_predict` (ONNX networks);
- training: the datasets, weight maps and generators of :mod:`.data`,
  :func:`data_augmentation`, the U-Nets and losses of :mod:`.models` and
  :mod:`.train` (these two need PyTorch and are imported on first use:
  ``cytolab.timelapse.unet_seg`` works, ``import torch`` happens then).

xarray, h5netcdf, tifffile, imageio-ffmpeg, scikit-image and onnxruntime are
imported when first needed (``pip install "cytolab[timelapse]"``); PyTorch
only for training (``pip install torch==2.13.0 "cytolab[train]"``).
"""
from typing import Any

from . import evaluate
from .assets import (
    AssetUnavailableError,
    download_demo_movie,
    download_model,
    download_training_set,
)
from .augment import (
    data_augmentation,
    histogram_voodoo,
    illumination_voodoo,
    smart_elastic_deform,
)
from .boxes import CroppingBox
from .config import BackendConfig, Config, ConfigError, ModelConfig, read_json
from .data import (
    SegmentationDataset,
    TrackingDataset,
    estimate_classweights,
    estimate_seg2D_classweights,
    kernel,
    load_training_dataset_seg,
    load_training_dataset_track,
    make_weights,
    path_from_prototype,
    predict_compile_from_seg_track,
    predict_generator_seg,
    random_crop,
    save_result_seg,
    save_result_track,
    seg_weights,
    seg_weights_2D,
    tracking_weights,
    train_generator_track,
)
from .diffs import color_diff, compare_arrays, list_files, print_diffs
from .export import export_rtdc
from .geometry import (
    affine_transform,
    compute_drift,
    correct_drift,
    deskew,
    drift_template,
    rotate,
)
from .images import (
    read_image,
    read_reshape,
    rescale_image,
    resize_image,
    resize_labels,
    resize_mask,
    smart_resize,
    to_integer_values,
)
from .labels import (
    binarize_threshold,
    cells_in_frame,
    centroid,
    detect_touching_cells,
    distance_transform_labels,
    filter_areas,
    find_contours,
    label_seg,
    postprocess,
)
from .lineage import (
    Cell,
    CellAlreadyHasDaughterError,
    CellFeatures,
    CellNotOnFrameError,
    Lineage,
    LineageError,
)
from .measure import (
    cell_area,
    cell_fluo,
    cell_perimeter,
    cell_width_length,
    contour_curvature,
    eucl,
    find_poles,
    image_edges,
    pathfinding,
    roi_features,
)
from .pipeline import Pipeline, PipelineError, run_batch
from .position import Position
from .roi import ROI
from .runtime import chunks_predict, load_model
from .tiling import create_windows, stitch_pic
from .tracking import attributions, division_poles, track_poles, tracking_scores
from .truth import position_from_truth
from .video import overlay_frame, random_colors, write_video
from .xpreader import XPReader

#: Names of :mod:`.models` and :mod:`.train`, which import PyTorch
_TORCH_NAMES = {
    "unet": "models", "unet_rois": "models", "unet_seg": "models",
    "unet_track": "models", "hash_model": "models", "unstack_acc": "models",
    "pixelwise_weighted_binary_crossentropy_seg": "models",
    "pixelwise_weighted_binary_crossentropy_track": "models",
    "export_onnx": "models", "train": None, "models": None,
}


def __getattr__(name: str) -> Any:
    """Import the PyTorch parts on first use."""
    if name not in _TORCH_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    module = _TORCH_NAMES[name]
    if module is None:  # the module itself
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "ROI", "AssetUnavailableError", "BackendConfig", "Cell",
    "CellAlreadyHasDaughterError", "CellFeatures", "CellNotOnFrameError", "Config",
    "ConfigError", "CroppingBox", "Lineage", "LineageError", "ModelConfig",
    "Position", "XPReader", "affine_transform", "attributions",
    "binarize_threshold", "cell_area", "cell_fluo", "cell_perimeter",
    "cell_width_length", "cells_in_frame", "centroid", "color_diff",
    "compare_arrays", "compute_drift", "contour_curvature", "correct_drift",
    "create_windows", "deskew", "detect_touching_cells",
    "distance_transform_labels", "division_poles", "download_demo_movie",
    "download_model", "download_training_set", "drift_template", "eucl",
    "evaluate", "export_rtdc", "filter_areas", "find_contours", "find_poles",
    "image_edges", "label_seg", "list_files", "overlay_frame", "pathfinding",
    "position_from_truth", "postprocess", "print_diffs", "random_colors",
    "read_image", "read_json", "read_reshape", "rescale_image", "resize_image",
    "resize_labels", "resize_mask", "roi_features", "rotate", "smart_resize",
    "stitch_pic", "to_integer_values", "track_poles", "tracking_scores",
    "write_video",
    # pipeline and training
    "Pipeline", "PipelineError", "SegmentationDataset", "TrackingDataset",
    "chunks_predict", "data_augmentation", "estimate_classweights",
    "estimate_seg2D_classweights", "histogram_voodoo", "illumination_voodoo",
    "kernel", "load_model", "load_training_dataset_seg",
    "load_training_dataset_track", "make_weights", "path_from_prototype",
    "predict_compile_from_seg_track", "predict_generator_seg", "random_crop",
    "run_batch", "save_result_seg", "save_result_track", "seg_weights",
    "seg_weights_2D", "smart_elastic_deform", "tracking_weights",
    "train_generator_track",
]
