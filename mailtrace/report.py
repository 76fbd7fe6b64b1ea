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

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mailtrace.logs.kinds import Kind
from mailtrace.paths import COLUMNS as PATH_COLUMNS
from mailtrace.paths import events_columns, normalize_reasons, paths_tables

if TYPE_CHECKING:
    import pandas as pd

#: The EVENTS columns a report reads (a Parquet dataset is read with only these).
COLUMNS = tuple(dict.fromkeys((*PATH_COLUMNS, "pid", "text")))


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
        """The report as JSON-ready dicts and lists.

        >>> sorted(Report().to_dict())[:3]
        ['clients', 'detail', 'per_day']
        """
        return asdict(self)


def build_report(events: pa.Table | pd.DataFrame, detail: int = 10) -> Report:
    """Summarise EVENTS (one or several hosts) into a :class:`Report`; ``detail`` caps top lists.

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
    messages, deliveries = paths_tables(events)
    ev = events.select(
        [
            c
            for c in (
                "ts",
                "host",
                "program",
                "pid",
                "kind",
                "action",
                "client_host",
                "client_ip",
                "reply_code",
                "dsn",
                "reply_text",
                "command",
                "text",
                "status",
            )
            if c in events.column_names
        ]
    )
    rep = Report(detail=detail)
    _totals(rep, ev, messages, deliveries)
    _traffic(rep, ev, messages, deliveries)
    _domains(rep, messages, deliveries)
    _smtpd(rep, ev)
    _problems(rep, ev, deliveries)
    return rep


def _np(col: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, Any]:
    return np.asarray(col.to_numpy(zero_copy_only=False))


def _kinds(ev: pa.Table, *kinds: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "kind" not in ev.column_names:
        return np.zeros(ev.num_rows, dtype=bool)
    m = pc.fill_null(pc.is_in(ev.column("kind"), pa.array(kinds, pa.string())), False)
    return np.asarray(_np(m), dtype=bool)


def _received_mask(messages: pa.Table) -> np.ndarray[Any, np.dtype[np.bool_]]:
    # Received = arrived from a client or a local submission and started its own chain: a
    # filter's re-injection is part of its parent's chain, a bounce notice is ours.
    origin = pc.fill_null(pc.is_in(messages.column("origin"), pa.array(["smtp", "local"])), False)
    return np.asarray(_np(origin), dtype=bool)


def _delivered(deliveries: pa.Table) -> pa.Table:
    sent = pc.and_(
        pc.equal(deliveries.column("status"), "sent"), pc.is_null(deliveries.column("hop"))
    )
    return deliveries.filter(pc.fill_null(sent, False))


def _sizes(messages: pa.Table, keys: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """The size of the message each ``keys`` row belongs to (0 when unknown)."""
    idx = pc.index_in(keys, messages.column("message"))
    size = pc.fill_null(pc.take(messages.column("size"), idx), 0)
    return np.asarray(_np(size), dtype=np.int64)


def _totals(rep: Report, ev: pa.Table, messages: pa.Table, deliveries: pa.Table) -> None:
    received = _received_mask(messages)
    status = deliveries.column("status")
    hop = deliveries.column("hop")
    delivered = _delivered(deliveries)
    deferred_rows = pc.fill_null(pc.equal(status, "deferred"), False)
    expired_events = int(_kinds(ev, Kind.EXPIRED).sum())
    t = rep.totals
    t["received"] = int(received.sum())
    t["delivered"] = delivered.num_rows
    t["forwarded"] = int(_np(pc.fill_null(pc.equal(hop, "forward"), False)).sum())
    t["deferred"] = len(set(deliveries.filter(deferred_rows).column("message").to_pylist()))
    t["deferrals"] = int(_np(deferred_rows).sum())
    t["bounced"] = int(_np(pc.fill_null(pc.equal(status, "bounced"), False)).sum())
    t["rejected"] = int(_kinds(ev, Kind.REJECT).sum())
    t["reject_warnings"] = int(_kinds(ev, Kind.REJECT_WARNING).sum())
    t["held"] = int(_kinds(ev, Kind.HOLD).sum())
    t["discarded"] = int(_kinds(ev, Kind.DISCARD).sum())
    t["expired"] = expired_events
    t["expired_recipients"] = int(_np(pc.fill_null(pc.equal(status, "expired"), False)).sum())
    t["bounce_notices"] = int(_kinds(ev, Kind.BOUNCE_NOTICE).sum())
    sizes = np.asarray(_np(pc.fill_null(messages.column("size"), 0)), dtype=np.int64)
    t["bytes_received"] = int(sizes[received].sum())
    t["bytes_delivered"] = int(_sizes(messages, delivered.column("message")).sum())
    senders = messages.filter(pa.array(received)).column("sender")
    t["senders"] = len(pc.unique(pc.drop_null(senders)))
    t["sending_domains"] = len(pc.unique(pc.drop_null(_domain(senders))))
    recips = delivered.column("recipient")
    t["recipients"] = len(pc.unique(pc.drop_null(recips)))
    t["recipient_domains"] = len(pc.unique(pc.drop_null(_domain(recips))))
    # pflogsumm counts failed SASL logins among the warnings, as Postfix logs them.
    t["warnings"] = int(_kinds(ev, Kind.WARNING, Kind.SASL_FAILURE).sum())
    t["fatal"] = int(_kinds(ev, Kind.FATAL).sum())
    t["panic"] = int(_kinds(ev, Kind.PANIC).sum())


def _domain(addresses: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The lower-cased domain of each address; the null sender ``<>`` has none.

    >>> _domain(pa.array(["a@Example.COM", "", None])).to_pylist()
    ['example.com', None, None]
    """
    if isinstance(addresses, pa.ChunkedArray):
        addresses = addresses.combine_chunks()
    pattern = r"@(?P<d>[^@]+)$"
    dom = pc.struct_field(pc.extract_regex(addresses, pattern), "d")
    has = pc.fill_null(pc.match_substring_regex(addresses, pattern), False)
    return pc.utf8_lower(pc.if_else(has, dom, pa.scalar(None, pa.string())))


def _day_hour(ts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    us = np.asarray(_np(pc.fill_null(pc.cast(ts, pa.int64()), 0)), dtype=np.int64)
    day = us // 86_400_000_000
    hour = (us // 3_600_000_000) % 24
    return day, hour


def _traffic(rep: Report, ev: pa.Table, messages: pa.Table, deliveries: pa.Table) -> None:
    import pandas as pd

    received = _received_mask(messages)
    series = {
        "received": messages.column("first_seen").filter(pa.array(received)),
        "delivered": _delivered(deliveries).column("ts"),
        "deferred": deliveries.filter(
            pc.fill_null(pc.equal(deliveries.column("status"), "deferred"), False)
        ).column("ts"),
        "bounced": deliveries.filter(
            pc.fill_null(pc.equal(deliveries.column("status"), "bounced"), False)
        ).column("ts"),
        "rejected": ev.column("ts").filter(pa.array(_kinds(ev, Kind.REJECT))),
    }
    frames = []
    for name, ts in series.items():
        day, hour = _day_hour(ts)
        frames.append(pd.DataFrame({"what": name, "day": day, "hour": hour}))
    allf = pd.concat(frames, ignore_index=True)
    names = list(series)
    by_day = (
        allf.groupby(["day", "what"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=names, fill_value=0)
    )
    for day, counts in zip(by_day.index.tolist(), by_day.to_numpy().tolist(), strict=True):
        date = str(np.datetime64(0, "D") + np.timedelta64(int(day), "D"))
        rep.per_day.append({"date": date, **dict(zip(names, counts, strict=True))})
    by_hour = allf.groupby(["hour", "what"]).size().unstack(fill_value=0)
    by_hour = by_hour.reindex(index=range(24), columns=names, fill_value=0)
    for h, counts in enumerate(by_hour.to_numpy().tolist()):
        rep.per_hour.append({"hour": h, **dict(zip(names, counts, strict=True))})


def _top(frame: pd.DataFrame, by: str, n: int) -> list[dict[str, Any]]:
    rows = frame.sort_values([by, frame.columns[0]], ascending=[False, True]).head(n)
    return [{str(k): _plain(v) for k, v in r.items()} for r in rows.to_dict("records")]


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else round(float(v), 3)
    return v


def _domains(rep: Report, messages: pa.Table, deliveries: pa.Table) -> None:
    import pandas as pd

    n = rep.detail
    delivered = _delivered(deliveries)
    d = pd.DataFrame(
        {
            "recipient": delivered.column("recipient").to_numpy(zero_copy_only=False),
            "domain": _domain(delivered.column("recipient")).to_numpy(zero_copy_only=False),
            "delay": _np(pc.fill_null(delivered.column("total_delay"), np.nan)),
            "bytes": _sizes(messages, delivered.column("message")),
        }
    )
    status = deliveries.column("status")
    bad = pd.DataFrame(
        {
            "domain": _domain(deliveries.column("recipient")).to_numpy(zero_copy_only=False),
            "status": status.to_numpy(zero_copy_only=False),
        }
    )
    defers = bad[bad["status"] == "deferred"].groupby("domain").size()
    bounces = bad[bad["status"] == "bounced"].groupby("domain").size()
    g = d.groupby("domain")
    dom = pd.DataFrame(
        {
            "delivered": g.size(),
            "bytes": g["bytes"].sum(),
            "avg_delay": g["delay"].mean(),
            "p50_delay": g["delay"].quantile(0.5),
            "p95_delay": g["delay"].quantile(0.95),
            "max_delay": g["delay"].max(),
        }
    )
    dom = dom.join(defers.rename("deferrals"), how="outer").join(
        bounces.rename("bounced"), how="outer"
    )
    dom = dom.fillna({"delivered": 0, "bytes": 0, "deferrals": 0, "bounced": 0})
    for c in ("delivered", "bytes", "deferrals", "bounced"):
        dom[c] = dom[c].astype(np.int64)
    dom = dom.rename_axis("domain").reset_index()
    rep.recipient_domains = _top(
        dom[
            [
                "domain",
                "delivered",
                "bytes",
                "deferrals",
                "bounced",
                "avg_delay",
                "p50_delay",
                "p95_delay",
                "max_delay",
            ]
        ],
        "delivered",
        n,
    )
    rc = d.groupby("recipient").agg(count=("bytes", "size"), bytes=("bytes", "sum")).reset_index()
    rep.top_recipients = _top(rc, "count", n)
    rep.top_recipients_by_size = _top(rc, "bytes", n)
    rec = messages.filter(pa.array(_received_mask(messages)))
    m = pd.DataFrame(
        {
            "sender": pc.fill_null(rec.column("sender"), "").to_numpy(zero_copy_only=False),
            "domain": pc.fill_null(_domain(rec.column("sender")), "(none)").to_numpy(
                zero_copy_only=False
            ),
            "client": _client_names(rec),
            "bytes": _np(pc.fill_null(rec.column("size"), 0)).astype(np.int64),
        }
    )
    m["sender"] = m["sender"].replace("", "<>")
    for key, target in (("domain", "sender_domains"), ("client", "clients")):
        agg = m.groupby(key).agg(received=("bytes", "size"), bytes=("bytes", "sum")).reset_index()
        setattr(rep, target, _top(agg, "received", n))
    sc = m.groupby("sender").agg(count=("bytes", "size"), bytes=("bytes", "sum")).reset_index()
    rep.top_senders = _top(sc, "count", n)
    rep.top_senders_by_size = _top(sc, "bytes", n)


def _client_names(rec: pa.Table) -> np.ndarray[Any, Any]:
    host = pc.fill_null(rec.column("client_host"), "unknown")
    ip = rec.column("client_ip")
    joined = pc.binary_join_element_wise(host, pc.fill_null(ip, ""), "[")
    named = pc.if_else(pc.is_valid(ip), pc.binary_join_element_wise(joined, "]", ""), host)
    origin = rec.column("origin")
    out = pc.if_else(pc.equal(origin, "local"), pa.scalar("(local)"), named)
    return np.asarray(_np(out), dtype=object)


def _smtpd(rep: Report, ev: pa.Table) -> None:
    """Inbound SMTP sessions: connections, distinct clients, time connected."""
    import pandas as pd

    prog = pc.fill_null(pc.match_substring(pc.fill_null(ev.column("program"), ""), "smtpd"), False)
    sess = ev.filter(pc.and_(prog, pa.array(_kinds(ev, Kind.CONNECT, Kind.DISCONNECT))))
    f = pd.DataFrame(
        {
            "host": pc.fill_null(sess.column("host"), "").to_numpy(zero_copy_only=False),
            "pid": _np(pc.fill_null(sess.column("pid"), -1)),
            "kind": sess.column("kind").to_numpy(zero_copy_only=False),
            "ts": _np(pc.fill_null(pc.cast(sess.column("ts"), pa.int64()), 0)),
            "client": pc.fill_null(sess.column("client_ip"), "").to_numpy(zero_copy_only=False),
        }
    )
    conn = f[f["kind"] == Kind.CONNECT]
    f = f.sort_values(["host", "pid", "ts"], kind="stable")
    nxt = f.shift(-1)
    pair = (f["kind"] == Kind.CONNECT) & (nxt["kind"] == Kind.DISCONNECT)
    pair &= (nxt["host"] == f["host"]) & (nxt["pid"] == f["pid"])
    secs = (nxt["ts"][pair] - f["ts"][pair]) / 1e6
    rep.smtpd = {
        "connections": len(conn),
        "clients": int(conn["client"].nunique()),
        "completed_sessions": int(pair.sum()),
        "avg_connect_s": round(float(secs.mean()), 3) if len(secs) else None,
        "max_connect_s": round(float(secs.max()), 3) if len(secs) else None,
        "total_connect_s": round(float(secs.sum()), 3),
    }


def _grouped(frame: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """Rows (category, reason, code) counted; the top ``n`` reasons of every category."""
    if frame.empty:
        return []
    g = frame.groupby(["category", "reason"], dropna=False).agg(
        count=("reason", "size"), codes=("code", _codes_seen)
    )
    g = g.reset_index()
    totals = g.groupby("category")["count"].transform("sum")
    g = g.assign(category_total=totals).sort_values(
        ["category_total", "category", "count", "reason"], ascending=[False, True, False, True]
    )
    g = g.groupby("category", sort=False).head(n)
    return [{str(k): _plain(v) for k, v in r.items()} for r in g.to_dict("records")]


def _codes_seen(codes: pd.Series) -> str:
    return ",".join(sorted({str(c) for c in codes if c}))


def _problem_frame(table: pa.Table, categories: pa.Array | None) -> pd.DataFrame:
    import pandas as pd

    text_col = "reply_text" if "reply_text" in table.column_names else "text"
    text = table.column(text_col)
    if "text" in table.column_names and text_col == "reply_text":
        text = pc.coalesce(text, table.column("text"))
    dsn = (
        table.column("dsn")
        if "dsn" in table.column_names
        else pa.nulls(table.num_rows, pa.string())
    )
    code = (
        table.column("reply_code")
        if "reply_code" in table.column_names
        else pa.nulls(table.num_rows, pa.int16())
    )
    code_txt = pc.coalesce(dsn, pc.cast(code, pa.string()))
    return pd.DataFrame(
        {
            "category": (
                categories if categories is not None else pa.nulls(table.num_rows, pa.string())
            ).to_numpy(zero_copy_only=False),
            "reason": normalize_reasons(text).to_numpy(zero_copy_only=False),
            "code": pc.fill_null(code_txt, "").to_numpy(zero_copy_only=False),
        }
    ).fillna({"category": "-"})


def _problems(rep: Report, ev: pa.Table, deliveries: pa.Table) -> None:
    from mailtrace.paths import classify_columns

    n = rep.detail
    status = deliveries.column("status")
    for name, st in (("deferrals", "deferred"), ("bounces", "bounced"), ("expired", "expired")):
        rows = deliveries.filter(pc.fill_null(pc.equal(status, st), False))
        rep.problems[name] = _grouped(_problem_frame(rows, rows.column("category")), n)
    rejects = ev.filter(pa.array(_kinds(ev, Kind.REJECT, Kind.REJECT_WARNING)))
    cats = classify_columns(
        pa.array(["rejected"] * rejects.num_rows, pa.string()),
        rejects.column("reply_code"),
        rejects.column("dsn"),
        pc.coalesce(rejects.column("reply_text"), rejects.column("text")),
    )["category"]
    kinds = rejects.column("kind").to_pylist()
    frame = _problem_frame(rejects, cats)
    warn = np.array([k == Kind.REJECT_WARNING for k in kinds], dtype=bool)
    rep.problems["rejects"] = _grouped(frame[~warn], n)
    rep.problems["reject_warnings"] = _grouped(frame[warn], n)
    for name, kinds in (
        ("warnings", (Kind.WARNING, Kind.SASL_FAILURE)),
        ("fatal", (Kind.FATAL,)),
        ("panic", (Kind.PANIC,)),
    ):
        rows = ev.filter(pa.array(_kinds(ev, *kinds)))
        # Warnings have no reply to classify: the program that logged them is the grouping.
        frame = _problem_frame(rows.drop_columns(["reply_text"]), rows.column("program"))
        rep.problems[name] = _grouped(frame, n)
