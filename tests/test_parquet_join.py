"""Parquet parts joined row group by row group read back as one file, in every reader."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mailtrace.logs.batch import encode_table
from mailtrace.logs.reader import read_events_table
from mailtrace.parquet_join import JoinedFile, ParquetJoinError, read_footer
from mailtrace.parquet_thrift import Writer
from mailtrace.parquet_write import Part

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "logs"


@pytest.fixture(scope="module")
def events() -> pa.Table:
    logs = [SAMPLE / "postfix.log", SAMPLE / "report_day.log", SAMPLE / "exim_mainlog"]
    table = read_events_table(logs, year=2026, tz="UTC")
    assert table.num_rows > 250
    return table


def _file(table: pa.Table) -> bytes:
    """``table`` as the bytes of a whole Parquet file, as encode_table's parts become one."""
    part = encode_table(table)
    return part.to_file() if isinstance(part, Part) else part


def _join(parts: list[bytes] | list[Part], path: Path) -> Path:
    with path.open("wb") as f:
        joined = JoinedFile(f)
        for part in parts:
            if isinstance(part, Part):
                joined.append_groups(part.pages, part.groups, part.rows, part.meta)
            else:
                joined.append(part)
        joined.close()
    return path


def _parts(table: pa.Table, size: int, files: bool = True) -> list[bytes] | list[Part]:
    """``table`` cut into parts: whole files (what JoinedFile.append reads), else the
    encoded row groups a worker hands over (JoinedFile.append_groups)."""
    cuts = [table.slice(i, size) for i in range(0, table.num_rows, size)]
    if files:
        return [_file(cut) for cut in cuts]
    parts = [encode_table(cut) for cut in cuts]
    assert all(isinstance(part, Part) for part in parts)
    return parts  # type: ignore[return-value]


def test_a_footer_decodes_and_encodes_back_byte_for_byte(events: pa.Table) -> None:
    part = _file(events)
    meta, start = read_footer(part)
    writer = Writer()
    writer.struct(meta)
    assert bytes(writer.out) == part[start:-8]


@pytest.mark.parametrize("files", [True, False], ids=["files", "row-groups"])
def test_joined_parts_read_back_as_the_whole_table(
    events: pa.Table, tmp_path: Path, files: bool
) -> None:
    path = _join(_parts(events, 37, files), tmp_path / "joined.parquet")
    assert pq.ParquetFile(path).metadata.created_by == "mailtrace version 0.1.0"
    back = pq.read_table(path)
    assert back.schema.equals(events.schema, check_metadata=False)
    assert back.equals(events)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == events.num_rows
    assert meta.num_row_groups == -(-events.num_rows // 37)
    # Each row group's statistics moved with it: a filter, which skips row groups by them, finds
    # every row it should.
    lines = events.column("line").to_pylist()
    wanted = sum(1 for n in lines if 30 <= n < 40)
    assert pq.read_table(path, filters=[("line", ">=", 30), ("line", "<", 40)]).num_rows == wanted


def test_pandas_and_duckdb_read_the_joined_file(events: pa.Table, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = _join(_parts(events, 41, files=False), tmp_path / "joined.parquet")
    frame = pq.read_table(path).to_pandas()
    assert len(frame) == events.num_rows
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    got = duckdb.sql(
        f"SELECT count(*), count(reply_code), sum(size), max(line) FROM read_parquet('{path}')"
    ).fetchall()[0]
    sizes = events.column("size").to_pylist()
    want = (
        events.num_rows,
        events.num_rows - events.column("reply_code").null_count,
        sum(s for s in sizes if s is not None),
        max(events.column("line").to_pylist()),
    )
    assert got == want


def test_empty_parts_join_to_a_file_with_the_schema(events: pa.Table, tmp_path: Path) -> None:
    empty = _file(events.slice(0, 0))
    path = _join([empty, *_parts(events.slice(0, 10), 4), empty], tmp_path / "j.parquet")
    assert pq.read_table(path).equals(events.slice(0, 10))
    only_empty = _join([empty], tmp_path / "e.parquet")
    empty_part = encode_table(events.slice(0, 0))
    assert isinstance(empty_part, Part)
    head = _parts(events.slice(0, 10), 4, files=False)
    mixed = _join([empty_part, *head, empty_part], tmp_path / "m.parquet")  # type: ignore[list-item]
    assert pq.read_table(mixed).equals(events.slice(0, 10))
    assert pq.read_table(only_empty).num_rows == 0
    assert pq.read_schema(only_empty).equals(events.schema, check_metadata=False)


def test_parts_of_several_row_groups_keep_their_order(tmp_path: Path) -> None:
    def part(start: int) -> bytes:
        sink = io.BytesIO()
        pq.write_table(pa.table({"n": list(range(start, start + 10))}), sink, row_group_size=3)
        return sink.getvalue()

    path = _join([part(0), part(10), part(20)], tmp_path / "j.parquet")
    assert pq.read_table(path).column("n").to_pylist() == list(range(30))
    assert pq.ParquetFile(path).metadata.num_row_groups == 12

    # mailtrace's parts number their row groups (pyarrow's leave them unnumbered): each
    # RowGroup, serialised as it is appended, takes its place in the joined file.
    sink = io.BytesIO()
    joined = JoinedFile(sink)
    for start in (0, 10, 20):
        encoded = encode_table(pa.table({"n": pa.array(range(start, start + 10), pa.int64())}))
        assert isinstance(encoded, Part)
        joined.append_groups(encoded.pages, encoded.groups, encoded.rows, encoded.meta)
    joined.close()
    meta, _ = read_footer(sink.getvalue())
    groups = next(item for item in meta if item[0] == 4)[2][1]
    assert [next(f[2] for f in group if f[0] == 7) for group in groups] == [0, 1, 2]
    assert pq.read_table(io.BytesIO(sink.getvalue())).column("n").to_pylist() == list(range(30))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"", "not a Parquet file"),
        (lambda b: b[:-1], "not a Parquet file"),
        (lambda b: b[:4] + b[-8:], "points before"),
        (lambda b: b[:-40] + b[-8:], "cut short|no row groups"),
    ],
)
def test_damaged_parts_are_refused_in_words(damage, message: str, events: pa.Table) -> None:  # type: ignore[no-untyped-def]
    joined = JoinedFile(io.BytesIO())
    with pytest.raises(ParquetJoinError, match=message):
        joined.append(damage(_file(events.slice(0, 20))))


def test_parts_with_page_indexes_or_bloom_filters_are_refused(tmp_path: Path) -> None:
    table = pa.table({"s": ["a", "b", "c"]})
    for options in ({"write_page_index": True}, {"bloom_filter_options": {"s": True}}):
        sink = io.BytesIO()
        try:
            pq.write_table(table, sink, **options)  # type: ignore[arg-type]
        except TypeError:
            continue  # this pyarrow cannot write them
        with pytest.raises(ParquetJoinError, match="cannot be joined"):
            JoinedFile(io.BytesIO()).append(sink.getvalue())


def test_row_group_pieces_count_in_bytes_whatever_their_item_size(
    events: pa.Table, tmp_path: Path
) -> None:
    """A piece may be any buffer: its offset in the file moves by its bytes, not its items."""
    parts = _parts(events, 50, files=False)
    for part in parts:
        assert isinstance(part, Part)
        whole = b"".join(bytes(piece) for piece in part.pages)
        cut = len(whole) // 4 * 4
        part.pages[:] = [memoryview(whole[:cut]).cast("I"), whole[cut:]]
    assert pq.read_table(_join(parts, tmp_path / "j.parquet")).equals(events)
