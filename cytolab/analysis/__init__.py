"""Analysis of events: density estimates, downsampling, contours, statistics,
isoelasticity lines.

These modules work on arrays (and duck-typed datasets) and import nothing of
:mod:`cytolab.rtdc`, so the dataset API can build on them
(``ds.get_kde_scatter``, the ``limit events`` filter).
"""
from . import downsampling, isoelastics, kde_contours, kde_methods, statistics

__all__ = ["downsampling", "isoelastics", "kde_contours", "kde_methods",
           "statistics"]
