"""One Parquet file from Parquet files of the same schema, joined row group by row group.

The log batch encodes each byte range's rows into a small Parquet file of its own in the worker
that parsed the range, so that both cores encode; :class:`JoinedFile` then copies each part's
row groups, byte for byte, into one output file and writes a footer that lists them all. The
pages are not decoded or re-encoded, so joining costs little more than the copy.

A footer is Thrift compact-protocol data (the ``FileMetaData`` struct of the Parquet format).
Joining moves every part's row groups to a new position, so their absolute file offsets are
shifted: ``RowGroup.file_offset``, ``ColumnChunk.file_offset`` and the data, index and
dictionary page offsets of ``ColumnMetaData``. Row groups are renumbered (``ordinal``) and the
file's ``num_rows`` is the sum. Everything else of the first part's footer (schema, the Arrow
schema in the key-value metadata, created_by, column orders) is kept as it is. Parts whose
footers point outside their row groups (page indexes, bloom filters, encryption) are refused.

pyarrow has no way to join files without decoding them, and the Thrift readers that exist come
with heavy imports (fastparquet imports pandas) or need generated code, so the codec here is a
small generic one: it decodes any struct into fields it encodes back byte for byte.

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
from typing import BinaryIO

from mailtrace.errors import MailtraceError

__all__ = ["JoinedFile", "ParquetJoinError"]

_MAGIC = b"PAR1"

# Compact-protocol type codes (Thrift's TCompactProtocol).
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

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


# A decoded struct: its fields in order as [field id, type code, value]. A boolean field's value
# is in its type code (TRUE or FALSE), as the compact protocol writes it.
_Struct = list[list[object]]


class _Reader:
    """Decodes compact-protocol values from ``data`` starting at ``pos``."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def varint(self) -> int:
        shift = result = 0
        data = self.data
        while True:
            byte = data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ctype: int) -> object:
        if ctype in (_TRUE, _FALSE):
            return None  # a field's boolean lives in its type code
        if ctype == _BYTE:
            self.pos += 1
            return self.data[self.pos - 1]
        if ctype in (_I16, _I32, _I64):
            return self.zigzag()
        if ctype == _DOUBLE:
            self.pos += 8
            return self.data[self.pos - 8 : self.pos]
        if ctype == _BINARY:
            size = self.varint()
            self.pos += size
            return self.data[self.pos - size : self.pos]
        if ctype in (_LIST, _SET):
            header = self.data[self.pos]
            self.pos += 1
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if element in (_TRUE, _FALSE):  # booleans in a container are one byte each
                self.pos += size
                return (element, self.data[self.pos - size : self.pos])
            return (element, [self.value(element) for _ in range(size)])
        if ctype == _STRUCT:
            return self.struct()
        raise ParquetJoinError(f"unsupported Thrift type {ctype} in a Parquet footer")

    def struct(self) -> _Struct:
        fields: _Struct = []
        last = 0
        data = self.data
        while True:
            header = data[self.pos]
            self.pos += 1
            if header == 0:
                return fields
            delta, ctype = header >> 4, header & 0x0F
            fid = last + delta if delta else self.zigzag()
            fields.append([fid, ctype, self.value(ctype)])
            last = fid


class _Writer:
    """Encodes compact-protocol values, as :class:`_Reader` decoded them."""

    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        out = self.out
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, ctype: int, value: object) -> None:
        if ctype in (_TRUE, _FALSE):
            return
        if ctype == _BYTE:
            assert isinstance(value, int)
            self.out.append(value)
        elif ctype in (_I16, _I32, _I64):
            assert isinstance(value, int)
            self.zigzag(value)
        elif ctype == _DOUBLE:
            assert isinstance(value, bytes)
            self.out += value
        elif ctype == _BINARY:
            assert isinstance(value, bytes)
            self.varint(len(value))
            self.out += value
        elif ctype in (_LIST, _SET):
            assert isinstance(value, tuple)
            element, items = value
            size = len(items)
            if size < 15:
                self.out.append(size << 4 | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(size)
            if element in (_TRUE, _FALSE):
                self.out += items
            else:
                for item in items:
                    self.value(element, item)
        else:
            assert isinstance(value, list)
            self.struct(value)

    def struct(self, fields: _Struct) -> None:
        last = 0
        for fid, ctype, value in fields:
            assert isinstance(fid, int) and isinstance(ctype, int)
            if 0 < fid - last <= 15:
                self.out.append((fid - last) << 4 | ctype)
            else:
                self.out.append(ctype)
                self.zigzag(fid)
            self.value(ctype, value)
            last = fid
        self.out.append(0)


def _field(fields: _Struct, fid: int) -> list[object] | None:
    for item in fields:
        if item[0] == fid:
            return item
    return None


def _shift(fields: _Struct, fid: int, delta: int) -> None:
    item = _field(fields, fid)
    # 0 is "not set": Arrow writes the deprecated ColumnChunk.file_offset as 0.
    if item is not None and item[2]:
        assert isinstance(item[2], int)
        item[2] += delta


def _footer(part: bytes) -> tuple[_Struct, int]:
    """The decoded FileMetaData of a whole Parquet file, and where the footer starts."""
    if len(part) < 12 or part[:4] != _MAGIC or part[-4:] != _MAGIC:
        raise ParquetJoinError("not a Parquet file (no PAR1 at both ends)")
    (size,) = struct.unpack_from("<I", part, len(part) - 8)
    start = len(part) - 8 - size
    if start < 4:
        raise ParquetJoinError("the Parquet footer's length points before the file's start")
    try:
        meta = _Reader(part, start).struct()
    except (IndexError, ParquetJoinError):
        raise ParquetJoinError("the Parquet footer is damaged or cut short") from None
    if _field(meta, _FILE_ENCRYPTION) is not None:
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
        self.meta: _Struct | None = None
        self.groups: list[_Struct] = []
        self.rows = 0

    def append(self, part: bytes) -> None:
        """Add the row groups of ``part``, the bytes of a whole Parquet file."""
        meta, start = _footer(part)
        delta = self.pos - len(_MAGIC)  # the part's data moves from offset 4 to self.pos
        groups = _field(meta, _FILE_ROW_GROUPS)
        rows = _field(meta, _FILE_NUM_ROWS)
        if groups is None or rows is None:
            raise ParquetJoinError("the Parquet footer has no row groups or row count")
        assert isinstance(groups[2], tuple) and isinstance(rows[2], int)
        moved: list[_Struct] = groups[2][1]
        for group in moved:
            _shift(group, _GROUP_FILE_OFFSET, delta)
            columns = _field(group, _GROUP_COLUMNS)
            assert columns is not None and isinstance(columns[2], tuple)
            for chunk in columns[2][1]:
                if any(_field(chunk, fid) is not None for fid in _CHUNK_OUTSIDE):
                    raise ParquetJoinError("Parquet page indexes or encryption cannot be joined")
                _shift(chunk, _CHUNK_FILE_OFFSET, delta)
                column_meta = _field(chunk, _CHUNK_META)
                if column_meta is not None:
                    assert isinstance(column_meta[2], list)
                    if _field(column_meta[2], _META_BLOOM) is not None:
                        raise ParquetJoinError("Parquet bloom filters cannot be joined")
                    for fid in _META_OFFSETS:
                        _shift(column_meta[2], fid, delta)
        if self.meta is None:
            self.meta = meta
        self.groups.extend(moved)
        self.rows += rows[2]
        data = memoryview(part)[len(_MAGIC) : start]
        self.sink.write(data)
        self.pos += len(data)

    def close(self) -> None:
        """Write the footer listing every row group appended (an empty file without parts
        cannot be made here: its schema would be unknown)."""
        if self.meta is None:
            raise ParquetJoinError("no Parquet part was appended")
        for ordinal, group in enumerate(self.groups):
            item = _field(group, _GROUP_ORDINAL)
            if item is not None:
                if ordinal >= 1 << 15:  # an i16: past that, leave row groups unnumbered
                    group.remove(item)
                else:
                    item[2] = ordinal
        meta = [list(item) for item in self.meta]
        for item in meta:
            if item[0] == _FILE_NUM_ROWS:
                item[2] = self.rows
            elif item[0] == _FILE_ROW_GROUPS:
                item[2] = (_STRUCT, self.groups)
        writer = _Writer()
        writer.struct(meta)
        self.sink.write(writer.out)
        self.sink.write(struct.pack("<I", len(writer.out)))
        self.sink.write(_MAGIC)
