"""`RTDCWriter`: write ``.rtdc`` files that every RT-DC tool opens.

The writer validates metadata against the definitions, chooses the storage of
each feature (scalar, image stack, mask, ragged contour, trace group), and
keeps the metadata consistent with the data (event count, ROI size, samples
per trace) when it is closed. The bytes are written by
:class:`cytolab.io.HDF5Writer`.

A new file is written under a temporary name next to the target and renamed
when the writer is closed without error, so an interrupted write never
leaves a half-written file under the final name.
"""
from __future__ import annotations

import copy
import os
import pathlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import h5py
import numpy as np

from .. import definitions as dfn
from .._version import __version__
from ..errors import FeatureShapeError, UnknownConfigurationKeyWarning
from ..io import (
    IMAGE_ATTRIBUTES,
    INTERNAL_BASIN_GROUP,
    HDF5Writer,
    get_best_nd_chunks,
    get_measurement_identifier,
    open_h5,
    read_root_metadata,
    temporary_sibling,
    write_text,
)

BRAND = f"cytolab {__version__}"


class RTDCWriter:
    """Write RT-DC data to an ``.rtdc`` file.

    Parameters
    ----------
    path_or_h5file
        Output path, or an open, writable :class:`h5py.File` (which the
        writer never closes).
    mode
        ``"append"``: add events to existing features; ``"replace"``: replace
        existing features; ``"reset"``: start an empty file.
    compression_kwargs
        HDF5 dataset keywords; default Zstandard level 5 plus Fletcher-32.
        ``{"compression": None}`` disables compression.

    Examples
    --------
    >>> import numpy as np, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.rtdc"
    >>> with RTDCWriter(path, mode="reset") as hw:
    ...     hw.store_metadata({"experiment": {"sample": "beads", "run index": 1},
    ...                        "imaging": {"pixel size": 0.34}})
    ...     hw.store_feature("deform", np.array([0.01, 0.02, 0.05]))
    >>> import cytolab
    >>> with cytolab.new_dataset(path) as ds:
    ...     print(len(ds), ds.config["experiment"]["event count"])
    3 3
    """

    def __init__(self, path_or_h5file: str | os.PathLike | h5py.File,
                 mode: Literal["append", "replace", "reset"] = "append",
                 compression_kwargs: Mapping[str, Any] | None = None,
                 compression: Any = "deprecated") -> None:
        if mode not in ("append", "replace", "reset"):
            raise ValueError(f"Invalid mode '{mode}' (use 'append', 'replace' "
                             f"or 'reset')")
        if compression != "deprecated":
            warnings.warn("`compression` is deprecated; use `compression_kwargs`",
                          DeprecationWarning, stacklevel=2)
            if compression_kwargs is None:
                compression_kwargs = {"compression": compression}
        self.mode = mode
        self._tmp_path: pathlib.Path | None = None
        if isinstance(path_or_h5file, h5py.Group):
            h5 = path_or_h5file
            self.path = pathlib.Path(h5.file.filename)
            if mode == "reset":
                for key in list(h5.keys()):
                    del h5[key]
                for key in list(h5.attrs.keys()):
                    del h5.attrs[key]
        else:
            self.path = pathlib.Path(path_or_h5file).resolve()
            if mode == "reset" or not self.path.exists():
                if not self.path.parent.is_dir():
                    raise FileNotFoundError(
                        f"Output directory does not exist: '{self.path.parent}'")
                self._tmp_path = temporary_sibling(self.path)
                h5, _ = open_h5(self._tmp_path, mode="w")
            else:
                h5, _ = open_h5(self.path, mode="a")
        self._hw = HDF5Writer(h5, ds_kwds=compression_kwargs)
        self._owned = not isinstance(path_or_h5file, h5py.Group)
        self.h5file = h5
        self.compression_kwargs = dict(self._hw.ds_kwds)
        self._closed = False

    # context manager
    def __enter__(self) -> RTDCWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._tmp_path is not None:
            warnings.warn(f"RTDCWriter for '{self.path}' was never closed; its "
                          f"data were discarded (use `with` or call close())",
                          ResourceWarning, stacklevel=2)
            self._abort()

    def close(self) -> None:
        """Rectify metadata, brand the version, and finish the file."""
        if self._closed:
            return
        try:
            self.rectify_metadata()
            self.version_brand()
        except BaseException:
            self._abort()
            raise
        self._closed = True
        if self._owned:
            self.h5file.close()
            if self._tmp_path is not None:
                os.replace(self._tmp_path, self.path)
        else:
            self.h5file.flush()

    def _abort(self) -> None:
        """Close without finishing; remove a new file's temporary data."""
        if self._closed:
            return
        self._closed = True
        if self._owned:
            try:
                self.h5file.close()
            finally:
                if self._tmp_path is not None:
                    self._tmp_path.unlink(missing_ok=True)

    # metadata
    def store_metadata(self, meta: Mapping[str, Mapping[str, Any]]) -> None:
        """Store metadata given as ``{section: {key: value}}``.

        Measurement sections (``experiment``, ``imaging``, ``setup``, ...) are
        validated and converted to their defined types; ``user`` is stored
        as given. The analysis sections ``filtering`` and ``calculation`` are
        settings of an analysis session, not of the measurement, and are not
        stored.

        Raises
        ------
        ValueError
            For a section that does not exist.

        Warns
        -----
        UnknownConfigurationKeyWarning
            For keys unknown in their section (they are not stored, so that
            the file stays valid for every tool).
        """
        meta = copy.deepcopy({sec: dict(vals) for sec, vals in meta.items()})
        meta.pop("fmt_tdms", None)
        for section in dfn.CFG_ANALYSIS:
            meta.pop(section, None)
        for section in meta:
            if section != "user" and section not in dfn.CFG_METADATA:
                raise ValueError(f"Unknown metadata section '{section}' "
                                 f"(valid: {sorted(dfn.CFG_METADATA)} and 'user')")
        attrs = self.h5file.attrs
        for section, values in meta.items():
            for key, value in values.items():
                if isinstance(value, (bytes, np.bytes_)):
                    value = value.decode("utf-8")
                if value is None or (isinstance(value, str) and value == ""):
                    continue
                name = f"{section}:{key}"
                if section == "user":
                    attrs[name] = value
                    continue
                if not dfn.config_key_exists(section, key):
                    warnings.warn(f"Not storing unknown metadata key '{name}' in "
                                  f"'{self.path}'", UnknownConfigurationKeyWarning,
                                  stacklevel=2)
                    continue
                func = dfn.get_config_value_func(section, key)
                try:
                    value = func(value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"Invalid value {value!r} for metadata "
                                     f"'{name}': {exc}") from exc
                if isinstance(value, (list, tuple)):
                    value = np.asarray(value)
                attrs[name] = value

    def rectify_metadata(self) -> None:
        """Make event count, ROI size and trace metadata match the data."""
        events = self.h5file.get("events")
        if events is None:
            return
        attrs = self.h5file.attrs
        lengths = [obj.shape[0] for name, obj in events.items()
                   if isinstance(obj, h5py.Dataset) and obj.ndim >= 1
                   and name != "contour"]
        if lengths:
            values, counts = np.unique(lengths, return_counts=True)
            attrs["experiment:event count"] = int(values[np.argmax(counts)])
        elif "contour" in events:
            attrs["experiment:event count"] = len(events["contour"])
        for feat in ("image", "mask", "image_bg"):
            if feat in events and events[feat].ndim == 3:
                _, height, width = events[feat].shape
                attrs["imaging:roi size x"] = int(width)
                attrs["imaging:roi size y"] = int(height)
                break
        if "trace" in events and len(events["trace"]):
            sizes = {events["trace"][k].shape[1] for k in events["trace"]
                     if events["trace"][k].ndim == 2}
            if len(sizes) == 1:
                attrs["fluorescence:samples per event"] = int(sizes.pop())
            if "fluorescence:channel count" not in attrs:
                channels = {k.split("_")[0] for k in events["trace"]}
                attrs["fluorescence:channel count"] = len(channels)

    def version_brand(self, old_version: str | None = None,
                      write_attribute: bool = True) -> str:
        """Append ``| cytolab X.Y.Z`` to ``setup:software version``.

        Returns
        -------
        str
            The branded version string.
        """
        if old_version is None:
            old = self.h5file.attrs.get("setup:software version", "")
            old_version = old.decode() if isinstance(old, bytes) else str(old)
        if old_version.rstrip().endswith(BRAND):
            new_version = old_version
        elif old_version.strip():
            new_version = f"{old_version} | {BRAND}"
        else:
            new_version = BRAND
        if write_attribute:
            self.h5file.attrs["setup:software version"] = new_version
        return new_version

    # features
    def store_feature(self, feat: str, data: Any,
                      shape: Sequence[int] | None = None) -> None:
        """Store (or append) the data of one feature.

        Parameters
        ----------
        feat
            Feature name.
        data
            Scalar features: 1-D array. Images and masks: (N, H, W) array
            (masks may be boolean; stored as uint8). ``contour``: list of
            (M, 2) arrays. ``trace``: dict of trace name to (N, samples).
            Other non-scalar features: array of shape (N, *shape).
        shape
            Per-event shape of a non-scalar feature that cytolab does not
            know (e.g. a plugin feature). Guessed from the data when None.

        Raises
        ------
        ValueError
            For unknown features and data of the wrong shape or type.
        """
        if not dfn.feature_exists(feat):
            raise ValueError(f"Unknown feature '{feat}'; cannot store it in "
                             f"'{self.path}'")
        events = self.h5file.require_group("events")
        if self.mode == "replace" and feat in events:
            if feat == "trace" and isinstance(data, Mapping):
                for key in data:
                    if key in events["trace"]:
                        del events["trace"][key]
            else:
                del events[feat]

        if feat == "index":
            start = events["index"].shape[0] if "index" in events else 0
            self._hw.store_feature_chunk(
                "index", np.arange(start + 1, start + len(data) + 1, dtype=np.uint64))
        elif dfn.scalar_feature_exists(feat):
            arr = np.atleast_1d(np.asarray(data))
            if arr.ndim != 1:
                raise FeatureShapeError(
                    f"Scalar feature '{feat}' needs 1-D data, got shape {arr.shape}")
            if feat.startswith("basinmap"):
                arr = arr.astype(np.uint64)
            self._hw.store_feature_chunk(feat, arr)
        elif feat == "contour":
            self._hw.store_ragged("contour", [self._check_contour(c) for c in data])
        elif feat == "trace":
            self._store_trace(data)
        elif feat in dfn.FEATURES_IMAGE_UINT8:
            self._hw.store_feature_chunk(feat, self._image_uint8(feat, data))
        elif feat in dfn.FEATURES_IMAGE_FLOAT32:
            arr = np.asarray(data, dtype=np.float32)
            arr = arr[np.newaxis] if arr.ndim == 2 else arr
            self._require_ndim(feat, arr, 3)
            self._hw.store_feature_chunk(feat, arr)
        else:
            arr = np.asarray(data)
            if shape is None:
                warnings.warn(f"No per-event shape given for feature '{feat}'; "
                              f"assuming {arr.shape[1:]} (pass `shape=`)",
                              UserWarning, stacklevel=2)
                shape = arr.shape[1:]
            shape = tuple(shape)
            if arr.shape == shape:
                arr = arr.reshape((1,) + shape)
            elif arr.shape[1:] != shape:
                raise FeatureShapeError(f"Feature '{feat}': expected events of "
                                        f"shape {shape}, got {arr.shape[1:]}")
            self._hw.store_feature_chunk(feat, arr)

    @staticmethod
    def _require_ndim(feat: str, arr: np.ndarray, ndim: int) -> None:
        if arr.ndim != ndim:
            raise FeatureShapeError(f"Feature '{feat}' needs {ndim}-D data "
                                    f"(events first), got shape {arr.shape}")

    def _image_uint8(self, feat: str, data: Any) -> np.ndarray:
        arr = np.asarray(data)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        self._require_ndim(feat, arr, 3)
        if arr.dtype == bool or (feat == "mask" and arr.dtype.kind in "iu"):
            return arr.astype(bool)  # stored as 0/255 by the HDF5 layer
        if arr.size == 0:
            return arr.astype(np.uint8)
        if arr.dtype != np.uint8:
            if arr.dtype.kind not in "iu":
                raise FeatureShapeError(
                    f"Feature '{feat}' must be uint8 grayscale (or boolean), "
                    f"got {arr.dtype} data")
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise FeatureShapeError(
                    f"Feature '{feat}' must be uint8 grayscale: {arr.dtype} "
                    f"values range from {arr.min()} to {arr.max()}, outside "
                    f"0..255")
            arr = arr.astype(np.uint8)
        return arr

    @staticmethod
    def _check_contour(contour: Any) -> np.ndarray:
        arr = np.asarray(contour)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise FeatureShapeError(f"Each contour must be an (M, 2) array of "
                                    f"x, y points, got shape {arr.shape}")
        return arr

    def _store_trace(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise FeatureShapeError("Feature 'trace' must be a dict of trace "
                                    "name to (events, samples) array")
        for key, trace in data.items():
            if key not in dfn.FLUOR_TRACES:
                raise ValueError(f"Unknown trace '{key}' (valid: "
                                 f"{list(dfn.FLUOR_TRACES)})")
            arr = np.atleast_2d(np.asarray(trace))
            self._require_ndim(f"trace/{key}", arr, 2)
            self._hw.store_feature_chunk(key, arr, group_name="events/trace")

    # logs, tables, basins
    def store_log(self, name: str, lines: str | Sequence[str]) -> None:
        """Store text lines as log `name` (appended to an existing log)."""
        self._hw.store_log(name, lines, append=True)

    def store_table(self, name: str, cmp_array: Any) -> None:
        """Store a table: structured array, h5py dataset, or dict of columns."""
        self._hw.store_table(name, cmp_array)

    def store_basin(self, basin_name: str, basin_type: str = "file",
                    basin_format: str = "hdf5",
                    basin_locs: Sequence[str | os.PathLike] = (),
                    basin_descr: str | None = None,
                    basin_feats: Sequence[str] | None = None,
                    basin_map: np.ndarray | tuple[str, np.ndarray] | None = None,
                    internal_data: Mapping[str, np.ndarray] | None = None,
                    verify: bool = True) -> str:
        """Define a basin: another place that provides features.

        Parameters
        ----------
        basin_name
            Short name of the basin.
        basin_type
            ``"file"``, ``"internal"`` or ``"remote"``.
        basin_format
            ``"hdf5"`` for files, ``"h5dataset"`` for internal basins, the
            remote format (``"http"``, ``"s3"``, ``"dcor"``) otherwise.
        basin_locs
            File paths (both the absolute and the relative path to this file
            are stored) or URLs.
        basin_descr
            Description.
        basin_feats
            Features the basin provides; None means all.
        basin_map
            For basins with a superset of the events: for each event of this
            file its index in the basin; optionally ``(name, array)`` to
            choose the ``basinmapN`` feature.
        internal_data
            Feature data of an internal basin.
        verify
            Check that file basins exist and their mapping fits.

        Returns
        -------
        str
            The basin key (name of its dataset in ``/basins``).
        """
        mapping_name = "same"
        mapping = None
        if basin_map is not None:
            if isinstance(basin_map, tuple):
                mapping_name, mapping = basin_map
                mapping = np.asarray(mapping, dtype=np.uint64)
                if not (mapping_name.startswith("basinmap")
                        and dfn.scalar_feature_exists(mapping_name)):
                    raise ValueError(f"Invalid mapping feature '{mapping_name}'")
                events = self.h5file.require_group("events")
                if mapping_name in events:
                    if not np.array_equal(events[mapping_name][:], mapping):
                        raise ValueError(
                            f"'{mapping_name}' exists in '{self.path}' with "
                            f"different content")
                else:
                    self._hw.store_feature_chunk(mapping_name, mapping)
            else:
                mapping = np.asarray(basin_map, dtype=np.uint64)
                mapping_name = self._hw.next_basinmap(mapping)

        bdict: dict[str, Any] = {
            "name": basin_name, "description": basin_descr, "type": basin_type,
            "format": basin_format, "mapping": mapping_name,
            "features": None if basin_feats is None else sorted(basin_feats),
        }
        if basin_type == "internal":
            if internal_data is None:
                raise ValueError("Internal basins need `internal_data`")
            stored = self._hw.store_internal_basin_data(internal_data)
            bdict["paths"] = [INTERNAL_BASIN_GROUP]
            if basin_feats is None:
                bdict["features"] = stored
        elif basin_type == "file":
            if basin_format != "hdf5":
                raise ValueError(f"File basins must have format 'hdf5', "
                                 f"got '{basin_format}'")
            bdict["paths"] = self._basin_paths(basin_locs, verify, mapping)
            if verify:
                identifier = _file_measurement_identifier(bdict["paths"][0])
                if identifier is not None:
                    bdict["identifier"] = identifier
        elif basin_type == "remote":
            bdict["urls"] = [str(u) for u in basin_locs]
        else:
            raise ValueError(f"Unknown basin type '{basin_type}' "
                             f"(use 'file', 'internal' or 'remote')")
        return self._hw.store_basin_dict(bdict)

    def _basin_paths(self, locs: Sequence[str | os.PathLike], verify: bool,
                     mapping: np.ndarray | None) -> list[str]:
        if not locs:
            raise ValueError("A file basin needs at least one location")
        paths: list[str] = []
        for loc in locs:
            path = pathlib.Path(loc)
            if not verify:
                paths.append(str(path))
                continue
            path = path.resolve()
            if not path.exists():
                raise FileNotFoundError(f"Basin file not found: '{path}'")
            h5, _ = open_h5(path)
            with h5:
                if "events" not in h5:
                    raise ValueError(f"Basin file '{path}' has no 'events' group")
                if mapping is not None and mapping.size:
                    nbasin = int(h5.attrs.get("experiment:event count", -1))
                    if nbasin < 0:
                        nbasin = max((o.shape[0] for o in h5["events"].values()
                                      if isinstance(o, h5py.Dataset)), default=0)
                    if mapping.max() >= nbasin:
                        raise ValueError(
                            f"Basin mapping refers to event {mapping.max()}, but "
                            f"'{path}' has {nbasin} events")
            paths.append(str(path))
            try:
                rel = os.path.relpath(path, self.path.parent)
            except ValueError:  # different drives on Windows
                rel = None
            if rel is not None and rel not in paths:
                paths.append(rel)
        return paths

    # low-level helpers (kept for users of the reference API)
    @staticmethod
    def get_best_nd_chunks(item_shape: Sequence[int],
                           item_dtype: np.dtype | type = np.float64) -> tuple[int, ...]:
        """Chunk shape of about 1 MiB (at least 10 events)."""
        return get_best_nd_chunks(item_shape, item_dtype)

    def write_ndarray(self, group: h5py.Group, name: str, data: Any,
                      dtype: Any = None) -> h5py.Dataset:
        """Append (N, ...) data to dataset `name` of `group`."""
        data = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
        return self._hw.store_feature_chunk(name, data, group_name=group.name)

    def write_image_grayscale(self, group: h5py.Group, name: str, data: Any,
                              is_boolean: bool = False) -> h5py.Dataset:
        """Append uint8 (or boolean) image data with the HDF5 image attributes."""
        data = np.asarray(data)
        if is_boolean:
            data = (data > 0).astype(np.uint8) * np.uint8(255)
        else:
            data = self._image_uint8(name, data)
        dset = self._hw.store_feature_chunk(name, data, group_name=group.name)
        dset.attrs.update(IMAGE_ATTRIBUTES)
        return dset

    def write_image_float32(self, group: h5py.Group, name: str, data: Any
                            ) -> h5py.Dataset:
        """Append float32 image data."""
        return self._hw.store_feature_chunk(name, np.asarray(data, np.float32),
                                            group_name=group.name)

    def write_ragged(self, group: h5py.Group, name: str, data: Any) -> h5py.Group:
        """Append per-event arrays of varying length (one dataset each)."""
        return self._hw.store_ragged(name, data, group_name=group.name)

    def write_text(self, group: h5py.Group, name: str, lines: str | Sequence[str]
                   ) -> h5py.Dataset:
        """Write lines of text as a fixed-length string dataset."""
        lines = lines.splitlines() if isinstance(lines, str) else list(lines)
        return write_text(group, name, lines, **self._hw._unchunked_kwds())


def _file_measurement_identifier(path: str) -> str | None:
    h5, _ = open_h5(path)
    with h5:
        return get_measurement_identifier(read_root_metadata(h5))
