"""Rectangular regions of frames: chambers, drift templates, tracking crops."""
from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np

from .labels import Contour, _check_shape, centroid

__all__ = ["CroppingBox"]


def _is_dataarray(obj: Any) -> bool:
    """Whether `obj` is an xarray DataArray (without importing xarray)."""
    return type(obj).__module__.startswith("xarray") and hasattr(obj, "dims")


def _frame_shape(image: Any) -> tuple[int, int]:
    """``(Y, X)`` size of an image or image stack (array or DataArray),
    checking that it has these dimensions."""
    if _is_dataarray(image):
        if "y" not in image.dims or "x" not in image.dims:
            raise ValueError(f"images must have 'y' and 'x' dimensions, got "
                             f"{image.dims}")
        return int(image.sizes["y"]), int(image.sizes["x"])
    shape = np.shape(image)
    if len(shape) < 2:
        raise ValueError(f"image must have at least 2 dimensions (Y, X), got "
                         f"shape {shape}")
    return int(shape[-2]), int(shape[-1])


@dataclasses.dataclass(frozen=True)
class CroppingBox:
    """A rectangle of pixels to cut out of frames.

    Parameters
    ----------
    xtl, ytl
        Column and row of the top-left corner (included).
    xbr, ybr
        Column and row of the bottom-right corner (excluded), so that
        ``image[ytl:ybr, xtl:xbr]`` is the box. A box may extend beyond the
        image (also to negative coordinates).

    Examples
    --------
    >>> import numpy as np
    >>> box = CroppingBox(xtl=1, ytl=0, xbr=3, ybr=2)
    >>> box.shape
    (2, 2)
    >>> box.crop(np.arange(12).reshape(3, 4)).tolist()
    [[1, 2], [5, 6]]
    """

    xtl: int
    ytl: int
    xbr: int
    ybr: int

    def __post_init__(self) -> None:
        for name in ("xtl", "ytl", "xbr", "ybr"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.xbr <= self.xtl:
            raise ValueError(f"xbr ({self.xbr}) must be larger than xtl "
                             f"({self.xtl})")
        if self.ybr <= self.ytl:
            raise ValueError(f"ybr ({self.ybr}) must be larger than ytl "
                             f"({self.ytl})")

    @property
    def shape(self) -> tuple[int, int]:
        """Size ``(height, width)`` of the box."""
        return self.ybr - self.ytl, self.xbr - self.xtl

    def _overlap(self, height: int, width: int
                 ) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
        """Slices of the part inside a ``(height, width)`` image, in image
        and in box coordinates (None if the box misses the image)."""
        y0, y1 = max(self.ytl, 0), min(self.ybr, height)
        x0, x1 = max(self.xtl, 0), min(self.xbr, width)
        if y0 >= y1 or x0 >= x1:
            return None
        return ((slice(y0, y1), slice(x0, x1)),
                (slice(y0 - self.ytl, y1 - self.ytl),
                 slice(x0 - self.xtl, x1 - self.xtl)))

    def _crop_array(self, array: np.ndarray) -> np.ndarray:
        out = np.zeros(array.shape[:-2] + self.shape, dtype=array.dtype)
        overlap = self._overlap(*array.shape[-2:])
        if overlap is not None:
            inside, target = overlap
            out[(..., *target)] = array[(..., *inside)]
        return out

    def crop(self, images: Any) -> Any:
        """Cut the box out of an image or a stack of images.

        Parameters
        ----------
        images
            NumPy array ``(..., Y, X)`` or xarray DataArray with ``y`` and
            ``x`` dimensions.

        Returns
        -------
        patches
            Same type and dimensions with ``y``/``x`` of the box size; parts
            of the box outside the image are zero. For a DataArray the other
            coordinates and the attributes are kept, ``y``/``x`` coordinates
            are dropped.

        Examples
        --------
        >>> import numpy as np
        >>> CroppingBox(xtl=-1, ytl=1, xbr=2, ybr=3).crop(np.ones((2, 2))).tolist()
        [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
        """
        if not _is_dataarray(images):
            arr = np.asarray(images)
            _frame_shape(arr)
            return self._crop_array(arr)
        import xarray as xr

        _frame_shape(images)
        dims = images.dims
        ordered = images.transpose(..., "y", "x")
        coords = {name: coord for name, coord in ordered.coords.items()
                  if "y" not in coord.dims and "x" not in coord.dims}
        patches = xr.DataArray(self._crop_array(np.asarray(ordered.values)),
                               dims=ordered.dims, coords=coords,
                               attrs=images.attrs, name=images.name)
        return patches.transpose(*dims)

    @classmethod
    def full(cls, image: Any) -> CroppingBox:
        """Box covering a whole image.

        Parameters
        ----------
        image
            Array ``(..., Y, X)`` or DataArray with ``y``/``x`` dimensions.

        Examples
        --------
        >>> import numpy as np
        >>> CroppingBox.full(np.zeros((3, 5)))
        CroppingBox(xtl=0, ytl=0, xbr=5, ybr=3)
        """
        height, width = _frame_shape(image)
        return cls(xtl=0, ytl=0, xbr=width, ybr=height)

    def patch(self, image: np.ndarray, patch: np.ndarray) -> np.ndarray:
        """Paste a patch into a copy of an image at the box position.

        Parameters
        ----------
        image
            Array ``(..., Y, X)``.
        patch
            Array ``(..., height, width)`` of the box shape; the part that
            falls outside the image is dropped.

        Returns
        -------
        patched : numpy.ndarray
            A copy of `image` with the patch in place (`image` is unchanged).

        Examples
        --------
        >>> import numpy as np
        >>> box = CroppingBox(xtl=2, ytl=-1, xbr=4, ybr=1)
        >>> box.patch(np.zeros((2, 3), int), np.array([[1, 2], [3, 4]])).tolist()
        [[0, 0, 3], [0, 0, 0]]
        """
        arr = np.array(image, copy=True)
        _frame_shape(arr)
        pat = np.asarray(patch)
        if pat.shape[-2:] != self.shape:
            raise ValueError(f"patch has shape {pat.shape[-2:]} but the box "
                             f"has shape {self.shape}")
        overlap = self._overlap(*arr.shape[-2:])
        if overlap is not None:
            inside, source = overlap
            arr[(..., *inside)] = pat[(..., *source)]
        return arr

    def resize(self, fx: float | None = None, fy: float | None = None
               ) -> CroppingBox:
        """Box following an image resized by the factors `fx` and `fy`.

        Parameters
        ----------
        fx, fy
            Factors along x (columns) and y (rows); None leaves that axis
            unchanged. Corners are scaled and rounded to whole pixels.

        Returns
        -------
        resized : CroppingBox
            A new box (this one is unchanged).

        Examples
        --------
        >>> CroppingBox(xtl=2, ytl=4, xbr=6, ybr=10).resize(fx=0.5, fy=2)
        CroppingBox(xtl=1, ytl=8, xbr=3, ybr=20)
        """
        for name, factor in (("fx", fx), ("fy", fy)):
            if factor is not None and not factor > 0:
                raise ValueError(f"{name} must be positive, got {factor}")
        fx = 1.0 if fx is None else float(fx)
        fy = 1.0 if fy is None else float(fy)
        xtl, xbr = round(self.xtl * fx), round(self.xbr * fx)
        ytl, ybr = round(self.ytl * fy), round(self.ybr * fy)
        # never shrink to nothing
        return CroppingBox(xtl=xtl, ytl=ytl, xbr=max(xbr, xtl + 1),
                           ybr=max(ybr, ytl + 1))

    @staticmethod
    def tracking_box(contour: Contour, shape: tuple[int, int]) -> CroppingBox:
        """Box of a given shape centred on a cell.

        Parameters
        ----------
        contour
            OpenCV contour of the cell.
        shape
            ``(height, width)`` of the box (the tracking input size).

        Returns
        -------
        box : CroppingBox
            Box whose centre pixel ``(ytl + height // 2, xtl + width // 2)``
            is the centroid of the cell; it may extend beyond the image
            (:meth:`crop` pads with zeros).

        Examples
        --------
        >>> import numpy as np
        >>> contour = np.array([[10, 20], [14, 20], [14, 30], [10, 30]])
        >>> CroppingBox.tracking_box(contour, (8, 4))
        CroppingBox(xtl=10, ytl=21, xbr=14, ybr=29)
        """
        height, width = _check_shape(shape, "shape")
        cx, cy = centroid(contour)
        xtl = cx - width // 2
        ytl = cy - height // 2
        return CroppingBox(xtl=xtl, ytl=ytl, xbr=xtl + width, ybr=ytl + height)
