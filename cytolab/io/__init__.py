"""The one HDF5 layer of cytolab: lazy reading, writing, basins, identity.

Nothing here knows about datasets (:mod:`cytolab.rtdc`); this layer deals in
h5py files, groups and arrays only. :class:`HDF5Data` and
:class:`HDF5Writer` are its dcnum-style faces (also in :mod:`cytolab.read`
and :mod:`cytolab.write`).
"""
from .arrays import (
    ChunkedEventArray,
    EventArray,
    MappedEventArray,
    RaggedEventArray,
    get_mapped_object,
    get_mapping_indices,
)
from .basins import (
    basin_file_candidates,
    basin_priority_sorted_key,
    check_basin_identifier,
    read_basin_dicts,
)
from .concat import concatenated_hdf5_data
from .copier import (
    ExternalDataForbiddenError,
    assert_no_external,
    check_external,
    combine_h5files,
    h5ds_copy,
    is_properly_compressed,
    rtdc_copy,
)
from .fcs import write_fcs
from .files import (
    atomic_path,
    decode_attr,
    get_measurement_identifier,
    is_hdf5_file,
    md5_5m,
    md5sum,
    open_h5,
    read_root_metadata,
    temporary_sibling,
)
from .flicker import detect_flickering
from .hdf5data import (
    PROTECTED_FEATURES,
    HDF5Data,
    HDF5ImageCache,
    ImageCorrCache,
)
from .ppid import (
    index_mapping_to_ppid,
    join_ppid,
    kwargs_to_ppid,
    ppid_hash,
    ppid_to_index_mapping,
    ppid_to_kwargs,
    split_ppid,
)
from .transfer import copy_basins, copy_features, copy_metadata, create_with_basins
from .tsv import write_tsv_rows
from .writer import (
    CHUNK_SIZE_BYTES,
    IMAGE_ATTRIBUTES,
    INTERNAL_BASIN_GROUP,
    HDF5Writer,
    get_best_nd_chunks,
    read_text_lines,
    set_default_filter_kwargs,
    write_text,
)

__all__ = [
    "CHUNK_SIZE_BYTES", "IMAGE_ATTRIBUTES", "INTERNAL_BASIN_GROUP",
    "ChunkedEventArray", "EventArray", "HDF5Writer", "MappedEventArray",
    "RaggedEventArray", "atomic_path", "basin_priority_sorted_key",
    "decode_attr", "get_best_nd_chunks", "get_mapped_object",
    "get_mapping_indices", "get_measurement_identifier", "is_hdf5_file",
    "md5_5m", "md5sum", "open_h5", "read_basin_dicts", "read_root_metadata",
    "read_text_lines", "set_default_filter_kwargs", "temporary_sibling",
    "write_text",
    "ExternalDataForbiddenError", "assert_no_external", "check_external",
    "combine_h5files", "h5ds_copy", "is_properly_compressed", "rtdc_copy",
    "write_fcs",
    "write_tsv_rows",
    "PROTECTED_FEATURES", "HDF5Data", "HDF5ImageCache", "ImageCorrCache",
    "basin_file_candidates", "check_basin_identifier", "concatenated_hdf5_data",
    "copy_basins", "copy_features", "copy_metadata", "create_with_basins",
    "detect_flickering",
    "index_mapping_to_ppid", "join_ppid", "kwargs_to_ppid", "ppid_hash",
    "ppid_to_index_mapping", "ppid_to_kwargs", "split_ppid",
]
