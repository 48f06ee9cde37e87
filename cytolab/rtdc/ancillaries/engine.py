"""The ancillary-feature engine: features computed on demand from others.

A recipe (:class:`AncillaryFeature`) names the feature it produces, the
features and metadata it needs, and a method that computes it from a dataset.
Recipes register themselves on creation; a dataset asks the registry which
recipes are available for it and caches what it computed, keyed by a cheap
token of everything the result depends on (so a changed temporary feature or
metadata value triggers a recomputation, nothing else does).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import BadFeatureSizeWarning

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase


class AncillaryFeature:
    """A recipe for computing a feature from other features and metadata.

    Parameters
    ----------
    feature_name
        Name of the feature the recipe computes.
    method
        ``method(ds) -> np.ndarray`` or a dict of arrays (when one method
        computes several features at once, each gets its own recipe with the
        same method; the results are shared).
    req_config
        Required metadata as ``[[section, [key, ...]], ...]``.
    req_features
        Required features.
    req_func
        Extra test ``req_func(ds)``; a falsy result makes the recipe
        unavailable; any other hashable result becomes part of the cache key.
    priority
        When several recipes compute the same feature, the available one with
        the highest priority is used.
    data
        Free-form data for the method (e.g. a model).
    identifier
        Optional identifier of the recipe (part of the cache key).
    rapid
        The computation is cheap (a few vector operations): such features
        are preferred over basins and listed in ``ds.features_loaded``.

    Examples
    --------
    >>> import numpy as np
    >>> recipe = AncillaryFeature(
    ...     "userdef9", lambda ds: 2 * ds["deform"],
    ...     req_features=["deform"], register=False)
    >>> recipe.req_features
    ['deform']
    """

    #: All registered recipes, in registration order.
    features: list[AncillaryFeature] = []
    #: Names of the features that have at least one registered recipe.
    feature_names: list[str] = []

    def __init__(self, feature_name: str,
                 method: Callable[[RTDCBase], Any],
                 req_config: Sequence[Sequence[Any]] | None = None,
                 req_features: Sequence[str] | None = None,
                 req_func: Callable[[RTDCBase], Any] | None = None,
                 priority: int = 0, data: Any = None,
                 identifier: str | None = None, rapid: bool = False,
                 register: bool = True) -> None:
        self.feature_name = feature_name
        self.method = method
        self.req_config = [[sec, list(keys)] for sec, keys in (req_config or [])]
        self.req_features = list(req_features or [])
        self.req_func = req_func
        self.priority = priority
        self.data = data
        self.identifier = identifier
        self.rapid = rapid
        if register:
            AncillaryFeature.features.append(self)
            if feature_name not in AncillaryFeature.feature_names:
                AncillaryFeature.feature_names.append(feature_name)

    def __repr__(self) -> str:
        return (f"<AncillaryFeature '{self.feature_name}' "
                f"(priority {self.priority}) requiring {self.req_features}>")

    # registry
    @staticmethod
    def get_instances(feature_name: str) -> list[AncillaryFeature]:
        """All registered recipes for `feature_name`, highest priority first."""
        found = [af for af in AncillaryFeature.features
                 if af.feature_name == feature_name]
        return sorted(found, key=lambda af: -af.priority)

    @staticmethod
    def available_features(ds: RTDCBase) -> dict[str, AncillaryFeature]:
        """Map each feature computable for `ds` to the recipe that would be used."""
        available = {}
        for name in AncillaryFeature.feature_names:
            recipe = AncillaryFeature.get_recipe(ds, name)
            if recipe is not None:
                available[name] = recipe
        return available

    @staticmethod
    def get_recipe(ds: RTDCBase, feature_name: str) -> AncillaryFeature | None:
        """The recipe used to compute `feature_name` for `ds`, or None."""
        for recipe in AncillaryFeature.get_instances(feature_name):
            if recipe._requirements_met(ds):
                return recipe
        return None

    @staticmethod
    def unregister(recipe: AncillaryFeature) -> None:
        """Remove a recipe from the registry (for plugin features)."""
        AncillaryFeature.features.remove(recipe)
        if not AncillaryFeature.get_instances(recipe.feature_name):
            AncillaryFeature.feature_names.remove(recipe.feature_name)

    # availability
    def is_available(self, ds: RTDCBase, verbose: bool = False) -> bool:
        """Whether this recipe is the one that computes its feature for `ds`.

        False when the requirements are not met or when a recipe of higher
        priority for the same feature is available.
        """
        recipe = AncillaryFeature.get_recipe(ds, self.feature_name)
        if verbose and recipe is not self:
            print(f"{self!r} is not used for {ds!r}: "
                  + ("requirements not met" if recipe is None else
                     f"{recipe!r} has precedence"))
        return recipe is self

    def _requirements_met(self, ds: RTDCBase) -> bool:
        for section, keys in self.req_config:
            if section not in ds.config:
                return False
            for key in keys:
                if key not in ds.config[section]:
                    return False
        for feat in self.req_features:
            if not ds._feature_available(feat, exclude=self.feature_name):
                return False
        if self.req_func is not None and not self.req_func(ds):
            return False
        return True

    # computation
    def hash(self, ds: RTDCBase) -> Hashable:
        """Cache key of the result for `ds`: changes whenever an input changes."""
        config = tuple((sec, key, _hashable(ds.config[sec][key]))
                       for sec, keys in self.req_config for key in keys)
        feats = tuple(ds._feature_token(feat) for feat in self.req_features)
        func = self.req_func(ds) if self.req_func is not None else None
        # keyed by the method: recipes sharing a method share their results
        return (id(self.method), self.identifier, config, feats, _hashable(func))

    def compute(self, ds: RTDCBase) -> dict[str, np.ndarray]:
        """Compute the feature (and any features sharing the method) for `ds`.

        Returns
        -------
        dict
            Feature name to read-only array with ``len(ds)`` entries.
        """
        result = self.method(ds)
        if not isinstance(result, dict):
            result = {self.feature_name: result}
        return AncillaryFeature.check_data_size(ds, result)

    @staticmethod
    def check_data_size(ds: RTDCBase, data_dict: dict[str, Any]) -> dict[str, Any]:
        """Trim too long, NaN-pad too short results (with a warning)."""
        out = {}
        for name, data in data_dict.items():
            if isinstance(data, np.ndarray):
                if len(data) > len(ds):
                    warnings.warn(f"Computed feature '{name}' has {len(data)} "
                                  f"events, trimming to {len(ds)}",
                                  BadFeatureSizeWarning, stacklevel=3)
                    data = data[:len(ds)]
                elif len(data) < len(ds):
                    warnings.warn(f"Computed feature '{name}' has {len(data)} "
                                  f"events, padding with NaN to {len(ds)}",
                                  BadFeatureSizeWarning, stacklevel=3)
                    padded = np.full((len(ds),) + data.shape[1:], np.nan)
                    padded[:len(data)] = data
                    data = padded
                data.flags.writeable = False
            out[name] = data
        return out


def _hashable(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return (value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
