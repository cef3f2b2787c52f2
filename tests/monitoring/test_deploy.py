"""What deploy/ ships: the Prometheus rules pass `promtool check rules` and their unit tests (`promtool
test rules`), the scrape config passes `promtool check config`, and the Grafana dashboard is sound: every
panel's query names only metrics the engine exports (`METRIC_NAMES`, checked against a live scrape in
test_metrics)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trader.monitoring.metrics import METRIC_NAMES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_SERIES_SUFFIXES = ("_bucket", "_count", "_sum", "_total")
_NAME = re.compile(r"\b(trader_[a-z0-9_]+)")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed (`make test` installs Debian's prometheus with apt-get)")
    return path


def _metric(series: str) -> str:
    for suffix in _SERIES_SUFFIXES:
        if series.endswith(suffix) and series.removesuffix(suffix) in METRIC_NAMES:
            return series.removesuffix(suffix)
    return series


def names_in(expr: str) -> set[str]:
    return {_metric(n) for n in _NAME.findall(expr)}


@pytest.mark.parametrize(
    "args",
    [
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts_test.yml"),
        ("check", "config", "prometheus.yml"),
    ],
    ids=["check-rules", "test-rules", "check-config"],
)
def test_promtool(args: tuple[str, ...]) -> None:
    r = subprocess.run(
        [promtool(), *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr


def test_alert_rules_name_exported_metrics() -> None:
    exprs = re.findall(r"^\s*expr:\s*(.+)$", (DEPLOY / "prometheus" / "alerts.yml").read_text(), re.M)
    assert len(exprs) >= 10
    for expr in exprs:
        assert names_in(expr) <= METRIC_NAMES, expr


def _panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dash["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


def test_dashboard_is_sound() -> None:
    dash = json.loads((DEPLOY / "grafana" / "trader.json").read_text())
    assert dash["title"]
    assert dash["uid"]
    panels = _panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    used: set[str] = set()
    queries = [p for p in panels if p["type"] != "row"]
    assert len(queries) >= 20
    for p in queries:
        g = p["gridPos"]
        assert (g["x"] >= 0, g["x"] + g["w"] <= 24, g["h"] > 0) == (True, True, True), p["title"]
        assert (p["datasource"]["type"], bool(p["targets"])) == ("prometheus", True), p["title"]
        for t in p["targets"]:
            names = names_in(t["expr"])
            assert names, (p["title"], t["expr"])  # every query reads one of ours
            assert names <= METRIC_NAMES, (p["title"], names - METRIC_NAMES)
            used |= names
    # the metric set is on the dashboard
    for needed in (
        "trader_orders", "trader_fills", "trader_order_rejects", "trader_risk_denials",
        "trader_order_unknown_outcomes", "trader_order_cancels", "trader_tick_to_wire_seconds",
        "trader_order_round_trip_seconds", "trader_book_age_seconds", "trader_venue_up",
        "trader_venue_reconnects", "trader_rate_limit_used_ratio", "trader_rate_limit_blocked_seconds",
        "trader_position", "trader_asset_exposure", "trader_venue_pnl", "trader_portfolio_pnl",
        "trader_venue_risk_state", "trader_kill_latched", "trader_journal_write_seconds",
    ):  # fmt: skip
        assert needed in used, needed
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "venue"} <= variables
