"""Through the engine, for every venue against its simulator:

- F-ORD-04/05/06: the fill reaches us before the order's acknowledgement, then the same fill again (the
  private stream, then the REST catch-up after a reconnect): counted once, position = the venue's;
- restart reconciliation: a journal from a previous engine run; a new engine reconciles with the venue
  and trades; a position made outside the journal is a mismatch (the engine refuses to trade).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.engine_kit import Idle, TakeOnce, engine, run_engine, stop_after_fill
from tests.conformance.harness import WALL, Harness, Live, Need, next_event, until
from trader.core import Side, TimeInForce
from trader.engine.engine import Engine
from trader.engine.journal import Journal
from trader.errors import ReconciliationError
from trader.venues.base import FillReport

# ---- F-ORD-04/05/06 -------------------------------------------------------------------------------


async def take_once_through(h: Harness, late_ack: bool) -> None:
    """The engine buys through the ask once. With `late_ack`, the venue processes the order and its fill
    goes out on the private stream while the REST answer comes 300 ms later. Then every stream is cut:
    the reconnect's catch-up (REST, or the Gateway's executions) re-delivers the same fill."""
    async with h.open(connected=False) as live:
        conn = live.conn  # the engine's: it connects it
        start = await h.probe_position(live)
        sent = h.order_requests(live)
        if late_ack:
            h.delay_order_acks(live, 300)
        strategy = TakeOnce(live.symbol, h.take_qty(live), h.take_ticks * live.spec.tick)

        async def during(e: Engine) -> None:
            await until(lambda: e.summary.fills >= 1, what="the fill")
            if late_ack:
                await WALL.sleep(0.35)  # the late answer arrives
                h.clear_faults(live)
            up = h.streams(live)
            assert up > 0
            await h.cut_streams(live)  # every stream drops; reconnect + catch-up
            await until(lambda: h.streams(live) >= up, what="the streams back")
            await WALL.sleep(0.3)  # the catch-up's answer
            e.stop()

        try:
            e = await run_engine(engine(h, live, conn, strategy, Journal(":memory:")), 6.0, during)
            mine = [f for f in await conn.fills_since(0) if f.client_id in e.ledger.orders]
            position = await h.position(live)
        finally:
            await conn.close()
        assert mine, "the marketable order should have filled"
        filled = sum(f.qty for f in mine)
        assert e.summary.fills == len(mine)
        assert e.summary.overfills == 0
        assert position - start == filled
        assert e.gate is not None
        gate_id = e.instruments[live.symbol].gate_id
        assert e.gate.position(gate_id) == filled
        assert h.order_requests(live) == sent + 1
        for f in mine:  # and each fill once more, whether or not this venue's catch-up repeated it
            e.handle(f)
        assert (e.summary.fills, e.gate.position(gate_id)) == (len(mine), filled)


@pytest.mark.parametrize("case", venues(Need.LATE_ACK, Need.IOC))
def test_fill_before_ack_and_a_duplicate_fill_count_once(case: Case) -> None:
    case.run(lambda h: take_once_through(h, late_ack=True))


@pytest.mark.parametrize("case", venues(Need.IOC))
def test_a_fill_heard_again_after_a_reconnect_counts_once(case: Case) -> None:
    case.run(lambda h: take_once_through(h, late_ack=False))


# ---- restart reconciliation -----------------------------------------------------------------------


async def session(h: Harness, live: Live, path: Path, strategy: object, seconds: float) -> Engine:
    """One engine run on the journal at `path`, on a connector of its own (stopped after its first fill
    when the strategy trades)."""
    if h.rate_window_per_second:  # a restart comes in the venue's next rate-limit second (see Harness)
        await WALL.sleep(1.0 - (WALL.now_ns() % 1_000_000_000) / 1e9)
    conn, journal = h.connect_again(live), Journal(path)
    during = stop_after_fill if isinstance(strategy, TakeOnce) else None
    try:
        return await run_engine(engine(h, live, conn, strategy, journal), seconds, during)
    finally:
        await conn.close()
        journal.close()


async def trade_outside_the_journal(h: Harness, live: Live) -> int:
    """A fill on the account that no journal knows of (another program, the venue's web page)."""
    conn = h.connect_again(live)
    try:
        await conn.connect()
        top = await h.top(live, conn)
        await h.provide_liquidity(live, top)
        a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live), tif=TimeInForce.IOC)
        await conn.submit(a, "outside-1", live.symbol)
        fill = await next_event(conn, lambda e: isinstance(e, FillReport) and e.client_id == "outside-1")
        return int(fill.qty)
    finally:
        await conn.close()


async def refused_start(h: Harness, live: Live, path: Path) -> None:
    if h.rate_window_per_second:  # a restart comes in the venue's next rate-limit second (see Harness)
        await WALL.sleep(1.0 - (WALL.now_ns() % 1_000_000_000) / 1e9)
    conn, journal = h.connect_again(live), Journal(path)
    try:
        with pytest.raises(ReconciliationError, match="position"):
            await engine(h, live, conn, Idle(), journal).start()
    finally:
        await conn.close()
        journal.close()


async def restart(h: Harness, path: Path) -> None:
    async with h.open(connected=False) as live:
        ticks = h.take_ticks * live.spec.tick
        first = await session(h, live, path, TakeOnce(live.symbol, h.take_qty(live), ticks), 6.0)
        assert first.summary.fills >= 1, "the first run traded"
        # a new process on the same journal: reconciles, then trades
        second = await session(h, live, path, TakeOnce(live.symbol, h.take_qty(live), ticks), 6.0)
        assert second.summary.orders == 1
        assert second.summary.fills >= 1
        third = await session(h, live, path, Idle(), 0.3)  # and again, on the second run's fills
        assert third.summary.orders == 0
        assert await trade_outside_the_journal(h, live) > 0
        await refused_start(h, live, path)


@pytest.mark.parametrize("case", venues(Need.IOC))
def test_restart_reconciles_and_trades_and_refuses_a_position_outside_the_journal(
    case: Case, tmp_path: Path
) -> None:
    case.run(lambda h: restart(h, tmp_path / "journal.db"))
