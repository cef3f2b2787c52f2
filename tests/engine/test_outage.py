"""A venue outage (every order request answered 5xx) and the restart after it (issue 13, defect 2): a
cancel that fails leaves an UNKNOWN order UNKNOWN (never ACCEPTED), and the restart resolves the orders
the venue never received to REJECTED and trades. In real time against the loopback simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.engine.rig import T0, Rig, run, status
from trader.clock import LiveClock
from trader.core import Side
from trader.engine import oms
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.paper import INSTRUMENT, demo_market_maker
from trader.errors import ReconciliationError, VenueError, VenueUnavailableError
from trader.sim.binance import BinanceSimServer
from trader.sim.faults import Faults
from trader.venues.registry import loopback_connector


async def _session(url: str, journal: Path, seconds: float, config: EngineConfig) -> Engine:
    clock = LiveClock()
    connector = loopback_connector(url, symbol=INSTRUMENT, clock=clock)
    j = Journal(journal)
    engine = Engine(connector, demo_market_maker(), journal=j, clock=clock, config=config)
    try:
        await engine.run(seconds)
    finally:
        await connector.close()
        j.close()
    return engine


def test_shutdown_during_an_outage_then_restart_trades(tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    config = EngineConfig(symbol=INSTRUMENT, never_received_after_s=1.0)  # a short window: a quick test

    async def go() -> None:
        server = BinanceSimServer(seed=3, clock=LiveClock(), venue="sim", symbol=INSTRUMENT)
        await server.start(port=0)
        try:
            server.faults = Faults(error_5xx_rate=1.0)
            first = await _session(server.url, journal, 1.5, config)
            unknown = [o for o in first.ledger.orders.values() if o.venue_order_id is None and o.is_live]
            assert first.summary.unknown_outcomes > 0
            assert all(o.status is not oms.OrderStatus.ACCEPTED for o in first.ledger.orders.values())
            assert unknown, "the outage left orders whose outcome is unknown"
            server.faults = Faults()
            second = await _session(server.url, journal, 1.0, config)  # raised ReconciliationError
            for o in unknown:
                assert second.ledger.orders[o.client_id].status is oms.OrderStatus.REJECTED
            assert second.summary.orders > 0, "the restarted engine trades"
            assert second.summary.open_orders_after_shutdown == 0
        finally:
            await server.stop()

    asyncio.run(go())


def test_restart_rejects_an_order_the_venue_never_received_even_mid_cancel(tmp_path: Path) -> None:
    """The process died while canceling an order whose submit had timed out (journal: Submitted,
    OutcomeUnknown, CancelRequested). The venue never had it: the restart records it REJECTED."""
    path = tmp_path / "j.db"
    journal = Journal(path)
    order = oms.Order("mm-900", "sim", "BTCUSDT", Side.BUY, 4_990_000, 50)
    journal.record_intent(order, T0, submitted=True)
    journal.record_event(order.client_id, oms.OutcomeUnknown("timeout"), T0)
    journal.record_event(order.client_id, oms.CancelRequested(), T0)
    journal.close()

    async def go() -> None:
        rig = Rig(Journal(path))
        rig.clock.advance(60 * 1_000_000_000)
        await rig.engine.start()
        assert status(rig.engine.ledger.orders["mm-900"]) is oms.OrderStatus.REJECTED
        await rig.steps(3)
        assert rig.engine.summary.orders > 0

    run(go)


def test_restart_waits_for_the_window_before_calling_a_young_order_never_received(tmp_path: Path) -> None:
    """Restarted 5 s after an order's submit timed out: the venue may still show it (F-ORD-12), so the
    restart asks again until 30 s have passed since it was sent, then records it REJECTED."""
    path = tmp_path / "j.db"
    journal = Journal(path)
    order = oms.Order("mm-901", "sim", "BTCUSDT", Side.BUY, 4_990_000, 50)
    journal.record_intent(order, T0, submitted=True)
    journal.record_event(order.client_id, oms.OutcomeUnknown("timeout"), T0)
    journal.close()

    async def go() -> None:
        rig = Rig(Journal(path))
        rig.clock.advance(5 * 1_000_000_000)
        start = asyncio.get_running_loop().create_task(rig.engine.start())
        while not start.done():
            assert rig.clock.now_ns() <= T0 + 32 * 1_000_000_000, "the restart does not wait forever"
            rig.clock.advance(500_000_000)
            for _ in range(5):
                await rig.clock.sleep(0)
        await start
        assert rig.clock.now_ns() >= T0 + 30 * 1_000_000_000, "not before the window has passed"
        assert status(rig.engine.ledger.orders["mm-901"]) is oms.OrderStatus.REJECTED
        assert rig.venue.queries.count("mm-901") >= 3

    run(go)


async def _start_advancing(rig: Rig, limit_s: float) -> BaseException | None:
    """Start the engine while simulated time passes (its retries wait on the clock)."""
    start = asyncio.get_running_loop().create_task(rig.engine.start())
    t0 = rig.clock.now_ns()
    while not start.done():
        assert rig.clock.now_ns() - t0 <= limit_s * 1_000_000_000, "the restart does not wait forever"
        rig.clock.advance(50_000_000)
        for _ in range(5):
            await rig.clock.sleep(0)
    return start.exception()


def test_restart_retries_canceling_leftovers_with_backoff(tmp_path: Path) -> None:
    """Issue 13 defect 9: the first cancels of the orders left from before the restart fail (the venue
    is flaky); they are retried with backoff, and the restart trades."""
    path = tmp_path / "j.db"

    async def go() -> None:
        first = Rig(Journal(path), seed=4)
        await first.engine.start()
        await first.steps(50)  # ...and the process dies with quotes resting
        assert await first.venue.open_orders()
        first.engine.journal.close()
        failures = [2]

        def flaky(cid: str) -> VenueError | None:
            if failures[0] > 0:
                failures[0] -= 1
                return VenueUnavailableError("connection reset", venue="sim")
            return None

        first.venue.cancel_fault = flaky
        second = Rig(Journal(path), venue=first.venue)
        assert await _start_advancing(second, 10.0) is None
        assert await second.venue.open_orders() == []
        await second.steps(5)
        assert second.engine.summary.orders > 0

    run(go)


def test_restart_gives_up_canceling_leftovers_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def go() -> None:
        first = Rig(Journal(path), seed=4)
        await first.engine.start()
        await first.steps(50)
        left = len(await first.venue.open_orders())
        assert left
        first.engine.journal.close()
        attempts: list[int] = []

        def down(cid: str) -> VenueError | None:
            attempts.append(first.clock.now_ns())
            return VenueUnavailableError("connection refused", venue="sim")

        first.venue.cancel_fault = down
        second = Rig(Journal(path), venue=first.venue)
        t0 = second.clock.now_ns()
        error = await _start_advancing(second, 12.0)
        assert isinstance(error, ReconciliationError)
        message = str(error)
        assert "\n" not in message
        assert "could not cancel" in message
        assert "5 attempts" in message
        assert "connection refused" in message
        assert len(attempts) == 5 * left, "each leftover tried 5 times"
        assert attempts[-1] - t0 <= 10 * 1_000_000_000, "within the bound"

    run(go)
