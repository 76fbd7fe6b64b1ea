"""Parquet files from Arrow tables of flat columns, their pages encoded by a compiled module.

``mailtrace logs -o`` spent most of its time writing Parquet: pyarrow's writer costs about 0.8
CPU-s per million EVENTS rows, more than the parse. :func:`encode` writes the same table in about
half that (0.42 CPU-s, half of it snappy): the C module ``mailtrace._parquet_pages`` turns each
column's Arrow buffers into a data page body (definition levels, PLAIN values) with the GIL
released, pyarrow compresses it (snappy), and this module adds the Thrift page headers, the column
chunk metadata and the footer (:mod:`mailtrace.parquet_thrift`).

What a reader needs to give back the same Arrow table is taken from pyarrow itself: the footer's
schema, column orders and key-value metadata (the serialised Arrow schema, so time zones, int16
and the like come back exactly) are those of the file pyarrow writes for the table's empty
schema. The pages are what pyarrow would write with dictionary encoding off: data page v1,
definition levels in the RLE/bit-packed hybrid, PLAIN values, one page per ``page_rows`` rows.
Column chunks named in ``statistics`` carry the null count and the minimum and maximum value,
so readers skip row groups by them.

:func:`encode_part` gives the same row groups without the footer, for a file joined from parts
(:class:`mailtrace.parquet_join.JoinedFile`).

Tables this module does not take (nested or dictionary columns, booleans, timestamps in seconds
or nanoseconds, a column that is not nullable, a page over 2 GiB) make :func:`encode` return
None, and the caller writes them with pyarrow; so does a machine where the C module was not
built.

>>> import io, pyarrow as pa, pyarrow.parquet as pq
>>> table = pa.table({"kind": ["connect", None, "sent"], "n": pa.array([1, 2, None], pa.int16())})
>>> data = encode(table, statistics={"kind"})
>>> pq.read_table(io.BytesIO(data)).equals(table)
True
>>> pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).statistics.max
'sent'
"""

from __future__ import annotations

import mmap
import struct
import threading
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mailtrace import parquet_thrift as thrift
from mailtrace.parquet_join import read_footer

if TYPE_CHECKING:
    from types import ModuleType

try:  # a well-kept Rust snappy that compresses into a given buffer (see _Compressed)
    from cramjam import snappy as _cramjam_snappy

    _snappy: ModuleType | None = _cramjam_snappy
except ImportError:  # pragma: no cover - a declared dependency
    _snappy = None

try:
    from mailtrace import _parquet_pages as _pages

    _PAGES: ModuleType | None = _pages
except ImportError:  # no C compiler at install time: pyarrow writes everything
    _PAGES = None

__all__ = ["Part", "available", "empty_part", "encode", "encode_part"]

_MAGIC = b"PAR1"
_CREATED_BY = b"mailtrace version 0.1.0"

# Parquet's enums (parquet.thrift).
_PLAIN, _RLE, _DELTA_BINARY_PACKED, _RLE_DICTIONARY = 0, 3, 5, 8
_SNAPPY = 1
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
_OPTIONAL = 1
_BYTE_ARRAY, _INT32, _INT64, _DOUBLE = 6, 1, 2, 5

# The C module's value kinds, and the Parquet type each becomes.
_STRING, _INT16, _INT32_KIND, _INT64_KIND, _DOUBLE_KIND = range(5)
_PHYSICAL = {
    _STRING: _BYTE_ARRAY,
    _INT16: _INT32,
    _INT32_KIND: _INT32,
    _INT64_KIND: _INT64,
    _DOUBLE_KIND: _DOUBLE,
}

_ROW_GROUP = 1 << 20
_PAGE_ROWS = 1 << 16


def _kind(data_type: pa.DataType) -> int | None:
    """The C module's kind for an Arrow type, or None if this module does not write it."""
    if pa.types.is_string(data_type):
        return _STRING
    if pa.types.is_timestamp(data_type):
        # Parquet has no seconds; pyarrow would convert, and nanoseconds depend on its version.
        return _INT64_KIND if data_type.unit in ("ms", "us") else None
    return {
        pa.int16(): _INT16,
        pa.int32(): _INT32_KIND,
        pa.int64(): _INT64_KIND,
        pa.float64(): _DOUBLE_KIND,
    }.get(data_type)


def available(schema: pa.Schema) -> bool:
    """Whether :func:`encode` writes tables of ``schema`` (else it returns None for them).

    >>> available(pa.schema([("s", pa.string()), ("t", pa.timestamp("us", tz="UTC"))]))
    True
    >>> available(pa.schema([("flag", pa.bool_())]))
    False
    """
    return _PAGES is not None and all(
        field.nullable and _kind(field.type) is not None for field in schema
    )


@lru_cache(maxsize=8)  # not locked: two threads may both make it, to the same result
def _template(schema: pa.Schema) -> tuple[thrift.Struct, tuple[int, ...]]:
    """The footer pyarrow writes for ``schema`` with no rows, and each column's Parquet type."""
    made = _footer(schema)
    return made if made is not None else _pyarrows_template(schema)


# Each kind's Parquet schema element past its name, as pyarrow writes it: physical type,
# converted type and logical type (a string is UTF8/STRING, an int16 INT_16/INTEGER(16, signed));
# a timestamp's depend on its unit and zone (see _timestamp_element).
_ELEMENT: dict[int, tuple[int, int | None, thrift.Struct | None]] = {
    _STRING: (_BYTE_ARRAY, 0, [[1, thrift.STRUCT, []]]),
    _INT16: (_INT32, 16, [[10, thrift.STRUCT, [[1, thrift.BYTE, 16], [2, thrift.TRUE, None]]]]),
    _INT32_KIND: (_INT32, None, None),
    _DOUBLE_KIND: (_DOUBLE, None, None),
}


def _footer(schema: pa.Schema) -> tuple[thrift.Struct, tuple[int, ...]] | None:
    """:func:`_template`'s footer built here rather than by pyarrow's writer, whose module
    (pyarrow.parquet, with pyarrow.fs and ssl) costs 0.03 s to import in every ``logs -o``.
    None for a schema with metadata of its own or a column this does not describe; tests hold
    it equal to pyarrow's own.

    >>> meta, physical = _footer(pa.schema([("kind", pa.string())]))
    >>> physical, thrift.field(meta, 6)[2]
    ((6,), b'mailtrace version 0.1.0')
    """
    import base64

    if schema.metadata or not available(schema):
        return None
    elements: list[thrift.Struct] = [
        [[3, thrift.I32, 0], [4, thrift.BINARY, b"schema"], [5, thrift.I32, len(schema)]]
    ]
    physical = []
    for field in schema:
        kind = _kind(field.type)
        if pa.types.is_timestamp(field.type):
            micros = field.type.unit == "us"
            ptype, converted = _INT64, 10 if micros else 9  # TIMESTAMP_MICROS / _MILLIS
            unit: thrift.Struct = [[2 if micros else 1, thrift.STRUCT, []]]
            utc = thrift.TRUE if field.type.tz is not None else thrift.FALSE
            logical: thrift.Struct | None = [
                [8, thrift.STRUCT, [[1, utc, None], [2, thrift.STRUCT, unit]]]
            ]
            converted_type: int | None = converted
        elif kind == _INT64_KIND:
            ptype, converted_type, logical = _INT64, None, None
        elif kind in _ELEMENT:
            ptype, converted_type, logical = _ELEMENT[kind]
        else:
            return None
        element: thrift.Struct = [
            [1, thrift.I32, ptype],
            [3, thrift.I32, _OPTIONAL],
            [4, thrift.BINARY, field.name.encode()],
        ]
        if converted_type is not None:
            element.append([6, thrift.I32, converted_type])
        if logical is not None:
            element.append([10, thrift.STRUCT, logical])
        elements.append(element)
        physical.append(ptype)
    arrow_schema = base64.b64encode(schema.serialize().to_pybytes())
    meta: thrift.Struct = [
        [1, thrift.I32, 2],
        [2, thrift.LIST, (thrift.STRUCT, elements)],
        [3, thrift.I64, 0],
        [4, thrift.LIST, (thrift.STRUCT, [])],
        [
            5,
            thrift.LIST,
            (
                thrift.STRUCT,
                [[[1, thrift.BINARY, b"ARROW:schema"], [2, thrift.BINARY, arrow_schema]]],
            ),
        ],
        [6, thrift.BINARY, _CREATED_BY],
        [7, thrift.LIST, (thrift.STRUCT, [[[1, thrift.STRUCT, []]] for _ in schema])],
    ]
    return meta, tuple(physical)


def _pyarrows_template(schema: pa.Schema) -> tuple[thrift.Struct, tuple[int, ...]]:
    """The footer pyarrow's own writer gives ``schema`` (the reference :func:`_footer` is held
    to), with this module's ``created_by``."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    # A writer closed at once, not write_table(schema.empty_table()): that imports pandas.
    pq.ParquetWriter(sink, schema, compression="snappy", use_dictionary=False).close()
    meta, _ = read_footer(bytes(sink.getvalue()))
    created_by = thrift.field(meta, 6)
    if created_by is not None:  # the pages are this module's, not pyarrow's
        created_by[2] = _CREATED_BY
    elements = thrift.field(meta, 2)
    assert elements is not None and isinstance(elements[2], tuple)
    columns = elements[2][1][1:]  # the first element is the schema's root
    physical = []
    for element, arrow in zip(columns, schema, strict=True):
        ptype, repetition = thrift.field(element, 1), thrift.field(element, 3)
        kind = _kind(arrow.type)
        assert kind is not None and ptype is not None and repetition is not None
        if ptype[2] != _PHYSICAL[kind] or repetition[2] != _OPTIONAL:
            raise ValueError(f"pyarrow stores column {arrow.name!r} differently")
        physical.append(int(_PHYSICAL[kind]))
    return meta, tuple(physical)


class _Chunk:
    """One column chunk being written: its pages' sizes, null count and value range."""

    def __init__(self, name: str, ptype: int, stats: bool, start: int) -> None:
        self.name = name
        self.ptype = ptype
        self.stats = stats
        self.start = start
        self.rows = self.nulls = self.pages = 0
        self.uncompressed = self.compressed = 0
        self.low: bytes | None = None
        self.high: bytes | None = None
        self.dictionary = False  # a dictionary page first, and its data pages RLE_DICTIONARY
        self.encoding = _PLAIN  # of the data pages' values (without a dictionary)
        self.data_start = start  # where the first data page starts

    def add_range(self, low: bytes | None, high: bytes | None) -> None:
        if low is None or high is None:
            return
        if self.low is None or self.high is None:
            self.low, self.high = low, high
        elif self.ptype == _BYTE_ARRAY:  # bytes compare unsigned, as Parquet orders UTF8
            self.low, self.high = min(self.low, low), max(self.high, high)
        else:  # little-endian signed integers
            fmt = "<i" if self.ptype == _INT32 else "<q"
            self.low = min(self.low, low, key=lambda b: struct.unpack(fmt, b)[0])
            self.high = max(self.high, high, key=lambda b: struct.unpack(fmt, b)[0])

    def metadata(self) -> thrift.Struct:
        encodings = (
            [_PLAIN, _RLE, _RLE_DICTIONARY] if self.dictionary else sorted({self.encoding, _RLE})
        )
        meta: thrift.Struct = [
            [1, thrift.I32, self.ptype],
            [2, thrift.LIST, (thrift.I32, encodings)],
            [3, thrift.LIST, (thrift.BINARY, [self.name.encode()])],
            [4, thrift.I32, _SNAPPY],
            [5, thrift.I64, self.rows],
            [6, thrift.I64, self.uncompressed],
            [7, thrift.I64, self.compressed],
            [9, thrift.I64, self.data_start],
        ]
        if self.dictionary:
            meta.append([11, thrift.I64, self.start])
        if self.stats:
            statistics: thrift.Struct = [[3, thrift.I64, self.nulls]]
            if self.low is not None:
                statistics += [
                    [5, thrift.BINARY, self.high],
                    [6, thrift.BINARY, self.low],
                    [7, thrift.TRUE, None],  # exact, not truncated
                    [8, thrift.TRUE, None],
                ]
            meta.append([12, thrift.STRUCT, statistics])
        if self.dictionary:
            pages = [
                [[1, thrift.I32, _DICTIONARY_PAGE], [2, thrift.I32, _PLAIN], [3, thrift.I32, 1]],
                [[1, thrift.I32, _DATA_PAGE], [2, thrift.I32, _RLE_DICTIONARY], [3, thrift.I32, 1]],
            ]
        else:
            pages = [
                [
                    [1, thrift.I32, _DATA_PAGE],
                    [2, thrift.I32, self.encoding],
                    [3, thrift.I32, self.pages],
                ]
            ]
        meta.append([13, thrift.LIST, (thrift.STRUCT, pages)])
        return [[2, thrift.I64, 0], [3, thrift.STRUCT, meta]]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _page_header(values: int, body: int, compressed: int, encoding: int = _PLAIN) -> bytes:
    """A data page v1's Thrift PageHeader (what :class:`thrift.Writer` writes for it, without
    building the struct: there is one a page).

    >>> writer = thrift.Writer()
    >>> writer.struct([[1, thrift.I32, _DATA_PAGE], [2, thrift.I32, 300], [3, thrift.I32, 90],
    ...                [5, thrift.STRUCT, [[1, thrift.I32, 64], [2, thrift.I32, _PLAIN],
    ...                                    [3, thrift.I32, _RLE], [4, thrift.I32, _RLE]]]])
    >>> _page_header(64, 300, 90) == bytes(writer.out)
    True
    >>> writer = thrift.Writer()
    >>> writer.struct([[1, thrift.I32, _DATA_PAGE], [2, thrift.I32, 30], [3, thrift.I32, 9],
    ...                [5, thrift.STRUCT, [[1, thrift.I32, 64], [2, thrift.I32, _RLE_DICTIONARY],
    ...                                    [3, thrift.I32, _RLE], [4, thrift.I32, _RLE]]]])
    >>> _page_header(64, 30, 9, _RLE_DICTIONARY) == bytes(writer.out)
    True
    """
    # Field headers (delta << 4 | type I32 = 5), and i32 values zigzag-encoded as varints.
    return b"".join(
        (
            b"\x15\x00\x15",
            _varint(body << 1),
            b"\x15",
            _varint(compressed << 1),
            b"\x2c\x15",  # field 5 (delta 2), a struct; its field 1
            _varint(values << 1),
            b"\x15",
            _varint(encoding << 1),  # the values' encoding
            b"\x15\x06\x15\x06\x00\x00",  # RLE, RLE (the levels); the two structs end
        )
    )


def _dictionary_page_header(values: int, body: int, compressed: int) -> bytes:
    """A dictionary page's Thrift PageHeader (its values PLAIN).

    >>> writer = thrift.Writer()
    >>> writer.struct([[1, thrift.I32, _DICTIONARY_PAGE], [2, thrift.I32, 300],
    ...                [3, thrift.I32, 90], [7, thrift.STRUCT, [[1, thrift.I32, 12],
    ...                                                       [2, thrift.I32, _PLAIN]]]])
    >>> _dictionary_page_header(12, 300, 90) == bytes(writer.out)
    True
    """
    return b"".join(
        (
            b"\x15\x04\x15",  # field 1: DICTIONARY_PAGE (2, zigzag 4); field 2
            _varint(body << 1),
            b"\x15",
            _varint(compressed << 1),
            b"\x4c\x15",  # field 7 (delta 4), a struct; its field 1
            _varint(values << 1),
            b"\x15\x00\x00\x00",  # PLAIN; the two structs end
        )
    )


@dataclass(frozen=True)
class Part:
    """A table's row groups, encoded but not made a file: what
    :class:`~mailtrace.parquet_join.JoinedFile` appends without reading a footer back.

    ``pages`` are the row groups' bytes in order, as they stand in a file after its leading
    magic (the offsets in ``groups`` say so); ``meta`` is the footer of the table's schema
    without rows, whose row count and row groups the file's writer fills in.
    """

    pages: list[Any]  # bytes-like pieces
    groups: list[thrift.Struct]
    rows: int
    meta: thrift.Struct

    def __reduce__(self) -> tuple[Any, ...]:
        # Pages may be views of the encoder's buffers: sent elsewhere, they go as bytes.
        return (Part, ([bytes(piece) for piece in self.pages], self.groups, self.rows, self.meta))

    def to_file(self) -> bytes:
        """The bytes of a whole Parquet file of these rows."""
        return _finish([_MAGIC, *self.pages], self.meta, self.rows, self.groups)


def empty_part(schema: pa.Schema) -> Part | None:
    """A :class:`Part` of no rows: what gives a joined file its schema when nothing else does
    (built without a table: ``schema.empty_table()`` makes pyarrow import pandas). None where
    this module does not write ``schema``.

    >>> part = empty_part(pa.schema([("kind", pa.string())]))
    >>> part.rows, part.groups, len(part.to_file()) > 8
    (0, [], True)
    """
    if not available(schema):
        return None
    return Part([], [], 0, _template(schema)[0])


def encode(
    table: pa.Table,
    statistics: Collection[str] = (),
    row_group_size: int = _ROW_GROUP,
    page_rows: int = _PAGE_ROWS,
    dictionary: Collection[str] = (),
    delta: Collection[str] = (),
) -> bytes | None:
    """``table`` as the bytes of a whole Parquet file, or None if this module does not write
    its schema (see :func:`available`) or a page would pass 2 GiB.

    ``statistics``: the columns whose chunks carry min/max statistics. ``dictionary``: string
    columns to dictionary-encode, chunk by chunk, wherever a chunk holds at most 4,096 distinct
    values (the others are PLAIN). ``delta``: int64 and timestamp columns whose values are
    written DELTA_BINARY_PACKED (steadily growing ones: line numbers, times).
    """
    part = encode_part(table, statistics, row_group_size, page_rows, dictionary, delta)
    return None if part is None else part.to_file()


def encode_part(
    table: pa.Table,
    statistics: Collection[str] = (),
    row_group_size: int = _ROW_GROUP,
    page_rows: int = _PAGE_ROWS,
    dictionary: Collection[str] = (),
    delta: Collection[str] = (),
) -> Part | None:
    """:func:`encode` without the footer and without joining the pages into one bytes object:
    a worker hands this to the process that writes the file, which needs neither (the footer
    costs a worker 4 ms a part to write and the writer as much to read back, with the GIL).

    >>> part = encode_part(pa.table({"n": pa.array([1, 2], pa.int64())}))
    >>> part.rows, len(part.groups), sum(len(piece) for piece in part.pages) > 0
    (2, 1, True)
    """
    if not available(table.schema):
        return None
    assert _PAGES is not None
    meta, physical = _template(table.schema)
    if table.num_rows == 0:
        return Part([], [], 0, meta)
    out: list[Any] = []  # the pages' pieces
    sink = _Compressed()
    at = len(_MAGIC)
    groups: list[thrift.Struct] = []
    try:
        for first in range(0, table.num_rows, row_group_size):
            group = table.slice(first, row_group_size)
            start = at
            chunks = []
            for column, name, ptype in zip(
                group.columns, table.schema.names, physical, strict=True
            ):
                chunk = _write_column(
                    out,
                    at,
                    column,
                    name,
                    ptype,
                    name in statistics,
                    page_rows,
                    sink,
                    name in dictionary,
                    name in delta,
                )
                at += chunk.compressed
                chunks.append(chunk)
            groups.append(
                [
                    [1, thrift.LIST, (thrift.STRUCT, [chunk.metadata() for chunk in chunks])],
                    [2, thrift.I64, sum(chunk.uncompressed for chunk in chunks)],
                    [3, thrift.I64, group.num_rows],
                    [5, thrift.I64, start],
                    [6, thrift.I64, at - start],
                    [7, thrift.I16, len(groups)],
                ]
            )
    except OverflowError:  # a page of more than 2 GiB: pyarrow splits pages by size
        return None
    return Part(out, groups, table.num_rows, meta)


_scratch = threading.local()  # each thread's page buffer (see _parquet_pages.encode)

_ARENA = 4 << 20  # compressed pages are written into buffers of this size (a part's, mostly)


class _Compressed:
    """Where one part's pages are snappy-compressed to: large buffers, each page a view of one.

    With cramjam the compressor writes into memory allocated once per few MB and not touched
    before (an anonymous map: NumPy's empty did the same, but ``logs`` no longer imports NumPy),
    so the page faults of fresh memory happen inside the compression, with the GIL released;
    ``pa.compress`` allocates every page's output (and faults it in) holding the GIL, which
    stalled the other encoding thread. Without cramjam, pa.compress.
    """

    def __init__(self) -> None:
        self.arena: memoryview | None = None
        self.used = 0

    def compress(self, page: memoryview) -> Any:
        """``page`` compressed (raw snappy), as a bytes-like object."""
        if _snappy is None:
            return pa.compress(page, codec="snappy")
        bound = 32 + len(page) + len(page) // 6  # snappy's worst case
        if self.arena is None or self.used + bound > len(self.arena):
            self.arena = memoryview(mmap.mmap(-1, max(bound, _ARENA)))
            self.used = 0
        start = self.used
        self.used += _snappy.compress_raw_into(page, self.arena[start : start + bound])
        return self.arena[start : self.used]


def _write_column(
    out: list[Any],
    at: int,
    column: pa.ChunkedArray,
    name: str,
    ptype: int,
    stats: bool,
    page_rows: int,
    sink: _Compressed,
    dictionary: bool = False,
    delta: bool = False,
) -> _Chunk:
    """Append the pages of ``column`` to ``out`` (pieces of the file; ``at``: where it stands),
    compressed into ``sink``; ``dictionary``: a dictionary page first where it takes one."""
    assert _PAGES is not None
    scratch: bytearray = getattr(_scratch, "buffer", None) or bytearray()
    _scratch.buffer = scratch
    chunk = _Chunk(name, ptype, stats, at)
    kind = _kind(column.type)
    if delta and kind == _INT64_KIND:
        chunk.encoding = _DELTA_BINARY_PACKED
    # One dictionary per column chunk: taken where the chunk is one Arrow array (a batch's are).
    if (
        dictionary
        and kind == _STRING
        and len(column.chunks) == 1
        and _write_dictionary(out, chunk, column.chunks[0], sink, scratch)
    ):
        return chunk
    for array in column.chunks:
        buffers: list[Any] = array.buffers()
        validity, values = buffers[0], buffers[1]
        data = (buffers[2] or b"") if kind == _STRING else None  # all null: maybe no data
        if array.null_count == 0:
            validity = None
        for first in range(0, len(array), page_rows):
            rows = min(page_rows, len(array) - first)
            if chunk.encoding == _DELTA_BINARY_PACKED:
                size, nulls, low, high = _PAGES.encode_delta(
                    validity, array.offset + first, rows, values, stats, scratch
                )
            else:
                size, nulls, low, high = _PAGES.encode(
                    kind, validity, array.offset + first, rows, values, data, stats, scratch
                )
            with memoryview(scratch) as view:
                compressed = sink.compress(view[:size])
            header = _page_header(rows, size, len(compressed), chunk.encoding)
            out += (header, compressed)
            chunk.rows += rows
            chunk.nulls += nulls
            chunk.pages += 1
            chunk.uncompressed += len(header) + size
            chunk.compressed += len(header) + len(compressed)
            if stats:
                chunk.add_range(low, high)
    return chunk


def _write_dictionary(
    out: list[Any], chunk: _Chunk, array: pa.Array, sink: _Compressed, scratch: bytearray
) -> bool:
    """Append ``array`` to ``out`` as a dictionary page and one data page of its indices, or
    write nothing and return False where it holds too many distinct values (or none)."""
    assert _PAGES is not None
    if array.null_count == len(array):
        return False
    buffers: list[Any] = array.buffers()
    validity = buffers[0] if array.null_count else None
    values: bytearray = getattr(_scratch, "dictionary", None) or bytearray()
    _scratch.dictionary = values
    encoded = _PAGES.encode_dict(
        validity,
        array.offset,
        len(array),
        buffers[1],
        buffers[2] or b"",
        chunk.stats,
        values,
        scratch,
    )
    if encoded is None:
        return False
    dict_size, distinct, size, nulls, low, high = encoded
    with memoryview(values) as view:
        compressed = sink.compress(view[:dict_size])
    header = _dictionary_page_header(distinct, dict_size, len(compressed))
    out += (header, compressed)
    chunk.dictionary = True
    chunk.data_start = chunk.start + len(header) + len(compressed)
    chunk.uncompressed += len(header) + dict_size
    chunk.compressed += len(header) + len(compressed)
    with memoryview(scratch) as view:
        compressed = sink.compress(view[:size])
    header = _page_header(len(array), size, len(compressed), _RLE_DICTIONARY)
    out += (header, compressed)
    chunk.rows += len(array)
    chunk.nulls += nulls
    chunk.pages += 1
    chunk.uncompressed += len(header) + size
    chunk.compressed += len(header) + len(compressed)
    if chunk.stats:
        chunk.add_range(low, high)
    return True


def _finish(
    out: list[Any], template: thrift.Struct, rows: int, groups: list[thrift.Struct]
) -> bytes:
    meta: thrift.Struct = []
    for fid, ctype, value in template:
        if fid == 3:
            value = rows
        elif fid == 4:
            value = (thrift.STRUCT, groups)
        meta.append([fid, ctype, value])
    writer = thrift.Writer()
    writer.struct(meta)
    out += (writer.out, struct.pack("<I", len(writer.out)), _MAGIC)
    return b"".join(out)
