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
