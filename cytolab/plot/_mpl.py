"""Lazy access to matplotlib (an optional dependency of cytolab).

matplotlib is imported on the first call of :func:`import_pyplot`, never
when :mod:`cytolab` or :mod:`cytolab.plot` is imported, so cytolab works
(and imports quickly) without it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: What to tell users who do not have matplotlib.
INSTALL_HINT = 'pip install "cytolab[plot]"'


def import_pyplot() -> Any:
    """Return :mod:`matplotlib.pyplot`, importing it on first use.

    Returns
    -------
    module
        :mod:`matplotlib.pyplot`.

    Raises
    ------
    ImportError
        matplotlib is not installed; the message says how to install it.

    Examples
    --------
    >>> from cytolab.plot._mpl import import_pyplot
    >>> plt = import_pyplot()
    >>> plt.__name__
    'matplotlib.pyplot'
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"Plotting with cytolab.plot needs matplotlib, which is not "
            f"installed ({exc}); install it with: {INSTALL_HINT}") from exc
    return plt


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float]
                    ) -> tuple[Figure, Axes]:
    """The figure of `ax`, or a new figure (pyplot) with one axes."""
    plt = import_pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return root_figure(ax.figure), ax


def new_figure(fig: Any, figsize: tuple[float, float]) -> Any:
    """`fig` itself (a Figure or SubFigure), or a new pyplot figure."""
    plt = import_pyplot()
    if fig is None:
        return plt.figure(figsize=figsize, layout="constrained")
    return fig


def root_figure(fig: Any) -> Figure:
    """The top-level :class:`~matplotlib.figure.Figure` of a (sub)figure."""
    while getattr(fig, "figure", None) is not None and fig.figure is not fig:
        fig = fig.figure
    return fig


def check_index(ds: Any, index: Any) -> int:
    """`index` as a non-negative event index of `ds` (IndexError if invalid)."""
    import operator

    try:
        idx = operator.index(index)
    except TypeError:
        raise TypeError(f"The event index must be an integer, got {index!r}"
                        ) from None
    size = len(ds)
    if not -size <= idx < size:
        raise IndexError(f"Event index {index} is out of range for the dataset "
                         f"{ds} with {size} events")
    return idx + size if idx < 0 else idx
