"""Writing ``.rtdc`` files the dcnum way: :class:`HDF5Writer` and its helpers.

For people coming from dcnum (``dcnum.write``). Everything here lives in
:mod:`cytolab.io`; this module only gathers the names under the familiar
path.

Examples
--------
>>> from cytolab.write import set_default_filter_kwargs
>>> set_default_filter_kwargs(compression=False)
{'fletcher32': True}
"""
import hdf5plugin  # noqa: F401  (dcnum offers it here; registers HDF5 filters)

from .errors import CreatingFileWithoutBasinWarning, IgnoringBasinTypeWarning
from .io import (
    HDF5Writer,
    copy_basins,
    copy_features,
    copy_metadata,
    create_with_basins,
    set_default_filter_kwargs,
)

__all__ = [
    "CreatingFileWithoutBasinWarning", "HDF5Writer", "IgnoringBasinTypeWarning",
    "copy_basins", "copy_features", "copy_metadata", "create_with_basins",
    "set_default_filter_kwargs",
]
