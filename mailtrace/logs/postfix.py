"""Postfix log messages into EVENTS rows.

The engine (framing + reader) hands over one syslog message at a time with its program tag
(``postfix/smtpd``, ``postfix/submission/smtpd``, ``postfix-out/smtp`` …). The daemon is the last
path component of the tag; each daemon has a handler that tries cheap prefix tests first and then
exactly one anchored pattern per line shape, so a line costs about one regex match. A handler
returns ``(kind, queue_id, fields)`` where ``fields`` maps EVENTS column names to the captured
text; :func:`parse_line` appends that to an :class:`~mailtrace.logs.events.EventBuilder` and
:func:`parse_message` maps it to the conformance vocabulary, so both read through the same
patterns.

Every pattern is linear on hostile input: quantifiers are never nested, the free-text ones are
greedy ``.*`` anchored by ``$`` or followed by a literal, and addresses stop at ``>`` and ``;``.

What each line shape becomes (``kind``; other columns in brackets):

==================================================  ================================================
smtpd ``connect from`` / ``disconnect from``        connect / disconnect [text = command counters]
smtpd ``QID: client=``                              client [text = sasl_method …, orig_queue_id …]
``reject:`` ``milter-reject:`` ``proxy-reject:``    reject [action, command, reply_code, dsn,
                                                    reply_text, sender, recipient, protocol, helo]
``reject_warning:`` ``hold:`` ``discard:``          reject_warning / hold / discard [same columns]
``filter:`` ``redirect:`` ``warn:`` ``prepend:``    check_action [action; cleanup: text = header]
``lost connection`` / ``timeout after X``           lost_connection / timeout [command]
``SASL … authentication failed``                    sasl_failure
``… TLS connection established``                    tls [tls_version, tls_cipher, text = trust]
``SSL_accept``/``SSL_connect error``, cert          tls_error
postscreen verdicts                                 postscreen [action = CONNECT, PASS OLD …]
dnsblog ``addr … listed by``                        dnsblog
pickup ``uid= from=``, cleanup ``message-id=``      pickup, message_id
qmgr ``from=, size=, nrcpt=`` / ``removed``         from / removed; ``status=expired`` -> expired
``to=…, relay=…, status=…`` (any daemon)            delivery [status, dsn, delays_a…d, text = the
                                                    reply as written, reply_code, reply_text,
                                                    command, next_queue_id = queued/forwarded as]
smtp ``connect to … :`` / ``refused to talk``       connect_failure
smtp ``host X said:`` (no status)                   info [reply_code, reply_text, command]
bounce ``sender non-delivery notification``         bounce_notice [next_queue_id = the notice]
anvil / scache ``statistics:``                      anvil / scache [text]
``warning:`` ``error:`` ``fatal:`` ``panic:``       warning / error / fatal / panic [text]
master, postfix-script, postsuper, other notes      info [text]; postsuper ``removed`` -> removed
==================================================  ================================================

>>> r = parse_message("qmgr", "4B2C1D9F3A: from=<alice@example.com>, size=1834, nrcpt=1")
>>> r["kind"], r["queue_id"], r["sender"], r["size"]
('from', '4B2C1D9F3A', 'alice@example.com', 1834)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from mailtrace.lazy_module import lazy_pattern
from mailtrace.logs.events import EventBuilder
from mailtrace.logs.kinds import Kind
from mailtrace.schema import EVENTS

__all__ = ["handler_for", "parse_line", "parse_message"]

# The kinds as plain str: reading an Enum member costs ~0.1 µs, a module constant ~0.02 µs.
_K_ANVIL = Kind.ANVIL.value
_K_BOUNCE_NOTICE = Kind.BOUNCE_NOTICE.value
_K_CHECK_ACTION = Kind.CHECK_ACTION.value
_K_CLIENT = Kind.CLIENT.value
_K_CONNECT = Kind.CONNECT.value
_K_CONNECT_FAILURE = Kind.CONNECT_FAILURE.value
_K_DELIVERY = Kind.DELIVERY.value
_K_DISCARD = Kind.DISCARD.value
_K_DISCONNECT = Kind.DISCONNECT.value
_K_DNSBLOG = Kind.DNSBLOG.value
_K_ERROR = Kind.ERROR.value
_K_EXPIRED = Kind.EXPIRED.value
_K_FATAL = Kind.FATAL.value
_K_FROM = Kind.FROM.value
_K_HOLD = Kind.HOLD.value
_K_INFO = Kind.INFO.value
_K_LOST_CONNECTION = Kind.LOST_CONNECTION.value
_K_MESSAGE_ID = Kind.MESSAGE_ID.value
_K_PANIC = Kind.PANIC.value
_K_PICKUP = Kind.PICKUP.value
_K_POSTSCREEN = Kind.POSTSCREEN.value
_K_REJECT = Kind.REJECT.value
_K_REJECT_WARNING = Kind.REJECT_WARNING.value
_K_REMOVED = Kind.REMOVED.value
_K_SASL_FAILURE = Kind.SASL_FAILURE.value
_K_SCACHE = Kind.SCACHE.value
_K_TIMEOUT = Kind.TIMEOUT.value
_K_TLS = Kind.TLS.value
_K_TLS_ERROR = Kind.TLS_ERROR.value
_K_WARNING = Kind.WARNING.value

#: (kind, queue id, fields): fields map EVENTS columns to captured text (None = absent), or are
#: the match itself when its named groups are exactly the columns (the common, cheap case: the
#: builder keeps ``groups()`` per pattern and never builds a dict).
Result = tuple[str, str | None, "dict[str, object] | re.Match[str]"]
Handler = Callable[[str], "Result | None"]

# --------------------------------------------------------------------------- building blocks
# Short ids are upper-case hex (>= 6: five digits of microseconds plus the inode); long ids
# (enable_long_queue_ids) use digits and consonants only, so words like "warning" never match.
_QID = r"(?:[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}|NOQUEUE)"
_QID_RE = lazy_pattern(_QID)
# In the hot patterns a literal like "): to=<" follows at once, so a looser class is as safe.
_QID_HOT = r"[0-9A-Za-z]{6,}"
# Never "1.2.3": numeric columns are cast when the table is built and must always parse.
_NUM = r"\d+(?:\.\d*)?"  # not \d+\.?\d*: two runs of digits side by side backtrack in O(n²)
_DSN = r"[245]\.\d{1,3}\.\d{1,3}"
# Optional groups are written "(?:X|)", never "(?:X)?": the same language, but Python's engine
# runs a two-way branch several times faster than a 0-or-1 repeat of a group, on every line.
#
# host[address]:port. An address that is an IP is captured; sockets and "unknown" are not.
_HOST = r"(?P<{0}_host>[^\s\[\]]+)"
_ADDR = r"\[(?:(?P<{0}_ip>[0-9A-Fa-f:.]+)|[^\s\]]*)\](?::(?P<{0}_port>\d{{1,5}})|)"
_CLIENT = "(?:" + _HOST.format("client") + "|)" + _ADDR.format("client")
_RELAY = "(?:" + _HOST.format("relay") + "|)" + _ADDR.format("relay")
# The key=value tail of reject and check lines; smtpd separates with " ", postscreen with ", ".
_KV = (
    r"(?:from=<(?P<sender>[^>;]*)>,? ?|)(?:to=<(?P<recipient>[^>;]*)>,? ?|)"
    r"(?:proto=(?P<protocol>[^\s,;]+),? ?|)(?:helo=<(?P<helo>[^>;]*)>|)"
)
_CODE_DSN = rf"(?:(?P<reply_code>[245]\d\d)[ -]|)(?:(?P<dsn>{_DSN}) |)"


#: Check and milter actions -> kind; anything else (filter, redirect, warn …) is a check action.
_ACTION_KIND = {
    "reject": _K_REJECT,
    "milter-reject": _K_REJECT,
    "proxy-reject": _K_REJECT,
    "reject_warning": _K_REJECT_WARNING,
    "hold": _K_HOLD,
    "milter-hold": _K_HOLD,
    "discard": _K_DISCARD,
    "milter-discard": _K_DISCARD,
}


def _split_qid(msg: str) -> tuple[str | None, int]:
    """The queue id a message starts with and where the rest begins (0 when there is none)."""
    i = msg.find(": ", 0, 40)
    if i >= 6 and _QID_RE.fullmatch(msg, 0, i):
        return msg[:i], i + 2
    return None, 0


# --------------------------------------------------------------------------- replies
# A quoted SMTP reply: "550 5.1.1 <a@b>: text (in reply to RCPT TO command)". The enhanced code
# inside the reply is not kept: the delivery's own dsn= is the one Postfix acted on.
_REPLY = rf"(?P<text>(?:(?P<reply_code>[245]\d\d)[ -](?:{_DSN} |)|)(?P<reply_text>.*))"
_NEXT_ID = lazy_pattern(r"(?:queued as|forwarded as) (\w+)")


def _reply_tail(d: dict[str, Any], strip_text: bool) -> None:
    """Move "(in reply to X command)" to ``command``; a "queued as" id to ``next_queue_id``."""
    reply = d["reply_text"]
    if reply is not None and reply.endswith(" command)"):
        k = reply.rfind(" (in reply to ")
        if k >= 0:
            d["command"] = reply[k + 14 : -9]
            d["reply_text"] = reply[:k]
            if strip_text:
                d["text"] = d["text"][: k - len(reply)]
    text = d["text"]
    if text is not None and "d as " in text:
        n = _NEXT_ID.search(text)
        if n is not None:
            d["next_queue_id"] = n.group(1)


# --------------------------------------------------------------------------- deliveries
# The canonical line, queue id as group 1 (so groupdict() stays EVENTS columns only) and the
# remote reply read in the same pass: "status=bounced (host X said: 550 5.1.1 … (in reply to …))".
_RESPONSE = (
    r" \((?P<text>(?:host \S+ said: |)"
    rf"(?:(?P<reply_code>[245]\d\d)[ -](?:{_DSN} |)(?P<reply_text>.*)|.*))\)$"
)
_DELIVERY = lazy_pattern(
    r"(" + _QID_HOT + r"): to=<(?P<recipient>[^>]*)>, (?:orig_to=<(?P<orig_recipient>[^>]*)>, |)"
    r"relay=(?P<relay_host>[^\s\[\],]+)(?:\[(?:(?P<relay_ip>[\d.]+|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)"
    r"|[^\]]*)\](?::(?P<relay_port>\d{1,5})|)|), "
    rf"(?:conn_use=\d+, |)delay=(?P<delay>{_NUM}), delays=(?P<delays_a>{_NUM})/"
    rf"(?P<delays_b>{_NUM})/(?P<delays_c>{_NUM})/(?P<delays_d>{_NUM}), "
    rf"(?:tls=[^\s,]*, |)dsn=(?P<dsn>{_DSN}), status=(?P<status>[\w-]+)" + _RESPONSE
)
# Older and odder spellings: bare addresses (local), no delays= or dsn=, no reply.
_DELIVERY_ANY = lazy_pattern(
    r"(" + _QID + r"): "
    r"to=(?:<(?P<recipient>[^>]*)>|(?P<bare_to>[^<,\s][^,\s]*)), "
    r"(?:orig_to=(?:<(?P<orig_recipient>[^>]*)>|(?P<bare_orig>[^<,\s][^,\s]*)), |)"
    r"relay=(?:" + _RELAY + r"|(?P<relay_name>[^\s,]+)), "
    r"(?:conn_use=\d+, |)"
    rf"delay=(?P<delay>{_NUM}), "
    rf"(?:delays=(?P<delays_a>{_NUM})/(?P<delays_b>{_NUM})/"
    rf"(?P<delays_c>{_NUM})/(?P<delays_d>{_NUM}), |)"
    r"(?:tls=[^\s,]*, |)"
    rf"(?:dsn=(?P<dsn>{_DSN}), |)"
    r"status=(?P<status>[\w-]+)(?:" + _RESPONSE[:-1] + r"|)$"
)


def _delivery(msg: str) -> Result | None:
    m = _DELIVERY.match(msg)
    if m is not None:
        d = m.groupdict()
    else:
        m = _DELIVERY_ANY.match(msg)
        if m is None:
            return None
        d = m.groupdict()
        # Rare spellings are moved into their columns so the common path stays one dict.
        if d["bare_to"] is not None:
            d["recipient"] = d["bare_to"]
        if d["bare_orig"] is not None:
            d["orig_recipient"] = d["bare_orig"]
        if d["relay_name"] is not None:
            d["relay_host"] = d["relay_name"]
        del d["bare_to"], d["bare_orig"], d["relay_name"]
    _reply_tail(d, False)
    return _K_DELIVERY, m.group(1), d


# --------------------------------------------------------------------------- rejects and checks
_REJECT_HEAD = rf"(?P<action>[a-z][a-z_-]*): (?P<command>[A-Z][A-Z-]*) from {_CLIENT}: {_CODE_DSN}"
_REJECT = lazy_pattern(_REJECT_HEAD + r"(?P<reply_text>.*); " + _KV + "$")
_REJECT_BARE = lazy_pattern(_REJECT_HEAD + r"(?P<reply_text>.*)$")
# cleanup header/body checks: "reject: header Subject: x from h[ip]; from=<> to=<>: 5.7.1 text"
_CHECK = lazy_pattern(
    r"(?P<action>[a-z][a-z_-]*): (?P<text>(?:header|body|mime-header|nested-header|"
    r"milter-header|milter-body) .* from (?:"
    + _CLIENT
    + r"|local)); "
    + _KV
    + rf"(?:: {_CODE_DSN}(?P<reply_text>.*)|)$"
)
_PROXY = lazy_pattern(
    rf"(?P<action>proxy-accept|proxy-reject): (?P<command>[A-Z][A-Z-]*): "
    rf"(?P<text>{_CODE_DSN}(?P<reply_text>.*)); " + _KV + "$"
)


def _reject(msg: str, qid: str | None, pos: int) -> Result | None:
    m = _REJECT.match(msg, pos) or _REJECT_BARE.match(msg, pos)
    if m is None:
        return None
    return _ACTION_KIND.get(m["action"], _K_CHECK_ACTION), qid, m


def _check(msg: str, qid: str | None, pos: int) -> Result | None:
    m = _CHECK.match(msg, pos)
    if m is None:
        return None
    return _ACTION_KIND.get(m["action"], _K_CHECK_ACTION), qid, m


def _proxy(msg: str, qid: str | None, pos: int) -> Result | None:
    m = _PROXY.match(msg, pos)
    if m is None:
        return None
    d = m.groupdict()
    _reply_tail(d, False)
    return _ACTION_KIND.get(d["action"], _K_CHECK_ACTION), qid, d


# --------------------------------------------------------------------------- level lines
_SASL_IN = lazy_pattern(_CLIENT + r": (?P<text>SASL \S+ authentication failed.*)$")


def _level(msg: str) -> Result | None:
    """``warning: …``, ``error: …``, ``fatal: …``, ``panic: …``; an inner queue id is kept."""
    c = msg[:1]
    if c == "w" and msg.startswith("warning: "):
        n, kind = 9, _K_WARNING
    elif c == "e" and msg.startswith("error: "):
        n, kind = 7, _K_ERROR
    elif c == "f" and msg.startswith("fatal: "):
        n, kind = 7, _K_FATAL
    elif c == "p" and msg.startswith("panic: "):
        n, kind = 7, _K_PANIC
    else:
        return None
    qid, pos = _split_qid(msg[n:])
    return kind, qid, {"text": msg[n + pos :]}


def _level_or_qid_level(msg: str, qid: str | None, pos: int) -> Result | None:
    r = _level(msg[pos:]) if pos else _level(msg)
    if r is not None and qid is not None:
        return r[0], qid, r[2]
    return r


# --------------------------------------------------------------------------- smtpd
_CONNECT = lazy_pattern(_CLIENT + "$")
_DISCONNECT = lazy_pattern(_CLIENT + r"(?: (?P<text>.+)|)$")
_CLIENT_EQ = lazy_pattern(r"(" + _QID_HOT + r"): client=" + _CLIENT + r"(?:, (?P<text>.+)|)$")
# The pipelined text after "improper command pipelining …:" may span lines: DOTALL.
_AFTER = lazy_pattern(
    r"after (?P<command>[^\s:]+)(?: \(\d+ bytes\)|) from " + _CLIENT + "(?::.*|)$", re.S
)
_TLS_IN = lazy_pattern(
    r"(?P<text>\w+) TLS connection (?:established|reused) from "
    + _CLIENT
    + r": (?P<tls_version>\S+) with cipher (?P<tls_cipher>\S+)"
)
_TLS_TRUST = ("Anonymous TLS ", "Trusted TLS ", "Untrusted TLS ", "Verified TLS ")
_SETUP_TLS_IN = lazy_pattern(r"setting up TLS connection from " + _CLIENT + "$")
_CLIENT_NOTE = lazy_pattern(_HOST.format("client") + _ADDR.format("client") + r": (?P<text>.*)$")
_SSL_ACCEPT = lazy_pattern(r"SSL_accept error from " + _CLIENT + r": (?P<text>.*)$")
# "lost connection after RCPT from …" and its siblings: phrase -> (kind, text kept)
_AFTER_PHRASES = (
    ("lost connection ", _K_LOST_CONNECTION, None),
    ("timeout ", _K_TIMEOUT, None),
    ("too many errors ", _K_LOST_CONNECTION, "too many errors"),
    ("improper command pipelining ", _K_INFO, "improper command pipelining"),
    ("bare <LF> received ", _K_INFO, "bare <LF> received"),
)


def _smtpd(msg: str) -> Result | None:
    if msg.startswith("connect from "):
        m = _CONNECT.match(msg, 13)
        return (_K_CONNECT, None, m) if m else None
    if msg.startswith("disconnect from "):
        m = _DISCONNECT.match(msg, 16)
        return (_K_DISCONNECT, None, m) if m else None
    m = _CLIENT_EQ.match(msg)
    if m is not None:
        return _K_CLIENT, m.group(1), m
    if msg.startswith(_TLS_TRUST):
        m = _TLS_IN.match(msg)
        return (_K_TLS, None, m) if m else None
    qid, pos = _split_qid(msg)
    if qid is not None:
        if msg.startswith("proxy-", pos):
            return _proxy(msg, qid, pos)
        return _reject(msg, qid, pos) or _level_or_qid_level(msg, qid, pos)
    for phrase, kind, text in _AFTER_PHRASES:
        if msg.startswith(phrase):
            m = _AFTER.match(msg, len(phrase))
            if m is None:
                return None
            d = m.groupdict()
            if text is not None:
                d["text"] = text
            return kind, None, d
    if msg.startswith("warning: "):
        m = _SASL_IN.match(msg, 9)
        if m is not None:
            return _K_SASL_FAILURE, None, m
        return _level(msg)
    if msg.startswith("SSL_accept error from "):
        m = _SSL_ACCEPT.match(msg)
        return (_K_TLS_ERROR, None, m) if m else None
    if msg.startswith("proxy-"):
        return _proxy(msg, None, 0)
    if msg.startswith("discarding EHLO keywords: "):
        return _K_INFO, None, {"text": msg}
    if msg.startswith("setting up TLS"):
        m = _SETUP_TLS_IN.match(msg)
        return (_K_INFO, None, m) if m else None
    r = _level(msg)
    if r is None:
        # TLS detail lines of smtpd_tls_loglevel >= 1: "client.example[192.0.2.1]: subject_CN=…"
        m = _CLIENT_NOTE.match(msg)
        if m is not None:
            return _K_INFO, None, m
    return r


# --------------------------------------------------------------------------- postscreen
_PS_ADDR = r"\[(?:(?P<client_ip>[0-9A-Fa-f:.]+)|[^\s\]]*)\]:(?P<client_port>\d{1,5})"
_PS_CONNECT = lazy_pattern(r"(?P<action>CONNECT) from " + _PS_ADDR + r" to \[[^\s\]]*\]:\d+$")
_PS_LIST = lazy_pattern(
    r"(?P<action>PASS NEW|PASS OLD|WHITELISTED|ALLOWLISTED|BLACKLISTED|DENYLISTED|"
    r"WHITELIST VETO|ALLOWLIST VETO|DISCONNECT) " + _PS_ADDR + "$"
)
_PS_AFTER = lazy_pattern(
    r"(?P<action>COMMAND PIPELINING|COMMAND TIME LIMIT|COMMAND COUNT LIMIT|COMMAND LENGTH LIMIT|"
    r"NON-SMTP COMMAND|BARE NEWLINE) from " + _PS_ADDR + r" after (?P<command>[^\s:]+)(?::.*|)$"
)
_PS_PREGREET = lazy_pattern(
    rf"(?P<action>PREGREET) \d+ after (?P<delay>{_NUM}) from " + _PS_ADDR + r"(?::.*|)$"
)
_PS_HANGUP = lazy_pattern(
    rf"(?P<action>HANGUP) after (?P<delay>{_NUM}) from " + _PS_ADDR + r"(?: (?P<text>.*)|)$"
)
_PS_DNSBL = lazy_pattern(r"(?P<action>DNSBL) (?P<text>rank \d+) for " + _PS_ADDR + "$")
_CACHE = lazy_pattern(r"cache \S+ (?:full|partial) cleanup: retained=\d+ dropped=\d+ entries$")


def _postscreen(msg: str) -> Result | None:
    c = msg[:1]
    m: re.Match[str] | None
    if c == "C":
        m = _PS_CONNECT.match(msg) or _PS_AFTER.match(msg)
    elif c in "PWABD":
        m = (
            _PS_LIST.match(msg)
            or _PS_PREGREET.match(msg)
            or _PS_DNSBL.match(msg)
            or _PS_AFTER.match(msg)
        )
    elif c in "HN":
        if msg.startswith("NOQUEUE: "):
            return _reject(msg, "NOQUEUE", 9)
        m = _PS_HANGUP.match(msg) or _PS_AFTER.match(msg)
    elif c == "c":
        return (_K_INFO, None, {"text": msg}) if _CACHE.match(msg) else None
    else:
        return _level(msg)
    return (_K_POSTSCREEN, None, m) if m else None


# --------------------------------------------------------------------------- tlsproxy
_TP = lazy_pattern(r"(?P<what>CONNECT|DISCONNECT)(?: from|) " + _PS_ADDR + "$")
_TLS_IN_PS = lazy_pattern(
    r"(?P<text>\w+) TLS connection established from "
    + _PS_ADDR
    + r": (?P<tls_version>\S+) with cipher (?P<tls_cipher>\S+)"
)


def _tlsproxy(msg: str) -> Result | None:
    m = _TP.match(msg)
    if m is not None:
        d = m.groupdict()
        kind = _K_CONNECT if d.pop("what") == "CONNECT" else _K_DISCONNECT
        return kind, None, d
    if msg.startswith(_TLS_TRUST):
        m = _TLS_IN_PS.match(msg) or _TLS_IN.match(msg)
        return (_K_TLS, None, m) if m else None
    return _level(msg)


# --------------------------------------------------------------------------- smtp / lmtp
_TLS_OUT = lazy_pattern(
    r"(?P<text>\w+) TLS connection (?:established|reused) to "
    + _RELAY
    + r": (?P<tls_version>\S+) with cipher (?P<tls_cipher>\S+)"
)
_CONNECT_TO = lazy_pattern(r"connect to " + _RELAY + r": (?P<text>.*)$")
_SAID = lazy_pattern(r"host " + _RELAY + r" said: " + _REPLY + "$")
_REFUSED = lazy_pattern(r"host " + _RELAY + r" refused to talk to me: " + _REPLY + "$")
# "while sending end of data -- message may be sent more than once": command = "end of data".
_WHILE = r" while (?:sending (?P<command>.+?)(?: -- .*|)|(?P<text>.+))$"
_LOST_WITH = lazy_pattern(r"lost connection with " + _RELAY + _WHILE)
_CONV_TIMEOUT = lazy_pattern(r"conversation with " + _RELAY + r" timed out" + _WHILE)
_CERT = lazy_pattern(
    r"(?:server |)certificate verification failed for " + _RELAY + r": (?P<text>.*)$"
)
_SSL_CONNECT = lazy_pattern(r"SSL_connect error to " + _RELAY + r": (?P<text>.*)$")
_PIX = lazy_pattern(r"enabling PIX workarounds: (?P<text>.*) for " + _RELAY + "$")
_SASL_OUT = lazy_pattern(
    r"SASL authentication failed; server " + _RELAY + r" said: " + _REPLY + "$"
)
_SASL_OUT_OTHER = lazy_pattern(
    r"SASL authentication failed; (?:cannot authenticate to server " + _RELAY + r": |)"
    r"(?P<text>.*)$"
)
_STARTTLS_FAIL = lazy_pattern(r"(?P<text>Cannot start TLS: .*)$")
# TLS detail lines of smtp_tls_loglevel >= 1: "mx.example.net[192.0.2.1]:25: subject_CN=…"
_RELAY_NOTE = lazy_pattern(_HOST.format("relay") + _ADDR.format("relay") + r": (?P<text>.*)$")
_SETUP_TLS = lazy_pattern(r"setting up TLS connection to " + _RELAY + "$")


def _smtp_said(
    pattern: re.Pattern[str], kind: str, msg: str, qid: str | None, pos: int
) -> Result | None:
    m = pattern.match(msg, pos)
    if m is None:
        return None
    d = m.groupdict()
    _reply_tail(d, True)
    return kind, qid, d


def _smtp(msg: str) -> Result | None:
    r = _delivery(msg)
    if r is not None:
        return r
    qid, pos = _split_qid(msg)
    if qid is not None:
        if msg.startswith("host ", pos):
            return _smtp_said(_SAID, _K_INFO, msg, qid, pos) or _smtp_said(
                _REFUSED, _K_CONNECT_FAILURE, msg, qid, pos
            )
        if msg.startswith("lost connection with ", pos):
            m = _LOST_WITH.match(msg, pos)
            return (_K_LOST_CONNECTION, qid, m) if m else None
        if msg.startswith("conversation with ", pos):
            m = _CONV_TIMEOUT.match(msg, pos)
            return (_K_TIMEOUT, qid, m) if m else None
        if msg.startswith("SASL authentication failed", pos):
            r = _smtp_said(_SASL_OUT, _K_SASL_FAILURE, msg, qid, pos)
            if r is None:
                m = _SASL_OUT_OTHER.match(msg, pos)
                return (_K_SASL_FAILURE, qid, m) if m else None
            return r
        if msg.startswith("Cannot start TLS", pos):
            m = _STARTTLS_FAIL.match(msg, pos)
            return (_K_TLS_ERROR, qid, m) if m else None
        if msg.startswith("enabling PIX", pos):
            m = _PIX.match(msg, pos)
            return (_K_INFO, qid, m) if m else None
        if msg.startswith("connect to ", pos):
            m = _CONNECT_TO.match(msg, pos)
            return (_K_CONNECT_FAILURE, qid, m) if m else None
        return _level_or_qid_level(msg, qid, pos)
    if msg.startswith(_TLS_TRUST):
        m = _TLS_OUT.match(msg)
        return (_K_TLS, None, m) if m else None
    if msg.startswith("connect to "):
        m = _CONNECT_TO.match(msg)
        return (_K_CONNECT_FAILURE, None, m) if m else None
    if msg.startswith(("certificate verification", "server certificate verification")):
        m = _CERT.match(msg)
        return (_K_TLS_ERROR, None, m) if m else None
    if msg.startswith("SSL_connect error"):
        m = _SSL_CONNECT.match(msg)
        return (_K_TLS_ERROR, None, m) if m else None
    if msg.startswith("setting up TLS"):
        m = _SETUP_TLS.match(msg)
        return (_K_INFO, None, m) if m else None
    r = _level(msg)
    if r is None:
        m = _RELAY_NOTE.match(msg)
        if m is not None:
            return _K_INFO, None, m
    return r


# --------------------------------------------------------------------------- cleanup
_REJECT_SHAPE = lazy_pattern(r"[a-z][a-z_-]*: [A-Z]")


_MESSAGE_ID = lazy_pattern(
    r"(" + _QID_HOT + r"): message-id=(?:<(?P<message_id>[^>]*)>|(?P<raw>.*))$"
)


def _cleanup(msg: str) -> Result | None:
    m = _MESSAGE_ID.match(msg)
    if m is not None:
        mid = m.group(2)
        return _K_MESSAGE_ID, m.group(1), {"message_id": m.group(3) if mid is None else mid}
    qid, pos = _split_qid(msg)
    if qid is None:
        return _level(msg)
    if msg.startswith("resent-message-id=", pos):
        v = msg[pos + 18 :]
        if v[:1] == "<" and v[-1:] == ">":
            v = v[1:-1]
        return _K_INFO, qid, {"message_id": v, "text": "resent-message-id"}
    if _REJECT_SHAPE.match(msg, pos):
        r = _reject(msg, qid, pos)
        if r is not None:
            return r
    return _check(msg, qid, pos) or _level_or_qid_level(msg, qid, pos)


# --------------------------------------------------------------------------- qmgr, pickup, bounce
_QMGR_FROM = lazy_pattern(
    r"(" + _QID_HOT + r"): from=<(?P<sender>[^>]*)>, size=(?P<size>\d{1,18}), "
    r"nrcpt=(?P<nrcpt>\d{1,9})(?: \(.*\)|)$"
)
_REMOVED = lazy_pattern(r"(" + _QID_HOT + r"): removed$")
_QMGR_EXPIRED = lazy_pattern(r"from=<(?P<sender>[^>]*)>, status=(?P<status>expired), .*$")


def _qmgr(msg: str) -> Result | None:
    m = _QMGR_FROM.match(msg)
    if m is not None:
        return _K_FROM, m.group(1), m
    if msg.endswith(": removed"):
        m = _REMOVED.match(msg)
        if m is not None:
            return _K_REMOVED, m.group(1), {}
    qid, pos = _split_qid(msg)
    if qid is None:
        return _level(msg)
    if msg.startswith("from=<", pos):
        m = _QMGR_EXPIRED.match(msg, pos)
        return (_K_EXPIRED, qid, m) if m else None
    if msg.startswith("skipped, ", pos):
        return _K_INFO, qid, {"text": msg[pos:]}
    if msg.startswith("to=", pos):
        return _delivery(msg)
    return _level_or_qid_level(msg, qid, pos)


_PICKUP = lazy_pattern(r"(?P<text>uid=\d+) from=<(?P<sender>[^>]*)>$")


def _pickup(msg: str) -> Result | None:
    qid, pos = _split_qid(msg)
    if qid is None:
        return _level(msg)
    m = _PICKUP.match(msg, pos)
    return (_K_PICKUP, qid, m) if m else _level_or_qid_level(msg, qid, pos)


_BOUNCE = lazy_pattern(
    r"(?P<text>(?:sender|postmaster) [a-z -]*notification): (?P<next_queue_id>" + _QID + ")$"
)


def _bounce(msg: str) -> Result | None:
    qid, pos = _split_qid(msg)
    if qid is None:
        return _level(msg)
    m = _BOUNCE.match(msg, pos)
    return (_K_BOUNCE_NOTICE, qid, m) if m else _level_or_qid_level(msg, qid, pos)


# --------------------------------------------------------------------------- local-ish deliveries
def _deliveries(msg: str) -> Result | None:
    """Deliveries and level lines: local, virtual, pipe, error, retry, discard, and the daemons
    without a handler of their own (trivial-rewrite, tlsmgr, postdrop …)."""
    qid, pos = _split_qid(msg)
    if qid is not None:
        if msg.startswith("to=", pos):
            return _delivery(msg)
        return _level_or_qid_level(msg, qid, pos)
    return _level(msg)


# --------------------------------------------------------------------------- statistics, admin
_ANVIL = lazy_pattern(
    r"statistics: (?P<text>max [a-z ]+ \d+(?:/\w+|))(?: for \((?:[A-Za-z][\w-]*|[\d.]+:\d+|"
    r"\[[^\s\]]*\]:\d+):(?:(?P<client_ip>[0-9A-Fa-f:.]+)|[^()]*)\)|) at .*$"
)


def _anvil(msg: str) -> Result | None:
    m = _ANVIL.match(msg)
    return (_K_ANVIL, None, m) if m else _level(msg)


def _scache(msg: str) -> Result | None:
    if msg.startswith("statistics: "):
        return _K_SCACHE, None, {"text": msg[12:]}
    return _level(msg)


_POSTSUPER_QID = ("removed", "placed on hold", "released from hold", "requeued", "expired")
_POSTSUPER_SUMMARY = lazy_pattern(
    r"(?:Deleted|Requeued|Placed on hold|Released from hold|Expired): \d+ messages?$"
)


def _postsuper(msg: str) -> Result | None:
    qid, pos = _split_qid(msg)
    if qid is not None:
        rest = msg[pos:]
        if rest == "removed":
            return _K_REMOVED, qid, {"text": rest}
        if rest == "placed on hold":
            return _K_HOLD, qid, {"action": "postsuper", "text": rest}
        if rest in _POSTSUPER_QID:
            return _K_INFO, qid, {"text": rest}
        return _level_or_qid_level(msg, qid, pos)
    if _POSTSUPER_SUMMARY.match(msg):
        return _K_INFO, None, {"text": msg}
    return _level(msg)


_MASTER = ("daemon started", "reload", "terminating on signal", "master exit time")
_SCRIPT = (
    "starting the Postfix",
    "stopping the Postfix",
    "refreshing the Postfix",
    "the Postfix mail system is",
    "waiting for the Postfix",
)


def _master(msg: str) -> Result | None:
    if msg.startswith(_MASTER):
        return _K_INFO, None, {"text": msg}
    return _level(msg)


def _postfix_script(msg: str) -> Result | None:
    if msg.startswith(_SCRIPT):
        return _K_INFO, None, {"text": msg}
    return _level(msg)


_DNSBLOG = lazy_pattern(
    r"addr (?P<client_ip>[0-9A-Fa-f:.]+) listed by domain (?P<text>\S+ as \S+)$"
)


def _dnsblog(msg: str) -> Result | None:
    m = _DNSBLOG.match(msg)
    return (_K_DNSBLOG, None, m) if m else _level(msg)


def _verify(msg: str) -> Result | None:
    if _CACHE.match(msg):
        return _K_INFO, None, {"text": msg}
    return _deliveries(msg)


_DAEMONS: dict[str, Handler] = {
    "smtpd": _smtpd,
    "smtp": _smtp,
    "lmtp": _smtp,
    "cleanup": _cleanup,
    "qmgr": _qmgr,
    "nqmgr": _qmgr,
    "postscreen": _postscreen,
    "pickup": _pickup,
    "bounce": _bounce,
    "defer": _bounce,
    "trace": _bounce,
    "local": _deliveries,
    "virtual": _deliveries,
    "pipe": _deliveries,
    "error": _deliveries,
    "retry": _deliveries,
    "discard": _deliveries,
    "anvil": _anvil,
    "scache": _scache,
    "tlsproxy": _tlsproxy,
    "postsuper": _postsuper,
    "master": _master,
    "postfix-script": _postfix_script,
    "dnsblog": _dnsblog,
    "verify": _verify,
}


def _any_daemon(message: str) -> Result | None:
    """A message whose tag names no daemon (``postfix[17435]: …``), read by the daemons that
    know its shape, when they all read it alike; None when they differ (the same
    ``host[ip]:port`` is a client to smtpd and a relay to smtp): no guessing.

    rsyslog's RFC 5424 output names some Postfix lines by the service alone (APP-NAME
    ``postfix``), so smtpd's ``client=`` and qmgr's ``from=`` arrive without their daemon.

    >>> _any_daemon("6E813220598: client=localhost[127.0.0.1]")[:2]
    ('client', '6E813220598')
    >>> _any_daemon("6E813220598: from=<carol@postfix.test>, size=408, nrcpt=2 (queue active)")[0]
    'from'
    """
    first: Result | None = None
    seen = None
    for handler in _BY_SHAPE:
        result = handler(message)
        if result is None:
            continue
        fields = result[2]
        reading = (
            result[0],
            result[1],
            fields.groupdict() if isinstance(fields, re.Match) else fields,
        )
        if first is None:
            first, seen = result, reading
        elif reading != seen:
            return None
    return first


_BY_SHAPE: tuple[Handler, ...] = (
    _qmgr,
    _smtpd,
    _cleanup,
    _smtp,
    _deliveries,
    _pickup,
    _bounce,
    _postscreen,
    _anvil,
    _scache,
    _tlsproxy,
    _postsuper,
    _master,
    _postfix_script,
)
_DAEMONS["postfix"] = _any_daemon

# A log names a handful of tags millions of times: remember each tag's handler.
_BY_PROGRAM: dict[str, Handler] = {}


def _handler(program: str) -> Handler:
    handler = _DAEMONS.get(program[program.rfind("/") + 1 :], _deliveries)
    if len(_BY_PROGRAM) < 4096 and len(program) <= 256:  # hostile input must not grow it
        _BY_PROGRAM[program] = handler
    return handler


# --------------------------------------------------------------------------- public API
def handler_for(program: str) -> Handler:
    """The function that reads messages of ``program`` (a whole syslog tag) into a Result.

    The reader's hot loop calls it once per tag and then the handler directly, per line.

    >>> handler_for("postfix/qmgr")("4B2C1D9F3A: removed")
    ('removed', '4B2C1D9F3A', {})
    """
    return _BY_PROGRAM.get(program) or _handler(program)


def parse_line(
    b: EventBuilder,
    ts: int | None,
    host: str | None,
    program: str,
    pid: int | None,
    line: int,
    message: str,
) -> bool:
    """Append the event one Postfix message says to ``b``; False if the line is not recognised.

    ``program`` is the whole syslog tag; its last path component names the daemon.

    >>> b = EventBuilder("maillog")
    >>> parse_line(b, None, "mx", "postfix/submission/smtpd", 812, 3,
    ...            "connect from laptop.example.net[198.51.100.7]")
    True
    >>> parse_line(b, None, "mx", "postfix/smtpd", 812, 4, "some new message")
    False
    >>> b.events_table().column("client_ip").to_pylist()
    ['198.51.100.7']
    """
    r = (_BY_PROGRAM.get(program) or _handler(program))(message)
    if r is None:
        return False
    b.add(r[0], ts, host, program, pid, line, r[1], r[2])
    return True


# EVENTS column -> conformance key, where they differ.
_RENAME = {
    "delays_a": "delay_before_qmgr",
    "delays_b": "delay_in_qmgr",
    "delays_c": "delay_conn_setup",
    "delays_d": "delay_transmission",
}
_LEVEL_KINDS = {_K_WARNING, _K_ERROR, _K_FATAL, _K_PANIC}
# parse_message hands out numbers, as the table would: captured text -> int or float.
_NUMBER: dict[str, Callable[[str], object]] = {
    f.name: int if pa.types.is_integer(f.type) else float
    for f in EVENTS
    if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
}


def parse_message(program: str, message: str) -> dict[str, object]:
    """One Postfix message (the text after ``postfix/<program>[pid]: ``) as a mapping.

    Keys are EVENTS columns renamed to the conformance vocabulary (``delay_before_qmgr`` …,
    ``bounce_queue_id``, ``response``, ``level``) plus ``kind``, with numbers as ``int`` and
    ``float``; an unrecognised message gives ``{"kind": None}``.

    >>> r = parse_message("smtp", "4B2C1D9F3A: to=<bob@example.net>, "
    ...     "relay=mx.example.net[203.0.113.5]:25, delay=1.2, delays=0.1/0/0.5/0.6, "
    ...     "dsn=5.1.1, status=bounced (host mx.example.net[203.0.113.5] said: 550 5.1.1 "
    ...     "<bob@example.net>: Recipient address rejected (in reply to RCPT TO command))")
    >>> r["status"], r["reply_code"], r["command"], r["delay_in_qmgr"]
    ('bounced', 550, 'RCPT TO', 0.0)
    """
    r = (_BY_PROGRAM.get(program) or _handler(program or ""))(message)
    if r is None:
        return {"kind": None}
    kind, qid, found = r
    fields = found if isinstance(found, dict) else found.groupdict()
    out: dict[str, object] = {"queue_id": qid} if qid is not None else {}
    for name, value in fields.items():
        if value is not None:
            convert = _NUMBER.get(name)
            out[_RENAME.get(name, name)] = value if convert is None else convert(str(value))
    out["kind"] = str(kind)
    if kind in _LEVEL_KINDS:
        out["level"] = str(kind)
    elif kind == _K_SASL_FAILURE and message.startswith("warning: "):
        out["level"] = "warning"
    elif kind == _K_CHECK_ACTION and fields.get("action") in ("warning", "info"):
        out["level"] = fields["action"]
    elif kind == _K_REMOVED:
        out.setdefault("text", "removed")
    if kind == _K_BOUNCE_NOTICE:
        out["bounce_queue_id"] = fields["next_queue_id"]
    # The reply as written: the whole parenthesis of a delivery, the part after "said:" else.
    action = fields.get("action")
    if "text" in out and (
        kind == _K_DELIVERY
        or "reply_code" in out
        or (isinstance(action, str) and action.startswith("proxy-"))
    ):
        out["response"] = out["text"]
    return out
