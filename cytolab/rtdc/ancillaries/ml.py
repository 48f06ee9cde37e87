"""``ml_class``: the most probable class from the ``ml_score_xxx`` features.

The classes are the ``ml_score_xxx`` features of a dataset in sorted order;
``ml_class`` is the position of the highest score of each event. Scores that
are NaN are ignored; an event with only NaN scores gets NaN. The set of
score features (and their data) is part of the cache key, so adding or
replacing a score feature recomputes the classes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ... import definitions as dfn
from .engine import AncillaryFeature

if TYPE_CHECKING:  # pragma: no cover
    from ..core import RTDCBase


def ml_score_features(ds: RTDCBase) -> list[str]:
    """Sorted names of the ``ml_score_xxx`` features available in `ds`.

    Looks at stored, temporary and basin features and at recipes that
    compute scores, without computing anything.
    """
    candidates = set(ds._events) | set(ds.features_temporary)
    candidates |= set(ds.features_basin)
    candidates |= set(AncillaryFeature.feature_names)
    return sorted(name for name in candidates if dfn.is_ml_score_name(name)
                  and ds._feature_available(name, exclude="ml_class"))


def _score_tokens(ds: RTDCBase) -> tuple | bool:
    names = ml_score_features(ds)
    if not names:
        return False
    return tuple((name, ds._feature_token(name)) for name in names)


def compute_ml_class(ds: RTDCBase) -> np.ndarray:
    """Index of the highest ML score per event (NaN if all scores are NaN)."""
    names = ml_score_features(ds)
    scores = np.column_stack([np.asarray(ds[name], dtype=float) for name in names])
    valid = ~np.all(np.isnan(scores), axis=1)
    result = np.full(len(ds), np.nan)
    if np.any(valid):
        filled = np.where(np.isnan(scores[valid]), -np.inf, scores[valid])
        result[valid] = np.argmax(filled, axis=1)
    return result


AncillaryFeature("ml_class", compute_ml_class, req_func=_score_tokens)
