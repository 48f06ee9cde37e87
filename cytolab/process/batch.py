"""Process many measurements on a Dask cluster.

:func:`run_batch` hands every input file to :func:`~cytolab.process.pipeline.run`
on a ``dask.distributed`` cluster: a local cluster (one single-threaded worker
process per core) by default, or an existing cluster given by its scheduler
address. Each file is processed by one worker, so the files of a batch are
processed side by side; the scheduler takes care of distributing the work
and of workers that die.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

from .._dask import BatchError, raise_failures, run_tasks
from .pipeline import OUTPUT_SUFFIX, run

__all__ = ["BatchError", "find_inputs", "run_batch"]


def find_inputs(paths: str | os.PathLike | Iterable[str | os.PathLike]
                ) -> list[pathlib.Path]:
    """Raw measurements to process: files as given, folders searched recursively.

    Outputs of earlier runs (``*_processed.rtdc``) are skipped.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[pathlib.Path] = []
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.rtdc")
                            if not p.name.endswith(OUTPUT_SUFFIX))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"Input '{path}' does not exist")
    return found


def _output_for(path: pathlib.Path, root: pathlib.Path | None,
                out_dir: pathlib.Path | None) -> pathlib.Path:
    name = path.stem + OUTPUT_SUFFIX
    if out_dir is None:
        return path.with_name(name)
    rel = path.parent.relative_to(root) if root is not None else pathlib.Path()
    return out_dir / rel / name


def _process_one(path_in: str, path_out: str, kwargs: dict[str, Any]) -> str:
    pathlib.Path(path_out).parent.mkdir(parents=True, exist_ok=True)
    return str(run(path_in, path_out, num_procs=1, progress=False, **kwargs))


def run_batch(inputs: str | os.PathLike | Sequence[str | os.PathLike],
              out_dir: str | os.PathLike | None = None, *,
              scheduler: str | None = None, n_workers: int | None = None,
              progress: bool | None = None, **kwargs: Any) -> list[pathlib.Path]:
    """Process every raw measurement of a folder (or list) on Dask.

    Parameters
    ----------
    inputs
        A folder (searched recursively for ``.rtdc`` files), a file, or a
        list of them.
    out_dir
        Folder for the outputs, mirroring the input folder structure;
        default: next to each input.
    scheduler
        Address of a running Dask scheduler (e.g. ``tcp://10.0.0.5:8786``);
        default: start a local cluster for this batch.
    n_workers
        Worker processes of the local cluster (default: number of CPUs).
    progress
        Show a progress bar (default: when on a terminal).
    **kwargs
        Options of :func:`~cytolab.process.pipeline.run` (background,
        segmenter, gate, ... and ``overwrite``).

    Returns
    -------
    list of pathlib.Path
        The outputs, in the order of the inputs.

    Raises
    ------
    BatchError
        When some files failed; the others are processed regardless. The
        exception lists the failures and the outputs written.
    """
    root = pathlib.Path(inputs) if isinstance(inputs, (str, os.PathLike)) \
        and pathlib.Path(inputs).is_dir() else None
    paths = find_inputs(inputs)
    out_root = None if out_dir is None else pathlib.Path(out_dir)
    outputs = [_output_for(p, root, out_root) for p in paths]
    tasks = {p: (str(p.resolve()), str(o.resolve()), kwargs)
             for p, o in zip(paths, outputs, strict=True)}
    _, failures = run_tasks(_process_one, tasks, scheduler=scheduler,
                            n_workers=n_workers, progress=progress, desc="batch",
                            unit="files")
    raise_failures(failures, len(paths),
                   [o for p, o in zip(paths, outputs, strict=True)
                    if p not in failures])
    return outputs
