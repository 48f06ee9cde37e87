"""Recipes of the Young's modulus ``emodulus``.

The user chooses a look-up table and says how the medium's viscosity is
known, through keys of ``ds.config["calculation"]``:

===========  ===============================================  ========
scenario     keys (besides ``emodulus lut``)                  priority
===========  ===============================================  ========
C            ``emodulus medium``, ``emodulus temperature``,   5
             ``emodulus viscosity model``
A            ``emodulus medium``, ``emodulus viscosity        4
             model`` and the per-event ``temp`` feature
B            ``emodulus viscosity`` [mPa·s] (any medium, e.g.  2
             a custom buffer; the medium must then not be a
             known one, so nothing is mixed silently)
===========  ===============================================  ========

An explicit ``emodulus temperature`` beats the ``temp`` feature (C before
A). Each scenario has one recipe per LUT base feature (``area_um`` or
``volume``); the LUT decides which one applies. Channel width, flow rate
and pixel size come from ``setup`` and ``imaging``. Measurements in the
reservoir (``setup:chip region``) have no Young's modulus. Every key the
result depends on is part of the cache key, so changing any of them
recomputes the feature.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...features.emodulus import get_emodulus, get_lut_feature
from ...features.emodulus.viscosity import KNOWN_MODELS, canonical_medium
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase

_SETUP = [["setup", ["channel width", "flow rate"]], ["imaging", ["pixel size"]]]


def _known_medium(medium: Any) -> bool:
    try:
        canonical_medium(str(medium))
    except (TypeError, ValueError):
        return False
    return True


def _usable(ds: RTDCBase, feature: str) -> bool:
    """Common conditions: not the reservoir, a LUT based on `feature`."""
    if str(ds.config["setup"].get("chip region", "")).lower() == "reservoir":
        return False
    try:
        return get_lut_feature(ds.config["calculation"]["emodulus lut"]) == feature
    except (KeyError, ValueError):
        return False


def _compute(ds: RTDCBase, feature: str, medium: Any, temperature: Any,
             model: str | None) -> np.ndarray:
    calc = ds.config["calculation"]
    return get_emodulus(
        deform=np.asarray(ds["deform"], dtype=float),
        **{feature: np.asarray(ds[feature], dtype=float)},
        medium=medium, channel_width=float(ds.config["setup"]["channel width"]),
        flow_rate=float(ds.config["setup"]["flow rate"]),
        px_um=float(ds.config["imaging"]["pixel size"]), temperature=temperature,
        lut_data=calc["emodulus lut"], visc_model=model)


def _register(feature: str) -> None:
    def check_c(ds: RTDCBase) -> bool:
        calc = ds.config["calculation"]
        return (_usable(ds, feature) and _known_medium(calc["emodulus medium"])
                and calc["emodulus viscosity model"] in KNOWN_MODELS)

    def check_b(ds: RTDCBase) -> bool:
        calc = ds.config["calculation"]
        return (_usable(ds, feature) and float(calc["emodulus viscosity"]) > 0
                and not _known_medium(calc.get("emodulus medium", "other")))

    def compute_c(ds: RTDCBase) -> np.ndarray:
        calc = ds.config["calculation"]
        return _compute(ds, feature, calc["emodulus medium"],
                        float(calc["emodulus temperature"]),
                        calc["emodulus viscosity model"])

    def compute_a(ds: RTDCBase) -> np.ndarray:
        calc = ds.config["calculation"]
        return _compute(ds, feature, calc["emodulus medium"],
                        np.asarray(ds["temp"], dtype=float),
                        calc["emodulus viscosity model"])

    def compute_b(ds: RTDCBase) -> np.ndarray:
        viscosity = float(ds.config["calculation"]["emodulus viscosity"])
        return _compute(ds, feature, viscosity, None, None)

    lut = ["calculation", ["emodulus lut"]]
    medium = ["calculation", ["emodulus lut", "emodulus medium",
                              "emodulus viscosity model"]]
    scenarios: list[tuple[Callable, list, list[str], Callable, int]] = [
        (compute_c, [["calculation", medium[1] + ["emodulus temperature"]]],
         ["deform", feature], check_c, 5),
        (compute_a, [medium], ["deform", feature, "temp"], check_c, 4),
        (compute_b, [lut, ["calculation", ["emodulus viscosity"]]],
         ["deform", feature], check_b, 2),
    ]
    for method, config, features, check, priority in scenarios:
        AncillaryFeature("emodulus", method, req_config=_SETUP + config,
                         req_features=features, req_func=check, priority=priority,
                         identifier=f"emodulus-{feature}-{priority}")


for _feature in ("area_um", "volume"):
    _register(_feature)
