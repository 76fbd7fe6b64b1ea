"""Open anything a user points at: paths, directories, globs and ``-`` for stdin.

Compression is recognised by its magic bytes, never by the file name: gzip, bzip2, xz and zstd
(zstd through the ``zstandard`` package, the standard library has none before 3.14). Rotated sets
(``maillog.3.gz … maillog.1 maillog``, ``maillog-20261101.gz``, ``mainlog.1``) come out oldest
first so that a stream of events is chronological. Data is read in large binary blocks cut at line
boundaries, which keeps the per-line cost of reading near zero.

A damaged compressed stream yields every block read before the damage, then raises
:class:`~mailtrace.errors.DecompressError`; a binary file raises
:class:`~mailtrace.errors.InputError` before anything is parsed.

>>> import gzip, io
>>> blob = gzip.compress(b"first line\\nsecond line\\n")
>>> sniff_compression(blob[:8])
'gzip'
>>> b"".join(iter_blocks(io.BytesIO(blob), "demo.gz"))
b'first line\\nsecond line\\n'
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from mailtrace.errors import DecompressError, InputError

#: Bytes read per block: large enough that per-block overhead vanishes, small enough to stream.
BLOCK_SIZE = 4 << 20

#: A "line" longer than this is cut (and counted as damage by the reader): bounded memory even on
#: a huge file without a single newline.
MAX_LINE = 32 << 20

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)

STDIN = "-"


class ByteStream(Protocol):
    """Anything with a binary ``read``: a file, stdin's buffer, a byte range of a file."""

    def read(self, n: int, /) -> bytes: ...


# Records here and in mailtrace.logs.plan and .ahead are NamedTuples, not dataclasses: the
# report's parse begins once they are imported, and dataclasses' import (inspect, ast …)
# was 16 ms of that single-threaded start.
class Source(NamedTuple):
    """One input: a file (``path``) or stdin (``path`` is None); ``name`` is what messages show."""

    name: str
    path: Path | None

    @property
    def is_stdin(self) -> bool:
        return self.path is None

    def mtime(self) -> float | None:
        """Modification time in seconds since the epoch (None for stdin)."""
        if self.path is None:
            return None
        try:
            return self.path.stat().st_mtime
        except OSError as exc:
            raise InputError(self.name, f"cannot read: {exc.strerror or exc}") from None


def sniff_compression(head: bytes) -> str | None:
    """The compression of a stream from its first bytes, or None for plain data.

    >>> sniff_compression(b"BZh91AY&SY"), sniff_compression(b"Mar  7 10:00:00 mx")
    ('bzip2', None)
    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


# --- finding the inputs -------------------------------------------------------------------------

# maillog, maillog.1, maillog.2.gz, maillog-20261101, maillog-20261101.gz, mainlog.1.bz2 …
_ROTATED = re.compile(
    r"^(?P<base>.+?)(?:\.(?P<n>\d{1,4})|-(?P<date>\d{8}(?:\d{2})?))?"
    r"(?P<ext>(?:\.(?:gz|bz2|xz|zst|zstd))?)$"
)
_GLOB_CHARS = frozenset("*?[")


def rotation_key(name: str) -> tuple[str, int, str]:
    """Sort key that puts a rotated set oldest first.

    Numbered generations count backwards (``.3`` is older than ``.1``, which is older than the live
    file); dated generations count forwards and come before the live file.

    >>> names = ["maillog", "maillog.1", "maillog.3.gz", "maillog.2.gz"]
    >>> sorted(names, key=rotation_key)
    ['maillog.3.gz', 'maillog.2.gz', 'maillog.1', 'maillog']
    >>> sorted(["maillog", "maillog-20261108.gz", "maillog-20261101.gz"], key=rotation_key)
    ['maillog-20261101.gz', 'maillog-20261108.gz', 'maillog']
    """
    m = _ROTATED.match(name)
    if m is None:  # pragma: no cover - the pattern matches every non-empty name
        return (name, 0, "")
    base = m["base"]
    if m["n"] is not None:
        return (base, -int(m["n"]), "")
    if m["date"] is not None:
        return (base, -1_000_000, m["date"])
    return (base, 0, "")


def _sorted_files(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (str(p.parent), *rotation_key(p.name)))


def is_dataset(path: Path) -> bool:
    """Whether ``path`` is a Parquet dataset (``mailtrace logs -o``) rather than a log: a
    ``.parquet`` file, or a directory holding one.

    >>> is_dataset(Path("out/maillog.parquet")), is_dataset(Path("/var/log/maillog"))
    (True, False)
    """
    if path.is_dir():
        return next(path.rglob("*.parquet"), None) is not None
    return path.suffix == ".parquet"


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[Source]:
    """Every file named by ``inputs``: files, directories (recursively), globs and ``-`` (stdin).

    Directories and globs come out grouped by folder, each rotated set oldest first. Hidden files
    (``.name``) inside directories are skipped. A name that matches nothing raises InputError.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("maillog", "maillog.1", "maillog.2.gz"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [s.name.rsplit("/", 1)[-1] for s in expand_inputs([d])]
    ['maillog.2.gz', 'maillog.1', 'maillog']
    """
    sources: list[Source] = []
    for item in inputs:
        text = os.fspath(item)
        if text == STDIN:
            sources.append(Source("<stdin>", None))
            continue
        path = Path(text)
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            sources.extend(Source(str(p), p) for p in _sorted_files(found))
        elif path.exists():
            sources.append(Source(text, path))
        elif _GLOB_CHARS & set(text):
            import glob

            matches = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
            if not matches:
                raise InputError(text, "no file matches this pattern")
            sources.extend(Source(str(p), p) for p in _sorted_files(matches))
        else:
            raise InputError(text, "no such file or directory")
    return sources


# --- reading -------------------------------------------------------------------------------------


def open_source(source: Source) -> BinaryIO:
    """The raw (still compressed) byte stream of ``source``."""
    if source.path is None:
        return sys.stdin.buffer
    try:
        return source.path.open("rb")
    except IsADirectoryError:
        raise InputError(source.name, "is a directory") from None
    except OSError as exc:
        raise InputError(source.name, f"cannot open: {exc.strerror or exc}") from None


def _gzip_module() -> Any:
    """zlib-ng's zlib (the same API, inflating about twice as fast: rotated logs are mostly
    gzip), or the standard library's where it is not installed."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # pragma: no cover - zlib-ng is a dependency; a platform may lack wheels
        return zlib
    return zlib_ng


def _decompressor(kind: str) -> _Decoder:
    if kind == "gzip":
        inflate = _gzip_module()
        # 32 + MAX_WBITS: expect a gzip header.
        return _Decoder(kind, lambda: inflate.decompressobj(32 + zlib.MAX_WBITS))
    # Imported here: a plain log's parse starts without them (see mailtrace.pending).
    if kind == "bzip2":
        import bz2

        return _Decoder(kind, bz2.BZ2Decompressor)
    if kind == "xz":
        import lzma

        return _Decoder(kind, lzma.LZMADecompressor)
    import zstandard

    return _Decoder(kind, lambda: zstandard.ZstdDecompressor().decompressobj())


class _Decoder:
    """Incremental decompression of a possibly multi-member stream (``cat a.gz b.gz``).

    ``factory`` makes one member's decompressor (zlib, bz2, lzma and zstandard objects share the
    ``decompress``/``eof``/``unused_data`` protocol); a new one starts at each member's end.
    """

    def __init__(self, name: str, factory: Callable[[], Any]) -> None:
        self._name = name
        self._factory = factory
        self._d = factory()
        self._clean = True

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._d.decompress(data))
            if self._d.eof:
                data = self._d.unused_data
                self._d = self._factory()
                self._clean = True
                if not data.strip(b"\x00"):  # trailing padding some tools append
                    break
            else:
                self._clean = False
                data = b""
        return b"".join(out)

    def finish(self) -> str | None:
        """None when the stream ended cleanly, else what is wrong with its end."""
        return None if self._clean else f"truncated {self._name} stream"


#: Compressed input is inflated this much at a time. Log text compresses 6-10 times, so each
#: piece comes out at 1.5-2.5 MB and stays in cache; inflating 4 MB at once made 25 MB pieces
#: whose copies and fresh pages cost 0.1 s a million lines.
INFLATE_READ = 256 << 10


def _raw_chunks(
    stream: ByteStream, name: str, block_size: int, decompress: bool
) -> Iterator[bytes]:
    """Data of ``stream`` in pieces: ``block_size`` bytes at a time when plain, else what each
    :data:`INFLATE_READ` bytes of compressed data inflate to."""
    head = stream.read(block_size)
    kind = sniff_compression(head) if decompress else None
    if kind is None:
        data = head
        while data:
            yield data
            data = stream.read(block_size)
        return
    import lzma  # for its error class (see _decompressor)

    decoder = _decompressor(kind)
    data = head
    while data:
        for start in range(0, len(data), INFLATE_READ):
            try:
                piece = decoder.feed(data[start : start + INFLATE_READ])
            except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
                raise DecompressError(name, f"damaged {kind} stream ({exc})") from None
            except Exception as exc:  # zstandard.ZstdError, zlib_ng.error: not among the above
                raise DecompressError(name, f"damaged {kind} stream ({exc})") from None
            if piece:
                yield piece
        data = stream.read(INFLATE_READ)
    problem = decoder.finish()
    if problem is not None:
        raise DecompressError(name, problem)


def iter_blocks(
    stream: ByteStream,
    name: str,
    block_size: int = BLOCK_SIZE,
    max_line: int = MAX_LINE,
    *,
    decompress: bool = True,
) -> Iterator[bytes]:
    """Blocks of whole lines from ``stream`` (decompressed when it is compressed).

    Every block but the last ends with ``\\n``; concatenated, the blocks are the whole data. A line
    longer than ``max_line`` is cut so memory stays bounded. On damaged compressed data the blocks
    read so far are yielded first, then :class:`DecompressError` is raised. ``decompress=False``
    reads the bytes as they are (a byte range in the middle of a plain file).

    >>> import io
    >>> list(iter_blocks(io.BytesIO(b"a\\nbb\\nccc"), "x", block_size=3))
    [b'a\\n', b'bb\\n', b'ccc']
    """
    pending = b""
    try:
        for piece in _raw_chunks(stream, name, block_size, decompress):
            data = pending + piece if pending else piece
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
                pending = data[cut:]
            elif len(data) > max_line:
                yield data
                pending = b""
            else:
                pending = data
    except DecompressError:
        if pending:
            yield pending
        raise
    if pending:
        yield pending


def iter_plain_blocks(
    path: Path,
    start: int = 0,
    end: int | None = None,
    block_size: int = BLOCK_SIZE,
    max_line: int = MAX_LINE,
) -> Iterator[tuple[bytearray, int]]:
    """The blocks :func:`iter_blocks` cuts from bytes ``[start, end)`` of a plain file, in place.

    Yields ``(buffer, n)``: the block is ``buffer[:n]``. The buffer is reused (the partial line
    after a block moves to its front and the next piece is read in behind it), so each block
    must be used before the next is asked for; nothing else is copied. Reading into one buffer
    rather than mapping the file: a log truncated while it is read (logrotate's copytruncate)
    must end the input, not the process.

    >>> import tempfile
    >>> log = Path(tempfile.mkdtemp()) / "maillog"
    >>> _ = log.write_bytes(b"a\\nbb\\nccc")
    >>> [bytes(buf[:n]) for buf, n in iter_plain_blocks(log, block_size=3)]
    [b'a\\n', b'bb\\n', b'ccc']
    """
    # Room for a partial line carried over besides a whole block: growing the buffer for it
    # reallocated (and copied) the block's 4 MB at every block but the first.
    buf = bytearray(block_size + (64 << 10))
    have = 0  # the pending partial line, at the front of buf
    left = None if end is None else max(0, end - start)
    with path.open("rb", buffering=0) as f:
        f.seek(start)
        while left is None or left > 0:
            want = block_size if left is None else min(block_size, left)
            if len(buf) < have + want:
                buf.extend(bytes(have + want - len(buf)))
            got = 0
            with memoryview(buf) as view:
                while got < want:
                    n = f.readinto(view[have + got : have + want])
                    if not n:
                        break
                    got += n
            if left is not None:
                left -= got
            total = have + got
            cut = buf.rfind(b"\n", 0, total) + 1
            if cut:
                yield buf, cut
                buf[: total - cut] = buf[cut:total]
                have = total - cut
            elif total > max_line:
                yield buf, total
                have = 0
            else:
                have = total
            if got < want:
                break
    if have:
        yield buf, have


def check_not_binary(first_block: bytes, name: str) -> None:
    """Raise InputError when ``first_block`` looks like binary data rather than a text log.

    >>> check_not_binary(b"Mar  7 10:00:00 mx postfix/qmgr[1]: x\\n", "maillog")
    >>> check_not_binary(b"\\x7fELF\\x02\\x01\\x00\\x00", "a.out")
    Traceback (most recent call last):
    ...
    mailtrace.errors.InputError: a.out: binary data, not a text log (NUL bytes in the first block)
    """
    if b"\x00" in first_block[:65536]:
        raise InputError(name, "binary data, not a text log (NUL bytes in the first block)")


def read_blocks(source: Source, block_size: int = BLOCK_SIZE) -> Generator[bytes, None, None]:
    """Blocks of whole lines of ``source``, checked not to be binary; see :func:`iter_blocks`."""
    stream = open_source(source)
    try:
        first = True
        try:
            for block in iter_blocks(stream, source.name, block_size):
                if first:
                    check_not_binary(block, source.name)
                    first = False
                yield block
        except OSError as exc:
            raise InputError(source.name, f"read error: {exc.strerror or exc}") from None
    finally:
        if source.path is not None:
            stream.close()


def is_plain_file(source: Source) -> bool:
    """Whether ``source`` is an uncompressed regular file, which can be re-read and split.

    >>> is_plain_file(Source("<stdin>", None))
    False
    """
    if source.path is None:
        return False
    try:
        with source.path.open("rb") as f:
            return sniff_compression(f.read(8)) is None
    except OSError as exc:
        raise InputError(source.name, f"cannot open: {exc.strerror or exc}") from None
