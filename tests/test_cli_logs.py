"""`mailtrace logs`: summary, dataset, exit codes and one-line errors, run as a user runs it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

OTHER = "".join(f"Mar  7 10:00:{i:02d} mx CRON[{i}]: (root) CMD (true)\n" for i in range(30))
GARBAGE = "not a log line\nnor this one\n"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtrace", "logs", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_summary_counts_and_always_the_unreadable_lines(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(OTHER)
    r = _run(log, "--year", "2026")
    assert r.returncode == 0, r.stderr
    assert "lines read" in r.stdout and "30" in r.stdout
    assert "CRON" in r.stdout
    assert "0 lines could not be read" in r.stderr
    assert "Traceback" not in r.stderr


def test_unrecognised_lines_are_kept_and_damaged_lines_make_a_partial_result(
    tmp_path: Path,
) -> None:
    log = tmp_path / "maillog"
    log.write_text(OTHER + GARBAGE)
    r = _run(log, "--year", "2026", "--tz", "UTC")
    assert r.returncode == 0
    assert "2 lines were not recognised (kept as unparsed)" in r.stderr
    log.write_bytes(OTHER.encode() + b"Mar  7 10:00:59 mx CRON[1]: caf\xe9\n")
    damaged = _run(log, "--year", "2026", "--tz", "UTC")
    assert damaged.returncode == 3
    assert "1 lines could not be read (invalid UTF-8)" in damaged.stderr


def test_dataset_is_written_and_not_overwritten_without_force(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(OTHER + GARBAGE)
    out = tmp_path / "out"
    r = _run(log, "-o", out, "--year", "2026", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert "wrote 2 files" in r.stdout
    assert pq.read_table(out / "_unparsed" / "maillog.parquet").num_rows == 2
    again = _run(log, "-o", out, "--year", "2026")
    assert again.returncode == 2
    assert "exists (use --force to overwrite)" in again.stderr
    assert _run(log, "-o", out, "--year", "2026", "--force").returncode == 0


def test_damaged_and_binary_inputs_are_one_line_errors(tmp_path: Path) -> None:
    data = gzip.compress(OTHER.encode() * 3000)
    damaged = tmp_path / "maillog.1.gz"
    damaged.write_bytes(data[: len(data) // 2])
    r = _run(damaged, "--year", "2026")
    assert r.returncode == 1
    assert "truncated gzip stream after line" in r.stderr
    assert "--errors skip" in r.stderr and "Traceback" not in r.stderr
    skipped = _run(damaged, "--year", "2026", "--errors", "skip")
    assert skipped.returncode == 3
    assert "1 input(s) were cut short" in skipped.stderr
    binary = tmp_path / "core"
    binary.write_bytes(b"\x00\xff" * 100)
    b = _run(binary)
    assert b.returncode == 1 and "binary data" in b.stderr


def test_usage_errors(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(OTHER)
    assert _run(log, "--format", "qmail").returncode == 2
    assert _run(log, "--errors", "maybe").returncode == 2
    assert _run(log, "--tz", "Nowhere/Special").returncode == 2
    missing = _run(tmp_path / "absent")
    assert missing.returncode == 1 and "no such file" in missing.stderr
