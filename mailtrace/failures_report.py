"""Failures over a period of mail logs: by category, family, recipient domain, provider and time.

Four kinds of failure are counted side by side, never added blindly:

* ``attempts`` — every failed delivery attempt (DELIVERIES with status deferred, bounced or
  expired): a recipient deferred five times counts five;
* ``final`` — the recipients whose last logged outcome was a failure (``final`` attempts among
  those): each recipient once, as it stands at the end of the logs;
* ``rejects`` — mail refused on the way in (EVENTS kind ``reject``: smtpd, milters, postscreen),
  with ``reject_warnings`` (would have been refused) kept apart;
* ``connect_failures`` — outbound connections that failed before any recipient was tried.

``total`` is attempts + rejects + connect failures. Attempts come classified from the delivery
paths (:func:`mailtrace.paths.paths_tables`), rejects and connect failures from
:func:`mailtrace.failures.classify_events`; both classify each distinct reply once, so a
million-line log costs its distinct replies, not its lines. The result is plain data
(:class:`FailureReport`, JSON-ready through :meth:`FailureReport.to_dict`); render.py draws it.

>>> from mailtrace.schema import EVENTS
>>> build_failures(EVENTS.empty_table()).totals["total"]
0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mailtrace import event_columns
from mailtrace.failures import classify_events
from mailtrace.logs.kinds import Kind
from mailtrace.paths import as_mask, events_columns, normalize_reasons, paths_tables

# The summary report's ways to take domains and to group blanked reasons, shared.
from mailtrace.report import address_domains, grouped_reasons

if TYPE_CHECKING:
    import pandas as pd

#: The EVENTS columns the failure report reads (a Parquet dataset is read with only these).
COLUMNS = event_columns.FAILURES

#: The delivery statuses that are failures.
FAILED_STATUSES = ("deferred", "bounced", "expired")
#: The counts every breakdown carries, in display order.
COUNTS = ("total", "attempts", "final", "rejects", "reject_warnings", "connect_failures")
#: A period up to this long is shown per hour, a longer one per day.
HOURLY_UP_TO_S = 2 * 86400
#: Example reply texts shown per category.
EXAMPLES = 3

_SOURCES = ("attempt", Kind.REJECT.value, Kind.REJECT_WARNING.value, Kind.CONNECT_FAILURE.value)


@dataclass
class FailureReport:
    """Failures over the period, as plain lists and dicts."""

    period: dict[str, Any] = field(default_factory=dict)  # first, last (UTC), bucket: hour/day
    totals: dict[str, int] = field(default_factory=dict)
    categories: list[dict[str, Any]] = field(default_factory=list)
    families: list[dict[str, Any]] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    detail: int = 10

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready dicts and lists.

        >>> sorted(FailureReport().to_dict())[:3]
        ['categories', 'detail', 'domains']
        """
        return asdict(self)


def build_failures(events: pa.Table | pd.DataFrame, detail: int = 10) -> FailureReport:
    """Count the failures in EVENTS (one or several hosts) into a :class:`FailureReport`.

    ``detail`` caps the recipient-domain list.

    >>> from mailtrace.schema import EVENTS
    >>> ev = pa.Table.from_pylist([
    ...     {"ts": 0, "host": "mx", "queue_id": "Q1", "kind": "from", "sender": "s@example.org"},
    ...     {"ts": 60_000_000, "host": "mx", "queue_id": "Q1", "kind": "delivery",
    ...      "status": "bounced", "recipient": "gone@example.com", "reply_code": 550,
    ...      "dsn": "5.1.1", "reply_text": "5.1.1 <gone@example.com>: User unknown"},
    ...     {"ts": 120_000_000, "host": "mx", "kind": "reject", "recipient": "x@example.net",
    ...      "reply_code": 554, "dsn": "5.7.1", "reply_text": "Client host [192.0.2.9] "
    ...      "blocked using zen.spamhaus.org"}], EVENTS)
    >>> r = build_failures(ev)
    >>> [(c["category"], c["class"], c["total"]) for c in r.categories]
    [('blocklisted', '5', 1), ('unknown_user', '5', 1)]
    >>> [(d["domain"], d["final"], d["rejects"]) for d in r.domains]
    [('example.com', 1, 0), ('example.net', 0, 1)]
    """
    if not isinstance(events, pa.Table):
        events = pa.Table.from_pandas(events, preserve_index=False)
    events = events_columns(events, COLUMNS)
    failed = _failure_rows(events)
    rep = FailureReport(detail=detail)
    rep.period = _period(events.column("ts"))
    rep.totals = _totals(failed)
    rep.categories = _breakdown(failed, "category", extra=("family", "nature"))
    rep.families = _breakdown(failed, "family")
    rep.domains = _breakdown(failed, "domain")[:detail]
    rep.providers = _providers(failed)
    rep.timeline = _timeline(failed, rep.period)
    rep.examples = grouped_reasons(
        failed.column("category"),
        normalize_reasons(failed.column("text")),
        _codes(failed),
        EXAMPLES,
    )
    return rep


def _failure_rows(events: pa.Table) -> pa.Table:
    """One row per failure of any source: source, final, status, ts, domain, verdict, codes."""
    _, deliveries = paths_tables(events)
    attempts = deliveries.filter(pc.is_in(deliveries.column("status"), pa.array(FAILED_STATUSES)))
    kinds = pa.array(_SOURCES[1:])
    refused = classify_events(events.filter(pc.is_in(events.column("kind"), kinds)))
    n_att, n_ref = attempts.num_rows, refused.num_rows

    def both(name: str, refused_column: pa.ChunkedArray | pa.Array | None = None) -> pa.Array:
        other = refused.column(name) if refused_column is None else refused_column
        return pa.concat_arrays(
            [
                attempts.column(name).combine_chunks(),
                _combined(pc.cast(other, attempts.schema.field(name).type)),
            ]
        )

    recipient = both("recipient")
    table = pa.table(
        {
            "source": pa.concat_arrays(
                [pa.array(["attempt"] * n_att, pa.string()), _combined(refused.column("kind"))]
            ),
            "final": pa.concat_arrays(
                [
                    _combined(pc.fill_null(attempts.column("final"), False)),
                    pa.array(np.zeros(n_ref, dtype=bool)),
                ]
            ),
            "status": both("status"),
            "ts": both("ts"),
            "domain": pc.fill_null(address_domains(recipient), "(no recipient)"),
            "category": pc.fill_null(both("category"), "unclassified"),
            "family": pc.fill_null(both("family"), "terminal"),
            # A reply with nothing to classify is unclassified: terminal, nothing to retry.
            "nature": pc.fill_null(both("nature"), "X"),
            "provider": both("provider"),
            "provider_code": both("provider_code"),
            "reply_code": both("reply_code"),
            "dsn": both("dsn"),
            "text": both(
                "reply_text", pc.coalesce(refused.column("reply_text"), refused.column("text"))
            ),
        }
    )
    return table.append_column("class", _class_digit(table))


def _combined(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _class_digit(table: pa.Table) -> pa.Array:
    """4 or 5 from the reply code, else the enhanced status, else the delivery status."""
    code = pc.cast(pc.divide(pc.cast(table.column("reply_code"), pa.int32()), 100), pa.int8())
    code = pc.if_else(pc.is_in(code, pa.array([4, 5], pa.int8())), code, pa.scalar(None, pa.int8()))
    first = pc.utf8_slice_codeunits(table.column("dsn"), 0, 2)
    dsn = pc.if_else(
        pc.equal(first, "4."),
        pa.scalar(4, pa.int8()),
        pc.if_else(pc.equal(first, "5."), pa.scalar(5, pa.int8()), pa.scalar(None, pa.int8())),
    )
    status = table.column("status")
    by_status = pc.if_else(
        pc.equal(status, "deferred"),
        pa.scalar(4, pa.int8()),
        pc.if_else(
            pc.equal(status, "bounced"), pa.scalar(5, pa.int8()), pa.scalar(None, pa.int8())
        ),
    )
    return _combined(pc.coalesce(code, dsn, by_status))


def _codes(failed: pa.Table) -> pa.Array:
    code = pc.coalesce(failed.column("dsn"), pc.cast(failed.column("reply_code"), pa.string()))
    return _combined(pc.fill_null(code, ""))


def _masks(failed: pa.Table) -> dict[str, np.ndarray[Any, np.dtype[np.bool_]]]:
    """Which rows each count takes."""
    source = failed.column("source")
    m = {
        "attempts": as_mask(pc.equal(source, "attempt")),
        "rejects": as_mask(pc.equal(source, Kind.REJECT.value)),
        "reject_warnings": as_mask(pc.equal(source, Kind.REJECT_WARNING.value)),
        "connect_failures": as_mask(pc.equal(source, Kind.CONNECT_FAILURE.value)),
    }
    m["final"] = m["attempts"] & as_mask(failed.column("final"))
    m["total"] = m["attempts"] | m["rejects"] | m["connect_failures"]
    return m


def _totals(failed: pa.Table) -> dict[str, int]:
    masks = _masks(failed)
    totals = {name: int(masks[name].sum()) for name in COUNTS}
    status = failed.column("status")
    for st in FAILED_STATUSES:
        hit = as_mask(pc.equal(status, st))
        totals[f"attempts_{st}"] = int((hit & masks["attempts"]).sum())
        totals[f"final_{st}"] = int((hit & masks["final"]).sum())
    return totals


def _breakdown(failed: pa.Table, key: str, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every value of ``key`` with the counts, the 4xx/5xx split of ``total`` and the top
    category; most failures first."""
    masks = _masks(failed)
    klass = np.asarray(pc.fill_null(failed.column("class"), 0).to_numpy(zero_copy_only=False))
    columns: dict[str, Any] = {name: masks[name].astype(np.int64) for name in COUNTS}
    columns["class_4"] = (masks["total"] & (klass == 4)).astype(np.int64)
    columns["class_5"] = (masks["total"] & (klass == 5)).astype(np.int64)
    keys = pc.fill_null(failed.column(key), "(none)")
    table = pa.table({key: keys, **{k: pa.array(v) for k, v in columns.items()}})
    for name in extra:
        table = table.append_column(name, failed.column(name))
    aggs: list[tuple[str, str]] = [(c, "sum") for c in columns]
    aggs += [(name, "min") for name in extra]  # one value per key: the taxonomy's
    rows = table.group_by(key).aggregate(aggs).to_pylist()
    out = []
    for r in rows:
        row: dict[str, Any] = {key: r[key]}
        row.update({name: r[f"{name}_min"] for name in extra})
        c4, c5 = r["class_4_sum"], r["class_5_sum"]
        row["class"] = "/".join(d for d, c in (("4", c4), ("5", c5)) if c)
        row.update({name: int(r[f"{name}_sum"]) for name in COUNTS})
        row.update({"class_4": int(c4), "class_5": int(c5)})
        out.append(row)
    if key != "category":
        _top_category(failed, key, out)
    out.sort(key=lambda r: (-r["total"], -r["reject_warnings"], str(r[key])))
    return out


def _top_category(failed: pa.Table, key: str, rows: list[dict[str, Any]]) -> None:
    """Name each row's most frequent category (over ``total``, else the warnings)."""
    table = pa.table(
        {key: pc.fill_null(failed.column(key), "(none)"), "category": failed.column("category")}
    )
    counted = table.group_by([key, "category"]).aggregate([([], "count_all")]).to_pylist()
    counted.sort(key=lambda r: (-r["count_all"], r["category"]))
    best: dict[str, str] = {}
    for r in counted:
        best.setdefault(r[key], r["category"])
    for row in rows:
        row["top_category"] = best.get(row[key])


def _providers(failed: pa.Table) -> list[dict[str, Any]]:
    """Per provider (gmail, microsoft …): the counts and the provider's own codes seen."""
    known = failed.filter(pc.is_valid(failed.column("provider")))
    rows = _breakdown(known, "provider")
    pairs = pa.table({"provider": known.column("provider"), "code": known.column("provider_code")})
    counted = pairs.group_by(["provider", "code"]).aggregate([([], "count_all")]).to_pylist()
    counted.sort(key=lambda r: (-r["count_all"], str(r["code"])))
    codes: dict[str, list[dict[str, Any]]] = {}
    for r in counted:
        if r["code"] is not None:
            codes.setdefault(r["provider"], []).append({"code": r["code"], "count": r["count_all"]})
    for row in rows:
        row["codes"] = codes.get(row["provider"], [])
    return rows


def _period(ts: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
    lo, hi = pc.min_max(ts).values()
    if not lo.is_valid:
        return {"first": None, "last": None, "bucket": "day"}
    first, last = lo.as_py(), hi.as_py()
    span = (last - first).total_seconds()
    return {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "bucket": "hour" if span <= HOURLY_UP_TO_S else "day",
    }


def _timeline(failed: pa.Table, period: dict[str, Any]) -> list[dict[str, Any]]:
    """Counts per hour or per day, every bucket of the period (empty ones too)."""
    from datetime import datetime

    if period["first"] is None:
        return []
    step = 3_600_000_000 if period["bucket"] == "hour" else 86_400_000_000
    start = _us(datetime.fromisoformat(period["first"])) // step
    end = _us(datetime.fromisoformat(period["last"])) // step
    n = int(end - start + 1)
    us = pc.fill_null(pc.cast(failed.column("ts"), pa.int64()), start * step)
    bucket = np.asarray(us.to_numpy(zero_copy_only=False)) // step - start
    bucket = np.clip(bucket, 0, n - 1)
    masks = _masks(failed)
    counts = {name: np.bincount(bucket[masks[name]], minlength=n) for name in COUNTS}
    unit = "h" if period["bucket"] == "hour" else "D"
    fmt = 16 if unit == "h" else 10
    out = []
    for i in range(n):
        when = np.datetime64(int((start + i) * step), "us").astype(f"datetime64[{unit}]")
        label = str(np.datetime_as_string(when, unit="m" if unit == "h" else "D"))[:fmt]
        out.append({"bucket": label.replace("T", " "), **{k: int(c[i]) for k, c in counts.items()}})
    return out


def _us(when: Any) -> int:
    return int(when.timestamp() * 1_000_000)
