"""Charts: what each one draws from the sample data, the edges (no data, one point, hostile
labels), writing PNG/SVG files, and the --plot option of every command that has a chart."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from mailtrace import plot
from mailtrace.cli import app
from mailtrace.errors import UsageError
from mailtrace.failures import read_bounces
from mailtrace.headers.analysis import analyze, reports_hops_table
from mailtrace.headers.message import read_headers
from mailtrace.logs.transcript import read_transcripts
from mailtrace.paths import paths_tables, read_events
from mailtrace.report import build_report
from mailtrace.schema import DELIVERIES, EVENTS, HOPS, MESSAGES, REPLIES

from .conftest import SAMPLE

DAY_LOG = SAMPLE / "logs" / "report_day.log"


@pytest.fixture(scope="module")
def day() -> tuple[pa.Table, pa.Table, pa.Table]:
    events = read_events([DAY_LOG])
    messages, deliveries = paths_tables(events)
    return events, messages, deliveries


def _legend(ax: object) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def _ticks(labels: object) -> list[str]:
    return [t.get_text() for t in labels]  # type: ignore[attr-defined]


# --- headers ---------------------------------------------------------------------------------


def _hops(*names: str) -> pa.Table:
    files = [str(SAMPLE / "messages" / n) for n in names]
    return reports_hops_table([analyze(m) for m in read_headers(files)])


def test_hop_timeline_marks_the_skewed_hops() -> None:
    hops = _hops("clock-skew.eml")
    skewed = hops.column("clock_skew").to_pylist()
    ax = plot.hop_timeline(hops).axes[0]
    assert ax.get_title(loc="left") == "Received chain of " + str(
        SAMPLE / "messages" / "clock-skew.eml"
    )
    assert ax.get_xlabel().startswith("seconds since the first dated hop, 2026-")
    assert ax.get_xlabel().endswith(" UTC")
    assert ax.get_ylabel() == "hop  (received by)"
    # One bar per hop, in chain order, the receiving host named on the axis.
    assert len(ax.patches) == hops.num_rows == 3
    assert _ticks(ax.get_yticklabels()) == [
        "1  gw.example.org",
        "2  mx.example.com",
        "3  store.example.com",
    ]
    notes = [t.get_text() for t in ax.texts]
    assert sum("clock skew" in n for n in notes) == sum(skewed) == 2
    assert any(n.strip() == "+1s" for n in notes)
    assert _legend(ax) == ["delay", "clock skew"]
    red = [
        p
        for p in ax.patches
        if p.get_facecolor()[:3] == pytest.approx((0.769, 0.306, 0.322), abs=0.01)
    ]
    assert len(red) == 2


def test_hop_timeline_one_panel_per_message_and_undated_hops() -> None:
    hops = _hops("amavis-content-filter.eml", "missing-date.eml", "exchange-online.eml")
    fig = plot.hop_timeline(hops)
    assert len(fig.axes) == 3
    undated = fig.axes[1]
    assert sum(t.get_text().strip() == "no date" for t in undated.texts) == 2
    capped = plot.hop_timeline(hops, max_messages=2)
    assert len(capped.axes) == 2
    assert capped.get_suptitle() == "first 2 of 3 messages"


def test_hop_timeline_without_hops_says_no_data() -> None:
    fig = plot.hop_timeline(HOPS.empty_table())
    assert plot.panel_notes(fig) == ["no data"]
    one = pa.Table.from_pylist([{"message": "m", "hop": 1, "by_host": "mx.example.net"}], HOPS)
    assert plot.panel_notes(plot.hop_timeline(one)) == ["no dated hops"]


# --- logs ------------------------------------------------------------------------------------


def test_volume_chart_counts_what_the_report_counts(day: tuple[pa.Table, ...]) -> None:
    events, messages, deliveries = day
    report = build_report(events)
    series = plot.volume_series(events, messages, deliveries)
    for name in ("received", "delivered", "bounced", "rejected"):
        assert len(series[name]) == report.totals[name], name
    assert len(series["deferred"]) == report.totals["deferrals"]
    ax = plot.volume_over_time(events, messages, deliveries).axes[0]
    assert _legend(ax) == [
        "received (9)",
        "delivered (8)",
        "deferred (4)",
        "bounced (1)",
        "rejected (5)",
    ]
    assert ax.get_xlabel() == "time (UTC)"
    assert ax.get_ylabel() == "count per hour"  # the log spans a day and a bit
    # Per hour, every series' bar heights sum to its total.
    heights: dict[str, float] = {}
    for container in ax.containers:
        heights[container.get_label()] = sum(p.get_height() for p in container)
    assert heights == {
        "received (9)": 9,
        "delivered (8)": 8,
        "deferred (4)": 4,
        "bounced (1)": 1,
        "rejected (5)": 5,
    }


def test_time_bins_follow_the_span() -> None:
    hour = 3600 * 10**6
    assert plot.time_bins(np.array([0, hour]))[1] == "5 minutes"
    assert plot.time_bins(np.array([0, 30 * hour]))[1] == "hour"
    assert plot.time_bins(np.array([0, 20 * 24 * hour]))[1] == "day"
    assert plot.time_bins(np.array([0, 400 * 24 * hour]))[1] == "week"
    edges, _ = plot.time_bins(np.array([7 * hour + 5]))
    assert edges.tolist() == [7 * hour, 7 * hour + 300 * 10**6]  # one point still gets a bin


def test_failures_over_time_stacks_categories_and_families(day: tuple[pa.Table, ...]) -> None:
    _, _, deliveries = day
    ax = plot.failures_over_time(deliveries, "category").axes[0]
    assert _legend(ax) == [
        "network_error (3)",
        "expired (1)",
        "rate_limited (1)",
        "unknown_user (1)",
    ]
    assert ax.get_ylabel() == "failures per hour"
    ax = plot.failures_over_time(deliveries, "family").axes[0]
    assert _legend(ax) == ["transport (3)", "recipient (1)", "terminal (1)", "throttling (1)"]
    # Stacked: the tops of the last layer add up to all failures.
    assert sum(p.get_height() for c in ax.containers for p in c) == 6
    with pytest.raises(UsageError):
        plot.failures_over_time(deliveries, "provider")


def test_failures_over_time_folds_the_rest_into_other() -> None:
    ts = pa.array([0] * 5, pa.timestamp("us", tz="UTC"))
    t = pa.table({"ts": ts, "category": ["a", "a", "b", "c", "d"], "family": ["f"] * 5})
    assert _legend(plot.failures_over_time(t, top=2).axes[0]) == ["a (2)", "b (1)", "other (2)"]


def test_delay_distribution_one_curve_per_domain(day: tuple[pa.Table, ...]) -> None:
    _, _, deliveries = day
    ax = plot.delay_distribution(deliveries).axes[0]
    assert _legend(ax) == ["all domains (8)", "example.com (7)", "slow.example.net (1)"]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "delay from arrival to delivery (seconds, log scale)"
    assert ax.get_ylabel() == "fraction of deliveries"
    # Each curve climbs to 1: every delivery counted once.
    for line in ax.get_lines():
        assert line.get_ydata()[-1] == pytest.approx(1.0)
    slow = ax.get_lines()[2]
    assert max(slow.get_xdata()) == pytest.approx(79200.0)


def test_reply_code_heatmap_cells_count_attempts(day: tuple[pa.Table, ...]) -> None:
    _, _, deliveries = day
    fig = plot.reply_code_heatmap(deliveries)
    ax = fig.axes[0]
    rows = _ticks(ax.get_yticklabels())
    cols = _ticks(ax.get_xticklabels())
    assert rows[0] == "example.com" and set(rows) == {
        "example.com",
        "slow.example.net",
        "dead.example.com",
        "remote.example.org",
    }
    assert cols == ["250", "451", "550", "2.0.0", "4.4.1"]
    grid = ax.images[0].get_array()
    assert int(grid.sum()) == deliveries.num_rows
    assert int(grid[rows.index("dead.example.com"), cols.index("4.4.1")]) == 3
    assert fig.axes[1].get_ylabel() == "attempts"  # the colour bar


def test_top_failing_counts_failures_only(day: tuple[pa.Table, ...]) -> None:
    _, _, deliveries = day
    domains, providers = plot.top_failing(deliveries).axes
    assert _ticks(domains.get_yticklabels()) == [
        "dead.example.com",
        "slow.example.net",
        "remote.example.org",
    ]
    assert [p.get_width() for p in domains.patches] == [3, 2, 1]
    assert _ticks(providers.get_yticklabels()) == ["(unknown provider)"]
    assert domains.get_xlabel() == "failures (count)"


def test_queue_delays_stack_the_four_stages(day: tuple[pa.Table, ...]) -> None:
    _, _, deliveries = day
    ax = plot.queue_delays(deliveries, top=3).axes[0]
    assert _legend(ax) == [
        "a: before queue manager",
        "b: in queue manager",
        "c: connection set-up",
        "d: transmission",
    ]
    labels = _ticks(ax.get_yticklabels())
    assert labels[0] == "all (15)"  # the expired recipient has no delays=
    assert len(ax.patches) == 4 * len(labels) == 16
    assert ax.get_xlabel() == "mean seconds per attempt"


def test_overview_has_four_panels(day: tuple[pa.Table, ...]) -> None:
    fig = plot.report_overview(*day)
    assert [ax.get_title() for ax in fig.axes] == [
        "Mail volume over time",
        "Failures over time by category",
        "Delivery delay by recipient domain",
        "Queue delay breakdown (mean per attempt)",
    ]
    assert fig.get_suptitle() == ("mailtrace report — 2026-03-10 08:00 to 2026-03-11 12:00 UTC")
    assert plot.panel_notes(fig) == ["", "", "", ""]


# --- failures and transcripts ------------------------------------------------------------------


def test_failures_overview_of_bounces() -> None:
    rows = read_bounces([str(SAMPLE / "bounces")])
    fig = plot.failures_overview(rows)
    cats, domains, providers = fig.axes[:3]
    failing = [r for r in rows if r["family"] != "not_failure"]
    assert sum(p.get_width() for p in cats.patches) == len(failing)
    assert sum(p.get_width() for p in domains.patches) == len(failing)
    assert {"gmail", "microsoft", "yahoo"} <= set(_ticks(providers.get_yticklabels()))
    assert "auto_reply" not in _ticks(cats.get_yticklabels())
    assert cats.get_legend().get_title().get_text() == "family"


def test_transcript_chart_colours_by_reply_class() -> None:
    results = read_transcripts([str(SAMPLE / "transcripts" / "swaks-rcpt-550.txt")])
    ax = plot.transcript_chart([t for _, t in results]).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["CONNECT\n220", "EHLO\n250", "MAIL\n250", "RCPT\n550", "QUIT\n221"]
    colours = [p.get_facecolor()[:3] for p in ax.patches]
    red = pytest.approx((0.769, 0.306, 0.322), abs=0.01)
    assert [c == red for c in colours] == [False, False, False, True, False]
    assert _ticks(ax.get_yticklabels()) == ["swaks-rcpt-550.txt"]


def test_failures_log_overview(day: tuple[pa.Table, ...]) -> None:
    events, _, _ = day
    fig = plot.failures_log_overview(events)
    by_category, by_family, domains, providers = fig.axes[:4]
    assert sum(p.get_height() for c in by_category.containers for p in c) == 6
    assert _legend(by_family)[0] == "transport (3)"
    assert [p.get_width() for p in domains.patches] == [3, 2, 1]
    assert _ticks(providers.get_yticklabels()) == ["(unknown provider)"]
    assert fig.get_suptitle().startswith("Failed delivery attempts — 2026-03-10 ")


# --- edges ---------------------------------------------------------------------------------------

EMPTY_CHARTS = {
    "volume": lambda: plot.volume_over_time(
        EVENTS.empty_table(), MESSAGES.empty_table(), DELIVERIES.empty_table()
    ),
    "failures": lambda: plot.failures_over_time(DELIVERIES.empty_table()),
    "delays": lambda: plot.delay_distribution(DELIVERIES.empty_table()),
    "heatmap": lambda: plot.reply_code_heatmap(DELIVERIES.empty_table()),
    "top": lambda: plot.top_failing(DELIVERIES.empty_table()),
    "queue": lambda: plot.queue_delays(DELIVERIES.empty_table()),
    "categories": lambda: plot.failure_categories(pa.table({})),
    "bounces": lambda: plot.failures_overview([]),
    "transcripts": lambda: plot.transcript_chart(REPLIES.empty_table()),
    "hops": lambda: plot.hop_timeline(HOPS.empty_table()),
    "overview": lambda: plot.log_overview(EVENTS.empty_table()),
    "failures_log": lambda: plot.failures_log_overview(EVENTS.empty_table()),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CHARTS))
def test_every_chart_without_data_is_a_figure_saying_so(name: str, tmp_path: Path) -> None:
    fig = EMPTY_CHARTS[name]()
    assert isinstance(fig, Figure)
    assert plot.panel_notes(fig) and all(n == "no data" for n in plot.panel_notes(fig))
    plot.save_figure(fig, tmp_path / "empty.png")  # and it draws


def _one_delivery(**values: object) -> pa.Table:
    row = {
        "message": "mx:Q1",
        "ts": 1_773_100_800_000_000,
        "recipient": "a@example.com",
        "status": "sent",
        "reply_code": 250,
        "dsn": "2.0.0",
        "total_delay": 0.0,
        "delays_a": 0.0,
        "delays_b": 0.0,
        "delays_c": 0.0,
        "delays_d": 0.0,
        "category": "delivered",
        "family": "not_failure",
        **values,
    }
    return pa.Table.from_pylist([row], DELIVERIES)


def test_one_data_point_draws_in_every_chart(tmp_path: Path) -> None:
    sent = _one_delivery()
    failed = _one_delivery(
        status="bounced", reply_code=550, dsn="5.1.1", category="unknown_user", family="recipient"
    )
    events = pa.Table.from_pylist([{"ts": 1_773_100_800_000_000, "kind": "reject"}], EVENTS)
    figs = {
        "volume": plot.volume_over_time(events, MESSAGES.empty_table(), sent),
        "failures": plot.failures_over_time(failed),
        "delays": plot.delay_distribution(sent),
        "heatmap": plot.reply_code_heatmap(sent),
        "top": plot.top_failing(failed),
        "queue": plot.queue_delays(sent),
    }
    for name, fig in figs.items():
        assert "no data" not in plot.panel_notes(fig), name
        plot.save_figure(fig, tmp_path / f"{name}.png")
    # A zero delay still shows on the log axis (at 10 ms) with a marker for the lone point.
    line = figs["delays"].axes[0].get_lines()[0]
    assert min(line.get_xdata()) == pytest.approx(0.01)
    assert _legend(figs["volume"].axes[0])[-1] == "rejected (1)"


def test_huge_inputs_stay_small_pictures(tmp_path: Path) -> None:
    n = 5000
    hops = pa.Table.from_pylist(
        [
            {
                "message": "m",
                "hop": i,
                "by_host": f"h{i}.example",
                "timestamp": i * 10**6,
                "delay_s": 1.0,
            }
            for i in range(1, n + 1)
        ],
        HOPS,
    )
    fig = plot.hop_timeline(hops)
    ax = fig.axes[0]
    assert len(ax.patches) == plot.MAX_HOPS
    assert ax.get_title(loc="left").endswith(f"(last {plot.MAX_HOPS} of {n} hops)")
    assert fig.get_size_inches()[1] < 25
    plot.save_figure(fig, tmp_path / "hops.png")
    many = pa.table(
        {
            "recipient": ["a@x.example"] * 50_000,
            "status": ["sent"] * 50_000,
            "total_delay": np.arange(50_000, dtype=float),
        }
    )
    ax = plot.delay_distribution(many).axes[0]
    assert _legend(ax) == ["all domains (50000)", "x.example (50000)"]  # counts, not points
    lines = ax.get_lines()
    assert all(len(line.get_xdata()) <= 2 * plot.CDF_POINTS + 2 for line in lines)
    assert lines[0].get_ydata()[-1] == pytest.approx(1.0)


def test_hostile_labels_are_cut_and_never_mathematics(tmp_path: Path) -> None:
    evil = "$\\frac{$" * 40 + ".example"
    t = pa.table(
        {
            "recipient": [f"a@{evil}"],
            "category": ["unknown_user$"],
            "family": ["recipient"],
            "provider": ["$\\badcommand$"],
        }
    )
    fig = plot.failures_overview(t)
    plot.save_figure(fig, tmp_path / "evil.png")  # mathtext would raise on "$\frac{$"
    label = _ticks(fig.axes[1].get_yticklabels())[0]
    assert len(label.replace("\\$", "$")) == plot.LABEL_MAX
    assert plot.label("a\x00b\nc") == "a?b?c"


# --- files ---------------------------------------------------------------------------------------


def test_save_png_and_svg_atomically(tmp_path: Path, day: tuple[pa.Table, ...]) -> None:
    fig = plot.report_overview(*day)
    png = plot.save_figure(fig, tmp_path / "o.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot.save_figure(fig, tmp_path / "o.SVG")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.SVG", "o.png"]  # no temp left
    with pytest.raises(UsageError, match="exists already"):
        plot.save_figure(fig, png)
    plot.save_figure(plot.new_figure(), png, force=True)
    assert png.stat().st_size < 20_000  # replaced by the blank figure
    with pytest.raises(UsageError, match=r"\.png or \.svg"):
        plot.save_figure(fig, tmp_path / "o.pdf")
    with pytest.raises(UsageError, match="no such directory"):
        plot.save_figure(fig, tmp_path / "missing" / "o.png")


def test_inline_svg_keeps_text_escaped_and_drops_comments() -> None:
    t = pa.table(
        {
            "recipient": ["a@<script>x</script>.example"],
            "category": ["virus"],
            "family": ["message"],
            "provider": ["--><img src=x onerror=alert(1)>"],
        }
    )
    svg = plot.figure_svg(plot.top_failing(t))
    assert "<script" not in svg and "<img" not in svg and "<!--" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "Top failing providers" in svg


def test_plot_never_uses_pyplot_and_the_cli_loads_matplotlib_lazily() -> None:
    code = (
        "import sys, mailtrace.cli;"
        "assert 'matplotlib' not in sys.modules;"
        "from mailtrace import plot; plot.top_failing(__import__('pyarrow').table({}));"
        "assert 'matplotlib.pyplot' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


# --- the --plot option ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "suffix"),
    [
        (["headers", str(SAMPLE / "messages" / "clock-skew.eml")], ".png"),
        (["report", str(DAY_LOG)], ".svg"),
        (["failures", str(DAY_LOG)], ".png"),
        (
            [
                "trace",
                str(SAMPLE / "trace" / "message.eml"),
                "--logs",
                str(SAMPLE / "trace" / "mx1.example.org.log"),
                str(SAMPLE / "trace" / "mx.example.net.mainlog"),
            ],
            ".png",
        ),
        (["bounce", str(SAMPLE / "bounces")], ".png"),
        (["transcript", str(SAMPLE / "transcripts" / "swaks-plain.txt")], ".svg"),
    ],
)
def test_plot_option(args: list[str], suffix: str, tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / f"chart{suffix}"
    first = runner.invoke(app, [*args, "--plot", str(target)])
    assert first.exit_code == 0, first.output
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG" if suffix == ".png" else b"<?xml")
    again = runner.invoke(app, [*args, "--plot", str(target)])
    assert again.exit_code != 0
    assert target.read_bytes() == data  # refused, untouched
    forced = runner.invoke(app, [*args, "--plot", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
