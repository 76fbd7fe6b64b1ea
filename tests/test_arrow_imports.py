"""``mailtrace report`` without pandas: the same report, no pandas import, pandas still usable."""

from __future__ import annotations

import json
import subprocess
import sys

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
from mailtrace.arrow_without_pandas import defer_pandas
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
