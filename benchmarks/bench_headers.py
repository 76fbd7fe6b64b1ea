"""Messages per second of mailtrace's header analysis against the standard library and a peer.

Generates a directory of a few thousand messages (variations of sample_data/messages/) in a
temporary directory, then times, over the same files:

- mailtrace: read every message's headers, parse every Received chain, authentication results
  and vendor headers, build the summary, and build the HOPS and AUTH Arrow tables;
- the floor: Python's ``email`` parser alone (``BytesParser`` with ``compat32``, and the
  headers-only ``BytesHeaderParser``), which parses but analyses nothing;
- the ``mail-parser`` package (a peer), when it is installed.

Usage: ``python benchmarks/bench_headers.py [--messages N]``
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mailtrace.headers.analysis import analyze, reports_auth_table, reports_hops_table
from mailtrace.headers.message import parse_bytes, read_headers

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data" / "messages"


def _templates() -> list[bytes]:
    """Each sample message as the bytes of one .eml (mbox messages cut out of their mailbox)."""
    out: list[bytes] = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data.startswith(b"From "):
            parts = data.split(b"\n\nFrom ")
            out.extend(p.split(b"\n", 1)[1] for p in parts)
        else:
            out.append(data)
    return out


def generate(directory: Path, count: int) -> list[Path]:
    """``count`` messages written to ``directory``: the samples with unique ids and subjects."""
    templates = _templates()
    paths: list[Path] = []
    for i in range(count):
        data = templates[i % len(templates)]
        data = data.replace(b"Message-ID: <", b"Message-ID: <v%d." % i, 1)
        data = data.replace(b"Subject: ", b"Subject: [%d] " % i, 1)
        path = directory / f"m{i:05d}.eml"
        path.write_bytes(data)
        paths.append(path)
    return paths


def run_mailtrace(paths: list[Path]) -> int:
    reports = [analyze(m) for m in read_headers(paths)]
    reports_hops_table(reports)
    reports_auth_table(reports)
    return len(reports)


def run_email_full(paths: list[Path]) -> int:
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    n = 0
    for p in paths:
        with p.open("rb") as f:
            parser.parse(f)
        n += 1
    return n


def run_email_headers(paths: list[Path]) -> int:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    n = 0
    for p in paths:
        with p.open("rb") as f:
            parser.parse(f)
        n += 1
    return n


def run_mailparser(paths: list[Path]) -> int:
    import mailparser

    n = 0
    for p in paths:
        m = mailparser.parse_from_file(str(p))
        _ = m.received  # its Received analysis, the part comparable to ours
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=3000)
    args = ap.parse_args()
    contenders: list[tuple[str, Callable[[list[Path]], int]]] = [
        ("mailtrace headers (full analysis + tables)", run_mailtrace),
        ("email.BytesParser compat32 (parse only)", run_email_full),
        ("email.BytesHeaderParser compat32 (parse only)", run_email_headers),
    ]
    try:
        import mailparser  # noqa: F401

        contenders.append(("mail-parser (parse + received)", run_mailparser))
        # It logs a warning for every part type it does not handle (text/rfc822-headers …).
        logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    except ImportError:
        print("mail-parser not installed: pip install mail-parser to compare with it")
    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(Path(tmp), args.messages)
        hops = sum(len(parse_bytes(p.read_bytes(), p.name)) for p in paths)  # warms the cache
        print(f"{len(paths)} messages ({hops} parsed) in {tmp}")
        # CPU time as well as wall time: on a shared machine the wall clock mostly measures
        # the neighbours.
        print(f"{'':48s} {'messages/s (CPU)':>18s} {'messages/s (wall)':>18s}")
        for name, fn in contenders:
            wall, cpu = time.perf_counter(), time.process_time()
            n = fn(paths)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{name:48s} {n / cpu:18,.0f} {n / wall:18,.0f}")


if __name__ == "__main__":
    main()
