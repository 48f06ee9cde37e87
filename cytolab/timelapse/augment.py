"""Random augmentation of training samples for the time-lapse networks.

:func:`data_augmentation` turns one training sample (a stack of 2-D arrays:
image(s), mask(s), weight map) into a randomly modified sample, so that the
networks see more variety than the training set holds:

* **Geometric operations** (elastic deformation, flips, 90° rotations,
  anisotropic resizing, rotation, zoom, shifts) are drawn once and applied
  identically to every array of the stack, so masks and weight maps stay
  aligned with their image.
* **Intensity operations** (illumination and histogram "voodoo", Gaussian
  blur and noise) only touch arrays interpolated with ``order > 0``
  (the images); each such image gets its own random draw (two frames of a
  tracking sample may thus differ in illumination, as real frames do).

Binary masks (arrays with ``order == 0`` holding only 0 and 1) are labelled
(8-connected objects) before any geometric operation and transformed as
label images with nearest-neighbour interpolation. Where two different
objects touch afterwards, the pixels of both sides of the contact are cleared
(:func:`~cytolab.timelapse.labels.detect_touching_cells`) before the mask is
binarised again, so that a deformation never merges two cells. Very thin
cells may lose pixels that way.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy import interpolate

from .boxes import CroppingBox
from .geometry import _INTERPOLATION, _as_dtype, _warpable, affine_transform
from .labels import Image, _as_2d, detect_touching_cells, label_seg

__all__ = [
    "AUGMENTATION_KEYS",
    "check_augmentation_parameters",
    "data_augmentation",
    "histogram_voodoo",
    "illumination_voodoo",
    "smart_elastic_deform",
]

#: Keys :func:`data_augmentation` accepts in `aug_par` (``gaussain_blur`` is
#: the reference's spelling of ``gaussian_blur``; give one of the two)
AUGMENTATION_KEYS = (
    "illumination_voodoo", "histogram_voodoo", "elastic_deformation",
    "gaussian_noise", "gaussian_blur", "gaussain_blur", "horizontal_flip",
    "vertical_flip", "rotations90d", "resize", "rotation", "zoom", "shiftX",
    "shiftY")
_SWITCHES = ("illumination_voodoo", "histogram_voodoo", "horizontal_flip",
             "vertical_flip", "rotations90d", "resize")
_AMOUNTS = ("gaussian_noise", "gaussian_blur", "rotation", "zoom", "shiftX",
            "shiftY")

#: Interpolation orders accepted (0 nearest, 1 bilinear, 3 bicubic)
ORDERS = (0, 1, 3)

#: The ``resize`` operation scales each axis by its own factor, drawn
#: log-uniformly between these bounds
RESIZE_RANGE = (0.8, 1.25)

#: Range of the random factors of :func:`illumination_voodoo` at its control
#: points
ILLUMINATION_RANGE = (0.5, 1.0)

_ELASTIC_DEFAULTS = {"sigma": 10.0, "points": 5}


# ------------------------------------------------------------ argument checks
def _orders(order: int | Sequence[int], count: int) -> list[int]:
    """One interpolation order per image, validated."""
    if isinstance(order, (int, np.integer)):
        orders = [int(order)] * count
    else:
        orders = [int(o) for o in order]
        if len(orders) != count:
            raise ValueError(f"order holds {len(orders)} values for {count} "
                             f"images")
    bad = sorted({o for o in orders if o not in ORDERS})
    if bad:
        raise ValueError(f"interpolation orders must be in {ORDERS}, got {bad}")
    return orders


def _stack(images: Sequence[Any], name: str) -> list[np.ndarray]:
    """2-D arrays of one shape."""
    if isinstance(images, np.ndarray) and images.ndim == 2:
        raise ValueError(f"{name} must be a list of 2-D arrays, got one 2-D "
                         f"array (wrap it in a list)")
    arrays = [_as_2d(image, f"{name}[{i}]") for i, image in enumerate(images)]
    if not arrays:
        raise ValueError(f"{name} is empty")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"all arrays of {name} must have the same shape, got "
                         f"{[a.shape for a in arrays]}")
    return arrays


def _amount(key: str, value: Any) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"aug_par[{key!r}] must be a number, got {value!r}"
                         ) from None
    if not amount >= 0:
        raise ValueError(f"aug_par[{key!r}] must be non-negative, got {value!r}")
    return amount


def _elastic_params(value: Any) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if value is True:
        return dict(_ELASTIC_DEFAULTS)
    if not isinstance(value, Mapping):
        raise ValueError(f"aug_par['elastic_deformation'] must be a dict with "
                         f"the keys 'sigma' and 'points', got {value!r}")
    unknown = set(value) - set(_ELASTIC_DEFAULTS)
    if unknown:
        raise ValueError(f"aug_par['elastic_deformation'] has unknown keys "
                         f"{sorted(unknown)}; valid ones: 'sigma', 'points'")
    return {**_ELASTIC_DEFAULTS, **value}


def check_augmentation_parameters(aug_par: Mapping[str, Any] | None
                                  ) -> dict[str, Any]:
    """Validated augmentation parameters, with only the active operations.

    Parameters
    ----------
    aug_par
        Parameters as for :func:`data_augmentation` (None: no augmentation).

    Returns
    -------
    params : dict
        Switches that are on (True), non-zero amounts (floats) and the
        elastic deformation parameters; the blur is under ``gaussian_blur``
        whichever spelling was used.

    Raises
    ------
    ValueError
        Unknown keys (the message lists the valid ones), both blur spellings,
        or invalid values.

    Examples
    --------
    >>> check_augmentation_parameters({"gaussain_blur": 1, "zoom": 0,
    ...                                "horizontal_flip": True})
    {'horizontal_flip': True, 'gaussian_blur': 1.0}
    """
    if aug_par is None:
        return {}
    if not isinstance(aug_par, Mapping):
        raise ValueError(f"aug_par must be a dict, got {type(aug_par).__name__}")
    unknown = set(aug_par) - set(AUGMENTATION_KEYS)
    if unknown:
        raise ValueError(f"Unknown data augmentation parameter(s) "
                         f"{sorted(unknown)}; valid ones: "
                         f"{', '.join(AUGMENTATION_KEYS)}")
    if "gaussain_blur" in aug_par and "gaussian_blur" in aug_par:
        raise ValueError("aug_par holds both 'gaussain_blur' and "
                         "'gaussian_blur' (two spellings of one operation); "
                         "give only one")
    values = dict(aug_par)
    if "gaussain_blur" in values:
        values["gaussian_blur"] = values.pop("gaussain_blur")
    params: dict[str, Any] = {}
    for key in _SWITCHES:
        if values.get(key):
            params[key] = True
    for key in _AMOUNTS:
        if key in values and values[key] is not None:
            amount = _amount(key, values[key])
            if amount > 0:
                params[key] = amount
    for key in ("shiftX", "shiftY"):
        if params.get(key, 0) > 1:
            raise ValueError(f"aug_par[{key!r}] is a fraction of the image size "
                             f"(at most 1), got {params[key]}")
    elastic = _elastic_params(values.get("elastic_deformation"))
    if elastic is not None:
        params["elastic_deformation"] = elastic
    return params


# ------------------------------------------------------------ masks as labels
def _is_mask(image: np.ndarray, order: int) -> bool:
    """Whether an array is a binary mask to keep cells apart in."""
    return order == 0 and image.size > 0 and (
        image.dtype == bool or bool(np.all((image == 0) | (image == 1))))


def _separate(labels: np.ndarray) -> npt.NDArray[np.bool_]:
    """Cells of a transformed label image, touching pixels cleared."""
    out = labels > 0
    out[detect_touching_cells(labels)] = False
    return out


# ------------------------------------------------------------ intensity
def histogram_voodoo(image: Image, rng: np.random.Generator,
                     num_control_points: int = 3) -> Image:
    """Distort the intensity curve of an image at random.

    The intensities are mapped through a smooth, monotonic random curve: the
    range ``[min, max]`` of the image is split evenly by
    `num_control_points` inner control points, each moved up or down by up
    to half the spacing, and the curve through them (monotonic cubic,
    PCHIP) maps old to new intensities. The darkest and brightest values
    stay put, so the range is kept; the order of intensities too.

    Parameters
    ----------
    image
        2-D image.
    rng
        Random number generator.
    num_control_points
        Number of inner control points (at least 1).

    Returns
    -------
    image : numpy.ndarray of float32
        The remapped image (a constant image is returned unchanged).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    >>> out = histogram_voodoo(image, np.random.default_rng(0))
    >>> float(out.min()), float(out.max()), bool(np.all(np.diff(out.ravel()) > 0))
    (0.0, 1.0, True)
    """
    arr = _as_2d(image, "image").astype(np.float32)
    count = int(num_control_points)
    if count < 1:
        raise ValueError(f"num_control_points must be at least 1, got "
                         f"{num_control_points}")
    low, high = float(arr.min()), float(arr.max())
    if not high > low:
        return arr
    knots = np.linspace(0.0, 1.0, count + 2)
    targets = knots.copy()
    # moves below half the spacing keep the control points in order
    targets[1:-1] += rng.uniform(-0.5, 0.5, count) / (count + 1)
    curve = interpolate.PchipInterpolator(knots, targets)
    out = low + (high - low) * curve((arr - low) / (high - low))
    return out.astype(np.float32)


def illumination_voodoo(image: Image, rng: np.random.Generator,
                        num_control_points: int = 5) -> Image:
    """Multiply an image by a random, smooth illumination profile along Y.

    Factors drawn uniformly in :data:`ILLUMINATION_RANGE` at
    `num_control_points` rows spread evenly from the first to the last row
    are interpolated (monotonic cubic, PCHIP) to a profile over all rows;
    each row is multiplied by its factor. The result is then stretched back
    linearly to the intensity range ``[min, max]`` of the input, so only the
    relative brightness along the rows changes.

    Parameters
    ----------
    image
        2-D image (rows along Y, the length of a mother-machine chamber).
    rng
        Random number generator.
    num_control_points
        Number of control points (at least 2; at most the number of rows is
        used).

    Returns
    -------
    image : numpy.ndarray of float32
        The modified image (images of one row or constant images are
        returned unchanged).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.tile(np.linspace(0.2, 1, 4, dtype=np.float32), (50, 1))
    >>> out = illumination_voodoo(image, np.random.default_rng(1))
    >>> out.shape, round(float(out.min()), 6), round(float(out.max()), 6)
    ((50, 4), 0.2, 1.0)
    """
    arr = _as_2d(image, "image").astype(np.float32)
    if int(num_control_points) < 2:
        raise ValueError(f"num_control_points must be at least 2, got "
                         f"{num_control_points}")
    rows = arr.shape[0]
    low, high = float(arr.min()), float(arr.max())
    if rows < 2 or not high > low:
        return arr
    count = min(int(num_control_points), rows)
    knots = np.linspace(0, rows - 1, count)
    factors = rng.uniform(*ILLUMINATION_RANGE, count)
    profile = interpolate.PchipInterpolator(knots, factors)(np.arange(rows))
    lit = arr * profile[:, None].astype(np.float32)
    new_low, new_high = float(lit.min()), float(lit.max())
    if not new_high > new_low:
        return arr
    out = low + (lit - new_low) * ((high - low) / (new_high - new_low))
    return out.astype(np.float32)


# ------------------------------------------------------------ geometry
def _elastic_maps(shape: tuple[int, int], sigma: float, points: Any,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pixel maps ``(map_x, map_y)`` of a random smooth deformation.

    A displacement with standard deviation `sigma` [px] along each axis is
    drawn at every node of a ``points`` grid spanning the image (corner
    nodes on the corner pixels) and interpolated (cubic spline) to all
    pixels.
    """
    sigma = float(sigma)
    if not sigma >= 0:
        raise ValueError(f"elastic deformation sigma must be non-negative, got "
                         f"{sigma}")
    grid = (points, points) if np.ndim(points) == 0 else tuple(points)
    if len(grid) != 2 or any(int(p) != p or p < 2 for p in grid):
        raise ValueError(f"elastic deformation points must be an integer (or "
                         f"a pair) of at least 2, got {points!r}")
    grid = (int(grid[0]), int(grid[1]))
    height, width = shape
    displacement = rng.normal(0.0, sigma, size=(2, *grid))
    nodes_y, nodes_x = np.arange(grid[0]), np.arange(grid[1])
    at_y = np.linspace(0, grid[0] - 1, height)
    at_x = np.linspace(0, grid[1] - 1, width)
    dy, dx = (interpolate.RectBivariateSpline(
        nodes_y, nodes_x, d, kx=min(3, grid[0] - 1), ky=min(3, grid[1] - 1)
    )(at_y, at_x) for d in displacement)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    return (cols + dx).astype(np.float32), (rows + dy).astype(np.float32)


def _remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], order: int
           ) -> np.ndarray:
    """`image` sampled at the positions of `maps` (edge pixels repeated
    outside the image: no black bands, no mirrored copies of cells)."""
    out = cv2.remap(_warpable(image), maps[0], maps[1], _INTERPOLATION[order],
                    borderMode=cv2.BORDER_REPLICATE)
    return _as_dtype(out, image.dtype)


def smart_elastic_deform(img_stack: Sequence[np.ndarray],
                         orderlist: int | Sequence[int] = 0, sigma: float = 10,
                         points: int | tuple[int, int] = 5,
                         rng: np.random.Generator | None = None
                         ) -> list[np.ndarray]:
    """Deform a stack of images with one random elastic deformation.

    A random displacement (normal, standard deviation `sigma` px per axis)
    is drawn on a coarse ``points x points`` grid spanning the image,
    upsampled smoothly (cubic spline) to every pixel and applied to each
    image with its own interpolation order; pixels mapped from outside the
    image take the value of the nearest edge pixel. Binary masks (order 0,
    values 0 and 1) are labelled first and deformed as label images; pixels
    where two different objects touch afterwards are cleared, so cells
    never merge. A large `sigma` for the grid spacing folds the image
    (parts appear twice), as with any such deformation.

    Parameters
    ----------
    img_stack
        2-D arrays of one shape (image, masks, weight maps).
    orderlist
        Interpolation order (0, 1 or 3), one for all or one per image.
    sigma
        Standard deviation of the node displacements [px].
    points
        Grid nodes per axis (or ``(along y, along x)``), at least 2.
    rng
        Random number generator (None: a fresh one, not repeatable).

    Returns
    -------
    deformed : list of numpy.ndarray
        Arrays of the input shapes and dtypes (masks stay 0/1).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((40, 20), np.uint8)
    >>> mask[5:15, 5:15] = mask[16:30, 5:15] = 1   # two cells, 1 px apart
    >>> image = mask * np.float32(0.5)
    >>> out = smart_elastic_deform([image, mask], [1, 0], sigma=3,
    ...                            rng=np.random.default_rng(2))
    >>> sorted(np.unique(out[1]).tolist()), out[0].dtype.name
    ([0, 1], 'float32')
    """
    arrays = _stack(img_stack, "img_stack")
    orders = _orders(orderlist, len(arrays))
    rng = np.random.default_rng() if rng is None else rng
    maps = _elastic_maps(arrays[0].shape, sigma, points, rng)
    out = []
    for array, order in zip(arrays, orders):
        if _is_mask(array, order):
            warped = _separate(_remap(label_seg(array), maps, 0))
            out.append(warped.astype(array.dtype))
        else:
            out.append(_remap(array, maps, order))
    return out


def _scale_axes(image: np.ndarray, fy: float, fx: float, order: int
                ) -> np.ndarray:
    """Resize by `fy`, `fx` about the centre, cropped/zero-padded back to
    the input shape."""
    height, width = image.shape
    new_h, new_w = max(round(height * fy), 1), max(round(width * fx), 1)
    interp = cv2.INTER_NEAREST_EXACT if order == 0 else _INTERPOLATION[order]
    resized = _as_dtype(cv2.resize(_warpable(image), (new_w, new_h),
                                   interpolation=interp), image.dtype)
    ytl, xtl = (new_h - height) // 2, (new_w - width) // 2
    return CroppingBox(xtl=xtl, ytl=ytl, xbr=xtl + width,
                       ybr=ytl + height).crop(resized)


def _geometry(work: list[np.ndarray], orders: list[int], params: dict[str, Any],
              rng: np.random.Generator) -> list[np.ndarray]:
    """Apply the geometric operations of `params`, one draw for all."""
    if "elastic_deformation" in params:
        elastic = params["elastic_deformation"]
        maps = _elastic_maps(work[0].shape, elastic["sigma"], elastic["points"],
                             rng)
        work = [_remap(w, maps, o) for w, o in zip(work, orders)]
    if params.get("horizontal_flip") and rng.random() < 0.5:
        work = [np.fliplr(w) for w in work]
    if params.get("vertical_flip") and rng.random() < 0.5:
        work = [np.flipud(w) for w in work]
    if params.get("rotations90d"):
        height, width = work[0].shape
        # quarter turns would change the shape of non-square images
        turns = int(rng.integers(4)) if height == width else 2 * int(rng.integers(2))
        work = [np.rot90(w, turns) for w in work]
    if params.get("resize"):
        low, high = (math.log(f) for f in RESIZE_RANGE)
        fy, fx = np.exp(rng.uniform(low, high, 2))
        work = [_scale_axes(w, fy, fx, o) for w, o in zip(work, orders)]
    angle = rng.uniform(-params["rotation"], params["rotation"]) \
        if "rotation" in params else 0.0
    zoom = 1.0 + min(rng.exponential(params["zoom"] / 3), params["zoom"]) \
        if "zoom" in params else 1.0
    height, width = work[0].shape
    shift_x = width * rng.uniform(-params["shiftX"], params["shiftX"]) \
        if "shiftX" in params else 0.0
    shift_y = height * rng.uniform(-params["shiftY"], params["shiftY"]) \
        if "shiftY" in params else 0.0
    if angle or zoom != 1.0 or shift_x or shift_y:
        work = [affine_transform(w, zoom=zoom, angle=angle,
                                 shift=(shift_x, shift_y), order=o)
                for w, o in zip(work, orders)]
    return [np.ascontiguousarray(w) for w in work]


def data_augmentation(images_input: Sequence[np.ndarray],
                      aug_par: Mapping[str, Any] | None,
                      order: int | Sequence[int] = 0,
                      rng: np.random.Generator | None = None
                      ) -> list[npt.NDArray[np.float32]]:
    """Make a randomly augmented copy of a training sample.

    Parameters
    ----------
    images_input
        2-D arrays of one shape: the images, masks and weight maps of one
        sample.
    aug_par
        Operations and their parameters (None or ``{}``: none). Keys:

        ``illumination_voodoo`` (bool)
            :func:`illumination_voodoo` (images only).
        ``histogram_voodoo`` (bool)
            :func:`histogram_voodoo` (images only).
        ``elastic_deformation`` (dict ``{"sigma": 10, "points": 5}``)
            :func:`smart_elastic_deform` (``True`` takes these defaults).
        ``gaussian_noise`` (float g)
            Adds normal noise of standard deviation drawn in U(0, g)
            (images only; values are not clipped).
        ``gaussian_blur`` or ``gaussain_blur`` (float s)
            Gaussian blur of standard deviation s [px] (images only). The
            second spelling is the reference's; both together are an error.
        ``horizontal_flip``, ``vertical_flip`` (bool)
            Mirror left-right / upside-down with probability 0.5 each.
        ``rotations90d`` (bool)
            Rotate by 0, 90, 180 or 270° (probability 0.25 each). Images
            that are not square are rotated by 0 or 180° only (0.5 each) so
            that the shape is kept.
        ``resize`` (bool)
            Scale each axis by its own factor, log-uniform in
            :data:`RESIZE_RANGE`, about the centre (cropped or zero-padded
            back to the shape).
        ``rotation`` (float r)
            Rotate by an angle drawn in U(-r, r) [degrees].
        ``zoom`` (float z)
            Zoom in by ``1 + min(e, z)`` with e exponentially distributed
            with rate 3 / z (mean z / 3).
        ``shiftX``, ``shiftY`` (float s, at most 1)
            Shift along x / y by U(-s, s) times the image width / height
            (fractions of the image size, as in the reference's training
            scripts).

        Operations run in this order: voodoos, elastic deformation, flips,
        90° rotations, resize, one affine warp for rotation, zoom and
        shifts (about the image centre, zero outside), blur, noise.
    order
        Interpolation order of each array (0 nearest, 1 bilinear, 3
        bicubic): one for all, or one per array. Intensity operations only
        apply to arrays with ``order > 0``. Arrays with order 0 holding
        only 0 and 1 are masks: cells are kept apart (module doc).
    rng
        Random number generator (None: a fresh one, not repeatable). With
        the same generator state and parameters the result is the same.

    Returns
    -------
    augmented : list of numpy.ndarray of float32
        Arrays of the input shape; masks hold exactly 0 and 1.

    Raises
    ------
    ValueError
        Unknown keys in `aug_par` (the message lists the valid ones), both
        blur spellings, bad values, arrays of different shapes or bad
        orders.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((32, 32), np.uint8)
    >>> mask[4:12, 20:28] = 1
    >>> image = mask * np.float32(0.5)
    >>> img, msk = data_augmentation([image, mask], {"rotations90d": True},
    ...                              order=[1, 0], rng=np.random.default_rng(4))
    >>> bool(np.array_equal(img, msk * 0.5)), msk.dtype.name
    (True, 'float32')
    """
    params = check_augmentation_parameters(aug_par)
    arrays = _stack(images_input, "images_input")
    orders = _orders(order, len(arrays))
    rng = np.random.default_rng() if rng is None else rng
    masks = [_is_mask(a, o) for a, o in zip(arrays, orders)]
    work = [label_seg(a) if m else a.astype(np.float32)
            for a, m in zip(arrays, masks)]
    images = [i for i, o in enumerate(orders) if o > 0]
    for key, voodoo in (("illumination_voodoo", illumination_voodoo),
                        ("histogram_voodoo", histogram_voodoo)):
        if params.get(key):
            for i in images:
                work[i] = voodoo(work[i], rng)
    work = _geometry(work, orders, params, rng)
    if "gaussian_blur" in params:
        for i in images:
            work[i] = cv2.GaussianBlur(work[i], (0, 0), params["gaussian_blur"],
                                       borderType=cv2.BORDER_REFLECT_101)
    if "gaussian_noise" in params:
        for i in images:
            scale = rng.uniform(0.0, params["gaussian_noise"])
            work[i] = work[i] + rng.normal(0.0, scale, work[i].shape)
    return [(_separate(w) if m else w).astype(np.float32)
            for w, m in zip(work, masks)]
