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
  :mod:`.evaluate`.

xarray, h5netcdf, tifffile, imageio-ffmpeg and scikit-image are imported
when first needed (``pip install "cytolab[timelapse]"``).
"""
from . import evaluate
from .assets import (
    AssetUnavailableError,
    download_demo_movie,
    download_model,
    download_training_set,
)
from .boxes import CroppingBox
from .config import BackendConfig, Config, ConfigError, ModelConfig, read_json
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
from .position import Position
from .roi import ROI
from .tiling import create_windows, stitch_pic
from .tracking import attributions, division_poles, track_poles, tracking_scores
from .truth import position_from_truth
from .video import overlay_frame, random_colors, write_video
from .xpreader import XPReader

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
]
