"""Analysis on top of datasets: summary statistics, isoelasticity lines."""
from . import isoelastics, statistics

__all__ = ["isoelastics", "statistics"]
