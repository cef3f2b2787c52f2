"""The Bybit connector against the loopback Bybit simulator: instrument rules, a resting order found by
orderLinkId and cancelled, a taking order's fill and then its closing report from the private stream (the
default: with the stream on, this test once missed the closing report), the book stream (a gap resyncs),
typed retCode errors and the limit-status headers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Approval, BybitSigner, OrderType, Side, TimeInForce
from trader.errors import AuthenticationError, InsufficientFundsError, OrderNotFoundError
from trader.sim.bybit import DEMO_KEY, BybitSimServer
from trader.venues.base import BookInvalid, BookUpdate, FillReport, OrderReport, OrderState, VenueEvent
from trader.venues.bybit import BybitConnector, Endpoints, loopback_connector

E = TypeVar("E", bound=VenueEvent)


def sync(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    @functools.wraps(fn)
    def run() -> None:
        asyncio.run(fn())

    return run


@asynccontextmanager
async def venue(**kw: object) -> AsyncIterator[tuple[BybitSimServer, BybitConnector]]:
    clock = LiveClock()
    server = BybitSimServer(seed=5, step_ms=20, clock=clock)
    await server.start(port=0)
    conn = loopback_connector(server.url, symbol="BTCUSDT", clock=clock, poll_s=0.1, **kw)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


def approve(
    conn: BybitConnector,
    side: Side,
    price: int,
    qty: int,
    *,
    tif: TimeInForce = TimeInForce.GTC,
    order_type: OrderType = OrderType.LIMIT,
    post_only: bool = False,
) -> Approval:
    ref = price or 5_000_000
    return gate_approval(
        conn.trading_spec(), "BTCUSDT", side, price, qty, bid=ref - 100, ask=ref + 100,
        now_ns=conn.clock.now_ns(), order_type=order_type, tif=tif, post_only=post_only,
    )  # fmt: skip


def watch_limit_folds(conn: BybitConnector) -> list[tuple[int, int]]:
    """(used by the answer's headers, used by the local order quota) at each fold of `X-Bapi-Limit*`.

    The quota's windows are fixed seconds, so usage read later can already be in the next window
    (a CI run read 0); read right after the fold, at the instant the fold used (the quota's clock
    never goes back, so `now=0` means "the last instant it saw")."""
    seen: list[tuple[int, int]] = []
    fold = conn._fold_limits

    def spy(headers: Mapping[str, str]) -> None:
        fold(headers)
        limit, remaining = headers.get("x-bapi-limit", ""), headers.get("x-bapi-limit-status", "")
        if limit.isdigit() and remaining.isdigit():
            seen.append((int(limit) - int(remaining), conn._limiter.usage(conn._quota, 0)[0][1]))

    conn._fold_limits = spy  # type: ignore[method-assign]
    return seen


async def next_of(conn: BybitConnector, kind: type[E], where: Callable[[E], bool] = lambda _: True) -> E:
    async def wait() -> E:
        async for ev in conn.events():
            if isinstance(ev, kind) and where(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), 3.0)


@sync
async def test_rules_time_and_a_resting_order_cancelled_by_link_id() -> None:
    async with venue() as (_server, conn):
        info = await conn.instrument_info("BTCUSDT")
        assert (info.tick_size, info.lot_size, info.min_qty, info.min_notional) == (
            "0.01",
            "0.000001",
            "0.000048",
            "1",
        )
        vt = await conn.venue_time()
        assert abs(vt.ts_ns - conn.clock.now_ns()) < 1_000_000_000
        top = await next_of(conn, BookUpdate, lambda b: b.bid is not None)
        assert top.bid is not None
        price = top.bid - 50_000  # 500 USDT below the bid
        ack = await conn.submit(approve(conn, Side.BUY, price, 1000), "c-rest-1", "BTCUSDT")
        assert ack.venue_order_id
        q = await conn.query("c-rest-1")
        assert q is not None
        assert (q.state, q.price, q.qty, q.filled) == (OrderState.OPEN, price, 1000, 0)
        assert [r.client_id for r in await conn.open_orders()] == ["c-rest-1"]
        await conn.cancel("c-rest-1")
        report = await next_of(conn, OrderReport, lambda r: r.state is OrderState.CANCELED)
        assert report.client_id == "c-rest-1"
        with pytest.raises(OrderNotFoundError):
            await conn.cancel("c-rest-1")
        assert await conn.query("never-sent") is None
        assert await conn.funding_since(0) == []


@sync
async def test_a_taking_order_fills_and_moves_the_position() -> None:
    async with venue() as (_server, conn):
        before = (await conn.positions())["BTCUSDT"]
        top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
        assert top.ask is not None
        await conn.submit(
            approve(conn, Side.BUY, top.ask + 10_000, 500, tif=TimeInForce.IOC), "c-take-1", "BTCUSDT"
        )
        fill = await next_of(conn, FillReport)
        assert (fill.client_id, fill.side, fill.maker) == ("c-take-1", Side.BUY, False)
        assert fill.fee > 0
        done = await next_of(conn, OrderReport, lambda r: r.state is not OrderState.OPEN)
        assert done.filled == 500
        assert done.state is OrderState.FILLED
        assert (await conn.positions())["BTCUSDT"] == before + 500
        assert [f.trade_id for f in await conn.fills_since(0)] == [fill.trade_id]


@sync
async def test_cancel_all_and_typed_errors() -> None:
    async with venue() as (server, conn):
        top = await next_of(conn, BookUpdate, lambda b: b.bid is not None)
        assert top.bid is not None
        for i in range(2):
            await conn.submit(approve(conn, Side.BUY, top.bid - 40_000, 1000), f"c-all-{i}", "BTCUSDT")
        assert await conn.cancel_all("BTCUSDT") == 2
        assert await conn.open_orders() == []
        with pytest.raises(InsufficientFundsError):
            await conn.submit(approve(conn, Side.SELL, top.bid + 40_000, 50_000_000), "c-poor", "BTCUSDT")
        bad = BybitConnector(symbol="BTCUSDT", signer=BybitSigner("bybit-sim-key", "wrong"),
                             endpoints=Endpoints.loopback(server.url), clock=conn.clock)  # fmt: skip
        try:
            with pytest.raises(AuthenticationError):
                await bad.open_orders()
        finally:
            await bad.close()


@sync
async def test_a_book_gap_is_invalid_and_resyncs() -> None:
    async with venue() as (server, conn):
        await next_of(conn, BookUpdate)
        snapshots = server.snapshots
        server.faults.sequence_gap = True
        await next_of(conn, BookInvalid)
        await next_of(conn, BookUpdate)
        assert server.snapshots == snapshots + 1
        assert conn.public is not None
        assert conn.public.resyncs == 1


@sync
async def test_limit_status_headers_fold_into_the_local_limiter() -> None:
    async with venue(market_data=False) as (server, conn):
        # another bot on the same account spent 5 of the UID's cancel-all limit this second
        server._calls[(DEMO_KEY, "/v5/order/cancel-all")] = [server._now_ms()] * 5
        folds = watch_limit_folds(conn)
        await conn.cancel_all("BTCUSDT")
        assert [header for header, _ in folds] == [6], "the answer carried X-Bapi-Limit headers"
        assert folds[0][1] >= 6, f"the venue's count, not only our one call, is in the limiter: {folds}"


@sync
async def test_fills_since_reads_every_page() -> None:
    from trader.venues.bybit import endpoints

    async with venue(market_data=True) as (_server, conn):
        top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
        assert top.ask is not None
        for i in range(3):
            a = approve(conn, Side.BUY, top.ask + 10_000, 500, tif=TimeInForce.IOC)
            await conn.submit(a, f"c-page-{i}", "BTCUSDT")
        whole = await conn.fills_since(0)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(endpoints, "EXECUTIONS_PAGE", 1)
            paged = await conn.fills_since(0)
        assert len(whole) >= 3
        assert [f.trade_id for f in paged] == [f.trade_id for f in whole]
        assert {f.client_id for f in paged} == {"c-page-0", "c-page-1", "c-page-2"}


@sync
async def test_amend_moves_a_resting_order_and_is_reported() -> None:
    async with venue() as (_server, conn):
        top = await next_of(conn, BookUpdate, lambda b: b.bid is not None)
        assert top.bid is not None
        first, second = top.bid - 60_000, top.bid - 70_000
        await conn.submit(approve(conn, Side.BUY, first, 1000), "c-amend", "BTCUSDT")
        await next_of(conn, OrderReport, lambda r: r.client_id == "c-amend" and r.price == first)
        await conn.amend("c-amend", price=second, qty=2000)
        moved = await next_of(conn, OrderReport, lambda r: r.client_id == "c-amend" and r.price == second)
        assert (moved.qty, moved.state) == (2000, OrderState.OPEN)
        await conn.cancel("c-amend")
        with pytest.raises(OrderNotFoundError):
            await conn.amend("c-amend", price=first)
