"""Received header values (RFC 5321 §4.4) into their clauses.

A Received header is a list of clauses — ``from``, ``by``, ``via``, ``with``, ``id``, ``for`` —
with comments (RFC 5322 CFWS, nested) anywhere between them, then ``;`` and a date. Every MTA
bends that grammar: qmail writes only comments, Exim puts ``helo=`` inside them, Microsoft adds
``via Frontend Transport``, SendGrid forgets the ``;``. So this is a small tokenizer, not a bag of
regexes: the value is split into words, comments (matched in one linear pass, nesting kept),
angle addresses, domain literals, quoted strings and ``;``; then the clauses are walked in
order. The first ``from`` and ``by`` win; a repeated clause goes to ``extra``.

Field choices worth knowing:

- ``from_host`` is the name written right after ``from`` (``unknown`` for qmail, the reverse name
  for Exim); ``from_helo`` is the name the client claimed (an explicit ``HELO x`` / ``helo=x`` when
  there is one, else ``from_host``); ``from_rdns`` is the name the receiver looked up.
- ``from_ip`` is the connecting address in ``ipaddress`` compressed form, from the TCP-info comment
  first and from an address literal after ``from`` second. ``IPv6:`` prefixes, ports and ``%zone``
  suffixes are dropped. An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) stays IPv6, as the
  receiver wrote it (compressed: ``::ffff:c000:201``); ``ipaddress``'s ``ipv4_mapped`` unmaps it.
- ``protocol`` is the ``with`` value normalised: upper case (except ``local``), Exim's ``local-``
  prefix and Stalwart's ``/TLS/...`` suffix removed, ``ESMTP-TLS`` read as ``ESMTPS``, ``BSMTP`` as
  ``SMTP``, Microsoft ``SMTPSVC`` / ``SMTP Server`` as ``SMTP``, ``HTTPREST`` as ``HTTP``.
  ``with_raw`` keeps the clause as written.
- ``tls_version`` is normalised to ``TLSv1.2``-style where the version has a minor number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import NamedTuple

from mailtrace.headers.dates import parse_date


@dataclass(frozen=True, slots=True)
class Received(Mapping[str, object]):
    """One parsed Received header; also a read-only mapping keyed by field name (``for``).

    ``from_host``
        the word right after ``from`` as written (a HELO name, ``unknown``, an address literal)
    ``from_helo`` / ``from_rdns`` / ``from_ip``
        the name the client claimed, the name the receiver looked up, the connecting address
    ``by_host``, ``via``, ``id``
        the first ``by``, ``via`` and ``id`` clauses (``<>`` removed from ids)
    ``protocol`` / ``with_raw``
        the ``with`` clause normalised (``ESMTPS``, ``LMTP``, ``local`` …) and as written
    ``tls_version`` / ``tls_cipher``
        from TLS comments of any MTA (``TLSv1.3``, ``TLS_AES_256_GCM_SHA384``)
    ``for_`` (key ``for``), ``envelope_from``
        the first recipient of the ``for`` clause and the envelope sender, without ``<>``
    ``date_utc`` / ``utc_offset`` / ``date_raw``
        the date after the last ``;`` in UTC, its offset as written, and its text
    ``extra``
        ``(keyword, value)`` pairs of repeated clauses (``("by", "…")``), further ``for``
        recipients, and ``("text", "…")`` for words no clause claims
    ``problems``
        what could not be read, one phrase each; ``raw`` is the value as given

    >>> r = Received(by_host="mx.example.net", for_="bob@example.net")
    >>> r["for"], r.get("by_host"), "for" in r, r.for_
    ('bob@example.net', 'mx.example.net', True, 'bob@example.net')
    """

    from_host: str | None = None
    from_helo: str | None = None
    from_rdns: str | None = None
    from_ip: str | None = None
    by_host: str | None = None
    via: str | None = None
    protocol: str | None = None
    with_raw: str | None = None
    tls_version: str | None = None
    tls_cipher: str | None = None
    id: str | None = None
    for_: str | None = None
    envelope_from: str | None = None
    date_utc: datetime | None = None
    utc_offset: str | None = None
    date_raw: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()
    raw: str = ""

    def __getitem__(self, key: str) -> object:
        if key not in _KEY_SET:
            raise KeyError(key)
        return getattr(self, "for_" if key == "for" else key)

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)


_KEYS = tuple("for" if f.name == "for_" else f.name for f in fields(Received))
_KEY_SET = frozenset(_KEYS)

KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})

#: Longer values are read only in part: real Received headers are a few hundred characters, and
#: the walk costs about a microsecond per token, so a hostile megabyte stays a millisecond job.
MAX_CHARS = 65_536


class _Tok(NamedTuple):
    kind: str  # "w" word, "c" comment (text = inside of the outer parens), ";" separator
    text: str
    start: int
    end: int


# A word is a run of non-space characters; an angle address, a domain literal or a quoted string
# inside it may hold spaces. Each bracketed alternative stops at the next opening bracket of its
# kind, so an unclosed one costs one scan to that point and matching stays linear.
_WORD = re.compile(r"""(?:<[^<>()]*>|\[[^\[\]()]*\]|"(?:[^"\\()]|\\.)*"|[^\s;()])+|;""")
_PARENS = re.compile(r"\\.|[()]", re.DOTALL)


def _comment_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    """Outermost matched ``(...)`` spans, and whether any paren was left unmatched.

    One stack pass pairs every ``)`` with the nearest open ``(``, so ``((((…`` costs linear time;
    pairs closed inside an unclosed paren are still comments of their own.
    """
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    unmatched_close = False
    for m in _PARENS.finditer(text):
        c = m.group()
        if c == "(":
            stack.append(m.start())
        elif c == ")":
            if stack:
                pairs.append((stack.pop(), m.end()))
            else:
                unmatched_close = True
    pairs.sort()
    spans: list[tuple[int, int]] = []
    for start, end in pairs:
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    return spans, unmatched_close or bool(stack)


def _tokenize(text: str) -> tuple[list[_Tok], bool]:
    spans, unbalanced = _comment_spans(text)
    toks: list[_Tok] = []
    pos = 0
    for cstart, cend in [*spans, (len(text), len(text))]:
        _words(text, pos, cstart, toks)
        if cend > cstart:
            toks.append(_Tok("c", text[cstart + 1 : cend - 1], cstart, cend))
        pos = cend
    return toks, unbalanced


def _words(text: str, start: int, end: int, toks: list[_Tok]) -> None:
    # Words may hold ";" inside <…>, […] or "…"; any other ";" is a token of its own.
    append = toks.append
    for m in _WORD.finditer(text, start, end):
        w = m.group()
        append(_Tok(";" if w == ";" else "w", w, m.start(), m.end()))


# --------------------------------------------------------------------------- addresses


_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
# 192.0.2.1, 192.0.2.1:25, 192.0.2.1.25 (old Exim), 192.0.2.1_relay (qmail-ldap)
_IPV4_HEAD = re.compile(
    r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[:.]\d{1,5})?(?![0-9A-Za-z.])"
)
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def _as_ip(text: str) -> str | None:
    """The IP address a token means, in compressed form: ``[IPv6:…%eth0]:25`` → ``…``."""
    t = text.strip(" \t\r\n,;")
    if "@" in t:
        t = t.rsplit("@", 1)[1]  # qmail and Sendmail write user@ip / ident@[ip]
    t = t.strip("[]()")
    if t[:5].lower() == "ipv6:":
        t = t[5:]
    if not t or not ("0" <= t[0] <= "9" or t[0] in _IPV6_CHARS) or len(t) > 60:
        return None  # most words are names: decide cheaply before any real parsing
    m = _IPV4_HEAD.match(t)
    if m:
        octets = [int(g) for g in m.groups()]
        return ".".join(map(str, octets)) if max(octets) <= 255 else None
    t = t.split("%", 1)[0]
    if ":" not in t or not _IPV6_CHARS.issuperset(t):
        return None
    try:
        return ipaddress.IPv6Address(t).compressed
    except ValueError:
        return None


def _ip_in_word(word: str) -> str | None:
    if "[" in word:
        for inner in _BRACKETED.findall(word):
            ip = _as_ip(inner)
            if ip:
                return ip
    return _as_ip(word)


def _bare(word: str) -> str:
    """A clause value without the punctuation MTAs glue to it: ``<x>``, ``x,``, ``x;``."""
    w = word.strip(",;")
    if w.startswith("<") and w.endswith(">"):
        w = w[1:-1].strip()
    return w


# --------------------------------------------------------------------------- protocol and TLS


_PROTO = re.compile(r"(?:utf8)?(?:e?smtp|lmtp)s?a?|https?|imaps?|pop3s?")
_PROTO_ALIASES = {"bsmtp": "SMTP", "smtpsvc": "SMTP", "httprest": "HTTP", "local": "local"}
_PROTO_PART = re.compile(r"[A-Za-z0-9_-]+")
_SINGLE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _proto_token(tok: str) -> str | None:
    t = tok.lower()
    if t.startswith("local-") and len(t) > 6:
        t = t[6:]  # Exim: local-esmtp, local-bsmtp
    if t.endswith("-tls"):
        t = t[:-4] + "s"  # CommuniGate: ESMTP-TLS
    if t in _PROTO_ALIASES:
        return _PROTO_ALIASES[t]
    if _PROTO.fullmatch(t):
        return t.upper()
    return None


def normalise_protocol(words: list[str]) -> str | None:
    """The protocol a ``with`` clause names, from its words (comments already removed).

    >>> normalise_protocol(["Microsoft", "SMTP", "Server"]), normalise_protocol(["local-esmtps"])
    ('SMTP', 'ESMTPS')
    >>> normalise_protocol(["ESMTP/TLS/AES256-GCM-SHA384"]), normalise_protocol(["mapi"])
    ('ESMTP', 'MAPI')
    """
    for word in words:
        for part in _PROTO_PART.findall(word):
            p = _proto_token(part)
            if p:
                return p
    if len(words) == 1 and _SINGLE_WORD.fullmatch(words[0].strip(",;")):
        return words[0].strip(",;").upper()
    return None


_TLS_VERSION = r"(TLSv1/SSLv3|TLS[-_ ]?v?\d(?:[._]\d)?|SSLv\d)"
_TLS_PATTERNS = (
    # Postfix: (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) ...)
    re.compile(r"\busing " + _TLS_VERSION + r" with cipher ([\w-]+)"),
    # Exim: (TLS1.2:ECDHE_RSA_AES_128_GCM_SHA256:128), (Cipher TLSv1:DES-CBC3-SHA:168);
    # OpenSMTPD: (TLSv1.3:TLS_AES_256_GCM_SHA384:256:NO)
    re.compile(
        r"^(?:cipher |tls_cipher )?(TLSv1/SSLv3|TLS[-_ ]?v?\d(?:[._]\d)?|SSLv\d|UNKNOWN)"
        r":([\w-]+)(?::\d+(?::\w+)?)?$",
        re.I,
    ),
    # Exim 4.9x: (TLS1.3), the cipher follows as a word of the with clause
    re.compile(r"^" + _TLS_VERSION + r"()$", re.I),
    # Courier: (TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA); CommuniGate-like (TLS: TLS1.3, 128bits, X)
    re.compile(r"\bTLS: " + _TLS_VERSION + r", ?\d+bits, ?([\w-]+)"),
)
_KV_VERSION = re.compile(r"\bversion=" + _TLS_VERSION, re.I)
_KV_CIPHER = re.compile(r"\bcipher=([\w-]+)", re.I)
_MINOR_VERSION = re.compile(r"TLS[-_ ]?v?(\d)[._](\d)", re.I)


def _tls_version(v: str) -> str:
    m = _MINOR_VERSION.fullmatch(v)
    return f"TLSv{m.group(1)}.{m.group(2)}" if m else v


def _tls_from_comment(text: str) -> tuple[str | None, str | None]:
    flat = " ".join(text.split())
    for pat in _TLS_PATTERNS:
        m = pat.search(flat)
        if m:
            return _tls_version(m.group(1)), m.group(2) or None
    v = _KV_VERSION.search(flat)
    c = _KV_CIPHER.search(flat)
    if v or c:
        return (_tls_version(v.group(1)) if v else None), (c.group(1) if c else None)
    return None, None


# --------------------------------------------------------------------------- dates without ";"


_DAY_NAME = re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?", re.I)
_MONTH_NAME = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*,?", re.I)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[\d:.]+\S*)?")


def _date_start(toks: list[_Tok]) -> int | None:
    """Where a date begins in a header that has no ``;`` (SendGrid, Go, careless MTAs)."""
    for i in range(1, len(toks)):
        t = toks[i]
        if t.kind != "w" or not t.text[:1].isalnum() or toks[i - 1].text.lower() in KEYWORDS:
            continue
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        if _ISO_DAY.fullmatch(t.text):
            return i
        if _DAY_NAME.fullmatch(t.text) and (nxt.isdigit() or _MONTH_NAME.fullmatch(nxt)):
            return i
        after = toks[i + 2].text if i + 2 < len(toks) else ""
        if t.text.isdigit() and len(t.text) <= 2 and _MONTH_NAME.fullmatch(nxt) and after.isdigit():
            return i
    return None


# --------------------------------------------------------------------------- the walk


@dataclass(slots=True)
class _Clause:
    keyword: str
    toks: list[_Tok]


def _split_clauses(toks: list[_Tok]) -> tuple[list[_Tok], list[_Clause]]:
    lead: list[_Tok] = []
    clauses: list[_Clause] = []
    for t in toks:
        if t.kind == ";":
            continue  # OpenSMTPD ends every clause with one; only the last ";" means anything
        if t.kind == "w" and t.text.lower() in KEYWORDS:
            clauses.append(_Clause(t.text.lower(), []))
        elif clauses:
            clauses[-1].toks.append(t)
        else:
            lead.append(t)
    return lead, clauses


def _words_of(toks: list[_Tok]) -> list[str]:
    return [t.text for t in toks if t.kind == "w"]


_HELO_WORDS = frozenset({"helo", "ehlo", "lhlo"})
_ENVELOPE_WORDS = frozenset({"envelope-from", "envelope-sender"})
_CIPHER_WORD = re.compile(r"[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+){2,}")
_COMMENT_WORD = re.compile(r"[^\s(),]+")


@dataclass(slots=True)
class _From:
    host: str | None = None
    helo: str | None = None
    rdns: str | None = None
    ip: str | None = None


def _read_from(toks: list[_Tok]) -> tuple[_From, list[str]]:
    """The sender side: HELO name, reverse name and IP, from a ``from`` clause's tokens."""
    info = _From()
    stray: list[str] = []
    rest = toks
    if toks and toks[0].kind == "w":
        info.host = _bare(toks[0].text) or None
        rest = toks[1:]
    claimed = False
    for t in rest:
        if t.kind == "c":
            _read_tcp_info(t.text, info)
        elif t.kind == "w":
            if info.ip is None and (ip := _ip_in_word(t.text)) is not None:
                info.ip = ip  # an address after the name: "from name [192.0.2.1]"
            elif claimed and info.helo is None:
                info.helo = t.text.strip('",')  # smap: claiming to be "name"
            else:
                stray.append(t.text)
                claimed = claimed or t.text.lower() == "be"
    if info.ip is None and info.host is not None:
        info.ip = _ip_in_word(info.host)
    # qmail and Exim put the looked-up name first when the HELO differs from it.
    host = info.host or ""
    literal = _ip_in_word(host) is not None
    if info.helo is not None and info.rdns is None and host.lower() not in {"", "unknown"}:
        info.rdns = None if literal else host
    if info.helo is None and host and not literal:
        info.helo = host
    return info, stray


def _read_tcp_info(comment: str, info: _From) -> None:
    words = _COMMENT_WORD.findall(comment)
    skip_next = False
    prev: str | None = None
    for w in words:
        low = w.lower()
        if skip_next:
            skip_next = False
            if info.helo is None:
                info.helo = w
            continue
        if low in _HELO_WORDS:
            skip_next = True
            continue
        if low.startswith("helo="):
            if info.helo is None and len(w) > 5:
                info.helo = w[5:]
            continue
        if "=" in low:
            continue  # port=, ident=, bits= … are not addresses
        if info.ip is None and (ip := _ip_in_word(w)) is not None:
            info.ip = ip
            if w.startswith("[") and prev is not None and info.rdns is None:
                name = prev.rsplit("@", 1)[-1].strip("<>")
                if name.lower() not in {"unknown", "unverified"} and _ip_in_word(name) is None:
                    # Postfix and Sendmail: (rdns [ip]), (ident@rdns [ip]); Gmail ends it in "."
                    info.rdns = name.rstrip(".") or None
        prev = w


def parse_received(value: str) -> Received:
    """Parse one Received header value (folded or not) into its clauses; never raises.

    >>> r = parse_received("from mail.example.org (mail.example.org [192.0.2.25])\\r\\n"
    ...                    "\\tby mx.example.net (Postfix) with ESMTPS id 4AbC12;\\r\\n"
    ...                    "\\tTue, 3 Mar 2026 10:00:00 +0100 (CET)")
    >>> r.from_host, r.from_ip, r.by_host, r.protocol, r.id
    ('mail.example.org', '192.0.2.25', 'mx.example.net', 'ESMTPS', '4AbC12')
    >>> r.date_utc.isoformat(), r.utc_offset
    ('2026-03-03T09:00:00+00:00', '+0100')
    >>> q = parse_received("(qmail 4242 invoked by uid 89); 3 Mar 2026 10:00:00 -0000")
    >>> q["by_host"] is None, q["date_utc"].isoformat()
    (True, '2026-03-03T10:00:00+00:00')
    """
    # A whole header line may be passed; the value is what follows the name.
    text = value[9:] if value[:9].lower() == "received:" else value
    if len(text) <= MAX_CHARS:
        return _parse(text, value, [])
    # Hostile or broken: read the head and the date after the last ";", say what was skipped.
    semi = text.rfind(";")
    head = text[: min(semi, MAX_CHARS)] if semi >= 0 else text[:MAX_CHARS]
    date = " ;" + text[semi + 1 : semi + 1 + 256] if semi >= 0 else ""
    note = f"value of {len(text):,} characters: only the first {MAX_CHARS:,} and the date read"
    return _parse(head + date, value, [note])


def _parse(value: str, raw: str, problems: list[str]) -> Received:
    toks, unbalanced = _tokenize(value)
    if unbalanced:
        problems.append("unbalanced parentheses")

    # The date follows the last ";" — up to any clause some MTAs write after it.
    date_toks: list[_Tok] = []
    semis = [i for i, t in enumerate(toks) if t.kind == ";"]
    if semis:
        body, tail = toks[: semis[-1]], toks[semis[-1] + 1 :]
    else:
        cut = _date_start(toks)
        body, tail = (toks, []) if cut is None else (toks[:cut], toks[cut:])
    for i, t in enumerate(tail):
        if t.kind == "w" and t.text.lower() in KEYWORDS:
            body = body + tail[i:]
            break
        date_toks.append(t)
    lead, clauses = _split_clauses(body)

    fields_: dict[str, str | None] = {}
    extra: list[tuple[str, str]] = []
    sender = _From()
    with_words: list[str] = []
    for clause in clauses:
        kw, ct = clause.keyword, clause.toks
        words = _words_of(ct)
        if kw in fields_:
            joined = " ".join(words)
            if kw == "from" and joined.startswith("<") and "envelope_from" not in fields_:
                fields_["envelope_from"] = _bare(words[0])  # XMail: "from <sender>"
            elif joined:
                extra.append((kw, joined))
            continue
        if kw == "from":
            sender, stray = _read_from(ct)
            fields_["from"] = sender.host
            if stray:
                extra.append(("text", " ".join(stray)))
        elif kw == "with":
            with_words = words
            if ct:
                fields_["with"] = " ".join(value[ct[0].start : ct[-1].end].split())
            else:
                fields_["with"] = None
        elif kw == "via":
            fields_["via"] = " ".join(words) or None
        elif kw == "for":
            # "for <a@example>, <b@example>" and "for <a@example>,<b@example>": one list
            parts = [_bare(p) for w in words for p in w.split(",")]
            addrs = [p for p in parts if p]
            fields_["for"] = addrs[0] if addrs else None
            extra.extend(("for" if "@" in a else "text", a) for a in addrs[1:])
        else:
            fields_[kw] = _bare(words[0]) if words else None
            extra.extend(("text", w) for w in words[1:])

    if (
        "from" not in fields_
        and lead
        and lead[0].kind == "c"
        and lead[0].text[:5].lower() == "from "
    ):
        # NAVGW, Juno: the whole from clause sits inside the leading comment.
        inner, _ = _tokenize(lead[0].text[5:])
        sender, _stray = _read_from(inner)
        fields_["from"] = sender.host

    tls_version = tls_cipher = None
    envelope_from = fields_.get("envelope_from")
    prev = ""
    for t in toks:
        if t.kind == "c":
            if tls_version is None and tls_cipher is None:
                tls_version, tls_cipher = _tls_from_comment(t.text)
            head = t.text.split(None, 2)
            if envelope_from is None and len(head) > 1 and head[0].lower() in _ENVELOPE_WORDS:
                envelope_from = _bare(head[1])  # Exim, ecelerity: (envelope-from <a@example>)
            prev = ""
        elif t.kind == "w":
            # Exim 4.9x and Haraka write words: "tls TLS_AES_256_GCM_SHA384", "envelope-from <a>".
            if prev == "tls" and tls_cipher is None and _CIPHER_WORD.fullmatch(t.text):
                tls_cipher = t.text
            elif prev in _ENVELOPE_WORDS and envelope_from is None:
                envelope_from = _bare(t.text)
            prev = t.text.lower()
    if with_words and tls_cipher is None:
        parts = with_words[0].split("/")
        if len(parts) >= 3 and parts[1].upper() == "TLS":
            tls_cipher = parts[2]  # Stalwart: ESMTP/TLS/DHE-RSA-AES256-GCM-SHA384

    date_utc = offset = date_raw = None
    if date_toks:
        date_raw = " ".join(value[date_toks[0].start : date_toks[-1].end].split())
        parsed = parse_date(date_raw)
        date_utc, offset = parsed.utc, parsed.offset
        problems.extend("date: " + p for p in parsed.problems)
    else:
        problems.append("no date")

    return Received(
        from_host=sender.host,
        from_helo=sender.helo,
        from_rdns=sender.rdns,
        from_ip=sender.ip,
        by_host=fields_.get("by"),
        via=fields_.get("via"),
        protocol=normalise_protocol(with_words) if with_words else None,
        with_raw=fields_.get("with"),
        tls_version=tls_version,
        tls_cipher=tls_cipher,
        id=fields_.get("id"),
        for_=fields_.get("for"),
        envelope_from=envelope_from or None,
        date_utc=date_utc,
        utc_offset=offset,
        date_raw=date_raw,
        extra=tuple(extra),
        problems=tuple(problems),
        raw=raw,
    )
