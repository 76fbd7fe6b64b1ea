"""Tracing one message end to end: its Received hops joined to a Postfix and an Exim server's logs.

sample_data/trace/message.eml crossed five servers: smtp.example.org (no log given), mx1.example.org
(Postfix, with an amavis-style content filter re-injecting it under a second queue id, then
greylisted by the next hop and sent five minutes later), mx.example.net (Exim, whose own mainlog
names no host: delivered to Bob, bounced for Carol's full mailbox) and imap.example.net (LMTP, no
log given).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mailtrace.errors import UsageError
from mailtrace.headers.message import parse_headers
from mailtrace.logs.reader import read_logs
from mailtrace.paths import read_events
from mailtrace.trace import (
    MESSAGE_ID,
    QUEUE_ID,
    QUEUE_ID_ELSEWHERE,
    TIME_WINDOW,
    Trace,
    read_trace,
    trace,
)

POSTFIX_ID_1, POSTFIX_ID_2 = "3B1C2D3E4F", "4C2D3E4F5A"
EXIM_ID = "1vAbCd-00000000Xyz-9QrS"


@pytest.fixture
def d(sample: Path) -> Path:
    return sample / "trace"


@pytest.fixture
def events(d: Path) -> pa.Table:
    return read_events([d / "mx1.example.org.log", d / "mx.example.net.mainlog"])


def _message(d: Path, edit: object = None) -> str:
    text = (d / "message.eml").read_text()
    return text if edit is None else edit(text)  # type: ignore[operator]


def _summary(t: Trace) -> list[tuple[int, str | None, tuple[str, ...], str | None]]:
    return [(h.hop.hop, h.host, h.queue_ids, h.matched_by) for h in t.hops]


def _attempts(table: pa.Table) -> list[tuple[str, str, int]]:
    return [(r["recipient"], r["status"], r["attempt"]) for r in table.to_pylist()]


def test_each_hop_is_joined_to_its_own_servers_events(d: Path, events: pa.Table) -> None:
    t = trace(d / "message.eml", events)
    assert _summary(t) == [
        (1, None, (), None),
        (2, "mx1", (POSTFIX_ID_1,), QUEUE_ID),
        (3, "mx1", (POSTFIX_ID_2,), QUEUE_ID),
        (4, None, (EXIM_ID,), QUEUE_ID),  # Exim's mainlog names no host
        (5, None, (), None),
    ]
    assert t.unlogged == [1, 5]
    hop2, hop3, hop4 = t.hops[1:4]
    assert hop2.events.column("kind").to_pylist() == [
        "client", "message_id", "from", "delivery", "delivery", "removed",
    ]  # fmt: skip
    assert hop2.events.column("client_ip")[0].as_py() == "192.0.2.30"  # the hop's from address
    # the filter hand-off, then the next server's greylisting and the retry five minutes later
    assert pc.unique(hop2.deliveries.column("next_queue_id")).to_pylist() == [POSTFIX_ID_2]
    assert _attempts(hop3.deliveries) == [
        ("bob@example.net", "deferred", 1),
        ("carol@example.net", "deferred", 1),
        ("bob@example.net", "sent", 2),
        ("carol@example.net", "sent", 2),
    ]
    assert hop3.deliveries.column("reply_code").to_pylist() == [451, 451, 250, 250]
    assert hop3.deliveries.column("delays_a").to_pylist()[2] == 301.0
    # Exim: delivered to Bob, Carol's mailbox full
    assert _attempts(hop4.deliveries) == [
        ("bob@example.net", "sent", 1),
        ("carol@example.net", "bounced", 1),
    ]
    assert hop4.deliveries.column("category").to_pylist() == ["delivered", "mailbox_full"]
    assert hop4.events.column("client_ip")[0].as_py() == "198.51.100.10"
    assert [h.message_id_agrees for h in t.hops] == [None, True, True, True, None]
    # nothing of the other messages in the logs: the unrelated mail, Exim's bounce, its relay
    every = {q for h in t.hops for q in h.events.column("queue_id").to_pylist()}
    assert every == {POSTFIX_ID_1, POSTFIX_ID_2, EXIM_ID}


def test_a_filter_that_adds_no_header_is_part_of_its_servers_hop(d: Path, events: pa.Table) -> None:
    def drop_reinjection(text: str) -> str:
        blocks = re.split(r"\n(?=Received: )", text)
        return "\n".join(b for b in blocks if "from localhost" not in b)

    t = trace(parse_headers(_message(d, drop_reinjection), "m.eml"), events)
    assert _summary(t)[1] == (2, "mx1", (POSTFIX_ID_1, POSTFIX_ID_2), QUEUE_ID)
    statuses = t.hops[1].deliveries.column("status").to_pylist()
    assert statuses == ["sent", "sent", "deferred", "deferred", "sent", "sent"]
    assert t.hops[2].queue_ids == (EXIM_ID,)


def _without_ids(text: str) -> str:
    text = re.sub(r" id \w+;", ";", text)  # Postfix: "with ESMTP id X;"
    return re.sub(r"\n\tid [\w-]+;", ";", text)  # Exim: "id X;" on its own line


def test_hops_without_ids_match_by_message_id(d: Path, events: pa.Table) -> None:
    t = trace(parse_headers(_message(d, _without_ids), "m.eml"), events)
    assert [(n, q, how) for n, _, q, how in _summary(t)] == [
        (1, (), None),
        (2, (POSTFIX_ID_1,), MESSAGE_ID),  # two queue files of mx1 carry it: nearest in time
        (3, (POSTFIX_ID_2,), MESSAGE_ID),
        (4, (), None),  # a log without host names is matched by queue id only
        (5, (), None),
    ]


def test_then_by_client_address_in_a_time_window(d: Path, events: pa.Table) -> None:
    def no_message_id(text: str) -> str:
        return re.sub(r"Message-ID: .*\n", "", _without_ids(text))

    t = trace(parse_headers(_message(d, no_message_id), "m.eml"), events)
    # 192.0.2.30 sent two messages a second apart: the one at the hop's time is the hop
    assert [(n, q, how) for n, _, q, how in _summary(t)][1:3] == [
        (2, (POSTFIX_ID_1,), TIME_WINDOW),
        (3, (POSTFIX_ID_2,), TIME_WINDOW),
    ]
    assert [h.message_id_agrees for h in t.hops] == [None] * 5
    # a narrower window: hop 2's client line is 0.1 s after its header, hop 3's in the same µs
    narrow = trace(parse_headers(_message(d, no_message_id), "m.eml"), events, window_s=0.05)
    assert narrow.unlogged == [1, 2, 4, 5]


@pytest.mark.parametrize(
    ("log_host", "how"),
    [
        ("MX1.Example.Org", QUEUE_ID),
        ("mx1.example.org.", QUEUE_ID),
        # syslog's name is not the header's: the queue id at the hop's moment still finds it
        ("relay-3.example.net", QUEUE_ID_ELSEWHERE),
    ],
)
def test_host_names_match_by_case_and_short_name_else_by_id_and_time(
    d: Path, events: pa.Table, log_host: str, how: str
) -> None:
    hosts = pc.if_else(pc.equal(events.column("host"), "mx1"), log_host, events.column("host"))
    renamed = events.set_column(events.schema.get_field_index("host"), "host", hosts)
    t = trace(d / "message.eml", renamed)
    assert [(h.host, h.matched_by) for h in t.hops[1:3]] == [(log_host, how)] * 2
    assert t.hops[3].matched_by == QUEUE_ID  # the Exim hop, by its queue id
    if how == QUEUE_ID_ELSEWHERE:
        # under another name, the id alone is not enough: it must be at the hop's time
        assert trace(d / "message.eml", renamed, window_s=0.05).hops[1].logged is False
        # and Message-ID or client address never match a host of another name
        assert trace(parse_headers(_message(d, _without_ids), "m"), renamed).unlogged == [
            1, 2, 3, 4, 5,
        ]  # fmt: skip


def test_events_as_a_dataframe_or_a_logs_dataset(d: Path, tmp_path: Path) -> None:
    from mailtrace.logs.batch import run

    logs = [d / "mx1.example.org.log", d / "mx.example.net.mainlog"]
    from_frame = trace(d / "message.eml", read_logs(logs))
    assert _summary(from_frame)[1:4] == [
        (2, "mx1", (POSTFIX_ID_1,), QUEUE_ID),
        (3, "mx1", (POSTFIX_ID_2,), QUEUE_ID),
        (4, None, (EXIM_ID,), QUEUE_ID),
    ]
    run(logs, tmp_path / "ds", jobs=1)
    from_dataset = read_trace(d / "message.eml", [tmp_path / "ds"])
    assert _summary(from_dataset) == _summary(from_frame)
    assert _attempts(from_dataset.hops[2].deliveries) == _attempts(from_frame.hops[2].deliveries)


def test_mailtrace_trace_is_callable_in_every_import_order(d: Path, events: pa.Table) -> None:
    import mailtrace
    import mailtrace.trace  # the submodule import rebinds the package attribute to the module

    assert _summary(mailtrace.trace(d / "message.eml", events)) == _summary(
        trace(d / "message.eml", events)
    )


def test_a_mailbox_of_several_messages_is_refused(tmp_path: Path, events: pa.Table) -> None:
    mbox = tmp_path / "box.mbox"
    mbox.write_text(
        "From a@example.org Sat Mar  7 10:00:00 2026\nSubject: one\n\nx\n\n"
        "From a@example.org Sat Mar  7 10:01:00 2026\nSubject: two\n\ny\n"
    )
    with pytest.raises(UsageError, match="holds 2 messages"):
        trace(mbox, events)


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtrace", "trace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_json_timeline_and_text(d: Path) -> None:
    logs = [d / "mx1.example.org.log", d / "mx.example.net.mainlog"]
    r = _cli(d / "message.eml", "--logs", *logs, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["message_id"] == "<20260307101456.77@example.org>"
    assert doc["unlogged_hops"] == [1, 5]
    hop4 = doc["hops"][3]
    assert (hop4["by_host"], hop4["id"]) == ("mx.example.net", EXIM_ID)
    assert [(x["recipient"], x["status"], x.get("dsn")) for x in hop4["log"]["deliveries"]] == [
        ("bob@example.net", "sent", "2.0.0"),
        ("carol@example.net", "bounced", "5.2.2"),
    ]
    assert doc["hops"][0]["log"] == {"matched_by": None}
    text = _cli(d / "message.eml", "--logs", *logs)
    assert text.returncode == 0, text.stderr
    assert "no log of this server" in text.stdout
    assert "Greylisted" in text.stdout and "Mailbox is full" in text.stdout
    assert "hops without a matching log: 1, 5" in text.stderr


def test_cli_needs_logs_and_says_when_nothing_matched(
    d: Path, sample: Path, tmp_path: Path
) -> None:
    r = _cli(d / "message.eml")
    assert r.returncode == 2 and "--logs" in r.stderr and "Traceback" not in r.stderr
    other = _cli(d / "message.eml", "--logs", sample / "logs" / "sendmail.log")
    assert other.returncode == 1 and "no hop of this message" in other.stderr
    empty = tmp_path / "draft.eml"
    empty.write_text("Subject: never sent\n\nhi\n")
    r = _cli(empty, "--logs", d / "mx1.example.org.log")
    assert r.returncode == 1 and "no Received header" in r.stderr


def test_ten_thousand_received_headers_finish_in_bounded_time(events: pa.Table) -> None:
    import time

    lines = [
        f"Received: from h{i}.example.org ([192.0.2.30]) by mx1.example.org with ESMTP"
        f" id {i:010X}; Sat, 7 Mar 2026 10:14:58 +0000\n"
        for i in range(10_000)
    ]
    lines.append(
        "Received: from smtp.example.org ([192.0.2.30]) by mx1.example.org with ESMTP"
        f" id {POSTFIX_ID_1}; Sat, 7 Mar 2026 10:14:58 +0000\n"
    )
    start = time.perf_counter()
    t = trace(parse_headers("".join(lines), "hostile.eml"), events)
    assert time.perf_counter() - start < 30
    assert len(t.hops) == 10_001
    # one hop's queue id is in the log (its filter re-injection follows it); the other ids are
    # not, so they fall back to the client address and time window, where one arrival is left
    assert t.hops[0].queue_ids == (POSTFIX_ID_1, POSTFIX_ID_2)
    assert t.hops[0].matched_by == QUEUE_ID
    assert [h.queue_ids for h in t.hops if h.matched_by == TIME_WINDOW] == [("7A8B9C0D1E",)]


def test_cli_shows_header_markup_as_written(d: Path, tmp_path: Path) -> None:
    msg = tmp_path / "m.eml"
    msg.write_text(_message(d).replace("Quarterly figures", "[link=http://x.example]go[/link]"))
    r = _cli(msg, "--logs", d / "mx1.example.org.log")
    assert r.returncode == 0, r.stderr
    assert "[link=http://x.example]go[/link]" in r.stdout
