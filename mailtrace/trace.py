"""One message end to end: each Received hop of its header joined to what that server logged.

Every Received header is written by one server (``by``), and its ``id`` is that server's queue id
for the message: Postfix ``id 4C2D3E4F5A``, Exim ``id 1vAbCd-00000000Xyz-9QrS``. So a hop is
found in the logs by three keys, strongest first:

1. **queue id** — rows with the hop's ``id`` on the host named by ``by``; failing that, on a
   host of another name within :data:`WINDOW_S` of the hop (syslog's host name is often not the
   name the MTA writes in its headers);
2. **Message-ID** — the queue file on that host whose ``message-id=`` (Postfix cleanup) or ``id=``
   (Exim ``<=``) is the message's, nearest in time to the hop;
3. **time window** — the queue file on that host whose client is the hop's ``from`` address,
   arriving within :data:`WINDOW_S` seconds of the hop's timestamp.

Host names match case-insensitively and a short name matches its FQDN (syslog writes ``mx1``,
the header ``mx1.example.org``). Logs that carry no host name (Exim's own mainlog) can only be
matched by queue id, since nothing else says which server wrote them.

From each matched queue file the queue-id chain is followed on the same host with
:mod:`mailtrace.paths` (a content filter's re-injection, local forwarding), as long as no other
hop of the header claims the next queue file: a filter that adds no Received header of its own
is still part of its server's hop. The result is one timeline: per hop, the header's data and that
server's events (client, cleanup, queue manager, delivery attempts with status, relay, reply and
delays), or the note that no log of that server was given.

>>> import pyarrow as pa
>>> from mailtrace.headers.message import parse_headers
>>> from mailtrace.schema import EVENTS
>>> msg = parse_headers(
...     "Received: from a.example ([192.0.2.1]) by mx.example.net with ESMTP id 4AB;"
...     " Sat, 7 Mar 2026 10:00:01 +0000\\n"
...     "Message-ID: <1@a.example>\\n", "m.eml")
>>> events = pa.Table.from_pylist([
...     dict(ts=1772877601_000000, host="mx", queue_id="4AB", kind="client",
...          client_ip="192.0.2.1"),
...     dict(ts=1772877602_000000, host="mx", queue_id="4AB", kind="delivery",
...          recipient="b@example.net", status="sent", relay_host="local"),
... ], EVENTS)
>>> [(h.hop.hop, h.host, h.queue_ids, h.matched_by) for h in trace(msg, events).hops]
[(1, 'mx', ('4AB',), 'queue id')]
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from mailtrace.errors import InputError, UsageError
from mailtrace.headers.analysis import MessageReport, analyze, hop_dict
from mailtrace.headers.hops import Hop
from mailtrace.headers.message import MessageHeaders, read_headers
from mailtrace.paths import COLUMNS, events_columns, paths_tables
from mailtrace.schema import DELIVERIES

if TYPE_CHECKING:
    import pandas as pd

#: A hop without a queue id matches a queue file whose client is the hop's, this close in time.
#: The header and the log were written by the same server's clock, so seconds apart at most.
WINDOW_S = 120.0

#: A Message-ID match must be this close to the hop: Message-IDs are unique, but a server may see
#: one message again days later (a resend, a list).
MESSAGE_ID_WINDOW_S = 86_400.0

QUEUE_ID = "queue id"
QUEUE_ID_ELSEWHERE = "queue id and time, another host name"
MESSAGE_ID = "message-id"
TIME_WINDOW = "time window"

# Hand-offs followed from the matched queue files (filter → re-injection → relay …).
_MAX_LINKS = 16


@dataclass(frozen=True)
class HopTrace:
    """One Received hop and what its server logged about the message."""

    hop: Hop  # the header's data (hop.received: from, by, id, timestamp …)
    host: str | None  # the log's host name for this server (None: not matched, or a hostless log)
    queue_ids: tuple[str, ...]  # its queue files on that host, in order; empty when not matched
    matched_by: str | None  # QUEUE_ID, QUEUE_ID_ELSEWHERE, MESSAGE_ID, TIME_WINDOW; None: no log
    events: pa.Table  # the EVENTS rows of those queue files (paths.COLUMNS), oldest first
    deliveries: pa.Table  # their recipient attempts (DELIVERIES, with failure classes)
    message_id_agrees: bool | None  # the logged Message-ID is the header's (None: not logged)

    @property
    def logged(self) -> bool:
        """True when a log of this hop's server was found."""
        return self.matched_by is not None


@dataclass(frozen=True)
class Trace:
    """A message's hops in order (origin first), each joined to its server's log events."""

    report: MessageReport
    hops: tuple[HopTrace, ...]

    @property
    def unlogged(self) -> list[int]:
        """Numbers of the hops no given log accounts for."""
        return [h.hop.hop for h in self.hops if not h.logged]


def trace(
    message: MessageReport | MessageHeaders | str | os.PathLike[str],
    events: pa.Table | pd.DataFrame,
    *,
    window_s: float = WINDOW_S,
) -> Trace:
    """Join ``message``'s Received hops to ``events`` (an EVENTS table or DataFrame).

    ``message`` is an analysed message, its header fields, or the path of a file holding one
    message (.eml, .msg, a one-message mbox). ``window_s`` bounds the time-window match.

    >>> from mailtrace.headers.message import parse_headers
    >>> from mailtrace.schema import EVENTS
    >>> t = trace(parse_headers("Received: by mx.example.net id 2AB3C4D5E6;"
    ...                         " Sat, 7 Mar 2026 10:00:00 +0000\\n", "m"), EVENTS.empty_table())
    >>> t.unlogged, t.hops[0].logged
    ([1], False)
    """
    report = _as_report(message)
    table = events_columns(_as_table(events), COLUMNS)
    msgid = _bare(report.summary.message_id)
    hops = list(report.hops)
    found = _match(hops, table, msgid, window_s)
    sub = _linked(table, {qid for _, qid, _ in found.values()})
    messages, deliveries = paths_tables(sub)
    taken = {(host or "", qid) for host, qid, _ in found.values()}
    chains = [
        (m["message"], list(zip(m["hosts"], m["queue_ids"], strict=True)), m)
        for m in messages.select(
            ["message", "hosts", "queue_ids", "first_seen", "last_seen"]
        ).to_pylist()
    ]
    out = []
    for i, hop in enumerate(hops):
        if i not in found:
            out.append(_unlogged(hop))
            continue
        host, qid, how = found[i]
        key, qids, span = _chain(chains, host, qid, taken)
        ev = _hop_events(sub, host, qids, span)
        dl = deliveries.filter(
            pc.and_(
                pc.equal(deliveries.column("message"), key or ""),
                pc.is_in(deliveries.column("queue_id"), pa.array(qids, pa.string())),
            )
        )
        logged_ids = {_bare(v) for v in ev.column("message_id").to_pylist() if v}
        agrees = None if not logged_ids or msgid is None else msgid in logged_ids
        out.append(HopTrace(hop, host, tuple(qids), how, ev, dl, agrees))
    return Trace(report, tuple(out))


def _as_report(message: MessageReport | MessageHeaders | str | os.PathLike[str]) -> MessageReport:
    if isinstance(message, MessageReport):
        return message
    if isinstance(message, MessageHeaders):
        return analyze(message)
    name = os.fspath(message)
    found = read_headers([name])
    if not found:
        raise InputError(name, "no message found")
    if len(found) > 1:
        raise UsageError(f"{name} holds {len(found)} messages: trace one message at a time")
    return analyze(found[0])


def _as_table(events: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(events, pa.Table):
        return events
    return pa.Table.from_pandas(events, preserve_index=False)


def _bare(message_id: str | None) -> str | None:
    """A Message-ID without blanks and angle brackets, as Postfix and Exim log it."""
    if not message_id:
        return None
    return message_id.strip().strip("<>").strip() or None


def same_host(log_host: str | None, header_host: str | None) -> bool:
    """Whether a log's host name and a Received ``by`` name are the same server.

    Case and a trailing dot do not matter, and a short name matches its FQDN.

    >>> same_host("mx1", "MX1.example.org."), same_host("mx1.example.org", "mx1.example.net")
    (True, False)
    """
    if not log_host or not header_host:
        return False
    a = log_host.lower().rstrip(".")
    b = header_host.lower().rstrip(".")
    if a == b:
        return True
    if "." in a and "." in b:
        return False
    return a.split(".", 1)[0] == b.split(".", 1)[0]


def _us(t: datetime | None) -> int | None:
    return None if t is None else int(t.timestamp() * 1_000_000)


def _rows(
    table: pa.Table, mask: pa.ChunkedArray | pa.Array, names: list[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.filter(pc.fill_null(mask, False)).select(names).to_pylist()
    return rows


_Found = dict[int, tuple[str | None, str, str]]  # hop index -> (log host, queue id, how)


def _match(hops: list[Hop], table: pa.Table, msgid: str | None, window_s: float) -> _Found:
    """Each hop's own queue file in the logs, by queue id, then Message-ID, then time window."""
    found: _Found = {}
    taken: set[tuple[str, str]] = set()
    names = ["ts", "host", "queue_id", "client_ip"]

    def pick(i: int, how: str, rows: list[dict[str, Any]], limit_s: float | None) -> None:
        by = hops[i].received.by_host
        at = _us(hops[i].received.date_utc)
        best: tuple[float, str | None, str] | None = None
        for r in rows:
            host, qid = r["host"], r["queue_id"]
            if (host or "", qid) in taken:
                continue
            # By queue id a log without host names may be the hop's; under another name only
            # by queue id and time together; by Message-ID or time the host must be the hop's.
            if not (
                same_host(host, by) or (how == QUEUE_ID and not host) or how == QUEUE_ID_ELSEWHERE
            ):
                continue
            when = _us(r["ts"])
            gap = abs(when - at) / 1e6 if at is not None and when is not None else 0.0
            if limit_s is not None and gap > limit_s:
                continue
            if best is None or gap < best[0]:
                best = (gap, host, qid)
        if best is not None:
            found[i] = (best[1], best[2], how)
            taken.add((best[1] or "", best[2]))

    ids = [h.received.id for h in hops if h.received.id]
    if ids:
        mask = pc.is_in(table.column("queue_id"), pa.array(ids, pa.string()))
        by_id = _group(_rows(table, mask, names), "queue_id")
        for i, hop in enumerate(hops):
            if hop.received.id:
                pick(i, QUEUE_ID, by_id.get(hop.received.id, []), None)
        for i, hop in enumerate(hops):
            # Syslog's host name is often not the name the MTA writes in its headers
            # (myhostname, smtp_helo_name): the same queue id at the same moment is enough.
            if i not in found and hop.received.id and hop.received.date_utc:
                pick(i, QUEUE_ID_ELSEWHERE, by_id.get(hop.received.id, []), window_s)
    if msgid is not None:
        logged = pc.utf8_trim(table.column("message_id"), " <>")
        rows = _rows(table, pc.equal(logged, msgid), names)
        for i in range(len(hops)):
            if i not in found:
                pick(i, MESSAGE_ID, rows, MESSAGE_ID_WINDOW_S)
    # Without the hop's timestamp there is no window to look in.
    left = [
        (i, h.received.from_ip, h.received.date_utc)
        for i, h in enumerate(hops)
        if i not in found and h.received.from_ip and h.received.date_utc
    ]
    if left:
        # Only arrivals inside the windows are gathered: a busy client (a filter's 127.0.0.1)
        # has rows all day long.
        times = [t for _, _, t in left]
        ts = table.column("ts")
        lo = pa.scalar(min(times) - timedelta(seconds=window_s), ts.type)
        hi = pa.scalar(max(times) + timedelta(seconds=window_s), ts.type)
        mask = pc.and_(
            pc.and_(
                pc.is_in(table.column("kind"), pa.array(["client", "from"])),
                pc.is_in(table.column("client_ip"), pa.array([ip for _, ip, _ in left])),
            ),
            pc.and_(pc.greater_equal(ts, lo), pc.less_equal(ts, hi)),
        )
        mask = pc.and_(mask, pc.is_valid(table.column("queue_id")))
        by_ip = _group(_rows(table, mask, names), "client_ip")
        for i, ip, _ in left:
            pick(i, TIME_WINDOW, by_ip.get(ip, []), window_s)
    return found


def _group(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    return groups


def _linked(table: pa.Table, seeds: set[str]) -> pa.Table:
    """The rows of ``seeds`` and of every queue id they hand the message on to."""
    keys = set(seeds)
    for _ in range(_MAX_LINKS):
        rows = table.filter(pc.is_in(table.column("queue_id"), pa.array(sorted(keys), pa.string())))
        nxt = {q for q in rows.column("next_queue_id").to_pylist() if q} - keys
        if not nxt:
            return rows
        keys |= nxt
    return table.filter(pc.is_in(table.column("queue_id"), pa.array(sorted(keys), pa.string())))


def _chain(
    chains: list[tuple[str, list[tuple[str | None, str]], dict[str, Any]]],
    host: str | None,
    qid: str,
    taken: set[tuple[str, str]],
) -> tuple[str | None, list[str], tuple[Any, Any]]:
    """The message holding (host, qid), and its queue ids on that host from qid on."""
    for key, chain, m in chains:
        files = [(h or "", q) for h, q in chain]
        if (host or "", qid) not in files:
            continue
        at = files.index((host or "", qid))
        qids = [qid]
        for h, q in files[at + 1 :]:
            if h != (host or "") or (h, q) in taken:
                break
            qids.append(q)
        return key, qids, (m["first_seen"], m["last_seen"])
    return None, [qid], (None, None)


def _hop_events(
    sub: pa.Table, host: str | None, qids: list[str], span: tuple[Any, Any]
) -> pa.Table:
    """The rows of ``qids`` on ``host`` within the message's span, oldest first."""
    hosts = sub.column("host")
    on_host = pc.equal(hosts, host) if host else pc.invert(pc.fill_null(pc.is_valid(hosts), False))
    mask = pc.and_(on_host, pc.is_in(sub.column("queue_id"), pa.array(qids, pa.string())))
    first, last = span
    if first is not None and last is not None:
        ts = sub.column("ts")
        mask = pc.and_(mask, pc.and_(pc.greater_equal(ts, first), pc.less_equal(ts, last)))
    return sub.filter(pc.fill_null(mask, False)).sort_by([("ts", "ascending")])


def _unlogged(hop: Hop) -> HopTrace:
    empty = events_columns(pa.table({}), COLUMNS)
    return HopTrace(hop, None, (), None, empty, DELIVERIES.empty_table(), None)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}


def trace_dict(t: Trace) -> dict[str, Any]:
    """The trace as JSON-ready values: the message, then each hop with its server's log.

    >>> from mailtrace.headers.message import parse_headers
    >>> from mailtrace.schema import EVENTS
    >>> t = trace(parse_headers("Received: by a.example; Sat, 7 Mar 2026 10:00:00 +0000\\n",
    ...                         "m"), EVENTS.empty_table())
    >>> trace_dict(t)["hops"][0]["log"]
    {'matched_by': None}
    """
    s = t.report.summary
    hops = []
    for h in t.hops:
        log: dict[str, Any] = {"matched_by": h.matched_by}
        if h.logged:
            log |= {
                "host": h.host,
                "queue_ids": list(h.queue_ids),
                "message_id_agrees": h.message_id_agrees,
                "events": [_plain(r) for r in h.events.to_pylist()],
                "deliveries": [_plain(r) for r in h.deliveries.to_pylist()],
            }
        hops.append({**hop_dict(h.hop), "log": log})
    return {
        "message": t.report.source,
        "message_id": s.message_id,
        "from": s.from_,
        "subject": s.subject,
        "date_utc": s.date_utc.isoformat() if s.date_utc else None,
        "unlogged_hops": t.unlogged,
        "hops": hops,
    }


def read_trace(message: str | os.PathLike[str], logs: Iterable[str | os.PathLike[str]]) -> Trace:
    """Trace the message in file ``message`` through mail logs or ``logs -o`` datasets.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m.eml").write_text("Received: from a.example ([192.0.2.1]) by mx.example.net"
    ...     " with ESMTP id 3F2E1D0C9B; Sat, 7 Mar 2026 10:00:01 +0000\\n\\nhi\\n")
    >>> _ = (d / "maillog").write_text("2026-03-07T10:00:01+00:00 mx postfix/smtpd[1]: 3F2E1D0C9B: "
    ...     "client=a.example[192.0.2.1]\\n")
    >>> [(h.host, h.matched_by) for h in read_trace(d / "m.eml", [d / "maillog"]).hops]
    [('mx', 'queue id')]
    """
    from mailtrace.paths import read_events

    return trace(message, read_events([Path(p) for p in logs]))


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`trace`.

    ``mailtrace.trace`` is meant to be the function, but importing this submodule makes the
    package attribute of that name the module (the import system sets it after loading), so the
    name means the module whenever ``mailtrace.trace`` was imported first. Calling the module
    calls the function, so ``mailtrace.trace(message, events)`` works in every import order.
    """

    def __call__(
        self,
        message: MessageReport | MessageHeaders | str | os.PathLike[str],
        events: pa.Table | pd.DataFrame,
        *,
        window_s: float = WINDOW_S,
    ) -> Trace:
        return trace(message, events, window_s=window_s)


sys.modules[__name__].__class__ = _CallableModule
