"""SMTP transcripts into REPLIES: every shape, pairing, TLS, AUTH masking, damage and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailtrace.cli import app
from mailtrace.errors import InputError, UsageError
from mailtrace.logs.transcript import (
    MASK,
    classify_replies,
    detect_format,
    parse_transcript,
    parse_transcript_file,
    read_transcript,
    transcript_text,
)
from mailtrace.schema import FAILURES, REPLIES
from tests.conftest import ROOT, SAMPLE

TRANSCRIPTS = SAMPLE / "transcripts"
runner = CliRunner()


def rows(name: str) -> list[dict[str, Any]]:
    table = parse_transcript_file(TRANSCRIPTS / name)
    assert table.schema == REPLIES
    return table.to_pylist()


def pairs(name: str) -> list[tuple[str | None, int | None]]:
    return [(r["command"], r["reply_code"]) for r in rows(name)]


# -- swaks -----------------------------------------------------------------------------------------


def test_swaks_plain_session() -> None:
    got = rows("swaks-plain.txt")
    assert [(r["command"], r["reply_code"]) for r in got] == [
        ("CONNECT", 220),
        ("EHLO", 250),
        ("MAIL", 250),
        ("RCPT", 250),
        ("DATA", 354),
        (".", 250),
        ("QUIT", 221),
    ]
    assert got[0]["argument"] == "mx1.example.com:25"
    assert got[0]["text"] == "mx1.example.com ESMTP Postfix (Ubuntu)"
    # The EHLO reply's lines are joined, each without its "250-".
    assert got[1]["text"].split("\n") == [
        "mx1.example.com",
        "PIPELINING",
        "SIZE 52428800",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
    ]
    assert got[2]["argument"] == "FROM:<reports@example.org>"
    assert (got[2]["enhanced"], got[2]["text"]) == ("2.1.0", "Ok")
    assert got[5]["text"] == "Ok: queued as 4Q7XkT2bLmz1"
    assert [r["seq"] for r in got] == list(range(1, 8))
    assert {r["session"] for r in got} == {"swaks-plain.txt"}
    assert {r["remote_host"] for r in got} == {"mx1.example.com"}
    assert not any(r["tls"] for r in got)
    # The message content is not a command.
    assert "Subject:" not in " ".join(str(r["argument"]) for r in got)


def test_swaks_starttls_flips_tls_and_auth_login_is_masked() -> None:
    got = rows("swaks-starttls-auth.txt")
    assert [r["command"] for r in got] == [
        "CONNECT",
        "EHLO",
        "STARTTLS",
        "EHLO",
        "AUTH",
        "AUTH-RESPONSE",
        "AUTH-RESPONSE",
        "MAIL",
        "RCPT",
        "DATA",
        ".",
        "QUIT",
    ]
    assert [r["tls"] for r in got] == [False, False, False] + [True] * 9
    assert [r["reply_code"] for r in got[4:7]] == [334, 334, 235]
    assert got[4]["argument"] == "LOGIN"
    assert got[5]["argument"] == got[6]["argument"] == MASK
    cells = json.dumps(got, default=str)
    assert "ZXJpbkBleGFtcGxlLm9yZw==" not in cells  # the user name
    assert "aHVudGVyMg==" not in cells  # the password
    assert "STARTTLS" not in got[3]["text"]  # the EHLO after TLS no longer offers it


def test_swaks_pipelining_pairs_replies_in_order() -> None:
    got = rows("swaks-pipelining.txt")
    rcpts = [(r["argument"], r["reply_code"], r["text"]) for r in got if r["command"] == "RCPT"]
    assert rcpts == [
        ("TO:<dev@example.net>", 250, "Accepted"),
        ("TO:<gone@example.net>", 550, "Unrouteable address"),
        ("TO:<ops@example.net>", 250, "Accepted"),
    ]
    assert [r["command"] for r in got] == [
        "CONNECT",
        "EHLO",
        "MAIL",
        "RCPT",
        "RCPT",
        "RCPT",
        "DATA",
        ".",
        "QUIT",
    ]
    assert got[6]["reply_code"] == 354 and got[7]["text"] == "OK id=1vQx2a-00AbCd-7Z"


def test_swaks_multiline_550_is_joined_without_repeated_codes() -> None:
    got = rows("swaks-rcpt-550.txt")
    rcpt = got[3]
    assert (rcpt["command"], rcpt["argument"]) == ("RCPT", "TO:<no.such.person@example.com>")
    assert (rcpt["reply_code"], rcpt["enhanced"]) == (550, "5.1.1")
    assert rcpt["text"] == (
        "The email account that you tried to reach does not exist. Please try\n"
        "double-checking the recipient's email address for typos or\n"
        "unnecessary spaces. For more information, visit the help pages."
    )
    assert pairs("swaks-rcpt-550.txt")[-1] == ("QUIT", 221)


def test_swaks_451_tempfail() -> None:
    rcpt = rows("swaks-451-tempfail.txt")[3]
    assert (rcpt["command"], rcpt["reply_code"], rcpt["enhanced"]) == ("RCPT", 451, "4.7.1")
    assert "Greylisted" in rcpt["text"]


def test_swaks_connection_refused_is_one_unanswered_connect() -> None:
    got = rows("swaks-connect-refused.txt")
    assert len(got) == 1
    row = got[0]
    assert (row["command"], row["argument"], row["reply_code"]) == (
        "CONNECT",
        "192.0.2.80:25",
        None,
    )
    assert row["remote_host"] == "192.0.2.80"
    assert row["text"].endswith("connect: Connection refused")


def test_swaks_time_lapse_and_suppressed_data() -> None:
    got = rows("swaks-time-lapse.txt")
    assert [r["elapsed_s"] for r in got] == [0.031, 0.002, 0.001, 0.004, 0.001, 1.25, 0.001]
    # "-> 9 lines sent" (swaks -n) stands for the message: the next reply answers its end.
    assert (got[5]["command"], got[5]["reply_code"], got[5]["enhanced"]) == (".", 554, "5.7.1")
    assert all(r["ts"] is None for r in got)


def test_swaks_tls_on_connect_and_raw_dumps() -> None:
    text = "\n".join(
        [
            "=== Trying [2001:db8::25]:465...",
            "=== Connected to 2001:db8::25.",
            "=== TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256",
            "<   0000: 32 32 30 20  6D 78 2E 65  78 61 6D 70  6C 65 0D 0A    220.mx.example..",
            "<~  220 mx.example.com ESMTP",
            " ~> EHLO client.example.org",
            "  > 0000: 45 48 4C 4F  0D 0A                                EHLO..",
            "<~  250 mx.example.com",
            " ~> QUIT",
            "<~* 421 4.4.2 timeout",
        ]
    )
    got = parse_transcript(text).to_pylist()
    assert [(r["command"], r["reply_code"], r["tls"]) for r in got] == [
        ("CONNECT", 220, True),
        ("EHLO", 250, True),
        ("QUIT", 421, True),
    ]
    assert got[0]["remote_host"] == "2001:db8::25"


def test_swaks_several_sessions_are_numbered() -> None:
    one = (TRANSCRIPTS / "swaks-451-tempfail.txt").read_text()
    two = (TRANSCRIPTS / "swaks-connect-refused.txt").read_text()
    got = parse_transcript(one + two, session="run").to_pylist()
    assert {r["session"] for r in got} == {"run#1", "run#2"}
    assert [r["seq"] for r in got if r["session"] == "run#2"] == [1]


# -- smtplib ---------------------------------------------------------------------------------------


def test_smtplib_debug1() -> None:
    got = rows("smtplib-debug1.txt")
    assert [(r["command"], r["reply_code"]) for r in got] == [
        ("CONNECT", 220),
        ("EHLO", 250),
        ("MAIL", 250),
        ("RCPT", 250),
        ("RCPT", 452),
        ("DATA", 354),
        (".", 250),
        ("QUIT", 221),
    ]
    assert got[0]["argument"] == "mx.example.com:25"
    assert got[2]["argument"] == "FROM:<zoë@example.org> size=312 SMTPUTF8"  # UTF-8 kept
    assert (got[4]["enhanced"], got[4]["text"]) == (
        "4.2.2",
        "<full@example.com>: Recipient address rejected: Mailbox full",
    )
    assert got[1]["text"].startswith("mx.example.com\nPIPELINING\n")
    assert all(r["elapsed_s"] is None for r in got)  # level 1 has no times


def test_smtplib_debug2_starttls_times_and_masked_auth() -> None:
    got = rows("smtplib-debug2-starttls.txt")
    assert [r["command"] for r in got] == [
        "EHLO",
        "STARTTLS",
        "EHLO",
        "AUTH",
        "MAIL",
        "RCPT",
        "DATA",
        ".",
        "RSET",
        "QUIT",
    ]
    assert [r["tls"] for r in got] == [False, False] + [True] * 8
    assert got[3]["argument"] == f"PLAIN {MASK}"
    assert "AGFwcDAy" not in json.dumps(got, default=str)
    assert (got[7]["reply_code"], got[7]["enhanced"]) == (552, "5.3.4")
    assert got[7]["elapsed_s"] == pytest.approx(0.35, abs=0.001)
    assert all(r["elapsed_s"] is not None and r["elapsed_s"] >= 0 for r in got)
    assert all(r["ts"] is None for r in got)  # no date given


def test_smtplib_debug2_with_a_day_has_utc_timestamps() -> None:
    raw = (TRANSCRIPTS / "smtplib-debug2-starttls.txt").read_text()
    got = parse_transcript(raw, day=date(2026, 3, 9)).to_pylist()
    assert got[0]["ts"] == datetime(2026, 3, 9, 9, 30, 5, 104725, tzinfo=UTC)


def test_smtplib_refused_connection_and_level2_time_without_fraction() -> None:
    text = "\n".join(
        [
            "10:00:00 connect: to ('192.0.2.7', 25) None",
            "Traceback (most recent call last):",
            '  File "send.py", line 4, in <module>',
            "ConnectionRefusedError: [Errno 111] Connection refused",
        ]
    )
    got = parse_transcript(text).to_pylist()
    assert [(r["command"], r["reply_code"], r["remote_host"]) for r in got] == [
        ("CONNECT", None, "192.0.2.7")
    ]
    assert got[0]["text"] == "ConnectionRefusedError: [Errno 111] Connection refused"


# -- dialogues and bounces -------------------------------------------------------------------------


def test_sendmail_bounce_transcript() -> None:
    got = rows("bounce-sendmail.eml")
    assert [
        (r["session"], r["command"], r["argument"], r["reply_code"], r["remote_host"]) for r in got
    ] == [
        # The reply after ">>> DATA" answered the pipelined RCPT the note below it names.
        ("bounce-sendmail.eml#1", "RCPT", "TO:<hank@example.net>", 550, "mx1.example.net"),
        ("bounce-sendmail.eml#1", "DATA", None, 503, "mx1.example.net"),
        ("bounce-sendmail.eml#2", "RCPT", "To:<iris@example.com>", 452, "mx.example.com"),
    ]
    # Quoted-printable soft line breaks are undone before the transcript is read.
    assert got[2]["text"] == (
        "The email account that you tried to reach is over quota and inactive.\n"
        "Please direct the recipient to the help centre."
    )
    assert got[2]["enhanced"] == "4.2.2"


def test_postfix_postmaster_transcript_joins_wrapped_lines() -> None:
    got = rows("postfix-postmaster-transcript.eml")
    assert [(r["command"], r["reply_code"]) for r in got] == [
        ("CONNECT", 220),
        ("EHLO", 250),
        ("MAIL", 250),
        ("RCPT", 554),
        ("RCPT", 554),
        ("QUIT", 221),
    ]
    assert got[3]["text"] == (
        "Service unavailable; Client host [203.0.113.77] blocked using "
        "zen.spamhaus.example; https://www.spamhaus.example/query/ip/203.0.113.77"
    )


def test_exim_bounce_paragraphs() -> None:
    got = rows("exim-bounce.eml")
    assert [(r["command"], r["argument"], r["reply_code"], r["enhanced"]) for r in got] == [
        ("RCPT", "TO:<lena@example.net>", 550, "5.7.26"),
        (".", None, 552, "5.3.4"),
    ]
    assert [r["remote_host"] for r in got] == ["mx.example.net", "mx.example.com"]
    assert got[0]["text"] == (
        "Unauthenticated email from example.org is not accepted due to domain's DMARC policy."
    )


def test_cs_dialogue_lmtp_answers_each_recipient_after_data() -> None:
    got = rows("dialogue-cs.txt")
    assert [(r["command"], r["argument"], r["reply_code"]) for r in got][5:] == [
        ("DATA", None, 354),
        (".", "nora@example.com", 250),
        (".", "omar@example.com", 452),
        ("QUIT", None, 221),
    ]
    assert got[1]["command"] == "LHLO"


def test_arrow_dialogue_without_greeting() -> None:
    assert pairs("dialogue-arrows.txt") == [("EHLO", 250), ("MAIL", 550), ("QUIT", 221)]


def test_auth_plain_in_a_dialogue_is_masked() -> None:
    text = "S: 220 x\nC: AUTH PLAIN AGJvYgBzM2NyZXQ=\nS: 235 2.7.0 ok\nC: AUTH LOGIN Ym9i\nS: 334 x"
    got = parse_transcript(text).to_pylist()
    assert [r["argument"] for r in got[1:]] == [f"PLAIN {MASK}", f"LOGIN {MASK}"]
    assert "AGJvYgBzM2NyZXQ=" not in json.dumps(got)


# -- damage, detection, entry points ---------------------------------------------------------------


def test_cut_mid_reply_keeps_what_was_read() -> None:
    raw = (TRANSCRIPTS / "swaks-rcpt-550.txt").read_text()
    cut = raw[: raw.index("<** 550-5.1.1 double")]
    got = parse_transcript(cut).to_pylist()
    assert [r["command"] for r in got] == ["CONNECT", "EHLO", "MAIL", "RCPT"]
    assert got[3]["reply_code"] == 550  # every line of a reply carries its code
    assert got[3]["text"].startswith("The email account that you tried to reach")


def test_cut_after_pipelined_commands_leaves_null_replies() -> None:
    raw = (TRANSCRIPTS / "swaks-pipelining.txt").read_text()
    cut = raw[: raw.index("<-  250 Accepted")]
    got = parse_transcript(cut).to_pylist()
    assert [(r["command"], r["reply_code"]) for r in got] == [
        ("CONNECT", 220),
        ("EHLO", 250),
        ("MAIL", 250),
        ("RCPT", None),
        ("RCPT", None),
        ("RCPT", None),
        ("DATA", None),
    ]


def test_cut_mid_line_is_an_unanswered_command() -> None:
    got = parse_transcript("<-  220 mx.example.com\n -> RCPT TO:<a@example.com>\n<** 5").to_pylist()
    assert [(r["command"], r["reply_code"]) for r in got] == [("CONNECT", 220), ("RCPT", None)]


def test_detect_format() -> None:
    assert detect_format((TRANSCRIPTS / "swaks-plain.txt").read_text().split("\n")) == "swaks"
    assert detect_format((TRANSCRIPTS / "smtplib-debug1.txt").read_text().split("\n")) == "smtplib"
    assert detect_format(["C: QUIT", "S: 221 bye"]) == "dialogue"
    assert detect_format(["no transcript here"]) == "dialogue"


def test_text_without_a_dialogue_is_an_empty_table() -> None:
    table = parse_transcript("Hello,\nthe meeting moved to Tuesday.\n")
    assert table.num_rows == 0 and table.schema == REPLIES


def test_forced_format_and_unknown_format() -> None:
    assert parse_transcript(" -> QUIT\n<-  221 bye", format="smtplib").num_rows == 0
    with pytest.raises(UsageError):
        parse_transcript("", format="telnet")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.txt"):
        parse_transcript_file(tmp_path / "nope.txt")


def test_transcript_text_decodes_base64_parts_and_keeps_plain_text() -> None:
    message = (
        b"From: MAILER-DAEMON@example.org\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; boundary="b"\n\n--b\nContent-Type: text/plain\n'
        b"Content-Transfer-Encoding: base64\n\nPj4+IFFVSVQKPDw8IDIyMSBCeWUK\n--b--\n"
    )
    assert transcript_text(message).strip() == ">>> QUIT\n<<< 221 Bye"
    assert transcript_text(b"C: QUIT\n\xff") == "C: QUIT\n\ufffd"


def test_surrogates_and_control_characters_do_not_break_the_table() -> None:
    got = parse_transcript("S: 220 \ud800 \x00 hi\nC: EHLO \udfff").to_pylist()
    assert got[0]["reply_code"] == 220 and got[1]["command"] == "EHLO"


# -- hostile input ---------------------------------------------------------------------------------

_LINE_STARTS = [
    " -> ",
    " ~> ",
    "<-  ",
    "<~  ",
    "<** ",
    "=== ",
    "*** ",
    "send: ",
    "reply: b'",
    "12:00:00.5 reply: ",
    "connect: to ('",
    "C: ",
    "S: ",
    ">>> ",
    "<<< ",
    " Out: ",
    " In:  ",
    "     ",
    "    SMTP error from remote mail server after ",
    "... while talking to ",
    "550 5.1.1 <",
    "",
]
_lines = st.lists(
    st.tuples(
        st.sampled_from(_LINE_STARTS),
        st.one_of(
            st.text(max_size=40),
            st.from_regex(r"[245]\d\d[ -]([245]\.\d\.\d )?[a-z .]{0,20}", fullmatch=True),
            st.sampled_from(["DATA", ".", "STARTTLS", "AUTH LOGIN", "LHLO x", "RCPT TO:<a@b>"]),
        ),
    ).map("".join),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_lines, st.sampled_from(["auto", "swaks", "smtplib", "dialogue"]))
def test_never_raises_on_transcript_like_lines(lines: list[str], fmt: str) -> None:
    table = parse_transcript("\n".join(lines), format=fmt)
    assert table.schema == REPLIES
    codes = [c for c in table.column("reply_code").to_pylist() if c is not None]
    assert all(0 <= c <= 999 for c in codes)
    by_session: dict[str, list[int]] = {}
    for row in table.select(["session", "seq"]).to_pylist():
        by_session.setdefault(row["session"], []).append(row["seq"])
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_session.values())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    assert parse_transcript(text).schema == REPLIES


@pytest.mark.parametrize(
    "line",
    [
        "<-  250 " + "a" * 1_000_000,
        " -> RCPT TO:<" + "x" * 1_000_000,
        "reply: b'250 " + "\\x41" * 250_000 + "'",
        ">>> " + " " * 1_000_000 + "x",
        "    SMTP error from remote mail server after " + " " * 1_000_000 + "x",
        "... while talking to " + "a:" * 500_000,
        "S: 550 " + "5.1.1 " * 160_000,
        "C: AUTH " + "<" * 1_000_000,
    ],
    ids=["reply", "command", "smtplib", "spaces", "exim", "talking", "enhanced", "angles"],
)
def test_a_one_megabyte_line_is_read_in_bounded_time(line: str) -> None:
    start = time.perf_counter()
    table = parse_transcript("S: 220 mx.example.com\n" + line + "\nS: 221 bye\n")
    assert time.perf_counter() - start < 5
    assert table.schema == REPLIES


# -- classification and the CLI --------------------------------------------------------------------


def test_failed_replies_are_classified_and_others_are_not() -> None:
    table = read_transcript(TRANSCRIPTS / "swaks-rcpt-550.txt")
    assert table.schema.names == REPLIES.names + FAILURES.names
    got = {r["command"]: (r["category"], r["family"]) for r in table.to_pylist()}
    assert got["RCPT"] == ("unknown_user", "recipient")
    assert got["EHLO"] == (None, None)
    refused = read_transcript(TRANSCRIPTS / "swaks-connect-refused.txt").to_pylist()[0]
    assert (refused["category"], refused["family"]) == ("network_error", "transport")
    # An unanswered command (a cut transcript) is not a failure to classify.
    cut = classify_replies(parse_transcript("S: 220 x\nC: QUIT")).to_pylist()
    assert cut[1]["category"] is None


def test_cli_table() -> None:
    result = runner.invoke(app, ["transcript", str(TRANSCRIPTS / "swaks-rcpt-550.txt")])
    assert result.exit_code == 0, result.output
    assert "swaks-rcpt-550.txt" in result.output
    for shown in ("CONNECT", "RCPT", "550", "5.1.1", "unknown_user", "recipient"):
        assert shown in result.output
    assert "aspmx.example.com" in result.output


def test_cli_json_has_rows_and_classification() -> None:
    files = [str(TRANSCRIPTS / "swaks-plain.txt"), str(TRANSCRIPTS / "bounce-sendmail.eml")]
    result = runner.invoke(app, ["transcript", "--json", *files])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data) == 7 + 3
    assert set(data[0]) == set(REPLIES.names) | set(FAILURES.names)
    failed = [(d["command"], d["reply_code"], d["category"]) for d in data if d["category"]]
    assert failed == [
        ("RCPT", 550, "unknown_user"),
        ("DATA", 503, "protocol_error"),
        ("RCPT", 452, "mailbox_full"),
    ]


def test_cli_escapes_hostile_markup(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.txt"
    hostile.write_text(
        "S: 220 [bold]mx[/bold]\nC: RCPT TO:<[link=http://evil.example]x[/link]>\n"
        "S: 550 5.1.1 [red]no such user[/red]\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mailtrace", "transcript", str(hostile)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[red]no such user[/red]" in result.stdout
    assert "[bold]mx[/bold]" in result.stdout
    assert "[link=http://evil.example]x[/link]" in result.stdout


def test_cli_missing_and_empty_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "letter.txt"
    empty.write_text("Dear all, lunch is at noon.\n", encoding="utf-8")
    good = str(TRANSCRIPTS / "dialogue-arrows.txt")
    partial = runner.invoke(app, ["transcript", good, str(empty)])
    assert partial.exit_code == 3
    assert "no SMTP dialogue found" in partial.output
    missing = runner.invoke(app, ["transcript", str(tmp_path / "gone.txt")])
    assert missing.exit_code == 1
    assert "gone.txt" in missing.output
    bad = runner.invoke(app, ["transcript", "--format", "telnet", good])
    assert isinstance(bad.exception, UsageError)  # main() turns it into exit code 2


def test_swaks_arrow_variants_and_unexpected_sends() -> None:
    text = (
        "<-- 220 mx.example.com\n --> EHLO a.example.org\n<-- 250 ok\n"
        "**> RCPT TO:<b@example.com>\n<** 503 5.5.1 need MAIL"
    )
    got = parse_transcript(text).to_pylist()
    assert [(r["command"], r["reply_code"]) for r in got] == [
        ("CONNECT", 220),
        ("EHLO", 250),
        ("RCPT", 503),
    ]


def test_cli_reads_stdin_directories_and_dates(tmp_path: Path) -> None:
    piped = runner.invoke(app, ["transcript", "--json", "-"], input="C: QUIT\nS: 221 2.0.0 Bye\n")
    assert piped.exit_code == 0, piped.output
    assert [(d["session"], d["command"]) for d in json.loads(piped.output)] == [("<stdin>", "QUIT")]
    folder = runner.invoke(app, ["transcript", "--json", str(TRANSCRIPTS)])
    assert folder.exit_code == 0, folder.output
    sessions = {d["session"].split("#")[0] for d in json.loads(folder.output)}
    assert sessions == {p.name for p in TRANSCRIPTS.iterdir()}
    dated = runner.invoke(
        app,
        [
            "transcript",
            "--json",
            "--date",
            "2026-03-09",
            str(TRANSCRIPTS / "smtplib-debug2-starttls.txt"),
        ],
    )
    assert json.loads(dated.output)[0]["ts"] == "2026-03-09 09:30:05.104725+00:00"
    wrong = runner.invoke(app, ["transcript", "--date", "2026-13-01", "-"], input="")
    assert isinstance(wrong.exception, UsageError)


def test_postfix_bounce_paragraphs() -> None:
    got = rows("postfix-bounce.eml")
    assert [(r["command"], r["argument"], r["reply_code"], r["enhanced"]) for r in got] == [
        (".", None, 550, "5.7.26"),
        ("RCPT", "TO:<quinn@example.net>", 550, "5.1.1"),
        ("CONNECT", None, 554, "5.7.1"),  # refused to talk to me: the greeting
    ]
    assert [r["remote_host"] for r in got] == ["mx.example.com", "mx.example.net", "mx.example.edu"]
    # Postfix flattened the two-line reply; it is split back at the repeated code.
    assert got[0]["text"] == (
        "This mail is unauthenticated, which poses a security risk to the sender and recipients.\n"
        "Please set up SPF and DKIM for example.org."
    )
    assert got[1]["text"].endswith("User unknown in virtual mailbox table")


def test_postfix_connect_failure_paragraph() -> None:
    text = (
        "<sam@example.com>: connect to mx.example.com[192.0.2.25]:25: Connection timed\n    out\n"
    )
    got = parse_transcript(text).to_pylist()
    assert [(r["command"], r["argument"], r["reply_code"], r["text"]) for r in got] == [
        ("CONNECT", "mx.example.com[192.0.2.25]:25", None, "Connection timed out")
    ]


def test_compressed_transcript_and_stray_nul(tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "session.txt.gz"
    packed.write_bytes(gzip.compress((TRANSCRIPTS / "dialogue-arrows.txt").read_bytes()))
    assert parse_transcript_file(packed).column("reply_code").to_pylist() == [250, 550, 221]
    nul = tmp_path / "nul.eml"
    nul.write_bytes(b"Subject: x\n\n\x00\n>>> QUIT\n<<< 221 bye\n")
    assert parse_transcript_file(nul).column("command").to_pylist() == ["QUIT"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([b"base64", b"quoted-printable", b"x-uuencode"]))
def test_mime_bounces_never_raise(body: bytes, encoding: bytes) -> None:
    raw = (
        b"From: MAILER-DAEMON@example.org\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; boundary="b"\n\n--b\n'
        b"Content-Type: text/plain; charset=x-unknown\nContent-Transfer-Encoding: "
        + encoding
        + b"\n\n"
        + body
        + b"\n--b--\n"
    )
    assert parse_transcript(transcript_text(raw)).schema == REPLIES


def test_smtplib_older_connect_line_and_ipv6() -> None:
    text = "connect: ('2001:db8::25', 25)\nreply: b'220 mx.example.com ESMTP\\r\\n'\n"
    got = parse_transcript(text).to_pylist()
    assert [(r["command"], r["argument"], r["remote_host"], r["reply_code"]) for r in got] == [
        ("CONNECT", "[2001:db8::25]:25", "2001:db8::25", 220)
    ]
