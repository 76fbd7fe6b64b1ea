"""One message's full header analysis: hops, authentication, vendor verdicts and summary.

This is what ``mailtrace headers`` shows and what the HOPS and AUTH tables are built from.

>>> from mailtrace.headers.message import parse_headers
>>> r = analyze(parse_headers(
...     "Received: from a.example ([192.0.2.1]) by mx.example.net;"
...     " Tue, 3 Mar 2026 10:00:03 +0000\\n"
...     "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a.example\\n"
...     "Date: Tue, 3 Mar 2026 10:00:00 +0000\\n", "m.eml"))
>>> len(r.hops), r.auth[0].result, r.summary.transit_s
(1, 'pass', 3.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from mailtrace.headers.auth import AuthResult, auth_table, parse_auth
from mailtrace.headers.hops import Hop, build_hops, hops_table
from mailtrace.headers.message import MessageHeaders
from mailtrace.headers.summary import Summary, parse_date_header, summarize
from mailtrace.headers.vendors import VendorNote, decode_vendor_headers


@dataclass(frozen=True, slots=True)
class MessageReport:
    """Everything header analysis found in one message."""

    headers: MessageHeaders
    hops: tuple[Hop, ...]  # chronological: hops[0] is the origin
    auth: tuple[AuthResult, ...]
    vendors: tuple[VendorNote, ...]
    summary: Summary

    @property
    def source(self) -> str:
        """The message's name: file, or file#n inside an mbox."""
        return self.headers.source


def analyze(headers: MessageHeaders) -> MessageReport:
    """Analyse one message's header fields (pure: no I/O, no DNS)."""
    date = parse_date_header(headers)
    hops = build_hops(headers.get_all("Received"), date.utc)
    return MessageReport(
        headers=headers,
        hops=tuple(hops),
        auth=tuple(parse_auth(headers.fields)),
        vendors=tuple(decode_vendor_headers(headers.fields)),
        summary=summarize(headers, hops, date),
    )


def reports_hops_table(reports: Iterable[MessageReport]) -> pa.Table:
    """The HOPS table of several analysed messages, each message's hops in header order.

    >>> from mailtrace.headers.message import parse_headers
    >>> m = parse_headers("Received: by b.example; Tue, 3 Mar 2026 10:00:00 +0000\\n", "m")
    >>> reports_hops_table([analyze(m)]).column("message").to_pylist()
    ['m']
    """
    return hops_table((r.source, sorted(r.hops, key=lambda h: h.header_index)) for r in reports)


def reports_auth_table(reports: Iterable[MessageReport]) -> pa.Table:
    """The AUTH table of several analysed messages.

    >>> from mailtrace.headers.message import parse_headers
    >>> reports_auth_table([analyze(parse_headers("Received-SPF: pass\\n", "m"))]).num_rows
    1
    """
    return auth_table((r.source, r.auth) for r in reports)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def hop_dict(h: Hop) -> dict[str, Any]:
    """A hop as JSON-ready values, keyed like the HOPS table's columns."""
    r = h.received
    return {
        "hop": h.hop,
        "header_index": h.header_index,
        "from_helo": r.from_helo,
        "from_rdns": r.from_rdns,
        "from_ip": r.from_ip,
        "by_host": r.by_host,
        "via": r.via,
        "protocol": r.protocol,
        "with_raw": r.with_raw,
        "tls_version": r.tls_version,
        "tls_cipher": r.tls_cipher,
        "id": r.id,
        "for": r.for_,
        "envelope_from": r.envelope_from,
        "timestamp": _iso(r.date_utc),
        "utc_offset": r.utc_offset,
        "delay_s": h.delay_s,
        "clock_skew": h.clock_skew,
        "raw": r.raw,
        "problems": list(r.problems),
    }


def report_dict(report: MessageReport) -> dict[str, Any]:
    """One message as a JSON-ready object: summary, hops (header order), auth and vendor notes.

    >>> from mailtrace.headers.message import parse_headers
    >>> d = report_dict(analyze(parse_headers("Subject: hi\\n", "m")))
    >>> d["message"], d["summary"]["subject"], d["hops"]
    ('m', 'hi', [])
    """
    s = report.summary
    return {
        "message": report.source,
        "summary": {
            "from": s.from_,
            "to": s.to,
            "cc": s.cc,
            "subject": s.subject,
            "date": s.date,
            "date_utc": _iso(s.date_utc),
            "message_id": s.message_id,
            "return_path": s.return_path,
            "originating_ip": s.originating_ip,
            "originating_hop": s.originating_hop,
            "earliest_ip": s.earliest_ip,
            "earliest_hop": s.earliest_hop,
            "transit_s": s.transit_s,
            "anomalies": list(s.anomalies),
        },
        "hops": [hop_dict(h) for h in sorted(report.hops, key=lambda h: h.header_index)],
        "auth": [
            {
                "header": a.header,
                "authserv_id": a.authserv_id,
                "method": a.method,
                "result": a.result,
                "properties": a.properties,
                "instance": a.instance,
            }
            for a in report.auth
        ],
        "vendors": [
            {
                "vendor": v.vendor,
                "header": v.header,
                "field": v.field,
                "value": v.value,
                "meaning": v.meaning,
            }
            for v in report.vendors
        ],
    }
