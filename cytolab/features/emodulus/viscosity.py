"""Viscosity of the media used in RT-DC measurements.

Methyl-cellulose solutions in PBS (MC-PBS) are shear-thinning: at the shear
rates found in an RT-DC channel their viscosity follows a power law
``eta = K * shear_rate**(n - 1)``, so it depends on channel width and flow
rate as well as on temperature. Two published models are implemented for
MC-PBS (``"buyukurganci-2022"``, recommended, and the older
``"herold-2017"``); water is Newtonian and uses the ``"kestin-1978"``
correlation.

All viscosities are in mPa·s, channel widths in µm, flow rates in µL/s and
temperatures in °C. Temperatures may be arrays (one value per event); a NaN
temperature gives a NaN viscosity.

References
----------
.. [1] C. Herold, "Mapping of deformation to apparent Young's modulus in
   real-time deformability cytometry", arXiv:1704.00572 (2017).
.. [2] B. Büyükurgancı, S. K. Basu, M. Neuner, J. Guck, A. Wierschem,
   F. Reichel, "Shear rheology of methyl cellulose based solutions for cell
   mechanical measurements at high shear rates", Soft Matter (2023),
   doi:10.1039/D2SM01515C.
.. [3] F. Reichel, B. Büyükurgancı, "Effective viscosity of methyl cellulose
   solutions in phosphate buffered saline in real-time deformability
   cytometry", arXiv:2302.01664 (2023).
.. [4] J. Kestin, M. Sokolov, W. A. Wakeham, "Viscosity of liquid water in
   the range -8 °C to 150 °C", J. Phys. Chem. Ref. Data 7, 941 (1978).
"""
from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from cytolab.errors import TemperatureOutOfRangeWarning, ViscosityModelFallbackWarning

__all__ = [
    "ALIAS_MEDIA",
    "KNOWN_MEDIA",
    "KNOWN_MODELS",
    "SAME_MEDIA",
    "canonical_medium",
    "check_temperature",
    "get_viscosity",
    "get_viscosity_mc_pbs_buyukurganci_2022",
    "get_viscosity_mc_pbs_herold_2017",
    "get_viscosity_water_kestin_1978",
    "shear_rate_square_channel",
]

#: Canonical medium name -> the names under which it is also known.
SAME_MEDIA: dict[str, list[str]] = {
    "0.49% MC-PBS": ["0.49% MC-PBS", "0.5% MC-PBS", "0.50% MC-PBS", "CellCarrier"],
    "0.59% MC-PBS": ["0.59% MC-PBS", "0.6% MC-PBS", "0.60% MC-PBS",
                     "CellCarrier B", "CellCarrierB"],
    "0.83% MC-PBS": ["0.83% MC-PBS", "0.8% MC-PBS", "0.80% MC-PBS"],
    "water": ["water"],
}

#: Any accepted medium name (as written and in lower case) -> canonical name.
ALIAS_MEDIA: dict[str, str] = {
    name: canonical
    for canonical, names in SAME_MEDIA.items()
    for spelled in names
    for name in (spelled, spelled.lower())
}

#: Every accepted spelling of a medium whose viscosity can be computed
#: (sorted; canonical names are the keys of :data:`SAME_MEDIA`).
KNOWN_MEDIA: list[str] = sorted(ALIAS_MEDIA)

#: Names of the viscosity models accepted by :func:`get_viscosity`.
KNOWN_MODELS: tuple[str, ...] = (
    "herold-2017", "herold-2017-fallback", "buyukurganci-2022", "kestin-1978")

# case-insensitive lookup table (ALIAS_MEDIA keeps the documented spellings)
_MEDIUM_LOOKUP = {name.lower(): canonical for name, canonical in ALIAS_MEDIA.items()}

_MC_PBS = ("0.49% MC-PBS", "0.59% MC-PBS", "0.83% MC-PBS")

# Validity ranges [°C] of the models (outside, a warning is issued).
_RANGE_BUYUKURGANCI = (22.0, 37.0)
_RANGE_HEROLD = (18.0, 26.0)
# Kestin et al. give their more accurate correlation for 0-40 °C.
_RANGE_KESTIN = (0.0, 40.0)

# buyukurganci-2022: material constants of MC in PBS and per-medium A, beta
_BUY_ALPHA = 0.00223  # 1/K
_BUY_LAMBDA = 3379.7  # K
_BUY_PARAMS = {  # medium: (A [Pa·s^n], beta)
    "0.49% MC-PBS": (2.30e-6, -0.0056),
    "0.59% MC-PBS": (5.70e-6, -0.0744),
    "0.83% MC-PBS": (16.52e-6, -0.1455),
}

# herold-2017: medium: (K [Pa·s^n], n, T0 [°C])
_HEROLD_PARAMS = {
    "0.49% MC-PBS": (0.179, 0.677, 23.2),
    "0.59% MC-PBS": (0.360, 0.634, 23.6),
}

FloatOrArray = float | np.ndarray


def canonical_medium(medium: str) -> str:
    """Return the canonical name of an RT-DC medium.

    Parameters
    ----------
    medium
        Medium name or one of its aliases (see :data:`ALIAS_MEDIA`); case and
        surrounding white space do not matter.

    Returns
    -------
    str
        One of :data:`KNOWN_MEDIA`.

    Raises
    ------
    TypeError
        If `medium` is not a string.
    ValueError
        If the medium is unknown (e.g. ``"other"``): its viscosity cannot be
        computed and must be given by the user.

    Examples
    --------
    >>> canonical_medium("CellCarrier B")
    '0.59% MC-PBS'
    >>> canonical_medium("0.5% mc-pbs")
    '0.49% MC-PBS'
    """
    if not isinstance(medium, str):
        raise TypeError(f"medium must be a string, got {medium!r} "
                        f"({type(medium).__name__})")
    try:
        return _MEDIUM_LOOKUP[medium.strip().lower()]
    except KeyError:
        pass
    if medium.strip().lower() == "other":
        raise ValueError(
            f"The viscosity of medium {medium!r} is not known; give the "
            f"viscosity of the medium explicitly (in mPa·s). Media with a "
            f"known viscosity: {', '.join(SAME_MEDIA)}.")
    raise ValueError(
        f"Unknown medium {medium!r}; known media are {', '.join(SAME_MEDIA)} "
        f"(aliases: {', '.join(sorted(ALIAS_MEDIA))}). For any other medium, "
        f"give the viscosity explicitly (in mPa·s).")


def check_temperature(model: str,
                      temperature: float | np.ndarray,
                      tmin: float,
                      tmax: float) -> None:
    """Warn if temperatures lie outside the validity range of a model.

    Parameters
    ----------
    model
        Name of the viscosity model (used in the message only).
    temperature
        Temperature(s) [°C]; NaN values are ignored.
    tmin, tmax
        Range [°C] in which the model is valid (inclusive).

    Warns
    -----
    TemperatureOutOfRangeWarning
        If any temperature lies outside ``[tmin, tmax]``. The message states
        the minimum and maximum of the given temperatures.

    Examples
    --------
    >>> check_temperature("buyukurganci-2022", [23.0, 30.5], 22, 37)  # silent
    """
    temp = np.asarray(temperature, dtype=float)
    finite = temp[~np.isnan(temp)]
    if finite.size == 0:
        return
    tlo = float(finite.min())
    thi = float(finite.max())
    if tlo < tmin or thi > tmax:
        warnings.warn(
            f"The viscosity model {model!r} is valid for temperatures between "
            f"{tmin:g} °C and {tmax:g} °C, but the given temperatures range "
            f"from {tlo:g} °C (min) to {thi:g} °C (max).",
            TemperatureOutOfRangeWarning, stacklevel=3)


def _check_geometry(channel_width: FloatOrArray, flow_rate: FloatOrArray) -> None:
    for name, value, unit in (("channel_width", channel_width, "µm"),
                              ("flow_rate", flow_rate, "µL/s")):
        arr = np.asarray(value, dtype=float)
        if not np.all(arr > 0):  # also rejects NaN
            raise ValueError(f"{name} must be positive (in {unit}), got {value!r}")


def _output(value: np.ndarray) -> FloatOrArray:
    """A 0-d result becomes a Python float, anything else stays an array."""
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


def _mc_pbs_medium(medium: str, allowed: tuple[str, ...], model: str) -> str:
    name = canonical_medium(medium)
    if name not in allowed:
        raise ValueError(
            f"The viscosity model {model!r} is not defined for the medium "
            f"{medium!r} ({name}); it supports {', '.join(allowed)}.")
    return name


def shear_rate_square_channel(flow_rate: FloatOrArray,
                              channel_width: FloatOrArray,
                              flow_index: FloatOrArray) -> FloatOrArray:
    """Wall shear rate of a power-law liquid in a channel of square section.

    ``shear_rate = 8 Q / L**3 * (0.6671 + 0.2121 / n)`` with the flow rate
    ``Q``, the channel width ``L`` and the flow behaviour index ``n``
    (Herold 2017).

    Parameters
    ----------
    flow_rate
        Flow rate [µL/s].
    channel_width
        Channel width [µm].
    flow_index
        Flow behaviour index ``n`` (exponent of the power law; 1 for a
        Newtonian liquid).

    Returns
    -------
    float or numpy.ndarray
        Wall shear rate [1/s].

    Examples
    --------
    >>> round(shear_rate_square_channel(0.16, 20.0, 1.0))
    140672
    """
    flow_rate = np.asarray(flow_rate, dtype=float)
    width_mm = np.asarray(channel_width, dtype=float) * 1e-3  # µL = mm³
    n = np.asarray(flow_index, dtype=float)
    return _output(8 * flow_rate / width_mm**3 * (0.6671 + 0.2121 / n))


def get_viscosity_mc_pbs_buyukurganci_2022(
        medium: Literal["0.49% MC-PBS", "0.59% MC-PBS", "0.83% MC-PBS"]
        = "0.49% MC-PBS",
        channel_width: float = 20.0,
        flow_rate: float = 0.16,
        temperature: float | np.ndarray = 23.0) -> FloatOrArray:
    """Viscosity of MC-PBS according to Büyükurgancı et al. (2022/2023).

    The power-law parameters depend on the absolute temperature ``T``:
    ``n = alpha T + beta`` and ``K = A exp(lambda / T)``, with material
    constants ``alpha``, ``lambda`` common to all concentrations and ``A``,
    ``beta`` per medium. The viscosity is evaluated at the wall shear rate
    (:func:`shear_rate_square_channel`). Valid for 22 °C to 37 °C.

    Parameters
    ----------
    medium
        ``"0.49% MC-PBS"``, ``"0.59% MC-PBS"`` or ``"0.83% MC-PBS"`` (or an
        alias, see :data:`ALIAS_MEDIA`).
    channel_width
        Channel width [µm].
    flow_rate
        Flow rate [µL/s].
    temperature
        Temperature(s) [°C].

    Returns
    -------
    float or numpy.ndarray
        Viscosity [mPa·s]; an array if `temperature` is one.

    Warns
    -----
    TemperatureOutOfRangeWarning
        If a temperature lies outside 22 °C to 37 °C.

    Examples
    --------
    >>> round(get_viscosity_mc_pbs_buyukurganci_2022("0.59% MC-PBS", 20, 0.16, 24), 3)
    3.529
    """
    name = _mc_pbs_medium(medium, _MC_PBS, "buyukurganci-2022")
    _check_geometry(channel_width, flow_rate)
    temp = np.asarray(temperature, dtype=float)
    check_temperature("buyukurganci-2022", temp, *_RANGE_BUYUKURGANCI)
    amp, beta = _BUY_PARAMS[name]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_kelvin = temp + 273.15
        n = _BUY_ALPHA * t_kelvin + beta
        k = amp * np.exp(_BUY_LAMBDA / t_kelvin)
        rate = shear_rate_square_channel(flow_rate, channel_width, n)
        eta = k * np.asarray(rate) ** (n - 1)
    return _output(eta * 1e3)


def get_viscosity_mc_pbs_herold_2017(
        medium: Literal["0.49% MC-PBS", "0.59% MC-PBS"] = "0.49% MC-PBS",
        channel_width: float = 20.0,
        flow_rate: float = 0.16,
        temperature: float | np.ndarray = 23.0) -> FloatOrArray:
    """Viscosity of MC-PBS according to Herold (2017).

    Power law with fixed parameters per medium and a temperature dependence
    ``(T / T0)**-0.866`` (temperatures in °C) from falling-ball measurements.
    The geometric factors of equation 5.2 in Herold (2017) amount to the
    factor 8 of :func:`shear_rate_square_channel`. Valid for 18 °C to 26 °C
    and defined for 0.49 % and 0.59 % MC-PBS only.

    Parameters
    ----------
    medium
        ``"0.49% MC-PBS"`` or ``"0.59% MC-PBS"`` (or an alias).
    channel_width
        Channel width [µm].
    flow_rate
        Flow rate [µL/s].
    temperature
        Temperature(s) [°C].

    Returns
    -------
    float or numpy.ndarray
        Viscosity [mPa·s]; an array if `temperature` is one.

    Warns
    -----
    TemperatureOutOfRangeWarning
        If a temperature lies outside 18 °C to 26 °C.

    Examples
    --------
    >>> round(get_viscosity_mc_pbs_herold_2017("0.49% MC-PBS", 20, 0.16, 23), 3)
    3.772
    """
    name = _mc_pbs_medium(medium, tuple(_HEROLD_PARAMS), "herold-2017")
    _check_geometry(channel_width, flow_rate)
    temp = np.asarray(temperature, dtype=float)
    check_temperature("herold-2017", temp, *_RANGE_HEROLD)
    k, n, t0 = _HEROLD_PARAMS[name]
    flow_m3 = np.asarray(flow_rate, dtype=float) * 1e-9  # µL/s -> m³/s
    width_m = np.asarray(channel_width, dtype=float) * 1e-6
    shear = 1.1856 * 6 * (2 / 3) * flow_m3 / width_m**3
    factor = 0.6771 / 0.5928 + 0.2121 / (0.5928 * n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        eta = k * (shear * factor) ** (n - 1) * (temp / t0) ** -0.866
    return _output(eta * 1e3)


def get_viscosity_water_kestin_1978(
        temperature: float | np.ndarray = 23.0) -> FloatOrArray:
    """Viscosity of water according to Kestin et al. (1978).

    ``log10(eta / eta20) = (20 - T) / (T + 96) * (1.2364 - 1.37e-3 (20 - T)
    + 5.7e-6 (20 - T)**2)`` with ``eta20 = 1.002 mPa·s`` and ``T`` in °C.
    Valid for 0 °C to 40 °C. Water is Newtonian: the viscosity does not
    depend on channel width or flow rate.

    Parameters
    ----------
    temperature
        Temperature(s) [°C].

    Returns
    -------
    float or numpy.ndarray
        Viscosity [mPa·s]; an array if `temperature` is one.

    Warns
    -----
    TemperatureOutOfRangeWarning
        If a temperature lies outside 0 °C to 40 °C.

    Examples
    --------
    >>> get_viscosity_water_kestin_1978(20.0)
    1.002
    """
    temp = np.asarray(temperature, dtype=float)
    check_temperature("kestin-1978", temp, *_RANGE_KESTIN)
    dt = 20 - temp
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exponent = dt / (temp + 96) * (1.2364 - 1.37e-3 * dt + 5.7e-6 * dt**2)
        eta = 1.002 * 10**exponent
    return _output(eta)


def get_viscosity(
        medium: str = "0.49% MC-PBS",
        channel_width: float = 20.0,
        flow_rate: float = 0.16,
        temperature: float | np.ndarray = 23.0,
        model: Literal["herold-2017", "herold-2017-fallback",
                       "buyukurganci-2022", "kestin-1978"]
        = "herold-2017-fallback") -> FloatOrArray:
    """Viscosity of an RT-DC medium in a channel.

    MC-PBS media are shear-thinning, so their viscosity depends on channel
    width, flow rate and temperature; the viscosity of water depends on the
    temperature only.

    Parameters
    ----------
    medium
        One of :data:`KNOWN_MEDIA` or an alias (:data:`ALIAS_MEDIA`; case
        does not matter).
    channel_width
        Channel width [µm].
    flow_rate
        Flow rate [µL/s].
    temperature
        Temperature(s) [°C]; may be an array (e.g. one per event).
    model
        Viscosity model for MC-PBS media: ``"buyukurganci-2022"``
        (recommended) or ``"herold-2017"``. ``"herold-2017-fallback"`` (the
        default) computes ``"herold-2017"`` and warns that no model was
        chosen. For water the model is ignored: ``"kestin-1978"`` is always
        used (and is only valid for water).

    Returns
    -------
    float or numpy.ndarray
        Viscosity [mPa·s]; an array if `temperature` is one.

    Raises
    ------
    ValueError
        For an unknown medium or model, for a model that is not defined for
        the medium (e.g. herold-2017 with 0.83 % MC-PBS), and for a channel
        width or flow rate that is not positive.

    Warns
    -----
    TemperatureOutOfRangeWarning
        If a temperature lies outside the validity range of the model.
    ViscosityModelFallbackWarning
        If `model` is ``"herold-2017-fallback"``.

    Notes
    -----
    Young's moduli computed with different viscosity models must never be
    compared with each other.

    Examples
    --------
    >>> round(get_viscosity("CellCarrier", 20.0, 0.16, 23.0,
    ...                     model="buyukurganci-2022"), 3)
    3.334
    >>> get_viscosity("water", temperature=[20.0, 20.0]).tolist()
    [1.002, 1.002]
    """
    name = canonical_medium(medium)
    if name == "water":
        _check_geometry(channel_width, flow_rate)
        return get_viscosity_water_kestin_1978(temperature)
    if model not in KNOWN_MODELS:
        raise ValueError(f"Unknown viscosity model {model!r}; choose one of "
                         f"{', '.join(KNOWN_MODELS)}.")
    if model == "buyukurganci-2022":
        return get_viscosity_mc_pbs_buyukurganci_2022(
            name, channel_width, flow_rate, temperature)
    if model == "kestin-1978":
        raise ValueError(f"The viscosity model 'kestin-1978' is only defined for "
                         f"water, not for {medium!r}; use 'buyukurganci-2022'.")
    if model == "herold-2017-fallback":
        warnings.warn(
            "No viscosity model was chosen, so 'herold-2017' is used. Choose "
            "the model explicitly; 'buyukurganci-2022' is recommended (never "
            "compare moduli computed with different viscosity models).",
            ViscosityModelFallbackWarning, stacklevel=2)
    return get_viscosity_mc_pbs_herold_2017(name, channel_width, flow_rate,
                                            temperature)
