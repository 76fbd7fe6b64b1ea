"""The EVENTS columns each analysis reads, named without importing pyarrow.

A command knows what it will read before its analysis module is imported (pyarrow and numpy
with it, 0.2 s), so the parse of a large log can begin with only these columns built
(:mod:`mailtrace.logs.ahead`). A Parquet dataset is read with only these columns too.

>>> len(REPORT), "pid" in REPORT, "pid" in PATHS
(21, True, False)
"""

from __future__ import annotations

__all__ = ["FAILURES", "PATHS", "REPORT", "REPORT_KINDS", "report_reads"]

#: What the delivery paths need (mailtrace.paths).
PATHS = (
    "ts",
    "host",
    "program",
    "queue_id",
    "kind",
    "action",
    "client_host",
    "client_ip",
    "sender",
    "recipient",
    "orig_recipient",
    "relay_host",
    "relay_ip",
    "relay_port",
    "status",
    "dsn",
    "reply_code",
    "reply_text",
    "command",
    "delay",
    "delays_a",
    "delays_b",
    "delays_c",
    "delays_d",
    "size",
    "nrcpt",
    "message_id",
    "next_queue_id",
    "text",
    "source",
    "line",
)

#: What a report reads (mailtrace.report): the paths' columns the report looks at, not those it
#: only carries (delays a/b/c/d, line numbers …), and the pids of smtpd sessions.
REPORT = (
    "ts",
    "host",
    "program",
    "pid",
    "queue_id",
    "kind",
    "client_host",
    "client_ip",
    "sender",
    "recipient",
    "relay_host",
    "relay_ip",
    "status",
    "dsn",
    "reply_code",
    "reply_text",
    "command",
    "delay",
    "size",
    "next_queue_id",
    "text",
)

#: The kinds of the events without a queue id that a report reads (mailtrace.report): the
#: sessions, refusals, problems and notices it counts. The paths read every event with a queue
#: id, whatever its kind; the others (postscreen verdicts, TLS, lost connections, anvil …: a
#: quarter of a busy server's lines) a report of a large log leaves out as it parses.
REPORT_KINDS = (
    "connect",
    "disconnect",
    "reject",
    "reject_warning",
    "hold",
    "discard",
    "expired",
    "bounce_notice",
    "warning",
    "sasl_failure",
    "fatal",
    "panic",
    "from",
    "delivery",
    "client",
    "pickup",
    "message_id",
    "removed",
)

#: What the failures report reads (mailtrace.failures_report).
FAILURES = (
    "ts",
    "host",
    "program",
    "queue_id",
    "kind",
    "client_host",
    "client_ip",
    "sender",
    "recipient",
    "orig_recipient",
    "relay_host",
    "relay_ip",
    "status",
    "dsn",
    "reply_code",
    "reply_text",
    "command",
    "delay",
    "size",
    "next_queue_id",
    "text",
)


def report_reads(charts: bool) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The columns ``mailtrace report`` reads, and the kinds of the events without a queue id
    it reads (None: all), with ``--plot`` or ``--html`` (``charts``) or without.

    The charts also draw what the text leaves out (delays a/b/c/d: every paths column) and
    count the kinds the text does not.

    >>> columns, kinds = report_reads(charts=False)
    >>> "delays_a" in columns, "connect" in kinds
    (False, True)
    >>> report_reads(charts=True)[1] is None
    True
    """
    if charts:
        return tuple(dict.fromkeys((*REPORT, *PATHS))), None
    return tuple(dict.fromkeys(REPORT)), REPORT_KINDS
