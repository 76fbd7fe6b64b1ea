"""The one-screen summary of a message: who, what, when, where it came from, what looks wrong.

The originating IP is where the message entered the receiving organisation: walking down from
the topmost Received header, hops the organisation made itself (private or loopback addresses,
senders in the domain of the receiving servers) are skipped, and the first hop whose sender lies
outside gives the address. When every hop is internal (Gmail to Gmail), the earliest public
address is the origin.

>>> from mailtrace.headers.message import parse_headers
>>> from mailtrace.headers.hops import build_hops
>>> m = parse_headers(
...     "Received: from mx.example.net ([192.0.2.10]) by mail.example.net;"
...     " Tue, 3 Mar 2026 10:00:09 +0000\\n"
...     "Received: from out.example.org (out.example.org [198.51.100.7]) by mx.example.net;"
...     " Tue, 3 Mar 2026 10:00:08 +0000\\n"
...     "Subject: =?utf-8?q?caf=C3=A9?=\\nDate: Tue, 3 Mar 2026 10:00:05 +0000\\n")
>>> s = summarize(m, build_hops(m.get_all("Received"), parse_date_header(m).utc))
>>> s.subject, s.originating_ip, s.transit_s
('café', '198.51.100.7', 4.0)
"""

from __future__ import annotations

import email.errors
import email.header
import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mailtrace.headers.dates import ParsedDate, parse_date
from mailtrace.headers.hops import CLOCK_SKEW_TOLERANCE_S, Hop, transit_s
from mailtrace.headers.message import MessageHeaders

# Addresses that never identify a sender on the internet. Python's is_private also covers the
# documentation ranges (192.0.2.0/24, 2001:db8::/32), which must count as public here: they are
# what example messages use for real senders.
_INTERNAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
    )
)
# Second-level labels under which registrations happen one level deeper (example.co.uk).
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or"})


@dataclass(frozen=True, slots=True)
class Summary:
    """What a reader wants first about one message."""

    from_: str | None
    to: str | None
    cc: str | None
    subject: str | None
    date: str | None  # the Date header as written
    date_utc: datetime | None
    message_id: str | None
    return_path: str | None
    originating_ip: str | None
    originating_hop: int | None
    earliest_ip: str | None  # the earliest public client address, as the bottom hops claim it
    earliest_hop: int | None
    transit_s: float | None  # Date header (else first hop) to the last hop
    anomalies: tuple[str, ...]


def decode_words(value: str | None) -> str | None:
    """``value`` with its RFC 2047 encoded words decoded; undecodable text is kept as written.

    >>> decode_words("=?iso-8859-1?q?Gr=FC=DFe?= aus Bern")
    'Grüße aus Bern'
    """
    if value is None or "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


@functools.lru_cache(maxsize=8192)
def is_internal_ip(ip: str | None) -> bool:
    """True for private, loopback, link-local and unspecified addresses (not for unreadable ones).

    >>> is_internal_ip("10.1.2.3"), is_internal_ip("::ffff:127.0.0.1"), is_internal_ip("192.0.2.1")
    (True, True, False)
    """
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in _INTERNAL_NETS)


def base_domain(host: str | None) -> str | None:
    """The registrable part of a host name, approximately (no public-suffix list).

    >>> base_domain("mail-sor-f41.google.com."), base_domain("mx.mail.example.co.uk")
    ('google.com', 'example.co.uk')
    """
    if not host:
        return None
    labels = [label for label in host.strip().rstrip(".").lower().split(".") if label]
    if len(labels) < 2:
        return None
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _origin(hops: Sequence[Hop]) -> Hop | None:
    org: set[str] = set()
    for h in reversed(hops):  # topmost (newest) first
        r = h.received
        by = base_domain(r.by_host)
        if by:
            org.add(by)
        if not r.from_ip or is_internal_ip(r.from_ip):
            continue
        sender = {base_domain(r.from_rdns), base_domain(r.from_host)} - {None}
        if sender & org:
            continue
        return h
    return _earliest(hops)  # all internal: the earliest public address is the origin


def _earliest(hops: Sequence[Hop]) -> Hop | None:
    for h in hops:
        if h.received.from_ip and not is_internal_ip(h.received.from_ip):
            return h
    return None


def _name(host: str | None) -> str | None:
    return host.strip().rstrip(".").lower() if host else None


def _no_rdns(raw: str) -> bool:
    # Receivers write "unknown" where the reverse lookup failed: Postfix "(unknown [ip])",
    # qmail "from unknown (HELO …)". The parser leaves from_rdns empty for it.
    low = raw[:512].lower()
    return "(unknown [" in low or low.lstrip().startswith("from unknown ")


def _hop_anomalies(h: Hop) -> list[str]:
    r = h.received
    notes: list[str] = []
    where = f"hop {h.hop}"
    if h.clock_skew:
        if h.delay_s is not None and h.delay_s < -CLOCK_SKEW_TOLERANCE_S:
            notes.append(f"{where}: negative delay of {h.delay_s:g} s (a clock is wrong)")
        else:
            notes.append(f"{where}: dated after later hops (its clock runs ahead)")
    if r.date_utc is None and not any("date" in p for p in r.problems):
        notes.append(f"{where}: no date")
    if r.from_ip and not is_internal_ip(r.from_ip):
        helo, rdns = _name(r.from_helo or r.from_host), _name(r.from_rdns)
        literal = helo.strip("[]").removeprefix("ipv6:") if helo and helo.startswith("[") else None
        if rdns is None and _no_rdns(r.raw):
            notes.append(f"{where}: {r.from_ip} has no reverse DNS name")
        if literal is not None:
            # A private literal is a client behind NAT, which is normal; a public one that
            # differs from the connecting address is not.
            if not is_internal_ip(literal) and literal != r.from_ip:
                notes.append(f"{where}: HELO {r.from_helo} differs from connecting IP {r.from_ip}")
        elif helo and rdns and base_domain(helo) != base_domain(rdns):
            notes.append(f"{where}: HELO name {helo} does not match reverse DNS {rdns}")
    notes.extend(f"{where}: {p}" for p in r.problems)
    return notes


def parse_date_header(headers: MessageHeaders) -> ParsedDate:
    """The message's Date header, parsed; a missing one gives ``utc=None`` and a problem.

    >>> parse_date_header(MessageHeaders("m", (("Subject", "x"),))).problems
    ('no Date header',)
    """
    value = headers.get("Date")
    if value is None:
        return ParsedDate(None, None, ("no Date header",))
    return parse_date(value)


def summarize(
    headers: MessageHeaders, hops: Sequence[Hop], date: ParsedDate | None = None
) -> Summary:
    """The summary of one message from its headers and its hops (chronological).

    >>> from mailtrace.headers.message import parse_headers
    >>> summarize(parse_headers("Subject: hi\\n"), []).anomalies
    ('no Date header',)
    """
    parsed = date if date is not None else parse_date_header(headers)
    anomalies: list[str] = [
        f"Date header: {p}" if p != "no Date header" else p for p in parsed.problems
    ]
    for h in hops:
        anomalies.extend(_hop_anomalies(h))
    anomalies.extend(f"headers: {p}" for p in headers.problems)
    origin = _origin(hops)
    earliest = _earliest(hops)
    return Summary(
        from_=decode_words(headers.get("From")),
        to=decode_words(headers.get("To")),
        cc=decode_words(headers.get("Cc")),
        subject=decode_words(headers.get("Subject")),
        date=headers.get("Date"),
        date_utc=parsed.utc,
        message_id=headers.get("Message-ID"),
        return_path=headers.get("Return-Path"),
        originating_ip=origin.received.from_ip if origin else None,
        originating_hop=origin.hop if origin else None,
        earliest_ip=earliest.received.from_ip if earliest else None,
        earliest_hop=earliest.hop if earliest else None,
        transit_s=transit_s(hops, parsed.utc),
        anomalies=tuple(anomalies),
    )
