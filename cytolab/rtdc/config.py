"""The metadata of an RT-DC dataset: :class:`Configuration`.

A :class:`Configuration` maps section names (``"experiment"``, ``"imaging"``,
``"filtering"``, ``"user"``, ...) to :class:`ConfigurationDict` objects, which
map key names to values. Every value that is set is converted with the
parser :mod:`cytolab.definitions` defines for its key, so that, for instance,
``cfg["imaging"]["roi size x"]`` is always an ``int`` no matter whether the
file stored ``250``, ``250.0`` or ``b"250"``.

Rules applied when a value is set:

* a key that is not defined (outside the free-form ``user`` section) issues an
  :class:`~cytolab.errors.UnknownConfigurationKeyWarning` (unless
  ``disable_checks``) and its value is kept (``bytes`` decoded), so that no
  metadata of a file gets lost;
* a value the parser cannot convert issues an
  :class:`InvalidConfigurationValueWarning` and is kept unconverted;
* ``None`` issues an :class:`InvalidConfigurationValueWarning` and is not
  stored;
* empty (or blank) strings are silently ignored.

The sections ``filtering`` and ``calculation`` always exist and start with
default values. Sections without any key count as absent for ``in``,
iteration, :meth:`Configuration.keys`, comparison and export.

Configurations can be written to and read from a small INI-like text format
(:meth:`Configuration.save`, :func:`load_from_file`)::

    [imaging]
    frame rate = 2000.0
    pixel size = 0.34

    [user]
    project = "42"

Text values are written without quotes unless quoting is needed to read them
back unchanged (surrounding blanks, line breaks, or text that would be read
as a number, boolean or list); quoted values use JSON string syntax. Lists,
tuples and arrays are written as JSON lists.
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import os
import pathlib
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from .. import definitions as dfn
from ..errors import CytolabWarning, FileFormatError, UnknownConfigurationKeyWarning
from ..io import atomic_path

__all__ = [
    "Configuration",
    "ConfigurationDict",
    "InvalidConfigurationValueWarning",
    "UnknownConfigurationKeyWarning",
    "load_from_file",
]


class InvalidConfigurationValueWarning(CytolabWarning):
    """A metadata value is ``None`` or cannot be converted to its type."""


def _filtering_defaults() -> dict[str, Any]:
    return {
        "remove invalid events": False,
        "enable filters": True,
        "limit events": 0,
        "polygon filters": [],
        "hierarchy parent": "none",
    }


def _calculation_defaults() -> dict[str, Any]:
    return {f"crosstalk fl{ab}": 0.0 for ab in ("12", "13", "21", "23", "31", "32")}


# Sections that always exist, with a factory for their default content.
_SECTION_DEFAULTS = {
    "filtering": _filtering_defaults,
    "calculation": _calculation_defaults,
}


def _is_text(value: Any) -> bool:
    return isinstance(value, (str, bytes, np.str_, np.bytes_))


def _key_text(key: Any) -> str:
    if isinstance(key, (bytes, np.bytes_)):
        return bytes(key).decode("utf-8")
    if isinstance(key, str):
        return str(key)
    raise TypeError(f"Configuration keys must be str, got {key!r}")


def _values_equal(a: Any, b: Any) -> bool:
    """Compare two metadata values, including arrays and nested lists."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError):
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    if (isinstance(a, float) and isinstance(b, float)
            and math.isnan(a) and math.isnan(b)):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _mapping_equal(a: Mapping, b: Mapping) -> bool:
    if set(a.keys()) != set(b.keys()):
        return False
    return all(_values_equal(a[key], b[key]) for key in a.keys())


class ConfigurationDict(MutableMapping):
    """The keys and values of one metadata section.

    A mutable mapping (not a :class:`dict` subclass) that converts every value
    it receives with the parser of its key; see the module documentation for
    how undefined keys, unconvertible values, ``None`` and empty strings are
    handled. :meth:`update` goes through the same conversion.

    Parameters
    ----------
    section
        Name of the section, e.g. ``"imaging"`` or ``"user"``.
    data
        Initial content (mapping or iterable of key-value pairs).
    disable_checks
        If True, undefined keys are stored without a warning.
    """

    def __init__(self, section: str, data: Mapping | Iterable | None = None,
                 disable_checks: bool = False) -> None:
        self._section = str(section)
        self._disable_checks = bool(disable_checks)
        self._data: dict[str, Any] = {}
        if data is not None:
            self.update(data)

    @property
    def section(self) -> str:
        """Name of the section."""
        return self._section

    @property
    def disable_checks(self) -> bool:
        """Whether undefined keys are accepted without a warning."""
        return self._disable_checks

    def _convert(self, key: str, value: Any) -> tuple[bool, Any]:
        """Return ``(store, converted_value)`` for a new value."""
        where = f"{self._section}:{key}"
        if value is None:
            warnings.warn(f"Not setting '{where}' to None",
                          InvalidConfigurationValueWarning, stacklevel=3)
            return False, None
        if _is_text(value):
            try:
                text = dfn.meta_parse.fstr(value)
            except ValueError:
                text = None  # undecodable bytes: let the parser complain
            if text is not None and not text.strip():
                return False, None
        if self._section == dfn.USER_SECTION:
            return True, dfn.meta_parse.fuser(value)
        if not dfn.config_key_exists(self._section, key):
            if not self._disable_checks:
                warnings.warn(f"Unknown metadata key '{where}' (value {value!r})",
                              UnknownConfigurationKeyWarning, stacklevel=3)
            return True, dfn.meta_parse.fuser(value)
        func = dfn.get_config_value_func(self._section, key)
        try:
            return True, func(value)
        except (ValueError, TypeError):
            warnings.warn(
                f"Cannot convert value {value!r} of '{where}' with "
                f"{getattr(func, '__name__', func)}; keeping it unconverted",
                InvalidConfigurationValueWarning, stacklevel=3)
            return True, value

    def __setitem__(self, key: str, value: Any) -> None:
        key = _key_text(key)
        store, converted = self._convert(key, value)
        if store:
            self._data[key] = converted

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(
                f"Key '{key}' is not set in section '{self._section}'") from None

    def __delitem__(self, key: str) -> None:
        try:
            del self._data[key]
        except KeyError:
            raise KeyError(
                f"Key '{key}' is not set in section '{self._section}'") from None

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigurationDict):
            return _mapping_equal(self._data, other._data)
        if isinstance(other, Mapping):
            return _mapping_equal(self._data, other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ConfigurationDict({self._section!r}, {self._data!r})"

    def clear(self) -> None:
        """Remove all keys of the section."""
        self._data.clear()

    def copy(self) -> ConfigurationDict:
        """Return a deep copy."""
        new = ConfigurationDict(self._section, disable_checks=self._disable_checks)
        new._data = copy.deepcopy(self._data)
        return new

    def as_dict(self) -> dict[str, Any]:
        """Return the content as a plain :class:`dict` of deep copies."""
        return copy.deepcopy(self._data)


class Configuration:
    """All metadata of an RT-DC dataset, organised in sections.

    ``cfg[section]`` returns the :class:`ConfigurationDict` of a section; a
    valid section that holds no keys yet is created empty on access, so that
    ``cfg["user"]["project"] = "x"`` always works.

    Parameters
    ----------
    files
        Text files in the format written by :meth:`save` (a single path is
        accepted too); loaded in order with :func:`load_from_file`.
    cfg
        Mapping of section name to mapping of key to value (or another
        :class:`Configuration`), applied after `files` via :meth:`update`.
    disable_checks
        If True, undefined sections and keys are accepted silently.
    """

    def __init__(self, files: Iterable[str | os.PathLike] | str | os.PathLike
                 | None = None, cfg: Mapping | Configuration | None = None,
                 disable_checks: bool = False) -> None:
        self.disable_checks = bool(disable_checks)
        self._cfg: dict[str, ConfigurationDict] = {}
        for section, factory in _SECTION_DEFAULTS.items():
            self._cfg[section] = ConfigurationDict(section, factory(),
                                                   self.disable_checks)
        if files is not None:
            if isinstance(files, (str, os.PathLike)):
                files = [files]
            for path in files:
                self.update(load_from_file(path))
        if cfg is not None:
            self.update(cfg)

    # --- section access ------------------------------------------------------------
    def _check_section(self, section: Any) -> str:
        if not isinstance(section, str):
            raise TypeError(f"Configuration sections must be str, got {section!r}")
        if not (self.disable_checks or dfn.section_exists(section)):
            warnings.warn(f"Unknown metadata section '{section}'",
                          UnknownConfigurationKeyWarning, stacklevel=3)
        return section

    def _new_section(self, section: str) -> ConfigurationDict:
        # keys of an unknown section are not checked one by one: the section
        # warning covers them
        checks_off = self.disable_checks or not dfn.section_exists(section)
        return ConfigurationDict(section, disable_checks=checks_off)

    def __getitem__(self, section: str) -> ConfigurationDict:
        if section in self._cfg:
            return self._cfg[section]
        if isinstance(section, str) and (
                self.disable_checks or dfn.section_exists(section)):
            self._cfg[section] = self._new_section(section)
            return self._cfg[section]
        raise KeyError(f"Unknown configuration section {section!r}; valid "
                       f"sections are {', '.join(dfn.CFG_SECTIONS)}")

    def __setitem__(self, section: str, value: Mapping | Iterable) -> None:
        """Replace a section; `filtering`/`calculation` keep missing defaults."""
        section = self._check_section(section)
        new = self._new_section(section)
        if section in _SECTION_DEFAULTS:
            new.update(_SECTION_DEFAULTS[section]())
        new.update(value)
        self._cfg[section] = new

    def __contains__(self, section: object) -> bool:
        return section in self._cfg and len(self._cfg[section]) > 0

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:
        """Return the names of all sections that hold at least one key."""
        return [name for name, sec in self._cfg.items() if len(sec)]

    def items(self) -> list[tuple[str, ConfigurationDict]]:
        """Return ``(section, ConfigurationDict)`` pairs of non-empty sections."""
        return [(name, self._cfg[name]) for name in self.keys()]

    def get(self, section: str, default: Any = None) -> Any:
        """Return a section if it holds any key, else `default`."""
        return self._cfg[section] if section in self else default

    # --- bulk operations -----------------------------------------------------------
    def update(self, newcfg: Mapping | Configuration) -> None:
        """Merge another configuration into this one, section by section.

        Keys of `newcfg` overwrite existing keys; other keys are kept.

        Parameters
        ----------
        newcfg
            Mapping of section name to mapping of key to value, or a
            :class:`Configuration`.
        """
        for section in list(newcfg.keys()):
            values = newcfg[section]
            if section not in self._cfg:
                self._check_section(section)
                self._cfg[section] = self._new_section(section)
            self._cfg[section].update(values)

    def reset_filtering(self) -> None:
        """Restore the default ``filtering`` section.

        All filter limits and polygon filter indices are removed; only the
        ``hierarchy parent`` is kept.
        """
        parent = self._cfg["filtering"].get("hierarchy parent", "none")
        self["filtering"] = {"hierarchy parent": parent}

    def copy(self) -> Configuration:
        """Return an independent deep copy."""
        return copy.deepcopy(self)

    def as_dict(self, pop_filtering: bool = False) -> dict[str, dict[str, Any]]:
        """Return the configuration as nested plain dicts of deep copies.

        Parameters
        ----------
        pop_filtering
            If True, leave out the ``filtering`` section.
        """
        out = {name: sec.as_dict() for name, sec in self.items()}
        if pop_filtering:
            out.pop("filtering", None)
        return out

    def tojson(self) -> str:
        """Return the configuration as JSON text with sorted keys.

        numpy scalars become Python numbers and arrays and tuples become
        lists, so types such as ``tuple`` or ``ndarray`` are not preserved.
        """
        return json.dumps(_jsonable(self.as_dict()), sort_keys=True, indent=2)

    def tostring(self, sections: Iterable[str] | None = None) -> str:
        """Return the configuration in the text format of :meth:`save`.

        Parameters
        ----------
        sections
            Names of the sections to include (e.g.
            ``cytolab.definitions.CFG_METADATA``); all sections by default.

        Returns
        -------
        str
            Sections and keys in sorted order.

        Raises
        ------
        ValueError
            If a key cannot be represented in the text format (it contains
            ``=`` or a line break, starts with ``[``, ``#`` or ``;``, or has
            surrounding blanks).
        """
        names = self.keys() if sections is None else [
            name for name in sections if name in self]
        blocks = []
        for name in sorted(names):
            lines = [f"[{name}]"]
            sec = self._cfg[name]
            for key in sorted(sec):
                _check_text_key(name, key)
                lines.append(f"{key} = {_format_value(sec[key])}")
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)

    def save(self, filename: str | os.PathLike) -> None:
        """Write the configuration to a text file.

        The file is written under a temporary name in the target directory
        and renamed when complete.

        Parameters
        ----------
        filename
            Destination path; an existing file is replaced.
        """
        text = self.tostring()
        with atomic_path(filename) as tmp:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)

    # --- comparison and display ----------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Configuration, Mapping)):
            if set(self.keys()) != {k for k in other.keys() if len(other[k])}:
                return False
            return all(self._cfg[name] == other[name] for name in self.keys())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Configuration({self.as_dict()!r})"


# --- text format helpers -------------------------------------------------
def _jsonable(value: Any) -> Any:
    """Turn numpy types, tuples and bytes into JSON-compatible objects."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, bool, numbers.Number)) or value is None:
        return value
    return str(value)


def _guess_value(text: str) -> Any:
    """Interpret the text of an undefined (``user``) key."""
    if text in ("True", "False"):
        return text == "True"
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return float(text)  # "nan", "inf" and friends
    except ValueError:
        return text


def _format_text(text: str) -> str:
    plain = (text == text.strip() and "\n" not in text and "\r" not in text
             and not text.startswith('"'))
    guessed = _guess_value(text) if plain else None
    if plain and isinstance(guessed, str) and guessed == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _format_value(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        return _format_text(value)
    return json.dumps(_jsonable(value), ensure_ascii=False)


def _check_text_key(section: str, key: str) -> None:
    if (not key or key != key.strip() or "=" in key or "\n" in key
            or "\r" in key or key[0] in "[#;"):
        raise ValueError(
            f"Key '{section}:{key}' cannot be written to the text format")


def _parse_text_value(section: str, key: str, text: str) -> Any:
    """Convert the text of one ``key = value`` line; raises ValueError."""
    if section == dfn.USER_SECTION:
        return _guess_value(text)
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, str):
            text = decoded
    return dfn.get_config_value_func(section, key)(text)


def load_from_file(cfg_file: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read a configuration text file written by :meth:`Configuration.save`.

    Undefined sections and keys issue an
    :class:`~cytolab.errors.UnknownConfigurationKeyWarning` and values that
    cannot be converted an :class:`InvalidConfigurationValueWarning`; both are
    left out of the result. Blank lines and lines starting with ``#`` or
    ``;`` are ignored.

    Parameters
    ----------
    cfg_file
        Path to the text file.

    Returns
    -------
    dict
        Section name -> dict of key -> converted value.

    Raises
    ------
    cytolab.errors.FileFormatError
        If the file is not UTF-8 text or a line is neither a section header
        nor a ``key = value`` pair.
    """
    path = pathlib.Path(cfg_file)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: not a UTF-8 text file ({exc})") from exc
    result: dict[str, dict[str, Any]] = {}
    section: str | None = None
    skip_section = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            skip_section = not dfn.section_exists(section)
            if skip_section:
                warnings.warn(f"{path}: ignoring unknown section '{section}'",
                              UnknownConfigurationKeyWarning, stacklevel=2)
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if section is None or not sep or not key:
            raise FileFormatError(
                f"{path}, line {lineno}: expected '[section]' or 'key = value', "
                f"got {raw!r}")
        if skip_section or not value:
            continue
        if not dfn.config_key_exists(section, key):
            warnings.warn(f"{path}: ignoring unknown key '{section}:{key}'",
                          UnknownConfigurationKeyWarning, stacklevel=2)
            continue
        try:
            converted = _parse_text_value(section, key, value)
        except (ValueError, TypeError):
            warnings.warn(
                f"{path}, line {lineno}: cannot convert value {value!r} of "
                f"'{section}:{key}'; ignoring it",
                InvalidConfigurationValueWarning, stacklevel=2)
            continue
        result.setdefault(section, {})[key] = converted
    return result
