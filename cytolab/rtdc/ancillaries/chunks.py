"""Stream the input features of a recipe through a kernel in chunks of events.

Recipes that need images, masks or contours must not load a whole file:
:func:`compute_in_chunks` reads a few thousand events at a time, hands them
to a pure kernel from :mod:`cytolab.features` and fills preallocated output
arrays, so peak memory depends on the chunk size only. While the kernel
works on one chunk, the next one is read in a background thread (HDF5
decompression releases the GIL), so reading and computing overlap.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._progress import progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase

#: Approximate number of bytes of input read per chunk.
CHUNK_BYTES = 64 * 1024**2


def chunk_size_for(ds: RTDCBase, features: Sequence[str]) -> int:
    """Events per chunk so that one chunk of `features` is about CHUNK_BYTES."""
    per_event = 8
    for feat in features:
        if feat in ("image", "image_bg", "mask"):
            shape = ds.config["imaging"]
            try:
                per_event += int(shape["roi size x"]) * int(shape["roi size y"])
            except (KeyError, TypeError, ValueError):
                per_event += 80 * 400
        elif feat == "contour":
            per_event += 1600
        else:
            per_event += 8
    return max(100, CHUNK_BYTES // per_event)


def iter_event_chunks(ds: RTDCBase, features: Sequence[str],
                      chunk_size: int | None = None, progress: str | None = None,
                      ) -> Iterator[tuple[slice, dict[str, Any]]]:
    """Yield ``(slice, {feature: data of the events in the slice})``.

    Parameters
    ----------
    ds
        The dataset.
    features
        Features to read (scalar features as arrays, images and masks as
        ``(n, H, W)`` arrays, contours as lists of ``(m, 2)`` arrays).
    chunk_size
        Events per chunk; chosen from the data size when None.
    progress
        Description of a progress bar (shown on terminals for long work).
    """
    size = chunk_size or chunk_size_for(ds, features)
    total = len(ds)
    slices = [slice(start, min(start + size, total))
              for start in range(0, total, size)]
    if progress is not None and len(slices) > 1:
        slices = progress_bar(slices, desc=progress, unit="chunk")

    def read(sl: slice) -> dict[str, Any]:
        return {feat: ds[feat][sl] for feat in features}

    # at most two chunks in memory: the one being consumed, the one being read
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cytolab-read"
                            ) as pool:
        pending = None
        for sl in slices:
            following = pool.submit(read, sl)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (sl, following)
        if pending is not None:
            yield pending[0], pending[1].result()


def compute_in_chunks(ds: RTDCBase, features: Sequence[str],
                      kernel: Callable[..., dict[str, np.ndarray]],
                      outputs: Sequence[str], chunk_size: int | None = None,
                      dtype: Any = np.float64, **kwargs: Any,
                      ) -> dict[str, np.ndarray]:
    """Run ``kernel(*chunk_data, **kwargs)`` over chunks and collect its results.

    Parameters
    ----------
    ds
        The dataset.
    features
        Input features, passed positionally to `kernel` in this order.
    kernel
        Function returning a dict of output name to per-event arrays.
    outputs
        Names of the outputs to collect (all must be returned by `kernel`).
    chunk_size
        Events per chunk; chosen from the data size when None.
    dtype
        Data type of the output arrays.
    **kwargs
        Passed to `kernel`.

    Returns
    -------
    dict
        Output name to array of ``len(ds)`` values.
    """
    out = {name: np.empty(len(ds), dtype=dtype) for name in outputs}
    desc = f"computing {', '.join(outputs)}"
    for sl, data in iter_event_chunks(ds, features, chunk_size, progress=desc):
        result = kernel(*(data[f] for f in features), **kwargs)
        for name in outputs:
            out[name][sl] = result[name]
    return out
