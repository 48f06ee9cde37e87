"""Errors and warnings of the legacy TDMS format."""
from __future__ import annotations

from ....errors import CytolabWarning, FileFormatError

NPTDMS_HINT = 'the TDMS format needs nptdms: pip install "cytolab[tdms]"'
VIDEO_HINT = ('reading TDMS video files needs imageio-ffmpeg: '
              'pip install "cytolab[tdms]"')


class IncompleteTDMSError(FileFormatError):
    """A file that a TDMS measurement needs (e.g. ``M1_para.ini``) is missing."""


class InvalidTDMSError(FileFormatError):
    """A ``.tdms`` file is damaged or holds no RT-DC event table."""


class TDMSWarning(CytolabWarning):
    """Base class of the warnings about legacy TDMS data."""


class TruncatedTDMSWarning(TDMSWarning):
    """A TDMS file ends early; only the complete events are used."""


class MissingFramesWarning(TDMSWarning):
    """Some events have no frame in the video (they get a zero image)."""


class BrokenVideoWarning(TDMSWarning):
    """The video cannot be read; the dataset has no ``image`` feature."""


class ContourMismatchWarning(TDMSWarning):
    """Some events have no matching entry in the contour file."""


class TraceWarning(TDMSWarning):
    """Trace data cannot be used completely (ignored or partly missing)."""


def nptdms_module():
    """Import :mod:`nptdms` (a clear ImportError if it is not installed)."""
    try:
        import nptdms
    except ImportError as exc:  # pragma: no cover - installed in the test env
        raise ImportError(NPTDMS_HINT) from exc
    return nptdms
