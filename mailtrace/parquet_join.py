"""One Parquet file from Parquet files of the same schema, joined row group by row group.

The log batch encodes each byte range's rows in the worker that parsed the range, so that both
cores encode; :class:`JoinedFile` then copies each part's row groups, byte for byte, into one
output file and writes a footer that lists them all. The pages are not decoded or re-encoded,
so joining costs little more than the copy. A part is the bytes of a whole Parquet file
(:meth:`JoinedFile.append` reads its footer) or, from :func:`mailtrace.parquet_write.encode_part`,
row groups whose footer structs come along decoded (:meth:`JoinedFile.append_groups`).

A footer is Thrift compact-protocol data (the ``FileMetaData`` struct of the Parquet format).
Joining moves every part's row groups to a new position, so their absolute file offsets are
shifted: ``RowGroup.file_offset``, ``ColumnChunk.file_offset`` and the data, index and
dictionary page offsets of ``ColumnMetaData``. Row groups are renumbered (``ordinal``) and the
file's ``num_rows`` is the sum. Everything else of the first part's footer (schema, the Arrow
schema in the key-value metadata, created_by, column orders) is kept as it is. Parts whose
footers point outside their row groups (page indexes, bloom filters, encryption) are refused.

pyarrow has no way to join files without decoding them; the footers are decoded and encoded with
the small generic codec of :mod:`mailtrace.parquet_thrift`, which writes back byte for byte what
it read.

>>> import io, pyarrow as pa, pyarrow.parquet as pq
>>> def part(values):
...     sink = io.BytesIO()
...     pq.write_table(pa.table({"n": values}), sink)
...     return sink.getvalue()
>>> out = io.BytesIO()
>>> joined = JoinedFile(out)
>>> joined.append(part([1, 2])); joined.append(part([3]))
>>> joined.close()
>>> pq.read_table(io.BytesIO(out.getvalue())).column("n").to_pylist()
[1, 2, 3]
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, BinaryIO

from mailtrace.errors import MailtraceError
from mailtrace.parquet_thrift import STRUCT, Reader, Struct, Writer, field

__all__ = ["JoinedFile", "ParquetJoinError", "read_footer"]

_MAGIC = b"PAR1"

# Field ids of the Parquet format's Thrift structs (parquet.thrift) that joining changes or checks.
_FILE_NUM_ROWS, _FILE_ROW_GROUPS = 3, 4
_FILE_ENCRYPTION = 8
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_OFFSET, _CHUNK_META = 2, 3
_CHUNK_OUTSIDE = (4, 6, 8, 9)  # offset index, column index, crypto metadata, encrypted metadata
_META_OFFSETS = (9, 10, 11)  # data page, index page and dictionary page offsets
_META_BLOOM = 14


class ParquetJoinError(MailtraceError):
    """A part cannot be joined: not a Parquet file, or one whose footer this join cannot move."""


def _shift(fields: Struct, fid: int, delta: int) -> None:
    item = field(fields, fid)
    # 0 is "not set": Arrow writes the deprecated ColumnChunk.file_offset as 0.
    if item is not None and item[2]:
        assert isinstance(item[2], int)
        item[2] += delta


def read_footer(part: bytes) -> tuple[Struct, int]:
    """The decoded FileMetaData of a whole Parquet file, and where the footer starts."""
    if len(part) < 12 or part[:4] != _MAGIC or part[-4:] != _MAGIC:
        raise ParquetJoinError("not a Parquet file (no PAR1 at both ends)")
    (size,) = struct.unpack_from("<I", part, len(part) - 8)
    start = len(part) - 8 - size
    if start < 4:
        raise ParquetJoinError("the Parquet footer's length points before the file's start")
    try:
        meta = Reader(part, start).struct()
    except (IndexError, ValueError):
        raise ParquetJoinError("the Parquet footer is damaged or cut short") from None
    if field(meta, _FILE_ENCRYPTION) is not None:
        raise ParquetJoinError("encrypted Parquet files cannot be joined")
    return meta, start


class JoinedFile:
    """Parquet files of one schema appended, as row groups, into one Parquet file on ``sink``.

    ``append`` copies each part's row groups at once (the sink is written sequentially);
    ``close`` writes the footer. Parts must come from the same writer settings and schema: the
    first part's footer is the model for the joined one.
    """

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.sink.write(_MAGIC)
        self.pos = len(_MAGIC)
        self.meta: Struct | None = None
        # Each row group's RowGroup struct, serialised as it is appended (offsets moved, ordinal
        # set): the footer is then their concatenation, and writing it at the end of a run no
        # longer serialises every column chunk's metadata at once (14 ms for a million lines).
        self.groups: list[bytes] = []
        self.rows = 0

    def append(self, part: bytes) -> None:
        """Add the row groups of ``part``, the bytes of a whole Parquet file."""
        meta, start = read_footer(part)
        groups = field(meta, _FILE_ROW_GROUPS)
        rows = field(meta, _FILE_NUM_ROWS)
        if (
            groups is None
            or rows is None
            or not isinstance(groups[2], tuple)
            or not isinstance(rows[2], int)
        ):  # a damaged footer may decode to fields of other types: refused in words too
            raise ParquetJoinError("the Parquet footer has no row groups or row count")
        self.append_groups([memoryview(part)[len(_MAGIC) : start]], groups[2][1], rows[2], meta)

    def append_groups(
        self, pages: Iterable[Any], groups: list[Struct], rows: int, meta: Struct
    ) -> None:
        """Add row groups already decoded: ``pages``, the bytes they span in their own file
        after its magic (pieces, written in order), ``groups`` their RowGroup structs (moved in
        place), ``rows`` their rows and ``meta`` their file's FileMetaData (or its template)."""
        delta = self.pos - len(_MAGIC)  # the part's data moves from offset 4 to self.pos
        moved = groups
        for group in moved:
            _shift(group, _GROUP_FILE_OFFSET, delta)
            columns = field(group, _GROUP_COLUMNS)
            assert columns is not None and isinstance(columns[2], tuple)
            for chunk in columns[2][1]:
                if any(field(chunk, fid) is not None for fid in _CHUNK_OUTSIDE):
                    raise ParquetJoinError("Parquet page indexes or encryption cannot be joined")
                _shift(chunk, _CHUNK_FILE_OFFSET, delta)
                column_meta = field(chunk, _CHUNK_META)
                if column_meta is not None:
                    assert isinstance(column_meta[2], list)
                    if field(column_meta[2], _META_BLOOM) is not None:
                        raise ParquetJoinError("Parquet bloom filters cannot be joined")
                    for fid in _META_OFFSETS:
                        _shift(column_meta[2], fid, delta)
        if self.meta is None:
            self.meta = meta
        for group in moved:
            item = field(group, _GROUP_ORDINAL)
            if item is not None:
                if len(self.groups) >= 1 << 15:  # an i16: past that, leave row groups unnumbered
                    group.remove(item)
                else:
                    item[2] = len(self.groups)
            writer = Writer()
            writer.struct(group)
            self.groups.append(bytes(writer.out))
        self.rows += rows
        for piece in pages:
            self.sink.write(piece)
            self.pos += memoryview(piece).nbytes  # bytes, whatever the piece's item size

    def close(self) -> None:
        """Write the footer listing every row group appended (an empty file without parts
        cannot be made here: its schema would be unknown)."""
        if self.meta is None:
            raise ParquetJoinError("no Parquet part was appended")
        meta = [list(item) for item in self.meta]
        for item in meta:
            if item[0] == _FILE_NUM_ROWS:
                item[2] = self.rows
            elif item[0] == _FILE_ROW_GROUPS:
                item[2] = (STRUCT, self.groups)
        writer = Writer()
        writer.struct(meta)
        self.sink.write(writer.out)
        self.sink.write(struct.pack("<I", len(writer.out)))
        self.sink.write(_MAGIC)
