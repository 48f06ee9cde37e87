"""Recipes of the brightness features, computed from images and masks.

``bright_avg`` and ``bright_sd`` share one method (image + mask);
``bright_bc_avg``, ``bright_bc_sd``, ``bright_perc_10`` and
``bright_perc_90`` share another (image, image_bg, mask, and the per-event
``bg_off`` when the dataset has it). Both stream over the events in chunks,
so memory stays bounded for large files.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import numpy as np

from ...features.bright import bright_bc_features, bright_features
from .chunks import compute_in_chunks
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase

BRIGHT = ("bright_avg", "bright_sd")
BRIGHT_BC = ("bright_bc_avg", "bright_bc_sd", "bright_perc_10", "bright_perc_90")


def compute_bright(ds: RTDCBase) -> dict[str, np.ndarray]:
    """``bright_avg`` and ``bright_sd`` of every event (population SD)."""
    return compute_in_chunks(ds, ["mask", "image"], bright_features, BRIGHT)


def _with_offset(mask: np.ndarray, image: np.ndarray, image_bg: np.ndarray,
                 bg_off: np.ndarray) -> dict[str, np.ndarray]:
    return bright_bc_features(mask, image, image_bg, bg_off=bg_off)


def compute_bright_bc(ds: RTDCBase) -> dict[str, np.ndarray]:
    """Background-corrected brightness and percentiles of every event.

    The corrected image is ``image - image_bg``, minus ``bg_off`` when the
    dataset has that feature.
    """
    if ds._feature_available("bg_off"):
        return compute_in_chunks(ds, ["mask", "image", "image_bg", "bg_off"],
                                 _with_offset, BRIGHT_BC)
    return compute_in_chunks(ds, ["mask", "image", "image_bg"],
                             bright_bc_features, BRIGHT_BC)


def _bg_off_state(ds: RTDCBase) -> Hashable:
    """Whether (and which) ``bg_off`` is used; part of the cache key."""
    if ds._feature_available("bg_off"):
        return ("bg_off", ds._feature_token("bg_off"))
    return ("no bg_off",)


for _name in BRIGHT:
    AncillaryFeature(_name, compute_bright, req_features=["image", "mask"])
for _name in BRIGHT_BC:
    AncillaryFeature(_name, compute_bright_bc,
                     req_features=["image", "image_bg", "mask"],
                     req_func=_bg_off_state)
