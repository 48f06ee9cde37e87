"""Model weights, training sets and demo movies of the time-lapse pipeline.

The reference tool calls these files "assets" and downloads them from a
Google-Drive folder. cytolab does **not** fetch those: they are published
without pinned checksums (so a download could not be verified) and the
models are Keras files, which cytolab does not run. Instead:

* **Model weights** (ONNX) ship inside the package, in
  ``cytolab/timelapse/weights/<presets>_<model>.onnx``, each with its SHA-256
  in :data:`WEIGHTS` (checked once per session). To use a model of your
  own (e.g. one you trained, or a reference model converted to ONNX), point
  the configuration at it::

      config.update("models.seg.model_path", "/path/to/seg.onnx")

  or set ``"model_path"`` of that model in the JSON configuration file.
* **Demo movies** and **training sets** are made by the simulator of
  :mod:`cytolab.simulate.movies` (realistic movies with ground truth) on
  first use, deterministically, and cached.

The cache folder is ``$CYTOLAB_DATA_CACHE``, else ``$DELTA_ASSETS_CACHE`` (the
reference's variable), else the user's cache folder (e.g.
``~/.cache/cytolab``).

Training sets are folders of PNG files with the same name in each subfolder:

========== ================================================================
model      subfolders
========== ================================================================
``rois``   ``img`` (whole frames), ``seg`` (chamber masks)
``seg``    ``img`` (chamber crops, or whole 2D frames), ``seg`` (cell masks)
``track``  ``previmg`` (frame t-1), ``seg`` (the one cell to track at t-1),
           ``img`` (frame t), ``segall`` (all cells at t), ``mot_dau``
           (1 = that cell at t, 2 = its daughter born at t)
========== ================================================================

Images are 16-bit (``round(65535 * value)`` of the float image in [0, 1]);
masks are 8-bit 0/1. Mother-machine samples are chamber crops named
``Position00_Chamber%02d_Frame%03d[_Cell%02d].png`` (cells counted from the
top); 2D tracking samples are windows of the tracking input size centred on
the cell to track (zero-padded at the frame border).
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import datacache
from ..datacache import DataFileUnavailableError
from .config import ModelConfig, check_model, check_presets
from .images import to_integer_values, write_image

#: Environment variables naming the cache folder, in order of precedence
ENV_VARS = ("CYTOLAB_DATA_CACHE", "DELTA_ASSETS_CACHE")

#: Folder of the shipped model weights
WEIGHTS_DIR = pathlib.Path(__file__).resolve().with_name("weights")

#: (presets, model) -> SHA-256 of ``WEIGHTS_DIR/<presets>_<model>.onnx``
WEIGHTS: dict[tuple[str, str], str] = {
    ("2D", "seg"):
        "196aa898283496e863c46f96c544bff73832488014baeb253d535f925fab6145",
    ("2D", "track"):
        "36dc1036ae987f7e68c5f8b2fb1464f7d93d3aa4f7a062c52d22bf98e93fb3d1",
    ("mothermachine", "rois"):
        "8c9ef7ce255b3978959019e77fe0786559269e9f69ec0d5eeb12947b7508710f",
    ("mothermachine", "seg"):
        "2224e4120d0e6ac1e2c9e7b3a028067ea1eabd9fe01a62409fab6fb4b859ea39",
    ("mothermachine", "track"):
        "9fd156f42f2d3c7ab6cdea80bb56d3091d8550272a4b62548a348392b26408fb",
}

_MOVIES = "cytolab.simulate.movies"


class AssetUnavailableError(DataFileUnavailableError):
    """A model file or other asset does not exist and cannot be made."""


@dataclasses.dataclass(frozen=True)
class MadeAsset:
    """An asset made by a simulator.

    Parameters
    ----------
    name
        Name in the cache folder; it carries a version (``_v1``) to bump
        whenever what is made changes, so stale caches are not reused.
    simulator
        ``"module:function"`` (imported only when the asset is made) or a
        function. Called with the keyword arguments `kwargs`; for a movie
        also with ``path=`` (the folder to write the movie into), for a
        training set with ``path=None`` (it must return the ground truth:
        ``images`` (T, C, Y, X) in [0, 1], ``labels`` (T, Y, X), ``mothers``,
        ``first_frame`` and, for mother machines, ``chambers``).
    kwargs
        Keyword arguments of the simulator.
    training_set
        ``None`` for a movie, else ``(presets, model)`` of the training set.
    max_samples
        At most this many samples in a training set (evenly spread).
    """

    name: str
    simulator: str | Callable[..., Any]
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    training_set: tuple[str, str] | None = None
    max_samples: int = 2000

    def make(self, path: pathlib.Path) -> None:
        """Write the asset at `path` (a folder that does not exist yet)."""
        simulate = datacache.resolve(self.simulator)
        if self.training_set is None:
            path.mkdir()
            simulate(path=path, **self.kwargs)
            return
        truth = simulate(path=None, **self.kwargs)
        write_training_set(path, truth, *self.training_set,
                           max_samples=self.max_samples)


def _movie(name: str, function: str, **kwargs: Any) -> MadeAsset:
    return MadeAsset(name, f"{_MOVIES}:{function}", MappingProxyType(kwargs))


#: Demo movie of each presets
DEMO_MOVIES: dict[str, MadeAsset] = {
    "mothermachine": _movie("demo_mothermachine_v1", "simulate_mothermachine",
                            n_frames=60, n_chambers=6, seed=0, fluorescence=True),
    "2D": _movie("demo_2D_v1", "simulate_agarpad", n_frames=40, seed=0),
}

#: Training set of each (presets, model); simulated with another seed than the
#: demo movies and longer (mother machine: 120 frames of 8 chambers; 2D: 60
#: frames), at most 2000 samples (500 of the 256 x 256 px 2D tracking
#: windows), about 100 MB each at most
TRAINING_SETS: dict[tuple[str, str], MadeAsset] = {
    (presets, model): dataclasses.replace(
        movie, name=f"training_{presets}_{model}_v2", training_set=(presets, model),
        kwargs=MappingProxyType({**movie.kwargs, "seed": 1, **(
            {"n_frames": 120, "n_chambers": 8} if presets == "mothermachine"
            else {"n_frames": 60})}),
        max_samples=500 if presets == "2D" else 2000)
    for presets, model, movie in [
        ("mothermachine", "rois", DEMO_MOVIES["mothermachine"]),
        ("mothermachine", "seg", DEMO_MOVIES["mothermachine"]),
        ("mothermachine", "track", DEMO_MOVIES["mothermachine"]),
        ("2D", "seg", DEMO_MOVIES["2D"]),
        ("2D", "track", DEMO_MOVIES["2D"]),
    ]}


def cache_dir() -> pathlib.Path:
    """The asset cache folder (``$CYTOLAB_DATA_CACHE``, else
    ``$DELTA_ASSETS_CACHE``, else the user's cache folder)."""
    return datacache.cache_dir(*ENV_VARS)


def weights_path(presets: str, model: str) -> pathlib.Path:
    """Where the shipped weights of `model` for `presets` live (may not exist).

    Examples
    --------
    >>> weights_path("mothermachine", "seg").name
    'mothermachine_seg.onnx'
    """
    check_model(model, presets)
    return WEIGHTS_DIR / f"{presets}_{model}.onnx"


def download_model(presets: str, model: str) -> pathlib.Path:
    """Path of the shipped weights of `model` for `presets`, verified.

    Parameters
    ----------
    presets
        ``"2D"`` or ``"mothermachine"``.
    model
        ``"rois"`` (mother machine only), ``"seg"`` or ``"track"``.

    Returns
    -------
    pathlib.Path
        The ONNX file inside the installed package.

    Raises
    ------
    ValueError
        Unknown `presets` or `model` (the message lists the valid ones).
    AssetUnavailableError
        No weights are shipped for them (the message says how to use your
        own model file).
    cytolab.datacache.DataFileCorruptError
        The file does not have the registered SHA-256.
    """
    path = weights_path(presets, model)
    sha256 = WEIGHTS.get((presets, model))
    if sha256 is None or not path.is_file():
        state = ("is missing from this installation (reinstall cytolab)"
                 if sha256 else "is not available yet")
        raise AssetUnavailableError(
            f"There are no shipped weights for presets {presets!r}, model "
            f"{model!r}: '{path}' {state}. Use a model file of your own: "
            f"config.update('models.{model}.model_path', '/path/to/{model}.onnx') "
            f"or set \"model_path\" in the configuration file.")
    return datacache.verify(path, sha256, what="weights file",
                            hint="reinstall cytolab to restore it")


def download_training_set(presets: str, model: str) -> pathlib.Path:
    """Path of the training set of `model` for `presets`, made if needed.

    The set is simulated (with ground truth) on first use and cached; see the
    module doc for its layout.

    Raises
    ------
    ValueError
        Unknown `presets` or `model`.
    cytolab.datacache.DataFileUnavailableError
        The simulator failed or is not available.
    """
    check_model(model, presets)
    return _made(TRAINING_SETS[presets, model])


def download_demo_movie(presets: str) -> pathlib.Path:
    """Path of the demo movie folder of `presets`, simulated if needed.

    The folder holds one image file per channel and frame, readable with
    :class:`~cytolab.timelapse.xpreader.XPReader`, and the ground truth
    (``truth.npz``, read by ``cytolab.simulate.movies.MovieTruth.load``).

    Raises
    ------
    ValueError
        Unknown `presets`.
    cytolab.datacache.DataFileUnavailableError
        The simulator failed or is not available.
    """
    return _made(DEMO_MOVIES[check_presets(presets)])


def _made(asset: MadeAsset) -> pathlib.Path:
    return datacache.make(asset.name, asset.make, cache_dir())


# ------------------------------------------------------------ training sets
def write_training_set(folder: pathlib.Path, truth: Any, presets: str, model: str,
                       max_samples: int = 2000) -> pathlib.Path:
    """Write a training set (layout in the module doc) from simulated truth.

    Parameters
    ----------
    folder
        Output folder (created).
    truth
        Ground truth with ``images`` (T, C, Y, X) floats in [0, 1],
        ``labels`` (T, Y, X), ``mothers`` {cell: mother or None},
        ``first_frame`` {cell: frame} and, for mother machines, ``chambers``
        (boxes ``(xtl, ytl, xbr, ybr)``, ``br`` exclusive).
    presets, model
        Which training set.
    max_samples
        At most this many samples (evenly spread over the candidates).

    Returns
    -------
    pathlib.Path
        `folder`.
    """
    check_model(model, presets)
    images = np.asarray(truth.images)[:, 0]
    labels = np.asarray(truth.labels)
    if presets == "mothermachine":
        boxes = [tuple(int(v) for v in box) for box in truth.chambers]
    else:
        boxes = [(0, 0, labels.shape[2], labels.shape[1])]
    writers = {"rois": _rois_samples, "seg": _seg_samples, "track": _track_samples}
    samples = list(writers[model](images, labels, boxes, truth, presets))
    if len(samples) > max_samples:
        picks = np.linspace(0, len(samples) - 1, max_samples).round().astype(int)
        samples = [samples[i] for i in np.unique(picks)]
    for name, make_parts in samples:
        for sub, array in make_parts().items():
            (folder / sub).mkdir(parents=True, exist_ok=True)
            write_image(folder / sub / name, array)
    return folder


#: A training sample: file name and a function returning {subfolder: image}
Sample = tuple[str, Callable[[], dict[str, np.ndarray]]]


def _rois_samples(images, labels, boxes, truth, presets) -> Iterator[Sample]:
    mask = np.zeros(labels.shape[1:], np.uint8)
    for xtl, ytl, xbr, ybr in boxes:
        mask[max(ytl, 0):ybr, max(xtl, 0):xbr] = 1
    for t in range(len(images)):
        yield f"Position00_Frame{t:03d}.png", \
            lambda t=t: {"img": _uint16(images[t]), "seg": mask}


def _seg_samples(images, labels, boxes, truth, presets) -> Iterator[Sample]:
    for t in range(len(images)):
        for i, box in enumerate(boxes):
            yield _sample_name(presets, i, t), lambda t=t, box=box: {
                "img": _uint16(_crop(images[t], box)),
                "seg": (_crop(labels[t], box) > 0).astype(np.uint8)}


def _track_samples(images, labels, boxes, truth, presets) -> Iterator[Sample]:
    window = ModelConfig.default("track", presets).target_size
    daughters: dict[tuple[int, int], list[int]] = {}
    for cell, mother in truth.mothers.items():
        if mother is not None:
            daughters.setdefault((int(mother), int(truth.first_frame[cell])),
                                 []).append(int(cell))

    def parts(t: int, box: tuple[int, int, int, int], cell: int) -> dict:
        if presets != "mothermachine":
            box = _window_around(labels[t - 1] == cell, window)
        now = _crop(labels[t], box)
        return {"previmg": _uint16(_crop(images[t - 1], box)),
                "seg": _mask(_crop(labels[t - 1], box), [cell]),
                "img": _uint16(_crop(images[t], box)),
                "segall": (now > 0).astype(np.uint8),
                "mot_dau": _mask(now, [cell])
                + 2 * _mask(now, daughters.get((cell, t), []))}

    for t in range(1, len(images)):
        for i, box in enumerate(boxes):
            for k, cell in enumerate(_cells_top_down(_crop(labels[t - 1], box))):
                yield (_sample_name(presets, i, t, k),
                       lambda t=t, box=box, cell=cell: parts(t, box, cell))


def _sample_name(presets: str, roi: int, frame: int, cell: int | None = None) -> str:
    stem = (f"Position00_Chamber{roi:02d}_Frame{frame:03d}"
            if presets == "mothermachine" else f"Position00_Frame{frame:03d}")
    return stem + ("" if cell is None else f"_Cell{cell:02d}") + ".png"


def _cells_top_down(labels: np.ndarray) -> list[int]:
    """Cell ids present in `labels`, ordered by their topmost row (then x)."""
    from scipy import ndimage
    slices = ndimage.find_objects(labels.astype(np.int64))
    found = [(s[0].start, s[1].start, i + 1) for i, s in enumerate(slices)
             if s is not None]
    return [cell for _, _, cell in sorted(found)]


def _window_around(mask: np.ndarray, size: tuple[int, int]
                   ) -> tuple[int, int, int, int]:
    """Box (xtl, ytl, xbr, ybr) of `size` (y, x) centred on a mask's centroid."""
    ys, xs = np.nonzero(mask)
    ytl = int(round(ys.mean())) - size[0] // 2
    xtl = int(round(xs.mean())) - size[1] // 2
    return (xtl, ytl, xtl + size[1], ytl + size[0])


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box (xtl, ytl, xbr, ybr) of `image`, zero-padded outside it."""
    xtl, ytl, xbr, ybr = box
    out = np.zeros((ybr - ytl, xbr - xtl), image.dtype)
    y0, x0 = max(ytl, 0), max(xtl, 0)
    y1, x1 = min(ybr, image.shape[0]), min(xbr, image.shape[1])
    if y1 > y0 and x1 > x0:
        out[y0 - ytl:y1 - ytl, x0 - xtl:x1 - xtl] = image[y0:y1, x0:x1]
    return out


def _mask(labels: np.ndarray, cells: list[int]) -> np.ndarray:
    return np.isin(labels, cells).astype(np.uint8)


def _uint16(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] as 16-bit values."""
    return to_integer_values(image, np.uint16)
