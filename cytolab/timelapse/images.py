"""Reading, rescaling and resizing of time-lapse images, masks and labels.

Images are grey-scale float32 in [0, 1] once read; integer pixel values map
to [0, 1] by dividing by the largest value of their type, so that
:func:`to_integer_values` gives back the stored values exactly.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from ..errors import FileFormatError
from ..io.files import atomic_path
from .labels import (
    Image,
    Labels,
    SegmentationMask,
    _as_2d,
    _as_labels,
    _as_mask,
    _check_shape,
    binarize_threshold,
    detect_touching_cells,
    label_seg,
)

__all__ = [
    "open_tiff",
    "read_image",
    "read_raw_image",
    "read_reshape",
    "read_tiff_page",
    "rescale_image",
    "resize_image",
    "resize_labels",
    "resize_mask",
    "smart_resize",
    "to_integer_values",
    "write_image",
]

#: File name extensions :func:`read_reshape` accepts.
RESHAPE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_TIFF_SUFFIXES = (".tif", ".tiff")
_CV_RESIZE_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16,
                                                np.float32, np.float64))
TIFF_HINT = 'reading TIFF files needs tifffile: pip install "cytolab[timelapse]"'


def _to_grey(image: np.ndarray, path: pathlib.Path, bgr: bool) -> np.ndarray:
    """2-D grey image of a 2-D, RGB(A) or BGR(A) image (alpha is ignored)."""
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        colour = image[..., :3]
        if (colour == colour[..., :1]).all():  # grey stored as colour
            return np.ascontiguousarray(colour[..., 0])
        return cv2.cvtColor(np.ascontiguousarray(colour),
                            cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise FileFormatError(f"{path}: not a 2-D grey or colour image (pixel "
                              f"array of shape {image.shape})")
    return image


def _check_file(path: pathlib.Path) -> None:
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")


@contextlib.contextmanager
def open_tiff(filename: str | os.PathLike) -> Iterator[Any]:
    """Open a TIFF file with tifffile, for :func:`read_tiff_page`.

    Parameters
    ----------
    filename
        TIFF file.

    Yields
    ------
    tif : tifffile.TiffFile
        The open file (closed when the ``with`` block ends).

    Raises
    ------
    cytolab.errors.FileFormatError
        If the file is missing or not a TIFF file tifffile can open.
    ImportError
        If tifffile (extra ``timelapse``) is not installed.
    """
    path = pathlib.Path(filename)
    try:
        import tifffile
    except ImportError as exc:  # pragma: no cover - extra installed in CI
        raise ImportError(TIFF_HINT) from exc
    _check_file(path)
    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read TIFF file ({exc})") from exc
    with tif:
        yield tif


def read_tiff_page(tif: Any, page: int = 0) -> np.ndarray:
    """One image of the first series of an open TIFF file, as stored.

    Parameters
    ----------
    tif
        File opened with :func:`open_tiff`.
    page
        Index of the image in the first series.

    Returns
    -------
    image : numpy.ndarray
        2-D grey image of the stored dtype (colour images are converted,
        see :func:`read_raw_image`).

    Notes
    -----
    Compressions tifffile cannot decode without the optional
    ``imagecodecs`` (e.g. LZW, which OpenCV writes) are decoded by OpenCV.
    """
    path = pathlib.Path(tif.filehandle.path)
    try:
        image = tif.asarray(key=page, series=0)
        if tif.series[0].axes.endswith("SYX"):  # planar colour samples
            image = np.moveaxis(image, -3, -1)
    except Exception as exc:
        try:
            ok, pages = cv2.imreadmulti(str(path), page, 1,
                                        flags=cv2.IMREAD_UNCHANGED)
        except cv2.error:
            ok, pages = False, None
        if not ok or not pages:
            raise FileFormatError(f"{path}: cannot read TIFF file (image "
                                  f"{page}: {type(exc).__name__}: {exc})"
                                  ) from exc
        return _to_grey(pages[0], path, bgr=True)
    return _to_grey(np.asarray(image), path, bgr=False)


def _read_first(path: pathlib.Path) -> tuple[np.ndarray, int]:
    """First image of a file as stored, and the number of images."""
    if path.suffix.lower() in _TIFF_SUFFIXES:
        with open_tiff(path) as tif:
            return read_tiff_page(tif, 0), len(tif.pages)
    _check_file(path)
    raw = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if image is None:
        raise FileFormatError(f"{path}: not an image file OpenCV can decode")
    return _to_grey(image, path, bgr=True), 1


def read_raw_image(filename: str | os.PathLike) -> np.ndarray:
    """Read the first image of a file as stored (grey, dtype kept).

    Parameters
    ----------
    filename
        TIFF (the first image of its first series), PNG, JPEG or any other
        format OpenCV decodes.

    Returns
    -------
    image : numpy.ndarray
        2-D image of the stored dtype (uint8, uint16, float32, ...). Colour
        images are converted to grey (ITU-R BT.601 luma; colour images
        whose channels are equal give their first channel).

    Raises
    ------
    cytolab.errors.FileFormatError
        If the file is missing or cannot be decoded.

    Examples
    --------
    >>> import pathlib, tempfile, cv2, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.png"
    >>> cv2.imwrite(str(path), np.full((2, 3), 7, np.uint16))
    True
    >>> read_raw_image(path).tolist()
    [[7, 7, 7], [7, 7, 7]]
    """
    return _read_first(pathlib.Path(filename))[0]


def _read_single(path: pathlib.Path, error: type[Exception]) -> Image:
    """The image of a single-image file as float32 (`error` if several)."""
    image, count = _read_first(path)
    if count != 1:
        raise error(f"{path}: holds {count} images; only single-image files "
                    f"can be read")
    if image.dtype == bool:
        return image.astype(np.float32)
    if image.dtype.kind == "f":
        return image.astype(np.float32, copy=False)
    return rescale_image(image)


def read_image(filename: str | os.PathLike) -> Image:
    """Read a grey-scale image as float32 in [0, 1].

    Parameters
    ----------
    filename
        PNG, JPEG, single-image TIFF or any other format OpenCV decodes.

    Returns
    -------
    image : numpy.ndarray of float32
        2-D image (:func:`read_raw_image`). Unsigned integer pixels are
        divided by the largest value of their type (:func:`rescale_image`);
        floating-point pixels are kept as stored.

    Raises
    ------
    cytolab.errors.FileFormatError
        If the file is missing, cannot be decoded or holds several images.
    """
    return _read_single(pathlib.Path(filename), FileFormatError)


def _pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Zero-pad at the bottom and right up to at least ``(height, width)``."""
    pad_y = max(height - image.shape[0], 0)
    pad_x = max(width - image.shape[1], 0)
    if pad_y == 0 and pad_x == 0:
        return image
    return np.pad(image, ((0, pad_y), (0, pad_x)))


def read_reshape(filename: str | os.PathLike, *,
                 target_size: tuple[int, int] | None = (256, 32),
                 binarize: bool = False, order: int = 1,
                 method: str = "resize") -> Image | SegmentationMask:
    """Read an image for a network and bring it to the network input size.

    Parameters
    ----------
    filename
        PNG, JPEG or single-image TIFF file.
    target_size
        ``(height, width)`` to bring the image to; None keeps its size.
    binarize
        Threshold the (resized) image at the middle of its range
        (:func:`~cytolab.timelapse.labels.binarize_threshold`) and return a
        0/1 mask.
    order
        Interpolation for resizing: 0 nearest neighbour (masks), 1 bilinear.
    method
        ``"resize"``: resize the image to `target_size`, whether smaller or
        larger. ``"pad"``: pad a smaller image with zeros at the bottom and
        right up to `target_size`; larger sizes are kept (tiles are cut
        later).

    Returns
    -------
    image : numpy.ndarray
        float32 in [0, 1], or a uint8 0/1 mask with `binarize`.

    Raises
    ------
    ValueError
        If the file is not a PNG, JPEG or TIFF file, holds several images,
        or an argument is invalid.
    """
    path = pathlib.Path(filename)
    if path.suffix.lower() not in RESHAPE_SUFFIXES:
        raise ValueError(f"{path}: only PNG, JPEG or TIFF files can be read "
                         f"(suffixes {', '.join(RESHAPE_SUFFIXES)})")
    if method not in ("resize", "pad"):
        raise ValueError(f"method must be 'resize' or 'pad', got {method!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got "
                         f"{order!r}")
    image = _read_single(path, ValueError)
    if target_size is not None and method == "pad":
        image = _pad_to(image, *_check_shape(target_size, "target_size"))
    elif target_size is not None:
        interp = cv2.INTER_NEAREST_EXACT if order == 0 else cv2.INTER_LINEAR
        image = _resize(image, target_size, "target_size", interp)
    if binarize:
        return binarize_threshold(image, None)
    return image


def _resize(arr: np.ndarray, shape: Any, name: str, interpolation: int
            ) -> np.ndarray:
    """`arr` resized by OpenCV to `shape` ``(height, width)`` (a copy if it
    has that shape already)."""
    height, width = _check_shape(shape, name)
    if arr.shape == (height, width):
        return arr.copy()
    return cv2.resize(arr, (width, height), interpolation=interpolation)


def rescale_image(img: np.ndarray) -> Image:
    """Integer image as float32 in [0, 1].

    Parameters
    ----------
    img
        Array of unsigned integers (or booleans).

    Returns
    -------
    image : numpy.ndarray of float32
        ``img / M`` with ``M`` the largest value of the integer type (255 for
        uint8, 65535 for uint16).

    Examples
    --------
    >>> import numpy as np
    >>> rescale_image(np.array([0, 51, 255], dtype=np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    """
    arr = np.asarray(img)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if arr.dtype.kind != "u":
        raise ValueError(f"img must hold unsigned integers, got dtype "
                         f"{arr.dtype}")
    scale = np.float64(np.iinfo(arr.dtype).max)
    return (arr / scale).astype(np.float32)


def to_integer_values(frame: Image, dtype: Any) -> np.ndarray:
    """Image in [0, 1] as unsigned integers: the inverse of :func:`rescale_image`.

    Parameters
    ----------
    frame
        Floating-point image; values are clipped to [0, 1], NaN becomes 0.
    dtype
        Unsigned integer type of the result (e.g. ``np.uint8``).

    Returns
    -------
    image : numpy.ndarray
        ``round(frame * M)`` with ``M`` the largest value of `dtype`.

    Examples
    --------
    >>> import numpy as np
    >>> to_integer_values(np.array([0.0, 0.2, 1.0, 1.5]), np.uint8).tolist()
    [0, 51, 255, 255]
    """
    kind = np.dtype(dtype)
    if kind.kind != "u":
        raise ValueError(f"dtype must be an unsigned integer type, got {kind}")
    arr = np.nan_to_num(np.asarray(frame, dtype=np.float64), nan=0.0)
    return np.rint(np.clip(arr, 0.0, 1.0) * np.iinfo(kind).max).astype(kind)


def resize_image(image: Image, shape: tuple[int, int]) -> Image:
    """Resize a continuous image with bilinear interpolation.

    Parameters
    ----------
    image
        2-D image (float, uint8 or uint16; booleans become float32).
    shape
        Target ``(height, width)``.

    Returns
    -------
    resized : numpy.ndarray
        Image of `shape`, same dtype (booleans: float32).

    Examples
    --------
    >>> import numpy as np
    >>> resize_image(np.array([[0.0, 1.0]], dtype=np.float32), (1, 4)).tolist()
    [[0.0, 0.25, 0.75, 1.0]]
    """
    arr = _as_2d(image, "image")
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    if arr.dtype not in _CV_RESIZE_DTYPES:
        raise ValueError(f"image must be float, uint8, uint16 or int16, got "
                         f"dtype {arr.dtype}")
    return _resize(arr, shape, "shape", cv2.INTER_LINEAR)


def resize_labels(labels: Labels, shape: tuple[int, int], *,
                  prevent_touching: bool = False) -> Labels:
    """Resize a label image (nearest neighbour, labels stay intact).

    Parameters
    ----------
    labels
        2-D label image.
    shape
        Target ``(height, width)``.
    prevent_touching
        Clear the pixels where differently labelled cells touch after
        resizing (:func:`~cytolab.timelapse.labels.detect_touching_cells`),
        so that no two cells are 8-connected; very small cells may vanish.

    Returns
    -------
    resized : numpy.ndarray of uint16
        Label image of `shape`.

    Examples
    --------
    >>> import numpy as np
    >>> resize_labels(np.array([[1, 2]], dtype=np.uint16), (1, 4)).tolist()
    [[1, 1, 2, 2]]
    >>> resize_labels(np.array([[1, 2]], dtype=np.uint16), (1, 4),
    ...               prevent_touching=True).tolist()
    [[1, 0, 0, 2]]
    """
    lab = _resize(_as_labels(labels), shape, "shape", cv2.INTER_NEAREST_EXACT)
    if prevent_touching:
        lab[detect_touching_cells(lab)] = 0
    return lab


def resize_mask(mask: SegmentationMask, shape: tuple[int, int], *,
                prevent_touching: bool = True) -> SegmentationMask:
    """Resize a segmentation mask (nearest neighbour).

    Parameters
    ----------
    mask
        2-D mask (non-zero pixels are cells).
    shape
        Target ``(height, width)``.
    prevent_touching
        Keep separate cells separate: the cells are labelled before resizing
        and pixels where two of them would touch are cleared (see
        :func:`resize_labels`); very small cells may vanish.

    Returns
    -------
    resized : numpy.ndarray of uint8
        0/1 mask of `shape`.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.array([[1, 1, 0, 1, 1, 1]], dtype=np.uint8)
    >>> resize_mask(mask, (1, 3), prevent_touching=False).tolist()
    [[1, 1, 1]]
    >>> resize_mask(mask, (1, 3)).tolist()
    [[0, 0, 1]]
    """
    if prevent_touching:
        labels = label_seg(mask)
        return (resize_labels(labels, shape, prevent_touching=True) > 0
                ).astype(np.uint8)
    return _resize(_as_mask(mask, "mask"), shape, "shape",
                   cv2.INTER_NEAREST_EXACT)


def smart_resize(image: Image | SegmentationMask, new_shape: tuple[int, int]
                 ) -> Image | SegmentationMask:
    """Resize an image, a mask or a weight map with the fitting method.

    Parameters
    ----------
    image
        2-D array. Booleans and arrays holding only 0 and 1 are masks:
        resized with :func:`resize_mask` (cells kept from touching). Anything
        else (images, weight maps) is resized with bilinear interpolation
        (:func:`resize_image`). Label images: use :func:`resize_labels`.
    new_shape
        Target ``(height, width)``.

    Returns
    -------
    resized : numpy.ndarray
        Resized array of the input dtype.

    Examples
    --------
    >>> import numpy as np
    >>> smart_resize(np.array([[1, 1, 0, 1, 1, 1]], dtype=np.uint8), (1, 3)).tolist()
    [[0, 0, 1]]
    >>> smart_resize(np.array([[0.0, 0.5]]), (1, 4)).tolist()
    [[0.0, 0.125, 0.375, 0.5]]
    """
    arr = _as_2d(image, "image")
    binary = arr.dtype == bool or bool(np.all((arr == 0) | (arr == 1)))
    if binary:
        return resize_mask(arr, new_shape, prevent_touching=True).astype(arr.dtype)
    return resize_image(arr, new_shape)


#: File types :func:`write_image` writes
WRITE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")


def write_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an image file atomically, the format given by its suffix.

    PNG and TIFF take 8- and 16-bit pixels, JPEG 8-bit ones; a failure
    leaves no file behind. The writer of training sets and saved results.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mask.png"
    >>> write_image(path, np.eye(3, dtype=np.uint16))
    >>> read_raw_image(path).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"{path}: only {', '.join(WRITE_SUFFIXES)} files can be "
                         f"written")
    if suffix in (".jpg", ".jpeg") and array.dtype != np.uint8:
        raise ValueError(f"{path}: JPEG files hold 8-bit pixels, got {array.dtype}")
    ok, data = cv2.imencode(suffix, array)
    if not ok:  # pragma: no cover - OpenCV without that codec
        raise OSError(f"{path}: OpenCV could not encode the image")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())
