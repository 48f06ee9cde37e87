"""Background images of raw deformability-cytometry frames.

A background method turns the frames of a measurement into one background
image per frame (and, optionally, a per-frame brightness offset ``bg_off``).
Three methods are available, each described by a pipeline identifier:

``sparsemed`` (default)
    Sparse median: for every stretch of ``split_time`` seconds, the median of
    ``kernel_size`` frames spread evenly over that stretch (in short runs of
    consecutive frames, so that few compressed HDF5 chunks are read). Frames that
    deviate most from a first median (cells, debris) are dropped before the
    final median (``frac_cleansing`` is the fraction kept). With
    ``offset_correction`` every frame gets ``bg_off``, the median difference
    between the frame and its background, which absorbs flickering
    illumination. Few background images are computed, so they are stored once
    (as an internal basin) rather than once per event.
``rollmed``
    Rolling median over the ``kernel_size`` frames centred on each frame
    (shifted inwards at the ends of the measurement). The lower median is
    used, so the background is always one of the recorded gray levels.
``copy``
    Use the ``image_bg`` already stored in the input.

All methods work on a frame range at a time, so a worker process computes
the background of its own chunk and memory stays bounded.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import CytolabError
from ..io.ppid import join_ppid
from .steps import from_spec

#: Methods by identifier code.
BACKGROUND_METHODS: dict[str, type[Background]] = {}


class Background(abc.ABC):
    """A way of computing the background of every frame.

    Subclasses define :attr:`code` and :attr:`defaults` (their keyword
    arguments, in identifier order) and implement :meth:`compute`.
    """

    code: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]
    #: Whether the method yields a ``bg_off`` feature.
    has_offset: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        BACKGROUND_METHODS[cls.code] = cls

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(self.defaults)
        if unknown:
            raise ValueError(f"Unknown keyword(s) {sorted(unknown)} for background "
                             f"'{self.code}'; valid: {list(self.defaults)}")
        self.kwargs = {**self.defaults, **kwargs}
        self._check()

    def _check(self) -> None:  # noqa: B027 (optional hook)
        """Validate :attr:`kwargs` (raise ValueError naming the keyword)."""

    @property
    def ppid(self) -> str:
        """Pipeline identifier, e.g. ``sparsemed:k=200^s=1^t=0^f=0.8^o=0``."""
        return join_ppid(self.code, self.kwargs)

    def prepare(self, data: Any) -> None:  # noqa: B027 (optional hook)
        """Compute what all chunks share (in the main process).

        Parameters
        ----------
        data
            The input :class:`~cytolab.io.hdf5data.HDF5Data`.
        """

    @abc.abstractmethod
    def compute(self, data: Any, start: int, stop: int, images: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Background of frames ``start`` to ``stop`` (exclusive).

        Parameters
        ----------
        data
            The input data (frames ``start:stop`` are `images`).
        start, stop
            Frame range (indices after index mapping).
        images
            The frames, ``(stop - start, H, W)`` uint8.

        Returns
        -------
        backgrounds : numpy.ndarray
            ``(M, H, W)`` uint8 stack of distinct background images.
        index : numpy.ndarray
            For every frame, the index of its background in `backgrounds`.
        bg_off : numpy.ndarray or None
            Per-frame offset (float64) or None.
        """

    def state(self) -> dict[str, Any]:
        """What :meth:`prepare` computed, to be sent to worker processes."""
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027
        """Restore the result of :meth:`prepare` in a worker process."""


def frame_offsets(images: np.ndarray, backgrounds: np.ndarray) -> np.ndarray:
    """Median difference between each frame and its background.

    Parameters
    ----------
    images, backgrounds
        ``(N, H, W)`` uint8 stacks of the same shape.

    Returns
    -------
    numpy.ndarray
        ``bg_off``: float64, one value per frame (the mean of the two middle
        values for an even number of pixels, like :func:`numpy.median`).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((2, 3, 4), 100, dtype=np.uint8)
    >>> img[1] += 7
    >>> frame_offsets(img, np.full_like(img, 98)).tolist()
    [2.0, 9.0]
    """
    num = len(images)
    if num == 0:
        return np.zeros(0)
    diff = images.reshape(num, -1).astype(np.int16)
    diff -= backgrounds.reshape(num, -1)
    diff += 255  # 0..510
    # per-frame histograms in one bincount; the median is read from the
    # cumulative counts, which is much faster than sorting every frame
    npix = diff.shape[1]
    hist = np.bincount((diff + 511 * np.arange(num)[:, None]).ravel(),
                       minlength=511 * num).reshape(num, 511)
    cum = np.cumsum(hist, axis=1)
    lo = np.argmax(cum > (npix - 1) // 2, axis=1)
    hi = np.argmax(cum > npix // 2, axis=1)
    return (lo + hi) / 2 - 255


class SparseMedian(Background):
    """Median of frames sampled sparsely over each stretch of the measurement.

    Keywords (identifier order)
    ---------------------------
    kernel_size : int
        Number of frames per background image (default 200).
    split_time : float
        Duration [s] each background image stands for (default 1). Without
        a frame rate in the metadata, one background per ``kernel_size``
        frames.
    thresh_cleansing : float
        Gray levels of deviation that are tolerated when ranking the sampled
        frames (default 0).
    frac_cleansing : float
        Fraction of the sampled frames kept for the final median (0 < f <= 1,
        default 0.8).
    offset_correction : bool
        Compute the per-frame offset ``bg_off`` (default False; chosen
        automatically when flickering is detected).
    """

    code = "sparsemed"
    defaults = {"kernel_size": 200, "split_time": 1.0, "thresh_cleansing": 0.0,
                "frac_cleansing": 0.8, "offset_correction": False}

    def _check(self) -> None:
        kw = self.kwargs
        if int(kw["kernel_size"]) < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kw['kernel_size']}")
        if not float(kw["split_time"]) > 0:
            raise ValueError(f"split_time must be > 0, got {kw['split_time']}")
        if not 0 < float(kw["frac_cleansing"]) <= 1:
            raise ValueError("frac_cleansing must be in (0, 1], got "
                             f"{kw['frac_cleansing']}")
        if float(kw["thresh_cleansing"]) < 0:
            raise ValueError("thresh_cleansing must be >= 0, got "
                             f"{kw['thresh_cleansing']}")
        self.has_offset = bool(kw["offset_correction"])
        self._backgrounds: np.ndarray | None = None
        self._step = 1

    def step_frames(self, num_frames: int, frame_rate: float | None) -> int:
        """Number of frames each background image covers."""
        if frame_rate and frame_rate > 0:
            step = int(round(float(self.kwargs["split_time"]) * frame_rate))
        else:
            step = int(self.kwargs["kernel_size"])
        return max(1, min(step, max(num_frames, 1)))

    def sample_indices(self, num_frames: int, step: int, run: int = 1
                       ) -> list[np.ndarray]:
        """Frame indices sampled for each background image.

        Parameters
        ----------
        num_frames
            Frames of the measurement.
        step
            Frames each background image covers.
        run
            Frames are taken in runs of this many consecutive frames (the
            HDF5 chunk length of the images, so that sampling reads few
            chunks); at least eight runs per background image.
        """
        kernel = int(self.kwargs["kernel_size"])
        run = int(max(1, min(run, kernel // 8)))
        samples = []
        for first in range(0, num_frames, step):
            centre = first + min(step, num_frames - first) / 2
            width = max(step, kernel)
            lo = int(max(0, min(centre - width / 2, num_frames - width)))
            hi = int(min(num_frames, lo + width))
            count = min(kernel, hi - lo)
            nruns = -(-count // run)
            starts = np.linspace(lo, hi - run, nruns).round().astype(np.int64)
            idx = (starts[:, None] + np.arange(run)).ravel()
            idx = np.unique(idx[(idx >= lo) & (idx < hi)])[:count]
            samples.append(idx)
        return samples

    def median_of(self, frames: np.ndarray) -> np.ndarray:
        """Cleansed median image of a stack of frames (uint8)."""
        med = np.median(frames, axis=0)
        keep = int(np.ceil(float(self.kwargs["frac_cleansing"]) * len(frames)))
        if keep < len(frames):
            dev = np.abs(frames.astype(np.float32) - med)
            dev = np.maximum(dev - float(self.kwargs["thresh_cleansing"]), 0)
            score = dev.reshape(len(frames), -1).mean(axis=1)
            best = np.sort(np.argsort(score, kind="stable")[:keep])
            med = np.median(frames[best], axis=0)
        return np.rint(med).astype(np.uint8)

    def prepare(self, data: Any) -> None:
        num = len(data)
        rate = data.meta_nest.get("imaging", {}).get("frame rate")
        self._step = self.step_frames(num, float(rate) if rate else None)
        chunks = getattr(getattr(data.image, "h5ds", None), "chunks", None)
        backgrounds = []
        for idx in self.sample_indices(num, self._step, chunks[0] if chunks else 1):
            backgrounds.append(self.median_of(read_frames(data, idx)))
        height, width = data.image.shape[1:]
        self._backgrounds = (np.stack(backgrounds) if backgrounds
                             else np.zeros((0, height, width), np.uint8))

    def state(self) -> dict[str, Any]:
        return {"backgrounds": self._backgrounds, "step": self._step}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._backgrounds = state["backgrounds"]
        self._step = state["step"]

    @property
    def backgrounds(self) -> np.ndarray:
        """All background images, ``(M, H, W)`` uint8 (after :meth:`prepare`)."""
        if self._backgrounds is None:
            raise RuntimeError("SparseMedian.prepare() has not been called")
        return self._backgrounds

    def compute(self, data: Any, start: int, stop: int, images: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        index = np.arange(start, stop) // self._step
        bg_off = None
        if self.has_offset:
            bg_off = frame_offsets(images, self.backgrounds[index])
        return self.backgrounds, index, bg_off


def rolling_lower_median(frames: np.ndarray, kernel: int) -> np.ndarray:
    """Lower median of every window of `kernel` consecutive frames.

    Parameters
    ----------
    frames
        ``(T, H, W)`` uint8 stack with ``T >= kernel``.
    kernel
        Window length.

    Returns
    -------
    numpy.ndarray
        ``(T - kernel + 1, H, W)`` uint8: window ``s`` covers frames
        ``s .. s + kernel - 1``; the value of rank ``(kernel - 1) // 2``.

    Notes
    -----
    Per pixel a histogram of the window's gray levels is kept together with
    the current median and the number of values below it. Sliding the window
    changes two histogram entries; the median then moves to a neighbouring
    occupied level, which is a short vectorized loop. This is O(pixels) per
    frame instead of O(pixels x kernel) for sorting.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([5, 1, 4, 2, 3], dtype=np.uint8).reshape(5, 1, 1)
    >>> rolling_lower_median(f, 3).ravel().tolist()
    [4, 2, 3]
    """
    total, height, width = frames.shape
    if not 1 <= kernel <= total:
        raise ValueError(f"kernel must be between 1 and {total}, got {kernel}")
    flat = frames.reshape(total, -1)
    npix = flat.shape[1]
    cols = np.arange(npix)
    rank = (kernel - 1) // 2
    hist = np.zeros((256, npix), dtype=np.int32)
    for f in range(kernel):
        hist[flat[f], cols] += 1
    cum = np.cumsum(hist, axis=0)
    med = np.argmax(cum > rank, axis=0).astype(np.intp)
    below = np.where(med > 0, cum[np.maximum(med - 1, 0), cols], 0)
    del cum
    out = np.empty((total - kernel + 1, npix), dtype=np.uint8)
    out[0] = med
    for s in range(1, total - kernel + 1):
        v_out = flat[s - 1]
        v_in = flat[s + kernel - 1]
        hist[v_out, cols] -= 1
        hist[v_in, cols] += 1
        below += (v_in < med).astype(np.int32) - (v_out < med)
        # too many values below: step down to lower occupied levels
        act = np.flatnonzero(below > rank)
        while act.size:
            med[act] -= 1
            below[act] -= hist[med[act], act]
            act = act[below[act] > rank]
        # not enough at or below the median: step up
        act = np.flatnonzero(below + hist[med, cols] <= rank)
        while act.size:
            below[act] += hist[med[act], act]
            med[act] += 1
            act = act[below[act] + hist[med[act], act] <= rank]
        out[s] = med
    return out.reshape(-1, height, width)


class RollingMedian(Background):
    """Rolling (lower) median over ``kernel_size`` frames centred on each frame.

    Keywords (identifier order)
    ---------------------------
    kernel_size : int
        Window length in frames (default 100).
    batch_size : int
        Frames per computation batch (default 10000); affects speed only.
    """

    code = "rollmed"
    defaults = {"kernel_size": 100, "batch_size": 10000}

    def _check(self) -> None:
        if int(self.kwargs["kernel_size"]) < 1:
            raise ValueError("kernel_size must be >= 1, got "
                             f"{self.kwargs['kernel_size']}")
        if int(self.kwargs["batch_size"]) < 1:
            raise ValueError("batch_size must be >= 1, got "
                             f"{self.kwargs['batch_size']}")

    def window_start(self, frames: np.ndarray, num_frames: int) -> np.ndarray:
        """First frame of the window of each frame."""
        kernel = min(int(self.kwargs["kernel_size"]), num_frames)
        return np.clip(frames - kernel // 2, 0, num_frames - kernel)

    def compute(self, data: Any, start: int, stop: int, images: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        num = len(data)
        kernel = min(int(self.kwargs["kernel_size"]), num)
        starts = self.window_start(np.arange(start, stop), num)
        first, last = int(starts[0]), int(starts[-1]) + kernel
        frames = images if (first, last) == (start, stop) else \
            np.asarray(data.image[first:last])
        medians = rolling_lower_median(frames, kernel)
        return medians, starts - first, None


class CopyBackground(Background):
    """Use the ``image_bg`` feature stored in the input."""

    code = "copy"
    defaults: ClassVar[dict[str, Any]] = {}

    def prepare(self, data: Any) -> None:
        if data.image_bg is None:
            raise CytolabError(f"Background method 'copy' needs image_bg, which "
                               f"{data_name(data)} does not have")
        if "bg_off" in data:
            self.has_offset = True

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.has_offset = bool(state.get("has_offset"))

    def state(self) -> dict[str, Any]:
        return {"has_offset": self.has_offset}

    def compute(self, data: Any, start: int, stop: int, images: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        backgrounds = np.asarray(data.image_bg[start:stop])
        bg_off = np.asarray(data["bg_off"][start:stop], dtype=np.float64) \
            if self.has_offset else None
        return backgrounds, np.arange(stop - start), bg_off


def data_name(data: Any) -> str:
    """Name of the input for messages."""
    path = getattr(data, "path", None)
    return f"'{path}'" if path else "the input"


def read_frames(data: Any, indices: np.ndarray) -> np.ndarray:
    """Images at sorted unique `indices` in as few reads as possible."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return np.zeros((0, *data.image.shape[1:]), np.uint8)
    lo, hi = int(indices[0]), int(indices[-1]) + 1
    if hi - lo <= 4 * len(indices):  # dense: one slab read is cheapest
        return np.asarray(data.image[lo:hi])[indices - lo]
    # one read per run of consecutive frames
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    return np.concatenate([np.asarray(data.image[int(r[0]):int(r[-1]) + 1])
                           for r in np.split(indices, breaks)])


def get_background(spec: str | Background | None = None,
                   **kwargs: Any) -> Background:
    """Background method from a code, a full identifier or an instance.

    Examples
    --------
    >>> get_background("sparsemed", kernel_size=100).ppid
    'sparsemed:k=100^s=1^t=0^f=0.8^o=0'
    >>> get_background("rollmed:k=50").kwargs["kernel_size"]
    50
    """
    return from_spec(spec, kwargs, Background, BACKGROUND_METHODS, "sparsemed",
                     "background method")
