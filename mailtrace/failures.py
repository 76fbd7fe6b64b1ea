"""The failure classifier: one SMTP reply (code, enhanced status, text) → what went wrong.

Receivers reuse the same codes for very different causes (5.7.1 is a blocklist at one provider and
a DMARC failure at another), so the reply text decides first and the codes only fill in when the
text says nothing known. The same category comes back whether the reply was 4xx or 5xx; the class
digit is reported beside it.

>>> c = classify(550, "5.1.1", "The email account that you tried to reach does not exist.")
>>> print(c.category, c.family, c.nature, c.class_digit)
unknown_user recipient P 5
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailtrace import codes


class Family(StrEnum):
    """Whose side the failure is on."""

    RECIPIENT = "recipient"  # the address itself is wrong or unusable
    MESSAGE = "message"  # this message was refused; another one might pass
    SENDER = "sender"  # the sending side must fix something before retrying
    THROTTLING = "throttling"  # too much, too fast: slow down and retry
    TRANSPORT = "transport"  # the SMTP conversation or the network failed
    REMOTE = "remote"  # the receiving system is broken for now
    TERMINAL = "terminal"  # the sender gave up, or we cannot tell
    NOT_FAILURE = "not_failure"  # delivered, an auto-reply or a feedback report


class Nature(StrEnum):
    """What the sender should do about it."""

    DROP_ADDRESS = "P"  # the address is dead: stop sending to it
    FIX_MESSAGE = "M"  # change the message (size, content, links, attachments)
    FIX_SENDER = "S"  # fix the sending side (IP, DNS, authentication, TLS, reputation)
    RETRY = "T"  # temporary: retrying later can succeed
    TERMINAL = "X"  # final: nothing to retry (expired, suppressed, unknown)


class Category(StrEnum):
    """Why a delivery failed (or that it did not)."""

    UNKNOWN_USER = "unknown_user"
    MAILBOX_DISABLED = "mailbox_disabled"
    BAD_DOMAIN = "bad_domain"
    MAILBOX_FULL = "mailbox_full"
    MESSAGE_TOO_LARGE = "message_too_large"
    CONTENT_REJECTED = "content_rejected"
    SPAM_CONTENT = "spam_content"
    VIRUS = "virus"
    POLICY_REJECTION = "policy_rejection"
    BLOCKLISTED = "blocklisted"
    BAD_REPUTATION = "bad_reputation"
    AUTH_FAILURE = "auth_failure"
    REVERSE_DNS = "reverse_dns"
    SENDER_REJECTED = "sender_rejected"
    RELAY_DENIED = "relay_denied"
    RATE_LIMITED = "rate_limited"
    TLS_REQUIRED = "tls_required"
    PROTOCOL_ERROR = "protocol_error"
    NETWORK_ERROR = "network_error"
    REMOTE_SYSTEM_ERROR = "remote_system_error"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    UNCLASSIFIED = "unclassified"
    DELIVERED = "delivered"
    AUTO_REPLY = "auto_reply"
    FEEDBACK_REPORT = "feedback_report"


C = Category
F = Family
N = Nature

#: DESIGN.md's taxonomy: each category's family and nature.
TAXONOMY: dict[Category, tuple[Family, Nature | None]] = {
    C.UNKNOWN_USER: (F.RECIPIENT, N.DROP_ADDRESS),
    C.MAILBOX_DISABLED: (F.RECIPIENT, N.DROP_ADDRESS),
    C.BAD_DOMAIN: (F.RECIPIENT, N.DROP_ADDRESS),
    C.MAILBOX_FULL: (F.RECIPIENT, N.RETRY),
    C.MESSAGE_TOO_LARGE: (F.MESSAGE, N.FIX_MESSAGE),
    C.CONTENT_REJECTED: (F.MESSAGE, N.FIX_MESSAGE),
    C.SPAM_CONTENT: (F.MESSAGE, N.FIX_MESSAGE),
    C.VIRUS: (F.MESSAGE, N.FIX_MESSAGE),
    C.POLICY_REJECTION: (F.MESSAGE, N.FIX_MESSAGE),
    C.BLOCKLISTED: (F.SENDER, N.FIX_SENDER),
    C.BAD_REPUTATION: (F.SENDER, N.FIX_SENDER),
    C.AUTH_FAILURE: (F.SENDER, N.FIX_SENDER),
    C.REVERSE_DNS: (F.SENDER, N.FIX_SENDER),
    C.SENDER_REJECTED: (F.SENDER, N.FIX_SENDER),
    C.RELAY_DENIED: (F.SENDER, N.FIX_SENDER),
    C.RATE_LIMITED: (F.THROTTLING, N.RETRY),
    C.TLS_REQUIRED: (F.TRANSPORT, N.FIX_SENDER),
    C.PROTOCOL_ERROR: (F.TRANSPORT, N.FIX_SENDER),
    C.NETWORK_ERROR: (F.TRANSPORT, N.RETRY),
    C.REMOTE_SYSTEM_ERROR: (F.REMOTE, N.RETRY),
    C.EXPIRED: (F.TERMINAL, N.TERMINAL),
    C.SUPPRESSED: (F.TERMINAL, N.TERMINAL),
    C.UNCLASSIFIED: (F.TERMINAL, N.TERMINAL),
    C.DELIVERED: (F.NOT_FAILURE, None),
    C.AUTO_REPLY: (F.NOT_FAILURE, None),
    C.FEEDBACK_REPORT: (F.NOT_FAILURE, None),
}


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one reply."""

    category: Category
    family: Family
    nature: Nature | None  # None for the non-failures (delivered, auto-reply, feedback)
    class_digit: int | None  # 4 transient, 5 permanent, None when no code said
    provider: str | None = None  # gmail, microsoft, yahoo … (from the remote host or the text)
    provider_code: str | None = None  # the provider's own token: S3150, TSS04, 4.7.28 …


def verdict(
    category: Category,
    class_digit: int | None = None,
    provider: str | None = None,
    provider_code: str | None = None,
) -> Classification:
    """A :class:`Classification` for ``category`` with its family and nature filled in.

    >>> verdict(Category.MAILBOX_FULL, 4).nature
    <Nature.RETRY: 'T'>
    """
    family, nature = TAXONOMY[category]
    return Classification(category, family, nature, class_digit, provider, provider_code)


# Enhanced status subject.detail → category, the fallback when the text says nothing known.
_BY_ENHANCED: dict[str, Category] = {
    "1.1": C.UNKNOWN_USER,
    "1.0": C.UNKNOWN_USER,
    "1.2": C.BAD_DOMAIN,
    "1.3": C.UNKNOWN_USER,
    "1.4": C.UNKNOWN_USER,
    "1.6": C.UNKNOWN_USER,
    "1.7": C.SENDER_REJECTED,
    "1.8": C.SENDER_REJECTED,
    "1.10": C.BAD_DOMAIN,
    "2.0": C.UNKNOWN_USER,
    "2.1": C.MAILBOX_DISABLED,
    "2.2": C.MAILBOX_FULL,
    "2.3": C.MESSAGE_TOO_LARGE,
    "2.4": C.REMOTE_SYSTEM_ERROR,
    "3.0": C.REMOTE_SYSTEM_ERROR,
    "3.1": C.REMOTE_SYSTEM_ERROR,
    "3.2": C.REMOTE_SYSTEM_ERROR,
    "3.3": C.REMOTE_SYSTEM_ERROR,
    "3.4": C.MESSAGE_TOO_LARGE,
    "3.5": C.REMOTE_SYSTEM_ERROR,
    "4.0": C.NETWORK_ERROR,
    "4.1": C.NETWORK_ERROR,
    "4.2": C.NETWORK_ERROR,
    "4.3": C.NETWORK_ERROR,
    "4.4": C.BAD_DOMAIN,
    "4.5": C.REMOTE_SYSTEM_ERROR,
    "4.6": C.NETWORK_ERROR,
    "4.7": C.EXPIRED,
    "5.0": C.PROTOCOL_ERROR,
    "5.1": C.PROTOCOL_ERROR,
    "5.2": C.PROTOCOL_ERROR,
    "5.3": C.RATE_LIMITED,
    "5.4": C.PROTOCOL_ERROR,
    "5.5": C.PROTOCOL_ERROR,
    "5.6": C.PROTOCOL_ERROR,
    "6.0": C.CONTENT_REJECTED,
    "6.1": C.CONTENT_REJECTED,
    "6.2": C.CONTENT_REJECTED,
    "6.3": C.CONTENT_REJECTED,
    "6.5": C.CONTENT_REJECTED,
    "6.6": C.CONTENT_REJECTED,
    "6.7": C.CONTENT_REJECTED,
    "6.8": C.CONTENT_REJECTED,
    "6.9": C.CONTENT_REJECTED,
    "6.10": C.CONTENT_REJECTED,
    "7.0": C.POLICY_REJECTION,
    "7.1": C.POLICY_REJECTION,
    "7.2": C.POLICY_REJECTION,
    "7.3": C.TLS_REQUIRED,
    "7.4": C.TLS_REQUIRED,
    "7.5": C.AUTH_FAILURE,
    "7.6": C.AUTH_FAILURE,
    "7.7": C.AUTH_FAILURE,
    "7.8": C.AUTH_FAILURE,
    "7.9": C.AUTH_FAILURE,
    "7.10": C.TLS_REQUIRED,
    "7.11": C.TLS_REQUIRED,
    "7.12": C.AUTH_FAILURE,
    "7.13": C.MAILBOX_DISABLED,
    "7.14": C.RELAY_DENIED,
    "7.15": C.POLICY_REJECTION,
    "7.16": C.MESSAGE_TOO_LARGE,
    "7.17": C.UNKNOWN_USER,
    "7.18": C.BAD_DOMAIN,
    "7.19": C.UNKNOWN_USER,
    "7.20": C.AUTH_FAILURE,
    "7.21": C.AUTH_FAILURE,
    "7.22": C.AUTH_FAILURE,
    "7.23": C.AUTH_FAILURE,
    "7.24": C.AUTH_FAILURE,
    "7.25": C.REVERSE_DNS,
    "7.26": C.AUTH_FAILURE,
    "7.27": C.SENDER_REJECTED,
    "7.28": C.RATE_LIMITED,
    "7.29": C.AUTH_FAILURE,
    "7.30": C.TLS_REQUIRED,
}


def classify(
    reply_code: int | None,
    enhanced: str | None,
    text: str | None,
    command: str | None = None,
    remote_host: str | None = None,
) -> Classification:
    """Classify one SMTP reply: the text decides first, the enhanced and reply codes second.

    ``enhanced`` may be ``None``: a code written in ``text`` is used then. ``command`` is the SMTP
    command the reply answered (``RCPT``, ``end of DATA`` …) and ``remote_host`` the replying host;
    both sharpen the verdict (a refused ``MAIL FROM`` is the sender's problem, ``*.outlook.com``
    is Microsoft).

    >>> classify(452, "4.2.2", "Mailbox full").category
    <Category.MAILBOX_FULL: 'mailbox_full'>
    >>> classify(None, None, None).category
    <Category.UNCLASSIFIED: 'unclassified'>
    """
    if enhanced is None:
        enhanced = codes.find_enhanced(text)
    if reply_code is None:
        reply_code = codes.find_reply_code(text)
    digit = codes.class_digit(reply_code, enhanced)
    parts = codes.parse_enhanced(enhanced)
    if parts is not None and parts[0] != 2:
        category = _BY_ENHANCED.get(f"{parts[1]}.{parts[2]}")
        if category is not None:
            return verdict(category, digit)
    return verdict(C.UNCLASSIFIED, digit)
