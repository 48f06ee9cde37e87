"""Movies of time-lapse results: cell colours, overlays and H.264 video files.

The "movie" output of the time-lapse pipeline draws the outline of every
cell in its lineage colour on the original frame (:func:`overlay_frame`);
"labeled-movie" also writes the cell ids. :func:`write_video` encodes the
frames as H.264.
"""
from __future__ import annotations

import colorsys
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..io.files import atomic_path

#: Colour (r, g, b) in [0, 1] of cells that have none in the colour table.
DEFAULT_COLOR = (1.0, 1.0, 1.0)

#: Container format for each accepted video file ending.
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov",
                 ".mkv": "matroska", ".avi": "avi"}

#: Range of the H.264 constant rate factor (lower is better quality).
CRF_RANGE = (0, 51)

_INSTALL_HINT = 'pip install "cytolab[export]"'


def random_colors(cellids: Iterable[int], seed: int = 0
                  ) -> dict[int, tuple[float, float, float]]:
    """Give every cell id its own colour, in a random but repeatable order.

    The hues are spread evenly around the colour wheel (so all colours are
    different) and dealt out to the sorted cell ids in an order shuffled
    with `seed`, so that neighbouring ids get unrelated colours.

    Parameters
    ----------
    cellids
        Cell ids (duplicates are ignored; the order does not matter).
    seed
        Seed of the shuffle.

    Returns
    -------
    dict
        Cell id to ``(r, g, b)``, each in [0, 1].

    Examples
    --------
    >>> colors = random_colors([3, 1, 2])
    >>> sorted(colors)
    [1, 2, 3]
    >>> len(set(colors.values()))
    3
    >>> colors == random_colors([1, 2, 3, 3])
    True
    """
    ids = sorted({int(c) for c in cellids})
    order = np.random.default_rng(seed).permutation(len(ids))
    colors = {}
    for cellid, rank in zip(ids, order):
        r, g, b = colorsys.hsv_to_rgb(float(rank) / len(ids), 0.85, 1.0)
        colors[cellid] = (float(r), float(g), float(b))
    return colors


def _check_frames(images: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as a list of (H, W, 3) uint8 arrays of one shape."""
    frames = [np.asarray(frame) for frame in images]
    if not frames:
        raise ValueError("write_video: no images given")
    shape = frames[0].shape
    for i, frame in enumerate(frames):
        if frame.dtype != np.uint8:
            raise ValueError(f"write_video: image {i} has dtype {frame.dtype}; "
                             f"RGB frames must be uint8")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"write_video: image {i} has shape {frame.shape}; "
                             f"RGB frames must have shape (height, width, 3)")
        if frame.shape != shape:
            raise ValueError(f"write_video: image {i} has shape {frame.shape}, "
                             f"image 0 has {shape}; all must be the same size")
    return frames


def _import_imageio_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise ImportError(f"Writing videos needs imageio-ffmpeg, which is not "
                          f"installed ({exc}); install it with: "
                          f"{_INSTALL_HINT}") from exc
    return imageio_ffmpeg


def write_video(images: np.ndarray | Sequence[np.ndarray],
                filename: str | os.PathLike, crf: int = 20, verbose: int = 1,
                *, fps: float = 10.0) -> None:
    """Write RGB frames to an H.264 video file.

    Parameters
    ----------
    images
        Frames as an array (T, H, W, 3) or a sequence of (H, W, 3) arrays,
        all uint8 RGB of the same size. H.264 (with 4:2:0 chroma) needs even
        sizes: an odd height or width is padded with one black row or column
        at the bottom or right.
    filename
        Output file; its ending picks the container (``.mp4``, ``.m4v``,
        ``.mov``, ``.mkv`` or ``.avi``). An existing file is replaced; the
        video is written under a temporary name first, so a failure never
        leaves a partial file under `filename`.
    crf
        Constant rate factor of the x264 encoder, 0 (lossless) to 51 (worst);
        17 to 28 are sensible, 20 is the default of the time-lapse outputs.
    verbose
        0: silent. 1: progress bar on a terminal. 2 or more: also the
        encoder's messages.
    fps
        Frames per second of the video.

    Raises
    ------
    ValueError
        For frames that are not uint8 RGB of one size, no frames, a `crf`
        outside 0..51, a non-positive `fps` or an unknown file ending.
    ImportError
        If imageio-ffmpeg is not installed.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "movie.mp4"
    >>> frames = np.zeros((3, 32, 48, 3), dtype=np.uint8)
    >>> write_video(frames, path, verbose=0)
    >>> path.stat().st_size > 0
    True
    """
    if (isinstance(crf, bool) or not isinstance(crf, (int, np.integer))
            or not CRF_RANGE[0] <= crf <= CRF_RANGE[1]):
        raise ValueError(f"write_video: crf must be an integer in "
                         f"{CRF_RANGE[0]}..{CRF_RANGE[1]} (17-28 are sensible), "
                         f"got {crf!r}")
    if not fps > 0:
        raise ValueError(f"write_video: fps must be positive, got {fps!r}")
    path = pathlib.Path(filename)
    container = VIDEO_FORMATS.get(path.suffix.lower())
    if container is None:
        raise ValueError(f"write_video: cannot write {path}: unknown video "
                         f"file ending; use one of {sorted(VIDEO_FORMATS)}")
    frames = _check_frames(images)
    imageio_ffmpeg = _import_imageio_ffmpeg()
    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    with progress_bar(total=len(frames), desc="write video", unit="frame",
                      show=None if verbose >= 1 else False) as bar, \
            atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), size=(width + pad[1][1], height + pad[0][1]), fps=fps,
            codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, macro_block_size=1,
            output_params=["-crf", str(int(crf)), "-f", container],
            ffmpeg_log_level="info" if verbose >= 2 else "error")
        writer.send(None)  # start the encoder
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(np.pad(frame, pad)))
                bar.update(1)
        finally:
            writer.close()


def _rgb_uint8(image: np.ndarray) -> np.ndarray:
    """A new (H, W, 3) uint8 RGB copy of a grey or RGB image."""
    img = np.asarray(image)
    if img.dtype.kind == "f":
        img = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    elif img.dtype == np.uint16:
        img = np.rint(img / 257.0).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f"overlay_frame: image has dtype {img.dtype}; "
                         f"expected float in [0, 1], uint8 or uint16")
    if img.ndim == 2:
        return np.repeat(img[:, :, np.newaxis], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 3:
        return img.copy()
    raise ValueError(f"overlay_frame: image has shape {img.shape}; expected "
                     f"(H, W) grey or (H, W, 3) RGB")


def cell_outlines(labels: np.ndarray) -> np.ndarray:
    """Mask of the cell pixels that touch another label or the image edge.

    A pixel of a cell (label > 0) is on the outline when one of its four
    neighbours has a different label or lies outside the image.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 5), dtype=np.uint16)
    >>> labels[1:4, 1:4] = 7
    >>> cell_outlines(labels).astype(int)[1:4, 1:4]
    array([[1, 1, 1],
           [1, 0, 1],
           [1, 1, 1]])
    """
    padded = np.pad(np.asarray(labels), 1)
    centre = padded[1:-1, 1:-1]
    other = ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
             | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre))
    return (centre != 0) & other


def _color_table(labels: np.ndarray,
                 colors: Mapping[int, tuple[float, float, float]]) -> np.ndarray:
    """uint8 RGB colour of every label value 0..max."""
    top = int(labels.max(initial=0))
    table = np.empty((top + 1, 3), dtype=np.uint8)
    table[:] = np.rint(np.asarray(DEFAULT_COLOR) * 255)
    for cellid, color in colors.items():
        if 0 < cellid <= top:
            table[cellid] = np.rint(np.clip(color, 0, 1) * 255)
    return table


def _write_cellids(rgb: np.ndarray, labels: np.ndarray, table: np.ndarray) -> None:
    """Write each cell's id right of it (left of it at the right edge)."""
    import cv2
    from scipy import ndimage

    height, width = labels.shape
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.3, 1
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        cellid = index + 1
        text = str(cellid)
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
        x = box[1].stop + 1
        if x + tw > width:
            x = max(0, box[1].start - tw - 1)
        y = min(max((box[0].start + box[0].stop) // 2 + th // 2, th), height - 1)
        color = tuple(int(c) for c in table[cellid])
        cv2.putText(rgb, text, (x, y), font, scale, color, thickness, cv2.LINE_AA)


def overlay_frame(image: np.ndarray, labels: np.ndarray,
                  colors: Mapping[int, tuple[float, float, float]], *,
                  cellids: bool = False) -> np.ndarray:
    """Draw the cell outlines of a label image on a frame, in lineage colours.

    Parameters
    ----------
    image
        The frame: grey (H, W) float in [0, 1], uint8 or uint16 (scaled to
        the 8-bit range by 1/257), or RGB (H, W, 3) of those types.
    labels
        Label image (H, W) of the frame (cell id per pixel, 0 = background).
    colors
        Cell id to ``(r, g, b)`` in [0, 1], e.g. from :func:`random_colors`;
        cells without an entry are drawn in :data:`DEFAULT_COLOR`.
    cellids
        Also write each cell's id (in its colour) next to the cell, as in
        the "labeled-movie" output.

    Returns
    -------
    numpy.ndarray
        New (H, W, 3) uint8 RGB frame; `image` is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((6, 6), dtype=np.uint16)
    >>> labels[1:5, 1:5] = 1
    >>> out = overlay_frame(np.zeros((6, 6)), labels, {1: (1.0, 0.0, 0.0)})
    >>> out[1, 1].tolist(), out[2, 2].tolist()
    ([255, 0, 0], [0, 0, 0])
    """
    rgb = _rgb_uint8(image)
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.shape != rgb.shape[:2]:
        raise ValueError(f"overlay_frame: labels of shape {lab.shape} do not "
                         f"match the image of shape {rgb.shape[:2]}")
    if lab.dtype.kind not in "ui" or (lab.size and lab.min() < 0):
        raise ValueError(f"overlay_frame: labels must be non-negative "
                         f"integers, got dtype {lab.dtype}")
    table = _color_table(lab, colors)
    outline = cell_outlines(lab)
    rgb[outline] = table[lab[outline]]
    if cellids:
        _write_cellids(rgb, lab, table)
    return rgb
