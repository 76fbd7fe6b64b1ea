"""Small value readers shared by the Exim and Sendmail line parsers.

Both MTAs write the same kinds of values in their own spelling: an address in angle brackets,
a duration (``1h2m3s`` in Exim, ``1+02:03:04`` in Sendmail), a remote SMTP reply whose first
words are a reply code and an enhanced status code, and in that reply the next hop's queue id
(``queued as 4AbC12``, ``id=1wXyZa-000Abc-12``). Every pattern here is anchored or bounded so a
hostile line costs linear time.

>>> split_reply("550 5.1.1 <bob@example.com>: Recipient address rejected")
('550', '5.1.1', '<bob@example.com>: Recipient address rejected')
>>> next_hop_id("250 2.0.0 Ok: queued as 4B6712205E9")
'4B6712205E9'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pyarrow as pa

from mailtrace.schema import EVENTS

_REPLY = re.compile(r"([245][0-9][0-9])(?:[ -]+([245]\.[0-9]{1,3}\.[0-9]{1,3})\b)?[ -]?")
_ENHANCED = re.compile(r"([245]\.[0-9]{1,3}\.[0-9]{1,3})\b ?")
_EXIM_DURATION = re.compile(
    r"(?:([0-9]{1,6})w)?(?:([0-9]{1,6})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,9}(?:\.[0-9]{1,6})?)s)?"
)
_HMS = re.compile(r"(?:([0-9]{1,6})\+)?([0-9]{1,4}):([0-9][0-9]):([0-9][0-9](?:\.[0-9]{1,6})?)")
# The next hop's id as its MTA announces it: Postfix "queued as X", Exim "OK id=X",
# Sendmail "X Message accepted for delivery". A bare "id=" must not match "InternalId=".
_NEXT_ID = re.compile(
    r"queued as ([0-9A-Za-z]{5,40})\b"
    r"|(?<![A-Za-z])id=([0-9A-Za-z][0-9A-Za-z-]{4,40})\b"
    r"|^([0-9A-Za-z]{12,20}) Message accepted for delivery"
)

_INT_COLUMNS = frozenset(
    f.name for f in EVENTS if pa.types.is_integer(f.type) and f.name not in ("pid", "line")
)
_FLOAT_COLUMNS = frozenset(f.name for f in EVENTS if pa.types.is_floating(f.type))


def strip_angle(address: str) -> str:
    """An address without its angle brackets; the null sender ``<>`` is ``""``.

    >>> strip_angle("<alice@example.com>"), strip_angle("<>"), strip_angle("bob")
    ('alice@example.com', '', 'bob')
    """
    if address.startswith("<") and address.endswith(">"):
        return address[1:-1]
    return address


def split_reply(text: str) -> tuple[str | None, str | None, str]:
    """Split an SMTP reply into (reply code, enhanced status code, the rest).

    Text without a leading reply code keeps everything as the rest; an enhanced code alone
    (``5.1.1 text``) is still found.

    >>> split_reply("451-4.7.1 Greylisted, try later")
    ('451', '4.7.1', 'Greylisted, try later')
    >>> split_reply("Connection refused")
    (None, None, 'Connection refused')
    >>> split_reply("5.7.1 Relaying denied")
    (None, '5.7.1', 'Relaying denied')
    """
    m = _REPLY.match(text)
    if m is None or (m.end() < len(text) and text[m.end() - 1] not in " -"):
        e = _ENHANCED.match(text)
        if e is not None:
            return None, e.group(1), text[e.end() :]
        return None, None, text
    return m.group(1), m.group(2), text[m.end() :]


def digits(value: str | None, width: int = 18) -> str | None:
    """``value`` if it is a plain ASCII number that fits its column, else None.

    Sizes and counts come straight from ``S=``/``size=``; a damaged or hostile value must not
    stop the whole table from casting.

    >>> digits("2345"), digits("12x"), digits("\u00b2"), digits("9" * 30)
    ('2345', None, None, None)
    """
    if value and len(value) <= width and value.isascii() and value.isdigit():
        return value
    return None


def next_hop_id(text: str) -> str | None:
    """The queue id the next hop gave the message, read from its reply text.

    >>> next_hop_id("250 OK id=1wXyZa-000Abc-12")
    '1wXyZa-000Abc-12'
    >>> next_hop_id("2AB3cDeF012345 Message accepted for delivery")
    '2AB3cDeF012345'
    >>> next_hop_id("250 2.6.0 <x@example.com> [InternalId=42] Queued") is None
    True
    """
    m = _NEXT_ID.search(text)
    if m is None:
        return None
    return m.group(1) or m.group(2) or m.group(3)


def exim_seconds(value: str) -> float | None:
    """Seconds in an Exim duration (``QT=1h2m3s``, ``DT=0.042s``, ``2d``); None if unreadable.

    >>> exim_seconds("1h2m3s"), exim_seconds("0.25s"), exim_seconds("1w"), exim_seconds("x")
    (3723.0, 0.25, 604800.0, None)
    """
    m = _EXIM_DURATION.fullmatch(value)
    if m is None or not value:
        return None
    w, d, h, mi, s = m.groups()
    return (
        int(w or 0) * 604800
        + int(d or 0) * 86400
        + int(h or 0) * 3600
        + int(mi or 0) * 60
        + float(s or 0)
    )


def hms_seconds(value: str) -> float | None:
    """Seconds in a Sendmail delay (``00:00:01``, ``1+02:03:04`` with days); None if unreadable.

    >>> hms_seconds("00:01:05"), hms_seconds("2+00:00:00"), hms_seconds("soon")
    (65.0, 172800.0, None)
    """
    m = _HMS.fullmatch(value)
    if m is None:
        return None
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)


def typed_fields(
    kind: str, queue_id: str | None, fields: Mapping[str, object]
) -> dict[str, object]:
    """One parsed line as a plain mapping with numbers as numbers (for tests and notebooks).

    The hot path hands captured strings to the EventBuilder, which casts whole columns at once;
    this does the same cast for a single line.

    >>> typed_fields("from", "1wXyZa-000Abc-12", {"size": "1234", "delay": "0.5", "dsn": None})
    {'kind': 'from', 'queue_id': '1wXyZa-000Abc-12', 'size': 1234, 'delay': 0.5}
    """
    out: dict[str, object] = {"kind": str(kind), "queue_id": queue_id}
    for name, value in fields.items():
        if value is None:
            continue
        if name in _INT_COLUMNS:
            value = int(str(value))
        elif name in _FLOAT_COLUMNS:
            value = float(str(value))
        out[name] = value
    return out
