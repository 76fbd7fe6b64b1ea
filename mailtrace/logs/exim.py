"""Exim main log and reject log lines into EVENTS rows.

The engine strips the framing (Exim's own ``2026-03-07 10:00:00 [pid]`` stamp, or a syslog
header when Exim logs through syslog) and hands over the rest. Message lines start with the
message id — the 16-character form ``1abcDE-000123-AB`` of Exim 4.96 and earlier or the
23-character form ``1wXyZa-00000000Abc-12Cd`` of 4.97 and later — then a two-character flag:

====  =======================================  =====================================
flag  meaning                                  row
====  =======================================  =====================================
<=    arrival                                  kind ``from``
(=    arrival answered with a fake rejection   kind ``from``, action ``fakereject``
=>    delivery                                 kind ``delivery``, status ``sent``
->    another address of the same delivery     kind ``delivery``, action ``additional``
>>    cutthrough delivery                      kind ``delivery``, action ``cutthrough``
\\*>   delivery suppressed (``-N``)              kind ``delivery``, status ``suppressed``
\\*\\*    delivery failed, address bounced         kind ``delivery``, status ``bounced``
==    delivery deferred                        kind ``delivery``, status ``deferred``
====  =======================================  =====================================

A bounce whose cause is the retry timeout (``retry timeout exceeded``, ``have been failing for
a long time``) is kind ``expired`` with status ``expired`` and the recipient, and
``Completed`` is kind ``removed``. The columns Exim has no EVENTS column for (router, transport,
authenticator, local user, certificate verification, the bounce reference) go into ``text`` as
``R=… T=… A=… U=… CV=…``; on an arrival ``R=`` is the id of the message a locally generated
bounce reports on, which is how a bounce links back to its original.

Session and policy lines have no message id (or carry it only for DATA-time rejects): SMTP
connections, rejects, protocol errors, queue runs, warnings, and the reject log's
``Envelope-from:``/``Envelope-to:`` and header-dump lines (kind ``info``, action
``rejectlog``).

>>> row = parse_message("1wXyZa-000Abc-12 <= alice@example.com H=mail.example.com "
...                     "(helo.example.com) [192.0.2.10]:41234 P=esmtps S=2345 id=abc@example.com")
>>> row["kind"], row["sender"], row["client_ip"], row["client_port"], row["size"]
('from', 'alice@example.com', '192.0.2.10', 41234, 2345)
"""

from __future__ import annotations

import re

from mailtrace.logs.events import EventBuilder
from mailtrace.logs.kinds import Kind
from mailtrace.logs.values import (
    digits,
    exim_seconds,
    next_hop_id,
    split_reply,
    strip_angle,
    typed_fields,
)

Fields = dict[str, object]
Parsed = tuple[Kind, str | None, Fields]

_MSGID = r"[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})"
_ID_PREFIX = re.compile(rf"({_MSGID}) ")

# "name (helo) [ip]:port" as Exim writes a peer; every part bounded so a hostile line stays linear.
_PEER = (
    r"(?:(?P<name>[^\s\[\]()]{1,255}) )?(?:\((?P<helo>[^\s()]{0,255})\) )?"
    r"\[(?P<ip>[^\]\s]{1,60})\](?::(?P<port>[0-9]{1,5}))?"
)
_PEER_RE = re.compile(_PEER)
# One token of a field list: a peer after H=, a KEY=value (value possibly "quoted \" text",
# an unclosed quote running to the end of the line), or a bare word.
_TOKEN = re.compile(
    rf"(?:H=(?:{_PEER})\*?(?= |$)"
    r'|(?P<key>[A-Za-z][A-Za-z0-9]{0,15})=(?P<val>"(?:[^"\\]|\\.)*+"?|\S*)'
    r"|(?P<bare>\S+))"
)
_IP_ONLY = re.compile(r"(?:IP address |\[)(?P<ip>[0-9A-Fa-f:.]{2,45})")
_SMTP_ERROR = re.compile(
    r"SMTP error from remote (?:mail server|mailer) after (?:pipelined )?"
    r"(?P<cmd>RCPT TO|MAIL FROM|end of data|initial connection|[A-Za-z]{2,10})"
)
_REPLY_AFTER = re.compile(r": ([245][0-9][0-9][ -].*)", re.DOTALL)

_DELIVERY_FLAGS: dict[str, tuple[str, str | None]] = {
    "=>": ("sent", None),
    "->": ("sent", "additional"),
    ">>": ("sent", "cutthrough"),
    "*>": ("suppressed", None),
    "**": ("bounced", None),
    "==": ("deferred", None),
}
_TEXT_KEYS = ("R", "T", "A", "U", "CV")
# Spelled as Postfix spells the command its reply answered, so one vocabulary serves both.
_COMMANDS = {"end of data": "end of DATA", "initial connection": "CONNECT"}
_EXPIRY = ("retry timeout exceeded", "have been failing for a long time")
_INFO_PREFIXES = (
    "Start queue run",
    "End queue run",
    "cwd=",
    "exim ",
    "daemon ",
    "pid ",
    "Exim ",
)
_ID_INFO_PREFIXES = (
    "no immediate delivery",
    "Spool file is locked",
    "spool file",
    "DKIM: ",
    "removed by ",
    "Unfrozen",
    "SMTP connection outbound",
    "remote host address is the local host",
    "Sender identification",
)


def parse_line(
    b: EventBuilder,
    ts: int | None,
    host: str | None,
    program: str,
    pid: int | None,
    line: int,
    message: str,
) -> bool:
    """Add one Exim log message to ``b``; False if the line is not one Exim writes.

    >>> b = EventBuilder("mainlog")
    >>> parse_line(b, None, "mx1", "exim", None, 1, "1abcDE-000123-AB Completed QT=2s")
    True
    >>> parse_line(b, None, "mx1", "exim", None, 2, "something else entirely")
    False
    >>> b.kind, b.queue_id
    (['removed'], ['1abcDE-000123-AB'])
    """
    parsed = _parse(message)
    if parsed is None:
        return False
    kind, queue_id, fields = parsed
    b.add(kind.value, ts, host, program, pid, line, queue_id, fields)
    return True


def parse_message(message: str) -> dict[str, object]:
    """One Exim log message as a mapping of EVENTS columns (``{"kind": None}`` if not recognised).

    >>> parse_message("1abcDE-000123-AB == bob@example.net R=dnslookup T=remote_smtp "
    ...               "defer (-44) H=mx.example.net [198.51.100.7]: SMTP error from remote "
    ...               "mail server after RCPT TO:<bob@example.net>: 451 4.7.1 Greylisted")["dsn"]
    '4.7.1'
    """
    parsed = _parse(message)
    if parsed is None:
        return {"kind": None}
    return typed_fields(*parsed)


def _parse(msg: str) -> Parsed | None:
    m = _ID_PREFIX.match(msg)
    if m is None:
        return _session_line(msg, None)
    qid = m.group(1)
    pos = m.end()
    flag = msg[pos : pos + 2]
    if msg[pos + 2 : pos + 3] == " ":
        if flag in _DELIVERY_FLAGS:
            return _delivery(msg, pos + 3, qid, flag)
        if flag in ("<=", "(="):
            return _arrival(msg, pos + 3, qid, flag)
    rest = msg[pos:]
    if rest.startswith("Completed"):
        fields: Fields = {}
        qt = rest.find("QT=")
        if qt >= 0:
            fields["delay"] = exim_seconds(rest[qt + 3 :].split(" ", 1)[0])
        return Kind.REMOVED, qid, fields
    if rest.startswith(("Message is frozen", "Frozen", "frozen by")):
        return Kind.HOLD, qid, {"action": "frozen", "text": rest}
    if rest.startswith("cancelled by timeout_frozen_after"):
        return Kind.EXPIRED, qid, {"status": "expired", "text": rest}
    if rest.startswith(_ID_INFO_PREFIXES):
        return Kind.INFO, qid, {"text": rest}
    if rest.startswith(("Warning:", "Warning ")):
        return Kind.WARNING, qid, {"text": rest}
    if rest.startswith("rejected by local_scan()"):
        scan: Fields = {"action": "reject", "command": "END-OF-MESSAGE"}
        _reply(scan, rest.partition(": ")[2])
        return Kind.REJECT, qid, scan
    return _session_line(rest, qid)


def _scan(msg: str, pos: int, end: int) -> tuple[Fields, dict[str, str], list[str]]:
    """Read ``KEY=value`` fields, the H= peer and bare words between pos and end."""
    peer: Fields = {}
    keys: dict[str, str] = {}
    bare: list[str] = []
    for t in _TOKEN.finditer(msg, pos, end):
        key, val, word, ip = t.group("key", "val", "bare", "ip")
        if key is not None:
            keys[key] = val
        elif word is not None:
            bare.append(word)
        elif ip is not None:
            peer = {"name": t["name"], "helo": t["helo"], "ip": ip, "port": t["port"]}
    return peer, keys, bare


def _unquote(value: str) -> str:
    if value.startswith('"'):
        value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        if "\\" in value:
            value = value.replace('\\"', '"').replace("\\\\", "\\")
    return value


def _tls(fields: Fields, x: str | None) -> None:
    """X=TLS1.3:TLS_AES_256_GCM_SHA384:256 → version and cipher (bits dropped)."""
    if not x:
        return
    version, _, rest = x.partition(":")
    if version.startswith("TLS1"):
        version = "TLSv" + version[3:]
    fields["tls_version"] = version
    fields["tls_cipher"] = rest.rpartition(":")[0] or rest or None


def _text(keys: dict[str, str]) -> str | None:
    parts = [f"{k}={keys[k]}" for k in _TEXT_KEYS if k in keys]
    return " ".join(parts) or None


def _arrival(msg: str, pos: int, qid: str, flag: str) -> Parsed:
    sender, _, _ = msg[pos:].partition(" ")
    peer, keys, bare = _scan(msg, pos + len(sender), len(msg))
    fields: Fields = {
        "sender": strip_angle(sender),
        "client_host": peer.get("name"),
        "helo": peer.get("helo"),
        "client_ip": peer.get("ip"),
        "client_port": peer.get("port"),
        "size": digits(keys.get("S")),
        "message_id": strip_angle(keys["id"]) if "id" in keys else None,
    }
    protocol = keys.get("P")
    if protocol:
        fields["protocol"] = protocol.upper() if "smtp" in protocol else protocol
    _tls(fields, keys.get("X"))
    keys.pop("T", None)  # on arrivals T= is the Subject: not wanted in a log table
    fields["text"] = _text(keys)
    if "for" in bare:
        fields["nrcpt"] = len(bare) - bare.index("for") - 1
    if flag == "(=":
        fields["action"] = "fakereject"
    return Kind.FROM, qid, fields


def _delivery(msg: str, pos: int, qid: str, flag: str) -> Parsed:
    status, action = _DELIVERY_FLAGS[flag]
    failed = flag in ("**", "==")
    reason: str | None = None
    end = len(msg)
    if failed:
        colon = msg.find(": ", pos)
        if colon >= 0:
            end = colon
            reason = msg[colon + 2 :]
    recipient, _, _ = msg[pos:end].partition(" ")
    if recipient.endswith(":") and reason is None:
        recipient = recipient[:-1]
    peer, keys, bare = _scan(msg, pos + len(recipient), end)
    fields: Fields = {
        "recipient": recipient,
        "status": status,
        "action": action,
        "relay_host": peer.get("name"),
        "relay_ip": peer.get("ip"),
        "relay_port": peer.get("port"),
        "size": digits(keys.get("S")),
        "text": _text(keys),
    }
    for word in bare:
        if word.startswith("<") and word.endswith(">"):
            fields["orig_recipient"] = word[1:-1]
            break
    sender = keys.get("F") or keys.get("P")
    if sender is not None:
        fields["sender"] = strip_angle(sender)
    _tls(fields, keys.get("X"))
    if "QT" in keys:
        fields["delay"] = exim_seconds(keys["QT"])
    if "DT" in keys:
        fields["delays_d"] = exim_seconds(keys["DT"])
    confirmation = keys.get("C")
    if confirmation:
        _reply(fields, _unquote(confirmation))
        fields["next_queue_id"] = next_hop_id(fields["reply_text"])  # type: ignore[arg-type]
    if reason is not None:
        _failure(fields, reason)
        if flag == "**" and any(cause in reason for cause in _EXPIRY):
            fields["status"] = "expired"
            return Kind.EXPIRED, qid, fields
    return Kind.DELIVERY, qid, fields


def _reply(fields: Fields, text: str) -> None:
    code, dsn, rest = split_reply(text)
    fields["reply_code"] = code
    fields["dsn"] = dsn
    fields["reply_text"] = rest


def _failure(fields: Fields, reason: str) -> None:
    """A bounce or deferral reason: the remote reply and the command it answered, if any."""
    m = _SMTP_ERROR.search(reason)
    if m is not None:
        cmd = m.group("cmd")
        fields["command"] = _COMMANDS.get(cmd, cmd if " " in cmd else cmd.upper())
        r = _REPLY_AFTER.search(reason, m.end())
        if r is not None:
            _reply(fields, r.group(1))
            return
    fields["reply_text"] = reason


def _peer_fields(p: re.Match[str] | None) -> Fields:
    if p is None:
        return {}
    return {
        "client_host": p.group("name"),
        "helo": p.group("helo"),
        "client_ip": p.group("ip"),
        "client_port": p.group("port"),
    }


def _peer_at(msg: str, marker: str) -> Fields:
    """The client named right after ``marker`` ("from ", "H="), if the line has it."""
    at = msg.find(marker)
    if at < 0:
        return {}
    return _peer_fields(_PEER_RE.match(msg, at + len(marker)))


def _session_line(msg: str, qid: str | None) -> Parsed | None:
    """Lines about SMTP sessions, policy and the daemon (usually without a message id)."""
    if msg.startswith(("H=", "U=", "F=", "I=")):
        return _policy(msg, qid)
    if msg.startswith("SMTP connection from "):
        fields = _peer_at(msg, "from ")
        if "connection count" in msg:
            return Kind.CONNECT, qid, fields
        if " lost" in msg:
            if "message data" in msg:
                fields["command"] = "DATA"
            fields["text"] = msg[msg.find(" lost") + 1 :]
            return Kind.LOST_CONNECTION, qid, fields
        if "closed by DROP" in msg:
            fields["action"] = "dropped"
        cut = msg.find(" closed ")
        fields["text"] = msg[cut + 1 :] if cut >= 0 else None
        return Kind.DISCONNECT, qid, fields
    if msg.startswith("no MAIL in SMTP connection from "):
        fields = _peer_at(msg, "from ")
        fields["text"] = msg
        return Kind.DISCONNECT, qid, fields
    if msg.startswith("unexpected disconnection while reading SMTP command from "):
        return Kind.LOST_CONNECTION, qid, _peer_at(msg, "from ")
    if msg.startswith(("SMTP command timeout on ", "SMTP data timeout ")):
        fields = _peer_at(msg, "from ")
        if msg.startswith("SMTP data"):
            fields["command"] = "DATA"
        fields["text"] = msg
        return Kind.TIMEOUT, qid, fields
    if msg.startswith("SMTP call from ") and " dropped: " in msg:
        fields = _peer_at(msg, "from ")
        fields["action"] = "dropped"
        fields["text"] = msg[msg.find(" dropped: ") + 10 :]
        return Kind.DISCONNECT, qid, fields
    if msg.startswith(("SMTP protocol error", "SMTP syntax error", "SMTP protocol synchron")):
        fields = _peer_at(msg, "H=")
        fields["action"] = "protocol_error"
        fields["text"] = msg
        return Kind.ERROR, qid, fields
    if msg.startswith("TLS error on connection "):
        fields = _peer_at(msg, "from ")
        if not fields:
            to = _peer_at(msg, " to ")
            fields = {"relay_host": to.get("client_host"), "relay_ip": to.get("client_ip")}
        fields["text"] = msg
        return Kind.TLS_ERROR, qid, fields
    if msg.startswith("Connection from ") and " refused" in msg:
        fields = _peer_at(msg, "from ")
        fields["action"] = "refused"
        fields["text"] = msg[msg.find(" refused") + 1 :]
        return Kind.REJECT, qid, fields
    if msg.startswith(("no host name found for IP address ", "no IP address found for host ")):
        fields = {"text": msg}
        ip = _IP_ONLY.search(msg)
        if ip is not None:
            fields["client_ip"] = ip.group("ip")
        return Kind.WARNING, qid, fields
    auth = msg.find(" authenticator failed for ")
    if 0 < auth < 64:
        fields = _peer_fields(_PEER_RE.match(msg, auth + 26))
        r = _REPLY_AFTER.search(msg, auth)
        if r is not None:
            _reply(fields, r.group(1))
        fields["text"] = msg[:auth]
        return Kind.SASL_FAILURE, qid, fields
    if msg.startswith(("Warning:", "Warning ")):
        return Kind.WARNING, qid, {"text": msg}
    if msg.startswith(("Envelope-from: ", "Envelope-to: ")):
        # Several recipients are written "<a>, <b>": keep them comma-joined like Sendmail's to=.
        value = msg.partition(": ")[2].strip()
        address = ",".join(strip_angle(a.strip()) for a in value.split(","))
        column = "sender" if msg.startswith("Envelope-from") else "recipient"
        return Kind.INFO, qid, {"action": "rejectlog", column: address}
    if qid is None and _is_header_dump(msg):
        return Kind.INFO, qid, {"action": "rejectlog", "text": msg}
    if msg.startswith(_INFO_PREFIXES):
        return Kind.INFO, qid, {"text": msg}
    return None


def _is_header_dump(msg: str) -> bool:
    """A reject log header line: a flag letter (or space, ``*``) and a space, or a fold."""
    if not msg:
        return False
    if msg[0] in " \t":
        return True
    return len(msg) > 3 and msg[1] == " " and msg[0] in "BCFIPRST* " and msg[2] != " "


def _policy(msg: str, qid: str | None) -> Parsed | None:
    """``H=… F=<…> rejected RCPT <…>: reason`` and the other client-scoped lines."""
    fields: Fields
    rej = msg.find("rejected ")
    warn = msg.find(" Warning: ")
    if rej < 0 or (0 <= warn < rej):
        if warn >= 0:
            fields = _peer_at(msg, "H=")
            fields["text"] = msg[warn + 1 :]
            return Kind.WARNING, qid, fields
        if " incomplete transaction " in msg or " sender verify " in msg:
            fields = _peer_at(msg, "H=")
            fields["text"] = msg
            if "connection lost" in msg:
                return Kind.LOST_CONNECTION, qid, fields
            return Kind.WARNING, qid, fields
        return None
    temporary = msg[:rej].endswith("temporarily ")
    head_end = rej - 12 if temporary else rej
    peer, keys, _ = _scan(msg, 0, head_end)
    fields = {
        "client_host": peer.get("name"),
        "helo": peer.get("helo"),
        "client_ip": peer.get("ip"),
        "client_port": peer.get("port"),
        "action": "defer" if temporary else "reject",
    }
    if "F" in keys:
        fields["sender"] = strip_angle(keys["F"])
    tail = msg[rej + 9 :]
    what, sep, reason = tail.partition(": ")
    if not sep:
        what, reason = tail, ""
    word, _, arg = what.partition(" ")
    if word == "RCPT":
        fields["command"] = "RCPT"
        fields["recipient"] = strip_angle(arg)
    elif word == "MAIL":
        fields["command"] = "MAIL"
        fields["sender"] = strip_angle(arg)
    elif what == "after DATA":
        fields["command"] = "END-OF-MESSAGE"  # Postfix's name for the same moment
    elif word == "EHLO":
        fields["command"] = "EHLO"
        fields["helo"] = fields["helo"] or (arg.rpartition(" ")[2] or None)
    elif word == "connection":
        fields["command"] = "CONNECT"
    else:
        fields["command"] = word.upper() if word.isalpha() and len(word) <= 10 else None
    if reason:
        _reply(fields, reason)
    elif word not in ("RCPT", "MAIL"):
        fields["reply_text"] = what
    return Kind.REJECT, qid, fields
