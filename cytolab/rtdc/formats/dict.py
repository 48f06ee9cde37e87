"""In-memory datasets: `RTDC_Dict`."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ... import definitions as dfn
from ...errors import FeatureShapeError
from ...io import EventArray
from ..core import RTDCBase
from .hdf5 import H5Events


def _readonly(name: str, data: Any) -> Any:
    """Convert user data of one feature to a read-only representation."""
    if name == "trace":
        if not isinstance(data, Mapping):
            raise FeatureShapeError("Feature 'trace' must be a dict of "
                                    "(events, samples) arrays")
        return {key: _readonly("trace:" + key, np.atleast_2d(val))
                for key, val in data.items()}
    if name == "contour":
        return [np.array(c, copy=True) for c in data]
    if isinstance(data, EventArray):
        return data
    arr = np.array(data, copy=True)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if name == "mask" and arr.dtype != bool:
        arr = arr.astype(bool)
    arr.flags.writeable = False
    return arr


class RTDC_Dict(RTDCBase):
    """A dataset made from a dictionary of feature arrays.

    Parameters
    ----------
    ddict
        Feature name to data: 1-D arrays for scalar features, (N, H, W)
        arrays for images and masks, a list of (M, 2) arrays for
        ``contour``, a dict of (N, samples) arrays for ``trace``.
    identifier
        Unique identifier of this instance.
    check_length
        Require all features to have the same number of events.

    Raises
    ------
    ValueError
        If a key is not a feature name or the data have the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> ds = RTDC_Dict({"area_um": np.array([10., 20.]),
    ...                 "deform": np.array([0.01, 0.02])})
    >>> len(ds), ds.format, ds.path
    (2, 'dict', 'none')
    """

    format = "dict"

    def __init__(self, ddict: Mapping[str, Any], identifier: str | None = None,
                 enable_basins: bool = True, check_length: bool = True,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(identifier=identifier, enable_basins=enable_basins)
        events: dict[str, Any] = {}
        if not isinstance(ddict, Mapping):
            raise ValueError(f"Expected a dict of features, got {type(ddict)}")
        for name in ddict:
            if not dfn.feature_exists(name):
                raise ValueError(f"Unknown feature name '{name}'")
        if isinstance(ddict, H5Events):  # lazy HDF5 data (internal basins)
            events = ddict  # type: ignore[assignment]
        else:
            for name, data in ddict.items():
                if name not in ("trace", "contour"):
                    try:
                        dfn.check_feature_shape(name, np.asarray(data))
                    except ValueError as exc:
                        raise FeatureShapeError(str(exc)) from exc
                events[name] = _readonly(name, data)
        lengths = {name: self._feature_length(data) for name, data in events.items()}
        if check_length and len(set(lengths.values())) > 1:
            raise FeatureShapeError(
                f"Features have different numbers of events: {lengths}")
        self._length = max(lengths.values()) if lengths else 0
        self._events = events
        self.config["experiment"]["event count"] = self._length
        self._hash: str | None = None

    @staticmethod
    def _feature_length(data: Any) -> int:
        if isinstance(data, Mapping):
            return min((len(v) for v in data.values()), default=0)
        return len(data)

    def _get_length(self) -> int:
        return self._length

    @property
    def hash(self) -> str:
        """MD5 of the feature names and data."""
        if self._hash is None:
            hasher = hashlib.md5()
            for name in sorted(self._events):
                hasher.update(name.encode())
                data = self._events[name]
                if isinstance(data, np.ndarray):
                    hasher.update(np.ascontiguousarray(data).tobytes())
                elif isinstance(data, Mapping):
                    for key in sorted(data):
                        hasher.update(np.ascontiguousarray(data[key]).tobytes())
                else:
                    for item in data:
                        hasher.update(np.ascontiguousarray(item).tobytes())
            self._hash = hasher.hexdigest()
        return self._hash
