"""The run report: a short paper session's report (`trader paper --report`), its content, and how it
renders in a real headless browser (Debian's chromium): no console error, every chart drawn."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.monitoring.browser import Browser, chromium
from trader.monitoring.report import build_report
from trader.monitoring.report.data import load

CORE_CHARTS = ("chart-equity", "chart-price-path", "chart-inventory", "chart-spread", "chart-latency")


def _external(html: str) -> list[str]:
    """The URLs a page loads (script src, link href, img src); script bodies are not parsed as tags."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(
                v for k, v in attrs if k in ("src", "href") and v and tag in ("script", "link", "img")
            )

    Tags().feed(html)
    return found


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """`trader paper --fast --report --log-json --json`: the report, the summary and the log lines."""
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "report.html"
    r = subprocess.run(
        [sys.executable, "-m", "trader", "paper", "--fast", "--duration=30", "--seed=7", f"--report={out}",
         "--log-json", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return {"out": out, "summary": json.loads(r.stdout), "stderr": r.stderr}


def test_paper_report_is_written_and_self_contained(session: dict[str, object]) -> None:
    out = session["out"]
    assert isinstance(out, Path)
    html = out.read_text()
    assert f"report: {out.resolve()}" in str(session["stderr"])
    assert _external(html) == []  # opens without a network: no script, style or image from elsewhere
    assert html.count("Plotly.newPlot") == 7
    for name in (*CORE_CHARTS, "chart-costs", "chart-denials"):
        assert f'id="{name}"' in html
    summary = session["summary"]
    assert isinstance(summary, dict)
    assert f"<td>{summary['orders']}</td>" in html  # the table per strategy and venue: mm on sim


def test_order_events_are_json_lines_with_venue_strategy_and_client_id(session: dict[str, object]) -> None:
    lines = [json.loads(x) for x in str(session["stderr"]).splitlines() if x.startswith("{")]
    orders = [x for x in lines if x.get("event") == "order"]
    summary = session["summary"]
    assert isinstance(summary, dict)
    sent = [x for x in orders if x["change"] == "sent"]
    assert len(sent) == summary["orders"] > 0
    assert sum(x["change"] == "Filled" for x in orders) >= summary["fills"] > 0
    for x in orders:
        assert x["venue"] == "sim"
        assert x["strategy"] == "mm"
        assert x["client_id"]
        assert x["logger"] == "trader.orders"
        assert x["level"] == "info"
    # every state change of one order, in order
    first = sent[0]["client_id"]
    changes = [x["change"] for x in orders if x["client_id"] == first]
    assert changes[0] == "sent"
    assert "Accepted" in changes


def test_report_of_a_journal_without_samples(tmp_path: Path) -> None:
    """A journal from before monitoring (no samples table) still gives a report: orders and fills."""
    from trader.engine.journal import Journal

    Journal(tmp_path / "old.db").close()
    out = build_report(tmp_path / "old.db", tmp_path / "old.html")
    assert "has no samples" in out.read_text()
    assert load(tmp_path / "old.db").samples == []


def test_report_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trader.cli import main
    from trader.cli import report as report_cli

    assert main(["report", str(tmp_path / "missing.db")]) == 2
    assert "no such file" in capsys.readouterr().err
    # no plotly: the command says how to install it
    monkeypatch.setattr(report_cli, "plotly_missing", lambda: "the report needs plotly: pip install x")
    assert main(["report", str(tmp_path / "missing.db")]) == 2
    assert "pip install" in capsys.readouterr().err
    assert main(["paper", "--fast", "--duration=1", f"--report={tmp_path / 'r.html'}"]) == 2
    assert "pip install" in capsys.readouterr().err
    from trader.monitoring.report import INSTALL_HINT

    assert "pip install 'trader[report]'" in INSTALL_HINT


def _colored(png: bytes) -> tuple[float, int]:
    """The pixel variance and the number of saturated (trace-colored, not gray) pixels of a PNG."""
    from PIL import Image, ImageChops, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    variance = sum(ImageStat.Stat(img).var) / 3
    _, sat, val = img.convert("HSV").split()
    mask = ImageChops.multiply(
        sat.point(lambda x: 255 if x > 90 else 0), val.point(lambda x: 255 if x > 60 else 0)
    )
    return variance, mask.histogram()[255]


def test_report_renders_in_headless_chromium(session: dict[str, object], tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        pytest.fail("chromium is not installed (`make test` installs it: apt-get install chromium)")
    out = session["out"]
    assert isinstance(out, Path)
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedReportFunction();</script></body></html>")
    browser = Browser(binary)
    try:
        page = browser.open(out)
        regions = {
            c["id"]: (c, browser.screenshot({k: c[k] for k in ("x", "y", "width", "height")}))
            for c in page.charts
        }
        # the detector itself: an error on the page is seen
        assert any("undefinedReportFunction" in e for e in browser.open(broken).errors)
    finally:
        browser.close()
    assert page.errors == []
    assert len(page.charts) == 7
    for name in CORE_CHARTS:
        chart, png = regions[name]
        assert (chart["points"] > 0, chart["width"] > 600, chart["height"] > 250) == (True, True, True), chart
        variance, saturated = _colored(png)
        assert variance > 100, (name, variance)  # not a blank box
        assert saturated > 200, (name, saturated)  # traces drawn, not just axes and grid lines
