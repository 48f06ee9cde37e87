"""Definitions of RT-DC features and metadata: names, labels, units, parsers.

This is the bottom layer of cytolab; it imports no other cytolab package.
The submodules are also available under the names ``feats_const``
(:mod:`.features`) and ``meta_const`` (:mod:`.metadata`).
"""
from . import features, meta_parse, metadata
from . import features as feats_const
from . import metadata as meta_const
from .features import (
    FEATURES_IMAGE_FLOAT32,
    FEATURES_IMAGE_UINT8,
    FEATURES_NON_SCALAR,
    FEATURES_SCALAR,
    FLUOR_TRACES,
    check_feature_shape,
    feature_exists,
    feature_labels,
    feature_name2label,
    feature_names,
    get_feature_label,
    is_ml_score_name,
    register_feature,
    registered_features,
    scalar_feature_exists,
    scalar_feature_names,
    unregister_feature,
)
from .metadata import (
    CFG_ANALYSIS,
    CFG_METADATA,
    CFG_SECTIONS,
    USER_SECTION,
    config_key_exists,
    config_keys,
    get_config_value_descr,
    get_config_value_func,
    get_config_value_type,
    get_config_value_unit,
    section_exists,
)

__all__ = [
    "CFG_ANALYSIS",
    "CFG_METADATA",
    "CFG_SECTIONS",
    "FEATURES_IMAGE_FLOAT32",
    "FEATURES_IMAGE_UINT8",
    "FEATURES_NON_SCALAR",
    "FEATURES_SCALAR",
    "FLUOR_TRACES",
    "USER_SECTION",
    "check_feature_shape",
    "config_key_exists",
    "config_keys",
    "feats_const",
    "feature_exists",
    "feature_labels",
    "feature_name2label",
    "feature_names",
    "features",
    "get_config_value_descr",
    "get_config_value_func",
    "get_config_value_type",
    "get_config_value_unit",
    "get_feature_label",
    "is_ml_score_name",
    "meta_const",
    "meta_parse",
    "metadata",
    "register_feature",
    "registered_features",
    "scalar_feature_exists",
    "scalar_feature_names",
    "section_exists",
    "unregister_feature",
]
