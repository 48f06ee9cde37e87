"""Cutting large frames into overlapping network-sized windows and back.

:func:`create_windows` covers an image with as few windows of the target size
as possible such that neighbouring windows overlap by at least
``min_overlap`` pixels, spread evenly over the image. :func:`stitch_pic`
reassembles per-window results: each output pixel comes from the window
whose centre part holds it (overlaps are split in the middle), so the border
pixels of a window, where network outputs are least reliable, are used only
at the image border. Stitching the windows themselves gives the image back
exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .labels import _check_shape

__all__ = ["create_windows", "stitch_pic"]


def _axis_bounds(size: int, target: int, min_overlap: int) -> np.ndarray:
    """``(n, 2)`` int32 [start, stop) of the windows along one axis."""
    if size <= target:
        # one window, padded beyond the image; stop marks the image end
        return np.array([[0, size]], dtype=np.int32)
    step = target - min_overlap
    count = -(-(size - min_overlap) // step)  # ceil
    starts = np.arange(count, dtype=np.int64) * (size - target) // (count - 1)
    return np.stack([starts, starts + target], axis=1).astype(np.int32)


def create_windows(image: npt.NDArray[Any],
                   target_size: tuple[int, int] = (512, 512),
                   min_overlap: int = 24,
                   ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32],
                              npt.NDArray[np.int32]]:
    """Cut an image into overlapping windows of a fixed size.

    Parameters
    ----------
    image
        2-D image ``(Y, X)``.
    target_size
        ``(height, width)`` of the windows.
    min_overlap
        Minimum overlap of neighbouring windows [px], at least 0 and smaller
        than both window sizes.

    Returns
    -------
    windows : numpy.ndarray
        ``(ny * nx, height, width)`` windows in row-major order (window
        ``iy * nx + ix`` lies at ``loc_y[iy]``, ``loc_x[ix]``), same dtype as
        `image`. Along an axis where the image is smaller than the window,
        the single window is zero-padded at the end.
    loc_y, loc_x : numpy.ndarray of int32
        ``(ny, 2)`` and ``(nx, 2)`` start (included) and stop (excluded) of
        the windows along y (rows) and x (columns); a padded window stops at
        the image end.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(10 * 7).reshape(10, 7)
    >>> windows, loc_y, loc_x = create_windows(image, (4, 8), min_overlap=1)
    >>> windows.shape, loc_y.tolist(), loc_x.tolist()
    ((3, 4, 8), [[0, 4], [3, 7], [6, 10]], [[0, 7]])
    >>> bool((stitch_pic(windows, loc_y, loc_x) == image).all())
    True
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {arr.shape}")
    height, width = _check_shape(target_size, "target_size")
    min_overlap = int(min_overlap)
    if not 0 <= min_overlap < min(height, width):
        raise ValueError(f"min_overlap must be at least 0 and smaller than "
                         f"the window size {target_size}, got {min_overlap}")
    loc_y = _axis_bounds(arr.shape[0], height, min_overlap)
    loc_x = _axis_bounds(arr.shape[1], width, min_overlap)
    padded = np.pad(arr, ((0, max(height - arr.shape[0], 0)),
                          (0, max(width - arr.shape[1], 0))))
    view = np.lib.stride_tricks.sliding_window_view(padded, (height, width))
    windows = view[loc_y[:, :1], loc_x[:, 0]]  # (ny, nx, height, width)
    return (windows.reshape(-1, height, width).copy(), loc_y, loc_x)


def _axis_source(loc: Any, window: int, name: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each output pixel along one axis: window index and offset in it."""
    bounds = np.asarray(loc, dtype=np.int64)
    if bounds.ndim != 2 or bounds.shape[1] != 2 or len(bounds) == 0:
        raise ValueError(f"{name} must have shape (n, 2), got {bounds.shape}")
    starts, stops = bounds[:, 0], bounds[:, 1]
    if (starts[0] != 0 or np.any(stops <= starts) or np.any(np.diff(starts) <= 0)
            or np.any(stops - starts > window) or np.any(starts[1:] > stops[:-1])):
        raise ValueError(f"{name} does not describe windows of size {window} "
                         f"covering the image from 0 on: {bounds.tolist()}")
    # split each overlap in the middle
    cuts = np.concatenate([[0], (starts[1:] + stops[:-1]) // 2, [stops[-1]]])
    index = np.repeat(np.arange(len(bounds)), np.diff(cuts))
    offset = np.arange(stops[-1]) - starts[index]
    return index, offset


def stitch_pic(results: npt.NDArray[Any], loc_y: Any, loc_x: Any
               ) -> npt.NDArray[Any]:
    """Reassemble per-window results into one image.

    Parameters
    ----------
    results
        ``(ny * nx, height, width)`` per-window arrays in the order of
        :func:`create_windows`.
    loc_y, loc_x
        Window bounds from :func:`create_windows`.

    Returns
    -------
    image : numpy.ndarray
        2-D array of the original image size (``loc_y[-1, 1]``,
        ``loc_x[-1, 1]``); in overlaps, each window contributes up to the
        middle of the overlap.

    Examples
    --------
    >>> import numpy as np
    >>> results = np.stack([np.full((3, 2), 1), np.full((3, 2), 2)])
    >>> stitch_pic(results, [[0, 3]], [[0, 2], [1, 3]]).tolist()
    [[1, 2, 2], [1, 2, 2], [1, 2, 2]]
    """
    res = np.asarray(results)
    if res.ndim != 3:
        raise ValueError(f"results must be 3-D (windows, height, width), got "
                         f"shape {res.shape}")
    row_win, row_off = _axis_source(loc_y, res.shape[1], "loc_y")
    col_win, col_off = _axis_source(loc_x, res.shape[2], "loc_x")
    nx = int(col_win.max()) + 1
    if len(res) != (int(row_win.max()) + 1) * nx:
        raise ValueError(f"results holds {len(res)} windows, but loc_y and "
                         f"loc_x describe {(int(row_win.max()) + 1) * nx}")
    which = row_win[:, None] * nx + col_win[None, :]
    return res[which, row_off[:, None], col_off[None, :]]
