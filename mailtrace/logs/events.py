"""Column builder for the EVENTS and UNPARSED tables.

Parsers never build row dicts of every column: each recognised line appends its common fields
to dense lists and only the fields it actually found to sparse (row index, value) lists. Values
may arrive as the strings a regex captured ("250", "0.42"); the numeric columns are cast once,
vectorised, when the table is built.

>>> b = EventBuilder("maillog")
>>> b.add("delivery", 1_700_000_000_000_000, "mx1", "postfix/smtp", 42, 7, "4AbC12",
...       {"recipient": "bob@example.com", "status": "sent", "reply_code": "250"})
>>> b.unparsed(8, "garbage", "no syslog header")
>>> t = b.events_table()
>>> t.column("reply_code").to_pylist(), t.column("line").to_pylist()
([250], [7])
>>> b.unparsed_table().column("reason").to_pylist()
['no syslog header']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mailtrace.schema import EVENTS, UNPARSED

# Columns every event has (or has as null); everything else is sparse.
_DENSE = ("ts", "host", "program", "pid", "line", "kind", "queue_id")
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
        fields: Mapping[str, object] | None = None,
    ) -> None:
        """Append one event; ``fields`` maps EVENTS column names to values (None = absent)."""
        row = len(self.kind)
        self.ts.append(ts)
        self.host.append(host)
        self.program.append(program)
        self.pid.append(pid)
        self.line.append(line)
        self.kind.append(kind)
        self.queue_id.append(queue_id)
        if fields:
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
        arrays: list[pa.Array] = []
        for field in EVENTS:
            name = field.name
            if name == "source":
                arrays.append(pa.array([self.source] * n, pa.string()))
            elif name in _DENSE:
                arrays.append(_column(getattr(self, name), field.type))
            else:
                rows, values = self._sparse[name]
                arrays.append(_sparse_column(n, rows, values, field.type))
        return pa.Table.from_arrays(arrays, schema=EVENTS)

    def unparsed_table(self) -> pa.Table:
        """The UNPARSED table of every line kept as unrecognised."""
        n = len(self._un_line)
        return pa.Table.from_arrays(
            [
                pa.array([self.source] * n, pa.string()),
                pa.array(self._un_line, pa.int64()),
                pa.array(self._un_text, pa.string()),
                pa.array(self._un_reason, pa.string()),
            ],
            schema=UNPARSED,
        )


def _column(values: list[object], typ: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(typ):
        return pa.array(values, pa.int64()).cast(typ)
    return pa.array(values, typ)


def _sparse_column(n: int, rows: list[int], values: list[object], typ: pa.DataType) -> pa.Array:
    if not rows:
        return pa.nulls(n, typ)
    if pa.types.is_string(typ):
        dense: list[object] = [None] * n
        for row, value in zip(rows, values, strict=True):
            dense[row] = value
        try:
            return pa.array(dense, pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            return pa.array([None if v is None else str(v) for v in dense], pa.string())
    # Numbers usually arrive as captured text: convert only the present values in one vectorised
    # cast, then scatter them into place with a take whose index is null on absent rows (numpy
    # builds that index without a Python loop).
    present = _numbers(values, typ)
    index = np.full(n, -1, dtype=np.int64)
    index[np.fromiter(rows, dtype=np.int64, count=len(rows))] = np.arange(len(rows))
    return present.take(pa.array(index, mask=index < 0))


def _strings(values: list[object]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([v if isinstance(v, str) else str(v) for v in values], pa.string())


def _numbers(values: list[object], typ: pa.DataType) -> pa.Array:
    # Numeric columns usually arrive as captured text ("250", "0.42"): one vectorised cast.
    if not isinstance(values[0], str) and not any(isinstance(v, str) for v in values):
        return pa.array(values, typ)
    text = _strings(values)
    try:
        return pc.cast(text, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Hostile input ("size=99999999999999999999"): lose that value, not the whole table.
        return pa.array([_number_or_none(v, typ) for v in text.to_pylist()], typ)


def _number_or_none(text: str | None, typ: pa.DataType) -> object:
    try:
        return pc.cast(pa.array([text], pa.string()), typ)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
