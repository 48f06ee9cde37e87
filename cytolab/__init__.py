"""cytolab: single-cell imaging cytometry in one toolkit.

Open a measurement with :func:`new_dataset`, write one with
:class:`RTDCWriter`; gate it with ``ds.config["filtering"]``, ``ds.filter``
and :class:`PolygonFilter`, summarize it with :mod:`cytolab.statistics`;
draw lines of constant Young's modulus with :mod:`cytolab.isoelastics`;
colour scatter plots by density with ``ds.get_kde_scatter`` and
:mod:`cytolab.kde_methods`, downsample them with
``ds.get_downsampled_scatter`` (:mod:`cytolab.downsampling`) and draw
percentile contours with ``ds.get_kde_contour`` and
:mod:`cytolab.kde_contours`; plot with :mod:`cytolab.plot`. Fluorescence
images and series (``FLImage``, ``FLSeries``) are in :mod:`cytolab.fluor`.
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
from .analysis import downsampling, isoelastics, kde_contours, kde_methods, statistics
from .rtdc import (
    Configuration,
    ICue,
    IntegrityChecker,
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
sys.modules[__name__ + ".kde_methods"] = kde_methods
sys.modules[__name__ + ".kde_contours"] = kde_contours
sys.modules[__name__ + ".downsampling"] = downsampling

__all__ = [
    "Configuration", "ICue", "IntegrityChecker", "PolygonFilter", "RTDCBase",
    "RTDCWriter", "__version__",
    "definitions", "dfn", "downsampling", "isoelastics", "kde_contours",
    "kde_methods", "load_plugin_feature", "new_dataset",
    "register_temporary_feature", "set_temporary_feature", "statistics",
]

# the dcnum-style faces of the io layer (cytolab.read, cytolab.write) and the
# fluorescence images and series of the flimage API (cytolab.fluor.FLImage, ...)
from . import fluor, read, write  # noqa: E402, F401
