"""mailtrace report against pflogsumm on the same generated Postfix log, side by side.

    python benchmarks/bench_report.py                     # 1,000,000 lines, --seed 1
    python benchmarks/bench_report.py --lines 200000      # a quicker look

Three runs, each a subprocess timed end to end with the peak resident memory of its whole
process tree (see bench_logs.py, whose measuring helpers this reuses):

- ``mailtrace report LOG`` — parse the log (both cores on one big file) and report;
- ``mailtrace report DATASET`` — the report alone, from the Parquet dataset ``mailtrace logs -o``
  wrote (only the columns the report needs are read);
- ``pflogsumm LOG``.

The target is at least 10x pflogsumm's speed end to end, with a peak under 1 GB. Each runs
``--repeat`` times (default 3), in turn, and the run of median wall time is reported (see
bench_logs.py). Without the shared generator (``--generator``) the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_logs import (  # the sibling script, found through the line above
    DEFAULT_GENERATOR,
    PFLOGSUMM,
    Command,
    compiled_parser,
    median_runs,
    prepare,
    report,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: temp)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, in turn (median)")
    args = ap.parse_args()
    if not args.generator.exists():
        print(f"bench_report: generator not found at {args.generator}; skipping (use --generator)")
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mailtrace-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    mailtrace = [sys.executable, "-m", "mailtrace"]
    try:
        log, lines = prepare(args.generator, work, args.lines, args.seed)
        dataset = work / "dataset"
        commands = [
            Command("mailtrace report LOG", [*mailtrace, "report", str(log)]),
            Command(
                "mailtrace logs -o", [*mailtrace, "logs", str(log), "-o", str(dataset)], dataset
            ),
            Command("mailtrace report DATASET", [*mailtrace, "report", str(dataset)]),
        ]
        have_pflogsumm = Path(PFLOGSUMM).exists()
        if have_pflogsumm:
            commands.append(Command("pflogsumm", [PFLOGSUMM, str(log)]))
        measured = median_runs(commands, args.repeat)
        convert = measured.pop(1)
        runs = measured
        print(f"\n{lines:,} lines, {log.stat().st_size / 2**20:,.0f} MiB, {os.cpu_count()} cores")
        print(f"compiled log parser: {compiled_parser()}")
        report(lines, [*runs, convert])
        if have_pflogsumm:
            base = runs[-1].seconds
            print(f"mailtrace report LOG is {base / runs[0].seconds:.1f}x pflogsumm's speed")
            print(f"mailtrace report DATASET is {base / runs[1].seconds:.1f}x pflogsumm's speed")
        peak = max(r.peak_rss for r in runs[:2])
        print("peak RSS under 1 GB" if peak < 2**30 else f"peak RSS {peak / 2**30:.2f} GB ≥ 1 GB")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
