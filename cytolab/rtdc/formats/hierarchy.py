"""Hierarchy children: a dataset made of the filtered events of another.

``new_dataset(ds)`` returns an :class:`RTDC_Hierarchy` whose events are the
events of ``ds`` that pass ``ds.filter.all``. The child has its own filters,
so gates can be stacked (children of children). Feature data come from the
parent on demand (mapped to the child's events, scalar features cached),
which covers every kind of feature: stored, basin, temporary, plugin, images,
masks, contours and traces, and computed (ancillary) features, which the
parent computes once for all its children. Only ``index`` is the child's own
(1 to the number of events of the child).

The child follows its parent when :meth:`RTDC_Hierarchy.rejuvenate` (or
:meth:`~RTDC_Hierarchy.apply_filter`) is called: the parents' filters are
re-applied from the root down, and the child's manual exclusions are kept for
the events that are still there.
"""
from __future__ import annotations

import collections.abc
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ...io.arrays import MappedEventArray
from ..core import RTDCBase

__all__ = [
    "RTDC_Hierarchy", "map_indices_child2parent", "map_indices_child2root",
    "map_indices_parent2child", "map_indices_root2child",
]


class _ChildEvents(collections.abc.Mapping):
    """The parent's stored features, seen through the child's event indices."""

    def __init__(self, child: RTDC_Hierarchy) -> None:
        self._child = child
        self._cache: dict[str, tuple[Any, Any]] = {}

    def _parent_has(self, feat: str) -> bool:
        # `index` counts the child's own events; everything else, including
        # computed features (e.g. `time` keeps the parent's clock), is mapped
        return feat != "index" and feat in self._child.hparent

    def __contains__(self, feat: object) -> bool:
        return isinstance(feat, str) and self._parent_has(feat)

    def __iter__(self) -> Iterator[str]:
        return iter([f for f in self._child.hparent.features if f != "index"])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __getitem__(self, feat: str) -> Any:
        if not self._parent_has(feat):
            raise KeyError(feat)
        child = self._child
        key = (child._generation, child.hparent._feature_token(feat))
        cached = self._cache.get(feat)
        if cached is None or cached[0] != key:
            cached = (key, _map_feature(child.hparent[feat], child._indices))
            self._cache[feat] = cached
        return cached[1]


def _map_feature(data: Any, indices: np.ndarray) -> Any:
    """Data of the events `indices` of `data` (lazy for non-scalar data)."""
    if isinstance(data, Mapping):  # trace: name -> per-event data
        return {key: _map_feature(value, indices) for key, value in data.items()}
    if isinstance(data, np.ndarray):
        out = data[indices]
        out.flags.writeable = False
        return out
    return MappedEventArray(data, indices)


class RTDC_Hierarchy(RTDCBase):
    """A dataset holding the filtered events of a parent dataset.

    Parameters
    ----------
    hparent
        The parent dataset.
    apply_filter
        Apply the parent's filters before taking its events.
    identifier
        Unique identifier of the child; generated when None.
    **kwargs
        Passed to :class:`~cytolab.rtdc.RTDCBase`.

    Examples
    --------
    >>> import numpy as np, cytolab
    >>> ds = cytolab.new_dataset({"deform": np.array([.05, .1, .2, .3])})
    >>> ds.config["filtering"]["deform min"] = 0
    >>> ds.config["filtering"]["deform max"] = .15
    >>> child = cytolab.new_dataset(ds)
    >>> len(child), child["deform"]
    (2, array([0.05, 0.1 ]))
    >>> child.map_indices_child2parent([0, 1])
    array([0, 1])
    """

    format = "hierarchy"

    def __init__(self, hparent: RTDCBase, apply_filter: bool = True,
                 *args: Any, **kwargs: Any) -> None:
        if not isinstance(hparent, RTDCBase):
            raise TypeError(f"The parent of a hierarchy child must be a "
                            f"dataset, got {type(hparent).__name__}")
        kwargs.setdefault("enable_basins", False)  # the parent serves them
        super().__init__(*args, **kwargs)
        self.hparent = hparent
        self.path = hparent.path
        self._generation = 0
        self._indices = np.zeros(0, dtype=np.int64)
        self._events = _ChildEvents(self)
        if apply_filter:
            hparent.apply_filter()
        self._update_from_parent()
        self.apply_filter()

    def _get_length(self) -> int:
        return self._indices.size

    def __repr__(self) -> str:
        return (f"<RTDC_Hierarchy '{self.identifier}' of "
                f"'{self.hparent.identifier}' ({len(self)} events)>")

    # following the parent
    def _update_from_parent(self) -> None:
        """Take the parent's current filtered events and its metadata."""
        parent = self.hparent
        indices = np.flatnonzero(parent.filter.all)
        changed = not np.array_equal(indices, self._indices)
        # update in place: references to `self.config` stay valid
        for section in parent.config.keys():
            if section != "filtering":
                self.config[section] = parent.config[section].copy()
        self.config["filtering"]["hierarchy parent"] = parent.identifier
        if changed:
            # keep the manual exclusions of the events still present
            excluded = self._indices[~self.filter.manual] \
                if self._filter is not None else np.zeros(0, dtype=np.int64)
            self._indices = indices
            self._generation += 1
            self._ancillaries.clear()
            self._filter = None
            self.filter.manual[np.isin(indices, excluded)] = False

    def apply_filter(self, *args: Any, **kwargs: Any) -> None:
        """Re-apply the parents' filters (from the root down), then this one's."""
        self.hparent.apply_filter(*args, **kwargs)
        self._update_from_parent()
        super().apply_filter(*args, **kwargs)

    def rejuvenate(self) -> None:
        """Follow changes of the parents (their filters, metadata, data)."""
        self.apply_filter()

    def get_root_parent(self) -> RTDCBase:
        """The dataset at the top of the hierarchy."""
        parent = self.hparent
        while isinstance(parent, RTDC_Hierarchy):
            parent = parent.hparent
        return parent

    # features
    def _feature_token(self, feat: str) -> Any:
        if feat in self._events:
            return ("hierarchy", self._generation, self.hparent._feature_token(feat))
        return super()._feature_token(feat)

    def _set_temporary(self, feat: str, data: np.ndarray) -> None:
        """Set the values in the parent (NaN outside this child's events)."""
        full = np.full((len(self.hparent),) + data.shape[1:], np.nan,
                       dtype=np.result_type(data.dtype, np.float64)
                       if data.dtype.kind in "biuf" else data.dtype)
        full[self._indices] = data
        self.hparent._set_temporary(feat, full)

    @property
    def features_innate(self) -> list[str]:
        """Features stored in the root dataset."""
        return self.hparent.features_innate

    @property
    def features_basin(self) -> list[str]:
        """Features the root dataset gets from its basins."""
        return self.hparent.features_basin

    @property
    def features_ancillary(self) -> list[str]:
        """Features the parent computes (and the child's own `index`)."""
        return sorted(set(self.hparent.features_ancillary) | {"index"})

    @property
    def features_loaded(self) -> list[str]:
        """Features loaded or computed in the parent."""
        return self.hparent.features_loaded

    @property
    def features_temporary(self) -> list[str]:
        """Temporary features of the parent (they are set there)."""
        return self.hparent.features_temporary

    @property
    def logs(self) -> Mapping[str, list[str]]:
        """Logs of the parent."""
        return self.hparent.logs

    @property
    def tables(self) -> Mapping[str, np.ndarray]:
        """Tables of the parent."""
        return self.hparent.tables

    @property
    def hash(self) -> str:
        """Changes when the parent or the selection of its events changes."""
        md5 = hashlib.md5(self.hparent.hash.encode())
        md5.update(self._indices.tobytes())
        return md5.hexdigest()

    # index mapping
    def map_indices_child2parent(self, child_indices: Any) -> np.ndarray:
        """Indices in the parent of events of this child."""
        return map_indices_child2parent(self, child_indices)

    def map_indices_parent2child(self, parent_indices: Any) -> np.ndarray:
        """Indices in this child of events of the parent."""
        return map_indices_parent2child(self, parent_indices)


def _check_child(child: Any) -> RTDC_Hierarchy:
    if not isinstance(child, RTDC_Hierarchy):
        raise TypeError(f"Expected a hierarchy child, got {type(child).__name__}")
    return child


def map_indices_child2parent(child: RTDC_Hierarchy, child_indices: Any) -> np.ndarray:
    """Map event indices of a hierarchy child to indices of its parent.

    Parameters
    ----------
    child
        The hierarchy child.
    child_indices
        Event indices (or a boolean mask) of the child.

    Returns
    -------
    numpy.ndarray
        Indices of the same events in the parent.
    """
    return _check_child(child)._indices[np.asarray(child_indices)]


def map_indices_child2root(child: RTDC_Hierarchy, child_indices: Any) -> np.ndarray:
    """Map event indices of a hierarchy child to indices of the root dataset."""
    indices = map_indices_child2parent(child, child_indices)
    parent = child.hparent
    while isinstance(parent, RTDC_Hierarchy):
        indices = map_indices_child2parent(parent, indices)
        parent = parent.hparent
    return indices


def map_indices_parent2child(child: RTDC_Hierarchy, parent_indices: Any) -> np.ndarray:
    """Map event indices of the parent to indices in a hierarchy child.

    Raises
    ------
    ValueError
        If an event of the parent is not part of the child (filtered out).
    """
    parent_indices = np.atleast_1d(np.asarray(parent_indices, dtype=np.int64))
    own = _check_child(child)._indices
    pos = np.searchsorted(own, parent_indices)
    pos_ok = np.minimum(pos, max(own.size - 1, 0))
    missing = (pos >= own.size) | (own[pos_ok] != parent_indices) \
        if own.size else np.ones(parent_indices.size, dtype=bool)
    if np.any(missing):
        raise ValueError(f"Events {parent_indices[missing].tolist()} of the "
                         f"parent are not part of the child {child}")
    return pos


def map_indices_root2child(child: RTDC_Hierarchy, root_indices: Any) -> np.ndarray:
    """Map event indices of the root dataset to indices in a hierarchy child."""
    chain = []
    ds: Any = _check_child(child)
    while isinstance(ds, RTDC_Hierarchy):
        chain.append(ds)
        ds = ds.hparent
    indices = root_indices
    for level in reversed(chain):
        indices = map_indices_parent2child(level, indices)
    return indices
