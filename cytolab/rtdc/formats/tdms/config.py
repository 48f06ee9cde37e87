"""Metadata of a legacy ``.tdms`` measurement from its ini and text files.

Sources, in order of precedence (a key set by an earlier source is kept):

1. ``M<n>_para.ini`` and ``M<n>_camera.ini`` (required), see
   :data:`.naming.INI_MAP`; in ``para.ini`` a commented-out ``#[FLUOR]``
   block (fRT-DC) is read as well.
2. ``M<n>_SoftwareSettings.ini`` (Shape-In 2): installed and active lasers
   and detectors, their names and wavelengths (only when the measurement has
   fluorescence data).
3. ``parameters.txt`` (fRT-DC): flash duration, lasers, trace settings
   (fluorescence settings only when the measurement has fluorescence data).
4. ``M<n>_log.ini`` (fRT-DC): the software version.

Derived values: ``experiment:event count``; ``experiment:sample`` from the
project folder when the sample has no name; ``experiment:date`` and
``experiment:time`` from the modification time of the ``.tdms`` file minus
the duration of the measurement (``frame[-1] / frame rate``), in local time,
when ``para.ini`` does not give them; "+" in ``setup:module composition``
becomes ","; ``CellCarrier B`` is written ``CellCarrierB``.
"""
from __future__ import annotations

import pathlib
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .... import definitions as dfn
from ....errors import UnknownConfigurationKeyWarning
from . import naming
from .exc import IncompleteTDMSError

#: Names of the files next to a measurement that are kept as logs
#: (``{mid}`` is the measurement id, e.g. ``M1``)
LOG_FILES = ("{mid}_para.ini", "{mid}_camera.ini", "{mid}_SoftwareSettings.ini",
             "{mid}_events.txt", "{mid}_log.ini", "FG_Config.mcf", "parameters.txt")


@dataclass
class IniFile:
    """Content of a tolerant ini file: sections of raw values, comments."""

    #: section name (as written) -> key (as written) -> value (unquoted)
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    #: text of the lines starting with ``#`` or ``;`` (without that character)
    comments: list[str] = field(default_factory=list)


def read_text(path: pathlib.Path) -> str:
    """Text of a file written by the acquisition software (never fails on bytes)."""
    return path.read_bytes().decode("utf-8", errors="replace")


def read_ini(path: pathlib.Path) -> IniFile:
    """Read an ini file of the acquisition software.

    Lines look like ``[Section]`` or ``key = value`` (blanks around ``=`` are
    optional, values may be double-quoted); lines without ``=`` are ignored.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "M1_para.ini"
    >>> _ = path.write_text('[General]\\nRegion = "Channel"\\n#comment\\n')
    >>> ini = read_ini(path)
    >>> ini.sections, ini.comments
    ({'General': {'Region': 'Channel'}}, ['comment'])
    """
    ini = IniFile()
    current = ini.sections.setdefault("", {})
    for raw in read_text(path).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line[0] in "#;":
            ini.comments.append(line[1:].strip())
            continue
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            current = ini.sections.setdefault(header.group(1).strip(), {})
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = _unquote(value.strip())
    if not ini.sections[""]:  # no keys before the first section
        del ini.sections[""]
    return ini


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


def measurement_id(tdms_path: pathlib.Path) -> str:
    """Measurement id of a ``.tdms`` file: ``"M1"`` for ``M1_data.tdms``."""
    return tdms_path.stem.split("_")[0]


def required_files(tdms_path: pathlib.Path) -> list[pathlib.Path]:
    """``para.ini`` and ``camera.ini`` of a measurement (checked to exist).

    Raises
    ------
    IncompleteTDMSError
        Naming the missing file(s).
    """
    mid = measurement_id(tdms_path)
    paths = [tdms_path.with_name(f"{mid}_para.ini"),
             tdms_path.with_name(f"{mid}_camera.ini")]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise IncompleteTDMSError(
            f"Incomplete TDMS measurement '{tdms_path}': missing "
            f"{' and '.join(missing)} in '{tdms_path.parent}' (the metadata "
            f"of a .tdms file are stored in these files)")
    return paths


def log_files(tdms_path: pathlib.Path) -> list[pathlib.Path]:
    """The text files of a measurement that exist (kept as logs)."""
    mid = measurement_id(tdms_path)
    paths = [tdms_path.with_name(name.format(mid=mid)) for name in LOG_FILES]
    return [p for p in paths if p.is_file()]


class _Meta:
    """Nested metadata that converts values and keeps what was set first."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.invalid: list[str] = []

    def has(self, section: str, key: str) -> bool:
        return key in self.data.get(section, {})

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.data.get(section, {}).get(key, default)

    def set(self, section: str, key: str, value: Any, force: bool = False) -> None:
        if self.has(section, key) and not force:
            return
        if isinstance(value, str) and not value.strip():
            return
        func = dfn.get_config_value_func(section, key)
        try:
            value = func(value)
        except (TypeError, ValueError):
            self.invalid.append(f"{section}:{key} = {value!r}")
            return
        self.data.setdefault(section, {})[key] = value


def _map_ini(meta: _Meta, ini: IniFile, source: str, unknown: list[str]) -> None:
    for section, values in ini.sections.items():
        sec = section.lower()
        for key, value in values.items():
            nkey = naming.normalize_key(key)
            target = naming.INI_MAP.get((sec, nkey))
            laser = naming.LASER_KEY.match(nkey) if sec == "fluor" else None
            if target is not None:
                meta.set(*target, value)
            elif laser is not None:
                num, wavelength = laser.groups()
                meta.set("fluorescence", f"laser {num} power", value)
                meta.set("fluorescence", f"laser {num} lambda", wavelength)
            elif (sec, nkey) not in naming.INI_DROPPED:
                unknown.append(f"{source} [{section}] {key}")


def _map_commented_fluor(meta: _Meta, ini: IniFile) -> None:
    """The ``#[FLUOR]`` block that fRT-DC left commented out in para.ini."""
    lines = ini.comments
    if not lines or lines[0].strip().lower() != "[fluor]":
        return
    for line in lines[1:]:
        if line.startswith("["):
            break
        if "=" not in line:
            if line.lower().startswith(("frt-dc", "frtdc")):
                meta.set("setup", "software version", line)
            continue
        key, value = line.split("=", 1)
        target = naming.INI_MAP.get(("fluor", naming.normalize_key(key)))
        if target is not None:
            meta.set(*target, value.strip())


def _map_software_settings(meta: _Meta, path: pathlib.Path) -> None:
    """Lasers and detectors from Shape-In's ``SoftwareSettings.ini``."""
    ini = read_ini(path)
    sections = {name.lower(): vals for name, vals in ini.sections.items()}
    fluo = sections.get("fluorescence", {})
    maint = sections.get("maintenance", {})

    def is_on(key: str) -> bool:
        return fluo.get(key, "").strip().lower() == "true"

    if "numOfChanInstalled" in maint:
        meta.set("fluorescence", "channels installed", maint["numOfChanInstalled"])
    if "numOfLasInstalled" in maint:
        meta.set("fluorescence", "lasers installed", maint["numOfLasInstalled"])
    detectors = [n for n in (1, 2, 3) if is_on(f"Detector{n}_On")]
    lasers = [n for n in (1, 2, 3) if is_on(f"Laser{n}_On")]
    if any(f"Detector{n}_On" in fluo for n in (1, 2, 3)):
        meta.set("fluorescence", "channel count", len(detectors))
    if any(f"Laser{n}_On" in fluo for n in (1, 2, 3)):
        meta.set("fluorescence", "laser count", len(lasers))
    for num in detectors:
        if f"FL{num}_name" in maint:
            meta.set("fluorescence", f"channel {num} name", maint[f"FL{num}_name"])
    for num in lasers:
        wavelength = re.match(r"\s*(\d+)", maint.get(f"Laser{num}_name", ""))
        if wavelength:
            meta.set("fluorescence", f"laser {num} lambda", wavelength.group(1))
        if f"Laser{num}_Power" in fluo:
            meta.set("fluorescence", f"laser {num} power", fluo[f"Laser{num}_Power"])
    maint_d = sections.get("maintenanced", {})
    if "Vmin_AI" in maint_d:
        meta.set("fluorescence", "signal min", maint_d["Vmin_AI"])
    if "Vmax_AI" in maint_d:
        meta.set("fluorescence", "signal max", maint_d["Vmax_AI"])


def _map_parameters(meta: _Meta, path: pathlib.Path, fluorescence: bool) -> None:
    """Settings from ``parameters.txt`` (fRT-DC; ``key<blank>value`` lines)."""
    values = {}
    for line in read_text(path).splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.lstrip().startswith("#"):
            values[parts[0].lower()] = parts[1]
    for key, (section, name) in naming.PARAMETERS_MAP.items():
        if key in values and (fluorescence or section != "fluorescence"):
            meta.set(section, name, values[key])
    if not fluorescence:
        return
    installed = 0
    used = 0
    for key, (num, wavelength) in naming.PARAMETERS_LASERS.items():
        if key not in values:
            continue
        installed += 1
        try:
            power = float(values[key])
        except ValueError:
            continue
        if power > 0:  # lasers that were not used are not described
            used += 1
            meta.set("fluorescence", f"laser {num} power", power)
            meta.set("fluorescence", f"laser {num} lambda", wavelength)
    if installed:
        meta.set("fluorescence", "lasers installed", installed)
        meta.set("fluorescence", "laser count", used)


def _map_log_ini(meta: _Meta, path: pathlib.Path) -> None:
    """Software version from the first line of fRT-DC's ``log.ini``."""
    for line in read_text(path).splitlines():
        header = re.match(r"^\s*\[EVENT LOG\]\s*(.*)$", line)
        if header:
            if header.group(1).strip():
                meta.set("setup", "software version", header.group(1).strip())
            return


def extract_metadata(tdms_path: pathlib.Path, features: Mapping[str, np.ndarray],
                     length: int, fluorescence: bool
                     ) -> tuple[dict[str, dict[str, Any]], list[pathlib.Path]]:
    """Metadata of a measurement (see the module documentation).

    Parameters
    ----------
    tdms_path
        The measurement ``.tdms`` file.
    features
        Features of its event table (``frame`` is used for the start time).
    length
        Number of events.
    fluorescence
        Whether the measurement has fluorescence data (fluorescence settings
        are only taken from the settings files then).

    Returns
    -------
    meta : dict
        ``{section: {key: value}}`` with converted values.
    sources : list of pathlib.Path
        Files the metadata came from.

    Raises
    ------
    IncompleteTDMSError
        If ``para.ini`` or ``camera.ini`` is missing.
    """
    from . import get_project_name_from_path

    para, camera = required_files(tdms_path)
    sources = [para, camera]
    meta = _Meta()
    unknown: list[str] = []
    para_ini = read_ini(para)
    _map_ini(meta, para_ini, para.name, unknown)
    _map_ini(meta, read_ini(camera), camera.name, unknown)
    _map_commented_fluor(meta, para_ini)
    mid = measurement_id(tdms_path)
    settings = tdms_path.with_name(f"{mid}_SoftwareSettings.ini")
    if settings.is_file() and fluorescence:
        _map_software_settings(meta, settings)
        sources.append(settings)
    parameters = tdms_path.with_name("parameters.txt")
    if parameters.is_file():
        _map_parameters(meta, parameters, fluorescence)
        sources.append(parameters)
    log_ini = tdms_path.with_name(f"{mid}_log.ini")
    if log_ini.is_file():
        _map_log_ini(meta, log_ini)
        sources.append(log_ini)
    if unknown:
        warnings.warn(f"Metadata of '{tdms_path}' without cytolab equivalent "
                      f"(ignored; kept in the logs): {unknown}",
                      UnknownConfigurationKeyWarning, stacklevel=3)
    if meta.invalid:
        warnings.warn(f"Ignoring invalid metadata values of '{tdms_path}': "
                      f"{meta.invalid}", UnknownConfigurationKeyWarning,
                      stacklevel=3)
    _complete(meta, tdms_path, features, length, get_project_name_from_path)
    return meta.data, sources


def _complete(meta: _Meta, tdms_path: pathlib.Path,
              features: Mapping[str, np.ndarray], length: int,
              project_name: Any) -> None:
    """Derived and normalized values."""
    meta.set("experiment", "event count", length, force=True)
    if not meta.has("experiment", "sample"):
        meta.set("experiment", "sample", project_name(tdms_path))
    if not (meta.has("experiment", "date") and meta.has("experiment", "time")):
        start = start_time(tdms_path, features.get("frame"),
                           meta.get("imaging", "frame rate"))
        local = time.localtime(start)
        meta.set("experiment", "date", time.strftime("%Y-%m-%d", local))
        meta.set("experiment", "time", time.strftime("%H:%M:%S", local))
    rate = meta.get("imaging", "frame rate")
    if rate is not None and not rate > 0:  # a zero frame rate means unknown
        del meta.data["imaging"]["frame rate"]
    medium = meta.get("setup", "medium")
    if medium is not None:
        meta.set("setup", "medium",
                 naming.MEDIUM_NAMES.get(medium.strip().lower(), medium), force=True)
    modules = meta.get("setup", "module composition")
    if modules is not None and "+" in modules:
        meta.set("setup", "module composition",
                 ", ".join(m.strip() for m in modules.split("+") if m.strip()),
                 force=True)


def start_time(tdms_path: pathlib.Path, frame: np.ndarray | None,
               frame_rate: float | None) -> float:
    """Start of a measurement [s since the epoch] from its file time.

    The ``.tdms`` file was last written when the measurement ended, so the
    start is its modification time minus the duration, ``frame[-1] / frame
    rate`` (frames are counted from the start of the recording).

    Examples
    --------
    >>> import numpy as np, os, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "M1_data.tdms"
    >>> _ = path.write_bytes(b"")
    >>> os.utime(path, (1000.0, 1000.0))
    >>> start_time(path, np.array([100, 4000]), 2000.0)
    998.0
    """
    mtime = tdms_path.stat().st_mtime
    if frame is not None and len(frame) and frame_rate and frame_rate > 0 \
            and np.isfinite(frame[-1]):
        mtime -= float(frame[-1]) / float(frame_rate)
    return mtime
