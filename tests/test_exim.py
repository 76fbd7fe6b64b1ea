"""Exim main log and reject log lines into EVENTS rows."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.logs.events import EventBuilder
from mailtrace.logs.exim import parse_line, parse_message
from mailtrace.logs.reader import parse_file_tables

OLD_ID = "1qRsTu-000AbC-4x"  # Exim 4.96 and earlier: 6-6-2
NEW_ID = "1wXyZa-00000000Abc-12Cd"  # Exim 4.97 and later: 6-11-4


def subset(row: dict[str, object], expected: dict[str, object]) -> dict[str, object]:
    """The keys of ``expected`` as ``row`` has them (absent → None), for one clear diff."""
    return {key: row.get(key) for key in expected}


SHAPES: list[tuple[str, dict[str, object]]] = [
    (
        f"{NEW_ID} <= alice@example.com H=mail.example.com (helo.example.com) "
        "[192.0.2.10]:41234 I=[203.0.113.5]:25 P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 "
        'CV=no A=plain:alice S=2345 id=<m1@example.com> T="Hi \\"there\\"" for bob@example.net '
        "carol@example.net",
        {
            "kind": "from",
            "queue_id": NEW_ID,
            "sender": "alice@example.com",
            "client_host": "mail.example.com",
            "helo": "helo.example.com",
            "client_ip": "192.0.2.10",
            "client_port": 41234,
            "protocol": "ESMTPS",
            "tls_version": "TLSv1.3",
            "tls_cipher": "TLS_AES_256_GCM_SHA384",
            "size": 2345,
            "message_id": "m1@example.com",
            "nrcpt": 2,
            "text": "A=plain:alice CV=no",
        },
    ),
    (
        f"{OLD_ID} <= <> R=1qRsTt-000AbB-3w U=Debian-exim P=local S=7011 "
        'T="Mail delivery failed: returning message to sender"',
        {
            "kind": "from",
            "queue_id": OLD_ID,
            "sender": "",
            "protocol": "local",
            "size": 7011,
            "text": "R=1qRsTt-000AbB-3w U=Debian-exim",
        },
    ),
    (
        f"{OLD_ID} <= bob@example.net H=(laptop) [2001:db8::25]:50110 P=utf8esmtpsa S=10",
        {"client_ip": "2001:db8::25", "client_port": 50110, "helo": "laptop"},
    ),
    (
        f"{NEW_ID} (= survey@example.org H=relay.example.org [192.0.2.55]:40102 P=esmtp S=1800",
        {"kind": "from", "action": "fakereject", "sender": "survey@example.org", "size": 1800},
    ),
    (
        f"{OLD_ID} => dave@example.org F=<carol@example.net> R=dnslookup T=remote_smtp "
        "S=5300 H=mx1.example.org [203.0.113.40]:25 I=[203.0.113.5]:51022 "
        "X=TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes K "
        'C="250 2.0.0 Ok: queued as 4XyZ1a2B3cD" QT=1m5s DT=0.412s',
        {
            "kind": "delivery",
            "status": "sent",
            "recipient": "dave@example.org",
            "sender": "carol@example.net",
            "relay_host": "mx1.example.org",
            "relay_ip": "203.0.113.40",
            "relay_port": 25,
            "tls_version": "TLSv1.2",
            "tls_cipher": "ECDHE-RSA-AES256-GCM-SHA384",
            "reply_code": 250,
            "dsn": "2.0.0",
            "reply_text": "Ok: queued as 4XyZ1a2B3cD",
            "next_queue_id": "4XyZ1a2B3cD",
            "delay": 65.0,
            "delays_d": 0.412,
            "size": 5300,
            "text": "R=dnslookup T=remote_smtp CV=yes",
        },
    ),
    (
        f"{OLD_ID} => bob <bob@example.net> R=local_user T=local_delivery",
        {"recipient": "bob", "orig_recipient": "bob@example.net", "relay_host": None},
    ),
    (
        f"{NEW_ID} => ivan@example.net R=dnslookup T=remote_smtp H=mx.example.net "
        '[198.51.100.80] C="250 OK id=1wXz00-00000000Xy1-0aB2"',
        {"next_queue_id": "1wXz00-00000000Xy1-0aB2", "reply_code": 250, "dsn": None},
    ),
    (
        f"{OLD_ID} -> erin@example.org R=dnslookup T=remote_smtp H=mx1.example.org [203.0.113.40]",
        {"kind": "delivery", "status": "sent", "action": "additional"},
    ),
    (
        f"{NEW_ID} >> grace@example.org R=dnslookup T=remote_smtp H=mx1.example.org [203.0.113.40]",
        {"kind": "delivery", "status": "sent", "action": "cutthrough"},
    ),
    (
        f"{NEW_ID} *> heidi@example.org R=dnslookup T=remote_smtp",
        {"kind": "delivery", "status": "suppressed", "recipient": "heidi@example.org"},
    ),
    (
        f"{OLD_ID} ** frank@example.com R=dnslookup T=remote_smtp H=mx.example.com "
        "[192.0.2.25]:25: SMTP error from remote mail server after RCPT TO:<frank@example.com>: "
        "550 5.1.1 <frank@example.com>: Recipient address rejected: User unknown",
        {
            "kind": "delivery",
            "status": "bounced",
            "recipient": "frank@example.com",
            "relay_ip": "192.0.2.25",
            "relay_port": 25,
            "command": "RCPT TO",
            "reply_code": 550,
            "dsn": "5.1.1",
            "reply_text": "<frank@example.com>: Recipient address rejected: User unknown",
        },
    ),
    (
        f"{OLD_ID} ** x@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.25]: "
        "SMTP error from remote mail server after end of data: 554 5.7.1 Spam detected",
        {"command": "end of DATA", "reply_code": 554, "dsn": "5.7.1"},
    ),
    (
        f"{OLD_ID} ** nobody@example.com: Unrouteable address",
        {
            "status": "bounced",
            "recipient": "nobody@example.com",
            "reply_text": "Unrouteable address",
        },
    ),
    (
        f"{OLD_ID} == ivan@example.net R=dnslookup T=remote_smtp defer (-44) "
        "H=mx.example.net [198.51.100.80]: SMTP error from remote mail server after "
        "RCPT TO:<ivan@example.net>: 451 4.7.1 Greylisted",
        {
            "kind": "delivery",
            "status": "deferred",
            "command": "RCPT TO",
            "reply_code": 451,
            "dsn": "4.7.1",
            "reply_text": "Greylisted",
            "relay_host": "mx.example.net",
        },
    ),
    (
        f"{NEW_ID} == judy@example.org R=dnslookup T=remote_smtp defer (-53): "
        "retry time not reached for any host for 'example.org'",
        {
            "status": "deferred",
            "reply_code": None,
            "reply_text": "retry time not reached for any host for 'example.org'",
        },
    ),
    (
        f"{NEW_ID} == judy@example.org R=dnslookup T=remote_smtp defer (111): Connection refused",
        {"status": "deferred", "reply_text": "Connection refused"},
    ),
    (
        f"{OLD_ID} ** mallory@example.org: retry timeout exceeded",
        {"kind": "expired", "status": "expired", "recipient": "mallory@example.org"},
    ),
    (
        f"{OLD_ID} ** m@example.org R=dnslookup T=remote_smtp: all hosts for 'example.org' "
        "have been failing for a long time (and retry time not reached)",
        {"kind": "expired", "status": "expired"},
    ),
    (f"{OLD_ID} Completed", {"kind": "removed", "queue_id": OLD_ID, "delay": None}),
    (f"{NEW_ID} Completed QT=4d1h", {"kind": "removed", "delay": 349200.0}),
    (f"{OLD_ID} Message is frozen", {"kind": "hold", "action": "frozen"}),
    (
        f"{OLD_ID} rejected by local_scan(): 550 5.7.1 Attachment type not allowed",
        {"kind": "reject", "reply_code": 550, "reply_text": "Attachment type not allowed"},
    ),
    (f"{OLD_ID} cancelled by timeout_frozen_after", {"kind": "expired"}),
    (
        "SMTP connection from [192.0.2.10]:41234 I=[203.0.113.5]:25 (TCP/IP connection count = 1)",
        {"kind": "connect", "client_ip": "192.0.2.10", "client_port": 41234, "queue_id": None},
    ),
    (
        "SMTP connection from mail.example.com (helo.example.com) [192.0.2.10]:41234 "
        "I=[203.0.113.5]:25 closed by QUIT",
        {"kind": "disconnect", "client_host": "mail.example.com", "text": "closed by QUIT"},
    ),
    (
        "SMTP connection from (helo.example.com) [192.0.2.10]:41234 lost",
        {"kind": "lost_connection", "helo": "helo.example.com", "command": None},
    ),
    (
        "SMTP connection from [192.0.2.10]:41234 lost while reading message data",
        {"kind": "lost_connection", "command": "DATA"},
    ),
    (
        "H=(spammy.example) [203.0.113.77]:60001 I=[203.0.113.5]:25 F=<promo@spammy.example> "
        "rejected RCPT <nobody@example.net>: Unrouteable address",
        {
            "kind": "reject",
            "action": "reject",
            "command": "RCPT",
            "sender": "promo@spammy.example",
            "recipient": "nobody@example.net",
            "client_ip": "203.0.113.77",
            "helo": "spammy.example",
            "reply_text": "Unrouteable address",
        },
    ),
    (
        "H=(spammy.example) [203.0.113.77]:60001 F=<promo@spammy.example> temporarily "
        "rejected RCPT <erin@example.net>: greylisted",
        {"kind": "reject", "action": "defer", "recipient": "erin@example.net"},
    ),
    (
        "H=(spammy.example) [203.0.113.77]:60001 rejected MAIL <bulk@spammy.example>: "
        "sender address domain is listed",
        {"kind": "reject", "command": "MAIL", "sender": "bulk@spammy.example"},
    ),
    (
        f"{NEW_ID} H=relay.example.org [192.0.2.55]:40100 I=[203.0.113.5]:25 P=esmtp "
        "F=<news@example.org> rejected after DATA: 550 5.7.1 Message rejected as spam",
        {
            "kind": "reject",
            "queue_id": NEW_ID,
            "command": "END-OF-MESSAGE",
            "reply_code": 550,
            "dsn": "5.7.1",
            "reply_text": "Message rejected as spam",
        },
    ),
    (
        'H=[198.51.100.200]:5000 I=[203.0.113.5]:25 rejected connection in "connect" ACL',
        {"kind": "reject", "command": "CONNECT", "client_ip": "198.51.100.200"},
    ),
    (
        "H=mail.example.com [192.0.2.10]:41500 rejected EHLO or HELO example.net: "
        "host name does not match",
        {"kind": "reject", "command": "EHLO", "helo": "example.net"},
    ),
    (
        'SMTP protocol error in "AUTH LOGIN" H=(u.example) [203.0.113.99]:1025 '
        "AUTH command used when not advertised",
        {"kind": "error", "action": "protocol_error", "client_ip": "203.0.113.99"},
    ),
    (
        "SMTP protocol synchronization error (input sent without waiting for greeting): "
        'rejected connection from H=[203.0.113.9]:4000 input="EHLO x"',
        {"kind": "error", "client_ip": "203.0.113.9"},
    ),
    (
        "TLS error on connection from (u.example) [203.0.113.99]:1025 I=[203.0.113.5]:25 "
        "(SSL_accept): error:0A000126:SSL routines::unexpected eof while reading",
        {"kind": "tls_error", "client_ip": "203.0.113.99"},
    ),
    (
        "no host name found for IP address 203.0.113.99",
        {"kind": "warning", "client_ip": "203.0.113.99"},
    ),
    ("Start queue run: pid=820", {"kind": "info"}),
    ("End queue run: pid=820", {"kind": "info"}),
    ("Warning: purging the environment.", {"kind": "warning"}),
    (f"{OLD_ID} Warning: message has lines too long for transport", {"kind": "warning"}),
    ("cwd=/var/spool/exim4 3 args: /usr/sbin/exim4 -bd -q30m", {"kind": "info"}),
    (
        "Connection from [203.0.113.120] refused: too many connections from that IP address",
        {"kind": "reject", "action": "refused", "client_ip": "203.0.113.120"},
    ),
    (
        "SMTP call from (spammy.example) [203.0.113.77]:60001 I=[203.0.113.5]:25 dropped: "
        'too many syntax or protocol errors (last command was "RCPT TO:<x>")',
        {"kind": "disconnect", "action": "dropped", "client_ip": "203.0.113.77"},
    ),
    (
        "SMTP command timeout on connection from (slow.example) [192.0.2.77]:3344",
        {"kind": "timeout", "client_ip": "192.0.2.77"},
    ),
    (
        "unexpected disconnection while reading SMTP command from [192.0.2.7]:33 D=3s",
        {"kind": "lost_connection", "client_ip": "192.0.2.7"},
    ),
    (
        "dovecot_login authenticator failed for (laptop.example.net) [198.51.100.23]:50200 "
        "I=[203.0.113.5]:587: 535 Incorrect authentication data (set_id=carol)",
        {"kind": "sasl_failure", "reply_code": 535, "client_ip": "198.51.100.23"},
    ),
    (
        "Envelope-from: <news@example.org>",
        {"kind": "info", "action": "rejectlog", "sender": "news@example.org"},
    ),
    (
        "Envelope-to: <alice@example.com>, <bob@example.net>",
        {"kind": "info", "recipient": "alice@example.com,bob@example.net"},
    ),
    ("P Received: from relay.example.org ([192.0.2.55])", {"kind": "info", "action": "rejectlog"}),
    ("\tby mx.example.net with esmtp (Exim 4.97.1)", {"kind": "info", "action": "rejectlog"}),
    ("  Subject: March newsletter", {"kind": "info", "action": "rejectlog"}),
]


@pytest.mark.parametrize(("message", "expected"), SHAPES, ids=[s[0][:40] for s in SHAPES])
def test_line_shapes(message: str, expected: dict[str, object]) -> None:
    row = parse_message(message)
    assert subset(row, expected) == expected


@pytest.mark.parametrize(
    "message",
    [
        "",
        "hello world",
        f"{OLD_ID} SA: Action: scanned; score=62",
        "1qRsTu-000AbC <= not an id",  # too short to be a message id
        "H=[192.0.2.1] said nothing of interest",
    ],
)
def test_unrecognised_lines_are_refused(message: str) -> None:
    b = EventBuilder("mainlog")
    assert parse_line(b, None, None, "exim", None, 1, message) is False
    assert len(b) == 0
    assert parse_message(message) == {"kind": None}


def test_parse_line_fills_typed_columns() -> None:
    b = EventBuilder("mainlog")
    message = SHAPES[4][0]
    assert parse_line(b, 1_772_877_600_000_000, "mx1", "exim", 4242, 9, message)
    row = b.events_table().to_pylist()[0]
    assert (row["kind"], row["host"], row["pid"], row["line"]) == ("delivery", "mx1", 4242, 9)
    assert (row["reply_code"], row["relay_port"], row["delay"]) == (250, 25, 65.0)


@pytest.mark.parametrize(
    "message",
    [
        f"{OLD_ID} <= a@example.com H=[192.0.2.1]:\u0661\u0662 P=esmtp S=12x",
        f"{OLD_ID} <= a@example.com S=\u00b2\u00b3 for b@example.com",
        f'{OLD_ID} => b@example.com S={"9" * 40} C="2\u0665\u0660 OK"',
    ],
)
def test_damaged_numbers_never_break_the_table(message: str) -> None:
    """A size or port that is not a plain number is dropped, not carried into the cast."""
    b = EventBuilder("mainlog")
    assert parse_line(b, None, None, "exim", None, 1, message)
    row = b.events_table().to_pylist()[0]
    assert (row["size"], row["client_port"], row["reply_code"]) == (None, None, None)


def _accounted(path: Path) -> tuple[int, int, int, int]:
    c = parse_file_tables(path, year=2026, tz="UTC").counts
    assert c.events + c.unparsed + c.other == c.lines
    return c.lines, c.events, c.unparsed, c.other


def test_mainlog_end_to_end(sample: Path) -> None:
    path = sample / "logs" / "exim_mainlog"
    tables = parse_file_tables(path, year=2026, tz="UTC")
    assert _accounted(path) == (61, 60, 1, 0)
    assert tables.unparsed.column("text").to_pylist()[0].endswith("(sa-exim local_scan)")
    kinds = Counter(tables.events.column("kind").to_pylist())
    assert kinds["from"] == 8
    assert kinds["delivery"] == 11
    assert kinds["removed"] == 8
    assert kinds["reject"] == 6
    assert kinds["expired"] == 2
    events = tables.events.to_pylist()
    statuses = sorted(e["status"] for e in events if e["kind"] == "delivery")
    assert Counter(statuses) == {"sent": 6, "deferred": 3, "bounced": 1, "suppressed": 1}
    # The bounce of 1qRsTu-000AbC-4x is a message of its own that names its original.
    bounce = next(e for e in events if e["kind"] == "from" and e["sender"] == "")
    assert bounce["text"].startswith("R=1qRsTu-000AbC-4x")
    first = events[5]
    assert first["ts"] is not None and first["queue_id"] == "1wXyZa-00000000Abc-12Cd"


def test_rejectlog_end_to_end(sample: Path) -> None:
    path = sample / "logs" / "exim_rejectlog"
    lines, events, _unparsed, _other = _accounted(path)
    assert lines == 32
    tables = parse_file_tables(path, year=2026, tz="UTC")
    rejects = [e for e in tables.events.to_pylist() if e["kind"] == "reject"]
    assert len(rejects) == 8
    assert {e["command"] for e in rejects} == {"RCPT", "MAIL", "END-OF-MESSAGE", "EHLO", "CONNECT"}
    assert events >= 8


def test_rejectlog_detail_lines_are_recognised(sample: Path) -> None:
    """Every unstamped reject log line (envelope, header dump, fold) is Exim's, not garbage."""
    text = (sample / "logs" / "exim_rejectlog").read_text()
    detail = [line for line in text.splitlines() if not line[:4].isdigit()]
    assert len(detail) == 24
    b = EventBuilder("rejectlog")
    for n, line in enumerate(detail, 1):
        assert parse_line(b, None, None, "exim", None, n, line), line
    assert set(b.kind) == {"info"}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    b = EventBuilder("fuzz")
    ok = parse_line(b, None, None, "exim", None, 1, text)
    assert len(b) == (1 if ok else 0)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["<=", "(=", "=>", "->", ">>", "*>", "**", "=="]),
    st.text(alphabet=st.sampled_from(list('ab@.<>[]():" =\\-HCTXPSRQ0123456789')), max_size=200),
)
def test_never_raises_on_message_lines(flag: str, tail: str) -> None:
    b = EventBuilder("fuzz")
    ok = parse_line(b, None, None, "exim", None, 1, f"{NEW_ID} {flag} {tail}")
    assert len(b) == (1 if ok else 0)
    b.events_table()  # captured numbers must cast


HOSTILE = [
    f"{OLD_ID} <= a@b " + "H=(" * 100_000,
    f"{OLD_ID} <= a@b " + 'T="\\' * 100_000,
    f"{OLD_ID} => a@b " + "H=x (y) [" * 20_000,
    f"{OLD_ID} ** a@b " + "R=x " * 50_000 + ": SMTP error from remote mail server after ",
    f"{OLD_ID} == a@b " + ": SMTP error from remote mail server after RCPT TO:" * 20_000,
    "H=" + "[1" * 200_000 + " rejected RCPT <x>: y",
    "SMTP connection from " + "(" * 300_000,
    "x" * 1_000_000,
    f"{NEW_ID} <= " + " " * 1_000_000,
]


@pytest.mark.parametrize("message", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_adversarial_lines_finish_fast(message: str) -> None:
    start = time.perf_counter()
    parse_message(message)
    # Linear work on a few hundred kB takes well under a tenth of this; quadratic takes minutes.
    assert time.perf_counter() - start < 2.0


def test_exim_through_syslog(tmp_path: Path) -> None:
    """Exim logging through syslog (tag exim4) reaches the same parser, stamp from syslog."""
    log = tmp_path / "mail.log"
    log.write_text(
        f"Mar  7 10:00:01 mx1 exim4[812]: {OLD_ID} <= alice@example.com "
        "H=(helo.example.com) [192.0.2.10]:41234 P=esmtp S=2345 id=m@example.com\n"
        f"Mar  7 10:00:02 mx1 exim4[813]: {OLD_ID} => bob@example.net R=dnslookup "
        'T=remote_smtp H=mx.example.net [198.51.100.80] C="250 2.0.0 Ok: queued as 4XyZ1a2B3"\n'
        f"Mar  7 10:00:02 mx1 exim4[813]: {OLD_ID} Completed\n"
        "Mar  7 10:00:03 mx1 CRON[900]: (root) CMD (true)\n"
    )
    tables = parse_file_tables(log, year=2026, tz="UTC")
    c = tables.counts
    assert (c.lines, c.events, c.unparsed, c.other) == (4, 3, 0, 1)
    events = tables.events.to_pylist()
    assert [e["kind"] for e in events] == ["from", "delivery", "removed"]
    assert {e["host"] for e in events} == {"mx1"}
    assert [e["pid"] for e in events] == [812, 813, 813]
    assert events[1]["next_queue_id"] == "4XyZ1a2B3"
