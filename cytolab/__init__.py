"""cytolab: single-cell imaging cytometry in one toolkit.

Open a measurement with :func:`new_dataset`, write one with
:class:`RTDCWriter`; feature and metadata definitions are in
:mod:`cytolab.definitions` (alias :mod:`cytolab.dfn`).

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
from .rtdc import Configuration, RTDCBase, RTDCWriter, new_dataset

dfn = definitions
sys.modules[__name__ + ".dfn"] = definitions

__all__ = [
    "Configuration", "RTDCBase", "RTDCWriter", "__version__", "definitions",
    "dfn", "new_dataset",
]
