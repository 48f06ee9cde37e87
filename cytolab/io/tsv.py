"""Fast tab-separated text of numeric columns (used by ``ds.export.tsv``).

``numpy.savetxt`` formats every value with Python string formatting, which
takes seconds per million rows; here the digits of a whole block of rows are
computed with vectorized integer arithmetic and look-up tables of ASCII
bytes, in a few threads.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np

from .._threads import ordered_map

__all__ = ["TSV_DIGITS", "write_tsv_rows"]

#: Rows formatted at a time.
TSV_CHUNK_ROWS = 65_536
#: Significant digits of non-integral values.
TSV_DIGITS = 13

# Look-up tables of ASCII bytes, read as little-endian words.
_DIGITS4 = np.array([list(f"{i:04d}".encode()) for i in range(10_000)],
                    dtype=np.uint8).view("<u4").ravel()
_LEAD = np.array([[48 + d, 46] for d in range(10)],  # "0." ... "9."
                 dtype=np.uint8).view("<u2").ravel()
_EXPONENT = np.array([list(f"e{e:+03d}".encode()) for e in range(-99, 100)],
                     dtype=np.uint8).view("<u4").ravel()
_POW10_OFFSET = 120
_POW10 = 10.0 ** np.arange(-_POW10_OFFSET, _POW10_OFFSET + 1, dtype=np.float64)
_SPACE, _MINUS, _TAB, _NEWLINE = 32, 45, 9, 10
#: Width of a value in scientific notation: "d." + 12 digits + "e+XX".
_SCI_WIDTH = 2 + TSV_DIGITS - 1 + 4
#: Width of values formatted by Python (exponents with three digits).
_GENERIC_WIDTH = 21


class _TsvColumn:
    """How one column is written: kind, width, and whether it needs a sign."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.kind = "sci"
        self.sign = False
        self.special = False  # NaN or inf present
        if values.dtype.kind == "b":
            self.values = values.astype(np.uint8)
        if self.values.dtype.kind in "iu":
            self.kind = "int"
            vmin = int(self.values.min()) if self.values.size else 0
            vmax = int(self.values.max()) if self.values.size else 0
            self.sign = vmin < 0
            self.digits = len(str(max(abs(vmin), abs(vmax))))
        elif self.values.dtype.kind == "f":
            finite = np.isfinite(self.values)
            self.special = not finite.all()
            fvals = self.values if not self.special else self.values[finite]
            absval = np.abs(fvals)
            amax = float(absval.max()) if fvals.size else 0.0
            self.sign = bool((fvals < 0).any())
            if fvals.size and amax < 2.0**53 and _all_integral(fvals):
                self.kind = "int"
                self.digits = len(str(int(amax)))
            elif amax >= 9.9999999999995e99 or np.any((absval < 1e-99)
                                                       & (absval > 0)):
                self.kind = "generic"  # three-digit exponents
        else:
            raise ValueError(f"Cannot write data of type {values.dtype} to .tsv")
        if self.kind == "int":
            self.width = self.digits + self.sign
        elif self.kind == "sci":
            self.width = _SCI_WIDTH + self.sign
        else:
            self.width = _GENERIC_WIDTH

    def write(self, out: np.ndarray, offset: int, start: int, stop: int) -> bool:
        """Write rows `start:stop` into ``out[:, offset:offset + width]``.

        Returns True when NUL padding was written (to be removed).
        """
        chunk = self.values[start:stop]
        field = out[:, offset:offset + self.width]
        if self.kind == "generic":
            text = [format(float(v), f".{TSV_DIGITS - 1}e") for v in chunk]
            field[:] = np.array(text, dtype=f"S{self.width}").view(
                np.uint8).reshape(-1, self.width)
            return True
        if self.kind == "int":
            _format_int(field, chunk, self.digits, self.sign)
        else:
            _format_sci(field, chunk.astype(np.float64, copy=False), self.sign)
        if self.special:
            return _format_special(field, chunk)
        return False


def _all_integral(values: np.ndarray) -> bool:
    # most non-integral columns are recognized from their first values
    head = values[:1000]
    if not np.array_equal(head, np.rint(head)):
        return False
    return bool(np.array_equal(values, np.rint(values)))


def _put(field: np.ndarray, offset: int, words: np.ndarray) -> None:
    """Write 2- or 4-byte words at byte `offset` of every row of `field`."""
    size = words.dtype.itemsize
    field[:, offset:offset + size].view(words.dtype)[:, 0] = words


def _format_sci(field: np.ndarray, x: np.ndarray, sign: bool) -> None:
    """Scientific notation with 13 significant digits, vectorized."""
    a = np.abs(x)
    nonzero = np.isfinite(a) & (a > 0)
    a1 = np.where(nonzero, a, 1.0)
    exp = np.floor(np.log10(a1)).astype(np.intp)
    mant = np.rint(a1 * _POW10[_POW10_OFFSET + TSV_DIGITS - 1 - exp])
    # log10 may be off by one next to powers of ten
    low = 10.0 ** (TSV_DIGITS - 1)
    wrong = (mant >= 10 * low) | (mant < low)
    if wrong.any():
        exp[wrong] += np.where(mant[wrong] >= 10 * low, 1, -1)
        mant[wrong] = np.rint(
            a1[wrong] * _POW10[_POW10_OFFSET + TSV_DIGITS - 1 - exp[wrong]])
    mant[~nonzero] = 0
    exp[~nonzero] = 0
    # split the 13-digit mantissa: 1 + 4 + 4 + 4 digits (exact float math)
    lead = np.floor(mant / 1e12)
    rest = mant - lead * 1e12
    g1 = np.floor(rest / 1e8)
    rest -= g1 * 1e8
    g2 = np.floor(rest / 1e4)
    g3 = rest - g2 * 1e4
    o = int(sign)
    if sign:
        field[:, 0] = np.where(x < 0, _MINUS, _SPACE)
    _put(field, o, _LEAD[lead.astype(np.intp)])
    _put(field, o + 2, _DIGITS4[g1.astype(np.intp)])
    _put(field, o + 6, _DIGITS4[g2.astype(np.intp)])
    _put(field, o + 10, _DIGITS4[g3.astype(np.intp)])
    _put(field, o + 14, _EXPONENT[exp + 99])


def _format_int(field: np.ndarray, x: np.ndarray, digits: int, sign: bool) -> None:
    """Right-aligned integers padded with spaces, vectorized."""
    n = len(x)
    if x.dtype.kind == "f":
        finite = np.isfinite(x)
        x = np.where(finite, x, 0)
        neg = x < 0
        mag = np.abs(x).astype(np.uint64)
    elif x.dtype.kind == "u":
        neg = np.zeros(n, dtype=bool)
        mag = x.astype(np.uint64)
    else:
        neg = x < 0
        # the magnitude of the most negative int64 fits into uint64
        mag = np.where(neg, (-(x + 1)).astype(np.uint64) + np.uint64(1),
                       x.astype(np.uint64))
    groups = -(-digits // 4)
    buf = np.empty((n, 4 * groups), dtype=np.uint8)
    rem = mag
    for gi in range(groups - 1, -1, -1):
        quot = rem // np.uint64(10_000)
        _put(buf, 4 * gi, _DIGITS4[(rem - quot * np.uint64(10_000)).astype(np.intp)])
        rem = quot
    ndig = np.ones(n, dtype=np.intp)
    for k in range(1, digits):
        ndig += mag >= np.uint64(10**k)
    first = 4 * groups - ndig  # column of the first digit
    buf[np.arange(4 * groups)[None, :] < first[:, None]] = _SPACE
    field[:, sign:] = buf[:, 4 * groups - digits:]
    if sign:
        field[:, 0] = _SPACE
        rows = np.flatnonzero(neg)
        field[rows, first[rows] - (4 * groups - digits)] = _MINUS


def _format_special(field: np.ndarray, x: np.ndarray) -> bool:
    """Write NaN and infinities unpadded (NUL-filled); True if any."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return False
    field[bad] = 0
    for text, mask in (("nan", np.isnan(x)), ("inf", x == np.inf),
                       ("-inf", x == -np.inf)):
        if mask.any():
            field[mask, :len(text)] = np.frombuffer(text.encode(), dtype=np.uint8)
    return True


def write_tsv_rows(fd: BinaryIO, columns: Sequence[np.ndarray],
                   bar: Any = None) -> None:
    """Write the rows of `columns` as tab-separated text, chunk by chunk.

    Integral columns are written exactly (right-aligned), other values in
    scientific notation with :data:`TSV_DIGITS` significant digits; NaN and
    infinities as ``nan``, ``inf`` and ``-inf``. Rows are formatted with
    vectorized look-up tables in a few threads.

    Parameters
    ----------
    fd
        Binary file object to write to.
    columns
        1-D arrays of equal length, one per column.
    bar
        Optional progress bar (``update(n)`` is called with the number of
        values written).

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> write_tsv_rows(buf, [np.array([1, 20]), np.array([0.5, np.nan])])
    >>> buf.getvalue()
    b' 1\\t5.000000000000e-01\\n20\\tnan\\n'
    """
    cols = [_TsvColumn(c) for c in columns]
    nrows = len(columns[0]) if columns else 0
    offsets = []
    width = 0
    for col in cols:
        offsets.append(width)
        width += col.width + 1  # plus tab or newline

    def format_rows(start: int) -> np.ndarray:
        stop = min(start + TSV_CHUNK_ROWS, nrows)
        out = np.empty((stop - start, width), dtype=np.uint8)
        padded = False
        for col, off in zip(cols, offsets):
            padded |= col.write(out, off, start, stop)
            out[:, off + col.width] = _TAB
        out[:, -1] = _NEWLINE
        flat = out.reshape(-1)
        return flat[flat != 0] if padded else flat

    starts = range(0, nrows, TSV_CHUNK_ROWS)
    for start, block in zip(starts, ordered_map(format_rows, starts, depth=4)):
        fd.write(block.data)
        if bar is not None:
            bar.update(len(cols) * (min(start + TSV_CHUNK_ROWS, nrows) - start))
