"""Alerts: delivered to a local HTTP receiver (aiohttp) as generic JSON, Slack or Telegram payloads, with
retries; a storm sends one alert with a count; nothing waits on delivery; the webhook URL (a secret)
appears nowhere; and the engine's own events raise them (kill, ban, reconciliation refusal, venue down,
daily-loss latch)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from trader.clock import LiveClock
from trader.core import Side, TradingState
from trader.engine import oms
from trader.errors import BannedError, ConfigError
from trader.monitoring.alerts import Alert, AlertSettings, AlertWatch, Sender, Throttle, payload
from trader.sim.session import PaperConfig, PaperSession
from trader.venues.base import Stream, StreamStatus

SECRET = "123456:SECRET-TOKEN"
FAST = {"retry_backoff_s": 0.01, "timeout_s": 2.0}


class Receiver:
    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.got: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.event = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self.delay_s:
            await LiveClock().sleep(self.delay_s)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        self.got.append(await request.json())
        self.event.set()
        return web.json_response({"ok": True})

    async def wait(self, n: int, timeout_s: float = 5.0) -> None:
        async def until() -> None:
            while len(self.got) < n:
                self.event.clear()
                await self.event.wait()

        await LiveClock().wait_for(until(), timeout_s)


@asynccontextmanager
async def receiver(**kw: Any) -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver(**kw)
    app = web.Application()
    app.router.add_post("/{tail:.*}", r.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield r, f"http://127.0.0.1:{port}/bot{SECRET}/sendMessage"
    finally:
        await runner.cleanup()


def _alert(key: str = "kill:all", ts: int = 0, count: int = 1) -> Alert:
    return Alert(key, "kill", "critical", "kill switch latched (all)", "operator", "", ts, count)


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("json", lambda p: p["kind"] == "kill" and p["count"] == 1 and p["source"] == "trader"),
        ("slack", lambda p: set(p) == {"text"} and "kill switch latched" in p["text"]),
        ("telegram", lambda p: p["chat_id"] == "-100" and "CRITICAL" in p["text"]),
    ],
)
def test_payload_formats_reach_the_receiver(fmt: str, check: Callable[[dict[str, Any]], bool]) -> None:
    async def go() -> None:
        async with receiver() as (r, url):
            sender = Sender(url, AlertSettings(format=fmt, telegram_chat_id="-100", **FAST))  # type: ignore[arg-type]
            sender.submit(_alert())
            await r.wait(1)
            await sender.close()
            assert check(r.got[0]), r.got[0]
            assert sender.sent == 1

    asyncio.run(go())


def test_retries_then_delivers_and_never_logs_the_url(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Sender:
        async with receiver(fail_first=2) as (r, url):
            sender = Sender(url, AlertSettings(retries=3, **FAST))  # type: ignore[arg-type]
            with caplog.at_level(logging.WARNING, "trader.alerts"):
                sender.submit(_alert())
                await r.wait(1)
                await sender.close()
            assert len(r.paths) == 3
            assert sender.sent == 1
            assert sender.failed == 0
            # out of retries: counted, logged without the URL
            r.fail_first = 10
            with caplog.at_level(logging.WARNING, "trader.alerts"):
                sender.submit(_alert("kill:sim"))
                await sender.close()
            return sender

    sender = asyncio.run(go())
    assert sender.failed == 1
    assert "HTTP 500" in caplog.text
    assert "not delivered" in caplog.text
    assert SECRET not in caplog.text
    assert "SECRET" not in repr(sender)


def test_submit_never_waits_on_delivery() -> None:
    async def go() -> None:
        async with receiver(delay_s=0.3) as (_r, url):
            sender = Sender(url, AlertSettings(queue_size=5, **FAST))  # type: ignore[arg-type]
            clock = LiveClock()
            t0 = clock.monotonic_ns()
            for i in range(8):  # a slow receiver; more than the queue holds
                sender.submit(_alert(f"kill:{i}"))
            took_ms = (clock.monotonic_ns() - t0) / 1e6
            assert took_ms < 200, took_ms  # waiting on one delivery alone would take 300 ms
            assert sender.dropped >= 2  # dropped, not waited for
            await sender.close(timeout_s=0.2)

    asyncio.run(go())


def test_a_storm_sends_one_alert_with_a_count() -> None:
    s = 1_000_000_000
    t = Throttle(300 * s)
    assert t.offer(_alert("reject_storm:okx", 0, count=5)) is not None
    for i in range(1, 40):
        assert t.offer(_alert("reject_storm:okx", i * s)) is None  # held, counted
    assert t.flush(100 * s) == []  # not before the interval is over
    (summary,) = t.flush(300 * s)
    assert summary.count == 39
    assert "39 since the last alert" in summary.text
    assert t.flush(900 * s) == []
    assert t.offer(_alert("kill:all", 1)) is not None  # another subject is not held


def test_settings() -> None:
    with pytest.raises(ConfigError, match="format"):
        AlertSettings(format="email")
    with pytest.raises(ConfigError, match="telegram_chat_id"):
        AlertSettings(format="telegram")
    from trader.config import parse_config

    cfg = parse_config('[alerts]\nwebhook = "env:TRADER_ALERT_WEBHOOK"\nformat = "slack"\nreject_storm = 3\n')
    assert cfg.monitoring is not None
    assert cfg.monitoring.alerts.reject_storm == 3
    assert "TRADER_ALERT_WEBHOOK" in repr(cfg.monitoring.webhook)
    with pytest.raises(ConfigError, match="reference"):
        parse_config('[alerts]\nwebhook = "https://hooks.example/T000/B000/XXX"\n')  # a value, not a ref


def test_the_engine_raises_alerts(tmp_path: Any) -> None:
    """Kill, ban, reject storm, reconciliation refusal, venue down, daily-loss latch: each one alert,
    through the observer interface, while the session runs."""

    async def go() -> list[dict[str, Any]]:
        async with receiver() as (r, url):
            session = PaperSession(PaperConfig(duration_s=1, journal=tmp_path / "j.db"))
            engine = session.engine
            sender = Sender(url, AlertSettings(venue_down_s=5, reject_storm=3, **FAST))  # type: ignore[arg-type]
            watch = AlertWatch(engine, sender)
            engine.ledger.observers.add(watch)
            await session.start()
            v = engine.venues["sim"]
            assert engine.gate is not None
            for i in range(4):  # a reject storm: one alert with the count, the 4th is held
                order = oms.Order(f"abcdefmm{i + 1}", "sim", "BTCUSDT", Side.BUY, 1, 1, strategy="mm")
                watch.on_order(order, oms.Rejected("no"), engine.clock.now_ns())
            engine._venue_error(v, BannedError("418", venue="sim", code="418"))
            v.failed = "reconciliation refused: positions differ"
            engine.handle(StreamStatus(Stream.MARKET, False, "test", ts_recv=engine.clock.now_ns()))
            session.clock.advance(6 * 1_000_000_000)
            engine.gate.set_trading_state(TradingState.REDUCING)
            await engine.on_timer()
            await engine.on_timer()  # conditions still holding: no second alert
            await engine.kill("test kill")
            await r.wait(6)
            await sender.close()
            await engine.shutdown()
            return r.got

    got = asyncio.run(go())
    kinds = sorted(p["kind"] for p in got)
    assert kinds == ["ban", "daily_loss", "kill", "reconciliation", "reject_storm", "venue_down"], got
    storm = next(p for p in got if p["kind"] == "reject_storm")
    assert storm["count"] == 3
    assert storm["venue"] == "sim"
    for p in got:
        assert SECRET not in str(p)
        assert payload(_alert(), AlertSettings())["source"] == "trader"


def test_the_webhook_is_resolved_before_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from trader.config import parse_config
    from trader.monitoring.session import monitor_for

    cfg = parse_config('[alerts]\nwebhook = "env:TRADER_TEST_WEBHOOK"\n').monitoring
    monkeypatch.delenv("TRADER_TEST_WEBHOOK", raising=False)
    with pytest.raises(ConfigError, match="TRADER_TEST_WEBHOOK"):
        monitor_for(cfg)
    monkeypatch.setenv("TRADER_TEST_WEBHOOK", "not a url")
    with pytest.raises(ConfigError, match="http") as refused:
        monitor_for(cfg)
    assert "not a url" not in str(refused.value)  # the value is never repeated back
    monkeypatch.setenv("TRADER_TEST_WEBHOOK", f"https://api.telegram.org/bot{SECRET}/sendMessage")
    monitor = monitor_for(cfg)
    assert monitor.webhook_url is not None
    assert SECRET not in repr(monitor)
