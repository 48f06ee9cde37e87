"""Recipes of the shape features: contour, inertia ratios, tilt, volume.

* ``contour`` from ``mask``: a lazy per-event container
  (:class:`~cytolab.features.contour.LazyContour`) that traces contours on
  access and keeps the last 1000.
* ``inert_ratio_cvx``, ``inert_ratio_prnc``, ``inert_ratio_raw`` and
  ``tilt`` from ``contour``: one computation for all four.
* ``volume`` from ``contour``, ``pos_x``, ``pos_y`` and the pixel size.

The scalar features are computed in chunks of events, so memory depends on
the chunk size, not on the size of the dataset.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...features.contour import LazyContour
from ...features.inert_ratio import INERTIA_FEATURES
from ...features.moments import moments_features
from ...features.volume import get_volume
from ...io import ChunkedEventArray
from .chunks import chunk_size_for, compute_in_chunks
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase



def _mask_bytes(masks: Any) -> Any:
    """The masks as stored (uint8) when they come from a file.

    OpenCV traces uint8 masks (non-zero is inside) directly; reading them
    without the conversion to bool saves a copy of every mask.
    """
    if isinstance(masks, ChunkedEventArray):
        return masks.as_stored()
    return masks


def compute_contour(ds: RTDCBase) -> LazyContour:
    """Contours traced from the masks on access (see :func:`get_contour`)."""
    return LazyContour(_mask_bytes(ds["mask"]))


def _contour_chunk_size(ds: RTDCBase) -> int:
    # contours traced on the fly read the masks of a whole chunk (twice in
    # memory while reading); a quarter of the default keeps the peak small
    # at no cost in speed
    if isinstance(ds["contour"], LazyContour):
        return max(100, chunk_size_for(ds, ["mask"]) // 4)
    return chunk_size_for(ds, ["contour"])


def _inertia_kernel(contour: Any) -> dict[str, np.ndarray]:
    return moments_features(contour, features=INERTIA_FEATURES)


def compute_inertia(ds: RTDCBase) -> dict[str, np.ndarray]:
    """Inertia ratios (convex, principal, raw) and tilt from the contours."""
    return compute_in_chunks(ds, ["contour"], _inertia_kernel, INERTIA_FEATURES,
                             chunk_size=_contour_chunk_size(ds))


def _volume_kernel(contour: Any, pos_x: np.ndarray, pos_y: np.ndarray,
                   pix: float) -> dict[str, np.ndarray]:
    return {"volume": get_volume(contour, pos_x, pos_y, pix)}


def compute_volume(ds: RTDCBase) -> dict[str, np.ndarray]:
    """Volume [µm³] of rotation of the contours (see :func:`get_volume`)."""
    pix = float(ds.config["imaging"]["pixel size"])
    return compute_in_chunks(ds, ["contour", "pos_x", "pos_y"], _volume_kernel,
                             ["volume"], chunk_size=_contour_chunk_size(ds),
                             pix=pix)


def _positive_pixel_size(ds: RTDCBase) -> bool:
    try:
        return float(ds.config["imaging"]["pixel size"]) > 0
    except (TypeError, ValueError):
        return False


AncillaryFeature("contour", compute_contour, req_features=["mask"])
for _name in INERTIA_FEATURES:
    AncillaryFeature(_name, compute_inertia, req_features=["contour"])
AncillaryFeature("volume", compute_volume,
                 req_config=[["imaging", ["pixel size"]]],
                 req_features=["contour", "pos_x", "pos_y"],
                 req_func=_positive_pixel_size)
