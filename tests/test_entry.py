"""The console script begins a report's parse before the CLI is imported (mailtrace.entry)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
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
            ReportRequest(["a.log", "b.log"], None, None, True, detail=5, force=True),
        ),
        (
            ["report", "a.log", "--json", "--errors=skip", "--detail=0"],
            ReportRequest(["a.log"], None, None, False, detail=0, as_json=True, errors="skip"),
        ),
        (["report", "a.log", "--detail", "-1"], None),  # a value the CLI refuses, with a reason
        (["report", "a.log", "--detail", "٣"], None),  # a digit, but not one int() should read
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
    from mailtrace import cli, log_commands, paths
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
    # The report itself is stubbed: it would end the process. It runs without the CLI.
    monkeypatch.setattr(log_commands, "console_report", lambda _: begun.append(len(plan._AHEAD)))
    monkeypatch.setattr(cli, "console", lambda: begun.append(-1))
    entry.console()
    assert begun == [1, -1]  # planned, then the report (the stub returns, so the CLI runs too)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected.stdout
    assert not plan._AHEAD and not ahead._RUNS  # the plan taken, its parse claimed and released


def test_it_imports_neither_the_cli_nor_the_analysis_libraries() -> None:
    """What lets the parse begin 0.05 s into the run: typer, rich, pyarrow and numpy come after,
    and so do what only other inputs need (json, bz2, lzma) and concurrent.futures (logging)."""
    code = (
        "import sys, mailtrace.entry, mailtrace.event_columns, mailtrace.logs.plan; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'typer', 'rich', 'pyarrow', 'numpy', 'click', 'json', 'bz2', 'lzma', 'concurrent', "
        "'logging'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    """``mailtrace ARGS`` as the console script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mailtrace", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("extra", [[], ["--json"], ["--detail", "2"], ["--json", "--detail=0"]])
def test_a_report_run_without_the_cli_prints_what_the_cli_prints(extra: list[str]) -> None:
    args = ["report", str(DAY), "--year", "2026", "--tz", "UTC", *extra]
    expected = CliRunner().invoke(app, args)
    done = _console(*args)
    assert (done.returncode, done.stdout) == (expected.exit_code, expected.stdout)
    assert expected.exit_code == 0 and done.stdout


def test_a_report_run_without_the_cli_ends_as_the_cli_does(tmp_path: Path) -> None:
    """Exit codes and one-line errors: 1 for an input that cannot be read, 2 for a usage
    mistake found while running, 3 for a partial result (and the part that was read)."""
    missing = _console("report", str(tmp_path / "none.log"))
    assert missing.returncode == 1 and missing.stderr.startswith("mailtrace: ")
    assert "Traceback" not in missing.stderr and missing.stdout == ""
    usage = _console("report", "--errors", "maybe", str(DAY))
    assert usage.returncode == 2 and "--errors must be raise or skip" in usage.stderr
    binary = tmp_path / "binary.log"
    binary.write_bytes(b"\x00\x01\x02 not a log")
    partial = _console("report", "--errors", "skip", "--json", str(binary), str(DAY))
    assert partial.returncode == 3 and "binary" in partial.stderr
    whole = _console("report", "--json", str(DAY))
    assert partial.stdout == whole.stdout  # the readable log, reported in full
    refused = _console("report", "--detail", "-1", str(DAY))  # the CLI's own check
    assert refused.returncode == 2 and "--detail" in refused.stderr


def _console_then(
    command: str, at_finish: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mailtrace COMMAND DAY`` as the console script runs it, with ``at_finish`` (statements)
    run in its process as it ends."""
    code = (
        f"import sys; sys.argv = ['mailtrace', {command!r}, sys.argv[1]]\n"
        "import mailtrace.runner as r\nfinish = r.finish\n"
        "def at_finish(c):\n" + textwrap.indent(at_finish, "    ") + "\n    finish(c)\n"
        "r.finish = at_finish\nfrom mailtrace.entry import console\nconsole()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(DAY)], capture_output=True, text=True, env=env, check=False
    )


def test_a_text_report_imports_neither_typer_nor_the_cli() -> None:
    done = _console_then(
        "report",
        "sys.stdout.write(repr(sorted({m for m in sys.modules "
        "if m.split('.')[0] in ('typer', 'click') or m == 'mailtrace.cli'})))",
    )
    assert done.stdout.endswith("[]") and "Grand totals" in done.stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "command", [["report", str(DAY)], ["report", "--json", str(DAY)], ["logs", str(DAY)]]
)
def test_output_the_system_refuses_ends_in_one_line_not_a_traceback(command: list[str]) -> None:
    """A full disk (/dev/full refuses every write), with and without the CLI framework."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "mailtrace", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["mailtrace: [Errno 28] No space left on device"]


_HOLD_SCRIPT = """
import sys, weakref
from mailtrace import runner

class Table:
    pass

if sys.argv[1] == "console":
    runner.hold_to_the_end()
table = Table()
weakref.finalize(table, print, "freed", flush=True)
runner.to_the_end(table)
del table
print("done", flush=True)
runner.finish(0)
"""


@pytest.mark.parametrize(("mode", "printed"), [("console", "done\n"), ("library", "freed\ndone\n")])
def test_a_console_process_holds_its_tables_to_the_end(mode: str, printed: str) -> None:
    """A console command's tables are left to os._exit rather than freed at its return (900
    munmap calls after a 1,000,000-line report's last line); a library caller's are freed."""
    out = subprocess.run(
        [sys.executable, "-c", _HOLD_SCRIPT, mode], capture_output=True, text=True, check=True
    )
    assert out.stdout == printed


@pytest.mark.parametrize(("chosen", "expected"), [(None, "system"), ("jemalloc", "jemalloc")])
def test_the_console_gives_arrow_the_system_allocator_unless_the_user_chose(
    chosen: str | None, expected: str
) -> None:
    """Arrow's bundled mimalloc kept 90 MB more of a report's freed memory (mailtrace.entry)."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    done = _console_then(
        "logs",
        "import pyarrow; sys.stderr.write('pool=' + pyarrow.default_memory_pool().backend_name)",
        env,
    )
    assert f"pool={expected}" in done.stderr, done.stderr


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc is tuned on glibc only",
)
def test_the_console_keeps_freed_memory_for_the_next_array() -> None:
    """An 8 MB block freed and asked for again costs no page faults in the console's process
    (before: a fresh mapping, 2,000 faults): mailtrace.logs._fastlog.tune_malloc."""
    done = _console_then(
        "logs",
        "import resource\n"
        "faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "a = bytearray(8 << 20); del a; before = faults(); b = bytearray(8 << 20)\n"
        "sys.stderr.write(f'faults={faults() - before}')",
    )
    faults = int(done.stderr.rsplit("faults=", 1)[1].split()[0])
    assert faults < 200, done.stderr
