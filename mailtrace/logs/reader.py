"""Mail logs into EVENTS and UNPARSED tables: read blocks, frame lines, dispatch by program.

Each line is framed once (:mod:`mailtrace.logs.framing`), then handed by its program tag to one
MTA parser: ``postfix*`` to :mod:`mailtrace.logs.postfix`, ``exim*`` to :mod:`mailtrace.logs.exim`,
``sendmail``/``sm-mta``/``sm-msp-queue`` to :mod:`mailtrace.logs.sendmail`; lines of every other
program (cron, sshd, dovecot …) and blank lines are counted, not kept. ``format=`` forces one parser
for every line. Nothing is lost: a line no parser recognises is kept whole in UNPARSED with the
reason, so ``events + unparsed + other == lines`` always holds.

The work is streamed: :func:`iter_file_tables` yields tables for every ~50,000 lines, so a
10-million-line gzip converts in bounded memory; :func:`parse_file` and :func:`parse_file_tables`
collect the whole file; :func:`parse_range` over the byte ranges :mod:`mailtrace.logs.plan` cuts
lets a process pool share one large plain file.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
>>> _ = log.write_text("Mar  7 10:00:00 mx CRON[7]: (root) CMD (true)\\n")
>>> r = parse_file_tables(log, year=2026, tz="UTC")
>>> (r.counts.lines, r.counts.events, r.counts.other, r.counts.other_programs)
(1, 0, 1, {'CRON': 1})
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NamedTuple

import pyarrow as pa

from mailtrace.errors import DecompressError, InputError, UsageError
from mailtrace.logs import ahead as parsed_ahead
from mailtrace.logs import compiled, fast
from mailtrace.logs.ahead import Ahead
from mailtrace.logs.events import EventBuilder
from mailtrace.logs.framing import Framer, split_records
from mailtrace.logs.plan import (
    Chunk,
    FilePlan,
    _as_source,
    decode_block,
    plan_file,
    read_whole,
)
from mailtrace.schema import EVENTS, UNPARSED, empty_table
from mailtrace.sources import (
    Source,
    expand_inputs,
    is_plain_file,
    iter_blocks,
    iter_plain_blocks,
    read_blocks,
)

if TYPE_CHECKING:
    import pandas as pd

#: What every MTA module exposes: add an event to the builder and return True, or return False.
LineParser = Callable[[EventBuilder, int | None, str | None, str, int | None, int, str], bool]

FORMATS = ("postfix", "exim", "sendmail")
Errors = Literal["raise", "skip"]

#: Lines per streamed block: enough to amortise building a table, few enough to keep a worker
#: near 250 MB whatever the input's length.
BLOCK_LINES = 50_000

#: Lines handed back by the compiled path before an input may be moved to the Python engine.
_MISSES = 512

_SENDMAIL_TAGS = ("sendmail", "sm-mta", "sm-msp-queue")
_NO_HEADER = "no syslog or MTA log header"
_EXIM_HEADERS = "exim rejectlog headers"


@dataclass
class Counts:
    """Where every line read went, plus damage. ``events + unparsed + other == lines``.

    >>> Counts(lines=3, events=2, other=1) + Counts(lines=1, unparsed=1)
    Counts(lines=4, events=2, unparsed=1, other=1, damaged=0, failed_inputs=0, problems=[], \
other_programs={})
    """

    lines: int = 0
    events: int = 0
    unparsed: int = 0
    other: int = 0  # lines of other programs and blank lines: read, counted, not kept
    damaged: int = 0  # lines with invalid UTF-8 (decoded with U+FFFD) or cut for length
    failed_inputs: int = 0  # inputs (or their tails) that could not be read
    problems: list[str] = field(default_factory=list)  # one message per damaged input
    other_programs: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: Counts) -> Counts:
        programs = dict(self.other_programs)
        for name, n in other.other_programs.items():
            programs[name] = programs.get(name, 0) + n
        return Counts(
            self.lines + other.lines,
            self.events + other.events,
            self.unparsed + other.unparsed,
            self.other + other.other,
            self.damaged + other.damaged,
            self.failed_inputs + other.failed_inputs,
            self.problems + other.problems,
            programs,
        )


class LogTables(NamedTuple):
    """EVENTS and UNPARSED of some lines, and the counts of those lines; with a kinds filter,
    smtpd's sessions apart from the events (see
    :meth:`mailtrace.logs.fast.FastBuilder.sessions_table`)."""

    events: pa.Table
    unparsed: pa.Table
    counts: Counts
    sessions: pa.Table | None = None


# --- dispatch ------------------------------------------------------------------------------------


def format_of_program(program: str) -> str | None:
    """The MTA format a program tag belongs to, or None for other programs.

    >>> [format_of_program(p) for p in ("postfix/submission/smtpd", "exim4", "sm-mta", "sshd")]
    ['postfix', 'exim', 'sendmail', None]
    """
    tag = program.lower()
    if tag.startswith("postfix"):
        return "postfix"
    if tag.startswith("exim"):
        return "exim"
    if tag.startswith(_SENDMAIL_TAGS):
        return "sendmail"
    return None


def load_parser(fmt: str) -> LineParser | None:
    """``parse_line`` of ``mailtrace.logs.<fmt>``, or None while that module is not available.

    >>> load_parser("nosuchformat") is None
    True
    """
    try:
        module = importlib.import_module(f"mailtrace.logs.{fmt}")
    except ImportError:
        return None
    parse: LineParser | None = getattr(module, "parse_line", None)
    return parse


#: A program tag's route: (parser or None, reason when unrecognised, reason when the parser fails,
#: and for Postfix the message handler the hot loop calls directly).
_Route = tuple[LineParser | None, str, str, "Callable[[str], Any] | None"]
#: A whole RFC 3164 tag token ("postfix/smtpd[123]:") read once: (program, pid, route).
_TagInfo = tuple[str, int | None, _Route]

# A syslog tag token as the RFC 3164 frame pattern reads it, with nothing left over.
_TAG_TOKEN = re.compile(r"([^\s\[:]+)(?:\[(\d{1,10})\])?:?")
# An RFC 3164 stamp without a fraction, exactly as the frame pattern reads it.
_STAMP = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d").fullmatch
# Hostile input must not grow the per-token caches without bound: so many tokens, this long.
_CACHE_MAX = 4096
_TOKEN_MAX = 256


class _Engine:
    """Frames and dispatches lines of one input into one EventBuilder; the hot loop lives here."""

    def __init__(
        self,
        source: str,
        framer: Framer | None,
        fmt: str | None,
        parsers: Mapping[str, LineParser] | None,
        columns: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> None:
        self.source = source
        self.columns = columns  # the EVENTS columns the caller keeps (compiled path: the rest
        # are not built); None: all. Every table taken has these (fast.kept_columns).
        self.kinds = kinds  # the kinds the caller reads (compiled path: compiled.keep_kinds)
        self.kept = fast.kept_columns(columns)
        self.framer = framer
        self.forced = fmt
        self.parsers: dict[str, LineParser | None] = dict(parsers or {})
        self.dispatch: dict[str, _Route] = {}
        self.tags: dict[str, _TagInfo | None] = {}
        self.hosts: set[str] = set()
        # Syslog files (RFC 3164, RFC 3339) in auto-detected formats take the compiled path when
        # it is built: it parses the common Postfix lines itself and hands the rest back to
        # feed(), one line at a time, into the same builder (same rows, order and counts).
        self.fast = (
            fast.available()
            and framer is not None
            and framer.framing in fast.FRAMINGS
            and fmt is None
            and "postfix" not in (parsers or {})
        )
        self.builder = self._new_builder()
        self.counts = Counts()

    def _new_builder(self) -> EventBuilder:
        if self.fast:
            return fast.FastBuilder(self.source, self.columns, kinds=self.kinds)
        return EventBuilder(self.source)

    def feed_block(
        self, data: bytes | bytearray, pos: int, end: int, lineno: int, limit: int
    ) -> tuple[int, int]:
        """Parse up to ``limit`` lines of the block ``data[pos:end]`` through the compiled path
        (``self.fast`` only); returns (byte position reached, last line number)."""
        assert self.framer is not None and isinstance(self.builder, fast.FastBuilder)
        framer = self.framer
        pos, lineno, damaged = compiled.feed_block(
            self.builder.parser,
            data,
            pos,
            end,
            lineno,
            limit,
            framer.syslog_clock,
            self._feed_line,
            framing=framer.framing,
        )
        self.counts.damaged += damaged
        return pos, lineno

    def _feed_line(self, line: str, lineno: int) -> int:
        assert isinstance(self.builder, fast.FastBuilder)
        self.builder.handed_back += 1
        # Records run together on one line (which the compiled path declines) count as lines.
        return self._feed(split_records([line]), lineno)

    def compiled_misses(self) -> bool:
        """Whether the compiled path hands back most lines of this input (Exim or Sendmail in
        syslog, say): each costs more that way than through the Python engine directly."""
        b = self.builder
        if not isinstance(b, fast.FastBuilder) or b.handed_back < _MISSES:
            return False
        return bool(b.handed_back * 2 > int(b.parser.rows) + b.fast_lines)

    @property
    def full(self) -> bool:
        """Whether the compiled path holds as many bytes as its tables may (MAX_BYTES)."""
        b = self.builder
        return isinstance(b, fast.FastBuilder) and bool(b.parser.full)

    def _route(self, program: str) -> _Route:
        route = self.dispatch.get(program)
        if route is not None:
            return route
        fmt = self.forced or format_of_program(program)
        if fmt is None:
            route = None, "", "", None
        else:
            if fmt not in self.parsers:
                self.parsers[fmt] = load_parser(fmt)
            parse = self.parsers[fmt]
            reason = f"unrecognised {fmt} line"
            if parse is None:
                reason += f" (no {fmt} parser available)"
            handler = None
            if fmt == "postfix" and parse is not None and parse is _postfix_parse_line():
                from mailtrace.logs.postfix import handler_for

                handler = handler_for(program)
            route = parse, reason, f"{fmt} parser failed", handler
        if len(self.dispatch) < _CACHE_MAX and len(program) <= _TOKEN_MAX:
            self.dispatch[program] = route
        return route

    def _tag(self, tag: str) -> _TagInfo | None:
        """What a tag token says, or None when the fast RFC 3164 split does not fit it."""
        m = _TAG_TOKEN.fullmatch(tag)
        info = None
        if m is not None:
            program, pid = m.groups()
            info = program, int(pid) if pid else None, self._route(program)
        if len(self.tags) < _CACHE_MAX and len(tag) <= _TOKEN_MAX:
            self.tags[tag] = info
        return info

    def _host(self, host: str) -> bool:
        """Whether ``host`` is one token of non-space characters, as the frame pattern wants."""
        if not host or host.split(maxsplit=1) != [host]:
            return False
        if len(self.hosts) < _CACHE_MAX and len(host) <= _TOKEN_MAX:
            self.hosts.add(host)
        return True

    def feed(self, lines: list[str], lineno: int) -> int:
        """Parse ``lines``, the first being number ``lineno + 1``; returns the last number used."""
        # The loop allocates millions of short-lived objects and builds no cycles: the cyclic
        # collector would only re-walk the growing builder (~1 µs a line).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._feed(lines, lineno)
        finally:
            if collecting:
                gc.enable()

    def _feed(self, lines: list[str], lineno: int) -> int:
        b = self.builder
        add = b.add
        counts = self.counts
        other_programs = counts.other_programs
        unparsed = b.unparsed
        framer = self.framer
        split = framer.split if framer is not None else _no_frame
        exim = framer is not None and framer.framing == "exim"
        # RFC 3164 lines take a fast split: the stamp is a cache hit (stamps repeat), host and tag
        # are the next two space-separated tokens and the tag token's meaning is cached; a line
        # that does not fit exactly (fractions, <PRI>, odd tags, new stamps) takes the pattern.
        fast = framer is not None and framer.framing == "rfc3164"
        stamps: dict[str, int | None] = framer.syslog_clock.cache if framer is not None else {}
        clock = framer.syslog_clock.stamp if framer is not None else _no_frame
        tags = self.tags
        hosts = self.hosts
        route: _Route
        n = lineno
        other = 0
        for line in lines:
            n += 1
            if fast and line[15:16] == " ":
                parts = line[16:].split(" ", 2)
                if len(parts) == 3:
                    name, tag, message = parts
                    info = tags.get(tag)
                    if info is None and tag not in tags:
                        info = self._tag(tag)
                    if info is not None and (name in hosts or self._host(name)):
                        stamp = line[:15]
                        ts = stamps.get(stamp)
                        if ts is None and _STAMP(stamp) is not None:
                            ts = clock(stamp)  # a new second: a quarter of the lines
                        if ts is not None:
                            program, pid, route = info
                            handler = route[3]
                            if handler is None:
                                other += self._dispatch(
                                    route, ts, name, program, pid, n, message, line
                                )
                                continue
                            try:
                                r = handler(message)
                                if r is None:
                                    unparsed(n, line, route[1])
                                else:
                                    add(r[0], ts, name, program, pid, n, r[1], r[2])
                            except Exception as exc:  # a parser bug costs one line
                                unparsed(n, line, f"{route[2]}: {exc!r}")
                            continue
            frame = split(line)  # the file's own framing first, then the others
            if frame is None:
                if not line.strip():
                    other += 1
                elif exim:
                    # Exim's rejectlog follows a reject with the message's headers, unstamped.
                    other += 1
                    other_programs[_EXIM_HEADERS] = other_programs.get(_EXIM_HEADERS, 0) + 1
                else:
                    unparsed(n, line, _NO_HEADER)
                continue
            ts, host, program, pid, message = frame
            route = self.dispatch.get(program) or self._route(program)
            other += self._dispatch(route, ts, host, program, pid, n, message, line)
        counts.other += other
        b.other(other)
        counts.lines += n - lineno
        return n

    def _dispatch(
        self,
        route: _Route,
        ts: int | None,
        host: str | None,
        program: str,
        pid: int | None,
        n: int,
        message: str,
        line: str,
    ) -> int:
        """Hand one framed line to its parser; 1 when it is another program's line, else 0."""
        parse = route[0]
        b = self.builder
        if parse is None:
            if route[1]:
                b.unparsed(n, line, route[1])
                return 0
            programs = self.counts.other_programs
            programs[program] = programs.get(program, 0) + 1
            return 1
        try:
            recognised = parse(b, ts, host, program, pid, n, message)
        except Exception as exc:  # a parser bug must cost one line, not the whole file
            b.unparsed(n, line, f"{route[2]}: {exc!r}")
            return 0
        if not recognised:
            b.unparsed(n, line, route[1])
        return 0

    def take(self) -> LogTables:
        """The tables built so far; the engine starts a fresh builder (counts go with them)."""
        b = self.builder
        counts = self.counts
        counts.events = len(b)
        counts.unparsed = b.unparsed_count
        collecting = gc.isenabled()
        gc.disable()
        try:
            events = b.events_table()
            if self.kept is not None and events.num_columns != len(self.kept):
                events = events.select(self.kept)  # the Python engine built every column
            sessions = b.sessions_table() if isinstance(b, fast.FastBuilder) else None
            tables = LogTables(events, b.unparsed_table(), counts, sessions)
        finally:
            if collecting:
                gc.enable()
        if isinstance(b, fast.FastBuilder):  # lines the compiled path consumed itself
            counts.lines += b.fast_lines
            counts.other += b.fast_other
            for name, n in b.fast_programs.items():
                counts.other_programs[name] = counts.other_programs.get(name, 0) + n
        self.builder = self._new_builder()
        self.counts = Counts()
        return tables


def _postfix_parse_line() -> LineParser | None:
    """Postfix's own ``parse_line``: its handlers may be called directly, per line."""
    return load_parser("postfix")


def _no_frame(line: str) -> None:
    return None


class _Range:
    """A read-only window [start, end) of a binary file."""

    def __init__(self, f: BinaryIO, start: int, end: int | None) -> None:
        f.seek(start)
        self.f = f
        self.left = None if end is None else end - start

    def read(self, n: int) -> bytes:
        if self.left is None:
            return self.f.read(n)
        data = self.f.read(min(n, self.left))
        self.left -= len(data)
        return data


def _chunk_blocks(source: Source, chunk: Chunk) -> Iterator[bytes]:
    if chunk.start == 0 and chunk.end is None:
        yield from read_blocks(source)
        return
    if source.path is None:  # pragma: no cover - plan_file never splits stdin
        raise UsageError("only a plain file can be read by byte ranges")
    with source.path.open("rb") as f:
        yield from iter_blocks(_Range(f, chunk.start, chunk.end), source.name, decompress=False)


def _plain_blocks(
    source: Source,
    chunk: Chunk,
    rest: Iterator[tuple[bytearray, int]] | None = None,
    first: tuple[bytearray, int, int] | None = None,
) -> Iterator[tuple[bytearray, int, int]]:
    """The blocks of a chunk of a plain file, read in place, each with the position its first
    line to parse starts at; a read error names the input. ``rest`` (and ``first``, a block
    begun): where a parse ahead stopped (:class:`mailtrace.logs.ahead.Ahead`)."""
    assert source.path is not None
    try:
        if first is not None:
            yield first
        blocks = iter_plain_blocks(source.path, chunk.start, chunk.end) if rest is None else rest
        for data, size in blocks:
            yield data, size, 0
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {exc.strerror or exc}") from None


def iter_plan_tables(
    plan: FilePlan,
    chunk: Chunk | None = None,
    *,
    format: str | None = None,
    errors: Errors = "raise",
    block_lines: int = BLOCK_LINES,
    parsers: Mapping[str, LineParser] | None = None,
    read: Sequence[bytes] | None = None,
    columns: Collection[str] | None = None,
    ahead: Ahead | None = None,
    kinds: Collection[str] | None = None,
) -> Iterator[LogTables]:
    """Stream the tables of one planned input (or one of its chunks), ~``block_lines`` at a time.

    ``read``: the chunk's blocks, already read (whole lines of a compressed input, inflated by
    the caller), instead of reading the chunk's byte range. ``columns``: the EVENTS columns the
    caller keeps; the tables then have those and kind and program only
    (:func:`mailtrace.logs.fast.kept_columns`; the compiled path does not build the others).
    ``ahead``: the chunk's first lines, parsed already by :mod:`mailtrace.logs.ahead` for the
    same columns and kinds; the parse goes on where that one stopped. ``kinds``: the kinds the
    caller reads; the compiled path may leave out rows of others that have no queue id
    (:func:`mailtrace.logs.compiled.keep_kinds`), counting them as events all the same.
    """
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown log format {format!r} (one of {', '.join(FORMATS)})")
    chunk = chunk or plan.chunks[0]
    framer = None
    if plan.framing is not None:
        framer = Framer(plan.framing, year=chunk.year, tz=plan.tz)
        if chunk.month:
            framer.syslog_clock.restore(chunk.year, chunk.month)
    engine = _Engine(plan.source.name, framer, format, parsers, columns, kinds)
    lineno = chunk.first_line
    pending = 0
    yielded = False
    try:
        blocks: Iterable[tuple[bytes | bytearray, int, int]]
        if read is not None:
            blocks = [(block, len(block), 0) for block in read]
        elif ahead is not None and engine.fast and is_plain_file(plan.source):
            # The compiled path's rows so far, its clock, and the rest of the range.
            engine.builder = fast.FastBuilder(plan.source.name, columns, ahead.parser)
            engine.framer = framer = ahead.framer
            pending, lineno = ahead.lineno - lineno, ahead.lineno
            blocks = _plain_blocks(plan.source, chunk, ahead.blocks, ahead.block)
        elif engine.fast and is_plain_file(plan.source):
            assert plan.source.path is not None
            blocks = _plain_blocks(plan.source, chunk)
        else:
            blocks = ((block, len(block), 0) for block in _chunk_blocks(plan.source, chunk))
        for data, size, pos in blocks:
            # Blocks of lines with a <PRI> go to the Python engine, whose split_records cuts
            # apart records run together (the compiled RFC 5424 framing declines those lines).
            rfc5424 = framer is not None and framer.framing == "rfc5424"
            if engine.fast and (rfc5424 or not data.startswith(b"<")):
                while pos < size and engine.fast:
                    before = lineno
                    pos, lineno = engine.feed_block(data, pos, size, lineno, block_lines - pending)
                    pending += lineno - before
                    if engine.fast and engine.compiled_misses():
                        engine.fast = False  # the rest of this input goes to the Python parsers
                    if pending >= block_lines or engine.full or not engine.fast:
                        yield engine.take()
                        pending, yielded = 0, True
                if pos >= size:
                    continue
            block = data[pos:size] if pos or size < len(data) else data
            lines, damaged = decode_block(bytes(block))
            lines = split_records(lines)  # each run-together syslog record counts as a line
            engine.counts.damaged += damaged
            while lines:
                room = block_lines - pending
                part, lines = (lines[:room], lines[room:]) if len(lines) > room else (lines, [])
                lineno = engine.feed(part, lineno)
                pending += len(part)
                if pending >= block_lines:
                    yield engine.take()
                    pending, yielded = 0, True
    except DecompressError as exc:
        kept = lineno - chunk.first_line
        if errors == "raise":
            raise DecompressError(
                exc.source,
                f"{exc.problem} after line {lineno:,} (rerun with --errors skip to keep the "
                f"{kept:,} lines before it)",
                kept,
            ) from None
        engine.counts.failed_inputs += 1
        engine.counts.problems.append(
            f"{exc.source}: {exc.problem} after line {lineno:,} ({kept:,} lines kept)"
        )
    except InputError as exc:
        if errors == "raise":
            raise
        engine.counts.failed_inputs += 1
        engine.counts.problems.append(str(exc))  # "source: problem"
    if pending or not yielded or engine.counts.problems:
        yield engine.take()


def iter_file_tables(
    path: str | os.PathLike[str] | Source,
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
    block_lines: int = BLOCK_LINES,
    parsers: Mapping[str, LineParser] | None = None,
) -> Iterator[LogTables]:
    """Stream EVENTS/UNPARSED tables of one input, one pair per ~``block_lines`` lines.

    Memory stays bounded by the block size whatever the input's length; the counts of the
    yielded blocks add up to the whole input's.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Mar  7 10:00:00 mx sshd[1]: x\\n" * 5)
    >>> [t.counts.lines for t in iter_file_tables(log, year=2026, block_lines=2)]
    [2, 2, 1]
    """
    source = _as_source(path)
    with spooled(source) as readable:
        try:
            plan = plan_file(readable, year=year, tz=tz)
        except InputError as exc:
            if errors == "raise":
                raise
            yield _failed(readable.name, exc.problem)
            return
        yield from iter_plan_tables(
            plan, format=format, errors=errors, block_lines=block_lines, parsers=parsers
        )


@contextmanager
def spooled(source: Source) -> Iterator[Source]:
    """``source`` itself, or for stdin a temporary file holding it (removed afterwards).

    Framing detection and RFC 3164 year inference read an input before it is parsed, a pipe can
    be read only once, and a worker process cannot read this process's stdin.

    >>> with spooled(Source("maillog", Path("maillog"))) as s:
    ...     s.name
    'maillog'
    """
    if not source.is_stdin:
        yield source
        return
    fd, tmp = tempfile.mkstemp(prefix="mailtrace-stdin-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        yield Source(source.name, Path(tmp))
    finally:
        os.unlink(tmp)


def _failed(name: str, problem: str) -> LogTables:
    counts = Counts(failed_inputs=1, problems=[problem])
    return LogTables(empty_table(EVENTS), empty_table(UNPARSED), counts)


def collect(parts: Iterable[LogTables]) -> LogTables:
    """Concatenate streamed tables into one LogTables.

    >>> collect([]).counts.lines
    0
    """
    events, unparsed, sessions, counts = [], [], [], Counts()
    for part in parts:
        events.append(part.events)
        unparsed.append(part.unparsed)
        if part.sessions is not None:
            sessions.append(part.sessions)
        counts = counts + part.counts
    return LogTables(
        pa.concat_tables(events) if events else empty_table(EVENTS),
        pa.concat_tables(unparsed) if unparsed else empty_table(UNPARSED),
        counts,
        pa.concat_tables(sessions) if sessions else None,
    )


def parse_file_tables(
    path: str | os.PathLike[str] | Source,
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
    parsers: Mapping[str, LineParser] | None = None,
) -> LogTables:
    """EVENTS, UNPARSED and the counts of one whole input (path, ``-`` or a Source).

    ``format`` forces one MTA parser for every line; ``year`` is the year of the first RFC 3164
    line; ``tz`` the zone of stamps written without one; ``errors="skip"`` keeps what could be read
    of a damaged input and reports the damage in ``counts.problems`` instead of raising.
    ``parsers`` overrides the MTA parsers by format name.
    """
    return collect(
        iter_file_tables(path, format=format, year=year, tz=tz, errors=errors, parsers=parsers)
    )


def parse_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
) -> pa.Table:
    """The EVENTS table of one log file: pure, picklable, for a process pool or a cluster to map.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("")
    >>> parse_file(log).schema == EVENTS
    True
    """
    return parse_file_tables(path, format=format, year=year, tz=tz, errors=errors).events


def parse_range(
    plan: FilePlan,
    index: int,
    *,
    format: str | None = None,
    errors: Errors = "raise",
    parsers: Mapping[str, LineParser] | None = None,
    columns: Collection[str] | None = None,
    kinds: Collection[str] | None = None,
) -> LogTables:
    """The tables of chunk ``index`` of a plan made by :func:`plan_file` (for a process pool);
    ``columns``: the EVENTS columns wanted, ``kinds`` the kinds read (see
    :func:`iter_plan_tables`), None for all."""
    chunk = plan.chunks[index]
    # A range of at most RANGE_LINES_BYTES is taken whole, as one table of one chunk per
    # column: the Parquet encoder then gives each column one dictionary page, and the range
    # costs one take instead of one per BLOCK_LINES lines. Longer ranges still stream.
    whole = read_whole(chunk)
    return collect(
        iter_plan_tables(
            plan,
            chunk,
            format=format,
            errors=errors,
            parsers=parsers,
            block_lines=1 << 62 if whole else BLOCK_LINES,
            columns=columns,
            # A command may have begun the range before it imported this module.
            ahead=(
                parsed_ahead.claim(plan, index, columns, kinds)
                if format is None and not parsers
                else None
            ),
            kinds=kinds,
        )
    )


def parse_data(
    plan: FilePlan,
    chunk: Chunk,
    data: Sequence[bytes],
    *,
    format: str | None = None,
    errors: Errors = "raise",
    parsers: Mapping[str, LineParser] | None = None,
    columns: Collection[str] | None = None,
    kinds: Collection[str] | None = None,
) -> LogTables:
    """The tables of ``data``, blocks of whole lines of ``plan``'s input that ``chunk``
    describes (its first line number, year and month), read by the caller: the blocks of a
    compressed input, inflated once and parsed by several threads.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Jan  1 10:00:00 mx a: x\\n")
    >>> plan = plan_file(log, year=2026)
    >>> block = b"Jan  2 10:00:00 mx a: y\\n"
    >>> counts = parse_data(plan, Chunk(0, None, 41, 2026, 1), [block]).counts
    >>> counts.lines, counts.other_programs
    (1, {'a': 1})
    """
    return collect(
        iter_plan_tables(
            plan,
            chunk,
            format=format,
            errors=errors,
            parsers=parsers,
            read=data,
            columns=columns,
            kinds=kinds,
        )
    )


def read_events_table(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
) -> pa.Table:
    """The EVENTS table of the logs at ``paths`` (files, directories, globs, ``-``), oldest first.

    >>> read_events_table([]).num_rows
    0
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    tables = [
        parse_file_tables(source, format=format, year=year, tz=tz, errors=errors).events
        for source in expand_inputs(items)
    ]
    return pa.concat_tables(tables) if tables else empty_table(EVENTS)


def read_logs(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
    classify: bool = False,
) -> pd.DataFrame:
    """Every event of the logs at ``paths`` (files, directories, globs, ``-``) as a DataFrame.

    Columns are EVENTS' with Arrow dtypes: reply codes stay integers with nulls and ``ts`` is
    ``timestamp[us, tz=UTC]``. Rotated sets are read oldest first. ``classify=True`` appends
    the FAILURES columns (:func:`mailtrace.failures.classify_events`: each delivery, reject and
    connect failure judged, each distinct reply once).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "maillog").write_text("Mar  7 10:00:00 mx sshd[1]: x\\n")
    >>> df = read_logs(d, year=2026)
    >>> len(df), str(df["reply_code"].dtype)
    (0, 'int16[pyarrow]')
    >>> list(read_logs(d, year=2026, classify=True).columns[-5:])
    ['category', 'family', 'nature', 'provider', 'provider_code']
    """
    import pandas as pd

    table = read_events_table(paths, format=format, year=year, tz=tz, errors=errors)
    if classify:
        from mailtrace.failures import classify_events

        table = classify_events(table)
    frame: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frame
