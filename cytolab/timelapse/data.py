"""Training data, weight maps and prediction inputs of the time-lapse networks.

Training sets are folders of image files with the same name in each
subfolder (the layout :func:`cytolab.timelapse.assets.write_training_set`
writes):

========== ================================================================
model      subfolders
========== ================================================================
rois, seg  ``img`` (images), ``seg`` (masks), optional ``wei`` (weights)
track      ``previmg`` (frame t-1), ``seg`` (the cell to track at t-1),
           ``img`` (frame t), ``segall`` (all cells at t), ``mot_dau``
           (1 = that cell at t, 2 = its daughter born at t), optional
           ``wei``
========== ================================================================

Images are read as float32 in [0, 1] (16-bit PNG files are divided by
65535); masks may be stored as 0/1 or 0/255 (any non-zero pixel is a cell).

Batches are NHWC float32 arrays, the layout of the networks:

* segmentation: ``x`` (B, H, W, 1) images, ``y`` (B, H, W, 2) =
  [mask, weight map] (weights all ones when there are none);
* tracking: ``x`` (B, H, W, 4) with the channels :data:`TRACK_INPUTS`
  (previous image, mask of the cell to track at t-1, current image, all
  cells at t) and ``y`` (B, H, W, 3) = [mother, daughter, weight map]
  (:data:`TRACK_OUTPUTS`, then the weights).

The datasets (:class:`SegmentationDataset`, :class:`TrackingDataset`) read
all their files once, when they are made, and keep them in memory (as
float32 images and uint8 masks, already resized to the network input when
they are resized rather than cropped): training sets are small (the
largest simulated one, 2000 mother-machine tracking samples, takes about
170 MB), and every epoch reads every sample. They need neither Keras nor
PyTorch: ``len(ds)`` is the number of batches, ``ds[i]`` a batch and
:meth:`~SegmentationDataset.on_epoch_end` reshuffles.
"""
from __future__ import annotations

import itertools
import math
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..errors import CytolabError
from .augment import check_augmentation_parameters, data_augmentation
from .boxes import CroppingBox
from .images import (
    RESHAPE_SUFFIXES,
    TIFF_HINT,
    _pad_to,
    read_image,
    read_raw_image,
    read_reshape,
    resize_image,
    resize_labels,
    resize_mask,
    to_integer_values,
    write_image,
)
from .labels import (
    Image,
    SegmentationMask,
    _as_mask,
    _check_shape,
    cells_in_frame,
    find_contours,
    label_seg,
)
from .tiling import create_windows
from .xpreader import _parse_prototype

__all__ = [
    "TRACK_INPUTS",
    "TRACK_OUTPUTS",
    "SegmentationDataset",
    "TrackingDataset",
    "TrainingSetError",
    "estimate_classweights",
    "estimate_seg2D_classweights",
    "kernel",
    "load_training_dataset_seg",
    "load_training_dataset_track",
    "make_weights",
    "path_from_prototype",
    "predict_compile_from_seg_track",
    "predict_generator_seg",
    "random_crop",
    "save_result_seg",
    "save_result_track",
    "seg_weights",
    "seg_weights_2D",
    "tracking_weights",
    "train_generator_track",
]

PathLike = str | os.PathLike

#: Channels of the tracking network input, in order
TRACK_INPUTS = ("previmg", "seg", "img", "segall")
#: Class channels of the tracking network output, in order (the weight map
#: follows them in training targets)
TRACK_OUTPUTS = ("mother", "daughter")
#: Subfolder of a tracking training set holding the mother/daughter masks
TRACK_TARGET = "mot_dau"

#: Minimum overlap [px] of the tiles of evaluation datasets (at most the
#: tile size minus one)
TILE_OVERLAP = 24

#: :func:`seg_weights` ignores border terms below this fraction of `w0`
#: (which bounds the neighbourhood searched around each cell)
SEG_WEIGHTS_TOLERANCE = 1e-6

#: :func:`seg_weights_2D`: background pixels within this distance [px] of
#: two different cells are "gap" pixels
GAP_DISTANCE = 3.0
#: :func:`seg_weights_2D`: extra weight (times the class weight) of gap pixels
GAP_GAIN = 4.0
#: :func:`seg_weights_2D`: extra weight (times the class weight) of contour
#: pixels of cells
CONTOUR_GAIN = 1.0

#: :func:`tracking_weights`: extra weight of background pixels next to the
#: tracked cells (decaying to 0 at the halo distance)
HALO_GAIN = 1.0
#: :func:`tracking_weights`: extra weight of cell pixels next to the tracked
#: cells (decaying to 0 at the halo distance)
CELL_GAIN = 3.0

_MODES = ("training", "evaluation")
_PROTOTYPE_AXES = {"p": "position", "c": "chamber", "f": "frame", "t": "frame",
                   "n": "cellnb"}
class TrainingSetError(CytolabError, ValueError):
    """A training set or a folder of inputs is missing files, holds files
    without counterparts, or holds arrays that do not fit together."""


# ------------------------------------------------------------ file names
def path_from_prototype(prototype: str, fileorder: str,
                        position: int | None = None, chamber: int | None = None,
                        frame: int | None = None, cellnb: int | None = None
                        ) -> pathlib.Path:
    """File name made from a C-style (printf) prototype.

    Parameters
    ----------
    prototype
        Name with one ``%d`` / ``%0Nd`` per number, e.g.
        ``"Position%02d_Chamber%02d_Frame%03d.png"``.
    fileorder
        One letter per ``%d``, in order: ``p`` position, ``c`` chamber,
        ``f`` (or ``t``) frame, ``n`` cell number.
    position, chamber, frame, cellnb
        The numbers (0-based indices, written as they are); those named in
        `fileorder` are required.

    Returns
    -------
    pathlib.Path
        The file name (with the folders of `prototype`, if any).

    Raises
    ------
    ValueError
        If `fileorder` does not match the prototype, holds an unknown
        letter, or a number it names is missing.

    Examples
    --------
    >>> str(path_from_prototype("Position%02d_Chamber%02d_Frame%03d.png", "pcf",
    ...                         position=1, chamber=0, frame=12))
    'Position01_Chamber00_Frame012.png'
    >>> str(path_from_prototype("Frame%03d_Cell%02d.png", "tn", frame=3, cellnb=2))
    'Frame003_Cell02.png'
    """
    _, count = _parse_prototype(prototype)
    if len(fileorder) != count:
        raise ValueError(f"fileorder {fileorder!r} must have one letter per "
                         f"%d of the prototype {prototype!r} ({count})")
    given = {"position": position, "chamber": chamber, "frame": frame,
             "cellnb": cellnb}
    numbers = []
    for letter in fileorder:
        if letter not in _PROTOTYPE_AXES:
            raise ValueError(f"fileorder {fileorder!r}: unknown letter "
                             f"{letter!r}; valid ones: "
                             f"{', '.join(_PROTOTYPE_AXES)}")
        value = given[_PROTOTYPE_AXES[letter]]
        if value is None:
            raise ValueError(f"The prototype {prototype!r} needs a "
                             f"{_PROTOTYPE_AXES[letter]} number (fileorder "
                             f"{fileorder!r})")
        numbers.append(int(value))
    return pathlib.Path(prototype % tuple(numbers))


def _image_files(folder: pathlib.Path, what: str) -> list[pathlib.Path]:
    """Image files of a folder sorted by name (error if there are none)."""
    if not folder.is_dir():
        raise TrainingSetError(f"The {what} folder '{folder}' does not exist")
    files = sorted(path for path in folder.iterdir()
                   if path.suffix.lower() in RESHAPE_SUFFIXES
                   and not path.name.startswith(".") and path.is_file())
    if not files:
        raise TrainingSetError(f"The {what} folder '{folder}' holds no image "
                               f"files ({', '.join(RESHAPE_SUFFIXES)})")
    return files


def _matched_files(folders: Mapping[str, pathlib.Path]
                   ) -> dict[str, list[pathlib.Path]]:
    """Files of the same names in every folder, sorted by name.

    The first folder is the reference; any name missing in another folder
    (or found only there) is an error naming the file.
    """
    found = {key: {p.name: p for p in _image_files(pathlib.Path(folder), key)}
             for key, folder in folders.items()}
    reference = next(iter(folders))
    names = sorted(found[reference])
    for key, files in found.items():
        folder = pathlib.Path(folders[key])
        ref_folder = pathlib.Path(folders[reference])
        missing = sorted(set(names) - set(files))
        if missing:
            raise TrainingSetError(
                f"'{folder / missing[0]}' is missing: each file of "
                f"'{ref_folder}' needs one of the same name in '{folder}' "
                f"({len(missing)} missing)")
        extra = sorted(set(files) - set(names))
        if extra:
            raise TrainingSetError(
                f"'{folder / extra[0]}' has no counterpart "
                f"'{ref_folder / extra[0]}' ({len(extra)} such files in "
                f"'{folder}')")
    return {key: [files[name] for name in names] for key, files in found.items()}


def _read_mask(path: pathlib.Path) -> SegmentationMask:
    """A mask file as uint8 0/1 (any non-zero pixel is a cell)."""
    return (read_raw_image(path) != 0).astype(np.uint8)


def _read_mot_dau(path: pathlib.Path) -> npt.NDArray[np.uint8]:
    """A mother/daughter file: 0 background, 1 mother, 2 daughter."""
    raw = read_raw_image(path)
    if raw.dtype.kind not in "ub" or raw.size and raw.max() > 2:
        raise TrainingSetError(
            f"{path}: a {TRACK_TARGET} image must hold 0 (background), 1 "
            f"(mother) and 2 (daughter), got dtype {raw.dtype} with values up "
            f"to {raw.max() if raw.size else 0}")
    return raw.astype(np.uint8)


def _check_same_shape(arrays: Mapping[str, np.ndarray],
                      paths: Mapping[str, pathlib.Path]) -> None:
    shapes = {key: arr.shape for key, arr in arrays.items()}
    if len(set(shapes.values())) > 1:
        listing = ", ".join(f"'{paths[key]}' {shape}" for key, shape in shapes.items())
        raise TrainingSetError(f"The images of one sample differ in shape: "
                               f"{listing}")


# ------------------------------------------------------------ small helpers
def kernel(n: int) -> SegmentationMask:
    """Square structuring element for morphological operations.

    Parameters
    ----------
    n
        Side length [px], at least 1.

    Returns
    -------
    numpy.ndarray of uint8
        ``(n, n)`` array of ones.

    Examples
    --------
    >>> kernel(3).tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return np.ones((int(n), int(n)), dtype=np.uint8)


def random_crop(img: Image, seg: SegmentationMask, wei: Image | None,
                target_size: tuple[int, int], rng: np.random.Generator
                ) -> tuple[Image, SegmentationMask, Image | None]:
    """Cut the same random window out of an image, its mask and weights.

    Parameters
    ----------
    img, seg, wei
        2-D arrays of one shape; `wei` may be None.
    target_size
        ``(height, width)`` of the window. Arrays smaller than that are
        zero-padded at the bottom and right first.
    rng
        Random number generator; the top-left corner is uniform over all
        positions of the window.

    Returns
    -------
    img, seg, wei
        The windows (None for a None `wei`).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(12.0).reshape(3, 4)
    >>> a, b, c = random_crop(img, img > 5, None, (2, 5), np.random.default_rng(0))
    >>> a.shape, c
    ((2, 5), None)
    """
    height, width = _check_shape(target_size, "target_size")
    arrays = [np.asarray(a) for a in (img, seg, wei) if a is not None]
    if any(a.ndim != 2 for a in arrays) or len({a.shape for a in arrays}) > 1:
        raise ValueError(f"img, seg and wei must be 2-D arrays of one shape, "
                         f"got shapes {[a.shape for a in arrays]}")
    padded = [_pad_to(a, height, width) for a in arrays]
    ytl = int(rng.integers(padded[0].shape[0] - height + 1))
    xtl = int(rng.integers(padded[0].shape[1] - width + 1))
    crops = [a[ytl:ytl + height, xtl:xtl + width] for a in padded]
    return crops[0], crops[1], crops[2] if wei is not None else None


# ------------------------------------------------------------ weight maps
def _two_nearest(labels: np.ndarray, radius: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Distances of each pixel to its nearest and second-nearest cell.

    Only distances up to `radius` are computed (each cell's distance map
    covers its bounding box grown by `radius`); farther ones are inf.
    """
    near = np.full(labels.shape, np.inf, dtype=np.float32)
    second = near.copy()
    grow = int(math.ceil(radius))
    height, width = labels.shape
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        region = (slice(max(box[0].start - grow, 0), min(box[0].stop + grow, height)),
                  slice(max(box[1].start - grow, 0), min(box[1].stop + grow, width)))
        outside = (labels[region] != index + 1).view(np.uint8)
        dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        dist[dist > radius] = np.inf
        first = near[region]
        second[region] = np.minimum(second[region], np.maximum(first, dist))
        near[region] = np.minimum(first, dist)
    return near, second


def _class_weights(classweights: Sequence[float]) -> tuple[float, float]:
    try:
        background, cells = (float(w) for w in classweights)
    except (TypeError, ValueError):
        raise ValueError(f"classweights must be a pair (background, cells), "
                         f"got {classweights!r}") from None
    if not (background >= 0 and cells >= 0):
        raise ValueError(f"classweights must be non-negative, got {classweights!r}")
    return background, cells


def seg_weights(mask: SegmentationMask, classweights: tuple[float, float] = (1, 1),
                w0: float = 12, sigma: float = 2) -> Image:
    """U-Net weight map that makes the network learn the gaps between cells.

    For each pixel ``x``::

        w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))

    where ``w_c`` is the class weight (``classweights[0]`` on the
    background, ``classweights[1]`` on cells) and ``d1``, ``d2`` are the
    distances from a background pixel to the nearest and second-nearest
    cell (8-connected objects). The second term is only added on background
    pixels, and only where it exceeds :data:`SEG_WEIGHTS_TOLERANCE` times
    `w0`: each cell's distance map is computed on its bounding box grown by
    the distance at which the term falls below that (11 px for the
    defaults), which keeps the map fast on large masks.

    Parameters
    ----------
    mask
        2-D segmentation mask (non-zero pixels are cells).
    classweights
        Weights of the background and of the cells.
    w0
        Largest border weight (non-negative).
    sigma
        Decay length of the border weight [px] (positive).

    Returns
    -------
    weights : numpy.ndarray of float32
        The weight map.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((1, 9), np.uint8)
    >>> mask[0, 1:4] = mask[0, 5:8] = 1   # two cells, one pixel apart
    >>> seg_weights(mask, classweights=(1, 2)).astype(float).round(2).tolist()
    [[1.13, 2.0, 2.0, 2.0, 8.28, 2.0, 2.0, 2.0, 1.13]]
    """
    cells = _as_mask(mask, "mask")
    background_weight, cell_weight = _class_weights(classweights)
    if not w0 >= 0:
        raise ValueError(f"w0 must be non-negative, got {w0}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    weights = np.where(cells > 0, cell_weight, background_weight).astype(np.float32)
    if w0 == 0:
        return weights
    radius = sigma * math.sqrt(2 * math.log(1 / SEG_WEIGHTS_TOLERANCE))
    near, second = _two_nearest(label_seg(cells), radius)
    border = w0 * np.exp(-((near + second) ** 2) / (2 * sigma ** 2))
    return weights + np.where(cells == 0, border, 0).astype(np.float32)


def seg_weights_2D(mask: SegmentationMask,  # noqa: N802 - reference name
                   classweights: tuple[float, float] = (1, 1)) -> Image:
    """Weight map for cells packed on 2D pads: stresses outlines and gaps.

    In dense colonies the hard pixels are the thin lines of background that
    separate neighbouring cells and the outlines of the cells. For each
    pixel ``x``::

        w(x) = w_c(x) * (1 + CONTOUR_GAIN * contour(x) + GAP_GAIN * gap(x))

    with ``w_c`` the class weight (``classweights[0]`` on the background,
    ``classweights[1]`` on cells), ``contour`` 1 on cell pixels that have a
    background pixel among their 4 neighbours, and ``gap`` 1 on background
    pixels closer than :data:`GAP_DISTANCE` to two different cells
    (8-connected objects). The defaults weigh outlines twice and gaps five
    times their class.

    Parameters
    ----------
    mask
        2-D segmentation mask (non-zero pixels are cells).
    classweights
        Weights of the background and of the cells (e.g. from
        :func:`estimate_seg2D_classweights`).

    Returns
    -------
    weights : numpy.ndarray of float32
        The weight map.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 11), np.uint8)
    >>> mask[1:4, 1:5] = mask[1:4, 6:10] = 1   # two cells, one pixel apart
    >>> seg_weights_2D(mask)[2].tolist()
    [1.0, 2.0, 1.0, 1.0, 2.0, 5.0, 2.0, 1.0, 1.0, 2.0, 1.0]
    """
    cells = _as_mask(mask, "mask")
    background_weight, cell_weight = _class_weights(classweights)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    inner = cv2.erode(cells, cross, borderType=cv2.BORDER_REPLICATE)
    contour = (cells > 0) & (inner == 0)
    _, second = _two_nearest(label_seg(cells), GAP_DISTANCE)
    gap = (cells == 0) & (second <= GAP_DISTANCE)
    weights = np.where(cells > 0, cell_weight, background_weight)
    return (weights * (1 + CONTOUR_GAIN * contour + GAP_GAIN * gap)
            ).astype(np.float32)


def tracking_weights(track: SegmentationMask, segall: SegmentationMask,
                     halo_distance: int = 50) -> npt.NDArray[np.float32]:
    """Weight map of a tracking target: stresses the tracked cells and their
    neighbours.

    The network must mark the tracked cell (and its daughter) and must not
    mark the cells around them. With ``d(x)`` the distance to the nearest
    tracked pixel and the halo ``h(x) = max(0, 1 - d(x) / halo_distance)``
    (1 on the tracked cells, 0 from `halo_distance` on)::

        w(x) = 1 + h(x) * (HALO_GAIN + CELL_GAIN * cell(x))

    where ``cell`` is 1 on the pixels of any cell (`segall` or `track`).
    The tracked cells weigh 5, cells right next to them almost 5,
    background next to them almost 2, everything beyond the halo 1. An
    empty `track` (the cell is gone) gives weights of 1 everywhere.

    Parameters
    ----------
    track
        2-D mask of the tracked cells at t (mother and daughter; non-zero
        pixels, so a ``mot_dau`` image works too).
    segall
        2-D mask of all cells at t.
    halo_distance
        Reach of the halo [px] (positive).

    Returns
    -------
    weights : numpy.ndarray of float32
        The weight map.

    Examples
    --------
    >>> import numpy as np
    >>> track = np.zeros((1, 8), np.uint8); track[0, :2] = 1
    >>> segall = track.copy(); segall[0, 4:6] = 1
    >>> tracking_weights(track, segall, halo_distance=4).tolist()
    [[5.0, 5.0, 1.75, 1.5, 2.0, 1.0, 1.0, 1.0]]
    """
    tracked = _as_mask(track, "track")
    cells = _as_mask(segall, "segall")
    if tracked.shape != cells.shape:
        raise ValueError(f"track {tracked.shape} and segall {cells.shape} "
                         f"differ in shape")
    if not halo_distance > 0:
        raise ValueError(f"halo_distance must be positive, got {halo_distance}")
    if not tracked.any():
        return np.ones(tracked.shape, np.float32)
    dist = cv2.distanceTransform((tracked == 0).view(np.uint8), cv2.DIST_L2,
                                 cv2.DIST_MASK_PRECISE)
    halo = np.clip(1 - dist / float(halo_distance), 0, 1)
    any_cell = (cells > 0) | (tracked > 0)
    return (1 + halo * (HALO_GAIN + CELL_GAIN * any_cell)).astype(np.float32)


def _inverse_frequencies(counts: Sequence[int]) -> tuple[float, ...]:
    """Class weights inversely proportional to the class frequencies.

    Normalised so that the mean weight over all counted pixels is 1 (each
    class present contributes the same total weight); 0 for absent classes.
    """
    counts_arr = np.asarray(counts, dtype=np.float64)
    present = counts_arr > 0
    if not present.any():
        raise ValueError("No pixels to estimate class weights from")
    total = counts_arr.sum()
    weights = np.zeros(len(counts_arr))
    weights[present] = total / (present.sum() * counts_arr[present])
    return tuple(float(w) for w in weights)


def estimate_seg2D_classweights(mask_path: PathLike,  # noqa: N802 - reference name
                                sample_size: int | None = None,
                                rng: np.random.Generator | None = None
                                ) -> tuple[float, float]:
    """Class weights (background, cells) balancing the pixels of a mask folder.

    Parameters
    ----------
    mask_path
        Folder of masks (0/1 or 0/255).
    sample_size
        Use at most this many masks, chosen at random (None: all).
    rng
        Random number generator of the choice (None: a fresh one).

    Returns
    -------
    background, cells : float
        Weights inversely proportional to the pixel counts of each class,
        normalised so that the mean weight per pixel is 1; 0 for a class
        without pixels. Pass them to :func:`seg_weights_2D` or
        :func:`seg_weights`.

    Raises
    ------
    TrainingSetError
        If the folder is missing or holds no images.
    """
    files = _image_files(pathlib.Path(mask_path), "mask")
    if sample_size is not None and sample_size < len(files):
        if sample_size < 1:
            raise ValueError(f"sample_size must be at least 1, got {sample_size}")
        rng = np.random.default_rng(rng)
        files = [files[i] for i in sorted(rng.choice(len(files), sample_size,
                                                     replace=False))]
    cells = total = 0
    for path in files:
        mask = _read_mask(path)
        cells += int(mask.sum())
        total += mask.size
    background, cell = _inverse_frequencies([total - cells, cells])
    return background, cell


def estimate_classweights(gene: Iterable[Any], num_samples: int = 30
                          ) -> tuple[float, ...]:
    """Class weights balancing the pixel classes of training batches.

    Parameters
    ----------
    gene
        Generator or dataset of ``(x, y, ...)`` batches, such as
        :func:`train_generator_track` or a dataset of this module. ``y``
        holds one channel per class followed by the weight map (when it has
        at least 2 channels; a single channel is one class).
    num_samples
        Number of batches to count (fewer if `gene` ends earlier).

    Returns
    -------
    tuple of float
        One weight per class: the background (pixels of no class) first,
        then the class channels of ``y`` (for tracking: background, mother,
        daughter). Weights are inversely proportional to the pixel counts,
        normalised so that the mean weight per pixel is 1; a class never
        seen gets 0.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((1, 2, 2, 2), np.float32); y[..., 0, 0, 0] = 1
    >>> estimate_classweights([(None, y)], num_samples=5)
    (0.6666666666666666, 2.0)
    """
    counts: np.ndarray | None = None
    for batch in itertools.islice(iter(gene), int(num_samples)):
        y = np.asarray(batch[1])
        classes = y[..., :-1] if y.shape[-1] > 1 else y
        members = classes > 0.5
        found = np.concatenate([[np.sum(~members.any(axis=-1))],
                                members.reshape(-1, members.shape[-1]).sum(axis=0)])
        counts = found if counts is None else counts + found
    if counts is None:
        raise ValueError("gene yielded no batches")
    return _inverse_frequencies(counts)


def make_weights(training_dataset_path: PathLike,
                 weights_function: Callable[[SegmentationMask], npt.ArrayLike]
                 ) -> None:
    """Write the weight map of every mask of a training set to ``wei/``.

    Each mask of ``seg/`` (0/1 or 0/255) is passed as a 0/1 uint8 mask to
    `weights_function`; the weights are divided by their maximum (an all-zero
    map stays zero) and written as a 16-bit image of the same name in
    ``wei/`` (created next to ``img/`` and ``seg/``), so the datasets read
    them back as floats in [0, 1]. Only the relative weights within each
    image are kept.

    Parameters
    ----------
    training_dataset_path
        Folder holding ``seg/`` (and ``img/``).
    weights_function
        Mask -> non-negative finite weights of the same shape, e.g.
        :func:`seg_weights` (mother machines) or :func:`seg_weights_2D`
        (2D pads).

    Raises
    ------
    TrainingSetError
        If ``seg/`` is missing or empty, or the weights of a mask are not
        finite, negative or of the wrong shape (naming the file).
    """
    root = pathlib.Path(training_dataset_path)
    files = _image_files(root / "seg", "seg")
    out_dir = root / "wei"
    for path in files:
        if path.suffix.lower() in (".jpg", ".jpeg"):
            raise TrainingSetError(f"{path}: weights are written as 16-bit "
                                   f"images, which JPEG cannot hold; store the "
                                   f"masks as PNG")
        mask = _read_mask(path)
        weights = np.asarray(weights_function(mask), dtype=np.float64)
        if weights.shape != mask.shape:
            raise TrainingSetError(f"{path}: weights_function returned shape "
                                   f"{weights.shape} for a mask of shape "
                                   f"{mask.shape}")
        if not np.all(np.isfinite(weights)) or weights.min() < 0:
            raise TrainingSetError(f"{path}: weights_function returned negative "
                                   f"or non-finite weights")
        peak = weights.max()
        scaled = weights / peak if peak > 0 else weights
        out_dir.mkdir(exist_ok=True)
        write_image(out_dir / path.name, to_integer_values(scaled, np.uint16))


# ------------------------------------------------------------ datasets
def _check_mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'training' or 'evaluation', got {mode!r}")
    return mode


class _BatchedDataset:
    """Batching, indexing and shuffling shared by the datasets.

    Subclasses set ``self._count`` (number of items) and implement
    ``_item(index) -> (x, y)`` with ``x``, ``y`` of shape (H, W, C).
    """

    mode: str
    rng: np.random.Generator
    _count: int

    def _init_batches(self, batch_size: int, shuffle: bool) -> None:
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self._order = np.arange(self._count)
        self.on_epoch_end()

    @property
    def num_items(self) -> int:
        """Number of items: samples, or tiles (evaluation with ``crop``)."""
        return self._count

    def __len__(self) -> int:
        """Number of batches (the last one may be smaller)."""
        return -(-self._count // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index`: ``(x, y)`` float32 arrays (B, H, W, C)."""
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"batch index {index} out of range ({count} batches)")
        start = (index % count) * self.batch_size
        return self.batch(self._order[start:start + self.batch_size])

    def batch(self, indices: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """A batch of the given items (sample or tile indices, in order)."""
        xs, ys = zip(*(self._item(int(i)) for i in indices))
        return (np.stack(xs).astype(np.float32, copy=False),
                np.stack(ys).astype(np.float32, copy=False))

    def on_epoch_end(self) -> None:
        """Reshuffle the items (training mode with ``shuffle`` only)."""
        if self.mode == "training" and self.shuffle:
            self._order = self.rng.permutation(self._count)

    def _item(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class SegmentationDataset(_BatchedDataset):
    """Batches of images and targets to train or evaluate a segmentation
    network (cells or mother-machine chambers).

    Parameters
    ----------
    dataset
        ``(imgs, segs, weis)``: lists of image, mask and weight-map files
        (one of each per sample; `weis` may be None: weights of 1).
    target_size
        ``(height, width)`` of the network input.
    mode
        ``"training"``: each item is a sample, cropped at random
        (:func:`random_crop`) when `crop`, else resized to `target_size`,
        then augmented with `kw_data_aug` (:func:`data_augmentation`; the
        image bilinear, mask and weights nearest-neighbour). ``"evaluation"``:
        deterministic, no augmentation; with `crop` the items are the tiles
        of :func:`~cytolab.timelapse.tiling.create_windows` (overlap
        :data:`TILE_OVERLAP`) of every sample, else the resized samples.
    kw_data_aug
        Augmentation parameters (training mode; checked in both modes).
    crop
        Crop (2D pads) instead of resizing (mother-machine chambers).
    rng
        Random number generator or seed of the crops, augmentation and
        shuffling (None: a fresh one).
    stack
        Accepted for compatibility with the reference's signature: ``y``
        always stacks the mask and the weight map here.
    batch_size
        Items per batch.
    shuffle
        Shuffle the items at creation and at every :meth:`on_epoch_end`
        (training mode only; evaluation keeps the file order).

    Notes
    -----
    ``ds[i]`` is ``(x, y)``: ``x`` (B, H, W, 1) images, ``y`` (B, H, W, 2)
    mask and weight map, float32. Masks are resized without letting cells
    touch (:func:`~cytolab.timelapse.images.resize_mask`), images and
    weights bilinearly. All files are read when the dataset is made and kept
    in memory.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile, cv2
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = cv2.imwrite(str(root / "a.png"), np.full((40, 20), 30000, np.uint16))
    >>> _ = cv2.imwrite(str(root / "m.png"), np.eye(40, 20, dtype=np.uint8))
    >>> ds = SegmentationDataset(([root / "a.png"], [root / "m.png"], None),
    ...                          (32, 16), "evaluation")
    >>> x, y = ds[0]
    >>> len(ds), x.shape, y.shape, float(y[..., 1].min())
    (1, (1, 32, 16, 1), (1, 32, 16, 2), 1.0)
    """

    def __init__(self, dataset: tuple[Sequence[PathLike], Sequence[PathLike],
                                      Sequence[PathLike] | None],
                 target_size: tuple[int, int],
                 mode: Literal["training", "evaluation"] = "training", *,
                 kw_data_aug: Mapping[str, Any] | None = None, crop: bool = False,
                 rng: np.random.Generator | int | None = None, stack: bool = False,
                 batch_size: int = 1, shuffle: bool = True) -> None:
        self.target_size = _check_shape(target_size, "target_size")
        self.mode = _check_mode(mode)
        self.aug = check_augmentation_parameters(kw_data_aug)
        imgs, segs, weis = dataset
        if len(imgs) != len(segs) or (weis is not None and len(weis) != len(imgs)):
            raise TrainingSetError(
                f"dataset holds {len(imgs)} images, {len(segs)} masks and "
                f"{'no' if weis is None else len(weis)} weight maps; they must "
                f"pair up")
        if not len(imgs):
            raise TrainingSetError("dataset holds no samples")
        self.crop = bool(crop)
        self.stack = bool(stack)
        self.rng = np.random.default_rng(rng)
        self._samples = [self._load(pathlib.Path(img), pathlib.Path(seg),
                                    None if weis is None else pathlib.Path(weis[i]))
                         for i, (img, seg) in enumerate(zip(imgs, segs))]
        self._tiles: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        if self.mode == "evaluation" and self.crop:
            for sample in self._samples:
                self._tiles.extend(self._cut_tiles(*sample))
        self._count = len(self._tiles) or len(self._samples)
        self._init_batches(batch_size, shuffle)

    def _load(self, img_path: pathlib.Path, seg_path: pathlib.Path,
              wei_path: pathlib.Path | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        paths = {"img": img_path, "seg": seg_path}
        arrays = {"img": read_image(img_path), "seg": _read_mask(seg_path)}
        if wei_path is not None:
            paths["wei"], arrays["wei"] = wei_path, read_image(wei_path)
        _check_same_shape(arrays, paths)
        img, seg, wei = arrays["img"], arrays["seg"], arrays.get("wei")
        if not self.crop:
            img = resize_image(img, self.target_size)
            seg = resize_mask(seg, self.target_size)
            wei = None if wei is None else resize_image(wei, self.target_size)
        return img, seg, wei

    def _cut_tiles(self, img: np.ndarray, seg: np.ndarray, wei: np.ndarray | None
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        overlap = min(TILE_OVERLAP, min(self.target_size) - 1)
        cut = [create_windows(a, self.target_size, overlap)[0]
               if a is not None else None for a in (img, seg, wei)]
        return [(cut[0][k], cut[1][k], None if cut[2] is None else cut[2][k])
                for k in range(len(cut[0]))]

    def _item(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._tiles:
            img, seg, wei = self._tiles[index]
        else:
            img, seg, wei = self._samples[index]
        if self.mode == "training":
            if self.crop:
                img, seg, wei = random_crop(img, seg, wei, self.target_size, self.rng)
            if self.aug:
                arrays = [img, seg] if wei is None else [img, seg, wei]
                out = data_augmentation(arrays, self.aug, order=[1, 0, 0][:len(arrays)],
                                        rng=self.rng)
                img, seg = out[0], out[1]
                wei = out[2] if wei is not None else None
        if wei is None:
            wei = np.ones(img.shape, np.float32)
        return img[..., None], np.stack([seg, wei], axis=-1)


class TrackingDataset(_BatchedDataset):
    """Batches of inputs and targets to train or evaluate the tracking network.

    Parameters
    ----------
    files
        Lists of files, one per sample, under the keys of
        :data:`TRACK_INPUTS` and ``"mot_dau"`` (0 background, 1 mother, 2
        daughter), optionally ``"wei"`` (weight maps).
    target_size
        ``(height, width)`` of the network input.
    mode
        ``"training"`` (random drift shift, augmentation, shuffling) or
        ``"evaluation"`` (deterministic).
    kw_data_aug
        Augmentation parameters (:func:`data_augmentation`; images
        bilinear, masks and weights nearest-neighbour, one geometric draw for
        all seven arrays).
    crop_windows
        Cut a window of `target_size` centred on the cell to track (zero
        padded) instead of resizing the whole sample.
    weights
        None: the ``"wei"`` files if given, else weights of 1; ``"online"``:
        :func:`tracking_weights` computed for each item after augmentation.
    shift
        With `crop_windows` in training mode: the window of the current frame
        (img, segall, mot_dau, wei) is moved by whole pixels drawn uniformly
        in [-shift, shift] along x and y, to mimic drift between frames.
    rng, batch_size, shuffle
        As for :class:`SegmentationDataset`.

    Notes
    -----
    ``ds[i]`` is ``(x, y)``: ``x`` (B, H, W, 4) in the order of
    :data:`TRACK_INPUTS`, ``y`` (B, H, W, 3) = mother, daughter, weights.
    Where the mother and daughter of a sample lie within ``segall`` (as in
    consistent data), they are kept within it after resizing and
    augmentation, so the pixels cleared between touching cells are cleared
    in all three.
    """

    def __init__(self, files: Mapping[str, Sequence[PathLike]],
                 target_size: tuple[int, int],
                 mode: Literal["training", "evaluation"] = "training", *,
                 kw_data_aug: Mapping[str, Any] | None = None,
                 crop_windows: bool = False,
                 weights: Literal["online"] | None = None, shift: int = 0,
                 rng: np.random.Generator | int | None = None,
                 batch_size: int = 1, shuffle: bool = True) -> None:
        required = (*TRACK_INPUTS, TRACK_TARGET)
        missing = [key for key in required if key not in files]
        if missing:
            raise ValueError(f"files lacks the keys {missing} (needs "
                             f"{', '.join(required)} and optionally wei)")
        if weights not in (None, "online"):
            raise ValueError(f"weights must be None or 'online', got {weights!r}")
        if weights == "online" and files.get("wei") is not None:
            raise ValueError("Give either weight files (files['wei']) or "
                             "weights='online', not both")
        keys = [*required] + (["wei"] if files.get("wei") is not None else [])
        counts = {key: len(files[key]) for key in keys}
        if len(set(counts.values())) != 1 or not counts["seg"]:
            raise TrainingSetError(f"files must hold one file of each kind per "
                                   f"sample, got counts {counts}")
        self.target_size = _check_shape(target_size, "target_size")
        self.mode = _check_mode(mode)
        self.aug = check_augmentation_parameters(kw_data_aug)
        self.crop_windows = bool(crop_windows)
        self.weights = weights
        if int(shift) != shift or shift < 0:
            raise ValueError(f"shift must be a non-negative integer, got {shift!r}")
        self.shift = int(shift)
        self.rng = np.random.default_rng(rng)
        self._samples = [self._load({key: pathlib.Path(files[key][i]) for key in keys})
                         for i in range(counts["seg"])]
        self._count = len(self._samples)
        self._init_batches(batch_size, shuffle)

    def _load(self, paths: dict[str, pathlib.Path]) -> dict[str, Any]:
        arrays: dict[str, Any] = {
            "previmg": read_image(paths["previmg"]), "seg": _read_mask(paths["seg"]),
            "img": read_image(paths["img"]), "segall": _read_mask(paths["segall"]),
            TRACK_TARGET: _read_mot_dau(paths[TRACK_TARGET])}
        if "wei" in paths:
            arrays["wei"] = read_image(paths["wei"])
        _check_same_shape(arrays, paths)
        nested = not np.any((arrays[TRACK_TARGET] > 0) & (arrays["segall"] == 0))
        if self.crop_windows:
            arrays["box"] = _seed_box(arrays["seg"], self.target_size)
        else:
            arrays = _resize_track_sample(arrays, self.target_size, nested)
        arrays["nested"] = nested
        return arrays

    def _item(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        sample = self._samples[index]
        arrays = {key: sample[key] for key in (*TRACK_INPUTS, TRACK_TARGET, "wei")
                  if key in sample}
        if self.crop_windows:
            arrays = self._crop(arrays, sample["box"])
        parts = {**{key: arrays[key] for key in TRACK_INPUTS},
                 "mother": (arrays[TRACK_TARGET] == 1).astype(np.uint8),
                 "daughter": (arrays[TRACK_TARGET] == 2).astype(np.uint8)}
        if "wei" in arrays:
            parts["wei"] = arrays["wei"]
        if self.mode == "training" and self.aug:
            orders = [1 if key in ("previmg", "img") else 0 for key in parts]
            parts = dict(zip(parts, data_augmentation(list(parts.values()), self.aug,
                                                      order=orders, rng=self.rng)))
        if sample["nested"]:
            for key in TRACK_OUTPUTS:
                parts[key] = parts[key] * (parts["segall"] > 0)
        if self.weights == "online":
            weights = tracking_weights((parts["mother"] > 0) | (parts["daughter"] > 0),
                                       parts["segall"])
        else:
            weights = parts.get("wei", np.ones(parts["img"].shape, np.float32))
        x = np.stack([parts[key] for key in TRACK_INPUTS], axis=-1)
        y = np.stack([parts["mother"], parts["daughter"], weights], axis=-1)
        return x.astype(np.float32), y.astype(np.float32)

    def _crop(self, arrays: dict[str, np.ndarray], box: CroppingBox
              ) -> dict[str, np.ndarray]:
        current = box
        if self.mode == "training" and self.shift:
            dx, dy = (int(v) for v in self.rng.integers(-self.shift, self.shift + 1, 2))
            current = CroppingBox(xtl=box.xtl + dx, ytl=box.ytl + dy,
                                  xbr=box.xbr + dx, ybr=box.ybr + dy)
        return {key: (box if key in ("previmg", "seg") else current).crop(array)
                for key, array in arrays.items()}


def _seed_box(seed: np.ndarray, target_size: tuple[int, int]) -> CroppingBox:
    """Tracking window centred on the (largest piece of the) seed cell, or on
    the image centre without one."""
    contours = find_contours(seed)
    if contours:
        return CroppingBox.tracking_box(max(contours, key=len), target_size)
    height, width = target_size
    ytl = seed.shape[0] // 2 - height // 2
    xtl = seed.shape[1] // 2 - width // 2
    return CroppingBox(xtl=xtl, ytl=ytl, xbr=xtl + width, ybr=ytl + height)


def _resize_track_sample(arrays: dict[str, np.ndarray], shape: tuple[int, int],
                         nested: bool) -> dict[str, np.ndarray]:
    """A tracking sample resized to `shape` (cells kept from touching)."""
    out = {key: resize_image(arrays[key], shape) for key in ("previmg", "img", "wei")
           if key in arrays}
    out["seg"] = resize_mask(arrays["seg"], shape)
    out["segall"] = resize_mask(arrays["segall"], shape)
    target = resize_labels(arrays[TRACK_TARGET], shape).astype(np.uint8)
    if nested:
        target[out["segall"] == 0] = 0
    out[TRACK_TARGET] = target
    return out


# ------------------------------------------------------------ loaders
def _split_indices(count: int, fractions: Sequence[float], seed: int,
                   where: pathlib.Path) -> list[np.ndarray]:
    """Sorted sample indices of the training set and of each split."""
    for fraction in fractions:
        if not 0 <= fraction < 1:
            raise ValueError(f"split fractions must be in [0, 1), got {fraction}")
    if sum(fractions) >= 1:
        raise ValueError(f"the split fractions {list(fractions)} leave no "
                         f"training samples")
    order = np.random.default_rng(seed).permutation(count)
    sizes = [max(1, round(count * f)) if f > 0 else 0 for f in fractions]
    if count - sum(sizes) < 1:
        raise TrainingSetError(f"'{where}' holds {count} samples, too few to "
                               f"split off {sizes} and keep one for training")
    bounds = np.cumsum([0, *sizes])
    parts = [np.sort(order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return [np.sort(order[bounds[-1]:]), *parts]


def _seeds(seed: int, count: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def load_training_dataset_seg(dataset_path: PathLike, target_size: tuple[int, int],
                              *, crop: bool = False,
                              kw_data_aug: Mapping[str, Any] | None = None,
                              validation_split: float = 0, test_split: float = 0,
                              seed: int = 1, stack: bool = False,
                              batch_size: int = 1) -> Any:
    """Segmentation datasets of a training-set folder.

    Parameters
    ----------
    dataset_path
        Folder with ``img/``, ``seg/`` and optionally ``wei/`` holding files
        of the same names.
    target_size
        ``(height, width)`` of the network input.
    crop
        Crop (2D pads) instead of resizing (mother machines).
    kw_data_aug
        Augmentation of the training dataset (:func:`data_augmentation`).
    validation_split, test_split
        Fractions in [0, 1) of the samples set aside (each at least one
        sample when non-zero), drawn at random with `seed`.
    seed
        Seed of the split and of the training dataset's random draws.
    stack
        See :class:`SegmentationDataset`.
    batch_size
        Batch size of every dataset.

    Returns
    -------
    SegmentationDataset or tuple
        ``train`` when both splits are 0; ``(train, validation)``,
        ``(train, test)`` or ``(train, validation, test)`` otherwise. The
        training dataset is in training mode; the others in evaluation
        mode (no augmentation, file order).

    Raises
    ------
    TrainingSetError
        Missing or empty folders, a file without its counterpart (named),
        images and masks of different shapes, or too few samples to split.
    """
    root = pathlib.Path(dataset_path)
    folders = {"img": root / "img", "seg": root / "seg"}
    if (root / "wei").is_dir():
        folders["wei"] = root / "wei"
    files = _matched_files(folders)
    fractions = (validation_split, test_split)
    parts = _split_indices(len(files["img"]), fractions, seed, root)
    rngs = _seeds(seed, 3)

    def dataset(indices: np.ndarray, mode: str, rng: np.random.Generator
                ) -> SegmentationDataset:
        chosen = {key: [paths[i] for i in indices] for key, paths in files.items()}
        return SegmentationDataset(
            (chosen["img"], chosen["seg"], chosen.get("wei")), target_size, mode,
            kw_data_aug=kw_data_aug, crop=crop, rng=rng, stack=stack,
            batch_size=batch_size)

    datasets = [dataset(parts[0], "training", rngs[0])]
    for indices, fraction, rng in zip(parts[1:], fractions, rngs[1:]):
        if fraction > 0:
            datasets.append(dataset(indices, "evaluation", rng))
    return datasets[0] if len(datasets) == 1 else tuple(datasets)


def _track_folders(folders: Mapping[str, PathLike]) -> dict[str, pathlib.Path]:
    """Folders of a tracking set, the seeds (``seg``) first as reference."""
    ordered = {"seg": folders["seg"], **folders}
    return {key: pathlib.Path(folder) for key, folder in ordered.items()}


def load_training_dataset_track(dataset_path: PathLike, target_size: tuple[int, int],
                                *, kw_data_aug: Mapping[str, Any] | None = None,
                                validation_split: float = 0, seed: int = 1,
                                batch_size: int = 1, crop_windows: bool = False,
                                shift: int = 0,
                                weights: Literal["online"] | None = None) -> Any:
    """Tracking datasets of a training-set folder.

    Parameters
    ----------
    dataset_path
        Folder with ``previmg/``, ``seg/``, ``img/``, ``segall/``,
        ``mot_dau/`` and optionally ``wei/`` holding files of the same
        names.
    target_size
        ``(height, width)`` of the network input.
    kw_data_aug
        Augmentation of the training dataset.
    validation_split
        Fraction in [0, 1) of the samples set aside for validation (at least
        one when non-zero), drawn at random with `seed`.
    seed
        Seed of the split and of the training dataset's random draws.
    batch_size
        Batch size of both datasets.
    crop_windows, shift
        See :class:`TrackingDataset`.
    weights
        ``"online"`` computes :func:`tracking_weights`; otherwise ``wei/``
        is used when present (ones without it).

    Returns
    -------
    TrackingDataset or tuple
        ``train``, or ``(train, validation)`` with a validation split
        (evaluation mode).
    """
    root = pathlib.Path(dataset_path)
    folders: dict[str, PathLike] = {key: root / key
                                    for key in (*TRACK_INPUTS, TRACK_TARGET)}
    if weights != "online" and (root / "wei").is_dir():
        folders["wei"] = root / "wei"
    files = _matched_files(_track_folders(folders))
    parts = _split_indices(len(files["seg"]), (validation_split,), seed, root)
    rngs = _seeds(seed, 2)
    datasets = [
        TrackingDataset({key: [paths[i] for i in indices]
                         for key, paths in files.items()}, target_size, mode,
                        kw_data_aug=kw_data_aug, crop_windows=crop_windows,
                        weights=weights, shift=shift, rng=rng, batch_size=batch_size)
        for indices, mode, rng in zip(parts, ("training", "evaluation"), rngs)
        if len(indices)]
    return datasets[0] if len(datasets) == 1 else tuple(datasets)


def train_generator_track(batch_size: int, img_path: PathLike, seg_path: PathLike,
                          previmg_path: PathLike, segall_path: PathLike,
                          track_path: PathLike,
                          weights_path: PathLike | Literal["online"] | None = None,
                          *, augment_params: Mapping[str, Any] | None = None,
                          crop_windows: bool = False,
                          target_size: tuple[int, int] = (256, 32), shift: int = 0,
                          seed: int = 1
                          ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless generator of tracking training batches.

    The files are checked and read when it is called; it then yields full
    batches forever, going through the samples in a new random order every
    epoch (:class:`TrackingDataset` in training mode).

    Parameters
    ----------
    batch_size
        Samples per batch.
    img_path, seg_path, previmg_path, segall_path
        Folders of the current images, the masks of the cell to track at
        t-1 (seeds), the previous images and the masks of all cells at t.
    track_path
        Folder of the targets (``mot_dau``: 1 mother, 2 daughter).
    weights_path
        None: weights of 1; ``"online"``: :func:`tracking_weights` on the
        fly; a folder: weight maps of the same names.
    augment_params
        Augmentation parameters (:func:`data_augmentation`).
    crop_windows, shift
        See :class:`TrackingDataset`.
    target_size
        ``(height, width)`` of the network input.
    seed
        Seed of all random draws.

    Yields
    ------
    x : numpy.ndarray of float32
        (batch_size, H, W, 4) inputs, channels :data:`TRACK_INPUTS`.
    y : numpy.ndarray of float32
        (batch_size, H, W, 3): mother, daughter, weights.
    """
    folders: dict[str, PathLike] = {"previmg": previmg_path, "seg": seg_path,
                                    "img": img_path, "segall": segall_path,
                                    TRACK_TARGET: track_path}
    online = isinstance(weights_path, str) and weights_path == "online"
    if weights_path is not None and not online:
        folders["wei"] = weights_path
    files = _matched_files(_track_folders(folders))
    dataset = TrackingDataset(files, target_size, "training",
                              kw_data_aug=augment_params, crop_windows=crop_windows,
                              weights="online" if online else None, shift=shift,
                              rng=np.random.default_rng(seed), batch_size=batch_size)
    return _endless(dataset)


def _endless(dataset: _BatchedDataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Full batches forever, a new permutation of the items every epoch."""
    stream = itertools.chain.from_iterable(
        dataset.rng.permutation(dataset.num_items) for _ in itertools.count())
    while True:
        yield dataset.batch(itertools.islice(stream, dataset.batch_size))


# ------------------------------------------------------------ prediction inputs
def _named_files(files_path: PathLike, files_list: Sequence[PathLike] | None
                 ) -> list[pathlib.Path]:
    folder = pathlib.Path(files_path)
    if files_list is None:
        return _image_files(folder, "input")
    paths = [folder / pathlib.Path(name).name for name in files_list]
    for path in paths:
        if not path.is_file():
            raise TrainingSetError(f"'{path}' does not exist (from files_list)")
    return paths


def predict_generator_seg(files_path: PathLike, *,
                          files_list: Sequence[PathLike] | None = None,
                          target_size: tuple[int, int] = (256, 32),
                          crop_windows: bool = False) -> Iterator[np.ndarray]:
    """Segmentation network inputs read from image files, one at a time.

    Parameters
    ----------
    files_path
        Folder of the images.
    files_list
        Names of the files to read in that folder, in order (None: all image
        files, sorted by name).
    target_size
        ``(height, width)`` of the network input.
    crop_windows
        False: resize each image to `target_size`. True: zero-pad smaller
        images at the bottom and right up to `target_size` and keep larger
        ones whole, for a fully convolutional network (or tiles cut later).

    Returns
    -------
    Iterator of numpy.ndarray
        (1, H, W, 1) float32 arrays, one per file. The files are checked
        when the function is called and read as the iterator advances.
    """
    paths = _named_files(files_path, files_list)
    method = "pad" if crop_windows else "resize"
    return (read_reshape(path, target_size=target_size, method=method
                         )[None, :, :, None].astype(np.float32)
            for path in paths)


_FRAME = re.compile(r"Frame(\d+)")


def _previous_frame_name(name: str) -> str | None:
    """File name of the frame before (None for frame 0)."""
    matches = list(_FRAME.finditer(name))
    if not matches:
        raise ValueError(f"'{name}': no 'Frame<number>' in the file name "
                         f"(expected Position%02d_Chamber%02d_Frame%03d.png)")
    digits = matches[-1].group(1)
    if int(digits) == 0:
        return None
    start, stop = matches[-1].span(1)
    return f"{name[:start]}{int(digits) - 1:0{len(digits)}d}{name[stop:]}"


def predict_compile_from_seg_track(img_path: PathLike, seg_path: PathLike,
                                   files_list: Sequence[PathLike], *,
                                   target_size: tuple[int, int] = (256, 32),
                                   crop_windows: bool = False
                                   ) -> tuple[np.ndarray, list[pathlib.Path],
                                              list[CroppingBox]]:
    """Tracking network inputs for every cell of saved segmentation masks.

    For each file of `files_list` (frame t, named
    ``Position%02d_Chamber%02d_Frame%03d.png``), every cell of the mask of
    the frame before (t-1, cells counted from the top) is a seed: one input
    stacks the image at t-1, that cell's mask, the image at t and the mask
    at t (:data:`TRACK_INPUTS`). Frames without a previous frame in the
    folders (frame 0, or the first one saved) are skipped.

    Parameters
    ----------
    img_path
        Folder of the single-chamber images.
    seg_path
        Folder of the segmentation masks, same names (0/1 or 0/255).
    files_list
        Names of the frames to compile.
    target_size
        ``(height, width)`` of the network input.
    crop_windows
        Cut a window of `target_size` centred on each seed cell (zero padded)
        instead of resizing the whole images.

    Returns
    -------
    inputs : numpy.ndarray of float32
        (cells, H, W, 4).
    names : list of pathlib.Path
        Output file name of each input: the frame's name with
        ``_Cell%02d`` (the seed's rank from the top) before the suffix.
    boxes : list of CroppingBox
        Where each output goes in the original image: the window, or the
        whole image (outputs must then be resized to it).

    Raises
    ------
    TrainingSetError
        A file (or its previous frame in one of the two folders) is missing,
        or an image and its mask differ in shape.
    """
    img_dir, seg_dir = pathlib.Path(img_path), pathlib.Path(seg_path)
    size = _check_shape(target_size, "target_size")
    inputs, names, boxes = [], [], []
    for entry in files_list:
        name = pathlib.Path(entry).name
        previous = _previous_frame_name(name)
        prev_paths = ([] if previous is None
                      else [img_dir / previous, seg_dir / previous])
        if not prev_paths or not any(p.is_file() for p in prev_paths):
            continue
        paths = {"previmg": prev_paths[0], "prevseg": prev_paths[1],
                 "img": img_dir / name, "segall": seg_dir / name}
        for path in paths.values():
            if not path.is_file():
                raise TrainingSetError(f"'{path}' does not exist (needed to "
                                       f"track the cells into '{name}')")
        arrays = {"previmg": read_image(paths["previmg"]),
                  "prevseg": _read_mask(paths["prevseg"]),
                  "img": read_image(paths["img"]),
                  "segall": _read_mask(paths["segall"])}
        _check_same_shape(arrays, paths)
        labels = label_seg(arrays["prevseg"])
        cellids, contours = cells_in_frame(labels, return_contours=True)
        for rank, (cellid, contour) in enumerate(zip(cellids, contours)):
            seed = (labels == cellid).astype(np.uint8)
            stack = [arrays["previmg"], seed, arrays["img"], arrays["segall"]]
            if crop_windows:
                box = CroppingBox.tracking_box(contour, size)
                channels = [box.crop(a) for a in stack]
            else:
                box = CroppingBox.full(arrays["img"])
                channels = [resize_image(stack[0], size), resize_mask(seed, size),
                            resize_image(stack[2], size), resize_mask(stack[3], size)]
            inputs.append(np.stack(channels, axis=-1).astype(np.float32))
            stem, suffix = os.path.splitext(name)
            names.append(pathlib.Path(f"{stem}_Cell{rank:02d}{suffix}"))
            boxes.append(box)
    shape = (0, *size, len(TRACK_INPUTS))
    return (np.stack(inputs) if inputs else np.zeros(shape, np.float32)), names, boxes


# ------------------------------------------------------------ saving results
def _savable(image: np.ndarray, where: str) -> np.ndarray:
    """Pixels to write: integers as they are, floats and booleans as 8-bit
    ``round(255 * value)`` (values clipped to [0, 1])."""
    if image.dtype == bool or image.dtype.kind == "f":
        return to_integer_values(image, np.uint8)
    if image.dtype in (np.uint8, np.uint16):
        return image
    raise ValueError(f"{where}: cannot save pixels of dtype {image.dtype} "
                     f"(use floats in [0, 1], bool, uint8 or uint16)")


def _first_channel(npyfile: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(npyfile)
    if arr.ndim == 4:
        return arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(f"npyfile must be 3-D (N, H, W) or 4-D (N, H, W, C), got "
                         f"shape {arr.shape}")
    return arr


def _output_names(files_list: Sequence[PathLike] | None, count: int
                  ) -> list[str]:
    if files_list is None:
        return [f"{i:05d}.png" for i in range(count)]
    names = [pathlib.Path(name).name for name in files_list]
    if len(names) != count:
        raise ValueError(f"files_list holds {len(names)} names for {count} images")
    return names


def save_result_seg(save_path: PathLike, npyfile: npt.ArrayLike, *,
                    files_list: Sequence[PathLike] | None = None,
                    multipage: bool = False) -> None:
    """Write segmentation outputs to image files.

    Parameters
    ----------
    save_path
        Output folder (created if needed).
    npyfile
        (N, H, W) outputs, or (N, H, W, C) of which channel 0 is written.
        Floats (probabilities in [0, 1], clipped) and booleans are written as
        8-bit ``round(255 * value)``; uint8 and uint16 as they are.
    files_list
        File names (their folders are dropped); the suffix (``.png``,
        ``.tif``, ``.jpg``) picks the format. None: ``00000.png``,
        ``00001.png``, ...
    multipage
        Write all outputs as pages of one TIFF file, ``save_path /
        files_list[0]`` (``results.tif`` without a list); pages are appended
        when the file exists.
    """
    images = _first_channel(npyfile)
    folder = pathlib.Path(save_path)
    folder.mkdir(parents=True, exist_ok=True)
    if multipage:
        name = "results.tif" if not files_list else pathlib.Path(files_list[0]).name
        _append_pages(folder / name, images)
        return
    for name, image in zip(_output_names(files_list, len(images)), images):
        write_image(folder / name, _savable(image, str(folder / name)))


def _append_pages(path: pathlib.Path, images: np.ndarray) -> None:
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{path}: a multi-page file must be a TIFF file")
    try:
        import tifffile
    except ImportError as exc:  # pragma: no cover - extra installed in CI
        raise ImportError(TIFF_HINT) from exc
    for image in images:
        tifffile.imwrite(path, _savable(image, str(path)), append=True,
                         photometric="minisblack")


def save_result_track(save_path: PathLike, npyfile: npt.ArrayLike,
                      files_list: Sequence[PathLike] | None = None) -> None:
    """Write tracking outputs as mother and daughter images.

    Parameters
    ----------
    save_path
        Output folder (created if needed).
    npyfile
        (N, H, W, C >= 2) outputs: channel 0 mother, 1 daughter
        (:data:`TRACK_OUTPUTS`); probabilities in [0, 1] are written as
        8-bit ``round(255 * value)``.
    files_list
        Names of the outputs; ``mother_`` and ``daughter_`` are prepended.
        None: ``mother_00000.png``, ``daughter_00000.png``, ...
    """
    arr = np.asarray(npyfile)
    if arr.ndim != 4 or arr.shape[-1] < len(TRACK_OUTPUTS):
        raise ValueError(f"npyfile must be 4-D (N, H, W, C >= 2) with mother and "
                         f"daughter channels, got shape {arr.shape}")
    folder = pathlib.Path(save_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name, outputs in zip(_output_names(files_list, len(arr)), arr):
        for channel, prefix in enumerate(TRACK_OUTPUTS):
            path = folder / f"{prefix}_{name}"
            write_image(path, _savable(outputs[..., channel], str(path)))
