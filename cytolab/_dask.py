"""Run independent tasks on a Dask cluster: the part every batch shares.

A batch (raw measurements to process, movies to track, ...) is a set of
independent tasks, one per input. :func:`run_tasks` hands them to a
``dask.distributed`` cluster, a local one (one single-threaded worker process
per core, started and stopped for the batch) or a running one given by its
scheduler address, shows progress as they finish and collects the failures
instead of stopping at the first one; :func:`raise_failures` turns those into
one :class:`BatchError`. The scheduler distributes the work and takes care of
workers that die; worker processes are started with ``spawn``, so libraries
that are not fork-safe (onnxruntime) are safe in them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from ._progress import progress_bar
from .errors import CytolabError

__all__ = ["BatchError", "import_distributed", "raise_failures", "run_tasks"]


class BatchError(CytolabError):
    """Some inputs of a batch could not be processed.

    Attributes
    ----------
    failures : dict
        Input -> ``"ExceptionType: message"`` of each failure.
    outputs : list
        The outputs of the inputs that succeeded.
    """

    def __init__(self, message: str, failures: Mapping[Any, str],
                 outputs: Sequence[Any]) -> None:
        super().__init__(message)
        self.failures = dict(failures)
        self.outputs = list(outputs)


def import_distributed() -> Any:
    """:mod:`distributed`, or an ImportError saying how to install it."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError('Batch processing needs Dask: pip install '
                          '"cytolab[dask]"') from None
    return distributed


def run_tasks(func: Callable[..., Any], tasks: Mapping[Hashable, Sequence[Any]], *,
              scheduler: str | None = None, n_workers: int | None = None,
              progress: bool | None = None, desc: str = "batch",
              unit: str = "tasks") -> tuple[dict[Hashable, Any], dict[Hashable, str]]:
    """Run ``func(*args)`` for every task on a Dask cluster.

    Parameters
    ----------
    func
        A module-level function (it is pickled to the workers).
    tasks
        Task key (e.g. the input path) -> positional arguments of `func`.
    scheduler
        Address of a running Dask scheduler (e.g. ``tcp://10.0.0.5:8786``);
        default: a local cluster for this call.
    n_workers
        Worker processes of the local cluster (default: number of CPUs).
    progress
        Show a progress bar (default: when on a terminal).
    desc, unit
        Label and unit of the progress bar.

    Returns
    -------
    results : dict
        Key -> return value of the tasks that succeeded.
    failures : dict
        Key -> ``"ExceptionType: message"`` of the tasks that raised.
    """
    distributed = import_distributed()
    if not tasks:
        return {}, {}
    if scheduler:
        client = distributed.Client(scheduler)
        cluster = None
    else:
        cluster = distributed.LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
            processes=True, dashboard_address=None, host="127.0.0.1")
        client = distributed.Client(cluster)
    results: dict[Hashable, Any] = {}
    failures: dict[Hashable, str] = {}
    try:
        futures = {client.submit(func, *args, pure=False): key
                   for key, args in tasks.items()}
        with progress_bar(total=len(futures), desc=desc, unit=unit,
                          show=progress) as bar:
            for fut in distributed.as_completed(futures):
                try:
                    results[futures[fut]] = fut.result()
                except Exception as exc:  # noqa: BLE001 - reported per task
                    failures[futures[fut]] = f"{type(exc).__name__}: {exc}"
                bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, failures


def raise_failures(failures: Mapping[Any, str], total: int, outputs: Sequence[Any],
                   what: str = "files") -> None:
    """Raise a :class:`BatchError` listing `failures` (if there are any).

    Parameters
    ----------
    failures
        Input -> message, from :func:`run_tasks`.
    total
        Number of inputs of the batch.
    outputs
        Outputs of the inputs that succeeded (kept in the exception).
    what
        Plural noun for the inputs in the message.
    """
    if failures:
        lines = "\n".join(f"  {key}: {msg}" for key, msg in failures.items())
        raise BatchError(f"{len(failures)} of {total} {what} failed:\n{lines}",
                         failures, outputs)
