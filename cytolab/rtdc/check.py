"""Integrity checks of RT-DC measurements: :class:`IntegrityChecker`, :class:`ICue`.

:class:`IntegrityChecker` opens a measurement (or takes an open dataset),
runs :meth:`~IntegrityChecker.sanity_check` and then every ``check_*``
method, and returns what it found as a list of :class:`ICue` items. Each cue
has a *level*:

* ``"info"``: something worth knowing (e.g. how the data are compressed);
* ``"alert"``: something unusual that may be fine, but a person should look
  at it (the data can be analysed);
* ``"violation"``: the file breaks a rule of the format, or a value that the
  analysis depends on is missing or impossible.

``cytolab verify`` prints the cues and turns them into an exit code.

The reference documents name the checks but leave their full list and
levels open; the table below is our choice. A check that does not apply
(no images, no fluorescence, not an HDF5 file) finds nothing.

=========================  =========  ==============================================
cue identifier             level      what is found
=========================  =========  ==============================================
file-unreadable            violation  sanity check: the file cannot be opened as
                                      a dataset (the error message is the cue);
                                      then no other check runs
feature-unreadable         violation  sanity check: an item under ``events``
                                      cannot be read (its first event is read)
no-feature-data            violation  sanity check: the file has neither feature
                                      data nor basins
metadata-missing           violation  a key the analysis needs is missing:
                                      :data:`REQUIRED_METADATA`, and
                                      :data:`REQUIRED_FLUORESCENCE` when there
                                      are fluorescence data
metadata-recommended       alert      a descriptive key is missing
                                      (:data:`RECOMMENDED_METADATA`,
                                      :data:`RECOMMENDED_FLUORESCENCE`)
metadata-unknown           alert      unknown section or key (other tools may
                                      drop it)
metadata-invalid           violation  a value its parser cannot convert, a
                                      non-finite number, zero or negative where
                                      impossible (:data:`POSITIVE_METADATA`), an
                                      invalid choice (``setup:chip region``)
metadata-format            alert      ``experiment:date``/``time`` not in the
                                      format YYYY-MM-DD / HH:MM:SS
flow-rate-invalid          violation  a flow rate that is zero ("zero flow rate")
                                      or negative
flow-rate-sum              alert      ``setup:flow rate`` differs from sample +
                                      sheath flow rate by more than
                                      :data:`FLOW_RATE_RTOL` (relative)
shapein-medium-bug         alert      the Shape-In wrong-medium bug may apply
                                      (see ``check_shapein_medium_bug``)
empty-dataset              alert      the measurement has no events
feature-size               violation  a feature has more or fewer events than the
                                      dataset
event-count                violation  ``experiment:event count`` differs from the
                                      number of events
feature-dtype              violation  a scalar feature that is not 1-D numeric
fl-max-negative            alert      negative fluorescence maxima (``fl*_max``)
temp-all-zero              alert      the ``temp`` feature is zero for all events
image-dtype                violation  ``image``/``image_bg`` not uint8, ``mask``
                                      not bool/uint8, or not (N, H, W)
image-shape                violation  image size differs from ``imaging:roi size
                                      x/y``
mask-shape                 violation  ``mask`` size differs from ``image`` size
image-attributes           alert      the HDF5 image attributes (``CLASS``,
                                      ``IMAGE_SUBCLASS``, ``IMAGE_VERSION``) are
                                      missing or wrong (HDF5 viewers need them)
contour-shape              violation  a contour is not an (M, 2) array
contour-outside            violation  contour points outside the image
contour-short              alert      contours with fewer than 3 points
contour-mask               alert      contour points that are not event pixels of
                                      the mask
trace-samples              violation  trace length differs from
                                      ``fluorescence:samples per event``
trace-unknown              alert      a trace name that is not a fluorescence
                                      trace (``fl1_raw`` ... ``fl3_median``)
compression                info       how many features are compressed
compression-missing        alert      features stored without compression
basin-unavailable          alert      a basin that cannot be used (missing file,
                                      other measurement, bad mapping, ...)
basin-unsupported          info       a basin of a type/format cytolab does not
                                      know (ignored)
log-unreadable             alert      a log that is not readable text (a missing
                                      ``logs`` group is fine)
load-warning               alert      any other warning raised while opening
                                      (e.g. a known-defective stored feature that
                                      is recomputed, an unknown feature)
check-failed               violation  a check raised an error (damaged data)
=========================  =========  ==============================================

Contours are checked on a sample of at most ``sample_events`` events
(default 1000, evenly spaced) and compared with the mask for at most 10 of
them; scalar features are read in chunks, images never in full, so memory
does not grow with the size of the file.
"""
from __future__ import annotations

import math
import numbers
import os
import pathlib
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import h5py
import numpy as np

from .. import definitions as dfn
from .._progress import progress_bar
from ..errors import (
    BadFeatureSizeWarning,
    BasinUnavailableWarning,
    UnknownConfigurationKeyWarning,
)
from ..io import read_text_lines
from ..io.copier import is_properly_compressed
from ..io.files import decode_attr, read_root_metadata
from .basin import BASIN_CLASSES
from .config import InvalidConfigurationValueWarning
from .core import RTDCBase
from .load import new_dataset

__all__ = [
    "FLOW_RATE_RTOL",
    "ICue",
    "IntegrityChecker",
    "LEVELS",
    "POSITIVE_METADATA",
    "RECOMMENDED_FLUORESCENCE",
    "RECOMMENDED_METADATA",
    "REQUIRED_FLUORESCENCE",
    "REQUIRED_METADATA",
    "SHAPEIN_MEDIUM_BUG_VERSIONS",
    "format_cues",
    "sanity_check",
]

#: Levels of a cue, from harmless to severe.
LEVELS: tuple[str, ...] = ("info", "alert", "violation")

#: Metadata every measurement needs (missing: violation).
REQUIRED_METADATA: dict[str, tuple[str, ...]] = {
    "experiment": ("date", "event count", "run index", "time"),
    "imaging": ("frame rate", "pixel size", "roi size x", "roi size y"),
    "setup": ("channel width", "chip region", "flow rate", "flow rate sample",
              "flow rate sheath", "identifier", "medium", "module composition",
              "software version"),
}

#: Descriptive metadata every measurement should have (missing: alert).
RECOMMENDED_METADATA: dict[str, tuple[str, ...]] = {
    "experiment": ("sample",),
    "imaging": ("flash device", "flash duration"),
}

#: Fluorescence metadata needed when there are fluorescence data (violation).
REQUIRED_FLUORESCENCE: tuple[str, ...] = (
    "bit depth", "channel count", "sample rate", "samples per event",
    "signal max", "signal min", "trace median")

#: Fluorescence metadata that should be there with fluorescence data (alert).
RECOMMENDED_FLUORESCENCE: tuple[str, ...] = (
    "channels installed", "laser count", "lasers installed")

#: Metadata that must be a number > 0 (checked when present).
POSITIVE_METADATA: tuple[tuple[str, str], ...] = (
    ("imaging", "frame rate"), ("imaging", "pixel size"),
    ("imaging", "roi size x"), ("imaging", "roi size y"),
    ("setup", "channel width"),
    ("fluorescence", "sample rate"), ("fluorescence", "samples per event"),
)

#: Flow rate keys of the ``setup`` section (zero or negative: violation).
FLOW_RATE_KEYS: tuple[str, ...] = ("flow rate", "flow rate sample",
                                   "flow rate sheath")

#: Relative tolerance of ``flow rate == flow rate sample + flow rate sheath``
#: (values stored as float32 differ by ~1e-7; settings have 3 decimals).
FLOW_RATE_RTOL: float = 1e-3

#: Valid values of metadata keys with a fixed set of choices.
METADATA_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("setup", "chip region"): ("channel", "reservoir"),
}

#: Shape-In versions (first three or four numbers) that may have written the
#: wrong medium. The reference documents only say that the bug exists and
#: that "more Shape-In versions are affected" than first thought; this range
#: (2.2.1 up to and including 2.2.2.3, the releases of that time) is our
#: assumption.
SHAPEIN_MEDIUM_BUG_VERSIONS: tuple[tuple[int, ...], tuple[int, ...]] = (
    (2, 2, 1, 0), (2, 2, 2, 3))

#: HDF5 image attributes of image-like datasets (what HDF5 viewers need).
IMAGE_ATTRIBUTES: dict[str, str] = {"CLASS": "IMAGE",
                                    "IMAGE_SUBCLASS": "IMAGE_GRAYSCALE",
                                    "IMAGE_VERSION": "1.2"}

#: Events read at a time from scalar features.
CHUNK_EVENTS: int = 1_000_000

#: HDF5 filters that only rearrange or check data (not compression).
_NON_COMPRESSING_FILTERS = frozenset({h5py.h5z.FILTER_SHUFFLE,
                                      h5py.h5z.FILTER_FLETCHER32})

#: Warnings on opening that a dedicated check reports (not repeated as
#: ``load-warning``).
_COVERED_WARNINGS = (UnknownConfigurationKeyWarning,
                     InvalidConfigurationValueWarning, BasinUnavailableWarning)

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?")


class ICue:
    """One finding of the integrity checker.

    Parameters
    ----------
    msg
        What was found, for people.
    level
        ``"info"``, ``"alert"`` or ``"violation"`` (see :data:`LEVELS`).
    category
        Group of the finding, e.g. ``"metadata missing"``, ``"feature
        size"``, ``"image"``, ``"compression"``.
    data
        Machine-readable details (e.g. counts), or None.
    identifier
        Stable name of the kind of finding (e.g. ``"flow-rate-sum"``), for
        programs that act on certain cues.
    cfg_section, cfg_key
        The metadata item concerned, if any.
    cfg_choices
        Valid values of that item, if there is a fixed set.

    Examples
    --------
    >>> cue = ICue("Metadata missing: [setup] 'medium'", "violation",
    ...            "metadata missing", cfg_section="setup", cfg_key="medium")
    >>> cue
    <ICue violation [metadata missing]: "Metadata missing: [setup] 'medium'">
    >>> print(cue.as_text())
    violation: [metadata missing] Metadata missing: [setup] 'medium'
    >>> ICue.get_level_summary([cue])
    {'info': 0, 'alert': 0, 'violation': 1}
    """

    def __init__(self, msg: str, level: str, category: str, data: Any = None,
                 identifier: str | None = None, cfg_section: str | None = None,
                 cfg_key: str | None = None,
                 cfg_choices: Sequence[Any] | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"Invalid cue level {level!r}; use one of {LEVELS}")
        self.msg = str(msg)
        self.level = level
        self.category = str(category)
        self.data = data
        self.identifier = identifier
        self.cfg_section = cfg_section
        self.cfg_key = cfg_key
        self.cfg_choices = None if cfg_choices is None else list(cfg_choices)

    def __repr__(self) -> str:
        return f'<ICue {self.level} [{self.category}]: "{self.msg}">'

    def __str__(self) -> str:
        return self.as_text()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ICue):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  (mutable)

    def as_text(self, level: bool = True) -> str:
        """One line for printing: ``"level: [category] message"``.

        Parameters
        ----------
        level
            Start with the level (leave it out when cues are printed grouped
            by level).
        """
        text = f"[{self.category}] {self.msg}"
        return f"{self.level}: {text}" if level else text

    def as_dict(self) -> dict[str, Any]:
        """All fields as a dict (JSON-serialisable if `data` is)."""
        return {"msg": self.msg, "level": self.level, "category": self.category,
                "data": self.data, "identifier": self.identifier,
                "cfg_section": self.cfg_section, "cfg_key": self.cfg_key,
                "cfg_choices": self.cfg_choices}

    @staticmethod
    def get_level_summary(cues: Sequence[ICue]) -> dict[str, int]:
        """Number of cues per level.

        Returns
        -------
        dict
            ``{"info": n, "alert": n, "violation": n}``.
        """
        summary = dict.fromkeys(LEVELS, 0)
        for cue in cues:
            summary[cue.level] += 1
        return summary


def format_cues(cues: Sequence[ICue]) -> str:
    """Text of a list of cues, grouped by level (violations first).

    Examples
    --------
    >>> print(format_cues([ICue("Compression: all 3 features", "info",
    ...                         "compression")]))
    info (1):
      - [compression] Compression: all 3 features
    >>> format_cues([])
    'no cues'
    """
    lines = []
    for level in reversed(LEVELS):
        group = [cue for cue in cues if cue.level == level]
        if group:
            name = {"alert": "alerts", "violation": "violations"}.get(level, level)
            lines.append(f"{name} ({len(group)}):")
            lines.extend(f"  - {cue.as_text(level=False)}" for cue in group)
    return "\n".join(lines) if lines else "no cues"


def sanity_check(path_or_ds: str | os.PathLike | RTDCBase) -> list[ICue]:
    """Quick checks that must pass before anything else can be checked.

    Shortcut for ``IntegrityChecker(path_or_ds).sanity_check()``.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    with IntegrityChecker(path_or_ds) as checker:
        return checker.sanity_check()


class IntegrityChecker:
    """Check an RT-DC measurement for problems.

    Parameters
    ----------
    path_or_ds
        Path of a measurement file, or an open dataset. A file is opened
        here; the warnings raised while opening it become cues. A file that
        cannot be opened at all gives one violation (see
        :meth:`sanity_check`), not an exception. Open datasets are checked
        as they are (their opening warnings are gone; checks that need the
        HDF5 file are skipped for other formats).

    Raises
    ------
    FileNotFoundError
        If a path does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cytolab.simulate import simulate_rtdc
    >>> path = simulate_rtdc(pathlib.Path(tempfile.mkdtemp()) / "m.rtdc",
    ...                      num_events=20, seed=1)
    >>> with IntegrityChecker(path) as ic:
    ...     cues = ic.check()
    >>> ICue.get_level_summary(cues)
    {'info': 1, 'alert': 0, 'violation': 0}
    >>> cues[0].identifier, cues[0].data["uncompressed"]
    ('compression', 0)
    """

    def __init__(self, path_or_ds: str | os.PathLike | RTDCBase) -> None:
        self.ds: RTDCBase | None = None
        #: Path of the file (None for datasets without one)
        self.path: pathlib.Path | None = None
        #: Why the file could not be opened (None if it could)
        self.error: BaseException | None = None
        #: Warnings raised while opening: (category, message)
        self.load_warnings: list[tuple[type[Warning], str]] = []
        self._owned = False
        self._cache: dict[str, Any] = {}
        if isinstance(path_or_ds, RTDCBase):
            self.ds = path_or_ds
            path = getattr(path_or_ds, "path", None)
            self.path = path if isinstance(path, pathlib.Path) else None
            return
        self.path = pathlib.Path(path_or_ds)
        if not self.path.exists():
            raise FileNotFoundError(f"File not found: '{self.path}'")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.ds = new_dataset(self.path)
                self._owned = True
            except Exception as exc:  # noqa: BLE001  (any failure is a finding)
                self.error = exc
            if self.ds is not None:
                try:
                    self.ds.basins  # noqa: B018  (warns about unusable basins)
                except Exception:  # noqa: BLE001  (reported by check_basins)
                    pass
        self.load_warnings = [(w.category, str(w.message)) for w in caught]

    def __enter__(self) -> IntegrityChecker:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the dataset if this checker opened it."""
        if self._owned and self.ds is not None:
            self.ds.close()
            self._owned = False

    # running the checks --------------------------------------------------
    @classmethod
    def check_names(cls) -> list[str]:
        """Names of the ``check_*`` methods, in the order they run."""
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if name.startswith("check_") and callable(value) \
                        and name not in names:
                    names.append(name)
        return names

    def check(self, **kwargs: Any) -> list[ICue]:
        """Run :meth:`sanity_check` and then every ``check_*`` method.

        Parameters
        ----------
        **kwargs
            Passed to every check; understood are ``sample_events`` (number
            of contours checked, default 1000) and ``mask_events`` (number of
            contours compared with the mask, default 10).

        Returns
        -------
        list of ICue
            If the sanity check finds a violation, only its cues (nothing
            else can be checked). A check that fails with an error gives a
            ``check-failed`` violation instead of raising.
        """
        cues = self.sanity_check()
        if any(cue.level == "violation" for cue in cues):
            return cues
        names = self.check_names()
        for name in progress_bar(names, desc="checking", unit="check"):
            try:
                cues.extend(getattr(self, name)(**kwargs))
            except Exception as exc:  # noqa: BLE001  (report, do not crash)
                cues.append(ICue(
                    f"Check '{name}' failed: {type(exc).__name__}: {exc}",
                    "violation", "check failed", identifier="check-failed"))
        return cues

    def sanity_check(self) -> list[ICue]:
        """Checks that must pass before the others make sense.

        The file could be opened as a dataset; every item under ``events``
        can be read (its first event); the dataset has feature data or
        basins.

        Returns
        -------
        list of ICue
            Violations (empty when everything is fine).
        """
        if self.ds is None:
            return [ICue(f"Cannot open '{self.path}': {self.error}", "violation",
                         "file", identifier="file-unreadable")]
        cues = []
        events = self._events
        if events is not None:
            for name in sorted(events):
                problem = _first_event_problem(events, name)
                if problem:
                    cues.append(ICue(
                        f"Cannot read feature '{name}': {problem}", "violation",
                        "file", identifier="feature-unreadable"))
            has_data = len(events) > 0
        else:
            has_data = bool(self.ds.features_innate)
        if not has_data and not self.ds.basins_get_dicts():
            cues.append(ICue("The dataset has no feature data and no basins",
                             "violation", "feature data",
                             identifier="no-feature-data"))
        return cues

    # helpers -------------------------------------------------------------
    @property
    def _h5(self) -> h5py.Group | None:
        h5 = getattr(self.ds, "h5file", None)
        return h5 if isinstance(h5, h5py.Group) else None

    @property
    def _events(self) -> h5py.Group | None:
        h5 = self._h5
        if h5 is None:
            return None
        events = h5.get("events")
        return events if isinstance(events, h5py.Group) else None

    def _raw_metadata(self) -> dict[str, dict[str, Any]]:
        """Metadata as stored (HDF5 attributes), or the dataset's config."""
        if "meta" not in self._cache:
            h5 = self._h5
            if h5 is not None:
                meta = read_root_metadata(h5)
            else:
                meta = {sec: dict(self.ds.config[sec]) for sec in self.ds.config
                        if sec not in dfn.CFG_ANALYSIS}
            self._cache["meta"] = meta
        return self._cache["meta"]

    def _config(self, section: str, key: str) -> Any:
        """Converted metadata value, or None when missing."""
        try:
            return self.ds.config[section].get(key)
        except KeyError:
            return None

    def _number(self, section: str, key: str) -> float | None:
        """A metadata value that is a number, else None."""
        value = self._config(section, key)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        return None

    def _stored(self) -> list[str]:
        """Names of the features stored in the dataset itself."""
        events = self._events
        if events is not None:
            return sorted(events)
        return list(self.ds.features_innate)

    def _scalar_chunks(self, feat: str) -> Iterator[np.ndarray]:
        """The stored values of a scalar feature, in chunks of events."""
        size = len(self.ds)
        events = self._events
        if events is not None and isinstance(events.get(feat), h5py.Dataset):
            source: Any = events[feat]
            size = min(size, source.shape[0]) if source.ndim == 1 else 0
        else:
            source = self.ds[feat]
        for start in range(0, size, CHUNK_EVENTS):
            yield np.asarray(source[start:min(start + CHUNK_EVENTS, size)])

    def _feature_problems(self) -> dict[str, str]:
        """Stored features whose size or shape is wrong: name -> reason."""
        if "problems" not in self._cache:
            problems: dict[str, str] = {}
            events = self._events
            size = len(self.ds)
            if events is not None:
                for name in sorted(events):
                    obj = events[name]
                    if isinstance(obj, h5py.Dataset):
                        if dfn.scalar_feature_exists(name) and obj.ndim != 1:
                            problems[name] = (f"scalar feature with shape "
                                              f"{obj.shape} (must be 1-D)")
                        elif obj.ndim == 0:
                            problems[name] = "no event axis (zero-dimensional)"
                        elif obj.shape[0] != size:
                            problems[name] = (f"{obj.shape[0]} events, the "
                                              f"dataset has {size}")
                    elif name == "trace":
                        for key in sorted(obj):
                            item = obj[key]
                            if isinstance(item, h5py.Dataset) and item.ndim \
                                    and item.shape[0] != size:
                                problems[f"trace/{key}"] = (
                                    f"{item.shape[0]} events, the dataset has "
                                    f"{size}")
                    elif len(obj) != size:
                        problems[name] = f"{len(obj)} events, the dataset has {size}"
            self._cache["problems"] = problems
        return self._cache["problems"]

    # metadata ------------------------------------------------------------
    def check_metadata_missing(self, **kwargs: Any) -> list[ICue]:
        """Required metadata (violation) and recommended metadata (alert)."""
        cues = []
        wanted = [(sec, key, "violation") for sec, keys in REQUIRED_METADATA.items()
                  for key in keys]
        wanted += [(sec, key, "alert") for sec, keys in RECOMMENDED_METADATA.items()
                   for key in keys]
        if self._has_fluorescence():
            wanted += [("fluorescence", key, "violation")
                       for key in REQUIRED_FLUORESCENCE]
            wanted += [("fluorescence", key, "alert")
                       for key in RECOMMENDED_FLUORESCENCE]
        for section, key, level in wanted:
            if self._config(section, key) is None:
                what = "missing" if level == "violation" else "recommended"
                cues.append(ICue(
                    f"Metadata {what}: [{section}] '{key}' "
                    f"({dfn.get_config_value_descr(section, key)})", level,
                    "metadata missing", cfg_section=section, cfg_key=key,
                    identifier="metadata-missing" if level == "violation"
                    else "metadata-recommended"))
        return cues

    def _has_fluorescence(self) -> bool:
        feats = set(self.ds.features_innate) | set(self.ds.features_basin)
        return "trace" in feats or any(re.fullmatch(r"fl\d_\w+", f) for f in feats)

    def check_metadata_unknown(self, **kwargs: Any) -> list[ICue]:
        """Sections and keys that are not defined (alert)."""
        cues = []
        for section, items in sorted(self._raw_metadata().items()):
            if not dfn.section_exists(section):
                cues.append(ICue(
                    f"Unknown metadata section [{section}] (keys: "
                    f"{', '.join(sorted(items))})", "alert", "metadata unknown",
                    cfg_section=section, identifier="metadata-unknown"))
                continue
            for key in sorted(items):
                if not dfn.config_key_exists(section, key):
                    cues.append(ICue(
                        f"Unknown metadata key [{section}] '{key}' "
                        f"(value {items[key]!r})", "alert", "metadata unknown",
                        cfg_section=section, cfg_key=key,
                        identifier="metadata-unknown"))
        return cues

    def check_metadata_bad(self, **kwargs: Any) -> list[ICue]:
        """Values that cannot be converted or are impossible (violation).

        Also dates and times in an unexpected format (alert). Flow rates are
        checked by :meth:`check_flow_rate`.
        """
        cues = []
        for section, items in sorted(self._raw_metadata().items()):
            if not dfn.section_exists(section) or section == dfn.USER_SECTION:
                continue
            for key, raw in sorted(items.items()):
                if not dfn.config_key_exists(section, key):
                    continue
                func = dfn.get_config_value_func(section, key)
                try:
                    value = func(raw)
                except (ValueError, TypeError) as exc:
                    cues.append(self._invalid(section, key, raw, f"cannot be "
                                              f"converted ({exc})"))
                    continue
                cues.extend(self._check_value(section, key, value))
        return cues

    def _check_value(self, section: str, key: str, value: Any) -> list[ICue]:
        if isinstance(value, float) and not math.isfinite(value):
            return [self._invalid(section, key, value, "not a finite number")]
        if (section, key) in POSITIVE_METADATA and isinstance(value, numbers.Real) \
                and value <= 0:
            return [self._invalid(section, key, value, "must be greater than zero")]
        choices = METADATA_CHOICES.get((section, key))
        if choices and value not in choices:
            return [self._invalid(section, key, value,
                                  f"must be one of {', '.join(choices)}", choices)]
        for name, regex, form in (("date", _DATE_RE, "YYYY-MM-DD"),
                                  ("time", _TIME_RE, "HH:MM:SS")):
            if (section, key) == ("experiment", name) \
                    and not regex.fullmatch(str(value)):
                return [ICue(f"Unexpected format of [{section}] '{key}': "
                             f"{value!r} (expected {form})", "alert",
                             "metadata wrong", cfg_section=section, cfg_key=key,
                             identifier="metadata-format")]
        return []

    @staticmethod
    def _invalid(section: str, key: str, value: Any, why: str,
                 choices: Sequence[Any] | None = None) -> ICue:
        return ICue(f"Invalid value of [{section}] '{key}': {value!r} ({why})",
                    "violation", "metadata wrong", cfg_section=section,
                    cfg_key=key, cfg_choices=choices, identifier="metadata-invalid")

    def check_flow_rate(self, **kwargs: Any) -> list[ICue]:
        """Zero or negative flow rates (violation); sample + sheath flow rate
        that do not add up to the flow rate (alert)."""
        cues = []
        rates = {key: self._number("setup", key) for key in FLOW_RATE_KEYS}
        for key, value in rates.items():
            if value is not None and value <= 0:
                what = "zero flow rate" if value == 0 else "negative flow rate"
                cues.append(ICue(
                    f"Invalid value of [setup] '{key}': {value:g} µL/s ({what})",
                    "violation", "metadata wrong", cfg_section="setup",
                    cfg_key=key, identifier="flow-rate-invalid"))
        total, sample, sheath = rates.values()
        if total is not None and sample is not None and sheath is not None \
                and not math.isclose(total, sample + sheath, rel_tol=FLOW_RATE_RTOL,
                                     abs_tol=1e-9):
            cues.append(ICue(
                f"Flow rates do not add up: sample {sample:g} + sheath "
                f"{sheath:g} = {sample + sheath:g} µL/s, but [setup] 'flow rate' "
                f"is {total:g} µL/s", "alert", "metadata wrong",
                data={"flow rate": total, "flow rate sample": sample,
                      "flow rate sheath": sheath},
                cfg_section="setup", cfg_key="flow rate",
                identifier="flow-rate-sum"))
        return cues

    def check_shapein_medium_bug(self, **kwargs: Any) -> list[ICue]:
        """The Shape-In wrong-medium bug (alert).

        Some Shape-In releases (:data:`SHAPEIN_MEDIUM_BUG_VERSIONS`) wrote
        ``CellCarrierB`` as ``setup:medium`` when ``CellCarrier`` had been
        chosen. Files of those versions that say ``CellCarrierB`` are flagged
        so that the medium (which enters the viscosity and the Young's
        modulus) is confirmed from the lab notes. Which releases are affected
        is our assumption (the reference documents do not list them).
        """
        version = _shapein_version(str(self._config("setup", "software version")
                                       or ""))
        medium = self._config("setup", "medium")
        low, high = SHAPEIN_MEDIUM_BUG_VERSIONS
        if version is None or medium != "CellCarrierB" \
                or not low <= version[:4] <= high:
            return []
        text = ".".join(str(v) for v in version)
        return [ICue(
            f"Shape-In {text} may have written the wrong medium: [setup] "
            f"'medium' is 'CellCarrierB', which this version also wrote when "
            f"'CellCarrier' was selected; please confirm the medium",
            "alert", "metadata wrong", cfg_section="setup", cfg_key="medium",
            cfg_choices=["CellCarrier", "CellCarrierB"],
            identifier="shapein-medium-bug")]

    # features ------------------------------------------------------------
    def check_feature_size(self, **kwargs: Any) -> list[ICue]:
        """Features whose number of events differs from the dataset's and
        ``experiment:event count`` that differs (violation); no events at all
        (alert)."""
        cues = []
        size = len(self.ds)
        if size == 0:
            cues.append(ICue("The measurement has no events", "alert",
                             "feature size", identifier="empty-dataset"))
        for name, reason in self._feature_problems().items():
            if "events, the dataset has" in reason:
                cues.append(ICue(f"Feature '{name}' has {reason}", "violation",
                                 "feature size", identifier="feature-size",
                                 data={"feature": name}))
        count = self._config("experiment", "event count")
        if isinstance(count, int) and count != size:
            cues.append(ICue(
                f"[experiment] 'event count' is {count}, but the dataset has "
                f"{size} events", "violation", "feature size",
                cfg_section="experiment", cfg_key="event count",
                identifier="event-count"))
        return cues

    def check_feature_dtype(self, **kwargs: Any) -> list[ICue]:
        """Scalar features that are not 1-D numeric arrays (violation)."""
        cues = []
        events = self._events
        if events is None:
            return cues
        for name, reason in self._feature_problems().items():
            if "events, the dataset has" not in reason:
                cues.append(ICue(f"Feature '{name}': {reason}", "violation",
                                 "feature data", identifier="feature-dtype"))
        for name in sorted(events):
            obj = events[name]
            if dfn.scalar_feature_exists(name) and isinstance(obj, h5py.Dataset) \
                    and obj.dtype.kind not in "biuf":
                cues.append(ICue(
                    f"Scalar feature '{name}' holds {obj.dtype} data (must be "
                    f"numbers)", "violation", "feature data",
                    identifier="feature-dtype"))
        return cues

    def check_fl_max_negative(self, **kwargs: Any) -> list[ICue]:
        """Negative fluorescence maxima ``fl1_max`` ... ``fl3_max`` (alert)."""
        cues = []
        stored = self._stored()
        for feat in ("fl1_max", "fl2_max", "fl3_max"):
            if feat not in stored or feat in self._feature_problems():
                continue
            count = sum(int(np.count_nonzero(chunk < 0))
                        for chunk in self._scalar_chunks(feat))
            if count:
                cues.append(ICue(
                    f"Feature '{feat}' is negative for {count} of "
                    f"{len(self.ds)} events", "alert", "feature data",
                    data={"feature": feat, "count": count},
                    identifier="fl-max-negative"))
        return cues

    def check_temp_zero(self, **kwargs: Any) -> list[ICue]:
        """A ``temp`` feature that is zero for every event (alert): the
        temperature sensor was not connected."""
        if "temp" not in self._stored() or "temp" in self._feature_problems() \
                or len(self.ds) == 0:
            return []
        if all(not np.any(chunk != 0) for chunk in self._scalar_chunks("temp")):
            return [ICue("Feature 'temp' is zero for all events (temperature "
                         "not recorded?)", "alert", "feature data",
                         identifier="temp-all-zero")]
        return []

    def check_images(self, **kwargs: Any) -> list[ICue]:
        """Data type, size and HDF5 attributes of ``image``, ``image_bg`` and
        ``mask``; size of the mask against the image."""
        events = self._events
        if events is None:
            return []
        cues = []
        roi = (self._config("imaging", "roi size y"),
               self._config("imaging", "roi size x"))
        shapes = {}
        for feat in ("image", "image_bg", "mask"):
            obj = events.get(feat)
            if not isinstance(obj, h5py.Dataset):
                continue
            allowed = ("uint8", "bool") if feat == "mask" else ("uint8",)
            if obj.ndim != 3 or obj.dtype.name not in allowed:
                cues.append(ICue(
                    f"Feature '{feat}' must be an (N, H, W) array of "
                    f"{' or '.join(allowed)}, got {obj.dtype} with shape "
                    f"{obj.shape}", "violation", "image",
                    identifier="image-dtype", data={"feature": feat}))
            if obj.ndim != 3:
                continue
            shapes[feat] = obj.shape[1:]
            if all(isinstance(v, int) for v in roi) and obj.shape[1:] != roi:
                cues.append(ICue(
                    f"Feature '{feat}' has images of {obj.shape[2]} x "
                    f"{obj.shape[1]} pixels, but [imaging] 'roi size x/y' is "
                    f"{roi[1]} x {roi[0]}", "violation", "image",
                    cfg_section="imaging", identifier="image-shape",
                    data={"feature": feat}))
            wrong = [f"{attr} is {_attr_text(obj.attrs.get(attr))!r}"
                     for attr, value in IMAGE_ATTRIBUTES.items()
                     if _attr_text(obj.attrs.get(attr)) != value]
            if wrong:
                cues.append(ICue(
                    f"Feature '{feat}' lacks the HDF5 image attributes: "
                    f"{', '.join(wrong)} (expected {IMAGE_ATTRIBUTES})", "alert",
                    "image", identifier="image-attributes",
                    data={"feature": feat}))
        if "mask" in shapes and "image" in shapes and shapes["mask"] != shapes["image"]:
            cues.append(ICue(
                f"Masks have {shapes['mask'][1]} x {shapes['mask'][0]} pixels, "
                f"images {shapes['image'][1]} x {shapes['image'][0]}",
                "violation", "image", identifier="mask-shape"))
        return cues

    def check_contour(self, sample_events: int = 1000, mask_events: int = 10,
                      **kwargs: Any) -> list[ICue]:
        """Contours of a sample of events: (M, 2) arrays (violation), inside
        the image (violation), at least 3 points (alert), on event pixels
        of the mask (alert)."""
        if "contour" not in self.ds.features_innate \
                or "contour" in self._feature_problems() or len(self.ds) == 0:
            return []
        size = len(self.ds)
        picks = np.unique(np.linspace(0, size - 1, min(size, sample_events))
                          .round().astype(int))
        mask_picks = set(picks[np.unique(np.linspace(
            0, len(picks) - 1, min(len(picks), mask_events)).round().astype(int))]
            .tolist())
        height, width = self._image_size()
        has_mask = "mask" in self.ds.features_innate \
            and "mask" not in self._feature_problems()
        found: dict[str, list[int]] = {"shape": [], "outside": [], "short": [],
                                       "mask": []}
        contours = self.ds["contour"]
        for index in picks.tolist():
            cont = np.asarray(contours[index])
            if cont.ndim != 2 or cont.shape[1] != 2:
                found["shape"].append(index)
                continue
            if len(cont) < 3:
                found["short"].append(index)
            if not len(cont):
                continue
            x, y = cont[:, 0].astype(np.int64), cont[:, 1].astype(np.int64)
            inside = (x >= 0) & (y >= 0)
            if width is not None:
                inside &= (x < width) & (y < height)
            if not inside.all():
                found["outside"].append(index)
            elif has_mask and index in mask_picks:
                mask = np.asarray(self.ds["mask"][index])
                if mask.shape[0] > y.max() and mask.shape[1] > x.max() \
                        and not mask[y, x].all():
                    found["mask"].append(index)
        kinds = {
            "shape": ("violation", "contour-shape", "are not (M, 2) arrays"),
            "outside": ("violation", "contour-outside",
                        f"have points outside the image ({width} x {height} px)"),
            "short": ("alert", "contour-short", "have fewer than 3 points"),
            "mask": ("alert", "contour-mask",
                     "have points that are not event pixels of the mask"),
        }
        cues = []
        for kind, events in found.items():
            if events:
                level, ident, what = kinds[kind]
                checked = len(mask_picks) if kind == "mask" else len(picks)
                cues.append(ICue(
                    f"{len(events)} of {checked} checked contours {what} "
                    f"(events {_first_few(events)})", level, "contour",
                    data={"events": events, "checked": checked},
                    identifier=ident))
        return cues

    def _image_size(self) -> tuple[int | None, int | None]:
        """(height, width) of the event images: image, mask or roi size."""
        events = self._events
        for feat in ("image", "mask"):
            obj = None if events is None else events.get(feat)
            if isinstance(obj, h5py.Dataset) and obj.ndim == 3:
                return int(obj.shape[1]), int(obj.shape[2])
        height = self._config("imaging", "roi size y")
        width = self._config("imaging", "roi size x")
        if isinstance(height, int) and isinstance(width, int):
            return height, width
        return None, None

    def check_traces(self, **kwargs: Any) -> list[ICue]:
        """Fluorescence traces: known names (alert) and as many samples as
        ``fluorescence:samples per event`` (violation)."""
        events = self._events
        group = None if events is None else events.get("trace")
        if not isinstance(group, h5py.Group):
            return []
        cues = []
        samples = self._config("fluorescence", "samples per event")
        for key in sorted(group):
            item = group[key]
            if key not in dfn.FLUOR_TRACES:
                cues.append(ICue(
                    f"Unknown fluorescence trace '{key}' (known: "
                    f"{', '.join(dfn.FLUOR_TRACES)})", "alert", "traces",
                    identifier="trace-unknown"))
            if not isinstance(item, h5py.Dataset) or item.ndim != 2:
                cues.append(ICue(
                    f"Trace '{key}' must be an (events, samples) array, got "
                    f"{getattr(item, 'shape', 'a group')}", "violation",
                    "traces", identifier="trace-samples"))
            elif isinstance(samples, int) and item.shape[1] != samples:
                cues.append(ICue(
                    f"Trace '{key}' has {item.shape[1]} samples per event, but "
                    f"[fluorescence] 'samples per event' is {samples}",
                    "violation", "traces", cfg_section="fluorescence",
                    cfg_key="samples per event", identifier="trace-samples"))
        return cues

    # storage -------------------------------------------------------------
    def check_compression(self, **kwargs: Any) -> list[ICue]:
        """How the features are compressed (info); uncompressed ones (alert).

        A feature counts as compressed when its dataset(s) use a compression
        filter (gzip, szip, Zstandard, ...); "Zstandard level >= 5 and
        checksums" is what cytolab writes. Of large contour groups only the
        first 100 datasets are inspected.
        """
        events = self._events
        if events is None:
            return []
        compressed, proper, plain = [], [], []
        for name in sorted(events):
            dsets = _feature_datasets(events[name])
            if not dsets:
                continue
            if all(_is_compressed(d) for d in dsets):
                compressed.append(name)
                if all(is_properly_compressed(d) for d in dsets):
                    proper.append(name)
            else:
                plain.append(name)
        total = len(compressed) + len(plain)
        if not total:
            return []
        if not plain:
            what = f"all {total} features compressed"
        else:
            what = f"{len(compressed)} of {total} features compressed"
        data = {"compressed": len(compressed), "uncompressed": len(plain),
                "properly compressed": len(proper), "total": total}
        cues = [ICue(f"Compression: {what} ({len(proper)} with Zstandard level "
                     f">= 5 and checksums)", "info", "compression", data=data,
                     identifier="compression")]
        if plain:
            cues.append(ICue(
                f"Features stored without compression: {', '.join(plain)} "
                f"('cytolab compress' rewrites the file compressed)", "alert",
                "compression", data={"features": plain},
                identifier="compression-missing"))
        return cues

    def check_basins(self, **kwargs: Any) -> list[ICue]:
        """Basins that cannot be used (alert) or are not supported (info)."""
        cues = []
        bdicts = self.ds.basins_get_dicts()
        try:
            basins = self.ds.basins
        except Exception as exc:  # noqa: BLE001
            return [ICue(f"Cannot set up the basins: {exc}", "alert", "basins",
                         identifier="basin-unavailable")]
        built = {basin.key for basin in basins}
        for bdict in bdicts:
            name = bdict.get("name") or bdict.get("key")
            kind = (bdict.get("type"), bdict.get("format"))
            if kind not in BASIN_CLASSES:
                cues.append(ICue(
                    f"Basin '{name}' has type/format {kind[0]}/{kind[1]}, which "
                    f"cytolab does not support (ignored)", "info", "basins",
                    identifier="basin-unsupported"))
            elif bdict.get("key") not in built and kind[0] == "file":
                cues.append(ICue(f"Basin '{name}' has no location", "alert",
                                 "basins", identifier="basin-unavailable"))
        for basin in basins:
            if not basin.is_available():
                cues.append(ICue(
                    f"Basin '{basin.name}' cannot be used: "
                    f"{basin.unavailable_reason}", "alert", "basins",
                    data={"location": str(basin.location)},
                    identifier="basin-unavailable"))
        return cues

    def check_logs(self, **kwargs: Any) -> list[ICue]:
        """Logs that are not readable text (alert); no logs is fine."""
        h5 = self._h5
        logs = None if h5 is None else h5.get("logs")
        if not isinstance(logs, h5py.Group):
            return []
        cues = []
        for name in sorted(logs):
            item = logs[name]
            try:
                if not isinstance(item, h5py.Dataset):
                    raise TypeError("a group, not a dataset")
                if h5py.check_string_dtype(item.dtype) is None \
                        and item.dtype.kind not in "SU":
                    raise TypeError(f"{item.dtype} data, not text")
                read_text_lines(item)
            except Exception as exc:  # noqa: BLE001
                cues.append(ICue(f"Log '{name}' is not readable text: {exc}",
                                 "alert", "logs", identifier="log-unreadable"))
        return cues

    def check_load_warnings(self, **kwargs: Any) -> list[ICue]:
        """Warnings raised while opening the file (alert), except those a
        dedicated check reports (unknown metadata, invalid values, basins,
        feature sizes)."""
        cues = []
        seen = set()
        problems = self._feature_problems()
        for category, message in self.load_warnings:
            if issubclass(category, _COVERED_WARNINGS) or message in seen:
                continue
            if issubclass(category, BadFeatureSizeWarning) and any(
                    f"'{name.split('/')[0]}'" in message for name in problems):
                continue
            seen.add(message)
            cues.append(ICue(f"{category.__name__}: {message}", "alert",
                             "warning", identifier="load-warning",
                             data={"category": category.__name__}))
        return cues


# module helpers ---------------------------------------------------------------


def _first_event_problem(events: h5py.Group, name: str) -> str | None:
    """Why the first event of an item of ``events`` cannot be read, or None."""
    try:
        obj = events[name]
        items = [obj] if isinstance(obj, h5py.Dataset) else \
            [obj[key] for key in list(obj)[:1]] if isinstance(obj, h5py.Group) \
            else None
        if items is None:
            return f"unexpected HDF5 object {type(obj).__name__}"
        for item in items:
            if not isinstance(item, h5py.Dataset):
                return f"'{item.name}' is not a dataset"
            if item.ndim == 0:
                item[()]
            elif item.shape[0]:
                item[0]
    except Exception as exc:  # noqa: BLE001  (any failure is the finding)
        return f"{type(exc).__name__}: {exc}"
    return None


def _shapein_version(text: str) -> tuple[int, ...] | None:
    """Shape-In version in ``setup:software version`` (None if another tool).

    Shape-In writes either ``"ShapeIn 2.0.7"`` or just the version
    (``"2.2.0.0"``); later tools append ``" | dclab 0.29.1"``.
    """
    first = text.split("|")[0].strip()
    match = re.fullmatch(r"(?:Shape-?In\s*)?(\d+(?:\.\d+)+)\S*", first,
                         flags=re.IGNORECASE)
    if match is None:
        return None
    return tuple(int(v) for v in match.group(1).split("."))


def _attr_text(value: Any) -> str | None:
    if value is None:
        return None
    value = decode_attr(value)
    return value if isinstance(value, str) else str(value)


def _feature_datasets(obj: Any) -> list[h5py.Dataset]:
    """The datasets of a feature whose compression matters (at most 100)."""
    if isinstance(obj, h5py.Dataset):
        dsets = [obj]
    elif isinstance(obj, h5py.Group):
        dsets = [obj[key] for key in list(obj)[:100]]
        dsets = [d for d in dsets if isinstance(d, h5py.Dataset)]
    else:
        return []
    # datasets that cannot be filtered (0-d, empty item shape) do not count
    return [d for d in dsets
            if d.ndim >= 1 and all(int(s) > 0 for s in d.shape[1:])]


def _is_compressed(dset: h5py.Dataset) -> bool:
    """Whether a dataset uses a compression filter (not just checksums)."""
    plist = dset.id.get_create_plist()
    codes = {plist.get_filter(ii)[0] for ii in range(plist.get_nfilters())}
    return bool(codes - _NON_COMPRESSING_FILTERS)


def _first_few(items: Sequence[int], count: int = 5) -> str:
    text = ", ".join(str(i) for i in items[:count])
    return text + (", ..." if len(items) > count else "")
