"""Recipes of the Haralick texture features ``tex_*``.

All 22 features (11 measures, average and peak-to-peak over four
directions) share one method, computed from the background-corrected image
inside the mask and streamed over the events in chunks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...features.texture import TEXTURE_FEATURES, texture_features
from .chunks import compute_in_chunks
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase


def compute_texture(ds: RTDCBase) -> dict[str, np.ndarray]:
    """All ``tex_*`` features of every event."""
    return compute_in_chunks(ds, ["mask", "image", "image_bg"],
                             texture_features, TEXTURE_FEATURES)


for _name in TEXTURE_FEATURES:
    AncillaryFeature(_name, compute_texture,
                     req_features=["image", "image_bg", "mask"])
