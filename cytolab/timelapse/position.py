"""One field of view of a movie: its regions of interest and corrections.

A :class:`Position` holds the :class:`~.roi.ROI` objects of one microscope
position, the rotation and per-frame drift applied to its frames before the
regions were cut out, and writes the results: a netCDF file (one group per
ROI, ``roi00``, ``roi01``, ..., plus the position's own variables in the
root group) and movies with the cells outlined in their lineage colours.

It runs the steps of the pipeline on its frames: :meth:`Position.preprocess`
(rotation, chambers, drift: :mod:`.preprocess`), :meth:`Position.segment`
(the images of all regions through the ``seg`` network together) and
:meth:`Position.track`, each network loaded once per position.

Root group of a position file: attributes ``schema``
(``"cytolab-timelapse-position/1"``), ``position_nb``, ``rotate`` [degrees],
``frame_shape`` (Y, X of the original frames), ``roi_count``, ``config``
(JSON) and ``cytolab_version``; variable ``drift_values`` (frame, xy) with
the (x, y) drift of each frame in pixels.
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from .. import _progress
from .._version import __version__
from ..errors import CytolabError, FileFormatError
from ..io.files import atomic_path
from .boxes import CroppingBox
from .config import Config
from .diffs import color_diff, compare_arrays, report
from .geometry import correct_drift, rotate
from .predict import resolve_model, segment_frames
from .preprocess import as_frames, correct_frames
from .preprocess import find_roi_boxes as _find_roi_boxes
from .roi import ROI, import_xarray
from .video import overlay_frame, random_colors, write_video

#: Identifies position files laid out as described in this module
POSITION_SCHEMA = "cytolab-timelapse-position/1"

#: Output formats of :meth:`Position.save` and their file suffixes
SAVE_FORMATS = {"netCDF": ".nc", "movie": ".mp4", "labeled-movie": "_labeled.mp4"}


class Position:
    """The regions of interest of one position, with the corrections made.

    Parameters
    ----------
    position_nb
        Number of the position in the experiment.
    config
        Processing configuration.

    Attributes
    ----------
    rois : list of ROI
        The regions, in the order of their numbers.
    rotate : float
        Rotation [degrees] applied to the frames before cutting out regions.
    drift_values : ndarray
        (frames, 2) drift (x, y) [px] corrected in each frame.
    frame_shape : tuple of int or None
        Shape (Y, X) of the original frames.
    models : dict
        Networks by name (``"rois"``, ``"seg"``, ``"track"``): objects with
        ``predict``, ONNX file paths or PyTorch modules, used instead of
        those of the configuration; networks loaded from the configuration
        are kept here, so each is loaded once (see :meth:`get_model`).
    """

    def __init__(self, position_nb: int, config: Config) -> None:
        self.position_nb = int(position_nb)
        self.config = config
        self.rois: list[ROI] = []
        self.rotate = 0.0
        self.drift_values = np.zeros((0, 2))
        self.frame_shape: tuple[int, int] | None = None
        self.models: dict[str, Any] = {}
        self._saved: pathlib.Path | None = None

    # -- processing ------------------------------------------------------------
    def get_model(self, name: str) -> Any:
        """The network `name`, loaded once (see :attr:`models`)."""
        model = self.models.get(name)
        if model is None or not hasattr(model, "predict"):
            model = resolve_model(self.config, name, model)
            self.models[name] = model
        return model

    @staticmethod
    def find_roi_boxes(reference: np.ndarray, config: Config,
                       min_overlap_crop: int = 24, *, model: Any = None
                       ) -> list[CroppingBox]:
        """Chambers of a (straightened) frame found by the ``rois`` network.

        See :func:`.preprocess.find_roi_boxes`: bounding boxes of the
        chambers, left to right (the frame is seen at its own scale, in
        tiles of at most ``models.rois.target_size``).
        """
        return _find_roi_boxes(reference, config, min_overlap_crop, model=model)

    def preprocess(self, all_frames: Any, frames: range | None = None,
                   reference: np.ndarray | None = None) -> None:
        """Straighten the frames, find the regions, correct the drift.

        Parameters
        ----------
        all_frames
            Frames of this position, ``(frames, channels, Y, X)``: an
            xarray DataArray from :meth:`.xpreader.XPReader.images` or a
            NumPy array whose item ``i`` is frame ``i``. Channel 0 is the
            phase contrast image that is segmented; further channels are
            fluorescence, kept in the regions (:meth:`.roi.ROI.get_fluo`).
        frames
            Consecutive frame numbers to process (default: all given).
        reference
            Frame the corrections refer to (default: the first frame).

        Notes
        -----
        With ``correct_rotation``, the rotation that straightens the
        reference (:func:`.geometry.deskew`) is applied to all frames
        (:attr:`rotate`). Configurations with a ``rois`` model (mother
        machines) get one region per chamber found on the reference
        (:meth:`find_roi_boxes`), others one region for the whole frame.
        With ``correct_drift``, the drift of each frame relative to the
        reference is measured above the chambers (or on the whole frame)
        and corrected (:attr:`drift_values`). The regions are then cut out
        of the corrected frames.

        Raises
        ------
        ChamberDetectionError
            No chamber on the reference of a mother-machine position.
        ValueError
            Frames/reference of the wrong shape, or frames under 16 px.
        """
        stack, numbers = as_frames(all_frames, frames)
        self.frame_shape = (int(stack.shape[2]), int(stack.shape[3]))
        corrections = correct_frames(
            stack, self.config, reference, position_nb=self.position_nb,
            find_boxes=lambda image: self.find_roi_boxes(
                image, self.config, model=self.get_model("rois")))
        self.rotate = corrections.rotate
        self.drift_values = np.zeros((numbers.stop, 2))
        self.drift_values[numbers.start:] = corrections.drifts
        self.rois = [ROI(box.crop(corrections.frames), number, numbers.start, box,
                         self.config)
                     for number, box in enumerate(corrections.boxes)]

    def _frames(self, frames: range | None, roi: ROI) -> range:
        """The part of `frames` (default: all) that `roi` covers."""
        if frames is None:
            return roi.frames
        return range(max(frames.start, roi.frames.start),
                     min(frames.stop, roi.frames.stop))

    def segment(self, frames: range | None = None, *,
                progress_bar: bool = False) -> None:
        """Segment the cells of all regions.

        The images of all regions go through the ``seg`` network together,
        in calls of up to ``models.seg.chunk_size`` images.

        Parameters
        ----------
        frames
            Frames to segment (default: all).
        progress_bar
            Show progress.
        """
        jobs = [(roi, frame) for roi in self.rois
                for frame in self._frames(frames, roi)]
        with _progress.progress_bar(total=len(jobs), unit="images",
                                    desc=f"segmenting position {self.position_nb}",
                                    show=bool(progress_bar)) as bar:
            segment_frames(jobs, self.get_model("seg"), self.config.models["seg"],
                           done=bar.update)

    def track(self, frames: range | None = None, *,
              progress_bar: bool = False) -> None:
        """Track the cells of all regions (after :meth:`segment`).

        Parameters
        ----------
        frames
            Frames to track (default: all).
        progress_bar
            Show progress over the regions.
        """
        model = self.get_model("track")
        for roi in _progress.progress_bar(self.rois, unit="ROIs",
                                          desc=f"tracking position {self.position_nb}",
                                          show=bool(progress_bar)):
            roi_frames = self._frames(frames, roi)
            if len(roi_frames):
                roi.track(roi_frames, model)

    # -- results ---------------------------------------------------------------
    @property
    def frames(self) -> range:
        """Frames covered by any of the regions."""
        if not self.rois:
            return range(0)
        return range(min(r.frames.start for r in self.rois),
                     max(r.frames.stop for r in self.rois))

    def compute_growthrates(self, frames: range | None = None,
                            smooth_frames: int = 9, *,
                            exclude_edges: bool = True) -> None:
        """Growth rates of length and area of all cells (1/frame).

        Parameters
        ----------
        frames
            Unused; the lineage of each region covers its frames. Kept for
            the reference signature.
        smooth_frames
            Width of the centred smoothing window.
        exclude_edges
            Do not use the sizes of cells cut by the region's border (e.g.
            leaving a mother-machine chamber); see
            :meth:`~.lineage.Lineage.compute_growthrates`. On by default: a
            cut cell seems to shrink, which would pull its rates (and those
            of the frames around) far off.
        """
        for roi in self.rois:
            for feature in ("length", "area"):
                roi.lineage.compute_growthrates(feature, smooth_frames=smooth_frames,
                                                exclude_edges=exclude_edges)

    def _drift(self, frame: int) -> np.ndarray:
        if frame < len(self.drift_values):
            return np.asarray(self.drift_values[frame], dtype=float)
        return np.zeros(2)

    def roi_labels(self, roi: ROI, frame: int, *, undo_corrections: bool = True
                   ) -> np.ndarray:
        """Full-frame label image of one region at `frame` (0 elsewhere)."""
        if self.frame_shape is None:
            raise CytolabError(f"Position {self.position_nb} does not know the "
                               f"shape of its frames")
        full = np.zeros(self.frame_shape, dtype=np.uint16)
        if frame not in roi.frames:
            return full
        full = roi.box.patch(full, roi.get_labels(frame))
        if undo_corrections:
            full = correct_drift(full, -self._drift(frame))
            if self.rotate:
                full = rotate(full, -self.rotate, order=0)
        return full

    def labels(self, frames: range | None = None, *,
               undo_corrections: bool = True) -> list[np.ndarray]:
        """Full-frame label images (cell ids of each region).

        Parameters
        ----------
        frames
            Frames to draw (default: all).
        undo_corrections
            Undo the drift and rotation corrections, so that the labels lie
            on the original frames.

        Returns
        -------
        list of ndarray
            uint16 label images. Cell ids are those of each region's lineage
            (regions do not overlap, ids may repeat between regions).
        """
        out = []
        for frame in self.frames if frames is None else frames:
            full = np.zeros(self.frame_shape or (0, 0), dtype=np.uint16)
            for roi in self.rois:
                labels = self.roi_labels(roi, frame, undo_corrections=undo_corrections)
                full = np.where(labels > 0, labels, full)
            out.append(full)
        return out

    def results_movie(self, reader: Any, frames: range | None = None, *,
                      with_labels: bool = False) -> list[np.ndarray]:
        """Frames with the cells outlined in their lineage colours.

        Parameters
        ----------
        reader
            The :class:`~.xpreader.XPReader` of the experiment (the original
            frames are drawn on).
        frames
            Frames of the movie (default: all).
        with_labels
            Also write the cell ids next to the cells.

        Returns
        -------
        list of ndarray
            (Y, X, 3) uint8 RGB frames.
        """
        frames = self.frames if frames is None else frames
        colors = [random_colors(roi.lineage.cells, seed=roi.roi_nb)
                  for roi in self.rois]
        movie: list[np.ndarray] = []
        low = high = 0.0
        for frame in frames:  # read one input frame at a time
            image = np.asarray(reader.images(self.position_nb, channels=0,
                                             frames=range(frame, frame + 1)
                                             ).values[0, 0], dtype=np.float32)
            if not movie:  # grey levels of the first frame set the contrast
                low, high = np.percentile(image, [0.5, 99.5])
            image = np.clip((image - low) / max(high - low, 1e-12), 0, 1)
            rgb = overlay_frame(image, np.zeros(image.shape, np.uint16), {})
            for roi, roi_colors in zip(self.rois, colors, strict=True):
                labels = self.roi_labels(roi, frame)
                if labels.any():
                    rgb = overlay_frame(rgb, labels, roi_colors, cellids=with_labels)
            movie.append(rgb)
        return movie

    # -- files -----------------------------------------------------------------
    def save(self, filename: str | os.PathLike | None = None,
             frames: range | None = None, reader: Any = None,
             save_as: str | Sequence[str] = ("netCDF", "movie"), *,
             progress_bar: bool = False) -> list[pathlib.Path]:
        """Write the results.

        Parameters
        ----------
        filename
            Base name of the outputs (default ``Position<nb:06d>`` in the
            current folder); suffixes: ``.nc`` (netCDF), ``.mp4`` (movie),
            ``_labeled.mp4`` (labeled movie).
        frames
            Frames of the movies (default: all); the netCDF file always
            holds everything.
        reader
            The experiment's :class:`~.xpreader.XPReader`, needed for movies.
        save_as
            Any of ``"netCDF"``, ``"movie"``, ``"labeled-movie"``.
        progress_bar
            Show progress.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        formats = [save_as] if isinstance(save_as, str) else list(save_as)
        unknown = [f for f in formats if f not in SAVE_FORMATS]
        if unknown:
            raise ValueError(f"Unknown output formats {unknown}; valid: "
                             f"{list(SAVE_FORMATS)}")
        if reader is None and any(f != "netCDF" for f in formats):
            raise ValueError("Saving movies needs the experiment's reader "
                             "(reader=XPReader(...))")
        base = pathlib.Path(filename if filename is not None
                            else f"Position{self.position_nb:06d}")
        written = []
        for fmt in formats:
            path = base.with_name(base.name + SAVE_FORMATS[fmt])
            if fmt == "netCDF":
                self.to_netcdf(path, progress_bar=progress_bar)
            else:
                movie = self.results_movie(reader, frames,
                                           with_labels=fmt == "labeled-movie")
                write_video(movie, path, verbose=int(progress_bar))
            written.append(path)
        return written

    def to_netcdf(self, path: str | os.PathLike, *, progress_bar: bool = False,
                  **kwargs: Any) -> None:
        """Write the position to a netCDF file, one group per region.

        Parameters
        ----------
        path
            Output file (written under a temporary name, then renamed).
        progress_bar
            Show progress over the regions.
        **kwargs
            Passed to :meth:`ROI.to_netcdf`.
        """
        xr = import_xarray()
        root = xr.Dataset(
            {"drift_values": (("frame_drift", "xy"),
                              np.asarray(self.drift_values, dtype=np.float64)
                              .reshape(-1, 2))},
            coords={"xy": ["x", "y"]},
            attrs={"schema": POSITION_SCHEMA, "position_nb": self.position_nb,
                   "rotate": float(self.rotate),
                   "frame_shape": np.array(self.frame_shape or (0, 0), np.int64),
                   "roi_count": len(self.rois), "config": self.config.serialize(),
                   "cytolab_version": __version__})
        path = pathlib.Path(path)
        with atomic_path(path) as tmp:
            root.to_netcdf(tmp, mode="w", engine="h5netcdf")
            for roi in _progress.progress_bar(self.rois, desc="saving ROIs",
                                              show=bool(progress_bar)):
                roi.to_netcdf(tmp, group=f"roi{roi.roi_nb:02d}", mode="a", **kwargs)
        self._saved = path

    @classmethod
    def load_netcdf(cls, filename: str | os.PathLike) -> Position:
        """Read a position written by :meth:`to_netcdf`."""
        xr = import_xarray()
        if not os.path.exists(filename):
            raise FileNotFoundError(f"File not found: '{filename}'")
        try:
            root = xr.load_dataset(filename, engine="h5netcdf")
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"Cannot read '{filename}' as netCDF: {exc}"
                                  ) from exc
        if root.attrs.get("schema") != POSITION_SCHEMA:
            raise FileFormatError(f"'{filename}' is not a cytolab time-lapse position "
                                  f"(schema {root.attrs.get('schema')!r})")
        position = cls(int(root.attrs["position_nb"]),
                       Config.deserialize(root.attrs["config"]))
        position.rotate = float(root.attrs["rotate"])
        position.drift_values = np.asarray(root["drift_values"].values)
        shape = tuple(int(v) for v in np.ravel(root.attrs["frame_shape"]))
        position.frame_shape = None if shape == (0, 0) else shape
        with h5py.File(filename, "r") as h5:
            groups = sorted(name for name in h5 if name.startswith("roi"))
        if len(groups) != int(root.attrs["roi_count"]):
            raise FileFormatError(f"'{filename}' holds {len(groups)} ROI groups, but "
                                  f"its root says {int(root.attrs['roi_count'])}")
        position.rois = [ROI.load_netcdf(filename, group=g) for g in groups]
        position._saved = pathlib.Path(filename)
        return position

    def clear(self) -> None:
        """Free the regions' memory; :meth:`load` reads them back from the
        last netCDF file written or read."""
        self.rois = []

    def load(self) -> None:
        """Reload the regions from the last netCDF file written or read."""
        if self._saved is None:
            raise CytolabError(f"Position {self.position_nb} was never saved to "
                               f"netCDF; nothing to load")
        self.rois = Position.load_netcdf(self._saved).rois

    # -- comparison ------------------------------------------------------------
    def compare(self, other: object, level: int = 0) -> list[Any] | None:
        """Differences between this position and `other` (printed at level 0,
        returned as a difference tree otherwise)."""
        return report(self._diffs(other), level)

    def _diffs(self, other: object) -> list[Any]:
        if not isinstance(other, Position):
            return [color_diff("type: ", "Position", type(other).__name__)]
        diffs: list[Any] = []
        for attr in ("position_nb", "rotate", "frame_shape"):
            if getattr(self, attr) != getattr(other, attr):
                diffs.append(color_diff(f"{attr}: ", getattr(self, attr),
                                        getattr(other, attr)))
        diffs += compare_arrays(np.asarray(self.drift_values, dtype=float),
                                np.asarray(other.drift_values, dtype=float),
                                "drift_values")
        if len(self.rois) != len(other.rois):
            diffs.append(color_diff("number of ROIs: ", len(self.rois),
                                    len(other.rois)))
        for mine, theirs in zip(self.rois, other.rois):  # noqa: B905
            roi_diffs = mine.compare(theirs, level=1)
            if roi_diffs:
                diffs += [f"ROI {mine.roi_nb}", roi_diffs]
        return diffs

    def __repr__(self) -> str:
        return (f"<Position {self.position_nb}: {len(self.rois)} ROIs, frames "
                f"{self.frames.start}-{self.frames.stop - 1}>")
