"""The queue files of a log's events: each row's file, and each file's landmark rows.

A queue file is one (host, queue id) between two ``removed`` lines: Postfix reuses an id once
its file is gone. Given the events in time order, each as the code of its (host, queue id) and
its kind, :func:`file_rows` numbers the files and finds, for each, its first and last row, how
many files of its id came before it, and its first row of each role (the client line, the
sender line, the removal …). The compiled module ``mailtrace._pathcore`` does it in three passes
over the rows; without it (an install without a C compiler) NumPy gives the same answers.

Files are numbered by code, then by how many removals of the code came before them; a removal
belongs to the file it ends.

>>> import numpy as np
>>> code = np.array([5, 5, 2, 5, 5])          # id 5 is removed (row 1), then used again
>>> kind = np.array([0, 1, 0, 0, 1], np.int32)  # kind 0: from, kind 1: removed
>>> rows = file_rows(code, kind, bytes([1 << FROM, 1 << REMOVED]), np.array([], np.int64), 0)
>>> rows.seg.tolist(), rows.first.tolist(), rows.last.tolist(), rows.reuse.tolist()
([1, 1, 0, 2, 2], [2, 0, 3], [2, 1, 4], [0, 0, 1])
>>> rows.role(REMOVED).tolist()
[-1, 1, 4]
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

try:
    from mailtrace import _pathcore

    #: The compiled module (also used by :func:`mailtrace.paths.factorize`), or None.
    pathcore: ModuleType | None = _pathcore
except ImportError:  # built without a C compiler
    pathcore = None

_IntArray = np.ndarray[Any, np.dtype[np.int64]]

# The role bits of a row (a kind's bits are given as one byte per kind code).
CLIENT, PICKUP, FROM, MESSAGE_ID, REMOVED, EXPIRED, REJECTED = range(7)
_BITS = 8
_FIRST, _LAST, _REUSE, _ROLES = range(4)


@dataclass(frozen=True)
class FileRows:
    """Each row's queue file, and per file its landmark rows (-1: none)."""

    #: The queue file of each row.
    seg: _IntArray
    #: Per file: first row, last row, reuse number, then the first row of each role bit.
    table: _IntArray

    @property
    def n(self) -> int:
        """How many queue files."""
        return int(self.table.shape[1])

    @property
    def first(self) -> _IntArray:
        """Each file's first row."""
        out: _IntArray = self.table[_FIRST]
        return out

    @property
    def last(self) -> _IntArray:
        """Each file's last row."""
        out: _IntArray = self.table[_LAST]
        return out

    @property
    def reuse(self) -> _IntArray:
        """0 for the first file of a code, 1 for the file after its first removal, …"""
        out: _IntArray = self.table[_REUSE]
        return out

    def role(self, bit: int) -> _IntArray:
        """Each file's first row with role ``bit`` (-1: none)."""
        out: _IntArray = self.table[_ROLES + bit]
        return out


def file_rows(
    code: _IntArray,
    kind: np.ndarray[Any, np.dtype[np.int32]],
    roles: bytes,
    extra: _IntArray,
    extra_bit: int,
    compiled: bool = True,
) -> FileRows:
    """The queue files of rows in time order.

    ``code``: each row's (host, queue id) as a non-negative integer; ``kind``: its kind code
    (-1: none), whose role bits are ``roles[kind]``; ``extra``: rows that have role
    ``extra_bit`` too. A row with role :data:`REMOVED` ends its file. ``compiled=False`` uses
    NumPy even where the compiled module is built (for the tests that compare the two).
    """
    code = np.ascontiguousarray(code, dtype=np.int64)
    n = len(code)
    ncodes = int(code.max()) + 1 if n else 0
    if ncodes > 4 * n + 1024:
        # Sparse codes (several hosts' ids): renumbered densely, in the same order.
        _, code = np.unique(code, return_inverse=True)
        code = code.astype(np.int64).ravel()
        ncodes = int(code.max()) + 1
    kind = np.ascontiguousarray(kind, dtype=np.int32)
    extra = np.ascontiguousarray(extra, dtype=np.int64)
    if pathcore is None or not compiled:
        return _numpy_file_rows(code, kind, roles, extra, extra_bit)
    seg = np.empty(n, dtype=np.int64)
    nseg, table = pathcore.file_rows(code, ncodes, kind, roles, REMOVED, extra, extra_bit, seg)
    return FileRows(seg, np.frombuffer(table, dtype=np.int64).reshape(_ROLES + _BITS, nseg))


def _numpy_file_rows(
    code: _IntArray,
    kind: np.ndarray[Any, np.dtype[np.int32]],
    roles: bytes,
    extra: _IntArray,
    extra_bit: int,
) -> FileRows:
    n = len(code)
    if n == 0:
        return FileRows(code, np.zeros((_ROLES + _BITS, 0), dtype=np.int64))
    bits_of = np.frombuffer(roles, dtype=np.uint8)
    role = np.zeros(n, dtype=np.uint8)
    known = (kind >= 0) & (kind < len(bits_of))
    role[known] = bits_of[kind[known]]
    role[extra] |= np.uint8(1 << extra_bit)
    removed = ((role >> REMOVED) & 1).astype(np.int64)
    # Removals before each row within its code: a stable sort by code keeps time order.
    order = np.argsort(code, kind="stable")
    rem_sorted = removed[order]
    code_sorted = code[order]
    csum = np.cumsum(rem_sorted)
    starts = np.flatnonzero(np.r_[True, code_sorted[1:] != code_sorted[:-1]])
    base = np.repeat(csum[starts] - rem_sorted[starts], np.diff(np.r_[starts, n]))
    before_sorted = csum - rem_sorted - base
    # Sorted by code, then time, the (code, removals before) pairs come in ascending order:
    # a queue file's number is how many pairs changed before it.
    change = np.r_[False, (code_sorted[1:] != code_sorted[:-1]) | (np.diff(before_sorted) != 0)]
    seg = np.empty(n, dtype=np.int64)
    seg[order] = np.cumsum(change)
    before = np.empty(n, dtype=np.int64)
    before[order] = before_sorted
    nseg = int(seg.max()) + 1
    table = np.full((_ROLES + _BITS, nseg), -1, dtype=np.int64)
    table[_FIRST] = n
    np.minimum.at(table[_FIRST], seg, np.arange(n))
    np.maximum.at(table[_LAST], seg, np.arange(n))
    table[_REUSE] = before[table[_FIRST]]
    for bit in range(_BITS):
        table[_ROLES + bit] = _first_index(seg, (role >> bit) & 1 == 1, nseg)
    return FileRows(seg, table)


def _first_index(seg: _IntArray, mask: np.ndarray[Any, Any], nseg: int) -> _IntArray:
    """Per queue file, the row index of its first row where ``mask`` holds (-1 if none)."""
    none = np.iinfo(np.int64).max
    out = np.full(nseg, none, dtype=np.int64)
    rows = np.flatnonzero(mask)
    np.minimum.at(out, seg[rows], rows)
    out[out == none] = -1
    return out


def attempts(
    seg: _IntArray,
    recipient: _IntArray,
    real: np.ndarray[Any, np.dtype[np.bool_]],
    compiled: bool = True,
) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.int32]]]:
    """Per attempt (rows in time order, each with its queue file and recipient code): whether it
    is the last of its (file, recipient), and its number among them, counting ``real`` rows only
    (an expiry row repeats the number of the attempt before it; 1 at least).

    >>> last, number = attempts(np.array([0, 0, 0, 1]), np.array([7, 7, 8, 7]),
    ...                         np.array([True, True, True, True]))
    >>> last.tolist(), number.tolist()
    ([False, True, True, True], [1, 2, 1, 1])
    """
    seg = np.ascontiguousarray(seg, dtype=np.int64)
    recipient = np.ascontiguousarray(recipient, dtype=np.int64)
    if pathcore is None or not compiled:
        return _numpy_attempts(seg, recipient, real)
    last = np.empty(len(seg), dtype=np.uint8)
    number = np.empty(len(seg), dtype=np.int32)
    pathcore.attempts(seg, recipient, np.ascontiguousarray(real, np.uint8), last, number)
    return last.view(np.bool_), number


def _numpy_attempts(
    seg: _IntArray, recipient: _IntArray, real: np.ndarray[Any, np.dtype[np.bool_]]
) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.int32]]]:
    n = len(seg)
    # Sorted by (file, recipient), a stable sort keeps each group's rows in time order.
    order = np.lexsort((recipient, seg))
    sd, sr, sreal = seg[order], recipient[order], real[order].astype(np.int64)
    starts = np.r_[True, (sd[1:] != sd[:-1]) | (sr[1:] != sr[:-1])][:n]
    last = np.zeros(n, dtype=bool)
    last[order] = np.r_[starts[1:], True][:n]
    csum = np.cumsum(sreal)
    base = np.maximum.accumulate(np.where(starts, csum - sreal, 0))
    number = np.empty(n, dtype=np.int32)
    number[order] = np.maximum(csum - base, 1)
    return last, number
