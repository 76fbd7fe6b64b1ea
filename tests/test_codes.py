"""Reply codes and the enhanced status registry."""

from __future__ import annotations

import time

import pytest

from mailtrace import codes


def test_registry_covers_every_subject_up_to_the_latest_security_codes() -> None:
    registered = {
        0: [0],
        1: list(range(11)),
        2: list(range(5)),
        3: list(range(7)),
        4: list(range(8)),
        5: list(range(7)),
        6: list(range(11)),
        7: list(range(31)),
    }
    for subject, details in registered.items():
        for detail in details:
            assert f"{subject}.{detail}" in codes.ENHANCED_MEANINGS
    assert codes.enhanced_meaning("5.7.26") == "multiple authentication checks failed"
    assert codes.enhanced_meaning("4.4.7") == "delivery time expired"
    assert codes.enhanced_meaning("5.1.10") == "recipient address has a null MX"
    assert codes.enhanced_meaning("2.6.4") == "conversion with loss performed"


def test_meaning_does_not_depend_on_the_class_digit() -> None:
    assert codes.enhanced_meaning("4.2.2") == codes.enhanced_meaning("5.2.2") == "mailbox full"


@pytest.mark.parametrize("bad", [None, "", "5.7", "6.1.1", "5.1.1.1", "x.y.z", "5.1.1000"])
def test_malformed_enhanced_codes_have_no_meaning(bad: str | None) -> None:
    assert codes.parse_enhanced(bad) is None
    assert codes.enhanced_meaning(bad) is None


def test_reply_meanings() -> None:
    assert codes.reply_meaning(550).startswith("requested action not taken")
    assert codes.reply_meaning(554) == "transaction failed (or no SMTP service here)"
    assert codes.reply_meaning(471) == "transient negative completion: try again later"
    assert codes.reply_meaning(999) is None
    assert codes.ReplyCode(421) is codes.ReplyCode.SERVICE_NOT_AVAILABLE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 <a@example.org>: User unknown", "5.1.1"),
        ("host 198.51.100.4 said: 452 4.2.2 Over quota", "4.2.2"),
        ("Exim 4.96 on 192.0.2.5: 550 unknown user", None),
        ("(#5.1.1)", "5.1.1"),
        ("dsn=5.7.606", "5.7.606"),
        ("version 2.1.5.7 of the software", None),
    ],
)
def test_find_enhanced_ignores_addresses_and_versions(text: str, expected: str | None) -> None:
    assert codes.find_enhanced(text) == expected


def test_find_reply_code_and_class_digit() -> None:
    assert codes.find_reply_code("Remote host said: 554 delivery error") == 554
    assert codes.find_reply_code("id 12345 queued") is None
    assert codes.class_digit(None, "4.4.1") == 4
    assert codes.class_digit(None, None) is None


def test_lookups_stay_linear_on_hostile_text() -> None:
    start = time.perf_counter()
    codes.find_enhanced("5." * 200_000)
    codes.find_enhanced("1" * 500_000)
    codes.find_reply_code("5" * 500_000)
    assert time.perf_counter() - start < 2
