"""Plots with matplotlib (optional: ``pip install "cytolab[plot]"``).

Every function returns the matplotlib :class:`~matplotlib.figure.Figure`
and draws into given axes (``ax=``) or a given figure (``fig=``, for the
multi-panel plots) instead of a new figure. matplotlib is imported on the
first call, not with :mod:`cytolab`.

- :func:`scatter`: two features coloured by density, with excluded events,
  isoelasticity lines, percentile contours and polygon filters;
- :func:`event`: image with contour and mask (µm scale) of one event;
- :func:`traces`: fluorescence traces of one event;
- :func:`overview`: all of that in one figure;
- :func:`fluorescence_image`: a fluorescence image on a µm scale;
- :func:`bleach_correction`: intensity trace, bleaching fit and corrected
  trace of a fluorescence series.
"""
from .event import event
from .fluor import bleach_correction, fluorescence_image
from .overview import overview
from .scatter import IsoelasticsUnavailableWarning, scatter
from .traces import traces

__all__ = ["IsoelasticsUnavailableWarning", "bleach_correction", "event",
           "fluorescence_image", "overview", "scatter", "traces"]
