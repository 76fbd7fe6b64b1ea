"""The reader: dispatch by program, the count invariant, streaming, damage, years, DataFrames."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.errors import DecompressError, InputError, UsageError
from mailtrace.logs.events import EventBuilder
from mailtrace.logs.reader import (
    LogTables,
    collect,
    decode_block,
    format_of_program,
    iter_file_tables,
    parse_file,
    parse_file_tables,
    read_events_table,
    read_logs,
)
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
    """A stand-in MTA parser: recognises messages starting with "ok", fails on "boom"."""
    if message.startswith("boom"):
        raise ValueError("parser bug")
    if not message.startswith("ok"):
        return False
    b.add("info", ts, host, program, pid, line, None, {"text": message})
    return True


FAKE = {"postfix": fake_parse, "exim": fake_parse, "sendmail": fake_parse}


def _parse(path: Path, **kw: object) -> LogTables:
    kw.setdefault("parsers", FAKE)
    kw.setdefault("year", 2026)
    kw.setdefault("tz", "UTC")
    return parse_file_tables(path, **kw)  # type: ignore[arg-type]


def _check_invariant(r: LogTables) -> None:
    c = r.counts
    assert c.events + c.unparsed + c.other == c.lines
    assert r.events.num_rows == c.events and r.unparsed.num_rows == c.unparsed
    assert r.events.schema == EVENTS and r.unparsed.schema == UNPARSED


def _write(tmp_path: Path, text: str, name: str = "maillog") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MIXED = """\
Mar  7 10:00:00 mx postfix/smtpd[1]: ok connect
Mar  7 10:00:01 mx postfix/submission/smtpd[2]: ok client
Mar  7 10:00:02 mx postfix/smtpd[1]: something postfix says that nobody parses
Mar  7 10:00:03 mx CRON[9]: (root) CMD (true)

this line has no syslog header at all
Mar  7 10:00:04 mx exim4[3]: ok exim
Mar  7 10:00:05 mx sm-mta[4]: ok sendmail
Mar  7 10:00:06 mx postfix-out/smtp[5]: boom
Mar  7 10:00:07 mx dovecot: imap-login: Login
"""


def test_dispatch_by_program_and_the_count_invariant(tmp_path: Path) -> None:
    r = _parse(_write(tmp_path, MIXED))
    _check_invariant(r)
    c = r.counts
    assert (c.lines, c.events, c.unparsed, c.other) == (10, 4, 3, 3)
    assert c.other_programs == {"CRON": 1, "dovecot": 1}
    assert r.events.column("program").to_pylist() == [
        "postfix/smtpd",
        "postfix/submission/smtpd",
        "exim4",
        "sm-mta",
    ]
    assert r.events.column("line").to_pylist() == [1, 2, 7, 8]
    un = {row["line"]: row for row in r.unparsed.to_pylist()}
    assert un[3]["reason"] == "unrecognised postfix line"
    assert un[3]["text"].startswith("Mar  7 10:00:02 mx postfix/smtpd[1]: something")
    assert un[6]["reason"] == "no syslog or MTA log header"
    assert un[9]["reason"] == "postfix parser failed: ValueError('parser bug')"


def test_forced_format_sends_every_line_to_one_parser(tmp_path: Path) -> None:
    r = _parse(_write(tmp_path, MIXED), format="exim")
    _check_invariant(r)
    assert r.counts.other == 1  # only the blank line
    assert "unrecognised exim line" in r.unparsed.column("reason").to_pylist()
    with pytest.raises(UsageError):
        _parse(_write(tmp_path, MIXED), format="qmail")


def test_exim_rejectlog_header_lines_are_counted_with_their_entry(tmp_path: Path) -> None:
    text = (
        "2026-03-07 10:03:01 1wXyZb-000Abd-0A H=relay.example.org [192.0.2.55] "
        "F=<news@example.org> rejected after DATA: virus\n"
        "Envelope-from: <news@example.org>\n"
        "P Received: from relay.example.org ([192.0.2.55])\n"
        "\tby mx.example.net with esmtp (Exim 4.97.1)\n"
    )
    r = _parse(_write(tmp_path, text, "rejectlog"))
    _check_invariant(r)
    assert r.counts.other_programs == {"exim rejectlog headers": 3}
    assert r.counts.unparsed == 1  # the fake parser does not know reject lines


def test_program_tags() -> None:
    tags = ["postfix/smtpd", "postfix-out/smtp", "exim", "exim4", "sendmail", "sm-msp-queue"]
    assert [format_of_program(t) for t in tags] == [
        "postfix",
        "postfix",
        "exim",
        "exim",
        "sendmail",
        "sendmail",
    ]
    assert format_of_program("opendkim") is None


def test_streaming_blocks_add_up_to_the_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, MIXED * 50)
    parts = list(iter_file_tables(path, year=2026, tz="UTC", parsers=FAKE, block_lines=64))
    assert len(parts) == 8 and all(p.counts.lines <= 64 for p in parts)
    whole = collect(parts)
    _check_invariant(whole)
    assert whole.counts.lines == 500
    assert whole.events.column("line").to_pylist() == _parse(path).events.column("line").to_pylist()


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "maillog"
    path.write_bytes(
        b"Mar  7 10:00:00 mx postfix/smtpd[1]: ok caf\xe9\n"
        b"Mar  7 10:00:01 mx postfix/smtpd[1]: ok fine\n"
        b"\xff\xfe garbage\n"
    )
    r = _parse(path)
    _check_invariant(r)
    assert r.counts.damaged == 2
    assert r.events.column("text").to_pylist()[0] == "ok caf\ufffd"
    assert decode_block(b"a\r\nb\n") == (["a", "b"], 0)


def test_truncated_gzip_raises_with_where_and_how_to_continue(tmp_path: Path) -> None:
    data = gzip.compress(("Mar  7 10:00:00 mx postfix/smtpd[1]: ok line\n" * 20_000).encode())
    path = tmp_path / "maillog.2.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecompressError) as info:
        _parse(path)
    message = str(info.value)
    assert message.startswith(f"{path}: truncated gzip stream after line ")
    assert "rerun with --errors skip" in message
    r = _parse(path, errors="skip")
    _check_invariant(r)
    assert 0 < r.counts.lines < 20_000
    assert r.counts.failed_inputs == 1
    assert "truncated gzip stream" in r.counts.problems[0]
    # every whole line is an event; the last one, cut by the damage, is kept as unparsed
    assert r.counts.events == r.counts.lines - 1 and r.counts.unparsed == 1


def test_binary_input_is_an_error_or_a_counted_failure(tmp_path: Path) -> None:
    path = tmp_path / "core"
    path.write_bytes(b"\x00\x01\x02" * 1000)
    with pytest.raises(InputError, match="binary data"):
        _parse(path)
    r = _parse(path, errors="skip")
    assert r.counts.failed_inputs == 1 and r.counts.lines == 0


def test_a_megabyte_line_is_read_and_kept(tmp_path: Path) -> None:
    huge = "Mar  7 10:00:00 mx postfix/smtpd[1]: nothing " + "x" * (1 << 20)
    path = _write(tmp_path, f"{huge}\nMar  7 10:00:01 mx postfix/smtpd[1]: ok after\n")
    start = time.perf_counter()
    r = _parse(path)
    assert time.perf_counter() - start < 5
    _check_invariant(r)
    assert r.unparsed.column("text").to_pylist() == [huge]
    assert r.events.column("line").to_pylist() == [2]


def test_two_hosts_interleaved_and_out_of_order_lines_are_kept_as_written(tmp_path: Path) -> None:
    text = (
        "Mar  7 10:00:05 mx1 postfix/smtpd[1]: ok a\n"
        "Mar  7 10:00:01 mx2 postfix/smtpd[7]: ok b\n"
        "Mar  7 10:00:03 mx1 postfix/smtpd[1]: ok c\n"
    )
    r = _parse(_write(tmp_path, text))
    assert r.events.column("host").to_pylist() == ["mx1", "mx2", "mx1"]
    secs = [t.second for t in r.events.column("ts").to_pylist()]
    assert secs == [5, 1, 3]


def test_rfc3164_year_from_mtime_and_new_year_inside_a_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Dec 31 23:59:58 mx postfix/qmgr[1]: ok a\nJan  1 00:00:02 mx postfix/qmgr[1]: ok b\n",
    )
    mtime = datetime(2026, 1, 1, 0, 5, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    r = parse_file_tables(path, tz="UTC", parsers=FAKE)
    assert [t.year for t in r.events.column("ts").to_pylist()] == [2025, 2026]


def test_rotated_set_crossing_new_year_is_chronological(tmp_path: Path) -> None:
    rotated = tmp_path / "rotated"
    shutil.copytree(SAMPLE / "rotated", rotated)
    mtime = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    for f in rotated.iterdir():
        os.utime(f, (mtime, mtime))
    table = read_events_table([rotated], tz="UTC")
    ts = table.column("ts").to_pylist()
    assert ts == sorted(ts)
    assert (ts[0].year, ts[-1].year) == (2025, 2026)
    sources = table.column("source").unique().to_pylist()
    assert [Path(s).name for s in sources] == ["maillog.2.gz", "maillog.1.gz", "maillog"]


def test_stdin_without_a_year_is_spooled_and_dated_by_now(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"Jan  1 00:00:00 mx postfix/qmgr[1]: ok a\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(text))))
    r = parse_file_tables("-", tz="UTC", parsers=FAKE)
    (ts,) = r.events.column("ts").to_pylist()
    assert ts.year == datetime.now(UTC).year and r.events.column("source")[0].as_py() == "<stdin>"


def test_stdin_with_a_year_loses_no_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"".join(b"Mar  7 10:00:%02d mx postfix/qmgr[1]: ok %d\n" % (i, i) for i in range(50))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    r = parse_file_tables("-", year=2026, tz="UTC", parsers=FAKE)
    assert r.counts.lines == r.counts.events == 50


def test_parse_file_and_read_logs_types(tmp_path: Path) -> None:
    path = _write(tmp_path, "Mar  7 10:00:00 mx sshd[1]: accepted\n")
    assert parse_file(path, year=2026).schema == EVENTS
    df = read_logs([path], year=2026)
    assert list(df.columns) == EVENTS.names
    assert isinstance(df["reply_code"].dtype, pd.ArrowDtype)
    assert df["reply_code"].dtype.pyarrow_dtype == pa.int16()
    assert str(df["ts"].dtype) == "timestamp[us, tz=UTC][pyarrow]"


def test_the_framing_samples_give_the_same_events_with_the_postfix_parser() -> None:
    pytest.importorskip("mailtrace.logs.postfix")
    tables = {
        p.name: parse_file_tables(p, year=2026, tz="+01:00")
        for p in sorted((SAMPLE / "framings").iterdir())
    }
    columns = [c for c in EVENTS.names if c not in ("ts", "source")]
    reference = tables["postfix-rfc3339.log"]
    assert reference.counts.unparsed == 0 and reference.counts.events > 20
    for name, r in tables.items():
        _check_invariant(r)
        assert r.events.select(columns).equals(reference.events.select(columns)), name


lines = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_characters="\x00"), max_size=80),
        st.builds(
            lambda prog, msg: f"Mar  7 10:00:00 mx {prog}[1]: {msg}",
            st.sampled_from(["postfix/smtpd", "exim", "sendmail", "cron", "x"]),
            st.text(st.characters(blacklist_characters="\x00"), max_size=40),
        ),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(lines)
def test_every_line_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, text: list[str]
) -> None:
    path = tmp_path_factory.mktemp("h") / "maillog"
    path.write_text("\n".join(text), encoding="utf-8", errors="surrogatepass")
    r = _parse(path)
    _check_invariant(r)
    expected = path.read_bytes().replace(b"\r\n", b"\n").count(b"\n")
    assert r.counts.lines in (expected, expected + 1)


def test_syslog_records_run_together_on_one_line_are_split(tmp_path: Path) -> None:
    records = [
        f"<22>2026-03-07T10:00:0{i}.5+01:00 mx postfix/qmgr[7]: ok record {i}" for i in range(3)
    ]
    path = tmp_path / "forward.log"
    path.write_text("".join(records))  # rsyslog ForwardFormat without a newline template
    r = _parse(path)
    _check_invariant(r)
    assert r.counts.lines == r.counts.events == 3
    assert r.events.column("text").to_pylist() == [f"ok record {i}" for i in range(3)]


# --- the fast RFC 3164 split must read every line exactly as the frame pattern does -------------
_ODD_LINES = [
    "Mar  7 10:00:00 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",
    "Mar  7 10:00:00 mx postfix/qmgr: 4B2C1D9F3A: removed",  # no pid
    "Mar  7 10:00:00 mx postfix/qmgr[12] 4B2C1D9F3A: removed",  # no colon
    "Mar  7 10:00:00 mx postfix/qmgr[12]:4B2C1D9F3A: removed",  # no space after the colon
    "Mar  7 10:00:00 mx postfix/qmgr[12]:  4B2C1D9F3A: removed",  # two spaces
    "Mar  7 10:00:00 mx postfix/qmgr[x]: 4B2C1D9F3A: removed",  # not a pid
    "Mar  7 10:00:00 mx postfix/qmgr[12345678901]: 4B2C1D9F3A: removed",  # pid too long
    "Mar  7 10:00:00 m\tx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # a tab in the host
    "Mar  7 10:00:00  mx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # no host
    "Mar  7 10:00:00.250 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # a fraction
    "<22>Mar  7 10:00:00 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # a priority
    "Mar 37 10:00:00 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # no such day
    "Mar  7 10:61:00 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",  # no such minute
    "Mar  7 10:00:00 mx postfix/qmgr[12]:",  # no message
    "Mar  7 10:00:00 mx",  # no tag
    "Mar  7 10:00:00 mx sshd:session[3]: opened",  # a colon inside the tag
    "Mar  7 10:00:01 mx postfix/qmgr[12]: 4B2C1D9F3A: removed",
    "Mar  7 10:00:01 mx postfix/smtpd[13]: something Postfix never wrote",
    "Mar  7 10:00:01 mx CRON[7]: (root) CMD (true)",
]


def test_fast_split_reads_lines_as_the_frame_pattern_does(tmp_path: Path) -> None:
    from mailtrace.logs.framing import Framer
    from mailtrace.logs.postfix import parse_line

    log = tmp_path / "maillog"
    log.write_text("\n".join(_ODD_LINES * 2) + "\n")
    got = parse_file_tables(log, year=2026, tz="UTC")
    # The same lines through the frame pattern and the Postfix parser, one call each.
    framer = Framer("rfc3164", year=2026, tz=UTC)
    b = EventBuilder(str(log))
    for n, line in enumerate(_ODD_LINES * 2, 1):
        frame = framer.split(line)
        if frame is not None and frame[2].startswith("postfix"):
            parse_line(b, frame[0], frame[1], frame[2], frame[3], n, frame[4])
    assert got.events.equals(b.events_table())
    assert got.counts.events == len(b) == 18
    assert got.counts.events + got.counts.unparsed + got.counts.other == 2 * len(_ODD_LINES)


def test_a_parser_failing_half_way_through_an_event_leaves_no_half_row(tmp_path: Path) -> None:
    def bad_field(
        b: EventBuilder,
        ts: int | None,
        host: str | None,
        program: str,
        pid: int | None,
        line: int,
        message: str,
    ) -> bool:
        fields = {"text": message, "no_such_column": 1} if message == "bad" else {"text": message}
        b.add("info", ts, host, program, pid, line, None, fields)
        return True

    log = tmp_path / "maillog"
    log.write_text("".join(f"Mar  7 10:00:00 mx postfix/x[1]: {m}\n" for m in ("a", "bad", "c")))
    got = parse_file_tables(log, year=2026, tz="UTC", parsers={"postfix": bad_field})
    assert got.events.column("text").to_pylist() == ["a", "c"]
    assert got.unparsed.column("line").to_pylist() == [2]
    assert (got.counts.events, got.counts.unparsed) == (2, 1)
