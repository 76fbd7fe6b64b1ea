"""Ranges parsed ahead of the imports (mailtrace.logs.ahead) give exactly the reader's tables."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from mailtrace import event_columns
from mailtrace.errors import InputError
from mailtrace.logs import ahead, fast
from mailtrace.logs.ahead import _feed
from mailtrace.logs.compiled import MAX_BYTES, MODULE
from mailtrace.logs.framing import Framer
from mailtrace.logs.plan import FilePlan, plan_file
from mailtrace.logs.reader import LogTables, parse_range
from mailtrace.sources import Source

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "logs" / "postfix.log"

pytestmark = pytest.mark.skipif(not fast.available(), reason="the compiled parser is not built")


def _log(path: Path, rounds: int = 40, prefix: str = "") -> None:
    """sample_data's Postfix log ``rounds`` times over, from November into the next February
    (month changes and a new year inside ranges). Its lines include ones only the Python
    parsers read (postfix-script, fatal …): kept in every fifth round, so that most ranges
    have none."""
    lines = SAMPLE.read_text().splitlines()
    common = [line for line in lines if not _python_only(line)]
    months = ["Nov", "Dec", "Jan", "Feb"]
    out = []
    for r in range(rounds):
        month = months[r * len(months) // rounds]
        day = 1 + r % (rounds // len(months))
        out += [f"{prefix}{month} {day:>2}{line[6:]}" for line in (common, lines)[r % 5 == 0]]
    path.write_text("\n".join(out) + "\n")


def _python_only(line: str) -> bool:
    """Whether the compiled path hands ``line`` back to the Python parsers."""
    data = bytearray(line.encode() + b"\n")
    parser = MODULE.Parser(max_bytes=MAX_BYTES, skip=0)
    return _feed(parser, Framer("rfc3164", year=2025, tz=UTC), data, len(data), 0)[1] == 0


def _ranges(
    plan: FilePlan, columns: tuple[str, ...] | None, kinds: tuple[str, ...] | None = None
) -> list[LogTables]:
    return [parse_range(plan, i, columns=columns, kinds=kinds) for i in range(len(plan.chunks))]


def _same(parts: list[LogTables], alone: list[LogTables]) -> None:
    assert len(parts) == len(alone)
    for part, one in zip(parts, alone, strict=True):
        assert part.events.equals(one.events)
        assert part.unparsed.equals(one.unparsed)
        assert part.counts == one.counts


@pytest.mark.parametrize(
    ("columns", "kinds"),
    [
        (event_columns.REPORT, None),
        (None, None),
        (event_columns.REPORT, event_columns.REPORT_KINDS),
    ],
)
def test_ranges_parsed_ahead_are_the_ranges_parsed_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    columns: tuple[str, ...] | None,
    kinds: tuple[str, ...] | None,
) -> None:
    log = tmp_path / "maillog"
    _log(log)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000, taper=2)
    assert len(plan.chunks) > 20
    alone = _ranges(plan, columns, kinds)
    claimed: list[ahead.Ahead | None] = []
    claim = ahead.claim
    monkeypatch.setattr(ahead, "claim", lambda *a: claimed.append(claim(*a)) or claimed[-1])
    interval = sys.getswitchinterval()
    assert ahead.start(plan, columns, kinds=kinds)
    try:
        assert sys.getswitchinterval() < interval  # the GIL handed over often meanwhile
        _same(_ranges(plan, columns, kinds), alone)
    finally:
        ahead.release(plan)
    assert sys.getswitchinterval() == interval  # released: as it was
    done = [c for c in claimed if c is not None]
    # Some ranges were parsed ahead to their end, some stopped at a line the Python parsers
    # read (the reader went on from there), and a new month did not stop any.
    assert any(c.block is None for c in done) and any(c.block is not None for c in done)
    # (A range the reader claimed before its parse began a block is handed over at that block.)
    stopped = [
        bytes(c.block[0][c.block[2] :]).split(b"\n")[0] for c in done if c.block and c.block[2]
    ]
    assert all(_python_only(line.decode()) for line in stopped)
    assert not ahead._RUNS


def test_blocks_with_a_priority_are_left_to_the_reader(tmp_path: Path) -> None:
    """The reader gives blocks that start with ``<PRI>`` to the Python engine: so does this."""
    log = tmp_path / "maillog"
    _log(log, rounds=8, prefix="<22>")
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    alone = _ranges(plan, None)
    assert ahead.start(plan, None)
    try:
        first = ahead.claim(plan, 0, None)
        assert first is not None and first.block is not None and first.block[2] == 0
        assert first.parser.rows == 0
        _same(_ranges(plan, None)[1:], alone[1:])
    finally:
        ahead.release(plan)


@pytest.mark.parametrize(
    ("columns", "kinds"), [(("ts", "kind"), None), (event_columns.REPORT, ("connect",))]
)
def test_a_parse_for_other_columns_or_kinds_is_not_used(
    tmp_path: Path, columns: tuple[str, ...], kinds: tuple[str, ...] | None
) -> None:
    log = tmp_path / "maillog"
    _log(log, rounds=8)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    alone = _ranges(plan, event_columns.REPORT)
    assert ahead.start(plan, columns, kinds=kinds)
    try:
        assert ahead.claim(plan, 1, event_columns.REPORT) is None
        _same(_ranges(plan, event_columns.REPORT), alone)
    finally:
        ahead.release(plan)


def test_unclaimed_ranges_are_bounded_and_release_stops_the_threads(tmp_path: Path) -> None:
    """A reader that never claims finds at most ``most`` ranges parsed; after release the
    threads end and the interpreter's switch interval is what it was."""
    log = tmp_path / "maillog"
    _log(log)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    interval = sys.getswitchinterval()
    assert ahead.start(plan, None, workers=1, most=2)
    run = ahead._RUNS[id(plan)]
    deadline = time.monotonic() + 30
    while run.unclaimed < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(run.ranges) == 2 < len(plan.chunks)
    ahead.release(plan)
    while run.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.threads == 0 and sys.getswitchinterval() == interval
    assert ahead.claim(plan, 0, None) is None  # released: the reader parses it itself
    assert not ahead.start(plan_file(log, year=2025, tz="UTC"), None)  # one range: no split


def test_without_a_bound_every_range_is_parsed_before_the_reader_comes(tmp_path: Path) -> None:
    """As a report's parse while it still imports: no thread waits for the reader."""
    log = tmp_path / "maillog"
    _log(log)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    assert len(plan.chunks) > 4
    assert ahead.start(plan, None, workers=2)
    run = ahead._RUNS[id(plan)]
    deadline = time.monotonic() + 30
    while run.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.threads == 0  # the threads ended: none waits for a claim
    assert run.unclaimed == len(run.ranges) == len(plan.chunks)
    ahead.release(plan)


def test_a_range_the_reader_waits_for_is_handed_over_at_the_next_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsing threads run at a lower priority: a range the reader claims mid-parse is
    not finished by them but handed over where they are, and the tables are the same."""
    log = tmp_path / "maillog"
    _log(log, rounds=8)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    alone = _ranges(plan, None)
    data = log.read_bytes()
    # A range the compiled path reads to its end (no line for the Python parsers in it).
    k = next(
        i
        for i, c in enumerate(plan.chunks)
        if i and not any(_python_only(x) for x in data[c.start : c.end].decode().splitlines())
    )
    real = ahead.iter_plain_blocks
    first_parsed = threading.Event()

    def blocks(path: Path, start: int = 0, end: int | None = None) -> Any:
        """Blocks of 2 KB; range k waits after its first block until the reader claims it."""
        for n, block in enumerate(real(path, start, end, block_size=2048)):
            yield block
            if n == 0 and start == plan.chunks[k].start:
                first_parsed.set()
                while k not in ahead._RUNS[id(plan)].wanted:
                    time.sleep(0.001)

    monkeypatch.setattr(ahead, "iter_plain_blocks", blocks)
    claimed: list[ahead.Ahead | None] = []
    claim = ahead.claim
    monkeypatch.setattr(ahead, "claim", lambda *a: claimed.append(claim(*a)) or claimed[-1])
    assert ahead.start(plan, None)
    try:
        # Range k's first block is parsed ahead before the reader comes to it.
        assert first_parsed.wait(30)
        _same(_ranges(plan, None), alone)
    finally:
        ahead.release(plan)
    waited = claimed[k]
    assert waited is not None and waited.block is not None
    # Handed over between two blocks: the lines of the first one were parsed ahead.
    assert waited.block[2] == 0 and waited.lineno > plan.chunks[k].first_line


def test_a_range_that_cannot_be_read_is_left_to_the_reader(tmp_path: Path) -> None:
    """The reader meets the error itself, in its own words."""
    log = tmp_path / "maillog"
    _log(log, rounds=8)
    plan = plan_file(log, year=2025, tz="UTC", chunk_bytes=24_000)
    gone = plan._replace(source=Source("maillog", tmp_path / "gone"))
    assert ahead.start(gone, None)
    try:
        assert ahead.claim(gone, 0, None) is None
        with pytest.raises(InputError, match="maillog: cannot open"):
            parse_range(gone, 1)
    finally:
        ahead.release(gone)


def test_a_run_releases_a_parse_begun_for_a_plan_it_did_not_take(tmp_path: Path) -> None:
    """The file changed between the plan and the run: the run plans it again, and the parse
    begun for the old plan (whose threads would wait for a claim) is released with the run."""
    from mailtrace.logs import plan as planning
    from mailtrace.logs.batch import run

    log = tmp_path / "maillog"
    _log(log, rounds=8)
    interval = sys.getswitchinterval()
    ask = {"year": 2025, "tz": "UTC", "chunk_bytes": 24_000, "taper": 2}
    planning.plan_ahead(log, **ask, parse=2, columns=("ts", "kind"))
    deadline = time.monotonic() + 30
    while not ahead._RUNS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ahead._RUNS
    with log.open("a") as f:
        f.write(SAMPLE.read_text())
    summary = run([log], year=2025, tz="UTC", jobs=2, split_bytes=1, columns=("ts", "kind"))
    assert summary.counts.lines > 0 and not ahead._RUNS
    assert sys.getswitchinterval() == interval
    planning._AHEAD.clear()
