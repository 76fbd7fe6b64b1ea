"""Charts of mailtrace's tables: each function takes tables and returns a matplotlib Figure.

This is the only module that imports matplotlib. Figures are built with the object API on an
explicit Agg canvas, never through ``pyplot``: no global figure registry to leak memory in a long
report run, no GUI backend, and nothing is ever shown; :func:`save_figure` writes PNG or SVG
atomically and :func:`figure_svg` gives the inline SVG of the HTML report. Every time axis is UTC
and says so. A chart with nothing to draw is still a figure: its panel says "no data".

Text from logs and headers (domains, host names) reaches the charts only through :func:`label`,
which cuts it short and keeps matplotlib from reading ``$…$`` in it as mathematics.

>>> from mailtrace.schema import DELIVERIES
>>> fig = top_failing(DELIVERIES.empty_table())
>>> [ax.get_title() for ax in fig.axes]
['Top failing recipient domains', 'Top failing providers']
>>> panel_notes(fig)
['no data', 'no data']
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from mailtrace.errors import UsageError
from mailtrace.output import atomic_file, check_target
from mailtrace.units import duration

NO_DATA = "no data"
#: The reply-code heat map keeps this many of the most frequent codes.
MAX_CODES = 20
#: A delay curve is drawn through at most this many of its points.
CDF_POINTS = 1000
#: A message's waterfall shows at most this many hops (the last ones).
MAX_HOPS = 40
#: Chart text taken from input is cut to this many characters.
LABEL_MAX = 40

# One colour per series, the same everywhere: a reader learns them once.
SERIES_COLOURS = {
    "received": "#4c72b0",
    "delivered": "#55a868",
    "deferred": "#dd8452",
    "bounced": "#c44e52",
    "rejected": "#8172b3",
}
QUEUE_STAGES = {
    "delays_a": ("a: before queue manager", "#4c72b0"),
    "delays_b": ("b: in queue manager", "#dd8452"),
    "delays_c": ("c: connection set-up", "#937860"),
    "delays_d": ("d: transmission", "#55a868"),
}
_PALETTE = (
    *("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"),
    *("#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"),
)
_OK, _TEMP, _PERM, _NONE = "#55a868", "#dd8452", "#c44e52", "#bbbbbb"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def label(text: object, width: int = LABEL_MAX) -> str:
    """``text`` made safe to draw: control characters shown as ``?``, cut to ``width``, ``$``
    escaped so matplotlib never parses it as mathematics.

    >>> label("a$b$c"), label("x" * 50, 10), label(None)
    ('a\\\\$b\\\\$c', 'xxxxxxxxx…', '(none)')
    """
    if text is None:
        return "(none)"
    s = _CONTROL.sub("?", str(text))
    if len(s) > width:
        s = s[: width - 1] + "…"
    return s.replace("$", r"\$")


_F = TypeVar("_F", bound=Callable[..., Any])


def as_table(value: Any) -> Any:
    """An Arrow table for a pandas DataFrame (``read_logs``, ``delivery_paths`` give those);
    anything else as it is.

    >>> import pandas as pd
    >>> as_table(pd.DataFrame({"a": [1]})).column_names
    ['a']
    """
    if type(value).__name__ == "DataFrame" and hasattr(value, "columns"):
        return pa.Table.from_pandas(value, preserve_index=False)
    return value


def _frames_as_tables(fn: _F) -> _F:
    """Let a chart function take DataFrames wherever it takes tables (notebooks hold both)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*map(as_table, args), **{k: as_table(v) for k, v in kwargs.items()})

    return cast(_F, wrapper)


# --- figures, saving, SVG ------------------------------------------------------------------------


def new_figure(width: float = 9.0, height: float = 5.0) -> Figure:
    """A figure on an Agg canvas, outside pyplot (nothing global, nothing shown).

    >>> type(new_figure().canvas).__name__
    'FigureCanvasAgg'
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (by the suffix), atomically; an existing file
    needs ``force``.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> save_figure(new_figure(), d / "c.svg").read_text()[:5]
    '<?xml'
    >>> save_figure(new_figure(), d / "c.svg")
    Traceback (most recent call last):
    ...
    mailtrace.errors.UsageError: c.svg exists already (add --force to overwrite it)
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise UsageError(f"{target.name}: a chart is written as .png or .svg, not {fmt!r}")
    check_target(target, force, "the chart")
    with atomic_file(target) as fh, mpl.rc_context({"svg.hashsalt": "mailtrace"}):
        fig.savefig(fh, format=fmt, dpi=110)
    return target


def figure_svg(fig: Figure, salt: str = "mailtrace") -> str:
    """``fig`` as an inline ``<svg>`` element for an HTML page: no XML prologue, no comments,
    text kept as (escaped) ``<text>`` so the page stays searchable. ``salt`` keeps the element
    ids of several charts in one page apart.

    >>> svg = figure_svg(new_figure(2, 1))
    >>> svg.startswith("<svg"), "<!--" in svg
    (True, False)
    """
    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg")
    text = _SVG_COMMENT.sub("", buf.getvalue())
    return text[text.index("<svg") :]


def panel_notes(fig: Figure) -> list[str]:
    """The note each panel shows instead of data (``"no data"``), or ``""`` when it has data.

    >>> panel_notes(new_figure())
    []
    """
    notes = []
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.texts if t.get_gid() == "mailtrace-note"]
        notes.append(texts[0] if texts else "")
    return notes


def _no_data(ax: Axes, note: str = NO_DATA) -> None:
    ax.text(
        0.5,
        0.5,
        note,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#777777",
        gid="mailtrace-note",
    )
    ax.set_xticks([])
    ax.set_yticks([])


# --- column helpers -------------------------------------------------------------------------------


def _col(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows)])


def _strings(table: pa.Table, name: str) -> list[str | None]:
    values: list[str | None] = _col(table, name).to_pylist()
    return values


def _floats(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    col = pc.cast(_col(table, name), pa.float64())
    return np.asarray(pc.fill_null(col, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def _micros(col: pa.ChunkedArray | pa.Array) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Microseconds since the epoch of the valid values of a timestamp column."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.array([], pa.timestamp("us"))
    if pa.types.is_null(col.type):
        return np.zeros(0, dtype=np.int64)
    valid = col.drop_null()
    ints = pc.cast(pc.cast(valid, pa.timestamp("us", tz="UTC")), pa.int64())
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)


def _domains(addresses: Sequence[str | None]) -> list[str | None]:
    out: list[str | None] = []
    for a in addresses:
        if a and "@" in a:
            out.append(a.rsplit("@", 1)[1].lower().rstrip(">") or None)
        else:
            out.append(None)
    return out


def _final_deliveries(deliveries: pa.Table) -> pa.Table:
    """Attempts that reached the recipient: sent, and not handed on to a filter or relay."""
    sent = pc.fill_null(pc.equal(_col(deliveries, "status"), "sent"), False)
    end = pc.invert(pc.is_valid(_col(deliveries, "hop")))
    return deliveries.filter(pc.and_(sent, end))


def _failures(table: pa.Table) -> pa.Table:
    """Rows whose classification is a failure (not delivered, auto-reply or feedback)."""
    fam = _col(table, "family")
    cat = _col(table, "category")
    bad = pc.and_(pc.is_valid(cat), pc.invert(pc.fill_null(pc.equal(fam, "not_failure"), False)))
    return table.filter(pc.fill_null(bad, False))


# --- time bins ------------------------------------------------------------------------------------

_STEPS = (  # (span up to, bin width in seconds, unit named on the axis)
    (3 * 3600, 300, "5 minutes"),
    (2 * 86400, 3600, "hour"),
    (90 * 86400, 86400, "day"),
    (float("inf"), 7 * 86400, "week"),
)


def time_bins(micros: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], str]:
    """Bin edges (µs since the epoch, on whole bin boundaries) covering ``micros``, and the
    bin's name for the axis label: 5 minutes, hour, day or week by the span.

    >>> edges, unit = time_bins(np.array([0, 5400 * 10**6]))
    >>> (len(edges), unit)
    (20, '5 minutes')
    """
    if len(micros) == 0:
        return np.zeros(0, dtype=np.int64), "hour"
    lo, hi = int(micros.min()), int(micros.max())
    width, unit = 3600, "hour"
    for span, w, name in _STEPS:
        if (hi - lo) / 1e6 <= span:
            width, unit = w, name
            break
    step = width * 1_000_000
    start = lo // step * step
    stop = (hi // step + 1) * step
    return np.arange(start, stop + 1, step, dtype=np.int64), unit


def _dates(micros: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Matplotlib date numbers (days since 1970) of epoch microseconds."""
    return np.asarray(micros, dtype=np.float64) / 86_400e6


def _utc_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel("time (UTC)")


# --- headers: the hop waterfall ------------------------------------------------------------------


@_frames_as_tables
def hop_timeline(hops: pa.Table, max_messages: int = 6) -> Figure:
    """The Received chain of each message in a HOPS table as a waterfall: one bar per hop from
    the previous hop's time to its own, its delay written beside it; hops with clock skew
    (negative or implausible delays) are red and say so.

    >>> from mailtrace.headers.message import parse_headers
    >>> from mailtrace.headers.analysis import analyze, reports_hops_table
    >>> m = parse_headers(
    ...     "Received: from b.example ([192.0.2.2]) by c.example; Tue, 3 Mar 2026 10:00:05 +0000\\n"
    ...     "Received: from a.example ([192.0.2.1]) by b.example; Tue, 3 Mar 2026 10:00:01 +0000\\n"
    ...     "Date: Tue, 3 Mar 2026 10:00:00 +0000\\n", "m.eml")
    >>> fig = hop_timeline(reports_hops_table([analyze(m)]))
    >>> ax = fig.axes[0]
    >>> (len(ax.patches), ax.get_xlabel())
    (2, 'seconds since the first dated hop, 2026-03-03 10:00:01 UTC')
    """
    names = list(dict.fromkeys(_strings(hops, "message")))
    shown = names[:max_messages]
    fig = new_figure(10, max(3.0, 1.2 + sum(_hop_count(hops, n) for n in shown) * 0.45))
    if not shown:
        ax = fig.add_subplot()
        ax.set_title("Received chain")
        _no_data(ax)
        return fig
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, shown, strict=True):
        _draw_hops(ax, hops.filter(pc.equal(hops.column("message"), name)), name)
    if len(names) > len(shown):
        fig.suptitle(f"first {len(shown)} of {len(names)} messages", fontsize=9, color="#555555")
    return fig


def _hop_count(hops: pa.Table, name: str | None) -> int:
    return min(MAX_HOPS, max(1, int(pc.sum(pc.equal(hops.column("message"), name)).as_py() or 0)))


def _draw_hops(ax: Axes, hops: pa.Table, name: str | None) -> None:
    total = hops.num_rows
    # The last hops are the ones nearest the reader; a hostile chain is cut to them.
    hops = hops.sort_by([("hop", "ascending")]).slice(max(0, total - MAX_HOPS))
    # A long path keeps its end: the file name tells the messages apart.
    title = name if name is None or len(name) <= 60 else "…" + name[-59:]
    cut = f" (last {MAX_HOPS} of {total} hops)" if total > MAX_HOPS else ""
    ax.set_title(f"Received chain of {label(title, 60)}{cut}", loc="left")
    stamps = _col(hops, "timestamp").to_pylist()
    dated = [t for t in stamps if t is not None]
    if not dated:
        _no_data(ax, "no dated hops")
        return
    t0 = min(dated)
    delays = _floats(hops, "delay_s")
    skewed = [bool(s) for s in _col(hops, "clock_skew").to_pylist()]
    by = _strings(hops, "by_host")
    numbers = _col(hops, "hop").to_pylist()
    ylabels, starts, widths, colours = [], [], [], []
    for i, t in enumerate(stamps):
        ylabels.append(f"{numbers[i]}  {label(by[i] or '?', 30)}")
        end = (t - t0).total_seconds() if t is not None else np.nan
        d = delays[i] if not np.isnan(delays[i]) else 0.0
        starts.append(end - d)
        widths.append(d)
        colours.append(_PERM if skewed[i] or d < 0 else "#4c72b0")
    y = np.arange(len(stamps))
    span = max([abs(s) for s in starts + widths if not np.isnan(s)] + [1.0])
    minimum = span / 150  # a zero-second hop is still a visible sliver
    shown = [w if abs(w) >= minimum else minimum for w in widths]
    ax.barh(y, shown, left=starts, color=colours, height=0.6)
    for i in range(len(stamps)):
        if stamps[i] is None:
            note = "no date"
        else:
            note = duration(None if np.isnan(delays[i]) else float(delays[i]), unknown="?")
            if colours[i] == _PERM:
                note += "  clock skew"
        x = np.nanmax([starts[i], starts[i] + widths[i]]) if stamps[i] is not None else 0
        ax.text(x, y[i], f"  {note}", va="center", fontsize=8, color=colours[i])
    ax.set_yticks(y, ylabels)
    ax.invert_yaxis()
    ax.set_xlabel(f"seconds since the first dated hop, {t0.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    ax.set_ylabel("hop  (received by)")
    # Bars pin the axis to their ends; leave room on the right for the delay labels.
    ends = [
        v
        for v in (*starts, *(a + b for a, b in zip(starts, widths, strict=True)))
        if not np.isnan(v)
    ]
    lo, hi = min([0.0, *ends]), max([1.0, *ends])
    ax.set_xlim(lo - (hi - lo) * 0.03, hi + (hi - lo) * 0.35)
    if any(c == _PERM for c in colours):
        ax.legend(
            handles=[Patch(color="#4c72b0", label="delay"), Patch(color=_PERM, label="clock skew")],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
        )


# --- logs: volume, failures over time ------------------------------------------------------------


@_frames_as_tables
def volume_series(
    events: pa.Table, messages: pa.Table, deliveries: pa.Table
) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """The times (µs, UTC) of each traffic series, counted the way ``mailtrace report`` counts:
    received = messages that arrived by SMTP or local submission, delivered = final successful
    attempts, deferred and bounced = attempts with that status, rejected = reject lines.

    >>> from mailtrace.schema import EVENTS, MESSAGES, DELIVERIES
    >>> {k: len(v) for k, v in volume_series(EVENTS.empty_table(), MESSAGES.empty_table(),
    ...                                      DELIVERIES.empty_table()).items()}
    {'received': 0, 'delivered': 0, 'deferred': 0, 'bounced': 0, 'rejected': 0}
    """
    arrived = pc.fill_null(pc.is_in(_col(messages, "origin"), pa.array(["smtp", "local"])), False)
    status = _col(deliveries, "status")

    def with_status(s: str) -> pa.ChunkedArray:
        return _col(deliveries, "ts").filter(pc.fill_null(pc.equal(status, s), False))

    rejected = pc.fill_null(pc.equal(_col(events, "kind"), "reject"), False)
    return {
        "received": _micros(_col(messages, "first_seen").filter(arrived)),
        "delivered": _micros(_col(_final_deliveries(deliveries), "ts")),
        "deferred": _micros(with_status("deferred")),
        "bounced": _micros(with_status("bounced")),
        "rejected": _micros(_col(events, "ts").filter(rejected)),
    }


@_frames_as_tables
def volume_over_time(events: pa.Table, messages: pa.Table, deliveries: pa.Table) -> Figure:
    """Mail volume over time: received, delivered, deferred, bounced and rejected per time bin.

    ``messages`` and ``deliveries`` are :func:`mailtrace.paths.paths_tables` of ``events``.

    >>> from mailtrace.schema import EVENTS, MESSAGES, DELIVERIES
    >>> fig = volume_over_time(EVENTS.empty_table(), MESSAGES.empty_table(),
    ...                        DELIVERIES.empty_table())
    >>> (fig.axes[0].get_title(), panel_notes(fig))
    ('Mail volume over time', ['no data'])
    """
    fig = new_figure(10, 4.5)
    _draw_volume(fig.add_subplot(), volume_series(events, messages, deliveries))
    return fig


def _draw_volume(ax: Axes, series: dict[str, np.ndarray[Any, Any]]) -> None:
    ax.set_title("Mail volume over time")
    every = np.concatenate(list(series.values()))
    if len(every) == 0:
        _no_data(ax)
        return
    edges, unit = time_bins(every)
    centres = _dates((edges[:-1] + edges[1:]) // 2)
    width = (edges[1] - edges[0]) / 86_400e6
    n = len(series)
    for i, (name, times) in enumerate(series.items()):
        counts, _ = np.histogram(times, bins=edges)
        # Side-by-side bars: each series keeps its own column within a bin.
        offset = (i - (n - 1) / 2) * width / (n + 1)
        ax.bar(
            centres + offset,
            counts,
            width=width / (n + 1),
            label=f"{name} ({len(times)})",
            color=SERIES_COLOURS[name],
        )
    _utc_axis(ax)
    ax.set_ylabel(f"count per {unit}")
    ax.margins(y=0.1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="series (total)")


@_frames_as_tables
def failures_over_time(table: pa.Table, by: str = "category", top: int = 9) -> Figure:
    """Failures per time bin, stacked by ``category`` or ``family``: any table with ``ts`` and
    the FAILURES columns (DELIVERIES, classified REPLIES). Rows that are not failures are left
    out; beyond the ``top`` most frequent, the rest stack as "other".

    >>> t = pa.table({"ts": pa.array([0, 3_600_000_000, 0], pa.timestamp("us", tz="UTC")),
    ...               "category": ["unknown_user", "rate_limited", "delivered"],
    ...               "family": ["recipient", "throttling", "not_failure"]})
    >>> ax = failures_over_time(t).axes[0]
    >>> sorted(ax.get_legend_handles_labels()[1])
    ['rate_limited (1)', 'unknown_user (1)']
    """
    if by not in ("category", "family"):
        raise UsageError(f"failures are stacked by category or family, not {by!r}")
    fig = new_figure(10, 4.5)
    _draw_failures(fig.add_subplot(), table, by, top)
    return fig


def _top_keys(keys: Sequence[str | None], top: int) -> tuple[list[str], dict[str, int]]:
    counts: dict[str, int] = {}
    for k in keys:
        name = k if k is not None else "(none)"
        counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts, key=lambda k: (-counts[k], k))
    return ranked[:top], counts


def _draw_failures(ax: Axes, table: pa.Table, by: str, top: int) -> None:
    ax.set_title(f"Failures over time by {by}")
    fail = _failures(table)
    ts = _col(fail, "ts")
    fail = fail.filter(pc.is_valid(ts))
    keys = _strings(fail, by)
    times = _micros(_col(fail, "ts"))
    if len(times) == 0:
        _no_data(ax)
        return
    ranked, counts = _top_keys(keys, top)
    names = np.array([k if k in ranked else "other" for k in (k or "(none)" for k in keys)])
    order = ranked + (["other"] if len(ranked) < len(counts) else [])
    edges, unit = time_bins(times)
    left = _dates(edges[:-1])
    width = (edges[1] - edges[0]) / 86_400e6 * 0.9
    bottom = np.zeros(len(edges) - 1)
    for i, name in enumerate(order):
        c, _ = np.histogram(times[names == name], bins=edges)
        ax.bar(
            left,
            c,
            width=width,
            bottom=bottom,
            align="edge",
            color=_PALETTE[i % len(_PALETTE)],
            label=f"{label(name)} ({int(c.sum())})",
        )
        bottom += c
    _utc_axis(ax)
    ax.set_ylabel(f"failures per {unit}")
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title=f"{by} (total)")


# --- delivery delays ------------------------------------------------------------------------------


@_frames_as_tables
def delay_distribution(deliveries: pa.Table, top: int = 8) -> Figure:
    """The distribution of delivery delay (arrival to delivery, every hop included) per recipient
    domain, as cumulative curves on a log time axis: the ``top`` domains by deliveries, and all.

    >>> t = pa.table({"recipient": ["a@x.example", "b@x.example", "c@y.example"],
    ...               "status": ["sent", "sent", "sent"], "total_delay": [0.5, 2.0, 30.0]})
    >>> ax = delay_distribution(t).axes[0]
    >>> ax.get_legend_handles_labels()[1]
    ['all domains (3)', 'x.example (2)', 'y.example (1)']
    """
    fig = new_figure(9, 5)
    _draw_delays(fig.add_subplot(), deliveries, top)
    return fig


def _draw_delays(ax: Axes, deliveries: pa.Table, top: int) -> None:
    ax.set_title("Delivery delay by recipient domain")
    done = _final_deliveries(deliveries)
    delay = _floats(done, "total_delay")
    if np.isnan(delay).all():
        delay = _floats(done, "delay")
    domains = _domains(_strings(done, "recipient"))
    ok = ~np.isnan(delay)
    if not ok.any():
        _no_data(ax)
        return
    # A log axis cannot show zero: instant deliveries sit at 10 ms.
    delay = np.clip(delay, 0.01, None)
    ranked, _ = _top_keys([d for d, g in zip(domains, ok, strict=True) if g], top)
    dom = np.array([d or "(none)" for d in domains])
    curves = [("all domains", delay[ok], "#333333")]
    curves += [
        (d, delay[ok & (dom == d)], _PALETTE[i % len(_PALETTE)]) for i, d in enumerate(ranked)
    ]
    for name, values, colour in curves:
        v = np.sort(values)
        n = len(v)
        frac = np.arange(1, n + 1) / n
        if len(v) > CDF_POINTS:  # a million deliveries draw as well from a thousand quantiles
            keep = np.unique(np.linspace(0, len(v) - 1, CDF_POINTS).astype(np.int64))
            v, frac = v[keep], frac[keep]
        style = "--" if name == "all domains" else "-"
        ax.step(
            np.concatenate([[v[0]], v]),
            np.concatenate([[0.0], frac]),
            where="post",
            linestyle=style,
            color=colour,
            label=f"{label(name)} ({n})",
            marker="o" if n == 1 else None,
        )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("delay from arrival to delivery (seconds, log scale)")
    ax.set_ylabel("fraction of deliveries")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="domain (n)")


@_frames_as_tables
def queue_delays(deliveries: pa.Table, top: int = 10) -> Figure:
    """Where the time went: Postfix's delays=a/b/c/d averaged per recipient domain, stacked
    (a before the queue manager, b inside it, c connection set-up, d transmission).

    >>> t = pa.table({"recipient": ["a@x.example", "b@y.example"], "delays_a": [1.0, 0.1],
    ...               "delays_b": [0.0, 0.0], "delays_c": [0.5, 0.2], "delays_d": [0.2, 0.1]})
    >>> ax = queue_delays(t).axes[0]
    >>> ([t.get_text() for t in ax.get_yticklabels()], len(ax.patches))
    (['all (2)', 'x.example (1)', 'y.example (1)'], 12)
    """
    fig = new_figure(9, 5)
    _draw_queue_delays(fig.add_subplot(), deliveries, top)
    return fig


def _draw_queue_delays(ax: Axes, deliveries: pa.Table, top: int) -> None:
    ax.set_title("Queue delay breakdown (mean per attempt)")
    stages = {k: _floats(deliveries, k) for k in QUEUE_STAGES}
    has = np.asarray(~np.isnan(np.vstack(list(stages.values()))).all(axis=0), dtype=bool)
    if not has.any():
        _no_data(ax)
        return
    domains = _domains(_strings(deliveries, "recipient"))
    dom = np.array([d or "(none)" for d in domains])
    ranked, _ = _top_keys([d for d, h in zip(domains, has, strict=True) if h], top)
    groups = [("all", has), *((d, has & (dom == d)) for d in ranked)]
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for key, (name, colour) in QUEUE_STAGES.items():
        means = np.array([np.nanmean(stages[key][m]) if m.any() else 0.0 for _, m in groups])
        means = np.nan_to_num(means)
        ax.barh(y, means, left=left, color=colour, label=name, height=0.6)
        left += means
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:,.1f} s", va="center", fontsize=8)
    ax.set_xlim(0, max(float(left.max()), 0.001) * 1.18)  # room for the totals
    ax.set_yticks(y, [f"{label(n)} ({int(m.sum())})" for n, m in groups])
    ax.invert_yaxis()
    ax.set_xlabel("mean seconds per attempt")
    ax.set_ylabel("recipient domain (attempts)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="delay stage")


# --- replies and failing destinations -----------------------------------------------------------


@_frames_as_tables
def reply_code_heatmap(table: pa.Table, top: int = 15) -> Figure:
    """Reply codes by recipient domain: a heat map of attempt counts, the ``top`` domains by
    attempts. An attempt without a numeric reply shows its enhanced status (4.4.1 for a
    connection that never answered).

    >>> t = pa.table({"recipient": ["a@x.example", "b@x.example", "c@y.example"],
    ...               "reply_code": pa.array([250, 550, None], pa.int16()),
    ...               "dsn": ["2.0.0", "5.1.1", "4.4.1"]})
    >>> ax = reply_code_heatmap(t).axes[0]
    >>> [t.get_text() for t in ax.get_xticklabels()], [t.get_text() for t in ax.get_yticklabels()]
    (['250', '550', '4.4.1'], ['x.example', 'y.example'])
    """
    fig = new_figure(9, 5)
    _draw_heatmap(fig, fig.add_subplot(), table, top)
    return fig


def _draw_heatmap(fig: Figure, ax: Axes, table: pa.Table, top: int) -> None:
    ax.set_title("Reply codes by recipient domain")
    codes = _col(table, "reply_code").to_pylist()
    status = _strings(table, "dsn") if "dsn" in table.column_names else _strings(table, "enhanced")
    domains = _domains(_strings(table, "recipient"))
    keys: list[tuple[str, str]] = []
    for d, c, s in zip(domains, codes, status, strict=True):
        code = str(c) if c is not None else s
        if d is not None and code is not None:
            keys.append((d, code))
    if not keys:
        _no_data(ax)
        return
    rows, _ = _top_keys([d for d, _ in keys], top)
    shown = set(rows)
    codes_seen, _ = _top_keys([c for d, c in keys if d in shown], MAX_CODES)
    # Numeric codes in order first, then enhanced statuses standing in for a missing code.
    cols = sorted(codes_seen, key=lambda c: (not c.isdigit(), c))
    grid = np.zeros((len(rows), len(cols)), dtype=np.int64)
    ri = {d: i for i, d in enumerate(rows)}
    ci = {c: i for i, c in enumerate(cols)}
    for d, c in keys:
        if d in ri and c in ci:
            grid[ri[d], ci[c]] += 1
    image = ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    for (i, j), v in np.ndenumerate(grid):
        if v:
            dark = v > grid.max() / 2
            ax.text(j, i, str(v), ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(np.arange(len(cols)), cols)
    ax.set_yticks(np.arange(len(rows)), [label(r) for r in rows])
    ax.set_xlabel("reply code (enhanced status where no code was logged)")
    ax.set_ylabel("recipient domain")
    fig.colorbar(image, ax=ax, label="attempts")


@_frames_as_tables
def top_failing(table: pa.Table, top: int = 10) -> Figure:
    """The recipient domains and the providers with the most failures, as two bar charts:
    DELIVERIES, classified REPLIES or bounce rows (``recipient``, ``category``, ``provider``).

    >>> t = pa.table({"recipient": ["a@x.example", "b@x.example", "c@y.example", "d@z.example"],
    ...               "category": ["unknown_user", "mailbox_full", "blocklisted", "delivered"],
    ...               "family": ["recipient", "recipient", "sender", "not_failure"],
    ...               "provider": ["gmail", "gmail", None, None]})
    >>> left, right = top_failing(t).axes
    >>> [t.get_text() for t in left.get_yticklabels()], len(left.patches)
    (['x.example', 'y.example'], 2)
    >>> [t.get_text() for t in right.get_yticklabels()]
    ['gmail', '(unknown provider)']
    """
    fig = new_figure(11, 4.5)
    left, right = fig.subplots(1, 2)
    fail = _failures(table)
    domains = _domains(_strings(fail, "recipient"))
    providers = [p or "(unknown provider)" for p in _strings(fail, "provider")]
    _draw_ranked(left, "Top failing recipient domains", [d or "(none)" for d in domains], top)
    _draw_ranked(right, "Top failing providers", providers, top)
    return fig


def _draw_ranked(ax: Axes, title: str, keys: list[str], top: int) -> None:
    ax.set_title(title)
    if not keys:
        _no_data(ax)
        return
    ranked, counts = _top_keys(keys, top)
    y = np.arange(len(ranked))
    values = [counts[k] for k in ranked]
    ax.barh(y, values, color=_PERM, height=0.6)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v}", va="center", fontsize=8)
    ax.set_yticks(y, [label(k) for k in ranked])
    # Top down, and a lone bar as thin as one of five.
    ax.set_ylim(max(len(ranked), 5) - 0.5, -0.5)
    ax.set_xlabel("failures (count)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.15)


@_frames_as_tables
def failure_categories(table: pa.Table, top: int = 15) -> Figure:
    """Failures counted by category, each bar coloured by its family: bounce rows, classified
    REPLIES or DELIVERIES.

    >>> t = pa.table({"category": ["unknown_user", "unknown_user", "spam_content", "delivered"],
    ...               "family": ["recipient", "recipient", "message", "not_failure"]})
    >>> ax = failure_categories(t).axes[0]
    >>> [t.get_text() for t in ax.get_yticklabels()], [float(p.get_width()) for p in ax.patches]
    (['unknown_user', 'spam_content'], [2.0, 1.0])
    """
    fig = new_figure(9, 4.5)
    _draw_categories(fig.add_subplot(), table, top)
    return fig


def _draw_categories(ax: Axes, table: pa.Table, top: int) -> None:
    ax.set_title("Failures by category")
    fail = _failures(table)
    cats = [c or "(none)" for c in _strings(fail, "category")]
    fams = _strings(fail, "family")
    if not cats:
        _no_data(ax)
        return
    ranked, counts = _top_keys(cats, top)
    family_of = {c: f or "(none)" for c, f in zip(cats, fams, strict=True)}
    families = sorted({family_of[c] for c in ranked})
    colour = {f: _PALETTE[i % len(_PALETTE)] for i, f in enumerate(families)}
    y = np.arange(len(ranked))
    ax.barh(y, [counts[c] for c in ranked], color=[colour[family_of[c]] for c in ranked])
    ax.set_yticks(y, [label(c) for c in ranked])
    ax.invert_yaxis()
    ax.set_xlabel("failures (count)")
    ax.set_ylabel("category")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(
        handles=[Patch(color=colour[f], label=label(f)) for f in families],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="family",
    )


def failure_rows_table(rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """The failure columns of row dicts as a table: the rows of
    :func:`mailtrace.failures.read_bounces` (their ``reason`` is the category).

    >>> failure_rows_table([{"recipient": "a@x.example", "reason": "unknown_user",
    ...                      "family": "recipient", "provider": None}]).to_pylist()
    [{'recipient': 'a@x.example', 'category': 'unknown_user', 'family': 'recipient', \
'provider': None}]
    """

    def text(row: Mapping[str, object], *keys: str) -> str | None:
        for k in keys:
            v = row.get(k)
            # NaN is how a DataFrame's records say "none".
            if v is not None and not (isinstance(v, float) and np.isnan(v)):
                return str(v)
        return None

    columns = {
        "recipient": ("recipient",),
        "category": ("category", "reason"),
        "family": ("family",),
        "provider": ("provider",),
    }
    return pa.table(
        {
            name: pa.array([text(r, *keys) for r in rows], pa.string())
            for name, keys in columns.items()
        }
    )


@_frames_as_tables
def failures_overview(table: pa.Table | Sequence[Mapping[str, object]], top: int = 10) -> Figure:
    """Failures by category, by recipient domain and by provider side by side: what
    ``mailtrace bounce --plot`` draws. ``table`` has ``category``, ``family``, ``recipient``
    and ``provider`` columns (DELIVERIES, classified REPLIES), or is a list of bounce rows.

    >>> t = pa.table({"recipient": ["a@x.example"], "category": ["unknown_user"],
    ...               "family": ["recipient"], "provider": ["gmail"]})
    >>> [ax.get_title() for ax in failures_overview(t).axes]
    ['Failures by category', 'Top failing recipient domains', 'Top failing providers']
    """
    if not isinstance(table, pa.Table):
        table = failure_rows_table(table)
    fig = new_figure(16, 5)
    a, b, c = fig.subplots(1, 3)
    _draw_categories(a, table, top)
    fail = _failures(table)
    domains = _domains(_strings(fail, "recipient"))
    providers = [p or "(unknown provider)" for p in _strings(fail, "provider")]
    _draw_ranked(b, "Top failing recipient domains", [d or "(none)" for d in domains], top)
    _draw_ranked(c, "Top failing providers", providers, top)
    return fig


@_frames_as_tables
def failures_log_overview(events: pa.Table, top: int = 8) -> Figure:
    """The failed delivery attempts of an EVENTS table on one page: over time by category and
    by family, the top failing recipient domains and providers (``mailtrace failures --plot``).

    >>> from mailtrace.schema import EVENTS
    >>> fig = failures_log_overview(EVENTS.empty_table())
    >>> [ax.get_title() for ax in fig.axes]  # doctest: +NORMALIZE_WHITESPACE
    ['Failures over time by category', 'Failures over time by family',
     'Top failing recipient domains', 'Top failing providers']
    """
    from mailtrace.paths import paths_tables

    _, deliveries = paths_tables(events)
    fig = new_figure(15, 9)
    (a, b), (c, d) = fig.subplots(2, 2)
    _draw_failures(a, deliveries, "category", top)
    _draw_failures(b, deliveries, "family", top)
    fail = _failures(deliveries)
    domains = [x or "(none)" for x in _domains(_strings(fail, "recipient"))]
    providers = [p or "(unknown provider)" for p in _strings(fail, "provider")]
    _draw_ranked(c, "Top failing recipient domains", domains, top)
    _draw_ranked(d, "Top failing providers", providers, top)
    fig.suptitle(f"Failed delivery attempts — {_span(events)}", fontsize=13)
    return fig


# --- transcripts ----------------------------------------------------------------------------------


@_frames_as_tables
def transcript_chart(
    replies: pa.Table | Sequence[pa.Table], max_sessions: int = 20, max_steps: int = 16
) -> Figure:
    """Each SMTP session of a REPLIES table (or of several) as a row of its commands, coloured
    by the reply's class (2xx/3xx accepted, 4xx temporary, 5xx permanent, none), the reply code
    written in.

    >>> t = pa.table({"session": ["s", "s", "s"], "seq": [1, 2, 3],
    ...               "command": ["EHLO", "MAIL", "RCPT"],
    ...               "reply_code": pa.array([250, 250, 550], pa.int16())})
    >>> ax = transcript_chart(t).axes[0]
    >>> len(ax.patches), [t.get_text() for t in ax.texts]
    (3, ['EHLO\\n250', 'MAIL\\n250', 'RCPT\\n550'])
    >>> panel_notes(transcript_chart([]))
    ['no data']
    """
    if not isinstance(replies, pa.Table):
        parts = [t for t in map(as_table, replies) if t.num_rows]
        replies = pa.concat_tables(parts, promote_options="default") if parts else pa.table({})
    sessions = list(dict.fromkeys(_strings(replies, "session")))[:max_sessions]
    fig = new_figure(11, max(2.5, 1.4 + 0.5 * len(sessions)))
    ax = fig.add_subplot()
    ax.set_title("SMTP dialogues: each command coloured by its reply")
    if not sessions:
        _no_data(ax)
        return fig
    names = _strings(replies, "session")
    commands = _strings(replies, "command")
    codes = _col(replies, "reply_code").to_pylist()
    steps: dict[str | None, int] = {}
    for name, cmd, code in zip(names, commands, codes, strict=True):
        if name not in sessions:
            continue
        row = sessions.index(name)
        step = steps.get(name, 0)
        steps[name] = step + 1
        if step >= max_steps:
            continue
        colour = _NONE if code is None else _PERM if code >= 500 else _TEMP if code >= 400 else _OK
        ax.barh(row, 0.92, left=step, color=colour, height=0.7)
        ax.text(
            step + 0.46,
            row,
            f"{label(cmd or '?', 9)}\n{code if code is not None else '—'}",
            ha="center",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(np.arange(len(sessions)), [label(s, 30) for s in sessions])
    ax.invert_yaxis()
    ax.set_xlim(0, max(min(max(steps.values()), max_steps), 1))
    ax.set_xlabel("command number within the session")
    ax.set_ylabel("session")
    ax.legend(
        handles=[
            Patch(color=_OK, label="2xx/3xx accepted"),
            Patch(color=_TEMP, label="4xx temporary"),
            Patch(color=_PERM, label="5xx permanent"),
            Patch(color=_NONE, label="no reply"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="reply class",
    )
    return fig


# --- the report overview --------------------------------------------------------------------------


@_frames_as_tables
def report_overview(events: pa.Table, messages: pa.Table, deliveries: pa.Table) -> Figure:
    """The ``mailtrace report`` picture on one page: volume over time, failures over time by
    category, delivery delay by domain and the queue-delay breakdown.

    >>> from mailtrace.schema import EVENTS, MESSAGES, DELIVERIES
    >>> fig = report_overview(EVENTS.empty_table(), MESSAGES.empty_table(),
    ...                       DELIVERIES.empty_table())
    >>> [ax.get_title() for ax in fig.axes]  # doctest: +NORMALIZE_WHITESPACE
    ['Mail volume over time', 'Failures over time by category',
     'Delivery delay by recipient domain', 'Queue delay breakdown (mean per attempt)']
    """
    fig = new_figure(15, 9)
    (a, b), (c, d) = fig.subplots(2, 2)
    _draw_volume(a, volume_series(events, messages, deliveries))
    _draw_failures(b, deliveries, "category", 8)
    _draw_delays(c, deliveries, 6)
    _draw_queue_delays(d, deliveries, 8)
    fig.suptitle(f"mailtrace report — {_span(events)}", fontsize=13)
    return fig


@_frames_as_tables
def log_overview(events: pa.Table) -> Figure:
    """:func:`report_overview` of an EVENTS table, its delivery paths rebuilt first.

    >>> from mailtrace.schema import EVENTS
    >>> panel_notes(log_overview(EVENTS.empty_table()))
    ['no data', 'no data', 'no data', 'no data']
    """
    from mailtrace.paths import paths_tables

    messages, deliveries = paths_tables(events)
    return report_overview(events, messages, deliveries)


def _span(events: pa.Table) -> str:
    us = _micros(_col(events, "ts"))
    if len(us) == 0:
        return "no events"
    lo, hi = (datetime.fromtimestamp(int(v) / 1e6, UTC) for v in (us.min(), us.max()))
    return f"{lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} UTC"


#: Every chart of the log tables, by name: what ``report --html`` embeds.
LOG_CHARTS: dict[str, Callable[[pa.Table, pa.Table, pa.Table], Figure]] = {
    "Mail volume over time": volume_over_time,
    "Failures over time by category": lambda e, m, d: failures_over_time(d, "category"),
    "Failures over time by family": lambda e, m, d: failures_over_time(d, "family"),
    "Delivery delay by recipient domain": lambda e, m, d: delay_distribution(d),
    "Reply codes by recipient domain": lambda e, m, d: reply_code_heatmap(d),
    "Top failing domains and providers": lambda e, m, d: top_failing(d),
    "Queue delay breakdown": lambda e, m, d: queue_delays(d),
}
