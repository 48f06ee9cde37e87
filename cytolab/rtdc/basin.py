"""Basins: other datasets that provide features for the events of a dataset.

A basin is opened lazily, only when one of its features is needed. Its
measurement identifier is checked against the referring dataset; a mapped
basin (``mapping="basinmapN"``) holds a superset of the events and the
referring dataset's ``basinmapN`` feature says which basin event each of its
own events is.

Basin classes register themselves by ``(basin_type, basin_format)``; remote
formats add a class in their own module.
"""
from __future__ import annotations

import abc
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import (
    BasinmapFeatureMissingError,
    BasinNotAvailableError,
    CytolabError,
)
from ..io import (
    basin_file_candidates,
    check_basin_identifier,
    get_mapped_object,
    is_hdf5_file,
)

if TYPE_CHECKING:  # pragma: no cover
    from .core import RTDCBase

#: (basin_type, basin_format) -> Basin subclass
BASIN_CLASSES: dict[tuple[str, str], type[Basin]] = {}


class Basin(abc.ABC):
    """A place that provides features for the events of a dataset.

    Parameters
    ----------
    location
        Where the basin is (file path, group name, URL).
    name
        Short name.
    description
        Longer description.
    features
        The features the basin may provide (enforced); None: all of them.
    measurement_identifier
        Expected measurement identifier of the basin; a basin whose
        identifier differs is rejected.
    mapping
        ``"same"`` or the name of a ``basinmapN`` feature of the referrer.
    mapping_referrer
        Dict-like object that holds the ``basinmapN`` feature.
    referrer
        The dataset that defines the basin (for relative locations and
        lengths).
    key
        Key of the basin definition in the referring file.
    **kwargs
        Passed to :meth:`load_dataset`.
    """

    basin_type: ClassVar[str]
    basin_format: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "basin_type" in cls.__dict__ and "basin_format" in cls.__dict__:
            BASIN_CLASSES[(cls.basin_type, cls.basin_format)] = cls

    def __init__(self, location: Any, name: str | None = None,
                 description: str | None = None,
                 features: Sequence[str] | None = None,
                 measurement_identifier: str | None = None,
                 mapping: str = "same", mapping_referrer: Any = None,
                 referrer: RTDCBase | None = None, key: str | None = None,
                 **kwargs: Any) -> None:
        self.location = location
        self.name = name or str(location)
        self.description = description or ""
        self.declared_features = None if features is None else list(features)
        self.measurement_identifier = measurement_identifier
        self.mapping = mapping or "same"
        self.mapping_referrer = mapping_referrer if mapping_referrer is not None \
            else referrer
        self.referrer = referrer
        self.key = key or f"{type(self).__name__}:{location}"
        self.kwargs = kwargs
        self._ds: RTDCBase | None = None
        self._basinmap: np.ndarray | None = None
        self._problem: str | None = None
        self._checked = False

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} '{self.name}' at {self.location} "
                f"(mapping {self.mapping})>")

    # availability
    def is_available(self) -> bool:
        """Whether the basin can be used (location reachable, identity ok)."""
        if not self._checked:
            self._checked = True
            try:
                self._problem = self._check_location()
                if self._problem is None:
                    self._check_dataset()
            except CytolabError as exc:
                self._problem = str(exc)
        return self._problem is None

    @property
    def unavailable_reason(self) -> str | None:
        """Why the basin cannot be used (None when it can)."""
        self.is_available()
        return self._problem

    @abc.abstractmethod
    def _check_location(self) -> str | None:
        """Return a problem description if the location is not reachable."""

    def _check_dataset(self) -> None:
        ds = self.ds
        check_basin_identifier(self.measurement_identifier,
                               ds.get_measurement_identifier(), self.name,
                               self.location)
        if self.mapping == "same":
            if self.referrer is not None and len(ds) != len(self.referrer):
                raise BasinNotAvailableError(
                    f"Basin '{self.name}' at {self.location} has {len(ds)} "
                    f"events, but the dataset has {len(self.referrer)} and "
                    f"the mapping is 'same'")
        else:
            bmap = self.basinmap
            if bmap.size and bmap.max() >= len(ds):
                raise BasinNotAvailableError(
                    f"Mapping '{self.mapping}' refers to event {bmap.max()}, "
                    f"but basin '{self.name}' has only {len(ds)} events")

    # data access
    @property
    def ds(self) -> RTDCBase:
        """The basin dataset (opened on first access)."""
        if self._ds is None:
            problem = self._check_location()
            if problem:
                raise BasinNotAvailableError(problem)
            self._ds = self.load_dataset(self.location, **self.kwargs)
        return self._ds

    @abc.abstractmethod
    def load_dataset(self, location: Any, **kwargs: Any) -> RTDCBase:
        """Open the basin dataset."""

    @property
    def basinmap(self) -> np.ndarray:
        """Basin event index of each event of the referrer (mapped basins)."""
        if self._basinmap is None:
            if self.mapping == "same":
                raise ValueError(f"Basin '{self.name}' is not mapped")
            if self.mapping_referrer is None \
                    or self.mapping not in self.mapping_referrer:
                raise BasinmapFeatureMissingError(
                    f"Basin '{self.name}' needs the mapping feature "
                    f"'{self.mapping}', which the dataset does not have")
            self._basinmap = np.asarray(self.mapping_referrer[self.mapping],
                                        dtype=np.uint64)
        return self._basinmap

    @property
    def features(self) -> list[str]:
        """Features the basin provides (empty when it is not available)."""
        if not self.is_available():
            return []
        ds = self.ds
        feats = set(ds.features_innate) | set(ds.features_basin)
        # the event index and the basin's own mappings describe the basin's
        # events, not those of the referrer
        feats -= {"index"} | {f"basinmap{ii}" for ii in range(10)}
        if self.declared_features is not None:
            feats &= set(self.declared_features)
        return sorted(feats)

    def may_provide(self, feat: str) -> bool:
        """Whether the definition allows `feat` (without opening anything)."""
        if feat == "index" or feat.startswith("basinmap"):
            return False
        return self.declared_features is None or feat in self.declared_features

    def provides(self, feat: str) -> bool:
        """Whether the basin is available and provides `feat`."""
        return self.may_provide(feat) and self.is_available() \
            and feat in self.features

    def get_feature_data(self, feat: str) -> Any:
        """Feature data as seen by the referring dataset."""
        if not self.is_available():
            raise BasinNotAvailableError(
                f"Basin '{self.name}' is not available: {self._problem}")
        data = self.ds[feat]
        if self.mapping == "same":
            return data
        if isinstance(data, Mapping):  # traces
            return {k: get_mapped_object(v, self.basinmap) for k, v in data.items()}
        return get_mapped_object(data, self.basinmap)

    def get_measurement_identifier(self) -> str | None:
        """Measurement identifier of the basin dataset."""
        return self.ds.get_measurement_identifier()

    def as_dict(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`RTDCWriter.store_basin`."""
        return {"basin_name": self.name, "basin_type": self.basin_type,
                "basin_format": self.basin_format,
                "basin_locs": [self.location], "basin_descr": self.description,
                "basin_feats": self.declared_features,
                "basin_map": None if self.mapping == "same" else self.basinmap}

    def close(self) -> None:
        """Close the basin dataset if it was opened."""
        if self._ds is not None:
            self._ds.close()
            self._ds = None


class HDF5Basin(Basin):
    """A basin in an ``.rtdc`` (HDF5) file on a local or network drive."""

    basin_type = "file"
    basin_format = "hdf5"

    def _check_location(self) -> str | None:
        path = pathlib.Path(self.location)
        if not path.exists():
            return f"file not found: '{path}'"
        if not is_hdf5_file(path):
            return f"not an HDF5 file: '{path}'"
        return None

    def load_dataset(self, location: Any, **kwargs: Any) -> RTDCBase:
        from .formats.hdf5 import RTDC_HDF5

        return RTDC_HDF5(location, **kwargs)


class InternalH5DatasetBasin(Basin):
    """A basin whose data are stored in a group of the referring file itself.

    The location is the name of the group (``"basin_events"``); the mapping
    selects, for each event, its row in that group.
    """

    basin_type = "internal"
    basin_format = "h5dataset"

    def _check_location(self) -> str | None:
        h5 = getattr(self.referrer, "h5file", None)
        if h5 is None or self.location not in h5:
            return f"group '{self.location}' not found in the dataset file"
        return None

    def load_dataset(self, location: Any, **kwargs: Any) -> RTDCBase:
        from .formats.dict import RTDC_Dict
        from .formats.hdf5 import H5Events

        group = self.referrer.h5file[location]
        events = H5Events(group, path=self.referrer.path)
        ds = RTDC_Dict(events, check_length=False)
        ds.config.update(self.referrer.config.as_dict(pop_filtering=True))
        return ds

    def _check_dataset(self) -> None:
        # internal basins share the referrer's identity; only check the mapping
        if self.mapping != "same":
            bmap = self.basinmap
            ds = self.ds
            if bmap.size and bmap.max() >= len(ds):
                raise BasinNotAvailableError(
                    f"Mapping '{self.mapping}' refers to event {bmap.max()}, "
                    f"but internal basin '{self.name}' has {len(ds)} events")


def basins_from_dicts(bdicts: Sequence[Mapping[str, Any]], referrer: RTDCBase,
                      local_allowed: bool = True) -> list[Basin]:
    """Create the basin objects of a dataset from its basin definitions.

    File paths are tried in order (absolute first, then relative to the
    referring file's folder); definitions of unknown type or format are
    skipped (forward compatibility); file basins are skipped when
    `local_allowed` is False (remote datasets must not reach local files).
    """
    basins: list[Basin] = []
    ref_dir = None
    if isinstance(referrer.path, pathlib.Path):
        ref_dir = referrer.path.parent
    ref_mid = referrer.get_measurement_identifier()
    for bdict in bdicts:
        cls = BASIN_CLASSES.get((bdict.get("type"), bdict.get("format")))
        if cls is None:
            continue
        common = dict(name=bdict.get("name"), description=bdict.get("description"),
                      features=bdict.get("features"),
                      measurement_identifier=bdict.get("identifier") or ref_mid,
                      mapping=bdict.get("mapping", "same"), referrer=referrer,
                      key=bdict.get("key"))
        if cls.basin_type == "file":
            if not local_allowed:
                continue
            candidates = basin_file_candidates(bdict.get("paths", []), ref_dir)
            chosen = next((p for p in candidates if p.exists()),
                          candidates[0] if candidates else None)
            if chosen is None:
                continue
            basins.append(cls(chosen, **common))
        elif cls.basin_type == "internal":
            for loc in bdict.get("paths", []):
                basins.append(cls(loc, **common))
        else:
            for url in bdict.get("urls", []):
                basins.append(cls(url, **common))
    return basins

