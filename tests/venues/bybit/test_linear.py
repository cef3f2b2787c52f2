"""Bybit linear perpetuals against the simulator: contract rules, a taking order opens a position that
`positions()` reads, a reduce-only order closes it (and one with nothing to reduce is refused), and the
periodic funding settlement reaches `funding_since` as payments (longs pay a positive rate)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Approval, Side, TimeInForce
from trader.errors import InvalidOrderError
from trader.sim.bybit import BybitSimServer
from trader.venues.base import BookUpdate, FillReport
from trader.venues.bybit import LINEAR_CAPABILITIES, BybitConnector, loopback


def _approve(conn: BybitConnector, side: Side, price: int, qty: int) -> Approval:
    return gate_approval(
        conn.trading_spec(), "BTCUSDT", side, price, qty, bid=price - 10, ask=price + 10,
        now_ns=conn.clock.now_ns(), tif=TimeInForce.IOC,
    )  # fmt: skip


async def _top(conn: BybitConnector) -> BookUpdate:
    async def wait() -> BookUpdate:
        async for ev in conn.events():
            if isinstance(ev, BookUpdate) and ev.bid is not None and ev.ask is not None:
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), 3.0)


async def _linear() -> None:
    clock = LiveClock()
    server = BybitSimServer(seed=4, step_ms=20, clock=clock, funding_interval_s=0.3)
    await server.start(port=0)
    conn = loopback(server.url, symbol="BTCUSDT", clock=clock, market="linear", poll_s=0.1)
    try:
        await conn.connect()
        assert conn.capabilities == LINEAR_CAPABILITIES
        assert conn.capabilities.reduce_only
        info = await conn.instrument_info("BTCUSDT")
        assert (info.tick_size, info.lot_size, info.min_qty, info.min_notional) == (
            "0.10",
            "0.001",
            "0.001",
            "5",
        )
        start = conn.venue_now_ms() * 1_000_000
        top = await _top(conn)
        assert top.ask is not None
        await conn.submit(_approve(conn, Side.BUY, top.ask + 100, 5), "lin-open", "BTCUSDT")
        assert (await conn.positions())["BTCUSDT"] == 5  # 0.005 BTC long
        await clock.sleep(0.5)  # the simulator settles funding every 0.3 s here
        funding = await conn.funding_since(start)
        assert funding, "a settlement while long"
        assert all(f.amount < 0 for f in funding)  # a positive rate: longs pay
        assert all(f.instrument == "BTCUSDT" and f.funding_id for f in funding)
        assert sum(f.amount for f in funding) < Decimal(0)
        assert all(f.funding_id.startswith("funding-") for f in funding)
        assert all(isinstance(x, FillReport) for x in await conn.fills_since(start))
        top = await _top(conn)
        assert top.bid is not None
        params = dict(conn.order_params(_approve(conn, Side.SELL, top.bid - 100, 5), "lin-close"))
        assert params["positionIdx"] == 0
        # the gate marks reduce-only from the engine's position; the wire field is sent as Bybit names it
        await conn._signed("POST", "/v5/order/create", [*params.items(), ("reduceOnly", True)], mutating=True)
        assert (await conn.positions())["BTCUSDT"] == 0
        with pytest.raises(InvalidOrderError):
            await conn._signed(
                "POST", "/v5/order/create", [*params.items(), ("reduceOnly", True)], mutating=True
            )
    finally:
        await conn.close()
        await server.stop()


def test_linear_position_reduce_only_and_funding() -> None:
    asyncio.run(_linear())
