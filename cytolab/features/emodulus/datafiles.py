"""Registry and cache of the data files behind the Young's modulus.

Look-up tables (``lut_<ID>.txt``) and isoelasticity lines
(``iso_<ID>-<feature>-deform.txt``) are simulation results, not code: they
are not shipped with cytolab. This module knows where each file is
published (a URL pinned to one commit, so the content never changes) and
its SHA-256 sum, and fetches it on first use into a cache folder (through
:mod:`cytolab.datacache`, the one cache of all data files). The folder is
``$CYTOLAB_DATA_CACHE`` when that variable is set, else the user's cache
folder (e.g. ``~/.cache/cytolab``).

Machines without network access get the files with ``cytolab data fetch``
run elsewhere and copied into the cache folder (or by pointing
``CYTOLAB_DATA_CACHE`` at a folder that holds them).
"""
from __future__ import annotations

import pathlib
from collections.abc import Iterable

from ... import datacache
from ...datacache import DataFileUnavailableError

__all__ = ["DATA_FILES", "SOURCE_COMMIT", "DataFileUnavailableError", "cache_dir",
           "fetch", "fetch_all"]

#: Public source of the files: the dclab repository at a fixed commit
SOURCE_COMMIT = "0e7aede1f93ebd8bed8fc8a705c818fa377edfff"
_RAW = f"https://raw.githubusercontent.com/DC-analysis/dclab/{SOURCE_COMMIT}/dclab"

#: File name -> (URL, SHA-256 of the content)
DATA_FILES: dict[str, tuple[str, str]] = {
    name: (f"{_RAW}/{folder}/{name}", sha256) for folder, name, sha256 in [
        ("features/emodulus", "lut_LE-2D-FEM-19.txt",
         "af7eaef41a3b5891759751187b3333f91fb1628c50ad8a33547b572078f04275"),
        ("features/emodulus", "lut_HE-2D-FEM-22.txt",
         "e5b2e077e0416855bd6c0b44c849a54ef686e040015d1028ef72b9d60776513f"),
        ("features/emodulus", "lut_HE-3D-FEM-22.txt",
         "d52838cacd32913ed0fe314cdbc5d2d2e27ce6765dfe16bb0435dd376aec3c80"),
        ("isoelastics", "iso_LE-2D-FEM-19-area_um-deform.txt",
         "95c4e35149c8c23fdb541ac6d93d8e5812b5029b8b8f1264bcbd8a02e539d4e3"),
        ("isoelastics", "iso_LE-2D-FEM-19-volume-deform.txt",
         "bd371acce94e5e8dc1434350b4607f21d1ca0349de38b5d9fdddc9b8c53ef911"),
        ("isoelastics", "iso_HE-2D-FEM-22-area_um-deform.txt",
         "6e44486c4ab6515a1cf1bce37e0dd1f573837631b84f20990cb0d5bfd94d9ea6"),
        ("isoelastics", "iso_HE-2D-FEM-22-volume-deform.txt",
         "68b396c5ebff86fc8fdb25aaba899ca209f765ee1205fbeacfeaa64ce3a26cdc"),
        ("isoelastics", "iso_HE-3D-FEM-22-area_um-deform.txt",
         "22350b1b528efa10a56983e82499f03db1764e44bd8bd8f1175b5b8614130a56"),
        ("isoelastics", "iso_HE-3D-FEM-22-volume-deform.txt",
         "365684ef22b3ecdf3217ae6b8b71fc82f8c040111f3d25d42c526d3218d88127"),
        ("isoelastics", "iso_LE-2D-ana-18-area_um-deform.txt",
         "283d9192109f92b9dadb4a4b27753335965aa4c92143274c633d2229d32d4511"),
    ]}


#: Cached files whose content was verified (shared with :mod:`cytolab.datacache`)
_VERIFIED = datacache.VERIFIED

#: SHA-256 of a file (looked up at call time, so it can be swapped)
_sha256 = datacache.sha256sum


def cache_dir() -> pathlib.Path:
    """The folder data files are cached in (``$CYTOLAB_DATA_CACHE`` or the
    user's cache folder)."""
    return datacache.cache_dir("CYTOLAB_DATA_CACHE")


def fetch(name: str, progress: bool = False) -> pathlib.Path:
    """Path of the data file `name` in the cache, downloading it if needed.

    Parameters
    ----------
    name
        A file name of :data:`DATA_FILES`.
    progress
        Show a download progress bar.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    DataFileUnavailableError
        The file is not cached and cannot be downloaded (the message says
        how to get it), or a cached file has the wrong content.
    KeyError
        `name` is not a registered file.

    Examples
    --------
    >>> path = fetch("lut_LE-2D-FEM-19.txt")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'lut_LE-2D-FEM-19.txt'
    """
    if name not in DATA_FILES:
        raise KeyError(f"Unknown data file '{name}'; registered files: "
                       f"{', '.join(sorted(DATA_FILES))}")
    url, sha256 = DATA_FILES[name]
    folder = cache_dir()
    hint = (f"Run 'cytolab data fetch' on a machine with network access and "
            f"copy the files into '{folder}', or set CYTOLAB_DATA_CACHE to a "
            f"folder that holds them.")
    return datacache.fetch(name, url, sha256, folder, progress, hint=hint,
                           hasher=_sha256, memo=_VERIFIED)


def fetch_all(names: Iterable[str] | None = None, progress: bool = False
              ) -> list[pathlib.Path]:
    """Fetch all (or the given) registered data files; return their paths."""
    return [fetch(name, progress=progress) for name in (names or sorted(DATA_FILES))]
