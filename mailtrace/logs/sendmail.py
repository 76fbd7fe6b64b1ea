"""Sendmail log lines (programs ``sendmail``, ``sm-mta``, ``sm-msp-queue``) into EVENTS rows.

Sendmail writes ``QID: key=value, key=value, …`` lines through syslog; the engine strips the
syslog header and hands over the message. The shapes and the rows they become:

- ``from=<a@b>, size=, nrcpts=, msgid=, proto=, relay=host [ip]`` → ``from`` (sender, size,
  nrcpt, message_id, protocol, client from ``relay=``).
- ``to=<…>, delay=, xdelay=, mailer=, relay=, dsn=, stat=…`` → ``delivery``; status from ``stat=``
  (``Sent`` sent, ``Deferred`` deferred, ``queued`` queued, anything else bounced, or by the class
  of ``dsn=``); ``delay`` in seconds, ``xdelay`` in ``delays_d``; the reply inside ``stat=``;
  ``queued as X`` / ``X Message accepted for delivery`` → ``next_queue_id``. Several recipients
  in one ``to=`` stay one row with the addresses comma-joined.
- ``QID: NEWQID: DSN: …`` (also ``return to sender:``, ``postmaster notify:``, ``sender notify:``)
  → ``bounce_notice`` with ``next_queue_id`` = NEWQID.
- ``ruleset=check_*, arg1=, relay=, reject=550 5.7.1 …`` and ``Milter: …, reject=…`` → ``reject``
  (action ``reject`` or ``defer`` by reply class, ``milter-reject``; ``discard``/``quarantine``
  become ``discard``/``hold``); ``<addr>... User unknown`` → ``reject`` of that recipient.
- ``lost input channel``, ``timeout waiting for input``, ``did not issue MAIL/EXPN/VRFY/ETRN``,
  ``collect:`` → ``lost_connection``, ``timeout``, ``disconnect`` (action ``no_mail``), or
  ``lost_connection``/``timeout``/``warning`` for ``collect:``.
- ``STARTTLS=client|server, relay=, version=, verify=, cipher=, bits=`` → ``tls`` (``tls_error``
  when it reports an error); ``AUTH=server|client`` → ``info``; ``AUTH failure`` →
  ``sasl_failure``; ``SYSERR`` → ``error``; ``NOQUEUE: connect from`` → ``connect``;
  ``Authentication-Warning``, ``possible SMTP attack`` → ``warning``; daemon notes → ``info``.

>>> row = parse_message("327A01Xa001201: to=<bob@example.net>, delay=00:00:01, xdelay=00:00:01, "
...     "mailer=esmtp, pri=120000, relay=mx.example.net. [198.51.100.80], dsn=2.0.0, "
...     "stat=Sent (Ok: queued as 9QwErTy12)")
>>> row["status"], row["relay_host"], row["delay"], row["next_queue_id"]
('sent', 'mx.example.net', 1.0, '9QwErTy12')
"""

from __future__ import annotations

import re

from mailtrace.logs.events import EventBuilder
from mailtrace.logs.kinds import Kind
from mailtrace.logs.values import (
    digits,
    hms_seconds,
    next_hop_id,
    split_reply,
    strip_angle,
    typed_fields,
)

Fields = dict[str, object]
Parsed = tuple[Kind, str | None, Fields]

_QID = re.compile(r"([0-9A-Za-z]{8,20}|NOQUEUE): ")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,24}")
# Keys whose value is free text running to the end of the line (it may contain ", ").
_TAIL_KEYS = frozenset(("stat", "reject"))
# "host.example. [192.0.2.1] (may be forged)", "[192.0.2.1]", "[IPv6:2001:db8::1]", "user@host".
_PEER = re.compile(
    r"(?:(?P<name>[^\s\[\]]{1,255}) )?\[(?:IPv6:)?(?P<ip>[0-9A-Fa-f:.]{1,45})\]"
    r"|(?P<bare>[^\s\[\],]{1,255})"
)
_NOTICE = re.compile(
    r"([0-9A-Za-z]{8,20}): (DSN|postmaster notify|return to sender|sender notify): "
)
_FROM_PEER = re.compile(r"from (?:(?P<name>[^\s\[\]]{1,255}) )?\[(?:IPv6:)?(?P<ip>[^\]\s]{1,60})\]")
_LEADING_PEER = re.compile(r"(?:(?P<name>[^\s\[\]]{1,255}) )?\[(?:IPv6:)?(?P<ip>[^\]\s]{1,60})\]")
_AFTER = re.compile(r" after ([a-z]{2,12})\b")
_RULESET_COMMAND = {
    "check_rcpt": "RCPT",
    "check_mail": "MAIL",
    "check_relay": "CONNECT",
    "check_data": "DATA",
    "check_eoh": "END-OF-MESSAGE",
    "check_eom": "END-OF-MESSAGE",
    "check_etrn": "ETRN",
    "check_expn": "EXPN",
    "check_vrfy": "VRFY",
}
_INFO_PREFIXES = (
    "starting daemon",
    "started as:",
    "restarting ",
    "stopping daemon",
    "alias database ",
    "accepting connections",
    "AUTH: ",
    "grew WorkList",
    "Saved message in ",
    "done; ",
    "clone ",
    "/",
)
_WARNING_PREFIXES = ("Authentication-Warning:", "rejecting connections", "STARTTLS: ")


def parse_line(
    b: EventBuilder,
    ts: int | None,
    host: str | None,
    program: str,
    pid: int | None,
    line: int,
    message: str,
) -> bool:
    """Add one Sendmail log message to ``b``; False if the line is not one Sendmail writes.

    >>> b = EventBuilder("maillog")
    >>> parse_line(b, None, "mx", "sm-mta", 1201, 1, "NOQUEUE: connect from [192.0.2.10]")
    True
    >>> b.kind
    ['connect']
    """
    parsed = _parse(message)
    if parsed is None:
        return False
    kind, queue_id, fields = parsed
    b.add(kind.value, ts, host, program, pid, line, queue_id, fields)
    return True


def parse_message(message: str) -> dict[str, object]:
    """One Sendmail log message as a mapping of EVENTS columns (``{"kind": None}`` if unknown).

    >>> r = parse_message("327A2Vtq001400: ruleset=check_rcpt, arg1=<bob@example.org>, "
    ...     "relay=[203.0.113.77], reject=550 5.7.1 <bob@example.org>... Relaying denied")
    >>> r["kind"], r["recipient"], r["reply_code"], r["dsn"], r["client_ip"]
    ('reject', 'bob@example.org', 550, '5.7.1', '203.0.113.77')
    """
    parsed = _parse(message)
    if parsed is None:
        return {"kind": None}
    return typed_fields(*parsed)


def _pairs(msg: str, pos: int) -> dict[str, str]:
    """``key=value, key=value`` from pos on; a stat=/reject= value takes the rest of the line."""
    spans: dict[str, tuple[int, int]] = {}  # slices, cut once at the end: gluing stays linear
    last: str | None = None
    start = pos
    n = len(msg)
    while start < n:
        comma = msg.find(", ", start)
        stop = n if comma < 0 else comma
        eq = msg.find("=", start, stop)
        key = msg[start:eq] if eq > 0 else ""
        if key and _KEY.fullmatch(key):
            if key in _TAIL_KEYS:
                spans[key] = (eq + 1, n)
                break
            spans[key] = (eq + 1, stop)
            last = key
        elif last is not None:  # a ", " inside a value (a msgid, a ctladdr): glue it back
            spans[last] = (spans[last][0], stop)
        start = stop + 2
    return {key: msg[a:b] for key, (a, b) in spans.items()}


def _peer(value: str | None) -> tuple[str | None, str | None]:
    """(host, ip) of a ``relay=`` value."""
    if not value:
        return None, None
    m = _PEER.match(value)
    if m is None:
        return None, None
    bare = m.group("bare")
    if bare is not None:  # "user@localhost" or a host without an address
        return bare.rpartition("@")[2].rstrip(".") or None, None
    name = m.group("name")
    return (name.rstrip(".") or None) if name else None, m.group("ip")


def _address_list(value: str) -> str:
    """``<a@x>,<b@x>`` → ``a@x,b@x``; a single address loses its brackets."""
    if "," in value:
        return ",".join(strip_angle(part) for part in value.split(","))
    return strip_angle(value)


def _parse(msg: str) -> Parsed | None:
    qid: str | None = None
    pos = 0
    m = _QID.match(msg)
    if m is not None and m.group(1) != "STARTTLS":
        qid = m.group(1)
        pos = m.end()
    if msg.startswith("to=", pos):
        return _delivery(msg, pos, qid)
    if msg.startswith("from=", pos):
        return _arrival(msg, pos, qid)
    if msg.startswith(("ruleset=", "Milter"), pos):
        return _reject(msg, pos, qid)
    if qid is not None and qid != "NOQUEUE":
        n = _NOTICE.match(msg, pos)
        if n is not None:
            return (
                Kind.BOUNCE_NOTICE,
                qid,
                {
                    "next_queue_id": n.group(1),
                    "action": n.group(2).lower(),
                    "reply_text": msg[n.end() :],
                },
            )
    rest = msg[pos:]
    if rest.startswith("<") and ">... " in rest:
        address, _, text = rest.partition("... ")
        return (
            Kind.REJECT,
            qid,
            {"recipient": strip_angle(address), "action": "reject", "reply_text": text},
        )
    if rest.startswith(("STARTTLS=", "AUTH=")):
        return _session_pairs(rest, qid)
    return _session_text(rest, qid)


def _arrival(msg: str, pos: int, qid: str | None) -> Parsed:
    kv = _pairs(msg, pos)
    client_host, client_ip = _peer(kv.get("relay"))
    fields: Fields = {
        "sender": strip_angle(kv.get("from", "")),
        "size": digits(kv.get("size")),
        "nrcpt": digits(kv.get("nrcpts"), 9),
        "message_id": strip_angle(kv["msgid"]) if "msgid" in kv else None,
        "protocol": kv.get("proto"),
        "client_host": client_host,
        "client_ip": client_ip,
    }
    if "reject" in kv:  # from= refused by a milter or a check_mail ruleset on the same line
        _reply(fields, kv["reject"])
    return Kind.FROM, qid, fields


def _delivery(msg: str, pos: int, qid: str | None) -> Parsed:
    kv = _pairs(msg, pos)
    relay_host, relay_ip = _peer(kv.get("relay"))
    stat = kv.get("stat", "")
    dsn = kv.get("dsn")
    fields: Fields = {
        "recipient": _address_list(kv.get("to", "")),
        "relay_host": relay_host,
        "relay_ip": relay_ip,
        "dsn": dsn,
        "delay": hms_seconds(kv["delay"]) if "delay" in kv else None,
        "delays_d": hms_seconds(kv["xdelay"]) if "xdelay" in kv else None,
        "text": f"mailer={kv['mailer']}" if "mailer" in kv else None,
    }
    word, _, detail = stat.partition(" ")
    if word == "Sent":
        fields["status"] = "sent"
        if detail.startswith("(") and detail.endswith(")"):
            detail = detail[1:-1]
        if detail:
            _reply(fields, detail)
            fields["next_queue_id"] = next_hop_id(detail)
    elif word.startswith("Deferred"):
        fields["status"] = "deferred"
        detail = stat[9:].lstrip(": ") if len(stat) > 9 else ""
        if detail:
            _reply(fields, detail)
    elif word == "queued":
        fields["status"] = "queued"
    else:
        fields["status"] = "deferred" if dsn is not None and dsn.startswith("4") else "bounced"
        if stat:
            _reply(fields, stat)
    if "reply" in kv:  # newer Sendmail logs the remote reply on its own
        _reply(fields, kv["reply"])
    if dsn is not None:
        fields["dsn"] = dsn
    return Kind.DELIVERY, qid, fields


def _reply(fields: Fields, text: str) -> None:
    code, dsn, rest = split_reply(text)
    if code is not None:
        fields["reply_code"] = code
    if dsn is not None:
        fields["dsn"] = dsn
    fields["reply_text"] = rest


def _reject(msg: str, pos: int, qid: str | None) -> Parsed | None:
    milter = msg.startswith("Milter", pos)
    if milter:
        colon = msg.find(": ", pos)
        if colon < 0:
            return None
        kv = _pairs(msg, colon + 2)
    else:
        kv = _pairs(msg, pos)
    client_host, client_ip = _peer(kv.get("relay"))
    fields: Fields = {"client_host": client_host, "client_ip": client_ip}
    ruleset = kv.get("ruleset", "")
    arg1 = kv.get("arg1")
    fields["command"] = _RULESET_COMMAND.get(ruleset)
    if arg1 is not None:
        if ruleset == "check_mail":
            fields["sender"] = strip_angle(arg1)
        elif ruleset == "check_rcpt":
            fields["recipient"] = strip_angle(arg1)
    if "to" in kv:
        fields["recipient"] = _address_list(kv["to"])
    if "from" in kv:
        fields["sender"] = strip_angle(kv["from"])
    if "reject" in kv:
        _reply(fields, kv["reject"])
        code = str(fields.get("reply_code") or fields.get("dsn") or "5")
        if milter:
            fields["action"] = "milter-reject"
        else:
            fields["action"] = "defer" if code.startswith("4") else "reject"
        return Kind.REJECT, qid, fields
    tail = msg[pos:]
    if tail.endswith(", discard") or "discard" in kv:
        fields["action"] = "discard"
        return Kind.DISCARD, qid, fields
    if "quarantine" in kv:
        fields["action"] = "quarantine"
        fields["text"] = kv["quarantine"]
        return Kind.HOLD, qid, fields
    if milter:
        fields["text"] = tail
        return Kind.CHECK_ACTION, qid, fields
    return None


def _session_pairs(rest: str, qid: str | None) -> Parsed:
    """``STARTTLS=…`` and ``AUTH=…`` lines."""
    kv = _pairs(rest, 0)
    host, ip = _peer(kv.get("relay"))
    fields: Fields
    tls = "STARTTLS" in kv
    side = (kv.get("STARTTLS") or kv.get("AUTH") or "").partition(",")[0]
    if side == "client":
        fields = {"relay_host": host, "relay_ip": ip}
    else:
        fields = {"client_host": host, "client_ip": ip}
    fields["action"] = side or None
    if not tls:
        parts = [f"{k}={kv[k]}" for k in ("authid", "mech", "bits") if k in kv]
        fields["text"] = " ".join(parts) or None
        return Kind.INFO, qid, fields
    if "error:" in rest:
        fields["text"] = rest
        return Kind.TLS_ERROR, qid, fields
    fields["tls_version"] = kv.get("version")
    fields["tls_cipher"] = kv.get("cipher")
    if "verify" in kv:
        fields["text"] = f"verify={kv['verify']}"
    return Kind.TLS, qid, fields


def _client(fields: Fields, m: re.Match[str] | None) -> Fields:
    if m is not None:
        name = m.group("name")
        fields["client_host"] = name.rstrip(".") if name else None
        fields["client_ip"] = m.group("ip")
    return fields


def _session_text(rest: str, qid: str | None) -> Parsed | None:
    """Connection and daemon lines written as prose."""
    if rest.startswith("connect from "):
        return Kind.CONNECT, qid, _client({}, _FROM_PEER.match(rest, 8))
    if rest.startswith("lost input channel from "):
        fields = _client({}, _FROM_PEER.match(rest, 19))
        after = _AFTER.search(rest)
        if after is not None:
            fields["command"] = after.group(1).upper()
        return Kind.LOST_CONNECTION, qid, fields
    if rest.startswith("timeout waiting for input from "):
        fields = _client({}, _FROM_PEER.match(rest, 26))
        during = rest.find(" during ")
        fields["text"] = rest[during + 1 :] if during >= 0 else None
        return Kind.TIMEOUT, qid, fields
    if " did not issue " in rest:
        fields = _client({"action": "no_mail"}, _LEADING_PEER.match(rest))
        fields["text"] = rest[rest.find(" did not issue ") + 1 :]
        return Kind.DISCONNECT, qid, fields
    if rest.startswith("collect: "):
        fields = _client({"text": rest[9:]}, _FROM_PEER.search(rest))
        if "timeout" in rest:
            fields["command"] = "DATA"
            return Kind.TIMEOUT, qid, fields
        if "premature EOM" in rest or "unexpected close" in rest or "I/O error" in rest:
            fields["command"] = "DATA"
            return Kind.LOST_CONNECTION, qid, fields
        return Kind.WARNING, qid, fields
    if rest.startswith("AUTH failure"):
        kv = _pairs(rest, rest.find(", relay=") + 2) if ", relay=" in rest else {}
        host, ip = _peer(kv.get("relay"))
        return Kind.SASL_FAILURE, qid, {"client_host": host, "client_ip": ip, "text": rest}
    if rest.startswith("SYSERR"):
        return Kind.ERROR, qid, {"text": rest}
    if rest.startswith("tcpwrappers ") and rest.endswith(" rejection"):
        inner = rest[rest.find("(") + 1 : rest.rfind(")")]
        name, _, ip = inner.partition(", ")
        return (
            Kind.REJECT,
            qid,
            {"client_host": name or None, "client_ip": ip or None, "action": "tcpwrappers"},
        )
    if "possible SMTP attack" in rest:
        fields = _client({"text": rest}, _LEADING_PEER.match(rest))
        return Kind.WARNING, qid, fields
    if rest.startswith(_WARNING_PREFIXES):
        return Kind.WARNING, qid, {"text": rest}
    if rest.startswith(_INFO_PREFIXES):
        return Kind.INFO, qid, {"text": rest}
    return None
