"""Framing: every syslog/journald/container/Exim wrapping unwraps to the same frames and times."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.errors import UsageError
from mailtrace.logs.framing import (
    Framer,
    IsoClock,
    SyslogClock,
    YearScan,
    detect_framing,
    parse_tz,
    scan_years,
)

FRAMINGS = Path(__file__).resolve().parent.parent / "sample_data" / "logs" / "framings"
PLUS1 = timezone(timedelta(hours=1))

EXPECTED = {
    "postfix-rfc3164.log": "rfc3164",
    "postfix-rfc3339.log": "rfc3339",
    "postfix-rfc5424.log": "rfc5424",
    "postfix-journal-short-iso.log": "rfc3339",
    "postfix-journal.json": "journal-json",
    "postfix-container.json": "container-json",
}


def _us(*args: int, tz: timezone = UTC) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp()) * 1_000_000  # type: ignore[misc]


def _frames(name: str) -> list[tuple[int | None, str | None, str, int | None, str]]:
    lines = (FRAMINGS / name).read_text(encoding="utf-8").splitlines()
    framing = detect_framing(lines)
    assert framing == EXPECTED[name]
    framer = Framer(framing, year=2026, tz=PLUS1)
    frames = [framer.split(line) for line in lines]
    assert all(f is not None for f in frames)
    return frames  # type: ignore[return-value]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_framing_of_the_sample_gives_the_same_frames(name: str) -> None:
    reference = _frames("postfix-rfc3339.log")
    frames = _frames(name)
    assert [f[1:] for f in frames] == [f[1:] for f in reference]
    whole_seconds = name in ("postfix-rfc3164.log", "postfix-journal-short-iso.log")
    for got, want in zip(frames, reference, strict=True):
        assert got[0] is not None and want[0] is not None
        if whole_seconds:
            assert got[0] == want[0] // 1_000_000 * 1_000_000
        else:
            assert got[0] == want[0]
    assert reference[0][0] == _us(2026, 3, 7, 9, 0, 0) + 12345


def test_rfc3164_tag_forms() -> None:
    f = Framer("rfc3164", year=2026, tz=UTC)
    # rsyslog writes no colon after the tag when the message arrived as RFC 5424
    assert f.split("Nov 28 09:16:35 vm postfix/cleanup[17385] 6E81: message-id=<a@b>") == (
        _us(2026, 11, 28, 9, 16, 35),
        "vm",
        "postfix/cleanup",
        17385,
        "6E81: message-id=<a@b>",
    )
    assert f.split("Nov 28 09:16:35 vm dovecot: imap-login: Login")[2:] == (
        "dovecot",
        None,
        "imap-login: Login",
    )
    assert f.split("<22>Nov 28 09:16:35 vm postfix/smtpd[1]: x")[2] == "postfix/smtpd"
    precise = f.split("Nov 28 09:13:59.012345 mx postfix/cleanup[17385]: x")
    assert precise is not None and precise[0] == _us(2026, 11, 28, 9, 13, 59) + 12345


def test_rfc5424_structured_data_nil_values_and_bom() -> None:
    f = Framer("rfc5424")
    line = (
        '<22>1 2026-11-28T09:16:35.5+00:00 vm postfix/qmgr 17354 - [a k="x ] \\" y"][b] \ufeffmsg'
    )
    assert f.split(line) == (
        _us(2026, 11, 28, 9, 16, 35) + 500000,
        "vm",
        "postfix/qmgr",
        17354,
        "msg",
    )
    assert f.split("<13>1 - - - - - - hello") == (None, None, "", None, "hello")
    assert f.split("<22>1 2026-11-28T09:16:35Z vm postfix 17435 - -  6E81: x")[4] == "6E81: x"


def test_journal_json_fields_and_byte_array_message() -> None:
    f = Framer("journal-json")
    line = (
        '{"__REALTIME_TIMESTAMP":"1795857239012345","_HOSTNAME":"mx","SYSLOG_IDENTIFIER":'
        '"postfix/cleanup","_PID":"17385","MESSAGE":[52,65,58,32,255]}'
    )
    assert f.split(line) == (1795857239012345, "mx", "postfix/cleanup", 17385, "4A: \ufffd")


def test_container_json_bare_message_with_a_syslog_tag() -> None:
    f = Framer("container-json")
    line = (
        '{"@timestamp":"2026-11-28T09:16:35.792560+00:00", "host":"vm", '
        '"syslogtag":"postfix\\/cleanup[17385]", "message":" 6E81: removed"}'
    )
    assert f.split(line) == (
        _us(2026, 11, 28, 9, 16, 35) + 792560,
        "vm",
        "postfix/cleanup",
        17385,
        "6E81: removed",
    )
    docker = '{"log":"2026-03-07T10:00:00+01:00 mx postfix/qmgr[7]: 4AbC: removed\\n","time":1}'
    assert f.split(docker) == (_us(2026, 3, 7, 9), "mx", "postfix/qmgr", 7, "4AbC: removed")


def test_exim_mainlog_framing_with_zone_and_pid() -> None:
    f = Framer("exim", tz=UTC)
    assert f.split("2026-03-07 10:00:00.250 +0100 [4242] 1wXyZa-000Abc-4Q Completed") == (
        _us(2026, 3, 7, 9) + 250000,
        None,
        "exim",
        4242,
        "1wXyZa-000Abc-4Q Completed",
    )
    assert detect_framing(["2026-03-07 10:00:00 1wXyZa-000Abc-4Q <= a@example.org"]) == "exim"


def test_a_line_of_another_framing_is_still_framed() -> None:
    f = Framer("rfc3164", year=2026, tz=UTC)
    frame = f.split("2026-03-07T10:00:00Z mx postfix/qmgr[7]: x")
    assert frame is not None and frame[0] == _us(2026, 3, 7, 10)
    assert f.split("just some words") is None
    assert f.split("") is None


def test_new_year_rollover_and_late_stragglers() -> None:
    clock = SyslogClock(2025, UTC)
    stamps = ["Dec 31 23:59:58", "Jan  1 00:00:01", "Dec 31 23:59:59", "Jan  1 00:00:02"]
    years = [datetime.fromtimestamp(clock.stamp(s) / 1e6, UTC).year for s in stamps]  # type: ignore[operator]
    assert years == [2025, 2026, 2025, 2026]
    # months going back a little (out-of-order lines) are not a New Year
    clock = SyslogClock(2026, UTC)
    assert [clock.stamp(s) for s in ("Apr  1 00:00:01", "Mar 31 23:59:59")] == [
        _us(2026, 4, 1, 0, 0, 1),
        _us(2026, 3, 31, 23, 59, 59),
    ]


def test_impossible_dates_and_unknown_year_give_no_timestamp() -> None:
    assert SyslogClock(2025, UTC).stamp("Feb 29 10:00:00") is None
    assert SyslogClock(2024, UTC).stamp("Feb 29 10:00:00") == _us(2024, 2, 29, 10)
    assert SyslogClock(None, UTC).stamp("Mar  7 10:00:00") is None
    assert IsoClock(UTC).stamp("2026-13-01T00:00:00Z") is None


def test_iso_offsets_and_fractions() -> None:
    c = IsoClock(None)
    base = _us(2026, 11, 28, 9, 13, 59)
    assert c.stamp("2026-11-28T09:13:59+0000") == base
    assert c.stamp("2026-11-28T10:13:59.5+01:00") == base + 500000
    assert c.stamp("2026-11-28T04:13:59.123456789-05:00") == base + 123456
    assert c.stamp("2026-11-28T09:13:59Z") == base


def test_year_comes_from_mtime_and_counts_new_years() -> None:
    scan = scan_years(
        [b"Dec 30 10:00:00 mx a: x\n", b"Dec 31 23:59:59 mx a: x\nJan  2 10:00:00 mx a: y\n"]
    )
    assert scan.rollovers == 1 and scan.last_stamp == "Jan  2 10:00:00"
    assert scan.start_year(datetime(2026, 1, 3, tzinfo=UTC).timestamp(), UTC) == 2025
    # the last line is later in the year than the mtime: it belongs to the year before
    late = scan_years([b"Nov 20 10:00:00 mx a: x\n"])
    assert late.start_year(datetime(2026, 3, 1, tzinfo=UTC).timestamp(), UTC) == 2025
    assert late.start_year(datetime(2026, 11, 21, tzinfo=UTC).timestamp(), UTC) == 2026
    # Feb 29 of the last line picks the latest leap year
    leap = scan_years([b"Feb 29 10:00:00 mx a: x\n"])
    assert leap.start_year(datetime(2026, 3, 1, tzinfo=UTC).timestamp(), UTC) == 2024


def test_year_scan_checkpoints_follow_blocks() -> None:
    scan = YearScan()
    for block in (
        b"Nov 30 10:00:00 mx a: x\n",
        b"Dec 31 10:00:00 mx a: x\n",
        b"Jan  1 10:00:00 mx a: x\n",
    ):
        scan.feed(block)
    assert scan.checkpoints == [(0, 0), (0, 11), (0, 12)]
    assert scan.rollovers == 1


def test_local_zone_is_the_default_and_tz_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        local = Framer("rfc3164", year=2026).split("Mar  7 10:00:00 mx a[1]: x")
        forced = Framer("rfc3164", year=2026, tz=parse_tz("UTC")).split(
            "Mar  7 10:00:00 mx a[1]: x"
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert local is not None and forced is not None
    assert local[0] == _us(2026, 3, 7, 15)  # 10:00 EST is 15:00 UTC
    assert forced[0] == _us(2026, 3, 7, 10)


def test_parse_tz_forms() -> None:
    assert parse_tz("-0500") == timezone(timedelta(hours=-5))
    assert parse_tz("Z") is UTC
    assert parse_tz("Europe/Paris") is not None
    with pytest.raises(UsageError):
        parse_tz("+99:99x")
    with pytest.raises(UsageError):
        Framer("klingon")


HOSTILE = [
    "Mar  7 10:00:00 " + "a" * 1_000_000,
    "Mar  7 10:00:00 mx " + "[" * 1_000_000,
    "Mar  7 10:00:00 mx tag[" + "1" * 1_000_000,
    "<22>1 2026-11-28T09:16:35Z h a 1 - [" + '"\\' * 500_000,
    "<22>1 " + "x " * 500_000,
    "2026-03-07T10:00:00" + "." * 1_000_000,
    "2026-03-07 10:00:00 [" + "9" * 1_000_000,
    "{" + '"a":' * 250_000,
    " " * 1_000_000,
]


@pytest.mark.parametrize("framing", ["rfc3164", "rfc3339", "rfc5424", "exim", "container-json"])
def test_hostile_megabyte_lines_are_framed_in_linear_time(framing: str) -> None:
    f = Framer(framing, year=2026, tz=UTC)
    start = time.perf_counter()
    for line in HOSTILE:
        f.split(line)
    detect_framing(HOSTILE)
    assert time.perf_counter() - start < 5


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["rfc3164", "rfc3339", "rfc5424", "journal-json", "container-json", "exim"]),
    st.one_of(
        st.text(max_size=120),
        st.builds(lambda s: "Dec 31 23:59:59 mx " + s, st.text(max_size=60)),
        st.builds(lambda s: "<22>1 2026-03-07T10:00:00Z mx a 1 - " + s, st.text(max_size=60)),
        st.builds(lambda s: '{"log": ' + s, st.text(max_size=60)),
    ),
)
def test_framing_never_raises_and_frames_have_the_right_shape(framing: str, line: str) -> None:
    frame = Framer(framing, year=2026, tz=UTC).split(line)
    if frame is not None:
        ts, host, program, pid, message = frame
        assert ts is None or isinstance(ts, int)
        assert host is None or isinstance(host, str)
        assert isinstance(program, str) and isinstance(message, str)
        assert pid is None or isinstance(pid, int)
