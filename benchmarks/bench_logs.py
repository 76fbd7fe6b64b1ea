"""mailtrace logs against pflogsumm on the same generated Postfix log, side by side.

    python benchmarks/bench_logs.py                       # 1,000,000 lines, --seed 1
    python benchmarks/bench_logs.py --lines 200000        # a quicker look
    python benchmarks/bench_logs.py --big                 # and a 10,000,000-line gzip log
    python benchmarks/bench_logs.py --framings            # and as RFC 5424 and journald JSON

The log comes from the shared generator (``--generator``, default ``../shared/bench/
gen_postfix_log.py`` beside the repository); without it the benchmark says so and exits 0. Both
tools run as subprocesses, end to end: ``mailtrace logs FILE -o OUT`` writes the Parquet dataset,
``pflogsumm FILE`` its report. For each the wall time, lines per second and peak memory are
printed: the peak is the largest sum of resident memory over the process and all its descendants
(worker processes included), sampled every 50 ms from /proc. The target is at least 10x
pflogsumm's speed with a peak under 1 GB.

Each tool runs ``--repeat`` times (default 3), in turn (mailtrace, pflogsumm, mailtrace, …), and
the run of median wall time of each is reported, with every time on the line above the table:
a shared virtual machine's speed swings by a third within minutes, and a single pair of runs can
land on either side of a swing.

``--framings`` also writes the same lines in RFC 5424 framing and as ``journalctl -o json``
records (once, into the work directory) and times ``mailtrace logs -o`` on each; pflogsumm reads
neither.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GENERATOR = ROOT.parent / "shared" / "bench" / "gen_postfix_log.py"
PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"


@dataclass
class Run:
    name: str
    seconds: float
    peak_rss: int  # bytes
    returncode: int
    cpu: float  # user + system seconds of the whole process tree
    steal: float = 0.0  # share of the machine's core time the hypervisor took meanwhile (0-1)


_TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _machine_ticks() -> tuple[int, int]:
    """(steal, all) clock ticks of the machine's cores so far, from /proc/stat ((0, 0) where it
    has no steal column): the time the hypervisor ran other guests on our cores, out of all."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    return (fields[7], sum(fields[:8])) if len(fields) >= 8 else (0, 0)


def _children_of(pid: int) -> list[int] | None:
    """The child processes of ``pid`` from /proc/PID/task/*/children (None where the kernel
    does not provide that file): a few reads, where listing all of /proc cost 1.3 ms."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                children.extend(int(c) for c in f.read().split())
        except FileNotFoundError:
            return None
        except OSError:
            continue
    return children


def _tree(root: int) -> list[int]:
    """``root`` and its descendants. Sampled every 50 ms while a tool runs, so it must cost
    little: a scan of all of /proc took 3% of a core, taken from a tool that uses both cores
    (pflogsumm, on one core, was not slowed by it)."""
    found, stack = [], [root]
    tree: dict[int, list[int]] | None = None
    while stack:
        pid = stack.pop()
        found.append(pid)
        children = _children_of(pid) if tree is None else None
        if children is None:  # no children files here: scan /proc once
            tree = tree if tree is not None else _children()
            children = tree.get(pid, [])
        stack.extend(children)
    return found


def measure(name: str, argv: list[str], stdout: int | None = subprocess.DEVNULL) -> Run:
    """Run ``argv``; wall time, peak RSS summed over its process tree and the tree's CPU time.

    The machine may be shared: CPU seconds (sampled every 50 ms per process, so slightly low)
    compare two tools more fairly than wall time when other work competes for the cores. The
    steal share says how much it was shared: on this repository's test machine a slow spell is
    the hypervisor giving a core to other guests (29% of the cores' time during a 2.51 s report,
    3% during pflogsumm's run beside it, 3-9% during 1.78-2.00 s reports a minute later), which
    slows a tool that uses both cores more than one that uses one.
    """
    steal0, all0 = _machine_ticks()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    peak = 0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            pids = _tree(proc.pid)
            peak = max(peak, sum(_rss(pid) for pid in pids))
            for pid in pids:
                cpu[pid] = max(cpu.get(pid, 0.0), _cpu(pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    steal1, all1 = _machine_ticks()
    done.set()
    sampler.join()
    if proc.returncode not in (0, 3):
        sys.stderr.write(stderr.decode(errors="replace"))
    steal = (steal1 - steal0) / (all1 - all0) if all1 > all0 else 0.0
    return Run(name, seconds, peak, proc.returncode, sum(cpu.values()), steal)


@dataclass
class Command:
    """A command to time; ``clear``: an output directory removed before each run."""

    name: str
    argv: list[str]
    clear: Path | None = None


def median_runs(commands: list[Command], repeat: int) -> list[Run]:
    """Each command run ``repeat`` times, in turn, so that all meet the same spells of a shared
    machine; the run of median wall time of each (every time is printed)."""
    times: dict[str, list[Run]] = {c.name: [] for c in commands}
    for _ in range(max(repeat, 1)):
        for c in commands:
            if c.clear is not None:
                shutil.rmtree(c.clear, ignore_errors=True)
            times[c.name].append(measure(c.name, c.argv))
    chosen = []
    for c in commands:
        runs = times[c.name]
        chosen.append(sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2])
        if len(runs) > 1:
            print(
                f"{c.name}: "
                + ", ".join(f"{r.seconds:.2f}" for r in runs)
                + " s (steal "
                + ", ".join(f"{r.steal:.0%}" for r in runs)
                + ")"
            )
    return chosen


def compiled_parser() -> str:
    """Whether the C fast path (mailtrace.logs._fastlog) is built: without it, the pure-Python
    parser gives the same tables about ten times slower."""
    from mailtrace.logs import fast

    return "built" if fast.available() else "NOT built (pure Python; pip install -e . builds it)"


def byte_compile() -> None:
    """Byte-compile mailtrace as an installed package is (pip compiles at install time).

    An editable checkout run with PYTHONDONTWRITEBYTECODE (as on this machine) would otherwise
    compile every module from source at each start: 0.13 s of every command's wall time.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mailtrace")], check=True)


def prepare(generator: Path, work: Path, lines: int, seed: int) -> tuple[Path, int]:
    """The generated log in ``work`` (made once) and its line count; mailtrace byte-compiled."""
    log = work / f"mail-{lines}-{seed}.log"
    if not log.exists():
        generate(generator, log, lines, seed)
    byte_compile()
    return log, count_lines(log)


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
    return n


def report(lines: int, runs: list[Run]) -> None:
    head = f"{'tool':<28}{'wall s':>8}{'lines/s':>11}{'CPU s':>8}{'lines/CPU-s':>13}{'peak MB':>9}"
    print(head + f"{'steal':>7}{'exit':>6}")
    for r in runs:
        rate = lines / r.seconds if r.seconds else 0.0
        per_cpu = lines / r.cpu if r.cpu else 0.0
        print(
            f"{r.name:<28}{r.seconds:>8.2f}{rate:>11,.0f}{r.cpu:>8.1f}{per_cpu:>13,.0f}"
            f"{r.peak_rss / 2**20:>9.0f}{r.steal:>7.0%}{r.returncode:>6}"
        )


def generate(generator: Path, out: Path, lines: int, seed: int) -> None:
    print(f"generating {lines:,} lines into {out} …", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(generator),
            "--lines",
            str(lines),
            "--seed",
            str(seed),
            "-o",
            str(out),
        ],
        check=True,
    )


_RFC3164 = re.compile(r"(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\S+) ([^\[: ]+)\[(\d+)\]: (.*)")
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
}


def reframe(log: Path, framing: str, year: int) -> tuple[Path, int]:
    """``log``'s RFC 3164 lines written in ``framing`` ("rfc5424" or "journal-json") with
    ``year``, once; the file and its line count (lines of another shape are left out)."""
    out = log.with_name(f"{log.stem}.{framing}")
    if not out.exists():
        print(f"writing {out} …", flush=True)
        with log.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
            for line in src:
                m = _RFC3164.fullmatch(line.rstrip("\n"))
                if m is None:
                    continue
                mon, day, hh, mm, ss, host, program, pid, message = m.groups()
                stamp = datetime(
                    year, _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=UTC
                )
                if framing == "rfc5424":
                    iso = stamp.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
                    dst.write(f"<22>1 {iso} {host} {program} {pid} - - {message}\n")
                else:
                    record = {
                        "__REALTIME_TIMESTAMP": str(int(stamp.timestamp()) * 1_000_000),
                        "_BOOT_ID": "0123456789abcdef0123456789abcdef",
                        "PRIORITY": "6",
                        "SYSLOG_FACILITY": "2",
                        "_TRANSPORT": "syslog",
                        "_HOSTNAME": host,
                        "SYSLOG_IDENTIFIER": program,
                        "_PID": pid,
                        "_COMM": program.rsplit("/", 1)[-1],
                        "MESSAGE": message,
                    }
                    dst.write(json.dumps(record, separators=(",", ":")) + "\n")
    return out, count_lines(out)


def mailtrace_argv(log: Path, out: Path, jobs: int | None) -> list[str]:
    argv = [sys.executable, "-m", "mailtrace", "logs", str(log), "-o", str(out), "--year", "2024"]
    argv += ["--tz", "UTC"]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    return argv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None, help="mailtrace --jobs (default: all cores)")
    ap.add_argument("--big", action="store_true", help="also convert a gzip log of --big-lines")
    ap.add_argument("--big-lines", type=int, default=10_000_000)
    ap.add_argument("--no-pflogsumm", action="store_true", help="time mailtrace alone")
    ap.add_argument(
        "--framings", action="store_true", help="also the log as RFC 5424 and journald JSON"
    )
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: temp)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, in turn (median)")
    args = ap.parse_args()
    if not args.generator.exists():
        print(f"bench_logs: generator not found at {args.generator}; skipping (use --generator)")
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mailtrace-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        log, lines = prepare(args.generator, work, args.lines, args.seed)
        out = work / "out"
        commands = [
            Command("mailtrace logs -o (Parquet)", mailtrace_argv(log, out, args.jobs), out)
        ]
        have_pflogsumm = Path(PFLOGSUMM).exists() and not args.no_pflogsumm
        if have_pflogsumm:
            commands.append(Command("pflogsumm", [PFLOGSUMM, str(log)]))
        runs = median_runs(commands, args.repeat)
        print(f"\n{lines:,} lines, {log.stat().st_size / 2**20:,.0f} MiB, {os.cpu_count()} cores")
        print(f"compiled log parser: {compiled_parser()}")
        report(lines, runs)
        if have_pflogsumm:
            wall = runs[1].seconds / runs[0].seconds
            cpu = runs[1].cpu / runs[0].cpu if runs[0].cpu else 0.0
            print(f"mailtrace is {wall:.1f}x pflogsumm's speed ({cpu:.1f}x per CPU second)")
        if args.framings:
            for framing in ("rfc5424", "journal-json"):
                framed, framed_lines = reframe(log, framing, 2024)
                framed_out = work / f"out-{framing}"
                shutil.rmtree(framed_out, ignore_errors=True)
                run = measure(
                    f"mailtrace logs -o ({framing})", mailtrace_argv(framed, framed_out, args.jobs)
                )
                print(f"\n{framed_lines:,} lines, {framed.stat().st_size / 2**20:,.0f} MiB")
                report(framed_lines, [run])
        if args.big:
            big = work / f"mail-{args.big_lines}-{args.seed}.log.gz"
            if not big.exists():
                generate(args.generator, big, args.big_lines, args.seed)
            big_out = work / "out-big"
            shutil.rmtree(big_out, ignore_errors=True)
            run = measure("mailtrace logs (gzip)", mailtrace_argv(big, big_out, args.jobs))
            print()
            report(args.big_lines, [run])
            print("bounded memory: peak RSS under 1 GB" if run.peak_rss < 2**30 else "peak ≥ 1 GB!")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
