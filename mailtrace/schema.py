"""The Arrow schemas of every mailtrace table: the one column contract.

Parsers build these tables column by column; the CLI, the notebooks, the Parquet datasets and the
analysis modules all read the same names and types. Timestamps are always UTC, reply codes stay
integers with nulls, and a Parquet round trip keeps every type.

>>> EVENTS.field("reply_code").type
DataType(int16)
>>> str(HOPS.field("timestamp").type)
'timestamp[us, tz=UTC]'
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

#: One row per Received header of one message.
HOPS = pa.schema(
    [
        ("message", pa.string()),  # source file plus message index: "inbox.mbox#3"
        ("hop", pa.int32()),  # 1 = the origin; numbered chronologically
        ("header_index", pa.int32()),  # 0 = the topmost Received header
        ("from_helo", pa.string()),  # the name the client claimed (HELO/EHLO)
        ("from_rdns", pa.string()),  # the reverse-DNS name the receiver recorded
        ("from_ip", pa.string()),  # canonical text form, IPv4 or IPv6
        ("by_host", pa.string()),
        ("via", pa.string()),
        ("protocol", pa.string()),  # normalised: SMTP, ESMTP, ESMTPS, ESMTPSA, LMTP, HTTP, local …
        ("with_raw", pa.string()),  # the `with` clause as written
        ("tls_version", pa.string()),
        ("tls_cipher", pa.string()),
        ("id", pa.string()),
        ("for", pa.string()),
        ("envelope_from", pa.string()),
        ("timestamp", UTC_TS),
        ("utc_offset", pa.string()),  # the offset as written: "+0100", "-0000", "EST" …
        ("delay_s", pa.float64()),  # signed: a negative delay is shown, never wrapped
        ("clock_skew", pa.bool_()),
        ("raw", pa.string()),
        ("problems", pa.string()),  # "; "-joined notes on what could not be read
    ]
)

#: One row per authentication result (Authentication-Results, ARC, Received-SPF, DKIM-Signature).
AUTH = pa.schema(
    [
        ("message", pa.string()),
        ("header", pa.string()),  # which header carried it
        ("authserv_id", pa.string()),
        ("method", pa.string()),  # spf, dkim, dmarc, arc, …
        ("result", pa.string()),  # pass, fail, softfail, neutral, none, temperror, permerror …
        ("properties", pa.string()),  # "smtp.mailfrom=a@b.example header.d=b.example"
        ("instance", pa.int32()),  # ARC i=
        ("raw", pa.string()),
    ]
)

#: One row per recognised log line.
EVENTS = pa.schema(
    [
        ("ts", UTC_TS),
        ("host", pa.string()),
        ("program", pa.string()),  # the syslog tag: postfix/smtpd, exim, sendmail …
        ("pid", pa.int32()),
        ("queue_id", pa.string()),
        ("kind", pa.string()),  # connect, client, message_id, from, delivery, reject, …
        ("action", pa.string()),  # reject, reject_warning, hold, discard, milter-reject, …
        ("client_host", pa.string()),
        ("client_ip", pa.string()),
        ("client_port", pa.int32()),
        ("helo", pa.string()),
        ("sender", pa.string()),
        ("recipient", pa.string()),
        ("orig_recipient", pa.string()),
        ("relay_host", pa.string()),
        ("relay_ip", pa.string()),
        ("relay_port", pa.int32()),
        ("status", pa.string()),  # sent, deferred, bounced, expired, …
        ("dsn", pa.string()),  # enhanced status code: 5.1.1
        ("reply_code", pa.int16()),
        ("reply_text", pa.string()),
        ("command", pa.string()),  # the SMTP command the reply answered: RCPT, end of DATA …
        ("delay", pa.float64()),
        ("delays_a", pa.float64()),  # before the queue manager
        ("delays_b", pa.float64()),  # in the queue manager
        ("delays_c", pa.float64()),  # connection setup
        ("delays_d", pa.float64()),  # transmission
        ("size", pa.int64()),
        ("nrcpt", pa.int32()),
        ("message_id", pa.string()),
        ("next_queue_id", pa.string()),  # queued as …, or a bounce notice's queue id
        ("protocol", pa.string()),
        ("tls_version", pa.string()),
        ("tls_cipher", pa.string()),
        ("text", pa.string()),  # free text: a warning, a removed/skipped note, a reject detail
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)

#: Every line no parser recognised; nothing is lost.
UNPARSED = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("text", pa.string()),
        ("reason", pa.string()),
    ]
)

#: One row per SMTP command/reply pair of a transcript.
REPLIES = pa.schema(
    [
        ("session", pa.string()),
        ("seq", pa.int32()),
        ("ts", UTC_TS),
        ("command", pa.string()),
        ("argument", pa.string()),
        ("reply_code", pa.int16()),
        ("enhanced", pa.string()),
        ("text", pa.string()),  # multi-line replies joined with "\n"
        ("tls", pa.bool_()),
        ("remote_host", pa.string()),  # the server talked to, when the transcript names it
        ("elapsed_s", pa.float64()),  # command sent → reply received (swaks -stl, smtplib level 2)
    ]
)

#: The classifier's columns, added to any table that carries a reply.
FAILURES = pa.schema(
    [
        ("category", pa.string()),
        ("family", pa.string()),
        ("nature", pa.string()),
        ("provider", pa.string()),
        ("provider_code", pa.string()),
    ]
)

#: One row per recipient attempt rebuilt from EVENTS (paths.py), with the classifier's columns.
DELIVERIES = pa.schema(
    [
        ("message", pa.string()),  # the MESSAGES key of the message this attempt belongs to
        ("host", pa.string()),
        ("queue_id", pa.string()),
        ("ts", UTC_TS),
        ("recipient", pa.string()),
        ("orig_recipient", pa.string()),
        ("relay_host", pa.string()),
        ("relay_ip", pa.string()),
        ("relay_port", pa.int32()),
        ("status", pa.string()),  # sent, deferred, bounced, expired …
        ("dsn", pa.string()),
        ("reply_code", pa.int16()),
        ("reply_text", pa.string()),
        ("command", pa.string()),
        ("delay", pa.float64()),  # as the MTA logged it: since this queue file arrived
        ("delays_a", pa.float64()),
        ("delays_b", pa.float64()),
        ("delays_c", pa.float64()),
        ("delays_d", pa.float64()),
        ("total_delay", pa.float64()),  # since the message first arrived, across every hop
        ("attempt", pa.int32()),  # 1, 2 … per recipient within one queue file
        ("final", pa.bool_()),  # the last word on this recipient in this queue file
        ("hop", pa.string()),  # filter, forward, relay: handed on to a queue id in the logs
        ("next_queue_id", pa.string()),
        *((f.name, f.type) for f in FAILURES),
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)

#: One row per message, followed across queue ids (content filter, forwarding, several hosts).
MESSAGES = pa.schema(
    [
        ("message", pa.string()),  # host:queue_id of the first queue file, "#n" if the id is reused
        ("host", pa.string()),
        ("queue_id", pa.string()),
        ("queue_ids", pa.list_(pa.string())),  # the chain, in order
        ("hosts", pa.list_(pa.string())),  # the host of each queue id in the chain
        ("origin", pa.string()),  # smtp, local, bounce, unknown (arrival not in the logs)
        ("client_host", pa.string()),
        ("client_ip", pa.string()),
        ("message_id", pa.string()),
        ("sender", pa.string()),
        ("size", pa.int64()),
        ("nrcpt", pa.int32()),
        ("recipients", pa.int32()),
        ("first_seen", UTC_TS),
        ("last_seen", UTC_TS),
        ("delay", pa.float64()),  # arrival to the last final outcome, seconds
        ("status", pa.string()),  # sent, bounced, deferred, expired, rejected, mixed, queued
        (
            "outcomes",
            pa.list_(
                pa.struct(
                    [("recipient", pa.string()), ("status", pa.string()), ("dsn", pa.string())]
                )
            ),
        ),
        ("sent", pa.int32()),
        ("deferred", pa.int32()),
        ("bounced", pa.int32()),
        ("expired", pa.int32()),
        ("deferrals", pa.int32()),  # deferred attempts along the way
        ("rejected", pa.bool_()),
        ("removed", pa.bool_()),
        ("notice", pa.string()),  # the queue id of the bounce notice sent about it
        ("parent", pa.string()),  # for a bounce notice: the message it reports on
    ]
)


def empty_table(schema: pa.Schema) -> pa.Table:
    """An empty table with ``schema``.

    Built from ``pa.nulls`` rather than ``Schema.empty_table``: that goes through ``pa.array``,
    whose first call imports pandas (a quarter of a second the log commands never need).

    >>> empty_table(UNPARSED).num_rows
    0
    """
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)
