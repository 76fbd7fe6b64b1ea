"""Authentication headers into AUTH rows: Authentication-Results, ARC, Received-SPF, DKIM.

Authentication-Results (RFC 8601) is ``authserv-id; method=result prop=value …; …``.
Microsoft 365 writes the same results without the authserv-id; ARC-Authentication-Results
(RFC 8617) puts ``i=N;`` in front. Signatures (DKIM-Signature, ARC-Seal,
ARC-Message-Signature) are tag lists: their row keeps the signing domain, selector and
algorithm (and ARC-Seal's chain validation ``cv=`` as the result).

>>> rows = parse_auth_field("Authentication-Results",
...     "mx.example.net; spf=pass (ok) smtp.mailfrom=example.com; dkim=fail header.d=example.com")
>>> [(r.authserv_id, r.method, r.result, r.properties) for r in rows][1]
('mx.example.net', 'dkim', 'fail', 'header.d=example.com')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from mailtrace.schema import AUTH

#: The header fields this module reads (lower case).
AUTH_FIELDS = frozenset(
    {
        "authentication-results",
        "arc-authentication-results",
        "arc-seal",
        "arc-message-signature",
        "received-spf",
        "dkim-signature",
    }
)

_INT32_MAX = 2**31 - 1
_SPECIAL = re.compile(r'[()"\\]')


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One authentication result or signature, as one AUTH row."""

    header: str
    authserv_id: str | None
    method: str | None
    result: str | None
    properties: str | None
    instance: int | None
    raw: str


def strip_comments(text: str) -> str:
    """``text`` with its (nested) parenthesised comments removed; quoted strings are kept.

    >>> strip_comments('a (b (c) d) "e (f)" g')
    'a  "e (f)" g'
    """
    if "(" not in text:
        return text
    # Walk only the characters that matter; the text between them is copied in slices.
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    skip_to = -1
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i < skip_to:
            continue  # the character after a backslash
        c = text[i]
        if c == "\\":
            skip_to = i + 2
        elif quoted:
            quoted = c != '"'
        elif c == "(":
            if depth == 0:
                out.append(text[start:i])
            depth += 1
        elif c == ")" and depth:
            depth -= 1
            if depth == 0:
                start = i + 1
        elif c == '"' and depth == 0:
            quoted = True
    if depth == 0:
        out.append(text[start:])
    return "".join(out)


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quoted strings."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens (quoted strings kept whole), ``a = b`` joined into ``a=b``."""
    if '"' not in text:
        return _join_equals(text.split())
    raw: list[str] = []
    current: list[str] = []
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted
        if not quoted and c in " \t\r\n":
            if current:
                raw.append("".join(current))
                current = []
        else:
            current.append(c)
    if current:
        raw.append("".join(current))
    return _join_equals(raw)


def _join_equals(raw: list[str]) -> list[str]:
    tokens: list[str] = []
    for t in raw:
        if tokens and (tokens[-1].endswith("=") or t.startswith("=")):
            tokens[-1] += t
        else:
            tokens.append(t)
    return tokens


def _tags(value: str) -> dict[str, str]:
    """A DKIM-style tag list (``d=example.com; s=sel``) as a dict; whitespace removed."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        name, eq, v = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), "".join(v.split()))
    return tags


def _instance(text: str | None) -> int | None:
    if text is None:
        return None
    t = text.strip()
    return int(t) if t.isdigit() and len(t) < 10 and int(t) <= _INT32_MAX else None


def _resinfo(
    header: str, authserv: str | None, instance: int | None, segment: str, raw: str
) -> AuthResult | None:
    tokens = _tokens(segment)
    if not tokens:
        return None
    method, eq, result = tokens[0].partition("=")
    if not eq:
        if method.lower() == "none":  # RFC 8601 "no-result": nothing was checked
            return AuthResult(header, authserv, "none", "none", None, instance, raw)
        return AuthResult(header, authserv, None, None, " ".join(tokens), instance, raw)
    method = method.split("/", 1)[0].lower()  # method/version
    props = " ".join(tokens[1:]) or None
    return AuthResult(header, authserv, method, result.strip('"').lower(), props, instance, raw)


def _results(header: str, value: str, arc: bool) -> list[AuthResult]:
    segments = [s.strip() for s in _split(strip_comments(value), ";")]
    instance: int | None = None
    if arc and segments and segments[0].lower().startswith("i="):
        instance = _instance(segments.pop(0)[2:])
    authserv: str | None = None
    if segments and segments[0]:
        first = _tokens(segments[0])
        # Microsoft 365 omits the authserv-id: the first segment is already method=result.
        if first and "=" not in first[0]:
            authserv = first[0]
            segments.pop(0)
    rows = [_resinfo(header, authserv, instance, s, value) for s in segments if s]
    found = [r for r in rows if r is not None]
    if not found:
        found = [AuthResult(header, authserv, None, None, None, instance, value)]
    return found


def _received_spf(header: str, value: str) -> list[AuthResult]:
    text = strip_comments(value).strip()
    result, _, rest = text.partition(" ")
    pairs = [p.strip() for p in _split(rest, ";") if "=" in p]
    props = " ".join("".join(p.split()) for p in pairs) or None
    receiver = _tags(rest).get("receiver")
    return [AuthResult(header, receiver, "spf", result.lower() or None, props, None, value)]


def _signature(header: str, value: str) -> list[AuthResult]:
    tags = _tags(value)
    method = header.lower()
    # DKIM's i= is the signing identity (a property); ARC's i= is the instance number.
    keys = ("d", "s", "a", "i") if method == "dkim-signature" else ("d", "s", "a")
    props = " ".join(f"{k}={tags[k]}" for k in keys if k in tags)
    result = tags.get("cv") if method == "arc-seal" else None
    instance = _instance(tags.get("i")) if method.startswith("arc-") else None
    return [AuthResult(header, None, method, result, props or None, instance, value)]


def parse_auth_field(name: str, value: str) -> list[AuthResult]:
    """The AUTH rows of one header field; an unknown field name gives no rows. Never raises.

    >>> [(r.method, r.result, r.instance) for r in parse_auth_field(
    ...     "ARC-Seal", "i=2; a=rsa-sha256; cv=pass; d=lists.example.org; s=arc; b=x")]
    [('arc-seal', 'pass', 2)]
    >>> [(r.authserv_id, r.method, r.result) for r in parse_auth_field(
    ...     "Authentication-Results", "spf=pass (sender IP is 203.0.113.5) "
    ...     "smtp.mailfrom=example.com; dmarc=pass action=none header.from=example.com")]
    [(None, 'spf', 'pass'), (None, 'dmarc', 'pass')]
    """
    key = name.lower()
    if key == "authentication-results":
        return _results(name, value, arc=False)
    if key == "arc-authentication-results":
        return _results(name, value, arc=True)
    if key == "received-spf":
        return _received_spf(name, value)
    if key in ("dkim-signature", "arc-seal", "arc-message-signature"):
        return _signature(name, value)
    return []


def parse_auth(fields: Iterable[tuple[str, str]]) -> list[AuthResult]:
    """AUTH rows of every authentication field among ``fields`` (name, value), in order.

    >>> len(parse_auth([("Subject", "x"), ("Received-SPF", "pass (ok) client-ip=192.0.2.1;")]))
    1
    """
    rows: list[AuthResult] = []
    for name, value in fields:
        if name.lower() in AUTH_FIELDS:
            rows.extend(parse_auth_field(name, value))
    return rows


def auth_table(messages: Iterable[tuple[str, Sequence[AuthResult]]]) -> pa.Table:
    """The AUTH table of several messages, given as (message name, rows) pairs.

    >>> t = auth_table([("m.eml", parse_auth_field("Received-SPF", "softfail"))])
    >>> t.column("result").to_pylist()
    ['softfail']
    """
    cols: dict[str, list[object]] = {name: [] for name in AUTH.names}
    for message, rows in messages:
        for r in rows:
            cols["message"].append(message)
            cols["header"].append(r.header)
            cols["authserv_id"].append(r.authserv_id)
            cols["method"].append(r.method)
            cols["result"].append(r.result)
            cols["properties"].append(r.properties)
            cols["instance"].append(r.instance)
            cols["raw"].append(r.raw)
    return pa.table([pa.array(cols[f.name], type=f.type) for f in AUTH], schema=AUTH)
