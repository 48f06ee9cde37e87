"""FLImage: one fluorescence image with its background and metadata."""
from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from ..errors import FileFormatError
from ..io.deflate import ChunkWriter
from ..io.files import decode_attr
from .image_data import Fluorescence
from .meta import META_KEYS_FL, check_meta
from .storage import H5File, describe, is_writable, open_group, require_writable


class FLImage:
    """A fluorescence image, its background and its metadata, kept in HDF5.

    Parameters
    ----------
    data
        The raw fluorescence image (2-D array or nested list). With None, the
        image stored in `h5file` is used.
    meta_data
        Metadata with keys of :data:`~cytolab.fluor.META_KEYS_FL` in SI units
        (``pixel size`` [m], ``time`` [s], ...); written to the file.
    h5file
        Where the data are kept: None (in memory), a path (created if
        needed, opened with `h5mode`), or an open :class:`h5py.Group`.
    h5mode
        ``"r"``, ``"r+"``, ``"w"``, ``"w-"``/``"x"`` or ``"a"`` (default;
        stored data may be overwritten); see :func:`h5py.File`.
    h5dtype
        Storage dtype of the images (default float32).

    Notes
    -----
    In a file, the root attributes hold the metadata, ``fluorescence/raw``
    the raw image and ``fluorescence/bg_data/data`` the optional background,
    gzip-compressed (shuffle, Fletcher-32), with the HDF5 image attributes.
    New data replace a stored image and its background.

    Examples
    --------
    >>> import numpy as np
    >>> with FLImage(np.full((4, 5), 3.0), meta_data={"pixel size": 1e-7}) as fli:
    ...     fli.set_bg_data(np.ones((4, 5)))
    ...     float(fli.fl.mean()), fli.shape, fli["pixel size"]
    (2.0, (4, 5), 1e-07)
    """

    def __init__(self, data: npt.ArrayLike | None = None,
                 meta_data: Mapping[str, Any] | None = None,
                 h5file: H5File = None, h5mode: str = "a",
                 h5dtype: npt.DTypeLike = "float32", *,
                 _writer: ChunkWriter | None = None) -> None:
        meta = check_meta(meta_data or {})
        self.h5, self._owned = open_group(h5file, h5mode)
        self.h5dtype = np.dtype(h5dtype)
        try:
            self._setup(data, meta, _writer)
        except BaseException:
            self.close()
            raise

    def _setup(self, data: npt.ArrayLike | None, meta: dict[str, Any],
               writer: ChunkWriter | None) -> None:
        writable = is_writable(self.h5)
        if data is not None or meta:
            require_writable(self.h5, "store fluorescence data or metadata")
        if "fluorescence" in self.h5:
            group = self.h5["fluorescence"]
        elif data is None and (len(self.h5) or not writable):
            raise FileFormatError(
                f"{describe(self.h5)} does not hold an FLImage (no 'fluorescence' "
                f"group; found {sorted(self.h5)[:5] or 'an empty file'})")
        else:
            group = self.h5.require_group("fluorescence")
        if not isinstance(group, h5py.Group):
            raise FileFormatError(f"'fluorescence' in {describe(self.h5)} is not a "
                                  f"group")
        self.fluorescence = Fluorescence(group, self.h5dtype, writer)
        if data is not None:
            self.fluorescence.set_bg(None)
            self.fluorescence.set_raw(data)
        for key, value in meta.items():
            self.h5.attrs[key] = value

    # -- metadata ------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        """Imaging metadata (keys of META_KEYS_FL present in the file)."""
        return {key: _attr(self.h5.attrs[key]) for key in META_KEYS_FL
                if key in self.h5.attrs}

    @property
    def info(self) -> list[tuple[str, Any]]:
        """The metadata as a list of ``(key, value)`` tuples."""
        return list(self.meta.items())

    def __getitem__(self, key: str) -> Any:
        meta = self.meta
        if key not in meta:
            if key in META_KEYS_FL:
                raise KeyError(f"Metadata {key!r} is not set in {describe(self.h5)}")
            check_meta({key: None})  # raises with the list of valid keys
        return meta[key]

    def __setitem__(self, key: str, value: Any) -> None:
        require_writable(self.h5, f"set metadata {key!r}")
        self.h5.attrs[key] = check_meta({key: value})[key]

    def __contains__(self, key: object) -> bool:
        return key in META_KEYS_FL and key in self.h5.attrs

    # -- image data ----------------------------------------------------------
    @property
    def raw_fl(self) -> np.ndarray:
        """Raw fluorescence image."""
        return self.fluorescence.raw

    @property
    def bg_fl(self) -> np.ndarray:
        """Background fluorescence image (zeros when none is set)."""
        return self.fluorescence.bg

    @property
    def fl(self) -> np.ndarray:
        """Background-corrected fluorescence image (raw - background)."""
        return self.fluorescence.image

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the stored fluorescence data."""
        return self.fluorescence.dtype

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the image."""
        return self.fluorescence.shape

    def set_bg_data(self, bg_data: npt.ArrayLike | FLImage | None) -> None:
        """Set the background image.

        Parameters
        ----------
        bg_data
            A 2-D array of the image's shape, an :class:`FLImage` (its
            background-corrected fluorescence is used), or None to remove
            the background.
        """
        if isinstance(bg_data, FLImage):
            bg_data = bg_data.fl
        self.fluorescence.set_bg(bg_data)

    def copy(self, h5file: H5File = None) -> FLImage:
        """A copy of this image, in memory or in `h5file`.

        Parameters
        ----------
        h5file
            None (memory), a path (opened with mode ``"a"``) or a group.
        """
        new = FLImage(data=self.raw_fl, meta_data=self.meta, h5file=h5file,
                      h5dtype=self.h5dtype)
        if self.fluorescence.has_bg:
            new.set_bg_data(self.bg_fl)
        return new

    def __repr__(self) -> str:
        try:
            shape = self.shape
        except (FileFormatError, ValueError):
            shape = "no data"
        return f"<FLImage {shape} in {describe(self.h5)}>"

    # -- lifetime ------------------------------------------------------------
    def close(self) -> None:
        """Close the file if this image opened it."""
        if self._owned and self.h5:
            self.h5.file.close()

    def __enter__(self) -> FLImage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _attr(value: Any) -> Any:
    value = decode_attr(value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    return value
