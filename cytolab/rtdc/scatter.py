"""Density and downsampling helpers of a dataset, for scatter and contour plots.

The methods of :class:`ScatterMixin` (part of every dataset) work on the
filtered events (``ds.filter.all``). With ``xscale="log"`` or
``yscale="log"`` the estimates are made on the base-10 logarithm of the
feature, so densities and contours look right on logarithmic axes; events
whose value is not positive then count as invalid.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import definitions as dfn
from ..analysis import downsampling, kde_methods

#: Axis scales understood by the helpers.
SCALES = ("linear", "log")
#: Grid nodes per axis of :meth:`ScatterMixin.get_kde_contour` at most, with
#: automatic spacing (finer automatic spacings are widened to fit).
AUTO_CONTOUR_NODES = 1000
#: Grid nodes per axis at most when the accuracy is given.
MAX_CONTOUR_NODES = 5000


class ScatterMixin:
    """KDE and downsampling methods of :class:`~cytolab.rtdc.RTDCBase`."""

    def get_downsampled_scatter(self, xax: str = "area_um", yax: str = "deform",
                                downsample: int = 0, xscale: str = "linear",
                                yscale: str = "linear", remove_invalid: bool = False,
                                ret_mask: bool = False) -> tuple[np.ndarray, ...]:
        """Filtered events of two features, downsampled by content.

        Parameters
        ----------
        xax, yax
            Scalar features of the x and y axis.
        downsample
            0: all filtered events; otherwise exactly this many (or all, if
            there are fewer), chosen by
            :func:`~cytolab.analysis.downsampling.downsample_grid` on the
            scaled values: the outline and the density of the plot survive.
        xscale, yscale
            ``"linear"`` or ``"log"`` (downsampling then works on the
            logarithm, as the plot shows it).
        remove_invalid
            Drop events with NaN or inf (after scaling) first; fewer than
            `downsample` events may remain.
        ret_mask
            Also return a boolean array of ``len(ds)`` marking the events
            returned.

        Returns
        -------
        xnew, ynew : np.ndarray
            Feature values (not scaled) of the events, in event order.
        mask : np.ndarray
            Only with `ret_mask`.

        Examples
        --------
        >>> import cytolab, numpy as np
        >>> rng = np.random.default_rng(1)
        >>> ds = cytolab.new_dataset({"area_um": rng.lognormal(3, .3, 5000),
        ...                           "deform": rng.lognormal(-4, .4, 5000)})
        >>> x, y, mask = ds.get_downsampled_scatter(downsample=300, ret_mask=True)
        >>> x.size, bool(np.array_equal(ds["area_um"][mask], x))
        (300, True)
        """
        if int(downsample) != downsample or downsample < 0:
            raise ValueError(f"downsample must be a non-negative integer, got "
                             f"{downsample!r}")
        x, y, selected = self._filtered_pair(xax, yax)
        xs = apply_scale(x, xscale, xax)
        ys = apply_scale(y, yscale, yax)
        if downsample == 0:
            keep = (downsampling.valid(xs, ys) if remove_invalid
                    else np.ones(x.size, dtype=bool))
        else:
            _, _, keep = downsampling.downsample_grid(
                xs, ys, int(downsample), remove_invalid=remove_invalid,
                ret_idx=True)
        if not ret_mask:
            return x[keep], y[keep]
        mask = np.zeros(len(self), dtype=bool)
        mask[selected[keep]] = True
        return x[keep], y[keep], mask

    def get_kde_contour(self, xax: str = "area_um", yax: str = "deform",
                        xacc: float | None = None, yacc: float | None = None,
                        kde_type: str = "histogram",
                        kde_kwargs: dict[str, Any] | None = None,
                        xscale: str = "linear", yscale: str = "linear"
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Density of the filtered events on a grid, for contour plots.

        The grid spans the valid events (its last node reaches or passes
        the largest value) with spacing `xacc` x `yacc` in scaled units
        (log10 units on a log axis). Without an accuracy (or with 0), the
        spacing is ``bin_width_percentile`` of the events, widened to at
        most 1000 nodes per axis; an axis without spread gets a small grid
        around its value.

        Parameters
        ----------
        xax, yax
            Scalar features.
        xacc, yacc
            Grid spacing (scaled units) or None/0 for automatic.
        kde_type
            ``"histogram"``, ``"gauss"``, ``"multivariate"`` or ``"none"``.
        kde_kwargs
            Keyword arguments of the estimator; ``"multivariate"`` gets
            ``bw`` = the automatic spacings unless given.
        xscale, yscale
            ``"linear"`` or ``"log"``.

        Returns
        -------
        X, Y, Z : np.ndarray
            Grid coordinates in feature units (``meshgrid`` with ``ij``
            indexing) and the density there (in scaled units).

        Examples
        --------
        >>> import cytolab, numpy as np
        >>> rng = np.random.default_rng(1)
        >>> ds = cytolab.new_dataset({"area_um": rng.lognormal(3, .3, 5000),
        ...                           "deform": rng.lognormal(-4, .4, 5000)})
        >>> X, Y, Z = ds.get_kde_contour(xscale="log", yscale="log")
        >>> X.shape == Z.shape, bool(np.isclose(X[0, 0], ds["area_um"].min()))
        (True, True)
        """
        x, y, _ = self._filtered_pair(xax, yax)
        xs = apply_scale(x, xscale, xax)
        ys = apply_scale(y, yscale, yax)
        good = downsampling.valid(xs, ys)
        if not good.any():
            raise ValueError(f"No valid events of '{xax}' and '{yax}' "
                             f"(scales {xscale}/{yscale}) in {self}")
        xaxis = _contour_axis(xs[good], xacc, "xacc", xax)
        yaxis = _contour_axis(ys[good], yacc, "yacc", yax)
        gx, gy = np.meshgrid(xaxis, yaxis, indexing="ij")
        kwargs = _kde_kwargs(kde_type, kde_kwargs, xs[good], ys[good])
        density = kde_methods.get_method(kde_type)(xs, ys, xout=gx, yout=gy,
                                                   **kwargs)
        return _unscale(gx, xscale), _unscale(gy, yscale), density

    def get_kde_scatter(self, xax: str = "area_um", yax: str = "deform",
                        positions: Any = None, kde_type: str = "histogram",
                        kde_kwargs: dict[str, Any] | None = None,
                        xscale: str = "linear", yscale: str = "linear"
                        ) -> np.ndarray:
        """Density of the filtered events at positions, for scatter plots.

        Parameters
        ----------
        xax, yax
            Scalar features.
        positions
            Two 1-D arrays (or a (2, N) array) of feature values (not
            scaled) where the density is wanted; default: the filtered
            events.
        kde_type
            ``"histogram"``, ``"gauss"``, ``"multivariate"`` or ``"none"``.
        kde_kwargs
            Keyword arguments of the estimator; ``"multivariate"`` gets
            ``bw`` = the percentile spacings of the scaled events unless
            given.
        xscale, yscale
            ``"linear"`` or ``"log"``: the estimate is made on the scaled
            values.

        Returns
        -------
        np.ndarray
            Density at the positions (NaN where a position is invalid).

        Examples
        --------
        >>> import cytolab, numpy as np
        >>> ds = cytolab.new_dataset({"area_um": [20., 21, 22, 50],
        ...                           "deform": [.01, .011, .012, .05]})
        >>> kde = ds.get_kde_scatter(kde_type="gauss")
        >>> bool(kde[1] > kde[3])
        True
        """
        x, y, _ = self._filtered_pair(xax, yax)
        xs = apply_scale(x, xscale, xax)
        ys = apply_scale(y, yscale, yax)
        if positions is None:
            px, py = xs, ys
        else:
            if len(positions) != 2:
                raise ValueError("positions must be two arrays (x and y)")
            px = apply_scale(np.asarray(positions[0], dtype=float), xscale, xax)
            py = apply_scale(np.asarray(positions[1], dtype=float), yscale, yax)
        good = downsampling.valid(xs, ys)
        kwargs = _kde_kwargs(kde_type, kde_kwargs, xs[good], ys[good])
        density = kde_methods.get_method(kde_type)(xs, ys, xout=px, yout=py,
                                                   **kwargs)
        return np.asarray(density).ravel()

    @staticmethod
    def get_kde_spacing(a: Any, scale: str = "linear",
                        method: Callable[[np.ndarray], float]
                        = kde_methods.bin_width_doane,
                        method_kw: dict[str, Any] | None = None,
                        feat: str = "undefined", ret_scaled: bool = False
                        ) -> float | tuple[float, np.ndarray]:
        """Grid spacing for the values `a` of feature `feat`.

        Parameters
        ----------
        a
            Feature values.
        scale
            ``"linear"`` or ``"log"`` (spacing in log10 units).
        method
            Spacing rule applied to the finite scaled values, e.g.
            :func:`~cytolab.analysis.kde_methods.bin_width_doane` or
            :func:`~cytolab.analysis.kde_methods.bin_width_percentile`.
        method_kw
            Keyword arguments of `method`.
        feat
            Feature name (for error messages).
        ret_scaled
            Also return the scaled values.

        Returns
        -------
        float or (float, np.ndarray)
            The spacing (and the scaled values).

        Examples
        --------
        >>> from cytolab.rtdc import RTDCBase
        >>> from cytolab.analysis.kde_methods import bin_width_percentile
        >>> RTDCBase.get_kde_spacing([1, 10, 100, 1000], scale="log",
        ...                          method=bin_width_percentile)
        0.10434782608695654
        """
        scaled = apply_scale(np.asarray(a, dtype=float), scale, feat)
        spacing = method(scaled[np.isfinite(scaled)], **(method_kw or {}))
        if ret_scaled:
            return spacing, scaled
        return spacing

    def _filtered_pair(self, xax: str, yax: str
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Filtered values of two scalar features and the event indices."""
        for feat in (xax, yax):
            if not dfn.scalar_feature_exists(feat):
                raise ValueError(f"'{feat}' is not a scalar feature (dataset "
                                 f"{self})")
        keep = self.filter.all  # type: ignore[attr-defined]
        selected = np.flatnonzero(keep)
        x = np.asarray(self[xax], dtype=float)  # type: ignore[index]
        y = np.asarray(self[yax], dtype=float)  # type: ignore[index]
        if selected.size != x.size:
            x, y = x[keep], y[keep]
        return x, y, selected


def apply_scale(values: Any, scale: str, feat: str = "undefined") -> np.ndarray:
    """`values` on an axis scale: as they are, or log10 (not positive -> NaN).

    Examples
    --------
    >>> apply_scale(np.array([100.0, -1.0]), "log").tolist()
    [2.0, nan]
    """
    values = np.asarray(values, dtype=float)
    if scale == "linear":
        return values
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(values)
        out[~(values > 0)] = np.nan
        return out
    raise ValueError(f"Unknown scale '{scale}' for '{feat}'; use one of "
                     f"{SCALES}")


def _unscale(values: np.ndarray, scale: str) -> np.ndarray:
    return 10 ** values if scale == "log" else values


def _auto_spacing(a: np.ndarray) -> float:
    """Percentile spacing, with fallbacks for data without spread."""
    for rule in (kde_methods.bin_width_percentile, kde_methods.bin_width_doane,
                 lambda values: np.ptp(values) / 20):
        spacing = rule(a)
        if np.isfinite(spacing) and spacing > 0:
            return float(spacing)
    scale = float(np.abs(a).max())
    return 0.01 * scale if scale > 0 else 1.0


def _contour_axis(a: np.ndarray, acc: float | None, name: str, feat: str
                  ) -> np.ndarray:
    """Grid nodes from min(a) with spacing acc, reaching max(a)."""
    lo, hi = float(a.min()), float(a.max())
    if acc is None or acc == 0:
        acc = _auto_spacing(a)
        if hi > lo and (hi - lo) / acc >= AUTO_CONTOUR_NODES:
            acc = (hi - lo) / (AUTO_CONTOUR_NODES - 1)
    elif not (np.isfinite(acc) and acc > 0):
        raise ValueError(f"{name} must be positive, got {acc} (feature '{feat}')")
    if hi <= lo:  # no spread: a small grid around the value
        return lo + acc * np.arange(-5, 6)
    steps = max(1, math.ceil((hi - lo) / acc - 1e-9))
    if lo + acc * steps < hi:
        steps += 1
    if steps + 1 > MAX_CONTOUR_NODES:
        raise ValueError(f"{name}={acc} gives {steps + 1} grid nodes for '{feat}' "
                         f"(at most {MAX_CONTOUR_NODES}); use a larger spacing")
    return lo + acc * np.arange(steps + 1)


def _kde_kwargs(kde_type: str, kde_kwargs: dict[str, Any] | None,
                xs: np.ndarray, ys: np.ndarray) -> dict[str, Any]:
    kwargs = dict(kde_kwargs or {})
    if kde_type == "multivariate" and kwargs.get("bw") is None and xs.size:
        bw = (kde_methods.bin_width_percentile(xs),
              kde_methods.bin_width_percentile(ys))
        if all(np.isfinite(b) and b > 0 for b in bw):
            kwargs["bw"] = bw
    return kwargs
