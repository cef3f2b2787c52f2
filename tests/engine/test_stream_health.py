"""A venue's stream dropped at the simulator, end to end in real time: the connector reports it, the engine
halts that venue and cancels there, and once the stream is back and resynchronised it trades again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from trader.clock import LiveClock
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.paper import demo_market_maker
from trader.sim.spot import SpotSimServer
from trader.venues.registry import loopback_connector


def test_a_dropped_private_stream_halts_the_venue_then_it_resumes(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        clock = LiveClock()
        server = SpotSimServer(seed=4)
        await server.start()
        connector = loopback_connector(server.url, symbol="BTCUSDT", clock=clock)
        engine = Engine(
            connector,
            demo_market_maker(),
            journal=Journal(":memory:"),
            clock=clock,
            config=EngineConfig(symbol="BTCUSDT"),
        )
        marks: dict[str, int] = {}
        started = clock.monotonic_ns()

        def tick(e: Engine) -> None:
            elapsed = (clock.monotonic_ns() - started) / 1e9
            v = e.primary
            if "cut" not in marks and elapsed > 1.5 and v.orders > 0:
                marks["cut"] = server.drop_streams("/ws-api/")
                marks["orders_at_cut"] = v.orders

        try:
            summary = await engine.run(duration_s=5.0, on_tick=tick)
        finally:
            await connector.close()
            await server.stop()
        assert marks.get("cut", 0) >= 1, "no private stream to cut"
        assert summary.disconnects >= 1, "the engine never heard the stream was down"
        said = [r.getMessage() for r in caplog.records if r.name == "trader.engine"]
        down = next(i for i, m in enumerate(said) if "private stream down" in m and "HALTED" in m)
        back = next(i for i, m in enumerate(said) if "resynchronised, trading resumes" in m)
        assert down < back
        assert summary.orders > marks["orders_at_cut"], "it did not trade again after the stream came back"
        assert summary.open_orders_after_shutdown == 0
        assert summary.failure == ""
        assert summary.venues["sim"]["state"] == "ACTIVE"

    caplog.set_level(logging.WARNING, logger="trader.engine")
    asyncio.run(go())
