"""Parquet files whose pages mailtrace encodes read back as the same table, in every reader."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailtrace import parquet_write
from mailtrace.logs.batch import encode_table
from mailtrace.logs.reader import read_events_table

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "logs"

pytestmark = pytest.mark.skipif(
    parquet_write._PAGES is None, reason="the C page encoder is not built here"
)


@pytest.fixture(scope="module")
def events() -> pa.Table:
    logs = [SAMPLE / "postfix.log", SAMPLE / "report_day.log", SAMPLE / "exim_mainlog"]
    return read_events_table(logs, year=2026, tz="UTC")


def _read(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def test_the_events_of_sample_data_read_back_equal(events: pa.Table) -> None:
    data = parquet_write.encode(events, statistics={"ts", "kind", "line"}, page_rows=50)
    assert data is not None
    back = _read(data)
    assert back.schema.equals(events.schema, check_metadata=True)
    assert back.equals(events)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.created_by.startswith("mailtrace")


def test_pandas_and_duckdb_read_the_same_values(events: pa.Table, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    data = parquet_write.encode(events, statistics={"ts"}, row_group_size=100, page_rows=30)
    assert data is not None
    path.write_bytes(data)
    frame = pq.read_table(path).to_pandas()
    assert frame.equals(events.to_pandas())
    duckdb = pytest.importorskip("duckdb")
    query = (
        "SELECT count(*), count(queue_id), sum(size), min(ts), max(reply_code), "
        "sum(length(text)), count(DISTINCT kind) FROM read_parquet('{}')"
    )
    got = duckdb.sql(query.format(path)).fetchall()
    reference = tmp_path / "reference.parquet"
    pq.write_table(events, reference)
    assert got == duckdb.sql(query.format(reference)).fetchall()
    assert got[0][0] == events.num_rows


def test_statistics_are_exact_and_filters_skip_by_them(events: pa.Table, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    data = parquet_write.encode(events, statistics={"ts", "kind", "line"}, row_group_size=64)
    assert data is not None
    path.write_bytes(data)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == -(-events.num_rows // 64)
    for group in range(meta.num_row_groups):
        rows = events.slice(group * 64, 64)
        for index, name in enumerate(events.schema.names):
            stats = meta.row_group(group).column(index).statistics
            if name not in {"ts", "kind", "line"}:
                assert stats is None
                continue
            column = rows.column(name)
            assert stats.null_count == column.null_count
            low, high = pc.min_max(column).values()
            assert (stats.min, stats.max) == (low.as_py(), high.as_py())
    # A filter reads only the row groups whose range may match, and finds every row.
    lines = events.column("line").to_pylist()
    wanted = sum(1 for n in lines if 30 <= n < 40)
    assert pq.read_table(path, filters=[("line", ">=", 30), ("line", "<", 40)]).num_rows == wanted


_TYPES = {
    "s": (pa.string(), st.text(max_size=12)),
    # few distinct values, around the dictionary encoder's 8- and 16-byte comparisons
    "d": (pa.string(), st.sampled_from(["", "a", "sent", "postfix/smtpd", "é" * 9, "x" * 17])),
    "i16": (pa.int16(), st.integers(-(2**15), 2**15 - 1)),
    "i32": (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "i64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "f64": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "ts": (pa.timestamp("us", tz="UTC"), st.integers(-(2**55), 2**55)),  # within datetime
    # steadily growing values, as line numbers and times are (the deltas' usual case)
    "grow": (pa.int64(), st.integers(0, 3).map(lambda d: 10**12 + d)),
}


@st.composite
def _tables(draw: st.DrawFn) -> tuple[pa.Table, int, int, set[str]]:
    """A table of every supported type with nulls, cut into chunks and sliced at odd offsets
    (so validity bitmaps start mid-byte), and page and row group sizes to cut it by."""
    rows = draw(st.integers(0, 300))
    columns = {}
    for name, (data_type, values) in _TYPES.items():
        items = draw(st.lists(st.one_of(st.none(), values), min_size=rows + 20, max_size=rows + 20))
        array = pa.array(items, data_type)
        cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=3)))
        start = draw(st.integers(0, 20))  # a slice: the array's offset is not 0
        pieces, at = [], 0
        for cut in [*cuts, rows]:
            pieces.append(array.slice(start + at, cut - at))
            at = cut
        columns[name] = pa.chunked_array(pieces, data_type)
    page_rows = draw(st.integers(1, 80))
    row_group_size = draw(st.integers(1, 400))
    # dictionary pages for strings, DELTA_BINARY_PACKED for int64 and timestamps (others ignore
    # either)
    dictionary = draw(st.sets(st.sampled_from(["s", "d", "i32", "i64", "ts", "grow"])))
    return pa.table(columns), page_rows, row_group_size, dictionary


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_any_table_of_the_supported_types_reads_back_equal(
    case: tuple[pa.Table, int, int, set[str]],
) -> None:
    table, page_rows, row_group_size, dictionary = case
    statistics = {"s", "d", "i16", "i32", "i64", "ts"}
    data = parquet_write.encode(
        table,
        statistics,
        row_group_size=row_group_size,
        page_rows=page_rows,
        dictionary=dictionary,
        delta=dictionary,
    )
    assert data is not None
    back = _read(data)
    assert back.schema.equals(table.schema)
    assert back.equals(table.combine_chunks()) or _equal_with_nan(back, table)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    for group in range(meta.num_row_groups):
        rows = table.slice(group * row_group_size, row_group_size)
        for index, name in enumerate(table.schema.names):
            if name in statistics:
                stats = meta.row_group(group).column(index).statistics
                low, high = pc.min_max(rows.column(name)).values()
                assert stats.null_count == rows.column(name).null_count
                assert stats.has_min_max == low.is_valid
                if low.is_valid:
                    assert (stats.min, stats.max) == (low.as_py(), high.as_py())


def _equal_with_nan(back: pa.Table, table: pa.Table) -> bool:
    """Equal but for NaN, which is not equal to itself: compare the doubles' bit patterns."""

    def bits(column: pa.ChunkedArray) -> list[bytes | None]:
        return [None if v is None else struct.pack("<d", v) for v in column.to_pylist()]

    return all(
        bits(back.column(name)) == bits(table.column(name))
        if name == "f64"
        else back.column(name).equals(table.column(name))
        for name in table.schema.names
    )


@pytest.mark.parametrize(
    "field",
    [
        pa.field("flag", pa.bool_()),
        pa.field("kind", pa.dictionary(pa.int8(), pa.string())),
        pa.field("ts", pa.timestamp("s")),
        pa.field("big", pa.large_string()),
        pa.field("n", pa.int64(), nullable=False),
    ],
)
def test_other_types_are_left_to_pyarrow(field: pa.Field) -> None:
    schema = pa.schema([field])
    assert not parquet_write.available(schema)
    values = [None, None] if field.nullable else [1, 2]
    table = pa.table({field.name: pa.array(values, field.type)}, schema=schema)
    assert parquet_write.encode(table) is None
    # The batch writer falls back to pyarrow, and the file reads back as pyarrow's own does.
    reference = io.BytesIO()
    pq.write_table(table, reference)
    written = encode_table(table)
    assert isinstance(written, bytes)
    assert _read(written).equals(_read(reference.getvalue()))


def test_an_empty_table_is_a_file_of_its_schema(events: pa.Table) -> None:
    empty = events.schema.empty_table()
    data = parquet_write.encode(empty)
    assert data is not None
    back = _read(data)
    assert back.num_rows == 0 and back.schema.equals(events.schema)


def test_the_page_encoder_refuses_buffers_shorter_than_the_rows() -> None:
    pages = parquet_write._PAGES
    assert pages is not None
    array = pa.array(["a", None, "ccc"])
    validity, offsets, data = array.buffers()
    with pytest.raises(ValueError, match="shorter"):
        pages.encode(0, validity, 0, 100, offsets, data, False, bytearray())
    with pytest.raises(ValueError, match="statistics"):
        pages.encode(4, None, 0, 1, pa.array([1.0]).buffers()[1], None, True, bytearray())
    bad = pa.py_buffer(struct.pack("<4i", 0, 1, 99, 100))  # offsets past the data
    with pytest.raises(ValueError, match="outside"):
        pages.encode(0, None, 0, 3, bad, data, False, bytearray())
    scratch = bytearray()
    size, nulls, low, high = pages.encode(0, validity, 0, 3, offsets, data, True, scratch)
    # Levels: 4-byte length, one bit-packed run (header 0x03, bits 101), then the two values.
    levels = b"\x02\x00\x00\x00\x03\x05"
    assert bytes(scratch[:size]) == levels + b"\x01\x00\x00\x00a\x03\x00\x00\x00ccc"
    assert (nulls, low, high) == (1, b"a", b"ccc")


@pytest.mark.parametrize("compressor", ["cramjam", "pyarrow"])
def test_either_snappy_writes_the_same_table(
    events: pa.Table, compressor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages compressed by cramjam into shared buffers, or by pa.compress one by one (the
    fallback without cramjam), read back as the table, across buffer boundaries too."""
    if compressor == "pyarrow":
        monkeypatch.setattr(parquet_write, "_snappy", None)
    else:
        assert parquet_write._snappy is not None  # a dependency: the fast path is in use
        monkeypatch.setattr(parquet_write, "_ARENA", 512)  # a new buffer every page or two
    part = parquet_write.encode_part(events, statistics={"ts"}, page_rows=64)
    assert part is not None and len(part.pages) > 20
    assert _read(part.to_file()).equals(events)


def test_a_part_pickles_with_its_pages_as_bytes(events: pa.Table) -> None:
    """A Dask worker's part crosses to the writing process: views of the encoder's buffers
    travel as bytes and the file is the same."""
    import pickle

    part = parquet_write.encode_part(events, page_rows=100)
    assert part is not None
    back = pickle.loads(pickle.dumps(part))
    assert all(isinstance(piece, bytes) for piece in back.pages)
    assert back.to_file() == part.to_file()


def test_dictionary_pages_where_they_pay_and_plain_pages_past_4096_values(
    events: pa.Table, tmp_path: Path
) -> None:
    """Columns of few names get a dictionary page; a column of more distinct values than the
    encoder keeps is written PLAIN; every reader reads both back the same."""
    many = pa.array([f"client{i}" for i in range(5000)] * 2)
    table = pa.table({"kind": pa.array(["connect", "sent", None, "bounced"] * 2500), "ip": many})
    data = parquet_write.encode(table, {"kind", "ip"}, dictionary={"kind", "ip"})
    assert data is not None
    meta = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0)
    assert meta.column(0).has_dictionary_page and "RLE_DICTIONARY" in meta.column(0).encodings
    assert not meta.column(1).has_dictionary_page
    assert (meta.column(0).statistics.min, meta.column(0).statistics.max) == ("bounced", "sent")
    assert _read(data).equals(table)
    path = tmp_path / "events.parquet"
    encoded = parquet_write.encode(
        events, {"kind"}, row_group_size=70, dictionary=events.schema.names
    )
    assert encoded is not None
    path.write_bytes(encoded)
    assert pq.read_table(path).equals(events)
    assert pq.read_table(path).to_pandas().equals(events.to_pandas())
    duckdb = pytest.importorskip("duckdb")
    query = (
        "SELECT kind, count(*), count(DISTINCT host), max(text) FROM read_parquet('{}') "
        "GROUP BY 1 ORDER BY 1"
    )
    reference = tmp_path / "reference.parquet"
    pq.write_table(events, reference)
    assert (
        duckdb.sql(query.format(path)).fetchall() == duckdb.sql(query.format(reference)).fetchall()
    )


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(None, id="EVENTS"),
        pa.schema([("source", pa.string()), ("line", pa.int64())]),
        pa.schema(
            [
                ("a", pa.int16()),
                ("b", pa.int32()),
                ("c", pa.float64()),
                ("d", pa.timestamp("us", tz="UTC")),
                ("e", pa.timestamp("ms", tz="Europe/Paris")),
                ("f", pa.timestamp("us")),
                ("g", pa.int64()),
                ("h", pa.string()),
            ]
        ),
    ],
)
def test_the_footer_built_here_is_the_one_pyarrow_writes(schema: pa.Schema | None) -> None:
    """logs -o builds the footer template itself, so as not to import pyarrow.parquet; it must
    be exactly what pyarrow's writer gives the schema (types, logical types, ARROW:schema)."""
    from mailtrace.schema import EVENTS

    schema = schema or EVENTS
    assert parquet_write._footer(schema) == parquet_write._pyarrows_template(schema)
    assert parquet_write._footer(schema.with_metadata({"k": "v"})) is None  # left to pyarrow


def test_logs_o_imports_neither_pyarrow_parquet_nor_pandas(tmp_path: Path) -> None:
    """The dataset and its UNPARSED file are written by mailtrace's encoder alone; the files
    read back with their schemas (an empty UNPARSED file too)."""
    import subprocess
    import sys

    from mailtrace.schema import EVENTS, UNPARSED

    out = tmp_path / "out"
    code = (
        "import sys; from mailtrace.logs.batch import run; "
        f"s = run([{str(SAMPLE / 'postfix.log')!r}], {str(out)!r}, year=2026, tz='UTC'); "
        "print(sorted(m for m in sys.modules if m.startswith(('pandas', 'pyarrow.parquet'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    events = pq.read_table(out / "postfix.log.parquet")
    unparsed = pq.read_table(out / "_unparsed" / "postfix.log.parquet")
    assert events.schema.equals(EVENTS) and unparsed.schema.equals(UNPARSED)
    assert (
        events.num_rows == read_events_table([SAMPLE / "postfix.log"], year=2026, tz="UTC").num_rows
    )


@pytest.mark.parametrize("shape", ["lines", "times", "random", "extremes", "constant"])
def test_delta_pages_of_many_values_read_back_in_every_reader(shape: str, tmp_path: Path) -> None:
    """DELTA_BINARY_PACKED over whole blocks of 128 and miniblocks of every bit width (0 for
    a constant, 64 for extremes, whose deltas wrap), with nulls, as pyarrow and DuckDB read it."""
    import random

    rng = random.Random(shape)
    n = 20_000
    if shape == "lines":
        values = [1000 + i + (i // 7) for i in range(n)]
    elif shape == "times":
        values = [
            1_780_000_000_000_000 + i * 1_000_000 + rng.randrange(1_000_000) for i in range(n)
        ]
    elif shape == "random":
        values = [rng.randrange(-(2**40), 2**40) for _ in range(n)]
    elif shape == "extremes":
        values = [rng.choice([-(2**63), 2**63 - 1, 0, -1, 1]) for _ in range(n)]
    else:
        values = [42] * n
    items = [None if rng.random() < 0.05 else v for v in values]
    table = pa.table({"v": pa.array(items, pa.int64())}).slice(3)
    data = parquet_write.encode(table, {"v"}, delta={"v"})
    assert data is not None
    assert (
        "DELTA_BINARY_PACKED"
        in pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).encodings
    )
    assert _read(data).equals(table)
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "delta.parquet"
    path.write_bytes(data)
    got = duckdb.sql(f"SELECT count(v), min(v), max(v) FROM read_parquet('{path}')").fetchall()
    present = [v for v in table.column("v").to_pylist() if v is not None]
    assert got == [(len(present), min(present), max(present))]
    assert (
        duckdb.sql(f"SELECT list(v) FROM read_parquet('{path}')").fetchall()[0][0]
        == table.column("v").to_pylist()
    )
