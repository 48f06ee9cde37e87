"""Progress bars for long work: shown on a terminal, quiet otherwise."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None,
                 desc: str | None = None, unit: str = "it",
                 show: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm progress bar following the project's conventions.

    Parameters
    ----------
    iterable
        Iterable to wrap (optional).
    total
        Expected number of steps.
    desc
        Short description shown before the bar.
    unit
        Unit of a step.
    show
        Force showing (True) or hiding (False) the bar; by default it is
        shown only when standard error is a terminal.
    **kwargs
        Passed to :class:`tqdm.tqdm`.

    Examples
    --------
    >>> with progress_bar(total=3, desc="work", show=False) as bar:
    ...     _ = bar.update(3)
    >>> bar.disable  # not shown: asked to stay quiet
    True
    """
    if show is None:
        show = sys.stderr.isatty()
    kwargs.setdefault("leave", False)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not show,
                **kwargs)
