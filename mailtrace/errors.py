"""The exceptions mailtrace raises, all under one root.

The tree::

    MailtraceError            anything mailtrace reports instead of a traceback
    ├── InputError            an input could not be opened or read at all (exit code 1)
    │   └── DecompressError   a compressed stream is damaged (truncated gzip, bad xz …)
    ├── ParseError            a piece of text could not be read; carries source, line and text
    └── UsageError            the arguments do not make sense together (exit code 2)

Every message names what went wrong, where, and what to do about it, so the CLI can print
``mailtrace: <message>`` on one line:

>>> str(InputError("maillog.2.gz", "truncated gzip stream after line 81,204"))
'maillog.2.gz: truncated gzip stream after line 81,204'
"""

from __future__ import annotations


class MailtraceError(Exception):
    """Root of every error mailtrace raises on purpose."""


class InputError(MailtraceError):
    """An input could not be opened or read."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class DecompressError(InputError):
    """A compressed input is damaged; ``lines_kept`` lines before the damage were read."""

    def __init__(self, source: str, problem: str, lines_kept: int = 0) -> None:
        super().__init__(source, problem)
        self.lines_kept = lines_kept


class ParseError(MailtraceError):
    """A piece of text could not be parsed.

    >>> e = ParseError("maillog", 12, "garbage", "no syslog header")
    >>> (e.source, e.line, str(e))
    ('maillog', 12, 'maillog:12: no syslog header')
    """

    def __init__(self, source: str, line: int | None, text: str, reason: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.text = text
        self.reason = reason


class UsageError(MailtraceError):
    """The request itself is wrong (bad option combination, unknown format name …)."""
