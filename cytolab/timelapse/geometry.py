"""Geometric corrections of frames: affine transforms, rotation, drift.

Angles are in degrees, positive counter-clockwise as the image is displayed
(row 0 at the top), rotations are about the image centre. Shifts and drifts
are ``(x, y)`` pairs in pixels.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..errors import PipelineWarning
from .boxes import CroppingBox, _frame_shape, _is_dataarray
from .labels import Image

__all__ = [
    "affine_transform",
    "compute_drift",
    "correct_drift",
    "deskew",
    "drift_template",
    "rotate",
]

_INTERPOLATION = {0: cv2.INTER_NEAREST, 1: cv2.INTER_LINEAR, 3: cv2.INTER_CUBIC}
_BORDER = {"constant": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE,
           "reflect": cv2.BORDER_REFLECT_101}
_WARP_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16,
                                           np.float32, np.float64))

#: Minimum height and width [px] of the drift template above the chambers;
#: below it :func:`drift_template` uses the whole frame.
MIN_TEMPLATE_SIZE = 16

#: Largest image side :func:`deskew` works on (larger images are shrunk).
_DESKEW_SIZE = 512
_FINE = 8
_FINE_KERNEL = np.exp(-0.5 * (np.arange(-4 * _FINE, 4 * _FINE + 1) / _FINE / 0.8) ** 2)


def affine_transform(image: np.ndarray, *, zoom: float = 1.0, angle: float = 0.0,
                     shift: tuple[float, float] = (0.0, 0.0), order: int,
                     mode: str = "constant") -> np.ndarray:
    """Zoom, rotate and shift an image, keeping its size.

    Parameters
    ----------
    image
        2-D array of integers, floats or booleans (dtypes OpenCV does not
        warp, e.g. int32 or float16, are warped as float64).
    zoom
        Scale factor about the image centre (> 1 enlarges).
    angle
        Rotation about the image centre [degrees, counter-clockwise].
    shift
        Translation ``(x, y)`` [px] applied after zoom and rotation.
    order
        Interpolation: 0 nearest neighbour (masks, labels), 1 bilinear,
        3 bicubic.
    mode
        Values outside the input: ``"constant"`` (zero), ``"edge"`` (nearest
        edge pixel) or ``"reflect"`` (mirrored without repeating the edge).

    Returns
    -------
    transformed : numpy.ndarray
        Array of the input shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(9).reshape(3, 3).astype(np.uint8)
    >>> affine_transform(image, angle=90, order=0).tolist()
    [[2, 5, 8], [1, 4, 7], [0, 3, 6]]
    >>> affine_transform(image, shift=(1, 0), order=0).tolist()
    [[0, 0, 1], [0, 3, 4], [0, 6, 7]]
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {arr.shape}")
    if order not in _INTERPOLATION:
        raise ValueError(f"order must be 0, 1 or 3, got {order!r}")
    if mode not in _BORDER:
        raise ValueError(f"mode must be one of {sorted(_BORDER)}, got {mode!r}")
    if not zoom > 0:
        raise ValueError(f"zoom must be positive, got {zoom}")
    height, width = arr.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2),
                                     float(angle), float(zoom))
    matrix[:, 2] += np.asarray(shift, dtype=np.float64).reshape(2)
    out = cv2.warpAffine(_warpable(arr), matrix, (width, height),
                         flags=_INTERPOLATION[order], borderMode=_BORDER[mode],
                         borderValue=0)
    return _as_dtype(out, arr.dtype)


def _warpable(arr: np.ndarray) -> np.ndarray:
    """`arr` in a dtype OpenCV warps (booleans as uint8, others as float64)."""
    if arr.dtype == bool:
        return np.ascontiguousarray(arr).view(np.uint8)
    if arr.dtype in _WARP_DTYPES:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64)
    raise ValueError(f"image dtype {arr.dtype} is not supported; use integers, "
                     f"floats or bool")


def _as_dtype(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Warped pixels back in the input dtype (integers rounded and clipped)."""
    if out.dtype == dtype:
        return out
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)


def _default_order(dtype: np.dtype) -> int:
    """Nearest neighbour for masks and labels, bilinear otherwise."""
    return 0 if dtype.kind == "b" or (dtype.kind in "iu" and dtype != np.uint8) else 1


def _per_frame(func: Any, images: Any, params: Any, core_dims: Sequence[str],
               name: str, **kwargs: Any) -> Any:
    """Apply ``func(frame, param, **kwargs)`` to every 2-D frame of `images`.

    `params` is a DataArray (or a number) for a DataArray `images`, else an
    array whose trailing `core_dims` axes go whole to each call and whose
    other axes broadcast against the frame axes ``images.shape[:-2]``.
    """
    _frame_shape(images)
    if _is_dataarray(images):
        import xarray as xr

        out = xr.apply_ufunc(
            func, images, params, kwargs=kwargs,
            input_core_dims=[["y", "x"], list(core_dims)],
            output_core_dims=[["y", "x"]], vectorize=True, keep_attrs=True,
            output_dtypes=[images.dtype])
        return out.transpose(*images.dims)
    arr = np.asarray(images)
    par = np.asarray(params, dtype=np.float64)
    core_shape = par.shape[par.ndim - len(core_dims):]
    try:
        par = np.broadcast_to(par, arr.shape[:-2] + core_shape)
    except ValueError:
        raise ValueError(f"{name} of shape {np.shape(params)} do not match the "
                         f"images of shape {arr.shape}") from None
    out = np.empty_like(arr)
    for index in np.ndindex(arr.shape[:-2]):
        out[index] = func(arr[index], par[index], **kwargs)
    return out


def _rotate_one(image: np.ndarray, angle: float, order: int | None, mode: str
                ) -> np.ndarray:
    if order is None:
        order = _default_order(image.dtype)
    return affine_transform(image, angle=float(angle), order=order, mode=mode)


def rotate(images: Any, angles: Any, *, order: int | None = None,
           mode: str = "constant") -> Any:
    """Rotate images about their centres.

    Parameters
    ----------
    images
        xarray DataArray with ``y`` and ``x`` dimensions, or NumPy array
        ``(..., Y, X)``.
    angles
        Rotation [degrees, counter-clockwise]: a number, or an array /
        DataArray over (some of) the other dimensions of `images` (e.g. one
        angle per position), broadcast against them.
    order
        Interpolation order (see :func:`affine_transform`); None: nearest
        neighbour for integer types other than uint8 (labels) and booleans,
        bilinear otherwise.
    mode
        Values of the pixels rotated in from outside the image (see
        :func:`affine_transform`): zero by default.

    Returns
    -------
    rotated
        Same type, dimensions and dtype as `images`.

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.zeros((2, 3, 3), dtype=np.uint16)
    >>> stack[:, 0, 1] = 1
    >>> rotate(stack, np.array([90, -90]))[:, 1].tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    if _is_dataarray(images):
        import xarray as xr

        if not isinstance(angles, xr.DataArray) and np.ndim(angles) != 0:
            raise ValueError("angles must be a number or a DataArray when "
                             "images is a DataArray")
    return _per_frame(_rotate_one, images, angles, (), "angles", order=order,
                      mode=mode)


def _deskew_samples(image: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Pixel coordinates about the centre and windowed, centred values.

    A radial Hann window limits the samples to the inscribed disc, whose
    shape does not change with rotation, so only the image content makes the
    projections depend on the angle.
    """
    arr = np.asarray(image, dtype=np.float32)
    scale = size / max(arr.shape)
    if scale < 1:
        size = (max(round(arr.shape[1] * scale), 1),
                max(round(arr.shape[0] * scale), 1))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    height, width = arr.shape
    ys, xs = np.mgrid[:height, :width].astype(np.float64)
    ys -= (height - 1) / 2
    xs -= (width - 1) / 2
    radius = min(height, width) / 2
    rr = np.hypot(xs, ys) / radius
    inside = rr < 1
    weight = 0.5 * (1 + np.cos(np.pi * rr[inside]))
    values = arr[inside].astype(np.float64)
    values = (values - np.average(values, weights=weight)) * weight
    return xs[inside], ys[inside], values, radius


def _profile_power(coord: np.ndarray, values: np.ndarray, radius: float
                   ) -> float:
    """Energy of the projection of `values` onto `coord` in 1-px bins.

    Samples are binned at 1/8 px and the fine profile is smoothed with a
    Gaussian (sigma 0.8 px) before it is sampled at whole pixels: unlike
    nearest or linear binning into 1-px bins, this smoothes the profile by
    the same amount whatever the sub-pixel positions, so that the pixel grid
    favours no angle.
    """
    fine = np.rint((coord + radius + 4) * _FINE).astype(np.intp)
    profile = np.convolve(np.bincount(fine, values), _FINE_KERNEL)
    centre = len(_FINE_KERNEL) // 2
    sampled = profile[centre::_FINE]
    return float(sampled @ sampled)


def _deskew_score(samples: tuple[np.ndarray, ...], degrees: float) -> float:
    xs, ys, values, radius = samples
    # coordinates along the axes of the image rotated by `degrees`
    # (counter-clockwise on screen, i.e. clockwise in (x, y) with y down)
    theta = -math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    along_x = xs * cos - ys * sin
    along_y = xs * sin + ys * cos
    return (_profile_power(along_x, values, radius)
            + _profile_power(along_y, values, radius))


def deskew(image: Image, *, max_angle: float = 10.0) -> float:
    """Rotation that aligns the chambers of a frame with the image axes.

    Parameters
    ----------
    image
        2-D frame, e.g. of a mother machine with straight chamber walls.
    max_angle
        Largest rotation searched [degrees], below 45.

    Returns
    -------
    angle : float
        Angle [degrees] to pass to :func:`rotate` or
        :func:`affine_transform` to straighten the frame (the negative of the
        frame's tilt); 0 for a uniform frame.

    Notes
    -----
    Straight structures give sharp intensity profiles when projected along
    their direction. The angle maximises the energy of the projections of
    the frame (centred, in a radial window) onto both image axes, searched
    on grids of 1° (on the frame shrunk to 128 px), 0.1° and 0.01° (on
    the frame shrunk to at most 512 px). A tilt within about ±1° hardly
    matters for later steps.

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.zeros((128, 128), dtype=np.float32)
    >>> frame[:, 10::16] = 1   # vertical walls
    >>> tilted = affine_transform(frame, angle=3.0, order=1)
    >>> round(deskew(tilted), 1)
    -3.0
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {arr.shape}")
    if not 0 < max_angle < 45:
        raise ValueError(f"max_angle must lie between 0 and 45 degrees, got "
                         f"{max_angle}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("image holds NaN or infinite values")
    if arr.size == 0 or arr.min() == arr.max():
        return 0.0
    fine = _deskew_samples(arr, _DESKEW_SIZE)
    # the coarse search needs no full resolution
    coarse = _deskew_samples(arr, _DESKEW_SIZE // 4)
    best = 0.0
    for step, half_width, samples in ((1.0, max_angle, coarse),
                                      (0.1, 1.0, fine), (0.01, 0.1, fine)):
        count = int(round(half_width / step))
        grid = best + step * np.arange(-count, count + 1)
        grid = grid[np.abs(grid) <= max_angle + 1e-9]
        scores = [_deskew_score(samples, a) for a in grid]
        best = float(grid[int(np.argmax(scores))])
    return round(best, 2) + 0.0  # no negative zero


def drift_template(chamberboxes: Sequence[CroppingBox], img: Image, *,
                   whole_frame: bool = False) -> tuple[CroppingBox, Image]:
    """Region of a reference frame to register the other frames against.

    Parameters
    ----------
    chamberboxes
        Boxes of the chambers on `img`.
    img
        2-D reference frame (typically the first frame of the movie).
    whole_frame
        Use the whole frame instead of the region above the chambers.

    Returns
    -------
    box : CroppingBox
        The region: from the top of the frame down to the highest chamber
        top, across the chambers' horizontal extent (the static structure of
        the device, which growing cells do not change); the whole frame if
        asked, if there are no chambers or if that region is smaller than
        16 px (with a :class:`~cytolab.errors.PipelineWarning`).
    template : numpy.ndarray
        ``box.crop(img)``.

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.zeros((100, 80))
    >>> chambers = [CroppingBox(10, 40, 20, 90), CroppingBox(50, 30, 60, 90)]
    >>> box, template = drift_template(chambers, frame)
    >>> box, template.shape
    (CroppingBox(xtl=10, ytl=0, xbr=60, ybr=30), (30, 50))
    """
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise ValueError(f"img must be 2-D (Y, X), got shape {arr.shape}")
    box = CroppingBox.full(arr)
    if not whole_frame and len(chamberboxes):
        top = min(cb.ytl for cb in chamberboxes)
        left = max(min(cb.xtl for cb in chamberboxes), 0)
        right = min(max(cb.xbr for cb in chamberboxes), arr.shape[1])
        if top >= MIN_TEMPLATE_SIZE and right - left >= MIN_TEMPLATE_SIZE:
            box = CroppingBox(xtl=left, ytl=0, xbr=right,
                              ybr=min(top, arr.shape[0]))
        else:
            warnings.warn(
                f"The region above the chambers ({max(top, 0)} x "
                f"{max(right - left, 0)} px) is too small for drift "
                f"correction; using the whole frame as template",
                PipelineWarning, stacklevel=2)
    return box, box.crop(arr)


def _window(height: int, width: int) -> np.ndarray:
    return np.outer(np.hanning(height), np.hanning(width)) if height > 1 and \
        width > 1 else np.ones((height, width))


def compute_drift(images: Image, box: CroppingBox, template: Image
                  ) -> list[tuple[int, int]]:
    """Integer drift of each frame relative to a template.

    Parameters
    ----------
    images
        Frames ``(T, Y, X)`` (a single 2-D frame is accepted).
    box
        Region of the frames that corresponds to the template.
    template
        Reference region, of the box shape (see :func:`drift_template`).

    Returns
    -------
    drifts : list of (int, int)
        ``(xdrift, ydrift)`` per frame: the content of the frame is the
        reference content moved by that many pixels, i.e.
        ``frame[y + ydrift, x + xdrift] == reference[y, x]``. Drifts lie
        within half the box size.

    Notes
    -----
    Phase correlation: the normalised cross-power spectrum of each
    Hann-windowed, mean-free frame region with the template peaks at the
    displacement. Frames are processed in blocks with vectorised FFTs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scene = rng.random((80, 80))
    >>> frames = np.stack([scene[10:60, 10:60], scene[13:63, 8:58]])
    >>> box = CroppingBox(0, 0, 50, 50)
    >>> compute_drift(frames, box, frames[0])
    [(0, 0), (2, -3)]
    """
    stack = np.asarray(images)
    if stack.ndim == 2:
        stack = stack[np.newaxis]
    if stack.ndim != 3:
        raise ValueError(f"images must be 3-D (T, Y, X), got shape "
                         f"{np.shape(images)}")
    tmpl = np.asarray(template, dtype=np.float64)
    if tmpl.shape != box.shape:
        raise ValueError(f"template has shape {tmpl.shape} but box has shape "
                         f"{box.shape}")
    height, width = box.shape
    window = _window(height, width)
    reference = np.conj(np.fft.rfft2((tmpl - tmpl.mean()) * window))
    tiny = np.finfo(np.float64).tiny
    drifts: list[tuple[int, int]] = []
    block = max(1, 2**22 // (height * width))
    for start in range(0, len(stack), block):
        crops = box.crop(stack[start:start + block]).astype(np.float64)
        crops -= crops.mean(axis=(1, 2), keepdims=True)
        cross = np.fft.rfft2(crops * window) * reference
        cross /= np.maximum(np.abs(cross), tiny)
        corr = np.fft.irfft2(cross, s=(height, width))
        peaks = corr.reshape(len(crops), -1).argmax(axis=1)
        dy, dx = np.unravel_index(peaks, (height, width))
        # peaks beyond half the box are negative shifts (circular)
        dy = (dy + height // 2) % height - height // 2
        dx = (dx + width // 2) % width - width // 2
        drifts.extend(zip(dx.tolist(), dy.tolist(), strict=True))
    return drifts


def _as_drift_pair(drift: Any) -> tuple[float, float]:
    dx, dy = (float(v) for v in np.asarray(drift, dtype=np.float64).reshape(2))
    return dx, dy


def _correct_one(frame: np.ndarray, drift: np.ndarray) -> np.ndarray:
    dx, dy = _as_drift_pair(drift)
    height, width = frame.shape
    if dx.is_integer() and dy.is_integer():
        # exact: the box of the frame that holds the reference view
        box = CroppingBox(xtl=int(dx), ytl=int(dy), xbr=int(dx) + width,
                          ybr=int(dy) + height)
        return box.crop(frame)
    return affine_transform(frame, shift=(-dx, -dy),
                            order=_default_order(frame.dtype))


def correct_drift(images: Any, drifts: Any) -> Any:
    """Shift frames back by their drift.

    Parameters
    ----------
    images
        Frames: DataArray with ``y``/``x`` dimensions or array ``(..., Y, X)``.
    drifts
        ``(xdrift, ydrift)`` as returned by :func:`compute_drift`: a
        DataArray with an ``xy`` dimension of size 2 (labelled ``"x"``,
        ``"y"`` or in that order) and other dimensions matching those of
        `images` (e.g. ``frame``), or a NumPy array ``(..., 2)`` whose
        leading dimensions broadcast against ``images.shape[:-2]``.

    Returns
    -------
    corrected
        Same type, dimensions and dtype as `images`:
        ``corrected[..., y, x] = frame[y + ydrift, x + xdrift]``, zero where
        that falls outside the frame. Integer drifts are applied exactly,
        fractional ones by interpolation.

    Examples
    --------
    >>> import numpy as np
    >>> frames = np.array([[[0, 1, 2, 3]], [[1, 2, 3, 4]]])
    >>> correct_drift(frames, np.array([[0, 0], [-1, 0]])).tolist()
    [[[0, 1, 2, 3]], [[0, 1, 2, 3]]]
    """
    if _is_dataarray(images):
        import xarray as xr

        if not isinstance(drifts, xr.DataArray) or "xy" not in drifts.dims:
            raise ValueError("drifts must be a DataArray with an 'xy' "
                             "dimension when images is a DataArray")
        if drifts.sizes["xy"] != 2:
            raise ValueError(f"the 'xy' dimension of drifts must have size 2, "
                             f"got {drifts.sizes['xy']}")
        if "xy" in drifts.coords and drifts["xy"].dtype.kind in "UO":
            drifts = drifts.sel(xy=["x", "y"])
    elif np.ndim(drifts) == 0 or np.shape(drifts)[-1] != 2:
        raise ValueError(f"drifts must have a last dimension of size 2 "
                         f"(xdrift, ydrift), got shape {np.shape(drifts)}")
    return _per_frame(_correct_one, images, drifts, ("xy",), "drifts")
