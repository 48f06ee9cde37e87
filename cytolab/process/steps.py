"""Resolving a pipeline step from what the user gave: a code, a full
identifier (``"rollmed:k=50"``) or a ready instance."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..io.ppid import ppid_to_kwargs, split_ppid


def from_spec(spec: Any, kwargs: Mapping[str, Any], base: type,
              registry: Mapping[str, type], default: str, kind: str) -> Any:
    """Instance of a step.

    Parameters
    ----------
    spec
        Instance of `base`, a code, a full identifier, or None (`default`).
    kwargs
        Keywords overriding those of the identifier.
    base
        Base class of the step.
    registry
        Step classes by code.
    default
        Code used when `spec` is None.
    kind
        Name of the step for messages.

    Raises
    ------
    ValueError
        For an unknown code, unknown keywords, or keywords together with an
        instance.
    """
    if isinstance(spec, base):
        if kwargs:
            raise ValueError(f"Keywords cannot be combined with a {kind} instance")
        return spec
    code, parts = split_ppid(spec or default)
    if code not in registry:
        raise ValueError(f"Unknown {kind} '{code}'; available: {sorted(registry)}")
    cls = registry[code]
    parse = getattr(cls, "kwargs_from_ppid_parts", None)
    parsed = parse(parts) if parse else (
        ppid_to_kwargs(parts[0], cls.defaults) if parts else {})
    return cls(**{**parsed, **kwargs})
