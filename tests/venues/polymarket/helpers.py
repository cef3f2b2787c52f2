"""Shared helpers of the Polymarket connector tests: a simulator per test, connected wallets, event waits."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Approval, OrderType, Side, TimeInForce
from trader.sim.polymarket import Market, PolymarketSimServer
from trader.venues.base import (
    BookUpdate,
    FillReport,
    VenueEvent,
)
from trader.venues.polymarket import (
    Endpoints,
    PolymarketConnector,
)

CLOCK = LiveClock()
SHARE = 1_000_000  # qty units (micro-shares) per share


def key(name: str) -> str:
    return "0x" + hashlib.sha256(f"polymarket-connector-test/{name}".encode()).hexdigest()


def same_fills(got: list[FillReport], want: list[FillReport]) -> bool:
    """The same fills, learned at other times (by REST and by the stream: `ts_recv` is ours and differs);
    each `ts_recv` is still a reading of our clock, not the venue's time."""
    assert all(f.ts_recv > 0 for f in got + want)

    def bare(fills: list[FillReport]) -> list[FillReport]:
        return [dataclasses.replace(f, ts_recv=0) for f in fills]

    return bare(got) == bare(want)


def coin(server: PolymarketSimServer) -> Market:
    m = next(iter(server.markets.values()))
    assert (m.tick, m.neg_risk) == (100, False)
    return m


@asynccontextmanager
async def sim(**kw: Any) -> AsyncIterator[PolymarketSimServer]:
    server = PolymarketSimServer(**{"seed": 5, "step_ms": 20, "background": False, **kw})
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


def run(test: Callable[[PolymarketSimServer, AsyncExitStack], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server, AsyncExitStack() as stack:
            await test(server, stack)

    asyncio.run(go())


async def connected(
    server: PolymarketSimServer, stack: AsyncExitStack, name: str, market: Market | None = None, **kw: Any
) -> PolymarketConnector:
    conn = PolymarketConnector(
        condition_id=(market or coin(server)).condition_id,
        private_key=kw.pop("private_key", key(name)),
        clock=kw.pop("clock", CLOCK),
        endpoints=kw.pop("endpoints", Endpoints.loopback(server.url)),
        **kw,
    )
    stack.push_async_callback(conn.close)
    await conn.connect()
    return conn


def approve(
    conn: PolymarketConnector,
    symbol: str,
    side: Side,
    price: str,
    qty: str,
    *,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    expire_ns: int = 0,
) -> Approval:
    """An approval from a fresh risk gate that knows the connector's trading spec."""
    spec = conn.trading_spec()
    ref = spec.price_to_units(price if order_type == OrderType.LIMIT else "0.5")
    units = spec.price_to_units(price) if order_type == OrderType.LIMIT else 0
    return gate_approval(
        spec, symbol, side, units, spec.qty_to_units(qty), bid=ref - spec.tick, ask=ref + spec.tick,
        now_ns=CLOCK.now_ns(), order_type=order_type, tif=tif, post_only=post_only, expire_ns=expire_ns,
        collar_bps=9000,
    )  # fmt: skip


async def next_event(
    conn: PolymarketConnector, match: Callable[[VenueEvent], bool], timeout: float = 2.0
) -> VenueEvent:
    """The next event that matches (the ones before it are dropped)."""

    async def wait() -> VenueEvent:
        async for ev in conn.events():
            if match(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


async def collect(
    conn: PolymarketConnector, done: Callable[[list[VenueEvent]], bool], timeout: float = 2.0
) -> list[VenueEvent]:
    """Events until `done` says the list is complete."""
    seen: list[VenueEvent] = []

    async def wait() -> list[VenueEvent]:
        async for ev in conn.events():
            seen.append(ev)
            if done(seen):
                return seen
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


def drain(conn: PolymarketConnector) -> list[VenueEvent]:
    out: list[VenueEvent] = []
    q = conn._queue
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def until(cond: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await LiveClock().sleep(0.01)


async def admin(server: PolymarketSimServer, path: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}{path}", json=body) as r:
        assert r.status == 200, await r.text()


# ---- connect, metadata, credentials --------------------------------------------------------------


def fills_of(conn: PolymarketConnector) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, FillReport)


def book_of(symbol: str) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, BookUpdate) and e.instrument == symbol
