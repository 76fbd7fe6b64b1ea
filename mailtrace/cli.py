"""The ``mailtrace`` command line: parse arguments, call one library function, render.

Each command is a thin skin: the library raises :class:`~mailtrace.errors.MailtraceError` on bad
input and :func:`main` turns it into one line on stderr and an exit code:
0 ok, 1 input/data error, 2 usage, 3 partial (some inputs or lines could not be read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from mailtrace import render
from mailtrace.errors import MailtraceError, UsageError

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

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
    """Entry point of the console script: run the app, one clean line for every known error."""
    try:
        app()
    except UsageError as exc:
        render.error(str(exc))
        raise SystemExit(EXIT_USAGE) from None
    except MailtraceError as exc:
        render.error(str(exc))
        raise SystemExit(EXIT_INPUT) from None
    except KeyboardInterrupt:
        render.error("interrupted")
        raise SystemExit(130) from None
    except BrokenPipeError:
        raise SystemExit(EXIT_OK) from None


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


@app.command()
def version() -> None:
    """Print mailtrace's version."""
    from importlib.metadata import version as dist_version

    render.out.print(f"mailtrace {dist_version('mailtrace')}")
