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

import functools
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mailtrace import codes
from mailtrace.errors import InputError
from mailtrace.lazy_module import lazy_pattern
from mailtrace.schema import FAILURES

if TYPE_CHECKING:
    from mailtrace.bounces import BouncedRecipient
    from mailtrace.sources import Source


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


# Plain reply code → category, the last resort when neither text nor enhanced code said anything.
_BY_REPLY: dict[int, Category] = {
    421: C.REMOTE_SYSTEM_ERROR,
    450: C.MAILBOX_FULL,
    451: C.REMOTE_SYSTEM_ERROR,
    452: C.MAILBOX_FULL,
    500: C.PROTOCOL_ERROR,
    501: C.PROTOCOL_ERROR,
    502: C.PROTOCOL_ERROR,
    503: C.PROTOCOL_ERROR,
    504: C.PROTOCOL_ERROR,
    521: C.BAD_DOMAIN,
    530: C.AUTH_FAILURE,
    535: C.AUTH_FAILURE,
    550: C.UNKNOWN_USER,
    551: C.UNKNOWN_USER,
    552: C.MAILBOX_FULL,
    553: C.UNKNOWN_USER,
    554: C.POLICY_REJECTION,
    556: C.BAD_DOMAIN,
}


@dataclass(frozen=True)
class _Wording:
    """One text rule: ``pattern``, all its alternatives as one case-insensitive Python pattern,
    for one text at a time (:func:`match_text`); and for many texts at once
    (:func:`match_texts`) ``re2``, the alternatives RE2 (Arrow's regex engine) reads as Python
    does, as one pattern source, and ``rest``, those with lookarounds, which RE2 lacks."""

    pattern: re.Pattern[str]
    re2: str | None
    rest: re.Pattern[str] | None


# Lookarounds ((?=, (?!, (?<=, (?<!): Python's re has them, RE2 does not.
_LOOKAROUND = re.compile(r"\(\?<?[=!]")


def _alternation(alternatives: Iterable[str]) -> str:
    return "|".join(f"(?:{a})" for a in alternatives)


def _rx(*alternatives: str) -> _Wording:
    """One rule's wording from plain alternatives (each linear on its own).

    Its Python patterns are compiled at their first use (all of them: 0.04 s): many texts are
    read by RE2 instead (:func:`match_texts`), which a report does with every reply it groups.
    """
    plain = [a for a in alternatives if not _LOOKAROUND.search(a)]
    rest = [a for a in alternatives if _LOOKAROUND.search(a)]
    return _Wording(
        lazy_pattern(_alternation(alternatives), re.IGNORECASE),
        _alternation(plain) or None,
        lazy_pattern(_alternation(rest), re.IGNORECASE) if rest else None,
    )


# Ordered text rules: the first that matches decides. Specific wordings (a provider's token, a
# named blocklist) come before generic ones ("policy", "rejected"), and the categories whose
# words hide inside others' ("mailbox size limit" is a full mailbox, not a large message) come
# first. Every pattern is a flat alternation with bounded gaps: linear on hostile text.
_RULES: tuple[tuple[Category, _Wording], ...] = (
    # Words that would otherwise be read as another category's ("Duplicate header
    # 'DKIM-Signature'" is about the headers, "procmail: No such user" is a local mailer).
    (
        C.CONTENT_REJECTED,
        _rx(
            r"duplicate header",
            r"headers? (?:are |is )?too (?:large|long|many)",
            r"too many headers",
            r"multiple (?:\w{1,12} ){0,2}addresses in (?:the )?From",
            r"(?:missing|no|without) (?:\w{1,12} ){0,3}(?:From|Date|Message-ID):? header",
        ),
    ),
    (
        C.REMOTE_SYSTEM_ERROR,
        _rx(
            r"procmail:",
            r"maildrop:",
            r"pipe to \|",
            r"mailer error",
            r"operating system error",
            r"\bLDAP\b",
            r"directory (?:server|lookup) (?:failure|error|unavailable)",
        ),
    ),
    (C.POLICY_REJECTION, _rx(r"RESOLVER\.RST\.(?!\w{0,20}SizeLimit)")),
    # Microsoft 365 directory-based edge blocking: the address is not in the tenant's directory.
    (C.UNKNOWN_USER, _rx(r"AS\(201806281\)")),
    # Orange's own codes (postmaster.orange.fr), behind words as bare as "Mail rejected":
    # OFR_506/536 suspected spam, 104/109 too many connections or messages per connection,
    # 107 no PTR, 397/398 SPF, 515 DMARC, 535 no DKIM signature, 988-990 reputation.
    (C.SPAM_CONTENT, _rx(r"\bOFR\d{0,3}_5[03]6\b")),
    (C.RATE_LIMITED, _rx(r"\bOFR\d{0,3}_10[49]\b")),
    (C.REVERSE_DNS, _rx(r"\bOFR\d{0,3}_107\b")),
    (C.AUTH_FAILURE, _rx(r"\bOFR\d{0,3}_(?:39[78]|515|535)\b")),
    (C.BAD_REPUTATION, _rx(r"\bOFR\d{0,3}_9(?:8[89]|90)\b")),
    # A listed link inside the message is about the content, not the sending IP.
    (
        C.SPAM_CONTENT,
        _rx(r"(?:black|block)listed (?:URL|link|domain in)", r"\bURIBL\b", r"\bSURBL\b"),
    ),
    (C.REVERSE_DNS, _rx(r"\bPTR\b", r"mismatch(?:es)? (?:the )?client ip")),
    (
        C.BAD_DOMAIN,
        _rx(
            r"null MX",
            r"(?:does not|doesn't|do not|don't) (?:receive|accept) (?:any )?(?:e-?)?mail",
            r"(?:MX|SRV) records? indicated no SMTP service",
        ),
    ),
    # A resolver failure reported as such (Gmail's "DNS Error: ... lookup of x responded with
    # code NXDOMAIN") is a lookup that may work later, whatever the code it names.
    (
        C.NETWORK_ERROR,
        _rx(
            r"DNS Error:",
            r"lookup of \S{1,255} responded with",
            r"host not found, try again",
            r"network error",
            r"too many hops|hop count exceeded",
            r"requests to connect",
            r"socket error",
            r"(?:host ?name|name server) lookup failure",
        ),
    ),
    (
        C.SUPPRESSED,
        _rx(
            r"suppression list",
            r"(?:has|have|was|been) suppressed",
            r"suppressed (?:recipient|address|sending)",
            r"previously (?:bounced|hard[- ]bounced|complained)",
            r"do[- ]not[- ](?:send|mail) list",
        ),
    ),
    (
        C.EXPIRED,
        _rx(
            r"retry (?:time(?:out)?|period) (?:\w{1,12} ){0,2}(?:exceeded|expired|reached)",
            r"message (?:has )?expired",
            r"delivery time expired",
            r"(?:was|been|were) in the queue too long",
            r"too long in (?:the )?queue",
            r"could not be delivered (?:with)?in (?:the )?(?:last )?\d{1,4} (?:hours?|days?)",
            r"has not been delivered (?:\w{1,15} ){0,6}(?:for|in|after) \d{1,4} (?:hours?|days?)",
            r"(?:no longer|stopped|will not) (?:be )?retry",
            r"gave up (?:on|after)",
            r"could not deliver for (?:the last )?\d{1,9} (?:seconds|minutes|hours|days)",
            r"envelope expired",
            r"delivery failed (?:after )?\d{1,4} attempts",
            r"(?:still )?(?:undelivered|undeliverable|not delivered) (?:after|for) \d{1,4} "
            r"(?:hours?|days?)",
            r"aborted after \d",
            r"could not be delivered for \d{1,4} (?:hours?|days?)",
            r"cannot send (?:this |the )?message for \d{1,4} (?:hours?|days?)",
            r"unable to deliver (?:this|the) message after \d",
            r"expired after \d",
            r"maximum (?:queue|delivery|retry) (?:time|lifetime|attempts)",
            r"delivery attempts? (?:will )?(?:stop|have failed for|exhausted)",
            r"unable to deliver (?:\w{1,15} ){0,6}for \d{1,4} (?:hours?|days?)",
            r"Message expired",
        ),
    ),
    (
        C.VIRUS,
        _rx(
            r"\bvirus",
            r"malware",
            r"\binfected\b",
            r"trojan",
            r"\bworm\b",
            r"malicious (?:code|software|payload)",
        ),
    ),
    (
        C.TLS_REQUIRED,
        _rx(
            r"must issue a STARTTLS",
            r"(?:STARTTLS|TLS|SSL|encryption|encrypted connection|secure connection) "
            r"(?:is |are )?(?:required|needed|mandatory)",
            r"requires? (?:a )?(?:TLS|STARTTLS|encryption|secure connection|encrypted)",
            r"(?:STARTTLS|TLS) (?:negotiation|handshake|session) (?:failed|error)",
            r"(?:STARTTLS|TLS) (?:failed|failure)",
            r"(?:STARTTLS|TLS) (?:is )?not (?:available|offered|supported)",
            r"REQUIRETLS",
            r"cannot (?:\w{1,10} ){0,2}TLS",
        ),
    ),
    (
        C.RELAY_DENIED,
        _rx(
            r"relay(?:ing)? (?:access )?(?:is )?"
            r"(?:denied|not permitted|not allowed|prohibited|refused)",
            r"(?:not|n't) (?:permitted|allowed|authori[sz]ed) to relay",
            r"(?:do|does|will) not relay",
            r"unable to relay",
            r"no relaying",
            r"relay not permitted",
            r"insecure mail relay",
            r"is not a gateway",
            r"TenantAttribution",
            r"not (?:a )?(?:local|valid) (?:domain|host) (?:and|or) relay",
        ),
    ),
    (
        C.BLOCKLISTED,
        _rx(
            r"spamhaus|spamcop|\bsorbs\b|abuseat|barracudacentral|uceprotect|\bpsbl\b|mailspike",
            r"block ?list|black ?list|deny ?list|\bDNSBL\b|\bRBL\b|\bDNS ?BL\b",
            r"(?<!not )(?:listed|blocked) (?:in|on|at|by|using) ",
            r"refused to talk to me",
            r"blocked using",
            r"on our block",
            r"\(S3\d{3}\)",
            r"banned sending IP",
            r"\bBL0000\d\d",
            r"\[?TS0[39]\]?|\[?TSS0[5-9]\]?|\[?TSS1\d\]?",
            r"(?:your|the|sending|client|connecting) (?:IP|host|server|network)(?: address)? "
            r"(?:\[?[\w.:]{1,64}\]? )?(?:is|has been|was) (?:\w{1,12} ){0,2}"
            r"(?:blocked|banned|listed|rejected|denied|refused)",
            r"(?:access|connection|mail) (?:from|to) (?:your )?(?:IP|host|network)"
            r"(?: address)? (?:\[?[\w.:]{1,64}\]? )?(?:is |has been )?"
            r"(?:blocked|denied|refused|rejected)",
            r"\bIP\b (?:\w{1,16} ){0,3}(?:is |was |has been )?(?:blocked|banned|block ?listed)",
            r"blocked (?:by|for) (?:spam|abuse)",
            r"Comcast block",
            r"(?:mail|messages?|traffic) (?:from|not accepted from) (?:this|your) IP",
            r"client host \[?[\w.:]{1,64}\]? blocked",
            r"blocked - see",
            r"use (?:the )?smtp server of your",
            r"dynamic (?:ip|address|pool)|dial-?up",
            r"\bblocked\b(?=.{0,40}(?:ipcheck|proofpoint|dnsbl|lookup))",
        ),
    ),
    (
        C.BAD_REPUTATION,
        _rx(
            r"reputation",
            r"senderbase",
            r"sender ?score",
            r"due to (?:excessive )?(?:user )?complaints",
            r"\[?TSS?0[14]\]?",
            r"\bRP-00\d",
            r"low (?:sender )?(?:trust|score)",
        ),
    ),
    (
        C.AUTH_FAILURE,
        _rx(
            r"\bSPF\b",
            r"\bDKIM\b",
            r"\bDMARC\b",
            r"sender policy framework",
            r"unauthenticated",
            r"(?:not|n't) (?:pass|passing) (?:\w{1,16} ){0,3}authentication",
            r"authentication (?:checks? )?(?:failed|failure|required|error)",
            r"(?:does not|doesn't|did not) designate",
            r"not (?:an )?(?:permitted|authori[sz]ed) sender",
            r"anti-?spoof",
            r"spoof(?:ed|ing)",
            r"(?:sender|client) (?:is |was )?not authenticated",
            r"authentication credentials invalid",
            r"\bARC\b (?:validation|check)",
            r"ARC (?:validation|check)",
            r"must (?:be )?authenticate",
            r"authentication information",
            r"fails? to pass (?:\w{1,16} ){0,3}(?:authentication|checks?)",
        ),
    ),
    (
        C.REVERSE_DNS,
        _rx(
            r"reverse (?:DNS|lookup|dns lookup|hostname|name)",
            r"\bPTR\b",
            r"\brDNS\b",
            r"FCrDNS",
            r"cannot find your (?:reverse )?hostname",
            r"(?:IP|host) name lookup failed",
            r"(?:hostname|host name|IP address) (?:\S{1,64} )?(?:does not|doesn't|did not) "
            r"(?:resolve|match)",
            r"(?:not|n't|cannot|could not|unable to) (?:be )?resolve[d]? (?:your|the|client) "
            r"(?:IP|address|hostname|host)",
            r"(?:unresolvable|unknown) (?:client )?(?:hostname|host name|rdns)",
            r"no (?:valid )?(?:reverse|PTR) (?:record|DNS)",
        ),
    ),
    (
        C.SENDER_REJECTED,
        _rx(
            r"sender (?:\w{1,12} ){0,2}(?:rejected|denied|refused|blocked|invalid|unknown|"
            r"not allowed|verify failed|not permitted)",
            r"(?:invalid|unknown|bad|unverified|forged|rejected) (?:envelope )?sender",
            r"sender (?:address|domain) (?:\S{1,64} )?(?:does not|doesn't|must) (?:exist|resolve)",
            r"(?:from|sender|return) address (?:\w{1,12} ){0,2}(?:rejected|not allowed|invalid|"
            r"refused)",
            r"sender verification",
            r"(?:domain|address) of sender",
            r"purported responsible",
            r"(?:not )?(?:have )?permission to post",
            r"MAIL FROM (?:\w{1,12} ){0,2}(?:rejected|refused|denied)",
            r"envelope (?:sender|from)",
            r"envelope blocked",
            r"outbound sender",
            r"SendAsDenied|not allowed to send as",
        ),
    ),
    (
        C.MAILBOX_FULL,
        _rx(
            r"mail ?box (?:is |was )?(?:\w{1,12} )?(?:full|over ?quota|overquota)",
            r"mail ?box size limit",
            r"over ?quota",
            r"quota (?:exceeded|violation|full)",
            r"exceeded (?:\w{1,12} ){0,2}(?:storage|quota|mailbox)",
            r"(?:storage|disk) (?:quota|space) (?:\w{1,12} ){0,2}(?:exceeded|full)",
            r"out of (?:storage|disk) space",
            r"(?:account|inbox|mail ?folder|mailbox|user) (?:is |has )?(?:full|over)",
            r"(?:insufficient|not enough) (?:storage|space) (?:for|in) (?:the )?"
            r"(?:user|mailbox|recipient)",
            r"would exceed (?:the )?(?:\w{1,12} ){0,2}(?:quota|mailbox|storage)",
            r"too many messages (?:in|for) (?:the|this)? ?(?:mail ?box|user|account)",
            r"QuotaExceeded",
            r"mailbox has exceeded",
            r"mail ?box exceeds",
            r"(?:exceeds?|exceeded) (?:its|the|their|his|her) (?:storage|quota)",
            r"mail ?box (?:is )?(?:currently )?unavailable (?:due to|because of) (?:size|quota)",
            r"recipient'?s? (?:inbox|mailbox) is (?:out of|full)",
            r"\bfull mailbox",
        ),
    ),
    (
        C.MESSAGE_TOO_LARGE,
        _rx(
            r"(?:message|mail|email|file|size|attachment)s? (?:\w{1,12} ){0,3}too (?:large|big)",
            r"too (?:large|big) for",
            r"(?:message|mail|email)(?: size| length)? (?:\w{1,12} ){0,2}exceeds?",
            r"exceeds? (?:the )?(?:\w{1,16} ){0,2}(?:message )?size limit",
            r"(?:maximum|max|fixed) (?:allowed )?(?:message )?(?:size|length)",
            r"size limit",
            r"MessageSizeExceeded|RecipSizeLimit|SizeLimit",
            r"message size (?:limit|exceeded)",
            r"exceeded (?:\w{1,16} ){0,2}message size",
            r"length exceeds",
            r"too many (?:bytes|octets)",
        ),
    ),
    (
        C.MAILBOX_DISABLED,
        _rx(
            r"(?:mail ?box|account|user|address|recipient) (?:\S{1,64} )?(?:is |has been |was )?"
            r"(?:currently |temporarily |permanently )?"
            r"(?:disabled|suspended|deactivated|inactive|locked|frozen|closed|expired|terminated|"
            r"discontinued|blocked|on hold|not active|no longer active|de-?activated)",
            r"inactive (?:user|account|mail ?box|email address|address|recipient)",
            r"(?:is|was|has been) (?:currently )?(?:inactive|disabled|suspended|deactivated)",
            r"(?:disabled|suspended|deactivated|locked|closed|expired) "
            r"(?:mail ?box|account|user|recipient)",
            r"user (?:account )?(?:is )?(?:suspended|disabled)",
            r"not (?:accepting|receiving) (?:any )?(?:mail|messages|e-?mail)",
            r"no longer (?:accepting|receiving|available)",
        ),
    ),
    (
        C.BAD_DOMAIN,
        _rx(
            r"host (?:or domain name )?(?:not found|unknown)",
            r"host \S{1,255} not found",
            r"unknown host",
            r"host not found",
            r"(?:no such|unknown|invalid|non-?existent|unrouteable|unroutable) domain",
            r"domain (?:\S{1,64} )?(?:does not|doesn't) exist",
            r"domain (?:name )?(?:not found|is not (?:found|valid)|unknown|invalid)",
            r"name (?:service|server) error",
            r"(?:no|null) MX",
            r"\bMX (?:record|host|lookup) (?:\w{1,12} ){0,3}(?:not|no|failed|error|invalid)",
            r"(?:does not|doesn't|do not|don't) accept (?:any )?(?:e-?)?mail",
            r"no (?:DNS|MX|A) records?",
            r"all relevant MX records",
            r"unrouteable mail domain",
            r"NXDOMAIN",
            r"could not be resolved|no such host|non-existent hosts?",
            r"domain (?:is )?not (?:hosted|served|configured|served by)",
            r"not (?:a )?(?:valid|known|local) domain",
            r"(?:bad|unknown|invalid) destination (?:system|host|domain)",
            r"no SMTP service here",
            r"domain is not reachable",
            r"unrouteable address",
            r"(?<![@\w.-])(?:[\w-]{1,63}\.){1,8}[a-z]{2,24} (?:does not|doesn't) exist",
        ),
    ),
    (
        C.UNKNOWN_USER,
        _rx(
            r"user (?:\S{1,64} )?unknown",
            r"unknown (?:user|recipient|local[- ]part|address|mailbox|account)",
            r"no such (?:user|mail ?box|recipient|account|address|person|local user)",
            r"(?:user|recipient|mail ?box|account|address|addressee|e-?mail address) "
            r"(?:\S{1,64} )?(?:was |is )?(?:not found|unknown|not exist|does not exist|"
            r"doesn't exist|did not exist|not valid|invalid|not recogni[sz]ed|"
            r"not listed|not known|unavailable|nonexistent)",
            r"(?:does not|doesn't|do not|don't) (?:have|own) (?:a |an )?(?:\S{1,40} )?account",
            r"(?:invalid|unknown|bad|non-?existent|not a valid) (?:recipient|mail ?box|"
            r"address|user|e-?mail)",
            r"(?:does not|doesn't|did not|no longer) (?:exist|exists)",
            r"not (?:a )?(?:valid|known) (?:user|recipient|mail ?box|address)",
            r"(?:is|was) not a (?:valid|known) (?:user|recipient|mail ?box|address)",
            r"RecipNotFound|RecipientNotFound|Unknown Recipient",
            r"no mail ?box (?:here|by that name|found)",
            r"not our customer",
            r"(?:has|have) (?:moved|left)",
            r"no longer (?:with|employed|works|at|valid)",
            r"addressee unknown",
            r"recipient not found",
            r"mail ?box not found|mail ?box unavailable|mailbox is unavailable",
            r"not (?:listed|found) in (?:\S{1,40} ){0,3}(?:directory|address|user)",
            r"undeliverable address",
            r"no valid recipients",
        ),
    ),
    (
        C.RATE_LIMITED,
        _rx(
            r"rate[- ]?limit",
            r"frequency (?:limit|limited)",
            r"too many (?:\w{1,12} ){0,2}(?:connections?|messages|mails?|recipients|sessions|"
            r"requests|errors|concurrent)",
            r"too (?:fast|frequently|much mail)",
            r"throttl",
            r"(?:sending|receiving|message|connection|daily|hourly) (?:\w{1,12} )?"
            r"(?:quota|limit|rate) (?:\w{1,12} )?(?:exceeded|reached)",
            r"exceeded (?:\w{1,12} ){0,2}(?:rate|sending|connection|message) limit",
            r"(?:receiving|sending) (?:mail )?at a rate",
            r"unusual rate",
            r"(?:excessive|unexpected|high) (?:\w{1,12} )?volume",
            r"(?:server|system|service) (?:is )?(?:too )?busy",
            r"slow down",
            r"\bRL0000\d\d",
            r"deferred due to",
            r"try (?:again|later)(?: later)?[.,;]? (?:\w{1,12} ){0,3}(?:closing|too many)",
            r"(?:temporarily )?deferred[ .]",
            r"greylist|graylist",
        ),
    ),
    (
        C.SPAM_CONTENT,
        _rx(
            r"\bspam",
            r"unsolicited",
            r"junk (?:mail|e-?mail)",
            r"bulk (?:mail|e-?mail)",
            r"\bUCE\b",
            r"looks? (?:like|suspicious)",
            r"suspicious",
            r"(?:content|message) (?:was )?(?:classified|identified|detected|flagged) as",
            r"phishing",
            r"\[P\d\] message blocked",
            r"score of [\d.]{1,8}",
        ),
    ),
    (
        C.CONTENT_REJECTED,
        _rx(
            r"RFC ?(?:5322|2822|822|2045|5321)(?!;)",  # not the DSN's "rfc822;" address type
            r"(?:not|non)[- ](?:RFC|standards?)[- ]compliant",
            r"(?:message|mail) (?:header|body|content)s? (?:\w{1,12} ){0,3}"
            r"(?:invalid|rejected|malformed|not allowed|refused|contains)",
            r"(?:invalid|malformed|missing|duplicate|bad|broken) (?:\w{1,12} )?"
            r"(?:header|headers|MIME|message-id|date|from)",
            r"header (?:is |too )?(?:missing|invalid|too long|syntax|line)",
            r"bare (?:LF|CR|newlines?)",
            r"(?:line|header) (?:length|too long) ",
            r"content (?:rejected|refused|not accepted)",
            r"improperly formatted",
            r"(?:8-?bit|binary|encoding|character set|charset) (?:\w{1,12} ){0,2}"
            r"(?:not (?:supported|allowed)|invalid|rejected)",
            r"message (?:contains|has) (?:an? )?(?:invalid|forbidden|prohibited|banned)",
            r"content (?:filter|check|scan)",
            r"filtered",
        ),
    ),
    (
        C.POLICY_REJECTION,
        _rx(
            r"polic(?:y|ies)",
            r"not (?:authori[sz]ed|permitted|allowed) (?:\w{1,12} ){0,3}(?:to|for|by)",
            r"prohibited",
            r"\[(?:CS|HM)\d\d\]",
            r"(?:rejected|refused|blocked|denied) (?:by|due to) (?:the )?(?:recipient|"
            r"administrator|local|security|content|filter|rule|organi[sz]ation)",
            r"restricted|restriction",
            r"attachment",
            r"executable|\.exe\b|file type",
            r"security (?:issue|reasons?|risk|threat)",
            r"administrative(?:ly)? prohibit",
            r"(?:message|mail|delivery) (?:was )?(?:\w{1,12} )?(?:rejected|refused|blocked|denied)",
            r"access denied|denied access",
            r"not accepted",
            r"delivery not authori[sz]ed",
            r"filter",
        ),
    ),
    (
        C.NETWORK_ERROR,
        _rx(
            r"connection (?:\w{1,12} ){0,2}(?:timed out|refused|reset|closed|lost|dropped|failed)",
            r"timed out|time-?out",
            r"no route to host",
            r"network (?:is )?unreachable",
            r"host (?:is )?unreachable",
            r"lost connection",
            r"(?:unable|failed) to connect",
            r"could not connect",
            r"(?:mail )?(?:loops?|looping) back to (?:myself|me)",
            r"mail loop|routing loop|loop detected",
            r"hop count exceeded|too many hops",
            r"temporary (?:DNS|lookup) (?:error|failure)",
            r"DNS (?:\w{1,12} ){0,2}(?:error|failure|timeout|problem)",
            r"broken pipe",
            r"SERVFAIL",
            r"unable to (?:route|resolve)",
        ),
    ),
    (
        C.REMOTE_SYSTEM_ERROR,
        _rx(
            r"system (?:error|failure|problem)",
            r"internal (?:server |system )?error",
            r"local error",
            r"temporary (?:local |server |system |internal |mail system )(?:problem|failure|error)",
            r"insufficient (?:system )?(?:storage|resources|disk)",
            r"(?:mail )?system (?:is )?full",
            r"disk (?:is )?full",
            r"(?:queue|file) (?:file )?write error",
            r"resources? (?:are )?(?:temporarily )?unavailable",
            r"configuration (?:error|problem)|misconfigur",
            r"service (?:is )?(?:currently |temporarily )?(?:not available|unavailable)",
            r"mailer (?:error|died)|unknown mailer",
            r"(?:program|command|pipe|process) (?:\S{1,40} ){0,3}(?:died|exited|failed|"
            r"terminated)",
            r"exit(?:ed)? (?:with )?(?:status|code) \d",
            r"X-Unix",
            r"pipe to \|",
            r"procmail|maildrop|dovecot-lda|deliver(?:ing)? to (?:a )?(?:pipe|program|file)",
            r"try again later",
            r"please try (?:again )?later",
            r"server error",
            r"out of memory",
            r"(?:not|unable to) (?:accept|process)",
        ),
    ),
    # Generic refusals of an address, read only when nothing more specific was said.
    (C.BLOCKLISTED, _rx(r"client host (?:\[?[\w.:-]{1,64}\]? )?rejected")),
    (
        C.UNKNOWN_USER,
        _rx(
            r"recipient (?:address )?rejected",
            r"could not be found",
            r"@[\w.-]{1,255}>?:? (?:was |is )?rejected\b",  # "542 <x@example.org> Rejected"
        ),
    ),
    (
        C.PROTOCOL_ERROR,
        _rx(
            r"syntax error",
            r"command (?:not )?(?:recogni[sz]ed|unrecogni[sz]ed|not implemented|unknown)",
            r"unrecogni[sz]ed command",
            r"bad sequence",
            r"out of sequence",
            r"(?:invalid|unknown|unsupported) (?:command|parameter|argument)",
            r"pipelining",
            r"protocol (?:error|violation)",
            r"line too long",
            r"need (?:MAIL|RCPT|HELO|EHLO)",
        ),
    ),
)

# Providers: a suffix of the replying host's name, or a token in the reply text.
_PROVIDER_HOSTS: tuple[tuple[str, str], ...] = (
    ("google.com", "gmail"),
    ("googlemail.com", "gmail"),
    ("gmail.com", "gmail"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("live.com", "microsoft"),
    ("msn.com", "microsoft"),
    ("microsoft.com", "microsoft"),
    ("office365.us", "microsoft"),
    ("aol.com", "aol"),
    ("yahoodns.net", "yahoo"),
    ("yahoo.com", "yahoo"),
    ("yahoo.net", "yahoo"),
    ("icloud.com", "apple"),
    ("me.com", "apple"),
    ("mac.com", "apple"),
    ("apple.com", "apple"),
    ("comcast.net", "comcast"),
    ("gmx.net", "gmx"),
    ("gmx.de", "gmx"),
    ("gmx.com", "gmx"),
    ("web.de", "gmx"),
    ("mail.ru", "mailru"),
    ("yandex.ru", "yandex"),
    ("yandex.net", "yandex"),
    ("zoho.com", "zoho"),
    ("zohomail.com", "zoho"),
    ("messagingengine.com", "fastmail"),
    ("fastmail.com", "fastmail"),
    ("protonmail.ch", "proton"),
    ("proton.me", "proton"),
    ("amazonses.com", "amazon_ses"),
    ("amazonaws.com", "amazon_ses"),
    ("mimecast.com", "mimecast"),
    ("mimecast.co.za", "mimecast"),
    ("pphosted.com", "proofpoint"),
    ("ppe-hosted.com", "proofpoint"),
    ("barracudanetworks.com", "barracuda"),
    ("iphmx.com", "cisco_ironport"),
    ("messagelabs.com", "broadcom_messagelabs"),
    ("qq.com", "tencent"),
    ("naver.com", "naver"),
    ("secureserver.net", "godaddy"),
    ("sendgrid.net", "sendgrid"),
    ("orange.fr", "orange"),
    ("wanadoo.fr", "orange"),
)
_PROVIDER_TEXT = _rx(
    r"(?P<gmail>support\.google\.com|gsmtp\b|\bGmail\b|Google tried)",
    r"(?P<microsoft>\(S3\d{3}\)|\bAS\(\d{3,12}\)|protection\.outlook\.com|outlook\.com|"
    r"Office ?365|Microsoft|hotmail|RESOLVER\.\w)",
    r"(?P<aol>\baol\.com|postmaster\.aol)",
    r"(?P<yahoo>yahoo(?:inc)?\.com|yahoodns|\[TSS?\d\d\]|\[PH\d\d\])",
    r"(?P<apple>icloud|support\.apple\.com|\[(?:CS|HM)\d\d\])",
    r"(?P<comcast>comcast)",
    r"(?P<orange>\bOFR\d{0,3}_\d{3}\b|orange\.fr|wanadoo\.fr)",
    r"(?P<gmx>\bgmx\b|web\.de|mxgmx)",
    r"(?P<mailru>mail\.ru)",
    r"(?P<yandex>yandex)",
    r"(?P<zoho>zoho)",
    r"(?P<mimecast>mimecast)",
    r"(?P<proofpoint>proofpoint|pphosted)",
    r"(?P<barracuda>barracuda)",
    r"(?P<cisco_ironport>ironport|senderbase)",
    r"(?P<amazon_ses>amazon ?ses|amazonses)",
).pattern
_PROVIDER_CODE = {
    "microsoft": re.compile(r"\((S\d{4})\)|\b(AS\(\d{3,12}\))|\b([45]\.\d\.\d{3})\b"),
    "yahoo": re.compile(r"\[?\b(TSS?\d\d|PH\d\d|IPTS\d\d|DM\d\d)\b"),
    "aol": re.compile(r"\[?\b(TSS?\d\d|PH\d\d|IPTS\d\d|DM\d\d)\b"),
    "apple": re.compile(r"\[((?:CS|HM)\d\d)\]"),
    "comcast": re.compile(r"\b((?:BL|RL)\d{6})\b"),
    "orange": re.compile(r"\b(OFR\d{0,3}_\d{3})\b", re.IGNORECASE),
    "proofpoint": re.compile(r"\b(PP\d{3})\b"),
    "cisco_ironport": re.compile(r"\[(P\d)\]"),
}

# Continuation prefixes of multi-line replies ("550-5.1.1 ") and repeated code pairs break
# phrases apart: remove them before matching the wording.
_CONTINUATION = re.compile(r"(?<!\S)[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}(?!\S))?")
_SPACES = re.compile(r"\s+")
_TEXT_LIMIT = 4000


def normalise_text(text: str | None) -> str:
    """Reply text with reply/enhanced code prefixes and runs of space removed, for matching.

    >>> normalise_text("550-5.1.1 The email account that you tried to reach does\\n"
    ...                "550-5.1.1 not exist.")
    'The email account that you tried to reach does not exist.'
    """
    if not text:
        return ""
    t = _CONTINUATION.sub(" ", text[:_TEXT_LIMIT])
    return _SPACES.sub(" ", t).strip()


@functools.lru_cache(maxsize=4096)  # logs and bounces repeat the same replies
def match_text(text: str | None) -> Category | None:
    """The category the wording of ``text`` names, or ``None`` when no rule matches.

    >>> match_text("452 4.2.2 The email account that you tried to reach is over quota.")
    <Category.MAILBOX_FULL: 'mailbox_full'>
    >>> match_text("250 2.0.0 Ok: queued") is None
    True
    """
    t = normalise_text(text)
    if not t:
        return None
    for category, wording in _RULES:
        if wording.pattern.search(t):
            return category
    return None


# Below this many texts, Python's patterns are quicker than compiling every rule for RE2
# (about 0.02 CPU-s) once they are compiled, that is once match_text has read texts. Before,
# compiling them (0.04 s, holding the GIL) is not: a report's refusals are a dozen distinct
# replies, and no other text of a report is read by Python.
_BATCH_MIN = 32
_BATCH_MIN_COLD = 4


def _re2_reads_alike(text: str) -> bool:
    """Whether RE2 and Python's re find the rules' patterns in normalised ``text`` alike: it is
    ASCII but for caseless symbols (the … and […] that blank a reply's variable parts, quotes,
    dashes), which neither engine counts as word, digit or space or folds to a letter.

    >>> _re2_reads_alike("550 <…>: User unknown"), _re2_reads_alike("Benutzer unbekannt: Müller")
    (True, False)
    """
    return text.isascii() or all(_caseless_symbol(c) for c in set(text) if not c.isascii())


@functools.lru_cache(maxsize=1024)
def _caseless_symbol(c: str) -> bool:
    return not (c.isalnum() or c.isspace()) and c.lower() == c.upper() == c.casefold() == c


def match_texts(texts: Sequence[str | None]) -> list[Category | None]:
    """:func:`match_text` of each of ``texts``: the same answers, faster for many texts.

    Python's re tries each rule's long alternation at every position of a text (about 40 µs
    a rule on a 160-character reply, 1 ms for a reply no rule names); Arrow's RE2 reads all the
    texts at once in linear time, so for many texts each rule is one RE2 pass over the texts
    not yet decided. RE2 and Python agree on whether a pattern occurs in a normalised text
    (its whitespace made single spaces) that is ASCII but for caseless symbols, as RE2's
    classes \\d, \\s, \\w and \\b are ASCII: other texts, alternatives with lookarounds, and
    patterns RE2 refuses are matched by Python.

    >>> match_texts(["552 5.2.2 Mailbox full", None, "250 Ok"] * 20)[:3]
    [<Category.MAILBOX_FULL: 'mailbox_full'>, None, None]
    """
    import numpy as np
    import pyarrow.compute as pc

    normal = [normalise_text(t) for t in texts]
    alike = [bool(t) and _re2_reads_alike(t) for t in normal]
    batch = [i for i, ok in enumerate(alike) if ok]
    if len(batch) < (_BATCH_MIN if match_text.cache_info().currsize else _BATCH_MIN_COLD):
        return [match_text(t) for t in texts]
    out: list[Category | None] = [
        match_text(texts[i]) if t and not ok else None
        for i, (t, ok) in enumerate(zip(normal, alike, strict=True))
    ]
    values = pa.array([normal[i] for i in batch], pa.string())

    def search(wording: _Wording) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which of the batch's texts RE2 finds ``wording``'s plain alternatives in."""
        if wording.re2 is None:
            return np.zeros(len(batch), dtype=bool)
        try:
            found = pc.match_substring_regex(values, wording.re2, ignore_case=True)
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # syntax RE2 refuses
            return np.array([wording.pattern.search(t) is not None for t in values.to_pylist()])

    # Compiling a rule costs RE2 about 1 ms and matching the texts next to nothing, so two
    # threads search a few rules ahead of the one decided (Arrow lets go of the GIL), over
    # every text, and the rules are taken in order until no text is left undecided.
    left = np.ones(len(batch), dtype=bool)  # texts that no rule has matched yet
    rules = iter(_RULES)
    ahead: deque[tuple[Category, _Wording, Future[np.ndarray[Any, np.dtype[np.bool_]]]]] = deque()
    with ThreadPoolExecutor(max_workers=2) as pool:
        while left.any():
            while len(ahead) < 4 and (rule := next(rules, None)) is not None:
                ahead.append((rule[0], rule[1], pool.submit(search, rule[1])))
            if not ahead:
                break
            category, wording, searched = ahead.popleft()
            hit = searched.result() & left
            if wording.rest is not None:
                for j in np.flatnonzero(left & ~hit).tolist():
                    hit[j] = wording.rest.search(normal[batch[j]]) is not None
            for j in np.flatnonzero(hit).tolist():
                out[batch[j]] = category
            left &= ~hit
        for *_, searched in ahead:
            searched.cancel()
    return out


@functools.lru_cache(maxsize=4096)
def find_provider(text: str | None, remote_host: str | None = None) -> str | None:
    """The mailbox or filtering provider behind a reply, from the host name or the text.

    >>> find_provider(None, "mx1.hotmail.com"), find_provider("[TSS04] Messages from x")
    ('microsoft', 'yahoo')
    """
    if remote_host:
        host = remote_host.lower().rstrip(".").strip("[]")
        for suffix, name in _PROVIDER_HOSTS:
            if host == suffix or host.endswith("." + suffix):
                return name
    if text:
        m = _PROVIDER_TEXT.search(text[:_TEXT_LIMIT])
        if m is not None and m.lastgroup:
            return m.lastgroup
    return None


def find_provider_code(provider: str | None, text: str | None, enhanced: str | None) -> str | None:
    """The provider's own reason token (Microsoft S3150, Yahoo TSS04, Gmail's 4.7.28 …).

    >>> find_provider_code("microsoft", "5.7.1 ... block list (S3150)", "5.7.1")
    'S3150'
    >>> find_provider_code("gmail", "Our system has detected an unusual rate", "4.7.28")
    '4.7.28'
    """
    if provider is None:
        return None
    if provider == "gmail":
        return enhanced
    pattern = _PROVIDER_CODE.get(provider)
    if pattern is None or not text:
        return None
    m = pattern.search(text[:_TEXT_LIMIT])
    if m is None:
        return None
    return next(g for g in m.groups() if g).upper()  # "ofr_506" is Orange's OFR_506


def classify(
    reply_code: int | None,
    enhanced: str | None,
    text: str | None,
    command: str | None = None,
    remote_host: str | None = None,
) -> Classification:
    """Classify one SMTP reply: the text decides first, the enhanced and reply codes second.

    ``enhanced`` may be ``None``: a code written in ``text`` is used then. ``command`` is the SMTP
    command the reply answered (``RCPT``, ``MAIL``, ``end of DATA`` …) and ``remote_host`` the
    replying host; both sharpen the verdict (a refused ``MAIL FROM`` is the sender's problem,
    ``*.outlook.com`` is Microsoft).

    >>> c = classify(550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. "
    ...              "Please contact your Internet service provider since part of their "
    ...              "network is on our block list (S3150).", "RCPT", "mx.outlook.com")
    >>> print(c.category, c.family, c.nature, c.class_digit, c.provider, c.provider_code)
    blocklisted sender S 5 microsoft S3150
    >>> classify(421, "4.7.0", "Try again later, closing connection.").category
    <Category.RATE_LIMITED: 'rate_limited'>
    >>> classify(None, None, None).category
    <Category.UNCLASSIFIED: 'unclassified'>
    """
    return _classified(reply_code, enhanced, text, command, remote_host, match_text(text))


def _classified(
    reply_code: int | None,
    enhanced: str | None,
    text: str | None,
    command: str | None,
    remote_host: str | None,
    found: Category | None,
) -> Classification:
    """:func:`classify`, the wording of ``text`` already matched (``found``)."""
    if enhanced is None:
        enhanced = codes.find_enhanced(text)
    if reply_code is None:
        reply_code = codes.find_reply_code(text)
    digit = codes.class_digit(reply_code, enhanced)
    provider = find_provider(text, remote_host)
    provider_code = find_provider_code(provider, text, enhanced)
    category = _refine(found, reply_code, enhanced, command, text)
    return verdict(category, digit, provider, provider_code)


# Categories a generic wording lands in; the command or a specific enhanced code may overrule them.
_WEAK = frozenset({C.UNKNOWN_USER, C.REMOTE_SYSTEM_ERROR, C.PROTOCOL_ERROR})
_NO_ACCOUNT = re.compile(r"(?:does not|doesn't) have an? \S{1,255} account", re.IGNORECASE)
# Words about an address: after MAIL FROM the address is the sender's.
_ABOUT_ADDRESS = frozenset({C.POLICY_REJECTION, C.UNKNOWN_USER, C.BAD_DOMAIN, C.MAILBOX_DISABLED})
# Enhanced codes specific enough to overrule a generic wording.
_STRONG_CODES: dict[str, Category] = {
    "1.7": C.SENDER_REJECTED,
    "1.8": C.SENDER_REJECTED,
    "7.25": C.REVERSE_DNS,
    "7.23": C.AUTH_FAILURE,
    "7.26": C.AUTH_FAILURE,
}


def _refine(
    found: Category | None,
    reply_code: int | None,
    enhanced: str | None,
    command: str | None,
    text: str | None = None,
) -> Category:
    """Let the refused command and specific codes sharpen a generic text verdict."""
    cmd = (command or "").strip().upper()
    parts = codes.parse_enhanced(enhanced)
    if (found is None or found in _WEAK) and parts is not None:
        strong = _STRONG_CODES.get(f"{parts[1]}.{parts[2]}")
        if strong is not None:
            return strong
    if found == C.POLICY_REJECTION and parts is not None and parts[1:] == (4, 1):
        # "5.4.1 Recipient address rejected: Access denied" is Microsoft 365 refusing an
        # address its directory does not hold (directory-based edge blocking).
        return C.UNKNOWN_USER
    said_policy = found == C.POLICY_REJECTION and "polic" in (text or "").lower()
    if (
        cmd.startswith("MAIL")
        and (found is None or found in _WEAK or found in _ABOUT_ADDRESS)
        and not said_policy  # "rejected for policy reasons" names its cause
    ):
        # A refusal of MAIL FROM is about the sender, whatever generic words it uses.
        return C.SENDER_REJECTED
    if (
        found == C.UNKNOWN_USER
        and (parts is None or parts[1] not in (1, 5))
        and ((parts is not None and parts[1] == 7 and cmd != "RCPT") or cmd.endswith("DATA"))
        and not _NO_ACCOUNT.search(text or "")
    ):
        # "User unknown" coded as a policy refusal, or only after the content was sent: a
        # filter refused the message, not the address. A refusal at RCPT is about the address,
        # and "has no account here" is plain whenever it comes (Yahoo checks after DATA).
        return C.POLICY_REJECTION
    if cmd in ("CONNECT", "HELO", "EHLO", "GREETING") and found in (None, C.POLICY_REJECTION):
        return C.BLOCKLISTED
    if found is not None:
        return found
    return by_codes(reply_code, enhanced)


def by_codes(reply_code: int | None, enhanced: str | None) -> Category:
    """The category the codes alone suggest (the fallback when the text says nothing known).

    >>> by_codes(550, "5.2.2"), by_codes(554, None), by_codes(250, "2.0.0")
    (<Category.MAILBOX_FULL: 'mailbox_full'>, <Category.POLICY_REJECTION: 'policy_rejection'>, \
<Category.DELIVERED: 'delivered'>)
    """
    parts = codes.parse_enhanced(enhanced)
    if parts is not None:
        if parts[0] == 2:
            return C.DELIVERED
        category = _BY_ENHANCED.get(f"{parts[1]}.{parts[2]}")
        if category is not None:
            return category
    if reply_code is not None:
        if 200 <= reply_code < 300:
            return C.DELIVERED
        if reply_code in _BY_REPLY:
            return _BY_REPLY[reply_code]
    return C.UNCLASSIFIED


_GAVE_UP = frozenset({C.PROTOCOL_ERROR})
_NEVER_CONNECTED = re.compile(
    r"\bconnect to\b|connection (?:timed out|refused)|requests to connect", re.IGNORECASE
)
_PERMANENT = re.compile(r"failed permanently|permanent (?:error|failure)", re.IGNORECASE)
# Causes the surrounding explanation may name where the reply only said "system error".
_SHARPER = frozenset({C.BLOCKLISTED, C.BAD_REPUTATION, C.AUTH_FAILURE, C.REVERSE_DNS})
# What a bare 4.x.x status suggests when it only says "temporary": retried until given up.
_TRANSIENT_CODES = frozenset(
    {C.NETWORK_ERROR, C.REMOTE_SYSTEM_ERROR, C.PROTOCOL_ERROR, C.UNCLASSIFIED, C.EXPIRED}
)
_HARD = frozenset({C.UNKNOWN_USER, C.MAILBOX_DISABLED, C.BAD_DOMAIN})
_NOT_FAILURE_KIND = {
    "delivered": C.DELIVERED,
    "auto_reply": C.AUTO_REPLY,
    "feedback": C.FEEDBACK_REPORT,
}


def classify_recipient(rcpt: BouncedRecipient, bounce_kind: str = "failure") -> Classification:
    """Classify what a bounce says about one recipient.

    The remote server's own words (the diagnostic) decide first, then the bounce's explanation
    around them, then the codes. A permanent failure after temporary replies is a give-up:
    ``expired``.

    >>> from mailtrace.bounces import BouncedRecipient
    >>> r = BouncedRecipient("x@example.org", action="failed", status="5.2.2",
    ...                      diagnostic="smtp; 552 5.2.2 Mailbox full")
    >>> classify_recipient(r).category
    <Category.MAILBOX_FULL: 'mailbox_full'>
    """
    action = (rcpt.action or "").lower()
    if bounce_kind in _NOT_FAILURE_KIND:
        return verdict(_NOT_FAILURE_KIND[bounce_kind])
    if action in ("delivered", "relayed", "expanded", "deliverable"):
        return verdict(C.DELIVERED, None)
    reply, status = rcpt.reply_code, rcpt.status
    digit = codes.class_digit(reply, status)
    text = rcpt.diagnostic or ""
    provider = find_provider(text, rcpt.remote_host) or find_provider(rcpt.context)
    provider_code = find_provider_code(provider, text, status)
    found = match_text(text)
    parts = codes.parse_enhanced(status)
    timed_out = found == C.NETWORK_ERROR and parts is not None and parts[1:] == (4, 1)
    if found is None or found in (C.REMOTE_SYSTEM_ERROR, C.NETWORK_ERROR):
        around = match_text(rcpt.context) if rcpt.context and rcpt.context != text else None
        # The explanation around the reply may say the sender gave up ("could not be delivered
        # for 5 days"); a delay warning says it is still trying, so its reply keeps the say.
        gave_up = around == C.EXPIRED and (action != "delayed" or found is None)
        # "refused to talk to me" around a bare "service refused" names the cause.
        sharper = found is not None and around in _SHARPER
        if around is not None and (found is None or gave_up or sharper):
            found = around
    if (
        found == C.NETWORK_ERROR
        and reply is None
        and _NEVER_CONNECTED.search(text)
        and (action == "failed" or _PERMANENT.search(rcpt.context or ""))
    ):
        # A connection that never succeeded, reported as a final failure: the sending MTA
        # kept trying until its queue lifetime ran out.
        return verdict(C.EXPIRED, digit, provider, provider_code)
    if action == "expired" or (
        action == "failed" and digit == 4 and (found is None or found in _GAVE_UP or timed_out)
    ):
        # A final failure after temporary replies: the sender's MTA gave up retrying, unless
        # the status itself names a lasting cause (4.2.2: the mailbox stayed full).
        coded = by_codes(None, status) if found is None else None
        loop = parts is not None and parts[1:] == (4, 6)  # a routing loop never clears by waiting
        if (coded is None or coded in _TRANSIENT_CODES or action == "expired") and not loop:
            return verdict(C.EXPIRED, digit, provider, provider_code)
        found = coded
    if found is None and (rcpt.recipient or "").lower().endswith("@googlegroups.com"):
        # Google Groups refuses posts from non-members in the reader's language, without a code.
        found = C.SENDER_REJECTED
    category = _refine(found, reply, status, rcpt.command, text)
    return verdict(category, digit, provider, provider_code)


_REPLY_START = re.compile(r"(?<![\d.])[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?")


def server_words(text: str | None) -> str | None:
    """The remote server's own reply inside a bounce's explanation (from its reply code on).

    >>> server_words("nobody@example.org host mx.example.org said: 550 5.1.1 No such user")
    '550 5.1.1 No such user'
    >>> server_words("Mailbox full")
    'Mailbox full'
    """
    if not text:
        return text
    m = _REPLY_START.search(text)
    return text[m.start() :] if m is not None else text


def classify_bounce(raw: bytes) -> list[dict[str, object]]:
    """One entry per recipient of a bounce message, each with its failure classified.

    Keys: ``recipient``, ``reason`` (the category), ``status``, ``reply_code``, ``diagnostic``,
    ``command``, ``remote_host``, ``family``, ``nature``, ``class_digit``, ``provider``,
    ``provider_code``, ``action`` and ``hardbounce``. Delivered notices, auto-replies and feedback
    reports come back with ``reason`` ``delivered``, ``auto_reply`` or ``feedback_report``;
    mail that is none of these gives an empty list.

    >>> raw = (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\\n"
    ...        b"Subject: Mail delivery failed: returning message to sender\\n\\n"
    ...        b"The following address(es) failed:\\n\\n  nobody@example.org\\n"
    ...        b"    host mx.example.org [192.0.2.25]\\n"
    ...        b"    SMTP error from remote mail server after RCPT TO:<nobody@example.org>:\\n"
    ...        b"    550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\\n")
    >>> [(r["recipient"], r["reason"], r["reply_code"], r["command"]) for r in classify_bounce(raw)]
    [('nobody@example.org', 'unknown_user', 550, 'RCPT')]
    """
    from mailtrace.bounces import parse_bounce  # the email package: 0.02 s logs never need

    bounce = parse_bounce(raw)
    out: list[dict[str, object]] = []
    for rcpt in bounce.recipients:
        c = classify_recipient(rcpt, bounce.kind)
        out.append(
            {
                "recipient": rcpt.recipient,
                "reason": str(c.category),
                "status": rcpt.status,
                "reply_code": rcpt.reply_code,
                "diagnostic": server_words(rcpt.diagnostic),
                "command": rcpt.command,
                "remote_host": rcpt.remote_host,
                "family": str(c.family),
                "nature": str(c.nature) if c.nature else None,
                "class_digit": c.class_digit,
                "provider": c.provider,
                "provider_code": c.provider_code,
                "action": rcpt.action,
                "feedback_type": rcpt.feedback_type,
                "hardbounce": c.category in _HARD,
            }
        )
    return out


def read_bounces(
    inputs: Iterable[str], on_error: Callable[[InputError], None] | None = None
) -> list[dict[str, object]]:
    """:func:`classify_bounce` over files, mbox files, directories and globs (``-`` is stdin).

    Each row gains ``source``: the file name, with ``#n`` for the n-th message of an mbox.
    An unreadable input raises :class:`~mailtrace.errors.InputError`, or is passed to
    ``on_error`` and skipped when that is given.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "b.eml").write_bytes(b"From: MAILER-DAEMON@example.net\\nSubject: failure notice"
    ...     b"\\n\\n<gone@example.org>:\\nRemote host said: 550 5.1.1 No such user\\n")
    >>> [(r["recipient"], r["reason"]) for r in read_bounces([str(d)])]
    [('gone@example.org', 'unknown_user')]
    """
    from mailtrace.sources import expand_inputs

    rows: list[dict[str, object]] = []
    for item in inputs:
        try:
            sources = expand_inputs([item])
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        rows.extend(_read_sources(sources, on_error))
    return rows


def _read_sources(
    sources: list[Source], on_error: Callable[[InputError], None] | None
) -> list[dict[str, object]]:
    from mailtrace.bounces import split_mbox
    from mailtrace.sources import read_blocks

    rows: list[dict[str, object]] = []
    for source in sources:
        try:
            raw = b"".join(read_blocks(source))
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        messages = split_mbox(raw)
        for i, message in enumerate(messages, 1):
            name = f"{source.name}#{i}" if len(messages) > 1 else source.name
            rows.extend({"source": name, **row} for row in classify_bounce(message))
    return rows


def _column(table: pa.Table, *names: str) -> pa.Array:
    """The first of ``names`` the table has, as one Arrow array (all nulls when it has none)."""
    for name in names:
        if name in table.column_names:
            return table.column(name).combine_chunks()
    return pa.nulls(table.num_rows, pa.string())


# Parts of a reply text that differ between otherwise equal replies (IPv4 addresses, queue ids,
# session tokens, the local part of mail addresses): masked in the grouping key only, so equal
# replies are classified once. An address's domain stays: it may name the provider (hotmail.com).
# RE2 syntax; the local part is bounded (64, RFC 5321) because an unbounded one makes every
# search after an IP match rescan the rest of the text for an "@": quadratic on long replies.
_VOLATILE = r"\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Za-z_-]*[0-9][0-9A-Za-z_-]{7,}|[^\s<>@]{1,64}@"


def classify_table(table: pa.Table) -> pa.Table:
    """``table`` with the FAILURES columns appended (category, family, nature, provider, code).

    Reads ``reply_code``, ``dsn`` or ``enhanced``, ``reply_text`` or ``text``, ``command`` and
    ``relay_host`` (EVENTS, DELIVERIES and REPLIES all carry some of them). Rows without any
    reply (no code, no status, no text) get nulls. Rows are grouped by (code, status, text with
    addresses and ids masked, command, host) with Arrow kernels and each group is classified
    once, so millions of rows cost only their distinct replies.

    >>> import pyarrow as pa
    >>> t = pa.table({"reply_code": pa.array([550, None, 550], pa.int16()),
    ...               "dsn": ["5.1.1", None, "5.1.1"],
    ...               "reply_text": ["User unknown", None, "User unknown"]})
    >>> classify_table(t).column("category").to_pylist()
    ['unknown_user', None, 'unknown_user']
    """
    import numpy as np
    import pyarrow.compute as pc

    columns = [
        _column(table, "reply_code"),
        _column(table, "dsn", "enhanced"),
        _column(table, "reply_text", "text"),
        _column(table, "command"),
        _column(table, "relay_host", "remote_host"),
    ]
    # Each column becomes small integer codes (dictionary encoding; null is its own code); the
    # text's dictionary is masked and re-encoded so equal replies differing only by ids share a
    # code. The codes combine into one integer key per row: no string work per row.
    key = np.zeros(table.num_rows, dtype=np.int64)
    for k, col in enumerate(columns):
        encoded = pc.dictionary_encode(col, null_encoding="encode")
        codes_ = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        size = len(encoded.dictionary)
        if k == 2 and size:
            masked = pc.replace_substring_regex(
                pc.cast(encoded.dictionary, pa.string()), _VOLATILE, "#"
            )
            remap = pc.dictionary_encode(masked, null_encoding="encode").indices
            codes_ = remap.to_numpy(zero_copy_only=False).astype(np.int64)[codes_]
        if int(key.max(initial=0)) >= (1 << 62) // (size + 1):
            # Keep the combined key dense before it could overflow 64 bits.
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * (size + 1) + codes_
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    reps = [pc.take(col, pa.array(first)).to_pylist() for col in columns]
    texts = [t if isinstance(t, str) and t else None for t in reps[2]]
    out: dict[str, list[str | None]] = {f.name: [] for f in FAILURES}
    found = match_texts(texts)
    for (reply, status, text, command, host), wording in zip(
        zip(*reps, strict=True), found, strict=True
    ):
        c = _classify_row(reply, status, text, command, host, wording)
        out["category"].append(str(c.category) if c else None)
        out["family"].append(str(c.family) if c else None)
        out["nature"].append(str(c.nature) if c and c.nature else None)
        out["provider"].append(c.provider if c else None)
        out["provider_code"].append(c.provider_code if c else None)
    rows = pa.array(group.astype(np.int64))
    for f in FAILURES:
        table = table.append_column(f, pc.take(pa.array(out[f.name], f.type), rows))
    return table


def _classify_row(
    reply: object,
    status: object,
    text: object,
    command: object,
    host: object,
    found: Category | None,
) -> Classification | None:
    code = int(reply) if isinstance(reply, int) else None
    st = status if isinstance(status, str) and status else None
    tx = text if isinstance(text, str) and text else None
    if code is None and st is None and tx is None:
        return None
    if code is not None and 200 <= code < 400 and st is None:
        return None
    return _classified(
        code,
        st,
        tx,
        command if isinstance(command, str) else None,
        host if isinstance(host, str) else None,
        found,
    )


#: The EVENTS kinds that carry a verdict on a recipient or a connection: the rows
#: :func:`classify_events` classifies (every other kind is bookkeeping and keeps nulls).
VERDICT_KINDS = ("delivery", "reject", "reject_warning", "connect_failure", "expired")


def classify_events(events: pa.Table) -> pa.Table:
    """EVENTS with the FAILURES columns appended: deliveries, rejects and connect failures judged.

    A delivery with status ``sent`` is ``delivered``; status ``expired`` (and the queue's own
    expiry line) is ``expired``; every other delivery, reject, reject warning and connect failure
    is classified from its reply (``reply_text``, else the free ``text`` the parser kept), each
    distinct reply once (:func:`classify_table`). Connections, queue bookkeeping and daemon
    warnings keep nulls. Columns already named like FAILURES' are replaced.

    >>> ev = pa.table({
    ...     "kind": ["connect", "reject", "delivery", "connect_failure"],
    ...     "status": [None, None, "sent", None],
    ...     "reply_code": pa.array([None, 550, 250, None], pa.int16()),
    ...     "dsn": [None, "5.1.1", "2.0.0", None],
    ...     "reply_text": [None, "<a@example.com>: User unknown", "Ok", None],
    ...     "text": [None, None, None, "Connection refused"]})
    >>> classify_events(ev).column("category").to_pylist()
    [None, 'unknown_user', 'delivered', 'network_error']
    """
    import numpy as np
    import pyarrow.compute as pc

    events = events.drop_columns([f.name for f in FAILURES if f.name in events.column_names])
    n = events.num_rows
    kind = _column(events, "kind")
    status = _column(events, "status")
    sent = pc.fill_null(pc.equal(status, "sent"), False)
    gone = pc.fill_null(pc.or_(pc.equal(status, "expired"), pc.equal(kind, "expired")), False)
    chosen = pc.fill_null(pc.is_in(kind, value_set=pa.array(VERDICT_KINDS)), False)
    # Sent and expired rows are judged by their status below: only the rest reach the classifier.
    judged = pc.and_not(chosen, pc.or_(sent, gone))
    rows = np.flatnonzero(judged.to_numpy(zero_copy_only=False))
    take = pa.array(rows, pa.int64())
    text = pc.coalesce(_column(events, "reply_text"), _column(events, "text"))
    verdicts = classify_table(
        pa.table(
            {
                "reply_code": pc.take(_column(events, "reply_code"), take),
                "dsn": pc.take(_column(events, "dsn"), take),
                "reply_text": pc.take(text, take),
                "command": pc.take(_column(events, "command"), take),
                "relay_host": pc.take(_column(events, "relay_host"), take),
            }
        )
    )
    where = np.full(n, -1, dtype=np.int64)
    where[rows] = np.arange(len(rows))
    back = pa.array(where, mask=where < 0)
    # The status already says what happened: no reply text can overrule it.
    fixed = {
        "category": (C.DELIVERED, C.EXPIRED),
        "family": (F.NOT_FAILURE, F.TERMINAL),
        "nature": (None, N.TERMINAL),
    }
    for f in FAILURES:
        column = pc.take(verdicts.column(f.name), back)
        when_sent, when_expired = fixed.get(f.name, (None, None))
        when_sent_s = pa.scalar(None if when_sent is None else str(when_sent), f.type)
        when_expired_s = pa.scalar(None if when_expired is None else str(when_expired), f.type)
        column = pc.if_else(sent, when_sent_s, column)
        column = pc.if_else(gone, when_expired_s, column)
        events = events.append_column(f, column)
    return events
