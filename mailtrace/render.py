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
