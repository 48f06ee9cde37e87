"""Recipes of the cheap features every dataset shows.

``index`` (1-based), ``time`` from ``frame`` and the frame rate,
``area_um`` from the convex area and the pixel size, ``deform`` from
``circ``, ``aspect`` and ``area_ratio``. They are vector arithmetic, so
they are marked `rapid`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase


def compute_index(ds: RTDCBase) -> np.ndarray:
    """Event index of the dataset, counting from 1."""
    return np.arange(1, len(ds) + 1, dtype=np.uint64)


def compute_time(ds: RTDCBase) -> np.ndarray:
    """Time [s]: ``(frame - frame[0]) / frame rate + ds.time_offset``.

    The offset is zero unless the dataset replaced a defective stored time
    (then it is the first stored time, so the clock of the file is kept).
    """
    frame = np.asarray(ds["frame"], dtype=np.float64)
    if frame.size == 0:
        return frame
    rate = float(ds.config["imaging"]["frame rate"])
    return (frame - frame[0]) / rate + ds.time_offset


def compute_area_um(ds: RTDCBase) -> np.ndarray:
    """Area [µm²] of the convex contour: ``area_cvx * pixel size**2``."""
    pxs = float(ds.config["imaging"]["pixel size"])
    return np.asarray(ds["area_cvx"], dtype=np.float64) * pxs**2


def compute_deform(ds: RTDCBase) -> np.ndarray:
    """Deformation ``1 - circ``."""
    return 1 - np.asarray(ds["circ"], dtype=np.float64)


def compute_aspect(ds: RTDCBase) -> np.ndarray:
    """Aspect ratio of the bounding box ``size_x / size_y``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(ds["size_x"], dtype=np.float64)
                / np.asarray(ds["size_y"], dtype=np.float64))


def compute_area_ratio(ds: RTDCBase) -> np.ndarray:
    """Porosity: convex area over measured area."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(ds["area_cvx"], dtype=np.float64)
                / np.asarray(ds["area_msd"], dtype=np.float64))


def _has_positive(section: str, key: str):
    def check(ds: RTDCBase) -> bool:
        try:
            return float(ds.config[section][key]) > 0
        except (TypeError, ValueError):
            return False
    return check


AncillaryFeature("index", compute_index, rapid=True)
AncillaryFeature("time", compute_time, req_config=[["imaging", ["frame rate"]]],
                 req_features=["frame"],
                 req_func=_has_positive("imaging", "frame rate"), rapid=True)
AncillaryFeature("area_um", compute_area_um,
                 req_config=[["imaging", ["pixel size"]]],
                 req_features=["area_cvx"],
                 req_func=_has_positive("imaging", "pixel size"), rapid=True)
AncillaryFeature("deform", compute_deform, req_features=["circ"], rapid=True)
AncillaryFeature("aspect", compute_aspect, req_features=["size_x", "size_y"],
                 rapid=True)
AncillaryFeature("area_ratio", compute_area_ratio,
                 req_features=["area_cvx", "area_msd"], rapid=True)
