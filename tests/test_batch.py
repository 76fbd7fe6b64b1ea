"""Batch runs: the Parquet dataset, atomic writes, byte-range splits, the process pool."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mailtrace.errors import InputError, UsageError
from mailtrace.logs.batch import UNPARSED_DIR, run
from mailtrace.logs.events import EventBuilder
from mailtrace.logs.fast import available as fast_available
from mailtrace.logs.plan import plan_file
from mailtrace.logs.reader import parse_file_tables, parse_range
from mailtrace.schema import EVENTS, UNPARSED

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "logs"


def fake_parse(
    b: EventBuilder,
    ts: int | None,
    host: str | None,
    program: str,
    pid: int | None,
    line: int,
    message: str,
) -> bool:
    """A stand-in Postfix parser: "N: removed" lines are events with a numeric size."""
    qid, _, rest = message.partition(": ")
    if rest != "removed":
        return False
    b.add("removed", ts, host, program, pid, line, qid, {"size": qid[1:], "reply_code": "250"})
    return True


FAKE = {"postfix": fake_parse}


def _log(n: int, start_month: str = "Dec") -> str:
    """``n`` lines crossing New Year half way, with some unparsed and other-program lines."""
    out = []
    for i in range(n):
        month, day = (start_month, 31) if i < n // 2 else ("Jan", 1)
        stamp = f"{month} {day:>2} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        if i % 7 == 0:
            out.append(f"{stamp} mx CRON[{i}]: (root) CMD (true)")
        elif i % 11 == 0:
            out.append(f"{stamp} mx postfix/smtpd[{i}]: something else")
        else:
            out.append(f"{stamp} mx postfix/qmgr[{i}]: Q{i}: removed")
    return "\n".join(out) + "\n"


def test_dataset_layout_and_round_trip_types(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "maillog").write_text(_log(200))
    (tmp_path / "in" / "maillog.1.gz").write_bytes(gzip.compress(_log(100).encode()))
    out = tmp_path / "out"
    summary = run([tmp_path / "in"], out, year=2025, tz="UTC", jobs=1, parsers=FAKE)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "_unparsed",
        "_unparsed/maillog.1.gz.parquet",
        "_unparsed/maillog.parquet",
        "maillog.1.gz.parquet",
        "maillog.parquet",
    ]
    c = summary.counts
    assert c.lines == 300 and c.events + c.unparsed + c.other == c.lines
    assert summary.kinds["removed"] == c.events
    table = pq.read_table(out)
    assert table.schema.remove_metadata() == EVENTS and table.num_rows == c.events
    assert pq.read_table(out / UNPARSED_DIR).schema.remove_metadata() == UNPARSED
    df = pd.read_parquet(out, dtype_backend="pyarrow")
    assert df["reply_code"].dtype == pd.ArrowDtype(pa.int16())
    assert str(df["ts"].dtype) == "timestamp[us, tz=UTC][pyarrow]"
    assert df["size"].dtype == pd.ArrowDtype(pa.int64())
    assert df["reply_code"].eq(250).all()


def test_duckdb_reads_the_dataset_with_the_same_types(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    (tmp_path / "maillog").write_text(_log(50))
    run([tmp_path / "maillog"], tmp_path / "out", year=2025, tz="UTC", jobs=1, parsers=FAKE)
    rel = duckdb.sql(f"SELECT reply_code, ts FROM read_parquet('{tmp_path}/out/*.parquet')")
    assert [str(t) for t in rel.types] == ["SMALLINT", "TIMESTAMP WITH TIME ZONE"]


def test_existing_output_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "maillog").write_text(_log(20))
    out = tmp_path / "out"
    run([tmp_path / "maillog"], out, year=2025, jobs=1, parsers=FAKE)
    before = (out / "maillog.parquet").read_bytes()
    with pytest.raises(UsageError, match="exists"):
        run([tmp_path / "maillog"], out, year=2025, jobs=1, parsers=FAKE)
    assert (out / "maillog.parquet").read_bytes() == before
    run([tmp_path / "maillog"], out, year=2025, jobs=1, force=True, parsers=FAKE)
    assert not list(out.rglob(".*"))  # no temporary file left behind


def test_damaged_input_is_not_written_in_raise_mode_and_kept_in_skip_mode(tmp_path: Path) -> None:
    data = gzip.compress(_log(40_000).encode())
    (tmp_path / "maillog.2.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "maillog").write_text(_log(10))
    out = tmp_path / "out"
    with pytest.raises(InputError, match="truncated gzip stream"):
        run([tmp_path], out, year=2025, jobs=1, parsers=FAKE)
    assert not (out / "maillog.2.gz.parquet").exists()
    assert not out.exists() or not list(out.rglob(".*"))
    summary = run([tmp_path], out, year=2025, jobs=1, errors="skip", force=True, parsers=FAKE)
    assert summary.counts.failed_inputs == 1
    assert pq.read_table(out / "maillog.2.gz.parquet").num_rows > 0


def test_a_whole_input_is_encoded_block_by_block_and_joined_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    from mailtrace.logs import batch, reader

    # Blocks of 97 lines: many blocks, each encoded in the second thread while the next is read.
    monkeypatch.setattr(
        batch, "iter_file_tables", functools.partial(reader.iter_file_tables, block_lines=97)
    )
    log = tmp_path / "maillog.1.gz"
    log.write_bytes(gzip.compress(_log(3000).encode()))
    out = tmp_path / "out"
    summary = run([log], out, year=2025, tz="UTC", jobs=1, parsers=FAKE)
    whole = parse_file_tables(log, year=2025, tz="UTC", parsers=FAKE)
    written = out / "maillog.1.gz.parquet"
    assert pq.ParquetFile(written).metadata.num_row_groups > 20
    assert pq.read_table(written).equals(whole.events)
    assert pq.read_table(out / UNPARSED_DIR / "maillog.1.gz.parquet").equals(whole.unparsed)
    assert summary.counts.events == whole.events.num_rows and summary.counts.unparsed > 0
    # Cut short: in skip mode the blocks before the damage are all there, in order.
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2])
    cut = run([log], out, year=2025, tz="UTC", jobs=1, errors="skip", force=True, parsers=FAKE)
    kept = pq.read_table(written)
    assert cut.counts.failed_inputs == 1 and 0 < kept.num_rows < whole.events.num_rows
    assert kept.equals(whole.events.slice(0, kept.num_rows))


def test_byte_ranges_give_exactly_the_single_pass_result(tmp_path: Path) -> None:
    path = tmp_path / "maillog"
    path.write_text(_log(6000))
    whole = parse_file_tables(path, year=2025, tz="UTC", parsers=FAKE)
    plan = plan_file(path, year=2025, tz="UTC", chunk_bytes=20_000)
    assert len(plan.chunks) > 5
    parts = [parse_range(plan, i, parsers=FAKE) for i in range(len(plan.chunks))]
    events = pa.concat_tables(p.events for p in parts)
    assert events.equals(whole.events)
    assert sum(p.counts.lines for p in parts) == whole.counts.lines == 6000
    years = {t.year for t in events.column("ts").to_pylist()}
    assert years == {2025, 2026}


def test_tapered_ranges_shrink_at_the_end_and_parse_the_same(tmp_path: Path) -> None:
    """With ``taper`` (the workers) the last ranges shrink so the workers finish together; the
    ranges still give the one-pass tables. Ranges are cut from blocks of an eighth of their
    size, at the block start nearest the size asked."""
    path = tmp_path / "maillog"
    path.write_text(_log(100_000))
    size = path.stat().st_size
    whole = parse_file_tables(path, year=2025, tz="UTC", parsers=FAKE)
    chunk = 524_288
    even = plan_file(path, year=2025, tz="UTC", chunk_bytes=chunk)
    tapered = plan_file(path, year=2025, tz="UTC", chunk_bytes=chunk, taper=2)
    for plan in (even, tapered):
        sizes = [(c.end or size) - c.start for c in plan.chunks]
        assert all(abs(n - chunk) <= (1 << 15) + 200 for n in sizes[:2])
        parts = [parse_range(plan, i, parsers=FAKE) for i in range(len(plan.chunks))]
        assert pa.concat_tables(p.events for p in parts).equals(whole.events)
    tail = [(c.end or size) - c.start for c in tapered.chunks][-4:-1]
    assert all(n < chunk * 0.8 for n in tail) and min(tail) >= chunk // 4
    assert len(tapered.chunks) > len(even.chunks)


def test_year_is_inferred_from_the_whole_file_before_splitting(tmp_path: Path) -> None:
    import os
    from datetime import UTC, datetime

    path = tmp_path / "maillog"
    path.write_text(_log(6000))
    mtime = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    plan = plan_file(path, tz="UTC", chunk_bytes=20_000)
    first = parse_range(plan, 0, parsers=FAKE).events.column("ts")[0].as_py()
    last = parse_range(plan, len(plan.chunks) - 1, parsers=FAKE).events.column("ts")[-1].as_py()
    assert (first.year, last.year) == (2025, 2026)


def _utime(path: Path, year: int, month: int, day: int) -> None:
    import os
    from datetime import UTC, datetime

    mtime = datetime(year, month, day, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))


@pytest.mark.parametrize(
    ("first_month", "mtime", "year"),
    [
        # The first line alone gives the year: the parse begun with it is kept.
        ("Dec", (2026, 1, 2), 2025),
        # Aug 2025 to Sep 2026: the first line alone says 2026; the scan of the whole input
        # finds the New Year it crosses and says 2025, and the input is read again with it.
        ("Aug", (2026, 9, 3), 2025),
    ],
)
def test_a_compressed_input_gets_the_year_of_a_whole_scan(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first_month: str,
    mtime: tuple[int, int, int],
    year: int,
) -> None:
    from mailtrace.logs import batch

    text = _log(4000, start_month=first_month)
    if first_month == "Aug":
        for stamp in ("Mar  1", "Jun  1", "Sep  2"):
            text += f"{stamp} 10:00:00 mx postfix/qmgr[9]: Q9: removed\n"
    plain, packed = tmp_path / "maillog", tmp_path / "maillog.1.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        _utime(path, *mtime)
    reads = []
    real_read = batch._read_file
    monkeypatch.setattr(
        batch, "_read_file", lambda *a, **k: reads.append(a[1].year) or real_read(*a, **k)
    )
    out = tmp_path / "out"
    run([packed], out, tz="UTC", jobs=1, parsers=FAKE)
    expected = parse_file_tables(plain, tz="UTC", parsers=FAKE)  # a plain file is scanned first
    written = pq.read_table(out / "maillog.1.gz.parquet")
    assert written.drop_columns("source").equals(expected.events.drop_columns("source"))
    assert expected.events.column("ts")[0].as_py().year == year
    # One read when the first line's year was right, two (the second without a guess) if not.
    assert reads == ([year] if first_month == "Dec" else [year + 1, None])


def test_a_wrong_guess_is_never_kept_even_when_the_input_is_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailtrace.logs import batch

    data = gzip.compress(_log(4000).encode())
    packed = tmp_path / "maillog.1.gz"
    packed.write_bytes(data[: len(data) * 2 // 3])
    _utime(packed, 2026, 1, 2)
    out = tmp_path / "out"
    expected = run([packed], out, tz="UTC", jobs=1, errors="skip", parsers=FAKE)
    kept = pq.read_table(out / "maillog.1.gz.parquet")
    monkeypatch.setattr(batch, "first_line_year", lambda *a, **k: 1999)
    again = run([packed], out, tz="UTC", jobs=1, errors="skip", force=True, parsers=FAKE)
    assert pq.read_table(out / "maillog.1.gz.parquet").equals(kept)
    assert kept.column("ts")[0].as_py().year == 2025
    assert (again.counts, again.errors) == (expected.counts, expected.errors)


def _postfix_year_log() -> str:
    """Real Postfix lines (the compiled parser's) from Aug 2025 to Sep 2026, many per day."""
    sample = (SAMPLE / "postfix.log").read_text().splitlines()
    out = []
    for month, day in [("Aug", 31), ("Jan", 1), ("Mar", 1), ("Jun", 1), ("Sep", 2)]:
        out += [f"{month} {day:>2}{line[6:]}" for line in sample]
    return "\n".join(out) + "\n"


def _both_ways(
    packed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errors: str = "raise"
) -> list[tuple[pa.Table, pa.Table, object, list[str]]]:
    """The dataset and summary of ``packed`` read in one pass and by parallel batches."""
    from mailtrace import sources
    from mailtrace.logs import batch

    # Small inflated pieces, one block per batch: many batches for a small file.
    monkeypatch.setattr(sources, "INFLATE_READ", 700)
    monkeypatch.setattr(batch, "_BATCH_BYTES", 1)
    results = []
    for parallel in (False, True):
        monkeypatch.setattr(batch, "_parallel_fits", lambda *a, p=parallel: p)
        out = tmp_path / f"out-{parallel}"
        try:
            summary = run([packed], out, tz="UTC", jobs=2, errors=errors)  # type: ignore[arg-type]
        except InputError as exc:
            results.append((None, None, None, [str(exc)]))
            continue
        name = packed.name + ".parquet"
        events, unparsed = pq.read_table(out / name), pq.read_table(out / UNPARSED_DIR / name)
        results.append((events, unparsed, summary.counts, sorted(summary.kinds.items())))
    return results


@pytest.mark.skipif(not fast_available(), reason="the compiled parser is not built here")
def test_a_compressed_input_parsed_by_parallel_batches_equals_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = tmp_path / "maillog.1.gz"
    packed.write_bytes(gzip.compress(_postfix_year_log().encode()))
    _utime(packed, 2026, 9, 3)  # the first line alone says 2026; the whole input says 2025
    one_pass, parallel = _both_ways(packed, tmp_path, monkeypatch)
    assert parallel[0] is not None and parallel[0].num_rows > 500
    assert parallel[0].equals(one_pass[0]) and parallel[1].equals(one_pass[1])
    assert parallel[2:] == one_pass[2:]
    years = [t.year for t in parallel[0].column("ts").to_pylist()]
    assert (years[0], years[-1]) == (2025, 2026)


@pytest.mark.skipif(not fast_available(), reason="the compiled parser is not built here")
@pytest.mark.parametrize("errors", ["raise", "skip"])
def test_damage_in_parallel_batches_is_reported_as_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errors: str
) -> None:
    data = gzip.compress(_postfix_year_log().encode())
    packed = tmp_path / "maillog.1.gz"
    packed.write_bytes(data[: len(data) * 2 // 3])
    _utime(packed, 2026, 9, 3)
    one_pass, parallel = _both_ways(packed, tmp_path, monkeypatch, errors)
    if errors == "raise":
        assert parallel == one_pass and "after line" in parallel[3][0]
        return
    assert parallel[0] is not None and parallel[0].equals(one_pass[0])
    assert parallel[2] == one_pass[2] and parallel[2].problems  # type: ignore[union-attr]


@pytest.mark.slow
def test_process_pool_splits_one_large_file_and_writes_it_in_order(tmp_path: Path) -> None:
    path = tmp_path / "maillog"
    path.write_text(_log(120_000))
    out = tmp_path / "out"
    summary = run([path], out, year=2025, tz="UTC", jobs=2, split_bytes=1 << 20, parsers=FAKE)
    single = parse_file_tables(path, year=2025, tz="UTC", parsers=FAKE)
    written = pq.read_table(out / "maillog.parquet")
    assert written.schema.remove_metadata() == EVENTS
    assert written.column("line").to_pylist() == single.events.column("line").to_pylist()
    assert written.column("ts").equals(single.events.column("ts"))
    assert summary.counts.lines == 120_000


def test_stdin_is_read_by_this_process_even_when_workers_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(_log(300).encode())))
    big = tmp_path / "maillog"
    big.write_text(_log(100_000))  # enough input for the process pool to start
    summary = run(["-", big], tmp_path / "out", year=2025, jobs=2, parsers=FAKE)
    assert summary.counts.lines == 100_300
    assert (
        pq.read_table(tmp_path / "out" / "stdin.parquet").column("source")[0].as_py() == "<stdin>"
    )


@pytest.mark.slow
def test_events_can_be_kept_in_memory_with_only_some_columns(tmp_path: Path) -> None:
    # A report reads a large log this way: no dataset on disk, input order, columns chosen.
    big = tmp_path / "maillog"
    big.write_text(_log(120_000))
    small = tmp_path / "maillog.1"
    small.write_text(_log(50, start_month="Nov"))
    columns = ("line", "kind", "size", "ts")
    summary = run(
        [small, big],
        year=2025,
        tz="UTC",
        jobs=2,
        split_bytes=1 << 20,
        parsers=FAKE,
        columns=columns,
    )
    kept = pa.concat_tables(summary.tables)
    assert tuple(kept.column_names) == columns
    expected = [
        parse_file_tables(p, year=2025, tz="UTC", parsers=FAKE).events for p in (small, big)
    ]
    assert kept.column("line").to_pylist() == [
        n for t in expected for n in t.column("line").to_pylist()
    ]
    assert kept.num_rows == summary.counts.events
    assert summary.kinds["removed"] == kept.num_rows
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_plan_made_ahead_is_the_plan_and_is_taken_once(tmp_path: Path) -> None:
    """mailtrace logs plans a large file in a thread while it imports pyarrow; the run takes
    that plan only when asked the same thing of the same unchanged file."""
    from mailtrace.logs import plan

    path = tmp_path / "maillog"
    path.write_text(_log(6000))
    ask = {"year": 2025, "tz": "UTC", "chunk_bytes": 20_000, "taper": 2}
    plan.plan_ahead(path, **ask)
    assert len(plan._AHEAD) == 1
    ahead = plan_file(path, **ask)  # taken
    assert not plan._AHEAD
    assert ahead == plan_file(path, **ask)  # made here: the same
    plan.plan_ahead(path, **ask)
    assert plan_file(path, **{**ask, "chunk_bytes": 40_000}) != ahead and len(plan._AHEAD) == 1
    with path.open("a") as f:  # the file changed: the plan made ahead is not the file's now
        f.write(_log(2000))
    fresh = plan_file(path, **ask)
    assert len(plan._AHEAD) == 1 and fresh != ahead  # made again, the stale one left
    plan._AHEAD.clear()
    missing = tmp_path / "gone"
    missing.write_text(_log(10))
    plan.plan_ahead(missing, **ask)
    missing.unlink()
    plan._AHEAD.clear()


def test_logs_plans_its_large_input_ahead_and_takes_that_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's ahead-of-run planning asks what the run will ask: the run takes the plan."""
    from mailtrace.logs import plan

    monkeypatch.setattr(plan, "SPLIT_BYTES", 1)  # this small file is "large"
    path = tmp_path / "maillog"
    path.write_text(_log(20_000))
    plan.plan_ahead_of_run([str(path)], jobs=1, year=2025, tz="UTC")  # one worker: no split
    plan.plan_ahead_of_run([str(path), str(path)], jobs=2, year=2025, tz="UTC")  # two inputs
    assert not plan._AHEAD
    plan.plan_ahead_of_run([str(path)], jobs=2, year=2025, tz="UTC")
    assert len(plan._AHEAD) == 1
    summary = run([path], tmp_path / "out", year=2025, tz="UTC", jobs=2, split_bytes=1)
    assert summary.counts.lines == 20_000 and not plan._AHEAD  # taken by the run


def test_the_analysis_commands_plan_a_large_log_ahead_but_not_a_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report, path, failures and trace plan a large log while they import their analysis, as
    the parse of read_events will ask (one plan, taken by it), and begin parsing its ranges,
    which the parse claims; a dataset is not planned."""
    from mailtrace import cli, paths
    from mailtrace.logs import ahead, batch, plan

    for module in (plan, batch):
        monkeypatch.setattr(module, "SPLIT_BYTES", 1)  # this small file is "large"
    for module in (plan, paths):
        monkeypatch.setattr(module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    path = tmp_path / "maillog"
    path.write_text(_log(20_000))
    run([path], tmp_path / "out", year=2025, tz="UTC", jobs=1)
    cli._plan_ahead([str(tmp_path / "out" / "maillog.parquet")], 2025, "UTC", ("kind",))
    assert not plan._AHEAD
    alone, _ = paths.read_events_counted([path], ("kind", "ts"), year=2025, tz="UTC")
    claimed: list[ahead.Ahead | None] = []
    claim = ahead.claim
    monkeypatch.setattr(ahead, "claim", lambda *a: claimed.append(claim(*a)) or claimed[-1])
    cli._plan_ahead([str(path)], 2025, "UTC", ("kind", "ts"))
    assert len(plan._AHEAD) == 1
    events, counts = paths.read_events_counted([path], ("kind", "ts"), year=2025, tz="UTC")
    assert counts.lines == 20_000 and events.num_rows == counts.events and not plan._AHEAD
    # The same rows (this log's lines are the Python parsers'); every range claimed; released.
    assert events.equals(alone) and len(claimed) > 1 and not ahead._RUNS


def test_the_planner_imports_neither_pyarrow_nor_numpy() -> None:
    """What lets mailtrace logs plan a large file while it imports them (plan.plan_ahead)."""
    import subprocess
    import sys

    code = (
        "import sys, mailtrace.logs.plan, mailtrace.logs.ahead, mailtrace.event_columns; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'numpy')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_compiled_scan_plans_what_the_block_scan_plans(tmp_path: Path) -> None:
    """Planning a plain file through the compiled scan (each block's first and last lines, the
    block read again only where they do not settle the year scan) gives the blocks, line
    counts, New Years and month checkpoints of the scan that reads every block."""
    from mailtrace.logs import plan
    from mailtrace.logs.framing import YearScan
    from mailtrace.sources import Source

    if plan._fastlog is None:
        pytest.skip("the compiled module is not built")
    lines = []
    days = [("Nov", 29), ("Nov", 30), ("Dec", 1), ("Dec", 31), ("Jan", 1), ("Dec", 31), ("Jan", 2)]
    for month, day in days:
        for i in range(400):  # stragglers, a <PRI>, and lines with no stamp at all among them
            prefix = "<22>" if i % 97 == 5 else ""
            stamp = f"{month} {day:2d} 10:{i // 60 % 60:02d}:{i % 60:02d}"
            lines.append("no stamp here" if i % 131 == 7 else f"{prefix}{stamp} mx a: line {i}")
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    source = Source(str(path), path)
    for block_size in (64, 1000, 7777, 1 << 20):
        compiled, python, edges = YearScan(), YearScan(), YearScan()
        starts = plan._scan_plain(source, block_size, compiled)
        assert starts == plan._scan_blocks(source, block_size, python)
        assert vars(compiled) == vars(python) and compiled.rollovers == 1
        # Read at the blocks' edges alone (a plan without line numbers): the same blocks and
        # year scan, no lines counted.
        uncounted = plan._scan_plain(source, block_size, edges, counted=False)
        assert uncounted == [(start, 0) for start, _ in starts] and vars(edges) == vars(python)


def test_a_run_that_shows_no_line_numbers_plans_without_counting_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that keeps events without their ``line`` and writes nothing (a report) plans the
    ranges from the bytes around their edges: the same ranges, years and months, no lines
    counted, and the same events as a run that counts them."""
    from mailtrace.logs import batch

    path = tmp_path / "maillog"
    path.write_text(_log(20_000))  # December into January: the ranges' years differ
    counted = plan_file(path, tz="UTC", chunk_bytes=40_000, taper=2)
    uncounted = plan_file(path, tz="UTC", chunk_bytes=40_000, taper=2, numbered=False)
    assert counted.numbered and not uncounted.numbered
    assert [(c.start, c.end, c.year, c.month) for c in counted.chunks] == [
        (c.start, c.end, c.year, c.month) for c in uncounted.chunks
    ]
    assert len({c.year for c in counted.chunks}) == 2
    assert {c.first_line for c in uncounted.chunks} == {0} and counted.chunks[-1].first_line
    asked: list[bool] = []
    plan_file_ = batch.plan_file
    monkeypatch.setattr(
        batch, "plan_file", lambda *a, **k: asked.append(k["numbered"]) or plan_file_(*a, **k)
    )
    report = run([path], tz="UTC", jobs=2, split_bytes=1, columns=("ts", "kind", "queue_id"))
    paths = run([path], tz="UTC", jobs=2, split_bytes=1, columns=("ts", "kind", "queue_id", "line"))
    written = run([path], tmp_path / "out", tz="UTC", jobs=2, split_bytes=1, columns=("ts",))
    assert asked == [False, True, True]
    assert report.counts == paths.counts == written.counts
    events = pa.concat_tables(paths.tables)
    assert pa.concat_tables(report.tables).equals(events.drop_columns(["line"]))
    one_pass = parse_file_tables(path, tz="UTC").events
    assert events.column("line").to_pylist() == one_pass.column("line").to_pylist()
