"""parse_date: every date form a mail header carries, table-driven, plus hostile text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.headers import ParsedDate, parse_date
from mailtrace.headers.dates import strip_comments

CASES = [
    # RFC 5322 §3.3
    ("Tue, 3 Mar 2026 10:00:00 +0100", (2026, 3, 3, 9, 0, 0), "+0100"),
    ("Tue, 03 Mar 2026 10:00:00 -0500", (2026, 3, 3, 15, 0, 0), "-0500"),
    ("3 Mar 2026 10:00:00 +0000", (2026, 3, 3, 10, 0, 0), "+0000"),
    ("Tue, 3 Mar 2026 10:00 +0000", (2026, 3, 3, 10, 0, 0), "+0000"),
    ("Tue, 3 Mar 2026 10:00:00 -0000", (2026, 3, 3, 10, 0, 0), "-0000"),
    ("Tue, 3 Mar 2026 10:00:00 +0100 (CET)", (2026, 3, 3, 9, 0, 0), "+0100"),
    ("Tue, 3 Mar 2026 10:00:00 +0100 (Central (European) Time)", (2026, 3, 3, 9, 0, 0), "+0100"),
    ("Tue,\r\n 3 Mar 2026\r\n\t10:00:00 +0100", (2026, 3, 3, 9, 0, 0), "+0100"),
    ("Tuesday, 3 March 2026 10:00:00 +0100", (2026, 3, 3, 9, 0, 0), "+0100"),
    ("Mon, 30 Nov 2026 23:30:00 -0800", (2026, 12, 1, 7, 30, 0), "-0800"),
    # obsolete forms (RFC 5322 §4.3): named zones, two-digit years
    ("Tue, 3 Mar 2026 10:00:00 GMT", (2026, 3, 3, 10, 0, 0), "GMT"),
    ("Tue, 3 Mar 2026 10:00:00 UT", (2026, 3, 3, 10, 0, 0), "UT"),
    ("Tue, 3 Mar 2026 10:00:00 UTC", (2026, 3, 3, 10, 0, 0), "UTC"),
    ("Tue, 3 Mar 2026 10:00:00 Z", (2026, 3, 3, 10, 0, 0), "Z"),
    ("Tue, 3 Mar 2026 10:00:00 EST", (2026, 3, 3, 15, 0, 0), "EST"),
    ("Fri, 3 Jul 2026 10:00:00 EDT", (2026, 7, 3, 14, 0, 0), "EDT"),
    ("Tue, 3 Mar 2026 10:00:00 CST", (2026, 3, 3, 16, 0, 0), "CST"),
    ("Fri, 3 Jul 2026 10:00:00 CDT", (2026, 7, 3, 15, 0, 0), "CDT"),
    ("Tue, 3 Mar 2026 10:00:00 MST", (2026, 3, 3, 17, 0, 0), "MST"),
    ("Fri, 3 Jul 2026 10:00:00 MDT", (2026, 7, 3, 16, 0, 0), "MDT"),
    ("Tue, 3 Mar 2026 10:00:00 PST", (2026, 3, 3, 18, 0, 0), "PST"),
    ("Fri, 3 Jul 2026 10:00:00 PDT", (2026, 7, 3, 17, 0, 0), "PDT"),
    ("Tue, 3 Mar 2026 10:00:00 CET", (2026, 3, 3, 9, 0, 0), "CET"),
    ("Fri, 3 Jul 2026 10:00:00 CEST", (2026, 7, 3, 8, 0, 0), "CEST"),
    ("Tue, 3 Mar 2026 10:00:00 JST", (2026, 3, 3, 1, 0, 0), "JST"),
    ("Tue, 3 Mar 2026 10:00:00 AEST", (2026, 3, 3, 0, 0, 0), "AEST"),
    ("Tue, 3 Mar 2026 10:00:00 GMT+0100", (2026, 3, 3, 9, 0, 0), "GMT+0100"),
    ("Tue, 3 Mar 2026 10:00:00 -0800 PST", (2026, 3, 3, 18, 0, 0), "-0800"),
    ("Tue, 3 Mar 26 10:00:00 +0000", (2026, 3, 3, 10, 0, 0), "+0000"),
    ("Wed, 3 Mar 99 10:00:00 +0000", (1999, 3, 3, 10, 0, 0), "+0000"),
    ("Wed, 3 Mar 049 10:00:00 +0000", (1949, 3, 3, 10, 0, 0), "+0000"),
    ("3 Mar 2026 10:00:00 +01:00", (2026, 3, 3, 9, 0, 0), "+01:00"),
    # asctime and Unix date(1)
    ("Tue Mar  3 10:00:00 2026", (2026, 3, 3, 10, 0, 0), None),
    ("Tue Mar 3 10:00:00 2026 -0800", (2026, 3, 3, 18, 0, 0), "-0800"),
    ("Tue Mar 3 10:00:00 EST 2026", (2026, 3, 3, 15, 0, 0), "EST"),
    # ISO 8601 and Go
    ("2026-03-03T10:00:00Z", (2026, 3, 3, 10, 0, 0), "Z"),
    ("2026-03-03T10:00:00+01:00", (2026, 3, 3, 9, 0, 0), "+01:00"),
    ("2026-03-03 10:00:00 +0000 UTC m=+0.500000001", (2026, 3, 3, 10, 0, 0), "+0000"),
    ("2026-03-03 10:00:00 UTC", (2026, 3, 3, 10, 0, 0), "UTC"),
]


@pytest.mark.parametrize(("text", "expected", "offset"), CASES)
def test_date_forms(text: str, expected: tuple[int, ...], offset: str | None) -> None:
    d = parse_date(text)
    assert d.utc == datetime(*expected, tzinfo=UTC)
    assert d.offset == offset


def test_fractional_seconds_are_kept() -> None:
    assert parse_date("Tue, 3 Mar 2026 10:00:00.123 +0000").utc == datetime(
        2026, 3, 3, 10, 0, 0, 123000, tzinfo=UTC
    )
    assert parse_date("2026-03-03 10:00:00.123456789 +0000 UTC").utc == datetime(
        2026, 3, 3, 10, 0, 0, 123456, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Tue, 3 Mar 2026 10:00:00", "no time zone; assumed UTC"),
        ("Wed, 3 Mar 2026 10:00:00 +0000", "day of week says Wed but the date is a Tue"),
        ("Tue, 3 Mar 26 10:00:00 +0000", "2-digit year 26"),
        ("Tue, 3 Mar 2026 10:00:00 IST", "ambiguous zone name IST read as UTC+5.5"),
        ("Tue, 3 Mar 2026 10:00:00 +0000 m00se", "ignored 'm00se'"),
        ("Sat, 31 Dec 2016 23:59:60 +0000", "leap second read as :59"),
    ],
)
def test_oddities_are_reported_not_fatal(text: str, problem: str) -> None:
    d = parse_date(text)
    assert d.utc is not None
    assert problem in d.problems


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "10:00:00 +0000",  # a time without a day
        "Tue, 31 Feb 2026 10:00:00 +0000",
        "Tue, 3 Mar 2026 25:00:00 +0000",
        "Tue, 3 Foo 2026 10:00:00 +0000",
        "Fri, 31 Dec 9999 23:00:00 -1200",  # past datetime.max once in UTC
        "1 Jan 0001 00:00:00 +0100",
        "0000-01-01T00:00:00Z",
    ],
)
def test_unreadable_dates_give_none_with_a_reason(text: str) -> None:
    d = parse_date(text)
    assert d.utc is None
    assert d.problems


def test_impossible_offset_falls_back_to_utc() -> None:
    d = parse_date("Tue, 3 Mar 2026 10:00:00 +9900")
    assert d.utc == datetime(2026, 3, 3, 10, 0, 0, tzinfo=UTC)
    assert any("impossible zone offset" in p for p in d.problems)


def test_strip_comments_is_linear_on_deep_nesting() -> None:
    deep = "(" * 200_000 + ")" * 200_000
    assert strip_comments("a" + deep + "b") == "a b"
    assert strip_comments("a" + "(" * 200_000) == "a"


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_never_raises(text: str) -> None:
    d = parse_date(text)
    assert isinstance(d, ParsedDate)
    assert d.utc is None or d.utc.tzinfo is UTC


DATE_WORDS = [
    "Tue,",
    "3",
    "31",
    "Mar",
    "Feb",
    "2026",
    "26",
    "10:00:00",
    "23:59:60.5",
    "+0100",
    "-9999",
    "PST",
    "GMT+14",
    "9999",
    "Dec",
    "-1200",
    "0001",
    "(",
    ")",
    "2026-03-03T",
    "99:99",
    "0000-00-00",
]


@given(st.lists(st.sampled_from(DATE_WORDS), max_size=12).map(" ".join))
@settings(max_examples=400, deadline=None)
def test_never_raises_on_date_shaped_noise(text: str) -> None:
    parse_date(text)


def test_megabyte_of_text_is_cut() -> None:
    d = parse_date("Tue, 3 Mar 2026 10:00:00 +0000 " + "x " * 500_000)
    assert d.utc == datetime(2026, 3, 3, 10, 0, 0, tzinfo=UTC)
    assert any("only the first" in p for p in d.problems)
