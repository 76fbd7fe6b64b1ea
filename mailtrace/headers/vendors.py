"""Filtering vendors' own headers, decoded into (vendor, field, value, meaning) notes.

Microsoft 365 / Exchange Online Protection, Google, Proofpoint, SpamAssassin, Amavis and rspamd
each stamp their verdict in their own format. The notes say what each known field means so a
reader need not look up ``SFV:NSPM`` or ``BCL:7``; unknown fields are kept with no meaning.

>>> report = ("X-Forefront-Antispam-Report", "CIP:203.0.113.5;SCL:1;SFV:NSPM;")
>>> for n in decode_vendor_headers([report]):
...     print(n.field, n.value, "|", n.meaning)
CIP 203.0.113.5 | connecting IP address
SCL 1 | spam confidence level 1: not spam
SFV NSPM | spam filtering verdict: not spam
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VendorNote:
    """One decoded field of a vendor header."""

    vendor: str  # microsoft, google, proofpoint, spamassassin, amavis, rspamd
    header: str  # the header field it came from
    field: str
    value: str
    meaning: str | None


# Exchange Online Protection: the spam filtering verdict (SFV) and related codes.
_SFV = {
    "BLK": "skipped filtering: the sender is on the recipient's blocked senders list",
    "NSPM": "not spam",
    "SFE": "skipped filtering: the sender is on the recipient's safe senders list",
    "SKA": "skipped filtering: allowed by an anti-spam policy's allowed senders or domains",
    "SKB": "marked as spam: blocked by an anti-spam policy's blocked senders or domains",
    "SKI": "skipped filtering for another reason (for example an intra-organisation message)",
    "SKN": "marked as not spam before filtering (for example by a mail flow rule)",
    "SKQ": "released from quarantine",
    "SKS": "marked as spam before filtering (for example by a mail flow rule)",
    "SPM": "marked as spam by spam filtering",
}
_CAT = {
    "AMP": "anti-malware",
    "BULK": "bulk mail",
    "DIMP": "domain impersonation",
    "FTBP": "anti-malware common attachments filter",
    "GIMP": "mailbox intelligence impersonation",
    "HPHSH": "high confidence phishing",
    "HPHISH": "high confidence phishing",
    "HSPM": "high confidence spam",
    "INTOS": "intra-organisation phishing",
    "MALW": "malware",
    "OSPM": "outbound spam",
    "PHSH": "phishing",
    "SAP": "safe attachments",
    "SPM": "spam",
    "SPOOF": "spoofing",
    "UIMP": "user impersonation",
    "NONE": "no protection policy matched",
}
_IPV = {
    "CAL": "skipped filtering: the source IP is on the IP allow list",
    "NLI": "the source IP is on no IP reputation list",
}
_DIR = {"INB": "inbound", "OUT": "outbound", "INT": "internal (intra-organisation)"}
_SFTY = {
    "9.19": "domain impersonation",
    "9.20": "user impersonation",
    "9.25": "first contact safety tip",
}
_FOREFRONT = {
    "CIP": "connecting IP address",
    "CTRY": "country of the connecting IP address",
    "LANG": "language of the message",
    "H": "HELO/EHLO name of the connecting server",
    "PTR": "reverse DNS (PTR) name of the connecting IP address",
    "SFS": "spam filtering rules that matched (opaque identifiers)",
    "SRV": "service",
}
_AUTHAS = {
    "Anonymous": "the sender did not authenticate (arrived from the internet)",
    "Internal": "the sender authenticated as a member of the organisation",
    "Partner": "the sender authenticated as a partner organisation",
}
_PROOFPOINT = {
    "rule": "rule that decided the verdict",
    "policy": "policy applied",
    "score": "overall spam score (0-100)",
    "spamscore": "spam score (0-100)",
    "phishscore": "phishing score (0-100)",
    "malwarescore": "malware score (0-100)",
    "suspectscore": "suspect content score (0-100)",
    "bulkscore": "bulk mail score (0-100)",
    "adultscore": "adult content score (0-100)",
    "impostorscore": "impostor (business email compromise) score (0-100)",
    "clxscore": "Proofpoint clx score (lower is cleaner)",
    "mlxscore": "machine-learning spam score",
    "mlxlogscore": "machine-learning log score",
    "lowpriorityscore": "low-priority (gray mail) score",
    "priorityscore": "priority score",
    "classifier": "classifier that decided",
    "reason": "reason of the verdict",
}


def _scl(value: str) -> str | None:
    try:
        n = int(value)
    except ValueError:
        return None
    if n == -1:
        return "spam confidence level -1: skipped filtering (trusted sender or internal)"
    if 0 <= n <= 1:
        return f"spam confidence level {n}: not spam"
    if 5 <= n <= 6:
        return f"spam confidence level {n}: spam"
    if 7 <= n <= 9:
        return f"spam confidence level {n}: high confidence spam"
    return f"spam confidence level {n}"


def _bcl(value: str) -> str | None:
    try:
        n = int(value)
    except ValueError:
        return None
    if n == 0:
        return "bulk complaint level 0: not from a bulk sender"
    if 1 <= n <= 3:
        return f"bulk complaint level {n}: bulk sender with few complaints"
    if 4 <= n <= 7:
        return f"bulk complaint level {n}: bulk sender with a mixed number of complaints"
    if 8 <= n <= 9:
        return f"bulk complaint level {n}: bulk sender with many complaints"
    return f"bulk complaint level {n}"


def _semicolon_pairs(value: str, sep: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in value.split(";"):
        key, found, v = part.strip().partition(sep)
        if found and key:
            pairs.append((key.strip(), v.strip()))
    return pairs


def _forefront(header: str, value: str) -> list[VendorNote]:
    notes: list[VendorNote] = []
    for key, v in _semicolon_pairs(value, ":"):
        k = key.upper()
        meaning: str | None
        if k == "SCL":
            meaning = _scl(v)
        elif k == "SFV":
            meaning = f"spam filtering verdict: {_SFV[v]}" if v in _SFV else None
        elif k == "CAT":
            meaning = f"protection category: {_CAT[v]}" if v in _CAT else None
        elif k == "IPV":
            meaning = _IPV.get(v)
        elif k == "DIR":
            meaning = f"direction: {_DIR[v]}" if v in _DIR else None
        elif k == "SFTY":
            meaning = f"safety tip: {_SFTY[v]}" if v in _SFTY else "safety tip shown"
        elif k == "SRV" and v == "BULK":
            meaning = "identified as bulk mail"
        else:
            meaning = _FOREFRONT.get(k)
        if v or meaning:
            notes.append(VendorNote("microsoft", header, key, v, meaning))
    return notes


def _microsoft_antispam(header: str, value: str) -> list[VendorNote]:
    notes: list[VendorNote] = []
    for key, v in _semicolon_pairs(value, ":"):
        if key.upper() == "BCL":
            notes.append(VendorNote("microsoft", header, key, v, _bcl(v)))
        elif key.upper() == "PCL":
            notes.append(VendorNote("microsoft", header, key, v, "phishing confidence level"))
    return notes


def _spam_status(header: str, value: str) -> list[VendorNote]:
    # "Yes, score=7.3 required=5.0 tests=BAYES_99,URIBL_BLACK autolearn=no version=3.4.6"
    verdict, _, rest = value.partition(",")
    v = verdict.strip()
    notes = [
        VendorNote(
            "spamassassin",
            header,
            "verdict",
            v,
            {"yes": "classified as spam", "no": "not spam"}.get(v.lower()),
        )
    ]
    meanings = {
        "score": "spam score",
        "required": "score needed to be spam",
        "tests": "rules that matched",
        "autolearn": "Bayesian auto-learning decision",
        "version": "SpamAssassin version",
    }
    key: str | None = None
    for token in " ".join(rest.split()).split(" "):
        name, eq, val = token.partition("=")
        if eq and name in meanings:
            key = name
            notes.append(VendorNote("spamassassin", header, name, val, meanings[name]))
        elif key == "tests" and token and notes:
            # Folded test lists continue after whitespace.
            last = notes[-1]
            notes[-1] = VendorNote(
                last.vendor, header, last.field, last.value + token, last.meaning
            )
    return notes


def _proofpoint(header: str, value: str) -> list[VendorNote]:
    notes: list[VendorNote] = []
    for token in value.split():
        name, eq, val = token.partition("=")
        if eq and name in _PROOFPOINT:
            notes.append(VendorNote("proofpoint", header, name, val, _PROOFPOINT[name]))
    return notes


def _rspamd_result(header: str, value: str) -> list[VendorNote]:
    # "default: False [-0.10 / 15.00]; SYMBOL(0.00)[...]; …" — the verdict and score are first.
    first = value.split(";", 1)[0]
    return [VendorNote("rspamd", header, "result", first.strip(), "verdict [score / threshold]")]


def decode_vendor_header(name: str, value: str) -> list[VendorNote]:
    """Notes for one header field; a field no vendor decoder knows gives none. Never raises.

    >>> [(n.vendor, n.value, n.meaning) for n in decode_vendor_header("X-Spam-Status",
    ...     "Yes, score=7.1 required=5.0 tests=BAYES_99")][:2]
    [('spamassassin', 'Yes', 'classified as spam'), ('spamassassin', '7.1', 'spam score')]
    """
    key = name.lower()
    v = value.strip()
    if key in ("x-forefront-antispam-report", "x-forefront-antispam-report-untrusted"):
        return _forefront(name, v)
    if key in ("x-microsoft-antispam", "x-microsoft-antispam-untrusted"):
        return _microsoft_antispam(name, v)
    if key == "x-ms-exchange-organization-scl":
        return [VendorNote("microsoft", name, "SCL", v, _scl(v))]
    if key == "x-ms-exchange-organization-authas":
        meaning = _AUTHAS.get(v, "how the sender authenticated to Exchange")
        return [VendorNote("microsoft", name, "AuthAs", v, meaning)]
    if key == "x-ms-exchange-organization-authsource":
        return [VendorNote("microsoft", name, "AuthSource", v, "server that authenticated it")]
    if key == "x-gm-message-state":
        meaning = "sent through Gmail's outbound servers by a Gmail or Google Workspace account"
        return [VendorNote("google", name, "present", "yes", meaning)]
    if key == "x-google-smtp-source":
        return [VendorNote("google", name, "present", "yes", "submitted through Google's SMTP")]
    if key == "x-proofpoint-spam-details":
        return _proofpoint(name, v)
    if key == "x-spam-status":
        return _spam_status(name, v)
    if key == "x-spam-flag":
        meaning = "flagged as spam" if v.upper() == "YES" else "not flagged as spam"
        return [VendorNote("spam-filter", name, "flag", v, meaning)]
    # X-Spam-Flag/-Score/-Level are written alike by SpamAssassin, Amavis and others.
    if key == "x-spam-score":
        return [VendorNote("spam-filter", name, "score", v, "spam score")]
    if key == "x-spam-level":
        meaning = f"spam score of about {len(v)} points"
        return [VendorNote("spam-filter", name, "level", v, meaning)]
    if key == "x-virus-scanned":
        vendor = "amavis" if "amavis" in v.lower() else "antivirus"
        return [VendorNote(vendor, name, "virus_scanned", v, "scanned for viruses by")]
    if key == "x-spamd-result":
        return _rspamd_result(name, v)
    if key == "x-rspamd-score":
        return [VendorNote("rspamd", name, "score", v, "spam score")]
    if key == "x-rspamd-action":
        return [VendorNote("rspamd", name, "action", v, "action rspamd chose")]
    if key == "x-rspamd-server":
        return [VendorNote("rspamd", name, "server", v, "rspamd server that scanned it")]
    if key == "x-rspamd-queue-id":
        return [VendorNote("rspamd", name, "queue_id", v, "MTA queue id rspamd saw")]
    return []


def decode_vendor_headers(fields: Iterable[tuple[str, str]]) -> list[VendorNote]:
    """Notes for every vendor header among ``fields`` (name, value), in header order.

    >>> [n.meaning for n in decode_vendor_headers([("X-MS-Exchange-Organization-SCL", "-1")])]
    ['spam confidence level -1: skipped filtering (trusted sender or internal)']
    """
    notes: list[VendorNote] = []
    for name, value in fields:
        notes.extend(decode_vendor_header(name, value))
    return notes
