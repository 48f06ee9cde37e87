"""The event table of a ``.tdms`` measurement (group ``"Cell Track"``)."""
from __future__ import annotations

import contextlib
import logging
import pathlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ....errors import UnknownFeatureWarning
from . import naming
from .exc import InvalidTDMSError, TruncatedTDMSWarning, nptdms_module


@contextlib.contextmanager
def captured_nptdms_log() -> Iterator[list[str]]:
    """Collect what nptdms logs instead of letting it print to stderr.

    nptdms gives each of its module loggers a console handler of its own;
    while the context is active those handlers are replaced by one that
    collects the messages.
    """
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    try:
        from nptdms.log import log_manager
        loggers = list(log_manager.loggers.values())
        console = log_manager.console_handler
    except (ImportError, AttributeError):  # pragma: no cover - other nptdms
        loggers, console = [], None
    loggers.append(logging.getLogger("nptdms"))
    saved = [(lg, list(lg.handlers), lg.propagate) for lg in loggers]
    for lg in loggers:
        if console is not None and console in lg.handlers:
            lg.removeHandler(console)
        lg.addHandler(handler)
        lg.propagate = False
    try:
        yield messages
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers = handlers
            lg.propagate = propagate


def open_tdms(path: pathlib.Path) -> Any:
    """Read a whole ``.tdms`` file with nptdms (clear errors, no log spam).

    Returns
    -------
    nptdms.TdmsFile
        The file, read into memory.

    Raises
    ------
    InvalidTDMSError
        If nptdms cannot read the file.
    """
    nptdms = nptdms_module()
    with captured_nptdms_log() as messages:
        try:
            tdms = nptdms.TdmsFile.read(str(path))
        except Exception as exc:  # nptdms raises many kinds on bad data
            raise InvalidTDMSError(
                f"Cannot read '{path}' as a TDMS file (damaged or not TDMS): "
                f"{type(exc).__name__}: {exc}") from exc
    if messages:
        warnings.warn(f"'{path}' is truncated or incomplete (nptdms: "
                      f"{'; '.join(dict.fromkeys(messages))})",
                      TruncatedTDMSWarning, stacklevel=3)
    return tdms


def channel_data(tdms: Any, group: str, channel: str) -> np.ndarray | None:
    """Data of one channel, or None if it is missing or empty."""
    try:
        data = tdms[group][channel][:]
    except KeyError:
        return None
    data = np.asarray(data)
    if data.size == 0 or data.dtype.kind == "V":
        return None
    return data


def read_table(path: pathlib.Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The features of the event table, all cut to the same length.

    Parameters
    ----------
    path
        The measurement ``.tdms`` file.

    Returns
    -------
    features : dict
        Feature name -> read-only array (see :mod:`.naming`).
    trace_index : numpy.ndarray or None
        First trace sample of each event (column ``FL1index``), same length.

    Raises
    ------
    InvalidTDMSError
        If the file is damaged or has no usable event table.
    """
    tdms = open_tdms(path)
    groups = [g.name for g in tdms.groups()]
    if not groups:
        raise InvalidTDMSError(f"'{path}' holds no TDMS data (damaged, empty "
                               f"or not a TDMS file)")
    if naming.TABLE_GROUP not in groups:
        raise InvalidTDMSError(
            f"'{path}' has no '{naming.TABLE_GROUP}' group of RT-DC events "
            f"(groups: {groups}); is it a trace file or not RT-DC data?")
    columns: dict[str, np.ndarray] = {}
    unknown = []
    for channel in tdms[naming.TABLE_GROUP].channels():
        name = channel.name
        feat = naming.COLUMN_TO_FEATURE.get(name)
        if feat is None:
            if name not in naming.COLUMNS_IGNORED:
                unknown.append(name)
            continue
        data = channel_data(tdms, naming.TABLE_GROUP, name)
        if data is not None:
            columns[feat] = data
    if unknown:
        warnings.warn(f"Ignoring columns of '{path}' that have no cytolab "
                      f"feature: {unknown}", UnknownFeatureWarning, stacklevel=2)
    if not columns:
        raise InvalidTDMSError(f"'{path}' holds no event data (no known, "
                               f"non-empty column in '{naming.TABLE_GROUP}')")
    trace_index = channel_data(tdms, naming.TABLE_GROUP, naming.TRACE_INDEX_COLUMN)
    lengths = {feat: len(data) for feat, data in columns.items()}
    size = min(lengths.values())
    if len(set(lengths.values())) > 1:
        longer = sorted(f for f, n in lengths.items() if n > size)
        warnings.warn(f"Columns of '{path}' have different lengths "
                      f"({min(lengths.values())} to {max(lengths.values())} "
                      f"events; truncated file?): using the first {size} events "
                      f"of {longer}", TruncatedTDMSWarning, stacklevel=2)
    features = {feat: _as_feature(feat, data[:size]) for feat, data in columns.items()}
    if trace_index is not None:
        trace_index = trace_index[:size] if len(trace_index) >= size else None
    return features, trace_index


def _as_feature(feat: str, data: np.ndarray) -> np.ndarray:
    """Read-only copy; counters become integers when they are whole numbers."""
    if feat in naming.INTEGER_FEATURES and data.dtype.kind == "f" \
            and np.all(np.isfinite(data)) and np.all(data == np.round(data)):
        data = data.astype(np.int64)
    else:
        data = np.array(data, copy=True)
    data.flags.writeable = False
    return data
