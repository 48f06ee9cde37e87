"""The legacy ``.tdms`` format of RT-DC measurements (2015-2017): `RTDC_TDMS`.

A measurement ``M<n>`` is a set of files in one folder:

* ``M<n>_<name>.tdms``: the event table (group ``"Cell Track"``, one column
  per feature; see :mod:`.naming` for the column names),
* ``M<n>_para.ini`` and ``M<n>_camera.ini``: the metadata (required; see
  :mod:`.config` for what else is read),
* ``M<n>_*.avi``: the event images, one frame per event (optional),
* ``M<n>_*contours.txt``: the event contours (optional; ``mask`` is
  computed from them),
* ``<name>_traces.tdms``: the fluorescence traces (optional).

Missing optional files mean that the features they hold are absent. Reading
needs the ``tdms`` extra (``pip install "cytolab[tdms]"``: nptdms, and
imageio-ffmpeg for the video). ``cytolab tdms2rtdc`` converts measurements
to ``.rtdc`` files.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import re
import warnings
from typing import Any

import numpy as np

from ....errors import BadFeatureSizeWarning, FileFormatError
from ....features.moments import moments_features
from ....io import md5_5m, md5sum
from ...config import Configuration
from ...core import RTDCBase
from . import naming
from .config import extract_metadata, log_files, read_text, required_files
from .contour import ContourFile, ContourMasks, open_contours
from .exc import (
    BrokenVideoWarning,
    ContourMismatchWarning,
    IncompleteTDMSError,
    InvalidTDMSError,
    MissingFramesWarning,
    TDMSWarning,
    TraceWarning,
    TruncatedTDMSWarning,
)
from .table import read_table
from .traces import TraceSource, find_trace_file
from .video import (
    VideoImages,
    VideoReader,
    detect_frame_offset,
    open_video,
    warn_missing_frames,
)

__all__ = [
    "BrokenVideoWarning",
    "ContourMismatchWarning",
    "IncompleteTDMSError",
    "InvalidTDMSError",
    "MissingFramesWarning",
    "RTDC_TDMS",
    "TDMSWarning",
    "TraceWarning",
    "TruncatedTDMSWarning",
    "get_project_name_from_path",
    "get_tdms_files",
    "naming",
]

#: ``video frame offset`` when para.ini does not give it and the video
#: cannot tell (the behaviour of the Shape-In versions that lacked the key)
DEFAULT_FRAME_OFFSET = 1


class _Parts:
    """Everything read from a measurement (shared by the class and the
    static metadata extraction)."""

    def __init__(self, path: pathlib.Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"TDMS file not found: '{path}'")
        if not path.is_file():
            raise FileFormatError(f"'{path}' is not a file")
        required_files(path)
        self.features, trace_index = read_table(path)
        self.length = len(next(iter(self.features.values())))
        self.trace_source: TraceSource | None = None
        self.video: VideoReader | None = None
        self.contour_file: ContourFile | None = None
        try:
            trace_path = find_trace_file(path)
            if trace_path is not None:
                self.trace_source = TraceSource(trace_path, trace_index,
                                                self.length, path)
            fluorescence = any(re.match(r"fl\d_", f) for f in self.features) \
                or bool(self.trace_source and self.trace_source.traces)
            self.meta, self.sources = extract_metadata(
                path, self.features, self.length, fluorescence)
            if self.trace_source and self.trace_source.samples_per_event:
                self.meta.setdefault("fluorescence", {})["samples per event"] = \
                    self.trace_source.samples_per_event
                self.sources.append(self.trace_source.path)
            self._setup_video(path)
        except BaseException:
            self.close()
            raise

    def _setup_video(self, path: pathlib.Path) -> None:
        self.video = open_video(path)
        fmt = self.meta.setdefault("fmt_tdms", {})
        if self.video is None:
            return
        self.sources.append(self.video.path)
        if "video frame offset" not in fmt:
            pixel = self.meta.get("imaging", {}).get("pixel size")
            pos = None
            if pixel and "pos_x" in self.features and "pos_y" in self.features:
                pos = (self.features["pos_x"][:2] / pixel,
                       self.features["pos_y"][:2] / pixel)
            offset = detect_frame_offset(self.video, self.length, pos)
            fmt["video frame offset"] = DEFAULT_FRAME_OFFSET if offset is None \
                else offset

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.contour_file is not None:
            self.contour_file.close()
        if self.trace_source is not None:
            self.trace_source.close()


class RTDC_TDMS(RTDCBase):
    """A legacy RT-DC measurement in the ``.tdms`` format.

    Parameters
    ----------
    tdms_path
        Path to the measurement's ``.tdms`` file (not ``*_traces.tdms``).
    identifier
        Unique identifier of this instance.
    enable_basins
        Accepted for a uniform interface (TDMS data have no basins).

    Attributes
    ----------
    path : pathlib.Path
        The ``.tdms`` file.

    Raises
    ------
    FileNotFoundError
        If `tdms_path` does not exist.
    IncompleteTDMSError
        If ``M<n>_para.ini`` or ``M<n>_camera.ini`` is missing.
    InvalidTDMSError
        If the file is damaged or holds no event table.

    Notes
    -----
    * Scalar features are read into memory on opening; ``image`` (from the
      video), ``contour``, ``mask`` (filled contours) and the traces are read
      per event on access and support integer, slice and index-array
      indexing. Reading events in increasing order is fastest (the video is
      decoded sequentially).
    * ``image``: event ``i`` shows video frame ``i - offset`` (``fmt_tdms:
      video frame offset`` from ``para.ini``; when it is not given it is
      guessed from the first frame, see
      :func:`.video.detect_frame_offset`). Events without a frame get a zero
      image (one :class:`MissingFramesWarning`).
    * ``contour``: matched to the events by frame number; events without a
      matching entry get an empty ``(0, 2)`` contour (one
      :class:`ContourMismatchWarning`); ``mask`` has the image size (the
      camera ROI size when there is no video).
    * ``trace``: discarded (:class:`TraceWarning`) when events have
      different numbers of samples.
    * ``inert_ratio_cvx``/``inert_ratio_raw`` recorded by Shape-In < 2.0.5
      may have overflowed (32-bit moments): as for ``.rtdc`` files, the
      events reaching furthest right are recomputed from their contours and
      disagreeing features are hidden (recomputed) with a warning.

    Examples
    --------
    >>> import cytolab
    >>> ds = cytolab.new_dataset("M1_data.tdms")  # doctest: +SKIP
    >>> ds.format, ds.config["fmt_tdms"]["video frame offset"]  # doctest: +SKIP
    ('tdms', 0)
    """

    format = "tdms"
    _local_basins_allowed = False

    def __init__(self, tdms_path: str | os.PathLike, identifier: str | None = None,
                 enable_basins: bool = True, *args: Any, **kwargs: Any) -> None:
        super().__init__(identifier=identifier, enable_basins=enable_basins)
        self.path = pathlib.Path(tdms_path).resolve()
        self._parts = _Parts(self.path)
        try:
            self._setup()
        except BaseException:
            self._parts.close()
            raise

    def _setup(self) -> None:
        parts = self._parts
        self.config = Configuration(cfg=parts.meta)
        events: dict[str, Any] = dict(parts.features)
        offset = int(parts.meta.get("fmt_tdms", {}).get("video frame offset", 0))
        shape = None
        if parts.video is not None:
            images = VideoImages(parts.video, parts.length, offset)
            warn_missing_frames(images, self.path)
            events["image"] = images
            shape = parts.video.shape
        else:
            imaging = parts.meta.get("imaging", {})
            if imaging.get("roi size x") and imaging.get("roi size y"):
                shape = (int(imaging["roi size y"]), int(imaging["roi size x"]))
        found = open_contours(self.path, parts.features.get("frame"))
        if found is not None:
            parts.contour_file, contours = found
            events["contour"] = contours
            if shape is not None:
                events["mask"] = ContourMasks(contours, shape)
        if parts.trace_source is not None and parts.trace_source.traces:
            events["trace"] = parts.trace_source.traces
        for feat, reason in _defective_inertia(events, self.config).items():
            warnings.warn(f"Ignoring stored feature '{feat}' of '{self.path}': "
                          f"{reason}", BadFeatureSizeWarning, stacklevel=3)
            events.pop(feat)
        self._events = events
        self._length = parts.length
        self._logs = {p.name: read_text(p).splitlines() for p in log_files(self.path)}
        self._hash: str | None = None

    def _get_length(self) -> int:
        return self._length

    @property
    def hash(self) -> str:
        """MD5 of the file name, its first 5 MiB and the two ini files."""
        if self._hash is None:
            hasher = hashlib.md5(self.path.name.encode())
            hasher.update(md5_5m(self.path).encode())
            for path in required_files(self.path):
                hasher.update(md5sum(path).encode())
            self._hash = hasher.hexdigest()
        return self._hash

    @staticmethod
    def can_open(path: str | os.PathLike) -> bool:
        """Whether `path` is a ``.tdms`` file (by its name)."""
        return pathlib.Path(path).suffix.lower() == ".tdms"

    @staticmethod
    def extract_tdms_config(path: str | os.PathLike, ret_source_files: bool = False
                            ) -> Configuration | tuple[Configuration,
                                                       list[pathlib.Path]]:
        """Metadata of a TDMS measurement, as ``RTDC_TDMS(path).config``.

        Parameters
        ----------
        path
            The ``.tdms`` file.
        ret_source_files
            Also return the files the metadata came from.

        Returns
        -------
        Configuration or (Configuration, list of pathlib.Path)
        """
        parts = _Parts(pathlib.Path(path).resolve())
        try:
            cfg = Configuration(cfg=parts.meta)
            sources = list(parts.sources)
        finally:
            parts.close()
        return (cfg, sources) if ret_source_files else cfg

    def close(self) -> None:
        """Close the video, contour and trace files."""
        super().close()
        parts = getattr(self, "_parts", None)
        if parts is not None:
            parts.close()


def _defective_inertia(events: dict[str, Any], config: Configuration
                       ) -> dict[str, str]:
    """Stored inertia ratios of Shape-In < 2.0.5 that overflowed."""
    version = str(config["setup"].get("software version", ""))
    match = re.search(r"(?:ShapeIn|Shape-In)\s*(\d+)\.(\d+)\.(\d+)", version)
    stored = [f for f in ("inert_ratio_cvx", "inert_ratio_raw") if f in events]
    if match is None or tuple(int(v) for v in match.groups()) >= (2, 0, 5) \
            or not stored or "contour" not in events:
        return {}
    contours = events["contour"]
    reach = np.asarray(events.get("pos_x", np.zeros(len(contours))), dtype=float)
    if "size_x" in events:
        reach = reach + np.asarray(events["size_x"], dtype=float) / 2
    reach = np.where(np.isfinite(reach), reach, -np.inf)
    picks = [int(i) for i in np.argsort(reach)[::-1]
             if len(contours[int(i)]) > 2][:5]
    if not picks:
        return {}
    fresh = moments_features([contours[i] for i in picks], features=stored)
    defective = {}
    for feat in stored:
        old = np.asarray(events[feat], dtype=float)[picks]
        new = np.asarray(fresh[feat], dtype=float)
        same = np.isclose(old, new, rtol=1e-3, atol=1e-6) | (np.isnan(old)
                                                             & np.isnan(new))
        if not same.all():
            defective[feat] = ("computed with overflowing integer moments by "
                               f"{version} (recomputed from the contours)")
    return defective


def get_project_name_from_path(path: str | os.PathLike, append_mx: bool = False
                               ) -> str:
    """Name of the project a measurement belongs to, from its path.

    The measurement files are in ``<project>/online/`` or
    ``<project>/online/data/`` (``offline`` instead of ``online`` also
    works); otherwise the folder of the file is the project.

    Parameters
    ----------
    path
        A ``.tdms`` file or a folder.
    append_mx
        Append ``_M<n>``, the measurement id of the ``.tdms`` file.

    Returns
    -------
    str

    Examples
    --------
    >>> get_project_name_from_path("/data/HLC12398/online/M1_13.tdms")
    'HLC12398'
    >>> get_project_name_from_path("/data/HLC12398/online/data/M1_13.tdms",
    ...                            append_mx=True)
    'HLC12398_M1'
    """
    path = pathlib.Path(path)
    if path.suffix.lower() == ".tdms":
        folder = path.parent
        mid = path.stem.split("_")[0]
    else:
        folder = path if path.is_dir() else path.parent
        mid = ""
    names = [folder.name, folder.parent.name, folder.parent.parent.name]
    if names[0].lower() in ("online", "offline"):
        project = names[1]
    elif names[0].lower() == "data" and names[1].lower() in ("online", "offline"):
        project = names[2]
    else:
        project = names[0]
    if append_mx and mid:
        project = f"{project}_{mid}"
    return project


def get_tdms_files(directory: str | os.PathLike) -> list[pathlib.Path]:
    """All measurement ``.tdms`` files below `directory` (recursive, sorted).

    Trace files (``*_traces.tdms``) are left out.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["b/M2_data.tdms", "a/M1_data.tdms", "a/M1_data_traces.tdms"]:
    ...     (folder / name).parent.mkdir(exist_ok=True)
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.relative_to(folder).as_posix() for p in get_tdms_files(folder)]
    ['a/M1_data.tdms', 'b/M2_data.tdms']
    """
    root = pathlib.Path(directory).resolve()
    return sorted(p for p in root.rglob("*.tdms")
                  if p.is_file() and not p.name.endswith("_traces.tdms"))
