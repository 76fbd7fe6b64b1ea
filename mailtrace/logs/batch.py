"""Many logs at once: a process pool maps the pure reader over inputs into a Parquet dataset.

Layout of an output directory ``OUT/``::

    OUT/<input name>.parquet             EVENTS of one input (one file per input)
    OUT/_unparsed/<input name>.parquet   UNPARSED of that input

Every file is written to a hidden temporary name and renamed into place when complete, so a reader
never sees half a file and an interrupted run leaves no plausible-looking output; an existing output
is not replaced unless ``force=True``. Readers skip names starting with ``_`` or ``.`` when they
discover a directory, so ``OUT/`` reads back as EVENTS alone, with the schema's types, in each of::

    pandas.read_parquet("OUT", dtype_backend="pyarrow")            # ArrowDtype columns
    pyarrow.parquet.read_table("OUT")                              # exactly schema.EVENTS
    duckdb.sql("SELECT * FROM read_parquet('OUT/*.parquet')")      # SMALLINT, TIMESTAMPTZ

and the unparsed lines from ``OUT/_unparsed`` the same way.

Inputs are whole tasks when they are compressed or small: the worker streams the input block by
block and writes its files itself, so memory stays bounded whatever the input's size. One large
plain file is cut into byte ranges at line boundaries (:func:`mailtrace.logs.plan.plan_file`
infers the RFC 3164 year from the whole file first and hands each range its year and first line
number); the workers parse the ranges and encode each as Parquet, and this process joins them, in
order, row group by row group, into the input's one Parquet file (:mod:`mailtrace.parquet_join`).
The task functions are pure and picklable, so Dask can map them the same way.

Two engines run the same tasks: ``engine="process"`` (a process pool on this machine) and
``engine="dask"`` (a ``dask.distributed`` cluster: the one at ``scheduler=ADDRESS``, else a local
cluster of ``jobs`` worker processes). On a cluster the inputs and ``OUT/`` must be on a filesystem
every worker sees at the same path, because the workers read the inputs and write their files.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "maillog").write_text("Mar  7 10:00:00 mx sshd[1]: accepted\\n")
>>> result = run([d / "maillog"], d / "out", year=2026, jobs=1)
>>> result.counts.lines, sorted(p.name for p in (d / "out").rglob("*.parquet"))
(1, ['maillog.parquet', 'maillog.parquet'])
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from mailtrace import parquet_write
from mailtrace.errors import DecompressError, InputError, MailtraceError, UsageError
from mailtrace.logs import ahead, fast, plan
from mailtrace.logs.framing import YearScan, parse_tz
from mailtrace.logs.plan import Chunk, FilePlan, file_framing, first_line_year, plan_file
from mailtrace.logs.reader import (
    FORMATS,
    Counts,
    Errors,
    LineParser,
    LogTables,
    iter_file_tables,
    parse_data,
    parse_range,
    spooled,
)
from mailtrace.parquet_join import JoinedFile
from mailtrace.schema import EVENTS, UNPARSED
from mailtrace.sources import Source, expand_inputs, is_plain_file, read_blocks

#: A plain file at least this big is split into byte ranges so several workers share it.
SPLIT_BYTES = plan.SPLIT_BYTES

#: The smallest byte range a split file is cut into: smaller ones cost more in overhead than
#: they gain in balance.
MIN_RANGE_BYTES = plan.MIN_RANGE_BYTES

#: Below this much input, starting worker processes costs more than it saves.
_POOL_BYTES = 4 << 20

UNPARSED_DIR = "_unparsed"

#: Called with (bytes done, bytes in all) as inputs and ranges complete.
Progress = Callable[[int, int], None]

#: Where the tasks run: a process pool here, or a Dask cluster.
ENGINES = ("process", "dask")
Engine = Literal["process", "dask"]


@dataclass(frozen=True)
class Options:
    """How every input is read (picklable, sent to each worker)."""

    format: str | None = None
    year: int | None = None
    tz: str | tzinfo | None = None
    errors: Errors = "raise"
    parsers: Mapping[str, LineParser] | None = None
    #: Keep the events in memory with only these columns (selected in the worker, so that only
    #: they cross between processes); None: keep none.
    columns: tuple[str, ...] | None = None
    #: Count the events by kind and by program (Summary.kinds, Summary.programs).
    tally: bool = True
    #: With ``columns``: the kinds the caller reads. Events of other kinds that have no queue id
    #: may be left out of the tables kept (they are counted all the same), smtpd's sessions
    #: kept apart (:class:`Sessions`), and a delivery's text left out where its reply_text
    #: holds the reply; None: keep all, as events.
    kinds: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Sessions:
    """smtpd's connects and disconnects parsed with the events table before it in
    :attr:`Summary.tables`, kept apart (see :meth:`mailtrace.logs.fast.FastBuilder.sessions_table`):
    in the same list, so that they keep the order of the ranges whatever order those finish in.
    """

    table: pa.Table


@dataclass
class Summary:
    """What a run read: the line counts, events by kind and by program, and the outputs written.

    >>> s = Summary(); s.add_events(EVENTS.empty_table()); s.kinds
    Counter()
    """

    counts: Counts = field(default_factory=Counts)
    kinds: Counter[str] = field(default_factory=Counter)
    programs: Counter[str] = field(default_factory=Counter)
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # inputs that failed in raise mode
    # The events kept (Options.columns), and with Options.kinds their sessions.
    tables: list[pa.Table | Sessions] = field(default_factory=list)

    def add_events(self, events: pa.Table) -> None:
        """Count ``events`` by kind and by program (a null program counts as "")."""
        for name, counter in (("kind", self.kinds), ("program", self.programs)):
            if name not in events.column_names:
                continue
            for array in events.column(name).chunks:
                counted = fast.count_strings(array)
                if counted is None:  # no compiled module, or thousands of distinct names
                    import pyarrow.compute as pc

                    counted = {
                        item["values"]: item["counts"]
                        for item in pc.value_counts(array).to_pylist()
                    }
                for value, n in counted.items():
                    counter[value or ""] += n

    def merge(self, other: Summary) -> None:
        """Add ``other`` into this summary."""
        self.counts = self.counts + other.counts
        self.kinds.update(other.kinds)
        self.programs.update(other.programs)
        self.written.extend(other.written)
        self.errors.extend(other.errors)
        self.tables.extend(other.tables)

    def fail(self, message: str) -> None:
        """Record an input that could not be read (``message``: "source: problem")."""
        self.errors.append(message)
        self.counts.failed_inputs += 1

    def add_part(
        self, part: LogTables, columns: tuple[str, ...] | None = None, tally: bool = True
    ) -> None:
        """Account for one block of tables; keep its events' ``columns`` when given, and count
        them by kind and program when ``tally``."""
        self.counts = self.counts + part.counts
        if tally:
            self.add_events(part.events)
            if part.sessions is not None:
                self.add_events(part.sessions)
        if columns is not None:
            self.tables.append(_columns(part.events, columns))
            if part.sessions is not None:
                self.tables.append(Sessions(part.sessions))


def _columns(events: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """``events`` with only ``columns`` (those it has)."""
    if len(columns) == events.num_columns and tuple(events.column_names) == columns:
        return events
    return events.select([c for c in columns if c in events.column_names])


# --- output files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The two output files of one input."""

    events: Path
    unparsed: Path


# Columns with few distinct values (dictionary-encoded) and those worth min/max statistics.
_DICTIONARY = frozenset(
    [
        "host",
        "program",
        "pid",
        "kind",
        "action",
        "client_host",
        "client_port",
        "relay_host",
        "relay_port",
        "status",
        "dsn",
        "reply_code",
        "command",
        "nrcpt",
        "protocol",
        "tls_version",
        "tls_cipher",
        "source",
        "reason",
    ]
)
_STATISTICS = frozenset(["ts", "host", "program", "queue_id", "kind", "status", "line"])
# Columns that grow steadily, written as deltas: a few bits a value (see parquet_write.encode).
_DELTA = frozenset(["ts", "line"])


def _writer_options(schema: pa.Schema) -> dict[str, Any]:
    """The ParquetWriter settings of every file written here.

    snappy: the cheapest codec to write, and writing is on the hot path. Dictionary pages and
    min/max statistics only where they pay (few distinct values; the columns readers filter on):
    building them for free text costs ~20% of the writing for nothing.
    """
    names = set(schema.names)
    return {
        "compression": "snappy",
        "use_dictionary": sorted(names & _DICTIONARY),
        "write_statistics": sorted(names & _STATISTICS),
    }


def encode_table(table: pa.Table) -> bytes | parquet_write.Part:
    """``table`` as Parquet for a joined file (:class:`_AtomicJoin`): its row groups encoded by
    :mod:`mailtrace.parquet_write` (about half pyarrow's cost) where that module takes the
    table, else the bytes of a whole file written by pyarrow with this module's settings.

    >>> part = encode_table(EVENTS.empty_table())
    >>> part.rows, part.groups
    (0, [])
    """
    part = parquet_write.encode_part(
        table,
        statistics=_STATISTICS,
        row_group_size=_ROW_GROUP,
        dictionary=_DICTIONARY,
        delta=_DELTA,
    )
    if part is not None:
        return part
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **_writer_options(table.schema)) as writer:
        if table.num_rows:
            writer.write_table(table, row_group_size=_ROW_GROUP)
    return bytes(sink.getvalue())


_ROW_GROUP = 1 << 20


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


class _AtomicWriter:
    """A Parquet file written under a hidden temporary name and renamed into place on success.

    Tables are encoded by :mod:`mailtrace.parquet_write` and joined (:class:`_AtomicJoin`)
    where it takes the schema, as EVENTS and UNPARSED are: then ``logs -o`` never imports
    pyarrow.parquet (0.03 s). Other schemas go through pyarrow's writer.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.tmp = _temporary(path)
        self.joined: _AtomicJoin | None = None
        empty = parquet_write.empty_part(schema)
        if empty is not None:
            self.joined = _AtomicJoin(path)
            self.joined.append(empty)  # the file's schema, whether rows come or not
            return
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.tmp, schema, **_writer_options(schema))

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if self.joined is not None:
            self.joined.append(encode_table(table))
        else:
            self.writer.write_table(table, row_group_size=_ROW_GROUP)

    def commit(self) -> None:
        if self.joined is not None:
            self.joined.commit()
            return
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.joined is not None:
            self.joined.abort()
            return
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class _AtomicJoin:
    """A Parquet file joined from parts each worker encoded (:func:`encode_table`), under a
    hidden temporary name until complete: encoding, the costliest step of writing, then runs
    on every core rather than in this process alone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = _temporary(path)
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit or abort
        self.joined = JoinedFile(self.file)

    def append(self, part: bytes | parquet_write.Part) -> None:
        if isinstance(part, parquet_write.Part):
            self.joined.append_groups(part.pages, part.groups, part.rows, part.meta)
        else:
            self.joined.append(part)

    def commit(self) -> None:
        with self.file:
            self.joined.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class Encoded:
    """A range's results with its EVENTS already encoded as Parquet by the worker."""

    events: bytes | parquet_write.Part  # see encode_table
    unparsed: pa.Table
    summary: Summary  # counts, events by kind and program, and the kept columns


class _TargetWriter:
    """The two files of one input. ``joined``: its EVENTS arrive encoded, range by range."""

    def __init__(self, target: Target, joined: bool = False) -> None:
        self.events = _AtomicJoin(target.events) if joined else _AtomicWriter(target.events, EVENTS)
        self.unparsed = _AtomicWriter(target.unparsed, UNPARSED)

    def write(self, part: LogTables | Encoded) -> None:
        if isinstance(part, Encoded):
            self.append(part.events, part.unparsed)
            return
        assert isinstance(self.events, _AtomicWriter)
        self.events.write(part.events)
        self.unparsed.write(part.unparsed)

    def append(self, events: bytes | parquet_write.Part, unparsed: pa.Table) -> None:
        """Add a block whose EVENTS are already encoded (:func:`encode_table`)."""
        assert isinstance(self.events, _AtomicJoin)
        self.events.append(events)
        self.unparsed.write(unparsed)

    def commit(self) -> list[Path]:
        self.events.commit()
        self.unparsed.commit()
        return [self.events.path, self.unparsed.path]

    def abort(self) -> None:
        self.events.abort()
        self.unparsed.abort()


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def output_names(sources: Iterable[Source]) -> list[str]:
    """One distinct, filesystem-safe output name per input, from its file name.

    >>> output_names([Source("a/maillog", Path("a/maillog")),
    ...               Source("b/maillog", Path("b/maillog")), Source("<stdin>", None)])
    ['maillog', 'maillog-2', 'stdin']
    """
    names: list[str] = []
    seen: set[str] = set()
    for source in sources:
        base = "stdin" if source.is_stdin else Path(source.name).name
        base = _UNSAFE.sub("_", base).lstrip("._") or "input"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}-{n}"
        seen.add(name)
        names.append(name)
    return names


def targets(out: Path, sources: list[Source]) -> list[Target]:
    """Where each input's EVENTS and UNPARSED files go under ``out``."""
    return [
        Target(out / f"{name}.parquet", out / UNPARSED_DIR / f"{name}.parquet")
        for name in output_names(sources)
    ]


# --- the tasks a worker runs (pure, picklable) ----------------------------------------------------


def file_task(source: Source, options: Options, target: Target | None) -> Summary:
    """Read one whole input streaming; write its files when ``target`` is given.

    Each block's EVENTS are encoded as Parquet in a second thread while the next block is read
    and parsed (both let go of the GIL), then joined into the input's file in order; at most two
    blocks are held at once, so memory stays bounded whatever the input's size.

    A compressed RFC 3164 input without ``--year`` needs its year from a scan of the whole input
    (:func:`plan_file`), which must inflate it all once before the parse inflates it again: 2.8
    s per 10,000,000 lines, with a core idle. The parse starts at once instead, with the year
    its first line gives (:func:`first_line_year`), while a third thread scans; the result is
    kept only if the scan finds the same year, else the input is read again with the scanned
    one, exactly as without the guess. When the compiled parser reads the input, the blocks
    inflated once are parsed by several threads instead (:func:`_read_in_parallel`).

    Errors come back inside the Summary (``errors``) rather than raised, because exceptions
    carrying a source and a problem do not survive the trip between processes.
    """
    from concurrent.futures import ThreadPoolExecutor

    guess = None
    if options.year is None and not is_plain_file(source):
        guess = first_line_year(source, options.tz)
    if _parallel_fits(source, options):
        year = options.year if options.year is not None else guess
        result = _read_in_parallel(source, options, target, year)
        if isinstance(result, int):  # the guess was wrong: this is the scanned year
            result = _read_in_parallel(source, options, target, result)
        if isinstance(result, Summary):
            return result
    if guess is None:
        summary = _read_file(source, options, target)
        assert summary is not None
        return summary
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailtrace-scan") as scanner:
        scanning = scanner.submit(plan_file, source, tz=options.tz)
        speculative = _read_file(
            source, replace(options, year=guess), target, confirm=lambda: _year(scanning) == guess
        )
    if speculative is not None:
        return speculative
    summary = _read_file(source, options, target)
    assert summary is not None
    return summary


def _year(scanning: Future[FilePlan]) -> int | None:
    """The year a whole-input scan gave the first line (None: the scan failed)."""
    try:
        return scanning.result().chunks[0].year
    except (MailtraceError, OSError):
        return None


def _read_file(
    source: Source,
    options: Options,
    target: Target | None,
    confirm: Callable[[], bool] | None = None,
) -> Summary | None:
    """:func:`file_task`'s reading; None when ``confirm``, asked before anything is kept,
    says no (the files are then not written)."""
    from concurrent.futures import ThreadPoolExecutor

    summary = Summary()
    writer = None
    try:
        parts = iter_file_tables(
            source,
            format=options.format,
            year=options.year,
            tz=options.tz,
            errors=options.errors,
            parsers=options.parsers,
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailtrace-encode") as encoder:
            queued: tuple[Future[bytes | parquet_write.Part], pa.Table] | None = None
            for part in parts:
                summary.add_part(part, options.columns, options.tally)
                if target is None:
                    continue
                writer = writer or _TargetWriter(target, joined=True)
                encoding = encoder.submit(encode_table, part.events)
                if queued is not None:
                    writer.append(queued[0].result(), queued[1])
                queued = (encoding, part.unparsed)
            if writer is not None and queued is not None:
                writer.append(queued[0].result(), queued[1])
        if confirm is not None and not confirm():
            return None  # the finally clause removes the files begun
        if target is not None:
            _commit(summary, target, writer)
            writer = None
    except MailtraceError as exc:
        if confirm is not None and not confirm():
            return None
        summary.fail(str(exc))
    finally:
        if writer is not None:
            writer.abort()
    return summary


#: Inflated bytes of a compressed input a parsing thread takes at once (about 55,000 lines),
#: and how many such batches may wait for a thread: memory stays bounded.
_BATCH_BYTES = 8 << 20
_BATCHES_AHEAD = 2


def _parallel_fits(source: Source, options: Options) -> bool:
    """Whether :func:`_read_in_parallel` reads ``source``: a compressed input that the
    compiled parser reads (it lets go of the GIL), on a machine with more than one core."""
    return (
        (os.cpu_count() or 1) > 1
        and not is_plain_file(source)
        and _compiled_path_fits([source], options)
    )


def _read_in_parallel(
    source: Source, options: Options, target: Target | None, year: int | None
) -> Summary | int | None:
    """:func:`file_task`'s reading of a compressed input, inflated once by this thread and
    parsed and encoded, batch by batch, by one thread a core.

    Each batch starts with the state the one-pass reader would have reached there: its first
    line number and, for RFC 3164, the year and month, from a :class:`YearScan` fed every block
    on the way (the checkpoints :func:`plan_file` gives the ranges of a plain file). The year of
    the first line is ``year``; when it is a guess (``options.year`` is None) the scan's own
    answer is known only at the end, and if it differs nothing is kept and that year is
    returned. None: the reading could not start (the one-pass reader then reports why).
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    try:
        plan = plan_file(source, year=year, tz=options.tz)  # the framing; a year: no scan
    except MailtraceError:
        return None
    scan = YearScan() if plan.framing == "rfc3164" else None
    if scan is not None and year is None:
        return None
    summary = Summary()
    writer: _TargetWriter | None = None
    queue: deque[Future[LogTables | Encoded | str]] = deque()
    lines = 0  # lines of the blocks read so far

    def take(result: LogTables | Encoded | str) -> None:
        nonlocal writer
        if isinstance(result, str):
            raise InputError(*_split_message(result))
        if target is not None:
            writer = writer or _TargetWriter(target, joined=True)
            writer.write(result)
        if isinstance(result, Encoded):
            summary.merge(result.summary)
        else:
            summary.add_part(result, options.columns, options.tally)

    workers = min(os.cpu_count() or 1, 4)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="mailtrace-parse") as pool:
            batch: list[bytes] = []
            size = 0
            start = _batch_start(0, year, scan)
            damage: InputError | None = None
            try:
                for block in read_blocks(source):
                    if not batch:  # a batch starts: the state a one-pass reader has here
                        start = _batch_start(lines, year, scan)
                    if scan is not None:
                        scan.feed(block)
                    batch.append(block)
                    size += len(block)
                    lines += block.count(b"\n") + (not block.endswith(b"\n"))
                    if size >= _BATCH_BYTES:
                        queue.append(pool.submit(data_task, plan, start, batch, options, target))
                        batch, size = [], 0
                        while len(queue) > workers + _BATCHES_AHEAD:
                            take(queue.popleft().result())
            except InputError as exc:  # damaged compressed data, or a read error
                damage = exc
            if batch:
                queue.append(pool.submit(data_task, plan, start, batch, options, target))
            while queue:
                take(queue.popleft().result())
        if scan is not None and options.year is None:
            mtime = source.mtime()
            scanned = scan.start_year(mtime if mtime is not None else time.time(), plan.tz)
            if scanned != year:
                return scanned  # the finally clause removes the files begun
        if damage is not None:
            _count_damage(summary, damage, lines, options.errors)
        if target is not None:
            _commit(summary, target, writer)
            writer = None
    except MailtraceError as exc:
        summary.fail(str(exc))
    finally:
        if writer is not None:
            writer.abort()
    return summary


def _batch_start(lines: int, year: int | None, scan: YearScan | None) -> Chunk:
    """The first line number, year and month of a batch after ``lines`` lines (RFC 3164: the
    New Years and month ``scan`` has seen so far; other framings need no clock)."""
    if scan is None or year is None:
        return Chunk(0, None, lines, year, 0)
    return Chunk(0, None, lines, year + scan.rollovers, scan.month)


def _commit(summary: Summary, target: Target, writer: _TargetWriter | None) -> None:
    """Put an input's files in place (empty ones if no block came) and record them."""
    summary.written.extend((writer or _TargetWriter(target)).commit())


def _count_damage(summary: Summary, damage: InputError, lines: int, errors: Errors) -> None:
    """A read that failed after ``lines`` lines, reported as the one-pass reader does."""
    if not isinstance(damage, DecompressError):
        if errors == "raise":
            raise damage
        summary.counts.failed_inputs += 1
        summary.counts.problems.append(str(damage))
        return
    if errors == "raise":
        raise DecompressError(
            damage.source,
            f"{damage.problem} after line {lines:,} (rerun with --errors skip to keep the "
            f"{lines:,} lines before it)",
            lines,
        )
    summary.counts.failed_inputs += 1
    summary.counts.problems.append(
        f"{damage.source}: {damage.problem} after line {lines:,} ({lines:,} lines kept)"
    )


def data_task(
    plan: FilePlan,
    chunk: Chunk,
    data: list[bytes],
    options: Options,
    target: Target | None,
) -> LogTables | Encoded | str:
    """:func:`chunk_task` for blocks already read (see :func:`_read_in_parallel`)."""
    try:
        tables = parse_data(
            plan,
            chunk,
            data,
            format=options.format,
            errors=options.errors,
            parsers=options.parsers,
            columns=None if target is not None else options.columns,
            kinds=None if target is not None else options.kinds,
        )
    except MailtraceError as exc:
        return str(exc)
    return _range_result(tables, options, target is not None)


def chunk_task(
    plan: FilePlan, index: int, options: Options, encode: bool = False
) -> LogTables | Encoded | str:
    """Parse byte range ``index`` of a planned plain file (the error message on failure).

    ``encode``: return the range as :class:`Encoded`, its EVENTS already written as Parquet
    bytes and its events counted, so that the process writing the dataset only joins them.
    """
    try:
        tables = parse_range(
            plan,
            index,
            format=options.format,
            errors=options.errors,
            parsers=options.parsers,
            columns=None if encode else options.columns,
            kinds=None if encode else options.kinds,
        )
    except MailtraceError as exc:
        return str(exc)
    return _range_result(tables, options, encode)


def _range_result(tables: LogTables, options: Options, encode: bool) -> LogTables | Encoded:
    """A range's tables as a worker hands them back (see :func:`chunk_task`)."""
    if encode:
        summary = Summary(counts=tables.counts)
        if options.tally:
            summary.add_events(tables.events)
        if options.columns is not None:
            summary.tables.append(_columns(tables.events, options.columns))
        return Encoded(encode_table(tables.events), tables.unparsed, summary)
    if options.columns is not None:
        # Only the columns wanted cross between processes.
        return tables._replace(events=_columns(tables.events, options.columns))
    return tables


# --- running them ---------------------------------------------------------------------------------


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size if source.path is not None else 0
    except OSError:
        return 0


@dataclass(frozen=True)
class _FileJob:
    """A whole input, read and written by one worker."""

    source: Source
    target: Target | None
    size: int


@dataclass(eq=False)
class _Split:
    """A large plain input whose ranges come back out of order and are written in order."""

    plan: FilePlan
    target: Target | None
    results: dict[int, LogTables | Encoded] = field(default_factory=dict)
    next: int = 0
    writer: _TargetWriter | None = None


_Job = _FileJob | tuple[_Split, int]


def run(
    inputs: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    year: int | None = None,
    tz: str | tzinfo | None = None,
    errors: Errors = "raise",
    jobs: int | None = None,
    force: bool = False,
    split_bytes: int | None = None,
    progress: Progress | None = None,
    parsers: Mapping[str, LineParser] | None = None,
    engine: Engine = "process",
    scheduler: str | None = None,
    columns: Collection[str] | None = None,
    imports: Collection[str] = (),
    tally: bool = True,
    kinds: Collection[str] | None = None,
) -> Summary:
    """Read every input with ``jobs`` processes; write the dataset to ``out`` when given.

    Without ``out`` only the :class:`Summary` is built (nothing is kept in memory but counts).
    With ``errors="raise"`` the first damaged input raises (its output is not written; inputs
    already written stay); with ``"skip"`` damage is counted in ``counts.problems``.
    ``engine="dask"`` runs the same tasks on the Dask cluster at ``scheduler`` (an address such
    as ``tcp://10.0.0.5:8786``), or on a local cluster of ``jobs`` processes without one; the
    dataset written is the same as the process pool's. With ``columns`` the events are also
    kept in memory with those columns only, in :attr:`Summary.tables` in input order: a report
    reads a large log this way without a dataset on disk.

    ``imports``: modules the caller will use after the run, imported beside the parse.
    ``tally=False``: leave :attr:`Summary.kinds` and :attr:`Summary.programs` empty, for a
    caller that counts the events it keeps itself (a report: 2% of the parse's CPU).
    ``kinds`` (with ``columns``): the kinds the caller reads; events of others that name no
    queue file may be left out of the tables kept (:func:`mailtrace.logs.compiled.keep_kinds`),
    and smtpd's sessions may follow a table as :class:`Sessions` instead of being among its rows.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if scheduler is not None and engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown log format {format!r} (one of {', '.join(FORMATS)})")
    if errors not in ("raise", "skip"):
        raise UsageError(f"--errors must be raise or skip, not {errors!r}")
    zone = parse_tz(tz)  # a bad --tz is a usage error before any work starts
    if split_bytes is None:
        split_bytes = SPLIT_BYTES
    keep = None if columns is None else tuple(columns)
    read = None if columns is None or kinds is None else tuple(kinds)
    options = Options(format, year, zone, errors, parsers, keep, tally, read)
    sources = expand_inputs(inputs)
    outs: list[Target | None] = [None] * len(sources)
    if out is not None:
        outs = list(targets(Path(out), sources))
        for target in outs:
            for path in (target.events, target.unparsed) if target else ():
                if path.exists() and not force:
                    raise UsageError(f"{path} exists (use --force to overwrite)")
    if engine == "dask":
        sources, outs = _on_shared_paths(sources, outs)
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    with ExitStack() as stack:
        # Workers cannot read this process's stdin: give them a file holding it.
        sources = [stack.enter_context(spooled(source)) for source in sources]
        sizes = [_size(source) for source in sources]
        # Whether a pool will run: then it starts now, its workers importing the reader while
        # this process plans the byte ranges of a large file.
        pooled = (
            workers > 1
            and sum(sizes) >= _POOL_BYTES
            and (len(sources) > 1 or (sizes[0] >= split_bytes and is_plain_file(sources[0])))
        )
        threaded = engine == "process" and _compiled_path_fits(sources, options)
        with _engine_results(engine, scheduler, workers, options, pooled, threaded) as (
            slots,
            results,
        ):
            return _run_jobs(
                sources, outs, options, year, zone, slots, split_bytes, progress, results, imports
            )


def preload(*modules: str) -> None:
    """Import ``modules`` in a background thread while the first ranges are read and parsed.

    The compiled parser releases the GIL, so these imports (0.1 s for pyarrow.compute and
    pyarrow.parquet; 0.25 s for pandas, which the analyses of the events use) overlap with it
    rather than delay the start or follow the parse; the code that needs them imports them as
    usual and at worst waits for the import to finish.

    >>> preload("json")
    """
    import importlib
    import sys
    import threading

    wanted = [m for m in modules if m not in sys.modules]
    if wanted:
        threading.Thread(
            target=lambda: [importlib.import_module(m) for m in wanted], daemon=True
        ).start()


def _on_shared_paths(
    sources: list[Source], outs: list[Target | None]
) -> tuple[list[Source], list[Target | None]]:
    """Absolute paths, for workers whose working directory is not ours (names stay as given)."""
    stdin = [s.name for s in sources if s.path is None]
    if stdin:
        raise UsageError("stdin cannot be read by Dask workers: give log files instead of -")
    return (
        [Source(s.name, s.path.absolute() if s.path else None) for s in sources],
        [
            Target(t.events.absolute(), t.unparsed.absolute()) if t is not None else None
            for t in outs
        ],
    )


def _run_jobs(
    sources: list[Source],
    outs: list[Target | None],
    options: Options,
    year: int | None,
    zone: tzinfo | None,
    workers: int,
    split_bytes: int,
    progress: Progress | None,
    results: _Runner,
    imports: Collection[str] = (),
) -> Summary:
    """Plan the jobs for ``workers`` parallel slots, run them with ``results`` and account."""
    jobs_list: list[_Job] = []
    for source, target in zip(sources, outs, strict=True):
        size = _size(source)
        if workers > 1 and size >= split_bytes and is_plain_file(source):
            plan = plan_file(
                source,
                year=year,
                tz=zone,
                chunk_bytes=_chunk_size(size, workers),
                taper=workers,
                numbered=shows_line_numbers(options, target),
            )
            split = _Split(plan, target)
            jobs_list.extend((split, i) for i in range(len(plan.chunks)))
        else:
            jobs_list.append(_FileJob(source, target, size))
    # Imported beside the parse, not the planning: the planner takes the GIL back after every
    # block it reads, and an import holding the GIL made it wait (0.13 s instead of 0.05 s per
    # million lines), while the parse leaves the GIL for whole blocks.
    # pyarrow.compute (0.05 s, most of it building its functions' docstrings) and
    # pyarrow.parquet (0.03 s) only where the caller's analysis uses them: writing the dataset
    # and counting the events do not (see parquet_write._footer and _AtomicWriter).
    written = [] if parquet_write.available(EVENTS) else ["pyarrow.parquet"]
    preload(*(written if outs and outs[0] is not None else []), *imports)
    total = sum(_job_bytes(job) for job in jobs_list)
    summary = Summary()
    # Kept tables go back in input order, whatever order the jobs finish in.
    order = {id(job if isinstance(job, _FileJob) else job[0]): i for i, job in enumerate(jobs_list)}
    kept: dict[int, list[pa.Table | Sessions]] = {}
    done = 0
    try:
        for job, result in results(jobs_list, total):
            if isinstance(job, _FileJob):
                assert isinstance(result, Summary)
                part = _checked(result)
                kept.setdefault(order[id(job)], []).extend(part.tables)
                part.tables = []
                summary.merge(part)
            else:
                assert isinstance(result, LogTables | Encoded | str)
                before = len(summary.tables)
                _take_chunk(job[0], job[1], result, summary, options)
                kept.setdefault(order[id(job[0])], []).extend(summary.tables[before:])
                del summary.tables[before:]
            done += _job_bytes(job)
            if progress is not None:
                progress(done, total)
    finally:
        # Ranges a command began parsing before the run (logs.ahead): those of a plan this run
        # did not take too (the file changed in between), whose threads would wait for ever.
        ahead.release_all()
    summary.tables = [t for i in sorted(kept) for t in kept[i]]
    return summary


def shows_line_numbers(options: Options, target: Target | None) -> bool:
    """Whether a run shows the line numbers of what it reads: in the files it writes (EVENTS'
    ``line``, UNPARSED) or in the events it keeps. If not, its plans need not count lines.

    >>> shows_line_numbers(Options(columns=("ts", "kind")), None)
    False
    """
    return target is not None or options.columns is None or "line" in options.columns


def _job_bytes(job: _Job) -> int:
    if isinstance(job, _FileJob):
        return job.size
    plan = job[0].plan
    chunk = plan.chunks[job[1]]
    end = chunk.end if chunk.end is not None else _size(plan.source)
    return max(0, end - chunk.start)


def _chunk_size(size: int, workers: int) -> int:
    return plan.range_bytes(size, workers, MIN_RANGE_BYTES)


#: Runs jobs and yields each with its result (any order): the one thing an engine provides.
_Runner = Callable[[list[_Job], int], Iterator[tuple[_Job, Any]]]


def _compiled_path_fits(sources: list[Source], options: Options) -> bool:
    """Whether every input will be read by the compiled fast path, which releases the GIL.

    Then threads replace worker processes: nothing is pickled between processes and no process
    starts, and each range's tables stay where the dataset is written from.
    """
    if options.format is not None or options.parsers is not None or not fast.available():
        return False
    try:
        return all(file_framing(source) in fast.FRAMINGS for source in sources)
    except MailtraceError:
        return False  # the reader reports the damage in its own words


@contextmanager
def _engine_results(
    engine: Engine,
    scheduler: str | None,
    workers: int,
    options: Options,
    pooled: bool = False,
    threaded: bool = False,
) -> Iterator[tuple[int, _Runner]]:
    """The number of parallel slots and the runner of ``engine``, open for one batch.

    ``pooled``: the process pool is started at once rather than when the jobs are ready.
    ``threaded``: a pool of threads stands in for the process pool (see _compiled_path_fits).
    """
    if engine == "dask":
        with _dask_client(scheduler, workers) as client:
            yield _dask_slots(client), lambda jobs, total: _dask_results(client, jobs, options)
        return
    if threaded:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailtrace") as threads:
            yield workers, lambda jobs, total: _pool_results(jobs, options, workers, total, threads)
        return
    if not pooled:
        yield workers, lambda jobs, total: _pool_results(jobs, options, workers, total)
        return
    with _process_pool(workers) as pool:
        yield workers, lambda jobs, total: _pool_results(jobs, options, workers, total, pool)


def _warm_up() -> None:
    """A task that does nothing: submitting it makes the pool start a worker."""


@contextmanager
def _process_pool(workers: int) -> Iterator[Any]:
    """A process pool of ``workers``, its workers starting at once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: workers must not inherit this process's Arrow thread pools through fork().
    context = multiprocessing.get_context("forkserver")
    # The server imports the reader once (it has run no Arrow work, so it has no thread pools
    # to pass on); each worker forked from it then starts without ~0.3 s of imports.
    context.set_forkserver_preload(["mailtrace.logs.batch", "mailtrace.logs.postfix"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for _ in range(workers):
            pool.submit(_warm_up)
        yield pool


def _task(job: _Job, options: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The pure task function and arguments of ``job``: only what a worker needs is sent.

    ``options`` is the :class:`Options` or, on Dask, a future of them already on the workers.
    """
    if isinstance(job, _FileJob):
        return file_task, (job.source, options, job.target)
    return chunk_task, (job[0].plan, job[1], options, job[0].target is not None)


def _pool_results(
    jobs: list[_Job], options: Options, workers: int, total: int, pool: Any = None
) -> Iterator[tuple[_Job, Any]]:
    """Each job with its result: in this process when small, else from a pool of ``workers``
    (``pool``, or one started here)."""
    if pool is None and (workers == 1 or len(jobs) < 2 or total < _POOL_BYTES):
        for job in jobs:
            fn, args = _task(job, options)
            yield job, fn(*args)
        return
    if pool is None:
        with _process_pool(workers) as started:
            yield from _pool_results(jobs, options, workers, total, started)
        return
    from concurrent.futures import FIRST_COMPLETED, wait

    def submit(job: _Job) -> Any:
        fn, args = _task(job, options)
        return pool.submit(fn, *args)

    def some_done(pending: Collection[Any]) -> Iterable[Any]:
        return wait(pending, return_when=FIRST_COMPLETED).done

    yield from _windowed(jobs, submit, some_done, workers * 2)


def _dask_results(client: Any, jobs: list[_Job], options: Options) -> Iterator[tuple[_Job, Any]]:
    """Each job with its result, computed by the workers of a Dask ``client``."""
    wait = _distributed().wait

    # Options are scattered once rather than pickled into every task.
    [shared] = client.scatter([options], broadcast=True, hash=False)

    def submit(job: _Job) -> Any:
        fn, args = _task(job, shared)
        # pure=False: the same input read twice (after a fix, with --force) must be read again.
        return client.submit(fn, *args, pure=False)

    def some_done(pending: Collection[Any]) -> Iterable[Any]:
        done: Iterable[Any] = wait(list(pending), return_when="FIRST_COMPLETED").done
        return done

    yield from _windowed(jobs, submit, some_done, _dask_slots(client) * 2)


def _windowed(
    jobs: list[_Job],
    submit: Callable[[_Job], Any],
    some_done: Callable[[Collection[Any]], Iterable[Any]],
    window: int,
) -> Iterator[tuple[_Job, Any]]:
    """Run ``jobs`` through futures, at most ``window`` at once, yielding each with its result.

    ``submit`` returns a future (concurrent.futures or Dask: both have ``result`` and
    ``cancel``); ``some_done`` waits until at least one of the pending futures is done.
    """
    splits = {id(job[0]): job[0] for job in jobs if isinstance(job, tuple)}
    pending: dict[Any, tuple[int, _Job]] = {}
    queue = iter(enumerate(jobs))
    try:
        while True:
            # A bounded window keeps the ranges of a large file from piling up in memory.
            for position, job in queue:
                pending[submit(job)] = (position, job)
                if len(pending) >= window:
                    break
            if not pending:
                break
            finished = some_done(pending)
            # Ranges must be written in order, so hand results back in submission order
            # when several are ready; a file's result can go at once.
            for future in sorted(finished, key=lambda f: pending[f][0]):
                yield pending.pop(future)[1], future.result()
    except BaseException:
        for future in pending:
            future.cancel()
        for split in splits.values():
            if split.writer is not None:
                split.writer.abort()
                split.writer = None
        raise


_NO_DASK = (
    "--engine dask needs dask.distributed, which is not installed "
    "(pip install 'mailtrace[distributed]')"
)


@contextmanager
def _dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a local cluster of ``workers``."""
    dd = _distributed()
    if scheduler is not None:
        try:
            client = dd.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        with client:
            yield client
        return
    # One single-threaded process per worker: the parsers hold the GIL, threads would not help.
    with (
        dd.LocalCluster(
            host="127.0.0.1",
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        dd.Client(cluster) as client,
    ):
        yield client


def _distributed() -> Any:
    """``dask.distributed``, imported only when asked for (typed Any: it ships partial stubs)."""
    try:
        import distributed
    except ImportError:
        raise UsageError(_NO_DASK) from None
    return distributed


def _dask_slots(client: Any) -> int:
    """Tasks the cluster can run at once (its worker threads), at least 1."""
    threads: dict[str, int] = client.nthreads()
    return max(1, sum(threads.values()))


def _checked(result: Summary) -> Summary:
    # With errors="skip" the reader absorbs damage itself, so any error left here is fatal.
    if result.errors:
        raise InputError(*_split_message(result.errors[0]))
    return result


def _split_message(message: str) -> tuple[str, str]:
    source, _, problem = message.partition(": ")
    return source, problem


def _take_chunk(
    split: _Split,
    index: int,
    result: LogTables | Encoded | str,
    summary: Summary,
    options: Options,
) -> None:
    """Accept range ``index`` of a split input; write every range now in order."""
    if isinstance(result, str):
        if split.writer is not None:
            split.writer.abort()
            split.writer = None
        raise InputError(*_split_message(result))
    split.results[index] = result
    while split.next in split.results:
        part = split.results.pop(split.next)
        if split.target is not None:
            if split.writer is None:
                split.writer = _TargetWriter(split.target, joined=True)
            split.writer.write(part)
        if isinstance(part, Encoded):
            summary.merge(part.summary)
        else:
            summary.add_part(part, options.columns, options.tally)
        split.next += 1
    if split.next == len(split.plan.chunks) and split.target is not None:
        _commit(summary, split.target, split.writer)
        split.writer = None
