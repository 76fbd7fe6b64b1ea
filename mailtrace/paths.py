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

import mmap
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mailtrace import event_columns, queue_files
from mailtrace.column_take import take_rows
from mailtrace.errors import InputError
from mailtrace.lazy_module import LazyModule
from mailtrace.logs.kinds import Kind
from mailtrace.logs.plan import PARALLEL_BYTES
from mailtrace.queue_files import (
    CLIENT,
    EXPIRED,
    FROM,
    MESSAGE_ID,
    PICKUP,
    REJECTED,
    REMOVED,
    attempts,
    file_rows,
)
from mailtrace.schema import DELIVERIES, EVENTS, FAILURES, MESSAGES
from mailtrace.sources import is_dataset

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # imported beside the parse, by the report's preloading, not before it (see LazyModule)
    pc = LazyModule("pyarrow.compute")

if TYPE_CHECKING:
    import pandas as pd

    from mailtrace.logs.batch import Sessions
    from mailtrace.logs.reader import Counts, Errors

# The EVENTS columns the paths need; a Parquet dataset is read with only these.
COLUMNS = event_columns.PATHS

# A child queue file must appear within this many seconds of the hand-off that names it: queue
# ids are reused over weeks, and two hosts' clocks may differ by a few minutes.
LINK_WINDOW_US = 3600 * 1_000_000
# The longest a message can sit in a queue before it is returned (Postfix's default is 5 days).
MAX_QUEUE_US = 30 * 86400 * 1_000_000
_LOOPBACK = ("127.0.0.1", "::1")
_IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: Integer codes of any width (kinds are int32: narrow codes compare fast).
_Codes = np.ndarray[Any, np.dtype[np.signedinteger[Any]]]


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
    rebuilt = rebuild(events)
    return rebuilt.messages, rebuilt.deliveries


@dataclass(frozen=True)
class Rebuilt:
    """The paths with what was learnt on the way, for a caller that summarises them too."""

    messages: pa.Table
    deliveries: pa.Table
    #: Each delivery's row in ``messages``.
    message_row: _IntArray
    #: Each delivery's reply with its variable parts blanked (:func:`normalize_reasons`), as
    #: its failure class was judged from; null for sent and expired attempts.
    reasons: pa.Array | None = None


def rebuild(
    events: pa.Table | pd.DataFrame,
    kinds: Callable[[], tuple[_Codes, list[str]]] | None = None,
    *,
    message_columns: Collection[str] | None = None,
    delivery_columns: Collection[str] | None = None,
) -> Rebuilt:
    """:func:`paths_tables` with each delivery's message row, for a caller that summarises both.

    ``kinds``, when given, returns the events' kind codes and names (:func:`factorize` of
    ``kind``; the codes best as int32, as the paths keep them): a caller that needs them too
    makes them once (perhaps in another thread: they are asked for only after the queue ids
    are encoded). ``message_columns`` and
    ``delivery_columns``, when given, are the only columns of MESSAGES and DELIVERIES the
    caller reads: the tables hold those alone (in the schemas' order), and what only the
    others need is neither gathered nor made.

    >>> from mailtrace.schema import EVENTS
    >>> ev = pa.Table.from_pylist([{"ts": 0, "queue_id": "Q1", "kind": "from"},
    ...     {"ts": 1, "queue_id": "Q1", "kind": "delivery", "recipient": "r@example.com"}], EVENTS)
    >>> r = rebuild(ev)
    >>> (r.messages.num_rows, r.deliveries.num_rows, r.message_row.tolist())
    (1, 1, [0])
    >>> rebuild(ev, delivery_columns=["status", "recipient"]).deliveries.column_names
    ['recipient', 'status']
    """
    ev = _View(_as_table(events), kinds)
    if ev.n == 0:
        return Rebuilt(
            _empty(MESSAGES, message_columns),
            _empty(DELIVERIES, delivery_columns),
            np.zeros(0, dtype=np.int64),
            pa.array([], pa.string()),
        )
    files = _queue_files(ev, MESSAGES.names if message_columns is None else message_columns)
    wanted = DELIVERIES.names if delivery_columns is None else delivery_columns
    dl = _deliveries(ev, files["_seg_of_row"], files, wanted)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # An attempt's failure class needs only its reply: judged while the paths are joined.
        failures = pool.submit(
            classify_columns,
            dl["status"],
            dl["reply_code"],
            dl["dsn"],
            dl["reply_text"],
            command=dl["command"],
            relay_host=dl["relay_host"],
            with_reasons=True,
            columns=wanted,
        )
        _link(ev, dl, files)
        messages, deliveries, message_row = _messages(
            files, dl, failures, message_columns, delivery_columns
        )
    return Rebuilt(messages, deliveries, message_row, failures.result()["reason"])


class _View:
    """The rows of an EVENTS table that name a queue file, in time order, without copying.

    Lines of one second keep their order in the log. Columns are read through :meth:`take`
    with row numbers of this view, so only the values the paths need are ever gathered.
    """

    def __init__(
        self, table: pa.Table, kinds: Callable[[], tuple[_Codes, list[str]]] | None = None
    ) -> None:
        self.table = table
        # Queue ids and the ids that hand-offs and bounce notices name share one set of codes,
        # so a link is found by comparing integers.
        queue_id = table.column("queue_id")
        next_id = pc.cast(table.column("next_queue_id"), queue_id.type)
        named = np.flatnonzero(as_mask(pc.is_valid(next_id)))  # few lines name another id
        named_ids = [take_rows(next_id, pa.array(named))]
        ids, qdict = factorize(pa.chunked_array([*queue_id.chunks, *named_ids], queue_id.type))
        qcode = ids[: table.num_rows]
        next_code = np.full(table.num_rows, -1, dtype=np.int64)
        next_code[named] = ids[table.num_rows :]
        self.id_values = qdict
        # Postfix writes NOQUEUE where a refusal came before any queue file existed.
        # The distinct ids hold NOQUEUE once at most: one comparison, not a set lookup a row.
        noqueue = np.flatnonzero(as_mask(pc.equal(qdict, "NOQUEUE")))
        keep = np.flatnonzero(
            qcode >= 0 if not len(noqueue) else (qcode >= 0) & (qcode != noqueue[0])
        )
        ts = _ts_us(table.column("ts"))[keep]
        if len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all()):
            # A log in time order (one file, or its rotations in order): rows stay as they
            # are. Of the 1M-line log's 490,000 rows, no sort and two gathers fewer: 11 MB of
            # fresh memory, 8 ms.
            self.order, self.ts = keep, ts
        else:
            # A log nearly in time order already: a stable sort of it is cheap.
            by_time = np.argsort(ts, kind="stable")
            self.order = keep[by_time]
            self.ts = ts[by_time]
        self.qcode = qcode[self.order]
        self.next_code = next_code[self.order]
        self.n = len(self.order)
        hcode, hosts = _host_codes(table.column("host"))
        self.file_code = self.qcode if hcode is None else self.qcode * hosts + hcode[self.order]
        self._text_valid = as_mask(pc.is_valid(table.column("text")))
        if kinds is None:
            codes, names = factorize(table.column("kind"))
            kind_codes, kind_names = codes, names.to_pylist()
        else:
            kind_codes, kind_names = kinds()
        # Narrow codes compare fast: a mask is one comparison per kind. (A caller's may be
        # narrow already: then no wide copy is made on the way.)
        self.kind_codes = kind_codes[self.order].astype(np.int32, copy=False)
        self._kinds = {v: i for i, v in enumerate(kind_names)}

    def mask(self, *kinds: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Rows whose kind is one of ``kinds``."""
        return kind_mask(self.kind_codes, self._kinds, kinds)

    def roles(self) -> bytes:
        """The role bits of each kind code, for :func:`~mailtrace.queue_files.file_rows`."""
        bits = bytearray(len(self._kinds))
        for kind, code in self._kinds.items():
            bits[code] = _ROLE_BITS.get(kind, 0)
        return bytes(bits)

    def take(self, name: str, idx: _IntArray | pa.Array) -> pa.Array:
        """Column ``name`` at view rows ``idx`` (-1 gives null), or at the table rows of
        :meth:`rows` (made once for several columns)."""
        at = idx if isinstance(idx, pa.Array) else self.rows(idx)
        return _take_at(self.table.column(name), at)

    def gather(self, wanted: dict[str, tuple[str, pa.Array]]) -> dict[str, pa.Array]:
        """``{key: (column, rows)}`` taken, ``rows`` from :meth:`rows`; two threads share the
        work, as Arrow's take lets go of the GIL.

        A take from a column of many chunks joins the chunks first, every time: the rows
        wanted of one column are taken together, once.
        """
        by_column: dict[str, list[tuple[str, pa.Array]]] = {}
        for key, (name, at) in wanted.items():
            by_column.setdefault(name, []).append((key, at))
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = {
                name: pool.submit(
                    _take_at, self.table.column(name), pa.concat_arrays([at for _, at in parts])
                )
                for name, parts in by_column.items()
            }
            out: dict[str, pa.Array] = {}
            for name, parts in by_column.items():
                taken, start = jobs[name].result(), 0
                for key, at in parts:
                    out[key] = taken.slice(start, len(at))
                    start += len(at)
            return {key: out[key] for key in wanted}

    def has_text(self, idx: _IntArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Whether view rows ``idx`` have a ``text``."""
        return self._text_valid[self.order[idx]]

    def rows(self, idx: _IntArray) -> pa.Array:
        """The table rows of view rows ``idx``, as take indices (-1 gives null)."""
        missing = idx < 0
        if not missing.any():
            return pa.array(self.order[idx])
        return pa.array(self.order[np.maximum(idx, 0)], mask=missing)


# The kinds that mark a queue file's landmarks (see mailtrace.queue_files).
_ROLE_BITS = {
    Kind.CLIENT: 1 << CLIENT,
    Kind.PICKUP: 1 << PICKUP,
    Kind.FROM: 1 << FROM,
    Kind.MESSAGE_ID: 1 << MESSAGE_ID,
    Kind.REMOVED: 1 << REMOVED,
    Kind.EXPIRED: 1 << EXPIRED,
    Kind.REJECT: 1 << REJECTED,
    Kind.DISCARD: 1 << REJECTED,
}


def kind_mask(
    codes: np.ndarray[Any, Any], index: dict[str, int], kinds: tuple[str, ...]
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Rows whose kind code (``index`` maps a kind to its code) is one of ``kinds``.

    >>> kind_mask(np.array([0, 1, -1, 0]), {"from": 0, "delivery": 1}, ("from",)).tolist()
    [True, False, False, True]
    """
    out = np.zeros(len(codes), dtype=bool)
    for k in kinds:
        if k in index:
            out |= codes == index[k]
    return out


def _host_codes(host: pa.ChunkedArray) -> tuple[_IntArray | None, int]:
    """Each row's host as a code (null and "" alike; None: all one host) and how many hosts."""
    if host.null_count == 0 and len(host) and pc.all(pc.equal(host, host[0])).as_py():
        # One host's log (the usual case): comparing strings is cheaper than hashing them.
        return None, 1
    codes, values = factorize(pc.fill_null(host, ""))
    return codes, len(values)


def _as_table(events: pa.Table | pd.DataFrame) -> pa.Table:
    if not isinstance(events, pa.Table):
        events = pa.Table.from_pandas(events, preserve_index=False)
    if all(c in events.column_names for c in COLUMNS):
        return events.select(list(COLUMNS))
    # A partial EVENTS table (an Exim-only parse, a projection) still works: absent = null.
    n = events.num_rows
    zeros = _zeros(8 * n + 8)
    columns = [
        events.column(c) if c in events.column_names else null_column(_events_type(c), n, zeros)
        for c in COLUMNS
    ]
    return pa.Table.from_arrays(columns, names=list(COLUMNS))


def _zeros(size: int) -> pa.Buffer:
    """``size`` zero bytes in pages of their own, mapped untouched: a column of them that is
    never read costs nothing, and reading one reads the kernel's one zero page. (Zeroed
    memory from malloc, ``bytes(size)``, is written: the console keeps freed blocks for reuse,
    mailtrace.entry.)

    >>> _zeros(3).to_pybytes()
    b'\\x00\\x00\\x00'
    """
    # Private: a page of it that is read maps the zero page; a shared one would be allocated.
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    return pa.py_buffer(mmap.mmap(-1, max(size, 1), **private))[:size]


def null_column(typ: pa.DataType, n: int, zeros: pa.Buffer | None = None) -> pa.Array:
    """``n`` nulls of ``typ``, a fixed-width or string type, whose buffers are all ``zeros``
    (at least ``8 * n + 8`` zero bytes; made when None, by :func:`_zeros`).

    ``pa.nulls`` writes its zeros, 17 MB (23 ms) for the columns a report of a 1,000,000-line
    log leaves out; these are never written.

    >>> null_column(pa.string(), 3).to_pylist(), null_column(pa.float64(), 2).null_count
    ([None, None, None], 2)
    """
    if zeros is None:
        zeros = _zeros(8 * n + 8)
    t = pa.types
    if t.is_string(typ) or t.is_binary(typ) or t.is_large_string(typ) or t.is_large_binary(typ):
        buffers = [zeros, zeros, pa.py_buffer(b"")]  # offsets all 0: every value empty
    elif t.is_integer(typ) or t.is_floating(typ) or t.is_temporal(typ):
        buffers = [zeros, zeros]
    else:  # booleans, nested and other types: as Arrow makes them
        return pa.nulls(n, typ)
    return pa.Array.from_buffers(typ, n, buffers, null_count=n)


def _events_type(name: str) -> pa.DataType:
    return EVENTS.field(name).type


def _ts_us(col: pa.ChunkedArray | pa.Array) -> _IntArray:
    ints = pc.cast(col, pa.int64())
    return np.asarray(pc.fill_null(ints, np.iinfo(np.int64).min).to_numpy(), dtype=np.int64)


def factorize(col: pa.ChunkedArray | pa.Array, compiled: bool = True) -> tuple[_IntArray, pa.Array]:
    """Integer codes and the distinct values of a column (nulls get code -1).

    Values are numbered in order of first appearance. A string column is numbered by the
    compiled module where it is built (``compiled=False``: by Arrow, as any other column).

    >>> codes, values = factorize(pa.array(["a", None, "b", "a"]))
    >>> codes.tolist(), values.to_pylist()
    ([0, -1, 1, 0], ['a', 'b'])
    """
    core = queue_files.pathcore
    if core is not None and compiled and col.type in (pa.string(), pa.binary()):
        # The same codes as Arrow's dictionary_encode, in 45-70% of its time.
        codes = np.empty(len(col), dtype=np.int64)
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        parts = []
        for chunk in chunks:
            valid, offsets, data = chunk.buffers()
            parts.append((valid, chunk.offset, len(chunk), offsets, data or b""))
        firsts = np.frombuffer(core.factorize(parts, codes), dtype=np.int64)
        # First rows ascend with the codes: each chunk gives its own values, no chunk is joined.
        starts = np.cumsum([0, *(len(chunk) for chunk in chunks)])
        cuts = np.searchsorted(firsts, starts).tolist()
        values = [
            chunk.take(pa.array(firsts[a:b] - start))
            for chunk, a, b, start in zip(chunks, cuts, cuts[1:], starts.tolist(), strict=False)
            if b > a
        ]
        return codes, pa.concat_arrays(values) if values else pa.array([], col.type)
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks() if enc.num_chunks else pa.array([], enc.type)
    idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return idx, enc.dictionary


def _queue_files(ev: _View, wanted: Collection[str]) -> dict[str, Any]:
    """One record per queue file: who sent it, when, how big, and how it ended. Of the
    MESSAGES columns only some need a gather of their own (last_seen, nrcpt, message_id):
    those are made only if in ``wanted``."""
    # A delivery whose status is expired (Exim returns a recipient when its retry time runs
    # out) counts as the file's expiry, like Postfix's expired line.
    dl_rows = np.flatnonzero(ev.mask(Kind.DELIVERY))
    st_expired = as_mask(pc.equal(ev.take("status", dl_rows), "expired"))
    rows = file_rows(ev.file_code, ev.kind_codes, ev.roles(), dl_rows[st_expired], EXPIRED)
    seg, nseg, first, last = rows.seg, rows.n, rows.first, rows.last
    client_i, pickup_i, from_i = rows.role(CLIENT), rows.role(PICKUP), rows.role(FROM)
    removed_i, expired_i, rejected_i = rows.role(REMOVED), rows.role(EXPIRED), rows.role(REJECTED)
    # Exim and Sendmail name the client on the line that says the message arrived.
    info_i = np.where(client_i >= 0, client_i, from_i)
    origin = np.full(nseg, _ORIGINS.index("unknown"), dtype=np.int64)
    # A file with a client or a pickup line is settled below: the program of the arrival line
    # is looked at only for the others (few of a Postfix log's files, all of Exim's).
    unsettled = np.flatnonzero((from_i >= 0) & (client_i < 0) & (pickup_i < 0))
    postfix = pc.starts_with(
        pc.fill_null(ev.take("program", from_i[unsettled]), "postfix"), "postfix"
    )
    origin[unsettled[~as_mask(postfix)]] = _ORIGINS.index("smtp")
    origin[pickup_i >= 0] = _ORIGINS.index("local")
    origin[client_i >= 0] = _ORIGINS.index("smtp")
    at_first, at_from, at_info = ev.rows(first), ev.rows(from_i), ev.rows(info_i)
    gather = {
        "host": ("host", at_first),
        "first_ts": ("ts", at_first),
        "client_host": ("client_host", at_info),
        "client_ip": ("client_ip", at_info),
        "sender": ("sender", at_from),
        "pickup_sender": ("sender", ev.rows(pickup_i)),
        "rejected_sender": ("sender", ev.rows(rejected_i)),
        "size": ("size", at_from),
    }
    if "last_seen" in wanted:
        gather["last_ts"] = ("ts", ev.rows(last))
    if "nrcpt" in wanted:
        gather["nrcpt"] = ("nrcpt", at_from)
    if "message_id" in wanted:
        gather["message_id"] = ("message_id", ev.rows(rows.role(MESSAGE_ID)))
    cols = ev.gather(gather)
    # A message refused before the queue manager saw it is named only by the reject line.
    sender = pc.coalesce(cols["sender"], cols["pickup_sender"], cols["rejected_sender"])
    return {
        "n": nseg,
        "host": cols["host"],
        # Each file's id from the distinct ids, not gathered from the whole column again.
        "queue_id": ev.id_values.take(pa.array(ev.qcode[first])),
        "first_ts": _ts_us(cols["first_ts"]),
        "last_ts": _ts_us(cols["last_ts"]) if "last_ts" in cols else None,
        "client_host": cols["client_host"],
        "client_ip": cols["client_ip"],
        "sender": sender,
        "size": cols["size"],
        "nrcpt": cols.get("nrcpt"),
        "message_id": cols.get("message_id"),
        "removed": removed_i >= 0,
        "expired_i": expired_i,
        "rejected": rejected_i >= 0,
        "origin": origin,
        "segn": rows.reuse,
        "qcode": ev.qcode[first],
        "parent": np.full(nseg, -1, dtype=np.int64),  # hand-off parent (same message)
        "notice_parent": np.full(nseg, -1, dtype=np.int64),  # bounce notice about this file
        "_seg_of_row": seg,
    }


# Where a message came from, as codes into this list (MESSAGES.origin).
_ORIGINS = ["unknown", "smtp", "local", "bounce"]


def _take(col: pa.ChunkedArray | pa.Array, idx: _IntArray) -> pa.Array:
    """``col[idx]`` with -1 meaning null."""
    # A null index takes a null: one pass, no mask to merge afterwards.
    missing = idx < 0
    at = pa.array(np.maximum(idx, 0), mask=missing) if missing.any() else pa.array(idx)
    return _take_at(col, at)


def _take_at(col: pa.ChunkedArray | pa.Array, at: pa.Array) -> pa.Array:
    """``col`` at take indices ``at`` (a null index gives null), as one array."""
    if col.null_count == len(col):
        # A column the input lacks (appended as nulls) stays nulls: nothing to gather.
        return pa.nulls(len(at), col.type)
    return take_rows(col, at)


def _deliveries(
    ev: _View, seg: _IntArray, files: dict[str, Any], wanted: Collection[str]
) -> dict[str, Any]:
    """Recipient attempts as columns, plus one ``expired`` row per recipient an expiry returned.

    Of the events' columns, only those in ``wanted`` (DELIVERIES names) and those the paths
    read themselves are gathered."""
    # Exim returns each recipient on its own line when its retry time runs out: that line is
    # the recipient's final attempt.
    is_delivery = ev.mask(Kind.DELIVERY)
    candidates = np.flatnonzero(is_delivery | ev.mask(Kind.EXPIRED))
    recipient = ev.take("recipient", candidates)
    keep = is_delivery[candidates] | as_mask(pc.is_valid(recipient))
    rows = candidates[keep]
    recipient = recipient.filter(pa.array(keep))
    status = ev.take("status", rows)
    dseg = seg[rows]
    rcode, _ = factorize(pc.fill_null(recipient, ""))
    final, _ = attempts(dseg, rcode, np.ones(len(dseg), dtype=bool))
    # A queue file that expired returns every recipient still deferred: one row says so, a copy
    # of the last attempt stamped (time, line) by the expiry line. Which rows come out, and in
    # what order, is settled on row numbers first, so each column is gathered once.
    exp_i = files["expired_i"][dseg]
    returned = np.flatnonzero(final & (exp_i >= 0) & as_mask(pc.equal(status, "deferred")))
    pick = np.arange(len(rows))  # the attempt each output row copies
    stamp = rows  # the line that gives its time, line number and source
    expiry = np.zeros(len(rows), dtype=bool)
    if len(returned):
        final[returned] = False
        final = np.r_[final, np.ones(len(returned), dtype=bool)]
        pick = np.r_[pick, returned]
        stamp = np.r_[rows, exp_i[returned]]
        expiry = np.r_[expiry, np.ones(len(returned), dtype=bool)]
        order = np.argsort(ev.ts[stamp], kind="stable")
        pick, stamp, expiry, final = pick[order], stamp[order], expiry[order], final[order]
        recipient = pc.take(recipient, pa.array(pick))
        status = pc.if_else(pa.array(expiry), pa.scalar("expired"), pc.take(status, pa.array(pick)))
    src = rows[pick]
    at = {"own": ev.rows(src), "stamp": ev.rows(stamp), "delay": ev.rows(np.where(expiry, -1, src))}
    cols: dict[str, Any] = {"recipient": recipient, "status": status}
    gathered = {}
    names = [name for name in _ATTEMPT_COLUMNS if name in wanted or name in _ATTEMPT_INPUTS]
    for name in names:
        if name not in cols:
            which = "stamp" if name in _STAMPED else "delay" if name in _DELAYS else "own"
            gathered[name] = (name, at[which])
    cols.update(ev.gather(gathered))
    cols = {name: cols[name] for name in names}
    # Replies that are not an SMTP server's (connect to …: Connection timed out, forwarded as …)
    # come as free text. Only those attempts' texts are gathered: one in eight, where every
    # attempt's would cost 20 ms of the 20 MB text column and as much again to merge.
    no_reply = as_mask(pc.is_null(cols["reply_text"]))
    if no_reply.any():
        texts = ev.take("text", at["own"].filter(pa.array(no_reply)))
        # Each attempt's reply, else its text: one gather from the two laid end to end (Arrow's
        # replace_with_mask cost 20 ms here).
        pos = np.arange(len(no_reply))
        pos[no_reply] = len(no_reply) + np.arange(len(texts))
        both = pa.chunked_array([cols["reply_text"], texts], texts.type)
        cols["reply_text"] = take_rows(both, pa.array(pos))
    dseg, rcode = dseg[pick], rcode[pick]
    # 1, 2 … per recipient within a queue file; an expiry row repeats the last attempt's number.
    _, number = attempts(dseg, rcode, ~as_mask(pc.equal(status, "expired")))
    cols["attempt"] = pa.array(number, pa.int32())
    cols["final"] = final
    cols["seg"] = dseg
    cols["_row"] = rows[pick]
    return cols


# The EVENTS columns an attempt carries; an expiry row takes _STAMPED from the expiry line
# and has no _DELAYS.
_ATTEMPT_COLUMNS = (
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
# The attempts' columns the paths read themselves: to classify a failure (reply, command,
# relay), to follow a hand-off (relay IP, next queue id, reply) and for the total delay.
_ATTEMPT_INPUTS = frozenset(
    (
        *("ts", "recipient", "status", "dsn", "reply_code", "reply_text", "command"),
        *("relay_host", "relay_ip", "next_queue_id", "delay"),
    )
)
_STAMPED = ("ts", "line", "source")
_DELAYS = ("delay", "delays_a", "delays_b", "delays_c", "delays_d")


def sort_rows(*keys: _IntArray) -> _IntArray:
    """Row numbers in order of ``keys`` (the first most significant), ties in row order.

    The order of ``np.lexsort`` of the keys reversed; packed with the row number into one
    distinct integer per row, the keys sort with NumPy's fastest sort, several times faster.

    >>> sort_rows(np.array([1, 0, 1, 0]), np.array([5, 7, 5, 6])).tolist()
    [3, 1, 0, 2]
    """
    n = len(keys[0])
    packed = np.arange(n, dtype=np.int64)
    span = max(n, 1)
    for key in reversed(keys):
        if n == 0:
            break
        low = int(key.min())
        width = int(key.max()) - low + 1
        if span * width >= 2**62:
            return np.lexsort(keys[::-1])
        packed += (key.astype(np.int64) - low) * span
        span *= width
    return np.argsort(packed)


def _link(ev: _View, dl: dict[str, Any], files: dict[str, Any]) -> None:
    """Find each hand-off's and each bounce notice's child queue file; fills hop and parents."""
    # Queue files by queue id (then number): the files of one id are one run of by_q.
    by_q = np.argsort(files["qcode"], kind="stable")
    q_sorted = files["qcode"][by_q]
    first_ts = files["first_ts"]

    def resolve(
        q: _IntArray, ts: _IntArray, parent: _IntArray, window: int = LINK_WINDOW_US
    ) -> _IntArray:
        """The queue file each link names (``q``: the id's code, -1 for none): of the files
        with that id, the nearest in time within ``window`` other than its parent (the first
        such file on a tie); -1 if none."""
        lo = np.searchsorted(q_sorted, q, "left")
        count = np.where(q >= 0, np.searchsorted(q_sorted, q, "right"), lo) - lo
        # Every (link, file with its id) pair, links in order, files in order within a link.
        link = np.repeat(np.arange(len(q)), count)
        child = by_q[np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(len(link))]
        gap = np.abs(first_ts[child] - ts[link])
        ok = (child != parent[link]) & (gap <= window)
        link, child = link[ok], child[ok]
        order = sort_rows(link, gap[ok])
        link, child = link[order], child[order]
        nearest = np.r_[True, link[1:] != link[:-1]][: len(link)]
        out = np.full(len(q), -1, dtype=np.int64)
        out[link[nearest]] = child[nearest]
        return out

    # Hand-offs: a sent attempt whose reply names a queue id found in the logs.
    sent = pc.and_(pc.equal(dl["status"], "sent"), pc.is_valid(dl["next_queue_id"]))
    cand = np.flatnonzero(np.asarray(pc.fill_null(sent, False).to_numpy(zero_copy_only=False)))
    hop = np.full(len(dl["seg"]), None, dtype=object)
    if len(cand):
        sel = pa.array(cand)
        named = ev.next_code[dl["_row"][cand]]
        child = resolve(named, _ts_us(dl["ts"])[cand], dl["seg"][cand])
        parent = dl["seg"][cand]
        found = child >= 0
        # Several attempts may name one child: the earliest is its parent.
        first = np.flatnonzero(found)[::-1]
        files["parent"][child[first]] = parent[first]
        hcode, _ = factorize(pc.fill_null(files["host"], ""))
        other_host = found & (hcode[np.maximum(child, 0)] != hcode[parent])
        loopback = pc.fill_null(pc.is_in(pc.take(dl["relay_ip"], sel), pa.array(_LOOPBACK)), False)
        forwarded = pc.fill_null(
            pc.starts_with(pc.take(dl["reply_text"], sel), "forwarded as"), False
        )
        loop = np.asarray(loopback.to_numpy(zero_copy_only=False), dtype=bool)
        fwd = np.asarray(forwarded.to_numpy(zero_copy_only=False), dtype=bool)
        # A filter's re-injection whose own lines are outside the logs is still a hop.
        local = ~other_host & (found | loop)
        hop[cand[other_host]] = "relay"
        hop[cand[local & fwd]] = "forward"
        hop[cand[local & ~fwd]] = "filter"
    dl["hop"] = pa.array(hop, pa.string())
    # Bounce notices: a new message about an old one.
    notice = np.flatnonzero(ev.mask(Kind.BOUNCE_NOTICE))
    if len(notice):
        # The notice's parent is the queue file of the notice line itself.
        nseg = files["_seg_of_row"][notice]
        child = resolve(ev.next_code[notice], ev.ts[notice], nseg)
        ok = child >= 0
        files["notice_parent"][child[ok]] = nseg[ok]
    files["notice_qid"] = _notice_ids(files, ev, notice)
    # Exim names the other way round: the bounce's arrival (<= <> R=ID) names its original,
    # which may have arrived days before.
    arrivals = np.flatnonzero(ev.mask(Kind.FROM))
    if len(arrivals):
        # Only the null sender's arrivals can be bounces: look for R= in their text alone.
        null_sender = arrivals[as_mask(pc.equal(ev.take("sender", arrivals), ""))]
        # Most such lines have no text (a Postfix qmgr line): gather only the texts there are.
        null_sender = null_sender[ev.has_text(null_sender)]
        texts = ev.take("text", null_sender)
        bounce = as_mask(pc.match_substring_regex(texts, r"(?:^|\s)R=\S"))
        rows = null_sender[bounce]
        if len(rows):
            ref = pc.extract_regex(texts.filter(pa.array(bounce)), r"(?:^|\s)R=(?P<id>\S+)")
            own = files["_seg_of_row"][rows]
            named = _lookup(pc.struct_field(ref, "id"), ev.id_values)
            original = resolve(named, ev.ts[rows], own, MAX_QUEUE_US)
            ok = original >= 0
            files["notice_parent"][own[ok]] = original[ok]
            ids = files["notice_qid"].to_pylist()
            for o, c in zip(original[ok].tolist(), own[ok].tolist(), strict=True):
                ids[o] = files["queue_id"][c].as_py()
            files["notice_qid"] = pa.array(ids, pa.string())


def _lookup(needles: pa.Array, values: pa.Array) -> _IntArray:
    """Each needle's position in ``values`` (distinct), -1 if absent or null."""
    # Encoding values then needles numbers the values 0, 1 … in order: a needle's code is its
    # position when it is below len(values).
    codes, _ = factorize(pa.chunked_array([values, needles.cast(values.type)]))
    found = codes[len(values) :]
    return np.where(found < len(values), found, -1)


def _notice_ids(files: dict[str, Any], ev: _View, notice: _IntArray) -> pa.Array:
    """Per queue file, the queue id of the bounce notice it caused (null if none)."""
    code = np.full(files["n"], -1, dtype=np.int64)
    code[files["_seg_of_row"][notice]] = ev.next_code[notice]
    # The id is in the encoding of the ids already: no need to gather the column again.
    named = _take(ev.id_values, code)
    return named.cast(ev.table.column("next_queue_id").type)


def _names(files: dict[str, Any]) -> pa.Array:
    """``host:queue_id`` of each queue file, ``#n`` added for the n-th reuse of the id."""
    qid = files["queue_id"]
    host = files["host"]
    named = pc.binary_join_element_wise(host, qid, ":")
    base = pc.if_else(pc.fill_null(pc.not_equal(host, ""), False), named, qid)
    reused = files["segn"] > 0
    if not reused.any():
        return base
    # Few ids are reused: only their names get the number.
    at = pa.array(np.flatnonzero(reused))
    number = pc.cast(pa.array(files["segn"][reused]), pa.string())
    tagged = pc.binary_join_element_wise(pc.take(base, at), number, "#")
    return pc.replace_with_mask(base, pa.array(reused), tagged)


def _roots(parent: _IntArray) -> _IntArray:
    """The first queue file of each chain, by pointer jumping (chains are short)."""
    root = np.arange(len(parent))
    for _ in range(64):
        up = parent[root]
        step = up >= 0
        if not step.any():
            break
        root = np.where(step, up, root)
    # A loop of hand-offs (ids reused in a circle) has no first queue file: each of its queue
    # files, and each file that leads into it, stands alone.
    stuck = parent[root] >= 0
    root[stuck] = np.flatnonzero(stuck)
    return root


def as_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """A boolean Arrow column as a NumPy mask, null counting as false.

    >>> as_mask(pa.array([True, None, False])).tolist()
    [True, False, False]
    """
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _empty(schema: pa.Schema, columns: Collection[str] | None) -> pa.Table:
    """A table of ``schema``'s ``columns`` (every one when None) without rows."""
    table = schema.empty_table()
    return table if columns is None else table.select([n for n in schema.names if n in columns])


def _built(
    schema: pa.Schema, build: dict[str, Callable[[], pa.Array]], columns: Collection[str] | None
) -> pa.Table:
    """The table of ``schema``'s ``columns`` (every one when None), each made by ``build``."""
    fields = [f for f in schema if columns is None or f.name in columns]
    return pa.Table.from_arrays(
        [build[f.name]() for f in fields], schema=pa.schema(fields, metadata=schema.metadata)
    )


def _messages(
    files: dict[str, Any],
    dl: dict[str, Any],
    failures: Future[dict[str, pa.Array]],
    message_columns: Collection[str] | None = None,
    delivery_columns: Collection[str] | None = None,
) -> tuple[pa.Table, pa.Table, _IntArray]:
    """MESSAGES and DELIVERIES with ``message_columns`` and ``delivery_columns`` (all when
    None), and each delivery's message row. A column nobody asked for is not made."""
    n = files["n"]
    root = _roots(files["parent"])
    roots = np.flatnonzero(root == np.arange(n))
    nmsg = len(roots)
    rootpos = np.full(n, -1, dtype=np.int64)
    rootpos[roots] = np.arange(nmsg)
    mpos = rootpos[root]  # each queue file's message row
    # Each queue file's message name: made once, if a column asks for it.
    names = cache(partial(_names, files))

    first_ts = files["first_ts"]
    # Delivery columns that need the message: key, total delay, failure classes.
    dseg = dl["seg"]
    dts = _ts_us(dl["ts"])
    root_first = first_ts[root]
    delay = np.asarray(pc.fill_null(dl["delay"], np.nan).to_numpy(zero_copy_only=False))
    arrived_before = (first_ts[dseg] - root_first[dseg]) / 1e6
    total = np.where(np.isnan(delay), (dts - root_first[dseg]) / 1e6, delay + arrived_before)
    # Per-message outcome: the final word on each recipient, not counting hand-offs.
    status = dl["status"]
    is_status = {
        s: as_mask(pc.equal(status, s)) for s in ("sent", "deferred", "bounced", "expired")
    }
    out_rows = np.flatnonzero(dl["final"] & ~as_mask(pc.is_valid(dl["hop"])))
    out_msg = mpos[dseg[out_rows]]
    out_sorted = out_rows[sort_rows(out_msg, dts[out_rows])]
    nout = np.bincount(out_msg, minlength=nmsg)
    counts = {s: np.bincount(out_msg[m[out_rows]], minlength=nmsg) for s, m in is_status.items()}
    deferrals = np.bincount(mpos[dseg[is_status["deferred"]]], minlength=nmsg)
    last_total = np.full(nmsg, np.nan)
    np.fmax.at(last_total, out_msg, total[out_rows])

    def outcomes() -> pa.Array:
        """Each message's recipients with their final status and DSN, in order of time."""
        sel = pa.array(out_sorted, pa.int64())
        return pa.ListArray.from_arrays(
            pa.array(np.r_[0, np.cumsum(nout)], pa.int32()),
            pa.StructArray.from_arrays(
                [pc.take(dl[c], sel) for c in ("recipient", "status", "dsn")],
                names=["recipient", "status", "dsn"],
            ),
        )

    # Chains: every queue file of a message, in order of arrival.
    cseg = sort_rows(mpos, first_ts)
    chain_len = np.bincount(mpos, minlength=nmsg)
    ends = np.cumsum(chain_len)
    chain_off = pa.array(np.r_[0, ends], pa.int32())
    last_of_chain = cseg[ends - 1]
    rejected = np.bincount(mpos, weights=files["rejected"], minlength=nmsg) > 0

    def message_status() -> pa.Array:
        """One status when every recipient ended the same way (sent, bounced, suppressed …)."""
        st_code, st_names = factorize(pc.take(status, pa.array(out_rows, pa.int64())))
        lo = np.full(nmsg, np.iinfo(np.int64).max)
        hi = np.full(nmsg, -2, dtype=np.int64)
        np.minimum.at(lo, out_msg, st_code)
        np.maximum.at(hi, out_msg, st_code)
        # Codes into the statuses seen, then four more: a null status, queued, mixed, rejected.
        labels = pa.concat_arrays(
            [st_names.cast(pa.string()), pa.array(["unknown", "queued", "mixed", "rejected"])]
        )
        unknown = len(st_names)
        msg_status = np.full(nmsg, unknown + 1, dtype=np.int64)
        same = (nout > 0) & (lo == hi)
        msg_status[same] = np.where(lo[same] >= 0, lo[same], unknown)
        msg_status[(nout > 0) & ~same] = unknown + 2
        msg_status[rejected & (nout == 0)] = unknown + 3
        return pc.take(labels, pa.array(msg_status))

    notice_parent = files["notice_parent"][roots]
    at_roots = pa.array(roots)

    def last_seen() -> pa.Array:
        """The time of each message's last line, over all its queue files."""
        seen = np.full(nmsg, np.iinfo(np.int64).min)
        np.maximum.at(seen, mpos, files["last_ts"])
        return pa.array(seen, pa.int64()).cast(MESSAGES.field("last_seen").type)

    def along_chain(col: pa.Array) -> pa.Array:
        """The first value of ``col`` along each message's chain (its own queue file first)."""
        valid = as_mask(pc.is_valid(col))[cseg]
        pos = np.full(nmsg, len(cseg), dtype=np.int64)
        hits = np.flatnonzero(valid)
        np.minimum.at(pos, mpos[cseg[hits]], hits)
        pick = np.where(pos < len(cseg), cseg[np.minimum(pos, len(cseg) - 1)], -1)
        return _take(col, pick)

    counted = {s: partial(pa.array, counts[s], pa.int32()) for s in counts}
    build: dict[str, Callable[[], pa.Array]] = {
        "message": lambda: pc.take(names(), at_roots),
        "host": lambda: files["host"].take(at_roots),
        "queue_id": lambda: files["queue_id"].take(at_roots),
        "queue_ids": lambda: pa.ListArray.from_arrays(
            chain_off, files["queue_id"].take(pa.array(cseg))
        ),
        "hosts": lambda: pa.ListArray.from_arrays(
            chain_off, pc.cast(files["host"], pa.string()).take(pa.array(cseg))
        ),
        "origin": lambda: pc.take(
            pa.array(_ORIGINS, pa.string()),
            pa.array(
                np.where(notice_parent >= 0, _ORIGINS.index("bounce"), files["origin"][roots])
            ),
        ),
        "client_host": lambda: files["client_host"].take(at_roots),
        "client_ip": lambda: files["client_ip"].take(at_roots),
        "message_id": lambda: along_chain(files["message_id"]),
        "sender": lambda: along_chain(files["sender"]),
        "size": lambda: pc.cast(files["size"].take(at_roots), pa.int64()),
        "nrcpt": lambda: pc.cast(files["nrcpt"].take(at_roots), pa.int32()),
        "recipients": lambda: pa.array(nout, pa.int32()),
        "first_seen": lambda: pa.array(first_ts[roots], pa.int64()).cast(
            MESSAGES.field("first_seen").type
        ),
        "last_seen": last_seen,
        "delay": lambda: pa.array(last_total, pa.float64(), from_pandas=True),
        "status": message_status,
        "outcomes": outcomes,
        **counted,
        "deferrals": lambda: pa.array(deferrals, pa.int32()),
        "rejected": lambda: pa.array(rejected, pa.bool_()),
        "removed": lambda: pa.array(files["removed"][last_of_chain], pa.bool_()),
        "notice": lambda: along_chain(files["notice_qid"]),
        "parent": lambda: _take(
            names(), np.where(notice_parent >= 0, root[np.maximum(notice_parent, 0)], -1)
        ),
    }
    messages = _built(MESSAGES, build, message_columns)
    judged = failures.result()
    build = {
        "message": lambda: pc.take(names(), pa.array(root[dseg])),
        "total_delay": lambda: pa.array(total, pa.float64()),
        "final": lambda: pa.array(dl["final"], pa.bool_()),
        **{name: partial(judged.__getitem__, name) for name in FAILURES.names if name in judged},
    }
    for name in DELIVERIES.names:
        if name not in build and name in dl:
            build[name] = partial(pc.cast, dl[name], DELIVERIES.field(name).type)
    deliveries = _built(DELIVERIES, build, delivery_columns)
    return messages, deliveries, mpos[dseg]


def classify_columns(
    status: pa.Array,
    reply_code: pa.Array,
    dsn: pa.Array,
    text: pa.Array,
    reasons: pa.Array | None = None,
    command: pa.Array | None = None,
    relay_host: pa.Array | None = None,
    with_reasons: bool = False,
    columns: Collection[str] | None = None,
) -> dict[str, pa.Array]:
    """The FAILURES columns for attempts: sent is ``delivered``, expired is ``expired``, the rest
    classified from the reply by ``failures.classify_table``.

    Replies differ in addresses, IPs and ids far more often than in cause, so each distinct
    (code, status, reply with those parts blanked, command, host) is classified once.
    ``reasons`` are the texts already blanked by :func:`normalize_reasons`, when the caller has
    them. ``with_reasons``: add ``reason``, each attempt's blanked reply (null for sent and
    expired ones), for a caller that groups by it too. ``columns``: the FAILURES columns
    wanted (all when None); each costs a gather of every attempt.

    >>> cols = classify_columns(pa.array(["sent", "bounced"]), pa.array([250, 550], pa.int16()),
    ...                         pa.array(["2.0.0", "5.2.2"]), pa.array(["ok", "Mailbox full"]))
    >>> cols["category"].to_pylist()
    ['delivered', 'mailbox_full']
    """
    from mailtrace import failures

    n = len(status)
    sent = as_mask(pc.equal(status, "sent"))
    is_expired = as_mask(pc.equal(status, "expired"))
    rows = np.flatnonzero(~sent & ~is_expired)
    sel = pa.array(rows, pa.int64())
    blanked = normalize_reasons(pc.take(text, sel)) if reasons is None else pc.take(reasons, sel)
    nulls = pa.nulls(n, pa.string())
    keys = {
        "reply_code": pc.take(reply_code, sel),
        "dsn": pc.take(dsn, sel),
        "reply_text": blanked,
        "command": pc.take(nulls if command is None else command, sel),
        "relay_host": pc.take(nulls if relay_host is None else relay_host, sel),
    }
    # classify_table judges each distinct reply once, with its first attempt as the example.
    verdicts = failures.classify_table(pa.table(keys))
    # Each attempt's row of the verdicts; two rows more say what sent and expired mean.
    where = np.full(n, len(rows), dtype=np.int64)
    where[is_expired] = len(rows) + 1
    where[rows] = np.arange(len(rows))
    at = pa.array(where)
    fixed = {
        "category": (str(failures.Category.DELIVERED), str(failures.Category.EXPIRED)),
        "family": (str(failures.Family.NOT_FAILURE), str(failures.Family.TERMINAL)),
        "nature": (None, str(failures.Nature.TERMINAL)),
    }
    out: dict[str, pa.Array] = {}
    for f in FAILURES:
        if columns is not None and f.name not in columns:
            continue
        judged = verdicts.column(f.name).combine_chunks()
        when = pa.array(fixed.get(f.name, (None, None)), f.type)
        out[f.name] = pc.take(pa.concat_arrays([judged.cast(f.type), when]), at)
    if with_reasons:
        out["reason"] = pc.take(pa.concat_arrays([blanked, pa.nulls(2, blanked.type)]), at)
    return out


# Variable parts of a reply blanked before grouping, in order (RE2 syntax, linear time).
_BLANKS = (
    (r"^host \S+ said: ", ""),
    (r"name=\S+ type=", "name=… type="),
    (r"<[^<>\s]*>", "<…>"),
    (r"\[?\b\d{1,3}(?:\.\d{1,3}){3}\b\]?|\[[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*\]", "[…]"),
    (r"\d{4}-\d\d-\d\dT[\d:.]+Z?|[A-Za-z0-9+=_-]{14,}|\b\d{4,}\b", "…"),
    (r"\s\s+", " "),
)
_REASON_MAX = 300


def normalize_reasons(texts: pa.Array | pa.ChunkedArray, compiled: bool = True) -> pa.Array:
    """Reply texts with their variable parts blanked, so that one cause groups as one reason.

    The compiled module replaces the patterns of ``_BLANKS`` by hand, in one call; without it
    (or with ``compiled=False``) Arrow's RE2 does, pattern by pattern.

    >>> normalize_reasons(pa.array([
    ...     "host mx.example.net[198.51.100.4] said: 550 5.1.1 <bob@example.net>: User unknown",
    ...     "host mx.example.net[198.51.100.4] said: 550 5.1.1 <al@example.net>: User unknown",
    ... ])).to_pylist()
    ['550 5.1.1 <…>: User unknown', '550 5.1.1 <…>: User unknown']
    """
    # Replies repeat (one cause, many recipients): blank each distinct text once.
    codes, out = factorize(pc.fill_null(texts, ""))
    core = queue_files.pathcore
    if core is not None and compiled and out.type == pa.string():
        # All six patterns in one pass of C per text: 3 ms for the 10,000 distinct texts of
        # a 1,000,000-line log's rejects, where RE2 took 35 ms.
        _, offsets, data = out.buffers()
        new_offsets, new_data = core.blank(offsets, data or b"", out.offset, len(out))
        out = pa.Array.from_buffers(
            pa.string(), len(out), [None, pa.py_buffer(new_offsets), pa.py_buffer(new_data)]
        )
        alike, out = factorize(out)
        codes = alike[codes]
    else:
        for pattern, repl in _BLANKS:
            out = pc.replace_substring_regex(out, pattern, repl)
            # Texts that are now alike are one text for the patterns after (a reject's 10,000
            # texts, one a client, are 12 once the addresses and IPs are blanked).
            alike, out = factorize(out)
            codes = alike[codes]
    out = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(out), 0, _REASON_MAX)
    return pc.take(out, pa.array(codes))


def read_events(
    inputs: list[Path],
    columns: tuple[str, ...] = COLUMNS,
    *,
    year: int | None = None,
    tz: str | None = None,
    errors: Errors = "raise",
) -> pa.Table:
    """EVENTS from mail logs or from Parquet datasets written by ``mailtrace logs -o``.

    A directory holding ``*.parquet`` files (or a ``.parquet`` file) is read as a dataset with
    only ``columns``; anything else is parsed as a mail log (``year`` and ``tz`` as for
    ``mailtrace logs``: the year of the first RFC 3164 line, the zone of stamps without one).
    Several inputs (two hosts' logs, a rotated set) make one table.

    >>> read_events([]).num_rows
    0
    """
    return read_events_counted(inputs, columns, year=year, tz=tz, errors=errors)[0]


def read_events_counted(
    inputs: list[Path],
    columns: tuple[str, ...] = COLUMNS,
    *,
    year: int | None = None,
    tz: str | None = None,
    errors: Errors = "raise",
    imports: Collection[str] = (),
    kinds: Collection[str] | None = None,
) -> tuple[pa.Table, Counts]:
    """:func:`read_events` plus where the logs' lines went (unparsed, damaged, failed inputs).

    Datasets add nothing to the counts: ``mailtrace logs`` reported their lines when it wrote
    them. With ``errors="skip"`` a damaged input keeps the lines before the damage and its
    problem is listed in ``Counts.problems``. ``imports``: modules the caller's analysis will
    use, imported while the logs are parsed. ``kinds``: the kinds the caller reads; events of
    other kinds that name no queue file may be left out of a large log's table (they are still
    counted in ``Counts.events``), smtpd's connects and disconnects then come last, and a
    delivery whose reply was read (``reply_text``) has no ``text``.

    >>> read_events_counted([])[1].lines
    0
    """
    events, sessions, counts = read_events_apart(
        inputs, columns, year=year, tz=tz, errors=errors, imports=imports, kinds=kinds
    )
    if sessions is not None:
        events = pa.concat_tables([events, events_columns(sessions, columns)])
    return events, counts


def read_events_apart(
    inputs: list[Path],
    columns: tuple[str, ...] = COLUMNS,
    *,
    year: int | None = None,
    tz: str | None = None,
    errors: Errors = "raise",
    imports: Collection[str] = (),
    kinds: Collection[str] | None = None,
) -> tuple[pa.Table, pa.Table | None, Counts]:
    """:func:`read_events_counted` with smtpd's sessions apart: (events, sessions, counts).

    With ``kinds``, a large log's smtpd connects and disconnects (a quarter of a busy server's
    events, which only the count of SMTP sessions reads) are parsed into a narrow table of
    their own (:data:`mailtrace.logs.fast.SESSIONS`), in line order, instead of among the
    events; ``sessions`` is None where every event is in ``events`` (small logs, datasets).
    Sessions parsed apart come after any the events hold, as the logs come after the datasets.

    >>> read_events_apart([])[1] is None
    True
    """
    from mailtrace.logs.batch import preload
    from mailtrace.logs.reader import Counts

    datasets: list[Path] = []
    logs: list[Path] = []
    for path in inputs:
        (datasets if is_dataset(path) else logs).append(path)
    counts = Counts()
    if not logs:
        preload(*imports)  # else the parse does, once its plan is made
    tables = [_read_dataset(path, columns) for path in datasets]
    sessions = None
    if logs:
        table, sessions, counts = _parse_logs(logs, columns, year, tz, errors, imports, kinds)
        tables.append(table)
    if not tables:
        return events_columns(EVENTS.empty_table(), columns), sessions, counts
    return pa.concat_tables([events_columns(t, columns) for t in tables]), sessions, counts


def _read_dataset(path: Path, columns: tuple[str, ...]) -> pa.Table:
    """``columns`` of every Parquet file of a dataset (or of one file), in path order.

    Files and directories named ``_…`` or ``.…`` are not part of a dataset (``_unparsed/``, a
    writer's temporary files), as for pyarrow's dataset discovery. Each file is read on its own
    rather than through ``pyarrow.dataset``, whose import also imports pandas (0.3-0.5 s) where
    the report would rather import it beside the read.
    """
    import pyarrow.parquet as pq

    if path.is_dir():
        files = sorted(
            f
            for f in path.rglob("*.parquet")
            if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts)
        )
    else:
        files = [path]
    tables = []
    for file in files:
        try:
            parquet = pq.ParquetFile(file)
            wanted = [c for c in columns if c in parquet.schema_arrow.names]
            tables.append(events_columns(parquet.read(columns=wanted), columns))
        except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(str(file), f"not a readable Parquet file ({exc})") from None
    if not tables:
        return events_columns(EVENTS.empty_table(), columns)
    return pa.concat_tables(tables)


def _parse_logs(
    paths: list[Path],
    columns: tuple[str, ...],
    year: int | None,
    tz: str | None,
    errors: Errors,
    imports: Collection[str] = (),
    kinds: Collection[str] | None = None,
) -> tuple[pa.Table, pa.Table | None, Counts]:
    import os

    from mailtrace.logs import batch, reader
    from mailtrace.sources import expand_inputs

    for path in paths:
        if not path.exists():
            raise InputError(str(path), "no such file or directory")
    size = sum(p.stat().st_size for p in paths if p.is_file())
    if size >= PARALLEL_BYTES and (os.cpu_count() or 1) > 1:
        # Both cores parse (byte ranges of one big file, or one file each); the workers send
        # back only the columns needed, straight into memory.
        wanted = [c for c in columns if c in EVENTS.names]
        summary = batch.run(
            [str(p) for p in paths],
            year=year,
            tz=tz,
            columns=wanted,
            errors=errors,
            imports=imports,
            tally=False,  # the events are counted where they are analysed
            kinds=kinds,
        )
        events, sessions = _sessions_apart(summary.tables)
        if not events:
            return EVENTS.empty_table().select(wanted), sessions, summary.counts
        return pa.concat_tables(events), sessions, summary.counts
    batch.preload(*imports)
    counts = reader.Counts()
    tables = []
    for source in expand_inputs([str(p) for p in paths]):
        part = reader.parse_file_tables(source, year=year, tz=tz, errors=errors)
        counts = counts + part.counts
        tables.append(part.events.select([c for c in columns if c in part.events.column_names]))
    if not tables:
        return EVENTS.empty_table().select([c for c in columns if c in EVENTS.names]), None, counts
    return pa.concat_tables(tables), None, counts


def _sessions_apart(tables: list[pa.Table | Sessions]) -> tuple[list[pa.Table], pa.Table | None]:
    """A run's kept tables (events, each perhaps followed by its :class:`batch.Sessions`) as the
    events tables and one sessions table, in input order.

    A table no sessions follow (a whole small file, a framing the compiled parser does not
    read) gives its own smtpd connects and disconnects to the sessions, in their place: the
    count of sessions pairs a connect with the next disconnect of its process in time, and
    where two files' lines share a second, their order decides.
    """
    from mailtrace.logs.batch import Sessions
    from mailtrace.logs.fast import SESSIONS

    if not any(isinstance(t, Sessions) for t in tables):
        return list(tables), None  # every session is among the events, in order
    events: list[pa.Table] = []
    apart: list[pa.Table] = []
    for i, table in enumerate(tables):
        if isinstance(table, Sessions):
            apart.append(table.table)
            continue
        names = table.column_names
        if (i + 1 < len(tables) and isinstance(tables[i + 1], Sessions)) or not all(
            name in names for name in ("queue_id", "kind", "program")
        ):
            events.append(table)
            continue
        session = pc.and_(
            pc.and_(
                pc.is_null(table.column("queue_id")),
                pc.is_in(table.column("kind"), pa.array([Kind.CONNECT, Kind.DISCONNECT])),
            ),
            pc.match_substring(table.column("program"), "smtpd"),
        )
        session = pc.fill_null(session, False)
        apart.append(events_columns(table.filter(session), tuple(SESSIONS.names)))
        events.append(table.filter(pc.invert(session)))
    return events, pa.concat_tables(apart)


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
