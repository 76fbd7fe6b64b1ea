"""Column builder for the EVENTS and UNPARSED tables.

Parsers never build row dicts of every column: each recognised line appends its common fields
to dense lists and only the fields it actually found to sparse (row index, value) lists. A parser
may instead hand over the regex match whose named groups are EVENTS columns: the builder then
keeps just ``m.groups()`` per pattern and transposes them into columns when the table is built,
so the hot path makes no dict at all. Values may arrive as the strings a regex captured ("250",
"0.42"); the numeric columns are cast once, vectorised, when the table is built.

>>> b = EventBuilder("maillog")
>>> b.add("delivery", 1_700_000_000_000_000, "mx1", "postfix/smtp", 42, 7, "4AbC12",
...       {"recipient": "bob@example.com", "status": "sent", "reply_code": "250"})
>>> m = re.match(r"to=<(?P<recipient>[^>]*)>, (?P<delay>[0-9.]+)", "to=<al@example.org>, 0.5")
>>> b.add("delivery", None, "mx1", "postfix/local", 43, 8, "4AbC13", m)
>>> b.unparsed(9, "garbage", "no syslog header")
>>> t = b.events_table()
>>> t.column("reply_code").to_pylist(), t.column("line").to_pylist(), t.column("delay").to_pylist()
([250, None], [7, 8], [None, 0.5])
>>> b.unparsed_table().column("reason").to_pylist()
['no syslog header']
"""

from __future__ import annotations

import itertools
import re
from array import array
from collections.abc import Mapping, Sequence

import pyarrow as pa

from mailtrace.schema import EVENTS, UNPARSED

# Columns every event has (or has as null); everything else is sparse.
_DENSE = ("ts", "host", "program", "pid", "line", "kind", "queue_id")
_I32, _I64 = 1 << 31, 1 << 63  # the pid (int32) and timestamp (int64 µs) columns' bounds
_SPARSE = tuple(name for name in EVENTS.names if name not in _DENSE and name != "source")


class EventBuilder:
    """Accumulates events and unparsed lines of one source, then builds Arrow tables."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ts: list[int | None] = []  # microseconds since the epoch, UTC
        self.host: list[str | None] = []
        self.program: list[str | None] = []
        self.pid: list[int | None] = []
        self.line: list[int] = []
        self.kind: list[str] = []
        self.queue_id: list[str | None] = []
        self._sparse: dict[str, tuple[list[int], list[object]]] = {
            name: ([], []) for name in _SPARSE
        }
        # id(pattern) -> (column of each group or None, rows, groups() of each row, the pattern)
        self._shapes: dict[
            int,
            tuple[tuple[str | None, ...], list[int], list[tuple[object, ...]], re.Pattern[str]],
        ] = {}
        self._un_line: list[int] = []
        self._un_text: list[str] = []
        self._un_reason: list[str] = []
        self.other_lines = 0  # lines of programs no parser handles (counted, not kept)

    def __len__(self) -> int:
        return len(self.kind)

    def add(
        self,
        kind: str,
        ts: int | None,
        host: str | None,
        program: str | None,
        pid: int | None,
        line: int,
        queue_id: str | None,
        fields: Mapping[str, object] | re.Match[str] | None = None,
    ) -> None:
        """Append one event; ``fields`` maps EVENTS column names to values (None = absent), or is
        a match whose named groups are EVENTS columns (other groups are not kept).

        A pid or timestamp out of its column's range raises OverflowError, as the compiled
        builder's ``add`` does: the engine keeps such a line as unparsed, with the reason.
        """
        if pid is not None and not -_I32 <= pid < _I32:
            raise OverflowError("pid out of range")
        if ts is not None and not -_I64 <= ts < _I64:
            raise OverflowError("int too big to convert")
        row = len(self.kind)
        try:
            if type(fields) is re.Match:
                self.add_match(row, fields)
            elif fields:
                self.add_fields(row, fields)
        except Exception:
            self.forget(row)  # a field no column takes: no half event is left behind
            raise
        self.ts.append(ts)
        self.host.append(host)
        self.program.append(program)
        self.pid.append(pid)
        self.line.append(line)
        self.kind.append(kind)
        self.queue_id.append(queue_id)

    def add_match(self, row: int, match: re.Match[str]) -> None:
        """The sparse fields of event ``row``: the named groups of ``match``."""
        # Keyed by id: hashing a Pattern hashes its whole compiled program (~3,000 instructions
        # a line). The shape holds the pattern's column names, so the id stays its own.
        pattern = match.re
        shape = self._shapes.get(id(pattern))
        if shape is None:
            shape = self._shapes[id(pattern)] = (_group_columns(pattern), [], [], pattern)
        shape[1].append(row)
        shape[2].append(match.groups())

    def forget(self, row: int) -> None:
        """Drop the sparse fields of event ``row``, the last one begun (a parser failed on it)."""
        for rows, values in self._sparse.values():
            while rows and rows[-1] == row:
                rows.pop()
                values.pop()
        for _, rows, groups, _ in self._shapes.values():
            if rows and rows[-1] == row:
                rows.pop()
                groups.pop()

    def add_fields(self, row: int, fields: Mapping[str, object]) -> None:
        """The sparse fields of event ``row``: EVENTS column names to values (None = absent)."""
        sparse = self._sparse
        for name, value in fields.items():
            if value is not None:
                rows, values = sparse[name]
                rows.append(row)
                values.append(value)

    def unparsed(self, line: int, text: str, reason: str) -> None:
        """Keep a line no parser recognised, with why."""
        self._un_line.append(line)
        self._un_text.append(text)
        self._un_reason.append(reason)

    def other(self, count: int = 1) -> None:
        """Count lines of other programs (cron, sshd …): read, deliberately not kept."""
        self.other_lines += count

    @property
    def unparsed_count(self) -> int:
        return len(self._un_line)

    def events_table(self) -> pa.Table:
        """The EVENTS table of everything added so far."""
        n = len(self.kind)
        # Each pattern's rows transposed at once: its groups become (rows, values) column parts.
        parts: dict[str, list[tuple[list[int], Sequence[object]]]] = {}
        for names, at, groups, _ in self._shapes.values():
            for name, column in zip(names, zip(*groups, strict=True), strict=True):
                if name is not None:
                    parts.setdefault(name, []).append((at, column))
        arrays: list[pa.Array] = []
        for field in EVENTS:
            name = field.name
            if name == "source":
                arrays.append(pa.array([self.source] * n, pa.string()))
            elif name in _DENSE:
                arrays.append(_column(getattr(self, name), field.type))
            else:
                column_parts = [self._sparse[name], *parts.get(name, ())]
                arrays.append(_sparse_column(n, column_parts, field.type))
        return pa.Table.from_arrays(arrays, schema=EVENTS)

    def unparsed_table(self) -> pa.Table:
        """The UNPARSED table of every line kept as unrecognised."""
        n = len(self._un_line)
        return pa.Table.from_arrays(
            [
                string_array([self.source] * n),
                pa.Array.from_buffers(
                    pa.int64(), n, [None, pa.py_buffer(array("q", self._un_line))]
                ),
                string_array(self._un_text),
                string_array(self._un_reason),
            ],
            schema=UNPARSED,
        )


def string_array(values: Sequence[str]) -> pa.Array:
    """A string array of ``values``, built from its buffers.

    ``pa.array`` would do, but its first call imports pandas, which the log commands otherwise
    never need; the unparsed lines of a log are few, so this loop is cheap.

    >>> string_array(["a", "bé", ""]).to_pylist()
    ['a', 'bé', '']
    """
    encoded = [v.encode("utf-8") for v in values]
    data = b"".join(encoded)
    # int32 offsets (no cast, which would import pyarrow.compute) where they reach; no NumPy,
    # which the log commands do not import
    wide = len(data) >= 1 << 31
    offsets = array("q" if wide else "i", [0])
    offsets.extend(itertools.accumulate(map(len, encoded)))
    if not wide:
        return pa.Array.from_buffers(
            pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    return pa.Array.from_buffers(
        pa.large_string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).cast(pa.string())  # ArrowCapacityError: more than one string array holds


def _group_columns(pattern: re.Pattern[str]) -> tuple[str | None, ...]:
    """The EVENTS column of each group of ``pattern`` (None: a group that is not kept)."""
    names: list[str | None] = [None] * pattern.groups
    for name, index in pattern.groupindex.items():
        if name in _SPARSE:
            names[index - 1] = name
    return tuple(names)


def _column(values: list[object], typ: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(typ):
        return pa.array(values, pa.int64()).cast(typ)
    return pa.array(values, typ)


def _sparse_column(
    n: int, parts: list[tuple[list[int], Sequence[object]]], typ: pa.DataType
) -> pa.Array:
    """A column of ``n`` rows from (row numbers, values) parts; rows in no part are null.

    Each part's values become one Arrow array in one C call (numbers usually arrive as captured
    text: one vectorised cast); a single ``take``, whose index numpy builds and which is null on
    absent rows, puts them all in place.
    """
    import numpy as np  # the Python parsers' rows only: `logs` on Postfix syslog never gets here

    parts = [part for part in parts if part[0]]
    if not parts:
        return pa.nulls(n, typ)
    convert = _strings if pa.types.is_string(typ) else lambda v: _numbers(v, typ)
    arrays = [convert(values) for _, values in parts]
    present = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    index = np.full(n, -1, dtype=np.int64)
    start = 0
    for rows, _ in parts:
        index[np.fromiter(rows, dtype=np.int64, count=len(rows))] = np.arange(
            start, start + len(rows)
        )
        start += len(rows)
    # Handed to pyarrow as buffers (a validity bitmap and the values), not as a NumPy array:
    # `mailtrace logs` imports pyarrow without NumPy (mailtrace.arrow_imports), and pyarrow so
    # imported does not take NumPy arrays.
    bitmap = np.packbits(index >= 0, bitorder="little")
    np.maximum(index, 0, out=index)  # a valid index under each null too
    at = pa.Array.from_buffers(pa.int64(), n, [pa.py_buffer(bitmap), pa.py_buffer(index)])
    return present.take(at)


def _strings(values: Sequence[object]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array(
            [v if v is None or isinstance(v, str) else str(v) for v in values], pa.string()
        )


def _numbers(values: Sequence[object], typ: pa.DataType) -> pa.Array:
    # Numeric columns usually arrive as captured text ("250", "0.42"): one vectorised cast.
    if not isinstance(values[0], str) and not any(isinstance(v, str) for v in values):
        return pa.array(values, typ)
    import pyarrow.compute as pc  # only the Python parsers' rows need it: the import waits

    text = _strings(values)
    try:
        return pc.cast(text, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Hostile input ("size=99999999999999999999"): lose that value, not the whole table.
        return pa.array([_number_or_none(v, typ) for v in text.to_pylist()], typ)


def _number_or_none(text: str | None, typ: pa.DataType) -> object:
    import pyarrow.compute as pc

    try:
        return pc.cast(pa.array([text], pa.string()), typ)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
