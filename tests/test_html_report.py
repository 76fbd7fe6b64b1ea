"""The HTML report: self-contained, escaped, and working in a real browser.

The browser tests drive Debian's headless Chromium over the DevTools protocol (a websocket on
loopback): they load the page, collect every console message and uncaught exception, click
table headers with real mouse events, and take a screenshot. Without Chromium they skip, unless
``CI`` is set: there a missing browser fails (``make system-deps`` installs it).
"""

from __future__ import annotations

import base64
import html
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailtrace.cli import app
from mailtrace.paths import COLUMNS, read_events
from mailtrace.report_html import SORT_SCRIPT, log_report_html, write_html
from mailtrace.schema import EVENTS

from .conftest import SAMPLE

DAY_LOG = SAMPLE / "logs" / "report_day.log"
CHART_TITLES = (
    "Mail volume over time",
    "Failures over time by category",
    "Failures over time by family",
    "Delivery delay by recipient domain",
    "Reply codes by recipient domain",
    "Top failing recipient domains",
    "Queue delay breakdown (mean per attempt)",
)

# Log lines whose text tries to run script once rendered; each would set the page's title.
HOSTILE = (
    "2026-03-10T14:00:01.000000+00:00 mx1 postfix/smtpd[1007]: NOQUEUE: reject: RCPT from "
    "unknown[192.0.2.66]: 554 5.7.1 <img src=x onerror=\"document.title='pwned'\"> and "
    "<script >document.title='pwned'</script > here; from=<spam@spam.example> "
    "to=<bob@example.com> proto=ESMTP helo=<spam.example>\n"
    "2026-03-10T14:00:02.000000+00:00 mx1 postfix/smtpd[1007]: warning: <svg onload="
    "document.title='pwned'> <script type=text/javascript>document.title='pwned'</script >\n"
)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mailtrace report --html`` of the sample day plus the hostile lines."""
    d = tmp_path_factory.mktemp("html")
    hostile = d / "hostile.log"
    hostile.write_text(HOSTILE)
    out = d / "report.html"
    result = CliRunner().invoke(app, ["report", str(DAY_LOG), str(hostile), "--html", str(out)])
    assert result.exit_code == 0, result.output
    return out


# --- the file itself ---------------------------------------------------------------------------


def test_the_page_needs_nothing_from_outside(report_file: Path) -> None:
    page = report_file.read_text()
    assert page.count("<script>") == 1  # the sorting script, nothing else
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only references to the page's own clip paths
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert page.count("<svg") == len(CHART_TITLES)
    for title in CHART_TITLES:
        assert f">{title}</text>" in page  # chart text stays text inside the SVG


def test_log_text_is_escaped(report_file: Path) -> None:
    page = report_file.read_text()
    assert "<img" not in page and "<script " not in page and "<svg onload" not in page
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in page
    assert "&lt;script type=text/javascript&gt;" in page


def test_the_policy_allows_only_the_sorting_script(report_file: Path) -> None:
    import base64 as b64
    import hashlib

    page = report_file.read_text()
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert found is not None
    policy = html.unescape(found.group(1))
    digest = b64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy


def test_sections_follow_the_report(report_file: Path) -> None:
    page = report_file.read_text()
    for section in ("Grand totals", "Charts", "Per-day traffic", "Recipient domains", "Problems"):
        assert f">{section}" in page
    assert page.count('class="sortable"') >= 10


def test_html_output_is_written_once_unless_forced(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(DAY_LOG), "--html", str(out)]).exit_code == 0
    first = out.read_bytes()
    again = runner.invoke(app, ["report", str(DAY_LOG), "--html", str(out)])
    assert again.exit_code != 0 and out.read_bytes() == first
    forced = runner.invoke(app, ["report", str(DAY_LOG), "--html", str(out), "--force"])
    assert forced.exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_an_empty_log_still_makes_a_page(tmp_path: Path) -> None:
    page = log_report_html(EVENTS.empty_table())
    path = write_html(page, tmp_path / "empty.html")
    text = path.read_text()
    assert text.count("<svg") == len(CHART_TITLES)
    assert text.count(">no data</text>") == len(CHART_TITLES) + 1  # top failing has two panels


def test_the_library_call_matches_the_command() -> None:
    events = read_events([DAY_LOG], COLUMNS)
    page = log_report_html(events, sources=["report_day.log"])
    assert "from report_day.log" in page
    assert page.count("<svg") == len(CHART_TITLES)


# --- in a real browser -------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; `make system-deps` installs it")
    pytest.skip("chromium is not installed (make system-deps installs it)")


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for message in self.events[seen:]:
                if message.get("method") == method:
                    return message
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} within {timeout}s")
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and browser log errors."""
        out = []
        for m in self.events:
            method, params = m.get("method"), m.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"]))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
                out.append(json.dumps(params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                out.append(params["entry"]["text"])
        return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,1600",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stderr = proc.stderr
    reader = threading.Thread(target=lambda: [lines.put(x) for x in stderr], daemon=True)
    reader.start()
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            port = found.group(1) if found else None
        assert port is not None, "chromium did not open its DevTools port"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            tools.call(f"{domain}.enable")
        yield tools
        tools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        stderr.close()


@pytest.fixture(scope="module")
def loaded(browser: DevTools, report_file: Path) -> DevTools:
    browser.call("Page.navigate", url=report_file.as_uri())
    browser.wait_for("Page.loadEventFired")
    return browser


def test_renders_with_charts_and_no_console_errors(loaded: DevTools, tmp_path: Path) -> None:
    assert loaded.evaluate("document.title") == "mailtrace report"
    assert loaded.evaluate("document.querySelectorAll('figure svg').length") == len(CHART_TITLES)
    # The charts have a size on screen: laid out, not just present.
    widths = loaded.evaluate(
        "Array.from(document.querySelectorAll('figure svg')).map(s => s.getBoundingClientRect()"
        ".width)"
    )
    assert all(w > 300 for w in widths)
    shot = loaded.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "report.png").write_bytes(png)
    from matplotlib.image import imread

    pixels = imread(tmp_path / "report.png")
    assert pixels.shape[0] > 1600  # the whole page, beyond the first screen
    assert pixels.std() > 0.05  # not a blank page
    assert loaded.problems() == []


def test_hostile_text_shows_as_text_and_runs_nothing(loaded: DevTools) -> None:
    assert loaded.evaluate("document.title") == "mailtrace report"  # 'pwned' never set
    text = loaded.evaluate("document.body.innerText")
    assert "<img src=x onerror=\"document.title='pwned'\">" in text
    assert "<script type=text/javascript>document.title='pwned'</script >" in text
    assert loaded.evaluate("document.images.length") == 0
    assert loaded.evaluate("document.scripts.length") == 1
    assert loaded.evaluate("document.querySelectorAll('[onerror], [onload]').length") == 0


def _column(tools: DevTools, table: str, index: int) -> list[str]:
    values: list[str] = tools.evaluate(
        f"Array.from(document.querySelectorAll({json.dumps(table + ' tbody tr')}))"
        f".map(r => r.cells[{index}].textContent)"
    )
    return values


def test_clicking_a_header_sorts_the_table(loaded: DevTools) -> None:
    table = "#recipient-domains-delivered-delays-in-seconds + table"
    heads = loaded.evaluate(
        f"Array.from(document.querySelectorAll({json.dumps(table + ' thead th')}))"
        ".map(h => h.textContent)"
    )
    col = heads.index("deferrals")
    before = _column(loaded, table, col)
    button = f"{table} thead th:nth-child({col + 1}) button"
    loaded.click(button)
    ascending = _column(loaded, table, col)
    assert ascending == sorted(before, key=int)
    assert ascending != before
    head = json.dumps(f"{table} thead th:nth-child({col + 1})")
    assert loaded.evaluate(f"document.querySelector({head}).getAttribute('aria-sort')") == (
        "ascending"
    )
    loaded.click(button)
    assert _column(loaded, table, col) == sorted(before, key=int, reverse=True)
    # Text columns sort as text.
    loaded.click(f"{table} thead th:nth-child(1) button")
    domains = _column(loaded, table, 0)
    assert domains == sorted(domains)
    assert loaded.problems() == []
