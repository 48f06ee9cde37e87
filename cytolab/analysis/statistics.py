"""Summary statistics of the filtered events of a dataset.

:func:`get_statistics` computes a table row per dataset: the dataset-level
numbers (``Events``, ``%-gated``, ``Flow rate``) and, for every feature, the
feature-level ones (``Mean``, ``Median``, ``Mode``, ``SD``). Only events that
pass ``ds.filter.all`` count (call ``ds.apply_filter()`` after changing
filters), and NaN or infinite values are left out of feature statistics.

Examples
--------
>>> import numpy as np, cytolab
>>> ds = cytolab.new_dataset({"deform": np.array([.1, .2, .3, np.nan])})
>>> header, values = get_statistics(ds, methods=["Events", "Mean"],
...                                 features=["deform"])
>>> header
['Events', 'Mean Deformation']
>>> [round(v, 6) for v in values]
[4, 0.2]
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import definitions as dfn
from ..errors import CytolabWarning

__all__ = ["BadMethodWarning", "Statistics", "flow_rate", "get_statistics", "mode"]


class BadMethodWarning(CytolabWarning):
    """A statistic could not be computed (the value is NaN)."""


def mode(data: Any) -> float:
    """Most common value after rounding to a Freedman–Diaconis bin width.

    Measured values rarely repeat exactly, so the data are rounded to
    multiples of the bin width ``2 IQR / n^(1/3)`` and the centre of the
    most populated rounding bin (the rounded value plus half a bin, as the
    reference tool reports it) is returned.

    Parameters
    ----------
    data : 1-D array_like
        Finite values.

    Returns
    -------
    float
        The mode; NaN for empty data. When the interquartile range is zero
        the most common exact value is returned.

    Examples
    --------
    >>> mode([1.0, 1.0, 1.0, 1.0, 2.0])  # IQR zero: the most common value
    1.0
    >>> round(mode([0.1, 0.11, 0.12, 0.3, 0.5]), 4)  # bin width 0.2222
    0.1111
    """
    data = np.asarray(data, dtype=float).ravel()
    if data.size == 0:
        return float("nan")
    q25, q75 = np.percentile(data, [25, 75])
    width = 2 * (q75 - q25) / data.size ** (1 / 3)
    if not width > 0:
        values, counts = np.unique(data, return_counts=True)
        return float(values[np.argmax(counts)])
    values, counts = np.unique(np.round(data / width), return_counts=True)
    return float(values[np.argmax(counts)] * width + width / 2)


def flow_rate(ds: Any) -> float:
    """Flow rate [µL/s] of the measurement (``setup:flow rate``; NaN if unknown)."""
    value = ds.config.get("setup", {}).get("flow rate", np.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class Statistics:
    """A named statistic; all instances are kept in :attr:`available_methods`.

    Parameters
    ----------
    name
        Name of the method (e.g. ``"Mean"``); also used in table headers.
    method
        ``method(ds=ds)`` for dataset statistics or ``method(data)`` on the
        filtered, finite values of a feature.
    req_feature
        Whether the statistic is computed per feature.
    """

    #: name -> instance, in the order of definition
    available_methods: dict[str, Statistics] = {}

    def __init__(self, name: str, method: Callable[..., Any],
                 req_feature: bool = False) -> None:
        self.name = name
        self.method = method
        self.req_feature = req_feature
        Statistics.available_methods[name] = self

    def __call__(self, ds: Any, feature: str | None = None) -> Any:
        if not self.req_feature:
            return self.method(ds=ds)
        if feature is None:
            raise ValueError(f"Statistic '{self.name}' needs a feature")
        data = self.get_feature(ds, feature)
        if data.size == 0:
            warnings.warn(f"'{self.name}' of '{feature}' is undefined: no "
                          f"valid filtered events in {ds}", BadMethodWarning,
                          stacklevel=3)
            return float("nan")
        return self.method(data)

    @staticmethod
    def get_feature(ds: Any, feat: str) -> np.ndarray:
        """Values of a scalar feature for the filtered events, without NaN/inf.

        Raises
        ------
        ValueError
            If `feat` is not a scalar feature.
        KeyError
            If the dataset does not have the feature.
        """
        if not dfn.scalar_feature_exists(feat):
            raise ValueError(f"'{feat}' is not a scalar feature")
        data = np.asarray(ds[feat])[ds.filter.all]
        return data[np.isfinite(data)]


def _events(ds: Any) -> int:
    return int(np.count_nonzero(ds.filter.all))


def _percent_gated(ds: Any) -> float:
    return 100 * _events(ds) / len(ds) if len(ds) else float("nan")


Statistics("Mean", lambda d: float(np.mean(d)), req_feature=True)
Statistics("Median", lambda d: float(np.median(d)), req_feature=True)
Statistics("Mode", mode, req_feature=True)
Statistics("SD", lambda d: float(np.std(d)), req_feature=True)
Statistics("Events", _events)
Statistics("%-gated", _percent_gated)
Statistics("Flow rate", flow_rate)


def get_statistics(ds: Any, methods: Sequence[str] | None = None,
                   features: Sequence[str] | None = None,
                   ) -> tuple[list[str], list[Any]]:
    """Compute statistics of the filtered events of a dataset.

    Parameters
    ----------
    ds
        The dataset.
    methods
        Names from :attr:`Statistics.available_methods`; all when None.
    features
        Scalar features; all available scalar features when None. Dataset
        statistics (e.g. ``Events``) are computed whatever the features.

    Returns
    -------
    header : list of str
        ``"<method>"`` for dataset statistics, then ``"<method> <feature
        label>"`` for each feature (all methods of one feature together).
    values : list
        The statistics in the order of `header`.

    Raises
    ------
    ValueError
        For an unknown method or a feature that is not scalar.
    """
    available = Statistics.available_methods
    methods = list(available) if methods is None else list(methods)
    unknown = [m for m in methods if m not in available]
    if unknown:
        raise ValueError(f"Unknown statistics {unknown}; available: {list(available)}")
    if features is None:
        features = ds.features_scalar
    bad = [f for f in features if not dfn.scalar_feature_exists(f)]
    if bad:
        raise ValueError(f"Statistics need scalar features, got {bad}")
    header: list[str] = []
    values: list[Any] = []
    for name in methods:
        if not available[name].req_feature:
            header.append(name)
            values.append(available[name](ds))
    for feat in features:
        label = dfn.get_feature_label(feat)
        for name in methods:
            if available[name].req_feature:
                header.append(f"{name} {label}")
                values.append(available[name](ds, feat))
    return header, values
