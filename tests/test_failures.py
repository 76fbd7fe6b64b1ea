"""The failure classifier on reply texts written the way real receivers word them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.failures import (
    _RULES,
    TAXONOMY,
    Category,
    Family,
    Nature,
    classify,
    classify_table,
    match_text,
    match_texts,
    normalise_text,
)
from mailtrace.schema import EVENTS, FAILURES
from tests.conftest import SAMPLE

# (reply code, enhanced status, reply text, expected category): one row per wording. The texts
# are written here after the shapes of the big providers' and MTAs' replies.
REPLIES: list[tuple[int | None, str | None, str, Category]] = [
    # Orange's own codes decide where the words are bare ("Mail rejected").
    (550, "5.2.0", "Message refused. Mail rejected. OFR_506 [506]", Category.SPAM_CONTENT),
    (421, "4.2.0", "Service refused, try again later. OFR004_104 [104]", Category.RATE_LIMITED),
    (550, "5.7.1", "Message refused. OFR_515 [515]", Category.AUTH_FAILURE),
    (550, "5.7.1", "Service refused. OFR_107 [107]", Category.REVERSE_DNS),
    (421, "4.7.0", "Service refused, try again later. OFR_989 [989]", Category.BAD_REPUTATION),
    # recipient: unknown user
    (
        550,
        "5.1.1",
        "The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. "
        "https://support.google.com/mail/?p=NoSuchUser a1-20020a05 - gsmtp",
        Category.UNKNOWN_USER,
    ),
    (
        550,
        "5.5.0",
        "Requested action not taken: mailbox unavailable (S2017062302)",
        Category.UNKNOWN_USER,
    ),
    (
        550,
        "5.1.10",
        "RESOLVER.ADR.RecipientNotFound; Recipient nobody@example.net not found by "
        "SMTP address lookup",
        Category.UNKNOWN_USER,
    ),
    (
        550,
        "5.1.1",
        "<nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        Category.UNKNOWN_USER,
    ),
    (
        554,
        None,
        "delivery error: dd This user doesn't have a example.com account "
        "(nobody@example.com) [0] - mta1234.mail.example.com",
        Category.UNKNOWN_USER,
    ),
    (550, "5.1.1", "<nobody@icloud.example>: user does not exist", Category.UNKNOWN_USER),
    (550, "5.1.1", "Not our Customer", Category.UNKNOWN_USER),
    (550, None, "No such user here", Category.UNKNOWN_USER),
    (
        550,
        "5.1.1",
        "Invalid Recipient - https://community.mimecast.example/docs#550",
        Category.UNKNOWN_USER,
    ),
    (553, "5.1.3", "nobody@example.org... User address unknown", Category.UNKNOWN_USER),
    (550, None, "Unrouteable address", Category.BAD_DOMAIN),
    # recipient: disabled mailbox
    (
        550,
        "5.2.1",
        "The email account that you tried to reach is disabled.",
        Category.MAILBOX_DISABLED,
    ),
    (
        554,
        None,
        "delivery error: dd Sorry your message to x@example.com cannot be delivered. "
        "This mailbox is disabled (554.30)",
        Category.MAILBOX_DISABLED,
    ),
    (550, "5.1.1", "<x@example.com>: inactive email address", Category.MAILBOX_DISABLED),
    (550, None, "This account has been suspended", Category.MAILBOX_DISABLED),
    # recipient: bad domain
    (
        None,
        None,
        "Host or domain name not found. Name service error for name=example.invalid "
        "type=A: Host not found",
        Category.BAD_DOMAIN,
    ),
    (556, "5.1.10", "Recipient address has null MX", Category.BAD_DOMAIN),
    (550, "5.1.2", "no such domain", Category.BAD_DOMAIN),
    # recipient: mailbox full
    (
        452,
        "4.2.2",
        "The email account that you tried to reach is over quota. Please direct the "
        "recipient to https://support.google.com/mail/?p=OverQuotaTemp",
        Category.MAILBOX_FULL,
    ),
    (552, "5.2.2", "<x@example.net>: user is over quota", Category.MAILBOX_FULL),
    (550, "5.2.2", "Mailbox full", Category.MAILBOX_FULL),
    (
        552,
        None,
        "Requested mail action aborted: exceeded storage allocation",
        Category.MAILBOX_FULL,
    ),
    (452, "4.2.2", "Mailbox size limit exceeded", Category.MAILBOX_FULL),
    # message
    (
        552,
        "5.3.4",
        "Your message exceeded Google's message size limits.",
        Category.MESSAGE_TOO_LARGE,
    ),
    (552, "5.3.4", "Message size exceeds fixed maximum message size", Category.MESSAGE_TOO_LARGE),
    (
        550,
        "5.2.3",
        "RESOLVER.RST.RecipSizeLimit; message too large for this recipient",
        Category.MESSAGE_TOO_LARGE,
    ),
    (
        554,
        "5.7.1",
        "Your message was rejected because it contains a virus: Eicar-Test-Signature",
        Category.VIRUS,
    ),
    (550, "5.7.1", "Message rejected: malware detected in attachment", Category.VIRUS),
    (
        550,
        "5.7.1",
        "Our system has detected that this message is likely unsolicited mail. To "
        "reduce the amount of spam sent to Gmail, this message has been blocked.",
        Category.SPAM_CONTENT,
    ),
    (
        554,
        "5.7.1",
        "[P4] Message blocked due to spam content in the message.",
        Category.SPAM_CONTENT,
    ),
    (550, None, "Message rejected as spam by Content Filtering.", Category.SPAM_CONTENT),
    (554, "5.6.0", "Message contains invalid header", Category.CONTENT_REJECTED),
    (
        550,
        "5.7.1",
        "Messages with multiple addresses in From: header are not accepted.",
        Category.CONTENT_REJECTED,
    ),
    (554, "5.6.1", "Message is not RFC 5322 compliant", Category.CONTENT_REJECTED),
    (
        554,
        "5.7.1",
        "[CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.example/HT204137",
        Category.POLICY_REJECTION,
    ),
    (
        554,
        "5.7.9",
        "Message not accepted for policy reasons. See https://senders.yahooinc.example/error-codes",
        Category.POLICY_REJECTION,
    ),
    (
        554,
        None,
        "Email rejected due to security policies - https://community.mimecast.example",
        Category.POLICY_REJECTION,
    ),
    (550, "5.7.1", "Executable attachments are not accepted", Category.POLICY_REJECTION),
    # sender
    (
        550,
        "5.7.1",
        "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        Category.BLOCKLISTED,
    ),
    (
        550,
        "5.7.606",
        "Access denied, banned sending IP [192.0.2.1]. To request removal from this "
        "list please visit https://sender.office.example",
        Category.BLOCKLISTED,
    ),
    (
        554,
        "5.7.1",
        "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        Category.BLOCKLISTED,
    ),
    (
        554,
        None,
        "resimta-h1p-0123.sys.comcast.example resimta BL000010 Comcast block for spam. "
        "Please see http://postmaster.comcast.example/smtp-error-codes.php#BL000010",
        Category.BLOCKLISTED,
    ),
    (
        554,
        "5.7.0",
        "Blocked - see https://ipcheck.proofpoint.example/?ip=192.0.2.1",
        Category.BLOCKLISTED,
    ),
    (
        554,
        None,
        "IP address is block listed. For explanation visit "
        "https://postmaster.gmx.example/en/error-messages",
        Category.BLOCKLISTED,
    ),
    (
        421,
        "4.7.0",
        "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
        "volume or user complaints",
        Category.BAD_REPUTATION,
    ),
    (554, None, "Message rejected because of poor SenderBase reputation", Category.BAD_REPUTATION),
    (
        550,
        "5.7.26",
        "This mail has been blocked because the sender is unauthenticated. Gmail "
        "requires all senders to authenticate with either SPF or DKIM.",
        Category.AUTH_FAILURE,
    ),
    (
        550,
        "5.7.509",
        "Access denied, sending domain example.com does not pass DMARC verification "
        "and has a DMARC policy of reject.",
        Category.AUTH_FAILURE,
    ),
    (
        550,
        "5.7.23",
        "The message was rejected because of Sender Policy Framework violation",
        Category.AUTH_FAILURE,
    ),
    (550, None, "Rejected by header based Anti-Spoofing policy", Category.AUTH_FAILURE),
    (
        550,
        "5.7.25",
        "The IP address sending this message does not have a PTR record setup, or "
        "the corresponding forward DNS entry does not point to the sending IP.",
        Category.REVERSE_DNS,
    ),
    (
        450,
        "4.7.1",
        "Client host rejected: cannot find your hostname, [192.0.2.1]",
        Category.REVERSE_DNS,
    ),
    (
        553,
        "5.1.8",
        "<bulk@example.com>... Domain of sender address bulk@example.com does not exist",
        Category.SENDER_REJECTED,
    ),
    (501, "5.1.7", "Bad sender address syntax", Category.SENDER_REJECTED),
    (550, None, "Sender verify failed", Category.SENDER_REJECTED),
    (554, "5.7.1", "<x@example.net>: Relay access denied", Category.RELAY_DENIED),
    (550, "5.7.64", "TenantAttribution; Relay Access Denied", Category.RELAY_DENIED),
    (
        554,
        None,
        "gmx.net (mxgmx114) Nemesis ESMTP Service not available No SMTP service IP "
        "address is block listed.",
        Category.BLOCKLISTED,
    ),
    (
        554,
        None,
        "Service unavailable; Client host [192.0.2.1] blocked using Barracuda "
        "Reputation, http://www.barracuda.example/reputation",
        Category.BLOCKLISTED,
    ),
    (
        550,
        "5.7.1",
        "Gmail has detected that this message is likely suspicious due to the very "
        "low reputation of the sending domain.",
        Category.BAD_REPUTATION,
    ),
    (
        550,
        "5.7.1",
        "Messages missing a valid address in From: header, or having no From: header, "
        "are not accepted.",
        Category.CONTENT_REJECTED,
    ),
    (550, "5.1.8", "Access denied. Bad outbound sender.", Category.SENDER_REJECTED),
    (
        550,
        None,
        "Envelope blocked - User Entry - https://community.mimecast.example",
        Category.SENDER_REJECTED,
    ),
    (
        530,
        "5.7.57",
        "Client was not authenticated to send anonymous mail during MAIL FROM",
        Category.AUTH_FAILURE,
    ),
    # throttling
    (
        421,
        "4.7.28",
        "Our system has detected an unusual rate of unsolicited mail originating "
        "from your IP address. To protect our users from spam, mail sent from your IP address "
        "has been temporarily rate limited.",
        Category.RATE_LIMITED,
    ),
    (
        450,
        "4.2.1",
        "The user you are trying to contact is receiving mail at a rate that prevents "
        "additional messages from being delivered.",
        Category.RATE_LIMITED,
    ),
    (
        421,
        None,
        "Too many concurrent SMTP connections from this IP address; please try again later.",
        Category.RATE_LIMITED,
    ),
    (
        451,
        "4.7.500",
        "Server busy. Please try again later from [192.0.2.1]. (S77719)",
        Category.RATE_LIMITED,
    ),
    (554, None, "RL000001 Rate limit exceeded", Category.RATE_LIMITED),
    (451, "4.7.1", "Greylisting in action, please come back later", Category.RATE_LIMITED),
    # transport
    (530, "5.7.0", "Must issue a STARTTLS command first", Category.TLS_REQUIRED),
    (454, "4.7.0", "TLS not available due to local problem", Category.TLS_REQUIRED),
    (500, "5.5.1", 'Command unrecognized: "XFOO"', Category.PROTOCOL_ERROR),
    (503, "5.5.1", "Bad sequence of commands", Category.PROTOCOL_ERROR),
    (
        None,
        None,
        "connect to mx.example.org[198.51.100.80]:25: Connection timed out",
        Category.NETWORK_ERROR,
    ),
    (
        None,
        None,
        "lost connection with mx.example.org[198.51.100.80] while receiving the "
        "initial server greeting",
        Category.NETWORK_ERROR,
    ),
    (554, "5.4.6", "Too many hops", Category.NETWORK_ERROR),
    # remote
    (451, "4.3.0", "Temporary local problem - please try later", Category.REMOTE_SYSTEM_ERROR),
    (451, "4.3.0", "Internal resources are temporarily unavailable", Category.REMOTE_SYSTEM_ERROR),
    (452, "4.3.1", "Insufficient system storage", Category.REMOTE_SYSTEM_ERROR),
    (None, None, 'procmail: Couldn\'t create "/var/mail/x"', Category.REMOTE_SYSTEM_ERROR),
    # terminal
    (
        None,
        "4.4.7",
        "message expired after 5 days in the queue; retry timeout exceeded",
        Category.EXPIRED,
    ),
    (
        None,
        None,
        "delivery temporarily suspended: ... message has been in the queue too long",
        Category.EXPIRED,
    ),
    (
        550,
        "5.1.1",
        "Amazon SES has suppressed sending to this address because it is on the "
        "account-level suppression list.",
        Category.SUPPRESSED,
    ),
]


@pytest.mark.parametrize(("code", "enhanced", "text", "expected"), REPLIES)
def test_reply_texts_classify_to_their_category(
    code: int | None, enhanced: str | None, text: str, expected: Category
) -> None:
    assert classify(code, enhanced, text).category == expected


def test_there_are_enough_reply_texts_across_every_failure_category() -> None:
    assert len(REPLIES) >= 60
    failures = {c for c, (f, _) in TAXONOMY.items() if f not in (Family.NOT_FAILURE,)}
    covered = {row[3] for row in REPLIES}
    assert failures - covered == {Category.UNCLASSIFIED}


def test_same_category_whether_transient_or_permanent() -> None:
    four = classify(421, "4.7.0", "Too many connections from your IP")
    five = classify(554, "5.7.0", "Too many connections from your IP")
    assert four.category == five.category == Category.RATE_LIMITED
    assert (four.class_digit, five.class_digit) == (4, 5)


def test_text_beats_the_code() -> None:
    # 5.7.1 is reused for blocklists, DMARC and content; the words decide.
    assert classify(550, "5.7.1", "blocked using bl.spamcop.example").category == (
        Category.BLOCKLISTED
    )
    assert classify(550, "5.7.1", "DMARC policy of reject").category == Category.AUTH_FAILURE
    assert classify(550, "5.7.1", "Delivery not authorized").category == (Category.POLICY_REJECTION)


def test_codes_are_the_fallback_when_the_text_says_nothing_known() -> None:
    assert classify(552, "5.2.2", "Nope.").category == Category.MAILBOX_FULL
    assert classify(550, "5.1.2", "").category == Category.BAD_DOMAIN
    assert classify(None, None, "550 5.1.1 zzz").category == Category.UNKNOWN_USER
    assert classify(None, None, "no idea").category == Category.UNCLASSIFIED


def test_refused_mail_from_is_a_sender_problem() -> None:
    c = classify(550, "5.0.0", "Access denied", command="MAIL")
    assert (c.category, c.family, c.nature) == (
        Category.SENDER_REJECTED,
        Family.SENDER,
        Nature.FIX_SENDER,
    )


@pytest.mark.parametrize(
    ("text", "host", "provider", "code"),
    [
        ("blocked (S3150)", "mx.protection.outlook.com", "microsoft", "S3150"),
        ("[TSS04] Messages from 192.0.2.1 temporarily deferred", None, "yahoo", "TSS04"),
        (
            "Our system has detected an unusual rate",
            "gmail-smtp-in.l.google.com",
            "gmail",
            "4.7.28",
        ),
        ("[HM08] Message rejected due to local policy", "mx01.mail.icloud.com", "apple", "HM08"),
        ("BL000010 Comcast block for spam", None, "comcast", "BL000010"),
        ("Access denied AS(201806281)", None, "microsoft", "AS(201806281)"),
        ("Message refused. ofr_536 [536]", "smtp-in.orange.fr", "orange", "OFR_536"),
        ("Mailbox full", "mx00.gmx.net", "gmx", None),
        ("Blocked - see ipcheck", "mx0a-001.pphosted.com", "proofpoint", None),
        ("User unknown", "us-smtp-inbound-1.mimecast.com", "mimecast", None),
    ],
)
def test_provider_and_its_own_code(
    text: str, host: str | None, provider: str, code: str | None
) -> None:
    c = classify(None, "4.7.28" if provider == "gmail" else None, text, remote_host=host)
    assert (c.provider, c.provider_code) == (provider, code)


def test_multiline_reply_prefixes_do_not_split_phrases() -> None:
    text = (
        "550-5.1.1 The email account that you tried to reach does\n"
        "550-5.1.1 not exist. Please try double-checking.\n550 5.1.1 gsmtp"
    )
    assert "does not exist" in normalise_text(text)
    assert classify(None, None, text).category == Category.UNKNOWN_USER


def test_every_category_has_a_family_and_a_nature_from_the_design() -> None:
    assert TAXONOMY[Category.MAILBOX_FULL] == (Family.RECIPIENT, Nature.RETRY)
    assert TAXONOMY[Category.TLS_REQUIRED] == (Family.TRANSPORT, Nature.FIX_SENDER)
    assert TAXONOMY[Category.EXPIRED] == (Family.TERMINAL, Nature.TERMINAL)
    assert set(TAXONOMY) == set(Category)


def test_rules_stay_linear_on_hostile_text() -> None:
    hostile = [
        "a" * 200_000,
        "user " * 50_000,
        ("x" * 60 + " ") * 5_000 + "!",
        "[" * 100_000,
        "relay " * 40_000 + "denied?",
        "1.2.3." * 50_000,
    ]
    start = time.perf_counter()
    for text in hostile:
        match_text(text)
        classify(550, None, text, "RCPT", "x." * 1000)
    assert time.perf_counter() - start < 5


def test_classify_table_appends_the_failure_columns_to_events() -> None:
    n = 3
    columns = {f.name: pa.nulls(n, f.type) for f in EVENTS}
    columns["reply_code"] = pa.array([550, 250, 421], pa.int16())
    columns["dsn"] = pa.array(["5.1.1", "2.0.0", "4.7.0"])
    columns["reply_text"] = pa.array(
        [
            "<x@example.org>: Recipient address rejected: User unknown",
            "2.0.0 Ok: queued as 4F1C2A0123",
            "[TSS04] Messages from 192.0.2.1 temporarily deferred due to user complaints",
        ]
    )
    columns["command"] = pa.array(["RCPT", None, "RCPT"])
    columns["relay_host"] = pa.array(["mx.example.org", "mx.example.org", "mta5.am0.yahoodns.net"])
    events = pa.table(columns, schema=EVENTS)
    out = classify_table(events)
    assert out.column_names == EVENTS.names + FAILURES.names
    assert out.schema.field("category").type == pa.string()
    assert out.column("category").to_pylist() == ["unknown_user", "delivered", "bad_reputation"]
    assert out.column("family").to_pylist() == ["recipient", "not_failure", "sender"]
    assert out.column("nature").to_pylist() == ["P", None, "S"]
    assert out.column("provider").to_pylist() == [None, None, "yahoo"]
    assert out.column("provider_code").to_pylist() == [None, None, "TSS04"]


def test_classify_table_reads_replies_columns_and_leaves_rows_without_reply_null() -> None:
    replies = pa.table(
        {
            "command": ["EHLO", "MAIL", "RCPT"],
            "reply_code": pa.array([250, 550, None], pa.int16()),
            "enhanced": [None, "5.7.1", None],
            "text": ["mx.example.org Hello", "Sender address rejected: Access denied", None],
        }
    )
    out = classify_table(replies)
    assert out.column("category").to_pylist() == [None, "sender_rejected", None]


def test_classify_table_costs_only_the_distinct_replies() -> None:
    n = 200_000
    table = pa.table(
        {
            "reply_code": pa.array([550, 452] * (n // 2), pa.int16()),
            "dsn": ["5.1.1", "4.2.2"] * (n // 2),
            "reply_text": ["User unknown", "Mailbox full"] * (n // 2),
        }
    )
    start = time.perf_counter()
    out = classify_table(table)
    assert time.perf_counter() - start < 10
    assert out.column("category").value_counts().to_pylist() == [
        {"values": "unknown_user", "counts": n // 2},
        {"values": "mailbox_full", "counts": n // 2},
    ]


def test_classify_table_groups_addresses_by_domain_only() -> None:
    # Thousands of refused local parts are one reply to classify, yet an address at a
    # provider's domain still names that provider.
    locals_ = [f"user{i}.x" for i in range(5000)]
    texts = [f"<{u}@example.org>: Recipient address rejected: User unknown" for u in locals_]
    texts.append("<someone@hotmail.com>: Recipient address rejected: User unknown")
    n = len(texts)
    table = pa.table(
        {"reply_code": pa.array([550] * n, pa.int16()), "dsn": ["5.1.1"] * n, "reply_text": texts}
    )
    match_text.cache_clear()
    out = classify_table(table)
    assert match_text.cache_info().misses <= 2
    assert set(out.column("category").to_pylist()) == {"unknown_user"}
    assert out.column("provider").to_pylist()[-2:] == [None, "microsoft"]


def test_classify_table_on_an_empty_table_and_on_ids_that_differ() -> None:
    empty = classify_table(pa.table({"reply_code": pa.array([], pa.int16())}))
    assert empty.num_rows == 0
    assert empty.column_names == ["reply_code", *FAILURES.names]
    texts = [
        f"450 4.7.1 Client host [192.0.2.{i}] blocked using zen.spamhaus.org; id={i:09d}"
        for i in range(50)
    ]
    out = classify_table(pa.table({"reply_text": texts}))
    assert set(out.column("category").to_pylist()) == {"blocklisted"}


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.integers(min_value=-1000, max_value=1000)),
    st.one_of(st.none(), st.text(max_size=12)),
    st.one_of(st.none(), st.text(max_size=400)),
    st.one_of(st.none(), st.text(max_size=12)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_classify_never_raises_and_always_fills_the_taxonomy(
    code: int | None, enhanced: str | None, text: str | None, command: str | None, host: str | None
) -> None:
    c = classify(code, enhanced, text, command, host)
    assert TAXONOMY[c.category] == (c.family, c.nature)
    assert c.class_digit in (None, 4, 5)


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "command", "expected"),
    [
        # "user unknown" only after the content was sent: a filter, not the address
        (550, "5.2.0", "Unknown user x@example.org", "DATA", Category.POLICY_REJECTION),
        (
            550,
            "5.7.1",
            "Recipient address rejected: User unknown",
            "DATA",
            Category.POLICY_REJECTION,
        ),
        # at RCPT, or said as "has no account", it stays about the address
        (553, "5.7.1", "Invalid recipient x@example.org", "RCPT", Category.UNKNOWN_USER),
        (
            554,
            "5.0.0",
            "delivery error: dd This user doesn't have a example.com account",
            "DATA",
            Category.UNKNOWN_USER,
        ),
        # after MAIL FROM an address problem is the sender's, unless the reply cites policy
        (553, "5.1.0", "neko.example.com does not exist", "MAIL", Category.SENDER_REJECTED),
        (
            554,
            "5.0.0",
            "Mail from x@example.net rejected for policy reasons.",
            "MAIL",
            Category.POLICY_REJECTION,
        ),
        # Microsoft 365's directory refusal
        (550, "5.4.1", "Recipient address rejected: Access denied", "RCPT", Category.UNKNOWN_USER),
    ],
)
def test_the_refused_command_and_specific_codes_sharpen_the_words(
    code: int, enhanced: str, text: str, command: str, expected: Category
) -> None:
    assert classify(code, enhanced, text, command).category == expected


# --- many texts at once (RE2) give what one at a time (Python's re) gives -------------------------

# Words of the rules themselves, so that generated texts hit rules as well as miss them.
_RULE_WORDS = sorted(
    {w for _, wording in _RULES for w in re.findall(r"[A-Za-z]{3,}", wording.pattern.pattern)}
)
_TOKENS = st.one_of(
    st.sampled_from(_RULE_WORDS),
    st.sampled_from(["…", "<…>", "[…]", "550", "5.7.1", "4.2.2", "(S3150)", "’", "–", "é", "ß"]),
    st.sampled_from(["K", "ſ", "İ", "ı", "\u00a0", "_", "-", ".", ":", ";", "@", "=", "'"]),
    st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=6),
)
_TEXTS = st.lists(
    st.tuples(_TOKENS, st.sampled_from([" ", " ", "", "-", "é", "_"])), max_size=14
).map(lambda parts: "".join((p.upper() if len(p) % 3 == 0 else p) + sep for p, sep in parts))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXTS), min_size=4, max_size=90))
def test_match_texts_equals_match_text_one_by_one(texts: list[str | None]) -> None:
    assert match_texts(texts) == [match_text(t) for t in texts]


def test_a_dozen_texts_read_first_leave_the_python_patterns_uncompiled() -> None:
    """A report's refusals, its first texts, go to RE2: compiling every rule's Python pattern
    (0.04 s) would cost more. The verdicts are match_text's."""
    code = (
        "import sys, json; from mailtrace import failures as f; "
        "texts = json.loads(sys.argv[1]); got = f.match_texts(texts); "
        "compiled = [r for _, w in f._RULES for r in (w.pattern,) if 'search' in vars(r)]; "
        "print(len(compiled), got == [f.match_text(t) for t in texts])"
    )
    texts = [text for _, _, text, _ in REPLIES][:12]
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(texts)], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["0", "True"]


def test_match_texts_on_every_reply_and_sample_text() -> None:
    """The classifier's own reply table and every line of the sample logs and transcripts,
    blanked as the report blanks them and as they are: the same verdicts both ways."""
    from mailtrace.paths import normalize_reasons

    texts = [text for _, _, text, _ in REPLIES]
    for path in sorted((SAMPLE / "logs").rglob("*.log")) + sorted(
        (SAMPLE / "transcripts").glob("*")
    ):
        if path.is_file():
            texts += path.read_text(errors="replace").splitlines()
    texts += normalize_reasons(pa.array(texts, pa.string())).to_pylist()
    # Where the engines differ (RE2's \b and \d are ASCII): these go to Python.
    texts += ["550 no éPTR record", "554 PTRé missing", "452 mailbox ٣ full"]
    verdicts = match_texts(texts)
    assert verdicts == [match_text(t) for t in texts]
    assert sum(v is not None for v in verdicts) > 100  # the texts do name causes


def test_re2_and_python_agree_on_each_rule_alone() -> None:
    """Each rule's RE2 pattern finds what its Python alternatives (without lookarounds) find."""
    import pyarrow.compute as pc

    texts = [normalise_text(t) for _, _, t, _ in REPLIES] + ["", "x", "Müller … [ip]"]
    texts = [t for t in texts if t.isascii() or "…" in t]
    for _, wording in _RULES:
        if wording.re2 is None:
            continue
        python = re.compile(wording.re2, re.IGNORECASE)
        re2 = pc.match_substring_regex(pa.array(texts), wording.re2, ignore_case=True)
        assert re2.to_pylist() == [python.search(t) is not None for t in texts], wording.re2
