"""Write the scalar features of a measurement to a small file.

Condensing reduces a measurement to its scalar features (one number per
event; no image, mask, contour or trace): the stored ones, every feature
cytolab can compute from the data (ancillary features such as ``volume``,
the inertia ratios, ``bright_avg`` or the texture features) and the scalar
features reachable through the input's basins. The result is a small file
for statistics and plots. Metadata, logs, tables and the basin definitions
of INPUT are kept, so features that were not condensed stay reachable
through the same basins. Logs of an earlier condensing of the input
(``cytolab-condense``, ``dclab-condense`` and their ``-warnings``) are kept
under their name plus ``_<MD5 of the input's configuration>``; the new
``cytolab-condense`` log (JSON: job information, MD5 of the input, options)
and any warnings raised while condensing go into the output's logs.

--no-ancillary-features skips the features that are expensive to compute
(everything that needs images, masks, contours or traces, and the Young's
modulus); the cheap ones derived by arithmetic from other scalar features
(``time`` from ``frame``, ``index``, ``area_um``, ``deform``, ``aspect``,
``area_ratio``, crosstalk-corrected fluorescence) are still stored.
--no-basin-features leaves out the features that only the basins provide
(features computed from basin data, e.g. ``tilt`` from a basin's masks, are
ancillary features of INPUT and follow --no-ancillary-features).

INPUT is an ``.rtdc`` or a legacy ``.tdms`` measurement (with its ``.ini``
files next to it).
``.rtdc`` is appended to OUTPUT when it has another suffix; an existing
OUTPUT is never replaced.

Examples:

  cytolab condense measurement.rtdc measurement_condensed.rtdc
  cytolab condense --no-ancillary-features big.rtdc big_scalar.rtdc
  cytolab condense --no-basin-features derived.rtdc derived_condensed.rtdc
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pathlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import h5py

from .. import definitions as dfn
from .._progress import progress_bar
from ..errors import CytolabError, CytolabWarning
from ..io.copier import h5ds_copy, rtdc_copy
from ..io.files import atomic_path
from ..io.writer import HDF5Writer
from ..rtdc import RTDCBase, RTDCWriter, new_dataset
from ..rtdc.ancillaries import AncillaryFeature
from ._common import (
    PathLike,
    check_input,
    check_output,
    get_command_log,
    output_file,
)

#: Logs of earlier condensing; kept in the output under ``<name>_<hash>``.
CONDENSE_LOGS = ("cytolab-condense", "cytolab-condense-warnings",
                 "dclab-condense", "dclab-condense-warnings")


class CondenseFeatureWarning(CytolabWarning):
    """A computed feature could not be computed and was left out."""


def condense(path_in: PathLike, path_out: PathLike,
             store_ancillary_features: bool = True,
             store_basin_features: bool = True,
             check_suffix: bool = True) -> pathlib.Path:
    """Write a file with all scalar features of a measurement.

    Parameters
    ----------
    path_in
        Input measurement (``.rtdc`` or ``.tdms``). Never modified.
    path_out
        Output file; must not exist. ``.rtdc`` is appended when the name has
        another suffix (unless `check_suffix` is False).
    store_ancillary_features
        Compute and store every scalar ancillary feature. When False, only
        the cheap ones (recipes marked ``rapid``: arithmetic on other
        scalar features and metadata, e.g. ``time``, ``index``,
        ``area_um``, ``deform``) are stored; those needing images, masks,
        contours or traces (``volume``, ``bright_*``, ``tex_*``,
        inertia ratios, ...) and the Young's modulus are skipped.
    store_basin_features
        Store the scalar features that only the input's basins provide.
        Features computed from data of the basins are ancillary features
        (see `store_ancillary_features`).
    check_suffix
        Append ``.rtdc`` to `path_out` when it has another suffix.

    Returns
    -------
    pathlib.Path
        The output path (with the corrected suffix).

    Raises
    ------
    FileNotFoundError
        If the input or the output folder does not exist.
    FileExistsError
        If the output exists.
    ValueError
        If the output is the input.
    CytolabError
        If the input is not an RT-DC file (or its format is not supported).

    Notes
    -----
    See :func:`condense_dataset` for what the output holds. The command log
    ``cytolab-condense`` and the warnings raised while condensing
    (``cytolab-condense-warnings``) are stored in the output's logs.
    Features are computed and written one at a time (features computed
    together, such as the four inertia features, together), so memory holds
    a few scalar columns at a time, not all features of a large file.

    Examples
    --------
    >>> import pathlib, tempfile, cytolab
    >>> from cytolab.simulate import simulate_rtdc
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> src = simulate_rtdc(tmp / "m.rtdc", num_events=30, images=True, seed=1)
    >>> out = condense(src, tmp / "m_condensed.rtdc")
    >>> with cytolab.new_dataset(out) as dc:
    ...     "image" in dc, "tex_con_avg" in dc.features_innate, len(dc)
    (False, True, 30)
    """
    path_in = pathlib.Path(path_in)
    is_tdms = path_in.suffix.lower() == ".tdms"
    path_in = check_input(path_in, rtdc=not is_tdms)
    path_out = check_output(path_out, inputs=[path_in], check_suffix=check_suffix)
    options = {"store_ancillary_features": bool(store_ancillary_features),
               "store_basin_features": bool(store_basin_features)}
    with output_file(path_out, "condense", [path_in], options) as tmp:
        with _open_dataset(path_in) as ds, h5py.File(tmp, "w") as h5:
            _condense(ds, h5, store_ancillary_features=store_ancillary_features,
                      store_basin_features=store_basin_features)
    return path_out


def condense_dataset(ds: RTDCBase, h5_cond: h5py.File | PathLike,
                     store_ancillary_features: bool = True,
                     store_basin_features: bool = True,
                     warnings_list: Sequence[Any] | None = None) -> list[str]:
    """Write the scalar features of an open dataset to an HDF5 file.

    Parameters
    ----------
    ds
        The dataset (any format; filters are not applied: all events are
        written).
    h5_cond
        An open, writable, empty :class:`h5py.File`, or the path of a new
        file (must not exist; written under a temporary name and renamed
        when complete).
    store_ancillary_features
        Compute and store every scalar ancillary feature; when False only
        the cheap (``rapid``) ones, see :func:`condense`.
    store_basin_features
        Store the scalar features that only the basins of `ds` provide.
    warnings_list
        Warnings to record in the ``cytolab-condense-warnings`` log besides
        those raised while condensing (:class:`warnings.WarningMessage`
        objects, warning instances or text), e.g. the ones recorded while
        opening `ds`.

    Returns
    -------
    list of str
        The features written to ``/events`` (sorted).

    Raises
    ------
    ValueError
        If `h5_cond` is read-only or already holds features.
    FileExistsError, FileNotFoundError
        If `h5_cond` is a path that exists or lies in a missing folder.

    Notes
    -----
    The output holds

    - the metadata of `ds` (for an ``.rtdc`` file: its root attributes as
      stored; otherwise the measurement sections of ``ds.config``), its
      logs and tables, and its basin definitions (for ``.rtdc`` files
      together with internal basin data and the ``basinmapN`` features
      mapped basins need);
    - the scalar features stored in `ds` and its temporary features, the
      scalar features its basins provide (with `store_basin_features`) and
      its computable scalar features (see `store_ancillary_features`),
      each with the values ``ds[feature]`` gives; stored features of an
      ``.rtdc`` file are copied as stored (no decompression when they are
      already compressed with the default filters), everything is written
      with Zstandard level 5 and Fletcher-32 checksums;
    - logs of an earlier condensing renamed to ``<name>_<hash>`` (the MD5
      of the JSON configuration of `ds` without its filtering section),
      the new ``cytolab-condense`` command log and, if there were any, the
      ``cytolab-condense-warnings`` log.

    A computed feature whose computation fails is left out with a
    :class:`CondenseFeatureWarning` (recorded in the warnings log). Data
    cached by `ds` while condensing are released after each feature; what
    was cached before stays cached.

    Examples
    --------
    >>> import io, h5py, numpy as np, cytolab
    >>> ds = cytolab.new_dataset({"frame": np.arange(10), "circ": np.full(10, .9)})
    >>> ds.config["imaging"]["frame rate"] = 1000.
    >>> with h5py.File(io.BytesIO(), "w") as h5:
    ...     feats = condense_dataset(ds, h5)
    ...     log = "cytolab-condense" in h5["logs"]
    ...     time = h5["events/time"][:3].tolist()
    >>> feats, log, time
    (['circ', 'deform', 'frame', 'index', 'time'], True, [0.0, 0.001, 0.002])
    """
    if isinstance(h5_cond, (str, os.PathLike)):
        inputs = [ds.path] if isinstance(ds.path, pathlib.Path) else []
        path = check_output(h5_cond, inputs=inputs, check_suffix=False)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
            return condense_dataset(
                ds, h5, store_ancillary_features=store_ancillary_features,
                store_basin_features=store_basin_features,
                warnings_list=warnings_list)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = _condense(ds, h5_cond,
                            store_ancillary_features=store_ancillary_features,
                            store_basin_features=store_basin_features)
    paths = [ds.path] if isinstance(ds.path, pathlib.Path) else []
    options = {"store_ancillary_features": bool(store_ancillary_features),
               "store_basin_features": bool(store_basin_features)}
    log = get_command_log(paths, {"verb": "condense", "options": options})
    entries = [_warning_text(w) for w in list(warnings_list or []) + caught]
    hw = HDF5Writer(h5_cond)
    hw.store_log("cytolab-condense", log.splitlines(), override=True)
    if entries:
        hw.store_log("cytolab-condense-warnings", entries, override=True)
    hw.close()
    for w in caught:  # let the caller see them, too
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return written


# the work --------------------------------------------------------------------


def _condense(ds: RTDCBase, h5: h5py.File, store_ancillary_features: bool,
              store_basin_features: bool) -> list[str]:
    """Write metadata, supplements and scalar features; no command log."""
    if not isinstance(h5, h5py.Group):
        raise TypeError(f"Expected an open h5py.File or a path, got "
                        f"{type(h5).__name__}: {h5!r}")
    if h5.file.mode != "r+":
        raise ValueError(f"Output '{h5.file.filename}' is opened read-only")
    if isinstance(h5.get("events"), h5py.Group) and len(h5["events"]):
        raise ValueError(f"Output '{h5.file.filename}' already holds features "
                         f"({sorted(h5['events'])}); condense into an empty file")
    src = getattr(ds, "h5file", None)
    src = src if isinstance(src, h5py.Group) else None
    groups = plan_features(ds, store_ancillary_features=store_ancillary_features,
                           store_basin_features=store_basin_features)
    checkpoint = ds.cache_checkpoint()  # memory: keep one feature at a time
    with RTDCWriter(h5, mode="append") as hw:
        if src is not None:
            rtdc_copy(src, h5, features="none", include_basins=True,
                      include_logs=True, include_tables=True)
        else:
            _store_supplements(ds, hw, h5)
        _rename_condense_logs(ds, h5)
        events = h5.require_group("events")
        total = sum(len(feats) for _, feats in groups)
        with progress_bar(total=total, desc="condense", unit="feature") as bar:
            for source, feats in groups:
                for feat in feats:
                    if feat not in events:
                        _store_feature(ds, hw, events, src, feat, source)
                    bar.update(1)
                ds.release_cache(checkpoint)
    return sorted(events)


def plan_features(ds: RTDCBase, store_ancillary_features: bool = True,
                  store_basin_features: bool = True
                  ) -> list[tuple[str, list[str]]]:
    """The scalar features a condensed file of `ds` gets, by source.

    Parameters
    ----------
    ds
        The dataset.
    store_ancillary_features, store_basin_features
        As in :func:`condense`.

    Returns
    -------
    list of (source, features)
        `source` is ``"innate"`` (stored or temporary), ``"basin"`` or
        ``"ancillary"``; features computed by one recipe method (e.g. the
        texture features) form one group, every other feature a group of
        its own. Innate features come first, then basin, then ancillary
        features, each sorted by name.

    Examples
    --------
    >>> import numpy as np, cytolab
    >>> ds = cytolab.new_dataset({"circ": np.full(4, .9)})
    >>> plan_features(ds)
    [('innate', ['circ']), ('ancillary', ['deform']), ('ancillary', ['index'])]
    """
    scalar = dfn.scalar_feature_exists
    innate = set(ds.features_innate) | set(ds.features_temporary)
    from_basins = set(ds.features_basin) - innate
    groups: list[tuple[str, list[str]]] = [
        ("innate", [f]) for f in sorted(innate) if scalar(f)]
    if store_basin_features:
        groups += [("basin", [f]) for f in sorted(from_basins) if scalar(f)]
    by_method: dict[int, list[str]] = {}
    for feat in ds.features_ancillary:
        if feat in innate or feat in from_basins or not scalar(feat):
            continue
        recipe = AncillaryFeature.get_recipe(ds, feat)
        if recipe is None or not (store_ancillary_features or recipe.rapid):
            continue
        by_method.setdefault(id(recipe.method), []).append(feat)
    groups += [("ancillary", feats) for feats in by_method.values()]
    return groups


def _store_feature(ds: RTDCBase, hw: RTDCWriter, events: h5py.Group,
                   src: h5py.Group | None, feat: str, source: str) -> None:
    """Write one feature: copied as stored if possible, else from ``ds``."""
    if source == "innate" and src is not None and feat in ds.features_innate:
        stored = src["events"].get(feat)
        if isinstance(stored, h5py.Dataset) and stored.ndim == 1 \
                and stored.shape[0] == len(ds):
            h5ds_copy(src["events"], feat, events)
            return
    if source != "ancillary":
        hw.store_feature(feat, ds[feat])
        return
    try:
        hw.store_feature(feat, ds[feat])
    except Exception as exc:  # a recipe may fail in any way
        if feat in events:
            del events[feat]
        warnings.warn(f"Feature '{feat}' of {ds} was left out: it could not be "
                      f"computed ({type(exc).__name__}: {exc})",
                      CondenseFeatureWarning, stacklevel=2)


def _store_supplements(ds: RTDCBase, hw: RTDCWriter, h5: h5py.File) -> None:
    """Metadata, logs, tables and basins of a dataset not read from HDF5."""
    hw.store_metadata(ds.config.as_dict(pop_filtering=True))
    low = HDF5Writer(h5)
    for name, lines in ds.logs.items():
        low.store_log(name, list(lines), override=True)
    for name, table in ds.tables.items():
        low.store_table(name, table)
    for bdict in ds.basins_get_dicts():
        # mapped and internal basins need data that only .rtdc files have
        if bdict.get("mapping", "same") == "same" \
                and bdict.get("type") in ("file", "remote"):
            low.store_basin_dict(bdict)


def _rename_condense_logs(ds: RTDCBase, h5: h5py.File) -> None:
    """Keep logs of an earlier condensing under ``<name>_<config hash>``."""
    logs = h5.get("logs")
    if not isinstance(logs, h5py.Group):
        return
    found = [name for name in CONDENSE_LOGS if name in logs]
    if not found:
        return
    suffix = config_hash(ds)
    for name in found:
        new = f"{name}_{suffix}"
        if new in logs:
            del logs[new]
        logs.move(name, new)


def config_hash(ds: RTDCBase) -> str:
    """MD5 of the configuration of `ds` (as JSON, without ``filtering``).

    Examples
    --------
    >>> import numpy as np, cytolab
    >>> ds = cytolab.new_dataset({"deform": np.zeros(3)})
    >>> len(config_hash(ds))
    32
    """
    cfg = json.loads(ds.config.tojson())
    cfg.pop("filtering", None)
    text = json.dumps(cfg, sort_keys=True)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _warning_text(item: Any) -> str:
    if isinstance(item, warnings.WarningMessage):
        return f"{item.category.__name__}: {item.message}"
    if isinstance(item, Warning):
        return f"{type(item).__name__}: {item}"
    return str(item)


@contextlib.contextmanager
def _open_dataset(path: pathlib.Path) -> Iterator[RTDCBase]:
    try:
        ds = new_dataset(path)
    except NotImplementedError as exc:  # a format without a reader (yet)
        raise CytolabError(f"Cannot condense '{path}': {exc}") from exc
    with ds:
        yield ds


# command line ----------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cytolab condense``."""
    parser.add_argument("path_in", metavar="INPUT",
                        help="input measurement (.rtdc or .tdms file)")
    parser.add_argument("path_out", metavar="OUTPUT",
                        help="output .rtdc file (must not exist)")
    parser.add_argument("--no-ancillary-features", action="store_true",
                        help="do not compute expensive features (those needing "
                        "images, masks, contours or traces, such as volume; "
                        "and the Young's modulus)")
    parser.add_argument("--no-basin-features", action="store_true",
                        help="do not store features that only the input's "
                        "basins provide")


def run(args: argparse.Namespace) -> None:
    """Run ``cytolab condense`` with parsed arguments."""
    condense(args.path_in, args.path_out,
             store_ancillary_features=not args.no_ancillary_features,
             store_basin_features=not args.no_basin_features)
