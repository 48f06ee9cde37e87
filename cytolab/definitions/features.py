"""Names, labels and dimensionality of the RT-DC event features.

The built-in tables (:data:`FEATURES_SCALAR`, :data:`FEATURES_NON_SCALAR` and
the lists derived from them) are fixed at import time and never change.
Features that appear at run time, such as plugin or temporary features, are
added with :func:`register_feature`; they live in a separate registry and are
honoured by the helper functions (:func:`feature_exists`,
:func:`scalar_feature_exists`, :func:`get_feature_label`,
:func:`check_feature_shape`), never by the constant lists. Code that must see
every feature should therefore call the helper functions rather than read the
lists directly.

Besides the named features, any name of the form ``ml_score_xyz`` (three
characters from ``[a-z0-9]``) is a valid scalar feature holding the score of a
machine-learning model for one class.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "FEATURES_IMAGE_FLOAT32",
    "FEATURES_IMAGE_UINT8",
    "FEATURES_NON_SCALAR",
    "FEATURES_SCALAR",
    "FLUOR_TRACES",
    "check_feature_shape",
    "feature_exists",
    "feature_labels",
    "feature_name2label",
    "feature_names",
    "get_feature_label",
    "is_ml_score_name",
    "register_feature",
    "registered_features",
    "scalar_feature_exists",
    "scalar_feature_names",
    "unregister_feature",
]


def _fluorescence_features() -> list[list[str]]:
    # (suffix, label template, unit) for each of the three channels
    kinds = [
        ("area", "FL-{n} area of peak", " [a.u.]"),
        ("dist", "FL-{n} distance between two first peaks", " [µs]"),
        ("max", "FL-{n} maximum", " [a.u.]"),
        ("max_ctc", "FL-{n} maximum, crosstalk-corrected", " [a.u.]"),
        ("npeaks", "FL-{n} number of peaks", ""),
        ("pos", "FL-{n} position of peak", " [µs]"),
        ("width", "FL-{n} width", " [µs]"),
    ]
    return [
        [f"fl{n}_{suffix}", template.format(n=n) + unit]
        for n in (1, 2, 3)
        for suffix, template, unit in kinds
    ]


def _texture_features() -> list[list[str]]:
    # Haralick texture features, each as average and peak-to-peak value
    kinds = [
        ("asm", "angular second moment"),
        ("con", "contrast"),
        ("cor", "correlation"),
        ("den", "difference entropy"),
        ("ent", "entropy"),
        ("f12", "First measure of correlation"),
        ("f13", "Second measure of correlation"),
        ("idm", "inverse difference moment"),
        ("sen", "sum entropy"),
        ("sva", "sum variance"),
        ("var", "variance"),
    ]
    return [
        [f"tex_{key}_{stat}", f"Texture {text} ({stat})"]
        for key, text in kinds
        for stat in ("avg", "ptp")
    ]


#: Scalar features as ``[name, label]`` pairs (one number per event).
FEATURES_SCALAR: list[list[str]] = sorted(
    [
        ["area_cvx", "Convex area [px]"],
        ["area_msd", "Measured area [px]"],
        ["area_ratio", "Porosity (convex to measured area ratio)"],
        ["area_um", "Area [µm²]"],
        ["area_um_raw", "Area [µm²] of raw contour"],
        ["aspect", "Aspect ratio of bounding box"],
        *[[f"basinmap{ii}", f"Basin mapping {ii}"] for ii in range(10)],
        ["bg_med", "Median frame background brightness [a.u.]"],
        ["bg_off", "Background offset [a.u.]"],
        ["bright_avg", "Brightness average [a.u.]"],
        ["bright_bc_avg", "Brightness average (bgc) [a.u.]"],
        ["bright_bc_sd", "Brightness SD (bgc) [a.u.]"],
        ["bright_perc_10", "10th Percentile of brightness (bgc)"],
        ["bright_perc_90", "90th Percentile of brightness (bgc)"],
        ["bright_sd", "Brightness SD [a.u.]"],
        ["circ", "Circularity"],
        ["deform", "Deformation"],
        ["deform_raw", "Deformation of raw contour"],
        ["eccentr_prnc", "Eccentricity of raw contour"],
        ["emodulus", "Young's modulus [kPa]"],
        *_fluorescence_features(),
        ["flow_rate", "Flow rate [µLs⁻¹]"],
        ["frame", "Video frame number"],
        ["g_force", "Gravitational force in multiples of g"],
        ["index", "Index (Dataset)"],
        ["index_online", "Index (Online)"],
        ["inert_ratio_cvx", "Inertia ratio of convex contour"],
        ["inert_ratio_prnc", "Principal inertia ratio of raw contour"],
        ["inert_ratio_raw", "Inertia ratio of raw contour"],
        ["ml_class", "Most probable ML class"],
        ["nevents", "Number of events in the same image"],
        ["pc1", "Principal component 1"],
        ["pc2", "Principal component 2"],
        ["per_ratio", "Inverse Convexity (raw to convex perimeter ratio)"],
        ["per_um_raw", "Perimeter [µm] of raw contour"],
        ["pos_x", "Position along channel axis [µm]"],
        ["pos_y", "Position lateral in channel [µm]"],
        ["pressure", "Pressure [mPa]"],
        ["qpi_dm_avg", "Dry mass (average) [pg]"],
        ["qpi_dm_sd", "Dry mass (SD) [pg]"],
        ["qpi_focus", "Computed focus distance [µm]"],
        ["qpi_pha_int", "Integrated phase [rad]"],
        ["qpi_ri_avg", "Refractive index (average)"],
        ["qpi_ri_sd", "Refractive index (SD)"],
        ["size_x", "Bounding box size x [µm]"],
        ["size_y", "Bounding box size y [µm]"],
        ["sym_x", "Symmetry ratio left-right"],
        ["sym_y", "Symmetry ratio top-bottom"],
        ["temp", "Chip temperature [°C]"],
        ["temp_amb", "Ambient temperature [°C]"],
        *_texture_features(),
        ["tilt", "Absolute tilt of raw contour"],
        ["time", "Time [s]"],
        *[[f"userdef{ii}", f"User-defined {ii}"] for ii in range(10)],
        ["volume", "Volume [µm³]"],
    ],
    key=lambda item: item[0],
)

#: Non-scalar features (images, contours, traces) as ``[name, label]`` pairs.
FEATURES_NON_SCALAR: list[list[str]] = [
    ["contour", "Event contour"],
    ["image", "Gray scale event image"],
    ["image_bg", "Gray scale event background image"],
    ["mask", "Binary mask labeling the event in the image"],
    ["qpi_amp", "Hologram amplitude image"],
    ["qpi_oah", "Off-axis hologram"],
    ["qpi_oah_bg", "Off-axis hologram background"],
    ["qpi_pha", "Hologram phase image [rad]"],
    ["trace", "Dictionary of fluorescence traces"],
]

#: Names of the fluorescence traces held by the ``trace`` feature.
FLUOR_TRACES: tuple[str, ...] = (
    "fl1_raw",
    "fl1_median",
    "fl2_raw",
    "fl2_median",
    "fl3_raw",
    "fl3_median",
)

#: Image-like features stored as (N, H, W) ``uint8`` datasets.
FEATURES_IMAGE_UINT8: tuple[str, ...] = (
    "image",
    "image_bg",
    "mask",
    "qpi_oah",
    "qpi_oah_bg",
)

#: Image-like features stored as (N, H, W) ``float32`` datasets.
FEATURES_IMAGE_FLOAT32: tuple[str, ...] = ("qpi_amp", "qpi_pha")

#: All built-in feature names (scalar first, then non-scalar).
feature_names: list[str] = [n for n, _ in FEATURES_SCALAR + FEATURES_NON_SCALAR]
#: Labels of :data:`feature_names`, in the same order.
feature_labels: list[str] = [lb for _, lb in FEATURES_SCALAR + FEATURES_NON_SCALAR]
#: Mapping from built-in feature name to label.
feature_name2label: dict[str, str] = dict(zip(feature_names, feature_labels))
#: All built-in scalar feature names.
scalar_feature_names: list[str] = [n for n, _ in FEATURES_SCALAR]

_SCALAR_SET = frozenset(scalar_feature_names)
_BUILTIN_SET = frozenset(feature_names)
_ML_SCORE_RE = re.compile(r"ml_score_[a-z0-9]{3}")
_VALID_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_UNIT_RE = re.compile(r"\s*\[[^\]]*\]")

# Features registered at run time: name -> (label, is_scalar).
_DYNAMIC: dict[str, tuple[str, bool]] = {}


def is_ml_score_name(name: Any) -> bool:
    """Return whether `name` has the form ``ml_score_xyz`` with ``[a-z0-9]``.

    Parameters
    ----------
    name
        Candidate feature name.

    Returns
    -------
    bool
    """
    return isinstance(name, str) and _ML_SCORE_RE.fullmatch(name) is not None


def register_feature(name: str, label: str | None = None,
                     is_scalar: bool = True) -> None:
    """Make a run-time feature (plugin, temporary, ...) known by name.

    The feature is stored in a registry separate from the built-in tables;
    :data:`feature_names` and the other constant lists are not modified.

    Parameters
    ----------
    name
        Feature name: a letter followed by letters, digits or underscores.
        ``ml_score_xyz`` names may be registered to give them a custom label.
    label
        Human-readable label, optionally with a unit in square brackets.
        Defaults to the name itself.
    is_scalar
        Whether the feature holds one number per event.

    Raises
    ------
    ValueError
        If `name` is not a valid feature name, is a built-in feature, or is
        already registered.
    """
    if not isinstance(name, str) or _VALID_NAME_RE.fullmatch(name) is None:
        raise ValueError(
            f"Invalid feature name {name!r}: use a letter followed by letters, "
            "digits or underscores")
    if name in _BUILTIN_SET:
        raise ValueError(f"Feature {name!r} is a built-in feature and cannot be "
                         "registered again")
    if name in _DYNAMIC:
        raise ValueError(f"Feature {name!r} is already registered; unregister it "
                         "first")
    if is_ml_score_name(name) and not is_scalar:
        raise ValueError(f"Machine-learning feature {name!r} must be scalar")
    _DYNAMIC[name] = (name if label is None else str(label), bool(is_scalar))


def unregister_feature(name: str) -> None:
    """Remove a feature added with :func:`register_feature`.

    Parameters
    ----------
    name
        Name of the registered feature.

    Raises
    ------
    ValueError
        If `name` is a built-in feature.
    KeyError
        If `name` was not registered.
    """
    if name in _BUILTIN_SET:
        raise ValueError(f"Built-in feature {name!r} cannot be unregistered")
    try:
        del _DYNAMIC[name]
    except KeyError:
        raise KeyError(f"Feature {name!r} is not registered") from None


def registered_features() -> dict[str, tuple[str, bool]]:
    """Return a copy of the run-time registry.

    Returns
    -------
    dict
        Maps each registered name to ``(label, is_scalar)``.
    """
    return dict(_DYNAMIC)


def feature_exists(name: str, scalar_only: bool = False) -> bool:
    """Return whether `name` is a known feature.

    Parameters
    ----------
    name
        Feature name. Built-in names, ``ml_score_xyz`` names and features
        added with :func:`register_feature` are known.
    scalar_only
        If True, only scalar features count.

    Returns
    -------
    bool
    """
    if not isinstance(name, str):
        return False
    if name in _SCALAR_SET or is_ml_score_name(name):
        return True
    if name in _BUILTIN_SET:
        return not scalar_only
    if name in _DYNAMIC:
        return _DYNAMIC[name][1] or not scalar_only
    return False


def scalar_feature_exists(name: str) -> bool:
    """Return whether `name` is a known scalar feature.

    Same as ``feature_exists(name, scalar_only=True)``.
    """
    return feature_exists(name, scalar_only=True)


def get_feature_label(name: str, rtdc_ds: Any = None,
                      with_unit: bool = True) -> str:
    """Return the human-readable label of a feature.

    Parameters
    ----------
    name
        Feature name.
    rtdc_ds
        Reserved for dataset-specific labels; currently not used.
    with_unit
        If False, remove the unit given in square brackets (e.g.
        ``"Area [µm²]"`` becomes ``"Area"``).

    Returns
    -------
    str
        The label. ``ml_score_xyz`` features without a registered label are
        called ``"ML score XYZ"``.

    Raises
    ------
    ValueError
        If `name` is not a known feature.
    """
    del rtdc_ds  # kept for API compatibility
    if name in feature_name2label:
        label = feature_name2label[name]
    elif isinstance(name, str) and name in _DYNAMIC:
        label = _DYNAMIC[name][0]
    elif is_ml_score_name(name):
        label = f"ML score {name[-3:].upper()}"
    else:
        raise ValueError(f"Unknown feature name {name!r}")
    if not with_unit:
        label = " ".join(_UNIT_RE.sub("", label).split())
    return label


def _ndim(data: Any) -> int:
    """Dimensionality of array-likes, ragged contour lists and trace dicts."""
    if isinstance(data, Mapping):
        return 2  # trace-like: several (N, samples) arrays
    if hasattr(data, "ndim"):
        return int(data.ndim)
    if hasattr(data, "shape"):
        return len(data.shape)
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            return 1
        return 1 + _ndim(data[0])
    return np.ndim(data)


def check_feature_shape(name: str, data: Any) -> None:
    """Verify that `data` has the dimensionality of feature `name`.

    Scalar features need one-dimensional data (one value per event);
    non-scalar features need data with more than one dimension (e.g. images
    of shape (N, H, W), lists of contours, or a mapping of traces).

    Parameters
    ----------
    name
        Feature name.
    data
        Array-like feature data.

    Raises
    ------
    ValueError
        If `name` is unknown or the dimensionality of `data` does not match.
    """
    if not feature_exists(name):
        raise ValueError(f"Unknown feature name {name!r}")
    ndim = _ndim(data)
    if scalar_feature_exists(name):
        if ndim != 1:
            raise ValueError(
                f"Scalar feature {name!r} needs 1-D data, got {ndim}-D data")
    elif ndim == 1:
        raise ValueError(
            f"Non-scalar feature {name!r} needs data with more than one "
            "dimension, got 1-D data")
