"""Scatter plot of two features, coloured by event density."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import definitions as dfn
from ..analysis import downsampling, kde_contours, kde_methods
from ..errors import CytolabError, CytolabWarning
from ..rtdc.scatter import apply_scale
from ._mpl import figure_and_axes, import_pyplot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..rtdc import PolygonFilter, RTDCBase

__all__ = ["IsoelasticsUnavailableWarning", "percentile_label", "scatter"]

#: The ways to ask for isoelasticity lines (see :func:`scatter`).
IsoelasticsArg = bool | None | Callable[..., Sequence[Any]] | Sequence[Any]

#: LUT of the isoelasticity lines when ``calculation:emodulus lut`` is unset.
DEFAULT_LUT = "LE-2D-FEM-19"
#: Colour of the events removed by the filters.
EXCLUDED_COLOR = "#d3d3d3"
#: Colour of the isoelasticity lines.
ISOELASTICS_COLOR = "#808080"
#: Colour of the events when they are not coloured by density.
PLAIN_COLOR = "#222222"
#: Colour of polygon filter outlines.
POLYGON_COLOR = "#d62728"
#: Colour of the percentile contours.
CONTOUR_COLOR = "black"


class IsoelasticsUnavailableWarning(CytolabWarning):
    """No isoelasticity lines could be drawn for a plot (it was drawn without)."""


def scatter(ds: RTDCBase, xax: str = "area_um", yax: str = "deform", *,
            ax: Axes | None = None, kde_type: str = "histogram",
            kde_kwargs: dict[str, Any] | None = None, downsample: int = 5000,
            xscale: str = "linear", yscale: str = "linear",
            isoelastics: IsoelasticsArg = False,
            contours: Sequence[float] = (),
            polygon_filters: bool | Sequence[PolygonFilter] = True,
            show_excluded: bool = True, colorbar: bool = True,
            cmap: str = "viridis", s: float = 3) -> Figure:
    """Scatter plot of two features, coloured by the density of the events.

    The filtered events (``ds.filter.all``) are downsampled by content
    (``ds.get_downsampled_scatter``; events with NaN/inf, or not positive
    on a log axis, are left out) and coloured by the density estimate
    ``ds.get_kde_scatter`` at their positions; the densest are drawn last.
    Events removed by the filters are drawn first, in light grey.

    Parameters
    ----------
    ds
        The dataset.
    xax, yax
        Scalar features of the x and y axis.
    ax
        Axes to draw into; a new figure when None.
    kde_type
        Density estimator: ``"histogram"``, ``"gauss"``,
        ``"multivariate"`` or ``"none"`` (one colour, no colour bar).
    kde_kwargs
        Keyword arguments of the estimator.
    downsample
        Number of filtered events to draw (and of excluded events, when
        there are more); 0 draws all.
    xscale, yscale
        ``"linear"`` or ``"log"``; densities, downsampling and contours are
        computed on the scale shown.
    isoelastics
        Lines of constant Young's modulus, drawn in grey behind the
        events. False/None: none. True: the registered lines
        (``cytolab.isoelastics.get_default().get_with_rtdcbase``) of the
        LUT ``calculation:emodulus lut`` (default ``"LE-2D-FEM-19"``) for
        the channel width and flow rate of the dataset; when that is not
        possible (missing metadata, axes without lines, data files not
        available), an :class:`IsoelasticsUnavailableWarning` says why and
        the plot is drawn without lines. A callable ``f(ds, xax, yax)``
        returning a list of (N, >=2) arrays, or such a list: these lines
        (first column x, second y).
    contours
        Quantiles of the density, e.g. ``(0.5, 0.95)``: a contour line
        (labelled "50th", "95th") at the density level above which the
        fraction ``1 - q`` of the filtered events lies
        (:func:`cytolab.kde_contours.get_quantile_levels`). Quantiles
        whose level is undefined or equal to another one are skipped with
        a warning.
    polygon_filters
        True: outline the polygon filters of the dataset
        (``ds.config["filtering"]["polygon filters"]``) drawn in these
        axes (either order); a list of :class:`~cytolab.PolygonFilter`:
        outline those; False: none. Inverted filters are dashed.
    show_excluded
        Draw the events removed by the filters.
    colorbar
        Add a colour bar of the density.
    cmap
        Colour map of the density.
    s
        Marker size (points²).

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes.

    Raises
    ------
    ValueError
        An unknown scale or estimator, features that are not scalar
        features of the dataset, or isoelasticity lines of a wrong shape.

    Warns
    -----
    IsoelasticsUnavailableWarning
        ``isoelastics=True`` but no lines could be made.
    cytolab.errors.CytolabWarning
        A contour quantile was skipped.

    Examples
    --------
    >>> import numpy as np
    >>> import cytolab
    >>> from cytolab.plot import scatter
    >>> rng = np.random.default_rng(3)
    >>> ds = cytolab.new_dataset({"area_um": rng.lognormal(4, .3, 2000),
    ...                           "deform": rng.gamma(4, .005, 2000)})
    >>> fig = scatter(ds, downsample=500, contours=(0.5, 0.95))
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel(), len(ax.collections[0].get_offsets())
    ('Area [µm²]', 500)
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import_pyplot()
    for name, scale in (("xscale", xscale), ("yscale", yscale)):
        if scale not in ("linear", "log"):
            raise ValueError(f"{name} must be 'linear' or 'log', got {scale!r}")
    kde_methods.get_method(kde_type)  # ValueError for unknown estimators
    check_features(ds, xax, yax)
    fig, ax = figure_and_axes(ax, figsize=(6.4, 4.8))
    if xscale == "log":
        ax.set_xscale("log")
        _plain_log_labels(ax.xaxis)
    if yscale == "log":
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)

    if show_excluded:
        _draw_excluded(ax, ds, xax, yax, downsample, xscale, yscale, s)

    x, y = ds.get_downsampled_scatter(xax, yax, downsample=downsample,
                                      xscale=xscale, yscale=yscale,
                                      remove_invalid=True)
    if kde_type == "none":
        ax.scatter(x, y, color=PLAIN_COLOR, s=s, marker="o", lw=0, alpha=0.5,
                   zorder=2, rasterized=True, label="events", gid="events")
    else:
        density = ds.get_kde_scatter(xax, yax, positions=(x, y),
                                     kde_type=kde_type, kde_kwargs=kde_kwargs,
                                     xscale=xscale, yscale=yscale)
        order = np.argsort(density, kind="stable")
        points = ax.scatter(x[order], y[order], c=density[order], cmap=cmap,
                            s=s, marker="o", lw=0, zorder=2, rasterized=True,
                            label="events", gid="events")
        if colorbar:
            fig.colorbar(points, ax=ax, label="kernel density [a.u.]")

    lines = _isoelastic_lines(isoelastics, ds, xax, yax)
    for ii, line in enumerate(lines):
        _add_fixed_line(ax, line[:, 0], line[:, 1], color=ISOELASTICS_COLOR,
                        lw=0.8, alpha=0.8, zorder=1.5, gid="isoelastic",
                        label="isoelastics" if ii == 0 else "_isoelastic")

    if contours is not None and len(contours):
        _draw_contours(ax, ds, xax, yax, contours, kde_type, kde_kwargs,
                       xscale, yscale)

    for pf in _polygon_filters(ds, polygon_filters):
        if tuple(pf.axes) == (xax, yax):
            pts = pf.points
        elif tuple(pf.axes) == (yax, xax):
            pts = pf.points[:, ::-1]
        else:
            continue
        closed = np.vstack([pts, pts[:1]])
        _add_fixed_line(ax, closed[:, 0], closed[:, 1], color=POLYGON_COLOR,
                        lw=1.3, ls="--" if pf.inverted else "-", zorder=4,
                        gid=f"polygon filter {pf.unique_id}", label=pf.name)

    ax.set_xlabel(dfn.get_feature_label(xax))
    ax.set_ylabel(dfn.get_feature_label(yax))
    total = int(np.count_nonzero(ds.filter.all))
    shown = f"{x.size} events" if x.size == total else \
        f"{x.size} of {total} events"
    ax.set_title(f"{ds.title} ({shown})", fontsize="medium")
    return fig


def check_features(ds: Any, *features: str) -> None:
    """ValueError unless every feature is a scalar feature of `ds`."""
    for feat in features:
        if not dfn.scalar_feature_exists(feat):
            raise ValueError(f"'{feat}' is not a scalar feature; scatter plots "
                             f"need scalar features (e.g. 'area_um', 'deform')")
        if feat not in ds:
            raise ValueError(f"The dataset {ds} ({ds.title}) has no feature "
                             f"'{feat}' to plot")


def percentile_label(q: float) -> str:
    """Label of the contour of quantile `q` ("50th", "1st", "99.5th").

    Examples
    --------
    >>> [percentile_label(q) for q in (0.5, 0.95, 0.01, 0.22, 0.995)]
    ['50th', '95th', '1st', '22nd', '99.5th']
    """
    pct = round(100 * float(q), 6)
    if pct != int(pct):
        return f"{pct:g}th"
    pct = int(pct)
    if pct % 100 in (11, 12, 13):
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(pct % 10, "th")
    return f"{pct}{suffix}"


def _plain_log_labels(axis: Any) -> None:
    """Plain numbers as tick labels of a log axis (0.02, 30, 100)."""
    from matplotlib.ticker import FuncFormatter, LogFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                          minor_thresholds=(1.5, 0.5)))


def _draw_excluded(ax: Axes, ds: Any, xax: str, yax: str, downsample: int,
                   xscale: str, yscale: str, s: float) -> None:
    """The events removed by the filters, light grey, behind everything."""
    removed = ~np.asarray(ds.filter.all, dtype=bool)
    if not removed.any():
        return
    x = np.asarray(ds[xax], dtype=float)[removed]
    y = np.asarray(ds[yax], dtype=float)[removed]
    xs, ys = apply_scale(x, xscale), apply_scale(y, yscale)
    if downsample and x.size > downsample:
        _, _, keep = downsampling.downsample_grid(xs, ys, int(downsample),
                                                  remove_invalid=True,
                                                  ret_idx=True)
    else:
        keep = downsampling.valid(xs, ys)
    ax.scatter(x[keep], y[keep], color=EXCLUDED_COLOR, s=s, marker="o", lw=0,
               zorder=1, rasterized=True, label="excluded", gid="excluded")


def _add_fixed_line(ax: Axes, x: np.ndarray, y: np.ndarray, **kwargs: Any
                    ) -> None:
    """A line that does not take part in autoscaling (the data set the view)."""
    from matplotlib.lines import Line2D

    ax.add_artist(Line2D(np.asarray(x), np.asarray(y), **kwargs))


def _isoelastic_lines(isoelastics: IsoelasticsArg, ds: Any, xax: str, yax: str
                      ) -> list[np.ndarray]:
    if isoelastics is None or isoelastics is False:
        return []
    if isoelastics is True:
        raw = _default_isoelastics(ds, xax, yax)
    elif callable(isoelastics):
        raw = isoelastics(ds, xax, yax)
    else:
        raw = isoelastics
    lines = []
    for ii, line in enumerate(raw or []):
        arr = np.asarray(line, dtype=float)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ValueError(f"Isoelastic line {ii} must be an (N, >=2) array, "
                             f"got shape {arr.shape}")
        lines.append(arr)
    return lines


def _default_isoelastics(ds: Any, xax: str, yax: str) -> list[np.ndarray]:
    """Registered lines for the dataset, or none (with a warning)."""
    from ..analysis import isoelastics as iso_mod

    lut = ds.config["calculation"].get("emodulus lut") or DEFAULT_LUT
    try:
        # the moduli are not shown, so they need no viscosity scaling
        return iso_mod.get_default().get_with_rtdcbase(
            col1=xax, col2=yax, dataset=ds, lut_identifier=lut,
            viscosity=False)
    except (KeyError, ValueError, TypeError, OSError, CytolabError) as exc:
        reason = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args \
            else str(exc)
        warnings.warn(f"No isoelasticity lines for '{xax}' vs. '{yax}' of "
                      f"{ds} (LUT {lut}): {reason}",
                      IsoelasticsUnavailableWarning, stacklevel=4)
        return []


def _draw_contours(ax: Axes, ds: Any, xax: str, yax: str,
                   quantiles: Sequence[float], kde_type: str,
                   kde_kwargs: dict[str, Any] | None, xscale: str,
                   yscale: str) -> None:
    """Percentile contours of the density of the filtered events."""
    xp, yp = ds.get_downsampled_scatter(xax, yax, downsample=0,
                                        xscale=xscale, yscale=yscale,
                                        remove_invalid=True)
    if xp.size == 0:
        warnings.warn(f"No contours for {ds}: no valid filtered events of "
                      f"'{xax}' and '{yax}'", CytolabWarning, stacklevel=3)
        return
    X, Y, Z = ds.get_kde_contour(xax, yax, kde_type=kde_type,
                                 kde_kwargs=kde_kwargs, xscale=xscale,
                                 yscale=yscale)
    # levels on the scaled grid, where the density was estimated
    levels = np.atleast_1d(kde_contours.get_quantile_levels(
        Z, apply_scale(X, xscale), apply_scale(Y, yscale), apply_scale(xp, xscale),
        apply_scale(yp, yscale), q=np.asarray(quantiles, dtype=float),
        normalize=False))
    zmax = float(np.nanmax(Z)) if np.isfinite(Z).any() else np.nan
    labels: dict[float, str] = {}
    for q, level in zip(quantiles, levels):
        if not (np.isfinite(level) and 0 < level < zmax):
            reason = "undefined" if not np.isfinite(level) else \
                "outside the density range"
            warnings.warn(f"Contour of the {percentile_label(q)} percentile "
                          f"of {ds} skipped: its level is {reason}",
                          CytolabWarning, stacklevel=3)
            continue
        if float(level) in labels:
            warnings.warn(f"Contour of the {percentile_label(q)} percentile "
                          f"of {ds} skipped: same level as the "
                          f"{labels[float(level)]} percentile",
                          CytolabWarning, stacklevel=3)
            continue
        labels[float(level)] = percentile_label(q)
    if not labels:
        return
    ordered = sorted(labels)
    cs = ax.contour(X, Y, Z, levels=ordered, colors=CONTOUR_COLOR,
                    linewidths=1.0, zorder=3)
    cs.set_gid("contours")
    texts = ax.clabel(cs, fmt={lev: labels[lev] for lev in ordered},
                      fontsize="x-small", inline=True)
    box = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
           "alpha": 0.75}
    for text in texts:
        text.set_gid("contour label")
        text.set_bbox(box)
    # clabel leaves out lines too short for their label: put it next to them
    placed = {text.get_text() for text in texts}
    for level, segments in zip(cs.levels, cs.allsegs):
        label = labels.get(float(level))
        segments = [seg for seg in segments if len(seg)]
        if label is None or label in placed or not segments:
            continue
        longest = max(segments, key=len)
        x, y = longest[np.argmax(longest[:, 1])]  # the top of the line
        ax.text(x, y, label, fontsize="x-small", ha="center", va="bottom",
                color=CONTOUR_COLOR, zorder=5, gid="contour label",
                clip_on=True, bbox=box)


def _polygon_filters(ds: Any, polygon_filters: bool | Sequence[Any]
                     ) -> list[Any]:
    from ..rtdc.polygon_filter import PolygonFilter

    if polygon_filters is True:
        ids = ds.config["filtering"].get("polygon filters", []) or []
        return [PolygonFilter.get_instance_from_id(int(pid)) for pid in ids
                if PolygonFilter.unique_id_exists(int(pid))]
    if not polygon_filters:
        return []
    filters = []
    for pf in polygon_filters:
        if isinstance(pf, PolygonFilter):
            filters.append(pf)
        else:
            filters.append(PolygonFilter.get_instance_from_id(int(pf)))
    return filters
