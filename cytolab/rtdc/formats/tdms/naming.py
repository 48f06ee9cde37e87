"""Names in legacy ``.tdms`` measurements and their cytolab equivalents.

Built from the files written by the fRT-DC software (2015-2016) and by
Shape-In up to version 2.0.1 (2017).

Table columns (group ``"Cell Track"`` of ``M<n>_*.tdms``)
---------------------------------------------------------

================================  =====================  =========================
column                            feature                note
================================  =====================  =========================
``time``                          ``frame``              unit "frames" (sic)
``x``, ``y``                      ``pos_x``, ``pos_y``   µm
``ax2``, ``ax1``                  ``size_x``, ``size_y`` µm (width, height)
``circularity``                   ``circ``
``area``, ``raw area``            ``area_cvx``,          px (convex, measured)
                                  ``area_msd``
``area_ratio``                    ``area_ratio``
``aspect``                        ``aspect``
``deform``                        ``deform``             ``1 - circ``
``Brightness``, ``BrightnessSD``  ``bright_avg``,
                                  ``bright_sd``
``InertiaRatio``,                 ``inert_ratio_cvx``,
``InertiaRatioRaw``               ``inert_ratio_raw``
``index``                         ``index_online``       event counter of the
                                                         acquisition software
``NrOfCells``                     ``nevents``
``FL<n>max``, ``FL<n>width``,     ``fl<n>_max``,         n = 1, 2, 3
``FL<n>area``, ``FL<n>pos``,      ``fl<n>_width``, ...
``FL<n>npeaks``, ``FL<n>dpeaks``  ``fl<n>_npeaks``,
                                  ``fl<n>_dist``
``gValue``                        ``g_force``
``PC1``, ``PC2``                  ``pc1``, ``pc2``
``temp``, ``temp_amb``            ``temp``, ``temp_amb``
``userDef<n>``, ``UserDef<n>``    ``userdef<n>``         n = 0 ... 9
================================  =====================  =========================

``FL1index`` (start of each event in the trace stream) is used to cut the
traces; ``FL1pmtdumptime`` (time in a photomultiplier dump file, garbage in
Shape-In 2.0.1) has no feature. Both are not offered as features; other
unknown columns are ignored with a warning. Empty columns (channels that were
not recorded) are left out.

Traces (group ``"fluorescence traces"`` of ``*_traces.tdms``)
-------------------------------------------------------------

``FL<n>raw`` -> ``fl<n>_raw`` and ``FL<n>med`` -> ``fl<n>_median``.

Metadata
--------

:data:`INI_MAP` lists the keys of ``M<n>_para.ini`` and ``M<n>_camera.ini``
that have a cytolab equivalent (keys are compared in lower case, without
units in square brackets). :data:`INI_DROPPED` lists the keys that are known
but have none (they stay readable in the logs of the dataset); any other key
is reported in an :class:`~cytolab.errors.UnknownConfigurationKeyWarning`.
"""
from __future__ import annotations

import re

#: TDMS column name -> feature name
COLUMN_TO_FEATURE: dict[str, str] = {
    "time": "frame",
    "x": "pos_x",
    "y": "pos_y",
    "ax1": "size_y",
    "ax2": "size_x",
    "circularity": "circ",
    "area": "area_cvx",
    "raw area": "area_msd",
    "area_ratio": "area_ratio",
    "aspect": "aspect",
    "deform": "deform",
    "Brightness": "bright_avg",
    "BrightnessSD": "bright_sd",
    "InertiaRatio": "inert_ratio_cvx",
    "InertiaRatioRaw": "inert_ratio_raw",
    "index": "index_online",
    "NrOfCells": "nevents",
    "gValue": "g_force",
    "PC1": "pc1",
    "PC2": "pc2",
    "temp": "temp",
    "temp_amb": "temp_amb",
}
for _n in (1, 2, 3):
    COLUMN_TO_FEATURE.update({
        f"FL{_n}max": f"fl{_n}_max",
        f"FL{_n}width": f"fl{_n}_width",
        f"FL{_n}area": f"fl{_n}_area",
        f"FL{_n}pos": f"fl{_n}_pos",
        f"FL{_n}npeaks": f"fl{_n}_npeaks",
        f"FL{_n}dpeaks": f"fl{_n}_dist",
    })
for _n in range(10):
    COLUMN_TO_FEATURE[f"userDef{_n}"] = f"userdef{_n}"
    COLUMN_TO_FEATURE[f"UserDef{_n}"] = f"userdef{_n}"

#: Columns known to have no feature (never reported as unknown)
COLUMNS_IGNORED: frozenset[str] = frozenset({"FL1index", "FL1pmtdumptime"})

#: Features that count events or frames: stored as integers when the TDMS
#: column (float32) holds whole numbers only
INTEGER_FEATURES: frozenset[str] = frozenset(
    {"frame", "index_online", "nevents", "fl1_npeaks", "fl2_npeaks", "fl3_npeaks"})

#: Group of the event table in the measurement file
TABLE_GROUP = "Cell Track"
#: Group of the traces in the ``*_traces.tdms`` file
TRACE_GROUP = "fluorescence traces"
#: Column of the measurement file with the first sample of each event
TRACE_INDEX_COLUMN = "FL1index"

#: Trace channel -> trace name of the ``trace`` feature
TRACE_CHANNELS: dict[str, str] = {
    f"FL{n}{suffix}": f"fl{n}_{name}"
    for n in (1, 2, 3) for suffix, name in (("raw", "raw"), ("med", "median"))
}


def normalize_key(key: str) -> str:
    """Key of an ini file as compared here: lower case, no ``[unit]``.

    Examples
    --------
    >>> normalize_key("Flow Rate [ul/s]")
    'flow rate'
    >>> normalize_key("Date [YYYY-MM-DD]")
    'date'
    """
    key = re.sub(r"\[[^\]]*\]", " ", key)
    return " ".join(key.lower().split())


#: (ini section, normalized key) -> (cytolab section, key); para.ini and
#: camera.ini (sections compared in lower case)
INI_MAP: dict[tuple[str, str], tuple[str, str]] = {
    ("general", "software version"): ("setup", "software version"),
    ("general", "measurement number"): ("experiment", "run index"),
    ("general", "sample name"): ("experiment", "sample"),
    ("general", "date"): ("experiment", "date"),
    ("general", "start time"): ("experiment", "time"),
    ("general", "shutter time led"): ("imaging", "flash duration"),
    ("general", "flow rate"): ("setup", "flow rate"),
    ("general", "sheath flow rate"): ("setup", "flow rate sheath"),
    ("general", "sample flow rate"): ("setup", "flow rate sample"),
    ("general", "region"): ("setup", "chip region"),
    ("general", "channel width"): ("setup", "channel width"),
    ("general", "video frame offset"): ("fmt_tdms", "video frame offset"),
    ("general", "buffer medium"): ("setup", "medium"),
    ("general", "identifier"): ("setup", "identifier"),
    ("image", "pix size"): ("imaging", "pixel size"),
    ("image", "setup"): ("setup", "module composition"),
    ("image", "thresh"): ("online_contour", "bin threshold"),
    ("image", "trig thresh"): ("online_contour", "bin area min"),
    ("image", "bin ops"): ("online_contour", "bin kernel"),
    ("image", "blur"): ("online_contour", "image blur"),
    ("image", "diff_method"): ("online_contour", "no absdiff"),
    ("image", "cell aspect min"): ("online_filter", "aspect min"),
    ("image", "cell aspect max"): ("online_filter", "aspect max"),
    ("fluor", "samplerate"): ("fluorescence", "sample rate"),
    ("fluor", "bitdepthraw"): ("fluorescence", "bit depth"),
    ("fluor", "adcmin"): ("fluorescence", "signal min"),
    ("fluor", "adcmax"): ("fluorescence", "signal max"),
    ("fluor", "fl-channels"): ("fluorescence", "channel count"),
    ("framerate", "frame rate"): ("imaging", "frame rate"),
    ("roi", "x-pos"): ("imaging", "roi position x"),
    ("roi", "y-pos"): ("imaging", "roi position y"),
    ("roi", "width"): ("imaging", "roi size x"),
    ("roi", "height"): ("imaging", "roi size y"),
}

#: ``Laser<n> <lambda> nm Power [%]`` in ``[FLUOR]`` (normalized key)
LASER_KEY = re.compile(r"^laser\s*([123])\s+(\d+)\s*nm\s+power$")

#: Known keys without a cytolab equivalent: (section, normalized key).
#: Online gates whose unit is not documented are among them.
INI_DROPPED: frozenset[tuple[str, str]] = frozenset({
    ("general", "current led"),
    ("image", "margin"),
    ("image", "cell min"),
    ("image", "cell max"),
    ("image", "cell max length"),
    ("image", "cell max height"),
    ("image", "t1"),
    ("image", "t2"),
    ("gating", "min length"),
    ("gating", "max length"),
    ("gating", "min y"),
    ("gating", "max y"),
    ("gating", "min aspect"),
    ("gating", "max aspect"),
    ("fluor", "format"),
    ("fluor", "fl-daqcode"),
    ("framerate", "shutter time"),
    ("framerate", "tap mode"),
    ("framerate", "tap code"),
})

#: ``parameters.txt`` of the fRT-DC software: key -> (section, key)
PARAMETERS_MAP: dict[str, tuple[str, str]] = {
    "pulse_led": ("imaging", "flash duration"),
    "numberofchannels": ("fluorescence", "channel count"),
    "samplerate": ("fluorescence", "sample rate"),
    "samplesperframe": ("fluorescence", "samples per event"),
    "vmin": ("fluorescence", "signal min"),
    "vmax": ("fluorescence", "signal max"),
    "median_pmt": ("fluorescence", "trace median"),
}
#: ``parameters.txt``: laser power key -> (laser number, wavelength [nm])
PARAMETERS_LASERS: dict[str, tuple[int, int]] = {
    "laser488": (1, 488), "laser561": (2, 561), "laser640": (3, 640)}

#: Media whose name is written differently in cytolab
MEDIUM_NAMES: dict[str, str] = {"cellcarrier b": "CellCarrierB",
                                "cellcarrierb": "CellCarrierB",
                                "cellcarrier": "CellCarrier"}
