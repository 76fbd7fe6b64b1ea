"""Every command has help and is documented in the README."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from mailtrace.cli import app
from tests.conftest import ROOT

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_there_are_commands() -> None:
    assert "version" in COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help and len(command.help.strip()) > 10


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"`mailtrace {re.escape(name)}\b", readme), f"README lacks `mailtrace {name}`"


def test_unknown_command_is_a_usage_error() -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_the_console_script_flushes_everything_and_keeps_exit_codes() -> None:
    # `python -m mailtrace` leaves through os._exit (no heap teardown): the whole report must
    # still reach stdout, and errors keep their one line and exit code.
    import json
    import subprocess
    import sys

    log = ROOT / "sample_data" / "logs" / "report_day.log"
    ok = subprocess.run(
        [sys.executable, "-m", "mailtrace", "report", str(log), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["totals"]["received"] > 0
    bad = subprocess.run(
        [sys.executable, "-m", "mailtrace", "logs", str(ROOT / "no-such.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().endswith("no such file or directory")
    usage = subprocess.run(
        [sys.executable, "-m", "mailtrace", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2
