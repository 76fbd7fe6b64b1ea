"""Postfix messages into EVENTS rows: every line shape, the sample log, hostile input."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace.lazy_module import LazyPattern
from mailtrace.logs import postfix
from mailtrace.logs.events import EventBuilder
from mailtrace.logs.framing import Framer
from mailtrace.logs.postfix import parse_line, parse_message
from mailtrace.schema import EVENTS

# One line per shape: (daemon, message, fields parse_message must return).
SHAPES: list[tuple[str, str, dict[str, object]]] = [
    # --- smtpd sessions
    (
        "smtpd",
        "connect from mail.example.org[192.0.2.10]",
        {"kind": "connect", "client_host": "mail.example.org", "client_ip": "192.0.2.10"},
    ),
    (
        "smtpd",
        "connect from unknown[2001:db8::77]",
        {"kind": "connect", "client_host": "unknown", "client_ip": "2001:db8::77"},
    ),
    (
        "smtpd",
        "disconnect from mail.example.org[192.0.2.10] ehlo=2 starttls=1 mail=1 rcpt=1/2 data=1 "
        "quit=1 commands=7/8",
        {
            "kind": "disconnect",
            "client_ip": "192.0.2.10",
            "text": "ehlo=2 starttls=1 mail=1 rcpt=1/2 data=1 quit=1 commands=7/8",
        },
    ),
    (
        "smtpd",
        "disconnect from unknown[unknown] commands=0/0",
        {"kind": "disconnect", "client_host": "unknown", "text": "commands=0/0"},
    ),
    (
        "smtpd",
        "3F1A2B4C5D: client=mail.example.org[192.0.2.10]:41234",
        {
            "kind": "client",
            "queue_id": "3F1A2B4C5D",
            "client_host": "mail.example.org",
            "client_ip": "192.0.2.10",
            "client_port": 41234,
        },
    ),
    (
        "smtpd",
        "5A6B7C8D9E: client=laptop.example.net[198.51.100.7], sasl_method=PLAIN, "
        "sasl_username=carol@example.com",
        {
            "kind": "client",
            "client_ip": "198.51.100.7",
            "text": "sasl_method=PLAIN, sasl_username=carol@example.com",
        },
    ),
    (
        "smtpd",
        "D2E3F4A5B6: client=localhost[127.0.0.1], orig_queue_id=C1D2E3F4A5, "
        "orig_client=mx3.example.org[192.0.2.60]",
        {
            "kind": "client",
            "client_ip": "127.0.0.1",
            "text": "orig_queue_id=C1D2E3F4A5, orig_client=mx3.example.org[192.0.2.60]",
        },
    ),
    (
        "smtpd",
        "NOQUEUE: reject: RCPT from relay.example.org[192.0.2.50]: 550 5.1.1 <nobody@example.com>: "
        "Recipient address rejected: User unknown in virtual mailbox table; "
        "from=<sales@example.org> to=<nobody@example.com> proto=ESMTP helo=<relay.example.org>",
        {
            "kind": "reject",
            "queue_id": "NOQUEUE",
            "action": "reject",
            "command": "RCPT",
            "client_host": "relay.example.org",
            "client_ip": "192.0.2.50",
            "reply_code": 550,
            "dsn": "5.1.1",
            "reply_text": "<nobody@example.com>: Recipient address rejected: User unknown in "
            "virtual mailbox table",
            "sender": "sales@example.org",
            "recipient": "nobody@example.com",
            "protocol": "ESMTP",
            "helo": "relay.example.org",
        },
    ),
    (
        "smtpd",
        "NOQUEUE: reject: RCPT from unknown[203.0.113.77]: 554 5.7.1 Service unavailable; Client "
        "host [203.0.113.77] blocked using zen.dnsbl.example; https://dnsbl.example/q/203.0.113.77;"
        " from=<> to=<alice@example.com> proto=ESMTP helo=<[203.0.113.77]>",
        {
            "kind": "reject",
            "reply_code": 554,
            "reply_text": "Service unavailable; Client host [203.0.113.77] blocked using "
            "zen.dnsbl.example; https://dnsbl.example/q/203.0.113.77",
            "sender": "",
            "helo": "[203.0.113.77]",
        },
    ),
    (
        "smtpd",
        "NOQUEUE: reject: CONNECT from unknown[203.0.113.5]: 554 5.7.1 <unknown[203.0.113.5]>: "
        "Client host rejected: Access denied; proto=SMTP",
        {"kind": "reject", "command": "CONNECT", "dsn": "5.7.1", "protocol": "SMTP"},
    ),
    (
        "smtpd",
        "1E2F3A4B5C: reject: RCPT from relay.example.org[192.0.2.50]: 450 4.2.0 <a@example.com>: "
        "Recipient address rejected: Greylisted; from=<s@example.org> to=<a@example.com> "
        "proto=ESMTP helo=<relay.example.org>",
        {"kind": "reject", "queue_id": "1E2F3A4B5C", "reply_code": 450, "dsn": "4.2.0"},
    ),
    (
        "smtpd",
        "NOQUEUE: reject_warning: RCPT from relay.example.org[192.0.2.50]: 553 5.7.1 "
        "<s@example.org>: Sender address rejected: not owned by user s; from=<s@example.org> "
        "to=<a@example.com> proto=ESMTP helo=<relay.example.org>",
        {"kind": "reject_warning", "action": "reject_warning", "reply_code": 553},
    ),
    (
        "smtpd",
        "NOQUEUE: milter-reject: RCPT from mx2.example.net[198.51.100.40]: 451 4.7.1 Greylisting "
        "in action, please come back later; from=<n@example.net> to=<c@example.com> proto=ESMTP "
        "helo=<mx2.example.net>",
        {
            "kind": "reject",
            "action": "milter-reject",
            "reply_code": 451,
            "dsn": "4.7.1",
            "reply_text": "Greylisting in action, please come back later",
        },
    ),
    (
        "smtpd",
        "2A3B4C5D6E: milter-reject: END-OF-MESSAGE from mx2.example.net[198.51.100.40]: 5.7.1 "
        "Spam message rejected; from=<n@example.net> to=<d@example.com> proto=ESMTP "
        "helo=<mx2.example.net>",
        {
            "kind": "reject",
            "queue_id": "2A3B4C5D6E",
            "command": "END-OF-MESSAGE",
            "dsn": "5.7.1",
            "reply_text": "Spam message rejected",
            "recipient": "d@example.com",
        },
    ),
    (
        "smtpd",
        "1E2F3A4B5C: hold: RCPT from relay.example.org[192.0.2.50]: <s@example.org>: Sender "
        "address triggers HOLD action; from=<s@example.org> to=<a@example.com> proto=ESMTP "
        "helo=<relay.example.org>",
        {"kind": "hold", "action": "hold", "queue_id": "1E2F3A4B5C"},
    ),
    (
        "smtpd",
        "NOQUEUE: discard: MAIL from mx2.example.net[198.51.100.40]: <junk@example.net>: Sender "
        "address triggers DISCARD action; from=<junk@example.net> proto=ESMTP "
        "helo=<mx2.example.net>",
        {"kind": "discard", "command": "MAIL", "sender": "junk@example.net"},
    ),
    (
        "smtpd",
        "NOQUEUE: filter: RCPT from mx2.example.net[198.51.100.40]: <n@example.net>: Sender "
        "address triggers FILTER smtp-amavis:[127.0.0.1]:10024; from=<n@example.net> "
        "to=<a@example.com> proto=ESMTP helo=<mx2.example.net>",
        {"kind": "check_action", "action": "filter", "recipient": "a@example.com"},
    ),
    (
        "smtpd",
        "NOQUEUE: redirect: RCPT from mx2.example.net[198.51.100.40]: <n@example.net>: Sender "
        "address triggers REDIRECT abuse@example.com; from=<n@example.net> to=<b@example.com> "
        "proto=ESMTP helo=<mx2.example.net>",
        {"kind": "check_action", "action": "redirect"},
    ),
    (
        "smtpd",
        "lost connection after DATA (8192 bytes) from unknown[203.0.113.55]",
        {"kind": "lost_connection", "command": "DATA", "client_ip": "203.0.113.55"},
    ),
    (
        "smtpd",
        "timeout after END-OF-MESSAGE from unknown[203.0.113.55]",
        {"kind": "timeout", "command": "END-OF-MESSAGE", "client_host": "unknown"},
    ),
    (
        "smtpd",
        "too many errors after RCPT from unknown[2001:db8::77]",
        {"kind": "lost_connection", "command": "RCPT", "text": "too many errors"},
    ),
    (
        "smtpd",
        "improper command pipelining after EHLO from unknown[2001:db8::77]: MAIL FROM:<>\nQUIT\n",
        {"kind": "info", "command": "EHLO", "text": "improper command pipelining"},
    ),
    (
        "smtpd",
        "warning: unknown[198.51.100.66]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        {
            "kind": "sasl_failure",
            "level": "warning",
            "client_ip": "198.51.100.66",
            "text": "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        },
    ),
    (
        "smtpd",
        "Anonymous TLS connection established from mail.example.org[192.0.2.10]: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature "
        "RSA-PSS (2048 bits) server-digest SHA256",
        {
            "kind": "tls",
            "client_ip": "192.0.2.10",
            "tls_version": "TLSv1.3",
            "tls_cipher": "TLS_AES_256_GCM_SHA384",
            "text": "Anonymous",
        },
    ),
    (
        "smtpd",
        "SSL_accept error from scanner.example.net[198.51.100.67]: lost connection",
        {"kind": "tls_error", "client_host": "scanner.example.net", "text": "lost connection"},
    ),
    (
        "smtpd",
        "warning: hostname scanner.example.net does not resolve to address 198.51.100.67",
        {
            "kind": "warning",
            "level": "warning",
            "text": "hostname scanner.example.net does not resolve to address 198.51.100.67",
        },
    ),
    (
        "smtpd",
        "proxy-reject: END-OF-MESSAGE: 554 5.7.0 Reject, id=31619-02 - spam; "
        "from=<p@example.net> to=<b@example.com> proto=ESMTP helo=<p.example.net>",
        {
            "kind": "reject",
            "action": "proxy-reject",
            "command": "END-OF-MESSAGE",
            "reply_code": 554,
            "dsn": "5.7.0",
            "response": "554 5.7.0 Reject, id=31619-02 - spam",
        },
    ),
    (
        "smtpd",
        "proxy-accept: END-OF-MESSAGE: 250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: "
        "queued as 0C1D2E3F4A; from=<o@example.net> to=<b@example.com> proto=ESMTP "
        "helo=<o.example.net>",
        {"kind": "check_action", "action": "proxy-accept", "next_queue_id": "0C1D2E3F4A"},
    ),
    # --- postscreen and dnsblog
    (
        "postscreen",
        "CONNECT from [192.0.2.10]:48213 to [203.0.113.25]:25",
        {"kind": "postscreen", "action": "CONNECT", "client_ip": "192.0.2.10"},
    ),
    (
        "postscreen",
        "PASS NEW [2001:db8::25]:40112",
        {"kind": "postscreen", "action": "PASS NEW", "client_port": 40112},
    ),
    ("postscreen", "PASS OLD [192.0.2.10]:48213", {"action": "PASS OLD"}),
    ("postscreen", "WHITELISTED [192.0.2.30]:52000", {"action": "WHITELISTED"}),
    ("postscreen", "ALLOWLISTED [192.0.2.31]:52001", {"action": "ALLOWLISTED"}),
    ("postscreen", "DISCONNECT [192.0.2.10]:48213", {"action": "DISCONNECT"}),
    (
        "postscreen",
        "PREGREET 11 after 0.21 from [203.0.113.99]:51123: EHLO User\\r\\n",
        {"action": "PREGREET", "client_ip": "203.0.113.99", "delay": 0.21},
    ),
    (
        "postscreen",
        "HANGUP after 1.2 from [203.0.113.98]:40001 in tests before SMTP handshake",
        {"action": "HANGUP", "text": "in tests before SMTP handshake"},
    ),
    (
        "postscreen",
        "DNSBL rank 3 for [203.0.113.99]:51123",
        {"action": "DNSBL", "text": "rank 3", "client_port": 51123},
    ),
    (
        "postscreen",
        "COMMAND PIPELINING from [2001:db8::25]:40112 after EHLO: MAIL FROM:<x@example.net>\\r\\n",
        {"action": "COMMAND PIPELINING", "command": "EHLO"},
    ),
    (
        "postscreen",
        "BARE NEWLINE from [2001:db8::25]:40112 after DATA",
        {"action": "BARE NEWLINE", "command": "DATA"},
    ),
    (
        "postscreen",
        "NON-SMTP COMMAND from [2001:db8::25]:40112 after CONNECT: GET / HTTP/1.1",
        {"action": "NON-SMTP COMMAND", "command": "CONNECT"},
    ),
    (
        "postscreen",
        "NOQUEUE: reject: RCPT from [203.0.113.99]:51123: 550 5.7.1 Service unavailable; client "
        "[203.0.113.99] blocked using zen.dnsbl.example; from=<p@spam.example>, "
        "to=<a@example.com>, proto=ESMTP, helo=<User>",
        {
            "kind": "reject",
            "queue_id": "NOQUEUE",
            "client_ip": "203.0.113.99",
            "client_port": 51123,
            "sender": "p@spam.example",
            "recipient": "a@example.com",
            "helo": "User",
        },
    ),
    (
        "postscreen",
        "NOQUEUE: reject: CONNECT from [192.0.2.41]:52003: too many connections",
        {"kind": "reject", "command": "CONNECT", "reply_text": "too many connections"},
    ),
    (
        "dnsblog",
        "addr 203.0.113.99 listed by domain zen.dnsbl.example as 127.0.0.2",
        {"kind": "dnsblog", "client_ip": "203.0.113.99", "text": "zen.dnsbl.example as 127.0.0.2"},
    ),
    # --- cleanup
    (
        "cleanup",
        "3F1A2B4C5D: message-id=<20260307070003.1234@example.org>",
        {"kind": "message_id", "message_id": "20260307070003.1234@example.org"},
    ),
    ("cleanup", "4104E3D0AB: message-id=<>", {"kind": "message_id", "message_id": ""}),
    (
        "cleanup",
        "6C7D8E9F0A: reject: header Subject: You have won from mail9.example.org[192.0.2.90]; "
        "from=<w@example.org> to=<b@example.com> proto=ESMTP helo=<mail9.example.org>: 5.7.1 "
        "Message content rejected",
        {
            "kind": "reject",
            "action": "reject",
            "text": "header Subject: You have won from mail9.example.org[192.0.2.90]",
            "client_ip": "192.0.2.90",
            "dsn": "5.7.1",
            "reply_text": "Message content rejected",
            "helo": "mail9.example.org",
        },
    ),
    (
        "cleanup",
        "1E2F3A4B5C: warning: header Subject: Quarterly offer from local; from=<s@example.org> "
        "to=<a@example.com>",
        {
            "kind": "check_action",
            "action": "warning",
            "level": "warning",
            "sender": "s@example.org",
        },
    ),
    (
        "cleanup",
        "9B0C1D2E3F: milter-hold: END-OF-MESSAGE from mx5.example.org[192.0.2.65]: milter "
        "triggers HOLD action; from=<o@example.org> to=<a@example.com> proto=ESMTP "
        "helo=<mx5.example.org>",
        {"kind": "hold", "action": "milter-hold", "command": "END-OF-MESSAGE"},
    ),
    (
        "cleanup",
        "9B0C1D2E3F: milter-discard: END-OF-MESSAGE from mx5.example.org[192.0.2.65]: milter "
        "triggers DISCARD action; from=<o@example.org> to=<a@example.com> proto=ESMTP "
        "helo=<mx5.example.org>",
        {"kind": "discard", "action": "milter-discard"},
    ),
    (
        "cleanup",
        "4ZdB1c2dFnz9vL4: prepend: header X-Spam-Status: Yes from mx5.example.org[192.0.2.65]; "
        "from=<o@example.org> to=<a@example.com> proto=ESMTP helo=<mx5.example.org>: X-Flag: YES",
        {"kind": "check_action", "action": "prepend", "queue_id": "4ZdB1c2dFnz9vL4"},
    ),
    (
        "cleanup",
        "warning: 8A9B0C1D2E: sender_canonical_maps map lookup problem for s@example.com",
        {
            "kind": "warning",
            "queue_id": "8A9B0C1D2E",
            "text": "sender_canonical_maps map lookup problem for s@example.com",
        },
    ),
    # --- pickup, qmgr, bounce
    (
        "pickup",
        "8E9F0A1B2C: uid=0 from=<root>",
        {"kind": "pickup", "queue_id": "8E9F0A1B2C", "sender": "root", "text": "uid=0"},
    ),
    (
        "qmgr",
        "7C8D9E0F1A: from=<>, size=3310, nrcpt=1 (queue active)",
        {"kind": "from", "sender": "", "size": 3310, "nrcpt": 1},
    ),
    ("qmgr", "3F1A2B4C5D: removed", {"kind": "removed", "queue_id": "3F1A2B4C5D"}),
    (
        "qmgr",
        "1F2A3B4C5D: from=<heidi@example.com>, status=expired, returned to sender",
        {"kind": "expired", "status": "expired", "sender": "heidi@example.com"},
    ),
    (
        "qmgr",
        "2B3C4D5E6F7A8B9C0D1E2: skipped, still being delivered",
        {"kind": "info", "text": "skipped, still being delivered"},
    ),
    (
        "bounce",
        "3F1A2B4C5D: sender non-delivery notification: 7C8D9E0F1A",
        {"kind": "bounce_notice", "next_queue_id": "7C8D9E0F1A", "bounce_queue_id": "7C8D9E0F1A"},
    ),
    (
        "bounce",
        "4C5D6E7F8A: sender delay notification: 5D6E7F8A9B",
        {"kind": "bounce_notice", "text": "sender delay notification"},
    ),
    (
        "bounce",
        "6E7F8A9B0C: sender delivery status notification: 7F8A9B0C1D",
        {"kind": "bounce_notice", "next_queue_id": "7F8A9B0C1D"},
    ),
    # --- deliveries
    (
        "smtp",
        "5A6B7C8D9E: to=<erin@example.net>, orig_to=<e@example.com>, "
        "relay=mx1.example.net[198.51.100.30]:25, conn_use=2, delay=1.3, "
        "delays=0.3/0.01/0.4/0.59, dsn=4.2.0, status=deferred (host "
        "mx1.example.net[198.51.100.30] said: 450 4.2.0 <erin@example.net>: Recipient address "
        "rejected: Greylisted (in reply to RCPT TO command))",
        {
            "kind": "delivery",
            "queue_id": "5A6B7C8D9E",
            "recipient": "erin@example.net",
            "orig_recipient": "e@example.com",
            "relay_host": "mx1.example.net",
            "relay_ip": "198.51.100.30",
            "relay_port": 25,
            "delay": 1.3,
            "delay_before_qmgr": 0.3,
            "delay_in_qmgr": 0.01,
            "delay_conn_setup": 0.4,
            "delay_transmission": 0.59,
            "dsn": "4.2.0",
            "status": "deferred",
            "reply_code": 450,
            "reply_text": "<erin@example.net>: Recipient address rejected: Greylisted",
            "command": "RCPT TO",
        },
    ),
    (
        "smtp",
        "7C8D9E0F1A: to=<n@example.org>, relay=mx.example.org[192.0.2.20]:25, delay=0.9, "
        "delays=0.01/0.01/0.31/0.57, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4D5E6F7A8B)",
        {
            "status": "sent",
            "reply_code": 250,
            "reply_text": "Ok: queued as 4D5E6F7A8B",
            "next_queue_id": "4D5E6F7A8B",
            "response": "250 2.0.0 Ok: queued as 4D5E6F7A8B",
        },
    ),
    (
        "smtp",
        "5A6B7C8D9E: to=<f@example.edu>, relay=none, delay=1.5, delays=0.3/0.01/1.2/0, dsn=4.4.1, "
        "status=deferred (connect to mx.example.edu[203.0.113.80]:25: Connection refused)",
        {
            "relay_host": "none",
            "status": "deferred",
            "response": "connect to mx.example.edu[203.0.113.80]:25: Connection refused",
        },
    ),
    (
        "smtp",
        "4ZdB1c2dFnz9vL4: to=<u@example.com>, relay=mail.example.com[192.0.2.4]:25, delay=3.6, "
        "delays=0.08/0.02/0.85/0.14, tls=dane/requiretls, dsn=2.1.5, status=sent (250 ok)",
        {"queue_id": "4ZdB1c2dFnz9vL4", "dsn": "2.1.5", "reply_code": 250},
    ),
    (
        "lmtp",
        "3F1A2B4C5D: to=<bob@example.com>, relay=mx1.example.com[private/dovecot-lmtp], "
        "delay=0.44, delays=0.22/0.01/0.03/0.18, dsn=5.2.2, status=bounced (host "
        "mx1.example.com[private/dovecot-lmtp] said: 552 5.2.2 <bob@example.com> Quota exceeded "
        "(in reply to end of DATA command))",
        {
            "relay_host": "mx1.example.com",
            "status": "bounced",
            "reply_code": 552,
            "command": "end of DATA",
        },
    ),
    (
        "local",
        "8E9F0A1B2C: to=<admin@example.com>, orig_to=<root>, relay=local, delay=0.03, "
        "delays=0.01/0/0/0.02, dsn=2.0.0, status=sent (forwarded as 0B1C2D3E4F)",
        {"relay_host": "local", "orig_recipient": "root", "next_queue_id": "0B1C2D3E4F"},
    ),
    (
        "local",
        "9F0A1B2C3D: to=ghost@mx1.example.com, relay=local, delay=0.03, delays=0.02/0/0/0.01, "
        'dsn=5.1.1, status=bounced (unknown user: "ghost")',
        {"recipient": "ghost@mx1.example.com", "status": "bounced", "dsn": "5.1.1"},
    ),
    (
        "virtual",
        "0B1C2D3E4F: to=<admin@example.com>, relay=virtual, delay=0.05, delays=0.02/0/0/0.03, "
        "dsn=2.0.0, status=sent (delivered to maildir)",
        {"relay_host": "virtual", "response": "delivered to maildir"},
    ),
    (
        "pipe",
        "9F0A1B2C3D: to=<t@example.com>, relay=helpdesk, delay=0.2, delays=0.02/0.01/0/0.17, "
        "dsn=2.0.0, status=sent (delivered via helpdesk service)",
        {"kind": "delivery", "relay_host": "helpdesk"},
    ),
    (
        "error",
        "5A6B7C8D9E: to=<f@example.edu>, relay=none, delay=304, delays=304/0/0/0, dsn=4.4.1, "
        "status=deferred (delivery temporarily suspended: connect to "
        "mx.example.edu[203.0.113.80]:25: Connection refused)",
        {"kind": "delivery", "status": "deferred", "delay": 304.0},
    ),
    (
        "discard",
        "9F0A1B2C3D: to=<bh@example.com>, relay=none, delay=0.02, delays=0.02/0/0/0, dsn=2.0.0, "
        "status=sent (example.com)",
        {"kind": "delivery", "status": "sent"},
    ),
    (
        "retry",
        "9F0A1B2C3D: to=<x@example.net>, relay=none, delay=9000, delays=8999/1/0/0, dsn=4.4.1, "
        "status=deferred (delivery temporarily suspended: Host or domain name not found)",
        {"kind": "delivery", "status": "deferred"},
    ),
    (
        "error",
        "3E29030F86: to=<u@example.net>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, "
        "status=undeliverable (User unknown in virtual alias table)",
        {"status": "undeliverable"},
    ),
    # --- smtp client events
    (
        "smtp",
        "connect to mx.example.edu[203.0.113.80]:25: Connection refused",
        {
            "kind": "connect_failure",
            "relay_host": "mx.example.edu",
            "relay_ip": "203.0.113.80",
            "relay_port": 25,
            "text": "Connection refused",
        },
    ),
    (
        "smtp",
        "E3F4A5B6C7: host mx.example.edu[203.0.113.81] said: 451 4.3.2 Internal error reading "
        "data (in reply to MAIL FROM command)",
        {
            "kind": "info",
            "relay_ip": "203.0.113.81",
            "reply_code": 451,
            "command": "MAIL FROM",
            "response": "451 4.3.2 Internal error reading data",
        },
    ),
    (
        "smtp",
        "E3F4A5B6C7: host mx2.example.edu[203.0.113.82] refused to talk to me: 421 4.3.2 Service "
        "not available",
        {"kind": "connect_failure", "reply_code": 421, "relay_host": "mx2.example.edu"},
    ),
    (
        "smtp",
        "E3F4A5B6C7: lost connection with mx3.example.edu[203.0.113.83] while sending RCPT TO",
        {"kind": "lost_connection", "command": "RCPT TO", "relay_ip": "203.0.113.83"},
    ),
    (
        "smtp",
        "E3F4A5B6C7: conversation with mx4.example.edu[203.0.113.84] timed out while receiving "
        "the initial server greeting",
        {"kind": "timeout", "text": "receiving the initial server greeting"},
    ),
    (
        "smtp",
        "Verified TLS connection established to mx1.example.net[198.51.100.30]:25: TLSv1.2 with "
        "cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
        {
            "kind": "tls",
            "relay_host": "mx1.example.net",
            "relay_port": 25,
            "tls_version": "TLSv1.2",
            "tls_cipher": "ECDHE-RSA-AES256-GCM-SHA384",
        },
    ),
    (
        "smtp",
        "certificate verification failed for mx.example.net[198.51.100.31]:25: self-signed "
        "certificate",
        {"kind": "tls_error", "text": "self-signed certificate"},
    ),
    (
        "smtp",
        "SSL_connect error to mx.example.net[198.51.100.31]:25: lost connection",
        {"kind": "tls_error", "relay_port": 25},
    ),
    (
        "smtp",
        "F4A5B6C7D8: enabling PIX workarounds: disable_esmtp delay_dotcrlf for "
        "mx.example.net[198.51.100.31]:25",
        {"kind": "info", "text": "disable_esmtp delay_dotcrlf"},
    ),
    (
        "smtp",
        "F4A5B6C7D8: SASL authentication failed; server smarthost.example.net[198.51.100.32] "
        "said: 535 5.7.8 Error: authentication failed",
        {"kind": "sasl_failure", "reply_code": 535, "relay_host": "smarthost.example.net"},
    ),
    (
        "smtp",
        "E3F4A5B6C7: conversation with mx4.example.edu[203.0.113.84] timed out while sending end "
        "of data -- message may be sent more than once",
        {"kind": "timeout", "command": "end of data", "relay_host": "mx4.example.edu"},
    ),
    (
        "smtp",
        "F4A5B6C7D8: SASL authentication failed; cannot authenticate to server "
        "smarthost.example.net[198.51.100.32]: no mechanism available",
        {"kind": "sasl_failure", "relay_ip": "198.51.100.32", "text": "no mechanism available"},
    ),
    (
        "smtp",
        "F4A5B6C7D8: Cannot start TLS: handshake failure",
        {"kind": "tls_error", "queue_id": "F4A5B6C7D8"},
    ),
    (
        "smtp",
        "Trusted TLS connection reused to mx.example.org[192.0.2.20]:25: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits)",
        {"kind": "tls", "tls_version": "TLSv1.3"},
    ),
    (
        "smtp",
        "setting up TLS connection to mx.example.org[192.0.2.20]:25",
        {"kind": "info", "relay_host": "mx.example.org", "relay_port": 25},
    ),
    (
        "smtp",
        "mx.example.org[192.0.2.20]:25: re-using session with untrusted peer credential",
        {
            "kind": "info",
            "relay_ip": "192.0.2.20",
            "text": "re-using session with untrusted peer credential",
        },
    ),
    (
        "smtpd",
        "setting up TLS connection from mail.example.org[192.0.2.10]",
        {"kind": "info", "client_ip": "192.0.2.10"},
    ),
    (
        "smtpd",
        "mail.example.org[192.0.2.10]: subject_CN=mail.example.org, issuer_CN=Example CA",
        {"kind": "info", "text": "subject_CN=mail.example.org, issuer_CN=Example CA"},
    ),
    # --- statistics and administration
    (
        "anvil",
        "statistics: max connection rate 4/60s for (smtp:203.0.113.77) at Mar  7 07:03:00",
        {"kind": "anvil", "client_ip": "203.0.113.77", "text": "max connection rate 4/60s"},
    ),
    (
        "anvil",
        "statistics: max connection count 1 for (127.0.0.1:2525:127.0.0.1) at Mar  7 07:03:00",
        {"kind": "anvil", "client_ip": "127.0.0.1"},
    ),
    ("anvil", "statistics: max cache size 9 at Mar  7 07:04:20", {"kind": "anvil"}),
    (
        "scache",
        "statistics: domain lookup hits=1 miss=3 success=25%",
        {"kind": "scache", "text": "domain lookup hits=1 miss=3 success=25%"},
    ),
    ("tlsproxy", "CONNECT from [192.0.2.40]:52002", {"kind": "connect", "client_ip": "192.0.2.40"}),
    ("tlsproxy", "DISCONNECT [192.0.2.40]:52002", {"kind": "disconnect"}),
    ("tlsmgr", "warning: request to update table btree:/x", {"kind": "warning"}),
    ("trivial-rewrite", "warning: virtual_alias_domains lookup failure", {"kind": "warning"}),
    (
        "verify",
        "cache btree:/var/lib/postfix/verify_cache full cleanup: retained=12 dropped=3 entries",
        {"kind": "info"},
    ),
    ("postsuper", "9B0C1D2E3F: removed", {"kind": "removed", "queue_id": "9B0C1D2E3F"}),
    ("postsuper", "F4A5B6C7D8: placed on hold", {"kind": "hold", "text": "placed on hold"}),
    ("postsuper", "1E2F3A4B5C: released from hold", {"kind": "info"}),
    ("postsuper", "E3F4A5B6C7: requeued", {"kind": "info", "text": "requeued"}),
    ("postsuper", "Deleted: 12 messages", {"kind": "info", "text": "Deleted: 12 messages"}),
    (
        "master",
        "daemon started -- version 3.7.11, configuration /etc/postfix",
        {"kind": "info"},
    ),
    ("master", "reload -- version 3.7.11, configuration /etc/postfix", {"kind": "info"}),
    ("master", "terminating on signal 15", {"kind": "info"}),
    ("postfix-script", "starting the Postfix mail system", {"kind": "info"}),
    (
        "smtpd",
        "fatal: no SASL authentication mechanisms",
        {"kind": "fatal", "level": "fatal", "text": "no SASL authentication mechanisms"},
    ),
    (
        "smtp",
        "panic: myfree: corrupt or unallocated memory block",
        {"kind": "panic", "level": "panic"},
    ),
    ("postmap", "error: open database /etc/postfix/x.db: No such file", {"kind": "error"}),
]


def test_every_named_group_is_an_events_column() -> None:
    # A capture named after no EVENTS column would make EventBuilder.add fail on real lines;
    # the few helper captures below are folded into columns before the row is added.
    helpers = {"bare_to", "bare_orig", "relay_name", "raw", "what"}
    patterns = {n: v for n, v in vars(postfix).items() if isinstance(v, re.Pattern | LazyPattern)}
    assert len(patterns) > 30
    for name, pattern in patterns.items():
        assert set(pattern.groupindex) - set(EVENTS.names) - helpers == set(), name


@pytest.mark.parametrize(("daemon", "message", "expected"), SHAPES)
def test_every_line_shape(daemon: str, message: str, expected: dict[str, object]) -> None:
    got = parse_message(daemon, message)
    assert {key: got.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("daemon", "message"),
    [
        ("smtpd", "something Postfix never wrote"),
        ("qmgr", "3F1A2B4C5D: frobnicated"),
        ("smtp", "3F1A2B4C5D: to=<a@example.com>, relay=x, status=sent"),
        ("postscreen", "PASS SIDEWAYS [192.0.2.1]:25"),
        ("master", "daemon pondering"),
        ("smtpd", ""),
    ],
)
def test_unknown_lines_are_not_guessed(daemon: str, message: str) -> None:
    b = EventBuilder("t")
    assert parse_line(b, None, "mx", f"postfix/{daemon}", 1, 1, message) is False
    assert len(b) == 0
    assert parse_message(daemon, message) == {"kind": None}


@pytest.mark.parametrize(
    "program", ["postfix/smtpd", "postfix/submission/smtpd", "postfix-in/smtpd", "smtpd"]
)
def test_the_daemon_is_the_last_part_of_the_tag(program: str) -> None:
    b = EventBuilder("t")
    assert parse_line(b, 0, "mx", program, 7, 3, "connect from a.example.net[192.0.2.1]")
    row = b.events_table().to_pylist()[0]
    assert (row["kind"], row["program"], row["pid"], row["line"]) == ("connect", program, 7, 3)


@pytest.mark.parametrize(
    ("daemon", "message"),
    [(d, m) for d, m, _ in SHAPES],
)
def test_a_tag_naming_no_daemon_is_read_by_the_message_shape(daemon: str, message: str) -> None:
    # rsyslog's RFC 5424 output names some lines "postfix" alone. Such a line gives the event
    # its daemon would, or none where daemons read it differently: never another daemon's.
    named, bare = parse_message(daemon, message), parse_message("postfix", message)
    assert bare in (named, {"kind": None})


def test_the_commonest_lines_without_their_daemon_are_read() -> None:
    for daemon, message in [
        ("smtpd", "6E813220598: client=localhost[127.0.0.1]"),
        ("qmgr", "6E813220598: from=<carol@postfix.test>, size=408, nrcpt=2 (queue active)"),
        ("cleanup", "6E813220598: message-id=<20261128091359.017502@vm>"),
        ("smtpd", "connect from localhost[127.0.0.1]"),
    ]:
        assert parse_message("postfix", message) == parse_message(daemon, message)
        assert parse_message("postfix", message)["kind"] is not None


def test_numbers_become_typed_columns() -> None:
    b = EventBuilder("t")
    for daemon, message, _ in SHAPES:
        parse_line(b, None, "mx", f"postfix/{daemon}", 1, 1, message)
    t = b.events_table()
    assert t.num_rows == len(SHAPES)
    codes = {c for c in t.column("reply_code").to_pylist() if c is not None}
    assert {250, 450, 550, 554} <= codes
    assert 10025 not in codes
    assert max(p for p in t.column("relay_port").to_pylist() if p is not None) == 25
    assert 304.0 in t.column("delay").to_pylist()


# --------------------------------------------------------------------------- the sample log
def _sample_events(sample: Path) -> tuple[EventBuilder, list[int], int]:
    framer = Framer("rfc3164", year=2026, tz=UTC)
    b = EventBuilder("postfix.log")
    missed: list[int] = []
    other = 0
    text = (sample / "logs" / "postfix.log").read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        frame = framer.split(line)
        assert frame is not None, line
        ts, host, program, pid, message = frame
        if not program.startswith("postfix"):
            other += 1
        elif not parse_line(b, ts, host, program, pid, n, message):
            missed.append(n)
    return b, missed, other


def test_sample_log_every_postfix_line_recognised(sample: Path) -> None:
    b, missed, other = _sample_events(sample)
    assert missed == []
    assert other == 2  # opendkim and dovecot lines are not Postfix's
    kinds = Counter(b.events_table().column("kind").to_pylist())
    assert kinds == {
        "postscreen": 19,
        "delivery": 18,
        "info": 15,
        "disconnect": 13,
        "connect": 12,
        "from": 11,
        "removed": 10,
        "reject": 10,
        "message_id": 9,
        "client": 8,
        "warning": 8,
        "lost_connection": 5,
        "check_action": 5,
        "tls": 4,
        "bounce_notice": 4,
        "hold": 3,
        "tls_error": 3,
        "anvil": 3,
        "scache": 3,
        "connect_failure": 2,
        "sasl_failure": 2,
        "pickup": 2,
        "timeout": 2,
        "dnsblog": 1,
        "reject_warning": 1,
        "discard": 1,
        "expired": 1,
        "fatal": 1,
        "panic": 1,
        "error": 1,
    }


def test_sample_log_links_queue_ids(sample: Path) -> None:
    b, _, _ = _sample_events(sample)
    rows = b.events_table().to_pylist()
    links = {(r["queue_id"], r["next_queue_id"]) for r in rows if r["next_queue_id"]}
    assert ("C1D2E3F4A5", "D2E3F4A5B6") in links  # content filter: queued as
    assert ("8E9F0A1B2C", "0B1C2D3E4F") in links  # local alias: forwarded as
    assert ("3F1A2B4C5D", "7C8D9E0F1A") in links  # bounce notice
    first = rows[0]
    assert first["host"] == "mx1"
    assert str(first["ts"]) == "2026-03-07 06:59:58+00:00"
    retry = [r for r in rows if r["recipient"] == "erin@example.net"]
    assert [r["status"] for r in retry] == ["deferred", "sent"]
    assert [r["delay"] for r in retry] == [1.3, 303.0]


# --------------------------------------------------------------------------- hostile input
DAEMONS = [
    "smtpd",
    "smtp",
    "lmtp",
    "cleanup",
    "qmgr",
    "postscreen",
    "pickup",
    "bounce",
    "local",
    "anvil",
    "scache",
    "tlsproxy",
    "postsuper",
    "master",
    "postfix-script",
    "dnsblog",
    "verify",
    "no-such-daemon",
]


@settings(max_examples=300, deadline=None)
@given(daemon=st.sampled_from(DAEMONS), message=st.text(max_size=300))
def test_never_raises_on_arbitrary_text(daemon: str, message: str) -> None:
    b = EventBuilder("t")
    parse_line(b, None, None, f"postfix/{daemon}", None, 1, message)
    parse_message(daemon, message)
    b.events_table()  # whatever was captured must still cast into the schema


LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-=", min_size=1, max_size=20)
ADDRESS = st.builds("{}@{}.example".format, LOCAL, st.sampled_from(["mx", "mail.sub", "a-b"]))
SECONDS = st.sampled_from(["0", "0.01", "0.4", "1.2", "12", "3601"])
# Reply text as remote servers write it: parentheses, semicolons, brackets, "=" and "<>" too.
REPLY_TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=80
).filter(lambda t: t.strip() == t)


@settings(max_examples=200, deadline=None)
@given(
    rcpt=ADDRESS,
    port=st.integers(1, 65535),
    delays=st.lists(SECONDS, min_size=4, max_size=4),
    code=st.sampled_from(["250", "450", "550"]),
    text=REPLY_TEXT,
    command=st.sampled_from(["RCPT TO", "MAIL FROM", "end of DATA"]),
)
def test_delivery_fields_come_back_whatever_the_reply_says(
    rcpt: str, port: int, delays: list[str], code: str, text: str, command: str
) -> None:
    reply = f"host mx.example.net[192.0.2.9] said: {code} {text} (in reply to {command} command)"
    line = (
        f"3F1A2B4C5D: to=<{rcpt}>, relay=mx.example.net[192.0.2.9]:{port}, delay=9, "
        f"delays={'/'.join(delays)}, dsn=5.0.0, status=bounced ({reply})"
    )
    got = parse_message("smtp", line)
    assert (got["recipient"], got["relay_port"], got["status"]) == (rcpt, port, "bounced")
    assert [got[k] for k in ("delay_before_qmgr", "delay_in_qmgr")] == [
        float(delays[0]),
        float(delays[1]),
    ]
    assert (got["reply_code"], got["reply_text"], got["command"]) == (int(code), text, command)
    assert got["response"] == reply


@settings(max_examples=200, deadline=None)
@given(sender=ADDRESS, rcpt=ADDRESS, text=REPLY_TEXT)
def test_reject_fields_come_back_whatever_the_reply_says(sender: str, rcpt: str, text: str) -> None:
    line = (
        f"NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 {text}; from=<{sender}> "
        f"to=<{rcpt}> proto=ESMTP helo=<client.example>"
    )
    got = parse_message("smtpd", line)
    assert (got["kind"], got["reply_code"], got["dsn"]) == ("reject", 554, "5.7.1")
    assert (got["reply_text"], got["sender"], got["recipient"]) == (text, sender, rcpt)
    assert got["helo"] == "client.example"


PREFIXES = st.sampled_from(
    [
        "",
        "3F1A2B4C5D: ",
        "3F1A2B4C5D: to=<",
        "3F1A2B4C5D: to=<a@b>, relay=x[",
        "NOQUEUE: reject: RCPT from a[192.0.2.1]: 550 ",
        "3F1A2B4C5D: reject: header Subject: x from ",
        "connect from ",
        "warning: ",
        "statistics: max connection rate 1/60s for (",
        "CONNECT from [",
    ]
)


@settings(max_examples=200, deadline=None)
@given(daemon=st.sampled_from(DAEMONS), prefix=PREFIXES, message=st.text(max_size=200))
def test_never_raises_on_plausible_prefixes(daemon: str, prefix: str, message: str) -> None:
    b = EventBuilder("t")
    parse_line(b, None, None, f"postfix/{daemon}", None, 1, prefix + message)
    parse_message(daemon, prefix + message)
    b.events_table()


HOSTILE_BODIES = [
    "[" * 1_000_000,
    "<" * 1_000_000,
    "=" * 1_000_000,
    "; from=<" * 125_000,
    " from a[192.0.2.1]; from=<a> to=<b>" * 30_000,
    "to=<a>, orig_to=<" * 60_000,
    " (in reply to " * 70_000,
    "host a[b] said: 550 " * 50_000,
    "a" * 1_000_000,
    "9" * 1_000_000,  # a number that never ends: \d+\.?\d* once backtracked in O(n²) here
]
HOSTILE_PREFIXES = [
    "",
    "3F1A2B4C5D: to=<a@example.com>, relay=",
    "3F1A2B4C5D: to=<a@example.com>, relay=x[192.0.2.1]:25, delay=1, delays=1/1/1/1, "
    "dsn=5.0.0, status=bounced (",
    "NOQUEUE: reject: RCPT from a[192.0.2.1]: 550 5.1.1 ",
    "3F1A2B4C5D: reject: header Subject: ",
    "disconnect from a[192.0.2.1] ",
    "warning: a[192.0.2.1]: SASL LOGIN authentication failed: ",
    "PREGREET 11 after ",
    "HANGUP after ",
    "statistics: max connection rate ",
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=lambda s: repr(s[:12]))
def test_one_megabyte_lines_finish_fast(body: str) -> None:
    start = time.process_time()
    for prefix in HOSTILE_PREFIXES:
        for daemon in ("smtpd", "smtp", "cleanup", "qmgr", "postscreen", "anvil", "bounce"):
            parse_message(daemon, prefix + body)
    # Linear patterns read 49 MB here in well under a second per MB; a quadratic one would take
    # hours. The bound is loose because the test machine is shared.
    assert time.process_time() - start < 30
