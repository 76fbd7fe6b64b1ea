"""pyarrow without pandas (``report``) and without NumPy (``logs``): the same results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from mailtrace.cli import app
from tests.conftest import SAMPLE

LOG = str(SAMPLE / "logs" / "report_day.log")


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], check=False, capture_output=True, text=True, timeout=120
    )


def test_report_imports_no_pandas_and_says_the_same() -> None:
    """The text/JSON report in its own process leaves pandas unimported and gives the report
    this process (where pandas is loaded) gives."""
    done = _python("-X", "importtime", "-m", "mailtrace", "report", "--json", LOG, "--year", "2026")
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    # ("pandas" itself shows up, as the look that failed on purpose: its modules do not.)
    assert not [name for name in imported if name.startswith("pandas.")]
    assert "pyarrow.acero" not in imported
    here = CliRunner().invoke(app, ["report", "--json", LOG, "--year", "2026"])
    assert here.exit_code == 0
    assert json.loads(done.stdout) == json.loads(here.stdout)


def test_pandas_still_works_after_the_deferral() -> None:
    """to_pandas and from_pandas import pandas when asked; a Series is still converted right."""
    code = """
import sys, pyarrow as pa
from mailtrace.arrow_imports import defer_pandas
defer_pandas()
pa.scalar("x"); pa.array([1, None])
assert "pandas" not in sys.modules
frame = pa.table({"a": [1, None], "b": ["x", "y"]}).to_pandas()
import pandas as pd
assert pa.Table.from_pandas(frame).column("b").to_pylist() == ["x", "y"]
assert pa.array(pd.Series([1.5, None])).to_pylist() == [1.5, None]
assert pa.types.is_dictionary(pa.array(pd.Categorical(["u", "v"])).type)
print("ok")
"""
    done = _python("-c", code)
    assert done.stdout == "ok\n", done.stderr


def test_logs_without_numpy_writes_the_datasets_it_writes_with_numpy(tmp_path: Path) -> None:
    """``mailtrace logs -o`` in its own process imports pyarrow without NumPy, and NumPy not at
    all on Postfix syslog that the compiled path reads whole; on every sample log (Exim,
    Sendmail, every framing, a rotated set with gzip, whose Python parsers import NumPy for
    themselves) it writes the tables this process (pyarrow with NumPy) writes."""
    logs = SAMPLE / "logs"
    inputs = [str(p) for p in sorted(logs.rglob("*")) if p.is_file()]
    apart, here = tmp_path / "apart", tmp_path / "here"
    postfix = _python(
        "-X", "importtime", "-m", "mailtrace", "logs", str(logs / "report_day.log"),
        "-o", str(tmp_path / "postfix"), "--year", "2026", "--tz", "UTC",
    )  # fmt: skip
    assert postfix.returncode == 0, postfix.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in postfix.stderr.splitlines()}
    # ("numpy" itself shows up, as pyarrow's look that failed on purpose: its modules do not.)
    assert "pyarrow.lib" in imported and not [n for n in imported if n.startswith("numpy.")]
    args = ["logs", *inputs, "--year", "2026", "--tz", "UTC", "--force"]
    done = _python("-m", "mailtrace", *args, "-o", str(apart))
    assert done.returncode in (0, 3), done.stderr  # 3: the samples hold damaged lines on purpose
    assert CliRunner().invoke(app, [*args, "-o", str(here)]).exit_code == done.returncode
    written = sorted(p.relative_to(here) for p in here.rglob("*.parquet"))
    assert written == sorted(p.relative_to(apart) for p in apart.rglob("*.parquet"))
    assert len(written) > 2 * len(inputs) - 2
    for name in written:
        assert pq.read_table(apart / name).equals(pq.read_table(here / name)), name
