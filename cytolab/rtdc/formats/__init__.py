"""Dataset formats: one module per format, registered here.

Adding a format means adding a module with an :class:`~cytolab.rtdc.RTDCBase`
subclass and one line in :data:`FORMATS`.
"""
from .dict import RTDC_Dict
from .hdf5 import RTDC_HDF5
from .hierarchy import RTDC_Hierarchy
from .tdms import RTDC_TDMS

#: format name -> dataset class
FORMATS = {
    "dict": RTDC_Dict,
    "hdf5": RTDC_HDF5,
    "hierarchy": RTDC_Hierarchy,
    "tdms": RTDC_TDMS,
}

__all__ = ["FORMATS", "RTDC_Dict", "RTDC_HDF5", "RTDC_Hierarchy", "RTDC_TDMS"]
