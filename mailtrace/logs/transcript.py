"""SMTP transcripts into the REPLIES table: one row per command and the reply it got.

Four shapes of transcript are read, and the shape is detected from the text:

* **swaks** output with its transaction hints: ``===`` information, ``***`` errors, `` -> `` /
  ``<-`` plain lines, `` ~> `` / ``<~`` lines inside TLS, ``**>`` / ``<**`` (and ``*~>`` / ``<~*``)
  unexpected lines, ``=== response in 0.005s`` timings (``--show-time-lapse``), ``-n`` data
  summaries and refused connections. The raw hex dumps of ``--show-raw-text`` are skipped.
* **smtplib** debug output, level 1 (``send: 'ehlo …\\r\\n'``, ``reply: b'250-…\\r\\n'``,
  ``connect: to ('host', 25)``) and level 2 (the same lines after an ``HH:MM:SS.ffffff`` time).
* **dialogues**: ``C:`` / ``S:``, ``>>>`` / ``<<<`` (the "Transcript of session follows" part of
  Sendmail bounces, with ``... while talking to host:``), Postfix's ``In:`` / ``Out:`` postmaster
  transcripts (wrapped lines joined), and the bounce paragraphs of Postfix (``host … said: …
  (in reply to RCPT TO command)``) and Exim (``SMTP error from remote mail server after …``).

Replies pair with commands in the order they were sent, so pipelined commands (several sent
before the first reply) still meet their own replies. The greeting is a pair with command
``CONNECT``; ``DATA`` and its 354 are one pair and the end of the message (command ``.``) and its
reply another. ``AUTH`` responses are masked so no credential reaches the table. A transcript cut
short keeps every pair read so far; a command left without a reply gets a row whose
``reply_code`` is null.

>>> t = parse_transcript('''S: 220 mx.example.com ESMTP
... C: EHLO client.example.org
... S: 250-mx.example.com
... S: 250 PIPELINING
... C: RCPT TO:<nobody@example.com>
... S: 550 5.1.1 <nobody@example.com>: Recipient address rejected''')
>>> t.column("command").to_pylist()
['CONNECT', 'EHLO', 'RCPT']
>>> t.column("text").to_pylist()[1]
'mx.example.com\\nPIPELINING'
>>> t.column("enhanced").to_pylist()[2]
'5.1.1'
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

import pyarrow as pa

from mailtrace.errors import InputError, UsageError
from mailtrace.schema import REPLIES

#: The transcript shapes :func:`parse_transcript` reads; ``auto`` picks one from the text.
FORMATS = ("auto", "swaks", "smtplib", "dialogue")

#: What replaces an AUTH initial response or a response to a 334 challenge.
MASK = "********"

# One reply line: three digits, then "-" (more lines follow), " " or nothing (the last line).
_REPLY = re.compile(r"(\d{3})(?:([ -])(.*))?$", re.S)
# An enhanced status code at the start of a reply's text (RFC 3463); the class digit is 2, 4 or 5.
_ENHANCED = re.compile(r"([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)")
_VERB = re.compile(r"\s*(\S+)(?:\s+(.*))?$", re.S)
_ANGLE = re.compile(r"<([^<>]*)>")

# swaks: its own lines (=== / ***), lines sent (" ->", " ~>", "**>", "*~>", " -->") and received
# ("<- ", "<~ ", "<**", "<~*", "<--"). A "~" in the hint means the line travelled inside TLS.
_SWAKS_INFO = re.compile(r"(===|\*\*\*) ?(.*)$", re.S)
_SWAKS_SEND = re.compile(r" ?([-~*]{1,3})> ?(.*)$", re.S)
_SWAKS_RECV = re.compile(r"<([-~*]{1,3}) ?(.*)$", re.S)
_SWAKS_TRYING = re.compile(r"Trying (\S+?)\.\.\.$")
_SWAKS_LAPSE = re.compile(r"response in (\d{1,9}(?:\.\d{1,9})?)s$")
_SWAKS_SUMMARY = re.compile(r"\d{1,12} lines sent$")

# smtplib: "[HH:MM:SS[.ffffff] ]send: …" (the time only at debug level 2).
_SMTPLIB = re.compile(
    r"(?:(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? )?(send|reply|connect|data|exception): ?(.*)$",
    re.S,
)
_SMTPLIB_CONNECT = re.compile(r"(?:to )?\(\s*'([^']*)'\s*,\s*(\d{1,5})\s*\)")
_PY_ERROR = re.compile(
    r"([A-Za-z_][\w.]{0,200}(?:Error|Exception|Refused|Disconnected|timeout)): ?(.*)$", re.S
)
_PY_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)", re.S)
_PY_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"'}

# Dialogues: client and server prefixes, Sendmail's host line and its per-recipient notes, Postfix
# wrapped lines, Exim's error paragraphs.
_DIALOGUE = re.compile(r"[ \t]*(>>>>?|<<<|C:|S:|In:|Out:)[ \t]?(.*)$", re.S)
_TALKING = re.compile(r"(?:\.\.\. )?[Ww]hile talking to (\S+?)\.?:\s*$")
_SENDMAIL_NOTE = re.compile(r"\d{3} (?:\d\.\d{1,3}\.\d{1,3} )?<([^<>\s]{1,512})>\.\.\. ")
_WRAPPED = re.compile(r"[ \t]{4,}(\S.*)$", re.S)
_EXIM_AFTER = re.compile(r"\s*SMTP error from remote (?:mail server|mailer) after (.*)$", re.S)
_REPLY_START = re.compile(r"\d{3}(?:[ -]|$)")
# Postfix bounce paragraphs: "<rcpt>: host H[ip] said: 550 … (in reply to RCPT TO command)",
# "… refused to talk to me: 554 …" and "<rcpt>: connect to H[ip]:25: Connection refused".
_POSTFIX_SAID = re.compile(
    r"<([^<>\s]{0,512})>(?: \(expanded from <[^<>\s]{0,512}>\))?: "
    r"(?:host (\S+?)\[([^\]\s]{0,64})\] (said|refused to talk to me):"
    r"|connect to (\S+?)\[([^\]\s]{0,64})\](:\d{1,5})?:)\s*(.*)$",
    re.S,
)
_IN_REPLY_TO = " (in reply to "
_EXIM_HOST = re.compile(r"host (\S+) \[([^\]\s]{1,64})\]:?\s*(.*)$", re.S)

_CLIENT_PREFIXES = (">>>", "C:", "In:")


@dataclass
class _Command:
    """A command sent and not yet answered."""

    command: str | None
    argument: str | None
    tls: bool
    ts: int | None = None  # µs since the epoch, UTC, when the transcript dates it
    clock: float | None = None  # seconds since midnight, for elapsed times without a date
    notes: list[str] = field(default_factory=list)  # client-side errors while it waited


class _Dialogue:
    """Pairs client commands with server replies, session by session, column by column."""

    def __init__(self) -> None:
        self.session: list[int] = []
        self.seq: list[int] = []
        self.ts: list[int | None] = []
        self.command: list[str | None] = []
        self.argument: list[str | None] = []
        self.reply_code: list[int | None] = []
        self.enhanced: list[str | None] = []
        self.text: list[str | None] = []
        self.tls: list[bool] = []
        self.remote_host: list[str | None] = []
        self.elapsed: list[float | None] = []
        self.sessions = 0
        self._reset_session(None)

    def _reset_session(self, remote_host: str | None) -> None:
        self.pending: deque[_Command] = deque()
        self.rows_in_session = 0
        self.host = remote_host
        self.tls_state = False
        self.data_mode = False
        self.auth_continues = False
        self.lmtp = False
        self.accepted: list[str | None] = []
        self.next_elapsed: float | None = None
        self.reply_code_now: int | None = None
        self.reply_lines: list[str] = []
        self.reply_tls = False
        self.reply_ts: int | None = None
        self.reply_clock: float | None = None
        self.reply_elapsed: float | None = None

    # -- sessions -------------------------------------------------------------------------------

    def start_session(
        self,
        remote_host: str | None = None,
        connect: str | None = None,
        tls: bool = False,
        ts: int | None = None,
        clock: float | None = None,
    ) -> None:
        """Close the current session and open the next; ``connect`` queues the greeting's pair."""
        self.finish()
        self.sessions += 1
        self._reset_session(remote_host)
        self.tls_state = tls
        if connect is not None:
            self.pending.append(_Command("CONNECT", connect or None, tls, ts, clock))

    def _ensure_session(self) -> None:
        if self.sessions == 0:
            self.sessions = 1

    # -- client side ----------------------------------------------------------------------------

    def client(
        self,
        line: str,
        tls: bool | None = None,
        ts: int | None = None,
        clock: float | None = None,
        summary: bool = False,
    ) -> None:
        """One line the client sent; message content is skipped up to its final ``.``."""
        self._ensure_session()
        secure = self.tls_state if tls is None else tls
        if self.data_mode:
            if line == "." or (summary and _SWAKS_SUMMARY.match(line)):
                self.data_mode = False
                self.pending.append(_Command(".", None, secure, ts, clock))
            return
        if self.auth_continues:
            # A response to a 334 challenge: credentials, never kept ("*" cancels the exchange).
            self.auth_continues = False
            shown = line.strip() if line.strip() in {"", "*"} else MASK
            self.pending.append(_Command("AUTH-RESPONSE", shown or None, secure, ts, clock))
            return
        m = _VERB.match(line)
        if not m:
            return
        verb, argument = m.group(1).upper(), m.group(2)
        if argument is not None:
            argument = argument.strip() or None
        if verb == "AUTH" and argument:
            mechanism, _, initial = argument.partition(" ")
            argument = f"{mechanism} {MASK}" if initial.strip() else mechanism
        elif verb == "LHLO":
            self.lmtp = True
        elif verb == "MAIL":
            self.accepted = []
        self.pending.append(_Command(verb, argument, secure, ts, clock))

    def note(self, text: str) -> None:
        """A client-side error (swaks ``***``, a Python exception) about the command waiting."""
        text = text.strip()
        if text and self.pending:
            self.pending[0].notes.append(text)

    def elapsed_hint(self, seconds: float) -> None:
        """swaks ``--show-time-lapse``: the time the next reply took."""
        self.next_elapsed = seconds

    # -- server side ----------------------------------------------------------------------------

    def server(
        self,
        line: str,
        tls: bool | None = None,
        ts: int | None = None,
        clock: float | None = None,
    ) -> None:
        """One reply line the server sent."""
        self._ensure_session()
        secure = self.tls_state if tls is None else tls
        m = _REPLY.match(line.strip())
        if not m:
            if self.reply_code_now is not None and line.strip():
                self.reply_lines.append(line.strip())
            return
        code = int(m.group(1))
        if self.reply_code_now is not None and code != self.reply_code_now:
            self._finish_reply()  # a reply whose last line never came
        if self.data_mode:
            # The server answers only after the final "."; the content was not shown.
            self.data_mode = False
            self.pending.append(_Command(".", None, secure, ts, clock))
        if self.reply_code_now is None:
            self.reply_code_now = code
            self.reply_tls = secure
            self.reply_ts = ts
            self.reply_clock = clock
            self.reply_elapsed, self.next_elapsed = self.next_elapsed, None
        self.reply_lines.append(m.group(3) or "")
        if m.group(2) != "-":
            self._finish_reply()

    def _finish_reply(self) -> None:
        code = self.reply_code_now
        lines = self.reply_lines
        self.reply_code_now, self.reply_lines = None, []
        enhanced = None
        if lines:
            e = _ENHANCED.match(lines[0])
            if e:
                enhanced = e.group(1)
                # Multi-line replies repeat the enhanced code on every line (Gmail): drop each copy.
                lines = [
                    line[em.end() :]
                    if (em := _ENHANCED.match(line)) and em.group(1) == enhanced
                    else line
                    for line in lines
                ]
        if self.pending:
            cmd = self.pending.popleft()
        elif self.rows_in_session == 0:
            cmd = _Command("CONNECT", None, self.reply_tls)
        else:
            cmd = _Command(None, None, self.reply_tls)  # unsolicited: 421 shutting down …
        elapsed = self.reply_elapsed
        if elapsed is None and cmd.clock is not None and self.reply_clock is not None:
            elapsed = round((self.reply_clock - cmd.clock) % 86400, 6)
        self._row(cmd, code, enhanced, "\n".join(lines), self.reply_tls, elapsed, self.reply_ts)
        self._after_reply(cmd, code)

    def _after_reply(self, cmd: _Command, code: int | None) -> None:
        if code is None:
            return
        self.auth_continues = code == 334
        if cmd.command == "DATA" and code == 354:
            self.data_mode = True
        elif cmd.command == "STARTTLS" and 200 <= code < 300:
            self.tls_state = True
        elif cmd.command == "RCPT" and 200 <= code < 300:
            m = _ANGLE.search(cmd.argument or "")
            self.accepted.append(m.group(1) if m else cmd.argument)
        elif cmd.command == "." and self.lmtp and self.accepted:
            # LMTP answers the end of data once per accepted recipient, in RCPT order.
            self.argument[-1] = self.accepted[0]
            for rcpt in reversed(self.accepted[1:]):
                self.pending.appendleft(_Command(".", rcpt, cmd.tls, cmd.ts, cmd.clock))
            self.accepted = []

    def sendmail_note(self, address: str) -> None:
        """Sendmail's ``550 5.1.1 <a@b>... User unknown``: the reply before it answered a RCPT.

        Sendmail's transcript shows only the last command it sent (often ``DATA``) even when
        the replies that follow answer the pipelined RCPTs; the per-recipient note names them.
        """
        if self.rows_in_session == 0 or self.command[-1] != "DATA":
            return
        code = self.reply_code[-1]
        if code is None or code < 400:
            return
        data = _Command("DATA", self.argument[-1], self.tls[-1], self.ts[-1])
        self.command[-1] = "RCPT"
        self.argument[-1] = f"TO:<{address}>"
        self.pending.appendleft(data)

    # -- rows -----------------------------------------------------------------------------------

    def _row(
        self,
        cmd: _Command,
        code: int | None,
        enhanced: str | None,
        text: str | None,
        reply_tls: bool,
        elapsed: float | None,
        reply_ts: int | None,
    ) -> None:
        self.rows_in_session += 1
        self.session.append(self.sessions)
        self.seq.append(self.rows_in_session)
        self.ts.append(cmd.ts if cmd.ts is not None else reply_ts)
        self.command.append(cmd.command)
        self.argument.append(cmd.argument)
        self.reply_code.append(code)
        self.enhanced.append(enhanced)
        self.text.append(text)
        self.tls.append((cmd.tls or reply_tls) if cmd.command == "CONNECT" else cmd.tls)
        self.remote_host.append(self.host)
        self.elapsed.append(elapsed)

    def finish(self) -> None:
        """End of the session or of the input: a partial reply is kept, unanswered commands too."""
        if self.reply_code_now is not None:
            self._finish_reply()
        while self.pending:
            cmd = self.pending.popleft()
            self._row(cmd, None, None, " ".join(cmd.notes) or None, cmd.tls, None, None)

    def table(self, session: str) -> pa.Table:
        """The REPLIES table; sessions are named ``session#2`` … when the input held several."""
        self.finish()
        used = sorted(set(self.session))
        if len(used) > 1:
            number = {n: i for i, n in enumerate(used, 1)}  # sessions without rows leave no gap
            names = [f"{session}#{number[n]}" for n in self.session]
        else:
            names = [session] * len(self.session)
        columns = {
            "session": names,
            "seq": self.seq,
            "ts": self.ts,
            "command": self.command,
            "argument": self.argument,
            "reply_code": self.reply_code,
            "enhanced": self.enhanced,
            "text": self.text,
            "tls": self.tls,
            "remote_host": self.remote_host,
            "elapsed_s": self.elapsed,
        }
        return pa.Table.from_arrays(
            [pa.array(columns[f.name], type=f.type) for f in REPLIES], schema=REPLIES
        )


# -- format detection ---------------------------------------------------------------------------


def detect_format(lines: Iterable[str]) -> str:
    """The transcript shape most of ``lines`` look like: ``swaks``, ``smtplib`` or ``dialogue``.

    >>> detect_format(["=== Trying 192.0.2.25:25...", "<-  220 mx.example.com ESMTP"])
    'swaks'
    >>> detect_format(["send: 'ehlo client.example.org\\\\r\\\\n'"])
    'smtplib'
    """
    counts = {"swaks": 0, "smtplib": 0, "dialogue": 0}
    for line in lines:
        if line.startswith(("===", "***", " ->", " ~>", "**>", "*~>", "<- ", "<~ ", "<**", "<~*")):
            counts["swaks"] += 1
        elif _SMTPLIB.match(line):
            counts["smtplib"] += 1
        elif _DIALOGUE.match(line) or _EXIM_AFTER.match(line):
            counts["dialogue"] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else "dialogue"


# -- the three readers --------------------------------------------------------------------------


def _read_swaks(lines: list[str], d: _Dialogue) -> None:
    for line in lines:
        if m := _SWAKS_SEND.match(line):
            d.client(m.group(2), tls="~" in m.group(1), summary=True)
        elif m := _SWAKS_RECV.match(line):
            d.server(m.group(2).lstrip(" "), tls="~" in m.group(1))
        elif m := _SWAKS_INFO.match(line):
            text = m.group(2).strip()
            if m.group(1) == "***":
                d.note(text)
            elif t := _SWAKS_TRYING.match(text):
                target = t.group(1)  # host:port, [v6]:port or v6:port as swaks prints it
                host = target.rsplit(":", 1)[0] if ":" in target else target
                d.start_session(remote_host=host.strip("[]"), connect=target)
            elif t := _SWAKS_LAPSE.match(text):
                d.elapsed_hint(float(t.group(1)))
            elif text.startswith("TLS started"):
                d.tls_state = True


def _py_unrepr(literal: str) -> str:
    """The text of a Python ``repr`` of a str or bytes (as smtplib prints them), never raising."""
    s = literal.strip()
    is_bytes = s[:1] == "b"
    if is_bytes:
        s = s[1:]
    if len(s) >= 2 and s[0] in "'\"" and s[-1] == s[0]:
        s = s[1:-1]

    def unescape(m: re.Match[str]) -> str:
        e = m.group(1)
        if e in _PY_SIMPLE_ESCAPES:
            return _PY_SIMPLE_ESCAPES[e]
        if e[0] in "xuU" and len(e) > 1:
            value = int(e[1:], 16)
            # A lone surrogate or an out-of-range escape cannot become UTF-8 for Arrow.
            return "\ufffd" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else chr(value)
        if e[0].isdigit():
            return chr(int(e, 8))
        return "\\" + e

    text = _PY_ESCAPE.sub(unescape, s)
    if is_bytes:
        # \xNN escapes of bytes are UTF-8 octets (SMTPUTF8 addresses); rebuild and decode them.
        raw = text.encode("latin-1", errors="replace")
        return raw.decode("utf-8", errors="replace")
    return text


def _split_payload(text: str) -> list[str]:
    parts = text.split("\n")
    if parts and parts[-1] in {"", "\r"}:
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def _read_smtplib(lines: list[str], d: _Dialogue, day: date | None, tz: tzinfo) -> None:
    for line in lines:
        m = _SMTPLIB.match(line)
        if not m:
            if e := _PY_ERROR.match(line):
                d.note(f"{e.group(1)}: {e.group(2)}".strip())
            continue
        hh, mm, ss, frac, kind, payload = m.groups()
        clock: float | None = None
        ts: int | None = None
        if hh is not None:
            micro = int((frac or "0").ljust(6, "0"))
            if int(hh) < 24 and int(mm) < 60 and int(ss) < 60:
                clock = int(hh) * 3600 + int(mm) * 60 + int(ss) + micro / 1e6
                if day is not None:
                    local = datetime(
                        day.year, day.month, day.day, int(hh), int(mm), int(ss), micro, tz
                    )
                    ts = int(local.timestamp() * 1_000_000)
        if kind == "send":
            for part in _split_payload(_py_unrepr(payload)):
                d.client(part, ts=ts, clock=clock)
        elif kind == "reply":
            if payload[:2] in {"b'", 'b"'}:  # not the "retcode (250); Msg: …" summary
                for part in _split_payload(_py_unrepr(payload)):
                    d.server(part, ts=ts, clock=clock)
        elif kind == "connect":
            if c := _SMTPLIB_CONNECT.match(payload):
                host, port = c.group(1), c.group(2)
                shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                # Port 465 is implicit TLS (RFC 8314): smtplib.SMTP_SSL talks TLS from the start.
                d.start_session(host, shown, tls=port == "465", ts=ts, clock=clock)
        elif kind == "exception":
            d.note(payload)


def _read_dialogue(lines: list[str], d: _Dialogue) -> None:
    held: tuple[bool, str] | None = None  # a Postfix In:/Out: line that may continue below
    after_reply = False  # Sendmail's per-recipient note counts only right after a reply
    exim_host: str | None = None  # Exim names the host on the line before its error paragraph
    exim_indent = 0  # lines indented less than "SMTP error …" end its paragraph
    exim: list[str] | None = None  # the reply lines of an Exim "SMTP error … after" paragraph
    said: tuple[re.Match[str], list[str]] | None = None  # a Postfix "host … said:" paragraph

    def said_flush() -> None:
        nonlocal said
        if said is not None:
            _postfix_paragraph(d, said[0], " ".join(said[1]))
            said = None

    def release() -> None:
        nonlocal held
        if held is not None:
            is_client, text = held
            held = None
            if is_client:
                d.client(text)
            else:
                d.server(text)

    def exim_flush() -> None:
        nonlocal exim
        if exim is not None:
            for text in exim:
                d.server(text)
            exim = None

    for line in lines:
        follows_reply, after_reply = after_reply, False
        if line.startswith("> "):
            line = line[2:]  # a bounce quoted in a forwarded message
        if said is not None:
            if line[:2] in {"  ", " \t", "\t"} and line.strip():
                said[1].append(line.strip())
                continue
            said_flush()
        if held is not None and (w := _WRAPPED.match(line)):
            held = (held[0], f"{held[1]} {w.group(1).strip()}")
            continue
        release()
        if exim is not None:
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if not stripped or indent < exim_indent or _EXIM_AFTER.match(line):
                exim_flush()  # the paragraph ended: this line is read as any other
            elif h := _EXIM_HOST.match(stripped):
                d.host = h.group(1)
                if h.group(3):
                    exim.append(h.group(3))
                continue
            elif _REPLY_START.match(stripped) or not exim:
                exim.append(stripped)
                continue
            else:
                exim[-1] = f"{exim[-1]} {stripped}"  # Exim wraps long replies: one line again
                continue
        if m := _DIALOGUE.match(line):
            prefix, text = m.group(1), m.group(2).strip()
            is_client = prefix.startswith(_CLIENT_PREFIXES)
            if prefix in {"In:", "Out:"}:
                held = (is_client, text)
            elif is_client:
                d.client(text)
            else:
                d.server(text)
                after_reply = True
        elif t := _TALKING.match(line.strip()):
            d.start_session(remote_host=t.group(1))
        elif (n := _SENDMAIL_NOTE.match(line)) and follows_reply:
            d.sendmail_note(n.group(1))
        elif p := _POSTFIX_SAID.match(line):
            said = (p, [p.group(8)])
        elif (h := _EXIM_HOST.match(line.strip())) and not h.group(3):
            exim_host = h.group(1)
        elif a := _EXIM_AFTER.match(line):
            # A paragraph of its own: no greeting, the reply below answers the command named.
            d.start_session(remote_host=exim_host)
            exim_host = None
            exim_indent = len(line) - len(line.lstrip())
            after = a.group(1).strip().removesuffix(":").strip()
            low = after.lower().removeprefix("pipelined ")
            after = after[len(after) - len(low) :]
            if low == "end of data":
                d.pending.append(_Command(".", None, False))
            elif low == "initial connection":
                d.pending.append(_Command("CONNECT", None, False))
            elif after:
                d.client(after)
            exim = []
    release()
    exim_flush()
    said_flush()


def _postfix_paragraph(d: _Dialogue, m: re.Match[str], text: str) -> None:
    """One Postfix bounce paragraph as a session of its own: the command and the reply it got."""
    rcpt, host, _, verb, chost, cip, port, _ = m.groups()
    if verb is None:  # "connect to H[ip]:25: Connection refused": no reply at all
        d.start_session(remote_host=chost, connect=f"{chost}[{cip}]{port or ''}")
        d.note(text)
        return
    d.start_session(remote_host=host, connect="" if verb != "said" else None)
    reply, cut, tail = text.partition(_IN_REPLY_TO)
    while cut and _IN_REPLY_TO in tail:  # the reply itself may quote the phrase
        more, cut, tail = tail.partition(_IN_REPLY_TO)
        reply = f"{reply}{_IN_REPLY_TO}{more}"
    if verb == "said":
        command = tail.removesuffix(")").removesuffix(" command").strip() if cut else ""
        if command.lower() == "end of data":
            d.pending.append(_Command(".", None, False))
        elif command.upper().startswith("RCPT"):
            d.pending.append(_Command("RCPT", f"TO:<{rcpt}>", False))
        elif command:
            d.pending.append(_Command(command.split()[0].upper(), None, False))
    code = reply[:3]
    # Postfix flattens a multi-line reply into one line: "550-First … 550-Second … 550 Last".
    pieces = re.split(rf" (?={re.escape(code)}[ -])", reply) if code.isdigit() else [reply]
    for piece in pieces:
        d.server(piece)


# -- entry points -------------------------------------------------------------------------------


def parse_transcript(
    text: str,
    session: str = "",
    format: str = "auto",
    day: date | None = None,
    tz: tzinfo = UTC,
) -> pa.Table:
    """Read an SMTP transcript into the REPLIES table: one row per command/reply pair.

    ``format`` is one of :data:`FORMATS`. smtplib's level-2 times carry no date: give ``day``
    (and ``tz``, the zone the client ran in) to fill ``ts``; without it only ``elapsed_s`` is set.

    >>> t = parse_transcript('''=== Trying 192.0.2.25:25...
    ... <-  220 mx.example.com ESMTP
    ...  -> MAIL FROM:<a@example.org>
    ...  -> RCPT TO:<b@example.com>
    ... <-  250 2.1.0 Ok
    ... <** 451 4.7.1 Try again later''', session="s1")
    >>> [(r["command"], r["reply_code"]) for r in t.to_pylist()]
    [('CONNECT', 220), ('MAIL', 250), ('RCPT', 451)]
    """
    if format not in FORMATS:
        raise UsageError(f"unknown transcript format {format!r}; use one of {', '.join(FORMATS)}")
    # Lone surrogates cannot be stored as Arrow strings: make them visible replacement marks.
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    shape = detect_format(lines) if format == "auto" else format
    d = _Dialogue()
    if shape == "swaks":
        _read_swaks(lines, d)
    elif shape == "smtplib":
        _read_smtplib(lines, d, day, tz)
    else:
        _read_dialogue(lines, d)
    return d.table(session)


def transcript_text(raw: bytes) -> str:
    """The text to read transcripts from: a MIME message's decoded text parts, else ``raw`` itself.

    Bounces often carry the transcript base64- or quoted-printable-encoded; plain files are
    decoded as UTF-8 with replacement characters for anything else.

    >>> transcript_text(b"Subject: x\\nContent-Transfer-Encoding: base64\\n\\nPj4+IERBVEE=\\n")
    '>>> DATA'
    """
    head = raw[:4096]
    if re.match(rb"(?:From |[!-9;-~]{1,76}:)", head) and (
        re.search(rb"(?im)^content-transfer-encoding:\s*(?:base64|quoted-printable)", head)
        or re.search(rb"(?im)^content-type:\s*multipart/", head)
    ):
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        texts: list[str] = []
        for part in message.walk():
            if part.get_content_maintype() != "text" or part.get_content_subtype() == "html":
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    texts.append(payload.decode(charset, errors="replace"))
                except LookupError:
                    texts.append(payload.decode("utf-8", errors="replace"))
        if texts:
            return "\n".join(texts)
    return raw.decode("utf-8", errors="replace")


def parse_transcript_file(
    path: str | Path,
    session: str | None = None,
    format: str = "auto",
    day: date | None = None,
    tz: tzinfo = UTC,
) -> pa.Table:
    """Read the transcript in ``path`` (text or a bounce message, maybe compressed; ``-`` = stdin).

    The session is named after the file unless ``session`` says otherwise.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("C: QUIT\\nS: 221 2.0.0 Bye\\n")
    >>> parse_transcript_file(f.name).column("reply_code").to_pylist()
    [221]
    >>> os.unlink(f.name)
    """
    from mailtrace.sources import STDIN, Source, iter_blocks, open_source

    text = str(path)
    source = Source("<stdin>", None) if text == STDIN else Source(text, Path(path))
    if source.path is not None and not source.path.is_file():
        raise InputError(text, "no such file" if not source.path.exists() else "not a file")
    # Not read_blocks: a bounce may carry a stray NUL and is still worth reading.
    stream = open_source(source)
    try:
        raw = b"".join(iter_blocks(stream, source.name))
    except OSError as exc:
        raise InputError(source.name, f"read error: {exc.strerror or exc}") from None
    finally:
        if source.path is not None:
            stream.close()
    name = source.path.name if source.path is not None else source.name
    return parse_transcript(
        transcript_text(raw), name if session is None else session, format, day, tz
    )


def classify_replies(table: pa.Table) -> pa.Table:
    """``table`` (REPLIES) with the FAILURES columns: each failed reply classified.

    A failure is a 4xx/5xx reply, or a command the client gave up on with an error (a refused
    connection); other rows keep the failure columns null.

    >>> t = classify_replies(parse_transcript(
    ...     "S: 220 mx.example.com\\nC: RCPT TO:<x@example.com>\\nS: 550 5.1.1 User unknown"))
    >>> t.column("category").to_pylist(), t.column("family").to_pylist()
    ([None, 'unknown_user'], [None, 'recipient'])
    """
    import pyarrow.compute as pc

    from mailtrace.failures import classify_table
    from mailtrace.schema import FAILURES

    code = table.column("reply_code")
    gave_up = pc.and_(pc.is_null(code), pc.invert(pc.is_null(table.column("text"))))
    failed = pc.fill_null(pc.or_kleene(pc.greater_equal(code, 400), gave_up), False)
    classified = classify_table(table)
    # A 250 with an enhanced status is "delivered" to the classifier; here only failures count.
    for f in FAILURES:
        i = classified.schema.get_field_index(f.name)
        column = pc.if_else(failed, classified.column(i), pa.nulls(len(classified), f.type))
        classified = classified.set_column(i, f, column)
    return classified


def read_transcript(
    path: str | Path, format: str = "auto", day: date | None = None, tz: tzinfo = UTC
) -> pa.Table:
    """The transcript in ``path`` as REPLIES plus the FAILURES columns (what the CLI shows).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write(">>> RCPT To:<x@example.com>\\n<<< 452 4.2.2 Mailbox full\\n")
    >>> read_transcript(f.name).column("category").to_pylist()
    ['mailbox_full']
    >>> os.unlink(f.name)
    """
    return classify_replies(parse_transcript_file(path, format=format, day=day, tz=tz))


def read_transcripts(
    inputs: Iterable[str | Path],
    format: str = "auto",
    day: date | None = None,
    tz: tzinfo = UTC,
    on_error: Callable[[InputError], None] | None = None,
) -> list[tuple[str, pa.Table]]:
    """Every transcript named by ``inputs`` (files, directories, globs, ``-``), each classified.

    Returns ``(name, table)`` per file. An input that cannot be read is passed to ``on_error``
    and skipped; without ``on_error`` the InputError is raised.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("S: 220 mx.example.com\\nC: QUIT\\nS: 221 Bye\\n")
    >>> [(pathlib.Path(n).name, t.num_rows) for n, t in read_transcripts([d])]
    [('a.txt', 2)]
    """
    from mailtrace.sources import STDIN, expand_inputs

    def failed(exc: InputError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)

    results: list[tuple[str, pa.Table]] = []
    for item in inputs:
        try:
            sources = expand_inputs([item])
        except InputError as exc:
            failed(exc)
            continue
        for source in sources:
            try:
                where = STDIN if source.path is None else source.path
                results.append((source.name, read_transcript(where, format, day, tz)))
            except InputError as exc:
                failed(exc)
    return results
