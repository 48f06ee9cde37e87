"""Paths of the real reference data in ../shared/data, for tests.

A plain module (not a conftest) so that test modules can import it by name
from any folder: ``from realdata import real_file``.
"""
from __future__ import annotations

import pathlib

import pytest

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
RTDC_DATA = SHARED / "rtdc"


def real_file(real_rtdc_files: dict[str, pathlib.Path], name: str) -> pathlib.Path:
    """Path of one real file by short name (skips when missing)."""
    if name not in real_rtdc_files:
        pytest.skip(f"reference file '{name}' not found in {RTDC_DATA}")
    return real_rtdc_files[name]
