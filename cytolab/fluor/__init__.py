"""Fluorescence images and series in HDF5, with bleach correction.

:class:`FLImage` holds one fluorescence image with its background and
metadata; :class:`FLSeries` holds many, e.g. a time series, and corrects
them for photobleaching and noise. Files are those of the *flimage* tool:
either opens the files of the other.
"""
from .core import FLImage
from .image_data import Fluorescence, ImageData
from .meta import META_KEYS_FL, META_UNITS, SuspiciousUnitWarning
from .series import FLSeries, MissingTimeWarning
from .storage import ReadOnlyError

META_KEYS = META_KEYS_FL

__all__ = ["META_KEYS", "META_KEYS_FL", "META_UNITS", "FLImage", "FLSeries",
           "Fluorescence", "ImageData", "MissingTimeWarning", "ReadOnlyError",
           "SuspiciousUnitWarning"]
