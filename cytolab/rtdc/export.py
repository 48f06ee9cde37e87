"""Export the events of a dataset: ``.rtdc`` (HDF5), ``.tsv``, ``.fcs``, ``.avi``.

Every dataset has an :class:`Export` instance as ``ds.export``. All exports

* take the events that pass ``ds.filter.all`` (``filtered=True``, the
  default) or all events;
* check their arguments (feature names, output path) before anything is
  written, and raise a clear error naming the culprit;
* write to a temporary file next to the target and rename it when complete,
  so an error never leaves a half-written file under the final name;
* show a progress bar on a terminal (and stay quiet otherwise).

Choices where the reference documentation is silent
----------------------------------------------------
``index``
    In an exported ``.rtdc`` file, ``index`` counts the exported events
    (1 to N). The position of each event in its source is kept by the
    ``basinmap`` feature of a mapped basin (``basins=True``) and by
    ``index_online``, which is copied unchanged.
Measurement identifier
    When the exported events are a true subset of the measurement (filtered
    export, hierarchy child, or fewer events after the length check), the
    output gets ``experiment:run identifier`` =
    ``"<source identifier>_<digest>"``, where ``<digest>`` is the first 12
    hex digits of the SHA-256 of the event indices in the source file
    (little-endian uint64). The same selection always gives the same
    identifier; different subsets never share one. Basins written by the
    export store the source identifier explicitly, so they still verify.
Basins
    See :meth:`Export.hdf5`.
TSV layout
    See :meth:`Export.tsv`.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from .. import definitions as dfn
from .._progress import progress_bar
from .._version import __version__
from ..errors import CytolabWarning
from ..io import HDF5Writer, atomic_path
from ..io.fcs import write_fcs
from ..io.tsv import write_tsv_rows
from .writer import RTDCWriter

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

    from .core import RTDCBase

__all__ = ["Export", "LimitingExportSizeWarning"]

#: Name of the provenance log written into every exported ``.rtdc`` file.
PROVENANCE_LOG = "cytolab-export"
#: Bytes of non-scalar event data read and written at a time.
EXPORT_CHUNK_BYTES = 8 * 1024**2


class LimitingExportSizeWarning(CytolabWarning):
    """Features of different lengths: the export is cut to the shortest."""


def _install_hint() -> str:
    return 'install it with: pip install "cytolab[export]"'


class Export:
    """Export functions of a dataset (available as ``ds.export``).

    Parameters
    ----------
    rtdc_ds
        The dataset to export.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile, cytolab
    >>> ds = cytolab.new_dataset({"deform": np.array([.01, .02, .3]),
    ...                           "area_um": np.array([50., 60., 70.])})
    >>> ds.filter.manual[2] = False
    >>> ds.apply_filter()
    >>> out = ds.export.hdf5(pathlib.Path(tempfile.mkdtemp()) / "small")
    >>> out.name
    'small.rtdc'
    >>> with cytolab.new_dataset(out) as ds2:
    ...     print(len(ds2), ds2["deform"])
    2 [0.01 0.02]
    """

    def __init__(self, rtdc_ds: RTDCBase) -> None:
        self.rtdc_ds = rtdc_ds

    # ------------------------------------------------------------------ hdf5
    def hdf5(self, path: str | os.PathLike,
             features: Sequence[str] | None = None, filtered: bool = True,
             logs: bool = False, tables: bool = False, basins: bool = False,
             meta_prefix: str = "src_", override: bool = False,
             compression_kwargs: Mapping[str, Any] | None = None,
             compression: Any = "deprecated",
             skip_checks: bool = False) -> pathlib.Path:
        """Export events to an ``.rtdc`` (HDF5) file.

        Parameters
        ----------
        path
            Output file; ``.rtdc`` is appended when the name does not end
            with it.
        features
            Features to store: any feature the dataset provides (stored,
            computed, from basins, plugin or temporary; scalar or not).
            Defaults to the stored features (``features_innate``). An empty
            list together with ``basins=True`` gives a basin-only file.
            ``basinmapN`` features are never exported as data; they belong
            to basin definitions and are rewritten when ``basins=True``.
        filtered
            Export only the events in ``ds.filter.all``.
        logs
            Copy the logs, named ``meta_prefix + name``.
        tables
            Copy the tables, named ``meta_prefix + name``.
        basins
            Write basins, so that the output file also gives access to all
            features of its source (see Notes).
        meta_prefix
            Prefix of copied logs and tables.
        override
            Replace an existing output file (otherwise: OSError).
        compression_kwargs
            HDF5 dataset keywords; default: Zstandard level 5 and Fletcher-32
            checksums (see :func:`cytolab.io.set_default_filter_kwargs`).
        compression
            Deprecated; use `compression_kwargs`.
        skip_checks
            Do not check that all features have the same number of events.

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        OSError
            If the file exists and `override` is False.
        ValueError
            For unknown or unavailable features, an empty feature list
            without basins, or an output path that is the source file.

        Warns
        -----
        LimitingExportSizeWarning
            If the features do not all have as many events as the dataset;
            only the events present in every feature are exported.

        Notes
        -----
        Metadata are copied without the ``filtering`` (and ``calculation``)
        sections; ``setup:software version`` gets ``| cytolab X.Y.Z``
        appended. A log named ``cytolab-export`` (JSON) records the source
        (path, format, measurement identifier, hash), the features, whether
        the export was filtered, the number of events, the cytolab version
        and the date.

        With ``basins=True``:

        * the output file gets a basin that points at the source file (its
          absolute path and its path relative to the output folder). For a
          hierarchy child the basin points at the file of the root dataset.
          If the exported events are a subset of the file (filtered export,
          hierarchy child) the basin is mapped: the ``basinmap0`` feature
          holds the index of each exported event in the source file.
          A basin-only file (``features=[]``) always uses a mapped basin,
          since the mapping is what tells the file its number of events.
        * the basins of the source file are copied; their mapping is
          combined with the event selection, relative paths are replaced
          by the absolute path plus the path relative to the output folder.
          Internal basins (data stored inside the source file) are not
          copied; their features remain reachable through the basin of the
          source file.
        * every basin stores the measurement identifier of its file, so that
          the identity check still passes when the output got a new
          identifier.

        Examples
        --------
        >>> import cytolab, cytolab.simulate, pathlib, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> src = cytolab.simulate.simulate_rtdc(tmp / "in.rtdc", num_events=10)
        >>> with cytolab.new_dataset(src) as ds:
        ...     ds.filter.manual[1::2] = False
        ...     ds.apply_filter()
        ...     out = ds.export.hdf5(tmp / "out.rtdc", features=[],
        ...                          basins=True)
        >>> with cytolab.new_dataset(out) as ds_out:
        ...     print(len(ds_out), ds_out.features_innate)
        5 ['basinmap0']
        """
        ds = self.rtdc_ds
        if compression != "deprecated":
            warnings.warn("`compression` is deprecated; use `compression_kwargs`",
                          DeprecationWarning, stacklevel=2)
            if compression_kwargs is None:
                compression_kwargs = {"compression": compression}
        if not isinstance(meta_prefix, str):
            raise TypeError(f"`meta_prefix` must be a string, got {meta_prefix!r}")
        feats = self._hdf5_features(features)
        root = _root_dataset(ds)
        if not feats:
            if not basins:
                raise ValueError("`features` is empty: nothing to export (pass "
                                 "basins=True for a basin-only file)")
            if _local_file(root) is None and not root.basins_get_dicts():
                raise ValueError(f"A basin-only export needs a dataset stored in "
                                 f"a file; {ds} is not")
        path = _output_path(path, ".rtdc", override, ds)
        sel = self._selection(filtered)
        if not skip_checks:
            sel = self._limit_to_common_length(feats, sel)
        nsel = _count(sel)
        root_idx = _root_indices(ds, sel)
        subset = root_idx.size != len(root)
        mid = ds.get_measurement_identifier()
        meta = ds.config.as_dict(pop_filtering=True)
        new_mid = mid
        if subset and mid:
            digest = hashlib.sha256(root_idx.astype("<u8").tobytes()).hexdigest()
            new_mid = f"{mid}_{digest[:12]}"
            meta.setdefault("experiment", {})["run identifier"] = new_mid
        written_basins: list[str] = []
        with RTDCWriter(path, mode="reset",
                        compression_kwargs=compression_kwargs) as hw, \
                _progress(nsel * len(feats), "export .rtdc", "ev") as bar:
            hw.store_metadata(meta)
            # stored data with the right filters are copied without decoding
            filters = _expected_filter_ids(hw.compression_kwargs) \
                if ds.format == "hdf5" and not subset else None
            for feat in feats:
                self._write_feature(hw, feat, sel, bar, filters)
            if logs:
                for name, lines in ds.logs.items():
                    hw.store_log(meta_prefix + name, lines)
            if tables:
                for name, table in ds.tables.items():
                    hw.store_table(meta_prefix + name, table)
            if basins:
                written_basins = _write_basins(
                    hw, path, root, root_idx, mapped=subset or not feats)
            hw.store_log(PROVENANCE_LOG, _provenance(
                ds, root, feats, filtered, nsel, new_mid, written_basins))
        return path

    def _hdf5_features(self, features: Sequence[str] | None) -> list[str]:
        ds = self.rtdc_ds
        if features is None:
            feats = [f for f in ds.features_innate if not _is_basinmap(f)]
        else:
            feats = _as_feature_list(features)
            for feat in feats:
                if _is_basinmap(feat):
                    raise ValueError(
                        f"'{feat}' describes the events of a basin and is not "
                        f"exported as data; use basins=True to export basins")
        for feat in feats:
            _check_available(ds, feat)
        return feats

    def _write_feature(self, hw: RTDCWriter, feat: str, sel: slice | np.ndarray,
                       bar: tqdm, filters: set[int] | None) -> None:
        ds = self.rtdc_ds
        nsel = _count(sel)
        if feat == "index":
            hw.store_feature("index", np.zeros(nsel, dtype=np.uint8))
            bar.update(nsel)
            return
        if _copy_stored(ds, feat, sel, hw, filters):
            bar.update(nsel)
            return
        data = ds[feat]
        if dfn.scalar_feature_exists(feat):
            values = np.asarray(data)
            hw.store_feature(feat, values[sel])
            bar.update(nsel)
        elif feat == "trace":
            for key in sorted(data):
                for chunk in _iter_chunks(data[key], sel):
                    hw.store_feature("trace", {key: chunk})
            bar.update(nsel)
        elif feat == "contour":
            for chunk in _iter_chunks(data, sel):
                hw.store_feature("contour", chunk)
                bar.update(len(chunk))
        else:
            shape = tuple(getattr(data, "shape", (0,))[1:])
            for chunk in _iter_chunks(data, sel):
                chunk = np.asarray(chunk)
                hw.store_feature(feat, chunk, shape=chunk.shape[1:] or shape)
                bar.update(len(chunk))

    # ------------------------------------------------------------------- tsv
    def tsv(self, path: str | os.PathLike, features: Sequence[str],
            meta_data: Mapping[str, Any] | None = None, filtered: bool = True,
            override: bool = False) -> pathlib.Path:
        """Export scalar features to a tab-separated text file.

        Parameters
        ----------
        path
            Output file; ``.tsv`` is appended when the name does not end
            with it.
        features
            Scalar features to export (one column each).
        meta_data
            User-defined key-value pairs, written as ``# key: value`` lines
            at the top of the file (after the cytolab version).
        filtered
            Export only the events in ``ds.filter.all``.
        override
            Replace an existing output file (otherwise: OSError).

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        OSError
            If the file exists and `override` is False.
        ValueError
            For unknown, unavailable or non-scalar features.

        Notes
        -----
        The file is UTF-8 with a byte order mark and has this layout::

            # cytolab version: 0.1.0
            # <key>: <value>              (user meta_data, one per line)
            # <section>:<key>: <value>    (metadata of the measurement)
            area_um<TAB>deform            (feature names)
            # Area [µm²]<TAB>Deformation  (labels, a comment line)
            60.5<TAB>2.648093400000e-02   (one row per event)

        Integer-valued columns (integer features, and float features whose
        values are all integers) are written as integers (padded with
        leading spaces to a common width); all other values in scientific
        notation with 13 significant digits (relative rounding error below
        5e-13), missing values as ``nan``, infinities as ``inf``/``-inf``.
        Reading the file back:

        * pandas: ``pandas.read_csv(path, sep="\\t", comment="#")``;
        * NumPy: ``numpy.loadtxt(path, delimiter="\\t", comments="#",
          skiprows=N, encoding="utf-8-sig")`` with ``N`` the number of
          lines up to and including the names, or on the lines that do
          not start with ``#`` with ``skiprows=1``.

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile, cytolab
        >>> ds = cytolab.new_dataset({"deform": np.array([.01, .025]),
        ...                           "frame": np.array([3, 12])})
        >>> out = ds.export.tsv(pathlib.Path(tempfile.mkdtemp()) / "ev",
        ...                     ["frame", "deform"])
        >>> lines = out.read_text(encoding="utf-8-sig").splitlines()
        >>> lines[-4]
        'frame\\tdeform'
        >>> lines[-2:]
        [' 3\\t1.000000000000e-02', '12\\t2.500000000000e-02']
        """
        ds = self.rtdc_ds
        feats = self._scalar_features(features, "a .tsv file")
        user_meta = _check_meta(meta_data)
        path = _output_path(path, ".tsv", override, ds)
        sel = self._selection(filtered)
        nsel = _count(sel)
        header = [f"cytolab version: {__version__}"]
        header += [f"{key}: {value}" for key, value in user_meta.items()]
        for section, values in ds.config.as_dict(pop_filtering=True).items():
            for key, value in values.items():
                header.append(f"{section}:{key}: {value}")
        lines = ["# " + " ".join(str(ln).splitlines()) for ln in header]
        lines.append("\t".join(feats))
        lines.append("# " + "\t".join(dfn.get_feature_label(f) for f in feats))
        columns = []
        with _progress(nsel * len(feats), "export .tsv", "val") as bar:
            for feat in feats:
                columns.append(np.asarray(ds[feat])[sel])
            with atomic_path(path) as tmp, open(tmp, "wb") as fd:
                fd.write(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
                write_tsv_rows(fd, columns, bar)
        return path

    # ------------------------------------------------------------------- fcs
    def fcs(self, path: str | os.PathLike, features: Sequence[str],
            meta_data: Mapping[str, Any] | None = None, filtered: bool = True,
            override: bool = False) -> pathlib.Path:
        """Export scalar features to a Flow Cytometry Standard (FCS 3.0) file.

        Parameters
        ----------
        path
            Output file; ``.fcs`` is appended when the name does not end
            with it.
        features
            Scalar features to export (one parameter each).
        meta_data
            User-defined key-value pairs stored in the primary TEXT segment;
            the cytolab version is stored as ``cytolab version``.
        filtered
            Export only the events in ``ds.filter.all``.
        override
            Replace an existing output file (otherwise: OSError).

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        OSError
            If the file exists and `override` is False.
        ValueError
            For unknown, unavailable or non-scalar features.

        Notes
        -----
        Values are stored as 32-bit floats (about 7 significant digits;
        integers above 2**24 are rounded). Events with a NaN value in any
        exported feature are left out (FCS has no notion of missing values).
        ``$PnN`` holds the feature name (e.g. ``deform``) and ``$PnS`` its
        label (e.g. ``Deformation``). The writer is
        :func:`cytolab.io.write_fcs`; no extra package is needed.

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile, cytolab
        >>> ds = cytolab.new_dataset({"deform": np.array([.01, np.nan, .03])})
        >>> out = ds.export.fcs(pathlib.Path(tempfile.mkdtemp()) / "ev",
        ...                     ["deform"], meta_data={"operator": "Jane"})
        >>> out.suffix, out.read_bytes()[:6]
        ('.fcs', b'FCS3.0')
        """
        ds = self.rtdc_ds
        feats = self._scalar_features(features, "an .fcs file")
        user_meta = _check_meta(meta_data)
        path = _output_path(path, ".fcs", override, ds)
        sel = self._selection(filtered)
        nsel = _count(sel)
        data = np.empty((nsel, len(feats)), dtype=np.float32)
        with _progress(nsel * len(feats), "export .fcs", "val") as bar:
            for ii, feat in enumerate(feats):
                data[:, ii] = np.asarray(ds[feat])[sel]
                bar.update(nsel)
            valid = ~np.isnan(data).any(axis=1)
            if not valid.all():
                data = data[valid]
            text = {str(k): v for k, v in user_meta.items()}
            text["cytolab version"] = __version__
            write_fcs(path, feats, data, text_kwargs=text,
                      channel_labels=[dfn.get_feature_label(f) for f in feats])
        return path

    # ------------------------------------------------------------------- avi
    def avi(self, path: str | os.PathLike, filtered: bool = True,
            override: bool = False) -> pathlib.Path:
        """Export the event images to an ``.avi`` video.

        Parameters
        ----------
        path
            Output file; ``.avi`` is appended when the name does not end
            with it.
        filtered
            Export only the events in ``ds.filter.all``.
        override
            Replace an existing output file (otherwise: OSError).

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        OSError
            If the dataset has no ``image`` feature, or the file exists and
            `override` is False.
        ImportError
            If ``imageio-ffmpeg`` (extra ``export``) is not installed.

        Notes
        -----
        One frame per event at 25 frames per second. The frames are stored
        uncompressed as 8-bit grayscale (``rawvideo``, pixel format
        ``gray``, FourCC ``Y800``): lossless and readable by FFmpeg-based
        tools (imageio, OpenCV, VLC); the price is 1 byte per pixel (20 kB
        per 80 x 250 image).
        """
        ds = self.rtdc_ds
        if "image" not in ds:
            raise OSError(f"Dataset {ds} has no 'image' feature; cannot export "
                          f"an .avi video")
        path = _output_path(path, ".avi", override, ds)
        try:
            import imageio_ffmpeg
        except ImportError as exc:
            raise ImportError(f"Exporting .avi files needs imageio-ffmpeg; "
                              f"{_install_hint()}") from exc
        images = ds["image"]
        sel = self._selection(filtered)
        nsel = _count(sel)
        height, width = images.shape[1:3]
        with _progress(nsel, "export .avi", "frame") as bar, \
                atomic_path(path) as tmp:
            writer = imageio_ffmpeg.write_frames(
                str(tmp), size=(int(width), int(height)), fps=25,
                codec="rawvideo", pix_fmt_in="gray", pix_fmt_out="gray",
                macro_block_size=1, output_params=["-f", "avi"],
                ffmpeg_log_level="error")
            writer.send(None)  # start the encoder
            try:
                for chunk in _iter_chunks(images, sel):
                    frames = np.asarray(chunk, dtype=np.uint8)
                    for frame in frames:
                        writer.send(np.ascontiguousarray(frame))
                    bar.update(len(frames))
            finally:
                writer.close()
        return path

    # --------------------------------------------------------------- helpers
    def _scalar_features(self, features: Sequence[str], target: str) -> list[str]:
        feats = _as_feature_list(features)
        if not feats:
            raise ValueError(f"No features given to export to {target}")
        for feat in feats:
            if dfn.feature_exists(feat) and not dfn.scalar_feature_exists(feat):
                raise ValueError(f"Feature '{feat}' is not scalar; only scalar "
                                 f"features can be exported to {target}")
            _check_available(self.rtdc_ds, feat)
        return feats

    def _selection(self, filtered: bool) -> slice | np.ndarray:
        """The exported events: a slice of the first N, or event indices."""
        size = len(self.rtdc_ds)
        if filtered:
            mask = np.asarray(self.rtdc_ds.filter.all, dtype=bool)
            if not mask.all():
                return np.flatnonzero(mask)
        return slice(0, size)

    def _limit_to_common_length(self, feats: Sequence[str],
                                sel: slice | np.ndarray) -> slice | np.ndarray:
        ds = self.rtdc_ds
        size = len(ds)
        lengths = {feat: _feature_length(ds, feat) for feat in feats
                   if feat != "index"}
        shortest = min(lengths.values(), default=size)
        if shortest >= size:
            return sel
        short = sorted(f for f, n in lengths.items() if n == shortest)
        warnings.warn(f"Not all features of {ds} have {size} events ({short} "
                      f"have {shortest}); exporting only the first {shortest} "
                      f"events", LimitingExportSizeWarning, stacklevel=3)
        if isinstance(sel, slice):
            return slice(0, shortest)
        return sel[sel < shortest]


# ---------------------------------------------------------------- arguments
def _as_feature_list(features: Sequence[str] | str) -> list[str]:
    if isinstance(features, str):
        features = [features]
    feats: list[str] = []
    for feat in features:
        if not isinstance(feat, str):
            raise TypeError(f"Feature names must be strings, got {feat!r}")
        if feat not in feats:
            feats.append(feat)
    return feats


def _check_available(ds: RTDCBase, feat: str) -> None:
    if not dfn.feature_exists(feat):
        raise ValueError(f"Unknown feature '{feat}': not a feature name known "
                         f"to cytolab (register plugin or temporary features "
                         f"first)")
    if feat not in ds:
        raise ValueError(f"Feature '{feat}' is not available in {ds}")


def _check_meta(meta_data: Mapping[str, Any] | None) -> dict[str, Any]:
    if meta_data is None:
        return {}
    if not isinstance(meta_data, Mapping):
        raise TypeError(f"`meta_data` must be a dict, got {type(meta_data).__name__}")
    return dict(meta_data)


def _is_basinmap(feat: str) -> bool:
    return feat.startswith("basinmap") and feat[8:].isdigit()


def _output_path(path: str | os.PathLike, suffix: str, override: bool,
                 ds: RTDCBase) -> pathlib.Path:
    """Validate the output path; append `suffix` when missing."""
    path = pathlib.Path(path)
    if path.suffix.lower() != suffix:
        path = path.with_name(path.name + suffix)
    path = path.absolute()
    if path.is_dir():
        raise IsADirectoryError(f"Output path '{path}' is a directory")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Output directory does not exist: '{path.parent}'")
    if path.exists() and not override:
        raise OSError(f"Output file '{path}' already exists (pass override=True "
                      f"to replace it)")
    source = _local_file(_root_dataset(ds))
    if source is not None and path.exists() and path.samefile(source):
        raise ValueError(f"Refusing to export {ds} onto its own file '{path}'")
    return path


# ---------------------------------------------------------------- selection
def _count(sel: slice | np.ndarray) -> int:
    if isinstance(sel, slice):
        return sel.stop - sel.start
    return int(sel.size)


def _as_indices(sel: slice | np.ndarray) -> np.ndarray:
    if isinstance(sel, slice):
        return np.arange(sel.start, sel.stop, dtype=np.int64)
    return np.asarray(sel, dtype=np.int64)


def _feature_length(ds: RTDCBase, feat: str) -> int:
    if ds.format == "hdf5" and feat in ds.features_innate:
        return len(ds)  # the reader already cut stored features to this length
    data = ds[feat]
    if isinstance(data, Mapping):  # trace
        return min((len(v) for v in data.values()), default=0)
    return len(data)


def _iter_chunks(data: Any, sel: slice | np.ndarray) -> Iterator[Any]:
    """Yield the selected events of non-scalar `data` in blocks of ~8 MiB."""
    nsel = _count(sel)
    shape = getattr(data, "shape", None)
    dtype = getattr(data, "dtype", None)
    if isinstance(data, (list, tuple)) or shape is None or dtype is None or not all(
            isinstance(s, (int, np.integer)) for s in shape[1:]):
        # ragged data such as contours: one object per event
        for start in range(0, nsel, 1000):
            idx = _as_indices(sel)[start:start + 1000]
            if isinstance(data, (list, tuple)):
                yield [data[i] for i in idx]
            else:
                yield data[idx]
        return
    event_bytes = max(1, int(np.prod(shape[1:])) * np.dtype(dtype).itemsize)
    step = max(1, EXPORT_CHUNK_BYTES // event_bytes)
    for start in range(0, nsel, step):
        stop = min(start + step, nsel)
        if isinstance(sel, slice):
            yield data[sel.start + start:sel.start + stop]
        else:
            yield data[_as_indices(sel)[start:stop]]


# -------------------------------------------------------------- hierarchies
def _root_dataset(ds: RTDCBase) -> RTDCBase:
    if ds.format == "hierarchy":
        return ds.get_root_parent()
    return ds


def _root_indices(ds: RTDCBase, sel: slice | np.ndarray) -> np.ndarray:
    """Indices of the selected events in the root dataset."""
    indices = _as_indices(sel)
    if ds.format == "hierarchy":
        from .formats.hierarchy import map_indices_child2root

        indices = np.asarray(map_indices_child2root(ds, indices), dtype=np.int64)
    return indices


def _local_file(ds: RTDCBase) -> pathlib.Path | None:
    """The file of an ``.rtdc`` dataset on a local or network drive."""
    path = getattr(ds, "path", None)
    if ds.format == "hdf5" and isinstance(path, pathlib.Path) and path.is_file():
        return path
    return None


# ---------------------------------------------------------- fast HDF5 copy
def _filter_ids(plist: Any) -> set[int]:
    return {plist.get_filter(ii)[0] for ii in range(plist.get_nfilters())}


def _expected_filter_ids(compression_kwargs: Mapping[str, Any]) -> set[int]:
    """HDF5 filter ids of datasets created with `compression_kwargs`."""
    kwds = {k: v for k, v in compression_kwargs.items() if k != "chunks"}
    name = f"cytolab-filter-probe-{uuid.uuid4().hex}.h5"
    with h5py.File(name, "w", driver="core", backing_store=False) as h5:
        dset = h5.create_dataset("x", shape=(10,), maxshape=(None,), chunks=(10,),
                                 dtype="f8", **kwds)
        return _filter_ids(dset.id.get_create_plist())


def _copy_stored(ds: RTDCBase, feat: str, sel: slice | np.ndarray,
                 hw: RTDCWriter, filters: set[int] | None) -> bool:
    """Copy a stored feature's HDF5 data as it is (no decompression).

    Only for unfiltered exports of ``.rtdc`` files, and only when the stored
    data have exactly the dataset's length and the filters (compression,
    checksums) the writer would use. Returns whether the data were copied.
    """
    h5 = getattr(ds, "h5file", None)
    if filters is None or ds.format != "hdf5" or h5 is None \
            or not isinstance(sel, slice) \
            or sel.start != 0 or sel.stop != len(ds) \
            or feat not in ds.features_innate or feat == "contour":
        return False
    obj = h5["events"].get(feat)
    if obj is None:
        return False
    dsets = [obj] if isinstance(obj, h5py.Dataset) else list(obj.values())
    if not dsets or not all(isinstance(d, h5py.Dataset) for d in dsets):
        return False
    for dset in dsets:
        if dset.shape[:1] != (len(ds),) or dset.chunks is None \
                or _filter_ids(dset.id.get_create_plist()) != filters:
            return False
    events = hw.h5file.require_group("events")
    if feat in events:
        return False
    events.copy(obj, feat)
    return True


# ------------------------------------------------------------------- basins
def _write_basins(hw: RTDCWriter, out_path: pathlib.Path, root: RTDCBase,
                  root_idx: np.ndarray, mapped: bool) -> list[str]:
    """Write the basins of an export; return short descriptions of them."""
    writer = HDF5Writer(hw.h5file, ds_kwds=hw.compression_kwargs)
    root_mid = root.get_measurement_identifier()
    root_file = _local_file(root)
    root_dir = root_file.parent if root_file is not None else None
    written = []
    for bdict in root.basins_get_dicts():
        if bdict.get("type") == "internal":
            continue
        new = {k: v for k, v in bdict.items() if k != "key"}
        old_map = new.get("mapping") or "same"
        if old_map == "same":
            mapping = root_idx if mapped else None
        else:
            if old_map not in root:
                warnings.warn(f"Not copying basin '{bdict.get('name')}' of "
                              f"{root}: its mapping feature '{old_map}' is "
                              f"missing", CytolabWarning, stacklevel=4)
                continue
            mapping = np.asarray(root[old_map], dtype=np.uint64)[root_idx]
        new["mapping"] = "same" if mapping is None else writer.next_basinmap(mapping)
        if new.get("type") == "file":
            new["paths"] = _basin_paths(new.get("paths", []), root_dir,
                                        out_path.parent)
        if not new.get("identifier") and root_mid:
            new["identifier"] = root_mid
        writer.store_basin_dict(new)
        written.append(f"{new.get('name')} ({new.get('type')}, "
                       f"mapping {new['mapping']})")
    if root_file is not None:
        mapping_name = writer.next_basinmap(root_idx) if mapped else "same"
        bdict = {
            "name": "Export source",
            "description": f"Exported with cytolab {__version__} from "
                           f"'{root_file.name}'",
            "type": "file", "format": "hdf5", "features": None,
            "mapping": mapping_name,
            "paths": _basin_paths([str(root_file)], None, out_path.parent),
        }
        if root_mid:
            bdict["identifier"] = root_mid
        writer.store_basin_dict(bdict)
        written.append(f"Export source (file, mapping {mapping_name})")
    else:
        warnings.warn(f"{root} is not stored in a local file; the export has "
                      f"no basin pointing at its source", CytolabWarning,
                      stacklevel=4)
    return written


def _basin_paths(paths: Iterable[str], ref_dir: pathlib.Path | None,
                 out_dir: pathlib.Path) -> list[str]:
    """Absolute paths, then the same paths relative to the output folder."""
    absolute: list[str] = []
    for p in paths:
        path = pathlib.Path(str(p).replace("\\", "/"))
        if not path.is_absolute():
            if ref_dir is None:
                continue
            path = ref_dir / path
        path = pathlib.Path(os.path.abspath(path))
        if str(path) not in absolute:
            absolute.append(str(path))
    out = list(absolute)
    for p in absolute:
        try:
            rel = os.path.relpath(p, out_dir)
        except ValueError:  # another drive on Windows
            continue
        if rel not in out:
            out.append(rel)
    return out


# --------------------------------------------------------------- provenance
def _provenance(ds: RTDCBase, root: RTDCBase, feats: Sequence[str],
                filtered: bool, nsel: int, new_mid: str | None,
                basins: Sequence[str]) -> list[str]:
    info = {
        "software": f"cytolab {__version__}",
        "date": datetime.datetime.now(datetime.timezone.utc)
                .isoformat(timespec="seconds"),
        "source": {
            "path": str(ds.path),
            "format": ds.format,
            "measurement identifier": ds.get_measurement_identifier(),
            "hash": ds.hash,
            "events": len(ds),
        },
        "filtered": bool(filtered),
        "events": nsel,
        "features": list(feats),
        "measurement identifier": new_mid,
        "basins": list(basins),
    }
    if root is not ds:
        info["source"]["hierarchy root"] = str(root.path)
    return json.dumps(info, indent=2, default=str).splitlines()


# ------------------------------------------------------------------ progress
def _progress(total: int, desc: str, unit: str) -> tqdm:
    """A progress bar shown on a terminal, for large exports only."""
    return progress_bar(total=total, desc=desc, unit=unit, unit_scale=True,
                        show=False if total < 100_000 else None)
