"""Log framing: split each line into (timestamp, host, program, pid, message).

The same Postfix message reaches disk wrapped in many ways; this module recognises the wrapping of
a file from its first lines and unwraps each line:

========================  ==========================================================================
``rfc3164``               ``Mar  7 10:00:00 mx postfix/smtpd[123]: …`` (also journalctl
                          ``short`` and ``short-precise``); no year and no zone, see below
``rfc3339``               ``2026-03-07T10:00:00.123456+01:00 mx postfix/smtpd[123]: …`` (rsyslog
                          high precision, journalctl ``short-iso`` and ``short-iso-precise``)
``rfc5424``               ``<22>1 2026-03-07T09:00:00Z mx postfix/smtpd 123 - - …``
``journal-json``          ``journalctl -o json``: ``__REALTIME_TIMESTAMP``, ``_HOSTNAME``,
                          ``SYSLOG_IDENTIFIER``, ``_PID``, ``MESSAGE`` (text or a byte array)
``container-json``        Docker ``{"log": "…", "time": "…"}``, rsyslog JSON templates and similar,
                          wrapping either a syslog line or a bare message
``exim``                  Exim's own mainlog: ``2026-03-07 10:00:00 [+0100] [[pid]] message``
========================  ==========================================================================

Every timestamp comes out as microseconds since the epoch, UTC. RFC 3339 and RFC 5424 stamps keep
their own offset. RFC 3164 stamps have neither year nor zone: the zone is the local zone unless
``tz`` is given, and the year of the first line is given by the caller (``--year``, or inferred by
:class:`YearScan` from the file's modification time); a backwards jump of months (December →
January) starts the next year, and a line that jumps far forwards (January → December, written late
by a slow process) is a straggler from the previous year. Parsing a stamp is cached per distinct
text, and per hour for the expensive part, because many lines share one second.

>>> from datetime import timezone
>>> f = Framer("rfc3164", year=2026, tz=timezone.utc)
>>> f.split("Mar  7 10:00:00 mx postfix/smtpd[123]: connect from a.example[192.0.2.1]")
(1772877600000000, 'mx', 'postfix/smtpd', 123, 'connect from a.example[192.0.2.1]')
>>> detect_framing(["<22>1 2026-03-07T10:00:00Z mx postfix/qmgr 7 - - 4AbC: removed"])
'rfc5424'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from mailtrace.errors import UsageError
from mailtrace.lazy_module import LazyModule

if TYPE_CHECKING:
    import json
else:  # only JSON-framed logs read it: a syslog file's parse starts without it (mailtrace.pending)
    json = LazyModule("json")

#: One framed line: (ts in µs since the epoch UTC or None, host, program tag, pid, message).
Frame = tuple[int | None, str | None, str, int | None, str]

FRAMINGS = ("rfc3164", "rfc3339", "rfc5424", "journal-json", "container-json", "exim")

_MONTHS = {
    name: i
    for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_10000_US = 253402300800 * 1_000_000  # the first µs a datetime cannot hold
_US = timedelta(microseconds=1)

# One anchored pattern per framing. Each group is bounded by a character class that cannot match
# the separator after it, so a match attempt is linear even on hostile lines.
_TAG = r"([^\s\[:]+)(?:\[(\d{1,10})\])?:? ?(.*)"
_RX_3164 = re.compile(
    r"(?:<\d{1,3}>)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?) (\S+) " + _TAG
)
_match_3164 = _RX_3164.match
_RX_3339 = re.compile(
    r"(?:<\d{1,3}>)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) (\S+) "
    + _TAG
)
_RX_5424 = re.compile(r"<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) \S+ (.*)")
_RX_EXIM = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?(?: [+-]\d{4})?)(?: \[(\d{1,10})\])? (.*)"
)
_RX_SYSLOGTAG = re.compile(r"([^\s\[:]+)(?:\[(\d{1,10})\])?")

_MESSAGE_KEYS = ("log", "message", "msg", "MESSAGE")
_TIME_KEYS = ("time", "@timestamp", "timestamp", "ts", "date")
_TAG_KEYS = ("syslogtag", "SYSLOG_IDENTIFIER", "programname", "ident", "tag", "program", "app")
_HOST_KEYS = ("host", "hostname", "_HOSTNAME", "HOSTNAME")
_PID_KEYS = ("procid", "pid", "_PID", "SYSLOG_PID")


def parse_tz(text: str | tzinfo | None) -> tzinfo | None:
    """A zone from ``--tz`` text: ``UTC``, ``Z``, ``+01:00``, ``-0500`` or an IANA name.

    >>> parse_tz("+05:30")
    datetime.timezone(datetime.timedelta(seconds=19800))
    >>> parse_tz("Mars/Olympus")
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: unknown time zone 'Mars/Olympus' (use UTC, +01:00 or an IANA name)
    """
    if text is None or isinstance(text, tzinfo):
        return text
    t = text.strip()
    if t.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", t)
    if m:
        minutes = int(m[2]) * 60 + int(m[3])
        return timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(t)
    except (ValueError, KeyError, OSError):
        raise UsageError(f"unknown time zone {t!r} (use UTC, +01:00 or an IANA name)") from None


def _to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.astimezone()  # a naive time is local time
    return (dt - _EPOCH) // _US


def _offset_tz(text: str) -> tzinfo | None:
    """The zone of an ISO offset suffix: "", "Z", "+01:00" or "+0100"."""
    if not text:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _fraction_us(text: str) -> int:
    """Microseconds of a fraction written after the dot: "5" → 500000, "123456789" → 123456."""
    return int((text + "000000")[:6]) if text else 0


def _month_step(current: int, month: int) -> int:
    """How the year moves when the month goes from ``current`` to ``month``.

    +1: a backwards jump of more than half a year, a New Year; -1: a far forwards jump, a late
    straggler of the previous year; 0: the same year.

    >>> _month_step(12, 1), _month_step(1, 12), _month_step(4, 3)
    (1, -1, 0)
    """
    if month < current - 6:
        return 1
    if month > current + 6:
        return -1
    return 0


class IsoClock:
    """RFC 3339 / Exim stamps to µs UTC, the costly part (date and hour) cached per hour and zone.

    >>> IsoClock(None).stamp("2026-03-07T10:00:00.25+01:00")
    1772874000250000
    >>> IsoClock(UTC).stamp("2026-03-07 10:00:00")
    1772877600000000
    """

    def __init__(self, tz: tzinfo | None) -> None:
        self.tz = tz
        self._hours: dict[tuple[str, str], int | None] = {}
        self._cache: dict[str, int | None] = {}

    def stamp(self, text: str) -> int | None:
        """µs since the epoch of ``text``, or None when it is not a real date."""
        cached = self._cache.get(text)
        if cached is not None or text in self._cache:
            return cached
        if len(self._cache) > 200_000:
            self._cache.clear()
        value = self._compute(text)
        # Stamps with a fraction rarely repeat: caching them would only fill memory.
        if len(text) < 20 or text[19] != ".":
            self._cache[text] = value
        return value

    def _compute(self, text: str) -> int | None:
        rest = text[19:]
        frac = ""
        if rest.startswith("."):
            end = 1
            while end < len(rest) and rest[end].isdigit():
                end += 1
            frac, rest = rest[1:end], rest[end:]
        offset = rest.strip()
        key = (text[:13], offset)
        base = self._hours.get(key)
        if base is None and key not in self._hours:
            try:
                zone = _offset_tz(offset) or self.tz
                hour = datetime(
                    int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), tzinfo=zone
                )
                base = _to_us(hour)
            except ValueError:
                base = None
            self._hours[key] = base
        if base is None:
            return None
        minute, second = int(text[14:16]), int(text[17:19])
        if minute > 59 or second > 60:
            return None
        return base + (minute * 60 + second) * 1_000_000 + _fraction_us(frac)


class SyslogClock:
    """RFC 3164 stamps (``Mar  7 10:00:00[.123456]``) to µs UTC, following the year through a file.

    ``year`` is the year of the first line. A backwards jump of months starts the next year; a far
    forwards jump is a straggler of the previous year and does not move the clock.

    >>> c = SyslogClock(2025, UTC)
    >>> [datetime.fromtimestamp(c.stamp(s) / 1e6, UTC).year
    ...  for s in ("Dec 31 23:59:59", "Jan  1 00:00:01", "Dec 31 23:59:58", "Jan  1 00:00:02")]
    [2025, 2026, 2025, 2026]
    """

    def __init__(self, year: int | None, tz: tzinfo | None) -> None:
        self.year = year
        self.tz = tz
        self.month = 0
        self._hours: dict[str, int | None] = {}
        # Stamp text → µs; only ever cleared in place, so a Framer may keep a reference to it.
        self.cache: dict[str, int | None] = {}

    def state(self) -> tuple[int | None, int]:
        """(year, month) reached so far: enough to continue in a later chunk of the same file."""
        return self.year, self.month

    def restore(self, year: int | None, month: int) -> None:
        """Continue from a :meth:`state` recorded elsewhere."""
        self.year, self.month = year, month
        self._hours.clear()
        self.cache.clear()

    def stamp(self, text: str) -> int | None:
        """µs since the epoch of ``text``, or None (unknown year, impossible date)."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        month = _MONTHS.get(text[:3])
        if month is None or self.year is None:
            return None
        year = self.year
        if month != self.month:
            if self.month == 0:
                self.month = month
            else:
                step = _month_step(self.month, month)
                if step == 1:
                    self.year = year = year + 1
                    self._hours.clear()
                    self.cache.clear()
                    self.month = month
                elif step == -1:
                    return self._compute(text, year - 1)  # straggler: not cached
                else:
                    self.month = month
        value = self._compute(text, year)
        if value is not None and len(text) == 15:  # fractions rarely repeat: keep them out
            if len(self.cache) > 200_000:
                self.cache.clear()
            self.cache[text] = value
        return value

    def hour_us(self, year: int, month: int, day: int, hour: int) -> int | None:
        """µs of the start of that local hour in this clock's zone, or None for no such date.

        The compiled fast path (:mod:`mailtrace.logs.fast`) asks for each hour it meets, so both
        paths share this one conversion.

        >>> clock = SyslogClock(2026, UTC)
        >>> clock.hour_us(2026, 3, 7, 10), clock.hour_us(2026, 2, 30, 0)
        (1772877600000000, None)
        """
        try:
            return _to_us(datetime(year, month, day, hour, tzinfo=self.tz))
        except (ValueError, OverflowError):
            return None

    def _compute(self, text: str, year: int) -> int | None:
        key = text[:9] if year == self.year else f"{year} {text[:9]}"
        base = self._hours.get(key)
        if base is None:
            base = self.hour_us(year, _MONTHS[text[:3]], int(text[4:6]), int(text[7:9]))
            if base is None:
                return None
            self._hours[key] = base
        minute, second = int(text[10:12]), int(text[13:15])
        if minute > 59 or second > 60:
            return None
        return base + (minute * 60 + second) * 1_000_000 + _fraction_us(text[16:])


class Framer:
    """Splits lines of one file in one framing into :data:`Frame` tuples.

    ``year`` is the year of the first RFC 3164 line (None: RFC 3164 stamps get no timestamp);
    ``tz`` the zone of stamps written without one (None: the local zone). A line that does not fit
    the file's framing is tried against the other framings before :meth:`split` gives up (None).

    >>> Framer("exim", tz=UTC).split("2026-03-07 10:00:00 [4242] 1wXyZa-000Abc-4Q Completed")
    (1772877600000000, None, 'exim', 4242, '1wXyZa-000Abc-4Q Completed')
    """

    def __init__(self, framing: str, *, year: int | None = None, tz: tzinfo | None = None) -> None:
        if framing not in FRAMINGS:
            raise UsageError(f"unknown log framing {framing!r} (one of {', '.join(FRAMINGS)})")
        self.framing = framing
        self.syslog_clock = SyslogClock(year, tz)
        self.iso_clock = IsoClock(tz)
        primary: dict[str, Callable[[str], Frame | None]] = {
            "rfc3164": self._split_3164,
            "rfc3339": self._split_3339,
            "rfc5424": self._split_5424,
            "journal-json": self._split_journal,
            "container-json": self._split_container,
            "exim": self._split_exim,
        }
        self._primary = primary[framing]
        self._stamp_cache = self.syslog_clock.cache
        self._fallbacks = [fn for name, fn in primary.items() if name != framing]

    def split(self, line: str) -> Frame | None:
        """The frame of ``line``, or None when no framing fits it."""
        frame = self._primary(line)
        if frame is None:
            for fallback in self._fallbacks:
                frame = fallback(line)
                if frame is not None:
                    break
        return frame

    # -- one splitter per framing; each returns None when the line is not in its framing --------

    def _split_3164(self, line: str) -> Frame | None:
        m = _match_3164(line)
        if m is None:
            return None
        stamp, host, program, pid, message = m.groups()
        # Most lines repeat a second already seen: one dict lookup instead of a method call.
        ts = self._stamp_cache.get(stamp)
        if ts is None:
            ts = self.syslog_clock.stamp(stamp)
        return ts, host, program, int(pid) if pid else None, message

    def _split_3339(self, line: str) -> Frame | None:
        m = _RX_3339.match(line)
        if m is None:
            return None
        stamp, host, program, pid, message = m.groups()
        return self.iso_clock.stamp(stamp), host, program, int(pid) if pid else None, message

    def _split_exim(self, line: str) -> Frame | None:
        m = _RX_EXIM.match(line)
        if m is None:
            return None
        stamp, pid, message = m.groups()
        return self.iso_clock.stamp(stamp), None, "exim", int(pid) if pid else None, message

    def _split_5424(self, line: str) -> Frame | None:
        m = _RX_5424.match(line)
        if m is None:
            return None
        stamp, host, app, procid, rest = m.groups()
        message = _skip_structured_data(rest)
        if message is None:
            return None
        ts = None if stamp == "-" else self.iso_clock.stamp(stamp)
        return (
            ts,
            None if host == "-" else host,
            "" if app == "-" else app,
            int(procid) if procid.isdigit() and len(procid) <= 10 else None,
            message.lstrip(" \ufeff"),
        )

    def _split_journal(self, line: str) -> Frame | None:
        record = _json_object(line)
        if record is None or "__REALTIME_TIMESTAMP" not in record:
            return None
        raw_ts = record.get("__REALTIME_TIMESTAMP")
        ts = int(raw_ts) if isinstance(raw_ts, str) and raw_ts.isdigit() else None
        if ts is not None and ts >= _YEAR_10000_US:  # past what a datetime holds
            ts = None
        program = record.get("SYSLOG_IDENTIFIER") or record.get("_COMM") or ""
        host = record.get("_HOSTNAME")
        return (
            ts,
            host if isinstance(host, str) else None,
            program if isinstance(program, str) else "",
            _pid(record.get("SYSLOG_PID") or record.get("_PID")),
            _journal_text(record.get("MESSAGE")),
        )

    def _split_container(self, line: str) -> Frame | None:
        record = _json_object(line)
        if record is None:
            return None
        text = next((record[k] for k in _MESSAGE_KEYS if isinstance(record.get(k), str)), None)
        if text is None:
            return None
        text = text.rstrip("\r\n")
        outer_ts = self._json_time(record)
        inner = self._split_3339(text) or self._split_5424(text) or self._split_3164(text)
        if inner is not None:
            ts, host, program, pid, message = inner
            # An inner RFC 3164 stamp has no year; the container's own time has one.
            if outer_ts is not None and _RX_3164.match(text) is not None:
                ts = outer_ts
            return ts, host, program, pid, message
        program, pid = "", _pid(next((record[k] for k in _PID_KEYS if k in record), None))
        tag = next((record[k] for k in _TAG_KEYS if isinstance(record.get(k), str)), None)
        if tag:
            tm = _RX_SYSLOGTAG.match(tag.replace("\\/", "/"))
            if tm is not None:
                program = tm[1]
                pid = pid if pid is not None else _pid(tm[2])
        host = next((record[k] for k in _HOST_KEYS if isinstance(record.get(k), str)), None)
        return outer_ts, host, program, pid, text.lstrip(" ")

    def _json_time(self, record: dict[str, Any]) -> int | None:
        for key in _TIME_KEYS:
            value = record.get(key)
            if isinstance(value, str) and len(value) >= 19 and value[4] == "-":
                return self.iso_clock.stamp(_trim_nanoseconds(value))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _epoch_number_us(value)
        return None


# A syslog record starts with <PRI> and a full date; rsyslog's ForwardFormat written to a file
# without a newline template runs records together on one line.
_RX_RECORD_START = re.compile(r"(?=<\d{1,3}>(?:1 )?\d{4}-\d\d-\d\dT\d\d:)")


def split_records(lines: list[str]) -> list[str]:
    """``lines`` with records that were written without a newline between them split apart.

    Only lines starting with ``<PRI>`` are looked at, each on its own: the compiled path hands
    such lines back one at a time, and they must come out as the Python engine's blocks do.

    >>> split_records(["<22>2026-03-07T10:00:00Z mx a[1]: x<22>2026-03-07T10:00:01Z mx a[1]: y"])
    ['<22>2026-03-07T10:00:00Z mx a[1]: x', '<22>2026-03-07T10:00:01Z mx a[1]: y']
    """
    if not any(line.startswith("<") and line.find("<", 1) > 0 for line in lines):
        return lines
    out: list[str] = []
    for line in lines:
        if line.startswith("<") and line.find("<", 1) > 0:
            out.extend(part for part in _RX_RECORD_START.split(line) if part)
        else:
            out.append(line)
    return out


def _skip_structured_data(rest: str) -> str | None:
    """The MSG part of an RFC 5424 line after HEADER: skip ``-`` or ``[id k="v"]…`` elements."""
    if rest.startswith("-"):
        return rest[2:] if len(rest) > 1 else ""
    i, n = 0, len(rest)
    if n == 0 or rest[0] != "[":
        return None
    while i < n and rest[i] == "[":
        i += 1
        quoted = False
        while i < n:
            c = rest[i]
            if c == "\\" and quoted:
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == "]" and not quoted:
                break
            i += 1
        if i >= n:
            return None
        i += 1
    return rest[i + 1 :] if i < n else ""


def _json_object(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _journal_text(value: object) -> str:
    """journald's MESSAGE: a string, or an array of byte values when it is not valid UTF-8."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        return bytes(value).decode("utf-8", "replace")
    return ""


def _pid(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 10:
        return int(value)
    return None


def _trim_nanoseconds(value: str) -> str:
    """Docker writes nanoseconds (``…T10:00:00.123456789Z``); a stamp keeps microseconds."""
    if len(value) > 20 and value[19] == ".":
        end = 20
        while end < len(value) and value[end].isdigit():
            end += 1
        return value[:20] + value[20:end][:6] + value[end:]
    return value


def _epoch_number_us(value: float) -> int:
    """An epoch number in s, ms, µs or ns (told apart by magnitude) as µs."""
    v = abs(value)
    if v < 1e11:
        return int(value * 1_000_000)
    if v < 1e14:
        return int(value * 1_000)
    if v < 1e17:
        return int(value)
    return int(value // 1_000)


def _framing_of(line: str) -> str | None:
    if line.startswith("{"):
        record = _json_object(line)
        if record is None:
            return None
        if "__REALTIME_TIMESTAMP" in record:
            return "journal-json"
        if any(isinstance(record.get(k), str) for k in _MESSAGE_KEYS):
            return "container-json"
        return None
    if _RX_5424.match(line) is not None:
        return "rfc5424"
    if _RX_3339.match(line) is not None:
        return "rfc3339"
    if _RX_3164.match(line) is not None:
        return "rfc3164"
    if _RX_EXIM.match(line) is not None:
        return "exim"
    return None


def detect_framing(lines: Iterable[str], sample: int = 50) -> str | None:
    """The framing most of the first ``sample`` non-blank lines are in, or None.

    >>> detect_framing(["2026-03-07 10:00:00 1wXyZa-000Abc-4Q <= a@example.org"])
    'exim'
    >>> detect_framing(["no framing here"]) is None
    True
    """
    votes: dict[str, int] = {}
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        name = _framing_of(line)
        if name is not None:
            votes[name] = votes.get(name, 0) + 1
        seen += 1
        if seen >= sample:
            break
    if not votes:
        return None
    return max(FRAMINGS, key=lambda f: votes.get(f, 0))


# --- year inference for RFC 3164 files ---------------------------------------------------------

_RX_MONTH_B = re.compile(
    rb"^(?:<\d{1,3}>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d",
    re.M,
)
_MONTHS_B = {k.encode(): v for k, v in _MONTHS.items()}


class YearScan:
    """A cheap pass over an RFC 3164 file: the New Years it crosses and its last stamp.

    Feed it the file's blocks in order; blocks whose first and last lines share the current month
    cost two pattern matches. :meth:`start_year` then turns the file's modification time into the
    year of the first line: the latest year that puts the last line no later than the mtime (with
    two days of slack for a zone mismatch), minus the New Years crossed. :attr:`checkpoints` holds
    the (New Years crossed, month) state at the start of every block, for chunked parsing.

    >>> s = YearScan()
    >>> s.feed(b"Dec 31 23:59:00 mx a: x\\nJan  1 00:00:05 mx a: y\\n")
    >>> s.rollovers, s.last_stamp
    (1, 'Jan  1 00:00:05')
    >>> s.start_year(datetime(2026, 1, 2, tzinfo=UTC).timestamp(), UTC)
    2025
    """

    def __init__(self) -> None:
        self.rollovers = 0
        self.month = 0
        self.last_stamp: str | None = None
        self.checkpoints: list[tuple[int, int]] = []

    def feed(self, block: bytes) -> None:
        """Account for one block of whole lines."""
        self.feed_range(block, 0, len(block))

    def feed_range(self, data: Any, start: int, end: int) -> None:
        """Account for the block of whole lines ``data[start:end]``, without copying it.

        ``data`` is bytes or a memory map of the whole file (anything with ``rfind`` that the
        ``re`` module can search), so a large file is scanned in place.
        """
        self.checkpoints.append((self.rollovers, self.month))
        first = _RX_MONTH_B.search(data, start, end)
        if first is None:
            return
        if self.month == 0:  # the file's first stamp: without it, the first block is walked
            self.month = _MONTHS_B[first[1]]
        newline = data.rfind(b"\n", start, end - 1)
        last = _RX_MONTH_B.match(data, start if newline < 0 else newline + 1, end)
        uniform = last is not None and first[1] == last[1] and _MONTHS_B[first[1]] == self.month
        if not uniform:
            for m in _RX_MONTH_B.finditer(data, start, end):
                self._step(_MONTHS_B[m[1]])
        tail = last or _last_match(data, start, end)
        if tail is not None:
            self.last_stamp = tail[0][-15:].decode("ascii")

    def feed_edges(self, head: bytes, tail: bytes, block: Callable[[], bytes]) -> None:
        """:meth:`feed` for a block known by the first bytes of its first and last lines (what
        the compiled scan of a plain file keeps); ``block()`` reads the whole block, which is
        fed instead when the two do not settle it: a stamp missing from either, or a month
        other than the current one (a month turns, a New Year is crossed).

        >>> s = YearScan()
        >>> s.feed_edges(b"Dec 31 23:59:00 mx", b"Jan  1 00:00:05 mx",
        ...              lambda: b"Dec 31 23:59:00 mx a: x\\nJan  1 00:00:05 mx a: y\\n")
        >>> s.rollovers, s.last_stamp
        (1, 'Jan  1 00:00:05')
        """
        first = _RX_MONTH_B.match(head)
        last = _RX_MONTH_B.match(tail)
        if (
            first is None
            or last is None
            or first[1] != last[1]
            or (self.month and _MONTHS_B[first[1]] != self.month)
        ):
            data = block()
            self.feed_range(data, 0, len(data))
            return
        # What feed_range does with a block whose first and last stamps share the current month.
        self.checkpoints.append((self.rollovers, self.month))
        if self.month == 0:
            self.month = _MONTHS_B[first[1]]
        self.last_stamp = last[0][-15:].decode("ascii")

    def _step(self, month: int) -> None:
        if self.month == 0:
            self.month = month
            return
        step = _month_step(self.month, month)
        if step == 1:
            self.rollovers += 1
            self.month = month
        elif step == 0:
            self.month = month

    def start_year(self, mtime: float, tz: tzinfo | None) -> int:
        """The year of the first line, given the file's modification time (seconds)."""
        ref = datetime.fromtimestamp(mtime, UTC)
        if self.last_stamp is None:
            return ref.year
        stamp = self.last_stamp
        slack = timedelta(days=2)
        for year in range(ref.year + 1, ref.year - 8, -1):
            try:
                last = datetime(
                    year,
                    _MONTHS[stamp[:3]],
                    int(stamp[4:6]),
                    int(stamp[7:9]),
                    int(stamp[10:12]),
                    min(int(stamp[13:15]), 59),
                    tzinfo=tz,
                )
            except ValueError:  # Feb 29 in a year without it
                continue
            if last.tzinfo is None:
                last = last.astimezone()
            if last <= ref + slack:
                return year - self.rollovers
        return ref.year - self.rollovers


def first_stamp_year(block: bytes, mtime: float, tz: tzinfo | None) -> int | None:
    """The year of the first RFC 3164 stamp in ``block``, judged from that stamp alone: the
    latest year that puts it no later than ``mtime`` (as :meth:`YearScan.start_year` judges a
    file's last stamp). None: no stamp.

    It is the year a whole-file :class:`YearScan` finds whenever the file spans less than a year,
    so a reader can start parsing a compressed file with it while the scan, which must inflate
    the whole file, runs alongside; the two are compared before anything is kept.

    >>> first_stamp_year(b"Dec 31 23:59:00 mx a: x\\nJan  1 00:00:05 mx a: y\\n",
    ...                  datetime(2026, 1, 2, tzinfo=UTC).timestamp(), UTC)
    2025
    """
    first = _RX_MONTH_B.search(block)
    if first is None:
        return None
    scan = YearScan()
    scan.last_stamp = first[0][-15:].decode("ascii")
    return scan.start_year(mtime, tz)


def _last_match(data: Any, start: int, end: int) -> re.Match[bytes] | None:
    last = None
    for m in _RX_MONTH_B.finditer(data, start, end):
        last = m
    return last


def scan_years(blocks: Iterable[bytes]) -> YearScan:
    """Run a :class:`YearScan` over ``blocks``.

    >>> scan_years([b"Nov 30 10:00:00 mx a: x\\n", b"Dec  1 10:00:00 mx a: y\\n"]).rollovers
    0
    """
    scan = YearScan()
    for block in blocks:
        scan.feed(block)
    return scan
