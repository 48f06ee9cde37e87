"""Reading ``.rtdc`` files the dcnum way: :class:`HDF5Data` and its helpers.

For people coming from dcnum (``dcnum.read``). Everything here lives in
:mod:`cytolab.io`; this module only gathers the names under the familiar
path.

Examples
--------
>>> from cytolab.read import HDF5Data, PROTECTED_FEATURES
>>> PROTECTED_FEATURES[:3]
['bg_off', 'flow_rate', 'frame']
"""
from .errors import BasinIdentifierMismatchError
from .io import (
    PROTECTED_FEATURES,
    HDF5Data,
    HDF5ImageCache,
    concatenated_hdf5_data,
    detect_flickering,
    get_mapped_object,
    get_mapping_indices,
    get_measurement_identifier,
    md5sum,
)

__all__ = [
    "PROTECTED_FEATURES", "BasinIdentifierMismatchError", "HDF5Data",
    "HDF5ImageCache", "concatenated_hdf5_data", "detect_flickering",
    "get_mapped_object", "get_mapping_indices", "get_measurement_identifier",
    "md5sum",
]
