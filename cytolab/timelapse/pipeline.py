"""The time-lapse pipeline: movies in, lineages and result files out.

:class:`Pipeline` runs every position of an experiment (read by an
:class:`~.xpreader.XPReader`) through the same steps:

1. read the frames of the position (all channels; channel 0 is segmented);
2. :meth:`Position.preprocess <.position.Position.preprocess>`: straighten
   the frames, find the chambers, correct the drift;
3. :meth:`~.position.Position.segment` and :meth:`~.position.Position.track`
   with the ``seg`` and ``track`` networks;
4. :meth:`~.position.Position.compute_growthrates`;
5. save (``Position000000.nc``, ``Position000000.mp4``, ... in the results
   folder) and free the memory.

Positions are independent: with ``n_procs > 1`` they run side by side in
worker processes (started with ``spawn``: onnxruntime sessions must not be
forked), each worker loading the networks once. A position that fails does
not stop the others; the failures are reported together at the end
(:class:`PipelineError`).

:func:`run_batch` runs whole movies on a Dask cluster (a local one by
default), one movie per task, like :func:`cytolab.process.run_batch` does
for raw RT-DC measurements.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import pathlib
import pickle
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import _progress
from .._dask import BatchError, raise_failures, run_tasks
from ..errors import PipelineWarning
from .config import Config, check_presets
from .export import export_rtdc
from .position import SAVE_FORMATS, Position
from .predict import resolve_model
from .runtime import OnnxModel
from .xpreader import XPReader

__all__ = ["OUTPUT_FORMATS", "Pipeline", "PipelineError", "PositionResult",
           "run_batch"]

#: Formats :meth:`Pipeline.process` can save: those of
#: :meth:`Position.save <.position.Position.save>` and ``"rtdc"`` (the cells
#: as events of an ``.rtdc`` file, see :func:`.export.export_rtdc`)
OUTPUT_FORMATS = (*SAVE_FORMATS, "rtdc")


class PipelineError(BatchError):
    """Some positions could not be processed.

    Attributes
    ----------
    failures : dict
        Position number -> ``"ExceptionType: message"``.
    outputs : list of PositionResult
        The positions that were processed.
    errors : dict
        Position number -> the exception raised.
    """

    def __init__(self, message: str, failures: Mapping[int, str],
                 outputs: Sequence[PositionResult],
                 errors: Mapping[int, BaseException]) -> None:
        super().__init__(message, failures, outputs)
        self.errors = dict(errors)


@dataclasses.dataclass
class PositionResult:
    """Summary of one processed position.

    Attributes
    ----------
    position_nb
        Number of the position.
    frames
        Frames processed.
    rois
        Number of regions of interest (chambers).
    cells
        Number of cells tracked (over all regions).
    divisions
        Number of divisions seen.
    files
        Files written.
    """

    position_nb: int
    frames: range
    rois: int
    cells: int
    divisions: int
    files: list[pathlib.Path]

    @classmethod
    def of(cls, position: Position, frames: range, files: list[pathlib.Path]
           ) -> PositionResult:
        """Summary of a processed (not yet cleared) position."""
        cells = [cell for roi in position.rois for cell in roi.lineage.cells.values()]
        return cls(position.position_nb, frames, len(position.rois), len(cells),
                   sum(len(cell.divisions()) for cell in cells), files)


def _frame_range(frames: int | range | slice | Sequence[int] | None, count: int
                 ) -> range:
    """Frames to process out of `count`: an int N is the first N frames."""
    if frames is None:
        return range(count)
    if isinstance(frames, int):
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        return range(min(frames, count))
    if isinstance(frames, slice):
        frames = range(count)[frames]
    numbers = list(frames)
    if not numbers or numbers != list(range(numbers[0], numbers[-1] + 1)):
        raise ValueError(f"frames must be consecutive and increasing, got "
                         f"{frames!r}")
    if numbers[0] < 0 or numbers[-1] >= count:
        raise ValueError(f"frames {numbers[0]} to {numbers[-1]} are outside the "
                         f"movie's {count} frames")
    return range(numbers[0], numbers[-1] + 1)


def _check_formats(save_as: str | Iterable[str]) -> list[str]:
    formats = [save_as] if isinstance(save_as, str) else list(save_as)
    unknown = [f for f in formats if f not in OUTPUT_FORMATS]
    if unknown:
        raise ValueError(f"Unknown output formats {unknown}; valid: "
                         f"{list(OUTPUT_FORMATS)}")
    return formats


def load_models(config: Config, models: Mapping[str, Any]) -> dict[str, Any]:
    """Every network of `config`, loaded (`models` by name replace those of
    the configuration)."""
    return {name: resolve_model(config, name, models.get(name))
            for name in config.models}


def process_position(reader: XPReader, config: Config, models: Mapping[str, Any],
                     position_nb: int, frames: range, resfolder: pathlib.Path,
                     save_as: Sequence[str], *, clear: bool = True,
                     progress_bar: bool = False) -> tuple[PositionResult, Position]:
    """Run one position through all steps of the pipeline and save it.

    Returns the summary and the position (its regions freed if `clear`).
    """
    position = Position(position_nb, config)
    position.models = dict(models)
    position.preprocess(reader.images(position_nb, frames=frames), frames)
    position.segment(frames, progress_bar=progress_bar)
    position.track(frames, progress_bar=progress_bar)
    position.compute_growthrates(frames)
    resfolder.mkdir(parents=True, exist_ok=True)
    base = resfolder / f"Position{position_nb:06d}"
    own_formats = [f for f in save_as if f != "rtdc"]
    files = position.save(base, frames=frames, reader=reader, save_as=own_formats,
                          progress_bar=progress_bar) if own_formats else []
    result = PositionResult.of(position, frames, files)
    if "rtdc" in save_as:
        if result.cells:
            files.append(export_rtdc(position, base.with_name(base.name + ".rtdc")))
        else:
            warnings.warn(f"Position {position_nb} has no cells: no .rtdc file "
                          f"written", PipelineWarning, stacklevel=2)
    if clear:
        position.clear()
    return result, position


def _worker(reader: XPReader, config: Config, models: Mapping[str, Any],
            position_nb: int, frames: range, resfolder: pathlib.Path,
            save_as: Sequence[str], clear: bool) -> tuple[PositionResult, Position]:
    """One position in a worker process (ONNX files are loaded once per
    process: :func:`.runtime.load_model` keeps their sessions)."""
    loaded = load_models(config, models)
    result, position = process_position(reader, config, loaded, position_nb, frames,
                                        resfolder, save_as, clear=clear)
    position.models = {}  # sessions stay in the worker
    return result, position


def _sharing_cores(config: Config, workers: int) -> Config:
    """A copy of `config` whose networks share the CPU cores between
    `workers` processes (unless their number of cores is configured)."""
    config = Config.deserialize(config.serialize())
    backend = config.backends.get("onnx")
    if backend is not None and backend.number_of_cores is None:
        backend.number_of_cores = max(1, (os.cpu_count() or 1) // workers)
    return config


class Pipeline:
    """Process the positions of an experiment.

    Parameters
    ----------
    xpreader
        The experiment: an :class:`~.xpreader.XPReader` or a path it opens
        (a folder of images or a multi-page TIFF file).
    config
        Processing configuration; default: that of `presets`.
    resfolder
        Folder for the results (default: the experiment's folder).
    presets
        ``"mothermachine"`` or ``"2D"``, when no `config` is given.
    models
        Networks to use instead of those of the configuration, by name
        (``"rois"``, ``"seg"``, ``"track"``): ONNX file paths, PyTorch
        modules or objects with ``predict(x, batch_size)``. With
        ``n_procs > 1`` they must be picklable (paths are).

    Attributes
    ----------
    positions : dict
        Position number -> :class:`~.position.Position` processed by the
        last :meth:`process` (regions freed when it cleared them).

    Examples
    --------
    >>> from cytolab.timelapse.pipeline import Pipeline
    >>> pipe = Pipeline("movie_folder", presets="mothermachine")  # doctest: +SKIP
    >>> results = pipe.process(frames=range(20))                  # doctest: +SKIP
    """

    def __init__(self, xpreader: XPReader | str | os.PathLike,
                 config: Config | None = None,
                 resfolder: str | os.PathLike | None = None, *,
                 presets: str | None = None,
                 models: Mapping[str, Any] | None = None) -> None:
        if config is None:
            if presets is None:
                raise ValueError("Pipeline needs a configuration: pass config=... or "
                                 "presets='mothermachine' or '2D'")
            config = Config.default(check_presets(presets))
        self.reader = xpreader if isinstance(xpreader, XPReader) else XPReader(xpreader)
        self.config = config
        path = self.reader.path
        self.resfolder = pathlib.Path(resfolder) if resfolder is not None else (
            path if path.is_dir() else path.parent)
        self.models: dict[str, Any] = dict(models or {})
        self.positions: dict[int, Position] = {}

    def __repr__(self) -> str:
        return f"<Pipeline {self.reader!r} -> '{self.resfolder}'>"

    def process(self, *, positions: Sequence[int] | None = None,
                frames: int | range | slice | None = None,
                save_as: str | Sequence[str] = ("netCDF", "movie"),
                clear: bool = True, progress_bar: bool = False,
                n_procs: int = 1) -> list[PositionResult]:
        """Run the pipeline.

        Parameters
        ----------
        positions
            Position numbers to process (default: all).
        frames
            Frames to process: a number N (the first N), a range or slice of
            consecutive frames (default: all).
        save_as
            Any of ``"netCDF"``, ``"movie"``, ``"labeled-movie"`` (see
            :meth:`Position.save <.position.Position.save>`) and ``"rtdc"``
            (:func:`.export.export_rtdc`), written as
            ``Position<nb:06d>.<suffix>`` in :attr:`resfolder`.
        clear
            Free the regions of each position once it is saved (they can be
            read back from the netCDF file).
        progress_bar
            Show progress.
        n_procs
            Positions processed side by side in worker processes.

        Returns
        -------
        list of PositionResult
            One summary per position, in the order of `positions`.

        Raises
        ------
        PipelineError
            Some positions failed (the others are processed and saved);
            it holds their results and the errors.
        """
        formats = _check_formats(save_as)
        numbers = list(range(self.reader.positions) if positions is None
                       else positions)
        for number in numbers:
            if not 0 <= number < self.reader.positions:
                raise ValueError(f"Position {number} is not in the experiment "
                                 f"'{self.reader.path}' ({self.reader.positions} "
                                 f"positions)")
        span = _frame_range(frames, self.reader.frames)
        if int(n_procs) < 1:
            raise ValueError(f"n_procs must be at least 1, got {n_procs}")
        self.positions = {}
        if int(n_procs) == 1 or len(numbers) == 1:
            done, errors = self._run_here(numbers, span, formats, clear, progress_bar)
        else:
            done, errors = self._run_pool(numbers, span, formats, clear,
                                          progress_bar, int(n_procs))
        results = [done[n] for n in numbers if n in done]
        if errors:
            failures = {n: f"{type(e).__name__}: {e}" for n, e in errors.items()}
            lines = "\n".join(f"  position {n}: {msg}" for n, msg in failures.items())
            raise PipelineError(f"{len(errors)} of {len(numbers)} positions of "
                                f"'{self.reader.path}' failed:\n{lines}",
                                failures, results, errors)
        return results

    def _run_here(self, numbers: list[int], frames: range, formats: list[str],
                  clear: bool, progress_bar: bool
                  ) -> tuple[dict[int, PositionResult], dict[int, BaseException]]:
        models = load_models(self.config, self.models)
        done: dict[int, PositionResult] = {}
        errors: dict[int, BaseException] = {}
        show = bool(progress_bar) and len(numbers) > 1
        for number in _progress.progress_bar(numbers, desc="positions",
                                             unit="positions", show=show):
            try:
                done[number], self.positions[number] = process_position(
                    self.reader, self.config, models, number, frames, self.resfolder,
                    formats, clear=clear, progress_bar=progress_bar)
            except Exception as exc:  # noqa: BLE001 - reported with the others
                errors[number] = exc
        return done, errors

    def _run_pool(self, numbers: list[int], frames: range, formats: list[str],
                  clear: bool, progress_bar: bool, n_procs: int
                  ) -> tuple[dict[int, PositionResult], dict[int, BaseException]]:
        # missing model files are reported once, before any worker starts
        models = {name: self.models.get(name) or self.config.models[name].model()
                  for name in self.config.models}
        for name, model in models.items():
            if isinstance(model, OnnxModel):  # its session cannot be pickled
                models[name] = model.path
        try:
            pickle.dumps(models)
        except Exception as exc:  # noqa: BLE001 - any pickling failure
            raise ValueError(f"With n_procs > 1 the models go to worker processes "
                             f"and must be picklable (ONNX file paths are): "
                             f"{exc}") from exc
        config = _sharing_cores(self.config, n_procs)
        done: dict[int, PositionResult] = {}
        errors: dict[int, BaseException] = {}
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=min(n_procs, len(numbers)), mp_context=context) as pool, \
                _progress.progress_bar(total=len(numbers), desc="positions",
                                       unit="positions", show=progress_bar) as bar:
            futures = {pool.submit(_worker, self.reader, config, models, number,
                                   frames, self.resfolder, formats, clear): number
                       for number in numbers}
            for future in concurrent.futures.as_completed(futures):
                number = futures[future]
                try:
                    done[number], self.positions[number] = future.result()
                except Exception as exc:  # noqa: BLE001 - reported with the others
                    errors[number] = exc
                bar.update(1)
        return done, errors


# ------------------------------------------------------------------ batches
def movie_name(movie: pathlib.Path) -> str:
    """Name of a movie's results subfolder: the folder's or file's stem."""
    return movie.name if movie.is_dir() else movie.stem


def _track_movie(movie: str, resfolder: str | None, config: Config,
                 models: Mapping[str, Any], kwargs: Mapping[str, Any]
                 ) -> list[PositionResult]:
    """One movie of a batch (runs in a Dask worker)."""
    pipeline = Pipeline(movie, config, resfolder, models=models)
    return pipeline.process(**kwargs)


def run_batch(movies: str | os.PathLike | Sequence[str | os.PathLike],
              out_dir: str | os.PathLike | None = None, *,
              presets: str | None = None, config: Config | None = None,
              scheduler: str | None = None, n_workers: int | None = None,
              progress: bool | None = None, models: Mapping[str, Any] | None = None,
              **kwargs: Any) -> dict[pathlib.Path, list[PositionResult]]:
    """Track the cells of many movies on a Dask cluster, one movie per task.

    Parameters
    ----------
    movies
        A movie (folder of images or multi-page TIFF) or several.
    out_dir
        Folder for the results: those of each movie go to a subfolder named
        after the movie; default: each movie's own folder.
    presets
        ``"mothermachine"`` or ``"2D"``, when no `config` is given.
    config
        Processing configuration.
    scheduler
        Address of a running Dask scheduler; default: a local cluster.
    n_workers
        Worker processes of the local cluster (default: number of CPUs).
    progress
        Show a progress bar over the movies (default: on a terminal).
    models
        Networks to use instead of the configuration's (picklable; see
        :class:`Pipeline`).
    **kwargs
        Options of :meth:`Pipeline.process` (``frames``, ``positions``,
        ``save_as``); each movie's positions run one after the other.

    Returns
    -------
    dict
        Movie path -> summaries of its positions, in the order of `movies`.

    Raises
    ------
    BatchError
        Some movies failed; the others are processed regardless. It lists
        the failures; its ``outputs`` are the files of the movies that
        succeeded.
    """
    if config is None:
        if presets is None:
            raise ValueError("run_batch needs presets= or config=")
        config = Config.default(check_presets(presets))
    if isinstance(movies, (str, os.PathLike)):
        movies = [movies]
    paths = [pathlib.Path(m) for m in movies]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"Movie '{path}' does not exist")
    names = [movie_name(p) for p in paths]
    twins = sorted({n for n in names if names.count(n) > 1})
    if out_dir is not None and twins:
        raise ValueError(f"Movies with the same name would write into the same "
                         f"results folder: {twins}")
    kwargs = {"clear": True, **kwargs, "n_procs": 1, "progress_bar": False}
    if not scheduler:  # a local cluster: its workers share this machine's cores
        config = _sharing_cores(config, n_workers or os.cpu_count() or 1)
    tasks = {path: (str(path.resolve()),
                    None if out_dir is None else str(pathlib.Path(out_dir) / name),
                    config, dict(models or {}), kwargs)
             for path, name in zip(paths, names, strict=True)}
    results, failures = run_tasks(_track_movie, tasks, scheduler=scheduler,
                                  n_workers=n_workers, progress=progress,
                                  desc="movies", unit="movies")
    raise_failures(failures, len(paths),
                   [f for p in paths if p in results for r in results[p]
                    for f in r.files], what="movies")
    return {p: results[p] for p in paths}
