"""The one cache of data files: folder choice, hashing, downloads, makers.

No test reaches the internet: downloads go to a loopback port nothing
listens on, or through a replaced ``pooch.retrieve``.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import socket
import textwrap

import pytest

from cytolab import datacache
from cytolab.datacache import (
    DataFileCorruptError,
    DataFileUnavailableError,
    cache_dir,
    fetch,
    make,
    resolve,
    sha256sum,
    verify,
)
from cytolab.errors import CytolabError


def dead_url(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


@pytest.fixture
def no_download(monkeypatch):
    import pooch

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")
    monkeypatch.setattr(pooch, "retrieve", refuse)


@pytest.fixture
def offline(monkeypatch):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


# ------------------------------------------------------------------ folder
def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHE_A", str(tmp_path / "a"))
    monkeypatch.setenv("CACHE_B", str(tmp_path / "b"))
    assert cache_dir("CACHE_A", "CACHE_B") == tmp_path / "a"
    assert cache_dir("CACHE_B", "CACHE_A") == tmp_path / "b"
    monkeypatch.setenv("CACHE_A", "")  # empty counts as unset
    assert cache_dir("CACHE_A", "CACHE_B") == tmp_path / "b"
    monkeypatch.delenv("CACHE_B")
    monkeypatch.setenv("CACHE_C", "~/x/y")
    assert cache_dir("CACHE_A", "CACHE_B", "CACHE_C") == pathlib.Path.home() / "x" / "y"


def test_cache_dir_default_variable_and_os_cache(monkeypatch, tmp_path):
    import pooch
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("CYTOLAB_DATA_CACHE")
    assert cache_dir() == pathlib.Path(pooch.os_cache("cytolab"))
    monkeypatch.setenv("OTHER_CACHE", str(tmp_path))
    assert cache_dir("SOME_UNSET_VARIABLE_X") == pathlib.Path(pooch.os_cache("cytolab"))


# ----------------------------------------------------------------- hashing
def test_sha256sum_streams_large_files(tmp_path):
    content = os.urandom((1 << 20) * 2 + 12345)  # spans three read blocks
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    assert sha256sum(path) == hashlib.sha256(content).hexdigest()
    assert sha256sum(str(path)) == hashlib.sha256(content).hexdigest()


def test_verify_hashes_once_until_the_file_changes(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    calls = []

    def hasher(p):
        calls.append(p)
        return sha256sum(p)
    memo: set = set()
    for _ in range(3):
        assert verify(path, sha, hasher=hasher, memo=memo) == path
    assert calls == [path]
    path.write_bytes(b"hello, changed")
    with pytest.raises(DataFileCorruptError) as info:
        verify(path, sha, what="weights file", hint="reinstall it",
               hasher=hasher, memo=memo)
    assert len(calls) == 2
    message = str(info.value)
    assert message.startswith(f"Corrupt weights file '{path}'")
    assert "SHA-256" in message and sha in message and message.endswith("reinstall it")
    assert hashlib.sha256(b"hello, changed").hexdigest() in message
    assert path.read_bytes() == b"hello, changed"  # left for inspection


def test_verify_uses_the_module_memo_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(datacache, "VERIFIED", set())
    path = tmp_path / "f"
    path.write_bytes(b"x")
    verify(path, hashlib.sha256(b"x").hexdigest())
    assert len(datacache.VERIFIED) == 1
    (key,) = datacache.VERIFIED
    assert key[0] == str(path.resolve()) and key[2] == 1


def test_error_classes():
    assert issubclass(DataFileUnavailableError, CytolabError)
    assert issubclass(DataFileUnavailableError, FileNotFoundError)
    assert issubclass(DataFileCorruptError, DataFileUnavailableError)


# ----------------------------------------------------------------- fetching
def test_fetch_returns_a_cached_file_without_network(tmp_path, no_download):
    (tmp_path / "a.txt").write_bytes(b"abc")
    sha = hashlib.sha256(b"abc").hexdigest()
    assert fetch("a.txt", dead_url("a.txt"), sha, tmp_path) == tmp_path / "a.txt"


def test_fetch_rejects_a_corrupt_cached_file(tmp_path, no_download):
    (tmp_path / "a.txt").write_bytes(b"abd")
    with pytest.raises(DataFileCorruptError, match="delete it to download it again"):
        fetch("a.txt", dead_url("a.txt"), hashlib.sha256(b"abc").hexdigest(), tmp_path)


def test_fetch_downloads_into_a_new_folder(tmp_path, monkeypatch):
    import pooch
    seen = []

    def retrieve(url, known_hash, fname, path, progressbar):
        seen.append((url, known_hash, fname, pathlib.Path(path), progressbar))
        target = pathlib.Path(path) / fname
        target.write_bytes(b"payload")
        return str(target)
    monkeypatch.setattr(pooch, "retrieve", retrieve)
    sha = hashlib.sha256(b"payload").hexdigest()
    folder = tmp_path / "new" / "cache"
    path = fetch("p.bin", "http://example.invalid/p.bin", sha, folder, progress=True)
    assert path == folder / "p.bin" and path.read_bytes() == b"payload"
    assert seen == [("http://example.invalid/p.bin", f"sha256:{sha}", "p.bin",
                     folder, True)]
    fetch("p.bin", "http://example.invalid/p.bin", sha, folder)
    assert len(seen) == 1  # cached now


def test_fetch_failure_names_everything(tmp_path, offline):
    url = dead_url("lost.txt")
    folder = tmp_path / "c"
    with pytest.raises(DataFileUnavailableError) as info:
        fetch("lost.txt", url, "0" * 64, folder)
    message = str(info.value)
    assert "'lost.txt'" in message and str(folder) in message and url in message
    assert "Copy the file into" in message
    assert not (folder / "lost.txt").exists()
    with pytest.raises(FileNotFoundError, match="Run this first"):
        fetch("lost.txt", url, "0" * 64, folder, hint="Run this first.")


def test_fetch_default_folder_is_the_cache_dir(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path))
    (tmp_path / "z").write_bytes(b"")
    assert fetch("z", "http://x.invalid/z", hashlib.sha256(b"").hexdigest()) == \
        tmp_path / "z"


# ------------------------------------------------------------------- makers
def test_make_calls_the_maker_once(tmp_path):
    calls = []

    def maker(path):
        calls.append(path)
        assert not path.exists() and path.parent.is_dir()
        assert path.name == "made.txt" and path.parent != tmp_path
        path.write_text("content")
    for _ in range(3):
        path = make("made.txt", maker, tmp_path)
        assert path == tmp_path / "made.txt"
        assert path.read_text() == "content"
    assert len(calls) == 1
    assert sorted(os.listdir(tmp_path)) == ["made.txt"]  # no temporary leftovers


def test_make_a_folder_in_the_default_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CYTOLAB_DATA_CACHE", str(tmp_path / "cache"))

    def maker(path):
        path.mkdir()
        (path / "a.txt").write_text("1")
        (path / "b.txt").write_text("2")
    path = make("movie_v1", maker)
    assert path == tmp_path / "cache" / "movie_v1"
    assert sorted(p.name for p in path.iterdir()) == ["a.txt", "b.txt"]
    assert os.listdir(tmp_path / "cache") == ["movie_v1"]


def test_make_failure_leaves_nothing(tmp_path):
    def maker(path):
        path.write_text("half")
        raise RuntimeError("simulator exploded")
    with pytest.raises(DataFileUnavailableError, match="simulator exploded") as info:
        make("bad.txt", maker, tmp_path)
    assert "'bad.txt'" in str(info.value) and isinstance(info.value.__cause__,
                                                         RuntimeError)
    assert os.listdir(tmp_path) == []
    with pytest.raises(DataFileUnavailableError, match="did not write"):
        make("nothing.txt", lambda path: None, tmp_path)
    assert os.listdir(tmp_path) == []


def test_make_keeps_what_another_process_made_meanwhile(tmp_path):
    def maker(path):
        path.mkdir()
        (path / "mine").write_text("mine")
        other = tmp_path / "shared"  # another process finished first
        other.mkdir()
        (other / "theirs").write_text("theirs")
    path = make("shared", maker, tmp_path)
    assert [p.name for p in path.iterdir()] == ["theirs"]
    assert os.listdir(tmp_path) == ["shared"]


def test_make_with_a_dotted_name(tmp_path, monkeypatch):
    module = tmp_path / "mods" / "fake_maker_mod.py"
    module.parent.mkdir()
    module.write_text(textwrap.dedent("""
        CALLS = []
        class Box:
            @staticmethod
            def write(path):
                CALLS.append(path)
                path.write_text("from a module")
    """))
    monkeypatch.syspath_prepend(str(module.parent))
    path = make("dotted.txt", "fake_maker_mod:Box.write", tmp_path / "c")
    assert path.read_text() == "from a module"
    import fake_maker_mod
    assert len(fake_maker_mod.CALLS) == 1


def test_resolve_errors():
    assert resolve(len) is len
    for bad in ("no_colon", ":f", "mod:", ""):
        with pytest.raises(ValueError, match="package.module:function"):
            resolve(bad)
    with pytest.raises(DataFileUnavailableError, match="ModuleNotFoundError"):
        resolve("cytolab.no_such_module_here:f")
    with pytest.raises(DataFileUnavailableError, match="AttributeError"):
        resolve("cytolab.datacache:no_such_function")


def test_make_unknown_maker_creates_nothing(tmp_path):
    with pytest.raises(DataFileUnavailableError, match="no_such_module"):
        make("x", "no_such_module_abc:f", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
