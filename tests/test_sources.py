"""Opening inputs: compression by magic bytes, rotated order, blocks of whole lines, bad input."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from pathlib import Path

import pytest
import zstandard

from mailtrace.errors import DecompressError, InputError
from mailtrace.sources import (
    Source,
    expand_inputs,
    is_plain_file,
    iter_blocks,
    read_blocks,
    rotation_key,
    sniff_compression,
)

TEXT = b"".join(
    b"Mar  7 10:00:%02d mx postfix/qmgr[7]: 4AbC%02d: removed\n" % (i, i) for i in range(60)
)

COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
}


def _read(path: Path) -> bytes:
    return b"".join(read_blocks(Source(str(path), path)))


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compression_is_recognised_by_magic_not_by_name(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "maillog.txt"  # a name that says nothing about the compression
    path.write_bytes(COMPRESSORS[kind](TEXT))
    assert sniff_compression(path.read_bytes()[:8]) == kind
    assert _read(path) == TEXT
    assert not is_plain_file(Source(str(path), path))


def test_a_plain_file_named_gz_is_read_as_plain(tmp_path: Path) -> None:
    path = tmp_path / "maillog.gz"
    path.write_bytes(TEXT)
    assert _read(path) == TEXT
    assert is_plain_file(Source(str(path), path))


def test_concatenated_gzip_members_are_one_stream(tmp_path: Path) -> None:
    path = tmp_path / "maillog.1.gz"
    path.write_bytes(gzip.compress(TEXT[:500]) + gzip.compress(TEXT[500:]))
    assert _read(path) == TEXT


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_stream_yields_what_was_read_then_raises(tmp_path: Path, kind: str) -> None:
    big = TEXT * 400
    data = COMPRESSORS[kind](big)
    path = tmp_path / "maillog.2"
    path.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(DecompressError) as info:
        for block in read_blocks(Source(str(path), path), block_size=4096):
            got.append(block)
    assert str(info.value).startswith(f"{path}: ")
    kept = b"".join(got)
    assert big.startswith(kept)
    if kind in ("gzip", "xz"):  # stream formats give back data before the damage
        assert kept


def test_binary_file_is_a_clear_input_error(tmp_path: Path) -> None:
    path = tmp_path / "a.out"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary data, not a text log"):
        _read(path)


def test_blocks_end_at_line_boundaries_and_keep_long_lines_whole() -> None:
    long_line = b"Mar  7 10:00:00 mx postfix/smtpd[1]: " + b"x" * (1 << 20) + b"\n"
    data = TEXT + long_line + TEXT
    blocks = list(iter_blocks(io.BytesIO(data), "t", block_size=4096))
    assert b"".join(blocks) == data
    assert all(b.endswith(b"\n") for b in blocks)
    assert any(long_line in b for b in blocks)


def test_a_line_beyond_max_line_is_cut_so_memory_stays_bounded() -> None:
    data = b"y" * 50_000
    blocks = list(iter_blocks(io.BytesIO(data), "t", block_size=4096, max_line=10_000))
    assert b"".join(blocks) == data
    assert max(len(b) for b in blocks) <= 10_000 + 4096


def test_rotated_sets_come_out_oldest_first(tmp_path: Path) -> None:
    names = ["maillog", "maillog.1", "maillog.2.gz", "maillog.10.gz", "maillog.3.gz"]
    dated = ["mail.log-20261101.gz", "mail.log", "mail.log-20261025.gz"]
    exim = ["mainlog", "mainlog.1", "mainlog.2.xz"]
    for name in names + dated + exim:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"")
    got = [Path(s.name).name for s in expand_inputs([tmp_path])]
    assert got == [
        "mail.log-20261025.gz",
        "mail.log-20261101.gz",
        "mail.log",
        "maillog.10.gz",
        "maillog.3.gz",
        "maillog.2.gz",
        "maillog.1",
        "maillog",
        "mainlog.2.xz",
        "mainlog.1",
        "mainlog",
    ]
    assert rotation_key("maillog.2.gz") < rotation_key("maillog.1") < rotation_key("maillog")


def test_globs_directories_and_missing_inputs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("sub/maillog.1", "sub/maillog", "other.log"):
        (tmp_path / name).write_bytes(b"")
    got = [Path(s.name).name for s in expand_inputs([str(tmp_path / "sub" / "maillog*")])]
    assert got == ["maillog.1", "maillog"]
    assert len(expand_inputs([tmp_path])) == 3
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([tmp_path / "absent"])
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.nothing")])


def test_stdin_is_read_and_decompressed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(gzip.compress(TEXT)))
    monkeypatch.setattr(sys, "stdin", fake)
    (source,) = expand_inputs(["-"])
    assert source.is_stdin and source.mtime() is None
    assert b"".join(read_blocks(source)) == TEXT
