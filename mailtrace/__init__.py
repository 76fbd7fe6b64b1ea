"""mailtrace: where did this message go, how long did each hop take, and why did it fail.

The public API is the short list in ``__all__``; everything else is reachable through the
submodules (``mailtrace.headers``, ``mailtrace.logs.postfix`` …) but may change. The functions
are loaded on first use, so ``import mailtrace`` (and the CLI's start-up) stays fast:

>>> import mailtrace
>>> mailtrace.parse_received("from a.example (a.example [192.0.2.1]) by mx.example.net "
...                          "with ESMTPS id 4AbC; Tue, 3 Mar 2026 10:00:00 +0100").from_ip
'192.0.2.1'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mailtrace.errors import InputError, MailtraceError, ParseError, UsageError

if TYPE_CHECKING:
    from mailtrace.failures import classify, classify_bounce
    from mailtrace.headers.analysis import analyze as analyze_headers
    from mailtrace.headers.message import read_headers
    from mailtrace.headers.received import Received, parse_received
    from mailtrace.logs.reader import parse_file, read_logs
    from mailtrace.logs.transcript import parse_transcript, read_transcripts
    from mailtrace.paths import delivery_paths
    from mailtrace.trace import trace

__all__ = [
    "InputError",
    "MailtraceError",
    "ParseError",
    "Received",
    "UsageError",
    "analyze_headers",
    "classify",
    "classify_bounce",
    "delivery_paths",
    "parse_file",
    "parse_received",
    "parse_transcript",
    "read_headers",
    "read_logs",
    "read_transcripts",
    "trace",
]

# public name -> (module, attribute): imported on first access (PEP 562).
_LAZY = {
    "Received": ("mailtrace.headers.received", "Received"),
    "analyze_headers": ("mailtrace.headers.analysis", "analyze"),
    "classify": ("mailtrace.failures", "classify"),
    "classify_bounce": ("mailtrace.failures", "classify_bounce"),
    "delivery_paths": ("mailtrace.paths", "delivery_paths"),
    "parse_file": ("mailtrace.logs.reader", "parse_file"),
    "parse_received": ("mailtrace.headers.received", "parse_received"),
    "parse_transcript": ("mailtrace.logs.transcript", "parse_transcript"),
    "read_headers": ("mailtrace.headers.message", "read_headers"),
    "read_logs": ("mailtrace.logs.reader", "read_logs"),
    "read_transcripts": ("mailtrace.logs.transcript", "read_transcripts"),
    # The module mailtrace/trace.py is itself callable as trace(), so either binding works.
    "trace": ("mailtrace.trace", "trace"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mailtrace' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
