"""The ``mailtrace`` command line: parse arguments, call one library function, render.

Each command is a thin skin: the library raises :class:`~mailtrace.errors.MailtraceError` on bad
input and :func:`main` turns it into one line on stderr and an exit code:
0 ok, 1 input/data error, 2 usage, 3 partial (some inputs or lines could not be read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from mailtrace import event_columns
from mailtrace.errors import UsageError
from mailtrace.log_commands import read_log_events, run_report
from mailtrace.runner import (
    EXIT_INPUT,
    EXIT_PARTIAL,
    finish,
    guarded,
    hold_to_the_end,
    quiet_collector,
)


class _Render:
    """:mod:`mailtrace.render`, imported when first used: its rich import (0.03 s) then runs
    beside the parse of ``logs`` and ``report`` (they preload it) instead of before it."""

    def __getattr__(self, name: str) -> Any:
        from mailtrace import render as module

        return getattr(module, name)


if TYPE_CHECKING:
    from mailtrace import render
else:
    render = _Render()

__all__ = ["app", "console", "main"]

app = typer.Typer(
    name="mailtrace",
    help="Email header and SMTP log analyzer: where did this message go, how long did each hop "
    "take, and why did it fail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Email header and SMTP log analyzer: where did this message go, how long did each hop
    take, and why did it fail."""


def main() -> None:
    """Entry point of the console script: run the app, one clean line for every known error
    (:func:`mailtrace.runner.guarded`)."""
    code = guarded(app)
    if code:
        raise SystemExit(code)


def console() -> None:
    """The console script and ``python -m mailtrace``: :func:`main`, then a quick exit
    (:func:`mailtrace.runner.finish`), with the cyclic garbage collector off
    (:func:`mailtrace.runner.quiet_collector`). :func:`main` itself exits normally, for
    in-process callers."""
    quiet_collector()
    hold_to_the_end()
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    finish(code)


# Commands are added below, one section per room (headers, logs, report, …).


# --- DNS: mx, dns ------------------------------------------------------------------------------

_NAMESERVER_HELP = "Ask this server (IP or IP:PORT) instead of the system resolver."
_TIMEOUT_HELP = "Seconds allowed for each lookup."


@app.command()
def mx(
    domains: list[str] = typer.Argument(..., help="Domains to look up (IDN names welcome)."),
    all_records: bool = typer.Option(
        False, "--all", help="Also SPF, DMARC, MTA-STS and TLS-RPT (same as `mailtrace dns`)."
    ),
    nameserver: str | None = typer.Option(None, help=_NAMESERVER_HELP),
    timeout: float = typer.Option(5.0, help=_TIMEOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show the servers mail for DOMAIN goes to, in the order an MTA tries them."""
    if all_records:
        dns(domains, nameserver=nameserver, timeout=timeout, as_json=as_json)
        return
    from mailtrace import dns as mdns

    resolver = mdns.Resolver(nameserver, timeout)
    names = [mdns.normalise_domain(d) for d in domains]
    results = resolver.map(lambda d: mdns.resolve_mx(d, resolver), names)
    _render_dns(results, as_json, render.mx_results)
    _exit_on_dns_failures([r.status for r in results])


@app.command()
def dns(
    domains: list[str] = typer.Argument(..., help="Domains to check (IDN names welcome)."),
    nameserver: str | None = typer.Option(None, help=_NAMESERVER_HELP),
    timeout: float = typer.Option(5.0, help=_TIMEOUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Check a domain's mail DNS: MX, SPF with its lookup count, DMARC, MTA-STS, TLS-RPT."""
    from mailtrace import dns as mdns

    resolver = mdns.Resolver(nameserver, timeout)
    names = [mdns.normalise_domain(d) for d in domains]
    reports = resolver.map(lambda d: mdns.domain_report(d, resolver), names)
    _render_dns(reports, as_json, render.domain_reports)
    _exit_on_dns_failures([r.mx.status for r in reports])


def _render_dns(results: list[Any], as_json: bool, table: Callable[[list[Any]], None]) -> None:
    if as_json:
        from dataclasses import asdict

        render.print_json([asdict(r) for r in results])
    else:
        table(results)


def _exit_on_dns_failures(statuses: list[str]) -> None:
    # An answer, even NXDOMAIN, is a result; a lookup that got no answer makes the run partial.
    failed = [s for s in statuses if s in ("servfail", "timeout", "error")]
    if failed:
        render.warn(f"{len(failed)} of {len(statuses)} lookups got no answer")
        raise typer.Exit(EXIT_PARTIAL)


# --- headers: mailtrace headers FILE… --------------------------------------------------------


@app.command()
def headers(
    files: list[str] = typer.Argument(
        ...,
        help="Messages: .eml, mbox, Outlook .msg, pasted header blocks, directories, - for stdin.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object per message (summary, hops, auth)."
    ),
    as_csv: bool = typer.Option(False, "--csv", help="Print the HOPS table as CSV."),
    parquet: str | None = typer.Option(
        None,
        "--parquet",
        metavar="PATH",
        help="Write the HOPS table to PATH and the AUTH table to PATH's stem + .auth.parquet.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite existing --parquet and --plot outputs."
    ),
    plot: str | None = typer.Option(
        None,
        "--plot",
        metavar="FILE",
        help="Draw each message's hop waterfall to FILE (.png/.svg).",
    ),
    check_dns: bool = typer.Option(
        False, "--dns", help="Look up PTR names of hop IPs and check they resolve back (FCrDNS)."
    ),
    dnsbl: list[str] = typer.Option(
        [], "--dnsbl", metavar="ZONE", help="Check hop IPs against this DNS blocklist (repeatable)."
    ),
    nameserver: str | None = typer.Option(None, help=_NAMESERVER_HELP),
    timeout: float = typer.Option(5.0, help=_TIMEOUT_HELP),
) -> None:
    """Show each message's Received chain with per-hop delays, authentication and a summary."""
    from pathlib import Path

    from mailtrace.errors import InputError
    from mailtrace.headers.analysis import (
        analyze,
        report_dict,
        reports_auth_table,
        reports_hops_table,
    )
    from mailtrace.headers.message import read_headers

    if as_json and as_csv:
        raise UsageError("--json and --csv cannot be combined: choose one output format")
    failures: list[InputError] = []
    reports = [analyze(m) for m in read_headers(files, on_error=failures.append)]
    for failure in failures:
        render.error(str(failure))
    ip_checks: dict[str, Any] = {}
    if check_dns or dnsbl:  # the only network access of this command, and only when asked
        from mailtrace import dns as mdns

        resolver = mdns.Resolver(nameserver, timeout)
        hop_ips = [h.received.from_ip for r in reports for h in r.hops if h.received.from_ip]
        ip_checks = mdns.check_ips(hop_ips, dnsbl, resolver)
    if plot is not None:
        from mailtrace.plot import hop_timeline, save_figure

        save_figure(hop_timeline(reports_hops_table(reports)), plot, force=force)
        render.warn(f"wrote the hop chart to {plot}")
    if parquet is not None:
        from mailtrace.output import write_parquet

        hops_path = Path(parquet)
        auth_path = hops_path.with_name(f"{hops_path.stem}.auth.parquet")
        hops_table, auth_table = reports_hops_table(reports), reports_auth_table(reports)
        write_parquet({hops_path: hops_table, auth_path: auth_table}, force=force)
        render.warn(
            f"wrote {hops_table.num_rows} hops to {hops_path}, "
            f"{auth_table.num_rows} auth rows to {auth_path}"
        )
    if as_json:
        render.print_json([_with_dns(report_dict(r), r, ip_checks) for r in reports])
    elif as_csv:
        render.print_csv(reports_hops_table(reports))
    elif parquet is None:
        render.header_reports(reports, ip_checks)
    if failures:
        if not reports:
            raise typer.Exit(EXIT_INPUT)
        render.warn(f"{len(failures)} input(s) or message(s) could not be read")
        raise typer.Exit(EXIT_PARTIAL)


def _with_dns(report: dict[str, Any], analysed: Any, ip_checks: dict[str, Any]) -> dict[str, Any]:
    if not ip_checks:
        return report
    from dataclasses import asdict

    ips = dict.fromkeys(h.received.from_ip for h in analysed.hops if h.received.from_ip)
    return {**report, "dns": [asdict(ip_checks[ip]) for ip in ips if ip in ip_checks]}


# --- paths and report: mailtrace path ID LOGS…, mailtrace report LOGS… -------------------------

_LOGS_HELP = "Mail logs (plain or compressed, several hosts) or Parquet datasets from `logs -o`."
_YEAR_HELP = "Year of the first line of RFC 3164 logs (default: from mtime)."
_TZ_HELP = "Zone of stamps written without one: UTC, +01:00, Europe/Paris …"
_ERRORS_HELP = "raise: stop at a damaged input; skip: keep what can be read."


def _plan_ahead(
    logs: list[str],
    year: int | None,
    tz: str | None,
    columns: tuple[str, ...],
    kinds: tuple[str, ...] | None = None,
) -> None:
    """As ``logs`` does: a large log is planned in a thread while the command imports its
    analysis, and its ranges parsed from then on (:func:`mailtrace.logs.plan.plan_command_ahead`).
    Call it first thing."""
    from mailtrace.logs.plan import plan_command_ahead

    plan_command_ahead(logs, year, tz, columns, kinds)


@app.command()
def path(
    ident: str = typer.Argument(..., metavar="ID", help="A queue id, a Message-ID or an address."),
    logs: list[str] = typer.Argument(..., metavar="LOGS…", help=_LOGS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of timelines."),
    limit: int = typer.Option(
        20,
        "--limit",
        min=0,
        help="Timelines shown when more messages match (an address): all are listed; 0 = all.",
    ),
    year: int | None = typer.Option(None, "--year", help=_YEAR_HELP),
    tz: str | None = typer.Option(None, "--tz", help=_TZ_HELP),
    errors: str = typer.Option("raise", "--errors", help=_ERRORS_HELP),
) -> None:
    """Trace messages end to end: queue-id chain, every attempt and log event, as a timeline."""
    _plan_ahead(logs, year, tz, event_columns.PATHS)
    from mailtrace.paths import COLUMNS, select_paths

    events, _, partial = read_log_events(logs, COLUMNS, year, tz, errors)
    messages, deliveries, events = select_paths(events, ident)
    if messages.num_rows == 0:
        render.warn(f"no message matches {ident!r}")
        raise typer.Exit(EXIT_INPUT)
    shown = render.message_paths(messages, deliveries, events, as_json=as_json, limit=limit)
    if shown < messages.num_rows:
        render.warn(
            f"{messages.num_rows:,} messages match {ident!r}: all are listed, the first "
            f"{shown:,} with their timelines (--limit 0 shows every one, --json everything)"
        )
    if partial:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def report(
    logs: list[str] = typer.Argument(..., metavar="LOGS…", help=_LOGS_HELP),
    detail: int = typer.Option(10, "--detail", min=0, help="Rows in every top list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    year: int | None = typer.Option(None, "--year", help=_YEAR_HELP),
    tz: str | None = typer.Option(None, "--tz", help=_TZ_HELP),
    plot: str | None = typer.Option(
        None, "--plot", metavar="FILE", help="Draw the overview charts to FILE (.png or .svg)."
    ),
    html: str | None = typer.Option(
        None,
        "--html",
        metavar="FILE",
        help="Write the report as one self-contained HTML file with charts and sortable tables.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --plot/--html files."),
    errors: str = typer.Option("raise", "--errors", help=_ERRORS_HELP),
) -> None:
    """Summarise a server's mail: totals, traffic, domains, top senders, problems by cause."""
    code = run_report(logs, detail, as_json, year, tz, plot, html, force, errors)
    if code:
        raise typer.Exit(code)


# --- failures: mailtrace failures LOGS… ---------------------------------------------------------


@app.command()
def failures(
    logs: list[str] = typer.Argument(..., metavar="LOGS…", help=_LOGS_HELP),
    detail: int = typer.Option(10, "--detail", min=0, help="Rows in the recipient-domain list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    year: int | None = typer.Option(None, "--year", help=_YEAR_HELP),
    tz: str | None = typer.Option(None, "--tz", help=_TZ_HELP),
    plot: str | None = typer.Option(
        None, "--plot", metavar="FILE", help="Draw failures over time, domains and providers."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --plot file."),
    errors: str = typer.Option("raise", "--errors", help=_ERRORS_HELP),
) -> None:
    """Show failures by category, family, recipient domain, provider and time, with examples."""
    _plan_ahead(logs, year, tz, event_columns.FAILURES)
    from mailtrace.failures_report import COLUMNS, build_failures

    events, _, partial = read_log_events(logs, COLUMNS, year, tz, errors)
    if plot is not None:
        from mailtrace.plot import failures_log_overview, save_figure

        save_figure(failures_log_overview(events), plot, force=force)
        render.warn(f"wrote the failure chart to {plot}")
    render.failures(build_failures(events, detail=detail), as_json=as_json)
    if partial:
        raise typer.Exit(EXIT_PARTIAL)


# --- bounces: mailtrace bounce FILE… ------------------------------------------------------------


@app.command()
def bounce(
    files: list[str] = typer.Argument(
        ...,
        metavar="FILE…",
        help="Bounce messages: .eml files, mbox files, directories, globs, - for stdin.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per recipient."),
    plot: str | None = typer.Option(
        None, "--plot", metavar="FILE", help="Draw failures by category, domain and provider."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --plot file."),
) -> None:
    """Show the failed recipients of bounce messages, each failure classified."""
    from mailtrace.errors import InputError
    from mailtrace.failures import read_bounces

    problems: list[InputError] = []
    rows = read_bounces(files, on_error=problems.append)
    for problem in problems:
        render.error(str(problem))
    if plot is not None:
        from mailtrace.plot import failures_overview, save_figure

        save_figure(failures_overview(rows), plot, force=force)
        render.warn(f"wrote the failure chart to {plot}")
    render.bounces(rows, as_json=as_json)
    if problems:
        raise typer.Exit(EXIT_INPUT if not rows else EXIT_PARTIAL)


# --- transcripts: mailtrace transcript FILE… -----------------------------------------------------


@app.command()
def transcript(
    files: list[str] = typer.Argument(
        ...,
        metavar="FILE…",
        help="swaks output, smtplib debug output, C:/S: dialogues, bounces with a transcript; "
        "directories, globs, - for stdin.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows (and failures) as JSON."),
    fmt: str = typer.Option(
        "auto", "--format", help="auto, swaks, smtplib or dialogue (>>>/<<<, C:/S:, In:/Out:)."
    ),
    day: str | None = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="The day of smtplib level-2 times (UTC)."
    ),
    plot: str | None = typer.Option(
        None, "--plot", metavar="FILE", help="Draw each dialogue coloured by reply class."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --plot file."),
) -> None:
    """Show SMTP transcripts as command/reply pairs, each failed reply classified."""
    from datetime import date

    from mailtrace.errors import InputError
    from mailtrace.logs.transcript import FORMATS, read_transcripts

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        raise UsageError(f"--date {day!r} is not a YYYY-MM-DD date") from None
    failures: list[InputError] = []
    results = read_transcripts(files, format=fmt, day=when, on_error=failures.append)
    for failure in failures:
        render.error(str(failure))
    empty = [name for name, table in results if table.num_rows == 0]
    for name in empty:
        render.warn(f"{name}: no SMTP dialogue found")
    if plot is not None:
        from mailtrace.plot import save_figure, transcript_chart

        save_figure(transcript_chart([t for _, t in results]), plot, force=force)
        render.warn(f"wrote the dialogue chart to {plot}")
    render.transcripts(results, as_json=as_json)
    if failures or empty:
        raise typer.Exit(EXIT_PARTIAL if len(empty) < len(results) else EXIT_INPUT)


# --- logs: mailtrace logs FILES… [-o OUT] ------------------------------------------------------


@app.command()
def logs(
    files: list[str] = typer.Argument(
        ...,
        metavar="FILES…",
        help="Mail logs: files (plain, gzip, bzip2, xz, zstd), directories, globs, - for stdin.",
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", metavar="OUT", help="Write a Parquet dataset to this directory."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="Force one parser for every line: postfix, exim or sendmail."
    ),
    year: int | None = typer.Option(
        None, "--year", help="Year of the first line of RFC 3164 logs (default: from mtime)."
    ),
    tz: str | None = typer.Option(
        None, "--tz", help="Zone of stamps written without one: UTC, +01:00, Europe/Paris …"
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Parallel workers (default: one per core)."
    ),
    errors: str = typer.Option(
        "raise", "--errors", help="raise: stop at a damaged input; skip: keep what can be read."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    engine: str = typer.Option(
        "process",
        "--engine",
        help="process: a pool on this machine; dask: a Dask cluster (pip install "
        "'mailtrace[distributed]'), local with --jobs workers unless --scheduler is given.",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler to run on (tcp://host:8786); inputs and OUT must be on a "
        "filesystem every worker sees at the same path.",
    ),
) -> None:
    """Read mail logs into events: a Parquet dataset with -o, else a summary of what was read."""
    import sys

    from mailtrace.logs.plan import plan_ahead_of_run

    # A large file is planned (read once to count its lines) in a thread while the next lines
    # import pyarrow; the run then takes that plan.
    plan_ahead_of_run(files, jobs=jobs, year=year, tz=tz)
    if engine == "process":
        # Nothing here hands pyarrow a NumPy array: without NumPy the import is 0.07 s shorter,
        # on the critical path of the run (Dask's workers do their own imports).
        from mailtrace.arrow_imports import arrow_without_numpy

        arrow_without_numpy()
    from mailtrace.logs.batch import run

    if errors not in ("raise", "skip"):
        raise UsageError(f"--errors must be raise or skip, not {errors!r}")
    if engine not in ("process", "dask"):
        raise UsageError(f"--engine must be process or dask, not {engine!r}")
    from contextlib import nullcontext

    bar = render.progress_bar(enabled=True) if sys.stderr.isatty() else nullcontext(None)
    with bar as progress:
        summary = run(
            files,
            output,
            format=fmt,
            year=year,
            tz=tz,
            errors="skip" if errors == "skip" else "raise",
            jobs=jobs,
            force=force,
            progress=progress,
            engine="dask" if engine == "dask" else "process",
            scheduler=scheduler,
            imports=("mailtrace.render",),
        )
    render.log_summary(summary, output)
    c = summary.counts
    if c.failed_inputs or c.damaged:  # unrecognised lines are kept (UNPARSED), not lost
        raise typer.Exit(EXIT_PARTIAL)


# --- trace: mailtrace trace MESSAGE --logs LOGS… ----------------------------------------------


@app.command()
def trace(
    message: str = typer.Argument(
        ..., metavar="MESSAGE", help="One message: .eml, .msg, a one-message mbox, - for stdin."
    ),
    logs: list[str] = typer.Option(
        [],
        "--logs",
        metavar="LOGS…",
        help="Mail logs of the servers it crossed, or `logs -o` datasets (the words after "
        "MESSAGE count too: --logs a.log b.log).",
    ),
    more: list[str] = typer.Argument(None, hidden=True, metavar="LOGS…"),
    as_json: bool = typer.Option(False, "--json", help="Print the timeline as JSON."),
    plot: str | None = typer.Option(
        None, "--plot", metavar="FILE", help="Draw the message's hop waterfall to FILE."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --plot file."),
    year: int | None = typer.Option(None, "--year", help=_YEAR_HELP),
    tz: str | None = typer.Option(None, "--tz", help=_TZ_HELP),
    errors: str = typer.Option("raise", "--errors", help=_ERRORS_HELP),
) -> None:
    """Follow one message end to end: each Received hop with what its server logged about it."""
    paths = [*logs, *(more or [])]
    if not paths:
        raise UsageError("give the servers' logs with --logs LOGS…")
    _plan_ahead(paths, year, tz, event_columns.PATHS)
    from mailtrace.paths import COLUMNS
    from mailtrace.trace import trace as trace_message

    events, _, partial = read_log_events(paths, COLUMNS, year, tz, errors)
    result = trace_message(message, events)
    render.message_trace(result, as_json=as_json)
    if plot is not None:
        from mailtrace.headers.analysis import reports_hops_table
        from mailtrace.plot import hop_timeline, save_figure

        save_figure(hop_timeline(reports_hops_table([result.report])), plot, force=force)
        render.warn(f"wrote the hop chart to {plot}")
    if not result.hops:
        render.warn(f"{message}: no Received header, nothing to trace")
        raise typer.Exit(EXIT_INPUT)
    if len(result.unlogged) == len(result.hops):
        render.warn("no hop of this message was found in the logs")
        raise typer.Exit(EXIT_INPUT)
    if partial:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def version() -> None:
    """Print mailtrace's version."""
    from importlib.metadata import version as dist_version

    render.out.print(f"mailtrace {dist_version('mailtrace')}")
