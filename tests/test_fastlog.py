"""The compiled fast path gives exactly what the Python parser gives, line for line.

Every test here parses the same bytes twice, through the compiled path and through the pure
Python path (the compiled one switched off), and compares the whole result: EVENTS, UNPARSED and
the counts. The inputs are the project's sample logs, synthetic logs built from them, and lines
mutated at the characters the matchers care about.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailtrace.logs import batch, fast, reader
from mailtrace.logs import compiled as compiled_path
from mailtrace.logs.reader import LogTables, parse_file_tables, parse_range

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
LOGS = sorted(
    p
    for p in SAMPLE.rglob("*")
    if p.is_file() and p.suffix in ("", ".log", ".gz", ".json") and "messages" not in p.parts
)
POSTFIX = SAMPLE / "logs" / "postfix.log"
REPORT_DAY = SAMPLE / "logs" / "report_day.log"


@contextmanager
def python_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reader with the compiled path switched off."""
    with monkeypatch.context() as m:
        m.setattr(fast, "available", lambda: False)
        yield


def both(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    block_lines: int = reader.BLOCK_LINES,
    year: int = 2026,
    tz: str = "UTC",
) -> tuple[LogTables, LogTables]:
    def parse() -> LogTables:
        parts = reader.iter_file_tables(
            path, year=year, tz=tz, errors="skip", block_lines=block_lines
        )
        return reader.collect(parts)

    compiled = parse()
    with python_only(monkeypatch):
        python = parse()
    return compiled, python


def assert_same(a: LogTables, b: LogTables) -> None:
    if not a.events.equals(b.events):
        for name in a.events.column_names:
            x, y = a.events.column(name).to_pylist(), b.events.column(name).to_pylist()
            assert x == y, f"column {name} differs"
        assert a.events.schema == b.events.schema
    assert a.unparsed.equals(b.unparsed)
    ca, cb = a.counts, b.counts
    assert (ca.lines, ca.events, ca.unparsed, ca.other, ca.damaged) == (
        cb.lines,
        cb.events,
        cb.unparsed,
        cb.other,
        cb.damaged,
    )
    assert ca.other_programs == cb.other_programs
    assert ca.lines == ca.events + ca.unparsed + ca.other


def test_the_compiled_path_is_built() -> None:
    # make test builds it (gcc and the Python headers are on every machine we run on): a
    # missing module would silently cost ten times the speed, so it must fail loudly here.
    assert fast.available()


@pytest.mark.parametrize("path", LOGS, ids=lambda p: str(p.relative_to(SAMPLE)))
def test_every_sample_log_parses_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(*both(path, monkeypatch))


def _sample_fields() -> list[tuple[str, str, str, str, str]]:
    """The sample Postfix log's lines as (time, host, program, pid, message), to re-frame."""
    out = []
    for line in POSTFIX.read_text(encoding="utf-8").splitlines():
        host, _, rest = line[16:].partition(" ")
        tag, _, message = rest.partition(": ")
        program, _, pid = tag.partition("[")
        out.append((line[7:15], host, program, pid.rstrip("]"), message))
    return out


def _message_lines() -> list[str]:
    lines = []
    for path in (POSTFIX, REPORT_DAY, SAMPLE / "logs" / "hostA.log", SAMPLE / "logs" / "hostB.log"):
        lines += path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def _shuffled_log(tmp_path: Path, lines: int, seed: int) -> Path:
    """A log of ``lines`` lines drawn at random from the sample Postfix logs."""
    rng = random.Random(seed)
    pool = _message_lines()
    log = tmp_path / "maillog"
    log.write_text("\n".join(rng.choice(pool) for _ in range(lines)) + "\n", encoding="utf-8")
    return log


def test_a_large_shuffled_log_parses_the_same_in_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 3,000 lines: the compiled builder is emptied and refilled many times, and
    # batch boundaries fall between the lines it handed back to Python.
    log = _shuffled_log(tmp_path, 40_000, seed=7)
    compiled, python = both(log, monkeypatch, block_lines=3_000)
    assert compiled.counts.events > 30_000
    assert_same(compiled, python)


def test_an_input_of_lines_the_compiled_path_hands_back_moves_to_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sendmail in syslog: every line goes back to the Python parsers. After a few hundred the
    # rest of the input is read by the Python engine directly, with the same result.
    sendmail = (SAMPLE / "logs" / "sendmail.log").read_text(encoding="utf-8").splitlines()
    postfix = POSTFIX.read_text(encoding="utf-8").splitlines()
    log = tmp_path / "maillog"
    log.write_text("\n".join(postfix + sendmail * 60 + postfix) + "\n", encoding="utf-8")
    compiled, python = both(log, monkeypatch, block_lines=700)
    assert compiled.counts.events > 2_000
    assert_same(compiled, python)


def test_new_year_and_month_changes_inside_one_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = [line[16:] for line in POSTFIX.read_text(encoding="utf-8").splitlines() if line]
    stamps = ["Nov 30 23:59:58", "Dec  1 00:00:00", "Dec 31 23:59:59", "Jan  1 00:00:00",
              "Jan  1 01:30:00", "Dec 31 23:59:59", "Feb 29 10:00:00", "Feb 28 10:00:00",
              "Mar 31 02:30:00"]  # fmt: skip
    text = "".join(f"{stamps[i % len(stamps)]} {msg}\n" for i, msg in enumerate(body * 5))
    log = tmp_path / "maillog"
    log.write_text(text, encoding="utf-8")
    for zone in ("UTC", "Europe/Berlin", "America/New_York"):
        assert_same(*both(log, monkeypatch, year=2025, tz=zone))


def test_crlf_non_ascii_and_a_last_line_without_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = POSTFIX.read_bytes().splitlines()
    mixed = []
    for i, line in enumerate(lines):
        if i % 3 == 0:
            line += b"\r"
        if i % 7 == 0:
            line = line.replace(b"example", "exämple".encode())
        if i % 11 == 0:
            line = line.replace(b"example", b"ex\xffmple")  # invalid UTF-8: damaged
        if i % 13 == 0:
            line = line.replace(b" ", b"\t", 1)
        mixed.append(line)
    log = tmp_path / "maillog"
    log.write_bytes(b"\n".join(mixed))  # no newline after the last line
    compiled, python = both(log, monkeypatch)
    assert compiled.counts.damaged > 0
    assert_same(compiled, python)


def test_tables_are_taken_when_the_builder_holds_its_byte_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is 1 GiB (32-bit string offsets); at 4 KiB the builder must hand over its tables
    # every few lines, mid-block, and the result must not change.
    log = _shuffled_log(tmp_path, 3_000, seed=3)
    monkeypatch.setattr(compiled_path, "MAX_BYTES", 4096)
    parts = list(reader.iter_file_tables(log, year=2026, tz="UTC"))
    assert len(parts) > 50
    compiled = reader.collect(parts)
    with python_only(monkeypatch):
        python = parse_file_tables(log, year=2026, tz="UTC")
    assert_same(compiled, python)


def test_a_megabyte_postfix_line_is_linear_and_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "Mar  7 10:00:00 mx postfix/smtpd[7]: "
    hostile = [
        head + "NOQUEUE: reject: RCPT from h[192.0.2.1]: 554 5.7.1 " + "; x" * 300_000,
        head.replace("smtpd", "smtp") + "4B2C1D9F3A: to=<" + "a" * 1_000_000,
        head + "connect from " + "[" * 1_000_000,
        head.replace("smtpd", "qmgr") + "4B2C1D9F3A: from=<>, size=" + "9" * 1_000_000,
        head.replace("smtpd", "cleanup")
        + "4B2C1D9F3A: reject: header "
        + " from x[1.2.3.4]; from=<" * 50_000,
        head.replace("smtpd", "anvil") + "statistics: max " + "a " * 400_000,
        head.replace("smtpd", "postscreen") + "PREGREET 1 after " + "9" * 500_000,
        head.replace("smtpd[7]", "smtpd[" + "9" * 50 + "]") + "connect from h[192.0.2.1]",
    ]
    log = tmp_path / "maillog"
    log.write_text("\n".join(hostile) + "\n", encoding="utf-8")
    compiled, python = both(log, monkeypatch)
    assert compiled.counts.lines == 8
    assert_same(compiled, python)


# Lines mutated where the matchers decide: brackets, separators, digits, spaces, quotes.
_SPECIAL = [*"[]:;,<>()= .-/0123456789aZ", " from ", "; ", ", ", " said: ", ": "]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = _message_lines()
    line = draw(st.sampled_from(lines))
    head, message = line[:16], line[16:]
    for _ in range(draw(st.integers(1, 4))):
        if not message:
            break
        i = draw(st.integers(0, len(message)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "cut", "double"]))
        piece = draw(st.sampled_from(_SPECIAL))
        if op == "insert":
            message = message[:i] + piece + message[i:]
        elif op == "delete":
            message = message[:i] + message[i + draw(st.integers(1, 5)) :]
        elif op == "replace":
            message = message[:i] + piece + message[i + 1 :]
        elif op == "cut":
            message = message[:i]
        else:
            message = message[:i] + message[i:] + message[i:]
    return head + message


def _fuzz(examples: int) -> Any:
    """Hypothesis settings of the fuzz tests: reproducible, no deadline, tmp_path reused."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@_fuzz(250)
@given(lines=st.lists(mutated(), min_size=1, max_size=40))
def test_mutated_lines_parse_the_same(
    lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same(*both(log, monkeypatch))


_OFFSETS = ["", "Z", "+01:00", "-0500", "+05:45", "+24:00", "-00:00"]


@st.composite
def iso_line(draw: st.DrawFn) -> str:
    """A mutated line in rsyslog's RFC 3339 framing: fractions, offsets, impossible dates."""
    line = draw(mutated())
    year = draw(st.sampled_from([2025, 2026, 2028]))
    month, day, hour = draw(st.integers(1, 13)), draw(st.integers(0, 31)), draw(st.integers(0, 24))
    minute, second = draw(st.integers(0, 60)), draw(st.integers(0, 61))
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    fraction = draw(st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567890"]))
    return stamp + fraction + draw(st.sampled_from(_OFFSETS)) + line[15:]


def assert_framed_the_same(
    head: str, lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lines`` after ``head``, a first line in the framing under test (so that detection picks
    it whatever the mutations did), parse the same in both paths, in two zones."""
    log = tmp_path / "maillog"
    log.write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
    for zone in ("UTC", "Europe/Berlin"):
        assert_same(*both(log, monkeypatch, tz=zone))


@_fuzz(150)
@given(lines=st.lists(iso_line(), min_size=1, max_size=40))
def test_rfc3339_lines_parse_the_same(
    lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "2026-03-07T10:00:00.000000+00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed"
    assert_framed_the_same(head, lines, tmp_path, monkeypatch)


_STRUCTURED = [
    "-",
    '[exampleSDID@32473 iut="3" eventSource="Application"]',
    '[a x="]"][b y="q\\"uote"]',
    '[unterminated x="1"',
    "",
    "[]",
]


@st.composite
def rfc5424_line(draw: st.DrawFn) -> str:
    """A mutated line in RFC 5424 framing: every header field, nil values, structured data,
    records run together."""
    line = draw(mutated())
    host, _, rest = line[16:].partition(" ")
    tag, _, message = rest.partition(": ")
    program, _, pid = tag.partition("[")
    pri = draw(st.sampled_from(["<22>", "<0>", "<191>", "<1234>", "<>", "<22"]))
    version = draw(st.sampled_from(["1", "1", "2"]))
    stamp = draw(iso_line())[: draw(st.sampled_from([19, 26, 32]))].split(" ")[0]
    stamp = draw(st.sampled_from([stamp, stamp + "Z", "-"]))
    host = draw(st.sampled_from([host, host, "-"]))
    app = draw(st.sampled_from([program, program, "-"]))
    procid = draw(st.sampled_from([pid.rstrip("]"), "-", "12345678901", "12a", "0"]))
    msgid = draw(st.sampled_from(["-", "ID47"]))
    data = draw(st.sampled_from(_STRUCTURED))
    space = draw(st.sampled_from([" ", " ", "", "  "]))
    out = f"{pri}{version} {stamp} {host} {app} {procid or '-'} {msgid} {data}{space}{message}"
    if draw(st.integers(0, 9)) == 0:  # another record run into this one
        out += f"<30>1 2026-03-07T10:00:0{draw(st.integers(0, 9))}Z mx postfix/qmgr 7 - - x"
    return out


@_fuzz(150)
@given(lines=st.lists(rfc5424_line(), min_size=1, max_size=40))
def test_rfc5424_lines_parse_the_same(
    lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "<22>1 2026-03-07T10:00:00.000000+00:00 mx postfix/qmgr 7 - - 4B2C1D9F3A: removed"
    assert_framed_the_same(head, lines, tmp_path, monkeypatch)


def test_every_rfc5424_header_variant_parses_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itertools

    messages = [
        "4B2C1D9F3A: removed",
        "4B2C1D9F3A: from=<a@example.org>, size=1234, nrcpt=1 (queue active)",
        "connect from unknown[192.0.2.7]",
    ]
    heads = ["<22>1", "<0>1", "<191>1", "<1234>1", "<22>2", "<>1"]
    stamps = ["2026-03-07T10:00:00Z", "2026-03-07T10:00:00.5+01:00", "2026-03-07T10:00:00", "-"]
    hosts = ["mx", "-"]
    apps = ["postfix/qmgr", "postfix/smtpd", "-", "cron"]
    procids = ["7", "-", "12345678901", "0012", "1a"]
    tails = [f"- {data}{space}" for data in _STRUCTURED for space in ("", " ", "  ")]
    lines = [
        f"{head} {stamp} {host} {app} {procid} {tail}{message}"
        for head, stamp, host, app, procid, tail, message in itertools.product(
            heads[:1], stamps, hosts, apps, procids, tails, messages
        )
    ]
    lines += [f"{head} {stamps[0]} mx postfix/qmgr 7 - - {messages[0]}" for head in heads]
    lines.append(lines[0] + "<30>1 2026-03-07T10:00:01Z mx postfix/qmgr 7 - - 4B2C1D9F3A: removed")
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    compiled, python = both(log, monkeypatch, tz="Europe/Berlin")
    assert compiled.counts.lines == len(lines) + 1  # the last line holds two records
    assert_same(compiled, python)


def test_rfc5424_framing_is_read_by_the_compiled_path_as_rfc3164_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sample log re-framed: the compiled path hands back to Python exactly the messages it
    # hands back in RFC 3164 framing (the sample holds shapes it leaves to Python on purpose).
    lines = [
        f"<22>1 2026-03-07T{time}.000000Z {host} {program} {pid or '-'} - - {message}"
        for time, host, program, pid, message in _sample_fields()
    ]
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    handed_back: list[str] = []
    real = reader._Engine._feed_line

    def feed_line(self: reader._Engine, line: str, lineno: int) -> int:
        handed_back.append(line.split(" - - ", 1)[-1] if line.startswith("<") else line[16:])
        return real(self, line, lineno)

    monkeypatch.setattr(reader._Engine, "_feed_line", feed_line)
    compiled, python = both(log, monkeypatch)
    assert_same(compiled, python)
    framed_5424 = [m for m in handed_back if m]
    handed_back.clear()
    both(POSTFIX, monkeypatch)
    framed_3164 = [m.split(": ", 1)[1] for m in handed_back[: len(framed_5424)]]
    assert compiled.counts.events > 150 and len(framed_5424) < 40
    assert framed_5424 == framed_3164


@st.composite
def journal_line(draw: st.DrawFn) -> str:
    """A mutated line as `journalctl -o json` writes it: fields in any order, extra fields,
    escapes, nulls, numbers, byte arrays, missing and repeated fields, trailing text."""
    import json

    line = draw(mutated())
    host, _, rest = line[16:].partition(" ")
    tag, _, message = rest.partition(": ")
    program, _, pid = tag.partition("[")
    fields: list[tuple[str, object]] = [
        ("__REALTIME_TIMESTAMP", draw(st.sampled_from(["1772874000012345", "17728x", "", 5]))),
        ("_HOSTNAME", draw(st.sampled_from([host, "", None]))),
        ("SYSLOG_IDENTIFIER", draw(st.sampled_from([program, "", None]))),
        ("_COMM", draw(st.sampled_from(["postfix/smtpd", "smtpd", ""]))),
        ("SYSLOG_PID", draw(st.sampled_from([pid.rstrip("]"), "", "12345678901"]))),
        ("_PID", draw(st.sampled_from(["2101", "x", 7]))),
        ("MESSAGE", draw(st.sampled_from([message, message, list(message.encode()[:9]), None]))),
        ("_BOOT_ID", draw(st.sampled_from(['b1\\u00e9"/', "plain", 3.5, [1, 2], {"a": 1}]))),
    ]
    drop = draw(st.sets(st.integers(0, len(fields) - 1), max_size=2))
    fields = [f for i, f in enumerate(fields) if i not in drop]
    fields = draw(st.permutations(fields))
    parts = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in fields]
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(st.sampled_from(parts)))  # a field repeated: the last one counts
    space = draw(st.sampled_from(["", " "]))
    out = "{" + ("," + space).join(parts) + "}"
    return out + draw(st.sampled_from(["", "", " ", "x", "}"]))


@_fuzz(150)
@given(lines=st.lists(journal_line(), min_size=1, max_size=40))
def test_journal_json_lines_parse_the_same(
    lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = (
        '{"__REALTIME_TIMESTAMP":"1772874000012345","_HOSTNAME":"mx",'
        '"SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"7","MESSAGE":"4B2C1D9F3A: removed"}'
    )
    assert_framed_the_same(head, lines, tmp_path, monkeypatch)


def test_numbers_out_of_their_columns_range_are_unparsed_by_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pid past int32 and journald stamps past int64 or year 9999: the line is kept as
    # unparsed (or framed without a stamp), never a traceback, and alike in both paths.
    log = tmp_path / "maillog"
    log.write_text(
        "Mar  7 10:00:00 mx postfix/qmgr[9999999999]: 4B2C1D9F3A: removed\n"
        "Mar  7 10:00:00 mx sendmail[9999999999]: x: from=<a@example.org>, size=1\n"
        "Mar  7 10:00:00 mx postfix/qmgr[7]: 4B2C1D9F3A: removed\n",
        encoding="utf-8",
    )
    compiled, python = both(log, monkeypatch)
    assert_same(compiled, python)
    assert python.counts.unparsed == 2 and python.counts.events == 1
    assert "pid out of range" in python.unparsed.column("reason")[0].as_py()


def test_every_journal_json_variant_parses_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One field changed at a time from a record the compiled path reads, for three messages.
    base = [
        '"__REALTIME_TIMESTAMP":"1772874000012345"',
        '"_HOSTNAME":"mx"',
        '"SYSLOG_IDENTIFIER":"postfix/qmgr"',
        '"_PID":"7"',
        '"MESSAGE":"4B2C1D9F3A: removed"',
    ]
    changes: list[tuple[int | None, str]] = [
        (0, '"__REALTIME_TIMESTAMP":"17728x"'),
        (0, '"__REALTIME_TIMESTAMP":""'),
        (0, '"__REALTIME_TIMESTAMP":1772874000012345'),
        (0, '"__REALTIME_TIMESTAMP":null'),
        (0, '"__REALTIME_TIMESTAMP":"1772874000012345000000"'),
        (1, '"_HOSTNAME":""'),
        (1, '"_HOSTNAME":null'),
        (1, '"_HOSTNAME":"m\\u0078"'),
        (2, '"SYSLOG_IDENTIFIER":""'),
        (2, '"SYSLOG_IDENTIFIER":null'),
        (2, '"SYSLOG_IDENTIFIER":"postfix\\/qmgr"'),
        (2, '"SYSLOG_IDENTIFIER":"","_COMM":"postfix/qmgr"'),
        (2, '"_COMM":"postfix/qmgr"'),
        (3, '"_PID":""'),
        (3, '"_PID":"12345678901"'),
        (3, '"_PID":7'),
        (3, '"SYSLOG_PID":"","_PID":"8"'),
        (3, '"SYSLOG_PID":"9","_PID":"8"'),
        (4, '"MESSAGE":"4B2C1D9F3A: removed\\n"'),
        (4, '"MESSAGE":[52,66,50]'),
        (4, '"MESSAGE":null'),
        (4, '"MESSAGE":""'),
        (4, '"MESSAGE":"\\"4B2C1D9F3A: removed"'),
        (None, '"MESSAGE":"5C3D2E1F4B: removed"'),  # repeated: the last one counts
        (None, '"_HOSTNAME":"other"'),
        (None, '"X":"a\\u00e9\\"\\\\/b"'),
        (None, '"X":3.5'),
        (None, '"X":[1,{"y":"]"}]'),
        (None, '"X":{"MESSAGE":"q"}'),
        (None, '"X":"bad \\q escape"'),
        (None, '"m\\u0045SSAGE":"5C3D2E1F4B: removed"'),
    ]
    messages = [
        "4B2C1D9F3A: removed",
        "4B2C1D9F3A: from=<a@example.org>, size=1234, nrcpt=1 (queue active)",
        "NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 550 5.1.1 <b@example.org>: Recipient "
        'address rejected: \\"quoted\\"; from=<a@example.org> to=<b@example.org> proto=ESMTP '
        "helo=<x>",
    ]
    lines = []
    for message in messages:
        record = [*base[:4], f'"MESSAGE":"{message}"']
        for index, change in [*changes, (None, "")]:
            fields = [f for i, f in enumerate(record) if i != index]
            if change:
                fields.insert(index if index is not None else len(fields), change)
            line = "{" + ",".join(fields) + "}"
            lines += [line, line.replace(",", ", "), line + " ", line + "x", line + "}"]
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    compiled, python = both(log, monkeypatch)
    assert compiled.counts.events > 100
    assert_same(compiled, python)


def test_journal_json_is_read_by_the_compiled_path_as_rfc3164_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    lines = []
    for i, (_, host, program, pid, message) in enumerate(_sample_fields()):
        record = {
            "__CURSOR": f"s=1;i={i}",
            "__REALTIME_TIMESTAMP": str(1772874000000000 + i * 1_000_000),
            "_HOSTNAME": host,
            "SYSLOG_IDENTIFIER": program,
            "_PID": pid,
            "MESSAGE": message,
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    handed_back: list[str] = []
    real = reader._Engine._feed_line

    def feed_line(self: reader._Engine, line: str, lineno: int) -> int:
        handed_back.append(line)
        return real(self, line, lineno)

    monkeypatch.setattr(reader._Engine, "_feed_line", feed_line)
    compiled, python = both(log, monkeypatch)
    assert_same(compiled, python)
    assert compiled.counts.events > 150
    # Handed back: the shapes RFC 3164 framing hands back too, and messages json.dumps escaped.
    escaped = sum("\\" in line for line in lines)
    assert len(handed_back) <= 31 + escaped


def test_threaded_batch_writes_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    log = _shuffled_log(tmp_path, 30_000, seed=11)
    monkeypatch.setattr(batch, "MIN_RANGE_BYTES", 64 << 10)  # many ranges of this small file
    threaded = batch.run([log], tmp_path / "threads", year=2026, tz="UTC", jobs=2, split_bytes=1)
    with python_only(monkeypatch):
        single = batch.run([log], tmp_path / "one", year=2026, tz="UTC", jobs=1)
    assert threaded.counts.lines == single.counts.lines == 30_000
    joined = tmp_path / "threads" / "maillog.parquet"
    # The ranges were encoded by the threads and joined: one row group each.
    assert pq.ParquetFile(joined).metadata.num_row_groups > 1
    a = pq.read_table(joined)
    b = pq.read_table(tmp_path / "one" / "maillog.parquet")
    assert a.equals(b)
    assert threaded.kinds == single.kinds


def test_kept_columns_are_the_same_when_the_others_are_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report keeps 21 of EVENTS' columns: the threads then build only those (the compiled
    parser stores no value of the others). The columns kept equal the whole parse's, also where
    a column left out held a number the compiled path would have handed to Python."""
    import pyarrow as pa

    from mailtrace.report import COLUMNS

    log = _shuffled_log(tmp_path, 30_000, seed=5)
    with log.open("a", encoding="utf-8") as f:  # delays_c (not kept) is not a number here
        f.write(
            "Mar 10 10:00:00 mx postfix/smtp[7]: 4B2C1D9F3A: to=<a@example.com>, "
            "relay=b.example[192.0.2.1]:25, delay=1.5, delays=0.1/0.2/x/0.4, dsn=2.0.0, "
            "status=sent (250 ok)\n"
        )
    monkeypatch.setattr(batch, "MIN_RANGE_BYTES", 64 << 10)
    kept = batch.run([log], year=2026, tz="UTC", jobs=2, split_bytes=1, columns=COLUMNS)
    whole = parse_file_tables(log, year=2026, tz="UTC")
    got = pa.concat_tables(kept.tables)
    assert tuple(got.column_names) == COLUMNS
    assert got.equals(whole.events.select(list(COLUMNS)))
    assert kept.counts.events == whole.counts.events and kept.kinds["delivery"] > 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=24), st.sampled_from(["", "a", "é" * 9])), max_size=80
    ),
    st.integers(0, 10),
    st.integers(0, 80),
)
def test_count_strings_counts_as_value_counts_does(
    values: list[str | None], start: int, length: int
) -> None:
    """The summary's counts of kinds and programs: the compiled counter against pyarrow's, on
    names of every length around its 8- and 16-byte comparisons, nulls, and sliced arrays."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values, pa.string()).slice(start, length)
    expected = {item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()}
    assert fast.count_strings(array) == expected


def test_count_strings_gives_up_on_thousands_of_distinct_names() -> None:
    """Past 4,096 distinct values the caller's fallback counts (None), not a wrong dict."""
    import pyarrow as pa

    many = pa.array([f"program{i}" for i in range(5000)])
    assert fast.count_strings(many) is None
    assert fast.count_strings(many.slice(0, 4096)) == {f"program{i}": 1 for i in range(4096)}
    summary = batch.Summary()
    summary.add_events(pa.table({"kind": many, "program": many}))
    assert summary.kinds[f"program{4999}"] == 1 and len(summary.programs) == 5000


def _scan_bytes(data: bytes, block_size: int) -> list[Any]:
    """_fastlog.scan_plain over a file holding ``data``."""
    import os
    import tempfile

    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        fd = os.open(f.name, os.O_RDONLY)
        try:
            return list(fast._fastlog.scan_plain(fd, block_size, 1 << 30, 0))
        finally:
            os.close(fd)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=9000), st.integers(1, 3))
def test_scan_plain_counts_lines_as_bytes_count_does(data: bytes, times: int) -> None:
    """The planner's line count: 64-byte vector steps, the 255-step counter flush and the tail,
    against bytes.count, on any bytes (newline-dense ones too)."""
    if not fast.available():
        pytest.skip("the compiled module is not built")
    dense = data.replace(b"a", b"\n") * times
    for body in (data, dense, b"\n" * 70_000):  # the last: past 255 steps, every lane full
        blocks = _scan_bytes(body + b"\nx", block_size=1 << 20)
        assert blocks[-1][:3] == (len(body) + 1, body.count(b"\n") + 1, 1)


# Files for the planner's scans: lines of assorted lengths (stamped when long enough), blank
# lines, and an unfinished last line.
_LINES = st.lists(
    st.tuples(st.sampled_from([0, 1, 2, 7, 40, 300]), st.sampled_from([b"\n", b"", b"\n\n"])),
    max_size=40,
)


def _write_lines(log: Path, pieces: list[tuple[int, bytes]]) -> None:
    log.write_bytes(
        b"".join(b"Mar  7 10:00:00 mx a: x"[:n] + b"y" * max(0, n - 23) + end for n, end in pieces)
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_LINES, st.sampled_from([1, 2, 3, 16, 64, 1000]), st.sampled_from([0, 1, 30, 1 << 20]))
def test_scan_plain_cuts_the_blocks_iter_plain_blocks_cuts(
    tmp_path: Path, pieces: list[tuple[int, bytes]], block_size: int, max_line: int
) -> None:
    """The planner's one-call scan: the same blocks (overlong lines cut where they stand, the
    unfinished last line last), the lines before each, and the first bytes of each block and
    of its last line, as the Python reader and the year scan see them."""
    import os

    from mailtrace.logs.plan import _fastlog as compiled
    from mailtrace.sources import iter_plain_blocks

    if compiled is None:
        pytest.skip("the compiled module is not built")
    log = tmp_path / "maillog"
    _write_lines(log, pieces)
    want, offset, lines = [], 0, 0
    for buf, n in iter_plain_blocks(log, block_size=block_size, max_line=max_line):
        block = bytes(buf[:n])
        last = block.rfind(b"\n", 0, n - 1) + 1
        want.append((offset, lines, n, block[:32], block[last:][:32]))
        offset, lines = offset + n, lines + block.count(b"\n")
    fd = os.open(log, os.O_RDONLY)
    try:
        got = compiled.scan_plain(fd, block_size, max_line, 32)
    finally:
        os.close(fd)
    assert [tuple(b) for b in got] == want


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_LINES, st.sampled_from([1, 2, 3, 16, 64, 1000]), st.sampled_from([1, 5, 64, 4096]))
def test_edge_blocks_are_the_scanned_blocks_read_at_their_edges(
    tmp_path: Path, pieces: list[tuple[int, bytes]], block_size: int, window: int
) -> None:
    """The planner of a run that shows no line numbers reads only around the blocks' edges: it
    gives scan_plain's blocks, heads and tails with no lines counted, or None when a line near
    an edge is longer than what it reads there (the planner then scans the whole file)."""
    import os

    from mailtrace.logs.plan import _fastlog as compiled
    from mailtrace.sources import MAX_LINE

    if compiled is None:
        pytest.skip("the compiled module is not built")
    log = tmp_path / "maillog"
    _write_lines(log, pieces)
    fd = os.open(log, os.O_RDONLY)
    try:
        scanned = compiled.scan_plain(fd, block_size, MAX_LINE, 32)
        edges = compiled.edge_blocks(fd, block_size, window, 32)
    finally:
        os.close(fd)
    longest = max((len(line) + 1 for line in log.read_bytes().split(b"\n")), default=0)
    if edges is None:
        assert longest > window  # only a line longer than the window sends it to a full scan
    else:
        assert [(o, 0, n, h, t) for o, _, n, h, t in scanned] == [tuple(b) for b in edges]


def test_the_source_column_is_cut_into_pieces_past_int32_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The constant ``source`` column of a take: one array, or pieces when the name repeated
    on every row would pass a string array's 2 GiB (a long path on tens of millions of rows;
    here the limit is lowered to 100 bytes)."""
    if not fast.available():
        pytest.skip("the compiled module is not built")
    whole = fast._constant("/var/log/maillog", 20)
    assert whole.to_pylist() == ["/var/log/maillog"] * 20 and len(whole.buffers()[2]) == 320
    monkeypatch.setattr(fast, "_MAX_OFFSET", 100)
    pieces = fast._constant("/var/log/maillog", 20)  # 16 bytes: 6 rows a piece
    assert [len(c) for c in pieces.chunks] == [6, 6, 6, 2]
    assert pieces.to_pylist() == whole.to_pylist()
    assert fast._constant("", 5).to_pylist() == [""] * 5
    with pytest.raises(OverflowError):
        fast._fastlog.constant_offsets(1 << 30, 4)


def test_a_reader_of_some_kinds_leaves_out_the_others_without_a_queue_id(tmp_path: Path) -> None:
    """Parser(keep=kinds): a row without a queue id is built only if its kind is kept, whether
    the compiled path or a Python parser made it; rows with a queue id always are. The rows
    left out are counted as events all the same, and so are smtpd's sessions, kept apart."""
    if not fast.available():
        pytest.skip("the compiled parser is not built")
    from mailtrace.logs.plan import plan_file

    log = tmp_path / "maillog"
    log.write_text(
        "Mar  7 10:00:00 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]\n"
        "Mar  7 10:00:01 mx postfix/postscreen[2]: CONNECT from [192.0.2.2]:5000 to "
        "[192.0.2.9]:25\n"
        "Mar  7 10:00:02 mx postfix/smtpd[1]: 4B2C1D9F3A: client=a.example[192.0.2.1]\n"
        "Mar  7 10:00:03 mx postfix/smtpd[1]: Anonymous TLS connection established from "
        "a.example[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
        "Mar  7 10:00:04 mx postfix/postfix-script[3]: starting the Postfix mail system\n"
        "Mar  7 10:00:05 mx postfix/qmgr[4]: 4B2C1D9F3A: removed\n"
    )
    plan = plan_file(log, year=2026, tz="UTC")
    every = parse_range(plan, 0, columns=("kind", "queue_id"))
    kept = parse_range(plan, 0, columns=("kind", "queue_id"), kinds=("connect", "removed"))
    assert every.events.column("kind").to_pylist() == [
        "connect",
        "postscreen",
        "client",
        "tls",
        "info",
        "removed",
    ]
    # client has a queue id: kept though its kind is not asked for; postfix-script's line is
    # the Python parsers' (info), left out like the compiled path's postscreen and tls.
    # smtpd's connect is kept in the sessions table, apart.
    assert kept.events.column("kind").to_pylist() == ["client", "removed"]
    assert kept.sessions is not None and kept.sessions.column("kind").to_pylist() == ["connect"]
    assert every.sessions is None
    assert kept.counts == every.counts and kept.counts.events == 6


def test_kinds_kept_by_name_whatever_their_length_and_number() -> None:
    """A kept kind is matched by its whole name, long or short; a reader naming more kinds
    than the parser can hold keeps every row."""
    if not fast.available():
        pytest.skip("the compiled parser is not built")
    from mailtrace.logs.compiled import MODULE

    long_kind = "a_kind_with_a_name_longer_than_32_bytes"
    kinds = ("connect", long_kind, "x")
    rows = [("connect", None), (long_kind, None), (long_kind + "s", None), ("connex", None)]
    rows += [("tls", "4B2C1D9F3A"), ("y", None)]

    def kept(keep: tuple[str, ...] | None) -> tuple[int, int]:
        parser = MODULE.Parser(keep=keep)
        for n, (kind, qid) in enumerate(rows, 1):
            parser.add_row(kind, 0, "mx", "postfix/smtpd", 1, n, qid, (), ())
        return parser.rows, parser.dropped

    assert kept(kinds) == (3, 3)  # connect, the long kind, and the row with a queue id
    assert kept(None) == (6, 0)
    assert kept(tuple(f"kind{i}" for i in range(100))) == (6, 0)


def test_smtpd_sessions_are_parsed_apart_in_line_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a kinds filter (the report's parse) smtpd's connects and disconnects go to a narrow
    table of their own: the whole parse's rows of them, in line order, those the compiled path
    hands back to Python included; the other events' table is the whole parse's without them,
    and the counts still add up. 40,000 session lines: the table grows past its first sizes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mailtrace.event_columns import REPORT_KINDS
    from mailtrace.report import COLUMNS

    lines = []
    for i in range(20_000):
        stamp = f"Mar 10 1{i // 3600 % 10}:{i // 60 % 60:02d}:{i % 60:02d} mx"
        client = f"c{i}.example[192.0.2.{i % 250}]"
        prog = "postfix/submission/smtpd" if i % 7 == 0 else "postfix/smtpd"
        lines.append(f"{stamp} {prog}[{100 + i % 50}]: connect from {client}")
        if i % 1000 == 0:  # not ASCII: the Python parser's row, through add_row
            lines.append(f"{stamp} postfix/smtpd[9]: connect from hé{i}.example[192.0.2.1]")
        if i % 500 == 0:  # a queue file's event between them
            lines.append(f"{stamp} postfix/qmgr[5]: 4B2C1D9F{i % 90 + 10}: removed")
        lines.append(f"{stamp} {prog}[{100 + i % 50}]: disconnect from {client} quit=1 commands=1")
    log = tmp_path / "maillog"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = batch.run(
        [log], year=2026, tz="UTC", jobs=2, split_bytes=1, columns=COLUMNS, kinds=REPORT_KINDS
    )
    events = pa.concat_tables([t for t in run.tables if not isinstance(t, batch.Sessions)])
    sessions = pa.concat_tables([t.table for t in run.tables if isinstance(t, batch.Sessions)])
    whole = parse_file_tables(log, year=2026, tz="UTC").events
    apart = pc.and_(
        pc.is_in(whole.column("kind"), pa.array(["connect", "disconnect"])),
        pc.match_substring(whole.column("program"), "smtpd"),
    )
    assert sessions.num_rows == pc.sum(apart).as_py() == 40_000 + 20
    assert tuple(sessions.column_names) == tuple(fast.SESSIONS.names)
    assert sessions.equals(whole.filter(apart).select(sessions.column_names))
    assert events.equals(whole.filter(pc.invert(apart)).select(list(COLUMNS)))
    assert run.counts.events == whole.num_rows


def test_memory_freed_by_one_parse_and_reused_by_the_next_holds_nothing_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled parser keeps freed buffers for the next ranges, without zeroing them: a log
    of other lines parsed after a big one freed its tables gets exactly its own rows (every
    null, bitmap and offset rewritten), as the Python parser reads it."""
    import gc

    first = _shuffled_log(tmp_path, 60_000, seed=3)
    tables = reader.parse_file_tables(first, year=2026, tz="UTC")
    assert tables.counts.events > 40_000
    del tables
    gc.collect()
    second = tmp_path / "second"
    lines = [line for line in _message_lines() if "status=" not in line and "from=<" not in line]
    rng = random.Random(11)
    second.write_text("\n".join(rng.choice(lines) for _ in range(30_000)) + "\n", "utf-8")
    compiled, python = both(second, monkeypatch)
    assert compiled.counts.events > 20_000
    assert_same(compiled, python)
