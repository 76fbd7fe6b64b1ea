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


def empty_table(schema: pa.Schema) -> pa.Table:
    """An empty table with ``schema``.

    >>> empty_table(UNPARSED).num_rows
    0
    """
    return schema.empty_table()
