"""The console script begins a report's parse before the CLI is imported (mailtrace.entry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailtrace import entry
from mailtrace.cli import app
from mailtrace.entry import ReportRequest, report_request
from tests.conftest import SAMPLE

DAY = SAMPLE / "logs" / "report_day.log"


def test_it_knows_every_option_of_the_report_command() -> None:
    """A report option added to the CLI and not here would stop the early start, never
    misread the command line: this keeps the two lists one."""
    command = typer.main.get_command(app).commands["report"]  # type: ignore[attr-defined]
    options = {
        name: not param.is_flag
        for param in command.params
        if param.param_type_name == "option"
        for name in param.opts
    }
    assert options == entry.OPTIONS


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["report", "a.log"], ReportRequest(["a.log"], None, None, False)),
        (
            ["report", "--detail", "5", "a.log", "b.log", "--html=r.html", "--force"],
            ReportRequest(["a.log", "b.log"], None, None, True),
        ),
        (
            ["report", "--tz", "Europe/Paris", "-"],
            ReportRequest(["-"], None, "Europe/Paris", False),
        ),
        (["report", "--", "--odd-name"], ReportRequest(["--odd-name"], None, None, False)),
        (["report"], None),  # no input: the CLI says so
        (["report", "a.log", "--year"], None),  # a value missing
        (["report", "a.log", "--json=yes"], None),  # a flag given a value
        (["report", "a.log", "-h"], None),  # an option not read here
        (["path", "ID", "a.log"], None),  # another command
        ([], None),
    ],
)
def test_the_command_line_is_read_only_when_it_is_certain(
    args: list[str], expected: ReportRequest | None
) -> None:
    assert report_request(args) == expected


def test_a_report_of_a_large_log_is_planned_and_parsed_before_the_cli_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan is begun before mailtrace.cli takes over, the report takes it (one plan, no
    second one), and its output is the report's without the early start."""
    from mailtrace import cli, paths
    from mailtrace.logs import ahead, batch, plan

    for module in (plan, batch):
        monkeypatch.setattr(module, "SPLIT_BYTES", 1)  # this small log is "large"
    for module in (plan, paths):
        monkeypatch.setattr(module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    args = ["report", str(DAY), "--year", "2026", "--tz", "UTC", "--json"]
    expected = CliRunner().invoke(app, args)
    assert expected.exit_code == 0, expected.output
    assert not plan._AHEAD and not ahead._RUNS
    begun: list[int] = []
    monkeypatch.setattr(sys, "argv", ["mailtrace", *args])
    monkeypatch.setattr(cli, "console", lambda: begun.append(len(plan._AHEAD)))
    entry.console()
    assert begun == [1]  # planned before the CLI ran
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected.stdout
    assert not plan._AHEAD and not ahead._RUNS  # the plan taken, its parse claimed and released


def test_it_imports_neither_the_cli_nor_the_analysis_libraries() -> None:
    """What lets the parse begin 0.1 s into the run: typer, rich, pyarrow and numpy come after."""
    code = (
        "import sys, mailtrace.entry, mailtrace.event_columns, mailtrace.logs.plan; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'typer', 'rich', 'pyarrow', 'numpy', 'click'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
