"""FLSeries: many fluorescence images in one HDF5 file, with corrections."""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from .._progress import progress_bar
from .._threads import ordered_map
from ..errors import CytolabWarning, FileFormatError
from ..io.deflate import ChunkWriter
from ..io.files import atomic_path
from .bleach import border_mask, fit_bleaching
from .core import FLImage
from .denoise import denoise_image
from .meta import check_meta
from .storage import (
    H5File,
    describe,
    in_memory,
    is_writable,
    open_group,
    require_writable,
)

#: Images of a series kept in memory between the two passes of the bleach
#: correction, at most (bytes); larger series are read twice.
CACHE_BYTES = 512 * 2**20

_MEMBER = re.compile(r"^fli_(0|[1-9][0-9]*)$")


class MissingTimeWarning(CytolabWarning):
    """Images of a series have no acquisition time; indices are used."""


class Counter:
    """Progress: optional shared counters (``.value``) plus a progress bar."""

    def __init__(self, count: Any, max_count: Any, total: int, desc: str) -> None:
        self.count = count
        if max_count is not None:
            max_count.value += total
        self.bar = progress_bar(total=total, desc=desc, unit="image")

    def step(self) -> None:
        if self.count is not None:
            self.count.value += 1
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class FLSeries:
    """A series of fluorescence images (e.g. over time) in one HDF5 file.

    Parameters
    ----------
    flimage_list
        FLImages to add, in this order.
    meta_data
        Metadata (keys of ``META_KEYS_FL``) that override those of the
        images in `flimage_list` and, unless `h5mode` is ``"r"``, those of
        the images already in `h5file`.
    h5file
        None (in memory), a path, or an open :class:`h5py.Group`.
    h5mode
        ``"r"``, ``"r+"``, ``"w"``, ``"w-"``/``"x"`` or ``"a"`` (default).
    identifier
        Identifier of the series (root attribute ``identifier``).

    Notes
    -----
    Image ``i`` is the group ``fli_<i>`` (no zero padding), laid out like an
    :class:`FLImage` file. On disk, images are compressed on all cores
    while the next ones are added.

    Examples
    --------
    >>> import numpy as np
    >>> images = [FLImage(np.full((8, 8), v), meta_data={"time": v})
    ...           for v in (1.0, 2.0)]
    >>> with FLSeries(images, identifier="demo") as fls:
    ...     fls.add_flimage(images[0], identifier="again")
    ...     len(fls), fls[-1]["time"], fls["again"].fl.mean()
    (3, 1.0, np.float32(1.0))
    """

    def __init__(self, flimage_list: Iterable[FLImage] = (),
                 meta_data: Mapping[str, Any] | None = None,
                 h5file: H5File = None, h5mode: str = "a",
                 identifier: str | None = None) -> None:
        self._override = check_meta(meta_data or {})
        self.h5, self._owned = open_group(h5file, h5mode)
        self._writer: ChunkWriter | None = None
        try:
            self._length = self._check_layout()
            self._ids: dict[str, int] | None = None
            if identifier is not None:
                require_writable(self.h5, "set the series identifier")
                self.h5.attrs["identifier"] = str(identifier)
            if self._override and is_writable(self.h5):
                for index in range(self._length):
                    self.h5[f"fli_{index}"].attrs.update(self._override)
            for fli in flimage_list:
                self.add_flimage(fli)
        except BaseException:
            self.close()
            raise

    def _check_layout(self) -> int:
        names = list(self.h5)
        members = [n for n in names if _MEMBER.match(n)]
        if names and not members:
            kind = "an FLImage" if "fluorescence" in names else "no FLSeries"
            raise FileFormatError(f"{describe(self.h5)} holds {kind} (no 'fli_<n>' "
                                  f"groups; found {sorted(names)[:5]})")
        expected = {f"fli_{i}" for i in range(len(members))}
        if set(members) != expected:
            raise FileFormatError(f"The images of the series in {describe(self.h5)} "
                                  f"are not numbered fli_0 to fli_{len(members) - 1}")
        return len(members)

    # -- members -------------------------------------------------------------
    @property
    def identifier(self) -> str | None:
        """Identifier of the series (None when not set)."""
        value = self.h5.attrs.get("identifier")
        return value.decode() if isinstance(value, bytes) else value

    def __len__(self) -> int:
        return self._length

    def _identifiers(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {}
            for index in range(self._length):
                ident = self.h5[f"fli_{index}"].attrs.get("identifier")
                if ident is not None:
                    ident = ident.decode() if isinstance(ident, bytes) else str(ident)
                    self._ids.setdefault(ident, index)
        return self._ids

    def _index(self, index: int | str) -> int:
        if isinstance(index, str):
            ids = self._identifiers()
            if index not in ids:
                raise KeyError(f"No image with identifier {index!r} in the series "
                               f"{describe(self.h5)}")
            return ids[index]
        if isinstance(index, (bool, np.bool_)) or not isinstance(
                index, (int, np.integer)):
            raise TypeError(f"Index the series by position (int) or identifier "
                            f"(str), not {type(index).__name__}")
        if not -self._length <= index < self._length:
            raise IndexError(f"Image index {index} is out of range for a series of "
                             f"{self._length} images")
        return int(index) % self._length

    def get_flimage(self, index: int | str) -> FLImage:
        """One image of the series, by position or identifier.

        Parameters
        ----------
        index
            Position (negative values count from the end) or identifier.
        """
        position = self._index(index)
        self.flush()
        return FLImage(h5file=self.h5[f"fli_{position}"], h5mode="r")

    def __getitem__(self, index: int | str) -> FLImage:
        return self.get_flimage(index)

    def __iter__(self) -> Iterator[FLImage]:
        for position in range(self._length):
            yield self.get_flimage(position)

    def add_flimage(self, fli: FLImage, identifier: str | None = None) -> None:
        """Append an image to the series.

        Parameters
        ----------
        fli
            The image (its data, background and metadata are copied).
        identifier
            Identifier of the image in the series (overrides its own).
        """
        if not isinstance(fli, FLImage):
            raise TypeError(f"add_flimage expects an FLImage, got "
                            f"{type(fli).__name__}")
        meta = {**fli.meta, **self._override}
        if identifier is not None:
            meta["identifier"] = identifier
        bg = fli.bg_fl if fli.fluorescence.has_bg else None
        self._append(fli.raw_fl, meta, bg, fli.h5dtype)

    def _append(self, raw: np.ndarray, meta: Mapping[str, Any],
                bg: np.ndarray | None = None,
                h5dtype: np.typing.DTypeLike = "float32") -> None:
        require_writable(self.h5, "add images to the series")
        ident = meta.get("identifier")
        if ident is not None and ident in self._identifiers():
            raise ValueError(f"The series {describe(self.h5)} already has an image "
                             f"with identifier {ident!r}")
        if self._writer is None and not in_memory(self.h5):
            self._writer = ChunkWriter()
        group = self.h5.create_group(f"fli_{self._length}")
        try:
            target = FLImage(data=raw, meta_data=meta, h5file=group, h5dtype=h5dtype,
                             _writer=self._writer)
            if bg is not None:
                target.set_bg_data(bg)
        except BaseException:
            del self.h5[group.name]
            raise
        if ident is not None:
            self._identifiers()[ident] = self._length
        self._length += 1

    def times(self) -> np.ndarray:
        """Acquisition times [s] of the images (image indices where missing)."""
        times = np.array([self.h5[f"fli_{i}"].attrs.get("time", np.nan)
                          for i in range(self._length)], dtype=float)
        if np.isnan(times).any():
            warnings.warn(f"{int(np.isnan(times).sum())} images of the series "
                          f"{describe(self.h5)} have no 'time'; using image indices "
                          f"as times", MissingTimeWarning, stacklevel=3)
            return np.arange(self._length, dtype=float)
        return times

    # -- corrections ---------------------------------------------------------
    def bleach_correction(self, h5out: H5File = None, border_px: int = 20,
                          flscorr: FLSeries | None = None, count: Any = None,
                          max_count: Any = None
                          ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Correct the series for photobleaching.

        The background value is the median, over all images, of the median
        of each image's `border_px` outermost pixels. The intensity trace is
        the mean of each image's interior minus that background, and
        bleaching is the fit of ``A * exp(-rate * t) + offset`` to it
        (:func:`~cytolab.fluor.bleach.fit_bleaching`). Corrected image ``i``
        is ``(fl_i - bg) * decay[0] / decay[i]``: a flat trace at the level
        of the first image.

        Parameters
        ----------
        h5out
            Path or group for the corrected series (a path is overwritten);
            None: only analyse.
        border_px
            Width of the border used for the background [px].
        flscorr
            Correct this series (same length, e.g. the raw data) with the
            background and decay found in this one (e.g. a denoised copy).
        count, max_count
            Progress counters (objects with ``.value``, e.g.
            :class:`multiprocessing.Value`): ``max_count`` grows by the number
            of steps, ``count`` by one per step.

        Returns
        -------
        bg : float
            Background value subtracted from each image.
        flint : ndarray
            Intensity trace of the series (background subtracted).
        decay : ndarray
            The fitted decay at each image.
        times : ndarray
            Acquisition times [s] (indices where the images have none).

        Notes
        -----
        Denoising first (:meth:`denoise`) keeps the correction from
        amplifying noise.
        """
        if self._length == 0:
            raise ValueError(f"The series {describe(self.h5)} is empty")
        target = self if flscorr is None else flscorr
        if len(target) != self._length:
            raise ValueError(f"flscorr has {len(target)} images, but the series has "
                             f"{self._length}")
        times = self.times()
        steps = self._length + (len(target) if h5out is not None else 0)
        counter = Counter(count, max_count, steps, "bleach correction")
        try:
            kept: list[np.ndarray] = []
            budget = CACHE_BYTES if flscorr is None and h5out is not None else 0
            border, interior = np.empty(self._length), np.empty(self._length)
            decoders = (fli.fluorescence.prefetch() for fli in self)
            images = ordered_map(lambda decode: decode(), decoders, workers=2)
            for index, image in enumerate(images):
                mask = border_mask(image.shape, border_px)
                border[index] = np.median(image[mask])
                interior[index] = image[~mask].mean(dtype=np.float64)
                if budget >= image.nbytes:
                    kept.append(image)
                    budget -= image.nbytes
                counter.step()
            bg = float(np.median(border))
            flint = interior - bg
            decay = fit_bleaching(times, flint)(times)
            if np.any(decay <= 0):
                raise ValueError("The fitted bleaching decay reaches zero; the series "
                                 "cannot be corrected (is the background right?)")
            if h5out is not None:
                self._write_corrected(target, kept, bg, decay[0] / decay, h5out,
                                      counter)
        finally:
            counter.close()
        return bg, flint, decay, times

    def _write_corrected(self, source: FLSeries, kept: Sequence[np.ndarray],
                         bg: float, factors: np.ndarray, h5out: H5File,
                         counter: Counter) -> None:
        with self._output(h5out, source) as out:
            for index in range(len(source)):
                fli = source.get_flimage(index)
                image = kept[index] if index < len(kept) else fli.fl
                corrected = (image - np.float32(bg)) * np.float32(factors[index])
                out._append(corrected, fli.meta, h5dtype=fli.dtype)
                counter.step()

    def denoise(self, h5file: H5File, count: Any = None, max_count: Any = None,
                weight: float | None = None) -> None:
        """Write a total-variation-denoised copy of the series to `h5file`.

        Each raw image is denoised with Chambolle's total-variation method
        (:func:`~cytolab.fluor.denoise.denoise_image`) on two threads;
        backgrounds and metadata are kept.

        Parameters
        ----------
        h5file
            Path (overwritten) or group for the denoised series.
        count, max_count
            Progress counters, as in :meth:`bleach_correction`.
        weight
            Total-variation weight in intensity units (larger: smoother).
            By default :data:`~cytolab.fluor.denoise.DENOISE_WEIGHT` times
            the noise level estimated in each image
            (:func:`~cytolab.fluor.denoise.estimate_noise`), which removes
            pixel noise and keeps edges. The mean intensity is preserved.
        """
        def work(raw: np.ndarray) -> np.ndarray:
            return denoise_image(raw, weight)

        counter = Counter(count, max_count, self._length, "denoising")
        try:
            with self._output(h5file, self) as out:
                members = (self.get_flimage(i) for i in range(self._length))
                pairs = ((fli, fli.raw_fl) for fli in members)
                for fli, smooth in ordered_map(lambda p: (p[0], work(p[1])), pairs,
                                               workers=2):
                    bg = fli.bg_fl if fli.fluorescence.has_bg else None
                    out._append(smooth, fli.meta, bg, fli.dtype)
                    counter.step()
        finally:
            counter.close()

    @contextlib.contextmanager
    def _output(self, h5out: H5File, source: FLSeries) -> Iterator[FLSeries]:
        """A new series at `h5out` (a path is written under a temporary name
        and renamed when complete) with the identifier of `source`."""
        if isinstance(h5out, h5py.Group):
            with FLSeries(h5file=h5out, identifier=source.identifier) as out:
                if len(out):
                    raise ValueError(f"The output group {describe(h5out)} is not "
                                     f"empty")
                yield out
            return
        if h5out is None or not isinstance(h5out, (str, os.PathLike)):
            raise TypeError(f"The output must be a path or an h5py group, got "
                            f"{h5out!r}")
        target = pathlib.Path(h5out).resolve()
        for series in {id(self): self, id(source): source}.values():
            if not in_memory(series.h5) and \
                    pathlib.Path(series.h5.file.filename).resolve() == target:
                raise ValueError(f"Refusing to overwrite the input file '{target}' "
                                 f"with the output")
        with atomic_path(target) as tmp:
            with FLSeries(h5file=tmp, h5mode="w", identifier=source.identifier) as out:
                yield out

    # -- lifetime ------------------------------------------------------------
    def flush(self) -> None:
        """Store the data of all added images (they are encoded in the
        background)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Store pending data and close the file if this series opened it."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        finally:
            if self._owned and self.h5:
                self.h5.file.close()

    def __repr__(self) -> str:
        return f"<FLSeries of {self._length} images in {describe(self.h5)}>"

    def __enter__(self) -> FLSeries:
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


__all__ = ["FLSeries", "MissingTimeWarning"]
