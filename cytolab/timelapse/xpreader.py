"""Read the images of a time-lapse experiment: positions x channels x frames.

:class:`XPReader` reads three kinds of input:

1. **A folder of image files** named after a C-style prototype, e.g.
   ``Position%02d_Channel%02d_Frame%03d.tif``. `fileorder` says which ``%d``
   is the position (``p``), the channel (``c``) and the frame (``f``), in
   the order they appear (``"pcf"`` above); axes absent from the prototype
   have a single index. Numbering may start at 0 or 1 (or anywhere): on
   each axis, the smallest number among the files is index 0. Only files
   whose name is exactly what the prototype makes of their numbers count.
   Every combination of position, channel and frame must have its file.
2. **A folder without a prototype**: the prototype is guessed from the
   image files (``.tif``, ``.tiff``, ``.png``, ``.jpg``, ``.jpeg``). Names
   are split into digit groups; the most common pattern of the non-digit
   parts wins (other files are ignored); digit groups that are the same in
   all files are part of the pattern, the others are axes. An axis is
   recognised by the word before its number (``position``/``pos``/``xy``/
   ``p``/``s``, ``channel``/``ch``/``c``/``w``, ``frame``/``time``/``t``/
   ``f``); numbers without such a word take, in order, the last letters of
   `fileorder` not used yet (so a lone number counts frames, two numbers
   are channel and frame). Numbers padded to one width give ``%0Nd``. The
   guess is in :attr:`XPReader.prototype` and :attr:`XPReader.fileorder`.
   A folder holding a single image file is read like that file.
3. **A single file**: a TIFF with one page per image, or one PNG/JPG image.
   An ImageJ hyperstack (or OME-TIFF) declares its axes: ``T`` counts
   frames (``Z`` does when there is no ``T``: z-stacks saved from time
   series), ``C`` channels. Without such axes every page is a frame of one
   channel. A single file is one position.

Pixels are read lazily, one image at a time, when :meth:`XPReader.images`
asks for them, and keep their type (uint8, uint16, float32, ...). Colour
images are turned into grey levels.
"""
from __future__ import annotations

import contextlib
import importlib
import itertools
import pathlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import CytolabError, FileFormatError
from .geometry import rotate as rotate_images
from .images import _TIFF_SUFFIXES, open_tiff, read_raw_image, read_tiff_page

#: File name endings of the images a folder is scanned for
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

_AXES = "pcf"
_AXIS_NAMES = {"p": "position", "c": "channel", "f": "frame"}
_AXIS_WORDS = {
    "p": {"position", "pos", "xy", "p", "s", "series", "fov", "field", "point"},
    "c": {"channel", "chan", "ch", "c", "w", "wavelength"},
    "f": {"frame", "fr", "f", "t", "time", "timepoint", "tp"},
}
_INSTALL_HINT = 'pip install "cytolab[timelapse]"'


class XPReaderError(CytolabError):
    """Base class of the errors of :class:`XPReader`."""


class ExperimentNotFoundError(XPReaderError, FileNotFoundError):
    """The experiment path does not exist or holds no images."""


class MissingImageFileError(XPReaderError, FileNotFoundError):
    """The file of one position, channel and frame is missing."""


class InconsistentImageError(XPReaderError, ValueError):
    """Images of one experiment differ in size."""


class UnknownChannelError(XPReaderError, ValueError):
    """A channel name or index that the experiment does not have."""


class ExperimentIndexError(XPReaderError, IndexError, ValueError):
    """A position or frame index outside the experiment."""


class XPReader:
    """Images of a time-lapse experiment (rules in the module doc).

    Parameters
    ----------
    path
        Folder of image files, or a single image file (multi-page TIFF).
    prototype
        C-style file name pattern relative to the folder, e.g.
        ``"Position%02d_Channel%02d_Frame%03d.tif"``; guessed when ``None``.
    fileorder
        Which ``%d`` of the prototype is the position, channel and frame:
        a permutation of (a subset of) ``"pcf"``.
    channel_names
        A name per channel (default ``"0"``, ``"1"``, ...).

    Attributes
    ----------
    positions, channels, frames : int
        Number of positions, channels and frames.
    channel_names : tuple of str
        Names of the channels.
    prototype, fileorder : str or None
        File name pattern and axis order of a folder (``None`` for a file).
    first_numbers : dict
        Number in the file names of index 0 on each axis (``"p"``, ``"c"``,
        ``"f"``): 0 or 1 for 0- or 1-based names.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for c in range(2):
    ...     for f in range(1, 4):
    ...         tifffile.imwrite(folder / f"Pos00_Ch{c}_Frame{f:03d}.tif",
    ...                          np.full((4, 5), 10 * c + f, np.uint16))
    >>> xp = XPReader(folder, channel_names=["phase", "gfp"])
    >>> xp.prototype, xp.fileorder, (xp.positions, xp.channels, xp.frames)
    ('Pos00_Ch%d_Frame%03d.tif', 'cf', (1, 2, 3))
    >>> xp.image_path(0, "gfp", 0).name
    'Pos00_Ch1_Frame001.tif'
    >>> movie = xp.images(0, channels="gfp", frames=range(1, 3))
    >>> movie.dims, movie.values[:, 0, 0, 0].tolist()
    (('frame', 'channel', 'y', 'x'), [12, 13])
    """

    def __init__(self, path: str | pathlib.Path, *, prototype: str | None = None,
                 fileorder: str = "pcf", channel_names: Sequence[str] | None = None
                 ) -> None:
        self.path = pathlib.Path(path)
        self.prototype: str | None = None
        self.fileorder: str | None = None
        self.first_numbers = {"p": 0, "c": 0, "f": 0}
        self._tiff_layout: tuple[tuple[int, ...], int | None, int | None] | None = None
        if not self.path.exists():
            raise ExperimentNotFoundError(f"The experiment path '{self.path}' "
                                          f"does not exist")
        if self.path.is_dir() and prototype is None:
            single, prototype, fileorder = _guess(self.path, fileorder)
            if single is not None:
                self.path = single
        if self.path.is_dir():
            self._scan(prototype, fileorder)
        else:
            self._open_file()
        self.channel_names = self._names(channel_names)

    def __repr__(self) -> str:
        return (f"<XPReader '{self.path}': {self.positions} positions, "
                f"{self.channels} channels, {self.frames} frames>")

    # --------------------------------------------------------------- public
    def image_path(self, position: int, channel: int | str, frame: int
                   ) -> pathlib.Path:
        """Path of the file holding an image (for a single file: that file).

        Parameters
        ----------
        position, frame
            Indices (from 0).
        channel
            Index or name.
        """
        self._check_index("position", position, self.positions)
        self._check_index("frame", frame, self.frames)
        (channel,) = self._channel_indices(channel)
        if self.prototype is None:
            return self.path
        return self.path / self._file_name({"p": position, "c": channel, "f": frame})

    def images(self, position: int,
               channels: int | str | Sequence[int | str] | None = None,
               frames: range | Sequence[int] | None = None,
               rotate: float | None = None) -> Any:
        """Images of one position as a DataArray (frame, channel, y, x).

        Parameters
        ----------
        position
            Position index.
        channels
            Channel index or name, or several (default: all).
        frames
            Frame indices (default: all).
        rotate
            Rotate each image by this angle in degrees (counter-clockwise,
            about the image centre; the shape is kept, pixels that come from
            outside repeat the border).

        Returns
        -------
        xarray.DataArray
            Dims ``("frame", "channel", "y", "x")``, coordinates ``frame``
            (indices) and ``channel`` (names); the dtype of the files.

        Raises
        ------
        UnknownChannelError, ExperimentIndexError
            Unknown channel, position or frame.
        MissingImageFileError, InconsistentImageError, FileFormatError
            A file vanished, has another size, or cannot be read.
        """
        xr = _optional("xarray")
        self._check_index("position", position, self.positions)
        chans = self._channel_indices(channels)
        frame_list = self._frame_indices(frames)
        with self._reader() as read:
            data = self._stack(read, position, chans, frame_list, rotate)
        return xr.DataArray(data, dims=("frame", "channel", "y", "x"), coords={
            "frame": np.asarray(frame_list, dtype=int),
            "channel": [self.channel_names[c] for c in chans]})

    # -------------------------------------------------------------- reading
    def _stack(self, read: Callable[[int, int, int], np.ndarray], position: int,
               chans: list[int], frame_list: list[int], rotate: float | None
               ) -> np.ndarray:
        first = read(position, chans[0], frame_list[0] if frame_list else 0)
        out = np.empty((len(frame_list), len(chans)) + first.shape, first.dtype)
        for (i, f), (j, c) in itertools.product(enumerate(frame_list),
                                                enumerate(chans)):
            image = first if (i, j) == (0, 0) else read(position, c, f)
            if image.shape != first.shape:
                reference = self._describe(position, chans[0], frame_list[0])
                raise InconsistentImageError(
                    f"The image '{self._describe(position, c, f)}' has the shape "
                    f"{image.shape}, but '{reference}' has {first.shape}")
            if image.dtype != out.dtype:
                out = out.astype(np.result_type(out.dtype, image.dtype))
            out[i, j] = rotate_images(image, rotate, order=1, mode="edge") \
                if rotate else image
        return out

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Callable[[int, int, int], np.ndarray]]:
        """A function reading the image (position, channel, frame)."""
        if self.prototype is not None:
            yield lambda p, c, f: _read_file(self.image_path(p, c, f))
        elif self._tiff_layout is None:
            yield lambda p, c, f: _read_file(self.path)
        else:
            dims, frame_dim, channel_dim = self._tiff_layout
            with open_tiff(_existing(self.path)) as tif:
                def read(p: int, c: int, f: int) -> np.ndarray:
                    index = [0] * len(dims)
                    if frame_dim is not None:
                        index[frame_dim] = f
                    elif dims:  # pages are frames
                        index = list(np.unravel_index(f, dims))
                    if channel_dim is not None:
                        index[channel_dim] = c
                    page = int(np.ravel_multi_index(index, dims)) if dims else 0
                    return read_tiff_page(tif, page)
                yield read

    def _describe(self, position: int, channel: int, frame: int) -> str:
        if self.prototype is not None:
            return str(self.image_path(position, channel, frame))
        return f"{self.path} (channel {channel}, frame {frame})"

    # ----------------------------------------------------------- structure
    def _scan(self, prototype: str | None, fileorder: str | None) -> None:
        if prototype is None or fileorder is None:
            raise ValueError("A folder needs a prototype and a fileorder")
        pattern, count = _parse_prototype(prototype)
        if (len(fileorder) != count or len(set(fileorder)) != count
                or not set(fileorder) <= set(_AXES)):
            raise ValueError(f"fileorder {fileorder!r} must name each %d of the "
                             f"prototype {prototype!r} ({count}) once with the "
                             f"letters p (position), c (channel), f (frame)")
        self.prototype, self.fileorder = prototype, fileorder
        files = self.path.rglob("*") if "/" in prototype else self.path.iterdir()
        found: set[tuple[int, ...]] = set()
        for file in files:
            name = file.relative_to(self.path).as_posix()
            match = pattern.fullmatch(name)
            if match and file.is_file():
                numbers = tuple(int(g) for g in match.groups())
                if prototype % numbers == name:  # the canonical name only
                    by_axis = dict(zip(fileorder, numbers))
                    found.add(tuple(by_axis.get(a, 0) for a in _AXES))
        if not found:
            raise ExperimentNotFoundError(
                f"No file in '{self.path}' matches the prototype {prototype!r}")
        lows = np.min(list(found), axis=0)
        highs = np.max(list(found), axis=0)
        self.first_numbers = {a: int(low) for a, low in zip(_AXES, lows)}
        self.positions, self.channels, self.frames = (int(n) for n in highs - lows + 1)
        self._check_complete(found)

    def _check_complete(self, found: set[tuple[int, ...]]) -> None:
        shape = (self.positions, self.channels, self.frames)
        if len(found) == int(np.prod(shape)):
            return
        offsets = tuple(self.first_numbers[a] for a in _AXES)
        missing = [index for index in np.ndindex(*shape)
                   if tuple(i + o for i, o in zip(index, offsets)) not in found]
        names = ", ".join(f"'{self._file_name(dict(zip(_AXES, m)))}'"
                          for m in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise MissingImageFileError(
            f"The experiment folder '{self.path}' lacks {len(missing)} image "
            f"file(s) of its {self.positions} positions x {self.channels} channels "
            f"x {self.frames} frames: {names}{more}")

    def _file_name(self, index: dict[str, int]) -> str:
        assert self.prototype is not None and self.fileorder is not None
        return self.prototype % tuple(index[a] + self.first_numbers[a]
                                      for a in self.fileorder)

    def _open_file(self) -> None:
        self.positions = 1
        self.channels = self.frames = 1
        if self.path.suffix.lower() not in _TIFF_SUFFIXES:
            _read_file(self.path)  # fail now if unreadable
            return
        with open_tiff(self.path) as tif:
            try:
                series = tif.series[0]
                axes, shape = series.axes.upper(), series.shape
            except Exception as exc:  # foreign or broken file
                raise FileFormatError(f"Cannot read the TIFF file '{self.path}': "
                                      f"no image series found ({exc!r})") from exc
        dims = [(a, n) for a, n in zip(axes, shape) if a not in "YXS"]
        names = [a for a, _ in dims]
        frame_axis = "T" if "T" in names else "Z" if "Z" in names else None
        declared = frame_axis is not None or "C" in names
        if declared:
            odd = [f"{a}={n}" for a, n in dims if a not in (frame_axis, "C") and n > 1]
            if odd:
                raise FileFormatError(f"The TIFF file '{self.path}' has axes "
                                      f"{axes} of shape {shape}; cytolab reads T "
                                      f"(or Z), C, Y and X, not {', '.join(odd)}")
        frame_dim = names.index(frame_axis) if frame_axis else None
        channel_dim = names.index("C") if "C" in names else None
        sizes = tuple(n for _, n in dims)
        self.frames = (sizes[frame_dim] if frame_dim is not None
                       else 1 if declared else int(np.prod(sizes)))
        self.channels = sizes[channel_dim] if channel_dim is not None else 1
        if not declared:
            frame_dim = None  # pages in order are the frames
        self._tiff_layout = (sizes, frame_dim, channel_dim)

    def _names(self, channel_names: Sequence[str] | None) -> tuple[str, ...]:
        if channel_names is None:
            return tuple(str(i) for i in range(self.channels))
        names = tuple(channel_names)
        if len(names) != self.channels or len(set(names)) != len(names) \
                or not all(isinstance(n, str) for n in names):
            raise ValueError(f"channel_names must be {self.channels} distinct "
                             f"strings (the experiment has {self.channels} "
                             f"channels), got {list(names)}")
        return names

    # ------------------------------------------------------------ indexing
    @staticmethod
    def _check_index(what: str, index: Any, count: int) -> None:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not 0 <= index < count:
            raise ExperimentIndexError(f"{what.capitalize()} {index!r} is out of "
                                       f"range: the experiment has {count} "
                                       f"{what}s (0 to {count - 1})")

    def _channel_indices(self, channels: Any) -> list[int]:
        if channels is None:
            return list(range(self.channels))
        if isinstance(channels, str) or np.ndim(channels) == 0:
            channels = [channels]
        indices = []
        for channel in channels:
            if isinstance(channel, str) and channel in self.channel_names:
                indices.append(self.channel_names.index(channel))
            elif (isinstance(channel, (int, np.integer))
                  and not isinstance(channel, bool) and 0 <= channel < self.channels):
                indices.append(int(channel))
            else:
                raise UnknownChannelError(
                    f"Unknown channel {channel!r}; valid channels: names "
                    f"{list(self.channel_names)} or indices 0 to {self.channels - 1}")
        return indices

    def _frame_indices(self, frames: range | Sequence[int] | None) -> list[int]:
        if frames is None:
            return list(range(self.frames))
        frame_list = [frames] if isinstance(frames, (int, np.integer)) else list(frames)
        for frame in frame_list:
            self._check_index("frame", frame, self.frames)
        return [int(f) for f in frame_list]


# ------------------------------------------------------------------ prototypes
def _parse_prototype(prototype: str) -> tuple[re.Pattern, int]:
    """Regular expression matching the file names of a prototype, and the
    number of ``%d`` in it."""
    parts, count, pos = [], 0, 0
    for match in re.finditer(r"%(%|(0?)(\d*)([di])|.?)", prototype):
        parts.append(re.escape(prototype[pos:match.start()]))
        pos = match.end()
        if match.group(1) == "%":
            parts.append("%")
        elif match.group(4):
            width = int(match.group(3) or 0)
            parts.append(rf"(\d{{{width},}})" if match.group(2)
                         else r" *(\d+)" if width else r"(\d+)")
            count += 1
        else:
            raise ValueError(f"Invalid prototype {prototype!r}: only %d, %0Nd, "
                             f"%Nd and %% are allowed")
    parts.append(re.escape(prototype[pos:]))
    return re.compile("".join(parts)), count


def guess_prototype(names: Sequence[str], fileorder: str = "pcf"
                    ) -> tuple[str, str]:
    """Guess the prototype and fileorder of image file names.

    Parameters
    ----------
    names
        File names (without folders).
    fileorder
        Order of the axes given to numbers without a recognised name (see
        the module doc).

    Returns
    -------
    prototype, fileorder : str
        Fileorder has one letter per ``%d``; empty when no number varies.

    Examples
    --------
    >>> guess_prototype(["img_t01_c1.png", "img_t02_c1.png", "img_t01_c2.png"])
    ('img_t%02d_c%d.png', 'fc')
    >>> guess_prototype(["a001.tif", "a002.tif", "a010.tif"])
    ('a%03d.tif', 'f')
    """
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for name in names:
        path = pathlib.PurePath(name)
        tokens = re.split(r"(\d+)", path.stem)
        groups.setdefault((*tokens[0::2], path.suffix), []).append(tokens)
    if not groups:
        raise ValueError("No file names to guess a prototype from")
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    if len(ranked) > 1 and len(ranked[1][1]) == len(ranked[0][1]):
        examples = [f"'{''.join(tokens)}{key[-1]}'" for key, (tokens, *_) in ranked[:3]]
        raise ValueError(f"The file names follow several patterns equally often "
                         f"(e.g. {', '.join(examples)}); pass a prototype")
    key, members = ranked[0]
    literals, suffix = key[:-1], key[-1]
    prototype, axes = literals[0].replace("%", "%%"), []
    for j, literal in enumerate(literals[1:]):
        digits = [tokens[2 * j + 1] for tokens in members]
        if len({int(d) for d in digits}) == 1:
            prototype += digits[0]
        else:
            width = {len(d) for d in digits}
            prototype += f"%0{width.pop()}d" if len(width) == 1 and len(digits[0]) > 1 \
                else "%d"
            axes.append(_axis_word(prototype.rsplit("%", 1)[0]))
        prototype += literal.replace("%", "%%")
    return prototype + suffix, _assign_axes(axes, fileorder)


def _axis_word(text: str) -> str | None:
    """The axis the word at the end of `text` names, if any."""
    match = re.search(r"([a-z]+)[^a-z0-9]*$", text.lower())
    word = match.group(1) if match else ""
    return next((axis for axis, words in _AXIS_WORDS.items() if word in words), None)


def _assign_axes(axes: list[str | None], fileorder: str) -> str:
    named = [a for a in axes if a is not None]
    axes = [a if a is not None and named.count(a) == 1 else None for a in axes]
    free = [a for a in fileorder if a not in axes]
    unknown = axes.count(None)
    if unknown > len(free):
        raise ValueError(f"Cannot tell {unknown} numbers in the file names apart "
                         f"(only {len(free)} axes left of fileorder "
                         f"{fileorder!r}); pass a prototype")
    fill = iter(free[len(free) - unknown:])
    return "".join(a if a is not None else next(fill) for a in axes)


def _guess(folder: pathlib.Path, fileorder: str
           ) -> tuple[pathlib.Path | None, str | None, str | None]:
    """(single file, None, None) or (None, prototype, fileorder) of a folder."""
    names = sorted(p.name for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not names:
        raise ExperimentNotFoundError(
            f"The experiment folder '{folder}' holds no image files "
            f"({', '.join(IMAGE_SUFFIXES)})")
    if len(names) == 1:
        return folder / names[0], None, None
    prototype, order = guess_prototype(names, fileorder)
    if not order:
        raise ValueError(f"Cannot guess a prototype for the files in '{folder}': "
                         f"no number varies between them; pass a prototype")
    return None, prototype, order


# ---------------------------------------------------------------- image files
def _optional(name: str) -> Any:
    """Import an optional dependency of the ``timelapse`` extra."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"Reading time-lapse experiments needs {name}: "
                          f"{_INSTALL_HINT}") from exc


def _existing(path: pathlib.Path) -> pathlib.Path:
    """`path`, if the file (still) exists."""
    if not path.is_file():
        raise MissingImageFileError(f"The image file '{path}' does not exist")
    return path


def _read_file(path: pathlib.Path) -> np.ndarray:
    """The (first) image of a file as a 2-D array of the stored dtype."""
    return read_raw_image(_existing(path))
