"""Scale conversion of features between channel geometries (linear elasticity).

For a linear elastic sphere in a channel flow, the deformation depends only
on the ratio of the stress scale ``sigma = eta * Q / L**3`` (viscosity
``eta``, flow rate ``Q``, channel width ``L``) to the Young's modulus, and on
the size of the sphere relative to ``L`` (Mietke et al. 2015). A simulation
done for one channel therefore serves all others after rescaling:

* ``deform`` and ``circ`` are dimensionless and do not change,
* ``area_um`` scales with ``(L_out / L_in)**2``,
* ``volume`` scales with ``(L_out / L_in)**3``,
* ``emodulus`` scales with ``sigma_out / sigma_in``.

Every function returns a new array unless ``inplace=True``, in which case
the input array (which must be a floating-point :class:`numpy.ndarray`) is
overwritten and returned.

References
----------
.. [1] A. Mietke, O. Otto, S. Girardo, P. Rosendahl, A. Taubenberger,
   S. Golfier, E. Ulbricht, S. Aland, J. Guck, E. Fischer-Friedrich,
   "Extracting Cell Stiffness from Real-Time Deformability Cytometry:
   Theory and Experiment", Biophys. J. 109, 2023 (2015).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = [
    "convert",
    "scale_area_um",
    "scale_emodulus",
    "scale_feature",
    "scale_volume",
]

FloatOrArray = float | np.ndarray

_UNCHANGED = ("deform", "circ")


def _positive(name: str, value: Any) -> None:
    if not np.all(np.asarray(value, dtype=float) > 0):  # also rejects NaN
        raise ValueError(f"{name} must be positive, got {value!r}")


def _apply(data: FloatOrArray, factor: FloatOrArray, inplace: bool) -> FloatOrArray:
    """Multiply `data` by `factor`, in place or into a new array."""
    if inplace:
        if not (isinstance(data, np.ndarray)
                and np.issubdtype(data.dtype, np.floating)):
            raise TypeError(
                "inplace=True needs a floating-point numpy array, got "
                f"{type(data).__name__}"
                + (f" of dtype {data.dtype}" if isinstance(data, np.ndarray) else ""))
        data *= factor
        return data
    out = np.asarray(data, dtype=float) * factor
    return float(out) if np.ndim(out) == 0 else out


def scale_area_um(area_um: FloatOrArray,
                  channel_width_in: float,
                  channel_width_out: float,
                  inplace: bool = False,
                  **kwargs: Any) -> FloatOrArray:
    """Scale areas from one channel width to another.

    ``area_out = area_in * (channel_width_out / channel_width_in)**2``

    Parameters
    ----------
    area_um
        Area(s) [µm²].
    channel_width_in
        Channel width the data belong to [µm].
    channel_width_out
        Channel width to scale to [µm].
    inplace
        If True, overwrite and return `area_um` (a floating-point array).
    **kwargs
        Ignored (so that one set of keyword arguments serves all features).

    Returns
    -------
    float or numpy.ndarray
        Scaled area(s) [µm²].

    Examples
    --------
    >>> scale_area_um(100.0, 20.0, 40.0)
    400.0
    """
    _positive("channel_width_in", channel_width_in)
    _positive("channel_width_out", channel_width_out)
    factor = (channel_width_out / channel_width_in) ** 2
    return _apply(area_um, factor, inplace)


def scale_volume(volume: FloatOrArray,
                 channel_width_in: float,
                 channel_width_out: float,
                 inplace: bool = False,
                 **kwargs: Any) -> FloatOrArray:
    """Scale volumes from one channel width to another.

    ``volume_out = volume_in * (channel_width_out / channel_width_in)**3``

    Parameters
    ----------
    volume
        Volume(s) [µm³].
    channel_width_in
        Channel width the data belong to [µm].
    channel_width_out
        Channel width to scale to [µm].
    inplace
        If True, overwrite and return `volume` (a floating-point array).
    **kwargs
        Ignored (so that one set of keyword arguments serves all features).

    Returns
    -------
    float or numpy.ndarray
        Scaled volume(s) [µm³].

    Examples
    --------
    >>> scale_volume(100.0, 20.0, 40.0)
    800.0
    """
    _positive("channel_width_in", channel_width_in)
    _positive("channel_width_out", channel_width_out)
    factor = (channel_width_out / channel_width_in) ** 3
    return _apply(volume, factor, inplace)


def scale_emodulus(emodulus: FloatOrArray,
                   channel_width_in: float,
                   channel_width_out: float,
                   flow_rate_in: float,
                   flow_rate_out: float,
                   viscosity_in: float,
                   viscosity_out: FloatOrArray,
                   inplace: bool = False) -> FloatOrArray:
    """Scale Young's moduli to another channel width, flow rate and viscosity.

    The modulus scales with the stress ``sigma = viscosity * flow_rate /
    channel_width**3``: ``emodulus_out = emodulus_in * sigma_out / sigma_in``.

    Parameters
    ----------
    emodulus
        Young's modulus (moduli) [kPa].
    channel_width_in, channel_width_out
        Original and target channel width [µm].
    flow_rate_in, flow_rate_out
        Original and target flow rate [µL/s].
    viscosity_in
        Original viscosity [mPa·s].
    viscosity_out
        Target viscosity [mPa·s]; may be an array (e.g. one value per event,
        from per-event temperatures). A NaN viscosity gives a NaN modulus.
    inplace
        If True, overwrite and return `emodulus` (a floating-point array).

    Returns
    -------
    float or numpy.ndarray
        Scaled Young's modulus (moduli) [kPa].

    Examples
    --------
    >>> scale_emodulus(1.0, 20.0, 20.0, 0.04, 0.16, 15.0, 5.0)
    1.3333333333333333
    """
    _positive("channel_width_in", channel_width_in)
    _positive("channel_width_out", channel_width_out)
    _positive("flow_rate_in", flow_rate_in)
    _positive("flow_rate_out", flow_rate_out)
    _positive("viscosity_in", viscosity_in)
    visc_out = np.asarray(viscosity_out, dtype=float)
    if np.any(visc_out <= 0):  # NaN (unknown viscosity) is allowed
        raise ValueError(f"viscosity_out must be positive, got {viscosity_out!r}")
    factor = ((flow_rate_out / flow_rate_in)
              * (visc_out / viscosity_in)
              * (channel_width_in / channel_width_out) ** 3)
    if factor.ndim == 0:
        factor = float(factor)
    return _apply(emodulus, factor, inplace)


_EMODULUS_KW = ("channel_width_in", "channel_width_out", "flow_rate_in",
                "flow_rate_out", "viscosity_in", "viscosity_out")


def scale_feature(feat: str,
                  data: FloatOrArray,
                  inplace: bool = False,
                  **scale_kw: Any) -> FloatOrArray:
    """Scale any supported feature to another channel geometry.

    Dispatches to :func:`scale_area_um`, :func:`scale_volume` and
    :func:`scale_emodulus`; ``deform`` and ``circ`` do not change.

    Parameters
    ----------
    feat
        Feature name: ``"area_um"``, ``"volume"``, ``"emodulus"``,
        ``"deform"`` or ``"circ"``.
    data
        Feature data.
    inplace
        If True, overwrite and return `data` (a floating-point array);
        otherwise a new array (a copy for ``deform`` and ``circ``).
    **scale_kw
        Keyword arguments of the scale functions (``channel_width_in``,
        ``channel_width_out`` and, for ``emodulus``, ``flow_rate_in``,
        ``flow_rate_out``, ``viscosity_in``, ``viscosity_out``). Arguments
        that a feature does not need are ignored.

    Returns
    -------
    float or numpy.ndarray
        Scaled data.

    Raises
    ------
    ValueError
        If `feat` cannot be scaled.

    Examples
    --------
    >>> kw = {"channel_width_in": 20.0, "channel_width_out": 30.0}
    >>> scale_feature("area_um", 40.0, **kw), scale_feature("deform", 0.1, **kw)
    (90.0, 0.1)
    """
    if feat in _UNCHANGED:
        if inplace:
            return data
        out = np.array(data, copy=True)
        return float(out) if out.ndim == 0 else out
    if feat == "area_um":
        return scale_area_um(data, inplace=inplace, **scale_kw)
    if feat == "volume":
        return scale_volume(data, inplace=inplace, **scale_kw)
    if feat == "emodulus":
        missing = [key for key in _EMODULUS_KW if key not in scale_kw]
        if missing:
            raise TypeError(f"Scaling 'emodulus' needs the keyword argument(s) "
                            f"{', '.join(missing)}.")
        kw = {key: scale_kw[key] for key in _EMODULUS_KW}
        return scale_emodulus(data, inplace=inplace, **kw)
    raise ValueError(
        f"Feature {feat!r} cannot be scale-converted; supported features are "
        f"area_um, volume, emodulus, deform and circ.")


def convert(area_um: np.ndarray,
            deform: np.ndarray,
            channel_width_in: float,
            channel_width_out: float,
            emodulus: np.ndarray | None = None,
            flow_rate_in: float | None = None,
            flow_rate_out: float | None = None,
            viscosity_in: float | None = None,
            viscosity_out: FloatOrArray | None = None,
            inplace: bool = False) -> tuple[np.ndarray, ...]:
    """Scale an area-deformation(-modulus) triplet (deprecated).

    .. deprecated::
        Use :func:`scale_feature` for each feature instead.

    Parameters
    ----------
    area_um
        Area [µm²].
    deform
        Deformation (not changed by the scaling).
    channel_width_in, channel_width_out
        Original and target channel width [µm].
    emodulus
        Young's modulus [kPa]; if given, `flow_rate_in`, `flow_rate_out`,
        `viscosity_in` and `viscosity_out` are needed as well.
    flow_rate_in, flow_rate_out
        Original and target flow rate [µL/s].
    viscosity_in
        Original viscosity [mPa·s].
    viscosity_out
        Target viscosity [mPa·s]; may be an array.
    inplace
        If True, overwrite the input arrays.

    Returns
    -------
    area_um_corr : numpy.ndarray
        Scaled area.
    deform_corr : numpy.ndarray
        The deformation (a copy unless `inplace`).
    emodulus_corr : numpy.ndarray
        Scaled modulus; only returned when `emodulus` is given.

    Warns
    -----
    DeprecationWarning
        Always.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     area, deform = convert(10.0, 0.1, 20.0, 40.0)
    >>> area, deform
    (40.0, 0.1)
    """
    warnings.warn("convert() is deprecated; use scale_feature() for each "
                  "feature instead.", DeprecationWarning, stacklevel=2)
    kw = {"channel_width_in": channel_width_in,
          "channel_width_out": channel_width_out}
    extra = {"flow_rate_in": flow_rate_in, "flow_rate_out": flow_rate_out,
             "viscosity_in": viscosity_in, "viscosity_out": viscosity_out}
    missing = [key for key, value in extra.items() if value is None]
    if emodulus is not None and missing:
        # checked before anything is scaled, so inplace data stay untouched
        raise ValueError(f"Scaling emodulus needs {', '.join(missing)} "
                         f"(got None).")
    area_corr = scale_feature("area_um", area_um, inplace=inplace, **kw)
    deform_corr = scale_feature("deform", deform, inplace=inplace, **kw)
    if emodulus is None:
        return area_corr, deform_corr
    emod_corr = scale_feature("emodulus", emodulus, inplace=inplace, **kw, **extra)
    return area_corr, deform_corr, emod_corr
