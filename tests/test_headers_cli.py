"""`mailtrace headers`: output formats, exit codes, Parquet files, escaping of hostile text."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mailtrace.cli import main
from mailtrace.schema import AUTH, HOPS
from tests.conftest import SAMPLE

MESSAGES = SAMPLE / "messages"


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the console entry point as a user would; return (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mailtrace", *args])
        monkeypatch.setenv("COLUMNS", "200")
        with pytest.raises(SystemExit) as exc:
            main()
        out, err = capsys.readouterr()
        code = exc.value.code
        return (code if isinstance(code, int) else 0), out, err

    return invoke


def test_table_output_for_one_message(run: Run) -> None:
    code, out, _ = run("headers", str(MESSAGES / "clock-skew.eml"))
    assert code == 0
    assert "gw.example.org" in out and "-7m 32s" in out
    assert "Originating IP: 192.0.2.44 (hop 2)" in out
    assert "negative delay" in out


def test_json_has_one_object_per_message(run: Run) -> None:
    code, out, _ = run("headers", "--json", str(MESSAGES))
    assert code == 0
    data = json.loads(out)
    assert len(data) == 20
    arc = next(d for d in data if d["message"].endswith("mailing-list-arc.eml"))
    assert arc["summary"]["originating_ip"] == "192.0.2.150"
    assert [h["hop"] for h in arc["hops"]] == [5, 4, 3, 2, 1]  # header order
    assert any(a["method"] == "arc-seal" and a["instance"] == 2 for a in arc["auth"])


def test_csv_is_the_hops_table(run: Run) -> None:
    code, out, _ = run("headers", "--csv", str(MESSAGES / "sendmail.eml"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].replace('"', "").split(",") == HOPS.names
    assert len(lines) == 4


def test_parquet_writes_hops_and_auth_and_refuses_to_overwrite(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "hops.parquet"
    code, out, err = run("headers", str(MESSAGES), "--parquet", str(target))
    assert code == 0 and out == ""
    hops = pq.read_table(target)
    auth = pq.read_table(tmp_path / "hops.auth.parquet")
    assert hops.schema.equals(HOPS) and auth.schema.equals(AUTH)
    assert hops.num_rows == 56
    assert "wrote 56 hops" in err
    code, _, err = run("headers", str(MESSAGES), "--parquet", str(target))
    assert code == 2 and "--force" in err
    code, _, _ = run("headers", str(MESSAGES), "--parquet", str(target), "--force")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hops.auth.parquet", "hops.parquet"]


def test_json_and_csv_together_is_a_usage_error(run: Run) -> None:
    code, _, err = run("headers", "--json", "--csv", str(MESSAGES))
    assert code == 2 and "cannot be combined" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "empty"), (b"\x00\x01\x02\x03", "binary"), (b"hello\nworld\n", "not an email")],
)
def test_unreadable_input_exits_1_with_one_line(
    run: Run, tmp_path: Path, content: bytes, words: str
) -> None:
    bad = tmp_path / "bad.eml"
    bad.write_bytes(content)
    code, out, err = run("headers", str(bad))
    assert code == 1 and out == ""
    assert words in err and "bad.eml" in err and "Traceback" not in err


def test_some_unreadable_inputs_exit_3(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"\x00binary")
    code, out, err = run("headers", "--json", str(MESSAGES / "qmail.eml"), str(bad))
    assert code == 3
    assert len(json.loads(out)) == 1
    assert "1 input(s) or message(s) could not be read" in err


def test_missing_file_exits_1(run: Run, tmp_path: Path) -> None:
    code, _, err = run("headers", str(tmp_path / "nope.eml"))
    assert code == 1 and "no such file" in err


def test_stdin(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (MESSAGES / "pasted-headers.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run("headers", "--json", "-")
    assert code == 0
    (msg,) = json.loads(out)
    assert msg["message"] == "<stdin>" and len(msg["hops"]) == 2


def test_hostile_header_text_is_shown_escaped(run: Run, tmp_path: Path) -> None:
    evil = tmp_path / "evil.eml"
    evil.write_bytes(
        b"Received: from [red]x[/red] ([192.0.2.1]) by mx.example.com; "
        b"Tue, 3 Mar 2026 10:00:00 +0000\n"
        b"Subject: [bold red]URGENT[/bold red] \x1b[2J\x07 [link=http://example.com]x[/link]\n"
        b"Date: Tue, 3 Mar 2026 10:00:00 +0000\n\nbody\n"
    )
    code, out, _ = run("headers", str(evil))
    assert code == 0
    assert "[bold red]URGENT[/bold red]" in out  # shown as written, not interpreted
    assert "[link=http://example.com]" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b" in out
