"""Plot tests: a non-interactive backend and no figures left open."""
from __future__ import annotations

import sys

import pytest

try:  # before pyplot is imported anywhere in these tests
    import matplotlib
except ImportError:  # the tests skip themselves (importorskip)
    pass
else:
    matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
