"""Time-lapse measurements as an ``.rtdc`` event dataset.

Every cell on every frame becomes one event, so that all of cytolab's
dataset tools (filters, statistics, density plots, Shape-Out-style gating)
work on time-lapse results. Standard features carry what they mean in RT-DC
(``frame``, ``time``, ``area_msd``, ``area_um``, ``pos_x``, ``pos_y``); the
rest goes into the user-defined features, which the RT-DC tools read too:

=========  ==========================================================
feature    content
=========  ==========================================================
userdef0   cell id (unique within its ROI)
userdef1   mother id (0: none)
userdef2   ROI number
userdef3   position number
userdef4   cell length [µm, or px without a pixel size]
userdef5   cell width [µm, or px]
userdef6   growth rate of the length [1/h, or 1/frame without an interval]
userdef7   growth rate of the area [1/h, or 1/frame]
userdef8   mean fluorescence of channel 1 (NaN without fluorescence)
userdef9   mean fluorescence of channel 2 (NaN without a second channel)
=========  ==========================================================

The table is also stored in the file, as the log ``cytolab-timelapse``.
``cytolab verify`` reports the RT-DC setup metadata (channel width, flow
rates, ...) as missing: they do not apply to a microscope movie.
"""
from __future__ import annotations

import datetime
import os
import pathlib
from collections.abc import Iterable

import numpy as np

from .._version import __version__
from ..io.files import atomic_path
from ..rtdc.writer import RTDCWriter
from .position import Position

#: What the user-defined features of an exported file hold
USERDEF_FEATURES: dict[str, str] = {
    "userdef0": "cell id (unique within its ROI)",
    "userdef1": "mother id (0: none)",
    "userdef2": "ROI number",
    "userdef3": "position number",
    "userdef4": "cell length",
    "userdef5": "cell width",
    "userdef6": "growth rate of the length",
    "userdef7": "growth rate of the area",
    "userdef8": "mean fluorescence, channel 1",
    "userdef9": "mean fluorescence, channel 2",
}


def export_rtdc(positions: Position | Iterable[Position], path: str | os.PathLike,
                *, pixel_size: float | None = None,
                frame_interval: float | None = None,
                sample: str = "time-lapse") -> pathlib.Path:
    """Write the cells of one or more positions as an ``.rtdc`` file.

    Parameters
    ----------
    positions
        A :class:`Position` or several.
    path
        Output file (written under a temporary name, then renamed).
    pixel_size
        Pixel size [µm]; with it, lengths are in µm and ``area_um``,
        ``pos_x`` and ``pos_y`` are written.
    frame_interval
        Time between frames [s]; with it, ``time`` is written and growth
        rates are in 1/h (else 1/frame).
    sample
        Sample name (``experiment:sample``).

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import cytolab
    >>> from cytolab.simulate import simulate_mothermachine
    >>> from cytolab.timelapse.truth import position_from_truth
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "cells.rtdc"
    >>> _ = export_rtdc(position_from_truth(simulate_mothermachine(5, 1)), out,
    ...                 pixel_size=0.1, frame_interval=300)
    >>> with cytolab.new_dataset(out) as ds:
    ...     bool(ds["time"][0] == 300 * ds["frame"][0])
    True
    """
    positions = [positions] if isinstance(positions, Position) else list(positions)
    columns = _columns(positions)
    if not len(columns["frame"]):
        raise ValueError("There are no cells to export")
    scale = pixel_size or 1.0
    per_hour = 3600.0 / frame_interval if frame_interval else 1.0
    features: dict[str, np.ndarray] = {
        "frame": columns["frame"].astype(np.uint64),
        "area_msd": columns["area"],
        "userdef0": columns["cellid"], "userdef1": columns["motherid"],
        "userdef2": columns["roi"], "userdef3": columns["position"],
        "userdef4": columns["length"] * scale, "userdef5": columns["width"] * scale,
        "userdef6": columns["growthrate_length"] * per_hour,
        "userdef7": columns["growthrate_area"] * per_hour,
        "userdef8": columns["fluo"][:, 0], "userdef9": columns["fluo"][:, 1],
    }
    if frame_interval:
        features["time"] = columns["frame"] * float(frame_interval)
    if pixel_size:
        features["area_um"] = columns["area"] * pixel_size ** 2
        features["pos_x"] = columns["x"] * pixel_size
        features["pos_y"] = columns["y"] * pixel_size
    length_unit = "µm" if pixel_size else "px"
    rate_unit = "1/h" if frame_interval else "1/frame"
    units = {"userdef4": length_unit, "userdef5": length_unit,
             "userdef6": rate_unit, "userdef7": rate_unit}
    log = [f"{name}: {text}" + (f" [{units[name]}]" if name in units else "")
           for name, text in USERDEF_FEATURES.items()]
    now = datetime.datetime.now()
    meta = {"experiment": {"sample": sample, "run index": 1,
                           "event count": len(columns["frame"]),
                           "date": now.strftime("%Y-%m-%d"),
                           "time": now.strftime("%H:%M:%S")},
            "setup": {"identifier": f"cytolab-timelapse {__version__}",
                      "software version": f"cytolab {__version__}"},
            "imaging": {"pixel size": float(pixel_size)} if pixel_size else {}}
    shape = positions[0].frame_shape
    if shape:
        meta["imaging"].update({"roi size y": int(shape[0]),
                                "roi size x": int(shape[1])})
    if frame_interval:
        meta["imaging"]["frame rate"] = 1.0 / float(frame_interval)
    path = pathlib.Path(path)
    with atomic_path(path) as tmp:
        with RTDCWriter(tmp, mode="reset") as writer:
            writer.store_metadata(meta)
            for name, values in features.items():
                writer.store_feature(name, values)
            writer.store_log("cytolab-timelapse", log)
    return path


def _columns(positions: list[Position]) -> dict[str, np.ndarray]:
    """One row per cell and frame over all regions of all positions."""
    parts: dict[str, list[np.ndarray]] = {}
    for position in positions:
        for roi in position.rois:
            table = roi.lineage.to_table()
            rows = len(table["cellid"])
            fluo = np.full((rows, 2), np.nan)
            fluo[:, :min(2, table["fluo"].shape[1])] = table["fluo"][:, :2]
            centre = (table["new_pole"].astype(float) + table["old_pole"]) / 2
            values = {
                "frame": table["frame"].astype(np.float64),
                "cellid": table["cellid"].astype(np.float64),
                "motherid": table["motherid"].astype(np.float64),
                "roi": np.full(rows, float(roi.roi_nb)),
                "position": np.full(rows, float(position.position_nb)),
                "fluo": fluo,
                "y": centre[:, 0] + roi.box.ytl, "x": centre[:, 1] + roi.box.xtl,
            }
            for name in ("length", "width", "area", "growthrate_length",
                         "growthrate_area"):
                values[name] = table[name].astype(np.float64)
            for name, value in values.items():
                parts.setdefault(name, []).append(value)
    if not parts:
        return {"frame": np.zeros(0)}
    columns = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    order = np.lexsort((columns["cellid"], columns["roi"], columns["position"],
                        columns["frame"]))
    return {name: col[order] for name, col in columns.items()}
