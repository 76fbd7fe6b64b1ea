"""Everything mailtrace prints to a terminal: rich tables, summaries, JSON and CSV output.

Untrusted text (header values, log lines, reply texts) always goes through :func:`safe` before it
reaches rich, so ``[bold]`` or ``[link=…]`` inside a header shows as written instead of being
interpreted as markup.

>>> safe("[red]pwned[/red]")
'\\\\[red]pwned\\\\[/red]'
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

# stdout carries results; stderr carries progress, counts of unreadable lines and errors.
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def safe(text: object) -> str:
    """``text`` escaped for rich markup, with control characters made visible."""
    if text is None:
        return ""
    s = str(text)
    if any(ord(c) < 32 and c not in "\t\n" for c in s):
        s = "".join(c if ord(c) >= 32 or c in "\t\n" else f"\\x{ord(c):02x}" for c in s)
    return escape(s)


def print_json(value: Any) -> None:
    """Write ``value`` as JSON to stdout (datetimes and other objects as strings)."""
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def error(message: str) -> None:
    """One line on stderr: ``mailtrace: <message>``."""
    err.print(f"mailtrace: {safe(message)}", style="red", soft_wrap=True)


def warn(message: str) -> None:
    """A non-fatal note on stderr."""
    err.print(f"mailtrace: {safe(message)}", style="yellow", soft_wrap=True)


# --- DNS (mailtrace mx / mailtrace dns) -------------------------------------------------------


def mx_results(results: list[Any]) -> None:
    """One table per domain: preference groups in the order an MTA tries them."""
    from rich.table import Table

    for result in results:
        title = f"MX of {safe(result.domain)}"
        if result.status != "ok":
            out.print(f"[bold]{title}[/bold]: [red]{safe(result.status)}[/red]")
            for problem in result.problems:
                out.print(f"  {safe(problem)}")
            continue
        if result.null_mx:
            out.print(f"[bold]{title}[/bold]: null MX (RFC 7505) — this domain accepts no mail")
            continue
        table = Table(title=title, title_justify="left")
        for column in ("try", "pref", "exchange", "addresses", "problems"):
            table.add_column(column)
        for order, group in enumerate(result.groups, 1):
            label = f"{order}" if len(group) == 1 else f"{order} (any order)"
            for target in group:
                table.add_row(
                    label,
                    "implicit" if target.implicit else str(target.preference),
                    safe(target.exchange),
                    safe(", ".join(target.addresses)),
                    "[red]" + safe("; ".join(target.problems)) + "[/red]"
                    if target.problems
                    else "",
                )
                label = ""
        out.print(table)
        for problem in result.problems:
            out.print(f"  note: {safe(problem)}")


def domain_reports(reports: list[Any]) -> None:
    """MX, SPF (with its include chain), DMARC, MTA-STS and TLS-RPT of each domain."""
    from rich.tree import Tree

    for report in reports:
        mx_results([report.mx])
        spf = report.spf
        tree = Tree(
            f"SPF {safe(spf.domain)}: {safe(spf.record or spf.status)} "
            f"— {spf.total_lookups} DNS lookups of 10 allowed"
        )
        _spf_children(tree, spf)
        out.print(tree)
        for problem in spf.problems:
            out.print(f"  [red]{safe(problem)}[/red]")
        for label, record in (
            ("DMARC", report.dmarc),
            ("MTA-STS", report.mta_sts),
            ("TLS-RPT", report.tls_rpt),
        ):
            shown = safe(record.record) if record.record else f"none ({safe(record.status)})"
            out.print(f"{label} {safe(record.name)}: {shown}")
            for problem in record.problems:
                out.print(f"  [red]{safe(problem)}[/red]")
        out.print()


def _spf_children(tree: Any, node: Any) -> None:
    for child in node.children:
        branch = tree.add(
            f"{safe(child.domain)}: {safe(child.record or child.status)} ({child.lookups} lookups)"
        )
        _spf_children(branch, child)


# --- headers (mailtrace headers) ---------------------------------------------------------------

# Header text can be a megabyte long; a terminal cell shows this much of it.
_CELL = 200


def _clip(text: object, width: int = _CELL) -> str:
    s = "" if text is None else str(text)
    return safe(s if len(s) <= width else s[: width - 1] + "…")


def duration(seconds: float | None) -> str:
    """A signed, short duration: ``+4s``, ``-1m 05s``, ``+2h 03m``; empty when unknown.

    >>> duration(65.0), duration(-3.5), duration(7380), duration(None)
    ('+1m 05s', '-3.5s', '+2h 03m', '')
    """
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else "+"
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:g}s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600):02d}h"


def _sender(r: Any) -> str:
    parts = [_clip(r.from_host, 60)] if r.from_host else []
    if r.from_rdns and r.from_rdns != r.from_host:
        parts.append(f"({_clip(r.from_rdns, 60)})")
    if r.from_ip:
        parts.append(f"[{_clip(r.from_ip, 45)}]")
    return " ".join(parts)


def _transport(r: Any) -> str:
    text = _clip(r.protocol or r.with_raw or "", 30)
    if r.tls_version or r.tls_cipher:
        tls = " ".join(str(x) for x in (r.tls_version, r.tls_cipher) if x)
        text = f"{text} {_clip(tls, 60)}".strip()
    return text


def header_reports(reports: list[Any]) -> None:
    """Per message: the hop table (origin first), the summary, authentication and vendor notes."""
    from rich.table import Table

    for report in reports:
        s = report.summary
        table = Table(title=f"{safe(report.source)}", title_justify="left", expand=False)
        for name, justify in (
            ("hop", "right"),
            ("delay", "right"),
            ("from", "left"),
            ("by", "left"),
            ("protocol / TLS", "left"),
            ("time (UTC)", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for h in report.hops:
            r = h.received
            when = r.date_utc.strftime("%Y-%m-%d %H:%M:%S") if r.date_utc else ""
            if when and r.utc_offset:
                when += f" ({_clip(r.utc_offset, 12)})"
            delay = safe(duration(h.delay_s))
            table.add_row(
                str(h.hop),
                f"[red]{delay}[/red]" if h.clock_skew else delay,
                _sender(r),
                _clip(r.by_host, 60),
                _transport(r),
                when,
            )
        out.print(table)
        origin = ""
        if s.originating_ip:
            origin = f"{safe(s.originating_ip)} (hop {s.originating_hop})"
        for label, value in (
            ("From", _clip(s.from_)),
            ("To", _clip(s.to)),
            ("Subject", _clip(s.subject)),
            ("Date", _clip(s.date)),
            ("Message-ID", _clip(s.message_id)),
            ("Return-Path", _clip(s.return_path)),
            ("Originating IP", origin),
            ("Transit", safe(duration(s.transit_s))),
        ):
            if value:
                out.print(f"[bold]{label}:[/bold] {value}")
        verdicts = [
            f"{_clip(a.method, 40)}={_clip(a.result, 20)}"
            for a in report.auth
            if a.result and a.header.lower() == "authentication-results"
        ]
        if verdicts:
            out.print(f"[bold]Authentication:[/bold] {' '.join(dict.fromkeys(verdicts))}")
        for v in report.vendors:
            meaning = f" — {_clip(v.meaning)}" if v.meaning else ""
            out.print(f"  {safe(v.vendor)} {_clip(v.field, 40)}={_clip(v.value, 80)}{meaning}")
        for note in s.anomalies:
            out.print(f"  [yellow]! {_clip(note)}[/yellow]")
        out.print()


def print_csv(table: Any) -> None:
    """Write an Arrow table to stdout as CSV with a header row."""
    import pyarrow.csv as pacsv

    sys.stdout.flush()
    pacsv.write_csv(table, sys.stdout.buffer)
    sys.stdout.buffer.flush()
