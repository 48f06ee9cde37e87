"""`new_dataset`: open any supported data as a dataset."""
from __future__ import annotations

import io
import os
import pathlib
import re
from collections.abc import Mapping
from typing import Any

import h5py

from ..errors import FileFormatError
from ..io import is_hdf5_file
from .core import RTDCBase
from .formats import RTDC_HDF5, RTDC_TDMS, RTDC_Dict, RTDC_Hierarchy

_URL = re.compile(r"^(https?|s3)://", re.IGNORECASE)
_DCOR_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_dataset(data: Any, identifier: str | None = None, **kwargs: Any) -> RTDCBase:
    """Open a measurement (or wrap data) as a dataset.

    Parameters
    ----------
    data
        One of: a path to an ``.rtdc`` file (detected by content, whatever the
        extension), a path to a legacy ``.tdms`` file (by extension), an open
        :class:`h5py.File`, a binary file-like object holding HDF5 data, a
        dict of feature arrays, or a dataset (gives a hierarchy child,
        available with the filtering features).
    identifier
        Unique identifier of the new instance.
    **kwargs
        Passed to the dataset class (e.g. ``enable_basins=False``).

    Returns
    -------
    RTDCBase
        The dataset.

    Raises
    ------
    FileFormatError
        If a path does not exist or holds no supported format.

    Examples
    --------
    >>> import numpy as np
    >>> ds = new_dataset({"deform": np.array([0.1, 0.2])})
    >>> ds.format, len(ds)
    ('dict', 2)
    """
    if isinstance(data, h5py.Group):  # before Mapping: an h5py.Group is one
        return RTDC_HDF5(data, identifier=identifier, **kwargs)
    if isinstance(data, Mapping):
        return RTDC_Dict(data, identifier=identifier, **kwargs)
    if isinstance(data, RTDCBase):
        return RTDC_Hierarchy(data, identifier=identifier, **kwargs)
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        return RTDC_HDF5(data, identifier=identifier, **kwargs)
    if isinstance(data, (str, os.PathLike)):
        text = str(data)
        if isinstance(data, str) and (_URL.match(text) or _DCOR_ID.match(text)) \
                and not pathlib.Path(text).exists():
            raise NotImplementedError(
                f"Remote datasets (URLs, DCOR ids) are not supported yet: '{text}'")
        path = pathlib.Path(data)
        if not path.exists():
            raise FileFormatError(f"File not found: '{path}'")
        if path.is_dir():
            raise FileFormatError(f"'{path}' is a directory, not a measurement file")
        if RTDC_TDMS.can_open(path):
            return RTDC_TDMS(path, identifier=identifier, **kwargs)
        if is_hdf5_file(path):
            return RTDC_HDF5(path, identifier=identifier, **kwargs)
        raise FileFormatError(f"Unsupported file format (not HDF5): '{path}'")
    raise TypeError(f"Cannot open {type(data).__name__} as a dataset")
