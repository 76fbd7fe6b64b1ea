"""The queue files of events: the compiled module and NumPy give the same answers."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtrace import queue_files
from mailtrace.paths import factorize, read_events
from mailtrace.queue_files import FROM, REMOVED, attempts, file_rows
from mailtrace.report import COLUMNS, build_report

compiled = pytest.mark.skipif(queue_files.pathcore is None, reason="built without a C compiler")
LOGS = Path(__file__).resolve().parent.parent / "sample_data" / "logs"


@st.composite
def _rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, bytes, np.ndarray, int]:
    n = draw(st.integers(0, 60))
    spread = draw(st.sampled_from([3, 50, 10**6]))  # few ids reused, many, sparse codes
    code = np.array(draw(st.lists(st.integers(0, spread), min_size=n, max_size=n)), np.int64)
    kinds = draw(st.integers(1, 6))
    kind = np.array(draw(st.lists(st.integers(-1, kinds), min_size=n, max_size=n)), np.int32)
    roles = bytes(draw(st.lists(st.integers(0, 255), min_size=kinds, max_size=kinds)))
    extra = np.array(sorted(draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n))), np.int64)
    return code, kind, roles, extra[extra < n], draw(st.integers(0, 7))


@compiled
@settings(max_examples=400, deadline=None)
@given(_rows())
def test_compiled_and_numpy_find_the_same_files(
    rows: tuple[np.ndarray, np.ndarray, bytes, np.ndarray, int],
) -> None:
    c = file_rows(*rows)
    p = file_rows(*rows, compiled=False)
    assert c.seg.tolist() == p.seg.tolist()
    assert c.table.tolist() == p.table.tolist()


def test_a_removal_ends_its_file_and_the_id_starts_again() -> None:
    # Rows of id 7: from, removed, from (the id reused), removed; id 3 between them.
    code = np.array([7, 7, 3, 7, 7], np.int64)
    kind = np.array([0, 1, 0, 0, 1], np.int32)
    roles = bytes([1 << FROM, 1 << REMOVED])
    for use_c in (True, False):
        rows = file_rows(code, kind, roles, np.array([], np.int64), 0, compiled=use_c)
        assert rows.seg.tolist() == [1, 1, 0, 2, 2]
        assert rows.reuse.tolist() == [0, 0, 1]
        assert rows.role(REMOVED).tolist() == [-1, 1, 4]
        assert rows.role(FROM).tolist() == [2, 0, 3]


@compiled
def test_bad_buffers_are_refused() -> None:
    core = queue_files.pathcore
    assert core is not None
    seg = np.empty(2, np.int64)
    none = np.array([], np.int64)
    with pytest.raises(ValueError, match="outside"):
        core.file_rows(np.array([0, 5], np.int64), 2, np.zeros(2, np.int32), b"", 4, none, 5, seg)
    with pytest.raises(ValueError, match="mismatched"):
        core.file_rows(np.zeros(2, np.int64), 1, np.zeros(3, np.int32), b"", 4, none, 5, seg)
    # Offsets that run past the data (the check _fastlog's count_strings shares, _ends.h).
    offsets = np.array([0, 2, 9], np.int32)
    with pytest.raises(ValueError, match="shorter"):
        core.factorize([(None, 0, 2, offsets, b"abcd")], np.empty(2, np.int64))
    last, number = np.empty(2, np.uint8), np.empty(2, np.int32)
    with pytest.raises(ValueError, match="file number"):
        core.attempts(np.array([0, -1], np.int64), np.zeros(2, np.int64), b"\1\1", last, number)
    with pytest.raises(ValueError, match="shorter"):
        core.blank(offsets, b"abcd", 0, 2)


def test_reports_without_the_compiled_module_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    logs = sorted(p for p in LOGS.iterdir() if p.is_file())
    events = read_events(logs, COLUMNS, year=2026, tz="UTC")
    assert events.num_rows > 400
    built = build_report(events).to_dict()
    monkeypatch.setattr(queue_files, "pathcore", None)
    assert build_report(events).to_dict() == built


def test_the_compiled_module_is_built() -> None:
    # make test builds it, as it builds the parser (tests/test_fastlog.py): setup.py builds it
    # optionally, so a compile error would otherwise only show as a slower report.
    assert queue_files.pathcore is not None


_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "a", "4F3A21B7C9", "postfix/smtpd", "x" * 16, "x" * 17, "é中"]),
    st.text(max_size=24),
)


@compiled
@settings(max_examples=400, deadline=None)
@given(
    values=st.lists(_VALUES, max_size=80),
    cuts=st.lists(st.integers(0, 80), max_size=4),
    start=st.integers(0, 3),
)
def test_factorize_numbers_strings_as_arrow_does(
    values: list[str | None], cuts: list[int], start: int
) -> None:
    """Codes and values equal dictionary_encode's over chunks and slices (non-zero offsets)."""
    whole = pa.array(values, pa.string()).slice(min(start, len(values)))
    bounds = sorted({0, len(whole), *(c for c in cuts if c < len(whole))})
    col = pa.chunked_array([whole.slice(a, b - a) for a, b in pairwise(bounds)], pa.string())
    for data in (col, whole):
        codes, found = factorize(data)
        want_codes, want = factorize(data, compiled=False)
        assert codes.tolist() == want_codes.tolist()
        assert found.to_pylist() == want.to_pylist()


@compiled
@settings(max_examples=400, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.booleans()), max_size=60))
def test_attempts_are_numbered_alike_by_both(rows: list[tuple[int, int, bool]]) -> None:
    seg = np.array([r[0] for r in rows], np.int64)
    rcpt = np.array([r[1] for r in rows], np.int64)
    real = np.array([r[2] for r in rows], bool)
    last_c, number_c = attempts(seg, rcpt, real)
    last_p, number_p = attempts(seg, rcpt, real, compiled=False)
    assert last_c.tolist() == last_p.tolist()
    assert number_c.tolist() == number_p.tolist()
    # The last row of each group and only it; numbers count the real rows before, 1 at least.
    for i, (s, r, _) in enumerate(rows):
        later = [j for j in range(i + 1, len(rows)) if rows[j][:2] == (s, r)]
        assert last_c[i] == (not later)
        real_so_far = sum(1 for j in range(i + 1) if rows[j][:2] == (s, r) and rows[j][2])
        assert number_c[i] == max(real_so_far, 1)
