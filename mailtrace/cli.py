"""The ``mailtrace`` command line: parse arguments, call one library function, render.

Each command is a thin skin: the library raises :class:`~mailtrace.errors.MailtraceError` on bad
input and :func:`main` turns it into one line on stderr and an exit code:
0 ok, 1 input/data error, 2 usage, 3 partial (some inputs or lines could not be read).
"""

from __future__ import annotations

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


@app.command()
def version() -> None:
    """Print mailtrace's version."""
    from importlib.metadata import version as dist_version

    render.out.print(f"mailtrace {dist_version('mailtrace')}")
