"""Received header values (RFC 5321 §4.4) into their clauses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Received(Mapping[str, object]):
    """One parsed Received header; also a read-only mapping keyed by field name (``for``)."""

    from_host: str | None = None
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
        name = "for_" if key == "for" else key
        if name not in _FIELD_NAMES:
            raise KeyError(key)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)


_FIELD_NAMES = frozenset(f.name for f in fields(Received))
_KEYS = tuple("for" if f.name == "for_" else f.name for f in fields(Received))


def parse_received(value: str) -> Received:
    """Parse one Received header value; never raises (first draft: keeps the raw text only).

    >>> parse_received("by mx.example; Tue, 3 Mar 2026 10:00:00 +0100")["raw"]
    'by mx.example; Tue, 3 Mar 2026 10:00:00 +0100'
    """
    return Received(raw=value)
