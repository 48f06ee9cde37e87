"""Brightness of events: gray values of the image inside the event mask.

Two families of features:

* ``bright_avg``, ``bright_sd``: mean and standard deviation of the image
  inside the mask (:func:`get_bright`, batch kernel :func:`bright_features`);
* ``bright_bc_avg``, ``bright_bc_sd``, ``bright_perc_10``, ``bright_perc_90``:
  the same statistics and the 10th/90th percentiles of the
  background-corrected image ``image - image_bg`` (optionally minus a
  per-event offset ``bg_off``), which is signed
  (:func:`get_bright_bc`, :func:`get_bright_perc`, batch kernel
  :func:`bright_bc_features`).

Conventions (checked against the values stored by the reference tools in
the real measurement files):

* the standard deviation is the population SD (``ddof=0``);
* the background correction is done in signed integer arithmetic (int16
  for 8-bit images), so there is no wrap-around;
* percentiles use linear interpolation between the two nearest ranks, the
  default of :func:`numpy.percentile`;
* an event with an empty mask gives NaN.

All kernels work on stacks of events at once: the mask pixels of the whole
stack are located once (:func:`numpy.flatnonzero`) and the per-event sums are
segmented reductions over the gathered gray values, so there is no Python
loop over events.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "bright_bc_features",
    "bright_features",
    "get_bright",
    "get_bright_bc",
    "get_bright_perc",
]

#: Largest number of histogram bins (gray-level span times events) for which
#: percentiles are read from per-event histograms instead of a sort.
_MAX_HIST_BINS = 1 << 24


# --------------------------------------------------------------------------
# input handling (shared with the texture kernels)
# --------------------------------------------------------------------------
def _as_stack(name: str, data: Any) -> tuple[np.ndarray, bool]:
    """Return `data` as an (N, H, W) array and whether it was a single event.

    A list or tuple of equally shaped 2-D arrays is stacked.
    """
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            return np.zeros((0, 0, 0)), False
        items = [np.asarray(item) for item in data]
        shapes = {item.shape for item in items}
        if any(item.ndim != 2 for item in items):
            raise ValueError(f"{name} must be a list of 2-D arrays, got arrays "
                             f"of shapes {sorted(shapes)}")
        if len(shapes) > 1:
            raise ValueError(f"the events in {name} must all have the same "
                             f"shape, got {sorted(shapes)}")
        return np.stack(items), False
    arr = np.asarray(data)
    if arr.ndim == 2:
        return arr[np.newaxis], True
    if arr.ndim == 3:
        return arr, False
    raise ValueError(f"{name} must be a 2-D image or a 3-D stack (N, H, W), "
                     f"got an array of shape {arr.shape}")


def _check_mask(mask: np.ndarray) -> np.ndarray:
    """Boolean view or copy of a mask stack (integer masks: nonzero is True)."""
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind in "iu":
        return mask != 0
    if mask.size == 0:
        return mask.astype(bool)
    raise ValueError(f"mask must be a boolean or integer array, got dtype "
                     f"{mask.dtype}")


def _check_image(name: str, image: np.ndarray, mask: np.ndarray,
                 integer: bool) -> np.ndarray:
    if image.shape != mask.shape:
        raise ValueError(f"{name} has shape {image.shape[1:]} for "
                         f"{image.shape[0]} event(s), but mask has shape "
                         f"{mask.shape[1:]} for {mask.shape[0]} event(s)")
    kinds = "iu" if integer else "iuf"
    if image.size and image.dtype.kind not in kinds:
        need = "an integer (e.g. uint8)" if integer else "a real-valued"
        raise ValueError(f"{name} must be {need} array, got dtype {image.dtype}")
    return image


def _event_stacks(mask: Any, *images: tuple[str, Any], integer: bool = False,
                  ) -> tuple[bool, np.ndarray, list[np.ndarray]]:
    """Validate a mask and images of the same events.

    Returns
    -------
    single : bool
        Whether a single 2-D event was given.
    mask : ndarray
        Boolean (N, H, W) mask stack.
    images : list of ndarray
        (N, H, W) image stacks, in the order given.
    """
    mstack, single = _as_stack("mask", mask)
    mstack = _check_mask(mstack)
    out = []
    for name, data in images:
        stack, _ = _as_stack(name, data)
        out.append(_check_image(name, stack, mstack, integer))
    return single, mstack, out


class _MaskPixels:
    """Positions of the mask pixels of an event stack, grouped by event.

    Attributes
    ----------
    index : ndarray
        Flat indices (into the raveled stack) of all mask pixels, increasing.
    starts, counts : ndarray
        Per event: first position in `index` and number of mask pixels.
    """

    def __init__(self, mask: np.ndarray) -> None:
        num, height, width = mask.shape
        self.shape = mask.shape
        self.index = np.flatnonzero(mask)
        edges = np.searchsorted(self.index,
                                np.arange(num + 1, dtype=np.int64) * height * width)
        self.starts = edges[:-1]
        self.counts = np.diff(edges)

    def gather(self, image: np.ndarray) -> np.ndarray:
        """Gray values of `image` (same shape as the mask) at the mask pixels."""
        return image.reshape(-1)[self.index]

    def event_of_pixel(self) -> np.ndarray:
        """Event number of every mask pixel."""
        return np.repeat(np.arange(len(self.counts)), self.counts)

    def segment_sum(self, values: np.ndarray, dtype: Any) -> np.ndarray:
        """Per-event sum of `values` (one value per mask pixel)."""
        out = np.zeros(len(self.counts), dtype=dtype)
        filled = self.counts > 0
        if values.size:
            out[filled] = np.add.reduceat(values, self.starts[filled], dtype=dtype)
        return out


def _mean_sd(pix: _MaskPixels, values: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per-event mean and population SD of `values` (NaN for empty events)."""
    counts = pix.counts
    with np.errstate(invalid="ignore", divide="ignore"):
        if values.dtype.kind in "iu":
            # exact integer sums: n * sum(x**2) - sum(x)**2 has no cancellation
            vals = values.astype(np.int64)
            s1 = pix.segment_sum(vals, np.int64)
            s2 = pix.segment_sum(vals * vals, np.int64)
            num = counts * s2 - s1 * s1
            mean = s1 / counts
            sd = np.sqrt(num.astype(np.float64)) / counts
        else:
            vals = values.astype(np.float64)
            mean = pix.segment_sum(vals, np.float64) / counts
            dev = vals - mean[pix.event_of_pixel()]
            sd = np.sqrt(pix.segment_sum(dev * dev, np.float64) / counts)
    mean[counts == 0] = np.nan
    sd[counts == 0] = np.nan
    return mean, sd


def _percentiles(pix: _MaskPixels, values: np.ndarray,
                 quantiles: Sequence[float]) -> list[np.ndarray]:
    """Per-event percentiles of integer `values` (linear interpolation).

    The ranks are located in per-event gray-level histograms when the value
    span is small (8-bit data) and in a sorted copy otherwise.
    """
    num = len(pix.counts)
    counts = pix.counts
    filled = counts > 0
    results = [np.full(num, np.nan) for _ in quantiles]
    if not values.size:
        return results
    vmin = int(values.min())
    span = int(values.max()) - vmin + 1
    rel = values.astype(np.int64) - vmin
    event = pix.event_of_pixel()
    if span * num <= _MAX_HIST_BINS:
        hist = np.bincount(event * span + rel, minlength=num * span)
        cum = np.cumsum(hist)

        def value_at(rank: np.ndarray) -> np.ndarray:
            # first bin whose cumulative count exceeds the global rank
            pos = np.searchsorted(cum, pix.starts[filled] + rank, side="right")
            return pos - np.flatnonzero(filled) * span + vmin
    else:
        ordered = np.sort(event * span + rel)

        def value_at(rank: np.ndarray) -> np.ndarray:
            key = ordered[pix.starts[filled] + rank]
            return key - np.flatnonzero(filled) * span + vmin

    nfill = counts[filled]
    for out, q in zip(results, quantiles):
        # the same arithmetic as numpy's "linear" method, to the last bit
        virtual = (nfill - 1) * (np.float64(q) / 100)
        lower = np.floor(virtual).astype(np.int64)
        frac = virtual - lower
        upper = np.minimum(lower + 1, nfill - 1)
        a = value_at(lower).astype(np.float64)
        b = value_at(upper).astype(np.float64)
        diff = b - a
        out[filled] = np.where(frac >= 0.5, b - diff * (1 - frac), a + diff * frac)
    return results


def _corrected_values(pix: _MaskPixels, image: np.ndarray,
                      image_bg: np.ndarray) -> np.ndarray:
    """Background-corrected gray values at the mask pixels (signed integers)."""
    size = max(image.dtype.itemsize, image_bg.dtype.itemsize)
    # int16 holds any difference of two 8-bit values; wider data need more
    wide = np.int16 if size == 1 else np.int32 if size == 2 else np.int64
    return (pix.gather(image).astype(wide) - pix.gather(image_bg).astype(wide))


def _bg_offset(bg_off: Any, num: int) -> np.ndarray | None:
    if bg_off is None:
        return None
    off = np.asarray(bg_off, dtype=np.float64).reshape(-1)
    if off.size == 1:
        off = np.repeat(off, num)
    if off.shape != (num,):
        raise ValueError(f"bg_off must be a scalar or have one value per event "
                         f"({num}), got shape {np.shape(bg_off)}")
    return off


# --------------------------------------------------------------------------
# batch kernels (used by the ancillary features and the pipelines)
# --------------------------------------------------------------------------
def bright_features(mask: Any, image: Any) -> dict[str, np.ndarray]:
    """Brightness average and SD of a stack of events.

    Parameters
    ----------
    mask : array_like of shape (N, H, W)
        Event masks (boolean, or integer with nonzero inside the event).
    image : array_like of shape (N, H, W)
        Gray-scale images (integer or floating point).

    Returns
    -------
    dict
        ``bright_avg`` and ``bright_sd`` (population SD), arrays of length N;
        NaN for events with an empty mask.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[10, 20], [30, 40]]], dtype=np.uint8)
    >>> mask = np.array([[[True, True], [False, False]]])
    >>> res = bright_features(mask, image)
    >>> float(res["bright_avg"][0]), float(res["bright_sd"][0])
    (15.0, 5.0)
    """
    _, mstack, (istack,) = _event_stacks(mask, ("image", image))
    pix = _MaskPixels(mstack)
    avg, sd = _mean_sd(pix, pix.gather(istack))
    return {"bright_avg": avg, "bright_sd": sd}


def bright_bc_features(mask: Any, image: Any, image_bg: Any,
                       bg_off: Any = None) -> dict[str, np.ndarray]:
    """Background-corrected brightness of a stack of events.

    Parameters
    ----------
    mask : array_like of shape (N, H, W)
        Event masks (boolean, or integer with nonzero inside the event).
    image, image_bg : array_like of shape (N, H, W)
        Integer gray-scale images and their background images.
    bg_off : float or array_like of shape (N,), optional
        Per-event background offset, subtracted from the corrected image.

    Returns
    -------
    dict
        ``bright_bc_avg``, ``bright_bc_sd`` (population SD),
        ``bright_perc_10`` and ``bright_perc_90`` of ``image - image_bg -
        bg_off`` inside the mask, arrays of length N; NaN for events with an
        empty mask.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[90, 100, 120, 200]]], dtype=np.uint8)
    >>> image_bg = np.full((1, 1, 4), 100, dtype=np.uint8)
    >>> mask = np.array([[[True, True, True, False]]])
    >>> res = bright_bc_features(mask, image, image_bg)
    >>> round(float(res["bright_bc_avg"][0]), 4), float(res["bright_perc_90"][0])
    (3.3333, 16.0)
    """
    _, mstack, (istack, bstack) = _event_stacks(
        mask, ("image", image), ("image_bg", image_bg), integer=True)
    pix = _MaskPixels(mstack)
    values = _corrected_values(pix, istack, bstack)
    avg, sd = _mean_sd(pix, values)
    p10, p90 = _percentiles(pix, values, (10, 90))
    off = _bg_offset(bg_off, len(pix.counts))
    if off is not None:
        avg, p10, p90 = avg - off, p10 - off, p90 - off
    return {"bright_bc_avg": avg, "bright_bc_sd": sd,
            "bright_perc_10": p10, "bright_perc_90": p90}


# --------------------------------------------------------------------------
# user-facing functions
# --------------------------------------------------------------------------
def _select(stats: dict[str, np.ndarray], ret_data: str, single: bool,
            ) -> Any:
    keys = sorted({item.strip() for item in ret_data.split(",") if item.strip()})
    unknown = [key for key in keys if key not in stats]
    if unknown or not keys:
        raise ValueError(f"ret_data must name one or more of {sorted(stats)} "
                         f"separated by commas, got {ret_data!r}")
    out = [float(stats[key][0]) if single else stats[key] for key in keys]
    return out[0] if len(out) == 1 else tuple(out)


def get_bright(mask: Any, image: Any, ret_data: str = "avg,sd") -> Any:
    """Average and/or standard deviation of the gray values inside the mask.

    Parameters
    ----------
    mask : array_like of shape (H, W) or (N, H, W), or list of (H, W) arrays
        True (or nonzero) where the event is located in `image`.
    image : array_like of the same shape as `mask`
        Gray-scale image(s) of the event(s).
    ret_data : str
        Comma-separated metrics: ``"avg"`` (average) and/or ``"sd"``
        (population standard deviation, ``ddof=0``). Selected metrics are
        returned in alphabetical order.

    Returns
    -------
    float or ndarray, or tuple of them
        One value (single event) or an array of N values per metric; a tuple
        when several metrics are requested. NaN for an empty mask.

    Raises
    ------
    ValueError
        If the shapes of `mask` and `image` differ, a dtype is not supported
        or `ret_data` names an unknown metric.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    >>> mask = image > 2
    >>> get_bright(mask, image)
    (4.5, 1.118033988749895)
    >>> get_bright(mask, image, ret_data="sd,avg")  # alphabetical order
    (4.5, 1.118033988749895)
    >>> get_bright(np.stack([mask, ~mask]), np.stack([image, image]), "avg")
    array([4.5, 1.5])
    """
    single, mstack, (istack,) = _event_stacks(mask, ("image", image))
    res = bright_features(mstack, istack)
    return _select({"avg": res["bright_avg"], "sd": res["bright_sd"]},
                   ret_data, single)


def get_bright_bc(mask: Any, image: Any, image_bg: Any, bg_off: Any = None,
                  ret_data: str = "avg,sd") -> Any:
    """Average and/or SD of the background-corrected image inside the mask.

    The corrected image is ``image - image_bg - bg_off``, computed in signed
    arithmetic (negative where the event is darker than the background).

    Parameters
    ----------
    mask : array_like of shape (H, W) or (N, H, W), or list of (H, W) arrays
        True (or nonzero) where the event is located in `image`.
    image, image_bg : array_like of the same shape as `mask`
        Integer gray-scale image(s) and background image(s).
    bg_off : float or array_like of shape (N,), optional
        Per-event background offset.
    ret_data : str
        Comma-separated metrics ``"avg"`` and/or ``"sd"``, returned in
        alphabetical order.

    Returns
    -------
    float or ndarray, or tuple of them
        ``bright_bc_avg`` and/or ``bright_bc_sd``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[90, 100, 140]], dtype=np.uint8)
    >>> image_bg = np.full((1, 3), 100, dtype=np.uint8)
    >>> get_bright_bc(np.ones((1, 3), bool), image, image_bg, ret_data="avg")
    10.0
    """
    single, mstack, (istack, bstack) = _event_stacks(
        mask, ("image", image), ("image_bg", image_bg), integer=True)
    res = bright_bc_features(mstack, istack, bstack, bg_off=bg_off)
    return _select({"avg": res["bright_bc_avg"], "sd": res["bright_bc_sd"]},
                   ret_data, single)


def get_bright_perc(mask: Any, image: Any, image_bg: Any,
                    bg_off: Any = None) -> tuple[Any, Any]:
    """10th and 90th percentile of the background-corrected image in the mask.

    Percentiles interpolate linearly between ranks (the default of
    :func:`numpy.percentile`).

    Parameters
    ----------
    mask : array_like of shape (H, W) or (N, H, W), or list of (H, W) arrays
        True (or nonzero) where the event is located in `image`.
    image, image_bg : array_like of the same shape as `mask`
        Integer gray-scale image(s) and background image(s).
    bg_off : float or array_like of shape (N,), optional
        Per-event background offset.

    Returns
    -------
    bright_perc_10, bright_perc_90 : float or ndarray
        NaN for an empty mask.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(11, dtype=np.uint8).reshape(1, 11) + 100
    >>> image_bg = np.full((1, 11), 100, dtype=np.uint8)
    >>> get_bright_perc(np.ones((1, 11), bool), image, image_bg)
    (1.0, 9.0)
    """
    single, mstack, (istack, bstack) = _event_stacks(
        mask, ("image", image), ("image_bg", image_bg), integer=True)
    res = bright_bc_features(mstack, istack, bstack, bg_off=bg_off)
    p10, p90 = res["bright_perc_10"], res["bright_perc_90"]
    if single:
        return float(p10[0]), float(p90[0])
    return p10, p90
