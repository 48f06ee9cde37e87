"""Pixelation correction of the deformation.

Contours in RT-DC images lie on a pixel grid. Sampling a smooth outline on
that grid makes it look rougher, so the measured deformation is larger than
the true one (and the circularity smaller). Herold (2017) quantified the
error from simulated contours as a function of event size; the error
``delta`` returned here is what must be *subtracted* from the measured
feature::

    deform_corrected = deform - delta

The size is given either as the apparent area ``area_um`` or as the
``volume``, rescaled to the 0.34 µm pixel grid of the simulations. A pixel
size of 0 switches the correction off (``delta = 0``).

References
----------
.. [1] C. Herold, "Mapping of deformation to apparent Young's modulus in
   real-time deformability cytometry", arXiv:1704.00572 (2017).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "corr_deform_with_area_um",
    "corr_deform_with_volume",
    "get_pixelation_delta",
    "get_pixelation_delta_pair",
]

FloatOrArray = float | np.ndarray

# pixel size [µm] of the simulated contours the correction was derived from
_PX_REF = 0.34

# (offset, (amplitude, decay length) * 3) of delta = offs + sum a exp(-x / s)
_COEFF_AREA = (0.0012, ((0.020, 7.1), (0.010, 38.6), (0.005, 296.0)))
_COEFF_VOLUME = (0.0013, ((0.0172, 40.0), (0.0070, 450.0), (0.0032, 6040.0)))

# features that get corrected / features that carry the event size
_CORRECTED = ("deform", "circ")
_SIZE = ("area_um", "volume")


def _output(value: np.ndarray) -> FloatOrArray:
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


def _check_px_um(px_um: float) -> float:
    value = float(px_um)
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"px_um must be >= 0 (0 disables the correction), "
                         f"got {px_um!r}")
    return value


def _delta(size: FloatOrArray, px_um: float, power: int,
           coeff: tuple[float, tuple[tuple[float, float], ...]]) -> FloatOrArray:
    px_um = _check_px_um(px_um)
    size = np.asarray(size, dtype=float)
    if px_um == 0:
        return _output(np.zeros_like(size))
    x = size * (_PX_REF / px_um) ** power
    offs, terms = coeff
    delta = np.full_like(x, offs)
    for amp, decay in terms:
        delta += amp * np.exp(-x / decay)
    return _output(delta)


def corr_deform_with_area_um(area_um: FloatOrArray,
                             px_um: float = 0.34) -> FloatOrArray:
    """Pixelation error of the deformation, from the apparent area.

    ``delta = 0.0012 + 0.020 exp(-x / 7.1) + 0.010 exp(-x / 38.6)
    + 0.005 exp(-x / 296)`` with ``x = area_um * (0.34 / px_um)**2``
    (Herold 2017). Derived for apparent areas between 10 µm² and 1250 µm².

    Parameters
    ----------
    area_um
        Apparent (2D image) area(s) of the event(s) [µm²].
    px_um
        Detector pixel size [µm]; 0 disables the correction.

    Returns
    -------
    float or numpy.ndarray
        Error ``delta`` to subtract from the deformation:
        ``deform_corr = deform - delta``.

    Examples
    --------
    >>> round(corr_deform_with_area_um(100.0), 5)
    0.00552
    >>> corr_deform_with_area_um(100.0, px_um=0)
    0.0
    """
    return _delta(area_um, px_um, 2, _COEFF_AREA)


def corr_deform_with_volume(volume: FloatOrArray,
                            px_um: float = 0.34) -> FloatOrArray:
    """Pixelation error of the deformation, from the volume.

    ``delta = 0.0013 + 0.0172 exp(-x / 40) + 0.0070 exp(-x / 450)
    + 0.0032 exp(-x / 6040)`` with ``x = volume * (0.34 / px_um)**3``.

    Parameters
    ----------
    volume
        The ``volume`` feature (contour revolved about its axis) [µm³].
    px_um
        Detector pixel size [µm]; 0 disables the correction.

    Returns
    -------
    float or numpy.ndarray
        Error ``delta`` to subtract from the deformation:
        ``deform_corr = deform - delta``.

    Examples
    --------
    >>> round(corr_deform_with_volume(1000.0), 5)
    0.00477
    """
    return _delta(volume, px_um, 3, _COEFF_VOLUME)


def get_pixelation_delta(feats_corr: str,
                         feat_absc: str,
                         data_absc: FloatOrArray,
                         px_um: float = 0.34) -> FloatOrArray:
    """Pixelation error of a feature, from an event-size feature.

    Parameters
    ----------
    feats_corr
        Feature to be corrected: ``"deform"`` or ``"circ"``. For the size
        features ``"area_um"`` and ``"volume"`` no correction exists and the
        returned error is zero.
    feat_absc
        Size feature the error is computed from: ``"area_um"`` or
        ``"volume"``.
    data_absc
        Values of `feat_absc`.
    px_um
        Detector pixel size [µm]; 0 disables the correction.

    Returns
    -------
    float or numpy.ndarray
        Error to subtract from `feats_corr` (``corrected = data - delta``).
        Since ``circ = 1 - deform``, the error of ``circ`` is the negative of
        that of ``deform``.

    Raises
    ------
    ValueError
        If `feats_corr` or `feat_absc` is not supported.

    Examples
    --------
    >>> d = get_pixelation_delta("deform", "area_um", 100.0)
    >>> get_pixelation_delta("circ", "area_um", 100.0) == -d
    True
    """
    if feat_absc not in _SIZE:
        raise ValueError(
            f"Pixelation correction cannot be computed from feature "
            f"{feat_absc!r} (feat_absc); use one of {', '.join(_SIZE)}.")
    _check_px_um(px_um)
    if feats_corr in _SIZE:
        return _output(np.zeros_like(np.asarray(data_absc, dtype=float)))
    if feats_corr not in _CORRECTED:
        raise ValueError(
            f"No pixelation correction is defined for feature {feats_corr!r} "
            f"(feats_corr); supported: {', '.join(_CORRECTED + _SIZE)}.")
    if feat_absc == "area_um":
        delta = corr_deform_with_area_um(data_absc, px_um=px_um)
    else:
        delta = corr_deform_with_volume(data_absc, px_um=px_um)
    return -delta if feats_corr == "circ" else delta


def get_pixelation_delta_pair(
        feats1: str,
        feats2: str,
        data1: FloatOrArray,
        data2: FloatOrArray,
        px_um: float = 0.34) -> tuple[FloatOrArray, FloatOrArray]:
    """Pixelation errors of a pair of features (e.g. the axes of a plot).

    One feature of the pair must be a shape feature (``"deform"`` or
    ``"circ"``), the other a size feature (``"area_um"`` or ``"volume"``).
    The shape feature is corrected using the size feature; the size feature
    is not corrected (its error is zero).

    Parameters
    ----------
    feats1, feats2
        Names of the two features.
    data1, data2
        Their values.
    px_um
        Detector pixel size [µm]; 0 disables the correction.

    Returns
    -------
    delta1, delta2 : float or numpy.ndarray
        Errors to subtract from `data1` and `data2`, each shaped like the
        data of the size feature.

    Raises
    ------
    ValueError
        If the pair is not one shape and one size feature.

    Examples
    --------
    >>> d1, d2 = get_pixelation_delta_pair("area_um", "deform", 100.0, 0.05)
    >>> d1, round(d2, 5)
    (0.0, 0.00552)
    """
    if feats1 in _CORRECTED and feats2 in _SIZE:
        delta1 = get_pixelation_delta(feats1, feats2, data2, px_um=px_um)
        delta2 = get_pixelation_delta(feats2, feats2, data2, px_um=px_um)
    elif feats1 in _SIZE and feats2 in _CORRECTED:
        delta1 = get_pixelation_delta(feats1, feats1, data1, px_um=px_um)
        delta2 = get_pixelation_delta(feats2, feats1, data1, px_um=px_um)
    else:
        raise ValueError(
            f"Pixelation correction is not defined for the feature pair "
            f"({feats1!r}, {feats2!r}); one feature must be one of "
            f"{', '.join(_CORRECTED)} and the other one of {', '.join(_SIZE)}.")
    return delta1, delta2
