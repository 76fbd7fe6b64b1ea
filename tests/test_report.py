"""The report: counts that add up, checked against counts made by hand for sample_data logs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailtrace.cli import app
from mailtrace.paths import normalize_reasons, read_events
from mailtrace.report import Report, build_report, group_delays, grouped_reasons
from mailtrace.schema import EVENTS
from tests.conftest import SAMPLE

LOGS = SAMPLE / "logs"
GOLDEN = Path(__file__).parent / "golden" / "logs"
DAY = LOGS / "report_day.log"
EXPECTED = json.loads((GOLDEN / "report_day.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def day() -> Report:
    return build_report(read_events([DAY]))


def test_totals_equal_the_hand_count(day: Report) -> None:
    got = {k: day.totals[k] for k in EXPECTED["totals"]}
    assert got == EXPECTED["totals"]


def test_content_filter_pass_is_not_received_twice() -> None:
    # The log has ten client= lines; one is the filter's re-injection of a message already in.
    text = DAY.read_text(encoding="utf-8")
    assert text.count(": client=") + text.count(": uid=") == EXPECTED["totals"]["received"] + 1


def test_per_day_and_per_hour(day: Report) -> None:
    per_day = {d.pop("date"): d for d in json.loads(json.dumps(day.per_day))}
    assert per_day == EXPECTED["per_day"]
    assert len(day.per_hour) == 24
    assert sum(h["delivered"] for h in day.per_hour) == EXPECTED["totals"]["delivered"]
    assert day.per_hour[8]["received"] == 2 and day.per_hour[14]["rejected"] == 5


def test_recipient_domains_with_delays(day: Report) -> None:
    domains = {d["domain"]: d for d in day.recipient_domains}
    assert domains["example.com"]["delivered"] == 7
    slow = domains["slow.example.net"]
    assert (slow["delivered"], slow["deferrals"], slow["max_delay"]) == (1, 2, 79200.0)
    assert domains["dead.example.com"]["deferrals"] == 2
    assert domains["remote.example.org"]["bounced"] == 1


def test_senders_clients_and_sessions(day: Report) -> None:
    assert day.smtpd["connections"] == EXPECTED["smtpd_connections"]
    clients = {c["client"]: c["received"] for c in day.clients}
    assert clients["client.example.com[203.0.113.50]"] == 3
    assert clients["(local)"] == 1
    assert "localhost[127.0.0.1]" not in clients
    senders = {s["domain"]: s["received"] for s in day.sender_domains}
    assert senders["example.com"] == 3 and senders["bulk.example.org"] == 2


def test_problems_grouped_by_category_and_whole_reason(day: Report) -> None:
    rejects = day.problems["rejects"]
    assert sum(r["count"] for r in rejects) == EXPECTED["totals"]["rejected"]
    cats = {r["category"] for r in rejects}
    assert {"blocklisted", "unknown_user"} <= cats
    (bounce,) = day.problems["bounces"]
    # The reason keeps everything after the first colon; only the address is blanked.
    assert bounce["reason"] == (
        "<…>: Recipient address rejected: User unknown in local recipient table"
    )
    (expired,) = day.problems["expired"]
    assert expired["category"] == "expired"
    assert sum(r["count"] for r in day.problems["deferrals"]) == 4
    assert day.problems["warnings"][0]["count"] == 1


def test_detail_caps_every_list() -> None:
    rep = build_report(read_events([DAY]), detail=1)
    assert len(rep.top_senders) == 1 and len(rep.recipient_domains) == 1
    for rows in rep.problems.values():
        per_category: dict[str, int] = {}
        for r in rows:
            per_category[r["category"]] = per_category.get(r["category"], 0) + 1
        assert all(n == 1 for n in per_category.values())


def test_two_hosts_count_the_relayed_message_once() -> None:
    rep = build_report(read_events([LOGS / "hostA.log", LOGS / "hostB.log"]))
    t = rep.totals
    assert (t["received"], t["delivered"], t["deferrals"], t["deferred"]) == (1, 2, 1, 1)


def test_empty_input_is_an_empty_report() -> None:
    rep = build_report(EVENTS.empty_table())
    assert all(v == 0 for v in rep.totals.values())
    assert rep.per_day == [] and rep.problems["rejects"] == []


def test_report_command_json_and_text() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(DAY), "--json"])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)["totals"]
    assert {k: totals[k] for k in EXPECTED["totals"]} == EXPECTED["totals"]
    text = runner.invoke(app, ["report", str(DAY), "--detail", "3"])
    assert text.exit_code == 0
    assert "Grand totals" in text.output and "Rejects by category and reason" in text.output


def test_markup_in_log_text_is_shown_as_written(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(
        "2026-03-10T08:00:00+00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.1]: 554 5.7.1 [red]pwned[/red] go away; from=<a@example.org> "
        "to=<b@example.com> proto=ESMTP helo=<x>\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["report", str(log)])
    assert result.exit_code == 0, result.output
    assert "[red]pwned[/red]" in result.output


def test_reason_blanking_is_linear_on_hostile_text() -> None:
    hostile = pa.array(["<" * 200_000 + "a" * 200_000 + "1." * 200_000])
    start = time.perf_counter()
    normalize_reasons(hostile)
    assert time.perf_counter() - start < 5


def test_report_reads_the_dataset_logs_wrote(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ds"
    written = runner.invoke(app, ["logs", str(DAY), "-o", str(out)])
    assert written.exit_code == 0, written.output
    result = runner.invoke(app, ["report", str(out), "--json"])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)["totals"]
    assert {k: totals[k] for k in EXPECTED["totals"]} == EXPECTED["totals"]


def test_damaged_gzip_stops_by_default_and_is_counted_with_skip(tmp_path: Path) -> None:
    import gzip
    import subprocess
    import sys

    whole = gzip.compress(DAY.read_bytes())
    cut = tmp_path / "maillog.1.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # a truncated gzip stream
    command = [sys.executable, "-m", "mailtrace", "report", str(cut), "--json"]
    stopped = subprocess.run(command, capture_output=True, text=True, check=False)
    assert stopped.returncode == 1
    assert "rerun with --errors skip" in stopped.stderr and "Traceback" not in stopped.stderr
    skip = [*command, "--errors", "skip"]
    skipped = subprocess.run(skip, capture_output=True, text=True, check=False)
    assert skipped.returncode == 3, skipped.stderr
    assert "lines kept" in skipped.stderr
    assert json.loads(skipped.stdout)["totals"]["received"] > 0  # the lines before the damage


def test_report_says_how_many_lines_it_could_not_read(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(
        DAY.read_text(encoding="utf-8") + "2026-03-11T13:00:00+00:00 mx1 postfix/smtpd[1]: ???\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["report", str(log), "--json"])
    assert result.exit_code == 0
    assert "1 of " in result.stderr and "not recognised" in result.stderr


# --- the report's own group-bys, against pandas' -------------------------------------------------

_delays = st.lists(
    st.tuples(st.integers(0, 5), st.one_of(st.just(float("nan")), st.floats(0, 1e6))), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(_delays)
def test_group_delays_equal_pandas_groupby(rows: list[tuple[int, float]]) -> None:
    """Per-domain delay statistics: what pandas' groupby mean/quantile/max give, NaN skipped."""
    group = np.array([g for g, _ in rows], dtype=np.int64)
    delay = np.array([d for _, d in rows], dtype=float)
    got = group_delays(group, delay, 7)
    g = pd.DataFrame({"d": group, "delay": delay}).groupby("d")["delay"]
    want = {
        "avg_delay": g.mean(),
        "p50_delay": g.quantile(0.5),
        "p95_delay": g.quantile(0.95),
        "max_delay": g.max(),
    }
    for name, series in want.items():
        expected = series.reindex(range(7)).to_numpy(dtype=float)
        np.testing.assert_allclose(got[name], expected, rtol=1e-12, equal_nan=True, err_msg=name)


def test_grouped_reasons_counts_pairs_with_their_codes() -> None:
    """(category, reason) pairs counted, categories ordered by total, each with its codes."""
    cat = pa.array(["dns", "spam", "spam", None, "spam", "dns", "spam"])
    why = pa.array(["no MX", "listed", "listed", "odd", None, "no MX", "listed"])
    code = pa.array(["5.1.2", "5.7.1", "", "4.0.0", "5.7.1", None, "554"])
    rows = grouped_reasons(cat, why, code, n=1)
    assert [(r["category"], r["reason"], r["count"], r["codes"]) for r in rows] == [
        ("spam", "listed", 3, "5.7.1,554"),
        ("dns", "no MX", 2, "5.1.2"),
        ("-", "odd", 1, "4.0.0"),
    ]
    assert [r["category_total"] for r in rows] == [4, 2, 1]
    assert len(grouped_reasons(cat, why, code, n=2)) == 4  # spam's null reason shows too


def test_a_large_log_read_for_the_text_report_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large log is parsed for the text report without the events it never reads: those of
    other kinds that name no queue file (postscreen verdicts, TLS, lost connections …), and
    with smtpd's connects and disconnects in a narrow table of their own. The report and the
    line counts are the same; only the table is smaller."""
    import dataclasses

    import pyarrow.compute as pc

    from mailtrace import event_columns, paths
    from mailtrace.logs import batch, plan

    log = tmp_path / "maillog"
    log.write_bytes(DAY.read_bytes() + (LOGS / "postfix.log").read_bytes())
    for module in (plan, batch):
        monkeypatch.setattr(module, "SPLIT_BYTES", 1)  # this small file is "large"
    for module in (plan, paths):
        monkeypatch.setattr(module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    every, counted = paths.read_events_counted([log], event_columns.REPORT, year=2026, tz="UTC")
    kept, sessions, counts = paths.read_events_apart(
        [log], event_columns.REPORT, year=2026, tz="UTC", kinds=event_columns.REPORT_KINDS
    )
    assert counts == counted and counts.events == every.num_rows
    no_queue = pc.is_null(every.column("queue_id"))
    unread = pc.and_(
        no_queue, pc.invert(pc.is_in(every.column("kind"), pa.array(event_columns.REPORT_KINDS)))
    )
    apart = pc.and_(
        pc.and_(no_queue, pc.is_in(every.column("kind"), pa.array(["connect", "disconnect"]))),
        pc.match_substring(every.column("program"), "smtpd"),
    )
    assert sessions is not None and 0 < sessions.num_rows == pc.sum(apart).as_py()
    # The sessions in line order, with what the report reads of them.
    assert sessions.equals(every.filter(apart).select(sessions.column_names))
    left = pc.invert(pc.or_(unread, apart))
    assert kept.num_rows == pc.sum(left).as_py() < every.num_rows
    # A delivery's text is left out where its reply was read: the report reads no more of it.
    read = every.filter(left)
    replied = pc.and_(
        pc.equal(read.column("kind"), "delivery"), pc.is_valid(read.column("reply_text"))
    )
    assert pc.any(replied).as_py()
    text = pc.if_else(replied, pa.scalar(None, pa.string()), read.column("text"))
    assert kept.equals(read.set_column(read.schema.get_field_index("text"), "text", text))
    report, whole = build_report(kept, sessions=sessions), build_report(every)
    assert report.smtpd["connections"] > 0
    assert dataclasses.asdict(report) == dataclasses.asdict(whole)
    # read_events_counted puts them back, after the other events.
    back, _ = paths.read_events_counted(
        [log], event_columns.REPORT, year=2026, tz="UTC", kinds=event_columns.REPORT_KINDS
    )
    assert back.num_rows == kept.num_rows + sessions.num_rows
    assert dataclasses.asdict(build_report(back)) == dataclasses.asdict(whole)


def test_sessions_of_a_split_log_and_a_whole_one_keep_the_order_of_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two logs, the first large enough to be split into ranges (its sessions parsed apart),
    the second read whole (its sessions among its events): a session that opens in the first
    and closes in the second within the same second is still one session, as when nothing is
    read apart."""
    import dataclasses

    from mailtrace import event_columns, paths
    from mailtrace.logs import batch, plan

    lines = []
    for i in range(3000):
        stamp = f"Mar 10 10:{i // 60 % 60:02d}:{i % 60:02d} mx postfix/smtpd[{100 + i % 7}]"
        lines.append(f"{stamp}: connect from c{i}.example[192.0.2.{i % 250}]")
        lines.append(f"{stamp}: disconnect from c{i}.example[192.0.2.{i % 250}] quit=1")
    lines.append("Mar 10 23:59:59 mx postfix/smtpd[77]: connect from last.example[192.0.2.7]")
    first = tmp_path / "maillog.1"
    first.write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = tmp_path / "maillog"
    second.write_text(
        "Mar 10 23:59:59 mx postfix/smtpd[77]: disconnect from last.example[192.0.2.7] quit=1\n",
        encoding="utf-8",
    )
    for module in (plan, batch):
        monkeypatch.setattr(module, "SPLIT_BYTES", 64 << 10)  # the first file only
    monkeypatch.setattr(batch, "MIN_RANGE_BYTES", 64 << 10)
    for module in (plan, paths):
        monkeypatch.setattr(module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    logs = [first, second]
    every, _ = paths.read_events_counted(logs, event_columns.REPORT, year=2026, tz="UTC")
    kept, sessions, _ = paths.read_events_apart(
        logs, event_columns.REPORT, year=2026, tz="UTC", kinds=event_columns.REPORT_KINDS
    )
    assert sessions is not None and sessions.num_rows == every.num_rows == 6002
    assert kept.num_rows == 0
    assert sessions.equals(every.select(sessions.column_names))
    whole = build_report(every)
    assert whole.smtpd["completed_sessions"] == 3001
    assert dataclasses.asdict(build_report(kept, sessions=sessions)) == dataclasses.asdict(whole)
