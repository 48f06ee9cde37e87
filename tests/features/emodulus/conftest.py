"""Fixtures of the Young's-modulus tests.

Every test here runs offline: the registry of data files is redirected to
a loopback port nothing listens on, and the data cache to an empty
temporary folder. Tests that need the real look-up tables request
``lut_cache`` (the reference folder ``../shared/data/emodulus``).
"""
from __future__ import annotations

import copy
import json
import pathlib
import socket
import types

import numpy as np
import pytest

from cytolab.features.emodulus import datafiles, load

#: Folder of the real LUT and isoelasticity files (next to the checkout)
EMOD_DATA = (pathlib.Path(__file__).resolve().parents[3].parent
             / "shared" / "data" / "emodulus")

#: The registry as shipped (before any test redirected it)
ORIGINAL_DATA_FILES = dict(datafiles.DATA_FILES)


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def dead_port() -> int:
    return free_loopback_port()


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory, dead_port):
    """No test may reach the internet, nor use the user's cache folder."""
    dead = {name: (f"http://127.0.0.1:{dead_port}/{name}", sha)
            for name, (_, sha) in ORIGINAL_DATA_FILES.items()}
    monkeypatch.setattr(datafiles, "DATA_FILES", dead)
    monkeypatch.setenv("CYTOLAB_DATA_CACHE",
                       str(tmp_path_factory.mktemp("empty_cache")))
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _clean_external_luts():
    """Restore the registry of user LUTs after each test."""
    saved = dict(load.EXTERNAL_LUTS)
    yield
    load.EXTERNAL_LUTS.clear()
    load.EXTERNAL_LUTS.update(saved)


@pytest.fixture(scope="session")
def emod_data_dir() -> pathlib.Path:
    """The reference folder of LUT files (skips when absent)."""
    if not EMOD_DATA.is_dir() or not any(EMOD_DATA.glob("lut_*.txt")):
        pytest.skip(f"reference LUT folder not found: {EMOD_DATA} (these tests "
                    f"need ../shared/data/emodulus next to the checkout)")
    return EMOD_DATA


@pytest.fixture
def lut_cache(monkeypatch, emod_data_dir) -> pathlib.Path:
    """Point the data cache at the reference folder (internal LUTs load
    from there without network)."""
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(emod_data_dir))
    return emod_data_dir


def write_lut_file(path: pathlib.Path, data: np.ndarray, meta: dict | None,
                   header: str | None = "area_um [um^2]\tdeform\temodulus [kPa]",
                   preamble: str = "# A synthetic look-up table\n#\n") -> pathlib.Path:
    """Write a LUT in the text format (``meta=None``: no metadata block)."""
    lines = [preamble]
    if meta is not None:
        lines.append("# BEGIN METADATA\n")
        lines += [f"# {line}\n" for line in json.dumps(meta, indent=2).splitlines()]
        lines.append("# END METADATA\n#\n")
    if header is not None:
        lines.append(f"# {header}\n")
    lines += [" ".join(f"{v:.17g}" for v in row) + "\n" for row in np.atleast_2d(data)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def linear_emodulus(size: np.ndarray, deform: np.ndarray) -> np.ndarray:
    """The modulus of the synthetic LUTs: linear, so that piecewise-linear
    interpolation reproduces it anywhere inside the hull."""
    return 0.5 + size / 100.0 + 10.0 * deform


def synthetic_lut(size_max: float = 300.0, n: int = 60, seed: int = 42
                  ) -> np.ndarray:
    """Scattered LUT points (corners included) with a linear modulus."""
    rng = np.random.default_rng(seed)
    size = np.concatenate([[10.0, size_max, 10.0, size_max],
                           rng.uniform(10.0, size_max, n)])
    deform = np.concatenate([[0.0, 0.0, 0.2, 0.2], rng.uniform(0.0, 0.2, n)])
    return np.column_stack([size, deform, linear_emodulus(size, deform)])


SYNTH_META = {
    "identifier": "test-synthetic-area",
    "channel_width": 20.0, "channel_width_unit": "um",
    "flow_rate": 0.04, "flow_rate_unit": "uL/s",
    "fluid_viscosity": 15.0, "fluid_viscosity_unit": "mPa s",
    "method": "synthetic", "model": "linear function",
}


@pytest.fixture
def synthetic_lut_file(tmp_path) -> pathlib.Path:
    """A small valid area-based LUT file (identifier 'test-synthetic-area')."""
    return write_lut_file(tmp_path / "lut_synthetic.txt", synthetic_lut(),
                          SYNTH_META)


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    """The helper functions and constants of this module (test modules do
    not import conftest)."""
    return types.SimpleNamespace(
        write_lut=write_lut_file, linear=linear_emodulus, synthetic=synthetic_lut,
        meta=copy.deepcopy(SYNTH_META), original_data_files=ORIGINAL_DATA_FILES,
        free_port=free_loopback_port)
