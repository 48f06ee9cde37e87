"""Metadata sections and keys of RT-DC measurements.

In ``.rtdc`` files every metadata item is a root attribute named
``"section:key"``. This module lists the known sections and keys together
with the parser that converts a raw value (see :mod:`.meta_parse`), a short
description and a unit.

The sections come in three groups:

* :data:`CFG_METADATA`: facts about the measurement (``experiment``,
  ``imaging``, ``setup``, ...), read-only for the analysis.
* :data:`CFG_ANALYSIS`: settings a user edits during analysis
  (``calculation`` and ``filtering``); they are never written to ``.rtdc``
  files.
* ``user``: a free-form section that accepts any key (see
  :data:`USER_SECTION`).

Some keys are defined by a pattern rather than listed:

* ``filtering``: ``"<feature> min"`` and ``"<feature> max"`` for every scalar
  feature accepted by :func:`.features.scalar_feature_exists`, including
  features registered at run time.
* ``online_filter``: ``"<feature> min"``, ``"<feature> max"``,
  ``"<feature> soft limit"`` and, for a pair of features,
  ``"<feat1>,<feat2> polygon points"`` and ``"<feat1>,<feat2> soft limit"``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from . import meta_parse as mp
from .features import get_feature_label, scalar_feature_exists

__all__ = [
    "CFG_ANALYSIS",
    "CFG_METADATA",
    "CFG_SECTIONS",
    "USER_SECTION",
    "MetaKey",
    "config_key_exists",
    "config_keys",
    "get_config_value_descr",
    "get_config_value_func",
    "get_config_value_type",
    "get_config_value_unit",
    "section_exists",
]


class MetaKey(NamedTuple):
    """Definition of one metadata key."""

    #: key name, e.g. ``"pixel size"``
    name: str
    #: parser converting raw values, from :mod:`.meta_parse`
    func: Any
    #: short description without unit
    descr: str
    #: unit (empty string if dimensionless or not a number)
    unit: str = ""


_K = MetaKey

#: Name of the free-form section.
USER_SECTION = "user"

#: Measurement metadata: section -> list of :class:`MetaKey`.
CFG_METADATA: dict[str, list[MetaKey]] = {
    "experiment": [
        _K("date", mp.fstr, "Measurement date (YYYY-MM-DD)"),
        _K("event count", mp.fint, "Number of events recorded"),
        _K("run identifier", mp.fstr, "Unique identifier of the measurement run"),
        _K("run index", mp.fint, "Index of the measurement run"),
        _K("sample", mp.fstr, "Sample name or user-defined reference"),
        _K("time", mp.fstr, "Start time of the measurement (HH:MM:SS[.S])"),
    ],
    "fluorescence": [
        *[_K(f"baseline {n} offset", mp.fint, f"Baseline offset of channel {n}")
          for n in (1, 2, 3)],
        _K("bit depth", mp.fint, "Bit depth of the traces"),
        *[_K(f"channel {n} name", mp.fstr, f"Description of channel FL{n}")
          for n in (1, 2, 3)],
        _K("channel count", mp.fint, "Number of channels in use"),
        _K("channels installed", mp.fint, "Number of channels installed"),
        *[key for n in (1, 2, 3) for key in (
            _K(f"laser {n} lambda", mp.ffloat, f"Wavelength of laser {n}", "nm"),
            _K(f"laser {n} power", mp.ffloat, f"Output power of laser {n}", "%"),
        )],
        _K("laser count", mp.fint, "Number of lasers in use"),
        _K("lasers installed", mp.fint, "Number of lasers installed"),
        _K("sample rate", mp.fint, "Sampling rate of the traces", "Hz"),
        _K("samples per event", mp.fint, "Number of trace samples per event"),
        _K("signal max", mp.ffloat, "Upper end of the detected voltage range",
           "V"),
        _K("signal min", mp.ffloat, "Lower end of the detected voltage range",
           "V"),
        _K("trace median", mp.fint,
           "Window size of the rolling median applied to the traces (0: none)"),
    ],
    "fmt_tdms": [
        _K("video frame offset", mp.fint,
           "Number of events missing at the start of the video"),
    ],
    "imaging": [
        _K("flash device", mp.fstr, "Type of light source"),
        _K("flash duration", mp.ffloat, "Duration of the light flash", "µs"),
        _K("frame rate", mp.ffloat, "Camera frame rate", "Hz"),
        _K("pixel size", mp.ffloat, "Size of one image pixel", "µm"),
        _K("roi position x", mp.fint, "Sensor x coordinate of the image", "px"),
        _K("roi position y", mp.fint, "Sensor y coordinate of the image", "px"),
        _K("roi size x", mp.fint, "Image width", "px"),
        _K("roi size y", mp.fint, "Image height", "px"),
    ],
    "online_contour": [
        _K("bg empty", mp.fbool,
           "Background computed from frames without events only"),
        _K("bin area min", mp.fint, "Smallest event area in the binary image",
           "px"),
        _K("bin kernel", mp.fint, "Disk size of the binary closing of the mask"),
        _K("bin threshold", mp.fint,
           "Threshold applied to the background-corrected image"),
        _K("image blur", mp.fint,
           "Odd sigma of the Gaussian blur (21x21 kernel), 0 for none"),
        _K("no absdiff", mp.fbool,
           "Background correction without OpenCV 'absdiff'"),
    ],
    "online_filter": [
        _K("target duration", mp.ffloat, "Intended measurement duration", "min"),
        _K("target event count", mp.fint,
           "Intended number of events passing the online gate"),
    ],
    "pipeline": [
        _K("dcnum background", mp.fstr, "Identifier of the background method"),
        _K("dcnum data", mp.fstr, "Identifier of the input data"),
        _K("dcnum feature", mp.fstr, "Identifier of the feature extractor"),
        _K("dcnum gate", mp.fstr, "Identifier of the gating method"),
        _K("dcnum generation", mp.fstr, "Identifier of the pipeline generation"),
        _K("dcnum hash", mp.fstr, "Hash of the pipeline"),
        _K("dcnum mapping", mp.fstr,
           "Mapping of the events to the original dataset"),
        _K("dcnum segmenter", mp.fstr, "Identifier of the segmenter"),
        _K("dcnum yield", mp.fint, "Number of events produced"),
    ],
    "qpi": [
        _K("amp border loc", mp.fstr, "Where the amplitude border is located"),
        _K("amp border px", mp.fint, "Width of the amplitude border", "px"),
        _K("amp fit offset", mp.fstr, "Offset correction of the amplitude"),
        _K("amp fit profile", mp.fstr, "Profile correction of the amplitude"),
        _K("bg method", mp.fstr, "Method used for the background"),
        _K("filter name", mp.fstr, "Fourier filter"),
        _K("filter size", mp.ffloat, "Size of the Fourier filter", "1/px"),
        _K("focus interval", mp.f1dfloatduple, "Interval searched for the focus",
           "µm"),
        _K("focus kernel", mp.fstr, "Kernel used for propagation"),
        _K("focus metric", mp.fstr, "Metric used to find the focus"),
        _K("focus minimizer", mp.fstr, "Minimizer used to find the focus"),
        _K("focus padding", mp.fint, "Padding level used for refocusing"),
        _K("invert phase", mp.fbool, "Whether the phase was inverted"),
        _K("medium index", mp.ffloat, "Refractive index of the medium"),
        _K("padding", mp.fint, "Padding level"),
        _K("pha border loc", mp.fstr, "Where the phase border is located"),
        _K("pha border px", mp.fint, "Width of the phase border", "px"),
        _K("pha fit offset", mp.fstr, "Offset correction of the phase"),
        _K("pha fit profile", mp.fstr, "Profile correction of the phase"),
        _K("pixel size proc", mp.ffloat, "Pixel size of the QPI data", "µm"),
        _K("pixel size raw", mp.ffloat, "Pixel size of the hologram", "µm"),
        _K("scale to filter", mp.fboolorfloat,
           "Scaling of the QPI data to the filter size"),
        _K("sideband freq", mp.f1dfloatduple, "Coordinates of the sideband",
           "1/px"),
        _K("software version", mp.fstr, "Version(s) of the QPI software"),
        _K("subtract mean", mp.fbool, "Whether the mean was subtracted first"),
        _K("wavelength", mp.ffloat, "Wavelength used for imaging", "nm"),
    ],
    "setup": [
        _K("channel width", mp.ffloat, "Width of the microfluidic channel", "µm"),
        _K("chip identifier", mp.lcstr, "Unique identifier of the chip"),
        _K("chip region", mp.lcstr,
           "Region of the chip imaged ('channel' or 'reservoir')"),
        _K("flow rate", mp.ffloat, "Total flow rate in the channel", "µL/s"),
        _K("flow rate sample", mp.ffloat, "Flow rate of the sample", "µL/s"),
        _K("flow rate sheath", mp.ffloat, "Flow rate of the sheath", "µL/s"),
        _K("identifier", mp.fstr, "Unique identifier of the setup"),
        _K("medium", mp.fstr, "Measurement medium"),
        _K("module composition", mp.fstr, "Modules in use (comma-separated)"),
        _K("software version", mp.fstr, "Acquisition software and its version"),
        _K("temperature", mp.ffloat, "Average chip temperature", "°C"),
    ],
}

#: Analysis settings: section -> list of :class:`MetaKey`.
CFG_ANALYSIS: dict[str, list[MetaKey]] = {
    "calculation": [
        *[_K(f"crosstalk fl{a}{b}", mp.ffloat,
             f"Fluorescence crosstalk from channel {a} to channel {b}")
          for a, b in ((1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2))],
        _K("emodulus lut", mp.fstr, "Identifier of the look-up table"),
        _K("emodulus medium", mp.fstr, "Medium (e.g. '0.49% MC-PBS')"),
        _K("emodulus temperature", mp.ffloat, "Chip temperature", "°C"),
        _K("emodulus viscosity", mp.ffloat,
           "Medium viscosity, used when the medium is not known", "mPa·s"),
        _K("emodulus viscosity model", mp.fstr,
           "Viscosity model used for known media"),
    ],
    "filtering": [
        _K("enable filters", mp.fbool, "Whether filtering is enabled"),
        _K("hierarchy parent", mp.fstr, "Parent dataset in a hierarchy"),
        _K("limit events", mp.fint,
           "Maximum number of events after filtering (0: no limit)"),
        _K("polygon filters", mp.fintlist, "Indices of the polygon filters"),
        _K("remove invalid events", mp.fbool,
           "Remove events with nan or inf values"),
    ],
}

#: All sections with a fixed list of keys.
_DEFINED: dict[str, dict[str, MetaKey]] = {
    section: {key.name: key for key in keys}
    for section, keys in {**CFG_METADATA, **CFG_ANALYSIS}.items()
}

#: Section -> names of the listed (non-pattern) keys.
config_keys: dict[str, list[str]] = {
    section: list(keys) for section, keys in _DEFINED.items()
}

#: All valid section names, including the free-form ``user`` section.
CFG_SECTIONS: tuple[str, ...] = (*sorted(_DEFINED), USER_SECTION)


def section_exists(section: str) -> bool:
    """Return whether `section` is a valid metadata section (incl. ``user``)."""
    return section in CFG_SECTIONS


def _split_suffix(key: str, suffixes: tuple[str, ...]) -> tuple[str, str] | None:
    for suffix in suffixes:
        if key.endswith(" " + suffix):
            return key[: -len(suffix) - 1], suffix
    return None


def _pattern_key(section: str, key: str) -> MetaKey | None:
    """Definition of a pattern key (min/max filters etc.), or None."""
    if not isinstance(key, str):
        return None
    if section == "filtering":
        split = _split_suffix(key, ("min", "max"))
        if split and scalar_feature_exists(split[0]):
            feat, bound = split
            which = "Lower" if bound == "min" else "Upper"
            return MetaKey(key, mp.ffloat,
                           f"{which} limit of '{get_feature_label(feat)}'")
    elif section == "online_filter":
        split = _split_suffix(key, ("min", "max", "soft limit", "polygon points"))
        if not split:
            return None
        feats, kind = split
        names = feats.split(",")
        if not all(scalar_feature_exists(n) for n in names):
            return None
        if len(names) == 1 and kind in ("min", "max"):
            which = "Lower" if kind == "min" else "Upper"
            return MetaKey(key, mp.ffloat, f"{which} online gate of '{feats}'")
        if kind == "soft limit" and len(names) in (1, 2):
            return MetaKey(key, mp.fbool,
                           f"Online gate of '{feats}' only flags events")
        if kind == "polygon points" and len(names) == 2:
            return MetaKey(key, mp.f2dfloatarray,
                           f"Polygon of the online gate in '{feats}'")
    return None


def _lookup(section: str, key: str) -> MetaKey | None:
    keys = _DEFINED.get(section)
    if keys is None:
        return None
    if isinstance(key, str) and key in keys:
        return keys[key]
    return _pattern_key(section, key)


def config_key_exists(section: str, key: str) -> bool:
    """Return whether `key` is a valid key of `section`.

    Every key of the ``user`` section is valid.

    Parameters
    ----------
    section
        Section name, e.g. ``"imaging"``.
    key
        Key name, e.g. ``"pixel size"`` or ``"deform min"``.

    Returns
    -------
    bool
    """
    if section == USER_SECTION:
        return isinstance(key, str)
    return _lookup(section, key) is not None


def get_config_value_descr(section: str, key: str) -> str:
    """Return the description of a key, with its unit in square brackets.

    Parameters
    ----------
    section
        Section name.
    key
        Key name.

    Returns
    -------
    str
        E.g. ``"Size of one image pixel [µm]"``; `key` itself if the key is
        not defined.
    """
    meta = _lookup(section, key)
    if meta is None:
        return key
    return f"{meta.descr} [{meta.unit}]" if meta.unit else meta.descr


def get_config_value_unit(section: str, key: str) -> str:
    """Return the unit of a key (empty string if none or undefined)."""
    meta = _lookup(section, key)
    return "" if meta is None else meta.unit


def get_config_value_func(section: str, key: str) -> Any:
    """Return the function that converts raw values of a key.

    Parameters
    ----------
    section
        Section name.
    key
        Key name.

    Returns
    -------
    callable
        A parser from :mod:`.meta_parse`: :func:`.meta_parse.fuser` for the
        ``user`` section (decodes ``bytes``, keeps everything else) and
        :func:`.meta_parse.fpassthrough` for undefined keys. Text keys use
        :func:`.meta_parse.fstr` and number keys :func:`.meta_parse.ffloat`
        (rather than the builtins ``str``/``float``) so that ``bytes`` and
        one-element arrays are handled.
    """
    if section == USER_SECTION:
        return mp.fuser
    meta = _lookup(section, key)
    return mp.fpassthrough if meta is None else meta.func


def get_config_value_type(section: str, key: str) -> type | tuple[type, ...] | None:
    """Return the type(s) a converted value of a key has.

    Parameters
    ----------
    section
        Section name.
    key
        Key name.

    Returns
    -------
    type or tuple of type or None
        Suitable for :func:`isinstance`; None for undefined keys and for the
        ``user`` section.
    """
    if section == USER_SECTION:
        return None
    meta = _lookup(section, key)
    return None if meta is None else mp.func_types[meta.func]
