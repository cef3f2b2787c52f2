"""The Alpaca connector against the loopback Alpaca simulator: orders, the trade_updates stream, the market
data stream, typed errors, an unknown outcome resolved by client order id, reconnect reconciliation,
rate limits and a silent feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock, ShiftedClock
from trader.core import AlpacaSigner, Approval, OrderType, Side, TimeInForce
from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
)
from trader.sim.alpaca import DEMO_KEY, AlpacaSimServer, eastern_ns
from trader.venues.alpaca import (
    CAPABILITIES,
    ENDPOINTS,
    AlpacaConnector,
    Endpoints,
    format_time,
    loopback_connector,
    parse_time,
)
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    TradeTick,
    VenueEvent,
)

OPEN = eastern_ns(2024, 1, 9, 10, 0)  # a Tuesday, 10:00 in New York
CENT = 100  # price units per cent (the connector counts 1/100 cent)
E = TypeVar("E", bound=VenueEvent)


@asynccontextmanager
async def venue(
    sim: dict[str, Any] | None = None, start_ns: int = OPEN, **kw: Any
) -> AsyncIterator[tuple[AlpacaSimServer, AlpacaConnector]]:
    clock = ShiftedClock(start_ns)
    server = AlpacaSimServer(seed=9, step_ms=20, clock=clock, **(sim or {}))
    await server.start(port=0)
    conn = loopback_connector(server.url, symbols=["SPY", "QQQ"], clock=clock, **kw)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


def approve(
    conn: AlpacaConnector,
    symbol: str,
    side: Side,
    price: int,
    qty: int,
    *,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    expire_ns: int = 0,
) -> Approval:
    ref = price or 450 * 100 * CENT
    return gate_approval(
        conn.trading_spec(), symbol, side, price, qty, bid=ref - CENT, ask=ref + CENT,
        now_ns=conn.clock.now_ns(), order_type=order_type, tif=tif, post_only=post_only, expire_ns=expire_ns,
    )  # fmt: skip


async def next_of(
    conn: AlpacaConnector, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = 3.0
) -> E:
    async def wait() -> E:
        async for ev in conn.events():
            if isinstance(ev, kind) and where(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


async def collect(
    conn: AlpacaConnector, done: Callable[[list[VenueEvent]], bool], timeout: float = 3.0
) -> list[VenueEvent]:
    """Every event until `done(events)` holds."""
    seen: list[VenueEvent] = []

    async def wait() -> list[VenueEvent]:
        async for ev in conn.events():
            seen.append(ev)
            if done(seen):
                return seen
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


def fills_of(events: list[VenueEvent], client_id: str) -> list[FillReport]:
    return [e for e in events if isinstance(e, FillReport) and e.client_id == client_id]


def reports_of(events: list[VenueEvent], client_id: str) -> list[OrderReport]:
    return [e for e in events if isinstance(e, OrderReport) and e.client_id == client_id]


async def top(conn: AlpacaConnector, symbol: str = "SPY") -> tuple[int, int]:
    book = await next_of(conn, BookUpdate, lambda b: b.instrument == symbol and b.bid is not None)
    assert book.bid is not None
    assert book.ask is not None
    return book.bid, book.ask


def test_endpoints_and_times() -> None:
    assert ENDPOINTS["paper"].trading == "https://paper-api.alpaca.markets"
    assert ENDPOINTS["live"].trade_stream == "wss://api.alpaca.markets/stream"
    assert ENDPOINTS["live"].data_stream == "wss://stream.data.alpaca.markets/v2"
    assert Endpoints.loopback("http://127.0.0.1:9/") == Endpoints(
        "http://127.0.0.1:9", "ws://127.0.0.1:9/stream", "ws://127.0.0.1:9/v2"
    )
    assert parse_time("2024-01-09T10:00:00.000000001-05:00") == OPEN + 1
    assert parse_time("2024-01-09T15:00:00Z") == OPEN
    assert format_time(OPEN + 5) == "2024-01-09T15:00:00.000000005Z"
    with pytest.raises(ValueError, match="zone"):
        parse_time("2024-01-09T15:00:00.5")
    with pytest.raises(ValueError, match="zone"):
        parse_time("2024-01-09T15:00:00")
    assert not CAPABILITIES.post_only
    with pytest.raises(ValueError, match="feed"):
        loopback_connector("http://127.0.0.1:9", symbols=["SPY"], clock=ShiftedClock(OPEN), feed="otc")


async def _a_resting_order_lifecycle(conn: AlpacaConnector) -> None:
    """Contract, top of book, a resting order's lifecycle and local refusals."""
    assert isinstance(conn, Connector)
    info = await conn.instrument_info("SPY")
    assert (info.tick_size, info.lot_size, info.quote) == ("0.01", "1", "USD")
    with pytest.raises(InvalidOrderError):
        await conn.instrument_info("AAPL")
    bid, ask = await top(conn)
    assert bid < ask
    tick = await next_of(conn, TradeTick)
    assert tick.qty > 0
    price = bid - 300 * CENT
    ack = await conn.submit(approve(conn, "SPY", Side.BUY, price, 2), "c-1", "SPY")
    new = await next_of(conn, OrderReport, lambda r: r.client_id == "c-1")
    assert (new.venue_order_id, new.state, new.price, new.qty, new.filled) == (
        ack.venue_order_id,
        OrderState.OPEN,
        price,
        2,
        0,
    )
    q = await conn.query("c-1")
    assert q is not None
    assert q.state is OrderState.OPEN
    assert [r.client_id for r in await conn.open_orders()] == ["c-1"]
    await conn.cancel("c-1")
    canceled = await next_of(conn, OrderReport, lambda r: r.client_id == "c-1")
    assert canceled.state is OrderState.CANCELED
    with pytest.raises(OrderNotFoundError):
        await conn.cancel("c-1")
    with pytest.raises(OrderNotFoundError):
        await conn.cancel("never")
    assert await conn.query("never") is None
    with pytest.raises(InvalidOrderError, match="post-only"):
        await conn.submit(approve(conn, "SPY", Side.BUY, price, 1, post_only=True), "c-x", "SPY")


async def _fills_by_stream_and_by_rest(conn: AlpacaConnector) -> int:
    """A marketable limit and a market order, positions, account and clock; the best bid before."""
    # a marketable limit and a market order: fills reach us on the stream and by REST, same ids
    bid, ask = await top(conn)
    ack2 = await conn.submit(approve(conn, "SPY", Side.BUY, ask + 20 * CENT, 5), "c-2", "SPY")
    events = await collect(conn, lambda evs: sum(f.qty for f in fills_of(evs, "c-2")) == 5)
    streamed = fills_of(events, "c-2")
    assert all(f.fee == 0 and not f.maker for f in streamed)
    assert all(ask - 50 * CENT <= f.price <= ask + 20 * CENT for f in streamed)
    assert streamed[-1].trade_id == f"{ack2.venue_order_id}:5"
    rest = [f for f in await conn.fills_since(0) if f.client_id == "c-2"]
    assert [f.trade_id for f in rest] == [f.trade_id for f in streamed]
    assert [(f.price, f.qty, f.ts_event) for f in rest] == [(f.price, f.qty, f.ts_event) for f in streamed]
    market = approve(conn, "QQQ", Side.BUY, 0, 3, order_type=OrderType.MARKET)
    await conn.submit(market, "c-3", "QQQ")
    done = await next_of(conn, OrderReport, lambda r: r.client_id == "c-3" and r.state is OrderState.FILLED)
    assert (done.filled, done.price) == (3, 0)
    assert await conn.positions() == {"SPY": 5, "QQQ": 3}
    account = await conn.account()
    assert account.status == "ACTIVE"
    assert account.cash < Decimal(100_000)
    clock = await conn.market_clock()
    assert clock.is_open
    assert clock.next_close_ns == eastern_ns(2024, 1, 9, 16, 0)
    return bid


async def _cancel_all_one_symbol_then_everything(conn: AlpacaConnector, bid: int) -> None:
    # cancel-all: one symbol, then everything
    assert await conn.cancel_all() == 0
    await conn.submit(approve(conn, "SPY", Side.BUY, bid - 400 * CENT, 1), "c-4", "SPY")
    qqq_bid, _ = await top(conn, "QQQ")
    await conn.submit(approve(conn, "QQQ", Side.BUY, qqq_bid - 400 * CENT, 1), "c-5", "QQQ")
    assert await conn.cancel_all("QQQ") == 1
    assert [r.client_id for r in await conn.open_orders()] == ["c-4"]
    assert await conn.cancel_all() == 1
    assert await conn.open_orders() == []


def test_contract_orders_stream_fills_positions_and_cancel_all() -> None:
    async def go() -> None:
        async with venue() as (_server, conn):
            await _a_resting_order_lifecycle(conn)
            bid = await _fills_by_stream_and_by_rest(conn)
            await _cancel_all_one_symbol_then_everything(conn, bid)

    asyncio.run(go())


def test_venue_errors_are_typed() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            bid, _ = await top(conn, "QQQ")
            with pytest.raises(InsufficientFundsError, match="buying power"):
                await conn.submit(approve(conn, "QQQ", Side.BUY, bid, 1000), "big", "QQQ")
            with pytest.raises(InsufficientFundsError, match="qty available"):
                await conn.submit(approve(conn, "QQQ", Side.SELL, bid + 100 * CENT, 1), "short", "QQQ")
            await conn.submit(approve(conn, "QQQ", Side.BUY, bid - 100 * CENT, 1), "dup", "QQQ")
            with pytest.raises(InvalidOrderError, match="unique") as e:
                await conn.submit(approve(conn, "QQQ", Side.BUY, bid - 100 * CENT, 1), "dup", "QQQ")
            assert e.value.code == "40010001"
            gtd = approve(
                conn, "QQQ", Side.BUY, bid - 100 * CENT, 1, tif=TimeInForce.GTD,
                expire_ns=conn.clock.now_ns() + 3_600_000_000_000,
            )  # fmt: skip
            with pytest.raises(InvalidOrderError, match="GTD"):
                await conn.submit(gtd, "gtd", "QQQ")
            with pytest.raises(TypeError, match="approvals"):
                await conn.submit(object(), "y", "QQQ")  # type: ignore[arg-type]
            with pytest.raises(InvalidOrderError, match="unknown instrument"):
                await conn.submit(approve(conn, "QQQ", Side.BUY, bid, 1), "z", "AAPL")
            bad = AlpacaConnector(
                symbols=["SPY"],
                signer=AlpacaSigner(DEMO_KEY, "wrong"),
                endpoints=Endpoints.loopback(server.url),
                clock=conn.clock,
            )
            with pytest.raises(AuthenticationError) as auth:
                await bad.connect()
            assert "wrong" not in str(auth.value)
            await bad.close()

    asyncio.run(go())


def test_dropped_response_is_an_unknown_outcome_resolved_by_client_order_id() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            bid, _ = await top(conn)
            server.faults.drop_response_rate = 1.0
            with pytest.raises(UnknownOutcomeError):
                await conn.submit(approve(conn, "SPY", Side.BUY, bid - 300 * CENT, 2), "u-1", "SPY")
            server.faults.drop_response_rate = 0.0
            report = await conn.query("u-1")
            assert report is not None
            assert (report.state, report.qty) == (OrderState.OPEN, 2)
            state = server.state()[DEMO_KEY]
            assert state["submissions"] == {"u-1": 1}
            assert [o["client_order_id"] for o in state["orders"]] == ["u-1"]
            # a 503 before processing is an unknown outcome too; the venue never saw that one
            server.faults.error_5xx_rate = 1.0
            with pytest.raises(UnknownOutcomeError):
                await conn.submit(approve(conn, "SPY", Side.BUY, bid - 300 * CENT, 1), "u-2", "SPY")
            server.faults.error_5xx_rate = 0.0
            assert await conn.query("u-2") is None
            assert server.requests["POST /v2/orders"] == 2

    asyncio.run(go())


def test_reconnect_reconciles_what_the_stream_missed() -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            bid, _ = await top(conn)
            ack = await conn.submit(approve(conn, "SPY", Side.BUY, bid, 3), "r-1", "SPY")
            await next_of(conn, OrderReport, lambda r: r.client_id == "r-1")
            assert conn.trade_stream is not None
            assert conn.trade_stream.connects == 1
            await server.close_sockets()
            # while the streams are down: another participant sells through our bid
            bids, _ = server.depth("SPY")
            our = int(server.orders[ack.venue_order_id].limit)
            server.hit("SPY", "sell", sum(q for p, q in bids if p >= our), Decimal(our) / 100)
            assert server.orders[ack.venue_order_id].status == "filled"
            events = await collect(conn, lambda evs: sum(f.qty for f in fills_of(evs, "r-1")) == 3)
            assert conn.trade_stream.connects == 2
            invalid = [e for e in events if isinstance(e, BookInvalid)]
            assert {(e.instrument, e.reason) for e in invalid} >= {
                ("SPY", "WsDisconnected"),
                ("QQQ", "WsDisconnected"),
            }
            assert reports_of(events, "r-1")[0].state is OrderState.FILLED
            assert reports_of(events, "r-1")[0].filled == 3
            fills = fills_of(events, "r-1")
            assert all(f.price == our * CENT for f in fills)
            assert fills[-1].trade_id == f"{ack.venue_order_id}:3"
            assert await conn.positions() == {"SPY": 3, "QQQ": 0}
            await top(conn)  # the data stream is back too

    asyncio.run(go())


def test_rate_limit_blocks_locally_until_the_reset() -> None:
    async def go() -> None:
        async with venue(sim={"rate_limit": 10}, market_data=False) as (server, conn):

            async def hammer() -> None:
                for _ in range(20):
                    await conn.query("nothing")

            with pytest.raises(RateLimitError) as e:
                await hammer()
            assert e.value.code == "429"
            sent = sum(server.requests.values())
            with pytest.raises(RateLimitError) as local:
                await conn.query("nothing")
            assert local.value.code == "local"
            assert sum(server.requests.values()) == sent

    asyncio.run(go())


def test_silent_feed_invalidates_the_book_until_quotes_return() -> None:
    async def go() -> None:
        async with venue(stale_after_s=0.3) as (server, conn):
            await top(conn)
            server.faults.stale_feed = True
            stale = await next_of(conn, BookInvalid)
            assert stale.reason == "WsStale"
            server.faults.stale_feed = False
            await top(conn)

    asyncio.run(go())


def test_extended_hours_day_orders_trade_before_the_open() -> None:
    with pytest.raises(ValueError, match="day orders"):
        loopback_connector(
            "http://127.0.0.1:9", symbols=["SPY"], clock=ShiftedClock(OPEN), extended_hours=True
        )

    async def go() -> None:
        premarket = eastern_ns(2024, 1, 9, 8, 0)
        async with venue(start_ns=premarket, gtc_as="day", extended_hours=True) as (server, conn):
            assert not (await conn.market_clock()).is_open
            _, ask = await top(conn)
            body = conn.order_body(approve(conn, "SPY", Side.BUY, ask + 10 * CENT, 2), "e-1", "SPY")
            assert (body["time_in_force"], body["extended_hours"]) == ("day", True)
            market = conn.order_body(
                approve(conn, "SPY", Side.BUY, 0, 1, order_type=OrderType.MARKET), "m", "SPY"
            )
            assert (market["time_in_force"], "extended_hours" in market) == ("day", False)
            await conn.submit(approve(conn, "SPY", Side.BUY, ask + 10 * CENT, 2), "e-1", "SPY")
            events = await collect(conn, lambda evs: sum(f.qty for f in fills_of(evs, "e-1")) == 2)
            assert fills_of(events, "e-1")[0].price <= ask + 10 * CENT
            # a regular-hours order waits for the open: accepted, not filled
            await conn.submit(approve(conn, "QQQ", Side.BUY, 0, 1, order_type=OrderType.MARKET), "m-1", "QQQ")
            await LiveClock().sleep(0.1)
            waiting = await conn.query("m-1")
            assert waiting is not None
            assert (waiting.state, waiting.filled) == (OrderState.OPEN, 0)
            assert server.orders[waiting.venue_order_id].status == "accepted"

    asyncio.run(go())
