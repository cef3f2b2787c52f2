"""The private stream (`/v5/private`: auth, `order`, `execution`, `position`, `wallet`), the connector's
default. Here the login also comes from an independent hook (stdlib hmac over the simulator's published
demo secret) next to the core's `BybitSigner.ws_auth`: reports and fills arrive pushed (no poll runs), a
fill's reports arrive fills first and then the report that counts them (the simulator pushes the order row
before its execution), a refused login stops the stream, and a dropped stream is reported down and, after
a catch-up poll that finds what it missed, up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.errors import AuthenticationError
from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
from trader.sim.faults import Faults
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
async def venue(
    secret: str | None = DEMO_SECRET, **kw: Any
) -> AsyncIterator[tuple[BybitSimServer, BybitConnector]]:
    clock = LiveClock()
    server = BybitSimServer(seed=6, step_ms=20, clock=clock)
    await server.start(port=0)
    auth = {"ws_auth": _auth(secret)} if secret is not None else {}
    conn = loopback(server.url, symbol="BTCUSDT", clock=clock, poll_s=0.1, **auth, **kw)
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


def _take(conn: BybitConnector, top: int, qty: int = 500) -> Any:
    return gate_approval(
        conn.trading_spec(), "BTCUSDT", Side.BUY, top + 10_000, qty, bid=top - 1, ask=top,
        now_ns=conn.clock.now_ns(), tif=TimeInForce.IOC,
    )  # fmt: skip


def _in_order(seen: list[VenueEvent], cid: str) -> tuple[list[FillReport], list[OrderReport]]:
    """The fills and reports of `cid` in arrival order; every report counts no more than the fills
    before it."""
    fills: list[FillReport] = []
    reports: list[OrderReport] = []
    for e in seen:
        if isinstance(e, FillReport) and e.client_id == cid:
            fills.append(e)
        elif isinstance(e, OrderReport) and e.client_id == cid:
            assert e.filled <= sum(f.qty for f in fills), f"{e} before its fills"
            reports.append(e)
    return fills, reports


async def _reports_in_order() -> None:
    async with venue(secret=None) as (_server, conn):  # the core's BybitSigner.ws_auth logs in
        top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
        assert top.ask is not None
        await conn.submit(_take(conn, top.ask), "ord-1", "BTCUSDT")
        seen: list[VenueEvent] = []

        def closed(ev: VenueEvent) -> bool:
            seen.append(ev)
            return isinstance(ev, OrderReport) and ev.client_id == "ord-1" and ev.state is not OrderState.OPEN

        await LiveClock().wait_for(_until(conn, closed), 3.0)
        fills, reports = _in_order(seen, "ord-1")
        assert fills
        assert (reports[-1].state, reports[-1].filled) == (OrderState.FILLED, sum(f.qty for f in fills))
        assert conn.poller is not None
        assert conn.poller.polls == 0, "pushed, not polled"
        assert conn.poller.held_released_late == 0
        assert conn.private is not None
        assert conn.private.wallet["BTC"] > 0, "the wallet topic is heard"


async def _held_until_fills() -> None:
    """Frames as the venue may order them: the order row counting a fill first, its execution later; and
    a report whose fill never comes, released after one REST read of the executions."""
    async with venue(secret=None, market_data=False, fill_wait_s=0.05) as (_server, conn):
        private, ledger = conn.private, conn.poller
        assert private is not None
        assert ledger is not None
        seen: list[VenueEvent] = []
        row = {"category": "spot", "symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "held-1",
               "side": "Buy", "price": "50000.00", "qty": "0.0005", "cumExecQty": "0.0005",
               "orderStatus": "Filled", "rejectReason": "EC_NoError", "updatedTime": "1"}  # fmt: skip
        execution = {"category": "spot", "symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "held-1",
                     "side": "Buy", "execId": "x-held-1", "execPrice": "50000.00", "execQty": "0.0005",
                     "execFee": "0.025", "feeCurrency": "USDT", "execType": "Trade", "isMaker": False,
                     "execTime": "1"}  # fmt: skip
        private.topic("order", [row], 1)
        assert conn._queue.empty(), "the report waits for its fill"
        private.topic("execution", [execution], 2)
        while not conn._queue.empty():
            seen.append(conn._queue.get_nowait())
        assert [type(e) for e in seen] == [FillReport, OrderReport]
        private.topic("order", [{**row, "orderLinkId": "held-2", "orderId": "10"}], 3)
        assert conn._queue.empty()
        late = await next_of(conn, OrderReport, lambda r: r.client_id == "held-2")
        assert late.state is OrderState.FILLED
        assert (ledger.held_released_late, ledger.polls) == (1, 0), "one executions read, then out"


async def _dropped_catches_up() -> None:
    async with venue(secret=None) as (server, conn):
        top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
        assert top.ask is not None
        server.faults = Faults(paths=("GET /v5/private",), error_5xx_rate=1.0)  # no reconnect for now
        assert server.drop_streams("/v5/private") == 1
        down = await next_of(conn, StreamStatus, lambda s: s.stream is Stream.PRIVATE)
        assert not down.up
        await conn.submit(_take(conn, top.ask), "missed-1", "BTCUSDT")  # heard by no stream
        server.faults = Faults()
        seen: list[VenueEvent] = []

        def back(ev: VenueEvent) -> bool:
            seen.append(ev)
            return isinstance(ev, StreamStatus) and ev.stream is Stream.PRIVATE and ev.up

        await LiveClock().wait_for(_until(conn, back), 5.0)
        fills, reports = _in_order(seen, "missed-1")
        assert fills, "the catch-up found the fill the stream missed"
        assert reports[-1].state is OrderState.FILLED
        assert reports[-1].filled == sum(f.qty for f in fills)
        assert conn.poller is not None
        assert conn.poller.polls == 1


def test_a_fills_reports_arrive_fills_first_and_pushed() -> None:
    asyncio.run(_reports_in_order())


def test_a_report_waits_for_its_fills_then_reads_them_by_rest() -> None:
    asyncio.run(_held_until_fills())


def test_a_dropped_private_stream_is_down_then_catches_up_what_it_missed() -> None:
    asyncio.run(_dropped_catches_up())
