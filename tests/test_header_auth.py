"""Authentication results (AUTH rows) and vendor verdict decoding, on the sample messages."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.headers.auth import AuthResult, parse_auth, parse_auth_field
from mailtrace.headers.message import read_headers
from mailtrace.headers.vendors import decode_vendor_header, decode_vendor_headers
from tests.conftest import SAMPLE

MESSAGES = SAMPLE / "messages"


def _auth(name: str) -> list[AuthResult]:
    (m,) = read_headers([MESSAGES / name])
    return parse_auth(m.fields)


def _verdicts(rows: list[AuthResult], header: str) -> dict[str, str | None]:
    return {r.method or "": r.result for r in rows if r.header.lower() == header.lower()}


def test_rfc8601_results_with_authserv_id() -> None:
    rows = _auth("postfix-relay-tls.eml")
    ar = [r for r in rows if r.header == "Authentication-Results"]
    assert {r.authserv_id for r in ar} == {"mx1.example.net"}
    assert _verdicts(rows, "Authentication-Results") == {
        "dkim": "pass",
        "dmarc": "pass",
        "spf": "pass",
    }
    dkim = next(r for r in ar if r.method == "dkim")
    assert dkim.properties is not None and "header.d=shop.example.com" in dkim.properties
    assert "(" not in dkim.properties  # comments are not properties


def test_microsoft_results_without_authserv_id() -> None:
    rows = _auth("exchange-online.eml")
    ar = [r for r in rows if r.header == "Authentication-Results"]
    assert [r.method for r in ar] == ["spf", "dkim", "dmarc", "compauth"]
    assert all(r.authserv_id is None for r in ar)
    assert ar[2].properties == "action=none header.from=example.org"
    spf = next(r for r in rows if r.header == "Received-SPF")
    assert (spf.result, spf.authserv_id) == ("pass", "protection.outlook.com")
    assert spf.properties is not None and "client-ip=203.0.113.88" in spf.properties


def test_arc_instances_and_seal_validation() -> None:
    rows = _auth("mailing-list-arc.eml")
    seals = [(r.instance, r.result, r.properties) for r in rows if r.method == "arc-seal"]
    assert seals == [
        (2, "pass", "d=forward.example.net s=arc2026 a=rsa-sha256"),
        (1, "none", "d=lists.example.org s=arc a=rsa-sha256"),
    ]
    aar = [r for r in rows if r.header == "ARC-Authentication-Results"]
    assert {(r.instance, r.authserv_id) for r in aar} == {
        (2, "forward.example.net"),
        (1, "lists.example.org"),
    }
    assert next(r for r in aar if r.instance == 1 and r.method == "dkim").result == "pass"
    ams = [r.instance for r in rows if r.method == "arc-message-signature"]
    assert ams == [2, 1]
    final = _verdicts(rows, "Authentication-Results")
    assert final["dkim"] == "fail" and final["arc"] == "pass"


def test_dkim_signature_keeps_domain_selector_algorithm() -> None:
    rows = _auth("gmail-to-gmail.eml")
    (sig,) = [r for r in rows if r.method == "dkim-signature"]
    assert sig.properties == "d=gmail.com s=20230601 a=rsa-sha256"
    assert sig.result is None


def test_quoted_reason_with_semicolon_stays_one_result() -> None:
    rows = parse_auth_field(
        "Authentication-Results",
        'mx.example.com; dkim=fail reason="bad; very bad" header.d=example.org; spf=none',
    )
    assert [(r.method, r.result) for r in rows] == [("dkim", "fail"), ("spf", "none")]
    assert rows[0].properties == 'reason="bad; very bad" header.d=example.org'


def test_no_result_and_version() -> None:
    (row,) = parse_auth_field("Authentication-Results", "mx.example.com 1; none")
    assert (row.authserv_id, row.method, row.result) == ("mx.example.com", "none", "none")


def test_auth_parsers_are_linear_on_hostile_text() -> None:
    start = time.perf_counter()
    for name in ("Authentication-Results", "ARC-Authentication-Results", "Received-SPF"):
        parse_auth_field(name, "(" * 200_000 + "a=b; " * 50_000 + '"' * 100_001)
    parse_auth_field("DKIM-Signature", "d=" + "x" * 1_000_000)
    assert time.perf_counter() - start < 5


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "Authentication-Results",
            "ARC-Authentication-Results",
            "ARC-Seal",
            "ARC-Message-Signature",
            "Received-SPF",
            "DKIM-Signature",
        ]
    ),
    st.text(max_size=300),
)
def test_auth_never_raises(name: str, value: str) -> None:
    for row in parse_auth_field(name, value):
        assert row.header == name
        assert row.instance is None or 0 <= row.instance < 2**31


# --- vendors -----------------------------------------------------------------------------------


def _notes(name: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    (m,) = read_headers([MESSAGES / name])
    return {(n.vendor, n.field): (n.value, n.meaning) for n in decode_vendor_headers(m.fields)}


def test_microsoft_forefront_and_scl() -> None:
    notes = _notes("exchange-online.eml")
    assert notes[("microsoft", "SFV")] == ("NSPM", "spam filtering verdict: not spam")
    assert notes[("microsoft", "CIP")][0] == "203.0.113.88"
    assert notes[("microsoft", "CTRY")][0] == "NL"
    assert notes[("microsoft", "IPV")] == ("NLI", "the source IP is on no IP reputation list")
    assert notes[("microsoft", "BCL")][1] == "bulk complaint level 0: not from a bulk sender"
    assert notes[("microsoft", "AuthAs")][0] == "Anonymous"
    assert notes[("microsoft", "DIR")][1] == "direction: inbound"


def test_spam_verdicts_of_other_filters() -> None:
    sa = _notes("exim-spamassassin.eml")
    assert sa[("spamassassin", "verdict")] == ("No", "not spam")
    assert sa[("spamassassin", "score")][0] == "2.3"
    assert "SPF_PASS" in sa[("spamassassin", "tests")][0]  # folded test list joined
    assert _notes("gmail-to-gmail.eml")[("google", "present")][0] == "yes"
    pp = _notes("proofpoint-gateway.eml")
    assert pp[("proofpoint", "rule")][0] == "outbound_notspam"
    assert pp[("proofpoint", "spamscore")] == ("0", "spam score (0-100)")
    rs = _notes("rspamd.eml")
    assert rs[("rspamd", "action")][0] == "no action"
    assert rs[("rspamd", "score")][0] == "-0.60"
    assert _notes("amavis-content-filter.eml")[("amavis", "virus_scanned")][0].startswith("Debian")


def test_scl_levels_and_unknown_codes() -> None:
    (spam,) = decode_vendor_header("X-MS-Exchange-Organization-SCL", "9")
    assert spam.meaning == "spam confidence level 9: high confidence spam"
    (odd,) = decode_vendor_header("X-Forefront-Antispam-Report", "SFV:ZZZ;")
    assert (odd.value, odd.meaning) == ("ZZZ", None)
    assert decode_vendor_header("Subject", "SCL:9") == []


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "X-Forefront-Antispam-Report",
            "X-Microsoft-Antispam",
            "X-Spam-Status",
            "X-Proofpoint-Spam-Details",
            "X-Spamd-Result",
            "X-MS-Exchange-Organization-SCL",
        ]
    ),
    st.text(max_size=200),
)
def test_vendor_decoding_never_raises(name: str, value: str) -> None:
    for note in decode_vendor_header(name, value):
        assert note.header == name
