"""Pipeline identifiers: short strings that say exactly how data were made.

Every step of the event-extraction pipeline (input data, background,
segmenter, feature extractor, gate) is described by an identifier of the form
``code:k1=v1^k2=v2``, for instance ``sparsemed:k=200^s=1^t=0^f=0.8^o=1``.
Keyword names are abbreviated to the shortest prefix that is unique among the
keywords of that step, booleans are written as 0/1, and the keywords appear in
the order the step defines them. A step with two keyword sets (the segmenter's
thresholding and mask post-processing) joins them with a further colon. The
identifiers land in the ``pipeline:dcnum ...`` metadata of processed files and
their MD5 in ``pipeline:dcnum hash``.
"""
from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Separators of the identifier syntax.
CODE_SEP = ":"
ITEM_SEP = "^"


def _abbreviations(keys: Sequence[str]) -> dict[str, str]:
    """Shortest prefix of every key that no other key starts with."""
    abbr = {}
    for key in keys:
        others = [k for k in keys if k != key]
        for n in range(1, len(key) + 1):
            if not any(o.startswith(key[:n]) for o in others):
                abbr[key] = key[:n]
                break
        else:
            raise ValueError(f"Keyword {key!r} is a prefix of another keyword; "
                             f"it cannot be abbreviated uniquely")
    return abbr


def _format_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return "none"
    text = str(value)
    if any(sep in text for sep in (CODE_SEP, ITEM_SEP, "=")):
        raise ValueError(f"Value {text!r} contains a reserved character "
                         f"({CODE_SEP!r}, {ITEM_SEP!r} or '=')")
    return text


def parse_value(text: str, default: Any = None) -> Any:
    """Value of identifier text, with the type of `default` (None: guess).

    Examples
    --------
    >>> parse_value("1", True), parse_value("0.5"), parse_value("abc")
    (True, 0.5, 'abc')
    """
    if text == "none":
        return None
    if isinstance(default, (bool, np.bool_)):
        return text not in ("0", "False", "false")
    if isinstance(default, numbers.Integral):
        return int(float(text))
    if isinstance(default, numbers.Real):
        return float(text)
    if default is None:
        for conv in (int, float):
            try:
                return conv(text)
            except ValueError:
                pass
    return text


def kwargs_to_ppid(kwargs: Mapping[str, Any]) -> str:
    """Write keyword arguments as the ``k=v^k=v`` part of an identifier.

    Parameters
    ----------
    kwargs
        All keyword arguments of a step, in the step's own order.

    Examples
    --------
    >>> kwargs_to_ppid({"kernel_size": 200, "split_time": 1.0,
    ...                 "thresh_cleansing": 0, "frac_cleansing": 0.8,
    ...                 "offset_correction": True})
    'k=200^s=1^t=0^f=0.8^o=1'
    """
    abbr = _abbreviations(list(kwargs))
    return ITEM_SEP.join(f"{abbr[k]}={_format_value(v)}" for k, v in kwargs.items())


def ppid_to_kwargs(text: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Parse the ``k=v^k=v`` part of an identifier back into keywords.

    Parameters
    ----------
    text
        The keyword part of an identifier (may be empty).
    defaults
        The step's keywords with their defaults; they define the order of
        abbreviation and the types the values are converted to.

    Returns
    -------
    dict
        `defaults` updated with the values found in `text`.

    Raises
    ------
    ValueError
        For an item without ``=`` or an abbreviation that matches no keyword.

    Examples
    --------
    >>> ppid_to_kwargs("k=100^o=0", {"kernel_size": 200, "offset": True})
    {'kernel_size': 100, 'offset': False}
    """
    abbr = _abbreviations(list(defaults))
    lookup = {v: k for k, v in abbr.items()}
    kwargs = dict(defaults)
    for item in filter(None, text.split(ITEM_SEP)):
        if "=" not in item:
            raise ValueError(f"Identifier item {item!r} in {text!r} is not "
                             f"of the form 'key=value'")
        short, value = item.split("=", 1)
        if short not in lookup:
            raise ValueError(f"Unknown keyword {short!r} in identifier "
                             f"{text!r}; expected one of {sorted(lookup)}")
        key = lookup[short]
        kwargs[key] = parse_value(value, defaults[key])
    return kwargs


def join_ppid(code: str, *kwargs_parts: Mapping[str, Any]) -> str:
    """Full identifier ``code:k=v^...[:k=v^...]`` of a step.

    Examples
    --------
    >>> join_ppid("thresh", {"thresh": -6}, {"clear_border": True,
    ...           "fill_holes": True, "closing_disk": 2})
    'thresh:t=-6:cle=1^f=1^clo=2'
    >>> join_ppid("copy", {})
    'copy'
    """
    if not code or CODE_SEP in code or ITEM_SEP in code:
        raise ValueError(f"Invalid identifier code {code!r}")
    if not any(kwargs_parts):  # a step without keywords: just its code
        return code
    return CODE_SEP.join([code] + [kwargs_to_ppid(kw) for kw in kwargs_parts])


def split_ppid(ppid: str) -> tuple[str, list[str]]:
    """Split an identifier into its code and keyword parts.

    Examples
    --------
    >>> split_ppid("thresh:t=-6:cle=1^f=1")
    ('thresh', ['t=-6', 'cle=1^f=1'])
    """
    code, *parts = ppid.split(CODE_SEP)
    return code, parts


def index_mapping_to_ppid(index_mapping: Any) -> str:
    """Identifier part of an index mapping.

    ``0`` for none, the number N for "the first N events", ``s_start_stop_step``
    for a slice (``n`` for None) and ``h`` plus the first eight hex digits of
    the MD5 of the indices for an explicit list.

    Examples
    --------
    >>> index_mapping_to_ppid(None), index_mapping_to_ppid(100)
    ('0', '100')
    >>> index_mapping_to_ppid(slice(10, None, 2))
    's_10_n_2'
    """
    if index_mapping is None:
        return "0"
    if isinstance(index_mapping, numbers.Integral):
        return str(int(index_mapping))
    if isinstance(index_mapping, slice):
        parts = (index_mapping.start, index_mapping.stop, index_mapping.step)
        return "s_" + "_".join("n" if p is None else str(int(p)) for p in parts)
    arr = np.ascontiguousarray(index_mapping, dtype=np.uint64)
    return "h" + hashlib.md5(arr.tobytes()).hexdigest()[:8]


def ppid_to_index_mapping(text: str) -> int | slice | None:
    """Inverse of :func:`index_mapping_to_ppid` where possible.

    Raises
    ------
    ValueError
        For the hash of an explicit list (the indices cannot be recovered)
        or malformed text.

    Examples
    --------
    >>> ppid_to_index_mapping("s_10_n_2")
    slice(10, None, 2)
    """
    if text == "0":
        return None
    if text.startswith("s_"):
        parts = text[2:].split("_")
        if len(parts) == 3:
            return slice(*(None if p == "n" else int(p) for p in parts))
    elif text.startswith("h"):
        raise ValueError(f"Index mapping {text!r} is the hash of an index "
                         f"list; the indices cannot be recovered from it")
    elif text.isdigit():
        return int(text)
    raise ValueError(f"Malformed index-mapping identifier {text!r}")


def ppid_hash(*ppids: str) -> str:
    """MD5 hex digest over identifiers (the ``pipeline:dcnum hash``).

    Examples
    --------
    >>> len(ppid_hash("a:x=1", "b:y=2"))
    32
    """
    return hashlib.md5("|".join(ppids).encode()).hexdigest()
