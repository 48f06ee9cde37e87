"""Recipes of the crosstalk-corrected fluorescence maxima ``flN_max_ctc``.

With all three channels (``fl1_max``, ``fl2_max``, ``fl3_max``) one recipe
of priority 1 corrects each channel with all six spill values
``calculation:crosstalk flij``. With two channels only, a recipe of
priority 0 per channel pair corrects them with the two spill values between
them; the terms to and from the missing channel are 0. The metadata keys
default to 0 (no correction), and changing them in ``ds.config`` triggers a
recomputation.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ...features.fl_crosstalk import correct_crosstalk
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase

CHANNELS = (1, 2, 3)


def _spill(ds: RTDCBase, src: int, dst: int) -> float:
    return float(ds.config["calculation"][f"crosstalk fl{src}{dst}"])


def compute_ctc_3ch(ds: RTDCBase) -> dict[str, np.ndarray]:
    """``fl1_max_ctc``, ``fl2_max_ctc`` and ``fl3_max_ctc`` from three channels."""
    spills = {f"ct{i}{j}": _spill(ds, i, j)
              for i in CHANNELS for j in CHANNELS if i != j}
    fl = [ds[f"fl{ch}_max"] for ch in CHANNELS]
    return {f"fl{ch}_max_ctc": correct_crosstalk(*fl, fl_channel=ch, **spills)
            for ch in CHANNELS}


def _two_channel_method(first: int, second: int,
                        ) -> Callable[[RTDCBase], dict[str, np.ndarray]]:
    def compute(ds: RTDCBase) -> dict[str, np.ndarray]:
        spills = {f"ct{first}{second}": _spill(ds, first, second),
                  f"ct{second}{first}": _spill(ds, second, first)}
        fl = {ch: ds[f"fl{ch}_max"] if ch in (first, second) else 0
              for ch in CHANNELS}
        return {f"fl{ch}_max_ctc": np.asarray(correct_crosstalk(
                    fl[1], fl[2], fl[3], fl_channel=ch, **spills))
                for ch in (first, second)}

    compute.__name__ = f"compute_ctc_fl{first}_fl{second}"
    compute.__doc__ = (f"``fl{first}_max_ctc`` and ``fl{second}_max_ctc`` "
                       f"from channels {first} and {second} only.")
    return compute


def _register() -> None:
    keys = [f"crosstalk fl{i}{j}" for i in CHANNELS for j in CHANNELS if i != j]
    for ch in CHANNELS:
        AncillaryFeature(f"fl{ch}_max_ctc", compute_ctc_3ch,
                         req_config=[["calculation", keys]],
                         req_features=["fl1_max", "fl2_max", "fl3_max"],
                         priority=1, rapid=True)
    for first, second in ((1, 2), (1, 3), (2, 3)):
        method = _two_channel_method(first, second)
        pair_keys = [f"crosstalk fl{first}{second}",
                     f"crosstalk fl{second}{first}"]
        for ch in (first, second):
            AncillaryFeature(f"fl{ch}_max_ctc", method,
                             req_config=[["calculation", pair_keys]],
                             req_features=[f"fl{first}_max", f"fl{second}_max"],
                             priority=0, rapid=True)


_register()
