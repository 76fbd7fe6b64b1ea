"""The vocabulary of the EVENTS ``kind`` column, shared by every MTA parser and the analysis.

Postfix, Exim and Sendmail say the same things in different words; each parser maps its lines to
these kinds so that paths, reports and the failure analysis read one vocabulary. The ``status``
column refines ``delivery`` (sent, deferred, bounced, expired, suppressed …) and the ``action``
column refines ``reject``-like kinds (reject, milter-reject, …) and ``postscreen``.

>>> Kind("delivery") is Kind.DELIVERY
True
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a recognised log line says happened."""

    # Sessions (Postfix smtpd/postscreen, Exim SMTP connection lines, Sendmail connections)
    CONNECT = "connect"  # a client connected
    DISCONNECT = "disconnect"  # a client left; text keeps the command counters
    LOST_CONNECTION = "lost_connection"  # the client went away mid-command; command = where
    TIMEOUT = "timeout"  # a session timed out; command = where
    TLS = "tls"  # TLS established (in or out): tls_version, tls_cipher
    TLS_ERROR = "tls_error"  # TLS handshake or certificate failure (SSL_accept/SSL_connect error)
    SASL_FAILURE = "sasl_failure"  # authentication failed
    POSTSCREEN = "postscreen"  # postscreen verdicts: action = CONNECT, PASS NEW, PASS OLD, DNSBL …
    DNSBLOG = "dnsblog"  # an address listed by a DNS blocklist

    # A message enters the queue
    CLIENT = "client"  # Postfix smtpd "QID: client=…": the message's client
    PICKUP = "pickup"  # locally submitted (Postfix pickup uid=… from=…)
    MESSAGE_ID = "message_id"  # cleanup message-id=…
    FROM = "from"  # queued with sender/size/nrcpt: qmgr from=, Exim <=, Sendmail from=

    # Policy decisions on the way in
    REJECT = "reject"  # refused (smtpd/cleanup/milter/postscreen reject); action says which
    REJECT_WARNING = "reject_warning"  # would have been refused (warn_if_reject)
    HOLD = "hold"  # put on hold by a check
    DISCARD = "discard"  # silently discarded by a check
    CHECK_ACTION = "check_action"  # other check actions: filter, redirect, warning …

    # Delivery
    DELIVERY = "delivery"  # one recipient attempt; status: sent, deferred, bounced …
    CONNECT_FAILURE = "connect_failure"  # outbound connection failed (refused, timed out, no route)
    BOUNCE_NOTICE = "bounce_notice"  # a DSN was queued; next_queue_id = its id
    EXPIRED = "expired"  # the message expired in the queue (qmgr status=expired, Exim timeout)
    REMOVED = "removed"  # the message left the queue (Postfix removed, Exim Completed)

    # Daemons
    ANVIL = "anvil"  # connection statistics
    SCACHE = "scache"  # connection cache statistics
    INFO = "info"  # daemon start/stop, postsuper, configuration notes
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"
    PANIC = "panic"
