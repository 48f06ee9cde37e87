"""The dataset API: `RTDCBase` and its formats, configuration, basins, writer."""
from .ancillaries import AncillaryFeature
from .basin import Basin, HDF5Basin, InternalH5DatasetBasin
from .config import Configuration
from .core import RTDCBase
from .formats import FORMATS, RTDC_HDF5, RTDC_Dict
from .load import new_dataset
from .writer import RTDCWriter

__all__ = [
    "FORMATS", "AncillaryFeature", "Basin", "Configuration", "HDF5Basin",
    "InternalH5DatasetBasin", "RTDCBase", "RTDCWriter", "RTDC_Dict", "RTDC_HDF5",
    "new_dataset",
]
