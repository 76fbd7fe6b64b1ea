"""Every date form seen in mail headers, read into an aware UTC datetime.

Mail software has written dates in many ways for forty years: RFC 5322 (``Tue, 3 Mar 2026
10:00:00 +0100``) and its obsolete forms (two-digit years, named zones, no day of week), C
``asctime`` (``Tue Mar  3 10:00:00 2026``), Unix ``date`` (``Tue Mar 3 10:00:00 EST 2026``),
ISO 8601 and Go's ``time.Time.String()`` (``2026-03-03 10:00:00.123 +0000 UTC m=+0.5``).
:func:`parse_date` reads all of them by classifying tokens rather than matching one fixed layout,
and reports what was odd in ``problems`` instead of raising.

Named zones are read as the fixed offsets mail software means by them; RFC 5322 §4.3 defines the
US ones, the others are common in real headers. A missing zone is assumed to be UTC and flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

# Minutes east of UTC. RFC 5322 §4.3 names UT, GMT and the eight US zones; the rest are what
# real headers carry. IST is ambiguous (India, Ireland, Israel): India is by far the most common
# in today's mail, and the ambiguity is reported.
ZONES: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AST": -240, "ADT": -180, "NST": -210, "NDT": -150,
    "AKST": -540, "AKDT": -480, "HST": -600,
    "BST": 60, "IST": 330, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "MEZ": 60,
    "MESZ": 120, "WEST": 60, "EET": 120, "EEST": 180, "MSK": 180,
    "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480,
    "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}  # fmt: skip
AMBIGUOUS_ZONES = frozenset({"IST", "CST", "BST", "AST"})

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Anchored, bounded patterns only: every token is short, so none of these can backtrack far.
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?")
_NUM_ZONE = re.compile(r"[+-](\d{4}|\d{2}:\d{2}|\d{2})")
_NAMED_OFFSET = re.compile(r"(?:GMT|UTC|UT)([+-]\d{1,2}(?::?\d{2})?)", re.IGNORECASE)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ]?"
    r"(?:(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?(?![\w:])"
)
_TOKEN = re.compile(r"[^\s,]+")

#: The longest real date with its comment is under a hundred characters; more is not a date.
MAX_CHARS = 1024


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A header date: the UTC instant, the offset as written, and what was odd about it.

    ``utc`` is an aware datetime in UTC, or None when no date could be read. ``offset`` is the
    zone exactly as written (``+0100``, ``-0000``, ``PDT``, ``Z``), None when there was none.
    """

    utc: datetime | None
    offset: str | None
    problems: tuple[str, ...] = ()


def strip_comments(text: str) -> str:
    """Replace RFC 5322 comments, nested or not, with a space; unbalanced parens are dropped.

    One pass with a depth counter, so it stays linear on ``((((((…``.

    >>> strip_comments("Tue, 3 Mar 2026 10:00:00 +0100 (CET (Europe))")
    'Tue, 3 Mar 2026 10:00:00 +0100  '
    """
    out: list[str] = []
    depth = 0
    start = 0
    for m in re.finditer(r"\\.|[()]", text, re.DOTALL):
        c = m.group()
        if c == "(":
            if depth == 0:
                out.append(text[start : m.start()])
            depth += 1
        elif c == ")":
            if depth == 0:
                out.append(text[start : m.start()])
            else:
                depth -= 1
                if depth == 0:
                    out.append(" ")
            start = m.end()
    if depth == 0:
        out.append(text[start:])
    return "".join(out)


def _zone_offset(tok: str) -> int | None:
    """Minutes east of UTC for a zone token, or None when it is not a zone."""
    if _NUM_ZONE.fullmatch(tok):
        sign = -1 if tok[0] == "-" else 1
        digits = tok[1:].replace(":", "")
        hours = int(digits[:2])
        minutes = int(digits[2:4] or 0)
        if minutes >= 60:
            return None
        return sign * (hours * 60 + minutes)
    m = _NAMED_OFFSET.fullmatch(tok)
    if m:
        body = m.group(1)[1:].replace(":", "")
        hours, minutes = (int(body), 0) if len(body) <= 2 else (int(body[:-2]), int(body[-2:]))
        if minutes >= 60:
            return None
        return (-1 if m.group(1)[0] == "-" else 1) * (hours * 60 + minutes)
    return ZONES.get(tok.upper())


def _two_digit_year(year: int, digits: int) -> int:
    # RFC 5322 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999; three digits add 1900.
    if digits == 2:
        return year + (2000 if year < 50 else 1900)
    if digits == 3:
        return year + 1900
    return year


def _build(
    parts: tuple[int, int, int, int, int, int, int],
    offset_min: int | None,
    offset_raw: str | None,
    problems: list[str],
    weekday: int | None,
) -> ParsedDate:
    year, month, day, hour, minute, second, micro = parts
    if second == 60:  # a leap second: keep the instant one second early rather than fail
        second = 59
        problems.append("leap second read as :59")
    if offset_min is None:
        problems.append("no time zone; assumed UTC")
        offset_min = 0
    if abs(offset_min) >= 24 * 60:
        problems.append(f"impossible zone offset {offset_raw}; assumed UTC")
        offset_min = 0
    try:
        local = datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
            tzinfo=timezone(timedelta(minutes=offset_min)),
        )
        utc = local.astimezone(UTC)
    except (ValueError, OverflowError) as e:  # 31 Feb; or year 9999 pushed past the end by -1200
        problems.append(f"impossible date: {e}")
        return ParsedDate(None, offset_raw, tuple(problems))
    if weekday is not None and weekday != local.weekday():
        said, real = DAYS[weekday].title(), DAYS[local.weekday()].title()
        problems.append(f"day of week says {said} but the date is a {real}")
    return ParsedDate(utc, offset_raw, tuple(problems))


def _parse_iso(m: re.Match[str], problems: list[str]) -> ParsedDate:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour = int(m.group(4) or 0)
    minute = int(m.group(5) or 0)
    second = int(m.group(6) or 0)
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8)
    offset_min = None
    if zone is not None:
        offset_min = 0 if zone == "Z" else _zone_offset(zone)
    else:
        # Go writes "+0000 UTC" after a space; look for a named zone right behind the time.
        rest = _TOKEN.findall(m.string[m.end() : m.end() + 40])
        if rest and _zone_offset(rest[0]) is not None:
            zone = rest[0]
            offset_min = _zone_offset(zone)
    if m.group(4) is None:
        problems.append("no time of day; assumed midnight")
    return _build((year, month, day, hour, minute, second, micro), offset_min, zone, problems, None)


def parse_date(text: str) -> ParsedDate:
    """Read one header date in any common form; never raises.

    >>> d = parse_date("Tue, 3 Mar 2026 10:00:00 +0100 (CET)")
    >>> d.utc.isoformat(), d.offset, d.problems
    ('2026-03-03T09:00:00+00:00', '+0100', ())
    >>> parse_date("Tue Mar  3 10:00:00 2026").problems
    ('no time zone; assumed UTC',)
    >>> parse_date("2026-03-03 10:00:00.5 +0000 UTC m=+0.000").utc.isoformat()
    '2026-03-03T10:00:00.500000+00:00'
    >>> parse_date("not a date")
    ParsedDate(utc=None, offset=None, problems=('no date found',))
    """
    problems: list[str] = []
    if len(text) > MAX_CHARS:
        problems.append(f"{len(text):,} characters; only the first {MAX_CHARS} read")
        text = text[:MAX_CHARS]
    plain = strip_comments(text)
    iso = _ISO.search(plain)
    if iso:
        return _parse_iso(iso, problems)

    weekday = month = hour = minute = None
    second = micro = 0
    numbers: list[str] = []
    offset_min: int | None = None
    offset_raw: str | None = None
    ignored: list[str] = []
    for tok in _TOKEN.findall(plain):
        low = tok.lower().rstrip(".")
        if month is None and low[:3] in MONTHS and low.isalpha() and len(low) <= 9:
            month = MONTHS[low[:3]]
            continue
        if weekday is None and low[:3] in DAYS and low.isalpha() and len(low) <= 9:
            weekday = DAYS.index(low[:3])
            continue
        if hour is None:
            t = _TIME.fullmatch(tok)
            if t:
                hour, minute = int(t.group(1)), int(t.group(2))
                second = int(t.group(3) or 0)
                micro = int((t.group(4) or "0")[:6].ljust(6, "0"))
                continue
        if tok.isdigit() and len(tok) <= 4 and len(numbers) < 2:
            numbers.append(tok)
            continue
        # A zone counts only once the time is known: "-0800" before it would be a stray number.
        if hour is not None:
            z = _zone_offset(tok)
            if z is not None and offset_raw is not None:
                continue  # "-0800 (PST)" or "-0800 PST": the numeric offset already counts
            if z is not None:
                offset_min, offset_raw = z, tok
                if tok.upper() in AMBIGUOUS_ZONES:
                    problems.append(f"ambiguous zone name {tok} read as UTC{z / 60:+g}")
                continue
        if not tok.startswith("m=") and len(ignored) < 3:
            ignored.append(tok[:40])
    if month is None or hour is None or minute is None or len(numbers) < 2:
        return ParsedDate(None, offset_raw, (*problems, "no date found"))
    if ignored:
        problems.append("ignored " + " ".join(repr(t) for t in ignored))
    # The four-digit number is the year wherever it stands; otherwise RFC order: day, year.
    if len(numbers[0]) > 2 and len(numbers[1]) <= 2:
        year_txt, day_txt = numbers
    else:
        day_txt, year_txt = numbers
    if len(year_txt) < 4:
        problems.append(f"{len(year_txt)}-digit year {year_txt}")
    year = _two_digit_year(int(year_txt), len(year_txt))
    return _build(
        (year, month, int(day_txt), hour, minute, second, micro),
        offset_min,
        offset_raw,
        problems,
        weekday,
    )
