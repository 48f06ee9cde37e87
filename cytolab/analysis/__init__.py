"""Analysis on top of datasets: summary statistics."""
from . import statistics

__all__ = ["statistics"]
