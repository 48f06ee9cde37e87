"""Haralick texture features of the background-corrected event image.

For every event, gray-level co-occurrence matrices (GLCMs) are built from
the background-corrected image ``image - image_bg`` restricted to the event
mask, for the four nearest-neighbour directions 0°, 45°, 90° and 135°
(distance 1, symmetric matrices). Eleven of Haralick's features are
computed per direction and reported as the average (``_avg``) and the
peak-to-peak range (``_ptp``) over the four directions:

=======  ===========================================
``asm``  angular second moment
``con``  contrast
``cor``  correlation
``den``  difference entropy
``ent``  entropy
``f12``  first information measure of correlation
``f13``  second information measure of correlation
``idm``  inverse difference moment
``sen``  sum entropy
``sva``  sum variance
``var``  variance (sum of squares)
=======  ===========================================

Conventions, checked against the values stored by the reference tools in
the real measurement files (agreement to better than 1e-12):

* a pixel pair enters a GLCM only when both pixels are inside the mask
  (the reference shifts the corrected image so that its minimum inside the
  mask is gray level 1, sets the outside to 0 and ignores gray level 0; all
  features are invariant to that shift);
* entropies use base-2 logarithms, the second information measure of
  correlation uses ``1 - exp(-2 (HXY2 - HXY))``;
* a correlation of a GLCM with zero variance is 1;
* an event for which any direction has no pixel pair inside the mask (empty
  masks, single pixels, one-pixel-wide lines) gives NaN for all features
  (the reference cannot compute them either).

Implementation: no dense GLCM is built. All features follow from four
histograms per event and direction — of the gray levels of the pair end
points (the GLCM marginal), of the sums and of the absolute differences of
the pairs, and of the distinct unordered pairs (the GLCM cells) — which are
computed for a whole batch of events with :func:`numpy.bincount` on
combined codes and one :func:`numpy.sort` of the pair codes.

References
----------
R. M. Haralick, K. Shanmugam and I. Dinstein, "Textural Features for Image
Classification", IEEE Transactions on Systems, Man, and Cybernetics,
SMC-3(6), 610-621 (1973).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .bright import _event_stacks, _MaskPixels

__all__ = ["TEXTURE_FEATURES", "TEXTURE_NAMES", "get_texture", "texture_features"]

#: Short names of the Haralick features (alphabetical).
TEXTURE_NAMES = ("asm", "con", "cor", "den", "ent", "f12", "f13", "idm", "sen",
                 "sva", "var")

#: Names of all texture features: ``tex_<name>_avg`` and ``tex_<name>_ptp``.
TEXTURE_FEATURES = tuple(f"tex_{name}_{stat}" for name in TEXTURE_NAMES
                         for stat in ("avg", "ptp"))

#: Events processed per internal batch (bounds temporary memory).
_BATCH_EVENTS = 512
#: Largest total number of histogram bins of one batch (else it is split).
_MAX_BINS = 1 << 23
#: Largest supported range of gray levels inside one event mask.
_MAX_LEVELS = 1 << 20


def _entropy_terms(counts: np.ndarray, log2_total: np.ndarray) -> np.ndarray:
    """``c * log2(T / c)`` per bin (0 for c == 0); summed and divided by T,
    these give the entropy. Written this way, a histogram with one bin
    gives exactly 0 (no cancellation)."""
    c = counts.astype(np.float64)
    return c * (log2_total - np.log2(np.maximum(c, 1.0)))


class _Layout:
    """Per-event blocks of bins, concatenated over the events of a batch."""

    def __init__(self, sizes: np.ndarray) -> None:
        self.sizes = sizes.astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.total = int(self.sizes.sum())
        # value represented by each bin, counted from 0 within its event
        level = (np.arange(self.total, dtype=np.int64)
                 - np.repeat(self.offsets, self.sizes)).astype(np.float64)
        self.level = level
        self.level2 = level * level
        self.offsets32 = self.offsets.astype(np.int32)
        self.event = np.repeat(np.arange(len(self.sizes)), self.sizes)

    def histogram(self, codes: np.ndarray) -> np.ndarray:
        return np.bincount(codes, minlength=self.total)

    def reduce(self, values: np.ndarray) -> np.ndarray:
        """Per-event sum of one value per bin (every block is non-empty)."""
        return np.add.reduceat(values, self.offsets)

    def entropy(self, hist: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Base-2 entropy of each event's histogram with `total` counts."""
        log2_total = np.log2(np.maximum(total, 1.0))
        return self.reduce(_entropy_terms(hist, log2_total[self.event])) / total


def _direction_features(lev_a: np.ndarray, lev_b: np.ndarray, event: np.ndarray,
                        num: int, span: np.ndarray, marg: _Layout, sums: _Layout,
                        ) -> dict[str, np.ndarray]:
    """The eleven features of one direction for every event of a batch.

    `lev_a`, `lev_b` are the gray levels (0 .. span-1 of the event) of the
    two pixels of each pair, `event` the event of each pair (increasing).
    """
    npairs = np.bincount(event, minlength=num)
    if lev_a.size == 0:
        return {name: np.full(num, np.nan) for name in TEXTURE_NAMES}
    diff = np.abs(lev_a - lev_b)
    low = np.minimum(lev_a, lev_b)
    off_m = marg.offsets32[event]
    # marginal of the symmetric GLCM: both end points of every pair
    hist_m = marg.histogram(off_m + lev_a) + marg.histogram(off_m + lev_b)
    hist_d = marg.histogram(off_m + diff)  # |a - b| < span
    hist_s = sums.histogram(sums.offsets32[event] + lev_a + lev_b)

    # distinct unordered pairs (GLCM cells): sort codes low * span + diff;
    # pairs are grouped by event, and sorting keeps the groups in place
    # because the code ranges of the events do not overlap
    cells = span * span
    cell_off = np.concatenate([[0], np.cumsum(cells)[:-1]])
    # int32 codes sort fastest; batches are small enough for them
    ctype = np.int32 if cells.sum() < np.iinfo(np.int32).max else np.int64
    codes = (cell_off.astype(ctype)[event] + low.astype(ctype)
             * span.astype(ctype)[event] + diff)
    codes.sort()
    first = np.empty(codes.size, dtype=bool)
    first[0] = True
    np.not_equal(codes[1:], codes[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ncell = np.diff(np.append(starts, codes.size))
    cell_event = event[starts]
    cell_diag = (codes[starts] - cell_off[cell_event]) % span[cell_event] == 0
    cell_n = ncell.astype(np.float64)
    p = npairs.astype(np.float64)
    total = 2 * p  # entries of the symmetric GLCM
    # an off-diagonal cell holds n / total twice, a diagonal one 2 n / total
    weight = np.where(cell_diag, 2 * cell_n, cell_n)
    log2_total = np.log2(np.maximum(total, 1.0))[cell_event]
    ent_terms = _entropy_terms(weight, log2_total) * np.where(cell_diag, 1, 2)
    ent_sum = np.bincount(cell_event, weights=ent_terms, minlength=num)
    asm_sum = np.bincount(cell_event, weights=weight * weight
                          * np.where(cell_diag, 1, 2), minlength=num)

    # integer moments (exact in float64 for any realistic event size)
    s1 = marg.reduce(marg.level * hist_m)  # sum of levels of all end points
    q1 = marg.reduce(marg.level2 * hist_m)
    d2 = marg.reduce(marg.level2 * hist_d)
    idm_sum = marg.reduce(hist_d / (1.0 + marg.level2))
    qs = sums.reduce(sums.level2 * hist_s)

    with np.errstate(invalid="ignore", divide="ignore"):
        var_num = total * q1 - s1 * s1  # var = var_num / total**2
        var = var_num / total**2
        cor = np.where(var_num == 0, 1.0,
                       (total * (qs - q1) - s1 * s1) / var_num)
        sva = (p * qs - s1 * s1) / p**2
        con = d2 / p
        idm = idm_sum / p
        asm = asm_sum / total**2
        ent = ent_sum / total
        hx = marg.entropy(hist_m, total)
        sen = sums.entropy(hist_s, p)
        den = marg.entropy(hist_d, p)
        # for a symmetric GLCM, HXY1 = HXY2 = 2 * HX
        f12 = np.where(hx == 0, ent - 2 * hx, (ent - 2 * hx) / hx)
        f13 = np.sqrt(np.maximum(0, 1 - np.exp(-2 * (2 * hx - ent))))
    res = {"asm": asm, "con": con, "cor": cor, "den": den, "ent": ent,
           "f12": f12, "f13": f13, "idm": idm, "sen": sen, "sva": sva,
           "var": var}
    empty = npairs == 0
    for arr in res.values():
        arr[empty] = np.nan
    return res


def _texture_batch(mask: np.ndarray, image: np.ndarray,
                   image_bg: np.ndarray | None) -> dict[str, np.ndarray]:
    num, height, width = mask.shape
    pix = _MaskPixels(mask)
    filled = pix.counts > 0
    values = pix.gather(image).astype(np.int64)
    if image_bg is not None:
        values -= pix.gather(image_bg).astype(np.int64)
    # shift every event to gray levels 0 .. span-1 (features are invariant)
    vmin = np.zeros(num, dtype=np.int64)
    vmax = np.zeros(num, dtype=np.int64)
    if values.size:
        vmin[filled] = np.minimum.reduceat(values, pix.starts[filled])
        vmax[filled] = np.maximum.reduceat(values, pix.starts[filled])
    span = vmax - vmin + 1
    if span.max() > _MAX_LEVELS:
        raise ValueError(f"the gray levels inside a mask span {span.max()} "
                         f"values; texture features support at most "
                         f"{_MAX_LEVELS} (use 8- or 16-bit images)")
    if num > 1 and 2 * int(span.sum()) > _MAX_BINS:
        # wide gray-level ranges (16-bit data): smaller batches
        half = num // 2
        first = _texture_batch(mask[:half], image[:half],
                               None if image_bg is None else image_bg[:half])
        second = _texture_batch(mask[half:], image[half:],
                                None if image_bg is None else image_bg[half:])
        return {name: np.concatenate([first[name], second[name]])
                for name in first}
    # 32-bit indices and levels halve the memory traffic where they suffice
    itype = np.int32 if num * (height + 1) * (width + 1) < 2**31 else np.int64
    vtype = np.int32 if span.max() < 2**30 else np.int64
    event = pix.event_of_pixel().astype(itype)
    level = (values - vmin[event]).astype(vtype)

    # gray levels in images padded by one row and one column of -1, so that
    # the neighbour of a border pixel is "outside the mask"
    pw = width + 1
    local = (pix.index - event.astype(np.int64) * (height * width)).astype(itype)
    row, col = np.divmod(local, itype(width))
    padded_index = event * itype((height + 1) * pw) + row * itype(pw) + col
    ltype = np.int16 if span.max() < np.iinfo(np.int16).max else vtype
    lookup = np.full(num * (height + 1) * pw, -1, dtype=ltype)
    lookup[padded_index] = level

    marg = _Layout(span)
    sums = _Layout(2 * span - 1)
    per_dir = []
    # offsets of the neighbours at 0°, 45°, 90° and 135° (dy, dx) =
    # (0, 1), (1, 1), (1, 0), (1, -1); the pair (p, q) and its mirror
    # (q, p) are both counted, so the other four neighbours add nothing
    for offset in (1, pw + 1, pw, pw - 1):
        neighbour = lookup[padded_index + itype(offset)]
        inside = neighbour >= 0
        per_dir.append(_direction_features(
            level[inside], neighbour[inside].astype(vtype), event[inside],
            num, span, marg, sums))
    out = {}
    for name in TEXTURE_NAMES:
        stack = np.stack([res[name] for res in per_dir])
        out[f"tex_{name}_avg"] = stack.mean(axis=0)
        out[f"tex_{name}_ptp"] = np.ptp(stack, axis=0)
    return out


def texture_features(mask: Any, image: Any, image_bg: Any = None,
                     ) -> dict[str, np.ndarray]:
    """Haralick texture features of a stack of events.

    Parameters
    ----------
    mask : array_like of shape (N, H, W)
        Event masks (boolean, or integer with nonzero inside the event).
    image : array_like of shape (N, H, W)
        Integer gray-scale images.
    image_bg : array_like of shape (N, H, W), optional
        Integer background images; the texture is computed from
        ``image - image_bg`` (the usual case). Without it, from `image`.

    Returns
    -------
    dict
        The 22 features of :data:`TEXTURE_FEATURES`, arrays of length N
        (NaN where a direction has no pixel pair inside the mask).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[1, 2, 1, 2],
    ...                    [2, 1, 2, 1],
    ...                    [1, 2, 1, 2]]], dtype=np.uint8)
    >>> mask = np.ones_like(image, dtype=bool)
    >>> res = texture_features(mask, image)
    >>> float(res["tex_con_avg"][0]), float(res["tex_con_ptp"][0])
    (0.5, 1.0)
    """
    _, mstack, stacks = _event_stacks(
        mask, ("image", image),
        *([("image_bg", image_bg)] if image_bg is not None else []),
        integer=True)
    istack = stacks[0]
    bstack = stacks[1] if image_bg is not None else None
    num = mstack.shape[0]
    out = {name: np.empty(num, dtype=np.float64) for name in TEXTURE_FEATURES}
    for start in range(0, num, _BATCH_EVENTS):
        sl = slice(start, min(start + _BATCH_EVENTS, num))
        res = _texture_batch(mstack[sl], istack[sl],
                             None if bstack is None else bstack[sl])
        for name in TEXTURE_FEATURES:
            out[name][sl] = res[name]
    return out


def get_texture(mask: Any, image: Any, image_bg: Any = None) -> dict[str, Any]:
    """Haralick texture features of one event or of several events.

    Parameters
    ----------
    mask : array_like of shape (H, W) or (N, H, W), or list of (H, W) arrays
        True (or nonzero) where the event is located in `image`.
    image : array_like of the same shape as `mask`
        Integer gray-scale image(s).
    image_bg : array_like of the same shape as `mask`, optional
        Integer background image(s); the texture of ``image - image_bg``
        is computed when given.

    Returns
    -------
    dict
        Feature name (``tex_asm_avg``, ``tex_asm_ptp``, ...) to a float
        (single event) or an array of N values.

    Raises
    ------
    ValueError
        If the shapes differ or the images are not integer arrays.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = rng.integers(90, 110, size=(20, 30), dtype=np.uint8)
    >>> image_bg = np.full((20, 30), 100, dtype=np.uint8)
    >>> mask = np.zeros((20, 30), bool)
    >>> mask[5:15, 5:25] = True
    >>> tex = get_texture(mask, image, image_bg)
    >>> sorted(tex)[:3]
    ['tex_asm_avg', 'tex_asm_ptp', 'tex_con_avg']
    >>> 0 < tex["tex_asm_avg"] < 1
    True
    """
    single, mstack, stacks = _event_stacks(
        mask, ("image", image),
        *([("image_bg", image_bg)] if image_bg is not None else []),
        integer=True)
    res = texture_features(mstack, *stacks)
    if single:
        return {name: float(val[0]) for name, val in res.items()}
    return res
