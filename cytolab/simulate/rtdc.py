"""Synthetic RT-DC measurements: cells flowing through a channel.

Each event is an ellipse-shaped cell with a log-normal area and a
gamma-distributed deformation. Its scalar features follow from that shape
(convex and measured area, bounding box, circularity, inertia ratio,
brightness, position in the channel), so they are mutually consistent;
optional images show the cell on a textured channel background, with its
mask and the background image.
"""
from __future__ import annotations

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
                             ) -> dict[str, np.ndarray]:
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
        "index_online": np.arange(n, dtype=np.int64) + 1 + first_frame // 5,
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


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def simulate_rtdc(path: str | os.PathLike, num_events: int = 1000,
                  images: bool = False, seed: int | None = 42,
                  chunk_size: int = 100_000, progress: bool | None = None
                  ) -> pathlib.Path:
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
    """
    if num_events < 0:
        raise ValueError(f"num_events must be >= 0, got {num_events}")
    rng = np.random.default_rng(seed)
    path = pathlib.Path(path)
    roi = (DEFAULT_METADATA["imaging"]["roi size y"],
           DEFAULT_METADATA["imaging"]["roi size x"])
    pixel_size = DEFAULT_METADATA["imaging"]["pixel size"]
    step = max(1, chunk_size // 20) if images else max(1, chunk_size)
    bar = progress_bar(total=num_events, unit="ev", desc="simulating",
                       show=progress)
    with RTDCWriter(path, mode="reset") as hw, bar:
        hw.store_metadata(DEFAULT_METADATA)
        first_frame = 0
        for _, count in _chunks(num_events, step):
            feats = simulate_scalar_features(count, rng, pixel_size=pixel_size,
                                             roi=roi, first_frame=first_frame)
            first_frame = int(feats["frame"][-1])
            for name in SIMULATED_FEATURES:
                hw.store_feature(name, feats[name])
            if images:
                for name, data in simulate_images(feats, rng, roi=roi,
                                                  pixel_size=pixel_size).items():
                    hw.store_feature(name, data)
            bar.update(count)
    return path
