"""cytolab: single-cell imaging cytometry in one toolkit.

Open a measurement with :func:`new_dataset`, write one with
:class:`RTDCWriter`; gate it with ``ds.config["filtering"]``, ``ds.filter``
and :class:`PolygonFilter`, summarize it with :mod:`cytolab.statistics`;
draw lines of constant Young's modulus with :mod:`cytolab.isoelastics`.
Feature and metadata definitions are in :mod:`cytolab.definitions` (alias
:mod:`cytolab.dfn`).

Examples
--------
>>> import cytolab
>>> ds = cytolab.new_dataset({"deform": [0.1, 0.2, 0.3]})
>>> len(ds)
3
"""
import sys

from . import definitions
from ._version import __version__
from .analysis import isoelastics, statistics
from .rtdc import (
    Configuration,
    PolygonFilter,
    RTDCBase,
    RTDCWriter,
    load_plugin_feature,
    new_dataset,
    register_temporary_feature,
    set_temporary_feature,
)

dfn = definitions
sys.modules[__name__ + ".dfn"] = definitions
sys.modules[__name__ + ".statistics"] = statistics
sys.modules[__name__ + ".isoelastics"] = isoelastics

__all__ = [
    "Configuration", "PolygonFilter", "RTDCBase", "RTDCWriter", "__version__",
    "definitions", "dfn", "isoelastics", "load_plugin_feature", "new_dataset",
    "register_temporary_feature", "set_temporary_feature", "statistics",
]
