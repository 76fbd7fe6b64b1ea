"""A message's Received chain as hops: chronological numbers, signed delays, clock skew.

Received headers are prepended by each server, so the topmost is the newest: hop 1 is the
bottom-most header (the origin). A hop's delay is its time minus the previous dated hop's (hop 1
is measured from the Date header). Delays stay signed: a negative delay is evidence of a wrong
clock and is shown as such, never wrapped into a positive number.

>>> chain = [
...     "from b.example ([192.0.2.2]) by c.example; Tue, 3 Mar 2026 10:00:07 +0000",
...     "from a.example ([192.0.2.1]) by b.example; Tue, 3 Mar 2026 11:00:02 +0100",
... ]
>>> [(h.hop, h.header_index, h.delay_s) for h in build_hops(chain)]
[(1, 1, None), (2, 0, 5.0)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from mailtrace.headers.received import Received, parse_received
from mailtrace.schema import HOPS

#: Seconds a hop may appear to precede the one before it before its clock counts as skewed:
#: header dates have one-second resolution and servers stamp at different moments of a session.
CLOCK_SKEW_TOLERANCE_S = 2.0

#: A Received value longer than this is cut before parsing, so a hostile megabyte-long header
#: costs bounded time; real ones are a few hundred characters.
MAX_RECEIVED_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received header of a message, placed in the chain."""

    hop: int  # 1 = the origin (bottom-most header)
    header_index: int  # 0 = the topmost header
    received: Received
    delay_s: float | None  # signed seconds since the previous dated hop (or the Date header)
    clock_skew: bool


def _parse(value: str) -> Received:
    if len(value) <= MAX_RECEIVED_CHARS:
        return parse_received(value)
    r = parse_received(value[:MAX_RECEIVED_CHARS])
    note = f"value of {len(value):,} characters cut to {MAX_RECEIVED_CHARS:,} before parsing"
    return dataclasses.replace(r, problems=(*r.problems, note), raw=value)


def build_hops(values: Sequence[str], date_utc: datetime | None = None) -> list[Hop]:
    """Hops from Received values in header order (topmost first), returned chronologically.

    ``date_utc`` is the message's Date header, the reference for hop 1's delay.

    >>> from datetime import UTC, datetime
    >>> hops = build_hops(
    ...     ["by b.example; Tue, 3 Mar 2026 10:00:00 +0000",
    ...      "by a.example; Tue, 3 Mar 2026 10:05:00 +0000"],
    ...     datetime(2026, 3, 3, 10, 4, tzinfo=UTC))
    >>> [(h.hop, h.delay_s, h.clock_skew) for h in hops]
    [(1, 60.0, True), (2, -300.0, True)]
    """
    n = len(values)
    parsed = [_parse(v) for v in reversed(values)]  # chronological
    times = [r.date_utc for r in parsed]

    # A hop stamped later than any hop after it has a clock ahead of the chain's.
    later_min: list[datetime | None] = [None] * n
    running: datetime | None = None
    for i in range(n - 1, -1, -1):
        later_min[i] = running
        t = times[i]
        if t is not None and (running is None or t < running):
            running = t

    hops: list[Hop] = []
    previous = date_utc
    for i, r in enumerate(parsed):
        t = times[i]
        delay = (t - previous).total_seconds() if t is not None and previous is not None else None
        ahead = later_min[i]
        skew = (delay is not None and delay < -CLOCK_SKEW_TOLERANCE_S) or (
            t is not None
            and ahead is not None
            and (t - ahead).total_seconds() > CLOCK_SKEW_TOLERANCE_S
        )
        hops.append(Hop(i + 1, n - 1 - i, r, delay, skew))
        if t is not None:
            previous = t
    return hops


def transit_s(hops: Sequence[Hop], date_utc: datetime | None = None) -> float | None:
    """Seconds from the Date header (else the first dated hop) to the last dated hop.

    >>> transit_s(build_hops(["by b.example; Tue, 3 Mar 2026 10:01:30 +0000",
    ...                       "by a.example; Tue, 3 Mar 2026 10:00:00 +0000"]))
    90.0
    """
    dated = [h.received.date_utc for h in hops if h.received.date_utc is not None]
    if not dated or (date_utc is None and len(dated) < 2):
        return None  # one point in time is no interval
    start = date_utc if date_utc is not None else dated[0]
    return (dated[-1] - start).total_seconds()


def hops_table(messages: Iterable[tuple[str, Sequence[Hop]]]) -> pa.Table:
    """The HOPS table of several messages, given as (message name, hops) pairs.

    >>> t = hops_table([("m.eml", build_hops(["by b.example; Tue, 3 Mar 2026 10:00:00 +0000"]))])
    >>> t.num_rows, t.column("timestamp")[0].as_py().isoformat()
    (1, '2026-03-03T10:00:00+00:00')
    """
    columns: dict[str, list[object]] = {name: [] for name in HOPS.names}
    for message, hops in messages:
        for h in hops:
            r = h.received
            columns["message"].append(message)
            columns["hop"].append(h.hop)
            columns["header_index"].append(h.header_index)
            columns["from_helo"].append(r.from_helo)
            columns["from_rdns"].append(r.from_rdns)
            columns["from_ip"].append(r.from_ip)
            columns["by_host"].append(r.by_host)
            columns["via"].append(r.via)
            columns["protocol"].append(r.protocol)
            columns["with_raw"].append(r.with_raw)
            columns["tls_version"].append(r.tls_version)
            columns["tls_cipher"].append(r.tls_cipher)
            columns["id"].append(r.id)
            columns["for"].append(r.for_)
            columns["envelope_from"].append(r.envelope_from)
            columns["timestamp"].append(_micros(r.date_utc))
            columns["utc_offset"].append(r.utc_offset)
            columns["delay_s"].append(h.delay_s)
            columns["clock_skew"].append(h.clock_skew)
            columns["raw"].append(r.raw)
            columns["problems"].append("; ".join(r.problems) or None)
    arrays = [
        pa.array(columns[f.name], type=pa.int64()).cast(f.type)
        if f.name == "timestamp"
        else pa.array(columns[f.name], type=f.type)
        for f in HOPS
    ]
    return pa.table(arrays, schema=HOPS)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(t: datetime | None) -> int | None:
    # Integers, not datetimes, go to Arrow: converting aware datetimes makes pyarrow import
    # pandas, which costs more than a whole run of the headers command.
    if t is None:
        return None
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
