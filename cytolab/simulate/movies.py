"""Time-lapse movies of growing bacteria, with complete ground truth.

:func:`simulate_mothermachine` films rod-shaped cells growing in the chambers
of a mother machine, :func:`simulate_agarpad` micro-colonies growing on an
agarose pad. Both return a :class:`MovieTruth`: the images, a label image per
frame and everything a segmentation, tracking and lineage pipeline should find
(who descends from whom, when cells divide or leave, their exact size, poles,
growth rate and fluorescence), so that such a pipeline can be scored (see
:mod:`cytolab.timelapse.evaluate`) and timed at any size.

The model
---------
Cells
    Capsules (a rectangle with two half-discs): a length ``L`` from pole tip
    to pole tip and a width ``w`` (about 10 px, between 9 and 11 px). A cell
    grows along its axis exponentially, ``L(t + 1) = L(t) * exp(r)``, with a
    rate ``r`` drawn for every cell cycle around the mean `growth_rate`
    (coefficient of variation `growth_noise`). It divides when it has added
    a length drawn around its birth length (an "adder": on average at
    twice its birth length, about 48 px at the default 24 px), into two
    slightly unequal halves (the mother's share is 0.5 with a standard
    deviation of 0.03), whose lengths add up to the length before division.
    The mother keeps its identifier and the half with its *old* pole; the
    daughter gets a new identifier, the mother's former new pole as its old
    pole, and a new pole where the cell constricted.
Mother machine
    A row of chambers (closed at the top, open at the bottom into a wide
    horizontal main channel) in a PDMS chip; cells are stacked along the
    chamber axis with a gap of 2 px between neighbours (so that label images
    always separate them) and 1 px below the closed end. Growing cells push
    the ones below them towards the opening; a cell whose centre passes the
    opening is washed away: it is gone on that frame (a daughter born there
    is seen on her first frame only). The cell at the closed end, with its
    old pole against the wall, is the "mother": it keeps its identifier for
    the whole movie.
Agar pad
    Founder cells at random positions and orientations grow into
    micro-colonies. Every frame, each cell turns by a small random angle
    (0.05 rad standard deviation) and overlapping cells are pushed apart
    (translation and rotation, iterated until every two cells are at least
    2 px apart). A cell whose axis no longer meets the field of view has
    left (so every cell on a frame has pixels in it); a cell divides only
    when both halves are at least 4 px in view, and a daughter is seen at
    least on her first frame.
Images
    Phase contrast: cells dark (at about half the background intensity)
    surrounded by a bright halo on a mid-gray background; PDMS walls of a
    mother machine slightly brighter, with a dark rim and a bright halo; a
    smooth illumination gradient fixed to the camera. Optional fluorescence
    channel: a weak background plus each cell's own intensity, which varies
    slowly (a random walk in log space, pulled back to the mean, inherited
    by the daughter), blurred by the optics. Camera noise (see `noise`) and
    16-bit quantization: every value is ``k / 65535`` for an integer ``k``,
    exactly what the image files store.
Drift and rotation
    With drift, the sample moves by a random walk of whole pixels (at most
    12 px from the first frame) along the image axes, after any rotation:
    shifting frame ``t`` by ``-drift[t]`` undoes it. With `rotation`, the
    whole scene is rotated by that many degrees counter-clockwise (as
    displayed, the y axis pointing down) around the image centre
    ``((W - 1) / 2, (H - 1) / 2)``, the convention of
    ``cv2.getRotationMatrix2D`` and ``scipy.ndimage.rotate``; rotating an
    image by ``-rotation`` undoes it.

Ground truth
------------
Coordinates are ``(y, x)`` in pixels, pixel ``(row, col)`` having its centre
at ``y = row, x = col``. A cell's label is the set of pixels whose centre lies
inside its capsule (see :func:`capsule_mask`), less any pixel next to another
cell (there is none unless cells were pressed together), so that labels of
different cells never touch, not even diagonally.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
import pathlib
import zipfile
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy import spatial

from ..errors import FileFormatError
from ..io.files import atomic_path

#: File name pattern of the image sequence written by the simulators
#: (channel, frame; both 0-based).
SEQUENCE_PATTERN = "Position00_Channel{channel:02d}_Frame{frame:03d}.tif"

#: Name of the ground-truth file in a movie folder.
TRUTH_FILE = "truth.npz"

_TRUTH_VERSION = 1
_TRUTH_KEYS = ("version", "kind", "n_channels", "labels", "mothers", "frames",
               "divisions", "exits", "length", "width", "area", "growth_rate",
               "fluo", "poles", "drift", "chambers", "cell_chamber", "rotation")
_LEVELS = 65535  # 16-bit images
# Adobe Deflate: lossless, read by tifffile and imageio without extra codecs
_TIFF_DEFLATE = [cv2.IMWRITE_TIFF_COMPRESSION, 8]
_CELL_GAP = 2.0  # px between the surfaces of two cells
_TOP_GAP = 1.0  # px between the closed end of a chamber and the first cell
_MAX_DRIFT = 12  # px
_DIVISION_SHARE_SD = 0.03
_WIDTH_RANGE = (9.0, 11.0)
_TURN_SD = 0.05  # rad per frame, agar pad
_VIEW_MARGIN = 4.0  # px: both halves of a dividing cell must be this far in view
_BIRTH_CV = 0.1  # of the initial birth lengths and the added lengths
# mother-machine layout [px]
_MM_MARGIN = 24  # PDMS left, right and above the chambers
_MM_BOX_MARGIN = 8  # chamber box around the lumen (sides and closed end)
_MM_SPACING = 16  # PDMS between two chamber boxes
_MM_MAIN_CHANNEL = 56
_CANVAS_PAD = 32  # static scene drawn this far beyond the image
# fluorescence
_FLUO_MEAN, _FLUO_SD, _FLUO_STEP, _FLUO_PULL = 0.35, 0.3, 0.05, 0.05
_FLUO_BACKGROUND = 0.04
# random streams (the seed sequence [seed, stream] of each)
_STREAM_CELLS, _STREAM_NOISE, _STREAM_SCENE, _STREAM_DRIFT = 0, 1, 2, 3
_STREAM_FLUO, _STREAM_FLUO_NOISE = 4, 5

_CELL_FIELDS = ("id", "mother", "chamber", "cy", "cx", "uy", "ux", "length",
                "width", "rate", "ldiv", "fluo")
_INT_FIELDS = ("id", "mother", "chamber")
Cells = dict[str, np.ndarray]


@dataclasses.dataclass(eq=False)
class MovieTruth:
    """A simulated time-lapse movie and its ground truth.

    Per-cell-per-frame quantities are arrays of shape ``(max_id + 1, T)``
    indexed ``[cellid, frame]`` (row 0, the background, is unused), NaN
    where the cell is not on that frame.

    Attributes
    ----------
    kind
        ``"mothermachine"`` or ``"agarpad"``.
    images
        ``(T, C, Y, X)`` float32 in [0, 1]: channel 0 phase contrast,
        channel 1 fluorescence (if simulated).
    labels
        ``(T, Y, X)`` uint16 label images (0 = background); a cell has the
        same identifier on all its frames; identifiers count up from 1.
    mothers
        ``{cellid: motherid or None}`` for every cell (None: on the first
        frame already).
    first_frame, last_frame
        ``{cellid: frame}``: the first and last frame a cell is on.
    divisions
        ``(frame, mother, daughter)`` per division, ``frame`` being the
        daughter's first frame.
    exits
        ``(frame, cellid)`` per cell that left the movie (washed out of a
        chamber or gone out of view); ``frame`` is the first frame without
        it. Every other cell is still there on the last frame.
    length, width, area
        Exact geometry of the capsule drawn [px, px²]: pole tip to pole tip,
        diameter, and ``pi w²/4 + w (L - w)``. The label pixel count
        approximates `area` (within a few % for whole cells).
    growth_rate
        The rate [1/frame] at which the cell grows on that frame: its length
        on the next frame is ``length * exp(growth_rate)`` unless it
        divides.
    fluo
        Fluorescence intensity of the cell (what it adds to fully covered
        pixels before the optical blur); NaN without fluorescence.
    poles
        ``(max_id + 1, T, 2, 2)``: ``[..., 0, :]`` the old pole tip and
        ``[..., 1, :]`` the new pole tip, ``(y, x)`` in image coordinates.
    drift
        ``(T, 2)`` int: ``(y, x)`` shift of the sample on each frame relative
        to the undrifted scene (the content moved down and right by it).
    chambers
        Mother machine: one box ``(xtl, ytl, xbr, ybr)`` per chamber (``br``
        exclusive): the lumen with 8 px of wall left, right and above it (32
        px wide at the default 16 px lumen), down to the opening. Boxes are
        in scene coordinates: the image after undoing drift and rotation.
    cell_chamber
        Mother machine: ``{cellid: chamber index}``.
    rotation
        Rotation of the scene in degrees (see the module documentation).
    """

    kind: str
    images: np.ndarray
    labels: np.ndarray
    mothers: dict[int, int | None]
    first_frame: dict[int, int]
    last_frame: dict[int, int]
    divisions: list[tuple[int, int, int]]
    exits: list[tuple[int, int]]
    length: np.ndarray
    width: np.ndarray
    area: np.ndarray
    growth_rate: np.ndarray
    fluo: np.ndarray
    poles: np.ndarray
    drift: np.ndarray
    chambers: list[tuple[int, int, int, int]]
    cell_chamber: dict[int, int]
    rotation: float = 0.0

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.labels.shape[0])

    @property
    def cell_ids(self) -> list[int]:
        """Identifiers of all cells, sorted."""
        return sorted(self.first_frame)

    def cells_on(self, frame: int) -> np.ndarray:
        """Sorted identifiers of the cells on `frame`."""
        return np.flatnonzero(np.isfinite(self.length[:, frame]))

    def save(self, folder: str | os.PathLike) -> pathlib.Path:
        """Write the movie as an image sequence plus ``truth.npz``.

        Images go to ``Position00_Channel%02d_Frame%03d.tif`` (uint16, one
        file per channel and frame, both 0-based), everything else to
        :data:`TRUTH_FILE`. The folder is created if needed; earlier files
        of that name pattern beyond this movie's channels and frames are
        removed, other files are left alone. Each file is written under a
        temporary name and renamed when complete; the truth file comes last.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = set()
        for frame in range(self.images.shape[0]):
            for channel in range(self.images.shape[1]):
                name = SEQUENCE_PATTERN.format(channel=channel, frame=frame)
                ok, data = cv2.imencode(".tif", _to_levels(self.images[frame, channel]),
                                        _TIFF_DEFLATE)
                if not ok:  # pragma: no cover - OpenCV without TIFF support
                    raise FileFormatError(f"{folder / name}: OpenCV could not "
                                          "encode the image as TIFF")
                with atomic_path(folder / name) as tmp:
                    tmp.write_bytes(data.tobytes())
                written.add(name)
        for old in folder.glob("Position00_Channel*_Frame*.tif"):
            if old.name not in written:
                old.unlink()
        with atomic_path(folder / TRUTH_FILE) as tmp, open(tmp, "wb") as fd:
            np.savez_compressed(fd, **self._arrays())
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> MovieTruth:
        """Read a movie written by :meth:`save` (exactly as it was).

        Raises
        ------
        cytolab.errors.FileFormatError
            If the truth file or an image is missing or unreadable.
        """
        folder = pathlib.Path(folder)
        path = folder / TRUTH_FILE
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise FileFormatError(f"{path}: cannot read the movie truth "
                                  f"({exc})") from exc
        missing = sorted(set(_TRUTH_KEYS) - set(arrays))
        if missing or int(arrays["version"]) != _TRUTH_VERSION:
            raise FileFormatError(f"{path}: not a movie truth file of version "
                                  f"{_TRUTH_VERSION} (missing: {missing})")
        n_frames, height, width = arrays["labels"].shape
        n_channels = int(arrays["n_channels"])
        images = np.empty((n_frames, n_channels, height, width), np.float32)
        for frame in range(n_frames):
            for channel in range(n_channels):
                images[frame, channel] = _read_levels(
                    folder / SEQUENCE_PATTERN.format(channel=channel, frame=frame),
                    (height, width))
        return cls._from_arrays(arrays, images)

    def _arrays(self) -> dict[str, np.ndarray]:
        mothers = np.array([(c, 0 if m is None else m)
                            for c, m in sorted(self.mothers.items())],
                           np.int64).reshape(-1, 2)
        frames = np.array([(c, self.first_frame[c], self.last_frame[c])
                           for c in sorted(self.first_frame)],
                          np.int64).reshape(-1, 3)
        return {
            "version": np.array(_TRUTH_VERSION), "kind": np.array(self.kind),
            "n_channels": np.array(self.images.shape[1]),
            "labels": self.labels, "mothers": mothers, "frames": frames,
            "divisions": np.array(self.divisions, np.int64).reshape(-1, 3),
            "exits": np.array(self.exits, np.int64).reshape(-1, 2),
            "length": self.length, "width": self.width, "area": self.area,
            "growth_rate": self.growth_rate, "fluo": self.fluo,
            "poles": self.poles, "drift": self.drift,
            "chambers": np.array(self.chambers, np.int64).reshape(-1, 4),
            "cell_chamber": np.array(sorted(self.cell_chamber.items()),
                                     np.int64).reshape(-1, 2),
            "rotation": np.array(self.rotation),
        }

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], images: np.ndarray
                     ) -> MovieTruth:
        def pairs(key: str) -> list[tuple[int, ...]]:
            return [tuple(int(v) for v in row) for row in arrays[key]]

        frames = pairs("frames")
        return cls(
            kind=str(arrays["kind"]), images=images, labels=arrays["labels"],
            mothers={c: (m or None) for c, m in pairs("mothers")},
            first_frame={c: f for c, f, _ in frames},
            last_frame={c: last for c, _, last in frames},
            divisions=pairs("divisions"), exits=pairs("exits"),
            length=arrays["length"], width=arrays["width"], area=arrays["area"],
            growth_rate=arrays["growth_rate"], fluo=arrays["fluo"],
            poles=arrays["poles"], drift=arrays["drift"],
            chambers=pairs("chambers"), cell_chamber=dict(pairs("cell_chamber")),
            rotation=float(arrays["rotation"]))


def simulate_mothermachine(n_frames: int = 60, n_chambers: int = 6, *,
                           seed: int | None = 0,
                           path: str | os.PathLike | None = None,
                           fluorescence: bool = False,
                           drift: bool | npt.ArrayLike = False,
                           rotation: float = 0.0, noise: float = 0.02,
                           growth_rate: float = 0.03, growth_noise: float = 0.1,
                           birth_length: float = 24.0,
                           chamber_length: int = 232, chamber_width: int = 16,
                           cell_width: float = 10.0) -> MovieTruth:
    """Simulate a mother-machine movie with ground truth.

    The model and the ground truth are described in
    :mod:`cytolab.simulate.movies`. From top to bottom the image shows
    24 px of PDMS, the chambers (8 px of wall above a lumen `chamber_length`
    px long and `chamber_width` px wide, side by side every ``chamber_width
    + 32`` px), a 56 px main channel and 24 px of PDMS again: 344 x 320 px
    at the defaults.

    Parameters
    ----------
    n_frames
        Number of frames (>= 1).
    n_chambers
        Number of chambers (>= 1).
    seed
        Seed of the random generators (>= 0); None gives a different movie
        every time. Cells, images, drift and fluorescence have separate
        random streams: switching fluorescence on changes neither the phase
        images nor the labels.
    path
        If given, the folder the movie is written to (see
        :meth:`MovieTruth.save`).
    fluorescence
        Add a fluorescence channel.
    drift
        True for a random drift, or a ``(n_frames, 2)`` integer array of
        ``(y, x)`` shifts per frame; False for none.
    rotation
        Rotation of the scene [degrees].
    noise
        Standard deviation of the camera noise at an intensity of 0.5; a
        quarter of the variance is read noise, the rest shot noise
        proportional to the intensity.
    growth_rate
        Mean growth rate [1/frame].
    growth_noise
        Coefficient of variation of the growth rate between cell cycles.
    birth_length
        Typical length of a cell at birth [px].
    chamber_length, chamber_width
        Size of a chamber's lumen [px].
    cell_width
        Typical width of the cells [px] (each cell within ±1 px of it), in
        [4, 20]; e.g. to simulate another species.

    Returns
    -------
    MovieTruth
        Images and ground truth.

    Examples
    --------
    >>> truth = simulate_mothermachine(n_frames=30, n_chambers=2, seed=1)
    >>> truth.images.shape, truth.labels.dtype.name
    ((30, 1, 344, 128), 'uint16')
    >>> truth.chambers
    [(24, 24, 56, 264), (72, 24, 104, 264)]
    >>> top = truth.labels[:, 33, 40]  # just below the closed end: the mother
    >>> bool(np.all(top == top[0])), truth.mothers[int(top[0])] is None
    (True, True)
    """
    _check_common(n_frames, seed, noise, growth_rate, growth_noise, birth_length)
    _check_positive_int("n_chambers", n_chambers)
    _check_positive_int("chamber_width", chamber_width)
    _check_positive_int("chamber_length", chamber_length)
    if not math.isfinite(rotation):
        raise ValueError(f"rotation must be a finite angle in degrees, got "
                         f"{rotation}")
    if not 4 <= cell_width <= 20:
        raise ValueError(f"cell_width must be in [4, 20] px, got {cell_width}")
    if not chamber_width > cell_width + _WIDTH_RANGE[1] - 10:
        raise ValueError(f"chamber_width must be > {cell_width + 1:g} px (the "
                         f"widest cell), got {chamber_width}")
    if not chamber_length >= 3 * birth_length:
        raise ValueError(f"chamber_length must hold a few cells (>= 3 * "
                         f"birth_length = {3 * birth_length:g} px), got "
                         f"{chamber_length}")
    seed = _seed(seed)
    layout = _MotherMachine(n_chambers, int(chamber_length), int(chamber_width))
    params = _GrowthParams(growth_rate, growth_noise, birth_length, cell_width)
    rng = np.random.default_rng([seed, _STREAM_CELLS])
    cells = layout.initial_cells(rng, params)

    def step(cells: Cells) -> Cells:
        return layout.stack(_divide(_grow(cells), rng, params))

    truth = _film("mothermachine", layout.shape, layout.background, cells, step,
                  layout.exited, seed=seed, n_frames=n_frames,
                  fluorescence=fluorescence, drift=drift, rotation=rotation,
                  noise=noise)
    truth.chambers = layout.boxes()
    if path is not None:
        truth.save(path)
    return truth


def simulate_agarpad(n_frames: int = 40, *, seed: int | None = 0,
                     path: str | os.PathLike | None = None, n_founders: int = 24,
                     shape: tuple[int, int] = (512, 512),
                     fluorescence: bool = False,
                     drift: bool | npt.ArrayLike = False, noise: float = 0.02,
                     growth_rate: float = 0.06, growth_noise: float = 0.1,
                     birth_length: float = 24.0) -> MovieTruth:
    """Simulate micro-colonies growing on an agar pad, with ground truth.

    The model and the ground truth are described in
    :mod:`cytolab.simulate.movies`. Founders are placed at least 40 px from
    the border and, where there is room, 60 px from each other. At the
    defaults the 24 founders grow into about 250 cells in 40 frames.

    Parameters
    ----------
    n_frames
        Number of frames (>= 1).
    seed
        Seed of the random generators (>= 0); None gives a different movie
        every time.
    path
        If given, the folder the movie is written to (see
        :meth:`MovieTruth.save`).
    n_founders
        Number of cells on the first frame (>= 1).
    shape
        Image height and width [px] (each >= 128).
    fluorescence
        Add a fluorescence channel.
    drift
        True for a random drift, or a ``(n_frames, 2)`` integer array of
        ``(y, x)`` shifts per frame; False for none.
    noise
        Standard deviation of the camera noise at an intensity of 0.5 (see
        :func:`simulate_mothermachine`).
    growth_rate
        Mean growth rate [1/frame].
    growth_noise
        Coefficient of variation of the growth rate between cell cycles.
    birth_length
        Typical length of a cell at birth [px].

    Returns
    -------
    MovieTruth
        Images and ground truth (no chambers).

    Examples
    --------
    >>> truth = simulate_agarpad(10, n_founders=3, shape=(128, 160), seed=2)
    >>> truth.images.shape
    (10, 1, 128, 160)
    >>> len(truth.cells_on(0)), len(truth.cells_on(9)), len(truth.divisions)
    (3, 6, 3)
    """
    _check_common(n_frames, seed, noise, growth_rate, growth_noise, birth_length)
    _check_positive_int("n_founders", n_founders)
    if (len(shape) != 2 or not all(isinstance(s, numbers.Integral) and s >= 128
                                   for s in shape)):
        raise ValueError(f"shape must be two integers >= 128, got {shape!r}")
    seed = _seed(seed)
    height, width = int(shape[0]), int(shape[1])
    params = _GrowthParams(growth_rate, growth_noise, birth_length)
    rng = np.random.default_rng([seed, _STREAM_CELLS])
    cells = _founders(rng, params, n_founders, height, width)

    def step(cells: Cells) -> Cells:
        cells = _divide(_grow(cells), rng, params,
                        allowed=lambda c: _in_view(c, height, width, _VIEW_MARGIN))
        return _relax(_turn(cells, rng))

    def exited(cells: Cells) -> np.ndarray:
        return ~_in_view(cells, height, width, 0.0)

    background = _agar_background(height, width)
    truth = _film("agarpad", (height, width), background, cells, step, exited,
                  seed=seed, n_frames=n_frames, fluorescence=fluorescence,
                  drift=drift, rotation=0.0, noise=noise)
    if path is not None:
        truth.save(path)
    return truth


def capsule_mask(shape: tuple[int, int], pole_a: npt.ArrayLike,
                 pole_b: npt.ArrayLike, width: float) -> np.ndarray:
    """Pixels whose centre lies inside a capsule (a cell's footprint).

    Parameters
    ----------
    shape
        Image height and width [px].
    pole_a, pole_b
        ``(y, x)`` of the two pole tips, e.g. ``truth.poles[cell, frame]``.
    width
        Width (diameter) of the capsule [px].

    Returns
    -------
    np.ndarray
        Boolean array of `shape`.

    Examples
    --------
    >>> capsule_mask((5, 9), (2, 1), (2, 7), 3).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 1, 1, 1, 0, 0],
           [0, 1, 1, 1, 1, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    """
    a = np.asarray(pole_a, np.float64)
    b = np.asarray(pole_b, np.float64)
    if a.shape != (2,) or b.shape != (2,):
        raise ValueError("pole_a and pole_b must be (y, x) pairs")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    length = float(np.hypot(*(a - b)))
    uy, ux = ((a - b) / length) if length > 0 else (1.0, 0.0)
    centre = (a + b) / 2
    dy = np.arange(shape[0], dtype=np.float64)[:, None] - centre[0]
    dx = np.arange(shape[1], dtype=np.float64)[None, :] - centre[1]
    return _surface_distance(dy, dx, uy, ux, length, width) <= 0


# --- cell dynamics -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _GrowthParams:
    rate: float
    rate_cv: float
    birth_length: float
    width: float = 10.0

    def rates(self, rng: np.random.Generator, n: int) -> np.ndarray:
        rate = self.rate * (1 + self.rate_cv * rng.standard_normal(n))
        return np.maximum(rate, self.rate * 0.1)

    def added(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Lengths added until the next division (the adder)."""
        return self.birth_length * np.clip(
            1 + _BIRTH_CV * rng.standard_normal(n), 0.6, 1.4)

    def widths(self, rng: np.random.Generator, n: int) -> np.ndarray:
        low, high = (self.width + w - 10.0 for w in _WIDTH_RANGE)
        return np.clip(self.width + 0.4 * rng.standard_normal(n), low, high)

    def newborn(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Random cells somewhere in their cycle (for the first frame)."""
        birth = self.added(rng, n)
        ldiv = birth + self.added(rng, n)
        length = birth * (ldiv / birth) ** rng.uniform(0, 0.95, n)
        return {"length": length, "ldiv": ldiv, "width": self.widths(rng, n),
                "rate": self.rates(rng, n)}


def _make_cells(n: int, **fields: Any) -> Cells:
    cells = {key: np.zeros(n, np.int64 if key in _INT_FIELDS else np.float64)
             for key in _CELL_FIELDS}
    for key, value in fields.items():
        cells[key][:] = value
    return cells


def _take(cells: Cells, index: np.ndarray) -> Cells:
    return {key: value[index] for key, value in cells.items()}


def _concat(a: Cells, b: Cells) -> Cells:
    return {key: np.concatenate([a[key], b[key]]) for key in a}


def _grow(cells: Cells) -> Cells:
    cells = dict(cells)
    cells["length"] = cells["length"] * np.exp(cells["rate"])
    return cells


def _divide(cells: Cells, rng: np.random.Generator, params: _GrowthParams,
            allowed: Callable[[Cells], np.ndarray] | None = None) -> Cells:
    """Split every cell that reached its division length.

    The mother keeps the part with its old pole (``+u`` end); the daughter
    (identifier 0 until it is assigned one) points the other way. With
    `allowed` (a function of cells), a cell divides only if it is True for
    both halves; otherwise it waits.
    """
    split = np.flatnonzero(cells["length"] >= cells["ldiv"])
    share = np.clip(0.5 + _DIVISION_SHARE_SD * rng.standard_normal(split.size),
                    0.4, 0.6)
    mother, daughter = _halves(_take(cells, split), share)
    if allowed is not None and split.size:
        ok = allowed(mother) & allowed(daughter)
        split, share = split[ok], share[ok]
        mother, daughter = _take(mother, ok), _take(daughter, ok)
    n = split.size
    mother["rate"], daughter["rate"] = params.rates(rng, n), params.rates(rng, n)
    mother["ldiv"] = mother["length"] + params.added(rng, n)
    daughter["ldiv"] = daughter["length"] + params.added(rng, n)
    cells = {key: value.copy() for key, value in cells.items()}
    for key, value in mother.items():
        cells[key][split] = value
    return _concat(cells, daughter)


def _halves(cells: Cells, share: np.ndarray) -> tuple[Cells, Cells]:
    """The mother's (``share`` of the length) and the daughter's part."""
    length = cells["length"]
    mother, daughter = dict(cells), dict(cells)
    mother["length"] = share * length
    daughter["length"] = length - mother["length"]
    for axis in ("y", "x"):
        u, centre = cells["u" + axis], cells["c" + axis]
        mother["c" + axis] = centre + (length - mother["length"]) / 2 * u
        daughter["c" + axis] = centre - (length - daughter["length"]) / 2 * u
        daughter["u" + axis] = -u
    daughter["mother"] = cells["id"]
    daughter["id"] = np.zeros(len(length), np.int64)
    return mother, daughter


class _MotherMachine:
    """Layout of the chip and the mechanics of cells in its chambers."""

    def __init__(self, n_chambers: int, length: int, width: int) -> None:
        self.n = n_chambers
        self.lumen_length, self.lumen_width = length, width
        self.box_width = width + 2 * _MM_BOX_MARGIN
        self.pitch = self.box_width + _MM_SPACING
        self.lumen_top = _MM_MARGIN + _MM_BOX_MARGIN
        self.opening = self.lumen_top + length  # first row of the main channel
        height = self.opening + _MM_MAIN_CHANNEL + _MM_MARGIN
        self.shape = (height, 2 * _MM_MARGIN + n_chambers * self.pitch - _MM_SPACING)

    def lumen_x0(self, chamber: np.ndarray | int) -> Any:
        return _MM_MARGIN + _MM_BOX_MARGIN + np.asarray(chamber) * self.pitch

    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [(int(x0) - _MM_BOX_MARGIN, _MM_MARGIN,
                 int(x0) + self.lumen_width + _MM_BOX_MARGIN, self.opening)
                for x0 in self.lumen_x0(np.arange(self.n))]

    def background(self, rng: np.random.Generator, pad: int) -> np.ndarray:
        height, width = self.shape
        liquid = np.zeros((height + 2 * pad, width + 2 * pad), np.float32)
        for x0 in self.lumen_x0(np.arange(self.n)):
            liquid[pad + self.lumen_top:pad + self.opening,
                   pad + x0:pad + x0 + self.lumen_width] = 1
        liquid[pad + self.opening:pad + self.opening + _MM_MAIN_CHANNEL] = 1
        return _phase_scene(rng, 1 - liquid)

    def initial_cells(self, rng: np.random.Generator, params: _GrowthParams
                      ) -> Cells:
        parts = []
        for chamber in range(self.n):
            n = int(self.lumen_length // (params.birth_length * 0.8)) + 2
            new = params.newborn(rng, n)
            cells = _make_cells(n, chamber=chamber, **new)
            # the top cell has its old pole against the closed end
            cells["uy"] = np.where(np.arange(n) == 0, -1.0,
                                   rng.choice([-1.0, 1.0], n))
            centre = self.lumen_x0(chamber) + (self.lumen_width - 1) / 2
            room = (self.lumen_width - cells["width"]) / 2 - 1
            cells["cx"] = centre + np.clip(0.5 * rng.standard_normal(n), -room, room)
            cells["cy"] = np.arange(n, dtype=np.float64)  # order for stacking
            parts.append(cells)
        cells = parts[0]
        for part in parts[1:]:
            cells = _concat(cells, part)
        return self.stack(cells)

    def stack(self, cells: Cells) -> Cells:
        """Stack the cells of each chamber from the closed end, in order."""
        cells = _take(cells, np.lexsort((cells["cy"], cells["chamber"])))
        pitch = cells["length"] + _CELL_GAP
        after = np.cumsum(pitch)
        chamber = cells["chamber"]
        first = np.flatnonzero(np.r_[True, chamber[1:] != chamber[:-1]])
        start = np.repeat(after[first] - pitch[first],
                          np.diff(np.r_[first, len(chamber)]))
        top = self.lumen_top - 0.5 + _TOP_GAP + (after - pitch - start)
        cells["cy"] = top + cells["length"] / 2
        return cells

    def exited(self, cells: Cells) -> np.ndarray:
        return cells["cy"] > self.opening - 0.5


def _founders(rng: np.random.Generator, params: _GrowthParams, n: int,
              height: int, width: int) -> Cells:
    margin, spacing = 40.0, 60.0
    ys, xs = [], []
    for _ in range(n):
        for _attempt in range(50):
            y = rng.uniform(margin, height - margin)
            x = rng.uniform(margin, width - margin)
            if all(math.hypot(y - a, x - b) >= spacing for a, b in zip(ys, xs)):
                break
        ys.append(y)
        xs.append(x)
    angle = rng.uniform(0, 2 * np.pi, n)
    cells = _make_cells(n, cy=ys, cx=xs, uy=np.sin(angle), ux=np.cos(angle),
                        **params.newborn(rng, n))
    return _relax(cells)


def _relax(cells: Cells, max_iter: int = 400, tol: float = 0.02) -> Cells:
    """Push overlapping cells apart until all are `_CELL_GAP` apart.

    Each iteration finds every pair of cells closer than the gap (closest
    points of their axes), moves both by half the overlap along the line
    joining those points and turns them by the torque of that push.
    """
    cells = {key: value.copy() for key, value in cells.items()}
    if len(cells["id"]) < 2:
        return cells
    radius = cells["width"] / 2
    half = np.maximum(cells["length"] / 2 - radius, 0)
    inertia = 2 * (half ** 2 / 3 + radius ** 2)
    centre = np.stack([cells["cy"], cells["cx"]], axis=1)
    axis = np.stack([cells["uy"], cells["ux"]], axis=1)
    reach = 2 * float(cells["length"].max()) + _CELL_GAP + 8
    n = len(half)
    for it in range(max_iter):
        if it % 10 == 0:
            pairs = spatial.cKDTree(centre).query_pairs(
                reach / 2, output_type="ndarray")
            if not len(pairs):
                break
            i, j = pairs[:, 0], pairs[:, 1]
        s, t = _closest_on_axes(centre[i], axis[i], half[i], centre[j], axis[j],
                                half[j])
        gap = (centre[i] + s[:, None] * axis[i]) - (centre[j] + t[:, None] * axis[j])
        dist = np.hypot(gap[:, 0], gap[:, 1])
        overlap = radius[i] + radius[j] + _CELL_GAP - dist
        if overlap.max() < tol:
            break
        hit = overlap > 0
        normal = np.where(dist[hit, None] > 1e-9,
                          gap[hit] / np.maximum(dist[hit], 1e-9)[:, None],
                          np.stack([axis[i[hit], 1], -axis[i[hit], 0]], axis=1))
        push = 0.5 * overlap[hit, None] * normal
        d_centre = np.zeros_like(centre)
        d_axis = np.zeros_like(axis)
        for who, arm, sign in ((i[hit], s[hit], 1.0), (j[hit], t[hit], -1.0)):
            move = sign * push
            across = move - np.sum(move * axis[who], axis=1)[:, None] * axis[who]
            turn = arm[:, None] * across / inertia[who, None]
            for k in range(2):
                d_centre[:, k] += np.bincount(who, move[:, k], minlength=n)
                d_axis[:, k] += np.bincount(who, turn[:, k], minlength=n)
        centre += 0.5 * d_centre
        axis += 0.5 * d_axis
        axis /= np.hypot(axis[:, 0], axis[:, 1])[:, None]
    cells["cy"], cells["cx"] = centre[:, 0], centre[:, 1]
    cells["uy"], cells["ux"] = axis[:, 0], axis[:, 1]
    return cells


def _closest_on_axes(ci: np.ndarray, ui: np.ndarray, hi: np.ndarray,
                     cj: np.ndarray, uj: np.ndarray, hj: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``s, t`` of the closest points ``ci + s ui``, ``cj + t uj``.

    The axes are segments ``|s| <= hi``, ``|t| <= hj`` (unit directions).
    """
    w = ci - cj
    b = np.sum(ui * uj, axis=1)
    d = np.sum(ui * w, axis=1)
    e = np.sum(uj * w, axis=1)
    denom = 1 - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-9, (b * e - d) / denom, 0.0)
    s = np.clip(s, -hi, hi)
    t = np.clip(e + b * s, -hj, hj)
    s = np.clip(b * t - d, -hi, hi)
    return s, t


def _in_view(cells: Cells, height: int, width: int, margin: float
             ) -> np.ndarray:
    """Whether the axis of each cell meets the image, `margin` px inside.

    With a margin of 0, the pixel nearest to such a point of the axis lies
    inside the cell: every cell in view has at least one pixel.
    """
    half = np.maximum(cells["length"] / 2 - cells["width"] / 2, 0)
    lo, hi = -half, half.copy()
    for axis, size in (("y", height), ("x", width)):
        c, u = cells["c" + axis], cells["u" + axis]
        low, high = margin - c, size - 1 - margin - c
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = low / u, high / u
        flat = np.abs(u) < 1e-12
        lo = np.where(flat, np.where((low <= 0) & (high >= 0), lo, np.inf),
                      np.maximum(lo, np.minimum(a, b)))
        hi = np.where(flat, hi, np.minimum(hi, np.maximum(a, b)))
    return lo <= hi


def _turn(cells: Cells, rng: np.random.Generator) -> Cells:
    """Turn every cell by a small random angle (rotational diffusion)."""
    angle = _TURN_SD * rng.standard_normal(len(cells["id"]))
    cos, sin = np.cos(angle), np.sin(angle)
    uy, ux = cells["uy"], cells["ux"]
    return {**cells, "uy": cos * uy + sin * ux, "ux": cos * ux - sin * uy}


def _fluo_step(rng: np.random.Generator, cells: Cells, first: bool) -> None:
    """Random walk of the log intensity, pulled towards the mean."""
    n = len(cells["id"])
    mean = math.log(_FLUO_MEAN)
    if first:
        cells["fluo"] = np.exp(mean + _FLUO_SD * rng.standard_normal(n))
        return
    log = np.log(cells["fluo"])
    cells["fluo"] = np.exp(log + _FLUO_PULL * (mean - log)
                           + _FLUO_STEP * rng.standard_normal(n))


# --- filming ---------------------------------------------------------------


class _Recorder:
    """Collects the state of every cell on every frame into a MovieTruth."""

    def __init__(self) -> None:
        self.rows: list[dict[str, np.ndarray]] = []
        self.mothers: dict[int, int | None] = {}
        self.divisions: list[tuple[int, int, int]] = []
        self.exits: list[tuple[int, int]] = []
        self.next_id = 1

    def name_new_cells(self, cells: Cells, frame: int) -> None:
        new = np.flatnonzero(cells["id"] == 0)
        cells["id"][new] = self.next_id + np.arange(len(new))
        self.next_id += len(new)
        for cell, mother in zip(cells["id"][new].tolist(),
                                cells["mother"][new].tolist()):
            self.mothers[cell] = mother or None
            if mother:
                self.divisions.append((frame, mother, cell))
        cells["mother"][new] = 0

    def record(self, frame: int, cells: Cells, matrix: np.ndarray) -> None:
        cy, cx = _apply(matrix, cells["cy"], cells["cx"])
        uy, ux = _apply(matrix, cells["uy"], cells["ux"], translate=False)
        half = cells["length"] / 2
        self.rows.append({
            "frame": np.full(len(cy), frame), "id": cells["id"].copy(),
            "chamber": cells["chamber"].copy(),
            "length": cells["length"].copy(), "width": cells["width"].copy(),
            "rate": cells["rate"].copy(), "fluo": cells["fluo"].copy(),
            "old": np.stack([cy + half * uy, cx + half * ux], axis=1),
            "new": np.stack([cy - half * uy, cx - half * ux], axis=1)})

    def truth(self, kind: str, images: np.ndarray, labels: np.ndarray,
              drift: np.ndarray, rotation: float, fluorescence: bool
              ) -> MovieTruth:
        rows = {key: np.concatenate([r[key] for r in self.rows])
                for key in self.rows[0]}
        shape = (self.next_id, len(labels))
        index = (rows["id"], rows["frame"])

        def table(values: np.ndarray) -> np.ndarray:
            out = np.full(shape, np.nan)
            out[index] = values
            return out

        width = rows["width"]
        poles = np.full(shape + (2, 2), np.nan)
        poles[index] = np.stack([rows["old"], rows["new"]], axis=1)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for cell, frame in zip(rows["id"].tolist(), rows["frame"].tolist()):
            first.setdefault(cell, frame)
            last[cell] = frame
        return MovieTruth(
            kind=kind, images=images, labels=labels, mothers=dict(self.mothers),
            first_frame=first, last_frame=last, divisions=list(self.divisions),
            exits=list(self.exits), length=table(rows["length"]),
            width=table(width),
            area=table(np.pi * width ** 2 / 4 + width * (rows["length"] - width)),
            growth_rate=table(rows["rate"]),
            fluo=table(rows["fluo"] if fluorescence else np.nan),
            poles=poles, drift=drift, chambers=[],
            cell_chamber=(dict(zip(rows["id"].tolist(), rows["chamber"].tolist()))
                          if kind == "mothermachine" else {}),
            rotation=float(rotation))


def _film(kind: str, shape: tuple[int, int],
          background: Callable[[np.random.Generator, int], np.ndarray],
          cells: Cells, step: Callable[[Cells], Cells],
          exited: Callable[[Cells], np.ndarray], *, seed: int, n_frames: int,
          fluorescence: bool, drift: bool | npt.ArrayLike, rotation: float,
          noise: float) -> MovieTruth:
    """Run the cell dynamics and draw, record and image every frame."""
    height, width = shape
    shifts = _drift_path(seed, n_frames, drift)
    scene = background(np.random.default_rng([seed, _STREAM_SCENE]), _CANVAS_PAD)
    illumination = _illumination(np.random.default_rng([seed, _STREAM_SCENE, 1]),
                                 height, width)
    camera = np.random.default_rng([seed, _STREAM_NOISE])
    fluo_rng = np.random.default_rng([seed, _STREAM_FLUO])
    fluo_camera = np.random.default_rng([seed, _STREAM_FLUO_NOISE])
    recorder = _Recorder()
    n_channels = 2 if fluorescence else 1
    images = np.empty((n_frames, n_channels, height, width), np.float32)
    labels = np.empty((n_frames, height, width), np.uint16)
    for frame in range(n_frames):
        if frame:
            cells = step(cells)
        # cells that do not fit on frame 0 are never seen; a daughter is
        # seen at least on the frame of her birth
        gone = exited(cells)
        if frame:
            gone &= cells["id"] > 0
            recorder.exits.extend((frame, int(c)) for c in cells["id"][gone])
        cells = _take(cells, ~gone)
        _fluo_step(fluo_rng, cells, first=frame == 0)
        recorder.name_new_cells(cells, frame)
        if recorder.next_id > np.iinfo(np.uint16).max + 1:
            raise ValueError("more than 65535 cells do not fit uint16 labels: "
                             "use fewer frames, founders or chambers")
        matrix = _scene_to_image(shape, rotation, shifts[frame])
        recorder.record(frame, cells, matrix)
        labels[frame], cover, light = _draw_cells(shape, cells, matrix)
        back = cv2.warpAffine(scene, _canvas_matrix(matrix), (width, height),
                              flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        images[frame, 0] = _quantize(_camera(
            camera, _phase_image(back, cover) * illumination, noise))
        if fluorescence:
            glow = cv2.GaussianBlur(light, (0, 0), 1.0)
            images[frame, 1] = _quantize(_camera(
                fluo_camera, (_FLUO_BACKGROUND + glow) * illumination, noise))
    return recorder.truth(kind, images, labels, shifts, rotation, fluorescence)


def _scene_to_image(shape: tuple[int, int], rotation: float,
                    shift: np.ndarray) -> np.ndarray:
    """cv2 affine matrix mapping scene ``(x, y)`` to image ``(x, y)``."""
    height, width = shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2),
                                     float(rotation), 1.0)
    matrix[:, 2] += (shift[1], shift[0])
    return matrix


def _canvas_matrix(matrix: np.ndarray) -> np.ndarray:
    """The same map for the padded scene canvas."""
    out = matrix.copy()
    out[:, 2] -= matrix[:, :2] @ np.array([_CANVAS_PAD, _CANVAS_PAD], np.float64)
    return out


def _apply(matrix: np.ndarray, y: np.ndarray, x: np.ndarray,
           translate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    new_x = matrix[0, 0] * x + matrix[0, 1] * y
    new_y = matrix[1, 0] * x + matrix[1, 1] * y
    if translate:
        new_x, new_y = new_x + matrix[0, 2], new_y + matrix[1, 2]
    return new_y, new_x


def _drift_path(seed: int, n_frames: int, drift: bool | npt.ArrayLike
                ) -> np.ndarray:
    if drift is True:
        rng = np.random.default_rng([seed, _STREAM_DRIFT])
        steps = rng.choice([-1, 0, 0, 1], size=(n_frames, 2))
        steps[0] = 0
        return np.clip(np.cumsum(steps, axis=0), -_MAX_DRIFT, _MAX_DRIFT
                       ).astype(np.int64)
    if drift is False or drift is None:
        return np.zeros((n_frames, 2), np.int64)
    shifts = np.asarray(drift)
    if shifts.shape != (n_frames, 2) or not np.all(shifts == np.round(shifts)):
        raise ValueError(f"drift must be True, False or an ({n_frames}, 2) array "
                         f"of whole pixels, got shape {shifts.shape}")
    return shifts.astype(np.int64)


def _surface_distance(dy: Any, dx: Any, uy: Any, ux: Any, length: Any,
                      width: Any) -> Any:
    """Signed distance [px] from ``(dy, dx)`` (relative to the centre) to a
    capsule's surface (negative inside)."""
    radius = width / 2
    half = np.maximum(length / 2 - radius, 0)
    along = np.clip(dy * uy + dx * ux, -half, half)
    return np.hypot(dy - along * uy, dx - along * ux) - radius


def _draw_cells(shape: tuple[int, int], cells: Cells, matrix: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label image, coverage and fluorescence of the cells on one frame.

    Every cell is drawn on a patch of pixels around its centre, all cells at
    once. Coverage is the anti-aliased fraction of a pixel inside a cell
    (``0.5 - distance`` to the surface, clipped to [0, 1]).
    """
    height, width = shape
    labels = np.zeros(height * width, np.uint16)
    cover = np.zeros(height * width, np.float64)
    light = np.zeros(height * width, np.float64)
    if len(cells["id"]):
        cy, cx = _apply(matrix, cells["cy"], cells["cx"])
        uy, ux = _apply(matrix, cells["uy"], cells["ux"], translate=False)
        half = np.maximum(cells["length"] / 2 - cells["width"] / 2, 0)
        reach_y = int(np.ceil(np.max(np.abs(uy) * half + cells["width"] / 2))) + 2
        reach_x = int(np.ceil(np.max(np.abs(ux) * half + cells["width"] / 2))) + 2
        rows = np.rint(cy).astype(np.int64)[:, None] + np.arange(-reach_y, reach_y + 1)
        cols = np.rint(cx).astype(np.int64)[:, None] + np.arange(-reach_x, reach_x + 1)
        dist = _surface_distance((rows - cy[:, None])[:, :, None],
                                 (cols - cx[:, None])[:, None, :],
                                 uy[:, None, None], ux[:, None, None],
                                 cells["length"][:, None, None],
                                 cells["width"][:, None, None])
        valid = (((rows >= 0) & (rows < height))[:, :, None]
                 & ((cols >= 0) & (cols < width))[:, None, :])
        flat = rows[:, :, None] * width + cols[:, None, :]
        which, prow, pcol = np.nonzero((dist <= 0) & valid)
        pixel = flat[which, prow, pcol]
        labels[pixel] = cells["id"][which]
        labels[np.bincount(pixel, minlength=height * width) > 1] = 0
        which, prow, pcol = np.nonzero((dist < 0.5) & valid)
        weight = np.clip(0.5 - dist[which, prow, pcol], 0, 1)
        pixel = flat[which, prow, pcol]
        cover = np.bincount(pixel, weight, minlength=height * width)
        light = np.bincount(pixel, weight * cells["fluo"][which],
                            minlength=height * width)
    labels = _separate(labels.reshape(shape))
    return (labels, np.minimum(cover, 1).reshape(shape).astype(np.float32),
            light.reshape(shape).astype(np.float32))


def _separate(labels: np.ndarray) -> np.ndarray:
    """Clear pixels that touch (8-neighbourhood) a pixel of another label."""
    kernel = np.ones((3, 3), np.uint8)
    high = cv2.dilate(labels, kernel, borderType=cv2.BORDER_REPLICATE)
    low = cv2.erode(np.where(labels == 0, np.iinfo(np.uint16).max, labels)
                    .astype(np.uint16), kernel, borderType=cv2.BORDER_REPLICATE)
    clash = (labels > 0) & ((high != labels) | (low != labels))
    return np.where(clash, 0, labels).astype(np.uint16)


# --- images --------------------------------------------------------------


def _phase_scene(rng: np.random.Generator, solid: np.ndarray) -> np.ndarray:
    """Static phase-contrast background: liquid, PDMS (`solid` = 1), texture."""
    rim = cv2.GaussianBlur(solid, (0, 0), 1.5) - solid
    texture = cv2.GaussianBlur(rng.standard_normal(solid.shape).astype(np.float32),
                               (0, 0), 6.0)
    texture *= 0.01 / max(float(texture.std()), 1e-6)
    return (0.5 + 0.1 * solid + 0.4 * rim + texture).astype(np.float32)


def _agar_background(height: int, width: int
                     ) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Static background of an agar pad: no walls, just a faint texture."""
    def background(rng: np.random.Generator, pad: int) -> np.ndarray:
        return _phase_scene(rng, np.zeros((height + 2 * pad, width + 2 * pad),
                                          np.float32))
    return background


def _illumination(rng: np.random.Generator, height: int, width: int
                  ) -> np.ndarray:
    """Smooth multiplicative illumination fixed to the camera (0.85-1.1)."""
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    gy, gx = rng.uniform(-0.06, 0.06, 2)
    return (1.0 + gy * y + gx * x - 0.05 * (x * x + y * y) / 2).astype(np.float32)


def _phase_image(background: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Dark cells with a bright halo on `background`."""
    dark = cv2.GaussianBlur(cover, (0, 0), 0.8)
    halo = np.maximum(cv2.GaussianBlur(cover, (0, 0), 2.5) - cover, 0)
    return background * (1 - 0.55 * dark) + 0.5 * halo


def _camera(rng: np.random.Generator, image: np.ndarray, noise: float
            ) -> np.ndarray:
    if noise == 0:
        return image
    variance = 0.25 * noise ** 2 + 1.5 * noise ** 2 * np.maximum(image, 0)
    return image + np.sqrt(variance) * rng.standard_normal(image.shape,
                                                           dtype=np.float32)


def _to_levels(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 1) * _LEVELS).astype(np.uint16)


def _from_levels(levels: np.ndarray) -> np.ndarray:
    return levels.astype(np.float32) / np.float32(_LEVELS)


def _quantize(image: np.ndarray) -> np.ndarray:
    return _from_levels(_to_levels(image))


def _read_levels(path: pathlib.Path, shape: tuple[int, int]) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if image is None:
        raise FileFormatError(f"{path}: missing or unreadable image of the movie")
    if image.dtype != np.uint16 or image.shape != shape:
        raise FileFormatError(f"{path}: expected a {shape[0]}x{shape[1]} uint16 "
                              f"image, found {image.dtype} {image.shape}")
    return _from_levels(image)


# --- arguments -----------------------------------------------------------


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_common(n_frames: int, seed: int | None, noise: float,
                  growth_rate: float, growth_noise: float,
                  birth_length: float) -> None:
    _check_positive_int("n_frames", n_frames)
    if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not 0 < growth_rate <= 0.5:
        raise ValueError(f"growth_rate must be in (0, 0.5] per frame, got "
                         f"{growth_rate}")
    if not 0 <= growth_noise <= 0.5:
        raise ValueError(f"growth_noise must be in [0, 0.5], got {growth_noise}")
    if not 15 <= birth_length <= 40:
        raise ValueError(f"birth_length must be in [15, 40] px, got {birth_length}")


def _seed(seed: int | None) -> int:
    return int(np.random.SeedSequence().entropy) if seed is None else int(seed)
