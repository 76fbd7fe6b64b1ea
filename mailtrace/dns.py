"""The DNS half of "why did this fail": MX targets, SPF, DMARC, MTA-STS, TLS-RPT, PTR and DNSBLs.

Nothing here runs unless a command or flag asks for it: mailtrace never touches the network on its
own. Every lookup goes through one :class:`Resolver` per run, which caches answers, bounds time
with ``timeout`` and runs independent lookups concurrently. The functions return small typed
records, never dnspython objects, and report NXDOMAIN, SERVFAIL and timeouts as statuses instead
of raising.

The order an MTA tries (RFC 5321 §5.1): MX records by preference, equal preferences in random
order — :func:`resolve_mx` returns them as groups of equal preference. No MX records means the
domain's own address records (the implicit MX); a single ``0 .`` MX (RFC 7505) means the domain
accepts no mail.

>>> normalise_domain("Bücher.Example.")
'xn--bcher-kva.example'
>>> spf_lookup_terms("v=spf1 include:_spf.example.com mx a:a.example ip4:192.0.2.0/24 -all")
[('include', '_spf.example.com'), ('mx', ''), ('a', 'a.example')]
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename

from mailtrace.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

#: RFC 7208 §4.6.4: at most 10 mechanisms and modifiers that cause DNS lookups.
SPF_LOOKUP_LIMIT = 10
_SPF_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
_MAX_WORKERS = 16


class Status(StrEnum):
    """How a lookup ended."""

    OK = "ok"  # an answer with records
    NO_DATA = "no_data"  # the name exists but has no records of that type
    NXDOMAIN = "nxdomain"  # the name does not exist
    SERVFAIL = "servfail"  # the server could not answer (broken delegation, DNSSEC failure …)
    TIMEOUT = "timeout"  # no answer within the time allowed
    ERROR = "error"  # any other failure (refused, malformed answer …)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One query's outcome: the records as text, and the name the answer's CNAMEs led to.

    >>> Lookup("mx.example.com", "A", Status.OK, ("192.0.2.1",)).ok
    True
    """

    name: str
    rdtype: str
    status: Status
    records: tuple[str, ...] = ()
    canonical_name: str | None = None  # set when CNAMEs were followed
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(frozen=True, slots=True)
class MxTarget:
    """One host to try, with its addresses and whatever is wrong with it."""

    preference: int
    exchange: str
    addresses: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    implicit: bool = False  # no MX: the domain itself, RFC 5321 §5.1


@dataclass(frozen=True, slots=True)
class MxResult:
    """The delivery targets of a domain in the order an MTA would try them.

    ``groups`` holds targets of equal preference together; within a group the order is random
    by definition, so callers must not rely on it.
    """

    domain: str
    status: Status
    groups: tuple[tuple[MxTarget, ...], ...] = ()
    null_mx: bool = False
    problems: tuple[str, ...] = ()

    @property
    def targets(self) -> list[MxTarget]:
        return [t for group in self.groups for t in group]

    @property
    def accepts_mail(self) -> bool:
        return self.status is Status.OK and not self.null_mx and bool(self.groups)


@dataclass(frozen=True, slots=True)
class SpfNode:
    """An SPF record and the records its include:/redirect= terms lead to."""

    domain: str
    record: str | None
    status: Status
    lookups: int  # lookup-causing terms in this record alone
    children: tuple[SpfNode, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def total_lookups(self) -> int:
        """Lookups counted against the limit across the whole include chain."""
        return self.lookups + sum(child.total_lookups for child in self.children)


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A tag=value TXT policy record (DMARC, MTA-STS, TLS-RPT)."""

    name: str
    status: Status
    record: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainReport:
    """Everything ``mailtrace dns DOMAIN`` shows."""

    domain: str
    mx: MxResult
    spf: SpfNode
    dmarc: TagRecord
    mta_sts: TagRecord
    tls_rpt: TagRecord


@dataclass(frozen=True, slots=True)
class ReverseCheck:
    """PTR names of an address and whether one of them resolves back to it (FCrDNS)."""

    ip: str
    status: Status
    names: tuple[str, ...] = ()
    confirmed: tuple[str, ...] = ()  # the PTR names whose A/AAAA include ``ip``

    @property
    def fcrdns(self) -> bool:
        return bool(self.confirmed)


@dataclass(frozen=True, slots=True)
class DnsblResult:
    """One address checked against one DNS blocklist zone."""

    ip: str
    zone: str
    status: Status
    listed: bool
    codes: tuple[str, ...] = ()  # the 127.0.0.x answers, which say why
    reason: str | None = None  # the zone's TXT explanation, when it gives one


def normalise_domain(domain: str) -> str:
    """The ASCII (punycode) form of ``domain`` without the trailing dot; UsageError if invalid.

    >>> normalise_domain("example.COM")
    'example.com'
    >>> normalise_domain("bad..example")
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: 'bad..example' is not a valid domain name (empty label)
    """
    text = domain.strip()
    if not text or text == ".":
        raise UsageError(f"{domain!r} is not a valid domain name (empty)")
    if any(c.isspace() or c in "@/\\[]()<>,;:\"'" for c in text):
        raise UsageError(f"{domain!r} is not a valid domain name (unexpected character)")
    if ".." in text:
        raise UsageError(f"{domain!r} is not a valid domain name (empty label)")
    try:
        name = dns.name.from_text(text) if text.isascii() else dns.name.from_unicode(text)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise UsageError(f"{domain!r} is not a valid domain name ({exc})") from None
    ascii_name = name.to_text(omit_final_dot=True).lower()
    for label in ascii_name.split("."):
        # Letters, digits and inner hyphens (RFC 1123), plus the underscore of _dmarc-style names.
        if not _LABEL.fullmatch(label):
            raise UsageError(f"{domain!r} is not a valid domain name (bad label {label!r})")
    return ascii_name


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` (IPv6 as ``[::1]:5353`` or bare) into address and port.

    >>> parse_nameserver("127.0.0.1:5353"), parse_nameserver("[::1]:53"), parse_nameserver("::1")
    (('127.0.0.1', 5353), ('::1', 53), ('::1', 53))
    """
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise UsageError(f"--nameserver {text!r}: expected IP or IP:PORT") from None
    if not 0 < number < 65536:
        raise UsageError(f"--nameserver {text!r}: port out of range")
    return host, number


class Resolver:
    """A caching, time-bounded resolver for one run.

    ``nameserver`` is ``IP[:PORT]``; without it the system's resolver configuration is used.
    ``timeout`` bounds every single lookup (all retries included).
    """

    def __init__(self, nameserver: str | None = None, timeout: float = 5.0) -> None:
        if timeout <= 0:
            raise UsageError("--timeout must be positive")
        if nameserver is None:
            try:
                self._resolver = dns.resolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                raise UsageError(f"no usable system resolver ({exc}); use --nameserver") from None
        else:
            address, port = parse_nameserver(nameserver)
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [address]
            self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._cache: dict[tuple[str, str], Lookup] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str, rdtype: str) -> Lookup:
        """Query ``name`` for ``rdtype`` once per run; failures become statuses."""
        key = (name.lower().rstrip("."), rdtype)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._query(key[0], rdtype)
        with self._lock:
            self._cache[key] = result
        return result

    def _query(self, name: str, rdtype: str) -> Lookup:
        try:
            answer = self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(name, rdtype, Status.NXDOMAIN)
        except dns.resolver.LifetimeTimeout as exc:
            return Lookup(name, rdtype, _timeout_or_servfail(exc), error=str(exc))
        except dns.resolver.NoNameservers as exc:
            return Lookup(name, rdtype, Status.SERVFAIL, error=str(exc))
        except dns.exception.DNSException as exc:
            return Lookup(name, rdtype, Status.ERROR, error=str(exc))
        records = tuple(_rdata_text(r) for r in answer.rrset) if answer.rrset else ()
        canonical = answer.canonical_name.to_text(omit_final_dot=True).lower()
        return Lookup(
            name,
            rdtype,
            Status.OK if records else Status.NO_DATA,
            records,
            canonical if canonical != name else None,
        )

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``, run concurrently."""
        todo = list(items)
        if len(todo) <= 1:
            return [fn(x) for x in todo]
        with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(todo))) as pool:
            return list(pool.map(fn, todo))


def _timeout_or_servfail(exc: dns.resolver.LifetimeTimeout) -> Status:
    # dnspython reports "every server answered SERVFAIL until time ran out" as a timeout too.
    errors = exc.kwargs.get("errors", []) if hasattr(exc, "kwargs") else []
    if any("SERVFAIL" in str(e) for e in errors):
        return Status.SERVFAIL
    return Status.TIMEOUT


def _rdata_text(rdata: dns.rdata.Rdata) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.MX:
        exchange: dns.name.Name = rdata.exchange  # type: ignore[attr-defined]
        # The root name (RFC 7505 null MX) becomes "".
        exchange_text = "" if exchange == dns.name.root else exchange.to_text(True).lower()
        return f"{rdata.preference} {exchange_text}"  # type: ignore[attr-defined]
    return rdata.to_text().rstrip(".").lower()


def _addresses(resolver: Resolver, host: str) -> tuple[tuple[str, ...], list[Lookup]]:
    lookups = [resolver.lookup(host, "A"), resolver.lookup(host, "AAAA")]
    return tuple(r for lk in lookups for r in lk.records), lookups


def resolve_mx(domain: str, resolver: Resolver | None = None) -> MxResult:
    """The targets an MTA would try for ``domain``, grouped by preference, with addresses.

    Flags an MX that points at a CNAME or at an IP literal (both forbidden by RFC 5321 §5.1 /
    RFC 2181 §10.3 but seen in the wild), a target with no addresses, the null MX of RFC 7505
    and the implicit MX of a domain with address records only.
    """
    resolver = resolver or Resolver()
    name = normalise_domain(domain)
    mx = resolver.lookup(name, "MX")
    if mx.status in (Status.NXDOMAIN, Status.SERVFAIL, Status.TIMEOUT, Status.ERROR):
        return MxResult(name, mx.status, problems=(mx.error,) if mx.error else ())
    if mx.status is Status.NO_DATA:
        addresses, lookups = _addresses(resolver, name)
        if addresses:
            target = MxTarget(0, name, addresses, implicit=True)
            return MxResult(name, Status.OK, ((target,),), problems=("no MX: implicit MX",))
        failed = [lk.status for lk in lookups if lk.status not in (Status.OK, Status.NO_DATA)]
        status = failed[0] if failed else Status.NO_DATA
        return MxResult(name, status, problems=("no MX and no address records",))
    parsed = sorted(_parse_mx(record) for record in mx.records)
    if any(exchange == "" for _, exchange in parsed):
        problems = () if len(parsed) == 1 else ("null MX mixed with other MX records",)
        return MxResult(name, Status.OK, null_mx=True, problems=problems)
    targets = resolver.map(lambda pe: _mx_target(resolver, *pe), parsed)
    groups: dict[int, list[MxTarget]] = {}
    for target in targets:
        groups.setdefault(target.preference, []).append(target)
    return MxResult(name, Status.OK, tuple(tuple(groups[p]) for p in sorted(groups)))


def _parse_mx(record: str) -> tuple[int, str]:
    preference, _, exchange = record.partition(" ")
    return int(preference), exchange


def _mx_target(resolver: Resolver, preference: int, exchange: str) -> MxTarget:
    problems: list[str] = []
    if _is_ip_literal(exchange):
        problems.append("MX points at an IP address, not a host name")
    addresses, lookups = _addresses(resolver, exchange)
    if any(lk.canonical_name for lk in lookups):
        target = next(lk.canonical_name for lk in lookups if lk.canonical_name)
        problems.append(f"MX points at a CNAME (→ {target})")
    if not addresses:
        failed = [lk for lk in lookups if lk.status not in (Status.OK, Status.NO_DATA)]
        problems.append(f"no addresses ({failed[0].status})" if failed else "no addresses")
    return MxTarget(preference, exchange, addresses, tuple(problems))


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def spf_lookup_terms(record: str) -> list[tuple[str, str]]:
    """The terms of an SPF record that cost a DNS lookup, as (mechanism, argument)."""
    terms: list[tuple[str, str]] = []
    for word in record.split()[1:]:
        term = word.lstrip("+-~?").lower()
        if term.startswith("redirect="):
            terms.append(("redirect", word.split("=", 1)[1]))
            continue
        mechanism = term.partition(":")[0].split("/", 1)[0]
        if mechanism in _SPF_LOOKUP_TERMS:
            terms.append((mechanism, word.split(":", 1)[1] if ":" in word else ""))
    return terms


def resolve_spf(
    domain: str, resolver: Resolver | None = None, _seen: frozenset[str] = frozenset()
) -> SpfNode:
    """The SPF record of ``domain`` and its include/redirect chain, lookups counted."""
    resolver = resolver or Resolver()
    name = normalise_domain(domain)
    txt = resolver.lookup(name, "TXT")
    if not txt.ok:
        return SpfNode(name, None, txt.status, 0)
    records = [r for r in txt.records if r.lower().startswith("v=spf1") and r[6:7] in ("", " ")]
    if not records:
        return SpfNode(name, None, Status.NO_DATA, 0, problems=("no SPF record",))
    problems = ["several SPF records (permerror)"] if len(records) > 1 else []
    record = records[0]
    terms = spf_lookup_terms(record)
    seen = _seen | {name}
    nested: list[str] = []
    for mechanism, argument in terms:
        if mechanism in ("include", "redirect") and argument:
            if "%" in argument:
                problems.append(f"{mechanism}:{argument} uses macros (not followed)")
            elif argument.lower().rstrip(".") in seen:
                problems.append(f"{mechanism}:{argument} loops back")
            else:
                nested.append(argument)
    children = tuple(resolver.map(lambda d: _spf_child(resolver, d, seen), nested))
    node = SpfNode(name, record, Status.OK, len(terms), children, tuple(problems))
    if not _seen and node.total_lookups > SPF_LOOKUP_LIMIT:
        problems.append(
            f"{node.total_lookups} DNS lookups exceed the limit of {SPF_LOOKUP_LIMIT} (permerror)"
        )
        return SpfNode(name, record, Status.OK, len(terms), children, tuple(problems))
    return node


def _spf_child(resolver: Resolver, domain: str, seen: frozenset[str]) -> SpfNode:
    try:
        return resolve_spf(domain, resolver, seen)
    except UsageError:
        return SpfNode(domain, None, Status.ERROR, 0, problems=("not a valid domain name",))


def parse_tags(record: str) -> dict[str, str]:
    """``"v=DMARC1; p=reject; rua=mailto:d@example.com"`` into a tag → value mapping.

    >>> parse_tags("v=DMARC1; p=reject; pct=50")
    {'v': 'DMARC1', 'p': 'reject', 'pct': '50'}
    """
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            tags[key.strip().lower()] = value.strip()
    return tags


def _tag_record(resolver: Resolver, name: str, version: str) -> TagRecord:
    txt = resolver.lookup(name, "TXT")
    if not txt.ok:
        return TagRecord(name, txt.status)
    records = [r for r in txt.records if r.replace(" ", "").lower().startswith(f"v={version}")]
    if not records:
        return TagRecord(name, Status.NO_DATA)
    problems = (f"{len(records)} records: receivers ignore them all",) if len(records) > 1 else ()
    return TagRecord(name, Status.OK, records[0], parse_tags(records[0]), problems)


def resolve_dmarc(domain: str, resolver: Resolver | None = None) -> TagRecord:
    """The DMARC policy at ``_dmarc.<domain>`` (no organisational-domain fallback)."""
    resolver = resolver or Resolver()
    record = _tag_record(resolver, "_dmarc." + normalise_domain(domain), "dmarc1")
    policy = record.tags.get("p")
    if record.status is Status.OK and policy not in ("none", "quarantine", "reject"):
        return TagRecord(
            record.name,
            record.status,
            record.record,
            record.tags,
            (*record.problems, "no valid p= tag"),
        )
    return record


def domain_report(domain: str, resolver: Resolver | None = None) -> DomainReport:
    """MX, SPF, DMARC, MTA-STS and TLS-RPT of one domain, looked up concurrently."""
    resolver = resolver or Resolver()
    name = normalise_domain(domain)
    jobs: list[Callable[[], object]] = [
        lambda: resolve_mx(name, resolver),
        lambda: resolve_spf(name, resolver),
        lambda: resolve_dmarc(name, resolver),
        lambda: _tag_record(resolver, "_mta-sts." + name, "stsv1"),
        lambda: _tag_record(resolver, "_smtp._tls." + name, "tlsrptv1"),
    ]
    mx, spf, dmarc, sts, rpt = resolver.map(lambda job: job(), jobs)
    assert isinstance(mx, MxResult) and isinstance(spf, SpfNode)
    assert (
        isinstance(dmarc, TagRecord) and isinstance(sts, TagRecord) and isinstance(rpt, TagRecord)
    )
    return DomainReport(name, mx, spf, dmarc, sts, rpt)


def check_reverse(ip: str, resolver: Resolver | None = None) -> ReverseCheck:
    """PTR names of ``ip`` and which of them resolve back to it (forward-confirmed rDNS)."""
    resolver = resolver or Resolver()
    address = ipaddress.ip_address(ip)
    ptr = resolver.lookup(dns.reversename.from_address(str(address)).to_text(), "PTR")
    if not ptr.ok:
        return ReverseCheck(str(address), ptr.status)
    confirmed = [
        name
        for name in ptr.records
        if str(address) in {str(ipaddress.ip_address(a)) for a in _addresses(resolver, name)[0]}
    ]
    return ReverseCheck(str(address), Status.OK, ptr.records, tuple(confirmed))


def dnsbl_name(ip: str, zone: str) -> str:
    """The name to query for ``ip`` in a DNSBL ``zone`` (reversed octets or nibbles).

    >>> dnsbl_name("192.0.2.1", "zen.example.org")
    '1.2.0.192.zen.example.org'
    """
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        reversed_part = ".".join(reversed(str(address).split(".")))
    else:
        reversed_part = ".".join(reversed(address.exploded.replace(":", "")))
    return f"{reversed_part}.{normalise_domain(zone)}"


def check_dnsbl(
    ip: str, zones: Sequence[str], resolver: Resolver | None = None
) -> list[DnsblResult]:
    """Look ``ip`` up in every DNSBL zone: listed when the zone answers with an address."""
    resolver = resolver or Resolver()

    def one(zone: str) -> DnsblResult:
        name = dnsbl_name(ip, zone)
        answer = resolver.lookup(name, "A")
        if answer.status in (Status.NXDOMAIN, Status.NO_DATA):
            return DnsblResult(ip, zone, Status.OK, False)
        if not answer.ok:
            return DnsblResult(ip, zone, answer.status, False)
        txt = resolver.lookup(name, "TXT")
        reason = "; ".join(txt.records) if txt.ok else None
        return DnsblResult(ip, zone, Status.OK, True, answer.records, reason)

    return resolver.map(one, zones)


@dataclass(frozen=True, slots=True)
class IpReport:
    """What DNS says about one hop's address: its PTR/FCrDNS check and DNSBL listings."""

    ip: str
    reverse: ReverseCheck
    dnsbl: tuple[DnsblResult, ...] = ()

    @property
    def listed_in(self) -> list[str]:
        return [r.zone for r in self.dnsbl if r.listed]


def check_ips(
    ips: Iterable[str], dnsbl_zones: Sequence[str] = (), resolver: Resolver | None = None
) -> dict[str, IpReport]:
    """PTR, FCrDNS and DNSBL checks for every distinct public address in ``ips``, concurrently.

    Private, loopback and link-local addresses are skipped: the public DNS knows nothing of them
    and a DNSBL query would leak internal topology.

    >>> check_ips(["10.0.0.1", "127.0.0.1", "not an ip"])
    {}
    """
    unique: list[str] = []
    for text in ips:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if not _is_internal(address) and str(address) not in unique:
            unique.append(str(address))
    if not unique:
        return {}
    resolver = resolver or Resolver()

    def one(ip: str) -> IpReport:
        listings = tuple(check_dnsbl(ip, dnsbl_zones, resolver)) if dnsbl_zones else ()
        return IpReport(ip, check_reverse(ip, resolver), listings)

    return {report.ip: report for report in resolver.map(one, unique)}


_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
    ):
        return True
    return any(address.version == net.version and address in net for net in _INTERNAL)
