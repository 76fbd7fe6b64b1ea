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
plain file is cut into byte ranges at line boundaries (:func:`mailtrace.logs.reader.plan_file`
infers the RFC 3164 year from the whole file first and hands each range its year and first line
number); the workers parse the ranges and this process writes them, in order, into the input's one
Parquet file. The task functions are pure and picklable, so Dask can map them the same way.

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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mailtrace.errors import InputError, MailtraceError, UsageError
from mailtrace.logs.framing import parse_tz
from mailtrace.logs.reader import (
    FORMATS,
    Counts,
    Errors,
    FilePlan,
    LineParser,
    LogTables,
    iter_file_tables,
    parse_range,
    plan_file,
)
from mailtrace.schema import EVENTS, UNPARSED
from mailtrace.sources import Source, expand_inputs, is_plain_file

#: A plain file at least this big is split into byte ranges so several workers share it.
SPLIT_BYTES = 24 << 20

#: Below this much input, starting worker processes costs more than it saves.
_POOL_BYTES = 4 << 20

UNPARSED_DIR = "_unparsed"

#: Called with (bytes done, bytes in all) as inputs and ranges complete.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Options:
    """How every input is read (picklable, sent to each worker)."""

    format: str | None = None
    year: int | None = None
    tz: str | tzinfo | None = None
    errors: Errors = "raise"
    parsers: Mapping[str, LineParser] | None = None


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

    def add_events(self, events: pa.Table) -> None:
        """Count ``events`` by kind and by program (vectorised)."""
        for name, counter in (("kind", self.kinds), ("program", self.programs)):
            for item in pc.value_counts(events.column(name)).to_pylist():
                counter[item["values"] or ""] += item["counts"]

    def merge(self, other: Summary) -> None:
        """Add ``other`` into this summary."""
        self.counts = self.counts + other.counts
        self.kinds.update(other.kinds)
        self.programs.update(other.programs)
        self.written.extend(other.written)
        self.errors.extend(other.errors)

    def add_part(self, part: LogTables) -> None:
        """Account for one block of tables."""
        self.counts = self.counts + part.counts
        self.add_events(part.events)


# --- output files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The two output files of one input."""

    events: Path
    unparsed: Path


class _AtomicWriter:
    """A Parquet file written under a hidden temporary name and renamed into place on success."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd", compression_level=1)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self.writer.write_table(table, row_group_size=1 << 20)

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class _TargetWriter:
    def __init__(self, target: Target) -> None:
        self.events = _AtomicWriter(target.events, EVENTS)
        self.unparsed = _AtomicWriter(target.unparsed, UNPARSED)

    def write(self, part: LogTables) -> None:
        self.events.write(part.events)
        self.unparsed.write(part.unparsed)

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

    Errors come back inside the Summary (``errors``) rather than raised, because exceptions
    carrying a source and a problem do not survive the trip between processes.
    """
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
        for part in parts:
            if target is not None:
                if writer is None:
                    writer = _TargetWriter(target)
                writer.write(part)
            summary.add_part(part)
        if target is not None:
            writer = writer or _TargetWriter(target)
            summary.written.extend(writer.commit())
            writer = None
    except MailtraceError as exc:
        summary.errors.append(str(exc))
        summary.counts.failed_inputs += 1
    finally:
        if writer is not None:
            writer.abort()
    return summary


def chunk_task(plan: FilePlan, index: int, options: Options) -> LogTables | str:
    """Parse byte range ``index`` of a planned plain file (the error message on failure)."""
    try:
        return parse_range(
            plan, index, format=options.format, errors=options.errors, parsers=options.parsers
        )
    except MailtraceError as exc:
        return str(exc)


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
    results: dict[int, LogTables] = field(default_factory=dict)
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
    split_bytes: int = SPLIT_BYTES,
    progress: Progress | None = None,
    parsers: Mapping[str, LineParser] | None = None,
) -> Summary:
    """Read every input with ``jobs`` processes; write the dataset to ``out`` when given.

    Without ``out`` only the :class:`Summary` is built (nothing is kept in memory but counts).
    With ``errors="raise"`` the first damaged input raises (its output is not written; inputs
    already written stay); with ``"skip"`` damage is counted in ``counts.problems``.
    """
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown log format {format!r} (one of {', '.join(FORMATS)})")
    if errors not in ("raise", "skip"):
        raise UsageError(f"--errors must be raise or skip, not {errors!r}")
    zone = parse_tz(tz)  # a bad --tz is a usage error before any work starts
    options = Options(format, year, zone, errors, parsers)
    sources = expand_inputs(inputs)
    outs: list[Target | None] = [None] * len(sources)
    if out is not None:
        outs = list(targets(Path(out), sources))
        for target in outs:
            for path in (target.events, target.unparsed) if target else ():
                if path.exists() and not force:
                    raise UsageError(f"{path} exists (use --force to overwrite)")
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    jobs_list: list[_Job] = []
    for source, target in zip(sources, outs, strict=True):
        size = _size(source)
        if workers > 1 and size >= split_bytes and is_plain_file(source):
            plan = plan_file(source, year=year, tz=zone, chunk_bytes=_chunk_size(size, workers))
            split = _Split(plan, target)
            jobs_list.extend((split, i) for i in range(len(plan.chunks)))
        else:
            jobs_list.append(_FileJob(source, target, size))
    total = sum(_job_bytes(job) for job in jobs_list)
    summary = Summary()
    done = 0
    for job, result in _results(jobs_list, options, workers, total):
        if isinstance(job, _FileJob):
            assert isinstance(result, Summary)
            summary.merge(_checked(result))
        else:
            assert isinstance(result, LogTables | str)
            _take_chunk(job[0], job[1], result, summary)
        done += _job_bytes(job)
        if progress is not None:
            progress(done, total)
    return summary


def _job_bytes(job: _Job) -> int:
    if isinstance(job, _FileJob):
        return job.size
    plan = job[0].plan
    chunk = plan.chunks[job[1]]
    end = chunk.end if chunk.end is not None else _size(plan.source)
    return max(0, end - chunk.start)


def _chunk_size(size: int, workers: int) -> int:
    # Several ranges per worker keep all of them busy to the end; 16 MiB ranges bound memory.
    return max(4 << 20, min(16 << 20, size // (workers * 4) + 1))


def _call(job: _Job, options: Options) -> Summary | LogTables | str:
    if isinstance(job, _FileJob):
        return file_task(job.source, options, job.target)
    return chunk_task(job[0].plan, job[1], options)


def _results(
    jobs: list[_Job], options: Options, workers: int, total: int
) -> Iterator[tuple[_Job, Summary | LogTables | str]]:
    """Each job with its result: in this process when small, else from a pool of ``workers``."""
    if workers == 1 or len(jobs) < 2 or total < _POOL_BYTES:
        for job in jobs:
            yield job, _call(job, options)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait

    # forkserver: workers must not inherit this process's Arrow thread pools through fork().
    context = multiprocessing.get_context("forkserver")
    splits = {id(job[0]): job[0] for job in jobs if isinstance(job, tuple)}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[Summary | LogTables | str], tuple[int, _Job]] = {}
        queue = iter(enumerate(jobs))
        try:
            while True:
                # A bounded window keeps the ranges of a large file from piling up in memory.
                for position, job in queue:
                    # Send only what the worker needs: a split's writer stays in this process.
                    future = cast(
                        "Future[Summary | LogTables | str]",
                        pool.submit(file_task, job.source, options, job.target)
                        if isinstance(job, _FileJob)
                        else pool.submit(chunk_task, job[0].plan, job[1], options),
                    )
                    pending[future] = (position, job)
                    if len(pending) >= workers * 2:
                        break
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
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


def _checked(result: Summary) -> Summary:
    # With errors="skip" the reader absorbs damage itself, so any error left here is fatal.
    if result.errors:
        raise InputError(*_split_message(result.errors[0]))
    return result


def _split_message(message: str) -> tuple[str, str]:
    source, _, problem = message.partition(": ")
    return source, problem


def _take_chunk(split: _Split, index: int, result: LogTables | str, summary: Summary) -> None:
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
                split.writer = _TargetWriter(split.target)
            split.writer.write(part)
        summary.add_part(part)
        split.next += 1
    if split.next == len(split.plan.chunks) and split.target is not None:
        writer = split.writer or _TargetWriter(split.target)
        summary.written.extend(writer.commit())
        split.writer = None
