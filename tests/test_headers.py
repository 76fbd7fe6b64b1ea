"""Header analysis of the sample messages against golden files, and reading hostile input.

Each input under sample_data/messages/ has tests/golden/headers/<file name>.json with the
expected HOPS rows (without the raw header text) and the summary's key values. To regenerate
after a deliberate change, run with MAILTRACE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.errors import InputError
from mailtrace.headers.analysis import MessageReport, analyze, report_dict, reports_hops_table
from mailtrace.headers.hops import MAX_RECEIVED_CHARS, build_hops, transit_s
from mailtrace.headers.message import MessageHeaders, parse_bytes, parse_headers, read_headers
from mailtrace.headers.summary import is_internal_ip, summarize
from mailtrace.schema import HOPS
from tests.conftest import ROOT, SAMPLE

MESSAGES = SAMPLE / "messages"
GOLDEN = ROOT / "tests" / "golden" / "headers"
INPUTS = sorted(p for p in MESSAGES.rglob("*") if p.is_file())
UPDATE = os.environ.get("MAILTRACE_UPDATE_GOLDEN") == "1"


def _expected(report: MessageReport) -> dict[str, Any]:
    d = report_dict(report)
    hops = [{k: v for k, v in h.items() if k != "raw"} for h in d["hops"]]
    keys = ("originating_ip", "originating_hop", "earliest_ip", "transit_s", "anomalies")
    return {
        "message": Path(d["message"]).name,
        "hops": hops,
        "summary": {k: d["summary"][k] for k in keys},
    }


def test_there_are_enough_sample_messages() -> None:
    reports = read_headers([MESSAGES])
    assert len(reports) >= 18
    assert any("#" in m.source for m in reports), "the mbox's messages are read too"


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_sample_message_matches_golden(path: Path) -> None:
    found = [analyze(m) for m in read_headers([path])]
    actual = [_expected(r) for r in found]
    golden = GOLDEN / f"{path.name}.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", "utf-8")
    assert actual == json.loads(golden.read_text("utf-8"))


def _report(name: str, index: int = 0) -> MessageReport:
    return [analyze(m) for m in read_headers([MESSAGES / name])][index]


def test_hops_are_numbered_from_the_origin() -> None:
    r = _report("postfix-relay-tls.eml")
    assert [h.hop for h in r.hops] == [1, 2, 3]
    assert [h.header_index for h in r.hops] == [2, 1, 0]
    assert r.hops[0].received.from_ip == "10.20.4.7"  # the bottom-most header is the origin
    assert r.hops[1].received.tls_version == "TLSv1.3"


def test_clock_skew_keeps_negative_delay_and_flags_both_hops() -> None:
    r = _report("clock-skew.eml")
    delays = [h.delay_s for h in r.hops]
    assert delays == [454.0, -452.0, 1.0]
    assert [h.clock_skew for h in r.hops] == [True, True, False]
    assert r.summary.transit_s == 3.0
    assert any("negative delay" in a for a in r.summary.anomalies)


def test_missing_dates_are_anomalies_not_errors() -> None:
    r = _report("missing-date.eml")
    assert [h.delay_s for h in r.hops] == [None, None, None]
    assert "no Date header" in r.summary.anomalies
    assert r.summary.transit_s is None


def test_originating_ip_skips_the_receiving_organisation() -> None:
    assert _report("exchange-online.eml").summary.originating_ip == "203.0.113.88"
    list_mail = _report("mailing-list-arc.eml").summary
    assert list_mail.originating_ip == "192.0.2.150"  # the forwarder handed it to example.com
    assert list_mail.earliest_ip == "198.51.100.90"
    # Private and loopback addresses are never the origin; documentation ranges are public.
    assert _report("amavis-content-filter.eml").summary.originating_ip == "203.0.113.120"
    assert is_internal_ip("fe80::1%eth0") and not is_internal_ip("2001:db8::1")


def test_summary_decodes_encoded_words() -> None:
    assert _report("exim-spamassassin.eml").summary.subject == (
        "Februar-Newsletter: Neuigkeiten für Sie"
    )
    assert _report("mbox/several.mbox", 1).summary.subject == "second message à lire"


def test_helo_that_is_not_the_connecting_ip_is_an_anomaly() -> None:
    m = parse_headers(
        "Received: from [198.51.100.9] (unknown [203.0.113.5]) by mx.example.com"
        " with ESMTP id 1; Tue, 3 Mar 2026 10:00:00 +0000\n"
        "Received: from mail.example.org (host.example.net [192.0.2.7]) by mx.example.com"
        " with ESMTP id 2; Tue, 3 Mar 2026 10:00:00 +0000\n"
        "Date: Tue, 3 Mar 2026 10:00:00 +0000\n"
    )
    anomalies = analyze(m).summary.anomalies
    assert any("does not match reverse DNS host.example.net" in a for a in anomalies)
    assert any("203.0.113.5 has no reverse DNS" in a for a in anomalies)


def test_bare_header_block_without_body() -> None:
    (m,) = read_headers([MESSAGES / "pasted-headers.txt"])
    assert not m.has_body and len(m.get_all("Received")) == 2


def test_mbox_messages_are_named_by_position() -> None:
    names = [m.source for m in read_headers([MESSAGES / "mbox" / "several.mbox"])]
    assert [n.rsplit("#", 1)[1] for n in names] == ["1", "2", "3"]


def test_hops_table_has_the_schema_and_header_order() -> None:
    table = reports_hops_table([_report("sendmail.eml")])
    assert table.schema == HOPS
    assert table.column("header_index").to_pylist() == [0, 1, 2]
    assert table.column("hop").to_pylist() == [3, 2, 1]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(256)) * 8, "binary"),
        (b"Dear diary,\ntoday nothing happened.\n", "not an email"),
        (b"Note: buy milk\nTodo: call home\n", "not an email"),
    ],
)
def test_unreadable_input_is_a_clear_input_error(data: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_bytes(data, "x.eml")


def test_outlook_msg_needs_the_extra_or_reads_cleanly() -> None:
    fake = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(InputError, match=r"\.msg"):
        parse_bytes(fake, "x.msg")


def test_directory_reports_each_bad_file_and_keeps_the_good(tmp_path: Path) -> None:
    (tmp_path / "good.eml").write_bytes((MESSAGES / "sendmail.eml").read_bytes())
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "image.eml").write_bytes(b"\x00\x01\x02")
    bad: list[InputError] = []
    found = read_headers([tmp_path], on_error=bad.append)
    assert [Path(m.source).name for m in found] == ["good.eml"]
    assert sorted(Path(e.source).name for e in bad) == ["empty.eml", "image.eml"]
    with pytest.raises(InputError, match="no such file"):
        read_headers([tmp_path / "missing.eml"])


def test_ten_thousand_received_headers_in_bounded_time() -> None:
    lines = [
        f"Received: from h{i}.example.org (h{i}.example.org [192.0.2.{i % 250 + 1}])"
        f" by h{i + 1}.example.org with ESMTP id Q{i};"
        f" Tue, 3 Mar 2026 10:{i // 600 % 60:02d}:{i // 10 % 60:02d} +0000"
        for i in range(10_000)
    ]
    raw = ("\n".join(reversed(lines)) + "\nSubject: long chain\n\nbody\n").encode()
    start = time.perf_counter()
    report = analyze(parse_headers(raw, "chain.eml"))
    elapsed = time.perf_counter() - start
    assert len(report.hops) == 10_000
    assert report.hops[0].received.id == "Q0"
    assert elapsed < 5, f"10,000 hops took {elapsed:.1f}s"


def test_megabyte_header_lines_are_bounded() -> None:
    huge = "x" * 1_000_000
    raw = (
        f"Received: from a.example ({huge}) by b.example; Tue, 3 Mar 2026 10:00:00 +0000\n"
        f"Subject: {huge}\n"
        f"Authentication-Results: mx.example; spf=pass {huge}\n"
        "Date: Tue, 3 Mar 2026 10:00:00 +0000\n"
    )
    start = time.perf_counter()
    report = analyze(parse_headers(raw, "big.eml"))
    assert time.perf_counter() - start < 5
    (hop,) = report.hops
    assert any("cut" in p for p in hop.received.problems)
    assert len(hop.received.raw) > MAX_RECEIVED_CHARS  # the raw text is kept whole
    assert report.summary.subject is not None and len(report.summary.subject) == 1_000_000


def test_pasted_headers_that_lost_their_folding_keep_their_text() -> None:
    m = parse_headers(
        "Received: from a.example ([192.0.2.1]) by b.example with ESMTP id 7\n"
        "for <x@example.com>; Tue, 3 Mar 2026 10:00:00 +0000\n"
        "Subject: x\n"
    )
    assert (m.get("Received") or "").endswith("+0000")
    assert any("not header fields" in p for p in m.problems)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_messages_or_an_input_error(data: bytes) -> None:
    try:
        found = parse_bytes(data, "fuzz")
    except InputError:
        return
    for m in found:
        if not isinstance(m, InputError):
            analyze(m)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=6), st.text(max_size=60))
def test_any_received_chain_gives_hops(values: list[str], date: str) -> None:
    hops = build_hops(values)
    assert sorted(h.header_index for h in hops) == list(range(len(values)))
    transit_s(hops)
    summarize(MessageHeaders("fuzz", (("Subject", "x"), ("Date", date))), hops)


def test_compressed_mbox_and_globs_are_read(tmp_path: Path) -> None:
    import gzip

    box = (MESSAGES / "mbox" / "several.mbox").read_bytes()
    (tmp_path / "archive.mbox.gz").write_bytes(gzip.compress(box))
    (tmp_path / "a.eml").write_bytes((MESSAGES / "qmail.eml").read_bytes())
    names = [Path(m.source).name for m in read_headers([tmp_path / "*.gz", tmp_path / "*.eml"])]
    assert names == ["archive.mbox.gz#1", "archive.mbox.gz#2", "archive.mbox.gz#3", "a.eml"]


@pytest.mark.parametrize("unit", ["(", '"', "[", "from ", "=?"])
def test_megabyte_of_one_token_in_every_field_is_bounded(unit: str) -> None:
    v = unit * (1_000_000 // len(unit))
    names = ("Received", "Subject", "From", "Date", "DKIM-Signature", "Authentication-Results")
    raw = "".join(f"{n}: {v}\n" for n in names) + "X-Spam-Status: " + v + "\n"
    start = time.perf_counter()
    report = analyze(parse_headers(raw, "hostile.eml"))
    assert time.perf_counter() - start < 10
    assert len(report.hops) == 1
