"""Fluorescence images and bleach-correction traces."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._mpl import figure_and_axes, import_pyplot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..fluor import FLImage

__all__ = ["bleach_correction", "fluorescence_image"]


def fluorescence_image(fli: FLImage, *, ax: Axes | None = None,
                       cmap: str = "YlGnBu_r", raw: bool = False,
                       colorbar: bool = True) -> Figure:
    """Show a fluorescence image on a µm scale.

    Parameters
    ----------
    fli
        The image; its ``pixel size`` metadata [m] sets the axes in µm
        (pixels when it is not set).
    ax
        Axes to draw into (default: a new figure).
    cmap
        Colour map.
    raw
        Show the raw image instead of the background-corrected one.
    colorbar
        Add a colour bar.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from cytolab.fluor import FLImage
    >>> fli = FLImage(np.random.default_rng(0).random((20, 30)),
    ...               meta_data={"pixel size": 2e-7})
    >>> fig = fluorescence_image(fli)
    >>> fig.axes[0].get_xlabel(), [round(float(x), 6) for x in fig.axes[0].get_xlim()]
    ('x [µm]', [0.0, 6.0])
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import_pyplot()
    image = fli.raw_fl if raw else fli.fl
    height, width = image.shape
    pixel_size = fli.meta.get("pixel size")
    if pixel_size:
        scale, unit = pixel_size * 1e6, "µm"
    else:
        scale, unit = 1.0, "px"
    fig, ax = figure_and_axes(ax, figsize=(5.0, 4.0))
    shown = ax.imshow(image, cmap=cmap, origin="upper", interpolation="nearest",
                      extent=(0, width * scale, height * scale, 0))
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    title = "raw fluorescence" if raw else "fluorescence"
    if "time" in fli.meta:
        title += f" at t = {fli.meta['time']:g} s"
    ax.set_title(title)
    if colorbar:
        fig.colorbar(shown, ax=ax, label="intensity [a.u.]")
    return fig


def bleach_correction(bg: float, flint: npt.ArrayLike, decay: npt.ArrayLike,
                      times: npt.ArrayLike, *, ax: Axes | None = None) -> Figure:
    """Plot an intensity trace, its bleaching fit and the corrected trace.

    Takes the four values returned by
    :meth:`cytolab.fluor.FLSeries.bleach_correction`. The corrected trace is
    ``flint * decay[0] / decay``, what the corrected series holds.

    Parameters
    ----------
    bg
        Background value (shown in the legend).
    flint, decay, times
        Intensity trace, fitted decay and acquisition times [s].
    ax
        Axes to draw into (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(10.0)
    >>> fig = bleach_correction(5.0, 3 * np.exp(-t / 4) + 1, 3 * np.exp(-t / 4) + 1, t)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['intensity (background 5 removed)', 'fit: exponential + offset', 'corrected']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import_pyplot()
    flint = np.asarray(flint, dtype=float)
    decay = np.asarray(decay, dtype=float)
    times = np.asarray(times, dtype=float)
    if not flint.shape == decay.shape == times.shape or flint.ndim != 1:
        raise ValueError(f"flint, decay and times must be 1-D of equal length, got "
                         f"shapes {flint.shape}, {decay.shape} and {times.shape}")
    fig, ax = figure_and_axes(ax, figsize=(5.5, 3.5))
    ax.plot(times, flint, "o", ms=3, color="C0",
            label=f"intensity (background {bg:.4g} removed)")
    ax.plot(times, decay, "-", color="C1", label="fit: exponential + offset")
    ax.plot(times, flint * decay[0] / decay, "s", ms=3, color="C2",
            label="corrected")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("mean intensity [a.u.]")
    ax.legend(loc="best", fontsize="small")
    return fig
