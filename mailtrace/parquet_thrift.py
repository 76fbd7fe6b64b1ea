r"""Thrift's compact protocol, as Parquet files use it for page headers and footers.

A generic codec: :class:`Reader` decodes any struct into a list of ``[field id, type code,
value]`` items, and :class:`Writer` encodes such a list back, byte for byte as it was read, so
code that edits a Parquet footer changes only the fields it means to. Lists are ``(element type,
items)``; a boolean field's value lives in its type code (``TRUE`` or ``FALSE``), as the protocol
writes it.

The Thrift readers that exist come with heavy imports (fastparquet imports pandas) or need code
generated from parquet.thrift, hence this small one.

>>> writer = Writer()
>>> writer.struct([[1, I32, 2], [4, BINARY, b"ts"]])
>>> bytes(writer.out)
b'\x15\x048\x02ts\x00'
>>> Reader(bytes(writer.out)).struct()
[[1, 5, 2], [4, 8, b'ts']]
"""

from __future__ import annotations

__all__ = [
    "BINARY",
    "BYTE",
    "DOUBLE",
    "FALSE",
    "I16",
    "I32",
    "I64",
    "LIST",
    "MAP",
    "SET",
    "STRUCT",
    "TRUE",
    "Reader",
    "Struct",
    "Writer",
    "field",
]

# Compact-protocol type codes (Thrift's TCompactProtocol).
TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(1, 13)

# A decoded struct: its fields in order as [field id, type code, value]. A boolean field's value
# is in its type code (TRUE or FALSE), as the compact protocol writes it.
Struct = list[list[object]]


class Reader:
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
        if ctype in (TRUE, FALSE):
            return None  # a field's boolean lives in its type code
        if ctype == BYTE:
            self.pos += 1
            return self.data[self.pos - 1]
        if ctype in (I16, I32, I64):
            return self.zigzag()
        if ctype == DOUBLE:
            self.pos += 8
            return self.data[self.pos - 8 : self.pos]
        if ctype == BINARY:
            size = self.varint()
            self.pos += size
            return self.data[self.pos - size : self.pos]
        if ctype in (LIST, SET):
            header = self.data[self.pos]
            self.pos += 1
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if element in (TRUE, FALSE):  # booleans in a container are one byte each
                self.pos += size
                return (element, self.data[self.pos - size : self.pos])
            return (element, [self.value(element) for _ in range(size)])
        if ctype == STRUCT:
            return self.struct()
        raise ValueError(f"unsupported Thrift type {ctype}")

    def struct(self) -> Struct:
        fields: Struct = []
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


class Writer:
    """Encodes compact-protocol values, as :class:`Reader` decoded them."""

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
        if ctype in (TRUE, FALSE):
            return
        if ctype == BYTE:
            assert isinstance(value, int)
            self.out.append(value)
        elif ctype in (I16, I32, I64):
            assert isinstance(value, int)
            self.zigzag(value)
        elif ctype == DOUBLE:
            assert isinstance(value, bytes)
            self.out += value
        elif ctype == BINARY:
            assert isinstance(value, bytes)
            self.varint(len(value))
            self.out += value
        elif ctype in (LIST, SET):
            assert isinstance(value, tuple)
            element, items = value
            size = len(items)
            if size < 15:
                self.out.append(size << 4 | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(size)
            if element in (TRUE, FALSE):
                self.out += items
            else:
                for item in items:
                    self.value(element, item)
        elif isinstance(value, bytes):  # a struct serialised already (parquet_join's groups)
            self.out += value
        else:
            assert isinstance(value, list)
            self.struct(value)

    def struct(self, fields: Struct) -> None:
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


def field(fields: Struct, fid: int) -> list[object] | None:
    for item in fields:
        if item[0] == fid:
            return item
    return None
