"""The console script: a report of a large log begins parsing it before the CLI is imported.

``mailtrace report LOG`` spends its first 0.1 s importing typer and the CLI, on one core. The
parse of a large log needs neither: :mod:`mailtrace.logs.ahead` parses its ranges with the
compiled parser alone. So :func:`console` looks at the command line first, and when it is a
report it plans the log and starts that parse (at a lower priority than the imports), then hands
over to :func:`mailtrace.cli.console`. The report asks for the same plan and finds it begun.
On the 1,000,000-line log: 1.589 s instead of 1.637 (median of 20 alternating pairs, 17 of them
faster), 1.609 instead of 1.648 (20 more, 14 faster); a later 30 pairs, median pair ratio 1.017.
Small, and at the size of the machine's noise, but one way: the 0.1 s was one idle core.

Only a command line read here with certainty starts anything: an option this module does not
know (``--help``, a new one) leaves everything to the CLI, which also reports every mistake.

>>> report_request(["report", "--year", "2025", "--tz=UTC", "mail.log", "--json"])
ReportRequest(logs=['mail.log'], year=2025, tz='UTC', charts=False)
>>> report_request(["report", "--help"]) is None
True
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

__all__ = ["OPTIONS", "ReportRequest", "console", "report_request"]

#: The options of ``mailtrace report``: whether each takes a value (tests/test_entry.py holds
#: this to the command's own).
OPTIONS = {
    "--detail": True,
    "--json": False,
    "--year": True,
    "--tz": True,
    "--plot": True,
    "--html": True,
    "--force": False,
    "--errors": True,
}


@dataclass
class ReportRequest:
    """What a report's parse ahead needs from its command line."""

    logs: list[str]
    year: int | None
    tz: str | None
    #: --plot or --html: the report reads more columns (event_columns.report_reads).
    charts: bool


def report_request(args: list[str]) -> ReportRequest | None:
    """The inputs and options of ``mailtrace report`` in ``args`` (the command line after the
    program's name), or None for another command or a line not read here with certainty.

    >>> report_request(["report", "a.log", "--plot", "out.png"]).charts
    True
    >>> report_request(["logs", "a.log"]), report_request(["report", "--year", "MMXXV", "a"])
    (None, None)
    """
    if not args or args[0] != "report":
        return None
    found = ReportRequest([], None, None, charts=False)
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":  # the rest are inputs, whatever they look like
            found.logs.extend(rest)
            break
        if not arg.startswith("-") or arg == "-":
            found.logs.append(arg)
            continue
        name, given, value = arg.partition("=")
        if name not in OPTIONS or (given and not OPTIONS[name]):
            return None
        if OPTIONS[name] and not given:
            following = next(rest, None)
            if following is None:
                return None
            value = following
        if name == "--year":
            if not value.isdigit():
                return None
            found.year = int(value)
        elif name == "--tz":
            found.tz = value
        elif name in ("--plot", "--html"):
            found.charts = True
    return found if found.logs else None


def console() -> None:
    """The ``mailtrace`` command: a report's parse begun, then :func:`mailtrace.cli.console`."""
    request = report_request(sys.argv[1:])
    if request is not None:
        from mailtrace.event_columns import report_reads
        from mailtrace.logs.plan import plan_command_ahead

        columns, kinds = report_reads(request.charts)
        plan_command_ahead(request.logs, request.year, request.tz, columns, kinds)
    from mailtrace.cli import console as run

    run()
