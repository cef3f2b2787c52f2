"""IBKR's market data with no hop (issue 18): ib_async decodes in its socket's read callback and emits
`pendingTickersEvent` there; with the engine waiting (`_events.DIRECT`), every new top, and the book
invalidation of a lost data farm, reaches the engine in that call (no task, no trip through the event
loop). Nothing goes through the queue (only the private stream's return, after the reconciliation
task, is handed over from a task). An order's answer wakes the `submit` or `cancel` waiting for it in
the read that brought it, not on a later look."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

from tests.helpers import stand_in_pump
from tests.venues.ibkr.harness import CLOCK, approve, cents, next_of, run
from trader.clock import SimClock
from trader.core import Side
from trader.sim.ibkr import IbkrSimServer
from trader.venues.base import BookInvalid, BookUpdate
from trader.venues.ibkr import IbkrConnector

STEP_NS = 100_000_000


async def settle(cond: Callable[[], object], timeout_s: float = 3.0) -> None:
    async def wait() -> None:
        while not cond():
            await CLOCK.sleep(0.005)

    await CLOCK.wait_for(wait(), timeout_s)


def test_tops_and_a_lost_farm_reach_the_engine_in_the_read() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await next_of(conn, BookUpdate, lambda e: e.instrument == "SPY")  # subscribed
        while not conn._queue.empty():
            conn._queue.get_nowait()
        stack = AsyncExitStack()
        seen = stand_in_pump(conn, stack)
        try:
            await CLOCK.sleep(0.01)  # the engine waits
            delivered = conn._queue.delivered
            while sum(isinstance(e, BookUpdate) for e, _ in seen) < 6:
                server.step(STEP_NS)
                await CLOCK.sleep(0.005)
            server.drop_farm()
            await settle(lambda: any(isinstance(e, BookInvalid) for e, _ in seen))
            n = len(seen)
            server.restore_farm(data_lost=False)
            await settle(lambda: any(isinstance(e, BookUpdate) for e, _ in seen[n:]))
        finally:
            await stack.aclose()
        market = [(type(e).__name__, direct) for e, direct in seen if isinstance(e, BookUpdate | BookInvalid)]
        assert all(direct for _, direct in market), market
        assert conn._queue.delivered - delivered == len(seen)
        assert {e.instrument for e, _ in seen if isinstance(e, BookInvalid)} == {"SPY", "QQQ"}

    run(test)


def test_an_order_s_answer_wakes_submit_and_cancel_in_the_read() -> None:
    """On a clock that never moves, `_until`'s own look every 2 ms never comes: only the answer's read
    can end the wait."""

    async def go() -> None:
        server = IbkrSimServer(seed=3, step_ms=0)
        await server.start()
        conn = IbkrConnector(clock=SimClock(), port=server.port, client_id=11, instruments=["SPY"])
        try:
            await CLOCK.wait_for(conn.connect(), 5)
            spec, (bid, _) = conn.trading_spec("SPY"), server.top("SPY")
            a = approve(spec, "SPY", Side.BUY, cents(bid) - 25, 30)
            ack = await CLOCK.wait_for(conn.submit(a, "d-1", "SPY"), 3)
            assert int(ack.venue_order_id) > 0
            await CLOCK.wait_for(conn.cancel("d-1"), 3)
            assert conn._trades["d-1"].orderStatus.status == "Cancelled"
            assert not conn._news
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())
