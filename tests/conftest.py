"""Shared fixtures: the real reference data in ../shared/data (if present)."""
from __future__ import annotations

import pathlib
import zipfile

import pytest
from realdata import RTDC_DATA, SHARED


def _require_rtdc_data() -> pathlib.Path:
    if not RTDC_DATA.is_dir():
        pytest.skip(f"reference data folder not found: {RTDC_DATA} "
                    f"(conformance tests need ../shared/data next to the checkout)")
    return RTDC_DATA


@pytest.fixture(scope="session")
def rtdc_data_dir() -> pathlib.Path:
    """Folder with the real measurement files (skips when absent)."""
    return _require_rtdc_data()


@pytest.fixture(scope="session")
def real_rtdc_files(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Every real .rtdc measurement: plain files and the content of the zips.

    Returns a dict of short name (archive or file stem) to the .rtdc path.
    """
    src = _require_rtdc_data()
    out: dict[str, pathlib.Path] = {}
    unpack = tmp_path_factory.mktemp("real_rtdc")
    for arc in sorted(src.glob("fmt-hdf5_*.zip")):
        dest = unpack / arc.stem
        with zipfile.ZipFile(arc) as zf:
            zf.extractall(dest)
        for path in sorted(dest.rglob("*.rtdc")):
            out[arc.stem] = path
    for path in sorted(src.glob("*.rtdc")):
        out[path.stem] = path
    return out


@pytest.fixture
def emodulus_data(monkeypatch) -> pathlib.Path:
    """Point the data cache at ../shared/data/emodulus (skips when absent)."""
    folder = SHARED / "emodulus"
    if not folder.is_dir():
        pytest.skip(f"LUT data folder not found: {folder} (Young's modulus "
                    f"tests need ../shared/data next to the checkout)")
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def real_tdms_dirs(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Every real legacy TDMS measurement, unpacked (skips when absent).

    Returns a dict of archive stem (e.g. ``"fmt-tdms_fl-image_2016"``) to the
    folder holding the unpacked files. Tests must not modify these folders
    (copy them first).
    """
    src = _require_rtdc_data()
    archives = sorted(src.glob("fmt-tdms_*.zip"))
    if not archives:
        pytest.skip(f"no fmt-tdms_*.zip archives in {src}")
    unpack = tmp_path_factory.mktemp("real_tdms")
    out: dict[str, pathlib.Path] = {}
    for arc in archives:
        dest = unpack / arc.stem
        with zipfile.ZipFile(arc) as zf:
            zf.extractall(dest)
        out[arc.stem] = dest
    return out
