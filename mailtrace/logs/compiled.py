"""The compiled Postfix parser's loop over a block of bytes, without pyarrow.

:mod:`mailtrace.logs._fastlog` (C) builds EVENTS' columns in plain buffers; only wrapping them
as Arrow arrays needs pyarrow (:class:`mailtrace.logs.fast.FastBuilder`). What drives the parser
over a block lives here, so that a command can start parsing a large log before it has imported
pyarrow and numpy (0.2 s: see :mod:`mailtrace.logs.ahead`).

>>> from mailtrace.logs.framing import SyslogClock
>>> parser = MODULE.Parser(max_bytes=MAX_BYTES, skip=skip_mask(None))
>>> clock = SyslogClock(2026, None)
>>> line = b"Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\\n"
>>> clock.stamp("Mar  7 10:00:00") is not None  # the clock's month: the compiled path's too
True
>>> feed_block(parser, line, 0, len(line), 0, 10, clock, None), parser.rows
((56, 1, 0), 1)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

try:
    from mailtrace.logs import _fastlog as MODULE  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - no C compiler where mailtrace was installed
    MODULE = None

__all__ = [
    "ALWAYS_BUILT",
    "FRAMINGS",
    "MAX_BYTES",
    "MODULE",
    "feed_block",
    "keep_kinds",
    "new_parser",
    "skip_mask",
]

#: The framings the compiled path reads: syslog's classic stamps, rsyslog's RFC 3339 ones, RFC
#: 5424 and journald's JSON export.
FRAMINGS = ("rfc3164", "rfc3339", "rfc5424", "journal-json")

#: String bytes a builder holds before its tables must be taken (string offsets are 32-bit).
MAX_BYTES = 1 << 30

#: The columns every reader builds, whatever it keeps: a run's summary counts them.
ALWAYS_BUILT = ("kind", "program")

_FRAMING_CODES = (
    {
        "rfc3164": MODULE.FRAMING_3164,
        "rfc3339": MODULE.FRAMING_3339,
        "rfc5424": MODULE.FRAMING_5424,
        "journal-json": MODULE.FRAMING_JOURNAL,
    }
    if MODULE is not None
    else {}
)


def keep_kinds(kinds: Collection[str] | None) -> tuple[str, ...] | None:
    """The parser's ``keep`` for a reader of ``kinds`` (None: every row is built).

    A reader that names the kinds it reads lets the parser leave out the rows of other kinds
    that carry no queue id: they are counted as events but not built. Rows with a queue id are
    always built, whatever their kind: the delivery paths read every line of a queue file.
    The same kinds always give the same value, so two readers' can be compared.

    >>> keep_kinds(["reject", "connect", "reject"]), keep_kinds(None)
    (('connect', 'reject'), None)
    """
    return None if kinds is None else tuple(sorted(set(kinds)))


def new_parser(skip: int, keep: tuple[str, ...] | None) -> Any:
    """A compiled parser building the columns ``skip`` leaves (:func:`skip_mask`) of the rows
    ``keep`` keeps (:func:`keep_kinds`). With ``keep`` (a reader that names its kinds: the
    report), smtpd's connects and disconnects go to a sessions table of their own and a
    delivery whose reply was read has no ``text`` (its ``reply_text`` holds the reply).

    >>> new_parser(skip_mask(["ts", "kind"]), keep_kinds(["delivery"])).rows
    0
    """
    return MODULE.Parser(
        max_bytes=MAX_BYTES,
        skip=skip,
        keep=keep,
        sessions=keep is not None,
        reply_texts=keep is None,
    )


def skip_mask(columns: Collection[str] | None) -> int:
    """The parser's ``skip`` bits for a reader keeping ``columns`` (None: all): the optional
    columns (``action`` up to ``source``) that are not wanted are not built at all.

    >>> skip_mask(None), skip_mask(["ts", "kind"]) > 0 if MODULE is not None else True
    (0, True)
    """
    if columns is None or MODULE is None:
        return 0
    names = MODULE.columns()
    first, last = names.index("action"), names.index("source")
    wanted = {*columns, *ALWAYS_BUILT}
    return sum(1 << i for i in range(first, last) if names[i] not in wanted)


def feed_block(
    parser: Any,
    data: bytes | bytearray,
    pos: int,
    end: int,
    lineno: int,
    limit: int,
    clock: Any,
    feed_line: Callable[[str, int], int] | None,
    framing: str = "rfc3164",
) -> tuple[int, int, int]:
    """Parse up to ``limit`` lines of the block ``data[pos:end]`` (line ``lineno + 1`` first)
    into ``parser`` (a ``_fastlog.Parser``).

    ``clock`` is the file's :class:`~mailtrace.logs.framing.SyslogClock` (for the RFC 3339 and
    RFC 5424 ``framing`` it only converts local hours of stamps without an offset);
    ``feed_line(text, lineno)`` parses one line the compiled path handed back, through the
    Python engine, and returns the last line number used. Without ``feed_line`` the loop stops
    before such a line. It also stops when the parser is full (``parser.full``). Returns (byte
    position reached, last line number, lines with invalid UTF-8 among those handed back).
    """
    done, fallback, need_hour = MODULE.DONE, MODULE.FALLBACK, MODULE.NEED_HOUR
    stop = lineno + limit
    damaged = 0
    code = _FRAMING_CODES[framing]
    parser.set_clock(clock.year, clock.month, code)
    while pos < end and lineno < stop:
        pos, lineno, status = parser.feed(data, pos, end, lineno, stop - lineno)
        if status == done:
            break
        if status == need_hour:
            parser.set_hour(clock.hour_us(*parser.pending_hour))
            continue
        if status != fallback:  # pragma: no cover - the module has no other status
            raise RuntimeError(f"unknown fast-path status {status}")
        if feed_line is None:
            break
        newline = data.find(b"\n", pos, end)
        raw = data[pos:end] if newline < 0 else data[pos:newline]
        if newline >= 0 and raw.endswith(b"\r"):
            raw = raw[:-1]  # decode_block turns CRLF into LF
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            damaged += 1
        lineno = feed_line(text, lineno)
        pos = end if newline < 0 else newline + 1
        parser.set_clock(clock.year, clock.month, code)  # the Python clock may have moved on
    return pos, lineno, damaged
