"""Where the time of one ``mailtrace report LOG`` goes: start-up, parse, and each step after.

    python benchmarks/report_steps.py LOG                 # one run, printed as a timeline
    python benchmarks/report_steps.py LOG --runs 3        # three runs, in fresh processes

The command runs as the console script runs it, in a fresh process, with its modules imported
as late as it imports them (so the imports beside the parse stay beside it). Each step of the
delivery paths and of the report is timed as it returns: when it ended (seconds since the
process started), its wall time, and the CPU time of the thread that ran it. A step whose
thread CPU is well below its wall time was waiting: for another thread, for the GIL, or for a
core. The process's CPU and page faults so far end each line.

bench_report.py is the yardstick (mailtrace against pflogsumm); this script says where a
change to the report's speed has to be made. Steps are looked up by name and skipped when a
name is gone, so the script outlives the code it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: Module -> names of the functions (or classes, timed in __init__, or ``Class.method``) to time.
STEPS = {
    "mailtrace.paths": [
        "read_events_counted",
        "read_events_apart",
        "_View",
        "_queue_files",
        "_deliveries",
        "_link",
        "_messages",
        "classify_columns",
        "rebuild",
    ],
    "mailtrace.report": [
        "_Kinds.of",
        "_event_sections",
        "_Data",
        "_Sent.of",
        "_senders",
        "_delivery_problems",
        "_traffic",
        "_domains",
        "_totals",
        "build_report",
    ],
    "mailtrace.render": ["report"],
}

# Run in the child process (argv: the steps as JSON, the log): installs the timers as the
# modules are imported, then runs the CLI.
_CHILD = r"""
import functools, importlib.abc, importlib.machinery, json, os, sys, threading, time
T0 = time.perf_counter()
STEPS = json.loads(sys.argv[1])
LOG = sys.argv[2]
LINES = []
HEAD = ("end s", "thread", "step", "wall ms", "thread CPU ms", "process CPU s", "sys s", "faults")

def faults():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])

def note(step, wall, cpu):
    t = os.times()
    LINES.append((time.perf_counter() - T0, threading.current_thread().name[:12], step[:28],
                  wall * 1e3, cpu * 1e3, t.user + t.system, t.system, faults()))

def timed(name, func):
    @functools.wraps(func)
    def run(*args, **kwargs):
        w, c = time.perf_counter(), time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            note(name, time.perf_counter() - w, time.thread_time() - c)
    return run

def wrap(module):
    for name in STEPS.get(module.__name__, []):
        owner, _, attr = name.rpartition(".")
        holder = getattr(module, owner, None) if owner else module
        target = getattr(holder, attr, None) if holder is not None else None
        if target is None:
            continue
        if isinstance(target, type):
            target.__init__ = timed(name, target.__init__)
        elif owner and isinstance(holder.__dict__.get(attr), classmethod):
            setattr(holder, attr, classmethod(timed(name, target.__func__)))
        else:
            setattr(holder, attr, timed(name, target))

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in STEPS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module
        def exec_module(module, load=load):
            note("import " + fullname, 0.0, 0.0)
            load(module)
            wrap(module)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Finder())
leave = os._exit

def report_and_leave(code):
    note("exit", 0.0, 0.0)
    shape = "%7s %-12s %-28s %8s %13s %13s %6s %7s"
    rows = [shape % HEAD]
    for line in LINES:
        rows.append("%7.3f %-12s %-28s %8.1f %13.1f %13.2f %6.2f %7d" % line)
    sys.stderr.write("\n".join(rows) + "\n")
    sys.stderr.flush()
    leave(code)

os._exit = report_and_leave
sys.argv = ["mailtrace", "report", LOG]
from mailtrace.cli import console
console()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", type=Path, help="a mail log (or a `mailtrace logs -o` dataset)")
    ap.add_argument("--runs", type=int, default=1, help="runs, each in a fresh process")
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    # As installed: byte-compiled, or every start compiles mailtrace from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "mailtrace")], check=True)
    argv = [sys.executable, "-c", _CHILD, json.dumps(STEPS), str(args.log)]
    for run in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
        lines = done.stderr.decode(errors="replace").splitlines()
        print(f"run {run + 1}: {seconds:.2f} s end to end (exit {done.returncode})")
        # The report's own warnings (unparsed lines and the like) are left out.
        print("\n".join(ln for ln in lines if not ln.startswith("mailtrace:")))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
