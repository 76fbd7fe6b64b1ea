"""Bounce messages written here, one per MTA shape, read into per-recipient failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.bounces import parse_bounce
from mailtrace.errors import MailtraceError
from mailtrace.failures import classify_bounce

BOUNCES = Path(__file__).resolve().parent.parent / "sample_data" / "bounces"


def rows(name: str) -> list[dict[str, object]]:
    return classify_bounce((BOUNCES / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # (recipient, reason, status, reply_code, command)
        ("postfix_dsn.eml", [("bob.gone@example.net", "unknown_user", "5.1.1", 550, "RCPT")]),
        (
            "exim_plain.eml",
            [
                ("dave@example.net", "mailbox_full", "5.2.2", 552, "RCPT"),
                ("erin@example.com", "message_too_large", "5.3.4", 552, "DATA"),
            ],
        ),
        ("sendmail_dsn.eml", [("grace@example.org", "blocklisted", "5.7.1", 554, "RCPT")]),
        (
            "qmail.eml",
            [
                ("ivan@example.net", "unknown_user", "5.1.1", 550, None),
                ("judy@example.org", "mailbox_full", "5.2.2", 552, None),
            ],
        ),
        ("microsoft365_ndr.eml", [("leo@example.net", "blocklisted", "5.7.1", 550, None)]),
        ("gmail.eml", [("nina@example.org", "auth_failure", "5.7.26", 550, None)]),
        ("yahoo.eml", [("peggy@example.net", "bad_reputation", "4.7.0", 421, "RCPT")]),
        ("amazon_ses.eml", [("rupert@example.net", "suppressed", "5.1.1", None, None)]),
        ("vacation.eml", [("sybil@example.org", "auto_reply", None, None, None)]),
        ("arf.eml", [("uma@example.net", "feedback_report", None, None, None)]),
        ("delayed_dsn.eml", [("walter@example.org", "network_error", "4.4.1", None, None)]),
        ("broken_mime.eml", [("yvonne@example.net", "unknown_user", "5.1.1", 550, "RCPT")]),
    ],
)
def test_each_bounce_shape_gives_its_recipients(
    name: str, expected: list[tuple[object, ...]]
) -> None:
    got = [
        (r["recipient"], r["reason"], r["status"], r["reply_code"], r["command"])
        for r in rows(name)
    ]
    assert got == expected


def test_provider_family_and_nature_come_with_each_row() -> None:
    (ms,) = rows("microsoft365_ndr.eml")
    assert (ms["provider"], ms["provider_code"], ms["family"], ms["nature"]) == (
        "microsoft",
        "S3150",
        "sender",
        "S",
    )
    assert ms["remote_host"] == "mx.example-net.mail.protection.outlook.com"
    (gm,) = rows("gmail.eml")
    assert (gm["provider"], gm["provider_code"]) == ("gmail", "5.7.26")
    (pf,) = rows("postfix_dsn.eml")
    assert pf["hardbounce"] is True
    assert "User unknown in virtual mailbox table" in str(pf["diagnostic"])


def test_kinds_tell_failures_from_delays_replies_and_reports() -> None:
    kinds = {p.name: parse_bounce(p.read_bytes()).kind for p in BOUNCES.glob("*.eml")}
    assert kinds["postfix_dsn.eml"] == "failure"
    assert kinds["delayed_dsn.eml"] == "delay"
    assert kinds["vacation.eml"] == "auto_reply"
    assert kinds["arf.eml"] == "feedback"
    assert parse_bounce((BOUNCES / "arf.eml").read_bytes()).recipients[0].feedback_type == "abuse"


def test_delivered_report_is_not_a_failure() -> None:
    raw = (BOUNCES / "postfix_dsn.eml").read_bytes()
    raw = raw.replace(b"Action: failed", b"Action: delivered").replace(
        b"Status: 5.1.1", b"Status: 2.0.0"
    )
    (row,) = classify_bounce(raw)
    assert (row["reason"], row["family"], row["nature"]) == ("delivered", "not_failure", None)


def test_ordinary_mail_is_not_a_bounce() -> None:
    raw = b"From: a@example.com\nTo: b@example.org\nSubject: lunch?\n\nNoon at the usual place?\n"
    assert classify_bounce(raw) == []
    assert parse_bounce(raw).kind == "not_bounce"


def test_a_bounce_naming_nobody_gives_no_rows() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to Sender\n\n"
        b"Your message could not be delivered.\n"
    )
    assert classify_bounce(raw) == []
    assert parse_bounce(raw).kind == "failure"


def test_a_five_megabyte_attachment_costs_little() -> None:
    head = (BOUNCES / "postfix_dsn.eml").read_bytes()
    boundary = b"--4F1C2A0123.1772529302/mail.example.com--"
    attachment = (
        b"--4F1C2A0123.1772529302/mail.example.com\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
        * 70_000
    )
    raw = head.replace(boundary, attachment + boundary)
    assert len(raw) > 5_000_000
    start = time.perf_counter()
    got = classify_bounce(raw)
    assert time.perf_counter() - start < 5
    assert [(r["recipient"], r["reason"]) for r in got] == [
        ("bob.gone@example.net", "unknown_user")
    ]


def test_a_huge_text_body_is_read_only_as_far_as_needed() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n\n"
        b"<zed@example.org>:\nRemote host said: 550 5.1.1 No such user\n\n"
        + b"filler line with words and <brackets> and user@ signs\n"
        * 100_000
    )
    start = time.perf_counter()
    got = classify_bounce(raw)
    assert time.perf_counter() - start < 5
    assert got[0]["recipient"] == "zed@example.org"
    assert got[0]["reason"] == "unknown_user"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/report; boundary=\n\n--\n--\n",
        b"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822;\nAction:\n",
        b"Content-Type: text/plain; charset=x-unknown-charset\n\n\xe9\xe8 mailer-daemon",
        b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\n--a--",
    ],
)
def test_damaged_input_never_raises(raw: bytes) -> None:
    assert isinstance(classify_bounce(raw), list)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    got = classify_bounce(b"From: MAILER-DAEMON@example.com\nSubject: failure notice\n\n" + raw)
    assert all("reason" in r for r in got)


def test_bounce_command_reads_directories_and_mbox_files(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mailtrace.cli import app

    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(
        b"From MAILER-DAEMON Tue Mar  3 10:15:02 2026\n"
        + (BOUNCES / "qmail.eml").read_bytes()
        + b"\nFrom MAILER-DAEMON Wed Mar  4 08:01:12 2026\n"
        + (BOUNCES / "yahoo.eml").read_bytes()
    )
    result = CliRunner().invoke(app, ["bounce", "--json", str(mbox)])
    assert result.exit_code == 0, result.output
    got = [
        (r["source"].rsplit("#", 1)[-1], r["recipient"], r["reason"])
        for r in json.loads(result.stdout)
    ]
    assert got == [
        ("1", "ivan@example.net", "unknown_user"),
        ("1", "judy@example.org", "mailbox_full"),
        ("2", "peggy@example.net", "bad_reputation"),
    ]
    table = CliRunner().invoke(app, ["bounce", str(BOUNCES)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "bob.gone@example.net" in table.stdout and "S3150" in table.stdout


def test_bounce_command_escapes_markup_and_reports_missing_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mailtrace.cli import app

    evil = tmp_path / "evil.eml"
    evil.write_bytes(
        b"From: MAILER-DAEMON@example.net\nSubject: failure notice\n\n"
        b"<x@example.org>:\nRemote host said: 550 5.1.1 [bold red]No such user[/bold red]\n"
    )
    result = CliRunner().invoke(app, ["bounce", str(evil)], env={"COLUMNS": "200"})
    assert "[bold red]No such user" in result.stdout
    missing = CliRunner().invoke(app, ["bounce", str(tmp_path / "nope.eml")])
    assert missing.exit_code == 1
    assert not isinstance(missing.exception, MailtraceError)
    assert "no such file or directory" in missing.stderr
    partial = CliRunner().invoke(app, ["bounce", str(evil), str(tmp_path / "nope.eml")])
    assert partial.exit_code == 3
    assert "x@example.org" in partial.stdout


def test_a_bounce_naming_thousands_of_recipients_is_capped() -> None:
    from mailtrace.bounces import MAX_RECIPIENTS

    body = b"".join(
        b"<user%d@example.org>:\nRemote host said: 550 5.1.1 No such user\n\n" % i
        for i in range(3000)
    )
    start = time.perf_counter()
    got = classify_bounce(b"From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n\n" + body)
    assert time.perf_counter() - start < 10
    assert len(got) == MAX_RECIPIENTS
    assert got[0]["recipient"] == "user0@example.org"


def _dsn(status: str, diagnostic: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mail.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.example.com\n\n"
        "Final-Recipient: rfc822; kim@example.net\nAction: failed\n"
        f"Status: {status}\nDiagnostic-Code: smtp; {diagnostic}\n\n--B--\n"
    ).encode()


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        # The MTA added no code of its own: the server's specific one is the status.
        ("5.0.0", "550 5.7.25 Reverse DNS required for 192.0.2.7", ("5.7.25", "reverse_dns")),
        ("5.0.0", "554 5.6.0 Scored as spam", ("5.6.0", "spam_content")),
        # A specific Status stands, and a reply of the other class does not replace it.
        ("5.1.1", "550 5.7.1 User unknown", ("5.1.1", "unknown_user")),
        ("5.0.0", "451 4.4.7 Connection timed out", ("5.0.0", "network_error")),
    ],
)
def test_a_bare_dsn_status_gives_way_to_the_servers_code(
    status: str, diagnostic: str, expected: tuple[str, str]
) -> None:
    [row] = classify_bounce(_dsn(status, diagnostic))
    assert (row["status"], row["reason"]) == expected
