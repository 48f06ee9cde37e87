"""Raw RT-DC measurements: camera frames of cells flowing through a channel.

:func:`simulate_frames` writes what a deformability cytometer records before
any processing - the camera frames (``image``) and a few per-frame scalars -
and returns the ground truth of every cell appearance, so that an
event-extraction pipeline can be checked for accuracy and timed on any size.

The model
---------
Background
    A static channel image, the same in every frame: a gray level of about
    170-200 with a gentle illumination gradient along the channel, channel
    walls that darken the top and bottom rows, a weak fixed-pattern texture
    and a few dust specks. Each frame adds camera noise (a Gaussian of the
    requested standard deviation, quantized to integers and truncated at
    4.3 standard deviations); the sum is clipped to 0..255. Optionally a
    faulty light source makes about 7 % of the frames brighter or darker by
    8-20 gray levels as a whole ("flicker").
Cells
    Ellipses (area log-normal, median 50 µm², clipped to 20-120 µm²;
    deformation gamma-distributed, clipped to 0.005-0.1; major axis along
    the channel axis x, tilted by up to ±0.25 rad) rendered with sub-pixel
    accuracy: a dark rim (-25 to -40 gray levels, 1-1.5 px wide) around a
    less dark interior (-8 to -15 gray levels, with a weak texture), both
    anti-aliased by their pixel coverage. A threshold of -6 gray levels
    finds the rim reliably, but not every interior pixel, so hole filling is
    needed. Cells stay in the channel centre (at least 10 px away from the
    top and bottom rows) and move along x at a speed given by the flow rate,
    the channel width and their lateral position (parabolic flow profile),
    so at the default settings a cell appears in about three consecutive
    frames. They enter one after another with a gap of at least
    4 px between their bounding boxes (no overlaps, ever); the intervals
    between entries are exponential on top of that minimum, tuned so that a
    frame holds `cells_per_frame` cells on average (nearly Poisson: the
    minimum gap makes crowded frames slightly rarer). Cells entering or
    leaving the image are cut off by its border.

Ground truth
------------
One row per cell appearance (an event a perfect pipeline finds), i.e. per
frame and cell with at least one footprint pixel in the image. The
*footprint* of a cell is the set of pixels whose centre lies inside its
ellipse; pixel ``(row, col)`` has its centre at ``x = col``, ``y = row``
(the convention of the cytolab feature kernels). Use
:func:`ellipse_footprint` to reconstruct it from a row of the truth.
"""
from __future__ import annotations

import copy
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage, special

from .._progress import progress_bar
from ..rtdc.writer import RTDCWriter
from .rtdc import DEFAULT_METADATA, _ellipse_perimeter, _ratio_for_deformation

#: Per-frame features written by :func:`simulate_frames`.
FRAME_FEATURES = ("flow_rate", "frame", "image", "temp", "time")

#: Keys of the ground truth returned by :func:`simulate_frames`.
TRUTH_KEYS = ("frame", "index", "cell_id", "pos_x", "pos_y", "area_um",
              "deform", "area_px", "touches_border", "major_px", "minor_px",
              "angle")

# Metadata keys that the arguments of simulate_frames determine.
_ARGUMENT_METADATA = {("imaging", "pixel size"): "pixel_size",
                      ("imaging", "frame rate"): "frame_rate",
                      ("imaging", "roi size x"): "width",
                      ("imaging", "roi size y"): "height"}

_WALL_MARGIN = 10  # px kept free of cells at the top and bottom
_CELL_GAP = 4.0  # px, minimum gap between the bounding boxes of two cells
_MIN_AREA_UM = 20.0
_MAX_AREA_UM = 120.0
_FLICKER_PERIOD = 14  # frames per flickering frame (about 7 %)
_CELL_BATCH = 256  # cells drawn at a time
_DRAW_BLOCK = 4096  # frames (or flicker blocks) per block of per-frame draws
_PIXEL_BLOCK = 32  # frames combined at a time (keeps temporaries in cache)
# random streams (the seed sequence [seed, stream, ...] of each)
_STREAM_STATIC, _STREAM_NOISE, _STREAM_CELLS = 0, 1, 2
_STREAM_FLICKER, _STREAM_TEMP, _STREAM_PILOT = 3, 4, 5


@dataclass(frozen=True)
class _Geometry:
    """Image size, optics and flow of a simulated measurement."""

    height: int
    width: int
    pixel_size: float  # µm/px
    speed: float  # px/frame of a cell on the channel axis
    half_channel: float  # px, half of the channel width

    @property
    def centre_y(self) -> float:
        return (self.height - 1) / 2

    @property
    def max_semi_axis(self) -> float:
        """Largest semi-axis [px] of a cell that fits between the walls."""
        return (self.height - 3) / 2 - _WALL_MARGIN


def simulate_frames(path: str | os.PathLike, num_frames: int = 1000,
                    seed: int | None = 42, *, width: int = 400, height: int = 80,
                    pixel_size: float = 0.34, frame_rate: float = 3000.0,
                    cells_per_frame: float = 1.0, flicker: bool = False,
                    noise: float = 2.0, chunk_size: int = 1000,
                    progress: bool | None = False,
                    metadata: Mapping[str, Mapping[str, Any]] | None = None,
                    compression_kwargs: Mapping[str, Any] | None = None,
                    ) -> dict[str, np.ndarray]:
    """Write a raw RT-DC measurement (camera frames only) with ground truth.

    The model (background, noise, flicker, cells, flow) is described in
    :mod:`cytolab.simulate.frames`. The file holds ``events/image``
    ((num_frames, height, width) uint8) and the per-frame features ``frame``
    (1, 2, ...), ``time`` (``frame / frame_rate`` [s]), ``temp`` (chip
    temperature drifting slowly around 23 °C [°C]) and ``flow_rate`` (the
    set flow rate [µL/s]), plus complete measurement metadata. It is written
    in chunks (memory bounded by `chunk_size`, whatever `num_frames`) under
    a temporary name and renamed when complete. The result depends only on
    the arguments, not on `chunk_size`.

    Parameters
    ----------
    path
        Output ``.rtdc`` file (replaced if it exists).
    num_frames
        Number of camera frames (>= 1).
    seed
        Seed of the random generators (>= 0); None gives a different
        measurement every time.
    width, height
        Image size [px]. `height` must leave room for the channel walls
        (10 px each) and a cell of 20 µm² (about 38 px at 0.34 µm/px).
    pixel_size
        Pixel size [µm].
    frame_rate
        Camera frame rate [Hz]; with the flow rate it sets how far a cell
        moves between frames.
    cells_per_frame
        Mean number of cells per frame (0: an empty channel). Too many cells
        to fit without overlap give a ValueError.
    flicker
        Make one frame in every 14 (at random within each block of 14
        frames; blocks of 3 or more frames for fewer than 70 frames) brighter
        or darker by 8-20 gray levels, as a faulty LED does.
    noise
        Standard deviation of the camera noise [gray levels] (0: none).
    chunk_size
        Frames simulated and written at a time; memory use is about
        ``chunk_size * width * height`` bytes plus some 50 MB (and the
        returned truth, about 100 bytes per cell appearance).
    progress
        Show a progress bar (None: only on a terminal).
    metadata
        Metadata overriding or extending the defaults,
        ``{section: {key: value}}``, e.g. ``{"setup": {"flow rate": 0.16,
        "flow rate sample": 0.04, "flow rate sheath": 0.12}}`` (the setup
        flow rate and channel width set the speed of the cells). Pixel size,
        frame rate and ROI size come from the arguments and must not
        contradict them.
    compression_kwargs
        HDF5 dataset keywords for :class:`~cytolab.rtdc.writer.RTDCWriter`
        (default: Zstandard level 5 plus Fletcher-32). Compressing the noisy
        frames takes most of the time; Zstandard level 1
        (``{**hdf5plugin.Zstd(clevel=1), "fletcher32": True}``) is about five
        times faster at nearly the same file size.

    Returns
    -------
    dict
        Ground truth, one entry per cell appearance (frame and cell with at
        least one footprint pixel in the image), sorted by frame, then x;
        1-D arrays:

        - ``frame``: value of the ``frame`` feature of that frame
        - ``index``: frame index (0-based position in ``events/image``)
        - ``cell_id``: label of the cell, the same in all its appearances
          (increasing in the order the cells enter; not necessarily
          consecutive)
        - ``pos_x``, ``pos_y``: centre of the ellipse [µm], ``col *
          pixel_size`` and ``row * pixel_size`` of the (fractional) pixel it
          is on; for cells cut off by the border, it may lie outside the
          image
        - ``area_um``, ``deform``: area [µm²] and deformation (1 -
          circularity) of the whole, analytic ellipse
        - ``area_px``: number of footprint pixels inside the image
        - ``touches_border``: the footprint reaches the first or last
          column (or row) of the image, i.e. the cell is cut off or touches
          the border (pipelines that clear objects touching the border drop
          it; for cells whose edge is within a pixel of the border, a
          threshold segmentation may disagree with this flag)
        - ``major_px``, ``minor_px``: semi-axes of the ellipse [px]
        - ``angle``: tilt of the major axis [rad] from the x axis towards
          the y axis (increasing row index)

    Raises
    ------
    ValueError
        For invalid arguments (the message names the argument).

    Examples
    --------
    >>> import cytolab, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "raw.rtdc"
    >>> truth = simulate_frames(path, num_frames=20, seed=1, width=200)
    >>> with cytolab.new_dataset(path) as ds:
    ...     print(ds["image"].shape, ds["frame"][:3].tolist())
    (20, 80, 200) [1, 2, 3]
    >>> len(truth["frame"]), int(truth["touches_border"].sum())
    (23, 8)

    The footprint of the first appearance, as in the image:

    >>> mask = ellipse_footprint(
    ...     (80, 200), truth["pos_x"][0] / 0.34, truth["pos_y"][0] / 0.34,
    ...     truth["major_px"][0], truth["minor_px"][0], truth["angle"][0])
    >>> bool(mask.sum() == truth["area_px"][0])
    True
    """
    _check_arguments(num_frames=num_frames, seed=seed, width=width,
                     height=height, pixel_size=pixel_size,
                     frame_rate=frame_rate, cells_per_frame=cells_per_frame,
                     noise=noise, chunk_size=chunk_size)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    meta = _measurement_metadata(metadata, width=width, height=height,
                                 pixel_size=pixel_size, frame_rate=frame_rate)
    geom = _geometry(meta, width=width, height=height, pixel_size=pixel_size,
                     frame_rate=frame_rate)
    background = _static_background(np.random.default_rng([seed, _STREAM_STATIC]),
                                    height, width)
    cells = _CellStream(seed, geom, cells_per_frame)
    camera = _CameraNoise(seed, height, width, noise)
    flicker_period = _flicker_period(num_frames) if flicker else 0
    flow_rate = float(meta["setup"]["flow rate"])

    truth_parts: list[dict[str, np.ndarray]] = []
    bar = progress_bar(total=num_frames, unit="frames", desc="simulating",
                       show=progress)
    with RTDCWriter(path, mode="reset",
                    compression_kwargs=compression_kwargs) as hw, bar:
        hw.store_metadata(meta)
        for start in range(0, num_frames, chunk_size):
            stop = min(start + chunk_size, num_frames)
            offsets = _flicker_offsets(seed, start, stop, flicker_period)
            drawn = _render_cells(cells.appearances(start, stop), geom, start)
            images = _compose_frames(background, camera, offsets, drawn,
                                     stop - start)
            frame = np.arange(start + 1, stop + 1, dtype=np.int64)
            hw.store_feature("image", images)
            hw.store_feature("frame", frame)
            hw.store_feature("time", frame / frame_rate)
            hw.store_feature("temp", _temperature(seed, start, stop, frame_rate))
            hw.store_feature("flow_rate", np.full(stop - start, flow_rate))
            truth_parts.append(drawn["truth"])
            bar.update(stop - start)
    return {key: np.concatenate([part[key] for part in truth_parts])
            for key in TRUTH_KEYS}


def ellipse_footprint(shape: tuple[int, int], center_x: float, center_y: float,
                      major_px: float, minor_px: float, angle: float = 0.0,
                      ) -> np.ndarray:
    """Pixels of an image whose centre lies inside an ellipse.

    Pixel ``(row, col)`` has its centre at ``x = col``, ``y = row``. This is
    the footprint of a cell in :func:`simulate_frames`; pass
    ``truth["pos_x"][i] / pixel_size``, ``truth["pos_y"][i] / pixel_size``,
    ``truth["major_px"][i]``, ``truth["minor_px"][i]`` and
    ``truth["angle"][i]`` for appearance ``i``.

    Parameters
    ----------
    shape
        Image height and width [px].
    center_x, center_y
        Centre of the ellipse [px].
    major_px, minor_px
        Semi-axes [px] (along the tilted x and y axis).
    angle
        Tilt of the major axis from the x axis towards the y axis [rad].

    Returns
    -------
    np.ndarray
        Boolean array of `shape`.

    Examples
    --------
    >>> ellipse_footprint((5, 7), 3.0, 2.0, 2.0, 1.0).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 0, 0, 0],
           [0, 1, 1, 1, 1, 1, 0],
           [0, 0, 0, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0]])
    """
    height, width = shape
    if major_px <= 0 or minor_px <= 0:
        raise ValueError(f"major_px and minor_px must be > 0, got {major_px} "
                         f"and {minor_px}")
    dx = np.arange(width, dtype=np.float64)[None, :] - center_x
    dy = np.arange(height, dtype=np.float64)[:, None] - center_y
    q, _ = _ellipse_q(*_ellipse_frame(dx, dy, angle), major_px, minor_px)
    return q <= 1


def _ellipse_frame(dx: Any, dy: Any, angle: Any) -> tuple[Any, Any]:
    """Offsets (dx, dy) from the centre in the frame of a tilted ellipse."""
    cos, sin = np.cos(angle), np.sin(angle)
    return dx * cos + dy * sin, dy * cos - dx * sin


def _ellipse_q(u: Any, w: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """``q = (u/a)² + (w/b)²`` and ``|∇q|`` in the frame of the ellipse.

    ``q <= 1`` inside, and ``(q - 1) / |∇q|`` approximates the signed
    distance to the boundary (exact on it).
    """
    ua, wb = u / a, w / b
    q = ua * ua + wb * wb
    grad = 2 * np.sqrt((ua / a) ** 2 + (wb / b) ** 2)
    return q, grad


def _ellipse_deformation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Deformation (1 - circularity) of ellipses with semi-axes a, b."""
    return 1 - 2 * np.pi * np.sqrt(a * b) / _ellipse_perimeter(a, b)


# ----------------------------------------------------------------- checks

def _check_arguments(**kwargs: Any) -> None:
    """Raise a ValueError naming the first invalid argument."""
    def fail(name: str, rule: str) -> None:
        raise ValueError(f"{name} must be {rule}, got {kwargs[name]!r}")

    def is_int(value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    def is_real(value: Any) -> bool:
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and math.isfinite(value))

    for name, minimum in (("num_frames", 1), ("width", 32), ("height", 1),
                          ("chunk_size", 1)):
        if not is_int(kwargs[name]) or kwargs[name] < minimum:
            fail(name, f"an integer >= {minimum}")
    seed = kwargs["seed"]
    if seed is not None and (not is_int(seed) or seed < 0):
        fail("seed", "None or an integer >= 0")
    for name in ("pixel_size", "frame_rate"):
        if not is_real(kwargs[name]) or kwargs[name] <= 0:
            fail(name, "a finite number > 0")
    for name in ("cells_per_frame", "noise"):
        if not is_real(kwargs[name]) or kwargs[name] < 0:
            fail(name, "a finite number >= 0")
    smallest = math.sqrt(_MIN_AREA_UM / math.pi) / kwargs["pixel_size"]
    min_height = math.ceil(2 * (smallest + _WALL_MARGIN) + 3)
    if kwargs["height"] < min_height:
        fail("height", f">= {min_height} px (walls of {_WALL_MARGIN} px and a "
                       f"cell of {_MIN_AREA_UM:g} µm² at pixel_size "
                       f"{kwargs['pixel_size']:g} µm)")


def _measurement_metadata(metadata: Mapping[str, Mapping[str, Any]] | None, *,
                          width: int, height: int, pixel_size: float,
                          frame_rate: float) -> dict[str, dict[str, Any]]:
    """Default metadata of a raw measurement, updated by `metadata`."""
    meta = copy.deepcopy(DEFAULT_METADATA)
    meta["experiment"]["sample"] = "simulated raw frames"
    meta["imaging"].update({"pixel size": pixel_size, "frame rate": frame_rate,
                            "roi size x": width, "roi size y": height})
    args = {"pixel_size": pixel_size, "frame_rate": frame_rate, "width": width,
            "height": height}
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a dict of sections, got "
                         f"{type(metadata).__name__}")
    for section, values in (metadata or {}).items():
        if not isinstance(values, Mapping):
            raise ValueError(f"metadata['{section}'] must be a dict, got "
                             f"{type(values).__name__}")
        for key, value in values.items():
            arg = _ARGUMENT_METADATA.get((section, key))
            if arg is not None and _differs(value, args[arg]):
                raise ValueError(f"metadata['{section}']['{key}'] = {value!r} "
                                 f"contradicts {arg}={args[arg]!r} (set it "
                                 f"with the argument)")
            meta.setdefault(section, {})[key] = value
    setup = meta["setup"]
    for key in ("flow rate", "channel width"):
        try:
            value = float(setup[key])
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"metadata['setup']['{key}'] must be a number > 0, "
                             f"got {setup[key]!r}")
    return meta


def _differs(value: Any, expected: float) -> bool:
    try:
        return not math.isclose(float(value), float(expected), rel_tol=1e-9)
    except (TypeError, ValueError):
        return True


def _geometry(meta: Mapping[str, Mapping[str, Any]], *, width: int, height: int,
              pixel_size: float, frame_rate: float) -> _Geometry:
    """Geometry and cell speed from the metadata of the measurement."""
    setup = meta["setup"]
    channel = float(setup["channel width"])  # µm
    mean_speed = float(setup["flow rate"]) * 1e9 / channel**2  # µm/s
    # cells ride near the channel axis, faster than the mean flow
    axis_speed = 1.5 * mean_speed / frame_rate / pixel_size
    return _Geometry(height=height, width=width, pixel_size=pixel_size,
                     speed=axis_speed, half_channel=channel / 2 / pixel_size)


# ------------------------------------------------------------- background

def _static_background(rng: np.random.Generator, height: int, width: int
                       ) -> np.ndarray:
    """The channel without cells, rounded to gray levels (int16, (H, W))."""
    yy = np.arange(height, dtype=np.float64)[:, None]
    xx = np.arange(width, dtype=np.float64)[None, :]
    level = rng.uniform(178.0, 192.0)
    # illumination falls off slightly towards one end of the channel
    gradient = rng.uniform(-6.0, 6.0) * (xx / max(width - 1, 1) - 0.5)
    walls = rng.uniform(25.0, 35.0) * (np.exp(-yy / 2.5)
                                       + np.exp(-(height - 1 - yy) / 2.5))
    texture = ndimage.gaussian_filter(rng.standard_normal((height, width)), 1.5)
    texture *= 1.2 / max(float(texture.std()), 1e-12)
    columns = rng.normal(0.0, 0.4, size=(1, width))  # sensor column pattern
    image = level + gradient - walls + texture + columns
    num_specks = max(2, round(height * width / 8000))
    for _ in range(num_specks):
        sx, sy = rng.uniform(0, width - 1), rng.uniform(0, height - 1)
        sigma, depth = rng.uniform(0.7, 1.6), rng.uniform(8.0, 18.0)
        image -= depth * np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * sigma**2))
    return np.clip(np.rint(image), 0, 255).astype(np.int16)


class _CameraNoise:
    """Integer camera noise drawn frame after frame from one stream.

    A 16-bit uniform random number per pixel indexes a table of the
    quantiles of the Gaussian (65536 equally likely values), which is much
    faster than drawing Gaussians; the frames depend only on how many frames
    were drawn before, not on how the draws are split.
    """

    def __init__(self, seed: int, height: int, width: int, sd: float) -> None:
        self.shape = (height, width)
        self._bitgen = np.random.PCG64(np.random.SeedSequence([seed, _STREAM_NOISE]))
        self._words = -(-height * width // 4)  # 64-bit words per frame
        quantiles = special.ndtri((np.arange(65536) + 0.5) / 65536)
        self._table = np.rint(sd * quantiles).astype(np.int16) if sd > 0 else None

    def draw(self, count: int) -> np.ndarray:
        """Noise of the next `count` frames (int16, (count, H, W))."""
        height, width = self.shape
        if self._table is None:
            return np.zeros((count, height, width), dtype=np.int16)
        raw = self._bitgen.random_raw(count * self._words)
        words = raw.view(np.uint16).reshape(count, self._words * 4)
        return self._table[words[:, :height * width]].reshape(count, height, width)


def _block_draws(seed: int, stream: int, start: int, stop: int,
                 draw: Callable[[np.random.Generator, int], np.ndarray]
                 ) -> np.ndarray:
    """Per-item random values for items [start, stop), in fixed blocks.

    Block ``k`` of :data:`_DRAW_BLOCK` items comes from its own generator,
    so the values do not depend on how the items are split into chunks.
    """
    first, last = start // _DRAW_BLOCK, (stop - 1) // _DRAW_BLOCK
    parts = [draw(np.random.default_rng([seed, stream, k]), _DRAW_BLOCK)
             for k in range(first, last + 1)]
    values = np.concatenate(parts, axis=-1)
    offset = first * _DRAW_BLOCK
    return values[..., start - offset:stop - offset]


def _flicker_period(num_frames: int) -> int:
    """Frames per flickering frame: 14, fewer for short measurements."""
    return min(_FLICKER_PERIOD, max(3, num_frames // 5))


def _flicker_offsets(seed: int, start: int, stop: int, period: int
                     ) -> np.ndarray:
    """Brightness offset of frames [start, stop) (int16; 0 without flicker)."""
    offsets = np.zeros(stop - start, dtype=np.int16)
    if not period:
        return offsets
    first, last = start // period, (stop - 1) // period

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.stack([rng.integers(0, period, n).astype(np.float64),
                         rng.uniform(8.0, 20.0, n) * rng.choice([-1.0, 1.0], n)])

    where, size = _block_draws(seed, _STREAM_FLICKER, first, last + 1, draw)
    frames = np.arange(first, last + 1) * period + where.astype(np.int64)
    inside = (frames >= start) & (frames < stop)
    offsets[frames[inside] - start] = np.rint(size[inside]).astype(np.int16)
    return offsets


def _temperature(seed: int, start: int, stop: int, frame_rate: float
                 ) -> np.ndarray:
    """Chip temperature of frames [start, stop): slow drift around 23 °C."""
    rng = np.random.default_rng([seed, _STREAM_STATIC, 1])
    phase = rng.uniform(0, 2 * np.pi, size=2)
    time = np.arange(start + 1, stop + 1) / frame_rate
    drift = (0.15 * np.sin(2 * np.pi * time / 600.0 + phase[0])
             + 0.04 * np.sin(2 * np.pi * time / 45.0 + phase[1]))
    jitter = _block_draws(seed, _STREAM_TEMP, start, stop,
                          lambda g, n: g.normal(0.0, 0.004, n))
    return np.round(23.0 + drift + jitter, 3)


# ------------------------------------------------------------------ cells

def _draw_cells(rng: np.random.Generator, n: int, geom: _Geometry
                ) -> dict[str, np.ndarray]:
    """Shape, position, speed and looks of `n` cells."""
    ps = geom.pixel_size
    area_um = np.clip(rng.lognormal(math.log(50.0), 0.35, n),
                      _MIN_AREA_UM, _MAX_AREA_UM)
    deform = np.clip(rng.gamma(3.0, 0.01, n), 0.005, 0.1)
    ratio = _ratio_for_deformation(deform)
    b = np.sqrt(area_um / ps**2 / (np.pi * ratio))
    a = b * ratio
    # cells too large for the channel in the image are scaled down
    scale = np.minimum(1.0, geom.max_semi_axis / a)
    a, b = a * scale, b * scale
    angle = np.clip(rng.normal(0.0, 0.08, n), -0.25, 0.25)
    extent_x = np.hypot(a * np.cos(angle), b * np.sin(angle))
    extent_y = np.hypot(a * np.sin(angle), b * np.cos(angle))
    lowest = _WALL_MARGIN + 1 + extent_y
    y = np.clip(geom.centre_y + rng.normal(0.0, 1.0 / ps, n), lowest,
                geom.height - 1 - lowest)
    offaxis = (y - geom.centre_y) / geom.half_channel
    speed = geom.speed * np.clip(1 - offaxis**2, 0.5, 1.0)
    return {
        "a": a, "b": b, "angle": angle, "extent_x": extent_x, "y": y,
        "speed": speed, "area_um": np.pi * a * b * ps**2,
        "deform": _ellipse_deformation(a, b),
        "rim": rng.uniform(-40.0, -25.0, n),
        "rim_width": rng.uniform(1.0, 1.5, n),
        "inner": rng.uniform(-15.0, -8.0, n),
        "texture": rng.uniform(1.5, 3.0, n),
        "wave_u": 2 * np.pi / rng.uniform(4.0, 8.0, n),
        "wave_w": 2 * np.pi / rng.uniform(4.0, 8.0, n),
        "phase_u": rng.uniform(0, 2 * np.pi, n),
        "phase_w": rng.uniform(0, 2 * np.pi, n),
    }


def _entry_spacing(prev: Mapping[str, np.ndarray], nxt: Mapping[str, np.ndarray],
                   width: int) -> np.ndarray:
    """Smallest time [frames] between the entries of consecutive cells.

    Cell ``i`` is at ``x = speed * (f - t)`` in frame ``f``. The gap between
    the bounding boxes of a cell and its follower changes linearly in time,
    so it is enough to require it at the two ends of the time both are in
    the image: when the follower appears and when the leader leaves.
    """
    ev, vv = prev["extent_x"], prev["speed"]
    en, vn = nxt["extent_x"], nxt["speed"]
    follower_appears = (ev + _CELL_GAP - 1) / vv + (en + 1) / vn
    leader_leaves = (width + ev) / vv - (width - _CELL_GAP - en) / vn
    return np.maximum(follower_appears, leader_leaves)


def _visible_span(cells: Mapping[str, np.ndarray], width: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """First and last (fractional) frame in which a cell may be drawn."""
    first = cells["t"] - (cells["extent_x"] + 1) / cells["speed"]
    last = cells["t"] + (width + cells["extent_x"]) / cells["speed"]
    return first, last


class _CellStream:
    """Cells entering the channel one after another.

    Cells are drawn in batches of fixed size from one generator, so the
    sequence does not depend on the chunks in which frames are requested
    (which must come in increasing order).
    """

    def __init__(self, seed: int, geom: _Geometry, cells_per_frame: float
                 ) -> None:
        self.geom = geom
        self._rng = np.random.default_rng([seed, _STREAM_CELLS])
        self._cells: dict[str, np.ndarray] | None = None
        self._next_id = 0
        self._mean_wait = self._calibrate(seed, cells_per_frame)
        # start early enough that frame 0 sees the steady state
        slowest = 0.5 * geom.speed
        self._last_t = -(geom.width + 2 * geom.max_semi_axis + 2) / slowest
        self._last: dict[str, np.ndarray] | None = None

    def _calibrate(self, seed: int, cells_per_frame: float) -> float:
        """Mean extra wait between entries giving `cells_per_frame`."""
        if cells_per_frame == 0:
            return math.inf
        pilot = _draw_cells(np.random.default_rng([seed, _STREAM_PILOT]), 4096,
                            self.geom)
        stay = np.mean((self.geom.width + 2 * pilot["extent_x"] + 1)
                       / pilot["speed"])
        spacing = np.mean(_entry_spacing({k: v[:-1] for k, v in pilot.items()},
                                         {k: v[1:] for k, v in pilot.items()},
                                         self.geom.width))
        wait = stay / cells_per_frame - spacing
        if wait <= 0.05 * spacing:
            fit = stay / (1.05 * spacing)
            raise ValueError(f"cells_per_frame must be < {fit:.2f} for this "
                             f"image width, flow and frame rate (cells must "
                             f"not overlap), got {cells_per_frame!r}")
        return float(wait)

    def _extend(self) -> None:
        """Draw the next batch of cells."""
        new = _draw_cells(self._rng, _CELL_BATCH, self.geom)
        waits = self._rng.exponential(self._mean_wait, _CELL_BATCH)
        if self._last is None:
            spacing = np.concatenate(
                [[0.0], _entry_spacing({k: v[:-1] for k, v in new.items()},
                                       {k: v[1:] for k, v in new.items()},
                                       self.geom.width)])
        else:
            prev = {k: np.concatenate([self._last[k], v[:-1]])
                    for k, v in new.items()}
            spacing = _entry_spacing(prev, new, self.geom.width)
        new["t"] = self._last_t + np.cumsum(spacing + waits)
        self._last_t = float(new["t"][-1])
        self._last = {k: v[-1:] for k, v in new.items()}
        _, last = _visible_span(new, self.geom.width)
        keep = last >= 0  # cells gone before the first frame are dropped
        new = {k: v[keep] for k, v in new.items()}
        new["cell_id"] = self._next_id + np.arange(len(new["t"]), dtype=np.int64)
        self._next_id += len(new["t"])
        if self._cells is None:
            self._cells = new
        else:
            self._cells = {k: np.concatenate([self._cells[k], new[k]])
                           for k in new}

    def appearances(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Cells drawn in frames [start, stop), one row per cell and frame.

        Rows are sorted by frame and carry the frame index ``index`` and the
        centre ``x`` [px] in that frame.
        """
        if math.isinf(self._mean_wait):
            return _empty_appearances()
        # later cells enter after the last one drawn: none of them is seen
        while self._last_t <= stop:
            self._extend()
        cells = self._cells
        first, last = _visible_span(cells, self.geom.width)
        done = last < start
        self._cells = cells = {k: v[~done] for k, v in cells.items()}
        first, last = first[~done], last[~done]
        lo = np.maximum(np.ceil(first), start).astype(np.int64)
        hi = np.minimum(np.floor(last), stop - 1).astype(np.int64)
        count = np.maximum(hi - lo + 1, 0)
        rows = np.repeat(np.arange(len(count)), count)
        index = (np.repeat(lo, count) + np.arange(count.sum())
                 - np.repeat(np.cumsum(count) - count, count))
        app = {k: v[rows] for k, v in cells.items()}
        app["index"] = index
        app["x"] = app["speed"] * (index - app["t"])
        order = np.lexsort((app["x"], index))
        return {k: v[order] for k, v in app.items()}


def _empty_appearances() -> dict[str, np.ndarray]:
    keys = ("a", "b", "angle", "extent_x", "y", "speed", "area_um", "deform",
            "rim", "rim_width", "inner", "texture", "wave_u", "wave_w",
            "phase_u", "phase_w", "t", "x")
    app = {k: np.zeros(0) for k in keys}
    app["cell_id"] = np.zeros(0, dtype=np.int64)
    app["index"] = np.zeros(0, dtype=np.int64)
    return app


def _render_cells(app: Mapping[str, np.ndarray], geom: _Geometry, start: int
                  ) -> dict[str, Any]:
    """Gray-level changes and ground truth of the cell appearances `app`.

    Returns
    -------
    dict
        ``frame`` (frame index relative to `start` per changed pixel,
        sorted), ``pixel`` (flat index into the chunk), ``delta`` (int16
        gray-level change) and ``truth`` (dict of :data:`TRUTH_KEYS`).
    """
    parts = [_render_batch({k: v[i:i + _CELL_BATCH] for k, v in app.items()},
                           geom, start)
             for i in range(0, max(len(app["x"]), 1), _CELL_BATCH)]
    drawn: dict[str, Any] = {key: np.concatenate([p[key] for p in parts])
                             for key in ("frame", "pixel", "delta")}
    drawn["truth"] = {key: np.concatenate([p["truth"][key] for p in parts])
                      for key in TRUTH_KEYS}
    return drawn


def _render_batch(app: Mapping[str, np.ndarray], geom: _Geometry, start: int
                  ) -> dict[str, Any]:
    """:func:`_render_cells` for a few appearances (bounds the memory use).

    Every appearance is rendered on a square patch around its centre. The
    rim and the interior are bands of the approximate signed distance ``d``
    to the ellipse [px]; a band edge at distance ``e`` covers a pixel by
    ``clip(0.5 - (d - e), 0, 1)``, which anti-aliases both edges.
    """
    height, width = geom.height, geom.width
    reach = int(np.ceil(app["a"].max(initial=1.0))) + 2
    offsets = np.arange(-reach, reach + 1)
    cols = np.rint(app["x"]).astype(np.int64)[:, None] + offsets  # (n, P)
    rows = np.rint(app["y"]).astype(np.int64)[:, None] + offsets

    def per_cell(key: str) -> np.ndarray:
        return app[key].astype(np.float32)[:, None, None]

    u, w = _ellipse_frame((cols - app["x"][:, None]).astype(np.float32)[:, None, :],
                          (rows - app["y"][:, None]).astype(np.float32)[:, :, None],
                          per_cell("angle"))
    q, grad = _ellipse_q(u, w, per_cell("a"), per_cell("b"))
    dist = (q - 1) / np.maximum(grad, np.float32(1e-6))
    outer = np.clip(0.5 - dist, 0, 1)
    inner = np.clip(0.5 - dist - per_cell("rim_width"), 0, 1)
    texture = per_cell("texture") * (
        np.sin(per_cell("wave_u") * u + per_cell("phase_u"))
        * np.sin(per_cell("wave_w") * w + per_cell("phase_w")))
    rim = per_cell("rim")
    value = rim * outer + (per_cell("inner") + texture - rim) * inner
    delta = np.rint(value).astype(np.int16)

    inside = (((cols >= 0) & (cols < width))[:, None, :]
              & ((rows >= 0) & (rows < height))[:, :, None])
    footprint = (q <= 1) & inside
    edge = (((cols == 0) | (cols == width - 1))[:, None, :]
            | ((rows == 0) | (rows == height - 1))[:, :, None])
    area_px = footprint.sum(axis=(1, 2))
    touches = (footprint & edge).any(axis=(1, 2))

    frame = app["index"] - start
    which, prow, pcol = np.nonzero((delta != 0) & inside)
    pixel = ((frame[which] * height + rows[which, prow]) * width
             + cols[which, pcol])
    seen = area_px > 0
    ps = geom.pixel_size
    truth = {
        "frame": app["index"][seen] + 1,
        "index": app["index"][seen],
        "cell_id": app["cell_id"][seen],
        "pos_x": app["x"][seen] * ps,
        "pos_y": app["y"][seen] * ps,
        "area_um": app["area_um"][seen],
        "deform": app["deform"][seen],
        "area_px": area_px[seen].astype(np.int64),
        "touches_border": touches[seen],
        "major_px": app["a"][seen],
        "minor_px": app["b"][seen],
        "angle": app["angle"][seen],
    }
    return {"frame": frame[which], "pixel": pixel,
            "delta": delta[which, prow, pcol], "truth": truth}


def _compose_frames(background: np.ndarray, camera: _CameraNoise,
                    offsets: np.ndarray, drawn: Mapping[str, Any], count: int
                    ) -> np.ndarray:
    """Background + noise + flicker + cells of `count` frames (uint8)."""
    height, width = background.shape
    out = np.empty((count, height, width), dtype=np.uint8)
    bounds = np.searchsorted(drawn["frame"], np.arange(0, count + _PIXEL_BLOCK,
                                                       _PIXEL_BLOCK))
    for k, first in enumerate(range(0, count, _PIXEL_BLOCK)):
        n = min(_PIXEL_BLOCK, count - first)
        block = camera.draw(n)
        block += background
        block += offsets[first:first + n, None, None]
        lo, hi = bounds[k], bounds[k + 1]
        flat = block.reshape(-1)
        flat[drawn["pixel"][lo:hi] - first * height * width] += drawn["delta"][lo:hi]
        np.clip(block, 0, 255, out=block)
        out[first:first + n] = block
    return out


def match_truth(frame: np.ndarray, pos_x: np.ndarray, pos_y: np.ndarray,
                truth: Mapping[str, np.ndarray], tol_um: float = 2.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair detected events with the simulated cells that do not touch a border.

    Parameters
    ----------
    frame, pos_x, pos_y
        ``frame`` feature and centroid [µm] of the detected events.
    truth
        Ground truth returned by :func:`simulate_frames`.
    tol_um
        Largest centroid distance of a match [µm].

    Returns
    -------
    matched : numpy.ndarray
        For every whole (non-border) simulated cell appearance, the index of
        its event, or -1 when it was missed.
    false : numpy.ndarray
        Boolean per event: matched to no simulated cell.
    whole : numpy.ndarray
        Boolean per truth entry: the cell does not touch the border (the
        entries `matched` refers to).

    Examples
    --------
    >>> import numpy as np
    >>> truth = {"frame": np.array([1, 2]), "pos_x": np.array([10.0, 5.0]),
    ...          "pos_y": np.array([8.0, 8.0]),
    ...          "touches_border": np.array([False, False])}
    >>> m, f, _ = match_truth(np.array([2, 1, 1]), np.array([5.2, 30.0, 10.1]),
    ...                       np.array([8.0, 8.0, 8.1]), truth)
    >>> m.tolist(), f.tolist()
    ([2, 0], [False, True, False])
    """
    whole = ~np.asarray(truth["touches_border"], bool)
    t_frame = np.asarray(truth["frame"])[whole]
    t_x = np.asarray(truth["pos_x"])[whole]
    t_y = np.asarray(truth["pos_y"])[whole]
    frame, pos_x, pos_y = map(np.asarray, (frame, pos_x, pos_y))
    order = np.argsort(frame, kind="stable")
    sorted_frames = frame[order]
    matched = np.full(len(t_frame), -1)
    used = np.zeros(len(frame), bool)
    for i in range(len(t_frame)):
        lo, hi = np.searchsorted(sorted_frames, t_frame[i], side="left"), \
            np.searchsorted(sorted_frames, t_frame[i], side="right")
        cand = order[lo:hi]
        cand = cand[~used[cand]]
        if cand.size:
            dist = np.hypot(pos_x[cand] - t_x[i], pos_y[cand] - t_y[i])
            if dist.min() <= tol_um:
                best = cand[np.argmin(dist)]
                matched[i] = best
                used[best] = True
    return matched, ~used, whole
