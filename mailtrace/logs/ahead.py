"""Parsing a large log's byte ranges while the command is still importing pyarrow and numpy.

A command that reads one large log plans it in a thread (:func:`mailtrace.logs.plan.plan_ahead`)
while its main thread imports its libraries: pyarrow and numpy take 0.2 s, and the command's
analysis more beside the parse. The compiled parser needs neither until its columns are wrapped
as Arrow arrays. So once the plan is ready, :func:`start` has threads parse the plan's ranges
with it, first range first, each into its own parser. They need the GIL only between blocks
of 4 MB: the parser reads a block without it. They run at a lower priority than the command's
own threads, whose imports come first (:func:`_lower_priority`).

The reader then :func:`claim`\\ s each range. It gets the parser with its rows, and where the
parse stopped: at the end of the range, or before the first line only the Python parsers read,
or a block that starts with a ``<PRI>`` (the reader's own rules for such lines), or the first
block after the claim (the reader finishes a range it waits for itself). It goes on from
there exactly as if it had parsed those lines itself, so tables, counts and row order are the
same. A range nobody has started yet is claimed as it is and parsed by the reader alone. When
the run is over, :func:`release` stops what is left.

Without the compiled module, or for a plan that is not split, nothing starts.

>>> import tempfile, pathlib
>>> from mailtrace.logs.plan import plan_file
>>> log = pathlib.Path(tempfile.mkdtemp()) / "maillog"
>>> _ = log.write_bytes(b"Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\\n" * 40)
>>> plan = plan_file(log, year=2026, chunk_bytes=1024)
>>> start(plan, ["ts", "kind"])
True
>>> ahead = claim(plan, 0, ["ts", "kind"])
>>> ahead.parser.rows == ahead.lineno  # the lines parsed before the claim: all 18, or fewer
True
>>> release(plan)
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Collection, Iterator
from typing import Any, NamedTuple

from mailtrace.logs.compiled import FRAMINGS, MODULE, feed_block, keep_kinds, new_parser, skip_mask
from mailtrace.logs.framing import Framer
from mailtrace.logs.plan import FilePlan, read_whole
from mailtrace.pending import Pending
from mailtrace.sources import iter_plain_blocks

__all__ = ["Ahead", "claim", "release", "release_all", "start"]

# While ranges are parsed ahead the main thread imports, holding the GIL for its 5 ms turns:
# each parsing thread would wait that long for it after every block. As for the planning
# (plan.plan_ahead), the interpreter hands it over every 0.2 ms meanwhile, until the threads
# end or the run releases them. (Until the first claim only, when the imports are done, was
# slower: 1.85 s against 1.755 s a report of the 1M-line log, 10 alternating runs.)
_SWITCH_S = 0.0002


class Ahead(NamedTuple):
    """The start of one range as parsed ahead: the reader goes on from here."""

    #: The ``_fastlog.Parser`` holding the rows of the lines parsed.
    parser: Any
    #: The range's framer, its clock where the parse stopped.
    framer: Framer
    #: The number of the last line parsed.
    lineno: int
    #: The block the parse stopped in, as (buffer, its size, the position of the next line);
    #: None when the range is parsed to its end.
    block: tuple[bytearray, int, int] | None
    #: The range's blocks after ``block`` (its reader, open).
    blocks: Iterator[tuple[bytearray, int]]


class _Run:
    """The ranges of one plan, parsed ahead by threads and claimed by the reader."""

    def __init__(
        self,
        plan: FilePlan,
        skip: int,
        keep: tuple[str, ...] | None,
        workers: int,
        interval: float,
        most: int | None,
    ) -> None:
        self.plan = plan
        self.skip = skip
        self.keep = keep
        self.changed = threading.Condition()
        #: Range index -> the parse of it begun here; None once the reader has claimed it.
        self.ranges: dict[int, Pending[Ahead | None] | None] = {}
        self.next = 0
        #: Ranges begun here and not claimed yet: at most ``most`` (see :func:`start`).
        self.unclaimed = 0
        self.most = len(plan.chunks) if most is None else most
        self.released = False
        #: Ranges the reader waits for: their parse stops at the next block and hands over.
        self.wanted: set[int] = set()
        self.threads = workers
        self.interval: float | None = interval

    def work(self) -> None:
        """Parse ranges in order, each one no one has claimed yet, until none are left."""
        _lower_priority()
        try:
            while (begun := self.begin()) is not None:
                index, future = begun
                try:
                    future.set_result(self.parse(index))
                except BaseException:  # the reader parses the range again and meets the error
                    future.set_result(None)
        finally:
            with self.changed:
                self.threads -= 1
                if self.threads == 0:
                    self.restore_interval()

    def restore_interval(self) -> None:
        """The interpreter's switch interval as it was before :func:`start` (once; call it
        holding ``changed``)."""
        if self.interval is not None:
            sys.setswitchinterval(self.interval)
            self.interval = None

    def begin(self) -> tuple[int, Pending[Ahead | None]] | None:
        """The next range to parse and the future of its parse, once fewer than ``most`` wait
        for the reader; None when there is none or the run is over."""
        with self.changed:
            # (Or nothing is left to begin: then the thread ends.)
            self.changed.wait_for(
                lambda: (
                    self.released
                    or self.unclaimed < self.most
                    or self.next >= len(self.plan.chunks)
                )
            )
            while self.next in self.ranges:  # claimed by the reader already
                self.next += 1
            if self.released or self.next >= len(self.plan.chunks):
                return None
            index = self.next
            future: Pending[Ahead | None] = Pending()
            self.ranges[index] = future
            self.unclaimed += 1
            self.next += 1
            return index, future

    def parse(self, index: int) -> Ahead | None:
        """Range ``index`` parsed by the compiled path alone, as far as it reads it."""
        plan, chunk = self.plan, self.plan.chunks[index]
        if not read_whole(chunk) or plan.source.path is None or plan.framing is None:
            return None  # the reader streams such a range in tables of bounded size
        framer = Framer(plan.framing, year=chunk.year, tz=plan.tz)
        if chunk.month:
            framer.syslog_clock.restore(chunk.year, chunk.month)
        parser = new_parser(self.skip, self.keep)
        blocks = iter_plain_blocks(plan.source.path, chunk.start, chunk.end)
        lineno = chunk.first_line
        for data, size in blocks:
            if self.released:
                return None
            if index in self.wanted:  # the reader goes on from this block at its own priority
                return Ahead(parser, framer, lineno, (data, size, 0), blocks)
            # As the reader does: blocks of lines with a <PRI> go to the Python engine.
            if framer.framing != "rfc5424" and data.startswith(b"<"):
                return Ahead(parser, framer, lineno, (data, size, 0), blocks)
            pos, lineno = _feed(parser, framer, data, size, lineno)
            if pos < size:  # a line for the Python parsers, or the parser is full
                return Ahead(parser, framer, lineno, (data, size, pos), blocks)
        return Ahead(parser, framer, lineno, None, blocks)


#: How much lower the parsing threads' priority is than the command's (Linux nice values).
_NICER = 10


def _lower_priority() -> None:
    """This thread yields the CPU to the command's own threads: it parses while the command
    imports its analysis, and that import, not this parse, is what the command waits for
    first. A report of the 1,000,000-line log took 1.421 s instead of 1.480 (median of 30
    alternating pairs, 20 of them faster). A claimed range is finished by the reader itself,
    at its own priority, from the next block on (:meth:`_Run.parse`): on a machine busy with
    other work a parse of lower priority never holds the command up for more than a block."""
    if not sys.platform.startswith("linux"):  # elsewhere the id is not one setpriority takes
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + _NICER)
    except OSError:  # not allowed (a sandbox): the threads parse at the command's priority
        pass


def _feed(parser: Any, framer: Framer, data: bytearray, size: int, lineno: int) -> tuple[int, int]:
    """The lines of ``data[:size]`` parsed into ``parser`` until one the compiled path declines
    (or the parser is full): (position of that line, last line number parsed).

    The compiled path declines an RFC 3164 line of a new month (the first line of a file, say),
    so that the Python clock follows the year. Here the clock turns as that line would turn it,
    and the compiled path tries it again: if it takes the line, the line's frame is one the
    Python engine reads too, whose clock would have turned the same; if not, the clock turns
    back and the line is the reader's.
    """
    clock, pos = framer.syslog_clock, 0
    while True:
        pos, lineno, _ = feed_block(
            parser, data, pos, size, lineno, 1 << 62, clock, None, framer.framing
        )
        if pos >= size or parser.full or framer.framing != "rfc3164":
            return pos, lineno
        before = clock.state()
        clock.stamp(bytes(data[pos : pos + 15]).decode("ascii", "replace"))
        if clock.state() == before:
            return pos, lineno
        after, taken, _ = feed_block(parser, data, pos, size, lineno, 1, clock, None, "rfc3164")
        if taken == lineno:
            clock.restore(*before)
            return pos, lineno
        pos, lineno = after, taken


#: The plans being parsed ahead, by id (a plan is taken by the reader as the same object).
_RUNS: dict[int, _Run] = {}


def start(
    plan: FilePlan,
    columns: Collection[str] | None,
    workers: int = 2,
    interval: float | None = None,
    kinds: Collection[str] | None = None,
    most: int | None = None,
) -> bool:
    """Begin parsing the ranges of ``plan`` in ``workers`` threads, building ``columns`` (None:
    all; see :func:`mailtrace.logs.compiled.skip_mask`) of the rows a reader of ``kinds`` keeps
    (:func:`mailtrace.logs.compiled.keep_kinds`). Returns whether it began: a plan that is not
    split, or not in a framing the compiled path reads, is left to the reader.

    ``most``: how many parsed ranges may wait for the reader at once (None: all of them). The
    commands that parse ahead hold the whole table in memory anyway, and a bound left the
    threads idle while the command still imported: with 4, both waited 0.1 s of a 1.6 s report
    of a 1,000,000-line log. A reader that wrote each range out and dropped it would bound it.

    The interpreter's switch interval is short until the threads end or are released; then it
    is ``interval`` (default: what it is now)."""
    if (
        MODULE is None
        or len(plan.chunks) < 2
        or plan.framing not in FRAMINGS
        or plan.source.path is None
        or id(plan) in _RUNS
    ):
        return False
    run = _Run(
        plan,
        skip_mask(columns),
        keep_kinds(kinds),
        workers,
        sys.getswitchinterval() if interval is None else interval,
        most,
    )
    _RUNS[id(plan)] = run
    sys.setswitchinterval(min(sys.getswitchinterval(), _SWITCH_S))
    for _ in range(workers):
        threading.Thread(target=run.work, name="mailtrace-ahead", daemon=True).start()
    return True


def claim(
    plan: FilePlan,
    index: int,
    columns: Collection[str] | None,
    kinds: Collection[str] | None = None,
) -> Ahead | None:
    """Range ``index`` of ``plan`` as parsed ahead (waiting for its parse to end), or None: the
    reader parses it from its start. Either way no thread here touches it afterwards.

    ``columns`` and ``kinds`` are the reader's: a parse ahead that built other columns, or the
    rows of other kinds, is not used.
    """
    run = _RUNS.get(id(plan))
    if run is None or run.plan is not plan:
        return None
    with run.changed:
        future = run.ranges.get(index)
        run.ranges[index] = None
        run.wanted.add(index)
        if future is not None:
            run.unclaimed -= 1
            run.changed.notify_all()
    if future is None:
        return None
    ahead = future.result()
    if ahead is not None and (run.skip, run.keep) != (skip_mask(columns), keep_kinds(kinds)):
        _close(ahead)
        return None
    return ahead


def release(plan: FilePlan) -> None:
    """The run of ``plan`` is over: its threads stop after the block they are parsing, and
    ranges parsed but never claimed are dropped."""
    run = _RUNS.pop(id(plan), None)
    if run is None:
        return
    with run.changed:
        run.released = True
        run.restore_interval()
        left = [f for f in run.ranges.values() if f is not None]
        run.ranges.clear()
        run.changed.notify_all()
    for future in left:
        future.add_done_callback(lambda f: _close(f.result()))


def release_all() -> None:
    """:func:`release` every plan begun here (a run is over: nothing will claim them)."""
    for run in list(_RUNS.values()):
        release(run.plan)


def _close(ahead: Ahead | None) -> None:
    if ahead is not None and hasattr(ahead.blocks, "close"):
        ahead.blocks.close()  # the range's file
