"""Overview of a dataset: scatter plots, one event and its traces."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._mpl import check_index, import_pyplot, new_figure, root_figure
from .event import _pixel_size, draw_image_panel, draw_mask_panel
from .scatter import check_features, scatter
from .traces import trace_channels, traces

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure, SubFigure

    from ..rtdc import RTDCBase

__all__ = ["choose_event", "overview"]

#: Events whose images are checked for content when choosing one.
_CANDIDATES = 20


def overview(ds: RTDCBase, index: int | None = None, xax: str = "area_um",
             yax: str = "deform", *, fig: Figure | SubFigure | None = None,
             kde_type: str = "histogram") -> Figure:
    """One figure summarizing a dataset.

    Top row: a plain scatter plot of `xax` vs. `yax` and the same events
    coloured by density (:func:`~cytolab.plot.scatter`). Below, for one
    event (marked by a red ring in the scatter plots): its image with the
    contour and its mask on a µm scale, when the dataset has images or
    masks, and its fluorescence traces, when it has traces. Panels whose
    data are missing are left out and the layout adapts.

    Parameters
    ----------
    ds
        The dataset.
    index
        Event to show; None chooses with :func:`choose_event` the filtered
        event nearest to the median of (`xax`, `yax`).
    xax, yax
        Scalar features of the scatter plots.
    fig
        Figure (or subfigure) to draw into, preferably empty; a new
        figure when None.
    kde_type
        Density estimator of the density scatter plot.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the top-level one when `fig` is a subfigure).

    Raises
    ------
    IndexError
        `index` is out of range.
    ValueError
        `xax` or `yax` is not a scalar feature of the dataset.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import cytolab
    >>> from cytolab.simulate import simulate_rtdc
    >>> from cytolab.plot import overview
    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "m.rtdc",
    ...                      num_events=300, images=True)
    >>> with cytolab.new_dataset(path) as ds:
    ...     fig = overview(ds)
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['Scatter plot', 'Density scatter plot']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import_pyplot()  # ImportError first, when matplotlib is missing
    check_features(ds, xax, yax)
    has_images = "image" in ds or "mask" in ds
    has_traces = "trace" in ds and len(ds["trace"]) > 0 and \
        bool(trace_channels(ds))
    has_scale = has_images and _pixel_size(ds) is not None
    if index is not None:
        index = check_index(ds, index)
    elif has_images or has_traces:
        index = choose_event(ds, xax, yax)
    show_event = index is not None and (has_images or has_traces)

    if not show_event:
        figsize, ratios = (10, 4.2), None
    elif has_traces:
        figsize, ratios = (10, 8), (1, 1)
    else:  # image and mask side by side: a lower row
        figsize, ratios = (10, 6.4), (2, 1)
    fig = new_figure(fig, figsize=figsize)
    outer = fig.add_gridspec(2 if show_event else 1, 2, height_ratios=ratios)
    ax_plain = fig.add_subplot(outer[0, 0])
    ax_kde = fig.add_subplot(outer[0, 1])
    scatter(ds, xax, yax, ax=ax_plain, kde_type="none", colorbar=False,
            contours=())
    ax_plain.set_title("Scatter plot")
    scatter(ds, xax, yax, ax=ax_kde, kde_type=kde_type)
    ax_kde.set_title("Density scatter plot")

    if show_event and index is not None:
        for ax in (ax_plain, ax_kde):
            ax.plot([ds[xax][index]], [ds[yax][index]], "o", mfc="none",
                    mec="red", ms=8, mew=1.2, zorder=5, gid="chosen event",
                    label=f"event {index}")
        if has_images:
            where = outer[1, 0] if has_traces else outer[1, :]
            # image above mask next to the traces, else side by side
            if not has_scale:
                rows, cols = 1, 1
            else:
                rows, cols = (2, 1) if has_traces else (1, 2)
            inner = where.subgridspec(rows, cols)
            draw_image_panel(fig.add_subplot(inner[0, 0]), ds, index)
            if has_scale:
                draw_mask_panel(fig.add_subplot(inner[-1, -1]), ds, index)
        if has_traces:
            where = outer[1, 1] if has_images else outer[1, :]
            kind = "median" if any(k.endswith("_median") for k in ds["trace"]) \
                else "raw"
            traces(ds, index, ax=fig.add_subplot(where), kind=kind)
    title = ds.title if not show_event else f"{ds.title}, event {index}"
    fig.suptitle(title)
    return root_figure(fig)


def choose_event(ds: Any, xax: str = "area_um", yax: str = "deform") -> int:
    """Index of a typical event: the one nearest to the median of two features.

    Among the filtered events with finite `xax` and `yax` (all events
    if there are none), the distance to the median is measured in units of
    the interquartile range of each feature. When the dataset has images,
    events whose image is blank (e.g. frames missing from the recording) are
    passed over.

    Parameters
    ----------
    ds
        The dataset.
    xax, yax
        Scalar features.

    Returns
    -------
    int
        The event index.

    Examples
    --------
    >>> import cytolab
    >>> from cytolab.plot.overview import choose_event
    >>> ds = cytolab.new_dataset({"area_um": [10., 50, 20, 30, 90],
    ...                           "deform": [.01, .02, .012, .015, .1]})
    >>> choose_event(ds)
    3
    """
    if len(ds) == 0:
        raise ValueError(f"The dataset {ds} has no events")
    x = np.asarray(ds[xax], dtype=float)
    y = np.asarray(ds[yax], dtype=float)
    good = np.isfinite(x) & np.isfinite(y)
    candidates = good & np.asarray(ds.filter.all, dtype=bool)
    if not candidates.any():
        candidates = good
    if not candidates.any():
        return 0
    idx = np.flatnonzero(candidates)
    dist = np.zeros(idx.size)
    for values in (x[idx], y[idx]):
        q25, med, q75 = np.percentile(values, [25, 50, 75])
        spread = q75 - q25
        if not spread > 0:
            spread = np.std(values)
        dist += ((values - med) / (spread if spread > 0 else 1.0)) ** 2
    ranked = idx[np.argsort(dist, kind="stable")]
    if "image" in ds:
        images = ds["image"]
        for ii in ranked[:_CANDIDATES]:
            img = np.asarray(images[int(ii)])
            if img.size and img.min() != img.max():
                return int(ii)
    return int(ranked[0])
