"""Delivery paths: each shape a message's life can take, rebuilt from sample_data logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailtrace import queue_files
from mailtrace.cli import app
from mailtrace.paths import (
    delivery_paths,
    normalize_reasons,
    read_events,
    rebuild,
    select_paths,
)
from mailtrace.schema import DELIVERIES, EVENTS, MESSAGES
from tests.conftest import SAMPLE

LOGS = SAMPLE / "logs"
GOLDEN = Path(__file__).parent / "golden" / "logs"
DAY = LOGS / "report_day.log"
EXPECTED = json.loads((GOLDEN / "report_day.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def day() -> tuple[pd.DataFrame, pd.DataFrame]:
    return delivery_paths(read_events([DAY]))


@pytest.fixture(scope="module")
def two_hosts() -> tuple[pd.DataFrame, pd.DataFrame]:
    return delivery_paths(read_events([LOGS / "hostA.log", LOGS / "hostB.log"]))


def _message(messages: pd.DataFrame, key: str) -> dict[str, Any]:
    rows = messages[messages["message"] == key].to_dict("records")
    assert len(rows) == 1, f"{key}: {len(rows)} rows"
    return rows[0]


def _attempts(deliveries: pd.DataFrame, qid: str, rcpt: str) -> pd.DataFrame:
    return deliveries[(deliveries["queue_id"] == qid) & (deliveries["recipient"] == rcpt)]


def test_tables_have_the_schemas(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = day
    assert list(messages.columns) == MESSAGES.names
    assert list(deliveries.columns) == DELIVERIES.names
    assert str(deliveries["reply_code"].dtype) == "int16[pyarrow]"
    assert len(messages) == EXPECTED["messages"]


def test_final_status_of_every_recipient(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, deliveries = day
    final = deliveries[deliveries["final"]]
    got: dict[str, dict[str, str]] = {}
    for qid, rcpt, status in zip(
        final["queue_id"], final["recipient"], final["status"], strict=True
    ):
        got.setdefault(qid, {})[rcpt] = status
    assert got == EXPECTED["final_status"]


def test_content_filter_hop_joins_two_queue_ids(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = day
    m = _message(messages, "mx1:2B3C4D5E02")
    assert list(m["queue_ids"]) == ["2B3C4D5E02", "3C4D5E6F03"]
    assert m["status"] == "sent" and m["recipients"] == 2 and m["size"] == 5000
    hops = deliveries[deliveries["queue_id"] == "2B3C4D5E02"]
    assert set(hops["hop"]) == {"filter"}
    after = deliveries[deliveries["queue_id"] == "3C4D5E6F03"]
    assert after["hop"].isna().all() and set(after["message"]) == {"mx1:2B3C4D5E02"}
    # The re-injected queue file is not a message of its own.
    assert not (messages["queue_id"] == "3C4D5E6F03").any()


def test_deferred_over_days_then_sent(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = day
    tries = _attempts(deliveries, "4D5E6F7A04", "frank@slow.example.net")
    assert tries["status"].tolist() == ["deferred", "deferred", "sent"]
    assert tries["attempt"].tolist() == [1, 2, 3]
    assert tries["final"].tolist() == [False, False, True]
    assert tries["delays_a"].tolist()[-1] == 79199.0
    m = _message(messages, "mx1:4D5E6F7A04")
    assert (m["status"], m["deferrals"], m["delay"]) == ("sent", 2, 79200.0)


def test_expiry_returns_the_deferred_recipient(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = day
    tries = _attempts(deliveries, "7A8B9C0D07", "henry@dead.example.com")
    assert tries["status"].tolist() == ["deferred", "deferred", "expired"]
    expired = tries.iloc[-1]
    assert expired["final"] and expired["category"] == "expired" and expired["dsn"] == "4.4.1"
    m = _message(messages, "mx1:7A8B9C0D07")
    assert (m["status"], m["expired"], m["notice"]) == ("expired", 1, "8B9C0D1E08")
    notice = _message(messages, "mx1:8B9C0D1E08")
    assert (notice["origin"], notice["parent"], notice["sender"]) == (
        "bounce",
        "mx1:7A8B9C0D07",
        "",
    )


def test_bounce_and_its_notice(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = day
    bounced = _attempts(deliveries, "5E6F7A8B05", "nobody@remote.example.org").iloc[0]
    assert (bounced["status"], bounced["reply_code"], bounced["category"]) == (
        "bounced",
        550,
        "unknown_user",
    )
    assert _message(messages, "mx1:5E6F7A8B05")["notice"] == "6F7A8B9C06"
    notice = _message(messages, "mx1:6F7A8B9C06")
    assert notice["parent"] == "mx1:5E6F7A8B05" and notice["status"] == "sent"


def test_reused_queue_id_is_two_messages(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, _ = day
    first = _message(messages, "mx1:9C0D1E2F09")
    second = _message(messages, "mx1:9C0D1E2F09#1")
    assert (first["origin"], first["sender"]) == ("local", "root@mx1.example.com")
    assert (second["origin"], second["sender"]) == ("smtp", "kate@example.net")
    assert first["last_seen"] < second["first_seen"]


def test_rejected_in_queue_and_noqueue(day: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, _ = day
    assert _message(messages, "mx1:0D1E2F3A10")["status"] == "rejected"
    assert _message(messages, "mx1:1E2F3A4B11")["status"] == "rejected"
    assert not messages["queue_id"].isin(["NOQUEUE"]).any()


def test_two_hosts_joined_by_queued_as(two_hosts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    messages, deliveries = two_hosts
    assert len(messages) == 1
    m = messages.iloc[0]
    assert list(m["queue_ids"]) == ["A1A2A3A4A5", "B7B8B9C0C1"]
    assert list(m["hosts"]) == ["mxa", "mxb"]
    assert {o["recipient"]: o["status"] for o in m["outcomes"]} == {
        "max@partner.example.net": "sent",
        "nina@example.org": "sent",
    }
    assert set(deliveries[deliveries["host"] == "mxa"]["hop"]) == {"relay"}
    nina = _attempts(deliveries, "B7B8B9C0C1", "nina@example.org")
    assert nina["status"].tolist() == ["deferred", "sent"]
    assert nina["category"].tolist()[0] == "mailbox_full"
    # The delay across both servers: arrival on mxa to delivery on mxb.
    assert m["delay"] == pytest.approx(3606.8, abs=0.5)


def test_one_host_alone_keeps_the_hand_off_as_a_delivery() -> None:
    messages, deliveries = delivery_paths(read_events([LOGS / "hostA.log"]))
    assert list(messages["queue_ids"][0]) == ["A1A2A3A4A5"]
    assert deliveries["hop"].isna().all()


def _events(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([{**r, "ts": r["ts"] * 1_000_000} for r in rows], EVENTS)


def test_a_queued_as_id_seen_days_later_is_not_the_same_message() -> None:
    day = 86400
    ev = _events(
        [
            {"ts": 0, "host": "mx", "queue_id": "AAA1", "kind": "client"},
            {"ts": 1, "host": "mx", "queue_id": "AAA1", "kind": "delivery", "status": "sent",
             "recipient": "r@example.net", "relay_ip": "198.51.100.9", "next_queue_id": "BBB2"},
            {"ts": 3 * day, "host": "mx", "queue_id": "BBB2", "kind": "client"},
        ]
    )  # fmt: skip
    messages, deliveries = delivery_paths(ev)
    assert len(messages) == 2
    assert deliveries["hop"].isna().all()


def test_a_filter_hop_whose_reinjection_is_outside_the_log_is_still_a_hop() -> None:
    ev = _events(
        [
            {"ts": 0, "host": "mx", "queue_id": "AAA1", "kind": "client"},
            {"ts": 1, "host": "mx", "queue_id": "AAA1", "kind": "delivery", "status": "sent",
             "recipient": "r@example.com", "relay_ip": "127.0.0.1", "next_queue_id": "CCC3"},
        ]
    )  # fmt: skip
    _, deliveries = delivery_paths(ev)
    assert deliveries["hop"].tolist() == ["filter"]


def test_select_by_message_id_address_and_child_queue_id() -> None:
    events = read_events([DAY])
    m, d, e = select_paths(events, "<m3.1200@example.com>")
    assert m.column("message").to_pylist() == ["mx1:4D5E6F7A04"]
    assert e.num_rows == 9 and d.num_rows == 3
    m, _, _ = select_paths(events, "IVAN@example.com")
    assert m.column("message").to_pylist() == ["mx1:7A8B9C0D07", "mx1:8B9C0D1E08"]
    m, _, e = select_paths(events, "3C4D5E6F03")
    assert m.column("message").to_pylist() == ["mx1:2B3C4D5E02"]
    assert set(e.column("queue_id").to_pylist()) == {"2B3C4D5E02", "3C4D5E6F03"}
    m, _, e = select_paths(events, "9C0D1E2F09")
    assert m.num_rows == 2
    assert e.filter(pa.compute.equal(e.column("message"), "mx1:9C0D1E2F09")).num_rows == 5


def test_a_parquet_dataset_reads_like_the_log(tmp_path: Path) -> None:
    events = read_events([DAY])
    (tmp_path / "ds").mkdir()
    pq.write_table(events, tmp_path / "ds" / "part-0.parquet")
    from_log = delivery_paths(events)[0]
    from_ds = delivery_paths(read_events([tmp_path / "ds"]))[0]
    assert from_ds["message"].tolist() == from_log["message"].tolist()
    assert from_ds["status"].tolist() == from_log["status"].tolist()


def test_a_dataset_is_its_visible_parquet_files_in_path_order(tmp_path: Path) -> None:
    from mailtrace.errors import InputError

    events = read_events([DAY])
    half = events.num_rows // 2
    ds = tmp_path / "ds"
    (ds / "b").mkdir(parents=True)
    (ds / "_unparsed").mkdir()
    pq.write_table(events.slice(0, half), ds / "a.parquet")
    # A later file with fewer columns: the missing ones read as nulls.
    pq.write_table(events.slice(half).drop_columns(["orig_recipient"]), ds / "b" / "part.parquet")
    for hidden in (ds / "_unparsed" / "a.parquet", ds / ".a.parquet"):
        pq.write_table(events.slice(0, 3), hidden)  # not part of the dataset
    back = read_events([ds])
    assert back.num_rows == events.num_rows
    assert back.column("line").to_pylist() == events.column("line").to_pylist()
    assert back.column("orig_recipient").slice(half).null_count == events.num_rows - half
    (ds / "b" / "zz.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"zz\.parquet.*not a readable Parquet file"):
        read_events([ds])


def test_path_command_json_and_no_match() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["path", "3C4D5E6F03", str(DAY), "--json"])
    assert result.exit_code == 0, result.output
    (only,) = json.loads(result.output)
    assert only["message"]["queue_ids"] == ["2B3C4D5E02", "3C4D5E6F03"]
    assert [d["hop"] for d in only["deliveries"]] == ["filter", "filter", None, None]
    text = runner.invoke(app, ["path", "frank@slow.example.net", str(DAY)])
    assert text.exit_code == 0 and "4D5E6F7A04" in text.output and "deferred" in text.output
    missing = runner.invoke(app, ["path", "NOSUCHID", str(DAY)])
    assert missing.exit_code == 1


def test_missing_log_is_a_clean_error() -> None:
    result = CliRunner().invoke(app, ["path", "X", "/nonexistent/maillog"])
    assert result.exit_code != 0
    assert not isinstance(result.exception, KeyError | AttributeError | TypeError)


def test_exim_arrival_deliveries_bounce_and_retry_timeout() -> None:
    messages, deliveries = delivery_paths(read_events([LOGS / "exim_paths.log"]))
    m = _message(messages, "1qRsTu-000AbC-4x")
    assert (m["sender"], m["status"], m["notice"]) == (
        "carol@example.net",
        "mixed",
        "1qRsTv-000AbE-0A",
    )
    assert {o["recipient"]: o["status"] for o in m["outcomes"]} == {
        "dave@example.org": "sent",
        "frank@example.com": "bounced",
    }
    notice = _message(messages, "1qRsTv-000AbE-0A")
    assert (notice["origin"], notice["parent"]) == ("bounce", "1qRsTu-000AbC-4x")
    tries = _attempts(deliveries, "1qRsAa-000XyZ-1c", "mallory@example.org")
    assert tries["status"].tolist() == ["deferred", "expired"]
    assert tries["final"].tolist() == [False, True]


def test_local_forwarding_is_a_hop_in_the_chain() -> None:
    ev = _events(
        [
            {"ts": 0, "host": "mx", "queue_id": "AAA1", "kind": "client"},
            {"ts": 1, "host": "mx", "queue_id": "AAA1", "kind": "delivery", "status": "sent",
             "recipient": "alias@example.com", "relay_host": "local",
             "text": "forwarded as BBB2", "next_queue_id": "BBB2"},
            {"ts": 1, "host": "mx", "queue_id": "BBB2", "kind": "message_id",
             "message_id": "m@example.org"},
            {"ts": 2, "host": "mx", "queue_id": "BBB2", "kind": "delivery", "status": "sent",
             "recipient": "owner@example.net", "relay_ip": "198.51.100.5"},
        ]
    )  # fmt: skip
    messages, deliveries = delivery_paths(ev)
    assert list(messages["queue_ids"][0]) == ["AAA1", "BBB2"]
    assert deliveries["hop"].fillna("-").tolist() == ["forward", "-"]
    assert [o["recipient"] for o in messages["outcomes"][0]] == ["owner@example.net"]
    from mailtrace.report import build_report

    totals = build_report(ev).totals
    assert (totals["received"], totals["delivered"], totals["forwarded"]) == (1, 1, 1)


def test_hand_offs_in_a_circle_do_not_break_the_paths() -> None:
    ids = ["AAA1", "BBB2", "CCC3"]
    rows: list[dict[str, Any]] = [
        {"ts": i, "host": "mx", "queue_id": q, "kind": "client"} for i, q in enumerate(ids)
    ]
    for i, q in enumerate(ids):
        rows.append(
            {"ts": 5 + i, "host": "mx", "queue_id": q, "kind": "delivery", "status": "sent",
             "recipient": "r@example.com", "relay_ip": "127.0.0.1",
             "next_queue_id": ids[(i + 1) % 3]}
        )  # fmt: skip
    messages, deliveries = delivery_paths(_events(rows))
    assert sorted(messages["queue_id"]) == ids
    assert len(deliveries) == 3


def test_path_of_a_busy_address_lists_every_message_and_limits_the_timelines() -> None:
    """An address can name thousands of messages: each gets a line, the first --limit a
    timeline (rich takes 10 ms to lay one out: 84 s for 7,872 messages of the 1M-line log)."""
    runner = CliRunner()
    every = json.loads(runner.invoke(app, ["path", "ivan@example.com", str(DAY), "--json"]).output)
    names = [m["message"]["message"] for m in every]
    assert len(names) >= 2
    limited = runner.invoke(app, ["path", "ivan@example.com", str(DAY), "--limit", "1"])
    assert limited.exit_code == 0, limited.output
    listed = [line for line in limited.stdout.splitlines() if line.startswith("  20")]
    assert [line.split()[2] for line in listed] == names  # every message, oldest first
    assert limited.stdout.count("Arrived:") == 1  # one timeline
    assert f"{len(names)} messages match 'ivan@example.com'" in limited.stderr
    everything = runner.invoke(app, ["path", "ivan@example.com", str(DAY), "--limit", "0"])
    assert everything.stdout.count("Arrived:") == len(names)
    assert "messages match" not in everything.stderr


@pytest.mark.parametrize("log", ["report_day.log", "exim_paths.log"])
def test_rebuilding_some_columns_gives_those_columns_of_the_whole(log: str) -> None:
    """A caller that reads a few columns (the report) gets exactly the full tables' values."""
    events = read_events([LOGS / log])
    whole = rebuild(events)
    some = rebuild(
        events,
        message_columns={"sender", "status", "parent"},
        delivery_columns={"hop", "category", "recipient", "message"},
    )
    assert some.messages.equals(whole.messages.select(["sender", "status", "parent"]))
    assert some.deliveries.equals(
        whole.deliveries.select(["message", "recipient", "hop", "category"])
    )
    assert (some.message_row == whole.message_row).all()
    assert some.reasons is not None and whole.reasons is not None
    assert some.reasons.equals(whole.reasons)
    empty = rebuild(events.slice(0, 0), message_columns={"size"}, delivery_columns={"ts"})
    assert (empty.messages.column_names, empty.deliveries.column_names) == (["size"], ["ts"])


def test_a_log_out_of_time_order_has_the_paths_of_the_log_in_order() -> None:
    """A log read in time order is taken as it is; one whose lines are not (its second half
    first) is put in time order, lines of one second in their order: the same paths."""
    events = read_events([DAY])
    ts = events.column("ts").cast(pa.int64()).to_numpy()
    cut = int(np.flatnonzero(ts[1:] // 1_000_000 > ts[:-1] // 1_000_000)[len(ts) // 4]) + 1
    shuffled = pa.concat_tables([events.slice(cut), events.slice(0, cut)])
    whole, again = rebuild(events), rebuild(shuffled)

    def rows(table: pa.Table) -> list[str]:  # the tables keep the log's order: compare as sets
        return sorted(repr(row) for row in table.to_pylist())

    assert rows(again.messages) == rows(whole.messages)
    assert rows(again.deliveries) == rows(whole.deliveries)
    assert again.messages.num_rows == 11 and again.deliveries.num_rows > 11


# The pieces the blanking patterns are made of, to build texts that hit their edges.
_PIECES = [
    *"0123456789.:[]<>-TZ+=_aFgx é…\t\n\f\r\v\u00a0",
    "host ",
    " said: ",
    "name=",
    " type=",
    "198.51.100.4",
    "2001:db8::1",
    "2026-11-29T01:02:03",
    "abcdefghijklmn",
    "12345",
]


@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join), max_size=8))
@settings(max_examples=500, deadline=None)
def test_compiled_blanking_is_the_re2_patterns(texts: list[str]) -> None:
    """The hand-written passes give what RE2 gives for the patterns, text by text."""
    if queue_files.pathcore is None:
        pytest.skip("the compiled module is not built")
    arr = pa.array(texts, pa.string())
    assert normalize_reasons(arr).to_pylist() == normalize_reasons(arr, compiled=False).to_pylist()


def test_blanking_hostile_megabyte_texts_ends_as_re2_does() -> None:
    """Openings that never close, a megabyte long: a pass that looked for the close again from
    each opening would never end on them."""
    texts = pa.array(
        ["name=" * 200_000, "<" + "a " * 500_000, "[" + ":" * 1_000_000, "1." * 500_000]
    )
    blanked = normalize_reasons(texts)
    assert blanked.to_pylist() == normalize_reasons(texts, compiled=False).to_pylist()
    assert [len(t) for t in blanked.to_pylist()] == [1, 300, 300, 300]


@pytest.mark.parametrize(
    "typ",
    [
        pa.string(),
        pa.large_string(),
        pa.binary(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.float64(),
        pa.timestamp("us", tz="UTC"),
        pa.bool_(),
        pa.list_(pa.string()),
    ],
)
def test_null_column_is_a_valid_all_null_column_of_its_type(typ: pa.DataType) -> None:
    from mailtrace.paths import null_column

    col = null_column(typ, 1000)
    col.validate(full=True)
    assert col.type == typ and len(col) == 1000 and col.null_count == 1000
    assert col.take(pa.array([0, 999])).to_pylist() == [None, None]
    assert pa.concat_arrays([col, pa.array([None], typ)]).null_count == 1001


def test_a_partial_events_table_reads_its_absent_columns_as_nulls() -> None:
    from mailtrace.paths import COLUMNS, _as_table

    part = pa.table({"kind": ["from", "delivery"], "queue_id": ["Q1", "Q1"]})
    full = _as_table(part)
    assert full.column_names == list(COLUMNS)
    full.validate(full=True)
    for name in COLUMNS:
        if name not in part.column_names:
            assert full.column(name).null_count == 2, name
