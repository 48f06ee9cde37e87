"""Feature extraction and gating of segmented objects.

Every feature is computed by the kernels of :mod:`cytolab.features`, the same
code that computes ancillary features of datasets, so a feature recomputed
from a processed file equals the stored value.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..features import (
    bright_bc_features,
    bright_features,
    get_contour,
    get_volume,
    moments_features,
    texture_features,
)
from ..io.ppid import join_ppid
from .segment import Objects
from .steps import from_spec


def _keywords(obj: Any, kwargs: Mapping[str, Any], kind: str) -> dict[str, Any]:
    unknown = set(kwargs) - set(obj.defaults)
    if unknown:
        raise ValueError(f"Unknown keyword(s) {sorted(unknown)} for {kind} "
                         f"'{obj.code}'; valid: {list(obj.defaults)}")
    return {k: kwargs.get(k, v) for k, v in obj.defaults.items()}


class Gate:
    """Which segmented objects become events.

    Keywords (identifier order)
    ---------------------------
    min_area : int
        Smallest object [px] that is kept (default 10; smaller objects are
        noise).
    max_area : int
        Largest object [px] that is kept (default 0: no limit).
    exclude_border : bool
        Also drop objects touching the image border after post-processing
        (default False; the segmenter's ``clear_border`` already removes
        objects that touch the border before hole filling and closing).

    Examples
    --------
    >>> Gate(min_area=20).ppid
    'norm:mi=20^ma=0^e=0'
    """

    code = "norm"
    defaults: ClassVar[dict[str, Any]] = {"min_area": 10, "max_area": 0,
                                          "exclude_border": False}

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = _keywords(self, kwargs, "gate")
        for key in ("min_area", "max_area"):
            if int(self.kwargs[key]) < 0:
                raise ValueError(f"{key} must be >= 0, got {self.kwargs[key]}")

    @property
    def ppid(self) -> str:
        """Pipeline identifier of the gate."""
        return join_ppid(self.code, self.kwargs)

    def keep(self, objects: Objects) -> np.ndarray:
        """Boolean array: which objects pass the gate."""
        keep = objects.area >= int(self.kwargs["min_area"])
        if int(self.kwargs["max_area"]):
            keep &= objects.area <= int(self.kwargs["max_area"])
        if self.kwargs["exclude_border"]:
            height, width = objects.shape
            x0, y0, w, h = objects.bbox.T
            keep &= (x0 > 0) & (y0 > 0) & (x0 + w < width) & (y0 + h < height)
        return keep


class FeatureExtractor:
    """Scalar features of every event from its mask, image and background.

    Keywords (identifier order)
    ---------------------------
    brightness : bool
        Brightness inside the mask, raw and background-corrected, with
        percentiles (``bright_*``, ``bright_bc_*``, ``bright_perc_*``).
    haralick : bool
        Haralick texture features (``tex_*``).
    volume : bool
        Volume of revolution (``volume``).

    Shape features (areas, deformation, inertia ratios, positions, sizes,
    tilt) and ``bg_med`` are always computed.

    Examples
    --------
    >>> FeatureExtractor().ppid
    'legacy:b=1^h=1^v=1'
    """

    code = "legacy"
    defaults: ClassVar[dict[str, Any]] = {"brightness": True, "haralick": True,
                                          "volume": True}

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = _keywords(self, kwargs, "feature extractor")

    @property
    def ppid(self) -> str:
        """Pipeline identifier of the feature extractor."""
        return join_ppid(self.code, self.kwargs)

    def extract(self, masks: np.ndarray, images: np.ndarray, backgrounds: np.ndarray,
                bg_off: np.ndarray | None, pixel_size: float) -> dict[str, np.ndarray]:
        """Features of events.

        Parameters
        ----------
        masks, images, backgrounds
            ``(N, H, W)`` per-event mask (bool), frame and background (uint8).
        bg_off
            Per-event background offset or None.
        pixel_size
            Pixel size [µm].

        Returns
        -------
        dict
            Feature name to 1-D array with N values.
        """
        contours = get_contour(masks)
        feats = moments_features(contours, pixel_size=pixel_size)
        with np.errstate(divide="ignore", invalid="ignore"):
            feats["aspect"] = feats["size_x"] / feats["size_y"]
            feats["area_ratio"] = feats["area_cvx"] / feats["area_msd"]
        num = len(masks)
        feats["bg_med"] = (np.median(backgrounds.reshape(num, -1), axis=1)
                           if num else np.zeros(0))
        if self.kwargs["volume"]:
            feats["volume"] = get_volume(contours, feats["pos_x"], feats["pos_y"],
                                         pixel_size)
        if self.kwargs["brightness"]:
            feats.update(bright_features(masks, images))
            feats.update(bright_bc_features(masks, images, backgrounds, bg_off=bg_off))
        if self.kwargs["haralick"]:
            feats.update(texture_features(masks, images, backgrounds))
        return feats


def get_gate(spec: str | Gate | None = None, **kwargs: Any) -> Gate:
    """Gate from its code, a full identifier or an instance."""
    return from_spec(spec, kwargs, Gate, {Gate.code: Gate}, Gate.code, "gate")


def get_extractor(spec: str | FeatureExtractor | None = None,
                  **kwargs: Any) -> FeatureExtractor:
    """Feature extractor from its code, a full identifier or an instance."""
    return from_spec(spec, kwargs, FeatureExtractor,
                     {FeatureExtractor.code: FeatureExtractor},
                     FeatureExtractor.code, "feature extractor")
