"""The ``.rtdc`` (HDF5) format: `RTDC_HDF5` and its lazy feature mapping."""
from __future__ import annotations

import collections.abc
import hashlib
import os
import pathlib
import re
import types
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

import h5py
import numpy as np

from ... import definitions as dfn
from ...errors import (
    BadFeatureSizeWarning,
    FileFormatError,
    UnknownConfigurationKeyWarning,
    UnknownFeatureWarning,
)
from ...features.contour import get_contour
from ...features.inert_ratio import INERTIA_FEATURES
from ...features.moments import moments_features
from ...io import (
    ChunkedEventArray,
    RaggedEventArray,
    is_hdf5_file,
    md5_5m,
    open_h5,
    read_basin_dicts,
    read_root_metadata,
    read_text_lines,
)
from ..config import Configuration
from ..core import RTDCBase

#: Files written by dclab versions before this one need special care.
MIN_DCLAB_EXPORT_VERSION = "0.3.3.dev2"


class H5Events(collections.abc.Mapping):
    """Read-only mapping of feature name to (lazily loaded) data of a group.

    Scalar features are read completely on first access and cached as
    read-only arrays; images and masks are served through a chunk cache,
    contours per event, traces as a dict of lazy arrays.

    Parameters
    ----------
    group
        The HDF5 group holding one item per feature (``/events``).
    length
        Number of events of the dataset; features with more events are
        trimmed, features with fewer are left out (both with a warning).
        None: take the length from the data.
    ignore
        Feature names to hide (e.g. known-defective stored features).
    path
        Name of the file, for messages.
    """

    def __init__(self, group: h5py.Group, length: int | None = None,
                 ignore: collections.abc.Collection[str] = (),
                 path: Any = None) -> None:
        self.group = group
        self.path = path
        self._cache: dict[str, Any] = {}
        names = [n for n in group.keys() if n not in ignore]
        # Names that are not (yet) known features: temporary and plugin
        # features become readable when registered, before or after opening.
        self._pending = sorted(n for n in names if not dfn.feature_exists(n))
        if length is None:
            known = [n for n in names if n not in self._pending]
            length = self._infer_length(known or names)
        self.length = length
        for name in self._pending:
            warnings.warn(f"Ignoring unknown feature '{name}' in '{self.path}' "
                          f"(register it as a temporary or plugin feature to "
                          f"use it)", UnknownFeatureWarning, stacklevel=3)
        self._known = sorted(n for n in names if n not in self._pending
                             and self._usable(n))
        self._checked: dict[str, bool] = {}

    @property
    def _names(self) -> list[str]:
        return sorted(n for n in self._known + self._pending if n in self)

    def _item_length(self, name: str) -> int | None:
        obj = self.group[name]
        if isinstance(obj, h5py.Dataset):
            return obj.shape[0] if obj.shape else None
        if name == "trace":
            lengths = {obj[k].shape[0] for k in obj if isinstance(obj[k], h5py.Dataset)}
            return min(lengths) if lengths else None
        return len(obj)  # ragged group (contour)

    def _infer_length(self, names: list[str]) -> int:
        scalar = [self._item_length(n) for n in names
                  if isinstance(self.group[n], h5py.Dataset)
                  and self.group[n].ndim == 1]
        lengths = [n for n in scalar if n is not None]
        if not lengths:
            lengths = [n for n in (self._item_length(n) for n in names)
                       if n is not None]
        if not lengths:
            return 0
        values, counts = np.unique(lengths, return_counts=True)
        return int(values[np.argmax(counts)])

    def _usable(self, name: str) -> bool:
        obj = self.group[name]
        if isinstance(obj, h5py.Dataset) and obj.ndim != 1 \
                and dfn.scalar_feature_exists(name) or \
                isinstance(obj, h5py.Dataset) and obj.ndim < 2 \
                and not dfn.scalar_feature_exists(name):
            kind = "scalar" if dfn.scalar_feature_exists(name) else "non-scalar"
            warnings.warn(f"Ignoring feature '{name}' in '{self.path}': a {kind} "
                          f"feature cannot have shape {obj.shape}",
                          BadFeatureSizeWarning, stacklevel=4)
            return False
        size = self._item_length(name)
        if size is None:
            if isinstance(obj, h5py.Dataset):
                warnings.warn(f"Ignoring feature '{name}' in '{self.path}': it "
                              f"has no event axis (shape {obj.shape})",
                              BadFeatureSizeWarning, stacklevel=4)
            return False
        if name == "trace" and not len(self.group[name]):
            return False
        if size < self.length:
            warnings.warn(
                f"Ignoring feature '{name}' in '{self.path}': it has {size} "
                f"events, the dataset has {self.length}",
                BadFeatureSizeWarning, stacklevel=4)
            return False
        if size > self.length:
            warnings.warn(
                f"Feature '{name}' in '{self.path}' has {size} events, the "
                f"dataset has {self.length}; using the first {self.length}",
                BadFeatureSizeWarning, stacklevel=4)
        return True

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            if name not in self:
                raise KeyError(name)
            self._cache[name] = self._load(name)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not dfn.feature_exists(name):
            return False
        if name in self._pending:
            if name not in self._checked:
                self._checked[name] = self._usable(name)
            return self._checked[name]
        return name in self._known

    def _load(self, name: str) -> Any:
        obj = self.group[name]
        if name == "trace":
            return types.MappingProxyType({
                key: self._array(obj[key]) for key in sorted(obj)})
        if name == "contour" or isinstance(obj, h5py.Group):
            return RaggedEventArray(obj, length=self.length)
        if obj.ndim == 1:
            try:
                data = obj[:self.length] if obj.shape[0] != self.length else obj[()]
            except OSError as exc:
                raise FileFormatError(f"Cannot read feature '{name}' from "
                                      f"'{self.path}' (damaged file?): {exc}"
                                      ) from exc
            data.flags.writeable = False
            return data
        return self._array(obj, boolean=(name == "mask"))

    def _array(self, dset: h5py.Dataset, boolean: bool = False) -> ChunkedEventArray:
        return ChunkedEventArray(dset, boolean=boolean, length=self.length)


class _LazyH5Dict(collections.abc.Mapping):
    """Read-only mapping of a group's datasets, each read on first access."""

    def __init__(self, h5: h5py.File, group: str, reader: Any) -> None:
        self._group = h5[group] if group in h5 else None
        self._reader = reader
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if self._group is None or key not in self._group:
            raise KeyError(key)
        if key not in self._cache:
            self._cache[key] = self._reader(self._group[key])
        value = self._cache[key]
        # hand out copies of mutable values: the file is the truth
        return list(value) if isinstance(value, list) else value

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._group.keys()) if self._group is not None else [])

    def __len__(self) -> int:
        return 0 if self._group is None else len(self._group)


def _read_table(dset: h5py.Dataset) -> np.ndarray:
    data = dset[()]
    data.flags.writeable = False
    return data


def _defective_features(h5: h5py.File, meta: dict[str, dict[str, Any]]
                        ) -> dict[str, str]:
    """Stored features known to be wrong, with the reason (recomputed instead)."""
    events = h5["events"]
    version = str(meta.get("setup", {}).get("software version", ""))
    defective = {}
    if "time" in events and events["time"].dtype == np.float32 \
            and "frame" in events and meta.get("imaging", {}).get("frame rate"):
        defective["time"] = "stored as float32 (imprecise); computed from frame"
    shapein = re.search(r"(?:ShapeIn|Shape-In)\s*([0-9.]+)", version)
    if shapein is None and re.match(r"^\s*2\.\d+\.\d+", version):
        shapein = re.match(r"^\s*([0-9.]+)", version)
    if shapein:
        sv = _version_tuple(shapein.group(1))
        if sv[:3] in [(2, 0, 6), (2, 0, 7)] and "aspect" in events:
            defective["aspect"] = f"wrong in Shape-In {shapein.group(1)}"
    dclab = re.search(r"dclab\s+([0-9][0-9a-z.+]*)", version)
    if dclab and _version_tuple(dclab.group(1)) < (0, 37, 0) and "volume" in events:
        defective["volume"] = (f"computed by dclab {dclab.group(1)} "
                               f"(before the volume fix of 0.37.0)")
    defective.update(_defective_inertia(events, version, shapein))
    return defective


#: Events (those reaching furthest right) recomputed to check stored inertia
INERTIA_CHECK_EVENTS = 5


def _defective_inertia(events: h5py.Group, version: str,
                       shapein: re.Match | None) -> dict[str, str]:
    """Stored inertia ratios / tilt that overflowed when they were computed.

    dclab before 0.48.2 and Shape-In before 2.0.5 summed contour moments in
    32-bit integers, which overflows for events far right in long channels
    (dclab issue #212). Only files one of them wrote are suspect, and not
    when the newest writer is dclab >= 0.48.2 (it recomputed defective
    values on export); ``inert_ratio_cvx``/``inert_ratio_raw`` are trusted
    when Shape-In >= 2.0.5 recorded the data (it computed them, dclab only
    passed them on). Otherwise the events that reach furthest right are recomputed from
    their contours (or masks) and compared with the stored values; features
    that disagree are reported. Without contours or masks nothing can be
    recomputed and the stored values are kept.
    """
    stored = [f for f in INERTIA_FEATURES if f in events]
    dclabs = [_version_tuple(v) for v in re.findall(r"dclab\s+([0-9][0-9a-z.+]*)",
                                                     version)]
    old_shapein = shapein is not None and _version_tuple(shapein.group(1)) < (2, 0, 5)
    old_dclab = any(v < (0, 48, 2) for v in dclabs)
    if not stored or not (old_shapein or old_dclab) \
            or (dclabs and dclabs[-1] >= (0, 48, 2)):
        return {}  # no buggy writer involved, or a fixed dclab wrote last
    if shapein is not None and not old_shapein:
        # Shape-In >= 2.0.5 computed these; dclab only passed them on
        stored = [f for f in stored if f not in ("inert_ratio_cvx", "inert_ratio_raw")]
    source = "contour" if "contour" in events else "mask" if "mask" in events else None
    size = min((events[f].shape[0] for f in stored), default=0)
    if not stored or source is None or size == 0:
        return {}
    if "pos_x" in events and events["pos_x"].shape[0] >= size:
        reach = np.asarray(events["pos_x"][:size], dtype=float)
        if "size_x" in events and events["size_x"].shape[0] >= size:
            reach = reach + np.asarray(events["size_x"][:size], dtype=float) / 2
        reach = np.where(np.isfinite(reach), reach, -np.inf)
        picks = np.sort(np.argsort(reach)[-INERTIA_CHECK_EVENTS:])
    else:
        picks = np.arange(min(size, INERTIA_CHECK_EVENTS))
    try:
        if source == "contour":
            group = events["contour"]
            contours = [np.asarray(group[str(i)]) for i in picks]
        else:
            contours = get_contour(np.asarray(events["mask"][picks.tolist()]))
        fresh = moments_features(contours, features=stored)
    except (KeyError, OSError, ValueError):
        return {}  # the raw data cannot tell; keep what is stored
    defective = {}
    for feat in stored:
        old = np.asarray(events[feat][picks.tolist()], dtype=float)
        new = np.asarray(fresh[feat], dtype=float)
        same = np.isclose(old, new, rtol=1e-3, atol=1e-6) \
            | (np.isnan(old) & np.isnan(new))
        if not same.all():
            defective[feat] = ("computed with overflowing integer moments "
                               "(recomputed from the contours)")
    return defective


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


class RTDC_HDF5(RTDCBase):
    """A measurement in the ``.rtdc`` (HDF5) format.

    Parameters
    ----------
    h5path
        Path to the file, an open :class:`h5py.File`, or a binary file-like
        object.
    h5kwargs
        Passed to :class:`h5py.File`.
    identifier
        Unique identifier of this instance.
    enable_basins
        Look up features in the basins the file defines.

    Examples
    --------
    >>> import cytolab, cytolab.simulate, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.rtdc"
    >>> _ = cytolab.simulate.simulate_rtdc(path, num_events=100, seed=1)
    >>> with cytolab.new_dataset(path) as ds:
    ...     print(len(ds), ds.format, "deform" in ds)
    100 hdf5 True
    """

    format = "hdf5"

    def __init__(self, h5path: str | os.PathLike | BinaryIO | h5py.File,
                 h5kwargs: dict[str, Any] | None = None,
                 identifier: str | None = None, enable_basins: bool = True
                 ) -> None:
        super().__init__(identifier=identifier, enable_basins=enable_basins)
        self.h5file, self._owned = open_h5(h5path, mode="r", **(h5kwargs or {}))
        try:
            self._setup(h5path)
        except BaseException:
            self.close()
            raise

    def _setup(self, h5path: Any) -> None:
        if isinstance(h5path, (str, os.PathLike)):
            self.path = pathlib.Path(h5path).resolve()
        elif self.h5file.file.filename and os.path.exists(self.h5file.file.filename):
            self.path = pathlib.Path(self.h5file.file.filename).resolve()
        else:
            name = getattr(h5path, "name", None)
            if isinstance(name, str) and os.path.isfile(name):
                self.path = pathlib.Path(name).resolve()  # open(path, "rb")
            else:
                self.path = name or "none"
        #: file-like object the data come from (hashed by content)
        self._fileobj = h5path if hasattr(h5path, "read") else None
        if not isinstance(self.h5file.get("events"), h5py.Group):
            raise FileFormatError(
                f"'{self.path}' is not an RT-DC dataset: it has no 'events' "
                f"group (found: {sorted(self.h5file.keys())})")
        meta = read_root_metadata(self.h5file)
        self.config = self.parse_config(meta, source=self.path)
        defective = _defective_features(self.h5file, meta)
        if "time" in defective and len(self.h5file["events/time"]):
            # keep the clock of the stored (imprecise) time
            self.time_offset = float(self.h5file["events/time"][0])
        for feat, reason in defective.items():
            warnings.warn(f"Ignoring stored feature '{feat}' of '{self.path}': "
                          f"{reason}", BadFeatureSizeWarning, stacklevel=3)
        self._events = H5Events(self.h5file["events"], ignore=defective,
                                path=self.path)
        self._length = self._events.length
        self._logs = _LazyH5Dict(self.h5file, "logs", read_text_lines)
        self._tables = _LazyH5Dict(self.h5file, "tables", _read_table)
        self._hash: str | None = None

    @staticmethod
    def can_open(h5path: str | os.PathLike) -> bool:
        """Whether `h5path` is an HDF5 file (whatever its extension)."""
        return is_hdf5_file(h5path)

    @staticmethod
    def parse_config(h5path: Any, source: Any = None) -> Configuration:
        """Metadata of a file as :class:`Configuration`.

        Parameters
        ----------
        h5path
            Path, open :class:`h5py.File`, or an already-read nested dict.
        source
            Name of the file for messages.

        Unknown keys are kept (so a checker can report them) and reported
        in one :class:`~cytolab.errors.UnknownConfigurationKeyWarning`.
        """
        if isinstance(h5path, dict):
            meta = h5path
        else:
            h5, owned = open_h5(h5path)
            try:
                meta = read_root_metadata(h5)
            finally:
                if owned:
                    h5.close()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfg = Configuration(cfg=meta)
        unknown = []
        for wrn in caught:
            if issubclass(wrn.category, UnknownConfigurationKeyWarning):
                unknown.append(str(wrn.message))
            else:
                warnings.warn(f"{source}: {wrn.message}", wrn.category, stacklevel=3)
        if unknown:
            warnings.warn(f"'{source}' has metadata unknown to cytolab: "
                          + "; ".join(unknown), UnknownConfigurationKeyWarning,
                          stacklevel=3)
        return cfg

    def _get_length(self) -> int:
        return self._length

    @property
    def hash(self) -> str:
        """MD5 of the file name and the first 5 MiB of its content."""
        if self._hash is None:
            name = pathlib.Path(str(self.path)).name
            if isinstance(self.path, pathlib.Path) and self.path.exists():
                content = md5_5m(self.path)
            elif self._fileobj is not None:
                content = md5_5m(self._fileobj)
            else:
                content = hashlib.md5(repr(sorted(self.h5file.attrs.items()))
                                      .encode()).hexdigest()
            self._hash = hashlib.md5(f"{name}:{content}".encode()).hexdigest()
        return self._hash

    def basins_get_dicts(self) -> list[dict[str, Any]]:
        """Basin definitions stored in the file, in priority order."""
        return read_basin_dicts(self.h5file)

    def close(self) -> None:
        """Close basins and, if this instance opened it, the file."""
        super().close()
        if getattr(self, "_owned", False) and self.h5file.id.valid:
            self.h5file.close()
