"""Tables printed as plain text are exactly what rich prints for them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from mailtrace import render

# Words of ASCII, accented, wide (CJK, two cells each) and markup-looking text.
_WORD = st.text(
    st.sampled_from([*"abcxyz019.-@[]/", "é", "ü", "中", "文", "…", "\x1b"]),
    min_size=0,
    max_size=14,
)
_TEXT = st.lists(_WORD, max_size=6).map(" ".join)
_VALUE = st.one_of(st.none(), st.integers(-(10**12), 10**12), st.floats(0, 1e9), _TEXT)


def _printed(monkeypatch: pytest.MonkeyPatch, width: int, plain: bool, *args: Any) -> str:
    console = Console(file=io.StringIO(), width=width, highlight=False, soft_wrap=False)
    monkeypatch.setattr(render, "out", console)
    if not plain:
        monkeypatch.setattr(render, "_plain_table", lambda *a: None)
    render._rows_table(*args)
    monkeypatch.undo()
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    title=_TEXT,
    columns=st.lists(
        st.sampled_from(["domain", "count", "bytes_in", "avg_delay", "reason"]),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    values=st.lists(st.lists(_VALUE, min_size=5, max_size=5), min_size=1, max_size=8),
    width=st.sampled_from([24, 40, 57, 80, 120]),
)
def test_plain_tables_print_what_rich_prints(
    title: str, columns: list[str], values: list[list[Any]], width: int
) -> None:
    rows = [dict(zip(columns, row, strict=False)) for row in values]
    with pytest.MonkeyPatch.context() as mp:
        fast = _printed(mp, width, True, title, rows, columns)
    with pytest.MonkeyPatch.context() as mp:
        slow = _printed(mp, width, False, title, rows, columns)
    assert fast == slow


def test_a_report_table_that_fits_is_printed_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"domain": "example.org", "delivered": 1200, "avg_delay": 1.25},
        {"domain": "mail.example.net", "delivered": 7, "avg_delay": None},
    ]
    monkeypatch.setattr(render, "out", Console(file=io.StringIO(), width=80))
    text = render._plain_table(
        "Recipient domains",
        ["domain", "sent", "avg s"],
        [False, True, True],
        [[render._cell(r[c], c) for c in ("domain", "delivered", "avg_delay")] for r in rows],
        80,
    )
    assert text == (
        "Recipient domains               \n"
        "domain           ┃  sent ┃ avg s\n"
        "━━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━\n"
        "example.org      │ 1,200 │   1.2\n"
        "mail.example.net │     7 │      \n"
        "\n"
    )


@pytest.mark.parametrize("plain", [True, False])
def test_numbers_too_wide_for_the_console_are_printed_whole(
    monkeypatch: pytest.MonkeyPatch, plain: bool
) -> None:
    # The recipient-domains table of a busy server: nine columns, the last cut at 80 columns
    # (by rich, which crops the line) until tables too wide for their numbers were widened.
    columns = ["domain", "delivered", "bytes", "deferrals", "bounced", *"abcd"]
    values = ["example.com", 1_863_662, 2**31, 340, 195, 2.0, 0.3, 285.1, 88_123.4]
    rows = [dict(zip(columns, values, strict=True))]
    text = _printed(monkeypatch, 80, plain, "Recipient domains", rows, columns)
    assert "│ 88,123.4\n" in text and "1,863,662" in text
    assert max(len(line) for line in text.splitlines()) > 80


def test_long_reasons_wrap_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """A problems table's long reasons fold inside their column, laid out without rich."""
    reason = "550 5.1.1 <…>: Recipient address rejected: User unknown in virtual mailbox table " * 2
    rows = [{"category": "unknown_user", "count": 12, "codes": "5.1.1", "reason": reason}]
    monkeypatch.setattr(render, "out", Console(file=io.StringIO(), width=80))
    cells = [[render._cell(r[c], c) for c in rows[0]] for r in rows]
    text = render._plain_table("Bounces", list(rows[0]), [False, True, False, False], cells, 80)
    assert text is not None
    assert max(len(line) for line in text.splitlines()) == 80
    with pytest.MonkeyPatch.context() as mp:
        assert text == _printed(mp, 80, False, "Bounces", rows)
