"""parse_received: one test per MTA style, address forms, TLS comments, hostile input."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.headers import Received, parse_received
from mailtrace.headers.received import MAX_CHARS, normalise_protocol


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- MTA styles


def test_postfix_with_tls_and_folding() -> None:
    r = parse_received(
        "from mail.example.org (mail.example.org [192.0.2.25])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n"
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n"
        "\t(No client certificate requested)\r\n"
        "\tby mx.example.net (Postfix) with ESMTPS id 4Qx7Lk2Zr1z9sW\r\n"
        "\tfor <bob@example.net>; Tue,  3 Mar 2026 10:00:00 +0100 (CET)"
    )
    assert (r.from_host, r.from_helo, r.from_rdns, r.from_ip) == (
        "mail.example.org",
        "mail.example.org",
        "mail.example.org",
        "192.0.2.25",
    )
    assert (r.by_host, r.protocol, r.id, r.for_) == (
        "mx.example.net",
        "ESMTPS",
        "4Qx7Lk2Zr1z9sW",
        "bob@example.net",
    )
    assert (r.tls_version, r.tls_cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert r.date_utc == utc(2026, 3, 3, 9, 0, 0)
    assert r.utc_offset == "+0100"
    assert r.date_raw == "Tue, 3 Mar 2026 10:00:00 +0100 (CET)"
    assert r.problems == ()


def test_postfix_unknown_client_over_ipv6_and_authenticated_submission() -> None:
    r = parse_received(
        "from [192.168.1.20] (unknown [IPv6:2001:db8:5::20])\n"
        "\t(Authenticated sender: alice@example.org)\n"
        "\tby smtp.example.org (Postfix) with ESMTPSA id 7E1F32041;\n"
        "\tWed, 4 Mar 2026 08:15:02 +0000 (UTC)"
    )
    assert r.from_host == "[192.168.1.20]"
    assert r.from_ip == "2001:db8:5::20"
    assert r.from_rdns is None  # "unknown" means the lookup failed, not a host called unknown
    assert r.protocol == "ESMTPSA"


def test_postfix_local_pickup_has_no_sender() -> None:
    r = parse_received(
        "by mx.example.net (Postfix, from userid 1000)\n"
        "\tid 3A1B22041C; Tue, 3 Mar 2026 10:00:00 +0000 (UTC)"
    )
    assert (r.from_host, r.from_ip, r.by_host, r.id) == (None, None, "mx.example.net", "3A1B22041C")


def test_sendmail_ident_and_may_be_forged() -> None:
    r = parse_received(
        "from helo.example.com (daemon@host7.example.com [198.51.100.7] (may be forged))\n"
        "\tby relay.example.net (8.17.1/8.17.1) with ESMTP id 623A0bXq012345\n"
        "\tfor <carol@example.net>; Tue, 3 Mar 2026 04:00:00 -0600"
    )
    assert r.from_helo == "helo.example.com"
    assert r.from_rdns == "host7.example.com"
    assert r.from_ip == "198.51.100.7"
    assert r.id == "623A0bXq012345"
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)


def test_exim_4_9x_tls_words_and_envelope_from() -> None:
    r = parse_received(
        "from [203.0.113.9] (helo=client.example.com)\n"
        "\tby mx1.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
        "\t(Exim 4.96)\n"
        "\t(envelope-from <sender@example.com>)\n"
        "\tid 1tXyZa-000AbC-2d\n"
        "\tfor dave@example.net;\n"
        "\tTue, 03 Mar 2026 10:00:00 +0000"
    )
    assert r.from_ip == "203.0.113.9"
    assert r.from_helo == "client.example.com"
    assert r.protocol == "ESMTPS"
    assert r.with_raw == (
        "esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96)"
        " (envelope-from <sender@example.com>)"
    )
    assert (r.tls_version, r.tls_cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert r.envelope_from == "sender@example.com"
    assert (r.id, r.for_) == ("1tXyZa-000AbC-2d", "dave@example.net")


def test_exim_reverse_name_port_and_cipher_comment() -> None:
    r = parse_received(
        "from host9.example.com ([198.51.100.9]:51544 helo=laptop.example.com)\n"
        "\tby mail.example.net with esmtpsa (TLS1.2:ECDHE_RSA_AES_128_GCM_SHA256:128)\n"
        "\t(Exim 4.92) (envelope-from <erin@example.com>) id 1kAbCd-0003Xy-Qz;\n"
        "\tTue, 03 Mar 2026 10:00:00 +0000"
    )
    assert (r.from_host, r.from_rdns, r.from_helo) == (
        "host9.example.com",
        "host9.example.com",
        "laptop.example.com",
    )
    assert r.from_ip == "198.51.100.9"
    assert (r.protocol, r.tls_version, r.tls_cipher) == (
        "ESMTPSA",
        "TLSv1.2",
        "ECDHE_RSA_AES_128_GCM_SHA256",
    )


def test_exim_local_delivery_keeps_local_lower_case() -> None:
    r = parse_received(
        "from www-data by web.example.org with local (Exim 4.96)\n"
        "\t(envelope-from <www-data@web.example.org>) id 1tA-0001-Xy;\n"
        "\tTue, 03 Mar 2026 10:00:00 +0000"
    )
    assert (r.from_host, r.protocol, r.from_ip) == ("www-data", "local", None)
    assert (
        parse_received("from x by y with local-bsmtp id 1; Tue, 3 Mar 2026 10:00:00 +0000").protocol
        == "SMTP"
    )


def test_opensmtpd_semicolons_between_clauses() -> None:
    r = parse_received(
        "from laptop.example.org (laptop.example.org [local]);\n"
        "\tby smtp.example.org (OpenSMTPD) with ESMTPSA id 1a2b3c4d"
        " (TLSv1.3:TLS_AES_256_GCM_SHA384:256:NO);\n"
        "\tfor <henry@example.net>;\n"
        "\tTue, 3 Mar 2026 10:00:00 +0000 (UTC)"
    )
    assert (r.from_host, r.from_ip, r.by_host, r.protocol, r.id, r.for_) == (
        "laptop.example.org",
        None,
        "smtp.example.org",
        "ESMTPSA",
        "1a2b3c4d",
        "henry@example.net",
    )
    assert (r.tls_version, r.tls_cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)


def test_haraka_envelope_and_cipher_words() -> None:
    r = parse_received(
        "from mail.example.com (mail.example.com [192.0.2.44])\n"
        " by mx.example.net (Haraka/3.0.3) with ESMTPS id 5B1C2D3E-0F1A-4B2C-9D8E-7F6A5B4C3D2E.1\n"
        " envelope-from <ivy@example.com>\n"
        " (authenticated bits=0)\n"
        " tls TLS_AES_256_GCM_SHA384;\n"
        " Tue, 03 Mar 2026 10:00:00 +0000"
    )
    assert r.envelope_from == "ivy@example.com"
    assert r.tls_cipher == "TLS_AES_256_GCM_SHA384"
    assert r.id == "5B1C2D3E-0F1A-4B2C-9D8E-7F6A5B4C3D2E.1"


def test_words_after_tls_are_a_cipher_only_when_they_look_like_one() -> None:
    r = parse_received(
        "from a.example.com ([192.0.2.3]) by b.example.net over TLS secured channel with"
        " Microsoft SMTPSVC(10.0.17763.1697); Tue, 3 Mar 2026 10:00:00 -0800"
    )
    assert (r.by_host, r.protocol, r.tls_cipher) == ("b.example.net", "SMTP", None)


def test_semicolons_between_clauses_stay_out_of_values() -> None:
    r = parse_received(
        "from a.example.com;\n by b.example.net with ESMTP;\n id Q9;\n"
        " Tue, 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.from_host, r.by_host, r.with_raw, r.id) == (
        "a.example.com",
        "b.example.net",
        "ESMTP",
        "Q9",
    )


def test_qmail_comment_only_header() -> None:
    r = parse_received("(qmail 12345 invoked by uid 89); 3 Mar 2026 10:00:00 -0000")
    assert (r.from_host, r.by_host, r.protocol) == (None, None, None)
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)
    assert r.utc_offset == "-0000"


def test_qmail_network_forms() -> None:
    r = parse_received(
        "from unknown (HELO helo.example.org) (198.51.100.77)\n"
        "  by mail.example.com with SMTP; 3 Mar 2026 10:00:00 -0000"
    )
    assert (r.from_host, r.from_helo, r.from_rdns, r.from_ip) == (
        "unknown",
        "helo.example.org",
        None,
        "198.51.100.77",
    )
    r = parse_received(
        "from rdns.example.org (HELO helo.example.org) (user@198.51.100.78)\n"
        "  by mail.example.com with ESMTPA; 3 Mar 2026 10:00:00 -0000"
    )
    assert (r.from_rdns, r.from_helo, r.from_ip, r.protocol) == (
        "rdns.example.org",
        "helo.example.org",
        "198.51.100.78",
        "ESMTPA",
    )


def test_exchange_hop_with_via_and_microsoft_tls_comment() -> None:
    r = parse_received(
        "from DM6PR01MB0001.namprd01.prod.example.com (2001:db8:10b6::1) by\n"
        " DM6PR01MB0002.namprd01.prod.example.com (2001:db8:10b6::2) with Microsoft SMTP\n"
        " Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id\n"
        " 15.20.7452.28 via Frontend Transport; Tue, 3 Mar 2026 10:00:00 +0000"
    )
    assert r.from_ip == "2001:db8:10b6::1"
    assert r.by_host == "DM6PR01MB0002.namprd01.prod.example.com"
    assert (r.protocol, r.id, r.via) == ("SMTP", "15.20.7452.28", "Frontend Transport")
    assert (r.tls_version, r.tls_cipher) == ("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


def test_exchange_mapi_zone_id_is_dropped() -> None:
    r = parse_received(
        "from MBX01.corp.example.com ([fe80::a1b2:c3d4%12]) by MBX01.corp.example.com\n"
        " ([fe80::a1b2:c3d4%12]) with mapi id 15.01.2507.035; Tue, 3 Mar 2026 10:00:00 +0100"
    )
    assert (r.from_ip, r.protocol, r.id) == ("fe80::a1b2:c3d4", "MAPI", "15.01.2507.035")


def test_gmail_ids_and_dates_are_never_addresses() -> None:
    r = parse_received(
        "from mail-yw1-f41.example.com (mail-yw1-f41.example.com. [203.0.113.41])\n"
        "        by mx.example.com with SMTPS id a1b2c3d4e5.10.2026.03.03.10.00.00\n"
        "        for <frank@example.com>\n"
        "        (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);\n"
        "        Tue, 03 Mar 2026 02:00:00 -0800 (PST)"
    )
    assert r.from_rdns == "mail-yw1-f41.example.com"
    assert r.from_ip == "203.0.113.41"
    assert (r.protocol, r.id) == ("SMTPS", "a1b2c3d4e5.10.2026.03.03.10.00.00")
    assert (r.tls_version, r.tls_cipher) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)


def test_gmail_internal_hop_by_ipv6_address() -> None:
    r = parse_received(
        "by 2001:db8:6a10:1234:b0:5a:1234:abcd with SMTP id x12csp345678pxb;\n"
        "        Tue, 3 Mar 2026 02:00:00 -0800 (PST)"
    )
    assert (r.from_host, r.by_host, r.protocol, r.id) == (
        None,
        "2001:db8:6a10:1234:b0:5a:1234:abcd",
        "SMTP",
        "x12csp345678pxb",
    )


def test_go_style_date_without_semicolon() -> None:
    r = parse_received(
        "from Yzc0NjE (unknown) by relay-7.example.net with HTTP id Qw3rTy-AbC\n"
        " for <grace@example.org> 2026-03-03 10:00:00.123456 +0000 UTC m=+0.512345678"
    )
    assert (r.protocol, r.id, r.for_) == ("HTTP", "Qw3rTy-AbC", "grace@example.org")
    assert r.date_utc == datetime(2026, 3, 3, 10, 0, 0, 123456, tzinfo=UTC)


def test_rfc_date_without_semicolon() -> None:
    r = parse_received(
        "from a.example.com by b.example.com with ESMTP id Zz9 Tue, 3 Mar 2026 10:00:00 -0500"
    )
    assert r.id == "Zz9"
    assert r.date_utc == utc(2026, 3, 3, 15, 0, 0)


def test_stalwart_protocol_with_tls_suffix() -> None:
    r = parse_received(
        "from a.example.com by b.example.com with ESMTP/TLS/AES256-GCM-SHA384;"
        " 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.protocol, r.tls_cipher) == ("ESMTP", "AES256-GCM-SHA384")


def test_clause_inside_leading_comment() -> None:
    r = parse_received(
        "(from relay.example.com [192.0.2.33]) by scan.example.net with SMTP id M1;"
        " 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.from_host, r.from_ip, r.by_host) == (
        "relay.example.com",
        "192.0.2.33",
        "scan.example.net",
    )


def test_first_clause_wins_and_duplicates_are_kept() -> None:
    r = parse_received(
        "from a.example.com by b.example.com by c.example.com with SMTP with ESMTP\n"
        " for <x@example.com> <y@example.com> via smtpd id Q1; 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.by_host, r.protocol, r.for_, r.via) == (
        "b.example.com",
        "SMTP",
        "x@example.com",
        "smtpd",
    )
    assert ("by", "c.example.com") in r.extra
    assert ("with", "ESMTP") in r.extra
    assert ("for", "y@example.com") in r.extra


def test_several_recipients_in_one_for_clause() -> None:
    r = parse_received(
        "by b.example.net for <j@example.net>,<k@example.net>; 3 Mar 2026 10:00:00 +0000"
    )
    assert r.for_ == "j@example.net"
    assert ("for", "k@example.net") in r.extra


def test_keywords_are_case_insensitive_and_clauses_may_come_in_any_order() -> None:
    r = parse_received(
        "FROM a.example.com BY b.example.com FOR <z@example.com> WITH SMTP"
        " ID <Q7@b.example.com>; 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.from_host, r.by_host, r.for_, r.protocol, r.id) == (
        "a.example.com",
        "b.example.com",
        "z@example.com",
        "SMTP",
        "Q7@b.example.com",
    )


# --------------------------------------------------------------------------- address forms


@pytest.mark.parametrize(
    ("tcp_info", "ip"),
    [
        ("(mx.example.com [192.0.2.1])", "192.0.2.1"),
        ("([192.0.2.1]:2525)", "192.0.2.1"),
        ("(192.0.2.1)", "192.0.2.1"),
        ("(192.0.2.1:2525)", "192.0.2.1"),
        ("(user@[192.0.2.1])", "192.0.2.1"),
        ("(x [IPv6:2001:DB8:0:0::1])", "2001:db8::1"),
        ("([2001:db8::1]:25)", "2001:db8::1"),
        ("(2001:db8::1)", "2001:db8::1"),
        ("([fe80::1%eth0])", "fe80::1"),
        ("(localhost [::ffff:192.0.2.1])", "::ffff:c000:201"),  # mapped form kept, compressed
        ("(x [IPv6:::1])", "::1"),
        ("(helo=[198.51.100.1])", None),  # a HELO literal is a claim, not the connection
        ("(unknown [999.1.1.1])", None),
    ],
)
def test_client_address_forms(tcp_info: str, ip: str | None) -> None:
    r = parse_received(
        f"from helo.example.com {tcp_info} by mx.example.net; 3 Mar 2026 10:00:00 +0000"
    )
    assert r.from_ip == ip


def test_address_literal_after_from_is_the_fallback() -> None:
    assert (
        parse_received("from [192.0.2.5] by mx.example.net; 3 Mar 2026 10:00:00 +0000").from_ip
        == "192.0.2.5"
    )
    assert (
        parse_received("from [192.0.2.5]:4711 (HELO x) by y; 3 Mar 2026 10:00:00 +0000").from_ip
        == "192.0.2.5"
    )
    assert (
        parse_received(
            "from [192.0.2.5] (x.example [192.0.2.6]) by y; 3 Mar 2026 10:00:00 +0000"
        ).from_ip
        == "192.0.2.6"
    )


# --------------------------------------------------------------------------- protocol and TLS


@pytest.mark.parametrize(
    ("words", "protocol"),
    [
        (["ESMTP"], "ESMTP"),
        (["esmtpsa"], "ESMTPSA"),
        (["LMTP"], "LMTP"),
        (["utf8esmtps"], "UTF8ESMTPS"),
        (["ESMTP-TLS"], "ESMTPS"),
        (["local-esmtp"], "ESMTP"),
        (["BSMTP"], "SMTP"),
        (["Microsoft", "SMTPSVC(10.0.17763.1)"], "SMTP"),
        (["HTTPREST"], "HTTP"),
        (["[ExampleMail 2.1 ESMTP Server]"], "ESMTP"),
        (["Internet", "Mail", "Service"], None),
    ],
)
def test_protocol_normalisation(words: list[str], protocol: str | None) -> None:
    assert normalise_protocol(words) == protocol


@pytest.mark.parametrize(
    ("comment", "version", "cipher"),
    [
        (
            "(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))",
            "TLSv1.2",
            "ECDHE-RSA-AES256-GCM-SHA384",
        ),
        (
            "(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256)",
            "TLSv1.3",
            "TLS_AES_256_GCM_SHA384",
        ),
        (
            "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)",
            "TLSv1.2",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ),
        ("(Cipher TLSv1:DES-CBC3-SHA:168)", "TLSv1", "DES-CBC3-SHA"),
        ("(TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA)", "TLSv1/SSLv3", "DES-CBC3-SHA"),
        ("(cipher=ECDHE-RSA-AES128-GCM-SHA256)", None, "ECDHE-RSA-AES128-GCM-SHA256"),
        ("(unknown)", None, None),
    ],
)
def test_tls_comments(comment: str, version: str | None, cipher: str | None) -> None:
    r = parse_received(
        f"from a.example.com {comment} by b.example.net with ESMTPS; 3 Mar 2026 10:00:00 +0000"
    )
    assert (r.tls_version, r.tls_cipher) == (version, cipher)


# --------------------------------------------------------------------------- mapping contract


def test_received_is_a_read_only_mapping_with_for_key() -> None:
    r = parse_received("from a.example by b.example for <c@example.com>; 3 Mar 2026 10:00:00 +0000")
    assert isinstance(r, Received)
    assert r["for"] == "c@example.com" == r.get("for")
    assert "for_" not in r and "for" in r
    assert len(r) == len(list(r)) == len(dict(r))
    with pytest.raises(KeyError):
        r["nonsense"]
    with pytest.raises(AttributeError):
        r.by_host = "x"  # type: ignore[misc]


def test_a_whole_header_line_is_accepted() -> None:
    line = "Received: from a.example.com by b.example.net; 3 Mar 2026 10:00:00 +0000"
    r = parse_received(line)
    assert (r.from_host, r.by_host, r.raw) == ("a.example.com", "b.example.net", line)


def test_problems_name_what_could_not_be_read() -> None:
    assert "no date" in parse_received("from a.example by b.example").problems
    assert (
        "unbalanced parentheses"
        in parse_received("from a (b by c; 3 Mar 2026 10:00:00 +0000").problems
    )
    r = parse_received("from a.example by b.example; 3 Mar 2026 10:00:00")
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)
    assert "date: no time zone; assumed UTC" in r.problems


# --------------------------------------------------------------------------- hostile input


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_never_raises_on_arbitrary_text(text: str) -> None:
    r = parse_received(text)
    assert r.raw == text
    if r.from_ip is not None:
        ipaddress.ip_address(r.from_ip)


@given(
    st.lists(
        st.sampled_from(
            [
                "from",
                "by",
                "with",
                "id",
                "for",
                "via",
                "(",
                ")",
                "[",
                "]",
                "<",
                ">",
                '"',
                ";",
                "\\",
                " ",
                "\r\n\t",
                "x",
                "192.0.2.1",
                "IPv6:",
                "::1",
                "Tue,",
                "3",
                "Mar",
                "2026",
                "10:00:00",
                "+0100",
            ]
        ),
        max_size=80,
    ).map("".join)
)
@settings(max_examples=300, deadline=None)
def test_never_raises_on_header_shaped_noise(text: str) -> None:
    parse_received(text)


@pytest.mark.parametrize(
    "hostile",
    [
        "(" * (MAX_CHARS - 100),
        ")" * (MAX_CHARS - 100),
        "(" * 30_000 + ")" * 30_000,
        "(a " * 20_000,
        "<" * (MAX_CHARS - 100),
        "[" * (MAX_CHARS - 100),
        '"' * (MAX_CHARS - 100),
        '<a [b "c (d ' * 5_000,
        "from by with id for via " * 2_500,
        "Tue, 3 Mar " * 5_000,
    ],
)
def test_adversarial_input_below_the_cut_is_walked_in_full(hostile: str) -> None:
    # Quadratic work on these 60 k-character values would take many minutes.
    r = parse_received(hostile + "; 3 Mar 2026 10:00:00 +0000")
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)


def test_megabyte_value_reads_head_and_date() -> None:
    value = "from a.example.com (a.example.com [192.0.2.8]) by b.example.net " + "(x) " * 250_000
    r = parse_received(value + "; Tue, 3 Mar 2026 10:00:00 +0000")
    assert (r.from_ip, r.by_host) == ("192.0.2.8", "b.example.net")
    assert r.date_utc == utc(2026, 3, 3, 10, 0, 0)
    assert any("only the first" in p for p in r.problems)
    assert len(r.raw) > 1_000_000


def test_ten_thousand_headers() -> None:
    header = (
        "from mail.example.org (mail.example.org [192.0.2.25]) by mx.example.net (Postfix) "
        "with ESMTPS id {n:X} for <bob@example.net>; Tue, 3 Mar 2026 10:00:00 +0100"
    )
    ids = {parse_received(header.format(n=n)).id for n in range(10_000)}
    assert len(ids) == 10_000
