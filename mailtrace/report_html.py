"""The ``mailtrace report`` as one self-contained HTML file: sections, charts, sortable tables.

Everything is inside the file: styles in one ``<style>``, charts as inline ``<svg>`` (from
:func:`mailtrace.plot.figure_svg`), and one small script that sorts tables when a column header is
clicked. Nothing is fetched, so the file opens offline and can be mailed as an attachment.

Every piece of text that came from a log (addresses, host names, reply texts) goes through
:func:`html.escape`; a reply that says ``<script>`` shows those characters. As a second wall, a
Content-Security-Policy allows no source at all except inline styles and the one script whose
hash it names, so even markup that slipped through could not run.

>>> from mailtrace.report import Report
>>> page = report_html(Report(totals={"received": 1}, top_senders=[
...     {"sender": "<script>alert(1)</script>@example.org", "count": 1, "bytes": 10}]))
>>> "&lt;script&gt;alert(1)&lt;/script&gt;@example.org" in page, page.count("<script")
(True, 1)
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailtrace.output import atomic_file, check_target
from mailtrace.units import size

if TYPE_CHECKING:
    import pyarrow as pa

    from mailtrace.report import Report

# Sorting: a click on a column's button sorts the body rows by that column, again reverses.
# Cells carry their raw value in data-v so "1.2M" sorts as bytes and "" sorts below numbers.
SORT_SCRIPT = """
(function () {
  "use strict";
  function value(row, i) {
    var cell = row.cells[i];
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent : v;
  }
  function sortBy(table, th, i) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var numeric = th.getAttribute("data-type") === "num";
    var heads = table.tHead.rows[0].cells;
    for (var k = 0; k < heads.length; k++) { heads[k].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, i), y = value(b, i), c;
      if (numeric) {
        x = x === "" ? -Infinity : Number(x);
        y = y === "" ? -Infinity : Number(y);
        c = x < y ? -1 : x > y ? 1 : 0;
      } else {
        c = x.localeCompare(y);
      }
      return ascending ? c : -c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      var button = th.querySelector("button");
      if (button) {
        button.addEventListener("click", function () { sortBy(table, th, i); });
      }
    });
  });
})();
"""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #666; font-size: 12px; }
nav a { margin-right: 12px; font-size: 13px; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; }
.total { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 6px 10px; }
.total b { display: block; font-size: 18px; }
.total span { color: #666; font-size: 12px; }
.charts { display: grid; gap: 12px; }  /* one chart per row: their labels stay legible */
figure { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 0;
         padding: 8px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #444; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 14px; font-size: 13px; }
th, td { border: 1px solid #e3e3e3; padding: 3px 8px; vertical-align: top; }
td { max-width: 640px; overflow-wrap: anywhere; white-space: pre-wrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; border: 0; background: none; cursor: pointer;
            padding: 0; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
.empty { color: #777; font-style: italic; }
"""

_NOT_WORD = re.compile(r"[^a-z0-9]+")


# (Report attribute, section title): the tables in the order the text report shows them.
TABLES = (
    ("per_day", "Per-day traffic (UTC days)"),
    ("per_hour", "Per-hour traffic (UTC hours, all days)"),
    ("recipient_domains", "Recipient domains (delivered; delays in seconds)"),
    ("sender_domains", "Sender domains (received)"),
    ("clients", "Clients (received)"),
    ("top_senders", "Top senders by count"),
    ("top_senders_by_size", "Top senders by size"),
    ("top_recipients", "Top recipients by count"),
    ("top_recipients_by_size", "Top recipients by size"),
)


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def esc(value: object) -> str:
    """Text escaped for HTML (quotes too); ``None`` is empty.

    >>> esc('<img src=x onerror="alert(1)">'), esc(None)
    ('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;', '')
    """
    return "" if value is None else html.escape(str(value), quote=True)


def _cell(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int | float):
        shown = (
            f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
        )
        if key.startswith("bytes") and isinstance(value, int):
            shown = size(value)
        return f'<td class="num" data-v="{esc(value)}">{esc(shown)}</td>'
    if value is None:
        return '<td class="num" data-v=""></td>'
    return f"<td>{esc(value)}</td>"


def table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts as a sortable ``<table>``; a column of numbers sorts as numbers.

    >>> t = table_html([{"domain": "a&b.example", "count": 2}])
    >>> 'data-type="num"' in t, '<td class="num" data-v="2">2</td>' in t, "a&amp;b.example" in t
    (True, True, True)
    >>> table_html([])
    '<p class="empty">none</p>'
    """
    if not rows:
        return '<p class="empty">none</p>'
    cols = list(columns) if columns is not None else list(rows[0])
    heads = []
    for c in cols:
        values = [r.get(c) for r in rows if r.get(c) is not None]
        numeric = bool(values) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        kind = "num" if numeric else "text"
        heads.append(
            f'<th scope="col" data-type="{kind}"><button type="button">'
            f"{esc(c.replace('_', ' '))}</button></th>"
        )
    body = "".join("<tr>" + "".join(_cell(r.get(c), c) for c in cols) + "</tr>" for r in rows)
    return (
        f'<table class="sortable"><thead><tr>{"".join(heads)}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _totals(totals: Mapping[str, Any]) -> str:
    cards = []
    for key, value in totals.items():
        shown = size(value) if key.startswith("bytes") and isinstance(value, int) else value
        if isinstance(shown, int):
            shown = f"{shown:,}"
        cards.append(
            f'<div class="total"><b>{esc(shown)}</b><span>{esc(key.replace("_", " "))}</span></div>'
        )
    return f'<div class="totals">{"".join(cards)}</div>'


def _anchor(title: str) -> str:
    """A section title as an element id.

    >>> _anchor("Recipient domains (delivered; delays in seconds)")
    'recipient-domains-delivered-delays-in-seconds'
    """
    return _NOT_WORD.sub("-", title.lower()).strip("-")


def report_html(
    report: Report,
    charts: Mapping[str, str] | None = None,
    title: str = "mailtrace report",
    sources: Sequence[str] = (),
    generated: datetime | None = None,
) -> str:
    """The whole page: ``report`` (from :func:`mailtrace.report.build_report`) with ``charts``
    (title → inline SVG text, as :func:`mailtrace.plot.figure_svg` gives) between the totals
    and the tables. ``sources`` name the inputs in the header.

    >>> from mailtrace.report import Report
    >>> page = report_html(Report(), {"Volume": "<svg></svg>"}, sources=["maillog"])
    >>> page.startswith("<!DOCTYPE html>"), '<figure id="chart-volume">' in page
    (True, True)
    """
    when = (generated or datetime.now(UTC)).astimezone(UTC)
    data = report.to_dict()
    sections: list[tuple[str, str]] = [("Grand totals", _totals(data["totals"]))]
    if charts:
        figures = "".join(
            f'<figure id="chart-{_anchor(name)}">{svg}<figcaption>{esc(name)}</figcaption></figure>'
            for name, svg in charts.items()
        )
        sections.append(("Charts", f'<div class="charts">{figures}</div>'))
    for key, name in TABLES:
        sections.append((name, table_html(data[key])))
    if data["smtpd"]:
        sections.append(
            (
                "smtpd connections",
                table_html(
                    [{"measure": k.replace("_", " "), "value": v} for k, v in data["smtpd"].items()]
                ),
            )
        )
    from mailtrace.report import PROBLEM_TITLES  # loaded already: it built ``report``

    problems = []
    for name, rows in data["problems"].items():
        heading = f"{PROBLEM_TITLES.get(name, name)} by category and reason"
        table = table_html(rows, ["category", "count", "codes", "reason"])
        problems.append(f'<h3 id="{_anchor(heading)}">{esc(heading)}</h3>{table}')
    sections.append(("Problems", "".join(problems) or '<p class="empty">none</p>'))
    nav = " ".join(f'<a href="#{_anchor(t)}">{esc(t)}</a>' for t, _ in sections)
    body = "".join(f'<h2 id="{_anchor(t)}">{esc(t)}</h2>{content}' for t, content in sections)
    inputs = ", ".join(esc(s) for s in sources)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_csp(SORT_SCRIPT))}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="meta">generated {when:%Y-%m-%d %H:%M:%S} UTC'
        f"{' from ' + inputs if inputs else ''}; all times are UTC</p>"
        f"<nav>{nav}</nav></header>"
        f"<main>{body}</main><script>{SORT_SCRIPT}</script></body></html>\n"
    )


def log_report_html(
    events: pa.Table,
    detail: int = 10,
    title: str = "mailtrace report",
    sources: Sequence[str] = (),
) -> str:
    """The HTML report of an EVENTS table: :func:`mailtrace.report.build_report` and every chart
    of :data:`mailtrace.plot.LOG_CHARTS`.

    >>> from mailtrace.schema import EVENTS
    >>> page = log_report_html(EVENTS.empty_table())
    >>> page.count("<svg"), page.count("no data")
    (7, 8)
    """
    from mailtrace import plot
    from mailtrace.paths import paths_tables
    from mailtrace.report import build_report

    report = build_report(events, detail=detail)
    messages, deliveries = paths_tables(events)
    charts = {}
    for i, (name, chart) in enumerate(plot.LOG_CHARTS.items()):
        fig = chart(events, messages, deliveries)
        charts[name] = plot.figure_svg(fig, salt=f"chart{i}")
    return report_html(report, charts, title=title, sources=sources)


def write_html(text: str, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``text`` to ``path`` (UTF-8) atomically; an existing file needs ``force``.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_html("<p>hi</p>", d / "r.html").read_text()
    '<p>hi</p>'
    >>> write_html("<p>again</p>", d / "r.html")
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: r.html exists already (add --force to overwrite it)
    """
    target = Path(path)
    check_target(target, force, "the report")
    with atomic_file(target, "w") as fh:
        fh.write(text)
    return target
