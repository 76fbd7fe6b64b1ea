"""Planning the reading of one input: its framing, the year of its first line and, for a large
plain file, the byte ranges several workers parse at once.

This module imports neither pyarrow nor numpy, so that ``mailtrace logs`` can plan a large file
(reading it once to count its lines, 0.04 s per million) in a thread while the main thread
imports them (0.1 s): see :func:`plan_ahead`. A caller that shows no line numbers (a report)
plans from the bytes around the ranges' edges alone. :mod:`mailtrace.logs.reader` parses the
ranges.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
>>> _ = log.write_text("Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\\n")
>>> file_framing(log), plan_file(log, year=2026).chunks
('rfc3164', (Chunk(start=0, end=None, first_line=0, year=2026, month=0),))
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
from collections.abc import Collection
from datetime import tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from mailtrace.errors import DecompressError, InputError
from mailtrace.logs.framing import YearScan, detect_framing, first_stamp_year, parse_tz
from mailtrace.pending import Pending
from mailtrace.sources import (
    BLOCK_SIZE,
    MAX_LINE,
    Source,
    is_dataset,
    is_plain_file,
    read_blocks,
)

try:
    from mailtrace.logs import _fastlog  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - no C compiler where mailtrace was installed
    _fastlog = None

# Bytes of a block's first and last lines the year scan is shown: an RFC 3164 stamp and a
# <PRI> before it take at most 20.
_EDGE = 32

__all__ = [
    "Chunk",
    "FilePlan",
    "decode_block",
    "file_framing",
    "first_line_year",
    "plan_ahead",
    "plan_ahead_of_run",
    "plan_command_ahead",
    "plan_file",
    "range_bytes",
]


class Chunk(NamedTuple):
    """A byte range of a plain file, cut at line boundaries, with the state its first line needs."""

    start: int
    end: int | None  # None: to the end of the data
    # The line number of the line before the range (0 at the start of a file); 0 for every
    # range of a plan made without numbering (FilePlan.numbered): lines count from the range.
    first_line: int
    year: int | None  # RFC 3164: the year reached before the range
    month: int  # RFC 3164: the month reached before the range (0 = none yet)


class FilePlan(NamedTuple):
    """How to read one input: its framing, zone, and the chunks it may be split into."""

    source: Source
    framing: str | None
    tz: tzinfo | None
    chunks: tuple[Chunk, ...]
    #: Whether the chunks' first_line are the file's line numbers (see plan_file's ``numbered``).
    numbered: bool = True


def decode_block(block: bytes) -> tuple[list[str], int]:
    """The lines of ``block`` and how many of them were not valid UTF-8 (decoded with U+FFFD).

    >>> decode_block(b"ok\\r\\nbad \\xff\\n")
    (['ok', 'bad \\ufffd'], 1)
    """
    try:
        text = block.decode("utf-8")
        damaged = 0
    except UnicodeDecodeError:
        parts = []
        damaged = 0
        for raw in block.split(b"\n"):
            try:
                parts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                parts.append(raw.decode("utf-8", "replace"))
                damaged += 1
        text = "\n".join(parts)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, damaged


def _as_source(path: str | os.PathLike[str] | Source) -> Source:
    if isinstance(path, Source):
        return path
    text = os.fspath(path)
    if text == "-":
        return Source("<stdin>", None)
    return Source(text, Path(text))


def _first_block(source: Source) -> bytes:
    blocks = read_blocks(source)
    try:
        return next(blocks, b"")
    except DecompressError:
        return b""
    finally:
        blocks.close()


def file_framing(path: str | os.PathLike[str] | Source) -> str | None:
    """The framing of an input, read from its first block (None: no known framing).

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\\n")
    >>> file_framing(log)
    'rfc3164'
    """
    first = _first_block(_as_source(path))
    return detect_framing(decode_block(first[:65536])[0])


def first_line_year(
    path: str | os.PathLike[str] | Source, tz: str | tzinfo | None = None
) -> int | None:
    """The year :func:`plan_file` would give an RFC 3164 input's first line, judged from its
    first block alone (see :func:`mailtrace.logs.framing.first_stamp_year`); None when the
    input is not RFC 3164, has no stamp in its first block or cannot be read.

    >>> import os, tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Dec 31 23:59:00 mx a: x\\nJan  1 00:00:05 mx a: y\\n")
    >>> os.utime(log, (1767312000, 1767312000))  # 2026-01-02
    >>> first_line_year(log), plan_file(log).chunks[0].year
    (2025, 2025)
    """
    source = _as_source(path)
    first = _first_block(source)
    if detect_framing(decode_block(first[:65536])[0]) != "rfc3164":
        return None
    try:
        mtime = source.mtime()
    except InputError:
        return None
    return first_stamp_year(first, mtime if mtime is not None else _now(), parse_tz(tz))


def plan_file(
    path: str | os.PathLike[str] | Source,
    *,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    chunk_bytes: int | None = None,
    taper: int | None = None,
    numbered: bool = True,
) -> FilePlan:
    """Detect the framing of one input and, for RFC 3164, the year of its first line.

    With ``chunk_bytes`` (a plain, uncompressed file only) the file is cut at line boundaries into
    ranges of about that size, each carrying its first line number and RFC 3164 year, so that
    :func:`mailtrace.logs.reader.parse_range` over the chunks gives exactly what one pass over
    the file gives. Without a given ``year``, the year comes from the file's modification time
    (for stdin: now). A plan begun by :func:`plan_ahead` with the same arguments is taken.

    ``taper``: the number of workers that will parse the ranges. The last ranges then shrink
    (to a quarter of ``chunk_bytes`` at least), so that the workers finish nearly together
    rather than one parsing a whole range while the others wait.

    ``numbered=False``: the caller shows no line numbers (it keeps neither the ``line`` column
    nor UNPARSED), so the lines before each range are not counted: the ranges are cut from the
    bytes around their edges instead of from a read of the whole file (0.045 s of the
    1,000,000-line report's start), and each range numbers its lines from 1.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Dec 31 23:59:59 mx a: x\\nJan  1 00:00:00 mx a: y\\n")
    >>> plan = plan_file(log, year=2025, chunk_bytes=1)
    >>> plan.framing, [(c.start, c.first_line, c.year, c.month) for c in plan.chunks]
    ('rfc3164', [(0, 0, 2025, 0), (24, 1, 2025, 12)])
    """
    source = _as_source(path)
    ahead = _AHEAD.pop(_key(source, year, tz, chunk_bytes, taper, numbered), None)
    if ahead is not None:  # planned by plan_ahead while this process imported its libraries
        return ahead.result()
    return _plan(source, year, tz, chunk_bytes, taper, numbered)


def _plan(
    source: Source,
    year: int | None,
    tz: str | tzinfo | None,
    chunk_bytes: int | None,
    taper: int | None,
    numbered: bool = True,
) -> FilePlan:
    zone = parse_tz(tz)
    first = _first_block(source)
    framing = detect_framing(decode_block(first[:65536])[0])
    needs_scan = framing == "rfc3164" and (year is None or chunk_bytes is not None)
    split = chunk_bytes is not None and is_plain_file(source)
    if not needs_scan and not split:
        return FilePlan(source, framing, zone, (Chunk(0, None, 0, year, 0),))
    scan = YearScan()
    # Ranges are made of whole blocks: blocks of an eighth of a range keep them within 1/16 of
    # the size asked (with 4 MB blocks, 8 MB ranges came out 8 or 12 MB).
    block_size = (
        BLOCK_SIZE
        if chunk_bytes is None
        else min(BLOCK_SIZE, max(chunk_bytes, 1), max(chunk_bytes // 8, 1 << 16))
    )
    starts = None
    if split and not numbered and _fastlog is not None:
        starts = _scan_plain(source, block_size, scan if framing == "rfc3164" else None, False)
        if starts is None:
            scan = YearScan()  # it saw some edges: the whole file's read starts it afresh
    numbered = starts is None
    if starts is None and _fastlog is not None and is_plain_file(source):
        starts = _scan_plain(source, block_size, scan if framing == "rfc3164" else None)
    elif starts is None:
        starts = _scan_blocks(source, block_size, scan if framing == "rfc3164" else None)
    assert starts is not None
    if year is None and framing == "rfc3164":
        mtime = source.mtime()
        year = scan.start_year(mtime if mtime is not None else _now(), zone)
    if not split or not starts:
        return FilePlan(source, framing, zone, (Chunk(0, None, 0, year, 0),))
    chunks: list[Chunk] = []
    size = max(chunk_bytes or 1, 1)
    total = _size_of(source)
    for i, (start, before) in enumerate(starts):
        if chunks:
            wanted = size
            if taper and total is not None:  # what is left, shared among the workers
                wanted = max(size // 4, min(size, (total - chunks[-1].start) // (2 * taper)))
            if start - chunks[-1].start < wanted - block_size // 2:  # the nearest block start
                continue
        rollovers, month = scan.checkpoints[i] if framing == "rfc3164" else (0, 0)
        chunks.append(Chunk(start, None, before, None if year is None else year + rollovers, month))
    bounded = [
        Chunk(c.start, nxt.start, c.first_line, c.year, c.month)
        for c, nxt in itertools.pairwise(chunks)
    ]
    return FilePlan(source, framing, zone, (*bounded, chunks[-1]), numbered=numbered)


def _size_of(source: Source) -> int | None:
    """The size of a plain file (None: unknown), for :func:`plan_file`'s tapering only."""
    try:
        return source.path.stat().st_size if source.path is not None else None
    except OSError:
        return None


def _now() -> float:
    import time

    return time.time()


def _scan_blocks(source: Source, block_size: int, scan: YearScan | None) -> list[tuple[int, int]]:
    """(byte offset, lines before) of every block of ``source``, fed to ``scan`` on the way."""
    starts: list[tuple[int, int]] = []
    offset = lines = 0
    try:
        for block in read_blocks(source, block_size):
            starts.append((offset, lines))
            if scan is not None:
                scan.feed(block)
            offset += len(block)
            lines += block.count(b"\n")
    except DecompressError:
        pass  # the main pass reports the damage; the year comes from what could be read
    return starts


#: How far before a block's end the planner of a plan without line numbers looks for the
#: newlines around it (see :func:`_scan_plain`).
_EDGE_WINDOW = 64 << 10


def _scan_plain(
    source: Source, block_size: int, scan: YearScan | None, counted: bool = True
) -> list[tuple[int, int]] | None:
    """:func:`_scan_blocks` over a plain file: the same blocks, cut and counted by the compiled
    module in one call with the GIL released (it runs beside the import of pyarrow and numpy:
    see :func:`plan_ahead`). The year scan sees each block's first and last lines; a block
    where they do not tell it enough is read again whole.

    ``counted=False``: the lines before each block are not counted (0), and the blocks are cut
    from the ``_EDGE_WINDOW`` bytes before each block's end alone; None when a line there is
    longer than that (the caller then scans the file with a fresh ``scan``).
    """
    assert source.path is not None
    try:
        with source.path.open("rb", buffering=0) as f:
            if counted:
                blocks = _fastlog.scan_plain(f.fileno(), block_size, MAX_LINE, _EDGE)
            else:
                blocks = _fastlog.edge_blocks(f.fileno(), block_size, _EDGE_WINDOW, _EDGE)
                if blocks is None:
                    return None
            if scan is not None:
                for offset, _, length, head, tail in blocks:
                    reread = functools.partial(os.pread, f.fileno(), length, offset)
                    scan.feed_edges(head, tail, reread)
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {exc.strerror or exc}") from None
    return [(offset, lines) for offset, lines, *_ in blocks]


# --- planning ahead ------------------------------------------------------------------------------

#: A plain file at least this big is split into byte ranges so several workers share it.
SPLIT_BYTES = 24 << 20

#: Below this much log text the analysis commands (report, path, failures, trace) parse in their
#: own process: starting workers would cost more than it saves.
PARALLEL_BYTES = 32 << 20

#: The smallest byte range a split file is cut into: smaller ones cost more in overhead than
#: they gain in balance.
MIN_RANGE_BYTES = 4 << 20

#: Byte ranges of a planned file up to this size are parsed into one table (see
#: :func:`mailtrace.logs.reader.parse_range`); longer ones, and a range to the end of the data,
#: stream in tables of a bounded number of lines.
RANGE_LINES_BYTES = 16 << 20


def read_whole(chunk: Chunk) -> bool:
    """Whether ``chunk`` is parsed into one table (at most ``RANGE_LINES_BYTES`` long).

    >>> read_whole(Chunk(0, 8 << 20, 0, None, 0)), read_whole(Chunk(0, None, 0, None, 0))
    (True, False)
    """
    return chunk.end is not None and chunk.end - chunk.start <= RANGE_LINES_BYTES


def range_bytes(size: int, workers: int, smallest: int = MIN_RANGE_BYTES) -> int:
    """The size of the byte ranges a file of ``size`` bytes is cut into for ``workers``.

    Several ranges per worker keep all of them busy to the end; 8 MiB ranges (about 55,000
    lines) keep each worker near 250 MB.

    >>> range_bytes(144 << 20, 2) >> 20, range_bytes(20 << 20, 2) >> 20
    (8, 4)
    """
    return max(smallest, min(8 << 20, size // (workers * 4) + 1))


def plan_ahead_of_run(
    inputs: list[str],
    *,
    jobs: int | None = None,
    year: int | None = None,
    tz: str | None = None,
    smallest: int = 0,
    parse: bool = False,
    columns: Collection[str] | None = None,
    numbered: bool = True,
    kinds: Collection[str] | None = None,
) -> None:
    """:func:`plan_ahead` the input of ``mailtrace logs INPUT`` as :func:`mailtrace.logs.batch.run`
    will plan it: one plain file large enough to be split among several workers (else nothing).
    ``smallest``: the size below which the caller will not split it (nor will the run below
    SPLIT_BYTES). A bad argument is left for the run to report. ``parse``: begin parsing the
    ranges too, building ``columns`` of the rows of ``kinds`` (see :func:`plan_ahead`).
    ``numbered``: as the run will ask (see :func:`plan_file`).
    """
    from mailtrace.sources import expand_inputs

    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if len(inputs) != 1 or workers < 2:
        return
    try:
        sources = expand_inputs(inputs)
        if len(sources) != 1 or sources[0].path is None or not is_plain_file(sources[0]):
            return
        size = sources[0].path.stat().st_size
        parse_tz(tz)
    except Exception:
        return
    if size >= max(smallest, SPLIT_BYTES):
        chunk = range_bytes(size, workers)
        plan_ahead(
            sources[0].name,
            year=year,
            tz=tz,
            chunk_bytes=chunk,
            taper=workers,
            parse=workers if parse else 0,
            columns=columns,
            numbered=numbered,
            kinds=kinds,
        )


def plan_command_ahead(
    logs: list[str],
    year: int | None,
    tz: str | None,
    columns: Collection[str],
    kinds: Collection[str] | None = None,
) -> None:
    """For a command that reads ``logs`` whole (report, path, failures, trace): a large log is
    planned in a thread while the command imports its analysis (pyarrow, numpy: 0.2 s), for the
    read to parse ``columns`` of the rows of ``kinds``, and its ranges are parsed from then on
    already (:mod:`mailtrace.logs.ahead`). A dataset needs no plan. A second call with the same
    arguments begins nothing more.

    >>> plan_command_ahead(["no-such-log"], None, None, ["ts"])  # a bad input: left to the run
    """
    if not any(is_dataset(Path(p)) for p in logs):
        plan_ahead_of_run(
            logs,
            year=year,
            tz=tz,
            smallest=PARALLEL_BYTES,
            parse=True,
            columns=columns,
            numbered="line" in columns,  # as the run plans (batch.shows_line_numbers)
            kinds=kinds,
        )


#: Plans begun by plan_ahead, by what plan_file is asked (see _key); taken by the first ask.
_AHEAD: dict[tuple[Any, ...], Pending[FilePlan]] = {}


def _key(
    source: Source,
    year: int | None,
    tz: str | tzinfo | None,
    chunk_bytes: int | None,
    taper: int | None,
    numbered: bool,
) -> tuple[Any, ...]:
    """What makes two plans of an input the same: its file (as it stands now), and the asking."""
    if source.path is None:
        return ("-",)  # stdin is never planned ahead
    try:
        stat = source.path.stat()
    except OSError:
        return (str(source.path),)
    return (
        os.path.abspath(source.path),
        stat.st_size,
        stat.st_mtime_ns,
        year,
        parse_tz(tz),
        chunk_bytes,
        taper,
        numbered,
    )


def plan_ahead(
    path: str | os.PathLike[str],
    *,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    chunk_bytes: int | None = None,
    taper: int | None = None,
    parse: int = 0,
    columns: Collection[str] | None = None,
    numbered: bool = True,
    kinds: Collection[str] | None = None,
) -> None:
    """Start :func:`plan_file` of ``path`` with these arguments in a thread; the first call of
    :func:`plan_file` with the same arguments (for the same unchanged file) takes its result.
    ``parse``: then begin parsing the plan's ranges in that many threads, building ``columns``
    (None: all) of the rows of ``kinds`` (None: all; see
    :func:`mailtrace.logs.compiled.keep_kinds`), for the reader to go on from
    (:mod:`mailtrace.logs.ahead`). Only for a caller
    whose reader takes the compiled path: no ``format`` or parsers of its own.

    Why: the main thread of ``mailtrace logs`` then imports pyarrow and numpy (0.1 s) while
    this thread reads the file; the two overlap because reading and counting lines release
    the GIL. For the overlap the interpreter hands the GIL over every 0.2 ms instead of every
    5 ms until the plan is done (the planner takes it back after every block it reads, and an
    import holding it for the full 5 ms at each of 144 blocks would undo the gain).

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_text("Mar  7 10:00:00 mx a: x\\n" * 10)
    >>> plan_ahead(log, year=2026, chunk_bytes=64)
    >>> len(plan_file(log, year=2026, chunk_bytes=64).chunks), _AHEAD
    (4, {})
    """
    source = Source(os.fspath(path), Path(path))
    key = _key(source, year, tz, chunk_bytes, taper, numbered)
    if len(key) == 1 or key in _AHEAD:
        return
    future: Pending[FilePlan] = Pending()
    _AHEAD[key] = future
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0002))

    def work() -> None:
        try:
            plan = _plan(source, year, tz, chunk_bytes, taper, numbered)
        except BaseException as exc:  # handed to whoever asks for the plan
            sys.setswitchinterval(interval)
            future.set_exception(exc)
            return
        # The parse ahead begins before the plan is handed over, so that the run that takes
        # the plan finds it begun (and releases it); it keeps the interval short until then.
        begun = False
        if parse:
            from mailtrace.logs import ahead

            begun = ahead.start(plan, columns, parse, interval=interval, kinds=kinds)
        if not begun:
            sys.setswitchinterval(interval)
        future.set_result(plan)

    threading.Thread(target=work, name="mailtrace-plan", daemon=True).start()
