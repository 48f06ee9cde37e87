"""Plugin features: user recipes for new features, loaded from Python files.

A recipe file defines a function and a module-level ``info`` dict::

    def compute(ds):
        return {"circ_times_area": ds["circ"] * ds["area_um"]}

    info = {
        "method": compute,                      # required
        "feature names": ["circ_times_area"],   # required (a list)
        "feature labels": ["Circularity times area"],
        "features required": ["circ", "area_um"],
        "config required": [["user", ["exp"]]],  # or {"user": ["exp"]}
        "method check required": lambda ds: True,
        "scalar feature": [True],
        "feature shapes": [None],
        "description": "...", "long description": "...",
        "version": "0.1.0",
    }

:func:`load_plugin_feature` registers one :class:`PlugInFeature` per feature
name; from then on every dataset offers the features (for filters and
exports too), and data stored under those names in a file are read as
innate features.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .. import definitions as dfn
from ..errors import CytolabError
from .ancillaries import AncillaryFeature

__all__ = [
    "PlugInFeature", "PluginImportError", "import_plugin_feature_script",
    "load_plugin_feature", "remove_all_plugin_features", "remove_plugin_feature",
]


class PluginImportError(CytolabError, ImportError):
    """A plugin recipe file is missing or cannot be imported."""


def _config_requirements(value: Any) -> list[list[Any]]:
    if not value:
        return []
    if isinstance(value, Mapping):
        return [[sec, list(keys)] for sec, keys in value.items()]
    out = []
    for item in value:
        if isinstance(item, Mapping):
            out.extend([sec, list(keys)] for sec, keys in item.items())
        elif isinstance(item, Sequence) and len(item) == 2 \
                and isinstance(item[0], str):
            out.append([item[0], list(item[1])])
        else:
            raise ValueError(f"'config required' entries must be "
                             f"[section, [keys]] pairs, got {item!r}")
    return out


def _per_feature(info: Mapping[str, Any], key: str, count: int,
                 default: Any) -> list[Any]:
    values = info.get(key)
    if values is None:
        return [default] * count
    if not isinstance(values, (list, tuple)) or len(values) != count:
        raise ValueError(f"Plugin info '{key}' must be a list with one entry "
                         f"per feature name ({count}), got {values!r}")
    return list(values)


class PlugInFeature(AncillaryFeature):
    """An ancillary feature defined by a user's recipe.

    Parameters
    ----------
    feature_name
        One of ``info["feature names"]``.
    info
        The recipe's info dict (see the module documentation).
    plugin_path
        The recipe file, if any (part of the identifier).

    Raises
    ------
    ValueError
        If the info dict is incomplete or the feature name clashes with a
        built-in or already registered feature.
    """

    def __init__(self, feature_name: str, info: Mapping[str, Any],
                 plugin_path: str | pathlib.Path | None = None) -> None:
        names = info.get("feature names")
        if not isinstance(names, list):
            raise ValueError(f"Plugin info 'feature names' must be a list, "
                             f"got {names!r}")
        if feature_name not in names:
            raise ValueError(f"'{feature_name}' is not one of the plugin's "
                             f"feature names {names}")
        if not callable(info.get("method")):
            raise ValueError("Plugin info 'method' must be a function "
                             "computing the features from a dataset")
        pos = names.index(feature_name)
        labels = _per_feature(info, "feature labels", len(names), None)
        scalar = _per_feature(info, "scalar feature", len(names), True)
        shapes = _per_feature(info, "feature shapes", len(names), None)
        self.plugin_feature_info = dict(info)
        self.plugin_path = None if plugin_path is None else pathlib.Path(plugin_path)
        self.feature_shape = shapes[pos]
        # one identifier for all features of a recipe (they share one
        # computation, so they must share the cache key)
        md5 = hashlib.md5("\n".join(names).encode())
        if self.plugin_path is not None and self.plugin_path.exists():
            md5.update(self.plugin_path.read_bytes())
        md5.update(str(info.get("version", "")).encode())
        identifier = md5.hexdigest()
        # register the name first: clashes raise before anything else changes
        dfn.register_feature(feature_name, label=labels[pos],
                             is_scalar=bool(scalar[pos]))
        super().__init__(feature_name, info["method"],
                         req_config=_config_requirements(info.get("config required")),
                         req_features=info.get("features required") or [],
                         req_func=info.get("method check required"),
                         identifier=identifier)

    def __repr__(self) -> str:
        return (f"<PlugInFeature '{self.feature_name}' (id "
                f"{self.identifier[:6]}...) from {self.plugin_path}>")


def import_plugin_feature_script(plugin_path: str | pathlib.Path) -> dict[str, Any]:
    """Import a recipe file and return its ``info`` dict.

    No byte code (``__pycache__``) is written next to the recipe.

    Raises
    ------
    PluginImportError
        If the file does not exist, fails to import or has no ``info`` dict.
    """
    path = pathlib.Path(plugin_path)
    if not path.is_file():
        raise PluginImportError(f"Plugin recipe not found: '{path}'")
    module_name = f"cytolab_plugin_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginImportError(f"'{path}' is not a Python file")
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PluginImportError(f"Could not import plugin recipe '{path}': "
                                f"{type(exc).__name__}: {exc}") from exc
    finally:
        sys.dont_write_bytecode = dont_write
    info = getattr(module, "info", None)
    if not isinstance(info, Mapping):
        raise PluginImportError(f"Plugin recipe '{path}' defines no `info` dict")
    return dict(info)


def load_plugin_feature(plugin_path: str | pathlib.Path) -> list[PlugInFeature]:
    """Load a recipe file and register its features for all datasets.

    Parameters
    ----------
    plugin_path
        Path of the recipe (a ``.py`` file with an ``info`` dict).

    Returns
    -------
    list of PlugInFeature
        One instance per feature name of the recipe.

    Raises
    ------
    PluginImportError
        If the file cannot be imported.
    ValueError
        If ``info`` is invalid (e.g. ``"feature names"`` not a list) or a
        name clashes with an existing feature (nothing is registered then).

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np, cytolab
    >>> recipe = pathlib.Path(tempfile.mkdtemp()) / "double.py"
    >>> _ = recipe.write_text(
    ...     "def twice(ds):\\n"
    ...     "    return {'deform_twice': 2 * ds['deform']}\\n"
    ...     "info = {'method': twice, 'feature names': ['deform_twice'],\\n"
    ...     "        'features required': ['deform']}\\n")
    >>> plugins = load_plugin_feature(recipe)
    >>> ds = cytolab.new_dataset({"deform": np.array([.1, .2])})
    >>> ds["deform_twice"]
    array([0.2, 0.4])
    >>> remove_all_plugin_features()
    """
    info = import_plugin_feature_script(plugin_path)
    names = info.get("feature names")
    if not isinstance(names, list):
        raise ValueError(f"Plugin info 'feature names' must be a list in "
                         f"'{plugin_path}', got {names!r}")
    clashes = [n for n in names if dfn.feature_exists(n)]
    if clashes:
        raise ValueError(f"Plugin '{plugin_path}' defines features that exist "
                         f"already: {clashes}")
    created: list[PlugInFeature] = []
    try:
        for name in names:
            created.append(PlugInFeature(name, info, plugin_path))
    except Exception:
        for inst in created:
            remove_plugin_feature(inst)
        raise
    return created


def remove_plugin_feature(plugin_instance: PlugInFeature) -> None:
    """Unregister one plugin feature.

    Raises
    ------
    TypeError
        If `plugin_instance` is not a :class:`PlugInFeature`.
    """
    if not isinstance(plugin_instance, PlugInFeature):
        raise TypeError(f"Expected a PlugInFeature, got "
                        f"{type(plugin_instance).__name__}")
    if plugin_instance in AncillaryFeature.features:
        AncillaryFeature.unregister(plugin_instance)
        dfn.unregister_feature(plugin_instance.feature_name)


def remove_all_plugin_features() -> None:
    """Unregister all plugin features."""
    for inst in list(AncillaryFeature.features):
        if isinstance(inst, PlugInFeature):
            remove_plugin_feature(inst)
