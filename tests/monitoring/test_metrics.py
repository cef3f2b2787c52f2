"""The Prometheus endpoint: a short simulated session scraped over HTTP (127.0.0.1), its counters equal
to the session's summary, every metric of `METRIC_NAMES` exported, no unbounded label."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from trader.core import Side
from trader.engine import oms
from trader.errors import BannedError, InsufficientFundsError
from trader.monitoring.metrics import METRIC_NAMES, Metrics, reason_label
from trader.monitoring.session import Monitor
from trader.monitoring.settings import MonitoringSettings
from trader.sim.session import PaperConfig, PaperSession
from trader.strategies.base import Place

Families = dict[str, list[tuple[str, dict[str, str], float]]]
Scraped = tuple[dict[str, Any], Families]
_CLIENT_ID = re.compile(r"[a-z][0-9a-z]{5}[a-z]{1,3}[1-9][0-9]{0,8}")


def scrape(port: int) -> Families:
    """Every family of the endpoint: name -> samples (sample name, labels, value)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(text)
    }


def value(families: Families, sample: str, **labels: str) -> float:
    family = sample.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    return sum(v for n, lab, v in families[family] if n == sample and labels.items() <= lab.items())


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Scraped:
    tmp = tmp_path_factory.mktemp("metrics")
    session = PaperSession(PaperConfig(duration_s=10, journal=tmp / "journal.db"))
    monitor = Monitor(MonitoringSettings(metrics_port=0, sample_s=0.5))
    monitor.attach(session.engine)
    try:
        assert monitor.metrics is not None
        assert monitor.metrics._server is not None
        assert monitor.metrics._server.server_address[0] == "127.0.0.1"  # not the network unless configured
        summary = asyncio.run(session.run_async())
        monitor.metrics.on_timer(session.engine, session.clock.now_ns() + 10**9)  # the state after shutdown
        assert monitor.metrics_port is not None
        families = scrape(monitor.metrics_port)
    finally:
        asyncio.run(monitor.close(session.engine))
    return summary.as_dict(), families


def test_a_simulated_session_scraped(scraped: Scraped) -> None:
    summary, m = scraped
    assert summary["orders"]
    assert summary["fills"]
    assert value(m, "trader_orders_total", venue="sim", strategy="mm") == summary["orders"]
    assert value(m, "trader_fills_total", venue="sim", strategy="mm") == summary["fills"]
    assert value(m, "trader_order_acks_total", venue="sim") == summary["orders"]  # the simulator acks all
    assert value(m, "trader_order_cancels_total", venue="sim") == summary["canceled"]
    assert value(m, "trader_order_round_trip_seconds_count", venue="sim") == summary["orders"]
    assert value(m, "trader_tick_to_wire_seconds_count") >= 1
    assert value(m, "trader_journal_write_seconds_count") > summary["orders"]  # intents and events
    pnl = Decimal(str(summary["pnl"]))
    assert value(m, "trader_portfolio_pnl", component="total") == pytest.approx(float(pnl), abs=1e-9)
    assert value(m, "trader_venue_pnl", venue="sim", component="total") == pytest.approx(float(pnl), abs=1e-9)
    assert value(m, "trader_position", venue="sim", symbol="BTCUSDT") == pytest.approx(
        float(summary["inventory"])
    )
    assert value(m, "trader_venue_up", venue="sim") == 1
    assert value(m, "trader_stream_up", venue="sim", stream="market") == 1
    ages = [v for _, lab, v in m["trader_book_age_seconds"] if lab == {"venue": "sim", "symbol": "BTCUSDT"}]
    assert len(ages) == 1
    assert 0 <= ages[0] < 5
    assert value(m, "trader_risk_state", state="active") == 1
    assert value(m, "trader_risk_state", state="halted") == 0
    assert value(m, "trader_kill_latched") == 0


def test_every_metric_is_exported_with_bounded_labels(scraped: Scraped) -> None:
    _, m = scraped
    exported = {name for name in m if name.startswith("trader_")}
    assert exported == METRIC_NAMES
    for family, samples in m.items():
        for _, labels, _ in samples:
            for k, v in labels.items():
                assert not _CLIENT_ID.fullmatch(v), (family, k, v)  # never an order id
                assert len(v) <= 48, (family, k, v)


def test_counters_follow_the_engine_events(tmp_path: Path) -> None:
    """Rejects by error class, denials by gate code, venue errors, kills (events the quiet session
    above has none of), through the observer interface the engine calls."""
    session = PaperSession(PaperConfig(duration_s=1, journal=tmp_path / "j.db"))
    metrics = Metrics(session.engine)
    try:
        order = oms.Order("abcdefmm1", "sim", "BTCUSDT", Side.BUY, 100, 1, strategy="mm")
        order.apply(oms.Submitted())
        metrics.on_order(order, None, 1_000)
        metrics.on_venue_error("sim", InsufficientFundsError("no money", venue="sim", code="-2010"))
        order.apply(oms.Rejected("no money"))
        metrics.on_order(order, oms.Rejected("no money"), 2_000)
        metrics.on_denial("mm", Place("BTCUSDT", Side.BUY, 1, 1, venue="sim"), "PRICE_COLLAR")
        metrics.on_denial("mm", Place("BTCUSDT", Side.BUY, 1, 1, venue="sim"), "some free text from a check")
        metrics.on_venue_error("sim", BannedError("418", venue="sim", code="418"))
        metrics.on_kill("test", None)
        metrics.on_kill("test", "sim")
        text = _exposition(metrics)
    finally:
        metrics.close()
    assert 'trader_order_rejects_total{reason="InsufficientFundsError",strategy="mm",venue="sim"} 1.0' in text
    assert 'trader_risk_denials_total{reason="PRICE_COLLAR",strategy="mm",venue="sim"} 1.0' in text
    assert 'trader_risk_denials_total{reason="other",strategy="mm",venue="sim"} 1.0' in text
    assert 'trader_venue_errors_total{error="BannedError",venue="sim"} 1.0' in text
    assert 'trader_kills_total{venue="all"} 1.0' in text
    assert 'trader_kills_total{venue="sim"} 1.0' in text
    assert reason_label("abcdefmm123") == "other"
    assert reason_label("DAILY_LOSS_LIMIT") == "DAILY_LOSS_LIMIT"


def _exposition(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_metrics_port_from_config_and_flags(tmp_path: Path) -> None:
    from trader.config import parse_config
    from trader.errors import ConfigError
    from trader.monitoring.session import monitor_for

    cfg = parse_config("[monitoring]\nmetrics_port = 9108\n")
    assert cfg.monitoring is not None
    assert cfg.monitoring.metrics_port == 9108
    assert cfg.monitoring.metrics_host == "127.0.0.1"
    assert monitor_for(cfg.monitoring, metrics_port=0).settings.metrics_port == 0  # the flag wins
    for bad in ("metrics_port = 70000", "metrics_port = 'x'", "metric_port = 1"):
        with pytest.raises(ConfigError, match="monitoring"):
            parse_config(f"[monitoring]\n{bad}\n")
    # a port in use is a configuration error, not a crash
    busy = Metrics(PaperSession(PaperConfig(duration_s=1)).engine)
    other = Metrics(PaperSession(PaperConfig(duration_s=1)).engine)
    try:
        port = busy.serve(0)
        with pytest.raises(ConfigError, match="metrics port"):
            other.serve(port)
    finally:
        busy.close()
        other.close()


def test_rate_limit_usage_and_time_blocked(tmp_path: Path) -> None:
    """A connector's HTTP clients report their limiter's use per quota and window; a venue backing us
    off counts as time blocked."""
    from trader.clock import LiveClock
    from trader.core import RateLimiter, Window
    from trader.monitoring import probe
    from trader.venues._http import HttpClient

    limiter = RateLimiter()
    quota = limiter.add_quota("orders", [Window(10, 1_000_000_000), Window(100, 60_000_000_000)])
    client = HttpClient("x", "http://127.0.0.1:1", clock=LiveClock(), limiter=limiter, quota=quota)

    class Connector:
        def __init__(self) -> None:
            self._http = client
            self._more = (client,)

    now = LiveClock().now_ns()
    for _ in range(4):
        assert limiter.try_acquire(quota, 1, now) is None
    clients = list(probe.http_clients(Connector()))
    assert clients == [client, client]
    assert client.usage(now) == [(quota, 1_000_000_000, 4, 10), (quota, 60_000_000_000, 4, 100)]

    session = PaperSession(PaperConfig(duration_s=1, journal=tmp_path / "j.db"))
    metrics = Metrics(session.engine)
    try:
        asyncio.run(session.start())
        s = probe.sample(session.engine)
        v = s.venues["sim"]
        v.rate_limits = [probe.RateSample(str(quota), 1.0, 4, 10)]
        v.blocked = True
        metrics.update(s, 0.5)
        metrics.update(s, 0.5)
        text = _exposition(metrics)
    finally:
        metrics.close()
    assert f'trader_rate_limit_used_ratio{{quota="{quota}",venue="sim",window_seconds="1"}} 0.4' in text
    assert 'trader_rate_limit_blocked_seconds_total{venue="sim"} 1.0' in text


def test_metrics_flags_are_checked_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    from trader.cli import main

    assert main(["paper", "--fast", "--duration=1", "--metrics-port=70000"]) == 2
    assert "--metrics-port must be a TCP port" in capsys.readouterr().err


def test_a_port_in_use_fails_the_session_cleanly(tmp_path: Path) -> None:
    from trader.errors import ConfigError
    from trader.monitoring.session import monitored

    holder = Metrics(PaperSession(PaperConfig(duration_s=1)).engine)
    try:
        port = holder.serve(0)
        session = PaperSession(PaperConfig(duration_s=1, journal=tmp_path / "j.db"))
        monitor = Monitor(MonitoringSettings(metrics_port=port))
        with pytest.raises(ConfigError, match="metrics port"):
            asyncio.run(monitored(monitor, session.engine, session.run_async()))
        assert len(session.engine.ledger.observers) == 0  # detached again
    finally:
        holder.close()
