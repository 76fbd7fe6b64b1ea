"""Rows taken from a column of many chunks: Arrow's answers, without joining the chunks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace import column_take
from mailtrace.column_take import take_by_chunk, take_rows

# One value per row number, for each type the compiled gather copies and one it does not.
_VALUES = {
    pa.string(): lambda i: f"value {i}" * (i % 4),  # empty strings too
    pa.binary(): lambda i: bytes([i % 256]) * (i % 3),
    pa.int64(): lambda i: i * 1_000_003 - 7,
    pa.int32(): lambda i: -i,
    pa.int8(): lambda i: i % 100,
    pa.float64(): lambda i: i / 3,
    pa.timestamp("us", tz="UTC"): lambda i: (
        dt.datetime(2026, 3, 7, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
    ),
    pa.bool_(): lambda i: i % 3 == 0,
}


def _column(typ: pa.DataType, sizes: list[int], cut: int) -> pa.ChunkedArray:
    """Chunks of ``sizes`` rows (every third row null), each a slice starting ``cut`` rows into
    a larger array, as a table's column read from a range is."""
    values = iter(range(1000))
    chunks = []
    for n in sizes:
        rows = [None if i % 3 == 1 else _VALUES[typ](next(values)) for i in range(n + cut)]
        chunks.append(pa.array(rows, typ).slice(cut, n))
    return pa.chunked_array(chunks, typ)


@given(
    typ=st.sampled_from(list(_VALUES)),
    sizes=st.lists(st.integers(0, 6), min_size=2, max_size=6),
    cut=st.integers(0, 9),
    picks=st.lists(st.one_of(st.none(), st.integers(0, 40)), max_size=14),
    compiled=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_take_rows_is_arrows_take(
    typ: pa.DataType,
    sizes: list[int],
    cut: int,
    picks: list[int | None],
    compiled: bool,
) -> None:
    """Any type, sliced chunks, empty chunks, null rows and null indices, in any order, with
    the compiled module or without: the values, validity and type of Arrow's take."""
    col = _column(typ, sizes, cut)
    at = pa.array([p if p is None else p % max(len(col), 1) for p in picks], pa.int64())
    with pytest.MonkeyPatch.context() as patch:
        if not compiled:
            patch.setattr(column_take, "pathcore", None)
        if len(col) == 0 and at.null_count < len(at):
            with pytest.raises(IndexError):
                take_rows(col, at)
            return
        taken = take_rows(col, at)
    assert isinstance(taken, pa.Array)
    taken.validate(full=True)
    assert taken.equals(pc.take(col, at).combine_chunks())


def test_the_compiled_gather_takes_strings_without_arrow() -> None:
    """A string column of two chunks goes through the compiled module when it is built."""
    if column_take.pathcore is None:
        pytest.skip("built without a C compiler")
    col = pa.chunked_array([["a", None, "bc"], ["", "def"]])
    valid, nulls, offsets, data = column_take.pathcore.gather(
        [(c.buffers()[0], c.offset, len(c), c.buffers()[1], c.buffers()[2]) for c in col.chunks],
        0,
        pa.array([4, -1, 2, 1, 3]).to_numpy(),
        bytearray,
    )
    assert (nulls, bytes(data)) == (2, b"defbc")
    assert pa.Array.from_buffers(
        pa.string(), 5, [pa.py_buffer(valid), pa.py_buffer(offsets), pa.py_buffer(data)], nulls
    ).to_pylist() == ["def", None, "bc", None, ""]


@pytest.mark.parametrize("take", [take_rows, take_by_chunk])
@pytest.mark.parametrize("row", [2, -1])
def test_a_row_outside_the_column_is_refused(take: Any, row: int) -> None:
    with pytest.raises(IndexError):
        take(pa.chunked_array([["a"], ["b"]]), pa.array([0, row]))


def test_damaged_buffers_are_refused_not_read() -> None:
    """Offsets that point past the data (a corrupt array) raise rather than read memory."""
    if column_take.pathcore is None:
        pytest.skip("built without a C compiler")
    offsets = pa.array([0, 2, 900], pa.int32()).buffers()[1]
    empty = pa.array([0], pa.int32()).buffers()[1]
    with pytest.raises(ValueError):
        column_take.pathcore.gather(
            [(None, 0, 2, offsets, b"ab"), (None, 0, 0, empty, b"")],
            0,
            pa.array([1]).to_numpy(),
            bytearray,
        )
    with pytest.raises(ValueError):  # a chunk longer than its offsets
        column_take.pathcore.gather(
            [(None, 0, 5, offsets, b"ab")], 0, pa.array([0]).to_numpy(), bytearray
        )
