"""`mailtrace failures` and the failure report on the project's own sample logs.

The expected counts were made by reading the sample logs line by line (the comments name the
lines), not by running the code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from mailtrace.cli import app
from mailtrace.failures import classify_events
from mailtrace.failures_report import COLUMNS, build_failures
from mailtrace.logs.reader import read_logs
from mailtrace.paths import read_events
from mailtrace.schema import EVENTS, FAILURES
from tests.conftest import SAMPLE

LOGS = SAMPLE / "logs"
DAY = LOGS / "report_day.log"
POSTFIX = LOGS / "postfix.log"
PROVIDERS = LOGS / "failures.log"


def _report(*paths: Path, detail: int = 10) -> Any:
    return build_failures(read_events(list(paths), COLUMNS, year=2026, tz="UTC"), detail=detail)


def _by(rows: list[dict[str, Any]], key: str, *fields: str) -> dict[str, tuple[Any, ...]]:
    return {r[key]: tuple(r[f] for f in fields) for r in rows}


def test_report_day_counts_read_by_hand() -> None:
    rep = _report(DAY)
    t = rep.totals
    # Deferred: frank 09:00 (greylisted) and 10:00 (timed out), henry 12:00 and 18:00 (refused);
    # bounced: nobody@remote 11:00; expired: henry when qmgr returned the message next day.
    assert (t["attempts_deferred"], t["attempts_bounced"], t["attempts_expired"]) == (4, 1, 1)
    # frank was delivered at last, so only nobody (bounced) and henry (expired) end failed.
    assert (t["final"], t["final_deferred"], t["final_bounced"], t["final_expired"]) == (2, 0, 1, 1)
    # Five NOQUEUE/milter/cleanup rejects between 14:00 and 14:30; no warnings, no connects.
    assert (t["rejects"], t["reject_warnings"], t["connect_failures"], t["total"]) == (5, 0, 0, 11)
    fields = ("family", "class", "total", "attempts", "final", "rejects")
    assert _by(rep.categories, "category", *fields) == {
        "network_error": ("transport", "4", 3, 3, 0, 0),
        "blocklisted": ("sender", "5", 2, 0, 0, 2),
        "unknown_user": ("recipient", "5", 2, 1, 1, 1),
        "rate_limited": ("throttling", "4", 1, 1, 0, 0),
        "spam_content": ("message", "5", 1, 0, 0, 1),
        "content_rejected": ("message", "5", 1, 0, 0, 1),
        "expired": ("terminal", "4", 1, 1, 1, 0),
    }
    assert [c["category"] for c in rep.categories][:1] == ["network_error"]  # most first
    assert _by(rep.families, "family", "total") == {
        "transport": (3,),
        "sender": (2,),
        "recipient": (2,),
        "message": (2,),
        "throttling": (1,),
        "terminal": (1,),
    }
    assert _by(rep.domains, "domain", "total", "attempts", "rejects", "top_category") == {
        "example.com": (5, 0, 5, "blocklisted"),
        "dead.example.com": (3, 3, 0, "network_error"),
        "slow.example.net": (2, 2, 0, "network_error"),
        "remote.example.org": (1, 1, 0, "unknown_user"),
    }
    assert rep.providers == []


def test_period_of_a_day_and_a_half_is_counted_per_hour() -> None:
    rep = _report(DAY)
    assert rep.period["bucket"] == "hour"
    assert rep.period["first"].startswith("2026-03-10T08:00:01")
    busy = {r["bucket"]: r["total"] for r in rep.timeline if r["total"]}
    assert busy == {
        "2026-03-10 09:00": 1,
        "2026-03-10 10:00": 1,
        "2026-03-10 11:00": 1,
        "2026-03-10 12:00": 1,
        "2026-03-10 14:00": 5,
        "2026-03-10 18:00": 1,
        "2026-03-11 12:00": 1,
    }
    # Every hour of the period is there, quiet ones with zeros: 08:00 on day one to 12:00 next.
    assert len(rep.timeline) == 29


def test_postfix_log_rejects_warnings_and_connect_failures() -> None:
    rep = _report(POSTFIX)
    t = rep.totals
    # Rejects: lines 37, 52, 54, 55, 59, 62, 71, 73, 77, 151; warning: line 60;
    # connect failures: line 31 (refused) and line 130 (refused to talk: 421).
    assert (t["rejects"], t["reject_warnings"], t["connect_failures"]) == (10, 1, 2)
    # Attempts: bounced 14 and 105; deferred 30, 32, 114, 133 (erin is delivered later).
    assert (t["attempts"], t["final"], t["total"]) == (6, 4, 18)
    fields = ("total", "attempts", "rejects", "reject_warnings", "connect_failures")
    cats = _by(rep.categories, "category", *fields)
    assert cats["network_error"] == (4, 3, 0, 0, 1)
    assert cats["rate_limited"] == (3, 1, 2, 0, 0)  # greylisted, too many connections, milter
    assert cats["unknown_user"] == (3, 1, 2, 0, 0)
    assert cats["remote_system_error"] == (1, 0, 0, 0, 1)
    # A warning is counted apart: its category is listed but adds nothing to the total.
    assert cats["sender_rejected"] == (0, 0, 0, 1, 0)
    domains = _by(rep.domains, "domain", "total", "reject_warnings")
    assert domains["example.com"] == (9, 1)
    assert domains["(no recipient)"] == (3, 0)  # the CONNECT reject and both connect failures
    assert sum(d[0] for d in domains.values()) == t["total"]
    assert _by(rep.domains, "domain", "total") == _by(
        _report(POSTFIX, detail=20).domains, "domain", "total"
    )
    assert len(_report(POSTFIX, detail=2).domains) == 2


def test_providers_with_their_own_codes() -> None:
    rep = _report(PROVIDERS)
    fields = ("total", "attempts", "final", "top_category", "codes")
    assert _by(rep.providers, "provider", *fields) == {
        "yahoo": (2, 2, 0, "bad_reputation", [{"code": "TSS04", "count": 2}]),
        "gmail": (1, 1, 1, "unknown_user", [{"code": "5.1.1", "count": 1}]),
        "microsoft": (1, 1, 1, "blocklisted", [{"code": "S3150", "count": 1}]),
    }
    # The same yahoo deferral twice, then delivered: attempts count it, final does not.
    assert _by(rep.categories, "category", "class", "attempts", "final")["bad_reputation"] == (
        "4",
        2,
        0,
    )


def test_examples_are_blanked_replies_per_category() -> None:
    rep = _report(POSTFIX)
    unknown = [e for e in rep.examples if e["category"] == "unknown_user"]
    reasons = {e["reason"]: e["count"] for e in unknown}
    # Two rejects differing only by the address are one example, counted twice.
    assert reasons["<…>: Recipient address rejected: User unknown in virtual mailbox table"] == 2
    assert all(len([e for e in rep.examples if e["category"] == c]) <= 3 for c in reasons)


def test_empty_events_give_zeros_and_no_period() -> None:
    rep = build_failures(EVENTS.empty_table())
    assert set(rep.totals.values()) == {0}
    assert rep.period == {"first": None, "last": None, "bucket": "day"}
    assert rep.categories == rep.timeline == rep.examples == []


def test_a_long_period_is_counted_per_day() -> None:
    day = 86_400_000_000
    ev = pa.Table.from_pylist(
        [
            {"ts": 0, "kind": "reject", "recipient": "a@example.com", "reply_code": 550,
             "dsn": "5.1.1", "reply_text": "User unknown"},
            {"ts": 3 * day + 5, "kind": "reject", "recipient": "b@example.com",
             "reply_code": 450, "reply_text": "Greylisted, try again later"},
        ],
        EVENTS,
    )  # fmt: skip
    rep = build_failures(ev)
    assert rep.period["bucket"] == "day"
    assert [(r["bucket"], r["rejects"]) for r in rep.timeline] == [
        ("1970-01-01", 1),
        ("1970-01-02", 0),
        ("1970-01-03", 0),
        ("1970-01-04", 1),
    ]


def test_classify_events_judges_only_verdict_kinds() -> None:
    ev = classify_events(read_events([POSTFIX], year=2026, tz="UTC"))
    assert ev.column_names[-5:] == [f.name for f in FAILURES]
    rows = ev.select(["kind", "status", "category"]).to_pylist()
    assert {r["category"] for r in rows if r["kind"] in ("connect", "client", "removed")} == {None}
    assert {r["category"] for r in rows if r["status"] == "sent"} == {"delivered"}
    assert {r["category"] for r in rows if r["kind"] == "expired"} == {"expired"}
    warned = [r["category"] for r in rows if r["kind"] == "reject_warning"]
    assert warned == ["sender_rejected"]
    # Classifying twice replaces the columns instead of adding a second set.
    assert classify_events(ev).num_columns == ev.num_columns


def test_classify_events_does_not_reclassify_what_the_status_says() -> None:
    # 20,000 deliveries to as many servers: their status already says delivered, so the
    # classifier never sees them (each distinct host would otherwise be a reply to classify).
    n = 20_000
    ev = pa.table(
        {
            "kind": ["delivery"] * n,
            "status": ["sent"] * n,
            "reply_code": pa.array([250] * n, pa.int16()),
            "reply_text": [f"250 2.0.0 Ok: queued as Q{i:05d}" for i in range(n)],
            "relay_host": [f"mx{i}.example.net" for i in range(n)],
        }
    )
    start = time.perf_counter()
    out = classify_events(ev)
    assert time.perf_counter() - start < 3
    assert set(out.column("category").to_pylist()) == {"delivered"}
    assert set(out.column("nature").to_pylist()) == {None}


def test_read_logs_classify_adds_the_failure_columns() -> None:
    plain = read_logs(DAY)
    classified = read_logs(DAY, classify=True)
    assert "category" not in plain.columns
    assert list(classified.columns) == [*plain.columns, *(f.name for f in FAILURES)]
    bounced = classified[classified["status"] == "bounced"]
    assert bounced["category"].tolist() == ["unknown_user"]
    assert bounced["nature"].tolist() == ["P"]


def test_cli_text_names_the_counts() -> None:
    result = CliRunner().invoke(app, ["failures", str(DAY), "--detail", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in (
        "failed attempts (every try)",
        "failed recipients (final)",
        "By category",
        "By family",
        "By recipient domain (top 2)",
        "Per hour",
        "Example replies per category",
    ):
        assert heading in out
    assert "network_error" in out and "dead.example.com" in out
    assert "remote.example.org" not in out  # past the top 2 domains
    assert "2026-03-10 08:00:01 → 2026-03-11 12:00:30 UTC" in out


def test_cli_json_and_a_dataset_give_the_same_report(tmp_path: Path) -> None:
    runner = CliRunner()
    from_log = runner.invoke(app, ["failures", str(POSTFIX), "--json", "--year", "2026"])
    assert from_log.exit_code == 0, from_log.output
    data = json.loads(from_log.output)
    assert data["totals"]["total"] == 18 and data["detail"] == 10
    assert {"period", "categories", "families", "domains", "providers", "timeline"} <= set(data)
    out = tmp_path / "ds"
    written = runner.invoke(app, ["logs", str(POSTFIX), "-o", str(out), "--year", "2026"])
    assert written.exit_code == 0, written.output
    from_dataset = runner.invoke(app, ["failures", str(out), "--json"])
    assert from_dataset.exit_code == 0, from_dataset.output
    assert json.loads(from_dataset.output) == data


def test_hostile_reply_text_is_shown_as_written(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(
        "2026-03-10T08:00:00+00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.1]: 554 5.7.1 [red]pwned[/red] [link=http://x.example]go[/link]; "
        "from=<a@example.org> to=<b@[bold]example.com> proto=ESMTP helo=<x>\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["failures", str(log)])
    assert result.exit_code == 0, result.output
    assert "[red]pwned[/red]" in result.output
    assert "[link=http://x.example]go[/link]" in result.output
    assert "[bold]example.com" in result.output


def test_missing_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "mailtrace", "failures", str(tmp_path / "nope.log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1
    assert r.stderr.strip().startswith("mailtrace:") and "nope.log" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_empty_log_prints_zeros(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["failures", str(log), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"]["total"] == 0
    text = CliRunner().invoke(app, ["failures", str(log)])
    assert text.exit_code == 0 and "no events" in text.output


def test_a_megabyte_reply_is_counted_quickly_and_shown_short() -> None:
    hostile = "550 5.7.1 " + "<a@" * 100_000 + "1." * 200_000 + "[red]" * 50_000
    ev = pa.Table.from_pylist(
        [{"ts": 0, "kind": "reject", "recipient": "x@example.com", "reply_text": hostile}], EVENTS
    )
    start = time.perf_counter()
    rep = build_failures(ev)
    assert time.perf_counter() - start < 10
    assert rep.totals["rejects"] == 1
    assert len(rep.examples[0]["reason"]) <= 300
