"""SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463 and the IANA registry).

Two numbering systems describe every SMTP outcome. The three-digit *reply code* (``550``) says
whether the command succeeded, failed for now or failed for good; the *enhanced status code*
(``5.1.1``: class.subject.detail) says what kind of thing went wrong. Both live here as named,
documented data, with lookups that never raise on odd input:

>>> reply_meaning(550)
'requested action not taken: mailbox unavailable or access refused'
>>> enhanced_meaning("5.7.1")
'delivery not authorized, message refused'
>>> find_enhanced("550-5.1.1 The email account that you tried to reach does not exist.")
'5.1.1'

The registry text below is written in our own words from the IANA "SMTP Enhanced Status Codes"
registry (RFC 3463, RFC 3886, RFC 4468, RFC 4954, RFC 5248, RFC 6531, RFC 6710, RFC 7293,
RFC 7372, RFC 7505, RFC 8617, RFC 8689 and later registrations).
"""

from __future__ import annotations

import re
from enum import IntEnum


class ReplyCode(IntEnum):
    """The SMTP reply codes of RFC 5321 §4.2.2 (plus a few widely used additions).

    The first digit is what a client acts on: 2 done, 3 go on, 4 try again later, 5 give up.

    >>> ReplyCode(552).name
    'EXCEEDED_STORAGE'
    >>> ReplyCode.MAILBOX_UNAVAILABLE.value
    550
    """

    SYSTEM_STATUS = 211
    HELP = 214
    SERVICE_READY = 220
    CLOSING = 221
    AUTH_SUCCEEDED = 235  # RFC 4954
    OK = 250
    USER_NOT_LOCAL_WILL_FORWARD = 251
    CANNOT_VRFY = 252
    AUTH_CONTINUE = 334  # RFC 4954
    START_MAIL_INPUT = 354
    SERVICE_NOT_AVAILABLE = 421
    PASSWORD_TRANSITION = 432  # RFC 4954
    MAILBOX_BUSY = 450
    LOCAL_ERROR = 451
    INSUFFICIENT_STORAGE = 452
    TEMP_AUTH_FAILURE = 454  # RFC 4954
    PARAMS_NOT_ACCOMMODATED_TEMP = 455
    SYNTAX_ERROR = 500
    SYNTAX_ERROR_PARAMS = 501
    NOT_IMPLEMENTED = 502
    BAD_SEQUENCE = 503
    PARAM_NOT_IMPLEMENTED = 504
    DOES_NOT_ACCEPT_MAIL = 521  # RFC 7504
    ENCRYPTION_NEEDED = 523  # RFC 5248 era: encryption required for this mechanism
    AUTH_REQUIRED = 530  # RFC 4954
    AUTH_TOO_WEAK = 534  # RFC 4954
    AUTH_INVALID = 535  # RFC 4954
    ENCRYPTION_REQUIRED = 538  # RFC 4954
    MAILBOX_UNAVAILABLE = 550
    USER_NOT_LOCAL = 551
    EXCEEDED_STORAGE = 552
    MAILBOX_NAME_NOT_ALLOWED = 553
    TRANSACTION_FAILED = 554
    PARAMS_NOT_RECOGNIZED = 555
    DOMAIN_DOES_NOT_ACCEPT_MAIL = 556  # RFC 7504


#: What each reply code means, in a few words a postmaster would use.
REPLY_MEANINGS: dict[int, str] = {
    211: "system status or help reply",
    214: "help message",
    220: "service ready",
    221: "service closing the connection",
    235: "authentication succeeded",
    250: "requested action completed",
    251: "user not local; the server will forward",
    252: "cannot verify the user, but will accept the message and try",
    334: "authentication challenge: continue",
    354: "start mail input; end with a line holding a single dot",
    421: "service not available, closing the connection",
    432: "a password transition is needed",
    450: "requested action not taken: mailbox unavailable (busy or blocked for now)",
    451: "requested action aborted: local error in processing",
    452: "requested action not taken: insufficient system storage",
    454: "temporary authentication failure (or TLS not available)",
    455: "server unable to accommodate the parameters for now",
    500: "syntax error, command unrecognised",
    501: "syntax error in parameters or arguments",
    502: "command not implemented",
    503: "bad sequence of commands",
    504: "command parameter not implemented",
    521: "host does not accept mail",
    523: "encryption needed for this request",
    530: "authentication required",
    534: "authentication mechanism is too weak",
    535: "authentication credentials invalid",
    538: "encryption required for the requested authentication mechanism",
    550: "requested action not taken: mailbox unavailable or access refused",
    551: "user not local; try another path",
    552: "requested mail action aborted: exceeded storage allocation",
    553: "requested action not taken: mailbox name not allowed",
    554: "transaction failed (or no SMTP service here)",
    555: "MAIL FROM/RCPT TO parameters not recognised or not implemented",
    556: "domain does not accept mail",
}

#: What the first digit of a reply code means.
REPLY_CLASSES: dict[int, str] = {
    2: "positive completion",
    3: "positive intermediate",
    4: "transient negative completion: try again later",
    5: "permanent negative completion: do not retry as is",
}

#: The class (first number) of an enhanced status code.
ENHANCED_CLASSES: dict[int, str] = {
    2: "success",
    4: "persistent transient failure",
    5: "permanent failure",
}

#: The subject (middle number) of an enhanced status code.
ENHANCED_SUBJECTS: dict[int, str] = {
    0: "other or undefined status",
    1: "addressing status",
    2: "mailbox status",
    3: "mail system status",
    4: "network and routing status",
    5: "mail delivery protocol status",
    6: "message content or media status",
    7: "security or policy status",
}

#: Every registered subject.detail with its meaning (the class digit is independent of these).
ENHANCED_MEANINGS: dict[str, str] = {
    "0.0": "other undefined status",
    # X.1: addressing
    "1.0": "other address status",
    "1.1": "bad destination mailbox address: the mailbox does not exist",
    "1.2": "bad destination system address: the domain does not exist or accepts no mail",
    "1.3": "bad destination mailbox address syntax",
    "1.4": "destination mailbox address is ambiguous",
    "1.5": "destination address valid",
    "1.6": "destination mailbox has moved, no forwarding address",
    "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address",
    "1.9": "message relayed to a non-compliant mailer",
    "1.10": "recipient address has a null MX",
    # X.2: mailbox
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full",
    "2.3": "message length exceeds an administrative limit",
    "2.4": "mailing list expansion problem",
    # X.3: mail system
    "3.0": "other or undefined mail system status",
    "3.1": "mail system full",
    "3.2": "system not accepting network messages",
    "3.3": "system not capable of the selected features",
    "3.4": "message too big for the system",
    "3.5": "system incorrectly configured",
    "3.6": "requested priority was changed",
    # X.4: network and routing
    "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host",
    "4.2": "bad connection",
    "4.3": "directory server failure (DNS lookup failed)",
    "4.4": "unable to route",
    "4.5": "mail system congestion",
    "4.6": "routing loop detected",
    "4.7": "delivery time expired",
    # X.5: protocol
    "5.0": "other or undefined protocol status",
    "5.1": "invalid command",
    "5.2": "syntax error",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "5.5": "wrong protocol version",
    "5.6": "authentication exchange line is too long",
    # X.6: content and media
    "6.0": "other or undefined media error",
    "6.1": "media not supported",
    "6.2": "conversion required and prohibited",
    "6.3": "conversion required but not supported",
    "6.4": "conversion with loss performed",
    "6.5": "conversion failed",
    "6.6": "message content not available",
    "6.7": "non-ASCII addresses not permitted for that sender or recipient",
    "6.8": "UTF-8 string reply is required but the client does not permit it",
    "6.9": "UTF-8 header message cannot be transferred to one or more recipients",
    "6.10": "duplicate of X.6.8 (deprecated)",
    # X.7: security and policy
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.2": "mailing list expansion prohibited",
    "7.3": "security conversion required but not possible",
    "7.4": "security features not supported",
    "7.5": "cryptographic failure",
    "7.6": "cryptographic algorithm not supported",
    "7.7": "message integrity failure",
    "7.8": "authentication credentials invalid",
    "7.9": "authentication mechanism is too weak",
    "7.10": "encryption needed",
    "7.11": "encryption required for the requested authentication mechanism",
    "7.12": "a password transition is needed",
    "7.13": "user account disabled",
    "7.14": "trust relationship required",
    "7.15": "priority level is too low",
    "7.16": "message is too big for the specified priority",
    "7.17": "mailbox owner has changed",
    "7.18": "domain owner has changed",
    "7.19": "RRVS test cannot be completed",
    "7.20": "no passing DKIM signature found",
    "7.21": "no acceptable DKIM signature found",
    "7.22": "no valid author-matched DKIM signature found",
    "7.23": "SPF validation failed",
    "7.24": "SPF validation error",
    "7.25": "reverse DNS validation failed",
    "7.26": "multiple authentication checks failed",
    "7.27": "sender address has a null MX",
    "7.28": "mail flood detected",
    "7.29": "ARC validation failure",
    "7.30": "REQUIRETLS support required",
}

# An enhanced code in free text: class 2/4/5, subject up to 3 digits, detail up to 3 digits,
# not glued to other digits or dots (so IP addresses and version numbers do not match).
_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)")
# A reply code at the start of a reply line: "550 ", "550-", "550\t" or the code alone.
_REPLY_RE = re.compile(r"(?<!\d)([245]\d\d)(?:[ \t-]|$)")


def reply_meaning(code: int | str | None) -> str | None:
    """The meaning of an SMTP reply code, or of its class when the code itself is unregistered.

    >>> reply_meaning(421)
    'service not available, closing the connection'
    >>> reply_meaning("599")
    'permanent negative completion: do not retry as is'
    >>> reply_meaning("abc") is None
    True
    """
    try:
        n = int(code) if code is not None else -1
    except (TypeError, ValueError):
        return None
    if n in REPLY_MEANINGS:
        return REPLY_MEANINGS[n]
    if 200 <= n <= 599:
        return REPLY_CLASSES.get(n // 100)
    return None


def parse_enhanced(code: str | None) -> tuple[int, int, int] | None:
    """Split ``"5.7.26"`` into ``(5, 7, 26)``; ``None`` unless it is a well-formed code.

    >>> parse_enhanced("4.7.0")
    (4, 7, 0)
    >>> parse_enhanced("5.7") is None
    True
    """
    if not code:
        return None
    m = re.fullmatch(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\s*", code)
    if m is None:
        return None
    return int(m[1]), int(m[2]), int(m[3])


def enhanced_meaning(code: str | None) -> str | None:
    """The registered meaning of an enhanced status code (class-independent), else its subject's.

    >>> enhanced_meaning("4.2.2")
    'mailbox full'
    >>> enhanced_meaning("5.7.999")
    'security or policy status'
    >>> enhanced_meaning("nonsense") is None
    True
    """
    parts = parse_enhanced(code)
    if parts is None:
        return None
    _, subject, detail = parts
    return ENHANCED_MEANINGS.get(f"{subject}.{detail}", ENHANCED_SUBJECTS.get(subject))


def find_enhanced(text: str | None) -> str | None:
    """The first enhanced status code written in ``text`` (``None`` if there is none).

    IP addresses and dotted version numbers are not mistaken for codes.

    >>> find_enhanced("host 192.0.2.5 said: 452 4.2.2 Mailbox full")
    '4.2.2'
    >>> find_enhanced("Postfix 3.5.1 on 192.0.2.5") is None
    True
    """
    if not text:
        return None
    m = _ENHANCED_RE.search(text)
    return f"{m[1]}.{m[2]}.{m[3]}" if m else None


def find_reply_code(text: str | None) -> int | None:
    """The first SMTP reply code (2xx/4xx/5xx) that starts a word in ``text``.

    >>> find_reply_code("said: 550-5.1.1 no such user")
    550
    >>> find_reply_code("queued as 12345") is None
    True
    """
    if not text:
        return None
    m = _REPLY_RE.search(text)
    return int(m[1]) if m else None


def class_digit(reply_code: int | None, enhanced: str | None) -> int | None:
    """The failure class: 4 (transient) or 5 (permanent), from the reply code or the enhanced code.

    >>> class_digit(421, None), class_digit(None, "5.1.1"), class_digit(250, None)
    (4, 5, None)
    """
    if reply_code is not None and reply_code // 100 in (4, 5):
        return reply_code // 100
    parts = parse_enhanced(enhanced)
    if parts is not None and parts[0] in (4, 5):
        return parts[0]
    return None
