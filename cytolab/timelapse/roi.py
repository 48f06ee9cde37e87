"""A region of interest across the frames of a movie, and its netCDF form.

A :class:`ROI` is one mother-machine chamber (or a whole frame of an agar
pad) over time: its image stack, fluorescence stacks, segmentation masks,
label images (pixel value = cell id) and the :class:`~.lineage.Lineage` of
its cells. Editing the lineage through the ROI keeps the label images in
step.

netCDF schema (``ROI.to_netcdf``, one group per ROI in a position file)
---------------------------------------------------------------------
Dimensions ``frame`` (coordinate: absolute frame numbers), ``y``, ``x``,
``fluo_channel``, ``cell_row`` (one row per cell and frame of the lineage),
``yx`` (2) and ``cell_fluo``.

==================  =============================  ========  ==================
variable            dimensions                     dtype     meaning
==================  =============================  ========  ==================
img                 frame, y, x                    float32   image in [0, 1]
fluo                frame, fluo_channel, y, x      float32   fluorescence
seg                 frame, y, x                    uint8     mask (0/1)
labels              frame, y, x                    uint16    cell ids (0: none)
segmented, tracked  frame                          bool      progress per frame
lineage_cellid      cell_row                       int32     cell id
lineage_frame       cell_row                       int32     frame of the row
lineage_motherid    cell_row                       int32     mother (0: none)
lineage_daughterid  cell_row                       int32     daughter born (0)
lineage_new_pole    cell_row, yx                   int16     new pole (y, x)
lineage_old_pole    cell_row, yx                   int16     old pole (y, x)
lineage_length ...  cell_row                       float64   length, width,
                                                             area, perimeter,
                                                             growth rates
lineage_fluo        cell_row, cell_fluo            float64   mean fluorescence
lineage_edges       cell_row                       str       edges touched
==================  =============================  ========  ==================

Attributes: ``schema`` (``"cytolab-timelapse-roi/1"``), ``roi_nb``,
``first_frame``, ``box`` (xtl, ytl, xbr, ybr), ``config`` (the JSON of
:class:`~.config.Config`) and ``cytolab_version``. Image variables are
zlib-compressed (level 4, shuffle) in chunks of one frame.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import CytolabError, FileFormatError
from . import predict as _predict
from . import runtime as _runtime
from .boxes import CroppingBox
from .config import Config
from .diffs import color_diff, compare_arrays, report
from .lineage import Lineage

#: Identifies files laid out as described in this module
ROI_SCHEMA = "cytolab-timelapse-roi/1"

#: netCDF variable name -> ROI attribute of the image stacks
_STACKS = {"img": "img_stack", "fluo": "fluo_stack", "seg": "seg_stack",
           "labels": "label_stack"}


def import_xarray() -> Any:
    """:mod:`xarray`, or an ImportError that says how to install it."""
    try:
        import xarray
    except ImportError as exc:  # pragma: no cover - in the timelapse extra
        raise ImportError(f'Time-lapse results need xarray and h5netcdf ({exc}): '
                          f'pip install "cytolab[timelapse]"') from exc
    return xarray


def _as_stack(stack: Any) -> np.ndarray:
    """`stack` as a float32 array (frames, channels, y, x)."""
    arr = np.asarray(getattr(stack, "values", stack))
    if arr.ndim == 3:
        arr = arr[:, np.newaxis]
    if arr.ndim != 4 or 0 in arr.shape:
        raise ValueError(f"A ROI stack must be (frames, channels, y, x) or "
                         f"(frames, y, x) and not empty, got shape {arr.shape}")
    if arr.dtype.kind in "ui":
        arr = arr / np.float32(np.iinfo(arr.dtype).max)
    return np.asarray(arr, dtype=np.float32)


class ROI:
    """One region of interest over time: images, masks, labels, lineage.

    Parameters
    ----------
    stack
        Images of the region, (frames, channels, y, x) or (frames, y, x),
        float in [0, 1] or integers (scaled to [0, 1]); channel 0 is the
        image that is segmented, further channels are fluorescence.
    roi_nb
        Number of the region in its position.
    first_frame
        Frame number of ``stack[0]``.
    box
        Where the region lies in the (rotation- and drift-corrected) frame.
    config
        Processing configuration.

    Examples
    --------
    >>> import numpy as np
    >>> from cytolab.timelapse.boxes import CroppingBox
    >>> from cytolab.timelapse.config import Config
    >>> roi = ROI(np.zeros((3, 8, 4)), 0, 10, CroppingBox(0, 0, 4, 8),
    ...           Config.default("mothermachine"))
    >>> roi.frames, roi.get_img(11).shape
    (range(10, 13), (8, 4))
    """

    def __init__(self, stack: Any, roi_nb: int, first_frame: int, box: CroppingBox,
                 config: Config) -> None:
        arr = _as_stack(stack)
        frames, _, height, width = arr.shape
        if (height, width) != box.shape:
            raise ValueError(f"The ROI stack has frames of {height}x{width} pixels, "
                             f"but its box is {box.shape[0]}x{box.shape[1]}")
        self.roi_nb = int(roi_nb)
        self.first_frame = int(first_frame)
        self.box = box
        self.config = config
        self.img_stack = arr[:, 0].copy()
        self.fluo_stack = arr[:, 1:].copy()
        self.seg_stack = np.zeros((frames, height, width), dtype=np.uint8)
        self.label_stack = np.zeros((frames, height, width), dtype=np.uint16)
        self.segmented = np.zeros(frames, dtype=bool)
        self.tracked = np.zeros(frames, dtype=bool)
        self.lineage = Lineage()

    # -- access ----------------------------------------------------------------
    @property
    def frames(self) -> range:
        """Frame numbers covered by the region."""
        return range(self.first_frame, self.first_frame + len(self.img_stack))

    def _index(self, frame: int) -> int:
        if frame not in self.frames:
            raise IndexError(f"Frame {frame} is not in ROI {self.roi_nb} (frames "
                             f"{self.frames.start} to {self.frames.stop - 1})")
        return frame - self.first_frame

    def get_img(self, frame: int) -> np.ndarray:
        """Image of the region at `frame` (float32 in [0, 1])."""
        return self.img_stack[self._index(frame)]

    def get_fluo(self, frame: int) -> np.ndarray:
        """Fluorescence images (channels, y, x) of the region at `frame`."""
        return self.fluo_stack[self._index(frame)]

    def get_seg(self, frame: int) -> np.ndarray:
        """Segmentation mask (0/1) of the region at `frame`."""
        return self.seg_stack[self._index(frame)]

    def get_labels(self, frame: int) -> np.ndarray:
        """Label image (cell ids) of the region at `frame`."""
        return self.label_stack[self._index(frame)]

    def set_seg(self, frame: int, mask: np.ndarray) -> None:
        """Store the segmentation mask of `frame` (non-zero: cell)."""
        index = self._index(frame)
        mask = np.asarray(mask)
        if mask.shape != self.seg_stack.shape[1:]:
            raise ValueError(f"Mask of shape {mask.shape} does not fit ROI "
                             f"{self.roi_nb} ({self.seg_stack.shape[1:]})")
        self.seg_stack[index] = mask != 0
        self.segmented[index] = True

    def set_labels(self, frame: int, labels: np.ndarray) -> None:
        """Store the label image of `frame` (cell ids of the lineage)."""
        index = self._index(frame)
        labels = np.asarray(labels)
        if labels.shape != self.label_stack.shape[1:]:
            raise ValueError(f"Labels of shape {labels.shape} do not fit ROI "
                             f"{self.roi_nb} ({self.label_stack.shape[1:]})")
        if labels.dtype.kind not in "ui" or (labels.size and labels.min() < 0):
            raise ValueError(f"Labels must be non-negative integers, got "
                             f"{labels.dtype}")
        self.label_stack[index] = labels
        self.tracked[index] = True

    # -- segmentation and tracking (see the predict module) --------------------
    def segment(self, frames: range, model: Any = None) -> None:
        """Segment `frames`: fills the seg stack.

        Parameters
        ----------
        frames
            Frames to segment.
        model
            A model (path, PyTorch module or object with ``predict``), so
            that it is not reloaded for every region; None: the model of
            ``config.models["seg"]``.
        """
        _predict.segment(self, frames, model)

    def track(self, frames: range, model: Any = None, *,
              progress_bar: bool = False) -> None:
        """Track the cells of `frames` (segmented, in order): fills the
        lineage and the label stack; from the first frame, a new lineage.

        Parameters
        ----------
        frames
            Frames to track.
        model
            As for :meth:`segment`; None: ``config.models["track"]``.
        progress_bar
            Show a progress bar (on a terminal).
        """
        _predict.track(self, frames, model, progress_bar=progress_bar)

    def get_segmentation_inputs(self, frame: int
                                ) -> tuple[np.ndarray, _predict.Windows | None]:
        """Segmentation network inputs ``(n, *target_size, 1)`` of `frame` and
        the window bounds ``(loc_y, loc_x)`` (None when resized)."""
        return _predict.get_segmentation_inputs(self, frame)

    def process_segmentation_outputs(self, logits: np.ndarray, frame: int,
                                     windows: _predict.Windows | None = None
                                     ) -> None:
        """Store the mask of `frame` from the segmentation network outputs."""
        _predict.process_segmentation_outputs(self, logits, frame, windows)

    def get_tracking_inputs(self, frame: int) -> tuple[np.ndarray, list[CroppingBox]]:
        """Tracking network inputs ``(previous cells, *target_size, 4)`` of
        `frame` and their boxes; RuntimeError if `frame` is not segmented or
        the frame before not tracked."""
        return _predict.get_tracking_inputs(self, frame)

    def process_tracking_outputs(self, logits: np.ndarray, frame: int,
                                 boxes: list[CroppingBox]) -> None:
        """Link the cells of `frame` from the tracking network outputs: finds
        poles, updates the lineage and writes the labels."""
        _predict.process_tracking_outputs(self, logits, frame, boxes)

    @staticmethod
    def chunks_predict(inputs: np.ndarray, model: Any, chunk_size: int,
                       batch_size: int | None = 1) -> np.ndarray:
        """Predict `inputs` at most `chunk_size` at a time, in batches of
        `batch_size` (see :func:`.runtime.chunks_predict`)."""
        return _runtime.chunks_predict(inputs, model, chunk_size, batch_size)

    # -- editing (lineage and labels together) --------------------------------
    def _edit(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Run a lineage operation and relabel the pixels of renamed cells."""
        before = {id(feats): cid for cid, cell in self.lineage.cells.items()
                  for feats in cell._features}
        result = operation(*args)
        renames: dict[int, dict[int, int]] = {}
        for cid, cell in self.lineage.cells.items():
            for frame, feats in zip(cell.frames, cell._features, strict=True):
                old = before.get(id(feats), cid)
                if old != cid and frame in self.frames:
                    renames.setdefault(frame, {})[old] = cid
        for frame, mapping in renames.items():
            index = frame - self.first_frame
            labels = self.label_stack[index]
            lut = np.arange(max(int(labels.max()), *mapping, *mapping.values()) + 1,
                            dtype=np.uint16)
            for old, new in mapping.items():
                lut[old] = new
            self.label_stack[index] = lut[labels]
        return result

    def adopt(self, cellid: int, motherid: int | None) -> None:
        """Give `cellid` the mother `motherid` (see :meth:`Lineage.adopt`)."""
        self._edit(self.lineage.adopt, cellid, motherid)

    def merge(self, cellid: int, merge_into_cellid: int) -> None:
        """Merge `cellid` into the cell before it (see :meth:`Lineage.merge`),
        relabelling its pixels."""
        self._edit(self.lineage.merge, cellid, merge_into_cellid)

    def split(self, cellid: int, frame: int) -> int:
        """Split `cellid` at `frame` (see :meth:`Lineage.split`), relabelling
        its pixels from `frame` on; returns the new cell id."""
        return self._edit(self.lineage.split, cellid, frame)

    def pivot(self, cellid: int) -> None:
        """Swap the roles of `cellid` and its mother (see
        :meth:`Lineage.pivot`), relabelling their pixels."""
        self._edit(self.lineage.pivot, cellid)

    def swap_poles(self, cellid: int, frame: int | None = None) -> None:
        """Swap the poles of `cellid` (see :meth:`Lineage.swap_poles`),
        relabelling pixels of daughters that change roles."""
        self._edit(self.lineage.swap_poles, cellid, frame)

    # -- xarray / netCDF -------------------------------------------------------
    def to_xarray(self) -> Any:
        """The region as an :class:`xarray.Dataset` (see the module schema)."""
        xr = import_xarray()
        frame_dims = ("frame", "y", "x")
        data: dict[str, Any] = {
            "img": (frame_dims, self.img_stack),
            "fluo": (("frame", "fluo_channel", "y", "x"), self.fluo_stack),
            "seg": (frame_dims, self.seg_stack),
            "labels": (frame_dims, self.label_stack),
            "segmented": (("frame",), self.segmented),
            "tracked": (("frame",), self.tracked),
        }
        for name, column in self.lineage.to_table().items():
            dims: tuple[str, ...] = ("cell_row",)
            if column.ndim == 2:
                dims += ("yx",) if name.endswith("_pole") else ("cell_fluo",)
            data[f"lineage_{name}"] = (dims, column)
        return xr.Dataset(data, coords={"frame": np.array(self.frames, dtype=np.int32)},
                          attrs={"schema": ROI_SCHEMA, "roi_nb": self.roi_nb,
                                 "first_frame": self.first_frame,
                                 "box": np.array([self.box.xtl, self.box.ytl,
                                                  self.box.xbr, self.box.ybr],
                                                 dtype=np.int64),
                                 "config": self.config.serialize(),
                                 "cytolab_version": __version__})

    @staticmethod
    def from_xarray(dataset: Any) -> ROI:
        """Rebuild a region from :meth:`to_xarray` output (or a loaded file)."""
        if dataset.attrs.get("schema") != ROI_SCHEMA:
            raise FileFormatError(f"Not a cytolab time-lapse ROI (schema "
                                  f"{dataset.attrs.get('schema')!r}, expected "
                                  f"{ROI_SCHEMA!r})")
        box = CroppingBox(*(int(v) for v in np.ravel(dataset.attrs["box"])))
        roi = ROI.__new__(ROI)
        roi.roi_nb = int(dataset.attrs["roi_nb"])
        roi.first_frame = int(dataset.attrs["first_frame"])
        roi.box = box
        roi.config = Config.deserialize(dataset.attrs["config"])
        roi.img_stack = np.asarray(dataset["img"].values, dtype=np.float32)
        roi.fluo_stack = np.asarray(dataset["fluo"].values, dtype=np.float32)
        roi.seg_stack = np.asarray(dataset["seg"].values, dtype=np.uint8)
        roi.label_stack = np.asarray(dataset["labels"].values, dtype=np.uint16)
        roi.segmented = np.asarray(dataset["segmented"].values, dtype=bool)
        roi.tracked = np.asarray(dataset["tracked"].values, dtype=bool)
        table = {name[len("lineage_"):]: dataset[name].values
                 for name in dataset.data_vars if name.startswith("lineage_")}
        table["edges"] = table["edges"].astype(str)
        roi.lineage = Lineage.from_table(table)
        return roi

    def encoding(self) -> dict[str, dict[str, Any]]:
        """netCDF encoding: compressed image stacks in chunks of one frame."""
        encoding: dict[str, dict[str, Any]] = {}
        for name, attr in _STACKS.items():
            stack = getattr(self, attr)
            if stack.size:
                encoding[name] = {"zlib": True, "complevel": 4, "shuffle": True,
                                  "chunksizes": (1, *stack.shape[1:])}
        return encoding

    def to_netcdf(self, filename: str | os.PathLike, **kwargs: Any) -> None:
        """Write the region to a netCDF file (HDF5 based, compressed).

        Parameters
        ----------
        filename
            Output file.
        **kwargs
            Passed to :meth:`xarray.Dataset.to_netcdf` (e.g. ``group``,
            ``mode="a"``).
        """
        kwargs.setdefault("engine", "h5netcdf")
        kwargs.setdefault("encoding", self.encoding())
        self.to_xarray().to_netcdf(filename, **kwargs)

    @classmethod
    def load_netcdf(cls, filename: str | os.PathLike, group: str | None = None) -> ROI:
        """Read a region written by :meth:`to_netcdf`.

        Parameters
        ----------
        filename
            The netCDF file.
        group
            Group of the region, e.g. ``"roi03"`` in a position file.
        """
        xr = import_xarray()
        if not os.path.exists(filename):
            raise FileNotFoundError(f"File not found: '{filename}'")
        try:
            dataset = xr.load_dataset(filename, group=group, engine="h5netcdf")
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"Cannot read '{filename}' (group {group!r}) as a "
                                  f"netCDF file: {exc}") from exc
        try:
            return cls.from_xarray(dataset)
        except (KeyError, CytolabError) as exc:
            raise FileFormatError(f"'{filename}' (group {group!r}): {exc}") from exc

    # -- comparison ------------------------------------------------------------
    def compare(self, other: object, level: int = 0) -> list[Any] | None:
        """Differences between this region and `other`.

        At level 0 they are printed (nothing when equal) and None is
        returned; at higher levels the difference tree is returned.
        """
        return report(self._diffs(other), level)

    def _diffs(self, other: object) -> list[Any]:
        if not isinstance(other, ROI):
            return [color_diff("type: ", "ROI", type(other).__name__)]
        diffs: list[Any] = []
        for attr in ("roi_nb", "first_frame", "box"):
            if getattr(self, attr) != getattr(other, attr):
                diffs.append(color_diff(f"{attr}: ", getattr(self, attr),
                                        getattr(other, attr)))
        for name, stack in _STACKS.items():
            diffs += compare_arrays(getattr(self, stack), getattr(other, stack), name)
        diffs += compare_arrays(self.segmented, other.segmented, "segmented")
        diffs += compare_arrays(self.tracked, other.tracked, "tracked")
        lineage = self.lineage.compare(other.lineage, level=1)
        if lineage:
            diffs += ["lineage", lineage]
        return diffs

    def __repr__(self) -> str:
        height, width = self.img_stack.shape[1:]
        return (f"<ROI {self.roi_nb}: frames {self.frames.start}-"
                f"{self.frames.stop - 1}, {height}x{width} px, "
                f"{len(self.lineage)} cells>")
