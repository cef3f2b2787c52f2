"""The Binance spot connector against the loopback simulator: orders, private stream, book sync, faults,
and the engine trading through it in real time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Approval, InstrumentSpec, Side, TimeInForce
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.paper import demo_market_maker
from trader.errors import InvalidOrderError, OrderNotFoundError, UnknownOutcomeError
from trader.sim.spot import SpotSimServer
from trader.venues.base import BookInvalid, BookUpdate, Connector, FillReport, OrderReport, OrderState
from trader.venues.binance import BinanceConnector
from trader.venues.registry import loopback_connector

CLOCK = LiveClock()


@asynccontextmanager
async def venue(**kw: object) -> AsyncIterator[tuple[SpotSimServer, BinanceConnector]]:
    server = SpotSimServer(seed=11, step_ms=20)
    await server.start(port=0)
    conn = loopback_connector(server.url, symbol="BTCUSDT", clock=CLOCK)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


def approve(
    spec: InstrumentSpec,
    side: Side,
    price: int,
    qty: int,
    post_only: bool = True,
    tif: TimeInForce = TimeInForce.GTC,
) -> Approval:
    now = CLOCK.now_ns()
    return gate_approval(
        spec, "BTCUSDT", side, price, qty, bid=price, ask=price + 1, now_ns=now, tif=tif, post_only=post_only
    )


async def next_of(conn: BinanceConnector, kind: type, timeout: float = 5.0) -> object:
    async def wait() -> object:
        async for ev in conn.events():
            if isinstance(ev, kind):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


def test_contract_orders_and_private_stream() -> None:
    async def go() -> None:
        async with venue() as (_server, conn):
            assert isinstance(conn, Connector)
            info = await conn.instrument_info("BTCUSDT")
            assert (info.tick_size, info.lot_size, info.min_notional) == ("0.01", "0.001", "5")
            spec = conn.trading_spec()
            top = await next_of(conn, BookUpdate)
            assert isinstance(top, BookUpdate)
            assert top.bid is not None
            assert top.ask is not None
            assert top.bid < top.ask
            price = top.bid - 300
            ack = await conn.submit(approve(spec, Side.BUY, price, 20), "c-1", "BTCUSDT")
            assert ack.venue_order_id
            report = await next_of(conn, OrderReport)
            assert isinstance(report, OrderReport)
            assert (report.client_id, report.state, report.price, report.qty) == (
                "c-1",
                OrderState.OPEN,
                price,
                20,
            )
            q = await conn.query("c-1")
            assert q is not None
            assert q.state is OrderState.OPEN
            assert [r.client_id for r in await conn.open_orders()] == ["c-1"]
            await conn.cancel("c-1")
            with pytest.raises(OrderNotFoundError):
                await conn.cancel("c-1")
            assert await conn.query("never") is None
            with pytest.raises(InvalidOrderError, match="immediately match"):
                await conn.submit(approve(spec, Side.BUY, top.ask, 20), "c-2", "BTCUSDT")
            # a taking order: fills arrive on the private stream and by REST
            before = (await conn.positions())["BTCUSDT"]
            a = approve(spec, Side.BUY, top.ask + 200, 5, post_only=False)
            await conn.submit(a, "c-3", "BTCUSDT")
            fill = await next_of(conn, FillReport)
            assert isinstance(fill, FillReport)
            assert fill.client_id == "c-3"
            assert fill.fee > 0
            assert not fill.maker
            fills = [f for f in await conn.fills_since(0) if f.client_id == "c-3"]
            assert sum(f.qty for f in fills) == 5
            assert (await conn.positions())["BTCUSDT"] == before + 5
            assert await conn.cancel_all() == 0

    asyncio.run(go())


def test_dropped_order_response_is_an_unknown_outcome_and_the_order_exists() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            top = await next_of(conn, BookUpdate)
            assert isinstance(top, BookUpdate)
            assert top.bid is not None
            server.faults.drop_response_rate = 1.0
            with pytest.raises(UnknownOutcomeError):
                await conn.submit(approve(conn.trading_spec(), Side.BUY, top.bid - 300, 20), "u-1", "BTCUSDT")
            server.faults.drop_response_rate = 0.0
            report = await conn.query("u-1")
            assert report is not None
            assert report.state is OrderState.OPEN

    asyncio.run(go())


def test_sequence_gap_and_disconnect_invalidate_then_resync_the_book() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            await next_of(conn, BookUpdate)
            server.faults.sequence_gap = True
            invalid = await next_of(conn, BookInvalid)
            assert isinstance(invalid, BookInvalid)
            assert "sequence" in invalid.reason
            again = await next_of(conn, BookUpdate)
            assert isinstance(again, BookUpdate)
            assert again.bid is not None
            await server.close_sockets()
            invalid = await next_of(conn, BookInvalid)
            assert isinstance(invalid, BookInvalid)
            resynced = await next_of(conn, BookUpdate)
            assert isinstance(resynced, BookUpdate)
            book = conn.book
            assert book is not None
            bids, _ = server.engine.depth(1)
            best = book.best_bid()
            assert best is not None
            assert abs(best[0] - bids[0][0]) < 200

    asyncio.run(go())


def test_engine_trades_through_the_network_and_shuts_down_clean() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            engine = Engine(
                conn,
                demo_market_maker(),
                journal=Journal(":memory:"),
                clock=CLOCK,
                config=EngineConfig(timer_ms=100),
            )
            summary = await engine.run(3.0)
            assert summary.orders > 0
            assert summary.open_orders_after_shutdown == 0
            state = server.state()["sim-demo-key"]
            assert all(n == 1 for n in state["submissions"].values()), "no client order id sent twice"
            live = [o for o in state["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]
            assert live == []
            for o in state["orders"]:  # journal and venue agree
                mine = engine.ledger.orders[o["clientOrderId"]]
                assert Decimal(o["executedQty"]) == Decimal(mine.filled) * Decimal("0.001")

    asyncio.run(go())
