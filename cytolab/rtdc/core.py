"""`RTDCBase`: the dataset, a read-only dictionary of features.

A feature of a dataset comes from one of these sources, looked up in this
order:

1. innate: stored with the dataset (subclasses fill ``self._events``);
2. temporary: set by the user for this session (``self._usertemp``);
3. basins: other files or places that hold features for the same events
   (stored values win over recomputation, so a derived file shows exactly
   the values of its source);
4. ancillary recipes (computed on demand, cached).

Subclasses (one per format, in :mod:`cytolab.rtdc.formats`) provide the
innate features, the metadata and the length.
"""
from __future__ import annotations

import abc
import uuid
import warnings
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import definitions as dfn
from ..errors import BasinUnavailableWarning, FeatureNotAvailableError
from ..io import get_measurement_identifier as _measurement_identifier
from .ancillaries import AncillaryFeature
from .basin import Basin, basins_from_dicts
from .config import Configuration
from .filter import Filter
from .polygon_filter import PolygonFilter
from .scatter import ScatterMixin


class RTDCBase(ScatterMixin, abc.ABC):
    """Base class of all datasets.

    Parameters
    ----------
    identifier
        Unique identifier of this instance; generated when None.
    enable_basins
        Look up features in the basins the dataset defines.

    Notes
    -----
    ``ds[feature]`` returns read-only data: a NumPy array for scalar
    features, a lazy per-event container for images, masks and contours, and a
    dict of lazy per-event containers for ``trace``.
    """

    #: Short name of the format, e.g. "hdf5" or "dict".
    format: str = "base"
    #: Whether basins pointing to local files may be used.
    _local_basins_allowed: bool = True

    def __init__(self, identifier: str | None = None,
                 enable_basins: bool = True) -> None:
        self._identifier = identifier
        self._enable_basins = enable_basins
        self.config = Configuration()
        self.path: Any = "none"
        #: innate features (name -> data or lazy container)
        self._events: Mapping[str, Any] = {}
        #: temporary features set during the session
        self._usertemp: dict[str, np.ndarray] = {}
        self._usertemp_version: dict[str, int] = {}
        #: computed ancillary features: name -> (cache key, data)
        self._ancillaries: dict[str, tuple[Hashable, Any]] = {}
        #: data of basin features that needed mapping: name -> data
        self._basin_cache: dict[str, Any] = {}
        self._basins: list[Basin] | None = None
        self._checking: set[str] = set()
        #: Time [s] of the first event when `time` is computed from `frame`
        #: (non-zero when a file's stored time was replaced, to keep its clock)
        self.time_offset: float = 0.0
        self._logs: Mapping[str, list[str]] = {}
        self._tables: Mapping[str, np.ndarray] = {}
        self._filter: Filter | None = None

    # dunder methods
    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.identifier}' at {self.path}>"

    def __len__(self) -> int:
        return self._get_length()

    @abc.abstractmethod
    def _get_length(self) -> int:
        """Number of events."""

    def __enter__(self) -> RTDCBase:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def __contains__(self, feat: str) -> bool:
        """Whether `feat` is available (nothing is computed or loaded)."""
        return self._feature_available(feat)

    def __iter__(self) -> Iterator[str]:
        return iter(self.features)

    def __getitem__(self, feat: str) -> Any:
        if feat in self._events:
            return self._events[feat]
        if self._has_temporary(feat):
            return self._usertemp[feat]
        basin = self._find_basin(feat)
        if basin is not None:
            return self._get_basin_feature(basin, feat)
        recipe = AncillaryFeature.get_recipe(self, feat)
        if recipe is not None:
            return self._get_ancillary(recipe)
        raise FeatureNotAvailableError(self._explain_missing(feat))

    def close(self) -> None:
        """Close files and basins held by the dataset."""
        for basin in self._basins or []:
            basin.close()

    # feature lookup
    def _feature_available(self, feat: str, exclude: str | None = None) -> bool:
        if feat in self._events or self._has_temporary(feat):
            return True
        if feat in self._checking:  # avoid cycles between recipes
            return False
        self._checking.add(feat)
        if exclude:
            self._checking.add(exclude)
        try:
            if AncillaryFeature.get_recipe(self, feat) is not None:
                return True
            return self._find_basin(feat) is not None
        finally:
            self._checking.discard(feat)
            if exclude:
                self._checking.discard(exclude)

    def _feature_token(self, feat: str) -> Hashable:
        """Cheap token that changes whenever the data of `feat` change."""
        if feat in self._events:
            return ("innate", feat)
        if self._has_temporary(feat):
            return ("temp", feat, self._usertemp_version[feat])
        basin = self._find_basin(feat)
        if basin is not None:
            return ("basin", basin.key, feat)
        recipe = AncillaryFeature.get_recipe(self, feat)
        if recipe is not None:
            return ("anc", recipe.hash(self))
        return ("missing", feat)

    def _has_temporary(self, feat: str) -> bool:
        # deregistered temporary features are hidden, not deleted
        return feat in self._usertemp and dfn.feature_exists(feat)

    def _set_temporary(self, feat: str, data: np.ndarray) -> None:
        """Store temporary feature data (see :mod:`cytolab.rtdc.temporary`)."""
        data.flags.writeable = False
        self._usertemp[feat] = data
        self._usertemp_version[feat] = self._usertemp_version.get(feat, 0) + 1

    def _get_ancillary(self, recipe: AncillaryFeature) -> Any:
        key = recipe.hash(self)
        cached = self._ancillaries.get(recipe.feature_name)
        if cached is not None and cached[0] == key:
            return cached[1]
        for name, data in recipe.compute(self).items():
            self._ancillaries[name] = (key, data)
        return self._ancillaries[recipe.feature_name][1]

    def _find_basin(self, feat: str) -> Basin | None:
        if not self._enable_basins:
            return None
        for basin in self.basins:
            if basin.provides(feat):
                return basin
        return None

    def _get_basin_feature(self, basin: Basin, feat: str) -> Any:
        cache_key = f"{basin.key}:{feat}"
        if cache_key not in self._basin_cache:
            self._basin_cache[cache_key] = basin.get_feature_data(feat)
        return self._basin_cache[cache_key]

    def _explain_missing(self, feat: str) -> str:
        if not dfn.feature_exists(feat):
            return f"'{feat}' is not a known feature name (dataset {self})"
        reasons = [f"Feature '{feat}' is not available in {self}"]
        for basin in self.basins if self._enable_basins else []:
            if not basin.is_available() and basin.may_provide(feat):
                reasons.append(f"basin '{basin.name}' could provide it but is "
                               f"not available: {basin.unavailable_reason}")
        recipes = AncillaryFeature.get_instances(feat)
        if recipes:
            needs = sorted({f for r in recipes for f in r.req_features})
            reasons.append(f"it can be computed from {needs} and metadata "
                           f"{[r.req_config for r in recipes]}")
        return "; ".join(reasons)

    # caches
    def cache_checkpoint(self) -> dict[int, frozenset[Any]]:
        """What the feature caches hold now, for :meth:`release_cache`.

        The caches are those of this dataset, of its opened basins and of
        its hierarchy parents.
        """
        return {id(cache): frozenset(cache) for cache in self._feature_caches()}

    def release_cache(self, checkpoint: dict[int, frozenset[Any]] | None = None
                      ) -> None:
        """Drop cached feature data (read or computed) added since `checkpoint`.

        Tools that go through a large dataset feature by feature use this to
        keep memory bounded; the data are read or computed again when
        needed.

        Parameters
        ----------
        checkpoint
            From :meth:`cache_checkpoint`; None drops everything cached.

        Examples
        --------
        >>> import cytolab
        >>> ds = cytolab.new_dataset({"size_x": [20.0, 30.0], "size_y": [10., 10.]})
        >>> mark = ds.cache_checkpoint()
        >>> ds["aspect"].tolist()       # computed and cached
        [2.0, 3.0]
        >>> ds.release_cache(mark)      # cache as it was before
        >>> "aspect" in ds._ancillaries
        False
        """
        checkpoint = checkpoint or {}
        for cache in self._feature_caches():
            keep = checkpoint.get(id(cache), frozenset())
            for key in [k for k in cache if k not in keep]:
                del cache[key]

    def _feature_caches(self, depth: int = 0) -> list[dict[Any, Any]]:
        """Feature caches of this dataset, its opened basins and parents."""
        caches = [self._ancillaries, self._basin_cache]
        innate = getattr(self._events, "_cache", None)  # lazy file-backed events
        if isinstance(innate, dict):
            caches.append(innate)
        if depth < 8:
            for basin in self._basins or []:
                if basin._ds is not None:
                    caches += basin._ds._feature_caches(depth + 1)
            parent = getattr(self, "hparent", None)
            if isinstance(parent, RTDCBase):
                caches += parent._feature_caches(depth + 1)
        return caches

    # feature lists
    @property
    def features(self) -> list[str]:
        """All features available, sorted."""
        feats = set(self._events) | set(self.features_temporary)
        feats |= set(self.features_ancillary) | set(self.features_basin)
        return sorted(feats)

    @property
    def features_innate(self) -> list[str]:
        """Features stored in the dataset itself."""
        return sorted(self._events)

    @property
    def features_ancillary(self) -> list[str]:
        """Features that recipes can compute and that are not innate."""
        return sorted(name for name in AncillaryFeature.available_features(self)
                      if name not in self._events)

    @property
    def features_basin(self) -> list[str]:
        """Features provided by (available) basins, excluding innate ones."""
        if not self._enable_basins:
            return []
        feats: set[str] = set()
        for basin in self.basins:
            if basin.is_available():
                feats |= set(basin.features)
        return sorted(feats - set(self._events))

    @property
    def features_loaded(self) -> list[str]:
        """Innate, temporary, computed and rapid ancillary features."""
        feats = set(self._events) | set(self.features_temporary)
        feats |= set(self._ancillaries)
        feats |= {name for name, rcp in AncillaryFeature.available_features(self)
                  .items() if rcp.rapid}
        return sorted(feats)

    @property
    def features_temporary(self) -> list[str]:
        """Temporary features set for this dataset (and still registered)."""
        return sorted(f for f in self._usertemp if self._has_temporary(f))

    @property
    def features_scalar(self) -> list[str]:
        """All available scalar features."""
        return [f for f in self.features if dfn.scalar_feature_exists(f)]

    # identity and metadata
    @property
    def identifier(self) -> str:
        """Unique identifier of this instance (not reproducible)."""
        if self._identifier is None:
            self._identifier = f"mm-{self.format}_{uuid.uuid4().hex[:7]}"
        return self._identifier

    @property
    @abc.abstractmethod
    def hash(self) -> str:
        """Reproducible hash (32 hex characters) of the dataset content."""

    @property
    def title(self) -> str:
        """Title of the measurement: run index and sample name."""
        exp = self.config["experiment"]
        return f"M{exp.get('run index', '?')}: {exp.get('sample', 'unnamed')}"

    @property
    def logs(self) -> Mapping[str, list[str]]:
        """Logs: name to list of lines."""
        return self._logs

    @property
    def tables(self) -> Mapping[str, np.ndarray]:
        """Tables: name to structured (compound) array."""
        return self._tables

    def get_measurement_identifier(self) -> str | None:
        """Identifier of the measurement these events come from.

        ``experiment:run identifier`` when set, otherwise derived from the
        measurement time, date and setup identifier; None when unknown.
        """
        return _measurement_identifier(self.config)

    # filtering
    @property
    def filter(self) -> Filter:
        """The event filters (created on first use; see :class:`Filter`)."""
        if self._filter is None or len(self._filter) != len(self):
            self._filter = Filter(self)
        return self._filter

    def apply_filter(self, force: list[str] | None = None) -> None:
        """Recompute ``ds.filter`` after changes of ``config["filtering"]``.

        Parameters
        ----------
        force
            Features whose box filters are recomputed even if unchanged.
        """
        self.filter.update(self, force=force)

    def reset_filter(self) -> None:
        """Remove all filters (limits, polygons, manual exclusions)."""
        self.config.reset_filtering()
        self.filter.reset()
        self.apply_filter()

    def polygon_filter_add(self, filt: PolygonFilter | int) -> None:
        """Add a polygon filter (instance or id) to ``polygon filters``.

        Raises
        ------
        KeyError
            If no polygon filter with this id exists.
        """
        pid = _polygon_filter_id(filt)
        ids = list(self.config["filtering"].get("polygon filters", []))
        if pid not in ids:
            ids.append(pid)
        self.config["filtering"]["polygon filters"] = ids

    def polygon_filter_rm(self, filt: PolygonFilter | int) -> None:
        """Remove a polygon filter (instance or id) from ``polygon filters``."""
        pid = _polygon_filter_id(filt, must_exist=False)
        ids = [i for i in self.config["filtering"].get("polygon filters", [])
               if int(i) != pid]
        self.config["filtering"]["polygon filters"] = ids

    @property
    def export(self) -> Any:
        """Export the (filtered) events: ``ds.export.hdf5/tsv/fcs/avi``."""
        from .export import Export
        return Export(self)

    # basins
    def basins_get_dicts(self) -> list[dict[str, Any]]:
        """Basin definitions of this dataset (subclasses override)."""
        return []

    @property
    def basins(self) -> list[Basin]:
        """Basins of this dataset in priority order (created on first use)."""
        if self._basins is None:
            self._basins = []  # guard against recursion while building
            basins = basins_from_dicts(
                self.basins_get_dicts(), referrer=self,
                local_allowed=self._local_basins_allowed)
            for basin in basins:
                if not basin.is_available():
                    warnings.warn(
                        f"Basin '{basin.name}' of {self} is not available "
                        f"({basin.unavailable_reason}); features it would "
                        f"provide: {basin.declared_features or 'all of its'}",
                        BasinUnavailableWarning, stacklevel=3)
            self._basins = basins
        return self._basins

    def basins_retrieve(self) -> None:
        """Open every available basin now (instead of on first use)."""
        for basin in self.basins:
            if basin.is_available():
                basin.ds  # noqa: B018  (opens the basin dataset)


def _polygon_filter_id(filt: PolygonFilter | int, must_exist: bool = True) -> int:
    pid = filt.unique_id if isinstance(filt, PolygonFilter) else int(filt)
    if must_exist and not PolygonFilter.unique_id_exists(pid):
        raise KeyError(f"Polygon filter {pid} does not exist")
    return pid
