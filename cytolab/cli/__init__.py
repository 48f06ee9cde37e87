"""Command line interface: ``cytolab <verb>``.

Each verb is also a Python function of the same name here, returning the
path of what it wrote.
"""
from ._data import data
from ._demo import demo

__all__ = ["data", "demo"]
