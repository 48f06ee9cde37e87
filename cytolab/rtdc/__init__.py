"""The dataset API: `RTDCBase` and its formats, configuration, filters, basins,
hierarchies, temporary features and the writer."""
from .ancillaries import AncillaryFeature
from .basin import Basin, HDF5Basin, InternalH5DatasetBasin
from .check import ICue, IntegrityChecker
from .config import Configuration
from .core import RTDCBase
from .filter import Filter
from .formats import FORMATS, RTDC_HDF5, RTDC_Dict, RTDC_Hierarchy
from .load import new_dataset
from .plugin import (
    PlugInFeature,
    PluginImportError,
    load_plugin_feature,
    remove_all_plugin_features,
    remove_plugin_feature,
)
from .polygon_filter import PolygonFilter, PolygonFilterError
from .temporary import (
    deregister_all,
    deregister_temporary_feature,
    register_temporary_feature,
    set_temporary_feature,
)
from .writer import RTDCWriter

__all__ = [
    "FORMATS", "AncillaryFeature", "Basin", "Configuration", "Filter", "HDF5Basin",
    "ICue", "IntegrityChecker", "InternalH5DatasetBasin", "PlugInFeature",
    "PluginImportError", "PolygonFilter",
    "PolygonFilterError", "RTDCBase", "RTDCWriter", "RTDC_Dict", "RTDC_HDF5",
    "RTDC_Hierarchy", "deregister_all", "deregister_temporary_feature",
    "load_plugin_feature", "new_dataset", "register_temporary_feature",
    "remove_all_plugin_features", "remove_plugin_feature", "set_temporary_feature",
]
