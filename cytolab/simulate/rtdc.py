"""Synthetic RT-DC measurements: cells flowing through a channel.

Each event is an ellipse-shaped cell with a log-normal area and a
gamma-distributed deformation. Its scalar features follow from that shape
(convex and measured area, bounding box, circularity, inertia ratio,
brightness, position in the channel), so they are mutually consistent;
optional images show the cell on a textured channel background, with its
mask and the background image.

Optional fluorescence traces mimic a fluorescence-enabled measurement with
three channels sampled at 312.5 kHz: each trace is a detector baseline with
noise (and rare single-sample electronic spikes) plus the pulse of the cell
crossing the laser focus, a Gaussian whose width is half the cell's transit
time (``size_x`` over its speed in the parabolic flow profile) and whose
position follows from where the cell was when it was imaged. Pulse heights are
log-normal, with a bright and a dim (autofluorescent) population per channel
and a little spillover between channels. The ``fl*_median`` traces are a
rolling median of the raw traces, and the scalar features ``fl*_max``,
``fl*_pos``, ``fl*_width`` and ``fl*_area`` are measured on them.
"""
from __future__ import annotations

import copy
import math
import os
import pathlib
from collections.abc import Iterator

import numpy as np

from .._progress import progress_bar
from ..rtdc.writer import RTDCWriter

#: Scalar features written by :func:`simulate_rtdc` (20 of them).
SIMULATED_FEATURES = (
    "area_cvx", "area_msd", "area_um", "aspect", "bg_med", "bright_avg",
    "bright_sd", "circ", "deform", "frame", "index_online", "inert_ratio_cvx",
    "inert_ratio_raw", "nevents", "pos_x", "pos_y", "size_x", "size_y",
    "temp", "volume",
)

#: Fluorescence features written by :func:`simulate_rtdc` with ``traces=True``
#: (12 of them, measured on the ``fl*_median`` traces).
SIMULATED_TRACE_FEATURES = (
    "fl1_area", "fl1_max", "fl1_pos", "fl1_width",
    "fl2_area", "fl2_max", "fl2_pos", "fl2_width",
    "fl3_area", "fl3_max", "fl3_pos", "fl3_width",
)

#: Default metadata of a simulated measurement.
DEFAULT_METADATA = {
    "experiment": {"date": "2026-01-01", "time": "12:00:00", "run index": 1,
                   "sample": "simulated cells"},
    "imaging": {"frame rate": 2000.0, "pixel size": 0.34, "flash device": "LED",
                "flash duration": 2.0, "roi size x": 250, "roi size y": 80},
    "setup": {"channel width": 20.0, "chip region": "channel", "flow rate": 0.04,
              "flow rate sample": 0.01, "flow rate sheath": 0.03,
              "identifier": "cytolab-simulator", "medium": "0.59% MC-PBS",
              "module composition": "AcCellerator", "software version":
              "cytolab.simulate", "temperature": 23.0},
}

#: Metadata section of a measurement with fluorescence traces (three
#: channels, two of three lasers in use, as in a typical fluorescence module).
FLUORESCENCE_METADATA = {
    "bit depth": 16, "channel count": 3, "channels installed": 3,
    "channel 1 name": "525/50", "channel 2 name": "593/46",
    "channel 3 name": "700/75", "laser count": 2, "lasers installed": 3,
    "laser 1 lambda": 488.0, "laser 1 power": 8.0,
    "laser 3 lambda": 640.0, "laser 3 power": 100.0,
    "sample rate": 312500, "samples per event": 177,
    "signal max": 1.0, "signal min": -1.0, "trace median": 5,
}

# Pulse heights [a.u.] per channel: fraction of stained cells, median and
# log-sigma of the stained (bright) and of the unstained (autofluorescent)
# population.
_FL_POPULATIONS = (
    (0.3, 4000.0, 0.5, 120.0, 0.4),
    (0.5, 1500.0, 0.6, 80.0, 0.4),
    (0.2, 8000.0, 0.5, 60.0, 0.4),
)
# Spillover matrix: measured heights = true heights @ _FL_SPILLOVER
# (row i: share of the dye of channel i seen by channels 1, 2, 3).
_FL_SPILLOVER = np.array([[1.0, 0.15, 0.0],
                          [0.02, 1.0, 0.05],
                          [0.0, 0.01, 1.0]])
# Detector baseline [a.u.] per channel, read noise [a.u.], gain of the shot
# noise [a.u. per a.u. of signal], probability and size of electronic spikes.
_FL_BASELINE = (-18.0, -25.0, -14.0)
_FL_READ_NOISE = 7.0
_FL_SHOT_GAIN = 1.0
_FL_SPIKE_PROB = 0.002
_FL_SPIKE_SIZE = 80.0
# Events per block of trace simulation (bounds the memory use).
_TRACE_BLOCK = 10_000


def _ellipse_perimeter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ramanujan's second approximation of an ellipse perimeter."""
    h = ((a - b) / (a + b)) ** 2
    return np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))


def _ratio_for_deformation(deform: np.ndarray) -> np.ndarray:
    """Axis ratio a/b of the ellipse whose deformation (1 - circ) is `deform`."""
    ratios = np.linspace(1, 4, 3001)
    area = np.pi * ratios  # b = 1
    circ = 2 * np.sqrt(np.pi * area) / _ellipse_perimeter(ratios, np.ones_like(ratios))
    return np.interp(deform, 1 - circ, ratios)


def simulate_scalar_features(num_events: int, rng: np.random.Generator,
                             pixel_size: float = 0.34, frame_rate: float = 2000.0,
                             roi: tuple[int, int] = (80, 250), first_frame: int = 0,
                             first_index: int = 0) -> dict[str, np.ndarray]:
    """Scalar features of `num_events` simulated cells.

    Parameters
    ----------
    num_events
        Number of events.
    rng
        Random generator (results are reproducible for a seeded generator).
    pixel_size
        Pixel size [µm].
    frame_rate
        Camera frame rate [Hz] (sets the spacing of ``frame``).
    roi
        Image height and width [px].
    first_frame
        Frame number of the first event (for writing in chunks).
    first_index
        ``index_online`` of the event before the first one (for writing in
        chunks; the device counts events, so it grows across chunks).

    Returns
    -------
    dict
        Feature name to 1-D array, the features of :data:`SIMULATED_FEATURES`
        plus the ellipse semi-axes ``_a``, ``_b`` [px] used for images.
    """
    n = int(num_events)
    height, width = roi
    area_um = rng.lognormal(mean=math.log(60.0), sigma=0.25, size=n)
    area_um = np.clip(area_um, 15.0, (height * pixel_size * 0.8) ** 2)
    deform_target = np.clip(rng.gamma(shape=4.0, scale=0.006, size=n), 0.002, 0.2)
    # an ellipse elongated along the flow (x) with the requested deformation
    ratio = _ratio_for_deformation(deform_target)  # a/b
    area_px = area_um / pixel_size**2
    b = np.sqrt(area_px / (np.pi * ratio))
    a = b * ratio
    perimeter = _ellipse_perimeter(a, b)
    circ = 2 * np.sqrt(np.pi * area_px) / perimeter
    size_x = 2 * a * pixel_size
    size_y = 2 * b * pixel_size
    pos_x = rng.uniform(0.25, 0.75, size=n) * width * pixel_size
    pos_y = height / 2 * pixel_size + rng.normal(0, 1.0, size=n)
    frame = first_frame + np.cumsum(rng.geometric(0.2, size=n)).astype(np.int64)
    bright_avg = rng.normal(115.0, 6.0, size=n)
    features = {
        "area_cvx": area_px,
        "area_msd": area_px * (1 - np.abs(rng.normal(0, 0.005, size=n))),
        "area_um": area_um,
        "aspect": size_x / size_y,
        "bg_med": rng.normal(100.0, 0.5, size=n),
        "bright_avg": bright_avg,
        "bright_sd": np.abs(rng.normal(12.0, 2.0, size=n)),
        "circ": circ,
        "deform": 1 - circ,
        "frame": frame,
        "index_online": np.arange(n, dtype=np.int64) + 1 + first_index,
        "inert_ratio_cvx": ratio,
        "inert_ratio_raw": ratio * (1 + np.abs(rng.normal(0, 0.01, size=n))),
        "nevents": np.ones(n, dtype=np.int64),
        "pos_x": pos_x,
        "pos_y": pos_y,
        "size_x": size_x,
        "size_y": size_y,
        "temp": 23.0 + 0.05 * rng.standard_normal(n),
        "volume": 4 / 3 * np.pi * (a * pixel_size) * (b * pixel_size) ** 2,
        "_a": a,
        "_b": b,
    }
    return features


def simulate_images(features: dict[str, np.ndarray], rng: np.random.Generator,
                    roi: tuple[int, int] = (80, 250), pixel_size: float = 0.34,
                    ) -> dict[str, np.ndarray]:
    """Images, backgrounds and masks of the cells in `features`.

    The background shows the channel walls as dark bands with camera noise;
    each cell is an ellipse slightly darker than the medium with a bright
    rim (as in bright-field RT-DC images).

    Returns
    -------
    dict
        ``image``, ``image_bg`` (uint8, (N, H, W)) and ``mask`` (bool).
    """
    n = len(features["_a"])
    height, width = roi
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = 100 - 40 * (np.exp(-yy / 3) + np.exp(-(height - 1 - yy) / 3))
    background = np.broadcast_to(wall, (n, height, width)).astype(np.float32)
    background = background + rng.normal(0, 1.5, size=(n, height, width))
    cx = (features["pos_x"] / pixel_size).astype(np.float32)[:, None, None]
    cy = (features["pos_y"] / pixel_size).astype(np.float32)[:, None, None]
    a = features["_a"].astype(np.float32)[:, None, None]
    b = features["_b"].astype(np.float32)[:, None, None]
    radius = np.sqrt(((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2)
    mask = radius <= 1
    cell = np.where(mask, -15 + 6 * np.cos(radius * 9), 0)
    rim = 25 * np.exp(-((radius - 1) / 0.08) ** 2)
    image = background + cell + rim
    return {
        "image": np.clip(np.round(image), 0, 255).astype(np.uint8),
        "image_bg": np.clip(np.round(background), 0, 255).astype(np.uint8),
        "mask": mask,
    }


def rolling_median(traces: np.ndarray, window: int) -> np.ndarray:
    """Rolling median of each trace over `window` samples (odd).

    The traces are extended by repeating their first and last sample, so the
    result has the shape and data type of `traces`.

    Parameters
    ----------
    traces
        Array of shape (N, samples).
    window
        Odd window size; 1 returns a copy.

    Returns
    -------
    np.ndarray
        The filtered traces.

    Examples
    --------
    >>> rolling_median(np.array([[0, 9, 1, 2, 8, 3]]), 3)
    array([[0, 1, 2, 2, 3, 3]])
    """
    traces = np.asarray(traces)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 1, got {window}")
    if traces.ndim != 2:
        raise ValueError(f"traces must have shape (N, samples), got "
                         f"{traces.shape}")
    half = window // 2
    if half == 0 or traces.size == 0:
        return traces.copy()
    samples = traces.shape[1]
    padded = np.pad(traces, ((0, 0), (half, half)), mode="edge")
    # sort the `window` shifted copies element-wise (odd-even transposition
    # sort: `window` rounds of compare-exchange); the middle one is the median
    rows = [padded[:, i:i + samples] for i in range(window)]
    for rnd in range(window):
        for i in range(rnd % 2, window - 1, 2):
            rows[i], rows[i + 1] = (np.minimum(rows[i], rows[i + 1]),
                                    np.maximum(rows[i], rows[i + 1]))
    return np.ascontiguousarray(rows[half])


def measure_pulses(traces: np.ndarray, sample_rate: float
                   ) -> dict[str, np.ndarray]:
    """Height, position, width and area of the largest pulse of each trace.

    The baseline of a trace is its median (a pulse covers only a small part
    of the trace) and is subtracted first. The pulse is the contiguous run of
    samples at or above half of the maximum that contains the maximum; its
    area is summed over that run widened by its own length on both sides
    (for a Gaussian pulse ±3.5 standard deviations, all of its area).

    Parameters
    ----------
    traces
        Traces of one channel, shape (N, samples), usually ``fl*_median``.
    sample_rate
        Sampling rate of the traces [Hz].

    Returns
    -------
    dict
        ``max`` (pulse height above the baseline [a.u.]), ``pos`` (time of
        the maximum from the start of the trace, ``index / sample_rate``
        [µs]), ``width`` (full width at half maximum: samples in the run
        times the sampling period [µs]) and ``area`` (sum of the
        baseline-subtracted samples of the pulse [a.u.]); 1-D float arrays.
        Traces without a positive maximum have zero width and area.

    Examples
    --------
    >>> trace = np.array([[0, 1, 0, 4, 10, 6, 2, 0, 1]])
    >>> {k: v.tolist() for k, v in measure_pulses(trace, 1e6).items()}
    {'max': [9.0], 'pos': [4.0], 'width': [2.0], 'area': [16.0]}
    """
    traces = np.asarray(traces)
    if traces.ndim != 2:
        raise ValueError(f"traces must have shape (N, samples), got "
                         f"{traces.shape}")
    n, samples = traces.shape
    if n == 0 or samples == 0:
        empty = np.zeros(n, dtype=np.float64)
        return {"max": empty, "pos": empty.copy(), "width": empty.copy(),
                "area": empty.copy()}
    sig = traces.astype(np.float64) - np.median(traces, axis=1, keepdims=True)
    peak = np.argmax(sig, axis=1)
    height = sig[np.arange(n), peak]
    idx = np.arange(samples)
    below = sig < (height / 2)[:, None]
    left = np.where(below & (idx < peak[:, None]), idx, -1).max(axis=1)
    right = np.where(below & (idx > peak[:, None]), idx, samples).min(axis=1)
    positive = height > 0
    run = np.where(positive, right - left - 1, 0)
    lo = np.maximum(left + 1 - run, 0)[:, None]
    hi = np.minimum(right - 1 + run, samples - 1)[:, None]
    area = np.where((idx >= lo) & (idx <= hi), sig, 0).sum(axis=1)
    return {
        "max": height,
        "pos": peak / sample_rate * 1e6,
        "width": run / sample_rate * 1e6,
        "area": np.where(positive, area, 0.0),
    }


def simulate_traces(features: dict[str, np.ndarray], rng: np.random.Generator,
                    samples: int = 177, sample_rate: float = 312500.0,
                    median_window: int = 5, flow_speed: float = 0.1,
                    channel_width: float = 20.0, pixel_size: float = 0.34,
                    roi: tuple[int, int] = (80, 250),
                    ) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """Fluorescence traces of the cells in `features` and their features.

    Each cell crosses a laser focus placed at the centre of the image (in x)
    at speed ``v = 2 * flow_speed * (1 - (dy / (channel_width / 2))**2)``
    (parabolic flow profile; ``dy`` is its distance from the channel axis).
    Its pulse is a Gaussian with a full width at half maximum of half its
    transit time, ``0.5 * size_x / v`` (about what measured traces show:
    the stain is denser towards the cell centre; 20-40 µs for the default
    cells and flow rate), centred at ``T / 2 - (pos_x - x_laser) / v`` (the
    trace of length ``T`` is centred on the moment of imaging; a cell imaged
    downstream of the laser crossed it earlier), with a jitter (standard
    deviation) of half a sample. The pulse heights are log-normal, with a
    stained and an unstained population per channel (about 30 %, 50 % and
    20 % of the cells are stained in channels 1, 2 and 3) and some spillover
    between channels.
    The raw traces add a per-channel detector baseline, read and shot noise
    and rare single-sample spikes, and are rounded to int16 (saturating at
    its limits).

    Parameters
    ----------
    features
        Scalar features of the cells (``size_x``, ``pos_x``, ``pos_y`` are
        used), as returned by :func:`simulate_scalar_features`.
    rng
        Random generator.
    samples
        Samples per trace.
    sample_rate
        Sampling rate [Hz].
    median_window
        Window of the rolling median giving ``fl*_median`` (1: a copy of the
        raw trace).
    flow_speed
        Mean flow speed in the channel [µm/µs] (flow rate over cross-section).
    channel_width
        Channel width [µm].
    pixel_size
        Pixel size [µm].
    roi
        Image height and width [px].

    Returns
    -------
    dict
        ``trace``: dict of the traces ``fl1_raw``, ``fl1_median``, ...,
        ``fl3_median`` (int16, (N, samples)), and the features of
        :data:`SIMULATED_TRACE_FEATURES` measured on the median traces
        with :func:`measure_pulses`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> out = simulate_traces(simulate_scalar_features(4, rng), rng)
    >>> out["trace"]["fl1_raw"].shape, out["trace"]["fl1_raw"].dtype
    ((4, 177), dtype('int16'))
    >>> bool(np.all((out["fl1_width"] > 5) & (out["fl1_width"] < 60)))
    True
    """
    n = len(features["size_x"])
    height, width = roi
    period = 1e6 / sample_rate  # µs
    duration = samples * period
    dy = (features["pos_y"] - height / 2 * pixel_size) / (channel_width / 2)
    speed = 2 * flow_speed * (1 - np.clip(dy, -0.9, 0.9) ** 2)
    fwhm = np.clip(0.5 * features["size_x"] / speed, 2 * period,
                   duration / 6)
    center = (duration / 2 - (features["pos_x"] - width / 2 * pixel_size) / speed
              + rng.normal(0, period / 2, size=n))
    center = np.clip(center, 1.5 * fwhm, duration - 1.5 * fwhm)
    true_height = np.empty((n, 3))
    for ch, (frac, bright, bright_sd, dim, dim_sd) in enumerate(_FL_POPULATIONS):
        stained = rng.random(n) < frac
        true_height[:, ch] = np.where(
            stained, rng.lognormal(math.log(bright), bright_sd, size=n),
            rng.lognormal(math.log(dim), dim_sd, size=n))
    pulse_height = true_height @ _FL_SPILLOVER
    time = np.arange(samples, dtype=np.float32) * np.float32(period)
    shape = np.exp(np.float32(-4 * math.log(2)) * (
        (time - center[:, None].astype(np.float32))
        / fwhm[:, None].astype(np.float32)) ** 2)

    out: dict[str, np.ndarray | dict[str, np.ndarray]] = {}
    traces: dict[str, np.ndarray] = {}
    for ch in range(3):
        signal = pulse_height[:, ch, None].astype(np.float32) * shape
        noise_sd = np.sqrt(_FL_READ_NOISE**2 + _FL_SHOT_GAIN * signal)
        baseline = _FL_BASELINE[ch] + rng.normal(0, 2.0, size=(n, 1))
        raw = signal + baseline.astype(np.float32)
        raw += noise_sd * rng.standard_normal((n, samples), dtype=np.float32)
        num_spikes = rng.binomial(raw.size, _FL_SPIKE_PROB) if raw.size else 0
        where = rng.integers(0, max(raw.size, 1), size=num_spikes)
        raw.reshape(-1)[where] += rng.normal(0, _FL_SPIKE_SIZE, size=num_spikes)
        raw = np.clip(np.round(raw), -32768, 32767).astype(np.int16)
        median = rolling_median(raw, median_window)
        traces[f"fl{ch + 1}_raw"] = raw
        traces[f"fl{ch + 1}_median"] = median
        for key, value in measure_pulses(median, sample_rate).items():
            out[f"fl{ch + 1}_{key}"] = value
    out["trace"] = traces
    return out


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def simulate_rtdc(path: str | os.PathLike, num_events: int = 1000,
                  images: bool = False, seed: int | None = 42,
                  chunk_size: int = 100_000, progress: bool | None = None,
                  traces: bool = False) -> pathlib.Path:
    """Write a synthetic RT-DC measurement to an ``.rtdc`` file.

    Parameters
    ----------
    path
        Output file (overwritten).
    num_events
        Number of events.
    images
        Also write ``image``, ``image_bg`` and ``mask`` (80 x 250 pixels).
    seed
        Seed of the random generator (None: not reproducible).
    chunk_size
        Events simulated and written at a time (bounds the memory use;
        image chunks are 20 times smaller).
    progress
        Show a progress bar (default: only on a terminal).
    traces
        Also write fluorescence: the ``trace`` feature (``fl1_raw``,
        ``fl1_median``, ... ``fl3_median``, int16, 177 samples per event at
        312.5 kHz, see :func:`simulate_traces`), the features of
        :data:`SIMULATED_TRACE_FEATURES` and the metadata section
        ``fluorescence`` (:data:`FLUORESCENCE_METADATA`). The traces are
        drawn from a separate random generator, so all other features are
        the same as with ``traces=False``.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import cytolab, tempfile, pathlib
    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "sim.rtdc",
    ...                      num_events=50, images=True, seed=3)
    >>> with cytolab.new_dataset(path) as ds:
    ...     print(len(ds), ds["image"].shape, round(float(ds["deform"].mean()), 3))
    50 (50, 80, 250) 0.026

    With fluorescence traces:

    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "fl.rtdc",
    ...                      num_events=50, seed=3, traces=True)
    >>> with cytolab.new_dataset(path) as ds:
    ...     print(ds["trace"]["fl1_raw"].shape, round(float(ds["deform"].mean()), 3))
    ...     print(ds.config["fluorescence"]["samples per event"],
    ...           round(float(ds["fl1_width"].mean()), 1))
    (50, 177) 0.026
    177 28.3
    """
    if num_events < 0:
        raise ValueError(f"num_events must be >= 0, got {num_events}")
    rng = np.random.default_rng(seed)
    # traces come from their own stream: the other features do not change
    trace_rng = np.random.default_rng(None if seed is None else [seed, 1])
    path = pathlib.Path(path)
    roi = (DEFAULT_METADATA["imaging"]["roi size y"],
           DEFAULT_METADATA["imaging"]["roi size x"])
    pixel_size = DEFAULT_METADATA["imaging"]["pixel size"]
    metadata = DEFAULT_METADATA
    if traces:
        metadata = copy.deepcopy(DEFAULT_METADATA)
        metadata["fluorescence"] = dict(FLUORESCENCE_METADATA)
        metadata["setup"]["module composition"] = "AcCellerator,FluorescenceModule"
    setup = metadata["setup"]
    fluor = FLUORESCENCE_METADATA
    step = max(1, chunk_size // 20) if images else max(1, chunk_size)
    # a measurement without events still gets (empty) features
    chunks = list(_chunks(num_events, step)) or [(0, 0)]
    bar = progress_bar(total=num_events, unit="ev", desc="simulating",
                       show=progress)
    with RTDCWriter(path, mode="reset") as hw, bar:
        hw.store_metadata(metadata)
        first_frame = first_index = 0
        for _, count in chunks:
            feats = simulate_scalar_features(count, rng, pixel_size=pixel_size,
                                             roi=roi, first_frame=first_frame,
                                             first_index=first_index)
            if count:
                first_frame = int(feats["frame"][-1])
                first_index = int(feats["index_online"][-1])
            for name in SIMULATED_FEATURES:
                hw.store_feature(name, feats[name])
            if images:
                for name, data in simulate_images(feats, rng, roi=roi,
                                                  pixel_size=pixel_size).items():
                    hw.store_feature(name, data)
            if traces:
                for start, size in list(_chunks(count, _TRACE_BLOCK)) or [(0, 0)]:
                    block = {key: value[start:start + size]
                             for key, value in feats.items()}
                    fl = simulate_traces(
                        block, trace_rng, samples=fluor["samples per event"],
                        sample_rate=fluor["sample rate"],
                        median_window=fluor["trace median"],
                        flow_speed=setup["flow rate"] * 1e3
                        / setup["channel width"] ** 2,
                        channel_width=setup["channel width"],
                        pixel_size=pixel_size, roi=roi)
                    hw.store_feature("trace", fl["trace"])
                    for name in SIMULATED_TRACE_FEATURES:
                        hw.store_feature(name, fl[name])
            bar.update(count)
    return path
