"""The pflogsumm-class summary of a mail server's logs, built from EVENTS and the delivery paths.

Counts come from the rebuilt paths, so they add up: a message that passes a content filter is
received once and delivered once (pflogsumm counts both passes), a recipient returned by an
expiry is counted as expired, and rejects from milters, header checks and postscreen are rejects
like any other. Problems are grouped by failure category (``failures.classify``) and by the reply
with its variable parts (addresses, IPs, ids, numbers) blanked, never by text cut at a colon.

The result is plain data (:class:`Report`, JSON-ready through :meth:`Report.to_dict`); render.py
turns it into text.

>>> from mailtrace.schema import EVENTS
>>> build_report(EVENTS.empty_table()).totals["received"]
0
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mailtrace import event_columns
from mailtrace.column_take import take_rows
from mailtrace.lazy_module import LazyModule
from mailtrace.logs.kinds import Kind
from mailtrace.paths import (
    Rebuilt,
    as_mask,
    classify_columns,
    events_columns,
    factorize,
    kind_mask,
    normalize_reasons,
    rebuild,
    sort_rows,
)
from mailtrace.schema import EVENTS

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # imported beside the parse, by the report's preloading, not before it (see LazyModule)
    pc = LazyModule("pyarrow.compute")

if TYPE_CHECKING:
    import pandas as pd

#: The EVENTS columns a report reads (a Parquet dataset is read with only these).
COLUMNS = event_columns.REPORT


#: The problem sections of a report, in order, with their headings.
PROBLEM_TITLES = {
    "deferrals": "Deferrals",
    "bounces": "Bounces",
    "expired": "Expired (returned to sender)",
    "rejects": "Rejects",
    "reject_warnings": "Reject warnings",
    "warnings": "Warnings",
    "fatal": "Fatal errors",
    "panic": "Panics",
}


@dataclass
class Report:
    """Everything the report shows, as plain lists and dicts."""

    totals: dict[str, int] = field(default_factory=dict)
    per_day: list[dict[str, Any]] = field(default_factory=list)
    per_hour: list[dict[str, Any]] = field(default_factory=list)
    recipient_domains: list[dict[str, Any]] = field(default_factory=list)
    sender_domains: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    top_senders: list[dict[str, Any]] = field(default_factory=list)
    top_senders_by_size: list[dict[str, Any]] = field(default_factory=list)
    top_recipients: list[dict[str, Any]] = field(default_factory=list)
    top_recipients_by_size: list[dict[str, Any]] = field(default_factory=list)
    smtpd: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    detail: int = 10

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready dicts and lists: the report's own, not copies (its fields
        hold plain values only; a deep copy took 15 ms of a large log's report).

        >>> sorted(Report().to_dict())[:3]
        ['clients', 'detail', 'per_day']
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_report(
    events: pa.Table | pd.DataFrame, detail: int = 10, sessions: pa.Table | None = None
) -> Report:
    """Summarise EVENTS (one or several hosts) into a :class:`Report`; ``detail`` caps top lists.

    ``sessions``: smtpd's connect and disconnect events parsed apart from ``events``, which
    come after those ``events`` holds (see :func:`mailtrace.paths.read_events_apart`).

    >>> from mailtrace.schema import EVENTS
    >>> ev = pa.Table.from_pylist([
    ...     {"ts": 0, "host": "mx", "queue_id": "Q1", "kind": "client", "client_host": "a.example",
    ...      "client_ip": "192.0.2.1"},
    ...     {"ts": 1, "host": "mx", "queue_id": "Q1", "kind": "from", "sender": "s@example.org",
    ...      "size": 1000, "nrcpt": 1},
    ...     {"ts": 2, "host": "mx", "queue_id": "Q1", "kind": "delivery", "status": "sent",
    ...      "recipient": "r@example.com", "delay": 1.5},
    ...     {"ts": 3, "host": "mx", "kind": "reject", "reply_code": 554, "dsn": "5.7.1",
    ...      "reply_text": "Service unavailable; Client host [192.0.2.9] blocked using "
    ...                    "zen.spamhaus.org"}], EVENTS)
    >>> r = build_report(ev)
    >>> [r.totals[k] for k in ("received", "delivered", "rejected", "bytes_delivered")]
    [1, 1, 1, 1000]
    >>> r.problems["rejects"][0]["count"]
    1
    """
    if not isinstance(events, pa.Table):
        events = pa.Table.from_pandas(events, preserve_index=False)
    events = events_columns(events, COLUMNS)
    rep = Report(detail=detail)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # What reads only EVENTS (the kinds, then the sections that need nothing else) runs
        # beside the rebuilding of the paths: Arrow and NumPy kernels let go of the GIL, so a
        # second core shortens the report.
        coded = pool.submit(_Kinds.of, events)
        side = pool.submit(lambda: _event_sections(events, coded.result(), detail, sessions))
        paths = rebuild(
            events,
            lambda: (coded.result().narrow, coded.result().names),
            message_columns=_MESSAGE_COLUMNS,
            delivery_columns=_DELIVERY_COLUMNS,
        )
        data = _Data(events, paths, coded.result())
        # Received mail (senders, clients) is summed up in the side thread too, while this one
        # does sent mail: its recipients, then its problems (the two halves take about as long,
        # 75 and 70 ms on the 1M-line log; the problems on the side made it 90 against 55).
        inbound = pool.submit(_senders, rep, data)
        sent = _Sent.of(data)
        _traffic(rep, data)
        _domains(rep, data, sent)
        problems = _delivery_problems(data, detail)
        rep.smtpd, event_problems = side.result()
        _totals(rep, data, sent, inbound.result())
        rep.problems = {**problems, **event_problems}
    return rep


_Bool = np.ndarray[Any, np.dtype[np.bool_]]


def _ints(arr: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.int64]]:
    filled = pc.fill_null(pc.cast(arr, pa.int64()), 0)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _codes(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray[Any, Any], list[Any]]:
    codes, values = factorize(col)
    return codes, values.to_pylist()


# The columns of MESSAGES the report reads for received mail.
_INBOUND = ["sender", "size", "client_host", "client_ip", "origin", "first_seen"]
# Every column of MESSAGES and DELIVERIES the report reads: the paths make no others.
_MESSAGE_COLUMNS = frozenset(_INBOUND)
_DELIVERY_COLUMNS = frozenset(
    (
        "ts",
        "recipient",
        "status",
        "dsn",
        "reply_code",
        "reply_text",
        "total_delay",
        "hop",
        "category",
    )
)


class _Kinds:
    """The events' kinds as integer codes: masks and counts without a string comparison."""

    @classmethod
    def of(cls, events: pa.Table) -> _Kinds:
        """The kinds of ``events``."""
        codes, names = factorize(events.column("kind"))
        return cls(codes, names.to_pylist())

    def __init__(self, codes: np.ndarray[Any, np.dtype[np.int64]], names: list[str]) -> None:
        self.codes = codes
        self.names = names
        self._index = {v: i for i, v in enumerate(names)}
        # Events of each kind, counted once for every total that needs one.
        self._count = np.bincount(codes + 1, minlength=len(names) + 1)[1:]
        #: The codes as int32: they compare fast, for the masks (and the paths' own).
        self.narrow = codes.astype(np.int32)

    def mask(self, *kinds: str) -> _Bool:
        """Events whose kind is one of ``kinds``."""
        return kind_mask(self.narrow, self._index, kinds)

    def count(self, *kinds: str) -> int:
        """How many events have one of ``kinds``."""
        return sum(int(self._count[self._index[k]]) for k in kinds if k in self._index)


class _Data:
    """The tables once, with the masks every section shares computed once."""

    def __init__(self, events: pa.Table, paths: Rebuilt, kinds: _Kinds) -> None:
        self.events = events
        self.messages = messages = paths.messages
        self.deliveries = deliveries = paths.deliveries
        self.reasons = paths.reasons
        self.kinds = kinds.mask
        self.count = kinds.count
        # Received = arrived from a client or by local submission and started its own chain:
        # a filter's re-injection is part of its parent's chain, a bounce notice is ours.
        self.received = as_mask(pc.is_in(messages.column("origin"), pa.array(["smtp", "local"])))
        status = deliveries.column("status")
        self.status = {
            s: as_mask(pc.equal(status, s)) for s in ("sent", "deferred", "bounced", "expired")
        }
        self.handed_on = as_mask(pc.is_valid(deliveries.column("hop")))
        self.delivered = self.status["sent"] & ~self.handed_on
        # Bytes of each attempt: the size of its message as received.
        self.message_row = paths.message_row
        self.attempt_bytes = _ints(messages.column("size"))[self.message_row]
        # The few columns the sections read, filtered once (not every column of the tables).
        self.inbound = messages.select(_INBOUND).filter(pa.array(self.received))


@dataclass
class _Sent:
    """The recipients of sent mail, each distinct address (and its domain) looked at once."""

    #: Attempts that count towards a recipient domain: delivered, deferred or bounced.
    counted: _Bool
    #: The domain of each counted attempt, as a code into ``domain_names`` (-1: none).
    domain: np.ndarray[Any, Any]
    domain_names: list[str]
    #: Delivered recipients with their count and bytes (:func:`_tally`).
    recipients: tuple[list[Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]

    @classmethod
    def of(cls, d: _Data) -> _Sent:
        """The recipients of ``d``'s attempts."""
        recipient = d.deliveries.column("recipient")
        counted = d.delivered | d.status["deferred"] | d.status["bounced"]
        codes, values = factorize(recipient.filter(pa.array(counted)))
        domain, domain_names = factorize(_domains_of(values))
        recips = recipient.filter(pa.array(d.delivered))
        return cls(
            counted,
            _recode(codes, domain),
            domain_names.to_pylist(),
            _tally(recips, d.attempt_bytes[d.delivered]),
        )


def _count_distinct(arr: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.count_distinct(arr, mode="only_valid").as_py())


def _recode(codes: np.ndarray[Any, Any], table: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``table[codes]``, with -1 (null) staying -1."""
    out = np.full(len(codes), -1, dtype=np.int64)
    ok = codes >= 0
    out[ok] = table[codes[ok]]
    return out


def _totals(rep: Report, d: _Data, sent: _Sent, inbound: dict[str, int]) -> None:
    dl = d.deliveries
    t = rep.totals
    t["received"] = int(d.received.sum())
    t["delivered"] = int(d.delivered.sum())
    t["forwarded"] = int(as_mask(pc.equal(dl.column("hop"), "forward")).sum())
    t["deferred"] = len(np.unique(d.message_row[d.status["deferred"]]))
    t["deferrals"] = int(d.status["deferred"].sum())
    t["bounced"] = int(d.status["bounced"].sum())
    t["rejected"] = d.count(Kind.REJECT)
    t["reject_warnings"] = d.count(Kind.REJECT_WARNING)
    t["held"] = d.count(Kind.HOLD)
    t["discarded"] = d.count(Kind.DISCARD)
    t["expired"] = d.count(Kind.EXPIRED)
    t["expired_recipients"] = int(d.status["expired"].sum())
    t["bounce_notices"] = d.count(Kind.BOUNCE_NOTICE)
    t["bytes_received"] = inbound["bytes_received"]
    t["bytes_delivered"] = int(d.attempt_bytes[d.delivered].sum())
    t["senders"] = inbound["senders"]
    t["sending_domains"] = inbound["sending_domains"]
    t["recipients"] = len(sent.recipients[0])
    domains = sent.domain[d.delivered[sent.counted]]
    t["recipient_domains"] = len(np.unique(domains[domains >= 0]))
    # pflogsumm counts failed SASL logins among the warnings, as Postfix logs them.
    t["warnings"] = d.count(Kind.WARNING, Kind.SASL_FAILURE)
    t["fatal"] = d.count(Kind.FATAL)
    t["panic"] = d.count(Kind.PANIC)


def address_domains(addresses: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The lower-cased domain of each address; the null sender ``<>`` has none.

    >>> address_domains(pa.array(["a@Example.COM", "", None])).to_pylist()
    ['example.com', None, None]
    """
    # Addresses repeat: work on each distinct one once.
    codes, values = factorize(addresses)
    return _spread(_domains_of(values), codes)


def _domains_of(values: pa.Array) -> pa.Array:
    """The lower-cased domain of each address of ``values``: what follows its last ``@``, null
    where there is no ``@`` or nothing after it.

    >>> _domains_of(pa.array(["a@b@Example.COM", "x@", "noat", None])).to_pylist()
    ['example.com', None, None, None]
    """
    # Split at the last @ rather than extract with RE2: a third less time (36,000 senders).
    parts = pc.split_pattern(values, "@", max_splits=1, reverse=True)
    split = pc.equal(pc.list_value_length(parts), 2)
    after = pc.list_element(pc.if_else(split, parts, pa.scalar(["", ""], parts.type)), 1)
    return pc.utf8_lower(pc.if_else(pc.equal(after, ""), pa.scalar(None, pa.string()), after))


def _spread(values: pa.Array, codes: np.ndarray[Any, Any]) -> pa.Array:
    """``values`` at ``codes`` (-1 gives null)."""
    if len(values) == 0:
        return pa.nulls(len(codes), values.type)
    return pc.take(values, pa.array(np.where(codes >= 0, codes, 0), mask=codes < 0))


def _day_hour(ts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    us = _ints(ts)
    return us // 86_400_000_000, (us // 3_600_000_000) % 24


def _traffic(rep: Report, d: _Data) -> None:
    dl = d.deliveries
    series = {
        "received": d.inbound.column("first_seen"),
        "delivered": dl.column("ts").filter(pa.array(d.delivered)),
        "deferred": dl.column("ts").filter(pa.array(d.status["deferred"])),
        "bounced": dl.column("ts").filter(pa.array(d.status["bounced"])),
        "rejected": d.events.column("ts").filter(pa.array(d.kinds(Kind.REJECT))),
    }
    split = {name: _day_hour(ts) for name, ts in series.items()}
    days = np.unique(np.concatenate([day for day, _ in split.values()]))
    for day in days.tolist():
        date = str(np.datetime64(0, "D") + np.timedelta64(day, "D"))
        rep.per_day.append(
            {"date": date, **{k: int((v[0] == day).sum()) for k, v in split.items()}}
        )
    hours = {k: np.bincount(v[1], minlength=24) for k, v in split.items()}
    rep.per_hour = [{"hour": h, **{k: int(c[h]) for k, c in hours.items()}} for h in range(24)]


def _top(
    keys: list[Any], columns: dict[str, np.ndarray[Any, Any]], by: str, n: int, key: str
) -> list[dict[str, Any]]:
    """The ``n`` rows with the largest ``by`` (ties by key), as dicts."""
    values = np.asarray(columns[by])
    # Ties at the cut keep first appearance; the shown rows then sort by value, then key.
    best = np.argsort(-values, kind="stable")[:n].tolist()
    order = sorted(best, key=lambda i: (-values[i], str(keys[i])))
    return [{key: keys[i], **{c: _plain(v[i]) for c, v in columns.items()}} for i in order]


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return None if np.isnan(v) else round(float(v), 3)
    return v


def _tally(
    keys: pa.Array | pa.ChunkedArray, weights: np.ndarray[Any, Any]
) -> tuple[list[Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Distinct keys with their count and summed weight (null keys left out)."""
    code, names = _codes(keys)
    return _tally_codes(code, names, weights)


def _tally_codes(
    code: np.ndarray[Any, Any], names: list[Any], weights: np.ndarray[Any, Any]
) -> tuple[list[Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """:func:`_tally` of keys already coded (-1: null)."""
    ok = code >= 0
    count = np.bincount(code[ok], minlength=len(names))
    total = np.bincount(code[ok], weights=weights[ok], minlength=len(names)).astype(np.int64)
    return names, count, total


def _domains(rep: Report, d: _Data, rcpt: _Sent) -> None:
    """Per recipient domain: deliveries, bytes, deferrals, bounces and delay percentiles."""
    dl = d.deliveries
    rows = rcpt.counted
    code, names = rcpt.domain, rcpt.domain_names
    ok = code >= 0
    nd = len(names)
    kinds = {
        "delivered": d.delivered[rows],
        "deferrals": d.status["deferred"][rows],
        "bounced": d.status["bounced"][rows],
    }
    cols: dict[str, np.ndarray[Any, Any]] = {
        k: np.bincount(code[ok & m], minlength=nd) for k, m in kinds.items()
    }
    sent = ok & kinds["delivered"]
    cols["bytes"] = np.bincount(code[sent], weights=d.attempt_bytes[rows][sent], minlength=nd)
    cols["bytes"] = cols["bytes"].astype(np.int64)
    delay = np.asarray(
        pc.fill_null(dl.column("total_delay").filter(pa.array(rows)), np.nan).to_numpy(
            zero_copy_only=False
        )
    )
    stats = group_delays(code[sent], delay[sent], nd)
    cols.update(stats)
    order = ["delivered", "bytes", "deferrals", "bounced", *stats]
    rep.recipient_domains = _top(
        names, {k: cols[k] for k in order}, "delivered", rep.detail, "domain"
    )
    names, count, total = rcpt.recipients
    rep.top_recipients = _top(
        names, {"count": count, "bytes": total}, "count", rep.detail, "recipient"
    )
    rep.top_recipients_by_size = _top(
        names, {"count": count, "bytes": total}, "bytes", rep.detail, "recipient"
    )


def group_delays(
    group: np.ndarray[Any, Any], delay: np.ndarray[Any, Any], n: int
) -> dict[str, Any]:
    """Mean, median, 95th percentile and maximum of ``delay`` for each group 0 … ``n``-1.

    NaN delays are left out and a group without any gets NaN, as pandas' group-by gives; the
    percentiles interpolate linearly between the two nearest values (pandas' and NumPy's default).
    Done in NumPy because importing pandas costs a report 0.25 CPU-s on its own.

    >>> stats = group_delays(np.array([0, 0, 0, 2]), np.array([1.0, 3.0, 2.0, np.nan]), 3)
    >>> {k: v.tolist() for k, v in stats.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'avg_delay': [2.0, nan, nan], 'p50_delay': [2.0, nan, nan],
     'p95_delay': [2.9, nan, nan], 'max_delay': [3.0, nan, nan]}
    """
    known = ~np.isnan(delay)
    group, delay = group[known], delay[known]
    # By delay, then by group keeping that order: only the values count, so equal delays need
    # no stable sort, and groups that fit 16 bits sort by radix (5 ms against lexsort's 20 ms
    # for the 1M-line log's 106,000 deliveries).
    order = np.argsort(delay)
    by_group = group[order].astype(np.uint16) if n <= 1 << 16 else group[order]
    order = order[np.argsort(by_group, kind="stable")]
    group, delay = group[order], delay[order]
    count = np.bincount(group, minlength=n)
    has = count > 0
    first = (np.cumsum(count) - count)[has]
    size = count[has]
    out = {k: np.full(n, np.nan) for k in ("avg_delay", "p50_delay", "p95_delay", "max_delay")}
    out["avg_delay"][has] = np.bincount(group, weights=delay, minlength=n)[has] / size
    for name, q in (("p50_delay", 0.5), ("p95_delay", 0.95)):
        at = q * (size - 1)
        low = np.floor(at).astype(np.int64)
        high = np.minimum(low + 1, size - 1)
        below, above = delay[first + low], delay[first + high]
        out[name][has] = below + (above - below) * (at - low)
    out["max_delay"][has] = delay[first + size - 1]
    return out


def _senders(rep: Report, d: _Data) -> dict[str, int]:
    """Received mail per sender, sender domain and client; the totals of received mail."""
    rec = d.inbound
    size = _ints(rec.column("size"))
    n = rep.detail
    # Each distinct sender once: its name as shown (<> for the null sender) and its domain.
    codes, values = factorize(rec.column("sender"))
    shown, shown_names = factorize(pc.if_else(pc.equal(values, ""), pa.scalar("<>"), values))
    names, count, total = _tally_codes(_recode(codes, shown), shown_names.to_pylist(), size)
    rep.top_senders = _top(names, {"count": count, "bytes": total}, "count", n, "sender")
    rep.top_senders_by_size = _top(names, {"count": count, "bytes": total}, "bytes", n, "sender")
    domains = _spread(_domains_of(values), codes)
    names, count, total = _tally(pc.fill_null(domains, "(none)"), size)
    rep.sender_domains = _top(names, {"received": count, "bytes": total}, "received", n, "domain")
    names, count, total = _tally(_client_names(rec), size)
    rep.clients = _top(names, {"received": count, "bytes": total}, "received", n, "client")
    return {
        "bytes_received": int(size.sum()),
        "senders": len(values),
        "sending_domains": _count_distinct(domains),
    }


def _client_names(rec: pa.Table) -> pa.Array:
    host = pc.fill_null(rec.column("client_host"), "unknown")
    ip = rec.column("client_ip")
    joined = pc.binary_join_element_wise(host, pc.fill_null(ip, ""), "[")
    named = pc.if_else(pc.is_valid(ip), pc.binary_join_element_wise(joined, "]", ""), host)
    return pc.if_else(pc.equal(rec.column("origin"), "local"), pa.scalar("(local)"), named)


def _event_sections(
    ev: pa.Table, kinds: _Kinds, n: int, sessions: pa.Table | None = None
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The parts of a report that read EVENTS alone: SMTP sessions and the event problems."""
    return _smtpd(_session_events(ev, kinds, sessions)), _event_problems(ev, kinds, n)


# What the count of SMTP sessions reads of a connect or disconnect.
_SESSION_COLUMNS = ("ts", "host", "program", "pid", "kind", "client_ip")


def _session_events(ev: pa.Table, kinds: _Kinds, sessions: pa.Table | None) -> pa.Table:
    """The connects and disconnects of ``ev``, then ``sessions`` (those parsed apart)."""
    at = pa.array(np.flatnonzero(kinds.mask(Kind.CONNECT, Kind.DISCONNECT)))
    schema = pa.schema([EVENTS.field(name) for name in _SESSION_COLUMNS])
    rows = pa.Table.from_arrays(
        [take_rows(ev.column(name), at) for name in _SESSION_COLUMNS], schema=schema
    )
    if sessions is None:
        return rows
    return pa.concat_tables([rows, events_columns(sessions, _SESSION_COLUMNS)])


def _smtpd(sess: pa.Table) -> dict[str, Any]:
    """Inbound SMTP sessions, from their connects and disconnects in log order: connections,
    distinct clients, time connected."""
    # A few programs log the sessions: each distinct name is looked at once.
    program, names = factorize(sess.column("program"))
    smtpd = np.append(as_mask(pc.match_substring(names, "smtpd")), False)  # null: not smtpd
    if not smtpd[program].all():
        sess = sess.filter(pa.array(smtpd[program]))
    hosts = sess.column("host")
    if hosts.null_count == 0 and len(hosts) and pc.all(pc.equal(hosts, hosts[0])).as_py():
        host = np.zeros(len(hosts), dtype=np.int64)  # one host's log: no strings to hash
    else:
        host, _ = _codes(hosts)
    pid = _ints(sess.column("pid"))
    ts = _ints(sess.column("ts"))
    is_conn = as_mask(pc.equal(sess.column("kind"), "connect"))
    # By host, process, then time (its rank in a stable sort: a log is nearly in time order).
    rank = np.empty(len(ts), dtype=np.int64)
    rank[np.argsort(ts, kind="stable")] = np.arange(len(ts))
    order = sort_rows(host, pid, rank)
    h, p, t, c = host[order], pid[order], ts[order], is_conn[order]
    pair = c[:-1] & ~c[1:] & (h[:-1] == h[1:]) & (p[:-1] == p[1:])
    secs = (t[1:] - t[:-1])[pair] / 1e6
    return {
        "connections": int(is_conn.sum()),
        "clients": _count_distinct(sess.column("client_ip").filter(pa.array(is_conn))),
        "completed_sessions": int(pair.sum()),
        "avg_connect_s": round(float(secs.mean()), 3) if len(secs) else None,
        "max_connect_s": round(float(secs.max()), 3) if len(secs) else None,
        "total_connect_s": round(float(secs.sum()), 3),
    }


def grouped_reasons(
    category: pa.Array, reason: pa.Array, code: pa.Array, n: int
) -> list[dict[str, Any]]:
    """(category, reason) counted with the codes seen; the top ``n`` reasons of every category."""
    if len(category) == 0:
        return []
    # Coded and counted in NumPy: Arrow's group-by would import pyarrow.acero and with it
    # pyarrow.dataset and pandas (0.3 CPU-s) into every report.
    cat, cat_names = factorize(pc.fill_null(category, "-"))
    why, why_names = factorize(reason)
    how, how_names = factorize(code)
    n_why, n_how = len(why_names) + 1, len(how_names) + 1  # code 0: null
    groups, group, count = np.unique(cat * n_why + why + 1, return_inverse=True, return_counts=True)
    codes: list[list[str]] = [[] for _ in groups]
    how_list = how_names.to_pylist()
    for pair in np.unique(group.ravel() * n_how + how + 1).tolist():
        if pair % n_how:
            codes[pair // n_how].append(how_list[pair % n_how - 1])
    cat_list, why_list = cat_names.to_pylist(), [None, *why_names.to_pylist()]
    rows = [
        {
            "category": cat_list[key // n_why],
            "reason": why_list[key % n_why],
            "count_all": k,
            "code_distinct": codes[g],
        }
        for g, (key, k) in enumerate(zip(groups.tolist(), count.tolist(), strict=True))
    ]
    per_cat: dict[str, int] = {}
    for r in rows:
        per_cat[r["category"]] = per_cat.get(r["category"], 0) + r["count_all"]
    rows.sort(key=lambda r: (-per_cat[r["category"]], r["category"], -r["count_all"], r["reason"]))
    out: list[dict[str, Any]] = []
    shown: dict[str, int] = {}
    for r in rows:
        if shown.get(r["category"], 0) >= n:
            continue
        shown[r["category"]] = shown.get(r["category"], 0) + 1
        out.append(
            {
                "category": r["category"],
                "reason": r["reason"],
                "count": r["count_all"],
                "codes": ",".join(sorted(c for c in r["code_distinct"] if c)),
                "category_total": per_cat[r["category"]],
            }
        )
    return out


def _code_text(table: pa.Table) -> pa.Array:
    code = pc.coalesce(table.column("dsn"), pc.cast(table.column("reply_code"), pa.string()))
    return pc.fill_null(code, "")


def _delivery_problems(d: _Data, n: int) -> dict[str, list[dict[str, Any]]]:
    """Deferrals, bounces and expiries grouped by category and reason."""
    problem = d.deliveries.select(["category", "reply_text", "dsn", "reply_code"])
    out = {}
    for name, st in (("deferrals", "deferred"), ("bounces", "bounced"), ("expired", "expired")):
        keep = pa.array(d.status[st])
        rows = problem.filter(keep)
        # Deferred and bounced replies were blanked once already, to be classified.
        reasons = (
            d.reasons.filter(keep)
            if d.reasons is not None and st != "expired"
            else normalize_reasons(rows.column("reply_text"))
        )
        out[name] = grouped_reasons(rows.column("category"), reasons, _code_text(rows), n)
    return out


def _event_problems(ev: pa.Table, kinds: _Kinds, n: int) -> dict[str, list[dict[str, Any]]]:
    """Rejects, reject warnings, warnings, fatal errors and panics grouped by reason."""
    out = {}
    reject_columns = ["kind", "reply_text", "text", "reply_code", "dsn"]
    rejects = ev.select(reject_columns).filter(
        pa.array(kinds.mask(Kind.REJECT, Kind.REJECT_WARNING))
    )
    text = pc.coalesce(rejects.column("reply_text"), rejects.column("text"))
    reasons = normalize_reasons(text)
    cats = classify_columns(
        pa.nulls(rejects.num_rows, pa.string()),
        rejects.column("reply_code"),
        rejects.column("dsn"),
        text,
        reasons,
    )["category"]
    warn = as_mask(pc.equal(rejects.column("kind"), Kind.REJECT_WARNING))
    codes = _code_text(rejects)
    for name, mask in (("rejects", ~warn), ("reject_warnings", warn)):
        keep = pa.array(mask)
        out[name] = grouped_reasons(cats.filter(keep), reasons.filter(keep), codes.filter(keep), n)
    for name, which in (
        ("warnings", (Kind.WARNING, Kind.SASL_FAILURE)),
        ("fatal", (Kind.FATAL,)),
        ("panic", (Kind.PANIC,)),
    ):
        rows = ev.select(["program", "text"]).filter(pa.array(kinds.mask(*which)))
        # Warnings have no reply to classify: the program that logged them is the grouping.
        out[name] = grouped_reasons(
            rows.column("program"),
            normalize_reasons(rows.column("text")),
            pa.array([""] * rows.num_rows, pa.string()),
            n,
        )
    return out
