"""Sendmail log lines into EVENTS rows."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.logs.events import EventBuilder
from mailtrace.logs.reader import parse_file_tables
from mailtrace.logs.sendmail import parse_line, parse_message

QID = "327A1BEw001301"


def subset(row: dict[str, object], expected: dict[str, object]) -> dict[str, object]:
    """The keys of ``expected`` as ``row`` has them (absent → None), for one clear diff."""
    return {key: row.get(key) for key in expected}


SHAPES: list[tuple[str, dict[str, object]]] = [
    (
        f"{QID}: from=<alice@example.com>, size=2345, class=0, nrcpts=2, "
        "msgid=<20260307100001.1234@example.com>, bodytype=8BITMIME, proto=ESMTPS, daemon=MTA, "
        "tls_verify=NO, auth=NONE, relay=mail.example.com [192.0.2.10] (may be forged)",
        {
            "kind": "from",
            "queue_id": QID,
            "sender": "alice@example.com",
            "size": 2345,
            "nrcpt": 2,
            "message_id": "20260307100001.1234@example.com",
            "protocol": "ESMTPS",
            "client_host": "mail.example.com",
            "client_ip": "192.0.2.10",
        },
    ),
    (
        f"{QID}: from=<>, size=900, class=0, nrcpts=1, proto=ESMTP, relay=[IPv6:2001:db8::7]",
        {"sender": "", "client_host": None, "client_ip": "2001:db8::7"},
    ),
    (
        f"{QID}: from=carol, size=512, class=0, nrcpts=1, msgid=<a@b.example>, "
        "relay=carol@localhost",
        {"kind": "from", "sender": "carol", "client_host": "localhost", "client_ip": None},
    ),
    (
        f"{QID}: to=<dave@example.org>,<erin@example.org>, delay=00:00:01, xdelay=00:00:01, "
        "mailer=esmtp, tls_verify=OK, pri=150780, relay=mx1.example.org. [203.0.113.40], "
        "dsn=2.0.0, stat=Sent (Ok: queued as 4XyZ1a2B3cD)",
        {
            "kind": "delivery",
            "status": "sent",
            "recipient": "dave@example.org,erin@example.org",
            "relay_host": "mx1.example.org",
            "relay_ip": "203.0.113.40",
            "dsn": "2.0.0",
            "delay": 1.0,
            "delays_d": 1.0,
            "reply_text": "Ok: queued as 4XyZ1a2B3cD",
            "next_queue_id": "4XyZ1a2B3cD",
            "text": "mailer=esmtp",
        },
    ),
    (
        f"{QID}: to=carol, ctladdr=carol (1000/1000), delay=00:00:01, xdelay=00:00:00, "
        "mailer=relay, pri=30512, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, "
        "stat=Sent (327A1BEw001302 Message accepted for delivery)",
        {"relay_ip": "127.0.0.1", "next_queue_id": "327A1BEw001302", "recipient": "carol"},
    ),
    (
        f"{QID}: to=<frank@example.com>, delay=1+02:03:04, xdelay=00:00:01, mailer=esmtp, "
        "pri=150780, relay=mx.example.com. [192.0.2.25], dsn=5.1.1, stat=User unknown",
        {
            "kind": "delivery",
            "status": "bounced",
            "dsn": "5.1.1",
            "delay": 93784.0,
            "reply_text": "User unknown",
            "reply_code": None,
        },
    ),
    (
        f"{QID}: to=<ivan@example.net>, delay=00:00:01, mailer=esmtp, pri=1, "
        "relay=mx.example.net. [198.51.100.80], dsn=4.7.1, "
        "stat=Deferred: 451 4.7.1 Greylisted, see https://greylist.example.net/",
        {
            "status": "deferred",
            "reply_code": 451,
            "dsn": "4.7.1",
            "reply_text": "Greylisted, see https://greylist.example.net/",
        },
    ),
    (
        f"{QID}: to=<judy@example.org>, delay=00:00:00, mailer=esmtp, pri=1, "
        "relay=mx1.example.org., dsn=4.0.0, stat=Deferred: Connection refused by mx1.example.org.",
        {
            "status": "deferred",
            "relay_host": "mx1.example.org",
            "relay_ip": None,
            "reply_text": "Connection refused by mx1.example.org.",
        },
    ),
    (
        f"{QID}: to=<x@example.org>, delay=00:00:00, mailer=esmtp, pri=1, dsn=4.4.1, "
        "stat=Host unknown (Name server: example.org: host not found)",
        {"status": "deferred", "dsn": "4.4.1"},
    ),
    (
        f"{QID}: to=<peggy@example.net>, delay=00:00:00, pri=30000, stat=queued",
        {"status": "queued", "recipient": "peggy@example.net"},
    ),
    (
        f"{QID}: 327A1DEw001302: DSN: User unknown",
        {
            "kind": "bounce_notice",
            "queue_id": QID,
            "next_queue_id": "327A1DEw001302",
            "action": "dsn",
            "reply_text": "User unknown",
        },
    ),
    (
        f"{QID}: 327A1DEw001303: postmaster notify: User unknown",
        {"kind": "bounce_notice", "next_queue_id": "327A1DEw001303", "action": "postmaster notify"},
    ),
    (
        f"{QID}: 327A1DEw001304: return to sender: Cannot send message for 5 days",
        {"kind": "bounce_notice", "action": "return to sender"},
    ),
    (
        f"{QID}: ruleset=check_rcpt, arg1=<bob@example.org>, relay=[203.0.113.77], "
        "reject=550 5.7.1 <bob@example.org>... Relaying denied",
        {
            "kind": "reject",
            "action": "reject",
            "command": "RCPT",
            "recipient": "bob@example.org",
            "client_ip": "203.0.113.77",
            "reply_code": 550,
            "dsn": "5.7.1",
            "reply_text": "<bob@example.org>... Relaying denied",
        },
    ),
    (
        "NOQUEUE: ruleset=check_mail, arg1=<bulk@spammy.example>, "
        "relay=spammy.example [203.0.113.77], "
        "reject=451 4.1.8 Domain of sender address bulk@spammy.example does not resolve",
        {
            "kind": "reject",
            "queue_id": "NOQUEUE",
            "action": "defer",
            "command": "MAIL",
            "sender": "bulk@spammy.example",
            "client_host": "spammy.example",
        },
    ),
    (
        f"{QID}: ruleset=check_relay, arg1=[203.0.113.5], arg2=203.0.113.5, "
        "relay=[203.0.113.5], reject=554 5.7.1 Rejected 203.0.113.5 found in dnsbl.example",
        {"kind": "reject", "command": "CONNECT", "reply_code": 554},
    ),
    (
        f"{QID}: ruleset=check_rcpt, arg1=<spam@example.org>, relay=[203.0.113.5], discard",
        {"kind": "discard", "action": "discard", "recipient": "spam@example.org"},
    ),
    (
        f"{QID}: Milter: data, reject=554 5.7.1 Rejected by content filter",
        {"kind": "reject", "action": "milter-reject", "reply_code": 554, "dsn": "5.7.1"},
    ),
    (
        f"{QID}: Milter: to=<x@example.net>, reject=550 5.1.1 No such user",
        {"kind": "reject", "recipient": "x@example.net", "action": "milter-reject"},
    ),
    (
        f"{QID}: <nobody@example.net>... User unknown",
        {"kind": "reject", "recipient": "nobody@example.net", "reply_text": "User unknown"},
    ),
    (
        f"{QID}: lost input channel from [203.0.113.77] to MTA after rcpt",
        {"kind": "lost_connection", "client_ip": "203.0.113.77", "command": "RCPT"},
    ),
    (
        f"{QID}: timeout waiting for input from slow.example [192.0.2.77] during server cmd read",
        {"kind": "timeout", "client_host": "slow.example", "client_ip": "192.0.2.77"},
    ),
    (
        f"{QID}: scanner.example [192.0.2.88] did not issue MAIL/EXPN/VRFY/ETRN during "
        "connection to MTA",
        {"kind": "disconnect", "action": "no_mail", "client_ip": "192.0.2.88"},
    ),
    (
        f"{QID}: collect: premature EOM: unexpected close",
        {"kind": "lost_connection", "command": "DATA"},
    ),
    (
        f"{QID}: collect: read timeout on connection from slow.example [192.0.2.77], "
        "from=<a@example.com>",
        {"kind": "timeout", "client_ip": "192.0.2.77"},
    ),
    (
        "STARTTLS=server, relay=mail.example.com [192.0.2.10], version=TLSv1.3, verify=NO, "
        "cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
        {
            "kind": "tls",
            "action": "server",
            "client_ip": "192.0.2.10",
            "tls_version": "TLSv1.3",
            "tls_cipher": "TLS_AES_256_GCM_SHA384",
        },
    ),
    (
        f"{QID}: STARTTLS=client, relay=mx1.example.org., version=TLSv1.2, verify=OK, "
        "cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256",
        {"kind": "tls", "queue_id": QID, "action": "client", "relay_host": "mx1.example.org"},
    ),
    (
        "STARTTLS=server, error: accept failed=0, reason=unknown, SSL_error=5, relay=[192.0.2.3]",
        {"kind": "tls_error", "action": "server", "client_ip": "192.0.2.3"},
    ),
    (
        "AUTH=server, relay=laptop.example.net [198.51.100.23], authid=carol, mech=PLAIN, bits=0",
        {"kind": "info", "text": "authid=carol mech=PLAIN bits=0", "client_ip": "198.51.100.23"},
    ),
    (
        "AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: "
        "checkpass failed, user=mallory, relay=[203.0.113.99]",
        {"kind": "sasl_failure", "client_ip": "203.0.113.99"},
    ),
    ("NOQUEUE: SYSERR(root): /etc/mail/aliases: line 12: bad alias name", {"kind": "error"}),
    (
        f"{QID}: SYSERR(root): collect: Cannot write ./dfXX (bfcommit, uid=0, gid=25)",
        {"kind": "error"},
    ),
    (
        "NOQUEUE: connect from mail.example.com [192.0.2.10]",
        {"kind": "connect", "queue_id": "NOQUEUE", "client_host": "mail.example.com"},
    ),
    (
        "NOQUEUE: tcpwrappers (bad.example, 203.0.113.250) rejection",
        {"kind": "reject", "action": "tcpwrappers", "client_ip": "203.0.113.250"},
    ),
    (
        "NOQUEUE: [203.0.113.44]: possible SMTP attack: command=AUTH, count=3",
        {"kind": "warning", "client_ip": "203.0.113.44"},
    ),
    (
        f"{QID}: Authentication-Warning: mx.example.net: www-data set sender to a@b using -f",
        {"kind": "warning"},
    ),
    ("starting daemon (8.17.1.9): SMTP+queueing@00:10:00", {"kind": "info"}),
    ("alias database /etc/mail/aliases rebuilt by root", {"kind": "info"}),
]


@pytest.mark.parametrize(("message", "expected"), SHAPES, ids=[s[0][:44] for s in SHAPES])
def test_line_shapes(message: str, expected: dict[str, object]) -> None:
    row = parse_message(message)
    assert subset(row, expected) == expected


@pytest.mark.parametrize(
    "message",
    ["", "hello world", f"{QID}: something new", "STARTTLS: ", "NOQUEUE: whatever happened"],
)
def test_unrecognised_lines_are_refused(message: str) -> None:
    b = EventBuilder("maillog")
    if message == "STARTTLS: ":  # a bare STARTTLS note is a warning, not a queue id
        assert parse_line(b, None, None, "sm-mta", None, 1, message)
        assert b.kind == ["warning"] and b.queue_id == [None]
        return
    assert parse_line(b, None, None, "sm-mta", None, 1, message) is False
    assert parse_message(message) == {"kind": None}


def test_parse_line_fills_typed_columns() -> None:
    b = EventBuilder("maillog")
    assert parse_line(b, 1_772_877_600_000_000, "mx", "sm-mta", 1302, 4, SHAPES[3][0])
    row = b.events_table().to_pylist()[0]
    assert (row["kind"], row["program"], row["pid"], row["queue_id"]) == (
        "delivery",
        "sm-mta",
        1302,
        QID,
    )
    assert (row["delay"], row["delays_d"], row["reply_code"]) == (1.0, 1.0, None)


def test_damaged_numbers_never_break_the_table() -> None:
    """A size or count that is not a plain number is dropped, not carried into the cast."""
    b = EventBuilder("maillog")
    message = (
        f"{QID}: from=<a@example.com>, size=\u0661\u0662, nrcpts={'7' * 30}, relay=[192.0.2.1]"
    )
    assert parse_line(b, None, None, "sm-mta", None, 1, message)
    row = b.events_table().to_pylist()[0]
    assert (row["size"], row["nrcpt"], row["client_ip"]) == (None, None, "192.0.2.1")


def test_sendmail_log_end_to_end(sample: Path) -> None:
    tables = parse_file_tables(sample / "logs" / "sendmail.log", year=2026, tz="UTC")
    c = tables.counts
    assert c.events + c.unparsed + c.other == c.lines == 42
    assert (c.events, c.unparsed, c.other, c.other_programs) == (40, 1, 1, {"cron": 1})
    events = tables.events.to_pylist()
    kinds = Counter(e["kind"] for e in events)
    assert kinds["from"] == 5 and kinds["delivery"] == 11 and kinds["bounce_notice"] == 2
    assert kinds["reject"] == 5
    assert {e["program"] for e in events} == {"sm-mta", "sm-msp-queue", "sendmail"}
    statuses = Counter(e["status"] for e in events if e["kind"] == "delivery")
    assert statuses == {"sent": 6, "deferred": 3, "bounced": 1, "queued": 1}
    # The local submission hands over to the MTA: the two queue ids are linked.
    handoff = next(
        e for e in events if e["queue_id"] == "327A1Ana001300" and e["kind"] == "delivery"
    )
    assert handoff["next_queue_id"] == "327A1BEw001301"
    assert any(e["queue_id"] == "327A1BEw001301" and e["kind"] == "from" for e in events)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    b = EventBuilder("fuzz")
    ok = parse_line(b, None, None, "sendmail", None, 1, text)
    assert len(b) == (1 if ok else 0)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["to=", "from=", "ruleset=check_rcpt, ", "Milter: ", "STARTTLS=", "AUTH="]),
    st.text(alphabet=st.sampled_from(list("ab@.<>[]():, =+-0123456789dsntaelyrjc")), max_size=200),
)
def test_never_raises_on_key_value_lines(head: str, tail: str) -> None:
    b = EventBuilder("fuzz")
    ok = parse_line(b, None, None, "sendmail", None, 1, f"{QID}: {head}{tail}")
    assert len(b) == (1 if ok else 0)
    b.events_table()  # captured numbers must cast


HOSTILE = [
    f"{QID}: to=<a@b>" + ", x" * 200_000,
    f"{QID}: to=<a@b>, " + "relay=" + "[" * 500_000,
    f"{QID}: from=<a@b>, " + "a=b, " * 100_000,
    f"{QID}: to=<a@b>, stat=Sent (" + "queued as " * 50_000,
    "lost input channel from " + "x " * 300_000,
    "NOQUEUE: " + "[1" * 300_000 + " did not issue MAIL",
    "x" * 1_000_000,
]


@pytest.mark.parametrize("message", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_adversarial_lines_finish_fast(message: str) -> None:
    start = time.perf_counter()
    parse_message(message)
    # Linear work on a few hundred kB takes well under a tenth of this; quadratic takes minutes.
    assert time.perf_counter() - start < 2.0
