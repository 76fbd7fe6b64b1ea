"""Write the framing and rotation samples under sample_data/logs/ (run from the repository root).

One small, hand-written Postfix traffic (a relayed message, a local delivery, a NOQUEUE reject, a
deferral, a bounce with its notice, some postscreen and daemon chatter, and lines of other
programs) is rendered in every framing mailtrace reads, so tests can check that each framing gives
the same events. A second traffic crosses New Year in a rotated, gzip-compressed set.

    python sample_data/make_logs.py

Every output is deterministic (gzip header times are zero), so rerunning changes nothing.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent / "logs"
HOST = "mx1.example.com"
LOCAL = timezone(timedelta(hours=1))  # the zone the RFC 3164 renderings are written in

# (seconds after 09:00:00 UTC, microseconds, program, pid, message)
TRAFFIC = [
    (0, 12345, "postfix/postscreen", 2101, "CONNECT from [192.0.2.10]:50412 to [203.0.113.25]:25"),
    (0, 512000, "postfix/postscreen", 2101, "PASS OLD [192.0.2.10]:50412"),
    (1, 3000, "postfix/smtpd", 2102, "connect from mail.example.org[192.0.2.10]"),
    (
        1,
        250000,
        "postfix/smtpd",
        2102,
        "Anonymous TLS connection established from mail.example.org[192.0.2.10]: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    ),
    (2, 10, "postfix/smtpd", 2102, "4Qx7Kd1Zr2z9bcd: client=mail.example.org[192.0.2.10]"),
    (
        2,
        200300,
        "postfix/cleanup",
        2103,
        "4Qx7Kd1Zr2z9bcd: message-id=<20260307090002.1234@mail.example.org>",
    ),
    (
        2,
        400000,
        "postfix/qmgr",
        2004,
        "4Qx7Kd1Zr2z9bcd: from=<alice@example.org>, size=4120, nrcpt=2 (queue active)",
    ),
    (
        3,
        100000,
        "postfix/smtpd",
        2102,
        "disconnect from mail.example.org[192.0.2.10] ehlo=2 starttls=1 mail=1 rcpt=2 data=1 "
        "quit=1 commands=8",
    ),
    (
        3,
        700000,
        "postfix/lmtp",
        2105,
        "4Qx7Kd1Zr2z9bcd: to=<bob@example.com>, relay=mx1.example.com[private/dovecot-lmtp], "
        "delay=1.7, delays=0.6/0.01/0.02/1.1, dsn=2.0.0, status=sent (250 2.0.0 <bob@example.com> "
        "kD3bA1bjEmaXUwAA Saved)",
    ),
    (
        4,
        1000,
        "dovecot",
        2201,
        "lmtp(bob@example.com)<2201><kD3bA1bjEmaXUwAA>: "
        "msgid=<20260307090002.1234@mail.example.org>: saved mail to INBOX",
    ),
    (
        5,
        900000,
        "postfix/smtp",
        2106,
        "4Qx7Kd1Zr2z9bcd: to=<carol@example.net>, relay=mx.example.net[198.51.100.7]:25, "
        "delay=3.5, delays=0.6/0.02/0.9/2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
        "9F1E2D3C4B)",
    ),
    (6, 0, "postfix/qmgr", 2004, "4Qx7Kd1Zr2z9bcd: removed"),
    (20, 5, "postfix/smtpd", 2107, "connect from unknown[203.0.113.99]"),
    (
        20,
        880000,
        "postfix/smtpd",
        2107,
        "NOQUEUE: reject: RCPT from unknown[203.0.113.99]: 554 5.7.1 <nobody@example.com>: "
        "Recipient address rejected: Access denied; from=<spam@example.net> "
        "to=<nobody@example.com> proto=ESMTP helo=<bulk.example.net>",
    ),
    (
        21,
        100,
        "postfix/smtpd",
        2107,
        "disconnect from unknown[203.0.113.99] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
    ),
    (30, 0, "CRON", 2301, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"),
    (40, 250000, "postfix/pickup", 2108, "4Qx7Kf0Bb3z9dfg: uid=1000 from=<dave@example.com>"),
    (
        40,
        300000,
        "postfix/cleanup",
        2103,
        "4Qx7Kf0Bb3z9dfg: message-id=<20260307090040.5678@mx1.example.com>",
    ),
    (
        40,
        350000,
        "postfix/qmgr",
        2004,
        "4Qx7Kf0Bb3z9dfg: from=<dave@example.com>, size=912, nrcpt=1 (queue active)",
    ),
    (
        45,
        350000,
        "postfix/smtp",
        2109,
        "4Qx7Kf0Bb3z9dfg: to=<erin@example.org>, relay=none, delay=5, delays=0.05/0.01/5/0, "
        "dsn=4.4.1, status=deferred (connect to mx.example.org[198.51.100.20]:25: Connection "
        "timed out)",
    ),
    (
        50,
        0,
        "postfix/smtp",
        2110,
        "4Qx7Kf0Bb3z9dfg: to=<erin@example.org>, relay=mx2.example.org[198.51.100.21]:25, "
        "delay=9.7, delays=0.05/4.6/0.5/4.5, dsn=5.1.1, status=bounced (host "
        "mx2.example.org[198.51.100.21] said: 550 5.1.1 <erin@example.org>: Recipient address "
        "rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
    ),
    (
        50,
        100000,
        "postfix/bounce",
        2111,
        "4Qx7Kf0Bb3z9dfg: sender non-delivery notification: 4Qx7Kg2Cd4z9ghj",
    ),
    (50, 150000, "postfix/qmgr", 2004, "4Qx7Kf0Bb3z9dfg: removed"),
    (
        50,
        200000,
        "postfix/qmgr",
        2004,
        "4Qx7Kg2Cd4z9ghj: from=<>, size=3050, nrcpt=1 (queue active)",
    ),
    (
        50,
        400000,
        "postfix/local",
        2112,
        "4Qx7Kg2Cd4z9ghj: to=<dave@example.com>, relay=local, delay=0.2, delays=0/0.01/0/0.19, "
        "dsn=2.0.0, status=sent (delivered to mailbox)",
    ),
    (50, 450000, "postfix/qmgr", 2004, "4Qx7Kg2Cd4z9ghj: removed"),
    (
        60,
        0,
        "postfix/anvil",
        2005,
        "statistics: max connection rate 1/60s for (smtp:192.0.2.10) at Mar  7 10:00:01",
    ),
    (
        61,
        0,
        "postfix/smtpd",
        2113,
        "warning: hostname nothing.example.net does not resolve to address 203.0.113.50",
    ),
]

START = datetime(2026, 3, 7, 9, 0, 0, tzinfo=UTC)


def _records() -> list[tuple[datetime, str, int, str]]:
    return [
        (START + timedelta(seconds=s, microseconds=us), program, pid, message)
        for s, us, program, pid, message in TRAFFIC
    ]


def _syslog_line(when: datetime, program: str, pid: int, message: str, zone: timezone) -> str:
    local = when.astimezone(zone)
    return f"{local:%b} {local.day:>2} {local:%H:%M:%S} {HOST} {program}[{pid}]: {message}"


def render_all() -> dict[str, str]:
    """Every framing of the traffic: file name → content."""
    recs = _records()
    rfc3164 = [_syslog_line(w, p, pid, m, LOCAL) for w, p, pid, m in recs]
    rfc3339 = [
        f"{w.astimezone(LOCAL).isoformat(timespec='microseconds')} {HOST} {p}[{pid}]: {m}"
        for w, p, pid, m in recs
    ]
    rfc5424 = []
    for i, (w, p, pid, m) in enumerate(recs):
        sd = '[timeQuality tzKnown="1" isSynced="1"]' if i % 3 == 0 else "-"
        stamp = w.isoformat(timespec="microseconds").replace("+00:00", "Z")
        rfc5424.append(f"<22>1 {stamp} {HOST} {p} {pid} - {sd} {m}")
    short_iso = [
        f"{w.astimezone(LOCAL):%Y-%m-%dT%H:%M:%S%z} {HOST} {p}[{pid}]: {m}" for w, p, pid, m in recs
    ]
    journal = []
    for i, (w, p, pid, m) in enumerate(recs):
        record: dict[str, object] = {
            "__REALTIME_TIMESTAMP": str(int(w.timestamp()) * 1_000_000 + w.microsecond),
            "_HOSTNAME": HOST,
            "SYSLOG_IDENTIFIER": p,
            "_PID": str(pid),
            "PRIORITY": "6",
            "SYSLOG_FACILITY": "2",
            "_TRANSPORT": "syslog",
            # journald writes a message that is not valid UTF-8 as an array of byte values
            "MESSAGE": list(m.encode()) if i == 5 else m,
        }
        journal.append(json.dumps(record, separators=(",", ":")))
    container = [
        json.dumps(
            {
                "log": _syslog_line(w, p, pid, m, UTC) + "\n",
                "stream": "stdout",
                "time": w.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
            }
        )
        for w, p, pid, m in recs
    ]
    return {
        "postfix-rfc3164.log": "\n".join(rfc3164) + "\n",
        "postfix-rfc3339.log": "\n".join(rfc3339) + "\n",
        "postfix-rfc5424.log": "\n".join(rfc5424) + "\n",
        "postfix-journal-short-iso.log": "\n".join(short_iso) + "\n",
        "postfix-journal.json": "\n".join(journal) + "\n",
        "postfix-container.json": "\n".join(container) + "\n",
    }


def _new_year_lines() -> list[list[str]]:
    """Three generations of a log crossing New Year 2025 → 2026 (UTC), oldest first."""
    qids = ["4Qy1Bb1Cc2z0", "4Qy1Dd3Ff4z0", "4Qy1Gg5Hh6z0", "4Qy1Jj7Kk8z0"]
    starts = [
        datetime(2025, 12, 30, 22, 15, 3, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 57, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC),
        datetime(2026, 1, 1, 8, 30, 0, tzinfo=UTC),
    ]
    messages = []
    for qid, start in zip(qids, starts, strict=True):
        steps = [
            (0, "postfix/pickup", 3001, f"{qid}: uid=1000 from=<ops@example.com>"),
            (1, "postfix/cleanup", 3002, f"{qid}: message-id=<{qid}@mx1.example.com>"),
            (
                1,
                "postfix/qmgr",
                3003,
                f"{qid}: from=<ops@example.com>, size=700, nrcpt=1 (queue active)",
            ),
            (
                2,
                "postfix/smtp",
                3004,
                f"{qid}: to=<audit@example.net>, "
                "relay=mx.example.net[198.51.100.7]:25, delay=2.1, delays=0.1/0/1/1, dsn=2.0.0, "
                "status=sent (250 2.0.0 Ok)",
            ),
            (3, "postfix/qmgr", 3003, f"{qid}: removed"),
        ]
        messages.append(
            [_syslog_line(start + timedelta(seconds=s), p, pid, m, UTC) for s, p, pid, m in steps]
        )
    # maillog.2: Dec 30; maillog.1: Dec 31 23:59:57 → Jan 1 00:00:07 (New Year inside); maillog.
    return [messages[0], messages[1] + messages[2], messages[3]]


def main() -> None:
    framings = HERE / "framings"
    framings.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (framings / name).write_text(text, encoding="utf-8")
    rotated = HERE / "rotated"
    rotated.mkdir(parents=True, exist_ok=True)
    old2, old1, live = _new_year_lines()
    for name, lines in (("maillog.2.gz", old2), ("maillog.1.gz", old1)):
        data = ("\n".join(lines) + "\n").encode()
        (rotated / name).write_bytes(gzip.compress(data, mtime=0))
    (rotated / "maillog").write_text("\n".join(live) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
