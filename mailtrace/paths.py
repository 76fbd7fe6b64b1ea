"""Delivery paths: the EVENTS of many log lines rebuilt into messages and recipient attempts.

A message's life is spread over many lines and, often, over several queue ids: a content filter
re-injects it under a new id (``250 2.0.0 Ok: queued as NEWID`` from the filter on
127.0.0.1:10025), local forwarding gives it another (``forwarded as NEWID``), the next server in
the chain another again, and a bounce notice is a new message of its own (``sender non-delivery
notification: NEWID``). A queue id may also be reused once its file is ``removed``. This module
follows all of that, vectorised: one sort, integer group codes, and a handful of joins, so a
million-line log takes seconds, not a Python loop per line.

The unit of work is the *queue file*: one (host, queue id) between two ``removed`` lines. Queue
files linked by a hand-off (filter, forward, relay to another host whose log is given) form one
message; a bounce notice is its own message whose ``parent`` names the message it reports on.

>>> import pyarrow as pa
>>> from mailtrace.schema import EVENTS
>>> rows = [
...     dict(ts=0, host="mx", queue_id="A1", kind="client", client_host="a.example",
...          client_ip="192.0.2.1"),
...     dict(ts=1, host="mx", queue_id="A1", kind="from", sender="s@example.org", size=900,
...          nrcpt=1),
...     dict(ts=2, host="mx", queue_id="A1", kind="delivery", recipient="r@example.com",
...          status="sent", relay_ip="127.0.0.1", next_queue_id="B2", delay=2.0),
...     dict(ts=1, host="mx", queue_id="B2", kind="client", client_host="localhost"),
...     dict(ts=3, host="mx", queue_id="B2", kind="delivery", recipient="r@example.com",
...          status="sent", delay=2.0),
... ]
>>> events = pa.Table.from_pylist([{**r, "ts": r["ts"] * 1_000_000} for r in rows], EVENTS)
>>> messages, deliveries = delivery_paths(events)
>>> messages["queue_ids"].tolist()
[['A1', 'B2']]
>>> deliveries[["queue_id", "final", "total_delay"]].values.tolist()
[['A1', True, 2.0], ['B2', True, 3.0]]
>>> deliveries["hop"].fillna("-").tolist()
['filter', '-']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mailtrace.errors import InputError
from mailtrace.logs.kinds import Kind
from mailtrace.schema import DELIVERIES, EVENTS, FAILURES, MESSAGES

if TYPE_CHECKING:
    import pandas as pd

# The EVENTS columns the paths need; a Parquet dataset is read with only these.
COLUMNS = (
    "ts",
    "host",
    "program",
    "queue_id",
    "kind",
    "action",
    "client_host",
    "client_ip",
    "sender",
    "recipient",
    "orig_recipient",
    "relay_host",
    "relay_ip",
    "relay_port",
    "status",
    "dsn",
    "reply_code",
    "reply_text",
    "command",
    "delay",
    "delays_a",
    "delays_b",
    "delays_c",
    "delays_d",
    "size",
    "nrcpt",
    "message_id",
    "next_queue_id",
    "text",
    "source",
    "line",
)

# A child queue file must appear within this many seconds of the hand-off that names it: queue
# ids are reused over weeks, and two hosts' clocks may differ by a few minutes.
LINK_WINDOW_US = 3600 * 1_000_000
_LOOPBACK = ("127.0.0.1", "::1")
_IntArray = np.ndarray[Any, np.dtype[np.int64]]


def delivery_paths(events: pa.Table | pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MESSAGES and DELIVERIES frames (pandas with Arrow dtypes) rebuilt from EVENTS.

    ``events`` may come from several hosts' logs: a ``queued as`` id named by one host's delivery
    that appears in another host's log joins the two paths into one message.

    >>> from mailtrace.schema import EVENTS
    >>> m, d = delivery_paths(EVENTS.empty_table())
    >>> (len(m), len(d), list(d.columns[:3]))
    (0, 0, ['message', 'host', 'queue_id'])
    """
    import pandas as pd

    messages, deliveries = paths_tables(events)
    return (
        messages.to_pandas(types_mapper=pd.ArrowDtype),
        deliveries.to_pandas(types_mapper=pd.ArrowDtype),
    )


def paths_tables(events: pa.Table | pd.DataFrame) -> tuple[pa.Table, pa.Table]:
    """Like :func:`delivery_paths`, as Arrow tables with the MESSAGES and DELIVERIES schemas.

    >>> from mailtrace.schema import EVENTS
    >>> [t.num_rows for t in paths_tables(EVENTS.empty_table())]
    [0, 0]
    """
    table = _as_table(events)
    # Postfix writes NOQUEUE where a refusal came before any queue file existed.
    qid = table.column("queue_id")
    ev = table.filter(pc.fill_null(pc.not_equal(qid, "NOQUEUE"), False))
    if ev.num_rows == 0:
        return MESSAGES.empty_table(), DELIVERIES.empty_table()
    ev = _sorted(ev)
    seg = _segments(ev)
    files = _queue_files(ev, seg)
    dl = _deliveries(ev, seg, files)
    _link(ev, dl, files)
    return _messages(files, dl)


def _as_table(events: pa.Table | pd.DataFrame) -> pa.Table:
    if not isinstance(events, pa.Table):
        events = pa.Table.from_pandas(events, preserve_index=False)
    missing = [c for c in COLUMNS if c not in events.column_names]
    for name in missing:
        # A partial EVENTS table (an Exim-only parse, a projection) still works: absent = null.
        events = events.append_column(name, pa.nulls(events.num_rows, _events_type(name)))
    return events.select(list(COLUMNS)).combine_chunks()


def _events_type(name: str) -> pa.DataType:
    return EVENTS.field(name).type


def _sorted(ev: pa.Table) -> pa.Table:
    """Events in time order; lines of one second keep their order in the log."""
    ts = _ts_us(ev.column("ts"))
    order = np.lexsort((np.arange(len(ts)), ts))
    return ev.take(pa.array(order))


def _ts_us(col: pa.ChunkedArray | pa.Array) -> _IntArray:
    ints = pc.cast(col, pa.int64())
    return np.asarray(pc.fill_null(ints, np.iinfo(np.int64).min).to_numpy(), dtype=np.int64)


def _codes(col: pa.ChunkedArray | pa.Array) -> tuple[_IntArray, pa.Array]:
    """Integer codes and the distinct values of a string column (nulls share code -1)."""
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(), dtype=np.int64)
    return idx, enc.dictionary


def _kind_mask(ev: pa.Table, *kinds: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    mask = pc.is_in(ev.column("kind"), pa.array(kinds, pa.string()))
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _first_index(seg: _IntArray, mask: np.ndarray[Any, Any], nseg: int) -> _IntArray:
    """Per queue file, the row index of its first row where ``mask`` holds (-1 if none)."""
    out = np.full(nseg, -1, dtype=np.int64)
    rows = np.flatnonzero(mask)
    uniq, first = np.unique(seg[rows], return_index=True)
    out[uniq] = rows[first]
    return out


def _segments(ev: pa.Table) -> _IntArray:
    """Queue-file number of each (sorted) event: (host, queue id), split after ``removed``."""
    host = pc.fill_null(ev.column("host"), "")
    key = pc.binary_join_element_wise(host, ev.column("queue_id"), "\x1f")
    code, _ = _codes(key)
    removed = _kind_mask(ev, Kind.REMOVED).astype(np.int64)
    # Removals before each row within its (host, queue id): a stable sort by code keeps time order.
    order = np.argsort(code, kind="stable")
    rem_sorted = removed[order]
    code_sorted = code[order]
    csum = np.cumsum(rem_sorted)
    starts = np.flatnonzero(np.r_[True, code_sorted[1:] != code_sorted[:-1]])
    base = np.repeat(csum[starts] - rem_sorted[starts], np.diff(np.r_[starts, len(order)]))
    before = np.empty_like(csum)
    before[order] = csum - rem_sorted - base
    pair = code * (int(before.max()) + 1) + before
    _, seg = np.unique(pair, return_inverse=True)
    return np.asarray(seg, dtype=np.int64)


def _queue_files(ev: pa.Table, seg: _IntArray) -> dict[str, Any]:
    """One record per queue file: who sent it, when, how big, and how it ended."""
    nseg = int(seg.max()) + 1
    n = len(seg)
    first = np.full(nseg, n, dtype=np.int64)
    np.minimum.at(first, seg, np.arange(n))
    last = np.zeros(nseg, dtype=np.int64)
    np.maximum.at(last, seg, np.arange(n))
    client_i = _first_index(seg, _kind_mask(ev, Kind.CLIENT), nseg)
    pickup_i = _first_index(seg, _kind_mask(ev, Kind.PICKUP), nseg)
    from_i = _first_index(seg, _kind_mask(ev, Kind.FROM), nseg)
    msgid_i = _first_index(seg, _kind_mask(ev, Kind.MESSAGE_ID), nseg)
    removed_i = _first_index(seg, _kind_mask(ev, Kind.REMOVED), nseg)
    expired_m = _kind_mask(ev, Kind.EXPIRED)
    status = ev.column("status")
    expired_m |= _kind_mask(ev, Kind.DELIVERY) & np.asarray(
        pc.fill_null(pc.equal(status, "expired"), False).to_numpy(zero_copy_only=False), dtype=bool
    )
    expired_i = _first_index(seg, expired_m, nseg)
    rejected_i = _first_index(seg, _kind_mask(ev, Kind.REJECT, Kind.DISCARD), nseg)
    # Exim and Sendmail name the client on the line that says the message arrived.
    info_i = np.where(client_i >= 0, client_i, from_i)
    program = ev.column("program")
    foreign_from = (from_i >= 0) & np.asarray(
        [
            p is not None and not p.startswith("postfix")
            for p in _take(program, np.maximum(from_i, 0)).to_pylist()
        ],
        dtype=bool,
    )
    origin = np.full(nseg, "unknown", dtype=object)
    origin[foreign_from] = "smtp"
    origin[pickup_i >= 0] = "local"
    origin[client_i >= 0] = "smtp"
    # A message refused before the queue manager saw it is named only by the reject line.
    senders = ev.column("sender")
    sender = pc.coalesce(
        _take(senders, from_i), _take(senders, pickup_i), _take(senders, rejected_i)
    )
    return {
        "n": nseg,
        "host": _take(ev.column("host"), first),
        "queue_id": _take(ev.column("queue_id"), first),
        "first_ts": _ts_us(_take(ev.column("ts"), first)),
        "last_ts": _ts_us(_take(ev.column("ts"), last)),
        "client_host": _take(ev.column("client_host"), info_i),
        "client_ip": _take(ev.column("client_ip"), info_i),
        "sender": sender,
        "size": _take(ev.column("size"), from_i),
        "nrcpt": _take(ev.column("nrcpt"), from_i),
        "message_id": _take(ev.column("message_id"), msgid_i),
        "removed": removed_i >= 0,
        "expired_i": expired_i,
        "rejected": rejected_i >= 0,
        "origin": origin,
        "segn": _reuse_number(ev, seg, first),
        "parent": np.full(nseg, -1, dtype=np.int64),  # hand-off parent (same message)
        "notice_parent": np.full(nseg, -1, dtype=np.int64),  # bounce notice about this file
        "_seg_of_row": seg,
    }


def _reuse_number(ev: pa.Table, seg: _IntArray, first: _IntArray) -> _IntArray:
    """0 for the first queue file of a (host, queue id), 1 for its reuse, and so on."""
    host = pc.fill_null(_take(ev.column("host"), first), "")
    key = pc.binary_join_element_wise(host, _take(ev.column("queue_id"), first), "\x1f")
    code, _ = _codes(key)
    order = np.lexsort((first, code))
    counts = np.zeros(len(code), dtype=np.int64)
    starts = np.r_[True, code[order][1:] != code[order][:-1]]
    run = np.arange(len(order)) - np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    counts[order] = run
    return counts


def _take(col: pa.ChunkedArray | pa.Array, idx: _IntArray) -> pa.Array:
    """``col[idx]`` with -1 meaning null."""
    mask = pa.array(idx < 0)
    taken = pc.take(col, pa.array(np.maximum(idx, 0)))
    if isinstance(taken, pa.ChunkedArray):
        taken = taken.combine_chunks()
    return pc.if_else(mask, pa.nulls(len(idx), taken.type), taken)


def _deliveries(ev: pa.Table, seg: _IntArray, files: dict[str, Any]) -> dict[str, Any]:
    """Recipient attempts as columns, plus one ``expired`` row per recipient an expiry returned."""
    rows = np.flatnonzero(_kind_mask(ev, Kind.DELIVERY))
    cols: dict[str, Any] = {
        name: _take(ev.column(name), rows)
        for name in (
            "host",
            "queue_id",
            "ts",
            "recipient",
            "orig_recipient",
            "relay_host",
            "relay_ip",
            "relay_port",
            "status",
            "dsn",
            "reply_code",
            "reply_text",
            "text",
            "command",
            "delay",
            "delays_a",
            "delays_b",
            "delays_c",
            "delays_d",
            "next_queue_id",
            "source",
            "line",
        )
    }
    # Replies that are not an SMTP server's (connect to …: Connection timed out, forwarded as …)
    # come as free text.
    cols["reply_text"] = pc.coalesce(cols["reply_text"], cols.pop("text"))
    dseg = seg[rows]
    rcode, _ = _codes(pc.fill_null(cols["recipient"], ""))
    final = _last_of_group(dseg, rcode)
    # A queue file that expired returns every recipient still deferred: one row says so.
    status = np.asarray(cols["status"].to_pylist(), dtype=object)
    exp_i = files["expired_i"][dseg]
    returned = np.flatnonzero(final & (exp_i >= 0) & (status == "deferred"))
    if len(returned):
        extra = {k: pc.take(v, pa.array(returned)) for k, v in cols.items()}
        extra["status"] = pa.array(["expired"] * len(returned), pa.string())
        extra["ts"] = _take(ev.column("ts"), exp_i[returned])
        for name in ("delay", "delays_a", "delays_b", "delays_c", "delays_d"):
            extra[name] = pa.nulls(len(returned), pa.float64())
        extra["line"] = _take(ev.column("line"), exp_i[returned])
        extra["source"] = _take(ev.column("source"), exp_i[returned])
        final[returned] = False
        cols = {k: pa.concat_arrays([v, extra[k]]) for k, v in cols.items()}
        dseg = np.r_[dseg, dseg[returned]]
        rcode = np.r_[rcode, rcode[returned]]
        final = np.r_[final, np.ones(len(returned), dtype=bool)]
        order = np.lexsort((np.arange(len(dseg)), _ts_us(cols["ts"])))
        cols = {k: pc.take(v, pa.array(order)) for k, v in cols.items()}
        dseg, rcode, final = dseg[order], rcode[order], final[order]
    cols["attempt"] = _attempt_numbers(dseg, rcode, np.asarray(cols["status"].to_pylist()))
    cols["final"] = final
    cols["seg"] = dseg
    return cols


def _last_of_group(a: _IntArray, b: _IntArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """True on the last row (in row order) of each (a, b) group."""
    order = np.lexsort((np.arange(len(a)), b, a))
    sa, sb = a[order], b[order]
    last_sorted = np.r_[(sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1]), True]
    out = np.zeros(len(a), dtype=bool)
    out[order] = last_sorted
    return out


def _attempt_numbers(dseg: _IntArray, rcode: _IntArray, status: np.ndarray[Any, Any]) -> pa.Array:
    """1, 2 … per recipient within a queue file; an expiry row repeats the last attempt's number."""
    real = (status != "expired").astype(np.int64)
    order = np.lexsort((np.arange(len(dseg)), rcode, dseg))
    sd, sr, sreal = dseg[order], rcode[order], real[order]
    starts = np.r_[True, (sd[1:] != sd[:-1]) | (sr[1:] != sr[:-1])]
    csum = np.cumsum(sreal)
    base = np.maximum.accumulate(np.where(starts, csum - sreal, 0))
    out = np.empty(len(dseg), dtype=np.int32)
    out[order] = np.maximum(csum - base, 1)
    return pa.array(out, pa.int32())


def _link(ev: pa.Table, dl: dict[str, Any], files: dict[str, Any]) -> None:
    """Find each hand-off's and each bounce notice's child queue file; fills hop and parents."""
    import pandas as pd

    qcodes, qdict = _codes(files["queue_id"])
    by_qid = pd.DataFrame({"q": qcodes, "child": np.arange(files["n"]), "cts": files["first_ts"]})
    lookup = {v: i for i, v in enumerate(qdict.to_pylist())}
    hop = np.full(len(dl["seg"]), None, dtype=object)

    def resolve(next_ids: list[str | None], ts: _IntArray, parent: _IntArray) -> _IntArray:
        q = np.array([lookup.get(x, -2) if x is not None else -2 for x in next_ids], dtype=np.int64)
        links = pd.DataFrame({"link": np.arange(len(q)), "q": q, "ts": ts, "parent": parent})
        m = links[links["q"] >= 0].merge(by_qid, on="q")
        m = m[(m["child"] != m["parent"]) & ((m["cts"] - m["ts"]).abs() <= LINK_WINDOW_US)]
        m = m.assign(gap=(m["cts"] - m["ts"]).abs()).sort_values(["link", "gap"])
        m = m.drop_duplicates("link")
        out = np.full(len(q), -1, dtype=np.int64)
        out[m["link"].to_numpy()] = m["child"].to_numpy()
        return out

    # Hand-offs: a sent attempt whose reply names a queue id found in the logs.
    status = np.asarray(dl["status"].to_pylist(), dtype=object)
    nxt = dl["next_queue_id"].to_pylist()
    cand = np.flatnonzero((status == "sent") & np.array([x is not None for x in nxt], dtype=bool))
    if len(cand):
        child = resolve([nxt[i] for i in cand], _ts_us(dl["ts"])[cand], dl["seg"][cand])
        hosts = files["host"].to_pylist()
        relay_ip = dl["relay_ip"].to_pylist()
        text = dl["reply_text"].to_pylist()
        for i, c in zip(cand.tolist(), child.tolist(), strict=True):
            p = int(dl["seg"][i])
            forwarded = (text[i] or "").startswith("forwarded as")
            if c >= 0 and files["parent"][c] < 0:
                files["parent"][c] = p
            if c >= 0 and hosts[c] != hosts[p]:
                hop[i] = "relay"
            elif c >= 0 or relay_ip[i] in _LOOPBACK:
                # A filter's re-injection whose own lines are outside the logs is still a hop.
                hop[i] = "forward" if forwarded else "filter"
    dl["hop"] = pa.array(hop, pa.string())
    # Bounce notices: a new message about an old one.
    notice = np.flatnonzero(_kind_mask(ev, Kind.BOUNCE_NOTICE))
    if len(notice):
        nxt_n = _take(ev.column("next_queue_id"), notice).to_pylist()
        nts = _ts_us(_take(ev.column("ts"), notice))
        # The notice's parent is the queue file of the notice line itself.
        nseg = files["_seg_of_row"][notice]
        child = resolve(nxt_n, nts, nseg)
        ok = child >= 0
        files["notice_parent"][child[ok]] = nseg[ok]
    files["notice_qid"] = _notice_ids(files, ev, notice)


def _notice_ids(files: dict[str, Any], ev: pa.Table, notice: _IntArray) -> list[str | None]:
    out: list[str | None] = [None] * files["n"]
    if len(notice):
        segs = files["_seg_of_row"][notice]
        for s, q in zip(
            segs.tolist(), _take(ev.column("next_queue_id"), notice).to_pylist(), strict=True
        ):
            out[s] = q
    return out


def _roots(parent: _IntArray) -> _IntArray:
    """The first queue file of each chain, by pointer jumping (chains are short)."""
    root = np.arange(len(parent))
    for _ in range(64):
        up = parent[root]
        step = up >= 0
        if not step.any():
            break
        root = np.where(step, up, root)
    return root


def _messages(files: dict[str, Any], dl: dict[str, Any]) -> tuple[pa.Table, pa.Table]:
    import pandas as pd

    n = files["n"]
    root = _roots(files["parent"])
    qids = files["queue_id"].to_pylist()
    hosts = files["host"].to_pylist()
    segn = files["segn"]
    names = np.array(
        [
            (f"{h}:{q}" if h else str(q)) + (f"#{k}" if k else "")
            for h, q, k in zip(hosts, qids, segn.tolist(), strict=True)
        ],
        dtype=object,
    )
    msg_of_seg = names[root]
    first_ts = files["first_ts"]
    # Delivery columns that need the message: key, total delay, failure classes.
    dseg = dl["seg"]
    dts = _ts_us(dl["ts"])
    root_first = first_ts[root]
    delay = np.asarray(pc.fill_null(dl["delay"], np.nan).to_numpy(zero_copy_only=False))
    arrived_before = (first_ts[dseg] - root_first[dseg]) / 1e6
    total = np.where(np.isnan(delay), (dts - root_first[dseg]) / 1e6, delay + arrived_before)
    failures = classify_columns(dl["status"], dl["reply_code"], dl["dsn"], dl["reply_text"])
    deliveries = pa.Table.from_arrays(
        [
            pa.array(msg_of_seg[dseg], pa.string())
            if name == "message"
            else pa.array(total, pa.float64())
            if name == "total_delay"
            else pa.array(dl["final"], pa.bool_())
            if name == "final"
            else failures[name]
            if name in failures
            else dl[name].cast(DELIVERIES.field(name).type)
            for name in DELIVERIES.names
        ],
        schema=DELIVERIES,
    )
    # Per-message outcome: the final word on each recipient, not counting hand-offs.
    status = np.asarray(dl["status"].to_pylist(), dtype=object)
    hop_valid = np.asarray(pc.is_valid(dl["hop"]).to_numpy(zero_copy_only=False), dtype=bool)
    outcome = dl["final"] & ~hop_valid
    out_rows = np.flatnonzero(outcome)
    d = pd.DataFrame(
        {
            "root": root[dseg[out_rows]],
            "status": status[out_rows],
            "ts": dts[out_rows],
            "total": total[out_rows],
            "recipient": np.asarray(dl["recipient"].to_pylist(), dtype=object)[out_rows],
            "dsn": np.asarray(dl["dsn"].to_pylist(), dtype=object)[out_rows],
        }
    )
    d = d.sort_values(["root", "ts"], kind="stable")
    roots = np.flatnonzero(root == np.arange(n))
    counts = {
        s: d[d["status"] == s].groupby("root").size().reindex(roots, fill_value=0).to_numpy()
        for s in ("sent", "deferred", "bounced", "expired")
    }
    deferrals = (
        pd.Series((status == "deferred")[: len(dseg)].astype(np.int64))
        .groupby(root[dseg])
        .sum()
        .reindex(roots, fill_value=0)
        .to_numpy()
    )
    nout = d.groupby("root").size().reindex(roots, fill_value=0).to_numpy()
    last_total = d.groupby("root")["total"].max().reindex(roots).to_numpy()
    offsets = np.r_[0, np.cumsum(nout)]
    outcomes = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.StructArray.from_arrays(
            [
                pa.array(d["recipient"].to_numpy(dtype=object), pa.string(), from_pandas=True),
                pa.array(d["status"].to_numpy(dtype=object), pa.string(), from_pandas=True),
                pa.array(d["dsn"].to_numpy(dtype=object), pa.string(), from_pandas=True),
            ],
            names=["recipient", "status", "dsn"],
        ),
    )
    # Chains: every queue file of a message, in order of arrival.
    chain = pd.DataFrame({"root": root, "ts": first_ts, "seg": np.arange(n)}).sort_values(
        ["root", "ts", "seg"], kind="stable"
    )
    chain_len = chain.groupby("root").size().reindex(roots).to_numpy()
    chain_off = pa.array(np.r_[0, np.cumsum(chain_len)], pa.int32())
    cseg = chain["seg"].to_numpy()
    last_seen = pd.Series(files["last_ts"]).groupby(root).max().reindex(roots).to_numpy()
    rejected = pd.Series(files["rejected"]).groupby(root).any().reindex(roots).to_numpy()
    last_of_chain = chain.groupby("root")["seg"].last().reindex(roots).to_numpy()
    msg_status = np.full(len(roots), "queued", dtype=object)
    single = np.zeros(len(roots), dtype=bool)
    for s in ("expired", "deferred", "bounced", "sent"):
        only = (counts[s] == nout) & (nout > 0)
        msg_status[only] = s
        single |= only
    msg_status[(nout > 0) & ~single] = "mixed"
    msg_status[rejected & (nout == 0)] = "rejected"
    notice_parent = files["notice_parent"][roots]
    notice_qid = files["notice_qid"]
    chain_notice = pd.Series([notice_qid[s] for s in range(n)], dtype=object).groupby(root).first()
    message_id = pc.coalesce(
        files["message_id"].take(pa.array(roots)),
        _chain_first(files["message_id"], root, roots),
    )
    messages = pa.Table.from_arrays(
        [
            pa.array(names[roots], pa.string()),
            files["host"].take(pa.array(roots)),
            files["queue_id"].take(pa.array(roots)),
            pa.ListArray.from_arrays(chain_off, files["queue_id"].take(pa.array(cseg))),
            pa.ListArray.from_arrays(
                chain_off, pc.cast(files["host"], pa.string()).take(pa.array(cseg))
            ),
            pa.array(np.where(notice_parent >= 0, "bounce", files["origin"][roots]), pa.string()),
            files["client_host"].take(pa.array(roots)),
            files["client_ip"].take(pa.array(roots)),
            message_id,
            _chain_first(files["sender"], root, roots),
            pc.cast(files["size"].take(pa.array(roots)), pa.int64()),
            pc.cast(files["nrcpt"].take(pa.array(roots)), pa.int32()),
            pa.array(nout, pa.int32()),
            pa.array(first_ts[roots], pa.int64()).cast(MESSAGES.field("first_seen").type),
            pa.array(last_seen, pa.int64()).cast(MESSAGES.field("last_seen").type),
            pa.array(last_total, pa.float64(), from_pandas=True),
            pa.array(msg_status, pa.string()),
            outcomes,
            *(pa.array(counts[s], pa.int32()) for s in ("sent", "deferred", "bounced", "expired")),
            pa.array(deferrals, pa.int32()),
            pa.array(rejected, pa.bool_()),
            pa.array(files["removed"][last_of_chain], pa.bool_()),
            pa.array(chain_notice.reindex(roots).to_numpy(), pa.string(), from_pandas=True),
            pa.array(
                np.where(notice_parent >= 0, msg_of_seg[np.maximum(notice_parent, 0)], None),
                pa.string(),
            ),
        ],
        schema=MESSAGES,
    )
    return messages, deliveries


def _chain_first(col: pa.Array, root: _IntArray, roots: _IntArray) -> pa.Array:
    """The first non-null value of ``col`` along each chain (the root's own value first)."""
    import pandas as pd

    s = pd.Series(col.to_pylist(), dtype=object)
    first = s.groupby(root).first().reindex(roots)
    own = pd.Series(col.take(pa.array(roots)).to_pylist(), dtype=object, index=roots)
    return pa.array(own.where(own.notna(), first).to_numpy(), col.type, from_pandas=True)


def classify_columns(
    status: pa.Array, reply_code: pa.Array, dsn: pa.Array, text: pa.Array
) -> dict[str, pa.Array]:
    """The FAILURES columns for attempts: sent is ``delivered``, expired is ``expired``, the rest
    classified from the reply.

    Replies differ in addresses, IPs and ids far more often than in cause, so each distinct
    (code, status, reply with those parts blanked) is classified once.

    >>> cols = classify_columns(pa.array(["sent", "bounced"]), pa.array([250, 550], pa.int16()),
    ...                         pa.array(["2.0.0", "5.2.2"]), pa.array(["ok", "Mailbox full"]))
    >>> cols["category"].to_pylist()
    ['delivered', 'mailbox_full']
    """
    from mailtrace import failures

    n = len(status)
    st = np.asarray(pc.fill_null(status, "").to_numpy(zero_copy_only=False), dtype=object)
    out = {f.name: np.full(n, None, dtype=object) for f in FAILURES}
    sent = st == "sent"
    out["category"][sent] = str(failures.Category.DELIVERED)
    out["family"][sent] = str(failures.Family.NOT_FAILURE)
    expired = failures.verdict(failures.Category.EXPIRED)
    rows = np.flatnonzero(~sent)
    sel = pa.array(rows, pa.int64())
    codes = pc.take(reply_code, sel).to_pylist()
    dsns = pc.take(dsn, sel).to_pylist()
    reasons = normalize_reasons(pc.take(text, sel)).to_pylist()
    cache: dict[tuple[Any, ...], failures.Classification] = {}
    for j, i in enumerate(rows.tolist()):
        key = (codes[j], dsns[j], reasons[j])
        if st[i] == "expired":
            c = expired
        elif key in cache:
            c = cache[key]
        else:
            c = cache[key] = failures.classify(codes[j], dsns[j], reasons[j] or None)
        out["category"][i] = str(c.category)
        out["family"][i] = str(c.family)
        out["nature"][i] = None if c.nature is None else str(c.nature)
        out["provider"][i] = c.provider
        out["provider_code"][i] = c.provider_code
    return {k: pa.array(v, pa.string(), from_pandas=True) for k, v in out.items()}


# Variable parts of a reply blanked before grouping, in order (RE2 syntax, linear time).
_BLANKS = (
    (r"^host \S+ said: ", ""),
    (r"name=\S+ type=", "name=… type="),
    (r"<[^<>\s]*>", "<…>"),
    (r"\d{4}-\d\d-\d\dT[\d:.]+Z?", "…"),
    (r"\[?\b\d{1,3}(?:\.\d{1,3}){3}\b\]?", "[…]"),
    (r"\[[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*\]", "[…]"),
    (r"[A-Za-z0-9+=_-]{14,}", "…"),
    (r"\b\d{4,}\b", "…"),
    (r"\s+", " "),
)
_REASON_MAX = 300


def normalize_reasons(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Reply texts with their variable parts blanked, so that one cause groups as one reason.

    >>> normalize_reasons(pa.array([
    ...     "host mx.example.net[198.51.100.4] said: 550 5.1.1 <bob@example.net>: User unknown",
    ...     "host mx.example.net[198.51.100.4] said: 550 5.1.1 <al@example.net>: User unknown",
    ... ])).to_pylist()
    ['550 5.1.1 <…>: User unknown', '550 5.1.1 <…>: User unknown']
    """
    out = pc.fill_null(texts, "")
    for pattern, repl in _BLANKS:
        out = pc.replace_substring_regex(out, pattern, repl)
    out = pc.utf8_trim_whitespace(out)
    return pc.utf8_slice_codeunits(out, 0, _REASON_MAX)


def read_events(inputs: list[Path], columns: tuple[str, ...] = COLUMNS) -> pa.Table:
    """EVENTS from mail logs or from Parquet datasets written by ``mailtrace logs -o``.

    A directory holding ``*.parquet`` files (or a ``.parquet`` file) is read as a dataset with
    only ``columns``; anything else is parsed as a mail log. Several inputs (two hosts' logs, a
    rotated set) make one table.

    >>> read_events([]).num_rows
    0
    """
    tables: list[pa.Table] = []
    logs: list[Path] = []
    for path in inputs:
        if _is_dataset(path):
            tables.append(_read_dataset(path, columns))
        else:
            logs.append(path)
    if logs:
        tables.append(_parse_logs(logs, columns))
    if not tables:
        return events_columns(EVENTS.empty_table(), columns)
    return pa.concat_tables([events_columns(t, columns) for t in tables])


def _is_dataset(path: Path) -> bool:
    if path.is_dir():
        return next(path.rglob("*.parquet"), None) is not None
    return path.suffix == ".parquet"


def _read_dataset(path: Path, columns: tuple[str, ...]) -> pa.Table:
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(str(path), format="parquet")
        wanted = [c for c in columns if c in dataset.schema.names]
        return dataset.to_table(columns=wanted)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(str(path), f"not a readable Parquet dataset ({exc})") from None


def _parse_logs(paths: list[Path], columns: tuple[str, ...]) -> pa.Table:
    from mailtrace.logs import reader

    for path in paths:
        if not path.exists():
            raise InputError(str(path), "no such file or directory")
    table = (
        reader.read_events_table([str(p) for p in paths])
        if hasattr(reader, "read_events_table")
        else pa.concat_tables([reader.parse_file(p) for p in paths])
    )
    return table.select([c for c in columns if c in table.column_names])


def events_columns(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """``table`` with exactly ``columns`` in EVENTS types (missing ones null).

    >>> events_columns(pa.table({"kind": ["from"]}), ("kind", "pid")).column("pid").to_pylist()
    [None]
    """
    arrays = []
    for name in columns:
        typ = EVENTS.field(name).type
        if name in table.column_names:
            arrays.append(pc.cast(table.column(name), typ))
        else:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, typ)]))
    return pa.Table.from_arrays(arrays, names=list(columns))


def select_paths(events: pa.Table, ident: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The messages ``ident`` names, their attempts and their log events, oldest first.

    ``ident`` is a queue id (of any queue file in the chain), a Message-ID (with or without
    ``<>``) or an address (every message from or to it). The bounce notices sent about a chosen
    message come with it.

    >>> from mailtrace.schema import EVENTS
    >>> ev = pa.Table.from_pylist([
    ...     {"ts": 0, "host": "mx", "queue_id": "Q1", "kind": "from", "sender": "a@example.org"},
    ...     {"ts": 5, "host": "mx", "queue_id": "Q2", "kind": "from", "sender": "b@example.org"},
    ... ], EVENTS)
    >>> m, d, e = select_paths(ev, "B@example.org")
    >>> (m.column("queue_id").to_pylist(), e.num_rows)
    (['Q2'], 1)
    """
    messages, deliveries = paths_tables(events)
    want = ident.strip()
    bare = want.strip("<>")
    names = messages.column("message")
    chosen: set[str] = set()
    if "@" in want:
        chosen.update(
            names.filter(
                pc.fill_null(
                    pc.or_kleene(
                        pc.equal(pc.utf8_lower(messages.column("sender")), bare.lower()),
                        pc.equal(pc.utf8_trim(messages.column("message_id"), "<>"), bare),
                    ),
                    False,
                )
            ).to_pylist()
        )
        rcpt = pc.fill_null(
            pc.or_kleene(
                pc.equal(pc.utf8_lower(deliveries.column("recipient")), bare.lower()),
                pc.equal(pc.utf8_lower(deliveries.column("orig_recipient")), bare.lower()),
            ),
            False,
        )
        chosen.update(deliveries.column("message").filter(rcpt).to_pylist())
    flat = pc.list_flatten(messages.column("queue_ids"))
    parents = pc.list_parent_indices(messages.column("queue_ids"))
    hit = pc.fill_null(pc.equal(flat, want), False)
    chosen.update(names.take(parents.filter(hit)).to_pylist())
    notices = pc.fill_null(
        pc.is_in(messages.column("parent"), pa.array(sorted(chosen), pa.string())), False
    )
    chosen.update(names.filter(notices).to_pylist())
    keys = pa.array(sorted(chosen), pa.string())
    msel = messages.filter(pc.fill_null(pc.is_in(names, keys), False))
    msel = msel.sort_by([("first_seen", "ascending")])
    dsel = deliveries.filter(pc.fill_null(pc.is_in(deliveries.column("message"), keys), False))
    return msel, dsel, _chain_events(events, msel)


def _chain_events(events: pa.Table, messages: pa.Table) -> pa.Table:
    """The events of every queue file of ``messages``, with a ``message`` column, in time order."""
    import pandas as pd

    rows = []
    for m in messages.to_pylist():
        for host, qid in zip(m["hosts"], m["queue_ids"], strict=True):
            rows.append((m["message"], host or "", qid, m["first_seen"], m["last_seen"]))
    if not rows:
        return events.schema.empty_table().append_column("message", pa.array([], pa.string()))
    span = pd.DataFrame(rows, columns=["message", "host", "queue_id", "first", "last"])
    ev = events.filter(
        pc.fill_null(
            pc.is_in(events.column("queue_id"), pa.array(span["queue_id"].unique())), False
        )
    )
    ev = ev.append_column("_row", pa.array(np.arange(ev.num_rows)))
    frame = pd.DataFrame(
        {
            "_row": np.arange(ev.num_rows),
            "host": pc.fill_null(ev.column("host"), "").to_pylist(),
            "queue_id": ev.column("queue_id").to_pylist(),
            "ts": ev.column("ts").to_pylist(),
        }
    )
    j = frame.merge(span, on=["host", "queue_id"])
    j = j[(j["ts"] >= j["first"]) & (j["ts"] <= j["last"])]
    picked = ev.take(pa.array(j["_row"].to_numpy())).drop_columns(["_row"])
    picked = picked.append_column("message", pa.array(j["message"].to_numpy(), pa.string()))
    return picked.sort_by([("ts", "ascending")])
