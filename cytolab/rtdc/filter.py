"""`Filter`: which events of a dataset pass the gates of ``config["filtering"]``.

The filtering section of a dataset's configuration describes the gates:

* ``"<feature> min"`` / ``"<feature> max"``: a box gate on any scalar feature
  (built-in, plugin or temporary), always given as a pair;
* ``"remove invalid events"``: drop events with NaN or infinite values in any
  loaded scalar feature;
* ``"polygon filters"``: ids of :class:`~cytolab.rtdc.PolygonFilter` gates;
* ``"limit events"``: keep a reproducible random subset of at most this many
  events (0: keep all);
* ``"enable filters"``: switch all of the above off without forgetting them.

Together with the user's own :attr:`Filter.manual` exclusions they give
:attr:`Filter.all`. :meth:`Filter.update` (called by ``ds.apply_filter()``)
only recomputes the parts whose limits, polygons or feature data changed.
"""
from __future__ import annotations

import hashlib
import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import definitions as dfn
from ..analysis.downsampling import downsample_rand
from ..errors import CytolabWarning
from .polygon_filter import PolygonFilter

if TYPE_CHECKING:  # pragma: no cover
    from .core import RTDCBase

__all__ = ["Filter", "FilterFeatureMissingWarning"]

class FilterFeatureMissingWarning(CytolabWarning):
    """A box filter refers to a feature the dataset does not have."""


def _readonly(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


def box_limits(filtering: Any, path: Any = None) -> dict[str, tuple[float, float]]:
    """Box gates of a filtering section: feature -> (min, max).

    Swapped limits are put in order (and corrected in `filtering`).

    Raises
    ------
    ValueError
        If a feature name is unknown or only one of min and max is set.
    """
    where = f" (dataset {path})" if path is not None else ""
    bounds: dict[str, dict[str, float]] = {}
    for key in list(filtering):
        for bound in ("min", "max"):
            if isinstance(key, str) and key.endswith(f" {bound}"):
                feat = key[:-len(bound) - 1]
                if not dfn.scalar_feature_exists(feat):
                    raise ValueError(
                        f"Filter '{key}' refers to '{feat}', which is not a "
                        f"known scalar feature{where}")
                bounds.setdefault(feat, {})[bound] = float(filtering[key])
    limits = {}
    for feat, pair in sorted(bounds.items()):
        if len(pair) != 2:
            missing = "max" if "min" in pair else "min"
            raise ValueError(
                f"Filter of '{feat}' sets only one limit: '{feat} {missing}' "
                f"is missing{where}; set both (use -inf/inf for an open side)")
        lo, hi = pair["min"], pair["max"]
        if lo > hi:
            lo, hi = hi, lo
            filtering[f"{feat} min"], filtering[f"{feat} max"] = lo, hi
        limits[feat] = (lo, hi)
    return limits


class Filter:
    """The event filters of one dataset.

    Parameters
    ----------
    rtdc_ds
        The dataset; usually accessed as ``ds.filter``.

    Notes
    -----
    All boolean arrays have one entry per event; True means the event passes.
    Only :attr:`manual` may be written to; call ``ds.apply_filter()`` after
    changing it or the filtering configuration.

    Examples
    --------
    >>> import numpy as np, cytolab
    >>> ds = cytolab.new_dataset({"deform": np.array([.05, .1, .2, .3])})
    >>> ds.config["filtering"]["deform min"] = 0
    >>> ds.config["filtering"]["deform max"] = .15
    >>> ds.filter.manual[0] = False
    >>> ds.apply_filter()
    >>> ds.filter.all
    array([False,  True, False, False])
    """

    def __init__(self, rtdc_ds: RTDCBase) -> None:
        self._ds = weakref.ref(rtdc_ds)
        size = len(rtdc_ds)
        self._manual = np.ones(size, dtype=bool)
        self._box = np.ones(size, dtype=bool)
        self._polygon = np.ones(size, dtype=bool)
        self._invalid = np.zeros(size, dtype=bool)
        self._all = np.ones(size, dtype=bool)
        # caches: name -> (key, mask); the key holds what the mask depends on
        self._box_cache: dict[str, tuple[Any, np.ndarray]] = {}
        self._poly_cache: dict[int, tuple[Any, np.ndarray]] = {}
        self._invalid_cache: dict[str, tuple[Any, np.ndarray]] = {}

    def __len__(self) -> int:
        return self._manual.size

    # the arrays
    @property
    def manual(self) -> np.ndarray:
        """Manual exclusions (writable): set an entry to False to drop the event."""
        return self._manual

    @manual.setter
    def manual(self, value: Any) -> None:
        arr = np.asarray(value)
        if arr.shape != self._manual.shape or arr.dtype != bool:
            raise ValueError(f"`manual` must be a boolean array of "
                             f"{self._manual.size} events, got {arr.dtype} "
                             f"{arr.shape}")
        self._manual[:] = arr

    @property
    def all(self) -> np.ndarray:
        """Events passing every filter (read-only)."""
        return _readonly(self._all)

    @property
    def box(self) -> np.ndarray:
        """Events within all ``<feature> min/max`` limits (read-only)."""
        return _readonly(self._box)

    @property
    def polygon(self) -> np.ndarray:
        """Events inside all polygon filters (read-only)."""
        return _readonly(self._polygon)

    @property
    def invalid(self) -> np.ndarray:
        """Events with NaN or inf in a loaded scalar feature (read-only).

        Only computed while ``remove invalid events`` is on; otherwise False
        everywhere.
        """
        return _readonly(self._invalid)

    # computation
    def reset(self) -> None:
        """Forget all filter results and manual exclusions."""
        self.__init__(self._dataset())  # type: ignore[misc]

    def _dataset(self) -> RTDCBase:
        ds = self._ds()
        if ds is None:
            raise RuntimeError("The dataset of this filter no longer exists")
        return ds

    def update(self, rtdc_ds: RTDCBase | None = None,
               force: Iterable[str] | None = None) -> None:
        """Recompute the filters that changed since the last update.

        Parameters
        ----------
        rtdc_ds
            The dataset (for compatibility; the filter knows its dataset).
        force
            Features whose box filters are recomputed even if nothing
            seems to have changed.

        Raises
        ------
        ValueError
            For an unknown feature or a lone min/max in the configuration.
        KeyError
            For a polygon filter id that does not exist.
        """
        ds = rtdc_ds if rtdc_ds is not None else self._dataset()
        if len(ds) != self._manual.size:
            raise ValueError(f"The filter has {self._manual.size} events, the "
                             f"dataset {ds} has {len(ds)}")
        force = set(force or ())
        cfg = ds.config["filtering"]
        self._box = self._update_box(ds, cfg, force)
        self._polygon = self._update_polygon(ds, cfg)
        if cfg.get("remove invalid events", False):
            self._invalid = self._update_invalid(ds)
        else:
            self._invalid = np.zeros(len(ds), dtype=bool)
        if cfg.get("enable filters", True):
            result = self._manual & self._box & self._polygon & ~self._invalid
            limit = int(cfg.get("limit events", 0) or 0)
            if limit < 0:
                raise ValueError(f"'limit events' must be >= 0, got {limit}")
            if 0 < limit < np.count_nonzero(result):
                passed = np.flatnonzero(result)
                _, keep = downsample_rand(passed, limit, ret_idx=True)
                result = np.zeros_like(result)
                result[passed[keep]] = True
        else:
            result = np.ones(len(ds), dtype=bool)
        self._all = result

    def _update_box(self, ds: RTDCBase, cfg: Any, force: set[str]) -> np.ndarray:
        limits = box_limits(cfg, ds.path)
        box = np.ones(len(ds), dtype=bool)
        cache: dict[str, tuple[Any, np.ndarray]] = {}
        for feat, (lo, hi) in limits.items():
            if feat not in ds:
                warnings.warn(f"Ignoring the filter of '{feat}': the dataset "
                              f"{ds} does not have this feature",
                              FilterFeatureMissingWarning, stacklevel=4)
                continue
            key = (lo, hi, ds._feature_token(feat))
            cached = self._box_cache.get(feat)
            if cached is None or cached[0] != key or feat in force:
                data = np.asarray(ds[feat])
                with np.errstate(invalid="ignore"):
                    mask = (data >= lo) & (data <= hi)
                cached = (key, mask)
            cache[feat] = cached
            box &= cached[1]
        self._box_cache = cache
        return box

    def _update_polygon(self, ds: RTDCBase, cfg: Any) -> np.ndarray:
        poly = np.ones(len(ds), dtype=bool)
        cache: dict[int, tuple[Any, np.ndarray]] = {}
        for pid in cfg.get("polygon filters", []):
            pid = int(pid)
            if not PolygonFilter.unique_id_exists(pid):
                raise KeyError(f"Polygon filter {pid} (in 'polygon filters' of "
                               f"{ds}) does not exist")
            pf = PolygonFilter.get_instance_from_id(pid)
            xax, yax = pf.axes
            key = (pf.hash, ds._feature_token(xax), ds._feature_token(yax))
            cached = self._poly_cache.get(pid)
            if cached is None or cached[0] != key:
                cached = (key, pf.filter(ds[xax], ds[yax]))
            cache[pid] = cached
            poly &= cached[1]
        self._poly_cache = cache
        return poly

    def _update_invalid(self, ds: RTDCBase) -> np.ndarray:
        invalid = np.zeros(len(ds), dtype=bool)
        cache: dict[str, tuple[Any, np.ndarray]] = {}
        for feat in ds.features_loaded:
            if not dfn.scalar_feature_exists(feat) or feat not in ds:
                continue
            key = ds._feature_token(feat)
            cached = self._invalid_cache.get(feat)
            if cached is None or cached[0] != key:
                data = np.asarray(ds[feat])
                if data.dtype.kind not in "fc":
                    continue  # integers are always finite
                cached = (key, ~np.isfinite(data))
            cache[feat] = cached
            invalid |= cached[1]
        self._invalid_cache = cache
        return invalid

    def hash(self) -> str:
        """MD5 of :attr:`all` (changes whenever the filtered events change)."""
        return hashlib.md5(np.packbits(self._all).tobytes()
                           + str(self._all.size).encode()).hexdigest()
