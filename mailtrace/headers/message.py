"""Read messages into their header fields: .eml, mbox, pasted header blocks, Outlook .msg.

Only the header block matters to header analysis, so a message is read up to its first empty
line and its body is skipped (an mbox of large attachments costs little more than its headers).
Header values are unfolded (the line breaks of folding removed, the whitespace kept) and kept
as written: decoding of RFC 2047 words is the summary's business.

>>> m = parse_headers(b"Received: from a.example by b.example; Tue, 3 Mar 2026 10:00:00 +0000\\n"
...                   b"Subject: hi\\n\\nbody\\n", "x.eml")
>>> m.get("subject"), len(m.get_all("Received")), m.has_body
('hi', 1, True)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailtrace.errors import InputError
from mailtrace.sources import Source, expand_inputs, iter_blocks, open_source

#: Field names that only mail has; a text needs one of them to count as a message.
MAIL_FIELDS = frozenset(
    {
        "received",
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "return-path",
        "delivered-to",
        "mime-version",
        "content-type",
        "authentication-results",
        "dkim-signature",
        "arc-seal",
        "received-spf",
        "x-received",
        "reply-to",
        "sender",
        "in-reply-to",
        "references",
    }
)

# Outlook .msg files are OLE2 compound documents; this is their magic number.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How much of the start of an input is inspected to tell text from binary.
_SNIFF = 8192
# A field name is printable ASCII without the colon (RFC 5322 §2.2).
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Control bytes that never occur in text (tab, newlines and form feed do).
_CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


@dataclass(frozen=True, slots=True)
class MessageHeaders:
    """The header fields of one message, in order, with what could not be read."""

    source: str  # "inbox.mbox#3", "msg.eml", "<stdin>"
    fields: tuple[tuple[str, str], ...]  # (name as written, unfolded value)
    problems: tuple[str, ...] = ()
    has_body: bool = False

    def get_all(self, name: str) -> list[str]:
        """Every value of field ``name`` (case-insensitive), top to bottom.

        >>> MessageHeaders("m", (("To", "a@example.com"), ("to", "b@example.com"))).get_all("TO")
        ['a@example.com', 'b@example.com']
        """
        key = name.lower()
        return [v for n, v in self.fields if n.lower() == key]

    def get(self, name: str) -> str | None:
        """The first value of field ``name`` (case-insensitive), or None.

        >>> MessageHeaders("m", (("Subject", "hi"),)).get("subject")
        'hi'
        """
        key = name.lower()
        for n, v in self.fields:
            if n.lower() == key:
                return v
        return None


@dataclass
class _Block:
    """Header lines of one message being collected."""

    lines: list[str] = field(default_factory=list)
    has_body: bool = False


def _decode(line: bytes) -> str:
    # Headers should be ASCII; 8-bit bytes are usually UTF-8 and otherwise Latin-1-ish.
    # Replacement characters keep the rest of the line readable either way.
    return line.decode("utf-8", errors="replace")


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROLS))
    return controls > max(16, len(head) // 10)


def _fields(lines: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Unfold header lines into (name, value) pairs, noting lines that are not fields."""
    names: list[str] = []
    parts: list[list[str]] = []
    problems: list[str] = []
    stray = 0
    joined: list[int] = []
    for number, line in enumerate(lines, 1):
        if line[:1] in (" ", "\t"):
            if parts:
                parts[-1].append(line)
            else:
                stray += 1
            continue
        colon = line.find(":")
        name = line[:colon].rstrip(" \t") if colon > 0 else ""
        if name and _FIELD_NAME.fullmatch(name):
            names.append(name)
            parts.append([line[colon + 1 :].lstrip(" \t")])
        elif parts:
            # Pasted headers often lose the indentation of folded lines: keep the text with the
            # field it most likely belongs to, and say so.
            parts[-1].append(" " + line)
            joined.append(number)
        else:
            stray += 1
    if joined:
        problems.append(
            f"{len(joined)} line(s) that are not header fields joined to the field above "
            f"(first: line {joined[0]})"
        )
    if stray:
        problems.append(f"{stray} line(s) before the first header field ignored")
    return [(n, "".join(p).rstrip()) for n, p in zip(names, parts, strict=True)], problems


def _message(block: _Block, source: str) -> MessageHeaders:
    pairs, problems = _fields(block.lines)
    if not pairs:
        raise InputError(source, "no header fields found: not an email message")
    if not any(n.lower() in MAIL_FIELDS for n, _ in pairs):
        raise InputError(
            source, "no mail header fields (From, Date, Received …) found: not an email message"
        )
    return MessageHeaders(source, tuple(pairs), tuple(problems), block.has_body)


def _header_blocks(lines: Iterable[bytes], mbox: bool) -> Iterator[_Block]:
    """Split lines into messages' header blocks; bodies are skipped, not kept."""
    block: _Block | None = None if mbox else _Block()
    in_headers = True
    previous_empty = True
    for raw in lines:
        stripped = raw.rstrip(b"\r\n")
        if mbox and previous_empty and stripped.startswith(b"From "):
            # An mbox separator: a "From " line at the start or after an empty line.
            if block is not None:
                yield block
            block = _Block()
            in_headers = True
            previous_empty = False
            continue
        previous_empty = not stripped.strip()
        if block is None:
            continue  # text before the first separator is not part of any message
        if in_headers:
            if previous_empty:
                if block.lines:
                    in_headers = False
                continue  # blank lines before the first field (pasted text) are skipped
            block.lines.append(_decode(stripped))
        elif not previous_empty:
            block.has_body = True
            if not mbox:
                break  # one message: its body is never read
    if block is not None:
        yield block


def _lines(data: bytes) -> Iterator[bytes]:
    # splitlines(keepends) would also split on \x0b, \x1c … which may occur inside header text.
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start : end + 1]
        start = end + 1


def _is_mbox(data: bytes) -> bool:
    return data.lstrip(b"\r\n").startswith(b"From ")


def _check_text(data: bytes, source: str) -> None:
    if not data.strip():
        raise InputError(source, "empty input: no message to read")
    if _looks_binary(data[:_SNIFF]):
        raise InputError(source, "binary data, not an email message (.eml, mbox or .msg)")


def parse_headers(raw: bytes | str, source: str = "<text>") -> MessageHeaders:
    """The header fields of one message (an .eml or a pasted header block), without I/O.

    Raises :class:`~mailtrace.errors.InputError` for empty, binary or non-mail text. A leading
    mbox ``From `` line is skipped.

    >>> parse_headers("From: a@example.com\\nSubject: folded\\n  line\\n").get("Subject")
    'folded  line'
    >>> parse_headers("just some notes\\n")
    Traceback (most recent call last):
    ...
    mailtrace.errors.InputError: <text>: no header fields found: not an email message
    """
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw
    _check_text(data, source)
    lines = _lines(data)
    if _is_mbox(data):
        found = _mbox_messages(lines, source)
        first = found[0] if found else InputError(source, "mbox without any message")
        if isinstance(first, InputError):
            raise first
        return MessageHeaders(source, first.fields, first.problems, first.has_body)
    return _single(lines, source)


def _single(lines: Iterable[bytes], source: str) -> MessageHeaders:
    for block in _header_blocks(lines, mbox=False):
        return _message(block, source)
    raise InputError(source, "no header fields found: not an email message")


def _mbox_messages(lines: Iterable[bytes], source: str) -> list[MessageHeaders | InputError]:
    out: list[MessageHeaders | InputError] = []
    for number, block in enumerate(_header_blocks(lines, mbox=True), 1):
        try:
            out.append(_message(block, f"{source}#{number}"))
        except InputError as exc:
            out.append(exc)
    return out


def parse_mbox(raw: bytes, source: str = "<mbox>") -> list[MessageHeaders | InputError]:
    """Every message of an mbox, in order; a message that cannot be read is its InputError.

    Messages are named ``source#1``, ``source#2`` … (1-based, in file order).

    >>> box = b"From a@x Tue Mar  3 10:00:00 2026\\nSubject: one\\n\\nFrom me\\n\\n" \\
    ...       b"From b@x Tue Mar  3 10:01:00 2026\\nSubject: two\\n\\nbody\\n"
    >>> [m.get("Subject") for m in parse_mbox(box, "box") if isinstance(m, MessageHeaders)]
    ['one', 'two']
    """
    _check_text(raw, source)
    out = _mbox_messages(_lines(raw), source)
    if not out:
        raise InputError(source, "mbox without any message")
    return out


def _parse_msg(data: bytes, source: str) -> MessageHeaders:
    """Transport headers of an Outlook .msg file, through the optional extract-msg package."""
    try:
        import extract_msg
    except ImportError:
        raise InputError(
            source,
            "Outlook .msg files need the optional extra: pip install 'mailtrace[msg]'",
        ) from None
    try:
        msg = extract_msg.openMsg(data)  # accepts the file's bytes as well as a path
        try:
            # The transport headers as received; without them extract-msg can only synthesise
            # a header from the message properties (no Received chain).
            text = getattr(msg, "headerText", None) or ""
            text = text.removeprefix("Microsoft Mail Internet Headers Version 2.0").lstrip()
            if not text and getattr(msg, "header", None) is not None:
                text = msg.header.as_string()
        finally:
            msg.close()
    except Exception as exc:  # extract-msg raises many unrelated types on damaged files
        raise InputError(
            source, f"could not read Outlook .msg file ({type(exc).__name__})"
        ) from None
    if not text.strip():
        raise InputError(source, "Outlook .msg file carries no transport headers")
    return parse_headers(text, source)


def parse_bytes(data: bytes, source: str) -> list[MessageHeaders | InputError]:
    """The messages in one input's bytes, whatever its kind (.eml, mbox, header block, .msg).

    >>> [m.source for m in parse_bytes(b"Subject: x\\n", "paste.txt")]
    ['paste.txt']
    """
    return parse_blocks([data], source)


def parse_blocks(blocks: Iterable[bytes], source: str) -> list[MessageHeaders | InputError]:
    """Like :func:`parse_bytes` for data arriving in blocks cut at line ends (a stream).

    Reads only as far as it must: a single message's body is never consumed, so a 50 MB
    attachment costs nothing. An mbox is read to its end, keeping headers only.

    >>> [m.get("Subject") for m in parse_blocks([b"Subject: x\\n", b"\\nbody\\n"], "m")]
    ['x']
    """
    it = iter(blocks)
    first = next(it, b"")
    if first.startswith(_OLE_MAGIC):
        return [_parse_msg(first + b"".join(it), source)]
    if not first.strip():
        first += b"".join(it)  # only whitespace so far: the verdict needs the rest
    _check_text(first, source)
    lines = itertools.chain(_lines(first), (line for block in it for line in _lines(block)))
    if not _is_mbox(first):
        return [_single(lines, source)]
    found = _mbox_messages(lines, source)
    if not found:
        raise InputError(source, "mbox without any message")
    if len(found) == 1 and isinstance(found[0], MessageHeaders):
        # A single message saved with its mbox separator is just that message.
        m = found[0]
        return [MessageHeaders(source, m.fields, m.problems, m.has_body)]
    return found


def _read(source: Source) -> list[MessageHeaders | InputError]:
    """The messages of one input, streamed (and decompressed) through :mod:`mailtrace.sources`."""
    stream = open_source(source)
    try:
        return parse_blocks(iter_blocks(stream, source.name), source.name)
    except OSError as exc:
        raise InputError(source.name, f"read error: {exc.strerror or exc}") from None
    finally:
        if source.path is not None:
            stream.close()


def read_headers(
    paths: Iterable[str | Path],
    on_error: Callable[[InputError], None] | None = None,
) -> list[MessageHeaders]:
    """Read every message of files, directories (recursively) and ``-`` (stdin).

    Compressed files (gzip, bzip2, xz, zstd) are read through :mod:`mailtrace.sources`, and
    globs are expanded. Without ``on_error`` the first unreadable input raises its
    :class:`~mailtrace.errors.InputError`; with it, each one is reported there and skipped.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "a.eml").write_text("Subject: a\\n\\nbody\\n")
    ...     _ = Path(d, "b.eml").write_bytes(b"\\x00\\x01binary")
    ...     bad = []
    ...     [m.get("Subject") for m in read_headers([d], on_error=bad.append)], len(bad)
    (['a'], 1)
    """
    messages: list[MessageHeaders] = []
    for given in paths:
        found: list[MessageHeaders | InputError] = []
        try:
            sources = expand_inputs([given])
            if not sources:
                raise InputError(str(given), "directory without any file")
        except InputError as exc:
            sources, found = [], [exc]
        for source in sources:
            try:
                found.extend(_read(source))
            except InputError as exc:
                found.append(exc)
        for item in found:
            if isinstance(item, MessageHeaders):
                messages.append(item)
            elif on_error is None:
                raise item
            else:
                on_error(item)
    return messages
