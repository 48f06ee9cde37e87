"""Ancillary features: computed on demand from other features and metadata.

The engine lives in :mod:`.engine`; each module next to it registers the
recipes of one family of features (importing it is enough).
"""
from . import (
    basic,  # noqa: F401  (registers the recipes)
    bright,  # noqa: F401
    emodulus,  # noqa: F401
    fl_crosstalk,  # noqa: F401
    ml,  # noqa: F401
    shape,  # noqa: F401
    texture,  # noqa: F401
)
from .engine import AncillaryFeature

__all__ = ["AncillaryFeature"]
