"""Every date form seen in mail headers, read into an aware UTC datetime."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A header date: the UTC instant, the offset as written, and what was odd about it."""

    utc: datetime | None
    offset: str | None
    problems: tuple[str, ...] = ()


def parse_date(text: str) -> ParsedDate:
    """Read one header date; never raises.

    >>> parse_date("Tue, 3 Mar 2026 10:00:00 +0100").utc.isoformat()
    '2026-03-03T09:00:00+00:00'
    """
    try:
        d = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return ParsedDate(None, None, ("unreadable date",))
    if d.tzinfo is None:
        return ParsedDate(d.replace(tzinfo=UTC), None, ("no zone, assumed UTC",))
    return ParsedDate(d.astimezone(UTC), text.rsplit(maxsplit=1)[-1], ())
