"""Temporary features: per-session feature data set by the user.

A temporary feature is registered once by name (and becomes a known feature
for filters, exports and labels), then given data per dataset with
:func:`set_temporary_feature`. Data stored under that name in an ``.rtdc``
file become readable as soon as the name is registered, whether the file was
opened before or after.

Examples
--------
>>> import numpy as np, cytolab
>>> from cytolab.rtdc.temporary import (register_temporary_feature,
...     set_temporary_feature, deregister_temporary_feature)
>>> register_temporary_feature("my_score", label="My score")
>>> ds = cytolab.new_dataset({"deform": np.array([.1, .2, .3])})
>>> set_temporary_feature(ds, "my_score", np.array([1., 2., 3.]))
>>> ds["my_score"]
array([1., 2., 3.])
>>> deregister_temporary_feature("my_score")
>>> "my_score" in ds
False
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import definitions as dfn

if TYPE_CHECKING:  # pragma: no cover
    from .core import RTDCBase

__all__ = [
    "deregister_all", "deregister_temporary_feature", "register_temporary_feature",
    "set_temporary_feature",
]

_NAME_RE = re.compile(r"[a-z0-9_]+")
#: name -> whether the feature is scalar
_REGISTERED: dict[str, bool] = {}


def register_temporary_feature(feature: str, label: str | None = None,
                               is_scalar: bool = True) -> None:
    """Register a temporary feature name.

    Parameters
    ----------
    feature
        Name of the feature, using only ``a-z``, ``0-9`` and ``_``.
    label
        Label for plots and exports (defaults to the name).
    is_scalar
        Whether the feature holds one number per event.

    Raises
    ------
    ValueError
        If the name is invalid, a built-in feature or already registered.
    """
    if not isinstance(feature, str) or not _NAME_RE.fullmatch(feature):
        raise ValueError(f"Invalid temporary feature name {feature!r}: only "
                         f"a-z, 0-9 and '_' are allowed")
    dfn.register_feature(feature, label=label, is_scalar=is_scalar)
    _REGISTERED[feature] = bool(is_scalar)


def deregister_temporary_feature(feature: str) -> None:
    """Forget a temporary feature name.

    Datasets keep the data (it is hidden, not freed) and show it again when
    the name is registered again.

    Raises
    ------
    ValueError
        If `feature` is not a registered temporary feature.
    """
    if feature not in _REGISTERED:
        raise ValueError(f"'{feature}' is not a registered temporary feature")
    dfn.unregister_feature(feature)
    del _REGISTERED[feature]


def deregister_all() -> None:
    """Forget all temporary feature names."""
    for feature in list(_REGISTERED):
        deregister_temporary_feature(feature)


def set_temporary_feature(rtdc_ds: RTDCBase, feature: str, data: Any) -> None:
    """Set the data of a registered temporary feature for a dataset.

    On a hierarchy child the values are also set in its parents, at the
    events of the child (NaN at all other events).

    Parameters
    ----------
    rtdc_ds
        The dataset.
    feature
        A name registered with :func:`register_temporary_feature`.
    data
        One value (scalar feature) or one array (non-scalar) per event.

    Raises
    ------
    ValueError
        If the name is not registered, or the data has the wrong length or
        shape.
    """
    if feature not in _REGISTERED:
        raise ValueError(f"'{feature}' is not a registered temporary feature; "
                         f"call register_temporary_feature('{feature}') first")
    arr = np.array(data)  # a copy: the caller's array stays writable
    if arr.ndim == 0 or len(arr) != len(rtdc_ds):
        raise ValueError(f"Temporary feature '{feature}' needs {len(rtdc_ds)} "
                         f"values (one per event of {rtdc_ds}), got "
                         f"{arr.size if arr.ndim == 0 else len(arr)}")
    if _REGISTERED[feature] and arr.ndim != 1:
        raise ValueError(f"Scalar temporary feature '{feature}' needs a 1-D "
                         f"array, got shape {arr.shape}")
    rtdc_ds._set_temporary(feature, arr)
