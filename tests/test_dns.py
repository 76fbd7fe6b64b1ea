"""DNS checks against a real dnsmasq on loopback (see tests/dnsserver.py for the zone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailtrace import dns as mdns
from mailtrace.errors import UsageError


@pytest.fixture
def resolver(nameserver: str) -> mdns.Resolver:
    return mdns.Resolver(nameserver, timeout=2.0)


def test_mx_groups_by_preference_with_addresses(resolver: mdns.Resolver) -> None:
    result = mdns.resolve_mx("good.test", resolver)
    assert result.status is mdns.Status.OK and result.accepts_mail
    assert [sorted(t.exchange for t in g) for g in result.groups] == [
        ["mx1.good.test", "mx2.good.test"],
        ["mx3.good.test"],
    ]
    mx1 = next(t for t in result.targets if t.exchange == "mx1.good.test")
    assert set(mx1.addresses) == {"192.0.2.10", "2001:db8::10"}
    assert not any(t.problems for t in result.targets)


def test_null_mx_accepts_no_mail(resolver: mdns.Resolver) -> None:
    result = mdns.resolve_mx("nullmx.test", resolver)
    assert result.null_mx and not result.accepts_mail and result.groups == ()


def test_implicit_mx_is_the_domain_itself(resolver: mdns.Resolver) -> None:
    result = mdns.resolve_mx("implicit.test", resolver)
    (target,) = result.targets
    assert target.implicit and target.exchange == "implicit.test"
    assert target.addresses == ("192.0.2.20",)


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        ("cnamemx.test", "CNAME"),
        ("iplit.test", "IP address"),
        ("dangling.test", "no addresses"),
    ],
)
def test_misconfigured_mx_is_flagged(resolver: mdns.Resolver, domain: str, problem: str) -> None:
    (target,) = mdns.resolve_mx(domain, resolver).targets
    assert any(problem in p for p in target.problems), target.problems


def test_nxdomain(resolver: mdns.Resolver) -> None:
    assert mdns.resolve_mx("nope.test", resolver).status is mdns.Status.NXDOMAIN


def test_servfail(resolver: mdns.Resolver) -> None:
    assert mdns.resolve_mx("x.servfail.test", resolver).status is mdns.Status.SERVFAIL


def test_unanswered_query_times_out_in_bounded_time(nameserver: str) -> None:
    resolver = mdns.Resolver(nameserver, timeout=0.5)
    started = time.monotonic()
    result = mdns.resolve_mx("x.slow.test", resolver)
    assert result.status is mdns.Status.TIMEOUT
    assert time.monotonic() - started < 5


def test_resolver_that_does_not_answer_at_all() -> None:
    from tests.dnsserver import free_port

    resolver = mdns.Resolver(f"127.0.0.1:{free_port()}", timeout=0.5)
    assert mdns.resolve_mx("good.test", resolver).status in (
        mdns.Status.TIMEOUT,
        mdns.Status.ERROR,
        mdns.Status.SERVFAIL,
    )


def test_idn_domain_is_looked_up_as_punycode(resolver: mdns.Resolver) -> None:
    result = mdns.resolve_mx("bücher.test", resolver)
    assert result.domain == "xn--bcher-kva.test"
    assert [t.exchange for t in result.targets] == ["mx1.good.test"]


@pytest.mark.parametrize(
    "bad", ["", "a..b", "bad domain.test", "x" * 64 + ".test", "<a@b>", "-x", "a-.test", "a*.test"]
)
def test_invalid_domain_names_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="not a valid domain name"):
        mdns.normalise_domain(bad)


def test_spf_chain_and_lookup_count(resolver: mdns.Resolver) -> None:
    spf = mdns.resolve_spf("good.test", resolver)
    assert spf.record == "v=spf1 include:_spf.good.test mx -all"
    assert [c.domain for c in spf.children] == ["_spf.good.test"]
    assert spf.total_lookups == 3 and not spf.problems


def test_spf_over_the_lookup_limit_is_flagged(resolver: mdns.Resolver) -> None:
    spf = mdns.resolve_spf("many.test", resolver)
    assert spf.total_lookups == 4 + 5 + 4 + 2
    assert any("exceed the limit of 10" in p for p in spf.problems)


def test_domain_report_has_dmarc_mta_sts_and_tls_rpt(resolver: mdns.Resolver) -> None:
    report = mdns.domain_report("good.test", resolver)
    assert report.dmarc.tags["p"] == "reject"
    assert report.mta_sts.tags["id"] == "20261101T000000"
    assert report.tls_rpt.tags["rua"] == "mailto:tlsrpt@good.test"
    missing = mdns.domain_report("implicit.test", resolver)
    assert missing.dmarc.status is mdns.Status.NXDOMAIN or not missing.dmarc.record


def test_forward_confirmed_reverse_dns(resolver: mdns.Resolver) -> None:
    good = mdns.check_reverse("192.0.2.10", resolver)
    assert good.names == ("mx1.good.test",) and good.fcrdns
    liar = mdns.check_reverse("192.0.2.50", resolver)
    assert liar.names == ("liar.good.test",) and not liar.fcrdns


def test_dnsbl(resolver: mdns.Resolver) -> None:
    (listed,) = mdns.check_dnsbl("192.0.2.99", ["bl.test"], resolver)
    assert listed.listed and listed.codes == ("127.0.0.2",)
    assert listed.reason and "spam source" in listed.reason
    (clean,) = mdns.check_dnsbl("192.0.2.10", ["bl.test"], resolver)
    assert not clean.listed and clean.status is mdns.Status.OK


def test_answers_are_cached_per_run(resolver: mdns.Resolver) -> None:
    first = resolver.lookup("mx1.good.test", "A")
    assert resolver.lookup("MX1.good.test.", "A") is first


def _mailtrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtrace", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_mx_shows_groups_and_flags(nameserver: str) -> None:
    run = _mailtrace("mx", "good.test", "cnamemx.test", "nullmx.test", "--nameserver", nameserver)
    assert run.returncode == 0, run.stderr
    assert "1 (any order)" in run.stdout and "mx3.good.test" in run.stdout
    assert "CNAME" in run.stdout and "accepts no mail" in run.stdout


def test_cli_dns_json(nameserver: str) -> None:
    run = _mailtrace("mx", "--all", "good.test", "--json", "--nameserver", nameserver)
    assert run.returncode == 0, run.stderr
    (report,) = json.loads(run.stdout)
    assert report["dmarc"]["tags"]["p"] == "reject"
    assert report["spf"]["children"][0]["domain"] == "_spf.good.test"


def test_cli_timeout_is_partial_and_invalid_name_is_usage(nameserver: str) -> None:
    slow = _mailtrace("mx", "x.slow.test", "--timeout", "0.3", "--nameserver", nameserver)
    assert slow.returncode == 3 and "got no answer" in slow.stderr
    bad = _mailtrace("mx", "bad..name", "--nameserver", nameserver)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "mailtrace: 'bad..name' is not a valid domain name (empty label)"


def test_check_ips_skips_private_addresses_and_checks_public_ones(resolver: mdns.Resolver) -> None:
    ips = ["10.1.2.3", "192.168.0.1", "fe80::1", "192.0.2.10", "192.0.2.99", "192.0.2.10"]
    reports = mdns.check_ips(ips, ["bl.test"], resolver)
    assert sorted(reports) == ["192.0.2.10", "192.0.2.99"]
    assert reports["192.0.2.10"].reverse.fcrdns and reports["192.0.2.10"].listed_in == []
    assert reports["192.0.2.99"].listed_in == ["bl.test"]
    assert not reports["192.0.2.99"].reverse.fcrdns


HOPS_MESSAGE = """\
Received: from mx1.good.test (mx1.good.test [192.0.2.10])
\tby inbound.example.net (Postfix) with ESMTPS id 4AbC1
\tfor <bob@example.net>; Tue, 3 Mar 2026 10:00:05 +0000
Received: from spammy.example (unknown [192.0.2.99])
\tby mx1.good.test (Postfix) with ESMTP id 9XyZ2
\tfor <bob@example.net>; Tue, 3 Mar 2026 10:00:03 +0000
Received: from laptop (unknown [10.1.2.3])
\tby spammy.example with ESMTP; Tue, 3 Mar 2026 10:00:01 +0000
From: a@spammy.example
To: bob@example.net
Subject: enrichment
Date: Tue, 3 Mar 2026 10:00:00 +0000

body
"""


def test_cli_headers_dns_enriches_public_hops(nameserver: str, tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_text(HOPS_MESSAGE, encoding="utf-8")
    args = ("headers", str(message), "--dns", "--dnsbl", "bl.test", "--nameserver", nameserver)
    run = _mailtrace(*args, "--json")
    assert run.returncode == 0, run.stderr
    (report,) = json.loads(run.stdout)
    checks = {c["ip"]: c for c in report["dns"]}
    assert sorted(checks) == ["192.0.2.10", "192.0.2.99"]  # the private hop is not looked up
    assert checks["192.0.2.10"]["reverse"]["confirmed"] == ["mx1.good.test"]
    assert [r["zone"] for r in checks["192.0.2.99"]["dnsbl"] if r["listed"]] == ["bl.test"]
    table = _mailtrace(*args)
    assert table.returncode == 0, table.stderr
    assert "Hop addresses in DNS" in table.stdout and "bl.test (127.0.0.2)" in table.stdout


def test_cli_headers_without_dns_flag_does_no_lookups(tmp_path: Path) -> None:
    from tests.dnsserver import free_port

    message = tmp_path / "m.eml"
    message.write_text(HOPS_MESSAGE, encoding="utf-8")
    # A nameserver that never answers: any lookup would show up as a timeout note.
    run = _mailtrace("headers", str(message), "--json", "--nameserver", f"127.0.0.1:{free_port()}")
    assert run.returncode == 0, run.stderr
    assert "dns" not in json.loads(run.stdout)[0]


def test_the_test_nameserver_starts_when_its_first_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI once lost every DNS test to a port free for UDP but in use for TCP. The fixture picks
    # ports free for both, and starts dnsmasq again on another if the port is taken meanwhile.
    import shutil
    import socket

    from tests import dnsserver

    if shutil.which("dnsmasq") is None and not Path("/usr/sbin/dnsmasq").exists():
        pytest.skip("dnsmasq is not installed")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy])
        real = dnsserver.free_port
        monkeypatch.setattr(dnsserver, "free_port", lambda: next(ports, None) or real())
        with dnsserver.dnsmasq(tmp_path) as address:
            assert address != f"127.0.0.1:{busy}"
            found = mdns.Resolver(address, timeout=2.0).lookup("mx1.good.test", "A")
            assert found.records == ("192.0.2.10",)
