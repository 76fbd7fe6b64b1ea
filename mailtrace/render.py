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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape

from mailtrace.units import duration, size

# stdout carries results; stderr carries progress, counts of unreadable lines and errors.
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def safe(text: object) -> str:
    """``text`` escaped for rich markup, with control characters made visible."""
    return escape(visible(text))


def visible(text: object) -> str:
    r"""``text`` with control characters (but tabs and newlines) shown as ``\xNN``.

    >>> visible("a\x1b[2Jb")
    'a\\x1b[2Jb'
    """
    if text is None:
        return ""
    s = str(text)
    if any(ord(c) < 32 and c not in "\t\n" for c in s):
        s = "".join(c if ord(c) >= 32 or c in "\t\n" else f"\\x{ord(c):02x}" for c in s)
    return s


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


# --- transcripts (mailtrace transcript) -------------------------------------------------------


def _reply_style(row: dict[str, Any]) -> str | None:
    code = row["reply_code"]
    if code is None:
        return "red" if row["category"] else "dim"  # refused connection / never answered
    return "red" if code >= 500 else "yellow" if code >= 400 else None


def transcripts(items: list[tuple[str, Any]], as_json: bool = False) -> None:
    """Each file's SMTP dialogue (REPLIES + FAILURES columns): a table per file, or JSON rows."""
    if as_json:
        print_json([row for _, table in items for row in table.to_pylist()])
        return
    from pathlib import Path

    from rich.table import Table

    for name, table in items:
        rows = table.to_pylist()
        if not rows:
            continue
        base = Path(name).name
        several = len({r["session"] for r in rows}) > 1
        timed = any(r["elapsed_s"] is not None for r in rows)
        hosts = ", ".join(sorted({r["remote_host"] for r in rows if r["remote_host"]}))
        t = Table(
            title=safe(name),
            caption=safe(hosts) or None,
            title_justify="left",
            box=None,
            padding=(0, 1),
            pad_edge=False,
        )
        # Short columns never wrap; the argument and the reply text share what width is left.
        columns = ["session"] if several else []
        columns += ["#", "command", "argument", "code", "enhanced", "text", "TLS"]
        columns += ["time"] if timed else []
        for column in [*columns, "failure"]:
            wraps = column in {"argument", "text"}
            t.add_column(
                column,
                justify="right" if column in {"#", "code", "time"} else "left",
                no_wrap=not wraps,
                overflow="fold",
                min_width=8 if wraps else None,
            )
        previous = rows[0]["session"]
        for r in rows:
            if r["session"] != previous:
                t.add_section()
                previous = r["session"]
            cells = [_clip(r["session"].removeprefix(base) or r["session"], 20)] if several else []
            cells += [str(r["seq"]), _clip(r["command"], 16), _clip(r["argument"], 120)]
            cells += [str(r["reply_code"] or ""), _clip(r["enhanced"], 12), _clip(r["text"], 600)]
            cells += ["yes" if r["tls"] else ""]
            if timed:
                cells += [f"{r['elapsed_s']:.3f}s" if r["elapsed_s"] is not None else ""]
            cells += [
                f"{_clip(r['category'], 30)}\n{_clip(r['family'], 30)}" if r["category"] else ""
            ]
            t.add_row(*cells, style=_reply_style(r))
        out.print(t)


# --- bounces (mailtrace bounce) ---------------------------------------------------------------

_NOT_FAILURE = {"delivered", "auto_reply", "feedback_report"}


def bounces(rows: list[dict[str, Any]], as_json: bool = False) -> None:
    """One line per recipient of each bounce: who, why (category, family), the codes and words."""
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    if not rows:
        err.print("mailtrace: no bounced recipients found", style="yellow")
        return
    from pathlib import PurePath

    several = len({r["source"] for r in rows}) > 1
    t = Table(box=None, padding=(0, 1), pad_edge=False, title_justify="left")
    # Addresses, reasons and codes never wrap; the diagnostic folds into what width is left.
    columns = ["file"] if several else []
    columns += ["recipient", "reason", "code", "status", "provider", "diagnostic"]
    for column in columns:
        wraps = column in {"diagnostic", "provider"}
        t.add_column(column, no_wrap=not wraps, overflow="fold", min_width=16 if wraps else None)
    for r in rows:
        provider = " ".join(p for p in (r["provider"], r["provider_code"]) if p)
        style = "dim" if r["reason"] in _NOT_FAILURE else "yellow" if r["nature"] == "T" else None
        cells = [_clip(PurePath(str(r["source"])).name, 30)] if several else []
        t.add_row(
            *cells,
            _clip(r["recipient"], 60),
            f"{safe(r['reason'])}\n{safe(r['family'])}",
            str(r["reply_code"] or ""),
            _clip(r["status"], 12),
            _clip(provider, 30),
            _clip(r["diagnostic"], 200),
            style=style,
        )
    out.print(t)
    failed = sum(r["reason"] not in _NOT_FAILURE for r in rows)
    err.print(f"{failed} failed recipient(s), {len(rows) - failed} other report(s)", style="dim")


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
    return escape(_cut(text, width))


def _cut(text: object, width: int = _CELL) -> str:
    """``text`` visible and cut to ``width`` characters with an ellipsis (not markup-escaped)."""
    s = "" if text is None else str(text)
    return visible(s if len(s) <= width else s[: width - 1] + "…")


def _sender(r: Any) -> str:
    name = r.from_helo or r.from_host
    parts = [_clip(name, 60)] if name else []
    if r.from_rdns and r.from_rdns.rstrip(".") != (name or "").rstrip("."):
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


def header_reports(reports: list[Any], ip_checks: dict[str, Any] | None = None) -> None:
    """Per message: the hop table (origin first), the summary, authentication and vendor notes;
    with ``ip_checks`` (from ``headers --dns``) a table of each hop address's DNS findings."""
    for report in reports:
        _header_report(report)
        if ip_checks:
            _hop_dns(report, ip_checks)
        out.print()


def _hop_dns(report: Any, ip_checks: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Hop addresses in DNS", title_justify="left")
    for column in ("hop", "ip", "claims", "PTR", "FCrDNS", "blocklists"):
        table.add_column(column)
    for h in report.hops:
        check = ip_checks.get(h.received.from_ip or "")
        if check is None:
            continue
        reverse = check.reverse
        ptr = ", ".join(reverse.names) if reverse.names else str(reverse.status)
        listed = [f"{r.zone} ({', '.join(r.codes)})" for r in check.dnsbl if r.listed]
        unknown = [f"{r.zone}: {r.status}" for r in check.dnsbl if r.status != "ok"]
        table.add_row(
            str(h.hop),
            safe(check.ip),
            safe(h.received.from_helo or h.received.from_host or ""),
            safe(ptr),
            "[green]yes[/green]" if reverse.fcrdns else "[red]no[/red]",
            "[red]" + safe("; ".join(listed)) + "[/red]" if listed else safe("; ".join(unknown)),
        )
    if table.row_count:
        out.print(table)


def _header_report(report: Any) -> None:
    from rich.table import Table

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
    origin = earliest = ""
    if s.originating_ip:
        origin = f"{safe(s.originating_ip)} (hop {s.originating_hop})"
    if s.earliest_ip and s.earliest_ip != s.originating_ip:
        earliest = f"{safe(s.earliest_ip)} (hop {s.earliest_hop}, as that hop claims)"
    for label, value in (
        ("From", _clip(s.from_)),
        ("To", _clip(s.to)),
        ("Subject", _clip(s.subject)),
        ("Date", _clip(s.date)),
        ("Message-ID", _clip(s.message_id)),
        ("Return-Path", _clip(s.return_path)),
        ("Originating IP", origin),
        ("Earliest public IP", earliest),
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


def print_csv(table: Any) -> None:
    """Write an Arrow table to stdout as CSV with a header row."""
    import pyarrow.csv as pacsv

    sys.stdout.flush()
    pacsv.write_csv(table, sys.stdout.buffer)
    sys.stdout.buffer.flush()


# --- paths and report ---------------------------------------------------------------------------


def _when(ts: Any) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S")


def _event_summary(e: dict[str, Any]) -> str:
    """One log event in a few words: what happened, to whom, and what the other side said."""
    kind = e.get("kind") or ""
    parts = [f"[bold]{safe(kind)}[/bold]"]
    for key, label in (
        ("action", ""),
        ("client_host", "client="),
        ("sender", "from="),
        ("recipient", "to="),
        ("relay_host", "relay="),
        ("status", "status="),
        ("dsn", "dsn="),
        ("delay", "delay="),
        ("size", "size="),
        ("message_id", "message-id="),
        ("next_queue_id", "→ "),
    ):
        value = e.get(key)
        if value is None or value == "":
            continue
        if key == "client_host" and e.get("client_ip"):
            value = f"{value}[{e['client_ip']}]"
        if key == "relay_host" and e.get("relay_ip"):
            value = f"{value}[{e['relay_ip']}]"
        parts.append(f"{label}{_clip(value, 80)}")
    reply = e.get("reply_text") or e.get("text")
    if reply:
        parts.append(f"[dim]({_clip(reply, 160)})[/dim]")
    return " ".join(parts)


def message_paths(
    messages: Any, deliveries: Any, events: Any, as_json: bool = False, limit: int = 0
) -> int:
    """Each message's path as a timeline (or JSON): its queue-id chain and every log event.

    With ``limit`` (not 0) and more messages than that (an address can name thousands, and a
    timeline takes rich 10 ms to lay out), every message gets one line in a list and only the
    first ``limit`` a timeline. JSON always has every message. Returns the timelines shown.
    """
    msgs = messages.to_pylist()
    if as_json:
        by_msg: dict[str, list[dict[str, Any]]] = {}
        for e in events.to_pylist():
            by_msg.setdefault(e["message"], []).append(e)
        dl: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries.to_pylist():
            dl.setdefault(d["message"], []).append(d)
        print_json(
            [
                {
                    "message": m,
                    "deliveries": dl.get(m["message"], []),
                    "events": by_msg.get(m["message"], []),
                }
                for m in msgs
            ]
        )
        return len(msgs)
    shown = msgs if limit == 0 or len(msgs) <= limit else msgs[:limit]
    if len(shown) < len(msgs):
        _message_list(msgs)
        out.print()
    _timelines(shown, events)
    return len(shown)


def _message_list(msgs: list[dict[str, Any]]) -> None:
    """One line a message: when it arrived, its name, status, recipients and sender."""
    out.print(f"[bold]{len(msgs):,} messages[/bold]")
    lines = []
    for m in msgs:
        rcpts = len(m["outcomes"])
        sender = "<>" if m["sender"] == "" else (m["sender"] or "?")
        lines.append(
            f"  {_when(m['first_seen'])}  {safe(m['message'])}  {safe(m['status'] or '')}  "
            f"{rcpts} recipient{'' if rcpts == 1 else 's'}  from {_clip(sender, 80)}"
        )
    # One print, not wrapped (a line a message, for grep): rich lays out a few thousand lines
    # at once much faster than line by line.
    out.print("\n".join(lines), soft_wrap=True)


def _timelines(msgs: list[dict[str, Any]], events: Any) -> None:
    """The timeline of each of ``msgs`` (their events picked from ``events`` alone)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from rich.table import Table

    names = pa.array([m["message"] for m in msgs], pa.string())
    mine = events.filter(pc.fill_null(pc.is_in(events.column("message"), names), False))
    by_msg: dict[str, list[dict[str, Any]]] = {}
    for e in mine.to_pylist():
        by_msg.setdefault(e["message"], []).append(e)
    for m in msgs:
        chain = " → ".join(
            safe(f"{h}:{q}" if h else q) for h, q in zip(m["hosts"], m["queue_ids"], strict=True)
        )
        if len(m["queue_ids"]) < 2:
            chain = ""  # the message's own name says it all
        out.print(f"[bold cyan]{safe(m['message'])}[/bold cyan]  {chain}")
        client = m["client_host"] and f"{m['client_host']}[{m['client_ip'] or ''}]"
        for label, value in (
            ("Message-ID", m["message_id"]),
            ("From", "<>" if m["sender"] == "" else m["sender"]),
            ("Client", client),
            ("Size", m["size"]),
            ("Arrived", _when(m["first_seen"])),
            ("Status", m["status"]),
            ("Total delay", duration(m["delay"]).lstrip("+") if m["delay"] is not None else ""),
            ("Bounce notice", m["notice"]),
            ("About", m["parent"]),
        ):
            if value not in (None, ""):
                out.print(f"  [bold]{label}:[/bold] {_clip(value)}")
        for o in m["outcomes"]:
            colour = {"sent": "green", "deferred": "yellow"}.get(o["status"], "red")
            out.print(
                f"  [{colour}]{safe(o['status'])}[/{colour}] {_clip(o['recipient'], 80)}"
                f" {safe(o['dsn'] or '')}"
            )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("UTC", no_wrap=True)
        table.add_column("+", justify="right", no_wrap=True)
        table.add_column("where", overflow="fold", max_width=18)
        table.add_column("event", overflow="fold", min_width=24, ratio=1)
        t0 = m["first_seen"]
        for e in by_msg.get(m["message"], []):
            offset = (e["ts"] - t0).total_seconds() if e["ts"] and t0 else None
            program = (e["program"] or "").removeprefix("postfix/")
            table.add_row(
                _when(e["ts"])[5:],
                safe(duration(offset)),
                f"{_clip(e['host'], 30)} {_clip(program, 30)}\n{_clip(e['queue_id'], 20)}",
                _event_summary(e),
            )
        out.print(table)
        out.print()


def _fmt(value: Any, key: str = "") -> str:
    return escape(_cell(value, key))


def _cell(value: Any, key: str = "") -> str:
    """A table cell's text (not markup-escaped: tables get it as rich Text or plain text)."""
    if value is None:
        return ""
    if key.startswith("bytes") and isinstance(value, int):
        return size(value, compact=True)
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return _cut(value, 120)


#: Text columns of a rows table are at least this wide (they fold when the table is too wide).
_MIN_TEXT = 12


def _rows_table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    if not rows:
        return
    cols = columns or list(rows[0])
    labels = [_LABELS.get(c, c.replace("_", " ")) for c in cols]
    # Numbers are right-aligned and never wrap; the text columns give way.
    numeric = [
        isinstance(rows[0].get(c), int | float) and not isinstance(rows[0].get(c), bool)
        for c in cols
    ]
    cells = [[_cell(r.get(c), c) for c in cols] for r in rows]
    # A table whose numbers do not fit the console is laid out wider than it (text columns at
    # their narrowest): a number is never cut, where rich would crop it at the console's edge.
    width = max(out.width, _narrowest(labels, numeric, cells))
    plain = _plain_table(title, labels, numeric, cells, width)
    if plain is not None:
        out.file.write(plain)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left", show_edge=False, pad_edge=False)
    for label, number in zip(labels, numeric, strict=True):
        if number:
            table.add_column(label, justify="right", no_wrap=True)
        else:
            table.add_column(label, overflow="fold", min_width=_MIN_TEXT)
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    console = out
    if width > out.width:  # the same output, only wider
        console = Console(
            file=out.file,
            width=width,
            highlight=False,
            soft_wrap=False,
            color_system=out.color_system,  # type: ignore[arg-type]
            force_terminal=out.is_terminal,
        )
    console.print(table)
    console.print()


def _narrowest(labels: list[str], numeric: list[bool], cells: list[list[str]]) -> int:
    """The narrowest a rows table can be with every number whole: the numbers' columns as wide
    as their widest cell, the text columns at ``_MIN_TEXT``, one cell for each bar.

    >>> _narrowest(["domain", "sent"], [False, True], [["example.com", "1,234,567"]])
    24
    """
    from rich.cells import cell_len

    ncol = len(labels)
    width = ncol - 1
    for i, (label, number) in enumerate(zip(labels, numeric, strict=True)):
        pad = (i > 0) + (i < ncol - 1)
        longest = max([cell_len(label), *(cell_len(row[i]) for row in cells)])
        width += pad + (longest if number else _MIN_TEXT)
    return width


def _plain_table(
    title: str, labels: list[str], numeric: list[bool], cells: list[list[str]], width: int
) -> str | None:
    """The text rich prints for :func:`_rows_table`'s table (and the blank line after it) on a
    console ``width`` cells wide, when that is plain text (no colours). None when rich must lay
    it out itself: a cell with a newline, tab or other control character, a number or header too
    wide for its column, a title wider than the table. Rich takes ~0.3 ms a cell to measure and
    render; a report of a busy server has thousands.

    Column widths are rich's: each column as wide as its widest cell, the text columns narrowed
    widest first when the table is wider than the console (rich's own ``_collapse_widths``), and
    a text cell too long for its column folded by rich's own ``Text.wrap``, so the output is the
    same to the character (``tests/test_render.py`` holds it to that).
    """
    from rich.cells import cell_len

    if out.color_system is not None or out.is_terminal:
        return None
    ncol = len(labels)
    # Padding: one space each side of a column, none at the table's outer edges.
    pad = [(i > 0) + (i < ncol - 1) for i in range(ncol)]
    longest = [cell_len(label) for label in labels]
    for row in cells:
        for i, cell in enumerate(row):
            if not cell.isprintable():
                return None  # a newline, tab or other control: rich's own handling
            longest[i] = max(longest[i], cell_len(cell))
    room = width - (ncol - 1)  # the column bars take one cell each
    columns = list(zip(longest, pad, numeric, strict=True))
    widths = [_column_width(n, p, number, room) or 1 for n, p, number in columns]
    if sum(widths) > room:
        from rich.table import Table

        widths = Table._collapse_widths(widths, [not n for n in numeric], room)
        if sum(widths) > room:
            return None  # rich would narrow the numbers too
        # Measured again at the narrowed widths (a text column never below its minimum).
        widths = [
            _column_width(n, p, number, w)
            for (n, p, number), w in zip(columns, widths, strict=True)
        ]
        if sum(widths) > room:
            return None
    inner = [w - p for w, p in zip(widths, pad, strict=True)]
    total = sum(inner) + 3 * (ncol - 1)
    if cell_len(title) > total or any(cell_len(t) > w for t, w in zip(labels, inner, strict=True)):
        return None

    def fit(text: str, i: int) -> list[str] | None:
        """The lines of a cell in column ``i``, each ``inner[i]`` cells wide."""
        w = inner[i]
        if numeric[i]:  # rich strips what ends a right-aligned cell, as here
            t = text.rstrip()
            return None if cell_len(t) > w else [" " * (w - cell_len(t)) + t]
        if cell_len(text) <= w:
            return [text + " " * (w - cell_len(text))]
        from rich.text import Text

        return [ln.plain for ln in Text(text).wrap(out, w, justify="left", overflow="fold")]

    def lines(texts: list[str], bar: str) -> str | None:
        parts = [fit(t, i) for i, t in enumerate(texts)]
        if any(p is None for p in parts):
            return None
        height = max(len(p) for p in parts if p is not None)
        blank = [" " * w for w in inner]
        return "".join(
            f" {bar} ".join(p[k] if k < len(p) else blank[i] for i, p in enumerate(parts) if p)
            + "\n"
            for k in range(height)
        )

    rule = "━╇━".join("━" * w for w in inner) + "\n"
    body = [lines(labels, "┃"), *(lines(row, "│") for row in cells)]
    if any(b is None for b in body):
        return None
    head = title + " " * (total - cell_len(title)) + "\n" if title else ""
    return head + str(body[0]) + rule + "".join(str(b) for b in body[1:]) + "\n"


def _column_width(longest: int, pad: int, number: bool, room: int) -> int:
    """A column's width with its padding as rich measures it in ``room`` cells: its longest
    cell, no more than ``room``, a text column at least ``_MIN_TEXT`` wide.

    >>> [_column_width(30, 2, False, 80), _column_width(30, 2, False, 20)]
    [32, 20]
    >>> _column_width(3, 1, False, 80), _column_width(3, 1, True, 80)
    (13, 4)
    """
    width = room if room - pad < 1 else min(min(longest, room) + pad, room)
    return width if number else max(width, _MIN_TEXT + pad)


# Short column labels keep the report readable in 80 columns; JSON keeps the long names.
_LABELS = {
    "delivered": "sent",
    "deferrals": "defers",
    "bounced": "bounces",
    "received": "recvd",
    "avg_delay": "avg s",
    "p50_delay": "p50 s",
    "p95_delay": "p95 s",
    "max_delay": "max s",
    "reject_warnings": "warn",
    "connect_failures": "conn",
    "top_category": "mostly",
    "nature": "act",
}


def _section(heading: str, lines: list[str]) -> None:
    """A bold ``heading`` over ``lines`` (plain text, no markup) and a blank line.

    Written straight to the file when the console is plain (no colours, not a terminal):
    rich's ``print`` takes 0.7 ms a line to lay out text it would pass through unchanged.
    """
    if out.color_system is None and not out.is_terminal:
        out.file.write("\n".join([heading, *lines, "", ""]))
        return
    out.print(f"[bold]{escape(heading)}[/bold]")
    for line in lines:
        out.print(line, markup=False)
    out.print()


def report(rep: Any, as_json: bool = False) -> None:
    """The summary report: totals, traffic, domains, top lists, sessions, then the problems."""
    data = rep.to_dict()
    if as_json:
        print_json(data)
        return
    t = data["totals"]
    width = max(len(k) for k in t)
    lines = []
    for key, value in t.items():
        shown = f"{value:,}"
        if key.startswith("bytes_"):
            shown = f"{value:,} ({value / 1_048_576:,.1f} MiB)"
        lines.append(f"  {key.replace('_', ' '):<{width}}  {shown:>12}")
    _section("Grand totals", lines)
    _rows_table("Per-day traffic", data["per_day"])
    _rows_table("Per-hour traffic (all days)", data["per_hour"])
    _rows_table("Recipient domains (delivered, delays in seconds)", data["recipient_domains"])
    _rows_table("Sender domains (received)", data["sender_domains"])
    _rows_table("Clients (received)", data["clients"])
    _rows_table("Top senders by count", data["top_senders"])
    _rows_table("Top senders by size", data["top_senders_by_size"])
    _rows_table("Top recipients by count", data["top_recipients"])
    _rows_table("Top recipients by size", data["top_recipients_by_size"])
    if data["smtpd"]:
        sessions = data["smtpd"].items()
        _section("smtpd connections", [f"  {k.replace('_', ' ')}: {_cell(v)}" for k, v in sessions])
    from mailtrace.report import PROBLEM_TITLES  # loaded already: it built ``rep``

    for name, rows in data["problems"].items():
        _rows_table(
            f"{PROBLEM_TITLES.get(name, name)} by category and reason",
            rows,
            ["category", "count", "codes", "reason"],
        )


# --- failures: mailtrace failures LOGS… --------------------------------------------------------

_FAILURE_COUNTS = ["total", "attempts", "final", "rejects", "reject_warnings", "connect_failures"]


def failures(rep: Any, as_json: bool = False) -> None:
    """Failures over the period: totals, then by category, family, domain, provider and time."""
    data = rep.to_dict()
    if as_json:
        print_json(data)
        return
    p, t = data["period"], data["totals"]
    stamp = [safe(str(p[k])[:19].replace("T", " ")) for k in ("first", "last")]
    when = f"{stamp[0]} → {stamp[1]} UTC" if p["first"] else "no events"
    out.print(f"[bold]Failures[/bold] {when}")
    for label, key in (
        ("failed attempts (every try)", "attempts"),
        ("failed recipients (final)", "final"),
    ):
        split = ", ".join(f"{st} {t[f'{key}_{st}']:,}" for st in ("deferred", "bounced", "expired"))
        out.print(f"  {label:<32}{t[key]:>9,}\n    {split}")
    for label, key in (
        ("rejects", "rejects"),
        ("reject warnings (not in total)", "reject_warnings"),
        ("connect failures", "connect_failures"),
        ("total (attempts+rejects+connect)", "total"),
    ):
        out.print(f"  {label:<32}{t[key]:>9,}")
    out.print()
    # Count columns that are zero everywhere are left out: the table fits 80 columns.
    counts = [k for k in _FAILURE_COUNTS if k == "total" or t[k]]
    _failure_table(
        "By category (attempts: every failed try; final: last outcome per recipient; "
        "class: 4xx/5xx seen; act: P drop address, M fix message, S fix sender, T retry, "
        "X terminal)",
        data["categories"],
        ["category", "class", "nature", *counts],
    )
    _failure_table("By family", data["families"], ["family", "class", *counts])
    _failure_table(
        f"By recipient domain (top {data['detail']})",
        data["domains"],
        ["domain", "top_category", *counts],
    )
    providers = [
        {**r, "codes": ", ".join(f"{c['code']} ×{c['count']}" for c in r["codes"])}
        for r in data["providers"]
    ]
    _failure_table(
        "By provider (with the provider's own codes)",
        providers,
        ["provider", "top_category", *counts[:4], "codes"],
    )
    busy = [r for r in data["timeline"] if any(r[k] for k in _FAILURE_COUNTS)]
    _failure_table(
        f"Per {p['bucket']} (UTC; quiet {p['bucket']}s left out)", busy, ["bucket", *counts]
    )
    _rows_table(
        "Example replies per category (addresses, IPs and ids blanked)",
        data["examples"],
        ["category", "count", "codes", "reason"],
    )


def _failure_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A counts table whose short columns never wrap: names stay whole, numbers aligned."""
    from rich.box import SIMPLE_HEAD
    from rich.table import Table

    if not rows:
        return
    # No vertical rules: nine columns of counts then fit 80 characters.
    table = Table(
        title=title,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        box=SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    for c in columns:
        label = _LABELS.get(c, c.replace("_", " "))
        if isinstance(rows[0].get(c), int):
            table.add_column(label, justify="right", no_wrap=True)
        elif c in ("class", "nature"):
            table.add_column(label, no_wrap=True)
        else:  # names (categories, domains, codes): cut with an ellipsis rather than folded
            table.add_column(label, overflow="ellipsis", no_wrap=True, ratio=1)
    for r in rows:
        table.add_row(*(_fmt(r.get(c), c) for c in columns))
    out.print(table)
    out.print()


# --- logs: progress and the summary of `mailtrace logs` --------------------------------------


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A byte progress bar on stderr, given as a ``(done, total)`` callback; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "reading logs",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("logs", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def log_summary(summary: Any, output: str | None) -> None:
    """What `mailtrace logs` read: counts, events by kind and program, and the unreadable lines."""
    c = summary.counts
    lines: list[str] = []  # printed at once: a rich print a line cost 0.2 ms each

    def row(label: str, n: int, indent: bool = False) -> None:
        text = f"  {safe(label)}" if indent else safe(label)
        lines.append(f"{text:<32}{n:>12,}")

    if output is not None:
        lines.append(f"wrote {len(summary.written)} files to {safe(output)}")
    row("lines read", c.lines)
    row("events", c.events)
    for kind, n in summary.kinds.most_common():
        row(kind, n, indent=True)
    if summary.programs:
        lines.append("events by program")
        for program, n in summary.programs.most_common():
            row(program, n, indent=True)
    row("unparsed", c.unparsed)
    row("other programs and blank lines", c.other)
    for program, n in sorted(c.other_programs.items(), key=lambda kv: -kv[1])[:10]:
        row(program, n, indent=True)
    row("damaged lines (invalid UTF-8)", c.damaged)
    out.print("\n".join(lines))
    for problem in c.problems:
        warn(problem)
    style = "yellow" if c.damaged or c.failed_inputs else "green"
    inputs = f" and {c.failed_inputs} input(s) were cut short" if c.failed_inputs else ""
    err.print(
        f"mailtrace: {c.damaged:,} lines could not be read (invalid UTF-8){inputs}; "
        f"{c.unparsed:,} lines were not recognised (kept as unparsed)",
        style=style,
        soft_wrap=True,
    )


# --- trace: mailtrace trace MESSAGE --logs LOGS… ----------------------------------------------


def message_trace(t: Any, as_json: bool = False) -> None:
    """One message's hops, origin first, each with what its server logged (or that no log did)."""
    if as_json:
        from mailtrace.trace import trace_dict

        print_json(trace_dict(t))
        return
    from rich.table import Table

    s = t.report.summary
    out.print(f"[bold cyan]{_clip(t.report.source)}[/bold cyan]")
    for label, value in (("Message-ID", s.message_id), ("From", s.from_), ("Subject", s.subject)):
        if value:
            out.print(f"  [bold]{label}:[/bold] {_clip(value)}")
    for h in t.hops:
        r = h.hop.received
        out.print()
        out.print(
            f"[bold]hop {h.hop.hop}[/bold]  {_when(r.date_utc)}  {safe(duration(h.hop.delay_s))}"
            f"  {_sender(r)} → [bold]{_clip(r.by_host or '?', 60)}[/bold]"
            f"  {_transport(r)}  id {_clip(r.id or '-', 40)}"
        )
        if not h.logged:
            out.print("  [dim]no log of this server among the logs given[/dim]")
            continue
        agrees = {True: "Message-ID agrees", False: "[red]other Message-ID logged[/red]"}
        out.print(
            f"  log: host {_clip(h.host or '(not named in the log)', 60)}, "
            f"queue {' → '.join(_clip(q, 40) for q in h.queue_ids)}, "
            f"matched by {safe(h.matched_by)}"
            + (f", {agrees[h.message_id_agrees]}" if h.message_id_agrees is not None else "")
        )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("UTC", no_wrap=True)
        table.add_column("+", justify="right", no_wrap=True)
        table.add_column("where", overflow="fold", max_width=18)
        table.add_column("event", overflow="fold", min_width=24, ratio=1)
        for e in h.events.to_pylist():
            offset = (e["ts"] - r.date_utc).total_seconds() if e["ts"] and r.date_utc else None
            program = (e["program"] or "").removeprefix("postfix/")
            table.add_row(
                _when(e["ts"])[11:],
                safe(duration(offset)),
                f"{_clip(program, 30)}\n{_clip(e['queue_id'], 24)}",
                _event_summary(e),
            )
        out.print(table)
        for d in h.deliveries.to_pylist():
            colour = {"sent": "green", "deferred": "yellow"}.get(d["status"], "red")
            delays = "/".join(
                "" if d[k] is None else f"{d[k]:g}"
                for k in ("delays_a", "delays_b", "delays_c", "delays_d")
            )
            out.print(
                f"  [{colour}]{safe(d['status'])}[/{colour}] {_clip(d['recipient'], 60)}"
                f" attempt {d['attempt']} via {_clip(d['relay_host'] or '-', 40)}"
                f" {safe(d['dsn'] or '')} {safe(d['category'] or '')}"
                + (f" delay {d['delay']:g}s" if d["delay"] is not None else "")
                + (f" ({safe(delays)})" if delays.strip("/") else "")
            )
    if t.unlogged:
        out.print()
        warn(f"hops without a matching log: {', '.join(map(str, t.unlogged))}")
