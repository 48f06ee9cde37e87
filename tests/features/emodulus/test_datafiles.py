"""Registry, cache and download of the Young's-modulus data files.

The only network used is an HTTP server started here on 127.0.0.1.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import threading

import pytest

from cytolab.errors import CytolabError
from cytolab.features.emodulus import datafiles
from cytolab.features.emodulus.datafiles import (
    DataFileUnavailableError,
    cache_dir,
    fetch,
    fetch_all,
)


def sha256_of(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str]

    def log_message(self, *args):  # no chatter on stderr
        pass

    def do_GET(self):  # noqa: N802 (name given by the base class)
        self.server.requests_seen.append(self.path)
        super().do_GET()


@pytest.fixture
def http_server(tmp_path):
    """Start a server on 127.0.0.1 serving a fresh folder; yield
    (folder, base_url, server)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests_seen = []
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _point_registry_at(monkeypatch, base_url: str, original: dict) -> None:
    monkeypatch.setattr(datafiles, "DATA_FILES", {
        name: (f"{base_url}/{name}", sha) for name, (_, sha) in original.items()})


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> pathlib.Path:
    folder = tmp_path / "cache"  # not created: fetch must create it
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(folder))
    return folder


# ------------------------------------------------------------------ registry
def test_registry_matches_reference_files(emod_data_dir, helpers):
    registry = helpers.original_data_files
    files = sorted(p.name for p in emod_data_dir.iterdir()
                   if p.name.startswith(("lut_", "iso_")))
    assert sorted(registry) == files
    for name in files:
        assert sha256_of(emod_data_dir / name) == registry[name][1], name


def test_registry_urls_are_pinned(helpers):
    commit = "0e7aede1f93ebd8bed8fc8a705c818fa377edfff"
    assert datafiles.SOURCE_COMMIT == commit
    for name, (url, sha) in helpers.original_data_files.items():
        assert url.startswith(
            f"https://raw.githubusercontent.com/DC-analysis/dclab/{commit}/dclab/")
        folder = "features/emodulus" if name.startswith("lut_") else "isoelastics"
        assert url.endswith(f"/{folder}/{name}")
        assert len(sha) == 64 and int(sha, 16) >= 0


def test_error_class():
    assert issubclass(DataFileUnavailableError, CytolabError)
    assert issubclass(DataFileUnavailableError, FileNotFoundError)


# ----------------------------------------------------------------- cache_dir
def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", "~/some/where")
    assert cache_dir() == pathlib.Path("~/some/where").expanduser()


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("CYTOLAB_DATA_CACHE")
    path = cache_dir()
    assert path.is_absolute()
    assert "cytolab" in path.parts[-1].lower() or "cytolab" in str(path).lower()


# ------------------------------------------------------------- cached files
def test_fetch_cached_without_network(lut_cache, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("fetch tried to download a cached file")
    import pooch
    monkeypatch.setattr(pooch, "retrieve", no_download)
    for name in datafiles.DATA_FILES:
        path = fetch(name)
        assert path == lut_cache / name
        assert path.is_file()


def test_fetch_cached_wrong_content(empty_cache, emod_data_dir, monkeypatch):
    import pooch
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: pytest.fail("download"))
    empty_cache.mkdir()
    name = "lut_HE-3D-FEM-22.txt"
    content = (emod_data_dir / name).read_bytes()
    (empty_cache / name).write_bytes(content.replace(b"1", b"2", 1))
    with pytest.raises(DataFileUnavailableError, match="SHA-256"):
        fetch(name)
    # the bad file is left for the user to inspect/delete
    assert (empty_cache / name).is_file()


def test_cached_file_is_hashed_once_until_it_changes(empty_cache, emod_data_dir,
                                                    monkeypatch):
    empty_cache.mkdir()
    name = "lut_HE-3D-FEM-22.txt"
    content = (emod_data_dir / name).read_bytes()
    (empty_cache / name).write_bytes(content)
    calls = []
    real = datafiles._sha256
    monkeypatch.setattr(datafiles, "_sha256", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(datafiles, "_VERIFIED", set())
    for _ in range(3):
        fetch(name)
    assert len(calls) == 1
    # a file changed after its check is checked again (and rejected)
    (empty_cache / name).write_bytes(content.replace(b"1", b"2", 1) + b"\n")
    with pytest.raises(DataFileUnavailableError, match="SHA-256"):
        fetch(name)
    assert len(calls) == 2


def test_fetch_unknown_name():
    with pytest.raises(KeyError, match="lut_LE-2D-FEM-19.txt"):
        fetch("lut_nope.txt")


# ---------------------------------------------------------------- downloads
def test_fetch_downloads_through_loopback(http_server, empty_cache, emod_data_dir,
                                          monkeypatch, helpers):
    root, base, server = http_server
    for path in emod_data_dir.iterdir():
        shutil.copy(path, root / path.name)
    _point_registry_at(monkeypatch, base, helpers.original_data_files)
    name = "lut_LE-2D-FEM-19.txt"
    path = fetch(name)
    assert path == empty_cache / name
    assert sha256_of(path) == helpers.original_data_files[name][1]
    assert server.requests_seen == [f"/{name}"]
    # second call: served from the cache, no request
    assert fetch(name) == path
    assert server.requests_seen == [f"/{name}"]
    assert sorted(os.listdir(empty_cache)) == [name]  # no temporary leftovers


def test_fetch_all_through_loopback(http_server, empty_cache, emod_data_dir,
                                    monkeypatch, helpers):
    root, base, server = http_server
    for path in emod_data_dir.iterdir():
        shutil.copy(path, root / path.name)
    _point_registry_at(monkeypatch, base, helpers.original_data_files)
    paths = fetch_all()
    names = sorted(helpers.original_data_files)
    assert [p.name for p in paths] == names
    assert sorted(os.listdir(empty_cache)) == names
    for path in paths:
        assert sha256_of(path) == helpers.original_data_files[path.name][1]
    assert sorted(server.requests_seen) == [f"/{n}" for n in names]
    # a subset
    subset = ["lut_HE-3D-FEM-22.txt"]
    assert [p.name for p in fetch_all(subset)] == subset


def test_fetch_corrupted_download(http_server, empty_cache, emod_data_dir,
                                  monkeypatch, helpers):
    root, base, server = http_server
    name = "lut_HE-3D-FEM-22.txt"
    content = (emod_data_dir / name).read_bytes()
    (root / name).write_bytes(content[:-100])  # truncated
    _point_registry_at(monkeypatch, base, helpers.original_data_files)
    with pytest.raises(DataFileUnavailableError) as info:
        fetch(name)
    assert server.requests_seen == [f"/{name}"]
    assert not (empty_cache / name).exists()
    assert not empty_cache.exists() or os.listdir(empty_cache) == []
    message = str(info.value)
    assert "cytolab data fetch" in message
    assert "CYTOLAB_DATA_CACHE" in message


def test_fetch_http_404(http_server, empty_cache, monkeypatch, helpers):
    _, base, server = http_server  # serves an empty folder
    _point_registry_at(monkeypatch, base, helpers.original_data_files)
    with pytest.raises(DataFileUnavailableError, match="cytolab data fetch"):
        fetch("lut_LE-2D-FEM-19.txt")
    assert not (empty_cache / "lut_LE-2D-FEM-19.txt").exists()


def test_fetch_server_down(empty_cache, monkeypatch, helpers):
    port = helpers.free_port()  # nothing listens there
    _point_registry_at(monkeypatch, f"http://127.0.0.1:{port}",
                       helpers.original_data_files)
    name = "lut_LE-2D-FEM-19.txt"
    with pytest.raises(DataFileUnavailableError) as info:
        fetch(name)
    message = str(info.value)
    assert "cytolab data fetch" in message
    assert "CYTOLAB_DATA_CACHE" in message
    assert name in message
    assert str(empty_cache) in message
    assert not (empty_cache / name).exists()
    # also an instance of FileNotFoundError, for generic handlers
    with pytest.raises(FileNotFoundError):
        fetch(name)


def test_fetch_all_stops_at_unavailable(empty_cache, emod_data_dir, monkeypatch):
    # the autouse fixture points the registry at a dead port: the cached
    # files are returned, the missing one raises
    empty_cache.mkdir()
    shutil.copy(emod_data_dir / "lut_HE-3D-FEM-22.txt", empty_cache)
    assert fetch_all(["lut_HE-3D-FEM-22.txt"])[0].is_file()
    with pytest.raises(DataFileUnavailableError):
        fetch_all(["lut_HE-3D-FEM-22.txt", "lut_HE-2D-FEM-22.txt"])
