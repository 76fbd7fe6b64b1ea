"""This tree against an earlier revision on one command, in alternating runs.

    python benchmarks/ab_report.py 8297dbd LOG                  # report LOG, 10 pairs
    python benchmarks/ab_report.py HEAD~2 LOG --pairs 20 --command "report --json"

The machine's speed drifts by half within minutes (one report of the 1M-line log took 1.15 s
and 1.87 s a few minutes apart), so a change of a few per cent shows only between runs that
alternate: base, this tree, this tree, base … (each first in every other pair). Each arm's
median wall time, CPU (user and system, from the kernel's accounting of the child), peak RSS
and minor page faults are printed, then the median of the pairs' ratios.

The base revision is checked out in a temporary git worktree. Its compiled modules are this
tree's when the C sources are the same; otherwise a wheel of the base is built (pip, no
dependencies) and its modules are taken from it. Both trees run from their sources through
PYTHONPATH, byte-compiled first (a stale .pyc would be compiled again at every start).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout


def _modules(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "mailtrace").rglob("*.so"))


def prepare_base(rev: str, work: Path) -> Path:
    """A worktree of ``rev`` in ``work`` with its compiled modules in place."""
    tree = work / "base"
    _git("worktree", "add", "--detach", str(tree), rev)
    same_c = (
        subprocess.run(
            ["git", "-C", str(ROOT), "diff", "--quiet", rev, "--", "*.c", "*.h", "setup.py"],
            check=False,
        ).returncode
        == 0
    )
    if same_c:
        for so in _modules(ROOT):
            shutil.copy2(so, tree / so.relative_to(ROOT))
        return tree
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(tree)],
        check=True,
    )
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.endswith(".so"):
                    z.extract(name, tree)
    return tree


def run_once(tree: Path, command: list[str]) -> tuple[float, float, float, int, int]:
    """(wall, user, system, peak RSS in KB, minor faults) of one run of ``command`` in ``tree``."""
    # As the console script runs it: through mailtrace.entry where the tree has it (a report's
    # parse begins there, before the CLI is imported), else cli.console (no cyclic GC, a quick
    # exit), else cli.main. (Asked of the tree's files: an import would find this checkout's
    # modules through its editable install.)
    if (tree / "mailtrace" / "entry.py").exists():
        start = "from mailtrace.entry import console; console()"
    else:
        start = "import mailtrace.cli as cli; getattr(cli, 'console', cli.main)()"
    code = f"import sys; sys.argv = {['mailtrace', *command]!r}; {start}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, cwd=str(tree)
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"{tree}: {' '.join(command)} failed")
    return wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, usage.ru_minflt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the revision to compare this tree with")
    ap.add_argument("log", type=Path, help="the log (or dataset) the command reads")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--command", default="report", help="mailtrace's arguments before LOG")
    args = ap.parse_args()
    command = [*shlex.split(args.command), str(args.log.resolve())]
    with tempfile.TemporaryDirectory() as tmp:
        base = prepare_base(args.base, Path(tmp))
        try:
            for tree in (base, ROOT):
                subprocess.run(
                    [sys.executable, "-m", "compileall", "-q", "mailtrace"], cwd=tree, check=True
                )
            runs: dict[str, list[tuple[float, float, float, int, int]]] = {"base": [], "this": []}
            for n in range(args.pairs):
                # Each tree goes first in every other pair: whatever the first run of a pair
                # pays or gains (a cooler cache, a spell's start) falls on both.
                for name in ("base", "this") if n % 2 == 0 else ("this", "base"):
                    runs[name].append(run_once(base if name == "base" else ROOT, command))
        finally:
            _git("worktree", "remove", "--force", str(base))
    print(f"mailtrace {' '.join(command)}: {args.pairs} alternating pairs, medians")
    print(f"{'tree':10} {'wall s':>8} {'user s':>8} {'sys s':>8} {'peak MB':>8} {'faults':>8}")
    for name, label in (("base", args.base), ("this", "this tree")):
        cols = list(zip(*runs[name], strict=True))
        wall, user, syst, rss, faults = (statistics.median(c) for c in cols)
        print(f"{label:10} {wall:8.3f} {user:8.3f} {syst:8.3f} {rss / 1024:8.0f} {faults:8.0f}")
    ratios = [b[0] / t[0] for b, t in zip(runs["base"], runs["this"], strict=True)]
    print(f"base / this, median of the pairs' wall-time ratios: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
