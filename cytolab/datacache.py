"""The cache of data files cytolab gets on first use.

Some data are too big or too foreign to ship as code: look-up tables of the
Young's modulus, demo movies, training sets. This module is the one place
that keeps them. A file is either

* **downloaded** (:func:`fetch`): from a URL whose content never changes,
  checked against its SHA-256 sum; or
* **made** (:func:`make`): written by a function ``maker(path)``, e.g. a
  simulated movie, deterministically, so the cached result is as good as a
  fresh one.

Either way the result lands in a cache folder under its final name only when
it is complete (a crash leaves no half-written file behind), and later calls
return the cached file without network or recomputation. Cached downloads
are hashed once per session (again only if the file changes).

The cache folder is the first environment variable set among those a caller
names (default ``CYTOLAB_DATA_CACHE``), else the user's cache folder (e.g.
``~/.cache/cytolab``).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable

from .errors import CytolabError

#: The environment variable that chooses the cache folder (when set)
DEFAULT_ENV_VARS = ("CYTOLAB_DATA_CACHE",)

#: Files whose content was verified this session: (path, mtime, size, sha256)
VERIFIED: set[tuple[str, int, int, str]] = set()

#: A function that writes a data file (or folder) at the path it is given
Maker = Callable[[pathlib.Path], object]


class DataFileUnavailableError(CytolabError, FileNotFoundError):
    """A data file is neither in the cache nor obtainable."""


class DataFileCorruptError(DataFileUnavailableError):
    """A data file does not have the content it must have (SHA-256 mismatch)."""


def cache_dir(*env_vars: str) -> pathlib.Path:
    """The folder data files are cached in.

    Parameters
    ----------
    *env_vars
        Environment variables that may name the folder, in order of
        precedence (default: ``CYTOLAB_DATA_CACHE``). The first one set to a
        non-empty value wins; ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder (it may not exist yet); without any of the variables,
        the user's cache folder for cytolab.

    Examples
    --------
    >>> import os
    >>> os.environ["MY_CACHE_EXAMPLE"] = "/tmp/somewhere"
    >>> cache_dir("MY_CACHE_EXAMPLE").as_posix()
    '/tmp/somewhere'
    >>> del os.environ["MY_CACHE_EXAMPLE"]
    """
    for var in env_vars or DEFAULT_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return pathlib.Path(value).expanduser()
    import pooch
    return pathlib.Path(pooch.os_cache("cytolab"))


def sha256sum(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content as hex digits (read in 1 MiB blocks).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> sha256sum(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fd:
        for block in iter(lambda: fd.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: pathlib.Path, sha256: str, *, what: str = "data file",
           hint: str = "delete it to get it again",
           hasher: Callable[[pathlib.Path], str] | None = None,
           memo: set | None = None) -> pathlib.Path:
    """Check that a file has the given SHA-256, hashing it once per session.

    Parameters
    ----------
    path
        The file.
    sha256
        The expected SHA-256 (hex digits).
    what
        What the file is, for the error message (``"weights file"``).
    hint
        What the user can do about a mismatch, appended to the message.
    hasher
        Function computing the SHA-256 of a file (default :func:`sha256sum`).
    memo
        Set remembering verified files (default :data:`VERIFIED`); a file is
        hashed again when its modification time or size changes.

    Returns
    -------
    pathlib.Path
        `path`, verified.

    Raises
    ------
    DataFileCorruptError
        The content differs (the file is left in place for inspection).
    """
    memo = VERIFIED if memo is None else memo
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, sha256)
    if key not in memo:
        found = (hasher or sha256sum)(path)
        if found != sha256:
            raise DataFileCorruptError(
                f"Corrupt {what} '{path}': its SHA-256 ({found}) is not the "
                f"expected {sha256} (SHA-256 mismatch); {hint}")
        memo.add(key)
    return path


def fetch(name: str, url: str, sha256: str, folder: pathlib.Path | None = None,
          progress: bool = False, *, hint: str | None = None,
          hasher: Callable[[pathlib.Path], str] | None = None,
          memo: set | None = None) -> pathlib.Path:
    """Path of a downloaded data file in the cache, downloading it if needed.

    Parameters
    ----------
    name
        File name in the cache folder.
    url
        Where the file is published (its content must never change).
    sha256
        SHA-256 of the content (hex digits); cached and downloaded files are
        both checked against it.
    folder
        Cache folder (default :func:`cache_dir`); created when needed.
    progress
        Show a download progress bar.
    hint
        What the user can do when the download fails, appended to the error
        message (default: copy the file into the cache folder).
    hasher, memo
        See :func:`verify`.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    DataFileCorruptError
        A cached file has the wrong content.
    DataFileUnavailableError
        The file is not cached and the download failed (network, HTTP error,
        wrong content, permissions); the message names the file, the folder,
        the URL and the cause.
    """
    folder = cache_dir() if folder is None else pathlib.Path(folder)
    path = folder / name
    if path.is_file():
        return verify(path, sha256, hint="delete it to download it again",
                      hasher=hasher, memo=memo)
    if hint is None:
        hint = (f"Copy the file into '{folder}' or point the cache at a folder "
                f"that holds it.")
    try:
        import pooch
        folder.mkdir(parents=True, exist_ok=True)
        downloaded = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=name,
                                    path=folder, progressbar=progress)
    except Exception as exc:  # network, permission, or checksum errors
        raise DataFileUnavailableError(
            f"The data file '{name}' is not in the cache folder '{folder}' and "
            f"could not be downloaded from {url} ({type(exc).__name__}: {exc}). "
            f"{hint}") from exc
    return pathlib.Path(downloaded)


def resolve(maker: Maker | str) -> Callable:
    """The function a dotted name ``"package.module:function"`` refers to.

    The module is imported only now, so registries can name functions of
    heavy or optional modules without importing them. A callable is
    returned as it is.

    Examples
    --------
    >>> resolve("os.path:join")("a", "b") == __import__("os").path.join("a", "b")
    True
    """
    if callable(maker):
        return maker
    module_name, sep, attribute = str(maker).partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"A maker name must look like 'package.module:function', "
                         f"got '{maker}'")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise DataFileUnavailableError(
            f"The maker '{maker}' is not available ({type(exc).__name__}: {exc})"
        ) from exc
    return target


def make(name: str, maker: Maker | str, folder: pathlib.Path | None = None
         ) -> pathlib.Path:
    """Path of a made data file (or folder) in the cache, making it if needed.

    Parameters
    ----------
    name
        File (or folder) name in the cache folder. Makers must be
        deterministic; when what a maker writes changes, give the entry a
        new name (e.g. with a version suffix) so old caches are not reused.
    maker
        ``maker(path)`` writes the file or folder at `path` (which does not
        exist yet, in an existing temporary folder); or the dotted name of
        such a function (see :func:`resolve`).
    folder
        Cache folder (default :func:`cache_dir`); created when needed.

    Returns
    -------
    pathlib.Path
        ``folder / name``. It appears there only once the maker has finished,
        so an interrupted run is simply made again next time.

    Raises
    ------
    DataFileUnavailableError
        The maker failed, did not write `path`, or cannot be imported.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cache = pathlib.Path(tempfile.mkdtemp())
    >>> path = make("hello.txt", lambda p: p.write_text("hello"), cache)
    >>> path.read_text()
    'hello'
    """
    folder = cache_dir() if folder is None else pathlib.Path(folder)
    path = folder / name
    if path.exists():
        return path
    function = resolve(maker)
    folder.mkdir(parents=True, exist_ok=True)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part",
                                            dir=folder))
    try:
        target = workdir / name
        try:
            function(target)
        except Exception as exc:
            raise DataFileUnavailableError(
                f"Could not make the data file '{name}' in '{folder}' with "
                f"{maker!r} ({type(exc).__name__}: {exc})") from exc
        if not target.exists():
            raise DataFileUnavailableError(
                f"The maker {maker!r} did not write the data file '{name}'")
        _move_into_place(target, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return path


def _move_into_place(source: pathlib.Path, path: pathlib.Path) -> None:
    """Rename `source` to `path`; if another process made `path` meanwhile,
    keep theirs (both are the same, makers being deterministic)."""
    try:
        os.replace(source, path)
    except OSError:
        if not path.exists():
            raise
