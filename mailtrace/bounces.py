"""Bounce messages → per-recipient outcomes.

A bounce arrives in one of a few shapes: an RFC 3464 ``multipart/report`` with a
``message/delivery-status`` part (Postfix, Sendmail, Microsoft 365, Gmail …), a human-readable
body with no machine part (Exim's "The following address(es) failed:", qmail's ``<x>:`` blocks,
Exchange's "did not reach the following recipient(s)"), a JSON notification (Amazon SES via SNS),
a feedback report (RFC 5965 ARF) or an auto-reply (RFC 3834). :func:`parse_bounce` reads all of
them into one :class:`Bounce`; it never raises and scans only bounded amounts of text, so a
5 MB attachment or broken MIME costs little.

>>> raw = (b"From: MAILER-DAEMON@mx.example.net\\nSubject: failure notice\\n\\n"
...        b"<nobody@example.org>:\\n192.0.2.7 does not like recipient.\\n"
...        b"Remote host said: 550 5.1.1 <nobody@example.org>: Recipient address rejected\\n")
>>> b = parse_bounce(raw)
>>> b.kind, b.recipients[0].recipient, b.recipients[0].reply_code, b.recipients[0].status
('failure', 'nobody@example.org', 550, '5.1.1')
"""

from __future__ import annotations

import email
import email.message
import email.policy
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.header import decode_header, make_header
from email.utils import getaddresses

from mailtrace import codes

# Never look at more than this much of any one text part: the explanation of a failure is at
# the top, and a huge attachment must not cost time.
_PART_LIMIT = 256 * 1024
# Recipients kept per bounce.
MAX_RECIPIENTS = 1000
# Per-recipient diagnostic text kept.
_DIAG_LIMIT = 2000


# RFC 3464 actions that mean the message got through (Postfix "sendmail -bv" says "deliverable").
_DELIVERED_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    """What a bounce says about one recipient."""

    recipient: str | None
    original_recipient: str | None = None
    action: str | None = None  # failed, delayed, delivered, relayed, expanded (RFC 3464)
    status: str | None = None  # enhanced status code: 5.1.1
    reply_code: int | None = None
    diagnostic: str | None = None  # the remote server's words, or the bounce's own explanation
    command: str | None = None  # the SMTP command that was refused: RCPT, MAIL, DATA …
    remote_host: str | None = None
    last_attempt: str | None = None
    feedback_type: str | None = None  # ARF only: abuse, fraud, opt-out …
    context: str | None = None  # the surrounding human-readable report text


@dataclass(frozen=True, slots=True)
class Bounce:
    """One parsed bounce: its kind and what it says per recipient.

    ``kind`` is ``failure``, ``delay``, ``delivered``, ``auto_reply``, ``feedback`` or
    ``not_bounce``.
    """

    kind: str
    recipients: tuple[BouncedRecipient, ...] = ()
    reporting_mta: str | None = None
    subject: str | None = None
    problems: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------
# Patterns. Each is linear: no nested unbounded quantifiers, bounded repetition where it matters.

_ADDR = r"[\w.!#$%&'*+/=?^`{|}~-]{1,128}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,10}"
_ADDR_RE = re.compile(_ADDR)

# Where the bounce's own text ends and the returned original message begins.
_ORIGINAL_MARKERS = re.compile(
    r"^[ \t>]{0,8}(?:"
    r"-{2,}[ \t]{0,4}(?:Below this line is a copy of the message"
    r"|This is a copy of the message"
    r"|Original message|Original Message"
    r"|Unsent Message below|Returned mail|Original message follows"
    r"|Message headers follow|Returned message|Headers of the original message)"
    r"|Below this line is a copy of the message"
    r"|Message headers follow"
    r"|The headers of the (?:original )?message"
    r"|-{2,}[ \t]*(?:The )?(?:original|returned|your) message"
    r"|Original message header"
    r"|\[(?:original|returned) message"
    r"|.{0,40}(?:copy|header|headers) of the (?:original |returned |your )?message"
    r"|(?:Original|Returned) message follows"
    r"|-{2,}[ \t]{0,4}Unsent message follows"
    r"|Below is a copy of"
    r")",
    re.IGNORECASE | re.MULTILINE,
)

# A line that names one failed recipient at its start.
_RCPT_LINE = re.compile(
    r"^[ \t>*]{0,12}(?:[45]\d\d[ -])?(?:"
    r"<(" + _ADDR + r")>[ \t]{0,4}(?::|\.{3}|$| \()"  # qmail/Yahoo "<x>:", Sendmail "<x>... why"
    r"|\"?(" + _ADDR + r")\"?(?=[ \t]|:|$|\.{3})"
    r"|(?:Original|Final)-Recipient:[ \t]{0,4}(?:rfc822;)?[ \t]{0,4}<?(" + _ADDR + r")>?"
    # "Mailbox full: x@example.org", but not a quoted header ("From: x") of the original message
    r"|(?![ \t])"
    r"(?!(?:MAIL FROM|From|Sender|Reply-To|Return-Path|CC|BCC|Errors-To|Delivered-To|To)[ \t]*:)"
    r"[^\n<>@]{3,200}:[ \t]{1,4}<?(" + _ADDR + r")>?[ \t]*$"
    r")",
    re.IGNORECASE | re.MULTILINE,
)

# A recipient named inside a sentence: "delivering your mail to <x>", "Your message to x".
_RCPT_INLINE = re.compile(
    r"(?:deliver(?:ing|ed|y)?(?: your (?:mail|message))?(?: was)?(?: not)? to|"
    r"(?:message|mail) (?:to|for)|recipient(?: address)?:?|rejected|for|address:?|"
    r"undeliverable to|RCPT TO:?)[ \t]{1,4}"
    r"<?(" + _ADDR + r")>?",
    re.IGNORECASE,
)

_MBOX_SPLIT = re.compile(rb"\n(?=From [^\n]{1,200}\n)")
_DSN_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,40})[ \t]*:[ \t]*(.*)$")
_COMMAND_RE = re.compile(
    r"\b(?:after|in reply to|while sending|did not like our|in response to)"
    r"(?: the)?(?: end of)?[ \t]{1,4}"
    r"(RCPT TO|MAIL FROM|RCPT|MAIL|DATA|final DATA|end of data|HELO|EHLO|STARTTLS|AUTH|CONNECT)"
    r"|\[(RCPT_TO|MAIL_FROM|DATA)\]",  # Yahoo tags the refused command in brackets
    re.IGNORECASE,
)
_TRANSCRIPT_CMD = re.compile(
    r"^[ \t]{0,4}>>>[ \t]{0,4}(MAIL FROM|RCPT TO|DATA|EHLO|HELO|STARTTLS|AUTH)",
    re.IGNORECASE | re.MULTILINE,
)
_TRANSCRIPT_LINE = re.compile(r"[ \t]{0,4}(?:<<<|>>>|\.\.\. while talking|While talking)", re.I)
_HOST_RE = re.compile(
    r"\b(?:host|server|talking to|from|by|connect to)[ \t]{1,4}"
    r"\[?([a-z0-9][a-z0-9.-]{0,252}\.[a-z]{2,24})\]?",
    re.IGNORECASE,
)
_SUBJECT_BOUNCE = re.compile(
    r"undeliver|returned mail|delivery (?:status|fail|notification|report|has failed)|"
    r"failure notice|mail delivery|could not be delivered|non[- ]?delivery|nondeliverable|"
    r"delivery problem|message not delivered|rejected|mail system error|warning: could not",
    re.IGNORECASE,
)
_BODY_BOUNCE = re.compile(
    r"could not be delivered|couldn't be delivered|unable to deliver|wasn'?t able to deliver|"
    r"not able to deliver|delivery (?:to the following|has failed|failed)|permanent error|"
    r"did not reach|following address|undeliverable|undelivered|mail delivery|returned to you|"
    r"transcript of session|failed permanently|temporary failure|delivery.{0,20}delayed|"
    r"message could not|have not been delivered|could not deliver|not delivered|"
    r"error (?:delivering|occurred)|delivery to .{1,200}failed|was not delivered",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"out of (?:the )?office|auto(?:matic)?[ -]?(?:reply|response|antwort|respond)|"
    r"^auto:|vacation|away from|abwesen|on leave|absence",
    re.IGNORECASE,
)
_DAEMON = re.compile(
    r"mailer-daemon|post_?master|mail delivery|mail administrator|mdaemon|noreply|no-reply",
    re.IGNORECASE,
)
# The local part of a bounce's own sender, never a failed recipient (a postmaster address can be).
_DAEMON_LOCAL = re.compile(r"mailer-daemon|mdaemon|mail\.delivery", re.IGNORECASE)


def _decode(value: object) -> str:
    """A header value as text, with RFC 2047 words decoded; never raises."""
    if value is None:
        return ""
    s = str(value)
    try:
        return str(make_header(decode_header(s)))
    except (ValueError, LookupError, UnicodeError):
        return s


def _part_text(part: email.message.Message) -> str:
    """A non-multipart part's body as text (decoded transfer encoding and charset), bounded."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError, AssertionError):
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:_PART_LIMIT] if isinstance(raw, str) else ""
    payload = payload[:_PART_LIMIT]
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1")


def _fields(text: str) -> list[dict[str, str]]:
    """Blocks of ``Name: value`` fields (RFC 3464 style), folded lines joined, keys lower-cased."""
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if cur:
                blocks.append(cur)
                cur, last = {}, ""
            continue
        if line[0] in " \t" and last:
            cur[last] += " " + line.strip()
            continue
        m = _DSN_FIELD.match(line)
        if m is None:
            continue
        last = m[1].lower()
        if last in cur:  # a repeated field starts the next recipient's block
            blocks.append(cur)
            cur = {}
        cur[last] = m[2].strip()
    if cur:
        blocks.append(cur)
    return blocks


def _blocks(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Field blocks, a new one whenever a field repeats (DSNs that omit the blank lines)."""
    blocks: list[dict[str, str]] = [{}]
    for name, value in items:
        key = name.lower()
        if key in blocks[-1]:
            blocks.append({})
        blocks[-1][key] = value
    return [b for b in blocks if b]


def _typed(value: str | None) -> str | None:
    """A typed DSN value without its type: ``rfc822; x@example.org`` → ``x@example.org``."""
    if not value:
        return None
    v = value.split(";", 1)[1] if ";" in value else value
    v = v.strip().strip("<>").strip()
    return v or None


def _address(value: str | None) -> str | None:
    if not value:
        return None
    m = _ADDR_RE.search(value)
    return m[0] if m else None


@dataclass
class _Mail:
    """The pieces of a message the bounce readers need."""

    headers: email.message.Message
    texts: list[str] = field(default_factory=list)  # human-readable parts, outside the original
    dsn: list[dict[str, str]] = field(default_factory=list)  # delivery-status field blocks
    feedback: list[dict[str, str]] = field(default_factory=list)
    original: email.message.Message | None = None  # the returned message or its headers
    report_type: str = ""


def _collect(msg: email.message.Message, mail: _Mail, depth: int = 0) -> None:
    """Walk the MIME tree once, sorting parts into texts, status fields and the original."""
    if depth > 20:
        return
    ctype = msg.get_content_type()
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    mail.dsn.extend(_blocks((k, _decode(v).strip()) for k, v in sub.items()))
        else:
            mail.dsn.extend(_fields(_part_text(msg)))
        return
    if ctype == "message/feedback-report":
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    block: dict[str, str] = {}
                    for k, v in sub.items():
                        key = k.lower()
                        block[key] = (block[key] + "\n" + str(v)) if key in block else str(v)
                    mail.feedback.append(block)
        else:
            mail.feedback.extend(_fields(_part_text(msg)))
        return
    if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
        if mail.original is None:
            payload = msg.get_payload()
            if (
                isinstance(payload, list)
                and payload
                and isinstance(payload[0], email.message.Message)
            ):
                mail.original = payload[0]
            elif ctype == "text/rfc822-headers":
                mail.original = email.message_from_string(_part_text(msg))
        return
    if msg.is_multipart():
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload[:50]:
                if isinstance(sub, email.message.Message):
                    _collect(sub, mail, depth + 1)
        return
    broken_multipart = msg.get_content_maintype() == "multipart"  # no usable boundary
    if ctype in ("text/plain", "text/html") or msg.get_content_maintype() == "text" or depth == 0:
        disp = (msg.get("Content-Disposition") or "").lower()
        if "attachment" in disp and ctype != "text/plain":
            return
        text = _part_text(msg)
        if ctype == "text/html":
            text = re.sub(r"<[^<>]{0,2000}>", " ", text)
            text = re.sub(r"&nbsp;", " ", text)
            text = re.sub(r"&lt;", "<", re.sub(r"&gt;", ">", re.sub(r"&amp;", "&", text)))
        mail.texts.append(text)
    elif broken_multipart:
        mail.texts.append(_part_text(msg))


def _report_text(mail: _Mail) -> str:
    """The bounce's own human-readable text, cut where the returned message starts."""
    text = "\n".join(mail.texts)
    m = _ORIGINAL_MARKERS.search(text)
    if m is not None and m.start() > 0:
        text = text[: m.start()]
    lines = text.splitlines()
    quoted = sum(1 for ln in lines if ln.startswith(">"))
    if lines and quoted * 3 > len(lines):
        # A forwarded bounce: take one level of quoting away so the line patterns apply.
        text = "\n".join(re.sub(r"^> ?", "", ln) for ln in lines)
    return text


def _inline_original(mail: _Mail) -> email.message.Message | None:
    """The returned message's headers when they follow the bounce text inside the same part."""
    text = "\n".join(mail.texts)
    m = _ORIGINAL_MARKERS.search(text)
    if m is None:
        return None
    rest = text[m.end() :]
    rest = rest[rest.find("\n") + 1 :].lstrip("\n")[:_PART_LIMIT]
    try:
        return email.message_from_string(rest, policy=email.policy.compat32)
    except Exception:  # whatever follows the marker may not be a message at all
        return None


def _excluded(mail: _Mail) -> set[str]:
    """Addresses that are the bounce's own parties, never failed recipients."""
    out: set[str] = set()
    for name in ("From", "To", "Reply-To", "Sender", "Return-Path"):
        for _, addr in getaddresses([_decode(v) for v in mail.headers.get_all(name) or []]):
            if addr:
                out.add(addr.lower())
    if mail.original is not None:
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            for _, addr in getaddresses([_decode(v) for v in mail.original.get_all(name) or []]):
                if addr:
                    out.add(addr.lower())
    return out


@functools.lru_cache(maxsize=512)  # many recipients of one bounce share its explanation
def _details(text: str) -> dict[str, object]:
    """Reply code, enhanced status, refused command and remote host written in ``text``."""
    status = codes.find_enhanced(text)
    reply = None
    for m in re.finditer(r"(?<![\d.])([45]\d\d)(?:[ -]|$)", text[:_DIAG_LIMIT]):
        reply = int(m[1])
        break
    cmd_m = _COMMAND_RE.search(text)
    if cmd_m is None:
        # A session transcript: the last command the client sent is the one refused.
        sent = list(_TRANSCRIPT_CMD.finditer(text[:_PART_LIMIT]))
        cmd_m = sent[-1] if sent else None
    command = None
    if cmd_m is not None:
        word = next((g for g in cmd_m.groups() if g), "").upper()
        command = {
            "RCPT TO": "RCPT",
            "MAIL FROM": "MAIL",
            "RCPT_TO": "RCPT",
            "MAIL_FROM": "MAIL",
            "FINAL DATA": "DATA",
            "END OF DATA": "DATA",
        }.get(word, word)
    host_m = _HOST_RE.search(text)
    return {
        "status": status,
        "reply_code": reply,
        "command": command,
        "remote_host": host_m[1].lower().rstrip(".") if host_m else None,
    }


def _squash(text: str) -> str:
    # Only the head is kept, so only the head is split (a huge report costs nothing extra).
    return " ".join(text[: 4 * _DIAG_LIMIT].split())[:_DIAG_LIMIT]


def _text_recipients(report: str, excluded: set[str]) -> list[tuple[str, str]]:
    """(recipient, its block of explanation) for each recipient named at a line start."""
    found: list[tuple[str, int]] = []
    own: list[tuple[str, int]] = []  # the bounce's own parties named in a recipient's place
    seen: set[str] = set()
    for m in _RCPT_LINE.finditer(report):
        addr = m[1] or m[2] or m[3] or m[4]
        key = addr.lower()
        if key in seen or _DAEMON_LOCAL.search(addr.split("@")[0]):
            continue
        seen.add(key)
        if key in excluded:
            own.append((addr, m.start()))
            continue
        found.append((addr, m.start()))
    if not found:
        for m in _RCPT_INLINE.finditer(report):
            addr = m[1]
            key = addr.lower()
            if key in excluded or key in seen or _DAEMON_LOCAL.search(addr.split("@")[0]):
                continue
            seen.add(key)
            found.append((addr, m.start()))
    if not found:
        # A message sent to oneself bounces to the failed address: take it when nothing else.
        found = own
    # Sendmail prints the server's reply ("<<< 550 ...") just before the line that names the
    # recipient: a block starts at the transcript lines right above its recipient.
    starts = []
    for i, (_, start) in enumerate(found):
        floor = found[i - 1][1] + 1 if i else 0
        while start > floor:
            line_start = report.rfind("\n", floor, start - 1) + 1
            if line_start < floor or not _TRANSCRIPT_LINE.match(report, line_start):
                break
            start = line_start
        starts.append(start)
    out = []
    for i, (addr, _) in enumerate(found):
        end = starts[i + 1] if i + 1 < len(found) else len(report)
        block = report[starts[i] : min(end, starts[i] + 8 * _DIAG_LIMIT)]
        out.append((addr, block))
    return out


def _ses_json(texts: list[str]) -> Bounce | None:
    """Amazon SES notifications delivered as JSON (SNS e-mail subscriptions)."""
    for text in texts:
        start = text.find('{"notificationType"')
        if start < 0:
            continue
        decoder = json.JSONDecoder()
        try:
            obj, _ = decoder.raw_decode(re.sub(r"\n", "", text[start:]))
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        kind = str(obj.get("notificationType", "")).lower()
        rows: list[BouncedRecipient] = []
        if kind == "bounce":
            info = obj.get("bounce") or {}
            for r in info.get("bouncedRecipients") or []:
                diag = str(r.get("diagnosticCode") or "")
                det = _details(diag)
                rows.append(
                    BouncedRecipient(
                        recipient=r.get("emailAddress"),
                        action=r.get("action"),
                        status=_sharper_status(r.get("status"), det["status"]),  # type: ignore[arg-type]
                        reply_code=det["reply_code"],  # type: ignore[arg-type]
                        diagnostic=diag or str(info.get("bounceSubType") or "") or None,
                        remote_host=info.get("remoteMtaIp"),
                        context=f"{info.get('bounceType', '')} {info.get('bounceSubType', '')}",
                    )
                )
            return Bounce("failure", tuple(rows), reporting_mta=info.get("reportingMTA"))
        if kind == "complaint":
            info = obj.get("complaint") or {}
            for r in info.get("complainedRecipients") or []:
                rows.append(
                    BouncedRecipient(
                        recipient=r.get("emailAddress"),
                        feedback_type=info.get("complaintFeedbackType") or "abuse",
                    )
                )
            return Bounce("feedback", tuple(rows))
        if kind == "delivery":
            info = obj.get("delivery") or {}
            resp = str(info.get("smtpResponse") or "")
            det = _details(resp)
            for r in info.get("recipients") or []:
                rows.append(
                    BouncedRecipient(
                        recipient=str(r),
                        action="delivered",
                        status=det["status"],  # type: ignore[arg-type]
                        reply_code=codes.find_reply_code(resp),
                        diagnostic=resp or None,
                        remote_host=info.get("remoteMtaIp"),
                    )
                )
            return Bounce("delivered", tuple(rows))
    return None


def _feedback(mail: _Mail) -> Bounce:
    rows: list[BouncedRecipient] = []
    for block in mail.feedback:
        ftype = block.get("feedback-type", "").strip() or None
        rcpts = [
            a
            for key in ("original-rcpt-to", "removal-recipient")
            for a in _ADDR_RE.findall(block.get(key, ""))
        ]
        if not rcpts and mail.original is not None:
            rcpts = [a for _, a in getaddresses([_decode(mail.original.get("To", ""))]) if a]
        for addr in dict.fromkeys(rcpts) or [None]:
            rows.append(BouncedRecipient(recipient=addr, feedback_type=ftype))
    if not rows:
        rows.append(BouncedRecipient(recipient=None, feedback_type=None))
    return Bounce("feedback", tuple(rows), subject=_decode(mail.headers.get("Subject")))


def _sharper_status(status: str | None, said: str | None) -> str | None:
    """The DSN's Status, unless it is a bare X.0.0 and the server's reply of the same class
    names a specific code: MTAs write 5.0.0 when they add no code of their own.

    >>> _sharper_status("5.0.0", "5.7.1"), _sharper_status("5.0.0", "4.4.7")
    ('5.7.1', '5.0.0')
    >>> _sharper_status("5.1.1", "5.7.1"), _sharper_status(None, "4.2.2")
    ('5.1.1', '4.2.2')
    """
    if status is None:
        return said
    parts = codes.parse_enhanced(status)
    if said and parts is not None and parts[1:] == (0, 0) and said[:1] == status[:1]:
        return said
    return status


def _from_dsn(mail: _Mail, report: str, excluded: set[str]) -> list[BouncedRecipient]:
    per_message: dict[str, str] = {}
    rows: list[BouncedRecipient] = []
    text_blocks = {a.lower(): b for a, b in _text_recipients(report, excluded)}
    for block in mail.dsn:
        if not any(k in block for k in ("final-recipient", "original-recipient", "action")):
            per_message.update(block)
            continue
        final = _typed(block.get("final-recipient")) or _typed(block.get("original-recipient"))
        addr = _address(final) or final
        raw_diag = block.get("diagnostic-code") or ""
        diag = _typed(raw_diag) or ""
        if raw_diag.lower().startswith(("x-unix", "x-local")) and diag:
            # A local mailer's exit status ("X-Unix; 71"): the type is the information.
            diag = raw_diag.strip()
        context = text_blocks.get(addr.lower(), "") if addr else ""
        if not context and len(text_blocks) <= 1:
            context = report[: 8 * _DIAG_LIMIT]
        if not diag:
            # "Status: 4.0.0 (example.net: host name lookup failure)": the comment explains.
            comment = re.search(r"\(([^()]{3,300})\)", block.get("status", ""))
            diag = comment[1].strip() if comment else ""
        det = _details(diag) if diag else _details(context)
        status = block.get("status", "").split()[0] if block.get("status", "").strip() else None
        if status is not None and codes.parse_enhanced(status) is None:
            status = None
        status = _sharper_status(status, det["status"])  # type: ignore[arg-type]
        remote = _typed(block.get("remote-mta"))
        if remote is not None:
            remote = remote.strip("[]").rstrip(".")
        rows.append(
            BouncedRecipient(
                recipient=addr,
                original_recipient=_address(_typed(block.get("original-recipient"))),
                action=(block.get("action") or "").strip().lower() or None,
                status=status,
                reply_code=det["reply_code"],  # type: ignore[arg-type]
                diagnostic=_squash(diag) or None,
                command=det["command"]  # type: ignore[arg-type]
                or _details(context)["command"],
                remote_host=remote or det["remote_host"],  # type: ignore[arg-type]
                last_attempt=block.get("last-attempt-date"),
                context=_squash(context) or None,
            )
        )
    return rows


def _is_auto_reply(mail: _Mail) -> bool:
    h = mail.headers
    auto = (h.get("Auto-Submitted") or "").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if any(h.get(n) for n in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if (h.get("Precedence") or "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(_decode(h.get("Subject"))))


def _dedupe(rows: list[BouncedRecipient]) -> tuple[BouncedRecipient, ...]:
    out: dict[str, BouncedRecipient] = {}
    anonymous: list[BouncedRecipient] = []
    for r in rows:
        if r.recipient is None:
            anonymous.append(r)
            continue
        key = r.recipient.lower()
        if key not in out:
            out[key] = r
        elif not out[key].diagnostic and r.diagnostic:
            out[key] = replace(r, status=out[key].status or r.status)
    # A real bounce names a handful of recipients; a hostile one must not cost unbounded time.
    return (*out.values(), *anonymous)[:MAX_RECIPIENTS]


def split_mbox(raw: bytes) -> list[bytes]:
    """The messages of an mbox (``From `` separator lines); a single message comes back alone.

    >>> [m[:9] for m in split_mbox(b"From a Mon\\nSubject: 1\\n\\nhi\\nFrom b Tue\\nSubject: 2\\n")]
    [b'Subject: ', b'Subject: ']
    >>> len(split_mbox(b"Subject: one\\n\\nbody"))
    1
    """
    if not raw.startswith(b"From "):
        return [raw]
    out = []
    for part in _MBOX_SPLIT.split(raw):
        # Drop the separator line itself; what follows is an RFC 5322 message.
        if part.startswith(b"From "):
            part = part[part.find(b"\n") + 1 :] if b"\n" in part else b""
        if part.strip():
            out.append(part)
    return out or [raw]


def parse_bounce(raw: bytes) -> Bounce:
    """Read one bounce (or auto-reply, or feedback report) into per-recipient records.

    Never raises: unreadable or unrelated mail comes back as ``kind='not_bounce'``.

    >>> parse_bounce(b"Subject: hello\\n\\nJust a normal note.").kind
    'not_bounce'
    """
    messages = split_mbox(raw)
    if len(messages) > 1:
        # An mbox holding several messages: read each and put their recipients together.
        each = [parse_bounce(m) for m in messages]
        first = next((b for b in each if b.recipients), each[0])
        return replace(first, recipients=tuple(r for b in each for r in b.recipients))
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the email package has many ways to give up on hostile input
        return Bounce("not_bounce", problems=(f"unreadable message: {type(exc).__name__}",))
    mail = _Mail(headers=msg)
    try:
        _collect(msg, mail)
    except Exception as exc:  # damaged MIME: keep what was read before the damage
        mail.texts.append("")
        problems: tuple[str, ...] = (f"damaged MIME structure: {type(exc).__name__}",)
    else:
        problems = ()
    subject = _decode(msg.get("Subject"))
    reporting = None
    for fields in mail.dsn:
        if "reporting-mta" in fields:
            reporting = _typed(fields["reporting-mta"])
            break
    ctype = (msg.get("Content-Type") or "").lower()

    if mail.feedback or "feedback-report" in ctype:
        return replace(_feedback(mail), problems=problems)
    ses = _ses_json(mail.texts)
    if ses is not None:
        return replace(ses, subject=subject, problems=problems)

    report = _report_text(mail)
    excluded = _excluded(mail)
    if not mail.dsn and "Final-Recipient:" in report:
        # A delivery-status part pasted into a text body (forwarded or badly built bounces).
        mail.dsn = _fields(report[report.find("Final-Recipient:") - 200 :])
    rows = _from_dsn(mail, report, excluded) if mail.dsn else []

    sender = (msg.get("From") or "").lower()
    looks_bounce = bool(
        rows
        or _DAEMON.search(sender)
        or _SUBJECT_BOUNCE.search(subject)
        or _BODY_BOUNCE.search(report[:20000])
    )
    if (
        not rows
        and looks_bounce
        and not (
            _is_auto_reply(mail)
            and not _SUBJECT_BOUNCE.search(subject)
            and not _DAEMON.search(sender)
        )
    ):
        around = _squash(f"{subject}\n{report[: 4 * _DIAG_LIMIT]}")
        for addr, block in _text_recipients(report, excluded):
            det = _details(block)
            rows.append(
                BouncedRecipient(
                    recipient=addr,
                    status=det["status"],  # type: ignore[arg-type]
                    reply_code=det["reply_code"],  # type: ignore[arg-type]
                    diagnostic=_squash(block),
                    command=det["command"],  # type: ignore[arg-type]
                    remote_host=det["remote_host"],  # type: ignore[arg-type]
                    context=around,
                )
            )
        original = mail.original or _inline_original(mail)
        if not rows and original is not None:
            # The text names nobody: the returned message's own recipients are who failed.
            to = [a for _, a in getaddresses([_decode(original.get("To", ""))]) if a]
            det = _details(report)
            for addr in to[:1]:
                rows.append(
                    BouncedRecipient(
                        recipient=addr,
                        status=det["status"],  # type: ignore[arg-type]
                        reply_code=det["reply_code"],  # type: ignore[arg-type]
                        diagnostic=_squash(report),
                        command=det["command"],  # type: ignore[arg-type]
                        remote_host=det["remote_host"],  # type: ignore[arg-type]
                        context=around,
                    )
                )
    if rows:
        actions = {r.action for r in rows}
        if actions <= _DELIVERED_ACTIONS:
            kind = "delivered"
        elif actions <= {"delayed"}:
            kind = "delay"
        else:
            kind = "failure"
        return Bounce(kind, _dedupe(rows), reporting, subject, problems)
    if _is_auto_reply(mail) and not looks_bounce:
        who = [a for _, a in getaddresses([_decode(msg.get("From", ""))]) if a]
        return Bounce(
            "auto_reply",
            (BouncedRecipient(recipient=who[0] if who else None, context=_squash(report)),),
            subject=subject,
            problems=problems,
        )
    if looks_bounce:
        return Bounce("failure", (), reporting, subject, problems)
    return Bounce("not_bounce", (), None, subject, problems)
