"""Fluorescence traces of one event."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._mpl import check_index, figure_and_axes, import_pyplot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..rtdc import RTDCBase

__all__ = ["TRACE_COLORS", "traces"]

#: Colour of each fluorescence channel (green, orange, red).
TRACE_COLORS = {1: "#15BF00", 2: "#BF8A00", 3: "#BF0C00"}
#: Trace kinds understood by :func:`traces`.
KINDS = ("median", "raw", "both")

_TRACE_NAME = re.compile(r"^fl(\d+)_(raw|median)$")


def traces(ds: RTDCBase, index: int, *, ax: Axes | None = None,
           kind: str = "median", channels: Sequence[int | str] | None = None
           ) -> Figure:
    """Plot the fluorescence traces of one event.

    One colour per channel (FL1 green, FL2 orange, FL3 red), labelled with
    ``fluorescence:channel N name`` when set. The time axis is in µs
    (``fluorescence:sample rate``; sample numbers when the rate is
    unknown). When the dataset has ``flN_pos`` and ``flN_width`` (µs), the
    peak position is marked by a dashed line and the peak width by a
    shaded span ``pos ± width / 2``.

    Parameters
    ----------
    ds
        The dataset; it needs the ``trace`` feature.
    index
        Event index (negative counts from the end).
    ax
        Axes to draw into; a new figure when None.
    kind
        ``"median"`` (the ``flN_median`` traces), ``"raw"`` (``flN_raw``)
        or ``"both"`` (raw thin and light, median on top).
    channels
        Channels to show, as numbers (``1``) or names (``"fl1"``); default
        all channels with traces.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes.

    Raises
    ------
    IndexError
        `index` is out of range.
    ValueError
        The dataset has no traces (or none of `kind` for `channels`), or
        `kind` is unknown.

    Examples
    --------
    >>> import cytolab
    >>> from cytolab.plot import traces
    >>> ds = cytolab.new_dataset("example_traces.rtdc")  # doctest: +SKIP
    >>> fig = traces(ds, 0, kind="both")  # doctest: +SKIP
    >>> fig.axes[0].get_xlabel()  # doctest: +SKIP
    'Time [µs]'
    """
    import_pyplot()  # ImportError first, when matplotlib is missing
    if kind not in KINDS:
        raise ValueError(f"Unknown kind of trace {kind!r}; use one of {KINDS}")
    index = check_index(ds, index)
    available = trace_channels(ds)
    wanted = available if channels is None else [_channel_number(c)
                                                 for c in channels]
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ValueError(f"The dataset {ds} ({ds.title}) has no traces of "
                         f"channel(s) {missing}; it has {available}")
    trace = ds["trace"]
    kinds = ("raw", "median") if kind == "both" else (kind,)
    keys = [f"fl{ch}_{kd}" for ch in wanted for kd in kinds
            if f"fl{ch}_{kd}" in trace]
    if not keys:
        raise ValueError(f"The dataset {ds} ({ds.title}) has no '{kind}' "
                         f"traces of channel(s) {wanted}; it has "
                         f"{sorted(trace.keys())}")

    fig, ax = figure_and_axes(ax, figsize=(6.4, 4))
    fluor = ds.config["fluorescence"] if "fluorescence" in ds.config else {}
    rate = fluor.get("sample rate")
    to_time = rate is not None and np.isfinite(rate) and rate > 0
    for ch in wanted:
        color = TRACE_COLORS.get(ch, f"C{ch % 10}")
        name = f"FL{ch}"
        if fluor.get(f"channel {ch} name"):
            name += f" ({fluor[f'channel {ch} name']})"
        for kd in kinds:
            key = f"fl{ch}_{kd}"
            if key not in trace:
                continue
            values = np.asarray(trace[key][index], dtype=float)
            samples = np.arange(values.size)
            xvals = samples / rate * 1e6 if to_time else samples
            faint = kind == "both" and kd == "raw"
            ax.plot(xvals, values, color=color, lw=0.8 if faint else 1.3,
                    alpha=0.45 if faint else 1.0, gid=key,
                    label=f"{name} {kd}" if kind == "both" else name)
        if to_time:
            _mark_peak(ax, ds, ch, index, color)
    ax.set_xlabel("Time [µs]" if to_time else "Sample")
    ax.set_ylabel("Fluorescence [a.u.]")
    ax.set_title(f"Fluorescence traces, event {index}")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def trace_channels(ds: Any) -> list[int]:
    """Channel numbers with traces in `ds` (ValueError without traces)."""
    if "trace" not in ds or not len(ds["trace"]):
        raise ValueError(f"The dataset {ds} ({ds.title}) has no fluorescence "
                         f"traces (feature 'trace')")
    found = set()
    for key in ds["trace"]:
        match = _TRACE_NAME.match(key)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


def _channel_number(channel: int | str) -> int:
    if isinstance(channel, str):
        match = re.fullmatch(r"(?:fl)?(\d+)", channel.strip().lower())
        if match is None:
            raise ValueError(f"Unknown fluorescence channel {channel!r}; use "
                             f"e.g. 1 or 'fl1'")
        return int(match.group(1))
    return int(channel)


def _mark_peak(ax: Axes, ds: Any, channel: int, index: int, color: str) -> None:
    """Dashed line at ``flN_pos`` and a span of ``flN_width`` around it."""
    pos_feat, width_feat = f"fl{channel}_pos", f"fl{channel}_width"
    if pos_feat not in ds:
        return
    pos = float(ds[pos_feat][index])
    if not np.isfinite(pos):
        return
    ax.axvline(pos, color=color, ls="--", lw=1, gid=pos_feat)
    if width_feat in ds:
        width = float(ds[width_feat][index])
        if np.isfinite(width) and width > 0:
            ax.axvspan(pos - width / 2, pos + width / 2, color=color,
                       alpha=0.12, lw=0, gid=width_feat)
