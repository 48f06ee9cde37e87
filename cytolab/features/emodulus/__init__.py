"""Young's modulus of cells from their deformation and size.

Simulations of elastic objects flowing through the channel give, for a
known channel width, flow rate and medium viscosity, the Young's modulus
as a function of (area_um or volume, deform): the look-up table (LUT).
:func:`get_emodulus` maps measured events into the frame of the LUT
(pixelation correction of deform, channel-width scaling of the size),
interpolates linearly on the LUT's Delaunay triangulation and scales the
modulus back to the measurement's channel width, flow rate and viscosity.

Submodules: :mod:`.load` (LUT files and registry), :mod:`.viscosity`
(medium viscosity models), :mod:`.pxcorr` (pixelation correction),
:mod:`.scale_linear` (scaling between channel sizes and conditions),
:mod:`.triangulation` (the interpolation), :mod:`.datafiles` (fetching).
"""
from __future__ import annotations

import hashlib
import numbers
import warnings
from typing import Any

import numpy as np

from ...errors import (
    KnowWhatYouAreDoingWarning,
    YoungsModulusLookupTableExceededWarning,
)
from .load import (  # noqa: F401
    EXTERNAL_LUTS,
    get_internal_lut_names_dict,
    get_lut_feature,
    get_lut_path,
    load_lut,
    load_mtext,
    register_lut,
)
from .pxcorr import get_pixelation_delta
from .scale_linear import scale_emodulus, scale_feature
from .triangulation import TriangleInterpolator
from .viscosity import get_viscosity

__all__ = ["EXTERNAL_LUTS", "INACCURATE_SPLINE_EXTRAPOLATION", "extrapolate_emodulus",
           "get_emodulus", "get_internal_lut_names_dict", "get_lut_feature",
           "get_lut_path",
           "load_lut", "load_mtext", "normalize", "register_lut"]

#: Fill events outside the LUT by spline extrapolation in every call of
#: :func:`get_emodulus` (inaccurate; prefer ``extrapolate=True`` per call)
INACCURATE_SPLINE_EXTRAPOLATION = False

#: Interpolators of the LUTs used so far (key: content hash of the LUT)
_INTERPOLATORS: dict[str, tuple[TriangleInterpolator, np.ndarray]] = {}


def normalize(data: np.ndarray, dmax: float) -> np.ndarray:
    """Divide `data` by `dmax` in place and return it."""
    data /= dmax
    return data


def _interpolator(lut: np.ndarray) -> tuple[TriangleInterpolator, np.ndarray]:
    """The (cached) interpolator of a LUT on its max-normalised axes."""
    key = hashlib.sha1(np.ascontiguousarray(lut).tobytes()).hexdigest()
    if key not in _INTERPOLATORS:
        norms = lut[:, :2].max(axis=0)
        _INTERPOLATORS[key] = (TriangleInterpolator(lut[:, :2] / norms, lut[:, 2]),
                               norms)
        while len(_INTERPOLATORS) > 8:
            _INTERPOLATORS.pop(next(iter(_INTERPOLATORS)))
    return _INTERPOLATORS[key]


def get_emodulus(deform: np.ndarray | float,
                 area_um: np.ndarray | float | None = None,
                 volume: np.ndarray | float | None = None,
                 medium: str | float | np.ndarray = "0.49% MC-PBS",
                 channel_width: float = 20.0, flow_rate: float = 0.16,
                 px_um: float = 0.34, temperature: float | np.ndarray | None = 23.0,
                 lut_data: Any = "LE-2D-FEM-19",
                 visc_model: str | None = "herold-2017-fallback",
                 extrapolate: bool = False, copy: bool = True
                 ) -> np.ndarray | float:
    """Young's modulus [kPa] of events from a look-up table.

    Parameters
    ----------
    deform
        Deformation of the events (pixelation-corrected here unless
        ``px_um`` is 0).
    area_um, volume
        Size of the events [µm² or µm³]; give the one the LUT is based on.
    medium
        Medium name (see :mod:`.viscosity`) whose viscosity is computed from
        `temperature` with `visc_model`, or the viscosity itself [mPa·s]
        (a number or one value per event; then `temperature` and
        `visc_model` must be None).
    channel_width
        Channel width [µm].
    flow_rate
        Flow rate [µL/s].
    px_um
        Pixel size [µm] for the pixelation correction; 0 disables it.
    temperature
        Temperature [°C], one value or one per event.
    lut_data
        LUT identifier, path, or ``(lut, meta)`` tuple (:func:`load_lut`).
    visc_model
        Viscosity model (see :func:`.viscosity.get_viscosity`).
    extrapolate
        Fill events outside the LUT by spline extrapolation (inaccurate;
        warns with :class:`~cytolab.errors.KnowWhatYouAreDoingWarning`).
    copy
        If False, `deform` and the size array may be overwritten.

    Returns
    -------
    numpy.ndarray or float
        Young's modulus [kPa] (a float for scalar inputs); NaN outside the LUT (with a
        :class:`~cytolab.errors.YoungsModulusLookupTableExceededWarning`)
        and where an input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> lut = np.array([[20., 0.00, 1.], [200., 0.00, 1.], [20., 0.2, 3.],
    ...                 [200., 0.2, 3.]])
    >>> meta = {"column features": ["area_um", "deform", "emodulus"],
    ...         "channel_width": 20.0, "flow_rate": 0.04, "fluid_viscosity": 15.0}
    >>> get_emodulus(deform=np.array([0.1]), area_um=np.array([100.0]),
    ...              medium=15.0, channel_width=20.0, flow_rate=0.04, px_um=0,
    ...              temperature=None, visc_model=None, lut_data=(lut, meta))
    array([2.])
    """
    if area_um is not None and volume is not None:
        raise ValueError("Give either area_um or volume, not both")
    if area_um is None and volume is None:
        raise ValueError("Give area_um or volume (the size the LUT is based on)")
    lut, meta = load_lut(lut_data)
    lut_name = meta.get("identifier") or (
        "the given LUT" if isinstance(lut_data, tuple) else str(lut_data))
    feature = meta["column features"][0]
    given = "area_um" if area_um is not None else "volume"
    if given != feature:
        raise ValueError(f"The LUT '{lut_name}' is based "
                         f"on {feature}, but {given} was given")
    for name, value in (("channel_width", channel_width), ("flow_rate", flow_rate)):
        if not np.all(np.asarray(value, dtype=float) > 0):
            raise ValueError(f"{name} must be positive, got {value}")

    scalar = np.ndim(deform) == 0
    deform = _float_array(deform, copy)
    size = _float_array(area_um if area_um is not None else volume, copy)
    if deform.shape != size.shape:
        raise ValueError(f"deform {deform.shape} and {given} {size.shape} "
                         f"must have the same shape")

    # viscosity of the measurement
    if isinstance(medium, str):
        viscosity = get_viscosity(medium=medium, channel_width=channel_width,
                                  flow_rate=flow_rate, temperature=temperature,
                                  model=visc_model)
    elif isinstance(medium, (numbers.Real, np.ndarray)):
        if temperature is not None or visc_model is not None:
            raise ValueError("With the viscosity given as a number (medium="
                             f"{medium}), temperature and visc_model must be None")
        viscosity = np.asarray(medium, dtype=float)
        if np.any(viscosity <= 0):
            raise ValueError(f"The viscosity must be positive, got {medium}")
    else:
        raise TypeError(f"medium must be a medium name or a viscosity, got {medium!r}")

    if px_um:
        deform -= get_pixelation_delta("deform", feature, size, px_um=px_um)
    # into the frame of the LUT, normalised as the LUT is
    scale_feature(feature, size, inplace=True, channel_width_in=channel_width,
                  channel_width_out=meta["channel_width"])
    interp, norms = _interpolator(lut)
    normalize(size, norms[0])
    normalize(deform, norms[1])
    emod = interp(size, deform)

    outside = np.isnan(emod) & np.isfinite(size) & np.isfinite(deform)
    if np.any(outside):
        if extrapolate or INACCURATE_SPLINE_EXTRAPOLATION:
            lut_norm = np.column_stack([lut[:, :2] / norms, lut[:, 2]])
            extrapolate_emodulus(lut_norm, size, deform, emod, deform_norm=norms[1])
        else:
            warnings.warn(f"{int(np.sum(outside))} of {emod.size} events lie "
                          f"outside the look-up table "
                          f"'{lut_name}'; their Young's "
                          f"modulus is NaN", YoungsModulusLookupTableExceededWarning,
                          stacklevel=2)
    # back to the conditions of the measurement
    emod = scale_emodulus(emod, channel_width_in=meta["channel_width"],
                          channel_width_out=channel_width,
                          flow_rate_in=meta["flow_rate"], flow_rate_out=flow_rate,
                          viscosity_in=meta["fluid_viscosity"],
                          viscosity_out=viscosity, inplace=True)
    return float(emod) if scalar and np.ndim(emod) == 0 else emod


def _float_array(data: Any, copy: bool) -> np.ndarray:
    """`data` as a float64 array we may write to (a copy unless allowed and
    possible to work in place)."""
    arr = np.array(data, dtype=float) if copy else np.asarray(data, dtype=float)
    return arr if arr.flags.writeable else arr.copy()


def extrapolate_emodulus(lut: np.ndarray, datax: np.ndarray, deform: np.ndarray,
                         emod: np.ndarray, deform_norm: float,
                         deform_thresh: float = 0.05, inplace: bool = True
                         ) -> np.ndarray:
    """Fill NaN moduli of events outside the LUT by spline extrapolation.

    A smoothing bivariate spline (piecewise linear, on a domain that holds
    the LUT points and the events) is fitted to the LUT points with deform
    above `deform_thresh` (where the LUT is well resolved) and evaluated at
    the events whose `emod` is NaN but whose inputs are finite.

    Parameters
    ----------
    lut
        LUT ``(N, 3)`` on the same normalised axes as `datax` and `deform`.
    datax, deform
        Normalised size and deformation of the events.
    emod
        Interpolated moduli (NaN outside the LUT).
    deform_norm
        The factor deform was normalised with (to normalise `deform_thresh`).
    deform_thresh
        Only LUT points with a deformation above this are fitted.
    inplace
        Fill `emod` itself (else a copy).

    Returns
    -------
    numpy.ndarray
        The moduli with extrapolated values.
    """
    from scipy.interpolate import SmoothBivariateSpline

    warnings.warn("Young's moduli outside the look-up table are extrapolated "
                  "with a spline; these values are not accurate",
                  KnowWhatYouAreDoingWarning, stacklevel=2)
    out = emod if inplace else emod.copy()
    fill = np.isnan(out) & np.isfinite(datax) & np.isfinite(deform)
    if not np.any(fill):
        return out
    sel = lut[:, 1] > deform_thresh / deform_norm
    # the spline's domain must hold the events: FITPACK clamps outside it
    xs = np.concatenate([lut[sel, 0], datax[fill]])
    ys = np.concatenate([lut[sel, 1], deform[fill]])
    bbox = [xs.min(), xs.max(), ys.min(), ys.max()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITPACK chatter about the fit quality
        spline = SmoothBivariateSpline(lut[sel, 0], lut[sel, 1], lut[sel, 2],
                                       bbox=bbox, kx=1, ky=1)
    out[fill] = spline.ev(datax[fill], deform[fill])
    return out
