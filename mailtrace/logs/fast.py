"""The compiled fast path for Postfix logs in syslog framing, behind the EventBuilder contract.

:mod:`mailtrace.logs._fastlog` (C, built at install time) reads whole blocks of bytes of RFC 3164,
RFC 3339 (rsyslog high-precision) or RFC 5424 syslog files, or of journald's JSON export, into
EVENTS columns with the GIL released. It parses the common Postfix line shapes itself and hands
every other line back; :func:`mailtrace.logs.compiled.feed_block` gives such a line to the
ordinary Python engine, whose row joins the same columns through :class:`FastBuilder`, so rows
stay in line order and every table, count and UNPARSED row is exactly what the Python parser
alone gives (tests/test_fastlog.py holds both to that). Where the module is not built,
:func:`available` is False and the reader simply keeps to Python.

>>> import tempfile, pathlib
>>> from mailtrace.logs.reader import parse_file_tables
>>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
>>> _ = log.write_text("Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\\n")
>>> parse_file_tables(log, year=2026, tz="UTC").events.column("kind").to_pylist()
['removed']
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from typing import Any

import pyarrow as pa

from mailtrace.logs.compiled import (
    ALWAYS_BUILT,
    FRAMINGS,
    keep_kinds,
    new_parser,
    skip_mask,
)
from mailtrace.logs.compiled import MODULE as _fastlog
from mailtrace.logs.events import EventBuilder, string_array
from mailtrace.schema import EVENTS

__all__ = [
    "FRAMINGS",
    "SESSIONS",
    "FastBuilder",
    "available",
    "count_strings",
    "kept_columns",
]

_SOURCE = EVENTS.get_field_index("source")
_COLUMN = {name: i for i, name in enumerate(EVENTS.names)}
_STRING = {i for i, f in enumerate(EVENTS) if pa.types.is_string(f.type)}
_FIRST_SPARSE = EVENTS.get_field_index("action")

#: The sessions table's columns (see :meth:`FastBuilder.sessions_table`), EVENTS' types.
SESSIONS = pa.schema(
    [EVENTS.field(name) for name in ("ts", "host", "program", "pid", "kind", "client_ip")]
)


def available() -> bool:
    """Whether the compiled module is built and builds EVENTS' columns in EVENTS' order.

    >>> isinstance(available(), bool)
    True
    """
    return _BUILT


# Checked once: every engine, plan and batch asks.
_BUILT = (
    _fastlog is not None
    and tuple(_fastlog.columns()) == tuple(EVENTS.names)
    and tuple(_fastlog.session_columns()) == tuple(SESSIONS.names)
)


def count_strings(array: pa.Array) -> dict[str | None, int] | None:
    """How often each value occurs in a string array (None for nulls), or None where the compiled
    module is not built or the array holds more than 4,096 distinct values: the caller then
    counts with pyarrow's ``value_counts``, at several times the cost.

    >>> count_strings(pa.array(["sent", None, "sent"])) if available() else {"sent": 2, None: 1}
    {'sent': 2, None: 1}
    """
    if _fastlog is None or not pa.types.is_string(array.type):
        return None
    if len(array) == 0:
        return {}
    valid, offsets, data = array.buffers()
    counted = _fastlog.count_strings(
        valid if array.null_count else None, array.offset, len(array), offsets, data or b""
    )
    if counted is None:
        return None
    return {
        None if key is None else key.decode("utf-8", "replace"): n for key, n in counted.items()
    }


def kept_columns(columns: Collection[str] | None) -> list[str] | None:
    """The EVENTS columns a reader keeping ``columns`` builds: those, and kind and program (a
    run's summary counts them), in EVENTS' order; None for all.

    >>> kept_columns(["size", "ts"])
    ['ts', 'program', 'kind', 'size']
    """
    if columns is None:
        return None
    wanted = {*columns, *ALWAYS_BUILT}
    return [name for name in EVENTS.names if name in wanted]


class FastBuilder(EventBuilder):
    """An EventBuilder whose events live in the compiled parser's column buffers.

    Rows the Python parsers make (for lines the compiled path handed back) are appended with
    :meth:`add`, in line order with the compiled rows; unparsed lines stay in Python lists.
    """

    def __init__(
        self,
        source: str,
        columns: Collection[str] | None = None,
        parser: Any = None,
        kinds: Collection[str] | None = None,
    ) -> None:
        super().__init__(source)
        # columns: those the caller keeps (None: all). The others are not built at all; kind
        # and program always are (a run's summary counts them).
        names = kept_columns(columns)
        self.kept = set(EVENTS.names) if names is None else set(names)
        self.schema = EVENTS if names is None else pa.schema([EVENTS.field(n) for n in names])
        # parser: one that parsed the input's first lines already, for the same columns and
        # kinds (mailtrace.logs.ahead); its rows come first. kinds: see keep_kinds; with them,
        # smtpd's sessions are built apart too (see sessions_table), and a delivery whose reply
        # was read has no text (see new_parser).
        if parser is None and _fastlog is not None:
            parser = new_parser(skip_mask(columns), keep_kinds(kinds))
        self.parser: Any = parser
        # id(pattern) -> ((group number, EVENTS column) of each kept group, the pattern)
        self._groups: dict[int, tuple[tuple[tuple[int, int], ...], re.Pattern[str]]] = {}
        self.fast_lines = 0  # lines consumed by the compiled path, for the engine's counts
        self.fast_other = 0
        self.fast_programs: dict[str, int] = {}
        self.handed_back = 0  # lines the compiled path gave to the Python engine

    def __len__(self) -> int:
        """The events parsed since the last table: those built, those in the sessions table
        and those left out (kinds)."""
        parser = self.parser
        return int(parser.rows) + int(parser.session_rows) + int(parser.dropped)

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
        """Append one event made by a Python parser (same contract as EventBuilder.add)."""
        if type(fields) is re.Match:
            pattern = fields.re
            shape = self._groups.get(id(pattern))
            if shape is None:
                kept = tuple(
                    (index, _COLUMN[name])
                    for name, index in pattern.groupindex.items()
                    if name in _COLUMN and _COLUMN[name] >= _FIRST_SPARSE and name != "source"
                )
                shape = self._groups[id(pattern)] = (kept, pattern)
            columns = tuple(col for _, col in shape[0])
            values: tuple[object, ...] = tuple(_value(col, fields.group(g)) for g, col in shape[0])
        elif fields:
            pairs = [(_sparse_column(name), v) for name, v in fields.items() if v is not None]
            columns = tuple(col for col, _ in pairs)
            values = tuple(_value(col, v) for col, v in pairs)
        else:
            columns, values = (), ()
        self.parser.add_row(kind, ts, host, program, pid, line, queue_id, columns, values)

    def events_table(self) -> pa.Table:
        """The EVENTS table of every row so far (of the columns kept: see ``columns``); the
        compiled buffers start empty again."""
        n, columns, lines, other, programs = self.parser.take()
        self.fast_lines += lines
        self.fast_other += other
        for name, count in programs.items():
            self.fast_programs[name] = self.fast_programs.get(name, 0) + count
        arrays = []
        for i, (field, column) in enumerate(zip(EVENTS, columns, strict=True)):
            if field.name not in self.kept:
                continue
            if i == _SOURCE:
                arrays.append(_constant(self.source, n))
                continue
            arrays.append(_array(field.type, n, column))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def sessions_table(self) -> pa.Table | None:
        """smtpd's connect and disconnect events since the last call, or None when the parser
        puts them among the other events (it was made without kinds).

        With a kinds filter (the report's parse) those events, a quarter of a busy server's,
        are not rows of :meth:`events_table` but rows of this narrow table (:data:`SESSIONS`),
        in line order: all the report reads of them. Every other column of such an event is
        dropped, as the kinds filter drops whole events. Counted in ``len(self)`` all the same.
        """
        taken = self.parser.take_sessions()
        if taken is None:
            return None
        n, columns = taken
        arrays = [_array(f.type, n, c) for f, c in zip(SESSIONS, columns, strict=True)]
        return pa.Table.from_arrays(arrays, schema=SESSIONS)


def _array(typ: pa.DataType, n: int, column: tuple[Any, Any, Any, int]) -> pa.Array:
    """An Arrow array over the buffers the compiled parser handed over for one column."""
    valid, offsets, data, nulls = column
    buffers = [None if valid is None else pa.py_buffer(valid)]
    if offsets is not None:
        buffers.append(pa.py_buffer(offsets))
    buffers.append(pa.py_buffer(data))
    return pa.Array.from_buffers(typ, n, buffers, null_count=nulls)


def _value(col: int, value: object) -> object:
    """A Python parser's value as EventBuilder would store it in column ``col``: other types as
    text in string columns, and numbers given as text read by Arrow's own cast."""
    if value is None:
        return None
    if col in _STRING:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        return _cast_number(value, col)
    return value


@functools.lru_cache(maxsize=65536)  # the same delays and codes recur on many lines
def _cast_number(text: str, col: int) -> object:
    """``text`` cast to column ``col``'s type exactly as EventBuilder's vectorised cast does
    ("0." is 0.0, "0x10" is 16 in an integer column), or None where that cast fails.

    >>> _cast_number("0.", EVENTS.get_field_index("delay")), _cast_number("x", _COLUMN["size"])
    (0.0, None)
    """
    import pyarrow.compute as pc

    try:  # string_array, not pa.array, whose first call imports pandas
        return pc.cast(string_array([text]), EVENTS.field(col).type)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _sparse_column(name: str) -> int:
    col = _COLUMN[name]  # KeyError for a name no column takes, as EventBuilder raises
    if col < _FIRST_SPARSE or col == _SOURCE:
        raise KeyError(name)
    return col


# The largest offset of a string array (int32): _constant cuts its pieces to it.
_MAX_OFFSET = (1 << 31) - 1


def _constant(text: str, n: int) -> pa.Array | pa.ChunkedArray:
    """``n`` copies of ``text`` as a string array, built without a Python object per row (and
    without NumPy, which ``mailtrace logs`` does not import); in pieces past int32 offsets.

    >>> _constant("maillog", 2).to_pylist() if available() else ["maillog", "maillog"]
    ['maillog', 'maillog']
    """
    raw = text.encode("utf-8")
    most = n if not raw else min(n, _MAX_OFFSET // len(raw))
    if most < n:  # a name of kilobytes on millions of rows: each piece within int32 offsets
        return pa.chunked_array(
            [_constant(text, min(most, n - at)) for at in range(0, n, most)], pa.string()
        )
    offsets = _fastlog.constant_offsets(n, len(raw))
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)]
    )
