"""Shared harness of the IBKR connector tests: the connector against a loopback IB Gateway simulator,
event helpers, and the simulator's depth as the connector should see it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import (
    Approval,
    BookNotReadyError,
    InstrumentSpec,
    OrderType,
    Side,
    TimeInForce,
)
from trader.sim.ibkr import IbkrSimServer
from trader.venues.ibkr import (
    IbkrConnector,
)

CLOCK = LiveClock()
ACCOUNT = "DU1234567"


@asynccontextmanager
async def venue(
    server_kw: dict[str, Any] | None = None, **kw: Any
) -> AsyncIterator[tuple[IbkrSimServer, IbkrConnector]]:
    server = IbkrSimServer(seed=3, step_ms=0, **(server_kw or {}))
    await server.start()
    kw.setdefault("instruments", ["SPY", "QQQ"])
    kw.setdefault("timeout_s", 2.0)
    conn = IbkrConnector(clock=CLOCK, port=server.port, client_id=11, **kw)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


def run(test: Callable[[IbkrSimServer, IbkrConnector], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with venue(**kw) as (server, conn):
            await test(server, conn)

    asyncio.run(LiveClock().wait_for(go(), 20))


def approve(
    spec: InstrumentSpec,
    symbol: str,
    side: Side,
    price: int,
    qty: int,
    *,
    tif: TimeInForce = TimeInForce.GTC,
    order_type: OrderType = OrderType.LIMIT,
    post_only: bool = False,
) -> Approval:
    units = 0 if order_type == OrderType.MARKET else price  # a market order gets the collar's price
    return gate_approval(
        spec, symbol, side, units, qty, bid=price, ask=price + 1, now_ns=CLOCK.now_ns(),
        tif=tif, order_type=order_type, post_only=post_only,
    )  # fmt: skip


def cents(d: Decimal) -> int:
    return int(d * 100)


async def next_of(conn: IbkrConnector, kind: type, pred: Callable[[Any], bool] = lambda _: True) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if isinstance(ev, kind) and pred(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), 3.0)


async def collect(conn: IbkrConnector, done: Callable[[list[Any]], bool]) -> list[Any]:
    """Events until `done(events)` holds (in arrival order)."""
    seen: list[Any] = []

    async def wait() -> list[Any]:
        async for ev in conn.events():
            seen.append(ev)
            if done(seen):
                return seen
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), 3.0)


def has(events: list[Any], kind: type, pred: Callable[[Any], bool] = lambda _: True) -> Any:
    return next((e for e in events if isinstance(e, kind) and pred(e)), None)


async def later(value: bool) -> bool:
    """`value`, after a short wait (a polling condition for `until`)."""
    await LiveClock().sleep(0.005)
    return value


async def until(cond: Callable[[], Awaitable[bool]], timeout: float = 3.0) -> None:
    deadline = CLOCK.monotonic_ns() + int(timeout * 1e9)
    while not await cond():
        if CLOCK.monotonic_ns() > deadline:
            raise AssertionError("condition not reached in time")
        await LiveClock().sleep(0.005)


def orders_at(server: IbkrSimServer) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = server.state()["accounts"][ACCOUNT]["orders"]
    return orders


def sim_depth(
    server: IbkrSimServer, symbol: str, n: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    con_id = server._listing(symbol).con_id
    bids, asks = server.books[con_id].engine.depth(n)
    return list(bids), list(asks)


async def depth_matches(conn: IbkrConnector, server: IbkrSimServer, symbol: str, n: int) -> None:
    async def same() -> bool:
        try:
            return conn.depth(symbol, n) == sim_depth(server, symbol, n)
        except BookNotReadyError:
            return False

    await until(same)
    bids, asks = conn.depth(symbol, n)
    assert len(bids) == len(asks) == n
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)  # best first
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert len({p for p, _ in bids}) == n
    assert bids[0][0] < asks[0][0]  # uncrossed
    bid, ask = server.top(symbol)
    assert (bids[0][0], asks[0][0]) == (cents(bid), cents(ask))


def sim_conn(server: IbkrSimServer) -> Any:
    [c] = [c for c in server.conns if c.client_id == 11]
    return c
