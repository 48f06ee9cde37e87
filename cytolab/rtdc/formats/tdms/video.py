"""Event images from the ``.avi`` video of a legacy TDMS measurement.

The video holds one frame per event (not per camera frame). Old Shape-In
versions did not store the frame of the first event (``fmt_tdms:video frame
offset`` = 1) or of the last one; such events get a zero image. Frames are
decoded by FFmpeg (through imageio-ffmpeg) as 8-bit grayscale, sequentially:
reading events in order streams the video once; going back restarts the
decoder at the requested frame (exact, but it decodes the video up to there).
"""
from __future__ import annotations

import collections
import pathlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ....io import EventArray
from .config import measurement_id
from .exc import VIDEO_HINT, BrokenVideoWarning, MissingFramesWarning

#: Frames kept in memory by :class:`VideoReader`
CACHED_FRAMES = 32
#: Going forward by more than this many frames restarts the decoder there
MAX_SKIP = 500


def _imageio_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - installed in the test env
        raise ImportError(VIDEO_HINT) from exc
    return imageio_ffmpeg


def find_video_file(tdms_path: pathlib.Path) -> pathlib.Path | None:
    """The video of a measurement: ``M<n>_*.avi`` next to the ``.tdms`` file.

    Of several videos of the measurement, ``*imag.avi`` is preferred, then
    ``*imaq.avi``, then the first in alphabetical order.
    """
    mid = measurement_id(tdms_path)
    videos = sorted(p for p in tdms_path.parent.glob("*.avi")
                    if p.is_file() and p.name.split("_")[0] == mid)
    for ending in ("imag.avi", "imaq.avi"):
        for path in videos:
            if path.name.endswith(ending):
                return path
    return videos[0] if videos else None


class VideoReader:
    """Sequential grayscale frame reader of a video file.

    Parameters
    ----------
    path
        The video file.

    Attributes
    ----------
    length : int
        Number of frames (counted by FFmpeg; reduced when the file ends
        earlier than its index says).
    shape : tuple of int
        ``(height, width)`` of a frame.

    Raises
    ------
    OSError
        If FFmpeg cannot read the file.
    """

    def __init__(self, path: pathlib.Path) -> None:
        self.path = pathlib.Path(path)
        self._ffmpeg = _imageio_ffmpeg()
        self._gen: Iterator[bytes] | None = None
        self._next = 0
        self._cache: collections.OrderedDict[int, np.ndarray] = \
            collections.OrderedDict()
        try:
            self.length = int(self._ffmpeg.count_frames_and_secs(str(self.path))[0])
            self._start(0)
        except (RuntimeError, OSError, StopIteration, ValueError) as exc:
            self.close()
            raise OSError(f"Cannot read video '{self.path}': {exc}") from exc

    def _start(self, index: int) -> None:
        """(Re)start decoding so that the next frame read is `index`."""
        self.close()
        params = ["-fps_mode", "passthrough"]
        if index:
            params = ["-vf", f"select=gte(n\\,{index})"] + params
        gen = self._ffmpeg.read_frames(str(self.path), pix_fmt="gray", bpp=1,
                                       output_params=params)
        meta = next(gen)
        width, height = meta["size"]
        self.shape = (int(height), int(width))
        self._gen = gen
        self._next = index

    def close(self) -> None:
        """Stop the decoder (it is restarted on the next read)."""
        if self._gen is not None:
            # imageio-ffmpeg leaves its pipes to the garbage collector
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    self._gen.close()
                except RuntimeError:  # pragma: no cover - FFmpeg ended badly
                    pass
                self._gen = None

    def __del__(self) -> None:
        self.close()

    def __len__(self) -> int:
        return self.length

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as a read-only ``(height, width)`` uint8 array.

        Raises
        ------
        IndexError
            If the video has no such frame.
        """
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if not 0 <= index < self.length:
            raise IndexError(f"Frame {index} not in video '{self.path}' "
                             f"({self.length} frames)")
        if self._gen is None or index < self._next or index > self._next + MAX_SKIP:
            self._start(index)
        assert self._gen is not None
        while self._next <= index:
            try:
                raw = next(self._gen)
            except (StopIteration, RuntimeError):
                self.close()
                self.length = self._next  # the file ends earlier than indexed
                raise IndexError(f"Frame {index} not in video '{self.path}' "
                                 f"(the file ends after {self.length} frames)"
                                 ) from None
            data = np.frombuffer(raw, dtype=np.uint8).reshape(self.shape)
            self._cache[self._next] = data
            while len(self._cache) > CACHED_FRAMES:
                self._cache.popitem(last=False)
            self._next += 1
        return self._cache[index]


class VideoImages(EventArray):
    """The ``image`` feature of a TDMS dataset: one video frame per event.

    Event ``i`` shows video frame ``i - offset``; events without a frame
    (before the offset or after the end of the video) get a zero image.
    Integer, slice and index-array indexing are supported.

    Parameters
    ----------
    reader
        The video.
    length
        Number of events.
    offset
        ``fmt_tdms:video frame offset``.
    """

    def __init__(self, reader: VideoReader, length: int, offset: int) -> None:
        self.reader = reader
        self._length = int(length)
        self.offset = int(offset)
        self.shape = (self._length,) + reader.shape
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3
        self._zero = np.zeros(reader.shape, dtype=np.uint8)
        self._zero.flags.writeable = False

    def has_frame(self, index: int) -> bool:
        """Whether event `index` has a frame in the video (as far as known)."""
        return 0 <= index - self.offset < len(self.reader)

    def _get_one(self, index: int) -> np.ndarray:
        if not self.has_frame(index):
            return self._zero
        try:
            return self.reader.frame(index - self.offset)
        except IndexError:  # the video ended early
            return self._zero

    def _get_many(self, indices: np.ndarray) -> np.ndarray:
        out = np.zeros((len(indices),) + self.shape[1:], dtype=np.uint8)
        order = np.argsort(indices, kind="stable")
        for pos in order:  # increasing: one pass through the video
            out[pos] = self._get_one(int(indices[pos]))
        out.flags.writeable = False
        return out


def open_video(tdms_path: pathlib.Path) -> VideoReader | None:
    """The video reader of a measurement, None if it has no (readable) video."""
    path = find_video_file(tdms_path)
    if path is None:
        return None
    try:
        return VideoReader(path)
    except OSError as exc:
        warnings.warn(f"Ignoring the video of '{tdms_path}' (no 'image' "
                      f"feature): {exc}", BrokenVideoWarning, stacklevel=3)
        return None


def detect_frame_offset(reader: VideoReader, length: int,
                        pos_px: tuple[np.ndarray, np.ndarray] | None) -> int | None:
    """Guess ``video frame offset`` when ``para.ini`` does not give it.

    * A video with as many frames as events: 0.
    * Otherwise the first frame is compared with the positions of the first
      two events: the image varies much more (local standard deviation in a
      17 x 17 px window) where the event is. Returns 0 or 1 when one of
      them stands out (by a factor of 1.5), None when this cannot tell.

    Parameters
    ----------
    reader
        The video.
    length
        Number of events.
    pos_px
        ``(x, y)`` event positions in pixels (at least two), or None.
    """
    if len(reader) == length:
        return 0
    if pos_px is None or len(pos_px[0]) < 2 or len(reader) == 0:
        return None
    try:
        frame = reader.frame(0).astype(float)
    except IndexError:
        return None
    height, width = frame.shape
    scores = []
    for event in (0, 1):
        x, y = pos_px[0][event], pos_px[1][event]
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        xi = int(np.clip(round(float(x)), 0, width - 1))
        yi = int(np.clip(round(float(y)), 0, height - 1))
        window = frame[max(0, yi - 8):yi + 9, max(0, xi - 8):xi + 9]
        scores.append(float(window.std()))
    if scores[0] > 1.5 * scores[1]:
        return 0
    if scores[1] > 1.5 * scores[0]:
        return 1
    return None


def warn_missing_frames(images: VideoImages, path: Any) -> None:
    """One warning when some events have no video frame."""
    first = images.offset
    last = images._length - (len(images.reader) + images.offset)
    if first <= 0 and last <= 0:
        return
    parts = []
    if first > 0:
        parts.append(f"the first {first} event(s)")
    if last > 0:
        parts.append(f"the last {last} event(s)")
    warnings.warn(f"The video of '{path}' has {len(images.reader)} frames for "
                  f"{images._length} events (frame offset {images.offset}): "
                  f"{' and '.join(parts)} have no frame and get a zero image",
                  MissingFramesWarning, stacklevel=3)
