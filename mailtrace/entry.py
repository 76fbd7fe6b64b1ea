"""The console script: a report of a large log begins parsing it before the CLI is imported.

``mailtrace report LOG`` spends its first 0.1 s importing typer and the CLI, on one core. The
parse of a large log needs neither: :mod:`mailtrace.logs.ahead` parses its ranges with the
compiled parser alone. So :func:`console` looks at the command line first, and when it is a
report it plans the log and starts that parse (at a lower priority than the imports). A text or
JSON report then runs without typer at all (:func:`mailtrace.log_commands.console_report`); one
that draws charts hands over to :func:`mailtrace.cli.console`, and asks for the same plan and
finds it begun. On the 1,000,000-line log, the early start: 1.589 s instead of 1.637 (median of
20 alternating pairs, 17 of them faster), 1.609 instead of 1.648 (20 more, 14 faster); a later
30 pairs, median pair ratio 1.017. Small, and at the size of the machine's noise, but one way:
the 0.1 s was one idle core. Leaving typer out: 2.566 CPU-s and 1.562 s instead of 2.634 and
1.610 (medians of 20 alternating runs).

Only a command line read here with certainty starts anything: an option this module does not
know (``--help``, a new one) or a value it would have to check (``--detail -1``) leaves
everything to the CLI, which also reports every mistake.

>>> report_request(["report", "--year", "2025", "--tz=UTC", "mail.log", "--json"])
ReportRequest(logs=['mail.log'], year=2025, tz='UTC', charts=False, detail=10, as_json=True, \
force=False, errors='raise')
>>> report_request(["report", "--help"]) is None
True
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

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


class ReportRequest(NamedTuple):
    """A report's command line: what its parse ahead needs, and its other options.

    A NamedTuple: dataclasses' import (inspect, ast: 16 ms) came before the parse began."""

    logs: list[str]
    year: int | None
    tz: str | None
    #: --plot or --html: the report reads more columns (event_columns.report_reads), and
    #: runs through the CLI (which draws them).
    charts: bool
    detail: int = 10
    as_json: bool = False
    force: bool = False
    errors: str = "raise"


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
    logs: list[str] = []
    found: dict[str, object] = {}
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":  # the rest are inputs, whatever they look like
            logs.extend(rest)
            break
        if not arg.startswith("-") or arg == "-":
            logs.append(arg)
            continue
        name, given, value = arg.partition("=")
        if name not in OPTIONS or (given and not OPTIONS[name]):
            return None
        if OPTIONS[name] and not given:
            following = next(rest, None)
            if following is None:
                return None
            value = following
        if name in ("--year", "--detail"):
            if not value.isascii() or not value.isdigit():
                return None  # not a whole number from 0: the CLI says why
            found["year" if name == "--year" else "detail"] = int(value)
        elif name == "--tz":
            found["tz"] = value
        elif name in ("--plot", "--html"):
            found["charts"] = True
        elif name == "--json":
            found["as_json"] = True
        elif name == "--force":
            found["force"] = True
        elif name == "--errors":
            found["errors"] = value
    if not logs:
        return None
    request = ReportRequest(logs, None, None, charts=False)
    return request._replace(**found)  # type: ignore[arg-type]


def console() -> None:
    """The ``mailtrace`` command: a report's parse begun, then the report run without the CLI
    (:func:`mailtrace.log_commands.console_report`), or with it when it draws charts; any
    other command line goes to :func:`mailtrace.cli.console`."""
    # Arrow's buffers from the C library's malloc rather than its bundled mimalloc, unless the
    # user chose: mimalloc keeps what a command frees in huge-page arenas of its own. On the
    # 1,000,000-line log, with malloc set up as below: report peak RSS 303 MB instead of 395
    # in the same time (1.100 s against 1.105), `logs -o` 0.945 s instead of 0.985 (medians
    # of 14 and 8 alternating runs).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    # And that malloc set up for a run that parses, then analyses (one arena, no trimming; see
    # the compiled module): before any thread starts, as threads take arenas at their first
    # allocation. Report of the 1,000,000-line log: 1.090 s instead of 1.160 (12 rounds).
    try:
        from mailtrace.logs import _fastlog  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - no C compiler where mailtrace was installed
        pass
    else:
        _fastlog.tune_malloc()
    request = report_request(sys.argv[1:])
    if request is not None:
        from mailtrace.event_columns import report_reads
        from mailtrace.logs.plan import plan_command_ahead

        columns, kinds = report_reads(request.charts)
        plan_command_ahead(request.logs, request.year, request.tz, columns, kinds)
        if not request.charts:
            from mailtrace.log_commands import console_report

            console_report(request)
    from mailtrace.cli import console as run

    run()
