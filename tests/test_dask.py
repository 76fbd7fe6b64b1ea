"""Batch runs on a real Dask cluster: the same dataset as the local run, row for row.

The cluster runs on 127.0.0.1 with two worker processes; dask.distributed is a dev dependency,
so nothing here is skipped.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import LocalCluster

from mailtrace.errors import InputError, UsageError
from mailtrace.logs import batch
from mailtrace.logs.reader import read_events_table
from mailtrace.paths import COLUMNS, read_events, select_paths
from mailtrace.report import COLUMNS as REPORT_COLUMNS
from mailtrace.report import build_report

LOGS = ("postfix.log", "exim_mainlog", "sendmail.log", "hostA.log", "hostB.log")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as c:
        yield c


@pytest.fixture
def inputs(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Several sample logs, a rotated set with gzip members, and a plain file split in ranges."""
    d = tmp_path / "in"
    d.mkdir()
    for name in LOGS:
        shutil.copy(sample / "logs" / name, d / name)
    shutil.copytree(sample / "logs" / "rotated", d / "rotated")
    # postfix.log (~24 kB) is "large": cut into ~4 kB ranges parsed by different workers.
    monkeypatch.setattr(batch, "MIN_RANGE_BYTES", 4096)
    monkeypatch.setattr(batch, "SPLIT_BYTES", 8192)
    return [*(d / name for name in LOGS), d / "rotated"]


def _run(inputs: list[Path], out: Path, jobs: int, engine: batch.Engine) -> batch.Summary:
    return batch.run(
        inputs, out, year=2026, tz="UTC", jobs=jobs, engine=engine, split_bytes=batch.SPLIT_BYTES
    )


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("source", "ascending"), ("line", "ascending")])


def _same_dataset(a: Path, b: Path) -> None:
    for sub in (".", batch.UNPARSED_DIR):
        ta, tb = _sorted(pq.read_table(a / sub)), _sorted(pq.read_table(b / sub))
        assert ta.num_rows > 0
        assert ta.schema.remove_metadata() == tb.schema.remove_metadata()
        assert ta.equals(tb.cast(ta.schema))
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.parquet"))
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*.parquet"))


def test_local_dask_cluster_writes_the_local_runs_dataset(
    inputs: list[Path], tmp_path: Path
) -> None:
    local = _run(inputs, tmp_path / "local", 1, "process")
    plan = batch.plan_file(inputs[0], year=2026, chunk_bytes=batch.MIN_RANGE_BYTES)
    assert len(plan.chunks) > 3  # the big file really is read as several ranges
    dask = _run(inputs, tmp_path / "dask", 2, "dask")
    _same_dataset(tmp_path / "local", tmp_path / "dask")
    assert dask.counts.lines == local.counts.lines > 0
    assert (dask.counts.events, dask.counts.unparsed) == (
        local.counts.events,
        local.counts.unparsed,
    )
    assert dask.kinds == local.kinds
    assert len(dask.written) == len(local.written) == 2 * 8


def test_scheduler_address_cli_then_report_and_path_on_the_dataset(
    inputs: list[Path], tmp_path: Path, cluster: LocalCluster
) -> None:
    _run(inputs, tmp_path / "local", 1, "process")
    out = tmp_path / "dask"

    def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailtrace", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    r = cli(
        "logs", *inputs, "-o", out, "--year", "2026", "--tz", "UTC",
        "--engine", "dask", "--scheduler", cluster.scheduler_address,
    )  # fmt: skip
    assert "Traceback" not in r.stderr
    assert "wrote 16 files" in r.stdout
    # the CLI does not split (default SPLIT_BYTES): the dataset is still the same
    _same_dataset(tmp_path / "local", out)
    # report and path read only the columns they need, and see what a direct parse sees
    assert read_events([out]).column_names == list(COLUMNS)
    assert read_events([out], REPORT_COLUMNS).column_names == list(REPORT_COLUMNS)
    direct = read_events_table(inputs, year=2026, tz="UTC")
    from_dataset = build_report(read_events([out], REPORT_COLUMNS))
    assert from_dataset == build_report(read_events([tmp_path / "local"], REPORT_COLUMNS))
    # (top lists break ties by the order rows are read: only the totals are order-free)
    assert from_dataset.totals == build_report(direct).totals
    messages, _, events = select_paths(read_events([out]), "C1D2E3F4A5")
    assert messages.column("queue_ids").to_pylist() == [["C1D2E3F4A5", "D2E3F4A5B6"]]
    assert set(events.column("queue_id").to_pylist()) == {"C1D2E3F4A5", "D2E3F4A5B6"}
    report = cli("report", out, "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"] == build_report(direct).totals


def test_a_damaged_input_on_the_cluster_raises_or_is_counted(
    sample: Path, tmp_path: Path, cluster: LocalCluster
) -> None:
    data = gzip.compress((sample / "logs" / "postfix.log").read_bytes() * 20)
    (tmp_path / "maillog.1.gz").write_bytes(data[: len(data) // 2])
    shutil.copy(sample / "logs" / "exim_mainlog", tmp_path / "exim_mainlog")
    out = tmp_path / "out"
    address = cluster.scheduler_address

    def run(errors: batch.Errors) -> batch.Summary:
        return batch.run(
            [tmp_path / "maillog.1.gz", tmp_path / "exim_mainlog"], out, year=2026, tz="UTC",
            errors=errors, force=True, engine="dask", scheduler=address,
        )  # fmt: skip

    with pytest.raises(InputError, match=r"maillog\.1\.gz: truncated gzip stream"):
        run("raise")
    assert not (out / "maillog.1.gz.parquet").exists()
    # No temporary file is left behind. The other input's task may still be running on its
    # worker when the client raises (Dask cannot interrupt a running task): give it time to end.
    deadline = time.monotonic() + 20
    while list(out.rglob(".*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(out.rglob(".*"))
    summary = run("skip")
    assert summary.counts.failed_inputs == 1
    assert pq.read_table(out / "maillog.1.gz.parquet").num_rows > 0
    assert pq.read_table(out / "exim_mainlog.parquet").num_rows > 0


def test_scheduler_without_dask_engine_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--scheduler needs --engine dask"):
        batch.run([tmp_path], tmp_path / "out", scheduler="tcp://127.0.0.1:1")


def test_missing_dask_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "maillog").write_text("Mar  7 10:00:00 mx sshd[1]: x\n")
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'mailtrace\[distributed\]'"):
        batch.run([tmp_path / "maillog"], tmp_path / "out", engine="dask", year=2026)
    assert not (tmp_path / "out").exists()
