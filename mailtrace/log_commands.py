"""The steps of the log commands that need no CLI framework, and the report command itself.

:mod:`mailtrace.cli` gives these their options with typer. A report whose command line
:mod:`mailtrace.entry` reads with certainty runs :func:`console_report` instead, and never
imports typer, click or the CLI: on two cores that import (0.07 CPU-s) competes with the
parse. On the 1,000,000-line log, 20 alternating runs: 2.566 CPU-s and 1.562 s instead of
2.634 CPU-s and 1.610 s (medians).

>>> ANALYSIS_MODULES[:2]
('pandas', 'pyarrow.compute')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from mailtrace import event_columns
from mailtrace.errors import UsageError
from mailtrace.runner import (
    EXIT_OK,
    EXIT_PARTIAL,
    finish,
    guarded,
    hold_to_the_end,
    quiet_collector,
    to_the_end,
)

if TYPE_CHECKING:
    from mailtrace.entry import ReportRequest

__all__ = ["ANALYSIS_MODULES", "console_report", "read_log_events", "run_report"]

# What the analyses of the events import (pandas 0.25 s, which pyarrow's own constructors
# import; the failure classifier 0.01 s; Arrow's group-by engine and the
# pyarrow.dataset it imports, 0.05 s; pyarrow.compute, 0.05 s): see read_log_events.
ANALYSIS_MODULES = (
    "pandas",
    "pyarrow.compute",
    "pyarrow.acero",
    "mailtrace.failures",
    "mailtrace.render",
)


def read_log_events(
    logs: list[str],
    columns: tuple[str, ...],
    year: int | None,
    tz: str | None,
    errors: str,
    modules: tuple[str, ...] = ANALYSIS_MODULES,
    kinds: tuple[str, ...] | None = None,
) -> tuple[Any, Any, bool]:
    """EVENTS of ``logs`` (or datasets), saying on stderr how many lines could not be read.

    ``modules``: what the caller's analysis will import, imported while the parse runs.
    ``kinds``: the kinds it reads (see :func:`mailtrace.paths.read_events_apart`).
    Returns the events, smtpd's sessions read apart from them (None without ``kinds``) and
    whether the read was partial (an input damaged or cut short).
    """
    from pathlib import Path

    from mailtrace.paths import read_events_apart

    if errors not in ("raise", "skip"):
        raise UsageError(f"--errors must be raise or skip, not {errors!r}")
    events, sessions, counts = read_events_apart(
        [Path(p) for p in logs],
        columns,
        year=year,
        tz=tz,
        errors="skip" if errors == "skip" else "raise",
        imports=modules,
        kinds=kinds,
    )
    # Imported now, not before the parse: its rich import runs beside it (``modules``).
    from mailtrace import render

    for problem in counts.problems:
        render.warn(problem)
    if counts.unparsed or counts.damaged:
        render.warn(
            f"{counts.unparsed:,} of {counts.lines:,} log lines were not recognised and "
            f"{counts.damaged:,} were damaged (`mailtrace logs -o` keeps them in _unparsed/)"
        )
    return events, sessions, counts.failed_inputs > 0


def run_report(
    logs: list[str],
    detail: int = 10,
    as_json: bool = False,
    year: int | None = None,
    tz: str | None = None,
    plot: str | None = None,
    html: str | None = None,
    force: bool = False,
    errors: str = "raise",
) -> int:
    """``mailtrace report``: its output written, and its exit code (partial: some input could
    not be read). The options are the command's (``mailtrace report --help``)."""
    from mailtrace.logs.plan import plan_command_ahead

    text_only = plot is None and html is None
    wanted, kinds = event_columns.report_reads(charts=not text_only)
    # (mailtrace.entry may have begun this already.)
    plan_command_ahead(logs, year, tz, wanted, kinds)
    from mailtrace.report import build_report

    if text_only:
        # The text report is built from Arrow and NumPy alone: neither pandas nor Arrow's
        # group-by is imported (0.3 CPU-s the parse would lose on two cores). The charts use both.
        # What the report does import is imported beside the parse: numpy.ma (pa.array of a
        # NumPy array looks for masked arrays, 0.03 s) and rich's tables.
        from mailtrace.arrow_imports import defer_pandas

        defer_pandas()
        modules: tuple[str, ...] = (
            "pyarrow.compute",
            "mailtrace.failures",
            "mailtrace.render",
            "numpy.ma",
            "rich.table",
        )
    else:
        modules = ANALYSIS_MODULES
    events, sessions, partial = read_log_events(logs, wanted, year, tz, errors, modules, kinds)
    to_the_end(events, sessions)  # not freed at the return: the process ends after it
    from mailtrace import render

    # --- charts and HTML (plot.py, report_html.py) ---
    if plot is not None:
        from mailtrace.plot import log_overview, save_figure

        save_figure(log_overview(events), plot, force=force)
        render.warn(f"wrote the overview chart to {plot}")
    if html is not None:
        from mailtrace.report_html import log_report_html, write_html

        page = log_report_html(events, detail=detail, sources=logs)
        write_html(page, html, force=force)
        render.warn(f"wrote the HTML report to {html}")
    if html is None or as_json:
        render.report(build_report(events, detail=detail, sessions=sessions), as_json=as_json)
    return EXIT_PARTIAL if partial else EXIT_OK


def console_report(request: ReportRequest) -> NoReturn:
    """The console script's ``mailtrace report`` for a command line read with certainty: run
    as the CLI runs it (:mod:`mailtrace.runner`), then exit."""
    quiet_collector()
    hold_to_the_end()
    finish(
        guarded(
            lambda: run_report(
                request.logs,
                detail=request.detail,
                as_json=request.as_json,
                year=request.year,
                tz=request.tz,
                force=request.force,
                errors=request.errors,
            )
        )
    )
