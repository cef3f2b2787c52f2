"""The private stream path (`/v5/private`: auth, `order`, `execution`), for a signer that can sign its
login. The core's `BybitSigner` cannot yet, so the login here comes from a test hook over the simulator's
published demo secret; reports and fills then arrive pushed (the poller does not run), a refused login
stops the stream, and a dropped stream is reported down and, after a catch-up poll, up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.errors import AuthenticationError
from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
from trader.venues.base import (
    BookUpdate,
    FillReport,
    OrderReport,
    OrderState,
    Stream,
    StreamStatus,
    VenueEvent,
)
from trader.venues.bybit import BybitConnector, loopback

E = TypeVar("E", bound=VenueEvent)


def _auth(secret: str) -> Callable[[int], tuple[str, int, str]]:
    def sign(expires: int) -> tuple[str, int, str]:
        mac = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
        return DEMO_KEY, expires, mac.hexdigest()

    return sign


@asynccontextmanager
async def venue(secret: str = DEMO_SECRET) -> AsyncIterator[tuple[BybitSimServer, BybitConnector]]:
    clock = LiveClock()
    server = BybitSimServer(seed=6, step_ms=20, clock=clock)
    await server.start(port=0)
    conn = loopback(server.url, symbol="BTCUSDT", clock=clock, ws_auth=_auth(secret), poll_s=0.1)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


async def next_of(conn: BybitConnector, kind: type[E], where: Callable[[E], bool] = lambda _: True) -> E:
    async def wait() -> E:
        async for ev in conn.events():
            if isinstance(ev, kind) and where(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), 3.0)


async def _until(conn: BybitConnector, done: Callable[[VenueEvent], bool]) -> None:
    async for ev in conn.events():
        if done(ev):
            return


async def _pushed() -> None:
    async with venue() as (server, conn):
        top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
        assert top.ask is not None
        approval = gate_approval(
            conn.trading_spec(), "BTCUSDT", Side.BUY, top.ask + 10_000, 500, bid=top.ask - 1, ask=top.ask,
            now_ns=conn.clock.now_ns(), tif=TimeInForce.IOC,
        )  # fmt: skip
        await conn.submit(approval, "ws-take", "BTCUSDT")
        seen: list[VenueEvent] = []

        def both(ev: VenueEvent) -> bool:
            seen.append(ev)
            fills = [e for e in seen if isinstance(e, FillReport) and e.client_id == "ws-take"]
            reports = [e for e in seen if isinstance(e, OrderReport) and e.client_id == "ws-take"]
            return bool(fills) and any(r.state is not OrderState.OPEN for r in reports)

        await LiveClock().wait_for(_until(conn, both), 3.0)
        fills = [e for e in seen if isinstance(e, FillReport)]
        done = [e for e in seen if isinstance(e, OrderReport) and e.state is not OrderState.OPEN][-1]
        assert done.filled == sum(f.qty for f in fills)
        assert conn.poller is not None
        assert conn.poller.polls == 0, "pushed, not polled"
        assert server.drop_streams("/v5/private") == 1
        down = await next_of(conn, StreamStatus, lambda s: s.stream is Stream.PRIVATE)
        assert not down.up
        up = await next_of(conn, StreamStatus, lambda s: s.stream is Stream.PRIVATE)
        assert up.up
        assert conn.poller.polls == 1, "one catch-up poll after the reconnect"


async def _refused() -> None:
    with pytest.raises(AuthenticationError, match="private stream"):
        async with venue(secret="wrong"):
            raise AssertionError("connected with a refused private login")


def test_private_events_are_pushed_and_a_drop_catches_up() -> None:
    asyncio.run(_pushed())


def test_a_refused_login_stops_the_private_stream() -> None:
    asyncio.run(_refused())
