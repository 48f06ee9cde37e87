"""An image and its background in one HDF5 group.

:class:`ImageData` keeps a raw image (dataset ``raw``) and optionally a
background image (dataset ``bg_data/data``) and applies the background
correction; :class:`Fluorescence` is the fluorescence flavour, where the
correction is a subtraction.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable

import h5py
import numpy as np
import numpy.typing as npt

from ..errors import FileFormatError
from ..io.deflate import ChunkWriter, direct_reader
from .storage import describe, require_writable, store_image


def as_image(data: npt.ArrayLike, what: str, dtype: np.dtype) -> np.ndarray:
    """`data` as a 2-D array; clear errors for anything else."""
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D image, got an array of shape "
                         f"{arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{what} is empty (shape {arr.shape})")
    if arr.dtype.kind == "c" and dtype.kind != "c":
        raise ValueError(f"{what} is complex but h5dtype is {dtype}")
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    return arr


class ImageData:
    """A raw image and its background in an HDF5 group.

    Parameters
    ----------
    h5
        Group that holds (or will hold) the dataset ``raw`` and the group
        ``bg_data``.
    h5dtype
        Storage dtype of images written through this object.
    writer
        Encodes compressed images on several threads (for series); by
        default each image is written when it is set.
    """

    #: What the data are called in messages
    kind = "image"

    def __init__(self, h5: h5py.Group, h5dtype: npt.DTypeLike = "float32",
                 writer: ChunkWriter | None = None) -> None:
        self.h5 = h5
        self.h5dtype = np.dtype(h5dtype)
        self.writer = writer
        self._cache: dict[str, np.ndarray] = {}

    # background correction of the subclass
    def correct(self, raw: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Apply the background `bg` to the raw image `raw`."""
        raise NotImplementedError

    def _read(self, name: str) -> np.ndarray:
        if name not in self._cache:
            arr = np.asarray(self._decoder(name)())
            arr.flags.writeable = False
            self._cache[name] = arr
        return self._cache[name]

    @property
    def has_raw(self) -> bool:
        """Whether a raw image is stored."""
        return "raw" in self.h5

    @property
    def has_bg(self) -> bool:
        """Whether a background image is stored."""
        return "bg_data/data" in self.h5

    @property
    def raw(self) -> np.ndarray:
        """The raw image (read-only array)."""
        if not self.has_raw:
            raise FileFormatError(f"No {self.kind} data in {describe(self.h5)}")
        return self._read("raw")

    @property
    def bg(self) -> np.ndarray:
        """The background image (zeros when none is set)."""
        if self.has_bg:
            return self._read("bg_data/data")
        return np.zeros(self.shape, dtype=self.dtype)

    @property
    def image(self) -> np.ndarray:
        """The background-corrected image."""
        if "image" not in self._cache:
            arr = self.correct(self.raw, self.bg) if self.has_bg else self.raw
            arr = np.array(arr, copy=True) if arr is self.raw else arr
            arr.flags.writeable = False
            self._cache["image"] = arr
        return self._cache["image"]

    def prefetch(self) -> Callable[[], np.ndarray]:
        """Read the stored bytes now; return a function that decodes them
        into :attr:`image` (safe to call in another thread, so that many
        images decode on several cores)."""
        raw = self._decoder("raw")
        bg = self._decoder("bg_data/data") if self.has_bg else None

        def image() -> np.ndarray:
            return self.correct(raw(), bg()) if bg is not None else raw()

        return image

    def _decoder(self, name: str) -> Callable[[], np.ndarray]:
        if name in self._cache:
            arr = self._cache[name]
            return lambda: arr
        if name == "raw" and not self.has_raw:
            raise FileFormatError(f"No {self.kind} data in {describe(self.h5)}")
        dset = self.h5[name]
        decode = direct_reader(dset)
        if decode is None:  # other filters: h5py reads it here
            arr = dset[...]
            return lambda: arr
        where = f"'{name}' in {describe(self.h5)}"

        def checked() -> np.ndarray:
            try:
                return decode()
            except (ValueError, zlib.error) as exc:
                raise FileFormatError(f"Corrupt {self.kind} data {where}: {exc}"
                                      ) from exc

        return checked

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the image."""
        if not self.has_raw:
            raise FileFormatError(f"No {self.kind} data in {describe(self.h5)}")
        return tuple(self.h5["raw"].shape)

    @property
    def dtype(self) -> np.dtype:
        """Storage dtype of the raw image."""
        if not self.has_raw:
            raise FileFormatError(f"No {self.kind} data in {describe(self.h5)}")
        return self.h5["raw"].dtype

    def set_raw(self, data: npt.ArrayLike) -> None:
        """Store a new raw image; a background of another shape is removed."""
        require_writable(self.h5, f"write {self.kind} data")
        arr = as_image(data, f"The {self.kind} data", self.h5dtype)
        if self.has_bg and self.h5["bg_data/data"].shape != arr.shape:
            del self.h5["bg_data/data"]
        store_image(self.h5, "raw", arr, self.h5dtype, self.writer)
        self.h5.require_group("bg_data")
        self._cache.clear()

    def set_bg(self, data: npt.ArrayLike | None) -> None:
        """Store a background image, or remove it with None."""
        require_writable(self.h5, f"set the {self.kind} background")
        bg_group = self.h5.require_group("bg_data")
        if data is None:
            if "data" in bg_group:
                del bg_group["data"]
        else:
            arr = as_image(data, f"The {self.kind} background", self.h5dtype)
            if arr.shape != self.shape:
                raise ValueError(f"The background has shape {arr.shape}, but the "
                                 f"{self.kind} data have shape {self.shape}")
            store_image(bg_group, "data", arr, self.h5dtype, self.writer)
        self._cache.clear()


class Fluorescence(ImageData):
    """Fluorescence image data: the background is subtracted.

    Examples
    --------
    >>> import h5py, numpy as np
    >>> with h5py.File("fl.h5", "w", driver="core", backing_store=False) as h5:
    ...     fl = Fluorescence(h5.create_group("fluorescence"))
    ...     fl.set_raw(np.full((2, 3), 5.0))
    ...     fl.set_bg(np.ones((2, 3)))
    ...     fl.image.tolist()
    [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """

    kind = "fluorescence"

    def correct(self, raw: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Subtract the background."""
        return np.subtract(raw, bg)
