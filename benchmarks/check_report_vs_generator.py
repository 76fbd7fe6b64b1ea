"""Check the report and the delivery paths against the log generator's exact counts and truth.

Generates ``--lines`` lines with ../shared/bench/gen_postfix_log.py (seed 11, 30 % of inbound mail
through a content filter), then:

* every report total must equal the generator's exact figure (received = messages_received,
  delivered = deliveries: the summary's ``received``/``delivered`` are pflogsumm's, which count
  each content-filter pass twice);
* every recipient of every message the truth file marks complete must have, in DELIVERIES, the
  final status the generator gave it.

Usage: .venv/bin/python benchmarks/check_report_vs_generator.py [--lines 100000] [--seed 11]
Exit status 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_postfix_log.py"

# report total -> generator summary key
TOTALS = {
    "received": "messages_received",
    "delivered": "deliveries",
    "deferrals": "deferrals",
    "bounced": "bounced",
    "rejected": "rejected",
    "expired": "expired",
    "bounce_notices": "bounce_notices",
    "warnings": "warnings",
    "fatal": "fatal",
    "panic": "panic",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--filter-rate", type=float, default=0.3)
    ap.add_argument("--queue-lifetime", type=float, default=86400.0, help="passed on: expiry")
    a = ap.parse_args()

    from mailtrace.logs.reader import parse_file
    from mailtrace.paths import delivery_paths
    from mailtrace.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        log, truth_path = Path(tmp) / "mail.log", Path(tmp) / "truth.jsonl"
        gen = subprocess.run(
            [sys.executable, str(GENERATOR), "--lines", str(a.lines), "--seed", str(a.seed),
             "--filter-rate", str(a.filter_rate), "--queue-lifetime", str(a.queue_lifetime),
             "--truth", str(truth_path), "--summary",
             "-o", str(log)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        summary = json.loads(gen.stderr)
        truth = [json.loads(line) for line in truth_path.read_text().splitlines()]
        t0 = time.perf_counter()
        events = parse_file(log)
        t1 = time.perf_counter()
        rep = build_report(events)
        t2 = time.perf_counter()
        _, deliveries = delivery_paths(events)
    print(f"{a.lines:,} lines, seed {a.seed}: parse {t1 - t0:.2f} s, report {t2 - t1:.2f} s")

    failures = 0
    print(f"{'total':<16}{'report':>10}{'generator':>11}")
    for ours, theirs in TOTALS.items():
        got, want = rep.totals[ours], summary[theirs]
        mark = "ok" if got == want else "MISMATCH"
        failures += got != want
        print(f"{ours:<16}{got:>10}{want:>11}  {mark}  ({theirs})")
    print(f"(pflogsumm's figures for the same log: received {summary['received']}, "
          f"delivered {summary['delivered']})")  # fmt: skip

    final = deliveries[deliveries["final"]]
    last = {
        (q, r): s
        for q, r, s in zip(final["queue_id"], final["recipient"], final["status"], strict=True)
    }
    checked = wrong = 0
    examples = []
    for rec in truth:
        if not rec.get("complete") or not rec.get("recipients"):
            continue
        for r in rec["recipients"]:
            checked += 1
            got = last.get((rec["qid"], r["to"]))
            if got != r["status"]:
                wrong += 1
                if len(examples) < 5:
                    examples.append(f"  {rec['qid']} {r['to']}: truth {r['status']}, ours {got}")
    complete = sum(1 for rec in truth if rec.get("complete"))
    print(f"final per-recipient status: {checked - wrong}/{checked} recipients of "
          f"{complete} complete truth records match")  # fmt: skip
    print("\n".join(examples))
    failures += wrong
    print("ALL MATCH" if failures == 0 else f"{failures} MISMATCHES")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
