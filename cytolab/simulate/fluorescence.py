"""Fluorescence image series of a bleaching cell, with known parameters.

:func:`simulate_fluorescence_series` draws what a widefield camera records
of one labelled cell over time: a constant camera offset and a weak,
smooth background, plus the cell (an elliptical body with a brighter,
textured interior) whose brightness decays as ``amplitude * exp(-t / tau)
+ offset`` through photobleaching, plus Gaussian camera noise. The truth
(decay constant, amplitude, offset, background level, noise-free images)
comes with it, to check bleach correction and denoising.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class FluorescenceSeriesTruth:
    """A simulated series and the parameters it was made with.

    Attributes
    ----------
    images
        Noisy images (n, height, width), float32.
    clean
        The same without noise, float32.
    times
        Acquisition times [s].
    cell
        The cell's brightness pattern at unit intensity (height, width).
    background
        Mean background level (camera offset plus background light).
    tau, amplitude, offset
        Bleaching model of the cell's mean intensity per unit of `cell`:
        ``amplitude * exp(-t / tau) + offset``.
    noise
        Standard deviation of the camera noise.
    pixel_size
        Pixel size [m].
    """

    images: np.ndarray
    clean: np.ndarray
    times: np.ndarray
    cell: np.ndarray
    background: float
    tau: float
    amplitude: float
    offset: float
    noise: float
    pixel_size: float

    def intensity(self, times: np.ndarray | None = None) -> np.ndarray:
        """The bleaching model at `times` (default: the acquisition times)."""
        t = self.times if times is None else np.asarray(times, dtype=float)
        return self.amplitude * np.exp(-(t - self.times[0]) / self.tau) + self.offset


def simulate_fluorescence_series(num_images: int = 50,
                                 shape: tuple[int, int] = (256, 256), *,
                                 interval: float = 2.0, tau: float = 40.0,
                                 amplitude: float = 600.0, offset: float = 150.0,
                                 background: float = 100.0, noise: float = 10.0,
                                 pixel_size: float = 1e-7, seed: int = 0
                                 ) -> FluorescenceSeriesTruth:
    """Simulate a fluorescence time series of one bleaching cell.

    Parameters
    ----------
    num_images
        Number of images.
    shape
        Image shape (height, width); the cell covers the central ~40 % and
        stays clear of a 20 % border.
    interval
        Time between images [s].
    tau, amplitude, offset
        Bleaching: the cell's brightness is ``amplitude * exp(-t / tau) +
        offset`` (t from the first image).
    background
        Camera offset plus background light.
    noise
        Standard deviation of the Gaussian camera noise.
    pixel_size
        Pixel size [m] (metadata only).
    seed
        Random seed.

    Returns
    -------
    FluorescenceSeriesTruth

    Examples
    --------
    >>> truth = simulate_fluorescence_series(5, (64, 64), noise=0)
    >>> truth.images.shape, truth.intensity()[0]
    ((5, 64, 64), np.float64(750.0))
    """
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    height, width = shape
    if min(shape) < 16:
        raise ValueError(f"Images must be at least 16x16 pixels, got {shape}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    ry, rx = 0.3 * height, 0.22 * width
    radius = np.hypot((yy - cy) / ry, (xx - cx) / rx)
    body = np.clip((1.0 - radius) * 6.0, 0.0, 1.0)  # soft edge, ~1/6 of the radius
    texture = 1.0 + 0.15 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    cell = body * texture
    cell /= cell.max()
    glow = 0.05 * background * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2)
                                      / (2 * (0.8 * max(shape)) ** 2))
    times = np.arange(num_images) * float(interval)
    brightness = amplitude * np.exp(-times / tau) + offset
    clean = background + glow[None] + brightness[:, None, None] * cell[None]
    images = clean + rng.normal(0.0, noise, clean.shape) if noise else clean.copy()
    return FluorescenceSeriesTruth(
        images=images.astype(np.float32), clean=clean.astype(np.float32),
        times=times, cell=cell, background=float(background + glow.mean()),
        tau=float(tau), amplitude=float(amplitude), offset=float(offset),
        noise=float(noise), pixel_size=float(pixel_size))
