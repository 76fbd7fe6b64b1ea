"""One batch job on a Dask cluster of 1, 2 … workers: wall time, lines/s and cost per million lines.

    python benchmarks/bench_dask.py                    # 1,000,000 lines (--seed 1) in 8 files
    python benchmarks/bench_dask.py --files 1          # one plain file, split into byte ranges
    python benchmarks/bench_dask.py --workers 1 2 4    # on a machine with more cores

The log comes from the shared generator (``--generator``, default ``../shared/bench/
gen_postfix_log.py`` beside the repository); without it the benchmark says so and exits 0. It is
cut at line boundaries into ``--files`` plain files, and for each worker count a fresh
``LocalCluster`` (one single-threaded process per worker, as ``--engine dask`` starts) runs
``mailtrace.logs.batch.run(..., engine="dask", scheduler=ADDRESS)`` writing the Parquet dataset.
Cluster start-up and the workers' first imports are timed apart (a long-lived cluster pays them
once), so the figures are the steady cost of the job:

- wall seconds and lines per second;
- allocated core-seconds per million lines (wall × workers / millions of lines): what a cluster
  bills, idle time included;
- CPU seconds per million lines actually used by the worker processes (from psutil), which stays
  near the single-worker figure when the work divides well;
- busy %: CPU used over cores allocated. Near 100 % on an idle machine; far below it when other
  processes hold the cores, and then wall time says more about them than about mailtrace.

The load average is printed before and after: on a shared machine other processes take cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GENERATOR = ROOT.parent / "shared" / "bench" / "gen_postfix_log.py"


def generate(generator: Path, lines: int, seed: int, out: Path, files: int) -> list[Path]:
    """The generated log, cut at line boundaries into ``files`` plain files of similar size."""
    whole = out / "generated.log"
    subprocess.run(
        [sys.executable, str(generator), "--lines", str(lines), "--seed", str(seed), "-o", whole],
        check=True,
    )
    if files == 1:
        return [whole]
    data = whole.read_bytes()
    paths: list[Path] = []
    start = 0
    for i in range(files):
        end = len(data) if i == files - 1 else data.index(b"\n", len(data) * (i + 1) // files) + 1
        path = out / f"maillog.{i}"
        path.write_bytes(data[start:end])
        paths.append(path)
        start = end
    whole.unlink()
    return paths


def _cpu_seconds() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def measure(paths: list[Path], workers: int, lines: int, scratch: Path) -> dict[str, Any]:
    """Start a cluster of ``workers``, warm it up, and time one batch over ``paths``."""
    from distributed import Client, LocalCluster

    from mailtrace.logs.batch import run

    t0 = time.perf_counter()
    with (
        LocalCluster(
            host="127.0.0.1",
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        # Warm-up: every worker imports mailtrace and pyarrow once, as a long-lived cluster would.
        tiny = scratch / "warmup.log"
        tiny.write_text("Mar  7 10:00:00 mx postfix/qmgr[1]: 4AB: removed\n")
        warm = [scratch / f"warm{i}" for i in range(workers * 2)]
        for w in warm:
            w.write_bytes(tiny.read_bytes())
        run(warm, scratch / f"warm-out-{workers}", year=2026, tz="UTC", engine="dask",
            scheduler=cluster.scheduler_address)  # fmt: skip
        startup = time.perf_counter() - t0
        cpu_before = sum(client.run(_cpu_seconds).values())
        t1 = time.perf_counter()
        summary = run(
            paths,
            scratch / f"out-{workers}",
            year=2026,
            tz="UTC",
            engine="dask",
            scheduler=cluster.scheduler_address,
        )
        wall = time.perf_counter() - t1
        cpu = sum(client.run(_cpu_seconds).values()) - cpu_before
    assert summary.counts.lines == lines, summary.counts
    millions = lines / 1e6
    return {
        "workers": workers,
        "startup_s": startup,
        "wall_s": wall,
        "lines_per_s": lines / wall,
        "core_s_per_m": wall * workers / millions,
        "cpu_s_per_m": cpu / millions,
        "events": summary.counts.events,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files", type=int, default=8, help="Files the log is cut into.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    args = parser.parse_args()
    if not args.generator.exists():
        print(f"generator not found: {args.generator} (give --generator PATH)")
        return 0
    with tempfile.TemporaryDirectory(prefix="mailtrace-bench-dask-") as tmp:
        scratch = Path(tmp)
        paths = generate(args.generator, args.lines, args.seed, scratch, args.files)
        size = sum(p.stat().st_size for p in paths)
        print(f"{args.lines:,} lines, {size / 1e6:.0f} MB in {len(paths)} file(s)")
        print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")
        header = (
            f"{'workers':>7} {'start-up s':>10} {'wall s':>7} {'lines/s':>10} "
            f"{'core-s/M lines':>14} {'CPU-s/M lines':>13} {'busy %':>6} {'speed-up':>8}"
        )
        print(header)
        base = None
        for workers in args.workers:
            r = measure(paths, workers, args.lines, scratch)
            base = base or r["wall_s"]
            print(
                f"{workers:>7} {r['startup_s']:>10.1f} {r['wall_s']:>7.1f} "
                f"{r['lines_per_s']:>10,.0f} {r['core_s_per_m']:>14.1f} "
                f"{r['cpu_s_per_m']:>13.1f} {100 * r['cpu_s_per_m'] / r['core_s_per_m']:>6.0f} "
                f"{base / r['wall_s']:>8.2f}"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
