"""Ordered, memory-bounded maps over worker threads.

For work that releases the GIL (NumPy, zlib, OpenCV): items are taken from
the iterable in the calling thread (so h5py and other non-thread-safe
reading stays there), the function runs in the pool, and results come back
in input order with at most `depth` of them pending.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


def ordered_map(func: Callable[[Any], R], items: Iterable[Any], *,
                workers: int | None = None, depth: int | None = None
                ) -> Iterator[R]:
    """``func(item)`` for each item, computed in threads, yielded in order.

    Parameters
    ----------
    func
        Function run in the worker threads.
    items
        Iterable consumed in the calling thread.
    workers
        Number of threads (default: the number of CPUs, at most 4).
    depth
        Results pending at most (default: twice the number of workers).

    Examples
    --------
    >>> list(ordered_map(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
    """
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    depth = depth or 2 * workers
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="cytolab-worker") as pool:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
